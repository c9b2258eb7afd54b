/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-api-nodes.c: /v1/nodes. */
#include "clusterd/clusterd-int.h"
#include "clusterd/settings-int.h"

void api_nodes_list(struct clusterd *c, struct http_request *req, const char *arg) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "nodes", api_nodes_json(c));
        http_reply_json(req, 200, o);
}

void api_node_get(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_node n = {};
        int r = db_node_get(c->db, arg, &n);
        if (r == -ENOENT) {
                http_reply_error(req, 404, "not-found", "no node named '%s'", arg);
                return;
        }
        if (r < 0) {
                http_reply_error(req, 500, "internal", "cannot read the nodes: %s", db_last_error(c->db));
                return;
        }
        http_reply_json(req, 200, api_node_json(c, &n));
        db_node_done(&n);
}

/* What the reply to a node add or join-token needs once committed. */
struct node_ctx {
        char *name;
        char *token;
        uint64_t expires_usec;
        json_object *removed; /* node remove: the node as it was */
};

static void node_ctx_free(void *p) {
        struct node_ctx *x = p;
        if (!x)
                return;
        free(x->name);
        if (x->token) {
                explicit_bzero(x->token, strlen(x->token));
                free(x->token);
        }
        json_object_put(x->removed);
        free(x);
}

static json_object *build_node_join(struct clusterd *c, void *ctx) {
        struct node_ctx *x = ctx;
        json_object *o = json_object_new_object();
        char *names[] = { x->name, NULL };
        struct db_node n = {};

        if (db_node_get(c->db, x->name, &n) >= 0) {
                json_object_object_add(o, "node", api_node_json(c, &n));
                db_node_done(&n);
        }
        json_object_object_add(o, "join", api_join_json(c, NULL, x->token, x->expires_usec, names));
        return o;
}

static uint64_t default_ttl(struct clusterd *c) {
        const struct setting_def *d;
        _cleanup_free_ char *v = NULL;
        if (settings_lookup("join.token-ttl", &d, NULL) < 0)
                return USEC_PER_HOUR;
        if (db_setting_get(c->db, d->key, &v, NULL, NULL) < 0)
                v = xstrdup(d->default_value);
        return (uint64_t)setting_int(d, v, (int64_t)USEC_PER_HOUR);
}

static uint32_t next_nodeid(struct clusterd *c, size_t *ret_count) {
        struct db_node *nodes = NULL;
        size_t n = 0;
        uint32_t max = 0;
        if (db_nodes(c->db, &nodes, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        max = MAX(max, nodes[i].nodeid);
        db_nodes_free(nodes, n);
        *ret_count = n;
        return max + 1;
}

void api_node_add(struct clusterd *c, struct http_request *req, const char *arg) {
        struct node_add_req nr = {};
        struct node_ctx *x;
        struct err e = {};
        const char *body;
        size_t size, count;
        uint32_t id;
        int r;

        body = http_request_body(req, &size);
        if ((r = request_node_add(body, size, &nr, &e)) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        id = next_nodeid(c, &count);
        if (count >= CLUSTERD_MAX_NODES) {
                http_reply_error(req, 409, "conflict", "the cluster has %zu nodes, the most clusterd supports", count);
                node_add_req_done(&nr);
                return;
        }
        struct op op = { .kind = OP_NODE_ADD,
                         .name = xstrdup(nr.name),
                         .address = xstrdup(nr.address),
                         .nodeid = nr.nodeid ? nr.nodeid : id };
        x = xcalloc(1, sizeof(*x));
        x->name = xstrdup(nr.name);
        x->token =
                clusterd_new_join_token(&op, now_realtime_usec(), nr.join_ttl_usec ? nr.join_ttl_usec : default_ttl(c));
        x->expires_usec = op.expires_usec;
        node_add_req_done(&nr);
        api_submit(c, req, &op, 201, build_node_join, x, node_ctx_free);
}

void api_node_join_token(struct clusterd *c, struct http_request *req, const char *arg) {
        const struct live_node *live;
        struct db_node n = {};
        struct node_ctx *x;
        struct err e = {};
        const char *body;
        uint64_t ttl = 0;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if ((r = request_join_token(body, size, &ttl, &e)) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        if ((r = db_node_get(c->db, arg, &n)) < 0) {
                api_reply_errno(req, r, r == -ENOENT ? "no such node" : db_last_error(c->db));
                return;
        }
        live = membership_find(&c->live, n.nodeid);
        if (live && live->online) {
                http_reply_error(req, 409, "conflict", "node '%s' is online: it is in the cluster already", n.name);
                db_node_done(&n);
                return;
        }
        struct op op = { .kind = OP_JOIN_TOKEN, .name = xstrdup(n.name) };
        x = xcalloc(1, sizeof(*x));
        x->name = xstrdup(n.name);
        x->token = clusterd_new_join_token(&op, now_realtime_usec(), ttl ? ttl : default_ttl(c));
        x->expires_usec = op.expires_usec;
        db_node_done(&n);
        api_submit(c, req, &op, 200, build_node_join, x, node_ctx_free);
}

static json_object *build_removed(struct clusterd *c, void *ctx) {
        struct node_ctx *x = ctx;
        return json_object_get(x->removed);
}

void api_node_remove(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_node n = {};
        struct node_ctx *x;
        int r;

        if ((r = db_node_get(c->db, arg, &n)) < 0) {
                if (r == -ENOENT)
                        http_reply_error(req, 404, "not-found", "no node named '%s'", arg);
                else
                        http_reply_error(req, 500, "internal", "cannot read the nodes: %s", db_last_error(c->db));
                return;
        }
        x = xcalloc(1, sizeof(*x));
        x->removed = api_node_json(c, &n);
        json_object_object_add(x->removed, "state", json_object_new_string("removed"));
        struct op op = { .kind = OP_NODE_REMOVE, .name = xstrdup(n.name) };
        db_node_done(&n);
        api_submit(c, req, &op, 200, build_removed, x, node_ctx_free);
}
