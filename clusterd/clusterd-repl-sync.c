/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-repl-sync.c: the sync round of the replication engine (see
 * repl-int.h and docs/replication.md): after a group change the members
 * exchange their states, agree on the newest, and the winner sends it in
 * chunks to those behind; members that do not answer are evicted.
 *
 * Like the rest of the engine it runs on the main loop in delivery order,
 * so every member takes the same decisions (see clusterd-repl.c).
 */
#include "clusterd/log.h"
#include "clusterd/repl-impl-int.h"

#define SNAPSHOT_MAX (512u * 1024 * 1024)

/* ------------------------------------------------------------------------ */
/* Sync                                                                      */

static int cmp_member(const void *a, const void *b) {
        const struct cs_member *x = a, *y = b;
        if (x->nodeid != y->nodeid)
                return x->nodeid < y->nodeid ? -1 : 1;
        return x->pid < y->pid ? -1 : x->pid > y->pid;
}

struct peer *repl_find_peer(struct repl *r, uint32_t nodeid, uint32_t pid) {
        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].nodeid == nodeid && r->peers[i].pid == pid)
                        return &r->peers[i];
        return NULL;
}

static struct peer *my_peer(struct repl *r) {
        return repl_find_peer(r, r->my_nodeid, r->my_pid);
}

static void send_state(struct repl *r) {
        struct msg_state s = { .pos = *db_position(r->db), .schema = DB_SCHEMA_VERSION };
        struct db_cluster c;
        struct msg_buf b = {};

        if (db_get_cluster(r->db, &c) >= 0)
                snprintf(s.uuid, sizeof(s.uuid), "%s", c.uuid);
        msg_begin(&b, MSG_STATE, r->view, r->round);
        msg_put_state(&b, &s);
        msg_end(&b);
        repl_enqueue(r, &b, NULL, 0);
}

static void synced(struct repl *r) {
        uint64_t seq = 0;
        struct peer *me = my_peer(r);

        if (db_origin_seq(r->db, r->my_nodeid, &seq) >= 0)
                r->next_seq = MAX(r->next_seq, seq);
        r->committed = 0;
        if (me)
                me->acked = db_position(r->db)->version;
        /* Everyone confirms the synced state, which restarts commit tracking. */
        repl_send_ack(r);
        repl_update_writable(r);
        repl_resolve_writes(r);
        repl_send_queued(r);
        if (r->cb->status)
                r->cb->status(r->userdata);
}

static void send_snapshot(struct repl *r) {
        _cleanup_free_ void *data = NULL;
        size_t size = 0, chunk, max;
        uint64_t checksum;
        uint32_t count;
        struct err e = {};
        int k;

        k = db_snapshot_create(r->db, &data, &size, &e);
        if (k < 0) {
                repl_fail(r, k, "cannot create a snapshot to send: %s", e.msg);
                return;
        }
        /* Leave room for the header and the chunk's own fields. */
        max = cs_max_message_size(r->cs);
        chunk = max > 4096 ? MIN(max - 1024, (size_t)(256 * 1024)) : 1024;
        count = (uint32_t)MAX((size + chunk - 1) / chunk, 1);
        checksum = siphash24(0, 0, data, size);
        log_info("Sending the cluster state (%zu bytes in %" PRIu32 " chunks)", size, count);
        for (uint32_t i = 0; i < count; i++) {
                struct msg_buf b = {};
                size_t off = (size_t)i * chunk;
                struct msg_chunk c = { .index = i,
                                       .count = count,
                                       .total_size = size,
                                       .checksum = checksum,
                                       .data = (const uint8_t *)data + off,
                                       .size = (uint32_t)MIN(chunk, size - off) };
                msg_begin(&b, MSG_CHUNK, r->view, r->round);
                msg_put_chunk(&b, &c);
                msg_end(&b);
                repl_enqueue(r, &b, NULL, 0);
        }
}

static void decide(struct repl *r) {
        _cleanup_free_ struct sync_member *m = xcalloc(MAX(r->n_peers, 1), sizeof(*m));
        _cleanup_free_ size_t *idx = xcalloc(MAX(r->n_peers, 1), sizeof(size_t));
        struct sync_decision d = {};
        struct peer *me = my_peer(r);
        size_t n = 0;
        int k;

        /* Evicted members take no part in this view any more. */
        for (size_t i = 0; i < r->n_peers; i++) {
                struct peer *p = &r->peers[i];
                if (p->evicted)
                        continue;
                m[n] = (struct sync_member){
                        .nodeid = p->nodeid, .pid = p->pid, .pos = p->st.pos, .schema = p->st.schema
                };
                memcpy(m[n].uuid, p->st.uuid, sizeof(m[n].uuid));
                idx[n++] = i;
        }
        k = sync_decide(m, n, &d);
        if (k == -ENODATA) {
                log_info("Sync: no member holds cluster state yet");
                repl_transition(r, EV_STATES_EQUAL);
                synced(r);
                return;
        }
        r->winner = idx[d.winner];
        for (size_t j = 0; j < n; j++) {
                r->peers[idx[j]].role = d.roles[j];
                r->peers[idx[j]].installed = false;
        }
        log_info("Sync of %zu member(s): %s; %zu must receive it", n, d.reason, d.n_receivers);
        sync_decision_done(&d);

        if (me && me->role == SYNC_EXCLUDED) {
                log_error("This node cannot take part in the group: its database belongs to cluster '%s' (schema "
                          "%" PRIu32 ") but the group's newest state is of cluster '%s' (schema %" PRIu32 ")",
                          me->st.uuid, me->st.schema, r->peers[r->winner].st.uuid, r->peers[r->winner].st.schema);
                repl_transition(r, EV_EXCLUDED);
                if (r->cb->failed)
                        r->cb->failed(r->userdata, -EPROTO, "database of another cluster or schema");
                return;
        }
        if (r->n_peers > 0 && !me)
                return;

        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].role == SYNC_RECEIVE) {
                        repl_transition(r, EV_STATES_DIFFER);
                        if (&r->peers[r->winner] == me)
                                send_snapshot(r);
                        return;
                }
        repl_transition(r, EV_STATES_EQUAL);
        synced(r);
}

/* ------------------------------------------------------------------------ */
/* Members that do not answer                                                */

/* Asks the group to stop waiting for p. Every member acts on the EVICT at
 * the same position in the stream, so they all agree on who is left. */
static void request_eviction(struct repl *r, struct peer *p, const char *why) {
        struct msg_buf b = {};
        char buf[64];

        if (p->evicted || p->evict_sent || p == my_peer(r))
                return;
        p->evict_sent = true;
        log_warning("Node %" PRIu32 " (pid %" PRIu32 ") has not %s for %s; asking the group to stop waiting for it",
                    p->nodeid, p->pid, why, format_duration(buf, sizeof(buf), r->cfg.member_timeout_usec));
        msg_begin(&b, MSG_EVICT, r->view, r->round);
        msg_put_member(&b, p->nodeid, p->pid);
        msg_end(&b);
        repl_enqueue(r, &b, NULL, 0);
}

void repl_check_members(struct repl *r, uint64_t now) {
        struct peer *me = my_peer(r);
        uint64_t waited = now - r->round_start_usec;

        if (!r->cs || !me || r->cfg.member_timeout_usec == 0)
                return;
        if (r->state == REPL_SYNCING && waited > r->cfg.member_timeout_usec) {
                for (size_t i = 0; i < r->n_peers; i++)
                        if (!r->peers[i].have_state && !r->peers[i].evicted)
                                request_eviction(r, &r->peers[i], "sent its state");
                return;
        }
        if (r->state == REPL_TRANSFER) {
                /* Large states take longer: one more timeout per 16 MiB. */
                uint64_t allow = r->cfg.member_timeout_usec * (2 + r->rx.size / (16u << 20));
                if (waited <= allow)
                        return;
                if (me->role == SYNC_RECEIVE && !me->installed)
                        request_eviction(r, &r->peers[r->winner], "sent the cluster state");
                for (size_t i = 0; i < r->n_peers; i++)
                        if (r->peers[i].role == SYNC_RECEIVE && !r->peers[i].installed && !r->peers[i].evicted)
                                request_eviction(r, &r->peers[i], "installed the cluster state");
                return;
        }
        if (r->state != REPL_SYNCED)
                return;
        for (struct write *w = r->writes; w; w = w->next) {
                if (w->state != W_APPLIED || now - w->applied_usec <= r->cfg.member_timeout_usec)
                        continue;
                for (size_t i = 0; i < r->n_peers; i++) {
                        struct peer *p = &r->peers[i];
                        if (p->role != SYNC_EXCLUDED && !p->evicted && p->acked < w->commit_at)
                                request_eviction(r, p, "confirmed a write");
                }
        }
}

void repl_on_evict(struct repl *r, struct peer *from, const uint8_t *body, size_t size) {
        uint32_t nodeid = 0, pid = 0;
        struct peer *p;
        struct err e = {};
        bool was_winner;

        if (msg_decode_member(body, size, &nodeid, &pid, &e) < 0) {
                log_warning("Dropped a malformed eviction from node %" PRIu32 ": %s", from->nodeid, e.msg);
                return;
        }
        p = repl_find_peer(r, nodeid, pid);
        if (!p || p->evicted)
                return;
        if (p == my_peer(r)) {
                repl_fail(r, -ETIMEDOUT,
                          "node %" PRIu32 " gave up waiting for this node (it did not answer in time); rejoining",
                          from->nodeid);
                return;
        }
        was_winner = r->state == REPL_TRANSFER && p == &r->peers[r->winner];
        p->evicted = true;
        p->role = SYNC_EXCLUDED;
        log_notice("Node %" PRIu32 " (pid %" PRIu32 ") is no longer waited for in this view (evicted by node %" PRIu32
                   "); it rejoins when it answers again",
                   p->nodeid, p->pid, from->nodeid);

        switch (r->state) {
        case REPL_SYNCING:
                for (size_t i = 0; i < r->n_peers; i++)
                        if (!r->peers[i].have_state && !r->peers[i].evicted)
                                return;
                decide(r);
                break;
        case REPL_TRANSFER:
                if (was_winner) {
                        free_and_null(r->rx.data);
                        r->rx = (typeof(r->rx)){};
                        repl_transition(r, EV_WINNER_LOST);
                        decide(r);
                        break;
                }
                for (size_t i = 0; i < r->n_peers; i++)
                        if (r->peers[i].role == SYNC_RECEIVE && !r->peers[i].installed)
                                return;
                repl_transition(r, EV_ALL_INSTALLED);
                synced(r);
                break;
        case REPL_SYNCED:
                repl_update_writable(r);
                repl_update_committed(r);
                break;
        default:
                break;
        }
}

static uint64_t view_hash(const struct cs_member *sorted, size_t n) {
        _cleanup_free_ uint32_t *pairs = xcalloc(MAX(n, 1) * 2, sizeof(uint32_t));
        for (size_t i = 0; i < n; i++) {
                pairs[2 * i] = sorted[i].nodeid;
                pairs[2 * i + 1] = sorted[i].pid;
        }
        return siphash24(UINT64_C(0x636c7573746572), n, pairs, n * 2 * sizeof(uint32_t));
}

void repl_group_change(struct repl *r, const struct cs_member *members, size_t n, const struct cs_member *left,
                       size_t n_left) {
        _cleanup_free_ struct cs_member *sorted = xcalloc(MAX(n, 1), sizeof(*sorted));
        bool was_writable = r->writable;

        /* Operations applied so far belong to the old view: make them
         * durable now; confirmations restart after the sync. */
        repl_end_batch(r, false);
        if (r->state == REPL_FAILED || r->state == REPL_DISCONNECTED)
                return;

        memcpy(sorted, members, n * sizeof(*sorted));
        qsort(sorted, n, sizeof(*sorted), cmp_member);
        r->view = view_hash(sorted, n);
        r->round++;
        r->round_start_usec = now_monotonic_usec();
        free(r->peers);
        r->peers = xcalloc(MAX(n, 1), sizeof(*r->peers));
        r->n_peers = n;
        for (size_t i = 0; i < n; i++)
                r->peers[i] = (struct peer){ .nodeid = sorted[i].nodeid, .pid = sorted[i].pid };
        /* Nodes whose corosync left: votequorum must say so too before its
         * verdict counts for this view (see sync_quorum_current). */
        free(r->gone);
        r->gone = xcalloc(MAX(n_left, 1), sizeof(uint32_t));
        r->n_gone = 0;
        for (size_t i = 0; i < n_left; i++)
                if (left[i].reason == CS_REASON_NODEDOWN)
                        r->gone[r->n_gone++] = left[i].nodeid;
        free_and_null(r->rx.data);
        r->rx = (typeof(r->rx)){};
        r->committed = 0;
        repl_drop_out(r);

        repl_transition(r, EV_GROUP_CHANGED);
        r->writable = false;
        if (was_writable)
                log_info("Cluster database is read-only while the members sync");
        if (!my_peer(r)) {
                log_debug("Group change without this process in it; waiting for the next one");
                return;
        }
        send_state(r);
        if (r->cb->status)
                r->cb->status(r->userdata);
}

void repl_on_state(struct repl *r, struct peer *p, const struct msg_header *h, const uint8_t *body, size_t size) {
        struct err e = {};
        if (msg_decode_state(body, size, &p->st, &e) < 0) {
                log_warning("Dropped a malformed state message from node %" PRIu32 ": %s", p->nodeid, e.msg);
                return;
        }
        if (p->evicted)
                return;
        p->have_state = true;
        p->round = h->round;
        if (r->state != REPL_SYNCING)
                return;
        for (size_t i = 0; i < r->n_peers; i++)
                if (!r->peers[i].have_state && !r->peers[i].evicted)
                        return;
        decide(r);
}

static void install_received(struct repl *r) {
        struct err e = {};
        uint64_t sum = siphash24(0, 0, r->rx.data, r->rx.size);
        int k;

        if (sum != r->rx.checksum) {
                repl_fail(r, -EBADMSG, "the received cluster state does not match its checksum");
                return;
        }
        k = db_snapshot_install(r->db, r->rx.data, r->rx.size, &e);
        free_and_null(r->rx.data);
        if (k < 0) {
                repl_fail(r, k, "cannot install the received cluster state: %s", e.msg);
                return;
        }
        log_notice("Installed the cluster state from node %" PRIu32 " (epoch %" PRIu64 ", version %" PRIu64 ")",
                   r->peers[r->winner].nodeid, db_position(r->db)->epoch, db_position(r->db)->version);
        if (r->cb->changed)
                r->cb->changed(r->userdata, REPL_CHANGED_ALL);
        repl_send_simple(r, MSG_INSTALLED, db_position(r->db)->version);
}

void repl_on_chunk(struct repl *r, struct peer *p, const uint8_t *body, size_t size) {
        struct peer *me = my_peer(r);
        struct msg_chunk c;
        struct err e = {};

        if (msg_decode_chunk(body, size, &c, &e) < 0) {
                repl_fail(r, -EBADMSG, "malformed state chunk from node %" PRIu32 ": %s", p->nodeid, e.msg);
                return;
        }
        if (!me || me->role != SYNC_RECEIVE)
                return;
        if (c.index == 0) {
                if (c.total_size > SNAPSHOT_MAX) {
                        repl_fail(r, -EFBIG, "the cluster state offered is %" PRIu64 " bytes, more than %u",
                                  c.total_size, SNAPSHOT_MAX);
                        return;
                }
                free(r->rx.data);
                r->rx.data = xmalloc(MAX(c.total_size, 1));
                r->rx.size = c.total_size;
                r->rx.filled = 0;
                r->rx.count = c.count;
                r->rx.next = 0;
                r->rx.checksum = c.checksum;
        }
        if (!r->rx.data || c.index != r->rx.next || c.count != r->rx.count || c.total_size != r->rx.size ||
            c.checksum != r->rx.checksum || r->rx.filled + c.size > r->rx.size) {
                repl_fail(r, -EBADMSG, "state chunk %" PRIu32 "/%" PRIu32 " from node %" PRIu32 " is out of order",
                          c.index, c.count, p->nodeid);
                return;
        }
        memcpy(r->rx.data + r->rx.filled, c.data, c.size);
        r->rx.filled += c.size;
        r->rx.next++;
        if (r->rx.next < r->rx.count)
                return;
        if (r->rx.filled != r->rx.size) {
                repl_fail(r, -EBADMSG, "the received cluster state is %" PRIu64 " bytes, %" PRIu64 " announced",
                          r->rx.filled, r->rx.size);
                return;
        }
        install_received(r);
}

void repl_on_installed(struct repl *r, struct peer *p) {
        p->installed = true;
        /* It now holds the winner's state: if the sync has to be decided
         * again (the winner evicted), it must count with that state. */
        p->st = r->peers[r->winner].st;
        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].role == SYNC_RECEIVE && !r->peers[i].installed)
                        return;
        repl_transition(r, EV_ALL_INSTALLED);
        synced(r);
}
