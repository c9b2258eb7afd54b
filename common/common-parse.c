/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-parse.c: durations, sizes, integers and booleans as people write them. */
#include <ctype.h>
#include <inttypes.h>
#include <limits.h>
#include <strings.h>

#include "common/common.h"

int parse_uint64(const char *s, uint64_t *ret) {
        uint64_t v = 0;

        if (!s || !*s)
                return -EINVAL;
        for (const char *p = s; *p; p++) {
                if (!isdigit((unsigned char)*p))
                        return -EINVAL;
                unsigned d = (unsigned)(*p - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *ret = v;
        return 0;
}

int parse_int64(const char *s, int64_t *ret) {
        uint64_t v;
        bool neg = false;
        int r;

        if (!s)
                return -EINVAL;
        if (*s == '-' || *s == '+') {
                neg = *s == '-';
                s++;
        }
        r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (neg) {
                if (v > (uint64_t)INT64_MAX + 1)
                        return -ERANGE;
                *ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
        } else {
                if (v > (uint64_t)INT64_MAX)
                        return -ERANGE;
                *ret = (int64_t)v;
        }
        return 0;
}

int parse_uint32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r = parse_uint64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t)v;
        return 0;
}

int parse_bool(const char *s) {
        static const char *const yes[] = { "1", "yes", "y", "true", "on" };
        static const char *const no[] = { "0", "no", "n", "false", "off" };

        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0)
                        return 1;
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0)
                        return 0;
        return -EINVAL;
}

/* Parses "<number>[.<fraction>]<unit>" pieces; shared by durations and sizes.
 * The fraction is kept to 6 digits, which is enough for microseconds. */
struct unit {
        const char *suffix;
        uint64_t factor;
};

static int parse_with_units(const char *s, const struct unit *units, size_t n_units, uint64_t default_factor,
                            bool allow_combination, uint64_t *ret) {
        uint64_t total = 0;
        bool any = false;

        if (!s)
                return -EINVAL;
        while (isspace((unsigned char)*s))
                s++;
        if (!*s)
                return -EINVAL;

        while (*s) {
                uint64_t whole = 0, frac = 0, frac_div = 1, factor = 0;
                const char *start = s;

                if (any && !allow_combination)
                        return -EINVAL;
                while (isdigit((unsigned char)*s)) {
                        unsigned d = (unsigned)(*s - '0');
                        if (whole > (UINT64_MAX - d) / 10)
                                return -ERANGE;
                        whole = whole * 10 + d;
                        s++;
                }
                if (*s == '.') {
                        s++;
                        if (!isdigit((unsigned char)*s))
                                return -EINVAL;
                        while (isdigit((unsigned char)*s)) {
                                if (frac_div < 1000000) {
                                        frac = frac * 10 + (unsigned)(*s - '0');
                                        frac_div *= 10;
                                }
                                s++;
                        }
                }
                if (s == start)
                        return -EINVAL;
                while (isspace((unsigned char)*s))
                        s++;

                /* Longest matching suffix wins ("ms" before "m"). */
                size_t best = 0;
                for (size_t i = 0; i < n_units; i++) {
                        size_t l = strlen(units[i].suffix);
                        if (l > best && strncmp(s, units[i].suffix, l) == 0 && !isalpha((unsigned char)s[l])) {
                                best = l;
                                factor = units[i].factor;
                        }
                }
                if (best == 0) {
                        if (*s && !isdigit((unsigned char)*s))
                                return -EINVAL;
                        if (any)
                                return -EINVAL; /* "1m30" is ambiguous */
                        factor = default_factor;
                }
                s += best;
                while (isspace((unsigned char)*s))
                        s++;

                if (factor == 0 || whole > UINT64_MAX / factor)
                        return -ERANGE;
                uint64_t v = whole * factor;
                uint64_t f = frac * (factor / frac_div) + (frac * (factor % frac_div)) / frac_div;
                if (v > UINT64_MAX - f || total > UINT64_MAX - v - f)
                        return -ERANGE;
                total += v + f;
                any = true;
        }
        *ret = total;
        return 0;
}

int parse_duration_usec(const char *s, uint64_t *ret_usec) {
        static const struct unit units[] = {
                { "us", 1 },
                { "ms", USEC_PER_MSEC },
                { "s", USEC_PER_SEC },
                { "sec", USEC_PER_SEC },
                { "m", USEC_PER_MINUTE },
                { "min", USEC_PER_MINUTE },
                { "h", USEC_PER_HOUR },
                { "d", USEC_PER_DAY },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), USEC_PER_SEC, true, ret_usec);
}

int parse_size(const char *s, uint64_t *ret_bytes) {
        static const struct unit units[] = {
                { "B", 1 },
                { "K", UINT64_C(1) << 10 },
                { "KiB", UINT64_C(1) << 10 },
                { "M", UINT64_C(1) << 20 },
                { "MiB", UINT64_C(1) << 20 },
                { "G", UINT64_C(1) << 30 },
                { "GiB", UINT64_C(1) << 30 },
                { "T", UINT64_C(1) << 40 },
                { "TiB", UINT64_C(1) << 40 },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), 1, false, ret_bytes);
}

char *format_duration(char *buf, size_t size, uint64_t usec) {
        static const struct unit units[] = {
                { "d", USEC_PER_DAY }, { "h", USEC_PER_HOUR },  { "m", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC }, { "ms", USEC_PER_MSEC }, { "us", 1 },
        };
        size_t off = 0;

        if (usec == 0) {
                snprintf(buf, size, "0");
                return buf;
        }
        buf[0] = '\0';
        for (size_t i = 0; i < ELEMENTSOF(units) && usec > 0; i++) {
                uint64_t n = usec / units[i].factor;
                if (n == 0)
                        continue;
                int w = snprintf(buf + off, off < size ? size - off : 0, "%" PRIu64 "%s", n, units[i].suffix);
                if (w < 0 || (size_t)w >= size - MIN(off, size))
                        break;
                off += (size_t)w;
                usec -= n * units[i].factor;
        }
        return buf;
}

char *format_size(char *buf, size_t size, uint64_t bytes) {
        static const struct unit units[] = {
                { "TiB", UINT64_C(1) << 40 },
                { "GiB", UINT64_C(1) << 30 },
                { "MiB", UINT64_C(1) << 20 },
                { "KiB", UINT64_C(1) << 10 },
        };
        for (size_t i = 0; i < ELEMENTSOF(units); i++)
                if (bytes >= units[i].factor && bytes % units[i].factor == 0) {
                        snprintf(buf, size, "%" PRIu64 "%s", bytes / units[i].factor, units[i].suffix);
                        return buf;
                }
        snprintf(buf, size, "%" PRIu64 "B", bytes);
        return buf;
}

bool name_is_valid(const char *s) {
        size_t n;

        if (!s)
                return false;
        n = strlen(s);
        if (n == 0 || n > 63 || !isalnum((unsigned char)s[0]))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
                        return false;
        return true;
}

bool utf8_is_valid(const char *s, size_t n) {
        const unsigned char *p = (const unsigned char *)s, *end = p + n;

        while (p < end) {
                unsigned char c = *p;
                size_t len;
                uint32_t cp;

                if (c < 0x80) {
                        p++;
                        continue;
                }
                if ((c & 0xe0) == 0xc0) {
                        len = 2;
                        cp = c & 0x1f;
                } else if ((c & 0xf0) == 0xe0) {
                        len = 3;
                        cp = c & 0x0f;
                } else if ((c & 0xf8) == 0xf0) {
                        len = 4;
                        cp = c & 0x07;
                } else
                        return false;
                if ((size_t)(end - p) < len)
                        return false;
                for (size_t i = 1; i < len; i++) {
                        if ((p[i] & 0xc0) != 0x80)
                                return false;
                        cp = (cp << 6) | (p[i] & 0x3f);
                }
                if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
                    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
                        return false;
                p += len;
        }
        return true;
}
