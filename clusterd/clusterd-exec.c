/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-exec.c: agent actions as child processes on the main loop.
 *
 * Each action lives in one list, in the order it was asked for, and moves
 * through these states:
 *
 *   QUEUED -> RUNNING -> (reaped) -> reported and freed
 *      |         |
 *      |         +-> timeout: SIGTERM, grace, SIGKILL, grace -> reported
 *      |             unreaped; kept, uncounted, until the kernel lets go
 *      +-> start failed: reported from a zero timer, never from exec_run()
 *
 * The child is spawned with posix_spawn (a vfork-like clone: the parent
 * waits only until exec, and exec errors come back as the return value),
 * watched through a pidfd and reaped with waitid(P_PIDFD), so no exit
 * status is ever taken from someone else's child.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "clusterd/exec-int.h"
#include "clusterd/log.h"

#define KILL_GRACE_MIN_USEC (100 * USEC_PER_MSEC)
/* Read at most this much per wake-up, so that one chatty child cannot
 * starve the loop, and at most DRAIN_MAX once the main child has exited
 * (a daemon it left behind may keep writing). */
#define READ_CHUNK (16 * 1024)
#define READ_PER_WAKEUP (64 * 1024)
#define DRAIN_MAX (256 * 1024)
#define FREE_REAP_WAIT_USEC USEC_PER_SEC

enum state {
        STATE_QUEUED,
        STATE_RUNNING,      /* child alive (or a zombie not reaped yet) */
        STATE_START_FAILED, /* never started; the report waits on a zero timer */
};

enum kill_stage {
        KILL_NONE,
        KILL_TERM_SENT, /* grace running */
        KILL_KILL_SENT, /* second grace running, then reported unreaped */
        KILL_GAVE_UP,   /* reported (or cancelled) unreaped; waiting for the pidfd only */
};

struct action {
        struct exec *e;
        struct action *prev, *next;
        uint64_t id;
        enum state state;
        bool cancelled; /* no callback, ever */
        bool reported;  /* the callback ran (or never will) */
        bool counted;   /* holds one of max_running */

        /* The request, copied (all owned). */
        char *path;
        char **argv;
        char **envp;
        void *stdin_data;
        size_t stdin_size, stdin_done; /* bytes */
        uint64_t timeout_usec;
        size_t output_max; /* bytes */
        char *description;
        exec_done_fn done;
        void *userdata;

        pid_t pid;
        int pidfd, out_fd, in_fd;      /* owned, -1 when closed */
        uint64_t start_usec, end_usec; /* monotonic */

        qb_loop_timer_handle timer; /* timeout, kill grace, or the start-failure report */
        bool timer_armed;
        enum kill_stage kill_stage;

        /* The last output_max bytes of output, as a ring. */
        char *ring;         /* owned, output_max bytes once there is output */
        size_t ring_len;    /* bytes held */
        size_t ring_pos;    /* where the next byte goes */
        uint64_t out_total; /* bytes read in all */

        int error;       /* -errno: could not start */
        int exit_status; /* -1 unless exited */
        int signal;      /* 0 unless killed */
        bool timed_out;
};

struct exec {
        qb_loop_t *loop;
        unsigned max_running, max_queued;
        unsigned n_running, n_queued;
        struct action *head, *tail; /* every action not freed, oldest first */
        uint64_t next_id;
};

static void start_queued(struct exec *e);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */

static uint64_t kill_grace_usec(const struct action *a) {
        return MIN(EXEC_KILL_GRACE_MAX_USEC, MAX(a->timeout_usec / 4, KILL_GRACE_MIN_USEC));
}

static void timer_cb(void *data);

/* libqb timers fail only when it cannot allocate, which is fatal anywhere
 * in the daemon (as xmalloc() is). */
static void arm_timer(struct action *a, uint64_t usec) {
        if (a->timer_armed)
                qb_loop_timer_del(a->e->loop, a->timer);
        int r = qb_loop_timer_add(a->e->loop, QB_LOOP_MED, usec * NSEC_PER_USEC, a, timer_cb, &a->timer);
        if (r < 0) {
                log_err_errno(r, "Cannot add a timer for an agent action: %m");
                abort();
        }
        a->timer_armed = true;
}

static void disarm_timer(struct action *a) {
        if (a->timer_armed)
                qb_loop_timer_del(a->e->loop, a->timer);
        a->timer_armed = false;
}

static void signal_group(struct action *a, int sig) {
        /* The group id is the main child's pid; it cannot be reused while
         * the child is not reaped, which is the only time this is called. */
        if (kill(-a->pid, sig) == -1 && errno != ESRCH)
                log_warning_errno(-errno, "Cannot send SIG%s to agent process group %d ('%s'): %m", sigabbrev_np(sig),
                                  (int)a->pid, a->description);
}

/* Closes fd and forgets it in the loop. */
static void unwatch(struct action *a, int *fd) {
        if (*fd < 0)
                return;
        qb_loop_poll_del(a->e->loop, *fd);
        *fd = safe_close(*fd);
}

/* Keeps pipe ends off 0, 1 and 2, so that the child's dup2() calls cannot
 * overwrite each other when the daemon runs with a standard fd closed. */
static int fd_above_stdio(int fd) {
        if (fd > STDERR_FILENO)
                return fd;
        int n = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
        int r = n == -1 ? -errno : n;
        safe_close(fd);
        return r;
}

static int pipe_above_stdio(int ret[2]) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) == -1)
                return -errno;
        fds[0] = fd_above_stdio(fds[0]);
        fds[1] = fd_above_stdio(fds[1]);
        if (fds[0] < 0 || fds[1] < 0) {
                int r = fds[0] < 0 ? fds[0] : fds[1];
                safe_close(fds[0]);
                safe_close(fds[1]);
                return r;
        }
        ret[0] = fds[0];
        ret[1] = fds[1];
        return 0;
}

static int set_nonblock(int fd) {
        int flags = fcntl(fd, F_GETFL);
        if (flags == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1)
                return -errno;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Output                                                                    */

static void ring_append(struct action *a, const char *data, size_t n) {
        size_t cap = a->output_max;

        a->out_total += n;
        if (!a->ring)
                a->ring = xmalloc(cap);
        if (n >= cap) {
                memcpy(a->ring, data + n - cap, cap);
                a->ring_pos = 0;
                a->ring_len = cap;
                return;
        }
        size_t first = MIN(n, cap - a->ring_pos);
        memcpy(a->ring + a->ring_pos, data, first);
        memcpy(a->ring, data + first, n - first);
        a->ring_pos = (a->ring_pos + n) % cap;
        a->ring_len = MIN(cap, a->ring_len + n);
}

/* The ring in order, in a new buffer. */
static char *ring_linear(const struct action *a) {
        char *buf = xmalloc(a->ring_len + 1);
        if (a->ring_len < a->output_max)
                memcpy(buf, a->ring, a->ring_len); /* never wrapped: ring_pos == ring_len */
        else {
                size_t tail = a->output_max - a->ring_pos;
                memcpy(buf, a->ring + a->ring_pos, tail);
                memcpy(buf + tail, a->ring, a->ring_pos);
        }
        buf[a->ring_len] = '\0';
        return buf;
}

/* Reads what is there, at most max bytes. Returns 1 at end of file (or on
 * an error, which ends the output too), 0 when it would block or max was
 * reached. */
static int read_output(struct action *a, size_t max) {
        char buf[READ_CHUNK];
        size_t got = 0;

        while (got < max) {
                ssize_t n = read(a->out_fd, buf, sizeof(buf));
                if (n > 0) {
                        ring_append(a, buf, (size_t)n);
                        got += (size_t)n;
                } else if (n == 0)
                        return 1;
                else if (errno == EINTR)
                        continue;
                else if (errno == EAGAIN)
                        return 0;
                else {
                        log_debug_errno(-errno, "Reading the output of '%s' failed: %m", a->description);
                        return 1;
                }
        }
        return 0;
}

static int32_t out_cb(int32_t fd, int32_t revents, void *data) {
        struct action *a = data;
        if (read_output(a, READ_PER_WAKEUP) > 0) {
                unwatch(a, &a->out_fd);
                return -1; /* our own entry is gone */
        }
        return 0;
}

static int32_t in_cb(int32_t fd, int32_t revents, void *data) {
        struct action *a = data;

        while (a->stdin_done < a->stdin_size) {
                ssize_t n = write(a->in_fd, (const char *)a->stdin_data + a->stdin_done, a->stdin_size - a->stdin_done);
                if (n >= 0)
                        a->stdin_done += (size_t)n;
                else if (errno == EINTR)
                        continue;
                else if (errno == EAGAIN)
                        return 0;
                else {
                        /* EPIPE: it exited or closed stdin without reading
                         * everything, which is its business. */
                        log_debug_errno(-errno, "Writing to the stdin of '%s' stopped: %m", a->description);
                        break;
                }
        }
        unwatch(a, &a->in_fd);
        return -1;
}

/* ------------------------------------------------------------------------ */
/* Starting                                                                  */

static int spawn_child(struct action *a, pid_t *ret_pid, int *ret_out, int *ret_in) {
        _cleanup_close_ int out_r = -1, out_w = -1, in_r = -1, in_w = -1;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        int p[2], r;
        pid_t pid;

        if ((r = pipe_above_stdio(p)) < 0)
                return r;
        out_r = p[0];
        out_w = p[1];
        if (a->stdin_data) {
                if ((r = pipe_above_stdio(p)) < 0)
                        return r;
                in_r = p[0];
                in_w = p[1];
        }

        sigemptyset(&none);
        sigfillset(&all);
        if ((r = posix_spawn_file_actions_init(&fa)) != 0)
                return -r;
        if ((r = posix_spawnattr_init(&attr)) != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return -r;
        }
        if (in_r >= 0)
                r = posix_spawn_file_actions_adddup2(&fa, in_r, STDIN_FILENO);
        else
                r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, STDERR_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
        /* Its own process group, so that a timeout reaches whatever it
         * started; every signal at its default (SIGPIPE is ignored here)
         * and none blocked. */
        if (r == 0)
                r = posix_spawnattr_setflags(&attr,
                                             POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn(&pid, a->path, &fa, &attr, a->argv, a->envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r != 0)
                return -r;

        if ((r = set_nonblock(out_r)) < 0 || (in_w >= 0 && (r = set_nonblock(in_w)) < 0)) {
                kill(-pid, SIGKILL);
                (void)waitpid(pid, NULL, 0);
                return r;
        }
        *ret_pid = pid;
        *ret_out = TAKE_FD(out_r);
        *ret_in = TAKE_FD(in_w);
        return 0;
}

static int32_t pid_cb(int32_t fd, int32_t revents, void *data);

static int start_child(struct action *a) {
        struct exec *e = a->e;
        int r;

        r = spawn_child(a, &a->pid, &a->out_fd, &a->in_fd);
        if (r < 0)
                return r;
        a->start_usec = now_monotonic_usec();

        a->pidfd = pidfd_open(a->pid, 0);
        if (a->pidfd < 0)
                r = -errno;
        if (r >= 0)
                r = qb_loop_poll_add(e->loop, QB_LOOP_MED, a->pidfd, POLLIN, a, pid_cb);
        if (r >= 0)
                r = qb_loop_poll_add(e->loop, QB_LOOP_MED, a->out_fd, POLLIN, a, out_cb);
        if (r >= 0 && a->in_fd >= 0)
                r = qb_loop_poll_add(e->loop, QB_LOOP_MED, a->in_fd, POLLOUT, a, in_cb);
        if (r < 0) {
                /* Without a way to wait for it on the loop, take it back
                 * now: SIGKILL makes the wait short. */
                signal_group(a, SIGKILL);
                (void)waitpid(a->pid, NULL, 0);
                unwatch(a, &a->pidfd);
                unwatch(a, &a->out_fd);
                unwatch(a, &a->in_fd);
                a->pid = 0;
                return r;
        }
        arm_timer(a, a->timeout_usec);
        log_debug("Started '%s' (pid %d, timeout %" PRIu64 " ms)", a->description, (int)a->pid,
                  a->timeout_usec / USEC_PER_MSEC);
        return 0;
}

static void start(struct action *a) {
        struct exec *e = a->e;
        int r;

        a->state = STATE_RUNNING;
        a->counted = true;
        e->n_running++;
        r = start_child(a);
        if (r >= 0)
                return;
        log_debug_errno(r, "Cannot start '%s': %m", a->description);
        a->error = r;
        a->state = STATE_START_FAILED;
        a->counted = false;
        e->n_running--;
        arm_timer(a, 0);
}

static void start_queued(struct exec *e) {
        for (struct action *a = e->head; a && e->n_running < e->max_running; a = a->next)
                if (a->state == STATE_QUEUED) {
                        e->n_queued--;
                        start(a);
                }
}

/* ------------------------------------------------------------------------ */
/* Ending                                                                    */

static void unlink_action(struct action *a) {
        struct exec *e = a->e;
        if (a->prev)
                a->prev->next = a->next;
        else
                e->head = a->next;
        if (a->next)
                a->next->prev = a->prev;
        else
                e->tail = a->prev;
        a->prev = a->next = NULL;
}

static void action_free(struct action *a) {
        if (!a)
                return;
        disarm_timer(a);
        unwatch(a, &a->pidfd);
        unwatch(a, &a->out_fd);
        unwatch(a, &a->in_fd);
        free(a->path);
        strv_free(a->argv);
        strv_free(a->envp);
        free(a->stdin_data);
        free(a->description);
        free(a->ring);
        free(a);
}

static void release_slot(struct action *a) {
        if (a->counted) {
                a->counted = false;
                a->e->n_running--;
        }
}

/* Runs the callback once, unless cancelled. */
static void report(struct action *a) {
        _cleanup_free_ char *raw = NULL, *text = NULL;

        if (a->reported || a->cancelled) {
                a->reported = true;
                return;
        }
        a->reported = true;
        raw = a->ring ? ring_linear(a) : xstrdup("");
        size_t skip = 0;
        if (a->out_total > a->ring_len)
                /* Cut in the middle of a character: drop its tail too. */
                while (skip < a->ring_len && skip < 3 && ((unsigned char)raw[skip] & 0xc0) == 0x80)
                        skip++;
        text = exec_sanitize_output(raw + skip, a->ring_len - skip);

        struct exec_result r = {
                .error = a->error,
                .exit_status = a->exit_status,
                .signal = a->signal,
                .timed_out = a->timed_out,
                .reaped = a->kill_stage < KILL_GAVE_UP,
                .pid = a->pid,
                .duration_usec = a->start_usec ? (a->end_usec ?: now_monotonic_usec()) - a->start_usec : 0,
                .output = text,
                .output_dropped = a->out_total - a->ring_len + skip,
        };
        a->done(a->id, &r, a->userdata);
}

/* The main child exited and was reaped: take what it wrote, report, free. */
static void finish(struct action *a) {
        struct exec *e = a->e;

        disarm_timer(a);
        if (a->out_fd >= 0)
                (void)read_output(a, DRAIN_MAX);
        unwatch(a, &a->out_fd);
        unwatch(a, &a->in_fd);
        unwatch(a, &a->pidfd);
        release_slot(a);
        unlink_action(a);
        report(a);
        action_free(a);
        start_queued(e);
}

static int32_t pid_cb(int32_t fd, int32_t revents, void *data) {
        struct action *a = data;
        siginfo_t si = {};

        /* Whatever it left of its group after a timeout or a cancel goes
         * too, while the unreaped child still holds the group id. */
        if (a->kill_stage != KILL_NONE)
                signal_group(a, SIGKILL);
        if (waitid(P_PIDFD, (id_t)fd, &si, WEXITED | WNOHANG) == -1) {
                if (errno == EINTR)
                        return 0;
                /* ECHILD: someone reaped it behind our back (SIGCHLD set to
                 * SIG_IGN, or a stray waitpid(-1)). */
                log_warning_errno(-errno, "Cannot reap agent process %d ('%s'): %m", (int)a->pid, a->description);
                a->error = a->error ?: -errno;
        } else if (si.si_pid == 0)
                return 0; /* not yet */
        else if (si.si_code == CLD_EXITED)
                a->exit_status = si.si_status;
        else
                a->signal = si.si_status;
        a->end_usec = now_monotonic_usec();
        if (a->kill_stage == KILL_GAVE_UP)
                log_info("Agent process %d ('%s') that outlived SIGKILL is gone now", (int)a->pid, a->description);
        /* finish() frees a and removes this fd's entry: tell libqb. */
        finish(a);
        return -1;
}

static void timer_cb(void *data) {
        struct action *a = data;
        struct exec *e = a->e;

        a->timer_armed = false;
        if (a->state == STATE_START_FAILED) {
                unlink_action(a);
                report(a);
                action_free(a);
                start_queued(e);
                return;
        }
        switch (a->kill_stage) {
        case KILL_NONE:
                a->timed_out = true;
                log_debug("'%s' (pid %d) timed out; sending SIGTERM to its process group", a->description, (int)a->pid);
                signal_group(a, SIGTERM);
                a->kill_stage = KILL_TERM_SENT;
                arm_timer(a, kill_grace_usec(a));
                break;
        case KILL_TERM_SENT:
                log_debug("'%s' (pid %d) is still there; sending SIGKILL to its process group", a->description,
                          (int)a->pid);
                signal_group(a, SIGKILL);
                a->kill_stage = KILL_KILL_SENT;
                arm_timer(a, kill_grace_usec(a));
                break;
        case KILL_KILL_SENT:
                /* Stuck in the kernel (D state). Report now and keep the
                 * pidfd to reap it whenever it goes; it no longer takes a
                 * slot, or one stuck mount could stop every agent. */
                log_warning("Agent process %d ('%s') did not die from SIGKILL; reporting it as timed out and "
                            "reaping it when the kernel lets go",
                            (int)a->pid, a->description);
                a->kill_stage = KILL_GAVE_UP;
                release_slot(a);
                report(a);
                start_queued(e);
                break;
        case KILL_GAVE_UP:
                break;
        }
}

/* ------------------------------------------------------------------------ */
/* Interface                                                                 */

int exec_new(qb_loop_t *loop, unsigned max_running, unsigned max_queued, struct exec **ret) {
        if (!loop || max_running == 0 || !ret)
                return -EINVAL;
        struct exec *e = xcalloc(1, sizeof(*e));
        e->loop = loop;
        e->max_running = max_running;
        e->max_queued = max_queued;
        e->next_id = 1;
        *ret = e;
        return 0;
}

struct exec *exec_free(struct exec *e) {
        if (!e)
                return NULL;

        /* SIGKILL to everything first, then wait for all of them together. */
        for (struct action *a = e->head; a; a = a->next)
                if (a->state == STATE_RUNNING && a->pidfd >= 0)
                        signal_group(a, SIGKILL);
        uint64_t deadline = now_monotonic_usec() + FREE_REAP_WAIT_USEC;
        while (e->head) {
                struct action *a = e->head;
                if (a->state == STATE_RUNNING && a->pidfd >= 0) {
                        uint64_t now = now_monotonic_usec();
                        int ms = now < deadline ? (int)((deadline - now + 999) / 1000) : 0;
                        struct pollfd p = { .fd = a->pidfd, .events = POLLIN };
                        siginfo_t si = {};
                        if (poll(&p, 1, ms) <= 0 || waitid(P_PIDFD, (id_t)a->pidfd, &si, WEXITED | WNOHANG) == -1 ||
                            si.si_pid == 0)
                                log_warning("Agent process %d ('%s') did not die from SIGKILL; leaving it behind",
                                            (int)a->pid, a->description);
                }
                unlink_action(a);
                action_free(a);
        }
        free(e);
        return NULL;
}

static bool env_valid(char *const *env) {
        for (char *const *p = env; p && *p; p++)
                if (!strchr(*p, '=') || **p == '=')
                        return false;
        return true;
}

static bool env_has_path(char *const *env) {
        for (char *const *p = env; p && *p; p++)
                if (startswith(*p, "PATH="))
                        return true;
        return false;
}

int exec_run(struct exec *e, const struct exec_request *req, exec_done_fn done, void *userdata, uint64_t *ret_id) {
        if (!e || !req || !done || !req->path || req->path[0] != '/' || req->timeout_usec == 0 ||
            req->stdin_size > EXEC_STDIN_MAX || (req->stdin_size > 0 && !req->stdin_data) ||
            req->output_max > EXEC_OUTPUT_MAX || !env_valid(req->env))
                return -EINVAL;
        bool must_queue = e->n_queued > 0 || e->n_running >= e->max_running;
        if (must_queue && e->n_queued >= e->max_queued)
                return -EBUSY;

        struct action *a = xcalloc(1, sizeof(*a));
        a->e = e;
        a->id = e->next_id++;
        a->path = xstrdup(req->path);
        strv_push(&a->argv, req->path);
        for (char *const *p = req->args; p && *p; p++)
                strv_push(&a->argv, *p);
        a->envp = strv_copy(req->env);
        if (!a->envp)
                a->envp = xcalloc(1, sizeof(char *));
        if (!env_has_path(a->envp))
                strv_push(&a->envp, EXEC_DEFAULT_PATH);
        if (req->stdin_data) {
                a->stdin_data = xmalloc(MAX(req->stdin_size, 1));
                memcpy(a->stdin_data, req->stdin_data, req->stdin_size);
                a->stdin_size = req->stdin_size;
        }
        a->timeout_usec = req->timeout_usec;
        a->output_max = req->output_max ?: EXEC_OUTPUT_DEFAULT;
        a->description = xstrdup(req->description ?: req->path);
        a->done = done;
        a->userdata = userdata;
        a->pidfd = a->out_fd = a->in_fd = -1;
        a->exit_status = -1;

        a->prev = e->tail;
        if (e->tail)
                e->tail->next = a;
        else
                e->head = a;
        e->tail = a;

        if (ret_id)
                *ret_id = a->id;
        if (must_queue) {
                a->state = STATE_QUEUED;
                e->n_queued++;
        } else
                start(a);
        return 0;
}

int exec_cancel(struct exec *e, uint64_t id) {
        struct action *a;

        for (a = e->head; a; a = a->next)
                if (a->id == id)
                        break;
        if (!a || a->cancelled || a->reported)
                return -ESRCH;
        a->cancelled = true;
        switch (a->state) {
        case STATE_QUEUED:
                e->n_queued--;
                unlink_action(a);
                action_free(a);
                break;
        case STATE_START_FAILED:
                unlink_action(a);
                action_free(a);
                break;
        case STATE_RUNNING:
                log_debug("Cancelling '%s' (pid %d)", a->description, (int)a->pid);
                if (a->kill_stage == KILL_NONE) {
                        signal_group(a, SIGTERM);
                        a->kill_stage = KILL_TERM_SENT;
                        arm_timer(a, kill_grace_usec(a));
                }
                break;
        }
        return 0;
}

unsigned exec_running(const struct exec *e) {
        return e->n_running;
}

unsigned exec_queued(const struct exec *e) {
        return e->n_queued;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

const char *exec_ocf_name(int code) {
        switch (code) {
        case OCF_SUCCESS:
                return "success";
        case OCF_ERR_GENERIC:
                return "generic error";
        case OCF_ERR_ARGS:
                return "invalid arguments";
        case OCF_ERR_UNIMPLEMENTED:
                return "unimplemented";
        case OCF_ERR_PERM:
                return "insufficient privileges";
        case OCF_ERR_INSTALLED:
                return "not installed";
        case OCF_ERR_CONFIGURED:
                return "not configured";
        case OCF_NOT_RUNNING:
                return "not running";
        case OCF_RUNNING_PROMOTED:
                return "running promoted";
        case OCF_FAILED_PROMOTED:
                return "failed promoted";
        case OCF_DEGRADED:
                return "degraded";
        case OCF_DEGRADED_PROMOTED:
                return "degraded promoted";
        default:
                return "unknown exit code";
        }
}

enum exec_class exec_ocf_class(int code) {
        switch (code) {
        case OCF_SUCCESS:
        case OCF_DEGRADED:
                return EXEC_CLASS_SUCCESS;
        case OCF_NOT_RUNNING:
                return EXEC_CLASS_NOT_RUNNING;
        case OCF_ERR_ARGS:
        case OCF_ERR_UNIMPLEMENTED:
        case OCF_ERR_PERM:
        case OCF_ERR_INSTALLED:
                return EXEC_CLASS_NODE_ERROR;
        case OCF_ERR_CONFIGURED:
                return EXEC_CLASS_CONFIG_ERROR;
        default:
                /* Generic errors, the promotable codes (roles here are not
                 * promotable) and anything an agent made up. */
                return EXEC_CLASS_ERROR;
        }
}

enum exec_class exec_result_class(const struct exec_result *r) {
        if (r->error < 0)
                switch (r->error) {
                case -ENOENT:
                case -ENOTDIR:
                case -EACCES:
                case -EPERM:
                case -ENOEXEC:
                case -ELOOP:
                        return EXEC_CLASS_NODE_ERROR; /* the agent is missing or unusable here */
                default:
                        return EXEC_CLASS_ERROR; /* out of processes, fds, memory: may pass */
                }
        if (r->timed_out || r->signal != 0 || r->exit_status < 0)
                return EXEC_CLASS_ERROR;
        return exec_ocf_class(r->exit_status);
}

const char *exec_class_name(enum exec_class c) {
        switch (c) {
        case EXEC_CLASS_SUCCESS:
                return "success";
        case EXEC_CLASS_NOT_RUNNING:
                return "not running";
        case EXEC_CLASS_ERROR:
                return "error";
        case EXEC_CLASS_NODE_ERROR:
                return "node error";
        case EXEC_CLASS_CONFIG_ERROR:
                return "configuration error";
        }
        return "error";
}

char *exec_result_format(const struct exec_result *r, char *buf, size_t size) {
        char d[32];
        const char *sig = r->signal > 0 ? sigabbrev_np(r->signal) : NULL;

        format_duration(d, sizeof(d), r->duration_usec);
        if (r->error < 0)
                snprintf(buf, size, "cannot start: %s", strerror(-r->error));
        else if (!r->reaped)
                snprintf(buf, size, "timed out after %s and did not die from SIGKILL", d);
        else if (r->signal > 0)
                snprintf(buf, size, "killed by SIG%s after %s%s", sig ?: "?", r->timed_out ? "timing out in " : "", d);
        else
                snprintf(buf, size, "exit %d (%s) after %s%s", r->exit_status, exec_ocf_name(r->exit_status),
                         r->timed_out ? "timing out in " : "", d);
        return buf;
}

/* Length of the well-formed UTF-8 sequence at s (n bytes left) and its
 * code point, or 0 when it is not one (overlong, surrogate, > U+10FFFF,
 * truncated). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *ret_cp) {
        size_t len;
        uint32_t cp, min;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        } else if (s[0] >= 0xc2 && s[0] <= 0xdf) {
                len = 2, cp = s[0] & 0x1f, min = 0x80;
        } else if (s[0] >= 0xe0 && s[0] <= 0xef) {
                len = 3, cp = s[0] & 0x0f, min = 0x800;
        } else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
                len = 4, cp = s[0] & 0x07, min = 0x10000;
        } else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                return 0;
        *ret_cp = cp;
        return len;
}

char *exec_sanitize_output(const void *data, size_t size) {
        static const char replacement[] = "\xef\xbf\xbd"; /* U+FFFD */
        const unsigned char *s = data;
        /* Every input byte turns into at most the 3 bytes of U+FFFD. */
        char *out = xmalloc(size * 3 + 1);
        size_t o = 0;

        for (size_t i = 0; i < size;) {
                uint32_t cp;
                size_t len = utf8_decode(s + i, size - i, &cp);
                if (len == 0) {
                        memcpy(out + o, replacement, 3);
                        o += 3;
                        i++;
                        continue;
                }
                if (cp == '\r' && i + 1 < size && s[i + 1] == '\n') {
                        i++; /* CRLF line ends read as LF */
                        continue;
                }
                if ((cp < 0x20 && cp != '\n' && cp != '\t') || (cp >= 0x7f && cp <= 0x9f)) {
                        memcpy(out + o, replacement, 3);
                        o += 3;
                } else {
                        memcpy(out + o, s + i, len);
                        o += len;
                }
                i += len;
        }
        while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == '\t'))
                o--;
        out[o] = '\0';
        return out;
}
