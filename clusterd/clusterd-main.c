/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-main.c: the daemon's entry point: arguments, configuration,
 * the single-instance lock, signals, and the order in which the parts are
 * started and stopped.
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include "clusterd/clusterd-int.h"
#include "clusterd/exec-int.h"
#include "clusterd/log.h"

struct args {
        const char *config;
        bool config_given;
        bool foreground;
        bool check_config;
        bool debug;
};

static void usage(FILE *f) {
        fprintf(f, "Usage: clusterd [OPTIONS]\n\n"
                   "The clusterd failover cluster daemon. Run one on every node.\n\n"
                   "  -c, --config PATH   node configuration (default " CLUSTERD_CONFIG_FILE ")\n"
                   "  -f, --foreground    do not detach (what systemd runs)\n"
                   "      --check-config  validate the configuration, print it normalized, exit\n"
                   "  -d, --debug         log at debug level until the configuration is read\n"
                   "  -h, --help          show this help\n"
                   "      --version       show the version\n\n"
                   "Signals: TERM stops, HUP reloads the configuration, USR1 writes the blackbox.\n");
}

static int parse_args(int argc, char **argv, struct args *a) {
        enum { OPT_CHECK = 0x100, OPT_VERSION };
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "foreground", no_argument, NULL, 'f' },
                { "check-config", no_argument, NULL, OPT_CHECK },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        int o;

        *a = (struct args){ .config = CLUSTERD_CONFIG_FILE };
        while ((o = getopt_long(argc, argv, "c:fdh", opts, NULL)) != -1)
                switch (o) {
                case 'c':
                        a->config = optarg;
                        a->config_given = true;
                        break;
                case 'f':
                        a->foreground = true;
                        break;
                case 'd':
                        a->debug = true;
                        break;
                case OPT_CHECK:
                        a->check_config = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("clusterd %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'clusterd --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "clusterd: unexpected argument '%s'\nTry 'clusterd --help'.\n", argv[optind]);
                return -EINVAL;
        }
        return 1;
}

static int load_config(const struct args *a, struct config **ret) {
        struct err e = {};
        int r = config_load(a->config, ret, &e);
        if (r == -ENOENT && !a->config_given) {
                /* No file means all defaults, as documented. */
                *ret = config_new_default();
                (*ret)->path = xstrdup(a->config);
                return 0;
        }
        if (r < 0)
                fprintf(stderr, "clusterd: %s\n", e.msg[0] ? e.msg : strerror(-r));
        return r;
}

/* ------------------------------------------------------------------------ */
/* Single instance                                                           */

static int take_lock(const struct config *cfg, int *ret_fd) {
        _cleanup_free_ char *dir = xstrdup(cfg->api.socket), *path = NULL;
        _cleanup_close_ int fd = -1;
        char buf[32];
        int r;

        *strrchr(dir, '/') = '\0';
        path = xasprintf("%s/clusterd.pid", *dir ? dir : "/");
        if ((r = mkdir_p(dir, 0755)) < 0)
                return log_err_errno(r, "Cannot create '%s': %m", dir);
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd == -1)
                return log_err_errno(-errno, "Cannot open lock file '%s': %m", path);
        if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
                ssize_t n = errno == EWOULDBLOCK ? pread(fd, buf, sizeof(buf) - 1, 0) : -1;
                buf[n > 0 ? n : 0] = '\0';
                buf[strcspn(buf, "\n")] = '\0';
                return log_err_errno(-EBUSY, "Another clusterd is running on this node (pid %s, lock '%s')",
                                     buf[0] ? buf : "?", path);
        }
        snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, strlen(buf), 0) == -1)
                log_warning_errno(-errno, "Cannot write the pid to '%s': %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

/* Detaches once the daemon has started (lock taken, database open, socket
 * listening), so that every startup error reached the caller's terminal
 * and "clusterd" in a script fails visibly. The lock is inherited by the
 * child (flock locks belong to the open file), which records its pid. */
static int daemonize(int lock_fd) {
        char buf[32];
        pid_t pid = fork();

        if (pid == -1)
                return -errno;
        if (pid > 0)
                _exit(0);
        if (setsid() == -1)
                return -errno;
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null >= 0) {
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                if (null > STDERR_FILENO)
                        close(null);
        }
        snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
        if (ftruncate(lock_fd, 0) == -1 || pwrite(lock_fd, buf, strlen(buf), 0) == -1)
                log_warning_errno(-errno, "Cannot write the pid to the lock file: %m");
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Callbacks between modules                                                 */

static void repl_changed(void *userdata, unsigned what) {
        struct clusterd *c = userdata;
        if (what & REPL_CHANGED_POSITION)
                clusterd_witness_position(c);
        if (!(what & ~REPL_CHANGED_POSITION))
                return;
        /* The witness is part of corosync.conf (its quorum device section). */
        if (what & (REPL_CHANGED_NODES | REPL_CHANGED_SETTINGS))
                clusterd_nodes_changed(c);
        if (what & (REPL_CHANGED_NODES | REPL_CHANGED_SETTINGS))
                clusterd_witness_update(c);
        membership_update(c);
        leader_poke(c);
}

static void repl_status(void *userdata) {
        struct clusterd *c = userdata;
        leader_poke(c);
}

static void failed_job(void *data) {
        struct clusterd *c = data;
        clusterd_disconnect(c);
        clusterd_connect_soon(c, 5 * USEC_PER_SEC);
}

static void repl_failed(void *userdata, int error, const char *message) {
        struct clusterd *c = userdata;
        log_err_errno(error,
                      "This node's copy of the cluster database cannot follow the group (%s); leaving the "
                      "group and retrying in 5s",
                      message);
        (void)qb_loop_job_add(c->loop, QB_LOOP_HIGH, c, failed_job);
}

static const struct repl_callbacks repl_callbacks = {
        .changed = repl_changed,
        .status = repl_status,
        .failed = repl_failed,
};

static struct repl_config repl_config_of(const struct config *cfg) {
        return (struct repl_config){ .write_timeout_usec = cfg->database.write_timeout_usec,
                                     .member_timeout_usec = cfg->database.member_timeout_usec,
                                     .max_pending = cfg->database.max_pending_writes };
}

static struct http_limits limits_of(const struct config *cfg) {
        return (struct http_limits){ .max_body_size = cfg->api.max_body_size,
                                     .max_clients = cfg->api.max_clients,
                                     .request_timeout_usec = cfg->api.request_timeout_usec };
}

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */

static void take_string(char **dst, char **src) {
        free(*dst);
        *dst = *src;
        *src = NULL;
}

/* Settings that only a restart changes keep their running values. */
static void keep_restart_settings(struct config *next, struct config *cur) {
        take_string(&next->node_name, &cur->node_name);
        take_string(&next->state_dir, &cur->state_dir);
        take_string(&next->api.socket, &cur->api.socket);
        strv_free(next->api.listen);
        next->api.listen = cur->api.listen;
        cur->api.listen = NULL;
        next->api.tls = cur->api.tls;
        next->database.synchronous = cur->database.synchronous;
        take_string(&next->fencing.watchdog, &cur->fencing.watchdog);
        next->fencing.watchdog_timeout_usec = cur->fencing.watchdog_timeout_usec;
        next->agents.max_running = cur->agents.max_running;
}

static void reload(struct clusterd *c) {
        _cleanup_(config_freep) struct config *next = NULL;
        _cleanup_strv_free_ char **restart = NULL;
        struct err e = {};
        int r;

        r = config_load(c->config_path, &next, &e);
        if (r == -ENOENT) {
                next = config_new_default();
                next->path = xstrdup(c->config_path);
        } else if (r < 0) {
                log_error("Reload failed, keeping the running configuration: %s", e.msg);
                return;
        }
        restart = config_restart_needed(c->config, next);
        for (char **k = restart; k && *k; k++)
                log_warning("Changing '%s' needs a restart of clusterd; the running value stays until then", *k);
        keep_restart_settings(next, c->config);
        if ((r = log_apply_config(next)) < 0) {
                log_err_errno(r, "Reload failed, keeping the running configuration: cannot open log file '%s': %m",
                              next->log.file);
                return;
        }
        http_set_limits(c->http, &(struct http_limits){ limits_of(next).max_body_size, limits_of(next).max_clients,
                                                        limits_of(next).request_timeout_usec });
        struct repl_config rc = repl_config_of(next);
        repl_set_config(c->repl, &rc);
        config_free(c->config);
        c->config = TAKE_PTR(next);
        log_notice("Reloaded the configuration from '%s'", c->config_path);
}

static int32_t signal_cb(int32_t sig, void *data) {
        struct clusterd *c = data;

        switch (sig) {
        case SIGTERM:
        case SIGINT:
                log_notice("Stopping (signal %s)", sig == SIGTERM ? "TERM" : "INT");
                c->stopping = true;
                qb_loop_stop(c->loop);
                break;
        case SIGHUP:
                reload(c);
                break;
        case SIGUSR1:
                log_blackbox_dump(c->config->state_dir);
                log_notice("Wrote the blackbox to '%s'", c->config->state_dir);
                break;
        }
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Start and stop                                                            */

static int start(struct clusterd *c) {
        _cleanup_free_ char *db_path = NULL;
        struct http_limits lim = limits_of(c->config);
        struct repl_config rc = repl_config_of(c->config);
        /* No SIGCHLD: whoever starts a child reaps it through a pidfd
         * (clusterd_run_command, exec-int.h); a waitpid(-1) here would
         * steal their exit statuses. */
        static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
        struct err e = {};
        int r;

        if ((r = mkdir_p(c->config->state_dir, 0700)) < 0)
                return log_err_errno(r, "Cannot create the state directory '%s': %m", c->config->state_dir);
        db_path = clusterd_state_path(c, CLUSTERD_DB_FILE);
        if ((r = db_open(db_path, c->config->database.synchronous, &c->db, &e)) < 0)
                return log_err_errno(r, "%s", e.msg);

        c->loop = qb_loop_create();
        if (!c->loop)
                return log_err_errno(-ENOMEM, "Cannot create the main loop");
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                qb_loop_signal_add(c->loop, QB_LOOP_HIGH, sigs[i], c, signal_cb, NULL);
        signal(SIGPIPE, SIG_IGN);

        if ((r = repl_new(c->loop, c->db, &rc, &repl_callbacks, c, &c->repl)) < 0)
                return log_err_errno(r, "Cannot start replication: %m");
        if ((r = http_server_new(c->loop, api_handle, c, &c->http)) < 0)
                return log_err_errno(r, "Cannot start the HTTP server: %m");
        http_set_limits(c->http, &lim);
        if ((r = http_listen_local(c->http, c->config->api.socket, &lim, &e)) < 0)
                return log_err_errno(r, "%s", e.msg);
        log_notice("Serving the REST API on the local socket '%s'", c->config->api.socket);

        if ((r = exec_new(c->loop, c->config->agents.max_running, 4096, &c->exec)) < 0)
                return log_err_errno(r, "Cannot set up the agent runner: %m");
        if ((r = manager_new(c, &c->manager)) < 0 || (r = executor_new(c, &c->executor)) < 0)
                return log_err_errno(r, "Cannot set up role management: %m");

        clusterd_load_node_name(c);
        if (clusterd_configured(c)) {
                struct db_node self = {};
                if (c->node_name[0] && db_node_get(c->db, c->node_name, &self) >= 0)
                        c->self_in_db = true;
                db_node_done(&self);
                (void)clusterd_start_tcp(c);
                clusterd_connect_soon(c, 1);
        } else
                log_notice("This node is not part of a cluster yet: create one with 'clusterctl cluster create' or "
                           "join one with 'clusterctl cluster join'");
        return 0;
}

static void stop(struct clusterd *c) {
        c->stopping = true;
        if (c->connect_armed && c->loop)
                qb_loop_timer_del(c->loop, c->connect_timer);
        if (c->loop) {
                leader_done(c);
                clusterd_leave_done(c);
        }
        if (c->repl)
                clusterd_disconnect(c);
        /* Pending writes are answered before the HTTP server goes. */
        c->repl = repl_free(c->repl);
        /* Roles keep running: a restarted clusterd adopts them. */
        c->executor = executor_free(c->executor);
        c->manager = manager_free(c->manager);
        c->exec = exec_free(c->exec);
        c->http = http_server_free(c->http);
        c->db = db_close(c->db);
        membership_done(&c->live);
        if (c->loop)
                qb_loop_destroy(c->loop);
        c->loop = NULL;
}

int main(int argc, char **argv) {
        struct clusterd c = {};
        struct args a;
        int lock_fd = -1, r;

        r = parse_args(argc, argv, &a);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        log_early_init("clusterd", a.debug);
        if ((r = load_config(&a, &c.config)) < 0) {
                log_done();
                return 1;
        }
        if (a.check_config) {
                _cleanup_free_ char *text = config_format(c.config);
                fputs(text, stdout);
                config_free(c.config);
                log_done();
                return 0;
        }
        c.config_path = xstrdup(a.config);
        log_set_startup(true);
        if ((r = log_apply_config(c.config)) < 0)
                log_warning_errno(r, "Cannot open log file '%s' (%m); logging to stderr", c.config->log.file);
#if !defined(__SANITIZE_ADDRESS__)
        log_install_crash_handlers(c.config->state_dir);
#endif
        log_notice("clusterd %s starting (configuration '%s')", PACKAGE_VERSION, c.config_path);

        r = take_lock(c.config, &lock_fd);
        if (r >= 0)
                r = start(&c);
        if (r >= 0 && !a.foreground && (r = daemonize(lock_fd)) < 0)
                log_err_errno(r, "Cannot detach: %m");
        log_set_startup(false);
        if (r >= 0) {
                qb_loop_run(c.loop);
                log_notice("clusterd stopped");
        }
        stop(&c);
        config_free(c.config);
        free(c.config_path);
        safe_close(lock_fd);
        log_done();
        return r < 0 ? 1 : 0;
}
