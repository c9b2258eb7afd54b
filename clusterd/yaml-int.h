/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * yaml-int.h: a small, strict YAML reader for the files clusterd reads itself.
 *
 * It turns one YAML document into a tree of mappings, sequences and scalars,
 * each node knowing where it was written (line and column), so that whoever
 * interprets the tree can point an operator at the exact spot of a mistake.
 * It guesses no types: every scalar is text and the caller decides what it
 * means. Features a configuration file does not need and that make mistakes
 * hard to see are refused with a message: anchors and aliases, tags, more
 * than one document, duplicate keys, keys that are not scalars.
 *
 * Everything is bounded (input size, nesting, node count) because the input
 * may come from anyone who can write the file, and the fuzzer.
 *
 * Names start with ynode_ rather than yaml_ so that they never collide with
 * libyaml's, which owns the yaml_ prefix.
 */
#pragma once

#include "common/common.h"

#define YNODE_INPUT_MAX (1024 * 1024) /* bytes */
#define YNODE_DEPTH_MAX 16            /* nested collections */
#define YNODE_NODES_MAX 10000         /* keys, values and items together */

enum ynode_kind {
        YNODE_SCALAR,
        YNODE_SEQUENCE,
        YNODE_MAPPING,
};

struct ynode;

struct ynode_pair {
        struct ynode *key;   /* always a scalar. Owned. */
        struct ynode *value; /* Owned. */
};

struct ynode {
        enum ynode_kind kind;
        unsigned line;   /* 1-based */
        unsigned column; /* 1-based, counted in characters as libyaml does */

        char *value; /* scalar text, NUL-terminated, never contains a NUL. Owned. */
        bool plain;  /* scalar written without quotes or block indicator */

        struct ynode **items; /* sequence items in file order. Owned. */
        size_t n_items;

        struct ynode_pair *pairs; /* mapping entries in file order. Owned. */
        size_t n_pairs;
};

/* Parses text (size bytes, need not be NUL-terminated; at most
 * YNODE_INPUT_MAX). `name` is used in messages, which read
 * "NAME:LINE:COLUMN: what is wrong" (e->msg).
 *
 * On success *ret is the document's root, or NULL when the input holds no
 * document at all (empty, or only comments); the caller owns it and frees it
 * with ynode_free(). Returns -EINVAL for input that is not YAML or uses a
 * refused feature, -EFBIG when too large, -ENOMEM when libyaml runs out. */
int ynode_parse(const char *text, size_t size, const char *name, struct ynode **ret, struct err *e);

/* Frees a tree; accepts NULL; returns NULL. */
struct ynode *ynode_free(struct ynode *n);
static inline void ynode_freep(struct ynode **n) {
        ynode_free(*n);
}

/* True for what YAML reads as null: a missing value ("key:"), or a plain
 * "~", "null", "Null" or "NULL". A quoted "null" is a string. A NULL node
 * (an empty document) is null too. */
bool ynode_is_null(const struct ynode *n);

/* User text for a message: at most 64 characters of s (cut at a character
 * boundary, "..." added when cut), control characters shown as \xNN so that
 * a value cannot forge extra log lines. Writes into buf and returns it. */
#define YNODE_SHORT_MAX 80
const char *ynode_shorten(const char *s, char buf[static YNODE_SHORT_MAX]);

/* "a scalar", "a sequence", "a mapping": for messages. */
const char *ynode_kind_to_string(enum ynode_kind kind);
