/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-roles.c: role definitions — JSON in, validated struct, canonical
 * JSON out. The canonical form is what replicates, so parsing it again
 * gives the same struct on every node.
 *
 * Defaults follow Windows Server Failover Clustering where it has one:
 * failover threshold "number of nodes - 1 in 6 hours" becomes 2 in 6 h, one
 * local restart per 15 minutes, failback never, priority medium.
 */
#include "clusterd/roles-int.h"

#define DEFAULT_FAILOVER_THRESHOLD 2
#define DEFAULT_FAILOVER_PERIOD_USEC (6 * USEC_PER_HOUR)
#define DEFAULT_RESTART_THRESHOLD 1
#define DEFAULT_RESTART_PERIOD_USEC (15 * USEC_PER_MINUTE)
#define DEFAULT_MONITOR_INTERVAL_USEC (10 * USEC_PER_SEC)
#define DEFAULT_START_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define DEFAULT_STOP_TIMEOUT_USEC (60 * USEC_PER_SEC)
#define DEFAULT_MONITOR_TIMEOUT_USEC (20 * USEC_PER_SEC)
#define TIMEOUT_MAX_USEC (3600 * USEC_PER_SEC)

/* Puts "prefix: " before the message a nested check left in e. */
static int prefix_err(struct err *e, int r, const char *prefix) {
        char msg[sizeof(e->msg)];
        if (!e)
                return r;
        snprintf(msg, sizeof(msg), "%s", e->msg);
        return err_set(e, r, "%s: %s", prefix, msg);
}

static void resource_done(struct role_resource *r) {
        free(r->name);
        free(r->agent);
        for (size_t i = 0; i < r->n_params; i++) {
                free(r->params[i].name);
                free(r->params[i].value);
        }
        free(r->params);
        *r = (struct role_resource){};
}

void role_def_done(struct role_def *d) {
        if (!d)
                return;
        free(d->name);
        free(d->description);
        strv_free(d->preferred);
        strv_free(d->possible);
        strv_free(d->anti_affinity);
        for (size_t i = 0; i < d->n_resources; i++)
                resource_done(&d->resources[i]);
        free(d->resources);
        *d = (struct role_def){};
}

const char *role_priority_to_string(enum pl_priority p) {
        switch (p) {
        case PL_PRIORITY_HIGH:
                return "high";
        case PL_PRIORITY_MEDIUM:
                return "medium";
        case PL_PRIORITY_LOW:
                return "low";
        case PL_PRIORITY_NO_AUTO_START:
                return "no-auto-start";
        }
        return "medium";
}

const char *role_failback_to_string(enum pl_failback f) {
        switch (f) {
        case PL_FAILBACK_NEVER:
                return "never";
        case PL_FAILBACK_IMMEDIATE:
                return "immediate";
        case PL_FAILBACK_WINDOW:
                return "window";
        }
        return "never";
}

const char *role_resource_param(const struct role_resource *r, const char *name) {
        for (size_t i = 0; i < r->n_params; i++)
                if (streq(r->params[i].name, name))
                        return r->params[i].value;
        return NULL;
}

/* ------------------------------------------------------------------------ */
/* Field parsers: each names the field in its error.                        */

static int get_duration(json_object *o, const char *key, const char *field, uint64_t min_usec, uint64_t *ret,
                        struct err *e) {
        json_object *v;
        uint64_t usec;

        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (json_object_is_type(v, json_type_int)) {
                int64_t s = json_object_get_int64(v);
                if (s < 0 || (uint64_t)s > TIMEOUT_MAX_USEC / USEC_PER_SEC * 24 * 7)
                        return err_set(e, -EINVAL, "%s: %" PRId64 " seconds is out of range", field, s);
                usec = (uint64_t)s * USEC_PER_SEC;
        } else if (json_object_is_type(v, json_type_string)) {
                if (parse_duration_usec(json_object_get_string(v), &usec) < 0)
                        return err_set(e, -EINVAL, "%s: '%s' is not a duration (e.g. \"30s\", \"5m\")", field,
                                       json_object_get_string(v));
        } else
                return err_set(e, -EINVAL, "%s: expected a duration string or seconds", field);
        if (usec < min_usec) {
                char buf[32];
                return err_set(e, -EINVAL, "%s: '%s' is too short (at least %s)", field, json_object_get_string(v),
                               format_duration(buf, sizeof(buf), min_usec));
        }
        *ret = usec;
        return 0;
}

static int get_count(json_object *o, const char *key, const char *field, uint32_t max, uint32_t *ret, struct err *e) {
        json_object *v;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return err_set(e, -EINVAL, "%s: expected an integer, got %s", field,
                               json_type_to_name(json_object_get_type(v)));
        int64_t n = json_object_get_int64(v);
        if (n < 0 || n > max)
                return err_set(e, -EINVAL, "%s: %" PRId64 " is out of range (0..%" PRIu32 ")", field, n, max);
        *ret = (uint32_t)n;
        return 0;
}

/* A list of names, each valid and unique. */
static int get_names(json_object *o, const char *key, size_t max, char ***ret, struct err *e) {
        json_object *a;
        _cleanup_(strv_freep) char **l = NULL;

        if (!json_object_object_get_ex(o, key, &a))
                return 0;
        if (!json_object_is_type(a, json_type_array))
                return err_set(e, -EINVAL, "%s: expected an array of names", key);
        size_t n = json_object_array_length(a);
        if (n > max)
                return err_set(e, -EINVAL, "%s: %zu entries, at most %zu allowed", key, n, max);
        for (size_t i = 0; i < n; i++) {
                json_object *v = json_object_array_get_idx(a, i);
                const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
                if (!s || !name_is_valid(s))
                        return err_set(e, -EINVAL, "%s[%zu]: '%s' is not a valid name", key, i,
                                       s ? s : json_type_to_name(json_object_get_type(v)));
                if (strv_contains(l, s))
                        return err_set(e, -EINVAL, "%s: '%s' is listed twice", key, s);
                strv_push(&l, s);
        }
        strv_free(*ret);
        *ret = l ? TAKE_PTR(l) : xcalloc(1, sizeof(char *));
        return 0;
}

static int parse_priority(const char *s, enum pl_priority *ret) {
        static const struct {
                const char *name;
                enum pl_priority p;
        } table[] = {
                { "high", PL_PRIORITY_HIGH },
                { "medium", PL_PRIORITY_MEDIUM },
                { "low", PL_PRIORITY_LOW },
                { "no-auto-start", PL_PRIORITY_NO_AUTO_START },
        };
        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(s, table[i].name)) {
                        *ret = table[i].p;
                        return 0;
                }
        return -EINVAL;
}

/* "HH:MM" into minutes after midnight. */
static int parse_clock(const char *s, size_t len, uint32_t *ret) {
        unsigned h, m;
        char buf[8];
        int n = 0;

        if (len == 0 || len >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, len);
        buf[len] = '\0';
        if (sscanf(buf, "%2u:%2u%n", &h, &m, &n) != 2 || (size_t)n != len || h > 23 || m > 59)
                return -EINVAL;
        *ret = h * 60 + m;
        return 0;
}

static int parse_failback(json_object *fb, struct role_def *d, struct err *e) {
        static const char *const keys[] = { "policy", "window", NULL };
        const char *policy = NULL, *window = NULL;
        int r;

        if (!json_object_is_type(fb, json_type_object))
                return err_set(e, -EINVAL, "failback: expected an object {\"policy\": ..., \"window\": ...}");
        if ((r = json_check_keys(fb, keys, e)) < 0)
                return prefix_err(e, r, "failback");
        if ((r = json_get_string(fb, "policy", false, &policy, e)) < 0 ||
            (r = json_get_string(fb, "window", false, &window, e)) < 0)
                return prefix_err(e, r, "failback");
        if (policy) {
                if (streq(policy, "never"))
                        d->failback = PL_FAILBACK_NEVER;
                else if (streq(policy, "immediate"))
                        d->failback = PL_FAILBACK_IMMEDIATE;
                else if (streq(policy, "window"))
                        d->failback = PL_FAILBACK_WINDOW;
                else
                        return err_set(e, -EINVAL, "failback.policy: '%s' is not one of never, immediate, window",
                                       policy);
        }
        if (window) {
                const char *dash = strchr(window, '-');
                if (!dash || parse_clock(window, (size_t)(dash - window), &d->failback_start_min) < 0 ||
                    parse_clock(dash + 1, strlen(dash + 1), &d->failback_end_min) < 0)
                        return err_set(e, -EINVAL, "failback.window: '%s' is not HH:MM-HH:MM", window);
                if (d->failback_start_min == d->failback_end_min)
                        return err_set(e, -EINVAL, "failback.window: '%s' is empty", window);
        }
        if (d->failback == PL_FAILBACK_WINDOW && !window && d->failback_start_min == d->failback_end_min)
                return err_set(e, -EINVAL, "failback.window: required when the policy is 'window'");
        return 0;
}

static int parse_threshold(json_object *o, const char *key, uint32_t *count, uint64_t *period, struct err *e) {
        static const char *const keys[] = { "threshold", "period", NULL };
        char field[64];
        json_object *t;
        int r;

        if (!json_object_object_get_ex(o, key, &t))
                return 0;
        if (!json_object_is_type(t, json_type_object))
                return err_set(e, -EINVAL, "%s: expected an object {\"threshold\": N, \"period\": \"6h\"}", key);
        if ((r = json_check_keys(t, keys, e)) < 0)
                return prefix_err(e, r, key);
        snprintf(field, sizeof(field), "%s.threshold", key);
        if ((r = get_count(t, "threshold", field, 1000, count, e)) < 0)
                return r;
        snprintf(field, sizeof(field), "%s.period", key);
        return get_duration(t, "period", field, USEC_PER_SEC, period, e);
}

static int parse_timeouts(json_object *o, struct role_def *d, struct err *e) {
        static const char *const keys[] = { "start", "stop", "monitor", NULL };
        json_object *t;
        int r;

        if (!json_object_object_get_ex(o, "timeouts", &t))
                return 0;
        if (!json_object_is_type(t, json_type_object))
                return err_set(e, -EINVAL, "timeouts: expected an object {\"start\": \"60s\", ...}");
        if ((r = json_check_keys(t, keys, e)) < 0)
                return prefix_err(e, r, "timeouts");
        if ((r = get_duration(t, "start", "timeouts.start", 100 * USEC_PER_MSEC, &d->start_timeout_usec, e)) < 0 ||
            (r = get_duration(t, "stop", "timeouts.stop", 100 * USEC_PER_MSEC, &d->stop_timeout_usec, e)) < 0 ||
            (r = get_duration(t, "monitor", "timeouts.monitor", 100 * USEC_PER_MSEC, &d->monitor_timeout_usec, e)) < 0)
                return r;
        if (d->start_timeout_usec > TIMEOUT_MAX_USEC || d->stop_timeout_usec > TIMEOUT_MAX_USEC ||
            d->monitor_timeout_usec > TIMEOUT_MAX_USEC)
                return err_set(e, -EINVAL, "timeouts: at most 1h each");
        return 0;
}

static bool param_name_is_valid(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 64)
                return false;
        for (const char *p = s; *p; p++)
                if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
                        return false;
        return true;
}

/* An agent name: ours ("vm"), or "ocf:PROVIDER:TYPE" with path-safe parts. */
static bool agent_is_valid(const char *s) {
        const char *rest = startswith(s, "ocf:");
        if (!rest)
                return name_is_valid(s);
        const char *colon = strchr(rest, ':');
        if (!colon || colon == rest || strchr(colon + 1, ':'))
                return false;
        _cleanup_free_ char *provider = xstrndup(rest, (size_t)(colon - rest));
        return name_is_valid(provider) && name_is_valid(colon + 1);
}

static int parse_params(json_object *p, const char *where, struct role_param **ret, size_t *ret_n, struct err *e) {
        struct role_param *params = NULL;
        size_t n = 0;
        int r = 0;

        if (!json_object_is_type(p, json_type_object))
                return err_set(e, -EINVAL, "%s.params: expected an object of name: value", where);
        if ((size_t)json_object_object_length(p) > ROLE_PARAMS_MAX)
                return err_set(e, -EINVAL, "%s.params: more than %d parameters", where, ROLE_PARAMS_MAX);
        params = xcalloc((size_t)json_object_object_length(p) + 1, sizeof(*params));
        json_object_object_foreach(p, key, val) {
                const char *v;
                if (!param_name_is_valid(key)) {
                        r = err_set(e, -EINVAL, "%s.params: '%s' is not a valid parameter name ([A-Za-z0-9_])", where,
                                    key);
                        break;
                }
                if (json_object_is_type(val, json_type_string) || json_object_is_type(val, json_type_int) ||
                    json_object_is_type(val, json_type_boolean) || json_object_is_type(val, json_type_double))
                        v = json_object_get_string(val);
                else {
                        r = err_set(e, -EINVAL, "%s.params.%s: expected a string, number or boolean", where, key);
                        break;
                }
                if (strlen(v) > ROLE_PARAM_VALUE_MAX) {
                        r = err_set(e, -EINVAL, "%s.params.%s: value longer than %d bytes", where, key,
                                    ROLE_PARAM_VALUE_MAX);
                        break;
                }
                params[n].name = xstrdup(key);
                params[n].value = xstrdup(v);
                n++;
        }
        if (r < 0) {
                for (size_t i = 0; i < n; i++) {
                        free(params[i].name);
                        free(params[i].value);
                }
                free(params);
                return r;
        }
        /* Stable order, whatever the client sent. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && strcmp(params[j - 1].name, params[j].name) > 0; j--) {
                        struct role_param t = params[j];
                        params[j] = params[j - 1];
                        params[j - 1] = t;
                }
        *ret = params;
        *ret_n = n;
        return 0;
}

static int parse_resource(json_object *o, size_t index, struct role_resource *ret, struct err *e) {
        static const char *const keys[] = { "name", "agent", "params", NULL };
        struct role_resource res = {};
        const char *name = NULL, *agent = NULL;
        char where[96];
        json_object *p;
        int r;

        snprintf(where, sizeof(where), "resources[%zu]", index);
        if (!json_object_is_type(o, json_type_object))
                return err_set(e, -EINVAL, "%s: expected an object {\"name\", \"agent\", \"params\"}", where);
        if ((r = json_check_keys(o, keys, e)) < 0)
                return prefix_err(e, r, where);
        if ((r = json_get_string(o, "name", true, &name, e)) < 0 ||
            (r = json_get_string(o, "agent", true, &agent, e)) < 0)
                return prefix_err(e, r, where);
        if (!name_is_valid(name))
                return err_set(e, -EINVAL, "%s.name: '%s' is not a valid name", where, name);
        snprintf(where, sizeof(where), "resource '%s'", name);
        if (!agent_is_valid(agent))
                return err_set(e, -EINVAL, "%s: agent '%s' is not a valid agent name (\"vm\", \"ocf:heartbeat:Dummy\")",
                               where, agent);
        res.name = xstrdup(name);
        res.agent = xstrdup(agent);
        if (json_object_object_get_ex(o, "params", &p) &&
            (r = parse_params(p, where, &res.params, &res.n_params, e)) < 0) {
                resource_done(&res);
                return r;
        }
        *ret = res;
        return 0;
}

static int check_vm_params(const struct role_resource *res, struct err *e) {
        const char *mem = role_resource_param(res, "memory"), *cpus = role_resource_param(res, "vcpus");
        uint64_t v;

        if (!streq(res->agent, "vm"))
                return 0;
        if (!mem)
                return err_set(e, -EINVAL, "resource '%s': a vm needs params.memory (MiB)", res->name);
        if (parse_uint64(mem, &v) < 0 || v < 16 || v > 4 * 1024 * 1024)
                return err_set(e, -EINVAL, "resource '%s': params.memory '%s' is not a size in MiB (16..4194304)",
                               res->name, mem);
        if (cpus && (parse_uint64(cpus, &v) < 0 || v < 1 || v > 255))
                return err_set(e, -EINVAL, "resource '%s': params.vcpus '%s' is not a count (1..255)", res->name, cpus);
        if (!role_resource_param(res, "name"))
                return err_set(e, -EINVAL, "resource '%s': a vm needs params.name", res->name);
        return 0;
}

static int check_resources(const struct role_def *d, struct err *e) {
        for (size_t i = 0; i < d->n_resources; i++) {
                int r = check_vm_params(&d->resources[i], e);
                if (r < 0)
                        return r;
                for (size_t j = 0; j < i; j++)
                        if (streq(d->resources[i].name, d->resources[j].name))
                                return err_set(e, -EINVAL, "resources: '%s' is listed twice", d->resources[i].name);
        }
        return 0;
}

void role_def_demand(const struct role_def *d, uint64_t *ret_memory_mib, uint32_t *ret_cpus) {
        uint64_t mem = 0;
        uint32_t cpus = 0;

        for (size_t i = 0; i < d->n_resources; i++) {
                const struct role_resource *res = &d->resources[i];
                uint64_t v;
                if (!streq(res->agent, "vm"))
                        continue;
                if (parse_uint64(strempty(role_resource_param(res, "memory")), &v) >= 0)
                        mem += v;
                if (parse_uint64(strempty(role_resource_param(res, "vcpus")), &v) >= 0)
                        cpus += (uint32_t)v;
                else
                        cpus += 1;
        }
        *ret_memory_mib = mem;
        *ret_cpus = cpus;
}

/* The settable top-level fields (shared by create and patch). */
static int parse_properties(json_object *o, struct role_def *d, struct err *e) {
        const char *s = NULL;
        int r;

        if ((r = json_get_string(o, "description", false, &s, e)) < 0)
                return r;
        if (s) {
                if (strlen(s) > ROLE_DESCRIPTION_MAX)
                        return err_set(e, -EINVAL, "description: longer than %d bytes", ROLE_DESCRIPTION_MAX);
                free(d->description);
                d->description = xstrdup(s);
        }
        s = NULL;
        if ((r = json_get_string(o, "priority", false, &s, e)) < 0)
                return r;
        if (s && parse_priority(s, &d->priority) < 0)
                return err_set(e, -EINVAL, "priority: '%s' is not one of high, medium, low, no-auto-start", s);
        if ((r = get_names(o, "preferred_owners", ROLE_OWNERS_MAX, &d->preferred, e)) < 0 ||
            (r = get_names(o, "possible_owners", ROLE_OWNERS_MAX, &d->possible, e)) < 0 ||
            (r = get_names(o, "anti_affinity", ROLE_CLASSES_MAX, &d->anti_affinity, e)) < 0)
                return r;
        if ((r = parse_threshold(o, "failover", &d->failover_threshold, &d->failover_period_usec, e)) < 0 ||
            (r = parse_threshold(o, "restart", &d->restart_threshold, &d->restart_period_usec, e)) < 0)
                return r;
        json_object *fb;
        if (json_object_object_get_ex(o, "failback", &fb) && (r = parse_failback(fb, d, e)) < 0)
                return r;
        if ((r = get_duration(o, "monitor_interval", "monitor_interval", 100 * USEC_PER_MSEC, &d->monitor_interval_usec,
                              e)) < 0)
                return r;
        if (d->monitor_interval_usec > TIMEOUT_MAX_USEC)
                return err_set(e, -EINVAL, "monitor_interval: at most 1h");
        return parse_timeouts(o, d, e);
}

/* Possible owners restrict preferred ones: a preferred owner that is not
 * possible could never be used, which is a mistake worth reporting. */
static int check_owner_lists(const struct role_def *d, struct err *e) {
        if (strv_length(d->possible) == 0)
                return 0;
        for (char **p = d->preferred; p && *p; p++)
                if (!strv_contains(d->possible, *p))
                        return err_set(e, -EINVAL, "preferred_owners: '%s' is not among possible_owners", *p);
        return 0;
}

int role_def_from_json(json_object *o, const char *name, struct role_def *ret, struct err *e) {
        static const char *const keys[] = {
                "name",     "description", "preferred_owners", "possible_owners",  "anti_affinity", "priority",
                "failover", "restart",     "failback",         "monitor_interval", "timeouts",      "resources",
                NULL
        };
        _cleanup_(role_def_done) struct role_def d = {
                .priority = PL_PRIORITY_MEDIUM,
                .failover_threshold = DEFAULT_FAILOVER_THRESHOLD,
                .failover_period_usec = DEFAULT_FAILOVER_PERIOD_USEC,
                .restart_threshold = DEFAULT_RESTART_THRESHOLD,
                .restart_period_usec = DEFAULT_RESTART_PERIOD_USEC,
                .failback = PL_FAILBACK_NEVER,
                .monitor_interval_usec = DEFAULT_MONITOR_INTERVAL_USEC,
                .start_timeout_usec = DEFAULT_START_TIMEOUT_USEC,
                .stop_timeout_usec = DEFAULT_STOP_TIMEOUT_USEC,
                .monitor_timeout_usec = DEFAULT_MONITOR_TIMEOUT_USEC,
        };
        const char *s = NULL;
        json_object *res;
        int r;

        if ((r = json_check_keys(o, keys, e)) < 0)
                return r;
        if ((r = json_get_string(o, "name", !name, &s, e)) < 0)
                return r;
        if (name)
                s = name;
        if (!name_is_valid(s))
                return err_set(e, -EINVAL, "name: '%s' is not a valid role name (1 to 63 letters, digits, '-' or '_')",
                               s);
        d.name = xstrdup(s);
        d.description = xstrdup("");
        d.preferred = xcalloc(1, sizeof(char *));
        d.possible = xcalloc(1, sizeof(char *));
        d.anti_affinity = xcalloc(1, sizeof(char *));
        if ((r = parse_properties(o, &d, e)) < 0 || (r = check_owner_lists(&d, e)) < 0)
                return r;

        if (json_object_object_get_ex(o, "resources", &res)) {
                if (!json_object_is_type(res, json_type_array))
                        return err_set(e, -EINVAL, "resources: expected an array of resources");
                size_t n = json_object_array_length(res);
                if (n > ROLE_RESOURCES_MAX)
                        return err_set(e, -EINVAL, "resources: %zu resources, at most %d per role", n,
                                       ROLE_RESOURCES_MAX);
                d.resources = xcalloc(n + 1, sizeof(*d.resources));
                for (size_t i = 0; i < n; i++) {
                        if ((r = parse_resource(json_object_array_get_idx(res, i), i, &d.resources[i], e)) < 0)
                                return r;
                        d.n_resources++;
                }
        }
        if ((r = check_resources(&d, e)) < 0)
                return r;
        *ret = d;
        d = (struct role_def){};
        return 0;
}

static json_object *names_to_json(char **l) {
        json_object *a = json_object_new_array();
        for (char **p = l; p && *p; p++)
                json_object_array_add(a, json_object_new_string(*p));
        return a;
}

static void add_duration(json_object *o, const char *key, uint64_t usec) {
        char buf[32];
        json_object_object_add(o, key, json_object_new_string(format_duration(buf, sizeof(buf), usec)));
}

json_object *role_def_to_json(const struct role_def *d) {
        json_object *o = json_object_new_object(), *t;
        char window[48];

        json_add_string(o, "name", d->name);
        json_add_string(o, "description", strempty(d->description));
        json_add_string(o, "priority", role_priority_to_string(d->priority));
        json_object_object_add(o, "preferred_owners", names_to_json(d->preferred));
        json_object_object_add(o, "possible_owners", names_to_json(d->possible));
        json_object_object_add(o, "anti_affinity", names_to_json(d->anti_affinity));

        t = json_object_new_object();
        json_add_int(t, "threshold", d->failover_threshold);
        add_duration(t, "period", d->failover_period_usec);
        json_object_object_add(o, "failover", t);
        t = json_object_new_object();
        json_add_int(t, "threshold", d->restart_threshold);
        add_duration(t, "period", d->restart_period_usec);
        json_object_object_add(o, "restart", t);

        t = json_object_new_object();
        json_add_string(t, "policy", role_failback_to_string(d->failback));
        if (d->failback_start_min != d->failback_end_min) {
                snprintf(window, sizeof(window), "%02u:%02u-%02u:%02u", d->failback_start_min / 60,
                         d->failback_start_min % 60, d->failback_end_min / 60, d->failback_end_min % 60);
                json_add_string(t, "window", window);
        }
        json_object_object_add(o, "failback", t);

        add_duration(o, "monitor_interval", d->monitor_interval_usec);
        t = json_object_new_object();
        add_duration(t, "start", d->start_timeout_usec);
        add_duration(t, "stop", d->stop_timeout_usec);
        add_duration(t, "monitor", d->monitor_timeout_usec);
        json_object_object_add(o, "timeouts", t);

        json_object *a = json_object_new_array();
        for (size_t i = 0; i < d->n_resources; i++) {
                const struct role_resource *res = &d->resources[i];
                json_object *ro = json_object_new_object(), *p = json_object_new_object();
                json_add_string(ro, "name", res->name);
                json_add_string(ro, "agent", res->agent);
                for (size_t k = 0; k < res->n_params; k++)
                        json_add_string(p, res->params[k].name, res->params[k].value);
                json_object_object_add(ro, "params", p);
                json_object_array_add(a, ro);
        }
        json_object_object_add(o, "resources", a);
        return o;
}

/* Round-trips d through JSON so that edits work on a copy: d changes only
 * when the whole result is valid. */
static int copy_def(const struct role_def *d, struct role_def *ret, struct err *e) {
        _cleanup_(json_object_putp) json_object *o = role_def_to_json(d);
        return role_def_from_json(o, NULL, ret, e);
}

static void replace_def(struct role_def *d, struct role_def *n) {
        role_def_done(d);
        *d = *n;
        *n = (struct role_def){};
}

int role_def_patch(struct role_def *d, json_object *patch, struct err *e) {
        static const char *const keys[] = {
                "description", "preferred_owners", "possible_owners",  "anti_affinity", "priority", "failover",
                "restart",     "failback",         "monitor_interval", "timeouts",      NULL
        };
        _cleanup_(role_def_done) struct role_def n = {};
        int r;

        if (!json_object_is_type(patch, json_type_object))
                return err_set(e, -EINVAL, "expected a JSON object of role properties");
        if ((r = json_check_keys(patch, keys, e)) < 0)
                return r;
        if ((r = copy_def(d, &n, e)) < 0 || (r = parse_properties(patch, &n, e)) < 0 ||
            (r = check_owner_lists(&n, e)) < 0)
                return r;
        replace_def(d, &n);
        return 0;
}

int role_def_add_resource(struct role_def *d, json_object *resource, struct err *e) {
        _cleanup_(role_def_done) struct role_def n = {};
        struct role_resource res = {};
        size_t i;
        int r;

        if ((r = copy_def(d, &n, e)) < 0 || (r = parse_resource(resource, n.n_resources, &res, e)) < 0)
                return r;
        for (i = 0; i < n.n_resources; i++)
                if (streq(n.resources[i].name, res.name))
                        break;
        if (i < n.n_resources)
                resource_done(&n.resources[i]);
        else {
                if (n.n_resources >= ROLE_RESOURCES_MAX) {
                        resource_done(&res);
                        return err_set(e, -EINVAL, "role '%s' already has %d resources", d->name, ROLE_RESOURCES_MAX);
                }
                n.resources = xrealloc(n.resources, (n.n_resources + 1) * sizeof(*n.resources));
                n.n_resources++;
        }
        n.resources[i] = res;
        if ((r = check_resources(&n, e)) < 0)
                return r;
        replace_def(d, &n);
        return 0;
}

static ssize_t find_resource(const struct role_def *d, const char *name) {
        for (size_t i = 0; i < d->n_resources; i++)
                if (streq(d->resources[i].name, name))
                        return (ssize_t)i;
        return -1;
}

int role_def_set_resource_params(struct role_def *d, const char *resource, json_object *params, struct err *e) {
        _cleanup_(role_def_done) struct role_def n = {};
        struct role_param *p = NULL;
        size_t np = 0;
        ssize_t i;
        int r;

        if ((i = find_resource(d, resource)) < 0)
                return err_set(e, -ENOENT, "role '%s' has no resource '%s'", d->name, resource);
        if ((r = copy_def(d, &n, e)) < 0)
                return r;
        struct role_resource *res = &n.resources[i];
        if ((r = parse_params(params, res->name, &p, &np, e)) < 0)
                return r;
        /* Merge: given parameters replace, an empty string removes. */
        for (size_t k = 0; k < np; k++) {
                size_t j;
                for (j = 0; j < res->n_params; j++)
                        if (streq(res->params[j].name, p[k].name))
                                break;
                if (j == res->n_params) {
                        res->params = xrealloc(res->params, (res->n_params + 1) * sizeof(*res->params));
                        res->params[res->n_params++] = p[k];
                        continue;
                }
                free(res->params[j].value);
                res->params[j].value = p[k].value;
                free(p[k].name);
        }
        free(p);
        size_t w = 0;
        for (size_t j = 0; j < res->n_params; j++) {
                if (res->params[j].value[0] == '\0') {
                        free(res->params[j].name);
                        free(res->params[j].value);
                        continue;
                }
                res->params[w++] = res->params[j];
        }
        res->n_params = w;
        if (res->n_params > ROLE_PARAMS_MAX)
                return err_set(e, -EINVAL, "resource '%s': more than %d parameters", resource, ROLE_PARAMS_MAX);
        /* Normalize the order again by a round trip. */
        _cleanup_(role_def_done) struct role_def n2 = {};
        if ((r = copy_def(&n, &n2, e)) < 0)
                return r;
        replace_def(d, &n2);
        return 0;
}

int role_def_remove_resource(struct role_def *d, const char *resource, struct err *e) {
        ssize_t i = find_resource(d, resource);
        if (i < 0)
                return err_set(e, -ENOENT, "role '%s' has no resource '%s'", d->name, resource);
        resource_done(&d->resources[i]);
        memmove(&d->resources[i], &d->resources[i + 1], (d->n_resources - (size_t)i - 1) * sizeof(*d->resources));
        d->n_resources--;
        return 0;
}
