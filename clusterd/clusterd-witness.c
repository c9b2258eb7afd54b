/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-witness.c: the witness vote as votequorum's quorum device.
 *
 * Every node with a witness configured registers as the quorum device
 * (model "clusterd") and polls votequorum every POLL_USEC, casting the
 * vote or not; votequorum counts the device's vote on a node only while
 * that node casts it (and for quorum.device.timeout after its last poll).
 *
 * Who casts: the leader of each partition (the lowest node id in the
 * "clusterd-witness" CPG group of the current ring) runs the arbiter
 * (quorum/arbiter-int.h) against the witness and casts while the arbiter
 * says it holds the vote. The other members ask the leader for the vote
 * with a REQUEST message and get a GRANT back saying how long the leader
 * still holds it (R, on the leader's clock, taken when it handled the
 * request). A member counts the grant from when it *sent* the request,
 * for R (1 - rho) / (1 + rho) of its own clock: the request was sent
 * before the leader measured R, and the clocks' rates differ by at most
 * that factor, so a member's vote ends no later than the leader's
 * (docs/witness.md). Grants belong to the ring they were given in: a
 * membership change ends every member's grant at once, and votequorum
 * waits for each node's poll with the new ring before it decides.
 *
 * The leader also sends its arbiter's status every second, so that every
 * member can show who holds the witness and the last error.
 */
#include <endian.h>

#include "clusterd/cluster-int.h"
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"
#include "clusterd/settings-int.h"
#include "quorum/quorum.h"
#include "quorum/witness-int.h"

#define WITNESS_GROUP "clusterd-witness"
#define DEVICE_TIMEOUT_MS 2000
#define DEVICE_SYNC_TIMEOUT_MS 3000
#define POLL_USEC (300 * USEC_PER_MSEC)
#define REQUEST_USEC (400 * USEC_PER_MSEC)
#define STATUS_USEC USEC_PER_SEC
#define RETRY_SETUP_USEC (10 * USEC_PER_SEC)
#define DRIFT_PPM 20000
#define MARGIN_USEC (100 * USEC_PER_MSEC)
#define REQ_WINDOW 16
#define WMSG_MAGIC 0x434c5754u /* "CLWT" */

enum { MSG_REQUEST = 1, MSG_GRANT = 2, MSG_STATUS = 3 };

/* On the wire in little-endian order; STATUS carries JSON text after it. */
struct wmsg {
        uint32_t magic;
        uint32_t type;
        uint32_t to_nodeid; /* GRANT */
        uint32_t seq;       /* REQUEST, GRANT */
        uint64_t ring_seq;  /* the sender's votequorum ring */
        uint64_t remaining_usec;
        uint64_t record_version; /* the version the sender knows the record holds */
} __attribute__((packed));

struct witness_vote {
        struct clusterd *c;
        struct cs *cs; /* our own connection: the CPG group and the device */

        char url[WITNESS_URL_MAX + 1]; /* "" when none */
        uint64_t lease_usec;
        bool counts; /* the device has a vote (even number of voting nodes) */
        bool registered;
        char setup_error[512];
        uint64_t setup_tried_usec;

        struct witness *w; /* the backend; leader only */
        struct arbiter *a; /* leader only; kept while releasing */
        bool fd_polled;
        bool lost;               /* its corosync connection is gone: lost_job restarts it */
        uint64_t record_version; /* the record is known to hold this database version */
        struct arbiter_position position;

        uint32_t *members; /* CPG group members, sorted; owned */
        size_t n_members;
        bool leader;
        bool ring_known;
        uint64_t ring_seq;

        bool cast; /* what the last successful poll said */
        bool polled;
        int poll_error;

        uint64_t grant_until; /* member: the vote is ours until then (monotonic) */
        uint64_t grant_ring;
        uint32_t req_seq;
        uint64_t req_sent[REQ_WINDOW];
        uint64_t last_request_usec;
        uint64_t last_status_usec;

        char *leader_status; /* members: the leader's last status (JSON text); owned */
        uint32_t leader_status_from;

        qb_loop_timer_handle poll_timer, wake_timer, refresh_timer;
        bool poll_armed, wake_armed, refresh_armed;
        char last_error_logged[ARBITER_TEXT_MAX];
};

static void reconsider(struct witness_vote *v);

/* ------------------------------------------------------------------------ */
/* Configuration                                                             */

static char *setting_text(struct clusterd *c, const char *key) {
        const struct setting_def *d;
        char *value = NULL;
        if (db_setting_get(c->db, key, &value, NULL, NULL) >= 0)
                return value;
        if (settings_lookup(key, &d, NULL) >= 0)
                return xstrdup(d->default_value);
        return xstrdup("");
}

static uint64_t lease_setting(struct clusterd *c) {
        const struct setting_def *d;
        _cleanup_free_ char *text = setting_text(c, "quorum.witness-lease");
        if (settings_lookup("quorum.witness-lease", &d, NULL) < 0)
                return 6 * USEC_PER_SEC;
        return (uint64_t)setting_int(d, text, (int64_t)(6 * USEC_PER_SEC));
}

/* Whether a witness is set, and its URL. */
static bool witness_url(struct clusterd *c, char *buf, size_t size) {
        _cleanup_free_ char *url = setting_text(c, "quorum.witness");
        snprintf(buf, size, "%s", streq(url, "none") ? "" : url);
        return buf[0] != '\0';
}

bool clusterd_witness_device(struct clusterd *c, uint32_t n_nodes, struct corosync_conf_device *ret) {
        char url[WITNESS_URL_MAX + 1];
        if (!witness_url(c, url, sizeof(url)))
                return false;
        bool counts = quorum_witness_counts(n_nodes);
        *ret = (struct corosync_conf_device){
                .votes = counts ? 1 : 0,
                .expected_votes = quorum_expected_votes(n_nodes, true),
                .timeout_ms = DEVICE_TIMEOUT_MS,
                .sync_timeout_ms = DEVICE_SYNC_TIMEOUT_MS,
        };
        return true;
}

/* ------------------------------------------------------------------------ */
/* Polling votequorum                                                        */

static bool want_vote(struct witness_vote *v, uint64_t now) {
        if (!v->counts || !v->ring_known)
                return false;
        if (v->leader && v->a)
                return arbiter_vote(v->a, now);
        return v->grant_until > now && v->grant_ring == v->ring_seq;
}

static void refresh_cb(void *data) {
        struct witness_vote *v = data;
        struct clusterd *c = v->c;
        v->refresh_armed = false;
        if (!c->cs)
                return;
        cs_refresh_quorum(c->cs);
        repl_quorum_change(c->repl);
        membership_update(c);
        leader_poke(c);
}

static void poll_now(struct witness_vote *v) {
        uint64_t now = now_monotonic_usec();
        bool cast = want_vote(v, now);
        int r;

        if (!v->cs || !v->registered)
                return;
        r = cs_qdevice_poll(v->cs, COROSYNC_DEVICE_MODEL, cast);
        if (r < 0) {
                if (r != v->poll_error)
                        log_warning_errno(r, "Cannot poll votequorum as the quorum device: %m");
                v->poll_error = r;
                return;
        }
        v->poll_error = 0;
        if (v->polled && cast == v->cast)
                return;
        v->polled = true;
        v->cast = cast;
        log_notice("%s the witness vote (ring %" PRIu64 ", %s)", cast ? "Casting" : "Not casting", v->ring_seq,
                   v->leader ? "partition leader" : "member");
        /* votequorum recounts once the poll's news went round the ring;
         * read its verdict a moment later (a quorum change also comes as
         * a notification, a change of votes alone does not). */
        if (!v->refresh_armed && qb_loop_timer_add(v->c->loop, QB_LOOP_MED, 150 * USEC_PER_MSEC * NSEC_PER_USEC, v,
                                                   refresh_cb, &v->refresh_timer) == 0)
                v->refresh_armed = true;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */

static void send_msg(struct witness_vote *v, uint32_t type, uint32_t to, uint32_t seq, uint64_t remaining,
                     const char *text) {
        size_t tlen = text ? strlen(text) : 0;
        _cleanup_free_ uint8_t *buf = xmalloc(sizeof(struct wmsg) + tlen);
        struct wmsg m = {
                .magic = htole32(WMSG_MAGIC),
                .type = htole32(type),
                .to_nodeid = htole32(to),
                .seq = htole32(seq),
                .ring_seq = htole64(v->ring_seq),
                .remaining_usec = htole64(remaining),
                .record_version = htole64(v->record_version),
        };
        memcpy(buf, &m, sizeof(m));
        if (tlen)
                memcpy(buf + sizeof(m), text, tlen);
        (void)cs_mcast(v->cs, buf, sizeof(m) + tlen);
}

static json_object *arbiter_json(struct witness_vote *v, uint64_t now);

static void send_status(struct witness_vote *v, uint64_t now) {
        _cleanup_json_ json_object *o = arbiter_json(v, now);
        send_msg(v, MSG_STATUS, 0, 0, 0, json_object_to_json_string(o));
        v->last_status_usec = now;
}

/* What the record is known to hold: any record seen, read or written, is a
 * lower bound, since its position never goes back. Replication counts a
 * write as committed once the record holds it when the partition needs the
 * witness (repl_witness_holds); the leader tells the members at once. */
static void note_record(struct witness_vote *v, uint64_t version) {
        if (version <= v->record_version)
                return;
        v->record_version = version;
        repl_witness_holds(v->c->repl, version);
        if (v->leader)
                send_status(v, now_monotonic_usec());
}

static void send_request(struct witness_vote *v, uint64_t now) {
        uint32_t seq = ++v->req_seq;
        v->req_sent[seq % REQ_WINDOW] = now;
        v->last_request_usec = now;
        send_msg(v, MSG_REQUEST, 0, seq, 0, NULL);
}

static void on_request(struct witness_vote *v, uint32_t from, const struct wmsg *m) {
        uint64_t now = now_monotonic_usec(), remaining = 0;
        struct arbiter_status st;

        if (!v->leader || !v->a || le64toh(m->ring_seq) != v->ring_seq)
                return;
        arbiter_get_status(v->a, now, &st);
        if (st.vote && st.vote_until_usec > now)
                remaining = st.vote_until_usec - now;
        send_msg(v, MSG_GRANT, from, le32toh(m->seq), remaining, NULL);
}

static void on_grant(struct witness_vote *v, const struct wmsg *m) {
        uint32_t seq = le32toh(m->seq);
        uint64_t remaining = le64toh(m->remaining_usec), sent;

        if (le32toh(m->to_nodeid) != cs_local_nodeid(v->cs) || le64toh(m->ring_seq) != v->ring_seq)
                return;
        if (v->req_seq - seq >= REQ_WINDOW || (sent = v->req_sent[seq % REQ_WINDOW]) == 0)
                return;
        if (remaining == 0)
                return;
        /* Counted from when the request left, scaled for the clocks' rates. */
        uint64_t mine = (uint64_t)((double)remaining * (1e6 - DRIFT_PPM) / (1e6 + DRIFT_PPM));
        if (sent + mine > v->grant_until || v->grant_ring != v->ring_seq) {
                v->grant_until = sent + mine;
                v->grant_ring = v->ring_seq;
        }
        poll_now(v);
}

static void on_deliver(void *data, uint32_t nodeid, uint32_t pid, const void *msg, size_t size) {
        struct witness_vote *v = data;
        struct wmsg m;

        if (size < sizeof(m))
                return;
        memcpy(&m, msg, sizeof(m));
        if (le32toh(m.magic) != WMSG_MAGIC)
                return;
        switch (le32toh(m.type)) {
        case MSG_REQUEST:
                on_request(v, nodeid, &m);
                break;
        case MSG_GRANT:
                on_grant(v, &m);
                break;
        case MSG_STATUS:
                if (nodeid == cs_local_nodeid(v->cs))
                        break;
                free(v->leader_status);
                v->leader_status = strndup((const char *)msg + sizeof(m), size - sizeof(m));
                v->leader_status_from = nodeid;
                note_record(v, le64toh(m.record_version));
                break;
        default:
                break;
        }
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return x < y ? -1 : x > y;
}

static void on_group_change(void *data, const struct cs_member *members, size_t n, const struct cs_member *left,
                            size_t n_left, const struct cs_member *joined, size_t n_joined) {
        struct witness_vote *v = data;
        free(v->members);
        v->members = xcalloc(MAX(n, 1), sizeof(uint32_t));
        for (size_t i = 0; i < n; i++)
                v->members[i] = members[i].nodeid;
        qsort(v->members, n, sizeof(uint32_t), cmp_u32);
        v->n_members = n;
        reconsider(v);
}

static void on_ring_change(void *data, uint64_t ring_seq, const uint32_t *members, size_t n) {
        struct witness_vote *v = data;
        if (v->ring_known && v->ring_seq == ring_seq)
                return;
        v->ring_known = true;
        v->ring_seq = ring_seq;
        /* Grants end with their ring. */
        v->grant_until = 0;
        reconsider(v);
        /* votequorum waits for a poll with the new ring before it decides
         * (up to quorum.device.sync_timeout). The leader knows its answer
         * now; a member asks for a grant first and polls when it comes, or
         * at the next tick without it. */
        if (v->leader || !v->counts)
                poll_now(v);
        else
                send_request(v, now_monotonic_usec());
}

static void on_quorum_change(void *data) {
}

/* Jobs take the daemon, never the witness: when corosync goes, both
 * connections are lost at once, and the main one's handler may have
 * stopped (freed) the witness before a job queued for it runs. */
static void lost_job(void *data) {
        struct clusterd *c = data;
        if (!c->witness || !c->witness->lost)
                return;
        clusterd_witness_stop(c);
        clusterd_witness_update(c);
}

static void on_lost(void *data, int error) {
        struct witness_vote *v = data;
        log_warning_errno(error, "Lost the witness's corosync connection (%m); reconnecting");
        v->lost = true;
        (void)qb_loop_job_add(v->c->loop, QB_LOOP_HIGH, v->c, lost_job);
}

static const struct cs_callbacks callbacks = {
        .deliver = on_deliver,
        .group_change = on_group_change,
        .quorum_change = on_quorum_change,
        .ring_change = on_ring_change,
        .lost = on_lost,
};

/* ------------------------------------------------------------------------ */
/* The arbiter                                                               */

static void step(struct witness_vote *v, const struct arbiter_event *ev);

static void wake_cb(void *data) {
        struct witness_vote *v = data;
        v->wake_armed = false;
        if (v->a)
                step(v, &(struct arbiter_event){ .type = ARBITER_EV_TICK });
}

static void log_health(struct witness_vote *v) {
        struct arbiter_status st;
        if (!v->a)
                return;
        arbiter_get_status(v->a, now_monotonic_usec(), &st);
        if (streq(st.last_error_text, v->last_error_logged))
                return;
        snprintf(v->last_error_logged, sizeof(v->last_error_logged), "%s", st.last_error_text);
        if (st.last_error_text[0])
                log_warning("Witness %s: %s (%s)", v->url, st.last_error_text, arbiter_health_to_string(st.health));
}

static void reconsider_job(void *data) {
        struct clusterd *c = data;
        if (c->witness)
                reconsider(c->witness);
}

static void step(struct witness_vote *v, const struct arbiter_event *ev) {
        uint64_t now = now_monotonic_usec();
        struct arbiter_actions act;
        int r;

        if (arbiter_step(v->a, ev, now, &act) < 0)
                return;
        if (act.transition[0])
                log_notice("Witness arbiter: %s%s%s", act.transition, act.reason[0] ? ": " : "", act.reason);
        poll_now(v);
        if (act.op != ARBITER_OP_NONE && v->w) {
                r = witness_start(v->w, &act, act.op_deadline_usec > now ? act.op_deadline_usec - now : 1);
                if (r < 0)
                        log_debug("The witness is still busy with an operation given up on");
        }
        if (v->wake_armed) {
                qb_loop_timer_del(v->c->loop, v->wake_timer);
                v->wake_armed = false;
        }
        if (act.wakeup_usec != UINT64_MAX) {
                uint64_t delay = act.wakeup_usec > now ? act.wakeup_usec - now : 1;
                if (qb_loop_timer_add(v->c->loop, QB_LOOP_MED, delay * NSEC_PER_USEC, v, wake_cb, &v->wake_timer) == 0)
                        v->wake_armed = true;
        }
        log_health(v);
        /* An arbiter that finished releasing is dropped; a leader starts a
         * fresh one. */
        struct arbiter_status st;
        arbiter_get_status(v->a, now, &st);
        if (st.known)
                note_record(v, st.position.version);
        if (st.state == ARBITER_IDLE && ev->type != ARBITER_EV_START) {
                v->a = arbiter_free(v->a);
                if (v->wake_armed) {
                        qb_loop_timer_del(v->c->loop, v->wake_timer);
                        v->wake_armed = false;
                }
                if (v->leader)
                        (void)qb_loop_job_add(v->c->loop, QB_LOOP_MED, v->c, reconsider_job);
        }
}

static int32_t result_cb(int32_t fd, int32_t revents, void *data) {
        struct witness_vote *v = data;
        struct witness_result res;

        while (v->w && witness_take(v->w, &res) == 0) {
                if (!v->a)
                        continue;
                step(v, &(struct arbiter_event){
                                .type = ARBITER_EV_RESULT,
                                .op_id = res.op_id,
                                .result = res.result,
                                .record = res.result == ARBITER_OK && res.op == ARBITER_OP_READ ? &res.record : NULL,
                                .message = res.message[0] ? res.message : NULL });
        }
        return 0;
}

static int start_backend(struct witness_vote *v) {
        struct clusterd *c = v->c;
        char object[WITNESS_OBJECT_MAX];
        struct db_cluster cl;
        struct err e = {};
        int r;

        if (v->w)
                return 0;
        v->setup_tried_usec = now_monotonic_usec();
        if ((r = db_get_cluster(c->db, &cl)) < 0)
                return r;
        if ((r = witness_object_name(cl.name, cl.uuid, object, sizeof(object), &e)) < 0 ||
            (r = witness_new(v->url, c->config->witness.credentials, object, cl.name, &v->w, &e)) < 0) {
                if (!streq(v->setup_error, e.msg))
                        log_error("Cannot use the witness %s: %s", v->url, e.msg);
                snprintf(v->setup_error, sizeof(v->setup_error), "%s", e.msg);
                return r;
        }
        v->setup_error[0] = '\0';
        if (qb_loop_poll_add(c->loop, QB_LOOP_MED, witness_fd(v->w), POLLIN, v, result_cb) == 0)
                v->fd_polled = true;
        log_notice("Using the witness %s (object %s)", v->url, object);
        return 0;
}

static void start_arbiter(struct witness_vote *v) {
        struct clusterd *c = v->c;
        struct arbiter_config cfg = {
                .lease_usec = v->lease_usec,
                .drift_ppm = DRIFT_PPM,
                .margin_usec = MARGIN_USEC,
                .linger_usec = DEVICE_TIMEOUT_MS * USEC_PER_MSEC,
        };
        struct db_cluster cl;
        struct err e = {};

        if (v->a || start_backend(v) < 0 || db_get_cluster(c->db, &cl) < 0)
                return;
        snprintf(cfg.cluster_uuid, sizeof(cfg.cluster_uuid), "%s", cl.uuid);
        if (arbiter_new(&cfg, &v->a, &e) < 0) {
                snprintf(v->setup_error, sizeof(v->setup_error), "%s", e.msg);
                log_error("Cannot arbitrate the witness vote: %s", e.msg);
                return;
        }
        const struct db_position *p = db_position(c->db);
        v->position = (struct arbiter_position){ p->epoch, p->version };
        step(v, &(struct arbiter_event){ .type = ARBITER_EV_START,
                                         .partition = { cs_local_nodeid(v->cs), v->ring_seq },
                                         .position = v->position });
}

/* Who leads the partition, and what that means for the arbiter. */
static void reconsider(struct witness_vote *v) {
        uint32_t self;
        bool leader;

        if (!v->cs)
                return;
        self = cs_local_nodeid(v->cs);
        leader = v->n_members > 0 && v->members[0] == self && v->ring_known && v->counts;
        if (leader != v->leader)
                log_notice("%s the witness arbiter of this partition", leader ? "Running" : "No longer running");
        v->leader = leader;
        if (!v->a) {
                if (leader)
                        start_arbiter(v);
                return;
        }
        struct arbiter_status st;
        arbiter_get_status(v->a, now_monotonic_usec(), &st);
        if (!leader && st.state != ARBITER_RELEASING)
                step(v, &(struct arbiter_event){ .type = ARBITER_EV_STOP });
        else if (leader)
                step(v, &(struct arbiter_event){ .type = ARBITER_EV_PARTITION, .partition = { self, v->ring_seq } });
}

/* ------------------------------------------------------------------------ */
/* The periodic tick                                                         */

void clusterd_witness_position(struct clusterd *c) {
        struct witness_vote *v = c->witness;
        if (!v || !v->a || !v->leader)
                return;
        const struct db_position *p = db_position(c->db);
        if (p->epoch != v->position.epoch || p->version != v->position.version) {
                v->position = (struct arbiter_position){ p->epoch, p->version };
                step(v, &(struct arbiter_event){ .type = ARBITER_EV_POSITION, .position = v->position });
        }
}

static void poll_cb(void *data) {
        struct witness_vote *v = data;
        struct clusterd *c = v->c;
        uint64_t now = now_monotonic_usec();

        v->poll_armed = false;
        if (v->counts && v->leader && !v->a && now - v->setup_tried_usec >= RETRY_SETUP_USEC)
                reconsider(v);
        if (v->a && v->leader) {
                clusterd_witness_position(c);
                if (v->a && now - v->last_status_usec >= STATUS_USEC)
                        send_status(v, now);
        } else if (v->counts && v->cs && v->ring_known &&
                   (now - v->last_request_usec >= REQUEST_USEC || v->grant_until < now + 2 * POLL_USEC)) {
                send_request(v, now);
        }
        poll_now(v);
        if (qb_loop_timer_add(c->loop, QB_LOOP_MED, POLL_USEC * NSEC_PER_USEC, v, poll_cb, &v->poll_timer) == 0)
                v->poll_armed = true;
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

void clusterd_witness_stop(struct clusterd *c) {
        struct witness_vote *v = c->witness;
        if (!v)
                return;
        if (v->cs && v->registered) {
                (void)cs_qdevice_poll(v->cs, COROSYNC_DEVICE_MODEL, false);
                (void)cs_qdevice_unregister(v->cs, COROSYNC_DEVICE_MODEL);
        }
        if (v->poll_armed)
                qb_loop_timer_del(c->loop, v->poll_timer);
        if (v->wake_armed)
                qb_loop_timer_del(c->loop, v->wake_timer);
        if (v->refresh_armed)
                qb_loop_timer_del(c->loop, v->refresh_timer);
        if (v->fd_polled)
                qb_loop_poll_del(c->loop, witness_fd(v->w));
        v->a = arbiter_free(v->a);
        v->w = witness_free(v->w);
        v->cs = cs_free(v->cs);
        free(v->members);
        free(v->leader_status);
        free(v);
        c->witness = NULL;
        if (c->cs) {
                cs_refresh_quorum(c->cs);
                repl_quorum_change(c->repl);
        }
}

void clusterd_witness_update(struct clusterd *c) {
        char url[WITNESS_URL_MAX + 1];
        struct err e = {};
        int r;

        if (c->stopping || !c->cs || !clusterd_configured(c)) {
                clusterd_witness_stop(c);
                return;
        }
        bool want = witness_url(c, url, sizeof(url));
        bool counts = quorum_witness_counts(clusterd_voting_nodes(c));
        uint64_t lease = lease_setting(c);
        struct witness_vote *v = c->witness;
        if (v && (!want || !streq(v->url, url) || v->counts != counts || v->lease_usec != lease)) {
                log_notice("The witness configuration changed");
                clusterd_witness_stop(c);
                v = NULL;
        }
        if (!want || v)
                return;

        v = xcalloc(1, sizeof(*v));
        v->c = c;
        snprintf(v->url, sizeof(v->url), "%s", url);
        v->counts = counts;
        v->lease_usec = lease;
        c->witness = v;
        if ((r = cs_connect(c->loop, WITNESS_GROUP, &callbacks, v, &v->cs, &e)) < 0) {
                log_err_errno(r, "Cannot connect the witness to corosync: %s", e.msg);
                snprintf(v->setup_error, sizeof(v->setup_error), "%s", e.msg);
        } else if ((r = cs_qdevice_register(v->cs, COROSYNC_DEVICE_MODEL)) < 0 && r != -EEXIST) {
                log_err_errno(r, "Cannot register as votequorum's quorum device: %m");
                snprintf(v->setup_error, sizeof(v->setup_error), "cannot register as votequorum's quorum device: %s",
                         strerror(-r));
        } else
                v->registered = true;
        if (!counts)
                log_notice("Witness %s configured; its vote does not count with an odd number of voting nodes", url);
        uint64_t seq;
        if (v->cs && cs_vq_ring(v->cs, &seq) && !v->ring_known)
                on_ring_change(v, seq, NULL, 0);
        poll_cb(v);
}

/* ------------------------------------------------------------------------ */
/* Status                                                                    */

static uint64_t mono_to_real(uint64_t mono, uint64_t now_mono) {
        if (!mono)
                return 0;
        uint64_t real = now_realtime_usec();
        return mono <= now_mono ? real - (now_mono - mono) : real + (mono - now_mono);
}

static json_object *arbiter_json(struct witness_vote *v, uint64_t now) {
        json_object *o = json_object_new_object();
        struct arbiter_status st;
        char name[64];

        json_add_int(o, "reporter", v->cs ? cs_local_nodeid(v->cs) : 0);
        if (!v->a) {
                json_add_string(o, "state", "idle");
                json_add_string(o, "health", v->setup_error[0] ? "refused" : "unknown");
                json_add_bool(o, "reachable", false);
                json_add_string(o, "last_error", v->setup_error[0] ? v->setup_error : NULL);
                return o;
        }
        arbiter_get_status(v->a, now, &st);
        json_add_string(o, "state", arbiter_state_to_string(st.state));
        json_add_string(o, "health", arbiter_health_to_string(st.health));
        json_add_bool(o, "reachable", st.reachable);
        json_add_bool(o, "behind", st.behind);
        if (st.known && st.holder.nodeid) {
                json_object *h = json_object_new_object();
                membership_node_name(v->c, st.holder.nodeid, name, sizeof(name));
                json_add_string(h, "node", name);
                json_add_int(h, "nodeid", st.holder.nodeid);
                json_add_int(h, "ring", (int64_t)st.holder.ring_seq);
                json_object_object_add(o, "holder", h);
        } else
                json_object_object_add(o, "holder", NULL);
        json_add_int(o, "generation", st.known ? (int64_t)st.generation : 0);
        if (st.known) {
                json_object *p = json_object_new_object();
                json_add_int(p, "epoch", (int64_t)st.position.epoch);
                json_add_int(p, "version", (int64_t)st.position.version);
                json_object_object_add(o, "record_position", p);
        }
        json_add_timestamp(o, "last_renewal", mono_to_real(st.last_renewal_usec, now));
        json_add_timestamp(o, "vote_until", st.vote ? mono_to_real(st.vote_until_usec, now) : 0);
        json_add_string(o, "last_error", st.last_error_text[0] ? st.last_error_text : NULL);
        json_add_timestamp(o, "last_error_at", mono_to_real(st.last_error_usec, now));
        return o;
}

json_object *clusterd_witness_json(struct clusterd *c) {
        char url[WITNESS_URL_MAX + 1];
        struct witness_vote *v = c->witness;
        uint64_t now = now_monotonic_usec();
        json_object *o = json_object_new_object();
        struct witness_url u;

        bool set = witness_url(c, url, sizeof(url));
        json_add_string(o, "witness", set ? url : "none");
        if (!set)
                return o;
        json_add_string(o, "type", witness_url_parse(url, &u, NULL) >= 0 ? u.scheme : NULL);
        json_add_int(o, "lease_ms", (int64_t)(lease_setting(c) / USEC_PER_MSEC));
        uint32_t n = clusterd_voting_nodes(c);
        json_add_bool(o, "counts", quorum_witness_counts(n));
        json_add_int(o, "voting_nodes", n);
        json_add_string(o, "credentials", c->config->witness.credentials);
        if (!v) {
                json_add_bool(o, "vote", false);
                json_add_string(o, "role", "disconnected");
                return o;
        }
        json_add_bool(o, "vote", v->polled && v->cast);
        json_add_bool(o, "device_registered", v->registered);
        json_add_int(o, "record_version", (int64_t)v->record_version);
        json_add_string(o, "role", v->leader ? "arbiter" : "member");
        if (!v->leader && v->grant_until > now)
                json_add_int(o, "grant_ms", (int64_t)((v->grant_until - now) / USEC_PER_MSEC));
        json_object *arb = NULL;
        if (v->leader || v->a)
                arb = arbiter_json(v, now);
        else if (v->leader_status)
                arb = json_tokener_parse(v->leader_status);
        json_object_object_add(o, "arbiter", arb);
        if (v->setup_error[0])
                json_add_string(o, "setup_error", v->setup_error);
        return o;
}
