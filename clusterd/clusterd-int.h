/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-int.h: the daemon object and the glue between its modules.
 *
 * One struct clusterd holds everything a node's daemon owns; it is passed
 * explicitly (no globals beyond log state and signal flags).
 */
#pragma once

#include <qb/qbloop.h>
#include <sys/types.h>

#include "clusterd/config-int.h"
#include "clusterd/corosync-int.h"
#include "clusterd/db-int.h"
#include "clusterd/http-int.h"
#include "clusterd/repl-int.h"
#include "clusterd/request-int.h"

#define CLUSTERD_CPG_GROUP "clusterd"
#define CLUSTERD_DB_FILE "cluster.db"
#define CLUSTERD_PKI_DIR "pki"
#define CLUSTERD_MAX_NODES 64

/* What this node sees of one node right now (not replicated). */
struct live_node {
        uint32_t nodeid;
        bool online;                /* in corosync's membership */
        uint64_t online_since_usec; /* realtime, as first seen here */
        bool daemon;                /* its clusterd is in the CPG group */
        uint64_t daemon_since_usec;
        bool seen_online;           /* was online at some point while this daemon watched */
        uint64_t offline_mono_usec; /* monotonic: when this daemon saw it leave, or first saw it absent */
};

struct membership {
        struct live_node *nodes; /* owned */
        size_t n_nodes;
        bool quorate;
        uint64_t quorate_since_usec;
        uint64_t quorum_lost_usec; /* when this node last saw quorum go, 0 if not since */
        bool known;                /* a quorum notification arrived since connecting */
};

struct clusterd {
        qb_loop_t *loop;
        char *config_path;     /* owned */
        struct config *config; /* owned, replaced whole on reload */

        struct db *db;            /* owned, open for the daemon's whole life */
        struct repl *repl;        /* owned */
        struct cs *cs;            /* owned; NULL while disconnected */
        struct http_server *http; /* owned */

        char node_name[64]; /* this node's name, "" until known */
        uint32_t nodeid;    /* 0 until connected */
        bool self_in_db;    /* this node was seen in the nodes table */

        struct membership live;

        /* Connecting to (and starting) corosync. */
        qb_loop_timer_handle connect_timer;
        bool connect_armed;
        uint64_t last_start_usec;   /* monotonic; last run of corosync.start-command */
        uint64_t disconnected_usec; /* monotonic; when the connection went, 0 if connected */

        /* Leader duties. */
        qb_loop_timer_handle leader_timer;
        bool leader_armed;
        uint32_t *leader_pending; /* node ids with a NODE_STATE write in flight; owned */
        size_t n_leader_pending;
        bool quorum_event_pending;

        /* Dynamic quorum (clusterd-leave.c). */
        bool leaving;     /* corosync stopped cleanly: do not start it again (until clusterd restarts) */
        bool leave_armed; /* leave_timer runs: corosync waits for our answer */
        qb_loop_timer_handle leave_timer;
        bool vote_pending; /* the write that gives this node its vote back is in flight */

        /* Roles (clusterd-manager.c, clusterd-executor.c). */
        struct exec *exec;         /* owned: runs agent actions */
        struct manager *manager;   /* owned: the leader's placement and fencing */
        struct executor *executor; /* owned: what this node runs */

        /* The witness vote (clusterd-witness.c); NULL without a witness. */
        struct witness_vote *witness; /* owned */

        bool stopping;
};

/* ------------------------------------------------------------------------ */
/* clusterd-leave.c: dynamic quorum for nodes that stop cleanly.             */

/* The number of nodes whose vote counts (those that did not leave cleanly;
 * all of them if none would). With ret_counts (n entries), says for each
 * node whether its vote counts. */
uint32_t dynamic_votes(const struct db_node *nodes, size_t n, bool *ret_counts);
uint32_t clusterd_voting_nodes(struct clusterd *c);
/* corosync stops cleanly: record that this node left, then let it stop. */
void clusterd_shutdown_request(struct clusterd *c);
/* A node that left and is a member again takes its vote back. */
void clusterd_vote_return(struct clusterd *c);
void clusterd_leave_done(struct clusterd *c);

/* ------------------------------------------------------------------------ */
/* clusterd-cluster.c: creating, joining and leaving; corosync's files and
 * process; keeping corosync.conf in step with the database.                 */

/* Whether this node belongs to a cluster (its database holds one). */
bool clusterd_configured(struct clusterd *c);

/* Reads this node's name from node.name or the state directory (written by
 * create and join), so that it is known before corosync runs. */
void clusterd_load_node_name(struct clusterd *c);

/* Path of a file under the state directory (caller frees). */
char *clusterd_state_path(struct clusterd *c, const char *name);

/* Tries to connect to corosync now, starting it if it is not running and
 * the node is configured; retries every second until it works. */
void clusterd_connect_soon(struct clusterd *c, uint64_t delay_usec);
void clusterd_disconnect(struct clusterd *c);

/* Rewrites corosync.conf from the database when it differs and asks
 * corosync to reload it; handles this node having been removed. */
void clusterd_nodes_changed(struct clusterd *c);

/* Starts the TCP listeners (HTTPS with the node's certificate) if the node
 * is configured and they are not running. */
int clusterd_start_tcp(struct clusterd *c);

/* Renders corosync.conf for the current database content. Caller frees. */
int clusterd_render_corosync_conf(struct clusterd *c, char **ret, struct err *e);

/* Runs a configured command with /bin/sh -c, without waiting; each child is
 * reaped through its pidfd on the main loop when it exits. */
int clusterd_run_command(struct clusterd *c, const char *what, const char *command);

/* The SANs this node's certificate must carry. Caller frees (strv). */
char **clusterd_cert_sans(struct clusterd *c);

/* A new cluster with this node as its first member. On success ret_token
 * holds the join token for the other nodes (caller frees). */
int clusterd_create(struct clusterd *c, const struct cluster_create *cc, const char *client, char **ret_token,
                    uint64_t *ret_expires_usec, struct err *e);

/* Installs a join bundle on this unconfigured node and starts corosync. */
int clusterd_join(struct clusterd *c, const struct join_bundle *b, struct err *e);

/* What a member hands a joining node that presented token (id.secret).
 * node_name and peer_address help pick the node when the token admits
 * several. Read-only: works without quorum. */
int clusterd_join_bundle(struct clusterd *c, const char *token, const char *node_name, const char *peer_address,
                         struct join_bundle *ret, struct err *e);

/* A new join token "id.secret" for node: fills op's token fields and
 * returns the token text (caller frees). */
char *clusterd_new_join_token(struct op *op, uint64_t now_usec, uint64_t ttl_usec);

/* ------------------------------------------------------------------------ */
/* clusterd-membership.c: the live view of corosync's membership and the
 * CPG group, with change notices.                                           */

void membership_update(struct clusterd *c);
void membership_done(struct membership *m);
const struct live_node *membership_find(const struct membership *m, uint32_t nodeid);
/* A node's name (database, then corosync's nodelist, then "node<ID>"). */
void membership_node_name(struct clusterd *c, uint32_t nodeid, char *buf, size_t size);

/* ------------------------------------------------------------------------ */
/* clusterd-leader.c: what the leader records about the cluster.             */

/* Looks again (soon, batched) at what needs recording. */
void leader_poke(struct clusterd *c);
void leader_done(struct clusterd *c);
bool clusterd_is_leader(struct clusterd *c);

/* ------------------------------------------------------------------------ */
/* clusterd-manager.c: the leader's placement and fencing decisions.         */

int manager_new(struct clusterd *c, struct manager **ret);
struct manager *manager_free(struct manager *m);
/* Looks again soon (next loop iteration) at placement and fencing. */
void manager_poke(struct clusterd *c);
/* Why role is where it is: one line per node (caller frees). -ENOENT. */
int manager_explain(struct clusterd *c, const char *role, char **ret);
/* Asks that the roles preferring node over their current owner move back
 * to it (node resume --failback). */
void manager_failback_node(struct clusterd *c, const char *node);
struct db_role;
/* A role's state for people: running, starting, stopping, stopped,
 * pending, unplaced, failed, waiting-for-fencing, stop-failed. */
const char *api_role_state(struct clusterd *c, const struct db_role *role);
/* Whether node (by name) is in the membership with its clusterd running. */
bool clusterd_node_up(struct clusterd *c, const char *name);

/* ------------------------------------------------------------------------ */
/* clusterd-executor.c: running this node's roles through their agents.      */

int executor_new(struct clusterd *c, struct executor **ret);
/* Leaves roles running (a restarted clusterd adopts them) and disarms the
 * watchdog: a clean stop is not a crash. */
struct executor *executor_free(struct executor *x);
/* Converges what runs here to what the database says, soon. */
void executor_poke(struct clusterd *c);
/* Roles running here, as JSON for the node's status (caller owns). */
json_object *executor_status_json(struct clusterd *c);

/* ------------------------------------------------------------------------ */
/* clusterd-witness.c: the witness vote as votequorum's quorum device.       */

struct corosync_conf_device;
/* Starts, reconfigures or stops the witness to match the database
 * (quorum.witness, quorum.witness-lease, the number of nodes). */
void clusterd_witness_update(struct clusterd *c);
/* The database's position moved: a holder writes it to the record at once. */
void clusterd_witness_position(struct clusterd *c);
/* Withdraws the vote, unregisters the device and frees everything. */
void clusterd_witness_stop(struct clusterd *c);
/* The quorum device section for corosync.conf; false without a witness. */
bool clusterd_witness_device(struct clusterd *c, uint32_t n_nodes, struct corosync_conf_device *ret);
/* The witness's status as this node sees it (caller owns). */
json_object *clusterd_witness_json(struct clusterd *c);

/* ------------------------------------------------------------------------ */
/* clusterd-api*.c: the REST API.                                            */

void api_handle(void *userdata, struct http_request *req);

/* The client identity recorded with writes ("local:root", "token:NAME"). */
#define API_CLIENT_MAX 80

/* Submits op for req and replies when it is committed: 201/200 with the
 * JSON that build() makes then, or the mapped error. ctx is owned by the
 * pending write and freed with free_ctx. */
typedef json_object *(*api_build_fn)(struct clusterd *c, void *ctx);
void api_submit(struct clusterd *c, struct http_request *req, struct op *op, unsigned status, api_build_fn build,
                void *ctx, void (*free_ctx)(void *));

/* Error replies for -errno values from validation, writes and refusals. */
void api_reply_errno(struct http_request *req, int r, const char *message);

json_object *api_cluster_json(struct clusterd *c);
json_object *api_quorum_json(struct clusterd *c);
json_object *api_node_json(struct clusterd *c, const struct db_node *n);
json_object *api_nodes_json(struct clusterd *c);
json_object *api_join_json(struct clusterd *c, struct http_request *req, const char *token, uint64_t expires_usec,
                           char *const *nodes);

void api_cluster_get(struct clusterd *c, struct http_request *req, const char *arg);
void api_cluster_create(struct clusterd *c, struct http_request *req, const char *arg);
void api_cluster_join_local(struct clusterd *c, struct http_request *req, const char *arg);
void api_cluster_ca(struct clusterd *c, struct http_request *req, const char *arg);
void api_join(struct clusterd *c, struct http_request *req, const char *arg);
void api_quorum_get(struct clusterd *c, struct http_request *req, const char *arg);
void api_witness_put(struct clusterd *c, struct http_request *req, const char *arg);
void api_nodes_list(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_get(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_add(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_remove(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_join_token(struct clusterd *c, struct http_request *req, const char *arg);
void api_settings_list(struct clusterd *c, struct http_request *req, const char *arg);
void api_setting_get(struct clusterd *c, struct http_request *req, const char *arg);
void api_setting_put(struct clusterd *c, struct http_request *req, const char *arg);
void api_setting_delete(struct clusterd *c, struct http_request *req, const char *arg);
void api_events_list(struct clusterd *c, struct http_request *req, const char *arg);
void api_tokens_list(struct clusterd *c, struct http_request *req, const char *arg);
void api_token_create(struct clusterd *c, struct http_request *req, const char *arg);
void api_token_delete(struct clusterd *c, struct http_request *req, const char *arg);

/* clusterd-api-roles.c */
struct db_role;
/* A role as the API shows it; full adds failures and history. */
json_object *api_role_json(struct clusterd *c, const struct db_role *role, bool full);
void api_roles_list(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_create(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_get(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_patch(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_delete(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_action(struct clusterd *c, struct http_request *req, const char *arg);
void api_role_explain(struct clusterd *c, struct http_request *req, const char *arg);
void api_resource_add(struct clusterd *c, struct http_request *req, const char *arg);
void api_resource_set(struct clusterd *c, struct http_request *req, const char *arg);
void api_resource_remove(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_action(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_fencing_put(struct clusterd *c, struct http_request *req, const char *arg);
void api_node_fencing_delete(struct clusterd *c, struct http_request *req, const char *arg);
