/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl.h: what the files of the command line client share.
 *
 * clusterctl is a thin client of clusterd's REST API (docs/api.md): it parses
 * the command line, sends one or a few requests, and prints the reply as a
 * table or as the server's JSON. It keeps no state beyond the parsed options
 * in one `struct ctl`, which is passed to everything.
 *
 * Errors follow the project's convention: functions return >= 0 on success
 * and -errno on failure, with a message for the user in a `struct err`. Two
 * more results exist only here: CTL_DONE (stop and exit 0, e.g. after --help)
 * and CTL_USAGE (a usage error, exit 2 with a hint).
 */
#pragma once

#include <getopt.h>
#include <signal.h>

#include "common/common.h"

/* Exit statuses, documented in docs/clusterctl.md. */
#define CTL_EXIT_SUCCESS 0
#define CTL_EXIT_FAILURE 1
#define CTL_EXIT_USAGE 2

/* "Stop here, successfully": help or version was printed. */
#define CTL_DONE 1
/* A usage error whose message is in the struct err. Outside errno's range so
 * that it never collides with a real error code. */
#define CTL_USAGE (-4096)

#define CTL_DEFAULT_SOCKET CLUSTERD_RUN_DIR "/clusterd.sock"
#define CTL_DEFAULT_CACERT CLUSTERD_STATE_DIR "/pki/ca.crt"
#define CTL_DEFAULT_TIMEOUT_USEC (30 * USEC_PER_SEC)
#define CTL_DEFAULT_PORT "7440"
/* Replies larger than this are refused (the event log at its largest is far
 * smaller); it bounds what a wrong or hostile server can make us allocate. */
#define CTL_MAX_REPLY_SIZE (UINT64_C(64) * 1024 * 1024)

enum ctl_output {
        CTL_OUTPUT_TABLE,
        CTL_OUTPUT_JSON,
};

struct ctl_command;

/* The parsed global options. Strings are owned. */
struct ctl {
        enum ctl_output output;
        char *server;                        /* as given (option or environment), NULL for the local socket */
        bool server_from_option;             /* --server was given, not only CLUSTERCTL_SERVER */
        char *token;                         /* bearer token for --server; never printed */
        char *token_file;                    /* read into token when first needed */
        char *cacert;                        /* CA certificate file, NULL for the default */
        char *socket_path;                   /* the local socket */
        uint64_t timeout_usec;               /* per request, 0 for none */
        const struct ctl_command *cmd;       /* the command being parsed, for the usage hint; static */
        const volatile sig_atomic_t *cancel; /* a signal flag that aborts requests, or NULL */
};

/* Sets the defaults and reads the environment (options parsed later win). */
void ctl_init(struct ctl *ctl);
/* Frees what ctl owns; ctl may be reused after ctl_init(). */
void ctl_done(struct ctl *ctl);

/* ------------------------------------------------------------------------ */
/* Commands and option parsing (clusterctl.c)                                */
/* ------------------------------------------------------------------------ */

/* The first value a command may use for its own long options' `val`. */
#define CTL_OPT_COMMAND 0x200

struct ctl_command {
        const char *name;             /* the word on the command line */
        const char *path;             /* all words for messages and help ("node add") */
        const char *args;             /* positional arguments for the synopsis ("NAME=ADDRESS"), or NULL */
        const char *summary;          /* one line for the command lists */
        const char *help;             /* the rest of --help: description, options, examples */
        const char *short_options;    /* the command's own short options, or NULL */
        const struct option *options; /* the command's own long options (terminated by {}), or NULL */
        /* A group: its verbs (NULL-terminated) and the one to run without a verb (or NULL). */
        const struct ctl_command *const *verbs;
        const char *default_verb;
        /* A leaf: runs the command; argv[0] is the command word. Returns 0,
         * CTL_DONE, CTL_USAGE or -errno (with e set). */
        int (*run)(struct ctl *ctl, int argc, char *argv[], struct err *e);
};

/* Handles one of the command's own options: c is the option's val, arg
 * its argument (or NULL). Returns 0, or CTL_USAGE / -errno with e set. */
typedef int (*ctl_option_fn)(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e);

/* Parses the options in argv (argv[0] is the command word) with getopt_long:
 * the command's own options plus the global ones, which are accepted on
 * every level. A group stops at its verb; a leaf lets options and arguments
 * mix. On success writes the index of the first argument to *ret_index and
 * returns 0; returns CTL_DONE after --help or --version, CTL_USAGE for a bad
 * option (message in e). on_option may be NULL for a command without
 * options of its own. */
int ctl_parse_options(struct ctl *ctl, const struct ctl_command *cmd, int argc, char *argv[], ctl_option_fn on_option,
                      void *userdata, int *ret_index, struct err *e);

/* Checks that there are between min and max positional arguments; returns
 * 0 or CTL_USAGE naming what is missing or unexpected. `names` describes the
 * missing ones ("NAME", "KEY VALUE"). */
int ctl_check_args(int n_args, int min, int max, const char *names, char *const args[], struct err *e);

/* Records a usage error: returns CTL_USAGE with the message in e. */
int ctl_usage(struct err *e, const char *fmt, ...) _printf_(2, 3);

/* Runs a group: parses its options, picks the verb and runs it. */
int ctl_run_group(struct ctl *ctl, int argc, char *argv[], struct err *e);

/* ------------------------------------------------------------------------ */
/* HTTP (clusterctl-http.c)                                                   */
/* ------------------------------------------------------------------------ */

/* Where and how one request goes. Borrows every string. */
struct ctl_http_target {
        const char *base_url;    /* "http://localhost" for a socket, else "https://HOST:PORT", no trailing slash */
        const char *socket_path; /* unix socket, or NULL for TCP */
        const char *token;       /* bearer token, or NULL; never appears in messages */
        const char *cacert_file; /* CA file to verify the server, or NULL */
        const char *cacert_pem;  /* CA certificate in memory (pinned by hash), or NULL */
        bool insecure;           /* no certificate verification: only to fetch a CA whose hash we check */
        uint64_t timeout_usec;   /* whole request, 0 for none */
        const volatile sig_atomic_t *cancel; /* when it becomes nonzero the request is aborted; may be NULL */
};

/* Sends one request and returns the reply's JSON object in *ret (owned by the
 * caller). body may be NULL (no body). path starts with "/v1/" and must be
 * escaped already (ctl_http_escape). Returns 0 for a 2xx reply with a JSON
 * object; -EACCES for 401; -EREMOTEIO for any other error reply, with e set
 * to "<message> (<code>)"; -EBADMSG for a reply that is not what the API
 * promises; -ECONNREFUSED, -ETIMEDOUT, -EFBIG, -EINTR, -EIO for transport
 * failures, with e saying what happened and where. */
int ctl_http_call(const struct ctl_http_target *t, const char *method, const char *path, json_object *body,
                  json_object **ret, struct err *e);

/* Percent-escapes s for one URL path segment or query value. Caller frees. */
char *ctl_http_escape(const char *s);

/* Normalizes a server URL given by the user: "HOST:PORT", "https://HOST" or
 * "https://HOST:PORT/" become "https://HOST:PORT" (default port 7440).
 * Refuses other schemes, paths, queries and credentials with -EINVAL and a
 * message. Caller frees *ret. */
int ctl_http_normalize_url(const char *url, char **ret, struct err *e);

/* ------------------------------------------------------------------------ */
/* Requests with the global options (clusterctl.c)                            */
/* ------------------------------------------------------------------------ */

/* Sends a request to the local socket, or to --server with the token and CA.
 * Same results as ctl_http_call, plus CTL_USAGE for a bad --server, and a
 * hint about tokens on -EACCES. */
int ctl_call(struct ctl *ctl, const char *method, const char *path, json_object *body, json_object **ret,
             struct err *e);

/* Sends a request to the local socket whatever --server says. */
int ctl_call_local(struct ctl *ctl, const char *method, const char *path, json_object *body, json_object **ret,
                   struct err *e);

/* Refuses --server for a command that works on this node only. */
int ctl_require_local(struct ctl *ctl, struct err *e);

/* Builds "/v1/<prefix><escaped name><suffix>" (suffix may be NULL). */
char *ctl_path(const char *prefix, const char *name, const char *suffix);

/* ------------------------------------------------------------------------ */
/* Output (clusterctl-output.c)                                              */
/* ------------------------------------------------------------------------ */

struct ctl_table;

/* A table with the given column headers (NULL-terminated, upper case). */
struct ctl_table *ctl_table_new(const char *header, ...);
struct ctl_table *ctl_table_free(struct ctl_table *t);
static inline void ctl_table_freep(struct ctl_table **t) {
        ctl_table_free(*t);
}
#define _cleanup_table_ _cleanup_(ctl_table_freep)

/* Appends one cell, filling rows left to right. NULL shows as "-". Control
 * characters are shown as '?' so that a server's string cannot drive the
 * terminal. */
void ctl_table_add(struct ctl_table *t, const char *cell);
void ctl_table_addf(struct ctl_table *t, const char *fmt, ...) _printf_(2, 3);
/* Appends a JSON value as text (see ctl_json_text); o may be NULL. */
void ctl_table_add_json(struct ctl_table *t, json_object *o);
/* Appends a field of o (absent or null: "-"). */
void ctl_table_add_field(struct ctl_table *t, json_object *o, const char *key);
size_t ctl_table_rows(const struct ctl_table *t);

/* Prints the header (unless already printed once, see below) and the rows
 * with computed column widths and no trailing spaces, then drops the rows.
 * Widths only grow and the header is printed once, so that a table printed
 * batch by batch (events --follow) stays aligned. */
void ctl_table_print(struct ctl_table *t, FILE *f);

/* Prints the members of o as a KEY VALUE table, in the server's order. */
void ctl_print_object_table(json_object *o, FILE *f);

/* Prints o as pretty JSON, as the server sent it. */
void ctl_print_json(json_object *o, FILE *f);

/* A JSON value as the text a table shows: strings as they are, true/false,
 * numbers, arrays joined with ", ", objects as compact JSON; NULL, null and
 * empty arrays as "-". Caller frees. */
char *ctl_json_text(json_object *o);

/* Field access for printing; absent or wrongly typed fields give NULL / def. */
const char *ctl_json_str(json_object *o, const char *key);
int64_t ctl_json_int(json_object *o, const char *key, int64_t def);
json_object *ctl_json_get(json_object *o, const char *key);

/* Quotes s for a POSIX shell if it needs quoting. Caller frees. */
char *ctl_shell_quote(const char *s);

/* ------------------------------------------------------------------------ */
/* Commands (clusterctl-cmd-*.c)                                              */
/* ------------------------------------------------------------------------ */

extern const struct ctl_command ctl_cmd_status;
extern const struct ctl_command ctl_cmd_cluster;
extern const struct ctl_command ctl_cmd_node;
extern const struct ctl_command ctl_cmd_quorum;
extern const struct ctl_command ctl_cmd_settings;
extern const struct ctl_command ctl_cmd_events;
extern const struct ctl_command ctl_cmd_token;
extern const struct ctl_command ctl_cmd_version;
extern const struct ctl_command ctl_cmd_role;
extern const struct ctl_command ctl_cmd_resource;

/* Prints the summary of a cluster object (GET /v1/cluster) and its nodes. */
void ctl_print_cluster(json_object *cluster, FILE *f);

/* Prints a table of node objects (GET /v1/nodes' "nodes"). */
void ctl_print_nodes(json_object *nodes, bool detailed, FILE *f);

/* Parses "NAME=ADDRESS" into a new {"name": ..., "address": ...} object
 * (owned by the caller). CTL_USAGE for anything else. */
int ctl_parse_node_spec(const char *spec, json_object **ret, struct err *e);

/* Checks that value is a duration ("90s", "1h"); CTL_USAGE naming the
 * option otherwise. The value is sent as given: the server parses it. */
int ctl_check_duration(const char *option, const char *value, struct err *e);

/* Prints, for each node of a "join" object (POST /v1/nodes, POST
 * /v1/cluster), the command to run on it; node_name stands in when the
 * object lists no nodes (NULL: then nothing is printed). Returns -EBADMSG
 * when the object lacks what the command needs. */
int ctl_print_join(json_object *join, const char *node_name, FILE *f, struct err *e);
