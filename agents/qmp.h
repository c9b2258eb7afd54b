/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qmp.h: a small client for QEMU's machine protocol (QMP) over a unix
 * socket, shared by the vm agent and the migration code.
 *
 * Two layers:
 *  - a pure part that frames and parses what QEMU sends (qmp_reader_*,
 *    qmp_msg_*, qmp_status_parse): no I/O, fuzzed by tests/fuzz/fuzz-qmp;
 *  - a blocking client (qmp_connect, qmp_execute) for short-lived callers
 *    such as agents. Every call takes an absolute deadline on the monotonic
 *    clock (now_monotonic_usec()) and never waits past it.
 *
 * QEMU sends one JSON object per line ("...\r\n"). A peer that sends
 * something else, nothing, too much, or closes the connection is reported
 * as an error with a message; nothing here asserts on what arrives.
 * Functions return >= 0 on success and -errno on failure, and fill `e`
 * (which may be NULL) with a message that names what went wrong.
 */
#pragma once

#include "common/common.h"

/* The largest message accepted, without its line end. QEMU's largest
 * replies (query-qmp-schema) are around 200 KiB. */
#define QMP_MSG_MAX (1024 * 1024)

/* Events skipped while waiting for one reply; more is a flood, not QEMU. */
#define QMP_EVENTS_MAX 1024

enum qmp_msg_type {
        QMP_MSG_GREETING, /* {"QMP": {...}}, the first thing QEMU sends */
        QMP_MSG_RETURN,   /* {"return": ..., "id": ...} */
        QMP_MSG_ERROR,    /* {"error": {"class": ..., "desc": ...}, "id": ...} */
        QMP_MSG_EVENT,    /* {"event": ..., "data": ..., "timestamp": ...} */
};

struct qmp_msg {
        enum qmp_msg_type type;
        json_object *root;       /* owned: the whole message */
        json_object *value;      /* borrowed from root: the greeting's "QMP", "return", or an event's
                                    "data" (NULL when absent) */
        const char *event;       /* borrowed: the event's name (QMP_MSG_EVENT only) */
        const char *error_class; /* borrowed: e.g. "GenericError" (QMP_MSG_ERROR only) */
        const char *error_desc;  /* borrowed: QEMU's message (QMP_MSG_ERROR only) */
        int64_t id;              /* the reply's "id" when it is a non-negative integer, else -1 */
};

/* Parses one message (a line without its line end; need not be
 * NUL-terminated). On success *ret owns the parsed tree (release it with
 * qmp_msg_done()). -EBADMSG for anything that is not a well-formed QMP
 * greeting, reply, error or event. */
int qmp_msg_parse(const char *data, size_t size, struct qmp_msg *ret, struct err *e);

/* Releases what m owns and clears it; accepts a cleared m. */
void qmp_msg_done(struct qmp_msg *m);

const char *qmp_msg_type_to_string(enum qmp_msg_type t);

/* Splits a byte stream into lines of at most QMP_MSG_MAX bytes. */
struct qmp_reader {
        char *buf;   /* owned; grows up to QMP_MSG_MAX + 2 bytes */
        size_t used; /* bytes buffered, not yet returned as messages */
        size_t size; /* allocated size of buf */
};

/* How many more bytes qmp_reader_feed() accepts now (at least 1 unless
 * qmp_reader_next() has reported -EMSGSIZE). */
size_t qmp_reader_space(const struct qmp_reader *r);

/* Copies up to qmp_reader_space() bytes of data into the reader and
 * returns how many it took. */
size_t qmp_reader_feed(struct qmp_reader *r, const void *data, size_t size);

/* Takes the next complete message out of the buffer. Returns 1 and fills
 * *ret (caller owns it), 0 when no complete line is buffered yet,
 * -EMSGSIZE when QMP_MSG_MAX bytes arrived without a line end (the stream
 * cannot be resynchronised), or -EBADMSG when a line is not a QMP message
 * (that line is dropped). Blank lines are skipped. */
int qmp_reader_next(struct qmp_reader *r, struct qmp_msg *ret, struct err *e);

/* Frees the buffer; the reader can be used again afterwards. */
void qmp_reader_done(struct qmp_reader *r);

/* QEMU's run state as reported by query-status. */
struct qmp_status {
        char status[32]; /* QEMU's RunState name: "running", "paused", "inmigrate", ... */
        bool running;    /* whether the guest's vCPUs run */
};

/* Reads a query-status "return" value. -EBADMSG when it lacks "status"
 * (a short lowercase name) or "running" (a boolean). */
int qmp_status_parse(json_object *value, struct qmp_status *ret, struct err *e);

/* A connection to one QMP socket. */
struct qmp;

/* Connects to the unix socket at path, reads QEMU's greeting and
 * negotiates capabilities, all before deadline_usec (monotonic). A socket
 * that is missing (-ENOENT) or has no listener (-ECONNREFUSED) is retried
 * until the deadline only when `retry` is true (for a QEMU that is still
 * starting). -ETIMEDOUT when the peer does not answer in time, -EBADMSG
 * when it answers something that is not QMP, -ECONNRESET when it closes.
 * On success the caller owns *ret (qmp_free()). */
int qmp_connect(const char *path, bool retry, uint64_t deadline_usec, struct qmp **ret, struct err *e);

/* Runs command with arguments (borrowed; NULL for none) and waits until
 * deadline_usec for its reply, skipping events. On success, when ret_value
 * is not NULL, *ret_value is a new reference to the "return" value that the
 * caller owns. A QMP error reply gives -EREMOTEIO with QEMU's class and
 * message in e. After a -ETIMEDOUT, -EBADMSG, -EMSGSIZE or -ECONNRESET the
 * connection is unusable. */
int qmp_execute(struct qmp *q, const char *command, json_object *arguments, uint64_t deadline_usec,
                json_object **ret_value, struct err *e);

/* query-status. */
int qmp_query_status(struct qmp *q, uint64_t deadline_usec, struct qmp_status *ret, struct err *e);

/* Closes the connection. Accepts NULL; returns NULL. */
struct qmp *qmp_free(struct qmp *q);

static inline void qmp_freep(struct qmp **q) {
        qmp_free(*q);
}
#define _cleanup_qmp_ _cleanup_(qmp_freep)
