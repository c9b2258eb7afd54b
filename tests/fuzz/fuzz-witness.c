/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-witness.c: what a witness hands back (the record's text, which
 * anyone with access to the share or container can change) and what an
 * operator writes (witness URLs, the credentials file). The first byte
 * picks the parser. An accepted record must survive its own text form:
 * formatting it and parsing that again gives the same record and the same
 * text. A refusal must come with a message.
 */
#include "quorum/witness-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-witness: %s\n", what);
                abort();
        }
}

static void record(const char *text) {
        struct arbiter_record r = {}, r2 = {};
        struct err e = {};

        if (witness_record_parse(text, &r, &e) < 0) {
                check(e.msg[0] != '\0', "record refused without a message");
                return;
        }
        _cleanup_free_ char *out = witness_record_format(&r, "fuzz");
        check(witness_record_parse(out, &r2, &e) >= 0, "formatted record refused");
        check(memcmp(&r, &r2, sizeof(r)) == 0, "record changed by a round trip");
        _cleanup_free_ char *out2 = witness_record_format(&r2, "fuzz");
        check(streq(out, out2), "record text not stable");
}

static void url(const char *text) {
        struct witness_url u;
        struct err e = {};
        if (witness_url_parse(text, &u, &e) < 0)
                check(e.msg[0] != '\0', "URL refused without a message");
        else
                check(streq(u.scheme, "smb") || streq(u.scheme, "azure"), "unknown scheme accepted");
}

static void credentials(char *text) {
        struct witness_credentials c;
        struct err e = {};
        if (witness_credentials_parse("fuzz", text, &c, &e) < 0)
                check(e.msg[0] != '\0', "credentials refused without a message");
        witness_credentials_wipe(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1 || size > 64 * 1024)
                return 0;
        _cleanup_free_ char *text = xmalloc(size);
        memcpy(text, data + 1, size - 1);
        text[size - 1] = '\0';
        switch (data[0] % 3) {
        case 0:
                record(text);
                break;
        case 1:
                url(text);
                break;
        default:
                credentials(text);
                break;
        }
        return 0;
}
