/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-db-roles.c: reading and writing the roles and node_props tables.
 * Lists inside a row (failure times, nodes to avoid) are stored as JSON
 * arrays: they are short, and always read and written whole.
 */
#include <sqlite3.h>

#include "clusterd/db-int.h"

#define ROLE_COLUMNS                                                                                                   \
        "name, definition, created_usec, updated_usec, updated_by, want_started, move_to, owner, active_node,"         \
        " placed_usec, reason, status, status_node, status_message, status_usec, failures, failed, avoid"

void db_role_done(struct db_role *r) {
        if (!r)
                return;
        free(r->name);
        free(r->definition);
        free(r->updated_by);
        free(r->move_to);
        free(r->owner);
        free(r->active_node);
        free(r->reason);
        free(r->status);
        free(r->status_node);
        free(r->status_message);
        free(r->failures);
        strv_free(r->avoid);
        *r = (struct db_role){};
}

void db_roles_free(struct db_role *r, size_t n) {
        for (size_t i = 0; i < n; i++)
                db_role_done(&r[i]);
        free(r);
}

static char *column_text(sqlite3_stmt *st, int c) {
        const unsigned char *s = sqlite3_column_text(st, c);
        return s ? xstrdup((const char *)s) : NULL;
}

/* A JSON array column; anything unreadable counts as empty (the column is
 * only ever written by this file). */
static json_object *column_array(sqlite3_stmt *st, int c) {
        const char *s = (const char *)sqlite3_column_text(st, c);
        json_object *o = s ? json_tokener_parse(s) : NULL;
        if (o && json_object_is_type(o, json_type_array))
                return o;
        json_object_put(o);
        return json_object_new_array();
}

static void read_role(sqlite3_stmt *st, struct db_role *r) {
        json_object *a;

        *r = (struct db_role){
                .name = column_text(st, 0),
                .definition = column_text(st, 1),
                .created_usec = (uint64_t)sqlite3_column_int64(st, 2),
                .updated_usec = (uint64_t)sqlite3_column_int64(st, 3),
                .updated_by = column_text(st, 4),
                .want_started = sqlite3_column_int(st, 5) != 0,
                .move_to = column_text(st, 6),
                .owner = column_text(st, 7),
                .active_node = column_text(st, 8),
                .placed_usec = (uint64_t)sqlite3_column_int64(st, 9),
                .reason = column_text(st, 10),
                .status = column_text(st, 11),
                .status_node = column_text(st, 12),
                .status_message = column_text(st, 13),
                .status_usec = (uint64_t)sqlite3_column_int64(st, 14),
                .failed = sqlite3_column_int(st, 16) != 0,
        };
        a = column_array(st, 15);
        r->n_failures = MIN(json_object_array_length(a), (size_t)ROLE_FAILURES_KEPT);
        r->failures = xcalloc(r->n_failures + 1, sizeof(uint64_t));
        for (size_t i = 0; i < r->n_failures; i++)
                r->failures[i] = (uint64_t)json_object_get_int64(json_object_array_get_idx(a, i));
        json_object_put(a);
        a = column_array(st, 17);
        r->avoid = xcalloc(1, sizeof(char *));
        for (size_t i = 0; i < json_object_array_length(a); i++) {
                const char *s = json_object_get_string(json_object_array_get_idx(a, i));
                if (s && !strv_contains(r->avoid, s))
                        strv_push(&r->avoid, s);
        }
        json_object_put(a);
}

int db_roles(struct db *db, struct db_role **ret, size_t *ret_n) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " ROLE_COLUMNS " FROM roles ORDER BY name");
        struct db_role *roles = NULL;
        size_t n = 0, alloc = 0;
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (n == alloc) {
                        alloc = MAX(alloc * 2, 16);
                        roles = xrealloc(roles, alloc * sizeof(*roles));
                }
                read_role(st, &roles[n++]);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                db_roles_free(roles, n);
                return db_errno(db, rc);
        }
        *ret = roles;
        *ret_n = n;
        return 0;
}

int db_role_get(struct db *db, const char *name, struct db_role *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " ROLE_COLUMNS " FROM roles WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0)
                read_role(st, ret);
        sqlite3_reset(st);
        return r;
}

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
        if (s)
                sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
        else
                sqlite3_bind_null(st, i);
}

int db_role_store(struct db *db, const struct db_role *r) {
        sqlite3_stmt *st = db_stmt(db, "INSERT OR REPLACE INTO roles (" ROLE_COLUMNS ") VALUES"
                                       " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        _cleanup_(json_object_putp) json_object *fail = json_object_new_array();
        _cleanup_(json_object_putp) json_object *avoid = json_object_new_array();

        if (!st)
                return -EIO;
        for (size_t i = 0; i < r->n_failures; i++)
                json_object_array_add(fail, json_object_new_int64((int64_t)r->failures[i]));
        for (char **p = r->avoid; p && *p; p++)
                json_object_array_add(avoid, json_object_new_string(*p));
        sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, r->definition, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)r->created_usec);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)r->updated_usec);
        sqlite3_bind_text(st, 5, strempty(r->updated_by), -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 6, r->want_started);
        bind_text_or_null(st, 7, r->move_to);
        bind_text_or_null(st, 8, r->owner);
        bind_text_or_null(st, 9, r->active_node);
        sqlite3_bind_int64(st, 10, (sqlite3_int64)r->placed_usec);
        sqlite3_bind_text(st, 11, strempty(r->reason), -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 12, r->status ? r->status : "stopped", -1, SQLITE_STATIC);
        bind_text_or_null(st, 13, r->status_node);
        sqlite3_bind_text(st, 14, strempty(r->status_message), -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 15, (sqlite3_int64)r->status_usec);
        sqlite3_bind_text(st, 16, json_object_to_json_string_ext(fail, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 17, r->failed);
        sqlite3_bind_text(st, 18, json_object_to_json_string_ext(avoid, JSON_C_TO_STRING_PLAIN), -1, SQLITE_TRANSIENT);
        return db_exec_stmt(db, st);
}

/* ------------------------------------------------------------------------ */

#define PROPS_COLUMNS "name, memory_mib, cpus, watchdog_usec, pause, fence, updated_usec"

void db_node_props_done(struct db_node_props *p) {
        if (!p)
                return;
        free(p->name);
        free(p->fence);
        *p = (struct db_node_props){};
}

void db_node_props_free(struct db_node_props *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                db_node_props_done(&p[i]);
        free(p);
}

static void read_props(sqlite3_stmt *st, struct db_node_props *p) {
        int pause = sqlite3_column_int(st, 4);
        *p = (struct db_node_props){
                .name = column_text(st, 0),
                .memory_mib = (uint64_t)sqlite3_column_int64(st, 1),
                .cpus = (uint32_t)sqlite3_column_int64(st, 2),
                .watchdog_usec = (uint64_t)sqlite3_column_int64(st, 3),
                .pause = pause == DB_PAUSE || pause == DB_PAUSE_DRAIN ? (enum db_pause)pause : DB_PAUSE_NONE,
                .fence = column_text(st, 5),
                .updated_usec = (uint64_t)sqlite3_column_int64(st, 6),
        };
}

int db_node_props_all(struct db *db, struct db_node_props **ret, size_t *ret_n) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " PROPS_COLUMNS " FROM node_props ORDER BY name");
        struct db_node_props *p = NULL;
        size_t n = 0;
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                p = xrealloc(p, (n + 1) * sizeof(*p));
                read_props(st, &p[n++]);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                db_node_props_free(p, n);
                return db_errno(db, rc);
        }
        *ret = p;
        *ret_n = n;
        return 0;
}

int db_node_props_get(struct db *db, const char *name, struct db_node_props *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " PROPS_COLUMNS " FROM node_props WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0)
                read_props(st, ret);
        sqlite3_reset(st);
        return r;
}

int db_node_props_store(struct db *db, const struct db_node_props *p) {
        sqlite3_stmt *st = db_stmt(db, "INSERT OR REPLACE INTO node_props (" PROPS_COLUMNS ")"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, p->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)p->memory_mib);
        sqlite3_bind_int64(st, 3, p->cpus);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)p->watchdog_usec);
        sqlite3_bind_int(st, 5, (int)p->pause);
        bind_text_or_null(st, 6, p->fence);
        sqlite3_bind_int64(st, 7, (sqlite3_int64)p->updated_usec);
        return db_exec_stmt(db, st);
}
