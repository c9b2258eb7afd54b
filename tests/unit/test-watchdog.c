/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-watchdog.c: the self-fencing watchdog as a node uses it. The real
 * clusterd-watchdog program runs on a socket in a temporary directory with
 * an action that appends to a file (or kills a network namespace), and is
 * driven through the socket backend the daemon uses, or by hand with junk.
 *
 * What matters: petting keeps it quiet, starving it fires it, disarming
 * stops it, a client that goes away without disarming (a crash) still gets
 * the node reset, and nothing a client sends can break it. The machine is
 * shared and noisy, so times are only asserted as orderings or as bounds
 * that hold however late we run: it can never fire before the deadline,
 * and must fire within the deadline plus generous slack.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>

#include "clusterd/watchdog-int.h"

#define MSEC USEC_PER_MSEC
#define SLACK_USEC (5 * USEC_PER_SEC)

struct fx {
        char *dir;
        char *sock;  /* the watchdog's socket */
        char *spec;  /* "unix:" sock */
        char *fired; /* the command action appends a line here */
        char *log;   /* the program's output */
        pid_t pid;   /* the running clusterd-watchdog, 0 if none */
};

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t)(usec / USEC_PER_SEC),
                               .tv_nsec = (long)(usec % USEC_PER_SEC * NSEC_PER_USEC) };
        while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
                ;
}

/* The program next to this test in the build tree. */
static char *program_path(void) {
        const char *env = getenv("CLUSTERD_WATCHDOG");
        char exe[4096];
        if (env)
                return xstrdup(env);
        ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
        assert_true(n > 0);
        exe[n] = '\0';
        char *p = strstr(exe, "/tests/unit/");
        assert_non_null(p);
        *p = '\0';
        return xasprintf("%s/clusterd/clusterd-watchdog", exe);
}

static int raw_connect(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
                safe_close(fd);
                return -1;
        }
        return fd;
}

/* Starts clusterd-watchdog with `--action word arg` and waits until it
 * accepts connections. */
static void start_watchdog(struct fx *fx, const char *word, const char *arg) {
        _cleanup_free_ char *prog = program_path();
        char *argv[] = { prog,
                         (char *)"--socket",
                         fx->sock,
                         (char *)"--timeout-max",
                         (char *)"10s",
                         (char *)"--action",
                         (char *)word,
                         (char *)arg,
                         (char *)"--debug",
                         NULL };

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int log = open(fx->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
                if (log >= 0) {
                        dup2(log, STDOUT_FILENO);
                        dup2(log, STDERR_FILENO);
                }
                execv(prog, argv);
                _exit(127);
        }
        fx->pid = pid;
        for (int i = 0; i < 500; i++) {
                int fd = raw_connect(fx->sock);
                if (fd >= 0) {
                        safe_close(fd);
                        return;
                }
                assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
                sleep_usec(20 * MSEC);
        }
        fail_msg("clusterd-watchdog did not start listening on '%s'", fx->sock);
}

/* SIGTERM, and its exit status (-1 if it had to be killed). */
static int stop_watchdog(struct fx *fx) {
        int status = 0;
        if (fx->pid <= 0)
                return 0;
        kill(fx->pid, SIGTERM);
        for (int i = 0; i < 250; i++) {
                if (waitpid(fx->pid, &status, WNOHANG) == fx->pid) {
                        fx->pid = 0;
                        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
                }
                sleep_usec(20 * MSEC);
        }
        kill(fx->pid, SIGKILL);
        waitpid(fx->pid, NULL, 0);
        fx->pid = 0;
        return -1;
}

static int setup(void **state) {
        char tmpl[] = "/tmp/test-watchdog-XXXXXX";
        struct fx *fx = xcalloc(1, sizeof(*fx));
        if (!mkdtemp(tmpl)) {
                free(fx);
                return -1;
        }
        fx->dir = xstrdup(tmpl);
        fx->sock = xasprintf("%s/wd.sock", fx->dir);
        fx->spec = xasprintf("unix:%s", fx->sock);
        fx->fired = xasprintf("%s/fired", fx->dir);
        fx->log = xasprintf("%s/watchdog.log", fx->dir);
        *state = fx;
        return 0;
}

/* Starts the program with an action that appends "fired" to a file. */
static int setup_command(void **state) {
        if (setup(state) < 0)
                return -1;
        struct fx *fx = *state;
        _cleanup_free_ char *cmd = xasprintf("echo fired >> '%s'", fx->fired);
        start_watchdog(fx, "command", cmd);
        return 0;
}

static int teardown(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *log = NULL;
        stop_watchdog(fx);
        /* The program's own account, for whoever reads the test log. */
        if (read_full_file(fx->log, 1024 * 1024, &log, NULL) >= 0)
                fprintf(stderr, "--- clusterd-watchdog log ---\n%s--- end ---\n", log);
        int r = rm_rf(fx->dir);
        free(fx->dir);
        free(fx->sock);
        free(fx->spec);
        free(fx->fired);
        free(fx->log);
        free(fx);
        return r;
}

static unsigned fire_count(struct fx *fx) {
        _cleanup_free_ char *text = NULL;
        unsigned n = 0;
        if (read_full_file(fx->fired, 64 * 1024, &text, NULL) < 0)
                return 0;
        for (const char *p = text; *p; p++)
                n += *p == '\n';
        return n;
}

/* Waits up to usec for at least want fires; returns the count. */
static unsigned wait_fires(struct fx *fx, unsigned want, uint64_t usec) {
        uint64_t end = now_monotonic_usec() + usec;
        unsigned n;
        while ((n = fire_count(fx)) < want && now_monotonic_usec() < end)
                sleep_usec(20 * MSEC);
        return n;
}

/* One request line by hand; returns the answer without its newline. */
static char *ask(const char *sock, const char *line) {
        char buf[256];
        size_t len = 0;
        int fd = raw_connect(sock);
        assert_true(fd >= 0);
        assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
        while (len < sizeof(buf) - 1) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                assert_int_equal(poll(&p, 1, 5000), 1);
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                assert_true(n > 0);
                len += (size_t)n;
                if (memchr(buf, '\n', len))
                        break;
        }
        safe_close(fd);
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        return xstrdup(buf);
}

static void assert_status(struct fx *fx, const char *prefix) {
        _cleanup_free_ char *s = ask(fx->sock, "status\n");
        if (!startswith(s, prefix))
                fail_msg("status '%s', want '%s...'", s, prefix);
}

/* ------------------------------------------------------------------------ */
/* Through the backend clusterd uses                                         */

static void test_pet_then_starve(void **state) {
        struct fx *fx = *state;
        struct watchdog *w = NULL;
        uint64_t timeout = 300 * MSEC, eff = 0;

        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_string_equal(watchdog_backend(w), "socket");
        assert_false(watchdog_is_armed(w));
        assert_int_equal(watchdog_pet(w), -EINVAL);
        assert_int_equal(watchdog_arm(w, timeout, &eff), 0);
        assert_true(watchdog_is_armed(w));
        assert_int_equal(eff, timeout);

        /* Pet every 30 ms for 1.5 s. If this process was descheduled for
         * most of a timeout, a fire would be right, so the quiet check
         * only counts when the pets really were close together. */
        uint64_t last = now_monotonic_usec(), end = last + 1500 * MSEC, max_gap = 0;
        while (now_monotonic_usec() < end) {
                sleep_usec(30 * MSEC);
                uint64_t t = now_monotonic_usec();
                max_gap = MAX(max_gap, t - last);
                assert_int_equal(watchdog_pet(w), 0);
                last = t;
        }
        if (max_gap < 200 * MSEC)
                assert_int_equal(fire_count(fx), 0);
        else
                fprintf(stderr, "note: pets were %" PRIu64 " ms apart once; not checking that it stayed quiet\n",
                        max_gap / MSEC);

        /* Starved: not at once, but within the timeout and some slack. */
        if (now_monotonic_usec() - last < 200 * MSEC)
                assert_int_equal(fire_count(fx), 0);
        assert_int_equal(wait_fires(fx, 1, timeout + SLACK_USEC), 1);
        assert_true(now_monotonic_usec() - last >= timeout);
        /* Fired once, then disarmed, and still serving. */
        assert_status(fx, "ok disarmed fired 1");
        sleep_usec(2 * timeout);
        assert_int_equal(fire_count(fx), 1);

        /* The node comes back and arms it again. */
        assert_int_equal(watchdog_arm(w, timeout, NULL), 0);
        assert_status(fx, "ok armed 300 ");
        assert_int_equal(watchdog_disarm(w), 0);
        assert_false(watchdog_is_armed(w));
        assert_status(fx, "ok disarmed fired 1");
        w = watchdog_close(w);
}

static void test_disarm_prevents_firing(void **state) {
        struct fx *fx = *state;
        struct watchdog *w = NULL;

        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_int_equal(watchdog_arm(w, 300 * MSEC, NULL), 0);
        assert_int_equal(watchdog_pet(w), 0);
        assert_int_equal(watchdog_disarm(w), 0);
        assert_int_equal(watchdog_disarm(w), 0); /* twice is fine */
        assert_int_equal(watchdog_pet(w), -EINVAL);
        sleep_usec(1200 * MSEC);
        assert_int_equal(fire_count(fx), 0);
        assert_status(fx, "ok disarmed fired 0");
        w = watchdog_close(w);

        /* Closing a disarmed watchdog is not a crash either. */
        sleep_usec(600 * MSEC);
        assert_int_equal(fire_count(fx), 0);
}

static void test_close_without_disarm_fires(void **state) {
        struct fx *fx = *state;
        struct watchdog *w = NULL;
        const uint64_t timeout = 1000 * MSEC;

        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        uint64_t t0 = now_monotonic_usec();
        assert_int_equal(watchdog_arm(w, timeout, NULL), 0);
        /* What a crash looks like: the connection just goes. */
        w = watchdog_close(w);
        if (now_monotonic_usec() - t0 < 700 * MSEC) {
                assert_int_equal(fire_count(fx), 0);
                assert_status(fx, "ok armed 1000 ");
        }
        assert_int_equal(wait_fires(fx, 1, timeout + SLACK_USEC), 1);
        assert_true(now_monotonic_usec() - t0 >= timeout);
}

static void test_reconnects_and_rearms(void **state) {
        struct fx *fx = *state;
        struct watchdog *w = NULL;

        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_int_equal(watchdog_arm(w, 5000 * MSEC, NULL), 0);
        /* The watchdog process restarts; the new one knows nothing. */
        assert_int_equal(stop_watchdog(fx), 0);
        _cleanup_free_ char *cmd = xasprintf("echo fired >> '%s'", fx->fired);
        start_watchdog(fx, "command", cmd);
        assert_status(fx, "ok disarmed");
        /* The next pet finds the connection broken, connects again and
         * arms the new process first. */
        assert_int_equal(watchdog_pet(w), 0);
        assert_status(fx, "ok armed 5000 ");
        assert_int_equal(watchdog_disarm(w), 0);
        assert_status(fx, "ok disarmed fired 0");
        w = watchdog_close(w);

        /* With nobody listening, calls fail instead of waiting. */
        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_int_equal(watchdog_arm(w, 5000 * MSEC, NULL), 0);
        assert_int_equal(watchdog_disarm(w), 0);
        assert_int_equal(stop_watchdog(fx), 0);
        assert_int_equal(watchdog_arm(w, 5000 * MSEC, NULL) < 0, true);
        w = watchdog_close(w);
}

/* ------------------------------------------------------------------------ */
/* Bad clients                                                               */

static void test_junk_is_refused(void **state) {
        struct fx *fx = *state;
#define J(s)                                                                                                           \
        { s, sizeof(s) - 1 }
        static const struct {
                const char *data;
                size_t size;
        } junk[] = {
                J("hello\n"),    J("arm\n"),       J("arm -5\n"), J("arm abc\n"), J("arm 0\n"),
                J("arm 1 2\n"),  J("pet extra\n"), J("PET\n"),    J("\n"),        J("\x01\xff\xfe garbage\n"),
                J("arm 10\0\n"), J("pet\n"), /* not armed */
        };
#undef J

        for (size_t i = 0; i < ELEMENTSOF(junk); i++) {
                int fd = raw_connect(fx->sock);
                char buf[256];
                assert_true(fd >= 0);
                assert_int_equal(send(fd, junk[i].data, junk[i].size, MSG_NOSIGNAL), (ssize_t)junk[i].size);
                struct pollfd p = { .fd = fd, .events = POLLIN };
                assert_int_equal(poll(&p, 1, 5000), 1);
                ssize_t n = read(fd, buf, sizeof(buf) - 1);
                assert_true(n > 0);
                buf[n] = '\0';
                if (!startswith(buf, "error "))
                        fail_msg("junk %zu got '%s'", i, buf);
                safe_close(fd);
        }

        /* A line far too long is refused once, and the next line works. */
        int fd = raw_connect(fx->sock);
        _cleanup_free_ char *longline = xmalloc(10001);
        memset(longline, 'A', 10000);
        longline[10000] = '\n';
        assert_int_equal(send(fd, longline, 10001, MSG_NOSIGNAL), 10001);
        assert_int_equal(send(fd, "status\n", 7, MSG_NOSIGNAL), 7);
        char buf[512] = "";
        size_t len = 0;
        while (len < sizeof(buf) - 1 && !strstr(buf, "ok disarmed")) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                assert_int_equal(poll(&p, 1, 5000), 1);
                ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);
                assert_true(n > 0);
                len += (size_t)n;
                buf[len] = '\0';
        }
        assert_true(startswith(buf, "error request too long\nok disarmed"));
        safe_close(fd);

        /* Longer than --timeout-max (10s): shortened, never refused. */
        _cleanup_free_ char *clamped = ask(fx->sock, "arm 3600000\r\n");
        assert_string_equal(clamped, "ok armed 10000");
        _cleanup_free_ char *off = ask(fx->sock, "disarm\n");
        assert_string_equal(off, "ok disarmed");

        /* A client that floods without reading its answers, one that
         * stops mid-line, and one that only connects: the others are
         * still served at once. */
        int flood = raw_connect(fx->sock), half = raw_connect(fx->sock), idle = raw_connect(fx->sock);
        assert_true(flood >= 0 && half >= 0 && idle >= 0);
        assert_int_equal(fcntl(flood, F_SETFL, O_NONBLOCK), 0);
        for (int i = 0; i < 100000; i++)
                if (send(flood, "status\n", 7, MSG_NOSIGNAL) != 7)
                        break;
        assert_int_equal(send(half, "ar", 2, MSG_NOSIGNAL), 2);
        uint64_t t0 = now_monotonic_usec();
        assert_status(fx, "ok disarmed fired 0");
        assert_true(now_monotonic_usec() - t0 < SLACK_USEC);

        struct watchdog *w = NULL;
        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_int_equal(watchdog_arm(w, 300 * MSEC, NULL), 0);
        assert_int_equal(watchdog_disarm(w), 0);
        w = watchdog_close(w);
        safe_close(flood);
        safe_close(half);
        safe_close(idle);

        assert_int_equal(kill(fx->pid, 0), 0);
        assert_int_equal(fire_count(fx), 0);
}

static void test_sigterm_exits_cleanly(void **state) {
        struct fx *fx = *state;
        int fd = raw_connect(fx->sock); /* a client still connected */
        assert_true(fd >= 0);
        assert_int_equal(stop_watchdog(fx), 0);
        assert_int_equal(access(fx->sock, F_OK), -1);
        safe_close(fd);
}

/* ------------------------------------------------------------------------ */
/* The test rig's action: kill everything in a network namespace            */

static void test_kill_netns(void **state) {
        struct fx *fx = *state;
        int ready[2];
        assert_int_equal(pipe2(ready, O_CLOEXEC), 0);

        pid_t victim = fork();
        assert_true(victim >= 0);
        if (victim == 0) {
                char c = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
                (void)!write(ready[1], &c, 1);
                if (c == 'n')
                        _exit(77);
                execl("/bin/sleep", "sleep", "60", (char *)NULL);
                _exit(127);
        }
        safe_close(ready[1]);
        char c = 'n';
        (void)!read(ready[0], &c, 1);
        safe_close(ready[0]);
        if (c != 'y') {
                waitpid(victim, NULL, 0);
                skip(); /* no permission for network namespaces here */
        }

        _cleanup_free_ char *ns = xasprintf("/proc/%d/ns/net", (int)victim);
        start_watchdog(fx, "kill-netns", ns);
        struct watchdog *w = NULL;
        assert_int_equal(watchdog_open(fx->spec, &w), 0);
        assert_int_equal(watchdog_arm(w, 300 * MSEC, NULL), 0);
        w = watchdog_close(w);

        int status = 0;
        pid_t r = 0;
        uint64_t end = now_monotonic_usec() + 300 * MSEC + SLACK_USEC;
        while ((r = waitpid(victim, &status, WNOHANG)) == 0 && now_monotonic_usec() < end)
                sleep_usec(20 * MSEC);
        if (r != victim) {
                kill(victim, SIGKILL);
                waitpid(victim, NULL, 0);
                fail_msg("the process in the namespace was not killed");
        }
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGKILL);
        /* The watchdog itself, outside the namespace, lives on. */
        assert_status(fx, "ok disarmed fired 1");
}

/* ------------------------------------------------------------------------ */
/* Configuration strings and the other backends                              */

static void test_specs(void **state) {
        struct fx *fx = *state;
        struct watchdog *w = NULL;
        uint64_t eff = 0;

        assert_int_equal(watchdog_open("bogus", &w), -EINVAL);
        assert_int_equal(watchdog_open("", &w), -EINVAL);
        assert_int_equal(watchdog_open("unix:", &w), -EINVAL);
        assert_int_equal(watchdog_open("unix:relative.sock", &w), -EINVAL);
        assert_int_equal(watchdog_open("unix:/nonexistent/wd.sock", &w), -ENOENT);
        assert_int_equal(watchdog_open("/nonexistent/watchdog", &w), -ENOENT);
        _cleanup_free_ char *file = xasprintf("%s/not-a-device", fx->dir);
        assert_int_equal(write_file_atomic(file, "", 0, 0600), 0);
        assert_int_equal(watchdog_open(file, &w), -ENOTTY);
        /* Nobody listening on an existing path. */
        _cleanup_free_ char *dead = xasprintf("unix:%s", file);
        assert_int_equal(watchdog_open(dead, &w), -ECONNREFUSED);
        assert_null(w);

        assert_int_equal(watchdog_open("none", &w), 0);
        assert_string_equal(watchdog_backend(w), "none");
        assert_int_equal(watchdog_arm(w, 0, NULL), -EINVAL);
        assert_int_equal(watchdog_arm(w, 1234 * MSEC, &eff), 0);
        assert_int_equal(eff, 1234 * MSEC);
        assert_true(watchdog_is_armed(w));
        assert_int_equal(watchdog_pet(w), 0);
        assert_int_equal(watchdog_disarm(w), 0);
        assert_false(watchdog_is_armed(w));
        w = watchdog_close(w);
        assert_null(watchdog_close(NULL));
        assert_false(watchdog_is_armed(NULL));

        /* A character device that is not a watchdog: arming fails and
         * leaves nothing open. */
        assert_int_equal(watchdog_open("/dev/null", &w), 0);
        assert_string_equal(watchdog_backend(w), "device");
        assert_int_equal(watchdog_arm(w, 5 * USEC_PER_SEC, NULL), -ENOTTY);
        assert_false(watchdog_is_armed(w));
        assert_int_equal(watchdog_pet(w), -EINVAL);
        w = watchdog_close(w);
}

static void test_program_arguments(void **state) {
        _cleanup_free_ char *prog = program_path();
        static const char *const bad[] = {
                "",                                             /* nothing */
                "--socket /tmp/x.sock",                         /* no action */
                "--socket /tmp/x.sock --action reboot now",     /* unknown action */
                "--socket /tmp/x.sock --action kill-netns",     /* no name */
                "--socket /tmp/x.sock --action kill-netns a/b", /* not a name */
                "--socket /tmp/x.sock --timeout-max soon --action command true",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_free_ char *cmd = xasprintf("'%s' %s >/dev/null 2>&1", prog, bad[i]);
                int status = system(cmd);
                assert_true(WIFEXITED(status));
                if (WEXITSTATUS(status) != 2)
                        fail_msg("'%s' exited %d, want 2", bad[i], WEXITSTATUS(status));
        }
        _cleanup_free_ char *help = xasprintf("'%s' --help >/dev/null", prog);
        assert_int_equal(system(help), 0);
}

int main(void) {
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_pet_then_starve, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_disarm_prevents_firing, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_close_without_disarm_fires, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_reconnects_and_rearms, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_junk_is_refused, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_sigterm_exits_cleanly, setup_command, teardown),
                cmocka_unit_test_setup_teardown(test_kill_netns, setup, teardown),
                cmocka_unit_test_setup_teardown(test_specs, setup, teardown),
                cmocka_unit_test(test_program_arguments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
