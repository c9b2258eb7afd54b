/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-sync.c: who holds the newest state after a membership change, who
 * must receive it, who cannot take part, and whether a partition may
 * write. Every member runs the same decision on the same inputs, so the
 * answers must follow only from the members' states (never from their
 * order in the list).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/sync-int.h"

#define UUID_A "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"
#define UUID_B "11111111-2222-4333-8444-555555555555"

static struct sync_member member(uint32_t nodeid, uint32_t pid, uint64_t epoch, uint64_t version, uint64_t hash,
                                 const char *uuid) {
        struct sync_member m = {
                .nodeid = nodeid, .pid = pid, .pos = { .epoch = epoch, .version = version, .hash = hash }, .schema = 1
        };
        snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
        return m;
}

/* Decides, then checks the winner's node id and each member's role given
 * as a string of 'u' (up to date), 'r' (receive), 'x' (excluded). The same
 * decision must come out of every rotation of the member list. */
static void check(const struct sync_member *m, size_t n, uint32_t winner_nodeid, uint32_t winner_pid,
                  const char *roles) {
        assert_int_equal(strlen(roles), n);
        for (size_t rot = 0; rot < n; rot++) {
                struct sync_member r[16];
                struct sync_decision d;
                size_t receivers = 0;

                assert_true(n <= ELEMENTSOF(r));
                for (size_t i = 0; i < n; i++)
                        r[i] = m[(i + rot) % n];
                assert_int_equal(sync_decide(r, n, &d), 0);
                assert_true(d.winner < n);
                assert_int_equal(r[d.winner].nodeid, winner_nodeid);
                assert_int_equal(r[d.winner].pid, winner_pid);
                for (size_t i = 0; i < n; i++) {
                        char want = roles[(i + rot) % n];
                        char got = d.roles[i] == SYNC_UP_TO_DATE ? 'u' : d.roles[i] == SYNC_RECEIVE ? 'r' : 'x';
                        if (want != got)
                                fail_msg("rotation %zu: node %u (pid %u): expected %c, got %c", rot, r[i].nodeid,
                                         r[i].pid, want, got);
                        if (got == 'r')
                                receivers++;
                }
                assert_int_equal(d.roles[d.winner], SYNC_UP_TO_DATE);
                assert_int_equal(d.n_receivers, receivers);
                sync_decision_done(&d);
                assert_null(d.roles);
        }
}

static void test_single_member(void **state) {
        struct sync_member m[] = { member(1, 100, 3, 40, 0xaa, UUID_A) };
        struct sync_decision d;
        check(m, 1, 1, 100, "u");
        assert_int_equal(sync_decide(m, 1, &d), 0);
        assert_string_equal(d.reason, "node 1 holds the newest state (epoch 3, version 40)");
        assert_int_equal(d.n_receivers, 0);
        sync_decision_done(&d);
}

static void test_all_equal(void **state) {
        /* Nobody receives anything; the lowest node id is named winner. */
        struct sync_member m[] = {
                member(3, 10, 5, 100, 0xbeef, UUID_A),
                member(1, 10, 5, 100, 0xbeef, UUID_A),
                member(2, 10, 5, 100, 0xbeef, UUID_A),
        };
        check(m, 3, 1, 10, "uuu");
}

static void test_epoch_beats_version(void **state) {
        /* A minority that kept counting versions without quorum cannot have
         * admitted writes in a later epoch; the higher epoch wins even with
         * fewer versions. */
        struct sync_member m[] = {
                member(1, 10, 4, 900, 0x1, UUID_A),
                member(2, 10, 6, 120, 0x2, UUID_A),
                member(3, 10, 6, 120, 0x2, UUID_A),
        };
        check(m, 3, 2, 10, "ruu");
}

static void test_version_tiebreak(void **state) {
        struct sync_member m[] = {
                member(1, 10, 6, 119, 0x1, UUID_A),
                member(2, 10, 6, 121, 0x2, UUID_A),
                member(3, 10, 6, 120, 0x3, UUID_A),
        };
        check(m, 3, 2, 10, "rur");
}

static void test_same_position_other_hash(void **state) {
        /* Diverged uncommitted tails: the winner's tail is kept, the other
         * copy is overwritten even though it is "as new". */
        struct sync_member m[] = {
                member(1, 10, 6, 120, 0x1111, UUID_A),
                member(2, 10, 6, 120, 0x2222, UUID_A),
                member(3, 10, 6, 120, 0x1111, UUID_A),
        };
        check(m, 3, 1, 10, "uru");

        /* Same version and hash but a lower epoch: receives too (the epoch
         * is part of the state). */
        struct sync_member m2[] = {
                member(1, 10, 6, 120, 0x1111, UUID_A),
                member(2, 10, 5, 120, 0x1111, UUID_A),
        };
        check(m2, 2, 1, 10, "ur");
}

static void test_nodeid_then_pid_tiebreak(void **state) {
        struct sync_member m[] = {
                member(2, 5, 6, 120, 0x1, UUID_A),
                member(4, 1, 6, 120, 0x2, UUID_A),
                member(3, 1, 6, 120, 0x3, UUID_A),
        };
        check(m, 3, 2, 5, "urr");

        /* The same node id twice (a restarted daemon seen twice in one view):
         * the lower pid wins. */
        struct sync_member m2[] = {
                member(2, 900, 6, 120, 0x1, UUID_A),
                member(2, 300, 6, 120, 0x2, UUID_A),
                member(1, 100, 6, 119, 0x3, UUID_A),
        };
        check(m2, 3, 2, 300, "rur");
}

static void test_empty_uuid_receives(void **state) {
        /* Nodes that have not received any state yet (freshly joined) get
         * the winner's snapshot, and never win themselves. */
        struct sync_member m[] = {
                member(1, 10, 0, 0, 0, ""),
                member(2, 10, 2, 7, 0x7, UUID_A),
                member(3, 10, 0, 0, 0, ""),
        };
        check(m, 3, 2, 10, "rur");

        /* Even with a position that looks newer. */
        struct sync_member m2[] = {
                member(1, 10, 99, 99, 0, ""),
                member(2, 10, 1, 1, 0x7, UUID_A),
        };
        check(m2, 2, 2, 10, "ru");
}

static void test_foreign_uuid_excluded(void **state) {
        struct sync_member m[] = {
                member(1, 10, 6, 120, 0x1, UUID_A),
                member(2, 10, 6, 120, 0x1, UUID_A),
                member(3, 10, 2, 10, 0x9, UUID_B),
        };
        check(m, 3, 1, 10, "uux");

        /* A foreign node with the newest state decides which cluster this
         * group is; the others are then the foreign ones. */
        struct sync_member m2[] = {
                member(1, 10, 6, 120, 0x1, UUID_A),
                member(2, 10, 9, 5, 0x9, UUID_B),
                member(3, 10, 6, 100, 0x1, UUID_A),
        };
        check(m2, 3, 2, 10, "xux");
}

static void test_schema_mismatch_excluded(void **state) {
        struct sync_member m[] = {
                member(1, 10, 6, 120, 0x1, UUID_A),
                member(2, 10, 6, 100, 0x1, UUID_A),
                member(3, 10, 6, 100, 0x1, UUID_A),
        };
        m[2].schema = 2;
        check(m, 3, 1, 10, "urx");

        /* A fresh node of another schema cannot take the snapshot either. */
        struct sync_member m2[] = {
                member(1, 10, 6, 120, 0x1, UUID_A),
                member(2, 10, 0, 0, 0, ""),
        };
        m2[1].schema = 0;
        check(m2, 2, 1, 10, "ux");
}

static void test_no_state(void **state) {
        struct sync_member m[] = { member(1, 10, 0, 0, 0, ""), member(2, 10, 0, 0, 0, "") };
        struct sync_decision d = { .winner = 77 };
        assert_int_equal(sync_decide(m, 2, &d), -ENODATA);
        assert_int_equal(d.winner, 77); /* untouched */
        assert_null(d.roles);
        assert_int_equal(sync_decide(m, 0, &d), -ENODATA);
        assert_int_equal(sync_decide(NULL, 0, &d), -ENODATA);
}

static void test_position_newer(void **state) {
        struct db_position a = { 5, 10, 1 }, b = { 5, 9, 2 }, c = { 6, 1, 3 }, a2 = { 5, 10, 99 };
        assert_true(sync_position_newer(&a, &b));
        assert_false(sync_position_newer(&b, &a));
        assert_true(sync_position_newer(&c, &a));
        assert_false(sync_position_newer(&a, &c));
        /* The hash does not order positions. */
        assert_false(sync_position_newer(&a, &a2));
        assert_false(sync_position_newer(&a2, &a));
        assert_false(sync_position_newer(&a, &a));
}

static void test_may_write(void **state) {
        /* Quorate, and enough copies */
        assert_true(sync_may_write(true, 2, 2));
        assert_true(sync_may_write(true, 2, 3));
        assert_true(sync_may_write(true, 1, 1));
        /* Not quorate: never */
        assert_false(sync_may_write(false, 2, 3));
        assert_false(sync_may_write(false, 0, 0));
        /* Quorate, but a node counted by votequorum runs no clusterd: too
         * few copies would hold the write */
        assert_false(sync_may_write(true, 2, 1));
        assert_false(sync_may_write(true, 3, 2));
        /* A quorum of zero is not a quorum */
        assert_false(sync_may_write(true, 0, 0));
        assert_false(sync_may_write(true, 0, 5));
}

static void test_role_names(void **state) {
        assert_string_equal(sync_role_to_string(SYNC_UP_TO_DATE), "up-to-date");
        assert_string_equal(sync_role_to_string(SYNC_RECEIVE), "receive");
        assert_string_equal(sync_role_to_string(SYNC_EXCLUDED), "excluded");
        assert_string_equal(sync_role_to_string((enum sync_role)9), "unknown");
}

static void test_quorum_current(void **state) {
        const uint32_t view[] = { 1, 2 }, gone[] = { 3 };
        const uint32_t old_ring[] = { 1, 2, 3 }, new_ring[] = { 1, 2 }, other[] = { 2, 3 };

        /* The view lost node 3; the verdict still lists it: the old ring's. */
        assert_false(sync_quorum_current(view, 2, gone, 1, old_ring, 3));
        /* The new ring's verdict. */
        assert_true(sync_quorum_current(view, 2, gone, 1, new_ring, 2));
        /* A member of the view is not in the verdict: not about this view. */
        assert_false(sync_quorum_current(view, 2, NULL, 0, other, 2));
        /* Only a process left (clusterd died, corosync runs on): no ring change. */
        assert_true(sync_quorum_current(view, 2, NULL, 0, old_ring, 3));
        /* A node that left and is back in the view counts as present. */
        const uint32_t back[] = { 1, 2, 3 };
        assert_true(sync_quorum_current(back, 3, gone, 1, old_ring, 3));
        /* An empty verdict never covers a view. */
        assert_false(sync_quorum_current(view, 2, NULL, 0, NULL, 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_single_member),
                cmocka_unit_test(test_all_equal),
                cmocka_unit_test(test_epoch_beats_version),
                cmocka_unit_test(test_version_tiebreak),
                cmocka_unit_test(test_same_position_other_hash),
                cmocka_unit_test(test_nodeid_then_pid_tiebreak),
                cmocka_unit_test(test_empty_uuid_receives),
                cmocka_unit_test(test_foreign_uuid_excluded),
                cmocka_unit_test(test_schema_mismatch_excluded),
                cmocka_unit_test(test_no_state),
                cmocka_unit_test(test_position_newer),
                cmocka_unit_test(test_may_write),
                cmocka_unit_test(test_quorum_current),
                cmocka_unit_test(test_role_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
