/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-config.c: clusterd.yaml parsing. Besides "never crash, never leak",
 * every accepted input must survive the round trip that `clusterd
 * --check-config` and reloads rely on: the normalized output parses again,
 * formats to the same text, and differs in no restart-only setting.
 */
#include "clusterd/config-int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(config_freep) struct config *c = NULL, *again = NULL;
        _cleanup_free_ char *text = NULL, *text_again = NULL;
        _cleanup_strv_free_ char **changed = NULL;
        struct err e = {};

        if (config_parse((const char *)data, size, "fuzz.yaml", &c, &e) < 0) {
                /* Every refusal says where and what. */
                if (e.code >= 0 || strncmp(e.msg, "fuzz.yaml:", 10) != 0)
                        abort();
                return 0;
        }

        text = config_format(c);
        if (config_parse(text, strlen(text), "formatted", &again, &e) < 0) {
                fprintf(stderr, "normalized output does not parse: %s\n%s", e.msg, text);
                abort();
        }
        text_again = config_format(again);
        if (!streq(text, text_again)) {
                fprintf(stderr, "normalized output is not stable:\n%s---\n%s", text, text_again);
                abort();
        }
        changed = config_restart_needed(c, again);
        if (changed) {
                fprintf(stderr, "round trip changed '%s'\n", changed[0]);
                abort();
        }
        return 0;
}
