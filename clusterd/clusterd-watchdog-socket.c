/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-watchdog-socket.c: a watchdog kept by an external process
 * (clusterd-watchdog) that listens on a unix stream socket, for machines
 * without a watchdog device.
 *
 * Protocol: one line per request, "arm MILLISECONDS", "pet", "disarm"; the
 * process answers each with a line ("ok ...", "error ..."), which we read
 * and drop without waiting (the requests we send are well-formed). The
 * connection closing without "disarm" is what a crash looks like: the
 * deadline keeps running on the other side.
 *
 * The socket is non-blocking. A request is a few bytes; if the other side
 * does not take them within WATCHDOG_SOCKET_SEND_TIMEOUT_USEC the call
 * fails. A broken connection (the watchdog process restarted) is replaced
 * once per call, and if we are armed the new process is armed first, since
 * it knows nothing of the old deadline.
 */
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "clusterd/watchdog-int.h"

#define LINE_MAX_SIZE 64

struct sock {
        char *path;            /* owned */
        int fd;                /* owned; -1 while disconnected */
        bool armed;            /* as far as we asked */
        uint64_t timeout_usec; /* the last armed timeout, in whole milliseconds */
};

static int sock_connect(struct sock *s) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;

        s->fd = safe_close(s->fd);
        if (strlen(s->path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, s->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return -errno;
        /* A unix socket connects at once or not at all (EAGAIN: its
         * backlog is full), so a non-blocking connect never waits. */
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
                return -errno;
        s->fd = TAKE_FD(fd);
        return 0;
}

/* Reads and drops the answers that arrived. -EPIPE when the other side
 * has closed. */
static int drain(struct sock *s) {
        char buf[256];
        for (;;) {
                ssize_t n = recv(s->fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0)
                        continue;
                if (n == 0)
                        return -EPIPE;
                if (errno == EINTR)
                        continue;
                if (errno == EAGAIN)
                        return 0;
                return -errno;
        }
}

static int send_bounded(int fd, const char *line) {
        size_t len = strlen(line), done = 0;
        uint64_t deadline = now_monotonic_usec() + WATCHDOG_SOCKET_SEND_TIMEOUT_USEC;

        while (done < len) {
                ssize_t n = send(fd, line + done, len - done, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n >= 0) {
                        done += (size_t)n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno != EAGAIN)
                        return -errno;
                uint64_t now = now_monotonic_usec();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = POLLOUT };
                if (poll(&p, 1, (int)((deadline - now + 999) / 1000)) == -1 && errno != EINTR)
                        return -errno;
        }
        return 0;
}

/* Sends line, on a new connection if the old one broke. resync: arm the
 * other side first if it is new and we are armed. */
static int request(struct sock *s, const char *line, bool resync) {
        char arm[LINE_MAX_SIZE];
        int r = -ENOTCONN;

        for (int attempt = 0; attempt < 2; attempt++) {
                bool fresh = false;
                if (s->fd < 0 || drain(s) < 0) {
                        if ((r = sock_connect(s)) < 0)
                                return r;
                        fresh = true;
                }
                r = 0;
                if (fresh && resync && s->armed) {
                        snprintf(arm, sizeof(arm), "arm %" PRIu64 "\n", s->timeout_usec / USEC_PER_MSEC);
                        r = send_bounded(s->fd, arm);
                }
                if (r >= 0)
                        r = send_bounded(s->fd, line);
                if (r >= 0)
                        return 0;
                /* A half-written line would garble the stream: start over. */
                s->fd = safe_close(s->fd);
                if (r != -EPIPE && r != -ECONNRESET && r != -ENOTCONN)
                        return r;
        }
        return r;
}

static int sock_open(const char *target, void **ret_data) {
        struct sock *s = xcalloc(1, sizeof(*s));
        int r;

        s->path = xstrdup(target);
        s->fd = -1;
        if ((r = sock_connect(s)) < 0) {
                free(s->path);
                free(s);
                return r;
        }
        *ret_data = s;
        return 0;
}

static int sock_arm(void *data, uint64_t timeout_usec, uint64_t *ret_timeout_usec) {
        struct sock *s = data;
        char line[LINE_MAX_SIZE];
        /* Whole milliseconds, rounded down: never later than asked. */
        uint64_t ms = MAX(timeout_usec / USEC_PER_MSEC, 1);
        int r;

        snprintf(line, sizeof(line), "arm %" PRIu64 "\n", ms);
        if ((r = request(s, line, false)) < 0)
                return r;
        s->armed = true;
        s->timeout_usec = ms * USEC_PER_MSEC;
        *ret_timeout_usec = s->timeout_usec;
        return 0;
}

static int sock_pet(void *data) {
        return request(data, "pet\n", true);
}

static int sock_disarm(void *data) {
        struct sock *s = data;
        int r = request(s, "disarm\n", false);
        if (r >= 0)
                s->armed = false;
        return r;
}

static void sock_close(void *data) {
        struct sock *s = data;
        if (!s)
                return;
        safe_close(s->fd);
        free(s->path);
        free(s);
}

const struct watchdog_ops watchdog_socket_ops = {
        .name = "socket",
        .open = sock_open,
        .arm = sock_arm,
        .pet = sock_pet,
        .disarm = sock_disarm,
        .close = sock_close,
};
