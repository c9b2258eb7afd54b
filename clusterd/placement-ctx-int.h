/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * placement-ctx-int.h: shared by the files that compute placement
 * (clusterd-placement.c, clusterd-placement-explain.c): the state of one
 * computation and the helpers both use. Never leaves clusterd/; the
 * interface is placement-int.h.
 */
#pragma once

#include "clusterd/placement-int.h"

#define NO_NODE SIZE_MAX

/* Per-node facts about the role being decided (ctx.flags). */
enum {
        F_POSSIBLE = 1 << 0, /* among its possible owners */
        F_AVOID = 1 << 1,    /* in its avoid list */
        F_CONFLICT = 1 << 2, /* runs a role sharing an anti-affinity class */
};

/* Why a node cannot take a role (for a new start or an incoming move). */
enum verdict {
        V_OK,
        V_DOWN,
        V_PAUSED,
        V_DRAINING,
        V_NOT_POSSIBLE,
        V_MEMORY,
        V_CPU,
};

struct load {
        uint64_t memory_mib; /* memory of the roles counted on the node (saturating) */
        uint64_t cpus;       /* their vCPUs */
        uint32_t n_roles;
};

/* One node's rank for the role being decided; compared field by field. */
struct node_key {
        uint8_t not_move_to; /* 0 for the operator's move_to node */
        uint8_t avoid;
        uint8_t conflict;
        uint32_t rank;    /* position in the preferred list, n_preferred when absent */
        int64_t free_mib; /* larger first */
        uint32_t n_roles; /* fewer first */
        size_t idx;       /* sorted node index: the name order */
};

struct ctx {
        const struct pl_input *in;
        size_t n;                    /* nodes */
        const struct pl_node **node; /* sorted by name; owned array of borrowed pointers */
        struct load *load;           /* per sorted node, owned */
        size_t *owner;               /* per role: sorted index of its owner, or NO_NODE; owned */
        size_t *move_to;             /* per role: sorted index of move_to, or NO_NODE; owned */
        uint8_t *kind;               /* per role: enum kind; owned */
        uint8_t *cause;              /* per role: enum cause; owned */
        uint32_t *class_ids;         /* interned anti-affinity classes of every role; owned */
        size_t *class_off;           /* role i's classes are class_ids[class_off[i]..class_off[i + 1]); owned */
        struct aa_slot *aa;          /* (node, class) -> count, open addressing; owned */
        size_t aa_mask;
        size_t aa_used;        /* slots in use; the table doubles before it is half full */
        uint32_t *rank;        /* scratch per sorted node for the role being decided; owned */
        uint8_t *flags;        /* scratch per sorted node: F_*; owned */
        struct node_key *keys; /* scratch per sorted node; owned */
        size_t explain_role;   /* role to explain, or SIZE_MAX */
        char *explain_buf;     /* borrowed */
        size_t explain_size;
};

/* A bounded single-line buffer; on overflow the text ends in "...". */
struct sbuf {
        char *p;
        size_t size, len;
};

/* The nodes that can take a role, by rank (NO_NODE where there is none). */
struct choice {
        size_t best;   /* the winner */
        size_t second; /* the runner-up, to tell how close it was */
        size_t plain;  /* the best on preference and load alone, to name a node
                        * passed over for avoid or anti-affinity */
};

/* clusterd-placement.c */
_printf_(2, 3) void placement_sb_add(struct sbuf *b, const char *fmt, ...);
struct sbuf placement_sb_init(char *p, size_t size);
bool placement_role_may_run_on(const struct pl_role *r, const char *node);
/* The first of role i's classes that node n already runs, or NULL. */
const char *placement_conflict_class(const struct ctx *c, size_t i, size_t n);
int64_t placement_free_mib(const struct ctx *c, size_t n);
/* Whether node n can take role i now (prepare() must have run for i). */
enum verdict placement_verdict_new(const struct ctx *c, size_t i, size_t n);
void placement_format_verdict(const struct ctx *c, size_t i, size_t n, enum verdict v, struct sbuf *b);
void placement_ctx_done(struct ctx *c);
/* Decides every role into ret; with c->explain_role set, writes that
 * role's explanation at the moment it is decided. */
int placement_run(struct ctx *c, const struct pl_input *in, struct pl_decision *ret);

/* clusterd-placement-explain.c */
/* Ranks the nodes, other than `exclude`, that can take role i now. */
struct choice placement_choose(const struct ctx *c, size_t i, size_t exclude);
/* "node1 down, node2 not a possible owner, ..." for a role no node takes. */
void placement_list_refusals(struct ctx *c, size_t i, size_t exclude, struct sbuf *b);
/* Why role i goes to ch->best. */
void placement_format_choice(const struct ctx *c, size_t i, const struct choice *ch, struct sbuf *b);
/* Writes role i's explanation into c->explain_buf and clears c->explain_role. */
void placement_explain_role(struct ctx *c, size_t i);
