/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * db-int.h: the node's copy of the replicated cluster database (sqlite).
 *
 * The file holds two kinds of tables: replicated ones (cluster identity,
 * nodes, settings, events, API tokens, per-origin sequence numbers), which
 * are identical on every member after sync and are what a snapshot
 * carries; and the local `position` row (epoch, version, hash), which says
 * how far this copy is.
 *
 * Every SQLite result code is translated to -errno here (STYLE rule 14);
 * the message of the last failure is kept for the caller's log.
 */
#pragma once

#include "clusterd/config-int.h"
#include "clusterd/op-int.h"

#define DB_SCHEMA_VERSION 3

/* How an applied operation ended: r == 0 done, r < 0 refused (the same on
 * every member), with a message for the client. */
struct op_result {
        int r;
        char message[256];
        uint64_t version; /* the version the op was applied at */
};

struct db;

/* Opens (creating if needed) and migrates the database at path. WAL mode,
 * foreign keys on, synchronous according to mode. */
int db_open(const char *path, enum db_sync_mode mode, struct db **ret, struct err *e);
struct db *db_close(struct db *db);

/* The message of the last failed SQLite call. */
const char *db_last_error(struct db *db);

/* ------------------------------------------------------------------------ */
/* Identity                                                                  */

struct db_cluster {
        char name[64];
        char uuid[37];
        uint64_t created_usec;
        uint32_t token_ms; /* corosync totem token timeout */
};

/* -ENOENT when the database holds no cluster (node not configured). */
int db_get_cluster(struct db *db, struct db_cluster *ret);

/* A node as stored. */
struct db_node {
        char *name;
        uint32_t nodeid;
        char *address;
        uint64_t added_usec;
        enum node_state state;
        uint64_t state_since_usec;
        bool daemon;
        uint64_t daemon_since_usec;
        char *join_token_id; /* NULL when no join token is pending */
        uint8_t join_hash[OP_HASH_SIZE];
        uint64_t join_expires_usec;
        bool vote; /* false once it left cleanly: its vote no longer counts (dynamic quorum) */
};

void db_node_done(struct db_node *n);
void db_nodes_free(struct db_node *nodes, size_t n);

/* Creates a cluster in an empty database: identity, nodes and their join
 * token, in one transaction. The first state is version 1 (the creation is
 * the first operation), epoch 0. */
int db_create_cluster(struct db *db, const struct db_cluster *c, const struct db_node *nodes, size_t n_nodes,
                      const char *client, struct err *e);

/* Prepares an empty database for joining cluster (name, uuid): it holds no
 * state (version 0) and will receive it by sync. */
int db_prepare_join(struct db *db, const char *name, const char *uuid, struct err *e);

/* Deletes everything (this node was removed from the cluster). */
int db_wipe(struct db *db);

/* ------------------------------------------------------------------------ */
/* Position and transactions                                                 */

const struct db_position *db_position(struct db *db);

/* Raises the epoch (never lowers it). Must run inside a transaction or
 * starts and commits its own. */
int db_raise_epoch(struct db *db, uint64_t epoch);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK. Commit is where the data becomes
 * durable (fsync with synchronous=full). */
int db_begin(struct db *db);
int db_commit(struct db *db);
void db_rollback(struct db *db);
bool db_in_transaction(struct db *db);

/* Applies one delivered operation inside the current transaction: advances
 * version and hash over raw (the op's encoded body, exactly as delivered,
 * so every member hashes the same bytes), records the origin's sequence
 * number, performs the change and records its event. A refused change
 * (e.g. unsetting an unknown key) still advances the version; ret->r says
 * why it was refused. Returns < 0 only when storage fails, which leaves
 * this copy unusable (the caller must leave the group). */
int db_apply_op(struct db *db, uint32_t origin_nodeid, const struct op *op, const void *raw, size_t raw_size,
                struct op_result *ret);

/* The highest origin_seq applied from nodeid, 0 if none. */
int db_origin_seq(struct db *db, uint32_t nodeid, uint64_t *ret);

/* How an applied operation of origin (nodeid, seq) was refused; -ENOENT
 * when it was not refused (or is too old to remember: the last 1000 of each
 * origin are kept). The origin uses this to answer a client whose write was
 * applied while the membership changed. Caller frees *ret_message. */
int db_refusal(struct db *db, uint32_t nodeid, uint64_t seq, int *ret_code, char **ret_message);

/* ------------------------------------------------------------------------ */
/* Snapshots (clusterd-snapshot.c)                                           */

/* Serializes every replicated table plus the position into a new buffer
 * (caller frees). */
int db_snapshot_create(struct db *db, void **ret, size_t *ret_size, struct err *e);

/* Replaces every replicated table and the position with a snapshot's
 * content, in one transaction. Refuses (-EBADMSG, message) a malformed
 * snapshot or one of another schema version, leaving the database as it
 * was. */
int db_snapshot_install(struct db *db, const void *data, size_t size, struct err *e);

/* ------------------------------------------------------------------------ */
/* Queries                                                                   */

int db_nodes(struct db *db, struct db_node **ret, size_t *ret_n);
int db_node_get(struct db *db, const char *name, struct db_node *ret);  /* -ENOENT */
int db_node_by_id(struct db *db, uint32_t nodeid, struct db_node *ret); /* -ENOENT */

/* A stored setting value; -ENOENT when the key holds its default. */
int db_setting_get(struct db *db, const char *key, char **ret_value, uint64_t *ret_updated_usec, char **ret_updated_by);
/* Keys of stored user settings ("user.*"), sorted. */
int db_user_setting_keys(struct db *db, char ***ret);

struct db_event {
        uint64_t id;
        uint64_t time_usec;
        const char *node, *client, *kind, *object, *message;
};
typedef int (*db_event_fn)(const struct db_event *ev, void *userdata);
/* Events with id > since (with has_since; otherwise the newest `limit`),
 * oldest first, whose kind starts with kind_prefix (NULL = all). */
int db_events(struct db *db, bool has_since, uint64_t since, unsigned limit, const char *kind_prefix, db_event_fn fn,
              void *userdata);

struct db_token {
        char *name;
        uint8_t hash[OP_HASH_SIZE];
        uint64_t created_usec;
        char *created_by;
};
void db_token_done(struct db_token *t);
int db_token_get(struct db *db, const char *name, struct db_token *ret); /* -ENOENT */
int db_tokens(struct db *db, struct db_token **ret, size_t *ret_n);
void db_tokens_free(struct db_token *t, size_t n);

/* ------------------------------------------------------------------------ */
/* Roles and what nodes say about themselves (clusterd-db-roles.c)         */

#define ROLE_FAILURES_KEPT 32 /* failure times kept per role */

struct db_role {
        char *name;       /* owned */
        char *definition; /* owned; canonical JSON (roles-int.h) */
        uint64_t created_usec;
        uint64_t updated_usec;
        char *updated_by;  /* owned */
        bool want_started; /* the operator's target state */
        char *move_to;     /* owned; operator asked to move it there, NULL if not */
        char *owner;       /* owned; where the leader placed it, NULL for nowhere */
        char *active_node; /* owned; where it may be running, NULL when stopped everywhere */
        uint64_t placed_usec;
        char *reason;         /* owned; the last placement decision's reason */
        char *status;         /* owned; stopped, starting, running, stopping, failed */
        char *status_node;    /* owned; who reported it, NULL if nobody */
        char *status_message; /* owned */
        uint64_t status_usec;
        uint64_t *failures; /* owned; realtime usec of recent failures, oldest first */
        size_t n_failures;
        bool failed;  /* over its failover threshold: stays stopped until cleared */
        char **avoid; /* owned strv; nodes where it failed since the last clear */
};
void db_role_done(struct db_role *r);
void db_roles_free(struct db_role *r, size_t n);
int db_roles(struct db *db, struct db_role **ret, size_t *ret_n);      /* sorted by name */
int db_role_get(struct db *db, const char *name, struct db_role *ret); /* -ENOENT */
/* Writes every column of r (insert or replace). */
int db_role_store(struct db *db, const struct db_role *r);

enum db_pause {
        DB_PAUSE_NONE = 0,
        DB_PAUSE = 1,       /* takes no new roles */
        DB_PAUSE_DRAIN = 2, /* and its roles move away */
};

struct db_node_props {
        char *name; /* owned */
        uint64_t memory_mib;
        uint32_t cpus;
        uint64_t watchdog_usec; /* its watchdog's timeout, 0 when it has none */
        enum db_pause pause;
        char *fence; /* owned; fence agent JSON {"agent", "params"}, NULL if none */
        uint64_t updated_usec;
};
void db_node_props_done(struct db_node_props *p);
void db_node_props_free(struct db_node_props *p, size_t n);
int db_node_props_all(struct db *db, struct db_node_props **ret, size_t *ret_n);
int db_node_props_get(struct db *db, const char *name, struct db_node_props *ret); /* -ENOENT */
int db_node_props_store(struct db *db, const struct db_node_props *p);

/* ------------------------------------------------------------------------ */
/* For the database's own files (apply, snapshot) only                      */

typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;

sqlite3 *db_sqlite(struct db *db);

/* A prepared statement for sql (a string literal: statements are cached by
 * its address), reset and with bindings cleared. NULL on failure (see
 * db_last_error). Owned by the cache. */
sqlite3_stmt *db_stmt(struct db *db, const char *sql);

/* Translates an SQLite result code into -errno and remembers its message. */
int db_errno(struct db *db, int rc);

/* Steps a statement that returns no rows; -errno on failure. */
int db_exec_stmt(struct db *db, sqlite3_stmt *st);

/* Writes the position row and updates the cached copy. */
int db_store_position(struct db *db, const struct db_position *pos);

/* Inserts a node row (state, token and all). */
int db_insert_node(struct db *db, const struct db_node *n);
