/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-common.c: the shared library's parsers, codecs and helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/common.h"

static void test_duration(void **state) {
        uint64_t u;
        assert_int_equal(parse_duration_usec("10s", &u), 0);
        assert_int_equal(u, 10 * USEC_PER_SEC);
        assert_int_equal(parse_duration_usec("250ms", &u), 0);
        assert_int_equal(u, 250 * USEC_PER_MSEC);
        assert_int_equal(parse_duration_usec("1.5s", &u), 0);
        assert_int_equal(u, 1500 * USEC_PER_MSEC);
        assert_int_equal(parse_duration_usec("1m30s", &u), 0);
        assert_int_equal(u, 90 * USEC_PER_SEC);
        assert_int_equal(parse_duration_usec("2min", &u), 0);
        assert_int_equal(u, 120 * USEC_PER_SEC);
        assert_int_equal(parse_duration_usec("1h", &u), 0);
        assert_int_equal(u, USEC_PER_HOUR);
        assert_int_equal(parse_duration_usec("7", &u), 0);
        assert_int_equal(u, 7 * USEC_PER_SEC);
        assert_int_equal(parse_duration_usec("", &u), -EINVAL);
        assert_int_equal(parse_duration_usec("abc", &u), -EINVAL);
        assert_int_equal(parse_duration_usec("10 parsecs", &u), -EINVAL);
        assert_int_equal(parse_duration_usec("1m30", &u), -EINVAL);
        assert_int_equal(parse_duration_usec("99999999999999999999d", &u), -ERANGE);

        char buf[64];
        assert_string_equal(format_duration(buf, sizeof(buf), 90 * USEC_PER_SEC), "1m30s");
        assert_string_equal(format_duration(buf, sizeof(buf), 250 * USEC_PER_MSEC), "250ms");
        assert_string_equal(format_duration(buf, sizeof(buf), 0), "0");
}

static void test_size(void **state) {
        uint64_t b;
        assert_int_equal(parse_size("1MiB", &b), 0);
        assert_int_equal(b, 1024 * 1024);
        assert_int_equal(parse_size("64K", &b), 0);
        assert_int_equal(b, 64 * 1024);
        assert_int_equal(parse_size("512", &b), 0);
        assert_int_equal(b, 512);
        assert_int_equal(parse_size("1.5KiB", &b), 0);
        assert_int_equal(b, 1536);
        assert_int_equal(parse_size("1MiB2KiB", &b), -EINVAL);
        assert_int_equal(parse_size("-1", &b), -EINVAL);
        assert_int_equal(parse_size("1 parsec", &b), -EINVAL);

        char buf[32];
        assert_string_equal(format_size(buf, sizeof(buf), 1024 * 1024), "1MiB");
        assert_string_equal(format_size(buf, sizeof(buf), 1000), "1000B");
}

static void test_integers_and_bools(void **state) {
        uint64_t u;
        int64_t i;
        uint32_t u32;
        assert_int_equal(parse_uint64("18446744073709551615", &u), 0);
        assert_true(u == UINT64_MAX);
        assert_int_equal(parse_uint64("18446744073709551616", &u), -ERANGE);
        assert_int_equal(parse_uint64("12a", &u), -EINVAL);
        assert_int_equal(parse_uint64("", &u), -EINVAL);
        assert_int_equal(parse_int64("-9223372036854775808", &i), 0);
        assert_true(i == INT64_MIN);
        assert_int_equal(parse_int64("9223372036854775808", &i), -ERANGE);
        assert_int_equal(parse_uint32("4294967296", &u32), -ERANGE);
        assert_int_equal(parse_bool("Yes"), 1);
        assert_int_equal(parse_bool("off"), 0);
        assert_int_equal(parse_bool("maybe"), -EINVAL);
}

static void test_names(void **state) {
        assert_true(name_is_valid("n1"));
        assert_true(name_is_valid("node-01_a"));
        assert_false(name_is_valid(""));
        assert_false(name_is_valid("-n1"));
        assert_false(name_is_valid("n 1"));
        assert_false(name_is_valid("n1.example"));
        assert_false(name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_timestamp(void **state) {
        char buf[TIMESTAMP_MAX];
        uint64_t t;
        assert_string_equal(format_timestamp(buf, UINT64_C(1795265456112000)), "2026-11-21T12:50:56.112Z");
        assert_int_equal(parse_timestamp("2026-11-21T12:50:56.112Z", &t), 0);
        assert_true(t == UINT64_C(1795265456112000));
        assert_int_equal(parse_timestamp("2026-11-21T12:50:56Z", &t), 0);
        assert_int_equal(parse_timestamp("2026-11-21 12:50:56", &t), -EINVAL);
}

static void test_base64_hex(void **state) {
        static const struct {
                const char *plain, *b64;
        } v[] = { { "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" }, { "foobar", "Zm9vYmFy" } };
        for (size_t k = 0; k < ELEMENTSOF(v); k++) {
                _cleanup_free_ char *enc = base64_encode(v[k].plain, strlen(v[k].plain));
                _cleanup_free_ void *dec = NULL;
                size_t n;
                assert_string_equal(enc, v[k].b64);
                assert_int_equal(base64_decode(enc, &dec, &n), 0);
                assert_int_equal(n, strlen(v[k].plain));
                assert_memory_equal(dec, v[k].plain, n);
        }
        void *junk = NULL;
        size_t n;
        assert_int_equal(base64_decode("Zg=", &junk, &n), -EINVAL);
        assert_int_equal(base64_decode("Z===", &junk, &n), -EINVAL);
        assert_int_equal(base64_decode("Zm9v!A==", &junk, &n), -EINVAL);

        uint8_t bytes[3] = { 0x00, 0xab, 0xff }, back[3];
        char hex[7];
        assert_string_equal(hex_encode(hex, bytes, 3), "00abff");
        assert_int_equal(hex_decode("00ABff", back, 3), 0);
        assert_memory_equal(back, bytes, 3);
        assert_int_equal(hex_decode("00ab", back, 3), -EINVAL);
        assert_int_equal(hex_decode("00abfg", back, 3), -EINVAL);
}

static void test_siphash(void **state) {
        /* Reference vector from the SipHash paper: key 00..0f, message 00..0e. */
        uint8_t msg[15];
        for (size_t i = 0; i < sizeof(msg); i++)
                msg[i] = (uint8_t)i;
        assert_true(siphash24(UINT64_C(0x0706050403020100), UINT64_C(0x0f0e0d0c0b0a0908), msg, sizeof(msg)) ==
                    UINT64_C(0xa129ca6149be45e5));
}

static void test_json(void **state) {
        _cleanup_json_ json_object *o = NULL;
        struct err e = {};
        const char *s = NULL;
        int64_t i = 0;

        assert_int_equal(json_parse_object("{\"a\": \"x\", \"b\": 5}", 18, &o, &e), 0);
        assert_int_equal(json_get_string(o, "a", true, &s, &e), 0);
        assert_string_equal(s, "x");
        assert_int_equal(json_get_int64(o, "b", true, &i, &e), 0);
        assert_int_equal(i, 5);
        assert_int_equal(json_get_string(o, "b", true, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "field 'b': expected a string, got int");
        err_clear(&e);
        assert_int_equal(json_get_string(o, "zz", true, &s, &e), -EINVAL);
        assert_string_equal(e.msg, "field 'zz' is required");
        err_clear(&e);
        static const char *const allowed[] = { "a", NULL };
        assert_int_equal(json_check_keys(o, allowed, &e), -EINVAL);
        assert_string_equal(e.msg, "unknown field 'b'");

        json_object *p = NULL;
        err_clear(&e);
        assert_int_equal(json_parse_object("[1]", 3, &p, &e), -EINVAL);
        err_clear(&e);
        assert_int_equal(json_parse_object("{\"a\":1} x", 9, &p, &e), -EINVAL);
        err_clear(&e);
        assert_int_equal(json_parse_object("{\"a\":", 5, &p, &e), -EINVAL);
        err_clear(&e);
        assert_int_equal(json_parse_object("", 0, &p, &e), -EINVAL);
        /* Deep nesting is refused, not recursed into. */
        char deep[200];
        memset(deep, '[', sizeof(deep));
        err_clear(&e);
        assert_int_equal(json_parse_object(deep, sizeof(deep), &p, &e), -EINVAL);
}

static void test_utf8(void **state) {
        assert_true(utf8_is_valid("", 0));
        assert_true(utf8_is_valid("plain", 5));
        assert_true(utf8_is_valid("caf\xc3\xa9", 5));
        assert_true(utf8_is_valid("\xe2\x82\xac", 3));
        assert_true(utf8_is_valid("\xf0\x9f\x98\x80", 4));
        assert_false(utf8_is_valid("caf\xe9", 4)); /* Latin-1 */
        assert_false(utf8_is_valid("\xff\xfe", 2));
        assert_false(utf8_is_valid("\xc0\xaf", 2));         /* overlong '/' */
        assert_false(utf8_is_valid("\xed\xa0\x80", 3));     /* surrogate */
        assert_false(utf8_is_valid("\xf4\x90\x80\x80", 4)); /* above U+10FFFF */
        assert_false(utf8_is_valid("\xe2\x82", 2));         /* truncated */

        json_object *o = NULL;
        struct err e = {};
        static const char body[] = "{\"value\": \"\xff\xfe\"}";
        assert_int_equal(json_parse_object(body, sizeof(body) - 1, &o, &e), -EINVAL);
        assert_string_equal(e.msg, "field 'value': the string is not valid UTF-8");
        err_clear(&e);
        static const char key[] = "{\"caf\xe9\": 1}";
        assert_int_equal(json_parse_object(key, sizeof(key) - 1, &o, &e), -EINVAL);
        assert_string_equal(e.msg, "a field name is not valid UTF-8");
}

static void test_err_context(void **state) {
        struct err e = {};
        assert_int_equal(err_set(&e, -EINVAL, "bad value"), -EINVAL);
        err_set(&e, -EINVAL, "field 'x'");
        assert_string_equal(e.msg, "field 'x': bad value");
        assert_int_equal(err_set(NULL, -ENOENT, "ignored"), -ENOENT);
}

static void test_strv(void **state) {
        _cleanup_strv_free_ char **l = NULL, **c = NULL;
        strv_push(&l, "a");
        strv_push(&l, "b");
        assert_int_equal(strv_length(l), 2);
        assert_true(strv_contains(l, "b"));
        c = strv_copy(l);
        assert_true(strv_equal(l, c));
        strv_push(&c, "c");
        assert_false(strv_equal(l, c));
}

static void test_files(void **state) {
        char dir[] = "/tmp/clusterd-test-XXXXXX";
        assert_non_null(mkdtemp(dir));
        _cleanup_free_ char *sub = xasprintf("%s/a/b/c", dir);
        _cleanup_free_ char *file = xasprintf("%s/f", sub);
        _cleanup_free_ char *content = NULL;
        size_t n;
        assert_int_equal(mkdir_p(sub, 0700), 0);
        assert_int_equal(write_file_atomic(file, "hello", 5, 0600), 0);
        assert_int_equal(read_full_file(file, 100, &content, &n), 0);
        assert_int_equal(n, 5);
        assert_string_equal(content, "hello");
        free_and_null(content);
        assert_int_equal(read_full_file(file, 3, &content, &n), -EFBIG);
        _cleanup_free_ char *cmd = xasprintf("rm -rf %s", dir);
        assert_int_equal(system(cmd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_size),
                cmocka_unit_test(test_integers_and_bools),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_timestamp),
                cmocka_unit_test(test_base64_hex),
                cmocka_unit_test(test_siphash),
                cmocka_unit_test(test_json),
                cmocka_unit_test(test_err_context),
                cmocka_unit_test(test_utf8),
                cmocka_unit_test(test_strv),
                cmocka_unit_test(test_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
