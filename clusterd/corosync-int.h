/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * corosync-int.h: the adapter to corosync: CPG (group membership and
 * totally ordered messages), quorum and votequorum (quorum state and
 * votes) and cmap (the node list). Configuration reloads run as a child
 * process (corosync-cfgtool -R): the library call blocks until every node
 * answers.
 *
 * All corosync file descriptors are served by the daemon's libqb loop.
 * cs_error_t values are translated to -errno here and nowhere else.
 * Callbacks run from the loop; after a `lost` callback the owner must
 * cs_free() the handle (from a later loop iteration is fine).
 */
#pragma once

#include <qb/qbloop.h>

#include "common/common.h"

struct cs;

/* Why a member joined or left (CPG's reasons). */
enum cs_reason {
        CS_REASON_OTHER = 0,
        CS_REASON_JOIN = 1,     /* the process joined */
        CS_REASON_LEAVE = 2,    /* the process left */
        CS_REASON_NODEDOWN = 3, /* its node left corosync's membership */
        CS_REASON_NODEUP = 4,   /* its node joined corosync's membership */
        CS_REASON_PROCDOWN = 5, /* the process died */
};

struct cs_member {
        uint32_t nodeid;
        uint32_t pid;
        enum cs_reason reason; /* in left/joined lists only */
};

/* What corosync says about quorum, refreshed on every change. */
struct cs_quorum {
        bool known;           /* at least one notification arrived */
        bool quorate;         /* votequorum's verdict */
        uint64_t ring_seq;    /* the totem ring this verdict is for */
        uint32_t ring_nodeid; /* that ring's representative */
        uint32_t *members;    /* node ids in the corosync membership; owned by cs */
        size_t n_members;
        uint32_t expected_votes;
        uint32_t total_votes;
        uint32_t quorum; /* votes needed */
};

/* A node of corosync's nodelist (cmap nodelist.node.N.*). */
struct cs_node {
        uint32_t nodeid;
        char name[64];
        char address[256]; /* ring0_addr */
        uint32_t votes;    /* quorum_votes, default 1 */
};

struct cs_callbacks {
        /* A CPG message, in agreed order. */
        void (*deliver)(void *userdata, uint32_t nodeid, uint32_t pid, const void *msg, size_t size);
        /* The CPG group's membership changed (also once right after joining). */
        void (*group_change)(void *userdata, const struct cs_member *members, size_t n, const struct cs_member *left,
                             size_t n_left, const struct cs_member *joined, size_t n_joined);
        /* Quorum or votes changed; read cs_quorum(). */
        void (*quorum_change)(void *userdata);
        /* corosync's nodelist changed (config reload). */
        void (*nodelist_change)(void *userdata);
        /* The end of one batch of CPG callbacks: a good moment to commit. */
        void (*dispatch_done)(void *userdata);
        /* votequorum's membership sync began a new ring (its nodelist
         * notification): a quorum device must poll with it now. Optional. */
        void (*ring_change)(void *userdata, uint64_t ring_seq, const uint32_t *members, size_t n);
        /* corosync is stopping cleanly and waits (up to its shutdown
         * timeout, 5 s) for cs_reply_shutdown(). Optional: without it the
         * reply is given at once. */
        void (*shutdown_request)(void *userdata);
        /* The connection to corosync is gone (error: -errno). */
        void (*lost)(void *userdata, int error);
};

/* Connects to the local corosync and joins CPG group `group`. -ENOTCONN
 * (with a message) when corosync is not running. */
int cs_connect(qb_loop_t *loop, const char *group, const struct cs_callbacks *cb, void *userdata, struct cs **ret,
               struct err *e);

/* Leaves the group and closes every connection. Accepts NULL. */
struct cs *cs_free(struct cs *cs);
static inline void cs_freep(struct cs **cs) {
        cs_free(*cs);
}

/* Sends one message to the group (agreed order). -EAGAIN when corosync
 * applies flow control (retry later; nothing was sent), -EMSGSIZE when too
 * large, -ENOTCONN when the connection is gone. */
int cs_mcast(struct cs *cs, const void *data, size_t size);

uint32_t cs_local_nodeid(struct cs *cs);

/* The largest message cs_mcast accepts. */
size_t cs_max_message_size(struct cs *cs);

const struct cs_quorum *cs_quorum(struct cs *cs);

/* A node's votes as votequorum reports them (0 if unknown). */
uint32_t cs_node_votes(struct cs *cs, uint32_t nodeid);

/* corosync's nodelist, sorted by node id, as read at connect and whenever
 * corosync reports a change (a copy; caller frees *ret).
 *
 * Every corosync query is a blocking IPC round trip, and corosync does not
 * answer while it forms a new membership, which may take seconds or, with
 * a flapping network, longer. So queries are made only when corosync has
 * just shown it is responsive (at connect, inside its own notifications),
 * and everything else reads what they cached. */
int cs_nodelist(struct cs *cs, struct cs_node **ret, size_t *ret_n);

/* Reads the local node's votes, quorum and quorum-device vote from
 * votequorum again (a blocking call: only right after corosync answered
 * something else, e.g. a quorum device poll). */
void cs_refresh_quorum(struct cs *cs);

/* The quorum device's votes that count on this node now (0 unless the
 * device cast its vote here), as of the last refresh. */
uint32_t cs_device_votes(struct cs *cs);

/* The quorum device interface (votequorum_qdevice_*): registers this
 * process as the device `name` (quorum.device.model), and polls it: the
 * vote is cast until the next poll or quorum.device.timeout. A poll names
 * votequorum's current ring (from its last nodelist notification);
 * -EAGAIN before one arrived; a poll with an outdated ring is refused by
 * corosync (-EBADMSG). */
int cs_qdevice_register(struct cs *cs, const char *name);
int cs_qdevice_unregister(struct cs *cs, const char *name);
int cs_qdevice_poll(struct cs *cs, const char *name, bool cast_vote);
/* votequorum's current ring sequence (false before its first notice). */
bool cs_vq_ring(struct cs *cs, uint64_t *ret_seq);

/* Lets a clean stop of corosync go on (see shutdown_request). Does
 * nothing when no stop is waiting for the answer. */
void cs_reply_shutdown(struct cs *cs);

/* Translates a corosync result. */
int cs_errno(int cs_error);

/* Whether a corosync is running on this node (its cmap answers). */
bool cs_running(void);
