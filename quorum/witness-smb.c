/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-smb.c: the file-share witness on an SMB3 share, through
 * libsmbclient (backend-int.h has the contract).
 *
 * The object. Object NAME at generation G is the file NAME.G (G in
 * decimal, no leading zeros) in the URL's folder; the tag of a version is
 * its G. Other clusters' objects share the folder: only names NAME.DIGITS
 * count, everything else is left alone. A read lists the folder and reads
 * the file with the largest G.
 *
 * The compare-and-swap. libsmbclient has neither a rename that refuses to
 * replace its target (its rename unlinks the target and tries again) nor
 * byte-range locks or share modes we could hold across calls. What SMB
 * does give is an atomic create: open with O_CREAT|O_EXCL becomes a
 * CREATE with disposition FILE_CREATE, which the server refuses
 * (OBJECT_NAME_COLLISION) when the name exists. A write expecting E that
 * makes generation G' therefore
 *   1. creates NAME.G' exclusively (it exists: ARBITER_CONFLICT), writes
 *      the text in one write and closes it;
 *   2. lists the folder again, and has lost when it sees any generation
 *      above G', or one between E and G' (exclusive), or E gone, or, when
 *      it creates the object (expect ""), any generation but its own. A
 *      loser unlinks its file and answers ARBITER_CONFLICT;
 *   3. otherwise it won (ARBITER_OK), and unlinks the generations below
 *      G' - 2 (two stay for readers that listed before it wrote).
 * Two writers replacing the same E with the same G' are told apart by the
 * exclusive create. The listing in step 2 is what catches the rest: a
 * writer whose E is stale (it read long ago, and E + 1 has been cleaned
 * up since, so its create succeeds) sees the newer generations above its
 * own, and the newest generation is only ever cleaned up by the writer of
 * a higher one. Of two writers that both replaced E, the later creator
 * lists after the earlier one's file (or a successor of it) exists, so at
 * most one of them returns ARBITER_OK. A loser's file can make another
 * writer lose too (or be read, and built on, before its writer removes
 * it); that costs a retry, never safety: a write answered
 * ARBITER_CONFLICT counts for nothing.
 *
 * Empty files. A writer creates its file before it writes it, so a reader
 * can catch a newest file that is still empty: it reads it again a few
 * times, and then returns the empty text (which the caller calls
 * corrupt). A writer that dies between the two, or gives up on an
 * unanswered request that the server gets after all (TCP delivers it once
 * the link is back: seen here), leaves an empty file that nobody would
 * ever write, and every reader would call the witness corrupt for good.
 * So a file that is empty while nobody has it open is an abandoned
 * create (claim_empty): a reader passes over it to the generation below,
 * and the next writer of that generation takes it over as if its own
 * create had made it; a writer that is still alive finishes its own
 * (settle_pending).
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
 *
 * Nothing here logs: the caller logs what ends up in the struct err.
 */
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

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

/* What a listing found of one object. */
struct scan {
        bool found;                    /* any generation of the object */
        uint64_t newest;               /* the largest generation (found) */
        bool mine;                     /* `self` is there */
        bool others;                   /* a generation other than `self` is there */
        bool between;                  /* one in (expect, self), both exclusive */
        bool expected;                 /* `expect` is there */
        size_t count;                  /* generations found */
        size_t n_top;                  /* entries in top[] */
        uint64_t top[SMB_TOP_MAX];     /* the largest generations, largest first */
        size_t n_old;                  /* entries in old[] */
        uint64_t old[SMB_CLEANUP_MAX]; /* generations below self - SMB_KEEP_BELOW */
};

/* Sets e (r, the message) and returns res: `return fail(e, ARBITER_DENIED, ...)`. */
static enum arbiter_result fail(struct err *e, enum arbiter_result res, int r, const char *fmt, ...) _printf_(4, 5);
static enum arbiter_result fail(struct err *e, enum arbiter_result res, int r, const char *fmt, ...) {
        char msg[sizeof(e->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(e, r, "%s", msg);
        return res;
}

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
static bool entry_generation(const char *entry, const char *name, uint64_t *ret) {
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

static char *file_url(const struct smb *s, const char *name, uint64_t generation) {
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

/* libsmbclient writes to its sockets without MSG_NOSIGNAL; a server that
 * went away must not kill the process with SIGPIPE. The signal is blocked
 * on this thread for the call, and one it raised is taken back after. */
struct sigpipe_guard {
        sigset_t old_mask; /* to restore */
        bool was_pending;  /* a SIGPIPE was pending before: not ours to take */
};

static void sigpipe_block(struct sigpipe_guard *g) {
        sigset_t set, pending;

        sigemptyset(&set);
        sigaddset(&set, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &set, &g->old_mask);
        g->was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

static void sigpipe_restore(struct sigpipe_guard *g) {
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
static enum arbiter_result smb_error(struct smb *s, int errnum, const char *doing, struct err *e) {
        enum refusal who = REFUSED_FILE;

        if (errnum == 0)
                errnum = EIO;
        if (errnum == EPERM)
                who = REFUSED_LOGON;
        else if (errnum == EACCES && !s->connected)
                who = who_refused(s);

        if (errno_is_unreachable(errnum)) {
                mark_stale(s);
                return fail(e, ARBITER_UNREACHABLE, -errnum, "%s: %s", doing, strerror(errnum));
        }
        purge(s);
        if (who == REFUSED_LOGON)
                return fail(e, ARBITER_DENIED, -EACCES,
                            "wrong user name or password for %s: the server refused the logon of user '%s'",
                            s->share_label, s->username);
        if (who == REFUSED_SHARE)
                return fail(e, ARBITER_DENIED, -EACCES, "%s: the server does not let user '%s' use the share",
                            s->share_label, s->username);
        switch (errnum) {
        case EACCES:
                return fail(e, ARBITER_DENIED, -EACCES,
                            "%s: permission denied (the share is read-only, or user '%s' may not write there)", doing,
                            s->username);
        case EROFS:
                return fail(e, ARBITER_DENIED, -EROFS, "%s: the share is read-only", doing);
        default:
                return fail(e, ARBITER_FAILED, -errnum, "%s: %s", doing, strerror(errnum));
        }
}

/* The folder could not be opened with ENOENT: says whether the share or
 * the folder is missing. Either way the witness is not where the URL says:
 * ARBITER_UNREACHABLE, as for a server that is not there. */
static enum arbiter_result missing_folder(struct smb *s, struct err *e) {
        if (!streq(s->folder_url, s->share_url)) {
                SMBCFILE *d;

                errno = 0;
                d = smbc_getFunctionOpendir(s->ctx)(s->ctx, s->share_url);
                if (d) {
                        smbc_getFunctionClosedir(s->ctx)(s->ctx, d);
                        return fail(e, ARBITER_UNREACHABLE, -ENOENT, "%s: the folder does not exist on the share",
                                    s->label);
                }
                int errnum = errno;
                if (errnum != ENOENT) {
                        _cleanup_free_ char *doing = xasprintf("listing %s", s->share_label);
                        return smb_error(s, errnum, doing, e);
                }
        }
        purge(s);
        return fail(e, ARBITER_UNREACHABLE, -ENOENT, "%s: the server has no such share", s->share_label);
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
static enum arbiter_result begin(struct smb *s, uint64_t timeout_usec, struct err *e) {
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
/* Listing, reading, writing files                                           */

static void add_top(struct scan *sc, uint64_t g) {
        size_t i = sc->n_top < SMB_TOP_MAX ? sc->n_top++ : SMB_TOP_MAX;

        /* Insertion into a short array kept largest first; i is where the
         * smallest entry falls off (SMB_TOP_MAX: g may not fit). */
        while (i > 0 && sc->top[i - 1] < g) {
                if (i < SMB_TOP_MAX)
                        sc->top[i] = sc->top[i - 1];
                i--;
        }
        if (i < SMB_TOP_MAX)
                sc->top[i] = g;
}

/* Lists the folder for the generations of `name`; self and expect (0:
 * none) say what ret->mine, others, between and old are about. */
static enum arbiter_result scan_folder(struct smb *s, const char *name, uint64_t self, uint64_t expect,
                                       struct scan *ret, struct err *e) {
        struct scan sc = {};
        const struct smbc_dirent *de;
        SMBCFILE *d;
        int errnum;

        errno = 0;
        d = smbc_getFunctionOpendir(s->ctx)(s->ctx, s->folder_url);
        if (!d) {
                errnum = errno;
                if (errnum == ENOENT)
                        return missing_folder(s, e);
                _cleanup_free_ char *doing = xasprintf("listing %s", s->label);
                return smb_error(s, errnum, doing, e);
        }
        for (;;) {
                uint64_t g;

                errno = 0;
                de = smbc_getFunctionReaddir(s->ctx)(s->ctx, d);
                if (!de)
                        break;
                if (de->smbc_type != SMBC_FILE || !entry_generation(de->name, name, &g))
                        continue;
                if (!sc.found || g > sc.newest)
                        sc.newest = g;
                sc.found = true;
                sc.count++;
                add_top(&sc, g);
                if (self != 0 && g == self)
                        sc.mine = true;
                else
                        sc.others = true;
                if (self != 0 && g > expect && g < self)
                        sc.between = true;
                if (expect != 0 && g == expect)
                        sc.expected = true;
                if (self > SMB_KEEP_BELOW && g < self - SMB_KEEP_BELOW && sc.n_old < SMB_CLEANUP_MAX)
                        sc.old[sc.n_old++] = g;
        }
        /* readdir says nothing but NULL at the end; an error shows in
         * errno (libsmbclient fetches the whole listing at opendir, so
         * this is rare). */
        errnum = errno;
        smbc_getFunctionClosedir(s->ctx)(s->ctx, d);
        if (errnum != 0 && errnum != ENOENT) {
                _cleanup_free_ char *doing = xasprintf("listing %s", s->label);
                return smb_error(s, errnum, doing, e);
        }
        s->connected = s->answered = true;
        s->answer_usec = now_monotonic_usec();
        *ret = sc;
        return ARBITER_OK;
}

/* Reads NAME.G whole. *ret_gone when it was not there (any more). */
static enum arbiter_result read_file(struct smb *s, const char *name, uint64_t generation, char **ret_text,
                                     size_t *ret_size, bool *ret_gone, struct err *e) {
        _cleanup_free_ char *url = file_url(s, name, generation);
        _cleanup_free_ char *buf = xmalloc(WITNESS_RECORD_MAX + 2);
        size_t size = 0;
        SMBCFILE *f;
        int errnum;

        *ret_gone = false;
        errno = 0;
        f = smbc_getFunctionOpen(s->ctx)(s->ctx, url, O_RDONLY, 0);
        if (!f) {
                errnum = errno;
                if (errnum == ENOENT) {
                        *ret_gone = true;
                        return ARBITER_ABSENT;
                }
                if (errnum == EBUSY) {
                        /* Held exclusively for a moment (claim_empty):
                         * as good as empty, and looked at again. */
                        *ret_text = xstrdup("");
                        *ret_size = 0;
                        return ARBITER_OK;
                }
                _cleanup_free_ char *doing = xasprintf("opening %s/%s.%" PRIu64, s->label, name, generation);
                return smb_error(s, errnum, doing, e);
        }
        /* One byte more than a record may have tells a record that is too
         * large. */
        while (size <= WITNESS_RECORD_MAX) {
                errno = 0;
                ssize_t n = smbc_getFunctionRead(s->ctx)(s->ctx, f, buf + size, WITNESS_RECORD_MAX + 1 - size);
                if (n < 0) {
                        errnum = errno;
                        smbc_getFunctionClose(s->ctx)(s->ctx, f);
                        _cleanup_free_ char *doing = xasprintf("reading %s/%s.%" PRIu64, s->label, name, generation);
                        return smb_error(s, errnum, doing, e);
                }
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        smbc_getFunctionClose(s->ctx)(s->ctx, f);
        if (size > WITNESS_RECORD_MAX)
                return fail(e, ARBITER_CORRUPT, -EFBIG, "%s/%s.%" PRIu64 " is larger than %d bytes", s->label, name,
                            generation, WITNESS_RECORD_MAX);
        buf[size] = '\0';
        *ret_text = TAKE_PTR(buf);
        *ret_size = size;
        return ARBITER_OK;
}

/* What claim_empty found. */
enum claim {
        CLAIM_TAKEN,   /* empty and closed: abandoned by its writer; the text is in it now, if one was given */
        CLAIM_WRITTEN, /* it has content: a finished version */
        CLAIM_BUSY,    /* someone has it open: a write in flight, or a reader */
        CLAIM_GONE,    /* not there */
        CLAIM_FAILED,  /* an error; *ret_errno says which */
};

/* Claims NAME.G if it is an abandoned create: a file that is empty while
 * nobody has it open. Its writer created it and then never wrote it (it
 * died, or gave up on an unanswered request that the server got after
 * all), and as nothing but a file's creator ever writes it, it stays
 * empty: without this, an empty newest file that every reader calls
 * corrupt, for good.
 *
 * The file is opened without sharing: that succeeds only when no one else
 * has it open, and keeps everyone else out until it is closed, so the
 * check and the write are one step to every other client, and of two
 * claimants only the first finds it empty. With text, the text is
 * written into it: the claimant takes the abandoned create over, as if
 * its own create had made the file. */
static enum claim claim_empty(struct smb *s, const char *name, uint64_t generation, const char *text, int *ret_errno) {
        _cleanup_free_ char *url = file_url(s, name, generation);
        enum claim c = CLAIM_WRITTEN;
        struct stat st;
        SMBCFILE *f;
        int errnum = 0;

        smbc_setOptionOpenShareMode(s->ctx, SMBC_SHAREMODE_DENY_ALL);
        errno = 0;
        f = smbc_getFunctionOpen(s->ctx)(s->ctx, url, text ? O_RDWR : O_RDONLY, 0);
        errnum = errno;
        smbc_setOptionOpenShareMode(s->ctx, SMBC_SHAREMODE_DENY_NONE);
        if (!f) {
                *ret_errno = errnum ? errnum : EIO;
                return errnum == ENOENT ? CLAIM_GONE : errnum == EBUSY ? CLAIM_BUSY : CLAIM_FAILED;
        }
        errno = 0;
        if (smbc_getFunctionFstat(s->ctx)(s->ctx, f, &st) < 0) {
                errnum = errno ? errno : EIO;
                c = CLAIM_FAILED;
        } else if (st.st_size == 0) {
                size_t size = text ? strlen(text) : 0;
                c = CLAIM_TAKEN;
                errno = 0;
                if (size > 0 && smbc_getFunctionWrite(s->ctx)(s->ctx, f, text, size) != (ssize_t)size) {
                        errnum = errno ? errno : EIO;
                        c = CLAIM_FAILED;
                }
        }
        errno = 0;
        if (smbc_getFunctionClose(s->ctx)(s->ctx, f) < 0 && c == CLAIM_TAKEN && text) {
                errnum = errno ? errno : EIO;
                c = CLAIM_FAILED;
        }
        *ret_errno = errnum;
        return c;
}

static void forget_pending(struct smb *s) {
        free_and_null(s->pending_name);
        free_and_null(s->pending_text);
        s->pending_generation = 0;
        s->pending_tries = 0;
}

/* A create that went out unanswered may still reach the server (TCP
 * delivers it once the link is back), and one whose write went
 * unanswered leaves an empty file. The writer remembers it, and finishes
 * it once the server answers again (settle_pending): the result is the
 * record that write meant to write, in the generation it meant, which is
 * what the caller expects of a write it gave up on (it may have landed).
 * Where this writer is gone, the next writer of that generation takes the
 * file over (create_file). */
static void remember_pending(struct smb *s, const char *name, uint64_t generation, const char *text) {
        forget_pending(s);
        s->pending_name = xstrdup(name);
        s->pending_generation = generation;
        s->pending_text = xstrdup(text);
}

/* Errors are not the operation's: the file is tried again at the next
 * operation, a few times. */
static enum claim settle_pending(struct smb *s) {
        enum claim c;
        int errnum;

        if (!s->pending_name)
                return CLAIM_GONE;
        c = claim_empty(s, s->pending_name, s->pending_generation, s->pending_text, &errnum);
        if ((c == CLAIM_BUSY || c == CLAIM_FAILED) && ++s->pending_tries < SMB_PENDING_TRIES)
                return c;
        forget_pending(s);
        return c;
}

static void sleep_usec(uint64_t usec) {
        struct timespec ts = { .tv_sec = (time_t)(usec / USEC_PER_SEC),
                               .tv_nsec = (long)((usec % USEC_PER_SEC) * NSEC_PER_USEC) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* Reads NAME.G, giving an empty file a moment: it is a write between its
 * create and its write, or one abandoned there. */
static enum arbiter_result read_generation(struct smb *s, const char *name, uint64_t generation, char **ret_text,
                                           size_t *ret_size, bool *ret_gone, struct err *e) {
        enum arbiter_result res;

        for (unsigned attempt = 0;; attempt++) {
                res = read_file(s, name, generation, ret_text, ret_size, ret_gone, e);
                if (res != ARBITER_OK || *ret_size > 0 || attempt == SMB_EMPTY_RETRIES)
                        return res;
                free_and_null(*ret_text);
                sleep_usec(SMB_EMPTY_WAIT_USEC);
        }
}

static enum arbiter_result do_read(struct smb *s, const char *name, uint64_t timeout_usec, char **ret_text,
                                   char ret_tag[WITNESS_TAG_MAX], struct err *e) {
        enum arbiter_result res;

        res = begin(s, timeout_usec, e);
        if (res != ARBITER_OK)
                return res;
        (void)settle_pending(s);
        for (unsigned listing = 0; listing < SMB_LISTINGS_MAX; listing++) {
                enum { NEXT, RELIST } what = NEXT;
                struct scan sc;

                res = scan_folder(s, name, 0, 0, &sc, e);
                if (res != ARBITER_OK)
                        return res;
                /* The newest generation that is not an abandoned create. */
                for (size_t i = 0; i < sc.n_top && what == NEXT; i++) {
                        _cleanup_free_ char *text = NULL;
                        size_t size = 0;
                        bool gone = false;
                        int errnum;

                        res = read_generation(s, name, sc.top[i], &text, &size, &gone, e);
                        if (gone) {
                                what = RELIST; /* a writer's cleanup or a loser's unlink */
                                break;
                        }
                        if (res != ARBITER_OK)
                                return res;
                        if (size == 0)
                                switch (claim_empty(s, name, sc.top[i], NULL, &errnum)) {
                                case CLAIM_TAKEN:
                                        continue; /* abandoned: not a version */
                                case CLAIM_WRITTEN:
                                case CLAIM_GONE:
                                        what = RELIST; /* it changed since */
                                        continue;
                                default:
                                        break; /* being written: the caller sees it empty */
                                }
                        *ret_text = TAKE_PTR(text);
                        snprintf(ret_tag, WITNESS_TAG_MAX, "%" PRIu64, sc.top[i]);
                        return ARBITER_OK;
                }
                if (what == RELIST)
                        continue;
                if (sc.count <= SMB_TOP_MAX)
                        return ARBITER_ABSENT; /* none, or only abandoned creates */
                return fail(e, ARBITER_CORRUPT, -EBADMSG,
                            "%s/%s: the newest %d files of the object are all empty and abandoned", s->label, name,
                            SMB_TOP_MAX);
        }
        return fail(e, ARBITER_FAILED, -ESTALE,
                    "reading %s/%s: the newest files changed under every listing, %d times in a row", s->label, name,
                    SMB_LISTINGS_MAX);
}

/* Unlinks NAME.G; errors are the caller's to ignore or report. */
static int unlink_generation(struct smb *s, const char *name, uint64_t generation) {
        _cleanup_free_ char *url = file_url(s, name, generation);

        errno = 0;
        if (smbc_getFunctionUnlink(s->ctx)(s->ctx, url) < 0)
                return -(errno ? errno : EIO);
        return 0;
}

/* Creates NAME.G exclusively with text as its content. */
static enum arbiter_result create_file(struct smb *s, const char *name, uint64_t generation, const char *text,
                                       struct err *e) {
        _cleanup_free_ char *url = file_url(s, name, generation);
        size_t size = strlen(text);
        enum arbiter_result res;
        SMBCFILE *f;
        ssize_t n;
        int errnum, r;

        errno = 0;
        f = smbc_getFunctionOpen(s->ctx)(s->ctx, url, O_CREAT | O_EXCL | O_WRONLY, 0644);
        if (!f) {
                errnum = errno;
                if (errnum == EEXIST) {
                        if (claim_empty(s, name, generation, text, &errnum) == CLAIM_TAKEN) {
                                s->connected = s->answered = true;
                                s->answer_usec = now_monotonic_usec();
                                return ARBITER_OK;
                        }
                        return fail(e, ARBITER_CONFLICT, -EEXIST, "%s/%s.%" PRIu64 " exists already", s->label, name,
                                    generation);
                }
                if (errnum == ENOENT)
                        return missing_folder(s, e);
                _cleanup_free_ char *doing = xasprintf("creating %s/%s.%" PRIu64, s->label, name, generation);
                res = smb_error(s, errnum, doing, e);
                if (res == ARBITER_UNREACHABLE)
                        remember_pending(s, name, generation, text);
                return res;
        }
        s->connected = s->answered = true;
        s->answer_usec = now_monotonic_usec();

        errno = 0;
        n = size > 0 ? smbc_getFunctionWrite(s->ctx)(s->ctx, f, text, size) : 0;
        errnum = n < 0 ? errno : n != (ssize_t)size ? EIO : 0;
        errno = 0;
        r = smbc_getFunctionClose(s->ctx)(s->ctx, f);
        if (errnum == 0 && r < 0)
                errnum = errno ? errno : EIO;
        if (errnum != 0) {
                _cleanup_free_ char *doing = xasprintf("writing %s/%s.%" PRIu64, s->label, name, generation);
                res = smb_error(s, errnum, doing, e);
                /* Not leaving an empty or short newest file behind: where
                 * the server answers, it goes now; where it does not, the
                 * write is finished later. */
                if (res == ARBITER_UNREACHABLE)
                        remember_pending(s, name, generation, text);
                else
                        (void)unlink_generation(s, name, generation);
                return res;
        }
        return ARBITER_OK;
}

static enum arbiter_result do_write(struct smb *s, const char *name, const char *expect_tag, uint64_t generation,
                                    const char *text, uint64_t timeout_usec, char ret_tag[WITNESS_TAG_MAX],
                                    struct err *e) {
        enum arbiter_result res;
        uint64_t expect = 0;
        struct scan sc;

        if (expect_tag[0] && (expect_tag[0] == '0' || strlen(expect_tag) > SMB_GENERATION_DIGITS ||
                              parse_uint64(expect_tag, &expect) < 0))
                return fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s: '%s' is not a generation this backend wrote",
                            s->label, name, expect_tag);
        if (generation == 0 || generation <= expect)
                return fail(e, ARBITER_FAILED, -EINVAL,
                            "%s/%s: the new generation %" PRIu64 " must be above the expected %" PRIu64, s->label, name,
                            generation, expect);
        if (strlen(text) > WITNESS_RECORD_MAX)
                return fail(e, ARBITER_FAILED, -EFBIG, "%s/%s: a record of %zu bytes is larger than %d bytes", s->label,
                            name, strlen(text), WITNESS_RECORD_MAX);

        res = begin(s, timeout_usec, e);
        if (res != ARBITER_OK)
                return res;
        /* The same write, tried again after its create went unanswered,
         * may find its file made already: finishing it is making it. */
        bool same = s->pending_name && streq(s->pending_name, name) && s->pending_generation == generation &&
                    streq(s->pending_text, text);
        if (!(settle_pending(s) == CLAIM_TAKEN && same)) {
                res = create_file(s, name, generation, text, e);
                if (res != ARBITER_OK)
                        return res;
        }

        res = scan_folder(s, name, generation, expect, &sc, e);
        if (res != ARBITER_OK)
                /* We cannot tell whether we won; the caller reads before
                 * it writes again, and our file may be the newest. */
                return res;
        /* Our file gone means a writer of a higher generation cleaned it
         * up: lost, and nothing of ours is left to remove. */
        if (!sc.mine)
                return fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s.%" PRIu64 " was removed by another writer", s->label,
                            name, generation);
        if (sc.newest > generation || sc.between || (expect != 0 && !sc.expected) || (expect == 0 && sc.others)) {
                (void)unlink_generation(s, name, generation);
                if (sc.newest > generation)
                        return fail(e, ARBITER_CONFLICT, -ESTALE,
                                    "%s/%s: generation %" PRIu64 " is there, above ours (%" PRIu64 ")", s->label, name,
                                    sc.newest, generation);
                if (sc.between)
                        return fail(e, ARBITER_CONFLICT, -ESTALE,
                                    "%s/%s: another generation between %" PRIu64 " and ours (%" PRIu64 ") is there",
                                    s->label, name, expect, generation);
                if (expect != 0)
                        return fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s: generation %" PRIu64 " is gone", s->label,
                                    name, expect);
                return fail(e, ARBITER_CONFLICT, -EEXIST, "%s/%s: the object exists already", s->label, name);
        }
        snprintf(ret_tag, WITNESS_TAG_MAX, "%" PRIu64, generation);

        /* Won. Older generations go, but for the last few; failures here
         * are no failures of the write. */
        for (size_t i = 0; i < sc.n_old; i++)
                (void)unlink_generation(s, name, sc.old[i]);
        return ARBITER_OK;
}

/* ------------------------------------------------------------------------ */
/* The ops                                                                   */

static void smb_close(void *state) {
        struct smb *s = state;

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
        forget_pending(s);
        free(s->domain);
        free(s);
}

static int smb_open(const struct witness_url *url, const struct witness_credentials *cred, void **ret_state,
                    struct err *e) {
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
                smb_close(s);
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
                smb_close(s);
                return err_set(e, -EINVAL, "libsmbclient cannot be limited to SMB3 for smb://%s/%s", host, url->share);
        }
        errno = 0;
        if (!smbc_init_context(s->ctx)) {
                int r = -(errno ? errno : EINVAL);
                /* A context that failed to initialize is freed without
                 * shutting anything down. */
                smbc_free_context(s->ctx, 0);
                s->ctx = NULL;
                smb_close(s);
                return err_set(e, r, "cannot set up libsmbclient for smb://%s/%s: %s", host, url->share, strerror(-r));
        }
        *ret_state = s;
        return 0;
}

/* An operation whose first request failed on a cached connection is
 * tried once more on a new one: the old one may be stale in ways
 * libsmbclient does not notice (the server closed the share or our
 * session, or it restarted and the connection is gone). The first request
 * was refused or never got to the server, so the second try is as good as
 * a first. A request that timed out is not tried again: the server did
 * not answer within the operation's time. */
static bool try_again(const struct smb *s, bool was_connected, enum arbiter_result res, const struct err *e) {
        if (!was_connected || s->answered)
                return false;
        if (res == ARBITER_FAILED || res == ARBITER_DENIED)
                return true;
        return res == ARBITER_UNREACHABLE && e && e->code != -ETIMEDOUT;
}

static enum arbiter_result smb_read(void *state, const char *name, uint64_t timeout_usec, char **ret_text,
                                    char ret_tag[WITNESS_TAG_MAX], struct err *e) {
        struct smb *s = state;
        bool was_connected = s->connected;
        struct sigpipe_guard g;
        enum arbiter_result res;

        sigpipe_block(&g);
        res = do_read(s, name, timeout_usec, ret_text, ret_tag, e);
        if (try_again(s, was_connected, res, e)) {
                err_clear(e);
                res = do_read(s, name, timeout_usec, ret_text, ret_tag, e);
        }
        sigpipe_restore(&g);
        return res;
}

static enum arbiter_result smb_write(void *state, const char *name, const char *expect_tag, uint64_t generation,
                                     const char *text, uint64_t timeout_usec, char ret_tag[WITNESS_TAG_MAX],
                                     struct err *e) {
        struct smb *s = state;
        bool was_connected = s->connected;
        struct sigpipe_guard g;
        enum arbiter_result res;

        sigpipe_block(&g);
        res = do_write(s, name, expect_tag, generation, text, timeout_usec, ret_tag, e);
        if (try_again(s, was_connected, res, e)) {
                err_clear(e);
                res = do_write(s, name, expect_tag, generation, text, timeout_usec, ret_tag, e);
        }
        sigpipe_restore(&g);
        return res;
}

const struct witness_backend_ops witness_smb_ops = {
        .scheme = "smb",
        .open = smb_open,
        .close = smb_close,
        .read = smb_read,
        .write = smb_write,
};
