/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-request.c: REST request bodies and query strings as a client sends
 * them. Good requests come out as the values they say; bad ones are
 * refused with a message that names the field and the value, so that the
 * client can fix the request without reading our source.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/request-int.h"

#define UUID "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"

/* Body helpers: string literals without their NUL. */
#define B(s) (s), strlen(s)

static void assert_msg(const struct err *e, const char *want) {
        if (!streq(e->msg, want))
                fail_msg("message\n  got:  %s\n  want: %s", e->msg, want);
}

static void assert_msg_has(const struct err *e, const char *part) {
        if (!strstr(e->msg, part))
                fail_msg("message '%s' does not contain '%s'", e->msg, part);
}

/* ------------------------------------------------------------------------ */
/* Common body checks (all decoders share them)                              */

static void test_bodies_not_objects(void **state) {
        static const char *const bad[] = { "",  "[]",          "\"x\"", "42",         "null",
                                           "{", "{\"name\":}", "{} {}", "{\"a\":1,}", "nul" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                struct err e = {};
                char *name = NULL;
                assert_int_equal(request_token_create(B(bad[i]), &name, &e), -EINVAL);
                assert_null(name);
                assert_true(e.msg[0] != '\0');
        }
        struct err e = {};
        char *name = NULL;
        assert_int_equal(request_token_create(B("[1]"), &name, &e), -EINVAL);
        assert_msg(&e, "expected a JSON object, got array");
        err_clear(&e);
        assert_int_equal(request_token_create("", 0, &name, &e), -EINVAL);
        assert_msg(&e, "empty body, expected a JSON object");
        err_clear(&e);
        assert_int_equal(request_token_create("{\"name\":\"a\"}\0", 13, &name, &e), -EINVAL);
        assert_msg(&e, "body contains a NUL byte");
        err_clear(&e);
        assert_int_equal(request_token_create(B("{\"name\":\"a\"} x"), &name, &e), -EINVAL);
        assert_msg(&e, "invalid JSON at offset 13: unexpected character");

        /* Whitespace around the object is fine; the body need not be
         * NUL-terminated. */
        static const char body[] = " {\"name\": \"ops\"}\r\n?garbage past the end";
        assert_int_equal(request_token_create(body, 18, &name, &e), 0);
        assert_string_equal(name, "ops");
        free(name);
}

/* ------------------------------------------------------------------------ */
/* PUT /v1/settings/KEY                                                      */

static void test_setting_put(void **state) {
        json_object *v = NULL;
        struct err e = {};

        assert_int_equal(request_setting_put(B("{\"value\": 5000}"), &v, &e), 0);
        assert_true(json_object_is_type(v, json_type_int));
        assert_int_equal(json_object_get_int64(v), 5000);
        json_object_put(v);

        assert_int_equal(request_setting_put(B("{\"value\": \"90s\"}"), &v, &e), 0);
        assert_string_equal(json_object_get_string(v), "90s");
        json_object_put(v);

        assert_int_equal(request_setting_put(B("{\"value\": false}"), &v, &e), 0);
        assert_true(json_object_is_type(v, json_type_boolean));
        json_object_put(v);

        /* Any JSON type is passed on; the setting's type decides later. */
        assert_int_equal(request_setting_put(B("{\"value\": [1]}"), &v, &e), 0);
        assert_true(json_object_is_type(v, json_type_array));
        json_object_put(v);

        v = NULL;
        assert_int_equal(request_setting_put(B("{}"), &v, &e), -EINVAL);
        assert_msg(&e, "field 'value' is required");
        err_clear(&e);
        assert_int_equal(request_setting_put(B("{\"value\": null}"), &v, &e), -EINVAL);
        assert_msg(&e, "field 'value' is required");
        err_clear(&e);
        assert_int_equal(request_setting_put(B("{\"value\": 1, \"key\": \"x\"}"), &v, &e), -EINVAL);
        assert_msg(&e, "unknown field 'key'");
        assert_null(v);
}

/* ------------------------------------------------------------------------ */
/* POST /v1/nodes                                                            */

static void test_node_add(void **state) {
        struct node_add_req r = {};
        struct err e = {};

        assert_int_equal(request_node_add(B("{\"name\": \"n4\", \"address\": \"198.18.0.4\"}"), &r, &e), 0);
        assert_string_equal(r.name, "n4");
        assert_string_equal(r.address, "198.18.0.4");
        assert_int_equal(r.nodeid, 0);
        assert_true(r.join_ttl_usec == 0);
        node_add_req_done(&r);
        assert_null(r.name);

        assert_int_equal(request_node_add(B("{\"name\": \"db-01\", \"address\": \"fd00::4\", \"id\": 4294967295,"
                                            " \"join_token_ttl\": \"2h\"}"),
                                          &r, &e),
                         0);
        assert_int_equal(r.nodeid, UINT32_MAX);
        assert_true(r.join_ttl_usec == 2 * USEC_PER_HOUR);
        assert_string_equal(r.address, "fd00::4");
        node_add_req_done(&r);

        assert_int_equal(request_node_add(B("{\"name\": \"n5\", \"address\": \"n5.example.org\", \"id\": 1}"), &r, &e),
                         0);
        assert_int_equal(r.nodeid, 1);
        node_add_req_done(&r);
}

struct refusal {
        const char *body;
        const char *message; /* exact; NULL: only that it fails */
};

static void test_node_add_refusals(void **state) {
        static const struct refusal cases[] = {
                { "{\"address\": \"198.18.0.4\"}", "field 'name' is required" },
                { "{\"name\": \"n4\"}", "field 'address' is required" },
                { "{\"name\": 4, \"address\": \"198.18.0.4\"}", "field 'name': expected a string, got int" },
                { "{\"name\": \"n4\", \"address\": [\"198.18.0.4\"]}",
                  "field 'address': expected a string, got array" },
                { "{\"name\": \"-n4\", \"address\": \"198.18.0.4\"}",
                  "field 'name': '-n4' is not a valid name (1-63 letters, digits, '-' or '_', starting with a letter "
                  "or digit)" },
                { "{\"name\": \"n 4\", \"address\": \"198.18.0.4\"}", NULL },
                { "{\"name\": \"\", \"address\": \"198.18.0.4\"}", NULL },
                { "{\"name\": \"n4\", \"address\": \"300.1.1.1\"}",
                  "field 'address': '300.1.1.1' is not an IP address or host name" },
                { "{\"name\": \"n4\", \"address\": \"\"}", "field 'address': '' is not an IP address or host name" },
                { "{\"name\": \"n4\", \"address\": \"a b\"}", NULL },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": 0}",
                  "field 'id' must be between 1 and 4294967295, got 0" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": -1}",
                  "field 'id' must be between 1 and 4294967295, got -1" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": 4294967296}",
                  "field 'id' must be between 1 and 4294967295, got 4294967296" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": null}", NULL },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": \"4\"}",
                  "field 'id': expected an integer, got string" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": 4.5}",
                  "field 'id': expected an integer, got double" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"id\": 99999999999999999999}", NULL },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"join_token_ttl\": \"30s\"}",
                  "field 'join_token_ttl' must be a duration between 1m and 7d (e.g. \"1h\"), got '30s'" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"join_token_ttl\": \"8d\"}", NULL },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"join_token_ttl\": \"soon\"}", NULL },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"join_token_ttl\": 3600}",
                  "field 'join_token_ttl': expected a string, got int" },
                { "{\"name\": \"n4\", \"address\": \"198.18.0.4\", \"nodeid\": 4}", "unknown field 'nodeid'" },
                { "{\"name\": \"n\\u00004\", \"address\": \"198.18.0.4\"}",
                  "field 'name': string contains a NUL character" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct node_add_req r = { .nodeid = 77 };
                struct err e = {};
                int ret = request_node_add(B(cases[i].body), &r, &e);
                if (ret >= 0)
                        fail_msg("accepted: %s", cases[i].body);
                assert_true(ret == -EINVAL || ret == -ERANGE);
                assert_true(e.msg[0] != '\0');
                if (cases[i].message)
                        assert_msg(&e, cases[i].message);
                /* Nothing is handed out on failure. */
                assert_null(r.name);
                assert_int_equal(r.nodeid, 77);
        }
}

/* ------------------------------------------------------------------------ */
/* Join tokens and API tokens                                                */

static void test_join_token_request(void **state) {
        uint64_t ttl = 99;
        struct err e = {};

        /* An empty body means the default. */
        assert_int_equal(request_join_token(NULL, 0, &ttl, &e), 0);
        assert_true(ttl == 0);
        ttl = 99;
        assert_int_equal(request_join_token(B("{}"), &ttl, &e), 0);
        assert_true(ttl == 0);
        assert_int_equal(request_join_token(B("{\"join_token_ttl\": \"1m\"}"), &ttl, &e), 0);
        assert_true(ttl == USEC_PER_MINUTE);
        assert_int_equal(request_join_token(B("{\"join_token_ttl\": \"7d\"}"), &ttl, &e), 0);
        assert_true(ttl == 7 * USEC_PER_DAY);

        ttl = 99;
        assert_int_equal(request_join_token(B("{\"join_token_ttl\": \"7d1s\"}"), &ttl, &e), -EINVAL);
        assert_msg(&e, "field 'join_token_ttl' must be a duration between 1m and 7d (e.g. \"1h\"), got '7d1s'");
        err_clear(&e);
        assert_int_equal(request_join_token(B("{\"ttl\": \"1h\"}"), &ttl, &e), -EINVAL);
        assert_msg(&e, "unknown field 'ttl'");
        assert_int_equal(request_join_token(B(" "), &ttl, NULL), -EINVAL);
        assert_true(ttl == 99);
}

static void test_token_create(void **state) {
        char *name = NULL;
        struct err e = {};

        assert_int_equal(request_token_create(B("{\"name\": \"automation\"}"), &name, &e), 0);
        assert_string_equal(name, "automation");
        free_and_null(name);

        assert_int_equal(request_token_create(B("{}"), &name, &e), -EINVAL);
        assert_msg(&e, "field 'name' is required");
        err_clear(&e);
        assert_int_equal(request_token_create(B("{\"name\": \"a.b\"}"), &name, &e), -EINVAL);
        assert_msg_has(&e, "field 'name': 'a.b' is not a valid name");
        err_clear(&e);
        assert_int_equal(request_token_create(B("{\"name\": true}"), &name, &e), -EINVAL);
        assert_msg(&e, "field 'name': expected a string, got boolean");
        err_clear(&e);
        assert_int_equal(request_token_create(B("{\"name\": \"a\", \"secret\": \"x\"}"), &name, &e), -EINVAL);
        assert_msg(&e, "unknown field 'secret'");

        /* 63 characters: the longest name */
        char body[128];
        snprintf(body, sizeof(body), "{\"name\": \"%063d\"}", 7);
        assert_int_equal(request_token_create(B(body), &name, &e), 0);
        assert_int_equal(strlen(name), 63);
        free_and_null(name);
        snprintf(body, sizeof(body), "{\"name\": \"%064d\"}", 7);
        assert_int_equal(request_token_create(B(body), &name, &e), -EINVAL);
        assert_null(name);
}

static void test_join_request(void **state) {
        char *token = NULL, *node = NULL;
        struct err e = {};

        assert_int_equal(
                request_join(B("{\"token\": \"k3x9qa.7hd82mz0qp4lw1ns\", \"node\": \"n2\"}"), &token, &node, &e), 0);
        assert_string_equal(token, "k3x9qa.7hd82mz0qp4lw1ns");
        assert_string_equal(node, "n2");
        free_and_null(token);
        free_and_null(node);

        /* The node name is optional; the token is passed on unparsed. */
        assert_int_equal(request_join(B("{\"token\": \"whatever\"}"), &token, &node, &e), 0);
        assert_string_equal(token, "whatever");
        assert_null(node);
        free_and_null(token);

        assert_int_equal(request_join(B("{\"node\": \"n2\"}"), &token, &node, &e), -EINVAL);
        assert_msg(&e, "field 'token' is required");
        err_clear(&e);
        assert_int_equal(request_join(B("{\"token\": \"a\", \"node\": \"n 2\"}"), &token, &node, &e), -EINVAL);
        assert_msg_has(&e, "field 'node': 'n 2' is not a valid name");
        err_clear(&e);
        assert_int_equal(request_join(B("{\"token\": 5}"), &token, &node, &e), -EINVAL);
        assert_msg(&e, "field 'token': expected a string, got int");

        /* 256 characters are accepted, 257 not. */
        _cleanup_free_ char *t256 = xmalloc(257), *body = NULL;
        memset(t256, 'a', 256);
        t256[256] = '\0';
        body = xasprintf("{\"token\": \"%s\"}", t256);
        assert_int_equal(request_join(B(body), &token, &node, &e), 0);
        free_and_null(token);
        free(body);
        body = xasprintf("{\"token\": \"%sa\"}", t256);
        err_clear(&e);
        assert_int_equal(request_join(B(body), &token, &node, &e), -EINVAL);
        assert_msg(&e, "field 'token' is too long");
        assert_null(token);
        assert_null(node);
}

static void test_join_token_parse(void **state) {
        char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];

        assert_int_equal(join_token_parse("k3x9qa.7hd82mz0qp4lw1ns", id, secret), 0);
        assert_string_equal(id, "k3x9qa");
        assert_string_equal(secret, "7hd82mz0qp4lw1ns");
        assert_int_equal(join_token_parse("000000.0000000000000000", id, secret), 0);

        static const char *const bad[] = {
                "",
                ".",
                "k3x9qa7hd82mz0qp4lw1ns",   /* no dot */
                "k3x9q.7hd82mz0qp4lw1ns",   /* id 5 */
                "k3x9qaa.7hd82mz0qp4lw1ns", /* id 7 */
                "k3x9qa.7hd82mz0qp4lw1n",   /* secret 15 */
                "k3x9qa.7hd82mz0qp4lw1nss", /* secret 17 */
                "K3X9QA.7hd82mz0qp4lw1ns",  /* upper case */
                "k3x9qa.7HD82MZ0QP4LW1NS",
                "k3x9q-.7hd82mz0qp4lw1ns",
                "k3x9qa.7hd82mz0qp4lw1n.", /* second dot */
                "k3x9qa..hd82mz0qp4lw1ns",
                " k3x9q.7hd82mz0qp4lw1ns",
                "k3x9qa.7hd82mz0qp4lw1n\n",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (join_token_parse(bad[i], id, secret) != -EINVAL)
                        fail_msg("join token '%s' accepted", bad[i]);
}

static void test_api_token_parse(void **state) {
        char name[64], secret[API_SECRET_LEN + 1];
        const char *s32 = "0123456789abcdefghijklmnopqrstuv";

        _cleanup_free_ char *t = xasprintf("automation.%s", s32);
        assert_int_equal(api_token_parse(t, name, secret), 0);
        assert_string_equal(name, "automation");
        assert_string_equal(secret, s32);

        /* The longest name */
        char n63[64];
        memset(n63, 'n', 63);
        n63[63] = '\0';
        _cleanup_free_ char *t63 = xasprintf("%s.%s", n63, s32);
        assert_int_equal(api_token_parse(t63, name, secret), 0);
        assert_string_equal(name, n63);

        _cleanup_free_ char *t64 = xasprintf("%sn.%s", n63, s32), *empty = xasprintf(".%s", s32),
                            *dotted = xasprintf("my.token.%s", s32), *upper = xasprintf("ops.%.31sX", s32),
                            *short_secret = xasprintf("ops.%.31s", s32), *long_secret = xasprintf("ops.%sa", s32),
                            *bad_name = xasprintf("-ops.%s", s32), *space = xasprintf("o s.%s", s32);
        const char *bad[] = { t64, empty, dotted, upper, short_secret, long_secret, bad_name, space, "", "ops", s32 };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (api_token_parse(bad[i], name, secret) != -EINVAL)
                        fail_msg("API token '%s' accepted", bad[i]);
}

/* ------------------------------------------------------------------------ */
/* Addresses and uuids                                                       */

static void test_address_is_valid(void **state) {
        static const char *const good[] = {
                "198.18.0.1",
                "0.0.0.0",
                "255.255.255.255",
                "fd00::1",
                "::1",
                "::",
                "2001:db8:0:0:1:0:0:1",
                "::ffff:198.18.0.1",
                "node1",
                "n1.example.org",
                "a-b.c-d",
                "x",
                "1e100",
                "xn--bcher-kva.example",
                "NODE1",
        };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!address_is_valid(good[i]))
                        fail_msg("'%s' refused", good[i]);

        static const char *const bad[] = {
                "",          "300.1.1.1",  "1.2.3",  "1.2.3.4.5", "198.18.0.1/24", "fe80::1%eth0",
                "[fd00::1]", "fd00::1::2", "-node",  "node-",     "a..b",          ".a",
                "a.",        "a b",        "a_b",    "n1:80",     "ünï",           "a\n",
                "http://a",  "*.example",  "a.-b.c", "a.b-.c",    "198.18.0.1 ",   " 198.18.0.1",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (address_is_valid(bad[i]))
                        fail_msg("'%s' accepted", bad[i]);
        assert_false(address_is_valid(NULL));

        /* Lengths: labels of 63, names of 253 */
        char buf[300];
        memset(buf, 'a', 63);
        buf[63] = '\0';
        assert_true(address_is_valid(buf));
        buf[63] = 'a';
        buf[64] = '\0';
        assert_false(address_is_valid(buf));
        /* 4 labels of 63 plus 3 dots = 255: too long; trim to 253. */
        for (size_t i = 0; i < 4; i++) {
                memset(buf + i * 64, 'b', 63);
                buf[i * 64 + 63] = '.';
        }
        buf[255] = '\0';
        assert_false(address_is_valid(buf));
        buf[253] = '\0';
        assert_true(address_is_valid(buf));
        buf[253] = 'b';
        buf[254] = '\0'; /* 254 */
        assert_false(address_is_valid(buf));
}

static void test_uuid(void **state) {
        char seen[20][37];
        for (size_t i = 0; i < ELEMENTSOF(seen); i++) {
                assert_int_equal(uuid_generate_text(seen[i]), 0);
                assert_int_equal(strlen(seen[i]), 36);
                assert_true(uuid_is_valid(seen[i]));
                assert_int_equal(seen[i][14], '4'); /* version 4 */
                assert_non_null(strchr("89ab", seen[i][19]));
                for (size_t j = 0; j < 36; j++)
                        assert_true(seen[i][j] == '-' || (seen[i][j] >= '0' && seen[i][j] <= '9') ||
                                    (seen[i][j] >= 'a' && seen[i][j] <= 'f'));
                for (size_t j = 0; j < i; j++)
                        assert_string_not_equal(seen[i], seen[j]);
        }

        assert_true(uuid_is_valid(UUID));
        assert_true(uuid_is_valid("6F1C2A3B-4D5E-4F60-8172-93A4B5C6D7E8"));
        assert_true(uuid_is_valid("00000000-0000-0000-0000-000000000000"));
        static const char *const bad[] = {
                "",
                "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e",   /* 35 */
                "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e80", /* 37 */
                "6f1c2a3b4d5e-4f60-8172-93a4b5c6d7e8a",  /* dash moved */
                "6f1c2a3b-4d5e-4f60-8172_93a4b5c6d7e8",
                "6f1c2a3g-4d5e-4f60-8172-93a4b5c6d7e8",
                "{6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e}",
                "6f1c2a3b 4d5e 4f60 8172 93a4b5c6d7e8",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (uuid_is_valid(bad[i]))
                        fail_msg("uuid '%s' accepted", bad[i]);
        assert_false(uuid_is_valid(NULL));
}

/* ------------------------------------------------------------------------ */
/* POST /v1/cluster                                                          */

static char *nodes_json(size_t n) {
        char *s = xstrdup("[");
        for (size_t i = 0; i < n; i++) {
                char *t = xasprintf("%s%s{\"name\": \"n%zu\", \"address\": \"198.18.%zu.%zu\"}", s, i ? ", " : "",
                                    i + 1, (i + 1) / 256, (i + 1) % 256);
                free(s);
                s = t;
        }
        char *t = xasprintf("%s]", s);
        free(s);
        return t;
}

static void test_cluster_create(void **state) {
        struct cluster_create cc = {};
        struct err e = {};

        static const char body[] = "{\"name\": \"lab\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"},"
                                   " {\"name\": \"n2\", \"address\": \"n2.example.org\"},"
                                   " {\"name\": \"n3\", \"address\": \"fd00::3\"}]}";
        assert_int_equal(request_cluster_create(B(body), &cc, &e), 0);
        assert_string_equal(cc.name, "lab");
        assert_int_equal(cc.n_nodes, 3);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(cc.nodes[i].nodeid, i + 1);
        assert_string_equal(cc.nodes[1].name, "n2");
        assert_string_equal(cc.nodes[1].address, "n2.example.org");
        assert_string_equal(cc.nodes[2].address, "fd00::3");
        assert_null(cc.local);
        assert_int_equal(cc.token_ms, 3000);
        assert_true(cc.join_ttl_usec == USEC_PER_HOUR);
        cluster_create_done(&cc);
        assert_null(cc.nodes);

        static const char body2[] = "{\"name\": \"lab\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"},"
                                    " {\"name\": \"n2\", \"address\": \"198.18.0.2\"}], \"local\": \"n2\","
                                    " \"token_timeout_ms\": 1000, \"join_token_ttl\": \"30m\"}";
        assert_int_equal(request_cluster_create(B(body2), &cc, &e), 0);
        assert_string_equal(cc.local, "n2");
        assert_int_equal(cc.token_ms, 1000);
        assert_true(cc.join_ttl_usec == 30 * USEC_PER_MINUTE);
        cluster_create_done(&cc);

        /* Token bounds */
        static const int64_t ok_tokens[] = { 200, 60000 };
        static const int64_t bad_tokens[] = { 199, 60001, 0, -1, 4294967496 };
        for (size_t i = 0; i < ELEMENTSOF(ok_tokens); i++) {
                _cleanup_free_ char *b =
                        xasprintf("{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}], "
                                  "\"token_timeout_ms\": %" PRId64 "}",
                                  ok_tokens[i]);
                assert_int_equal(request_cluster_create(B(b), &cc, &e), 0);
                assert_int_equal(cc.token_ms, ok_tokens[i]);
                cluster_create_done(&cc);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad_tokens); i++) {
                _cleanup_free_ char *b =
                        xasprintf("{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}], "
                                  "\"token_timeout_ms\": %" PRId64 "}",
                                  bad_tokens[i]);
                _cleanup_free_ char *want = xasprintf(
                        "field 'token_timeout_ms' must be between 200 and 60000, got %" PRId64, bad_tokens[i]);
                err_clear(&e);
                assert_int_equal(request_cluster_create(B(b), &cc, &e), -EINVAL);
                assert_msg(&e, want);
                assert_null(cc.name);
        }
}

static void test_cluster_create_node_limits(void **state) {
        struct cluster_create cc = {};
        struct err e = {};

        /* 64 nodes: fine, ids 1..64 */
        _cleanup_free_ char *n64 = nodes_json(64), *n65 = nodes_json(65);
        _cleanup_free_ char *b64 = xasprintf("{\"name\": \"big\", \"nodes\": %s}", n64);
        _cleanup_free_ char *b65 = xasprintf("{\"name\": \"big\", \"nodes\": %s}", n65);
        assert_int_equal(request_cluster_create(B(b64), &cc, &e), 0);
        assert_int_equal(cc.n_nodes, 64);
        assert_int_equal(cc.nodes[63].nodeid, 64);
        assert_string_equal(cc.nodes[63].name, "n64");
        cluster_create_done(&cc);

        assert_int_equal(request_cluster_create(B(b65), &cc, &e), -EINVAL);
        assert_msg(&e, "field 'nodes' must list 1 to 64 nodes, got 65");
        err_clear(&e);
        assert_int_equal(request_cluster_create(B("{\"name\": \"c\", \"nodes\": []}"), &cc, &e), -EINVAL);
        assert_msg(&e, "field 'nodes' must list 1 to 64 nodes, got 0");
}

static void test_cluster_create_refusals(void **state) {
        static const struct refusal cases[] = {
                { "{\"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}]}", "field 'name' is required" },
                { "{\"name\": \"c\"}", "field 'nodes' is required" },
                { "{\"name\": \"c\", \"nodes\": {\"name\": \"n1\"}}", "field 'nodes': expected an array, got object" },
                { "{\"name\": \"c d\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}]}",
                  "field 'name': 'c d' is not a valid name (1-63 letters, digits, '-' or '_', starting with a letter "
                  "or "
                  "digit)" },
                { "{\"name\": \"c\", \"nodes\": [\"n1\"]}", "nodes[0]: expected an object" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}, null]}",
                  "nodes[1]: expected an object" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}, {\"name\": \"n2\"}]}",
                  "nodes[1]: field 'address' is required" },
                { "{\"name\": \"c\", \"nodes\": [{\"address\": \"198.18.0.1\"}]}",
                  "nodes[0]: field 'name' is required" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\", \"id\": 5}]}",
                  "nodes[0]: unknown field 'id'" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"},"
                  " {\"name\": \"n1\", \"address\": \"198.18.0.2\"}]}",
                  "nodes[1]: node name 'n1' is listed twice" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"},"
                  " {\"name\": \"n2\", \"address\": \"198.18.0.2\"}, {\"name\": \"n3\", \"address\": \"198.18.0.1\"}]}",
                  "nodes[2]: address '198.18.0.1' is listed twice" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.999\"}]}",
                  "nodes[0]: field 'address': '198.18.0.999' is not an IP address or host name" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}], \"local\": \"n9\"}",
                  "field 'local': 'n9' is not one of the listed nodes" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}], \"local\": 1}",
                  "field 'local': expected a string, got int" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}],"
                  " \"token_timeout_ms\": \"1000\"}",
                  "field 'token_timeout_ms': expected an integer, got string" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}],"
                  " \"join_token_ttl\": \"59s\"}",
                  "field 'join_token_ttl' must be a duration between 1m and 7d (e.g. \"1h\"), got '59s'" },
                { "{\"name\": \"c\", \"nodes\": [{\"name\": \"n1\", \"address\": \"198.18.0.1\"}], \"uuid\": \"x\"}",
                  "unknown field 'uuid'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct cluster_create cc = {};
                struct err e = {};
                if (request_cluster_create(B(cases[i].body), &cc, &e) >= 0)
                        fail_msg("accepted: %s", cases[i].body);
                if (cases[i].message)
                        assert_msg(&e, cases[i].message);
                assert_null(cc.name);
                assert_null(cc.nodes);
        }
}

/* ------------------------------------------------------------------------ */
/* POST /v1/cluster/join                                                     */

static void bundle_fill(struct join_bundle *b, size_t keysize) {
        *b = (struct join_bundle){
                .cluster_name = xstrdup("lab"),
                .cluster_uuid = xstrdup(UUID),
                .node_name = xstrdup("n2"),
                .node_address = xstrdup("198.18.0.2"),
                .nodeid = 2,
                .corosync_conf = xstrdup("totem {\n    version: 2\n}\n"),
                .authkey = xmalloc(keysize),
                .authkey_size = keysize,
                .ca_cert = xstrdup("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
                .ca_key = xstrdup("-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"),
        };
        for (size_t i = 0; i < keysize; i++)
                ((uint8_t *)b->authkey)[i] = (uint8_t)(i * 31 + 7);
}

static char *bundle_body(const struct join_bundle *b) {
        _cleanup_json_ json_object *o = join_bundle_to_json(b);
        return xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
}

static void test_join_bundle_round_trip(void **state) {
        static const size_t sizes[] = { 64, 128, 4096 };
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                struct join_bundle in, out = {};
                struct err e = {};
                bundle_fill(&in, sizes[i]);
                _cleanup_free_ char *body = bundle_body(&in);
                if (request_join_bundle(B(body), &out, &e) < 0)
                        fail_msg("authkey of %zu bytes: %s", sizes[i], e.msg);
                assert_string_equal(out.cluster_name, in.cluster_name);
                assert_string_equal(out.cluster_uuid, in.cluster_uuid);
                assert_string_equal(out.node_name, in.node_name);
                assert_string_equal(out.node_address, in.node_address);
                assert_int_equal(out.nodeid, in.nodeid);
                assert_string_equal(out.corosync_conf, in.corosync_conf);
                assert_int_equal(out.authkey_size, in.authkey_size);
                assert_memory_equal(out.authkey, in.authkey, in.authkey_size);
                assert_string_equal(out.ca_cert, in.ca_cert);
                assert_string_equal(out.ca_key, in.ca_key);

                /* And back again: the same JSON. */
                _cleanup_free_ char *body2 = bundle_body(&out);
                assert_string_equal(body, body2);
                join_bundle_done(&in);
                join_bundle_done(&out);
                assert_null(out.authkey);
        }
}

/* Builds a bundle body, lets edit change the JSON, and decodes it. */
static int bundle_edited(void (*edit)(json_object *o), struct err *e) {
        struct join_bundle in, out = {};
        bundle_fill(&in, 128);
        _cleanup_json_ json_object *o = join_bundle_to_json(&in);
        join_bundle_done(&in);
        edit(o);
        const char *body = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        int r = request_join_bundle(B(body), &out, e);
        if (r >= 0)
                join_bundle_done(&out);
        else {
                assert_null(out.cluster_name);
                assert_null(out.authkey);
        }
        return r;
}

static json_object *sub(json_object *o, const char *key) {
        json_object *v;
        assert_true(json_object_object_get_ex(o, key, &v));
        return v;
}

static void edit_key_63(json_object *o) {
        uint8_t k[63] = {};
        _cleanup_free_ char *s = base64_encode(k, sizeof(k));
        json_object_object_add(o, "authkey", json_object_new_string(s));
}
static void edit_key_4097(json_object *o) {
        _cleanup_free_ uint8_t *k = xcalloc(1, 4097);
        _cleanup_free_ char *s = base64_encode(k, 4097);
        json_object_object_add(o, "authkey", json_object_new_string(s));
}
static void edit_key_bad_base64(json_object *o) {
        json_object_object_add(o, "authkey", json_object_new_string("not base64!"));
}
static void edit_key_number(json_object *o) {
        json_object_object_add(o, "authkey", json_object_new_int(5));
}
static void edit_no_ca(json_object *o) {
        json_object_object_del(o, "ca");
}
static void edit_ca_not_object(json_object *o) {
        json_object_object_add(o, "ca", json_object_new_string("pem"));
}
static void edit_ca_key_empty(json_object *o) {
        json_object_object_add(sub(o, "ca"), "key", json_object_new_string(""));
}
static void edit_ca_extra(json_object *o) {
        json_object_object_add(sub(o, "ca"), "serial", json_object_new_int(1));
}
static void edit_uuid_bad(json_object *o) {
        json_object_object_add(sub(o, "cluster"), "uuid", json_object_new_string("not-a-uuid"));
}
static void edit_cluster_name_bad(json_object *o) {
        json_object_object_add(sub(o, "cluster"), "name", json_object_new_string("a b"));
}
static void edit_node_id_zero(json_object *o) {
        json_object_object_add(sub(o, "node"), "id", json_object_new_int(0));
}
static void edit_node_id_big(json_object *o) {
        json_object_object_add(sub(o, "node"), "id", json_object_new_int64(INT64_C(4294967296)));
}
static void edit_node_id_missing(json_object *o) {
        json_object_object_del(sub(o, "node"), "id");
}
static void edit_node_address_bad(json_object *o) {
        json_object_object_add(sub(o, "node"), "address", json_object_new_string("a..b"));
}
static void edit_conf_empty(json_object *o) {
        json_object_object_add(o, "corosync_conf", json_object_new_string(""));
}
static void edit_conf_too_long(json_object *o) {
        _cleanup_free_ char *s = xmalloc(64 * 1024 + 2);
        memset(s, 'c', 64 * 1024 + 1);
        s[64 * 1024 + 1] = '\0';
        json_object_object_add(o, "corosync_conf", json_object_new_string(s));
}
static void edit_conf_at_limit(json_object *o) {
        _cleanup_free_ char *s = xmalloc(64 * 1024 + 1);
        memset(s, 'c', 64 * 1024);
        s[64 * 1024] = '\0';
        json_object_object_add(o, "corosync_conf", json_object_new_string(s));
}
static void edit_extra_top(json_object *o) {
        json_object_object_add(o, "token", json_object_new_string("x"));
}

static void test_join_bundle_refusals(void **state) {
        static const struct {
                void (*edit)(json_object *o);
                const char *message;
        } cases[] = {
                { edit_key_63, "field 'authkey' must be base64 of 64 to 4096 bytes" },
                { edit_key_4097, "field 'authkey' must be base64 of 64 to 4096 bytes" },
                { edit_key_bad_base64, "field 'authkey' must be base64 of 64 to 4096 bytes" },
                { edit_key_number, "field 'authkey': expected a string, got int" },
                { edit_no_ca, "field 'ca' is required" },
                { edit_ca_not_object, "field 'ca': expected an object, got string" },
                { edit_ca_key_empty, "ca: field 'key' must be 1 to 65536 bytes" },
                { edit_ca_extra, "ca: unknown field 'serial'" },
                { edit_uuid_bad, "cluster: field 'uuid': 'not-a-uuid' is not a UUID" },
                { edit_cluster_name_bad, NULL },
                { edit_node_id_zero, "node: field 'id' out of range" },
                { edit_node_id_big, "node: field 'id' out of range" },
                { edit_node_id_missing, "node: field 'id' is required" },
                { edit_node_address_bad, "node: field 'address': 'a..b' is not an IP address or host name" },
                { edit_conf_empty, "field 'corosync_conf' must be 1 to 65536 bytes" },
                { edit_conf_too_long, "field 'corosync_conf' must be 1 to 65536 bytes" },
                { edit_extra_top, "unknown field 'token'" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct err e = {};
                int r = bundle_edited(cases[i].edit, &e);
                if (r >= 0)
                        fail_msg("case %zu accepted", i);
                assert_int_equal(r, -EINVAL);
                if (cases[i].message)
                        assert_msg(&e, cases[i].message);
                else
                        assert_true(e.msg[0] != '\0');
        }

        struct err e = {};
        assert_int_equal(bundle_edited(edit_conf_at_limit, &e), 0);
}

/* ------------------------------------------------------------------------ */
/* GET /v1/events                                                            */

static void test_events_query(void **state) {
        struct events_query q = {};
        struct err e = {};

        assert_int_equal(request_events_query(NULL, NULL, NULL, &q, &e), 0);
        assert_true(q.since == 0);
        assert_int_equal(q.limit, 100);
        assert_null(q.kind);
        events_query_done(&q);

        assert_int_equal(request_events_query("42", "1", "node.", &q, &e), 0);
        assert_true(q.since == 42);
        assert_int_equal(q.limit, 1);
        assert_string_equal(q.kind, "node.");
        events_query_done(&q);

        assert_int_equal(request_events_query("9223372036854775807", "1000", "a-b_c.D9", &q, &e), 0);
        assert_true(q.since == INT64_MAX);
        assert_int_equal(q.limit, 1000);
        events_query_done(&q);

        char kind64[65];
        memset(kind64, 'k', 64);
        kind64[64] = '\0';
        assert_int_equal(request_events_query(NULL, NULL, kind64, &q, &e), 0);
        events_query_done(&q);

        static const struct {
                const char *since, *limit, *kind, *message;
        } bad[] = {
                { "-1", NULL, NULL, "query 'since' must be an event id (a non-negative integer), got '-1'" },
                { "abc", NULL, NULL, "query 'since' must be an event id (a non-negative integer), got 'abc'" },
                { "", NULL, NULL, "query 'since' must be an event id (a non-negative integer), got ''" },
                { "9223372036854775808", NULL, NULL, NULL },
                { "99999999999999999999", NULL, NULL, NULL },
                { " 5", NULL, NULL, NULL },
                { NULL, "0", NULL, "query 'limit' must be between 1 and 1000, got '0'" },
                { NULL, "1001", NULL, "query 'limit' must be between 1 and 1000, got '1001'" },
                { NULL, "", NULL, "query 'limit' must be between 1 and 1000, got ''" },
                { NULL, "ten", NULL, NULL },
                { NULL, "+5", NULL, NULL },
                { NULL, NULL, "node%", "query 'kind' may hold letters, digits, '.', '-' and '_', got 'node%'" },
                { NULL, NULL, "a b", NULL },
                { NULL, NULL, "a'b", NULL },
                { NULL, NULL, "ü", NULL },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                q = (struct events_query){ .limit = 5 };
                err_clear(&e);
                assert_int_equal(request_events_query(bad[i].since, bad[i].limit, bad[i].kind, &q, &e), -EINVAL);
                assert_true(e.msg[0] != '\0');
                if (bad[i].message)
                        assert_msg(&e, bad[i].message);
                assert_int_equal(q.limit, 5);
                assert_null(q.kind);
        }

        char kind65[66];
        memset(kind65, 'k', 65);
        kind65[65] = '\0';
        err_clear(&e);
        assert_int_equal(request_events_query(NULL, NULL, kind65, &q, &e), -EINVAL);
        assert_msg(&e, "query 'kind' is too long");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_bodies_not_objects),
                cmocka_unit_test(test_setting_put),
                cmocka_unit_test(test_node_add),
                cmocka_unit_test(test_node_add_refusals),
                cmocka_unit_test(test_join_token_request),
                cmocka_unit_test(test_token_create),
                cmocka_unit_test(test_join_request),
                cmocka_unit_test(test_join_token_parse),
                cmocka_unit_test(test_api_token_parse),
                cmocka_unit_test(test_address_is_valid),
                cmocka_unit_test(test_uuid),
                cmocka_unit_test(test_cluster_create),
                cmocka_unit_test(test_cluster_create_node_limits),
                cmocka_unit_test(test_cluster_create_refusals),
                cmocka_unit_test(test_join_bundle_round_trip),
                cmocka_unit_test(test_join_bundle_refusals),
                cmocka_unit_test(test_events_query),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
