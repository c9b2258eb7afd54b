/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-err.c: errors with messages, and allocation that cannot fail. */
#include "common/common.h"

int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -1;
}

_noreturn_ static void oom(void) {
        fputs("Out of memory.\n", stderr);
        abort();
}

void *xmalloc(size_t n) {
        void *p = malloc(n ? n : 1);
        if (!p)
                oom();
        return p;
}

void *xcalloc(size_t n, size_t size) {
        void *p = calloc(n ? n : 1, size ? size : 1);
        if (!p)
                oom();
        return p;
}

void *xrealloc(void *p, size_t n) {
        void *q = realloc(p, n ? n : 1);
        if (!q)
                oom();
        return q;
}

char *xstrdup(const char *s) {
        char *p = strdup(s);
        if (!p)
                oom();
        return p;
}

char *xstrndup(const char *s, size_t n) {
        char *p = strndup(s, n);
        if (!p)
                oom();
        return p;
}

char *xasprintf(const char *fmt, ...) {
        va_list ap;
        char *p;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&p, fmt, ap);
        va_end(ap);
        if (r < 0)
                oom();
        return p;
}

int err_set(struct err *e, int r, const char *fmt, ...) {
        char buf[sizeof(e->msg)];
        va_list ap;

        if (!e)
                return r;

        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);

        if (e->msg[0]) {
                /* Context added on the way up goes in front. */
                char old[sizeof(e->msg)];
                size_t n = strlen(buf);
                memcpy(old, e->msg, sizeof(old));
                /* Truncation of overlong messages is fine; they stay
                 * NUL-terminated. */
                memcpy(e->msg, buf, n);
                if (n + 2 < sizeof(e->msg)) {
                        memcpy(e->msg + n, ": ", 2);
                        n += 2;
                }
                size_t rest = MIN(strlen(old), sizeof(e->msg) - 1 - n);
                memcpy(e->msg + n, old, rest);
                e->msg[n + rest] = '\0';
        } else
                memcpy(e->msg, buf, sizeof(e->msg));
        e->code = r;
        return r;
}

void err_clear(struct err *e) {
        if (!e)
                return;
        e->code = 0;
        e->msg[0] = '\0';
}
