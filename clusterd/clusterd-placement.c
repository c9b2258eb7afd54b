/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-placement.c: where every role should run (pure; placement-int.h).
 *
 * The rules below are the contract; the golden cases in
 * tests/golden/cases/golden-placement/ pin each of them.
 *
 * Who can host a role. A node can take a role (start it, or receive it in a
 * move) when it is up, not paused (a paused node keeps the roles it has but
 * takes no new ones; "drain" implies paused), among the role's possible
 * owners (an empty list means every node; names of removed nodes are
 * ignored), and has the capacity: the memory of the roles counted on it
 * plus the role's must not exceed its memory (unless memory_overcommit),
 * and their vCPUs must not exceed cpus * cpu_overcommit. A role needing no
 * memory (or no vCPUs) always fits that dimension.
 *
 * What happens to each role, checked in this order:
 *  1. UNFENCED: WAIT ("owner X is not fenced yet"). Its owner left the
 *     membership and may still run it, so nothing about it changes; its
 *     capacity counts on no up node.
 *  2. want_started false: STOP when ACTIVE, else KEEP ("stopped").
 *  3. FAILED: KEEP ("failed: over threshold, clear it to start").
 *  4. ACTIVE on an up owner: it is counted on its owner, first, before any
 *     role is placed, whatever happens next. It stays (KEEP) unless
 *     - an operator asked to move it (move_to, another node): MOVE there if
 *       that node can host it; if not, KEEP with "cannot move to Y: why",
 *       unless the owner must be left anyway (next point);
 *     - its owner is draining, or no longer among its possible owners: MOVE
 *       to the best other node; when no other node can host it, KEEP where
 *       it is (stopping a running role is worse than breaking a drain);
 *     - failback is due (policy immediate, or window with now inside
 *       [start, end), wrapping past midnight when start > end; start == end
 *       is an empty window) and a node earlier in the preferred list than
 *       the owner (any preferred node when the owner is not in the list) can
 *       host it, without an anti-affinity conflict and not in `avoid`: MOVE
 *       to the first such node. A running role is not moved into a conflict.
 *     A role that moves frees its owner's capacity only once it has a
 *     target, so the owner is never overbooked by roles placed before it.
 *  5. ACTIVE on an owner that is down (the caller marks roles of unfenced
 *     owners UNFENCED, so this owner is fenced) or removed, or STOPPED: it
 *     should run, and is placed (START; NOWHERE when no node can host it).
 *     Exception: a no-auto-start role is never started after a failure: with
 *     an owner set (it ran, and its node was lost) and no move_to it is KEEP.
 *     The caller clears the owner when an operator starts it (or sets
 *     move_to), and then it is started like any other role.
 *
 * Placing. Roles that may move or must be placed (4 and 5) are taken in
 * priority order, high first, equal priority by name, so the important ones
 * get capacity first. A role's candidates are the nodes that can host it,
 * ranked by, in turn: the operator's move_to node; not in `avoid` (it failed
 * there recently) before in it; no anti-affinity conflict before a conflict
 * (a conflict is a node already running a role that shares one of its
 * anti-affinity class names: soft, as in WSFC, so a conflicting node is
 * still used when every node that can host it has one); the preferred
 * owners in their order before the other nodes; then most free memory,
 * fewest roles, and name. The first candidate wins. Every decision is
 * counted (memory, vCPUs, roles, classes) before the next role is placed.
 *
 * Capacity is that of the state once the decisions are carried out: roles
 * that stop, wait (UNFENCED) or run nowhere count on no node, and a role
 * that moves counts on its target only, from the moment it is given one.
 *
 * Targets: START and MOVE name the new node; KEEP and WAIT name the owner
 * as it stands (see placement-int.h), so that the leader writes nothing for
 * them; STOP and NOWHERE have none.
 *
 * placement_explain(): see clusterd-placement-explain.c.
 *
 * The result depends only on the set of nodes and roles, not on their order
 * in the arrays: roles are placed in (priority, name) order and nodes are
 * compared on a total order ending in the (unique) name. Cost is
 * O(roles * nodes * classes per role) with (node, class) counts in a hash
 * table, plus sorting.
 *
 * Reasons are single lines of stable text; they go into events and the
 * golden files, so changing one is a visible change of behaviour.
 */
#include "clusterd/placement-ctx-int.h"

#define MINUTES_PER_DAY 1440u

enum kind {
        KIND_DONE,  /* decided while classifying: wait, stop, stays stopped or failed */
        KIND_STAY,  /* active on an owner that keeps it */
        KIND_MOVE,  /* active on an up owner, and may move (see cause) */
        KIND_PLACE, /* runs nowhere and should run */
};

enum cause {
        CAUSE_NONE,
        CAUSE_MOVE_TO,
        CAUSE_DRAIN,
        CAUSE_NOT_POSSIBLE,
        CAUSE_FAILBACK,
};

struct aa_slot {
        uint64_t key;   /* (node + 1) << 32 | class id; 0 = empty slot */
        uint32_t count; /* roles of that class counted on that node */
};

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

_printf_(2, 3) void placement_sb_add(struct sbuf *b, const char *fmt, ...) {
        va_list ap;
        if (b->size == 0 || b->len + 1 >= b->size)
                return;
        va_start(ap, fmt);
        int k = vsnprintf(b->p + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        if (k < 0)
                return;
        if ((size_t)k >= b->size - b->len) {
                b->len = b->size - 1;
                if (b->size >= 4)
                        memcpy(b->p + b->size - 4, "...", 4);
                return;
        }
        b->len += (size_t)k;
}

struct sbuf placement_sb_init(char *p, size_t size) {
        if (size > 0)
                p[0] = '\0';
        return (struct sbuf){ .p = p, .size = size };
}

static uint64_t hash_string(const char *s) {
        uint64_t h = UINT64_C(0xcbf29ce484222325);
        for (; *s; s++)
                h = (h ^ (uint8_t)*s) * UINT64_C(0x100000001b3);
        return h;
}

static uint64_t hash_u64(uint64_t x) {
        x ^= x >> 33;
        x *= UINT64_C(0xff51afd7ed558ccd);
        x ^= x >> 33;
        x *= UINT64_C(0xc4ceb9fe1a85ec53);
        return x ^ (x >> 33);
}

static size_t table_size(size_t entries) {
        size_t s = 16;
        while (s < entries * 2)
                s *= 2;
        return s;
}

static bool in_list(const char *const *l, size_t n, const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(l[i], name))
                        return true;
        return false;
}

bool placement_role_may_run_on(const struct pl_role *r, const char *node) {
        return r->n_possible == 0 || in_list(r->possible, r->n_possible, node);
}

static bool window_contains(uint32_t start, uint32_t end, uint32_t now) {
        if (start < end)
                return now >= start && now < end;
        if (start > end)
                return now >= start || now < end;
        return false;
}

static bool failback_due(const struct pl_role *r, uint32_t now_min) {
        switch (r->failback) {
        case PL_FAILBACK_IMMEDIATE:
                return true;
        case PL_FAILBACK_WINDOW:
                return window_contains(r->failback_start_min, r->failback_end_min, now_min);
        case PL_FAILBACK_NEVER:
                break;
        }
        return false;
}

static void format_failback(const struct pl_role *r, char *buf, size_t size) {
        if (r->failback == PL_FAILBACK_WINDOW)
                snprintf(buf, size, "window %02u:%02u-%02u:%02u", r->failback_start_min / 60,
                         r->failback_start_min % 60, r->failback_end_min / 60, r->failback_end_min % 60);
        else
                snprintf(buf, size, "%s", r->failback == PL_FAILBACK_IMMEDIATE ? "immediate" : "never");
}

const char *placement_action_to_string(enum pl_action a) {
        switch (a) {
        case PL_KEEP:
                return "keep";
        case PL_START:
                return "start";
        case PL_MOVE:
                return "move";
        case PL_STOP:
                return "stop";
        case PL_WAIT:
                return "wait";
        case PL_NOWHERE:
                return "nowhere";
        }
        return "unknown";
}

_printf_(4, 5) static void decide(struct pl_decision *d, enum pl_action a, const char *target, const char *fmt, ...) {
        va_list ap;
        d->action = a;
        d->target = target;
        va_start(ap, fmt);
        vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
        va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Input checks and set-up                                                   */
/* ------------------------------------------------------------------------ */

static bool names_ok(const char *const *l, size_t n) {
        if (n > 0 && !l)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!l[i])
                        return false;
        return true;
}

static int cmp_node_ptr(const void *a, const void *b) {
        return strcmp((*(const struct pl_node *const *)a)->name, (*(const struct pl_node *const *)b)->name);
}

static int cmp_role_name(const void *a, const void *b) {
        return strcmp((*(const struct pl_role *const *)a)->name, (*(const struct pl_role *const *)b)->name);
}

/* High priority first, then name. */
static int cmp_role_order(const void *a, const void *b) {
        const struct pl_role *x = *(const struct pl_role *const *)a, *y = *(const struct pl_role *const *)b;
        if (x->priority != y->priority)
                return (unsigned)x->priority > (unsigned)y->priority ? -1 : 1;
        return strcmp(x->name, y->name);
}

static int validate_role(const struct pl_role *r) {
        if (!r->name || !names_ok(r->preferred, r->n_preferred) || !names_ok(r->possible, r->n_possible) ||
            !names_ok(r->anti_affinity, r->n_anti_affinity) || !names_ok(r->avoid, r->n_avoid))
                return -EINVAL;
        switch (r->state) {
        case PL_ROLE_STOPPED:
        case PL_ROLE_FAILED:
                break;
        case PL_ROLE_ACTIVE:
        case PL_ROLE_UNFENCED:
                /* Running somewhere we cannot name: never guess. */
                if (!r->owner)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        switch (r->failback) {
        case PL_FAILBACK_NEVER:
        case PL_FAILBACK_IMMEDIATE:
                break;
        case PL_FAILBACK_WINDOW:
                if (r->failback_start_min >= MINUTES_PER_DAY || r->failback_end_min >= MINUTES_PER_DAY)
                        return -EINVAL;
                break;
        default:
                return -EINVAL;
        }
        return 0;
}

/* Checks the input and sorts the nodes by name into *ret_nodes (caller
 * frees). Duplicate node or role names are an inconsistency. */
static int validate(const struct pl_input *in, const struct pl_node ***ret_nodes) {
        if (!in || (in->n_nodes > 0 && !in->nodes) || (in->n_roles > 0 && !in->roles) || in->cpu_overcommit == 0 ||
            in->now_min >= MINUTES_PER_DAY || in->n_nodes >= UINT32_MAX)
                return -EINVAL;
        for (size_t i = 0; i < in->n_nodes; i++)
                if (!in->nodes[i].name)
                        return -EINVAL;
        for (size_t i = 0; i < in->n_roles; i++)
                if (validate_role(&in->roles[i]) < 0)
                        return -EINVAL;

        _cleanup_free_ const struct pl_node **nodes = xcalloc(MAX(in->n_nodes, 1), sizeof(*nodes));
        for (size_t i = 0; i < in->n_nodes; i++)
                nodes[i] = &in->nodes[i];
        qsort(nodes, in->n_nodes, sizeof(*nodes), cmp_node_ptr);
        for (size_t i = 1; i < in->n_nodes; i++)
                if (streq(nodes[i - 1]->name, nodes[i]->name))
                        return -EINVAL;

        _cleanup_free_ const struct pl_role **roles = xcalloc(MAX(in->n_roles, 1), sizeof(*roles));
        for (size_t i = 0; i < in->n_roles; i++)
                roles[i] = &in->roles[i];
        qsort(roles, in->n_roles, sizeof(*roles), cmp_role_name);
        for (size_t i = 1; i < in->n_roles; i++)
                if (streq(roles[i - 1]->name, roles[i]->name))
                        return -EINVAL;

        *ret_nodes = TAKE_PTR(nodes);
        return 0;
}

static size_t node_find(const struct ctx *c, const char *name) {
        size_t lo = 0, hi = c->n;
        if (!name)
                return NO_NODE;
        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int d = strcmp(name, c->node[mid]->name);
                if (d == 0)
                        return mid;
                if (d < 0)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return NO_NODE;
}

/* Gives every distinct anti-affinity class name a small id, so that the
 * (node, class) table compares integers. Ids depend on the role order but
 * are only ever compared for equality. */
static void intern_classes(struct ctx *c) {
        const struct pl_input *in = c->in;
        size_t total = 0;
        for (size_t i = 0; i < in->n_roles; i++)
                total += in->roles[i].n_anti_affinity;

        c->class_ids = xcalloc(MAX(total, 1), sizeof(uint32_t));
        c->class_off = xcalloc(in->n_roles + 1, sizeof(size_t));
        size_t size = table_size(total), mask = size - 1, k = 0;
        uint32_t next = 0;
        _cleanup_free_ const char **names = xcalloc(size, sizeof(char *));
        _cleanup_free_ uint32_t *ids = xcalloc(size, sizeof(uint32_t));

        for (size_t i = 0; i < in->n_roles; i++) {
                const struct pl_role *r = &in->roles[i];
                c->class_off[i] = k;
                for (size_t j = 0; j < r->n_anti_affinity; j++) {
                        size_t s = hash_string(r->anti_affinity[j]) & mask;
                        while (names[s] && !streq(names[s], r->anti_affinity[j]))
                                s = (s + 1) & mask;
                        if (!names[s]) {
                                names[s] = r->anti_affinity[j];
                                ids[s] = next++;
                        }
                        c->class_ids[k++] = ids[s];
                }
        }
        c->class_off[in->n_roles] = k;

        /* Each role is counted on at most two nodes (owner and target). */
        size = table_size(2 * total);
        c->aa = xcalloc(size, sizeof(struct aa_slot));
        c->aa_mask = size - 1;
}

static size_t aa_find(const struct aa_slot *aa, size_t mask, uint64_t key) {
        size_t s = hash_u64(key) & mask;
        while (aa[s].key != 0 && aa[s].key != key)
                s = (s + 1) & mask;
        return s;
}

/* Doubles the table: a node may end up counted for many classes (every
 * node a role is tried on), more than the first estimate. */
static void aa_grow(struct ctx *c) {
        size_t old_size = c->aa_mask + 1, size = old_size * 2;
        struct aa_slot *aa = xcalloc(size, sizeof(struct aa_slot));
        for (size_t i = 0; i < old_size; i++)
                if (c->aa[i].key != 0)
                        aa[aa_find(aa, size - 1, c->aa[i].key)] = c->aa[i];
        free(c->aa);
        c->aa = aa;
        c->aa_mask = size - 1;
}

/* The slot of (node, class), or NULL when there is none. The table is never
 * more than half full, so a lookup always ends at an empty slot. */
static const struct aa_slot *aa_lookup(const struct ctx *c, size_t node, uint32_t class) {
        uint64_t key = ((uint64_t)(node + 1) << 32) | class;
        size_t s = aa_find(c->aa, c->aa_mask, key);
        return c->aa[s].key == 0 ? NULL : &c->aa[s];
}

/* The slot of (node, class), a new zero one where there is none. Slots are
 * never removed. */
static struct aa_slot *aa_slot(struct ctx *c, size_t node, uint32_t class) {
        uint64_t key = ((uint64_t)(node + 1) << 32) | class;
        size_t s = aa_find(c->aa, c->aa_mask, key);
        if (c->aa[s].key == 0) {
                if ((c->aa_used + 1) * 2 > c->aa_mask + 1) {
                        aa_grow(c);
                        s = aa_find(c->aa, c->aa_mask, key);
                }
                c->aa[s].key = key;
                c->aa_used++;
        }
        return &c->aa[s];
}

/* The first of role i's classes that node n already runs, or NULL. */
const char *placement_conflict_class(const struct ctx *c, size_t i, size_t n) {
        for (size_t k = c->class_off[i]; k < c->class_off[i + 1]; k++) {
                const struct aa_slot *a = aa_lookup(c, n, c->class_ids[k]);
                if (a && a->count > 0)
                        return c->in->roles[i].anti_affinity[k - c->class_off[i]];
        }
        return NULL;
}

static void load_add(struct ctx *c, size_t i, size_t n) {
        const struct pl_role *r = &c->in->roles[i];
        struct load *l = &c->load[n];
        if (__builtin_add_overflow(l->memory_mib, r->memory_mib, &l->memory_mib))
                l->memory_mib = UINT64_MAX;
        l->cpus += r->cpus;
        l->n_roles++;
        for (size_t k = c->class_off[i]; k < c->class_off[i + 1]; k++)
                aa_slot(c, n, c->class_ids[k])->count++;
}

static void load_sub(struct ctx *c, size_t i, size_t n) {
        const struct pl_role *r = &c->in->roles[i];
        struct load *l = &c->load[n];
        l->memory_mib = l->memory_mib >= r->memory_mib ? l->memory_mib - r->memory_mib : 0;
        l->cpus = l->cpus >= r->cpus ? l->cpus - r->cpus : 0;
        l->n_roles--;
        for (size_t k = c->class_off[i]; k < c->class_off[i + 1]; k++)
                aa_slot(c, n, c->class_ids[k])->count--;
}

int64_t placement_free_mib(const struct ctx *c, size_t n) {
        uint64_t m = c->node[n]->memory_mib, u = c->load[n].memory_mib;
        if (u <= m)
                return (int64_t)MIN(m - u, (uint64_t)INT64_MAX);
        return -(int64_t)MIN(u - m, (uint64_t)INT64_MAX);
}

static uint64_t cpu_limit(const struct ctx *c, size_t n) {
        return (uint64_t)c->node[n]->cpus * c->in->cpu_overcommit;
}

/* Fills the scratch arrays for role i: preferred rank, possible, avoid
 * and, with conflicts, the anti-affinity conflicts under the current
 * counts. */
static void prepare(struct ctx *c, size_t i, bool conflicts) {
        const struct pl_role *r = &c->in->roles[i];
        uint8_t base = r->n_possible == 0 ? F_POSSIBLE : 0;

        for (size_t n = 0; n < c->n; n++) {
                c->rank[n] = (uint32_t)MIN(r->n_preferred, (size_t)UINT32_MAX);
                c->flags[n] = base;
        }
        for (size_t k = 0; k < r->n_preferred; k++) {
                size_t n = node_find(c, r->preferred[k]);
                if (n != NO_NODE && c->rank[n] > k)
                        c->rank[n] = (uint32_t)k;
        }
        for (size_t k = 0; k < r->n_possible; k++) {
                size_t n = node_find(c, r->possible[k]);
                if (n != NO_NODE)
                        c->flags[n] |= F_POSSIBLE;
        }
        for (size_t k = 0; k < r->n_avoid; k++) {
                size_t n = node_find(c, r->avoid[k]);
                if (n != NO_NODE)
                        c->flags[n] |= F_AVOID;
        }
        if (conflicts && c->class_off[i] != c->class_off[i + 1])
                for (size_t n = 0; n < c->n; n++)
                        if (placement_conflict_class(c, i, n))
                                c->flags[n] |= F_CONFLICT;
}

/* Whether node n can take role i now (prepare() must have run for i). */
enum verdict placement_verdict_new(const struct ctx *c, size_t i, size_t n) {
        const struct pl_role *r = &c->in->roles[i];
        const struct pl_node *x = c->node[n];
        const struct load *l = &c->load[n];

        if (!x->up)
                return V_DOWN;
        if (x->drain)
                return V_DRAINING;
        if (x->paused)
                return V_PAUSED;
        if (!(c->flags[n] & F_POSSIBLE))
                return V_NOT_POSSIBLE;
        if (!c->in->memory_overcommit && r->memory_mib > 0 &&
            (r->memory_mib > x->memory_mib || l->memory_mib > x->memory_mib - r->memory_mib))
                return V_MEMORY;
        uint64_t limit = cpu_limit(c, n);
        if (r->cpus > 0 && (r->cpus > limit || l->cpus > limit - r->cpus))
                return V_CPU;
        return V_OK;
}

void placement_format_verdict(const struct ctx *c, size_t i, size_t n, enum verdict v, struct sbuf *b) {
        const struct pl_role *r = &c->in->roles[i];
        switch (v) {
        case V_DOWN:
                placement_sb_add(b, "down");
                return;
        case V_PAUSED:
                placement_sb_add(b, "paused");
                return;
        case V_DRAINING:
                placement_sb_add(b, "draining");
                return;
        case V_NOT_POSSIBLE:
                placement_sb_add(b, "not a possible owner");
                return;
        case V_MEMORY:
                placement_sb_add(b, "needs %" PRIu64 " MiB has %" PRId64 " MiB free", r->memory_mib,
                                 MAX(placement_free_mib(c, n), 0));
                return;
        case V_CPU: {
                uint64_t limit = cpu_limit(c, n), used = c->load[n].cpus;
                placement_sb_add(b, "needs %" PRIu32 " vCPUs has %" PRIu64 " free", r->cpus,
                                 used < limit ? limit - used : 0);
                return;
        }
        case V_OK:
                placement_sb_add(b, "can host it (%" PRId64 " MiB free", placement_free_mib(c, n));
                if (c->move_to[i] == n)
                        placement_sb_add(b, "; operator's target");
                if (c->rank[n] < r->n_preferred)
                        placement_sb_add(b, "; preferred #%" PRIu32, c->rank[n] + 1);
                if (c->flags[n] & F_CONFLICT)
                        placement_sb_add(b, "; anti-affinity class %s", placement_conflict_class(c, i, n));
                if (c->flags[n] & F_AVOID)
                        placement_sb_add(b, "; failed there recently");
                placement_sb_add(b, ")");
                return;
        }
}

/* ------------------------------------------------------------------------ */
/* Deciding                                                                  */
/* ------------------------------------------------------------------------ */

static const char *keep_target(const struct ctx *c, size_t i) {
        size_t o = c->owner[i];
        return o != NO_NODE ? c->node[o]->name : c->in->roles[i].owner;
}

/* The first node before the owner in role i's preferred list that is up,
 * not paused and a possible owner (and, with skip_avoid, not avoided). */
static size_t earlier_preferred(const struct ctx *c, size_t i, bool skip_avoid) {
        const struct pl_role *r = &c->in->roles[i];
        size_t o = c->owner[i];
        for (size_t k = 0; k < r->n_preferred; k++) {
                size_t p = node_find(c, r->preferred[k]);
                if (p == o)
                        break;
                if (p == NO_NODE || !c->node[p]->up || c->node[p]->paused || c->node[p]->drain ||
                    !placement_role_may_run_on(r, c->node[p]->name))
                        continue;
                if (skip_avoid && in_list(r->avoid, r->n_avoid, c->node[p]->name))
                        continue;
                return p;
        }
        return NO_NODE;
}

static void keep_running(struct ctx *c, size_t i, struct pl_decision *d) {
        const struct pl_role *r = &c->in->roles[i];
        const struct pl_node *o = c->node[c->owner[i]];
        size_t p;

        c->kind[i] = KIND_STAY;
        if (o->paused)
                decide(d, PL_KEEP, o->name, "running on %s (paused: keeps its roles)", o->name);
        else if (!failback_due(r, c->in->now_min) && (p = earlier_preferred(c, i, false)) != NO_NODE) {
                char fb[32];
                format_failback(r, fb, sizeof(fb));
                if (r->failback == PL_FAILBACK_NEVER)
                        decide(d, PL_KEEP, o->name, "running on %s (failback to %s is off)", o->name, c->node[p]->name);
                else if (r->failback_start_min == r->failback_end_min)
                        decide(d, PL_KEEP, o->name, "running on %s (failback to %s is off: empty %s)", o->name,
                               c->node[p]->name, fb);
                else
                        decide(d, PL_KEEP, o->name, "running on %s (failback to %s waits for its %s)", o->name,
                               c->node[p]->name, fb);
        } else
                decide(d, PL_KEEP, o->name, "running on %s", o->name);
}

/* First pass: everything that does not depend on capacity. Active roles on
 * up owners are counted there. */
static void classify(struct ctx *c, size_t i, struct pl_decision *d) {
        const struct pl_role *r = &c->in->roles[i];
        size_t o = c->owner[i];

        c->kind[i] = KIND_DONE;
        c->cause[i] = CAUSE_NONE;
        if (r->state == PL_ROLE_UNFENCED) {
                decide(d, PL_WAIT, keep_target(c, i), "owner %s is not fenced yet", r->owner);
                return;
        }
        if (!r->want_started) {
                if (r->state == PL_ROLE_ACTIVE)
                        decide(d, PL_STOP, NULL, "stop requested");
                else
                        decide(d, PL_KEEP, keep_target(c, i), "stopped");
                return;
        }
        if (r->state == PL_ROLE_FAILED) {
                decide(d, PL_KEEP, keep_target(c, i), "failed: over threshold, clear it to start");
                return;
        }
        if (r->state == PL_ROLE_ACTIVE && o != NO_NODE && c->node[o]->up) {
                load_add(c, i, o);
                c->kind[i] = KIND_MOVE;
                if (r->move_to && c->move_to[i] != o)
                        c->cause[i] = CAUSE_MOVE_TO;
                else if (c->node[o]->drain)
                        c->cause[i] = CAUSE_DRAIN;
                else if (!placement_role_may_run_on(r, c->node[o]->name))
                        c->cause[i] = CAUSE_NOT_POSSIBLE;
                else if (failback_due(r, c->in->now_min) && earlier_preferred(c, i, true) != NO_NODE)
                        c->cause[i] = CAUSE_FAILBACK;
                else
                        keep_running(c, i, d);
                return;
        }
        if (r->priority == PL_PRIORITY_NO_AUTO_START && r->owner && !r->move_to) {
                decide(d, PL_KEEP, keep_target(c, i),
                       "not started automatically after losing %s (priority no-auto-start); start it by hand",
                       r->owner);
                return;
        }
        c->kind[i] = KIND_PLACE;
}

static void place_new(struct ctx *c, size_t i, struct pl_decision *d) {
        const struct pl_role *r = &c->in->roles[i];
        struct sbuf b = placement_sb_init(d->reason, sizeof(d->reason));
        struct choice ch = placement_choose(c, i, NO_NODE);
        size_t n = ch.best;

        if (r->state == PL_ROLE_ACTIVE)
                placement_sb_add(&b, "owner %s %s; ", r->owner, c->owner[i] == NO_NODE ? "was removed" : "is down");
        if (n == NO_NODE) {
                d->action = PL_NOWHERE;
                d->target = NULL;
                placement_sb_add(&b, "no node can host it: ");
                placement_list_refusals(c, i, NO_NODE, &b);
                return;
        }
        d->action = PL_START;
        d->target = c->node[n]->name;
        placement_sb_add(&b, "placed on %s: ", c->node[n]->name);
        placement_format_choice(c, i, &ch, &b);
        load_add(c, i, n);
}

static void move(struct ctx *c, size_t i, size_t to, struct pl_decision *d) {
        d->action = PL_MOVE;
        d->target = c->node[to]->name;
        load_sub(c, i, c->owner[i]);
        load_add(c, i, to);
}

/* The owner must be left (draining, or no longer possible). */
static void move_away(struct ctx *c, size_t i, struct pl_decision *d) {
        size_t o = c->owner[i];
        struct choice ch = placement_choose(c, i, o);
        size_t n = ch.best;
        struct sbuf b = placement_sb_init(d->reason, sizeof(d->reason));

        placement_sb_add(&b, "owner %s %s", c->node[o]->name,
                         c->node[o]->drain ? "is draining" : "is no longer a possible owner");
        if (n == NO_NODE) {
                d->action = PL_KEEP;
                d->target = c->node[o]->name;
                placement_sb_add(&b, " but no other node can host it: ");
                placement_list_refusals(c, i, o, &b);
                return;
        }
        placement_sb_add(&b, "; moving to %s: ", c->node[n]->name);
        placement_format_choice(c, i, &ch, &b);
        move(c, i, n, d);
}

static void fail_back(struct ctx *c, size_t i, struct pl_decision *d) {
        const struct pl_role *r = &c->in->roles[i];
        size_t o = c->owner[i];
        char fb[32];

        for (size_t k = 0; k < r->n_preferred; k++) {
                size_t p = node_find(c, r->preferred[k]);
                if (p == o)
                        break;
                if (p == NO_NODE || placement_verdict_new(c, i, p) != V_OK || (c->flags[p] & (F_AVOID | F_CONFLICT)))
                        continue;
                format_failback(r, fb, sizeof(fb));
                decide(d, PL_MOVE, NULL, "preferred owner %s is up again (failback %s)", c->node[p]->name, fb);
                move(c, i, p, d);
                return;
        }

        /* classify() saw a candidate; say why it cannot take the role now. */
        size_t p = earlier_preferred(c, i, true);
        struct sbuf b = placement_sb_init(d->reason, sizeof(d->reason));
        c->kind[i] = KIND_STAY;
        d->action = PL_KEEP;
        d->target = c->node[o]->name;
        placement_sb_add(&b, "running on %s (preferred owner %s cannot host it: ", c->node[o]->name, c->node[p]->name);
        enum verdict v = placement_verdict_new(c, i, p);
        if (v == V_OK)
                placement_sb_add(&b, "anti-affinity class %s", placement_conflict_class(c, i, p));
        else
                placement_format_verdict(c, i, p, v, &b);
        placement_sb_add(&b, ")");
}

static void place_mover(struct ctx *c, size_t i, struct pl_decision *d) {
        const struct pl_role *r = &c->in->roles[i];
        size_t o = c->owner[i], m = c->move_to[i];
        bool must_leave = c->node[o]->drain || !placement_role_may_run_on(r, c->node[o]->name);

        switch (c->cause[i]) {
        case CAUSE_MOVE_TO: {
                enum verdict v = m == NO_NODE ? V_DOWN : placement_verdict_new(c, i, m);
                if (v == V_OK) {
                        decide(d, PL_MOVE, NULL, "operator asked to move it to %s", c->node[m]->name);
                        move(c, i, m, d);
                        return;
                }
                if (must_leave) {
                        move_away(c, i, d);
                        return;
                }
                struct sbuf b = placement_sb_init(d->reason, sizeof(d->reason));
                c->kind[i] = KIND_STAY;
                d->action = PL_KEEP;
                d->target = c->node[o]->name;
                placement_sb_add(&b, "cannot move to %s: ", r->move_to);
                if (m == NO_NODE)
                        placement_sb_add(&b, "no such node");
                else
                        placement_format_verdict(c, i, m, v, &b);
                return;
        }
        case CAUSE_DRAIN:
        case CAUSE_NOT_POSSIBLE:
                move_away(c, i, d);
                return;
        case CAUSE_FAILBACK:
                fail_back(c, i, d);
                return;
        case CAUSE_NONE:
                break;
        }
        keep_running(c, i, d);
}

void placement_ctx_done(struct ctx *c) {
        free(c->node);
        free(c->load);
        free(c->owner);
        free(c->move_to);
        free(c->kind);
        free(c->cause);
        free(c->class_ids);
        free(c->class_off);
        free(c->aa);
        free(c->rank);
        free(c->flags);
        free(c->keys);
        *c = (struct ctx){};
}

/* Decides every role into ret; with c->explain_role set, writes that
 * role's explanation at the moment it is decided. */
int placement_run(struct ctx *c, const struct pl_input *in, struct pl_decision *ret) {
        const struct pl_node **nodes = NULL;
        int r = validate(in, &nodes);
        if (r < 0)
                return r;

        c->in = in;
        c->n = in->n_nodes;
        c->node = nodes;
        c->load = xcalloc(MAX(c->n, 1), sizeof(*c->load));
        c->rank = xcalloc(MAX(c->n, 1), sizeof(*c->rank));
        c->flags = xcalloc(MAX(c->n, 1), sizeof(*c->flags));
        c->keys = xcalloc(MAX(c->n, 1), sizeof(*c->keys));
        c->owner = xcalloc(MAX(in->n_roles, 1), sizeof(*c->owner));
        c->move_to = xcalloc(MAX(in->n_roles, 1), sizeof(*c->move_to));
        c->kind = xcalloc(MAX(in->n_roles, 1), sizeof(*c->kind));
        c->cause = xcalloc(MAX(in->n_roles, 1), sizeof(*c->cause));
        intern_classes(c);

        for (size_t i = 0; i < in->n_roles; i++) {
                c->owner[i] = node_find(c, in->roles[i].owner);
                c->move_to[i] = node_find(c, in->roles[i].move_to);
                ret[i] = (struct pl_decision){};
                classify(c, i, &ret[i]);
        }

        _cleanup_free_ const struct pl_role **order = xcalloc(MAX(in->n_roles, 1), sizeof(*order));
        size_t n_order = 0;
        for (size_t i = 0; i < in->n_roles; i++)
                if (c->kind[i] == KIND_MOVE || c->kind[i] == KIND_PLACE)
                        order[n_order++] = &in->roles[i];
        qsort(order, n_order, sizeof(*order), cmp_role_order);

        for (size_t k = 0; k < n_order; k++) {
                size_t i = (size_t)(order[k] - in->roles);
                prepare(c, i, true);
                if (i == c->explain_role)
                        placement_explain_role(c, i);
                if (c->kind[i] == KIND_PLACE)
                        place_new(c, i, &ret[i]);
                else
                        place_mover(c, i, &ret[i]);
        }

        /* Roles decided without placing them: against the final counts. */
        if (c->explain_role != SIZE_MAX) {
                prepare(c, c->explain_role, true);
                placement_explain_role(c, c->explain_role);
        }
        return 0;
}

int placement_compute(const struct pl_input *in, struct pl_decision *ret) {
        struct ctx c = { .explain_role = SIZE_MAX };
        if (!ret && in && in->n_roles > 0)
                return -EINVAL;
        int r = placement_run(&c, in, ret);
        placement_ctx_done(&c);
        return r;
}

/* A failure counts while it is younger than the period (one exactly
 * period_usec old has aged out); a time after now_usec (another node's
 * clock ahead of ours) counts. An empty period holds no failure. */
bool placement_over_threshold(const uint64_t *failures_usec, size_t n, uint32_t threshold, uint64_t period_usec,
                              uint64_t now_usec) {
        size_t recent = 0;
        if (threshold == 0 || period_usec == 0 || !failures_usec)
                return false;
        for (size_t i = 0; i < n; i++)
                if (failures_usec[i] > now_usec || now_usec - failures_usec[i] < period_usec)
                        recent++;
        return recent > threshold;
}
