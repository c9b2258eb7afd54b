/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-request.c: REST request bodies and query strings. The first byte
 * of the input selects the decoder (modulo the number of decoders, see
 * `enum target`), the rest is the body. Accepted requests must hold what
 * the decoders promise (valid names and addresses, ids and limits in
 * range); refused ones must come with a message; nothing may leak.
 *
 * Corpus files are named after their decoder (tests/fuzz/corpus/fuzz-request/
 * "node-add-*" starts with byte 1, and so on).
 */
#include "clusterd/request-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum target {
        T_SETTING_PUT,      /* 0 */
        T_NODE_ADD,         /* 1 */
        T_JOIN_TOKEN,       /* 2 */
        T_TOKEN_CREATE,     /* 3 */
        T_JOIN,             /* 4 */
        T_CLUSTER_CREATE,   /* 5 */
        T_JOIN_BUNDLE,      /* 6 */
        T_EVENTS_QUERY,     /* 7: since, limit, kind separated by '\n'; "-" = absent */
        T_JOIN_TOKEN_PARSE, /* 8 */
        T_API_TOKEN_PARSE,  /* 9 */
        T_ADDRESS,          /* 10: address_is_valid and uuid_is_valid */
        _T_MAX,
};

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-request: %s\n", what);
                abort();
        }
}

static void check_refusal(int r, const struct err *e) {
        check(r < 0 && e->code == r && e->msg[0], "refused without a message");
}

static bool lower_alnum(const char *s) {
        for (; *s; s++)
                if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
                        return false;
        return true;
}

static void fuzz_join_bundle(const char *body, size_t size) {
        struct join_bundle b = {}, again = {};
        struct err e = {};
        int r = request_join_bundle(body, size, &b, &e);
        if (r < 0) {
                check_refusal(r, &e);
                return;
        }
        check(name_is_valid(b.cluster_name) && name_is_valid(b.node_name), "bundle: invalid name");
        check(uuid_is_valid(b.cluster_uuid), "bundle: invalid uuid");
        check(address_is_valid(b.node_address), "bundle: invalid address");
        check(b.nodeid > 0, "bundle: node id 0");
        check(b.authkey_size >= 64 && b.authkey_size <= 4096, "bundle: authkey size");

        /* What we decoded, encoded again, decodes to the same. */
        json_object *o = join_bundle_to_json(&b);
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
        r = request_join_bundle(text, strlen(text), &again, &e);
        check(r >= 0, "bundle: round trip refused");
        check(streq(b.cluster_name, again.cluster_name) && streq(b.cluster_uuid, again.cluster_uuid) &&
                      streq(b.node_name, again.node_name) && streq(b.node_address, again.node_address) &&
                      b.nodeid == again.nodeid && streq(b.corosync_conf, again.corosync_conf) &&
                      b.authkey_size == again.authkey_size && memcmp(b.authkey, again.authkey, b.authkey_size) == 0 &&
                      streq(b.ca_cert, again.ca_cert) && streq(b.ca_key, again.ca_key),
              "bundle: round trip differs");
        json_object_put(o);
        join_bundle_done(&again);
        join_bundle_done(&b);
}

static void fuzz_cluster_create(const char *body, size_t size) {
        struct cluster_create cc = {};
        struct err e = {};
        int r = request_cluster_create(body, size, &cc, &e);
        if (r < 0) {
                check_refusal(r, &e);
                return;
        }
        check(name_is_valid(cc.name), "cluster: invalid name");
        check(cc.n_nodes >= 1 && cc.n_nodes <= REQUEST_MAX_NODES, "cluster: node count");
        check(cc.token_ms >= 200 && cc.token_ms <= 60000, "cluster: token");
        check(cc.join_ttl_usec >= USEC_PER_MINUTE && cc.join_ttl_usec <= 7 * USEC_PER_DAY, "cluster: ttl");
        bool local_found = !cc.local;
        for (size_t i = 0; i < cc.n_nodes; i++) {
                check(cc.nodes[i].nodeid == i + 1, "cluster: node ids");
                check(name_is_valid(cc.nodes[i].name), "cluster: node name");
                check(address_is_valid(cc.nodes[i].address), "cluster: node address");
                for (size_t j = 0; j < i; j++)
                        check(!streq(cc.nodes[i].name, cc.nodes[j].name) &&
                                      !streq(cc.nodes[i].address, cc.nodes[j].address),
                              "cluster: duplicate node");
                if (cc.local && streq(cc.local, cc.nodes[i].name))
                        local_found = true;
        }
        check(local_found, "cluster: local not listed");
        cluster_create_done(&cc);
}

/* The next '\n'-separated field of *p (NUL-terminated in place); "-" is NULL. */
static char *field(char **p) {
        char *s = *p, *nl;
        if (!s)
                return NULL;
        nl = strchr(s, '\n');
        if (nl) {
                *nl = '\0';
                *p = nl + 1;
        } else
                *p = NULL;
        return streq(s, "-") ? NULL : s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct err e = {};
        int r;

        if (size == 0)
                return 0;
        enum target t = (enum target)(data[0] % _T_MAX);
        /* The body without a terminating NUL, as the HTTP server hands it
         * over; and a NUL-terminated copy for the string functions. */
        const char *body = (const char *)data + 1;
        size_t n = size - 1;
        char *copy = xstrndup(body, n);

        switch (t) {
        case T_SETTING_PUT: {
                json_object *v = NULL;
                r = request_setting_put(body, n, &v, &e);
                if (r >= 0)
                        json_object_put(v);
                else
                        check_refusal(r, &e);
                break;
        }
        case T_NODE_ADD: {
                struct node_add_req req = {};
                r = request_node_add(body, n, &req, &e);
                if (r >= 0) {
                        check(name_is_valid(req.name) && address_is_valid(req.address), "node add: invalid values");
                        check(req.join_ttl_usec == 0 ||
                                      (req.join_ttl_usec >= USEC_PER_MINUTE && req.join_ttl_usec <= 7 * USEC_PER_DAY),
                              "node add: ttl");
                        node_add_req_done(&req);
                } else
                        check_refusal(r, &e);
                break;
        }
        case T_JOIN_TOKEN: {
                uint64_t ttl;
                r = request_join_token(body, n, &ttl, &e);
                if (r >= 0)
                        check(ttl == 0 || (ttl >= USEC_PER_MINUTE && ttl <= 7 * USEC_PER_DAY), "join token: ttl");
                else
                        check_refusal(r, &e);
                break;
        }
        case T_TOKEN_CREATE: {
                char *name = NULL;
                r = request_token_create(body, n, &name, &e);
                if (r >= 0) {
                        check(name_is_valid(name), "token create: invalid name");
                        free(name);
                } else
                        check_refusal(r, &e);
                break;
        }
        case T_JOIN: {
                char *token = NULL, *node = NULL;
                r = request_join(body, n, &token, &node, &e);
                if (r >= 0) {
                        check(strlen(token) <= 256, "join: token too long");
                        check(!node || name_is_valid(node), "join: invalid node");
                        free(token);
                        free(node);
                } else
                        check_refusal(r, &e);
                break;
        }
        case T_CLUSTER_CREATE:
                fuzz_cluster_create(body, n);
                break;
        case T_JOIN_BUNDLE:
                fuzz_join_bundle(body, n);
                break;
        case T_EVENTS_QUERY: {
                struct events_query q = {};
                char *p = copy, *since = field(&p), *limit = field(&p), *kind = field(&p);
                r = request_events_query(since, limit, kind, &q, &e);
                if (r >= 0) {
                        check(q.limit >= 1 && q.limit <= 1000 && q.since <= INT64_MAX, "events: range");
                        check(!q.kind || strlen(q.kind) <= 64, "events: kind");
                        events_query_done(&q);
                } else
                        check_refusal(r, &e);
                break;
        }
        case T_JOIN_TOKEN_PARSE: {
                char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
                if (join_token_parse(copy, id, secret) >= 0)
                        check(strlen(id) == TOKEN_ID_LEN && strlen(secret) == TOKEN_SECRET_LEN && lower_alnum(id) &&
                                      lower_alnum(secret),
                              "join token parse");
                break;
        }
        case T_API_TOKEN_PARSE: {
                char name[64], secret[API_SECRET_LEN + 1];
                if (api_token_parse(copy, name, secret) >= 0)
                        check(name_is_valid(name) && strlen(secret) == API_SECRET_LEN && lower_alnum(secret),
                              "api token parse");
                break;
        }
        case T_ADDRESS:
                if (address_is_valid(copy))
                        check(strlen(copy) >= 1 && strlen(copy) <= 253 && !strpbrk(copy, " \t\n/{}#"), "address");
                if (uuid_is_valid(copy))
                        check(strlen(copy) == 36, "uuid");
                break;
        case _T_MAX:
                break;
        }
        free(copy);
        return 0;
}
