/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-watchdog-device.c: the kernel's watchdog device (/dev/watchdog).
 *
 * Opening the device starts it, so it is opened by arm, not by open.
 * Closing it without first writing the magic 'V' leaves it running (unless
 * the driver was built with nowayout, in which case nothing stops it): that
 * is what a crash does, and what close does while armed. Every call is an
 * open, an ioctl or a one-byte write on a character device: none blocks.
 */
#include <fcntl.h>
#include <linux/watchdog.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "clusterd/watchdog-int.h"

struct device {
        char *path; /* owned */
        int fd;     /* owned; open while armed, -1 otherwise */
};

static int device_open(const char *target, void **ret_data) {
        struct stat st;

        if (stat(target, &st) == -1)
                return -errno;
        if (!S_ISCHR(st.st_mode))
                return -ENOTTY;
        struct device *d = xcalloc(1, sizeof(*d));
        d->path = xstrdup(target);
        d->fd = -1;
        *ret_data = d;
        return 0;
}

/* Writes the magic character and closes: the driver stops the timer. */
static int magic_close(struct device *d) {
        int r = 0;
        if (d->fd < 0)
                return 0;
        if (write(d->fd, "V", 1) != 1)
                r = -errno;
        d->fd = safe_close(d->fd);
        return r;
}

static int device_arm(void *data, uint64_t timeout_usec, uint64_t *ret_timeout_usec) {
        struct device *d = data;
        bool opened = false;
        /* Whole seconds, rounded down so that it never fires later than
         * asked, and at least the device's smallest step. */
        int secs = (int)MIN(MAX(timeout_usec / USEC_PER_SEC, 1), (uint64_t)INT32_MAX);
        int r;

        if (d->fd < 0) {
                d->fd = open(d->path, O_WRONLY | O_CLOEXEC);
                if (d->fd < 0) {
                        d->fd = -1;
                        return -errno;
                }
                opened = true;
        }
        /* Some devices have a fixed timeout: then what they have is it. */
        if (ioctl(d->fd, WDIOC_SETTIMEOUT, &secs) == -1 && ioctl(d->fd, WDIOC_GETTIMEOUT, &secs) == -1)
                goto fail;
        if (ioctl(d->fd, WDIOC_KEEPALIVE, 0) == -1)
                goto fail;
        *ret_timeout_usec = (uint64_t)secs * USEC_PER_SEC;
        return 0;

fail:
        r = -errno;
        /* Opening started it; a failed arm must not leave it running. */
        if (opened)
                (void)magic_close(d);
        return r;
}

static int device_pet(void *data) {
        struct device *d = data;
        if (d->fd < 0)
                return -EBADF;
        if (ioctl(d->fd, WDIOC_KEEPALIVE, 0) == -1)
                return -errno;
        return 0;
}

static int device_disarm(void *data) {
        struct device *d = data;
        /* Not open here: a previous daemon may have left it running.
         * Opening it restarts the timer, and the magic close stops it. */
        if (d->fd < 0) {
                d->fd = open(d->path, O_WRONLY | O_CLOEXEC);
                if (d->fd < 0) {
                        d->fd = -1;
                        return -errno;
                }
        }
        return magic_close(d);
}

static void device_close(void *data) {
        struct device *d = data;
        if (!d)
                return;
        /* No magic character: an armed watchdog stays armed. */
        safe_close(d->fd);
        free(d->path);
        free(d);
}

const struct watchdog_ops watchdog_device_ops = {
        .name = "device",
        .open = device_open,
        .arm = device_arm,
        .pet = device_pet,
        .disarm = device_disarm,
        .close = device_close,
};
