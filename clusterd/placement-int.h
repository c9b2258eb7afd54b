/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * placement-int.h: where every role should run. A pure function of the
 * cluster state the leader reads from the replicated database and the live
 * membership: no I/O, no clock (the caller passes the time), no allocation
 * the caller does not free. The same input always gives the same output, so
 * that the golden cases in tests/golden/cases/golden-placement/ pin it.
 *
 * What the leader does with the result: for every role whose target differs
 * from its current owner, it writes the new owner (or "none") to the
 * database with the decision's reason, which is also recorded as an event.
 */
#pragma once

#include "common/common.h"

#define PL_REASON_MAX 256

enum pl_priority {
        PL_PRIORITY_NO_AUTO_START = 0, /* started only by an operator */
        PL_PRIORITY_LOW = 1000,
        PL_PRIORITY_MEDIUM = 2000,
        PL_PRIORITY_HIGH = 3000,
};

enum pl_failback {
        PL_FAILBACK_NEVER = 0,
        PL_FAILBACK_IMMEDIATE = 1,
        PL_FAILBACK_WINDOW = 2, /* only while the local time of day is in [start, end) */
};

/* What the leader knows of a role's owner right now. */
enum pl_role_state {
        PL_ROLE_STOPPED = 0,  /* runs nowhere */
        PL_ROLE_ACTIVE = 1,   /* starting, running or stopping on owner */
        PL_ROLE_UNFENCED = 2, /* owner left the membership and is not yet fenced: nothing may move */
        PL_ROLE_FAILED = 3,   /* over its failover threshold: stays stopped until cleared */
};

struct pl_node {
        const char *name; /* borrowed */
        uint32_t nodeid;
        bool up;             /* in the quorate membership with its clusterd running */
        bool paused;         /* takes no roles; with drain its roles move away */
        bool drain;          /* paused with --drain: its roles move elsewhere */
        uint64_t memory_mib; /* memory roles may use on this node */
        uint32_t cpus;       /* logical CPUs */
};

struct pl_role {
        const char *name; /* borrowed */
        enum pl_priority priority;
        bool want_started;            /* operator's target: started or stopped */
        const char *const *preferred; /* ordered node names, borrowed */
        size_t n_preferred;
        const char *const *possible; /* node names; n_possible == 0 means every node */
        size_t n_possible;
        const char *const *anti_affinity; /* class names, borrowed */
        size_t n_anti_affinity;
        uint64_t memory_mib; /* what the role's resources need (VM memory) */
        uint32_t cpus;       /* vCPUs */
        enum pl_role_state state;
        const char *owner;        /* current (or last) owner, NULL when none; borrowed */
        const char *move_to;      /* operator asked to move it there, NULL if not; borrowed */
        const char *const *avoid; /* nodes where it failed recently, tried last; borrowed */
        size_t n_avoid;
        enum pl_failback failback;
        uint32_t failback_start_min; /* window start, minutes after local midnight */
        uint32_t failback_end_min;   /* window end (exclusive); may wrap past midnight */
};

struct pl_input {
        const struct pl_node *nodes; /* borrowed; order does not matter */
        size_t n_nodes;
        const struct pl_role *roles; /* borrowed; order does not matter */
        size_t n_roles;
        uint32_t now_min;        /* local time of day, minutes after midnight (failback windows) */
        bool memory_overcommit;  /* allow placing more VM memory than a node has */
        uint32_t cpu_overcommit; /* vCPUs allowed per logical CPU (>= 1) */
};

enum pl_action {
        PL_KEEP = 0,    /* nothing to do: stays where it is (or stays stopped) */
        PL_START = 1,   /* start on target (it runs nowhere now) */
        PL_MOVE = 2,    /* stop on owner, then start on target */
        PL_STOP = 3,    /* stop on owner; run nowhere */
        PL_WAIT = 4,    /* owner is not fenced yet: no change until it is */
        PL_NOWHERE = 5, /* should run but no node can take it */
};

struct pl_decision {
        enum pl_action action;
        const char *target;         /* points to a pl_node name or NULL */
        char reason[PL_REASON_MAX]; /* one line, for events and "role explain" */
};
/* For PL_KEEP and PL_WAIT the target is the role's owner as it stands (the
 * pl_node's name, or the role's own owner string when that node was
 * removed; NULL when it has none), so that "target differs from owner"
 * never holds for them: a stopped role keeps its last owner, which is what
 * tells a no-auto-start role that lost its node from one an operator just
 * started (owner cleared). START and MOVE name the new node; STOP and
 * NOWHERE have NULL. */

/* "keep", "start", "move", "stop", "wait", "nowhere"; static strings. */
const char *placement_action_to_string(enum pl_action a);

/* Decides for every role (ret[i] is for in->roles[i]). Roles are placed in
 * priority order (high first; equal priority by name) so that capacity
 * goes to the important ones first; roles that stay where they are count
 * against their node's capacity before any role is placed. Returns 0, or
 * -EINVAL when the input is inconsistent (a role's owner not among the
 * nodes is not an inconsistency: that node was removed). */
int placement_compute(const struct pl_input *in, struct pl_decision *ret);

/* Why role i is (or cannot be) where placement_compute puts it: one line
 * per node, "name: verdict", in the order placement considered them, into
 * buf (always NUL-terminated, truncated to size). */
void placement_explain(const struct pl_input *in, size_t role_index, char *buf, size_t size);

/* Whether a role with these failure times (realtime usec, any order) is over
 * its failover threshold: more than `threshold` failures within the last
 * period_usec before now_usec. threshold 0 means no limit. */
bool placement_over_threshold(const uint64_t *failures_usec, size_t n, uint32_t threshold, uint64_t period_usec,
                              uint64_t now_usec);
