/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-api.c: the REST API's routing, authentication and replies for
 * writes (docs/api.md). The handlers live in clusterd-api-*.c.
 */
#include <microhttpd.h>
#include <strings.h>

#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"

enum {
        ROUTE_PUBLIC = 1 << 0,     /* no token needed on TCP */
        ROUTE_LOCAL_ONLY = 1 << 1, /* the root-only local socket only */
        ROUTE_CLUSTER = 1 << 2,    /* needs this node to be in a cluster */
};

struct route {
        const char *method;
        const char *pattern; /* "*" matches one path segment */
        void (*fn)(struct clusterd *c, struct http_request *req, const char *arg);
        unsigned flags;
};

static const struct route routes[] = {
        { "GET", "/v1/cluster", api_cluster_get, 0 },
        { "POST", "/v1/cluster", api_cluster_create, ROUTE_LOCAL_ONLY },
        { "POST", "/v1/cluster/join", api_cluster_join_local, ROUTE_LOCAL_ONLY },
        { "GET", "/v1/cluster/ca", api_cluster_ca, ROUTE_PUBLIC | ROUTE_CLUSTER },
        { "POST", "/v1/join", api_join, ROUTE_PUBLIC | ROUTE_CLUSTER },
        { "GET", "/v1/quorum", api_quorum_get, ROUTE_CLUSTER },
        { "PUT", "/v1/quorum/witness", api_witness_put, ROUTE_CLUSTER },
        { "GET", "/v1/nodes", api_nodes_list, ROUTE_CLUSTER },
        { "POST", "/v1/nodes", api_node_add, ROUTE_CLUSTER },
        { "GET", "/v1/nodes/*", api_node_get, ROUTE_CLUSTER },
        { "DELETE", "/v1/nodes/*", api_node_remove, ROUTE_CLUSTER },
        { "POST", "/v1/nodes/*/join-token", api_node_join_token, ROUTE_CLUSTER },
        { "GET", "/v1/settings", api_settings_list, ROUTE_CLUSTER },
        { "GET", "/v1/settings/*", api_setting_get, ROUTE_CLUSTER },
        { "PUT", "/v1/settings/*", api_setting_put, ROUTE_CLUSTER },
        { "DELETE", "/v1/settings/*", api_setting_delete, ROUTE_CLUSTER },
        { "GET", "/v1/events", api_events_list, ROUTE_CLUSTER },
        { "GET", "/v1/tokens", api_tokens_list, ROUTE_CLUSTER },
        { "POST", "/v1/tokens", api_token_create, ROUTE_CLUSTER },
        { "DELETE", "/v1/tokens/*", api_token_delete, ROUTE_CLUSTER },
        { "POST", "/v1/nodes/*/*", api_node_action, ROUTE_CLUSTER },
        { "PUT", "/v1/nodes/*/fencing", api_node_fencing_put, ROUTE_CLUSTER },
        { "DELETE", "/v1/nodes/*/fencing", api_node_fencing_delete, ROUTE_CLUSTER },
        { "GET", "/v1/roles", api_roles_list, ROUTE_CLUSTER },
        { "POST", "/v1/roles", api_role_create, ROUTE_CLUSTER },
        { "GET", "/v1/roles/*", api_role_get, ROUTE_CLUSTER },
        { "PATCH", "/v1/roles/*", api_role_patch, ROUTE_CLUSTER },
        { "DELETE", "/v1/roles/*", api_role_delete, ROUTE_CLUSTER },
        { "GET", "/v1/roles/*/explain", api_role_explain, ROUTE_CLUSTER },
        { "POST", "/v1/roles/*/resources", api_resource_add, ROUTE_CLUSTER },
        { "PATCH", "/v1/roles/*/resources/*", api_resource_set, ROUTE_CLUSTER },
        { "DELETE", "/v1/roles/*/resources/*", api_resource_remove, ROUTE_CLUSTER },
        { "POST", "/v1/roles/*/*", api_role_action, ROUTE_CLUSTER },
};

/* Matches path against pattern; the segments matched by '*' go to arg,
 * joined by '/' when there are several ("role/resource"). Routes are tried
 * in order, so a literal route must come before a '*' one it overlaps. */
static bool match(const char *pattern, const char *path, char *arg, size_t arg_size) {
        size_t used = 0;

        arg[0] = '\0';
        while (*pattern && *path) {
                if (*pattern == '*') {
                        size_t n = strcspn(path, "/");
                        size_t sep = used > 0 ? 1 : 0;
                        if (n == 0 || used + sep + n >= arg_size)
                                return false;
                        if (sep)
                                arg[used++] = '/';
                        memcpy(arg + used, path, n);
                        used += n;
                        arg[used] = '\0';
                        pattern++;
                        path += n;
                        continue;
                }
                if (*pattern != *path)
                        return false;
                pattern++;
                path++;
        }
        /* A trailing slash is the same path. */
        if (*path == '/' && path[1] == '\0')
                path++;
        return *pattern == '\0' && *path == '\0';
}

static bool authenticate(struct clusterd *c, struct http_request *req, const struct route *rt) {
        char client[API_CLIENT_MAX], name[64], secret[API_SECRET_LEN + 1];
        struct db_token t = {};
        const char *auth, *token;
        uint8_t hash[OP_HASH_SIZE];
        bool ok;

        if (http_request_is_local(req)) {
                if (http_request_peer_uid(req) != 0) {
                        http_reply_error(req, 403, "forbidden", "the local socket is for root only");
                        return false;
                }
                http_request_set_client(req, "local:root");
                return true;
        }
        if (rt && (rt->flags & ROUTE_LOCAL_ONLY)) {
                http_reply_error(req, 403, "forbidden", "%s %s is only available on the local socket",
                                 http_request_method(req), http_request_path(req));
                return false;
        }
        if (rt && (rt->flags & ROUTE_PUBLIC)) {
                snprintf(client, sizeof(client), "remote:%s", http_request_peer_address(req));
                http_request_set_client(req, client);
                return true;
        }
        auth = http_request_header(req, "Authorization");
        token = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
        ok = token && api_token_parse(token, name, secret) >= 0 && db_token_get(c->db, name, &t) >= 0;
        if (ok) {
                sha256(secret, strlen(secret), hash);
                ok = memeq_consttime(hash, t.hash, OP_HASH_SIZE);
        }
        explicit_bzero(secret, sizeof(secret));
        db_token_done(&t);
        if (!ok) {
                http_reply_header(req, "WWW-Authenticate", "Bearer realm=\"clusterd\"");
                http_reply_error(req, 401, "unauthorized",
                                 token ? "invalid API token" : "this request needs 'Authorization: Bearer TOKEN'");
                return false;
        }
        snprintf(client, sizeof(client), "token:%s", name);
        http_request_set_client(req, client);
        return true;
}

static bool check_body(struct http_request *req) {
        const char *type;
        size_t size;

        http_request_body(req, &size);
        if (size == 0)
                return true;
        type = http_request_header(req, "Content-Type");
        if (!type || strncasecmp(type, "application/json", 16) != 0) {
                http_reply_error(req, 415, "unsupported-media-type",
                                 "the request body must be application/json, got %s", type ? type : "no Content-Type");
                return false;
        }
        return true;
}

void api_handle(void *userdata, struct http_request *req) {
        struct clusterd *c = userdata;
        const char *method = http_request_method(req), *path = http_request_path(req);
        const struct route *found = NULL;
        char arg[256] = "", allow[128] = "";
        bool path_known = false;

        for (size_t i = 0; i < ELEMENTSOF(routes); i++) {
                char a[256];
                if (!match(routes[i].pattern, path, a, sizeof(a)))
                        continue;
                path_known = true;
                if (!strstr(allow, routes[i].method)) {
                        size_t l = strlen(allow);
                        snprintf(allow + l, sizeof(allow) - l, "%s%s", l ? ", " : "", routes[i].method);
                }
                if (streq(routes[i].method, method) && !found) {
                        found = &routes[i];
                        memcpy(arg, a, sizeof(arg));
                }
        }
        if (!authenticate(c, req, found))
                return;
        /* Path segments end up in messages and operations: keep them text. */
        for (const char *p = path; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f) {
                        http_reply_error(req, 400, "bad-request", "the request path contains control characters");
                        return;
                }
        if (!utf8_is_valid(path, strlen(path))) {
                http_reply_error(req, 400, "bad-request", "the request path is not valid UTF-8");
                return;
        }
        if (!path_known) {
                http_reply_error(req, 404, "not-found", "no such path: %s", path);
                return;
        }
        if (!found) {
                http_reply_header(req, "Allow", allow);
                http_reply_error(req, 405, "method-not-allowed", "%s is not allowed on %s (allowed: %s)", method, path,
                                 allow);
                return;
        }
        if ((found->flags & ROUTE_CLUSTER) && !clusterd_configured(c)) {
                http_reply_error(req, 409, "not-configured",
                                 "this node is not part of a cluster: create one with 'clusterctl cluster create' or "
                                 "join one with 'clusterctl cluster join'");
                return;
        }
        if (!check_body(req))
                return;
        found->fn(c, req, arg);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

void api_reply_errno(struct http_request *req, int r, const char *message) {
        switch (r) {
        case -EINVAL:
        case -ERANGE:
        case -EBADMSG:
                http_reply_error(req, 400, "bad-request", "%s", message);
                return;
        case -EACCES:
                http_reply_error(req, 401, "unauthorized", "%s", message);
                return;
        case -EPERM:
                http_reply_error(req, 403, "forbidden", "%s", message);
                return;
        case -ENOENT:
                http_reply_error(req, 404, "not-found", "%s", message);
                return;
        case -EEXIST:
        case -EBUSY:
        case -ENOSPC: /* a cluster-wide limit (roles) */
                http_reply_error(req, 409, "conflict", "%s", message);
                return;
        case -ENOLINK:
                http_reply_error(req, 503, "no-quorum", "%s", message);
                return;
        case -ECANCELED:
                http_reply_error(req, 503, "write-not-committed", "%s", message);
                return;
        case -ETIMEDOUT:
        case -ESHUTDOWN:
                http_reply_error(req, 503, "write-timeout", "%s", message);
                return;
        case -EAGAIN:
        case -ENOTCONN:
        case -ETIME:
        case -ENODATA:
                http_reply_header(req, "Retry-After", "1");
                http_reply_error(req, 503, "unavailable", "%s", message);
                return;
        default:
                http_reply_error(req, 500, "internal", "%s (%s)", message, strerror(r < 0 ? -r : r));
                return;
        }
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */

struct pending_write {
        struct clusterd *c;
        struct http_request *req;
        uint64_t id;
        unsigned status;
        api_build_fn build;
        void *ctx;
        void (*free_ctx)(void *);
};

static void pending_free(struct pending_write *p) {
        if (p->free_ctx)
                p->free_ctx(p->ctx);
        free(p);
}

static void write_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct pending_write *p = userdata;

        if (r < 0)
                api_reply_errno(p->req, r, message);
        else if (res->r < 0)
                api_reply_errno(p->req, res->r, res->message);
        else
                http_reply_json(p->req, p->status, p->build(p->c, p->ctx));
        http_request_on_abort(p->req, NULL, NULL);
        pending_free(p);
}

static void write_aborted(void *userdata) {
        struct pending_write *p = userdata;
        /* The client is gone; the write goes on, nobody hears of it. */
        repl_forget(p->c->repl, p->id);
        pending_free(p);
}

void api_submit(struct clusterd *c, struct http_request *req, struct op *op, unsigned status, api_build_fn build,
                void *ctx, void (*free_ctx)(void *)) {
        struct pending_write *p = xcalloc(1, sizeof(*p));
        struct err e = {};
        int r;

        *p = (struct pending_write){
                .c = c, .req = req, .status = status, .build = build, .ctx = ctx, .free_ctx = free_ctx
        };
        op->client = xstrdup(http_request_client(req));
        op->time_usec = now_realtime_usec();
        r = repl_submit(c->repl, op, write_done, p, &p->id, &e);
        if (r < 0) {
                op_done(op);
                api_reply_errno(req, r, e.msg);
                pending_free(p);
                return;
        }
        http_request_suspend(req);
        http_request_on_abort(req, write_aborted, p);
}
