/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-qmp.c: what a QMP socket sends (QEMU, or anything that listens on
 * its path). The input is a byte stream, fed to the reader in chunks whose
 * sizes come from the input itself, so that messages split at every
 * possible point. Every message is checked for the fields its type
 * promises, and every "return" value is also tried as a query-status
 * reply. Bad input must be refused with a message, never crash, read past
 * the input, or leak.
 */
#include "agents/qmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-qmp: %s\n", what);
                abort();
        }
}

static void check_msg(const struct qmp_msg *m) {
        check(m->root && json_object_is_type(m->root, json_type_object), "message without a root object");
        check(m->id >= -1, "negative id");
        check(json_object_to_json_string(m->root) != NULL, "message does not serialise");
        switch (m->type) {
        case QMP_MSG_GREETING:
                check(m->value && json_object_is_type(m->value, json_type_object), "greeting without an object");
                break;
        case QMP_MSG_RETURN: {
                struct qmp_status st;
                struct err e = {};
                if (qmp_status_parse(m->value, &st, &e) >= 0) {
                        size_t n = strnlen(st.status, sizeof(st.status));
                        check(n > 0 && n < sizeof(st.status), "status not terminated");
                        check(strspn(st.status, "abcdefghijklmnopqrstuvwxyz-") == n, "status with odd characters");
                } else
                        check(e.code == -EBADMSG && e.msg[0], "status refused without a message");
                break;
        }
        case QMP_MSG_ERROR:
                check(m->error_class && m->error_desc, "error without class or description");
                break;
        case QMP_MSG_EVENT:
                check(m->event && m->event[0], "event without a name");
                check(!m->value || json_object_is_type(m->value, json_type_object), "event data not an object");
                break;
        default:
                check(false, "unknown message type");
        }
        check(!streq(qmp_msg_type_to_string(m->type), "unknown"), "message type has no name");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct qmp_reader r = {};
        struct qmp_msg m = { .id = -1 };
        struct err e = {};
        size_t pos = 0, chunk;

        /* The whole input as one message. */
        if (qmp_msg_parse((const char *)data, size, &m, &e) >= 0) {
                check_msg(&m);
                qmp_msg_done(&m);
        } else
                check(e.code == -EBADMSG && e.msg[0], "message refused without a message");

        /* The input as a stream, in chunks of 1..256 bytes. */
        chunk = size > 0 ? (size_t)data[0] + 1 : 1;
        for (;;) {
                int k;

                e = (struct err){};
                k = qmp_reader_next(&r, &m, &e);
                if (k > 0) {
                        check_msg(&m);
                        qmp_msg_done(&m);
                        continue;
                }
                if (k == -EMSGSIZE) {
                        check(r.used > QMP_MSG_MAX, "message too long reported early");
                        break;
                }
                if (k < 0) {
                        check(k == -EBADMSG && e.msg[0], "line refused without a message");
                        continue;
                }
                if (pos == size)
                        break;
                check(qmp_reader_space(&r) > 0, "reader full without a complete line");
                size_t n = qmp_reader_feed(&r, data + pos, MIN(chunk, size - pos));
                check(n > 0 && r.used <= QMP_MSG_MAX + 2, "reader took nothing or too much");
                pos += n;
        }
        qmp_reader_done(&r);
        return 0;
}
