/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * agents-vm.c: the "vm" OCF resource agent (ocf:clusterd:vm): one QEMU/KVM
 * virtual machine.
 *
 * QEMU runs daemonized (its own session, reparented away from us), so the
 * VM outlives this agent and clusterd; every action finds it again through
 * its pid file and talks to it over its QMP socket, both in run_dir.
 *
 * Every action finishes before the executor's timeout
 * (OCF_RESKEY_CRM_meta_timeout, in ms, or the meta-data default): waits are
 * bounded by a deadline a little before it, so the agent itself reports
 * what it was waiting for instead of being killed silently.
 *
 * Messages go to stderr; the reason for a failure is the last line, as
 * "ocf-exit-reason:...".
 */
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/stat.h>

#include "agents/qmp.h"
#include "agents/vm-int.h"

#ifndef QEMU_BINARY
#define QEMU_BINARY "/usr/bin/qemu-system-x86_64"
#endif

/* OCF return codes. */
enum {
        OCF_SUCCESS = 0,
        OCF_ERR_GENERIC = 1,
        OCF_ERR_ARGS = 2,
        OCF_ERR_UNIMPLEMENTED = 3,
        OCF_ERR_INSTALLED = 5,
        OCF_ERR_CONFIGURED = 6,
        OCF_NOT_RUNNING = 7,
};

/* The longest a monitor waits for QMP: a QEMU that takes longer to answer
 * query-status is hung, whatever the action's timeout. */
#define MONITOR_QMP_MAX_USEC (10 * USEC_PER_SEC)
/* How long stop waits for QMP before it goes on without it. */
#define STOP_QMP_MAX_USEC (5 * USEC_PER_SEC)
/* What stop keeps of its time for "quit" (or SIGTERM) and for SIGKILL. */
#define STOP_QUIT_MAX_USEC (3 * USEC_PER_SEC)
#define STOP_KILL_MAX_USEC (5 * USEC_PER_SEC)

struct action {
        const char *name;
        unsigned timeout_sec;  /* the meta-data default */
        unsigned interval_sec; /* for monitor: the advised interval */
};

static const struct action actions[] = {
        { "start", 60, 0 }, { "stop", 120, 0 }, { "monitor", 30, 10 }, { "validate-all", 30, 0 }, { "meta-data", 5, 0 },
};

/* The VM's name for messages; set once the parameters are read. */
static const char *log_name = "?";

static void vwrite_line(const char *prefix, const char *fmt, va_list ap) {
        char buf[1024];

        vsnprintf(buf, sizeof(buf), fmt, ap);
        /* Messages quote QEMU and QMP peers: keep them one printable line. */
        for (char *p = buf; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f)
                        *p = '?';
        fprintf(stderr, "%s%s\n", prefix, buf);
}

static void say(const char *fmt, ...) _printf_(1, 2);
static void say(const char *fmt, ...) {
        char prefix[96];
        va_list ap;

        snprintf(prefix, sizeof(prefix), "vm[%s]: ", log_name);
        va_start(ap, fmt);
        vwrite_line(prefix, fmt, ap);
        va_end(ap);
}

/* Reports why the action failed and returns rc. */
static int fail(int rc, const char *fmt, ...) _printf_(2, 3);
static int fail(int rc, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vwrite_line("ocf-exit-reason:", fmt, ap);
        va_end(ap);
        return rc;
}

/* A duration to the millisecond ("1s250ms"), for messages. */
static const char *format_ms(char buf[static 32], uint64_t usec) {
        return format_duration(buf, 32, usec - usec % USEC_PER_MSEC);
}

/* The deadline of this action: its timeout, less a margin to report in. */
static uint64_t action_deadline(const struct action *a, uint64_t start_usec) {
        const char *v = getenv("OCF_RESKEY_CRM_meta_timeout");
        uint64_t budget = a->timeout_sec * USEC_PER_SEC, ms;

        if (v && parse_uint64(v, &ms) >= 0 && ms > 0 && ms <= USEC_PER_DAY / USEC_PER_MSEC)
                budget = ms * USEC_PER_MSEC;
        return start_usec + budget - MIN(budget / 10, 2 * USEC_PER_SEC);
}

enum health {
        HEALTH_UP,        /* the guest lives in this process */
        HEALTH_ELSEWHERE, /* a migration's other end: the guest's state is not (or no longer) here */
        HEALTH_FAILED,    /* QEMU stopped the guest because of an error */
};

/* What QEMU's run state means for the cluster. A paused guest still owns
 * its disks and must not be started elsewhere, so it counts as running;
 * "finish-migrate" is the short pause of a migration's switch-over on the
 * source. An incoming migration's target ("inmigrate") and a source whose
 * guest has moved on ("postmigrate") hold no live guest: they report "not
 * running" (stop still removes the process). Error states, and any state
 * this agent does not know, are failures. */
static enum health status_health(const char *status) {
        static const char *const up[] = { "running", "paused",     "suspended",      "prelaunch", "debug",
                                          "save-vm", "restore-vm", "finish-migrate", "colo",      NULL };

        for (const char *const *s = up; *s; s++)
                if (streq(*s, status))
                        return HEALTH_UP;
        if (streq(status, "inmigrate") || streq(status, "postmigrate"))
                return HEALTH_ELSEWHERE;
        return HEALTH_FAILED;
}

/* Connects and asks for the run state, before deadline_usec. */
static int query_status(const struct vm_config *c, uint64_t deadline_usec, struct qmp_status *ret, struct err *e) {
        _cleanup_qmp_ struct qmp *q = NULL;
        int r;

        r = qmp_connect(c->qmp_path, false, deadline_usec, &q, e);
        if (r < 0)
                return r;
        return qmp_query_status(q, deadline_usec, ret, e);
}

static int action_monitor(const struct vm_config *c, uint64_t deadline_usec) {
        _cleanup_close_ int pidfd = -1;
        struct qmp_status st;
        struct err e = {};
        pid_t pid;
        int r;

        r = vm_find(c, &pid, &pidfd, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "cannot tell whether the VM runs: %s", e.msg);
        if (r == 0)
                return OCF_NOT_RUNNING;

        r = query_status(c, MIN(deadline_usec, now_monotonic_usec() + MONITOR_QMP_MAX_USEC), &st, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "QEMU (pid %d) is not answering on QMP: %s", (int)pid, e.msg);
        switch (status_health(st.status)) {
        case HEALTH_UP:
                if (!streq(st.status, "running"))
                        say("QEMU (pid %d) runs, the guest is '%s'", (int)pid, st.status);
                return OCF_SUCCESS;
        case HEALTH_ELSEWHERE:
                say("QEMU (pid %d) holds no live guest (run state '%s'); stop removes it", (int)pid, st.status);
                return OCF_NOT_RUNNING;
        case HEALTH_FAILED:
        default:
                return fail(OCF_ERR_GENERIC, "QEMU (pid %d) reports run state '%s'", (int)pid, st.status);
        }
}

static void remove_files(const struct vm_config *c) {
        (void)unlink(c->pid_path);
        (void)unlink(c->qmp_path);
}

/* After QEMU daemonized: waits until its guest runs. */
static int wait_running(const struct vm_config *c, int pidfd, uint64_t deadline_usec, struct err *e) {
        for (;;) {
                _cleanup_qmp_ struct qmp *q = NULL;
                struct qmp_status st = {};
                struct err qe = {};
                int r;

                r = qmp_connect(c->qmp_path, true, deadline_usec, &q, &qe);
                if (r >= 0)
                        r = qmp_query_status(q, deadline_usec, &st, &qe);
                if (r >= 0 && streq(st.status, "running"))
                        return 0;
                if (r >= 0 && status_health(st.status) == HEALTH_FAILED)
                        return err_set(e, -EIO, "QEMU reports run state '%s'", st.status);
                if (vm_wait_exit(pidfd, 0) > 0)
                        return err_set(e, -ESRCH, "QEMU exited during start-up");
                if (now_monotonic_usec() + 100 * USEC_PER_MSEC >= deadline_usec)
                        return err_set(e, -ETIMEDOUT, "the guest was not running before the action's timeout: %s",
                                       r < 0 ? qe.msg : st.status);
                usleep(100 * 1000);
        }
}

static int action_start(const struct vm_config *c, uint64_t start_usec, uint64_t deadline_usec) {
        _cleanup_strv_free_ char **argv = NULL;
        _cleanup_close_ int pidfd = -1;
        char took[32];
        struct err e = {};
        bool kvm;
        pid_t pid;
        int r;

        r = vm_config_check_host(c, QEMU_BINARY, &e);
        if (r < 0)
                return fail(OCF_ERR_INSTALLED, "%s", e.msg);
        kvm = c->accel != VM_ACCEL_TCG && vm_kvm_usable();
        if (c->accel == VM_ACCEL_KVM && !kvm)
                return fail(OCF_ERR_INSTALLED, "parameter 'accel' is kvm, but /dev/kvm cannot be opened read-write "
                                               "or cannot create a VM on this node");

        r = vm_find(c, &pid, &pidfd, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "cannot tell whether the VM already runs: %s", e.msg);
        if (r > 0) {
                struct qmp_status st;
                r = query_status(c, MIN(deadline_usec, now_monotonic_usec() + MONITOR_QMP_MAX_USEC), &st, &e);
                if (r >= 0 && status_health(st.status) == HEALTH_UP) {
                        say("already running (pid %d, guest '%s')", (int)pid, st.status);
                        return OCF_SUCCESS;
                }
                return fail(OCF_ERR_GENERIC, "a QEMU for this VM already runs (pid %d) but %s%s; stop it first",
                            (int)pid, r < 0 ? "does not answer: " : "its run state is ", r < 0 ? e.msg : st.status);
        }

        r = mkdir_p(c->run_dir, 0700);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "cannot create run_dir '%s': %s", c->run_dir, strerror(-r));
        /* Left behind by a QEMU that was killed; the new one writes both. */
        remove_files(c);

        argv = vm_qemu_argv(c, QEMU_BINARY, kvm);
        r = vm_spawn(argv, deadline_usec, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "%s", e.msg);
        r = vm_find(c, &pid, &pidfd, &e);
        if (r <= 0)
                return fail(OCF_ERR_GENERIC, "QEMU started, but no process for the VM is found: %s",
                            r < 0 ? e.msg : "it exited at once");
        r = wait_running(c, pidfd, deadline_usec, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "QEMU (pid %d): %s", (int)pid, e.msg);
        say("started (pid %d, %s, %" PRIu64 " MiB, %u vCPU) in %s", (int)pid, kvm ? "KVM" : "TCG", c->memory_mib,
            c->vcpus, format_ms(took, now_monotonic_usec() - start_usec));
        return OCF_SUCCESS;
}

/* Stop, in three steps, each bounded so that the last always has time:
 * an ACPI power-off request the guest can act on (its file systems stay
 * clean), QMP "quit" (or SIGTERM when QMP is out of reach), which flushes
 * QEMU's own caches, and SIGKILL. */
static int action_stop(const struct vm_config *c, uint64_t start_usec, uint64_t deadline_usec) {
        _cleanup_qmp_ struct qmp *q = NULL;
        _cleanup_close_ int pidfd = -1;
        uint64_t now, kill_reserve, shutdown, acpi_deadline, quit_deadline;
        struct qmp_status st = {};
        struct err e = {};
        char d[32];
        pid_t pid;
        int r;

        r = vm_find(c, &pid, &pidfd, &e);
        if (r < 0)
                return fail(OCF_ERR_GENERIC, "cannot tell whether the VM runs: %s", e.msg);
        if (r == 0) {
                remove_files(c);
                return OCF_SUCCESS;
        }

        now = now_monotonic_usec();
        kill_reserve = MIN(deadline_usec > now ? (deadline_usec - now) / 4 : 0, STOP_KILL_MAX_USEC);
        shutdown = c->shutdown_timeout_usec == VM_SHUTDOWN_TIMEOUT_DEFAULT ? (deadline_usec - start_usec) * 2 / 3
                                                                           : c->shutdown_timeout_usec;
        acpi_deadline = MIN(now + shutdown, deadline_usec - kill_reserve - MIN(kill_reserve, STOP_QUIT_MAX_USEC));

        /* ACPI. A guest that is paused (or not running for another reason)
         * cannot act on it. */
        if (shutdown > 0 && now < acpi_deadline) {
                r = qmp_connect(c->qmp_path, false, MIN(acpi_deadline, now + STOP_QMP_MAX_USEC), &q, &e);
                if (r >= 0)
                        r = qmp_query_status(q, MIN(acpi_deadline, now + STOP_QMP_MAX_USEC), &st, &e);
                if (r < 0) {
                        say("QMP unusable, skipping the ACPI shutdown: %s", e.msg);
                        q = qmp_free(q);
                } else if (!st.running)
                        say("the guest is '%s' and cannot act on ACPI; making QEMU quit", st.status);
                else if (qmp_execute(q, "system_powerdown", NULL, acpi_deadline, NULL, &e) < 0) {
                        say("system_powerdown: %s", e.msg);
                        q = qmp_free(q);
                } else {
                        say("asked the guest to power off (ACPI); waiting up to %s",
                            format_ms(d, acpi_deadline - now_monotonic_usec()));
                        if (vm_wait_exit(pidfd, acpi_deadline) > 0)
                                goto gone;
                        say("the guest did not power off in time; making QEMU quit");
                }
        }

        /* quit, or SIGTERM: either makes QEMU flush and exit. */
        now = now_monotonic_usec();
        quit_deadline = MIN(now + STOP_QUIT_MAX_USEC, deadline_usec - kill_reserve);
        e = (struct err){};
        if (!q && shutdown == 0)
                (void)qmp_connect(c->qmp_path, false, MIN(quit_deadline, now + STOP_QUIT_MAX_USEC / 3), &q, &e);
        if (!q || (qmp_execute(q, "quit", NULL, quit_deadline, NULL, &e) < 0 && e.code != -ECONNRESET)) {
                /* SIGCONT: a stopped QEMU would not act on SIGTERM. */
                if (pidfd_send_signal(pidfd, SIGTERM, NULL, 0) == -1 ||
                    pidfd_send_signal(pidfd, SIGCONT, NULL, 0) == -1) {
                        if (errno != ESRCH)
                                say("SIGTERM to QEMU (pid %d): %m", (int)pid);
                } else
                        say("sent SIGTERM to QEMU (pid %d)%s%s", (int)pid, e.msg[0] ? ": " : "", e.msg);
        }
        if (vm_wait_exit(pidfd, quit_deadline) > 0)
                goto gone;

        say("QEMU (pid %d) still runs; sending SIGKILL", (int)pid);
        if (pidfd_send_signal(pidfd, SIGKILL, NULL, 0) == -1 && errno != ESRCH)
                return fail(OCF_ERR_GENERIC, "SIGKILL to QEMU (pid %d): %m", (int)pid);
        if (vm_wait_exit(pidfd, MAX(deadline_usec, now_monotonic_usec() + USEC_PER_SEC)) <= 0)
                return fail(OCF_ERR_GENERIC, "QEMU (pid %d) did not exit after SIGKILL (stuck in the kernel?)",
                            (int)pid);
gone:
        remove_files(c);
        say("stopped (pid %d) in %s", (int)pid, format_ms(d, now_monotonic_usec() - start_usec));
        return OCF_SUCCESS;
}

static int action_validate(const struct vm_config *c) {
        struct err e = {};

        if (vm_config_check_host(c, QEMU_BINARY, &e) < 0)
                return fail(OCF_ERR_INSTALLED, "%s", e.msg);
        if (c->accel == VM_ACCEL_KVM && !vm_kvm_usable())
                return fail(OCF_ERR_INSTALLED, "parameter 'accel' is kvm, but KVM is not usable on this node");
        return OCF_SUCCESS;
}

static void xml_escaped(const char *s) {
        for (; *s; s++)
                switch (*s) {
                case '&':
                        fputs("&amp;", stdout);
                        break;
                case '<':
                        fputs("&lt;", stdout);
                        break;
                case '>':
                        fputs("&gt;", stdout);
                        break;
                case '"':
                        fputs("&quot;", stdout);
                        break;
                default:
                        putchar(*s);
                }
}

static int action_meta_data(void) {
        fputs("<?xml version=\"1.0\"?>\n"
              "<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n"
              "<resource-agent name=\"vm\" version=\"" PACKAGE_VERSION "\">\n"
              "<version>1.0</version>\n"
              "<longdesc lang=\"en\">\n"
              "A QEMU/KVM virtual machine. QEMU runs detached, so the VM survives the agent and clusterd; "
              "the agent finds it through its pid file and controls it over QMP. Stop asks the guest to power off "
              "(ACPI), then makes QEMU quit, then kills it: after a successful stop the VM is gone. Arbitrary QEMU "
              "arguments cannot be given.\n"
              "</longdesc>\n"
              "<shortdesc lang=\"en\">QEMU/KVM virtual machine</shortdesc>\n"
              "<parameters>\n",
              stdout);
        for (const struct vm_param *p = vm_params; p->name; p++) {
                printf("<parameter name=\"%s\" unique=\"%d\" required=\"%d\">\n<longdesc lang=\"en\">", p->name,
                       streq(p->name, "name"), p->required);
                xml_escaped(p->longdesc);
                fputs("</longdesc>\n<shortdesc lang=\"en\">", stdout);
                xml_escaped(p->shortdesc);
                fputs("</shortdesc>\n<content type=\"string\"", stdout);
                if (p->default_value) {
                        fputs(" default=\"", stdout);
                        xml_escaped(p->default_value);
                        putchar('"');
                }
                fputs(" />\n</parameter>\n", stdout);
        }
        fputs("</parameters>\n<actions>\n", stdout);
        for (size_t i = 0; i < ELEMENTSOF(actions); i++) {
                printf("<action name=\"%s\" timeout=\"%us\"", actions[i].name, actions[i].timeout_sec);
                if (actions[i].interval_sec)
                        printf(" interval=\"%us\" depth=\"0\"", actions[i].interval_sec);
                fputs(" />\n", stdout);
        }
        fputs("</actions>\n</resource-agent>\n", stdout);
        return fflush(stdout) == 0 ? OCF_SUCCESS : OCF_ERR_GENERIC;
}

static void usage(FILE *f) {
        fprintf(f, "usage: vm {start|stop|monitor|validate-all|meta-data|migrate_to|migrate_from}\n"
                   "Parameters come from OCF_RESKEY_* environment variables; see \"vm meta-data\".\n");
}

int main(int argc, char **argv) {
        _cleanup_(vm_config_done) struct vm_config c = {};
        uint64_t start = now_monotonic_usec(), deadline;
        const struct action *a = NULL;
        struct err e = {};
        const char *name;

        if (argc != 2 || !argv[1][0]) {
                usage(stderr);
                return OCF_ERR_ARGS;
        }
        name = argv[1];
        if (streq(name, "usage") || streq(name, "help")) {
                usage(stdout);
                return OCF_SUCCESS;
        }
        if (streq(name, "meta-data"))
                return action_meta_data();
        if (streq(name, "migrate_to") || streq(name, "migrate_from"))
                return fail(OCF_ERR_UNIMPLEMENTED, "%s: live migration is not implemented by this agent yet", name);
        for (size_t i = 0; i < ELEMENTSOF(actions); i++)
                if (streq(actions[i].name, name))
                        a = &actions[i];
        if (!a) {
                usage(stderr);
                return fail(OCF_ERR_UNIMPLEMENTED, "unknown action '%.64s'", name);
        }
        deadline = action_deadline(a, start);

        if (vm_config_parse(environ, &c, &e) < 0) {
                /* A VM whose parameters were changed into something invalid
                 * while it ran must still be found and stopped. */
                struct err ie = {};
                if ((!streq(name, "stop") && !streq(name, "monitor")) || vm_config_parse_identity(environ, &c, &ie) < 0)
                        return fail(OCF_ERR_CONFIGURED, "%s", e.msg);
                log_name = c.name;
                say("%s goes on with the VM's name and run_dir only: %s", name, e.msg);
        }
        log_name = c.name;

        if (streq(name, "start"))
                return action_start(&c, start, deadline);
        if (streq(name, "stop"))
                return action_stop(&c, start, deadline);
        if (streq(name, "monitor"))
                return action_monitor(&c, deadline);
        return action_validate(&c);
}
