/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arbiter-sim.c: the witness partition simulator (arbiter-sim.h).
 */
#include "tests/golden/arbiter-sim.h"

#define PPM INT64_C(1000000)

static void logf_(struct sim *s, const char *who, const char *fmt, ...) _printf_(3, 4);
static void logf_(struct sim *s, const char *who, const char *fmt, ...) {
        char buf[1024];
        va_list ap;
        if (!s->log)
                return;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        s->log(s->log_userdata, s->now_usec, who, buf);
}

static void violation(struct sim *s, const char *fmt, ...) _printf_(2, 3);
static void violation(struct sim *s, const char *fmt, ...) {
        char buf[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (s->violations++ == 0)
                snprintf(s->first_violation, sizeof(s->first_violation), "at %" PRIu64 "us: %s", s->now_usec, buf);
        logf_(s, "CHECK", "VIOLATION: %s", buf);
}

static uint64_t rnd(struct sim *s) {
        s->rng ^= s->rng >> 12;
        s->rng ^= s->rng << 25;
        s->rng ^= s->rng >> 27;
        return s->rng * UINT64_C(0x2545f4914f6cdd1d);
}

static uint64_t delay(struct sim *s, const struct sim_part *p) {
        if (p->delay_max_usec <= p->delay_min_usec || s->rng == 0)
                return p->delay_min_usec;
        return p->delay_min_usec + rnd(s) % (p->delay_max_usec - p->delay_min_usec + 1);
}

const char *sim_link_to_string(enum sim_link l) {
        static const char *const names[] = {
                [SIM_LINK_OK] = "ok",
                [SIM_LINK_DOWN] = "down",
                [SIM_LINK_5XX] = "5xx",
                [SIM_LINK_LOSE_REPLY] = "lose-reply",
        };
        return (size_t)l < ELEMENTSOF(names) ? names[l] : "invalid";
}

uint64_t sim_local_usec(const struct sim_part *p, uint64_t t_usec) {
        return (uint64_t)(p->offset_usec + (int64_t)t_usec + (int64_t)t_usec * p->ppm / PPM);
}

/* The first real time >= now at which p's clock reads at least local. */
static uint64_t real_for_local(const struct sim *s, const struct sim_part *p, uint64_t local) {
        uint64_t cur = sim_local_usec(p, s->now_usec);
        if (local <= cur)
                return s->now_usec;
        if (local == UINT64_MAX)
                return UINT64_MAX;
        uint64_t t = s->now_usec + (uint64_t)((double)(local - cur) * (double)PPM / (double)(PPM + p->ppm));
        while (sim_local_usec(p, t) < local)
                t++;
        while (t > s->now_usec && sim_local_usec(p, t - 1) >= local)
                t--;
        return t;
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                     */

void sim_init(struct sim *s, const struct arbiter_config *cfg) {
        *s = (struct sim){ .cfg = *cfg, .writer = -1 };
        arbiter_config_defaults(&s->cfg);
}

void sim_done(struct sim *s) {
        for (size_t i = 0; i < s->n_parts; i++)
                s->parts[i].arb = arbiter_free(s->parts[i].arb);
}

int sim_add_part(struct sim *s, const char *name, struct arbiter_partition id, struct arbiter_position pos,
                 int64_t offset_usec, int32_t ppm) {
        if (s->n_parts == SIM_PARTS_MAX)
                return -ENOSPC;
        struct sim_part *p = &s->parts[s->n_parts];
        *p = (struct sim_part){ .id = id, .pos = pos, .offset_usec = offset_usec, .ppm = ppm };
        snprintf(p->name, sizeof(p->name), "%s", name);
        return (int)s->n_parts++;
}

int sim_find_part(const struct sim *s, const char *name) {
        for (size_t i = 0; i < s->n_parts; i++)
                if (streq(s->parts[i].name, name))
                        return (int)i;
        return -ENOENT;
}

/* ------------------------------------------------------------------------ */
/* Driving the arbiters                                                      */

static void send(struct sim *s, size_t i, const struct arbiter_actions *a) {
        struct sim_part *p = &s->parts[i];
        if (s->log_ops) {
                if (a->op == ARBITER_OP_READ)
                        logf_(s, p->name, "read #%" PRIu64, a->op_id);
                else
                        logf_(s, p->name,
                              "write #%" PRIu64 " expect %" PRIu64 " -> gen %" PRIu64 " holder %" PRIu32 "/%" PRIu64
                              " pos %" PRIu64 "/%" PRIu64,
                              a->op_id, a->expect_generation, a->record.generation, a->record.holder.nodeid,
                              a->record.holder.ring_seq, a->record.position.epoch, a->record.position.version);
        }
        if (p->link == SIM_LINK_DOWN)
                return; /* lost on the way */
        struct sim_msg *m = NULL;
        for (size_t k = 0; k < SIM_MSGS_MAX; k++)
                if (!p->msgs[k].used) {
                        m = &p->msgs[k];
                        break;
                }
        if (!m)
                return; /* the network holds no more: this one is lost too */
        *m = (struct sim_msg){
                .used = true,
                .op_id = a->op_id,
                .op = a->op,
                .expect_generation = a->expect_generation,
                .record = a->record,
                .arrive_usec = s->now_usec + delay(s, p),
                .lost_reply = p->link == SIM_LINK_LOSE_REPLY,
                .force_5xx = p->link == SIM_LINK_5XX,
        };
}

static void step(struct sim *s, size_t i, const struct arbiter_event *ev) {
        struct sim_part *p = &s->parts[i];
        struct arbiter_actions out;
        uint64_t local = sim_local_usec(p, s->now_usec);
        int r = arbiter_step(p->arb, ev, local, &out);
        if (r < 0) {
                violation(s, "%s: arbiter_step refused an event: %s", p->name, strerror(-r));
                return;
        }
        if (out.transition[0])
                logf_(s, p->name, "%s%s%s", out.transition, out.reason[0] ? ": " : "", out.reason);
        else if (out.reason[0])
                logf_(s, p->name, "%s", out.reason);
        if (out.vote != p->vote)
                logf_(s, p->name, "vote %s", out.vote ? "cast" : "withdrawn");
        p->vote = out.vote;
        if (out.vote)
                p->cast_local_usec = local;
        p->wakeup_local_usec = out.wakeup_usec;
        if (out.op != ARBITER_OP_NONE)
                send(s, i, &out);
}

int sim_start(struct sim *s, size_t i) {
        struct sim_part *p = &s->parts[i];
        if (!p->arb) {
                int r = arbiter_new(&s->cfg, &p->arb, NULL);
                if (r < 0)
                        return r;
        }
        step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_START, .partition = p->id, .position = p->pos });
        return 0;
}

void sim_stop(struct sim *s, size_t i) {
        if (s->parts[i].arb && !s->parts[i].frozen)
                step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_STOP });
}

/* The time until which a process that can no longer step still counts
 * as voting: votequorum keeps a cast vote for `linger` after the last poll,
 * and the last poll may have been at this very moment if the arbiter said
 * the vote was held. */
static uint64_t linger_until(const struct sim *s, const struct sim_part *p) {
        uint64_t local = sim_local_usec(p, s->now_usec);
        return arbiter_vote(p->arb, local) ? local + s->cfg.linger_usec : 0;
}

void sim_crash(struct sim *s, size_t i) {
        struct sim_part *p = &s->parts[i];
        if (!p->arb)
                return;
        if (!p->frozen)
                p->linger_until_local = linger_until(s, p);
        p->arb = arbiter_free(p->arb);
        p->frozen = false;
        p->vote = false;
        /* Requests still on the way reach the witness, but their answers go
         * nowhere: a restarted process has new connections. */
        for (size_t k = 0; k < SIM_MSGS_MAX; k++) {
                if (p->msgs[k].arrived)
                        p->msgs[k].used = false;
                p->msgs[k].lost_reply = true;
        }
        logf_(s, p->name, "crashed");
}

void sim_freeze(struct sim *s, size_t i, bool frozen) {
        struct sim_part *p = &s->parts[i];
        if (!p->arb || p->frozen == frozen)
                return;
        if (frozen)
                p->linger_until_local = linger_until(s, p);
        p->frozen = frozen;
        logf_(s, p->name, "%s", frozen ? "frozen" : "thawed");
        if (!frozen)
                step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_TICK });
}

void sim_set_position(struct sim *s, size_t i, struct arbiter_position pos) {
        struct sim_part *p = &s->parts[i];
        p->pos = pos;
        if (p->arb && !p->frozen)
                step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_POSITION, .position = pos });
}

void sim_set_ring(struct sim *s, size_t i, uint64_t ring_seq) {
        struct sim_part *p = &s->parts[i];
        p->id.ring_seq = ring_seq;
        if (p->arb && !p->frozen)
                step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_PARTITION, .partition = p->id });
}

void sim_set_link(struct sim *s, size_t i, enum sim_link link, uint64_t delay_min_usec, uint64_t delay_max_usec) {
        struct sim_part *p = &s->parts[i];
        p->link = link;
        p->delay_min_usec = delay_min_usec;
        p->delay_max_usec = MAX(delay_min_usec, delay_max_usec);
}

void sim_set_witness(struct sim *s, enum sim_witness_fault fault) {
        s->fault = fault;
}

void sim_set_content(struct sim *s, enum sim_content content, const struct arbiter_record *record) {
        s->content = content;
        s->writer = -1;
        s->max_recorded = (struct arbiter_position){};
        if (content == SIM_CONTENT_RECORD) {
                s->record = *record;
                if (streq(record->cluster_uuid, s->cfg.cluster_uuid))
                        s->max_recorded = record->position;
        }
}

/* ------------------------------------------------------------------------ */
/* The witness                                                               */

static bool effective(const struct sim *s, size_t i) {
        const struct sim_part *p = &s->parts[i];
        uint64_t local = sim_local_usec(p, s->now_usec);
        if (p->arb && !p->frozen && arbiter_vote(p->arb, local))
                return true;
        return local < p->linger_until_local;
}

static void apply(struct sim *s, size_t i, struct sim_msg *m) {
        struct sim_part *p = &s->parts[i];
        m->arrived = true;
        m->reply_usec = s->now_usec + delay(s, p);
        if (s->fault == SIM_WITNESS_DENIED) {
                m->result = ARBITER_DENIED;
                return;
        }
        if (s->fault == SIM_WITNESS_5XX || m->force_5xx) {
                m->result = ARBITER_FAILED;
                return;
        }
        if (m->op == ARBITER_OP_READ) {
                m->result = s->content == SIM_CONTENT_ABSENT    ? ARBITER_ABSENT
                            : s->content == SIM_CONTENT_CORRUPT ? ARBITER_CORRUPT
                                                                : ARBITER_OK;
                m->reply = s->record;
                return;
        }
        if (s->fault == SIM_WITNESS_READ_ONLY) {
                m->result = ARBITER_DENIED;
                return;
        }
        if (s->content == SIM_CONTENT_CORRUPT) {
                m->result = ARBITER_CORRUPT;
                return;
        }
        uint64_t have = s->content == SIM_CONTENT_ABSENT ? 0 : s->record.generation;
        if (m->expect_generation != have || (have == 0 && s->content != SIM_CONTENT_ABSENT)) {
                m->result = ARBITER_CONFLICT;
                return;
        }

        /* The write is accepted: check what it means. */
        const struct arbiter_record *w = &m->record;
        bool had = s->content == SIM_CONTENT_RECORD;
        if (had && w->holder.nodeid != 0 && s->writer >= 0 && s->writer != (int)i && effective(s, (size_t)s->writer))
                violation(s, "%s took the record while %s still held the vote", p->name, s->parts[s->writer].name);
        if (had && w->holder.nodeid != 0 && !arbiter_position_ge(&p->pos, &s->record.position))
                violation(s, "%s (database %" PRIu64 "/%" PRIu64 ") took a record at %" PRIu64 "/%" PRIu64, p->name,
                          p->pos.epoch, p->pos.version, s->record.position.epoch, s->record.position.version);
        if (had && !arbiter_position_ge(&w->position, &s->record.position))
                violation(s, "%s wrote the record's position back", p->name);
        if (w->generation != have + 1)
                violation(s, "%s wrote generation %" PRIu64 " over %" PRIu64, p->name, w->generation, have);
        s->content = SIM_CONTENT_RECORD;
        s->record = *w;
        s->writer = (int)i;
        s->writes_applied++;
        if (arbiter_position_ge(&w->position, &s->max_recorded))
                s->max_recorded = w->position;
        m->result = ARBITER_OK;
}

/* ------------------------------------------------------------------------ */
/* The event loop                                                            */

/* Handles everything due at now; returns whether anything happened. */
static bool process(struct sim *s) {
        bool any = false;
        for (size_t i = 0; i < s->n_parts; i++) {
                struct sim_part *p = &s->parts[i];
                for (size_t k = 0; k < SIM_MSGS_MAX; k++) {
                        struct sim_msg *m = &p->msgs[k];
                        if (!m->used || m->arrived || m->arrive_usec > s->now_usec)
                                continue;
                        apply(s, i, m);
                        if (m->lost_reply || !p->arb)
                                m->used = false;
                        any = true;
                }
                for (size_t k = 0; k < SIM_MSGS_MAX; k++) {
                        struct sim_msg *m = &p->msgs[k];
                        if (!m->used || !m->arrived || m->reply_usec > s->now_usec || !p->arb || p->frozen)
                                continue;
                        struct sim_msg copy = *m;
                        m->used = false;
                        if (s->log_ops)
                                logf_(s, p->name, "answer #%" PRIu64 ": %s", copy.op_id,
                                      arbiter_result_to_string(copy.result));
                        step(s, i,
                             &(struct arbiter_event){ .type = ARBITER_EV_RESULT,
                                                      .op_id = copy.op_id,
                                                      .result = copy.result,
                                                      .record = copy.result == ARBITER_OK ? &copy.reply : NULL });
                        any = true;
                }
                if (p->arb && !p->frozen && sim_local_usec(p, s->now_usec) >= p->wakeup_local_usec) {
                        step(s, i, &(struct arbiter_event){ .type = ARBITER_EV_TICK });
                        any = true;
                }
        }
        return any;
}

static void check(struct sim *s) {
        int holder = -1;
        for (size_t i = 0; i < s->n_parts; i++) {
                struct sim_part *p = &s->parts[i];
                bool e = effective(s, i);
                if (e && !p->effective)
                        p->acquisitions++;
                p->effective = e;
                if (!e)
                        continue;
                if (holder >= 0)
                        violation(s, "%s and %s both hold the vote", s->parts[holder].name, p->name);
                holder = (int)i;
                if (!arbiter_position_ge(&p->pos, &s->max_recorded))
                        violation(s,
                                  "%s holds the vote with database %" PRIu64 "/%" PRIu64
                                  " behind the witness's %" PRIu64 "/%" PRIu64,
                                  p->name, p->pos.epoch, p->pos.version, s->max_recorded.epoch,
                                  s->max_recorded.version);
        }
}

static uint64_t next_instant(const struct sim *s, uint64_t limit) {
        uint64_t t = limit;
        for (size_t i = 0; i < s->n_parts; i++) {
                const struct sim_part *p = &s->parts[i];
                for (size_t k = 0; k < SIM_MSGS_MAX; k++) {
                        const struct sim_msg *m = &p->msgs[k];
                        if (!m->used)
                                continue;
                        if (!m->arrived)
                                t = MIN(t, m->arrive_usec);
                        else if (p->arb && !p->frozen)
                                t = MIN(t, m->reply_usec);
                }
                if (p->arb && !p->frozen)
                        t = MIN(t, real_for_local(s, p, p->wakeup_local_usec));
                if (p->linger_until_local > sim_local_usec(p, s->now_usec))
                        t = MIN(t, real_for_local(s, p, p->linger_until_local));
                /* The end of a vote is an instant too, for the accounting. */
                if (p->arb && !p->frozen && p->effective && p->wakeup_local_usec != UINT64_MAX)
                        t = MIN(t, real_for_local(s, p, p->wakeup_local_usec));
        }
        return MAX(t, s->now_usec);
}

void sim_run_until(struct sim *s, uint64_t t_usec) {
        for (;;) {
                /* Settle the current instant: a step may send a request
                 * that arrives at once. */
                for (unsigned n = 0; n < 64 && process(s); n++)
                        ;
                check(s);
                uint64_t next = next_instant(s, t_usec);
                if (next == s->now_usec) {
                        /* Something is due now but did not happen (a frozen
                         * process): move on by a microsecond. */
                        if (next >= t_usec)
                                break;
                        next++;
                }
                for (size_t i = 0; i < s->n_parts; i++)
                        if (s->parts[i].effective)
                                s->parts[i].vote_total_usec += next - s->now_usec;
                s->now_usec = next;
                s->instants++;
                if (next >= t_usec) {
                        for (unsigned n = 0; n < 64 && process(s); n++)
                                ;
                        check(s);
                        break;
                }
        }
}

int sim_holder(const struct sim *s) {
        for (size_t i = 0; i < s->n_parts; i++)
                if (effective(s, i))
                        return (int)i;
        return -1;
}
