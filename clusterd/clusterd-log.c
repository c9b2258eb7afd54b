/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-log.c: where the daemon's log goes (stderr, syslog or a file),
 * at which level, and the blackbox: an in-memory ring of recent messages at
 * every level, written to a file on a crash or on SIGUSR1 and read with
 * qb-blackbox(8).
 */
#include <signal.h>
#include <strings.h>
#include <time.h>

#include "clusterd/config-int.h"
#include "clusterd/log.h"

/* The target of the current log file, or -1. Only touched on the main loop
 * (startup and SIGHUP), so a plain static is fine; it is part of the log
 * level/target state that STYLE allows to be global. */
static int32_t file_target = -1;
static char blackbox_dir[256];
static bool startup_stderr;
static enum log_target current_target = LOG_TARGET_STDERR;
static int current_level = LOG_INFO;

static const char *const level_names[] = {
        [LOG_ERR] = "error", [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice",
        [LOG_INFO] = "info", [LOG_DEBUG] = "debug",     [LOG_TRACE] = "trace",
};

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (level_names[i] && strcasecmp(level_names[i], s) == 0)
                        return (int)i;
        if (strcasecmp(s, "err") == 0)
                return LOG_ERR;
        if (strcasecmp(s, "warn") == 0)
                return LOG_WARNING;
        return -EINVAL;
}

const char *log_level_to_string(int level) {
        if (level >= 0 && (size_t)level < ELEMENTSOF(level_names) && level_names[level])
                return level_names[level];
        return "unknown";
}

static void set_level(int32_t target, int level) {
        qb_log_filter_ctl(target, QB_LOG_FILTER_CLEAR_ALL, QB_LOG_FILTER_FILE, "*", LOG_TRACE);
        qb_log_filter_ctl(target, QB_LOG_FILTER_ADD, QB_LOG_FILTER_FILE, "*", (uint8_t)level);
}

void log_early_init(const char *ident, bool debug) {
        qb_log_init(ident, LOG_DAEMON, LOG_INFO);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, QB_FALSE);
        qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
        qb_log_format_set(QB_LOG_STDERR, "%T %N[%P] %p: %b");
        set_level(QB_LOG_STDERR, debug ? LOG_DEBUG : LOG_INFO);

        /* The blackbox keeps everything down to trace. 256 KiB holds a few
         * thousand messages and keeps the idle footprint small. */
        qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_SIZE, 256 * 1024);
        qb_log_ctl(QB_LOG_BLACKBOX, QB_LOG_CONF_ENABLED, QB_TRUE);
        set_level(QB_LOG_BLACKBOX, LOG_TRACE);
}

int log_apply_config(const struct config *c) {
        int32_t new_file = -1;

        if (c->log.target == LOG_TARGET_FILE) {
                new_file = qb_log_file_open(c->log.file);
                if (new_file < 0)
                        return new_file;
                qb_log_format_set(new_file, "%T %N[%P] %p: %b");
                qb_log_ctl(new_file, QB_LOG_CONF_ENABLED, QB_TRUE);
                set_level(new_file, c->log.level);
        }

        current_target = c->log.target;
        current_level = c->log.level;
        log_set_startup(startup_stderr);
        qb_log_ctl(QB_LOG_SYSLOG, QB_LOG_CONF_ENABLED, c->log.target == LOG_TARGET_SYSLOG ? QB_TRUE : QB_FALSE);
        if (c->log.target == LOG_TARGET_SYSLOG) {
                qb_log_format_set(QB_LOG_SYSLOG, "%p: %b");
                set_level(QB_LOG_SYSLOG, c->log.level);
        }

        if (file_target >= 0)
                qb_log_file_close(file_target);
        file_target = new_file;

        snprintf(blackbox_dir, sizeof(blackbox_dir), "%s", c->state_dir);
        return 0;
}

void log_set_startup(bool startup) {
        startup_stderr = startup;
        if (current_target == LOG_TARGET_STDERR) {
                qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
                set_level(QB_LOG_STDERR, current_level);
        } else if (startup) {
                qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_TRUE);
                set_level(QB_LOG_STDERR, LOG_WARNING);
        } else
                qb_log_ctl(QB_LOG_STDERR, QB_LOG_CONF_ENABLED, QB_FALSE);
}

void log_blackbox_dump(const char *dir) {
        char path[512];
        snprintf(path, sizeof(path), "%s/blackbox-%d-%lld",
                 dir && *dir ? dir : (blackbox_dir[0] ? blackbox_dir : "/tmp"), (int)getpid(), (long long)time(NULL));
        qb_log_blackbox_write_to_file(path);
}

static void crash_handler(int sig) {
        log_blackbox_dump(NULL);
        signal(sig, SIG_DFL);
        raise(sig);
}

void log_install_crash_handlers(const char *dir) {
        static const int sigs[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT };
        struct sigaction sa = { .sa_handler = crash_handler, .sa_flags = SA_RESETHAND };

        snprintf(blackbox_dir, sizeof(blackbox_dir), "%s", dir);
        sigemptyset(&sa.sa_mask);
        for (size_t i = 0; i < ELEMENTSOF(sigs); i++)
                sigaction(sigs[i], &sa, NULL);
}

void log_done(void) {
        if (file_target >= 0)
                qb_log_file_close(file_target);
        file_target = -1;
        qb_log_fini();
}
