/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-console.c: output on COM1, the only way the guest talks to the tests
 * (QEMU's -serial file:...). Lines end with "\n" alone so that the log file
 * reads like any other.
 */
#include "guest.h"

#define COM1 0x3f8
#define COM1_DATA (COM1 + 0)
#define COM1_IER (COM1 + 1) /* with DLAB: divisor high byte */
#define COM1_FCR (COM1 + 2)
#define COM1_LCR (COM1 + 3)
#define COM1_MCR (COM1 + 4)
#define COM1_LSR (COM1 + 5)
#define LSR_THR_EMPTY 0x20

void console_init(void) {
        outb(COM1_IER, 0x00);  /* we poll; no UART interrupts */
        outb(COM1_LCR, 0x80);  /* DLAB on, to set the divisor */
        outb(COM1_DATA, 0x01); /* 115200 baud */
        outb(COM1_IER, 0x00);
        outb(COM1_LCR, 0x03); /* 8N1, DLAB off */
        outb(COM1_FCR, 0xc7); /* FIFO on and cleared */
        outb(COM1_MCR, 0x03); /* DTR, RTS */
}

static void put_char(char c) {
        /*
         * Bounded, so that a missing UART cannot hang the guest; QEMU's is
         * always ready at once.
         */
        for (int i = 0; i < 100000 && !(inb(COM1_LSR) & LSR_THR_EMPTY); i++)
                ;
        outb(COM1_DATA, (uint8_t)c);
}

static void put_str(const char *s) {
        while (*s)
                put_char(*s++);
}

/* 64-bit division needs libgcc's __udivdi3, which we do not link: divide in 16-bit steps. */
static uint64_t div10(uint64_t n, uint32_t *ret_rem) {
        uint32_t hi = (uint32_t)(n >> 32), lo = (uint32_t)n;
        uint32_t q_hi = hi / 10, r = hi % 10;
        uint32_t mid = r << 16 | lo >> 16; /* < 10 * 2^16, so the quotient fits 16 bits */
        uint32_t q_mid = mid / 10;
        uint32_t low = (mid % 10) << 16 | (lo & 0xffff);

        *ret_rem = low % 10;
        return (uint64_t)q_hi << 32 | q_mid << 16 | low / 10;
}

static void put_u64(uint64_t v, bool hex) {
        char buf[24];
        int n = 0;

        do {
                uint32_t digit;

                if (hex) {
                        digit = (uint32_t)v & 0xf;
                        v >>= 4;
                } else {
                        v = div10(v, &digit);
                }
                buf[n++] = "0123456789abcdef"[digit];
        } while (v);
        while (n)
                put_char(buf[--n]);
}

void console_printf(const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        for (const char *p = fmt; *p; p++) {
                if (*p != '%') {
                        put_char(*p);
                        continue;
                }
                p++;
                if (*p == 's') {
                        put_str(va_arg(ap, const char *));
                } else if (*p == 'c') {
                        put_char((char)va_arg(ap, int));
                } else if (*p == 'u' || *p == 'x') {
                        put_u64(va_arg(ap, unsigned int), *p == 'x');
                } else if (p[0] == 'l' && p[1] == 'l' && (p[2] == 'u' || p[2] == 'x')) {
                        put_u64(va_arg(ap, unsigned long long), p[2] == 'x');
                        p += 2;
                } else if (*p == '%') {
                        put_char('%');
                } else {
                        /* Unknown: print it as it stands and stop, rather than guess the argument. */
                        put_char('%');
                        if (*p)
                                put_str(p);
                        break;
                }
        }
        va_end(ap);
}
