/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-apply-roles.c: applying role and node-property operations.
 *
 * Who may run a role is decided here, in delivery order, the same way on
 * every member: `owner` is where the leader wants it; `active_node` is where
 * it may be running. A node starts a role only when it is the owner and
 * active_node is empty or itself; active_node is cleared only by that
 * node's own "stopped" report or by its fencing. So the new owner of a
 * moving role starts it only after the old one has said it stopped (or was
 * fenced): never two copies.
 */
#include <sqlite3.h>

#include "clusterd/apply-int.h"
#include "clusterd/roles-int.h"

#define FENCE_AGENT_MAX 64

/* 0 with the role, 1 when refused (no such role), -errno on failure. */
static int role_get(struct apply *a, const char *name, struct db_role *ret) {
        int r = db_role_get(a->db, name, ret);
        if (r == -ENOENT)
                return apply_refuse(a, -ENOENT, "no role named '%s'", name), 1;
        return r;
}

static void set_str(char **p, const char *v) {
        free(*p);
        *p = v ? xstrdup(v) : NULL;
}

int apply_role_put(struct apply *a) {
        const struct op *op = a->op;
        bool create = op->state & 1, stopped = op->state & 2;
        _cleanup_(role_def_done) struct role_def d = {};
        _cleanup_(json_object_putp) json_object *o = NULL, *canon = NULL;
        struct db_role role = {};
        struct err e = {};
        int r;

        if (json_parse_object(op->doc, strlen(op->doc), &o, &e) < 0 || role_def_from_json(o, NULL, &d, &e) < 0)
                return apply_refuse(a, -EINVAL, "role '%s': %s", op->name, e.msg);
        if (!streq(d.name, op->name))
                return apply_refuse(a, -EINVAL, "role definition names '%s', not '%s'", d.name, op->name);
        canon = role_def_to_json(&d);

        r = db_role_get(a->db, op->name, &role);
        if (r < 0 && r != -ENOENT)
                return r;
        if (create && r == 0) {
                db_role_done(&role);
                return apply_refuse(a, -EEXIST, "a role named '%s' already exists", op->name);
        }
        if (!create && r == -ENOENT)
                return apply_refuse(a, -ENOENT, "no role named '%s'", op->name);
        if (create) {
                if ((r = apply_exists(a, "SELECT 1 FROM roles LIMIT 1 OFFSET ?", NULL, ROLES_MAX - 1)) != 0)
                        return r < 0 ? r : apply_refuse(a, -ENOSPC, "the cluster already has %d roles", ROLES_MAX);
                role = (struct db_role){
                        .name = xstrdup(op->name),
                        .created_usec = op->time_usec,
                        .want_started = !stopped,
                        .reason = xstrdup(""),
                        .status = xstrdup("stopped"),
                        .status_message = xstrdup(""),
                        .avoid = xcalloc(1, sizeof(char *)),
                };
        }
        set_str(&role.definition, json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN));
        role.updated_usec = op->time_usec;
        set_str(&role.updated_by, op->client ? op->client : "unknown");
        r = db_role_store(a->db, &role);
        db_role_done(&role);
        if (r < 0)
                return r;
        if (create)
                return apply_add_event(a, "role.created", op->name, "Role '%s' created with %zu resource(s)%s",
                                       op->name, d.n_resources, stopped ? ", stopped" : "");
        return apply_add_event(a, "role.updated", op->name, "Role '%s' changed (%zu resource(s))", op->name,
                               d.n_resources);
}

int apply_role_delete(struct apply *a) {
        struct db_role role = {};
        int r;

        if ((r = role_get(a, a->op->name, &role)) != 0)
                return r < 0 ? r : 0;
        if (role.active_node) {
                r = apply_refuse(a, -EBUSY, "role '%s' is active on node '%s'; stop it first", role.name,
                                 role.active_node);
                db_role_done(&role);
                return r;
        }
        db_role_done(&role);
        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM roles WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, a->op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        return apply_add_event(a, "role.deleted", a->op->name, "Role '%s' deleted", a->op->name);
}

static void clear_failures(struct db_role *role) {
        role->failed = false;
        role->n_failures = 0;
        strv_free(role->avoid);
        role->avoid = xcalloc(1, sizeof(char *));
}

int apply_role_admin(struct apply *a) {
        const struct op *op = a->op;
        struct db_role role = {};
        const char *kind, *what;
        char msg[256];
        int r;

        if ((r = role_get(a, op->name, &role)) != 0)
                return r < 0 ? r : 0;
        if (streq(op->key, "start")) {
                role.want_started = true;
                clear_failures(&role);
                /* A role that runs nowhere is placed afresh: placement
                 * does not start a no-auto-start role that still names
                 * the owner it was lost on. */
                if (!role.active_node)
                        set_str(&role.owner, NULL);
                kind = "role.start";
                what = "start requested";
        } else if (streq(op->key, "stop")) {
                role.want_started = false;
                set_str(&role.move_to, NULL);
                kind = "role.stop";
                what = "stop requested";
        } else if (streq(op->key, "move")) {
                if (!op->value || (r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", op->value, 0)) == 0) {
                        r = apply_refuse(a, -ENOENT, "no node named '%s' to move role '%s' to", strempty(op->value),
                                         op->name);
                        db_role_done(&role);
                        return r;
                }
                if (r < 0) {
                        db_role_done(&role);
                        return r;
                }
                role.want_started = true;
                set_str(&role.move_to, op->value);
                snprintf(msg, sizeof(msg), "move to node '%s' requested", op->value);
                kind = "role.move";
                what = msg;
        } else if (streq(op->key, "clear")) {
                clear_failures(&role);
                kind = "role.clear";
                what = "failures cleared";
        } else {
                db_role_done(&role);
                return apply_refuse(a, -EINVAL, "unknown role action '%s' (start, stop, move, clear)", op->key);
        }
        r = db_role_store(a->db, &role);
        db_role_done(&role);
        if (r < 0)
                return r;
        return apply_add_event(a, kind, op->name, "Role '%s': %s", op->name, what);
}

int apply_role_place(struct apply *a) {
        const struct op *op = a->op;
        const char *owner = op->value && op->value[0] ? op->value : NULL;
        struct db_role role = {};
        int r;

        if ((r = role_get(a, op->name, &role)) != 0)
                return r < 0 ? r : 0;
        set_str(&role.owner, owner);
        set_str(&role.reason, op->event_message);
        role.placed_usec = op->time_usec;
        if (owner && streq_ptr(role.move_to, owner))
                set_str(&role.move_to, NULL);
        r = db_role_store(a->db, &role);
        db_role_done(&role);
        if (r < 0)
                return r;
        if (owner)
                return apply_add_event(a, "role.placed", op->name, "Role '%s' placed on node '%s': %s", op->name, owner,
                                       op->event_message);
        return apply_add_event(a, "role.unplaced", op->name, "Role '%s' runs nowhere: %s", op->name, op->event_message);
}

static bool status_is_valid(const char *s) {
        static const char *const ok[] = { "starting", "running", "stopping", "stopped", "failed", "stop-failed" };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++)
                if (streq(s, ok[i]))
                        return true;
        return false;
}

/* A failure counts towards the failover threshold of the role's definition. */
static void record_failure(struct apply *a, struct db_role *role) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_(role_def_done) struct role_def d = {};

        if (role->n_failures == ROLE_FAILURES_KEPT) {
                memmove(role->failures, role->failures + 1, (ROLE_FAILURES_KEPT - 1) * sizeof(uint64_t));
                role->n_failures--;
        }
        role->failures = xrealloc(role->failures, (role->n_failures + 1) * sizeof(uint64_t));
        role->failures[role->n_failures++] = a->op->time_usec;
        if (!strv_contains(role->avoid, a->origin))
                strv_push(&role->avoid, a->origin);

        if (json_parse_object(role->definition, strlen(role->definition), &o, NULL) < 0 ||
            role_def_from_json(o, NULL, &d, NULL) < 0)
                return;
        if (placement_over_threshold(role->failures, role->n_failures, d.failover_threshold, d.failover_period_usec,
                                     a->op->time_usec))
                role->failed = true;
}

int apply_role_status(struct apply *a) {
        const struct op *op = a->op;
        const char *node = a->origin;
        struct db_role role = {};
        bool was_failed;
        int r;

        if (!status_is_valid(op->value))
                return apply_refuse(a, -EINVAL, "invalid role status '%s'", op->value);
        if ((r = role_get(a, op->name, &role)) != 0)
                return r < 0 ? r : 0;
        was_failed = role.failed;

        bool runs = streq(op->value, "starting") || streq(op->value, "running") || streq(op->value, "stopping") ||
                    streq(op->value, "stop-failed");
        /* "starting" is a request to run it here: only the owner may, and
         * only while it is active nowhere else. The reporter starts only
         * once this is committed, so a refusal keeps it from starting. */
        if (streq(op->value, "starting") &&
            (!streq_ptr(role.owner, node) || (role.active_node && !streq(role.active_node, node)))) {
                r = apply_refuse(a, -EBUSY, "role '%s' may not start on node '%s' (owner %s, active on %s)", op->name,
                                 node, role.owner ? role.owner : "none",
                                 role.active_node ? role.active_node : "no node");
                db_role_done(&role);
                return r;
        }
        if (runs && role.active_node && !streq(role.active_node, node)) {
                /* Another node holds it: this copy must go (its executor
                 * stops it, since it is not the owner). */
                r = apply_add_event(a, "role.conflict", op->name,
                                    "Role '%s' reported %s on node '%s' while active on node '%s'; '%s' stops it",
                                    op->name, op->value, node, role.active_node, node);
                db_role_done(&role);
                return r;
        }
        if (!runs && role.active_node && !streq(role.active_node, node)) {
                /* A late "stopped" from a node that no longer holds it. */
                db_role_done(&role);
                return 0;
        }
        set_str(&role.active_node, runs ? node : NULL);
        set_str(&role.status, op->value);
        set_str(&role.status_node, node);
        set_str(&role.status_message, op->event_message ? op->event_message : "");
        role.status_usec = op->time_usec;
        if (op->state)
                record_failure(a, &role);
        /* A failure on its owner places it anew: elsewhere, the nodes it
         * failed on last. */
        if (streq(op->value, "failed") && streq_ptr(role.owner, node))
                set_str(&role.owner, NULL);
        r = db_role_store(a->db, &role);
        /* One event per operation (events are numbered by version). */
        if (r >= 0 && role.failed && !was_failed)
                r = apply_add_event(a, "role.failed", op->name,
                                    "Role '%s' failed on node '%s'%s%s; it failed %zu times within its failover "
                                    "period and stays stopped until cleared ('clusterctl role clear %s')",
                                    op->name, node, op->event_message ? ": " : "", strempty(op->event_message),
                                    role.n_failures, op->name);
        else if (r >= 0 && (streq(op->value, "running") || streq(op->value, "stopped") || streq(op->value, "failed") ||
                            streq(op->value, "stop-failed") || op->state)) {
                if (op->event_message && op->event_message[0])
                        r = apply_add_event(a, "role.status", op->name, "Role '%s' is %s on node '%s': %s", op->name,
                                            op->value, node, op->event_message);
                else
                        r = apply_add_event(a, "role.status", op->name, "Role '%s' is %s on node '%s'", op->name,
                                            op->value, node);
        }
        db_role_done(&role);
        return r;
}

/* 0 with the node's properties (defaults if none stored yet), 1 when
 * refused (no such node), -errno on failure. */
static int props_get(struct apply *a, const char *name, struct db_node_props *ret) {
        int r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", name, 0);
        if (r <= 0)
                return r < 0 ? r : (apply_refuse(a, -ENOENT, "no node named '%s'", name), 1);
        r = db_node_props_get(a->db, name, ret);
        if (r == -ENOENT) {
                *ret = (struct db_node_props){ .name = xstrdup(name) };
                return 0;
        }
        return r;
}

int apply_node_props(struct apply *a) {
        const struct op *op = a->op;
        struct db_node_props p = {};
        int r;

        if ((r = props_get(a, op->name, &p)) != 0)
                return r < 0 ? r : 0;
        bool changed = p.memory_mib != op->memory_mib || p.cpus != op->cpus || p.watchdog_usec != op->timeout_usec;
        p.memory_mib = op->memory_mib;
        p.cpus = op->cpus;
        p.watchdog_usec = op->timeout_usec;
        p.updated_usec = op->time_usec;
        r = db_node_props_store(a->db, &p);
        db_node_props_done(&p);
        if (r < 0 || !changed)
                return r;
        char wd[32];
        return apply_add_event(a, "node.properties", op->name,
                               "Node '%s': %" PRIu64 " MiB and %" PRIu32 " CPUs for roles, watchdog %s", op->name,
                               op->memory_mib, op->cpus,
                               op->timeout_usec ? format_duration(wd, sizeof(wd), op->timeout_usec) : "none");
}

int apply_node_pause(struct apply *a) {
        const struct op *op = a->op;
        struct db_node_props p = {};
        int r;

        if (op->state > DB_PAUSE_DRAIN)
                return apply_refuse(a, -EINVAL, "invalid pause state %u", op->state);
        if ((r = props_get(a, op->name, &p)) != 0)
                return r < 0 ? r : 0;
        p.pause = (enum db_pause)op->state;
        r = db_node_props_store(a->db, &p);
        db_node_props_done(&p);
        if (r < 0)
                return r;
        switch (op->state) {
        case DB_PAUSE:
                return apply_add_event(a, "node.paused", op->name, "Node '%s' paused: it takes no new roles", op->name);
        case DB_PAUSE_DRAIN:
                return apply_add_event(a, "node.paused", op->name, "Node '%s' paused and draining: its roles move away",
                                       op->name);
        default:
                return apply_add_event(a, "node.resumed", op->name, "Node '%s' resumed", op->name);
        }
}

int apply_node_fenced(struct apply *a) {
        const struct op *op = a->op;
        struct db_role *roles = NULL;
        size_t n = 0, released = 0;
        int r;

        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", op->name, 0)) <= 0)
                return r < 0 ? r : apply_refuse(a, -ENOENT, "no node named '%s'", op->name);
        if ((r = db_roles(a->db, &roles, &n)) < 0)
                return r;
        for (size_t i = 0; i < n && r >= 0; i++) {
                struct db_role *role = &roles[i];
                if (!streq_ptr(role->active_node, op->name))
                        continue;
                set_str(&role->active_node, NULL);
                set_str(&role->status, "stopped");
                set_str(&role->status_node, op->name);
                free(role->status_message);
                role->status_message = xasprintf("node '%s' was fenced (%s)", op->name, op->value);
                role->status_usec = op->time_usec;
                r = db_role_store(a->db, role);
                released++;
        }
        db_roles_free(roles, n);
        if (r < 0)
                return r;
        return apply_add_event(a, "node.fenced", op->name, "Node '%s' fenced by %s%s%s; %zu role(s) released", op->name,
                               op->value, op->event_message ? ": " : "", strempty(op->event_message), released);
}

/* {"agent": "fence_xxx", "params": {"k": "v"}}: the agent name is checked
 * here, where it must be safe to run as a program name. */
static int check_fence_doc(const char *doc, char **ret, struct err *e) {
        static const char *const keys[] = { "agent", "params", NULL };
        _cleanup_(json_object_putp) json_object *o = NULL;
        const char *agent = NULL;
        json_object *params = NULL;
        int r;

        if ((r = json_parse_object(doc, strlen(doc), &o, e)) < 0 || (r = json_check_keys(o, keys, e)) < 0 ||
            (r = json_get_string(o, "agent", true, &agent, e)) < 0 ||
            (r = json_get_object(o, "params", false, &params, e)) < 0)
                return r;
        if (params && json_object_object_get_ex(params, "action", NULL))
                return err_set(e, -EINVAL, "params.action: set by clusterd (off), not a parameter");
        const char *rest = startswith(agent, "fence_");
        if (!rest || !rest[0] || strlen(agent) > FENCE_AGENT_MAX ||
            strspn(rest, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(rest))
                return err_set(e, -EINVAL, "agent: '%s' is not a fence agent name (fence_...)", agent);
        if (params) {
                json_object_object_foreach(params, k, v) {
                        if (!json_object_is_type(v, json_type_string) || strchr(json_object_get_string(v), '\n') ||
                            strchr(k, '=') || strchr(k, '\n'))
                                return err_set(e, -EINVAL, "params.%s: expected a one-line string", k);
                }
        }
        *ret = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        return 0;
}

int apply_node_fence_set(struct apply *a) {
        const struct op *op = a->op;
        struct db_node_props p = {};
        _cleanup_free_ char *doc = NULL;
        struct err e = {};
        int r;

        if (op->doc && op->doc[0] && check_fence_doc(op->doc, &doc, &e) < 0)
                return apply_refuse(a, -EINVAL, "fence agent for node '%s': %s", op->name, e.msg);
        if ((r = props_get(a, op->name, &p)) != 0)
                return r < 0 ? r : 0;
        free(p.fence);
        p.fence = TAKE_PTR(doc);
        bool set = p.fence != NULL;
        r = db_node_props_store(a->db, &p);
        db_node_props_done(&p);
        if (r < 0)
                return r;
        return apply_add_event(a, "node.fencing", op->name, "Node '%s': fence agent %s", op->name,
                               set ? "configured" : "removed");
}
