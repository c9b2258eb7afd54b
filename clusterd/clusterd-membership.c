/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-membership.c: this node's live view of the cluster: which nodes
 * are in corosync's membership, whose clusterd is in the group, and the
 * quorum, with a notice for every change an operator cares about.
 */
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"

void membership_done(struct membership *m) {
        free(m->nodes);
        *m = (struct membership){};
}

const struct live_node *membership_find(const struct membership *m, uint32_t nodeid) {
        for (size_t i = 0; i < m->n_nodes; i++)
                if (m->nodes[i].nodeid == nodeid)
                        return &m->nodes[i];
        return NULL;
}

void membership_node_name(struct clusterd *c, uint32_t nodeid, char *buf, size_t size) {
        struct db_node n = {};
        struct cs_node *list = NULL;
        size_t k = 0;

        if (db_node_by_id(c->db, nodeid, &n) >= 0) {
                snprintf(buf, size, "%s", n.name);
                db_node_done(&n);
                return;
        }
        if (c->cs && cs_nodelist(c->cs, &list, &k) >= 0)
                for (size_t i = 0; i < k; i++)
                        if (list[i].nodeid == nodeid && list[i].name[0]) {
                                snprintf(buf, size, "%s", list[i].name);
                                free(list);
                                return;
                        }
        free(list);
        snprintf(buf, size, "node%" PRIu32, nodeid);
}

static void add_id(uint32_t **ids, size_t *n, uint32_t id) {
        for (size_t i = 0; i < *n; i++)
                if ((*ids)[i] == id)
                        return;
        *ids = xrealloc(*ids, (*n + 1) * sizeof(**ids));
        (*ids)[(*n)++] = id;
}

static void note_quorum(struct clusterd *c, const struct cs_quorum *q, uint64_t now) {
        struct membership *m = &c->live;
        bool quorate = q && q->known && q->quorate;

        if (q && q->known && !m->known) {
                m->known = true;
                m->quorate = quorate;
                m->quorate_since_usec = now;
                log_notice("Quorum: %s (%" PRIu32 " of %" PRIu32 " expected votes, %" PRIu32 " needed)",
                           quorate ? "quorate" : "not quorate", q->total_votes, q->expected_votes, q->quorum);
                /* Not having quorum yet (a node starting alone) is not losing it. */
                return;
        }
        if (!q || !q->known || quorate == m->quorate)
                return;
        m->quorate = quorate;
        m->quorate_since_usec = now;
        if (quorate)
                log_notice("Quorum regained: %" PRIu32 " of %" PRIu32 " expected votes (%" PRIu32 " needed)",
                           q->total_votes, q->expected_votes, q->quorum);
        else {
                m->quorum_lost_usec = now;
                log_notice("Quorum lost: %" PRIu32 " of %" PRIu32 " expected votes (%" PRIu32
                           " needed); this partition stops changing cluster state",
                           q->total_votes, q->expected_votes, q->quorum);
        }
}

void membership_update(struct clusterd *c) {
        const struct cs_quorum *q = c->cs ? cs_quorum(c->cs) : NULL;
        struct membership *m = &c->live;
        _cleanup_free_ uint32_t *ids = NULL;
        struct db_node *nodes = NULL;
        size_t n_ids = 0, n_nodes = 0;
        uint64_t now = now_realtime_usec();
        char name[64];

        if (!c->cs) {
                /* Without corosync this node sees nothing; forget the view so
                 * that readers fall back to what the database recorded. */
                m->known = false;
                m->n_nodes = 0;
                return;
        }
        for (size_t i = 0; q && i < q->n_members; i++)
                add_id(&ids, &n_ids, q->members[i]);
        if (db_nodes(c->db, &nodes, &n_nodes) >= 0)
                for (size_t i = 0; i < n_nodes; i++)
                        add_id(&ids, &n_ids, nodes[i].nodeid);
        db_nodes_free(nodes, n_nodes);

        struct live_node *next = xcalloc(MAX(n_ids, 1), sizeof(*next));
        for (size_t i = 0; i < n_ids; i++) {
                const struct live_node *old = membership_find(m, ids[i]);
                struct live_node *ln = &next[i];
                bool online = false;
                for (size_t k = 0; q && k < q->n_members; k++)
                        online = online || q->members[k] == ids[i];
                *ln = (struct live_node){ .nodeid = ids[i],
                                          .online = online,
                                          .daemon = repl_in_group(c->repl, ids[i]),
                                          .online_since_usec = now,
                                          .daemon_since_usec = now };
                ln->seen_online = online || (old && old->seen_online);
                ln->offline_mono_usec = online                ? 0
                                        : old && !old->online ? old->offline_mono_usec
                                                              : now_monotonic_usec();
                if (old && old->online == ln->online)
                        ln->online_since_usec = old->online_since_usec;
                if (old && old->daemon == ln->daemon)
                        ln->daemon_since_usec = old->daemon_since_usec;
                if (old && m->known && old->online != ln->online) {
                        membership_node_name(c, ids[i], name, sizeof(name));
                        log_notice("Node '%s' (id %" PRIu32 ") %s corosync's membership", name, ids[i],
                                   online ? "joined" : "left");
                }
        }
        free(m->nodes);
        m->nodes = next;
        m->n_nodes = n_ids;
        note_quorum(c, q, now);
        manager_poke(c);
        executor_poke(c);
}
