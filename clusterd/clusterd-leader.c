/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-leader.c: what the leader records in the cluster database.
 *
 * The leader is the lowest node id among the replicas of a writable
 * partition (repl_leader); nothing is elected. It writes node state changes
 * (online/offline, clusterd running/stopped, with since when), so that every
 * node shows the same history. Every node also records, once it can write
 * again, that it had lost quorum and when (only it knows).
 * Changes are batched with a short timer, and at most one write per node is
 * in flight.
 */
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"

#define LEADER_DELAY_USEC (100 * USEC_PER_MSEC)

bool clusterd_is_leader(struct clusterd *c) {
        return c->nodeid != 0 && repl_leader(c->repl) == c->nodeid;
}

static bool pending(struct clusterd *c, uint32_t nodeid) {
        for (size_t i = 0; i < c->n_leader_pending; i++)
                if (c->leader_pending[i] == nodeid)
                        return true;
        return false;
}

static void drop_pending(struct clusterd *c, uint32_t nodeid) {
        for (size_t i = 0; i < c->n_leader_pending; i++)
                if (c->leader_pending[i] == nodeid) {
                        c->leader_pending[i] = c->leader_pending[--c->n_leader_pending];
                        return;
                }
}

struct leader_write {
        struct clusterd *c;
        uint32_t nodeid; /* 0 for the quorum event */
};

static void write_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct leader_write *w = userdata;
        struct clusterd *c = w->c;

        if (w->nodeid)
                drop_pending(c, w->nodeid);
        else {
                c->quorum_event_pending = false;
                if (r == 0)
                        c->live.quorum_lost_usec = 0;
        }
        if (r < 0)
                log_info("Leader: recording failed (%s); will retry", message);
        free(w);
        /* Something may have changed while the write was in flight. */
        leader_poke(c);
}

static void submit(struct clusterd *c, struct op *op, uint32_t nodeid) {
        struct leader_write *w = xcalloc(1, sizeof(*w));
        struct err e = {};

        *w = (struct leader_write){ c, nodeid };
        op->client = xstrdup("clusterd");
        op->time_usec = now_realtime_usec();
        if (repl_submit(c->repl, op, write_done, w, NULL, &e) < 0) {
                log_debug("Leader: cannot record now: %s", e.msg);
                op_done(op);
                free(w);
                return;
        }
        if (nodeid) {
                c->leader_pending = xrealloc(c->leader_pending, (c->n_leader_pending + 1) * sizeof(uint32_t));
                c->leader_pending[c->n_leader_pending++] = nodeid;
        } else
                c->quorum_event_pending = true;
}

static void record_node(struct clusterd *c, const struct db_node *n, uint64_t now) {
        const struct live_node *live = membership_find(&c->live, n->nodeid);
        bool online = live && live->online, daemon = live && live->daemon;
        /* A node that joined is never "joining" again, even if it went
         * before its arrival could be recorded. */
        bool joined = n->state != NODE_STATE_JOINING || (live && live->seen_online);
        enum node_state want = online ? NODE_STATE_ONLINE : joined ? NODE_STATE_OFFLINE : NODE_STATE_JOINING;

        if ((want == n->state && daemon == n->daemon) || pending(c, n->nodeid))
                return;
        struct op op = {
                .kind = OP_NODE_STATE,
                .name = xstrdup(n->name),
                .state = (uint8_t)want,
                .daemon = daemon,
                .since_usec = want == n->state ? n->state_since_usec : now,
                .daemon_since_usec = daemon == n->daemon ? n->daemon_since_usec : now,
        };
        submit(c, &op, n->nodeid);
}

static void record_quorum(struct clusterd *c) {
        char when[TIMESTAMP_MAX];

        if (!c->live.quorum_lost_usec || c->quorum_event_pending)
                return;
        struct op op = {
                .kind = OP_EVENT,
                .event_kind = xstrdup("quorum.regained"),
                .event_object = xstrdup(c->node_name[0] ? c->node_name : "cluster"),
                .event_message = xasprintf("Quorum regained on node '%s', which had lost it at %s", c->node_name,
                                           format_timestamp(when, c->live.quorum_lost_usec)),
        };
        submit(c, &op, 0);
}

static void leader_run(void *data) {
        struct clusterd *c = data;
        struct db_node *nodes = NULL;
        size_t n = 0;
        uint64_t now = now_realtime_usec();

        c->leader_armed = false;
        if (c->stopping || !c->live.known || !repl_writable(c->repl))
                return;
        /* A loss of quorum is recorded by the node that saw it, once it can
         * write again: the leader of the day may never have seen it. */
        record_quorum(c);
        clusterd_vote_return(c);
        if (!clusterd_is_leader(c) || db_nodes(c->db, &nodes, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                record_node(c, &nodes[i], now);
        db_nodes_free(nodes, n);
}

void leader_poke(struct clusterd *c) {
        if (c->leader_armed || c->stopping)
                return;
        if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, LEADER_DELAY_USEC * NSEC_PER_USEC, c, leader_run,
                              &c->leader_timer) == 0)
                c->leader_armed = true;
}

void leader_done(struct clusterd *c) {
        if (c->leader_armed)
                qb_loop_timer_del(c->loop, c->leader_timer);
        c->leader_armed = false;
        free(c->leader_pending);
        c->leader_pending = NULL;
        c->n_leader_pending = 0;
}
