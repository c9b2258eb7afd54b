/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-watchdog-backend.c: picks a watchdog backend from its
 * configuration string and keeps the state every backend shares (armed or
 * not, the timeout in force). Also the "none" backend, which does nothing.
 */
#include "clusterd/watchdog-int.h"

struct watchdog {
        const struct watchdog_ops *ops;
        void *data; /* owned by ops */
        bool armed;
        uint64_t timeout_usec; /* in force while armed */
};

static int none_open(const char *target, void **ret_data) {
        *ret_data = NULL;
        return 0;
}

static int none_arm(void *data, uint64_t timeout_usec, uint64_t *ret_timeout_usec) {
        *ret_timeout_usec = timeout_usec;
        return 0;
}

static int none_op(void *data) {
        return 0;
}

static void none_close(void *data) {
}

static const struct watchdog_ops none_ops = {
        .name = "none",
        .open = none_open,
        .arm = none_arm,
        .pet = none_op,
        .disarm = none_op,
        .close = none_close,
};

int watchdog_open(const char *spec, struct watchdog **ret) {
        const struct watchdog_ops *ops;
        const char *target;
        void *data = NULL;
        int r;

        if (!spec || !ret)
                return -EINVAL;
        if (streq(spec, "none")) {
                ops = &none_ops;
                target = spec;
        } else if ((target = startswith(spec, "unix:"))) {
                if (target[0] != '/')
                        return -EINVAL;
                ops = &watchdog_socket_ops;
        } else if (spec[0] == '/') {
                ops = &watchdog_device_ops;
                target = spec;
        } else
                return -EINVAL;

        if ((r = ops->open(target, &data)) < 0)
                return r;
        struct watchdog *w = xcalloc(1, sizeof(*w));
        w->ops = ops;
        w->data = data;
        *ret = w;
        return 0;
}

int watchdog_arm(struct watchdog *w, uint64_t timeout_usec, uint64_t *ret_timeout_usec) {
        uint64_t t = 0;
        int r;

        if (!w || timeout_usec == 0)
                return -EINVAL;
        if ((r = w->ops->arm(w->data, timeout_usec, &t)) < 0)
                return r;
        w->armed = true;
        w->timeout_usec = t;
        if (ret_timeout_usec)
                *ret_timeout_usec = t;
        return 0;
}

int watchdog_pet(struct watchdog *w) {
        if (!w || !w->armed)
                return -EINVAL;
        return w->ops->pet(w->data);
}

int watchdog_disarm(struct watchdog *w) {
        if (!w)
                return -EINVAL;
        /* Passed on even when this handle never armed it: a daemon that
         * restarts after a crash may find it armed by its predecessor. */
        int r = w->ops->disarm(w->data);
        if (r >= 0)
                w->armed = false;
        return r;
}

struct watchdog *watchdog_close(struct watchdog *w) {
        if (!w)
                return NULL;
        w->ops->close(w->data);
        free(w);
        return NULL;
}

bool watchdog_is_armed(const struct watchdog *w) {
        return w && w->armed;
}

const char *watchdog_backend(const struct watchdog *w) {
        return w ? w->ops->name : "none";
}
