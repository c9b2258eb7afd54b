/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * backend-int.h: the witness backends (an SMB3 share, Azure Blob Storage)
 * behind one table of blocking operations on one small object per cluster.
 *
 * The calls block: they run on the witness's own worker thread
 * (quorum/witness.c), never on the daemon's loop. One backend state is
 * used by one thread at a time. Every call returns within its timeout
 * (give or take a connect), and says how it ended as an arbiter_result;
 * the words for the status and the log go into e ("what was wrong,
 * where": the URL, the object, the server's answer).
 *
 * The compare-and-swap: every object version has a tag (an Azure ETag;
 * on SMB the generation in the file's name). A write names the tag it
 * replaces ("" to create only when there is no object) and the new
 * generation, and is refused (ARBITER_CONFLICT) when the object's tag is
 * another one by then. A write that returns ARBITER_OK was the only one
 * to replace that tag.
 */
#pragma once

#include "common/common.h"
#include "quorum/arbiter-int.h"

#define WITNESS_TAG_MAX 128
#define WITNESS_OBJECT_MAX 200  /* an object's name: "clusterd-witness-<cluster name>-<uuid>" */
#define WITNESS_RECORD_MAX 4096 /* the largest object a read accepts */

/* A parsed witness URL (quorum/witness-url.c). */
struct witness_url {
        char scheme[16];    /* "smb", "azure" */
        char host[256];     /* smb: the server; azure: the storage account */
        char share[256];    /* smb: the share; azure: the container */
        char path[512];     /* smb: a folder inside the share ("" for its root); azure: "" */
        char endpoint[512]; /* azure: the blob service's base URL, from ?endpoint= (default
                               https://ACCOUNT.blob.core.windows.net); smb: "" */
};

/* Credentials, from the root-only file the node config names. Backends
 * read what they need:
 *   smb:   username, password, domain (workgroup; may be empty)
 *   azure: account_key (base64, Shared Key) or sas (a SAS token, without the '?') */
struct witness_credentials {
        char username[256];
        char password[256];
        char domain[256];
        char account_key[256];
        char sas[1024];
};

struct witness_backend_ops {
        const char *scheme;
        /* Prepares a state for url (no I/O needed; it may connect lazily).
         * -EINVAL with a message for what the backend cannot use (missing
         * credentials, a bad key). */
        int (*open)(const struct witness_url *url, const struct witness_credentials *cred, void **ret_state,
                    struct err *e);
        void (*close)(void *state);
        /* Reads object `name`: ARBITER_OK with its content in *ret_text
         * (NUL-terminated, malloc'ed, at most WITNESS_RECORD_MAX bytes; more
         * is ARBITER_CORRUPT) and its tag in ret_tag; ARBITER_ABSENT when
         * there is none; else the error. */
        enum arbiter_result (*read)(void *state, const char *name, uint64_t timeout_usec, char **ret_text,
                                    char ret_tag[WITNESS_TAG_MAX], struct err *e);
        /* Writes `text` as object `name` (generation `generation`, which is
         * what the SMB backend names the file by) if its tag is still
         * expect_tag ("" : only if absent): ARBITER_OK with the new tag in
         * ret_tag, ARBITER_CONFLICT, or the error. */
        enum arbiter_result (*write)(void *state, const char *name, const char *expect_tag, uint64_t generation,
                                     const char *text, uint64_t timeout_usec, char ret_tag[WITNESS_TAG_MAX],
                                     struct err *e);
};

/* For backends: sets e (r, the message) and returns res, so that
 * `return witness_fail(e, ARBITER_DENIED, -EACCES, "...")` works. */
enum arbiter_result witness_fail(struct err *e, enum arbiter_result res, int r, const char *fmt, ...) _printf_(4, 5);

extern const struct witness_backend_ops witness_smb_ops;
extern const struct witness_backend_ops witness_azure_ops;
