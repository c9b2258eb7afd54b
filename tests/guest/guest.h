/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest.h: the test guest, a freestanding 32-bit x86 kernel that QEMU boots
 * with -kernel (multiboot v1). It proves, from inside a VM, which copy of the
 * VM is running and in which order copies wrote to its disk; see README.md
 * for the command line, the serial output and the disk layout.
 *
 * There is no libc: only the compiler's freestanding headers. Every function
 * that can fail returns >= 0 on success and a negative errno on failure,
 * like the rest of clusterd.
 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Linux's errno values; there is no <errno.h> without a libc. */
#define EIO 5
#define ENODEV 19
#define EINVAL 22
#define EBADMSG 74
#define ETIMEDOUT 110

#define SECTOR_SIZE 512
#define HOST_MAX 63 /* host name length, without the NUL */

/* Port I/O. */
static inline void outb(uint16_t port, uint8_t v) {
        __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port) {
        uint8_t v;

        __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
        return v;
}

/* Little-endian field access in a sector buffer. */
static inline void put_le32(uint8_t *p, uint32_t v) {
        for (int i = 0; i < 4; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

static inline void put_le64(uint8_t *p, uint64_t v) {
        put_le32(p, (uint32_t)v);
        put_le32(p + 4, (uint32_t)(v >> 32));
}

static inline uint32_t get_le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t get_le64(const uint8_t *p) {
        return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* guest-lib.c: the few libc pieces the compiler may call, and text helpers. */
void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
/* Copies at most size - 1 bytes of src and always terminates dst. */
void strscpy(char *dst, const char *src, size_t size);
/* IEEE 802.3 CRC-32, the same as Python's zlib.crc32(). */
uint32_t crc32(const void *data, size_t size);

/* guest-console.c: COM1 at 115200 8N1, polled. */
void console_init(void);
/*
 * A small printf: %s, %c, %u, %x, %llu, %llx and %%. Nothing else (no widths),
 * so a bad format shows up as the literal text rather than reading a wrong
 * argument.
 */
void console_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* guest-timer.c: a clock and sleep from the PIT. Interrupts stay off outside timer_sleep_until(). */
void timer_init(void);
/*
 * Milliseconds since timer_init(); wraps after 49 days. The clock only
 * advances while someone reads it: code that waits must call this at least
 * every 50 ms (the busy-waits here do, and sleeping does).
 */
uint32_t timer_now_ms(void);
/* Sleeps in hlt, so an idle guest costs the host nothing, until timer_now_ms() - since >= ms. */
void timer_sleep_until(uint32_t since, uint32_t ms);
/* A value that differs between two boots: the TSC. */
uint64_t timer_boot_id(void);

/*
 * guest-ata.c: the primary IDE master through ATA PIO, LBA28. Each call
 * waits for the drive (at most a few seconds) and returns 0 or -EIO,
 * -ENODEV, -ETIMEDOUT.
 */
/* Identifies the drive; on success stores its size in sectors. */
int ata_identify(uint32_t *ret_sectors);
int ata_read(uint32_t lba, uint8_t *buf);
int ata_write(uint32_t lba, const uint8_t *buf);
/* Makes the writes so far durable on the host (FLUSH CACHE). */
int ata_flush(void);

/* guest-disk.c: the lease block (sector 0) and the journal ring (sectors 1..N). */
struct lease {
        uint64_t generation;      /* bumped by every boot */
        char host[HOST_MAX + 1];  /* host of the copy that wrote it last */
        uint64_t ticks;           /* that copy's tick counter */
        uint64_t next_seq;        /* sequence number of the next journal record */
        uint64_t boot_id;         /* that copy's boot id */
        uint32_t journal_sectors; /* N: the ring is sectors 1..N */
};

struct journal_record {
        uint64_t generation;       /* the writer's generation */
        char host[HOST_MAX + 1];   /* the writer's host */
        uint64_t seq;              /* global write order; the record lives at sector 1 + seq % N */
        uint64_t tick;             /* the writer's tick counter */
        uint64_t boot_id;          /* the writer's boot id */
        uint64_t lease_generation; /* found in the lease before writing; 0: no lease or unreadable */
};

/*
 * Reads the lease block. Returns 0 and fills *ret; -ENODEV when sector 0 holds
 * no lease (a blank disk); -EBADMSG when the magic is there but the checksum
 * is wrong (*ret is still filled, for the caller to decide); -EIO and friends
 * from the drive.
 */
int lease_read(struct lease *ret);
int lease_write(const struct lease *lease);
/* Writes the record to its slot in a ring of journal_sectors sectors. */
int journal_append(const struct journal_record *rec, uint32_t journal_sectors);
