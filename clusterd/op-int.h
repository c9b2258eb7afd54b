/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * op-int.h: the messages clusterd nodes exchange through CPG, and the
 * operations (changes to the replicated database) carried in them.
 *
 * Wire format: a fixed header, then a body whose layout depends on the
 * message type. All integers are little-endian; strings and byte strings
 * are a u32 length followed by the bytes (no NUL). Every length is checked
 * against the remaining bytes and against a per-field limit, so a truncated
 * or malicious message is refused with a message saying what was wrong,
 * never read past its end.
 *
 *   u32 magic "CLD1" | u8 type | u8 version | u16 reserved (0)
 *   u64 view      hash of the sorted group membership the sender was in
 *   u32 round     the sender's sync round counter
 *   u32 body_len  bytes that follow
 */
#pragma once

#include "common/common.h"

#define MSG_MAGIC UINT32_C(0x31444c43) /* "CLD1" read as little-endian */
#define MSG_VERSION 1
#define MSG_HEADER_SIZE 24

/* Field limits, shared by encoder checks and decoder checks. */
#define OP_NAME_MAX 63         /* node, token names */
#define OP_KEY_MAX 128         /* setting keys */
#define OP_VALUE_MAX 4096      /* setting values */
#define OP_ADDRESS_MAX 255     /* node addresses */
#define OP_CLIENT_MAX 128      /* "token:automation" */
#define OP_TEXT_MAX 1024       /* event messages */
#define OP_HASH_SIZE 32        /* sha256 of a secret */
#define OP_DOC_MAX (64 * 1024) /* a role definition or fence configuration (JSON) */

enum msg_type {
        MSG_STATE = 1,     /* a member's database state, sent after each group change */
        MSG_CHUNK = 2,     /* a piece of the sync winner's snapshot */
        MSG_INSTALLED = 3, /* a member installed the snapshot */
        MSG_OP = 4,        /* operations to apply, in order (one origin's batch) */
        MSG_ACK = 5,       /* a member persisted everything up to a version */
        MSG_EVICT = 6,     /* a member did not answer in time: stop waiting for it */
        _MSG_TYPE_MAX,
};

struct msg_header {
        enum msg_type type;
        uint64_t view;  /* membership hash the sender was in */
        uint32_t round; /* sender's sync round */
};

/* Database identity and position, as exchanged in MSG_STATE. */
struct db_position {
        uint64_t epoch;   /* ring seq of the last quorate ring this state was agreed in */
        uint64_t version; /* operations applied since the cluster was created */
        uint64_t hash;    /* chained hash of those operations */
};

struct msg_state {
        struct db_position pos;
        uint32_t schema; /* database schema version */
        char uuid[37];   /* cluster uuid, "" for a node that has not received state yet */
};

struct msg_chunk {
        uint32_t index;      /* 0..count-1 */
        uint32_t count;      /* number of chunks in the snapshot */
        uint64_t total_size; /* bytes of the whole snapshot */
        uint64_t checksum;   /* siphash of the whole snapshot */
        const uint8_t *data; /* points into the message */
        uint32_t size;
};

enum op_kind {
        OP_SETTING_SET = 1,
        OP_SETTING_UNSET = 2,
        OP_NODE_ADD = 3,
        OP_NODE_REMOVE = 4,
        OP_NODE_STATE = 5,
        OP_JOIN_TOKEN = 6,
        OP_TOKEN_CREATE = 7,
        OP_TOKEN_DELETE = 8,
        OP_EVENT = 9,
        OP_ROLE_PUT = 10,       /* create (state 1) or replace (state 0) a role's definition */
        OP_ROLE_DELETE = 11,    /* remove a stopped role */
        OP_ROLE_ADMIN = 12,     /* operator: key start|stop|move|clear, value = target node for move */
        OP_ROLE_PLACE = 13,     /* leader: value = new owner ("" for none), event_message = reason */
        OP_ROLE_STATUS = 14,    /* a node's executor: value = status, event_message = detail, state 1 = a failure */
        OP_NODE_PROPS = 15,     /* a node about itself: capacity and watchdog */
        OP_NODE_PAUSE = 16,     /* state: 0 resume, 1 pause, 2 pause and drain */
        OP_NODE_FENCED = 17,    /* leader: value = method, event_message = detail; releases the node's roles */
        OP_NODE_FENCE_SET = 18, /* doc = {"agent": ..., "params": {...}} or "" to remove */
        OP_NODE_VOTE = 19,      /* a node about itself: state 0 = it left cleanly, 1 = its vote counts again */
        _OP_KIND_MAX,
};

enum node_state {
        NODE_STATE_JOINING = 0, /* added, never seen online */
        NODE_STATE_ONLINE = 1,
        NODE_STATE_OFFLINE = 2,
};

/* An operation as applied by every member. Strings are owned (op_done
 * frees them); absent strings are NULL. Which fields a kind uses is listed
 * next to them. */
struct op {
        enum op_kind kind;
        uint64_t epoch;      /* origin's epoch when it admitted the op */
        uint64_t origin_seq; /* per-origin sequence number, to match replies */
        uint64_t time_usec;  /* origin's realtime clock; apply uses this, never its own */
        char *client;        /* who asked: "local:root", "token:NAME", "clusterd" */

        char *key;   /* SETTING_*: key */
        char *value; /* SETTING_SET: canonical value text */

        char *name;      /* NODE_*, JOIN_TOKEN, TOKEN_*: node or token name */
        uint32_t nodeid; /* NODE_ADD */
        char *address;   /* NODE_ADD */

        uint8_t state;              /* NODE_STATE: enum node_state */
        uint8_t daemon;             /* NODE_STATE: 1 = clusterd running */
        uint64_t since_usec;        /* NODE_STATE: when the state began */
        uint64_t daemon_since_usec; /* NODE_STATE: when the daemon state began */

        char *token_id;                    /* NODE_ADD, JOIN_TOKEN: public part of the join token */
        uint8_t secret_hash[OP_HASH_SIZE]; /* NODE_ADD, JOIN_TOKEN, TOKEN_CREATE: sha256 of the secret */
        uint64_t expires_usec;             /* NODE_ADD, JOIN_TOKEN */

        char *event_kind;    /* EVENT */
        char *event_object;  /* EVENT */
        char *event_message; /* EVENT, ROLE_PLACE, ROLE_STATUS, NODE_FENCED */

        char *doc;             /* ROLE_PUT, NODE_FENCE_SET: canonical JSON */
        uint64_t memory_mib;   /* NODE_PROPS: memory available to roles */
        uint32_t cpus;         /* NODE_PROPS: logical CPUs */
        uint64_t timeout_usec; /* NODE_PROPS: watchdog timeout, 0 = no watchdog */
};

void op_done(struct op *op);

/* Encodes a message of the given header and body into a new buffer (caller
 * frees). The body encoders below append to a growing buffer. */
struct msg_buf {
        uint8_t *data; /* owned */
        size_t size;
        size_t alloc;
};

void msg_buf_done(struct msg_buf *b);
/* Raw appends, also used by the snapshot writer. */
void msg_buf_put(struct msg_buf *b, const void *p, size_t n);
void msg_buf_put_le(struct msg_buf *b, uint64_t v, size_t n);     /* n = 1, 2, 4 or 8 */
void msg_buf_put_str(struct msg_buf *b, const char *s, size_t n); /* u32 length + bytes */

/* A bounds-checked reader over a byte range, also used by the snapshot
 * reader. `what` names the field being read, for error messages. */
struct msg_reader {
        const uint8_t *p;
        size_t left;
        const char *what;
        struct err *e;
};
int msg_read_le(struct msg_reader *rd, size_t n, uint64_t *ret);
int msg_read_bytes(struct msg_reader *rd, size_t n, const uint8_t **ret);
/* A u32-length-prefixed byte string of at most max bytes (not copied). */
int msg_read_blob(struct msg_reader *rd, uint32_t max, const uint8_t **ret, size_t *ret_size);
void msg_begin(struct msg_buf *b, enum msg_type type, uint64_t view, uint32_t round);
/* Fills in body_len; call last. */
void msg_end(struct msg_buf *b);

void msg_put_state(struct msg_buf *b, const struct msg_state *s);
void msg_put_chunk(struct msg_buf *b, const struct msg_chunk *c);
void msg_put_u64(struct msg_buf *b, uint64_t v); /* MSG_INSTALLED, MSG_ACK body: a version */

/* MSG_EVICT body: the member (node id, pid) the sender gave up waiting for. */
void msg_put_member(struct msg_buf *b, uint32_t nodeid, uint32_t pid);
int msg_decode_member(const uint8_t *body, size_t size, uint32_t *ret_nodeid, uint32_t *ret_pid, struct err *e);

/* Validates op (kinds, required fields, lengths) and encodes it as a
 * MSG_OP body. -EINVAL with a message when a field is missing or too long;
 * nothing is appended then. */
int msg_put_op(struct msg_buf *b, const struct op *op, struct err *e);

/* A MSG_OP body is a batch: u32 count (1..OPS_PER_MSG_MAX), then count
 * times a u32 length and an operation as msg_put_op() encodes it. An origin
 * sends every write it took in one loop iteration as one message: each
 * CPG message costs an IPC round trip to corosync and a slot in the ring.
 * msg_ops_begin() writes the count and returns its offset; msg_ops_add()
 * appends one operation (or refuses it, appending nothing). */
#define OPS_PER_MSG_MAX 4096
size_t msg_ops_begin(struct msg_buf *b);
int msg_ops_add(struct msg_buf *b, size_t count_at, const struct op *op, struct err *e);

/* Walks a MSG_OP body: msg_ops_open() checks the count, msg_ops_next()
 * returns 1 with the next operation's bytes (for msg_decode_op), 0 after
 * the last (refusing trailing bytes), or -EBADMSG with a message. */
struct msg_ops_reader {
        struct msg_reader rd;
        uint32_t left;
};
int msg_ops_open(const uint8_t *body, size_t size, struct msg_ops_reader *it, struct err *e);
int msg_ops_next(struct msg_ops_reader *it, const uint8_t **ret, size_t *ret_size, struct err *e);

/* Decodes a header; on success ret_body and ret_body_size describe the body
 * (pointing into data). -EBADMSG with a message for anything malformed:
 * short data, wrong magic, unknown version or type, body length mismatch. */
int msg_decode_header(const void *data, size_t size, struct msg_header *ret, const uint8_t **ret_body,
                      size_t *ret_body_size, struct err *e);

int msg_decode_state(const uint8_t *body, size_t size, struct msg_state *ret, struct err *e);
int msg_decode_chunk(const uint8_t *body, size_t size, struct msg_chunk *ret, struct err *e);
int msg_decode_u64(const uint8_t *body, size_t size, uint64_t *ret, struct err *e);

/* Decodes a MSG_OP body into *ret (caller calls op_done on success). Kinds
 * and field limits are checked; the op is not checked against the
 * database (that is apply's job). */
int msg_decode_op(const uint8_t *body, size_t size, struct op *ret, struct err *e);

const char *op_kind_to_string(enum op_kind k);
const char *msg_type_to_string(enum msg_type t);
const char *node_state_to_string(enum node_state s);
