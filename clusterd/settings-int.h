/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * settings-int.h: the cluster-wide settings registry: which keys exist,
 * their types, limits and defaults, and how values are validated and put
 * into one canonical text form (which is what the database stores and
 * what operations carry, so that every node applies the same thing).
 *
 * Pure code: no I/O, no logging.
 */
#pragma once

#include "common/common.h"

enum setting_type {
        SETTING_STRING,
        SETTING_INTEGER,
        SETTING_BOOLEAN,
        SETTING_DURATION, /* canonical text "90s"; numbers in usec */
        SETTING_ENUM,
};

struct setting_def {
        const char *key;
        enum setting_type type;
        const char *default_value; /* canonical text */
        int64_t min, max;          /* INTEGER; DURATION in usec; STRING: max length in bytes */
        const char *const *values; /* ENUM: NULL-terminated */
        /* STRING: a further check of the value (NULL: none); -errno with a message. */
        int (*check)(const char *key, const char *value, struct err *e);
        const char *description;
};

/* Looks a key up. Keys under "user." (1..120 characters of [A-Za-z0-9_.-]
 * after the prefix) are free-form strings of at most 4096 bytes. Returns
 * -ENOENT with a message listing the known keys for unknown keys, -EINVAL
 * for a malformed user key. */
int settings_lookup(const char *key, const struct setting_def **ret, struct err *e);

/* All registered (non-user) settings, in display order. */
const struct setting_def *settings_all(size_t *ret_n);

static inline bool setting_is_user(const struct setting_def *d) {
        return startswith(d->key, "user.") != NULL;
}

/* Validates a value given as text (CLI notation: "5000", "yes", "90s")
 * and returns its canonical text (caller frees). Messages name the key
 * (the one the user gave: user settings share one definition), the value
 * and what is allowed. */
int setting_normalize(const struct setting_def *d, const char *key, const char *text, char **ret, struct err *e);

/* The same for a JSON value: its own type (number, boolean, string) or a
 * string in CLI notation. */
int setting_normalize_json(const struct setting_def *d, const char *key, json_object *v, char **ret, struct err *e);

/* The typed JSON form of a canonical value (integer, boolean, string). */
json_object *setting_to_json(const struct setting_def *d, const char *canonical);

/* Integer view of a canonical value (INTEGER, DURATION in usec, BOOLEAN 0/1);
 * fallback when the text does not parse (it always does for values that
 * went through setting_normalize). */
int64_t setting_int(const struct setting_def *d, const char *canonical, int64_t fallback);

const char *setting_type_to_string(enum setting_type t);
