/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-witness.c: witness URLs, the credentials file and the record's text
 * form (quorum/witness-url.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "quorum/witness-int.h"

static void url_ok(const char *text, const char *scheme, const char *host, const char *share, const char *path,
                   const char *endpoint) {
        struct witness_url u;
        struct err e = {};
        if (witness_url_parse(text, &u, &e) < 0)
                fail_msg("refused %s: %s", text, e.msg);
        assert_string_equal(u.scheme, scheme);
        assert_string_equal(u.host, host);
        assert_string_equal(u.share, share);
        assert_string_equal(u.path, path);
        assert_string_equal(u.endpoint, endpoint);
}

static void url_refused(const char *text, const char *words) {
        struct witness_url u;
        struct err e = {};
        assert_true(witness_url_parse(text, &u, &e) < 0);
        if (!strstr(e.msg, words))
                fail_msg("refusal of '%s' is '%s', which does not say '%s'", text, e.msg, words);
}

static void test_urls(void **state) {
        url_ok("smb://files.example.net/witness", "smb", "files.example.net", "witness", "", "");
        url_ok("smb://198.18.0.250/w/a/b", "smb", "198.18.0.250", "w", "a/b", "");
        url_ok("smb://[fd00::1]/w/", "smb", "[fd00::1]", "w", "", "");
        url_ok("azure://acct1/witness", "azure", "acct1", "witness", "", "https://acct1.blob.core.windows.net");
        url_ok("azure://acct1/wit-ness?endpoint=http://198.18.0.250:10000/acct1/", "azure", "acct1", "wit-ness", "",
               "http://198.18.0.250:10000/acct1");

        url_refused("", "empty");
        url_refused("ftp://h/s", "unknown scheme 'ftp'");
        url_refused("s3://bucket", "S3 witnesses are not supported");
        url_refused("files/witness", "is not a witness URL");
        url_refused("smb://host", "has no share");
        url_refused("smb:///share", "has no host");
        url_refused("smb://ho%st/share", "the host");
        url_refused("smb://host/../x", "share name");
        url_refused("smb://host/s/..", "folder name");
        url_refused("azure://Acct/container", "storage account name");
        url_refused("azure://acct/c", "container name");
        url_refused("azure://acct/con--tainer", "container name");
        url_refused("azure://acct/container?sas=x", "the only option is ?endpoint=URL");
        url_refused("azure://acct/container?endpoint=file:///x", "endpoint");
        url_refused("smb://host/share\n", "control");
}

static void test_credentials(void **state) {
        struct witness_credentials c;
        struct err e = {};
        char text[] = "# the witness\nusername = w\npassword =  p a ss \n\ndomain=WG\nsas = ?sv=1&sig=x\n";
        assert_int_equal(witness_credentials_parse("f", text, &c, &e), 0);
        assert_string_equal(c.username, "w");
        assert_string_equal(c.password, "p a ss");
        assert_string_equal(c.domain, "WG");
        assert_string_equal(c.sas, "sv=1&sig=x");
        witness_credentials_wipe(&c);

        char bad1[] = "username w\n";
        assert_int_equal(witness_credentials_parse("f", bad1, &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "f:1: expected 'key = value'"));
        char bad2[] = "# x\nuser = w\n";
        assert_int_equal(witness_credentials_parse("f", bad2, &c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "f:2: unknown key 'user'"));

        /* The file must be root's alone. */
        char path[] = "/tmp/test-witness-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "username = w\n", 13), 13);
        close(fd);
        assert_int_equal(chmod(path, 0644), 0);
        int r = witness_credentials_read(path, &c, &e);
        if (geteuid() == 0) {
                assert_int_equal(r, -EPERM);
                assert_non_null(strstr(e.msg, "readable only by root"));
                assert_int_equal(chmod(path, 0600), 0);
                assert_int_equal(witness_credentials_read(path, &c, &e), 0);
                assert_string_equal(c.username, "w");
        } else
                assert_true(r < 0);
        unlink(path);
        assert_int_equal(witness_credentials_read(path, &c, &e), -ENOENT);
        assert_non_null(strstr(e.msg, path));
}

static const char RECORD[] = "clusterd-witness-record 1\n"
                             "cluster: 1b4e28ba-2fa1-11d2-883f-0016d3cca427\n"
                             "cluster-name: prod\n"
                             "holder: 3 17\n"
                             "generation: 57\n"
                             "lease-usec: 6000000\n"
                             "position: 12 88\n";

static void test_record(void **state) {
        struct arbiter_record r;
        struct err e = {};

        assert_int_equal(witness_record_parse(RECORD, &r, &e), 0);
        assert_string_equal(r.cluster_uuid, "1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_int_equal(r.holder.nodeid, 3);
        assert_int_equal(r.holder.ring_seq, 17);
        assert_int_equal(r.generation, 57);
        assert_int_equal(r.lease_usec, 6000000);
        assert_int_equal(r.position.epoch, 12);
        assert_int_equal(r.position.version, 88);
        _cleanup_free_ char *text = witness_record_format(&r, "prod");
        assert_string_equal(text, RECORD);

        static const struct {
                const char *from, *to, *words;
        } bad[] = {
                { "clusterd-witness-record 1", "clusterd-witness-record 2", "not a clusterd witness record" },
                { "cluster: 1b4e", "cluster: zb4e", "line 2" },
                { "holder: 3 17", "holder: 3", "line 4" },
                { "holder: 3 17", "holder: 03 17", "line 4" },
                { "generation: 57", "generation: 0", "line 5" },
                { "lease-usec: 6000000", "lease-usec: 99999999999", "line 6" },
                { "position: 12 88", "position: 12 88 1", "line 7" },
                { "position: 12 88\n", "position: 12 88\nmore\n", "after line 7" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                const char *p = strstr(RECORD, bad[i].from);
                assert_non_null(p);
                _cleanup_free_ char *t =
                        xasprintf("%.*s%s%s", (int)(p - RECORD), RECORD, bad[i].to, p + strlen(bad[i].from));
                assert_int_equal(witness_record_parse(t, &r, &e), -EBADMSG);
                if (!strstr(e.msg, bad[i].words))
                        fail_msg("'%s' refused with '%s', expected '%s'", bad[i].to, e.msg, bad[i].words);
        }
        assert_int_equal(witness_record_parse("", &r, &e), -EBADMSG);
}

static void test_object_name(void **state) {
        char buf[WITNESS_OBJECT_MAX];
        struct err e = {};
        assert_int_equal(witness_object_name("prod", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", buf, sizeof(buf), &e), 0);
        assert_string_equal(buf, "clusterd-witness-prod-1b4e28ba-2fa1-11d2-883f-0016d3cca427");
        assert_int_equal(witness_object_name("bad name", "1b4e28ba-2fa1-11d2-883f-0016d3cca427", buf, sizeof(buf), &e),
                         -EINVAL);
        assert_int_equal(witness_object_name("prod", "nope", buf, sizeof(buf), &e), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_urls),
                cmocka_unit_test(test_credentials),
                cmocka_unit_test(test_record),
                cmocka_unit_test(test_object_name),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
