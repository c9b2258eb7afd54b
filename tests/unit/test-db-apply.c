/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-db-apply.c: applying each kind of operation to the node's copy of
 * the cluster database, on real sqlite files under /tmp: the change, its
 * event, and a refusal that is the same on every node and is remembered
 * for the origin to read back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sqlite3.h>

#include "tests/unit/db-fixture.h"

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

static void test_apply_node_vote(void **state) {
        struct db *db = open_db(state, "vote.db");
        struct db_node n = {};
        struct op_result res;

        create_cluster(db, 3);
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_true(n.vote); /* every node counts from the start */
        db_node_done(&n);

        struct op left = op_name(OP_NODE_VOTE, "n3");
        res = apply_from(db, 3, left);
        assert_int_equal(res.r, 0);
        assert_last_event(db, res.version, "n3", "node.left", "n3",
                          "Node 'n3' left cleanly: its vote no longer counts towards the majority");
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_false(n.vote);
        db_node_done(&n);

        /* The same again: nothing to record. */
        size_t before = count_events(db);
        assert_int_equal(apply_from(db, 3, op_name(OP_NODE_VOTE, "n3")).r, 0);
        assert_int_equal(count_events(db), before);

        struct op back = op_name(OP_NODE_VOTE, "n3");
        back.state = 1;
        res = apply_from(db, 3, back);
        assert_last_event(db, res.version, "n3", "node.vote-restored", "n3",
                          "Node 'n3' is back: its vote counts towards the majority again");
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_true(n.vote);
        db_node_done(&n);

        /* The last voter keeps its vote. */
        assert_int_equal(apply(db, op_name(OP_NODE_VOTE, "n1")).r, 0);
        assert_int_equal(apply(db, op_name(OP_NODE_VOTE, "n2")).r, 0);
        assert_refused(apply(db, op_name(OP_NODE_VOTE, "n3")), -EBUSY,
                       "node 'n3' is the last node with a vote and keeps it");
        assert_int_equal(db_node_get(db, "n3", &n), 0);
        assert_true(n.vote);
        db_node_done(&n);

        struct op bad = op_name(OP_NODE_VOTE, "n3");
        bad.state = 2;
        assert_refused(apply(db, bad), -EINVAL, "invalid vote 2");
        assert_refused(apply(db, op_name(OP_NODE_VOTE, "n9")), -ENOENT, "no node named 'n9'");
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_apply_settings, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_nodes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_node_state, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_node_vote, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_tokens, setup, teardown),
                cmocka_unit_test_setup_teardown(test_apply_event_and_origins, setup, teardown),
                cmocka_unit_test_setup_teardown(test_refusals_recorded, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
