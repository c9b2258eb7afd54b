/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * watchdog-int.h: the node's self-fencing watchdog.
 *
 * Armed, the watchdog resets the node unless it is petted within the
 * timeout; that is what lets the rest of the cluster treat a node that lost
 * quorum as gone once its timeout has passed. Backends:
 *
 *   "/dev/watchdog"  (any absolute path) a kernel watchdog device
 *   "unix:/path"     an external clusterd-watchdog process on a unix
 *                    stream socket (where no device exists)
 *   "none"           no watchdog: every call succeeds and does nothing
 *
 * Closing while armed (or the daemon crashing) leaves the deadline running:
 * the node is reset unless someone arms it again. A clean stop disarms
 * first. Every call is non-blocking or strictly bounded (socket writes give
 * up after a few milliseconds), so the main loop can pet from a timer; the
 * caller schedules the pets (well within the timeout, e.g. every third).
 */
#pragma once

#include <sys/types.h>

#include "common/common.h"

struct watchdog;

/* How long a socket write may wait before it fails. */
#define WATCHDOG_SOCKET_SEND_TIMEOUT_USEC (20 * USEC_PER_MSEC)

/* Opens the watchdog that spec names (see above) without arming it; the
 * device is not opened yet (opening it would start it), the socket is
 * connected. Caller owns *ret. -EINVAL for a malformed spec, -ENOENT or
 * -ECONNREFUSED when the device or the socket is not there, -ENOTTY when
 * the path is not a character device. */
int watchdog_open(const char *spec, struct watchdog **ret);

/* Starts (or restarts with a new timeout) the deadline: the node is reset
 * unless watchdog_pet() or watchdog_disarm() follows within timeout_usec.
 * The backend may change the timeout: a device counts in whole seconds
 * (rounded down, at least 1 s); *ret_timeout_usec (may be NULL) gets what
 * is in force. -EINVAL for a zero timeout; -errno from the backend. */
int watchdog_arm(struct watchdog *w, uint64_t timeout_usec, uint64_t *ret_timeout_usec);

/* Moves the deadline to now + timeout. -EINVAL when not armed. */
int watchdog_pet(struct watchdog *w);

/* Stops the deadline. Disarming a disarmed watchdog is fine, and the
 * request reaches the backend even if this handle never armed it: a
 * daemon restarted after a crash may find it armed by its predecessor. */
int watchdog_disarm(struct watchdog *w);

/* Releases w; if it is still armed the deadline keeps running (a crash
 * looks the same). Accepts NULL; returns NULL. */
struct watchdog *watchdog_close(struct watchdog *w);

bool watchdog_is_armed(const struct watchdog *w);
/* "device", "socket" or "none". */
const char *watchdog_backend(const struct watchdog *w);

/* ------------------------------------------------------------------------ */
/* Backends (one per file: clusterd-watchdog-device.c, -socket.c)            */

struct watchdog_ops {
        const char *name;
        /* target is the spec without its prefix ("/dev/watchdog", "/run/wd.sock");
         * *ret_data is the backend's state, freed by close(). */
        int (*open)(const char *target, void **ret_data);
        int (*arm)(void *data, uint64_t timeout_usec, uint64_t *ret_timeout_usec);
        int (*pet)(void *data);
        int (*disarm)(void *data);
        /* Frees data; armed stays armed. */
        void (*close)(void *data);
};

extern const struct watchdog_ops watchdog_device_ops;
extern const struct watchdog_ops watchdog_socket_ops;
