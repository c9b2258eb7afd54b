/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-manager.c: the leader's role duties — fencing lost nodes and
 * placing roles. Every node runs this module; only the leader (the lowest
 * node id among the replicas of the writable partition) acts.
 *
 * Fencing comes first. A node that left the membership while a role was
 * active on it (roles.active_node) may still run that role, so nothing of
 * it moves until the node is known fenced:
 *   - its fence agent (node_props.fence) confirmed "off", or
 *   - its watchdog deadline passed: it stops petting when it loses quorum,
 *     so once watchdog timeout + fencing.watchdog-margin have passed since
 *     this node saw it leave, it has been reset unless it stopped its roles
 *     itself, or
 *   - an operator confirmed it (POST /v1/nodes/NAME/fenced).
 * The leader then writes NODE_FENCED, which releases the node's roles in the
 * same operation; placement then starts them elsewhere. A new leader starts
 * the watchdog wait from when *it* saw the node leave, which is never
 * earlier than the truth, so a change of leader only delays recovery.
 *
 * Placement is the pure placement_compute(); this file builds its input
 * from the database and the live membership and writes the decisions that
 * change an owner (ROLE_PLACE), at most one write in flight per role.
 */
#include "clusterd/clusterd-int.h"
#include "clusterd/exec-int.h"
#include "clusterd/log.h"
#include "clusterd/roles-int.h"
#include "clusterd/settings-int.h"

#define FENCE_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define FENCE_RETRY_USEC (5 * USEC_PER_SEC)
/* Looks again this often without a change: failback windows open, fence
 * agents are retried. */
#define TICK_USEC (5 * USEC_PER_SEC)

struct fence_run {
        char *node; /* owned */
        uint64_t exec_id;
        bool running;
        uint64_t retry_mono; /* monotonic: not before this after a failure */
};

struct manager {
        struct clusterd *c;
        bool armed; /* a run is scheduled */
        qb_loop_timer_handle timer;
        bool deadline_armed; /* a timer for the next watchdog deadline */
        qb_loop_timer_handle deadline_timer;
        char **pending;           /* owned strv: roles with a ROLE_PLACE in flight */
        char **fence_pending;     /* owned strv: nodes with a NODE_FENCED in flight */
        struct fence_run *fences; /* owned */
        size_t n_fences;
        char **cannot_fence; /* owned strv: nodes already logged as unfenceable */
        qb_loop_timer_handle tick;
        bool tick_armed;
};

static void tick_fired(void *data) {
        struct clusterd *c = data;
        struct manager *m = c->manager;

        if (!m)
                return;
        m->tick_armed = false;
        manager_poke(c);
        if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, TICK_USEC * NSEC_PER_USEC, c, tick_fired, &m->tick) == 0)
                m->tick_armed = true;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static int64_t setting_value(struct clusterd *c, const char *key, int64_t fallback) {
        const struct setting_def *d;
        _cleanup_free_ char *value = NULL;

        if (settings_lookup(key, &d, NULL) < 0)
                return fallback;
        if (db_setting_get(c->db, key, &value, NULL, NULL) < 0)
                return setting_int(d, d->default_value, fallback);
        return setting_int(d, value, fallback);
}

static bool live_up(const struct live_node *live) {
        return live && live->online && live->daemon;
}

bool clusterd_node_up(struct clusterd *c, const char *name) {
        struct db_node n = {};
        bool up = false;

        if (!name || db_node_get(c->db, name, &n) < 0)
                return false;
        up = live_up(membership_find(&c->live, n.nodeid));
        db_node_done(&n);
        return up;
}

static const struct live_node *live_by_name(struct clusterd *c, const struct db_node *nodes, size_t n,
                                            const char *name) {
        for (size_t i = 0; i < n; i++)
                if (streq(nodes[i].name, name))
                        return membership_find(&c->live, nodes[i].nodeid);
        return NULL;
}

static bool strv_remove(char **l, const char *s) {
        for (size_t i = 0; l && l[i]; i++)
                if (streq(l[i], s)) {
                        free(l[i]);
                        for (; l[i]; i++)
                                l[i] = l[i + 1];
                        return true;
                }
        return false;
}

const char *api_role_state(struct clusterd *c, const struct db_role *role) {
        if (role->active_node) {
                if (!clusterd_node_up(c, role->active_node) && !streq(role->status, "stop-failed"))
                        return "waiting-for-fencing";
                if (streq(role->status, "running") || streq(role->status, "starting") ||
                    streq(role->status, "stopping") || streq(role->status, "stop-failed"))
                        return role->status;
                return "starting";
        }
        if (role->failed)
                return "failed";
        if (!role->want_started)
                return "stopped";
        return role->owner ? "pending" : "unplaced";
}

/* ------------------------------------------------------------------------ */
/* Writes                                                                    */

struct mgr_write {
        struct clusterd *c;
        char *key;  /* role or node name */
        bool fence; /* NODE_FENCED rather than ROLE_PLACE */
};

static void write_done(void *userdata, int r, const struct op_result *res, const char *message) {
        struct mgr_write *w = userdata;
        struct manager *m = w->c->manager;

        if (m)
                strv_remove(w->fence ? m->fence_pending : m->pending, w->key);
        if (r < 0)
                log_info("Leader: %s for '%s' not recorded (%s); will retry", w->fence ? "fencing" : "placement",
                         w->key, message);
        else if (res && res->r < 0)
                log_warning("Leader: %s for '%s' refused: %s", w->fence ? "fencing" : "placement", w->key,
                            res->message);
        if (m)
                manager_poke(w->c);
        free(w->key);
        free(w);
}

static int submit(struct clusterd *c, struct op *op, const char *key, bool fence) {
        struct manager *m = c->manager;
        struct mgr_write *w = xcalloc(1, sizeof(*w));
        struct err e = {};

        *w = (struct mgr_write){ .c = c, .key = xstrdup(key), .fence = fence };
        op->client = xstrdup("clusterd");
        op->time_usec = now_realtime_usec();
        if (repl_submit(c->repl, op, write_done, w, NULL, &e) < 0) {
                log_debug("Leader: cannot write now: %s", e.msg);
                op_done(op);
                free(w->key);
                free(w);
                return -EAGAIN;
        }
        strv_push(fence ? &m->fence_pending : &m->pending, key);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Fencing                                                                   */

static struct fence_run *fence_find(struct manager *m, const char *node) {
        for (size_t i = 0; i < m->n_fences; i++)
                if (streq(m->fences[i].node, node))
                        return &m->fences[i];
        return NULL;
}

static void fence_forget(struct manager *m, const char *node) {
        for (size_t i = 0; i < m->n_fences; i++)
                if (streq(m->fences[i].node, node)) {
                        if (m->fences[i].running)
                                (void)exec_cancel(m->c->exec, m->fences[i].exec_id);
                        free(m->fences[i].node);
                        m->fences[i] = m->fences[--m->n_fences];
                        return;
                }
}

static void mark_fenced(struct clusterd *c, const char *node, const char *method, const char *detail) {
        if (strv_contains(c->manager->fence_pending, node))
                return;
        struct op op = { .kind = OP_NODE_FENCED,
                         .name = xstrdup(node),
                         .value = xstrdup(method),
                         .event_message = detail ? xstrdup(detail) : NULL };
        if (submit(c, &op, node, true) >= 0)
                log_notice("Node '%s' is fenced (%s%s%s); its roles may start elsewhere", node, method,
                           detail ? ": " : "", strempty(detail));
}

struct fence_ctx {
        struct clusterd *c;
        char *node;
        char *agent;
};

static void fence_done(uint64_t id, const struct exec_result *res, void *userdata) {
        struct fence_ctx *x = userdata;
        struct manager *m = x->c->manager;
        struct fence_run *f = m ? fence_find(m, x->node) : NULL;
        char buf[256];

        exec_result_format(res, buf, sizeof(buf));
        if (f && f->exec_id == id) {
                f->running = false;
                if (res->error == 0 && res->exit_status == 0) {
                        _cleanup_free_ char *detail = xasprintf("%s confirmed it off", x->agent);
                        mark_fenced(x->c, x->node, x->agent, detail);
                } else {
                        log_warning("Fence agent '%s' failed for node '%s': %s%s%s; retrying in %" PRIu64 "s", x->agent,
                                    x->node, buf, res->output && res->output[0] ? ": " : "", strempty(res->output),
                                    FENCE_RETRY_USEC / USEC_PER_SEC);
                        f->retry_mono = now_monotonic_usec() + FENCE_RETRY_USEC;
                        if (m->deadline_armed)
                                qb_loop_timer_del(x->c->loop, m->deadline_timer);
                        m->deadline_armed = false;
                }
                manager_poke(x->c);
        }
        free(x->node);
        free(x->agent);
        free(x);
}

/* Runs the node's fence agent with the fence-agents stdin protocol. */
static void fence_start(struct clusterd *c, const char *node, const char *doc) {
        struct manager *m = c->manager;
        _cleanup_(json_object_putp) json_object *o = NULL;
        _cleanup_free_ char *path = NULL, *input = NULL;
        const char *agent = NULL;
        json_object *params = NULL;
        struct fence_run *f = fence_find(m, node);
        char *const env[] = { (char *)EXEC_DEFAULT_PATH, NULL };
        char *const args[] = { NULL };
        size_t size = 0;
        FILE *in;

        if (f && (f->running || now_monotonic_usec() < f->retry_mono))
                return;
        if (json_parse_object(doc, strlen(doc), &o, NULL) < 0 || json_get_string(o, "agent", true, &agent, NULL) < 0)
                return;
        (void)json_get_object(o, "params", false, &params, NULL);
        path = xasprintf("%s/%s", c->config->agents.fence_directory, agent);
        in = open_memstream(&input, &size);
        if (!in)
                return;
        fprintf(in, "action=off\n");
        if (params) {
                json_object_object_foreach(params, k, v) fprintf(in, "%s=%s\n", k, json_object_get_string(v));
        }
        if (!params || !json_object_object_get_ex(params, "plug", NULL))
                fprintf(in, "plug=%s\n", node);
        fclose(in);

        struct fence_ctx *x = xcalloc(1, sizeof(*x));
        *x = (struct fence_ctx){ .c = c, .node = xstrdup(node), .agent = xstrdup(agent) };
        _cleanup_free_ char *what = xasprintf("fence %s", node);
        struct exec_request req = { .path = path,
                                    .args = args,
                                    .env = env,
                                    .stdin_data = input,
                                    .stdin_size = size,
                                    .timeout_usec = FENCE_TIMEOUT_USEC,
                                    .description = what };
        uint64_t id;
        if (exec_run(c->exec, &req, fence_done, x, &id) < 0) {
                free(x->node);
                free(x->agent);
                free(x);
                return;
        }
        if (!f) {
                m->fences = xrealloc(m->fences, (m->n_fences + 1) * sizeof(*m->fences));
                f = &m->fences[m->n_fences++];
                *f = (struct fence_run){ .node = xstrdup(node) };
        }
        f->exec_id = id;
        f->running = true;
        log_notice("Fencing node '%s' with '%s'", node, agent);
}

static void deadline_fired(void *data) {
        struct clusterd *c = data;
        if (c->manager)
                c->manager->deadline_armed = false;
        manager_poke(c);
}

/* Fences every lost node that may still run roles; returns nothing: the
 * roles of an unfenced node stay where they are (placement waits). */
static void fence_lost_nodes(struct clusterd *c, const struct db_node *nodes, size_t n_nodes,
                             const struct db_role *roles, size_t n_roles) {
        struct manager *m = c->manager;
        uint64_t now = now_monotonic_usec(), next = UINT64_MAX;
        uint64_t margin = (uint64_t)setting_value(c, "fencing.watchdog-margin", (int64_t)USEC_PER_SEC);

        for (size_t i = 0; i < n_nodes; i++) {
                const struct db_node *node = &nodes[i];
                const struct live_node *live = membership_find(&c->live, node->nodeid);
                bool holds = false;

                for (size_t k = 0; k < n_roles && !holds; k++)
                        holds = streq_ptr(roles[k].active_node, node->name);
                if (!holds || (live && live->online)) {
                        fence_forget(m, node->name);
                        strv_remove(m->cannot_fence, node->name);
                        continue;
                }
                if (strv_contains(m->fence_pending, node->name))
                        continue;

                struct db_node_props p = {};
                bool have_props = db_node_props_get(c->db, node->name, &p) >= 0;
                if (have_props && p.fence)
                        fence_start(c, node->name, p.fence);
                if (have_props && p.watchdog_usec > 0) {
                        uint64_t since = live ? live->offline_mono_usec : now;
                        uint64_t deadline = since + p.watchdog_usec + margin;
                        if (since && now >= deadline) {
                                char wd[32];
                                _cleanup_free_ char *detail = xasprintf(
                                        "its watchdog (%s) expired", format_duration(wd, sizeof(wd), p.watchdog_usec));
                                mark_fenced(c, node->name, "watchdog", detail);
                        } else
                                next = MIN(next, deadline);
                }
                if (have_props && !p.fence && p.watchdog_usec == 0 && !strv_contains(m->cannot_fence, node->name)) {
                        log_error("Node '%s' left with roles active and has neither a watchdog nor a fence agent: "
                                  "its roles stay where they are until an operator confirms it is off "
                                  "('clusterctl node fenced %s')",
                                  node->name, node->name);
                        strv_push(&m->cannot_fence, node->name);
                }
                db_node_props_done(&p);
        }
        if (next != UINT64_MAX && !m->deadline_armed) {
                uint64_t delay = next > now ? next - now : 0;
                if (qb_loop_timer_add(c->loop, QB_LOOP_HIGH, delay * NSEC_PER_USEC, c, deadline_fired,
                                      &m->deadline_timer) == 0)
                        m->deadline_armed = true;
        }
}

/* ------------------------------------------------------------------------ */
/* Placement input                                                           */

struct pl_build {
        struct pl_node *nodes;
        size_t n_nodes;
        struct pl_role *roles;
        size_t n_roles;
        struct role_def *defs; /* owned, per role (for the string arrays) */
        char **override;       /* per role: a reason that replaces placement's (not owned) */
        struct db_node *db_nodes;
        size_t n_db_nodes;
        struct db_node_props *props;
        size_t n_props;
        struct db_role *db_roles;
        size_t n_db_roles;
        struct pl_input in;
};

static void build_done(struct pl_build *b) {
        for (size_t i = 0; i < b->n_roles; i++) {
                role_def_done(&b->defs[i]);
                free(b->override[i]);
        }
        free(b->defs);
        free(b->override);
        free(b->nodes);
        free(b->roles);
        db_nodes_free(b->db_nodes, b->n_db_nodes);
        db_node_props_free(b->props, b->n_props);
        db_roles_free(b->db_roles, b->n_db_roles);
        *b = (struct pl_build){};
}

static const struct db_node_props *props_of(const struct pl_build *b, const char *name) {
        for (size_t i = 0; i < b->n_props; i++)
                if (streq(b->props[i].name, name))
                        return &b->props[i];
        return NULL;
}

static uint32_t now_minutes(void) {
        time_t t = time(NULL);
        struct tm tm;
        localtime_r(&t, &tm);
        return (uint32_t)(tm.tm_hour * 60 + tm.tm_min);
}

static int build_input(struct clusterd *c, struct pl_build *b) {
        int r;

        if ((r = db_nodes(c->db, &b->db_nodes, &b->n_db_nodes)) < 0 ||
            (r = db_node_props_all(c->db, &b->props, &b->n_props)) < 0 ||
            (r = db_roles(c->db, &b->db_roles, &b->n_db_roles)) < 0)
                return r;
        b->nodes = xcalloc(b->n_db_nodes + 1, sizeof(*b->nodes));
        for (size_t i = 0; i < b->n_db_nodes; i++) {
                const struct db_node *n = &b->db_nodes[i];
                const struct live_node *live = membership_find(&c->live, n->nodeid);
                const struct db_node_props *p = props_of(b, n->name);
                b->nodes[b->n_nodes++] = (struct pl_node){
                        .name = n->name,
                        .nodeid = n->nodeid,
                        .up = live && live->online && live->daemon,
                        .paused = p && p->pause != DB_PAUSE_NONE,
                        .drain = p && p->pause == DB_PAUSE_DRAIN,
                        .memory_mib = p ? p->memory_mib : 0,
                        .cpus = p ? p->cpus : 0,
                };
        }

        b->roles = xcalloc(b->n_db_roles + 1, sizeof(*b->roles));
        b->defs = xcalloc(b->n_db_roles + 1, sizeof(*b->defs));
        b->override = xcalloc(b->n_db_roles + 1, sizeof(char *));
        for (size_t i = 0; i < b->n_db_roles; i++) {
                const struct db_role *dr = &b->db_roles[i];
                _cleanup_(json_object_putp) json_object *o = NULL;
                struct role_def *d = &b->defs[b->n_roles];
                struct pl_role *pr = &b->roles[b->n_roles];
                struct err e = {};

                if (json_parse_object(dr->definition, strlen(dr->definition), &o, &e) < 0 ||
                    role_def_from_json(o, NULL, d, &e) < 0) {
                        log_warning("Role '%s' has an unreadable definition (%s); not placing it", dr->name, e.msg);
                        continue;
                }
                *pr = (struct pl_role){
                        .name = dr->name,
                        .priority = d->priority,
                        .want_started = dr->want_started,
                        .preferred = (const char *const *)d->preferred,
                        .n_preferred = strv_length(d->preferred),
                        .possible = (const char *const *)d->possible,
                        .n_possible = strv_length(d->possible),
                        .anti_affinity = (const char *const *)d->anti_affinity,
                        .n_anti_affinity = strv_length(d->anti_affinity),
                        .move_to = dr->move_to,
                        .avoid = (const char *const *)dr->avoid,
                        .n_avoid = strv_length(dr->avoid),
                        .failback = d->failback,
                        .failback_start_min = d->failback_start_min,
                        .failback_end_min = d->failback_end_min,
                };
                role_def_demand(d, &pr->memory_mib, &pr->cpus);

                if (dr->active_node) {
                        const struct live_node *live = live_by_name(c, b->db_nodes, b->n_db_nodes, dr->active_node);
                        pr->owner = dr->owner ? dr->owner : dr->active_node;
                        if (!live || !live->online)
                                pr->state = PL_ROLE_UNFENCED;
                        else if (!live->daemon) {
                                /* Online but unmanaged: it may run there;
                                 * nothing can move until its clusterd is back. */
                                pr->state = PL_ROLE_UNFENCED;
                                b->override[b->n_roles] = xasprintf(
                                        "waiting: clusterd is not running on node '%s', where the role may run",
                                        dr->active_node);
                        } else
                                /* Running, or moving (the old owner is
                                 * stopping it): either way it is active. */
                                pr->state = PL_ROLE_ACTIVE;
                } else if (dr->failed)
                        pr->state = PL_ROLE_FAILED;
                else if (dr->owner && dr->want_started &&
                         live_up(live_by_name(c, b->db_nodes, b->n_db_nodes, dr->owner)))
                        pr->state = PL_ROLE_ACTIVE, pr->owner = dr->owner;
                else {
                        pr->state = PL_ROLE_STOPPED;
                        pr->owner = dr->owner;
                }
                b->n_roles++;
        }
        b->in = (struct pl_input){
                .nodes = b->nodes,
                .n_nodes = b->n_nodes,
                .roles = b->roles,
                .n_roles = b->n_roles,
                .now_min = now_minutes(),
                .memory_overcommit = setting_value(c, "placement.memory-overcommit", 0) != 0,
                .cpu_overcommit = (uint32_t)setting_value(c, "placement.cpu-overcommit", 4),
        };
        return 0;
}

static const struct db_role *db_role_of(const struct pl_build *b, const char *name) {
        for (size_t i = 0; i < b->n_db_roles; i++)
                if (streq(b->db_roles[i].name, name))
                        return &b->db_roles[i];
        return NULL;
}

/* Writes the decisions that change a role's owner (or, for a role that
 * should run but cannot, its reason). */
/* Decisions are written in priority order (high first, then by name), so
 * that the roles that matter most start first after a failure. */
static int by_priority(const void *a, const void *b, void *userdata) {
        const struct pl_role *roles = userdata;
        const struct pl_role *x = &roles[*(const size_t *)a], *y = &roles[*(const size_t *)b];
        if (x->priority != y->priority)
                return x->priority > y->priority ? -1 : 1;
        return strcmp(x->name, y->name);
}

static void apply_decisions(struct clusterd *c, struct pl_build *b, const struct pl_decision *d) {
        struct manager *m = c->manager;
        _cleanup_free_ size_t *order = xcalloc(b->n_roles + 1, sizeof(size_t));

        for (size_t i = 0; i < b->n_roles; i++)
                order[i] = i;
        qsort_r(order, b->n_roles, sizeof(size_t), by_priority, b->roles);
        for (size_t k = 0; k < b->n_roles; k++) {
                size_t i = order[k];
                const struct pl_role *pr = &b->roles[i];
                const struct db_role *dr = db_role_of(b, pr->name);
                const char *target = NULL, *reason = b->override[i] ? b->override[i] : d[i].reason;

                if (!dr || strv_contains(m->pending, pr->name))
                        continue;
                switch (d[i].action) {
                case PL_START:
                case PL_MOVE:
                        target = d[i].target;
                        break;
                case PL_STOP:
                case PL_NOWHERE:
                        target = NULL;
                        break;
                case PL_KEEP:
                case PL_WAIT:
                default:
                        continue;
                }
                if (streq_ptr(dr->owner, target) && (target || streq_ptr(dr->reason, reason)))
                        continue;
                struct op op = { .kind = OP_ROLE_PLACE,
                                 .name = xstrdup(pr->name),
                                 .value = target ? xstrdup(target) : NULL,
                                 .event_message = xstrdup(reason) };
                if (submit(c, &op, pr->name, false) < 0)
                        return;
                if (target && d[i].action == PL_MOVE)
                        log_notice("Role '%s': moving from node '%s' to node '%s' (%s)", pr->name,
                                   strempty(dr->active_node ? dr->active_node : dr->owner), target, reason);
                else if (target)
                        log_notice("Role '%s': starting on node '%s' (%s)", pr->name, target, reason);
                else
                        log_notice("Role '%s': runs nowhere (%s)", pr->name, reason);
        }
}

static void run(void *data) {
        struct clusterd *c = data;
        struct manager *m = c->manager;
        struct pl_build b = {};

        if (!m)
                return;
        m->armed = false;
        if (c->stopping || !c->live.known || !repl_writable(c->repl) || !clusterd_is_leader(c))
                return;
        if (build_input(c, &b) < 0) {
                log_warning("Leader: cannot read the roles: %s", db_last_error(c->db));
                build_done(&b);
                return;
        }
        fence_lost_nodes(c, b.db_nodes, b.n_db_nodes, b.db_roles, b.n_db_roles);

        _cleanup_free_ struct pl_decision *d = xcalloc(b.n_roles + 1, sizeof(*d));
        uint64_t t0 = now_monotonic_usec();
        if (placement_compute(&b.in, d) < 0)
                log_error("Leader: placement refused its input; nothing placed");
        else {
                uint64_t dt = now_monotonic_usec() - t0;
                if (dt > 50 * USEC_PER_MSEC)
                        log_info("Leader: placement of %zu roles took %" PRIu64 " ms", b.n_roles, dt / USEC_PER_MSEC);
                apply_decisions(c, &b, d);
        }
        build_done(&b);
}

void manager_poke(struct clusterd *c) {
        struct manager *m = c->manager;
        if (!m || m->armed || c->stopping)
                return;
        /* A timer of 0 runs on the next iteration, after the events that
         * caused the poke are all handled: one run per burst. */
        if (qb_loop_timer_add(c->loop, QB_LOOP_HIGH, 0, c, run, &m->timer) == 0)
                m->armed = true;
}

int manager_explain(struct clusterd *c, const char *role, char **ret) {
        struct pl_build b = {};
        char *text = NULL;
        int r;

        if ((r = build_input(c, &b)) < 0) {
                build_done(&b);
                return r;
        }
        r = -ENOENT;
        for (size_t i = 0; i < b.n_roles; i++)
                if (streq(b.roles[i].name, role)) {
                        text = xmalloc(16384);
                        placement_explain(&b.in, i, text, 16384);
                        r = 0;
                        break;
                }
        build_done(&b);
        if (r >= 0)
                *ret = text;
        return r;
}

void manager_failback_node(struct clusterd *c, const char *node) {
        struct db_role *roles = NULL;
        size_t n = 0;

        if (db_roles(c->db, &roles, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                _cleanup_(json_object_putp) json_object *o = NULL;
                _cleanup_(role_def_done) struct role_def d = {};
                const struct db_role *r = &roles[i];

                if (!r->want_started || !r->owner || streq(r->owner, node) ||
                    json_parse_object(r->definition, strlen(r->definition), &o, NULL) < 0 ||
                    role_def_from_json(o, NULL, &d, NULL) < 0)
                        continue;
                /* Back only where the node comes before the current owner in
                 * the role's preferred owners. */
                for (char **p = d.preferred; p && *p; p++) {
                        if (streq(*p, r->owner))
                                break;
                        if (!streq(*p, node))
                                continue;
                        struct op op = { .kind = OP_ROLE_ADMIN,
                                         .name = xstrdup(r->name),
                                         .key = xstrdup("move"),
                                         .value = xstrdup(node),
                                         .client = xstrdup("clusterd"),
                                         .time_usec = now_realtime_usec() };
                        struct err e = {};
                        if (repl_submit(c->repl, &op, NULL, NULL, NULL, &e) < 0) {
                                log_warning("Failback of role '%s' to node '%s' not requested: %s", r->name, node,
                                            e.msg);
                                op_done(&op);
                        }
                        break;
                }
        }
        db_roles_free(roles, n);
}

int manager_new(struct clusterd *c, struct manager **ret) {
        struct manager *m = xcalloc(1, sizeof(*m));
        m->c = c;
        if (qb_loop_timer_add(c->loop, QB_LOOP_LOW, TICK_USEC * NSEC_PER_USEC, c, tick_fired, &m->tick) == 0)
                m->tick_armed = true;
        *ret = m;
        return 0;
}

struct manager *manager_free(struct manager *m) {
        if (!m)
                return NULL;
        if (m->armed)
                qb_loop_timer_del(m->c->loop, m->timer);
        if (m->deadline_armed)
                qb_loop_timer_del(m->c->loop, m->deadline_timer);
        if (m->tick_armed)
                qb_loop_timer_del(m->c->loop, m->tick);
        for (size_t i = 0; i < m->n_fences; i++)
                free(m->fences[i].node);
        free(m->fences);
        strv_free(m->pending);
        strv_free(m->fence_pending);
        strv_free(m->cannot_fence);
        free(m);
        return NULL;
}
