/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-placement.c: properties of placement that single golden cases do
 * not show. Every node of a partition may compute placement from the same
 * database rows delivered in a different order, so the decisions must not
 * depend on array order; placement must never book a node beyond its
 * capacity; the failover threshold is counted at its edges the way the
 * header says; and a cluster the size of a large site is still decided.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/placement-int.h"

#define WORLD_NODES_MAX 64
#define WORLD_ROLES_MAX 8000

/* A generated cluster: names and lists live in the struct. */
struct world {
        size_t n_nodes, n_roles;
        struct pl_node nodes[WORLD_NODES_MAX];
        struct pl_role roles[WORLD_ROLES_MAX];
        char node_names[WORLD_NODES_MAX][24];
        char role_names[WORLD_ROLES_MAX][24];
        const char *lists[WORLD_ROLES_MAX][12];
        struct pl_input in;
};

static const char *const classes[] = { "dc", "sql", "web", "dns", "file" };

static uint64_t seed_state;

static uint64_t rnd(void) {
        seed_state ^= seed_state >> 12;
        seed_state ^= seed_state << 25;
        seed_state ^= seed_state >> 27;
        return seed_state * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t pick(size_t n) {
        return (size_t)(rnd() % n);
}

/* A small cluster in every state placement knows: nodes down, paused and
 * draining; roles stopped, active, unfenced and failed, with owners (some
 * removed), move requests, preferred and possible owners, classes, avoid
 * lists and every failback policy. */
static struct world *world_mixed(uint64_t seed, size_t n_nodes, size_t n_roles) {
        static const enum pl_priority prio[] = { PL_PRIORITY_HIGH, PL_PRIORITY_MEDIUM, PL_PRIORITY_LOW,
                                                 PL_PRIORITY_NO_AUTO_START };
        struct world *w = test_calloc(1, sizeof(*w));
        seed_state = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
        w->n_nodes = n_nodes;
        w->n_roles = n_roles;
        for (size_t n = 0; n < n_nodes; n++) {
                snprintf(w->node_names[n], sizeof(w->node_names[n]), "node%zu", n + 1);
                w->nodes[n] = (struct pl_node){ .name = w->node_names[n],
                                                .nodeid = (uint32_t)n + 1,
                                                .up = pick(5) != 0,
                                                .memory_mib = 4096 * (1 + pick(4)),
                                                .cpus = 4 * (1 + (uint32_t)pick(4)) };
                w->nodes[n].paused = pick(8) == 0;
                w->nodes[n].drain = w->nodes[n].paused && pick(2);
        }
        for (size_t i = 0; i < n_roles; i++) {
                struct pl_role *r = &w->roles[i];
                const char **l = w->lists[i];
                /* A name outside the cluster: a removed node. */
                const char *any = pick(10) == 0 ? "gone" : w->node_names[pick(n_nodes)];
                snprintf(w->role_names[i], sizeof(w->role_names[i]), "role%zu", i);
                *r = (struct pl_role){
                        .name = w->role_names[i],
                        .priority = prio[pick(ELEMENTSOF(prio))],
                        .want_started = pick(8) != 0,
                        .memory_mib = 512 * pick(6),
                        .cpus = (uint32_t)pick(5),
                        .state = (enum pl_role_state)pick(4),
                        .failback = (enum pl_failback)pick(3),
                        .failback_start_min = (uint32_t)pick(1440),
                        .failback_end_min = (uint32_t)pick(1440),
                };
                if (r->state == PL_ROLE_ACTIVE || r->state == PL_ROLE_UNFENCED || pick(2))
                        r->owner = any;
                if (pick(6) == 0)
                        r->move_to = w->node_names[pick(n_nodes)];
                r->preferred = l;
                r->n_preferred = pick(4);
                for (size_t k = 0; k < r->n_preferred; k++)
                        *l++ = w->node_names[pick(n_nodes)];
                if (pick(4) == 0) {
                        r->possible = l;
                        r->n_possible = 1 + pick(4);
                        for (size_t k = 0; k < r->n_possible; k++)
                                *l++ = w->node_names[pick(n_nodes)];
                }
                r->anti_affinity = l;
                r->n_anti_affinity = pick(3);
                for (size_t k = 0; k < r->n_anti_affinity; k++)
                        *l++ = classes[pick(ELEMENTSOF(classes))];
                if (pick(5) == 0) {
                        r->avoid = l;
                        r->n_avoid = 1;
                        *l++ = w->node_names[pick(n_nodes)];
                }
        }
        w->in = (struct pl_input){ .nodes = w->nodes,
                                   .n_nodes = n_nodes,
                                   .roles = w->roles,
                                   .n_roles = n_roles,
                                   .now_min = (uint32_t)pick(1440),
                                   .memory_overcommit = pick(4) == 0,
                                   .cpu_overcommit = 1 + (uint32_t)pick(3) };
        return w;
}

static void shuffle(void *base, size_t n, size_t size) {
        char tmp[sizeof(struct pl_role)];
        assert_true(size <= sizeof(tmp));
        for (size_t i = n; i > 1; i--) {
                size_t j = pick(i);
                char *a = (char *)base + (i - 1) * size, *b = (char *)base + j * size;
                memcpy(tmp, a, size);
                memcpy(a, b, size);
                memcpy(b, tmp, size);
        }
}

static const struct pl_decision *find_decision(const struct world *w, const struct pl_decision *d, const char *role) {
        for (size_t i = 0; i < w->n_roles; i++)
                if (streq(w->roles[i].name, role))
                        return &d[i];
        fail_msg("role %s missing", role);
        return &d[0];
}

static void test_order_does_not_matter(void **state) {
        for (uint64_t seed = 1; seed <= 40; seed++) {
                struct world *w = world_mixed(seed, 3 + seed % 10, 20 + seed * 3);
                struct pl_decision *want = test_calloc(w->n_roles, sizeof(*want));
                struct pl_decision *got = test_calloc(w->n_roles, sizeof(*got));
                struct pl_role *orig = test_calloc(w->n_roles, sizeof(*orig));
                char explain_want[4096], explain_got[4096];

                assert_int_equal(placement_compute(&w->in, want), 0);
                memcpy(orig, w->roles, w->n_roles * sizeof(*orig));
                placement_explain(&w->in, 0, explain_want, sizeof(explain_want));
                for (int round = 0; round < 5; round++) {
                        shuffle(w->nodes, w->n_nodes, sizeof(w->nodes[0]));
                        shuffle(w->roles, w->n_roles, sizeof(w->roles[0]));
                        assert_int_equal(placement_compute(&w->in, got), 0);
                        for (size_t i = 0; i < w->n_roles; i++) {
                                const struct pl_decision *a = find_decision(w, got, orig[i].name);
                                if (a->action != want[i].action || !streq_ptr(a->target, want[i].target) ||
                                    !streq(a->reason, want[i].reason))
                                        fail_msg("seed %" PRIu64 " round %d: %s: %s %s (%s) became %s %s (%s)", seed,
                                                 round, orig[i].name, placement_action_to_string(want[i].action),
                                                 strempty(want[i].target), want[i].reason,
                                                 placement_action_to_string(a->action), strempty(a->target), a->reason);
                        }
                        for (size_t i = 0; i < w->n_roles; i++)
                                if (streq(w->roles[i].name, orig[0].name))
                                        placement_explain(&w->in, i, explain_got, sizeof(explain_got));
                        assert_string_equal(explain_got, explain_want);
                }
                test_free(orig);
                test_free(got);
                test_free(want);
                test_free(w);
        }
}

/* Where each role runs once the decisions are carried out, per node. */
static void check_capacity(const struct world *w, const struct pl_decision *d) {
        for (size_t n = 0; n < w->n_nodes; n++) {
                const struct pl_node *x = &w->nodes[n];
                uint64_t kept_mem = 0, kept_cpus = 0, mem = 0, cpus = 0;
                for (size_t i = 0; i < w->n_roles; i++) {
                        const struct pl_role *r = &w->roles[i];
                        if (d[i].action == PL_KEEP && r->state == PL_ROLE_ACTIVE && streq_ptr(r->owner, x->name)) {
                                kept_mem += r->memory_mib;
                                kept_cpus += r->cpus;
                        } else if ((d[i].action == PL_START || d[i].action == PL_MOVE) && streq(d[i].target, x->name)) {
                                assert_true(x->up && !x->paused);
                                mem += r->memory_mib;
                                cpus += r->cpus;
                        }
                }
                /* Roles that stay may exceed a node (it shrank), and a role
                 * needing nothing always fits; nothing else may exceed it. */
                if (!w->in.memory_overcommit && mem > 0)
                        assert_true(kept_mem + mem <= x->memory_mib);
                if (cpus > 0)
                        assert_true(kept_cpus + cpus <= (uint64_t)x->cpus * w->in.cpu_overcommit);
        }
}

static void test_capacity_is_respected(void **state) {
        for (uint64_t seed = 100; seed < 160; seed++) {
                struct world *w = world_mixed(seed, 2 + seed % 12, 30 + seed % 50);
                struct pl_decision *d = test_calloc(w->n_roles, sizeof(*d));
                assert_int_equal(placement_compute(&w->in, d), 0);
                check_capacity(w, d);
                for (size_t i = 0; i < w->n_roles; i++) {
                        const struct pl_role *r = &w->roles[i];
                        assert_non_null(memchr(d[i].reason, '\0', sizeof(d[i].reason)));
                        assert_null(strchr(d[i].reason, '\n'));
                        assert_true(d[i].reason[0] != '\0');
                        /* Invariant 4: nothing about an unfenced role changes. */
                        if (r->state == PL_ROLE_UNFENCED)
                                assert_int_equal(d[i].action, PL_WAIT);
                        if (d[i].action == PL_START || d[i].action == PL_MOVE)
                                assert_non_null(d[i].target);
                        if (d[i].action == PL_KEEP || d[i].action == PL_WAIT)
                                assert_true(streq_ptr(d[i].target, r->owner));
                }
                test_free(d);
                test_free(w);
        }
}

static void test_large_cluster(void **state) {
        struct world *w = test_calloc(1, sizeof(*w));
        struct pl_decision *d = test_calloc(WORLD_ROLES_MAX, sizeof(*d));
        char class_names[WORLD_ROLES_MAX / 4][24];

        seed_state = 7;
        w->n_nodes = WORLD_NODES_MAX;
        w->n_roles = WORLD_ROLES_MAX;
        for (size_t n = 0; n < w->n_nodes; n++) {
                snprintf(w->node_names[n], sizeof(w->node_names[n]), "n%02zu", n);
                w->nodes[n] =
                        (struct pl_node){ .name = w->node_names[n], .up = true, .memory_mib = 768 * 1024, .cpus = 128 };
        }
        for (size_t c = 0; c < ELEMENTSOF(class_names); c++)
                snprintf(class_names[c], sizeof(class_names[c]), "c%zu", c);
        for (size_t i = 0; i < w->n_roles; i++) {
                struct pl_role *r = &w->roles[i];
                snprintf(w->role_names[i], sizeof(w->role_names[i]), "vm%04zu", i);
                *r = (struct pl_role){ .name = w->role_names[i],
                                       .want_started = true,
                                       .priority = i % 3 ? PL_PRIORITY_MEDIUM : PL_PRIORITY_HIGH,
                                       .memory_mib = 1024 << pick(4),
                                       .cpus = 1 + (uint32_t)pick(4) };
                /* Classes of four members: 64 nodes can always keep them apart. */
                r->anti_affinity = w->lists[i];
                r->n_anti_affinity = 1;
                w->lists[i][0] = class_names[i / 4];
                if (i % 5 == 0) {
                        r->preferred = &w->lists[i][1];
                        r->n_preferred = 1;
                        w->lists[i][1] = w->node_names[pick(w->n_nodes)];
                }
        }
        w->in = (struct pl_input){ .nodes = w->nodes,
                                   .n_nodes = w->n_nodes,
                                   .roles = w->roles,
                                   .n_roles = w->n_roles,
                                   .now_min = 600,
                                   .cpu_overcommit = 4 };

        assert_int_equal(placement_compute(&w->in, d), 0);
        for (size_t i = 0; i < w->n_roles; i++) {
                assert_int_equal(d[i].action, PL_START);
                for (size_t j = i - i % 4; j < i; j++)
                        assert_false(streq(d[i].target, d[j].target));
        }
        check_capacity(w, d);

        /* The spread is even: no node holds much more than its share. */
        for (size_t n = 0; n < w->n_nodes; n++) {
                size_t count = 0;
                for (size_t i = 0; i < w->n_roles; i++)
                        count += streq(d[i].target, w->node_names[n]);
                assert_in_range(count, 80, 170);
        }

        /* Lose a node: only its roles go anywhere, and elsewhere. */
        for (size_t i = 0; i < w->n_roles; i++) {
                w->roles[i].state = PL_ROLE_ACTIVE;
                w->roles[i].owner = d[i].target;
        }
        w->nodes[5].up = false;
        assert_int_equal(placement_compute(&w->in, d), 0);
        for (size_t i = 0; i < w->n_roles; i++) {
                if (streq(w->roles[i].owner, "n05")) {
                        assert_int_equal(d[i].action, PL_START);
                        assert_false(streq(d[i].target, "n05"));
                } else
                        assert_int_equal(d[i].action, PL_KEEP);
        }
        check_capacity(w, d);
        test_free(d);
        test_free(w);
}

static void test_inconsistent_input(void **state) {
        const char *pref[] = { NULL };
        struct pl_node nodes[] = { { .name = "a", .up = true, .memory_mib = 1024, .cpus = 2 },
                                   { .name = "b", .up = true, .memory_mib = 1024, .cpus = 2 } };
        struct pl_role roles[] = { { .name = "x", .want_started = true, .priority = PL_PRIORITY_MEDIUM },
                                   { .name = "y", .want_started = true, .priority = PL_PRIORITY_MEDIUM } };
        struct pl_input in = { .nodes = nodes, .n_nodes = 2, .roles = roles, .n_roles = 2, .cpu_overcommit = 1 };
        struct pl_decision d[2], untouched[2];

        memset(d, 0x5a, sizeof(d));
        memcpy(untouched, d, sizeof(d));
        assert_int_equal(placement_compute(&in, d), 0);

        nodes[1].name = "a";
        memcpy(d, untouched, sizeof(d));
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        assert_memory_equal(d, untouched, sizeof(d));
        nodes[1].name = "b";

        roles[1].name = "x";
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        roles[1].name = "y";

        roles[0].state = PL_ROLE_ACTIVE; /* running, but where? */
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        roles[0].owner = "removed-node"; /* a removed node is fine */
        assert_int_equal(placement_compute(&in, d), 0);
        assert_int_equal(d[0].action, PL_START);
        assert_string_equal(d[0].reason, "owner removed-node was removed; placed on a: most free memory (1024 MiB "
                                         "free), fewest roles (0), then name");
        roles[0].state = PL_ROLE_STOPPED;

        roles[0].preferred = pref;
        roles[0].n_preferred = 1;
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        roles[0].n_preferred = 0;

        roles[0].failback = PL_FAILBACK_WINDOW;
        roles[0].failback_end_min = 1440;
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        roles[0].failback = PL_FAILBACK_NEVER;

        in.cpu_overcommit = 0;
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        in.cpu_overcommit = 1;
        in.now_min = 1440;
        assert_int_equal(placement_compute(&in, d), -EINVAL);
        in.now_min = 0;

        char buf[64];
        placement_explain(&in, 2, buf, sizeof(buf));
        assert_string_equal(buf, "no such role\n");
        in.cpu_overcommit = 0;
        placement_explain(&in, 0, buf, sizeof(buf));
        assert_string_equal(buf, "inconsistent input: nothing to explain\n");
}

static void test_explain_truncates(void **state) {
        struct pl_node nodes[] = { { .name = "alpha", .up = true, .memory_mib = 4096, .cpus = 4 },
                                   { .name = "beta", .up = false } };
        struct pl_role role = { .name = "web", .want_started = true, .memory_mib = 1024 };
        struct pl_input in = { .nodes = nodes, .n_nodes = 2, .roles = &role, .n_roles = 1, .cpu_overcommit = 1 };
        char buf[128], small[12];

        placement_explain(&in, 0, buf, sizeof(buf));
        assert_string_equal(buf, "alpha: can host it (4096 MiB free)\nbeta: down\n");
        placement_explain(&in, 0, small, sizeof(small));
        assert_int_equal(strlen(small), sizeof(small) - 1);
        assert_string_equal(small, "alpha: c...");
        small[0] = 'x';
        placement_explain(&in, 0, small, 0);
        assert_int_equal(small[0], 'x');
}

static void test_no_nodes(void **state) {
        struct pl_role role = { .name = "web", .want_started = true };
        struct pl_input in = { .roles = &role, .n_roles = 1, .cpu_overcommit = 1 };
        struct pl_decision d;
        assert_int_equal(placement_compute(&in, &d), 0);
        assert_int_equal(d.action, PL_NOWHERE);
        assert_null(d.target);
        assert_string_equal(d.reason, "no node can host it: no nodes");
        in.n_roles = 0;
        assert_int_equal(placement_compute(&in, NULL), 0);
}

#define SEC USEC_PER_SEC

static void test_over_threshold(void **state) {
        const uint64_t now = 1000000 * SEC, period = 3600 * SEC;
        uint64_t f[] = { now - 10 * SEC, now - 20 * SEC, now - 30 * SEC };

        /* More than `threshold` failures: three over two, not over three. */
        assert_true(placement_over_threshold(f, 3, 2, period, now));
        assert_false(placement_over_threshold(f, 3, 3, period, now));
        assert_false(placement_over_threshold(f, 2, 2, period, now));
        /* 0 means no limit. */
        assert_false(placement_over_threshold(f, 3, 0, period, now));
        assert_false(placement_over_threshold(NULL, 0, 1, period, now));

        /* A failure exactly one period old has aged out; one microsecond
         * younger still counts. */
        uint64_t edge[] = { now - period, now - 1, now };
        assert_false(placement_over_threshold(edge, 3, 2, period, now));
        edge[0] = now - period + 1;
        assert_true(placement_over_threshold(edge, 3, 2, period, now));

        /* Any order; a time ahead of now (another node's clock) counts. */
        uint64_t mixed[] = { now + 5 * SEC, now - 2 * period, now - 1 };
        assert_false(placement_over_threshold(mixed, 3, 2, period, now));
        assert_true(placement_over_threshold(mixed, 3, 1, period, now));

        /* Shortly after the epoch the window does not wrap around. */
        uint64_t early[] = { 0, 1, 2 };
        assert_true(placement_over_threshold(early, 3, 2, period, 10));
        assert_false(placement_over_threshold(early, 3, 2, 5, 10));

        /* An empty period holds no failure. */
        assert_false(placement_over_threshold(f, 3, 1, 0, now));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_order_does_not_matter), cmocka_unit_test(test_capacity_is_respected),
                cmocka_unit_test(test_large_cluster),         cmocka_unit_test(test_inconsistent_input),
                cmocka_unit_test(test_explain_truncates),     cmocka_unit_test(test_no_nodes),
                cmocka_unit_test(test_over_threshold),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
