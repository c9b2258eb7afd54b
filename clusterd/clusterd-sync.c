/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-sync.c: choosing the sync winner and the write rule (pure). */
#include "clusterd/sync-int.h"

bool sync_position_newer(const struct db_position *a, const struct db_position *b) {
        if (a->epoch != b->epoch)
                return a->epoch > b->epoch;
        return a->version > b->version;
}

static bool member_before(const struct sync_member *a, const struct sync_member *b) {
        if (sync_position_newer(&a->pos, &b->pos))
                return true;
        if (sync_position_newer(&b->pos, &a->pos))
                return false;
        if (a->nodeid != b->nodeid)
                return a->nodeid < b->nodeid;
        return a->pid < b->pid;
}

const char *sync_role_to_string(enum sync_role r) {
        switch (r) {
        case SYNC_UP_TO_DATE:
                return "up-to-date";
        case SYNC_RECEIVE:
                return "receive";
        case SYNC_EXCLUDED:
                return "excluded";
        }
        return "unknown";
}

int sync_decide(const struct sync_member *m, size_t n, struct sync_decision *ret) {
        struct sync_decision d = {};
        bool found = false;

        for (size_t i = 0; i < n; i++) {
                if (!m[i].uuid[0])
                        continue;
                if (!found || member_before(&m[i], &m[d.winner])) {
                        d.winner = i;
                        found = true;
                }
        }
        if (!found)
                return -ENODATA;

        /* The newest state decides which cluster this group is. A member
         * holding another uuid could only be here by operator error (same
         * authkey); it must not be overwritten silently nor win. */
        const struct sync_member *w = &m[d.winner];
        d.roles = xcalloc(n, sizeof(enum sync_role));
        for (size_t i = 0; i < n; i++) {
                if (i == d.winner)
                        d.roles[i] = SYNC_UP_TO_DATE;
                else if ((m[i].uuid[0] && !streq(m[i].uuid, w->uuid)) || m[i].schema != w->schema)
                        d.roles[i] = SYNC_EXCLUDED;
                else if (m[i].pos.epoch == w->pos.epoch && m[i].pos.version == w->pos.version &&
                         m[i].pos.hash == w->pos.hash)
                        d.roles[i] = SYNC_UP_TO_DATE;
                else {
                        d.roles[i] = SYNC_RECEIVE;
                        d.n_receivers++;
                }
        }
        snprintf(d.reason, sizeof(d.reason),
                 "node %" PRIu32 " holds the newest state (epoch %" PRIu64 ", version %" PRIu64 ")", w->nodeid,
                 w->pos.epoch, w->pos.version);
        *ret = d;
        return 0;
}

void sync_decision_done(struct sync_decision *d) {
        free(d->roles);
        *d = (struct sync_decision){};
}

bool sync_may_write(bool quorate, uint32_t quorum, uint32_t replica_votes) {
        return quorate && quorum > 0 && replica_votes >= quorum;
}

static bool contains(const uint32_t *l, size_t n, uint32_t v) {
        for (size_t i = 0; i < n; i++)
                if (l[i] == v)
                        return true;
        return false;
}

bool sync_quorum_current(const uint32_t *view_nodes, size_t n_view, const uint32_t *gone, size_t n_gone,
                         const uint32_t *quorum_members, size_t n_quorum) {
        for (size_t i = 0; i < n_view; i++)
                if (!contains(quorum_members, n_quorum, view_nodes[i]))
                        return false;
        for (size_t i = 0; i < n_gone; i++)
                if (contains(quorum_members, n_quorum, gone[i]) && !contains(view_nodes, n_view, gone[i]))
                        return false;
        return true;
}
