/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sync-int.h: the pure decisions of the replication protocol (see
 * docs/replication.md): which member of a new view holds the newest state,
 * which members must receive it, and whether a partition may write.
 *
 * No I/O, no logging: every member runs these on the same inputs and must
 * reach the same answer.
 */
#pragma once

#include "clusterd/op-int.h"

struct sync_member {
        uint32_t nodeid;
        uint32_t pid;
        struct db_position pos;
        uint32_t schema;
        char uuid[37]; /* "" for a node that holds no cluster state yet */
};

enum sync_role {
        SYNC_UP_TO_DATE, /* holds exactly the winner's state */
        SYNC_RECEIVE,    /* must install the winner's snapshot */
        SYNC_EXCLUDED,   /* cannot take part: other cluster or schema */
};

struct sync_decision {
        size_t winner;         /* index into the members */
        enum sync_role *roles; /* one per member; owned, free with sync_decision_done */
        size_t n_receivers;
        char reason[256]; /* why the winner won, for the log */
};

/* Decides, from every member's state in a view, which one holds the newest
 * state: the highest (epoch, version), ties broken by the lowest node id
 * (then pid). Members that hold another cluster's uuid, or another schema
 * version than the winner, are excluded. A member whose (epoch, version,
 * hash) differs from the winner's in any way receives the snapshot: equal
 * positions with different hashes mean diverged uncommitted tails, and the
 * winner's tail is the one kept.
 * -ENODATA when no member holds any cluster state (nothing to sync). */
int sync_decide(const struct sync_member *members, size_t n, struct sync_decision *ret);
void sync_decision_done(struct sync_decision *d);

/* Whether position a is newer than b (epoch first, then version). */
bool sync_position_newer(const struct db_position *a, const struct db_position *b);

/* A partition may change the database when votequorum says it is quorate
 * AND the members taking part in replication hold at least `quorum` votes
 * between them. The second condition matters when corosync runs on a node
 * whose clusterd does not: votequorum counts that node, but it holds no
 * copy of new writes, so committing without it must still leave a majority
 * of copies. */
bool sync_may_write(bool quorate, uint32_t quorum, uint32_t replica_votes);

/* Whether votequorum's latest verdict can be trusted for the current CPG
 * view: the quorum notification and the group change arrive on different
 * connections, in either order. After a node left (or joined) corosync's
 * membership, the verdict that arrives first may still be the old ring's,
 * and a write committed under the old ring's epoch could later lose to a
 * minority's state. The verdict is current when every node of the view is
 * in votequorum's member list and no node whose corosync just left is. */
bool sync_quorum_current(const uint32_t *view_nodes, size_t n_view, const uint32_t *gone, size_t n_gone,
                         const uint32_t *quorum_members, size_t n_quorum);

const char *sync_role_to_string(enum sync_role r);
