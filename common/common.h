/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * common.h: the small library shared by clusterd and clusterctl.
 *
 * Nothing in here logs, talks to corosync or keeps global state. Functions
 * follow the project's one error convention: an int that is >= 0 on success
 * and -errno on failure. Where a caller must be able to tell a user *what*
 * was wrong, functions also take a `struct err *` and fill in a message.
 * Output parameters are named ret_* and are written only on success.
 */
#pragma once

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

/* ------------------------------------------------------------------------ */
/* Macros                                                                   */
/* ------------------------------------------------------------------------ */

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _pure_ __attribute__((pure))
#define _warn_unused_result_ __attribute__((warn_unused_result))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* Hand ownership of a pointer (or fd) over: returns it and clears the
 * variable so that its cleanup attribute does nothing. */
#define TAKE_PTR(p)                                                                                                    \
        ({                                                                                                             \
                __typeof__(p) _p_ = (p);                                                                               \
                (p) = NULL;                                                                                            \
                _p_;                                                                                                   \
        })
#define TAKE_FD(fd)                                                                                                    \
        ({                                                                                                             \
                int _fd_ = (fd);                                                                                       \
                (fd) = -1;                                                                                             \
                _fd_;                                                                                                  \
        })

#define USEC_PER_MSEC UINT64_C(1000)
#define USEC_PER_SEC UINT64_C(1000000)
#define USEC_PER_MINUTE (UINT64_C(60) * USEC_PER_SEC)
#define USEC_PER_HOUR (UINT64_C(60) * USEC_PER_MINUTE)
#define USEC_PER_DAY (UINT64_C(24) * USEC_PER_HOUR)
#define NSEC_PER_USEC UINT64_C(1000)

static inline bool streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}

static inline bool streq_ptr(const char *a, const char *b) {
        if (!a || !b)
                return a == b;
        return strcmp(a, b) == 0;
}

/* Returns the rest of s after prefix, or NULL when s does not start with it. */
static inline const char *startswith(const char *s, const char *prefix) {
        size_t l = strlen(prefix);
        return strncmp(s, prefix, l) == 0 ? s + l : NULL;
}

static inline const char *strempty(const char *s) {
        return s ? s : "";
}

static inline const char *yes_no(bool b) {
        return b ? "yes" : "no";
}

static inline void *mfree(void *p) {
        free(p);
        return NULL;
}

/* free() and clear in one step. */
#define free_and_null(p) ((p) = mfree(p))

/* Closes fd if it is valid and returns -1, so that `fd = safe_close(fd);`
 * closes and clears in one step. Keeps errno. */
int safe_close(int fd);

static inline void freep(void *p) {
        free(*(void **)p);
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
static inline void json_object_putp(json_object **o) {
        if (*o)
                json_object_put(*o);
}

#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)
#define _cleanup_json_ _cleanup_(json_object_putp)

/* Allocation failure is not something a daemon can report over the network
 * in any useful way; these abort with a message instead of returning NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* ------------------------------------------------------------------------ */
/* Errors with a message                                                     */
/* ------------------------------------------------------------------------ */

/* A negative errno plus a message a person can act on ("field 'value':
 * expected an integer, got \"abc\""). Filled in by err_set(); callers may
 * pass NULL when they only want the code. */
struct err {
        int code;      /* -errno, 0 when unset */
        char msg[512]; /* NUL-terminated, empty when unset */
};

/* Records r (a negative errno) and a formatted message in e (which may be
 * NULL) and returns r, so that `return err_set(e, -EINVAL, "...")` works.
 * If e already holds a message the new one is prefixed to it, joined with
 * ": ", which lets callers add context on the way up. */
int err_set(struct err *e, int r, const char *fmt, ...) _printf_(3, 4);

/* Clears e. */
void err_clear(struct err *e);

/* ------------------------------------------------------------------------ */
/* Parsing and formatting of human values                                    */
/* ------------------------------------------------------------------------ */

/* "250ms", "10s", "1.5s", "2m", "1h", "1d", or a bare number of seconds.
 * Combinations like "1m30s" are accepted. Returns -EINVAL on junk and
 * -ERANGE on overflow. */
int parse_duration_usec(const char *s, uint64_t *ret_usec);

/* "512", "64KiB", "1MiB", "2GiB", "1K", "1M", "1G" (binary units).
 * Returns -EINVAL on junk and -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *ret_bytes);

/* Decimal integers without sign (parse_uint64) or with (parse_int64); no
 * leading/trailing junk, no empty string. -EINVAL or -ERANGE. */
int parse_uint64(const char *s, uint64_t *ret);
int parse_int64(const char *s, int64_t *ret);
int parse_uint32(const char *s, uint32_t *ret);

/* "yes/no", "true/false", "on/off", "1/0" (case-insensitive): returns 1 or
 * 0, or -EINVAL. */
int parse_bool(const char *s);

/* Writes "1h30m", "250ms", "0" etc. into buf; returns buf. */
char *format_duration(char *buf, size_t size, uint64_t usec);

/* Writes "1MiB", "512B" etc. into buf; returns buf. */
char *format_size(char *buf, size_t size, uint64_t bytes);

/* Whether s (n bytes) is well-formed UTF-8: no overlong forms, no
 * surrogates, nothing above U+10FFFF. */
bool utf8_is_valid(const char *s, size_t n);

/* Valid names for nodes, clusters, tokens: 1..63 characters of [A-Za-z0-9_-]
 * beginning with a letter or digit (what corosync and DNS labels accept). */
bool name_is_valid(const char *s);

/* ------------------------------------------------------------------------ */
/* Time                                                                      */
/* ------------------------------------------------------------------------ */

uint64_t now_monotonic_usec(void);
uint64_t now_realtime_usec(void);

#define TIMESTAMP_MAX 64
/* RFC 3339 in UTC with milliseconds: "2026-11-21T12:50:56.112Z". */
char *format_timestamp(char buf[TIMESTAMP_MAX], uint64_t realtime_usec);
/* Accepts what format_timestamp writes and also second precision. */
int parse_timestamp(const char *s, uint64_t *ret_realtime_usec);

/* ------------------------------------------------------------------------ */
/* JSON                                                                      */
/* ------------------------------------------------------------------------ */

/* Parses a request or response body strictly: the whole of data (which need
 * not be NUL-terminated) must be one JSON object, nesting at most 32 deep.
 * On failure e says where ("offset 17: unexpected character"). The caller
 * owns *ret. */
int json_parse_object(const char *data, size_t size, json_object **ret, struct err *e);

/* Typed field access with clear errors. `what` names the object for the
 * message ("body", "node"). Absent optional fields leave *ret untouched and
 * return 0; absent required fields fail with -EINVAL. Returned strings are
 * owned by the json object. */
int json_get_string(json_object *o, const char *key, bool required, const char **ret, struct err *e);
int json_get_int64(json_object *o, const char *key, bool required, int64_t *ret, struct err *e);
int json_get_bool(json_object *o, const char *key, bool required, bool *ret, struct err *e);
int json_get_array(json_object *o, const char *key, bool required, json_object **ret, struct err *e);
int json_get_object(json_object *o, const char *key, bool required, json_object **ret, struct err *e);

/* Fails with a message naming the first key of o that is not in `allowed`
 * (a NULL-terminated list): unknown fields are refused, not ignored. */
int json_check_keys(json_object *o, const char *const *allowed, struct err *e);

/* Adds key -> value (json_object_new_*) to o; helpers for building replies. */
void json_add_string(json_object *o, const char *key, const char *value);
void json_add_int(json_object *o, const char *key, int64_t value);
void json_add_bool(json_object *o, const char *key, bool value);
void json_add_timestamp(json_object *o, const char *key, uint64_t realtime_usec);

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

/* Reads a whole file of at most max_size bytes; the result is NUL-terminated
 * (the NUL is not counted in *ret_size). -EFBIG when larger. Caller frees. */
int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size);

/* Writes data to path atomically and durably: a temporary file in the same
 * directory with the given mode, fsync, rename over path, fsync of the
 * directory. Readers see the old or the new content, never a mix. */
int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode);

/* Removes path and, for a directory, everything below it (without
 * following symlinks). A missing path is fine. */
int rm_rf(const char *path);

/* mkdir -p; existing directories are fine. */
int mkdir_p(const char *path, mode_t mode);

/* ------------------------------------------------------------------------ */
/* Encodings, hashes, randomness                                             */
/* ------------------------------------------------------------------------ */

/* Standard base64 with padding. Caller frees the result. */
char *base64_encode(const void *data, size_t size);
/* Returns -EINVAL on bad input. Caller frees *ret. */
int base64_decode(const char *s, void **ret, size_t *ret_size);

/* Lowercase hex; buf must hold 2*size+1 bytes. Returns buf. */
char *hex_encode(char *buf, const void *data, size_t size);
/* Exactly 2*size hex digits. -EINVAL otherwise. */
int hex_decode(const char *s, void *buf, size_t size);

/* SipHash-2-4 with a 128-bit key given as two words. Used for the
 * replicated state's chained hash, where it detects divergence; it is not
 * an authentication code here. */
uint64_t siphash24(uint64_t k0, uint64_t k1, const void *data, size_t size);

/* Fills buf from the kernel's CSPRNG (getrandom). */
int random_bytes(void *buf, size_t size);

/* A random string of `len` characters from [a-z0-9] into buf (len+1 bytes). */
int random_string(char *buf, size_t len);

/* ------------------------------------------------------------------------ */
/* String vectors (NULL-terminated arrays of owned strings)                  */
/* ------------------------------------------------------------------------ */

size_t strv_length(char *const *l);
char **strv_free(char **l);
static inline void strv_freep(char ***l) {
        strv_free(*l);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)
/* Appends a copy of s; *l may be NULL. */
void strv_push(char ***l, const char *s);
char **strv_copy(char *const *l);
bool strv_contains(char *const *l, const char *s);
bool strv_equal(char *const *a, char *const *b);

/* ------------------------------------------------------------------------ */
/* TLS helpers shared by daemon and CLI (GnuTLS)                              */
/* ------------------------------------------------------------------------ */

#define CA_HASH_MAX 80
/* "sha256:<64 hex digits>" of the SubjectPublicKeyInfo of the (first)
 * certificate in pem. This is what an operator copies to "cluster join"
 * to pin the cluster's CA. -EINVAL for an unparsable certificate. */
int ca_hash_from_pem(const char *pem, char ret[CA_HASH_MAX]);

/* SHA-256 of data into out (32 bytes). */
void sha256(const void *data, size_t size, uint8_t out[32]);

/* Constant-time comparison of two buffers of equal length. */
bool memeq_consttime(const void *a, const void *b, size_t size);
