/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-executor.c: what this node runs. Every node converges its roles
 * to the database: a role runs here when the database names this node its
 * owner, the role should be started, and it is active nowhere else
 * (roles.active_node is empty or this node).
 *
 * The order of things is what keeps a role from running twice:
 *   - before starting anything, the node reports "starting" and waits until
 *     that is committed: from then on the cluster knows the role may run
 *     here, and will fence this node before starting it elsewhere;
 *   - "stopped" is reported only after every resource stopped;
 *   - a node that loses quorum stops everything at once and stops petting
 *     its watchdog; once everything is stopped it disarms it. A node too
 *     hung to do either is reset by the watchdog before the others act.
 *
 * Per role, one explicit state machine (ex_transition) with one agent
 * action at a time. A clusterd that restarts probes (monitor) the roles the
 * database says are active here or placed here and adopts what runs: VMs
 * keep running across a restart of clusterd.
 */
#include <sys/sysinfo.h>

#include "clusterd/clusterd-int.h"
#include "clusterd/exec-int.h"
#include "clusterd/log.h"
#include "clusterd/roles-int.h"
#include "clusterd/watchdog-int.h"

#define STOP_RETRIES 3
#define STOP_RETRY_DELAY_USEC (1 * USEC_PER_SEC)
#define RESTART_DELAY_USEC (200 * USEC_PER_MSEC)
#define MEMORY_RESERVE_MIB 1024
#define ENV_MAX 96
/* Where OCF agents keep their state files (resource-agents' default);
 * created at start, since it lives on a tmpfs. */
#define RSCTMP_DIR "/run/resource-agents"

enum ex_state {
        EX_UNKNOWN, /* not looked at yet since clusterd started */
        EX_PROBING, /* monitor of each resource, to learn what runs */
        EX_STOPPED,
        EX_ANNOUNCING,  /* "starting" submitted, waiting for it to be committed */
        EX_STARTING,    /* start actions, in order */
        EX_RUNNING,     /* monitors every interval */
        EX_STOPPING,    /* stop actions, in reverse order */
        EX_STOP_FAILED, /* a stop failed STOP_RETRIES times: the node fences itself */
        _EX_STATE_MAX,
};

static const char *const state_names[_EX_STATE_MAX] = {
        [EX_UNKNOWN] = "unknown",       [EX_PROBING] = "probing",         [EX_STOPPED] = "stopped",
        [EX_ANNOUNCING] = "announcing", [EX_STARTING] = "starting",       [EX_RUNNING] = "running",
        [EX_STOPPING] = "stopping",     [EX_STOP_FAILED] = "stop-failed",
};

enum ex_event {
        EV_PROBE, /* begin probing */
        EV_PROBED_RUNNING,
        EV_PROBED_STOPPED,
        EV_PROBED_PARTIAL, /* some resources run: stop them */
        EV_ANNOUNCE,       /* should run here: report "starting" */
        EV_ANNOUNCED,      /* committed: start */
        EV_STARTED,        /* every resource started */
        EV_FAILED,         /* a start or monitor failed: stop, then restart or give up */
        EV_STOP,           /* should not run here any more */
        EV_STOPPED,        /* every resource stopped */
        EV_STOP_FAILED,
        _EV_MAX,
};

static const char *const event_names[_EV_MAX] = {
        [EV_PROBE] = "probe",
        [EV_PROBED_RUNNING] = "probed running",
        [EV_PROBED_STOPPED] = "probed stopped",
        [EV_PROBED_PARTIAL] = "probed partly running",
        [EV_ANNOUNCE] = "announce",
        [EV_ANNOUNCED] = "announced",
        [EV_STARTED] = "started",
        [EV_FAILED] = "failed",
        [EV_STOP] = "stop",
        [EV_STOPPED] = "stopped",
        [EV_STOP_FAILED] = "stop failed",
};

struct ex_role {
        struct executor *x;
        char *name; /* owned */
        enum ex_state state;
        struct role_def def; /* owned: the definition this run started with */
        char *def_text;      /* owned: its canonical JSON, to notice edits */
        size_t step;         /* resource index of the action in flight */
        bool busy;           /* an agent action is in flight */
        uint64_t exec_id;
        size_t probed_running;   /* resources a probe found running */
        bool restart_after_stop; /* a failure: start again once stopped (local restart) */
        bool fail_after_stop;    /* a failure past the restart limit: report "failed" once stopped */
        char *failure;           /* owned: what failed, for the report */
        unsigned stop_attempts;
        uint64_t *restarts; /* owned: monotonic times of local restarts */
        size_t n_restarts;
        qb_loop_timer_handle timer; /* monitor interval, or a retry */
        bool timer_armed;
        char *reported;   /* owned: the last status committed (or in flight) */
        bool report_busy; /* a ROLE_STATUS write is in flight */
        bool gone;        /* no longer in the database: free once stopped */
};

struct executor {
        struct clusterd *c;
        struct ex_role **roles; /* owned */
        size_t n_roles;
        bool armed;
        qb_loop_timer_handle job;
        struct watchdog *wd;      /* owned */
        uint64_t wd_timeout_usec; /* in force once armed; 0 = no watchdog */
        qb_loop_timer_handle pet_timer;
        bool pet_armed;
        bool self_fence;     /* a stop failed: stop petting for good */
        bool startup_disarm; /* a crashed predecessor may have left it armed: disarm once nothing runs */
        bool converged_once; /* the roles were read from the database at least once */
        bool props_busy;
        bool props_sent; /* this run's capacity is in the database */
};

static void ex_transition(struct ex_role *r, enum ex_event ev);
static void converge(struct executor *x);

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static const char *self(struct executor *x) {
        return x->c->node_name;
}

static struct ex_role *find_role(struct executor *x, const char *name) {
        for (size_t i = 0; i < x->n_roles; i++)
                if (streq(x->roles[i]->name, name))
                        return x->roles[i];
        return NULL;
}

static void timer_stop(struct ex_role *r) {
        if (r->timer_armed)
                qb_loop_timer_del(r->x->c->loop, r->timer);
        r->timer_armed = false;
}

static void timer_fired(void *data);

static void timer_start(struct ex_role *r, uint64_t usec) {
        timer_stop(r);
        if (qb_loop_timer_add(r->x->c->loop, QB_LOOP_MED, usec * NSEC_PER_USEC, r, timer_fired, &r->timer) == 0)
                r->timer_armed = true;
}

static void role_free(struct ex_role *r) {
        if (!r)
                return;
        timer_stop(r);
        if (r->busy)
                (void)exec_cancel(r->x->c->exec, r->exec_id);
        free(r->name);
        role_def_done(&r->def);
        free(r->def_text);
        free(r->failure);
        free(r->restarts);
        free(r->reported);
        free(r);
}

static void set_failure(struct ex_role *r, const char *fmt, ...) _printf_(2, 3);
static void set_failure(struct ex_role *r, const char *fmt, ...) {
        va_list ap;
        free(r->failure);
        va_start(ap, fmt);
        if (vasprintf(&r->failure, fmt, ap) < 0)
                r->failure = NULL;
        va_end(ap);
}

/* The agent's executable: ours by short name, others as ocf:PROVIDER:TYPE. */
static char *agent_path(struct clusterd *c, const char *agent) {
        const char *rest = startswith(agent, "ocf:");
        if (!rest)
                return xasprintf("%s/%s", c->config->agents.directory, agent);
        const char *colon = strchr(rest, ':');
        return xasprintf("%s/resource.d/%.*s/%s", c->config->agents.ocf_root, (int)(colon - rest), rest, colon + 1);
}

static void env_add(char **env, size_t *n, char *s) {
        if (*n < ENV_MAX - 1)
                env[(*n)++] = s;
        else
                free(s);
}

/* ------------------------------------------------------------------------ */
/* Agent actions                                                             */

static void action_done(uint64_t id, const struct exec_result *res, void *userdata);

/* Runs action on resource r->step with the role's timeout for it. */
static int run_action(struct ex_role *r, const char *action) {
        struct clusterd *c = r->x->c;
        const struct role_resource *res = &r->def.resources[r->step];
        _cleanup_free_ char *path = agent_path(c, res->agent);
        char *env[ENV_MAX] = {};
        size_t n = 0;
        uint64_t timeout = streq(action, "start")  ? r->def.start_timeout_usec
                           : streq(action, "stop") ? r->def.stop_timeout_usec
                                                   : r->def.monitor_timeout_usec;
        const char *rest = startswith(res->agent, "ocf:");
        char *const args[] = { (char *)action, NULL };
        int ret;

        env_add(env, &n, xstrdup(EXEC_DEFAULT_PATH));
        env_add(env, &n, xasprintf("OCF_ROOT=%s", c->config->agents.ocf_root));
        env_add(env, &n, xstrdup("OCF_RA_VERSION_MAJOR=1"));
        env_add(env, &n, xstrdup("OCF_RA_VERSION_MINOR=1"));
        env_add(env, &n, xasprintf("OCF_RESOURCE_INSTANCE=%s.%s", r->name, res->name));
        env_add(env, &n, xasprintf("OCF_RESOURCE_TYPE=%s", rest ? strrchr(rest, ':') + 1 : res->agent));
        if (rest)
                env_add(env, &n, xasprintf("OCF_RESOURCE_PROVIDER=%.*s", (int)(strchr(rest, ':') - rest), rest));
        else
                env_add(env, &n, xstrdup("OCF_RESOURCE_PROVIDER=clusterd"));
        env_add(env, &n, xasprintf("OCF_RESKEY_CRM_meta_timeout=%" PRIu64, timeout / USEC_PER_MSEC));
        if (streq(action, "monitor") && r->state == EX_RUNNING)
                env_add(env, &n,
                        xasprintf("OCF_RESKEY_CRM_meta_interval=%" PRIu64,
                                  r->def.monitor_interval_usec / USEC_PER_MSEC));
        env_add(env, &n, xstrdup("HA_RSCTMP=" RSCTMP_DIR));
        env_add(env, &n, xasprintf("CLUSTERD_NODE=%s", self(r->x)));
        for (size_t i = 0; i < res->n_params; i++)
                env_add(env, &n, xasprintf("OCF_RESKEY_%s=%s", res->params[i].name, res->params[i].value));

        _cleanup_free_ char *what = xasprintf("%s/%s %s", r->name, res->name, action);
        struct exec_request req = {
                .path = path, .args = args, .env = env, .timeout_usec = timeout, .description = what
        };
        ret = exec_run(c->exec, &req, action_done, r, &r->exec_id);
        for (size_t i = 0; i < n; i++)
                free(env[i]);
        if (ret < 0)
                return log_warning_errno(ret, "Role '%s': cannot run %s of resource '%s': %m", r->name, action,
                                         res->name);
        r->busy = true;
        return 0;
}

static const char *current_action(const struct ex_role *r) {
        switch (r->state) {
        case EX_PROBING:
        case EX_RUNNING:
                return "monitor";
        case EX_STARTING:
                return "start";
        default:
                return "stop";
        }
}

/* Starts the next stop (reverse order) or finishes. */
static void stop_next(struct ex_role *r) {
        while (r->step > 0) {
                r->step--;
                if (run_action(r, "stop") >= 0)
                        return;
        }
        ex_transition(r, EV_STOPPED);
}

static void start_next(struct ex_role *r) {
        if (r->step >= r->def.n_resources) {
                ex_transition(r, EV_STARTED);
                return;
        }
        if (run_action(r, "start") < 0) {
                set_failure(r, "resource '%s' could not be started", r->def.resources[r->step].name);
                r->step++; /* stop includes it */
                ex_transition(r, EV_FAILED);
        }
}

static void probe_next(struct ex_role *r) {
        if (r->step >= r->def.n_resources) {
                if (r->probed_running == r->def.n_resources && r->def.n_resources > 0)
                        ex_transition(r, EV_PROBED_RUNNING);
                else if (r->probed_running == 0)
                        ex_transition(r, EV_PROBED_STOPPED);
                else
                        ex_transition(r, EV_PROBED_PARTIAL);
                return;
        }
        if (run_action(r, "monitor") < 0)
                ex_transition(r, EV_PROBED_PARTIAL);
}

static void monitor_next(struct ex_role *r) {
        if (r->step >= r->def.n_resources) {
                timer_start(r, r->def.monitor_interval_usec);
                return;
        }
        if (run_action(r, "monitor") < 0)
                timer_start(r, r->def.monitor_interval_usec);
}

static void action_done(uint64_t id, const struct exec_result *res, void *userdata) {
        struct ex_role *r = userdata;
        const struct role_resource *rs = &r->def.resources[r->step];
        enum exec_class cls = exec_result_class(res);
        char buf[256];

        r->busy = false;
        exec_result_format(res, buf, sizeof(buf));
        if (cls != EXEC_CLASS_SUCCESS && !(cls == EXEC_CLASS_NOT_RUNNING && r->state != EX_STARTING))
                log_info("Role '%s': %s of resource '%s': %s%s%.200s", r->name, current_action(r), rs->name, buf,
                         res->output && res->output[0] ? "; output: " : "", strempty(res->output));

        switch (r->state) {
        case EX_PROBING:
                if (cls == EXEC_CLASS_SUCCESS)
                        r->probed_running++;
                else if (cls != EXEC_CLASS_NOT_RUNNING && cls != EXEC_CLASS_CONFIG_ERROR &&
                         cls != EXEC_CLASS_NODE_ERROR)
                        /* Unknown: assume it may run, so that it is stopped. */
                        r->probed_running++;
                r->step++;
                probe_next(r);
                break;
        case EX_STARTING:
                if (cls != EXEC_CLASS_SUCCESS) {
                        set_failure(r, "start of resource '%s' failed: %s", rs->name, buf);
                        r->step++; /* a failed start may have half-started it */
                        ex_transition(r, EV_FAILED);
                        break;
                }
                r->step++;
                start_next(r);
                break;
        case EX_RUNNING:
                if (cls != EXEC_CLASS_SUCCESS) {
                        set_failure(r, "monitor of resource '%s': %s", rs->name, buf);
                        r->step = r->def.n_resources;
                        ex_transition(r, EV_FAILED);
                        break;
                }
                r->step++;
                monitor_next(r);
                break;
        case EX_STOPPING:
                /* An agent that is not there (or says it is not installed)
                 * cannot have started anything here. */
                if (res->error == -ENOENT || res->exit_status == OCF_ERR_INSTALLED)
                        cls = EXEC_CLASS_NOT_RUNNING;
                if (cls != EXEC_CLASS_SUCCESS && cls != EXEC_CLASS_NOT_RUNNING) {
                        if (++r->stop_attempts >= STOP_RETRIES) {
                                set_failure(r, "stop of resource '%s' failed %u times: %s", rs->name, r->stop_attempts,
                                            buf);
                                ex_transition(r, EV_STOP_FAILED);
                                break;
                        }
                        r->step++; /* retry the same resource */
                        timer_start(r, STOP_RETRY_DELAY_USEC);
                        break;
                }
                r->stop_attempts = 0;
                stop_next(r);
                break;
        default:
                break;
        }
        converge(r->x);
}

static void timer_fired(void *data) {
        struct ex_role *r = data;

        r->timer_armed = false;
        switch (r->state) {
        case EX_RUNNING:
                if (!r->busy) {
                        r->step = 0;
                        monitor_next(r);
                }
                break;
        case EX_STOPPING:
                if (!r->busy)
                        stop_next(r);
                break;
        case EX_STOPPED:
                converge(r->x);
                break;
        default:
                break;
        }
}

/* ------------------------------------------------------------------------ */
/* Reports                                                                   */

struct report {
        struct executor *x;
        char *role;
        char *status;
};

static void report_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct report *p = userdata;
        struct executor *x = p->x->c->executor;
        struct ex_role *role = x ? find_role(x, p->role) : NULL;

        if (role) {
                role->report_busy = false;
                if (r < 0 || (res && res->r < 0)) {
                        log_info("Role '%s': status '%s' not recorded (%s); retrying", p->role, p->status,
                                 r < 0 ? message : res->message);
                        free(role->reported);
                        role->reported = NULL;
                        /* Not allowed to start (another node holds it, or it
                         * was placed elsewhere meanwhile): do not. */
                        if (role->state == EX_ANNOUNCING)
                                role->state = EX_STOPPED;
                } else if (role->state == EX_ANNOUNCING && streq(p->status, "starting"))
                        ex_transition(role, EV_ANNOUNCED);
        }
        if (x)
                executor_poke(p->x->c);
        free(p->role);
        free(p->status);
        free(p);
}

/* Submits this node's status of a role. failure counts it towards the
 * role's failover threshold. Returns -EAGAIN when it cannot be written now
 * (it is tried again on the next convergence). */
static int report(struct ex_role *r, const char *status, const char *message, bool failure) {
        struct clusterd *c = r->x->c;
        struct err e = {};

        if (r->report_busy)
                return -EAGAIN;
        struct op op = { .kind = OP_ROLE_STATUS,
                         .name = xstrdup(r->name),
                         .value = xstrdup(status),
                         .event_message = message ? xstrndup(message, OP_TEXT_MAX) : NULL,
                         .state = failure,
                         .client = xstrdup("clusterd"),
                         .time_usec = now_realtime_usec() };
        struct report *p = xcalloc(1, sizeof(*p));
        *p = (struct report){ .x = r->x, .role = xstrdup(r->name), .status = xstrdup(status) };
        if (repl_submit(c->repl, &op, report_done, p, NULL, &e) < 0) {
                op_done(&op);
                free(p->role);
                free(p->status);
                free(p);
                return -EAGAIN;
        }
        r->report_busy = true;
        free(r->reported);
        r->reported = xstrdup(status);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* The state machine                                                         */

static bool restart_allowed(struct ex_role *r) {
        uint64_t now = now_monotonic_usec();
        size_t w = 0;

        for (size_t i = 0; i < r->n_restarts; i++)
                if (now - r->restarts[i] < r->def.restart_period_usec)
                        r->restarts[w++] = r->restarts[i];
        r->n_restarts = w;
        if (r->n_restarts >= r->def.restart_threshold)
                return false;
        r->restarts = xrealloc(r->restarts, (r->n_restarts + 1) * sizeof(uint64_t));
        r->restarts[r->n_restarts++] = now;
        return true;
}

static void ex_transition(struct ex_role *r, enum ex_event ev) {
        enum ex_state from = r->state, to = from;

        switch (ev) {
        case EV_PROBE:
                to = EX_PROBING;
                break;
        case EV_PROBED_RUNNING:
                to = EX_RUNNING;
                break;
        case EV_PROBED_STOPPED:
                to = EX_STOPPED;
                break;
        case EV_PROBED_PARTIAL:
        case EV_STOP:
                to = EX_STOPPING;
                break;
        case EV_ANNOUNCE:
                to = EX_ANNOUNCING;
                break;
        case EV_ANNOUNCED:
                to = EX_STARTING;
                break;
        case EV_STARTED:
                to = EX_RUNNING;
                break;
        case EV_FAILED:
                to = EX_STOPPING;
                break;
        case EV_STOPPED:
                to = EX_STOPPED;
                break;
        case EV_STOP_FAILED:
                to = EX_STOP_FAILED;
                break;
        default:
                break;
        }
        r->state = to;
        if (ev == EV_STOP_FAILED || ev == EV_FAILED)
                log_warning("Role '%s': %s -> %s (%s: %s)", r->name, state_names[from], state_names[to],
                            event_names[ev], strempty(r->failure));
        else if (from != to && (to == EX_RUNNING || to == EX_STOPPED || to == EX_STARTING))
                log_notice("Role '%s': %s -> %s (%s)", r->name, state_names[from], state_names[to], event_names[ev]);
        else
                log_debug("Role '%s': %s -> %s (%s)", r->name, state_names[from], state_names[to], event_names[ev]);

        switch (ev) {
        case EV_PROBE:
                r->step = 0;
                r->probed_running = 0;
                probe_next(r);
                break;
        case EV_PROBED_RUNNING:
                log_notice("Role '%s' is running here; adopting it", r->name);
                timer_start(r, r->def.monitor_interval_usec);
                break;
        case EV_PROBED_PARTIAL:
                r->step = r->def.n_resources;
                stop_next(r);
                break;
        case EV_ANNOUNCED:
                r->step = 0;
                start_next(r);
                break;
        case EV_STARTED:
                (void)report(r, "running", NULL, false);
                timer_start(r, r->def.monitor_interval_usec);
                break;
        case EV_FAILED:
                timer_stop(r);
                if (restart_allowed(r)) {
                        log_notice("Role '%s': restarting it here (%s)", r->name, strempty(r->failure));
                        r->restart_after_stop = true;
                } else
                        r->fail_after_stop = true;
                stop_next(r);
                break;
        case EV_STOP:
                timer_stop(r);
                if (r->busy) {
                        (void)exec_cancel(r->x->c->exec, r->exec_id);
                        r->busy = false;
                        if (from == EX_STARTING)
                                r->step++; /* the start in flight may have done something */
                }
                if (from == EX_RUNNING)
                        r->step = r->def.n_resources;
                stop_next(r);
                break;
        case EV_STOPPED:
                timer_stop(r);
                r->stop_attempts = 0;
                break;
        case EV_STOP_FAILED:
                timer_stop(r);
                (void)report(r, "stop-failed", r->failure, true);
                if (r->x->wd_timeout_usec > 0) {
                        log_error("Role '%s' cannot be stopped (%s); this node stops petting its watchdog and "
                                  "will be reset",
                                  r->name, strempty(r->failure));
                        r->x->self_fence = true;
                } else
                        log_error("Role '%s' cannot be stopped (%s) and this node has no watchdog: an operator "
                                  "must stop it",
                                  r->name, strempty(r->failure));
                break;
        default:
                break;
        }
}

/* ------------------------------------------------------------------------ */
/* Converging                                                                */

static bool load_def(struct ex_role *r, const struct db_role *dr) {
        _cleanup_(json_object_putp) json_object *o = NULL;
        struct role_def d = {};
        struct err e = {};

        if (streq_ptr(r->def_text, dr->definition))
                return true;
        if (json_parse_object(dr->definition, strlen(dr->definition), &o, &e) < 0 ||
            role_def_from_json(o, NULL, &d, &e) < 0) {
                log_warning("Role '%s': unreadable definition (%s)", dr->name, e.msg);
                return false;
        }
        role_def_done(&r->def);
        r->def = d;
        free(r->def_text);
        r->def_text = xstrdup(dr->definition);
        return true;
}

static bool quorum_lost(struct clusterd *c) {
        return !c->cs || (c->live.known && !c->live.quorate);
}

static void converge_role(struct executor *x, struct ex_role *r, const struct db_role *dr) {
        struct clusterd *c = x->c;
        bool writable = repl_writable(c->repl);
        bool lost = quorum_lost(c);
        const char *me = self(x);
        bool here = dr && streq_ptr(dr->active_node, me);
        bool want = dr && !lost && writable && dr->want_started && !dr->failed && streq_ptr(dr->owner, me) &&
                    (!dr->active_node || here);

        /* Losing quorum stops everything at once, whatever is in flight:
         * a report waiting to be committed never will be, and the
         * watchdog deadline is running. */
        if (lost && (r->state == EX_RUNNING || r->state == EX_STARTING || r->state == EX_ANNOUNCING)) {
                log_warning("Role '%s': quorum lost, stopping it", r->name);
                if (r->state == EX_ANNOUNCING)
                        r->state = EX_STOPPED;
                else
                        ex_transition(r, EV_STOP);
                return;
        }
        if (r->busy || r->report_busy)
                return;
        /* A running role keeps its definition until it is restarted: an
         * edit of a running VM applies at its next start. */
        if (dr && (r->state == EX_UNKNOWN || r->state == EX_STOPPED) && !load_def(r, dr))
                want = false;

        switch (r->state) {
        case EX_UNKNOWN:
                /* Only roles this node may hold are probed: the database
                 * says so, or it was placed here. */
                if (dr && (here || streq_ptr(dr->owner, me)) && r->def.n_resources > 0)
                        ex_transition(r, EV_PROBE);
                else
                        r->state = EX_STOPPED;
                break;
        case EX_STOPPED:
                if (r->restart_after_stop && want) {
                        r->restart_after_stop = false;
                        r->step = 0;
                        r->state = EX_STARTING;
                        start_next(r);
                        break;
                }
                r->restart_after_stop = false;
                if (r->fail_after_stop) {
                        if (writable && report(r, "failed", r->failure, true) >= 0)
                                r->fail_after_stop = false;
                        break;
                }
                if (want && r->def.n_resources > 0) {
                        if (here && streq_ptr(dr->status_node, me) &&
                            (streq(dr->status, "starting") || streq(dr->status, "running"))) {
                                /* Already announced (a restart in place, or
                                 * clusterd restarted mid-start). */
                                r->state = EX_ANNOUNCING;
                                ex_transition(r, EV_ANNOUNCED);
                        } else if (report(r, "starting", NULL, false) >= 0)
                                ex_transition(r, EV_ANNOUNCE);
                        break;
                }
                if (want && r->def.n_resources == 0) {
                        /* An empty role runs trivially. */
                        if (!streq_ptr(dr->status, "running") || !here)
                                (void)report(r, "running", NULL, false);
                        break;
                }
                /* Stopped here but the database says active here: say so. */
                if (here && writable && !streq_ptr(r->reported, "stopped"))
                        (void)report(r, "stopped", NULL, false);
                break;
        case EX_RUNNING:
                if (!dr || (writable && !want)) {
                        ex_transition(r, EV_STOP);
                        break;
                }
                /* Adopted, or quorum came back: make sure the database
                 * says it runs here. */
                if (writable && dr && (!here || !streq_ptr(dr->status, "running")) &&
                    !streq_ptr(r->reported, "running"))
                        (void)report(r, "running", NULL, false);
                break;
        case EX_ANNOUNCING:
                if (lost || !dr)
                        r->state = EX_STOPPED;
                break;
        case EX_STARTING:
                if (lost || !dr || (writable && !want))
                        ex_transition(r, EV_STOP);
                break;
        default:
                break;
        }
}

/* Arms, pets or disarms the watchdog for what runs now. */
static void watchdog_update(struct executor *x) {
        struct clusterd *c = x->c;
        bool active = false;

        if (!x->wd || streq(watchdog_backend(x->wd), "none") || !x->converged_once)
                return;
        bool unknown = false;
        for (size_t i = 0; i < x->n_roles; i++) {
                /* A probe may find a role running: it keeps the watchdog
                 * armed (and petted) like a running role. */
                if (x->roles[i]->state == EX_UNKNOWN)
                        unknown = true;
                else if (x->roles[i]->state != EX_STOPPED)
                        active = true;
        }
        if (!active && unknown)
                return; /* not known yet whether anything runs here */
        if (!active) {
                /* The handle of a fresh clusterd is not armed, but the
                 * deadline a crashed one left may be running: disarm once,
                 * now that the probes show nothing runs. */
                if ((watchdog_is_armed(x->wd) || x->startup_disarm) && watchdog_disarm(x->wd) >= 0) {
                        if (!x->startup_disarm)
                                log_info("Watchdog disarmed: no roles run here");
                        x->startup_disarm = false;
                }
                return;
        }
        /* Pets only while quorate: a node that lost quorum must be gone
         * (or have stopped everything) by its deadline. */
        if (quorum_lost(c) || x->self_fence)
                return;
        if (!watchdog_is_armed(x->wd)) {
                int r = watchdog_arm(x->wd, c->config->fencing.watchdog_timeout_usec, &x->wd_timeout_usec);
                if (r < 0)
                        log_err_errno(r, "Cannot arm the watchdog: %m");
                else
                        log_info("Watchdog armed (%s)", watchdog_backend(x->wd));
        } else if (watchdog_pet(x->wd) < 0)
                log_warning("Cannot pet the watchdog");
}

static void pet_fired(void *data) {
        struct executor *x = data;
        x->pet_armed = false;
        watchdog_update(x);
        /* Also retries what could not be reported while nothing changed. */
        executor_poke(x->c);
        uint64_t every = MAX(x->c->config->fencing.watchdog_timeout_usec / 4, 100 * USEC_PER_MSEC);
        if (qb_loop_timer_add(x->c->loop, QB_LOOP_HIGH, every * NSEC_PER_USEC, x, pet_fired, &x->pet_timer) == 0)
                x->pet_armed = true;
}

static void props_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct executor *x = userdata;
        x->props_busy = false;
        x->props_sent = r >= 0 && (!res || res->r >= 0);
}

/* Tells the cluster what this node offers roles, once per run of clusterd
 * (and again if the database lost it). */
static void send_props(struct executor *x) {
        struct clusterd *c = x->c;
        struct db_node_props p = {};
        struct sysinfo si;
        uint64_t mem, cpus;
        struct err e = {};

        if (x->props_busy || !repl_writable(c->repl) || !c->node_name[0])
                return;
        if (c->config->node_memory)
                mem = c->config->node_memory >> 20;
        else if (sysinfo(&si) == 0) {
                uint64_t total = (uint64_t)si.totalram * si.mem_unit >> 20;
                mem = total > MEMORY_RESERVE_MIB * 2 ? total - MEMORY_RESERVE_MIB : total / 2;
        } else
                mem = 0;
        cpus = c->config->node_cpus ? c->config->node_cpus : (uint64_t)MAX(sysconf(_SC_NPROCESSORS_ONLN), 1);
        uint64_t wd = x->wd && !streq(watchdog_backend(x->wd), "none") ? c->config->fencing.watchdog_timeout_usec : 0;

        if (db_node_props_get(c->db, c->node_name, &p) >= 0) {
                bool same = p.memory_mib == mem && p.cpus == cpus && p.watchdog_usec == wd;
                db_node_props_done(&p);
                if (same) {
                        x->props_sent = true;
                        return;
                }
        }
        if (x->props_sent)
                x->props_sent = false;
        struct op op = { .kind = OP_NODE_PROPS,
                         .name = xstrdup(c->node_name),
                         .memory_mib = mem,
                         .cpus = (uint32_t)cpus,
                         .timeout_usec = wd,
                         .client = xstrdup("clusterd"),
                         .time_usec = now_realtime_usec() };
        if (repl_submit(c->repl, &op, props_done, x, NULL, &e) < 0) {
                op_done(&op);
                return;
        }
        x->props_busy = true;
}

static void converge(struct executor *x) {
        struct clusterd *c = x->c;
        struct db_role *roles = NULL;
        size_t n = 0;

        if (c->stopping || !c->node_name[0])
                return;
        if (db_roles(c->db, &roles, &n) < 0) {
                log_warning("Cannot read the roles: %s", db_last_error(c->db));
                return;
        }
        for (size_t i = 0; i < x->n_roles; i++)
                x->roles[i]->gone = true;
        for (size_t i = 0; i < n; i++) {
                struct ex_role *r = find_role(x, roles[i].name);
                if (!r) {
                        r = xcalloc(1, sizeof(*r));
                        *r = (struct ex_role){ .x = x, .name = xstrdup(roles[i].name), .state = EX_UNKNOWN };
                        x->roles = xrealloc(x->roles, (x->n_roles + 1) * sizeof(*x->roles));
                        x->roles[x->n_roles++] = r;
                }
                r->gone = false;
                converge_role(x, r, &roles[i]);
        }
        db_roles_free(roles, n);

        /* Deleted roles: stop what still runs, then forget them. */
        for (size_t i = 0; i < x->n_roles;) {
                struct ex_role *r = x->roles[i];
                if (r->gone && (r->state == EX_STOPPED || r->state == EX_UNKNOWN) && !r->busy && !r->report_busy) {
                        role_free(r);
                        x->roles[i] = x->roles[--x->n_roles];
                        continue;
                }
                if (r->gone)
                        converge_role(x, r, NULL);
                i++;
        }
        send_props(x);
        x->converged_once = true;
        watchdog_update(x);
}

static void job_run(void *data) {
        struct executor *x = data;
        x->armed = false;
        converge(x);
}

void executor_poke(struct clusterd *c) {
        struct executor *x = c->executor;
        if (!x || x->armed || c->stopping)
                return;
        if (qb_loop_timer_add(c->loop, QB_LOOP_HIGH, 0, x, job_run, &x->job) == 0)
                x->armed = true;
}

json_object *executor_status_json(struct clusterd *c) {
        struct executor *x = c->executor;
        json_object *a = json_object_new_array();
        for (size_t i = 0; x && i < x->n_roles; i++) {
                const struct ex_role *r = x->roles[i];
                if (r->state == EX_STOPPED || r->state == EX_UNKNOWN)
                        continue;
                json_object *o = json_object_new_object();
                json_add_string(o, "role", r->name);
                json_add_string(o, "state", state_names[r->state]);
                json_object_array_add(a, o);
        }
        return a;
}

static const char *watchdog_spec(const struct config *cfg) {
        if (!streq(cfg->fencing.watchdog, "auto"))
                return cfg->fencing.watchdog;
        return access("/dev/watchdog", W_OK) == 0 ? "/dev/watchdog" : "none";
}

int executor_new(struct clusterd *c, struct executor **ret) {
        struct executor *x = xcalloc(1, sizeof(*x));
        const char *spec = watchdog_spec(c->config);
        int r;

        x->c = c;
        x->startup_disarm = true;
        if ((r = mkdir_p(RSCTMP_DIR, 0755)) < 0)
                log_warning_errno(r, "Cannot create '%s' for the agents' state: %m", RSCTMP_DIR);
        r = watchdog_open(spec, &x->wd);
        if (r < 0) {
                log_err_errno(r, "Cannot open the watchdog '%s': %m; roles run without self-fencing", spec);
                (void)watchdog_open("none", &x->wd);
        } else if (streq(watchdog_backend(x->wd), "none"))
                log_notice("No watchdog: a lost node's roles start elsewhere only after a fence agent or an "
                           "operator confirms it is off");
        else
                log_info("Watchdog '%s' (%s), timeout %" PRIu64 " ms", spec, watchdog_backend(x->wd),
                         c->config->fencing.watchdog_timeout_usec / USEC_PER_MSEC);
        pet_fired(x);
        *ret = x;
        return 0;
}

struct executor *executor_free(struct executor *x) {
        if (!x)
                return NULL;
        if (x->pet_armed)
                qb_loop_timer_del(x->c->loop, x->pet_timer);
        if (x->armed)
                qb_loop_timer_del(x->c->loop, x->job);
        bool active = false;
        for (size_t i = 0; i < x->n_roles; i++) {
                if (x->roles[i]->state != EX_STOPPED && x->roles[i]->state != EX_UNKNOWN)
                        active = true;
                role_free(x->roles[i]);
        }
        free(x->roles);
        if (x->wd) {
                /* Roles keep running without clusterd, so the watchdog stays
                 * armed: the others may start them elsewhere once this node
                 * leaves, so it must be reset by then unless clusterd comes
                 * back in time (a restart) or they were moved first (node
                 * pause --drain). */
                if (watchdog_is_armed(x->wd) && !active)
                        (void)watchdog_disarm(x->wd);
                else if (watchdog_is_armed(x->wd))
                        log_notice("Roles still run here: the watchdog stays armed; start clusterd again within "
                                   "its timeout, or drain the node before stopping clusterd");
                x->wd = watchdog_close(x->wd);
        }
        free(x);
        return NULL;
}
