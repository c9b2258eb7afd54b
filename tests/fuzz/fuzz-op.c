/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-op.c: peer messages as they arrive from CPG. The input is one whole
 * message: its header is decoded, then its body with the decoder for its
 * type. Whatever decodes must encode back to the same bytes (the reserved
 * fields aside, which are not checked), so that a message relayed or
 * hashed by another node means the same there. Anything else must be
 * refused with a message, without reading past the input or leaking.
 */
#include "clusterd/op-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-op: %s\n", what);
                abort();
        }
}

/* body re-encoded must equal the input body, except bytes [skip, skip+n). */
static void check_same(const struct msg_buf *b, const uint8_t *body, size_t size, size_t skip, size_t n,
                       const char *what) {
        check(b->size == size, what);
        for (size_t i = 0; i < size; i++)
                if (i < skip || i >= skip + n)
                        check(b->data[i] == body[i], what);
}

static void fuzz_op(const uint8_t *body, size_t size) {
        struct msg_buf b = {};
        struct op op = {}, again = {};
        struct err e = {};

        if (msg_decode_op(body, size, &op, &e) < 0) {
                check(e.code == -EBADMSG && e.msg[0], "op refused without a message");
                return;
        }
        check(op.kind > 0 && op.kind < _OP_KIND_MAX, "decoded an unknown kind");
        check(!streq(op_kind_to_string(op.kind), "unknown"), "decoded kind has no name");

        /* What was accepted from a peer can be sent on. */
        check(msg_put_op(&b, &op, &e) >= 0, "decoded op does not encode");
        check_same(&b, body, size, 2, 2, "op re-encoding differs");
        check(msg_decode_op(b.data, b.size, &again, &e) >= 0, "re-encoded op does not decode");
        check(again.kind == op.kind && again.epoch == op.epoch && again.origin_seq == op.origin_seq &&
                      again.time_usec == op.time_usec && streq_ptr(again.client, op.client) &&
                      streq_ptr(again.name, op.name) && streq_ptr(again.key, op.key) &&
                      streq_ptr(again.value, op.value) && streq_ptr(again.address, op.address) &&
                      streq_ptr(again.token_id, op.token_id) && streq_ptr(again.event_kind, op.event_kind) &&
                      streq_ptr(again.event_object, op.event_object) &&
                      streq_ptr(again.event_message, op.event_message) && again.nodeid == op.nodeid &&
                      again.state == op.state && again.daemon == op.daemon && again.since_usec == op.since_usec &&
                      again.daemon_since_usec == op.daemon_since_usec && again.expires_usec == op.expires_usec &&
                      memcmp(again.secret_hash, op.secret_hash, OP_HASH_SIZE) == 0,
              "op round trip differs");
        op_done(&again);
        op_done(&op);
        msg_buf_done(&b);
}

static void fuzz_body(enum msg_type type, const uint8_t *body, size_t size) {
        struct msg_buf b = {};
        struct err e = {};
        int r = 0;

        switch (type) {
        case MSG_STATE: {
                struct msg_state s;
                r = msg_decode_state(body, size, &s, &e);
                if (r >= 0) {
                        check(strlen(s.uuid) <= 36, "uuid too long");
                        msg_put_state(&b, &s);
                        check_same(&b, body, size, 0, 0, "state re-encoding differs");
                }
                break;
        }
        case MSG_CHUNK: {
                struct msg_chunk c;
                r = msg_decode_chunk(body, size, &c, &e);
                if (r >= 0) {
                        check(c.index < c.count && c.size <= c.total_size, "chunk out of range");
                        check(c.data >= body && c.data + c.size <= body + size, "chunk data outside the message");
                        msg_put_chunk(&b, &c);
                        check_same(&b, body, size, 0, 0, "chunk re-encoding differs");
                }
                break;
        }
        case MSG_INSTALLED:
        case MSG_ACK: {
                uint64_t v;
                r = msg_decode_u64(body, size, &v, &e);
                if (r >= 0) {
                        msg_put_u64(&b, v);
                        check_same(&b, body, size, 0, 0, "version re-encoding differs");
                }
                break;
        }
        case MSG_EVICT: {
                uint32_t nodeid, pid;
                r = msg_decode_member(body, size, &nodeid, &pid, &e);
                if (r >= 0) {
                        msg_put_member(&b, nodeid, pid);
                        check_same(&b, body, size, 0, 0, "member re-encoding differs");
                }
                break;
        }
        case MSG_OP: {
                struct msg_ops_reader it;
                const uint8_t *raw;
                size_t raw_size;
                if (msg_ops_open(body, size, &it, &e) < 0)
                        break;
                while ((r = msg_ops_next(&it, &raw, &raw_size, &e)) > 0)
                        fuzz_op(raw, raw_size);
                break;
        }
        default:
                check(false, "header accepted an unknown type");
        }
        if (r < 0)
                check(r == -EBADMSG && e.code == -EBADMSG && e.msg[0], "body refused without a message");
        msg_buf_done(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct msg_header h;
        const uint8_t *body = NULL;
        size_t body_size = 0;
        struct err e = {};

        if (msg_decode_header(data, size, &h, &body, &body_size, &e) < 0) {
                check(e.code == -EBADMSG && e.msg[0], "header refused without a message");
                return 0;
        }
        check(body == data + MSG_HEADER_SIZE && body_size == size - MSG_HEADER_SIZE, "body outside the message");
        check(!streq(msg_type_to_string(h.type), "unknown"), "accepted type has no name");

        /* The header encodes back to the same bytes (reserved aside). */
        struct msg_buf b = {};
        msg_begin(&b, h.type, h.view, h.round);
        msg_buf_put(&b, body, body_size);
        msg_end(&b);
        check_same(&b, data, size, 6, 2, "header re-encoding differs");
        msg_buf_done(&b);

        fuzz_body(h.type, body, body_size);
        return 0;
}
