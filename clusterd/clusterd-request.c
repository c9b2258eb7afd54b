/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-request.c: REST request bodies into structs. Unknown fields are
 * refused, every field is type-checked, and messages name the field and
 * the offending value so that a client can fix its request.
 */
#include <arpa/inet.h>
#include <ctype.h>

#include "clusterd/request-int.h"

#define CONF_MAX (64 * 1024)
#define PEM_MAX (64 * 1024)
#define AUTHKEY_MIN 64
#define AUTHKEY_MAX 4096

bool address_is_valid(const char *s) {
        unsigned char buf[sizeof(struct in6_addr)];
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
                return true;
        /* A DNS name: labels of letters, digits and '-', not starting or
         * ending with '-'; not all-numeric (that would be a bad IPv4). */
        bool alpha = false;
        size_t label = 0;
        for (size_t i = 0; i <= n; i++) {
                char ch = s[i];
                if (ch == '.' || ch == '\0') {
                        if (label == 0 || label > 63 || s[i - 1] == '-')
                                return false;
                        label = 0;
                        continue;
                }
                if (!isalnum((unsigned char)ch) && ch != '-')
                        return false;
                if (label == 0 && ch == '-')
                        return false;
                if (isalpha((unsigned char)ch))
                        alpha = true;
                label++;
        }
        return alpha;
}

static int parse_body(const char *body, size_t size, const char *const *allowed, json_object **ret, struct err *e) {
        _cleanup_json_ json_object *o = NULL;
        int r = json_parse_object(body, size, &o, e);
        if (r < 0)
                return r;
        if ((r = json_check_keys(o, allowed, e)) < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_ttl(json_object *o, const char *key, uint64_t *ret, struct err *e) {
        const char *s = NULL;
        uint64_t v;
        int r = json_get_string(o, key, false, &s, e);
        if (r < 0 || !s)
                return r;
        if (parse_duration_usec(s, &v) < 0 || v < USEC_PER_MINUTE || v > 7 * USEC_PER_DAY)
                return err_set(e, -EINVAL, "field '%s' must be a duration between 1m and 7d (e.g. \"1h\"), got '%s'",
                               key, s);
        *ret = v;
        return 0;
}

int request_setting_put(const char *body, size_t size, json_object **ret, struct err *e) {
        static const char *const allowed[] = { "value", NULL };
        _cleanup_json_ json_object *o = NULL;
        json_object *v;
        int r = parse_body(body, size, allowed, &o, e);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "value", &v) || !v)
                return err_set(e, -EINVAL, "field 'value' is required");
        *ret = json_object_get(v);
        return 0;
}

int request_witness_put(const char *body, size_t size, char **ret_witness, struct err *e) {
        static const char *const allowed[] = { "witness", NULL };
        _cleanup_json_ json_object *o = NULL;
        const char *s = NULL;
        int r = parse_body(body, size, allowed, &o, e);
        if (r < 0)
                return r;
        if ((r = json_get_string(o, "witness", true, &s, e)) < 0)
                return r;
        *ret_witness = xstrdup(s);
        return 0;
}

void node_add_req_done(struct node_add_req *r) {
        free(r->name);
        free(r->address);
        *r = (struct node_add_req){};
}

static int get_name(json_object *o, const char *key, bool required, char **ret, struct err *e) {
        const char *s = NULL;
        int r = json_get_string(o, key, required, &s, e);
        if (r < 0 || !s)
                return r;
        if (!name_is_valid(s))
                return err_set(e, -EINVAL,
                               "field '%s': '%s' is not a valid name (1-63 letters, digits, '-' or '_', starting "
                               "with a letter or digit)",
                               key, s);
        *ret = xstrdup(s);
        return 0;
}

static int get_address(json_object *o, const char *key, char **ret, struct err *e) {
        const char *s = NULL;
        int r = json_get_string(o, key, true, &s, e);
        if (r < 0)
                return r;
        if (!address_is_valid(s))
                return err_set(e, -EINVAL, "field '%s': '%s' is not an IP address or host name", key, s);
        *ret = xstrdup(s);
        return 0;
}

int request_node_add(const char *body, size_t size, struct node_add_req *ret, struct err *e) {
        static const char *const allowed[] = { "name", "address", "id", "join_token_ttl", NULL };
        _cleanup_json_ json_object *o = NULL;
        struct node_add_req req = {};
        int64_t id = 0;
        int r;

        if ((r = parse_body(body, size, allowed, &o, e)) < 0)
                return r;
        if ((r = get_name(o, "name", true, &req.name, e)) < 0 || (r = get_address(o, "address", &req.address, e)) < 0 ||
            (r = json_get_int64(o, "id", false, &id, e)) < 0 ||
            (r = get_ttl(o, "join_token_ttl", &req.join_ttl_usec, e)) < 0)
                goto fail;
        if (id < 0 || id > UINT32_MAX || (json_object_object_get_ex(o, "id", NULL) && id == 0)) {
                r = err_set(e, -EINVAL, "field 'id' must be between 1 and %u, got %" PRId64, UINT32_MAX, id);
                goto fail;
        }
        req.nodeid = (uint32_t)id;
        *ret = req;
        return 0;
fail:
        node_add_req_done(&req);
        return r;
}

int request_join_token(const char *body, size_t size, uint64_t *ret_ttl_usec, struct err *e) {
        static const char *const allowed[] = { "join_token_ttl", NULL };
        _cleanup_json_ json_object *o = NULL;
        uint64_t ttl = 0;
        int r;

        if (size == 0) {
                *ret_ttl_usec = 0;
                return 0;
        }
        if ((r = parse_body(body, size, allowed, &o, e)) < 0 || (r = get_ttl(o, "join_token_ttl", &ttl, e)) < 0)
                return r;
        *ret_ttl_usec = ttl;
        return 0;
}

int request_token_create(const char *body, size_t size, char **ret_name, struct err *e) {
        static const char *const allowed[] = { "name", NULL };
        _cleanup_json_ json_object *o = NULL;
        int r;
        if ((r = parse_body(body, size, allowed, &o, e)) < 0)
                return r;
        return get_name(o, "name", true, ret_name, e);
}

int request_join(const char *body, size_t size, char **ret_token, char **ret_node, struct err *e) {
        static const char *const allowed[] = { "token", "node", NULL };
        _cleanup_json_ json_object *o = NULL;
        _cleanup_free_ char *node = NULL;
        const char *token = NULL;
        int r;

        if ((r = parse_body(body, size, allowed, &o, e)) < 0 ||
            (r = json_get_string(o, "token", true, &token, e)) < 0 || (r = get_name(o, "node", false, &node, e)) < 0)
                return r;
        if (strlen(token) > 256)
                return err_set(e, -EINVAL, "field 'token' is too long");
        *ret_token = xstrdup(token);
        *ret_node = TAKE_PTR(node);
        return 0;
}

static bool all_alnum_lower(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i])))
                        return false;
        return true;
}

int join_token_parse(const char *token, char id[TOKEN_ID_LEN + 1], char secret[TOKEN_SECRET_LEN + 1]) {
        const char *dot = strchr(token, '.');
        if (!dot || (size_t)(dot - token) != TOKEN_ID_LEN || strlen(dot + 1) != TOKEN_SECRET_LEN ||
            !all_alnum_lower(token, TOKEN_ID_LEN) || !all_alnum_lower(dot + 1, TOKEN_SECRET_LEN))
                return -EINVAL;
        memcpy(id, token, TOKEN_ID_LEN);
        id[TOKEN_ID_LEN] = '\0';
        memcpy(secret, dot + 1, TOKEN_SECRET_LEN + 1);
        return 0;
}

int api_token_parse(const char *token, char name[64], char secret[API_SECRET_LEN + 1]) {
        const char *dot = strrchr(token, '.');
        if (!dot || (size_t)(dot - token) >= 64 || strlen(dot + 1) != API_SECRET_LEN ||
            !all_alnum_lower(dot + 1, API_SECRET_LEN))
                return -EINVAL;
        memcpy(name, token, (size_t)(dot - token));
        name[dot - token] = '\0';
        if (!name_is_valid(name))
                return -EINVAL;
        memcpy(secret, dot + 1, API_SECRET_LEN + 1);
        return 0;
}

void cluster_create_done(struct cluster_create *cc) {
        free(cc->name);
        free(cc->local);
        db_nodes_free(cc->nodes, cc->n_nodes);
        *cc = (struct cluster_create){};
}

static int decode_nodes(json_object *arr, struct cluster_create *cc, struct err *e) {
        static const char *const allowed[] = { "name", "address", NULL };
        size_t n = json_object_array_length(arr);
        int r;

        if (n == 0 || n > REQUEST_MAX_NODES)
                return err_set(e, -EINVAL, "field 'nodes' must list 1 to %d nodes, got %zu", REQUEST_MAX_NODES, n);
        cc->nodes = xcalloc(n, sizeof(*cc->nodes));
        for (size_t i = 0; i < n; i++) {
                json_object *o = json_object_array_get_idx(arr, i);
                struct db_node *node = &cc->nodes[i];
                if (!json_object_is_type(o, json_type_object))
                        return err_set(e, -EINVAL, "nodes[%zu]: expected an object", i);
                cc->n_nodes++;
                if ((r = json_check_keys(o, allowed, e)) < 0 || (r = get_name(o, "name", true, &node->name, e)) < 0 ||
                    (r = get_address(o, "address", &node->address, e)) < 0)
                        return err_set(e, r, "nodes[%zu]", i);
                node->nodeid = (uint32_t)(i + 1);
                for (size_t j = 0; j < i; j++) {
                        if (streq(cc->nodes[j].name, node->name))
                                return err_set(e, -EINVAL, "nodes[%zu]: node name '%s' is listed twice", i, node->name);
                        if (streq(cc->nodes[j].address, node->address))
                                return err_set(e, -EINVAL, "nodes[%zu]: address '%s' is listed twice", i,
                                               node->address);
                }
        }
        return 0;
}

int request_cluster_create(const char *body, size_t size, struct cluster_create *ret, struct err *e) {
        static const char *const allowed[] = { "name", "nodes", "local", "token_timeout_ms", "join_token_ttl", NULL };
        _cleanup_json_ json_object *o = NULL;
        struct cluster_create cc = { .token_ms = 3000, .join_ttl_usec = USEC_PER_HOUR };
        json_object *arr = NULL;
        int64_t token = 3000;
        int r;

        if ((r = parse_body(body, size, allowed, &o, e)) < 0)
                return r;
        if ((r = get_name(o, "name", true, &cc.name, e)) < 0 || (r = json_get_array(o, "nodes", true, &arr, e)) < 0 ||
            (r = decode_nodes(arr, &cc, e)) < 0 || (r = get_name(o, "local", false, &cc.local, e)) < 0 ||
            (r = json_get_int64(o, "token_timeout_ms", false, &token, e)) < 0 ||
            (r = get_ttl(o, "join_token_ttl", &cc.join_ttl_usec, e)) < 0)
                goto fail;
        if (token < 200 || token > 60000) {
                r = err_set(e, -EINVAL, "field 'token_timeout_ms' must be between 200 and 60000, got %" PRId64, token);
                goto fail;
        }
        cc.token_ms = (uint32_t)token;
        if (cc.local) {
                bool found = false;
                for (size_t i = 0; i < cc.n_nodes; i++)
                        found = found || streq(cc.nodes[i].name, cc.local);
                if (!found) {
                        r = err_set(e, -EINVAL, "field 'local': '%s' is not one of the listed nodes", cc.local);
                        goto fail;
                }
        }
        *ret = cc;
        return 0;
fail:
        cluster_create_done(&cc);
        return r;
}

void join_bundle_done(struct join_bundle *b) {
        free(b->cluster_name);
        free(b->cluster_uuid);
        free(b->node_name);
        free(b->node_address);
        free(b->corosync_conf);
        if (b->authkey) {
                explicit_bzero(b->authkey, b->authkey_size);
                free(b->authkey);
        }
        if (b->ca_key) {
                explicit_bzero(b->ca_key, strlen(b->ca_key));
                free(b->ca_key);
        }
        free(b->ca_cert);
        *b = (struct join_bundle){};
}

static int get_text(json_object *o, const char *key, size_t max, char **ret, struct err *e) {
        const char *s = NULL;
        int r = json_get_string(o, key, true, &s, e);
        if (r < 0)
                return r;
        if (!*s || strlen(s) > max)
                return err_set(e, -EINVAL, "field '%s' must be 1 to %zu bytes", key, max);
        *ret = xstrdup(s);
        return 0;
}

static int decode_bundle_parts(json_object *cluster, json_object *node, json_object *ca, struct join_bundle *b,
                               struct err *e) {
        static const char *const cluster_keys[] = { "name", "uuid", NULL };
        static const char *const node_keys[] = { "name", "id", "address", NULL };
        static const char *const ca_keys[] = { "certificate", "key", NULL };
        const char *uuid = NULL;
        int64_t id = 0;
        int r;

        if ((r = json_check_keys(cluster, cluster_keys, e)) < 0 ||
            (r = get_name(cluster, "name", true, &b->cluster_name, e)) < 0 ||
            (r = json_get_string(cluster, "uuid", true, &uuid, e)) < 0)
                return err_set(e, r, "cluster");
        if (!uuid_is_valid(uuid))
                return err_set(e, -EINVAL, "cluster: field 'uuid': '%s' is not a UUID", uuid);
        b->cluster_uuid = xstrdup(uuid);
        if ((r = json_check_keys(node, node_keys, e)) < 0 || (r = get_name(node, "name", true, &b->node_name, e)) < 0 ||
            (r = get_address(node, "address", &b->node_address, e)) < 0 ||
            (r = json_get_int64(node, "id", true, &id, e)) < 0)
                return err_set(e, r, "node");
        if (id <= 0 || id > UINT32_MAX)
                return err_set(e, -EINVAL, "node: field 'id' out of range");
        b->nodeid = (uint32_t)id;
        if ((r = json_check_keys(ca, ca_keys, e)) < 0 ||
            (r = get_text(ca, "certificate", PEM_MAX, &b->ca_cert, e)) < 0 ||
            (r = get_text(ca, "key", PEM_MAX, &b->ca_key, e)) < 0)
                return err_set(e, r, "ca");
        return 0;
}

int request_join_bundle(const char *body, size_t size, struct join_bundle *ret, struct err *e) {
        static const char *const allowed[] = { "cluster", "node", "corosync_conf", "authkey", "ca", NULL };
        _cleanup_json_ json_object *o = NULL;
        struct join_bundle b = {};
        json_object *cluster = NULL, *node = NULL, *ca = NULL;
        const char *key = NULL;
        int r;

        if ((r = parse_body(body, size, allowed, &o, e)) < 0)
                return r;
        if ((r = json_get_object(o, "cluster", true, &cluster, e)) < 0 ||
            (r = json_get_object(o, "node", true, &node, e)) < 0 || (r = json_get_object(o, "ca", true, &ca, e)) < 0 ||
            (r = decode_bundle_parts(cluster, node, ca, &b, e)) < 0 ||
            (r = get_text(o, "corosync_conf", CONF_MAX, &b.corosync_conf, e)) < 0 ||
            (r = json_get_string(o, "authkey", true, &key, e)) < 0)
                goto fail;
        if (base64_decode(key, &b.authkey, &b.authkey_size) < 0 || b.authkey_size < AUTHKEY_MIN ||
            b.authkey_size > AUTHKEY_MAX) {
                r = err_set(e, -EINVAL, "field 'authkey' must be base64 of %d to %d bytes", AUTHKEY_MIN, AUTHKEY_MAX);
                goto fail;
        }
        *ret = b;
        return 0;
fail:
        join_bundle_done(&b);
        return r;
}

json_object *join_bundle_to_json(const struct join_bundle *b) {
        json_object *o = json_object_new_object(), *cl = json_object_new_object(), *n = json_object_new_object(),
                    *ca = json_object_new_object();
        _cleanup_free_ char *key = base64_encode(b->authkey, b->authkey_size);

        json_add_string(cl, "name", b->cluster_name);
        json_add_string(cl, "uuid", b->cluster_uuid);
        json_object_object_add(o, "cluster", cl);
        json_add_string(n, "name", b->node_name);
        json_add_int(n, "id", b->nodeid);
        json_add_string(n, "address", b->node_address);
        json_object_object_add(o, "node", n);
        json_add_string(o, "corosync_conf", b->corosync_conf);
        json_add_string(o, "authkey", key);
        json_add_string(ca, "certificate", b->ca_cert);
        json_add_string(ca, "key", b->ca_key);
        json_object_object_add(o, "ca", ca);
        explicit_bzero(key, strlen(key));
        return o;
}

void events_query_done(struct events_query *q) {
        free(q->kind);
        *q = (struct events_query){};
}

int request_events_query(const char *since, const char *limit, const char *kind, struct events_query *ret,
                         struct err *e) {
        struct events_query q = { .limit = 100 };
        uint64_t v;

        if (since && (parse_uint64(since, &v) < 0 || v > INT64_MAX))
                return err_set(e, -EINVAL, "query 'since' must be an event id (a non-negative integer), got '%s'",
                               since);
        if (since) {
                q.since = v;
                q.has_since = true;
        }
        if (limit && (parse_uint64(limit, &v) < 0 || v < 1 || v > 1000))
                return err_set(e, -EINVAL, "query 'limit' must be between 1 and 1000, got '%s'", limit);
        if (limit)
                q.limit = (unsigned)v;
        if (kind) {
                if (strlen(kind) > 64)
                        return err_set(e, -EINVAL, "query 'kind' is too long");
                for (const char *p = kind; *p; p++)
                        if (!isalnum((unsigned char)*p) && !strchr(".-_", *p))
                                return err_set(e, -EINVAL,
                                               "query 'kind' may hold letters, digits, '.', '-' and '_', got '%s'",
                                               kind);
                q.kind = xstrdup(kind);
        }
        *ret = q;
        return 0;
}

int uuid_generate_text(char ret[37]) {
        uint8_t b[16];
        int r = random_bytes(b, sizeof(b));
        if (r < 0)
                return r;
        b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
        b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
        snprintf(ret, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
                 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
        return 0;
}

bool uuid_is_valid(const char *s) {
        if (!s || strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char)s[i]))
                        return false;
        }
        return true;
}
