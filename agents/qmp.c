/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qmp.c: QMP message framing and parsing, and a blocking client with deadlines. */
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "agents/qmp.h"

/* A whole line: QMP_MSG_MAX bytes of message plus "\r\n". */
#define READER_MAX ((size_t)QMP_MSG_MAX + 2)

/* Bytes read from the socket per read(2). */
#define READ_CHUNK (64 * 1024)

const char *qmp_msg_type_to_string(enum qmp_msg_type t) {
        switch (t) {
        case QMP_MSG_GREETING:
                return "greeting";
        case QMP_MSG_RETURN:
                return "return";
        case QMP_MSG_ERROR:
                return "error";
        case QMP_MSG_EVENT:
                return "event";
        }
        return "unknown";
}

void qmp_msg_done(struct qmp_msg *m) {
        if (m->root)
                json_object_put(m->root);
        *m = (struct qmp_msg){ .id = -1 };
}

static int get_string(json_object *o, const char *key, const char **ret) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        *ret = json_object_get_string(v);
        return 0;
}

int qmp_msg_parse(const char *data, size_t size, struct qmp_msg *ret, struct err *e) {
        _cleanup_json_ json_object *root = NULL;
        struct qmp_msg m = { .id = -1 };
        struct err pe = {};
        json_object *v;
        int kinds = 0;

        if (size > QMP_MSG_MAX)
                return err_set(e, -EBADMSG, "QMP message of %zu bytes exceeds the limit of %d bytes", size,
                               QMP_MSG_MAX);
        if (json_parse_object(data, size, &root, &pe) < 0)
                return err_set(e, -EBADMSG, "not a QMP message: %s", pe.msg);

        /* Exactly one of the four shapes; a reply that is both a return and
         * an error (or anything else) is not something QEMU sends. */
        if (json_object_object_get_ex(root, "QMP", &v)) {
                m.type = QMP_MSG_GREETING;
                if (!json_object_is_type(v, json_type_object))
                        return err_set(e, -EBADMSG, "QMP greeting: \"QMP\" is not an object");
                m.value = v;
                kinds++;
        }
        if (json_object_object_get_ex(root, "return", &v)) {
                m.type = QMP_MSG_RETURN;
                m.value = v;
                kinds++;
        }
        if (json_object_object_get_ex(root, "error", &v)) {
                m.type = QMP_MSG_ERROR;
                if (!json_object_is_type(v, json_type_object) || get_string(v, "class", &m.error_class) < 0 ||
                    get_string(v, "desc", &m.error_desc) < 0)
                        return err_set(e, -EBADMSG, "QMP error reply without a string \"class\" and \"desc\"");
                kinds++;
        }
        if (json_object_object_get_ex(root, "event", &v)) {
                m.type = QMP_MSG_EVENT;
                if (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) == 0)
                        return err_set(e, -EBADMSG, "QMP event without a name");
                m.event = json_object_get_string(v);
                if (json_object_object_get_ex(root, "data", &v)) {
                        if (!json_object_is_type(v, json_type_object))
                                return err_set(e, -EBADMSG, "QMP event '%.64s': \"data\" is not an object", m.event);
                        m.value = v;
                }
                kinds++;
        }
        if (kinds != 1)
                return err_set(e, -EBADMSG, "not a QMP message: %s",
                               kinds == 0 ? "none of \"QMP\", \"return\", \"error\", \"event\""
                                          : "more than one of \"QMP\", \"return\", \"error\", \"event\"");

        /* Our requests carry non-negative integer ids; any other id is not a
         * reply to us and is reported as -1. */
        if (json_object_object_get_ex(root, "id", &v) && json_object_is_type(v, json_type_int)) {
                int64_t id = json_object_get_int64(v);
                if (id >= 0)
                        m.id = id;
        }

        m.root = TAKE_PTR(root);
        *ret = m;
        return 0;
}

size_t qmp_reader_space(const struct qmp_reader *r) {
        return READER_MAX - r->used;
}

size_t qmp_reader_feed(struct qmp_reader *r, const void *data, size_t size) {
        size_t n = MIN(size, qmp_reader_space(r));

        if (n == 0)
                return 0;
        if (r->used + n > r->size) {
                size_t want = MAX(r->size, (size_t)4096);
                while (want < r->used + n)
                        want *= 2;
                want = MIN(want, READER_MAX);
                r->buf = xrealloc(r->buf, want);
                r->size = want;
        }
        memcpy(r->buf + r->used, data, n);
        r->used += n;
        return n;
}

static bool is_blank(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                        return false;
        return true;
}

int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *ret, struct err *e) {
        for (;;) {
                char *nl = r->used > 0 ? memchr(r->buf, '\n', r->used) : NULL;
                struct qmp_msg m = { .id = -1 };
                size_t line, len;
                bool blank;
                int k = 0;

                if (!nl) {
                        if (r->used >= READER_MAX)
                                return err_set(e, -EMSGSIZE, "QMP message longer than %d bytes without a line end",
                                               QMP_MSG_MAX);
                        return 0;
                }
                line = (size_t)(nl - r->buf);
                len = line > 0 && r->buf[line - 1] == '\r' ? line - 1 : line;
                blank = is_blank(r->buf, len);
                if (!blank)
                        k = qmp_msg_parse(r->buf, len, &m, e);

                /* The line is consumed whether or not it parsed, so that a
                 * caller that wants to can go on with the next one. */
                r->used -= line + 1;
                memmove(r->buf, nl + 1, r->used);
                if (blank)
                        continue;
                if (k < 0)
                        return k;
                *ret = m;
                return 1;
        }
}

void qmp_reader_done(struct qmp_reader *r) {
        free_and_null(r->buf);
        r->used = r->size = 0;
}

int qmp_status_parse(json_object *value, struct qmp_status *ret, struct err *e) {
        struct qmp_status s = {};
        const char *status;
        json_object *v;
        size_t n;

        if (!value || !json_object_is_type(value, json_type_object))
                return err_set(e, -EBADMSG, "query-status: the reply is not an object");
        if (get_string(value, "status", &status) < 0)
                return err_set(e, -EBADMSG, "query-status: the reply has no string \"status\"");
        n = strlen(status);
        if (n == 0 || n >= sizeof(s.status) || strspn(status, "abcdefghijklmnopqrstuvwxyz-") != n)
                return err_set(e, -EBADMSG, "query-status: \"status\" is not a run state name");
        if (!json_object_object_get_ex(value, "running", &v) || !json_object_is_type(v, json_type_boolean))
                return err_set(e, -EBADMSG, "query-status: the reply has no boolean \"running\"");
        memcpy(s.status, status, n + 1);
        s.running = json_object_get_boolean(v);
        *ret = s;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* The blocking client                                                       */
/* ------------------------------------------------------------------------ */

struct qmp {
        int fd;                   /* owned; non-blocking */
        char *path;               /* owned; for messages */
        struct qmp_reader reader; /* what arrived but was not yet returned */
        int64_t next_id;          /* id of the next command */
        bool broken;              /* an earlier error left the stream out of step */
};

struct qmp *qmp_free(struct qmp *q) {
        if (!q)
                return NULL;
        safe_close(q->fd);
        free(q->path);
        qmp_reader_done(&q->reader);
        free(q);
        return NULL;
}

/* Waits until fd has `events` or the deadline passes: 1 when ready, 0 at
 * the deadline, -errno on failure. */
static int wait_fd(int fd, short events, uint64_t deadline_usec) {
        for (;;) {
                uint64_t now = now_monotonic_usec();
                struct pollfd p = { .fd = fd, .events = events };
                uint64_t ms;

                if (now >= deadline_usec)
                        return 0;
                ms = (deadline_usec - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC;
                int n = poll(&p, 1, (int)MIN(ms, (uint64_t)INT_MAX));
                if (n == -1) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n > 0)
                        return 1;
        }
}

/* Time since since_usec, to the millisecond ("2s500ms"). */
static const char *elapsed(char *buf, size_t size, uint64_t since_usec) {
        uint64_t d = now_monotonic_usec() - since_usec;
        return format_duration(buf, size, d - d % USEC_PER_MSEC);
}

/* Reads until one whole message is there. */
static int read_msg(struct qmp *q, const char *waiting_for, const char *hint, uint64_t deadline_usec,
                    struct qmp_msg *ret, struct err *e) {
        uint64_t start = now_monotonic_usec();
        char buf[READ_CHUNK], d[32];

        for (;;) {
                int r = qmp_reader_next(&q->reader, ret, e);
                if (r != 0)
                        return r < 0 ? err_set(e, r, "QMP socket '%s'", q->path) : 0;

                r = wait_fd(q->fd, POLLIN, deadline_usec);
                if (r < 0)
                        return err_set(e, r, "QMP socket '%s': poll: %s", q->path, strerror(-r));
                if (r == 0)
                        return err_set(e, -ETIMEDOUT, "QMP socket '%s': no %s within %s%s", q->path, waiting_for,
                                       elapsed(d, sizeof(d), start), strempty(hint));

                ssize_t n = read(q->fd, buf, MIN(sizeof(buf), qmp_reader_space(&q->reader)));
                if (n == -1) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        if (errno == ECONNRESET)
                                return err_set(e, -ECONNRESET,
                                               "QMP socket '%s': closed by the peer (reset) while waiting for %s",
                                               q->path, waiting_for);
                        return err_set(e, -errno, "QMP socket '%s': read: %m", q->path);
                }
                if (n == 0)
                        return err_set(e, -ECONNRESET, "QMP socket '%s': closed by the peer while waiting for %s",
                                       q->path, waiting_for);
                qmp_reader_feed(&q->reader, buf, (size_t)n);
        }
}

static int send_all(struct qmp *q, const char *data, size_t size, uint64_t deadline_usec, struct err *e) {
        while (size > 0) {
                ssize_t n = send(q->fd, data, size, MSG_NOSIGNAL);
                if (n >= 0) {
                        data += n;
                        size -= (size_t)n;
                        continue;
                }
                if (errno == EINTR)
                        continue;
                if (errno == EPIPE || errno == ECONNRESET)
                        return err_set(e, -ECONNRESET, "QMP socket '%s': closed by the peer", q->path);
                if (errno != EAGAIN)
                        return err_set(e, -errno, "QMP socket '%s': send: %m", q->path);
                int r = wait_fd(q->fd, POLLOUT, deadline_usec);
                if (r < 0)
                        return err_set(e, r, "QMP socket '%s': poll: %s", q->path, strerror(-r));
                if (r == 0)
                        return err_set(e, -ETIMEDOUT, "QMP socket '%s': the peer does not take a command", q->path);
        }
        return 0;
}

int qmp_execute(struct qmp *q, const char *command, json_object *arguments, uint64_t deadline_usec,
                json_object **ret_value, struct err *e) {
        _cleanup_json_ json_object *cmd = json_object_new_object();
        _cleanup_free_ char *line = NULL;
        char what[96];
        int64_t id;
        int r;

        if (q->broken)
                return err_set(e, -ENOTCONN, "QMP socket '%s': unusable after an earlier error", q->path);

        id = q->next_id++;
        json_add_string(cmd, "execute", command);
        if (arguments)
                json_object_object_add(cmd, "arguments", json_object_get(arguments));
        json_add_int(cmd, "id", id);
        line = xasprintf("%s\n", json_object_to_json_string_ext(cmd, JSON_C_TO_STRING_PLAIN));
        snprintf(what, sizeof(what), "reply to '%.64s'", command);

        q->broken = true; /* until the reply to this command has been read */
        r = send_all(q, line, strlen(line), deadline_usec, e);
        if (r < 0)
                return r;

        for (unsigned events = 0;; events++) {
                struct qmp_msg m = { .id = -1 };

                if (events > QMP_EVENTS_MAX)
                        return err_set(e, -EBADMSG, "QMP socket '%s': more than %d events and no %s", q->path,
                                       QMP_EVENTS_MAX, what);
                r = read_msg(q, what, " (QEMU hung or stopped)", deadline_usec, &m, e);
                if (r < 0)
                        return r;
                if (m.type == QMP_MSG_EVENT) {
                        qmp_msg_done(&m);
                        continue;
                }
                if (m.type == QMP_MSG_GREETING || m.id != id) {
                        r = err_set(e, -EBADMSG, "QMP socket '%s': expected the %s (id %" PRId64 "), got a %s", q->path,
                                    what, id, qmp_msg_type_to_string(m.type));
                        qmp_msg_done(&m);
                        return r;
                }
                q->broken = false;
                if (m.type == QMP_MSG_ERROR) {
                        r = err_set(e, -EREMOTEIO, "QMP command '%s' failed: %s: %s", command, m.error_class,
                                    m.error_desc);
                        qmp_msg_done(&m);
                        return r;
                }
                if (ret_value)
                        *ret_value = json_object_get(m.value);
                qmp_msg_done(&m);
                return 0;
        }
}

int qmp_query_status(struct qmp *q, uint64_t deadline_usec, struct qmp_status *ret, struct err *e) {
        _cleanup_json_ json_object *v = NULL;
        int r;

        r = qmp_execute(q, "query-status", NULL, deadline_usec, &v, e);
        if (r < 0)
                return r;
        return qmp_status_parse(v, ret, e);
}

/* One connect(2): 0 with *ret_fd, or -errno with a message. */
static int connect_once(const char *path, int *ret_fd, struct err *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -1;
        size_t n = strlen(path);

        if (n >= sizeof(sa.sun_path))
                return err_set(e, -ENAMETOOLONG, "QMP socket path '%s' is longer than %zu bytes", path,
                               sizeof(sa.sun_path) - 1);
        memcpy(sa.sun_path, path, n + 1);

        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd == -1)
                return err_set(e, -errno, "socket: %m");
        /* A unix stream connect either completes at once or fails with
         * EAGAIN when the listener's backlog is full. */
        if (connect(fd, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1)) == -1)
                return err_set(e, -errno, "QMP socket '%s': connect: %m", path);
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int qmp_connect(const char *path, bool retry, uint64_t deadline_usec, struct qmp **ret, struct err *e) {
        struct qmp_msg greeting = { .id = -1 };
        struct qmp *q;
        int fd = -1, r;

        for (;;) {
                struct err ce = {};
                r = connect_once(path, &fd, &ce);
                if (r >= 0)
                        break;
                bool transient = r == -EAGAIN || (retry && (r == -ENOENT || r == -ECONNREFUSED));
                if (!transient || now_monotonic_usec() + 50 * USEC_PER_MSEC >= deadline_usec)
                        return err_set(e, r, "%s", ce.msg);
                usleep(50 * 1000);
        }

        q = xcalloc(1, sizeof(*q));
        q->fd = fd;
        q->path = xstrdup(path);

        /* QEMU serves one QMP client at a time; a second one waits in the
         * listen backlog and sees no greeting. */
        r = read_msg(q, "greeting", " (QEMU hung or stopped, or another client holds the connection)", deadline_usec,
                     &greeting, e);
        if (r < 0)
                goto fail;
        if (greeting.type != QMP_MSG_GREETING) {
                r = err_set(e, -EBADMSG, "QMP socket '%s': expected the greeting, got a %s", path,
                            qmp_msg_type_to_string(greeting.type));
                qmp_msg_done(&greeting);
                goto fail;
        }
        qmp_msg_done(&greeting);

        r = qmp_execute(q, "qmp_capabilities", NULL, deadline_usec, NULL, e);
        if (r < 0)
                goto fail;
        *ret = q;
        return 0;
fail:
        qmp_free(q);
        return r;
}
