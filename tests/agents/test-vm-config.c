/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-vm-config.c: the vm agent's parameters and the QEMU command line built from them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "agents/vm-int.h"

/* Parses env; on failure returns the code and copies the message. */
static int parse(const char *const *env, struct vm_config *c, char *msg, size_t size) {
        struct err e = {};
        int r = vm_config_parse((char *const *)env, c, &e);
        if (msg)
                snprintf(msg, size, "%s", e.msg);
        return r;
}

/* The argv as one string, words joined by single spaces. */
static char *joined(char **argv) {
        size_t n = 1;
        for (char **a = argv; *a; a++)
                n += strlen(*a) + 1;
        char *s = xcalloc(1, n);
        for (char **a = argv; *a; a++) {
                if (a != argv)
                        strcat(s, " ");
                strcat(s, *a);
        }
        return s;
}

static void test_minimal(void **state) {
        const char *env[] = { "OCF_RESKEY_name=web1",
                              "OCF_RESKEY_memory=256",
                              "OCF_RESKEY_CRM_meta_timeout=20000",
                              "OCF_RESKEY_crm_feature_set=3.16.2",
                              "PATH=/bin",
                              NULL };
        struct vm_config c = {};

        assert_int_equal(parse(env, &c, NULL, 0), 0);
        assert_string_equal(c.name, "web1");
        assert_int_equal(c.memory_mib, 256);
        assert_int_equal(c.vcpus, 1);
        assert_string_equal(c.machine, "q35");
        assert_int_equal(c.accel, VM_ACCEL_AUTO);
        assert_string_equal(c.pid_path, CLUSTERD_RUN_DIR "/vm/web1.pid");
        assert_string_equal(c.qmp_path, CLUSTERD_RUN_DIR "/vm/web1.qmp");

        _cleanup_strv_free_ char **argv = vm_qemu_argv(&c, "/usr/bin/qemu-system-x86_64", true);
        _cleanup_free_ char *s = joined(argv);
        assert_string_equal(s, "/usr/bin/qemu-system-x86_64 -name web1 -machine q35 -accel kvm -m 256 -smp 1 "
                               "-nodefaults -no-user-config -display none -daemonize -pidfile " CLUSTERD_RUN_DIR
                               "/vm/web1.pid -qmp unix:" CLUSTERD_RUN_DIR "/vm/web1.qmp,server=on,wait=off");
        vm_config_done(&c);
        vm_config_done(&c); /* a cleared config is fine */
}

static void test_full(void **state) {
        const char *env[] = { "OCF_RESKEY_name=db.2_x-y",
                              "OCF_RESKEY_memory=1024",
                              "OCF_RESKEY_vcpus=4",
                              "OCF_RESKEY_machine=pc",
                              "OCF_RESKEY_accel=tcg",
                              "OCF_RESKEY_disks=/var/lib/clusterd/vms/a.img:raw:ide,/v/b.qcow2:qcow2,/v/c.img",
                              "OCF_RESKEY_nics=bridge=br0,mac=52:54:00:AB:cd:01;bridge=br1 model=e1000",
                              "OCF_RESKEY_kernel=/boot/vmlinuz",
                              "OCF_RESKEY_initrd=/boot/initrd.img",
                              "OCF_RESKEY_append=console=ttyS0 root=/dev/vda quiet",
                              "OCF_RESKEY_serial=/var/log/clusterd/db.log",
                              "OCF_RESKEY_run_dir=/tmp/vmrun",
                              "OCF_RESKEY_shutdown_timeout=90",
                              NULL };
        struct vm_config c = {};
        char msg[512];

        assert_int_equal(parse(env, &c, msg, sizeof(msg)), 0);
        assert_int_equal(c.n_disks, 3);
        assert_int_equal(c.n_nics, 2);
        assert_int_equal(c.shutdown_timeout_usec, 90 * USEC_PER_SEC);
        assert_string_equal(c.nics[0].mac, "52:54:00:ab:cd:01");
        assert_string_equal(c.nics[1].model, "e1000");
        /* A derived MAC is QEMU's prefix and stable. */
        assert_true(startswith(c.nics[1].mac, "52:54:00:") != NULL);

        _cleanup_strv_free_ char **argv = vm_qemu_argv(&c, "/q", false);
        _cleanup_free_ char *s = joined(argv);
        char expect[2048];
        snprintf(expect, sizeof(expect),
                 "/q -name db.2_x-y -machine pc -accel tcg -m 1024 -smp 4 -nodefaults -no-user-config -display none "
                 "-daemonize -pidfile /tmp/vmrun/db.2_x-y.pid -qmp unix:/tmp/vmrun/db.2_x-y.qmp,server=on,wait=off "
                 "-drive file=/var/lib/clusterd/vms/a.img,format=raw,if=ide,id=disk0 "
                 "-drive file=/v/b.qcow2,format=qcow2,if=virtio,id=disk1 "
                 "-drive file=/v/c.img,format=raw,if=virtio,id=disk2 "
                 "-netdev bridge,id=net0,br=br0 -device virtio-net-pci,netdev=net0,mac=52:54:00:ab:cd:01 "
                 "-netdev bridge,id=net1,br=br1 -device e1000,netdev=net1,mac=%s "
                 "-kernel /boot/vmlinuz -initrd /boot/initrd.img -append console=ttyS0 root=/dev/vda quiet "
                 "-serial file:/var/log/clusterd/db.log",
                 c.nics[1].mac);
        assert_string_equal(s, expect);

        /* The same name gives the same MAC on every node. */
        struct vm_config again = {};
        assert_int_equal(parse(env, &again, NULL, 0), 0);
        assert_string_equal(again.nics[1].mac, c.nics[1].mac);
        vm_config_done(&again);
        vm_config_done(&c);
}

/* Each bad environment must fail with -EINVAL and a message containing
 * `needle` (the parameter's name and, where there is one, its value). */
static void expect_bad(const char *a, const char *b, const char *needle) {
        const char *env[] = { "OCF_RESKEY_name=vm1", "OCF_RESKEY_memory=128", a, b, NULL };
        struct vm_config c = {};
        char msg[512];

        int r = parse(env, &c, msg, sizeof(msg));
        if (r != -EINVAL || !strstr(msg, needle))
                fail_msg("%s %s: got %d \"%s\", expected a message with \"%s\"", strempty(a), strempty(b), r, msg,
                         needle);
        vm_config_done(&c);
}

static void test_bad(void **state) {
        expect_bad("OCF_RESKEY_extra=-device foo", NULL, "parameter 'extra' (\"-device foo\") is refused");
        expect_bad("OCF_RESKEY_memroy=12", NULL, "unknown parameter 'memroy'");
        expect_bad("OCF_RESKEY_vcpus=0", NULL, "parameter 'vcpus'");
        expect_bad("OCF_RESKEY_vcpus=two", NULL, "\"two\"");
        expect_bad("OCF_RESKEY_machine=q35,accel=kvm", NULL, "parameter 'machine'");
        expect_bad("OCF_RESKEY_accel=xen", NULL, "parameter 'accel'");
        expect_bad("OCF_RESKEY_disks=a.img", NULL, "parameter 'disks': expected an absolute path, got \"a.img\"");
        expect_bad("OCF_RESKEY_disks=/a.img:vmdk", NULL, "\"vmdk\"");
        expect_bad("OCF_RESKEY_disks=/a.img:raw:scsi", NULL, "\"scsi\"");
        expect_bad("OCF_RESKEY_disks=/a.img:raw:ide:x", NULL, "more than PATH:FORMAT:IF");
        expect_bad("OCF_RESKEY_disks=/a.img,,/b.img", NULL, "empty item");
        expect_bad("OCF_RESKEY_nics=mac=52:54:00:00:00:01", NULL, "before the first bridge=");
        expect_bad("OCF_RESKEY_nics=bridge=br0,mac=01:00:5e:00:00:01", NULL, "\"01:00:5e:00:00:01\"");
        expect_bad("OCF_RESKEY_nics=bridge=br0,model=ne2k", NULL, "\"ne2k\"");
        expect_bad("OCF_RESKEY_nics=bridge=br0,script=/x", NULL, "unknown key 'script'");
        expect_bad("OCF_RESKEY_nics=bridge=a_very_long_bridge_name", NULL, "\"a_very_long_bridge_name\"");
        expect_bad("OCF_RESKEY_nics=br0", NULL, "expected key=value");
        expect_bad("OCF_RESKEY_kernel=/boot/vmlinuz,if=floppy", NULL, "parameter 'kernel'");
        expect_bad("OCF_RESKEY_append=quiet", NULL, "parameter 'append' needs parameter 'kernel'");
        expect_bad("OCF_RESKEY_kernel=/k", "OCF_RESKEY_append=a\nb", "control character");
        expect_bad("OCF_RESKEY_serial=relative.log", NULL, "parameter 'serial'");
        expect_bad("OCF_RESKEY_run_dir=/run/x,server=off", NULL, "parameter 'run_dir'");
        expect_bad("OCF_RESKEY_run_dir=/run/"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                   "aaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                   NULL, "too long for the QMP socket");
        expect_bad("OCF_RESKEY_shutdown_timeout=soon", NULL, "parameter 'shutdown_timeout'");
}

static void test_name_and_memory(void **state) {
        struct vm_config c = {};
        char msg[512];

        const char *no_name[] = { "OCF_RESKEY_memory=128", NULL };
        assert_int_equal(parse(no_name, &c, msg, sizeof(msg)), -EINVAL);
        assert_string_equal(msg, "parameter 'name' is required");

        const char *bad_name[] = { "OCF_RESKEY_name=a b", "OCF_RESKEY_memory=128", NULL };
        assert_int_equal(parse(bad_name, &c, msg, sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "parameter 'name'"));
        assert_non_null(strstr(msg, "\"a b\""));

        const char *long_name[] = { "OCF_RESKEY_name=0123456789012345678901234567890123456789012345678901234567890123",
                                    "OCF_RESKEY_memory=128", NULL };
        assert_int_equal(parse(long_name, &c, msg, sizeof(msg)), -EINVAL);

        const char *no_memory[] = { "OCF_RESKEY_name=a", NULL };
        assert_int_equal(parse(no_memory, &c, msg, sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "parameter 'memory' is required"));

        const char *small[] = { "OCF_RESKEY_name=a", "OCF_RESKEY_memory=8", NULL };
        assert_int_equal(parse(small, &c, msg, sizeof(msg)), -EINVAL);
        assert_non_null(strstr(msg, "parameter 'memory'"));
        assert_non_null(strstr(msg, "\"8\""));

        /* An empty value is unset: the default applies. */
        const char *empty[] = { "OCF_RESKEY_name=a", "OCF_RESKEY_memory=64", "OCF_RESKEY_vcpus=", NULL };
        assert_int_equal(parse(empty, &c, msg, sizeof(msg)), 0);
        assert_int_equal(c.vcpus, 1);
        vm_config_done(&c);
}

static void test_identity(void **state) {
        /* Stop must still find a VM whose other parameters became invalid. */
        const char *env[] = { "OCF_RESKEY_name=web", "OCF_RESKEY_memory=lots", "OCF_RESKEY_run_dir=/tmp/r",
                              "OCF_RESKEY_extra=-x", NULL };
        struct vm_config c = {};
        struct err e = {};

        assert_int_equal(vm_config_parse((char *const *)env, &c, &e), -EINVAL);
        assert_int_equal(vm_config_parse_identity((char *const *)env, &c, &e), 0);
        assert_string_equal(c.qmp_path, "/tmp/r/web.qmp");
        vm_config_done(&c);

        const char *no_name[] = { "OCF_RESKEY_memory=64", NULL };
        assert_int_equal(vm_config_parse_identity((char *const *)no_name, &c, &e), -EINVAL);
}

static void test_check_host(void **state) {
        const char *env[] = { "OCF_RESKEY_name=a", "OCF_RESKEY_memory=64", "OCF_RESKEY_disks=/nonexistent/disk.img",
                              NULL };
        struct vm_config c = {};
        struct err e = {};

        assert_int_equal(vm_config_parse((char *const *)env, &c, &e), 0);
        assert_int_equal(vm_config_check_host(&c, "/bin/sh", &e), -ENOENT);
        assert_non_null(strstr(e.msg, "parameter 'disks': '/nonexistent/disk.img'"));
        e = (struct err){};
        assert_int_equal(vm_config_check_host(&c, "/nonexistent/qemu", &e), -ENOENT);
        assert_non_null(strstr(e.msg, "'/nonexistent/qemu' is not installed"));
        vm_config_done(&c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_minimal),  cmocka_unit_test(test_full),
                cmocka_unit_test(test_bad),      cmocka_unit_test(test_name_and_memory),
                cmocka_unit_test(test_identity), cmocka_unit_test(test_check_host),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
