/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl-output.c: tables, key/value views and JSON.
 *
 * Tables are for people: aligned columns, an upper-case header, "-" for
 * nothing, no trailing spaces. Scripts should use -o json, which prints the
 * server's object unchanged.
 */
#include <inttypes.h>

#include "clusterctl/clusterctl.h"

struct ctl_table {
        size_t n_columns;
        char **cells;        /* n_rows * n_columns owned strings, row by row */
        size_t n_cells;      /* cells filled so far */
        size_t *widths;      /* per column, in characters; only grow */
        bool header_printed; /* printed once, before the first rows */
        char **header;       /* n_columns owned strings */
};

struct ctl_table *ctl_table_new(const char *header, ...) {
        struct ctl_table *t = xcalloc(1, sizeof(*t));
        va_list ap;

        va_start(ap, header);
        for (const char *h = header; h; h = va_arg(ap, const char *))
                strv_push(&t->header, h);
        va_end(ap);
        t->n_columns = strv_length(t->header);
        t->widths = xcalloc(t->n_columns, sizeof(size_t));
        return t;
}

struct ctl_table *ctl_table_free(struct ctl_table *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t->widths);
        strv_free(t->header);
        free(t);
        return NULL;
}

/* Characters on the screen, counting UTF-8 sequences as one: good enough
 * for the names and messages a cluster holds. */
static size_t text_width(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                if (((unsigned char)*s & 0xc0) != 0x80)
                        n++;
        return n;
}

static char *sanitize(const char *s) {
        char *c = xstrdup(s);
        for (char *p = c; *p; p++)
                if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                        *p = (*p == '\n' || *p == '\t') ? ' ' : '?';
        return c;
}

void ctl_table_add(struct ctl_table *t, const char *cell) {
        if (t->n_cells % t->n_columns == 0)
                t->cells = xrealloc(t->cells, (t->n_cells + t->n_columns) * sizeof(char *));
        t->cells[t->n_cells++] = sanitize(cell && *cell ? cell : "-");
}

void ctl_table_addf(struct ctl_table *t, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0) {
                fputs("Out of memory.\n", stderr);
                abort();
        }
        va_end(ap);
        ctl_table_add(t, s);
}

void ctl_table_add_json(struct ctl_table *t, json_object *o) {
        _cleanup_free_ char *s = ctl_json_text(o);
        ctl_table_add(t, s);
}

void ctl_table_add_field(struct ctl_table *t, json_object *o, const char *key) {
        ctl_table_add_json(t, ctl_json_get(o, key));
}

size_t ctl_table_rows(const struct ctl_table *t) {
        return t->n_cells / t->n_columns;
}

static void print_row(const struct ctl_table *t, char *const *row, FILE *f) {
        for (size_t c = 0; c < t->n_columns; c++) {
                bool last = c + 1 == t->n_columns;
                fputs(row[c], f);
                if (last)
                        break;
                /* Pad to the column, then two spaces; the last column is
                 * never padded, so no line ends in spaces. */
                for (size_t w = text_width(row[c]); w < t->widths[c] + 2; w++)
                        fputc(' ', f);
        }
        fputc('\n', f);
}

void ctl_table_print(struct ctl_table *t, FILE *f) {
        size_t n_rows = ctl_table_rows(t);

        for (size_t c = 0; c < t->n_columns; c++) {
                if (!t->header_printed)
                        t->widths[c] = MAX(t->widths[c], text_width(t->header[c]));
                for (size_t r = 0; r < n_rows; r++)
                        t->widths[c] = MAX(t->widths[c], text_width(t->cells[r * t->n_columns + c]));
        }
        if (!t->header_printed) {
                print_row(t, t->header, f);
                t->header_printed = true;
        }
        for (size_t r = 0; r < n_rows; r++)
                print_row(t, t->cells + r * t->n_columns, f);

        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free_and_null(t->cells);
        t->n_cells = 0;
}

void ctl_print_object_table(json_object *o, FILE *f) {
        _cleanup_table_ struct ctl_table *t = ctl_table_new("KEY", "VALUE", NULL);

        json_object_object_foreach(o, key, value) {
                ctl_table_add(t, key);
                ctl_table_add_json(t, value);
        }
        ctl_table_print(t, f);
}

void ctl_print_json(json_object *o, FILE *f) {
        fputs(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE),
              f);
        fputc('\n', f);
}

static char *array_text(json_object *a) {
        size_t n = json_object_array_length(a);
        char *s = NULL;

        if (n == 0)
                return xstrdup("-");
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *item = ctl_json_text(json_object_array_get_idx(a, i));
                char *joined = xasprintf("%s%s%s", strempty(s), s ? ", " : "", item);
                free(s);
                s = joined;
        }
        return s;
}

char *ctl_json_text(json_object *o) {
        switch (json_object_get_type(o)) {
        case json_type_null:
                return xstrdup("-");
        case json_type_string:
                return xstrdup(json_object_get_string(o));
        case json_type_boolean:
                return xstrdup(json_object_get_boolean(o) ? "true" : "false");
        case json_type_int:
        case json_type_double:
                return xstrdup(json_object_get_string(o));
        case json_type_array:
                return array_text(o);
        case json_type_object:
        default:
                return xstrdup(
                        json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        }
}

json_object *ctl_json_get(json_object *o, const char *key) {
        json_object *v = NULL;

        if (!o || !json_object_is_type(o, json_type_object))
                return NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

const char *ctl_json_str(json_object *o, const char *key) {
        json_object *v = ctl_json_get(o, key);
        return json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

int64_t ctl_json_int(json_object *o, const char *key, int64_t def) {
        json_object *v = ctl_json_get(o, key);
        return json_object_is_type(v, json_type_int) ? json_object_get_int64(v) : def;
}

char *ctl_shell_quote(const char *s) {
        static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:/@%+=,-";
        size_t n = 0;
        char *q, *p;

        if (*s && strspn(s, safe) == strlen(s))
                return xstrdup(s);
        for (const char *c = s; *c; c++)
                n += *c == '\'' ? 4 : 1;
        q = p = xmalloc(n + 3);
        *p++ = '\'';
        for (const char *c = s; *c; c++) {
                if (*c == '\'') {
                        memcpy(p, "'\\''", 4);
                        p += 4;
                } else
                        *p++ = *c;
        }
        *p++ = '\'';
        *p = '\0';
        return q;
}
