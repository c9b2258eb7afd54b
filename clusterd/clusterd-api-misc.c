/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-api-misc.c: /v1/settings, /v1/events and /v1/tokens. */
#include "clusterd/clusterd-int.h"
#include "clusterd/settings-int.h"

/* ------------------------------------------------------------------------ */
/* Settings                                                                  */

static json_object *setting_json(struct clusterd *c, const struct setting_def *d, const char *key) {
        json_object *o = json_object_new_object();
        _cleanup_free_ char *value = NULL, *by = NULL;
        uint64_t updated = 0;
        bool set = db_setting_get(c->db, key, &value, &updated, &by) >= 0;

        json_add_string(o, "key", key);
        json_add_string(o, "type", setting_type_to_string(d->type));
        json_object_object_add(o, "value", setting_to_json(d, set ? value : d->default_value));
        json_object_object_add(o, "default", setting_to_json(d, d->default_value));
        json_add_bool(o, "is_default", !set);
        if (d->type == SETTING_INTEGER) {
                json_add_int(o, "min", d->min);
                json_add_int(o, "max", d->max);
        } else if (d->type == SETTING_DURATION) {
                char buf[64];
                json_add_string(o, "min", format_duration(buf, sizeof(buf), (uint64_t)d->min));
                json_add_string(o, "max", format_duration(buf, sizeof(buf), (uint64_t)d->max));
        } else if (d->type == SETTING_ENUM) {
                json_object *a = json_object_new_array();
                for (const char *const *v = d->values; v && *v; v++)
                        json_object_array_add(a, json_object_new_string(*v));
                json_object_object_add(o, "values", a);
        }
        json_add_string(o, "description", d->description);
        json_add_timestamp(o, "updated", set ? updated : 0);
        json_add_string(o, "updated_by", set ? by : NULL);
        return o;
}

void api_settings_list(struct clusterd *c, struct http_request *req, const char *arg) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        _cleanup_strv_free_ char **user = NULL;
        const struct setting_def *all, *d;
        size_t n;

        all = settings_all(&n);
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, setting_json(c, &all[i], all[i].key));
        if (db_user_setting_keys(c->db, &user) >= 0)
                for (char **k = user; *k; k++)
                        if (settings_lookup(*k, &d, NULL) >= 0)
                                json_object_array_add(a, setting_json(c, d, *k));
        json_object_object_add(o, "settings", a);
        http_reply_json(req, 200, o);
}

static bool lookup(struct http_request *req, const char *key, const struct setting_def **d) {
        struct err e = {};
        int r = settings_lookup(key, d, &e);
        if (r < 0)
                api_reply_errno(req, r, e.msg);
        return r >= 0;
}

void api_setting_get(struct clusterd *c, struct http_request *req, const char *arg) {
        const struct setting_def *d;
        if (!lookup(req, arg, &d))
                return;
        if (setting_is_user(d) && db_setting_get(c->db, arg, NULL, NULL, NULL) < 0) {
                http_reply_error(req, 404, "not-found", "setting '%s' is not set", arg);
                return;
        }
        http_reply_json(req, 200, setting_json(c, d, arg));
}

static json_object *build_setting(struct clusterd *c, void *ctx) {
        const struct setting_def *d;
        if (settings_lookup(ctx, &d, NULL) < 0)
                return json_object_new_object();
        if (setting_is_user(d) && db_setting_get(c->db, ctx, NULL, NULL, NULL) < 0) {
                /* A removed user setting: show it as gone. */
                json_object *o = json_object_new_object();
                json_add_string(o, "key", ctx);
                json_object_object_add(o, "value", NULL);
                json_add_bool(o, "is_default", true);
                return o;
        }
        return setting_json(c, d, ctx);
}

void api_setting_put(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_json_ json_object *v = NULL;
        const struct setting_def *d;
        char *canonical = NULL;
        struct err e = {};
        const char *body;
        size_t size;

        if (!lookup(req, arg, &d))
                return;
        body = http_request_body(req, &size);
        if (request_setting_put(body, size, &v, &e) < 0 || setting_normalize_json(d, arg, v, &canonical, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        struct op op = { .kind = OP_SETTING_SET, .key = xstrdup(arg), .value = canonical };
        api_submit(c, req, &op, 200, build_setting, xstrdup(arg), free);
}

void api_setting_delete(struct clusterd *c, struct http_request *req, const char *arg) {
        const struct setting_def *d;
        if (!lookup(req, arg, &d))
                return;
        struct op op = { .kind = OP_SETTING_UNSET, .key = xstrdup(arg) };
        api_submit(c, req, &op, 200, build_setting, xstrdup(arg), free);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

struct events_out {
        json_object *a;
        uint64_t last;
};

static int add_event(const struct db_event *ev, void *userdata) {
        struct events_out *out = userdata;
        json_object *o = json_object_new_object();
        json_add_int(o, "id", (int64_t)ev->id);
        json_add_timestamp(o, "time", ev->time_usec);
        json_add_string(o, "node", ev->node);
        json_add_string(o, "client", ev->client);
        json_add_string(o, "kind", ev->kind);
        json_add_string(o, "object", ev->object);
        json_add_string(o, "message", ev->message);
        json_object_array_add(out->a, o);
        out->last = MAX(out->last, ev->id);
        return 0;
}

void api_events_list(struct clusterd *c, struct http_request *req, const char *arg) {
        struct events_query q = {};
        struct err e = {};
        int r = request_events_query(http_request_query(req, "since"), http_request_query(req, "limit"),
                                     http_request_query(req, "kind"), &q, &e);
        if (r < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        struct events_out out = { json_object_new_array(), q.since };
        r = db_events(c->db, q.has_since, q.since, q.limit, q.kind, add_event, &out);
        events_query_done(&q);
        if (r < 0) {
                json_object_put(out.a);
                http_reply_error(req, 500, "internal", "cannot read events: %s", db_last_error(c->db));
                return;
        }
        json_object *o = json_object_new_object();
        json_object_object_add(o, "events", out.a);
        json_add_int(o, "last", (int64_t)out.last);
        http_reply_json(req, 200, o);
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                    */

static json_object *token_json(const struct db_token *t) {
        json_object *o = json_object_new_object();
        json_add_string(o, "name", t->name);
        json_add_timestamp(o, "created", t->created_usec);
        json_add_string(o, "created_by", t->created_by);
        return o;
}

void api_tokens_list(struct clusterd *c, struct http_request *req, const char *arg) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        struct db_token *t = NULL;
        size_t n = 0;

        if (db_tokens(c->db, &t, &n) < 0) {
                json_object_put(o);
                json_object_put(a);
                http_reply_error(req, 500, "internal", "cannot read tokens: %s", db_last_error(c->db));
                return;
        }
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, token_json(&t[i]));
        db_tokens_free(t, n);
        json_object_object_add(o, "tokens", a);
        http_reply_json(req, 200, o);
}

struct token_ctx {
        char *name;
        char *secret; /* "NAME.SECRET" */
        json_object *deleted;
};

static void token_ctx_free(void *p) {
        struct token_ctx *x = p;
        if (!x)
                return;
        free(x->name);
        if (x->secret) {
                explicit_bzero(x->secret, strlen(x->secret));
                free(x->secret);
        }
        json_object_put(x->deleted);
        free(x);
}

static json_object *build_token_created(struct clusterd *c, void *ctx) {
        struct token_ctx *x = ctx;
        json_object *o = json_object_new_object();
        struct db_token t = {};
        if (db_token_get(c->db, x->name, &t) >= 0) {
                json_object_object_add(o, "token", token_json(&t));
                db_token_done(&t);
        }
        json_add_string(o, "secret", x->secret);
        return o;
}

void api_token_create(struct clusterd *c, struct http_request *req, const char *arg) {
        char secret[API_SECRET_LEN + 1];
        struct token_ctx *x;
        struct err e = {};
        char *name = NULL;
        const char *body;
        size_t size;

        body = http_request_body(req, &size);
        if (request_token_create(body, size, &name, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        if (random_string(secret, API_SECRET_LEN) < 0) {
                free(name);
                http_reply_error(req, 500, "internal", "cannot get random bytes");
                return;
        }
        struct op op = { .kind = OP_TOKEN_CREATE, .name = xstrdup(name) };
        sha256(secret, strlen(secret), op.secret_hash);
        x = xcalloc(1, sizeof(*x));
        x->name = name;
        x->secret = xasprintf("%s.%s", name, secret);
        explicit_bzero(secret, sizeof(secret));
        api_submit(c, req, &op, 201, build_token_created, x, token_ctx_free);
}

static json_object *build_token_deleted(struct clusterd *c, void *ctx) {
        struct token_ctx *x = ctx;
        return json_object_get(x->deleted);
}

void api_token_delete(struct clusterd *c, struct http_request *req, const char *arg) {
        struct db_token t = {};
        struct token_ctx *x;
        int r = db_token_get(c->db, arg, &t);

        if (r < 0) {
                if (r == -ENOENT)
                        http_reply_error(req, 404, "not-found", "no token named '%s'", arg);
                else
                        http_reply_error(req, 500, "internal", "cannot read tokens: %s", db_last_error(c->db));
                return;
        }
        x = xcalloc(1, sizeof(*x));
        x->deleted = token_json(&t);
        db_token_done(&t);
        struct op op = { .kind = OP_TOKEN_DELETE, .name = xstrdup(arg) };
        api_submit(c, req, &op, 200, build_token_deleted, x, token_ctx_free);
}
