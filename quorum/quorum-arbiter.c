/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quorum-arbiter.c: who holds the witness vote (pure; arbiter-int.h).
 *
 * The rules below are the contract; docs/witness.md argues why they are
 * safe and tests/golden/cases/golden-arbiter/ shows them at work.
 *
 * Times. Every time is the local monotonic clock. Two are trusted, and
 * each is taken on the side that makes delays harmless:
 *  - the start of our own write: a successful write keeps others out for a
 *    lease counted from some moment after it was sent, so counting our vote
 *    from the moment we sent it can only end it early;
 *  - the answer to a read: the generation it shows was written before the
 *    answer came, so counting a contender's wait from the answer can only
 *    make it wait longer.
 * An answer that comes after the operation was given up (op_deadline) is
 * ignored: its write may or may not have happened, and only a later read
 * says which.
 *
 * The vote. A successful write of ours that started at s gives the vote
 * until s + arbiter_hold_usec(). Nothing else gives it; a failure never
 * shortens it (the lease argument does not depend on what we learn later),
 * except that a record we find taken by someone else, freed, deleted,
 * foreign or corrupt ends it at once: never a vote on doubt.
 *
 * Taking the record (WATCHING -> ACQUIRING) needs a valid record of our
 * cluster (or none at all), our database position >= the record's (the
 * "partition in time" rule), and one of: the record is free; it is absent;
 * its holder is us (a write of ours that we gave up on landed after all);
 * or we have seen its generation unchanged for arbiter_wait_usec() since
 * the first answer that showed it. The write expects exactly that
 * generation, so a renewal by the holder in the meantime makes it fail.
 *
 * Holding. The holder rewrites the record every renew interval (and at
 * once when its database position advances, so that the record tracks the
 * newest state), each time with its position (never lower than what it
 * wrote before) and its lease. After a write that failed or was not
 * answered it reads first: the write may have landed, and the generation
 * to expect is then its own newer one. A read showing the record as ours
 * lets it go on; anything else ends the vote.
 *
 * Stopping. The vote goes at once; then, when the last record we know is
 * ours, a write frees it, so that another partition need not wait out the
 * lease. Whatever that write's fate, the arbiter is idle afterwards.
 */
#include "quorum/arbiter-int.h"

#define PPM UINT64_C(1000000)

struct arbiter {
        struct arbiter_config cfg;
        enum arbiter_state state;
        struct arbiter_partition self;    /* the partition we run for */
        struct arbiter_partition written; /* holder name in our last successful write */
        struct arbiter_position position; /* the local database's */
        uint64_t last_usec;               /* now of the previous step: time must not go back */

        /* The one operation in flight. */
        bool op_active;
        enum arbiter_op op_kind;
        uint64_t op_id;               /* of the last operation issued; answers to others are stale */
        uint64_t op_start_usec;       /* when it was handed out */
        uint64_t op_deadline_usec;    /* given up as unreachable then */
        struct arbiter_record op_rec; /* WRITE: what it writes */
        uint64_t next_op_usec;        /* no operation in flight: start the next one then */

        /* What we know of the record. */
        bool known;                /* rec is a valid record of our cluster */
        bool absent;               /* the last read found no record */
        bool uncertain;            /* a write of ours may have landed since: read before writing */
        struct arbiter_record rec; /* last record read or written */
        uint64_t rec_seen_usec;    /* the first answer that showed rec.generation */

        /* The vote. */
        uint64_t vote_until_usec;   /* 0: none */
        uint64_t last_renewal_usec; /* start of our last successful write */

        /* Status. */
        enum arbiter_health health;
        bool answered;
        int last_error;
        uint64_t last_error_usec;
        char last_error_text[ARBITER_TEXT_MAX];
};

static const char *const state_names[] = {
        [ARBITER_IDLE] = "idle",       [ARBITER_WATCHING] = "watching",   [ARBITER_ACQUIRING] = "acquiring",
        [ARBITER_HOLDING] = "holding", [ARBITER_RELEASING] = "releasing",
};

static const char *const result_names[] = {
        [ARBITER_OK] = "ok",
        [ARBITER_ABSENT] = "absent",
        [ARBITER_CONFLICT] = "conflict",
        [ARBITER_UNREACHABLE] = "unreachable",
        [ARBITER_FAILED] = "failed",
        [ARBITER_DENIED] = "denied",
        [ARBITER_CORRUPT] = "corrupt",
};

static const char *const health_names[] = {
        [ARBITER_HEALTH_UNKNOWN] = "unknown",         [ARBITER_HEALTH_OK] = "ok",
        [ARBITER_HEALTH_UNREACHABLE] = "unreachable", [ARBITER_HEALTH_FAILING] = "failing",
        [ARBITER_HEALTH_REFUSED] = "refused",         [ARBITER_HEALTH_FOREIGN] = "foreign",
        [ARBITER_HEALTH_CORRUPT] = "corrupt",
};

const char *arbiter_state_to_string(enum arbiter_state s) {
        return (size_t)s < ELEMENTSOF(state_names) ? state_names[s] : "invalid";
}

const char *arbiter_result_to_string(enum arbiter_result r) {
        return (size_t)r < ELEMENTSOF(result_names) ? result_names[r] : "invalid";
}

const char *arbiter_health_to_string(enum arbiter_health h) {
        return (size_t)h < ELEMENTSOF(health_names) ? health_names[h] : "invalid";
}

bool arbiter_position_ge(const struct arbiter_position *a, const struct arbiter_position *b) {
        if (a->epoch != b->epoch)
                return a->epoch > b->epoch;
        return a->version >= b->version;
}

static bool partition_eq(const struct arbiter_partition *a, const struct arbiter_partition *b) {
        return a->nodeid == b->nodeid && a->ring_seq == b->ring_seq;
}

static uint64_t add_sat(uint64_t a, uint64_t b) {
        return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ------------------------------------------------------------------------ */
/* Configuration and lease arithmetic                                        */

void arbiter_config_defaults(struct arbiter_config *cfg) {
        if (cfg->renew_usec == 0)
                cfg->renew_usec = cfg->lease_usec / 3;
        if (cfg->op_timeout_usec == 0)
                cfg->op_timeout_usec = cfg->lease_usec / 6;
        if (cfg->retry_usec == 0)
                cfg->retry_usec = MAX(cfg->lease_usec / 10, UINT64_C(1));
}

/* The products below cannot overflow: lease <= 1 h = 3.6e9 usec and
 * 1e6 + drift <= 1.1e6, so at most 4e15. */
uint64_t arbiter_hold_usec(const struct arbiter_config *cfg) {
        uint64_t l = MIN(cfg->lease_usec, ARBITER_LEASE_MAX_USEC);
        uint64_t scaled = l * (PPM - MIN(cfg->drift_ppm, (uint32_t)ARBITER_DRIFT_MAX_PPM)) / PPM;
        uint64_t sub = add_sat(cfg->margin_usec, cfg->linger_usec);
        return scaled > sub ? scaled - sub : 0;
}

uint64_t arbiter_wait_usec(const struct arbiter_config *cfg, uint64_t record_lease_usec) {
        uint64_t l = MIN(MAX(cfg->lease_usec, record_lease_usec), ARBITER_LEASE_MAX_USEC);
        uint64_t f = PPM + MIN(cfg->drift_ppm, (uint32_t)ARBITER_DRIFT_MAX_PPM);
        return add_sat((l * f + PPM - 1) / PPM, cfg->margin_usec);
}

int arbiter_config_check(const struct arbiter_config *cfg, struct err *e) {
        size_t n = strnlen(cfg->cluster_uuid, ARBITER_UUID_MAX);
        if (n == 0 || n == ARBITER_UUID_MAX)
                return err_set(e, -EINVAL, "witness: the cluster uuid is missing");
        if (cfg->lease_usec < USEC_PER_MSEC || cfg->lease_usec > ARBITER_LEASE_MAX_USEC)
                return err_set(e, -EINVAL, "witness lease %" PRIu64 "us: expected 1ms to 1h", cfg->lease_usec);
        if (cfg->drift_ppm > ARBITER_DRIFT_MAX_PPM)
                return err_set(e, -EINVAL, "witness clock drift %" PRIu32 " ppm: at most %u", cfg->drift_ppm,
                               ARBITER_DRIFT_MAX_PPM);
        if (cfg->renew_usec == 0 || cfg->op_timeout_usec == 0 || cfg->retry_usec == 0)
                return err_set(e, -EINVAL, "witness renew, timeout and retry intervals must not be 0");
        uint64_t hold = arbiter_hold_usec(cfg);
        if (add_sat(cfg->renew_usec, cfg->op_timeout_usec) >= hold)
                return err_set(e, -EINVAL,
                               "witness lease too short: a holder keeps the vote %" PRIu64
                               "us after a renewal (lease less drift, margin and linger), which must exceed "
                               "renew interval + timeout (%" PRIu64 "us)",
                               hold, add_sat(cfg->renew_usec, cfg->op_timeout_usec));
        return 0;
}

int arbiter_new(const struct arbiter_config *cfg, struct arbiter **ret, struct err *e) {
        struct arbiter_config c = *cfg;
        arbiter_config_defaults(&c);
        int r = arbiter_config_check(&c, e);
        if (r < 0)
                return r;
        struct arbiter *a = xcalloc(1, sizeof(*a));
        a->cfg = c;
        a->state = ARBITER_IDLE;
        *ret = a;
        return 0;
}

struct arbiter *arbiter_free(struct arbiter *a) {
        free(a);
        return NULL;
}

bool arbiter_vote(const struct arbiter *a, uint64_t now_usec) {
        return a && a->state == ARBITER_HOLDING && now_usec < a->vote_until_usec;
}

/* ------------------------------------------------------------------------ */
/* Helpers of the transition function                                        */

/* The step being taken: the event's name for the transition text, and the
 * output being filled in. */
struct step {
        struct arbiter *a;
        uint64_t now;
        const char *event;
        struct arbiter_actions *out;
};

static void set_state(struct step *s, enum arbiter_state to, const char *fmt, ...) _printf_(3, 4);
static void set_state(struct step *s, enum arbiter_state to, const char *fmt, ...) {
        struct arbiter_actions *o = s->out;
        if (fmt) {
                /* Several changes in one step are joined, so that none is lost from the log. */
                size_t l = strlen(o->reason);
                if (l > 0 && l + 2 < sizeof(o->reason)) {
                        memcpy(o->reason + l, "; ", 3);
                        l += 2;
                }
                va_list ap;
                va_start(ap, fmt);
                vsnprintf(o->reason + l, sizeof(o->reason) - l, fmt, ap);
                va_end(ap);
        }
        if (to == s->a->state)
                return;
        size_t l = strlen(o->transition);
        snprintf(o->transition + l, sizeof(o->transition) - l, "%s%s -> %s (%s)", l > 0 ? "; " : "",
                 arbiter_state_to_string(s->a->state), arbiter_state_to_string(to), s->event);
        s->a->state = to;
}

/* Ends the vote at once. "gave up" is said of a holder even when its vote
 * lapsed a moment ago: the log should show where a holding ended. */
static void give_up_vote(struct step *s, enum arbiter_state to, const char *why) {
        bool had = s->a->state == ARBITER_HOLDING;
        s->a->vote_until_usec = 0;
        set_state(s, to, "%s%s", had ? "gave up the vote: " : "", why);
}

static void note_error(struct arbiter *a, uint64_t now, enum arbiter_health h, int error, const char *fmt, ...)
        _printf_(5, 6);
static void note_error(struct arbiter *a, uint64_t now, enum arbiter_health h, int error, const char *fmt, ...) {
        va_list ap;
        a->health = h;
        a->last_error = error;
        a->last_error_usec = now;
        va_start(ap, fmt);
        vsnprintf(a->last_error_text, sizeof(a->last_error_text), fmt, ap);
        va_end(ap);
}

static bool is_ours(const struct arbiter *a, const struct arbiter_record *r) {
        return r->holder.nodeid != 0 && (partition_eq(&r->holder, &a->self) ||
                                         (a->written.nodeid != 0 && partition_eq(&r->holder, &a->written)));
}

/* When a contender may replace the known record, or UINT64_MAX when it
 * may not at all (yet): another cluster's, corrupt, or newer than our
 * database. */
static uint64_t acquire_at(const struct arbiter *a) {
        if (a->absent)
                return 0;
        if (!a->known)
                return UINT64_MAX;
        if (!arbiter_position_ge(&a->position, &a->rec.position))
                return UINT64_MAX;
        if (a->rec.holder.nodeid == 0 || is_ours(a, &a->rec))
                return 0;
        return add_sat(a->rec_seen_usec, arbiter_wait_usec(&a->cfg, a->rec.lease_usec));
}

/* Checks what a backend read beyond what its parser could: the record is
 * ours and its fields make sense. A record failing this is treated as
 * corrupt (or foreign), never written over. */
static enum arbiter_health record_check(const struct arbiter *a, const struct arbiter_record *r) {
        if (strnlen(r->cluster_uuid, ARBITER_UUID_MAX) == ARBITER_UUID_MAX)
                return ARBITER_HEALTH_CORRUPT;
        if (!streq(r->cluster_uuid, a->cfg.cluster_uuid))
                return ARBITER_HEALTH_FOREIGN;
        if (r->generation == 0 || r->generation == UINT64_MAX || r->lease_usec > ARBITER_LEASE_MAX_USEC ||
            (r->holder.nodeid != 0 && r->lease_usec == 0))
                return ARBITER_HEALTH_CORRUPT;
        return ARBITER_HEALTH_OK;
}

/* A record counts as unchanged only when all of it is: a generation alone
 * could repeat if the record was deleted and created again between two
 * reads. */
static bool record_eq(const struct arbiter_record *a, const struct arbiter_record *b) {
        return streq(a->cluster_uuid, b->cluster_uuid) && partition_eq(&a->holder, &b->holder) &&
               a->generation == b->generation && a->lease_usec == b->lease_usec &&
               a->position.epoch == b->position.epoch && a->position.version == b->position.version;
}

static void learn(struct arbiter *a, const struct arbiter_record *r, uint64_t now) {
        if (!a->known || !record_eq(&a->rec, r))
                a->rec_seen_usec = now;
        a->rec = *r;
        a->known = true;
        a->absent = false;
}

static void forget(struct arbiter *a) {
        a->known = false;
        a->absent = false;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

static void read_done(struct step *s, enum arbiter_result res, const struct arbiter_record *r, const char *message) {
        struct arbiter *a = s->a;
        bool holding = a->state == ARBITER_HOLDING;
        char why[128];

        if (res == ARBITER_OK) {
                enum arbiter_health h = record_check(a, r);
                if (h != ARBITER_HEALTH_OK) {
                        forget(a);
                        note_error(a, s->now, h, h == ARBITER_HEALTH_FOREIGN ? -EEXIST : -EBADMSG,
                                   h == ARBITER_HEALTH_FOREIGN ? "the witness holds the record of another cluster"
                                                               : "the witness record is corrupt");
                        if (holding)
                                give_up_vote(s, ARBITER_WATCHING, a->last_error_text);
                        a->next_op_usec = s->now + a->cfg.retry_usec;
                        return;
                }
                a->health = ARBITER_HEALTH_OK;
                learn(a, r, s->now);
                a->uncertain = false;
                if (holding) {
                        if (is_ours(a, r)) {
                                a->next_op_usec = s->now; /* renew on the generation we just learned */
                                return;
                        }
                        if (r->holder.nodeid == 0)
                                snprintf(why, sizeof(why), "the record was freed by someone else");
                        else
                                snprintf(why, sizeof(why), "the record is held by node %" PRIu32 " ring %" PRIu64,
                                         r->holder.nodeid, r->holder.ring_seq);
                        give_up_vote(s, ARBITER_WATCHING, why);
                }
                uint64_t t = acquire_at(a);
                a->next_op_usec = MIN(t == 0 ? s->now : t, s->now + a->cfg.renew_usec);
                return;
        }
        if (res == ARBITER_ABSENT) {
                a->health = ARBITER_HEALTH_OK;
                a->known = false;
                a->absent = true;
                a->uncertain = false;
                if (holding)
                        give_up_vote(s, ARBITER_WATCHING, "the record was deleted");
                a->next_op_usec = s->now;
                return;
        }
        if (res == ARBITER_CORRUPT) {
                forget(a);
                note_error(a, s->now, ARBITER_HEALTH_CORRUPT, -EBADMSG, "%s",
                           message ? message : "the witness record is corrupt");
                if (holding)
                        give_up_vote(s, ARBITER_WATCHING, a->last_error_text);
        }
        /* Unreachable, failed, denied: nothing learned. A holder keeps its
         * vote until it lapses, a contender keeps what it saw. */
        a->next_op_usec = s->now + a->cfg.retry_usec;
}

static void write_done(struct step *s, enum arbiter_result res) {
        struct arbiter *a = s->a;
        const struct arbiter_record *w = &a->op_rec;
        bool release = w->holder.nodeid == 0;

        if (res == ARBITER_OK) {
                a->health = ARBITER_HEALTH_OK;
                a->rec = *w;
                a->known = true;
                a->absent = false;
                a->uncertain = false;
                a->rec_seen_usec = s->now;
                if (release || a->state == ARBITER_RELEASING) {
                        set_state(s, ARBITER_IDLE, "freed the record (generation %" PRIu64 ")", w->generation);
                        return;
                }
                a->written = w->holder;
                a->last_renewal_usec = a->op_start_usec;
                a->vote_until_usec = MAX(a->vote_until_usec, add_sat(a->op_start_usec, arbiter_hold_usec(&a->cfg)));
                a->next_op_usec = add_sat(a->op_start_usec, a->cfg.renew_usec);
                if (!arbiter_position_ge(&w->position, &a->position))
                        a->next_op_usec = s->now; /* the database moved on while this write was in flight */
                if (s->now < a->vote_until_usec) {
                        if (a->state != ARBITER_HOLDING)
                                set_state(s, ARBITER_HOLDING,
                                          "took the record (generation %" PRIu64 ", epoch %" PRIu64 " version %" PRIu64
                                          ")",
                                          w->generation, w->position.epoch, w->position.version);
                } else {
                        /* Answered too late to give any vote; the record
                         * is ours, so the next write follows at once. */
                        a->next_op_usec = s->now;
                        set_state(s, ARBITER_WATCHING, "the write was answered too late to count");
                }
                return;
        }

        if (a->state == ARBITER_RELEASING) {
                set_state(s, ARBITER_IDLE, "could not free the record (%s): others wait for the lease",
                          arbiter_result_to_string(res));
                return;
        }
        if (res == ARBITER_CONFLICT || res == ARBITER_ABSENT) {
                forget(a);
                a->uncertain = false;
                a->health = ARBITER_HEALTH_OK;
                a->next_op_usec = s->now;
                if (a->state == ARBITER_HOLDING)
                        give_up_vote(s, ARBITER_WATCHING, "the record changed under us");
                else
                        set_state(s, ARBITER_WATCHING, "the record changed before we could take it");
                return;
        }
        /* No answer, or an error: the write may or may not have happened.
         * Read before the next write. A refusal (read-only share, rights
         * taken away) does not go away in a moment: try again at the renew
         * pace, not the retry pace, to keep the log readable. */
        a->uncertain = true;
        a->next_op_usec = s->now + (res == ARBITER_DENIED ? a->cfg.renew_usec : a->cfg.retry_usec);
        if (a->state == ARBITER_ACQUIRING)
                set_state(s, ARBITER_WATCHING, "could not take the record (%s)", arbiter_result_to_string(res));
}

static void op_done(struct step *s, enum arbiter_result res, const struct arbiter_record *r, int error,
                    const char *message) {
        struct arbiter *a = s->a;
        enum arbiter_op kind = a->op_kind;

        a->op_active = false;
        a->answered = res != ARBITER_UNREACHABLE;
        switch (res) {
        case ARBITER_UNREACHABLE:
                note_error(a, s->now, ARBITER_HEALTH_UNREACHABLE, error < 0 ? error : -EHOSTUNREACH, "%s",
                           message ? message : "the witness does not answer");
                break;
        case ARBITER_FAILED:
                note_error(a, s->now, ARBITER_HEALTH_FAILING, error < 0 ? error : -EIO, "%s",
                           message ? message : "the witness answers with server errors");
                break;
        case ARBITER_DENIED:
                note_error(a, s->now, ARBITER_HEALTH_REFUSED, error < 0 ? error : -EACCES, "%s",
                           message ? message : "the witness refuses access (permissions, read-only)");
                break;
        default:
                break;
        }
        if (kind == ARBITER_OP_READ)
                read_done(s, res, r, message);
        else
                write_done(s, res);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

static void start_op(struct step *s, enum arbiter_op kind) {
        struct arbiter *a = s->a;
        a->op_active = true;
        a->op_kind = kind;
        a->op_id++;
        a->op_start_usec = s->now;
        a->op_deadline_usec = add_sat(s->now, a->cfg.op_timeout_usec);
        s->out->op = kind;
        s->out->op_id = a->op_id;
        s->out->op_deadline_usec = a->op_deadline_usec;
}

static void start_write(struct step *s, bool release) {
        struct arbiter *a = s->a;
        struct arbiter_record *w = &a->op_rec;

        *w = (struct arbiter_record){ .lease_usec = a->cfg.lease_usec };
        memcpy(w->cluster_uuid, a->cfg.cluster_uuid, sizeof(w->cluster_uuid));
        if (!release)
                w->holder = a->self;
        w->generation = a->absent ? 1 : a->rec.generation + 1;
        /* The record's position never goes back: a holder writes the newer
         * of its own and the record's (equal or older, by the rule it took
         * the record under). */
        w->position = a->absent || arbiter_position_ge(&a->position, &a->rec.position) ? a->position : a->rec.position;
        start_op(s, ARBITER_OP_WRITE);
        s->out->expect_generation = a->absent ? 0 : a->rec.generation;
        s->out->record = *w;
}

/* Starts the next operation when it is due and none is in flight. */
static void next_op(struct step *s) {
        struct arbiter *a = s->a;

        if (a->op_active || s->now < a->next_op_usec)
                return;
        switch (a->state) {
        case ARBITER_HOLDING:
                if (a->uncertain || !a->known || !is_ours(a, &a->rec))
                        start_op(s, ARBITER_OP_READ);
                else
                        start_write(s, false);
                break;
        case ARBITER_WATCHING:
                if (!a->uncertain && (a->known || a->absent) && s->now >= acquire_at(a)) {
                        if (a->absent)
                                set_state(s, ARBITER_ACQUIRING, "there is no record yet");
                        else if (a->rec.holder.nodeid == 0)
                                set_state(s, ARBITER_ACQUIRING, "the record is free");
                        else if (is_ours(a, &a->rec))
                                set_state(s, ARBITER_ACQUIRING, "the record is ours");
                        else
                                set_state(s, ARBITER_ACQUIRING,
                                          "node %" PRIu32 " ring %" PRIu64 " did not renew generation %" PRIu64
                                          " in time",
                                          a->rec.holder.nodeid, a->rec.holder.ring_seq, a->rec.generation);
                        start_write(s, false);
                } else
                        start_op(s, ARBITER_OP_READ);
                break;
        default:
                break;
        }
}

/* When the arbiter must look at the time again. */
static uint64_t wakeup(const struct arbiter *a) {
        uint64_t t = UINT64_MAX;
        if (a->state == ARBITER_IDLE)
                return t;
        /* next_op_usec already accounts for when the record may be taken
         * (read_done and the POSITION event bring it forward). */
        t = a->op_active ? a->op_deadline_usec : a->next_op_usec;
        if (a->state == ARBITER_HOLDING)
                t = MIN(t, a->vote_until_usec);
        return t;
}

/* ------------------------------------------------------------------------ */
/* The transition function                                                   */

static void ev_start(struct step *s, const struct arbiter_event *ev) {
        struct arbiter *a = s->a;
        if (a->state != ARBITER_IDLE)
                return;
        a->self = ev->partition;
        a->written = (struct arbiter_partition){};
        a->position = ev->position;
        a->op_active = false;
        a->known = a->absent = a->uncertain = false;
        a->vote_until_usec = 0;
        a->next_op_usec = s->now;
        set_state(s, ARBITER_WATCHING, "contending for the witness as node %" PRIu32 " ring %" PRIu64, a->self.nodeid,
                  a->self.ring_seq);
}

static void ev_stop(struct step *s) {
        struct arbiter *a = s->a;
        if (a->state == ARBITER_IDLE || a->state == ARBITER_RELEASING)
                return;
        /* Whatever is in flight is abandoned: its answer can no longer
         * change anything. */
        a->op_active = false;
        bool release = a->known && !a->uncertain && is_ours(a, &a->rec);
        give_up_vote(s, release ? ARBITER_RELEASING : ARBITER_IDLE, "stopped");
        if (release)
                start_write(s, true);
}

int arbiter_step(struct arbiter *a, const struct arbiter_event *ev, uint64_t now_usec,
                 struct arbiter_actions *ret_actions) {
        static const char *const event_names[] = {
                [ARBITER_EV_START] = "start",       [ARBITER_EV_STOP] = "stop",
                [ARBITER_EV_TICK] = "tick",         [ARBITER_EV_RESULT] = "result",
                [ARBITER_EV_POSITION] = "position", [ARBITER_EV_PARTITION] = "partition",
        };
        struct arbiter_actions out = { .op = ARBITER_OP_NONE };
        char event[64];

        if (!a || !ev || !ret_actions || (size_t)ev->type >= ELEMENTSOF(event_names) || now_usec < a->last_usec)
                return -EINVAL;
        if (ev->type == ARBITER_EV_RESULT && ((size_t)ev->result >= ELEMENTSOF(result_names) ||
                                              (ev->result == ARBITER_OK && a->op_active &&
                                               a->op_kind == ARBITER_OP_READ && ev->op_id == a->op_id && !ev->record)))
                return -EINVAL;
        a->last_usec = now_usec;

        if (ev->type == ARBITER_EV_RESULT)
                snprintf(event, sizeof(event), "%s %s", a->op_kind == ARBITER_OP_READ ? "read" : "write",
                         arbiter_result_to_string(ev->result));
        else
                snprintf(event, sizeof(event), "%s", event_names[ev->type]);
        struct step s = { .a = a, .now = now_usec, .event = event, .out = &out };

        switch (ev->type) {
        case ARBITER_EV_START:
                ev_start(&s, ev);
                break;
        case ARBITER_EV_STOP:
                ev_stop(&s);
                break;
        case ARBITER_EV_RESULT:
                if (a->op_active && ev->op_id == a->op_id && now_usec < a->op_deadline_usec)
                        op_done(&s, ev->result, ev->record, ev->error, ev->message);
                break;
        case ARBITER_EV_POSITION:
                a->position = ev->position;
                if (a->state == ARBITER_HOLDING && !arbiter_position_ge(&a->rec.position, &a->position))
                        a->next_op_usec = MIN(a->next_op_usec, now_usec);
                else if (a->state == ARBITER_WATCHING)
                        a->next_op_usec = MIN(a->next_op_usec, MAX(now_usec, acquire_at(a)));
                break;
        case ARBITER_EV_PARTITION:
                a->self = ev->partition;
                if (a->state == ARBITER_HOLDING)
                        a->next_op_usec = MIN(a->next_op_usec, now_usec);
                break;
        case ARBITER_EV_TICK:
                break;
        }

        /* What the time alone decides, whatever the event. */
        if (a->op_active && now_usec >= a->op_deadline_usec) {
                snprintf(event, sizeof(event), "%s timeout", a->op_kind == ARBITER_OP_READ ? "read" : "write");
                op_done(&s, ARBITER_UNREACHABLE, NULL, -ETIMEDOUT, "the witness did not answer in time");
        }
        if (a->state == ARBITER_HOLDING && now_usec >= a->vote_until_usec) {
                snprintf(event, sizeof(event), "lease lapsed");
                give_up_vote(&s, ARBITER_WATCHING, "no renewal succeeded in time");
                a->next_op_usec = MIN(a->next_op_usec, now_usec);
        }
        next_op(&s);

        out.vote = arbiter_vote(a, now_usec);
        out.vote_until_usec = out.vote ? a->vote_until_usec : 0;
        out.wakeup_usec = wakeup(a);
        *ret_actions = out;
        return 0;
}

void arbiter_get_status(const struct arbiter *a, uint64_t now_usec, struct arbiter_status *ret) {
        *ret = (struct arbiter_status){
                .state = a->state,
                .health = a->health,
                .reachable = a->answered,
                .vote = arbiter_vote(a, now_usec),
                .known = a->known,
                .behind = a->known && !arbiter_position_ge(&a->position, &a->rec.position),
                .holder = a->known ? a->rec.holder : (struct arbiter_partition){},
                .generation = a->known ? a->rec.generation : 0,
                .position = a->known ? a->rec.position : (struct arbiter_position){},
                .holder_seen_usec = a->known ? a->rec_seen_usec : 0,
                .last_renewal_usec = a->last_renewal_usec,
                .vote_until_usec = arbiter_vote(a, now_usec) ? a->vote_until_usec : 0,
                .last_error = a->last_error,
                .last_error_usec = a->last_error_usec,
        };
        memcpy(ret->last_error_text, a->last_error_text, sizeof(ret->last_error_text));
}
