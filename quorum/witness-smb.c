/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-smb.c: the file-share witness on an SMB3 share, through
 * libsmbclient (backend-int.h has the contract): the files and the
 * compare-and-swap; the connection to the server is witness-smb-conn.c's.
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
 * Nothing here logs: the caller logs what ends up in the struct err.
 */
#include <fcntl.h>
#include <limits.h>
#include <time.h>

#include "quorum/smb-int.h"

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
                        return wsmb_missing_folder(s, e);
                _cleanup_free_ char *doing = xasprintf("listing %s", s->label);
                return wsmb_error(s, errnum, doing, e);
        }
        for (;;) {
                uint64_t g;

                errno = 0;
                de = smbc_getFunctionReaddir(s->ctx)(s->ctx, d);
                if (!de)
                        break;
                if (de->smbc_type != SMBC_FILE || !wsmb_entry_generation(de->name, name, &g))
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
                return wsmb_error(s, errnum, doing, e);
        }
        s->connected = s->answered = true;
        s->answer_usec = now_monotonic_usec();
        *ret = sc;
        return ARBITER_OK;
}

/* Reads NAME.G whole. *ret_gone when it was not there (any more). */
static enum arbiter_result read_file(struct smb *s, const char *name, uint64_t generation, char **ret_text,
                                     size_t *ret_size, bool *ret_gone, struct err *e) {
        _cleanup_free_ char *url = wsmb_file_url(s, name, generation);
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
                return wsmb_error(s, errnum, doing, e);
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
                        return wsmb_error(s, errnum, doing, e);
                }
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        smbc_getFunctionClose(s->ctx)(s->ctx, f);
        if (size > WITNESS_RECORD_MAX)
                return witness_fail(e, ARBITER_CORRUPT, -EFBIG, "%s/%s.%" PRIu64 " is larger than %d bytes", s->label,
                                    name, generation, WITNESS_RECORD_MAX);
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
        _cleanup_free_ char *url = wsmb_file_url(s, name, generation);
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

        res = wsmb_begin(s, timeout_usec, e);
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
                return witness_fail(e, ARBITER_CORRUPT, -EBADMSG,
                                    "%s/%s: the newest %d files of the object are all empty and abandoned", s->label,
                                    name, SMB_TOP_MAX);
        }
        return witness_fail(e, ARBITER_FAILED, -ESTALE,
                            "reading %s/%s: the newest files changed under every listing, %d times in a row", s->label,
                            name, SMB_LISTINGS_MAX);
}

/* Unlinks NAME.G; errors are the caller's to ignore or report. */
static int unlink_generation(struct smb *s, const char *name, uint64_t generation) {
        _cleanup_free_ char *url = wsmb_file_url(s, name, generation);

        errno = 0;
        if (smbc_getFunctionUnlink(s->ctx)(s->ctx, url) < 0)
                return -(errno ? errno : EIO);
        return 0;
}

/* Creates NAME.G exclusively with text as its content. */
static enum arbiter_result create_file(struct smb *s, const char *name, uint64_t generation, const char *text,
                                       struct err *e) {
        _cleanup_free_ char *url = wsmb_file_url(s, name, generation);
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
                        return witness_fail(e, ARBITER_CONFLICT, -EEXIST, "%s/%s.%" PRIu64 " exists already", s->label,
                                            name, generation);
                }
                if (errnum == ENOENT)
                        return wsmb_missing_folder(s, e);
                _cleanup_free_ char *doing = xasprintf("creating %s/%s.%" PRIu64, s->label, name, generation);
                res = wsmb_error(s, errnum, doing, e);
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
                res = wsmb_error(s, errnum, doing, e);
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
                return witness_fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s: '%s' is not a generation this backend wrote",
                                    s->label, name, expect_tag);
        if (generation == 0 || generation <= expect)
                return witness_fail(e, ARBITER_FAILED, -EINVAL,
                                    "%s/%s: the new generation %" PRIu64 " must be above the expected %" PRIu64,
                                    s->label, name, generation, expect);
        if (strlen(text) > WITNESS_RECORD_MAX)
                return witness_fail(e, ARBITER_FAILED, -EFBIG, "%s/%s: a record of %zu bytes is larger than %d bytes",
                                    s->label, name, strlen(text), WITNESS_RECORD_MAX);

        res = wsmb_begin(s, timeout_usec, e);
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
                return witness_fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s.%" PRIu64 " was removed by another writer",
                                    s->label, name, generation);
        if (sc.newest > generation || sc.between || (expect != 0 && !sc.expected) || (expect == 0 && sc.others)) {
                (void)unlink_generation(s, name, generation);
                if (sc.newest > generation)
                        return witness_fail(e, ARBITER_CONFLICT, -ESTALE,
                                            "%s/%s: generation %" PRIu64 " is there, above ours (%" PRIu64 ")",
                                            s->label, name, sc.newest, generation);
                if (sc.between)
                        return witness_fail(e, ARBITER_CONFLICT, -ESTALE,
                                            "%s/%s: another generation between %" PRIu64 " and ours (%" PRIu64
                                            ") is there",
                                            s->label, name, expect, generation);
                if (expect != 0)
                        return witness_fail(e, ARBITER_CONFLICT, -ESTALE, "%s/%s: generation %" PRIu64 " is gone",
                                            s->label, name, expect);
                return witness_fail(e, ARBITER_CONFLICT, -EEXIST, "%s/%s: the object exists already", s->label, name);
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

static int smb_open(const struct witness_url *url, const struct witness_credentials *cred, void **ret_state,
                    struct err *e) {
        struct smb *s;
        int r = wsmb_new(url, cred, &s, e);
        if (r >= 0)
                *ret_state = s;
        return r;
}

static void smb_close(void *state) {
        wsmb_free(state);
}

static enum arbiter_result smb_read(void *state, const char *name, uint64_t timeout_usec, char **ret_text,
                                    char ret_tag[WITNESS_TAG_MAX], struct err *e) {
        struct smb *s = state;
        bool was_connected = s->connected;
        struct sigpipe_guard g;
        enum arbiter_result res;

        wsmb_sigpipe_block(&g);
        res = do_read(s, name, timeout_usec, ret_text, ret_tag, e);
        if (try_again(s, was_connected, res, e)) {
                err_clear(e);
                res = do_read(s, name, timeout_usec, ret_text, ret_tag, e);
        }
        wsmb_sigpipe_restore(&g);
        return res;
}

static enum arbiter_result smb_write(void *state, const char *name, const char *expect_tag, uint64_t generation,
                                     const char *text, uint64_t timeout_usec, char ret_tag[WITNESS_TAG_MAX],
                                     struct err *e) {
        struct smb *s = state;
        bool was_connected = s->connected;
        struct sigpipe_guard g;
        enum arbiter_result res;

        wsmb_sigpipe_block(&g);
        res = do_write(s, name, expect_tag, generation, text, timeout_usec, ret_tag, e);
        if (try_again(s, was_connected, res, e)) {
                err_clear(e);
                res = do_write(s, name, expect_tag, generation, text, timeout_usec, ret_tag, e);
        }
        wsmb_sigpipe_restore(&g);
        return res;
}

const struct witness_backend_ops witness_smb_ops = {
        .scheme = "smb",
        .open = smb_open,
        .close = smb_close,
        .read = smb_read,
        .write = smb_write,
};
