/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-role.c: role definitions (the body of POST /v1/roles, and what the
 * database stores). An accepted definition must survive its canonical
 * form: parsing role_def_to_json() again gives the same text. A refused one
 * must come with a message. The first byte picks an edit to try after a
 * successful parse (none, patch with the same body, add it as a resource).
 */
#include "clusterd/roles-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "fuzz-role: %s\n", what);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(json_object_putp) json_object *o = NULL, *canon = NULL, *again = NULL;
        _cleanup_(role_def_done) struct role_def d = {}, d2 = {};
        struct err e = {};
        uint8_t edit;
        int r;

        if (size < 1 || size > 256 * 1024)
                return 0;
        edit = data[0] % 3;
        if (json_parse_object((const char *)data + 1, size - 1, &o, &e) < 0)
                return 0;
        r = role_def_from_json(o, NULL, &d, &e);
        if (r < 0) {
                check(e.code == r && e.msg[0], "refused without a message");
                return 0;
        }
        canon = role_def_to_json(&d);
        check(role_def_from_json(canon, NULL, &d2, &e) >= 0, "canonical form refused");
        again = role_def_to_json(&d2);
        check(streq(json_object_to_json_string_ext(canon, JSON_C_TO_STRING_PLAIN),
                    json_object_to_json_string_ext(again, JSON_C_TO_STRING_PLAIN)),
              "canonical form changed on a round trip");
        if (edit == 1)
                (void)role_def_patch(&d, o, &e);
        else if (edit == 2)
                (void)role_def_add_resource(&d, o, &e);
        return 0;
}
