/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * exec-int.h: running agent actions (OCF resource agents, fence agents) as
 * child processes from the daemon's libqb loop, without ever blocking it.
 *
 * A request names an executable, its arguments, its complete environment,
 * optional bytes for its stdin and a timeout. The child runs in a process
 * group of its own with every signal at its default and an empty signal
 * mask; stdin is a pipe (or /dev/null), stdout and stderr share one pipe
 * whose last bytes are kept. No other descriptor reaches it.
 *
 * The action is over when the main child exits: output still in the pipe is
 * read at once, then the pipe is closed, so a daemon the agent started that
 * keeps stdout open cannot hold the result back. On timeout the whole
 * process group gets SIGTERM and, after a grace period, SIGKILL.
 *
 * Reaping: every child is watched through a pidfd and reaped with
 * waitid(P_PIDFD) by whoever started it. Nothing in the process may call
 * waitpid(-1) (it would steal exit statuses), and SIGCHLD must not be set to
 * SIG_IGN (children would be reaped by the kernel before us). SIGPIPE must
 * be ignored (clusterd does): a child that exits without reading all of its
 * stdin must not kill the daemon.
 *
 * At most max_running children run at once; further requests wait in a
 * first-in first-out queue of at most max_queued.
 */
#pragma once

#include <qb/qbloop.h>
#include <sys/types.h>

#include "common/common.h"

/* Output kept per action by default, and the most a request may ask for. */
#define EXEC_OUTPUT_DEFAULT (4 * 1024)
#define EXEC_OUTPUT_MAX (1024 * 1024)
/* The most stdin bytes a request may carry. */
#define EXEC_STDIN_MAX (64 * 1024)
/* SIGKILL follows SIGTERM after a quarter of the timeout, at least 100 ms
 * and at most this. */
#define EXEC_KILL_GRACE_MAX_USEC (2 * USEC_PER_SEC)
/* Added to the environment when the request's has no PATH. */
#define EXEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct exec;

struct exec_request {
        const char *path;        /* absolute path of the executable; argv[0] */
        char *const *args;       /* arguments after argv[0] ({ "monitor", NULL }); NULL for none */
        char *const *env;        /* the child's whole environment ("OCF_ROOT=..."); NULL for empty */
        const void *stdin_data;  /* written to the child's stdin, then closed; NULL: /dev/null */
        size_t stdin_size;       /* bytes, at most EXEC_STDIN_MAX */
        uint64_t timeout_usec;   /* counted from the start of the child, not from queueing; > 0 */
        size_t output_max;       /* bytes of output kept (the last ones); 0: EXEC_OUTPUT_DEFAULT */
        const char *description; /* for debug logs ("vm1 monitor"); may be NULL */
};

struct exec_result {
        int error;               /* 0, or -errno when the child could not be started */
        int exit_status;         /* 0..255 when it exited, -1 otherwise */
        int signal;              /* the signal that ended it, 0 when it exited */
        bool timed_out;          /* its timeout passed and it was sent SIGTERM/SIGKILL */
        bool reaped;             /* false only if it outlived SIGKILL by a grace period */
        pid_t pid;               /* 0 when it was never started */
        uint64_t duration_usec;  /* start to exit (monotonic) */
        const char *output;      /* stdout+stderr as printable UTF-8 (see exec_sanitize_output);
                                  * owned by the module, valid during the callback only */
        uint64_t output_dropped; /* bytes of raw output dropped before what output shows */
};

/* Called once per action that was not cancelled, never from inside
 * exec_run() or exec_cancel(). id is no longer valid once it is called. */
typedef void (*exec_done_fn)(uint64_t id, const struct exec_result *result, void *userdata);

/* A runner on loop. max_running >= 1 children at once; max_queued waiting.
 * Caller owns *ret and frees it with exec_free(). -EINVAL on bad limits. */
int exec_new(qb_loop_t *loop, unsigned max_running, unsigned max_queued, struct exec **ret);

/* Kills every running child's process group with SIGKILL, reaps them
 * (waiting at most one second in all), and drops queued requests. No
 * callbacks run. Not to be called from inside a callback. Accepts NULL;
 * returns NULL. */
struct exec *exec_free(struct exec *e);

/* Starts req now, or queues it when max_running children run. Everything
 * req points to is copied. done(id, result, userdata) runs once later,
 * also when the child could not be started (result->error). On success
 * *ret_id (may be NULL) identifies the action for exec_cancel().
 * -EINVAL: bad request (relative path, zero timeout, too much stdin, an
 * environment entry without '='); -EBUSY: the queue is full. */
int exec_run(struct exec *e, const struct exec_request *req, exec_done_fn done, void *userdata, uint64_t *ret_id);

/* Forgets action id: its callback will not run. A queued action is
 * dropped; a running one's process group gets SIGTERM, then SIGKILL after
 * the grace period, and is reaped in the background (it keeps its place
 * under max_running until then). -ESRCH if id is unknown or already done. */
int exec_cancel(struct exec *e, uint64_t id);

/* Children running (including cancelled ones not reaped yet) and
 * requests waiting. */
unsigned exec_running(const struct exec *e);
unsigned exec_queued(const struct exec *e);

/* ------------------------------------------------------------------------ */
/* Results                                                                   */

/* OCF exit codes (resource-agents' ocf-returncodes). */
enum {
        OCF_SUCCESS = 0,
        OCF_ERR_GENERIC = 1,
        OCF_ERR_ARGS = 2,
        OCF_ERR_UNIMPLEMENTED = 3,
        OCF_ERR_PERM = 4,
        OCF_ERR_INSTALLED = 5,
        OCF_ERR_CONFIGURED = 6,
        OCF_NOT_RUNNING = 7,
        OCF_RUNNING_PROMOTED = 8,
        OCF_FAILED_PROMOTED = 9,
        OCF_DEGRADED = 190,
        OCF_DEGRADED_PROMOTED = 191,
};

/* What a result means for the resource, whatever the action. */
enum exec_class {
        EXEC_CLASS_SUCCESS,      /* 0, 190: done as asked (monitor: it runs) */
        EXEC_CLASS_NOT_RUNNING,  /* 7: cleanly stopped (what stop and probes hope for) */
        EXEC_CLASS_ERROR,        /* 1, promotable codes, unknown codes, signals, timeouts: may be retried here */
        EXEC_CLASS_NODE_ERROR,   /* 2, 3, 4, 5, or not startable: cannot work on this node */
        EXEC_CLASS_CONFIG_ERROR, /* 6: its configuration is wrong; it cannot run anywhere */
};

/* "success", "generic error", "not running", ...; "unknown exit code" for
 * codes outside the OCF list. Static strings. */
const char *exec_ocf_name(int code);
/* The class of an exit code; codes outside the OCF list are errors. */
enum exec_class exec_ocf_class(int code);
/* The class of a whole result: start failures are node errors, timeouts
 * and signals are errors, exit codes as exec_ocf_class(). */
enum exec_class exec_result_class(const struct exec_result *r);
/* "success", "not running", "error", "node error", "configuration error". */
const char *exec_class_name(enum exec_class c);

/* One line for logs: "exit 7 (not running) after 12ms", "killed by SIGKILL
 * after timing out in 20s", "cannot start: No such file or directory".
 * Writes at most size bytes into buf and returns buf. */
char *exec_result_format(const struct exec_result *r, char *buf, size_t size);

/* Turns bytes an agent printed into text fit for logs and JSON: valid
 * UTF-8 without control characters other than newline and tab. Invalid or
 * truncated sequences, other control characters (C0, DEL, C1) and NULs
 * become U+FFFD; trailing whitespace is removed. Caller frees. */
char *exec_sanitize_output(const void *data, size_t size);
