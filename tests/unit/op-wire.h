/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * op-wire.h: shared by test-op.c and test-op-decode.c: the wire table and
 * helpers that fill and encode an op of any kind from it.
 *
 * The wire layout of each operation kind is written out again below (not
 * taken from the codec) so that an accidental change of the protocol shows
 * up here as a failure.
 */
#pragma once

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
        { OP_NODE_VOTE, "node-vote", { { "name", W_STR, OP_NAME_MAX, true }, { "vote", W_U8, 0, false } }, 2 },
};

/* Where a wire field lives in struct op. */
static inline void *op_field(struct op *op, const char *name) {
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
        if (streq(name, "create") || streq(name, "failure") || streq(name, "pause") || streq(name, "vote"))
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

static inline char *repeat(char c, size_t n) {
        char *s = xmalloc(n + 1);
        memset(s, c, n);
        s[n] = '\0';
        return s;
}

/* A complete op of kind w with every field set to a distinctive value. */
static inline void fill_op(struct op *op, const struct wire_kind *w) {
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

/* A whole MSG_OP message: a batch holding op alone. */
static inline void encode_op_msg(struct msg_buf *b, const struct op *op) {
        struct err e = {};
        msg_begin(b, MSG_OP, UINT64_C(0x1122334455667788), 7);
        size_t at = msg_ops_begin(b);
        if (msg_ops_add(b, at, op, &e) < 0)
                fail_msg("encoding %s: %s", op_kind_to_string(op->kind), e.msg);
        msg_end(b);
}
