/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-cluster.c: a node's membership of a cluster: creating one,
 * joining one, leaving when removed; corosync's files and process, and the
 * connection to it.
 *
 * corosync.conf and the authkey are owned by clusterd once the node is in
 * a cluster: corosync.conf is rendered from the cluster database on every
 * node whenever the node list changes, and corosync is asked to reload it.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "clusterd/cluster-int.h"
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"
#include "clusterd/pki-int.h"

#define AUTHKEY_SIZE 256
#define START_INTERVAL_USEC (10 * USEC_PER_SEC)
#define NODE_NAME_FILE "node-name"

bool clusterd_configured(struct clusterd *c) {
        struct db_cluster cl;
        return db_get_cluster(c->db, &cl) >= 0;
}

char *clusterd_state_path(struct clusterd *c, const char *name) {
        return xasprintf("%s/%s", c->config->state_dir, name);
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                           */

/* Reaps one command when it exits. Every child is reaped through its own
 * pidfd by whoever started it (agents too, see exec-int.h), so nobody takes
 * another's exit status. The pidfd is the entry's only state: nothing is
 * left to free when the daemon stops first. */
static int32_t command_exited(int32_t fd, int32_t revents, void *data) {
        struct clusterd *c = data;
        siginfo_t si = {};

        if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == -1)
                log_warning_errno(-errno, "Cannot reap a command: %m");
        else if (si.si_pid == 0)
                return 0;
        else if (si.si_code == CLD_EXITED && si.si_status == 0)
                log_info("Command (pid %d) finished", (int)si.si_pid);
        else if (si.si_code == CLD_EXITED)
                log_warning("Command (pid %d) failed with exit status %d", (int)si.si_pid, si.si_status);
        else
                log_warning("Command (pid %d) was killed by signal %d", (int)si.si_pid, si.si_status);
        qb_loop_poll_del(c->loop, fd);
        safe_close(fd);
        return -1;
}

int clusterd_run_command(struct clusterd *c, const char *what, const char *command) {
        pid_t pid = fork();
        if (pid == -1)
                return log_err_errno(-errno, "Cannot run %s '%s': %m", what, command);
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (null >= 0)
                        dup2(null, STDIN_FILENO);
                (void)setpgid(0, 0);
                closefrom(3);
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                execl("/bin/sh", "sh", "-c", command, (char *)NULL);
                _exit(127);
        }
        int pidfd = pidfd_open(pid, 0);
        int r = pidfd < 0 ? -errno : qb_loop_poll_add(c->loop, QB_LOOP_LOW, pidfd, POLLIN, c, command_exited);
        if (r < 0) {
                /* Nothing could reap it later: take it back now. */
                kill(pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                safe_close(pidfd);
                return log_err_errno(r, "Cannot watch %s '%s' (pid %d); killed it: %m", what, command, (int)pid);
        }
        log_info("Started %s: '%s' (pid %d)", what, command, (int)pid);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* The corosync connection                                                   */

static void on_deliver(void *data, uint32_t nodeid, uint32_t pid, const void *msg, size_t size) {
        struct clusterd *c = data;
        repl_deliver(c->repl, nodeid, pid, msg, size);
}

static void on_group_change(void *data, const struct cs_member *members, size_t n, const struct cs_member *left,
                            size_t n_left, const struct cs_member *joined, size_t n_joined) {
        struct clusterd *c = data;
        char name[64];

        for (size_t i = 0; i < n_joined; i++) {
                membership_node_name(c, joined[i].nodeid, name, sizeof(name));
                log_notice("clusterd on node '%s' (id %" PRIu32 ", pid %" PRIu32 ") joined the group", name,
                           joined[i].nodeid, joined[i].pid);
        }
        for (size_t i = 0; i < n_left; i++) {
                membership_node_name(c, left[i].nodeid, name, sizeof(name));
                log_notice("clusterd on node '%s' (id %" PRIu32 ", pid %" PRIu32 ") left the group", name,
                           left[i].nodeid, left[i].pid);
        }
        repl_group_change(c->repl, members, n, left, n_left);
        membership_update(c);
        leader_poke(c);
}

static void on_quorum_change(void *data) {
        struct clusterd *c = data;
        repl_quorum_change(c->repl);
        membership_update(c);
        leader_poke(c);
}

static void on_nodelist_change(void *data) {
        struct clusterd *c = data;
        membership_update(c);
}

static void on_dispatch_done(void *data) {
        struct clusterd *c = data;
        repl_dispatch_done(c->repl);
}

static void reconnect_job(void *data) {
        struct clusterd *c = data;
        clusterd_disconnect(c);
        clusterd_connect_soon(c, USEC_PER_SEC);
}

static void on_lost(void *data, int error) {
        struct clusterd *c = data;
        log_warning_errno(error, "Lost the connection to corosync (%m); reconnecting");
        /* Not from inside corosync's dispatch: free the handle later. */
        (void)qb_loop_job_add(c->loop, QB_LOOP_HIGH, c, reconnect_job);
}

static void on_shutdown_request(void *data) {
        clusterd_shutdown_request(data);
}

static const struct cs_callbacks cs_callbacks = {
        .deliver = on_deliver,
        .group_change = on_group_change,
        .quorum_change = on_quorum_change,
        .nodelist_change = on_nodelist_change,
        .dispatch_done = on_dispatch_done,
        .shutdown_request = on_shutdown_request,
        .lost = on_lost,
};

static void identify_self(struct clusterd *c) {
        struct db_node n = {};
        char cs_name[64] = "";
        struct cs_node *list = NULL;
        size_t k = 0;

        if (cs_nodelist(c->cs, &list, &k) >= 0)
                for (size_t i = 0; i < k; i++)
                        if (list[i].nodeid == c->nodeid)
                                snprintf(cs_name, sizeof(cs_name), "%s", list[i].name);
        free(list);
        if (c->config->node_name && cs_name[0] && !streq(c->config->node_name, cs_name))
                log_warning("node.name is '%s' but corosync calls this node '%s' (id %" PRIu32 "); using '%s'",
                            c->config->node_name, cs_name, c->nodeid, c->config->node_name);
        if (c->config->node_name)
                snprintf(c->node_name, sizeof(c->node_name), "%s", c->config->node_name);
        else if (cs_name[0])
                snprintf(c->node_name, sizeof(c->node_name), "%s", cs_name);
        else if (db_node_by_id(c->db, c->nodeid, &n) >= 0)
                snprintf(c->node_name, sizeof(c->node_name), "%s", n.name);
        db_node_done(&n);
}

static void connect_cb(void *data) {
        struct clusterd *c = data;
        uint64_t now = now_monotonic_usec();
        struct err e = {};
        int r;

        c->connect_armed = false;
        if (c->cs || c->stopping || !clusterd_configured(c))
                return;
        r = cs_connect(c->loop, CLUSTERD_CPG_GROUP, &cs_callbacks, c, &c->cs, &e);
        if (r < 0) {
                if (!c->disconnected_usec)
                        c->disconnected_usec = now;
                if (c->leaving)
                        log_debug("corosync was stopped cleanly; waiting for it to be started: %s", e.msg);
                else if (now - c->last_start_usec >= START_INTERVAL_USEC || c->last_start_usec == 0) {
                        log_notice("corosync is not reachable (%s); starting it", e.msg);
                        c->last_start_usec = now;
                        (void)clusterd_run_command(c, "corosync.start-command", c->config->corosync.start_command);
                } else
                        log_debug("Still cannot connect to corosync: %s", e.msg);
                clusterd_connect_soon(c, USEC_PER_SEC);
                return;
        }
        c->disconnected_usec = 0;
        c->leaving = false;
        c->nodeid = cs_local_nodeid(c->cs);
        identify_self(c);
        log_notice("Connected to corosync as node '%s' (id %" PRIu32 ")", c->node_name[0] ? c->node_name : "?",
                   c->nodeid);
        repl_attach(c->repl, c->cs);
        membership_update(c);
        clusterd_nodes_changed(c);
        clusterd_witness_update(c);
        (void)clusterd_start_tcp(c);
}

void clusterd_connect_soon(struct clusterd *c, uint64_t delay_usec) {
        if (c->connect_armed || c->cs || c->stopping)
                return;
        if (qb_loop_timer_add(c->loop, QB_LOOP_MED, MAX(delay_usec, 1) * NSEC_PER_USEC, c, connect_cb,
                              &c->connect_timer) == 0)
                c->connect_armed = true;
}

void clusterd_disconnect(struct clusterd *c) {
        if (!c->cs)
                return;
        clusterd_witness_stop(c);
        repl_detach(c->repl);
        c->cs = cs_free(c->cs);
        c->disconnected_usec = now_monotonic_usec();
        membership_update(c);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */

static int write_authkey(struct clusterd *c, const void *key, size_t size, struct err *e) {
        _cleanup_free_ char *dir = xstrdup(c->config->corosync.authkey);
        int r;
        *strrchr(dir, '/') = '\0';
        if (*dir && (r = mkdir_p(dir, 0755)) < 0)
                return err_set(e, r, "cannot create '%s': %s", dir, strerror(-r));
        r = write_file_atomic(c->config->corosync.authkey, key, size, 0400);
        if (r < 0)
                return err_set(e, r, "cannot write '%s': %s", c->config->corosync.authkey, strerror(-r));
        return 0;
}

static int write_corosync_conf(struct clusterd *c, const char *text, struct err *e) {
        const char *path = c->config->corosync.config;
        _cleanup_free_ char *dir = xstrdup(path), *old = NULL, *backup = NULL;
        size_t size;
        int r;

        *strrchr(dir, '/') = '\0';
        if (*dir && (r = mkdir_p(dir, 0755)) < 0)
                return err_set(e, r, "cannot create '%s': %s", dir, strerror(-r));
        /* Keep a file clusterd did not write (Debian ships an example). */
        if (read_full_file(path, 1024 * 1024, &old, &size) >= 0 && !strstr(old, "Written by clusterd")) {
                backup = xasprintf("%s.orig", path);
                if (access(backup, F_OK) != 0 && rename(path, backup) == 0)
                        log_notice("Moved the existing '%s' to '%s'", path, backup);
        }
        r = write_file_atomic(path, text, strlen(text), 0644);
        if (r < 0)
                return err_set(e, r, "cannot write '%s': %s", path, strerror(-r));
        return 0;
}

static int save_node_name(struct clusterd *c, const char *name) {
        _cleanup_free_ char *path = clusterd_state_path(c, NODE_NAME_FILE);
        _cleanup_free_ char *text = xasprintf("%s\n", name);
        snprintf(c->node_name, sizeof(c->node_name), "%s", name);
        return write_file_atomic(path, text, strlen(text), 0644);
}

void clusterd_load_node_name(struct clusterd *c) {
        _cleanup_free_ char *path = clusterd_state_path(c, NODE_NAME_FILE), *text = NULL;
        size_t size;

        if (c->config->node_name) {
                snprintf(c->node_name, sizeof(c->node_name), "%s", c->config->node_name);
                return;
        }
        if (read_full_file(path, 256, &text, &size) < 0)
                return;
        text[strcspn(text, "\n")] = '\0';
        if (name_is_valid(text))
                snprintf(c->node_name, sizeof(c->node_name), "%s", text);
}

int clusterd_render_corosync_conf(struct clusterd *c, char **ret, struct err *e) {
        struct db_node *nodes = NULL;
        struct db_cluster cl;
        size_t n = 0;
        int r;

        if ((r = db_get_cluster(c->db, &cl)) < 0)
                return err_set(e, r, "this node is not part of a cluster");
        if ((r = db_nodes(c->db, &nodes, &n)) < 0)
                return err_set(e, r, "cannot read the nodes: %s", db_last_error(c->db));
        _cleanup_free_ struct corosync_conf_node *cn = xcalloc(MAX(n, 1), sizeof(*cn));
        _cleanup_free_ bool *counts = xcalloc(MAX(n, 1), sizeof(*counts));
        uint32_t voters = dynamic_votes(nodes, n, counts);
        for (size_t i = 0; i < n; i++)
                cn[i] = (struct corosync_conf_node){ nodes[i].name, nodes[i].nodeid, nodes[i].address, !counts[i] };
        struct corosync_conf_device dev;
        bool have_device = clusterd_witness_device(c, voters, &dev);
        r = corosync_conf_render(cl.name, cl.token_ms ? cl.token_ms : 3000, cn, n, have_device ? &dev : NULL, ret, e);
        db_nodes_free(nodes, n);
        return r;
}

/* ------------------------------------------------------------------------ */
/* TLS and TCP                                                               */

static void add_unique(char ***l, const char *s) {
        if (s && *s && !strv_contains(*l, s))
                strv_push(l, s);
}

char **clusterd_cert_sans(struct clusterd *c) {
        char **sans = NULL, host[256] = "";
        struct db_node n = {};

        add_unique(&sans, c->node_name);
        if (gethostname(host, sizeof(host) - 1) == 0 && name_is_valid(host))
                add_unique(&sans, host);
        if (c->node_name[0] && db_node_get(c->db, c->node_name, &n) >= 0)
                add_unique(&sans, n.address);
        db_node_done(&n);
        for (char **l = c->config->api.listen; l && *l; l++) {
                char addr[64];
                const char *end = (*l)[0] == '[' ? strchr(*l, ']') : strrchr(*l, ':');
                size_t len = end ? (size_t)(end - *l) : 0;
                if ((*l)[0] == '[' && len > 0)
                        snprintf(addr, sizeof(addr), "%.*s", (int)len - 1, *l + 1);
                else
                        snprintf(addr, sizeof(addr), "%.*s", (int)len, *l);
                if (!streq(addr, "0.0.0.0") && !streq(addr, "::"))
                        add_unique(&sans, addr);
        }
        add_unique(&sans, "localhost");
        add_unique(&sans, "127.0.0.1");
        add_unique(&sans, "::1");
        return sans;
}

int clusterd_start_tcp(struct clusterd *c) {
        _cleanup_free_ char *dir = clusterd_state_path(c, CLUSTERD_PKI_DIR), *cert = NULL, *key = NULL;
        _cleanup_strv_free_ char **sans = NULL;
        struct http_limits lim = { c->config->api.max_body_size, c->config->api.max_clients,
                                   c->config->api.request_timeout_usec };
        struct err e = {};
        int r;

        if (!clusterd_configured(c) || http_tcp_listeners(c->http) > 0 || strv_length(c->config->api.listen) == 0 ||
            !c->node_name[0])
                return 0;
        if (c->config->api.tls) {
                sans = clusterd_cert_sans(c);
                r = pki_ensure_node_cert(dir, c->node_name, sans, &e);
                if (r < 0)
                        return log_err_errno(r, "Cannot issue this node's TLS certificate: %s", e.msg);
                if (r > 0)
                        log_notice("Issued a new TLS certificate for node '%s'", c->node_name);
                r = pki_read_node_cert(dir, &cert, &key, &e);
                if (r < 0)
                        return log_err_errno(r, "Cannot read this node's TLS certificate: %s", e.msg);
        } else
                log_warning("api.tls is off: the REST API and its tokens travel in clear text");
        for (char **l = c->config->api.listen; *l; l++) {
                err_clear(&e);
                r = http_listen_tcp(c->http, *l, cert, key, &lim, &e);
                if (r < 0)
                        log_err_errno(r, "Cannot serve the REST API on %s: %s", *l, e.msg);
                else
                        log_notice("Serving the REST API on %s://%s", cert ? "https" : "http", *l);
        }
        if (key)
                explicit_bzero(key, strlen(key));
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Keeping corosync.conf in step; leaving                                    */

static void move_aside(const char *path) {
        _cleanup_free_ char *to = xasprintf("%s.removed", path);
        int r = rm_rf(to);
        if (r < 0)
                log_warning_errno(r, "Cannot remove '%s': %m", to);
        if (rename(path, to) == -1 && errno != ENOENT)
                log_warning_errno(-errno, "Cannot move '%s' aside: %m", path);
}

static void leave_job(void *data) {
        struct clusterd *c = data;
        _cleanup_free_ char *pki = clusterd_state_path(c, CLUSTERD_PKI_DIR);
        _cleanup_free_ char *name_file = clusterd_state_path(c, NODE_NAME_FILE);
        struct db_cluster cl = {};

        (void)db_get_cluster(c->db, &cl);
        log_notice("This node was removed from cluster '%s': stopping corosync and returning to unconfigured", cl.name);
        clusterd_disconnect(c);
        (void)clusterd_run_command(c, "corosync.stop-command", c->config->corosync.stop_command);
        http_close_tcp(c->http);
        move_aside(c->config->corosync.config);
        move_aside(c->config->corosync.authkey);
        move_aside(pki);
        (void)unlink(name_file);
        if (db_wipe(c->db) < 0)
                log_error("Cannot clear the database after leaving: %s", db_last_error(c->db));
        c->self_in_db = false;
        c->nodeid = 0;
        if (!c->config->node_name)
                c->node_name[0] = '\0';
}

void clusterd_nodes_changed(struct clusterd *c) {
        _cleanup_free_ char *text = NULL, *old = NULL;
        struct db_node self = {};
        struct err e = {};
        size_t size;
        int r;

        if (!clusterd_configured(c))
                return;
        if (c->node_name[0] && db_node_get(c->db, c->node_name, &self) >= 0)
                c->self_in_db = true;
        else if (c->self_in_db) {
                c->self_in_db = false;
                (void)qb_loop_job_add(c->loop, QB_LOOP_HIGH, c, leave_job);
                return;
        }
        db_node_done(&self);
        if (db_position(c->db)->version == 0)
                return; /* joined but not synced yet: keep the file we were given */

        if ((r = clusterd_render_corosync_conf(c, &text, &e)) < 0) {
                log_err_errno(r, "Cannot render corosync.conf: %s", e.msg);
                return;
        }
        if (read_full_file(c->config->corosync.config, 1024 * 1024, &old, &size) >= 0 && streq(old, text))
                return;
        if ((r = write_corosync_conf(c, text, &e)) < 0) {
                log_err_errno(r, "%s", e.msg);
                return;
        }
        log_notice("Updated '%s' from the cluster database", c->config->corosync.config);
        /* corosync's reload is cluster-wide and its library call waits for
         * every node's answer, which can take long while a node leaves:
         * never on the main loop. */
        if (c->cs)
                (void)clusterd_run_command(c, "corosync reload", "corosync-cfgtool -R");
}

/* ------------------------------------------------------------------------ */
/* Create and join                                                           */

static bool address_is_local(const char *address) {
        struct ifaddrs *ifs, *i;
        unsigned char want[sizeof(struct in6_addr)];
        int family;
        bool found = false;

        if (inet_pton(AF_INET, address, want) == 1)
                family = AF_INET;
        else if (inet_pton(AF_INET6, address, want) == 1)
                family = AF_INET6;
        else
                return false;
        if (getifaddrs(&ifs) == -1)
                return false;
        for (i = ifs; i && !found; i = i->ifa_next) {
                if (!i->ifa_addr || i->ifa_addr->sa_family != family)
                        continue;
                if (family == AF_INET) {
                        struct sockaddr_in in4;
                        memcpy(&in4, i->ifa_addr, sizeof(in4));
                        found = memcmp(&in4.sin_addr, want, 4) == 0;
                } else {
                        struct sockaddr_in6 in6;
                        memcpy(&in6, i->ifa_addr, sizeof(in6));
                        found = memcmp(&in6.sin6_addr, want, 16) == 0;
                }
        }
        freeifaddrs(ifs);
        return found;
}

static int pick_local(struct clusterd *c, const struct cluster_create *cc, const char **ret, struct err *e) {
        const char *want = cc->local ? cc->local : c->config->node_name;
        const char *found = NULL;

        for (size_t i = 0; i < cc->n_nodes; i++) {
                if (want && streq(cc->nodes[i].name, want))
                        found = cc->nodes[i].name;
                else if (!want && address_is_local(cc->nodes[i].address)) {
                        if (found)
                                return err_set(e, -EINVAL,
                                               "nodes '%s' and '%s' both have addresses on this host: say "
                                               "which one this is with 'local'",
                                               found, cc->nodes[i].name);
                        found = cc->nodes[i].name;
                }
        }
        if (!found && want)
                return err_set(e, -EINVAL, "this node is '%s' (%s), which is not among the listed nodes", want,
                               cc->local ? "field 'local'" : "node.name in clusterd.yaml");
        if (!found)
                return err_set(e, -EINVAL,
                               "none of the listed node addresses is on this host: say which node this is "
                               "with 'local' (clusterctl cluster create --local NAME)");
        *ret = found;
        return 0;
}

char *clusterd_new_join_token(struct op *op, uint64_t now_usec, uint64_t ttl_usec) {
        char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
        if (random_string(id, TOKEN_ID_LEN) < 0 || random_string(secret, TOKEN_SECRET_LEN) < 0)
                abort(); /* getrandom() does not fail once the pool is initialized */
        free(op->token_id);
        op->token_id = xstrdup(id);
        sha256(secret, strlen(secret), op->secret_hash);
        op->expires_usec = now_usec + ttl_usec;
        return xasprintf("%s.%s", id, secret);
}

static int prepare_pki(struct clusterd *c, const char *cluster_name, struct err *e) {
        _cleanup_free_ char *dir = clusterd_state_path(c, CLUSTERD_PKI_DIR);
        /* A CA without a cluster is left over from an earlier one. */
        if (access(dir, F_OK) == 0)
                move_aside(dir);
        return pki_create_ca(dir, cluster_name, e);
}

static void undo_create(struct clusterd *c) {
        _cleanup_free_ char *dir = clusterd_state_path(c, CLUSTERD_PKI_DIR);
        (void)db_wipe(c->db);
        (void)unlink(c->config->corosync.authkey);
        (void)unlink(c->config->corosync.config);
        move_aside(dir);
}

int clusterd_create(struct clusterd *c, const struct cluster_create *cc, const char *client, char **ret_token,
                    uint64_t *ret_expires_usec, struct err *e) {
        struct db_cluster cl = { .created_usec = now_realtime_usec(), .token_ms = cc->token_ms };
        _cleanup_free_ struct db_node *nodes = xcalloc(cc->n_nodes, sizeof(*nodes));
        _cleanup_free_ char *token = NULL, *conf = NULL;
        struct op tok = {};
        uint8_t key[AUTHKEY_SIZE];
        const char *local = NULL;
        int r;

        if (clusterd_configured(c) && db_get_cluster(c->db, &cl) >= 0)
                return err_set(e, -EEXIST, "this node already belongs to cluster '%s'", cl.name);
        if (cs_running())
                return err_set(e, -EBUSY,
                               "corosync is already running on this node with another configuration: "
                               "stop it first");
        if ((r = pick_local(c, cc, &local, e)) < 0)
                return r;
        snprintf(cl.name, sizeof(cl.name), "%s", cc->name);
        if ((r = uuid_generate_text(cl.uuid)) < 0 || (r = random_bytes(key, sizeof(key))) < 0)
                return err_set(e, r, "cannot get random bytes: %s", strerror(-r));

        token = clusterd_new_join_token(&tok, cl.created_usec, cc->join_ttl_usec);
        for (size_t i = 0; i < cc->n_nodes; i++) {
                nodes[i] = cc->nodes[i];
                nodes[i].added_usec = nodes[i].state_since_usec = nodes[i].daemon_since_usec = cl.created_usec;
                nodes[i].state = NODE_STATE_JOINING;
                nodes[i].join_token_id = streq(nodes[i].name, local) ? NULL : tok.token_id;
                memcpy(nodes[i].join_hash, tok.secret_hash, OP_HASH_SIZE);
                nodes[i].join_expires_usec = tok.expires_usec;
        }
        if ((r = prepare_pki(c, cc->name, e)) < 0 || (r = write_authkey(c, key, sizeof(key), e)) < 0 ||
            (r = db_create_cluster(c->db, &cl, nodes, cc->n_nodes, client, e)) < 0 ||
            (r = clusterd_render_corosync_conf(c, &conf, e)) < 0 || (r = write_corosync_conf(c, conf, e)) < 0 ||
            (r = save_node_name(c, local)) < 0) {
                if (r < 0 && e->msg[0] == '\0')
                        err_set(e, r, "cannot save the node name: %s", strerror(-r));
                explicit_bzero(key, sizeof(key));
                op_done(&tok);
                undo_create(c);
                return r;
        }
        explicit_bzero(key, sizeof(key));
        c->self_in_db = true;
        log_notice("Created cluster '%s' (%s) with %zu node(s); this node is '%s'", cl.name, cl.uuid, cc->n_nodes,
                   local);
        *ret_expires_usec = tok.expires_usec;
        *ret_token = TAKE_PTR(token);
        op_done(&tok);
        (void)clusterd_start_tcp(c);
        clusterd_connect_soon(c, 1);
        return 0;
}

int clusterd_join(struct clusterd *c, const struct join_bundle *b, struct err *e) {
        _cleanup_free_ char *dir = clusterd_state_path(c, CLUSTERD_PKI_DIR);
        struct db_cluster cl;
        int r;

        if (db_get_cluster(c->db, &cl) >= 0)
                return err_set(e, -EEXIST, "this node already belongs to cluster '%s'", cl.name);
        if (cs_running())
                return err_set(e, -EBUSY,
                               "corosync is already running on this node with another configuration: "
                               "stop it first");
        if (c->config->node_name && !streq(c->config->node_name, b->node_name))
                return err_set(e, -EINVAL, "the cluster knows this node as '%s' but node.name in clusterd.yaml is '%s'",
                               b->node_name, c->config->node_name);
        if (access(dir, F_OK) == 0)
                move_aside(dir);
        if ((r = pki_install_ca(dir, b->ca_cert, b->ca_key, e)) < 0 ||
            (r = write_authkey(c, b->authkey, b->authkey_size, e)) < 0 ||
            (r = write_corosync_conf(c, b->corosync_conf, e)) < 0 ||
            (r = db_prepare_join(c->db, b->cluster_name, b->cluster_uuid, e)) < 0) {
                undo_create(c);
                return r;
        }
        if ((r = save_node_name(c, b->node_name)) < 0) {
                undo_create(c);
                return err_set(e, r, "cannot save the node name: %s", strerror(-r));
        }
        log_notice("Joining cluster '%s' (%s) as node '%s' (id %" PRIu32 ")", b->cluster_name, b->cluster_uuid,
                   b->node_name, b->nodeid);
        (void)clusterd_start_tcp(c);
        clusterd_connect_soon(c, 1);
        return 0;
}

static int pick_join_node(struct clusterd *c, struct db_node *nodes, size_t n, const char *id, const char *secret,
                          const char *node_name, const char *peer, struct db_node **ret, struct err *e) {
        uint8_t hash[OP_HASH_SIZE];
        struct db_node *pick = NULL;
        size_t candidates = 0;
        uint64_t now = now_realtime_usec();

        sha256(secret, strlen(secret), hash);
        for (size_t i = 0; i < n; i++) {
                if (!nodes[i].join_token_id || !streq(nodes[i].join_token_id, id))
                        continue;
                if (!memeq_consttime(nodes[i].join_hash, hash, OP_HASH_SIZE))
                        return err_set(e, -EACCES, "wrong join token");
                if (nodes[i].join_expires_usec <= now) {
                        char when[TIMESTAMP_MAX];
                        return err_set(e, -EACCES,
                                       "the join token expired at %s: issue a new one with 'clusterctl node join-token "
                                       "%s'",
                                       format_timestamp(when, nodes[i].join_expires_usec), nodes[i].name);
                }
                candidates++;
                if (node_name ? streq(nodes[i].name, node_name) : streq(nodes[i].address, peer) || !pick)
                        pick = &nodes[i];
        }
        if (candidates == 0)
                return err_set(e, -EACCES, "unknown join token (it may have been replaced or used up)");
        if (node_name && !pick)
                return err_set(e, -EACCES, "the join token does not admit node '%s'", node_name);
        if (!node_name && candidates > 1 && !streq(pick->address, peer))
                return err_set(e, -EINVAL,
                               "the join token admits %zu nodes: say which one this is ('node', clusterctl "
                               "cluster join --name NAME)",
                               candidates);
        const struct live_node *live = membership_find(&c->live, pick->nodeid);
        if (live && live->online)
                return err_set(e, -EEXIST, "node '%s' is online already", pick->name);
        *ret = pick;
        return 0;
}

int clusterd_join_bundle(struct clusterd *c, const char *token, const char *node_name, const char *peer_address,
                         struct join_bundle *ret, struct err *e) {
        _cleanup_free_ char *pki = clusterd_state_path(c, CLUSTERD_PKI_DIR), *key = NULL;
        char id[TOKEN_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1];
        struct join_bundle b = {};
        struct db_node *nodes = NULL, *pick = NULL;
        struct db_cluster cl;
        size_t n = 0, key_size = 0;
        int r;

        if (db_get_cluster(c->db, &cl) < 0)
                return err_set(e, -ENOENT, "this node is not part of a cluster");
        if (join_token_parse(token, id, secret) < 0)
                return err_set(e, -EACCES, "malformed join token (expected 6 and 16 characters joined by '.')");
        if ((r = db_nodes(c->db, &nodes, &n)) < 0)
                return err_set(e, r, "cannot read the nodes: %s", db_last_error(c->db));
        if ((r = pick_join_node(c, nodes, n, id, secret, node_name, peer_address, &pick, e)) < 0)
                goto out;
        if (!pick) {
                r = -ENOENT;
                goto out;
        }

        b.cluster_name = xstrdup(cl.name);
        b.cluster_uuid = xstrdup(cl.uuid);
        b.node_name = xstrdup(pick->name);
        b.node_address = xstrdup(pick->address);
        b.nodeid = pick->nodeid;
        if ((r = clusterd_render_corosync_conf(c, &b.corosync_conf, e)) < 0)
                goto out;
        if ((r = read_full_file(c->config->corosync.authkey, 4096, &key, &key_size)) < 0) {
                err_set(e, r, "cannot read '%s': %s", c->config->corosync.authkey, strerror(-r));
                goto out;
        }
        b.authkey = xmalloc(key_size);
        memcpy(b.authkey, key, key_size);
        b.authkey_size = key_size;
        explicit_bzero(key, key_size);
        if ((r = pki_read_ca(pki, &b.ca_cert, &b.ca_key, e)) < 0)
                goto out;
        log_notice("Handed the join bundle to node '%s' (connecting from %s)", b.node_name,
                   peer_address[0] ? peer_address : "the local socket");
        *ret = b;
        b = (struct join_bundle){};
        r = 0;
out:
        join_bundle_done(&b);
        db_nodes_free(nodes, n);
        return r;
}
