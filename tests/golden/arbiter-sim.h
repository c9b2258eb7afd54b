/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arbiter-sim.h: a partition simulator for the witness arbiter. Several
 * partitions, each with the real arbiter (quorum/quorum-arbiter.c) and its
 * own clock, share one simulated witness: an in-memory record with
 * compare-and-swap writes. Links to the witness can be cut, slowed, made
 * to answer with server errors or to lose answers, one partition at a
 * time; the witness can turn read-only, refuse access, fail, hold
 * another cluster's record or garbage, or lose its record. Processes can
 * be frozen (a stopped clusterd whose last vote lingers in votequorum),
 * crashed and restarted.
 *
 * Time is real time T in microseconds, driven event by event (no fixed
 * tick): every instant at which anything can change is visited, so the
 * checker sees every overlap however short. Partition p's clock reads
 * offset_p + T * (1 + ppm_p / 1e6).
 *
 * The checker, at every visited instant:
 *  - at most one partition holds the vote, counting a frozen process's
 *    last cast vote until votequorum would drop it (its poll + linger);
 *  - a partition that holds the vote has a database at least as new as
 *    the newest position the witness ever recorded;
 *  - when the witness accepts a write that makes another partition the
 *    holder, the previous holder no longer holds the vote (it gave up
 *    before the record could be taken), and the record's position never
 *    goes back.
 * Used by tests/golden/golden-arbiter.c (scripted cases) and
 * tests/unit/test-arbiter.c (seeded random runs).
 */
#pragma once

#include "quorum/arbiter-int.h"

#define SIM_PARTS_MAX 8
#define SIM_MSGS_MAX 16 /* requests of one partition still in the network */
#define SIM_NAME_MAX 16

enum sim_link {
        SIM_LINK_OK,
        SIM_LINK_DOWN,       /* requests are lost: no answer ever */
        SIM_LINK_5XX,        /* the witness answers with a server error, changes nothing */
        SIM_LINK_LOSE_REPLY, /* requests are carried out, answers are lost */
};

enum sim_witness_fault {
        SIM_WITNESS_OK,
        SIM_WITNESS_READ_ONLY, /* reads work, writes are denied */
        SIM_WITNESS_DENIED,    /* everything denied (wrong credentials) */
        SIM_WITNESS_5XX,       /* everything fails with a server error */
};

enum sim_content {
        SIM_CONTENT_ABSENT,
        SIM_CONTENT_RECORD,
        SIM_CONTENT_CORRUPT, /* not a record: reads report corrupt, writes fail */
};

struct sim_msg {
        bool used;
        uint64_t op_id;
        enum arbiter_op op;
        uint64_t expect_generation;
        struct arbiter_record record; /* WRITE: contents */
        uint64_t arrive_usec;         /* real time it reaches the witness */
        bool arrived;
        bool lost_request;   /* link down: never arrives */
        bool lost_reply;     /* carried out, answer lost */
        bool force_5xx;      /* the link answers with a server error */
        uint64_t reply_usec; /* real time the answer reaches the partition */
        enum arbiter_result result;
        struct arbiter_record reply; /* READ: what was read */
};

struct sim_part {
        char name[SIM_NAME_MAX];
        struct arbiter *arb; /* owned; NULL: not started or crashed */
        struct arbiter_partition id;
        struct arbiter_position pos; /* its database */
        int64_t offset_usec;         /* its clock at T = 0 */
        int32_t ppm;                 /* its clock's rate error */
        enum sim_link link;
        uint64_t delay_min_usec, delay_max_usec; /* one way */
        bool frozen;                             /* no steps; the last cast vote lingers */
        bool vote;                               /* the last step's vote (what votequorum was told) */
        uint64_t cast_local_usec;                /* local time of the last step that cast the vote */
        uint64_t wakeup_local_usec;
        struct sim_msg msgs[SIM_MSGS_MAX];
        uint64_t vote_total_usec; /* real time spent holding, for the summary */
        unsigned acquisitions;
        bool effective;              /* holds the vote at the current instant (checker) */
        uint64_t linger_until_local; /* frozen or crashed: its last vote counts until then; 0: none */
};

typedef void (*sim_log_fn)(void *userdata, uint64_t t_usec, const char *who, const char *text);

struct sim {
        struct arbiter_config cfg;
        struct sim_part parts[SIM_PARTS_MAX];
        size_t n_parts;
        uint64_t now_usec; /* real time */
        enum sim_witness_fault fault;
        enum sim_content content;
        struct arbiter_record record;         /* with SIM_CONTENT_RECORD */
        struct arbiter_position max_recorded; /* newest position the witness ever held */
        uint64_t rng;                         /* for random delays; 0: always the minimum */
        sim_log_fn log;                       /* transitions, vote changes, violations; may be NULL */
        void *log_userdata;
        bool log_ops; /* also log every operation and answer */
        unsigned violations;
        char first_violation[256];
        unsigned writes_applied;
        uint64_t instants; /* visited, for the curious */
        int writer;        /* the partition whose write made the current record, -1: none */
};

/* Sets up an empty simulation with cfg (which must pass
 * arbiter_config_check once defaults are filled in); no partitions, no
 * record. */
void sim_init(struct sim *s, const struct arbiter_config *cfg);
/* Frees the partitions' arbiters. */
void sim_done(struct sim *s);

/* Adds a partition; returns its index or -ENOSPC. */
int sim_add_part(struct sim *s, const char *name, struct arbiter_partition id, struct arbiter_position pos,
                 int64_t offset_usec, int32_t ppm);
/* Index of the partition called name, or -ENOENT. */
int sim_find_part(const struct sim *s, const char *name);

/* What the script (or a random run) does to the world, at now_usec. */
int sim_start(struct sim *s, size_t p);
void sim_stop(struct sim *s, size_t p);
void sim_crash(struct sim *s, size_t p);
void sim_freeze(struct sim *s, size_t p, bool frozen);
void sim_set_position(struct sim *s, size_t p, struct arbiter_position pos);
void sim_set_ring(struct sim *s, size_t p, uint64_t ring_seq);
void sim_set_link(struct sim *s, size_t p, enum sim_link link, uint64_t delay_min_usec, uint64_t delay_max_usec);
void sim_set_witness(struct sim *s, enum sim_witness_fault fault);
/* Replaces the witness's content (an operator or another cluster at work). */
void sim_set_content(struct sim *s, enum sim_content content, const struct arbiter_record *record);

/* Advances real time to t_usec, visiting every instant in between at which
 * something happens. */
void sim_run_until(struct sim *s, uint64_t t_usec);

/* The partition's local clock at real time t. */
uint64_t sim_local_usec(const struct sim_part *p, uint64_t t_usec);

/* Index of the partition holding the vote now, or -1. */
int sim_holder(const struct sim *s);

const char *sim_link_to_string(enum sim_link l);
