/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-corosync-conf.c: corosync.conf as clusterd writes it on every node.
 * The text must be exactly what the nodes' corosync expects (same on every
 * node, nodes in id order), values that would change the file's structure
 * must be refused, and corosync's own parser must accept the result.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sys/wait.h>

#include "clusterd/cluster-int.h"
#include "clusterd/clusterd-int.h"
#include "quorum/quorum.h"

#define HEADER                                                                                                         \
        "# Written by clusterd from the cluster database. Changes made here are\n"                                     \
        "# overwritten: change the cluster with clusterctl (node add, node remove).\n"

#define FOOTER                                                                                                         \
        "}\n"                                                                                                          \
        "\n"                                                                                                           \
        "quorum {\n"                                                                                                   \
        "    provider: corosync_votequorum\n"                                                                          \
        "}\n"                                                                                                          \
        "\n"                                                                                                           \
        "logging {\n"                                                                                                  \
        "    to_logfile: yes\n"                                                                                        \
        "    logfile: /var/log/corosync/corosync.log\n"                                                                \
        "    to_syslog: yes\n"                                                                                         \
        "    timestamp: hires\n"                                                                                       \
        "}\n"

static char *render(const char *name, uint32_t token_ms, const struct corosync_conf_node *nodes, size_t n) {
        char *text = NULL;
        struct err e = {};
        if (corosync_conf_render(name, token_ms, nodes, n, NULL, &text, &e) < 0)
                fail_msg("corosync_conf_render: %s", e.msg);
        return text;
}

static void test_one_node(void **state) {
        static const struct corosync_conf_node nodes[] = { { "n1", 1, "198.18.0.1" } };
        _cleanup_free_ char *text = render("lab", 3000, nodes, 1);
        assert_string_equal(text, HEADER "totem {\n"
                                         "    version: 2\n"
                                         "    cluster_name: lab\n"
                                         "    transport: knet\n"
                                         "    crypto_cipher: aes256\n"
                                         "    crypto_hash: sha256\n"
                                         "    token: 3000\n"
                                         "}\n"
                                         "\n"
                                         "nodelist {\n"
                                         "    node {\n"
                                         "        name: n1\n"
                                         "        nodeid: 1\n"
                                         "        ring0_addr: 198.18.0.1\n"
                                         "    }\n" FOOTER);
}

static void test_three_nodes_sorted(void **state) {
        /* Given out of order (as after "node add" with an explicit id); the
         * file lists them by id, so that every node writes the same text. */
        const struct corosync_conf_node nodes[] = {
                { "web-3", 30, "n3.example.org" },
                { "db_1", 7, "198.18.0.7" },
                { "app2", 12, "fd00::12" },
        };
        const struct corosync_conf_node copy[3] = { nodes[0], nodes[1], nodes[2] };
        _cleanup_free_ char *text = render("prod-eu", 1000, nodes, 3);
        assert_string_equal(text, HEADER "totem {\n"
                                         "    version: 2\n"
                                         "    cluster_name: prod-eu\n"
                                         "    transport: knet\n"
                                         "    crypto_cipher: aes256\n"
                                         "    crypto_hash: sha256\n"
                                         "    token: 1000\n"
                                         "}\n"
                                         "\n"
                                         "nodelist {\n"
                                         "    node {\n"
                                         "        name: db_1\n"
                                         "        nodeid: 7\n"
                                         "        ring0_addr: 198.18.0.7\n"
                                         "    }\n"
                                         "    node {\n"
                                         "        name: app2\n"
                                         "        nodeid: 12\n"
                                         "        ring0_addr: fd00::12\n"
                                         "    }\n"
                                         "    node {\n"
                                         "        name: web-3\n"
                                         "        nodeid: 30\n"
                                         "        ring0_addr: n3.example.org\n"
                                         "    }\n" FOOTER);
        /* The caller's array is left as it was. */
        assert_memory_equal(nodes, copy, sizeof(copy));

        /* Any order in, the same text out. */
        const struct corosync_conf_node other_order[] = { nodes[2], nodes[0], nodes[1] };
        _cleanup_free_ char *text2 = render("prod-eu", 1000, other_order, 3);
        assert_string_equal(text, text2);
}

static void test_token_values(void **state) {
        static const struct corosync_conf_node nodes[] = { { "n1", 1, "198.18.0.1" } };
        static const uint32_t tokens[] = { 200, 60000, UINT32_MAX };
        for (size_t i = 0; i < ELEMENTSOF(tokens); i++) {
                _cleanup_free_ char *text = render("c", tokens[i], nodes, 1);
                _cleanup_free_ char *line = xasprintf("\n    token: %" PRIu32 "\n", tokens[i]);
                assert_non_null(strstr(text, line));
        }
}

static void test_unsafe_values(void **state) {
        static const char *const unsafe[] = { "",  "a b", "a\tb", "a\nb", "a{",   "}",
                                              "#", "a#b", "a\rb", "\x01", "a{b}", " lead" };
        const struct corosync_conf_node good[] = { { "n1", 1, "198.18.0.1" }, { "n2", 2, "198.18.0.2" } };

        for (size_t i = 0; i < ELEMENTSOF(unsafe); i++) {
                char *text = NULL;
                struct err e = {};

                /* As the cluster name */
                assert_int_equal(corosync_conf_render(unsafe[i], 3000, good, 2, NULL, &text, &e), -EINVAL);
                assert_null(text);
                _cleanup_free_ char *want =
                        xasprintf("cluster name '%s' cannot be written to corosync.conf", unsafe[i]);
                assert_string_equal(e.msg, want);

                /* As a node name */
                struct corosync_conf_node bad[2] = { good[0], good[1] };
                bad[1].name = unsafe[i];
                err_clear(&e);
                assert_int_equal(corosync_conf_render("c", 3000, bad, 2, NULL, &text, &e), -EINVAL);
                assert_null(text);
                _cleanup_free_ char *want2 = xasprintf("node '%s' cannot be written to corosync.conf", unsafe[i]);
                assert_string_equal(e.msg, want2);

                /* As an address: the message names the node */
                bad[1] = good[1];
                bad[1].address = unsafe[i];
                err_clear(&e);
                assert_int_equal(corosync_conf_render("c", 3000, bad, 2, NULL, &text, &e), -EINVAL);
                assert_null(text);
                assert_string_equal(e.msg, "node 'n2' cannot be written to corosync.conf");
        }
}

static void test_missing_values(void **state) {
        const struct corosync_conf_node good[] = { { "n1", 1, "198.18.0.1" } };
        char *text = NULL;
        struct err e = {};

        assert_int_equal(corosync_conf_render(NULL, 3000, good, 1, NULL, &text, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "cannot be written to corosync.conf"));

        /* No nodes */
        err_clear(&e);
        assert_int_equal(corosync_conf_render("c", 3000, NULL, 0, NULL, &text, &e), -EINVAL);
        assert_string_equal(e.msg, "a cluster needs at least one node");
        assert_null(text);

        /* A node without name or address, or with id 0 */
        struct corosync_conf_node bad = { NULL, 1, "198.18.0.1" };
        err_clear(&e);
        assert_int_equal(corosync_conf_render("c", 3000, &bad, 1, NULL, &text, &e), -EINVAL);
        assert_string_equal(e.msg, "node '' cannot be written to corosync.conf");
        bad = (struct corosync_conf_node){ "n1", 1, NULL };
        assert_int_equal(corosync_conf_render("c", 3000, &bad, 1, NULL, &text, NULL), -EINVAL);
        bad = (struct corosync_conf_node){ "n1", 0, "198.18.0.1" };
        err_clear(&e);
        assert_int_equal(corosync_conf_render("c", 3000, &bad, 1, NULL, &text, &e), -EINVAL);
        assert_string_equal(e.msg, "node 'n1' cannot be written to corosync.conf");
        assert_null(text);
}

static void test_quorum_device(void **state) {
        static const struct corosync_conf_node nodes[] = { { "n1", 1, "198.18.0.1" }, { "n2", 2, "198.18.0.2" } };
        const struct corosync_conf_device dev = {
                .votes = 1, .expected_votes = 3, .timeout_ms = 2000, .sync_timeout_ms = 3000
        };
        _cleanup_free_ char *text = NULL, *odd = NULL;
        struct err e = {};

        assert_int_equal(corosync_conf_render("lab", 3000, nodes, 2, &dev, &text, &e), 0);
        assert_non_null(strstr(text, "quorum {\n"
                                     "    provider: corosync_votequorum\n"
                                     "    expected_votes: 3\n"
                                     "    device {\n"
                                     "        model: clusterd\n"
                                     "        votes: 1\n"
                                     "        timeout: 2000\n"
                                     "        sync_timeout: 3000\n"
                                     "    }\n"
                                     "}\n"));
        /* A witness that does not count (odd number of nodes): the device
         * stays registered with no votes, and expected votes come from the
         * nodelist. */
        const struct corosync_conf_device none = {
                .votes = 0, .expected_votes = 0, .timeout_ms = 2000, .sync_timeout_ms = 3000
        };
        assert_int_equal(corosync_conf_render("lab", 3000, nodes, 1, &none, &odd, &e), 0);
        assert_null(strstr(odd, "expected_votes"));
        assert_non_null(strstr(odd, "        votes: 0\n"));
}

/* Dynamic quorum: a node that left cleanly is written with no vote, and
 * the witness's parity counts only the nodes with one. */
static void test_left_node(void **state) {
        static const struct corosync_conf_node nodes[] = { { "n1", 1, "198.18.0.1" },
                                                           { "n2", 2, "198.18.0.2" },
                                                           { "n3", 3, "198.18.0.3", true } };
        _cleanup_free_ char *text = NULL;
        struct err e = {};

        assert_int_equal(corosync_conf_render("lab", 3000, nodes, 3, NULL, &text, &e), 0);
        assert_non_null(strstr(text, "        ring0_addr: 198.18.0.2\n"
                                     "    }\n"));
        assert_non_null(strstr(text, "        ring0_addr: 198.18.0.3\n"
                                     "        quorum_votes: 0\n"
                                     "    }\n"));
        assert_null(strstr(strstr(text, "quorum_votes") + 1, "quorum_votes"));
}

static void test_dynamic_votes(void **state) {
        struct db_node nodes[4] = {
                { .name = (char *)"n1", .vote = true },
                { .name = (char *)"n2", .vote = true },
                { .name = (char *)"n3", .vote = false },
                { .name = (char *)"n4", .vote = true },
        };
        bool counts[4];

        assert_int_equal(dynamic_votes(nodes, 4, counts), 3);
        assert_true(counts[0] && counts[1] && !counts[2] && counts[3]);
        assert_int_equal(quorum_expected_votes(dynamic_votes(nodes, 4, NULL), true), 3);
        nodes[3].vote = false;
        assert_int_equal(dynamic_votes(nodes, 4, counts), 2);
        assert_int_equal(quorum_expected_votes(dynamic_votes(nodes, 4, NULL), true), 3);
        assert_true(quorum_witness_counts(dynamic_votes(nodes, 4, NULL)));
        /* No vote at all is never written: then every node counts. */
        nodes[0].vote = nodes[1].vote = false;
        assert_int_equal(dynamic_votes(nodes, 4, counts), 4);
        assert_true(counts[0] && counts[1] && counts[2] && counts[3]);
        assert_int_equal(dynamic_votes(nodes, 0, NULL), 0);
}

/* ------------------------------------------------------------------------ */
/* corosync's own parser                                                     */

static const char *find_corosync(void) {
        static const char *const paths[] = { "/usr/sbin/corosync", "/usr/local/sbin/corosync", "/sbin/corosync" };
        for (size_t i = 0; i < ELEMENTSOF(paths); i++)
                if (access(paths[i], X_OK) == 0)
                        return paths[i];
        return NULL;
}

/* Replaces the one occurrence of from in *text by to. */
static void replace_once(char **text, const char *from, const char *to) {
        char *p = strstr(*text, from);
        assert_non_null(p);
        assert_null(strstr(p + 1, from));
        char *s = xasprintf("%.*s%s%s", (int)(p - *text), *text, to, p + strlen(from));
        free(*text);
        *text = s;
}

/* Runs "corosync -t -c conf" with its output in log; returns its exit status. */
static int corosync_test(const char *corosync, const char *conf, const char *log) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
                if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0)
                        _exit(127);
                execl(corosync, corosync, "-t", "-c", conf, (char *)NULL);
                _exit(127);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void test_corosync_accepts(void **state) {
        /* corosync -t parses the file, reads the authkey, finds the local
         * node in the nodelist and exits, touching nothing but its log
         * file. The rendered text is used as is, except for three
         * machine-local values pointed into the test's directory: the key
         * file (the default /etc/corosync/authkey need not exist here),
         * the log file and syslog. All addresses are IP literals on the
         * loopback, so nothing is resolved or sent. */
        const char *corosync = find_corosync();
        if (!corosync) {
                print_message("corosync is not installed\n");
                skip();
        }
        if (geteuid() != 0) {
                print_message("corosync -t needs root\n");
                skip();
        }

        const char *tmpl = *state;
        _cleanup_free_ char *conf = xasprintf("%s/corosync.conf", tmpl), *key = xasprintf("%s/authkey", tmpl),
                            *log = xasprintf("%s/corosync.log", tmpl), *out = xasprintf("%s/output", tmpl),
                            *keyline = xasprintf("    token: 1000\n    keyfile: %s\n", key),
                            *logline = xasprintf("    logfile: %s\n", log);
        uint8_t authkey[128];
        assert_int_equal(random_bytes(authkey, sizeof(authkey)), 0);
        assert_int_equal(write_file_atomic(key, authkey, sizeof(authkey), 0400), 0);

        const struct corosync_conf_node nodes[] = {
                { "n3", 3, "127.0.0.3", true }, /* left cleanly: quorum_votes 0 */
                { "n1", 1, "127.0.0.1" },
                { "n2", 2, "127.0.0.2" },
        };
        for (size_t n = 1; n <= 3; n += 2) {
                /* One node (the local one), then three. */
                const struct corosync_conf_node *list = n == 1 ? &nodes[1] : nodes;
                char *text = render("lab-1", 1000, list, n);
                replace_once(&text, "    token: 1000\n", keyline);
                replace_once(&text, "    logfile: /var/log/corosync/corosync.log\n", logline);
                replace_once(&text, "    to_syslog: yes\n", "    to_syslog: no\n");
                assert_int_equal(write_file_atomic(conf, text, strlen(text), 0600), 0);
                free(text);

                int r = corosync_test(corosync, conf, out);
                if (r != 0) {
                        _cleanup_free_ char *output = NULL;
                        (void)read_full_file(out, 65536, &output, NULL);
                        fail_msg("corosync -t refused the rendered file (%d nodes, status %d):\n%s", (int)n, r,
                                 strempty(output));
                }
        }

        /* The check is real: the same file with a structural error fails. */
        char *text = render("lab-1", 1000, &nodes[1], 1);
        replace_once(&text, "    token: 1000\n", keyline);
        replace_once(&text, "    logfile: /var/log/corosync/corosync.log\n", logline);
        replace_once(&text, "    to_syslog: yes\n", "    to_syslog: no\n");
        replace_once(&text, "cluster_name: lab-1\n", "cluster_name: lab-1 {\n");
        assert_int_equal(write_file_atomic(conf, text, strlen(text), 0600), 0);
        free(text);
        assert_int_not_equal(corosync_test(corosync, conf, out), 0);
}

static int setup_dir(void **state) {
        char tmpl[] = "/tmp/test-corosync-conf-XXXXXX";
        if (!mkdtemp(tmpl))
                return -1;
        *state = xstrdup(tmpl);
        return 0;
}

static int teardown_dir(void **state) {
        char *dir = *state;
        int r = rm_rf(dir);
        free(dir);
        return r;
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_node),
                cmocka_unit_test(test_three_nodes_sorted),
                cmocka_unit_test(test_token_values),
                cmocka_unit_test(test_unsafe_values),
                cmocka_unit_test(test_missing_values),
                cmocka_unit_test(test_quorum_device),
                cmocka_unit_test(test_left_node),
                cmocka_unit_test(test_dynamic_votes),
                cmocka_unit_test_setup_teardown(test_corosync_accepts, setup_dir, teardown_dir),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
