/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * arbiter-int.h: who holds the witness vote. One arbiter runs in the leader
 * of each partition and decides, from the results of operations on the
 * witness record, whether its partition holds the vote. The protocol and
 * its safety argument are in docs/witness.md; this header is the contract.
 *
 * The arbiter is pure: no I/O, no clock, no logging, no allocation after
 * arbiter_new. The caller (the witness adapter) feeds it events with the
 * local monotonic time, carries out what arbiter_step returns, and logs the
 * transition text. The same events at the same times always give the same
 * actions, which is what the simulator in tests/golden/ relies on.
 *
 * The witness is one record per cluster with compare-and-swap writes: a
 * write names the generation it expects to replace, and the witness refuses
 * it when the record has another (an SMB file rewritten under a lock after
 * checking its generation, an Azure blob written with If-Match on its ETag,
 * an S3 object with If-Match / If-None-Match). Backends map generations to
 * their own version tags; the arbiter sees only records.
 */
#pragma once

#include "common/common.h"

#define ARBITER_UUID_MAX 37 /* a uuid string and its NUL */
#define ARBITER_TEXT_MAX 256
#define ARBITER_LEASE_MAX_USEC USEC_PER_HOUR
#define ARBITER_DRIFT_MAX_PPM 100000 /* 10 %: beyond that the clock is broken, not slow */

/* A partition, named by its leader and the ring it leads. nodeid 0 is
 * nobody (a free record). */
struct arbiter_partition {
        uint32_t nodeid;   /* the leader's corosync node id */
        uint64_t ring_seq; /* the partition's totem ring sequence number */
};

/* A database position (docs/replication.md): epoch first, then version. */
struct arbiter_position {
        uint64_t epoch;
        uint64_t version;
};

/* The witness record, as the backends store it. */
struct arbiter_record {
        char cluster_uuid[ARBITER_UUID_MAX]; /* whose record: another cluster's is never touched */
        struct arbiter_partition holder;     /* nodeid 0: free */
        uint64_t generation;                 /* +1 on every successful write; >= 1 */
        uint64_t lease_usec;                 /* the holder's lease, what others must wait */
        struct arbiter_position position;    /* newest database position of any holder so far */
};

struct arbiter_config {
        char cluster_uuid[ARBITER_UUID_MAX];
        uint64_t lease_usec;      /* L: how long a write keeps others out */
        uint64_t renew_usec;      /* the holder rewrites the record this often; 0 = L / 3 */
        uint32_t drift_ppm;       /* rho: any clock's rate is within 1 +- rho of real time */
        uint64_t margin_usec;     /* M: slack for what happens after a decision (see witness.md) */
        uint64_t linger_usec;     /* how long a cast vote outlives its last poll (votequorum's device timeout) */
        uint64_t op_timeout_usec; /* an operation not answered this long is given up as unreachable */
        uint64_t retry_usec;      /* wait after a failed operation before the next one */
};

enum arbiter_state {
        ARBITER_IDLE,      /* not started, or stopped */
        ARBITER_WATCHING,  /* reading the record until it may be taken */
        ARBITER_ACQUIRING, /* a write taking the record is in flight */
        ARBITER_HOLDING,   /* took the record; holds the vote until the lease lapses */
        ARBITER_RELEASING, /* stopping: writing the record free */
};

enum arbiter_event_type {
        ARBITER_EV_START,     /* start contending: partition and position */
        ARBITER_EV_STOP,      /* give the vote up now and free the record if we hold it */
        ARBITER_EV_TICK,      /* wakeup_usec came (or any other reason to look at the time) */
        ARBITER_EV_RESULT,    /* the outstanding operation finished */
        ARBITER_EV_POSITION,  /* the local database reached a new position */
        ARBITER_EV_PARTITION, /* same leader, new ring: later writes carry the new name */
};

/* How a witness operation ended, as the adapter translates it. */
enum arbiter_result {
        ARBITER_OK,          /* READ: the record is in `record`; WRITE: written */
        ARBITER_ABSENT,      /* READ: there is no record (yet) */
        ARBITER_CONFLICT,    /* WRITE: the record's generation was not the expected one */
        ARBITER_UNREACHABLE, /* no answer: connection failed, name not resolved, timed out */
        ARBITER_FAILED,      /* answered with a server error (HTTP 5xx, SMB internal error) */
        ARBITER_DENIED,      /* refused: permission denied, read-only share, wrong credentials */
        ARBITER_CORRUPT,     /* READ: the content is not a record */
};

struct arbiter_event {
        enum arbiter_event_type type;
        struct arbiter_partition partition;  /* START, PARTITION */
        struct arbiter_position position;    /* START, POSITION: the local database's */
        uint64_t op_id;                      /* RESULT: the op_id of the operation it answers */
        enum arbiter_result result;          /* RESULT */
        const struct arbiter_record *record; /* RESULT of a READ that is ARBITER_OK; borrowed */
        int error;                           /* RESULT: -errno for the status (0: derived from result) */
        const char *message;                 /* RESULT: the backend's words for the status; borrowed, may be NULL */
};

enum arbiter_op {
        ARBITER_OP_NONE,
        ARBITER_OP_READ,
        ARBITER_OP_WRITE,
};

/* What the caller does after a step, in this order: apply the vote to
 * votequorum (before any operation starts: a release is written only once
 * the vote is down), start the operation if any, and step again with
 * ARBITER_EV_TICK at wakeup_usec at the latest. */
struct arbiter_actions {
        bool vote;                         /* cast the witness vote now */
        uint64_t vote_until_usec;          /* with vote: never cast it at or after this local time */
        enum arbiter_op op;                /* start this operation now; at most one is in flight */
        uint64_t op_id;                    /* hand back in the ARBITER_EV_RESULT */
        uint64_t op_deadline_usec;         /* the arbiter treats it as unreachable from then on */
        uint64_t expect_generation;        /* WRITE: the generation it replaces; 0: only if no record exists */
        struct arbiter_record record;      /* WRITE: the new record */
        uint64_t wakeup_usec;              /* step again then at the latest; UINT64_MAX: no need */
        char transition[ARBITER_TEXT_MAX]; /* "from -> to (event)", or "" when the state stayed */
        char reason[ARBITER_TEXT_MAX];     /* why, when something changed; for the log */
};

/* Whether the witness answers, for the status page. */
enum arbiter_health {
        ARBITER_HEALTH_UNKNOWN,     /* no operation has finished yet */
        ARBITER_HEALTH_OK,          /* the last operation was answered as expected */
        ARBITER_HEALTH_UNREACHABLE, /* no answer */
        ARBITER_HEALTH_FAILING,     /* answers with server errors */
        ARBITER_HEALTH_REFUSED,     /* answers, but refuses us (permissions, read-only) */
        ARBITER_HEALTH_FOREIGN,     /* holds another cluster's record */
        ARBITER_HEALTH_CORRUPT,     /* holds something that is not a record */
};

struct arbiter_status {
        enum arbiter_state state;
        enum arbiter_health health;
        bool reachable;                         /* the last operation got an answer (any answer) */
        bool vote;                              /* at the time given to arbiter_get_status */
        bool behind;                            /* our database is older than the record's: we may not take it */
        bool known;                             /* holder, generation, position below are known */
        struct arbiter_partition holder;        /* last known holder (nodeid 0: free) */
        uint64_t generation;                    /* last known generation */
        struct arbiter_position position;       /* the last known record's position */
        uint64_t holder_seen_usec;              /* when we first saw that generation (monotonic) */
        uint64_t last_renewal_usec;             /* start of our last successful write, 0: none */
        uint64_t vote_until_usec;               /* when the vote lapses without a renewal */
        int last_error;                         /* -errno of the last failure, 0: none */
        uint64_t last_error_usec;               /* when (monotonic) */
        char last_error_text[ARBITER_TEXT_MAX]; /* "" when none */
};

struct arbiter;

/* Fills in the defaults for what a config leaves 0: renew (L / 3), op
 * timeout (L / 6), retry (L / 10). */
void arbiter_config_defaults(struct arbiter_config *cfg);

/* Checks a config: a uuid, 1 ms <= lease <= ARBITER_LEASE_MAX_USEC, drift
 * <= ARBITER_DRIFT_MAX_PPM, and a holder must be able to renew before its
 * vote lapses: renew + op_timeout < arbiter_hold_usec(cfg). Returns 0 or
 * -EINVAL with the reason in e (which may be NULL). */
int arbiter_config_check(const struct arbiter_config *cfg, struct err *e);

/* How long after the start of a successful write its writer may count the
 * vote: L * (1 - rho) - M - linger, rounded down; 0 if that is negative. */
uint64_t arbiter_hold_usec(const struct arbiter_config *cfg);

/* How long a contender must see a generation unchanged, counted from the
 * answer that showed it, before it may replace it: max(L, record's lease)
 * * (1 + rho) + M, rounded up. */
uint64_t arbiter_wait_usec(const struct arbiter_config *cfg, uint64_t record_lease_usec);

/* A new idle arbiter with a checked copy of cfg (defaults filled in).
 * -EINVAL when arbiter_config_check refuses it (e says why). The caller
 * owns *ret and frees it with arbiter_free. */
int arbiter_new(const struct arbiter_config *cfg, struct arbiter **ret, struct err *e);

/* Frees a (NULL is fine); returns NULL. The vote is not given up by
 * freeing: the caller must have applied a step's vote = false first, or let
 * votequorum's device timeout take it. */
struct arbiter *arbiter_free(struct arbiter *a);

/* The transition function: takes one event at local monotonic now_usec
 * (never earlier than a previous step's) and writes what to do into
 * *ret_actions. Returns 0, or -EINVAL for an event that makes no sense (an
 * unknown type, a RESULT of ARBITER_OK for a READ without a record, time
 * going backwards), in which case nothing changed and *ret_actions is
 * untouched. A RESULT for an operation that is no longer outstanding (it
 * was given up as timed out, or the arbiter was stopped since) is ignored:
 * its answer came too late to be trusted with a start time. op_ids are
 * unique per arbiter only: answers to operations of a freed arbiter must
 * never reach a new one. START is ignored unless the arbiter is idle (a
 * stop that is still releasing must finish first). */
int arbiter_step(struct arbiter *a, const struct arbiter_event *ev, uint64_t now_usec,
                 struct arbiter_actions *ret_actions);

/* Whether the vote is held at local time now_usec, without a step: what a
 * poll of votequorum must use when it happens between steps. */
bool arbiter_vote(const struct arbiter *a, uint64_t now_usec);

/* The status at now_usec, for clusterctl and the REST API. */
void arbiter_get_status(const struct arbiter *a, uint64_t now_usec, struct arbiter_status *ret);

/* "idle", "watching", "acquiring", "holding", "releasing"; static. */
const char *arbiter_state_to_string(enum arbiter_state s);
/* "ok", "absent", "conflict", "unreachable", "failed", "denied", "corrupt"; static. */
const char *arbiter_result_to_string(enum arbiter_result r);
/* "unknown", "ok", "unreachable", "failing", "refused", "foreign", "corrupt"; static. */
const char *arbiter_health_to_string(enum arbiter_health h);

/* Whether position a is at least as new as b (epoch first, then version). */
bool arbiter_position_ge(const struct arbiter_position *a, const struct arbiter_position *b);
