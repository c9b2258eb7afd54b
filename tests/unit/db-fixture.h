/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * db-fixture.h: helpers shared by test-db.c, test-db-apply.c and
 * test-snapshot.c: a temp directory per test, opening a database in it, a
 * three-node cluster, building and applying operations, reading and
 * checking events, taking a snapshot, and a history that touches every
 * operation kind.
 */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/db-int.h"

#define UUID "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"
#define T0 UINT64_C(1700000000000000) /* a realtime timestamp, usec */

struct fixture {
        char *dir;
};

static inline int setup(void **state) {
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

static inline int teardown(void **state) {
        struct fixture *fx = *state;
        int r = rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
        return r;
}

static inline char *db_path(void **state, const char *name) {
        struct fixture *fx = *state;
        return xasprintf("%s/%s", fx->dir, name);
}

static inline struct db *open_db(void **state, const char *name) {
        _cleanup_free_ char *path = db_path(state, name);
        struct db *db = NULL;
        struct err e = {};
        if (db_open(path, DB_SYNC_NORMAL, &db, &e) < 0)
                fail_msg("db_open(%s): %s", path, e.msg);
        return db;
}

/* A three-node cluster "c1": n1..n3 with ids 1..3, n2 and n3 with join tokens. */
static inline void create_cluster(struct db *db, size_t n_nodes) {
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

static inline struct op op_new(enum op_kind kind) {
        uint64_t seq = next_seq++;
        return (struct op){
                .kind = kind,
                .origin_seq = seq,
                .time_usec = T0 + (seq + 1) * USEC_PER_SEC,
                .client = xstrdup("token:automation"),
        };
}

static inline struct op op_setting_set(const char *key, const char *value) {
        struct op op = op_new(OP_SETTING_SET);
        op.key = xstrdup(key);
        op.value = value ? xstrdup(value) : NULL;
        return op;
}

static inline struct op op_setting_unset(const char *key) {
        struct op op = op_new(OP_SETTING_UNSET);
        op.key = xstrdup(key);
        return op;
}

static inline struct op op_node_add(const char *name, uint32_t nodeid, const char *address) {
        struct op op = op_new(OP_NODE_ADD);
        op.name = xstrdup(name);
        op.nodeid = nodeid;
        op.address = xstrdup(address);
        op.token_id = xstrdup("tok999");
        memset(op.secret_hash, 0x44, OP_HASH_SIZE);
        op.expires_usec = T0 + 2 * USEC_PER_HOUR;
        return op;
}

static inline struct op op_name(enum op_kind kind, const char *name) {
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

static inline struct op op_node_state(const char *name, uint8_t st, uint8_t daemon) {
        struct op op = op_name(OP_NODE_STATE, name);
        op.state = st;
        op.daemon = daemon;
        op.since_usec = T0 + 5;
        op.daemon_since_usec = T0 + 6;
        return op;
}

static inline struct op op_event(const char *kind, const char *object, const char *message) {
        struct op op = op_new(OP_EVENT);
        op.event_kind = xstrdup(kind);
        op.event_object = object ? xstrdup(object) : NULL;
        op.event_message = xstrdup(message);
        return op;
}

/* Applies op (consumed) from origin in its own transaction, as a member
 * does on delivery: the raw bytes are the op's encoding. */
static inline struct op_result apply_from(struct db *db, uint32_t origin, struct op op) {
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

static inline struct op_result apply(struct db *db, struct op op) {
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

static inline int collect(const struct db_event *ev, void *userdata) {
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

static inline void evs_done(struct evs *l) {
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

static inline struct evs events(struct db *db, uint64_t since, unsigned limit, const char *kind) {
        struct evs l = {};
        assert_int_equal(db_events(db, since > 0, since, limit, kind, collect, &l), 0);
        return l;
}

static inline void snapshot(struct db *db, void **ret, size_t *ret_size) {
        struct err e = {};
        if (db_snapshot_create(db, ret, ret_size, &e) < 0)
                fail_msg("db_snapshot_create: %s", e.msg);
}

/* ------------------------------------------------------------------------ */
/* History                                                                   */

/* A history that touches every kind, with refusals along the way. */
static inline void feed_history(struct db *db, const char *variant) {
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

/* The newest event. */
static inline struct ev *last_event(struct db *db, struct evs *store) {
        *store = events(db, 0, 1, NULL);
        assert_int_equal(store->n, 1);
        return &store->v[0];
}

static inline void assert_last_event(struct db *db, uint64_t id, const char *node, const char *kind, const char *object,
                                     const char *message) {
        _cleanup_(evs_done) struct evs l = {};
        struct ev *ev = last_event(db, &l);
        assert_true(ev->id == id);
        assert_string_equal(ev->node, node);
        assert_string_equal(ev->kind, kind);
        assert_true(streq_ptr(ev->object, object));
        assert_string_equal(ev->message, message);
}

static inline size_t count_events(struct db *db) {
        _cleanup_(evs_done) struct evs l = events(db, 0, 1000000, NULL);
        return l.n;
}

static inline void assert_refused(struct op_result res, int code, const char *message) {
        assert_int_equal(res.r, code);
        assert_string_equal(res.message, message);
}
