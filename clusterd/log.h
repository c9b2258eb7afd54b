/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.h: the daemon's logging, a thin layer over qb_log.
 *
 * Only the daemon layer logs; pure modules return errors (with a struct err
 * message where a person needs one) and their callers decide what to log.
 * The _errno variants set errno from r so that "%m" prints it, and return r
 * (always negative), which allows:
 *
 *         return log_err_errno(r, "Failed to open database '%s': %m", path);
 */
#pragma once

#include <qb/qblog.h>
#include <stdlib.h>
#include <syslog.h>

#include "common/common.h"

#define log_error(...) qb_log(LOG_ERR, __VA_ARGS__)
#define log_warning(...) qb_log(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) qb_log(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) qb_log(LOG_INFO, __VA_ARGS__)
#define log_debug(...) qb_log(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) qb_log(LOG_TRACE, __VA_ARGS__)

#define log_full_errno(level, r, ...)                                                                                  \
        ({                                                                                                             \
                int _r_ = (r);                                                                                         \
                int _e_ = _r_ < 0 ? -_r_ : _r_;                                                                        \
                errno = _e_;                                                                                           \
                qb_log(level, __VA_ARGS__);                                                                            \
                -_e_;                                                                                                  \
        })

#define log_err_errno(r, ...) log_full_errno(LOG_ERR, r, __VA_ARGS__)
#define log_warning_errno(r, ...) log_full_errno(LOG_WARNING, r, __VA_ARGS__)
#define log_notice_errno(r, ...) log_full_errno(LOG_NOTICE, r, __VA_ARGS__)
#define log_info_errno(r, ...) log_full_errno(LOG_INFO, r, __VA_ARGS__)
#define log_debug_errno(r, ...) log_full_errno(LOG_DEBUG, r, __VA_ARGS__)

struct config;

/* Starts logging to stderr at "info" before the configuration is known. */
void log_early_init(const char *ident, bool debug);

/* Applies the log section of a (validated) configuration: target, file,
 * level; enables the blackbox. Safe to call again on reload. Returns -errno
 * when the log file cannot be opened (logging then stays where it was). */
int log_apply_config(const struct config *c);

/* While starting, warnings and errors also go to stderr whatever the
 * target, so that a daemon that cannot start says why where it was started
 * (a second instance, a bad path). Turned off once the daemon runs. */
void log_set_startup(bool startup);

/* Writes the blackbox (the last log messages at every level, kept in
 * memory) to dir/blackbox-<pid>-<time>. Async-signal-safe enough for a
 * crash handler, as corosync does. */
void log_blackbox_dump(const char *dir);

/* Installs handlers that dump the blackbox on SIGSEGV, SIGBUS, SIGILL,
 * SIGFPE and SIGABRT and then re-raise. Not used under AddressSanitizer,
 * whose own report is more useful. */
void log_install_crash_handlers(const char *dir);

void log_done(void);

/* Parses "error", "warning", "notice", "info", "debug", "trace" into a
 * syslog level (LOG_TRACE for trace); -EINVAL otherwise. */
int log_level_from_string(const char *s);
const char *log_level_to_string(int level);
