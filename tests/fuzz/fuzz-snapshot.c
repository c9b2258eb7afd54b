/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-snapshot.c: installing a snapshot received from the sync winner.
 * The input is installed into a database that holds a known state (an
 * in-memory sqlite database, opened once per process).
 *
 * A refused install must say why (-EBADMSG and a message) and leave the
 * database exactly as it was: its own snapshot must be byte for byte the
 * one taken before. An accepted install must leave a database that every
 * query can read without crashing, whose position is the snapshot's, and
 * whose own snapshot installs again. After each input the known state is
 * put back by installing its snapshot.
 */
#include "clusterd/db-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static void *known;
static size_t known_size;

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-snapshot: %s\n", what);
                abort();
        }
}

static void apply(struct op *op, uint32_t origin) {
        struct msg_buf b = {};
        struct op_result res;
        check(msg_put_op(&b, op, NULL) >= 0, "encoding a setup op");
        check(db_begin(db) >= 0, "begin");
        check(db_apply_op(db, origin, op, b.data, b.size, &res) >= 0, "applying a setup op");
        check(db_commit(db) >= 0, "commit");
        msg_buf_done(&b);
}

/* A small cluster with something in every replicated table. */
static void setup(void) {
        static const struct db_cluster c = {
                .name = "fuzz", .uuid = "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8", .created_usec = 1, .token_ms = 1000
        };
        struct db_node nodes[2] = {
                { .name = (char *)"n1", .nodeid = 1, .address = (char *)"198.18.0.1" },
                { .name = (char *)"n2",
                  .nodeid = 2,
                  .address = (char *)"198.18.0.2",
                  .join_token_id = (char *)"abc123" },
        };
        struct err e = {};

        check(db_open(":memory:", DB_SYNC_NORMAL, &db, &e) >= 0, e.msg);
        check(db_create_cluster(db, &c, nodes, 2, "local:root", &e) >= 0, e.msg);
        apply(&(struct op){ .kind = OP_SETTING_SET, .origin_seq = 1, .key = (char *)"user.x", .value = (char *)"y" },
              1);
        apply(&(struct op){ .kind = OP_TOKEN_CREATE, .origin_seq = 2, .name = (char *)"t1" }, 1);
        apply(&(struct op){ .kind = OP_NODE_REMOVE, .origin_seq = 1, .name = (char *)"nope" }, 2);
        check(db_raise_epoch(db, 3) >= 0, "raise epoch");
        check(db_snapshot_create(db, &known, &known_size, &e) >= 0, e.msg);
}

static int count_event(const struct db_event *ev, void *userdata) {
        size_t *n = userdata;
        check(ev->kind && ev->node && ev->client && ev->message, "event with a NULL column");
        (*n)++;
        return 0;
}

/* Every query the daemon runs on its copy. */
static void read_everything(void) {
        struct db_cluster c;
        struct db_node *nodes = NULL, n = {};
        struct db_token *tokens = NULL, t = {};
        size_t n_nodes = 0, n_tokens = 0, n_events = 0;
        char **keys = NULL, *value = NULL, *by = NULL, *msg = NULL;
        uint64_t seq, at;
        int code;

        (void)db_get_cluster(db, &c);
        if (db_nodes(db, &nodes, &n_nodes) >= 0) {
                for (size_t i = 0; i < n_nodes; i++) {
                        check(nodes[i].name && nodes[i].address, "node with a NULL column");
                        if (db_node_get(db, nodes[i].name, &n) >= 0)
                                db_node_done(&n);
                        if (db_node_by_id(db, nodes[i].nodeid, &n) >= 0)
                                db_node_done(&n);
                }
                db_nodes_free(nodes, n_nodes);
        }
        if (db_tokens(db, &tokens, &n_tokens) >= 0) {
                for (size_t i = 0; i < n_tokens; i++)
                        if (db_token_get(db, tokens[i].name, &t) >= 0)
                                db_token_done(&t);
                db_tokens_free(tokens, n_tokens);
        }
        if (db_user_setting_keys(db, &keys) >= 0) {
                for (size_t i = 0; keys[i]; i++)
                        if (db_setting_get(db, keys[i], &value, &at, &by) >= 0) {
                                free(value);
                                free(by);
                        }
                strv_free(keys);
        }
        (void)db_events(db, false, 0, 1000, NULL, count_event, &n_events);
        (void)db_origin_seq(db, 1, &seq);
        if (db_refusal(db, 2, 1, &code, &msg) >= 0)
                free(msg);
}

static bool same_as_known(void) {
        void *s = NULL;
        size_t n = 0;
        check(db_snapshot_create(db, &s, &n, NULL) >= 0, "snapshot of the target");
        bool same = n == known_size && memcmp(s, known, n) == 0;
        free(s);
        return same;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct err e = {};

        if (!db)
                setup();

        struct db_position before = *db_position(db);
        int r = db_snapshot_install(db, data, size, &e);
        if (r < 0) {
                if (r != -EBADMSG || e.code != -EBADMSG || !e.msg[0]) {
                        fprintf(stderr, "fuzz-snapshot: refused with %d (%s)\n", r, e.msg);
                        abort();
                }
                check(!db_in_transaction(db), "transaction left open");
                check(memcmp(db_position(db), &before, sizeof(before)) == 0, "position changed by a refused install");
                check(same_as_known(), "database changed by a refused install");
                return 0;
        }

        /* Accepted: the position is the snapshot's header. */
        check(size >= 36, "accepted a snapshot shorter than its header");
        uint64_t hdr[3] = {};
        for (size_t i = 0; i < 24; i++)
                hdr[i / 8] |= (uint64_t)data[8 + i] << (8 * (i % 8));
        const struct db_position *pos = db_position(db);
        check(pos->epoch == hdr[0] && pos->version == hdr[1] && pos->hash == hdr[2], "position is not the header's");
        read_everything();

        /* What was installed can be sent on to another member. */
        void *s = NULL;
        size_t n = 0;
        check(db_snapshot_create(db, &s, &n, &e) >= 0, "snapshot of an installed snapshot");
        err_clear(&e);
        if (db_snapshot_install(db, s, n, &e) < 0) {
                fprintf(stderr, "fuzz-snapshot: re-install refused: %s\n", e.msg);
                abort();
        }
        free(s);

        /* Back to the known state for the next input. */
        err_clear(&e);
        check(db_snapshot_install(db, known, known_size, &e) >= 0, "restoring the known state");
        check(same_as_known(), "known state not restored");
        return 0;
}
