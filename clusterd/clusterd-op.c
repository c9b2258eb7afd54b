/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-op.c: encoding and decoding of peer messages and operations.
 *
 * The layout of each operation kind is a table of fields, so that the
 * encoder, the decoder and their limits cannot drift apart. Decoding never
 * trusts a length: every read is bounds-checked, and a message from a peer
 * that does not fit is refused with a reason that the caller logs.
 */
#include <stddef.h>

#include "clusterd/op-int.h"

enum field_type {
        F_STR,  /* char * */
        F_U8,   /* uint8_t */
        F_U32,  /* uint32_t */
        F_U64,  /* uint64_t */
        F_HASH, /* uint8_t[OP_HASH_SIZE] */
};

struct field {
        const char *name;
        enum field_type type;
        size_t offset; /* in struct op */
        uint32_t max;  /* F_STR: longest accepted */
        bool required; /* F_STR: must be present and non-empty */
};

#define STR(n, f, m)                                                                                                   \
        { n, F_STR, offsetof(struct op, f), m, true }
#define OPT_STR(n, f, m)                                                                                               \
        { n, F_STR, offsetof(struct op, f), m, false }
#define U8(n, f)                                                                                                       \
        { n, F_U8, offsetof(struct op, f), 0, false }
#define U32(n, f)                                                                                                      \
        { n, F_U32, offsetof(struct op, f), 0, false }
#define U64(n, f)                                                                                                      \
        { n, F_U64, offsetof(struct op, f), 0, false }
#define HASH(n, f)                                                                                                     \
        { n, F_HASH, offsetof(struct op, f), 0, false }

/* A field of an op, by the offset the table gives. The offsets come from
 * offsetof() on struct op, so the pointer is aligned for the field's type;
 * going through void * says so to the compiler. */
#define FIELD_PTR(op, f, type) ((type *)(void *)((uint8_t *)(op) + (f)->offset))
#define FIELD_CPTR(op, f, type) ((const type *)(const void *)((const uint8_t *)(op) + (f)->offset))

static const struct field fields_setting_set[] = {
        STR("key", key, OP_KEY_MAX),
        OPT_STR("value", value, OP_VALUE_MAX),
};
static const struct field fields_setting_unset[] = { STR("key", key, OP_KEY_MAX) };
static const struct field fields_node_add[] = {
        STR("name", name, OP_NAME_MAX),          U32("nodeid", nodeid),
        STR("address", address, OP_ADDRESS_MAX), STR("token_id", token_id, OP_NAME_MAX),
        HASH("secret_hash", secret_hash),        U64("expires", expires_usec),
};
static const struct field fields_node_remove[] = { STR("name", name, OP_NAME_MAX) };
static const struct field fields_node_state[] = {
        STR("name", name, OP_NAME_MAX),         U8("state", state), U8("daemon", daemon), U64("since", since_usec),
        U64("daemon_since", daemon_since_usec),
};
static const struct field fields_join_token[] = {
        STR("name", name, OP_NAME_MAX),
        STR("token_id", token_id, OP_NAME_MAX),
        HASH("secret_hash", secret_hash),
        U64("expires", expires_usec),
};
static const struct field fields_token_create[] = {
        STR("name", name, OP_NAME_MAX),
        HASH("secret_hash", secret_hash),
};
static const struct field fields_token_delete[] = { STR("name", name, OP_NAME_MAX) };
static const struct field fields_event[] = {
        STR("kind", event_kind, OP_NAME_MAX),
        OPT_STR("object", event_object, OP_KEY_MAX),
        STR("message", event_message, OP_TEXT_MAX),
};

static const struct field fields_role_put[] = {
        STR("name", name, OP_NAME_MAX),
        STR("doc", doc, OP_DOC_MAX),
        U8("create", state),
};
static const struct field fields_role_delete[] = { STR("name", name, OP_NAME_MAX) };
static const struct field fields_role_admin[] = {
        STR("name", name, OP_NAME_MAX),
        STR("action", key, OP_NAME_MAX),
        OPT_STR("target", value, OP_NAME_MAX),
};
static const struct field fields_role_place[] = {
        STR("name", name, OP_NAME_MAX),
        OPT_STR("owner", value, OP_NAME_MAX),
        STR("reason", event_message, OP_TEXT_MAX),
};
static const struct field fields_role_status[] = {
        STR("name", name, OP_NAME_MAX),
        STR("status", value, OP_NAME_MAX),
        OPT_STR("message", event_message, OP_TEXT_MAX),
        U8("failure", state),
};
static const struct field fields_node_props[] = {
        STR("name", name, OP_NAME_MAX),
        U64("memory_mib", memory_mib),
        U32("cpus", cpus),
        U64("watchdog_timeout", timeout_usec),
};
static const struct field fields_node_pause[] = {
        STR("name", name, OP_NAME_MAX),
        U8("pause", state),
};
static const struct field fields_node_fenced[] = {
        STR("name", name, OP_NAME_MAX),
        STR("method", value, OP_NAME_MAX),
        OPT_STR("message", event_message, OP_TEXT_MAX),
};
static const struct field fields_node_vote[] = {
        STR("name", name, OP_NAME_MAX),
        U8("vote", state),
};
static const struct field fields_node_fence_set[] = {
        STR("name", name, OP_NAME_MAX),
        OPT_STR("doc", doc, OP_DOC_MAX),
};

static const struct {
        const char *name;
        const struct field *fields;
        size_t n_fields;
} kinds[_OP_KIND_MAX] = {
#define KIND(k, n, f) [k] = { n, f, ELEMENTSOF(f) }
        KIND(OP_SETTING_SET, "setting-set", fields_setting_set),
        KIND(OP_SETTING_UNSET, "setting-unset", fields_setting_unset),
        KIND(OP_NODE_ADD, "node-add", fields_node_add),
        KIND(OP_NODE_REMOVE, "node-remove", fields_node_remove),
        KIND(OP_NODE_STATE, "node-state", fields_node_state),
        KIND(OP_JOIN_TOKEN, "join-token", fields_join_token),
        KIND(OP_TOKEN_CREATE, "token-create", fields_token_create),
        KIND(OP_TOKEN_DELETE, "token-delete", fields_token_delete),
        KIND(OP_EVENT, "event", fields_event),
        KIND(OP_ROLE_PUT, "role-put", fields_role_put),
        KIND(OP_ROLE_DELETE, "role-delete", fields_role_delete),
        KIND(OP_ROLE_ADMIN, "role-admin", fields_role_admin),
        KIND(OP_ROLE_PLACE, "role-place", fields_role_place),
        KIND(OP_ROLE_STATUS, "role-status", fields_role_status),
        KIND(OP_NODE_PROPS, "node-props", fields_node_props),
        KIND(OP_NODE_PAUSE, "node-pause", fields_node_pause),
        KIND(OP_NODE_FENCED, "node-fenced", fields_node_fenced),
        KIND(OP_NODE_FENCE_SET, "node-fence-set", fields_node_fence_set),
        KIND(OP_NODE_VOTE, "node-vote", fields_node_vote),
#undef KIND
};

const char *op_kind_to_string(enum op_kind k) {
        if (k > 0 && k < _OP_KIND_MAX && kinds[k].name)
                return kinds[k].name;
        return "unknown";
}

const char *msg_type_to_string(enum msg_type t) {
        static const char *const names[_MSG_TYPE_MAX] = {
                [MSG_STATE] = "state", [MSG_CHUNK] = "chunk", [MSG_INSTALLED] = "installed",
                [MSG_OP] = "op",       [MSG_ACK] = "ack",     [MSG_EVICT] = "evict",
        };
        if (t > 0 && t < _MSG_TYPE_MAX)
                return names[t];
        return "unknown";
}

const char *node_state_to_string(enum node_state s) {
        switch (s) {
        case NODE_STATE_JOINING:
                return "joining";
        case NODE_STATE_ONLINE:
                return "online";
        case NODE_STATE_OFFLINE:
                return "offline";
        }
        return "unknown";
}

void op_done(struct op *op) {
        if (!op)
                return;
        free(op->client);
        for (size_t k = 1; k < _OP_KIND_MAX; k++)
                for (size_t i = 0; i < kinds[k].n_fields; i++) {
                        const struct field *f = &kinds[k].fields[i];
                        if (f->type == F_STR) {
                                char **p = FIELD_PTR(op, f, char *);
                                free_and_null(*p);
                        }
                }
        *op = (struct op){};
}

/* ------------------------------------------------------------------------ */
/* Encoding                                                                  */

void msg_buf_done(struct msg_buf *b) {
        free(b->data);
        *b = (struct msg_buf){};
}

void msg_buf_put(struct msg_buf *b, const void *p, size_t n) {
        if (b->size + n > b->alloc) {
                b->alloc = MAX(b->alloc * 2, b->size + n + 256);
                b->data = xrealloc(b->data, b->alloc);
        }
        memcpy(b->data + b->size, p, n);
        b->size += n;
}

void msg_buf_put_le(struct msg_buf *b, uint64_t v, size_t n) {
        uint8_t tmp[8];
        for (size_t i = 0; i < n; i++)
                tmp[i] = (uint8_t)(v >> (8 * i));
        msg_buf_put(b, tmp, n);
}

void msg_put_u64(struct msg_buf *b, uint64_t v) {
        msg_buf_put_le(b, v, 8);
}

void msg_put_member(struct msg_buf *b, uint32_t nodeid, uint32_t pid) {
        msg_buf_put_le(b, nodeid, 4);
        msg_buf_put_le(b, pid, 4);
}

void msg_buf_put_str(struct msg_buf *b, const char *s, size_t n) {
        msg_buf_put_le(b, n, 4);
        if (n > 0)
                msg_buf_put(b, s, n);
}

static void put_str(struct msg_buf *b, const char *s) {
        msg_buf_put_str(b, s, s ? strlen(s) : 0);
}

void msg_begin(struct msg_buf *b, enum msg_type type, uint64_t view, uint32_t round) {
        b->size = 0;
        msg_buf_put_le(b, MSG_MAGIC, 4);
        msg_buf_put_le(b, (uint64_t)type, 1);
        msg_buf_put_le(b, MSG_VERSION, 1);
        msg_buf_put_le(b, 0, 2);
        msg_buf_put_le(b, view, 8);
        msg_buf_put_le(b, round, 4);
        msg_buf_put_le(b, 0, 4); /* body_len, filled in by msg_end() */
}

void msg_end(struct msg_buf *b) {
        uint32_t len = (uint32_t)(b->size - MSG_HEADER_SIZE);
        for (size_t i = 0; i < 4; i++)
                b->data[20 + i] = (uint8_t)(len >> (8 * i));
}

void msg_put_state(struct msg_buf *b, const struct msg_state *s) {
        msg_buf_put_le(b, s->pos.epoch, 8);
        msg_buf_put_le(b, s->pos.version, 8);
        msg_buf_put_le(b, s->pos.hash, 8);
        msg_buf_put_le(b, s->schema, 4);
        put_str(b, s->uuid);
}

void msg_put_chunk(struct msg_buf *b, const struct msg_chunk *c) {
        msg_buf_put_le(b, c->index, 4);
        msg_buf_put_le(b, c->count, 4);
        msg_buf_put_le(b, c->total_size, 8);
        msg_buf_put_le(b, c->checksum, 8);
        msg_buf_put_le(b, c->size, 4);
        msg_buf_put(b, c->data, c->size);
}

static int check_fields(const struct op *op, struct err *e) {
        if (op->kind <= 0 || op->kind >= _OP_KIND_MAX)
                return err_set(e, -EINVAL, "unknown operation kind %d", (int)op->kind);
        if (op->client && strlen(op->client) > OP_CLIENT_MAX)
                return err_set(e, -EINVAL, "client name longer than %d bytes", OP_CLIENT_MAX);
        for (size_t i = 0; i < kinds[op->kind].n_fields; i++) {
                const struct field *f = &kinds[op->kind].fields[i];
                if (f->type != F_STR)
                        continue;
                const char *s = *FIELD_CPTR(op, f, char *);
                if (f->required && (!s || !*s))
                        return err_set(e, -EINVAL, "%s: field '%s' is required", kinds[op->kind].name, f->name);
                if (s && strlen(s) > f->max)
                        return err_set(e, -EINVAL, "%s: field '%s' is longer than %u bytes", kinds[op->kind].name,
                                       f->name, f->max);
        }
        return 0;
}

int msg_put_op(struct msg_buf *b, const struct op *op, struct err *e) {
        int r = check_fields(op, e);
        if (r < 0)
                return r;

        msg_buf_put_le(b, (uint64_t)op->kind, 2);
        msg_buf_put_le(b, 0, 2);
        msg_buf_put_le(b, op->epoch, 8);
        msg_buf_put_le(b, op->origin_seq, 8);
        msg_buf_put_le(b, op->time_usec, 8);
        put_str(b, op->client);
        for (size_t i = 0; i < kinds[op->kind].n_fields; i++) {
                const struct field *f = &kinds[op->kind].fields[i];
                const uint8_t *p = FIELD_CPTR(op, f, uint8_t);
                switch (f->type) {
                case F_STR:
                        put_str(b, *FIELD_CPTR(op, f, char *));
                        break;
                case F_U8:
                        msg_buf_put_le(b, *p, 1);
                        break;
                case F_U32:
                        msg_buf_put_le(b, *FIELD_CPTR(op, f, uint32_t), 4);
                        break;
                case F_U64:
                        msg_buf_put_le(b, *FIELD_CPTR(op, f, uint64_t), 8);
                        break;
                case F_HASH:
                        msg_buf_put(b, p, OP_HASH_SIZE);
                        break;
                }
        }
        return 0;
}

size_t msg_ops_begin(struct msg_buf *b) {
        size_t at = b->size;
        msg_buf_put_le(b, 0, 4);
        return at;
}

int msg_ops_add(struct msg_buf *b, size_t count_at, const struct op *op, struct err *e) {
        size_t len_at = b->size;
        uint32_t count = 0, len;
        int r;

        for (size_t i = 0; i < 4; i++)
                count |= (uint32_t)b->data[count_at + i] << (8 * i);
        if (count >= OPS_PER_MSG_MAX)
                return err_set(e, -E2BIG, "at most %d operations fit in one message", OPS_PER_MSG_MAX);
        msg_buf_put_le(b, 0, 4);
        r = msg_put_op(b, op, e);
        if (r < 0) {
                b->size = len_at;
                return r;
        }
        len = (uint32_t)(b->size - len_at - 4);
        count++;
        for (size_t i = 0; i < 4; i++) {
                b->data[len_at + i] = (uint8_t)(len >> (8 * i));
                b->data[count_at + i] = (uint8_t)(count >> (8 * i));
        }
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Decoding                                                                  */

int msg_read_le(struct msg_reader *rd, size_t n, uint64_t *ret) {
        uint64_t v = 0;
        if (rd->left < n)
                return err_set(rd->e, -EBADMSG, "truncated at field '%s' (%zu bytes left, %zu needed)", rd->what,
                               rd->left, n);
        for (size_t i = 0; i < n; i++)
                v |= (uint64_t)rd->p[i] << (8 * i);
        rd->p += n;
        rd->left -= n;
        *ret = v;
        return 0;
}

int msg_read_bytes(struct msg_reader *rd, size_t n, const uint8_t **ret) {
        if (rd->left < n)
                return err_set(rd->e, -EBADMSG, "truncated at field '%s' (%zu bytes left, %zu needed)", rd->what,
                               rd->left, n);
        *ret = rd->p;
        rd->p += n;
        rd->left -= n;
        return 0;
}

int msg_read_blob(struct msg_reader *rd, uint32_t max, const uint8_t **ret, size_t *ret_size) {
        uint64_t n = 0;
        int r = msg_read_le(rd, 4, &n);
        if (r < 0)
                return r;
        if (n > max)
                return err_set(rd->e, -EBADMSG, "field '%s' is %" PRIu64 " bytes, at most %u allowed", rd->what, n,
                               max);
        r = msg_read_bytes(rd, (size_t)n, ret);
        if (r < 0)
                return r;
        *ret_size = (size_t)n;
        return 0;
}

/* Reads a string of at most max bytes; empty strings decode as NULL. */
static int get_str(struct msg_reader *rd, uint32_t max, char **ret) {
        const uint8_t *p = NULL;
        size_t n = 0;
        int r = msg_read_blob(rd, max, &p, &n);
        if (r < 0)
                return r;
        if (memchr(p, '\0', n))
                return err_set(rd->e, -EBADMSG, "field '%s' contains a NUL byte", rd->what);
        *ret = n > 0 ? xstrndup((const char *)p, n) : NULL;
        return 0;
}

int msg_decode_header(const void *data, size_t size, struct msg_header *ret, const uint8_t **ret_body,
                      size_t *ret_body_size, struct err *e) {
        struct msg_reader rd = { data, size, "header", e };
        uint64_t magic = 0, type = 0, version = 0, reserved = 0, view = 0, round = 0, len = 0;
        int r;

        if (size < MSG_HEADER_SIZE)
                return err_set(e, -EBADMSG, "message of %zu bytes is shorter than a header (%d bytes)", size,
                               MSG_HEADER_SIZE);
        if ((r = msg_read_le(&rd, 4, &magic)) < 0 || (r = msg_read_le(&rd, 1, &type)) < 0 ||
            (r = msg_read_le(&rd, 1, &version)) < 0 || (r = msg_read_le(&rd, 2, &reserved)) < 0 ||
            (r = msg_read_le(&rd, 8, &view)) < 0 || (r = msg_read_le(&rd, 4, &round)) < 0 ||
            (r = msg_read_le(&rd, 4, &len)) < 0)
                return r;
        if (magic != MSG_MAGIC)
                return err_set(e, -EBADMSG, "bad magic 0x%08" PRIx64, magic);
        if (version != MSG_VERSION)
                return err_set(e, -EBADMSG, "unsupported protocol version %" PRIu64 " (this node speaks %d)", version,
                               MSG_VERSION);
        if (type == 0 || type >= _MSG_TYPE_MAX)
                return err_set(e, -EBADMSG, "unknown message type %" PRIu64, type);
        if (len != rd.left)
                return err_set(e, -EBADMSG, "body length %" PRIu64 " does not match the %zu bytes received", len,
                               rd.left);

        *ret = (struct msg_header){ .type = (enum msg_type)type, .view = view, .round = (uint32_t)round };
        *ret_body = rd.p;
        *ret_body_size = rd.left;
        return 0;
}

static int expect_end(struct msg_reader *rd) {
        if (rd->left != 0)
                return err_set(rd->e, -EBADMSG, "%zu unexpected bytes after the last field", rd->left);
        return 0;
}

int msg_decode_state(const uint8_t *body, size_t size, struct msg_state *ret, struct err *e) {
        struct msg_reader rd = { body, size, "state", e };
        struct msg_state s = {};
        _cleanup_free_ char *uuid = NULL;
        uint64_t schema = 0;
        int r;

        if ((r = msg_read_le(&rd, 8, &s.pos.epoch)) < 0 || (r = msg_read_le(&rd, 8, &s.pos.version)) < 0 ||
            (r = msg_read_le(&rd, 8, &s.pos.hash)) < 0 || (r = msg_read_le(&rd, 4, &schema)) < 0)
                return r;
        rd.what = "uuid";
        if ((r = get_str(&rd, 36, &uuid)) < 0 || (r = expect_end(&rd)) < 0)
                return r;
        s.schema = (uint32_t)schema;
        snprintf(s.uuid, sizeof(s.uuid), "%s", strempty(uuid));
        *ret = s;
        return 0;
}

int msg_decode_chunk(const uint8_t *body, size_t size, struct msg_chunk *ret, struct err *e) {
        struct msg_reader rd = { body, size, "chunk", e };
        uint64_t index = 0, count = 0, total = 0, checksum = 0, n = 0;
        const uint8_t *data = NULL;
        int r;

        if ((r = msg_read_le(&rd, 4, &index)) < 0 || (r = msg_read_le(&rd, 4, &count)) < 0 ||
            (r = msg_read_le(&rd, 8, &total)) < 0 || (r = msg_read_le(&rd, 8, &checksum)) < 0 ||
            (r = msg_read_le(&rd, 4, &n)) < 0 || (r = msg_read_bytes(&rd, (size_t)n, &data)) < 0 ||
            (r = expect_end(&rd)) < 0)
                return r;
        if (count == 0 || index >= count)
                return err_set(e, -EBADMSG, "chunk %" PRIu64 " of %" PRIu64 " is out of range", index, count);
        if (n > total)
                return err_set(e, -EBADMSG, "chunk of %" PRIu64 " bytes exceeds the snapshot size %" PRIu64, n, total);
        *ret = (struct msg_chunk){ .index = (uint32_t)index,
                                   .count = (uint32_t)count,
                                   .total_size = total,
                                   .checksum = checksum,
                                   .data = data,
                                   .size = (uint32_t)n };
        return 0;
}

int msg_decode_u64(const uint8_t *body, size_t size, uint64_t *ret, struct err *e) {
        struct msg_reader rd = { body, size, "version", e };
        uint64_t v = 0;
        int r;
        if ((r = msg_read_le(&rd, 8, &v)) < 0 || (r = expect_end(&rd)) < 0)
                return r;
        *ret = v;
        return 0;
}

int msg_decode_member(const uint8_t *body, size_t size, uint32_t *ret_nodeid, uint32_t *ret_pid, struct err *e) {
        struct msg_reader rd = { body, size, "member", e };
        uint64_t nodeid = 0, pid = 0;
        int r;
        if ((r = msg_read_le(&rd, 4, &nodeid)) < 0 || (r = msg_read_le(&rd, 4, &pid)) < 0 || (r = expect_end(&rd)) < 0)
                return r;
        *ret_nodeid = (uint32_t)nodeid;
        *ret_pid = (uint32_t)pid;
        return 0;
}

int msg_ops_open(const uint8_t *body, size_t size, struct msg_ops_reader *it, struct err *e) {
        uint64_t count = 0;
        int r;

        *it = (struct msg_ops_reader){ .rd = { body, size, "operation count", e } };
        if ((r = msg_read_le(&it->rd, 4, &count)) < 0)
                return r;
        if (count == 0 || count > OPS_PER_MSG_MAX)
                return err_set(e, -EBADMSG, "a batch of %" PRIu64 " operations (1 to %d allowed)", count,
                               OPS_PER_MSG_MAX);
        it->left = (uint32_t)count;
        return 0;
}

int msg_ops_next(struct msg_ops_reader *it, const uint8_t **ret, size_t *ret_size, struct err *e) {
        int r;

        if (it->left == 0) {
                it->rd.e = e;
                return expect_end(&it->rd) < 0 ? -EBADMSG : 0;
        }
        it->rd.what = "operation";
        it->rd.e = e;
        if ((r = msg_read_blob(&it->rd, UINT32_MAX, ret, ret_size)) < 0)
                return r;
        it->left--;
        return 1;
}

static int decode_field(struct msg_reader *rd, const struct field *f, struct op *op) {
        uint8_t *p = (uint8_t *)op + f->offset;
        const uint8_t *bytes = NULL;
        uint64_t v = 0;
        int r;

        rd->what = f->name;
        switch (f->type) {
        case F_STR:
                return get_str(rd, f->max, FIELD_PTR(op, f, char *));
        case F_U8:
                if ((r = msg_read_le(rd, 1, &v)) < 0)
                        return r;
                *p = (uint8_t)v;
                return 0;
        case F_U32:
                if ((r = msg_read_le(rd, 4, &v)) < 0)
                        return r;
                *FIELD_PTR(op, f, uint32_t) = (uint32_t)v;
                return 0;
        case F_U64:
                return msg_read_le(rd, 8, FIELD_PTR(op, f, uint64_t));
        case F_HASH:
                if ((r = msg_read_bytes(rd, OP_HASH_SIZE, &bytes)) < 0)
                        return r;
                memcpy(p, bytes, OP_HASH_SIZE);
                return 0;
        }
        return -EINVAL;
}

int msg_decode_op(const uint8_t *body, size_t size, struct op *ret, struct err *e) {
        struct msg_reader rd = { body, size, "kind", e };
        struct op op = {};
        uint64_t kind = 0, reserved = 0;
        int r;

        if ((r = msg_read_le(&rd, 2, &kind)) < 0 || (r = msg_read_le(&rd, 2, &reserved)) < 0)
                return r;
        if (kind == 0 || kind >= _OP_KIND_MAX)
                return err_set(e, -EBADMSG, "unknown operation kind %" PRIu64, kind);
        op.kind = (enum op_kind)kind;
        rd.what = "epoch";
        if ((r = msg_read_le(&rd, 8, &op.epoch)) < 0)
                goto fail;
        rd.what = "origin_seq";
        if ((r = msg_read_le(&rd, 8, &op.origin_seq)) < 0)
                goto fail;
        rd.what = "time";
        if ((r = msg_read_le(&rd, 8, &op.time_usec)) < 0)
                goto fail;
        rd.what = "client";
        if ((r = get_str(&rd, OP_CLIENT_MAX, &op.client)) < 0)
                goto fail;
        for (size_t i = 0; i < kinds[op.kind].n_fields; i++)
                if ((r = decode_field(&rd, &kinds[op.kind].fields[i], &op)) < 0)
                        goto fail;
        if ((r = expect_end(&rd)) < 0)
                goto fail;
        /* Required fields are checked the same way the encoder checks them. */
        if ((r = check_fields(&op, e)) < 0) {
                r = -EBADMSG;
                goto fail;
        }
        *ret = op;
        return 0;
fail:
        err_set(e, r, "%s operation", kinds[op.kind].name);
        op_done(&op);
        return r;
}
