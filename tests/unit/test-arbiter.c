/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-arbiter.c: the witness arbiter beyond single golden scenarios. The
 * lease arithmetic at its edges; that late answers and foreign records are
 * never trusted; and, in the partition simulator (tests/golden/arbiter-sim.h),
 * thousands of seeded random splits, joins, freezes, crashes and witness
 * faults, with the checker asserting at every instant that at most one
 * partition holds the vote and that a partition behind the witness never
 * does. A run with clocks drifting beyond the configured bound must make the
 * checker fire, so that we know it can.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "quorum/quorum.h"
#include "tests/golden/arbiter-sim.h"

#define UUID "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"

static struct arbiter_config base_config(void) {
        struct arbiter_config c = {
                .cluster_uuid = UUID,
                .lease_usec = 3 * USEC_PER_SEC,
                .drift_ppm = 1000,
                .margin_usec = 100 * USEC_PER_MSEC,
                .linger_usec = 300 * USEC_PER_MSEC,
        };
        arbiter_config_defaults(&c);
        return c;
}

static void test_dynamic_witness(void **state) {
        (void)state;
        assert_false(quorum_witness_counts(0));
        assert_false(quorum_witness_counts(1));
        assert_true(quorum_witness_counts(2));
        assert_false(quorum_witness_counts(3));
        assert_true(quorum_witness_counts(4));
        assert_int_equal(quorum_expected_votes(2, true), 3);
        assert_int_equal(quorum_expected_votes(2, false), 2);
        assert_int_equal(quorum_expected_votes(3, true), 3);
        assert_int_equal(quorum_expected_votes(4, true), 5);
}

static void test_lease_math(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        /* 3 s * (1 - 0.001) - 100 ms - 300 ms = 2.597 s. */
        assert_int_equal(arbiter_hold_usec(&c), 2597000);
        /* 3 s * (1 + 0.001) + 100 ms = 3.103 s; a longer lease in the
         * record is what counts. */
        assert_int_equal(arbiter_wait_usec(&c, 0), 3103000);
        assert_int_equal(arbiter_wait_usec(&c, 6 * USEC_PER_SEC), 6106000);
        /* Rounding goes the safe way: down for the holder, up for others. */
        c.lease_usec = 1001;
        c.margin_usec = c.linger_usec = 0;
        assert_int_equal(arbiter_hold_usec(&c), 999);     /* 999.999 */
        assert_int_equal(arbiter_wait_usec(&c, 0), 1003); /* 1002.001 */
        assert_int_equal(c.renew_usec, 1000000);
}

static void test_config_check(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        struct err e = {};
        struct arbiter *a = NULL;
        assert_int_equal(arbiter_config_check(&c, &e), 0);

        c.linger_usec = 2 * USEC_PER_SEC; /* leaves 0.597 s: less than renew + timeout */
        assert_int_equal(arbiter_config_check(&c, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "lease too short"));
        assert_int_equal(arbiter_new(&c, &a, NULL), -EINVAL);
        assert_null(a);

        c = base_config();
        c.drift_ppm = ARBITER_DRIFT_MAX_PPM + 1;
        assert_int_equal(arbiter_config_check(&c, NULL), -EINVAL);
        c = base_config();
        c.cluster_uuid[0] = '\0';
        assert_int_equal(arbiter_config_check(&c, NULL), -EINVAL);
        c = base_config();
        c.lease_usec = 2 * USEC_PER_HOUR;
        assert_int_equal(arbiter_config_check(&c, NULL), -EINVAL);
}

/* Steps a and checks the call succeeded. */
static struct arbiter_actions step(struct arbiter *a, struct arbiter_event ev, uint64_t now) {
        struct arbiter_actions out;
        assert_int_equal(arbiter_step(a, &ev, now, &out), 0);
        return out;
}

static struct arbiter_record record(uint32_t holder, uint64_t gen, uint64_t epoch, uint64_t version) {
        struct arbiter_record r = { .cluster_uuid = UUID,
                                    .holder = { .nodeid = holder, .ring_seq = holder ? 40 : 0 },
                                    .generation = gen,
                                    .lease_usec = 3 * USEC_PER_SEC,
                                    .position = { epoch, version } };
        return r;
}

/* An answer that comes after the operation was given up is not trusted: a
 * write the arbiter stopped waiting for may have landed at any time, and
 * its start no longer bounds anything. */
static void test_late_answer_ignored(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        struct arbiter *a;
        uint64_t t = 1000 * USEC_PER_SEC;
        assert_int_equal(arbiter_new(&c, &a, NULL), 0);

        struct arbiter_actions o = step(
                a, (struct arbiter_event){ .type = ARBITER_EV_START, .partition = { 1, 50 }, .position = { 7, 100 } },
                t);
        assert_int_equal(o.op, ARBITER_OP_READ);
        uint64_t read_id = o.op_id;
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_RESULT, .op_id = read_id, .result = ARBITER_ABSENT },
                 t + 10);
        assert_int_equal(o.op, ARBITER_OP_WRITE);
        assert_int_equal(o.expect_generation, 0);
        assert_int_equal(o.record.generation, 1);
        uint64_t write_id = o.op_id;

        /* The write is not answered in time. */
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_TICK }, o.op_deadline_usec);
        assert_false(o.vote);
        assert_int_equal(o.op, ARBITER_OP_NONE);
        assert_non_null(strstr(o.transition, "acquiring -> watching (write timeout)"));

        /* Its answer comes later: ignored, no vote. */
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_RESULT, .op_id = write_id, .result = ARBITER_OK },
                 o.wakeup_usec - 1);
        assert_false(o.vote);
        assert_string_equal(o.transition, "");

        /* The next operation is a read (the write may have landed); the
         * record shows it did, so it is ours and is written again at once. */
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_TICK }, o.wakeup_usec);
        assert_int_equal(o.op, ARBITER_OP_READ);
        struct arbiter_record r = record(1, 1, 7, 100);
        r.holder.ring_seq = 50;
        uint64_t now = o.op_deadline_usec - 1;
        o = step(a,
                 (struct arbiter_event){
                         .type = ARBITER_EV_RESULT, .op_id = o.op_id, .result = ARBITER_OK, .record = &r },
                 now);
        assert_int_equal(o.op, ARBITER_OP_WRITE);
        assert_int_equal(o.expect_generation, 1);
        assert_false(o.vote);
        uint64_t start = now;
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_RESULT, .op_id = o.op_id, .result = ARBITER_OK },
                 now + 20000);
        assert_true(o.vote);
        /* The vote counts from the start of the write, not its answer. */
        assert_int_equal(o.vote_until_usec, start + arbiter_hold_usec(&c));
        arbiter_free(a);
}

/* Another cluster's record, or one that is not a record, is never written
 * over and never gives a vote, however long it stays. */
static void test_foreign_and_corrupt_never_written(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        struct arbiter *a;
        uint64_t t = 1000 * USEC_PER_SEC;
        assert_int_equal(arbiter_new(&c, &a, NULL), 0);
        struct arbiter_actions o = step(
                a, (struct arbiter_event){ .type = ARBITER_EV_START, .partition = { 1, 50 }, .position = { 7, 100 } },
                t);
        struct arbiter_record foreign = record(0, 3, 1, 1);
        memcpy(foreign.cluster_uuid, "0b9e8d7c-6b5a-4948-8372-615049382716", sizeof(foreign.cluster_uuid));
        for (int i = 0; i < 200; i++) {
                assert_int_equal(o.op, ARBITER_OP_READ);
                assert_false(o.vote);
                bool corrupt = i % 2;
                o = step(a,
                         (struct arbiter_event){ .type = ARBITER_EV_RESULT,
                                                 .op_id = o.op_id,
                                                 .result = corrupt ? ARBITER_CORRUPT : ARBITER_OK,
                                                 .record = corrupt ? NULL : &foreign },
                         t + 1000);
                assert_int_equal(o.op, ARBITER_OP_NONE);
                t = o.wakeup_usec;
                o = step(a, (struct arbiter_event){ .type = ARBITER_EV_TICK }, t);
        }
        struct arbiter_status st;
        arbiter_get_status(a, t, &st);
        assert_true(st.reachable);
        assert_int_equal(st.health, ARBITER_HEALTH_CORRUPT);
        assert_int_equal(st.last_error, -EBADMSG);
        arbiter_free(a);
}

/* A partition whose database is behind the record's position does not take
 * a free record; once its database catches up, it does. */
static void test_behind_waits_for_sync(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        struct arbiter *a;
        uint64_t t = 1000 * USEC_PER_SEC;
        assert_int_equal(arbiter_new(&c, &a, NULL), 0);
        struct arbiter_actions o = step(
                a, (struct arbiter_event){ .type = ARBITER_EV_START, .partition = { 2, 51 }, .position = { 7, 100 } },
                t);
        struct arbiter_record free_rec = record(0, 9, 8, 20);
        o = step(a,
                 (struct arbiter_event){
                         .type = ARBITER_EV_RESULT, .op_id = o.op_id, .result = ARBITER_OK, .record = &free_rec },
                 t + 1000);
        assert_int_equal(o.op, ARBITER_OP_NONE);
        struct arbiter_status st;
        arbiter_get_status(a, t + 1000, &st);
        assert_true(st.behind);
        o = step(a, (struct arbiter_event){ .type = ARBITER_EV_POSITION, .position = { 8, 20 } }, t + 2000);
        assert_int_equal(o.op, ARBITER_OP_WRITE);
        assert_int_equal(o.expect_generation, 9);
        assert_int_equal(o.record.position.epoch, 8);
        assert_int_equal(o.record.position.version, 20);
        arbiter_free(a);
}

/* ------------------------------------------------------------------------ */
/* Random runs                                                               */

static uint64_t rng;

static uint64_t rnd(void) {
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        return rng * UINT64_C(0x2545f4914f6cdd1d);
}

static uint64_t pick(uint64_t n) {
        return rnd() % n;
}

static void quiet_log(void *userdata, uint64_t t, const char *who, const char *text) {
        (void)userdata;
        if (getenv("ARBITER_SIM_VERBOSE"))
                fprintf(stderr, "%10.3f %s: %s\n", (double)t / 1e6, who, text);
}

struct run_result {
        unsigned violations;
        char first[256];
        bool live; /* once healed, some partition held the vote */
        unsigned acquisitions;
};

/* One seeded run: 2 to 4 partitions with clocks spread over +-spread_ppm,
 * random events for duration_usec, then everything healed for ten leases. */
static struct run_result random_run(uint64_t seed, const struct arbiter_config *cfg, int32_t spread_ppm,
                                    uint64_t duration_usec) {
        struct sim s;
        rng = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
        sim_init(&s, cfg);
        s.rng = rnd() | 1;
        s.log = quiet_log;
        size_t n = 2 + pick(3);
        for (size_t i = 0; i < n; i++) {
                char name[2] = { (char)('A' + i), '\0' };
                int32_t ppm = spread_ppm ? (int32_t)pick(2 * (uint64_t)spread_ppm + 1) - spread_ppm : 0;
                if (pick(3) == 0)
                        ppm = i % 2 ? spread_ppm : -spread_ppm; /* the extremes, often */
                int r = sim_add_part(&s, name, (struct arbiter_partition){ (uint32_t)i + 1, 100 + pick(50) },
                                     (struct arbiter_position){ 5, 100 + pick(10) },
                                     (int64_t)(pick(1000) * USEC_PER_SEC), ppm);
                assert_true(r >= 0);
                sim_set_link(&s, (size_t)r, SIM_LINK_OK, USEC_PER_MSEC, 30 * USEC_PER_MSEC);
                assert_int_equal(sim_start(&s, (size_t)r), 0);
        }
        uint64_t t = 0;
        while (t < duration_usec) {
                t += 100 * USEC_PER_MSEC + pick(3 * USEC_PER_SEC);
                sim_run_until(&s, t);
                size_t p = pick(n);
                /* Faults of processes are rarer than faults of links, so
                 * that holders come and go but also stay a while. */
                uint64_t what = pick(24);
                if (what >= 12 && what < 15)
                        what = 0;
                else if (what >= 12)
                        what = 10;
                else if ((what == 3 || what == 4 || what == 7) && pick(2))
                        what = 10;
                switch (what) {
                case 0:
                case 1: {
                        static const enum sim_link links[] = { SIM_LINK_OK, SIM_LINK_OK, SIM_LINK_DOWN, SIM_LINK_5XX,
                                                               SIM_LINK_LOSE_REPLY };
                        uint64_t d = pick(4) == 0 ? pick(2 * cfg->op_timeout_usec) : pick(50 * USEC_PER_MSEC);
                        sim_set_link(&s, p, links[pick(ELEMENTSOF(links))], d / 2, d);
                        break;
                }
                case 2:
                        sim_set_witness(&s, pick(3) ? SIM_WITNESS_OK : (enum sim_witness_fault)(1 + pick(3)));
                        break;
                case 3:
                        sim_freeze(&s, p, !s.parts[p].frozen);
                        break;
                case 4:
                        if (s.parts[p].arb)
                                sim_crash(&s, p);
                        else
                                assert_int_equal(sim_start(&s, p), 0);
                        break;
                case 5:
                case 6: {
                        struct arbiter_position pos = s.parts[p].pos;
                        if (pick(4) == 0) {
                                pos.epoch++;
                                pos.version += pick(3);
                        } else
                                pos.version += 1 + pick(20);
                        sim_set_position(&s, p, pos);
                        break;
                }
                case 7:
                        if (s.parts[p].arb && pick(2))
                                sim_stop(&s, p);
                        else if (s.parts[p].arb)
                                assert_int_equal(sim_start(&s, p), 0);
                        break;
                case 8:
                        sim_set_ring(&s, p, s.parts[p].id.ring_seq + 1 + pick(5));
                        break;
                case 9:
                        /* Rarely, another cluster's record or garbage appears
                         * (an operator pointed two clusters at one share). */
                        if (pick(8) == 0) {
                                struct arbiter_record r = { .cluster_uuid = "0b9e8d7c-6b5a-4948-8372-615049382716",
                                                            .holder = { 9, 9 },
                                                            .generation = 4,
                                                            .lease_usec = USEC_PER_SEC };
                                if (pick(2))
                                        sim_set_content(&s, SIM_CONTENT_RECORD, &r);
                                else
                                        sim_set_content(&s, SIM_CONTENT_CORRUPT, NULL);
                        }
                        break;
                default:
                        /* Everything between p and the witness heals. */
                        sim_set_link(&s, p, SIM_LINK_OK, USEC_PER_MSEC, 30 * USEC_PER_MSEC);
                        break;
                }
        }

        /* Heal: every process running, links and witness fine, the record
         * ours (or none), every database as new as the newest. */
        sim_set_witness(&s, SIM_WITNESS_OK);
        if (s.content == SIM_CONTENT_CORRUPT ||
            (s.content == SIM_CONTENT_RECORD && !streq(s.record.cluster_uuid, cfg->cluster_uuid)))
                sim_set_content(&s, SIM_CONTENT_ABSENT, NULL);
        struct arbiter_position newest = s.max_recorded;
        for (size_t i = 0; i < n; i++)
                if (arbiter_position_ge(&s.parts[i].pos, &newest))
                        newest = s.parts[i].pos;
        newest.version++;
        for (size_t i = 0; i < n; i++) {
                sim_set_link(&s, i, SIM_LINK_OK, USEC_PER_MSEC, 30 * USEC_PER_MSEC);
                sim_freeze(&s, i, false);
                if (!s.parts[i].arb)
                        assert_int_equal(sim_start(&s, i), 0);
                else
                        assert_int_equal(sim_start(&s, i), 0); /* a stopped one starts again; running: no-op */
                sim_set_position(&s, i, newest);
        }
        sim_run_until(&s, t + 10 * cfg->lease_usec);

        struct run_result res = { .violations = s.violations, .live = sim_holder(&s) >= 0 };
        if (getenv("ARBITER_SIM_STATS"))
                fprintf(stderr,
                        "seed %" PRIu64 ": %zu partitions, %" PRIu64 " instants, %u writes, held %" PRIu64
                        "ms, %u spells\n",
                        seed, n, s.instants, s.writes_applied,
                        (s.parts[0].vote_total_usec + s.parts[1].vote_total_usec +
                         (n > 2 ? s.parts[2].vote_total_usec : 0) + (n > 3 ? s.parts[3].vote_total_usec : 0)) /
                                USEC_PER_MSEC,
                        s.parts[0].acquisitions + s.parts[1].acquisitions + (n > 2 ? s.parts[2].acquisitions : 0) +
                                (n > 3 ? s.parts[3].acquisitions : 0));
        snprintf(res.first, sizeof(res.first), "%s", s.first_violation);
        for (size_t i = 0; i < n; i++)
                res.acquisitions += s.parts[i].acquisitions;
        sim_done(&s);
        return res;
}

static void test_random_runs(void **state) {
        (void)state;
        struct arbiter_config c = base_config();
        unsigned acquisitions = 0;
        for (uint64_t seed = 1; seed <= 300; seed++) {
                /* Clocks anywhere within the configured bound. */
                struct run_result r = random_run(seed, &c, (int32_t)c.drift_ppm, 300 * USEC_PER_SEC);
                if (r.violations)
                        fail_msg("seed %" PRIu64 ": %u violations, first %s", seed, r.violations, r.first);
                if (!r.live)
                        fail_msg("seed %" PRIu64 ": no partition holds the vote once everything healed", seed);
                acquisitions += r.acquisitions;
        }
        /* The runs must exercise hand-overs, not one holder throughout. */
        assert_true(acquisitions > 300 * 3);
}

/* Tighter settings, wider drift bound: short leases, drift 5 %, margins and
 * linger of a few milliseconds; the same checker. */
static void test_random_runs_tight(void **state) {
        (void)state;
        struct arbiter_config c = {
                .cluster_uuid = UUID,
                .lease_usec = 600 * USEC_PER_MSEC,
                .drift_ppm = 50000,
                .margin_usec = 5 * USEC_PER_MSEC,
                .linger_usec = 20 * USEC_PER_MSEC,
        };
        arbiter_config_defaults(&c);
        assert_int_equal(arbiter_config_check(&c, NULL), 0);
        for (uint64_t seed = 1000; seed < 1300; seed++) {
                struct run_result r = random_run(seed, &c, (int32_t)c.drift_ppm, 120 * USEC_PER_SEC);
                if (r.violations)
                        fail_msg("seed %" PRIu64 ": %u violations, first %s", seed, r.violations, r.first);
                if (!r.live)
                        fail_msg("seed %" PRIu64 ": no partition holds the vote once everything healed", seed);
        }
}

/* The checker has teeth: with the arbiter told clocks are perfect and no
 * margin, while they drift by 20 %, some run must show two holders. */
static void test_checker_catches_broken_assumptions(void **state) {
        (void)state;
        struct arbiter_config c = {
                .cluster_uuid = UUID,
                .lease_usec = 600 * USEC_PER_MSEC,
                .drift_ppm = 0,
                .margin_usec = 0,
                .linger_usec = 0,
        };
        arbiter_config_defaults(&c);
        unsigned caught = 0;
        for (uint64_t seed = 1; seed <= 50; seed++)
                if (random_run(seed, &c, 200000, 120 * USEC_PER_SEC).violations > 0)
                        caught++;
        assert_true(caught > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dynamic_witness),
                cmocka_unit_test(test_lease_math),
                cmocka_unit_test(test_config_check),
                cmocka_unit_test(test_late_answer_ignored),
                cmocka_unit_test(test_foreign_and_corrupt_never_written),
                cmocka_unit_test(test_behind_waits_for_sync),
                cmocka_unit_test(test_random_runs),
                cmocka_unit_test(test_random_runs_tight),
                cmocka_unit_test(test_checker_catches_broken_assumptions),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
