/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl-cmd-cluster.c: "status", "cluster create" and "cluster join".
 *
 * Joining is the one place where clusterctl handles secrets and trust: the
 * new node has no CA yet, so it fetches the cluster's CA without verifying
 * anything, pins it by the hash the operator copied from the member ("node
 * add" printed it), and only then sends the join token, over a connection
 * verified against that CA.
 */
#include <ctype.h>
#include <inttypes.h>
#include <strings.h>

#include "clusterctl/clusterctl.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END "-----END CERTIFICATE-----"

static const struct ctl_command cmd_create, cmd_join;

static const char not_configured_msg[] = "This node is not part of a cluster. Create one with 'clusterctl cluster "
                                         "create' or join one with 'clusterctl cluster join'.\n";

static void print_quorum_line(json_object *quorum, FILE *f) {
        json_object *quorate = ctl_json_get(quorum, "quorate");

        if (!json_object_is_type(quorate, json_type_boolean))
                return;
        fprintf(f, "quorate: %s (%" PRId64 " of %" PRId64 " votes, quorum %" PRId64 ")\n",
                yes_no(json_object_get_boolean(quorate)), ctl_json_int(quorum, "total_votes", 0),
                ctl_json_int(quorum, "expected_votes", 0), ctl_json_int(quorum, "quorum", 0));
}

void ctl_print_cluster(json_object *cluster, FILE *f) {
        json_object *node = ctl_json_get(cluster, "node"), *db = ctl_json_get(cluster, "database");
        json_object *writable = ctl_json_get(cluster, "writable"), *nodes = ctl_json_get(cluster, "nodes");
        _cleanup_free_ char *leader = ctl_json_text(ctl_json_get(cluster, "leader"));
        const char *description = ctl_json_str(cluster, "description");

        fprintf(f, "cluster: %s\n", ctl_json_str(cluster, "name") ?: "-");
        if (description && *description)
                fprintf(f, "description: %s\n", description);
        fprintf(f, "state: %s", ctl_json_str(cluster, "state") ?: "-");
        if (json_object_is_type(writable, json_type_boolean))
                fprintf(f, " (%s)", json_object_get_boolean(writable) ? "writable" : "read-only");
        fputc('\n', f);
        if (node)
                fprintf(f, "this node: %s (id %" PRId64 ")\n", ctl_json_str(node, "name") ?: "-",
                        ctl_json_int(node, "id", 0));
        fprintf(f, "leader: %s\n", leader);
        print_quorum_line(ctl_json_get(cluster, "quorum"), f);
        if (db)
                fprintf(f, "database: epoch %" PRId64 ", version %" PRId64 " (committed %" PRId64 ")\n",
                        ctl_json_int(db, "epoch", 0), ctl_json_int(db, "version", 0), ctl_json_int(db, "committed", 0));
        if (ctl_json_str(cluster, "version"))
                fprintf(f, "clusterd version: %s\n", ctl_json_str(cluster, "version"));
        if (json_object_is_type(nodes, json_type_array)) {
                fputc('\n', f);
                ctl_print_nodes(nodes, false, f);
        }
}

/* ------------------------------------------------------------------------ */
/* status                                                                    */
/* ------------------------------------------------------------------------ */

static int status_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        const char *state;
        int r, idx;

        r = ctl_parse_options(ctl, &ctl_cmd_status, argc, argv, NULL, NULL, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 0, 0, "", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_call(ctl, "GET", "/v1/cluster", NULL, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        state = ctl_json_str(reply, "state");
        if (!state)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/cluster: no 'state'");
        if (streq(state, "unconfigured")) {
                fputs(not_configured_msg, stdout);
                return 0;
        }
        ctl_print_cluster(reply, stdout);
        return 0;
}

const struct ctl_command ctl_cmd_status = {
        .name = "status",
        .path = "status",
        .summary = "Show the cluster, its quorum and its nodes",
        .help = "Shows the cluster as the node answering sees it: its name and state, this\n"
                "node, the leader, the quorum, the database's epoch and version, and every node.\n"
                "With -o json, prints GET /v1/cluster as the server sent it.\n",
        .run = status_run,
};

/* ------------------------------------------------------------------------ */
/* cluster create                                                            */
/* ------------------------------------------------------------------------ */

enum {
        OPT_NODE = CTL_OPT_COMMAND,
        OPT_LOCAL,
        OPT_TOKEN_TIMEOUT,
        OPT_JOIN_TOKEN_TTL,
        OPT_JOIN_TOKEN,
        OPT_CA_HASH,
        OPT_NAME,
};

struct create_args {
        json_object *nodes;       /* array of {"name", "address"}; owned */
        const char *local;        /* borrowed from argv */
        int64_t token_timeout_ms; /* 0: the server's default */
        const char *join_token_ttl;
};

static int parse_token_timeout(const char *arg, int64_t *ret, struct err *e) {
        uint64_t ms, usec;

        /* The API counts milliseconds; a duration with a unit is accepted
         * too, since that is how every other time is written here. */
        if (parse_uint64(arg, &ms) < 0) {
                if (parse_duration_usec(arg, &usec) < 0)
                        return ctl_usage(e, "invalid --token-timeout '%s': expected milliseconds", arg);
                ms = usec / USEC_PER_MSEC;
        }
        if (ms == 0 || ms > INT32_MAX)
                return ctl_usage(e, "invalid --token-timeout '%s': out of range", arg);
        *ret = (int64_t)ms;
        return 0;
}

static int create_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct create_args *a = userdata;
        json_object *node = NULL;
        int r;

        switch (c) {
        case OPT_NODE:
                r = ctl_parse_node_spec(arg, &node, e);
                if (r < 0)
                        return r;
                json_object_array_add(a->nodes, node);
                return 0;
        case OPT_LOCAL:
                if (!name_is_valid(arg))
                        return ctl_usage(e, "invalid node name '%s' for --local", arg);
                a->local = arg;
                return 0;
        case OPT_TOKEN_TIMEOUT:
                return parse_token_timeout(arg, &a->token_timeout_ms, e);
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

static json_object *create_body(const char *name, struct create_args *a) {
        json_object *body = json_object_new_object();

        json_add_string(body, "name", name);
        json_object_object_add(body, "nodes", json_object_get(a->nodes));
        if (a->local)
                json_add_string(body, "local", a->local);
        if (a->token_timeout_ms)
                json_add_int(body, "token_timeout_ms", a->token_timeout_ms);
        if (a->join_token_ttl)
                json_add_string(body, "join_token_ttl", a->join_token_ttl);
        return body;
}

static int create_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *nodes = json_object_new_array(), *body = NULL, *reply = NULL;
        struct create_args a = { .nodes = nodes };
        json_object *cluster;
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_create, argc, argv, create_option, &a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "NAME", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_require_local(ctl, e);
        if (r < 0)
                return r;
        if (!name_is_valid(argv[idx]))
                return ctl_usage(e, "invalid cluster name '%s': 1 to 63 letters, digits, '-' or '_'", argv[idx]);
        if (json_object_array_length(nodes) == 0)
                return ctl_usage(e, "no nodes: give at least this node with --node NAME=ADDRESS");

        body = create_body(argv[idx], &a);
        r = ctl_call_local(ctl, "POST", "/v1/cluster", body, &reply, e);
        if (r < 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON) {
                ctl_print_json(reply, stdout);
                return 0;
        }
        cluster = ctl_json_get(reply, "cluster");
        printf("Cluster '%s' created.\n\n", ctl_json_str(cluster, "name") ?: argv[idx]);
        ctl_print_cluster(cluster, stdout);
        return ctl_print_join(ctl_json_get(reply, "join"), NULL, stdout, e);
}

static const struct option create_options[] = {
        { "node", required_argument, NULL, OPT_NODE },
        { "local", required_argument, NULL, OPT_LOCAL },
        { "token-timeout", required_argument, NULL, OPT_TOKEN_TIMEOUT },
        { "join-token-ttl", required_argument, NULL, OPT_JOIN_TOKEN_TTL },
        {},
};

static const struct ctl_command cmd_create = {
        .name = "create",
        .path = "cluster create",
        .args = "NAME --node NAME=ADDRESS...",
        .summary = "Create a cluster with this node as its first member",
        .help = "Creates a new cluster with this node as its first member (local socket only):\n"
                "clusterd writes corosync.conf and an authkey, creates the cluster's CA and\n"
                "database, and starts corosync. Then prints, for every other listed node, the\n"
                "command that joins it.\n"
                "\n"
                "Options:\n"
                "      --node NAME=ADDRESS        A node of the cluster, this one included (repeat it)\n"
                "      --local NAME               Which of the nodes this is (default: clusterd.yaml's\n"
                "                                 node.name, or the node with a local address)\n"
                "      --token-timeout MS         corosync's totem token in milliseconds (default 3000)\n"
                "      --join-token-ttl DURATION  How long the other nodes may join (default 1h)\n"
                "\n"
                "Example:\n"
                "  clusterctl cluster create demo --node n1=198.18.0.1 --node n2=198.18.0.2 \\\n"
                "          --node n3=198.18.0.3 --local n1\n",
        .options = create_options,
        .run = create_run,
};

/* ------------------------------------------------------------------------ */
/* cluster join                                                              */
/* ------------------------------------------------------------------------ */

struct join_args {
        const char *token;         /* the join token; borrowed from argv */
        char ca_hash[CA_HASH_MAX]; /* "sha256:<hex>", lower case */
        const char *name;          /* borrowed from argv, or NULL */
        char *url;                 /* normalized; owned */
        uint64_t timeout_usec;
};

static int parse_ca_hash(const char *arg, char ret[CA_HASH_MAX], struct err *e) {
        const char *hex = strncasecmp(arg, "sha256:", 7) == 0 ? arg + 7 : NULL;
        uint8_t digest[32];

        if (!hex || strlen(hex) != 64 || hex_decode(hex, digest, sizeof(digest)) < 0)
                return ctl_usage(e, "invalid --ca-hash '%s': expected sha256: and 64 hex digits", arg);
        snprintf(ret, CA_HASH_MAX, "sha256:%s", hex);
        for (char *p = ret; *p; p++)
                *p = (char)tolower((unsigned char)*p);
        return 0;
}

static int join_option(struct ctl *ctl, int c, const char *arg, void *userdata, struct err *e) {
        struct join_args *a = userdata;

        switch (c) {
        case OPT_JOIN_TOKEN:
                if (!*arg || strpbrk(arg, " \t\r\n"))
                        return ctl_usage(e, "invalid --token: empty or with spaces");
                a->token = arg;
                return 0;
        case OPT_CA_HASH:
                return parse_ca_hash(arg, a->ca_hash, e);
        case OPT_NAME:
                if (!name_is_valid(arg))
                        return ctl_usage(e, "invalid node name '%s' for --name", arg);
                a->name = arg;
                return 0;
        default:
                return ctl_usage(e, "unhandled option %d", c);
        }
}

/* The first certificate of pem, alone: a server could add certificates of
 * its own after the CA, and whatever we put in the trust store must be
 * exactly what the hash pinned. */
static int first_certificate(const char *pem, char **ret) {
        const char *begin = strstr(pem, PEM_BEGIN);
        const char *end = begin ? strstr(begin, PEM_END) : NULL;

        if (!end)
                return -EINVAL;
        end += strlen(PEM_END);
        *ret = xasprintf("%.*s\n", (int)(end - begin), begin);
        return 0;
}

/* Step 1: fetch the CA without verification and check it against the hash. */
static int fetch_pinned_ca(const struct join_args *a, char **ret_pem, struct err *e) {
        struct ctl_http_target t = { .base_url = a->url, .insecure = true, .timeout_usec = a->timeout_usec };
        _cleanup_json_ json_object *reply = NULL;
        _cleanup_free_ char *pem = NULL;
        const char *certificate, *claimed;
        char actual[CA_HASH_MAX];
        int r;

        r = ctl_http_call(&t, "GET", "/v1/cluster/ca", NULL, &reply, e);
        if (r < 0)
                return r;
        certificate = ctl_json_str(reply, "certificate");
        if (!certificate || first_certificate(certificate, &pem) < 0 || ca_hash_from_pem(pem, actual) < 0)
                return err_set(e, -EBADMSG, "%s did not offer a readable CA certificate: refusing to join", a->url);
        if (!streq(actual, a->ca_hash))
                return err_set(e, -EPERM,
                               "the cluster CA offered by %s has hash %s, not the expected %s: refusing to join",
                               a->url, actual, a->ca_hash);
        /* Only our own computation counts; a different claim means a
         * confused server, which is worth a word but not a refusal. */
        claimed = ctl_json_str(reply, "ca_hash");
        if (claimed && strcasecmp(claimed, actual) != 0)
                fprintf(stderr, "clusterctl: warning: %s claims CA hash %s, but its certificate hashes to %s\n", a->url,
                        claimed, actual);
        *ret_pem = TAKE_PTR(pem);
        return 0;
}

/* Step 2: fetch the join bundle over a connection verified against the CA. */
static int fetch_bundle(const struct join_args *a, const char *ca_pem, json_object **ret, struct err *e) {
        struct ctl_http_target t = { .base_url = a->url, .cacert_pem = ca_pem, .timeout_usec = a->timeout_usec };
        _cleanup_json_ json_object *body = json_object_new_object(), *bundle = NULL;
        const char *node;
        int r;

        json_add_string(body, "token", a->token);
        if (a->name)
                json_add_string(body, "node", a->name);
        r = ctl_http_call(&t, "POST", "/v1/join", body, &bundle, e);
        if (r < 0)
                return r;
        node = ctl_json_str(ctl_json_get(bundle, "node"), "name");
        if (!ctl_json_str(ctl_json_get(bundle, "cluster"), "name") || !node)
                return err_set(e, -EBADMSG, "invalid join bundle from %s: no cluster or node name", a->url);
        if (a->name && !streq(node, a->name))
                return err_set(e, -EBADMSG, "%s sent the join bundle of node '%s', not of '%s'", a->url, node, a->name);
        *ret = TAKE_PTR(bundle);
        return 0;
}

/* Before asking a member for the cluster's secrets, make sure this node can
 * take them: clusterd runs here and belongs to no cluster yet. */
static int check_local_unconfigured(struct ctl *ctl, struct err *e) {
        _cleanup_json_ json_object *reply = NULL;
        const char *state;
        int r;

        r = ctl_call_local(ctl, "GET", "/v1/cluster", NULL, &reply, e);
        if (r < 0)
                return r;
        state = ctl_json_str(reply, "state");
        if (!state)
                return err_set(e, -EBADMSG, "invalid reply to GET /v1/cluster: no 'state'");
        if (!streq(state, "unconfigured"))
                return err_set(e, -EEXIST,
                               "this node already belongs to cluster '%s' (state %s): refusing to join another "
                               "(remove it from its cluster first)",
                               ctl_json_str(reply, "name") ?: "?", state);
        return 0;
}

static void print_joined(json_object *reply, json_object *bundle) {
        json_object *node = ctl_json_get(reply, "node") ?: ctl_json_get(bundle, "node");

        printf("Joined cluster '%s' as node '%s' (id %" PRId64 ").\n",
               ctl_json_str(reply, "name") ?: ctl_json_str(ctl_json_get(bundle, "cluster"), "name"),
               ctl_json_str(node, "name") ?: "?", ctl_json_int(node, "id", 0));
        printf("corosync is starting; 'clusterctl status' shows when the node is in sync.\n");
}

static int join_prepare(struct ctl *ctl, int argc, char *argv[], struct join_args *a, struct err *e) {
        int r, idx;

        r = ctl_parse_options(ctl, &cmd_join, argc, argv, join_option, a, &idx, e);
        if (r != 0)
                return r;
        r = ctl_check_args(argc - idx, 1, 1, "URL", argv + idx, e);
        if (r < 0)
                return r;
        r = ctl_require_local(ctl, e);
        if (r < 0)
                return r;
        if (!a->token)
                return ctl_usage(e, "missing --token TOKEN (the join token 'node add' printed)");
        if (!a->ca_hash[0])
                return ctl_usage(e, "missing --ca-hash sha256:HEX (the hash 'node add' printed)");
        r = ctl_http_normalize_url(argv[idx], &a->url, e);
        if (r < 0)
                return ctl_usage(e, "invalid URL: %s", e->msg);
        a->timeout_usec = ctl->timeout_usec;
        return 0;
}

static int join_run(struct ctl *ctl, int argc, char *argv[], struct err *e) {
        _cleanup_json_ json_object *bundle = NULL, *reply = NULL;
        _cleanup_free_ char *ca_pem = NULL;
        struct join_args a = {};
        int r;

        r = join_prepare(ctl, argc, argv, &a, e);
        if (r == 0)
                r = check_local_unconfigured(ctl, e);
        if (r == 0)
                r = fetch_pinned_ca(&a, &ca_pem, e);
        if (r == 0)
                r = fetch_bundle(&a, ca_pem, &bundle, e);
        if (r == 0)
                r = ctl_call_local(ctl, "POST", "/v1/cluster/join", bundle, &reply, e);
        free(a.url);
        if (r != 0)
                return r;
        if (ctl->output == CTL_OUTPUT_JSON)
                ctl_print_json(reply, stdout);
        else
                print_joined(reply, bundle);
        return 0;
}

static const struct option join_options[] = {
        { "token", required_argument, NULL, OPT_JOIN_TOKEN },
        { "ca-hash", required_argument, NULL, OPT_CA_HASH },
        { "name", required_argument, NULL, OPT_NAME },
        {},
};

static const struct ctl_command cmd_join = {
        .name = "join",
        .path = "cluster join",
        .args = "URL --token TOKEN --ca-hash sha256:HEX",
        .summary = "Join this node to a cluster (run the command 'node add' printed)",
        .help = "Joins this node, which must not belong to a cluster yet, to the cluster that the\n"
                "member at URL (https://HOST:PORT) belongs to. Run it as root on the new node,\n"
                "as printed by 'clusterctl node add' on a member:\n"
                "\n"
                "  1. fetches the cluster's CA certificate from URL and checks that its hash is\n"
                "     the one given with --ca-hash; on a mismatch it stops and sends nothing;\n"
                "  2. sends the join token to URL over HTTPS verified against that CA and gets\n"
                "     the node's configuration (corosync.conf, authkey, CA);\n"
                "  3. hands that to clusterd on this node, which starts corosync.\n"
                "\n"
                "Options:\n"
                "      --token TOKEN         The join token (here not an API token)\n"
                "      --ca-hash sha256:HEX  The hash of the cluster's CA\n"
                "      --name NODE           Which node this is, when the token admits several\n"
                "\n"
                "Example:\n"
                "  clusterctl cluster join https://198.18.0.1:7440 --token k3x9qa.7hd82mz0qp4lw1ns \\\n"
                "          --ca-hash sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\n",
        .options = join_options,
        .run = join_run,
};

const struct ctl_command ctl_cmd_cluster = {
        .name = "cluster",
        .path = "cluster",
        .summary = "Create or join a cluster",
        .help = "Creates a cluster on this node, or joins this node to an existing one.\n",
        .verbs = (const struct ctl_command *const[]){ &cmd_create, &cmd_join, NULL },
};
