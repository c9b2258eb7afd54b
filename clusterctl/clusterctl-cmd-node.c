/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterctl-cmd-node.c: "node list|show|add|join-token|remove". */
#include <inttypes.h>

#include "clusterctl/clusterctl.h"

enum {
        OPT_ID = CTL_OPT_COMMAND,
        OPT_JOIN_TOKEN_TTL,
        OPT_FLAG,
        OPT_REMOVE,
};

static const struct ctl_command cmd_list, cmd_show, cmd_add, cmd_join_token, cmd_remove, cmd_pause, cmd_resume,
        cmd_fenced, cmd_fencing;

int ctl_parse_node_spec(const char *spec, json_object **ret, struct err *e) {
        const char *eq = strchr(spec, '=');
        _cleanup_free_ char *name = NULL;
        json_object *o;

        if (!eq)
                return ctl_usage(e, "invalid node '%s': expected NAME=ADDRESS", spec);
        name = xstrndup(spec, (size_t)(eq - spec));
        if (!name_is_valid(name))
                return ctl_usage(e, "invalid node name '%s': 1 to 63 letters, digits, '-' or '_'", name);
        if (!eq[1] || strpbrk(eq + 1, " \t\r\n/"))
                return ctl_usage(e, "invalid address '%s' for node '%s': expected an IP address or host name", eq + 1,
                                 name);
        o = json_object_new_object();
        json_add_string(o, "name", name);
        json_add_string(o, "address", eq + 1);
        *ret = o;
        return 0;
}

int ctl_check_duration(const char *option, const char *value, struct err *e) {
        uint64_t usec;

        if (parse_duration_usec(value, &usec) < 0 || usec == 0)
                return ctl_usage(e, "invalid %s '%s': expected a duration such as 30m, 1h or 2d", option, value);
        return 0;
}

void ctl_print_nodes(json_object *nodes, bool detailed, FILE *f) {
        _cleanup_table_ struct ctl_table *t = NULL;
        size_t n = json_object_array_length(nodes);

        if (detailed)
                t = ctl_table_new("NAME", "ID", "ADDRESS", "STATE", "SINCE", "CLUSTERD", "VOTES", NULL);
        else
                t = ctl_table_new("NAME", "ID", "ADDRESS", "STATE", "SINCE", "CLUSTERD", NULL);
        for (size_t i = 0; i < n; i++) {
                json_object *node = json_object_array_get_idx(nodes, i);
                ctl_table_add_field(t, node, "name");
                ctl_table_add_field(t, node, "id");
                ctl_table_add_field(t, node, "address");
                ctl_table_add_field(t, node, "state");
                ctl_table_add_field(t, node, "since");
                ctl_table_add_field(t, node, "clusterd");
                if (detailed)
                        ctl_table_add_field(t, node, "votes");
        }
        ctl_table_print(t, f);
}

static void print_join_command(const char *url, const char *token, const char *ca_hash, const char *name, FILE *f) {
        _cleanup_free_ char *qurl = ctl_shell_quote(url), *qtoken = ctl_shell_quote(token);
        _cleanup_free_ char *qhash = ctl_shell_quote(ca_hash), *qname = name ? ctl_shell_quote(name) : NULL;

        fprintf(f, "    clusterctl cluster join %s --token %s --ca-hash %s%s%s\n", qurl, qtoken, qhash,
                qname ? " --name " : "", strempty(qname));
}

int ctl_print_join(json_object *join, const char *node_name, FILE *f, struct err *e) {
        const char *url = ctl_json_str(join, "url"), *token = ctl_json_str(join, "token");
        const char *ca_hash = ctl_json_str(join, "ca_hash"), *expires = ctl_json_str(join, "expires");
        json_object *nodes = ctl_json_get(join, "nodes");
        size_t n = json_object_is_type(nodes, json_type_array) ? json_object_array_length(nodes) : 0;

        if (!join || (n == 0 && !node_name))
                return 0;
        if (!url || !token || !ca_hash)
                return err_set(e, -EBADMSG, "invalid reply: the join object lacks url, token or ca_hash");
        if (n <= 1) {
                const char *name = n ? json_object_get_string(json_object_array_get_idx(nodes, 0)) : node_name;
                fprintf(f, "\nTo join node '%s' to the cluster, run this on it as root (the token expires %s):\n\n",
                        strempty(name), expires ?: "-");
                print_join_command(url, token, ca_hash, NULL, f);
                return 0;
        }
        /* One token admits several nodes: each must say which it is. */
        fprintf(f, "\nTo join the other nodes, run this on each of them as root (the token expires %s):\n",
                expires ?: "-");
        for (size_t i = 0; i < n; i++) {
                const char *name = json_object_get_string(json_object_array_get_idx(nodes, i));
                fprintf(f, "\n  on %s:\n", strempty(name));
                print_join_command(url, token, ca_hash, name, f);
        }
        return 0;
}

/* ------------------------------------------------------------------------ */
/* list, show, remove                                                        */
/* ------------------------------------------------------------------------ */

static int list_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        json_object *nodes;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_list, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_call(ctl, "GET", "/v1/nodes", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        r = json_get_array(reply, "nodes", true, &nodes, e);
        if (r < 0)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/nodes");
        ctl_print_nodes(nodes, true, stdout);
        return 0;
}

/* show and remove: one NAME, one request, the node object in reply. */
static int one_node(struct ctl *ctl, const struct ctl_command *cmd, const char *method, int argc, char *argv[],
                    json_object **ret, struct err *e) {
        _cleanup_free_ char *path = NULL;
        int r, idx;

        r = ctl_parse_options(ctl, cmd, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e);
        if (r < 0)
                return r;
        path = ctl_path("nodes/", argv[idx], NULL);
        return ctl_call(ctl, method, path, NULL, ret, e);
}

static int show_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = one_node(ctl, &cmd_show, "GET", argc, argv, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                ctl_print_object_table(reply, stdout);
        return 0;
}

static int remove_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        int r;

        r = one_node(ctl, &cmd_remove, "DELETE", argc, argv, &reply, e);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                printf("Node '%s' (id %" PRId64 ", address %s) removed from the cluster.\n",
                       ctl_json_str(reply, "name") ?: "?", ctl_json_int(reply, "id", 0),
                       ctl_json_str(reply, "address") ?: "-");
        return 0;
}

/* ------------------------------------------------------------------------ */
/* add, join-token                                                           */
/* ------------------------------------------------------------------------ */

struct add_args {
        int64_t id;                 /* 0: the next free one */
        const char *join_token_ttl; /* borrowed from argv, or NULL */
};

static int add_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct add_args *a = userdata;
        uint32_t id;
        int r;

        switch (c) {
        case OPT_ID:
                if (parse_uint32(arg, &id) < 0 || id == 0)
                        return ctl_usage(e, "invalid --id '%s': expected a positive integer", arg);
                a->id = id;
                return 0;
        case OPT_JOIN_TOKEN_TTL:
                r = ctl_check_duration("--join-token-ttl", arg, e);
                if (r < 0)
                        return r;
                a->join_token_ttl = arg;
                return 0;
        default:
                return ctl_usage(e, "unhandled option %d", c);
        }
}

/* Prints {"node": ..., "join": ...}, the reply of add and join-token. */
static int print_node_and_join(struct ctl *ctl, json_object *reply, const char *what, struct err *e) {
        json_object *node = ctl_json_get(reply, "node");

        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (!node || !ctl_json_get(reply, "join"))
                return err_set(e, -EBADMSG, "invalid reply: no 'node' or 'join' object");
        printf("%s\n\n", what);
        ctl_print_object_table(node, stdout);
        return ctl_print_join(ctl_json_get(reply, "join"), ctl_json_str(node, "name"), stdout, e);
}

static int add_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *body = NULL, *reply = NULL;
        _cleanup_free_ char *what = NULL;
        struct add_args a = {};
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_add, argc, argv, add_option, &a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME=ADDRESS", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_parse_node_spec(argv[idx], &body, e);
        if (r < 0)
                return r;
        if (a.id)
                json_add_int(body, "id", a.id);
        if (a.join_token_ttl)
                json_add_string(body, "join_token_ttl", a.join_token_ttl);
        r = ctl_call(ctl, "POST", "/v1/nodes", body, &reply, e);
        if (r < 0)
                return r;
        what = xasprintf("Node '%s' added.", ctl_json_str(ctl_json_get(reply, "node"), "name") ?: "?");
        return print_node_and_join(ctl, reply, what, e);
}

static int join_token_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        struct add_args a = {};
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_join_token, argc, argv, add_option, &a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e);
        if (r < 0)
                return r;
        if (a.join_token_ttl)
                json_add_string(body, "join_token_ttl", a.join_token_ttl);
        path = ctl_path("nodes/", argv[idx], "/join-token");
        r = ctl_call(ctl, "POST", path, body, &reply, e);
        if (r < 0)
                return r;
        what = xasprintf("New join token for node '%s'; the previous one no longer works.", argv[idx]);
        return print_node_and_join(ctl, reply, what, e);
}

/* ------------------------------------------------------------------------ */
/* pause, resume, fenced, fencing                                            */
/* ------------------------------------------------------------------------ */

static int flag_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        *(bool *)userdata = true;
        return 0;
}

/* POST /v1/nodes/NAME/ACTION, with {"KEY": true} when the flag was given. */
static int node_action(struct ctl *ctl, const struct ctl_command *cmd, const char *key, int argc, char *argv[],
                       struct err *e) {
        _cleanup_json_ json_object *body = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL, *suffix = NULL;
        bool flag = false;
        int r, idx;

        r = ctl_parse_options(ctl, cmd, argc, argv, flag_option, &flag, &idx, e);
        if (r != 0)
                return r;
        if ((r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e)) < 0)
                return r;
        if (flag && key) {
                body = json_object_new_object();
                json_add_bool(body, key, true);
        }
        suffix = xasprintf("/%s", cmd->name);
        path = ctl_path("nodes/", argv[idx], suffix);
        if ((r = ctl_call(ctl, "POST", path, body, &reply, e)) < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else if (streq(cmd->name, "pause"))
                printf("Node '%s' paused%s.\n", argv[idx],
                       flag ? " and draining: its roles move to other nodes" : ": it takes no new roles");
        else if (streq(cmd->name, "resume"))
                printf("Node '%s' resumed%s.\n", argv[idx], flag ? "; roles that prefer it move back" : "");
        else
                printf("Node '%s' confirmed fenced: its roles may start elsewhere.\n", argv[idx]);
        return 0;
}

static int pause_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return node_action(ctl, &cmd_pause, "drain", argc, argv, e);
}

static int resume_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return node_action(ctl, &cmd_resume, "failback", argc, argv, e);
}

static int fenced_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        return node_action(ctl, &cmd_fenced, NULL, argc, argv, e);
}

static int fencing_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *body = NULL, *reply = NULL;
        _cleanup_free_ char *path = NULL;
        bool remove = false;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_fencing, argc, argv, flag_option, &remove, &idx, e);
        if (r != 0)
                return r;
        if ((r = ctl_check_args(argc - idx, remove ? 1 : 2, remove ? 1 : 66, "NAME AGENT", argv + idx, e)) < 0)
                return r;
        path = ctl_path("nodes/", argv[idx], "/fencing");
        if (remove)
                r = ctl_call(ctl, "DELETE", path, NULL, &reply, e);
        else {
                json_object *params = json_object_new_object();
                body = json_object_new_object();
                json_add_string(body, "agent", argv[idx + 1]);
                json_object_object_add(body, "params", params);
                for (int i = idx + 2; i < argc; i++) {
                        const char *eq = strchr(argv[i], '=');
                        if (!eq || eq == argv[i])
                                return ctl_usage(e, "invalid parameter '%s': expected KEY=VALUE", argv[i]);
                        _cleanup_free_ char *k = xstrndup(argv[i], (size_t)(eq - argv[i]));
                        json_add_string(params, k, eq + 1);
                }
                r = ctl_call(ctl, "PUT", path, body, &reply, e);
        }
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else if (remove)
                printf("Node '%s' has no fence agent now.\n", argv[idx]);
        else
                printf("Node '%s' is fenced with '%s' when it is lost.\n", argv[idx], argv[idx + 1]);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* The commands                                                              */
/* ------------------------------------------------------------------------ */

static const struct option pause_options[] = { { "drain", no_argument, NULL, OPT_FLAG }, {} };
static const struct option resume_options[] = { { "failback", no_argument, NULL, OPT_FLAG }, {} };
static const struct option fencing_options[] = { { "remove", no_argument, NULL, OPT_REMOVE }, {} };

static const struct ctl_command cmd_pause = {
        .name = "pause",
        .path = "node pause",
        .args = "NAME",
        .summary = "Pause a node: no new roles (--drain: move its roles away)",
        .help = "Pauses a node: it takes no new roles. With --drain its roles move to other nodes\n"
                "(stopped here, started there); follow them with 'clusterctl role list'.\n"
                "\n"
                "Options:\n"
                "      --drain   Move the node's roles away\n",
        .options = pause_options,
        .run = pause_run,
};

static const struct ctl_command cmd_resume = {
        .name = "resume",
        .path = "node resume",
        .args = "NAME",
        .summary = "Resume a paused node (--failback: bring its roles back)",
        .help = "Resumes a paused node. With --failback the roles that prefer it over where they\n"
                "run now move back to it.\n"
                "\n"
                "Options:\n"
                "      --failback   Move roles that prefer this node back\n",
        .options = resume_options,
        .run = resume_run,
};

static const struct ctl_command cmd_fenced = {
        .name = "fenced",
        .path = "node fenced",
        .args = "NAME",
        .summary = "Confirm that a lost node is off",
        .help = "Tells the cluster that a node which left is really off (powered down by hand),\n"
                "so that its roles may start elsewhere at once. Only for a node that has no\n"
                "watchdog or fence agent, or whose fencing failed: a wrong confirmation can run\n"
                "a role twice.\n",
        .run = fenced_run,
};

static const struct ctl_command cmd_fencing = {
        .name = "fencing",
        .path = "node fencing",
        .args = "NAME AGENT [KEY=VALUE...]",
        .summary = "Set the fence agent that turns a lost node off",
        .help = "Sets the fence agent (a fence_* program from fence-agents) the leader runs to\n"
                "turn NAME off when it is lost, with its parameters (the agent's stdin protocol:\n"
                "action=off and plug=NAME are added). --remove removes it.\n"
                "\n"
                "Example:\n"
                "  clusterctl node fencing n2 fence_ipmilan ip=10.0.0.12 username=admin password=secret\n",
        .options = fencing_options,
        .run = fencing_run,
};

static const struct ctl_command cmd_list = {
        .name = "list",
        .path = "node list",
        .summary = "List the nodes",
        .help = "Lists the cluster's nodes: state (online, offline, joining), since when, whether\n"
                "clusterd runs there, and votes. -o json prints GET /v1/nodes.\n",
        .run = list_run,
};

static const struct ctl_command cmd_show = {
        .name = "show",
        .path = "node show",
        .args = "NAME",
        .summary = "Show one node",
        .help = "Shows every field of one node. -o json prints GET /v1/nodes/NAME.\n",
        .run = show_run,
};

static const struct option add_options[] = {
        { "id", required_argument, NULL, OPT_ID },
        { "join-token-ttl", required_argument, NULL, OPT_JOIN_TOKEN_TTL },
        {},
};

static const struct ctl_command cmd_add = {
        .name = "add",
        .path = "node add",
        .args = "NAME=ADDRESS",
        .summary = "Add a node and print the command that joins it",
        .help = "Adds a node to the cluster (every node's corosync.conf gets it) and prints the\n"
                "command to run on the new node, as root, to join it, with the join token's expiry.\n"
                "\n"
                "Options:\n"
                "      --id N                     The node's id (default: the next free one)\n"
                "      --join-token-ttl DURATION  How long the join token is valid (default 1h)\n"
                "\n"
                "Example:\n"
                "  clusterctl node add n4=198.18.0.4 --join-token-ttl 2h\n",
        .options = add_options,
        .run = add_run,
};

static const struct option join_token_options[] = {
        { "join-token-ttl", required_argument, NULL, OPT_JOIN_TOKEN_TTL },
        {},
};

static const struct ctl_command cmd_join_token = {
        .name = "join-token",
        .path = "node join-token",
        .args = "NAME",
        .summary = "Issue a new join token for a node that has not joined",
        .help = "Issues a new join token for a node that was added but has not joined yet (the\n"
                "previous token stops working), and prints the command that joins it.\n"
                "\n"
                "Options:\n"
                "      --join-token-ttl DURATION  How long the join token is valid (default 1h)\n",
        .options = join_token_options,
        .run = join_token_run,
};

static const struct ctl_command cmd_remove = {
        .name = "remove",
        .path = "node remove",
        .args = "NAME",
        .summary = "Remove a node from the cluster",
        .help = "Removes a node from the cluster at once, without asking: it leaves every node's\n"
                "corosync.conf and the database. If it is running, clusterd there stops corosync\n"
                "and returns to unconfigured. The last node cannot be removed.\n",
        .run = remove_run,
};

const struct ctl_command ctl_cmd_node = {
        .name = "node",
        .path = "node",
        .summary = "Manage the cluster's nodes",
        .help = "Lists, shows, adds and removes the cluster's nodes.\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_list, &cmd_show, &cmd_add, &cmd_join_token, &cmd_remove,
                                                      &cmd_pause, &cmd_resume, &cmd_fenced, &cmd_fencing, NULL },
        .default_verb = "list",
};
