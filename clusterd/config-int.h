/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config-int.h: the node's own configuration, /etc/clusterd/clusterd.yaml.
 *
 * Only node-local things live here (where to log, where the API listens,
 * where corosync's files are). Everything cluster-wide is in the replicated
 * database. A configuration is parsed into a new object and validated as a
 * whole before anyone uses it; reload swaps whole objects (never half-applies).
 */
#pragma once

#include "common/common.h"

enum log_target {
        LOG_TARGET_STDERR,
        LOG_TARGET_SYSLOG,
        LOG_TARGET_FILE,
};

enum db_sync_mode {
        DB_SYNC_FULL,   /* fsync on every commit: survives power loss */
        DB_SYNC_NORMAL, /* WAL without fsync per commit: survives process crashes */
};

struct config {
        char *path; /* file it was read from; NULL for built-in defaults. Owned. */

        char *node_name;      /* node.name; NULL = corosync's name for this node. Owned. */
        uint64_t node_memory; /* node.memory: bytes roles may use; 0 = the host's memory less 1 GiB */
        unsigned node_cpus;   /* node.cpus: CPUs for roles; 0 = every online CPU */
        char *state_dir;      /* state-dir: database and pki/ live here. Owned. */

        struct {
                enum log_target target;
                char *file; /* required when target is file. Owned. */
                int level;  /* syslog level, LOG_TRACE for trace */
        } log;

        struct {
                char *socket;                  /* root-only local socket, no token. Owned. */
                char **listen;                 /* "ADDR:PORT" / "[ADDR]:PORT" strv; empty = no TCP. Owned. */
                bool tls;                      /* HTTPS on the TCP listeners */
                uint64_t max_body_size;        /* bytes, 1KiB..64MiB */
                unsigned max_clients;          /* concurrent connections per listener, 1..65535 */
                uint64_t request_timeout_usec; /* idle connection timeout */
        } api;

        struct {
                enum db_sync_mode synchronous;
                uint64_t write_timeout_usec;  /* how long a write waits to be committed */
                uint64_t member_timeout_usec; /* a member silent this long is no longer waited for */
                unsigned max_pending_writes;  /* writes in flight from this node, 1..100000 */
        } database;

        struct {
                char *ocf_root;        /* OCF_ROOT for resource agents ("ocf:PROVIDER:TYPE"). Owned. */
                char *directory;       /* where our own agents (vm, ipaddr, dummy) are. Owned. */
                char *fence_directory; /* where fence agents (fence_*) are. Owned. */
                unsigned max_running;  /* agent actions running at once, 1..1024 */
        } agents;

        struct {
                char *watchdog;                 /* "auto", "none", a device path or "unix:PATH". Owned. */
                uint64_t watchdog_timeout_usec; /* the reset deadline once petting stops */
        } fencing;

        struct {
                char *credentials; /* root-only file with the witness's user name and password, or key. Owned. */
        } witness;

        struct {
                char *config;        /* corosync.conf path. Owned. */
                char *authkey;       /* corosync authkey path. Owned. */
                char *start_command; /* run (sh -c) when corosync must be started. Owned. */
                char *stop_command;  /* run when this node leaves the cluster. Owned. */
        } corosync;
};

/* Built-in defaults (what an empty file means). Never NULL. */
struct config *config_new_default(void);

/* Parses YAML text. `name` is used in messages ("clusterd.yaml:3:5: ...").
 * Unknown keys, wrong types, out-of-range values and missing required values
 * are refused with e->msg = "NAME:LINE:COLUMN: what is wrong". On success the
 * caller owns *ret. */
int config_parse(const char *text, size_t size, const char *name, struct config **ret, struct err *e);

/* Reads and parses path. A missing file is -ENOENT (callers decide whether
 * defaults will do); other errors as config_parse(). */
int config_load(const char *path, struct config **ret, struct err *e);

struct config *config_free(struct config *c);
static inline void config_freep(struct config **c) {
        config_free(*c);
}

/* The normalized configuration as YAML, every key present, defaults filled
 * in (what `clusterd --check-config` prints). Caller frees. */
char *config_format(const struct config *c);

/* Names (dotted, e.g. "api.listen") of settings that differ between a and b
 * and cannot be changed without a restart. NULL when there are none; caller
 * frees with strv_free(). */
char **config_restart_needed(const struct config *a, const struct config *b);
