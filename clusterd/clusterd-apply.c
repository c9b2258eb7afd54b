/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-apply.c: applying one delivered operation to the database.
 *
 * Every member runs this on the same operations in the same order, so it
 * must be deterministic: it reads only the database and the operation
 * (time comes from the op, never from this node's clock), and a change it
 * refuses is refused the same way everywhere.
 */
#include <sqlite3.h>

#include "clusterd/apply-int.h"
#include "clusterd/settings-int.h"

/* Events are pruned in steps so that the cost is not paid on every op. */
#define PRUNE_EVERY 100

int apply_refuse(struct apply *a, int r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->res->message, sizeof(a->res->message), fmt, ap);
        va_end(ap);
        a->res->r = r;
        return 0; /* storage is fine: the op is applied as a no-op */
}

int apply_add_event(struct apply *a, const char *kind, const char *object, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;

        sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO events (id, time_usec, node, client, kind, object, message)"
                                          " VALUES (?, ?, ?, ?, ?, ?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)a->version);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)a->op->time_usec);
        sqlite3_bind_text(st, 3, a->origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, a->op->client ? a->op->client : "unknown", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, kind, -1, SQLITE_STATIC);
        if (object)
                sqlite3_bind_text(st, 6, object, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 7, msg, -1, SQLITE_STATIC);
        return db_exec_stmt(a->db, st);
}

static int prune_events(struct apply *a) {
        const struct setting_def *d;
        _cleanup_free_ char *value = NULL;
        int64_t max;

        if (a->version % PRUNE_EVERY != 0)
                return 0;
        if (settings_lookup("events.max-entries", &d, NULL) < 0)
                return 0;
        if (db_setting_get(a->db, d->key, &value, NULL, NULL) < 0)
                value = xstrdup(d->default_value);
        max = setting_int(d, value, 10000);

        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC"
                                          " LIMIT 1 OFFSET ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, max);
        return db_exec_stmt(a->db, st);
}

static int apply_setting_set(struct apply *a) {
        const struct op *op = a->op;
        const struct setting_def *d;
        _cleanup_free_ char *canonical = NULL;
        struct err e = {};

        if (settings_lookup(op->key, &d, &e) < 0 ||
            setting_normalize(d, op->key, op->value ? op->value : "", &canonical, &e) < 0)
                return apply_refuse(a, e.code, "%s", e.msg);

        sqlite3_stmt *st = db_stmt(a->db, "INSERT OR REPLACE INTO settings (key, value, updated_usec, updated_by)"
                                          " VALUES (?, ?, ?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, canonical, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)op->time_usec);
        sqlite3_bind_text(st, 4, op->client ? op->client : "unknown", -1, SQLITE_STATIC);
        int r = db_exec_stmt(a->db, st);
        if (r < 0)
                return r;
        return apply_add_event(a, "setting.set", op->key, "Setting '%s' set to '%s'", op->key, canonical);
}

static int apply_setting_unset(struct apply *a) {
        const struct op *op = a->op;
        const struct setting_def *d;
        struct err e = {};
        int r;

        if (settings_lookup(op->key, &d, &e) < 0)
                return apply_refuse(a, e.code, "%s", e.msg);
        r = db_setting_get(a->db, op->key, NULL, NULL, NULL);
        if (r == -ENOENT && setting_is_user(d))
                return apply_refuse(a, -ENOENT, "setting '%s' is not set", op->key);
        if (r < 0 && r != -ENOENT)
                return r;

        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM settings WHERE key = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->key, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        if (setting_is_user(d))
                return apply_add_event(a, "setting.unset", op->key, "Setting '%s' removed", op->key);
        return apply_add_event(a, "setting.unset", op->key, "Setting '%s' reset to its default '%s'", op->key,
                               d->default_value);
}

int apply_exists(struct apply *a, const char *sql, const char *text, int64_t number) {
        sqlite3_stmt *st = db_stmt(a->db, sql);
        if (!st)
                return -EIO;
        if (text)
                sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        else
                sqlite3_bind_int64(st, 1, number);
        int rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc == SQLITE_ROW)
                return 1;
        return rc == SQLITE_DONE ? 0 : db_errno(a->db, rc);
}

static int apply_node_add(struct apply *a) {
        const struct op *op = a->op;
        int r;

        if (!name_is_valid(op->name))
                return apply_refuse(a, -EINVAL, "invalid node name '%s'", op->name);
        if (op->nodeid == 0)
                return apply_refuse(a, -EINVAL, "node id 0 is reserved");
        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", op->name, 0)) != 0)
                return r < 0 ? r : apply_refuse(a, -EEXIST, "a node named '%s' already exists", op->name);
        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE nodeid = ?", NULL, op->nodeid)) != 0)
                return r < 0 ? r : apply_refuse(a, -EEXIST, "node id %" PRIu32 " is already used", op->nodeid);
        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE address = ?", op->address, 0)) != 0)
                return r < 0 ? r
                             : apply_refuse(a, -EEXIST, "address '%s' is already used by another node", op->address);

        struct db_node n = {
                .name = op->name,
                .nodeid = op->nodeid,
                .address = op->address,
                .added_usec = op->time_usec,
                .state = NODE_STATE_JOINING,
                .state_since_usec = op->time_usec,
                .daemon = false,
                .daemon_since_usec = op->time_usec,
                .join_token_id = op->token_id,
                .join_expires_usec = op->expires_usec,
        };
        memcpy(n.join_hash, op->secret_hash, OP_HASH_SIZE);
        if ((r = db_insert_node(a->db, &n)) < 0)
                return r;
        return apply_add_event(a, "node.added", op->name, "Node '%s' (id %" PRIu32 ", address %s) added", op->name,
                               op->nodeid, op->address);
}

static int apply_node_remove(struct apply *a) {
        const struct op *op = a->op;
        int r;

        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", op->name, 0)) <= 0)
                return r < 0 ? r : apply_refuse(a, -ENOENT, "no node named '%s'", op->name);
        if ((r = apply_exists(a, "SELECT 1 FROM roles WHERE active_node = ?", op->name, 0)) != 0)
                return r < 0 ? r
                             : apply_refuse(a, -EBUSY,
                                            "roles are active on node '%s'; move them away first ('clusterctl node "
                                            "pause %s --drain')",
                                            op->name, op->name);
        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE name != ?", op->name, 0)) <= 0)
                return r < 0 ? r
                             : apply_refuse(a, -EBUSY, "'%s' is the cluster's last node and cannot be removed",
                                            op->name);

        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM nodes WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        st = db_stmt(a->db, "DELETE FROM node_props WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        return apply_add_event(a, "node.removed", op->name, "Node '%s' removed from the cluster", op->name);
}

static int node_state_event(struct apply *a, const struct db_node *old) {
        const struct op *op = a->op;
        bool state_changed = old->state != (enum node_state)op->state;
        bool daemon_changed = old->daemon != (op->daemon != 0);
        const char *daemon_text = op->daemon ? "clusterd running" : "clusterd stopped";

        if (state_changed && op->state == NODE_STATE_ONLINE && old->state == NODE_STATE_JOINING)
                return apply_add_event(a, "node.joined", op->name, "Node '%s' joined the cluster (%s)", op->name,
                                       daemon_text);
        if (state_changed && op->state == NODE_STATE_ONLINE)
                return apply_add_event(a, "node.online", op->name, "Node '%s' is online (%s)", op->name, daemon_text);
        if (state_changed && old->state == NODE_STATE_JOINING)
                return apply_add_event(a, "node.offline", op->name, "Node '%s' joined and is offline again", op->name);
        if (state_changed)
                return apply_add_event(a, "node.offline", op->name, "Node '%s' is offline", op->name);
        if (daemon_changed)
                return apply_add_event(a, op->daemon ? "node.clusterd-running" : "node.clusterd-stopped", op->name,
                                       "Node '%s': %s", op->name, daemon_text);
        return 0;
}

static int apply_node_vote(struct apply *a) {
        const struct op *op = a->op;
        struct db_node old = {};
        int r;

        if (op->state > 1)
                return apply_refuse(a, -EINVAL, "invalid vote %u", op->state);
        r = db_node_get(a->db, op->name, &old);
        if (r == -ENOENT)
                return apply_refuse(a, -ENOENT, "no node named '%s'", op->name);
        if (r < 0)
                return r;
        bool was = old.vote;
        db_node_done(&old);
        if (was == (op->state != 0))
                return 0;
        /* The last node with a vote keeps it, whoever asks: two nodes that
         * leave at once cannot both take theirs away. */
        if (!op->state && (r = apply_exists(a, "SELECT 1 FROM nodes WHERE vote = 1 AND name != ?", op->name, 0)) <= 0)
                return r < 0 ? r
                             : apply_refuse(a, -EBUSY, "node '%s' is the last node with a vote and keeps it", op->name);
        sqlite3_stmt *st = db_stmt(a->db, "UPDATE nodes SET vote = ? WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_int(st, 1, op->state != 0);
        sqlite3_bind_text(st, 2, op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        if (op->state)
                return apply_add_event(a, "node.vote-restored", op->name,
                                       "Node '%s' is back: its vote counts towards the majority again", op->name);
        return apply_add_event(a, "node.left", op->name,
                               "Node '%s' left cleanly: its vote no longer counts towards the majority", op->name);
}

static int apply_node_state(struct apply *a) {
        const struct op *op = a->op;
        struct db_node old = {};
        int r;

        if (op->state > NODE_STATE_OFFLINE)
                return apply_refuse(a, -EINVAL, "invalid node state %u", op->state);
        r = db_node_get(a->db, op->name, &old);
        if (r == -ENOENT)
                return apply_refuse(a, -ENOENT, "no node named '%s'", op->name);
        if (r < 0)
                return r;

        /* Once a node has joined (it is no longer "joining"), its join token
         * is of no further use. */
        sqlite3_stmt *st = db_stmt(a->db, "UPDATE nodes SET state = ?1, state_since_usec = ?2, daemon = ?3,"
                                          " daemon_since_usec = ?4,"
                                          " join_token_id = CASE WHEN ?1 != 0 THEN NULL ELSE join_token_id END,"
                                          " join_hash = CASE WHEN ?1 != 0 THEN NULL ELSE join_hash END,"
                                          " join_expires_usec = CASE WHEN ?1 != 0 THEN NULL ELSE join_expires_usec END"
                                          " WHERE name = ?5");
        if (!st) {
                db_node_done(&old);
                return -EIO;
        }
        sqlite3_bind_int(st, 1, op->state);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)op->since_usec);
        sqlite3_bind_int(st, 3, op->daemon != 0);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)op->daemon_since_usec);
        sqlite3_bind_text(st, 5, op->name, -1, SQLITE_STATIC);
        r = db_exec_stmt(a->db, st);
        if (r >= 0)
                r = node_state_event(a, &old);
        db_node_done(&old);
        return r;
}

static int apply_join_token(struct apply *a) {
        const struct op *op = a->op;
        int r;

        if ((r = apply_exists(a, "SELECT 1 FROM nodes WHERE name = ?", op->name, 0)) <= 0)
                return r < 0 ? r : apply_refuse(a, -ENOENT, "no node named '%s'", op->name);
        sqlite3_stmt *st = db_stmt(a->db, "UPDATE nodes SET join_token_id = ?, join_hash = ?, join_expires_usec = ?"
                                          " WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->token_id, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op->secret_hash, OP_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)op->expires_usec);
        sqlite3_bind_text(st, 4, op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        return apply_add_event(a, "node.join-token", op->name, "New join token issued for node '%s'", op->name);
}

static int apply_token_create(struct apply *a) {
        const struct op *op = a->op;
        int r;

        if (!name_is_valid(op->name))
                return apply_refuse(a, -EINVAL, "invalid token name '%s'", op->name);
        if ((r = apply_exists(a, "SELECT 1 FROM api_tokens WHERE name = ?", op->name, 0)) != 0)
                return r < 0 ? r : apply_refuse(a, -EEXIST, "a token named '%s' already exists", op->name);
        sqlite3_stmt *st = db_stmt(a->db, "INSERT INTO api_tokens (name, hash, created_usec, created_by)"
                                          " VALUES (?, ?, ?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->name, -1, SQLITE_STATIC);
        sqlite3_bind_blob(st, 2, op->secret_hash, OP_HASH_SIZE, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)op->time_usec);
        sqlite3_bind_text(st, 4, op->client ? op->client : "unknown", -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        return apply_add_event(a, "token.created", op->name, "API token '%s' created", op->name);
}

static int apply_token_delete(struct apply *a) {
        const struct op *op = a->op;
        int r;

        if ((r = apply_exists(a, "SELECT 1 FROM api_tokens WHERE name = ?", op->name, 0)) <= 0)
                return r < 0 ? r : apply_refuse(a, -ENOENT, "no token named '%s'", op->name);
        sqlite3_stmt *st = db_stmt(a->db, "DELETE FROM api_tokens WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, op->name, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        return apply_add_event(a, "token.deleted", op->name, "API token '%s' deleted", op->name);
}

static int apply_event(struct apply *a) {
        return apply_add_event(a, a->op->event_kind, a->op->event_object, "%s", a->op->event_message);
}

static int record_refusal(struct apply *a, uint32_t origin_nodeid) {
        sqlite3_stmt *st = db_stmt(a->db, "INSERT OR REPLACE INTO refusals (nodeid, seq, code, message)"
                                          " VALUES (?, ?, ?, ?)");
        int r;
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, origin_nodeid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)a->op->origin_seq);
        sqlite3_bind_int(st, 3, a->res->r);
        sqlite3_bind_text(st, 4, a->res->message, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(a->db, st)) < 0)
                return r;
        st = db_stmt(a->db, "DELETE FROM refusals WHERE nodeid = ? AND seq < ?");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, origin_nodeid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)(a->op->origin_seq > 1000 ? a->op->origin_seq - 1000 : 0));
        return db_exec_stmt(a->db, st);
}

static int origin_name(struct apply *a, uint32_t nodeid) {
        struct db_node n = {};
        int r = db_node_by_id(a->db, nodeid, &n);
        if (r == -ENOENT) {
                snprintf(a->origin, sizeof(a->origin), "node%" PRIu32, nodeid);
                return 0;
        }
        if (r < 0)
                return r;
        snprintf(a->origin, sizeof(a->origin), "%s", n.name);
        db_node_done(&n);
        return 0;
}

int db_apply_op(struct db *db, uint32_t origin_nodeid, const struct op *op, const void *raw, size_t raw_size,
                struct op_result *ret) {
        struct db_position pos = *db_position(db);
        struct apply a = { .db = db, .op = op, .res = ret };
        int r;

        pos.version++;
        pos.hash = siphash24(pos.hash, origin_nodeid, raw, raw_size);
        pos.epoch = MAX(pos.epoch, op->epoch);
        a.version = pos.version;
        *ret = (struct op_result){ .version = pos.version };

        if ((r = db_store_position(db, &pos)) < 0)
                return r;
        sqlite3_stmt *st = db_stmt(db, "INSERT OR REPLACE INTO origins (nodeid, seq) VALUES (?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, origin_nodeid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)op->origin_seq);
        if ((r = db_exec_stmt(db, st)) < 0 || (r = origin_name(&a, origin_nodeid)) < 0)
                return r;

        switch (op->kind) {
        case OP_SETTING_SET:
                r = apply_setting_set(&a);
                break;
        case OP_SETTING_UNSET:
                r = apply_setting_unset(&a);
                break;
        case OP_NODE_ADD:
                r = apply_node_add(&a);
                break;
        case OP_NODE_REMOVE:
                r = apply_node_remove(&a);
                break;
        case OP_NODE_STATE:
                r = apply_node_state(&a);
                break;
        case OP_JOIN_TOKEN:
                r = apply_join_token(&a);
                break;
        case OP_TOKEN_CREATE:
                r = apply_token_create(&a);
                break;
        case OP_TOKEN_DELETE:
                r = apply_token_delete(&a);
                break;
        case OP_EVENT:
                r = apply_event(&a);
                break;
        case OP_ROLE_PUT:
                r = apply_role_put(&a);
                break;
        case OP_ROLE_DELETE:
                r = apply_role_delete(&a);
                break;
        case OP_ROLE_ADMIN:
                r = apply_role_admin(&a);
                break;
        case OP_ROLE_PLACE:
                r = apply_role_place(&a);
                break;
        case OP_ROLE_STATUS:
                r = apply_role_status(&a);
                break;
        case OP_NODE_PROPS:
                r = apply_node_props(&a);
                break;
        case OP_NODE_PAUSE:
                r = apply_node_pause(&a);
                break;
        case OP_NODE_FENCED:
                r = apply_node_fenced(&a);
                break;
        case OP_NODE_FENCE_SET:
                r = apply_node_fence_set(&a);
                break;
        case OP_NODE_VOTE:
                r = apply_node_vote(&a);
                break;
        default:
                r = apply_refuse(&a, -EINVAL, "unknown operation kind %d", (int)op->kind);
                break;
        }
        if (r < 0)
                return r;
        if (ret->r < 0 && (r = record_refusal(&a, origin_nodeid)) < 0)
                return r;
        return prune_events(&a);
}
