/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-watchdog.c: a watchdog process for machines without a watchdog
 * device. clusterd arms it over a unix stream socket and pets it; when a
 * deadline passes while it is armed, it resets the node with its action:
 *
 *   kill-netns NAME   SIGKILL to every process in network namespace NAME
 *                     (what `ip netns pids NAME` lists); NAME may also be
 *                     the absolute path of a namespace file
 *                     (/proc/PID/ns/net). The watchdog runs outside the
 *                     node's namespaces, as a hardware watchdog sits
 *                     outside the OS, so killing the node does not stop it.
 *   command CMD       runs CMD with /bin/sh -c ("echo b > /proc/sysrq-trigger").
 *
 * Protocol, one request per line, each answered with one line:
 *
 *   arm MS     deadline = now + MS (clamped to --timeout-max)  "ok armed MS"
 *   pet        deadline = now + the armed timeout              "ok"
 *   disarm     no deadline                                     "ok disarmed"
 *   status                      "ok armed MS remaining MS fired N" / "ok disarmed fired N"
 *
 * Anything else gets "error ..." and changes nothing. There is one
 * deadline, whichever client set it. A client that disconnects without
 * "disarm" (clusterd crashed) leaves the deadline running. After firing it
 * is disarmed and keeps serving: the node may come back and arm it again.
 *
 * One thread, one poll loop; every socket is non-blocking and answers that
 * do not fit in a client's socket buffer are dropped, so no client can stall
 * it. SIGTERM and SIGINT stop it; children of the command action are reaped
 * here (this process has no others).
 */
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "clusterd/log.h"

#define MAX_CLIENTS 16
#define LINE_SIZE 128
#define READ_PER_WAKEUP (16 * 1024)
#define DEFAULT_TIMEOUT_MAX_USEC (60 * USEC_PER_SEC)
#define KILL_PASSES 5

enum action {
        ACTION_KILL_NETNS,
        ACTION_COMMAND,
};

struct client {
        int fd; /* owned; -1 for a free slot */
        char line[LINE_SIZE];
        size_t len;
        bool junk;       /* this line has unprintable bytes */
        bool discarding; /* this line was too long: drop until newline */
        bool warned;     /* a refused request was logged at warning level */
        bool holds;      /* it armed or petted the deadline that runs now */
        unsigned id;     /* for logs */
};

struct wd {
        const char *socket_path;
        uint64_t timeout_max_usec;
        enum action action;
        const char *action_arg;

        int listen_fd, signal_fd; /* owned */
        struct client clients[MAX_CLIENTS];
        unsigned next_client_id;

        bool armed;
        uint64_t timeout_usec;  /* of the last arm */
        uint64_t deadline_usec; /* monotonic */
        uint64_t last_usec;     /* monotonic; last arm or pet */
        unsigned fired;
        bool stop;
};

/* ------------------------------------------------------------------------ */
/* Arguments                                                                 */

static void usage(FILE *f) {
        fprintf(f, "Usage: clusterd-watchdog --socket PATH --action ACTION [OPTIONS]\n\n"
                   "A watchdog process for nodes without a watchdog device: clusterd arms it\n"
                   "and pets it over PATH; when a deadline passes while it is armed it resets\n"
                   "the node with ACTION.\n\n"
                   "  -s, --socket PATH         unix stream socket to listen on (created 0600)\n"
                   "  -a, --action ACTION       'kill-netns NAME': SIGKILL every process in network\n"
                   "                            namespace NAME (or /path/to/a/netns/file);\n"
                   "                            'command CMD': run CMD with /bin/sh -c.\n"
                   "                            The two words may also be two arguments.\n"
                   "  -t, --timeout-max TIME    longest timeout a client may arm (default 60s);\n"
                   "                            longer ones are shortened to it\n"
                   "  -d, --debug               log every request\n"
                   "  -h, --help                show this help\n"
                   "      --version             show the version\n\n"
                   "Protocol lines: 'arm MS', 'pet', 'disarm', 'status'. Signals: TERM stops.\n");
}

static int parse_action(struct wd *w, const char *word, const char *arg) {
        if (!arg || !*arg) {
                fprintf(stderr, "clusterd-watchdog: action '%s' needs an argument\n", word);
                return -EINVAL;
        }
        if (streq(word, "kill-netns")) {
                if ((arg[0] != '/' && strchr(arg, '/')) || streq(arg, ".") || streq(arg, "..") || strlen(arg) > 255) {
                        fprintf(stderr, "clusterd-watchdog: invalid network namespace name '%s'\n", arg);
                        return -EINVAL;
                }
                w->action = ACTION_KILL_NETNS;
        } else if (streq(word, "command"))
                w->action = ACTION_COMMAND;
        else {
                fprintf(stderr, "clusterd-watchdog: unknown action '%s' (known: kill-netns, command)\n", word);
                return -EINVAL;
        }
        w->action_arg = arg;
        return 0;
}

static int parse_args(int argc, char **argv, struct wd *w, bool *ret_debug) {
        enum { OPT_VERSION = 0x100 };
        static const struct option opts[] = {
                { "socket", required_argument, NULL, 's' },
                { "action", required_argument, NULL, 'a' },
                { "timeout-max", required_argument, NULL, 't' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, OPT_VERSION },
                {},
        };
        _cleanup_free_ char *word = NULL;
        const char *arg = NULL;
        int o, r;

        /* "+": no reordering, so that the second word of a two-word action
         * is simply the next argument. */
        while ((o = getopt_long(argc, argv, "+s:a:t:dh", opts, NULL)) != -1)
                switch (o) {
                case 's':
                        w->socket_path = optarg;
                        break;
                case 'a': {
                        const char *space = strchr(optarg, ' ');
                        free(word);
                        if (space) {
                                word = xstrndup(optarg, (size_t)(space - optarg));
                                arg = space + strspn(space, " ");
                        } else {
                                word = xstrdup(optarg);
                                arg = optind < argc ? argv[optind++] : NULL;
                        }
                        break;
                }
                case 't':
                        if (parse_duration_usec(optarg, &w->timeout_max_usec) < 0 || w->timeout_max_usec == 0) {
                                fprintf(stderr, "clusterd-watchdog: invalid --timeout-max '%s'\n", optarg);
                                return -EINVAL;
                        }
                        break;
                case 'd':
                        *ret_debug = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case OPT_VERSION:
                        printf("clusterd-watchdog %s\n", PACKAGE_VERSION);
                        return 0;
                default:
                        fprintf(stderr, "Try 'clusterd-watchdog --help'.\n");
                        return -EINVAL;
                }
        if (optind < argc) {
                fprintf(stderr, "clusterd-watchdog: unexpected argument '%s'\n", argv[optind]);
                return -EINVAL;
        }
        if (!w->socket_path || !word) {
                fprintf(stderr,
                        "clusterd-watchdog: --socket and --action are required\nTry 'clusterd-watchdog --help'.\n");
                return -EINVAL;
        }
        if ((r = parse_action(w, word, arg)) < 0)
                return r;
        return 1;
}

/* ------------------------------------------------------------------------ */
/* Resetting the node                                                        */

/* What `ip netns pids NAME` does: every process whose network namespace is
 * the one bound at /run/netns/NAME (or at NAME, a path). Repeated a few
 * times, for processes that forked while we were looking. */
static void kill_netns(const char *name) {
        _cleanup_free_ char *path = name[0] == '/' ? xstrdup(name) : xasprintf("/run/netns/%s", name);
        struct stat ns;
        unsigned total = 0, last = 0;

        if (stat(path, &ns) == -1) {
                log_err_errno(-errno, "Cannot find network namespace '%s' ('%s': %m); nothing killed", name, path);
                return;
        }
        for (int pass = 0; pass < KILL_PASSES; pass++) {
                DIR *d = opendir("/proc");
                struct dirent *de;

                if (!d) {
                        log_err_errno(-errno, "Cannot list /proc: %m");
                        return;
                }
                last = 0;
                while ((de = readdir(d))) {
                        char nspath[64];
                        struct stat st;
                        uint32_t pid;

                        if (parse_uint32(de->d_name, &pid) < 0 || pid == 0 || (pid_t)pid == getpid())
                                continue;
                        snprintf(nspath, sizeof(nspath), "/proc/%" PRIu32 "/ns/net", pid);
                        if (stat(nspath, &st) == -1 || st.st_dev != ns.st_dev || st.st_ino != ns.st_ino)
                                continue;
                        if (kill((pid_t)pid, SIGKILL) == 0)
                                last++;
                }
                closedir(d);
                total += last;
                if (last == 0)
                        break;
                /* Give the dying a moment to leave the namespace. */
                nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
        if (last > 0)
                log_error("Processes are still appearing in network namespace '%s' after %d passes", name, KILL_PASSES);
        log_notice("Killed the processes in network namespace '%s' (%u SIGKILLs sent)", name, total);
}

static void run_command(const char *command) {
        char *argv[] = { (char *)"sh", (char *)"-c", (char *)command, NULL };
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        pid_t pid;
        int r;

        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_init(&fa)) != 0) {
                log_err_errno(-r, "Cannot run '%s': %m", command);
                return;
        }
        if ((r = posix_spawnattr_init(&attr)) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                log_err_errno(-r, "Cannot run '%s': %m", command);
                return;
        }
        r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
        /* Our blocked signals and SIGPIPE's SIG_IGN are not the command's. */
        if (r == 0)
                r = posix_spawnattr_setflags(&attr,
                                             POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSID);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                log_err_errno(-r, "Cannot run '%s': %m", command);
        else
                log_notice("Started '%s' (pid %d)", command, (int)pid);
}

/* Nobody holds a deadline any more (disarmed or fired). */
static void release_all(struct wd *w) {
        for (size_t i = 0; i < MAX_CLIENTS; i++)
                w->clients[i].holds = false;
}

static void fire(struct wd *w, uint64_t now) {
        log_error("Deadline passed %" PRIu64 " ms ago (armed with %" PRIu64 " ms, last arm or pet %" PRIu64
                  " ms ago): resetting the node with '%s %s'",
                  (now - w->deadline_usec) / USEC_PER_MSEC, w->timeout_usec / USEC_PER_MSEC,
                  (now - w->last_usec) / USEC_PER_MSEC, w->action == ACTION_KILL_NETNS ? "kill-netns" : "command",
                  w->action_arg);
        w->armed = false;
        w->fired++;
        release_all(w);
        if (w->action == ACTION_KILL_NETNS)
                kill_netns(w->action_arg);
        else
                run_command(w->action_arg);
        log_notice("Disarmed after firing; waiting for the node to arm it again");
}

/* ------------------------------------------------------------------------ */
/* Clients                                                                   */

static void reply(struct client *c, const char *fmt, ...) _printf_(2, 3);
static void reply(struct client *c, const char *fmt, ...) {
        char buf[LINE_SIZE];
        va_list ap;

        va_start(ap, fmt);
        int n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
        va_end(ap);
        n = MIN(MAX(n, 0), (int)sizeof(buf) - 2);
        buf[n++] = '\n';
        /* A client that does not read its answers loses them; we never
         * wait for one. */
        (void)send(c->fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

static void refuse(struct client *c, const char *why) {
        if (!c->warned)
                log_warning("Refused a request from client %u: %s (further ones are logged at debug level)", c->id,
                            why);
        else
                log_debug("Refused a request from client %u: %s", c->id, why);
        c->warned = true;
        reply(c, "error %s", why);
}

static void handle_line(struct wd *w, struct client *c, const char *line) {
        uint64_t now = now_monotonic_usec(), ms;
        const char *arg;

        if (streq(line, "pet")) {
                if (!w->armed) {
                        refuse(c, "not armed");
                        return;
                }
                log_debug("Petted by client %u (%" PRIu64 " ms before the deadline)", c->id,
                          w->deadline_usec > now ? (w->deadline_usec - now) / USEC_PER_MSEC : 0);
                w->deadline_usec = now + w->timeout_usec;
                w->last_usec = now;
                c->holds = true;
                reply(c, "ok");
        } else if ((arg = startswith(line, "arm "))) {
                if (parse_uint64(arg, &ms) < 0 || ms == 0 || ms > UINT64_MAX / USEC_PER_MSEC) {
                        refuse(c, "arm needs a timeout in milliseconds > 0");
                        return;
                }
                uint64_t t = ms * USEC_PER_MSEC;
                if (t > w->timeout_max_usec) {
                        log_warning("Client %u asked for a %" PRIu64 " ms timeout; using the maximum, %" PRIu64 " ms",
                                    c->id, ms, w->timeout_max_usec / USEC_PER_MSEC);
                        t = w->timeout_max_usec;
                }
                if (!w->armed || t != w->timeout_usec)
                        log_notice("Armed by client %u with %" PRIu64 " ms", c->id, t / USEC_PER_MSEC);
                w->armed = true;
                w->timeout_usec = t;
                w->deadline_usec = now + t;
                w->last_usec = now;
                c->holds = true;
                reply(c, "ok armed %" PRIu64, t / USEC_PER_MSEC);
        } else if (streq(line, "disarm")) {
                if (w->armed)
                        log_notice("Disarmed by client %u", c->id);
                w->armed = false;
                release_all(w);
                reply(c, "ok disarmed");
        } else if (streq(line, "status")) {
                if (w->armed)
                        reply(c, "ok armed %" PRIu64 " remaining %" PRIu64 " fired %u", w->timeout_usec / USEC_PER_MSEC,
                              w->deadline_usec > now ? (w->deadline_usec - now) / USEC_PER_MSEC : 0, w->fired);
                else
                        reply(c, "ok disarmed fired %u", w->fired);
        } else
                refuse(c, "unknown request (known: arm MS, pet, disarm, status)");
}

static void client_close(struct wd *w, struct client *c) {
        if (w->armed && c->holds)
                log_warning("Client %u went away without disarming; the deadline keeps running (%" PRIu64 " ms left)",
                            c->id,
                            w->deadline_usec > now_monotonic_usec()
                                    ? (w->deadline_usec - now_monotonic_usec()) / USEC_PER_MSEC
                                    : 0);
        else
                log_debug("Client %u went away", c->id);
        c->fd = safe_close(c->fd);
}

static void client_feed(struct wd *w, struct client *c, const char *data, size_t n) {
        for (size_t i = 0; i < n; i++) {
                unsigned char b = (unsigned char)data[i];
                if (b == '\n') {
                        if (c->len > 0 && c->line[c->len - 1] == '\r')
                                c->len--;
                        c->line[c->len] = '\0';
                        if (c->discarding)
                                ; /* already answered */
                        else if (c->junk)
                                refuse(c, "unprintable characters in request");
                        else
                                handle_line(w, c, c->line);
                        c->len = 0;
                        c->junk = c->discarding = false;
                } else if (c->discarding)
                        continue;
                else if (c->len >= LINE_SIZE - 1) {
                        refuse(c, "request too long");
                        c->discarding = true;
                } else {
                        if ((b < 0x20 && b != '\r') || b >= 0x7f)
                                c->junk = true;
                        c->line[c->len++] = (char)b;
                }
        }
}

static void client_read(struct wd *w, struct client *c) {
        char buf[4096];
        size_t got = 0;

        while (got < READ_PER_WAKEUP) {
                ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0) {
                        client_feed(w, c, buf, (size_t)n);
                        got += (size_t)n;
                } else if (n == -1 && errno == EINTR)
                        continue;
                else if (n == -1 && errno == EAGAIN)
                        return;
                else {
                        client_close(w, c);
                        return;
                }
        }
}

static void accept_clients(struct wd *w) {
        for (;;) {
                int fd = accept4(w->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                        if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                                log_warning_errno(-errno, "Cannot accept a client: %m");
                        return;
                }
                struct client *c = NULL;
                for (size_t i = 0; i < MAX_CLIENTS; i++)
                        if (w->clients[i].fd < 0) {
                                c = &w->clients[i];
                                break;
                        }
                if (!c) {
                        log_warning("Refused a client: %d clients are connected already", MAX_CLIENTS);
                        safe_close(fd);
                        continue;
                }
                *c = (struct client){ .fd = fd, .id = ++w->next_client_id };
                log_debug("Client %u connected", c->id);
        }
}

/* ------------------------------------------------------------------------ */
/* Setup and the loop                                                        */

static int listen_on(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (strlen(path) >= sizeof(sa.sun_path))
                return log_err_errno(-ENAMETOOLONG, "Socket path '%s' is too long", path);
        strcpy(sa.sun_path, path);
        if (lstat(path, &st) == 0) {
                if (!S_ISSOCK(st.st_mode))
                        return log_err_errno(-EEXIST, "'%s' exists and is not a socket; not replacing it", path);
                (void)unlink(path); /* a stale socket from an earlier run */
        }
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_err_errno(-errno, "Cannot create a socket: %m");
        mode_t old = umask(0077);
        int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
        umask(old);
        if (r == -1)
                return log_err_errno(-errno, "Cannot bind to '%s': %m", path);
        if (listen(fd, MAX_CLIENTS) == -1)
                return log_err_errno(-errno, "Cannot listen on '%s': %m", path);
        return TAKE_FD(fd);
}

static void handle_signals(struct wd *w) {
        struct signalfd_siginfo si;

        while (read(w->signal_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                        log_notice("Stopping (signal %s)%s", sigabbrev_np((int)si.ssi_signo),
                                   w->armed ? "; it was armed, and nothing will reset the node now" : "");
                        w->stop = true;
                } else if (si.ssi_signo == SIGCHLD) {
                        int status;
                        pid_t pid;
                        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                                if (WIFEXITED(status))
                                        log_notice("Action command (pid %d) exited with status %d", (int)pid,
                                                   WEXITSTATUS(status));
                                else
                                        log_notice("Action command (pid %d) was killed by signal %d", (int)pid,
                                                   WIFSIGNALED(status) ? WTERMSIG(status) : 0);
                        }
                }
        }
}

static void run(struct wd *w) {
        struct pollfd pfds[2 + MAX_CLIENTS];
        struct client *owner[2 + MAX_CLIENTS];

        while (!w->stop) {
                size_t n = 0;
                int timeout_ms = -1;

                pfds[n++] = (struct pollfd){ .fd = w->signal_fd, .events = POLLIN };
                pfds[n++] = (struct pollfd){ .fd = w->listen_fd, .events = POLLIN };
                for (size_t i = 0; i < MAX_CLIENTS; i++)
                        if (w->clients[i].fd >= 0) {
                                owner[n] = &w->clients[i];
                                pfds[n++] = (struct pollfd){ .fd = w->clients[i].fd, .events = POLLIN };
                        }
                if (w->armed) {
                        uint64_t now = now_monotonic_usec();
                        timeout_ms =
                                w->deadline_usec > now ? (int)MIN((w->deadline_usec - now + 999) / 1000, INT32_MAX) : 0;
                }

                if (poll(pfds, n, timeout_ms) == -1 && errno != EINTR) {
                        log_err_errno(-errno, "poll() failed: %m");
                        nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
                }
                /* Requests that arrived before a SIGTERM are served first
                 * (a clean stop may disarm and then stop us). */
                for (size_t i = 2; i < n; i++)
                        if (pfds[i].revents && owner[i]->fd == pfds[i].fd)
                                client_read(w, owner[i]);
                if (pfds[1].revents)
                        accept_clients(w);
                if (pfds[0].revents)
                        handle_signals(w);

                uint64_t now = now_monotonic_usec();
                if (w->armed && now >= w->deadline_usec)
                        fire(w, now);
        }
}

int main(int argc, char **argv) {
        struct wd w = { .timeout_max_usec = DEFAULT_TIMEOUT_MAX_USEC, .listen_fd = -1, .signal_fd = -1 };
        bool debug = false;
        sigset_t mask;
        int r;

        for (size_t i = 0; i < MAX_CLIENTS; i++)
                w.clients[i].fd = -1;
        r = parse_args(argc, argv, &w, &debug);
        if (r <= 0)
                return r < 0 ? 2 : 0;
        log_early_init("clusterd-watchdog", debug);

        signal(SIGPIPE, SIG_IGN);
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        w.signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
        if (w.signal_fd < 0) {
                log_err_errno(-errno, "Cannot create a signalfd: %m");
                log_done();
                return 1;
        }
        w.listen_fd = listen_on(w.socket_path);
        if (w.listen_fd < 0) {
                safe_close(w.signal_fd);
                log_done();
                return 1;
        }
        log_notice("Listening on '%s' (timeouts up to %" PRIu64 " ms; action '%s %s')", w.socket_path,
                   w.timeout_max_usec / USEC_PER_MSEC, w.action == ACTION_KILL_NETNS ? "kill-netns" : "command",
                   w.action_arg);

        run(&w);

        for (size_t i = 0; i < MAX_CLIENTS; i++)
                safe_close(w.clients[i].fd);
        safe_close(w.listen_fd);
        (void)unlink(w.socket_path);
        safe_close(w.signal_fd);
        log_notice("clusterd-watchdog stopped");
        log_done();
        return 0;
}
