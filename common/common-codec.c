/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-codec.c: base64, hex, SipHash-2-4 and randomness. */
#include <sys/random.h>

#include "common/common.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t size) {
        const uint8_t *in = data;
        char *out = xmalloc((size + 2) / 3 * 4 + 1), *o = out;
        size_t i;

        for (i = 0; i + 2 < size; i += 3) {
                *o++ = b64_alphabet[in[i] >> 2];
                *o++ = b64_alphabet[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
                *o++ = b64_alphabet[((in[i + 1] & 0x0f) << 2) | (in[i + 2] >> 6)];
                *o++ = b64_alphabet[in[i + 2] & 0x3f];
        }
        if (i < size) {
                *o++ = b64_alphabet[in[i] >> 2];
                if (i + 1 < size) {
                        *o++ = b64_alphabet[((in[i] & 0x03) << 4) | (in[i + 1] >> 4)];
                        *o++ = b64_alphabet[(in[i + 1] & 0x0f) << 2];
                } else {
                        *o++ = b64_alphabet[(in[i] & 0x03) << 4];
                        *o++ = '=';
                }
                *o++ = '=';
        }
        *o = '\0';
        return out;
}

static int b64_value(char c) {
        const char *p = c ? strchr(b64_alphabet, c) : NULL;
        return p ? (int)(p - b64_alphabet) : -1;
}

int base64_decode(const char *s, void **ret, size_t *ret_size) {
        size_t len = strlen(s), n = 0;
        _cleanup_free_ uint8_t *out = NULL;

        if (len % 4 != 0)
                return -EINVAL;
        out = xmalloc(len / 4 * 3 + 1);
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                size_t pad = 0;
                for (size_t j = 0; j < 4; j++) {
                        if (s[i + j] == '=') {
                                /* Padding only at the very end, at most two. */
                                if (i + 4 != len || j < 2)
                                        return -EINVAL;
                                v[j] = 0;
                                pad++;
                        } else {
                                if (pad > 0)
                                        return -EINVAL;
                                v[j] = b64_value(s[i + j]);
                                if (v[j] < 0)
                                        return -EINVAL;
                        }
                }
                uint32_t w = ((uint32_t)v[0] << 18) | ((uint32_t)v[1] << 12) | ((uint32_t)v[2] << 6) | (uint32_t)v[3];
                out[n++] = (uint8_t)(w >> 16);
                if (pad < 2)
                        out[n++] = (uint8_t)(w >> 8);
                if (pad < 1)
                        out[n++] = (uint8_t)w;
        }
        *ret = TAKE_PTR(out);
        *ret_size = n;
        return 0;
}

char *hex_encode(char *buf, const void *data, size_t size) {
        static const char digits[] = "0123456789abcdef";
        const uint8_t *p = data;
        for (size_t i = 0; i < size; i++) {
                buf[2 * i] = digits[p[i] >> 4];
                buf[2 * i + 1] = digits[p[i] & 0xf];
        }
        buf[2 * size] = '\0';
        return buf;
}

static int hex_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hex_decode(const char *s, void *buf, size_t size) {
        uint8_t *out = buf;
        if (strlen(s) != 2 * size)
                return -EINVAL;
        for (size_t i = 0; i < size; i++) {
                int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[i] = (uint8_t)((hi << 4) | lo);
        }
        return 0;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
        do {                                                                                                           \
                v0 += v1;                                                                                              \
                v1 = ROTL(v1, 13);                                                                                     \
                v1 ^= v0;                                                                                              \
                v0 = ROTL(v0, 32);                                                                                     \
                v2 += v3;                                                                                              \
                v3 = ROTL(v3, 16);                                                                                     \
                v3 ^= v2;                                                                                              \
                v0 += v3;                                                                                              \
                v3 = ROTL(v3, 21);                                                                                     \
                v3 ^= v0;                                                                                              \
                v2 += v1;                                                                                              \
                v1 = ROTL(v1, 17);                                                                                     \
                v1 ^= v2;                                                                                              \
                v2 = ROTL(v2, 32);                                                                                     \
        } while (0)

static uint64_t load_le64(const uint8_t *p) {
        uint64_t v = 0;
        for (int i = 7; i >= 0; i--)
                v = (v << 8) | p[i];
        return v;
}

uint64_t siphash24(uint64_t k0, uint64_t k1, const void *data, size_t size) {
        const uint8_t *in = data;
        uint64_t v0 = UINT64_C(0x736f6d6570736575) ^ k0;
        uint64_t v1 = UINT64_C(0x646f72616e646f6d) ^ k1;
        uint64_t v2 = UINT64_C(0x6c7967656e657261) ^ k0;
        uint64_t v3 = UINT64_C(0x7465646279746573) ^ k1;
        size_t full = size & ~(size_t)7;
        uint64_t b = (uint64_t)size << 56;

        for (size_t i = 0; i < full; i += 8) {
                uint64_t m = load_le64(in + i);
                v3 ^= m;
                SIPROUND;
                SIPROUND;
                v0 ^= m;
        }
        for (size_t i = 0; i < (size & 7); i++)
                b |= (uint64_t)in[full + i] << (8 * i);
        v3 ^= b;
        SIPROUND;
        SIPROUND;
        v0 ^= b;
        v2 ^= 0xff;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        SIPROUND;
        return v0 ^ v1 ^ v2 ^ v3;
}

int random_bytes(void *buf, size_t size) {
        uint8_t *p = buf;
        while (size > 0) {
                ssize_t n = getrandom(p, size, 0);
                if (n == -1) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += n;
                size -= (size_t)n;
        }
        return 0;
}

int random_string(char *buf, size_t len) {
        static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
        uint8_t raw[256];
        size_t done = 0;
        int r;

        while (done < len) {
                r = random_bytes(raw, sizeof(raw));
                if (r < 0)
                        return r;
                /* Rejection sampling keeps the distribution uniform. */
                for (size_t i = 0; i < sizeof(raw) && done < len; i++)
                        if (raw[i] < 252)
                                buf[done++] = alphabet[raw[i] % 36];
        }
        buf[len] = '\0';
        return 0;
}
