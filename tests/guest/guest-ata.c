/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * guest-ata.c: the first IDE disk (QEMU's -drive ...,if=ide,index=0: primary
 * master) through ATA PIO with 28-bit LBAs, one sector per command.
 *
 * PIO keeps the driver to a page: no DMA set-up, no interrupts (nIEN is set,
 * and IRQ14 stays masked). QEMU completes a command before the guest can see
 * BSY clear, so when ata_write() returns the host process has written the
 * sector; ata_flush() additionally asks it to fdatasync.
 */
#include "guest.h"

#define ATA_DATA 0x1f0
#define ATA_ERROR 0x1f1
#define ATA_COUNT 0x1f2
#define ATA_LBA0 0x1f3
#define ATA_LBA1 0x1f4
#define ATA_LBA2 0x1f5
#define ATA_DRIVE 0x1f6
#define ATA_STATUS 0x1f7 /* read */
#define ATA_CMD 0x1f7    /* write */
#define ATA_CTRL 0x3f6

#define ST_ERR 0x01
#define ST_DRQ 0x08
#define ST_DF 0x20
#define ST_BSY 0x80

#define CMD_READ 0x20
#define CMD_WRITE 0x30
#define CMD_FLUSH 0xe7
#define CMD_IDENTIFY 0xec

#define CTRL_NIEN 0x02
#define DRIVE_MASTER_LBA 0xe0

#define ATA_TIMEOUT_MS 5000

/* Waits until BSY clears and, if want_drq, DRQ sets. */
static int wait_ready(bool want_drq) {
        uint32_t start = timer_now_ms();

        for (;;) {
                uint8_t st = inb(ATA_STATUS);

                if (st == 0xff) /* floating bus: no controller or no drive */
                        return -ENODEV;
                if (!(st & ST_BSY)) {
                        if (st & (ST_ERR | ST_DF))
                                return -EIO;
                        if (!want_drq || (st & ST_DRQ))
                                return 0;
                }
                if (timer_now_ms() - start >= ATA_TIMEOUT_MS)
                        return -ETIMEDOUT;
        }
}

static int issue(uint8_t cmd, uint32_t lba, uint8_t count) {
        int r;

        r = wait_ready(false);
        if (r < 0)
                return r;
        outb(ATA_CTRL, CTRL_NIEN);
        outb(ATA_DRIVE, (uint8_t)(DRIVE_MASTER_LBA | ((lba >> 24) & 0x0f)));
        outb(ATA_COUNT, count);
        outb(ATA_LBA0, (uint8_t)lba);
        outb(ATA_LBA1, (uint8_t)(lba >> 8));
        outb(ATA_LBA2, (uint8_t)(lba >> 16));
        outb(ATA_CMD, cmd);
        /* The status register is valid 400 ns after a command: four reads of the alternate status. */
        for (int i = 0; i < 4; i++)
                (void)inb(ATA_CTRL);
        return 0;
}

/*
 * One rep insw/outsw per sector rather than 256 inw/outw: under KVM each
 * port access is an exit to QEMU, and a string instruction is one for the
 * whole sector. Shorter disk I/O also narrows the window in which two
 * copies of the guest race for the same journal slot.
 */
static void read_sector_data(uint8_t *buf) {
        uint32_t words = SECTOR_SIZE / 2;

        __asm__ volatile("rep insw" : "+D"(buf), "+c"(words) : "d"(ATA_DATA) : "memory");
}

static void write_sector_data(const uint8_t *buf) {
        uint32_t words = SECTOR_SIZE / 2;

        __asm__ volatile("rep outsw" : "+S"(buf), "+c"(words) : "d"(ATA_DATA) : "memory");
}

int ata_identify(uint32_t *ret_sectors) {
        uint8_t id[SECTOR_SIZE];
        uint32_t sectors;
        int r;

        outb(ATA_DRIVE, DRIVE_MASTER_LBA);
        if (inb(ATA_STATUS) == 0xff)
                return -ENODEV;
        r = issue(CMD_IDENTIFY, 0, 0);
        if (r < 0)
                return r;
        /* Status 0: no drive. An ATAPI drive (a CD-ROM) aborts IDENTIFY. */
        if (inb(ATA_STATUS) == 0)
                return -ENODEV;
        r = wait_ready(true);
        if (r == -EIO)
                return -ENODEV;
        if (r < 0)
                return r;
        read_sector_data(id);

        /* Words 60-61: sectors addressable with LBA28. */
        sectors = get_le32(id + 120);
        if (sectors < 2)
                return -ENODEV;
        *ret_sectors = sectors;
        return 0;
}

int ata_read(uint32_t lba, uint8_t *buf) {
        int r;

        if (lba >= 1U << 28)
                return -EINVAL;
        r = issue(CMD_READ, lba, 1);
        if (r < 0)
                return r;
        r = wait_ready(true);
        if (r < 0)
                return r;
        read_sector_data(buf);
        return 0;
}

int ata_write(uint32_t lba, const uint8_t *buf) {
        int r;

        if (lba >= 1U << 28)
                return -EINVAL;
        r = issue(CMD_WRITE, lba, 1);
        if (r < 0)
                return r;
        r = wait_ready(true);
        if (r < 0)
                return r;
        write_sector_data(buf);
        return wait_ready(false);
}

int ata_flush(void) {
        int r;

        r = issue(CMD_FLUSH, 0, 0);
        if (r < 0)
                return r;
        return wait_ready(false);
}
