/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * repl-impl-int.h: shared by the files of the replication engine
 * (clusterd-repl.c: writes, batches, messages and the state machine;
 * clusterd-repl-sync.c: the sync round). Never leaves clusterd/; the
 * interface is repl-int.h.
 */
#pragma once

#include "clusterd/repl-int.h"
#include "clusterd/sync-int.h"

enum repl_event {
        EV_CONNECTED,
        EV_GROUP_CHANGED,
        EV_STATES_DIFFER, /* some members must receive the winner's state */
        EV_STATES_EQUAL,  /* every member already holds it */
        EV_ALL_INSTALLED,
        EV_WINNER_LOST, /* the sync winner was evicted before it finished sending */
        EV_EXCLUDED,
        EV_DB_FAILED,
        EV_DISCONNECTED,
};

enum write_state {
        W_QUEUED,  /* waiting to be sent */
        W_SENT,    /* multicast, not yet applied here */
        W_APPLIED, /* applied here at res.version, waiting for every replica */
};

struct write {
        uint64_t id;
        struct op op; /* owned */
        enum write_state state;
        uint32_t sent_round;   /* the sync round it was sent in */
        uint64_t applied_usec; /* monotonic; when it was applied here */
        uint64_t commit_at;    /* version every replica must confirm */
        struct op_result res;
        uint64_t deadline_usec; /* monotonic */
        repl_done_fn done;      /* NULL once forgotten */
        void *userdata;
        struct write *next;
};

struct outmsg {
        struct msg_buf buf;
        struct write **ws; /* the writes an OP message carries (NULL once completed); owned array */
        size_t n_ws;
        struct outmsg *next;
};

struct peer {
        uint32_t nodeid, pid;
        bool have_state;
        struct msg_state st;
        uint32_t round; /* from its STATE in this view */
        enum sync_role role;
        bool installed;
        uint64_t acked;  /* highest version it confirmed in this view */
        bool evicted;    /* given up on for the rest of this view */
        bool evict_sent; /* this node asked for that already */
};

struct repl {
        qb_loop_t *loop;
        struct db *db;
        struct cs *cs; /* borrowed; NULL while disconnected */
        struct repl_config cfg;
        const struct repl_callbacks *cb;
        void *userdata;

        enum repl_state state;
        uint32_t my_nodeid, my_pid;
        uint64_t view;             /* hash of the current membership */
        uint32_t round;            /* incremented at every group change */
        uint64_t round_start_usec; /* monotonic */
        uint32_t *gone;            /* nodes whose corosync left with the last group change; owned */
        size_t n_gone;
        struct peer *peers; /* sorted by (nodeid, pid); owned */
        size_t n_peers;
        size_t winner;

        struct {
                uint8_t *data; /* owned */
                uint64_t size, filled, checksum;
                uint32_t count, next;
        } rx;

        bool in_batch;    /* a transaction is open for delivered ops */
        unsigned changed; /* REPL_CHANGED_* in the open batch */
        bool writable;
        uint64_t committed;
        uint64_t witness_version; /* the witness record holds at least this version */

        struct write *writes; /* FIFO, owned */
        size_t n_writes;
        uint64_t next_write_id;
        uint64_t next_seq; /* last origin_seq used */

        struct outmsg *out, *out_tail; /* FIFO, owned */
        qb_loop_timer_handle retry_timer;
        bool retry_armed;
        qb_loop_timer_handle tick_timer;

        int wake_fd; /* eventfd for flush_soon() */
        bool flush_armed;
        uint64_t last_ack_usec; /* monotonic; when the last ACK was queued */
        uint64_t acked_sent;    /* version that ACK carried */
        qb_loop_timer_handle ack_timer;
        bool ack_armed;
};

/* clusterd-repl.c */
void repl_transition(struct repl *r, enum repl_event ev);
/* Queues a message (taking b's buffer) with the writes it carries (taking
 * the ws array, may be NULL). */
void repl_enqueue(struct repl *r, struct msg_buf *b, struct write **ws, size_t n_ws);
/* Drops messages that were not handed to corosync yet; writes they carried
 * go back to the queue. */
void repl_drop_out(struct repl *r);
void repl_send_simple(struct repl *r, enum msg_type type, uint64_t value);
/* Sends every queued write, as few messages as fit. */
void repl_send_queued(struct repl *r);
/* Settles writes sent before the membership changed (after a sync round). */
void repl_resolve_writes(struct repl *r);
void repl_update_committed(struct repl *r);
void repl_update_writable(struct repl *r);
void repl_send_ack(struct repl *r);
void repl_end_batch(struct repl *r, bool ack);
/* The local database failed: rolls back, leaves REPL_FAILED and tells the
 * daemon through cb->failed. */
void repl_fail(struct repl *r, int error, const char *fmt, ...) _printf_(3, 4);

/* clusterd-repl-sync.c */
/* The peer (nodeid, pid) of the current view, or NULL. */
struct peer *repl_find_peer(struct repl *r, uint32_t nodeid, uint32_t pid);
/* Asks the group to stop waiting for members that do not answer in time. */
void repl_check_members(struct repl *r, uint64_t now);
void repl_on_state(struct repl *r, struct peer *p, const struct msg_header *h, const uint8_t *body, size_t size);
void repl_on_chunk(struct repl *r, struct peer *p, const uint8_t *body, size_t size);
void repl_on_installed(struct repl *r, struct peer *p);
void repl_on_evict(struct repl *r, struct peer *from, const uint8_t *body, size_t size);
