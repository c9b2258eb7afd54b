/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-qmp.c: the QMP client against peers that behave (like QEMU) and
 * peers that do not: garbage, silence, a closed connection, a reply that
 * never ends, an event flood. Every one must give a clear error within
 * the deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "agents/qmp.h"

#define GREETING                                                                                                       \
        "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, \"major\": 7}}, \"capabilities\": []}}\r\n"

static void test_reader(void **state) {
        struct qmp_reader r = {};
        struct qmp_msg m = { .id = -1 };
        struct err e = {};
        const char *in = "{\"return\": {}, \"id\": 3}\r\n\n  \n{\"event\": \"STOP\"}\nnot json\n{\"ret";

        assert_int_equal(qmp_reader_feed(&r, in, strlen(in)), strlen(in));
        assert_int_equal(qmp_reader_next(&r, &m, &e), 1);
        assert_int_equal(m.type, QMP_MSG_RETURN);
        assert_int_equal(m.id, 3);
        qmp_msg_done(&m);
        assert_int_equal(qmp_reader_next(&r, &m, &e), 1);
        assert_int_equal(m.type, QMP_MSG_EVENT);
        assert_string_equal(m.event, "STOP");
        assert_int_equal(m.id, -1);
        qmp_msg_done(&m);
        /* A bad line is an error, and is dropped. */
        assert_int_equal(qmp_reader_next(&r, &m, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "not a QMP message"));
        assert_int_equal(qmp_reader_next(&r, &m, &e), 0);
        assert_int_equal(qmp_reader_feed(&r, "urn\": 1}\n", 9), 9);
        assert_int_equal(qmp_reader_next(&r, &m, &e), 1);
        assert_int_equal(json_object_get_int(m.value), 1);
        qmp_msg_done(&m);
        qmp_reader_done(&r);
}

static void test_reader_limit(void **state) {
        struct qmp_reader r = {};
        struct qmp_msg m = { .id = -1 };
        struct err e = {};
        _cleanup_free_ char *big = xmalloc(QMP_MSG_MAX + 100);

        /* Exactly QMP_MSG_MAX bytes of message still fit (and fail as JSON). */
        memset(big, ' ', QMP_MSG_MAX);
        big[0] = 'x';
        big[QMP_MSG_MAX] = '\r';
        big[QMP_MSG_MAX + 1] = '\n';
        assert_int_equal(qmp_reader_feed(&r, big, QMP_MSG_MAX + 2), QMP_MSG_MAX + 2);
        assert_int_equal(qmp_reader_next(&r, &m, &e), -EBADMSG);
        assert_int_equal(r.used, 0);

        /* One byte more without a line end is refused, and the reader takes
         * no more than it can hold. */
        memset(big, 'a', QMP_MSG_MAX + 100);
        assert_int_equal(qmp_reader_feed(&r, big, QMP_MSG_MAX + 100), QMP_MSG_MAX + 2);
        assert_int_equal(qmp_reader_space(&r), 0);
        assert_int_equal(qmp_reader_next(&r, &m, &e), -EMSGSIZE);
        assert_non_null(strstr(e.msg, "without a line end"));
        qmp_reader_done(&r);
}

static void test_parse(void **state) {
        struct qmp_msg m = { .id = -1 };
        struct qmp_status st;
        struct err e = {};
        const char *s;

        s = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}, \"id\": 9}";
        assert_int_equal(qmp_msg_parse(s, strlen(s), &m, &e), 0);
        assert_int_equal(m.type, QMP_MSG_ERROR);
        assert_string_equal(m.error_class, "GenericError");
        assert_string_equal(m.error_desc, "nope");
        assert_int_equal(m.id, 9);
        qmp_msg_done(&m);

        s = "{\"return\": {\"status\": \"paused\", \"singlestep\": false, \"running\": false}}";
        assert_int_equal(qmp_msg_parse(s, strlen(s), &m, &e), 0);
        assert_int_equal(qmp_status_parse(m.value, &st, &e), 0);
        assert_string_equal(st.status, "paused");
        assert_false(st.running);
        qmp_msg_done(&m);

        s = "{\"return\": {}, \"error\": {\"class\": \"a\", \"desc\": \"b\"}}";
        assert_int_equal(qmp_msg_parse(s, strlen(s), &m, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "more than one"));
        e = (struct err){};
        s = "{\"return\": {\"status\": \"running\"}}";
        assert_int_equal(qmp_msg_parse(s, strlen(s), &m, &e), 0);
        assert_int_equal(qmp_status_parse(m.value, &st, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "\"running\""));
        qmp_msg_done(&m);
}

/* A peer on a unix socket that sends `script` after accepting (and after
 * each line it reads when `per_line` is set), then lingers or closes. */
struct peer {
        char dir[32];
        char path[64];
        pid_t pid;
};

static void peer_start(struct peer *p, const char *greeting, const char *const *replies, bool close_after) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd;

        snprintf(p->dir, sizeof(p->dir), "/tmp/test-qmp-XXXXXX");
        assert_non_null(mkdtemp(p->dir));
        snprintf(p->path, sizeof(p->path), "%s/s.qmp", p->dir);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(fd, 1), 0);

        p->pid = fork();
        assert_true(p->pid >= 0);
        if (p->pid == 0) {
                int c = accept(fd, NULL, NULL);
                char buf[4096];
                if (c < 0)
                        _exit(1);
                if (greeting && write(c, greeting, strlen(greeting)) < 0)
                        _exit(1);
                for (const char *const *r = replies; r && *r; r++) {
                        /* One reply per command received. */
                        if (read(c, buf, sizeof(buf)) <= 0)
                                _exit(0);
                        for (const char *s = *r; *s;) {
                                ssize_t n = write(c, s, strlen(s));
                                if (n <= 0)
                                        _exit(0);
                                s += n;
                        }
                }
                if (close_after)
                        _exit(0);
                for (;;)
                        pause();
        }
        close(fd);
}

static void peer_stop(struct peer *p) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        unlink(p->path);
        rmdir(p->dir);
}

static const char *const CAPS_OK[] = { "{\"return\": {}, \"id\": 0}\r\n", NULL };

static void test_client_ok(void **state) {
        const char *const replies[] = {
                "{\"return\": {}, \"id\": 0}\r\n",
                "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 0}}\r\n"
                "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, \"id\": 1}\r\n",
                "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command x has not been found\"}, \"id\": "
                "2}\r\n",
                NULL,
        };
        struct peer p;
        struct qmp *q = NULL;
        struct qmp_status st;
        struct err e = {};

        peer_start(&p, GREETING, replies, false);
        assert_int_equal(qmp_connect(p.path, false, now_monotonic_usec() + 2 * USEC_PER_SEC, &q, &e), 0);
        assert_int_equal(qmp_query_status(q, now_monotonic_usec() + 2 * USEC_PER_SEC, &st, &e), 0);
        assert_string_equal(st.status, "running");
        assert_true(st.running);
        assert_int_equal(qmp_execute(q, "x", NULL, now_monotonic_usec() + 2 * USEC_PER_SEC, NULL, &e), -EREMOTEIO);
        assert_non_null(strstr(e.msg, "QMP command 'x' failed: CommandNotFound"));
        qmp_free(q);
        peer_stop(&p);
}

/* Connects and runs query-status against a misbehaving peer; expects
 * error r with `needle` in the message, within the deadline (plus slack). */
static void expect_failure(const char *greeting, const char *const *replies, bool close_after, int r,
                           const char *needle) {
        uint64_t start = now_monotonic_usec(), deadline = start + 500 * USEC_PER_MSEC;
        struct peer p;
        struct qmp *q = NULL;
        struct qmp_status st;
        struct err e = {};
        int k;

        peer_start(&p, greeting, replies, close_after);
        k = qmp_connect(p.path, false, deadline, &q, &e);
        if (k >= 0)
                k = qmp_query_status(q, deadline, &st, &e);
        qmp_free(q);
        peer_stop(&p);
        if (k != r || !strstr(e.msg, needle))
                fail_msg("got %d \"%s\", expected %d with \"%s\"", k, e.msg, r, needle);
        assert_true(now_monotonic_usec() - start < 1500 * USEC_PER_MSEC);
}

static void test_client_bad_peers(void **state) {
        static const char *const garbage[] = { "HTTP/1.1 400 Bad Request\r\n\r\n", NULL };
        static const char *const wrong_id[] = { "{\"return\": {}, \"id\": 0}\r\n", "{\"return\": {}, \"id\": 7}\r\n",
                                                NULL };
        static const char *const not_status[] = { "{\"return\": {}, \"id\": 0}\r\n",
                                                  "{\"return\": {\"status\": 5}, \"id\": 1}\r\n", NULL };

        /* Silence: no greeting at all. */
        expect_failure(NULL, NULL, false, -ETIMEDOUT, "no greeting within");
        /* Closes at once. */
        expect_failure(NULL, NULL, true, -ECONNRESET, "closed by the peer");
        /* Not QMP. */
        expect_failure("SSH-2.0-OpenSSH_9.2\r\n", NULL, false, -EBADMSG, "not a QMP message");
        expect_failure("{\"return\": {}}\n", NULL, false, -EBADMSG, "expected the greeting");
        /* A greeting, then garbage, silence, or a close. */
        expect_failure(GREETING, garbage, false, -EBADMSG, "not a QMP message");
        expect_failure(GREETING, NULL, false, -ETIMEDOUT, "no reply to 'qmp_capabilities' within");
        expect_failure(GREETING, NULL, true, -ECONNRESET, "closed by the peer");
        expect_failure(GREETING, CAPS_OK, false, -ETIMEDOUT, "no reply to 'query-status'");
        expect_failure(GREETING, wrong_id, false, -EBADMSG, "expected the reply to 'query-status' (id 1)");
        expect_failure(GREETING, not_status, false, -EBADMSG, "query-status: the reply has no string \"status\"");
}

static void test_client_no_listener(void **state) {
        struct qmp *q = NULL;
        struct err e = {};
        uint64_t start = now_monotonic_usec();

        assert_int_equal(qmp_connect("/nonexistent/x.qmp", false, start + USEC_PER_SEC, &q, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "'/nonexistent/x.qmp'"));
        /* With retry, a missing socket is waited for until the deadline. */
        e = (struct err){};
        assert_int_equal(qmp_connect("/nonexistent/x.qmp", true, start + 300 * USEC_PER_MSEC, &q, &e), -ENOENT);
        assert_true(now_monotonic_usec() - start >= 250 * USEC_PER_MSEC);
}

static void test_client_huge_reply(void **state) {
        /* A reply that never ends must stop at 1 MiB, not grow forever. */
        _cleanup_free_ char *huge = xmalloc(QMP_MSG_MAX + 200000);
        const char *replies[] = { "{\"return\": {}, \"id\": 0}\r\n", huge, NULL };
        memset(huge, 'a', QMP_MSG_MAX + 199999);
        huge[QMP_MSG_MAX + 199999] = '\0';
        memcpy(huge, "{\"return\": \"", 12);

        struct peer p;
        struct qmp *q = NULL;
        struct qmp_status st;
        struct err e = {};
        peer_start(&p, GREETING, replies, false);
        assert_int_equal(qmp_connect(p.path, false, now_monotonic_usec() + 2 * USEC_PER_SEC, &q, &e), 0);
        assert_int_equal(qmp_query_status(q, now_monotonic_usec() + 2 * USEC_PER_SEC, &st, &e), -EMSGSIZE);
        assert_non_null(strstr(e.msg, "without a line end"));
        /* The stream is out of step: the connection refuses more commands. */
        e = (struct err){};
        assert_int_equal(qmp_query_status(q, now_monotonic_usec() + USEC_PER_SEC, &st, &e), -ENOTCONN);
        qmp_free(q);
        peer_stop(&p);
}

static void test_client_event_flood(void **state) {
        size_t n = (QMP_EVENTS_MAX + 10) * 32;
        _cleanup_free_ char *flood = xcalloc(1, n + 1);
        const char *replies[] = { "{\"return\": {}, \"id\": 0}\r\n", flood, NULL };
        for (int i = 0; i < QMP_EVENTS_MAX + 10; i++)
                strcat(flood, "{\"event\": \"RTC_CHANGE\"}\r\n");

        struct peer p;
        struct qmp *q = NULL;
        struct qmp_status st;
        struct err e = {};
        peer_start(&p, GREETING, replies, false);
        assert_int_equal(qmp_connect(p.path, false, now_monotonic_usec() + 2 * USEC_PER_SEC, &q, &e), 0);
        assert_int_equal(qmp_query_status(q, now_monotonic_usec() + 2 * USEC_PER_SEC, &st, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "events and no reply"));
        qmp_free(q);
        peer_stop(&p);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_reader),
                cmocka_unit_test(test_reader_limit),
                cmocka_unit_test(test_parse),
                cmocka_unit_test(test_client_ok),
                cmocka_unit_test(test_client_bad_peers),
                cmocka_unit_test(test_client_no_listener),
                cmocka_unit_test(test_client_huge_reply),
                cmocka_unit_test(test_client_event_flood),
        };
        signal(SIGPIPE, SIG_IGN);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
