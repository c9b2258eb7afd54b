/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-db.c: the node's copy of the cluster database, on real sqlite files
 * under /tmp. What matters to an operator: a write shows up with its event,
 * a refused write is refused the same way on every node (and still moves
 * the version, so that all copies stay in step), and two copies fed the
 * same operations end up identical to the byte. Applying each kind of
 * operation is tested in test-db-apply.c, snapshots in test-snapshot.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "tests/unit/db-fixture.h"

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
        assert_non_null(strstr(e.msg, "database schema version 99 is newer than this clusterd understands (3)"));
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
/* Determinism                                                               */

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
                cmocka_unit_test_setup_teardown(test_determinism, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hash_chain, setup, teardown),
                cmocka_unit_test_setup_teardown(test_rollback_restores_position, setup, teardown),
                cmocka_unit_test_setup_teardown(test_event_pruning, setup, teardown),
                cmocka_unit_test_setup_teardown(test_events_query, setup, teardown),
                cmocka_unit_test_setup_teardown(test_raise_epoch, setup, teardown),
                cmocka_unit_test_setup_teardown(test_wipe, setup, teardown),
                cmocka_unit_test_setup_teardown(test_prepare_join, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
