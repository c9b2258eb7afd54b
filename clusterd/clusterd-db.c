/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-db.c: opening, migrating and querying the node's copy of the
 * cluster database. Applying operations is in clusterd-apply.c, snapshots
 * in clusterd-snapshot.c.
 */
#include <sqlite3.h>

#include "clusterd/db-int.h"

#define STMT_CACHE_SIZE 64

struct db {
        sqlite3 *sql;           /* owned */
        struct db_position pos; /* cached copy of the position row */
        char last_error[256];   /* message of the last failed call */
        struct {
                const char *sql;  /* the literal's address is the key */
                sqlite3_stmt *st; /* owned */
        } stmts[STMT_CACHE_SIZE];
};

/* Schema migrations: entry i brings the schema from version i to i+1. New
 * versions only ever append an entry. */
static const char *const migrations[] = {
        /* 0 -> 1 */
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        "CREATE TABLE position (id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL,"
        "  version INTEGER NOT NULL, hash INTEGER NOT NULL);"
        "INSERT INTO position VALUES (1, 0, 0, 0);"
        "CREATE TABLE nodes (name TEXT PRIMARY KEY, nodeid INTEGER NOT NULL UNIQUE,"
        "  address TEXT NOT NULL UNIQUE, added_usec INTEGER NOT NULL, state INTEGER NOT NULL,"
        "  state_since_usec INTEGER NOT NULL, daemon INTEGER NOT NULL, daemon_since_usec INTEGER NOT NULL,"
        "  join_token_id TEXT, join_hash BLOB, join_expires_usec INTEGER);"
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_usec INTEGER NOT NULL,"
        "  updated_by TEXT NOT NULL);"
        "CREATE TABLE events (id INTEGER PRIMARY KEY, time_usec INTEGER NOT NULL, node TEXT NOT NULL,"
        "  client TEXT NOT NULL, kind TEXT NOT NULL, object TEXT, message TEXT NOT NULL);"
        "CREATE TABLE api_tokens (name TEXT PRIMARY KEY, hash BLOB NOT NULL, created_usec INTEGER NOT NULL,"
        "  created_by TEXT NOT NULL);"
        "CREATE TABLE origins (nodeid INTEGER PRIMARY KEY, seq INTEGER NOT NULL);"
        "CREATE TABLE refusals (nodeid INTEGER NOT NULL, seq INTEGER NOT NULL, code INTEGER NOT NULL,"
        "  message TEXT NOT NULL, PRIMARY KEY (nodeid, seq));",
        /* 1 -> 2: roles. owner is where the leader wants the role; active_node
         * is where it may be running (set by the executors' reports, cleared
         * by a stop report or by fencing), so that a role is started on its
         * new owner only once it runs nowhere else. */
        "CREATE TABLE roles (name TEXT PRIMARY KEY, definition TEXT NOT NULL, created_usec INTEGER NOT NULL,"
        "  updated_usec INTEGER NOT NULL, updated_by TEXT NOT NULL, want_started INTEGER NOT NULL,"
        "  move_to TEXT, owner TEXT, active_node TEXT, placed_usec INTEGER NOT NULL, reason TEXT NOT NULL,"
        "  status TEXT NOT NULL, status_node TEXT, status_message TEXT NOT NULL, status_usec INTEGER NOT NULL,"
        "  failures TEXT NOT NULL, failed INTEGER NOT NULL, avoid TEXT NOT NULL);"
        "CREATE TABLE node_props (name TEXT PRIMARY KEY, memory_mib INTEGER NOT NULL, cpus INTEGER NOT NULL,"
        "  watchdog_usec INTEGER NOT NULL, pause INTEGER NOT NULL, fence TEXT, updated_usec INTEGER NOT NULL);",
        /* 2 -> 3: dynamic quorum. vote is 0 for a node that left cleanly:
         * its vote no longer counts towards the majority. */
        "ALTER TABLE nodes ADD COLUMN vote INTEGER NOT NULL DEFAULT 1;",
};

sqlite3 *db_sqlite(struct db *db) {
        return db->sql;
}

const char *db_last_error(struct db *db) {
        return db->last_error[0] ? db->last_error : "no error";
}

int db_errno(struct db *db, int rc) {
        snprintf(db->last_error, sizeof(db->last_error), "%s (%s)", sqlite3_errmsg(db->sql), sqlite3_errstr(rc));
        switch (rc & 0xff) {
        case SQLITE_OK:
        case SQLITE_DONE:
        case SQLITE_ROW:
                return 0;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_READONLY:
                return -EROFS;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EUCLEAN;
        case SQLITE_PERM:
        case SQLITE_AUTH:
                return -EACCES;
        case SQLITE_TOOBIG:
                return -E2BIG;
        default:
                return -EIO;
        }
}

sqlite3_stmt *db_stmt(struct db *db, const char *sql) {
        size_t i;
        for (i = 0; i < STMT_CACHE_SIZE && db->stmts[i].sql; i++)
                if (db->stmts[i].sql == sql) {
                        sqlite3_reset(db->stmts[i].st);
                        sqlite3_clear_bindings(db->stmts[i].st);
                        return db->stmts[i].st;
                }
        if (i == STMT_CACHE_SIZE) {
                /* A programming error: more distinct statements than slots. */
                snprintf(db->last_error, sizeof(db->last_error), "statement cache full");
                return NULL;
        }
        int rc = sqlite3_prepare_v3(db->sql, sql, -1, SQLITE_PREPARE_PERSISTENT, &db->stmts[i].st, NULL);
        if (rc != SQLITE_OK) {
                db_errno(db, rc);
                return NULL;
        }
        db->stmts[i].sql = sql;
        return db->stmts[i].st;
}

int db_exec_stmt(struct db *db, sqlite3_stmt *st) {
        if (!st)
                return -EIO;
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(db, rc);
        sqlite3_reset(st);
        return r;
}

static int exec(struct db *db, const char *sql) {
        int rc = sqlite3_exec(db->sql, sql, NULL, NULL, NULL);
        return rc == SQLITE_OK ? 0 : db_errno(db, rc);
}

static int get_user_version(struct db *db, int *ret) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db->sql, "PRAGMA user_version", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return db_errno(db, rc);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : db_errno(db, rc);
}

static int migrate(struct db *db, struct err *e) {
        int version = 0, r;

        r = get_user_version(db, &version);
        if (r < 0)
                return err_set(e, r, "cannot read schema version: %s", db->last_error);
        if (version > (int)ELEMENTSOF(migrations))
                return err_set(e, -EPROTONOSUPPORT,
                               "database schema version %d is newer than this clusterd understands (%d)", version,
                               (int)ELEMENTSOF(migrations));
        for (int v = version; v < (int)ELEMENTSOF(migrations); v++) {
                char pragma[64];
                snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d;", v + 1);
                if ((r = exec(db, "BEGIN IMMEDIATE")) < 0 || (r = exec(db, migrations[v])) < 0 ||
                    (r = exec(db, pragma)) < 0 || (r = exec(db, "COMMIT")) < 0) {
                        (void)exec(db, "ROLLBACK");
                        return err_set(e, r, "migrating the schema from version %d failed: %s", v, db->last_error);
                }
        }
        return 0;
}

static int load_position(struct db *db) {
        sqlite3_stmt *st = db_stmt(db, "SELECT epoch, version, hash FROM position WHERE id = 1");
        if (!st)
                return -EIO;
        int rc = sqlite3_step(st);
        if (rc != SQLITE_ROW)
                return rc == SQLITE_DONE ? -EUCLEAN : db_errno(db, rc);
        db->pos.epoch = (uint64_t)sqlite3_column_int64(st, 0);
        db->pos.version = (uint64_t)sqlite3_column_int64(st, 1);
        db->pos.hash = (uint64_t)sqlite3_column_int64(st, 2);
        sqlite3_reset(st);
        return 0;
}

int db_open(const char *path, enum db_sync_mode mode, struct db **ret, struct err *e) {
        struct db *db = xcalloc(1, sizeof(*db));
        int rc, r;

        rc = sqlite3_open_v2(path, &db->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
        if (rc != SQLITE_OK) {
                r = err_set(e, db->sql ? db_errno(db, rc) : -ENOMEM, "cannot open database '%s': %s", path,
                            db->sql ? sqlite3_errmsg(db->sql) : "out of memory");
                goto fail;
        }
        sqlite3_extended_result_codes(db->sql, 1);
        /* WAL lets readers run while a commit is being fsynced, and makes a
         * commit one sequential append. */
        /* clusterd is the only user of its database (the lock file keeps a
         * second daemon away): exclusive locking spares two fcntl() locks
         * per transaction and keeps the WAL index in memory. */
        if ((r = exec(db, "PRAGMA locking_mode = EXCLUSIVE")) < 0 || (r = exec(db, "PRAGMA journal_mode = WAL")) < 0 ||
            (r = exec(db, mode == DB_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL")) < 0 ||
            (r = exec(db, "PRAGMA foreign_keys = ON")) < 0 || (r = exec(db, "PRAGMA busy_timeout = 5000")) < 0) {
                err_set(e, r, "cannot configure database '%s': %s", path, db->last_error);
                goto fail;
        }
        if ((r = migrate(db, e)) < 0) {
                err_set(e, r, "database '%s'", path);
                goto fail;
        }
        if ((r = load_position(db)) < 0) {
                err_set(e, r, "database '%s': cannot read its position: %s", path, db->last_error);
                goto fail;
        }
        *ret = db;
        return 0;
fail:
        db_close(db);
        return r;
}

struct db *db_close(struct db *db) {
        if (!db)
                return NULL;
        for (size_t i = 0; i < STMT_CACHE_SIZE && db->stmts[i].sql; i++)
                sqlite3_finalize(db->stmts[i].st);
        sqlite3_close(db->sql);
        free(db);
        return NULL;
}

/* ------------------------------------------------------------------------ */
/* Transactions and position                                                 */

int db_begin(struct db *db) {
        return exec(db, "BEGIN IMMEDIATE");
}

int db_commit(struct db *db) {
        return exec(db, "COMMIT");
}

void db_rollback(struct db *db) {
        if (db_in_transaction(db))
                (void)exec(db, "ROLLBACK");
        /* The cached position may be ahead of what is on disk now. */
        (void)load_position(db);
}

bool db_in_transaction(struct db *db) {
        return !sqlite3_get_autocommit(db->sql);
}

const struct db_position *db_position(struct db *db) {
        return &db->pos;
}

int db_store_position(struct db *db, const struct db_position *pos) {
        sqlite3_stmt *st = db_stmt(db, "UPDATE position SET epoch = ?, version = ?, hash = ? WHERE id = 1");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, (sqlite3_int64)pos->epoch);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)pos->version);
        sqlite3_bind_int64(st, 3, (sqlite3_int64)pos->hash);
        int r = db_exec_stmt(db, st);
        if (r >= 0)
                db->pos = *pos;
        return r;
}

int db_raise_epoch(struct db *db, uint64_t epoch) {
        struct db_position pos = db->pos;
        bool own = !db_in_transaction(db);
        int r;

        if (epoch <= pos.epoch)
                return 0;
        pos.epoch = epoch;
        if (own && (r = db_begin(db)) < 0)
                return r;
        r = db_store_position(db, &pos);
        if (own) {
                if (r >= 0)
                        r = db_commit(db);
                if (r < 0)
                        db_rollback(db);
        }
        return r;
}

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */

static int meta_get(struct db *db, const char *key, char *buf, size_t size) {
        sqlite3_stmt *st = db_stmt(db, "SELECT value FROM meta WHERE key = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0)
                snprintf(buf, size, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        return r;
}

static int meta_set(struct db *db, const char *key, const char *value) {
        sqlite3_stmt *st = db_stmt(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
        return db_exec_stmt(db, st);
}

int db_get_cluster(struct db *db, struct db_cluster *ret) {
        struct db_cluster c = {};
        char buf[32];
        uint64_t u;
        int r;

        if ((r = meta_get(db, "uuid", c.uuid, sizeof(c.uuid))) < 0 ||
            (r = meta_get(db, "name", c.name, sizeof(c.name))) < 0)
                return r;
        if (meta_get(db, "created_usec", buf, sizeof(buf)) >= 0 && parse_uint64(buf, &u) >= 0)
                c.created_usec = u;
        if (meta_get(db, "token_ms", buf, sizeof(buf)) >= 0 && parse_uint64(buf, &u) >= 0 && u <= UINT32_MAX)
                c.token_ms = (uint32_t)u;
        *ret = c;
        return 0;
}

static int insert_node(struct db *db, const struct db_node *n) {
        sqlite3_stmt *st = db_stmt(db, "INSERT INTO nodes (name, nodeid, address, added_usec, state, state_since_usec,"
                                       " daemon, daemon_since_usec, join_token_id, join_hash, join_expires_usec)"
                                       " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, n->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, n->nodeid);
        sqlite3_bind_text(st, 3, n->address, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 4, (sqlite3_int64)n->added_usec);
        sqlite3_bind_int(st, 5, (int)n->state);
        sqlite3_bind_int64(st, 6, (sqlite3_int64)n->state_since_usec);
        sqlite3_bind_int(st, 7, n->daemon);
        sqlite3_bind_int64(st, 8, (sqlite3_int64)n->daemon_since_usec);
        if (n->join_token_id) {
                sqlite3_bind_text(st, 9, n->join_token_id, -1, SQLITE_STATIC);
                sqlite3_bind_blob(st, 10, n->join_hash, OP_HASH_SIZE, SQLITE_STATIC);
                sqlite3_bind_int64(st, 11, (sqlite3_int64)n->join_expires_usec);
        }
        return db_exec_stmt(db, st);
}

int db_insert_node(struct db *db, const struct db_node *n) {
        return insert_node(db, n);
}

int db_create_cluster(struct db *db, const struct db_cluster *c, const struct db_node *nodes, size_t n_nodes,
                      const char *client, struct err *e) {
        _cleanup_free_ char *msg = NULL;
        struct db_cluster existing;
        sqlite3_stmt *st;
        char buf[32];
        int r;

        if (db_get_cluster(db, &existing) >= 0)
                return err_set(e, -EEXIST, "this node already belongs to cluster '%s'", existing.name);
        if ((r = db_begin(db)) < 0)
                return err_set(e, r, "cannot start a transaction: %s", db->last_error);

        if ((r = meta_set(db, "name", c->name)) < 0 || (r = meta_set(db, "uuid", c->uuid)) < 0)
                goto fail;
        snprintf(buf, sizeof(buf), "%" PRIu64, c->created_usec);
        if ((r = meta_set(db, "created_usec", buf)) < 0)
                goto fail;
        snprintf(buf, sizeof(buf), "%" PRIu32, c->token_ms);
        if ((r = meta_set(db, "token_ms", buf)) < 0)
                goto fail;
        for (size_t i = 0; i < n_nodes; i++)
                if ((r = insert_node(db, &nodes[i])) < 0)
                        goto fail;

        st = db_stmt(db, "INSERT INTO events (id, time_usec, node, client, kind, object, message)"
                         " VALUES (1, ?, ?, ?, 'cluster.created', ?, ?)");
        if (!st) {
                r = -EIO;
                goto fail;
        }
        msg = xasprintf("Cluster '%s' created with %zu node%s", c->name, n_nodes, n_nodes == 1 ? "" : "s");
        sqlite3_bind_int64(st, 1, (sqlite3_int64)c->created_usec);
        sqlite3_bind_text(st, 2, n_nodes > 0 ? nodes[0].name : "", -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, client, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 4, c->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 5, msg, -1, SQLITE_STATIC);
        if ((r = db_exec_stmt(db, st)) < 0)
                goto fail;

        /* Creation is the first operation of the cluster's history; its
         * hash seeds the chain. */
        struct db_position pos = { .epoch = 0, .version = 1 };
        pos.hash = siphash24(0, 0, c->uuid, strlen(c->uuid));
        if ((r = db_store_position(db, &pos)) < 0 || (r = db_commit(db)) < 0)
                goto fail;
        return 0;
fail:
        err_set(e, r, "cannot create the cluster in the database: %s", db->last_error);
        db_rollback(db);
        return r;
}

int db_prepare_join(struct db *db, const char *name, const char *uuid, struct err *e) {
        struct db_cluster existing;
        int r;

        if (db_get_cluster(db, &existing) >= 0)
                return err_set(e, -EEXIST, "this node already belongs to cluster '%s'", existing.name);
        if ((r = db_begin(db)) < 0 || (r = meta_set(db, "name", name)) < 0 || (r = meta_set(db, "uuid", uuid)) < 0 ||
            (r = db_store_position(db, &(struct db_position){})) < 0 || (r = db_commit(db)) < 0) {
                err_set(e, r, "cannot prepare the database for joining: %s", db->last_error);
                db_rollback(db);
                return r;
        }
        return 0;
}

int db_wipe(struct db *db) {
        int r;
        if ((r = db_begin(db)) < 0)
                return r;
        if ((r = exec(db, "DELETE FROM meta; DELETE FROM nodes; DELETE FROM settings; DELETE FROM events;"
                          "DELETE FROM api_tokens; DELETE FROM origins; DELETE FROM refusals;")) < 0 ||
            (r = db_store_position(db, &(struct db_position){})) < 0 || (r = db_commit(db)) < 0) {
                db_rollback(db);
                return r;
        }
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                     */

void db_node_done(struct db_node *n) {
        if (!n)
                return;
        free(n->name);
        free(n->address);
        free(n->join_token_id);
        *n = (struct db_node){};
}

void db_nodes_free(struct db_node *nodes, size_t n) {
        for (size_t i = 0; i < n; i++)
                db_node_done(&nodes[i]);
        free(nodes);
}

#define NODE_COLUMNS                                                                                                   \
        "name, nodeid, address, added_usec, state, state_since_usec, daemon, daemon_since_usec, join_token_id,"        \
        " join_hash, join_expires_usec, vote"

static void read_node(sqlite3_stmt *st, struct db_node *n) {
        *n = (struct db_node){
                .name = xstrdup((const char *)sqlite3_column_text(st, 0)),
                .nodeid = (uint32_t)sqlite3_column_int64(st, 1),
                .address = xstrdup((const char *)sqlite3_column_text(st, 2)),
                .added_usec = (uint64_t)sqlite3_column_int64(st, 3),
                .state = (enum node_state)sqlite3_column_int(st, 4),
                .state_since_usec = (uint64_t)sqlite3_column_int64(st, 5),
                .daemon = sqlite3_column_int(st, 6) != 0,
                .daemon_since_usec = (uint64_t)sqlite3_column_int64(st, 7),
                .vote = sqlite3_column_int(st, 11) != 0,
        };
        if (sqlite3_column_type(st, 8) == SQLITE_TEXT && sqlite3_column_bytes(st, 9) == OP_HASH_SIZE) {
                n->join_token_id = xstrdup((const char *)sqlite3_column_text(st, 8));
                memcpy(n->join_hash, sqlite3_column_blob(st, 9), OP_HASH_SIZE);
                n->join_expires_usec = (uint64_t)sqlite3_column_int64(st, 10);
        }
}

int db_nodes(struct db *db, struct db_node **ret, size_t *ret_n) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " NODE_COLUMNS " FROM nodes ORDER BY nodeid");
        struct db_node *nodes = NULL;
        size_t n = 0;
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                nodes = xrealloc(nodes, (n + 1) * sizeof(*nodes));
                read_node(st, &nodes[n++]);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                db_nodes_free(nodes, n);
                return db_errno(db, rc);
        }
        *ret = nodes;
        *ret_n = n;
        return 0;
}

static int node_query(struct db *db, sqlite3_stmt *st, struct db_node *ret) {
        if (!st)
                return -EIO;
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0)
                read_node(st, ret);
        sqlite3_reset(st);
        return r;
}

int db_node_get(struct db *db, const char *name, struct db_node *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " NODE_COLUMNS " FROM nodes WHERE name = ?");
        if (st)
                sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        return node_query(db, st, ret);
}

int db_node_by_id(struct db *db, uint32_t nodeid, struct db_node *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT " NODE_COLUMNS " FROM nodes WHERE nodeid = ?");
        if (st)
                sqlite3_bind_int64(st, 1, nodeid);
        return node_query(db, st, ret);
}

/* ------------------------------------------------------------------------ */
/* Settings, origins, events, tokens                                         */

int db_setting_get(struct db *db, const char *key, char **ret_value, uint64_t *ret_updated_usec,
                   char **ret_updated_by) {
        sqlite3_stmt *st = db_stmt(db, "SELECT value, updated_usec, updated_by FROM settings WHERE key = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0) {
                if (ret_value)
                        *ret_value = xstrdup((const char *)sqlite3_column_text(st, 0));
                if (ret_updated_usec)
                        *ret_updated_usec = (uint64_t)sqlite3_column_int64(st, 1);
                if (ret_updated_by)
                        *ret_updated_by = xstrdup((const char *)sqlite3_column_text(st, 2));
        }
        sqlite3_reset(st);
        return r;
}

int db_user_setting_keys(struct db *db, char ***ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT key FROM settings WHERE key LIKE 'user.%' ORDER BY key");
        char **keys = NULL;
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                strv_push(&keys, (const char *)sqlite3_column_text(st, 0));
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                strv_free(keys);
                return db_errno(db, rc);
        }
        if (!keys)
                keys = xcalloc(1, sizeof(char *));
        *ret = keys;
        return 0;
}

int db_origin_seq(struct db *db, uint32_t nodeid, uint64_t *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT seq FROM origins WHERE nodeid = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, nodeid);
        int rc = sqlite3_step(st);
        *ret = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(st, 0) : 0;
        sqlite3_reset(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(db, rc);
}

int db_events(struct db *db, bool has_since, uint64_t since, unsigned limit, const char *kind_prefix, db_event_fn fn,
              void *userdata) {
        /* Without "since" the newest `limit` events are wanted, oldest first:
         * select them newest first and reverse by the outer ORDER BY. */
        static const char *const sql_since =
                "SELECT id, time_usec, node, client, kind, object, message FROM events"
                " WHERE id > ?1 AND (?2 IS NULL OR substr(kind, 1, length(?2)) = ?2) ORDER BY id LIMIT ?3";
        static const char *const sql_latest =
                "SELECT * FROM (SELECT id, time_usec, node, client, kind, object, message FROM events"
                " WHERE (?2 IS NULL OR substr(kind, 1, length(?2)) = ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id";
        sqlite3_stmt *st = db_stmt(db, has_since ? sql_since : sql_latest);
        int rc, r = 0;

        if (!st)
                return -EIO;
        if (has_since)
                sqlite3_bind_int64(st, 1, (sqlite3_int64)since);
        if (kind_prefix)
                sqlite3_bind_text(st, 2, kind_prefix, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 3, (int)limit);
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                struct db_event ev = {
                        .id = (uint64_t)sqlite3_column_int64(st, 0),
                        .time_usec = (uint64_t)sqlite3_column_int64(st, 1),
                        .node = (const char *)sqlite3_column_text(st, 2),
                        .client = (const char *)sqlite3_column_text(st, 3),
                        .kind = (const char *)sqlite3_column_text(st, 4),
                        .object = (const char *)sqlite3_column_text(st, 5),
                        .message = (const char *)sqlite3_column_text(st, 6),
                };
                r = fn(&ev, userdata);
                if (r < 0)
                        break;
        }
        if (r >= 0 && rc != SQLITE_ROW && rc != SQLITE_DONE)
                r = db_errno(db, rc);
        sqlite3_reset(st);
        return r;
}

void db_token_done(struct db_token *t) {
        if (!t)
                return;
        free(t->name);
        free(t->created_by);
        *t = (struct db_token){};
}

void db_tokens_free(struct db_token *t, size_t n) {
        for (size_t i = 0; i < n; i++)
                db_token_done(&t[i]);
        free(t);
}

static void read_token(sqlite3_stmt *st, struct db_token *t) {
        *t = (struct db_token){
                .name = xstrdup((const char *)sqlite3_column_text(st, 0)),
                .created_usec = (uint64_t)sqlite3_column_int64(st, 2),
                .created_by = xstrdup((const char *)sqlite3_column_text(st, 3)),
        };
        if (sqlite3_column_bytes(st, 1) == OP_HASH_SIZE)
                memcpy(t->hash, sqlite3_column_blob(st, 1), OP_HASH_SIZE);
}

int db_token_get(struct db *db, const char *name, struct db_token *ret) {
        sqlite3_stmt *st = db_stmt(db, "SELECT name, hash, created_usec, created_by FROM api_tokens WHERE name = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0)
                read_token(st, ret);
        sqlite3_reset(st);
        return r;
}

int db_tokens(struct db *db, struct db_token **ret, size_t *ret_n) {
        sqlite3_stmt *st = db_stmt(db, "SELECT name, hash, created_usec, created_by FROM api_tokens ORDER BY name");
        struct db_token *t = NULL;
        size_t n = 0;
        int rc;

        if (!st)
                return -EIO;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                t = xrealloc(t, (n + 1) * sizeof(*t));
                read_token(st, &t[n++]);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_DONE) {
                db_tokens_free(t, n);
                return db_errno(db, rc);
        }
        *ret = t;
        *ret_n = n;
        return 0;
}

int db_refusal(struct db *db, uint32_t nodeid, uint64_t seq, int *ret_code, char **ret_message) {
        sqlite3_stmt *st = db_stmt(db, "SELECT code, message FROM refusals WHERE nodeid = ? AND seq = ?");
        if (!st)
                return -EIO;
        sqlite3_bind_int64(st, 1, nodeid);
        sqlite3_bind_int64(st, 2, (sqlite3_int64)seq);
        int rc = sqlite3_step(st);
        int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : db_errno(db, rc);
        if (r == 0) {
                *ret_code = sqlite3_column_int(st, 0);
                *ret_message = xstrdup((const char *)sqlite3_column_text(st, 1));
        }
        sqlite3_reset(st);
        return r;
}
