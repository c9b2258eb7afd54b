/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-placement-explain.c: ranking the nodes that can take a role,
 * and the text that says why (reasons, refusals and placement_explain()).
 * Pure, like the rest of placement (placement-int.h, placement-ctx-int.h).
 *
 * placement_explain() lists the current owner of an active role first,
 * then the nodes that can take the role in the order they rank (the first
 * is where a placement puts it), then the others in the same order. It
 * shows the counts at the moment the role is decided; for a role that is
 * not placed (it stays, stops, waits...) the counts after everything else.
 */
#include "clusterd/placement-ctx-int.h"

/* ------------------------------------------------------------------------ */
/* Ranking nodes                                                            */
/* ------------------------------------------------------------------------ */

static struct node_key make_key(const struct ctx *c, size_t i, size_t n) {
        return (struct node_key){
                .not_move_to = c->move_to[i] != n,
                .avoid = !!(c->flags[n] & F_AVOID),
                .conflict = !!(c->flags[n] & F_CONFLICT),
                .rank = c->rank[n],
                .free_mib = placement_free_mib(c, n),
                .n_roles = c->load[n].n_roles,
                .idx = n,
        };
}

/* Ranks a before b; with `plain` only on preference, memory, roles, name. */
static int key_cmp(const struct node_key *a, const struct node_key *b, bool plain) {
        if (!plain) {
                if (a->not_move_to != b->not_move_to)
                        return a->not_move_to < b->not_move_to ? -1 : 1;
                if (a->avoid != b->avoid)
                        return a->avoid < b->avoid ? -1 : 1;
                if (a->conflict != b->conflict)
                        return a->conflict < b->conflict ? -1 : 1;
        }
        if (a->rank != b->rank)
                return a->rank < b->rank ? -1 : 1;
        if (a->free_mib != b->free_mib)
                return a->free_mib > b->free_mib ? -1 : 1;
        if (a->n_roles != b->n_roles)
                return a->n_roles < b->n_roles ? -1 : 1;
        return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int key_qsort_cmp(const void *a, const void *b) {
        return key_cmp(a, b, false);
}

/* Ranks the nodes, other than `exclude`, that can take role i now. */
struct choice placement_choose(const struct ctx *c, size_t i, size_t exclude) {
        struct node_key best = {}, second = {}, plain = {};
        struct choice ch = { NO_NODE, NO_NODE, NO_NODE };

        for (size_t n = 0; n < c->n; n++) {
                if (n == exclude || placement_verdict_new(c, i, n) != V_OK)
                        continue;
                struct node_key k = make_key(c, i, n);
                if (ch.best == NO_NODE || key_cmp(&k, &best, false) < 0) {
                        second = best;
                        ch.second = ch.best;
                        best = k;
                        ch.best = n;
                } else if (ch.second == NO_NODE || key_cmp(&k, &second, false) < 0) {
                        second = k;
                        ch.second = n;
                }
                if (ch.plain == NO_NODE || key_cmp(&k, &plain, true) < 0) {
                        plain = k;
                        ch.plain = n;
                }
        }
        return ch;
}

/* Every node in the order placement considers them for role i. */
static size_t sorted_keys(struct ctx *c, size_t i) {
        for (size_t n = 0; n < c->n; n++)
                c->keys[n] = make_key(c, i, n);
        qsort(c->keys, c->n, sizeof(*c->keys), key_qsort_cmp);
        return c->n;
}

/* "node1 down, node2 not a possible owner, ..." for a role no node takes. */
void placement_list_refusals(struct ctx *c, size_t i, size_t exclude, struct sbuf *b) {
        bool first = true;
        sorted_keys(c, i);
        for (size_t k = 0; k < c->n; k++) {
                size_t n = c->keys[k].idx;
                if (n == exclude)
                        continue;
                placement_sb_add(b, "%s%s ", first ? "" : ", ", c->node[n]->name);
                placement_format_verdict(c, i, n, placement_verdict_new(c, i, n), b);
                first = false;
        }
        if (first)
                placement_sb_add(b, "no %snodes", exclude == NO_NODE ? "" : "other ");
}

/* Why role i goes to ch->best. */
void placement_format_choice(const struct ctx *c, size_t i, const struct choice *ch, struct sbuf *b) {
        const struct pl_role *r = &c->in->roles[i];
        size_t n = ch->best, plain = ch->plain, second = ch->second;

        if (c->move_to[i] == n) {
                placement_sb_add(b, "operator asked for it");
                return;
        }
        if (c->rank[n] < r->n_preferred)
                placement_sb_add(b, "first preferred owner that can host it");
        else {
                if (r->n_preferred > 0 && !(plain != NO_NODE && c->rank[plain] < r->n_preferred))
                        placement_sb_add(b, "no preferred owner can host it; ");
                placement_sb_add(b, "most free memory (%" PRId64 " MiB free)", placement_free_mib(c, n));
                /* A tie on everything up to memory: say what decided it. */
                struct node_key kn = make_key(c, i, n), ks = second != NO_NODE ? make_key(c, i, second) : kn;
                if (second != NO_NODE && ks.avoid == kn.avoid && ks.conflict == kn.conflict && ks.rank == kn.rank &&
                    ks.free_mib == kn.free_mib) {
                        placement_sb_add(b, ", fewest roles (%" PRIu32 ")", kn.n_roles);
                        if (ks.n_roles == kn.n_roles)
                                placement_sb_add(b, ", then name");
                }
        }
        if (plain != NO_NODE && plain != n) {
                if (c->flags[plain] & F_AVOID)
                        placement_sb_add(b, "; skipped %s: failed there recently", c->node[plain]->name);
                else if (c->flags[plain] & F_CONFLICT)
                        placement_sb_add(b, "; skipped %s: anti-affinity class %s", c->node[plain]->name,
                                         placement_conflict_class(c, i, plain));
        }
        if (c->flags[n] & F_CONFLICT)
                placement_sb_add(b, "; anti-affinity class %s unavoidable", placement_conflict_class(c, i, n));
        if (c->flags[n] & F_AVOID)
                placement_sb_add(b, "; failed there recently, but no other node can host it");
}

/* ------------------------------------------------------------------------ */
/* Explaining                                                                */
/* ------------------------------------------------------------------------ */

/* The owner's line for an active role: how it stands with the role it runs. */
static void format_owner(const struct ctx *c, size_t i, size_t n, struct sbuf *b) {
        const struct pl_node *x = c->node[n];
        if (!x->up)
                placement_sb_add(b, "down");
        else if (x->drain)
                placement_sb_add(b, "current owner, draining");
        else if (!placement_role_may_run_on(&c->in->roles[i], x->name))
                placement_sb_add(b, "current owner, no longer a possible owner");
        else if (x->paused)
                placement_sb_add(b, "current owner, paused (keeps its roles)");
        else
                placement_sb_add(b, "current owner (%" PRId64 " MiB free)", placement_free_mib(c, n));
}

/* One line per node: the current owner of an active role first, then the
 * nodes that can take it in the order they are ranked (the first of them
 * is where it would go), then the others in the same order. */
void placement_explain_role(struct ctx *c, size_t i) {
        const struct pl_role *r = &c->in->roles[i];
        struct sbuf b = placement_sb_init(c->explain_buf, c->explain_size);
        size_t owner = r->state == PL_ROLE_ACTIVE || r->state == PL_ROLE_UNFENCED ? c->owner[i] : NO_NODE;

        sorted_keys(c, i);
        for (int pass = 0; pass < 3; pass++)
                for (size_t k = 0; k < c->n; k++) {
                        size_t n = c->keys[k].idx;
                        char line[PL_REASON_MAX];
                        struct sbuf l = placement_sb_init(line, sizeof(line));
                        enum verdict v = placement_verdict_new(c, i, n);
                        if (pass != (n == owner ? 0 : v == V_OK ? 1 : 2))
                                continue;
                        if (n == owner)
                                format_owner(c, i, n, &l);
                        else
                                placement_format_verdict(c, i, n, v, &l);
                        placement_sb_add(&b, "%s: %s\n", c->node[n]->name, line);
                }
        if (c->n == 0)
                placement_sb_add(&b, "no nodes\n");
        c->explain_role = SIZE_MAX;
}

void placement_explain(const struct pl_input *in, size_t role_index, char *buf, size_t size) {
        struct ctx c = { .explain_role = role_index, .explain_buf = buf, .explain_size = size };
        struct sbuf b = placement_sb_init(buf, size);

        if (!in || role_index >= in->n_roles) {
                placement_sb_add(&b, "no such role\n");
                return;
        }
        _cleanup_free_ struct pl_decision *d = xcalloc(in->n_roles, sizeof(*d));
        if (placement_run(&c, in, d) < 0)
                placement_sb_add(&b, "inconsistent input: nothing to explain\n");
        placement_ctx_done(&c);
}
