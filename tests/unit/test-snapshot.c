/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-snapshot.c: a db snapshot carries the whole state; a damaged one is refused, its target left as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/db-fixture.h"

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
                               "snapshot has schema version 4, this node has 3");
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

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_snapshot_round_trip, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_of_empty_db, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_truncated, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_structure_damage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_value_damage, setup, teardown),
                cmocka_unit_test_setup_teardown(test_snapshot_every_byte_flipped, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
