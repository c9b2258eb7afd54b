/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl.c: main, the global options, and the command tree.
 *
 * The command line is parsed in levels: clusterctl's own options up to the
 * command word, then the command's (a group such as "node" up to its verb,
 * then the verb's). Each level runs getopt_long over the options it knows
 * plus the global ones, so "-o json" or "--server URL" work anywhere while
 * "--id" only after "node add". Groups stop at the first non-option (their
 * verb); leaves let options and arguments mix.
 */
#include <curl/curl.h>

#include "clusterctl/clusterctl.h"

enum {
        OPT_SERVER = 0x100,
        OPT_TOKEN,
        OPT_TOKEN_FILE,
        OPT_CACERT,
        OPT_SOCKET,
        OPT_TIMEOUT,
        OPT_VERSION,
};

static const struct option global_options[] = {
        { "output", required_argument, NULL, 'o' },                /* table or json */
        { "server", required_argument, NULL, OPT_SERVER },         /* https://HOST:PORT */
        { "token", required_argument, NULL, OPT_TOKEN },           /* API token */
        { "token-file", required_argument, NULL, OPT_TOKEN_FILE }, /* API token in a file */
        { "cacert", required_argument, NULL, OPT_CACERT },         /* CA to verify --server */
        { "socket", required_argument, NULL, OPT_SOCKET },         /* the local socket */
        { "timeout", required_argument, NULL, OPT_TIMEOUT },       /* per request */
        { "help", no_argument, NULL, 'h' },                        /* of the current command */
        { "version", no_argument, NULL, OPT_VERSION },             /* clusterctl's */
        {},
};

static const char global_help[] =
        "Global options (accepted before or after the command):\n"
        "  -o, --output table|json  Output format (default: table)\n"
        "      --server URL         Talk to the node at https://HOST:PORT instead of the\n"
        "                           local socket (port 7440 when left out)\n"
        "      --token TOKEN        API token for --server (visible in ps: prefer the next two)\n"
        "      --token-file FILE    Read the API token from FILE\n"
        "      --cacert FILE        CA certificate to verify --server with\n"
        "                           (default: " CTL_DEFAULT_CACERT " if readable)\n"
        "      --socket PATH        The local socket (default: " CTL_DEFAULT_SOCKET ")\n"
        "      --timeout DURATION   Give up on a request after DURATION (default: 30s; 0: never)\n"
        "  -h, --help               Show help; after a command, that command's help\n"
        "      --version            Show clusterctl's version\n"
        "\n"
        "Environment: CLUSTERCTL_SERVER, CLUSTERCTL_TOKEN, CLUSTERCTL_CACERT and\n"
        "CLUSTERCTL_SOCKET stand in for the options of the same name; options win.\n"
        "\n"
        "Exit status: 0 success, 1 failure (server, connection or reply), 2 usage error.\n";

static const struct ctl_command ctl_cmd_help;

/* In the order "clusterctl --help" lists them. */
static const struct ctl_command *const top_commands[] = {
        &ctl_cmd_status,   &ctl_cmd_cluster, &ctl_cmd_node,  &ctl_cmd_role,    &ctl_cmd_resource, &ctl_cmd_quorum,
        &ctl_cmd_settings, &ctl_cmd_events,  &ctl_cmd_token, &ctl_cmd_version, &ctl_cmd_help,     NULL,
};

static const struct ctl_command ctl_cmd_main = {
        .name = "clusterctl",
        .path = "",
        .summary = "Drive a clusterd failover cluster",
        .help = "Drives a clusterd failover cluster through its REST API: on this node over the\n"
                "local socket (as root), or on any node over HTTPS with an API token (--server).\n",
        .verbs = top_commands,
};

static void replace(char **p, const char *value) {
        free(*p);
        *p = value && *value ? xstrdup(value) : NULL;
}

void ctl_init(struct ctl *ctl) {
        *ctl = (struct ctl){
                .output = CTL_OUTPUT_TABLE,
                .timeout_usec = CTL_DEFAULT_TIMEOUT_USEC,
                .cmd = &ctl_cmd_main,
        };
        replace(&ctl->server, getenv("CLUSTERCTL_SERVER"));
        replace(&ctl->token, getenv("CLUSTERCTL_TOKEN"));
        replace(&ctl->cacert, getenv("CLUSTERCTL_CACERT"));
        replace(&ctl->socket_path, getenv("CLUSTERCTL_SOCKET") ?: CTL_DEFAULT_SOCKET);
}

void ctl_done(struct ctl *ctl) {
        free_and_null(ctl->server);
        if (ctl->token)
                explicit_bzero(ctl->token, strlen(ctl->token));
        free_and_null(ctl->token);
        free_and_null(ctl->token_file);
        free_and_null(ctl->cacert);
        free_and_null(ctl->socket_path);
}

int ctl_usage(struct err *e, const char *fmt, ...) {
        char msg[sizeof(e->msg)];
        va_list ap;

        /* Formatted apart first: callers may pass e->msg as an argument, to
         * turn an error into a usage error. */
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        memcpy(e->msg, msg, sizeof(msg));
        e->code = CTL_USAGE;
        return CTL_USAGE;
}

/* ------------------------------------------------------------------------ */
/* Help                                                                      */
/* ------------------------------------------------------------------------ */

static void synopsis(const struct ctl_command *c, char *buf, size_t size) {
        snprintf(buf, size, "%s%s%s", c->path, c->args ? " " : "", strempty(c->args));
}

#define SYNOPSIS_WIDTH 28

static void list_command(const struct ctl_command *c, FILE *f) {
        char buf[256];

        synopsis(c, buf, sizeof(buf));
        /* A long synopsis gets a line of its own, the summary goes below. */
        if (strlen(buf) > SYNOPSIS_WIDTH)
                fprintf(f, "  %s\n  %-*s  %s\n", buf, SYNOPSIS_WIDTH, "", c->summary);
        else
                fprintf(f, "  %-*s  %s\n", SYNOPSIS_WIDTH, buf, c->summary);
}

/* Lists the leaves under cmd, one line each with their summaries. */
static void list_commands(const struct ctl_command *cmd, FILE *f) {
        fprintf(f, "Commands:\n");
        for (const struct ctl_command *const *v = cmd->verbs; *v; v++) {
                if (!(*v)->verbs) {
                        list_command(*v, f);
                        continue;
                }
                for (const struct ctl_command *const *w = (*v)->verbs; *w; w++)
                        list_command(*w, f);
        }
}

static void print_help(const struct ctl_command *cmd) {
        bool top = cmd == &ctl_cmd_main;

        if (top)
                printf("Usage: clusterctl [OPTIONS] COMMAND [ARGUMENTS] [OPTIONS]\n\n");
        else if (cmd->verbs)
                printf("Usage: clusterctl %s COMMAND [ARGUMENTS] [OPTIONS]\n\n", cmd->path);
        else
                printf("Usage: clusterctl %s%s%s [OPTIONS]\n\n", cmd->path, cmd->args ? " " : "", strempty(cmd->args));
        fputs(cmd->help ?: cmd->summary, stdout);
        if (cmd->help && !strchr(cmd->help, '\n'))
                fputc('\n', stdout);
        if (cmd->verbs) {
                printf("\n");
                list_commands(cmd, stdout);
                if (cmd->default_verb)
                        printf("\nWithout a command: '%s %s'.\n", cmd->path, cmd->default_verb);
        }
        if (top)
                printf("\n%s", global_help);
        else
                printf("\nGlobal options (-o, --server, --token, --token-file, --cacert, --socket,\n"
                       "--timeout) are accepted too; see 'clusterctl --help'.\n");
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static int parse_global_option(struct ctl *ctl, int c, const char *arg, struct err *e) {
        _cleanup_free_ char *url = NULL;
        int r;

        switch (c) {
        case 'o':
                if (streq(arg, "table"))
                        ctl->output = CTL_OUTPUT_TABLE;
                else if (streq(arg, "json"))
                        ctl->output = CTL_OUTPUT_JSON;
                else
                        return ctl_usage(e, "invalid output format '%s': expected table or json", arg);
                return 0;
        case OPT_SERVER:
                r = ctl_http_normalize_url(arg, &url, e);
                if (r < 0)
                        return ctl_usage(e, "--server %s", e->msg);
                replace(&ctl->server, url);
                ctl->server_from_option = true;
                return 0;
        case OPT_TOKEN:
                replace(&ctl->token, arg);
                free_and_null(ctl->token_file);
                return 0;
        case OPT_TOKEN_FILE:
                replace(&ctl->token_file, arg);
                free_and_null(ctl->token);
                return 0;
        case OPT_CACERT:
                replace(&ctl->cacert, arg);
                return 0;
        case OPT_SOCKET:
                replace(&ctl->socket_path, arg);
                if (!ctl->socket_path)
                        return ctl_usage(e, "--socket needs a path");
                return 0;
        case OPT_TIMEOUT:
                if (parse_duration_usec(arg, &ctl->timeout_usec) < 0)
                        return ctl_usage(e, "invalid --timeout '%s': expected a duration such as 30s or 2m", arg);
                return 0;
        default:
                return ctl_usage(e, "unhandled option %d", c);
        }
}

/* The command's options first, so that one of its own (cluster join's
 * --token, the join token) wins over a global option of the same name. */
static struct option *merge_options(const struct option *own) {
        size_t n_own = 0, n_global = ELEMENTSOF(global_options) - 1;
        struct option *all;

        while (own && own[n_own].name)
                n_own++;
        all = xcalloc(n_own + n_global + 1, sizeof(struct option));
        if (n_own)
                memcpy(all, own, n_own * sizeof(struct option));
        memcpy(all + n_own, global_options, n_global * sizeof(struct option));
        return all;
}

static int bad_option(int c, char *argv[], struct err *e) {
        const char *arg = argv[optind - 1];

        if (c == ':')
                return ctl_usage(e, "option '%s' needs an argument", arg);
        if (optopt && !startswith(arg, "--"))
                return ctl_usage(e, "unknown option '-%c'", optopt);
        return ctl_usage(e, "unknown option '%s'", arg);
}

int ctl_parse_options(struct ctl *ctl, const struct ctl_command *cmd, int argc, char *argv[], ctl_option_fn on_option,
                      void *userdata, int *ret_index, struct err *e) {
        _cleanup_free_ struct option *options = merge_options(cmd->options);
        _cleanup_free_ char *shorts = NULL;
        int c, r;

        ctl->cmd = cmd;
        /* "+": groups stop at their verb. ":": report a missing argument
         * as ':' so that the message can say so. */
        shorts = xasprintf("%s:ho:%s", cmd->verbs ? "+" : "", strempty(cmd->short_options));
        opterr = 0;
        optind = 0; /* glibc: start over, including the scan for "+" */
        while ((c = getopt_long(argc, argv, shorts, options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        print_help(cmd);
                        return CTL_DONE;
                case OPT_VERSION:
                        printf("clusterctl %s\n", PACKAGE_VERSION);
                        return CTL_DONE;
                case '?':
                case ':':
                        return bad_option(c, argv, e);
                default:
                        if (c == 'o' || (c >= OPT_SERVER && c < CTL_OPT_COMMAND))
                                r = parse_global_option(ctl, c, optarg, e);
                        else if (on_option)
                                r = on_option(ctl, c, optarg, userdata, e);
                        else /* a programmer's error: an option without a handler */
                                r = ctl_usage(e, "unhandled option %d", c);
                        if (r < 0)
                                return r;
                }
        }
        *ret_index = optind;
        return 0;
}

int ctl_check_args(int n_args, int min, int max, const char *names, char *const args[], struct err *e) {
        if (n_args < min) {
                /* Name only what is missing: "KEY VALUE" with one given is "VALUE". */
                const char *missing = names;
                for (int i = 0; i < n_args && strchr(missing, ' '); i++)
                        missing = strchr(missing, ' ') + 1;
                return ctl_usage(e, "missing argument%s %s", strchr(missing, ' ') ? "s" : "", missing);
        }
        if (n_args > max)
                return ctl_usage(e, "unexpected argument '%s'", args[max]);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                  */
/* ------------------------------------------------------------------------ */

static const struct ctl_command *find_verb(const struct ctl_command *group, const char *name) {
        for (const struct ctl_command *const *v = group->verbs; *v; v++)
                if (streq((*v)->name, name))
                        return *v;
        return NULL;
}

static int run_command(struct ctl *ctl, const struct ctl_command *cmd, int argc, char *argv[], struct err *e) {
        if (!cmd) /* a group's default_verb that names no verb: a programmer's error */
                return err_set(e, -EINVAL, "no such command");
        ctl->cmd = cmd;
        if (cmd->verbs)
                return ctl_run_group(ctl, argc, argv, e);
        return cmd->run(ctl, argc, argv, e);
}

int ctl_run_group(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        const struct ctl_command *group = ctl->cmd, *verb;
        char *default_argv[] = { (char *)(uintptr_t)group->default_verb, NULL };
        int r, idx;

        r = ctl_parse_options(ctl, group, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        if (idx >= argc) {
                if (!group->default_verb)
                        return ctl_usage(e, "missing command");
                return run_command(ctl, find_verb(group, group->default_verb), 1, default_argv, e);
        }
        verb = find_verb(group, argv[idx]);
        if (!verb)
                return ctl_usage(e, "unknown command '%s%s%s'", group->path, *group->path ? " " : "", argv[idx]);
        return run_command(ctl, verb, argc - idx, argv + idx, e);
}

/* "clusterctl help node add": the help of the command those words name. */
static int help_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        const struct ctl_command *cmd = &ctl_cmd_main;
        int r, idx;

        r = ctl_parse_options(ctl, &ctl_cmd_help, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        for (; idx < argc; idx++) {
                const struct ctl_command *next = cmd->verbs ? find_verb(cmd, argv[idx]) : NULL;
                if (!next)
                        return ctl_usage(e, "unknown command '%s'", argv[idx]);
                cmd = next;
        }
        print_help(cmd);
        return 0;
}

static const struct ctl_command ctl_cmd_help = {
        .name = "help",
        .path = "help",
        .args = "[COMMAND...]",
        .summary = "Show the help of clusterctl or of a command",
        .help = "Shows the help of clusterctl, or of the command named by the arguments\n"
                "('clusterctl help node add' is 'clusterctl node add --help').\n",
        .run = help_run,
};

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */
/* ------------------------------------------------------------------------ */

char *ctl_path(const char *prefix, const char *name, const char *suffix) {
        _cleanup_free_ char *escaped = ctl_http_escape(name);
        return xasprintf("/v1/%s%s%s", prefix, escaped, strempty(suffix));
}

int ctl_require_local(struct ctl *ctl, struct err *e) {
        if (ctl->server_from_option)
                return ctl_usage(e, "'clusterctl %s' works on this node's local socket only: drop --server",
                                 ctl->cmd->path);
        return 0;
}

/* Tokens go into a header: refuse anything that could break out of it. */
static bool token_is_valid(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
                        return false;
        return true;
}

static int load_token(struct ctl *ctl, struct err *e) {
        _cleanup_free_ char *data = NULL;
        size_t size;
        int r;

        if (ctl->token_file) {
                r = read_full_file(ctl->token_file, 4096, &data, &size);
                if (r < 0)
                        return err_set(e, r, "cannot read the token file '%s': %s", ctl->token_file, strerror(-r));
                while (size > 0 && strchr(" \t\r\n", data[size - 1]))
                        data[--size] = '\0';
                replace(&ctl->token, data);
                explicit_bzero(data, size);
                if (!ctl->token)
                        return err_set(e, -EINVAL, "the token file '%s' is empty", ctl->token_file);
                free_and_null(ctl->token_file);
        }
        if (ctl->token && !token_is_valid(ctl->token))
                return ctl_usage(e, "the API token contains spaces or control characters");
        return 0;
}

static int remote_target(struct ctl *ctl, struct ctl_http_target *t, char **server, struct err *e) {
        int r;

        r = ctl_http_normalize_url(ctl->server, server, e);
        if (r < 0)
                return ctl_usage(e, "CLUSTERCTL_SERVER %s", e->msg);
        r = load_token(ctl, e);
        if (r < 0)
                return r;
        if (ctl->cacert && access(ctl->cacert, R_OK) < 0)
                return err_set(e, -errno, "cannot read the CA certificate '%s': %m", ctl->cacert);
        *t = (struct ctl_http_target){
                .base_url = *server,
                .token = ctl->token,
                .cancel = ctl->cancel,
                .cacert_file = ctl->cacert ?: (access(CTL_DEFAULT_CACERT, R_OK) == 0 ? CTL_DEFAULT_CACERT : NULL),
                .timeout_usec = ctl->timeout_usec,
        };
        return 0;
}

static int call(struct ctl *ctl, bool local, const char *method, const char *path, json_object *body, json_object **ret,
                struct err *e) {
        _cleanup_free_ char *server = NULL;
        struct ctl_http_target t = {
                .base_url = "http://localhost",
                .socket_path = ctl->socket_path,
                .timeout_usec = ctl->timeout_usec,
                .cancel = ctl->cancel,
        };
        int r;

        if (!local && ctl->server) {
                r = remote_target(ctl, &t, &server, e);
                if (r < 0)
                        return r;
        }
        r = ctl_http_call(&t, method, path, body, ret, e);
        if (r == -EACCES && !t.socket_path && !t.token) {
                size_t n = strlen(e->msg);
                snprintf(e->msg + n, sizeof(e->msg) - n, "%s",
                         "; give an API token with --token-file FILE or CLUSTERCTL_TOKEN");
        }
        return r;
}

int ctl_call(struct ctl *ctl, const char *method, const char *path, json_object *body, json_object **ret,
             struct err *e) {
        return call(ctl, false, method, path, body, ret, e);
}

int ctl_call_local(struct ctl *ctl, const char *method, const char *path, json_object *body, json_object **ret,
                   struct err *e) {
        return call(ctl, true, method, path, body, ret, e);
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

static int report(const struct ctl *ctl, int r, const struct err *e) {
        if (r >= 0) {
                if (fflush(stdout) != 0 || ferror(stdout)) {
                        fprintf(stderr, "clusterctl: cannot write the output: %m\n");
                        return CTL_EXIT_FAILURE;
                }
                return CTL_EXIT_SUCCESS;
        }
        fflush(stdout);
        fprintf(stderr, "clusterctl: %s\n", e->msg[0] ? e->msg : strerror(-r));
        if (r != CTL_USAGE)
                return CTL_EXIT_FAILURE;
        fprintf(stderr, "Try 'clusterctl%s%s --help'.\n", *ctl->cmd->path ? " " : "", ctl->cmd->path);
        return CTL_EXIT_USAGE;
}

int main(int argc, char *argv[]) {
        _cleanup_(ctl_done) struct ctl ctl;
        struct err e = {};
        int r;

        ctl_init(&ctl);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "clusterctl: cannot initialize libcurl\n");
                return CTL_EXIT_FAILURE;
        }
        r = run_command(&ctl, &ctl_cmd_main, argc, argv, &e);
        r = report(&ctl, r, &e);
        curl_global_cleanup();
        return r;
}
