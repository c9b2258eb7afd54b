/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-leave.c: dynamic quorum, for nodes that stop cleanly.
 *
 * corosync stops cleanly through corosync-cfgtool -H (how corosync.service
 * stops, at a host's shutdown or by an operator's `systemctl stop
 * corosync`), and asks its clients first, waiting up to 5 s for their
 * answers. clusterd answers once it has recorded that this node left
 * (OP_NODE_VOTE 0). From then on the node's vote no longer counts: every
 * node writes it into corosync.conf with quorum_votes 0, and the witness's
 * parity counts only the nodes with a vote, so the others' majority is a
 * majority of the nodes that remain.
 *
 * When the node is a member again (corosync started by an operator, or by
 * clusterd after clusterd itself was restarted), it records that its vote
 * counts again (OP_NODE_VOTE 1), once its partition can write.
 *
 * A node that fails is not a node that left: its vote keeps counting, so
 * the others must keep a majority of the whole. The last node with a vote
 * keeps it, so that the cluster can always start again from the node that
 * was up last (docs/witness.md, "Dynamic quorum").
 */
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"

/* corosync waits 5 s for its clients' answers. */
#define LEAVE_ANSWER_USEC (4 * USEC_PER_SEC)

uint32_t dynamic_votes(const struct db_node *nodes, size_t n, bool *ret_counts) {
        uint32_t voters = 0;
        for (size_t i = 0; i < n; i++)
                voters += nodes[i].vote;
        /* Never no vote at all: then every node counts, as without dynamic
         * quorum (the rule that the last voter keeps its vote prevents it). */
        for (size_t i = 0; ret_counts && i < n; i++)
                ret_counts[i] = nodes[i].vote || voters == 0;
        return voters ? voters : (uint32_t)n;
}

uint32_t clusterd_voting_nodes(struct clusterd *c) {
        struct db_node *nodes = NULL;
        size_t n = 0;
        if (db_nodes(c->db, &nodes, &n) < 0)
                return 0;
        uint32_t voters = dynamic_votes(nodes, n, NULL);
        db_nodes_free(nodes, n);
        return voters;
}

/* Whether this node's vote counts, as the database says; false when the
 * node is not (yet) in it. */
static bool own_vote(struct clusterd *c, bool *ret) {
        struct db_node self = {};
        if (!c->node_name[0] || db_node_get(c->db, c->node_name, &self) < 0)
                return false;
        *ret = self.vote;
        db_node_done(&self);
        return true;
}

/* Submits OP_NODE_VOTE for this node. */
static int submit_vote(struct clusterd *c, bool vote, repl_done_fn done, struct err *e) {
        struct op op = { .kind = OP_NODE_VOTE, .name = xstrdup(c->node_name), .state = vote };
        op.client = xstrdup("clusterd");
        op.time_usec = now_realtime_usec();
        int r = repl_submit(c->repl, &op, done, c, NULL, e);
        if (r < 0)
                op_done(&op);
        return r;
}

static void answer(struct clusterd *c) {
        if (c->leave_armed)
                qb_loop_timer_del(c->loop, c->leave_timer);
        c->leave_armed = false;
        if (c->cs)
                cs_reply_shutdown(c->cs);
}

static void answer_timeout_cb(void *data) {
        struct clusterd *c = data;
        c->leave_armed = false;
        log_warning("corosync is stopping and this node's leave is not committed yet; letting corosync stop "
                    "(if it is not committed, this node counts as failed: its vote still counts)");
        answer(c);
}

static void left_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct clusterd *c = userdata;
        if (r < 0)
                log_warning("Cannot record that this node left (%s): it counts as failed, its vote still counts",
                            message);
        else
                log_notice("Recorded that this node left cleanly: its vote no longer counts towards the majority");
        answer(c);
}

void clusterd_shutdown_request(struct clusterd *c) {
        struct err e = {};
        bool vote;

        c->leaving = true;
        if (!own_vote(c, &vote) || !vote) {
                answer(c);
                return;
        }
        if (clusterd_voting_nodes(c) < 2) {
                log_notice("corosync is stopping; this is the last node with a vote and keeps it, so that the "
                           "cluster starts again from it");
                answer(c);
                return;
        }
        if (submit_vote(c, false, left_done, &e) < 0) {
                log_notice("corosync is stopping, and this node cannot record that it leaves (%s): it counts as "
                           "failed, its vote still counts",
                           e.msg);
                answer(c);
                return;
        }
        log_notice("corosync is stopping cleanly: recording that this node leaves");
        if (qb_loop_timer_add(c->loop, QB_LOOP_HIGH, LEAVE_ANSWER_USEC * NSEC_PER_USEC, c, answer_timeout_cb,
                              &c->leave_timer) == 0)
                c->leave_armed = true;
}

static void back_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct clusterd *c = userdata;
        c->vote_pending = false;
        if (r < 0)
                log_info("Cannot record yet that this node's vote counts again (%s); will retry", message);
        else
                log_notice("This node is back: its vote counts towards the majority again");
        leader_poke(c);
}

void clusterd_vote_return(struct clusterd *c) {
        struct err e = {};
        bool vote;

        if (c->leaving || c->vote_pending || !c->cs || !repl_writable(c->repl) || !own_vote(c, &vote) || vote)
                return;
        if (submit_vote(c, true, back_done, &e) < 0) {
                log_debug("Cannot record now that this node's vote counts again: %s", e.msg);
                return;
        }
        c->vote_pending = true;
}

void clusterd_leave_done(struct clusterd *c) {
        if (c->leave_armed)
                qb_loop_timer_del(c->loop, c->leave_timer);
        c->leave_armed = false;
}
