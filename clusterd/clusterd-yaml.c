/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-yaml.c: builds a ynode tree from libyaml's event stream.
 *
 * The event API (rather than yaml_parser_load's document API) lets us refuse
 * anchors, tags, deep nesting and huge node counts as they arrive, before
 * libyaml has built anything large, and keep the start mark of every node.
 * The tree is built with an explicit stack of open collections, so nothing
 * here recurses on input depth except ynode_free(), which the depth limit
 * bounds.
 */
#include <yaml.h>

#include "clusterd/yaml-int.h"

struct builder {
        const char *name;                     /* for messages; not owned */
        struct err *e;                        /* not owned */
        struct ynode *root;                   /* the document so far. Owned. */
        struct ynode *stack[YNODE_DEPTH_MAX]; /* open collections, pointers into root */
        size_t depth;                         /* entries used in stack */
        size_t n_nodes;                       /* nodes created so far */
        bool seen_document;                   /* a DOCUMENT-START was seen */
        bool done;                            /* STREAM-END was seen */
};

static void builder_done(struct builder *b) {
        b->root = ynode_free(b->root);
}

struct ynode *ynode_free(struct ynode *n) {
        if (!n)
                return NULL;
        free(n->value);
        for (size_t i = 0; i < n->n_items; i++)
                ynode_free(n->items[i]);
        free(n->items);
        for (size_t i = 0; i < n->n_pairs; i++) {
                ynode_free(n->pairs[i].key);
                ynode_free(n->pairs[i].value);
        }
        free(n->pairs);
        free(n);
        return NULL;
}

bool ynode_is_null(const struct ynode *n) {
        static const char *const nulls[] = { "", "~", "null", "Null", "NULL" };

        if (!n)
                return true;
        if (n->kind != YNODE_SCALAR || !n->plain)
                return false;
        for (size_t i = 0; i < ELEMENTSOF(nulls); i++)
                if (streq(n->value, nulls[i]))
                        return true;
        return false;
}

const char *ynode_kind_to_string(enum ynode_kind kind) {
        switch (kind) {
        case YNODE_SCALAR:
                return "a scalar";
        case YNODE_SEQUENCE:
                return "a sequence";
        case YNODE_MAPPING:
                return "a mapping";
        }
        return "an unknown node";
}

const char *ynode_shorten(const char *s, char buf[static YNODE_SHORT_MAX]) {
        size_t o = 0;

        /* Past 64 bytes only the rest of a UTF-8 character is copied, and
         * at most 3 bytes of it (tags may hold any bytes). Worst case: 63
         * bytes and one \xNN, "..." and the NUL: 71 bytes. */
        for (; *s && (o < 64 || (o < 67 && ((unsigned char)*s & 0xC0) == 0x80)); s++) {
                unsigned char ch = (unsigned char)*s;
                if (ch < 0x20 || ch == 0x7F)
                        o += (size_t)snprintf(buf + o, YNODE_SHORT_MAX - o, "\\x%02X", ch);
                else
                        buf[o++] = (char)ch;
        }
        if (*s) {
                memcpy(buf + o, "...", 3);
                o += 3;
        }
        buf[o] = '\0';
        return buf;
}

/* libyaml's marks are 0-based; ours are 1-based like every editor's. The
 * input limit keeps both far below UINT_MAX. */
static unsigned mark_line(const yaml_mark_t *m) {
        return (unsigned)m->line + 1;
}

static unsigned mark_column(const yaml_mark_t *m) {
        return (unsigned)m->column + 1;
}

static int fail_at(struct builder *b, const yaml_mark_t *m, int r, const char *what) {
        return err_set(b->e, r, "%s:%u:%u: %s", b->name, mark_line(m), mark_column(m), what);
}

/* Line and column of a byte offset, for errors that libyaml reports as an
 * offset only (reader errors) and for our own NUL check. Columns count
 * characters (UTF-8 lead bytes), and "\r\n", "\r" and "\n" end a line, which
 * is how libyaml counts for its marks. */
static void offset_to_position(const char *text, size_t size, size_t offset, unsigned *ret_line, unsigned *ret_column) {
        unsigned line = 1, column = 1;

        for (size_t i = 0; i < MIN(offset, size); i++) {
                unsigned char ch = (unsigned char)text[i];
                if (ch == '\n' || (ch == '\r' && (i + 1 >= size || text[i + 1] != '\n'))) {
                        line++;
                        column = 1;
                } else if (ch != '\r' && (ch & 0xC0) != 0x80)
                        column++;
        }
        *ret_line = line;
        *ret_column = column;
}

static int libyaml_error(const yaml_parser_t *parser, const char *text, size_t size, const char *name, struct err *e) {
        const char *problem = parser->problem ?: "unknown error";
        unsigned line, column;

        switch (parser->error) {
        case YAML_MEMORY_ERROR:
                return err_set(e, -ENOMEM, "%s: out of memory while parsing YAML", name);
        case YAML_READER_ERROR:
                offset_to_position(text, size, parser->problem_offset, &line, &column);
                if (parser->problem_value == -1)
                        return err_set(e, -EINVAL, "%s:%u:%u: invalid YAML: %s", name, line, column, problem);
                /* For UTF-8 problems the value is the bad byte, otherwise
                 * the code point that is not allowed. */
                return err_set(e, -EINVAL,
                               strstr(problem, "UTF-8") ? "%s:%u:%u: invalid YAML: %s (byte 0x%02X)"
                                                        : "%s:%u:%u: invalid YAML: %s (U+%04X)",
                               name, line, column, problem, (unsigned)parser->problem_value);
        case YAML_SCANNER_ERROR:
        case YAML_PARSER_ERROR:
                if (parser->context)
                        return err_set(e, -EINVAL, "%s:%u:%u: invalid YAML: %s (%s at line %u, column %u)", name,
                                       mark_line(&parser->problem_mark), mark_column(&parser->problem_mark), problem,
                                       parser->context, mark_line(&parser->context_mark),
                                       mark_column(&parser->context_mark));
                return err_set(e, -EINVAL, "%s:%u:%u: invalid YAML: %s", name, mark_line(&parser->problem_mark),
                               mark_column(&parser->problem_mark), problem);
        default:
                return err_set(e, -EINVAL, "%s: invalid YAML: %s", name, problem);
        }
}

/* Anchors and tags change what a value means somewhere else in the file;
 * in a configuration that only hides mistakes, so they are refused. */
static int check_properties(struct builder *b, const yaml_mark_t *m, const yaml_char_t *anchor,
                            const yaml_char_t *tag) {
        if (anchor)
                return fail_at(b, m, -EINVAL, "anchors and aliases are not supported (write the value out in full)");
        if (tag) {
                char buf[YNODE_SHORT_MAX];
                return err_set(b->e, -EINVAL, "%s:%u:%u: tags are not supported (found '%s')", b->name, mark_line(m),
                               mark_column(m), ynode_shorten((const char *)tag, buf));
        }
        return 0;
}

static int node_new(struct builder *b, enum ynode_kind kind, const yaml_mark_t *m, struct ynode **ret) {
        struct ynode *n;

        if (b->n_nodes >= YNODE_NODES_MAX)
                return err_set(b->e, -EINVAL, "%s:%u:%u: too many values (more than %d)", b->name, mark_line(m),
                               mark_column(m), YNODE_NODES_MAX);
        b->n_nodes++;

        n = xcalloc(1, sizeof(*n));
        n->kind = kind;
        n->line = mark_line(m);
        n->column = mark_column(m);
        *ret = n;
        return 0;
}

static int add_to_mapping(struct builder *b, struct ynode *map, struct ynode *n) {
        struct ynode_pair *last = map->n_pairs > 0 ? &map->pairs[map->n_pairs - 1] : NULL;

        if (last && !last->value) {
                last->value = n;
                return 0;
        }

        /* A new key. Keys are compared as text: "1" and 1 are the same key,
         * which is what a person reading the file would assume. */
        if (n->kind != YNODE_SCALAR) {
                int r = err_set(b->e, -EINVAL, "%s:%u:%u: mapping keys must be scalars, not %s", b->name, n->line,
                                n->column, ynode_kind_to_string(n->kind));
                ynode_free(n);
                return r;
        }
        for (size_t i = 0; i < map->n_pairs; i++) {
                const struct ynode *k = map->pairs[i].key;
                if (streq(k->value, n->value)) {
                        char buf[YNODE_SHORT_MAX];
                        int r = err_set(b->e, -EINVAL, "%s:%u:%u: duplicate key '%s' (first at line %u, column %u)",
                                        b->name, n->line, n->column, ynode_shorten(n->value, buf), k->line, k->column);
                        ynode_free(n);
                        return r;
                }
        }
        map->pairs = xrealloc(map->pairs, (map->n_pairs + 1) * sizeof(*map->pairs));
        map->pairs[map->n_pairs++] = (struct ynode_pair){ .key = n };
        return 0;
}

/* Hands n to its parent (or makes it the root). Takes ownership of n even
 * on failure. */
static int attach(struct builder *b, struct ynode *n) {
        struct ynode *parent;

        if (b->depth == 0) {
                /* libyaml delivers exactly one root per document, and a
                 * second document is refused before its root arrives. */
                ynode_free(b->root);
                b->root = n;
                return 0;
        }
        parent = b->stack[b->depth - 1];
        if (parent->kind == YNODE_MAPPING)
                return add_to_mapping(b, parent, n);

        parent->items = xrealloc(parent->items, (parent->n_items + 1) * sizeof(*parent->items));
        parent->items[parent->n_items++] = n;
        return 0;
}

static int on_scalar(struct builder *b, const yaml_event_t *ev) {
        struct ynode *n;
        int r;

        r = check_properties(b, &ev->start_mark, ev->data.scalar.anchor, ev->data.scalar.tag);
        if (r < 0)
                return r;
        /* A NUL can still arrive through an escape ("\0", "\x00"); the rest
         * of the daemon uses C strings, which would silently cut it off. */
        if (memchr(ev->data.scalar.value, '\0', ev->data.scalar.length))
                return fail_at(b, &ev->start_mark, -EINVAL, "NUL characters are not allowed");

        r = node_new(b, YNODE_SCALAR, &ev->start_mark, &n);
        if (r < 0)
                return r;
        n->value = xstrndup((const char *)ev->data.scalar.value, ev->data.scalar.length);
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        return attach(b, n);
}

static int on_collection_start(struct builder *b, const yaml_event_t *ev, enum ynode_kind kind,
                               const yaml_char_t *anchor, const yaml_char_t *tag) {
        struct ynode *n;
        int r;

        r = check_properties(b, &ev->start_mark, anchor, tag);
        if (r < 0)
                return r;
        if (b->depth >= YNODE_DEPTH_MAX)
                return err_set(b->e, -EINVAL, "%s:%u:%u: nesting deeper than %d levels is not allowed", b->name,
                               mark_line(&ev->start_mark), mark_column(&ev->start_mark), YNODE_DEPTH_MAX);

        r = node_new(b, kind, &ev->start_mark, &n);
        if (r < 0)
                return r;
        r = attach(b, n);
        if (r < 0)
                return r;
        b->stack[b->depth++] = n;
        return 0;
}

static int on_document_start(struct builder *b, const yaml_event_t *ev) {
        if (b->seen_document)
                return fail_at(b, &ev->start_mark, -EINVAL, "only one YAML document is allowed (found a second '---')");
        if (ev->data.document_start.tag_directives.start != ev->data.document_start.tag_directives.end)
                return fail_at(b, &ev->start_mark, -EINVAL, "%TAG directives are not supported");
        b->seen_document = true;
        return 0;
}

static int on_event(struct builder *b, const yaml_event_t *ev) {
        switch (ev->type) {
        case YAML_STREAM_END_EVENT:
                b->done = true;
                return 0;
        case YAML_DOCUMENT_START_EVENT:
                return on_document_start(b, ev);
        case YAML_ALIAS_EVENT:
                return fail_at(b, &ev->start_mark, -EINVAL,
                               "anchors and aliases are not supported (write the value out in full)");
        case YAML_SCALAR_EVENT:
                return on_scalar(b, ev);
        case YAML_SEQUENCE_START_EVENT:
                return on_collection_start(b, ev, YNODE_SEQUENCE, ev->data.sequence_start.anchor,
                                           ev->data.sequence_start.tag);
        case YAML_MAPPING_START_EVENT:
                return on_collection_start(b, ev, YNODE_MAPPING, ev->data.mapping_start.anchor,
                                           ev->data.mapping_start.tag);
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
                if (b->depth > 0)
                        b->depth--;
                return 0;
        default:
                /* STREAM-START, DOCUMENT-END, NO-EVENT: nothing to build. */
                return 0;
        }
}

/* Checks libyaml cannot do for us: it would stop silently at a NUL byte
 * instead of complaining about it. */
static int check_input(const char *text, size_t size, const char *name, struct err *e) {
        const char *nul;
        unsigned line, column;

        if (size > YNODE_INPUT_MAX)
                return err_set(e, -EFBIG, "%s: input is larger than 1MiB (%zu bytes)", name, size);
        nul = size > 0 ? memchr(text, '\0', size) : NULL;
        if (nul) {
                offset_to_position(text, size, (size_t)(nul - text), &line, &column);
                return err_set(e, -EINVAL, "%s:%u:%u: NUL characters are not allowed", name, line, column);
        }
        return 0;
}

int ynode_parse(const char *text, size_t size, const char *name, struct ynode **ret, struct err *e) {
        _cleanup_(builder_done) struct builder b = { .name = name, .e = e };
        yaml_parser_t parser;
        int r;

        r = check_input(text, size, name, e);
        if (r < 0)
                return r;
        if (size == 0) {
                *ret = NULL;
                return 0;
        }

        if (!yaml_parser_initialize(&parser))
                return err_set(e, -ENOMEM, "%s: out of memory while parsing YAML", name);
        yaml_parser_set_input_string(&parser, (const unsigned char *)text, size);
        /* Only UTF-8: a UTF-16 file would be refused for its NUL bytes
         * anyway, and this way the reader reports bad bytes as bad UTF-8. */
        yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

        while (!b.done) {
                yaml_event_t ev;

                if (!yaml_parser_parse(&parser, &ev)) {
                        r = libyaml_error(&parser, text, size, name, e);
                        break;
                }
                r = on_event(&b, &ev);
                yaml_event_delete(&ev);
                if (r < 0)
                        break;
        }
        yaml_parser_delete(&parser);
        if (r < 0)
                return r;

        *ret = TAKE_PTR(b.root);
        return 0;
}
