/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * golden-placement.c: runs placement (placement_compute, placement_explain)
 * on a case read from stdin and prints the decisions as stable text, for
 * the golden cases in tests/golden/cases/golden-placement/.
 *
 * Input, one item per line; '#' starts a comment, blank lines are ignored:
 *
 *   now HH:MM
 *       local time of day (failback windows); default 12:00.
 *   overcommit [memory=yes|no] [cpu=N]
 *       memory overcommit (default no) and vCPUs per logical CPU (default 1).
 *   node NAME up|down [paused] [drain] [memory=MIB] [cpus=N]
 *       defaults: memory=8192 cpus=8. drain implies paused.
 *   role NAME [started|stopped] [KEY=VALUE]...
 *       started (the default) or stopped is what the operator wants. Keys:
 *       priority=high|medium|low|no-auto-start|N (default medium),
 *       state=stopped|active|unfenced|failed (default stopped), owner=NODE,
 *       memory=MIB, cpus=N (default 0), preferred=A,B,..., possible=A,...,
 *       anti=CLASS,..., avoid=A,..., move=NODE,
 *       failback=never|immediate|window:HH:MM-HH:MM (default never).
 *   explain ROLE
 *       also print placement_explain() for that role.
 *
 * Output:
 *
 *   ROLE: ACTION [TARGET] (REASON)       one per role, in input order
 *   load NODE: M of MEM MiB, C of LIMIT vCPUs, R roles
 *       one per up node: what runs there once the decisions are carried out
 *   explain ROLE:
 *     NODE: VERDICT                      one per node, as placement_explain says
 *
 * The case is also decided with nodes and roles in reverse order; a
 * different outcome prints "order changes the decision of ROLE" (which
 * fails the case). A malformed case is an error (exit status 2, message
 * on stderr).
 */
#include <ctype.h>

#include "clusterd/placement-int.h"

#define NODES_MAX 256
#define ROLES_MAX 1024
#define EXPLAIN_MAX 16
#define ARENA_SIZE (1024 * 1024)
#define NAMES_MAX (64 * 1024)

struct parsed {
        struct pl_node nodes[NODES_MAX];
        struct pl_role roles[ROLES_MAX];
        struct pl_input in;
        const char *explain[EXPLAIN_MAX];
        size_t n_explain;
};

/* Strings and lists live here for the life of the program. */
static char arena[ARENA_SIZE];
static size_t arena_used;
static const char *names[NAMES_MAX];
static size_t names_used;

static int fail(unsigned line, const char *msg, const char *text) {
        fprintf(stderr, "line %u: %s: %s\n", line, msg, text);
        return 2;
}

static const char *save(const char *s) {
        size_t l = strlen(s) + 1;
        if (arena_used + l > sizeof(arena)) {
                fprintf(stderr, "case too large\n");
                exit(2);
        }
        char *p = memcpy(arena + arena_used, s, l);
        arena_used += l;
        return p;
}

static const char *const *save_list(char *s, size_t *ret_n) {
        const char *const *l = &names[names_used];
        char *save_ptr = NULL;
        size_t n = 0;
        for (char *w = strtok_r(s, ",", &save_ptr); w; w = strtok_r(NULL, ",", &save_ptr)) {
                if (names_used == NAMES_MAX) {
                        fprintf(stderr, "case too large\n");
                        exit(2);
                }
                names[names_used++] = save(w);
                n++;
        }
        *ret_n = n;
        return l;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        char *end;
        if (!s || !isdigit((unsigned char)*s))
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno != 0 || *end)
                return false;
        *ret = v;
        return true;
}

static bool parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        if (!parse_u64(s, &v) || v > UINT32_MAX)
                return false;
        *ret = (uint32_t)v;
        return true;
}

/* "HH:MM" into minutes after midnight; *ret_end points after it. */
static bool parse_clock(const char *s, uint32_t *ret, const char **ret_end) {
        unsigned h, m;
        int k = 0;
        if (sscanf(s, "%2u:%2u%n", &h, &m, &k) != 2 || k != 5 || h > 23 || m > 59)
                return false;
        *ret = h * 60 + m;
        *ret_end = s + k;
        return true;
}

static bool parse_priority(const char *v, enum pl_priority *ret) {
        uint32_t n;
        if (streq(v, "high"))
                *ret = PL_PRIORITY_HIGH;
        else if (streq(v, "medium"))
                *ret = PL_PRIORITY_MEDIUM;
        else if (streq(v, "low"))
                *ret = PL_PRIORITY_LOW;
        else if (streq(v, "no-auto-start"))
                *ret = PL_PRIORITY_NO_AUTO_START;
        else if (parse_u32(v, &n))
                *ret = (enum pl_priority)n;
        else
                return false;
        return true;
}

static bool parse_state(const char *v, enum pl_role_state *ret) {
        if (streq(v, "stopped"))
                *ret = PL_ROLE_STOPPED;
        else if (streq(v, "active"))
                *ret = PL_ROLE_ACTIVE;
        else if (streq(v, "unfenced"))
                *ret = PL_ROLE_UNFENCED;
        else if (streq(v, "failed"))
                *ret = PL_ROLE_FAILED;
        else
                return false;
        return true;
}

static bool parse_failback(const char *v, struct pl_role *r) {
        const char *w, *end;
        if (streq(v, "never"))
                r->failback = PL_FAILBACK_NEVER;
        else if (streq(v, "immediate"))
                r->failback = PL_FAILBACK_IMMEDIATE;
        else if ((w = startswith(v, "window:"))) {
                if (!parse_clock(w, &r->failback_start_min, &end) || *end != '-' ||
                    !parse_clock(end + 1, &r->failback_end_min, &end) || *end)
                        return false;
                r->failback = PL_FAILBACK_WINDOW;
        } else
                return false;
        return true;
}

static int parse_node(struct parsed *p, char **save_ptr, unsigned line) {
        const char *name = strtok_r(NULL, " \t\r\n", save_ptr);
        if (!name)
                return fail(line, "expected", "node NAME up|down ...");
        if (p->in.n_nodes == NODES_MAX)
                return fail(line, "too many nodes", name);
        struct pl_node *x = &p->nodes[p->in.n_nodes++];
        *x = (struct pl_node){ .name = save(name), .nodeid = (uint32_t)p->in.n_nodes, .memory_mib = 8192, .cpus = 8 };
        bool have_up = false;
        for (char *w; (w = strtok_r(NULL, " \t\r\n", save_ptr));) {
                const char *v;
                if (streq(w, "up") || streq(w, "down")) {
                        x->up = streq(w, "up");
                        have_up = true;
                } else if (streq(w, "paused"))
                        x->paused = true;
                else if (streq(w, "drain"))
                        x->paused = x->drain = true;
                else if ((v = startswith(w, "memory="))) {
                        if (!parse_u64(v, &x->memory_mib))
                                return fail(line, "bad memory", w);
                } else if ((v = startswith(w, "cpus="))) {
                        if (!parse_u32(v, &x->cpus))
                                return fail(line, "bad cpus", w);
                } else
                        return fail(line, "unknown node attribute", w);
        }
        if (!have_up)
                return fail(line, "node needs up or down", name);
        return 0;
}

static int parse_role(struct parsed *p, char **save_ptr, unsigned line) {
        const char *name = strtok_r(NULL, " \t\r\n", save_ptr);
        if (!name)
                return fail(line, "expected", "role NAME ...");
        if (p->in.n_roles == ROLES_MAX)
                return fail(line, "too many roles", name);
        struct pl_role *r = &p->roles[p->in.n_roles++];
        *r = (struct pl_role){ .name = save(name), .priority = PL_PRIORITY_MEDIUM, .want_started = true };
        for (char *w; (w = strtok_r(NULL, " \t\r\n", save_ptr));) {
                char *v = strchr(w, '=');
                if (streq(w, "started") || streq(w, "stopped")) {
                        r->want_started = streq(w, "started");
                        continue;
                }
                if (!v || !v[1])
                        return fail(line, "expected KEY=VALUE", w);
                *v++ = '\0';
                bool ok = true;
                if (streq(w, "priority"))
                        ok = parse_priority(v, &r->priority);
                else if (streq(w, "state"))
                        ok = parse_state(v, &r->state);
                else if (streq(w, "owner"))
                        r->owner = save(v);
                else if (streq(w, "move"))
                        r->move_to = save(v);
                else if (streq(w, "memory"))
                        ok = parse_u64(v, &r->memory_mib);
                else if (streq(w, "cpus"))
                        ok = parse_u32(v, &r->cpus);
                else if (streq(w, "preferred"))
                        r->preferred = save_list(v, &r->n_preferred);
                else if (streq(w, "possible"))
                        r->possible = save_list(v, &r->n_possible);
                else if (streq(w, "anti"))
                        r->anti_affinity = save_list(v, &r->n_anti_affinity);
                else if (streq(w, "avoid"))
                        r->avoid = save_list(v, &r->n_avoid);
                else if (streq(w, "failback"))
                        ok = parse_failback(v, r);
                else
                        return fail(line, "unknown role attribute", w);
                if (!ok)
                        return fail(line, "bad value", w);
        }
        return 0;
}

static int parse(struct parsed *p) {
        char buf[4096];
        unsigned line = 0;

        p->in = (struct pl_input){ .nodes = p->nodes, .roles = p->roles, .now_min = 12 * 60, .cpu_overcommit = 1 };
        while (fgets(buf, sizeof(buf), stdin)) {
                char *save_ptr = NULL, *hash = strchr(buf, '#');
                int r = 0;
                line++;
                if (hash)
                        *hash = '\0';
                char *word = strtok_r(buf, " \t\r\n", &save_ptr);
                if (!word)
                        continue;
                if (streq(word, "node"))
                        r = parse_node(p, &save_ptr, line);
                else if (streq(word, "role"))
                        r = parse_role(p, &save_ptr, line);
                else if (streq(word, "now")) {
                        const char *v = strtok_r(NULL, " \t\r\n", &save_ptr), *end;
                        if (!v || !parse_clock(v, &p->in.now_min, &end) || *end)
                                return fail(line, "expected", "now HH:MM");
                } else if (streq(word, "overcommit")) {
                        for (char *w; (w = strtok_r(NULL, " \t\r\n", &save_ptr));) {
                                const char *v;
                                int b;
                                if ((v = startswith(w, "memory=")) && (b = parse_bool(v)) >= 0)
                                        p->in.memory_overcommit = b;
                                else if (!(v = startswith(w, "cpu=")) || !parse_u32(v, &p->in.cpu_overcommit))
                                        return fail(line, "expected", "overcommit [memory=yes|no] [cpu=N]");
                        }
                } else if (streq(word, "explain")) {
                        const char *v = strtok_r(NULL, " \t\r\n", &save_ptr);
                        if (!v || p->n_explain == EXPLAIN_MAX)
                                return fail(line, "expected", "explain ROLE");
                        p->explain[p->n_explain++] = save(v);
                } else
                        return fail(line, "unknown item", word);
                if (r != 0)
                        return r;
        }
        return 0;
}

static void print_load(const struct parsed *p, const struct pl_decision *d) {
        for (size_t n = 0; n < p->in.n_nodes; n++) {
                const struct pl_node *x = &p->nodes[n];
                uint64_t mem = 0, cpus = 0;
                unsigned roles = 0;
                if (!x->up)
                        continue;
                for (size_t i = 0; i < p->in.n_roles; i++) {
                        const struct pl_role *r = &p->roles[i];
                        const char *where = NULL;
                        if (d[i].action == PL_START || d[i].action == PL_MOVE)
                                where = d[i].target;
                        else if (d[i].action == PL_KEEP && r->state == PL_ROLE_ACTIVE)
                                where = r->owner;
                        if (!streq_ptr(where, x->name))
                                continue;
                        mem += r->memory_mib;
                        cpus += r->cpus;
                        roles++;
                }
                printf("load %s: %" PRIu64 " of %" PRIu64 " MiB, %" PRIu64 " of %" PRIu64 " vCPUs, %u role%s\n",
                       x->name, mem, x->memory_mib, cpus, (uint64_t)x->cpus * p->in.cpu_overcommit, roles,
                       roles == 1 ? "" : "s");
        }
}

/* Decides again with both arrays reversed and reports any difference. */
static int check_order(const struct parsed *p, const struct pl_decision *d) {
        static struct pl_node nodes[NODES_MAX];
        static struct pl_role roles[ROLES_MAX];
        static struct pl_decision rd[ROLES_MAX];
        struct pl_input in = p->in;
        size_t nn = p->in.n_nodes, nr = p->in.n_roles;
        int status = 0;

        for (size_t i = 0; i < nn; i++)
                nodes[i] = p->nodes[nn - 1 - i];
        for (size_t i = 0; i < nr; i++)
                roles[i] = p->roles[nr - 1 - i];
        in.nodes = nodes;
        in.roles = roles;
        if (placement_compute(&in, rd) < 0)
                return 1;
        for (size_t i = 0; i < nr; i++) {
                const struct pl_decision *a = &d[i], *b = &rd[nr - 1 - i];
                if (a->action != b->action || !streq_ptr(a->target, b->target) || !streq(a->reason, b->reason)) {
                        printf("order changes the decision of %s\n", p->roles[i].name);
                        status = 1;
                }
        }
        return status;
}

int main(void) {
        static struct parsed p;
        static struct pl_decision d[ROLES_MAX];
        int r = parse(&p);
        if (r != 0)
                return r;

        r = placement_compute(&p.in, d);
        if (r < 0) {
                printf("inconsistent input: %s\n", strerror(-r));
                return 0;
        }
        for (size_t i = 0; i < p.in.n_roles; i++) {
                char action[16];
                snprintf(action, sizeof(action), "%s", placement_action_to_string(d[i].action));
                for (char *c = action; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                printf("%s: %s%s%s (%s)\n", p.roles[i].name, action, d[i].target ? " " : "", strempty(d[i].target),
                       d[i].reason);
        }
        print_load(&p, d);

        for (size_t k = 0; k < p.n_explain; k++) {
                size_t i;
                for (i = 0; i < p.in.n_roles; i++)
                        if (streq(p.roles[i].name, p.explain[k]))
                                break;
                if (i == p.in.n_roles) {
                        fprintf(stderr, "explain: no role '%s'\n", p.explain[k]);
                        return 2;
                }
                char buf[8192];
                placement_explain(&p.in, i, buf, sizeof(buf));
                printf("explain %s:\n", p.roles[i].name);
                for (char *save_ptr = NULL, *l = strtok_r(buf, "\n", &save_ptr); l; l = strtok_r(NULL, "\n", &save_ptr))
                        printf("  %s\n", l);
        }
        return check_order(&p, d);
}
