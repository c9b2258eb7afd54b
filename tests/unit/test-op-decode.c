/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* test-op-decode.c: malformed peer messages and op bodies are refused with a reason, never read past their end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "tests/unit/op-wire.h"

static void put_zeros(struct msg_buf *b, size_t n) {
        static const uint8_t zeros[64];
        msg_buf_put(b, zeros, n);
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

int main(void) {
        const struct CMUnitTest tests[] = {
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
