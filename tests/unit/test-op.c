/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-op.c: the peer message and operation codec. What a peer sends must
 * come out the same on every other node, and what the encoder cannot send
 * is refused before anything is written. Malformed input arriving at the
 * decoder is tested in test-op-decode.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/op-wire.h"

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
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
