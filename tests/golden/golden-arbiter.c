/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * golden-arbiter.c: runs a scripted partition scenario through the witness
 * arbiter (quorum/arbiter-int.h) in the simulator (arbiter-sim.h) and
 * prints what happened as stable text, for the golden cases in
 * tests/golden/cases/golden-arbiter/.
 *
 * Input, one item per line; '#' starts a comment, blank lines are ignored.
 * DUR is a duration ("250ms", "3s", "1m"), POS is EPOCH/VERSION, ID is
 * NODEID/RING:
 *
 *   config [lease=DUR] [renew=DUR] [drift=PPM] [margin=DUR] [linger=DUR]
 *          [timeout=DUR] [retry=DUR]
 *       defaults: lease 3s, drift 1000, margin 100ms, linger 300ms; renew,
 *       timeout and retry follow the lease (arbiter_config_defaults).
 *   partition NAME id=ID [pos=POS] [clock=PPM] [offset=DUR] [delay=DUR]
 *       a partition's leader: its name in the output, its clock's rate
 *       error (signed ppm) and reading at time 0, the one-way delay of its
 *       link to the witness.
 *   witness absent | corrupt | record holder=ID gen=N lease=DUR pos=POS [foreign]
 *       the witness's content at time 0 (default absent).
 *   at TIME ACTION
 *       start NAME | stop NAME | crash NAME | freeze NAME | thaw NAME
 *       pos NAME POS | ring NAME RING | status NAME
 *       link NAME ok|down|5xx|lose-reply [delay=DUR]
 *       witness ok|read-only|denied|5xx      (faults of the witness itself)
 *       witness absent|corrupt|record ...    (its content replaced)
 *   run TIME
 *       the end of the scenario (required, last).
 *
 * Output: one line per transition, vote change and status request,
 * "  T.ttt NAME: text" with T the real time in seconds; then per partition
 * the time it held the vote and how often it took it, the witness's final
 * record, and the checker's verdict ("safe" or the first violation).
 * A malformed case is an error (exit status 2, message on stderr).
 */
#include "tests/golden/arbiter-sim.h"

#define ACTIONS_MAX 256
#define UUID "6f1c2a3b-4d5e-4f60-8172-93a4b5c6d7e8"
#define FOREIGN_UUID "0b9e8d7c-6b5a-4948-8372-615049382716"

struct action {
        uint64_t t_usec;
        unsigned line;
        char text[256];
};

static int fail(unsigned line, const char *msg, const char *text) {
        fprintf(stderr, "line %u: %s: %s\n", line, msg, text);
        return 2;
}

static void print_line(void *userdata, uint64_t t, const char *who, const char *text) {
        (void)userdata;
        printf("%4" PRIu64 ".%03" PRIu64 " %s: %s\n", t / USEC_PER_SEC, t % USEC_PER_SEC / USEC_PER_MSEC, who, text);
}

static bool parse_pos(const char *s, struct arbiter_position *ret) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%s", s);
        char *slash = strchr(buf, '/');
        if (!slash)
                return false;
        *slash = '\0';
        return parse_uint64(buf, &ret->epoch) >= 0 && parse_uint64(slash + 1, &ret->version) >= 0;
}

static bool parse_id(const char *s, struct arbiter_partition *ret) {
        struct arbiter_position p;
        if (!parse_pos(s, &p) || p.epoch > UINT32_MAX)
                return false;
        ret->nodeid = (uint32_t)p.epoch;
        ret->ring_seq = p.version;
        return true;
}

static bool parse_ppm(const char *s, int32_t *ret) {
        int64_t v;
        if (parse_int64(*s == '+' ? s + 1 : s, &v) < 0 || v <= -1000000 || v >= 1000000)
                return false;
        *ret = (int32_t)v;
        return true;
}

/* Parses "holder=ID gen=N lease=DUR pos=POS [foreign]" (the words after
 * "record"). */
static bool parse_record(char **save, struct arbiter_record *ret) {
        struct arbiter_record r = { .lease_usec = 3 * USEC_PER_SEC };
        bool foreign = false;
        char *w;
        while ((w = strtok_r(NULL, " \t\r\n", save))) {
                const char *v;
                if ((v = startswith(w, "holder="))) {
                        if (!streq(v, "none") && !parse_id(v, &r.holder))
                                return false;
                } else if ((v = startswith(w, "gen="))) {
                        if (parse_uint64(v, &r.generation) < 0)
                                return false;
                } else if ((v = startswith(w, "lease="))) {
                        if (parse_duration_usec(v, &r.lease_usec) < 0)
                                return false;
                } else if ((v = startswith(w, "pos="))) {
                        if (!parse_pos(v, &r.position))
                                return false;
                } else if (streq(w, "foreign"))
                        foreign = true;
                else
                        return false;
        }
        snprintf(r.cluster_uuid, sizeof(r.cluster_uuid), "%s", foreign ? FOREIGN_UUID : UUID);
        *ret = r;
        return true;
}

static int part_arg(struct sim *s, char **save, unsigned line) {
        char *name = strtok_r(NULL, " \t\r\n", save);
        int p = name ? sim_find_part(s, name) : -ENOENT;
        if (p < 0)
                fail(line, "unknown partition", strempty(name));
        return p;
}

static void print_status(struct sim *s, size_t i) {
        struct sim_part *p = &s->parts[i];
        struct arbiter_status st;
        char buf[512];
        if (!p->arb) {
                print_line(NULL, s->now_usec, p->name, "status: not running");
                return;
        }
        uint64_t local = sim_local_usec(p, s->now_usec);
        arbiter_get_status(p->arb, local, &st);
        int n = snprintf(buf, sizeof(buf), "status: %s, witness %s, reachable %s, vote %s",
                         arbiter_state_to_string(st.state), arbiter_health_to_string(st.health), yes_no(st.reachable),
                         yes_no(st.vote));
        if (st.known)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n,
                              ", holder %" PRIu32 "/%" PRIu64 " gen %" PRIu64 " pos %" PRIu64 "/%" PRIu64 "%s",
                              st.holder.nodeid, st.holder.ring_seq, st.generation, st.position.epoch,
                              st.position.version, st.behind ? " (we are behind)" : "");
        if (st.last_renewal_usec)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, ", renewed %" PRIu64 "ms ago",
                              (local - st.last_renewal_usec) / USEC_PER_MSEC);
        if (st.last_error)
                snprintf(buf + n, sizeof(buf) - (size_t)n, ", last error %s (%s)", strerror(-st.last_error),
                         st.last_error_text);
        print_line(NULL, s->now_usec, p->name, buf);
}

/* Carries out one "at" action; returns 0 or 2 (malformed). */
static int do_action(struct sim *s, struct action *a) {
        char *save = NULL;
        char *verb = strtok_r(a->text, " \t\r\n", &save);
        int p;

        if (streq(verb, "witness")) {
                char *w = strtok_r(NULL, " \t\r\n", &save);
                if (!w)
                        return fail(a->line, "expected", "witness FAULT|CONTENT");
                print_line(NULL, s->now_usec, "witness", w);
                if (streq(w, "ok"))
                        sim_set_witness(s, SIM_WITNESS_OK);
                else if (streq(w, "read-only"))
                        sim_set_witness(s, SIM_WITNESS_READ_ONLY);
                else if (streq(w, "denied"))
                        sim_set_witness(s, SIM_WITNESS_DENIED);
                else if (streq(w, "5xx"))
                        sim_set_witness(s, SIM_WITNESS_5XX);
                else if (streq(w, "absent"))
                        sim_set_content(s, SIM_CONTENT_ABSENT, NULL);
                else if (streq(w, "corrupt"))
                        sim_set_content(s, SIM_CONTENT_CORRUPT, NULL);
                else if (streq(w, "record")) {
                        struct arbiter_record r;
                        if (!parse_record(&save, &r))
                                return fail(a->line, "bad record", "holder=ID gen=N lease=DUR pos=POS [foreign]");
                        sim_set_content(s, SIM_CONTENT_RECORD, &r);
                } else
                        return fail(a->line, "unknown witness state", w);
                return 0;
        }
        if ((p = part_arg(s, &save, a->line)) < 0)
                return 2;
        struct sim_part *sp = &s->parts[p];
        char *arg = strtok_r(NULL, " \t\r\n", &save);
        if (streq(verb, "start")) {
                print_line(NULL, s->now_usec, sp->name, "started");
                if (sim_start(s, (size_t)p) < 0)
                        return fail(a->line, "cannot start", sp->name);
        } else if (streq(verb, "stop"))
                sim_stop(s, (size_t)p);
        else if (streq(verb, "crash"))
                sim_crash(s, (size_t)p);
        else if (streq(verb, "freeze") || streq(verb, "thaw"))
                sim_freeze(s, (size_t)p, streq(verb, "freeze"));
        else if (streq(verb, "status"))
                print_status(s, (size_t)p);
        else if (streq(verb, "pos")) {
                struct arbiter_position pos;
                if (!arg || !parse_pos(arg, &pos))
                        return fail(a->line, "expected", "pos NAME EPOCH/VERSION");
                char text[64];
                snprintf(text, sizeof(text), "database now at %" PRIu64 "/%" PRIu64, pos.epoch, pos.version);
                print_line(NULL, s->now_usec, sp->name, text);
                sim_set_position(s, (size_t)p, pos);
        } else if (streq(verb, "ring")) {
                uint64_t ring;
                if (!arg || parse_uint64(arg, &ring) < 0)
                        return fail(a->line, "expected", "ring NAME RING");
                sim_set_ring(s, (size_t)p, ring);
        } else if (streq(verb, "link")) {
                static const char *const names[] = { "ok", "down", "5xx", "lose-reply" };
                size_t k;
                uint64_t d = sp->delay_min_usec;
                for (k = 0; arg && k < ELEMENTSOF(names); k++)
                        if (streq(arg, names[k]))
                                break;
                if (!arg || k == ELEMENTSOF(names))
                        return fail(a->line, "expected", "link NAME ok|down|5xx|lose-reply [delay=DUR]");
                char *opt = strtok_r(NULL, " \t\r\n", &save);
                const char *v = opt ? startswith(opt, "delay=") : NULL;
                if (opt && (!v || parse_duration_usec(v, &d) < 0))
                        return fail(a->line, "bad option", opt);
                char text[64];
                snprintf(text, sizeof(text), "link %s, delay %" PRIu64 "ms", names[k], d / USEC_PER_MSEC);
                print_line(NULL, s->now_usec, sp->name, text);
                sim_set_link(s, (size_t)p, (enum sim_link)k, d, d);
        } else
                return fail(a->line, "unknown action", verb);
        return 0;
}

static int parse_config(char **save, struct arbiter_config *c, unsigned line) {
        char *w;
        while ((w = strtok_r(NULL, " \t\r\n", save))) {
                char *eq = strchr(w, '=');
                if (!eq)
                        return fail(line, "expected KEY=VALUE", w);
                *eq = '\0';
                const char *v = eq + 1;
                int r;
                if (streq(w, "drift"))
                        r = parse_uint32(v, &c->drift_ppm);
                else if (streq(w, "lease"))
                        r = parse_duration_usec(v, &c->lease_usec);
                else if (streq(w, "renew"))
                        r = parse_duration_usec(v, &c->renew_usec);
                else if (streq(w, "margin"))
                        r = parse_duration_usec(v, &c->margin_usec);
                else if (streq(w, "linger"))
                        r = parse_duration_usec(v, &c->linger_usec);
                else if (streq(w, "timeout"))
                        r = parse_duration_usec(v, &c->op_timeout_usec);
                else if (streq(w, "retry"))
                        r = parse_duration_usec(v, &c->retry_usec);
                else
                        return fail(line, "unknown config key", w);
                if (r < 0)
                        return fail(line, "bad value", v);
        }
        return 0;
}

int main(void) {
        struct arbiter_config cfg = {
                .cluster_uuid = UUID,
                .lease_usec = 3 * USEC_PER_SEC,
                .drift_ppm = 1000,
                .margin_usec = 100 * USEC_PER_MSEC,
                .linger_usec = 300 * USEC_PER_MSEC,
        };
        struct {
                char name[SIM_NAME_MAX];
                struct arbiter_partition id;
                struct arbiter_position pos;
                int32_t ppm;
                uint64_t offset, delay;
        } parts[SIM_PARTS_MAX];
        size_t n_parts = 0, n_actions = 0;
        static struct action actions[ACTIONS_MAX];
        enum sim_content content = SIM_CONTENT_ABSENT;
        struct arbiter_record record = {};
        uint64_t end = 0;
        bool have_end = false;
        char buf[1024];
        unsigned line = 0;

        while (fgets(buf, sizeof(buf), stdin)) {
                char *save = NULL, *hash = strchr(buf, '#');
                line++;
                if (hash)
                        *hash = '\0';
                char *word = strtok_r(buf, " \t\r\n", &save);
                if (!word)
                        continue;
                if (have_end)
                        return fail(line, "nothing may follow", "run");
                if (streq(word, "config")) {
                        if (parse_config(&save, &cfg, line) != 0)
                                return 2;
                } else if (streq(word, "partition")) {
                        char *name = strtok_r(NULL, " \t\r\n", &save), *w;
                        if (!name || strlen(name) >= SIM_NAME_MAX || n_parts == SIM_PARTS_MAX)
                                return fail(line, "bad partition", strempty(name));
                        typeof(parts[0]) *p = &parts[n_parts];
                        *p = (typeof(parts[0])){ .offset = 1000 * USEC_PER_SEC, .delay = 10 * USEC_PER_MSEC };
                        snprintf(p->name, sizeof(p->name), "%s", name);
                        bool have_id = false;
                        while ((w = strtok_r(NULL, " \t\r\n", &save))) {
                                const char *v;
                                bool ok;
                                if ((v = startswith(w, "id=")))
                                        ok = have_id = parse_id(v, &p->id);
                                else if ((v = startswith(w, "pos=")))
                                        ok = parse_pos(v, &p->pos);
                                else if ((v = startswith(w, "clock=")))
                                        ok = parse_ppm(v, &p->ppm);
                                else if ((v = startswith(w, "offset=")))
                                        ok = parse_duration_usec(v, &p->offset) >= 0;
                                else if ((v = startswith(w, "delay=")))
                                        ok = parse_duration_usec(v, &p->delay) >= 0;
                                else
                                        ok = false;
                                if (!ok)
                                        return fail(line, "bad partition option", w);
                        }
                        if (!have_id || p->id.nodeid == 0)
                                return fail(line, "partition needs", "id=NODEID/RING with NODEID > 0");
                        n_parts++;
                } else if (streq(word, "witness")) {
                        char *w = strtok_r(NULL, " \t\r\n", &save);
                        if (w && streq(w, "absent"))
                                content = SIM_CONTENT_ABSENT;
                        else if (w && streq(w, "corrupt"))
                                content = SIM_CONTENT_CORRUPT;
                        else if (w && streq(w, "record") && parse_record(&save, &record))
                                content = SIM_CONTENT_RECORD;
                        else
                                return fail(line, "expected", "witness absent|corrupt|record ...");
                } else if (streq(word, "at")) {
                        char *t = strtok_r(NULL, " \t\r\n", &save), *rest = strtok_r(NULL, "\r\n", &save);
                        if (n_actions == ACTIONS_MAX)
                                return fail(line, "too many actions", "at");
                        struct action *a = &actions[n_actions];
                        if (!t || !rest || parse_duration_usec(t, &a->t_usec) < 0)
                                return fail(line, "expected", "at TIME ACTION");
                        if (n_actions > 0 && a->t_usec < actions[n_actions - 1].t_usec)
                                return fail(line, "actions must be in time order", t);
                        a->line = line;
                        snprintf(a->text, sizeof(a->text), "%s", rest);
                        n_actions++;
                } else if (streq(word, "run")) {
                        char *t = strtok_r(NULL, " \t\r\n", &save);
                        if (!t || parse_duration_usec(t, &end) < 0)
                                return fail(line, "expected", "run TIME");
                        have_end = true;
                } else
                        return fail(line, "unknown item", word);
        }
        if (!have_end)
                return fail(line, "missing", "run TIME");

        struct arbiter_config checked = cfg;
        struct err e = {};
        arbiter_config_defaults(&checked);
        if (arbiter_config_check(&checked, &e) < 0) {
                printf("config refused: %s\n", e.msg);
                return 0;
        }
        printf("lease %" PRIu64 "ms, renew %" PRIu64 "ms, drift %" PRIu32 "ppm, margin %" PRIu64 "ms, linger %" PRIu64
               "ms: a holder keeps the vote %" PRIu64 "ms after a renewal starts, a contender waits %" PRIu64 "ms\n",
               checked.lease_usec / USEC_PER_MSEC, checked.renew_usec / USEC_PER_MSEC, checked.drift_ppm,
               checked.margin_usec / USEC_PER_MSEC, checked.linger_usec / USEC_PER_MSEC,
               arbiter_hold_usec(&checked) / USEC_PER_MSEC,
               arbiter_wait_usec(&checked, checked.lease_usec) / USEC_PER_MSEC);

        struct sim s;
        sim_init(&s, &cfg);
        s.log = print_line;
        sim_set_content(&s, content, &record);
        for (size_t i = 0; i < n_parts; i++) {
                int r = sim_add_part(&s, parts[i].name, parts[i].id, parts[i].pos, (int64_t)parts[i].offset,
                                     parts[i].ppm);
                if (r < 0)
                        return fail(0, "cannot add partition", parts[i].name);
                sim_set_link(&s, (size_t)r, SIM_LINK_OK, parts[i].delay, parts[i].delay);
        }
        int status = 0;
        for (size_t k = 0; k < n_actions && status == 0; k++) {
                if (actions[k].t_usec > end)
                        break;
                sim_run_until(&s, actions[k].t_usec);
                status = do_action(&s, &actions[k]);
        }
        if (status == 0)
                sim_run_until(&s, end);

        printf("-- after %" PRIu64 "s\n", end / USEC_PER_SEC);
        for (size_t i = 0; i < s.n_parts; i++)
                printf("%s: held the vote %" PRIu64 "ms in %u spells%s\n", s.parts[i].name,
                       s.parts[i].vote_total_usec / USEC_PER_MSEC, s.parts[i].acquisitions,
                       s.parts[i].effective ? ", holds it now" : "");
        if (s.content == SIM_CONTENT_RECORD)
                printf("witness: holder %" PRIu32 "/%" PRIu64 " gen %" PRIu64 " pos %" PRIu64 "/%" PRIu64 "%s\n",
                       s.record.holder.nodeid, s.record.holder.ring_seq, s.record.generation, s.record.position.epoch,
                       s.record.position.version, streq(s.record.cluster_uuid, UUID) ? "" : " (another cluster's)");
        else
                printf("witness: %s\n", s.content == SIM_CONTENT_ABSENT ? "no record" : "corrupt");
        if (s.violations)
                printf("checker: %u violations, first %s\n", s.violations, s.first_violation);
        else
                printf("checker: safe\n");
        sim_done(&s);
        return status;
}
