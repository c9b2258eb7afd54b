/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-strv.c: NULL-terminated string vectors. */
#include "common/common.h"

size_t strv_length(char *const *l) {
        size_t n = 0;
        if (l)
                while (l[n])
                        n++;
        return n;
}

char **strv_free(char **l) {
        if (l)
                for (char **p = l; *p; p++)
                        free(*p);
        free(l);
        return NULL;
}

void strv_push(char ***l, const char *s) {
        size_t n = strv_length(*l);
        *l = xrealloc(*l, (n + 2) * sizeof(char *));
        (*l)[n] = xstrdup(s);
        (*l)[n + 1] = NULL;
}

char **strv_copy(char *const *l) {
        char **c = xcalloc(strv_length(l) + 1, sizeof(char *));
        size_t i = 0;
        if (l)
                for (; l[i]; i++)
                        c[i] = xstrdup(l[i]);
        c[i] = NULL;
        return c;
}

bool strv_contains(char *const *l, const char *s) {
        if (l)
                for (; *l; l++)
                        if (streq(*l, s))
                                return true;
        return false;
}

bool strv_equal(char *const *a, char *const *b) {
        size_t n = strv_length(a);
        if (n != strv_length(b))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!streq(a[i], b[i]))
                        return false;
        return true;
}
