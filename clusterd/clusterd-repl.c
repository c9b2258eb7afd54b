/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-repl.c: the replication engine (see repl-int.h and
 * docs/replication.md).
 *
 * Everything here runs on the main loop, driven by corosync callbacks in
 * delivery order. Because every member sees the same messages and group
 * changes in the same order (CPG's virtual synchrony), every decision that
 * depends only on delivered messages is the same on every member: who won
 * the sync, when the sync ended, which operations were applied. Decisions
 * that depend on local timing (quorum notifications, timeouts) only ever
 * decide whether *this* node sends something.
 */
#include <poll.h>
#include <stdlib.h>
#include <sys/eventfd.h>

#include "clusterd/log.h"
#include "clusterd/repl-impl-int.h"

#define TICK_USEC (100 * USEC_PER_MSEC)
#define RETRY_USEC (2 * USEC_PER_MSEC)
/* Confirmations are coalesced: at most one per node per interval under load
 * (each costs a CPG message, and corosync's CPU is what limits writes), yet
 * the first after a quiet spell goes at once, so an idle write waits for no
 * timer. */
#define ACK_INTERVAL_USEC (1 * USEC_PER_MSEC)

static const char *const state_names[_REPL_STATE_MAX] = {
        [REPL_DISCONNECTED] = "disconnected",
        [REPL_SYNCING] = "syncing",
        [REPL_TRANSFER] = "transfer",
        [REPL_SYNCED] = "synced",
        [REPL_FAILED] = "failed",
};

const char *repl_state_to_string(enum repl_state s) {
        return s < _REPL_STATE_MAX ? state_names[s] : "unknown";
}

static const char *event_to_string(enum repl_event ev) {
        switch (ev) {
        case EV_CONNECTED:
                return "connected";
        case EV_GROUP_CHANGED:
                return "group changed";
        case EV_STATES_DIFFER:
                return "states differ";
        case EV_STATES_EQUAL:
                return "states equal";
        case EV_ALL_INSTALLED:
                return "all installed";
        case EV_WINNER_LOST:
                return "winner evicted";
        case EV_EXCLUDED:
                return "excluded";
        case EV_DB_FAILED:
                return "database failed";
        case EV_DISCONNECTED:
                return "disconnected";
        }
        return "unknown";
}

static enum repl_state next_state(enum repl_state s, enum repl_event ev) {
        switch (ev) {
        case EV_DISCONNECTED:
                return REPL_DISCONNECTED;
        case EV_DB_FAILED:
        case EV_EXCLUDED:
                return REPL_FAILED;
        case EV_CONNECTED:
        case EV_GROUP_CHANGED:
                return s == REPL_FAILED ? REPL_FAILED : REPL_SYNCING;
        case EV_STATES_DIFFER:
                return s == REPL_SYNCING ? REPL_TRANSFER : s;
        case EV_STATES_EQUAL:
                return s == REPL_SYNCING ? REPL_SYNCED : s;
        case EV_ALL_INSTALLED:
                return s == REPL_TRANSFER ? REPL_SYNCED : s;
        case EV_WINNER_LOST:
                return s == REPL_TRANSFER ? REPL_SYNCING : s;
        }
        return s;
}

void repl_transition(struct repl *r, enum repl_event ev) {
        enum repl_state to = next_state(r->state, ev);
        int level = to == REPL_SYNCED || to == REPL_FAILED ? LOG_NOTICE : LOG_INFO;

        if (to == r->state) {
                log_debug("Replication stays %s (%s)", state_names[to], event_to_string(ev));
                return;
        }
        qb_log(level, "Replication: %s -> %s (%s)", state_names[r->state], state_names[to], event_to_string(ev));
        r->state = to;
}

/* ------------------------------------------------------------------------ */
/* Outbound messages                                                         */

static void outmsg_free(struct outmsg *m) {
        msg_buf_done(&m->buf);
        free(m->ws);
        free(m);
}

static void flush_out(struct repl *r);

static void retry_cb(void *data) {
        struct repl *r = data;
        r->retry_armed = false;
        flush_out(r);
}

static void flush_out(struct repl *r) {
        while (r->out && r->cs) {
                struct outmsg *m = r->out;
                int e = cs_mcast(r->cs, m->buf.data, m->buf.size);
                if (e == -EAGAIN) {
                        /* corosync's flow control: try again shortly, keeping order. */
                        if (!r->retry_armed && qb_loop_timer_add(r->loop, QB_LOOP_HIGH, RETRY_USEC * NSEC_PER_USEC, r,
                                                                 retry_cb, &r->retry_timer) == 0)
                                r->retry_armed = true;
                        return;
                }
                if (e == -EMSGSIZE) {
                        /* Cannot happen with ops within their limits; never
                         * let one message block the queue. Its writes time out. */
                        log_error("Dropped a %zu byte message larger than corosync takes", m->buf.size);
                } else if (e < 0) {
                        /* The lost callback follows; the write stays pending. */
                        log_warning_errno(e, "Failed to send a %zu byte message to the group: %m", m->buf.size);
                        return;
                }
                r->out = m->next;
                if (!r->out)
                        r->out_tail = NULL;
                outmsg_free(m);
        }
}

/* Queues a message (taking b's buffer) with the writes it carries (taking
 * the ws array, may be NULL). */
void repl_enqueue(struct repl *r, struct msg_buf *b, struct write **ws, size_t n_ws) {
        struct outmsg *m = xcalloc(1, sizeof(*m));
        m->buf = *b;
        *b = (struct msg_buf){};
        m->ws = ws;
        m->n_ws = n_ws;
        if (r->out_tail)
                r->out_tail->next = m;
        else
                r->out = m;
        r->out_tail = m;
        flush_out(r);
}

/* Drops messages that were not handed to corosync yet: after a group change
 * they would be stale. Writes they carried go back to the queue. */
void repl_drop_out(struct repl *r) {
        while (r->out) {
                struct outmsg *m = r->out;
                r->out = m->next;
                for (size_t i = 0; i < m->n_ws; i++)
                        if (m->ws[i] && m->ws[i]->state == W_SENT)
                                m->ws[i]->state = W_QUEUED;
                outmsg_free(m);
        }
        r->out_tail = NULL;
}

void repl_send_simple(struct repl *r, enum msg_type type, uint64_t value) {
        struct msg_buf b = {};
        msg_begin(&b, type, r->view, r->round);
        msg_buf_put_le(&b, value, 8);
        msg_end(&b);
        repl_enqueue(r, &b, NULL, 0);
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */

static void complete(struct repl *r, struct write *w, int error, const char *fmt, ...) _printf_(4, 5);
static void complete(struct repl *r, struct write *w, int error, const char *fmt, ...) {
        char msg[512] = "";
        va_list ap;

        /* Unlink first: the callback may submit new writes. */
        for (struct write **p = &r->writes; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        r->n_writes--;
        for (struct outmsg *m = r->out; m; m = m->next)
                for (size_t i = 0; i < m->n_ws; i++)
                        if (m->ws[i] == w)
                                m->ws[i] = NULL;

        if (fmt) {
                va_start(ap, fmt);
                vsnprintf(msg, sizeof(msg), fmt, ap);
                va_end(ap);
        }
        if (w->done)
                w->done(w->userdata, error, &w->res, error == 0 ? w->res.message : msg);
        op_done(&w->op);
        free(w);
}

/* Sends every queued write, as few messages as fit: one batch per message
 * (see msg_ops_begin()), each op numbered in order. */
void repl_send_queued(struct repl *r) {
        size_t max = r->cs ? cs_max_message_size(r->cs) : 0;
        struct write *w = r->writes;

        if (!r->writable || !r->cs)
                return;
        while (w) {
                struct msg_buf b = {};
                struct write **ws = NULL;
                size_t n = 0, at;

                for (; w && w->state != W_QUEUED; w = w->next)
                        ;
                if (!w)
                        break;
                msg_begin(&b, MSG_OP, r->view, r->round);
                at = msg_ops_begin(&b);
                for (; w; w = w->next) {
                        size_t before = b.size;
                        struct err e = {};

                        if (w->state != W_QUEUED)
                                continue;
                        w->op.epoch = db_position(r->db)->epoch;
                        w->op.origin_seq = r->next_seq + 1;
                        if (msg_ops_add(&b, at, &w->op, &e) < 0) {
                                /* Full; repl_submit validated every op. */
                                if (n == 0)
                                        log_error("Cannot encode a %s operation: %s", op_kind_to_string(w->op.kind),
                                                  e.msg);
                                if (n > 0)
                                        break;
                                w->state = W_SENT; /* never sendable: let it time out */
                                continue;
                        }
                        if (n > 0 && b.size + 64 > max) {
                                /* Over the size CPG takes at once: next message. */
                                b.size = before;
                                uint32_t count = (uint32_t)n;
                                for (size_t i = 0; i < 4; i++)
                                        b.data[at + i] = (uint8_t)(count >> (8 * i));
                                break;
                        }
                        r->next_seq++;
                        w->state = W_SENT;
                        w->sent_round = r->round;
                        ws = xrealloc(ws, (n + 1) * sizeof(*ws));
                        ws[n++] = w;
                }
                if (n == 0) {
                        msg_buf_done(&b);
                        free(ws);
                        continue;
                }
                msg_end(&b);
                log_debug("Sending %zu operation(s), origin sequence %" PRIu64 "..%" PRIu64 " (view %016" PRIx64
                          ", round %" PRIu32 ")",
                          n, ws[0]->op.origin_seq, ws[n - 1]->op.origin_seq, r->view, r->round);
                repl_enqueue(r, &b, ws, n);
        }
}

/* Writes submitted while handling one loop iteration's events (say, every
 * request one MHD run parsed) leave together, on the next iteration. An
 * eventfd wakes the loop for it: libqb does not shorten its poll for jobs. */
static void flush_soon(struct repl *r) {
        uint64_t one = 1;
        if (r->flush_armed)
                return;
        r->flush_armed = true;
        (void)!write(r->wake_fd, &one, sizeof(one));
}

static int32_t wake_cb(int32_t fd, int32_t revents, void *data) {
        struct repl *r = data;
        uint64_t n;

        (void)!read(fd, &n, sizeof(n));
        r->flush_armed = false;
        repl_send_queued(r);
        return 0;
}

/* After a sync round: a write that was sent before the membership changed
 * is in the cluster's state or not, and a writable partition's state is
 * final in that respect (docs/replication.md, "Writes across membership
 * changes"). Without quorum nothing is final yet: they wait. */
void repl_resolve_writes(struct repl *r) {
        uint64_t applied_seq = 0;
        struct write *w, *next;

        if (!r->writable)
                return;
        if (db_origin_seq(r->db, r->my_nodeid, &applied_seq) < 0)
                return;
        for (w = r->writes; w; w = next) {
                next = w->next;
                /* Writes sent in this view are in flight normally. */
                if (w->state == W_QUEUED || w->sent_round == r->round)
                        continue;
                if (w->op.origin_seq > applied_seq) {
                        complete(r, w, -ECANCELED,
                                 "the membership changed before the write was committed, and the cluster's state does "
                                 "not contain it: nothing was written, it is safe to retry");
                        continue;
                }
                if (w->state == W_SENT) {
                        /* Applied as part of a snapshot: recover how it ended. */
                        _cleanup_free_ char *message = NULL;
                        int code;
                        w->res = (struct op_result){ .version = db_position(r->db)->version };
                        if (db_refusal(r->db, r->my_nodeid, w->op.origin_seq, &code, &message) >= 0) {
                                w->res.r = code;
                                snprintf(w->res.message, sizeof(w->res.message), "%s", message);
                        }
                        w->state = W_APPLIED;
                        w->applied_usec = now_monotonic_usec();
                }
                /* Every replica holds the synced state once it confirms it. */
                w->commit_at = MIN(w->commit_at ? w->commit_at : UINT64_MAX, db_position(r->db)->version);
        }
}

/* Whether this partition can write only thanks to the witness's vote: its
 * replicas alone are short of the quorum. Then the witness is one more
 * replica: a write is committed once every replica confirmed it and the
 * witness record holds its version, so that no partition with a database
 * that lacks it can take the witness (docs/witness.md, "The partition in
 * time"). Versions compare like the record's positions here: a holder's
 * writes always have higher versions than the record it took. */
static bool needs_witness(struct repl *r) {
        const struct cs_quorum *q = r->cs ? cs_quorum(r->cs) : NULL;
        return q && q->known && repl_replica_votes(r) < q->quorum;
}

/* Completes the writes that are committed now. */
static void complete_committed(struct repl *r) {
        uint64_t c = r->committed;
        struct write *w, *next;

        if (!r->writable || r->state != REPL_SYNCED)
                return;
        if (needs_witness(r))
                c = MIN(c, r->witness_version);
        for (w = r->writes; w; w = next) {
                next = w->next;
                if (w->state == W_APPLIED && w->commit_at <= c)
                        complete(r, w, 0, NULL);
        }
}

void repl_update_committed(struct repl *r) {
        uint64_t c = UINT64_MAX;

        if (r->state != REPL_SYNCED || r->n_peers == 0)
                return;
        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].role != SYNC_EXCLUDED)
                        c = MIN(c, r->peers[i].acked);
        if (c == UINT64_MAX || c <= r->committed)
                return;
        r->committed = c;
        complete_committed(r);
}

void repl_witness_holds(struct repl *r, uint64_t version) {
        if (version <= r->witness_version)
                return;
        r->witness_version = version;
        complete_committed(r);
}

static void tick_cb(void *data) {
        struct repl *r = data;
        uint64_t now = now_monotonic_usec();
        struct write *w, *next;
        char state[64];

        snprintf(state, sizeof(state), "%s%s", state_names[r->state],
                 r->state == REPL_SYNCED && !r->writable ? ", not quorate" : "");
        for (w = r->writes; w; w = next) {
                next = w->next;
                if (w->deadline_usec > now)
                        continue;
                if (w->state == W_QUEUED)
                        complete(r, w, -ETIME,
                                 "the write could not be sent within the write timeout (replication is %s): nothing "
                                 "was written",
                                 state);
                else
                        complete(r, w, -ETIMEDOUT,
                                 "the write was sent but not confirmed by every member within the write timeout "
                                 "(replication is %s): it may or may not have been applied",
                                 state);
        }
        repl_check_members(r, now);
        (void)qb_loop_timer_add(r->loop, QB_LOOP_LOW, TICK_USEC * NSEC_PER_USEC, r, tick_cb, &r->tick_timer);
}

int repl_submit(struct repl *r, struct op *op, repl_done_fn done, void *userdata, uint64_t *ret_id, struct err *e) {
        struct msg_buf probe = {};
        struct write *w;
        int k;

        /* Validate now, so that a bad op is refused to the client and
         * never fails later in repl_send_queued(). */
        k = msg_put_op(&probe, op, e);
        msg_buf_done(&probe);
        if (k < 0)
                return k;
        if (!r->cs || r->state == REPL_DISCONNECTED)
                return err_set(e, -ENOTCONN, "this node is not connected to corosync: nothing was written");
        if (r->state == REPL_FAILED)
                return err_set(e, -ENOTCONN,
                               "this node's database copy failed and it left the group: nothing was "
                               "written (see its log)");
        if (r->state == REPL_SYNCED && !r->writable) {
                const struct cs_quorum *q = cs_quorum(r->cs);
                if (db_position(r->db)->version == 0)
                        return err_set(e, -ENODATA,
                                       "this node has not received the cluster's state yet: nothing "
                                       "was written");
                return err_set(e, -ENOLINK,
                               "this node's partition is not quorate (%s; its replicas hold %" PRIu32 " of the %" PRIu32
                               " votes needed): writes are refused",
                               q->quorate ? "corosync: quorate" : "corosync: not quorate", repl_replica_votes(r),
                               q->quorum);
        }
        if (r->n_writes >= r->cfg.max_pending)
                return err_set(e, -EAGAIN, "too many writes pending on this node (%zu): nothing was written",
                               r->n_writes);

        w = xcalloc(1, sizeof(*w));
        w->id = ++r->next_write_id;
        w->op = *op;
        *op = (struct op){};
        w->deadline_usec = now_monotonic_usec() + r->cfg.write_timeout_usec;
        w->done = done;
        w->userdata = userdata;
        struct write **tail = &r->writes;
        while (*tail)
                tail = &(*tail)->next;
        *tail = w;
        r->n_writes++;
        if (ret_id)
                *ret_id = w->id;
        flush_soon(r);
        return 0;
}

void repl_forget(struct repl *r, uint64_t id) {
        for (struct write *w = r->writes; w; w = w->next)
                if (w->id == id) {
                        w->done = NULL;
                        w->userdata = NULL;
                        return;
                }
}

/* ------------------------------------------------------------------------ */
/* Quorum and writability                                                    */

uint32_t repl_replica_votes(struct repl *r) {
        uint32_t votes = 0, last = 0;
        if (!r->cs)
                return 0;
        /* Peers are sorted by node id; count each node once. The witness's
         * vote, when this partition holds it, is added by the caller: the
         * witness record carries the database position it vouches for
         * (docs/witness.md, "The partition in time"). */
        for (size_t i = 0; i < r->n_peers; i++) {
                if (r->peers[i].role == SYNC_EXCLUDED || r->peers[i].nodeid == last)
                        continue;
                last = r->peers[i].nodeid;
                votes += cs_node_votes(r->cs, r->peers[i].nodeid);
        }
        return votes;
}

static bool quorum_current(struct repl *r, const struct cs_quorum *q) {
        _cleanup_free_ uint32_t *nodes = xcalloc(MAX(r->n_peers, 1), sizeof(uint32_t));
        size_t n = 0;
        for (size_t i = 0; i < r->n_peers; i++)
                nodes[n++] = r->peers[i].nodeid;
        return sync_quorum_current(nodes, n, r->gone, r->n_gone, q->members, q->n_members);
}

void repl_update_writable(struct repl *r) {
        const struct cs_quorum *q = r->cs ? cs_quorum(r->cs) : NULL;
        bool w = q && q->known && r->state == REPL_SYNCED && db_position(r->db)->version > 0 &&
                 sync_may_write(q->quorate, q->quorum, repl_replica_votes(r) + cs_device_votes(r->cs)) &&
                 quorum_current(r, q);
        int e;

        /* The epoch records the newest quorate ring whose members agreed on
         * this state; it is what lets a later sync prefer it over any state
         * a minority kept (docs/replication.md, "Epochs"). */
        if (w && q->ring_seq > db_position(r->db)->epoch) {
                e = db_raise_epoch(r->db, q->ring_seq);
                if (e < 0) {
                        repl_fail(r, e, "cannot record epoch %" PRIu64 ": %s", q->ring_seq, db_last_error(r->db));
                        return;
                }
        }
        if (w == r->writable) {
                /* Replicas that came or went may decide whether writes
                 * wait for the witness. */
                complete_committed(r);
                return;
        }
        r->writable = w;
        if (w)
                log_notice("Cluster database is writable (epoch %" PRIu64 ", version %" PRIu64 ", %zu replicas)",
                           db_position(r->db)->epoch, db_position(r->db)->version, r->n_peers);
        else
                log_notice("Cluster database is read-only (%s)",
                           r->state != REPL_SYNCED          ? state_names[r->state]
                           : !q || !q->known || !q->quorate ? "partition not quorate"
                           : !quorum_current(r, q) ? "waiting for corosync's quorum verdict on the new membership"
                                                   : "too few replicas for quorum");
        if (w) {
                repl_resolve_writes(r);
                repl_send_queued(r);
                complete_committed(r);
        }
        if (r->cb->status)
                r->cb->status(r->userdata);
}

void repl_quorum_change(struct repl *r) {
        repl_update_writable(r);
        if (r->cb->status)
                r->cb->status(r->userdata);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */

void repl_send_ack(struct repl *r) {
        uint64_t v = db_position(r->db)->version;
        r->last_ack_usec = now_monotonic_usec();
        r->acked_sent = v;
        repl_send_simple(r, MSG_ACK, v);
}

static void ack_timer_cb(void *data) {
        struct repl *r = data;
        r->ack_armed = false;
        if (r->state == REPL_SYNCED && r->cs && db_position(r->db)->version > r->acked_sent)
                repl_send_ack(r);
}

static void ack_soon(struct repl *r) {
        uint64_t now = now_monotonic_usec();

        if (now - r->last_ack_usec >= ACK_INTERVAL_USEC) {
                repl_send_ack(r);
                return;
        }
        if (!r->ack_armed &&
            qb_loop_timer_add(r->loop, QB_LOOP_HIGH, (r->last_ack_usec + ACK_INTERVAL_USEC - now) * NSEC_PER_USEC, r,
                              ack_timer_cb, &r->ack_timer) == 0)
                r->ack_armed = true;
}

void repl_end_batch(struct repl *r, bool ack) {
        int e;

        if (!r->in_batch)
                return;
        r->in_batch = false;
        e = db_commit(r->db);
        if (e < 0) {
                repl_fail(r, e, "cannot commit applied operations: %s", db_last_error(r->db));
                return;
        }
        if (r->changed && r->cb->changed)
                r->cb->changed(r->userdata, r->changed);
        r->changed = 0;
        if (ack && r->state == REPL_SYNCED)
                ack_soon(r);
}

void repl_dispatch_done(struct repl *r) {
        repl_end_batch(r, true);
}

void repl_fail(struct repl *r, int error, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_err_errno(error, "Replication failed: %s", msg);
        if (r->in_batch) {
                r->in_batch = false;
                db_rollback(r->db);
        }
        repl_drop_out(r);
        repl_transition(r, EV_DB_FAILED);
        r->writable = false;
        if (r->cb->failed)
                r->cb->failed(r->userdata, error, msg);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

static unsigned changed_mask(enum op_kind k) {
        switch (k) {
        case OP_SETTING_SET:
        case OP_SETTING_UNSET:
                return REPL_CHANGED_SETTINGS;
        case OP_NODE_ADD:
        case OP_NODE_REMOVE:
        case OP_NODE_STATE:
        case OP_NODE_VOTE:
        case OP_JOIN_TOKEN:
                return REPL_CHANGED_NODES;
        case OP_TOKEN_CREATE:
        case OP_TOKEN_DELETE:
                return REPL_CHANGED_TOKENS;
        case OP_ROLE_PUT:
        case OP_ROLE_DELETE:
        case OP_ROLE_ADMIN:
        case OP_ROLE_PLACE:
        case OP_ROLE_STATUS:
        case OP_NODE_PROPS:
        case OP_NODE_PAUSE:
        case OP_NODE_FENCED:
        case OP_NODE_FENCE_SET:
                return REPL_CHANGED_ROLES;
        default:
                return 0;
        }
}

/* Applies one operation of a batch (already decoded) at the next version. */
static int apply_one(struct repl *r, struct peer *p, struct op *op, const uint8_t *raw, size_t raw_size) {
        struct op_result res;
        int k;

        if (!r->in_batch) {
                k = db_begin(r->db);
                if (k < 0) {
                        repl_fail(r, k, "cannot start a transaction: %s", db_last_error(r->db));
                        return k;
                }
                r->in_batch = true;
        }
        k = db_apply_op(r->db, p->nodeid, op, raw, raw_size, &res);
        if (k < 0) {
                repl_fail(r, k, "cannot apply a %s operation: %s", op_kind_to_string(op->kind), db_last_error(r->db));
                return k;
        }
        r->changed |= changed_mask(op->kind) | REPL_CHANGED_POSITION;
        if (res.r < 0)
                log_info("Operation %s from node %" PRIu32 " refused: %s", op_kind_to_string(op->kind), p->nodeid,
                         res.message);
        else
                log_trace("Applied %s from node %" PRIu32 " at version %" PRIu64, op_kind_to_string(op->kind),
                          p->nodeid, res.version);

        if (p->nodeid == r->my_nodeid && p->pid == r->my_pid)
                for (struct write *w = r->writes; w; w = w->next)
                        if (w->state == W_SENT && w->op.origin_seq == op->origin_seq) {
                                w->state = W_APPLIED;
                                w->res = res;
                                w->commit_at = res.version;
                                w->applied_usec = now_monotonic_usec();
                                /* A refusal is the same everywhere: no need to wait. */
                                if (res.r < 0)
                                        complete(r, w, 0, NULL);
                                break;
                        }
        return 0;
}

static void on_op(struct repl *r, struct peer *p, const uint8_t *body, size_t size) {
        struct msg_ops_reader it;
        struct {
                struct op op;
                const uint8_t *raw;
                size_t size;
        } *batch = NULL;
        size_t n = 0;
        struct err e = {};
        int k;

        /* Every member decodes the same bytes, so every member drops the
         * same malformed batch, whole, and versions stay aligned. */
        k = msg_ops_open(body, size, &it, &e);
        if (k >= 0)
                batch = xcalloc(it.left, sizeof(*batch));
        while (k >= 0) {
                const uint8_t *raw;
                size_t raw_size;
                k = msg_ops_next(&it, &raw, &raw_size, &e);
                if (k <= 0)
                        break;
                k = msg_decode_op(raw, raw_size, &batch[n].op, &e);
                if (k < 0)
                        break;
                batch[n].raw = raw;
                batch[n++].size = raw_size;
        }
        if (k < 0)
                log_warning("Dropped a malformed batch of operations from node %" PRIu32 ": %s", p->nodeid, e.msg);
        for (size_t i = 0; k >= 0 && i < n && r->state == REPL_SYNCED; i++)
                if (apply_one(r, p, &batch[i].op, batch[i].raw, batch[i].size) < 0)
                        break;
        for (size_t i = 0; i < n; i++)
                op_done(&batch[i].op);
        free(batch);
}

static void on_ack(struct repl *r, struct peer *p, const uint8_t *body, size_t size) {
        struct err e = {};
        uint64_t v;
        if (msg_decode_u64(body, size, &v, &e) < 0) {
                log_warning("Dropped a malformed confirmation from node %" PRIu32 ": %s", p->nodeid, e.msg);
                return;
        }
        p->acked = MAX(p->acked, v);
        repl_update_committed(r);
}

void repl_deliver(struct repl *r, uint32_t nodeid, uint32_t pid, const void *msg, size_t size) {
        struct msg_header h;
        const uint8_t *body;
        struct peer *p;
        struct err e = {};
        size_t body_size;

        if (msg_decode_header(msg, size, &h, &body, &body_size, &e) < 0) {
                log_warning("Dropped a malformed message from node %" PRIu32 ": %s", nodeid, e.msg);
                return;
        }
        if (h.view != r->view || r->state == REPL_FAILED || r->state == REPL_DISCONNECTED) {
                qb_log(h.type == MSG_OP ? LOG_DEBUG : LOG_TRACE,
                       "Dropped a %s message of another view from node %" PRIu32 " (view %016" PRIx64
                       ", this node is in %016" PRIx64 ", %s)",
                       msg_type_to_string(h.type), nodeid, h.view, r->view, state_names[r->state]);
                return;
        }
        p = repl_find_peer(r, nodeid, pid);
        if (!p) {
                log_debug("Dropped a %s message from node %" PRIu32 " pid %" PRIu32 ", which is not in the view",
                          msg_type_to_string(h.type), nodeid, pid);
                return;
        }
        if (h.type == MSG_STATE)
                return repl_on_state(r, p, &h, body, body_size);
        /* Everything else must come from the sender's state round of this
         * view, and not from a member the group stopped waiting for. */
        if (!p->have_state || h.round != p->round || p->evicted) {
                qb_log(h.type == MSG_OP ? LOG_DEBUG : LOG_TRACE,
                       "Dropped a stale %s message from node %" PRIu32 " (round %" PRIu32 ", expected %" PRIu32 "%s%s)",
                       msg_type_to_string(h.type), nodeid, h.round, p->round, p->have_state ? "" : ", no state yet",
                       p->evicted ? ", evicted" : "");
                return;
        }
        switch (h.type) {
        case MSG_CHUNK:
                if (r->state == REPL_TRANSFER && p == &r->peers[r->winner])
                        repl_on_chunk(r, p, body, body_size);
                break;
        case MSG_INSTALLED:
                if (r->state == REPL_TRANSFER)
                        repl_on_installed(r, p);
                break;
        case MSG_OP:
                if (r->state == REPL_SYNCED && p->role != SYNC_EXCLUDED)
                        on_op(r, p, body, body_size);
                else
                        log_debug("Dropped operations from node %" PRIu32 " (replication is %s%s)", nodeid,
                                  state_names[r->state], p->role == SYNC_EXCLUDED ? ", sender excluded" : "");
                break;
        case MSG_ACK:
                if (r->state == REPL_SYNCED)
                        on_ack(r, p, body, body_size);
                break;
        case MSG_EVICT:
                if (!p->evicted)
                        repl_on_evict(r, p, body, body_size);
                break;
        default:
                break;
        }
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */

int repl_new(qb_loop_t *loop, struct db *db, const struct repl_config *cfg, const struct repl_callbacks *cb,
             void *userdata, struct repl **ret) {
        struct repl *r = xcalloc(1, sizeof(*r));
        *r = (struct repl){ .loop = loop,
                            .db = db,
                            .cfg = *cfg,
                            .cb = cb,
                            .userdata = userdata,
                            .state = REPL_DISCONNECTED,
                            .my_pid = (uint32_t)getpid() };
        r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (r->wake_fd == -1) {
                int k = -errno;
                free(r);
                return k;
        }
        int k = qb_loop_poll_add(loop, QB_LOOP_HIGH, r->wake_fd, POLLIN, r, wake_cb);
        if (k >= 0)
                k = qb_loop_timer_add(loop, QB_LOOP_LOW, TICK_USEC * NSEC_PER_USEC, r, tick_cb, &r->tick_timer);
        if (k < 0) {
                qb_loop_poll_del(loop, r->wake_fd);
                safe_close(r->wake_fd);
                free(r);
                return k;
        }
        *ret = r;
        return 0;
}

void repl_set_config(struct repl *r, const struct repl_config *cfg) {
        r->cfg = *cfg;
}

void repl_attach(struct repl *r, struct cs *cs) {
        r->cs = cs;
        r->my_nodeid = cs_local_nodeid(cs);
        r->state = REPL_DISCONNECTED;
        repl_transition(r, EV_CONNECTED);
}

void repl_detach(struct repl *r) {
        repl_end_batch(r, false);
        repl_drop_out(r);
        if (r->retry_armed) {
                qb_loop_timer_del(r->loop, r->retry_timer);
                r->retry_armed = false;
        }
        if (r->ack_armed) {
                qb_loop_timer_del(r->loop, r->ack_timer);
                r->ack_armed = false;
        }
        r->cs = NULL;
        free_and_null(r->peers);
        r->n_peers = 0;
        free_and_null(r->gone);
        r->n_gone = 0;
        free_and_null(r->rx.data);
        r->writable = false;
        repl_transition(r, EV_DISCONNECTED);
        if (r->cb->status)
                r->cb->status(r->userdata);
}

struct repl *repl_free(struct repl *r) {
        if (!r)
                return NULL;
        repl_end_batch(r, false);
        while (r->writes)
                complete(r, r->writes, r->writes->state == W_QUEUED ? -ENOTCONN : -ESHUTDOWN,
                         "clusterd is stopping: %s",
                         r->writes->state == W_QUEUED ? "nothing was written" : "the write may or may not be applied");
        repl_drop_out(r);
        if (r->retry_armed)
                qb_loop_timer_del(r->loop, r->retry_timer);
        if (r->ack_armed)
                qb_loop_timer_del(r->loop, r->ack_timer);
        qb_loop_timer_del(r->loop, r->tick_timer);
        qb_loop_poll_del(r->loop, r->wake_fd);
        safe_close(r->wake_fd);
        free(r->peers);
        free(r->gone);
        free(r->rx.data);
        free(r);
        return NULL;
}

enum repl_state repl_state(struct repl *r) {
        return r->state;
}

bool repl_writable(struct repl *r) {
        return r->writable;
}

uint64_t repl_committed(struct repl *r) {
        return r->committed;
}

size_t repl_replicas(struct repl *r, uint32_t *ret, size_t max) {
        size_t n = 0;
        if (r->state != REPL_SYNCED)
                return 0;
        for (size_t i = 0; i < r->n_peers && n < max; i++)
                if (r->peers[i].role != SYNC_EXCLUDED && (n == 0 || ret[n - 1] != r->peers[i].nodeid))
                        ret[n++] = r->peers[i].nodeid;
        return n;
}

bool repl_in_group(struct repl *r, uint32_t nodeid) {
        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].nodeid == nodeid)
                        return true;
        return false;
}

uint32_t repl_leader(struct repl *r) {
        if (!r->writable)
                return 0;
        for (size_t i = 0; i < r->n_peers; i++)
                if (r->peers[i].role != SYNC_EXCLUDED)
                        return r->peers[i].nodeid;
        return 0;
}
