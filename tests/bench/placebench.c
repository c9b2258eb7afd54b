/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * placebench: how long placement_compute takes on a large cluster.
 *
 *   placebench [--roles N] [--nodes N] [--reps N] [--seed N]
 *
 * Generates N VM roles (default 8,000: mixed memory and vCPU sizes, a third
 * with two preferred owners, a fifth in one of many anti-affinity classes,
 * a tenth limited to a quarter of the nodes, all four priorities) over the
 * nodes (default 64), then times placement_compute in four situations:
 *
 *   cold-start  every role stopped and wanted: all of them are placed
 *   steady      every role runs where cold-start put it: all KEEP
 *   failover    four nodes lost (fenced): their roles are placed again
 *   drain       one node drains while failback is due for the rest
 *
 * Prints a table (p50 and max over the repetitions, in milliseconds, and
 * what was decided) and, as its last line, one JSON object for cold-start,
 * the heaviest: {"roles":..,"nodes":..,"p50_ms":..,"max_ms":..}.
 */
#include <getopt.h>

#include "clusterd/placement-int.h"

#define CLASSES 400

struct world {
        size_t n_nodes, n_roles;
        struct pl_node *nodes;
        struct pl_role *roles;
        char **node_names; /* owned */
        char **role_names; /* owned */
        char **class_names;
        const char **lists; /* preferred/possible/anti-affinity entries; owned array of borrowed names */
        struct pl_decision *d;
};

static uint64_t rng_state = UINT64_C(0x9e3779b97f4a7c15);

static uint64_t rng(void) {
        /* xorshift64*: fixed sequence per seed, so runs compare. */
        rng_state ^= rng_state >> 12;
        rng_state ^= rng_state << 25;
        rng_state ^= rng_state >> 27;
        return rng_state * UINT64_C(0x2545f4914f6cdd1d);
}

static size_t pick(size_t n) {
        return (size_t)(rng() % n);
}

static void world_make(struct world *w, size_t n_nodes, size_t n_roles) {
        static const uint64_t sizes[] = { 1024, 2048, 2048, 4096, 4096, 4096, 8192, 16384 };
        static const enum pl_priority prio[] = { PL_PRIORITY_HIGH, PL_PRIORITY_MEDIUM, PL_PRIORITY_MEDIUM,
                                                 PL_PRIORITY_LOW, PL_PRIORITY_NO_AUTO_START };
        size_t l = 0;

        w->n_nodes = n_nodes;
        w->n_roles = n_roles;
        w->nodes = xcalloc(n_nodes, sizeof(*w->nodes));
        w->roles = xcalloc(n_roles, sizeof(*w->roles));
        w->node_names = xcalloc(n_nodes, sizeof(char *));
        w->role_names = xcalloc(n_roles, sizeof(char *));
        w->class_names = xcalloc(CLASSES, sizeof(char *));
        w->lists = xcalloc(n_roles * 20, sizeof(char *));
        w->d = xcalloc(n_roles, sizeof(*w->d));

        /* Enough memory for everything with about a quarter spare. */
        uint64_t per_node = (n_roles * 5500 / n_nodes) * 5 / 4 + 16384;
        for (size_t n = 0; n < n_nodes; n++) {
                w->node_names[n] = xasprintf("node%03zu", n + 1);
                w->nodes[n] = (struct pl_node){ .name = w->node_names[n],
                                                .nodeid = (uint32_t)n + 1,
                                                .up = true,
                                                .memory_mib = per_node,
                                                .cpus = 192 };
        }
        for (size_t c = 0; c < CLASSES; c++)
                w->class_names[c] = xasprintf("class%03zu", c);

        for (size_t i = 0; i < n_roles; i++) {
                struct pl_role *r = &w->roles[i];
                w->role_names[i] = xasprintf("vm%05zu", i);
                *r = (struct pl_role){ .name = w->role_names[i],
                                       .want_started = true,
                                       .memory_mib = sizes[pick(ELEMENTSOF(sizes))],
                                       .cpus = 1 + (uint32_t)pick(8),
                                       .priority = prio[pick(ELEMENTSOF(prio))] };
                if (r->priority == PL_PRIORITY_NO_AUTO_START)
                        r->priority = PL_PRIORITY_MEDIUM;
                if (pick(3) == 0) {
                        r->preferred = &w->lists[l];
                        r->n_preferred = 2;
                        w->lists[l++] = w->node_names[pick(n_nodes)];
                        w->lists[l++] = w->node_names[pick(n_nodes)];
                        r->failback = pick(2) ? PL_FAILBACK_IMMEDIATE : PL_FAILBACK_WINDOW;
                        r->failback_start_min = 22 * 60;
                        r->failback_end_min = 6 * 60;
                }
                if (pick(5) == 0) {
                        r->anti_affinity = &w->lists[l];
                        r->n_anti_affinity = 1;
                        w->lists[l++] = w->class_names[pick(CLASSES)];
                }
                if (pick(10) == 0) {
                        size_t first = pick(n_nodes);
                        r->possible = &w->lists[l];
                        r->n_possible = MAX(n_nodes / 4, 1);
                        for (size_t k = 0; k < r->n_possible; k++)
                                w->lists[l++] = w->node_names[(first + k) % n_nodes];
                }
        }
}

static void world_free(struct world *w) {
        for (size_t n = 0; n < w->n_nodes; n++)
                free(w->node_names[n]);
        for (size_t i = 0; i < w->n_roles; i++)
                free(w->role_names[i]);
        for (size_t c = 0; c < CLASSES; c++)
                free(w->class_names[c]);
        free(w->node_names);
        free(w->role_names);
        free(w->class_names);
        free(w->lists);
        free(w->nodes);
        free(w->roles);
        free(w->d);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

struct result {
        double p50_ms, max_ms;
        size_t actions[PL_NOWHERE + 1];
};

static int measure(struct world *w, uint32_t now_min, unsigned reps, struct result *ret) {
        struct pl_input in = { .nodes = w->nodes,
                               .n_nodes = w->n_nodes,
                               .roles = w->roles,
                               .n_roles = w->n_roles,
                               .now_min = now_min,
                               .cpu_overcommit = 4 };
        _cleanup_free_ uint64_t *t = xcalloc(reps, sizeof(uint64_t));
        struct result res = {};

        for (unsigned k = 0; k < reps; k++) {
                uint64_t start = now_monotonic_usec();
                int r = placement_compute(&in, w->d);
                t[k] = now_monotonic_usec() - start;
                if (r < 0)
                        return r;
        }
        qsort(t, reps, sizeof(uint64_t), cmp_u64);
        res.p50_ms = (double)t[reps / 2] / 1000.0;
        res.max_ms = (double)t[reps - 1] / 1000.0;
        for (size_t i = 0; i < w->n_roles; i++)
                res.actions[w->d[i].action]++;
        *ret = res;
        return 0;
}

/* Makes the decisions the new state: what started or moved now runs there. */
static void apply(struct world *w) {
        for (size_t i = 0; i < w->n_roles; i++) {
                struct pl_role *r = &w->roles[i];
                const struct pl_decision *d = &w->d[i];
                if (d->action == PL_START || d->action == PL_MOVE) {
                        r->state = PL_ROLE_ACTIVE;
                        r->owner = d->target;
                } else if (d->action == PL_NOWHERE || d->action == PL_STOP) {
                        r->state = PL_ROLE_STOPPED;
                        r->owner = NULL;
                }
        }
}

static void print_row(const char *name, const struct result *r) {
        printf("%-12s %9.2f %9.2f %7zu %7zu %7zu %8zu\n", name, r->p50_ms, r->max_ms, r->actions[PL_KEEP],
               r->actions[PL_START], r->actions[PL_MOVE], r->actions[PL_NOWHERE]);
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "roles", required_argument, NULL, 'r' },
                { "nodes", required_argument, NULL, 'n' },
                { "reps", required_argument, NULL, 'k' },
                { "seed", required_argument, NULL, 's' },
                {},
        };
        uint32_t n_roles = 8000, n_nodes = 64, reps = 15;
        uint64_t seed = 1;
        struct world w = {};
        struct result cold, steady, failover, drain;
        int c;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                int r = 0;
                switch (c) {
                case 'r':
                        r = parse_uint32(optarg, &n_roles);
                        break;
                case 'n':
                        r = parse_uint32(optarg, &n_nodes);
                        break;
                case 'k':
                        r = parse_uint32(optarg, &reps);
                        break;
                case 's':
                        r = parse_uint64(optarg, &seed);
                        break;
                default:
                        return 2;
                }
                if (r < 0 || n_roles == 0 || n_nodes < 8 || reps == 0) {
                        fprintf(stderr, "usage: placebench [--roles N] [--nodes N>=8] [--reps N] [--seed N]\n");
                        return 2;
                }
        }
        rng_state ^= seed * UINT64_C(0xbf58476d1ce4e5b9);
        world_make(&w, n_nodes, n_roles);

        if (measure(&w, 12 * 60, reps, &cold) < 0)
                goto fail;
        apply(&w);
        if (measure(&w, 12 * 60, reps, &steady) < 0)
                goto fail;
        for (size_t n = 0; n < 4; n++)
                w.nodes[n * (n_nodes / 4)].up = false;
        if (measure(&w, 12 * 60, reps, &failover) < 0)
                goto fail;
        apply(&w);
        for (size_t n = 0; n < 4; n++)
                w.nodes[n * (n_nodes / 4)].up = true;
        w.nodes[1].paused = w.nodes[1].drain = true;
        if (measure(&w, 23 * 60, reps, &drain) < 0)
                goto fail;

        printf("placement of %" PRIu32 " roles on %" PRIu32 " nodes, %" PRIu32 " repetitions\n", n_roles, n_nodes,
               reps);
        printf("%-12s %9s %9s %7s %7s %7s %8s\n", "situation", "p50 ms", "max ms", "keep", "start", "move", "nowhere");
        print_row("cold-start", &cold);
        print_row("steady", &steady);
        print_row("failover", &failover);
        print_row("drain", &drain);
        printf("{\"roles\":%" PRIu32 ",\"nodes\":%" PRIu32 ",\"p50_ms\":%.2f,\"max_ms\":%.2f}\n", n_roles, n_nodes,
               cold.p50_ms, cold.max_ms);
        world_free(&w);
        return 0;
fail:
        fprintf(stderr, "placement_compute refused the generated input\n");
        world_free(&w);
        return 1;
}
