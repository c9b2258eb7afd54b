/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-smb-conn.c: the SMB witness's connection to its server
 * (smb-int.h): setting libsmbclient up, reaching the server within an
 * operation's time, and what its errors mean.
 *
 * Connections. One libsmbclient context per state keeps its connection to
 * the server between operations. libsmbclient's own connect ignores its
 * timeout (5 s here against a server that drops packets; its source
 * allows 20), and a cached connection to a server that stopped answering
 * costs a timeout per request, the final tree disconnect included. So an
 * operation first connects to port 445 itself, within its timeout,
 * whenever no connection is known to work or the cached one has been
 * quiet for a timeout; a connection to a server that did not answer is
 * dropped only once a probe found the server again; and libsmbclient's
 * own check of a cached connection (an echo) is off: a connection the
 * server closed fails the first request at once, and the operation is
 * tried again on a new one. Every other error drops the connection too.
 * SMB3 is required (SMB 3.0 to 3.1.1), signing too, and encryption is
 * used where the server offers it; neither Kerberos, nor a guest or
 * anonymous logon when the password is refused.
 *
 * What libsmbclient forces on the process: it reads the host's smb.conf
 * (read only), its protocol limits are process-wide settings (every state
 * sets the same), and its debug output goes to a process-wide callback,
 * which here drops it. It is not thread-safe (smbc_thread_posix is not
 * exported): all states must be used by one thread at a time,
 * process-wide. SIGPIPE is blocked on the calling thread during an
 * operation.
 */
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "quorum/smb-int.h"

static void wipe_free(char *s) {
        if (!s)
                return;
        explicit_bzero(s, strlen(s));
        free(s);
}

/* ------------------------------------------------------------------------ */
/* Names and URLs                                                            */

static bool is_unreserved(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~/", c);
}

/* s percent-encoded except for unreserved characters and '/': libsmbclient
 * decodes the path of a URL, so a '%' or a space must not reach it raw. */
static char *url_encode(const char *s) {
        size_t n = strlen(s);
        char *enc = xmalloc(3 * n + 1), *o = enc;

        for (size_t i = 0; i < n; i++) {
                if (is_unreserved(s[i]))
                        *o++ = s[i];
                else
                        o += sprintf(o, "%%%02X", (unsigned)(unsigned char)s[i]);
        }
        *o = '\0';
        return enc;
}

/* The generation in a folder entry named NAME.G, or false for any other
 * entry (another object, leading zeros, more digits than a uint64_t). */
bool wsmb_entry_generation(const char *entry, const char *name, uint64_t *ret) {
        const char *p = startswith(entry, name);
        uint64_t g;

        if (!p || *p != '.')
                return false;
        p++;
        if (*p < '1' || *p > '9' || strlen(p) > SMB_GENERATION_DIGITS)
                return false;
        if (parse_uint64(p, &g) < 0)
                return false;
        *ret = g;
        return true;
}

char *wsmb_file_url(const struct smb *s, const char *name, uint64_t generation) {
        _cleanup_free_ char *enc = url_encode(name);
        return xasprintf("%s%s.%" PRIu64, s->folder_url, enc, generation);
}

/* ------------------------------------------------------------------------ */
/* libsmbclient glue                                                         */

/* libsmbclient asks for credentials whenever it logs on. */
static void auth_data(SMBCCTX *c, const char *server, const char *share, char *workgroup, int workgroup_size,
                      char *username, int username_size, char *password, int password_size) {
        const struct smb *s = smbc_getOptionUserData(c);

        if (!s || workgroup_size <= 0 || username_size <= 0 || password_size <= 0)
                return;
        if (s->domain[0])
                snprintf(workgroup, (size_t)workgroup_size, "%s", s->domain);
        snprintf(username, (size_t)username_size, "%s", s->username);
        snprintf(password, (size_t)password_size, "%s", s->password);
}

/* libsmbclient checks a cached connection with an echo before it reuses
 * it (at most once per timeout). On a server that stopped answering, that
 * echo, the tree disconnect that then tears the connection down, and the
 * reconnect each wait up to a timeout. Without the check a dead
 * connection fails the first request instead: at once where the server
 * closed it (the operation is then tried again on a new one, see
 * try_again), after one timeout where it hangs. */
static int check_server(SMBCCTX *c, SMBCSRV *server) {
        return 0; /* "good" */
}

/* libsmbclient's debug output would go to stdout; the caller logs. */
static void drop_debug(void *userdata, int level, const char *msg) {
}

/* Drops libsmbclient's cached connections: the next operation connects
 * anew (and probes first). libsmbclient says goodbye on each (a tree
 * disconnect, waiting up to a timeout for the answer), so a connection to
 * a server that does not answer is only marked here, and dropped when a
 * probe has found the server again (drop_stale). */
static void purge(struct smb *s) {
        smbc_getFunctionPurgeCachedServers(s->ctx)(s->ctx);
        s->connected = false;
        s->stale = false;
}

static void mark_stale(struct smb *s) {
        s->connected = false;
        s->stale = true;
}

static void drop_stale(struct smb *s) {
        if (s->stale)
                purge(s);
}

void wsmb_sigpipe_block(struct sigpipe_guard *g) {
        sigset_t set, pending;

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, &g->old_mask);
        g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

void wsmb_sigpipe_restore(struct sigpipe_guard *g) {
        static const struct timespec zero = { 0, 0 };
        sigset_t set, pending;

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        if (!g->was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
                (void)sigtimedwait(&set, NULL, &zero);
        pthread_sigmask(SIG_SETMASK, &g->old_mask, NULL);
}

/* ------------------------------------------------------------------------ */
/* Errors                                                                    */

static bool errno_is_unreachable(int errnum) {
        switch (errnum) {
        case ETIMEDOUT:
        case ECONNREFUSED:
        case EHOSTUNREACH:
        case EHOSTDOWN:
        case ENETUNREACH:
        case ENETDOWN:
        case ENETRESET:
        case ECONNABORTED: /* NT_STATUS_CONNECTION_DISCONNECTED */
        case ECONNRESET:
        case ESHUTDOWN:
        case EPIPE:
        case ENOTCONN:
        case EADDRNOTAVAIL:
                return true;
        default:
                return false;
        }
}

enum refusal {
        REFUSED_LOGON, /* the user name or password */
        REFUSED_SHARE, /* the share, to this user */
        REFUSED_FILE,  /* the file or folder: permissions, a read-only share */
};

/* Who refused us, asked after an EACCES on a new connection, where
 * libsmbclient does not say whether the logon, the share or the file
 * refused: opening the server itself logs on (and connects to IPC$)
 * without the share; opening the share's root connects to the share. */
static enum refusal who_refused(struct smb *s) {
        _cleanup_free_ char *server_url = xasprintf("smb://%s/", s->host_url);
        enum refusal who = REFUSED_FILE;
        SMBCFILE *d;

        errno = 0;
        d = smbc_getFunctionOpendir(s->ctx)(s->ctx, server_url);
        if (d)
                smbc_getFunctionClosedir(s->ctx)(s->ctx, d);
        else if (errno == EACCES)
                who = REFUSED_LOGON;
        if (who == REFUSED_FILE) {
                errno = 0;
                d = smbc_getFunctionOpendir(s->ctx)(s->ctx, s->share_url);
                if (d)
                        smbc_getFunctionClosedir(s->ctx)(s->ctx, d);
                else if (errno == EACCES)
                        who = REFUSED_SHARE;
        }
        purge(s);
        return who;
}

/* Translates errnum from libsmbclient, which failed `doing` ("creating
 * smb://.../x.3"). Every error drops the cached connection: libsmbclient
 * keeps using a connection whose share the server has closed (every
 * request then fails with EINVAL), and a new one costs little.
 * libsmbclient reports a refused logon as EACCES (older versions: EPERM,
 * which no NT status maps to), like any other denial. */
enum arbiter_result wsmb_error(struct smb *s, int errnum, const char *doing, struct err *e) {
        enum refusal who = REFUSED_FILE;

        if (errnum == 0)
                errnum = EIO;
        if (errnum == EPERM)
                who = REFUSED_LOGON;
        else if (errnum == EACCES && !s->connected)
                who = who_refused(s);

        if (errno_is_unreachable(errnum)) {
                mark_stale(s);
                return witness_fail(e, ARBITER_UNREACHABLE, -errnum, "%s: %s", doing, strerror(errnum));
        }
        purge(s);
        if (who == REFUSED_LOGON)
                return witness_fail(e, ARBITER_DENIED, -EACCES,
                                    "wrong user name or password for %s: the server refused the logon of user '%s'",
                                    s->share_label, s->username);
        if (who == REFUSED_SHARE)
                return witness_fail(e, ARBITER_DENIED, -EACCES, "%s: the server does not let user '%s' use the share",
                                    s->share_label, s->username);
        switch (errnum) {
        case EACCES:
                return witness_fail(e, ARBITER_DENIED, -EACCES,
                                    "%s: permission denied (the share is read-only, or user '%s' may not write there)",
                                    doing, s->username);
        case EROFS:
                return witness_fail(e, ARBITER_DENIED, -EROFS, "%s: the share is read-only", doing);
        default:
                return witness_fail(e, ARBITER_FAILED, -errnum, "%s: %s", doing, strerror(errnum));
        }
}

/* The folder could not be opened with ENOENT: says whether the share or
 * the folder is missing. Either way the witness is not where the URL says:
 * ARBITER_UNREACHABLE, as for a server that is not there. */
enum arbiter_result wsmb_missing_folder(struct smb *s, struct err *e) {
        if (!streq(s->folder_url, s->share_url)) {
                SMBCFILE *d;

                errno = 0;
                d = smbc_getFunctionOpendir(s->ctx)(s->ctx, s->share_url);
                if (d) {
                        smbc_getFunctionClosedir(s->ctx)(s->ctx, d);
                        return witness_fail(e, ARBITER_UNREACHABLE, -ENOENT,
                                            "%s: the folder does not exist on the share", s->label);
                }
                int errnum = errno;
                if (errnum != ENOENT) {
                        _cleanup_free_ char *doing = xasprintf("listing %s", s->share_label);
                        return wsmb_error(s, errnum, doing, e);
                }
        }
        purge(s);
        return witness_fail(e, ARBITER_UNREACHABLE, -ENOENT, "%s: the server has no such share", s->share_label);
}

/* ------------------------------------------------------------------------ */
/* Reaching the server                                                       */

/* Connects to the server's port 445 and hangs up, within timeout_usec:
 * whether the server is there, before libsmbclient takes longer than the
 * timeout to find out. Returns 0, or -errno with the reason in e. */
static int probe(const struct smb *s, uint64_t timeout_usec, struct err *e) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
        struct addrinfo *list = NULL;
        uint64_t deadline = now_monotonic_usec() + timeout_usec;
        char port[8];
        int r, last = ETIMEDOUT;

        snprintf(port, sizeof(port), "%d", SMB_TCP_PORT);
        r = getaddrinfo(s->probe_host, port, &hints, &list);
        if (r != 0) {
                int errnum = r == EAI_SYSTEM ? errno : EHOSTUNREACH;
                return err_set(e, -errnum, "%s: cannot resolve '%s': %s", s->label, s->probe_host,
                               r == EAI_SYSTEM ? strerror(errnum) : gai_strerror(r));
        }
        for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
                _cleanup_close_ int fd =
                        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
                if (fd < 0) {
                        last = errno;
                        continue;
                }
                if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
                        freeaddrinfo(list);
                        return 0;
                }
                if (errno != EINPROGRESS) {
                        last = errno;
                        continue;
                }
                for (;;) {
                        uint64_t now = now_monotonic_usec();
                        struct pollfd p = { .fd = fd, .events = POLLOUT };
                        int ms;

                        if (now >= deadline) {
                                last = ETIMEDOUT;
                                break;
                        }
                        ms = (int)MIN((deadline - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t)INT_MAX);
                        r = poll(&p, 1, ms);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r < 0) {
                                last = errno;
                                break;
                        }
                        if (r == 0) {
                                last = ETIMEDOUT;
                                break;
                        }
                        int so = 0;
                        socklen_t len = sizeof(so);
                        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len) < 0)
                                so = errno;
                        if (so == 0) {
                                freeaddrinfo(list);
                                return 0;
                        }
                        last = so;
                        break;
                }
                if (now_monotonic_usec() >= deadline)
                        break;
        }
        freeaddrinfo(list);
        if (last == ETIMEDOUT)
                return err_set(e, -ETIMEDOUT, "%s: no answer from '%s' port %d within %" PRIu64 " ms", s->label,
                               s->probe_host, SMB_TCP_PORT, timeout_usec / USEC_PER_MSEC);
        return err_set(e, -last, "%s: cannot connect to '%s' port %d: %s", s->label, s->probe_host, SMB_TCP_PORT,
                       strerror(last));
}

/* What every operation does first: the timeout for its requests, and the
 * probe when no connection is known to work. A cached connection that has
 * been quiet for a timeout or longer is probed too, so that a write does
 * not send its create into a link that died meanwhile (where it could
 * land much later, see remember_pending). */
enum arbiter_result wsmb_begin(struct smb *s, uint64_t timeout_usec, struct err *e) {
        int ms = (int)MIN(MAX(timeout_usec / USEC_PER_MSEC, UINT64_C(1)), (uint64_t)INT_MAX);
        uint64_t now = now_monotonic_usec();

        /* A connection keeps the timeout it was made with: a new timeout
         * needs a new connection. */
        if (ms != s->timeout_ms) {
                if (s->connected)
                        mark_stale(s);
                smbc_setTimeout(s->ctx, ms);
                s->timeout_ms = ms;
        }
        s->answered = false;
        if (!s->connected || now - s->answer_usec >= timeout_usec) {
                if (probe(s, timeout_usec, e) < 0) {
                        mark_stale(s);
                        return ARBITER_UNREACHABLE;
                }
                drop_stale(s);
        }
        return ARBITER_OK;
}

/* ------------------------------------------------------------------------ */
/* Setting up                                                                */

void wsmb_free(struct smb *s) {
        if (!s)
                return;
        if (s->ctx)
                smbc_free_context(s->ctx, 1);
        free(s->label);
        free(s->share_label);
        free(s->folder_url);
        free(s->share_url);
        free(s->host_url);
        free(s->probe_host);
        free(s->username);
        wipe_free(s->password);
        free(s->pending_name);
        wipe_free(s->pending_text);
        free(s->domain);
        free(s);
}

int wsmb_new(const struct witness_url *url, const struct witness_credentials *cred, struct smb **ret, struct err *e) {
        struct smb *s;
        const char *host = url->host;
        size_t host_len = strlen(host);

        if (!streq(url->scheme, "smb"))
                return err_set(e, -EINVAL, "the SMB witness cannot use a '%s' URL", url->scheme);
        if (!host[0] || !url->share[0])
                return err_set(e, -EINVAL, "the SMB witness needs smb://HOST/SHARE[/FOLDER]");
        if (!cred->username[0])
                return err_set(e, -EINVAL, "no user name for smb://%s/%s in the credentials (username = NAME)", host,
                               url->share);

        s = xcalloc(1, sizeof(*s));
        _cleanup_free_ char *share = url_encode(url->share);
        _cleanup_free_ char *folder = url_encode(url->path);
        s->share_label = xasprintf("smb://%s/%s", host, url->share);
        s->label = url->path[0] ? xasprintf("%s/%s", s->share_label, url->path) : xstrdup(s->share_label);
        s->share_url = xasprintf("smb://%s/%s/", host, share);
        s->folder_url = url->path[0] ? xasprintf("%s%s/", s->share_url, folder) : xstrdup(s->share_url);
        if (host[0] == '[' && host_len > 2 && host[host_len - 1] == ']')
                s->probe_host = xstrndup(host + 1, host_len - 2);
        else
                s->probe_host = xstrdup(host);
        s->host_url = xstrdup(host);
        s->username = xstrdup(cred->username);
        s->password = xstrdup(cred->password);
        s->domain = xstrdup(cred->domain);

        errno = 0;
        s->ctx = smbc_new_context();
        if (!s->ctx) {
                int r = -(errno ? errno : ENOMEM);
                wsmb_free(s);
                return err_set(e, r, "cannot set up libsmbclient for smb://%s/%s: %s", host, url->share, strerror(-r));
        }
        smbc_setLogCallback(s->ctx, NULL, drop_debug);
        smbc_setDebug(s->ctx, 0);
        smbc_setOptionUserData(s->ctx, s);
        smbc_setFunctionAuthDataWithContext(s->ctx, auth_data);
        smbc_setFunctionCheckServer(s->ctx, check_server);
        smbc_setUser(s->ctx, s->username);
        smbc_setPort(s->ctx, SMB_TCP_PORT);
        smbc_setOptionNoAutoAnonymousLogin(s->ctx, true);
        smbc_setOptionUseKerberos(s->ctx, false);
        smbc_setOptionFallbackAfterKerberos(s->ctx, true);
        smbc_setOptionUseCCache(s->ctx, false);
        /* Signing required, sealing where the server offers it. */
        smbc_setOptionSmbEncryptionLevel(s->ctx, SMBC_ENCRYPTLEVEL_REQUEST);
        s->timeout_ms = 0; /* set by the first operation */
        if (!smbc_setOptionProtocols(s->ctx, "SMB3", "SMB3")) {
                wsmb_free(s);
                return err_set(e, -EINVAL, "libsmbclient cannot be limited to SMB3 for smb://%s/%s", host, url->share);
        }
        errno = 0;
        if (!smbc_init_context(s->ctx)) {
                int r = -(errno ? errno : EINVAL);
                /* A context that failed to initialize is freed without
                 * shutting anything down. */
                smbc_free_context(s->ctx, 0);
                s->ctx = NULL;
                wsmb_free(s);
                return err_set(e, r, "cannot set up libsmbclient for smb://%s/%s: %s", host, url->share, strerror(-r));
        }
        *ret = s;
        return 0;
}
