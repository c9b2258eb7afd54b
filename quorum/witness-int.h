/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-int.h: the witness as clusterd uses it: a URL and a credentials
 * file in, arbiter operations out. The witness runs each operation on a
 * worker thread of its own (the backends block) and hands the result back
 * through a file descriptor the daemon's loop polls, already translated
 * into what the arbiter takes: a parsed record, or why there is none.
 *
 * Also the text forms (quorum/witness-url.c): URLs, the credentials file,
 * the record and the object's name.
 */
#pragma once

#include "quorum/arbiter-int.h"
#include "quorum/backend-int.h"

#define WITNESS_URL_MAX 1000

/* Parses smb://HOST/SHARE[/FOLDER...] and
 * azure://ACCOUNT/CONTAINER[?endpoint=URL]. -EINVAL with a message naming
 * the part that is wrong; -EOPNOTSUPP for s3:// (not supported yet). */
int witness_url_parse(const char *url, struct witness_url *ret, struct err *e);

/* Reads the credentials file: `key = value` lines (username, password,
 * domain, account-key, sas), '#' comments. Refuses (-EPERM) a file not
 * owned by root or readable by group or others, and a symlink. */
int witness_credentials_read(const char *path, struct witness_credentials *ret, struct err *e);
/* The parser alone; path is for messages; text is modified. */
int witness_credentials_parse(const char *path, char *text, struct witness_credentials *ret, struct err *e);
void witness_credentials_wipe(struct witness_credentials *c);

/* The record's text form: a first line naming the format, then one
 * `key: value` line each for cluster (uuid), cluster-name, holder,
 * generation, lease-usec and position, in that order. The parser accepts
 * exactly what the formatter writes (-EBADMSG otherwise, saying which
 * line); cluster-name is informative and not returned. */
char *witness_record_format(const struct arbiter_record *r, const char *cluster_name);
int witness_record_parse(const char *text, struct arbiter_record *ret, struct err *e);

/* "clusterd-witness-NAME-UUID": the object (file, blob) of one cluster. */
int witness_object_name(const char *cluster_name, const char *cluster_uuid, char *buf, size_t size, struct err *e);

/* ------------------------------------------------------------------------ */
/* The worker                                                                */

struct witness;

struct witness_result {
        uint64_t op_id;
        enum arbiter_op op;
        enum arbiter_result result;
        struct arbiter_record record; /* READ and ARBITER_OK */
        uint64_t started_usec;        /* monotonic, when the worker began it */
        uint64_t finished_usec;
        char message[ARBITER_TEXT_MAX]; /* the backend's or parser's words, "" on success */
};

/* Parses url, reads the credentials and opens the backend; starts the
 * worker thread. object_name from witness_object_name. */
int witness_new(const char *url, const char *credentials_path, const char *object_name, const char *cluster_name,
                struct witness **ret, struct err *e);
/* Stops the worker (waits for an operation in flight: backends keep to
 * their timeouts) and frees everything. Accepts NULL; returns NULL. */
struct witness *witness_free(struct witness *w);

/* Readable when a result is waiting (an eventfd). */
int witness_fd(const struct witness *w);

/* Hands an operation to the worker. -EBUSY when one is still in flight
 * (the arbiter has at most one outstanding, but one it gave up on may
 * still be running; try again when its result came). */
int witness_start(struct witness *w, const struct arbiter_actions *a, uint64_t timeout_usec);

/* Takes the finished operation's result. -EAGAIN when none. */
int witness_take(struct witness *w, struct witness_result *ret);

/* "smb", "azure". */
const char *witness_scheme(const struct witness *w);
