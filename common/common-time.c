/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-time.c: clocks and RFC 3339 timestamps. */
#include <inttypes.h>
#include <time.h>

#include "common/common.h"

static uint64_t now(clockid_t clock) {
        struct timespec ts;
        if (clock_gettime(clock, &ts) == -1)
                abort(); /* cannot fail for these clocks */
        return (uint64_t)ts.tv_sec * USEC_PER_SEC + (uint64_t)ts.tv_nsec / NSEC_PER_USEC;
}

uint64_t now_monotonic_usec(void) {
        return now(CLOCK_MONOTONIC);
}

uint64_t now_realtime_usec(void) {
        return now(CLOCK_REALTIME);
}

char *format_timestamp(char buf[TIMESTAMP_MAX], uint64_t realtime_usec) {
        time_t sec = (time_t)(realtime_usec / USEC_PER_SEC);
        struct tm tm;

        if (!gmtime_r(&sec, &tm)) {
                snprintf(buf, TIMESTAMP_MAX, "invalid");
                return buf;
        }
        snprintf(buf, TIMESTAMP_MAX, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)((realtime_usec % USEC_PER_SEC) / USEC_PER_MSEC));
        return buf;
}

int parse_timestamp(const char *s, uint64_t *ret_realtime_usec) {
        struct tm tm = {};
        unsigned frac = 0, frac_digits = 0;
        const char *p;
        time_t t;

        if (!s)
                return -EINVAL;
        p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (!p)
                return -EINVAL;
        if (*p == '.') {
                p++;
                while (*p >= '0' && *p <= '9') {
                        if (frac_digits < 6) {
                                frac = frac * 10 + (unsigned)(*p - '0');
                                frac_digits++;
                        }
                        p++;
                }
                if (frac_digits == 0)
                        return -EINVAL;
                while (frac_digits < 6) {
                        frac *= 10;
                        frac_digits++;
                }
        }
        if (!streq(p, "Z") && !streq(p, "+00:00"))
                return -EINVAL;
        t = timegm(&tm);
        if (t < 0)
                return -ERANGE;
        *ret_realtime_usec = (uint64_t)t * USEC_PER_SEC + frac;
        return 0;
}
