/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-config.c: clusterd.yaml as an operator writes it: defaults, every key,
 * the exact message (file:line:column and text) for each kind of mistake,
 * the YAML features that are refused, the limits, the normalized output and
 * its round trip, and which changes need a restart.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <syslog.h>

#include "clusterd/config-int.h"
#include "clusterd/log.h"
#include "clusterd/yaml-int.h"

#define NAME "clusterd.yaml"

/* A config with every key set to something other than its default. */
static const char full_yaml[] = "node:\n"
                                "  name: n1\n"
                                "state-dir: /srv/clusterd\n"
                                "log:\n"
                                "  target: file\n"
                                "  file: /var/log/clusterd/clusterd.log\n"
                                "  level: debug\n"
                                "api:\n"
                                "  socket: /run/c/api.sock\n"
                                "  listen: [\"198.18.0.1:7441\", \"[FD00:0::1]:8443\"]\n"
                                "  tls: no\n"
                                "  max-body-size: 2MiB\n"
                                "  max-clients: 16\n"
                                "  request-timeout: 1m30s\n"
                                "database:\n"
                                "  synchronous: normal\n"
                                "  write-timeout: 250ms\n"
                                "  member-timeout: 3s\n"
                                "  max-pending-writes: 64\n"
                                "corosync:\n"
                                "  config: /etc/cs/corosync.conf\n"
                                "  authkey: /etc/cs/authkey\n"
                                "  start-command: \"/usr/sbin/corosync -f\"\n"
                                "  stop-command: 'pkill -x corosync'\n";

static struct config *parse_ok(const char *yaml) {
        struct config *c = NULL;
        struct err e = {};
        int r = config_parse(yaml, strlen(yaml), NAME, &c, &e);
        if (r < 0)
                fail_msg("parsing failed: %s\ninput:\n%s", e.msg, yaml);
        assert_non_null(c);
        return c;
}

static void check_error_sized(const char *yaml, size_t size, int code, const char *msg) {
        struct config *c = NULL;
        struct err e = {};
        int r = config_parse(yaml, size, NAME, &c, &e);
        if (r != code || !streq(e.msg, msg))
                fail_msg("input:\n%.300s\nexpected %d \"%s\"\n     got %d \"%s\"", yaml, code, msg, r, e.msg);
        assert_null(c); /* ret is written only on success */
        assert_int_equal(e.code, code);
}

static void check_error(const char *yaml, const char *msg) {
        check_error_sized(yaml, strlen(yaml), -EINVAL, msg);
}

static void assert_config_equal(const struct config *a, const struct config *b) {
        assert_true(streq_ptr(a->node_name, b->node_name));
        assert_string_equal(a->state_dir, b->state_dir);
        assert_int_equal(a->log.target, b->log.target);
        assert_true(streq_ptr(a->log.file, b->log.file));
        assert_int_equal(a->log.level, b->log.level);
        assert_string_equal(a->api.socket, b->api.socket);
        assert_true(strv_equal(a->api.listen, b->api.listen));
        assert_int_equal(a->api.tls, b->api.tls);
        assert_int_equal(a->api.max_body_size, b->api.max_body_size);
        assert_int_equal(a->api.max_clients, b->api.max_clients);
        assert_int_equal(a->api.request_timeout_usec, b->api.request_timeout_usec);
        assert_int_equal(a->database.synchronous, b->database.synchronous);
        assert_int_equal(a->database.write_timeout_usec, b->database.write_timeout_usec);
        assert_int_equal(a->database.member_timeout_usec, b->database.member_timeout_usec);
        assert_int_equal(a->database.max_pending_writes, b->database.max_pending_writes);
        assert_string_equal(a->corosync.config, b->corosync.config);
        assert_string_equal(a->corosync.authkey, b->corosync.authkey);
        assert_string_equal(a->corosync.start_command, b->corosync.start_command);
        assert_string_equal(a->corosync.stop_command, b->corosync.stop_command);
}

static void test_defaults(void **state) {
        _cleanup_(config_freep) struct config *c = config_new_default();

        assert_null(c->path);
        assert_null(c->node_name);
        assert_string_equal(c->state_dir, CLUSTERD_STATE_DIR);
        assert_int_equal(c->log.target, LOG_TARGET_SYSLOG);
        assert_null(c->log.file);
        assert_int_equal(c->log.level, LOG_INFO);
        assert_string_equal(c->api.socket, CLUSTERD_RUN_DIR "/clusterd.sock");
        assert_int_equal(strv_length(c->api.listen), 1);
        assert_string_equal(c->api.listen[0], "0.0.0.0:7440");
        assert_true(c->api.tls);
        assert_int_equal(c->api.max_body_size, 1024 * 1024);
        assert_int_equal(c->api.max_clients, 128);
        assert_int_equal(c->api.request_timeout_usec, 30 * USEC_PER_SEC);
        assert_int_equal(c->database.synchronous, DB_SYNC_FULL);
        assert_int_equal(c->database.write_timeout_usec, 10 * USEC_PER_SEC);
        assert_int_equal(c->database.member_timeout_usec, 5 * USEC_PER_SEC);
        assert_int_equal(c->database.max_pending_writes, 1024);
        assert_string_equal(c->corosync.config, "/etc/corosync/corosync.conf");
        assert_string_equal(c->corosync.authkey, "/etc/corosync/authkey");
        assert_string_equal(c->corosync.start_command, "systemctl start corosync.service");
        assert_string_equal(c->corosync.stop_command, "systemctl stop corosync.service");
}

/* Everything that means "nothing configured" gives exactly the defaults. */
static void test_empty_means_defaults(void **state) {
        static const char *const inputs[] = {
                "",
                "\n\n   \n",
                "# only a comment\n# and another\n",
                "---\n",
                "--- # empty document\n...\n",
                "~\n",
                "null\n",
                "{}\n",
                "node:\napi:\nlog: ~\ndatabase: {}\ncorosync: null\n",
                "\xef\xbb\xbf# a UTF-8 byte order mark is fine\n",
        };
        _cleanup_(config_freep) struct config *def = config_new_default();

        for (size_t i = 0; i < ELEMENTSOF(inputs); i++) {
                _cleanup_(config_freep) struct config *c = parse_ok(inputs[i]);
                assert_config_equal(c, def);
                assert_null(c->path);
        }
        /* A NULL buffer of size 0 is an empty file, not a crash. */
        struct config *c = NULL;
        assert_int_equal(config_parse(NULL, 0, NAME, &c, NULL), 0);
        assert_config_equal(c, def);
        config_free(c);
}

static void test_every_key(void **state) {
        _cleanup_(config_freep) struct config *c = parse_ok(full_yaml);

        assert_string_equal(c->node_name, "n1");
        assert_string_equal(c->state_dir, "/srv/clusterd");
        assert_int_equal(c->log.target, LOG_TARGET_FILE);
        assert_string_equal(c->log.file, "/var/log/clusterd/clusterd.log");
        assert_int_equal(c->log.level, LOG_DEBUG);
        assert_string_equal(c->api.socket, "/run/c/api.sock");
        assert_int_equal(strv_length(c->api.listen), 2);
        assert_string_equal(c->api.listen[0], "198.18.0.1:7441");
        assert_string_equal(c->api.listen[1], "[fd00::1]:8443"); /* normalized */
        assert_false(c->api.tls);
        assert_int_equal(c->api.max_body_size, 2 * 1024 * 1024);
        assert_int_equal(c->api.max_clients, 16);
        assert_int_equal(c->api.request_timeout_usec, 90 * USEC_PER_SEC);
        assert_int_equal(c->database.synchronous, DB_SYNC_NORMAL);
        assert_int_equal(c->database.write_timeout_usec, 250 * USEC_PER_MSEC);
        assert_int_equal(c->database.member_timeout_usec, 3 * USEC_PER_SEC);
        assert_int_equal(c->database.max_pending_writes, 64);
        assert_string_equal(c->corosync.config, "/etc/cs/corosync.conf");
        assert_string_equal(c->corosync.authkey, "/etc/cs/authkey");
        assert_string_equal(c->corosync.start_command, "/usr/sbin/corosync -f");
        assert_string_equal(c->corosync.stop_command, "pkill -x corosync");
}

static void test_value_forms(void **state) {
        struct config *c;

        /* Booleans in all of YAML's spellings, quoted or not. */
        static const char *const yes[] = { "true", "True", "yes", "on", "\"yes\"" };
        static const char *const no[] = { "false", "FALSE", "no", "off", "'off'" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                _cleanup_free_ char *y = xasprintf("api:\n  tls: %s\n", yes[i]);
                _cleanup_free_ char *n = xasprintf("api:\n  tls: %s\n", no[i]);
                c = parse_ok(n);
                assert_false(c->api.tls);
                config_free(c);
                c = parse_ok(y);
                assert_true(c->api.tls);
                config_free(c);
        }

        /* Sizes as YAML integers (bytes) or with units; durations as bare
         * seconds or combined units; names of levels and modes. */
        c = parse_ok("api:\n  max-body-size: 4096\n  request-timeout: 90\n"
                     "database:\n  write-timeout: 1m30s\n  synchronous: NORMAL\n"
                     "log:\n  level: warn\n  target: stderr\n");
        assert_int_equal(c->api.max_body_size, 4096);
        assert_int_equal(c->api.request_timeout_usec, 90 * USEC_PER_SEC);
        assert_int_equal(c->database.write_timeout_usec, 90 * USEC_PER_SEC);
        assert_int_equal(c->database.synchronous, DB_SYNC_NORMAL);
        assert_int_equal(c->log.level, LOG_WARNING);
        assert_int_equal(c->log.target, LOG_TARGET_STDERR);
        config_free(c);

        static const struct {
                const char *name;
                int level;
        } levels[] = { { "error", LOG_ERR }, { "warning", LOG_WARNING }, { "notice", LOG_NOTICE },
                       { "info", LOG_INFO }, { "debug", LOG_DEBUG },     { "trace", LOG_TRACE } };
        for (size_t i = 0; i < ELEMENTSOF(levels); i++) {
                _cleanup_free_ char *y = xasprintf("log:\n  level: %s\n", levels[i].name);
                c = parse_ok(y);
                assert_int_equal(c->log.level, levels[i].level);
                config_free(c);
        }

        /* An empty listen list disables TCP; a null name means corosync's
         * name; a quoted "null" is a name like any other. */
        c = parse_ok("api:\n  listen: []\nnode:\n  name: ~\n");
        assert_non_null(c->api.listen);
        assert_int_equal(strv_length(c->api.listen), 0);
        assert_null(c->node_name);
        config_free(c);
        c = parse_ok("node:\n  name: \"null\"\n");
        assert_string_equal(c->node_name, "null");
        config_free(c);

        /* Block sequences and IPv6 forms. */
        c = parse_ok("api:\n  listen:\n    - \"[::]:7440\"\n    - 127.0.0.1:80\n    - \"[::ffff:10.0.0.1]:1\"\n");
        assert_int_equal(strv_length(c->api.listen), 3);
        assert_string_equal(c->api.listen[0], "[::]:7440");
        assert_string_equal(c->api.listen[1], "127.0.0.1:80");
        assert_string_equal(c->api.listen[2], "[::ffff:10.0.0.1]:1");
        config_free(c);

        /* Keys may be repeated across sections, and sections come in any order. */
        c = parse_ok("corosync:\n  config: /a\nnode:\n  name: a\nstate-dir: /s\n");
        assert_string_equal(c->corosync.config, "/a");
        assert_string_equal(c->node_name, "a");
        config_free(c);
}

/* The edges of every range are accepted. */
static void test_limits_accepted(void **state) {
        _cleanup_free_ char *socket = xasprintf("/%0106d", 0); /* 107 bytes: sun_path minus its NUL */
        _cleanup_free_ char *command = xmalloc(4097);
        _cleanup_free_ char *listen = xstrdup("[");
        struct config *c;

        memset(command, 'x', 4096);
        command[4096] = '\0';
        for (int i = 1; i <= 16; i++) {
                char *l = xasprintf("%s%s\"10.0.0.1:%d\"", listen, i > 1 ? ", " : "", i);
                free(listen);
                listen = l;
        }
        _cleanup_free_ char *lo = xasprintf("api:\n  max-body-size: 1KiB\n  max-clients: 1\n  request-timeout: 1s\n"
                                            "database:\n  write-timeout: 100ms\n  max-pending-writes: 1\n");
        _cleanup_free_ char *hi = xasprintf("api:\n  max-body-size: 64MiB\n  max-clients: 65535\n"
                                            "  request-timeout: 1h\n  socket: %s\n  listen: %s]\n"
                                            "database:\n  write-timeout: 10min\n  max-pending-writes: 100000\n"
                                            "corosync:\n  start-command: %s\n",
                                            socket, listen, command);
        c = parse_ok(lo);
        assert_int_equal(c->api.max_body_size, 1024);
        assert_int_equal(c->api.max_clients, 1);
        assert_int_equal(c->api.request_timeout_usec, USEC_PER_SEC);
        assert_int_equal(c->database.write_timeout_usec, 100 * USEC_PER_MSEC);
        assert_int_equal(c->database.max_pending_writes, 1);
        config_free(c);
        c = parse_ok(hi);
        assert_int_equal(c->api.max_body_size, 64 * 1024 * 1024);
        assert_int_equal(c->api.max_clients, 65535);
        assert_int_equal(c->api.request_timeout_usec, USEC_PER_HOUR);
        assert_string_equal(c->api.socket, socket);
        assert_int_equal(strv_length(c->api.listen), 16);
        assert_int_equal(c->database.write_timeout_usec, 10 * USEC_PER_MINUTE);
        assert_int_equal(c->database.max_pending_writes, 100000);
        assert_int_equal(strlen(c->corosync.start_command), 4096);
        config_free(c);
}

/* Mistakes in the schema: unknown keys, wrong types, bad values. */
static const struct {
        const char *yaml;
        const char *msg;
} schema_errors[] = {
        /* Unknown keys point at the key and list what is known. */
        { "api:\n  socket: /x\n  lisen: [\"0.0.0.0:1\"]\n",
          NAME ":3:3: unknown key 'lisen' in section 'api' (known: socket, listen, tls, max-body-size, "
               "max-clients, request-timeout)" },
        { "nodes:\n  name: n1\n", NAME ":1:1: unknown key 'nodes' (known: node, state-dir, log, api, database, agents, "
                                       "fencing, witness, corosync)" },
        { "log:\n  levle: info\n", NAME ":2:3: unknown key 'levle' in section 'log' (known: target, file, level)" },
        { "node:\n  name: n1\n  id: 3\n", NAME ":3:3: unknown key 'id' in section 'node' (known: name, memory, cpus)" },
        { "database:\n  sync: full\n",
          NAME ":2:3: unknown key 'sync' in section 'database' (known: synchronous, write-timeout, "
               "member-timeout, max-pending-writes)" },
        { "corosync:\n  conf: /x\n",
          NAME ":2:3: unknown key 'conf' in section 'corosync' (known: config, authkey, start-command, "
               "stop-command)" },
        { "\"\": 1\n", NAME
          ":1:1: unknown key '' (known: node, state-dir, log, api, database, agents, fencing, witness, corosync)" },

        /* Wrong YAML types. */
        { "- api\n", NAME ":1:1: the configuration must be a mapping of settings (known: node, state-dir, "
                          "log, api, database, agents, fencing, witness, corosync), got a sequence" },
        { "just text\n", NAME ":1:1: the configuration must be a mapping of settings (known: node, "
                              "state-dir, log, api, database, agents, fencing, witness, corosync), got 'just text'" },
        { "api: 7440\n", NAME ":1:6: 'api' must be a section (a mapping of settings), got '7440'" },
        { "log:\n  - target\n", NAME ":2:3: 'log' must be a section (a mapping of settings), got a sequence" },
        { "api:\n  tls: {a: 1}\n",
          NAME ":2:8: 'api.tls' must be a boolean (true/false, yes/no, on/off), got a mapping" },
        { "state-dir: [/a]\n", NAME ":1:12: 'state-dir' must be an absolute path, got a sequence" },
        { "api:\n  max-clients: [1]\n",
          NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got a sequence" },
        { "node:\n  name: {first: n}\n",
          NAME ":2:9: 'node.name' must be a node name (1 to 63 letters, digits, '-' or '_', starting with "
               "a letter or digit) or null, got a mapping" },

        /* Missing values point at the key. */
        { "api:\n  tls:\n", NAME ":2:3: missing value for 'api.tls'" },
        { "state-dir: ~\n", NAME ":1:1: missing value for 'state-dir'" },
        { "log:\n  level: null\n", NAME ":2:3: missing value for 'log.level'" },
        { "corosync:\n  stop-command:\n", NAME ":2:3: missing value for 'corosync.stop-command'" },
        { "api:\n  listen:\n", NAME ":2:3: missing value for 'api.listen' (write [] to disable TCP)" },

        /* Bad values point at the value. */
        { "api:\n  max-clients: 0\n", NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got '0'" },
        { "api:\n  max-clients: 65536\n",
          NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got '65536'" },
        { "api:\n  max-clients: 0x10\n",
          NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got '0x10'" },
        { "api:\n  max-clients: -1\n",
          NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got '-1'" },
        { "api:\n  max-clients: 99999999999999999999999\n",
          NAME ":2:16: 'api.max-clients' must be an integer between 1 and 65535, got "
               "'99999999999999999999999'" },
        { "database:\n  max-pending-writes: 100001\n",
          NAME ":2:23: 'database.max-pending-writes' must be an integer between 1 and 100000, got '100001'" },
        { "api:\n  tls: maybe\n", NAME ":2:8: 'api.tls' must be a boolean (true/false, yes/no, on/off), got 'maybe'" },
        { "api:\n  max-body-size: 512\n",
          NAME ":2:18: 'api.max-body-size' must be a size between 1KiB and 64MiB, got '512'" },
        { "api:\n  max-body-size: 65MiB\n",
          NAME ":2:18: 'api.max-body-size' must be a size between 1KiB and 64MiB, got '65MiB'" },
        { "api:\n  max-body-size: lots\n",
          NAME ":2:18: 'api.max-body-size' must be a size between 1KiB and 64MiB, got 'lots'" },
        { "api:\n  request-timeout: 500ms\n",
          NAME ":2:20: 'api.request-timeout' must be a duration between 1s and 1h, got '500ms'" },
        { "api:\n  request-timeout: 2h\n",
          NAME ":2:20: 'api.request-timeout' must be a duration between 1s and 1h, got '2h'" },
        { "database:\n  write-timeout: 10 parsecs\n",
          NAME ":2:18: 'database.write-timeout' must be a duration between 100ms and 10m, got '10 parsecs'" },
        { "database:\n  write-timeout: 99ms\n",
          NAME ":2:18: 'database.write-timeout' must be a duration between 100ms and 10m, got '99ms'" },
        { "database:\n  synchronous: off\n",
          NAME ":2:16: 'database.synchronous' must be one of full, normal, got 'off'" },
        { "log:\n  target: journal\n", NAME ":2:11: 'log.target' must be one of stderr, syslog, file, got 'journal'" },
        { "log:\n  level: loud\n",
          NAME ":2:10: 'log.level' must be one of error, warning, notice, info, debug, trace, got 'loud'" },
        { "node:\n  name: -n1\n",
          NAME ":2:9: 'node.name' must be a node name (1 to 63 letters, digits, '-' or '_', starting with "
               "a letter or digit) or null, got '-n1'" },
        { "node:\n  name: \"\"\n",
          NAME ":2:9: 'node.name' must be a node name (1 to 63 letters, digits, '-' or '_', starting with "
               "a letter or digit) or null, got ''" },
        { "state-dir: var/lib/clusterd\n", NAME ":1:12: 'state-dir' must be an absolute path, got 'var/lib/clusterd'" },
        { "log:\n  file: \"\"\n", NAME ":2:9: 'log.file' must be an absolute path, got ''" },
        { "corosync:\n  authkey: authkey\n", NAME ":2:12: 'corosync.authkey' must be an absolute path, got 'authkey'" },
        { "corosync:\n  start-command: \"  \"\n",
          NAME ":2:18: 'corosync.start-command' must be a command line, got an empty string" },
        /* Control characters in values are escaped in messages. */
        { "log:\n  target: \"a\\nb\\x1b\"\n",
          NAME ":2:11: 'log.target' must be one of stderr, syslog, file, got 'a\\x0Ab\\x1B'" },

        /* api.listen. */
        { "api:\n  listen: [\"10.0.0.1\"]\n",
          NAME ":2:12: 'api.listen' entry '10.0.0.1' has no port (expected ADDRESS:PORT or [IPV6]:PORT)" },
        { "api:\n  listen:\n    - \"[::1]\"\n",
          NAME ":3:7: 'api.listen' entry '[::1]' has no port (expected ADDRESS:PORT or [IPV6]:PORT)" },
        { "api:\n  listen: [\"::1\"]\n",
          NAME ":2:12: 'api.listen' entry '::1' has no port (expected ADDRESS:PORT or [IPV6]:PORT)" },
        { "api:\n  listen: [\"fd00::1:x:80\"]\n",
          NAME ":2:12: 'api.listen' entry 'fd00::1:x:80' needs brackets around the IPv6 address (expected "
               "[IPV6]:PORT)" },
        { "api:\n  listen: [\"[::1:80\"]\n", NAME ":2:12: 'api.listen' entry '[::1:80' has no closing ']'" },
        { "api:\n  listen: [\"localhost:7440\"]\n",
          NAME ":2:12: 'api.listen' entry 'localhost:7440' has an invalid address (expected an IPv4 address "
               "or an IPv6 address in brackets, not a host name)" },
        { "api:\n  listen: [\"[fd00::g]:7440\"]\n",
          NAME ":2:12: 'api.listen' entry '[fd00::g]:7440' has an invalid address (expected an IPv4 "
               "address or an IPv6 address in brackets, not a host name)" },
        { "api:\n  listen: [\"10.0.0.1:0\"]\n",
          NAME ":2:12: 'api.listen' entry '10.0.0.1:0' has an invalid port (expected a number from 1 to "
               "65535)" },
        { "api:\n  listen: [\"10.0.0.1:65536\"]\n",
          NAME ":2:12: 'api.listen' entry '10.0.0.1:65536' has an invalid port (expected a number from 1 "
               "to 65535)" },
        { "api:\n  listen: [\"10.0.0.1:\"]\n",
          NAME ":2:12: 'api.listen' entry '10.0.0.1:' has an invalid port (expected a number from 1 to "
               "65535)" },
        { "api:\n  listen: [\"10.0.0.1:http\"]\n",
          NAME ":2:12: 'api.listen' entry '10.0.0.1:http' has an invalid port (expected a number from 1 "
               "to 65535)" },
        { "api:\n  listen:\n    - \"[fd00::1]:80\"\n    - \"[fd00:0::1]:080\"\n",
          NAME ":4:7: 'api.listen' entry '[fd00:0::1]:080' is listed twice (first at line 3, column 7)" },
        { "api:\n  listen: \"0.0.0.0:7440\"\n",
          NAME ":2:11: 'api.listen' must be a list of addresses such as [\"0.0.0.0:7440\"], got "
               "'0.0.0.0:7440'" },
        { "api:\n  listen: {a: b}\n",
          NAME ":2:11: 'api.listen' must be a list of addresses such as [\"0.0.0.0:7440\"], got a "
               "mapping" },
        { "api:\n  listen: [[\"0.0.0.0:1\"]]\n",
          NAME ":2:12: 'api.listen' entries must be addresses such as \"0.0.0.0:7440\", got a sequence" },
        { "api:\n  listen:\n    -\n",
          NAME ":3:6: 'api.listen' entries must be addresses such as \"0.0.0.0:7440\", got null" },

        /* Rules across keys point at the key that asks for more. */
        { "log:\n  target: file\n", NAME ":2:11: 'log.target' is 'file' but 'log.file' is not set" },
        { "log:\n  level: info\n  target: file\n  file:\n", NAME ":4:3: missing value for 'log.file'" },
};

static void test_schema_errors(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(schema_errors); i++)
                check_error(schema_errors[i].yaml, schema_errors[i].msg);
}

/* Values just past the limits that protect the daemon. */
static void test_limits_refused(void **state) {
        _cleanup_free_ char *socket = xasprintf("api:\n  socket: /%0107d\n", 0);
        _cleanup_free_ char *command = xmalloc(4200);
        _cleanup_free_ char *listen = xstrdup("api:\n  listen: [");
        _cleanup_free_ char *msg = NULL;

        msg = xasprintf(NAME ":2:11: 'api.socket' is too long (at most 107 bytes for a unix socket), got '/%063d...'",
                        0);
        check_error(socket, msg);

        strcpy(command, "corosync:\n  stop-command: ");
        memset(command + strlen(command), 'x', 4097);
        command[26 + 4097] = '\0';
        check_error(command, NAME ":2:17: 'corosync.stop-command' is too long (at most 4096 bytes)");

        for (int i = 1; i <= 17; i++) {
                char *l = xasprintf("%s%s\"10.0.0.1:%d\"", listen, i > 1 ? ", " : "", i);
                free(listen);
                listen = l;
        }
        char *l = xasprintf("%s]\n", listen);
        free(listen);
        listen = l;
        check_error(listen, NAME ":2:11: 'api.listen' has 17 entries, at most 16 are allowed");
}

/* YAML that is not YAML, and YAML features a config file does not need. */
static void test_yaml_errors(void **state) {
        static const struct {
                const char *yaml;
                const char *msg;
        } cases[] = {
                { "a: &x 1\nb: *x\n",
                  NAME ":1:4: anchors and aliases are not supported (write the value out in full)" },
                { "api: &a\n  tls: no\n",
                  NAME ":1:6: anchors and aliases are not supported (write the value out in full)" },
                { "api:\n  tls: !!bool yes\n", NAME ":2:8: tags are not supported (found 'tag:yaml.org,2002:bool')" },
                { "api: !custom\n  tls: no\n", NAME ":1:6: tags are not supported (found '!custom')" },
                { "%TAG !e! tag:example.com,2000:\n---\napi: {}\n", NAME ":1:1: %TAG directives are not supported" },
                { "api: {}\n---\nlog: {}\n", NAME ":2:1: only one YAML document is allowed (found a second '---')" },
                { "api:\n  tls: yes\n  tls: no\n", NAME ":3:3: duplicate key 'tls' (first at line 2, column 3)" },
                { "api: {}\n'api': {}\n", NAME ":2:1: duplicate key 'api' (first at line 1, column 1)" },
                { "? [a, b]\n: 1\n", NAME ":1:3: mapping keys must be scalars, not a sequence" },
                { "{a: 1}: 2\n", NAME ":1:1: mapping keys must be scalars, not a mapping" },
                { "a: b\nc\n",
                  NAME ":3:1: invalid YAML: could not find expected ':' (while scanning a simple key at line 2, "
                       "column 1)" },
                { "api:\n  listen: [\"0.0.0.0:1\"\n",
                  NAME ":3:1: invalid YAML: did not find expected ',' or ']' (while parsing a flow sequence at line "
                       "2, column 11)" },
                { "api:\n\ttls: no\n",
                  NAME ":2:1: invalid YAML: found character that cannot start any token (while scanning for the "
                       "next token at line 2, column 1)" },
                { "api:\n  tls: \"no\n",
                  NAME ":3:1: invalid YAML: found unexpected end of stream (while scanning a quoted scalar at line "
                       "2, column 8)" },
                { "api:\n  tls: no\n bad: 1\n",
                  NAME ":3:2: invalid YAML: did not find expected key (while parsing a block mapping at line 1, "
                       "column 1)" },
                { "log:\n  level: \xff\n", NAME ":2:10: invalid YAML: invalid leading UTF-8 octet (byte 0xFF)" },
                { "node:\n  name: n\xc3\n", NAME ":2:11: invalid YAML: invalid trailing UTF-8 octet (byte 0x0A)" },
                { "node:\n  name: \xc3\xa9t\xc3\xa9\x01\n",
                  NAME ":2:12: invalid YAML: control characters are not allowed (U+0001)" },
                { "node:\n  name: \"n\\0\"\n", NAME ":2:9: NUL characters are not allowed" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                check_error(cases[i].yaml, cases[i].msg);

        /* A raw NUL byte (which would make the rest of a C string vanish). */
        static const char nul[] = "api:\n  tls: no\0\n";
        check_error_sized(nul, sizeof(nul) - 1, -EINVAL, NAME ":2:10: NUL characters are not allowed");
}

static void test_yaml_limits(void **state) {
        _cleanup_free_ char *big = xmalloc(YNODE_INPUT_MAX + 2);
        _cleanup_free_ char *deep = NULL, *deep_ok = NULL, *many = NULL;
        size_t o;

        /* Larger than 1 MiB, even if it is only a comment. */
        memset(big, '#', YNODE_INPUT_MAX + 1);
        big[YNODE_INPUT_MAX + 1] = '\0';
        check_error_sized(big, YNODE_INPUT_MAX + 1, -EFBIG, NAME ": input is larger than 1MiB (1048577 bytes)");

        /* 16 nested collections are fine (the schema would then refuse the
         * key); the 17th is refused while reading. */
        deep_ok = xasprintf("x: %.15s1%.15s\n", "[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]");
        check_error(deep_ok, NAME ":1:1: unknown key 'x' (known: node, state-dir, log, api, database, agents, fencing, "
                                  "witness, corosync)");
        deep = xasprintf("x: %.16s1%.16s\n", "[[[[[[[[[[[[[[[[", "]]]]]]]]]]]]]]]]");
        check_error(deep, NAME ":1:19: nesting deeper than 16 levels is not allowed");

        /* 10,000 nodes are fine; the 10,001st is refused. The root and the
         * key "x" and the sequence are 3, so 9,997 items fit. */
        many = xmalloc(4 + 2 * 10000 + 3);
        o = (size_t)sprintf(many, "x: [");
        for (int i = 0; i < 9998; i++)
                o += (size_t)sprintf(many + o, "%s1", i ? "," : "");
        strcpy(many + o, "]\n");
        check_error(many, NAME ":1:19999: too many values (more than 10000)");
        many[o - 2] = ']'; /* drop the last item */
        many[o - 1] = '\n';
        many[o] = '\0';
        check_error(many, NAME ":1:1: unknown key 'x' (known: node, state-dir, log, api, database, agents, fencing, "
                               "witness, corosync)");
}

/* User text in messages is cut and escaped, whatever it holds. */
static void test_user_text_in_messages(void **state) {
        char buf[YNODE_SHORT_MAX], in[300];

        assert_string_equal(ynode_shorten("plain", buf), "plain");
        assert_string_equal(ynode_shorten("a\nb\x1b\x7f", buf), "a\\x0Ab\\x1B\\x7F");
        memset(in, 'x', 100);
        in[100] = '\0';
        assert_string_equal(ynode_shorten(in, buf),
                            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...");
        /* Cut at a character boundary, never inside one: "x" and then
         * two-byte characters put a character across the 64-byte mark. */
        strcpy(in, "x");
        for (int i = 0; i < 40; i++)
                strcat(in, "\xc3\xa9");
        ynode_shorten(in, buf);
        assert_int_equal(strlen(buf), 65 + 3);
        assert_memory_equal(buf + 63, "\xc3\xa9...", 5);
        /* Invalid UTF-8 (endless continuation bytes) stays in bounds. */
        memset(in, 0x80, 299);
        in[299] = '\0';
        assert_int_equal(strlen(ynode_shorten(in, buf)), 67 + 3);
        memset(in, 0x01, 299);
        assert_int_equal(strlen(ynode_shorten(in, buf)), 64 + 3);

        check_error("a: !<%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01> x\n",
                    NAME ":1:4: tags are not supported (found '\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01\\x01"
                         "\\x01\\x01\\x01\\x01\\x01\\x01\\x01...')");
        check_error("\"\\e[31mred\\e[0m\": 1\n",
                    NAME ":1:1: unknown key '\\x1B[31mred\\x1B[0m' (known: node, state-dir, log, api, database, "
                         "agents, fencing, witness, corosync)");
        check_error("api:\n  \"a\\nb\": 1\n  \"a\\nb\": 2\n",
                    NAME ":3:3: duplicate key 'a\\x0Ab' (first at line 2, column 3)");
}

/* The tree the reader builds: positions, scalar styles, nulls. */
static void test_yaml_tree(void **state) {
        static const char yaml[] = "# comment\n"
                                   "a: 1\n"
                                   "b:\n"
                                   "  - x\n"
                                   "  - \"~\"\n"
                                   "  - ~\n"
                                   "c: {d: null, é: 'null'}\n"
                                   "e:\n"
                                   "f: |\n"
                                   "  text\n";
        _cleanup_(ynode_freep) struct ynode *root = NULL;
        struct err e = {};

        assert_int_equal(ynode_parse(yaml, strlen(yaml), "t", &root, &e), 0);
        assert_non_null(root);
        assert_int_equal(root->kind, YNODE_MAPPING);
        assert_int_equal(root->n_pairs, 5);
        assert_int_equal(root->line, 2);
        assert_int_equal(root->column, 1);

        const struct ynode *a = root->pairs[0].value;
        assert_string_equal(root->pairs[0].key->value, "a");
        assert_int_equal(a->kind, YNODE_SCALAR);
        assert_string_equal(a->value, "1");
        assert_int_equal(a->line, 2);
        assert_int_equal(a->column, 4);

        const struct ynode *b = root->pairs[1].value;
        assert_int_equal(b->kind, YNODE_SEQUENCE);
        assert_int_equal(b->n_items, 3);
        assert_int_equal(b->items[1]->line, 5);
        assert_int_equal(b->items[1]->column, 5);
        assert_false(ynode_is_null(b->items[0]));
        assert_false(ynode_is_null(b->items[1])); /* quoted "~" is a string */
        assert_true(ynode_is_null(b->items[2]));

        const struct ynode *c = root->pairs[2].value;
        assert_int_equal(c->kind, YNODE_MAPPING);
        assert_true(ynode_is_null(c->pairs[0].value));
        assert_string_equal(c->pairs[1].key->value, "é");
        assert_int_equal(c->pairs[1].key->column, 14); /* characters, not bytes */
        assert_false(ynode_is_null(c->pairs[1].value));
        assert_int_equal(c->pairs[1].value->column, 17);

        assert_true(ynode_is_null(root->pairs[3].value));
        assert_string_equal(root->pairs[4].value->value, "text\n");
        assert_false(ynode_is_null(root->pairs[4].value));

        assert_string_equal(ynode_kind_to_string(YNODE_SEQUENCE), "a sequence");
        assert_true(ynode_is_null(NULL));
        assert_null(ynode_free(NULL));

        /* No document at all: success with no tree. */
        struct ynode sentinel = {}, *none = &sentinel;
        assert_int_equal(ynode_parse("# nothing\n", 10, "t", &none, &e), 0);
        assert_null(none);
}

static struct config *roundtrip(const struct config *c) {
        _cleanup_free_ char *text = config_format(c);
        _cleanup_free_ char *again = NULL;
        struct config *back = NULL;
        struct err e = {};

        if (config_parse(text, strlen(text), "formatted", &back, &e) < 0)
                fail_msg("formatted config does not parse: %s\n%s", e.msg, text);
        assert_config_equal(c, back);
        /* Formatting is stable: the output of a parsed output is the same. */
        again = config_format(back);
        assert_string_equal(text, again);
        return back;
}

static void test_format_defaults(void **state) {
        _cleanup_(config_freep) struct config *c = config_new_default();
        _cleanup_free_ char *text = config_format(c);
        _cleanup_free_ char *expected =
                xasprintf("# clusterd configuration: every setting, defaults filled in.\n"
                          "node:\n"
                          "  name: null\n"
                          "  memory: 0  # the host's memory less 1 GiB\n"
                          "  cpus: 0  # every online CPU\n"
                          "state-dir: %s\n"
                          "log:\n"
                          "  target: syslog\n"
                          "  # file: not set (needed when target is file)\n"
                          "  level: info\n"
                          "api:\n"
                          "  socket: %s\n"
                          "  listen:\n"
                          "    - \"0.0.0.0:7440\"\n"
                          "  tls: true\n"
                          "  max-body-size: 1MiB\n"
                          "  max-clients: 128\n"
                          "  request-timeout: 30s\n"
                          "database:\n"
                          "  synchronous: full\n"
                          "  write-timeout: 10s\n"
                          "  member-timeout: 5s\n"
                          "  max-pending-writes: 1024\n"
                          "agents:\n"
                          "  ocf-root: /usr/lib/ocf\n"
                          "  directory: %s\n"
                          "  fence-directory: /usr/sbin\n"
                          "  max-running: 16\n"
                          "fencing:\n"
                          "  watchdog: auto\n"
                          "  watchdog-timeout: 10s\n"
                          "witness:\n"
                          "  credentials: /etc/clusterd/witness.cred\n"
                          "corosync:\n"
                          "  config: /etc/corosync/corosync.conf\n"
                          "  authkey: /etc/corosync/authkey\n"
                          "  start-command: \"systemctl start corosync.service\"\n"
                          "  stop-command: \"systemctl stop corosync.service\"\n",
                          CLUSTERD_STATE_DIR, CLUSTERD_RUN_DIR "/clusterd.sock", CLUSTERD_AGENTS_DIR);

        assert_string_equal(text, expected);
        config_free(roundtrip(c));
}

static void test_format_every_key(void **state) {
        _cleanup_(config_freep) struct config *c = parse_ok(full_yaml);
        _cleanup_free_ char *text = config_format(c);

        assert_non_null(strstr(text, "  name: n1\n"));
        assert_non_null(strstr(text, "  file: /var/log/clusterd/clusterd.log\n"));
        assert_non_null(strstr(text, "  level: debug\n"));
        assert_non_null(strstr(text, "  listen:\n    - \"198.18.0.1:7441\"\n    - \"[fd00::1]:8443\"\n"));
        assert_non_null(strstr(text, "  tls: false\n"));
        assert_non_null(strstr(text, "  max-body-size: 2MiB\n"));
        assert_non_null(strstr(text, "  request-timeout: 1m30s\n"));
        assert_non_null(strstr(text, "  synchronous: normal\n"));
        assert_non_null(strstr(text, "  write-timeout: 250ms\n"));
        assert_non_null(strstr(text, "  stop-command: \"pkill -x corosync\"\n"));
        config_free(roundtrip(c));

        /* Odd values that need care to come back the same. */
        _cleanup_(config_freep) struct config *odd =
                parse_ok("node:\n  name: \"null\"\n"
                         "log:\n  target: stderr\n  level: trace\n"
                         "api:\n  listen: []\n  max-body-size: 1537\n  request-timeout: 59m0.5s\n"
                         "corosync:\n"
                         "  start-command: \"echo \\\"a\\\\b\\\"\\t\\r\\n\\x7f\\x85 \\u2028\\u2029 \\uFFFF é 😀 \"\n"
                         "  stop-command: \"yes\"\n"
                         "  config: /path with spaces/c#f\n"
                         "  authkey: \"/trailing space \"\n");
        _cleanup_free_ char *odd_text = config_format(odd);
        assert_non_null(strstr(odd_text, "  name: \"null\"\n"));
        assert_non_null(strstr(odd_text, "  listen: []\n"));
        assert_non_null(strstr(odd_text, "  max-body-size: 1537B\n"));
        assert_non_null(strstr(odd_text, "  request-timeout: 59m500ms\n"));
        assert_non_null(strstr(odd_text, "  stop-command: \"yes\"\n"));
        assert_non_null(strstr(odd_text, "  authkey: \"/trailing space \"\n"));
        assert_non_null(strstr(odd_text, "  config: \"/path with spaces/c#f\"\n"));
        config_free(roundtrip(odd));
}

static void test_restart_needed(void **state) {
        static const struct {
                const char *yaml;
                const char *key; /* NULL: reloadable */
        } cases[] = {
                { "node:\n  name: n2\n", "node.name" },
                { "state-dir: /elsewhere\n", "state-dir" },
                { "api:\n  socket: /run/other.sock\n", "api.socket" },
                { "api:\n  listen: []\n", "api.listen" },
                { "api:\n  tls: false\n", "api.tls" },
                { "database:\n  synchronous: normal\n", "database.synchronous" },
                { "log:\n  target: stderr\n", NULL },
                { "log:\n  target: file\n  file: /var/log/c.log\n", NULL },
                { "log:\n  level: debug\n", NULL },
                { "api:\n  max-body-size: 2MiB\n", NULL },
                { "api:\n  max-clients: 1\n", NULL },
                { "api:\n  request-timeout: 1m\n", NULL },
                { "database:\n  write-timeout: 1s\n", NULL },
                { "database:\n  max-pending-writes: 1\n", NULL },
                { "corosync:\n  config: /c\n", NULL },
                { "corosync:\n  authkey: /k\n", NULL },
                { "corosync:\n  start-command: start\n", NULL },
                { "corosync:\n  stop-command: stop\n", NULL },
                /* The same address written differently is no change. */
                { "api:\n  listen: [\"0.0.0.0:07440\"]\n", NULL },
        };
        _cleanup_(config_freep) struct config *def = config_new_default();

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(config_freep) struct config *c = parse_ok(cases[i].yaml);
                _cleanup_strv_free_ char **l = config_restart_needed(def, c);
                _cleanup_strv_free_ char **r = config_restart_needed(c, def);

                if (!cases[i].key) {
                        if (l)
                                fail_msg("%s: unexpected restart for %s", cases[i].yaml, l[0]);
                        assert_null(r);
                        continue;
                }
                assert_int_equal(strv_length(l), 1);
                assert_string_equal(l[0], cases[i].key);
                assert_true(strv_equal(l, r));
        }

        /* Several at once, in schema order. */
        _cleanup_(config_freep) struct config *full = parse_ok(full_yaml);
        _cleanup_strv_free_ char **all = config_restart_needed(def, full);
        assert_int_equal(strv_length(all), 6);
        assert_string_equal(all[0], "node.name");
        assert_string_equal(all[1], "state-dir");
        assert_string_equal(all[2], "api.socket");
        assert_string_equal(all[3], "api.listen");
        assert_string_equal(all[4], "api.tls");
        assert_string_equal(all[5], "database.synchronous");
        assert_null(config_restart_needed(full, full));
}

/* The shipped example documents the defaults: it parses, and says exactly
 * what the built-in defaults are (its paths are the standard ones). */
static void test_load_example(void **state) {
        const char *srcdir = getenv("top_srcdir") ?: ".";
        _cleanup_free_ char *path = xasprintf("%s/etc/clusterd.yaml.example", srcdir);
        _cleanup_(config_freep) struct config *c = NULL;
        _cleanup_(config_freep) struct config *def = config_new_default();
        struct err e = {};

        if (config_load(path, &c, &e) < 0)
                fail_msg("%s", e.msg);
        assert_string_equal(c->path, path);
        assert_string_equal(c->state_dir, "/var/lib/clusterd");
        assert_string_equal(c->api.socket, "/run/clusterd/clusterd.sock");
        free_and_null(c->state_dir);
        free_and_null(c->api.socket);
        c->state_dir = xstrdup(def->state_dir);
        c->api.socket = xstrdup(def->api.socket);
        assert_config_equal(c, def);
}

static void test_load_files(void **state) {
        char dir[] = "/tmp/test-config-XXXXXX";
        _cleanup_free_ char *missing = NULL, *bad = NULL, *big = NULL, *good = NULL, *msg = NULL;
        _cleanup_free_ char *data = xmalloc(YNODE_INPUT_MAX + 1);
        struct config *c = NULL;
        struct err e = {};

        assert_non_null(mkdtemp(dir));
        missing = xasprintf("%s/missing.yaml", dir);
        bad = xasprintf("%s/bad.yaml", dir);
        big = xasprintf("%s/big.yaml", dir);
        good = xasprintf("%s/good.yaml", dir);

        assert_int_equal(config_load(missing, &c, &e), -ENOENT);
        msg = xasprintf("%s: file not found", missing);
        assert_string_equal(e.msg, msg);
        assert_null(c);

        static const char bad_text[] = "api:\n  max-clients: 0\n";
        assert_int_equal(write_file_atomic(bad, bad_text, strlen(bad_text), 0644), 0);
        err_clear(&e);
        assert_int_equal(config_load(bad, &c, &e), -EINVAL);
        free(msg);
        msg = xasprintf("%s:2:16: 'api.max-clients' must be an integer between 1 and 65535, got '0'", bad);
        assert_string_equal(e.msg, msg);
        assert_null(c);

        memset(data, '#', YNODE_INPUT_MAX + 1);
        assert_int_equal(write_file_atomic(big, data, YNODE_INPUT_MAX + 1, 0644), 0);
        err_clear(&e);
        assert_int_equal(config_load(big, &c, &e), -EFBIG);
        free(msg);
        msg = xasprintf("%s: file is larger than 1MiB", big);
        assert_string_equal(e.msg, msg);
        assert_null(c);

        err_clear(&e);
        assert_true(config_load(dir, &c, &e) < 0);
        assert_non_null(strstr(e.msg, ": cannot read: "));
        assert_null(c);

        assert_int_equal(write_file_atomic(good, full_yaml, strlen(full_yaml), 0644), 0);
        assert_int_equal(config_load(good, &c, NULL), 0);
        assert_string_equal(c->path, good);
        assert_string_equal(c->node_name, "n1");
        config_free(c);

        unlink(missing);
        unlink(bad);
        unlink(big);
        unlink(good);
        assert_int_equal(rmdir(dir), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults),         cmocka_unit_test(test_empty_means_defaults),
                cmocka_unit_test(test_every_key),        cmocka_unit_test(test_value_forms),
                cmocka_unit_test(test_limits_accepted),  cmocka_unit_test(test_schema_errors),
                cmocka_unit_test(test_limits_refused),   cmocka_unit_test(test_yaml_errors),
                cmocka_unit_test(test_yaml_limits),      cmocka_unit_test(test_user_text_in_messages),
                cmocka_unit_test(test_yaml_tree),        cmocka_unit_test(test_format_defaults),
                cmocka_unit_test(test_format_every_key), cmocka_unit_test(test_restart_needed),
                cmocka_unit_test(test_load_example),     cmocka_unit_test(test_load_files),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
