/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-config.c: the node's own configuration, clusterd.yaml.
 *
 * The YAML reader (clusterd-yaml.c) gives us a tree with positions; this file
 * knows the schema. One table lists every setting with the function that
 * parses it, so that unknown keys, the "known:" hint in their message and
 * the order of checks all come from the same place. Values are checked while
 * the file is walked, in file order, so the first error reported is the
 * first one in the file; cross-field checks run after the walk.
 *
 * Nothing here logs: every problem is returned as "NAME:LINE:COLUMN: what
 * is wrong" and the daemon decides what to do with it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <strings.h>
#include <sys/un.h>
#include <syslog.h>

#include "clusterd/config-int.h"
#include "clusterd/log.h"
#include "clusterd/yaml-int.h"

#define LISTEN_MAX 16    /* api.listen entries */
#define COMMAND_MAX 4096 /* bytes of a corosync command line */
#define SOCKET_PATH_MAX (sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1)

struct parser {
        const char *name;               /* for messages; not owned */
        struct err *e;                  /* not owned */
        const struct ynode *log_target; /* value of log.target, for the log.file check; NULL when absent */
};

struct setting;
typedef int (*setting_parse_t)(struct parser *p, const struct setting *s, const struct ynode *key,
                               const struct ynode *value, struct config *c);

struct setting {
        const char *name;      /* dotted: "api.listen"; no dot for top-level keys */
        setting_parse_t parse; /* checks the value and stores it */
        size_t offset;         /* of the field in struct config */
        uint64_t min, max;     /* range of numbers, sizes (bytes), durations (usec); max length of strings */
};

/* The field of c that setting s describes. offsetof() keeps it aligned; the
 * detour through void * tells the compiler so. */
#define FIELD(c, s, type) ((type *)(void *)((char *)(c) + (s)->offset))

static int fail(struct parser *p, const struct ynode *at, const char *fmt, ...) _printf_(3, 4);
static int fail(struct parser *p, const struct ynode *at, const char *fmt, ...) {
        char msg[sizeof(p->e->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (!at)
                return err_set(p->e, -EINVAL, "%s: %s", p->name, msg);
        return err_set(p->e, -EINVAL, "%s:%u:%u: %s", p->name, at->line, at->column, msg);
}

/* The text of a scalar setting; refuses null ("missing value") and
 * collections ("must be <what>, got a mapping"). */
static int scalar_text(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                       const char *what, const char **ret) {
        if (ynode_is_null(value))
                return fail(p, key, "missing value for '%s'", s->name);
        if (value->kind != YNODE_SCALAR)
                return fail(p, value, "'%s' must be %s, got %s", s->name, what, ynode_kind_to_string(value->kind));
        *ret = value->value;
        return 0;
}

static int bad_value(struct parser *p, const struct setting *s, const struct ynode *value, const char *what) {
        char buf[YNODE_SHORT_MAX];
        return fail(p, value, "'%s' must be %s, got '%s'", s->name, what, ynode_shorten(value->value, buf));
}

static void replace_string(char **field, const char *s) {
        free(*field);
        *field = s ? xstrdup(s) : NULL;
}

static int parse_name(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                      struct config *c) {
        static const char what[] = "a node name (1 to 63 letters, digits, '-' or '_', starting with a letter or "
                                   "digit) or null";
        const char *text = NULL;
        int r;

        /* null is a real value here: "use corosync's name for this node". */
        if (ynode_is_null(value)) {
                replace_string(FIELD(c, s, char *), NULL);
                return 0;
        }
        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        if (!name_is_valid(text))
                return bad_value(p, s, value, what);
        replace_string(FIELD(c, s, char *), text);
        return 0;
}

static int parse_path(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                      struct config *c) {
        const char *text = NULL;
        char buf[YNODE_SHORT_MAX];
        int r;

        r = scalar_text(p, s, key, value, "an absolute path", &text);
        if (r < 0)
                return r;
        if (text[0] != '/')
                return bad_value(p, s, value, "an absolute path");
        if (strlen(text) > s->max)
                return fail(p, value, "'%s' is too long (at most %" PRIu64 " bytes%s), got '%s'", s->name, s->max,
                            s->max == SOCKET_PATH_MAX ? " for a unix socket" : "", ynode_shorten(text, buf));
        replace_string(FIELD(c, s, char *), text);
        return 0;
}

static int parse_command(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                         struct config *c) {
        const char *text = NULL;
        int r;

        r = scalar_text(p, s, key, value, "a command line", &text);
        if (r < 0)
                return r;
        if (text[strspn(text, " \t\n\r")] == '\0')
                return fail(p, value, "'%s' must be a command line, got an empty string", s->name);
        if (strlen(text) > s->max)
                return fail(p, value, "'%s' is too long (at most %" PRIu64 " bytes)", s->name, s->max);
        replace_string(FIELD(c, s, char *), text);
        return 0;
}

static int parse_bool_setting(struct parser *p, const struct setting *s, const struct ynode *key,
                              const struct ynode *value, struct config *c) {
        static const char what[] = "a boolean (true/false, yes/no, on/off)";
        const char *text = NULL;
        int r;

        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        r = parse_bool(text);
        if (r < 0)
                return bad_value(p, s, value, what);
        *FIELD(c, s, bool) = r;
        return 0;
}

static int parse_unsigned(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                          struct config *c) {
        char what[80];
        const char *text = NULL;
        uint64_t v;
        int r;

        snprintf(what, sizeof(what), "an integer between %" PRIu64 " and %" PRIu64, s->min, s->max);
        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        /* Decimal only: YAML 1.1 would also read 0x10, 0o20 and 1_000. */
        if (parse_uint64(text, &v) < 0 || v < s->min || v > s->max)
                return bad_value(p, s, value, what);
        *FIELD(c, s, unsigned) = (unsigned)v;
        return 0;
}

static int parse_size_setting(struct parser *p, const struct setting *s, const struct ynode *key,
                              const struct ynode *value, struct config *c) {
        char what[80], lo[32], hi[32];
        const char *text = NULL;
        uint64_t v;
        int r;

        snprintf(what, sizeof(what), "a size between %s and %s", format_size(lo, sizeof(lo), s->min),
                 format_size(hi, sizeof(hi), s->max));
        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        /* A bare YAML integer is a number of bytes, which parse_size does. */
        if (parse_size(text, &v) < 0 || v < s->min || v > s->max)
                return bad_value(p, s, value, what);
        *FIELD(c, s, uint64_t) = v;
        return 0;
}

static int parse_duration_setting(struct parser *p, const struct setting *s, const struct ynode *key,
                                  const struct ynode *value, struct config *c) {
        char what[80], lo[32], hi[32];
        const char *text = NULL;
        uint64_t v;
        int r;

        snprintf(what, sizeof(what), "a duration between %s and %s", format_duration(lo, sizeof(lo), s->min),
                 format_duration(hi, sizeof(hi), s->max));
        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        if (parse_duration_usec(text, &v) < 0 || v < s->min || v > s->max)
                return bad_value(p, s, value, what);
        *FIELD(c, s, uint64_t) = v;
        return 0;
}

static const char *const log_target_names[] = {
        [LOG_TARGET_STDERR] = "stderr",
        [LOG_TARGET_SYSLOG] = "syslog",
        [LOG_TARGET_FILE] = "file",
};

static const char *const sync_mode_names[] = {
        [DB_SYNC_FULL] = "full",
        [DB_SYNC_NORMAL] = "normal",
};

/* Index of text in names (case-insensitive, like log levels), or -EINVAL. */
static int lookup_name(const char *const *names, size_t n, const char *text) {
        for (size_t i = 0; i < n; i++)
                if (strcasecmp(names[i], text) == 0)
                        return (int)i;
        return -EINVAL;
}

static int parse_log_target(struct parser *p, const struct setting *s, const struct ynode *key,
                            const struct ynode *value, struct config *c) {
        static const char what[] = "one of stderr, syslog, file";
        const char *text = NULL;
        int r;

        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        r = lookup_name(log_target_names, ELEMENTSOF(log_target_names), text);
        if (r < 0)
                return bad_value(p, s, value, what);
        *FIELD(c, s, enum log_target) = (enum log_target)r;
        p->log_target = value;
        return 0;
}

static int parse_sync_mode(struct parser *p, const struct setting *s, const struct ynode *key,
                           const struct ynode *value, struct config *c) {
        static const char what[] = "one of full, normal";
        const char *text = NULL;
        int r;

        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        r = lookup_name(sync_mode_names, ELEMENTSOF(sync_mode_names), text);
        if (r < 0)
                return bad_value(p, s, value, what);
        *FIELD(c, s, enum db_sync_mode) = (enum db_sync_mode)r;
        return 0;
}

static int parse_log_level(struct parser *p, const struct setting *s, const struct ynode *key,
                           const struct ynode *value, struct config *c) {
        static const char what[] = "one of error, warning, notice, info, debug, trace";
        const char *text = NULL;
        int r;

        r = scalar_text(p, s, key, value, what, &text);
        if (r < 0)
                return r;
        r = log_level_from_string(text);
        if (r < 0)
                return bad_value(p, s, value, what);
        *FIELD(c, s, int) = r;
        return 0;
}

static const char listen_no_port[] = "has no port (expected ADDRESS:PORT or [IPV6]:PORT)";
static const char listen_bad_address[] = "has an invalid address (expected an IPv4 address or an IPv6 address in "
                                         "brackets, not a host name)";

/* Splits "HOST:PORT" or "[HOST]:PORT" into host (a buffer of host_size
 * bytes) and *ret_port. Returns NULL, or what is wrong with s. */
static const char *listen_split(const char *s, char *host, size_t host_size, bool *ret_v6, const char **ret_port) {
        unsigned char addr[sizeof(struct in6_addr)];
        const char *end, *port;
        bool v6 = s[0] == '[';

        if (v6) {
                s++;
                end = strchr(s, ']');
                if (!end)
                        return "has no closing ']'";
                if (end[1] != ':')
                        return listen_no_port;
                port = end + 2;
        } else {
                end = strrchr(s, ':');
                if (!end || inet_pton(AF_INET6, s, addr) == 1)
                        return listen_no_port;
                if (memchr(s, ':', (size_t)(end - s)))
                        return "needs brackets around the IPv6 address (expected [IPV6]:PORT)";
                port = end + 1;
        }
        if ((size_t)(end - s) >= host_size)
                return listen_bad_address;
        memcpy(host, s, (size_t)(end - s));
        host[end - s] = '\0';
        *ret_v6 = v6;
        *ret_port = port;
        return NULL;
}

/* Checks one api.listen entry and writes its normalized form ("10.0.0.1:80",
 * "[fd00::1]:80") into ret, so that the same address written two ways is
 * caught as a duplicate and compares equal on reload. Returns NULL, or what
 * is wrong with s. */
static const char *listen_normalize(const char *s, char ret[static 64]) {
        char host[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
        unsigned char addr[sizeof(struct in6_addr)];
        const char *port, *problem;
        uint32_t n;
        bool v6;

        problem = listen_split(s, host, sizeof(host), &v6, &port);
        if (problem)
                return problem;
        if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1)
                return listen_bad_address;
        if (parse_uint32(port, &n) < 0 || n < 1 || n > 65535)
                return "has an invalid port (expected a number from 1 to 65535)";
        if (!inet_ntop(v6 ? AF_INET6 : AF_INET, addr, canon, sizeof(canon)))
                return listen_bad_address;
        snprintf(ret, 64, v6 ? "[%s]:%" PRIu32 : "%s:%" PRIu32, canon, n);
        return NULL;
}

/* How a node is shown after "got": the text of a scalar, else its kind. */
static const char *describe(const struct ynode *n, char buf[static YNODE_SHORT_MAX + 2]) {
        char tmp[YNODE_SHORT_MAX];

        if (ynode_is_null(n))
                return "null";
        if (n->kind != YNODE_SCALAR)
                return ynode_kind_to_string(n->kind);
        snprintf(buf, YNODE_SHORT_MAX + 2, "'%s'", ynode_shorten(n->value, tmp));
        return buf;
}

static int parse_listen(struct parser *p, const struct setting *s, const struct ynode *key, const struct ynode *value,
                        struct config *c) {
        _cleanup_strv_free_ char **l = xcalloc(1, sizeof(char *));
        char buf[YNODE_SHORT_MAX + 2];

        if (ynode_is_null(value))
                return fail(p, key, "missing value for '%s' (write [] to disable TCP)", s->name);
        if (value->kind != YNODE_SEQUENCE)
                return fail(p, value, "'%s' must be a list of addresses such as [\"0.0.0.0:7440\"], got %s", s->name,
                            describe(value, buf));
        if (value->n_items > s->max)
                return fail(p, value, "'%s' has %zu entries, at most %" PRIu64 " are allowed", s->name, value->n_items,
                            s->max);

        for (size_t i = 0; i < value->n_items; i++) {
                const struct ynode *item = value->items[i];
                const char *problem;
                char norm[64];

                if (item->kind != YNODE_SCALAR || ynode_is_null(item))
                        return fail(p, item, "'%s' entries must be addresses such as \"0.0.0.0:7440\", got %s", s->name,
                                    describe(item, buf));
                problem = listen_normalize(item->value, norm);
                if (problem)
                        return fail(p, item, "'%s' entry '%s' %s", s->name, ynode_shorten(item->value, buf), problem);
                for (size_t j = 0; l[j]; j++)
                        if (streq(l[j], norm))
                                return fail(p, item, "'%s' entry '%s' is listed twice (first at line %u, column %u)",
                                            s->name, ynode_shorten(item->value, buf), value->items[j]->line,
                                            value->items[j]->column);
                strv_push(&l, norm);
        }
        strv_free(*FIELD(c, s, char **));
        *FIELD(c, s, char **) = TAKE_PTR(l);
        return 0;
}

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)

/* Every setting, in the order config_format() writes them and the "known:"
 * hints list them. Keys of one section must be next to each other. */
static const struct setting settings[] = {
        { "node.name", parse_name, offsetof(struct config, node_name), 0, 0 },
        { "node.memory", parse_size_setting, offsetof(struct config, node_memory), 0, UINT64_C(1) << 50 },
        { "node.cpus", parse_unsigned, offsetof(struct config, node_cpus), 0, 65536 },
        { "state-dir", parse_path, offsetof(struct config, state_dir), 0, PATH_MAX - 1 },
        { "log.target", parse_log_target, offsetof(struct config, log.target), 0, 0 },
        { "log.file", parse_path, offsetof(struct config, log.file), 0, PATH_MAX - 1 },
        { "log.level", parse_log_level, offsetof(struct config, log.level), 0, 0 },
        { "api.socket", parse_path, offsetof(struct config, api.socket), 0, SOCKET_PATH_MAX },
        { "api.listen", parse_listen, offsetof(struct config, api.listen), 0, LISTEN_MAX },
        { "api.tls", parse_bool_setting, offsetof(struct config, api.tls), 0, 0 },
        { "api.max-body-size", parse_size_setting, offsetof(struct config, api.max_body_size), KIB, 64 * MIB },
        { "api.max-clients", parse_unsigned, offsetof(struct config, api.max_clients), 1, 65535 },
        { "api.request-timeout", parse_duration_setting, offsetof(struct config, api.request_timeout_usec),
          USEC_PER_SEC, USEC_PER_HOUR },
        { "database.synchronous", parse_sync_mode, offsetof(struct config, database.synchronous), 0, 0 },
        { "database.write-timeout", parse_duration_setting, offsetof(struct config, database.write_timeout_usec),
          100 * USEC_PER_MSEC, 10 * USEC_PER_MINUTE },
        { "database.member-timeout", parse_duration_setting, offsetof(struct config, database.member_timeout_usec),
          USEC_PER_SEC, 10 * USEC_PER_MINUTE },
        { "database.max-pending-writes", parse_unsigned, offsetof(struct config, database.max_pending_writes), 1,
          100000 },
        { "agents.ocf-root", parse_path, offsetof(struct config, agents.ocf_root), 0, PATH_MAX - 1 },
        { "agents.directory", parse_path, offsetof(struct config, agents.directory), 0, PATH_MAX - 1 },
        { "agents.fence-directory", parse_path, offsetof(struct config, agents.fence_directory), 0, PATH_MAX - 1 },
        { "agents.max-running", parse_unsigned, offsetof(struct config, agents.max_running), 1, 1024 },
        { "fencing.watchdog", parse_command, offsetof(struct config, fencing.watchdog), 0, PATH_MAX - 1 },
        { "fencing.watchdog-timeout", parse_duration_setting, offsetof(struct config, fencing.watchdog_timeout_usec),
          USEC_PER_SEC, 10 * USEC_PER_MINUTE },
        { "witness.credentials", parse_path, offsetof(struct config, witness.credentials), 0, PATH_MAX - 1 },
        { "corosync.config", parse_path, offsetof(struct config, corosync.config), 0, PATH_MAX - 1 },
        { "corosync.authkey", parse_path, offsetof(struct config, corosync.authkey), 0, PATH_MAX - 1 },
        { "corosync.start-command", parse_command, offsetof(struct config, corosync.start_command), 0, COMMAND_MAX },
        { "corosync.stop-command", parse_command, offsetof(struct config, corosync.stop_command), 0, COMMAND_MAX },
};

/* The key of s within section (NULL: the top level), or NULL when s is not
 * in that section. */
static const char *setting_key_in(const struct setting *s, const char *section) {
        const char *dot = strchr(s->name, '.');

        if (!section)
                return dot ? NULL : s->name;
        if (!dot || strlen(section) != (size_t)(dot - s->name) || strncmp(s->name, section, strlen(section)) != 0)
                return NULL;
        return dot + 1;
}

static const struct setting *setting_find(const char *section, const char *key) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const char *k = setting_key_in(&settings[i], section);
                if (k && streq(k, key))
                        return &settings[i];
        }
        return NULL;
}

static bool section_exists(const char *section) {
        for (size_t i = 0; i < ELEMENTSOF(settings); i++)
                if (setting_key_in(&settings[i], section) && strchr(settings[i].name, '.'))
                        return true;
        return false;
}

/* "socket, listen, tls, ..." for a section; for the top level the plain
 * keys and section names in table order: "node, state-dir, log, ...". */
static const char *known_keys(const char *section, char *buf, size_t size) {
        size_t o = 0;
        const char *prev = NULL;
        size_t prev_len = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(settings); i++) {
                const char *name = settings[i].name, *dot = strchr(name, '.');
                const char *k = section ? setting_key_in(&settings[i], section) : name;
                size_t len = section ? (k ? strlen(k) : 0) : (dot ? (size_t)(dot - name) : strlen(name));

                if (!k || (prev && len == prev_len && strncmp(prev, k, len) == 0))
                        continue;
                o += (size_t)snprintf(buf + o, size - MIN(o, size), "%s%.*s", o ? ", " : "", (int)len, k);
                prev = k;
                prev_len = len;
        }
        return buf;
}

static int parse_section(struct parser *p, const char *section, const struct ynode *value, struct config *c) {
        char buf[YNODE_SHORT_MAX + 2], known[256];

        /* "api:" with nothing under it is an empty section: all defaults. */
        if (ynode_is_null(value))
                return 0;
        if (value->kind != YNODE_MAPPING)
                return fail(p, value, "'%s' must be a section (a mapping of settings), got %s", section,
                            describe(value, buf));

        for (size_t i = 0; i < value->n_pairs; i++) {
                const struct ynode *k = value->pairs[i].key;
                const struct setting *s = setting_find(section, k->value);
                int r;

                if (!s)
                        return fail(p, k, "unknown key '%s' in section '%s' (known: %s)", ynode_shorten(k->value, buf),
                                    section, known_keys(section, known, sizeof(known)));
                r = s->parse(p, s, k, value->pairs[i].value, c);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_root(struct parser *p, const struct ynode *root, struct config *c) {
        char buf[YNODE_SHORT_MAX + 2], known[256];

        /* An empty file, or one with only comments: all defaults. */
        if (ynode_is_null(root))
                return 0;
        if (root->kind != YNODE_MAPPING)
                return fail(p, root, "the configuration must be a mapping of settings (known: %s), got %s",
                            known_keys(NULL, known, sizeof(known)), describe(root, buf));

        for (size_t i = 0; i < root->n_pairs; i++) {
                const struct ynode *k = root->pairs[i].key, *v = root->pairs[i].value;
                const struct setting *s;
                int r;

                if (section_exists(k->value))
                        r = parse_section(p, k->value, v, c);
                else if ((s = setting_find(NULL, k->value)))
                        r = s->parse(p, s, k, v, c);
                else
                        r = fail(p, k, "unknown key '%s' (known: %s)", ynode_shorten(k->value, buf),
                                 known_keys(NULL, known, sizeof(known)));
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Rules that involve more than one setting, checked once the whole file is
 * read so that the order of keys in the file does not matter. */
static int check_consistency(struct parser *p, const struct config *c) {
        if (c->log.target == LOG_TARGET_FILE && !c->log.file)
                return fail(p, p->log_target, "'log.target' is 'file' but 'log.file' is not set");
        return 0;
}

struct config *config_new_default(void) {
        struct config *c = xcalloc(1, sizeof(*c));

        c->state_dir = xstrdup(CLUSTERD_STATE_DIR);
        c->log.target = LOG_TARGET_SYSLOG;
        c->log.level = LOG_INFO;
        c->api.socket = xstrdup(CLUSTERD_RUN_DIR "/clusterd.sock");
        strv_push(&c->api.listen, "0.0.0.0:7440");
        c->api.tls = true;
        c->api.max_body_size = MIB;
        c->api.max_clients = 128;
        c->api.request_timeout_usec = 30 * USEC_PER_SEC;
        c->database.synchronous = DB_SYNC_FULL;
        c->database.write_timeout_usec = 10 * USEC_PER_SEC;
        c->database.member_timeout_usec = 5 * USEC_PER_SEC;
        c->database.max_pending_writes = 1024;
        c->agents.ocf_root = xstrdup("/usr/lib/ocf");
        c->agents.directory = xstrdup(CLUSTERD_AGENTS_DIR);
        c->agents.fence_directory = xstrdup("/usr/sbin");
        c->agents.max_running = 16;
        c->fencing.watchdog = xstrdup("auto");
        c->fencing.watchdog_timeout_usec = 10 * USEC_PER_SEC;
        c->witness.credentials = xstrdup("/etc/clusterd/witness.cred");
        c->corosync.config = xstrdup("/etc/corosync/corosync.conf");
        c->corosync.authkey = xstrdup("/etc/corosync/authkey");
        c->corosync.start_command = xstrdup("systemctl start corosync.service");
        c->corosync.stop_command = xstrdup("systemctl stop corosync.service");
        return c;
}

struct config *config_free(struct config *c) {
        if (!c)
                return NULL;
        free(c->path);
        free(c->node_name);
        free(c->state_dir);
        free(c->log.file);
        free(c->api.socket);
        strv_free(c->api.listen);
        free(c->agents.ocf_root);
        free(c->agents.directory);
        free(c->agents.fence_directory);
        free(c->fencing.watchdog);
        free(c->witness.credentials);
        free(c->corosync.config);
        free(c->corosync.authkey);
        free(c->corosync.start_command);
        free(c->corosync.stop_command);
        free(c);
        return NULL;
}

int config_parse(const char *text, size_t size, const char *name, struct config **ret, struct err *e) {
        _cleanup_(config_freep) struct config *c = NULL;
        _cleanup_(ynode_freep) struct ynode *root = NULL;
        struct parser p = { .name = name, .e = e };
        int r;

        r = ynode_parse(text, size, name, &root, e);
        if (r < 0)
                return r;

        c = config_new_default();
        r = parse_root(&p, root, c);
        if (r < 0)
                return r;
        r = check_consistency(&p, c);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(c);
        return 0;
}

int config_load(const char *path, struct config **ret, struct err *e) {
        _cleanup_free_ char *text = NULL;
        struct config *c;
        size_t size;
        int r;

        r = read_full_file(path, YNODE_INPUT_MAX, &text, &size);
        if (r == -ENOENT)
                return err_set(e, r, "%s: file not found", path);
        if (r == -EFBIG)
                return err_set(e, r, "%s: file is larger than 1MiB", path);
        if (r < 0)
                return err_set(e, r, "%s: cannot read: %s", path, strerror(-r));

        r = config_parse(text, size, path, &c, e);
        if (r < 0)
                return r;
        c->path = xstrdup(path);
        *ret = c;
        return 0;
}

/* A growing string for config_format(); allocation failure aborts like
 * every x*alloc. */
struct strbuf {
        char *data; /* NUL-terminated. Owned. */
        size_t len; /* bytes used, without the NUL */
};

static void sb_printf(struct strbuf *b, const char *fmt, ...) _printf_(2, 3);
static void sb_printf(struct strbuf *b, const char *fmt, ...) {
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return;
        b->data = xrealloc(b->data, b->len + (size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
        b->len += (size_t)n;
}

/* Decodes one UTF-8 character at s into *ret_cp; returns its length, or 0
 * when s does not start with valid UTF-8. */
static size_t utf8_decode(const unsigned char *s, uint32_t *ret_cp) {
        static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t len;
        uint32_t cp;

        if (s[0] < 0x80) {
                *ret_cp = s[0];
                return 1;
        }
        if (s[0] >= 0xC2 && s[0] <= 0xDF)
                len = 2;
        else if (s[0] >= 0xE0 && s[0] <= 0xEF)
                len = 3;
        else if (s[0] >= 0xF0 && s[0] <= 0xF4)
                len = 4;
        else
                return 0;
        cp = s[0] & (0x7F >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xC0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3F);
        }
        if (cp < min[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return 0;
        *ret_cp = cp;
        return len;
}

/* Writes s so that YAML reads back exactly s: plain when that is safe,
 * otherwise double-quoted with every character escaped that libyaml would
 * refuse in a file or fold as a line break. */
static void sb_string(struct strbuf *b, const char *s) {
        static const char *const reserved[] = { "null", "true", "false", "yes", "no", "on", "off", "y", "n" };
        bool plain = isalpha((unsigned char)s[0]) || s[0] == '/' || s[0] == '_';

        for (const char *q = s; plain && *q; q++)
                plain = isalnum((unsigned char)*q) || strchr("/._-", *q);
        for (size_t i = 0; plain && i < ELEMENTSOF(reserved); i++)
                plain = strcasecmp(s, reserved[i]) != 0;
        if (plain) {
                sb_printf(b, "%s", s);
                return;
        }

        sb_printf(b, "\"");
        for (const unsigned char *q = (const unsigned char *)s; *q;) {
                uint32_t cp;
                size_t len = utf8_decode(q, &cp);

                if (len == 0) {
                        /* Not UTF-8: cannot come from a parsed file; write
                         * something valid rather than a broken file. */
                        sb_printf(b, "\\uFFFD");
                        q++;
                        continue;
                }
                if (cp == '"' || cp == '\\')
                        sb_printf(b, "\\%c", (char)cp);
                else if (cp == '\n')
                        sb_printf(b, "\\n");
                else if (cp == '\t')
                        sb_printf(b, "\\t");
                else if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
                        sb_printf(b, "\\x%02X", (unsigned)cp);
                else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFFFE || cp == 0xFFFF)
                        sb_printf(b, "\\u%04X", (unsigned)cp);
                else
                        sb_printf(b, "%.*s", (int)len, (const char *)q);
                q += len;
        }
        sb_printf(b, "\"");
}

static void sb_setting(struct strbuf *b, const char *indent, const char *key, const char *value) {
        sb_printf(b, "%s%s: ", indent, key);
        if (value)
                sb_string(b, value);
        else
                sb_printf(b, "null");
        sb_printf(b, "\n");
}

char *config_format(const struct config *c) {
        struct strbuf b = {};
        char t1[64], t2[64];

        sb_printf(&b, "# clusterd configuration: every setting, defaults filled in.\n");
        sb_printf(&b, "node:\n");
        sb_setting(&b, "  ", "name", c->node_name);
        if (c->node_memory)
                sb_printf(&b, "  memory: %s\n", format_size(t1, sizeof(t1), c->node_memory));
        else
                sb_printf(&b, "  memory: 0  # the host's memory less 1 GiB\n");
        sb_printf(&b, "  cpus: %u%s\n", c->node_cpus, c->node_cpus ? "" : "  # every online CPU");
        sb_setting(&b, "", "state-dir", c->state_dir);

        sb_printf(&b, "log:\n  target: %s\n", log_target_names[c->log.target]);
        if (c->log.file)
                sb_setting(&b, "  ", "file", c->log.file);
        else
                sb_printf(&b, "  # file: not set (needed when target is file)\n");
        sb_printf(&b, "  level: %s\n", log_level_to_string(c->log.level));

        sb_printf(&b, "api:\n");
        sb_setting(&b, "  ", "socket", c->api.socket);
        sb_printf(&b, "  listen:%s\n", strv_length(c->api.listen) == 0 ? " []" : "");
        for (char **l = c->api.listen; l && *l; l++) {
                sb_printf(&b, "    - ");
                sb_string(&b, *l);
                sb_printf(&b, "\n");
        }
        sb_printf(&b, "  tls: %s\n", c->api.tls ? "true" : "false");
        sb_printf(&b, "  max-body-size: %s\n", format_size(t1, sizeof(t1), c->api.max_body_size));
        sb_printf(&b, "  max-clients: %u\n", c->api.max_clients);
        sb_printf(&b, "  request-timeout: %s\n", format_duration(t1, sizeof(t1), c->api.request_timeout_usec));

        sb_printf(&b, "database:\n  synchronous: %s\n", sync_mode_names[c->database.synchronous]);
        sb_printf(&b, "  write-timeout: %s\n", format_duration(t2, sizeof(t2), c->database.write_timeout_usec));
        sb_printf(&b, "  member-timeout: %s\n", format_duration(t2, sizeof(t2), c->database.member_timeout_usec));
        sb_printf(&b, "  max-pending-writes: %u\n", c->database.max_pending_writes);

        sb_printf(&b, "agents:\n");
        sb_setting(&b, "  ", "ocf-root", c->agents.ocf_root);
        sb_setting(&b, "  ", "directory", c->agents.directory);
        sb_setting(&b, "  ", "fence-directory", c->agents.fence_directory);
        sb_printf(&b, "  max-running: %u\n", c->agents.max_running);

        sb_printf(&b, "fencing:\n");
        sb_setting(&b, "  ", "watchdog", c->fencing.watchdog);
        sb_printf(&b, "  watchdog-timeout: %s\n", format_duration(t1, sizeof(t1), c->fencing.watchdog_timeout_usec));

        sb_printf(&b, "witness:\n");
        sb_setting(&b, "  ", "credentials", c->witness.credentials);

        sb_printf(&b, "corosync:\n");
        sb_setting(&b, "  ", "config", c->corosync.config);
        sb_setting(&b, "  ", "authkey", c->corosync.authkey);
        sb_setting(&b, "  ", "start-command", c->corosync.start_command);
        sb_setting(&b, "  ", "stop-command", c->corosync.stop_command);
        return b.data;
}

char **config_restart_needed(const struct config *a, const struct config *b) {
        char **l = NULL;

        /* Everything else is re-read on SIGHUP; these are bound at startup
         * (identity, open files and sockets, the database connection). */
        if (!streq_ptr(a->node_name, b->node_name))
                strv_push(&l, "node.name");
        if (!streq_ptr(a->state_dir, b->state_dir))
                strv_push(&l, "state-dir");
        if (!streq_ptr(a->api.socket, b->api.socket))
                strv_push(&l, "api.socket");
        if (!strv_equal(a->api.listen, b->api.listen))
                strv_push(&l, "api.listen");
        if (a->api.tls != b->api.tls)
                strv_push(&l, "api.tls");
        if (a->database.synchronous != b->database.synchronous)
                strv_push(&l, "database.synchronous");
        if (!streq_ptr(a->fencing.watchdog, b->fencing.watchdog))
                strv_push(&l, "fencing.watchdog");
        /* The armed watchdog and what the others wait for must agree. */
        if (a->fencing.watchdog_timeout_usec != b->fencing.watchdog_timeout_usec)
                strv_push(&l, "fencing.watchdog-timeout");
        if (a->agents.max_running != b->agents.max_running)
                strv_push(&l, "agents.max-running");
        return l;
}
