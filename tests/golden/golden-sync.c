/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * golden-sync.c: runs the replication sync decision (sync_decide, and
 * sync_may_write) on a case read from stdin and prints the decision as
 * stable text, for the golden cases in tests/golden/cases/golden-sync/.
 *
 * Input, one item per line; '#' starts a comment, blank lines are ignored:
 *
 *   member NODEID PID EPOCH VERSION HASH SCHEMA UUID|-
 *       one member of the new view, in the order the view lists them.
 *       HASH is decimal or 0x-hex; UUID "-" means the node holds no
 *       cluster state yet (an empty uuid).
 *   quorum yes|no QUORUM
 *       optional: whether votequorum says the partition is quorate, and
 *       its quorum. Each member that takes part in sync (is not excluded)
 *       holds one replica vote; the output then says whether writes may
 *       resume once the sync is done.
 *
 * Output:
 *
 *   winner node N pid P (epoch E, version V, hash 0xH)
 *   reason: <the decision's reason>
 *   node N pid P: up-to-date|receive|excluded (epoch E, version V, hash 0xH, schema S, uuid U|-)
 *   ... one line per member, in input order
 *   receivers: K
 *   writes: allowed|refused (quorate yes|no, quorum Q, replica votes R)   [with a quorum line]
 *
 * or "no member holds cluster state: nothing to sync" when none does. A
 * malformed case is an error (exit status 2, message on stderr).
 */
#include "clusterd/sync-int.h"

#define MEMBERS_MAX 64

static int fail(unsigned line, const char *msg, const char *text) {
        fprintf(stderr, "line %u: %s: %s\n", line, msg, text);
        return 2;
}

static bool parse_u64(const char *s, uint64_t *ret) {
        char *end;
        if (!s || !*s || *s == '-')
                return false;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (errno != 0 || *end)
                return false;
        *ret = v;
        return true;
}

static bool parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        if (!parse_u64(s, &v) || v > UINT32_MAX)
                return false;
        *ret = (uint32_t)v;
        return true;
}

int main(void) {
        struct sync_member m[MEMBERS_MAX];
        size_t n = 0;
        bool have_quorum = false, quorate = false;
        uint32_t quorum = 0;
        char buf[1024];
        unsigned line = 0;

        while (fgets(buf, sizeof(buf), stdin)) {
                char *save = NULL, *hash = strchr(buf, '#');
                line++;
                if (hash)
                        *hash = '\0';
                char *word = strtok_r(buf, " \t\r\n", &save);
                if (!word)
                        continue;
                if (streq(word, "member")) {
                        char *f[7];
                        for (size_t i = 0; i < ELEMENTSOF(f); i++)
                                f[i] = strtok_r(NULL, " \t\r\n", &save);
                        if (!f[6] || strtok_r(NULL, " \t\r\n", &save))
                                return fail(line, "expected 7 fields",
                                            "member NODEID PID EPOCH VERSION HASH SCHEMA UUID|-");
                        if (n == MEMBERS_MAX)
                                return fail(line, "too many members", f[0]);
                        struct sync_member *x = &m[n];
                        *x = (struct sync_member){};
                        if (!parse_u32(f[0], &x->nodeid) || !parse_u32(f[1], &x->pid) ||
                            !parse_u64(f[2], &x->pos.epoch) || !parse_u64(f[3], &x->pos.version) ||
                            !parse_u64(f[4], &x->pos.hash) || !parse_u32(f[5], &x->schema))
                                return fail(line, "bad number", "member");
                        if (!streq(f[6], "-")) {
                                if (strlen(f[6]) >= sizeof(x->uuid))
                                        return fail(line, "uuid too long", f[6]);
                                snprintf(x->uuid, sizeof(x->uuid), "%s", f[6]);
                        }
                        n++;
                } else if (streq(word, "quorum")) {
                        char *q = strtok_r(NULL, " \t\r\n", &save), *v = strtok_r(NULL, " \t\r\n", &save);
                        int b = q ? parse_bool(q) : -EINVAL;
                        if (b < 0 || !parse_u32(v, &quorum) || strtok_r(NULL, " \t\r\n", &save))
                                return fail(line, "expected", "quorum yes|no QUORUM");
                        have_quorum = true;
                        quorate = b;
                } else
                        return fail(line, "unknown item", word);
        }

        struct sync_decision d;
        int r = sync_decide(m, n, &d);
        if (r == -ENODATA) {
                printf("no member holds cluster state: nothing to sync\n");
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "sync_decide: %s\n", strerror(-r));
                return 2;
        }

        const struct sync_member *w = &m[d.winner];
        printf("winner node %" PRIu32 " pid %" PRIu32 " (epoch %" PRIu64 ", version %" PRIu64 ", hash 0x%" PRIx64 ")\n",
               w->nodeid, w->pid, w->pos.epoch, w->pos.version, w->pos.hash);
        printf("reason: %s\n", d.reason);
        uint32_t replicas = 0;
        for (size_t i = 0; i < n; i++) {
                printf("node %" PRIu32 " pid %" PRIu32 ": %s (epoch %" PRIu64 ", version %" PRIu64 ", hash 0x%" PRIx64
                       ", schema %" PRIu32 ", uuid %s)\n",
                       m[i].nodeid, m[i].pid, sync_role_to_string(d.roles[i]), m[i].pos.epoch, m[i].pos.version,
                       m[i].pos.hash, m[i].schema, m[i].uuid[0] ? m[i].uuid : "-");
                if (d.roles[i] != SYNC_EXCLUDED)
                        replicas++;
        }
        printf("receivers: %zu\n", d.n_receivers);
        if (have_quorum)
                printf("writes: %s (quorate %s, quorum %" PRIu32 ", replica votes %" PRIu32 ")\n",
                       sync_may_write(quorate, quorum, replicas) ? "allowed" : "refused", yes_no(quorate), quorum,
                       replicas);
        sync_decision_done(&d);
        return 0;
}
