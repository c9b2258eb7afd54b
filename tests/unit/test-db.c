/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-db.c: the node's copy of the cluster database, on real sqlite files
 * under /tmp. What matters to an operator: a write shows up with its event,
 * a refused write is refused the same way on every node (and still moves
 * the version, so that all copies stay in step), two copies fed the same
 * operations end up identical to the byte, a snapshot carries the whole
 * state, and a damaged snapshot never damages the copy it is installed in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "clusterd/db-int.h"

#define UUID "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"
#define T0 UINT64_C(1700000000000000) /* a realtime timestamp, usec */

struct fixture {
        char *dir;
};

static int setup(void **state) {
        char tmpl[] = "/tmp/test-db-XXXXXX";
        struct fixture *fx = xcalloc(1, sizeof(*fx));
        if (!mkdtemp(tmpl)) {
                free(fx);
                return -1;
        }
        fx->dir = xstrdup(tmpl);
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        struct fixture *fx = *state;
        int r = rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
        return r;
}

static char *db_path(void **state, const char *name) {
        struct fixture *fx = *state;
        return xasprintf("%s/%s", fx->dir, name);
}

static struct db *open_db(void **state, const char *name) {
        _cleanup_free_ char *path = db_path(state, name);
        struct db *db = NULL;
        struct err e = {};
        if (db_open(path, DB_SYNC_NORMAL, &db, &e) < 0)
                fail_msg("db_open(%s): %s", path, e.msg);
        return db;
}

/* A three-node cluster "c1": n1..n3 with ids 1..3, n2 and n3 with join tokens. */
static void create_cluster(struct db *db, size_t n_nodes) {
        static const struct db_cluster c = { .name = "c1", .uuid = UUID, .created_usec = T0, .token_ms = 3000 };
        struct db_node nodes[3] = {
                { .name = (char *)"n1",
                  .nodeid = 1,
                  .address = (char *)"198.18.0.1",
                  .added_usec = T0,
                  .state = NODE_STATE_ONLINE,
                  .daemon = true },
                { .name = (char *)"n2",
                  .nodeid = 2,
                  .address = (char *)"198.18.0.2",
                  .added_usec = T0,
                  .join_token_id = (char *)"abc123",
                  .join_expires_usec = T0 + USEC_PER_HOUR },
                { .name = (char *)"n3",
                  .nodeid = 3,
                  .address = (char *)"198.18.0.3",
                  .added_usec = T0,
                  .join_token_id = (char *)"def456",
                  .join_expires_usec = T0 + USEC_PER_HOUR },
        };
        struct err e = {};
        memset(nodes[1].join_hash, 0x22, OP_HASH_SIZE);
        memset(nodes[2].join_hash, 0x33, OP_HASH_SIZE);
        if (db_create_cluster(db, &c, nodes, n_nodes, "local:root", &e) < 0)
                fail_msg("db_create_cluster: %s", e.msg);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

static uint64_t next_seq = 1;

static struct op op_new(enum op_kind kind) {
        uint64_t seq = next_seq++;
        return (struct op){
                .kind = kind,
                .origin_seq = seq,
                .time_usec = T0 + (seq + 1) * USEC_PER_SEC,
                .client = xstrdup("token:automation"),
        };
}

static struct op op_setting_set(const char *key, const char *value) {
        struct op op = op_new(OP_SETTING_SET);
        op.key = xstrdup(key);
        op.value = value ? xstrdup(value) : NULL;
        return op;
}

static struct op op_setting_unset(const char *key) {
        struct op op = op_new(OP_SETTING_UNSET);
        op.key = xstrdup(key);
        return op;
}

static struct op op_node_add(const char *name, uint32_t nodeid, const char *address) {
        struct op op = op_new(OP_NODE_ADD);
        op.name = xstrdup(name);
        op.nodeid = nodeid;
        op.address = xstrdup(address);
        op.token_id = xstrdup("tok999");
        memset(op.secret_hash, 0x44, OP_HASH_SIZE);
        op.expires_usec = T0 + 2 * USEC_PER_HOUR;
        return op;
}

static struct op op_name(enum op_kind kind, const char *name) {
        struct op op = op_new(kind);
        op.name = xstrdup(name);
        if (kind == OP_TOKEN_CREATE)
                memset(op.secret_hash, 0x55, OP_HASH_SIZE);
        if (kind == OP_JOIN_TOKEN) {
                op.token_id = xstrdup("new777");
                memset(op.secret_hash, 0x66, OP_HASH_SIZE);
                op.expires_usec = T0 + 3 * USEC_PER_HOUR;
        }
        return op;
}

static struct op op_node_state(const char *name, uint8_t st, uint8_t daemon) {
        struct op op = op_name(OP_NODE_STATE, name);
        op.state = st;
        op.daemon = daemon;
        op.since_usec = T0 + 5;
        op.daemon_since_usec = T0 + 6;
        return op;
}

static struct op op_event(const char *kind, const char *object, const char *message) {
        struct op op = op_new(OP_EVENT);
        op.event_kind = xstrdup(kind);
        op.event_object = object ? xstrdup(object) : NULL;
        op.event_message = xstrdup(message);
        return op;
}

/* Applies op (consumed) from origin in its own transaction, as a member
 * does on delivery: the raw bytes are the op's encoding. */
static struct op_result apply_from(struct db *db, uint32_t origin, struct op op) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct op_result res;
        struct err e = {};

        if (msg_put_op(&b, &op, &e) < 0)
                fail_msg("encoding %s: %s", op_kind_to_string(op.kind), e.msg);
        assert_int_equal(db_begin(db), 0);
        assert_int_equal(db_apply_op(db, origin, &op, b.data, b.size, &res), 0);
        assert_int_equal(db_commit(db), 0);
        op_done(&op);
        return res;
}

static struct op_result apply(struct db *db, struct op op) {
        return apply_from(db, 1, op);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

struct ev {
        uint64_t id, time_usec;
        char *node, *client, *kind, *object, *message;
};

struct evs {
        struct ev *v;
        size_t n;
};

static int collect(const struct db_event *ev, void *userdata) {
        struct evs *l = userdata;
        l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
        l->v[l->n++] = (struct ev){
                .id = ev->id,
                .time_usec = ev->time_usec,
                .node = xstrdup(ev->node),
                .client = xstrdup(ev->client),
                .kind = xstrdup(ev->kind),
                .object = ev->object ? xstrdup(ev->object) : NULL,
                .message = xstrdup(ev->message),
        };
        return 0;
}

static void evs_done(struct evs *l) {
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].node);
                free(l->v[i].client);
                free(l->v[i].kind);
                free(l->v[i].object);
                free(l->v[i].message);
        }
        free(l->v);
        *l = (struct evs){};
}

static struct evs events(struct db *db, uint64_t since, unsigned limit, const char *kind) {
        struct evs l = {};
        assert_int_equal(db_events(db, since > 0, since, limit, kind, collect, &l), 0);
        return l;
}

/* The newest event. */
static struct ev *last_event(struct db *db, struct evs *store) {
        *store = events(db, 0, 1, NULL);
        assert_int_equal(store->n, 1);
        return &store->v[0];
}

static void assert_last_event(struct db *db, uint64_t id, const char *node, const char *kind, const char *object,
                              const char *message) {
        _cleanup_(evs_done) struct evs l = {};
        struct ev *ev = last_event(db, &l);
        assert_true(ev->id == id);
        assert_string_equal(ev->node, node);
        assert_string_equal(ev->kind, kind);
        assert_true(streq_ptr(ev->object, object));
        assert_string_equal(ev->message, message);
}

static size_t count_events(struct db *db) {
        _cleanup_(evs_done) struct evs l = events(db, 0, 1000000, NULL);
        return l.n;
}

static void snapshot(struct db *db, void **ret, size_t *ret_size) {
        struct err e = {};
        if (db_snapshot_create(db, ret, ret_size, &e) < 0)
                fail_msg("db_snapshot_create: %s", e.msg);
}

static void assert_refused(struct op_result res, int code, const char *message) {
        assert_int_equal(res.r, code);
        assert_string_equal(res.message, message);
}

/* ------------------------------------------------------------------------ */
/* Opening and migration                                                     */

static void test_open_creates_schema(void **state) {
        _cleanup_free_ char *path = db_path(state, "new.db");
        struct db *db = open_db(state, "new.db");
        struct db_cluster c;
        struct db_node *nodes;
        size_t n;

        /* A new database is empty and at position zero. */
        const struct db_position *pos = db_position(db);
        assert_true(pos->epoch == 0 && pos->version == 0 && pos->hash == 0);
        assert_int_equal(db_get_cluster(db, &c), -ENOENT);
        assert_int_equal(db_nodes(db, &nodes, &n), 0);
        assert_int_equal(n, 0);
        db_nodes_free(nodes, n);
        db_close(db);

        /* The file records its schema version. */
        sqlite3 *sql;
        sqlite3_stmt *st;
        assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(sql, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_int_equal(sqlite3_column_int(st, 0), DB_SCHEMA_VERSION);
        sqlite3_finalize(st);
        assert_int_equal(sqlite3_prepare_v2(sql, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(st, 0), "wal");
        sqlite3_finalize(st);
        sqlite3_close(sql);

        /* Opening again migrates nothing and works. */
        db = open_db(state, "new.db");
        assert_true(db_position(db)->version == 0);
        db_close(db);
}

static void test_open_migrates_from_empty_file(void **state) {
        /* An existing sqlite file at schema 0 (e.g. created by an older
         * tool) is brought up to date. */
        _cleanup_free_ char *path = db_path(state, "old.db");
        sqlite3 *sql;
        assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
        assert_int_equal(sqlite3_exec(sql, "CREATE TABLE unrelated (x); PRAGMA user_version = 0;", NULL, NULL, NULL),
                         SQLITE_OK);
        sqlite3_close(sql);

        struct db *db = open_db(state, "old.db");
        create_cluster(db, 1);
        assert_true(db_position(db)->version == 1);
        db_close(db);
}

static void test_open_refuses_newer_schema(void **state) {
        _cleanup_free_ char *path = db_path(state, "future.db");
        struct db *db = open_db(state, "future.db");
        struct err e = {};
        db_close(db);

        sqlite3 *sql;
        assert_int_equal(sqlite3_open(path, &sql), SQLITE_OK);
        assert_int_equal(sqlite3_exec(sql, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(sql);

        db = NULL;
        assert_int_equal(db_open(path, DB_SYNC_FULL, &db, &e), -EPROTONOSUPPORT);
        assert_null(db);
        assert_non_null(strstr(e.msg, "database schema version 99 is newer than this clusterd understands (2)"));
        assert_non_null(strstr(e.msg, path));
}

static void test_open_refuses_junk(void **state) {
        _cleanup_free_ char *path = db_path(state, "junk.db");
        _cleanup_free_ char *missing = db_path(state, "no/such/dir/x.db");
        static const char junk[] = "this is not an sqlite database, not even close, no header here at all.....";
        struct db *db = NULL;
        struct err e = {};

        assert_int_equal(write_file_atomic(path, junk, sizeof(junk), 0600), 0);
        assert_true(db_open(path, DB_SYNC_FULL, &db, &e) < 0);
        assert_null(db);
        assert_non_null(strstr(e.msg, path));

        err_clear(&e);
        assert_true(db_open(missing, DB_SYNC_FULL, &db, &e) < 0);
        assert_null(db);
        assert_non_null(strstr(e.msg, "cannot open database"));
}

static void test_reopen_keeps_data(void **state) {
        struct db *db = open_db(state, "keep.db");
        _cleanup_free_ void *before = NULL, *after = NULL;
        size_t before_size, after_size;

        create_cluster(db, 3);
        apply(db, op_setting_set("cluster.description", "lab cluster"));
        apply(db, op_setting_set("user.owner", "ops team"));
        apply(db, op_name(OP_TOKEN_CREATE, "automation"));
        apply(db, op_node_state("n2", NODE_STATE_ONLINE, 1));
        assert_int_equal(db_raise_epoch(db, 7), 0);
        struct db_position pos = *db_position(db);
        snapshot(db, &before, &before_size);
        db_close(db);

        db = open_db(state, "keep.db");
        assert_memory_equal(db_position(db), &pos, sizeof(pos));
        snapshot(db, &after, &after_size);
        assert_int_equal(before_size, after_size);
        assert_memory_equal(before, after, before_size);

        _cleanup_free_ char *value = NULL;
        assert_int_equal(db_setting_get(db, "cluster.description", &value, NULL, NULL), 0);
        assert_string_equal(value, "lab cluster");
        db_close(db);
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                  */

static void test_create_cluster(void **state) {
        struct db *db = open_db(state, "create.db");
        struct db_cluster c;
        struct db_node *nodes;
        size_t n;
        struct err e = {};

        create_cluster(db, 3);

        /* Creation is version 1, epoch 0, and seeds the hash from the uuid. */
        const struct db_position *pos = db_position(db);
        assert_true(pos->epoch == 0);
        assert_true(pos->version == 1);
        assert_true(pos->hash == siphash24(0, 0, UUID, strlen(UUID)));

        assert_int_equal(db_get_cluster(db, &c), 0);
        assert_string_equal(c.name, "c1");
        assert_string_equal(c.uuid, UUID);
        assert_true(c.created_usec == T0);
        assert_int_equal(c.token_ms, 3000);

        /* Nodes in id order, with their join tokens. */
        assert_int_equal(db_nodes(db, &nodes, &n), 0);
        assert_int_equal(n, 3);
        assert_string_equal(nodes[0].name, "n1");
        assert_int_equal(nodes[0].state, NODE_STATE_ONLINE);
        assert_true(nodes[0].daemon);
        assert_null(nodes[0].join_token_id);
        assert_string_equal(nodes[1].name, "n2");
        assert_string_equal(nodes[1].address, "198.18.0.2");
        assert_string_equal(nodes[1].join_token_id, "abc123");
        assert_true(nodes[1].join_expires_usec == T0 + USEC_PER_HOUR);
        uint8_t h[OP_HASH_SIZE];
        memset(h, 0x22, sizeof(h));
        assert_memory_equal(nodes[1].join_hash, h, OP_HASH_SIZE);
        db_nodes_free(nodes, n);

        /* Event 1 says what happened. */
        _cleanup_(evs_done) struct evs l = events(db, 0, 10, NULL);
        assert_int_equal(l.n, 1);
        assert_true(l.v[0].id == 1);
        assert_true(l.v[0].time_usec == T0);
        assert_string_equal(l.v[0].node, "n1");
        assert_string_equal(l.v[0].client, "local:root");
        assert_string_equal(l.v[0].kind, "cluster.created");
        assert_string_equal(l.v[0].object, "c1");
        assert_string_equal(l.v[0].message, "Cluster 'c1' created with 3 nodes");

        /* A node belongs to one cluster. */
        static const struct db_cluster other = { .name = "c2", .uuid = "11111111-2222-4333-8444-555555555555" };
        assert_int_equal(db_create_cluster(db, &other, NULL, 0, "local:root", &e), -EEXIST);
        assert_string_equal(e.msg, "this node already belongs to cluster 'c1'");
        assert_int_equal(db_get_cluster(db, &c), 0);
        assert_string_equal(c.name, "c1");
        db_close(db);
}

static void test_create_cluster_one_node_and_failure(void **state) {
        struct db *db = open_db(state, "create1.db");
        struct err e = {};
        struct db_cluster c;

        /* Two nodes with the same id: nothing is created at all. */
        static const struct db_cluster cl = { .name = "c1", .uuid = UUID, .created_usec = T0, .token_ms = 1000 };
        struct db_node dup[2] = {
                { .name = (char *)"a", .nodeid = 1, .address = (char *)"198.18.0.1" },
                { .name = (char *)"b", .nodeid = 1, .address = (char *)"198.18.0.2" },
        };
        assert_true(db_create_cluster(db, &cl, dup, 2, "local:root", &e) < 0);
        assert_non_null(strstr(e.msg, "cannot create the cluster in the database"));
        assert_int_equal(db_get_cluster(db, &c), -ENOENT);
        assert_true(db_position(db)->version == 0);
        assert_false(db_in_transaction(db));

        /* And then a one-node cluster works, with the singular message. */
        create_cluster(db, 1);
        assert_last_event(db, 1, "n1", "cluster.created", "c1", "Cluster 'c1' created with 1 node");
        db_close(db);
}

/* ------------------------------------------------------------------------ */
/* Applying each kind                                                        */

static void test_apply_settings(void **state) {
        struct db *db = open_db(state, "settings.db");
        struct op_result res;
        char *value = NULL, *by = NULL;
        uint64_t at = 0;

        create_cluster(db, 3);

        /* A known key is stored in canonical form, with who and when. */
        struct op op = op_setting_set("join.token-ttl", "90m");
        uint64_t t = op.time_usec;
        res = apply_from(db, 2, op);
        assert_int_equal(res.r, 0);
        assert_true(res.version == 2);
        assert_true(db_position(db)->version == 2);
        assert_int_equal(db_setting_get(db, "join.token-ttl", &value, &at, &by), 0);
        assert_string_equal(value, "1h30m");
        assert_string_equal(by, "token:automation");
        assert_true(at == t);
        free_and_null(value);
        free_and_null(by);
        assert_last_event(db, 2, "n2", "setting.set", "join.token-ttl", "Setting 'join.token-ttl' set to '1h30m'");

        /* User keys are free text. */
        res = apply(db, op_setting_set("user.rack", "B 12"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, 3, "n1", "setting.set", "user.rack", "Setting 'user.rack' set to 'B 12'");
        apply(db, op_setting_set("user.a", "1"));
        char **keys = NULL;
        assert_int_equal(db_user_setting_keys(db, &keys), 0);
        assert_int_equal(strv_length(keys), 2);
        assert_string_equal(keys[0], "user.a");
        assert_string_equal(keys[1], "user.rack");
        strv_free(keys);

        /* A bad value is refused, recorded, and still moves the version. */
        size_t n_events = count_events(db);
        res = apply(db, op_setting_set("events.max-entries", "5"));
        assert_refused(res, -EINVAL,
                       "setting 'events.max-entries' must be an integer between 100 and 1000000, got '5'");
        assert_true(res.version == 5);
        assert_true(db_position(db)->version == 5);
        assert_int_equal(count_events(db), n_events);
        assert_int_equal(db_setting_get(db, "events.max-entries", NULL, NULL, NULL), -ENOENT);

        res = apply(db, op_setting_set("no.such-key", "1"));
        assert_int_equal(res.r, -ENOENT);
        assert_non_null(strstr(res.message, "unknown setting 'no.such-key'"));

        /* Unsetting a registered key resets it to its default. */
        res = apply(db, op_setting_unset("join.token-ttl"));
        assert_int_equal(res.r, 0);
        assert_int_equal(db_setting_get(db, "join.token-ttl", NULL, NULL, NULL), -ENOENT);
        assert_last_event(db, res.version, "n1", "setting.unset", "join.token-ttl",
                          "Setting 'join.token-ttl' reset to its default '1h'");
        /* ... even when it holds its default already. */
        res = apply(db, op_setting_unset("events.max-entries"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n1", "setting.unset", "events.max-entries",
                          "Setting 'events.max-entries' reset to its default '10000'");

        /* Unsetting a user key removes it; unsetting it again is refused. */
        res = apply(db, op_setting_unset("user.rack"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n1", "setting.unset", "user.rack", "Setting 'user.rack' removed");
        res = apply(db, op_setting_unset("user.rack"));
        assert_refused(res, -ENOENT, "setting 'user.rack' is not set");
        res = apply(db, op_setting_unset("user.bad key"));
        assert_int_equal(res.r, -EINVAL);
        assert_non_null(strstr(res.message, "invalid setting key 'user.bad key'"));
        db_close(db);
}

static void test_apply_nodes(void **state) {
        struct db *db = open_db(state, "nodes.db");
        struct db_node n = {};
        struct op_result res;

        create_cluster(db, 3);

        res = apply(db, op_node_add("n4", 4, "n4.example.org"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, 2, "n1", "node.added", "n4", "Node 'n4' (id 4, address n4.example.org) added");
        assert_int_equal(db_node_get(db, "n4", &n), 0);
        assert_int_equal(n.nodeid, 4);
        assert_string_equal(n.address, "n4.example.org");
        assert_int_equal(n.state, NODE_STATE_JOINING);
        assert_false(n.daemon);
        assert_string_equal(n.join_token_id, "tok999");
        assert_true(n.join_expires_usec == T0 + 2 * USEC_PER_HOUR);
        assert_true(n.added_usec > T0);
        db_node_done(&n);
        assert_int_equal(db_node_by_id(db, 4, &n), 0);
        assert_string_equal(n.name, "n4");
        db_node_done(&n);

        /* Duplicates and bad values are refused with a reason. */
        assert_refused(apply(db, op_node_add("n4", 5, "198.18.0.5")), -EEXIST, "a node named 'n4' already exists");
        assert_refused(apply(db, op_node_add("n5", 2, "198.18.0.5")), -EEXIST, "node id 2 is already used");
        assert_refused(apply(db, op_node_add("n5", 5, "198.18.0.3")), -EEXIST,
                       "address '198.18.0.3' is already used by another node");
        assert_refused(apply(db, op_node_add("-bad", 5, "198.18.0.5")), -EINVAL, "invalid node name '-bad'");
        assert_refused(apply(db, op_node_add("n5", 0, "198.18.0.5")), -EINVAL, "node id 0 is reserved");
        assert_int_equal(db_node_get(db, "n5", &n), -ENOENT);
        assert_int_equal(db_node_by_id(db, 5, &n), -ENOENT);

        /* Removal */
        res = apply_from(db, 3, op_name(OP_NODE_REMOVE, "n4"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n3", "node.removed", "n4", "Node 'n4' removed from the cluster");
        assert_int_equal(db_node_get(db, "n4", &n), -ENOENT);
        assert_refused(apply(db, op_name(OP_NODE_REMOVE, "n4")), -ENOENT, "no node named 'n4'");

        /* Its id and address are free again. */
        assert_int_equal(apply(db, op_node_add("n5", 4, "n4.example.org")).r, 0);

        /* The last node stays. */
        assert_int_equal(apply(db, op_name(OP_NODE_REMOVE, "n5")).r, 0);
        assert_int_equal(apply(db, op_name(OP_NODE_REMOVE, "n3")).r, 0);
        assert_int_equal(apply(db, op_name(OP_NODE_REMOVE, "n2")).r, 0);
        res = apply(db, op_name(OP_NODE_REMOVE, "n1"));
        assert_refused(res, -EBUSY, "'n1' is the cluster's last node and cannot be removed");
        assert_int_equal(db_node_get(db, "n1", &n), 0);
        db_node_done(&n);

        /* An origin that is no longer a node is named by its id. */
        res = apply_from(db, 3, op_event("test.ping", NULL, "hello"));
        assert_last_event(db, res.version, "node3", "test.ping", NULL, "hello");
        db_close(db);
}

static void test_apply_node_state(void **state) {
        struct db *db = open_db(state, "state.db");
        struct db_node n = {};
        struct op_result res;

        create_cluster(db, 3);

        /* First time online: joined, and the join token is spent. */
        res = apply_from(db, 2, op_node_state("n2", NODE_STATE_ONLINE, 1));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n2", "node.joined", "n2",
                          "Node 'n2' joined the cluster (clusterd running)");
        assert_int_equal(db_node_get(db, "n2", &n), 0);
        assert_int_equal(n.state, NODE_STATE_ONLINE);
        assert_true(n.daemon);
        assert_true(n.state_since_usec == T0 + 5);
        assert_true(n.daemon_since_usec == T0 + 6);
        assert_null(n.join_token_id);
        db_node_done(&n);

        /* Offline keeps no token either; then online again. */
        res = apply(db, op_node_state("n2", NODE_STATE_OFFLINE, 0));
        assert_last_event(db, res.version, "n1", "node.offline", "n2", "Node 'n2' is offline");
        res = apply(db, op_node_state("n2", NODE_STATE_ONLINE, 0));
        assert_last_event(db, res.version, "n1", "node.online", "n2", "Node 'n2' is online (clusterd stopped)");

        /* Only the daemon changes. */
        res = apply(db, op_node_state("n2", NODE_STATE_ONLINE, 1));
        assert_last_event(db, res.version, "n1", "node.clusterd-running", "n2", "Node 'n2': clusterd running");
        res = apply(db, op_node_state("n2", NODE_STATE_ONLINE, 0));
        assert_last_event(db, res.version, "n1", "node.clusterd-stopped", "n2", "Node 'n2': clusterd stopped");

        /* Nothing changes: no event, but the version moves. */
        size_t before = count_events(db);
        res = apply(db, op_node_state("n2", NODE_STATE_ONLINE, 0));
        assert_int_equal(res.r, 0);
        assert_int_equal(count_events(db), before);
        assert_true(db_position(db)->version == res.version);

        /* A joining node recorded offline did join (briefly): it is not
         * "joining" any more and its join token is used up. */
        res = apply(db, op_node_state("n3", NODE_STATE_OFFLINE, 0));
        assert_last_event(db, res.version, "n1", "node.offline", "n3", "Node 'n3' joined and is offline again");
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_null(n.join_token_id);
        db_node_done(&n);

        assert_refused(apply(db, op_node_state("n2", 3, 0)), -EINVAL, "invalid node state 3");
        assert_refused(apply(db, op_node_state("n9", NODE_STATE_ONLINE, 0)), -ENOENT, "no node named 'n9'");
        db_close(db);
}

static void test_apply_tokens(void **state) {
        struct db *db = open_db(state, "tokens.db");
        struct db_node n = {};
        struct db_token t = {};
        struct db_token *all;
        size_t n_all;
        struct op_result res;
        uint8_t h[OP_HASH_SIZE];

        create_cluster(db, 3);

        /* Join token for an existing node replaces the old one. */
        res = apply(db, op_name(OP_JOIN_TOKEN, "n3"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n1", "node.join-token", "n3", "New join token issued for node 'n3'");
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_string_equal(n.join_token_id, "new777");
        memset(h, 0x66, sizeof(h));
        assert_memory_equal(n.join_hash, h, OP_HASH_SIZE);
        assert_true(n.join_expires_usec == T0 + 3 * USEC_PER_HOUR);
        db_node_done(&n);
        assert_refused(apply(db, op_name(OP_JOIN_TOKEN, "n7")), -ENOENT, "no node named 'n7'");

        /* API tokens */
        struct op op = op_name(OP_TOKEN_CREATE, "zeta");
        uint64_t created = op.time_usec;
        res = apply(db, op);
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n1", "token.created", "zeta", "API token 'zeta' created");
        assert_int_equal(apply(db, op_name(OP_TOKEN_CREATE, "alpha")).r, 0);
        assert_int_equal(db_token_get(db, "zeta", &t), 0);
        memset(h, 0x55, sizeof(h));
        assert_memory_equal(t.hash, h, OP_HASH_SIZE);
        assert_true(t.created_usec == created);
        assert_string_equal(t.created_by, "token:automation");
        db_token_done(&t);

        assert_refused(apply(db, op_name(OP_TOKEN_CREATE, "zeta")), -EEXIST, "a token named 'zeta' already exists");
        assert_refused(apply(db, op_name(OP_TOKEN_CREATE, "bad.name")), -EINVAL, "invalid token name 'bad.name'");

        assert_int_equal(db_tokens(db, &all, &n_all), 0);
        assert_int_equal(n_all, 2);
        assert_string_equal(all[0].name, "alpha");
        assert_string_equal(all[1].name, "zeta");
        db_tokens_free(all, n_all);

        res = apply(db, op_name(OP_TOKEN_DELETE, "zeta"));
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n1", "token.deleted", "zeta", "API token 'zeta' deleted");
        assert_int_equal(db_token_get(db, "zeta", &t), -ENOENT);
        assert_refused(apply(db, op_name(OP_TOKEN_DELETE, "zeta")), -ENOENT, "no token named 'zeta'");
        db_close(db);
}

static void test_apply_event_and_origins(void **state) {
        struct db *db = open_db(state, "event.db");
        struct op_result res;
        uint64_t seq;

        create_cluster(db, 3);

        struct op op = op_event("role.started", "vm1", "Role 'vm1' started on n2 (100%)");
        uint64_t t = op.time_usec, s = op.origin_seq;
        res = apply_from(db, 2, op);
        assert_int_equal(res.r, 0);
        _cleanup_(evs_done) struct evs l = {};
        struct ev *ev = last_event(db, &l);
        assert_true(ev->id == res.version);
        assert_true(ev->time_usec == t);
        assert_string_equal(ev->node, "n2");
        assert_string_equal(ev->client, "token:automation");
        assert_string_equal(ev->kind, "role.started");
        assert_string_equal(ev->object, "vm1");
        assert_string_equal(ev->message, "Role 'vm1' started on n2 (100%)");

        /* An op without a client is attributed to "unknown". */
        struct op anon = op_event("test.anon", NULL, "x");
        free_and_null(anon.client);
        apply(db, anon);
        _cleanup_(evs_done) struct evs l2 = {};
        assert_string_equal(last_event(db, &l2)->client, "unknown");

        /* Per-origin sequence numbers. */
        assert_int_equal(db_origin_seq(db, 2, &seq), 0);
        assert_true(seq == s);
        assert_int_equal(db_origin_seq(db, 3, &seq), 0);
        assert_true(seq == 0);
        struct op late = op_event("test.seq", NULL, "x");
        late.origin_seq = 1000;
        apply_from(db, 3, late);
        assert_int_equal(db_origin_seq(db, 3, &seq), 0);
        assert_true(seq == 1000);

        /* An op admitted in a later epoch raises the copy's epoch. */
        struct op e5 = op_event("test.epoch", NULL, "x");
        e5.epoch = 5;
        apply(db, e5);
        assert_true(db_position(db)->epoch == 5);
        struct op e3 = op_event("test.epoch", NULL, "x");
        e3.epoch = 3;
        apply(db, e3);
        assert_true(db_position(db)->epoch == 5);
        db_close(db);
}

static void test_refusals_recorded(void **state) {
        struct db *db = open_db(state, "refusals.db");
        _cleanup_free_ char *msg = NULL;
        int code = 0;

        create_cluster(db, 3);

        struct op op = op_name(OP_NODE_REMOVE, "nope");
        op.origin_seq = 10;
        assert_int_equal(apply_from(db, 2, op).r, -ENOENT);
        struct op ok = op_event("test.ok", NULL, "fine");
        ok.origin_seq = 11;
        apply_from(db, 2, ok);

        assert_int_equal(db_refusal(db, 2, 10, &code, &msg), 0);
        assert_int_equal(code, -ENOENT);
        assert_string_equal(msg, "no node named 'nope'");
        free_and_null(msg);
        /* Accepted ops, other origins and unknown sequence numbers: none. */
        assert_int_equal(db_refusal(db, 2, 11, &code, &msg), -ENOENT);
        assert_int_equal(db_refusal(db, 3, 10, &code, &msg), -ENOENT);
        assert_int_equal(db_refusal(db, 2, 12, &code, &msg), -ENOENT);
        assert_null(msg);

        /* Refusals of every kind are remembered. */
        struct op bad[] = {
                op_setting_set("events.max-entries", "x"), op_setting_unset("user.never-set"),
                op_node_add("n1", 9, "198.18.0.9"),        op_node_add("n9", 1, "198.18.0.9"),
                op_node_add("n9", 9, "198.18.0.1"),        op_name(OP_NODE_STATE, "ghost"),
                op_name(OP_JOIN_TOKEN, "ghost"),           op_name(OP_TOKEN_DELETE, "ghost"),
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                uint64_t seq = bad[i].origin_seq;
                struct op_result res = apply_from(db, 3, bad[i]);
                assert_true(res.r < 0);
                assert_int_equal(db_refusal(db, 3, seq, &code, &msg), 0);
                assert_int_equal(code, res.r);
                assert_string_equal(msg, res.message);
                free_and_null(msg);
        }
        /* Duplicate API token */
        struct op t1 = op_name(OP_TOKEN_CREATE, "dup"), t2 = op_name(OP_TOKEN_CREATE, "dup");
        uint64_t seq2 = t2.origin_seq;
        assert_int_equal(apply_from(db, 3, t1).r, 0);
        assert_int_equal(apply_from(db, 3, t2).r, -EEXIST);
        assert_int_equal(db_refusal(db, 3, seq2, &code, &msg), 0);
        assert_string_equal(msg, "a token named 'dup' already exists");
        free_and_null(msg);

        /* Only the last 1000 sequence numbers of an origin are kept. */
        struct op old = op_name(OP_NODE_REMOVE, "nope");
        old.origin_seq = 5000;
        apply_from(db, 1, old);
        struct op newer = op_name(OP_NODE_REMOVE, "nope");
        newer.origin_seq = 6000;
        apply_from(db, 1, newer);
        assert_int_equal(db_refusal(db, 1, 5000, &code, &msg), 0);
        free_and_null(msg);
        struct op newest = op_name(OP_NODE_REMOVE, "nope");
        newest.origin_seq = 6001;
        apply_from(db, 1, newest);
        assert_int_equal(db_refusal(db, 1, 5000, &code, &msg), -ENOENT);
        assert_int_equal(db_refusal(db, 1, 6000, &code, &msg), 0);
        free_and_null(msg);
        /* Other origins keep theirs. */
        assert_int_equal(db_refusal(db, 2, 10, &code, &msg), 0);
        free_and_null(msg);
        db_close(db);
}

/* ------------------------------------------------------------------------ */
/* Determinism                                                               */

/* A history that touches every kind, with refusals along the way. */
static void feed_history(struct db *db, const char *variant) {
        next_seq = 100;
        apply_from(db, 1, op_setting_set("cluster.description", "prod"));
        apply_from(db, 2, op_node_state("n2", NODE_STATE_ONLINE, 1));
        apply_from(db, 3, op_node_state("n3", NODE_STATE_ONLINE, 1));
        apply_from(db, 1, op_node_add("n4", 4, "198.18.0.4"));
        apply_from(db, 1, op_node_add("n4", 5, "198.18.0.5")); /* refused */
        apply_from(db, 2, op_name(OP_JOIN_TOKEN, "n4"));
        apply_from(db, 3, op_name(OP_TOKEN_CREATE, "automation"));
        apply_from(db, 3, op_name(OP_TOKEN_CREATE, "automation")); /* refused */
        apply_from(db, 1, op_setting_set("user.owner", variant));
        apply_from(db, 2, op_setting_unset("user.nothing")); /* refused */
        apply_from(db, 1, op_event("test.note", "x", "a note"));
        apply_from(db, 2, op_node_state("n3", NODE_STATE_OFFLINE, 0));
        apply_from(db, 1, op_name(OP_NODE_REMOVE, "n4"));
        apply_from(db, 3, op_name(OP_TOKEN_DELETE, "automation"));
        apply_from(db, 1, op_setting_unset("cluster.description"));
}

static void test_determinism(void **state) {
        struct db *a = open_db(state, "a.db"), *b = open_db(state, "b.db"), *c = open_db(state, "c.db");
        _cleanup_free_ void *sa = NULL, *sb = NULL, *sc = NULL;
        size_t na, nb, nc;

        create_cluster(a, 3);
        create_cluster(b, 3);
        create_cluster(c, 3);
        feed_history(a, "ops");
        feed_history(b, "ops");
        feed_history(c, "dev"); /* one value differs */

        const struct db_position *pa = db_position(a), *pb = db_position(b), *pc = db_position(c);
        assert_true(pa->version == 16);
        assert_memory_equal(pa, pb, sizeof(*pa));
        snapshot(a, &sa, &na);
        snapshot(b, &sb, &nb);
        assert_int_equal(na, nb);
        assert_memory_equal(sa, sb, na);

        /* Same length of history, different content: the hash tells. */
        assert_true(pc->version == pa->version);
        assert_true(pc->hash != pa->hash);
        snapshot(c, &sc, &nc);
        assert_false(na == nc && memcmp(sa, sc, na) == 0);
        db_close(a);
        db_close(b);
        db_close(c);
}

static void test_hash_chain(void **state) {
        struct db *a = open_db(state, "ha.db"), *b = open_db(state, "hb.db");
        create_cluster(a, 3);
        create_cluster(b, 3);

        /* The same op from another origin is another history. */
        next_seq = 1;
        apply_from(a, 1, op_event("test.x", NULL, "x"));
        next_seq = 1;
        apply_from(b, 2, op_event("test.x", NULL, "x"));
        assert_true(db_position(a)->version == db_position(b)->version);
        assert_true(db_position(a)->hash != db_position(b)->hash);

        /* Once diverged, identical ops do not bring the hashes together. */
        next_seq = 5;
        apply_from(a, 1, op_event("test.y", NULL, "y"));
        next_seq = 5;
        apply_from(b, 1, op_event("test.y", NULL, "y"));
        assert_true(db_position(a)->hash != db_position(b)->hash);

        /* The order of ops matters. */
        struct db *c = open_db(state, "hc.db"), *d = open_db(state, "hd.db");
        create_cluster(c, 3);
        create_cluster(d, 3);
        struct op x1 = op_event("test.x", NULL, "1"), x2 = op_event("test.x", NULL, "2");
        struct op y1 = op_event("test.x", NULL, "1"), y2 = op_event("test.x", NULL, "2");
        y1.origin_seq = x1.origin_seq;
        y1.time_usec = x1.time_usec;
        y2.origin_seq = x2.origin_seq;
        y2.time_usec = x2.time_usec;
        apply(c, x1);
        apply(c, x2);
        apply(d, y2);
        apply(d, y1);
        assert_true(db_position(c)->hash != db_position(d)->hash);

        /* A refused op still extends the chain. */
        uint64_t h = db_position(c)->hash;
        assert_true(apply(c, op_name(OP_NODE_REMOVE, "nope")).r < 0);
        assert_true(db_position(c)->hash != h);
        db_close(a);
        db_close(b);
        db_close(c);
        db_close(d);
}

static void test_rollback_restores_position(void **state) {
        /* A transaction that is rolled back (e.g. a failed commit) leaves
         * the copy and its cached position as they were. */
        struct db *db = open_db(state, "rollback.db");
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct op op = op_event("test.x", NULL, "x");
        struct op_result res;

        create_cluster(db, 1);
        struct db_position before = *db_position(db);
        assert_int_equal(msg_put_op(&b, &op, NULL), 0);
        assert_int_equal(db_begin(db), 0);
        assert_true(db_in_transaction(db));
        assert_int_equal(db_apply_op(db, 1, &op, b.data, b.size, &res), 0);
        assert_true(db_position(db)->version == before.version + 1);
        db_rollback(db);
        assert_false(db_in_transaction(db));
        assert_memory_equal(db_position(db), &before, sizeof(before));
        assert_int_equal(count_events(db), 1);
        op_done(&op);
        db_close(db);
}

/* ------------------------------------------------------------------------ */
/* Snapshots                                                                 */

static void test_snapshot_round_trip(void **state) {
        struct db *src = open_db(state, "src.db"), *dst = open_db(state, "dst.db");
        _cleanup_free_ void *s1 = NULL, *s2 = NULL;
        size_t n1, n2;
        struct err e = {};

        create_cluster(src, 3);
        feed_history(src, "ops");
        assert_int_equal(db_raise_epoch(src, 12), 0);
        snapshot(src, &s1, &n1);

        assert_int_equal(db_snapshot_install(dst, s1, n1, &e), 0);
        assert_memory_equal(db_position(dst), db_position(src), sizeof(struct db_position));
        snapshot(dst, &s2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(s1, s2, n1);

        /* The installed copy answers queries like the original. */
        struct db_cluster c;
        assert_int_equal(db_get_cluster(dst, &c), 0);
        assert_string_equal(c.uuid, UUID);
        struct db_node n = {};
        assert_int_equal(db_node_get(dst, "n3", &n), 0);
        assert_int_equal(n.state, NODE_STATE_OFFLINE);
        db_node_done(&n);
        _cleanup_(evs_done) struct evs a = events(src, 0, 1000, NULL), b = events(dst, 0, 1000, NULL);
        assert_int_equal(a.n, b.n);
        for (size_t i = 0; i < a.n; i++) {
                assert_true(a.v[i].id == b.v[i].id);
                assert_string_equal(a.v[i].message, b.v[i].message);
        }
        int code;
        char *msg = NULL;
        assert_int_equal(db_refusal(dst, 1, 104, &code, &msg), 0);
        free(msg);

        /* And it goes on the same way from there. */
        next_seq = 900;
        apply(src, op_event("test.after", NULL, "after"));
        next_seq = 900;
        apply(dst, op_event("test.after", NULL, "after"));
        assert_memory_equal(db_position(dst), db_position(src), sizeof(struct db_position));

        /* The installed state survives a reopen. */
        db_close(dst);
        dst = open_db(state, "dst.db");
        assert_memory_equal(db_position(dst), db_position(src), sizeof(struct db_position));

        /* Installing over a copy with other content replaces all of it. */
        _cleanup_free_ void *s3 = NULL, *s4 = NULL;
        size_t n3, n4;
        struct db *other = open_db(state, "other.db");
        create_cluster(other, 1);
        apply(other, op_setting_set("user.only-here", "1"));
        snapshot(src, &s3, &n3);
        assert_int_equal(db_snapshot_install(other, s3, n3, &e), 0);
        snapshot(other, &s4, &n4);
        assert_int_equal(n3, n4);
        assert_memory_equal(s3, s4, n3);
        assert_int_equal(db_setting_get(other, "user.only-here", NULL, NULL, NULL), -ENOENT);

        db_close(other);
        db_close(src);
        db_close(dst);
}

static void test_snapshot_of_empty_db(void **state) {
        /* A node that has not joined can still produce and take snapshots. */
        struct db *a = open_db(state, "e1.db"), *b = open_db(state, "e2.db");
        _cleanup_free_ void *s = NULL, *s2 = NULL;
        size_t n, n2;
        struct err e = {};
        snapshot(a, &s, &n);
        assert_int_equal(db_snapshot_install(b, s, n, &e), 0);
        snapshot(b, &s2, &n2);
        assert_int_equal(n, n2);
        assert_memory_equal(s, s2, n);
        db_close(a);
        db_close(b);
}

/* Where the tables of a snapshot start and end, found by walking the
 * documented format. */
struct snap_table {
        size_t start, cols_at, rows_at, end;
};

#define SNAP_HEADER 36
#define SNAP_TABLES 9

static uint64_t le(const uint8_t *p, size_t n) {
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t)p[i] << (8 * i);
        return v;
}

static void put_le_at(uint8_t *p, uint64_t v, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static void walk_snapshot(const uint8_t *d, size_t size, struct snap_table t[SNAP_TABLES]) {
        size_t off = SNAP_HEADER;
        assert_int_equal(le(d + 32, 4), SNAP_TABLES);
        for (size_t i = 0; i < SNAP_TABLES; i++) {
                t[i].start = off;
                off += 4 + le(d + off, 4);
                t[i].cols_at = off;
                uint64_t cols = le(d + off, 4);
                off += 4;
                t[i].rows_at = off;
                uint64_t rows = le(d + off, 8);
                off += 8;
                for (uint64_t r = 0; r < rows * cols; r++) {
                        uint8_t type = d[off++];
                        if (type == 1 || type == 2)
                                off += 8;
                        else if (type == 3 || type == 4)
                                off += 4 + le(d + off, 4);
                        assert_true(off <= size);
                }
                t[i].end = off;
        }
        assert_int_equal(off, size);
}

/* Installs a damaged snapshot into db and checks that it is refused with
 * -EBADMSG and a message, and that db is exactly as it was. */
static void assert_install_refused(struct db *db, const void *data, size_t size, const void *before, size_t before_size,
                                   const char *expect) {
        _cleanup_free_ void *after = NULL;
        size_t after_size;
        struct err e = {};
        struct db_position pos = *db_position(db);

        int r = db_snapshot_install(db, data, size, &e);
        if (r != -EBADMSG)
                fail_msg("damaged snapshot of %zu bytes: expected -EBADMSG, got %d (%s)", size, r, e.msg);
        assert_int_equal(e.code, -EBADMSG);
        assert_true(e.msg[0] != '\0');
        if (expect && !strstr(e.msg, expect))
                fail_msg("message '%s' does not mention '%s'", e.msg, expect);
        assert_false(db_in_transaction(db));
        assert_memory_equal(db_position(db), &pos, sizeof(pos));
        snapshot(db, &after, &after_size);
        assert_int_equal(after_size, before_size);
        assert_memory_equal(after, before, before_size);
}

struct damage_fixture {
        struct db *src, *dst;
        uint8_t *good;
        size_t good_size;
        void *before; /* dst's own snapshot */
        size_t before_size;
};

static void damage_setup(void **state, struct damage_fixture *f, const char *tag) {
        _cleanup_free_ char *a = xasprintf("%s-src.db", tag), *b = xasprintf("%s-dst.db", tag);
        f->src = open_db(state, a);
        f->dst = open_db(state, b);
        create_cluster(f->src, 3);
        feed_history(f->src, "ops");
        snapshot(f->src, (void **)&f->good, &f->good_size);
        /* The target holds a different state worth protecting. */
        create_cluster(f->dst, 1);
        apply(f->dst, op_setting_set("user.precious", "keep me"));
        snapshot(f->dst, &f->before, &f->before_size);
}

static void damage_done(struct damage_fixture *f) {
        db_close(f->src);
        db_close(f->dst);
        free(f->good);
        free(f->before);
}

static void test_snapshot_truncated(void **state) {
        struct damage_fixture f;
        damage_setup(state, &f, "trunc");

        for (size_t n = 0; n < f.good_size; n++) {
                _cleanup_free_ uint8_t *copy = xmalloc(n);
                memcpy(copy, f.good, n);
                assert_install_refused(f.dst, copy, n, f.before, f.before_size, NULL);
        }
        /* Trailing bytes */
        _cleanup_free_ uint8_t *longer = xmalloc(f.good_size + 3);
        memcpy(longer, f.good, f.good_size);
        memset(longer + f.good_size, 0, 3);
        assert_install_refused(f.dst, longer, f.good_size + 3, f.before, f.before_size,
                               "3 unexpected bytes at the end of the snapshot");
        damage_done(&f);
}

static void test_snapshot_structure_damage(void **state) {
        struct damage_fixture f;
        struct snap_table t[SNAP_TABLES];
        _cleanup_free_ uint8_t *d = NULL;

        damage_setup(state, &f, "struct");
        walk_snapshot(f.good, f.good_size, t);
        d = xmalloc(f.good_size + 64);

#define RESET() memcpy(d, f.good, f.good_size)
        /* Magic */
        RESET();
        d[0] ^= 0xff;
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "bad magic");

        /* Schema version from the future and from the past */
        RESET();
        put_le_at(d + 4, DB_SCHEMA_VERSION + 1, 4);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size,
                               "snapshot has schema version 3, this node has 2");
        put_le_at(d + 4, 0, 4);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "schema version 0");

        /* Table count */
        RESET();
        put_le_at(d + 32, SNAP_TABLES - 1, 4);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "snapshot has 8 tables, expected 9");
        put_le_at(d + 32, SNAP_TABLES + 1, 4);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "snapshot has 10 tables, expected 9");

        /* Column counts, one more or one less, in every table */
        for (size_t i = 0; i < SNAP_TABLES; i++) {
                uint64_t cols = le(f.good + t[i].cols_at, 4);
                RESET();
                put_le_at(d + t[i].cols_at, cols + 1, 4);
                assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "columns in the snapshot");
                put_le_at(d + t[i].cols_at, cols - 1, 4);
                assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "columns in the snapshot");
                put_le_at(d + t[i].cols_at, UINT32_MAX, 4);
                assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "columns in the snapshot");
        }

        /* Row counts larger than the data, in every table */
        for (size_t i = 0; i < SNAP_TABLES; i++) {
                uint64_t rows = le(f.good + t[i].rows_at, 8);
                RESET();
                put_le_at(d + t[i].rows_at, rows + 1, 8);
                assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, NULL);
                put_le_at(d + t[i].rows_at, UINT64_MAX, 8);
                assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, NULL);
        }

        /* A table name changed */
        RESET();
        d[t[1].start + 4] = 'N'; /* "nodes" -> "Nodes" */
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "expected table 'nodes', found 'Nodes'");

        /* Two tables swapped: nodes before meta */
        size_t meta_len = t[0].end - t[0].start, nodes_len = t[1].end - t[1].start;
        RESET();
        memcpy(d + SNAP_HEADER, f.good + t[1].start, nodes_len);
        memcpy(d + SNAP_HEADER + nodes_len, f.good + t[0].start, meta_len);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "expected table 'meta', found 'nodes'");

        /* Last two tables swapped */
        size_t o1 = t[5].end - t[5].start, o2 = t[6].end - t[6].start;
        RESET();
        memcpy(d + t[5].start, f.good + t[6].start, o2);
        memcpy(d + t[5].start + o2, f.good + t[5].start, o1);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size,
                               "expected table 'origins', found 'refusals'");

        /* A table missing (the count says 7, six follow) */
        size_t cut = t[3].end - t[3].start;
        RESET();
        memmove(d + t[3].start, f.good + t[3].end, f.good_size - t[3].end);
        assert_install_refused(f.dst, d, f.good_size - cut, f.before, f.before_size,
                               "expected table 'events', found 'api_tokens'");

        /* An unknown value type in the first value of the nodes table */
        RESET();
        d[t[1].rows_at + 8] = 9;
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "unknown value type 9");

        /* A text value's length beyond the limit */
        RESET();
        assert_int_equal(d[t[1].rows_at + 8], 3); /* nodes.name is text */
        put_le_at(d + t[1].rows_at + 9, 16 * 1024 * 1024 + 1, 4);
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "at most 16777216 allowed");
#undef RESET
        damage_done(&f);
}

static void test_snapshot_value_damage(void **state) {
        /* Values that sqlite itself rejects: NULL in a NOT NULL column, a
         * duplicate primary key, text in an INTEGER PRIMARY KEY. The
         * snapshot is malformed, and must be refused like any other. */
        struct damage_fixture f;
        struct snap_table t[SNAP_TABLES];
        _cleanup_free_ uint8_t *d = NULL;

        damage_setup(state, &f, "value");
        walk_snapshot(f.good, f.good_size, t);
        d = xmalloc(f.good_size + 64);

        /* nodes.name (text "n1") replaced by NULL: "\3" len "n1" -> "\0"
         * and the rest shifted. */
        size_t v = t[1].rows_at + 8, vlen = 1 + 4 + le(f.good + v + 1, 4);
        memcpy(d, f.good, v);
        d[v] = 0;
        memcpy(d + v + 1, f.good + v + vlen, f.good_size - v - vlen);
        assert_install_refused(f.dst, d, f.good_size - vlen + 1, f.before, f.before_size, "nodes");

        /* nodes.name as a NaN: SQLite would store that as NULL. */
        memcpy(d, f.good, v);
        d[v] = 2;
        put_le_at(d + v + 1, UINT64_C(0x7ff8000000000000), 8);
        memcpy(d + v + 9, f.good + v + vlen, f.good_size - v - vlen);
        assert_install_refused(f.dst, d, f.good_size - vlen + 9, f.before, f.before_size, "NaN");

        /* The second node's name made equal to the first's ("n2" -> "n1"). */
        memcpy(d, f.good, f.good_size);
        uint8_t *p = memmem(d + t[1].rows_at, t[1].end - t[1].rows_at, "\x03\x02\x00\x00\x00n2", 7);
        assert_non_null(p);
        p[6] = '1';
        assert_install_refused(f.dst, d, f.good_size, f.before, f.before_size, "nodes");

        /* events.id (INTEGER PRIMARY KEY) as text. */
        size_t ev = t[3].rows_at + 8;
        assert_int_equal(f.good[ev], 1);
        memcpy(d, f.good, ev);
        d[ev] = 3;
        put_le_at(d + ev + 1, 8, 4);
        memcpy(d + ev + 5, "notanint", 8);
        memcpy(d + ev + 13, f.good + ev + 9, f.good_size - ev - 9);
        assert_install_refused(f.dst, d, f.good_size + 4, f.before, f.before_size, "events");
        damage_done(&f);
}

static void test_snapshot_every_byte_flipped(void **state) {
        /* Whatever single byte is damaged, the install either succeeds (the
         * damage hit a value and the snapshot is still well-formed: the
         * chunk checksum is what catches that) or is refused cleanly with
         * -EBADMSG, leaving the target as it was. */
        struct damage_fixture f;
        _cleanup_free_ uint8_t *d = NULL;
        size_t accepted = 0, refused = 0;

        damage_setup(state, &f, "flip");
        d = xmalloc(f.good_size);
        for (size_t i = 0; i < f.good_size; i++) {
                struct err e = {};
                memcpy(d, f.good, f.good_size);
                d[i] ^= 0x41;
                int r = db_snapshot_install(f.dst, d, f.good_size, &e);
                if (r == 0) {
                        /* Put the target back for the next round. */
                        accepted++;
                        assert_int_equal(db_snapshot_install(f.dst, f.before, f.before_size, &e), 0);
                        continue;
                }
                if (r != -EBADMSG)
                        fail_msg("byte %zu flipped: expected -EBADMSG, got %d (%s)", i, r, e.msg);
                refused++;
                _cleanup_free_ void *after = NULL;
                size_t after_size;
                snapshot(f.dst, &after, &after_size);
                assert_int_equal(after_size, f.before_size);
                assert_memory_equal(after, f.before, f.before_size);
        }
        assert_true(refused > 0);
        assert_true(accepted > 0);
        damage_done(&f);
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */

static void test_event_pruning(void **state) {
        struct db *db = open_db(state, "prune.db");
        const unsigned max = 100;

        create_cluster(db, 1);
        assert_int_equal(apply(db, op_setting_set("events.max-entries", "100")).r, 0);
        for (unsigned i = 0; i < 450; i++) {
                struct op_result res = apply(db, op_event("test.load", NULL, "x"));
                size_t n = count_events(db);
                /* Pruning runs every 100 versions: never more than max + 99. */
                assert_true(n <= max + 99);
                if (res.version % 100 == 0) {
                        /* Right after pruning: exactly the newest max. */
                        assert_int_equal(n, max);
                        _cleanup_(evs_done) struct evs l = events(db, 0, 1000, NULL);
                        assert_true(l.v[0].id == res.version - max + 1);
                        assert_true(l.v[l.n - 1].id == res.version);
                }
        }
        assert_true(db_position(db)->version == 452);

        /* A larger limit keeps more. */
        assert_int_equal(apply(db, op_setting_set("events.max-entries", "250")).r, 0);
        for (unsigned i = 0; i < 300; i++)
                apply(db, op_event("test.load", NULL, "x"));
        /* version 753 now: pruned to 250 at 700, plus 53 since */
        assert_int_equal(count_events(db), 250 + 53);
        db_close(db);
}

static int stop_after_two(const struct db_event *ev, void *userdata) {
        unsigned *n = userdata;
        return ++*n == 2 ? -ECANCELED : 0;
}

static void test_events_query(void **state) {
        struct db *db = open_db(state, "events.db");
        create_cluster(db, 3);

        /* Events 2..11: alternating kinds */
        for (unsigned i = 0; i < 10; i++)
                apply(db, i % 2 ? op_event("node.thing", NULL, "n") : op_event("role.thing", NULL, "r"));

        /* Newest `limit`, oldest first */
        _cleanup_(evs_done) struct evs a = events(db, 0, 3, NULL);
        assert_int_equal(a.n, 3);
        assert_true(a.v[0].id == 9 && a.v[1].id == 10 && a.v[2].id == 11);

        /* Since an id: the following ones, oldest first, up to limit */
        _cleanup_(evs_done) struct evs b = events(db, 4, 3, NULL);
        assert_int_equal(b.n, 3);
        assert_true(b.v[0].id == 5 && b.v[2].id == 7);
        _cleanup_(evs_done) struct evs c = events(db, 10, 100, NULL);
        assert_int_equal(c.n, 1);
        assert_true(c.v[0].id == 11);
        _cleanup_(evs_done) struct evs none = events(db, 11, 100, NULL);
        assert_int_equal(none.n, 0);
        _cleanup_(evs_done) struct evs all = events(db, 0, 1000, NULL);
        assert_int_equal(all.n, 11);

        /* Kind prefix */
        _cleanup_(evs_done) struct evs k = events(db, 0, 100, "node.");
        assert_int_equal(k.n, 5);
        for (size_t i = 0; i < k.n; i++)
                assert_string_equal(k.v[i].kind, "node.thing");
        _cleanup_(evs_done) struct evs k2 = events(db, 0, 2, "role");
        assert_int_equal(k2.n, 2);
        assert_true(k2.v[0].id == 8 && k2.v[1].id == 10);
        _cleanup_(evs_done) struct evs k3 = events(db, 5, 100, "cluster");
        assert_int_equal(k3.n, 0);
        _cleanup_(evs_done) struct evs k4 = events(db, 0, 100, "cluster");
        assert_int_equal(k4.n, 1);
        /* Prefix means prefix: no pattern characters */
        _cleanup_(evs_done) struct evs k5 = events(db, 0, 100, "%");
        assert_int_equal(k5.n, 0);
        _cleanup_(evs_done) struct evs k6 = events(db, 0, 100, "_ode");
        assert_int_equal(k6.n, 0);

        /* A callback error stops the walk and is returned */
        unsigned n = 0;
        assert_int_equal(db_events(db, false, 0, 100, NULL, stop_after_two, &n), -ECANCELED);

        /* since=0 given means "from the start", not "the newest". */
        struct evs first = {};
        assert_int_equal(db_events(db, true, 0, 1, NULL, collect, &first), 0);
        assert_int_equal(first.n, 1);
        assert_int_equal(first.v[0].id, 1);
        evs_done(&first);
        assert_int_equal(n, 2);
        db_close(db);
}

/* ------------------------------------------------------------------------ */
/* Epoch, wipe, join                                                         */

static void test_raise_epoch(void **state) {
        struct db *db = open_db(state, "epoch.db");
        create_cluster(db, 1);
        uint64_t version = db_position(db)->version, hash = db_position(db)->hash;

        assert_int_equal(db_raise_epoch(db, 5), 0);
        assert_true(db_position(db)->epoch == 5);
        assert_int_equal(db_raise_epoch(db, 3), 0);
        assert_true(db_position(db)->epoch == 5);
        assert_int_equal(db_raise_epoch(db, 5), 0);
        assert_true(db_position(db)->epoch == 5);
        /* Version and hash are untouched. */
        assert_true(db_position(db)->version == version && db_position(db)->hash == hash);

        /* Inside a transaction it is part of it. */
        assert_int_equal(db_begin(db), 0);
        assert_int_equal(db_raise_epoch(db, 9), 0);
        assert_true(db_in_transaction(db));
        db_rollback(db);
        assert_true(db_position(db)->epoch == 5);
        assert_int_equal(db_begin(db), 0);
        assert_int_equal(db_raise_epoch(db, 9), 0);
        assert_int_equal(db_commit(db), 0);

        /* Durable */
        db_close(db);
        db = open_db(state, "epoch.db");
        assert_true(db_position(db)->epoch == 9);
        db_close(db);
}

static void test_wipe(void **state) {
        struct db *db = open_db(state, "wipe.db");
        struct db_cluster c;
        struct db_node *nodes;
        struct db_token *tokens;
        size_t n;
        char **keys;
        uint64_t seq;
        int code;
        char *msg = NULL;

        create_cluster(db, 3);
        feed_history(db, "x");
        assert_int_equal(db_raise_epoch(db, 4), 0);

        assert_int_equal(db_wipe(db), 0);
        const struct db_position *pos = db_position(db);
        assert_true(pos->epoch == 0 && pos->version == 0 && pos->hash == 0);
        assert_int_equal(db_get_cluster(db, &c), -ENOENT);
        assert_int_equal(db_nodes(db, &nodes, &n), 0);
        assert_int_equal(n, 0);
        db_nodes_free(nodes, n);
        assert_int_equal(db_tokens(db, &tokens, &n), 0);
        assert_int_equal(n, 0);
        db_tokens_free(tokens, n);
        assert_int_equal(db_user_setting_keys(db, &keys), 0);
        assert_int_equal(strv_length(keys), 0);
        strv_free(keys);
        _cleanup_(evs_done) struct evs l = events(db, 0, 100, NULL);
        assert_int_equal(l.n, 0);
        assert_int_equal(db_origin_seq(db, 1, &seq), 0);
        assert_true(seq == 0);
        assert_int_equal(db_refusal(db, 1, 104, &code, &msg), -ENOENT);

        /* The same as a brand-new database, and it survives a reopen. */
        db_close(db);
        db = open_db(state, "wipe.db");
        struct db *fresh = open_db(state, "fresh.db");
        _cleanup_free_ void *s1 = NULL, *s2 = NULL;
        size_t n1, n2;
        snapshot(db, &s1, &n1);
        snapshot(fresh, &s2, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(s1, s2, n1);

        /* A wiped node can be part of a new cluster. */
        create_cluster(db, 1);
        assert_true(db_position(db)->version == 1);
        db_close(fresh);
        db_close(db);
}

static void test_prepare_join(void **state) {
        struct db *db = open_db(state, "join.db"), *member = open_db(state, "member.db");
        struct db_cluster c;
        struct err e = {};

        assert_int_equal(db_prepare_join(db, "c1", UUID, &e), 0);
        assert_int_equal(db_get_cluster(db, &c), 0);
        assert_string_equal(c.name, "c1");
        assert_string_equal(c.uuid, UUID);
        const struct db_position *pos = db_position(db);
        assert_true(pos->epoch == 0 && pos->version == 0 && pos->hash == 0);

        /* A prepared node belongs to that cluster already. */
        assert_int_equal(db_prepare_join(db, "c2", "11111111-2222-4333-8444-555555555555", &e), -EEXIST);
        assert_string_equal(e.msg, "this node already belongs to cluster 'c1'");
        err_clear(&e);
        static const struct db_cluster other = { .name = "c2", .uuid = "11111111-2222-4333-8444-555555555555" };
        assert_int_equal(db_create_cluster(db, &other, NULL, 0, "local:root", &e), -EEXIST);

        /* It gets the cluster's state by sync. */
        _cleanup_free_ void *s = NULL, *s2 = NULL;
        size_t n, n2;
        create_cluster(member, 3);
        feed_history(member, "x");
        snapshot(member, &s, &n);
        assert_int_equal(db_snapshot_install(db, s, n, &e), 0);
        assert_memory_equal(db_position(db), db_position(member), sizeof(struct db_position));
        snapshot(db, &s2, &n2);
        assert_int_equal(n, n2);
        assert_memory_equal(s, s2, n);

        /* And a joined node cannot prepare again. */
        assert_int_equal(db_prepare_join(db, "c1", UUID, &e), -EEXIST);
        db_close(db);
        db_close(member);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_creates_schema, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_migrates_from_empty_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_refuses_newer_schema, setup, teardown),
                cmocka_unit_test_setup_teardown(test_open_refuses_junk, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reopen_keeps_data, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_cluster, setup, teardown),
                cmocka_unit_test_setup_teardown(test_create_cluster_one_node_and_failure, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_settings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_node_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_event_and_origins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals_recorded, setup, teardown),
                cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hash_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_restores_position, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_of_empty_db, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_truncated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_structure_damage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_value_damage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_every_byte_flipped, setup, teardown),
                cmocka_unit_test_setup_teardown(test_event_pruning, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events_query, setup, teardown),
                cmocka_unit_test_setup_teardown(test_raise_epoch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wipe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_join, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
