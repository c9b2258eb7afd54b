/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-exec.c: agent actions as real child processes on a real libqb loop.
 * Scripts in a temporary directory play agents that succeed, fail, die,
 * hang, ignore SIGTERM, print garbage, leave daemons behind and read fence
 * parameters from stdin; then Debian's own Dummy resource agent and
 * fence_dummy run once each. What matters: every action gets exactly one
 * result (or none after a cancel), in bounded time, with output that is
 * safe to log, and no process is left behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "clusterd/exec-int.h"

#define MAX_GOT 32
/* Generous: the machine is shared and noisy. Timing assertions are upper
 * bounds with this much slack, or orderings. */
#define SLACK_USEC (5 * USEC_PER_SEC)

struct got {
        uint64_t id;
        struct exec_result r; /* r.output points to output */
        char *output;         /* owned */
        uint64_t at_usec;     /* monotonic, when the callback ran */
};

struct fx {
        char *dir;
        qb_loop_t *loop;
        struct exec *e;
        struct got got[MAX_GOT];
        size_t n_got, want;
};

static int setup(void **state) {
        char tmpl[] = "/tmp/test-exec-XXXXXX";
        struct fx *fx = xcalloc(1, sizeof(*fx));
        if (!mkdtemp(tmpl)) {
                free(fx);
                return -1;
        }
        fx->dir = xstrdup(tmpl);
        fx->loop = qb_loop_create();
        if (!fx->loop || exec_new(fx->loop, 4, 16, &fx->e) < 0)
                return -1;
        *state = fx;
        return 0;
}

static int teardown(void **state) {
        struct fx *fx = *state;
        fx->e = exec_free(fx->e);
        qb_loop_destroy(fx->loop);
        for (size_t i = 0; i < fx->n_got; i++)
                free(fx->got[i].output);
        int r = rm_rf(fx->dir);
        free(fx->dir);
        free(fx);
        return r;
}

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */

static char *path_in(struct fx *fx, const char *name) {
        return xasprintf("%s/%s", fx->dir, name);
}

/* Writes an executable /bin/sh script; returns its path (caller frees). */
static char *script(struct fx *fx, const char *name, const char *body) {
        char *path = path_in(fx, name);
        _cleanup_free_ char *text = xasprintf("#!/bin/sh\n%s\n", body);
        assert_int_equal(write_file_atomic(path, text, strlen(text), 0755), 0);
        return path;
}

static void done_cb(uint64_t id, const struct exec_result *r, void *userdata) {
        struct fx *fx = userdata;
        assert_true(fx->n_got < MAX_GOT);
        struct got *g = &fx->got[fx->n_got++];
        g->id = id;
        g->r = *r;
        g->output = xstrdup(r->output);
        g->r.output = g->output;
        g->at_usec = now_monotonic_usec();
        if (fx->n_got >= fx->want)
                qb_loop_stop(fx->loop);
}

static void guard_cb(void *data) {
        struct fx *fx = data;
        qb_loop_stop(fx->loop);
}

/* Runs the loop for usec, or until want results arrived. */
static void run_loop(struct fx *fx, size_t want, uint64_t usec) {
        qb_loop_timer_handle t;
        fx->want = want;
        if (fx->n_got >= want)
                return;
        assert_int_equal(qb_loop_timer_add(fx->loop, QB_LOOP_LOW, usec * NSEC_PER_USEC, fx, guard_cb, &t), 0);
        qb_loop_run(fx->loop);
        qb_loop_timer_del(fx->loop, t);
}

static void wait_results(struct fx *fx, size_t want) {
        run_loop(fx, want, 60 * USEC_PER_SEC);
        if (fx->n_got < want)
                fail_msg("only %zu of %zu results arrived within 60s", fx->n_got, want);
}

static const struct got *result_of(struct fx *fx, uint64_t id) {
        for (size_t i = 0; i < fx->n_got; i++)
                if (fx->got[i].id == id)
                        return &fx->got[i];
        fail_msg("no result for action %" PRIu64, id);
        abort(); /* not reached: fail_msg() does not return */
}

static uint64_t run(struct fx *fx, const char *path, const char *arg, char *const *env, uint64_t timeout_usec) {
        char *args[] = { (char *)arg, NULL };
        struct exec_request req = {
                .path = path,
                .args = arg ? args : NULL,
                .env = env,
                .timeout_usec = timeout_usec,
                .description = arg,
        };
        uint64_t id = 0;
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, &id), 0);
        assert_true(id > 0);
        return id;
}

static uint64_t run_stdin(struct fx *fx, const char *path, const char *in, size_t size) {
        struct exec_request req = {
                .path = path, .stdin_data = in, .stdin_size = size, .timeout_usec = 20 * USEC_PER_SEC
        };
        uint64_t id = 0;
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, &id), 0);
        return id;
}

static pid_t read_pid_file(const char *path) {
        _cleanup_free_ char *text = NULL;
        uint32_t pid = 0;
        if (read_full_file(path, 64, &text, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = '\0';
        return parse_uint32(text, &pid) >= 0 ? (pid_t)pid : 0;
}

/* Runs the loop until path holds a pid (the script got that far). */
static pid_t wait_pid_file(struct fx *fx, const char *path) {
        for (int i = 0; i < 200; i++) {
                pid_t pid = read_pid_file(path);
                if (pid > 0)
                        return pid;
                run_loop(fx, SIZE_MAX, 50 * USEC_PER_MSEC);
        }
        fail_msg("'%s' never appeared", path);
        return 0;
}

/* Gone, or a zombie waiting for a reaper that is not us (an orphaned
 * grandchild whose new parent reaps lazily). */
static bool process_gone(pid_t pid) {
        char path[64], buf[512];
        if (kill(pid, 0) == -1 && errno == ESRCH)
                return true;
        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f || !fgets(buf, sizeof(buf), f))
                return true;
        const char *p = strrchr(buf, ')');
        return p && p[1] == ' ' && p[2] == 'Z';
}

static void assert_gone_soon(struct fx *fx, pid_t pid) {
        for (int i = 0; i < 100 && !process_gone(pid); i++)
                run_loop(fx, SIZE_MAX, 50 * USEC_PER_MSEC);
        if (!process_gone(pid))
                fail_msg("process %d is still running", (int)pid);
}

static bool printable_utf8(const char *s) {
        if (!utf8_is_valid(s, strlen(s)))
                return false;
        for (const unsigned char *p = (const unsigned char *)s; *p; p++)
                if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
                        return false;
        return true;
}

/* ------------------------------------------------------------------------ */
/* Results of ordinary agents                                                */

static void test_success_and_child_setup(void **state) {
        struct fx *fx = *state;
        /* A descriptor without O_CLOEXEC, as a careless library might leave
         * one: the child must not see it. */
        int leak = open("/dev/null", O_RDONLY);
        assert_true(leak > 2);
        sigset_t usr2, old;
        sigemptyset(&usr2);
        sigaddset(&usr2, SIGUSR2);
        sigprocmask(SIG_BLOCK, &usr2, &old);

        _cleanup_free_ char *env_leak = xasprintf("LEAK_FD=%d", leak);
        /* The shell reads its own signal state first, with builtins only:
         * later, while it waits for a child, it blocks signals itself. */
        _cleanup_free_ char *path = script(fx, "agent",
                                           "while read -r l; do case $l in Sig[BI]*) echo \"$l\";; esac; done"
                                           " < /proc/$$/status\n"
                                           "echo \"action=$1 root=$OCF_ROOT path=${PATH:+set}\"\n"
                                           "echo 'to stderr' >&2\n"
                                           "[ -e /proc/$$/fd/$LEAK_FD ] && echo 'fd leaked'\n"
                                           "[ -e /proc/$$/fd/0 ] && echo 'stdin open'\n"
                                           "set -- $(cat /proc/$$/stat)\n"
                                           "[ \"$1\" = \"$5\" ] && echo 'own process group'\n"
                                           "exit 0");
        char *env[] = { (char *)"OCF_ROOT=/usr/lib/ocf", env_leak, NULL };
        uint64_t id = run(fx, path, "start", env, 20 * USEC_PER_SEC);
        sigprocmask(SIG_SETMASK, &old, NULL);
        close(leak);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        assert_int_equal(g->r.error, 0);
        assert_int_equal(g->r.exit_status, 0);
        assert_int_equal(g->r.signal, 0);
        assert_false(g->r.timed_out);
        assert_true(g->r.reaped);
        assert_true(g->r.pid > 0);
        assert_int_equal(g->r.output_dropped, 0);
        assert_non_null(strstr(g->output, "action=start root=/usr/lib/ocf path=set\n"));
        assert_non_null(strstr(g->output, "to stderr"));
        assert_null(strstr(g->output, "fd leaked"));
        assert_non_null(strstr(g->output, "stdin open"));
        assert_non_null(strstr(g->output, "SigBlk:\t0000000000000000"));
        /* Nothing ignored below SIGRTMIN. (glibc's posix_spawn leaves its
         * two internal signals, 32 and 33, ignored; no agent uses them.) */
        const char *ign = strstr(g->output, "SigIgn:\t");
        assert_non_null(ign);
        assert_int_equal(strtoull(ign + 8, NULL, 16) & UINT64_C(0x7fffffff), 0);
        assert_non_null(strstr(g->output, "own process group"));
        assert_int_equal(exec_result_class(&g->r), EXEC_CLASS_SUCCESS);
        char buf[128];
        assert_non_null(strstr(exec_result_format(&g->r, buf, sizeof(buf)), "exit 0 (success) after "));
        assert_int_equal(exec_running(fx->e), 0);
        assert_int_equal(exec_queued(fx->e), 0);
}

static void test_exit_codes(void **state) {
        struct fx *fx = *state;
        static const struct {
                int code;
                enum exec_class class;
                const char *name;
        } cases[] = {
                { 7, EXEC_CLASS_NOT_RUNNING, "not running" },  { 42, EXEC_CLASS_ERROR, "unknown exit code" },
                { 1, EXEC_CLASS_ERROR, "generic error" },      { 3, EXEC_CLASS_NODE_ERROR, "unimplemented" },
                { 5, EXEC_CLASS_NODE_ERROR, "not installed" }, { 6, EXEC_CLASS_CONFIG_ERROR, "not configured" },
                { 190, EXEC_CLASS_SUCCESS, "degraded" },       { 8, EXEC_CLASS_ERROR, "running promoted" },
        };
        uint64_t ids[ELEMENTSOF(cases)];
        _cleanup_free_ char *path = script(fx, "exit", "echo \"exiting $1\"; exit $1");

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char code[16];
                snprintf(code, sizeof(code), "%d", cases[i].code);
                ids[i] = run(fx, path, code, NULL, 20 * USEC_PER_SEC);
        }
        wait_results(fx, ELEMENTSOF(cases));
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                const struct got *g = result_of(fx, ids[i]);
                char buf[128], want[64];
                assert_int_equal(g->r.exit_status, cases[i].code);
                assert_int_equal(g->r.signal, 0);
                assert_int_equal(exec_result_class(&g->r), cases[i].class);
                assert_string_equal(exec_ocf_name(cases[i].code), cases[i].name);
                snprintf(want, sizeof(want), "exit %d (%s)", cases[i].code, cases[i].name);
                assert_non_null(strstr(exec_result_format(&g->r, buf, sizeof(buf)), want));
                snprintf(want, sizeof(want), "exiting %d", cases[i].code);
                assert_string_equal(g->output, want);
        }
}

static void test_killed_by_signal(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *path = script(fx, "die", "echo 'about to die'; kill -USR1 $$; sleep 5");
        uint64_t id = run(fx, path, "monitor", NULL, 20 * USEC_PER_SEC);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        char buf[128];
        assert_int_equal(g->r.error, 0);
        assert_int_equal(g->r.exit_status, -1);
        assert_int_equal(g->r.signal, SIGUSR1);
        assert_false(g->r.timed_out);
        assert_string_equal(g->output, "about to die");
        assert_int_equal(exec_result_class(&g->r), EXEC_CLASS_ERROR);
        assert_non_null(strstr(exec_result_format(&g->r, buf, sizeof(buf)), "killed by SIGUSR1"));
}

/* ------------------------------------------------------------------------ */
/* Agents that do not end by themselves                                      */

static void test_timeout_kills_group(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *pidfile = path_in(fx, "sleep.pid");
        _cleanup_free_ char *body = xasprintf("echo started\nsleep 30 &\necho $! > %s\nwait", pidfile);
        _cleanup_free_ char *path = script(fx, "hang", body);
        const uint64_t timeout = 300 * USEC_PER_MSEC;
        uint64_t t0 = now_monotonic_usec();
        uint64_t id = run(fx, path, "start", NULL, timeout);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        char buf[128];
        assert_true(g->r.timed_out);
        assert_true(g->r.reaped);
        assert_int_equal(g->r.signal, SIGTERM);
        assert_true(g->r.duration_usec >= timeout);
        assert_true(g->at_usec - t0 < timeout + EXEC_KILL_GRACE_MAX_USEC + SLACK_USEC);
        assert_string_equal(g->output, "started");
        assert_int_equal(exec_result_class(&g->r), EXEC_CLASS_ERROR);
        assert_non_null(strstr(exec_result_format(&g->r, buf, sizeof(buf)), "killed by SIGTERM after timing out"));
        /* The grandchild was in the group: it went too. */
        pid_t sleeper = read_pid_file(pidfile);
        assert_true(sleeper > 0);
        assert_gone_soon(fx, sleeper);
}

static void test_timeout_ignoring_sigterm(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *path = script(fx, "stubborn", "trap '' TERM\necho ready\nwhile :; do sleep 0.05; done");
        const uint64_t timeout = 300 * USEC_PER_MSEC;
        uint64_t t0 = now_monotonic_usec();
        uint64_t id = run(fx, path, "stop", NULL, timeout);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        assert_true(g->r.timed_out);
        assert_int_equal(g->r.signal, SIGKILL);
        /* SIGTERM at the timeout, SIGKILL a grace later: not before both. */
        assert_true(g->r.duration_usec >= timeout + 100 * USEC_PER_MSEC);
        assert_true(g->at_usec - t0 < timeout + EXEC_KILL_GRACE_MAX_USEC + SLACK_USEC);
        assert_string_equal(g->output, "ready");
        assert_int_equal(exec_running(fx->e), 0);
}

static void test_daemon_keeps_stdout(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *pidfile = path_in(fx, "daemon.pid");
        /* The daemon inherits stdout and stderr and never closes them. */
        _cleanup_free_ char *body = xasprintf("sleep 60 &\necho $! > %s\necho 'daemon started'\nexit 0", pidfile);
        _cleanup_free_ char *path = script(fx, "daemonize", body);
        uint64_t t0 = now_monotonic_usec();
        uint64_t id = run(fx, path, "start", NULL, 30 * USEC_PER_SEC);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        assert_int_equal(g->r.exit_status, 0);
        assert_false(g->r.timed_out);
        assert_string_equal(g->output, "daemon started");
        /* Long before the daemon, or the timeout, would end it. */
        assert_true(g->at_usec - t0 < 10 * USEC_PER_SEC);
        /* A successful action's daemons are left alone. */
        pid_t daemon = read_pid_file(pidfile);
        assert_true(daemon > 0);
        assert_int_equal(kill(daemon, 0), 0);
        kill(daemon, SIGKILL);
        assert_gone_soon(fx, daemon);
}

/* ------------------------------------------------------------------------ */
/* Output and input                                                          */

static void test_garbage_output(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *path =
                script(fx, "garbage", "head -c 1048576 /dev/urandom\nprintf 'tail\\001\\033[31m\\n'");
        uint64_t id = run(fx, path, "monitor", NULL, 30 * USEC_PER_SEC);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        assert_int_equal(g->r.exit_status, 0);
        /* The last 4 KiB at most (a cut character may cost 3 bytes more),
         * and each kept byte at most 3 bytes of text. */
        assert_true(g->r.output_dropped >= 1048576 + 11 - EXEC_OUTPUT_DEFAULT);
        assert_true(g->r.output_dropped <= 1048576 + 11 - EXEC_OUTPUT_DEFAULT + 3);
        assert_true(strlen(g->output) <= 3 * EXEC_OUTPUT_DEFAULT);
        assert_true(printable_utf8(g->output));
        /* The end is what was printed last, control characters replaced. */
        size_t n = strlen(g->output);
        const char *want = "tail\xef\xbf\xbd\xef\xbf\xbd[31m";
        assert_true(n >= strlen(want));
        assert_string_equal(g->output + n - strlen(want), want);
}

static void test_output_max(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *path =
                script(fx, "count", "i=0; while [ $i -lt 1000 ]; do echo \"line $i\"; i=$((i+1)); done");
        struct exec_request req = { .path = path, .timeout_usec = 20 * USEC_PER_SEC, .output_max = 16 };
        uint64_t id;
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, &id), 0);
        req.output_max = EXEC_OUTPUT_MAX + 1;
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, NULL), -EINVAL);
        wait_results(fx, 1);

        const struct got *g = result_of(fx, id);
        assert_string_equal(g->output, "ne 998\nline 999"); /* the last 16 bytes */
        assert_true(g->r.output_dropped > 0);
}

static void test_stdin_fence_style(void **state) {
        struct fx *fx = *state;
        /* The fence-agents protocol: key=value lines on stdin. */
        _cleanup_free_ char *fence = script(fx, "fence_test",
                                            "action=; plug=\n"
                                            "while IFS='=' read -r k v; do\n"
                                            "  case \"$k\" in action) action=$v;; plug) plug=$v;; esac\n"
                                            "done\n"
                                            "echo \"action=$action plug=$plug\"\n"
                                            "[ \"$action\" = off ] && exit 0\n"
                                            "exit 1");
        _cleanup_free_ char *count = script(fx, "count_stdin", "wc -c");
        _cleanup_free_ char *deaf = script(fx, "deaf", "exit 0");
        static const char params[] = "action=off\nplug=node2\nnodename=node2\n";
        _cleanup_free_ char *big = xmalloc(EXEC_STDIN_MAX);
        memset(big, 'x', EXEC_STDIN_MAX);

        uint64_t a = run_stdin(fx, fence, params, strlen(params));
        uint64_t b = run_stdin(fx, count, big, EXEC_STDIN_MAX);
        /* Exits without reading 64 KiB: the write fails, nothing else. */
        uint64_t c = run_stdin(fx, deaf, big, EXEC_STDIN_MAX);
        struct exec_request too_big = {
                .path = count, .stdin_data = big, .stdin_size = EXEC_STDIN_MAX + 1, .timeout_usec = USEC_PER_SEC
        };
        assert_int_equal(exec_run(fx->e, &too_big, done_cb, fx, NULL), -EINVAL);
        wait_results(fx, 3);

        assert_int_equal(result_of(fx, a)->r.exit_status, 0);
        assert_string_equal(result_of(fx, a)->output, "action=off plug=node2");
        assert_int_equal(result_of(fx, b)->r.exit_status, 0);
        assert_string_equal(result_of(fx, b)->output, "65536");
        assert_int_equal(result_of(fx, c)->r.exit_status, 0);
}

static void test_sanitize(void **state) {
        static const struct {
                const char *in;
                size_t size;
                const char *out;
        } cases[] = {
                { "ok\n\n  ", 5, "ok" },
                { "a\x01z", 3, "a\xef\xbf\xbdz" },
                { "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 14, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80" },
                { "x\xc3", 2, "x\xef\xbf\xbd" },                                               /* truncated */
                { "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },                                 /* overlong '/' */
                { "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },                 /* surrogate */
                { "\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* > U+10FFFF */
                { "\xc2\x85", 2, "\xef\xbf\xbd" },                                             /* C1 control */
                { "a\0b", 3,
                  "a\xef\xbf\xbd"
                  "b" },
                { "a\r\nb\rc", 6,
                  "a\nb\xef\xbf\xbd"
                  "c" },
                { "tab\there\x7f", 9, "tab\there\xef\xbf\xbd" },
                { "", 0, "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *out = exec_sanitize_output(cases[i].in, cases[i].size);
                if (!streq(out, cases[i].out))
                        fail_msg("case %zu: got '%s', want '%s'", i, out, cases[i].out);
                assert_true(printable_utf8(out));
        }
}

/* ------------------------------------------------------------------------ */
/* Starting, cancelling, limits                                              */

static void test_start_failures(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *noexec = path_in(fx, "not-executable");
        assert_int_equal(write_file_atomic(noexec, "#!/bin/sh\n", 10, 0644), 0);

        uint64_t a = run(fx, "/nonexistent/agent", "start", NULL, USEC_PER_SEC);
        uint64_t b = run(fx, noexec, "start", NULL, USEC_PER_SEC);
        /* Never from inside exec_run(). */
        assert_int_equal(fx->n_got, 0);
        wait_results(fx, 2);

        char buf[128];
        const struct got *g = result_of(fx, a);
        assert_int_equal(g->r.error, -ENOENT);
        assert_int_equal(g->r.pid, 0);
        assert_int_equal(exec_result_class(&g->r), EXEC_CLASS_NODE_ERROR);
        assert_string_equal(exec_result_format(&g->r, buf, sizeof(buf)), "cannot start: No such file or directory");
        assert_string_equal(g->output, "");
        assert_int_equal(result_of(fx, b)->r.error, -EACCES);

        /* Requests that are wrong are refused at once. */
        char *bad_env[] = { (char *)"NO_EQUALS_SIGN", NULL };
        struct exec_request req = { .path = "relative/agent", .timeout_usec = USEC_PER_SEC };
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, NULL), -EINVAL);
        req = (struct exec_request){ .path = "/bin/true" };
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, NULL), -EINVAL);
        req = (struct exec_request){ .path = "/bin/true", .timeout_usec = USEC_PER_SEC, .env = bad_env };
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, NULL), -EINVAL);
        assert_int_equal(exec_running(fx->e), 0);
        assert_int_equal(exec_queued(fx->e), 0);
}

static void test_cancel(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *pidfile = path_in(fx, "cancel.pid");
        _cleanup_free_ char *body = xasprintf("echo $$ > %s\nexec sleep 30", pidfile);
        _cleanup_free_ char *path = script(fx, "long", body);
        uint64_t id = run(fx, path, "monitor", NULL, 60 * USEC_PER_SEC);
        pid_t pid = wait_pid_file(fx, pidfile);

        assert_int_equal(exec_cancel(fx->e, id), 0);
        assert_int_equal(exec_cancel(fx->e, id), -ESRCH);
        assert_int_equal(exec_cancel(fx->e, 999999), -ESRCH);
        /* Reaped by us (so gone, not a zombie), and no callback. */
        for (int i = 0; i < 100 && exec_running(fx->e) > 0; i++)
                run_loop(fx, SIZE_MAX, 50 * USEC_PER_MSEC);
        assert_int_equal(exec_running(fx->e), 0);
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        run_loop(fx, SIZE_MAX, 200 * USEC_PER_MSEC);
        assert_int_equal(fx->n_got, 0);
}

static void test_limit_and_queue(void **state) {
        struct fx *fx = *state;
        struct exec *two = NULL;
        _cleanup_free_ char *runs = path_in(fx, "runs");
        _cleanup_free_ char *counts = path_in(fx, "counts");
        assert_int_equal(mkdir(runs, 0755), 0);
        /* Each records how many are running with it, itself included. */
        _cleanup_free_ char *body = xasprintf("touch %1$s/$$\n"
                                              "ls %1$s | wc -l >> %2$s\n"
                                              "sleep 0.3\n"
                                              "rm %1$s/$$",
                                              runs, counts);
        _cleanup_free_ char *path = script(fx, "busy", body);
        struct exec_request req = { .path = path, .timeout_usec = 30 * USEC_PER_SEC };

        assert_int_equal(exec_new(fx->loop, 0, 4, &two), -EINVAL);
        assert_int_equal(exec_new(fx->loop, 2, 4, &two), 0);
        for (int i = 0; i < 6; i++)
                assert_int_equal(exec_run(two, &req, done_cb, fx, NULL), 0);
        /* 2 running, 4 waiting: the queue is full. */
        assert_int_equal(exec_running(two), 2);
        assert_int_equal(exec_queued(two), 4);
        assert_int_equal(exec_run(two, &req, done_cb, fx, NULL), -EBUSY);
        wait_results(fx, 6);
        for (size_t i = 0; i < 6; i++)
                assert_int_equal(fx->got[i].r.exit_status, 0);

        _cleanup_free_ char *text = NULL;
        assert_int_equal(read_full_file(counts, 4096, &text, NULL), 0);
        unsigned lines = 0;
        for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n"), lines++) {
                uint32_t n;
                assert_int_equal(parse_uint32(line + strspn(line, " "), &n), 0);
                if (n < 1 || n > 2)
                        fail_msg("%" PRIu32 " ran at once with a limit of 2", n);
        }
        assert_int_equal(lines, 6);
        two = exec_free(two);
}

static void test_queue_order(void **state) {
        struct fx *fx = *state;
        struct exec *one = NULL;
        _cleanup_free_ char *path = script(fx, "quick", "sleep 0.1; echo \"$1\"");
        assert_int_equal(exec_new(fx->loop, 1, 8, &one), 0);
        for (int i = 0; i < 5; i++) {
                char arg[8];
                snprintf(arg, sizeof(arg), "n%d", i);
                char *args[] = { arg, NULL };
                struct exec_request req = { .path = path, .args = args, .timeout_usec = 30 * USEC_PER_SEC };
                assert_int_equal(exec_run(one, &req, done_cb, fx, NULL), 0);
        }
        wait_results(fx, 5);
        for (int i = 0; i < 5; i++) {
                char want[8];
                snprintf(want, sizeof(want), "n%d", i);
                assert_string_equal(fx->got[i].output, want);
        }
        one = exec_free(one);
}

static void test_free_kills_running(void **state) {
        struct fx *fx = *state;
        _cleanup_free_ char *pidfile = path_in(fx, "free.pid");
        _cleanup_free_ char *body = xasprintf("echo $$ > %s\nexec sleep 30", pidfile);
        _cleanup_free_ char *path = script(fx, "forever", body);
        run(fx, path, "start", NULL, 60 * USEC_PER_SEC);
        run(fx, path, "queued", NULL, 60 * USEC_PER_SEC);
        pid_t pid = wait_pid_file(fx, pidfile);

        fx->e = exec_free(fx->e);
        /* Killed and reaped before exec_free() returned; no callbacks. */
        assert_int_equal(kill(pid, 0), -1);
        assert_int_equal(errno, ESRCH);
        assert_int_equal(fx->n_got, 0);
}

/* ------------------------------------------------------------------------ */
/* Debian's agents                                                           */

#define DUMMY_AGENT "/usr/lib/ocf/resource.d/heartbeat/Dummy"
#define FENCE_DUMMY "/usr/sbin/fence_dummy"

static void test_debian_dummy_agent(void **state) {
        struct fx *fx = *state;
        if (access(DUMMY_AGENT, X_OK) < 0)
                skip();
        _cleanup_free_ char *statefile = xasprintf("OCF_RESKEY_state=%s/dummy.state", fx->dir);
        char *env[] = { (char *)"OCF_ROOT=/usr/lib/ocf", (char *)"OCF_RESOURCE_INSTANCE=test-dummy", statefile,
                        (char *)"OCF_RESKEY_CRM_meta_timeout=20000", NULL };
        static const struct {
                const char *action;
                int want;
        } steps[] = {
                { "monitor", OCF_NOT_RUNNING }, { "start", OCF_SUCCESS },       { "monitor", OCF_SUCCESS },
                { "stop", OCF_SUCCESS },        { "monitor", OCF_NOT_RUNNING },
        };
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                uint64_t id = run(fx, DUMMY_AGENT, steps[i].action, env, 20 * USEC_PER_SEC);
                wait_results(fx, i + 1);
                const struct got *g = result_of(fx, id);
                if (g->r.exit_status != steps[i].want)
                        fail_msg("Dummy %s: exit %d (%s), want %d; output: %s", steps[i].action, g->r.exit_status,
                                 exec_ocf_name(g->r.exit_status), steps[i].want, g->output);
        }

        /* meta-data is bigger than the default; a request may keep more. */
        char *args[] = { (char *)"meta-data", NULL };
        struct exec_request req = { .path = DUMMY_AGENT,
                                    .args = args,
                                    .env = env,
                                    .timeout_usec = 20 * USEC_PER_SEC,
                                    .output_max = 64 * 1024 };
        uint64_t id;
        assert_int_equal(exec_run(fx->e, &req, done_cb, fx, &id), 0);
        wait_results(fx, ELEMENTSOF(steps) + 1);
        const struct got *g = result_of(fx, id);
        assert_int_equal(g->r.exit_status, 0);
        assert_int_equal(g->r.output_dropped, 0);
        assert_non_null(strstr(g->output, "<resource-agent name=\"Dummy\""));
}

static void test_debian_fence_dummy(void **state) {
        struct fx *fx = *state;
        if (access(FENCE_DUMMY, X_OK) < 0)
                skip();
        _cleanup_free_ char *status = path_in(fx, "fence.status");
        assert_int_equal(write_file_atomic(status, "on", 2, 0644), 0);
        _cleanup_free_ char *off = xasprintf("action=off\nstatus_file=%s\n", status);
        _cleanup_free_ char *query = xasprintf("action=status\nstatus_file=%s\n", status);
        _cleanup_free_ char *monitor = xasprintf("action=monitor\nstatus_file=%s\n", status);

        uint64_t a = run_stdin(fx, FENCE_DUMMY, off, strlen(off));
        wait_results(fx, 1);
        const struct got *g = result_of(fx, a);
        if (g->r.exit_status != 0)
                fail_msg("fence_dummy off: exit %d; output: %s", g->r.exit_status, g->output);
        assert_non_null(strstr(g->output, "Success: Powered OFF"));

        /* fence-agents' status: 0 on, 2 off. */
        uint64_t b = run_stdin(fx, FENCE_DUMMY, query, strlen(query));
        uint64_t c = run_stdin(fx, FENCE_DUMMY, monitor, strlen(monitor));
        wait_results(fx, 3);
        assert_int_equal(result_of(fx, b)->r.exit_status, 2);
        assert_non_null(strstr(result_of(fx, b)->output, "Status: OFF"));
        assert_int_equal(result_of(fx, c)->r.exit_status, 0);
}

int main(void) {
        /* As in clusterd: a child that stops reading its stdin must not
         * take the daemon with it. */
        signal(SIGPIPE, SIG_IGN);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_success_and_child_setup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_exit_codes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout_kills_group, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timeout_ignoring_sigterm, setup, teardown),
                cmocka_unit_test_setup_teardown(test_daemon_keeps_stdout, setup, teardown),
                cmocka_unit_test_setup_teardown(test_garbage_output, setup, teardown),
                cmocka_unit_test_setup_teardown(test_output_max, setup, teardown),
                cmocka_unit_test_setup_teardown(test_stdin_fence_style, setup, teardown),
                cmocka_unit_test(test_sanitize),
                cmocka_unit_test_setup_teardown(test_start_failures, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
                cmocka_unit_test_setup_teardown(test_limit_and_queue, setup, teardown),
                cmocka_unit_test_setup_teardown(test_queue_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_free_kills_running, setup, teardown),
                cmocka_unit_test_setup_teardown(test_debian_dummy_agent, setup, teardown),
                cmocka_unit_test_setup_teardown(test_debian_fence_dummy, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
