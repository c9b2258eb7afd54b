/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-main.c: the test guest's life: parse the command line, take the
 * lease with the next generation, then tick forever.
 *
 * A copy that finds another generation in the lease says "LEASE LOST" and
 * goes on writing. That is deliberate: the guest is a witness, not a
 * safeguard. Stopping would hide exactly the double writer the integration
 * tests are there to catch; the journal keeps the evidence for
 * guestdisk.py check.
 */
#include "guest.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002
#define MULTIBOOT_INFO_CMDLINE 0x04

#define INTERVAL_DEFAULT_MS 200
#define INTERVAL_MIN_MS 10
#define INTERVAL_MAX_MS 60000
#define CMDLINE_MAX 1024 /* we look no further, whatever the loader passed */

/* The start of the multiboot information structure, as far as we read it. */
struct multiboot_info {
        uint32_t flags;
        uint32_t mem_lower;
        uint32_t mem_upper;
        uint32_t boot_device;
        uint32_t cmdline; /* physical address of a NUL-terminated string */
};

struct guest {
        char host[HOST_MAX + 1];
        uint32_t interval_ms;     /* between ticks */
        bool have_disk;           /* false: tick on the console only */
        uint32_t journal_sectors; /* N: the journal ring is sectors 1..N */
        uint64_t generation;      /* ours, taken at boot */
        uint64_t boot_id;
        uint64_t ticks;    /* ticks done since boot */
        uint64_t next_seq; /* our own cursor, used when the lease cannot be read */
        uint32_t rng;      /* xorshift32 state, for the tick jitter */
};

void guest_main(uint32_t magic, const struct multiboot_info *info);

/*
 * The time to the next tick: the interval, give or take an eighth. Two copies
 * of the guest that ticked in lockstep would claim the same journal slot every
 * time, and the second writer would erase the first one's records, the very
 * evidence of the double writer. Jitter keeps them from staying in step.
 */
static uint32_t next_delay_ms(struct guest *g) {
        uint32_t x = g->rng;

        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        g->rng = x;
        return g->interval_ms - g->interval_ms / 8 + x % (g->interval_ms / 4 + 1);
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\n';
}

/* Decimal only, no sign; false on anything else or overflow past 10^9. */
static bool parse_u32(const char *s, size_t n, uint32_t *ret) {
        uint32_t v = 0;

        if (n == 0 || n > 9)
                return false;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (uint32_t)(s[i] - '0');
        }
        *ret = v;
        return true;
}

static void apply_option(struct guest *g, const char *key, size_t key_len, const char *val, size_t val_len) {
        if (key_len == 4 && memcmp(key, "host", 4) == 0) {
                if (val_len == 0 || val_len > HOST_MAX) {
                        console_printf("guest: host name must have 1 to %u characters, keeping '%s'\n", HOST_MAX,
                                       g->host);
                        return;
                }
                memcpy(g->host, val, val_len);
                g->host[val_len] = '\0';
        } else if (key_len == 8 && memcmp(key, "interval", 8) == 0) {
                uint32_t ms;

                if (!parse_u32(val, val_len, &ms) || ms < INTERVAL_MIN_MS || ms > INTERVAL_MAX_MS) {
                        console_printf("guest: interval must be %u to %u ms, keeping %u\n", INTERVAL_MIN_MS,
                                       INTERVAL_MAX_MS, g->interval_ms);
                        return;
                }
                g->interval_ms = ms;
        }
        /* Other words (QEMU puts the kernel's file name first) are not ours. */
}

static void parse_cmdline(struct guest *g, const char *cmdline) {
        size_t i = 0;

        while (i < CMDLINE_MAX && cmdline[i]) {
                size_t start, eq = 0, end;

                while (i < CMDLINE_MAX && is_space(cmdline[i]))
                        i++;
                start = i;
                while (i < CMDLINE_MAX && cmdline[i] && !is_space(cmdline[i])) {
                        if (cmdline[i] == '=' && eq == 0)
                                eq = i;
                        i++;
                }
                end = i;
                if (eq > start)
                        apply_option(g, cmdline + start, eq - start, cmdline + eq + 1, end - eq - 1);
        }
}

/* Takes the lease: generation = the old one + 1. */
static void take_lease(struct guest *g, uint32_t disk_sectors) {
        struct lease old = { 0 }, lease;
        int r;

        r = lease_read(&old);
        if (r == -EBADMSG) {
                console_printf("guest: lease checksum is wrong, taking generation %llu from it anyway\n",
                               (unsigned long long)old.generation);
        } else if (r == -ENODEV) {
                console_printf("guest: no lease on the disk, starting at generation 1\n");
        } else if (r < 0) {
                console_printf("guest: cannot read the lease (error %u), running without a disk\n", (unsigned)-r);
                g->have_disk = false;
                return;
        }

        /* The ring is whatever the lease says, within the disk; a blank disk gets all of it. */
        g->journal_sectors = disk_sectors - 1;
        if (old.journal_sectors > 0 && old.journal_sectors < g->journal_sectors)
                g->journal_sectors = old.journal_sectors;
        g->generation = old.generation + 1;
        g->next_seq = old.next_seq;

        lease = (struct lease){
                .generation = g->generation,
                .ticks = 0,
                .next_seq = g->next_seq,
                .boot_id = g->boot_id,
                .journal_sectors = g->journal_sectors,
        };
        strscpy(lease.host, g->host, sizeof(lease.host));
        r = lease_write(&lease);
        if (r >= 0)
                r = ata_flush();
        if (r < 0) {
                console_printf("guest: cannot write the lease (error %u), running without a disk\n", (unsigned)-r);
                g->have_disk = false;
        }
}

/*
 * One tick on the disk: check the lease is still ours, then claim the next
 * journal sequence number in the lease and write the record. The sequence
 * comes from the lease just read (our own count only if that is higher), so
 * that two copies writing at once share one order and a stale copy's record
 * lands after the new copy's: that is what makes an interleaving visible in
 * the journal.
 */
static void tick_disk(struct guest *g) {
        struct lease found = { 0 }, lease;
        struct journal_record rec;
        uint64_t seq = g->next_seq, found_generation = 0;
        int r;

        r = lease_read(&found);
        if (r >= 0 || r == -EBADMSG) {
                found_generation = found.generation;
                if (found.generation != g->generation)
                        console_printf("guest: LEASE LOST host=%s mine=%llu found=%llu holder=%s\n", g->host,
                                       (unsigned long long)g->generation, (unsigned long long)found.generation,
                                       found.host);
                if (found.next_seq > seq)
                        seq = found.next_seq;
        } else if (r == -ENODEV) {
                console_printf("guest: LEASE LOST host=%s mine=%llu found=none\n", g->host,
                               (unsigned long long)g->generation);
        } else {
                console_printf("guest: cannot read the lease (error %u)\n", (unsigned)-r);
        }

        lease = (struct lease){
                .generation = g->generation,
                .ticks = g->ticks,
                .next_seq = seq + 1,
                .boot_id = g->boot_id,
                .journal_sectors = g->journal_sectors,
        };
        strscpy(lease.host, g->host, sizeof(lease.host));
        rec = (struct journal_record){
                .generation = g->generation,
                .seq = seq,
                .tick = g->ticks,
                .boot_id = g->boot_id,
                .lease_generation = found_generation,
        };
        strscpy(rec.host, g->host, sizeof(rec.host));

        r = lease_write(&lease);
        if (r >= 0)
                r = journal_append(&rec, g->journal_sectors);
        if (r >= 0)
                r = ata_flush();
        if (r < 0)
                console_printf("guest: disk write failed at tick %llu (error %u)\n", (unsigned long long)g->ticks,
                               (unsigned)-r);
        g->next_seq = seq + 1;
}

void guest_main(uint32_t magic, const struct multiboot_info *info) {
        struct guest g = {
                .host = "guest",
                .interval_ms = INTERVAL_DEFAULT_MS,
        };
        uint32_t disk_sectors = 0, last_ms;
        int r;

        console_init();
        timer_init();
        g.boot_id = timer_boot_id();
        g.rng = (uint32_t)g.boot_id | 1; /* xorshift must not start at 0 */

        if (magic != MULTIBOOT_BOOTLOADER_MAGIC)
                console_printf("guest: not started by a multiboot loader, using defaults\n");
        else if (info->flags & MULTIBOOT_INFO_CMDLINE)
                parse_cmdline(&g, (const char *)(uintptr_t)info->cmdline);

        r = ata_identify(&disk_sectors);
        if (r < 0) {
                console_printf("guest: no IDE disk (error %u), running without a lease\n", (unsigned)-r);
        } else {
                g.have_disk = true;
                take_lease(&g, disk_sectors);
        }
        if (g.have_disk)
                console_printf("guest: disk sectors=%u journal=%u next_seq=%llu\n", disk_sectors, g.journal_sectors,
                               (unsigned long long)g.next_seq);
        console_printf("guest: boot host=%s gen=%llu\n", g.host, (unsigned long long)g.generation);

        /* Ticks keep to a schedule; after a stall (a slow host) we skip ahead rather than burst. */
        last_ms = timer_now_ms();
        for (;;) {
                uint32_t delay = next_delay_ms(&g), now;

                timer_sleep_until(last_ms, delay);
                last_ms += delay;
                now = timer_now_ms();
                if (now - last_ms >= g.interval_ms)
                        last_ms = now;

                g.ticks++;
                if (g.have_disk)
                        tick_disk(&g);
                console_printf("guest: tick %llu host=%s gen=%llu\n", (unsigned long long)g.ticks, g.host,
                               (unsigned long long)g.generation);
        }
}
