/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-tool: one witness backend operation from the command line, for
 * the backend tests (tests/integration/test_witness_*.py) and for an
 * operator checking that a node reaches its witness.
 *
 *   witness-tool --url URL --credentials FILE [--timeout-ms N] read NAME
 *   witness-tool --url URL --credentials FILE [--timeout-ms N] write NAME EXPECT_TAG GENERATION FILE
 *
 * Prints "result=<result> tag=<tag>", and for a read that found the
 * object a line "--" and its content. Exit 0 when the operation had a
 * result (whatever it was), 2 on bad usage or setup; messages on stderr.
 */
#include <getopt.h>

#include "quorum/witness-int.h"

static int usage(void) {
        fprintf(stderr, "usage: witness-tool --url URL --credentials FILE [--timeout-ms N] read NAME\n"
                        "       witness-tool --url URL --credentials FILE [--timeout-ms N] write NAME EXPECT_TAG "
                        "GENERATION FILE\n"
                        "EXPECT_TAG '-' creates the object only if there is none.\n");
        return 2;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "url", required_argument, NULL, 'u' },
                { "credentials", required_argument, NULL, 'c' },
                { "timeout-ms", required_argument, NULL, 't' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        const char *url = NULL, *cred_path = NULL;
        struct witness_credentials cred = {};
        const struct witness_backend_ops *ops;
        char tag[WITNESS_TAG_MAX] = "";
        uint64_t timeout_ms = 5000;
        enum arbiter_result res;
        struct witness_url u;
        struct err e = {};
        void *state = NULL;
        int c;

        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
                switch (c) {
                case 'u':
                        url = optarg;
                        break;
                case 'c':
                        cred_path = optarg;
                        break;
                case 't':
                        if (parse_uint64(optarg, &timeout_ms) < 0 || timeout_ms == 0) {
                                fprintf(stderr, "error: --timeout-ms: '%s' is not a positive number\n", optarg);
                                return 2;
                        }
                        break;
                default:
                        return usage();
                }
        argc -= optind;
        argv += optind;
        if (!url || !cred_path || argc < 2)
                return usage();
        if (witness_url_parse(url, &u, &e) < 0 || witness_credentials_read(cred_path, &cred, &e) < 0) {
                fprintf(stderr, "error: %s\n", e.msg);
                return 2;
        }
        ops = streq(u.scheme, "smb") ? &witness_smb_ops : &witness_azure_ops;
        c = ops->open(&u, &cred, &state, &e);
        witness_credentials_wipe(&cred);
        if (c < 0) {
                fprintf(stderr, "error: %s\n", e.msg);
                return 2;
        }

        if (streq(argv[0], "read") && argc == 2) {
                _cleanup_free_ char *text = NULL;
                res = ops->read(state, argv[1], timeout_ms * 1000, &text, tag, &e);
                printf("result=%s tag=%s\n", arbiter_result_to_string(res), tag);
                if (res == ARBITER_OK)
                        printf("--\n%s", strempty(text));
        } else if (streq(argv[0], "write") && argc == 5) {
                _cleanup_free_ char *text = NULL;
                uint64_t gen;
                size_t size;
                if (parse_uint64(argv[3], &gen) < 0 || gen == 0) {
                        fprintf(stderr, "error: GENERATION '%s' is not a positive number\n", argv[3]);
                        ops->close(state);
                        return 2;
                }
                if (read_full_file(argv[4], WITNESS_RECORD_MAX, &text, &size) < 0) {
                        fprintf(stderr, "error: cannot read '%s'\n", argv[4]);
                        ops->close(state);
                        return 2;
                }
                res = ops->write(state, argv[1], streq(argv[2], "-") ? "" : argv[2], gen, text, timeout_ms * 1000, tag,
                                 &e);
                printf("result=%s tag=%s\n", arbiter_result_to_string(res), tag);
        } else {
                ops->close(state);
                return usage();
        }
        if (e.msg[0])
                fprintf(stderr, "error: %s\n", e.msg);
        /* Before anything at exit (a sanitizer's report) can end the process. */
        fflush(stdout);
        ops->close(state);
        return 0;
}
