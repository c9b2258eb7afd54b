/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-json.c: strict JSON parsing and typed access with clear errors. */
#include <inttypes.h>

#include "common/common.h"

#define JSON_MAX_DEPTH 32

/* json-c passes invalid UTF-8 through; a value stored from it would make
 * every later reply that contains it invalid JSON for strict clients. */
static int check_utf8(json_object *o, const char *where, struct err *e) {
        switch (json_object_get_type(o)) {
        case json_type_string:
                if (!utf8_is_valid(json_object_get_string(o), (size_t)json_object_get_string_len(o)))
                        return err_set(e, -EINVAL, "%s: the string is not valid UTF-8", where);
                return 0;
        case json_type_object: {
                json_object_object_foreach(o, key, val) {
                        if (!utf8_is_valid(key, strlen(key)))
                                return err_set(e, -EINVAL, "a field name is not valid UTF-8");
                        char sub[96];
                        snprintf(sub, sizeof(sub), "field '%.64s'", key);
                        int r = check_utf8(val, sub, e);
                        if (r < 0)
                                return r;
                }
                return 0;
        }
        case json_type_array:
                for (size_t i = 0; i < json_object_array_length(o); i++) {
                        int r = check_utf8(json_object_array_get_idx(o, i), where, e);
                        if (r < 0)
                                return r;
                }
                return 0;
        default:
                return 0;
        }
}

int json_parse_object(const char *data, size_t size, json_object **ret, struct err *e) {
        _cleanup_json_ json_object *o = NULL;
        json_tokener *tok;
        enum json_tokener_error jerr;
        size_t consumed;

        if (size == 0)
                return err_set(e, -EINVAL, "empty body, expected a JSON object");
        if (size > INT32_MAX)
                return err_set(e, -EFBIG, "body too large");
        if (memchr(data, '\0', size))
                return err_set(e, -EINVAL, "body contains a NUL byte");

        tok = json_tokener_new_ex(JSON_MAX_DEPTH);
        if (!tok)
                return err_set(e, -ENOMEM, "out of memory");
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        o = json_tokener_parse_ex(tok, data, (int)size);
        jerr = json_tokener_get_error(tok);
        consumed = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);

        if (jerr == json_tokener_continue)
                return err_set(e, -EINVAL, "invalid JSON: unexpected end of input at offset %zu", size);
        if (jerr != json_tokener_success || !o)
                return err_set(e, -EINVAL, "invalid JSON at offset %zu: %s", consumed, json_tokener_error_desc(jerr));
        for (size_t i = consumed; i < size; i++)
                if (data[i] != ' ' && data[i] != '\n' && data[i] != '\r' && data[i] != '\t')
                        return err_set(e, -EINVAL, "invalid JSON: trailing data at offset %zu", i);
        if (!json_object_is_type(o, json_type_object))
                return err_set(e, -EINVAL, "expected a JSON object, got %s",
                               json_type_to_name(json_object_get_type(o)));
        int r = check_utf8(o, "body", e);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(o);
        return 0;
}

static int get_typed(json_object *o, const char *key, bool required, json_type type, const char *type_name,
                     json_object **ret, struct err *e) {
        json_object *v;

        if (!json_object_object_get_ex(o, key, &v) || !v) {
                if (required)
                        return err_set(e, -EINVAL, "field '%s' is required", key);
                return 0;
        }
        if (!json_object_is_type(v, type))
                return err_set(e, -EINVAL, "field '%s': expected %s, got %s", key, type_name,
                               json_type_to_name(json_object_get_type(v)));
        *ret = v;
        return 1;
}

int json_get_string(json_object *o, const char *key, bool required, const char **ret, struct err *e) {
        json_object *v;
        int r = get_typed(o, key, required, json_type_string, "a string", &v, e);
        if (r <= 0)
                return r;
        const char *s = json_object_get_string(v);
        if (strlen(s) != (size_t)json_object_get_string_len(v))
                return err_set(e, -EINVAL, "field '%s': string contains a NUL character", key);
        *ret = s;
        return 0;
}

int json_get_int64(json_object *o, const char *key, bool required, int64_t *ret, struct err *e) {
        json_object *v;
        int r = get_typed(o, key, required, json_type_int, "an integer", &v, e);
        if (r <= 0)
                return r;
        errno = 0;
        int64_t i = json_object_get_int64(v);
        if (errno != 0)
                return err_set(e, -ERANGE, "field '%s': integer out of range", key);
        *ret = i;
        return 0;
}

int json_get_bool(json_object *o, const char *key, bool required, bool *ret, struct err *e) {
        json_object *v;
        int r = get_typed(o, key, required, json_type_boolean, "true or false", &v, e);
        if (r <= 0)
                return r;
        *ret = json_object_get_boolean(v);
        return 0;
}

int json_get_array(json_object *o, const char *key, bool required, json_object **ret, struct err *e) {
        json_object *v;
        int r = get_typed(o, key, required, json_type_array, "an array", &v, e);
        if (r <= 0)
                return r;
        *ret = v;
        return 0;
}

int json_get_object(json_object *o, const char *key, bool required, json_object **ret, struct err *e) {
        json_object *v;
        int r = get_typed(o, key, required, json_type_object, "an object", &v, e);
        if (r <= 0)
                return r;
        *ret = v;
        return 0;
}

int json_check_keys(json_object *o, const char *const *allowed, struct err *e) {
        json_object_object_foreach(o, key, val) {
                bool ok = false;
                (void)val;
                for (const char *const *a = allowed; *a; a++)
                        if (streq(*a, key)) {
                                ok = true;
                                break;
                        }
                if (!ok)
                        return err_set(e, -EINVAL, "unknown field '%s'", key);
        }
        return 0;
}

void json_add_string(json_object *o, const char *key, const char *value) {
        json_object_object_add(o, key, value ? json_object_new_string(value) : NULL);
}

void json_add_int(json_object *o, const char *key, int64_t value) {
        json_object_object_add(o, key, json_object_new_int64(value));
}

void json_add_bool(json_object *o, const char *key, bool value) {
        json_object_object_add(o, key, json_object_new_boolean(value));
}

void json_add_timestamp(json_object *o, const char *key, uint64_t realtime_usec) {
        char buf[TIMESTAMP_MAX];
        if (realtime_usec == 0) {
                json_object_object_add(o, key, NULL);
                return;
        }
        json_add_string(o, key, format_timestamp(buf, realtime_usec));
}
