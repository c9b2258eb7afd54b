/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-disk.c: the on-disk layout, shared with guestdisk.py (README.md has
 * the table; change both together). All integers are little-endian; host
 * names are NUL-padded. Each structure fills one sector and is written with
 * one ATA command, so a record is either old or new, never half of each.
 */
#include "guest.h"

#define LEASE_LBA 0
#define JOURNAL_LBA 1

#define LEASE_MAGIC "CLDGUEST"
#define LEASE_VERSION 1
#define LEASE_OFF_GENERATION 8
#define LEASE_OFF_HOST 16
#define LEASE_OFF_TICKS 80
#define LEASE_OFF_NEXT_SEQ 88
#define LEASE_OFF_BOOT_ID 96
#define LEASE_OFF_VERSION 104
#define LEASE_OFF_JOURNAL_SECTORS 108
#define LEASE_OFF_CRC 112 /* crc32 of bytes 0..111 */

#define RECORD_MAGIC "CLDJOURN"
#define RECORD_OFF_GENERATION 8
#define RECORD_OFF_HOST 16
#define RECORD_OFF_SEQ 80
#define RECORD_OFF_TICK 88
#define RECORD_OFF_BOOT_ID 96
#define RECORD_OFF_LEASE_GENERATION 104
#define RECORD_OFF_CRC 112 /* crc32 of bytes 0..111 */

#define MAGIC_SIZE 8
#define HOST_FIELD 64

static void put_host(uint8_t *p, const char *host) {
        size_t n = strlen(host);

        memset(p, 0, HOST_FIELD);
        memcpy(p, host, n < HOST_MAX ? n : HOST_MAX);
}

static void get_host(const uint8_t *p, char *host) {
        /* The field may lack a NUL if another writer filled all 64 bytes. */
        memcpy(host, p, HOST_MAX);
        host[HOST_MAX] = '\0';
}

int lease_read(struct lease *ret) {
        uint8_t buf[SECTOR_SIZE];
        int r;

        r = ata_read(LEASE_LBA, buf);
        if (r < 0)
                return r;
        if (memcmp(buf, LEASE_MAGIC, MAGIC_SIZE) != 0)
                return -ENODEV;

        *ret = (struct lease){
                .generation = get_le64(buf + LEASE_OFF_GENERATION),
                .ticks = get_le64(buf + LEASE_OFF_TICKS),
                .next_seq = get_le64(buf + LEASE_OFF_NEXT_SEQ),
                .boot_id = get_le64(buf + LEASE_OFF_BOOT_ID),
                .journal_sectors = get_le32(buf + LEASE_OFF_JOURNAL_SECTORS),
        };
        get_host(buf + LEASE_OFF_HOST, ret->host);
        if (get_le32(buf + LEASE_OFF_CRC) != crc32(buf, LEASE_OFF_CRC))
                return -EBADMSG;
        return 0;
}

int lease_write(const struct lease *lease) {
        uint8_t buf[SECTOR_SIZE];

        memset(buf, 0, sizeof(buf));
        memcpy(buf, LEASE_MAGIC, MAGIC_SIZE);
        put_le64(buf + LEASE_OFF_GENERATION, lease->generation);
        put_host(buf + LEASE_OFF_HOST, lease->host);
        put_le64(buf + LEASE_OFF_TICKS, lease->ticks);
        put_le64(buf + LEASE_OFF_NEXT_SEQ, lease->next_seq);
        put_le64(buf + LEASE_OFF_BOOT_ID, lease->boot_id);
        put_le32(buf + LEASE_OFF_VERSION, LEASE_VERSION);
        put_le32(buf + LEASE_OFF_JOURNAL_SECTORS, lease->journal_sectors);
        put_le32(buf + LEASE_OFF_CRC, crc32(buf, LEASE_OFF_CRC));
        return ata_write(LEASE_LBA, buf);
}

/* seq % n without __umoddi3 (see div10() in guest-console.c): n fits 32 bits. */
static uint32_t mod32(uint64_t seq, uint32_t n) {
        uint32_t hi = (uint32_t)(seq >> 32) % n;
        uint32_t lo = (uint32_t)seq;

        /* (hi * 2^32 + lo) mod n, one bit at a time so nothing overflows. */
        for (int i = 31; i >= 0; i--) {
                uint64_t t = (uint64_t)hi << 1 | ((lo >> i) & 1);

                hi = (uint32_t)(t >= n ? t - n : t);
        }
        return hi;
}

int journal_append(const struct journal_record *rec, uint32_t journal_sectors) {
        uint8_t buf[SECTOR_SIZE];

        if (journal_sectors == 0)
                return -EINVAL;
        memset(buf, 0, sizeof(buf));
        memcpy(buf, RECORD_MAGIC, MAGIC_SIZE);
        put_le64(buf + RECORD_OFF_GENERATION, rec->generation);
        put_host(buf + RECORD_OFF_HOST, rec->host);
        put_le64(buf + RECORD_OFF_SEQ, rec->seq);
        put_le64(buf + RECORD_OFF_TICK, rec->tick);
        put_le64(buf + RECORD_OFF_BOOT_ID, rec->boot_id);
        put_le64(buf + RECORD_OFF_LEASE_GENERATION, rec->lease_generation);
        put_le32(buf + RECORD_OFF_CRC, crc32(buf, RECORD_OFF_CRC));
        return ata_write(JOURNAL_LBA + mod32(rec->seq, journal_sectors), buf);
}
