/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * agents-vm-config.c: the vm agent's parameters, checked, and the QEMU
 * command line built from them.
 *
 * Everything a parameter holds ends up in QEMU's argv (never in a shell),
 * but QEMU itself splits many option values at ',' and some at ':', so
 * values are held to small alphabets and paths may contain neither. There
 * is deliberately no way to pass arbitrary QEMU arguments: one would let
 * whoever configures a VM run anything on every node.
 */
#include <ctype.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "agents/vm-int.h"

#define RESKEY "OCF_RESKEY_"

/* QEMU's bridge helper, as Debian's qemu-system-common installs it; QEMU
 * runs it for -netdev bridge. */
#define BRIDGE_HELPER "/usr/lib/qemu/qemu-bridge-helper"

const struct vm_param vm_params[] = {
        { "name", true, NULL, "VM name",
          "The VM's name: 1 to 63 characters of letters, digits, '_', '.' and '-'. It names QEMU's pid file "
          "and QMP socket in run_dir, and QEMU runs with \"-name NAME\". Unique on a node." },
        { "memory", true, NULL, "Memory in MiB", "Guest memory in MiB (16 to 4194304)." },
        { "vcpus", false, "1", "Virtual CPUs", "Number of virtual CPUs (1 to 255)." },
        { "machine", false, "q35", "Machine type", "QEMU machine type, e.g. q35, pc, pc-q35-7.2." },
        { "accel", false, "auto", "Accelerator",
          "auto: KVM when /dev/kvm can be opened read-write and creates a VM, else TCG (emulation); kvm: "
          "KVM or fail; tcg: always emulate." },
        { "disks", false, NULL, "Disks",
          "Comma-separated list of PATH[:FORMAT[:IF]]. PATH is absolute and contains neither ',' nor ':'; "
          "FORMAT is raw (default) or qcow2 (never probed); IF is virtio (default) or ide. Example: "
          "/var/lib/clusterd/vms/a.img:raw:ide,/var/lib/clusterd/vms/b.qcow2:qcow2" },
        { "nics", false, NULL, "Network interfaces",
          "NICs, each attached to a host bridge through QEMU's bridge helper (which needs an \"allow BRIDGE\" "
          "line in /etc/qemu/bridge.conf). A list of key=value items separated by ',', ';' or spaces; every "
          "bridge=BR starts a new NIC, and mac=52:54:00:xx:xx:xx and model=virtio-net-pci|e1000|e1000e|rtl8139 "
          "apply to the NIC before them. Without mac the address is derived from the VM's name and the NIC's "
          "position, so it is the same on every node. Example: bridge=br0,mac=52:54:00:12:34:56,bridge=br1" },
        { "kernel", false, NULL, "Kernel for direct boot", "Absolute path of a kernel to boot directly." },
        { "initrd", false, NULL, "Initrd for direct boot", "Absolute path of an initrd (needs kernel)." },
        { "append", false, NULL, "Kernel command line",
          "Kernel command line (needs kernel), at most 4096 bytes; %{node} becomes the name of the node that starts "
          "it." },
        { "serial", false, NULL, "Serial output file",
          "Absolute path of a file that receives the first serial port's output." },
        { "run_dir", false, CLUSTERD_RUN_DIR "/vm", "Runtime directory",
          "Where QEMU's pid file (NAME.pid) and QMP socket (NAME.qmp) live; created with mode 0700." },
        { "shutdown_timeout", false, NULL, "ACPI shutdown wait",
          "How long stop waits for the guest to power off after an ACPI shutdown request before it makes "
          "QEMU quit (and, failing that, kills it): seconds, or a duration such as 90s or 2m; 0 skips the ACPI "
          "request. Default: two thirds of the stop action's timeout." },
        {},
};

void vm_config_done(struct vm_config *c) {
        free(c->name);
        free(c->machine);
        for (size_t i = 0; i < c->n_disks; i++)
                free(c->disks[i].path);
        free(c->kernel);
        free(c->initrd);
        free(c->append);
        free(c->serial);
        free(c->run_dir);
        free(c->pid_path);
        free(c->qmp_path);
        *c = (struct vm_config){};
}

static void vm_config_donep(struct vm_config *c) {
        vm_config_done(c);
}

/* The value of OCF_RESKEY_<key> in env; an empty value counts as unset. */
/* "%{node}" in the kernel command line becomes the name of the node that
 * starts the VM (CLUSTERD_NODE, which clusterd sets; else the host name),
 * so that a guest can tell where it runs. */
static char *expand_node(char *const *env, const char *v) {
        const char *node = NULL, *at;
        char host[256] = "";
        size_t size = 0;
        char *out = NULL;
        FILE *f;

        for (char *const *p = env; p && *p && !node; p++)
                node = startswith(*p, "CLUSTERD_NODE=");
        if (!node || !*node) {
                if (gethostname(host, sizeof(host) - 1) < 0)
                        snprintf(host, sizeof(host), "unknown");
                node = host;
        }
        f = open_memstream(&out, &size);
        if (!f)
                return xstrdup(v);
        while ((at = strstr(v, "%{node}"))) {
                fwrite(v, 1, (size_t)(at - v), f);
                fputs(node, f);
                v = at + strlen("%{node}");
        }
        fputs(v, f);
        fclose(f);
        return out;
}

static const char *env_get(char *const *env, const char *key) {
        size_t n = strlen(key);

        for (char *const *p = env; p && *p; p++) {
                const char *v = startswith(*p, RESKEY);
                if (v && strncmp(v, key, n) == 0 && v[n] == '=')
                        return v[n + 1] ? v + n + 1 : NULL;
        }
        return NULL;
}

static bool in_set(const char *s, size_t n, const char *allowed) {
        for (size_t i = 0; i < n; i++)
                if (!strchr(allowed, s[i]))
                        return false;
        return true;
}

#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"

/* An absolute path that QEMU will not split: no ',' or ':', no control
 * characters. */
static int check_path(const char *param, const char *v, struct err *e) {
        size_t n = strlen(v);

        if (v[0] != '/' || n >= PATH_MAX)
                return err_set(e, -EINVAL, "parameter '%s': expected an absolute path, got \"%.256s\"", param, v);
        for (size_t i = 0; i < n; i++)
                if (v[i] == ',' || v[i] == ':' || iscntrl((unsigned char)v[i]))
                        return err_set(e, -EINVAL,
                                       "parameter '%s': the path \"%.256s\" contains ',', ':' or a control character",
                                       param, v);
        return 0;
}

static int parse_name(const char *v, struct vm_config *c, struct err *e) {
        size_t n;

        if (!v)
                return err_set(e, -EINVAL, "parameter 'name' is required");
        n = strlen(v);
        if (n == 0 || n > VM_NAME_MAX || !in_set(v, n, NAME_CHARS))
                return err_set(e, -EINVAL,
                               "parameter 'name': expected 1 to %d characters of [A-Za-z0-9_.-], got \"%.80s\"",
                               VM_NAME_MAX, v);
        c->name = xstrdup(v);
        return 0;
}

static int parse_number(const char *param, const char *v, uint64_t min, uint64_t max, uint64_t *ret, struct err *e) {
        uint64_t x;

        if (parse_uint64(v, &x) < 0 || x < min || x > max)
                return err_set(e, -EINVAL,
                               "parameter '%s': expected an integer from %" PRIu64 " to %" PRIu64 ", got \"%.80s\"",
                               param, min, max, v);
        *ret = x;
        return 0;
}

static int parse_disks(const char *v, struct vm_config *c, struct err *e) {
        _cleanup_free_ char *copy = xstrdup(v);
        char *save = NULL;

        /* strtok_r would skip empty items; a doubled comma is a typo that
         * should be reported, so split by hand. */
        for (char *item = copy; item; item = save) {
                char *format, *iface, *colon;
                struct vm_disk *d;

                save = strchr(item, ',');
                if (save)
                        *save++ = '\0';
                if (!*item)
                        return err_set(e, -EINVAL, "parameter 'disks': empty item in \"%.256s\"", v);
                if (c->n_disks >= VM_DISKS_MAX)
                        return err_set(e, -EINVAL, "parameter 'disks': more than %d disks", VM_DISKS_MAX);

                format = strchr(item, ':');
                if (format)
                        *format++ = '\0';
                iface = format ? strchr(format, ':') : NULL;
                if (iface)
                        *iface++ = '\0';
                colon = iface ? strchr(iface, ':') : NULL;
                if (colon)
                        return err_set(e, -EINVAL, "parameter 'disks': \"%.256s\" has more than PATH:FORMAT:IF", v);

                int r = check_path("disks", item, e);
                if (r < 0)
                        return r;
                d = &c->disks[c->n_disks];
                if (!format || !*format || streq(format, "raw"))
                        d->format = "raw";
                else if (streq(format, "qcow2"))
                        d->format = "qcow2";
                else
                        return err_set(e, -EINVAL,
                                       "parameter 'disks': format of '%s' must be raw or qcow2, got \"%.32s\"", item,
                                       format);
                if (!iface || !*iface || streq(iface, "virtio"))
                        d->iface = "virtio";
                else if (streq(iface, "ide"))
                        d->iface = "ide";
                else
                        return err_set(e, -EINVAL,
                                       "parameter 'disks': interface of '%s' must be virtio or ide, got "
                                       "\"%.32s\"",
                                       item, iface);
                d->path = xstrdup(item);
                c->n_disks++;
        }
        return 0;
}

/* "52:54:00:12:34:56": six hex pairs, a unicast address, not all zero. */
static bool mac_is_valid(const char *s) {
        uint8_t b[6];

        if (strlen(s) != 17)
                return false;
        for (int i = 0; i < 6; i++) {
                if (i > 0 && s[3 * i - 1] != ':')
                        return false;
                if (!isxdigit((unsigned char)s[3 * i]) || !isxdigit((unsigned char)s[3 * i + 1]))
                        return false;
                char hex[3] = { s[3 * i], s[3 * i + 1], 0 };
                b[i] = (uint8_t)strtoul(hex, NULL, 16);
        }
        return !(b[0] & 1) && (b[0] | b[1] | b[2] | b[3] | b[4] | b[5]);
}

/* A stable locally administered address in QEMU's 52:54:00 range: the VM
 * keeps its MAC (and so its DHCP lease and neighbours' caches) wherever it
 * is started. */
static void mac_derive(const char *name, size_t index, char ret[18]) {
        _cleanup_free_ char *key = xasprintf("%s/nic%zu", name, index);
        uint64_t h = siphash24(UINT64_C(0x636c757374657264), UINT64_C(0x766d2d6d61630000), key, strlen(key));

        snprintf(ret, 18, "52:54:00:%02x:%02x:%02x", (unsigned)(h & 0xff), (unsigned)((h >> 8) & 0xff),
                 (unsigned)((h >> 16) & 0xff));
}

static const char *const nic_models[] = { "virtio-net-pci", "e1000", "e1000e", "rtl8139", NULL };

static int parse_nics(const char *v, struct vm_config *c, struct err *e) {
        _cleanup_free_ char *copy = xstrdup(v);
        char *save = NULL;
        struct vm_nic *nic = NULL;

        for (char *item = strtok_r(copy, ",; \t", &save); item; item = strtok_r(NULL, ",; \t", &save)) {
                char *value = strchr(item, '=');
                if (!value)
                        return err_set(e, -EINVAL, "parameter 'nics': expected key=value, got \"%.80s\"", item);
                *value++ = '\0';

                if (streq(item, "bridge")) {
                        size_t n = strlen(value);
                        if (c->n_nics >= VM_NICS_MAX)
                                return err_set(e, -EINVAL, "parameter 'nics': more than %d NICs", VM_NICS_MAX);
                        if (n == 0 || n >= sizeof(nic->bridge) || !in_set(value, n, NAME_CHARS))
                                return err_set(e, -EINVAL,
                                               "parameter 'nics': bridge must be an interface name (1 to 15 "
                                               "characters of [A-Za-z0-9_.-]), got \"%.80s\"",
                                               value);
                        nic = &c->nics[c->n_nics++];
                        memcpy(nic->bridge, value, n + 1);
                        nic->model = nic_models[0];
                        mac_derive(c->name, c->n_nics - 1, nic->mac);
                        continue;
                }
                if (!nic)
                        return err_set(e, -EINVAL, "parameter 'nics': '%.32s=' before the first bridge=", item);
                if (streq(item, "mac")) {
                        if (!mac_is_valid(value))
                                return err_set(e, -EINVAL,
                                               "parameter 'nics': mac must be a unicast address like "
                                               "52:54:00:12:34:56, got \"%.80s\"",
                                               value);
                        for (int i = 0; value[i]; i++)
                                nic->mac[i] = (char)tolower((unsigned char)value[i]);
                } else if (streq(item, "model")) {
                        size_t i = 0;
                        while (nic_models[i] && !streq(nic_models[i], value))
                                i++;
                        if (!nic_models[i])
                                return err_set(e, -EINVAL,
                                               "parameter 'nics': model must be one of virtio-net-pci, e1000, "
                                               "e1000e, rtl8139, got \"%.80s\"",
                                               value);
                        nic->model = nic_models[i];
                } else
                        return err_set(e, -EINVAL, "parameter 'nics': unknown key '%.32s' (bridge, mac, model)", item);
        }
        if (c->n_nics == 0)
                return err_set(e, -EINVAL, "parameter 'nics': no bridge= in \"%.256s\"", v);
        return 0;
}

static int parse_optional_path(char *const *env, const char *param, char **ret, struct err *e) {
        const char *v = env_get(env, param);
        int r;

        if (!v)
                return 0;
        r = check_path(param, v, e);
        if (r < 0)
                return r;
        *ret = xstrdup(v);
        return 0;
}

/* Refuses parameters this agent does not know: a misspelt one would
 * otherwise be silently ignored. The executor's own keys are fine. */
static int check_unknown(char *const *env, struct err *e) {
        for (char *const *p = env; p && *p; p++) {
                const char *k = startswith(*p, RESKEY), *eq;
                bool known = false;

                if (!k || startswith(k, "CRM_meta_") || startswith(k, "crm_feature_set="))
                        continue;
                eq = strchr(k, '=');
                if (!eq)
                        continue;
                if (startswith(k, "extra="))
                        return err_set(e, -EINVAL,
                                       "parameter 'extra' (\"%.128s\") is refused: arbitrary QEMU arguments are not "
                                       "allowed; use the agent's parameters",
                                       eq + 1);
                for (const struct vm_param *p2 = vm_params; p2->name; p2++)
                        if (strlen(p2->name) == (size_t)(eq - k) && strncmp(p2->name, k, (size_t)(eq - k)) == 0)
                                known = true;
                if (!known)
                        return err_set(e, -EINVAL, "unknown parameter '%.*s' (value \"%.128s\")", (int)MIN(eq - k, 64),
                                       k, eq + 1);
        }
        return 0;
}

static int parse_run_dir(char *const *env, struct vm_config *c, struct err *e) {
        struct sockaddr_un sa;
        const char *v = env_get(env, "run_dir");
        int r;

        c->run_dir = xstrdup(v ? v : CLUSTERD_RUN_DIR "/vm");
        r = check_path("run_dir", c->run_dir, e);
        if (r < 0)
                return r;
        c->pid_path = xasprintf("%s/%s.pid", c->run_dir, c->name);
        c->qmp_path = xasprintf("%s/%s.qmp", c->run_dir, c->name);
        if (strlen(c->qmp_path) >= sizeof(sa.sun_path))
                return err_set(e, -EINVAL,
                               "parameter 'run_dir': \"%s\" is too long for the QMP socket '%s' (at most %zu bytes)",
                               c->run_dir, c->qmp_path, sizeof(sa.sun_path) - 1);
        return 0;
}

static int parse_shutdown_timeout(char *const *env, struct vm_config *c, struct err *e) {
        const char *v = env_get(env, "shutdown_timeout");
        uint64_t usec;

        if (!v)
                return 0;
        if (parse_duration_usec(v, &usec) < 0 || usec > USEC_PER_DAY)
                return err_set(e, -EINVAL,
                               "parameter 'shutdown_timeout': expected seconds or a duration up to 1d, got \"%.80s\"",
                               v);
        c->shutdown_timeout_usec = usec;
        return 0;
}

int vm_config_parse_identity(char *const *env, struct vm_config *ret, struct err *e) {
        _cleanup_(vm_config_donep) struct vm_config c = {};
        int r;

        r = parse_name(env_get(env, "name"), &c, e);
        if (r < 0)
                return r;
        r = parse_run_dir(env, &c, e);
        if (r < 0)
                return r;
        c.shutdown_timeout_usec = VM_SHUTDOWN_TIMEOUT_DEFAULT;
        (void)parse_shutdown_timeout(env, &c, NULL); /* an invalid value keeps the default */
        *ret = c;
        c = (struct vm_config){};
        return 0;
}

int vm_config_parse(char *const *env, struct vm_config *ret, struct err *e) {
        _cleanup_(vm_config_donep) struct vm_config c = {};
        uint64_t x = 0;
        const char *v;
        int r;

        r = check_unknown(env, e);
        if (r < 0)
                return r;
        r = parse_name(env_get(env, "name"), &c, e);
        if (r < 0)
                return r;

        v = env_get(env, "memory");
        if (!v)
                return err_set(e, -EINVAL, "parameter 'memory' is required (MiB)");
        r = parse_number("memory", v, VM_MEMORY_MIN_MIB, VM_MEMORY_MAX_MIB, &c.memory_mib, e);
        if (r < 0)
                return r;

        v = env_get(env, "vcpus");
        r = parse_number("vcpus", v ? v : "1", 1, VM_VCPUS_MAX, &x, e);
        if (r < 0)
                return r;
        c.vcpus = (unsigned)x;

        v = env_get(env, "machine");
        if (v && (strlen(v) > 63 || !in_set(v, strlen(v), NAME_CHARS)))
                return err_set(e, -EINVAL, "parameter 'machine': expected a QEMU machine type like q35, got \"%.80s\"",
                               v);
        c.machine = xstrdup(v ? v : "q35");

        v = env_get(env, "accel");
        if (!v || streq(v, "auto"))
                c.accel = VM_ACCEL_AUTO;
        else if (streq(v, "kvm"))
                c.accel = VM_ACCEL_KVM;
        else if (streq(v, "tcg"))
                c.accel = VM_ACCEL_TCG;
        else
                return err_set(e, -EINVAL, "parameter 'accel': expected auto, kvm or tcg, got \"%.80s\"", v);

        v = env_get(env, "disks");
        if (v && (r = parse_disks(v, &c, e)) < 0)
                return r;
        v = env_get(env, "nics");
        if (v && (r = parse_nics(v, &c, e)) < 0)
                return r;

        if ((r = parse_optional_path(env, "kernel", &c.kernel, e)) < 0 ||
            (r = parse_optional_path(env, "initrd", &c.initrd, e)) < 0 ||
            (r = parse_optional_path(env, "serial", &c.serial, e)) < 0)
                return r;
        v = env_get(env, "append");
        if (v) {
                size_t n = strlen(v);
                if (n > VM_APPEND_MAX)
                        return err_set(e, -EINVAL, "parameter 'append': longer than %d bytes", VM_APPEND_MAX);
                for (size_t i = 0; i < n; i++)
                        if (iscntrl((unsigned char)v[i]))
                                return err_set(e, -EINVAL, "parameter 'append': contains a control character");
                c.append = expand_node(env, v);
        }
        if ((c.initrd || c.append) && !c.kernel)
                return err_set(e, -EINVAL, "parameter '%s' needs parameter 'kernel'", c.initrd ? "initrd" : "append");

        r = parse_run_dir(env, &c, e);
        if (r < 0)
                return r;
        c.shutdown_timeout_usec = VM_SHUTDOWN_TIMEOUT_DEFAULT;
        r = parse_shutdown_timeout(env, &c, e);
        if (r < 0)
                return r;

        *ret = c;
        c = (struct vm_config){};
        return 0;
}

static int check_file(const char *param, const char *path, struct err *e) {
        struct stat st;

        if (stat(path, &st) == -1)
                return err_set(e, -errno, "parameter '%s': '%s': %m", param, path);
        if (S_ISDIR(st.st_mode))
                return err_set(e, -EISDIR, "parameter '%s': '%s' is a directory", param, path);
        if (access(path, R_OK) == -1)
                return err_set(e, -errno, "parameter '%s': '%s' is not readable: %m", param, path);
        return 0;
}

int vm_config_check_host(const struct vm_config *c, const char *qemu, struct err *e) {
        int r;

        if (access(qemu, X_OK) == -1)
                return err_set(e, -errno, "QEMU '%s' is not installed (apt-get install qemu-system-x86): %m", qemu);
        for (size_t i = 0; i < c->n_disks; i++)
                if ((r = check_file("disks", c->disks[i].path, e)) < 0)
                        return r;
        if (c->kernel && (r = check_file("kernel", c->kernel, e)) < 0)
                return r;
        if (c->initrd && (r = check_file("initrd", c->initrd, e)) < 0)
                return r;
        if (c->n_nics > 0 && access(BRIDGE_HELPER, X_OK) == -1)
                return err_set(e, -errno, "parameter 'nics': QEMU's bridge helper '%s' is missing: %m", BRIDGE_HELPER);
        for (size_t i = 0; i < c->n_nics; i++) {
                _cleanup_free_ char *p = xasprintf("/sys/class/net/%s/bridge", c->nics[i].bridge);
                if (access(p, F_OK) == -1)
                        return err_set(e, -ENOENT, "parameter 'nics': there is no bridge '%s' on this node",
                                       c->nics[i].bridge);
        }
        return 0;
}

static void push_printf(char ***argv, const char *fmt, ...) _printf_(2, 3);
static void push_printf(char ***argv, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (r < 0) {
                fputs("Out of memory.\n", stderr);
                abort();
        }
        strv_push(argv, s);
}

char **vm_qemu_argv(const struct vm_config *c, const char *qemu, bool kvm) {
        char **argv = NULL;

        strv_push(&argv, qemu);
        /* cmdline checks look for "-name NAME" as two words: keep it so. */
        strv_push(&argv, "-name");
        strv_push(&argv, c->name);
        strv_push(&argv, "-machine");
        strv_push(&argv, c->machine);
        strv_push(&argv, "-accel");
        strv_push(&argv, kvm ? "kvm" : "tcg");
        strv_push(&argv, "-m");
        push_printf(&argv, "%" PRIu64, c->memory_mib);
        strv_push(&argv, "-smp");
        push_printf(&argv, "%u", c->vcpus);
        strv_push(&argv, "-nodefaults");
        strv_push(&argv, "-no-user-config");
        strv_push(&argv, "-display");
        strv_push(&argv, "none");
        /* Detached: the VM outlives the agent and clusterd. */
        strv_push(&argv, "-daemonize");
        strv_push(&argv, "-pidfile");
        strv_push(&argv, c->pid_path);
        strv_push(&argv, "-qmp");
        push_printf(&argv, "unix:%s,server=on,wait=off", c->qmp_path);

        for (size_t i = 0; i < c->n_disks; i++) {
                strv_push(&argv, "-drive");
                push_printf(&argv, "file=%s,format=%s,if=%s,id=disk%zu", c->disks[i].path, c->disks[i].format,
                            c->disks[i].iface, i);
        }
        for (size_t i = 0; i < c->n_nics; i++) {
                strv_push(&argv, "-netdev");
                push_printf(&argv, "bridge,id=net%zu,br=%s", i, c->nics[i].bridge);
                strv_push(&argv, "-device");
                push_printf(&argv, "%s,netdev=net%zu,mac=%s", c->nics[i].model, i, c->nics[i].mac);
        }
        if (c->kernel) {
                strv_push(&argv, "-kernel");
                strv_push(&argv, c->kernel);
        }
        if (c->initrd) {
                strv_push(&argv, "-initrd");
                strv_push(&argv, c->initrd);
        }
        if (c->append) {
                strv_push(&argv, "-append");
                strv_push(&argv, c->append);
        }
        if (c->serial) {
                strv_push(&argv, "-serial");
                push_printf(&argv, "file:%s", c->serial);
        }
        return argv;
}
