/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-settings.c: the registry of cluster-wide settings and their validation. */
#include <ctype.h>

#include "clusterd/settings-int.h"
#include "quorum/witness-int.h"

#define USER_PREFIX "user."
#define USER_KEY_MAX 120
#define USER_VALUE_MAX 4096

static int check_witness(const char *key, const char *value, struct err *e) {
        struct witness_url u;
        if (streq(value, "none"))
                return 0;
        return witness_url_parse(value, &u, e);
}

/* Only settings that something reads belong here: a key that does nothing
 * would mislead an operator. */
static const struct setting_def registry[] = {
        {
                .key = "cluster.description",
                .type = SETTING_STRING,
                .default_value = "",
                .min = 0,
                .max = 256,
                .description = "Free text shown by 'clusterctl status' and the API.",
        },
        {
                .key = "events.max-entries",
                .type = SETTING_INTEGER,
                .default_value = "10000",
                .min = 100,
                .max = 1000000,
                .description = "How many events the cluster keeps; older ones are pruned.",
        },
        {
                .key = "fencing.watchdog-margin",
                .type = SETTING_DURATION,
                .default_value = "1s",
                .min = 0,
                .max = (int64_t)(10 * USEC_PER_MINUTE),
                .description = "Added to a lost node's watchdog timeout before its roles start elsewhere: covers "
                               "the difference between when it saw quorum go and when the others saw it leave.",
        },
        {
                .key = "placement.memory-overcommit",
                .type = SETTING_BOOLEAN,
                .default_value = "false",
                .min = 0,
                .max = 0,
                .description = "Allow placing more VM memory on a node than it has.",
        },
        {
                .key = "placement.cpu-overcommit",
                .type = SETTING_INTEGER,
                .default_value = "4",
                .min = 1,
                .max = 64,
                .description = "vCPUs a node may host per logical CPU.",
        },
        {
                .key = "join.token-ttl",
                .type = SETTING_DURATION,
                .default_value = "1h",
                .min = (int64_t)USEC_PER_MINUTE,
                .max = (int64_t)(7 * USEC_PER_DAY),
                .description = "How long a join token from 'node add' stays valid unless the request says otherwise.",
        },
        {
                .key = "quorum.witness",
                .type = SETTING_STRING,
                .default_value = "none",
                .min = 0,
                .max = WITNESS_URL_MAX,
                .check = check_witness,
                .description =
                        "The witness: none, smb://HOST/SHARE[/FOLDER] or azure://ACCOUNT/CONTAINER[?endpoint=URL]. "
                        "Its vote counts when the number of voting nodes is even. Credentials come from each "
                        "node's witness.credentials file.",
        },
        {
                .key = "quorum.witness-lease",
                .type = SETTING_DURATION,
                .default_value = "6s",
                .min = (int64_t)(5 * USEC_PER_SEC),
                .max = (int64_t)USEC_PER_MINUTE,
                .description = "How long one write to the witness keeps other partitions out; a partition that "
                               "lost the holder takes the witness about this long (plus 2% and 0.1s) after its last "
                               "renewal.",
        },
};

const struct setting_def *settings_all(size_t *ret_n) {
        *ret_n = ELEMENTSOF(registry);
        return registry;
}

const char *setting_type_to_string(enum setting_type t) {
        switch (t) {
        case SETTING_STRING:
                return "string";
        case SETTING_INTEGER:
                return "integer";
        case SETTING_BOOLEAN:
                return "boolean";
        case SETTING_DURATION:
                return "duration";
        case SETTING_ENUM:
                return "enum";
        }
        return "unknown";
}

static bool user_key_valid(const char *rest) {
        size_t n = strlen(rest);
        if (n == 0 || n > USER_KEY_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)rest[i]) && !strchr("_.-", rest[i]))
                        return false;
        return true;
}

int settings_lookup(const char *key, const struct setting_def **ret, struct err *e) {
        /* One definition serves every user key; callers use the key they
         * were given, never d->key, for user settings. */
        static const struct setting_def user_def = {
                .key = USER_PREFIX "*",
                .type = SETTING_STRING,
                .default_value = NULL,
                .min = 0,
                .max = USER_VALUE_MAX,
                .description = "Operator-defined value.",
        };
        const char *rest;

        for (size_t i = 0; i < ELEMENTSOF(registry); i++)
                if (streq(registry[i].key, key)) {
                        *ret = &registry[i];
                        return 0;
                }
        rest = startswith(key, USER_PREFIX);
        if (rest) {
                if (!user_key_valid(rest))
                        return err_set(e, -EINVAL,
                                       "invalid setting key '%s': after 'user.' use 1 to %d characters of "
                                       "letters, digits, '_', '.' and '-'",
                                       key, USER_KEY_MAX);
                *ret = &user_def;
                return 0;
        }

        char known[256] = "";
        size_t off = 0;
        for (size_t i = 0; i < ELEMENTSOF(registry) && off < sizeof(known); i++) {
                int w = snprintf(known + off, sizeof(known) - off, "%s%s", i ? ", " : "", registry[i].key);
                if (w < 0)
                        break;
                off += (size_t)w;
        }
        return err_set(e, -ENOENT, "unknown setting '%s' (known: %s, or 'user.NAME' for your own)", key, known);
}

static int normalize_integer(const struct setting_def *d, const char *key, const char *text, char **ret,
                             struct err *e) {
        int64_t v;
        int r = parse_int64(text, &v);
        if (r < 0 || v < d->min || v > d->max)
                return err_set(e, -EINVAL,
                               "setting '%s' must be an integer between %" PRId64 " and %" PRId64 ", got '%s'", key,
                               d->min, d->max, text);
        *ret = xasprintf("%" PRId64, v);
        return 0;
}

static int normalize_duration(const struct setting_def *d, const char *key, const char *text, char **ret,
                              struct err *e) {
        char lo[64], hi[64], buf[64];
        uint64_t v;
        int r = parse_duration_usec(text, &v);
        if (r < 0 || v < (uint64_t)d->min || v > (uint64_t)d->max)
                return err_set(e, -EINVAL,
                               "setting '%s' must be a duration between %s and %s (e.g. '90s', '2h'), got '%s'", key,
                               format_duration(lo, sizeof(lo), (uint64_t)d->min),
                               format_duration(hi, sizeof(hi), (uint64_t)d->max), text);
        *ret = xstrdup(format_duration(buf, sizeof(buf), v));
        return 0;
}

int setting_normalize(const struct setting_def *d, const char *key, const char *text, char **ret, struct err *e) {
        int r;

        switch (d->type) {
        case SETTING_STRING:
                if (d->check && (r = d->check(key, text, e)) < 0)
                        return r;
                if (strlen(text) > (size_t)d->max)
                        return err_set(e, -EINVAL, "setting '%s' must be at most %" PRId64 " bytes, got %zu", key,
                                       d->max, strlen(text));
                for (const char *p = text; *p; p++)
                        if ((unsigned char)*p < 0x20 && *p != '\t')
                                return err_set(e, -EINVAL, "setting '%s' must not contain control characters", key);
                *ret = xstrdup(text);
                return 0;
        case SETTING_INTEGER:
                return normalize_integer(d, key, text, ret, e);
        case SETTING_BOOLEAN:
                r = parse_bool(text);
                if (r < 0)
                        return err_set(e, -EINVAL, "setting '%s' must be true or false, got '%s'", key, text);
                *ret = xstrdup(r ? "true" : "false");
                return 0;
        case SETTING_DURATION:
                return normalize_duration(d, key, text, ret, e);
        case SETTING_ENUM:
                for (const char *const *v = d->values; v && *v; v++)
                        if (streq(*v, text)) {
                                *ret = xstrdup(text);
                                return 0;
                        }
                return err_set(e, -EINVAL, "setting '%s' does not accept '%s'", key, text);
        }
        return -EINVAL;
}

int setting_normalize_json(const struct setting_def *d, const char *key, json_object *v, char **ret, struct err *e) {
        char buf[64];

        switch (json_object_get_type(v)) {
        case json_type_string:
                return setting_normalize(d, key, json_object_get_string(v), ret, e);
        case json_type_int:
                if (d->type != SETTING_INTEGER && d->type != SETTING_STRING)
                        break;
                snprintf(buf, sizeof(buf), "%" PRId64, json_object_get_int64(v));
                return setting_normalize(d, key, buf, ret, e);
        case json_type_boolean:
                if (d->type != SETTING_BOOLEAN && d->type != SETTING_STRING)
                        break;
                return setting_normalize(d, key, json_object_get_boolean(v) ? "true" : "false", ret, e);
        default:
                break;
        }
        return err_set(e, -EINVAL, "setting '%s' expects a value of type %s, got %s", key,
                       setting_type_to_string(d->type), json_type_to_name(json_object_get_type(v)));
}

int64_t setting_int(const struct setting_def *d, const char *canonical, int64_t fallback) {
        int64_t i;
        uint64_t u;

        switch (d->type) {
        case SETTING_INTEGER:
                return parse_int64(canonical, &i) < 0 ? fallback : i;
        case SETTING_DURATION:
                return parse_duration_usec(canonical, &u) < 0 || u > INT64_MAX ? fallback : (int64_t)u;
        case SETTING_BOOLEAN:
                i = parse_bool(canonical);
                return i < 0 ? fallback : i;
        default:
                return fallback;
        }
}

json_object *setting_to_json(const struct setting_def *d, const char *canonical) {
        if (!canonical)
                return NULL;
        switch (d->type) {
        case SETTING_INTEGER:
                return json_object_new_int64(setting_int(d, canonical, 0));
        case SETTING_BOOLEAN:
                return json_object_new_boolean(setting_int(d, canonical, 0) != 0);
        default:
                return json_object_new_string(canonical);
        }
}
