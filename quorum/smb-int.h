/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * smb-int.h: what the SMB witness's two files share: the state of one
 * witness (a libsmbclient context and what it knows of its connection)
 * and the connection's side (witness-smb-conn.c) as the file side
 * (witness-smb.c) calls it.
 */
#pragma once

#include <pthread.h>
#include <signal.h>

#include <libsmbclient.h>

#include "quorum/backend-int.h"

#define SMB_TCP_PORT 445
#define SMB_EMPTY_RETRIES 3                      /* re-reads of an empty newest file */
#define SMB_EMPTY_WAIT_USEC (20 * USEC_PER_MSEC) /* between them */
#define SMB_LISTINGS_MAX 5                       /* when the newest file goes before it is opened */
#define SMB_KEEP_BELOW 2                         /* older generations a writer leaves for readers */
#define SMB_CLEANUP_MAX 32                       /* old generations one write unlinks; the rest next time */
#define SMB_GENERATION_DIGITS 20                 /* UINT64_MAX has 20 */
#define SMB_PENDING_TRIES 10                     /* operations that try to settle a write given up on */
#define SMB_TOP_MAX 4                            /* newest generations a read considers (abandoned ones are skipped) */

struct smb {
        SMBCCTX *ctx;                /* one libsmbclient context; its cached connection is reused */
        char *label;                 /* "smb://HOST/SHARE[/FOLDER]", for messages; owned */
        char *share_label;           /* "smb://HOST/SHARE"; owned */
        char *folder_url;            /* the folder as libsmbclient takes it (percent-encoded), ending in '/'; owned */
        char *share_url;             /* the share's root, likewise; owned */
        char *host_url;              /* the host as a URL has it (an IPv6 address in brackets); owned */
        char *probe_host;            /* the host for getaddrinfo (an IPv6 address without brackets); owned */
        char *username;              /* owned */
        char *password;              /* owned; wiped on close */
        char *domain;                /* owned; "" leaves libsmbclient's default workgroup */
        int timeout_ms;              /* libsmbclient's timeout for new connections and every request */
        bool connected;              /* requests got answers since the last purge: a connection is cached */
        bool stale;                  /* the cached connections are to be dropped once the server answers a probe */
        bool answered;               /* a request of the current operation got an answer */
        uint64_t answer_usec;        /* monotonic: when a request last got an answer */
        char *pending_name;          /* a write given up on after its create went out: its object, or NULL; owned */
        uint64_t pending_generation; /* ... its file's generation */
        char *pending_text;          /* ... and the text it was writing; owned */
        unsigned pending_tries;      /* operations that could not settle it yet */
};

/* libsmbclient writes to its sockets without MSG_NOSIGNAL; a server that
 * went away must not kill the process with SIGPIPE. The signal is blocked
 * on this thread for the call, and one it raised is taken back after. */
struct sigpipe_guard {
        sigset_t old_mask; /* to restore */
        bool was_pending;  /* a SIGPIPE was pending before: not ours to take */
};

/* A state for url with cred's user; -errno with a message. */
int wsmb_new(const struct witness_url *url, const struct witness_credentials *cred, struct smb **ret, struct err *e);
/* Frees s (NULL is fine), wiping the password. */
void wsmb_free(struct smb *s);

/* What every operation does first: the timeout for its requests, and the
 * server reached (see witness-smb-conn.c). */
enum arbiter_result wsmb_begin(struct smb *s, uint64_t timeout_usec, struct err *e);

/* The URL of NAME.G in the folder (caller frees); whether a folder entry
 * is NAME.G, and its G. */
char *wsmb_file_url(const struct smb *s, const char *name, uint64_t generation);
bool wsmb_entry_generation(const char *entry, const char *name, uint64_t *ret);

/* What errnum from libsmbclient, failing `doing`, means for the arbiter,
 * with the message in e; the folder's absence (ENOENT on opening it). */
enum arbiter_result wsmb_error(struct smb *s, int errnum, const char *doing, struct err *e);
enum arbiter_result wsmb_missing_folder(struct smb *s, struct err *e);

/* SIGPIPE blocked on this thread for the length of an operation. */
void wsmb_sigpipe_block(struct sigpipe_guard *g);
void wsmb_sigpipe_restore(struct sigpipe_guard *g);
