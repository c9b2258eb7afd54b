/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-lib.c: the libc functions a freestanding compiler may still emit calls
 * to (memset, memcpy, memmove, memcmp), and the checksum.
 */
#include "guest.h"

/* gcc may call memmove for overlapping struct copies; nothing else uses it. */
void *memmove(void *dst, const void *src, size_t n);

void *memset(void *dst, int c, size_t n) {
        uint8_t *d = dst;

        while (n--)
                *d++ = (uint8_t)c;
        return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
        uint8_t *d = dst;
        const uint8_t *s = src;

        while (n--)
                *d++ = *s++;
        return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
        uint8_t *d = dst;
        const uint8_t *s = src;

        if (d < s) {
                while (n--)
                        *d++ = *s++;
        } else {
                while (n--)
                        d[n] = s[n];
        }
        return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
        const uint8_t *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return x[i] < y[i] ? -1 : 1;
        return 0;
}

size_t strlen(const char *s) {
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

void strscpy(char *dst, const char *src, size_t size) {
        size_t i;

        for (i = 0; i + 1 < size && src[i]; i++)
                dst[i] = src[i];
        dst[i] = '\0';
}

uint32_t crc32(const void *data, size_t size) {
        const uint8_t *p = data;
        uint32_t crc = 0xffffffff;

        /* Bit by bit: a table would be faster, but we checksum two sectors per tick. */
        while (size--) {
                crc ^= *p++;
                for (int k = 0; k < 8; k++)
                        crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
        }
        return ~crc;
}
