/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterctl-cmd-misc.c: "quorum", "events", "token" and "version". */
#include <inttypes.h>
#include <time.h>

#include "clusterctl/clusterctl.h"

#define EVENTS_DEFAULT_LIMIT 100 /* the server's default, see docs/api.md */

static const struct ctl_command cmd_quorum_show, cmd_quorum_set, cmd_token_create, cmd_token_list, cmd_token_delete;

/* Set by SIGINT/SIGTERM while "events --follow" runs: it ends the loop, and
 * aborts a request in flight, so that the command exits cleanly. */
static volatile sig_atomic_t follow_interrupted;

/* ------------------------------------------------------------------------ */
/* quorum                                                                    */
/* ------------------------------------------------------------------------ */

/* Prints obj's members except the nested objects, which follow under
 * their own heading. */
static void print_section(const char *title, json_object *obj, FILE *f) {
        _cleanup_json_ json_object *flat = json_object_new_object();
        json_object_object_foreach(obj, key, value) {
                if (json_object_get_type(value) != json_type_object)
                        json_object_object_add(flat, key, json_object_get(value));
        }
        if (title)
                fprintf(f, "\n%s:\n", title);
        ctl_print_object_table(flat, f);
}

static int quorum_show_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_quorum_show, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_call(ctl, "GET", "/v1/quorum", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        print_section(NULL, reply, stdout);
        json_object *w = ctl_json_get(reply, "witness"), *arb = w ? ctl_json_get(w, "arbiter") : NULL;
        if (w && json_object_get_type(w) == json_type_object)
                print_section("witness", w, stdout);
        if (arb && json_object_get_type(arb) == json_type_object) {
                print_section("witness arbiter (this partition's)", arb, stdout);
                json_object *holder = ctl_json_get(arb, "holder");
                if (holder && json_object_get_type(holder) == json_type_object)
                        print_section("witness holder", holder, stdout);
        }
        return 0;
}

static const struct ctl_command cmd_quorum_show = {
        .name = "show",
        .path = "quorum show",
        .summary = "Show the quorum and the witness as this node sees it",
        .help = "Shows the quorum as the node answering sees it: whether its partition is\n"
                "quorate and writable, votes, corosync's members and the members running clusterd;\n"
                "then the witness: its URL and type, whether its vote counts (an even number of\n"
                "voting nodes), whether this node casts it, and what the partition's arbiter\n"
                "knows: its state, whether the witness is reachable, who holds it, the last\n"
                "renewal and the last error.\n",
        .run = quorum_show_run,
};

enum {
        OPT_WITNESS = CTL_OPT_COMMAND + 16,
        OPT_LEASE,
};

struct quorum_set_args {
        const char *witness; /* borrowed from argv */
        const char *lease;
};

static int quorum_set_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct quorum_set_args *a = userdata;
        switch (c) {
        case OPT_WITNESS:
                a->witness = arg;
                return 0;
        case OPT_LEASE:
                a->lease = arg;
                return 0;
        default:
                return CTL_USAGE;
        }
}

static int quorum_set_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        struct quorum_set_args a = {};
        _cleanup_json_ json_object *reply = NULL;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_quorum_set, argc, argv, quorum_set_option, &a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        if (!a.witness && !a.lease)
                return ctl_usage(e, "say what to set: --witness none|smb://HOST/SHARE|azure://ACCOUNT/CONTAINER, "
                                    "--lease DURATION");
        if (a.lease) {
                _cleanup_json_ json_object *body = json_object_new_object(), *ignored = NULL;
                json_object_object_add(body, "value", json_object_new_string(a.lease));
                r = ctl_call(ctl, "PUT", "/v1/settings/quorum.witness-lease", body, &ignored, e);
                if (r < 0)
                        return r;
        }
        if (a.witness) {
                _cleanup_json_ json_object *body = json_object_new_object();
                json_object_object_add(body, "witness", json_object_new_string(a.witness));
                r = ctl_call(ctl, "PUT", "/v1/quorum/witness", body, &reply, e);
        } else
                r = ctl_call(ctl, "GET", "/v1/quorum", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else {
                json_object *w = ctl_json_get(reply, "witness");
                printf("witness: %s\n", w && ctl_json_str(w, "witness") ? ctl_json_str(w, "witness") : "none");
        }
        return 0;
}

static const struct ctl_command cmd_quorum_set = {
        .name = "set",
        .path = "quorum set",
        .summary = "Set or remove the witness",
        .help = "Sets the cluster's witness, an extra quorum vote kept outside the nodes that\n"
                "breaks ties when the number of voting nodes is even (docs/witness.md):\n"
                "  --witness none                             no witness\n"
                "  --witness smb://HOST/SHARE[/FOLDER]        a file on an SMB3 share\n"
                "  --witness azure://ACCOUNT/CONTAINER[?endpoint=URL]\n"
                "                                             a blob in Azure Blob Storage\n"
                "  --lease DURATION                           how long one witness write keeps other\n"
                "                                             partitions out (default 6s)\n"
                "Every node then writes the quorum device section of its corosync.conf and\n"
                "reloads corosync. Credentials come from each node's witness.credentials file\n"
                "(root-only; see docs/config.md).\n"
                "\n"
                "Example:\n"
                "  clusterctl quorum set --witness smb://files.example.net/witness\n",
        .options = (const struct option[]){ { "witness", required_argument, NULL, OPT_WITNESS },
                                            { "lease", required_argument, NULL, OPT_LEASE },
                                            {} },
        .run = quorum_set_run,
};

const struct ctl_command ctl_cmd_quorum = {
        .name = "quorum",
        .path = "quorum",
        .summary = "Show the quorum; set the witness",
        .help = "Shows the quorum ('clusterctl quorum' is 'clusterctl quorum show') and sets the witness.\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_quorum_show, &cmd_quorum_set, NULL },
        .default_verb = "show",
};

/* ------------------------------------------------------------------------ */
/* events                                                                    */
/* ------------------------------------------------------------------------ */

enum {
        OPT_SINCE = CTL_OPT_COMMAND,
        OPT_LIMIT,
        OPT_KIND,
        OPT_FOLLOW,
};

struct events_args {
        uint64_t since;   /* only events after this id, when has_since */
        bool has_since;   /* without it: the newest */
        uint32_t limit;   /* 0: the server's default */
        const char *kind; /* prefix, borrowed from argv, or NULL */
        bool follow;
};

static int events_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct events_args *a = userdata;

        switch (c) {
        case OPT_SINCE:
                if (parse_uint64(arg, &a->since) < 0 || a->since > INT64_MAX)
                        return ctl_usage(e, "invalid --since '%s': expected an event id", arg);
                a->has_since = true;
                return 0;
        case OPT_LIMIT:
                if (parse_uint32(arg, &a->limit) < 0 || a->limit < 1 || a->limit > 1000)
                        return ctl_usage(e, "invalid --limit '%s': expected 1 to 1000", arg);
                return 0;
        case OPT_KIND:
                a->kind = arg;
                return 0;
        case 'f':
        case OPT_FOLLOW:
                a->follow = true;
                return 0;
        default:
                return ctl_usage(e, "unhandled option %d", c);
        }
}

static void add_query(char **path, const char *key, const char *value) {
        char *p = xasprintf("%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, value);
        free(*path);
        *path = p;
}

static int fetch_events(struct ctl *ctl, const struct events_args *a, json_object **ret, struct err *e) {
        _cleanup_free_ char *path = xstrdup("/v1/events");
        char buf[32];

        if (a->has_since) {
                snprintf(buf, sizeof(buf), "%" PRIu64, a->since);
                add_query(&path, "since", buf);
        }
        if (a->limit) {
                snprintf(buf, sizeof(buf), "%" PRIu32, a->limit);
                add_query(&path, "limit", buf);
        }
        if (a->kind) {
                _cleanup_free_ char *kind = ctl_http_escape(a->kind);
                add_query(&path, "kind", kind);
        }
        return ctl_call(ctl, "GET", path, NULL, ret, e);
}

/* Adds the events of one reply to the table (or prints them as JSON lines
 * when following) and returns how many there were; *since advances to the
 * newest id seen. */
static int take_events(struct ctl *ctl, json_object *reply, struct ctl_table *t, bool follow, uint64_t *since,
                       struct err *e) {
        json_object *events;
        size_t n;

        if (json_get_array(reply, "events", true, &events, e) < 0)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/events");
        n = json_object_array_length(events);
        for (size_t i = 0; i < n; i++) {
                json_object *ev = json_object_array_get_idx(events, i);
                int64_t id = ctl_json_int(ev, "id", 0);

                if (id > 0 && (uint64_t)id > *since)
                        *since = (uint64_t)id;
                if (ctl->output == CTL_OUTPUT_JSON) {
                        if (follow)
                                puts(json_object_to_json_string_ext(ev, JSON_C_TO_STRING_PLAIN |
                                                                                JSON_C_TO_STRING_NOSLASHESCAPE));
                        continue;
                }
                ctl_table_add_field(t, ev, "id");
                ctl_table_add_field(t, ev, "time");
                ctl_table_add_field(t, ev, "node");
                ctl_table_add_field(t, ev, "client");
                ctl_table_add_field(t, ev, "kind");
                ctl_table_add_field(t, ev, "object");
                ctl_table_add_field(t, ev, "message");
        }
        if (ctl_json_int(reply, "last", 0) > 0 && (uint64_t)ctl_json_int(reply, "last", 0) > *since)
                *since = (uint64_t)ctl_json_int(reply, "last", 0);
        return (int)MIN(n, (size_t)INT32_MAX);
}

static void on_signal(int sig) {
        follow_interrupted = 1;
}

/* Polls every second for events after the newest one seen; runs until
 * interrupted (exit 0) or a request fails. */
static int follow_events(struct ctl *ctl, struct events_args *a, struct ctl_table *t, struct err *e) {
        struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART: the sleep must end */
        int per_request = a->limit ?: EVENTS_DEFAULT_LIMIT;

        sigemptyset(&sa.sa_mask);
        if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0)
                return err_set(e, -errno, "cannot install signal handlers: %m");
        ctl->cancel = &follow_interrupted;
        for (bool first = true; !follow_interrupted; first = false) {
                _cleanup_json_ json_object *reply = NULL;
                struct timespec second = { .tv_sec = 1 };
                int r, n;

                r = fetch_events(ctl, a, &reply, e);
                if (r == -EINTR || follow_interrupted)
                        break;
                if (r < 0)
                        return r;
                n = take_events(ctl, reply, t, true, &a->since, e);
                if (n < 0)
                        return n;
                /* From now on only what is new. */
                a->has_since = true;
                if (ctl->output == CTL_OUTPUT_TABLE && (first || ctl_table_rows(t) > 0))
                        ctl_table_print(t, stdout);
                fflush(stdout);
                /* A full page means more are waiting: ask again at once. */
                if (n < per_request)
                        (void)nanosleep(&second, NULL);
        }
        return 0;
}

static int events_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_table_ struct ctl_table *t = NULL;
        _cleanup_json_ json_object *reply = NULL;
        struct events_args a = {};
        int r, idx;

        r = ctl_parse_options(ctl, &ctl_cmd_events, argc, argv, events_option, &a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        t = ctl_table_new("ID", "TIME", "NODE", "CLIENT", "KIND", "OBJECT", "MESSAGE", NULL);
        if (a.follow)
                return follow_events(ctl, &a, t, e);

        r = fetch_events(ctl, &a, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        r = take_events(ctl, reply, t, false, &a.since, e);
        if (r < 0)
                return r;
        ctl_table_print(t, stdout);
        return 0;
}

static const struct option events_options[] = {
        { "since", required_argument, NULL, OPT_SINCE },
        { "limit", required_argument, NULL, OPT_LIMIT },
        { "kind", required_argument, NULL, OPT_KIND },
        { "follow", no_argument, NULL, OPT_FOLLOW },
        {},
};

const struct ctl_command ctl_cmd_events = {
        .name = "events",
        .path = "events",
        .args = "[--since ID] [--kind PREFIX] [-f]",
        .summary = "Show the cluster's event log",
        .help = "Shows the cluster's event log, oldest first: committed changes, and membership,\n"
                "quorum and node state changes. Without --since, the newest events.\n"
                "\n"
                "Options:\n"
                "      --since ID      Only events after the event with this id\n"
                "      --limit N       At most N events (1 to 1000, default 100)\n"
                "      --kind PREFIX   Only events whose kind begins with PREFIX (e.g. node.)\n"
                "  -f, --follow        Keep polling every second and print new events as they\n"
                "                      come, until interrupted; with -o json, one event per line\n",
        .short_options = "f",
        .options = events_options,
        .run = events_run,
};

/* ------------------------------------------------------------------------ */
/* token                                                                     */
/* ------------------------------------------------------------------------ */

static int token_create_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *body = json_object_new_object(), *reply = NULL;
        const char *secret;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_token_create, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e);
        if (r < 0)
                return r;
        if (!name_is_valid(argv[idx]))
                return ctl_usage(e, "invalid token name '%s': 1 to 63 letters, digits, '-' or '_'", argv[idx]);
        json_add_string(body, "name", argv[idx]);
        r = ctl_call(ctl, "POST", "/v1/tokens", body, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        secret = ctl_json_str(reply, "secret");
        if (!secret)
                return err_set(e, -EBADMSG, "invalid reply to POST /v1/tokens: no 'secret'");
        printf("Token '%s' created. Its secret:\n\n%s\n\n", argv[idx], secret);
        printf("Store it now: it cannot be shown again. Use it with --token-file FILE or CLUSTERCTL_TOKEN.\n");
        return 0;
}

static int token_list_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_table_ struct ctl_table *t = NULL;
        json_object *tokens;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_token_list, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_call(ctl, "GET", "/v1/tokens", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        if (json_get_array(reply, "tokens", true, &tokens, e) < 0)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/tokens");
        t = ctl_table_new("NAME", "CREATED", "CREATOR", NULL);
        for (size_t i = 0; i < json_object_array_length(tokens); i++) {
                json_object *tok = json_object_array_get_idx(tokens, i);
                ctl_table_add_field(t, tok, "name");
                ctl_table_add_field(t, tok, "created");
                ctl_table_add_field(t, tok, "created_by");
        }
        ctl_table_print(t, stdout);
        return 0;
}

static int token_delete_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *path = NULL;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_token_delete, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e);
        if (r < 0)
                return r;
        path = ctl_path("tokens/", argv[idx], NULL);
        r = ctl_call(ctl, "DELETE", path, NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                printf("Token '%s' deleted: it no longer works on any node.\n",
                       ctl_json_str(reply, "name") ?: argv[idx]);
        return 0;
}

static const struct ctl_command cmd_token_create = {
        .name = "create",
        .path = "token create",
        .args = "NAME",
        .summary = "Create an API token and print its secret once",
        .help = "Creates an API token, valid on every node, and prints its secret. The secret is\n"
                "shown only this once. Use it with --server and --token-file or CLUSTERCTL_TOKEN.\n",
        .run = token_create_run,
};

static const struct ctl_command cmd_token_list = {
        .name = "list",
        .path = "token list",
        .summary = "List the API tokens (without secrets)",
        .help = "Lists the API tokens: name, when and by whom created. Secrets are never shown.\n",
        .run = token_list_run,
};

static const struct ctl_command cmd_token_delete = {
        .name = "delete",
        .path = "token delete",
        .args = "NAME",
        .summary = "Revoke an API token on every node",
        .help = "Revokes an API token on every node.\n",
        .run = token_delete_run,
};

const struct ctl_command ctl_cmd_token = {
        .name = "token",
        .path = "token",
        .summary = "Manage API tokens",
        .help = "Creates, lists and revokes the API tokens that --server requests need.\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_token_create, &cmd_token_list, &cmd_token_delete, NULL },
        .default_verb = "list",
};

/* ------------------------------------------------------------------------ */
/* version                                                                   */
/* ------------------------------------------------------------------------ */

static int version_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *o = NULL;
        int r, idx;

        r = ctl_parse_options(ctl, &ctl_cmd_version, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_TABLE) {
                printf("clusterctl %s\n", PACKAGE_VERSION);
                return 0;
        }
        o = json_object_new_object();
        json_add_string(o, "version", PACKAGE_VERSION);
        ctl_print_json(o, stdout);
        return 0;
}

const struct ctl_command ctl_cmd_version = {
        .name = "version",
        .path = "version",
        .summary = "Show clusterctl's version",
        .help = "Shows clusterctl's version (as --version does).\n",
        .run = version_run,
};
