/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-op.c: the peer message and operation codec. What a peer sends must
 * come out the same on every other node, and whatever arrives that is not
 * a well-formed message (truncated, padded, oversized, lying about its
 * lengths, carrying NUL bytes) must be refused with a reason, never read
 * past its end.
 *
 * The wire layout of each operation kind is written out again below (not
 * taken from the codec) so that an accidental change of the protocol shows
 * up here as a failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "clusterd/op-int.h"

/* ------------------------------------------------------------------------ */
/* The wire layout of operation bodies, as the protocol defines it          */

enum wire_type { W_STR, W_U8, W_U32, W_U64, W_HASH };

struct wire_field {
        const char *name;
        enum wire_type type;
        uint32_t max;  /* W_STR */
        bool required; /* W_STR */
};

struct wire_kind {
        enum op_kind kind;
        const char *name;
        struct wire_field fields[8];
        size_t n_fields;
};

static const struct wire_kind wire[] = {
        { OP_SETTING_SET,
          "setting-set",
          { { "key", W_STR, OP_KEY_MAX, true }, { "value", W_STR, OP_VALUE_MAX, false } },
          2 },
        { OP_SETTING_UNSET, "setting-unset", { { "key", W_STR, OP_KEY_MAX, true } }, 1 },
        { OP_NODE_ADD,
          "node-add",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "nodeid", W_U32, 0, false },
            { "address", W_STR, OP_ADDRESS_MAX, true },
            { "token_id", W_STR, OP_NAME_MAX, true },
            { "secret_hash", W_HASH, 0, false },
            { "expires", W_U64, 0, false } },
          6 },
        { OP_NODE_REMOVE, "node-remove", { { "name", W_STR, OP_NAME_MAX, true } }, 1 },
        { OP_NODE_STATE,
          "node-state",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "state", W_U8, 0, false },
            { "daemon", W_U8, 0, false },
            { "since", W_U64, 0, false },
            { "daemon_since", W_U64, 0, false } },
          5 },
        { OP_JOIN_TOKEN,
          "join-token",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "token_id", W_STR, OP_NAME_MAX, true },
            { "secret_hash", W_HASH, 0, false },
            { "expires", W_U64, 0, false } },
          4 },
        { OP_TOKEN_CREATE,
          "token-create",
          { { "name", W_STR, OP_NAME_MAX, true }, { "secret_hash", W_HASH, 0, false } },
          2 },
        { OP_TOKEN_DELETE, "token-delete", { { "name", W_STR, OP_NAME_MAX, true } }, 1 },
        { OP_EVENT,
          "event",
          { { "kind", W_STR, OP_NAME_MAX, true },
            { "object", W_STR, OP_KEY_MAX, false },
            { "message", W_STR, OP_TEXT_MAX, true } },
          3 },
        { OP_ROLE_PUT,
          "role-put",
          { { "name", W_STR, OP_NAME_MAX, true }, { "doc", W_STR, OP_DOC_MAX, true }, { "create", W_U8, 0, false } },
          3 },
        { OP_ROLE_DELETE, "role-delete", { { "name", W_STR, OP_NAME_MAX, true } }, 1 },
        { OP_ROLE_ADMIN,
          "role-admin",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "action", W_STR, OP_NAME_MAX, true },
            { "target", W_STR, OP_NAME_MAX, false } },
          3 },
        { OP_ROLE_PLACE,
          "role-place",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "owner", W_STR, OP_NAME_MAX, false },
            { "reason", W_STR, OP_TEXT_MAX, true } },
          3 },
        { OP_ROLE_STATUS,
          "role-status",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "status", W_STR, OP_NAME_MAX, true },
            { "message", W_STR, OP_TEXT_MAX, false },
            { "failure", W_U8, 0, false } },
          4 },
        { OP_NODE_PROPS,
          "node-props",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "memory_mib", W_U64, 0, false },
            { "cpus", W_U32, 0, false },
            { "watchdog_timeout", W_U64, 0, false } },
          4 },
        { OP_NODE_PAUSE, "node-pause", { { "name", W_STR, OP_NAME_MAX, true }, { "pause", W_U8, 0, false } }, 2 },
        { OP_NODE_FENCED,
          "node-fenced",
          { { "name", W_STR, OP_NAME_MAX, true },
            { "method", W_STR, OP_NAME_MAX, true },
            { "message", W_STR, OP_TEXT_MAX, false } },
          3 },
        { OP_NODE_FENCE_SET,
          "node-fence-set",
          { { "name", W_STR, OP_NAME_MAX, true }, { "doc", W_STR, OP_DOC_MAX, false } },
          2 },
};

/* Where a wire field lives in struct op. */
static void *op_field(struct op *op, const char *name) {
        if (streq(name, "key"))
                return &op->key;
        if (streq(name, "value"))
                return &op->value;
        if (streq(name, "name"))
                return &op->name;
        if (streq(name, "nodeid"))
                return &op->nodeid;
        if (streq(name, "address"))
                return &op->address;
        if (streq(name, "token_id"))
                return &op->token_id;
        if (streq(name, "secret_hash"))
                return op->secret_hash;
        if (streq(name, "expires"))
                return &op->expires_usec;
        if (streq(name, "state"))
                return &op->state;
        if (streq(name, "daemon"))
                return &op->daemon;
        if (streq(name, "since"))
                return &op->since_usec;
        if (streq(name, "daemon_since"))
                return &op->daemon_since_usec;
        if (streq(name, "kind"))
                return &op->event_kind;
        if (streq(name, "object"))
                return &op->event_object;
        if (streq(name, "message") || streq(name, "reason"))
                return &op->event_message;
        if (streq(name, "doc"))
                return &op->doc;
        if (streq(name, "create") || streq(name, "failure") || streq(name, "pause"))
                return &op->state;
        if (streq(name, "action"))
                return &op->key;
        if (streq(name, "target") || streq(name, "owner") || streq(name, "status") || streq(name, "method"))
                return &op->value;
        if (streq(name, "memory_mib"))
                return &op->memory_mib;
        if (streq(name, "cpus"))
                return &op->cpus;
        if (streq(name, "watchdog_timeout"))
                return &op->timeout_usec;
        fail_msg("no such field %s", name);
        return NULL;
}

static void put_zeros(struct msg_buf *b, size_t n) {
        static const uint8_t zeros[64];
        msg_buf_put(b, zeros, n);
}

static char *repeat(char c, size_t n) {
        char *s = xmalloc(n + 1);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* A complete op of kind w with every field set to a distinctive value. */
static void fill_op(struct op *op, const struct wire_kind *w) {
        *op = (struct op){
                .kind = w->kind,
                .epoch = UINT64_C(0x0102030405060708),
                .origin_seq = 42,
                .time_usec = UINT64_C(1700000000000000),
                .client = xstrdup("token:automation"),
        };
        for (size_t i = 0; i < w->n_fields; i++) {
                const struct wire_field *f = &w->fields[i];
                void *p = op_field(op, f->name);
                switch (f->type) {
                case W_STR:
                        *(char **)p = xasprintf("%s-value", f->name);
                        break;
                case W_U8:
                        *(uint8_t *)p = 2;
                        break;
                case W_U32:
                        *(uint32_t *)p = UINT32_C(0xdeadbeef);
                        break;
                case W_U64:
                        *(uint64_t *)p = UINT64_C(0xfedcba9876543210) - i;
                        break;
                case W_HASH:
                        for (size_t j = 0; j < OP_HASH_SIZE; j++)
                                ((uint8_t *)p)[j] = (uint8_t)(j * 7 + 1);
                        break;
                }
        }
}

static void assert_ops_equal(struct op *a, struct op *b, const struct wire_kind *w) {
        assert_int_equal(a->kind, b->kind);
        assert_true(a->epoch == b->epoch);
        assert_true(a->origin_seq == b->origin_seq);
        assert_true(a->time_usec == b->time_usec);
        assert_true(streq_ptr(a->client, b->client));
        for (size_t i = 0; i < w->n_fields; i++) {
                const struct wire_field *f = &w->fields[i];
                void *pa = op_field(a, f->name), *pb = op_field(b, f->name);
                switch (f->type) {
                case W_STR:
                        if (!streq_ptr(*(char **)pa, *(char **)pb))
                                fail_msg("%s: field %s: '%s' != '%s'", w->name, f->name, strempty(*(char **)pa),
                                         strempty(*(char **)pb));
                        break;
                case W_U8:
                        assert_int_equal(*(uint8_t *)pa, *(uint8_t *)pb);
                        break;
                case W_U32:
                        assert_int_equal(*(uint32_t *)pa, *(uint32_t *)pb);
                        break;
                case W_U64:
                        assert_true(*(uint64_t *)pa == *(uint64_t *)pb);
                        break;
                case W_HASH:
                        assert_memory_equal(pa, pb, OP_HASH_SIZE);
                        break;
                }
        }
}

/* A whole MSG_OP message: a batch holding op alone. */
static void encode_op_msg(struct msg_buf *b, const struct op *op) {
        struct err e = {};
        msg_begin(b, MSG_OP, UINT64_C(0x1122334455667788), 7);
        size_t at = msg_ops_begin(b);
        if (msg_ops_add(b, at, op, &e) < 0)
                fail_msg("encoding %s: %s", op_kind_to_string(op->kind), e.msg);
        msg_end(b);
}

/* The one op of a batch body. */
static int decode_single(const uint8_t *body, size_t size, struct op *out, struct err *e) {
        struct msg_ops_reader it;
        const uint8_t *raw = NULL;
        size_t raw_size = 0;
        int r;
        if ((r = msg_ops_open(body, size, &it, e)) < 0 || (r = msg_ops_next(&it, &raw, &raw_size, e)) < 0)
                return r;
        if (r == 0)
                return -EBADMSG;
        if ((r = msg_ops_next(&it, &raw, &raw_size, e)) != 0)
                return r < 0 ? r : -EBADMSG;
        return msg_decode_op(raw, raw_size, out, e);
}

/* The body of an op written by hand from the wire table: str_len[i] (when
 * not -1) overrides the length prefix of string field i, str[i] its bytes. */
struct raw_field {
        bool set;
        const char *bytes; /* written as is */
        size_t size;
        int64_t claimed; /* length prefix; -1 = size */
};

static void raw_op_body(struct msg_buf *b, const struct wire_kind *w, const struct raw_field *over) {
        msg_buf_put_le(b, w->kind, 2);
        msg_buf_put_le(b, 0, 2);
        msg_buf_put_le(b, 1, 8);
        msg_buf_put_le(b, 2, 8);
        msg_buf_put_le(b, 3, 8);
        msg_buf_put_str(b, "local:root", 10);
        for (size_t i = 0; i < w->n_fields; i++) {
                const struct wire_field *f = &w->fields[i];
                switch (f->type) {
                case W_STR:
                        if (over && over[i].set) {
                                msg_buf_put_le(b, over[i].claimed >= 0 ? (uint64_t)over[i].claimed : over[i].size, 4);
                                msg_buf_put(b, over[i].bytes, over[i].size);
                        } else
                                msg_buf_put_str(b, "x", 1);
                        break;
                case W_U8:
                        msg_buf_put_le(b, 1, 1);
                        break;
                case W_U32:
                        msg_buf_put_le(b, 5, 4);
                        break;
                case W_U64:
                        msg_buf_put_le(b, 9, 8);
                        break;
                case W_HASH:
                        for (size_t j = 0; j < OP_HASH_SIZE; j++)
                                msg_buf_put_le(b, j, 1);
                        break;
                }
        }
}

/* ------------------------------------------------------------------------ */
/* Round trips                                                               */

static void test_op_round_trip_every_kind(void **state) {
        /* Every kind there is has a row in the wire table. */
        assert_int_equal(ELEMENTSOF(wire), _OP_KIND_MAX - 1);

        for (size_t k = 0; k < ELEMENTSOF(wire); k++) {
                _cleanup_(msg_buf_done) struct msg_buf b = {};
                struct op in, out = {};
                struct msg_header h;
                const uint8_t *body;
                size_t body_size;
                struct err e = {};

                fill_op(&in, &wire[k]);
                encode_op_msg(&b, &in);
                assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &body_size, &e), 0);
                assert_int_equal(h.type, MSG_OP);
                assert_true(h.view == UINT64_C(0x1122334455667788));
                assert_int_equal(h.round, 7);
                assert_int_equal(body_size, b.size - MSG_HEADER_SIZE);
                if (decode_single(body, body_size, &out, &e) < 0)
                        fail_msg("decoding %s: %s", wire[k].name, e.msg);
                assert_ops_equal(&in, &out, &wire[k]);
                assert_string_equal(op_kind_to_string(out.kind), wire[k].name);
                op_done(&in);
                op_done(&out);
        }
}

static void test_op_optional_fields_absent(void **state) {
        /* Optional strings left out travel as empty and come back absent. */
        struct op in = { .kind = OP_SETTING_SET, .key = xstrdup("user.x") }, out = {};
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct err e = {};

        assert_int_equal(msg_put_op(&b, &in, &e), 0);
        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), 0);
        assert_string_equal(out.key, "user.x");
        assert_null(out.value);
        assert_null(out.client);
        op_done(&in);
        op_done(&out);

        struct op ev = { .kind = OP_EVENT, .event_kind = xstrdup("test"), .event_message = xstrdup("hello") };
        b.size = 0;
        assert_int_equal(msg_put_op(&b, &ev, &e), 0);
        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), 0);
        assert_null(out.event_object);
        assert_string_equal(out.event_message, "hello");
        op_done(&ev);
        op_done(&out);
}

static void test_op_fields_of_other_kinds_not_sent(void **state) {
        /* A node-remove carries only the name, whatever else the struct holds. */
        struct op in = { .kind = OP_NODE_REMOVE,
                         .name = xstrdup("n2"),
                         .address = xstrdup("198.18.0.2"),
                         .key = xstrdup("user.a") },
                  out = {};
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct err e = {};

        assert_int_equal(msg_put_op(&b, &in, &e), 0);
        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), 0);
        assert_string_equal(out.name, "n2");
        assert_null(out.address);
        assert_null(out.key);
        op_done(&in);
        op_done(&out);
}

static void test_msg_round_trip_every_type(void **state) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct msg_header h;
        const uint8_t *body;
        size_t size;
        struct err e = {};

        /* MSG_STATE */
        struct msg_state s = { .pos = { .epoch = 12, .version = UINT64_MAX, .hash = UINT64_C(0xabcdef0123456789) },
                               .schema = 1,
                               .uuid = "0d6b3c1e-8a6f-4c55-9b1e-4f3c2a1b0c9d" },
                         s2;
        msg_begin(&b, MSG_STATE, 1, 2);
        msg_put_state(&b, &s);
        msg_end(&b);
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), 0);
        assert_int_equal(h.type, MSG_STATE);
        assert_int_equal(msg_decode_state(body, size, &s2, &e), 0);
        assert_true(s2.pos.epoch == 12 && s2.pos.version == UINT64_MAX && s2.pos.hash == s.pos.hash);
        assert_int_equal(s2.schema, 1);
        assert_string_equal(s2.uuid, s.uuid);

        /* MSG_STATE of a node without a cluster: empty uuid */
        struct msg_state empty = { .schema = 1 };
        msg_begin(&b, MSG_STATE, 1, 2);
        msg_put_state(&b, &empty);
        msg_end(&b);
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), 0);
        assert_int_equal(msg_decode_state(body, size, &s2, &e), 0);
        assert_string_equal(s2.uuid, "");
        assert_true(s2.pos.version == 0);

        /* MSG_CHUNK */
        uint8_t data[300];
        for (size_t i = 0; i < sizeof(data); i++)
                data[i] = (uint8_t)i;
        struct msg_chunk c = { .index = 2,
                               .count = 3,
                               .total_size = 1000,
                               .checksum = UINT64_C(0x5555aaaa5555aaaa),
                               .data = data,
                               .size = sizeof(data) },
                         c2;
        msg_begin(&b, MSG_CHUNK, 3, 4);
        msg_put_chunk(&b, &c);
        msg_end(&b);
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), 0);
        assert_int_equal(h.type, MSG_CHUNK);
        assert_int_equal(msg_decode_chunk(body, size, &c2, &e), 0);
        assert_int_equal(c2.index, 2);
        assert_int_equal(c2.count, 3);
        assert_true(c2.total_size == 1000 && c2.checksum == c.checksum);
        assert_int_equal(c2.size, sizeof(data));
        assert_memory_equal(c2.data, data, sizeof(data));

        /* MSG_INSTALLED and MSG_ACK: a version */
        static const enum msg_type u64_types[] = { MSG_INSTALLED, MSG_ACK };
        for (size_t i = 0; i < ELEMENTSOF(u64_types); i++) {
                uint64_t v = 0;
                msg_begin(&b, u64_types[i], 5, 6);
                msg_put_u64(&b, UINT64_C(0x8000000000000001));
                msg_end(&b);
                assert_int_equal(b.size, MSG_HEADER_SIZE + 8);
                assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), 0);
                assert_int_equal(h.type, u64_types[i]);
                assert_true(h.view == 5);
                assert_int_equal(h.round, 6);
                assert_int_equal(msg_decode_u64(body, size, &v, &e), 0);
                assert_true(v == UINT64_C(0x8000000000000001));
        }
}

static void test_header_layout(void **state) {
        /* The header is little-endian "CLD1", type, version, reserved, view,
         * round, body length: other implementations rely on it. */
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        static const uint8_t expected[MSG_HEADER_SIZE] = {
                'C',  'L',  'D',  '1',  MSG_ACK, MSG_VERSION, 0,    0,    0x08, 0x07, 0x06, 0x05,
                0x04, 0x03, 0x02, 0x01, 0x0d,    0x0c,        0x0b, 0x0a, 8,    0,    0,    0,
        };
        msg_begin(&b, MSG_ACK, UINT64_C(0x0102030405060708), UINT32_C(0x0a0b0c0d));
        msg_put_u64(&b, 1);
        msg_end(&b);
        assert_int_equal(b.size, MSG_HEADER_SIZE + 8);
        assert_memory_equal(b.data, expected, MSG_HEADER_SIZE);
}

static void test_names(void **state) {
        assert_string_equal(msg_type_to_string(MSG_STATE), "state");
        assert_string_equal(msg_type_to_string(MSG_CHUNK), "chunk");
        assert_string_equal(msg_type_to_string(MSG_INSTALLED), "installed");
        assert_string_equal(msg_type_to_string(MSG_OP), "op");
        assert_string_equal(msg_type_to_string(MSG_ACK), "ack");
        assert_string_equal(msg_type_to_string(0), "unknown");
        assert_string_equal(msg_type_to_string(_MSG_TYPE_MAX), "unknown");
        assert_string_equal(op_kind_to_string(0), "unknown");
        assert_string_equal(op_kind_to_string(_OP_KIND_MAX), "unknown");
        assert_string_equal(node_state_to_string(NODE_STATE_JOINING), "joining");
        assert_string_equal(node_state_to_string(NODE_STATE_ONLINE), "online");
        assert_string_equal(node_state_to_string(NODE_STATE_OFFLINE), "offline");
        assert_string_equal(node_state_to_string((enum node_state)7), "unknown");
}

/* ------------------------------------------------------------------------ */
/* Encoder refusals                                                          */

static void test_encoder_field_limits(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(wire); k++)
                for (size_t i = 0; i < wire[k].n_fields; i++) {
                        const struct wire_field *f = &wire[k].fields[i];
                        _cleanup_(msg_buf_done) struct msg_buf b = {};
                        struct op op, out = {};
                        struct err e = {};
                        char **p;

                        if (f->type != W_STR)
                                continue;
                        fill_op(&op, &wire[k]);
                        p = op_field(&op, f->name);

                        /* At the limit: accepted, and decoded back. */
                        free(*p);
                        *p = repeat('a', f->max);
                        assert_int_equal(msg_put_op(&b, &op, &e), 0);
                        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), 0);
                        assert_int_equal(strlen(*(char **)op_field(&out, f->name)), f->max);
                        op_done(&out);

                        /* One more byte: refused, naming the kind and field,
                         * and nothing appended. */
                        free(*p);
                        *p = repeat('a', f->max + 1);
                        b.size = 0;
                        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
                        assert_int_equal(e.code, -EINVAL);
                        assert_int_equal(b.size, 0);
                        _cleanup_free_ char *want =
                                xasprintf("%s: field '%s' is longer than %u bytes", wire[k].name, f->name, f->max);
                        assert_string_equal(e.msg, want);
                        op_done(&op);
                }
}

static void test_encoder_client_limit(void **state) {
        struct op op = { .kind = OP_NODE_REMOVE, .name = xstrdup("n1"), .client = repeat('c', OP_CLIENT_MAX) };
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct err e = {};

        assert_int_equal(msg_put_op(&b, &op, &e), 0);
        free(op.client);
        op.client = repeat('c', OP_CLIENT_MAX + 1);
        b.size = 0;
        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
        assert_string_equal(e.msg, "client name longer than 128 bytes");
        assert_int_equal(b.size, 0);
        op_done(&op);
}

static void test_encoder_required_fields(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(wire); k++)
                for (size_t i = 0; i < wire[k].n_fields; i++) {
                        const struct wire_field *f = &wire[k].fields[i];
                        _cleanup_(msg_buf_done) struct msg_buf b = {};
                        struct op op;
                        struct err e = {};
                        char **p;

                        if (f->type != W_STR)
                                continue;
                        fill_op(&op, &wire[k]);
                        p = op_field(&op, f->name);

                        /* Absent and empty are the same on the wire. */
                        free_and_null(*p);
                        if (!f->required) {
                                assert_int_equal(msg_put_op(&b, &op, &e), 0);
                                op_done(&op);
                                continue;
                        }
                        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
                        _cleanup_free_ char *want = xasprintf("%s: field '%s' is required", wire[k].name, f->name);
                        assert_string_equal(e.msg, want);
                        err_clear(&e);
                        *p = xstrdup("");
                        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
                        assert_string_equal(e.msg, want);
                        assert_int_equal(b.size, 0);
                        op_done(&op);
                }
}

static void test_encoder_unknown_kind(void **state) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct err e = {};
        struct op op = { .kind = 0 };
        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
        assert_string_equal(e.msg, "unknown operation kind 0");
        err_clear(&e);
        op.kind = _OP_KIND_MAX;
        assert_int_equal(msg_put_op(&b, &op, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "unknown operation kind"));
        assert_int_equal(b.size, 0);
}

/* ------------------------------------------------------------------------ */
/* Decoder refusals                                                          */

static void test_decoder_oversize_lengths(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(wire); k++)
                for (size_t i = 0; i < wire[k].n_fields; i++) {
                        const struct wire_field *f = &wire[k].fields[i];
                        struct raw_field over[8] = {};
                        struct op out = {};
                        struct err e = {};

                        if (f->type != W_STR)
                                continue;

                        /* max bytes: fine. */
                        _cleanup_free_ char *at_max = repeat('b', f->max), *too_long = repeat('b', f->max + 1);
                        _cleanup_(msg_buf_done) struct msg_buf b = {};
                        over[i] = (struct raw_field){ true, at_max, f->max, -1 };
                        raw_op_body(&b, &wire[k], over);
                        if (msg_decode_op(b.data, b.size, &out, &e) < 0)
                                fail_msg("%s.%s at its limit: %s", wire[k].name, f->name, e.msg);
                        op_done(&out);

                        /* max+1 bytes really present: refused by the limit. */
                        b.size = 0;
                        over[i] = (struct raw_field){ true, too_long, f->max + 1, -1 };
                        raw_op_body(&b, &wire[k], over);
                        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
                        _cleanup_free_ char *want =
                                xasprintf("%s operation: field '%s' is %u bytes, at most %u allowed", wire[k].name,
                                          f->name, f->max + 1, f->max);
                        assert_string_equal(e.msg, want);

                        /* A length prefix of 4 GiB with nothing behind it. */
                        err_clear(&e);
                        b.size = 0;
                        over[i] = (struct raw_field){ true, "", 0, UINT32_MAX };
                        raw_op_body(&b, &wire[k], over);
                        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
                        assert_non_null(strstr(e.msg, f->name));

                        /* A length within the limit but past the end. */
                        err_clear(&e);
                        b.size = 0;
                        over[i] = (struct raw_field){ true, "", 0, f->max };
                        raw_op_body(&b, &wire[k], over);
                        /* Too few bytes follow in every kind for the claimed length. */
                        int r = msg_decode_op(b.data, b.size, &out, &e);
                        assert_int_equal(r, -EBADMSG);
                        assert_true(e.msg[0] != '\0');
                }
}

static void test_decoder_client_oversize(void **state) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        _cleanup_free_ char *client = repeat('c', OP_CLIENT_MAX + 1);
        struct op out = {};
        struct err e = {};

        msg_buf_put_le(&b, OP_NODE_REMOVE, 2);
        msg_buf_put_le(&b, 0, 2);
        put_zeros(&b, 24);
        msg_buf_put_str(&b, client, strlen(client));
        msg_buf_put_str(&b, "n1", 2);
        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
        assert_string_equal(e.msg, "node-remove operation: field 'client' is 129 bytes, at most 128 allowed");
}

static void test_decoder_nul_in_strings(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(wire); k++)
                for (size_t i = 0; i < wire[k].n_fields; i++) {
                        const struct wire_field *f = &wire[k].fields[i];
                        _cleanup_(msg_buf_done) struct msg_buf b = {};
                        struct raw_field over[8] = {};
                        struct op out = {};
                        struct err e = {};

                        if (f->type != W_STR)
                                continue;
                        over[i] = (struct raw_field){ true, "ab\0cd", 5, -1 };
                        raw_op_body(&b, &wire[k], over);
                        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
                        _cleanup_free_ char *want =
                                xasprintf("%s operation: field '%s' contains a NUL byte", wire[k].name, f->name);
                        assert_string_equal(e.msg, want);

                        /* A lone NUL is not an empty string either. */
                        err_clear(&e);
                        b.size = 0;
                        over[i] = (struct raw_field){ true, "\0", 1, -1 };
                        raw_op_body(&b, &wire[k], over);
                        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
                        assert_string_equal(e.msg, want);
                }

        /* In the client and in a state message's uuid, too. */
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct op out = {};
        struct err e = {};
        msg_buf_put_le(&b, OP_TOKEN_DELETE, 2);
        msg_buf_put_le(&b, 0, 2);
        put_zeros(&b, 24);
        msg_buf_put_str(&b, "root\0", 5);
        msg_buf_put_str(&b, "t1", 2);
        assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
        assert_string_equal(e.msg, "token-delete operation: field 'client' contains a NUL byte");

        struct msg_state s;
        err_clear(&e);
        b.size = 0;
        put_zeros(&b, 24);
        msg_buf_put_le(&b, 1, 4);
        msg_buf_put_str(&b, "0d6b3c1e\0", 9);
        assert_int_equal(msg_decode_state(b.data, b.size, &s, &e), -EBADMSG);
        assert_string_equal(e.msg, "field 'uuid' contains a NUL byte");
}

static void test_decoder_required_fields(void **state) {
        for (size_t k = 0; k < ELEMENTSOF(wire); k++)
                for (size_t i = 0; i < wire[k].n_fields; i++) {
                        const struct wire_field *f = &wire[k].fields[i];
                        _cleanup_(msg_buf_done) struct msg_buf b = {};
                        struct raw_field over[8] = {};
                        struct op out = {};
                        struct err e = {};

                        if (f->type != W_STR)
                                continue;
                        over[i] = (struct raw_field){ true, "", 0, -1 };
                        raw_op_body(&b, &wire[k], over);
                        int r = msg_decode_op(b.data, b.size, &out, &e);
                        if (!f->required) {
                                assert_int_equal(r, 0);
                                assert_null(*(char **)op_field(&out, f->name));
                                op_done(&out);
                                continue;
                        }
                        assert_int_equal(r, -EBADMSG);
                        assert_int_equal(e.code, -EBADMSG);
                        _cleanup_free_ char *want = xasprintf("%s operation: %s: field '%s' is required", wire[k].name,
                                                              wire[k].name, f->name);
                        assert_string_equal(e.msg, want);
                }
}

static void test_decoder_unknown_kind(void **state) {
        static const uint16_t bad[] = { 0, _OP_KIND_MAX, 0xffff };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                _cleanup_(msg_buf_done) struct msg_buf b = {};
                struct op out = {};
                struct err e = {};
                msg_buf_put_le(&b, bad[i], 2);
                msg_buf_put_le(&b, 0, 2);
                put_zeros(&b, 24);
                msg_buf_put_str(&b, "", 0);
                msg_buf_put_str(&b, "n1", 2);
                assert_int_equal(msg_decode_op(b.data, b.size, &out, &e), -EBADMSG);
                _cleanup_free_ char *want = xasprintf("unknown operation kind %u", bad[i]);
                assert_string_equal(e.msg, want);
        }
}

/* Every strict prefix of a valid body is refused with a message; so is the
 * body with one byte appended. */
static void check_truncations(const uint8_t *data, size_t size,
                              int (*decode)(const uint8_t *body, size_t size, void *ret, struct err *e), void *ret,
                              void (*release)(void *ret), const char *what) {
        for (size_t n = 0; n < size; n++) {
                struct err e = {};
                /* A copy of exactly n bytes, so that ASan sees any read past it. */
                _cleanup_free_ uint8_t *copy = xmalloc(n);
                memcpy(copy, data, n);
                int r = decode(copy, n, ret, &e);
                if (r != -EBADMSG)
                        fail_msg("%s truncated to %zu of %zu bytes: got %d", what, n, size, r);
                if (e.code != -EBADMSG || e.msg[0] == '\0')
                        fail_msg("%s truncated to %zu bytes: no error message", what, n);
        }

        struct err e = {};
        _cleanup_free_ uint8_t *longer = xmalloc(size + 1);
        memcpy(longer, data, size);
        longer[size] = 0;
        assert_int_equal(decode(longer, size + 1, ret, &e), -EBADMSG);
        assert_non_null(strstr(e.msg, "1 unexpected bytes after the last field"));

        e = (struct err){};
        assert_int_equal(decode(data, size, ret, &e), 0);
        if (release)
                release(ret);
}

static int decode_op_cb(const uint8_t *body, size_t size, void *ret, struct err *e) {
        return msg_decode_op(body, size, ret, e);
}
static void release_op(void *op) {
        op_done(op);
}
static int decode_state_cb(const uint8_t *body, size_t size, void *ret, struct err *e) {
        return msg_decode_state(body, size, ret, e);
}
static int decode_chunk_cb(const uint8_t *body, size_t size, void *ret, struct err *e) {
        return msg_decode_chunk(body, size, ret, e);
}
static int decode_u64_cb(const uint8_t *body, size_t size, void *ret, struct err *e) {
        return msg_decode_u64(body, size, ret, e);
}

static void test_truncation_every_offset(void **state) {
        /* Op bodies of every kind. */
        for (size_t k = 0; k < ELEMENTSOF(wire); k++) {
                _cleanup_(msg_buf_done) struct msg_buf b = {};
                struct op op, out = {};
                struct err e = {};
                fill_op(&op, &wire[k]);
                assert_int_equal(msg_put_op(&b, &op, &e), 0);
                check_truncations(b.data, b.size, decode_op_cb, &out, release_op, wire[k].name);
                op_done(&op);
        }

        /* State, chunk and version bodies. */
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct msg_state s = { .pos = { 1, 2, 3 }, .schema = 1, .uuid = "0d6b3c1e-8a6f-4c55-9b1e-4f3c2a1b0c9d" }, s2;
        msg_put_state(&b, &s);
        check_truncations(b.data, b.size, decode_state_cb, &s2, NULL, "state");

        uint8_t data[10] = "0123456789";
        struct msg_chunk c = { .index = 0, .count = 1, .total_size = 10, .checksum = 9, .data = data, .size = 10 }, c2;
        b.size = 0;
        msg_put_chunk(&b, &c);
        check_truncations(b.data, b.size, decode_chunk_cb, &c2, NULL, "chunk");

        uint64_t v;
        b.size = 0;
        msg_put_u64(&b, 77);
        check_truncations(b.data, b.size, decode_u64_cb, &v, NULL, "version");
}

static void test_truncated_whole_messages(void **state) {
        /* A whole message cut anywhere is refused by the header already. */
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct op op;
        fill_op(&op, &wire[2]);
        encode_op_msg(&b, &op);
        op_done(&op);

        for (size_t n = 0; n < b.size; n++) {
                struct msg_header h;
                const uint8_t *body;
                size_t size;
                struct err e = {};
                _cleanup_free_ uint8_t *copy = xmalloc(n);
                memcpy(copy, b.data, n);
                assert_int_equal(msg_decode_header(copy, n, &h, &body, &size, &e), -EBADMSG);
                if (n < MSG_HEADER_SIZE)
                        assert_non_null(strstr(e.msg, "shorter than a header"));
                else
                        assert_non_null(strstr(e.msg, "does not match the"));
        }
}

static void test_header_refusals(void **state) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct msg_header h;
        const uint8_t *body;
        size_t size;
        struct err e = {};

        msg_begin(&b, MSG_ACK, 1, 1);
        msg_put_u64(&b, 5);
        msg_end(&b);

        /* Bad magic */
        b.data[0] = 'X';
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), -EBADMSG);
        assert_string_equal(e.msg, "bad magic 0x31444c58");
        b.data[0] = 'C';

        /* Unknown version */
        err_clear(&e);
        b.data[5] = 2;
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), -EBADMSG);
        assert_string_equal(e.msg, "unsupported protocol version 2 (this node speaks 1)");
        b.data[5] = MSG_VERSION;

        /* Unknown types */
        static const uint8_t bad_types[] = { 0, _MSG_TYPE_MAX, 0xff };
        for (size_t i = 0; i < ELEMENTSOF(bad_types); i++) {
                err_clear(&e);
                b.data[4] = bad_types[i];
                assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), -EBADMSG);
                _cleanup_free_ char *want = xasprintf("unknown message type %u", bad_types[i]);
                assert_string_equal(e.msg, want);
        }
        b.data[4] = MSG_ACK;

        /* Body length too small, too large, absurd */
        static const uint32_t bad_len[] = { 7, 9, 0, UINT32_MAX };
        for (size_t i = 0; i < ELEMENTSOF(bad_len); i++) {
                err_clear(&e);
                for (size_t j = 0; j < 4; j++)
                        b.data[20 + j] = (uint8_t)(bad_len[i] >> (8 * j));
                assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), -EBADMSG);
                _cleanup_free_ char *want = xasprintf("body length %u does not match the 8 bytes received", bad_len[i]);
                assert_string_equal(e.msg, want);
        }
        b.data[20] = 8;
        b.data[21] = b.data[22] = b.data[23] = 0;

        /* Trailing bytes after the declared body */
        err_clear(&e);
        msg_buf_put_le(&b, 0, 1);
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, &e), -EBADMSG);
        assert_string_equal(e.msg, "body length 8 does not match the 9 bytes received");
        b.size--;

        /* Nothing at all */
        err_clear(&e);
        assert_int_equal(msg_decode_header(b.data, 0, &h, &body, &size, &e), -EBADMSG);
        assert_string_equal(e.msg, "message of 0 bytes is shorter than a header (24 bytes)");

        /* And the original is still fine. */
        assert_int_equal(msg_decode_header(b.data, b.size, &h, &body, &size, NULL), 0);
}

static void test_body_refusals(void **state) {
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct msg_chunk c;
        struct msg_state s;
        struct err e = {};
        uint8_t data[4] = { 1, 2, 3, 4 };

        /* Chunk index out of range, zero count, larger than the snapshot */
        struct msg_chunk bad[] = {
                { .index = 3, .count = 3, .total_size = 4, .data = data, .size = 4 },
                { .index = 0, .count = 0, .total_size = 4, .data = data, .size = 4 },
                { .index = 0, .count = 1, .total_size = 3, .data = data, .size = 4 },
        };
        static const char *const msgs[] = {
                "chunk 3 of 3 is out of range",
                "chunk 0 of 0 is out of range",
                "chunk of 4 bytes exceeds the snapshot size 3",
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                b.size = 0;
                err_clear(&e);
                msg_put_chunk(&b, &bad[i]);
                assert_int_equal(msg_decode_chunk(b.data, b.size, &c, &e), -EBADMSG);
                assert_string_equal(e.msg, msgs[i]);
        }

        /* A chunk claiming more data than the message holds */
        b.size = 0;
        err_clear(&e);
        msg_put_chunk(&b, &(struct msg_chunk){ .index = 0, .count = 1, .total_size = 100, .data = data, .size = 4 });
        b.data[24] = 100; /* size field */
        assert_int_equal(msg_decode_chunk(b.data, b.size, &c, &e), -EBADMSG);
        assert_string_equal(e.msg, "truncated at field 'chunk' (4 bytes left, 100 needed)");

        /* A uuid longer than 36 bytes */
        b.size = 0;
        err_clear(&e);
        put_zeros(&b, 24);
        msg_buf_put_le(&b, 1, 4);
        msg_buf_put_str(&b, "0d6b3c1e-8a6f-4c55-9b1e-4f3c2a1b0c9d0", 37);
        assert_int_equal(msg_decode_state(b.data, b.size, &s, &e), -EBADMSG);
        assert_string_equal(e.msg, "field 'uuid' is 37 bytes, at most 36 allowed");
}

static void test_decode_failures_leave_output_alone(void **state) {
        /* Output parameters are written only on success. */
        _cleanup_(msg_buf_done) struct msg_buf b = {};
        struct op op, out = { .kind = OP_EVENT, .origin_seq = 99 };
        fill_op(&op, &wire[0]);
        assert_int_equal(msg_put_op(&b, &op, NULL), 0);
        op_done(&op);
        b.data[b.size - 1] = '\0'; /* a NUL in the last string */
        assert_int_equal(msg_decode_op(b.data, b.size, &out, NULL), -EBADMSG);
        assert_int_equal(out.kind, OP_EVENT);
        assert_true(out.origin_seq == 99);
        assert_null(out.key);

        uint64_t v = 5;
        assert_int_equal(msg_decode_u64((const uint8_t *)"1234", 4, &v, NULL), -EBADMSG);
        assert_true(v == 5);
}

static void test_reader_helpers(void **state) {
        static const uint8_t bytes[] = { 3, 0, 0, 0, 'a', 'b', 'c', 0xff };
        struct err e = {};
        struct msg_reader rd = { bytes, sizeof(bytes), "thing", &e };
        const uint8_t *p;
        size_t n;
        uint64_t v;

        assert_int_equal(msg_read_blob(&rd, 3, &p, &n), 0);
        assert_int_equal(n, 3);
        assert_memory_equal(p, "abc", 3);
        assert_int_equal(msg_read_le(&rd, 1, &v), 0);
        assert_true(v == 0xff);
        assert_int_equal(msg_read_le(&rd, 1, &v), -EBADMSG);
        assert_string_equal(e.msg, "truncated at field 'thing' (0 bytes left, 1 needed)");

        struct msg_reader rd2 = { bytes, sizeof(bytes), "thing", NULL };
        assert_int_equal(msg_read_blob(&rd2, 2, &p, &n), -EBADMSG);
        struct msg_reader rd3 = { bytes, 2, "thing", NULL };
        assert_int_equal(msg_read_bytes(&rd3, 3, &p), -EBADMSG);
        assert_int_equal(rd3.left, 2);
}

static void test_ops_batch(void **state) {
        struct msg_buf b = {};
        struct op in[3] = {
                { .kind = OP_SETTING_SET, .origin_seq = 1, .key = xstrdup("user.a"), .value = xstrdup("1") },
                { .kind = OP_SETTING_UNSET, .origin_seq = 2, .key = xstrdup("user.b") },
                { .kind = OP_TOKEN_DELETE, .origin_seq = 3, .name = xstrdup("t") },
        };
        struct msg_ops_reader it;
        struct err e = {};
        size_t at;

        at = msg_ops_begin(&b);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(msg_ops_add(&b, at, &in[i], &e), 0);
        /* A refused op appends nothing and leaves the batch intact. */
        struct op bad = { .kind = OP_SETTING_SET };
        size_t before = b.size;
        assert_int_equal(msg_ops_add(&b, at, &bad, &e), -EINVAL);
        assert_int_equal(b.size, before);

        assert_int_equal(msg_ops_open(b.data, b.size, &it, &e), 0);
        for (size_t i = 0; i < 3; i++) {
                const uint8_t *raw;
                size_t n;
                struct op out = {};
                assert_int_equal(msg_ops_next(&it, &raw, &n, &e), 1);
                assert_int_equal(msg_decode_op(raw, n, &out, &e), 0);
                assert_int_equal(out.kind, in[i].kind);
                assert_true(out.origin_seq == in[i].origin_seq);
                op_done(&out);
        }
        const uint8_t *raw;
        size_t n;
        assert_int_equal(msg_ops_next(&it, &raw, &n, &e), 0);

        /* Every truncation is refused somewhere along the walk. */
        for (size_t cut = 0; cut < b.size; cut++) {
                uint8_t *copy = xmalloc(MAX(cut, 1));
                memcpy(copy, b.data, cut);
                int r = msg_ops_open(copy, cut, &it, &e);
                while (r >= 0) {
                        r = msg_ops_next(&it, &raw, &n, &e);
                        if (r == 0)
                                break;
                }
                assert_true(r < 0);
                free(copy);
        }
        /* Trailing bytes and an empty batch are refused. */
        msg_buf_put_le(&b, 0, 1);
        assert_int_equal(msg_ops_open(b.data, b.size, &it, &e), 0);
        for (size_t i = 0; i < 3; i++)
                assert_int_equal(msg_ops_next(&it, &raw, &n, &e), 1);
        assert_int_equal(msg_ops_next(&it, &raw, &n, &e), -EBADMSG);
        static const uint8_t empty[4] = { 0 };
        assert_int_equal(msg_ops_open(empty, sizeof(empty), &it, &e), -EBADMSG);

        for (size_t i = 0; i < 3; i++)
                op_done(&in[i]);
        msg_buf_done(&b);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_ops_batch),
                cmocka_unit_test(test_op_round_trip_every_kind),
                cmocka_unit_test(test_op_optional_fields_absent),
                cmocka_unit_test(test_op_fields_of_other_kinds_not_sent),
                cmocka_unit_test(test_msg_round_trip_every_type),
                cmocka_unit_test(test_header_layout),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_encoder_field_limits),
                cmocka_unit_test(test_encoder_client_limit),
                cmocka_unit_test(test_encoder_required_fields),
                cmocka_unit_test(test_encoder_unknown_kind),
                cmocka_unit_test(test_decoder_oversize_lengths),
                cmocka_unit_test(test_decoder_client_oversize),
                cmocka_unit_test(test_decoder_nul_in_strings),
                cmocka_unit_test(test_decoder_required_fields),
                cmocka_unit_test(test_decoder_unknown_kind),
                cmocka_unit_test(test_truncation_every_offset),
                cmocka_unit_test(test_truncated_whole_messages),
                cmocka_unit_test(test_header_refusals),
                cmocka_unit_test(test_body_refusals),
                cmocka_unit_test(test_decode_failures_leave_output_alone),
                cmocka_unit_test(test_reader_helpers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
