/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-api-roles.c: /v1/roles and the role-related node actions
 * (pause, resume, fencing). Every change is one replicated operation; the
 * reply comes once it is committed and shows the role as it is then.
 */
#include "clusterd/clusterd-int.h"
#include "clusterd/roles-int.h"

/* ------------------------------------------------------------------------ */
/* Replies                                                                   */

static json_object *str_or_null(const char *s) {
        return s ? json_object_new_string(s) : NULL;
}

json_object *api_role_json(struct clusterd *c, const struct db_role *role, bool full) {
        _cleanup_(json_object_putp) json_object *def = NULL;
        json_object *o, *st;
        struct err e = {};

        if (json_parse_object(role->definition, strlen(role->definition), &def, &e) < 0)
                def = json_object_new_object();
        o = json_object_get(def);
        if (!full) {
                /* The list shows what a table needs, not every property. */
                json_object *slim = json_object_new_object();
                json_object *v;
                const char *keep[] = { "name", "description", "priority", "preferred_owners" };
                for (size_t i = 0; i < ELEMENTSOF(keep); i++)
                        if (json_object_object_get_ex(o, keep[i], &v))
                                json_object_object_add(slim, keep[i], json_object_get(v));
                json_object *res;
                if (json_object_object_get_ex(o, "resources", &res))
                        json_add_int(slim, "resource_count", (int64_t)json_object_array_length(res));
                json_object_put(o);
                o = slim;
        }
        json_add_string(o, "target", role->want_started ? "started" : "stopped");
        json_add_string(o, "state", api_role_state(c, role));
        json_object_object_add(o, "owner", str_or_null(role->owner));
        json_object_object_add(o, "active_node", str_or_null(role->active_node));
        json_object_object_add(o, "move_to", str_or_null(role->move_to));
        json_add_bool(o, "failed", role->failed);

        st = json_object_new_object();
        json_add_string(st, "status", role->status);
        json_object_object_add(st, "node", str_or_null(role->status_node));
        json_add_string(st, "message", strempty(role->status_message));
        json_add_timestamp(st, "since", role->status_usec);
        json_object_object_add(o, "status", st);

        st = json_object_new_object();
        json_add_string(st, "reason", strempty(role->reason));
        json_add_timestamp(st, "time", role->placed_usec);
        json_object_object_add(o, "placement", st);

        if (full) {
                json_object *f = json_object_new_array();
                for (size_t i = 0; i < role->n_failures; i++) {
                        char buf[TIMESTAMP_MAX];
                        json_object_array_add(f, json_object_new_string(format_timestamp(buf, role->failures[i])));
                }
                json_object_object_add(o, "failures", f);
                json_object *a = json_object_new_array();
                for (char **p = role->avoid; p && *p; p++)
                        json_object_array_add(a, json_object_new_string(*p));
                json_object_object_add(o, "failed_on", a);
                json_add_timestamp(o, "created", role->created_usec);
                json_add_timestamp(o, "updated", role->updated_usec);
                json_add_string(o, "updated_by", strempty(role->updated_by));
        }
        return o;
}

static bool get_role(struct clusterd *c, struct http_request *req, const char *name, struct db_role *ret) {
        int r = db_role_get(c->db, name, ret);
        if (r == -ENOENT)
                http_reply_error(req, 404, "not-found", "no role named '%s'", name);
        else if (r < 0)
                http_reply_error(req, 500, "internal", "cannot read the roles: %s", db_last_error(c->db));
        return r >= 0;
}

static json_object *build_role(struct clusterd *c, void *ctx) {
        struct db_role role = {};
        if (db_role_get(c->db, ctx, &role) < 0) {
                json_object *o = json_object_new_object();
                json_add_string(o, "name", ctx);
                json_add_bool(o, "deleted", true);
                return o;
        }
        json_object *o = api_role_json(c, &role, true);
        db_role_done(&role);
        return o;
}

void api_roles_list(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_role *roles = NULL;
        size_t n = 0;

        if (db_roles(c->db, &roles, &n) < 0) {
                http_reply_error(req, 500, "internal", "cannot read the roles: %s", db_last_error(c->db));
                return;
        }
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, api_role_json(c, &roles[i], false));
        json_object_object_add(o, "roles", a);
        db_roles_free(roles, n);
        http_reply_json(req, 200, o);
}

void api_role_get(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_role role = {};
        if (!get_role(c, req, arg, &role))
                return;
        http_reply_json(req, 200, api_role_json(c, &role, true));
        db_role_done(&role);
}

static bool body_json(struct http_request *req, json_object **ret) {
        struct err e = {};
        size_t size;
        const char *body = http_request_body(req, &size);
        if (json_parse_object(body, size, ret, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return false;
        }
        return true;
}

/* Submits the role's new definition (create or replace). */
static void submit_def(struct clusterd *c, struct http_request *req, const struct role_def *d, uint8_t flags,
                       unsigned status) {
        _cleanup_(json_object_putp) json_object *o = role_def_to_json(d);
        const char *doc = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

        if (strlen(doc) > ROLE_DOC_MAX) {
                http_reply_error(req, 413, "payload-too-large", "role '%s': definition is %zu bytes, at most %d",
                                 d->name, strlen(doc), ROLE_DOC_MAX);
                return;
        }
        struct op op = { .kind = OP_ROLE_PUT, .name = xstrdup(d->name), .doc = xstrdup(doc), .state = flags };
        api_submit(c, req, &op, status, build_role, xstrdup(d->name), free);
}

void api_role_create(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(role_def_done) struct role_def d = {};
        struct err e = {};
        bool started = true;
        json_object *v;

        if (!body_json(req, &o))
                return;
        /* "started": false creates it stopped; not part of the definition. */
        if (json_object_object_get_ex(o, "started", &v)) {
                if (!json_object_is_type(v, json_type_boolean)) {
                        http_reply_error(req, 400, "bad-request", "started: expected true or false");
                        return;
                }
                started = json_object_get_boolean(v);
                json_object_object_del(o, "started");
        }
        if (role_def_from_json(o, NULL, &d, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        submit_def(c, req, &d, started ? 1 : 3, 201);
}

/* The stored definition of a role, to edit. */
static bool load_def(struct clusterd *c, struct http_request *req, const char *name, struct role_def *ret) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct db_role role = {};
        struct err e = {};
        int r;

        if (!get_role(c, req, name, &role))
                return false;
        r = json_parse_object(role.definition, strlen(role.definition), &o, &e);
        if (r >= 0)
                r = role_def_from_json(o, NULL, ret, &e);
        db_role_done(&role);
        if (r < 0)
                http_reply_error(req, 500, "internal", "role '%s': stored definition unreadable: %s", name, e.msg);
        return r >= 0;
}

void api_role_patch(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(role_def_done) struct role_def d = {};
        struct err e = {};

        if (!body_json(req, &o) || !load_def(c, req, arg, &d))
                return;
        if (role_def_patch(&d, o, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "role '%s': %s", arg, e.msg);
                return;
        }
        submit_def(c, req, &d, 0, 200);
}

void api_role_delete(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_role role = {};
        if (!get_role(c, req, arg, &role))
                return;
        db_role_done(&role);
        struct op op = { .kind = OP_ROLE_DELETE, .name = xstrdup(arg) };
        api_submit(c, req, &op, 200, build_role, xstrdup(arg), free);
}

/* "/v1/roles/NAME/ACTION": arg is "NAME/ACTION". */
void api_role_action(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *name = xstrdup(arg);
        char *action = strchr(name, '/');
        const char *target = NULL;
        struct db_role role = {};
        struct err e = {};
        size_t size;

        if (!action)
                return http_reply_error(req, 404, "not-found", "no such path");
        *action++ = '\0';
        if (!streq(action, "start") && !streq(action, "stop") && !streq(action, "move") && !streq(action, "clear"))
                return http_reply_error(req, 404, "not-found",
                                        "unknown role action '%s' (start, stop, move, clear, explain)", action);
        if (!get_role(c, req, name, &role))
                return;
        db_role_done(&role);
        if (streq(action, "move")) {
                static const char *const keys[] = { "node", NULL };
                const char *body = http_request_body(req, &size);
                if (json_parse_object(body, size, &o, &e) < 0 || json_check_keys(o, keys, &e) < 0 ||
                    json_get_string(o, "node", true, &target, &e) < 0)
                        return http_reply_error(req, 400, "bad-request", "move: %s", e.msg);
                struct db_node n = {};
                if (db_node_get(c->db, target, &n) < 0)
                        return http_reply_error(req, 400, "bad-request", "move: no node named '%s'", target);
                db_node_done(&n);
        }
        struct op op = { .kind = OP_ROLE_ADMIN,
                         .name = xstrdup(name),
                         .key = xstrdup(action),
                         .value = target ? xstrdup(target) : NULL };
        api_submit(c, req, &op, 200, build_role, xstrdup(name), free);
}

void api_role_explain(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_free_ char *text = NULL;
        struct db_role role = {};

        if (!get_role(c, req, arg, &role))
                return;
        json_object *o = json_object_new_object();
        json_add_string(o, "name", role.name);
        json_add_string(o, "state", api_role_state(c, &role));
        json_object_object_add(o, "owner", str_or_null(role.owner));
        json_add_string(o, "reason", strempty(role.reason));
        if (manager_explain(c, role.name, &text) >= 0) {
                json_object *a = json_object_new_array();
                for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                        nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        json_object_array_add(a, json_object_new_string(line));
                }
                json_object_object_add(o, "nodes", a);
        }
        db_role_done(&role);
        http_reply_json(req, 200, o);
}

/* ------------------------------------------------------------------------ */
/* Resources: "/v1/roles/NAME/resources[/RESOURCE]"                          */

void api_resource_add(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(role_def_done) struct role_def d = {};
        struct err e = {};

        if (!body_json(req, &o) || !load_def(c, req, arg, &d))
                return;
        if (role_def_add_resource(&d, o, &e) < 0)
                return http_reply_error(req, 400, "bad-request", "role '%s': %s", arg, e.msg);
        submit_def(c, req, &d, 0, 200);
}

static bool split_resource(struct http_request *req, const char *arg, char **ret_role, const char **ret_res) {
        char *role = xstrdup(arg), *slash = strchr(role, '/');
        if (!slash) {
                free(role);
                http_reply_error(req, 404, "not-found", "no such path");
                return false;
        }
        *slash = '\0';
        *ret_role = role;
        *ret_res = slash + 1;
        return true;
}

void api_resource_set(struct clusterd *c, struct http_request *req, const char *arg) {
        static const char *const keys[] = { "params", NULL };
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(role_def_done) struct role_def d = {};
        _cleanup_free_ char *role = NULL;
        const char *res;
        json_object *params = NULL;
        struct err e = {};

        if (!split_resource(req, arg, &role, &res) || !body_json(req, &o))
                return;
        if (json_check_keys(o, keys, &e) < 0 || json_get_object(o, "params", true, &params, &e) < 0)
                return http_reply_error(req, 400, "bad-request", "%s", e.msg);
        if (!load_def(c, req, role, &d))
                return;
        if (role_def_set_resource_params(&d, res, params, &e) < 0)
                return api_reply_errno(req, e.code, e.msg);
        submit_def(c, req, &d, 0, 200);
}

void api_resource_remove(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(role_def_done) struct role_def d = {};
        _cleanup_free_ char *role = NULL;
        const char *res;
        struct err e = {};

        if (!split_resource(req, arg, &role, &res) || !load_def(c, req, role, &d))
                return;
        if (role_def_remove_resource(&d, res, &e) < 0)
                return api_reply_errno(req, e.code, e.msg);
        submit_def(c, req, &d, 0, 200);
}

/* ------------------------------------------------------------------------ */
/* Node actions: "/v1/nodes/NAME/ACTION"                                     */

static json_object *build_node(struct clusterd *c, void *ctx) {
        struct db_node n = {};
        if (db_node_get(c->db, ctx, &n) < 0)
                return json_object_new_object();
        json_object *o = api_node_json(c, &n);
        db_node_done(&n);
        return o;
}

void api_node_action(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *name = xstrdup(arg);
        char *action = strchr(name, '/');
        struct db_node n = {};
        struct err e = {};
        bool flag = false;
        size_t size;
        const char *body;

        if (!action)
                return http_reply_error(req, 404, "not-found", "no such path");
        *action++ = '\0';
        if (db_node_get(c->db, name, &n) < 0)
                return http_reply_error(req, 404, "not-found", "no node named '%s'", name);
        db_node_done(&n);

        body = http_request_body(req, &size);
        if (size > 0) {
                static const char *const keys[] = { "drain", "failback", NULL };
                if (json_parse_object(body, size, &o, &e) < 0 || json_check_keys(o, keys, &e) < 0 ||
                    json_get_bool(o, streq(action, "pause") ? "drain" : "failback", false, &flag, &e) < 0)
                        return http_reply_error(req, 400, "bad-request", "%s: %s", action, e.msg);
        }
        if (streq(action, "pause")) {
                struct op op = { .kind = OP_NODE_PAUSE,
                                 .name = xstrdup(name),
                                 .state = flag ? DB_PAUSE_DRAIN : DB_PAUSE };
                return api_submit(c, req, &op, 200, build_node, xstrdup(name), free);
        }
        if (streq(action, "resume")) {
                if (flag)
                        manager_failback_node(c, name);
                struct op op = { .kind = OP_NODE_PAUSE, .name = xstrdup(name), .state = DB_PAUSE_NONE };
                return api_submit(c, req, &op, 200, build_node, xstrdup(name), free);
        }
        if (streq(action, "fenced")) {
                /* An operator's word that the node is off (Pacemaker's
                 * "stonith_admin --confirm"): its roles may start elsewhere. */
                const struct live_node *live = NULL;
                struct db_node dn = {};
                if (db_node_get(c->db, name, &dn) >= 0)
                        live = membership_find(&c->live, dn.nodeid);
                db_node_done(&dn);
                if (live && live->online)
                        return http_reply_error(req, 409, "conflict",
                                                "node '%s' is online: only a node that left the cluster can be "
                                                "confirmed fenced",
                                                name);
                struct op op = { .kind = OP_NODE_FENCED,
                                 .name = xstrdup(name),
                                 .value = xstrdup("operator"),
                                 .event_message = xstrdup("confirmed by an operator") };
                return api_submit(c, req, &op, 200, build_node, xstrdup(name), free);
        }
        http_reply_error(req, 404, "not-found", "unknown node action '%s' (pause, resume, fenced)", action);
}

void api_node_fencing_put(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *name = xstrdup(arg);
        char *slash = strchr(name, '/');
        struct db_node n = {};

        if (slash)
                *slash = '\0';
        if (db_node_get(c->db, name, &n) < 0)
                return http_reply_error(req, 404, "not-found", "no node named '%s'", name);
        db_node_done(&n);
        if (!body_json(req, &o))
                return;
        struct op op = { .kind = OP_NODE_FENCE_SET,
                         .name = xstrdup(name),
                         .doc = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN)) };
        api_submit(c, req, &op, 200, build_node, xstrdup(name), free);
}

void api_node_fencing_delete(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_free_ char *name = xstrdup(arg);
        char *slash = strchr(name, '/');
        if (slash)
                *slash = '\0';
        struct op op = { .kind = OP_NODE_FENCE_SET, .name = xstrdup(name) };
        api_submit(c, req, &op, 200, build_node, xstrdup(name), free);
}
