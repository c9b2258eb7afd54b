/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * repl-int.h: the replication engine. It keeps this node's database copy
 * in step with the other members of the CPG group:
 *
 *   - after every group change the members exchange their positions, agree
 *     on the newest state (sync_decide) and the winner sends it, in chunks,
 *     to those behind; only then does the group take writes again;
 *   - a write is an operation multicast in agreed order, applied by every
 *     member in delivery order, persisted in batches, and acknowledged to
 *     the client only once every member of the quorate membership has
 *     confirmed it (committed).
 *
 * The protocol and why it is safe are in docs/replication.md.
 */
#pragma once

#include <qb/qbloop.h>

#include "clusterd/corosync-int.h"
#include "clusterd/db-int.h"

enum repl_state {
        REPL_DISCONNECTED, /* no corosync connection */
        REPL_SYNCING,      /* exchanging positions after a group change */
        REPL_TRANSFER,     /* the newest state is being sent to members behind */
        REPL_SYNCED,       /* in step with the group */
        REPL_FAILED,       /* the local database failed, or this node cannot take part */
        _REPL_STATE_MAX,
};

/* How a write ended, passed to its repl_done_fn. r is 0 when the operation
 * was committed (res->r then says whether the change was made or refused
 * by its own rules, identically on every member), or one of:
 *   -EAGAIN      too many writes pending on this node; nothing written
 *   -ENOTCONN    not connected to corosync; nothing written
 *   -ENOLINK     this partition is not quorate; nothing written
 *   -ENODATA     this node has not received the cluster's state yet; nothing written
 *   -ETIME       could not be sent within the write timeout; nothing written
 *   -ECANCELED   the membership changed and the surviving state does not
 *                contain it; nothing written, safe to retry
 *   -ETIMEDOUT   sent, but not confirmed in time: it may or may not be applied
 *   -ESHUTDOWN   the daemon is stopping; it may or may not be applied
 * `message` explains it for the client. */
typedef void (*repl_done_fn)(void *userdata, int r, const struct op_result *res, const char *message);

/* What a committed batch changed (bit mask for the changed callback). */
enum {
        REPL_CHANGED_NODES = 1 << 0,
        REPL_CHANGED_SETTINGS = 1 << 1,
        REPL_CHANGED_TOKENS = 1 << 2,
        REPL_CHANGED_ROLES = 1 << 3,    /* roles, node properties, fencing */
        REPL_CHANGED_POSITION = 1 << 4, /* any operation: the database's position moved */
        REPL_CHANGED_ALL = 0xff,
};

struct repl_callbacks {
        /* After a batch of operations (or a snapshot) is committed locally. */
        void (*changed)(void *userdata, unsigned what);
        /* After each completed sync round and whenever writability changes. */
        void (*status)(void *userdata);
        /* The local database failed; the owner should disconnect and retry. */
        void (*failed)(void *userdata, int error, const char *message);
};

struct repl_config {
        uint64_t write_timeout_usec;
        uint64_t member_timeout_usec; /* a member that does not answer for this long is evicted */
        unsigned max_pending;
};

struct repl;

int repl_new(qb_loop_t *loop, struct db *db, const struct repl_config *cfg, const struct repl_callbacks *cb,
             void *userdata, struct repl **ret);
/* Fails every pending write with -ESHUTDOWN (or -ENOTCONN if never sent). */
struct repl *repl_free(struct repl *r);

void repl_set_config(struct repl *r, const struct repl_config *cfg);

/* Plumbing from the corosync adapter (the daemon forwards its callbacks). */
void repl_attach(struct repl *r, struct cs *cs);
void repl_detach(struct repl *r);
void repl_deliver(struct repl *r, uint32_t nodeid, uint32_t pid, const void *msg, size_t size);
void repl_group_change(struct repl *r, const struct cs_member *members, size_t n, const struct cs_member *left,
                       size_t n_left);
void repl_quorum_change(struct repl *r);
void repl_dispatch_done(struct repl *r);

/* Submits a write. The operation is taken over (op_done'd by repl); its
 * kind-specific fields must be set, the rest (epoch, origin_seq) repl
 * fills in. On success done is called exactly once, later, unless
 * repl_forget() is called first. Immediate refusals (no quorum, too many
 * pending) return < 0 with a message and do not call done. */
int repl_submit(struct repl *r, struct op *op, repl_done_fn done, void *userdata, uint64_t *ret_id, struct err *e);

/* The client went away: the write continues but done will not be called. */
void repl_forget(struct repl *r, uint64_t id);

enum repl_state repl_state(struct repl *r);
const char *repl_state_to_string(enum repl_state s);
bool repl_writable(struct repl *r);
/* The witness record holds (at least) this database version. A partition
 * that is writable only thanks to the witness's vote counts a write as
 * committed once the record holds it, as well as every replica. */
void repl_witness_holds(struct repl *r, uint64_t version);
uint64_t repl_committed(struct repl *r);

/* The members of the current view that take part in replication (synced,
 * not excluded), sorted by node id. */
size_t repl_replicas(struct repl *r, uint32_t *ret, size_t max);
/* Whether nodeid's clusterd is in the group right now. */
bool repl_in_group(struct repl *r, uint32_t nodeid);
uint32_t repl_replica_votes(struct repl *r);
/* The leader: the lowest node id among the replicas of a writable view;
 * 0 when there is none. Derived, never elected. */
uint32_t repl_leader(struct repl *r);
