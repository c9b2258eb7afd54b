/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-settings.c: the registry of cluster-wide settings as an operator
 * meets it through "clusterctl setting set" and PUT /v1/settings/KEY:
 * which keys exist, which values each accepts, the one canonical form a
 * value is stored in (so that every node applies the same text), and the
 * messages that say what was wrong.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/settings-int.h"

static const struct setting_def *lookup(const char *key) {
        const struct setting_def *d = NULL;
        struct err e = {};
        if (settings_lookup(key, &d, &e) < 0)
                fail_msg("settings_lookup(%s): %s", key, e.msg);
        return d;
}

/* Normalizes text for key and checks the canonical form. */
static void assert_normal(const char *key, const char *text, const char *canonical) {
        _cleanup_free_ char *out = NULL;
        struct err e = {};
        if (setting_normalize(lookup(key), key, text, &out, &e) < 0)
                fail_msg("%s = '%s': %s", key, text, e.msg);
        assert_string_equal(out, canonical);
}

/* Normalization of text fails with exactly message. */
static void assert_refused_key(const struct setting_def *d, const char *key, const char *text, const char *message) {
        char *out = NULL;
        struct err e = {};
        assert_int_equal(setting_normalize(d, key, text, &out, &e), -EINVAL);
        assert_null(out);
        assert_int_equal(e.code, -EINVAL);
        if (message)
                assert_string_equal(e.msg, message);
}

static void assert_refused_def(const struct setting_def *d, const char *text, const char *message) {
        assert_refused_key(d, d->key, text, message);
}

static void assert_refused(const char *key, const char *text, const char *message) {
        assert_refused_key(lookup(key), key, text, message);
}

/* A boolean and an enum setting: the registry has none yet, but the
 * types are part of the contract (and of the API's JSON forms). */
static const char *const modes[] = { "fast", "safe", NULL };
static const struct setting_def bool_def = { .key = "test.flag", .type = SETTING_BOOLEAN, .default_value = "false" };
static const struct setting_def enum_def = {
        .key = "test.mode", .type = SETTING_ENUM, .default_value = "safe", .values = modes
};

static void test_lookup_known(void **state) {
        const struct setting_def *d;
        struct err e = {};

        assert_int_equal(settings_lookup("events.max-entries", &d, &e), 0);
        assert_string_equal(d->key, "events.max-entries");
        assert_int_equal(d->type, SETTING_INTEGER);
        assert_string_equal(d->default_value, "10000");
        assert_false(setting_is_user(d));

        d = lookup("join.token-ttl");
        assert_int_equal(d->type, SETTING_DURATION);
        assert_string_equal(d->default_value, "1h");
        d = lookup("cluster.description");
        assert_int_equal(d->type, SETTING_STRING);
        assert_string_equal(d->default_value, "");

        /* Keys are case-sensitive. */
        assert_int_equal(settings_lookup("Events.Max-Entries", &d, NULL), -ENOENT);
}

static void test_lookup_user_keys(void **state) {
        const struct setting_def *d;
        struct err e = {};
        char key[200];

        static const char *const good[] = {
                "user.a", "user.rack", "user.site.dc-1_row.2", "user.0", "user.-", "user.."
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                d = NULL;
                if (settings_lookup(good[i], &d, &e) < 0)
                        fail_msg("%s: %s", good[i], e.msg);
                assert_true(setting_is_user(d));
                assert_int_equal(d->type, SETTING_STRING);
                assert_int_equal(d->max, 4096);
        }

        /* 120 characters after the prefix: fine; 121: not. */
        snprintf(key, sizeof(key), "user.%0120d", 0);
        assert_int_equal(settings_lookup(key, &d, &e), 0);
        snprintf(key, sizeof(key), "user.%0121d", 0);
        assert_int_equal(settings_lookup(key, &d, &e), -EINVAL);

        static const char *const bad[] = { "user.", "user.a b", "user.a/b", "user.ä", "user.a=b", "user.tab\t" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                err_clear(&e);
                d = NULL;
                assert_int_equal(settings_lookup(bad[i], &d, &e), -EINVAL);
                assert_null(d);
                _cleanup_free_ char *want = xasprintf("invalid setting key '%s': after 'user.' use 1 to 120 characters "
                                                      "of letters, digits, '_', '.' and '-'",
                                                      bad[i]);
                assert_string_equal(e.msg, want);
        }

        /* "user" without the dot is just an unknown key. */
        assert_int_equal(settings_lookup("user", &d, NULL), -ENOENT);
        assert_int_equal(settings_lookup("userx.a", &d, NULL), -ENOENT);
}

static void test_lookup_unknown_lists_known(void **state) {
        const struct setting_def *d = NULL;
        struct err e = {};

        assert_int_equal(settings_lookup("events.max", &d, &e), -ENOENT);
        assert_null(d);
        assert_int_equal(e.code, -ENOENT);
        assert_string_equal(e.msg,
                            "unknown setting 'events.max' (known: cluster.description, events.max-entries, "
                            "fencing.watchdog-margin, placement.memory-overcommit, placement.cpu-overcommit, "
                            "join.token-ttl, quorum.witness, quorum.witness-lease, or 'user.NAME' for your own)");

        /* Every registered key is in the list. */
        size_t n;
        const struct setting_def *all = settings_all(&n);
        err_clear(&e);
        assert_int_equal(settings_lookup("", &d, &e), -ENOENT);
        for (size_t i = 0; i < n; i++)
                assert_non_null(strstr(e.msg, all[i].key));
}

static void test_registry(void **state) {
        size_t n;
        const struct setting_def *all = settings_all(&n);
        assert_true(n >= 3);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *canonical = NULL;
                struct err e = {};
                /* Each is found by its key, is not a user key, says what it
                 * does, and its default is valid and already canonical. */
                assert_ptr_equal(lookup(all[i].key), &all[i]);
                assert_false(setting_is_user(&all[i]));
                assert_non_null(all[i].description);
                assert_true(strlen(all[i].description) > 10);
                assert_non_null(all[i].default_value);
                if (setting_normalize(&all[i], all[i].key, all[i].default_value, &canonical, &e) < 0)
                        fail_msg("default of %s: %s", all[i].key, e.msg);
                assert_string_equal(canonical, all[i].default_value);
                /* No duplicates. */
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(all[i].key, all[j].key);
        }
}

static void test_normalize_string(void **state) {
        char buf[300];

        assert_normal("cluster.description", "Production, rack B", "Production, rack B");
        assert_normal("cluster.description", "", "");
        assert_normal("cluster.description", "tab\tseparated", "tab\tseparated");
        assert_normal("cluster.description", "ünïcödé ✓", "ünïcödé ✓");
        memset(buf, 'x', 256);
        buf[256] = '\0';
        assert_normal("cluster.description", buf, buf);
        buf[256] = 'x';
        buf[257] = '\0';
        assert_refused("cluster.description", buf, "setting 'cluster.description' must be at most 256 bytes, got 257");
        assert_refused("cluster.description", "two\nlines",
                       "setting 'cluster.description' must not contain control characters");
        assert_refused("cluster.description", "cr\r", NULL);
        assert_refused("cluster.description", "\x1b[31mred", NULL);

        /* User keys take up to 4096 bytes; messages use the generic key. */
        _cleanup_free_ char *big = xmalloc(4098);
        memset(big, 'v', 4096);
        big[4096] = '\0';
        assert_normal("user.notes", big, big);
        big[4096] = 'v';
        big[4097] = '\0';
        assert_refused("user.notes", big, "setting 'user.notes' must be at most 4096 bytes, got 4097");
}

static void test_normalize_integer(void **state) {
        assert_normal("events.max-entries", "5000", "5000");
        assert_normal("events.max-entries", "100", "100");
        assert_normal("events.max-entries", "1000000", "1000000");
        assert_normal("events.max-entries", "+250", "250");
        assert_normal("events.max-entries", "000250", "250");

        const char *msg = "setting 'events.max-entries' must be an integer between 100 and 1000000, got '%s'";
        static const char *const bad[] = { "99",  "1000001", "0",   "-5",  "",     "abc",
                                           "1e3", "5000.0",  " 50", "50 ", "0x64", "99999999999999999999" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *want = xasprintf(msg, bad[i]);
                assert_refused("events.max-entries", bad[i], want);
        }
}

static void test_normalize_duration(void **state) {
        assert_normal("join.token-ttl", "1h", "1h");
        assert_normal("join.token-ttl", "90m", "1h30m");
        assert_normal("join.token-ttl", "3600", "1h");
        assert_normal("join.token-ttl", "1m", "1m");
        assert_normal("join.token-ttl", "60s", "1m");
        assert_normal("join.token-ttl", "1.5h", "1h30m");
        assert_normal("join.token-ttl", "7d", "7d");
        assert_normal("join.token-ttl", "2h 30m", "2h30m");

        const char *msg = "setting 'join.token-ttl' must be a duration between 1m and 7d (e.g. '90s', '2h'), got '%s'";
        static const char *const bad[] = {
                "59s", "7d1s", "8d", "0", "", "soon", "-1h", "1m30", "99999999999999999999d"
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *want = xasprintf(msg, bad[i]);
                assert_refused("join.token-ttl", bad[i], want);
        }
}

static void test_normalize_boolean_and_enum(void **state) {
        static const char *const yes[] = { "yes", "true", "on", "1", "Y", "TRUE" };
        static const char *const no[] = { "no", "false", "off", "0", "N", "False" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(setting_normalize(&bool_def, bool_def.key, yes[i], &out, NULL), 0);
                assert_string_equal(out, "true");
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                _cleanup_free_ char *out = NULL;
                assert_int_equal(setting_normalize(&bool_def, bool_def.key, no[i], &out, NULL), 0);
                assert_string_equal(out, "false");
        }
        assert_refused_def(&bool_def, "maybe", "setting 'test.flag' must be true or false, got 'maybe'");
        assert_refused_def(&bool_def, "", "setting 'test.flag' must be true or false, got ''");

        _cleanup_free_ char *out = NULL;
        assert_int_equal(setting_normalize(&enum_def, enum_def.key, "fast", &out, NULL), 0);
        assert_string_equal(out, "fast");
        assert_refused_def(&enum_def, "FAST", "setting 'test.mode' does not accept 'FAST'");
        assert_refused_def(&enum_def, "", "setting 'test.mode' does not accept ''");
        assert_refused_def(&enum_def, "fastest", NULL);
}

static char *norm_json(const struct setting_def *d, const char *json, struct err *e) {
        _cleanup_json_ json_object *v = json_tokener_parse(json);
        char *out = NULL;
        if (!streq(json, "null")) /* JSON null is the NULL object */
                assert_non_null(v);
        if (setting_normalize_json(d, d->key, v, &out, e) < 0)
                return NULL;
        return out;
}

static void assert_json_normal(const struct setting_def *d, const char *json, const char *canonical) {
        struct err e = {};
        _cleanup_free_ char *out = norm_json(d, json, &e);
        if (!out)
                fail_msg("%s = %s: %s", d->key, json, e.msg);
        assert_string_equal(out, canonical);
}

static void assert_json_refused(const struct setting_def *d, const char *json, const char *message) {
        struct err e = {};
        char *out = norm_json(d, json, &e);
        assert_null(out);
        assert_int_equal(e.code, -EINVAL);
        if (message)
                assert_string_equal(e.msg, message);
}

static void test_normalize_json(void **state) {
        const struct setting_def *integer = lookup("events.max-entries"), *duration = lookup("join.token-ttl"),
                                 *string = lookup("cluster.description"), *user = lookup("user.x");

        /* Integers: a JSON number or a string in CLI notation */
        assert_json_normal(integer, "5000", "5000");
        assert_json_normal(integer, "\"5000\"", "5000");
        assert_json_refused(integer, "5",
                            "setting 'events.max-entries' must be an integer between 100 and 1000000, got '5'");
        assert_json_refused(integer, "-9223372036854775808", NULL);
        assert_json_refused(integer, "true", NULL);
        assert_json_refused(integer, "500.5", NULL);
        assert_json_refused(integer, "null", NULL);
        assert_json_refused(integer, "[1]", NULL);
        assert_json_refused(integer, "{\"a\":1}", NULL);

        /* Durations: only strings ("a number of what?") */
        assert_json_normal(duration, "\"2h\"", "2h");
        assert_json_refused(duration, "3600", "setting 'join.token-ttl' expects a value of type duration, got int");
        assert_json_refused(duration, "true", NULL);

        /* Strings: strings, and numbers and booleans as their text */
        assert_json_normal(string, "\"hello\"", "hello");
        assert_json_normal(string, "42", "42");
        assert_json_normal(string, "false", "false");
        assert_json_normal(user, "\"x\"", "x");
        assert_json_refused(string, "1.5", "setting 'cluster.description' expects a value of type string, got double");
        assert_json_refused(string, "null", NULL);
        assert_json_refused(string, "{}", NULL);
        assert_json_refused(string, "\"line\\nbreak\"", NULL);

        /* Booleans: true/false, or CLI notation in a string */
        assert_json_normal(&bool_def, "true", "true");
        assert_json_normal(&bool_def, "false", "false");
        assert_json_normal(&bool_def, "\"yes\"", "true");
        assert_json_refused(&bool_def, "1", "setting 'test.flag' expects a value of type boolean, got int");

        /* Enums: strings only */
        assert_json_normal(&enum_def, "\"safe\"", "safe");
        assert_json_refused(&enum_def, "0", NULL);
}

static void test_to_json(void **state) {
        const struct setting_def *integer = lookup("events.max-entries"), *duration = lookup("join.token-ttl"),
                                 *string = lookup("cluster.description");
        json_object *o;

        o = setting_to_json(integer, "5000");
        assert_true(json_object_is_type(o, json_type_int));
        assert_int_equal(json_object_get_int64(o), 5000);
        json_object_put(o);

        o = setting_to_json(&bool_def, "true");
        assert_true(json_object_is_type(o, json_type_boolean));
        assert_true(json_object_get_boolean(o));
        json_object_put(o);
        o = setting_to_json(&bool_def, "false");
        assert_false(json_object_get_boolean(o));
        json_object_put(o);

        o = setting_to_json(duration, "1h30m");
        assert_true(json_object_is_type(o, json_type_string));
        assert_string_equal(json_object_get_string(o), "1h30m");
        json_object_put(o);

        o = setting_to_json(string, "");
        assert_true(json_object_is_type(o, json_type_string));
        assert_string_equal(json_object_get_string(o), "");
        json_object_put(o);

        o = setting_to_json(&enum_def, "fast");
        assert_string_equal(json_object_get_string(o), "fast");
        json_object_put(o);

        assert_null(setting_to_json(integer, NULL));

        /* What the API shows can be sent back and means the same. */
        const struct setting_def *defs[] = { integer, duration, string, &bool_def, &enum_def };
        const char *values[] = { "250", "2h", "text", "true", "safe" };
        for (size_t i = 0; i < ELEMENTSOF(defs); i++) {
                _cleanup_json_ json_object *v = setting_to_json(defs[i], values[i]);
                _cleanup_free_ char *back = NULL;
                assert_int_equal(setting_normalize_json(defs[i], defs[i]->key, v, &back, NULL), 0);
                assert_string_equal(back, values[i]);
        }
}

static void test_setting_int(void **state) {
        const struct setting_def *integer = lookup("events.max-entries"), *duration = lookup("join.token-ttl"),
                                 *string = lookup("cluster.description");

        assert_int_equal(setting_int(integer, "5000", -1), 5000);
        assert_int_equal(setting_int(integer, "junk", -1), -1);
        assert_true(setting_int(duration, "1h30m", -1) == (int64_t)(90 * USEC_PER_MINUTE));
        assert_true(setting_int(duration, "1h", -1) == (int64_t)USEC_PER_HOUR);
        assert_int_equal(setting_int(duration, "junk", -7), -7);
        assert_int_equal(setting_int(&bool_def, "true", -1), 1);
        assert_int_equal(setting_int(&bool_def, "false", -1), 0);
        assert_int_equal(setting_int(&bool_def, "junk", -1), -1);
        assert_int_equal(setting_int(string, "5000", -3), -3);
        assert_int_equal(setting_int(&enum_def, "fast", -4), -4);

        /* Every default has an integer view where the type has one. */
        assert_int_equal(setting_int(integer, integer->default_value, -1), 10000);
        assert_true(setting_int(duration, duration->default_value, -1) == (int64_t)USEC_PER_HOUR);
}

static void test_type_names(void **state) {
        assert_string_equal(setting_type_to_string(SETTING_STRING), "string");
        assert_string_equal(setting_type_to_string(SETTING_INTEGER), "integer");
        assert_string_equal(setting_type_to_string(SETTING_BOOLEAN), "boolean");
        assert_string_equal(setting_type_to_string(SETTING_DURATION), "duration");
        assert_string_equal(setting_type_to_string(SETTING_ENUM), "enum");
        assert_string_equal(setting_type_to_string((enum setting_type)99), "unknown");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_lookup_known),
                cmocka_unit_test(test_lookup_user_keys),
                cmocka_unit_test(test_lookup_unknown_lists_known),
                cmocka_unit_test(test_registry),
                cmocka_unit_test(test_normalize_string),
                cmocka_unit_test(test_normalize_integer),
                cmocka_unit_test(test_normalize_duration),
                cmocka_unit_test(test_normalize_boolean_and_enum),
                cmocka_unit_test(test_normalize_json),
                cmocka_unit_test(test_to_json),
                cmocka_unit_test(test_setting_int),
                cmocka_unit_test(test_type_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
