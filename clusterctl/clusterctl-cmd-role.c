/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl-cmd-role.c: "role ..." and "resource ...": clustered roles
 * (an ordered group of resources that fails over as a unit) and their
 * resources.
 */
#include "clusterctl/clusterctl.h"

enum {
        OPT_PREFERRED = CTL_OPT_COMMAND,
        OPT_POSSIBLE,
        OPT_ANTI_AFFINITY,
        OPT_PRIORITY,
        OPT_FAILOVER_THRESHOLD,
        OPT_FAILOVER_PERIOD,
        OPT_RESTART_THRESHOLD,
        OPT_RESTART_PERIOD,
        OPT_FAILBACK,
        OPT_MONITOR_INTERVAL,
        OPT_START_TIMEOUT,
        OPT_STOP_TIMEOUT,
        OPT_MONITOR_TIMEOUT,
        OPT_DESCRIPTION,
        OPT_STOPPED,
        OPT_FILE,
        OPT_TO,
};

static const struct ctl_command cmd_list, cmd_show, cmd_create, cmd_set, cmd_delete, cmd_start, cmd_stop, cmd_move,
        cmd_clear, cmd_explain, cmd_res_add, cmd_res_set, cmd_res_remove;

/* ------------------------------------------------------------------------ */
/* Printing                                                                  */

static void print_roles(json_object *roles, FILE *f) {
        _cleanup_table_ struct ctl_table *t =
                ctl_table_new("NAME", "STATE", "OWNER", "PRIORITY", "RESOURCES", "STATUS", NULL);
        for (size_t i = 0; i < json_object_array_length(roles); i++) {
                json_object *r = json_object_array_get_idx(roles, i);
                ctl_table_add_field(t, r, "name");
                ctl_table_add_field(t, r, "state");
                ctl_table_add(t, ctl_json_str(r, "active_node") ?: ctl_json_str(r, "owner"));
                ctl_table_add_field(t, r, "priority");
                ctl_table_add_field(t, r, "resource_count");
                json_object *st = ctl_json_get(r, "status");
                const char *msg = ctl_json_str(st, "message");
                if (msg && *msg)
                        ctl_table_addf(t, "%s: %s", ctl_json_str(st, "status") ?: "-", msg);
                else
                        ctl_table_add(t, ctl_json_str(st, "status"));
        }
        ctl_table_print(t, f);
}

static void print_role(json_object *role, FILE *f) {
        json_object *res = ctl_json_get(role, "resources");
        json_object_object_foreach(role, key, val) {
                if (streq(key, "resources"))
                        continue;
                _cleanup_free_ char *text = ctl_json_text(val);
                fprintf(f, "%-18s %s\n", key, text);
        }
        if (!res || json_object_array_length(res) == 0) {
                fprintf(f, "\nNo resources.\n");
                return;
        }
        fprintf(f, "\n");
        _cleanup_table_ struct ctl_table *t = ctl_table_new("RESOURCE", "AGENT", "PARAMETERS", NULL);
        for (size_t i = 0; i < json_object_array_length(res); i++) {
                json_object *r = json_object_array_get_idx(res, i);
                ctl_table_add_field(t, r, "name");
                ctl_table_add_field(t, r, "agent");
                _cleanup_free_ char *params = NULL;
                size_t size = 0;
                FILE *m = open_memstream(&params, &size);
                json_object *p = ctl_json_get(r, "params");
                bool first = true;
                if (m && p) {
                        json_object_object_foreach(p, k, v) {
                                fprintf(m, "%s%s=%s", first ? "" : " ", k, json_object_get_string(v));
                                first = false;
                        }
                }
                if (m)
                        fclose(m);
                ctl_table_add(t, params && *params ? params : NULL);
        }
        ctl_table_print(t, f);
}

static int print_reply(struct ctl *ctl, json_object *reply, const char *what) {
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (what)
                printf("%s\n\n", what);
        print_role(reply, stdout);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Property options, shared by create and set                                */

struct props {
        json_object *o; /* owned: the body being built */
};

static json_object *name_list(const char *csv) {
        json_object *a = json_object_new_array();
        _cleanup_free_ char *copy = xstrdup(csv);
        char *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                if (*t)
                        json_object_array_add(a, json_object_new_string(t));
        return a;
}

static json_object *sub(json_object *o, const char *key) {
        json_object *v;
        if (json_object_object_get_ex(o, key, &v))
                return v;
        v = json_object_new_object();
        json_object_object_add(o, key, v);
        return v;
}

static int prop_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct props *p = userdata;
        uint32_t n;

        switch (c) {
        case OPT_PREFERRED:
                json_object_object_add(p->o, "preferred_owners", name_list(arg));
                return 0;
        case OPT_POSSIBLE:
                json_object_object_add(p->o, "possible_owners", name_list(arg));
                return 0;
        case OPT_ANTI_AFFINITY:
                json_object_object_add(p->o, "anti_affinity", name_list(arg));
                return 0;
        case OPT_PRIORITY:
                json_add_string(p->o, "priority", arg);
                return 0;
        case OPT_DESCRIPTION:
                json_add_string(p->o, "description", arg);
                return 0;
        case OPT_FAILOVER_THRESHOLD:
        case OPT_RESTART_THRESHOLD:
                if (parse_uint32(arg, &n) < 0)
                        return ctl_usage(e, "invalid %s '%s': expected a count",
                                         c == OPT_FAILOVER_THRESHOLD ? "--failover-threshold" : "--restart-threshold",
                                         arg);
                json_add_int(sub(p->o, c == OPT_FAILOVER_THRESHOLD ? "failover" : "restart"), "threshold", n);
                return 0;
        case OPT_FAILOVER_PERIOD:
        case OPT_RESTART_PERIOD:
                json_add_string(sub(p->o, c == OPT_FAILOVER_PERIOD ? "failover" : "restart"), "period", arg);
                return 0;
        case OPT_FAILBACK:
                /* never | immediate | HH:MM-HH:MM */
                if (streq(arg, "never") || streq(arg, "immediate"))
                        json_add_string(sub(p->o, "failback"), "policy", arg);
                else {
                        json_add_string(sub(p->o, "failback"), "policy", "window");
                        json_add_string(sub(p->o, "failback"), "window", arg);
                }
                return 0;
        case OPT_MONITOR_INTERVAL:
                json_add_string(p->o, "monitor_interval", arg);
                return 0;
        case OPT_START_TIMEOUT:
                json_add_string(sub(p->o, "timeouts"), "start", arg);
                return 0;
        case OPT_STOP_TIMEOUT:
                json_add_string(sub(p->o, "timeouts"), "stop", arg);
                return 0;
        case OPT_MONITOR_TIMEOUT:
                json_add_string(sub(p->o, "timeouts"), "monitor", arg);
                return 0;
        case OPT_STOPPED:
                json_add_bool(p->o, "started", false);
                return 0;
        case OPT_FILE: {
                _cleanup_free_ char *text = NULL;
                _cleanup_json_ json_object *f = NULL;
                size_t size;
                int r = read_full_file(arg, 1024 * 1024, &text, &size);
                if (r < 0)
                        return err_set(e, r, "cannot read '%s': %s", arg, strerror(-r));
                if (json_parse_object(text, size, &f, e) < 0)
                        return ctl_usage(e, "--file %s: %s", arg, e->msg);
                json_object_object_foreach(f, k, v) json_object_object_add(p->o, k, json_object_get(v));
                return 0;
        }
        default:
                return ctl_usage(e, "unhandled option %d", c);
        }
}

#define PROP_OPTIONS                                                                                                   \
        { "preferred", required_argument, NULL, OPT_PREFERRED },                                                       \
                { "possible", required_argument, NULL, OPT_POSSIBLE },                                                 \
                { "anti-affinity", required_argument, NULL, OPT_ANTI_AFFINITY },                                       \
                { "priority", required_argument, NULL, OPT_PRIORITY },                                                 \
                { "description", required_argument, NULL, OPT_DESCRIPTION },                                           \
                { "failover-threshold", required_argument, NULL, OPT_FAILOVER_THRESHOLD },                             \
                { "failover-period", required_argument, NULL, OPT_FAILOVER_PERIOD },                                   \
                { "restart-threshold", required_argument, NULL, OPT_RESTART_THRESHOLD },                               \
                { "restart-period", required_argument, NULL, OPT_RESTART_PERIOD },                                     \
                { "failback", required_argument, NULL, OPT_FAILBACK },                                                 \
                { "monitor-interval", required_argument, NULL, OPT_MONITOR_INTERVAL },                                 \
                { "start-timeout", required_argument, NULL, OPT_START_TIMEOUT },                                       \
                { "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT }, {                                       \
                "monitor-timeout", required_argument, NULL, OPT_MONITOR_TIMEOUT                                        \
        }

#define PROP_HELP                                                                                                      \
        "      --preferred N1,N2,...       Preferred owners, in order\n"                                               \
        "      --possible N1,N2,...        The only nodes it may run on (default: all)\n"                              \
        "      --anti-affinity C1,C2       Anti-affinity classes: kept apart from roles sharing one\n"                 \
        "      --priority P                high, medium (default), low or no-auto-start\n"                             \
        "      --description TEXT\n"                                                                                   \
        "      --failover-threshold N      Failures within the period before it stays failed (default 2)\n"            \
        "      --failover-period D         (default 6h)\n"                                                             \
        "      --restart-threshold N       Restarts in place before failing over (default 1)\n"                        \
        "      --restart-period D          (default 15m)\n"                                                            \
        "      --failback POLICY           never (default), immediate, or a window HH:MM-HH:MM\n"                      \
        "      --monitor-interval D        (default 10s)\n"                                                            \
        "      --start-timeout D, --stop-timeout D, --monitor-timeout D\n"                                             \
        "                                  Per-action timeouts (default 60s, 60s, 20s)\n"

/* ------------------------------------------------------------------------ */
/* Runs                                                                      */

/* Parses options and exactly n positional arguments. */
static int parse(struct ctl *ctl, const struct ctl_command *cmd, int argc, char *argv[], ctl_option_fn fn, void *data,
                 int min, int max, const char *names, int *ret_idx, struct err *e) {
        int r = ctl_parse_options(ctl, cmd, argc, argv, fn, data, ret_idx, e);
        if (r != 0)
                return r;
        return ctl_check_args(argc - *ret_idx, min, max, names, argv + *ret_idx, e);
}

static int list_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *roles;
        int r, idx;

        if ((r = parse(ctl, &cmd_list, argc, argv, NULL, NULL, 0, 0, "", &idx, e)) != 0 ||
            (r = ctl_call(ctl, "GET", "/v1/roles", NULL, &reply, e)) < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (json_get_array(reply, "roles", true, &roles, e) < 0)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/roles");
        if (json_object_array_length(roles) == 0)
                printf("No roles. Create one with 'clusterctl role create NAME'.\n");
        else
                print_roles(roles, stdout);
        return 0;
}

static int show_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r, idx;

        if ((r = parse(ctl, &cmd_show, argc, argv, NULL, NULL, 1, 1, "ROLE", &idx, e)) != 0)
                return r;
        path = ctl_path("roles/", argv[idx], NULL);
        if ((r = ctl_call(ctl, "GET", path, NULL, &reply, e)) < 0)
                return r;
        return print_reply(ctl, reply, NULL);
}

static int create_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        struct props p = { .o = json_object_new_object() };
        _cleanup_free_ char *what = NULL;
        int r, idx;

        r = parse(ctl, &cmd_create, argc, argv, prop_option, &p, 1, 1, "ROLE", &idx, e);
        if (r == 0) {
                json_add_string(p.o, "name", argv[idx]);
                r = ctl_call(ctl, "POST", "/v1/roles", p.o, &reply, e);
        }
        json_object_put(p.o);
        if (r != 0)
                return r;
        what = xasprintf(
                "Role '%s' created. Add resources with 'clusterctl resource add %s NAME AGENT [KEY=VALUE...]'.",
                argv[idx], argv[idx]);
        return print_reply(ctl, reply, what);
}

static int set_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        struct props p = { .o = json_object_new_object() };
        _cleanup_free_ char *path = NULL;
        int r, idx;

        r = parse(ctl, &cmd_set, argc, argv, prop_option, &p, 1, 1, "ROLE", &idx, e);
        if (r == 0 && json_object_object_length(p.o) == 0)
                r = ctl_usage(e, "nothing to set: give at least one property option");
        if (r == 0 && json_object_object_get_ex(p.o, "started", NULL))
                r = ctl_usage(e, "--stopped is for create; use 'role stop'");
        if (r == 0) {
                path = ctl_path("roles/", argv[idx], NULL);
                r = ctl_call(ctl, "PATCH", path, p.o, &reply, e);
        }
        json_object_put(p.o);
        if (r != 0)
                return r;
        return print_reply(ctl, reply, "Role changed.");
}

static int delete_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r, idx;

        if ((r = parse(ctl, &cmd_delete, argc, argv, NULL, NULL, 1, 1, "ROLE", &idx, e)) != 0)
                return r;
        path = ctl_path("roles/", argv[idx], NULL);
        if ((r = ctl_call(ctl, "DELETE", path, NULL, &reply, e)) < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                printf("Role '%s' deleted.\n", argv[idx]);
        return 0;
}

static int move_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        *(const char **)userdata = arg;
        return 0;
}

/* start, stop, clear, move: POST /v1/roles/NAME/ACTION. */
static int action_run(struct ctl *ctl, const struct ctl_command *cmd, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL, *body = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        const char *to = NULL;
        int r, idx;

        if ((r = parse(ctl, cmd, argc, argv, move_option, &to, 1, 1, "ROLE", &idx, e)) != 0)
                return r;
        if (streq(cmd->name, "move")) {
                if (!to)
                        return ctl_usage(e, "role move needs --to NODE");
                body = json_object_new_object();
                json_add_string(body, "node", to);
        }
        path = ctl_path("roles/", argv[idx],
                        streq(cmd->name, "start")  ? "/start"
                        : streq(cmd->name, "stop") ? "/stop"
                        : streq(cmd->name, "move") ? "/move"
                                                   : "/clear");
        if ((r = ctl_call(ctl, "POST", path, body, &reply, e)) < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (streq(cmd->name, "move"))
                printf("Role '%s' is moving to node '%s' (state now: %s).\n", argv[idx], to,
                       ctl_json_str(reply, "state") ?: "?");
        else
                printf("Role '%s': %s requested (state now: %s).\n", argv[idx], cmd->name,
                       ctl_json_str(reply, "state") ?: "?");
        return 0;
}

static int start_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return action_run(ctl, &cmd_start, argc, argv, e);
}
static int stop_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return action_run(ctl, &cmd_stop, argc, argv, e);
}
static int move_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return action_run(ctl, &cmd_move, argc, argv, e);
}
static int clear_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return action_run(ctl, &cmd_clear, argc, argv, e);
}

static int explain_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL;
        json_object *nodes;
        int r, idx;

        if ((r = parse(ctl, &cmd_explain, argc, argv, NULL, NULL, 1, 1, "ROLE", &idx, e)) != 0)
                return r;
        path = ctl_path("roles/", argv[idx], "/explain");
        if ((r = ctl_call(ctl, "GET", path, NULL, &reply, e)) < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        printf("Role '%s' is %s%s%s.\n", argv[idx], ctl_json_str(reply, "state") ?: "?",
               ctl_json_str(reply, "owner") ? " on node " : "", ctl_json_str(reply, "owner") ?: "");
        if (ctl_json_str(reply, "reason") && *ctl_json_str(reply, "reason"))
                printf("Last decision: %s\n", ctl_json_str(reply, "reason"));
        nodes = ctl_json_get(reply, "nodes");
        if (nodes && json_object_is_type(nodes, json_type_array)) {
                printf("\nNodes, in the order placement considers them:\n");
                for (size_t i = 0; i < json_object_array_length(nodes); i++)
                        printf("  %s\n", json_object_get_string(json_object_array_get_idx(nodes, i)));
        }
        return 0;
}

/* KEY=VALUE arguments into a params object. */
static int parse_params(int n, char *const args[], json_object **ret, struct err *e) {
        json_object *p = json_object_new_object();
        for (int i = 0; i < n; i++) {
                const char *eq = strchr(args[i], '=');
                if (!eq || eq == args[i]) {
                        json_object_put(p);
                        return ctl_usage(e, "invalid parameter '%s': expected KEY=VALUE", args[i]);
                }
                _cleanup_free_ char *k = xstrndup(args[i], (size_t)(eq - args[i]));
                json_add_string(p, k, eq + 1);
        }
        *ret = p;
        return 0;
}

static int res_add_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL, *body = NULL, *params = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        int r, idx;

        if ((r = parse(ctl, &cmd_res_add, argc, argv, NULL, NULL, 3, 3 + 64, "ROLE NAME AGENT", &idx, e)) != 0)
                return r;
        if ((r = parse_params(argc - idx - 3, argv + idx + 3, &params, e)) < 0)
                return r;
        body = json_object_new_object();
        json_add_string(body, "name", argv[idx + 1]);
        json_add_string(body, "agent", argv[idx + 2]);
        json_object_object_add(body, "params", TAKE_PTR(params));
        path = ctl_path("roles/", argv[idx], "/resources");
        if ((r = ctl_call(ctl, "POST", path, body, &reply, e)) < 0)
                return r;
        what = xasprintf("Resource '%s' added to role '%s'.", argv[idx + 1], argv[idx]);
        return print_reply(ctl, reply, what);
}

static int res_set_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL, *body = NULL, *params = NULL;
        _cleanup_free_ char *path = NULL, *suffix = NULL, *esc = NULL;
        int r, idx;

        if ((r = parse(ctl, &cmd_res_set, argc, argv, NULL, NULL, 3, 2 + 64, "ROLE NAME KEY=VALUE", &idx, e)) != 0)
                return r;
        if ((r = parse_params(argc - idx - 2, argv + idx + 2, &params, e)) < 0)
                return r;
        body = json_object_new_object();
        json_object_object_add(body, "params", TAKE_PTR(params));
        esc = ctl_http_escape(argv[idx + 1]);
        suffix = xasprintf("/resources/%s", esc);
        path = ctl_path("roles/", argv[idx], suffix);
        if ((r = ctl_call(ctl, "PATCH", path, body, &reply, e)) < 0)
                return r;
        return print_reply(ctl, reply, "Resource changed (a running role uses it from its next start).");
}

static int res_remove_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL, *suffix = NULL, *esc = NULL;
        int r, idx;

        if ((r = parse(ctl, &cmd_res_remove, argc, argv, NULL, NULL, 2, 2, "ROLE NAME", &idx, e)) != 0)
                return r;
        esc = ctl_http_escape(argv[idx + 1]);
        suffix = xasprintf("/resources/%s", esc);
        path = ctl_path("roles/", argv[idx], suffix);
        if ((r = ctl_call(ctl, "DELETE", path, NULL, &reply, e)) < 0)
                return r;
        return print_reply(ctl, reply, "Resource removed.");
}

/* ------------------------------------------------------------------------ */
/* The commands                                                              */

static const struct option prop_options[] = { PROP_OPTIONS, {} };
static const struct option create_options[] = {
        PROP_OPTIONS,
        { "stopped", no_argument, NULL, OPT_STOPPED },
        { "file", required_argument, NULL, OPT_FILE },
        {},
};
static const struct option move_options[] = { { "to", required_argument, NULL, OPT_TO }, {} };

static const struct ctl_command cmd_list = {
        .name = "list",
        .path = "role list",
        .summary = "List the roles",
        .help = "Lists the roles: state, where they run, priority, resources and last status.\n"
                "-o json prints GET /v1/roles.\n",
        .run = list_run,
};

static const struct ctl_command cmd_show = {
        .name = "show",
        .path = "role show",
        .args = "ROLE",
        .summary = "Show a role, its resources and its state",
        .help = "Shows a role's properties, its resources and its state. -o json prints\n"
                "GET /v1/roles/ROLE.\n",
        .run = show_run,
};

static const struct ctl_command cmd_create = {
        .name = "create",
        .path = "role create",
        .args = "ROLE",
        .summary = "Create a role",
        .help = "Creates a role. It starts (on the best node) as soon as it has resources,\n"
                "unless --stopped is given.\n"
                "\n"
                "Options:\n" PROP_HELP "      --stopped                   Create it stopped\n"
                "      --file FILE                 Read the definition (JSON, as GET shows it) from FILE\n"
                "\n"
                "Example:\n"
                "  clusterctl role create web --preferred n1,n2 --priority high --failback 22:00-06:00\n"
                "  clusterctl resource add web vm1 vm name=web memory=512 vcpus=1\n",
        .options = create_options,
        .run = create_run,
};

static const struct ctl_command cmd_set = {
        .name = "set",
        .path = "role set",
        .args = "ROLE",
        .summary = "Change a role's properties",
        .help = "Changes a role's properties; the ones not given stay.\n\nOptions:\n" PROP_HELP,
        .options = prop_options,
        .run = set_run,
};

static const struct ctl_command cmd_delete = {
        .name = "delete",
        .path = "role delete",
        .args = "ROLE",
        .summary = "Delete a stopped role",
        .help = "Deletes a role. It must be stopped first ('clusterctl role stop ROLE').\n",
        .run = delete_run,
};

static const struct ctl_command cmd_start = {
        .name = "start",
        .path = "role start",
        .args = "ROLE",
        .summary = "Start a role (also clears its failures)",
        .help = "Starts a role on the best node, clearing a failed state.\n",
        .run = start_run,
};

static const struct ctl_command cmd_stop = {
        .name = "stop",
        .path = "role stop",
        .args = "ROLE",
        .summary = "Stop a role",
        .help = "Stops a role; it stays stopped until started again.\n",
        .run = stop_run,
};

static const struct ctl_command cmd_move = {
        .name = "move",
        .path = "role move",
        .args = "ROLE --to NODE",
        .summary = "Move a role to a node",
        .help = "Moves a role to NODE: it stops where it runs, then starts there.\n",
        .options = move_options,
        .run = move_run,
};

static const struct ctl_command cmd_clear = {
        .name = "clear",
        .path = "role clear",
        .args = "ROLE",
        .summary = "Clear a role's failures",
        .help = "Forgets a role's failures: a failed role may start again, and nodes it failed\n"
                "on are no longer avoided.\n",
        .run = clear_run,
};

static const struct ctl_command cmd_explain = {
        .name = "explain",
        .path = "role explain",
        .args = "ROLE",
        .summary = "Say why a role is where it is",
        .help = "Says why a role runs where it runs, or why it cannot start anywhere: the last\n"
                "placement decision and, for each node, whether it could host the role.\n",
        .run = explain_run,
};

const struct ctl_command ctl_cmd_role = {
        .name = "role",
        .path = "role",
        .summary = "Manage roles (what fails over as a unit)",
        .help = "Creates, shows, starts, stops, moves and deletes roles.\n",
        .verbs =
                (const struct ctl_command *const[]){ &cmd_list, &cmd_show, &cmd_create, &cmd_set, &cmd_delete,
                                                     &cmd_start, &cmd_stop, &cmd_move, &cmd_clear, &cmd_explain, NULL },
        .default_verb = "list",
};

static const struct ctl_command cmd_res_add = {
        .name = "add",
        .path = "resource add",
        .args = "ROLE NAME AGENT [KEY=VALUE...]",
        .summary = "Add a resource to a role (or replace one)",
        .help = "Adds a resource at the end of a role's start order. AGENT is one of ours (vm,\n"
                "ipaddr, dummy) or an OCF agent as ocf:PROVIDER:TYPE (e.g. ocf:heartbeat:Dummy).\n"
                "KEY=VALUE pairs are its parameters (OCF_RESKEY_KEY).\n"
                "\n"
                "Example:\n"
                "  clusterctl resource add web ip ipaddr ip=198.18.0.100 cidr_netmask=24\n",
        .run = res_add_run,
};

static const struct ctl_command cmd_res_set = {
        .name = "set",
        .path = "resource set",
        .args = "ROLE NAME KEY=VALUE...",
        .summary = "Change a resource's parameters",
        .help = "Sets parameters of a resource; KEY= (empty) removes one.\n",
        .run = res_set_run,
};

static const struct ctl_command cmd_res_remove = {
        .name = "remove",
        .path = "resource remove",
        .args = "ROLE NAME",
        .summary = "Remove a resource from a role",
        .help = "Removes a resource from a role.\n",
        .run = res_remove_run,
};

const struct ctl_command ctl_cmd_resource = {
        .name = "resource",
        .path = "resource",
        .summary = "Manage a role's resources",
        .help = "Adds, changes and removes the resources of a role.\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_res_add, &cmd_res_set, &cmd_res_remove, NULL },
};
