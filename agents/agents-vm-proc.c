/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * agents-vm-proc.c: the QEMU process: starting it detached, finding it
 * again, and knowing when it is gone.
 *
 * A pid alone is not an identity: a pid file can be stale and its pid
 * reused by an unrelated process that a stop would then kill. So every
 * process is opened as a pidfd first and only then checked (its command
 * line names the VM); signals go through the pidfd, which keeps referring
 * to that process even if the pid is reused.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/wait.h>

#include "agents/vm-int.h"

/* /proc/PID/cmdline of a QEMU with a long kernel command line stays well
 * below this. */
#define CMDLINE_MAX (256 * 1024)

/* QEMU's error output kept for the message when it fails to start. */
#define STDERR_KEEP 3072

static void closedirp(DIR **d) {
        if (*d)
                closedir(*d);
}

bool vm_kvm_usable(void) {
        _cleanup_close_ int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
        int vm;

        if (fd == -1)
                return false;
        if (ioctl(fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
                return false;
        /* /dev/kvm can exist and open while VM creation fails (nested
         * virtualisation turned off, a module that lacks VMX/SVM support). */
        vm = ioctl(fd, KVM_CREATE_VM, 0);
        if (vm == -1)
                return false;
        safe_close(vm);
        return true;
}

/* Whether the NUL-separated args in buf have `a` directly followed by `b`. */
static bool args_have_pair(const char *buf, size_t size, const char *a, const char *b) {
        const char *prev = NULL;

        for (const char *p = buf; p < buf + size;) {
                const char *end = memchr(p, '\0', (size_t)(buf + size - p));
                if (!end)
                        break;
                if (prev && streq(prev, a) && streq(p, b))
                        return true;
                prev = p;
                p = end + 1;
        }
        return false;
}

/* Whether pid's command line is c's QEMU: "-name NAME", and when `strict`
 * also c's QMP socket. */
static bool cmdline_matches(const struct vm_config *c, pid_t pid, bool strict) {
        _cleanup_free_ char *cmdline = NULL, *path = NULL, *qmp = NULL;
        size_t size;

        path = xasprintf("/proc/%d/cmdline", (int)pid);
        if (read_full_file(path, CMDLINE_MAX, &cmdline, &size) < 0)
                return false;
        if (!args_have_pair(cmdline, size, "-name", c->name))
                return false;
        qmp = xasprintf("unix:%s,server=on,wait=off", c->qmp_path);
        return !strict || args_have_pair(cmdline, size, "-qmp", qmp);
}

/* Opens pid as a pidfd if it is c's QEMU (see cmdline_matches()). 1 with
 * *ret_pidfd, 0 if not (or gone). */
static int open_verified(const struct vm_config *c, pid_t pid, bool strict, int *ret_pidfd) {
        _cleanup_close_ int pidfd = -1;
        struct pollfd p;

        /* The first look is cheap and rules out nearly every process of a
         * /proc scan without opening it. */
        if (pid <= 1 || pid == getpid() || !cmdline_matches(c, pid, strict))
                return 0;
        pidfd = pidfd_open(pid, 0);
        if (pidfd == -1)
                return errno == ESRCH ? 0 : -errno;
        /* The pid may have been reused between the first look and
         * pidfd_open(): look again. What is read now belongs to the pidfd's
         * process if that process is still alive afterwards (a live
         * process's pid cannot be reused). */
        if (!cmdline_matches(c, pid, strict))
                return 0;
        p = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        if (poll(&p, 1, 0) != 0)
                return 0;
        *ret_pidfd = TAKE_FD(pidfd);
        return 1;
}

static int read_pid_file(const char *path, pid_t *ret) {
        _cleanup_free_ char *s = NULL;
        uint32_t pid;
        int r;

        r = read_full_file(path, 64, &s, NULL);
        if (r < 0)
                return r;
        s[strcspn(s, " \t\r\n")] = '\0';
        if (parse_uint32(s, &pid) < 0 || pid == 0 || pid > INT_MAX)
                return -EBADMSG;
        *ret = (pid_t)pid;
        return 0;
}

int vm_find(const struct vm_config *c, pid_t *ret_pid, int *ret_pidfd, struct err *e) {
        _cleanup_(closedirp) DIR *d = NULL;
        struct dirent *de;
        pid_t pid;
        int pidfd = -1, r;

        r = read_pid_file(c->pid_path, &pid);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return err_set(e, r, "pid file '%s': %s", c->pid_path, strerror(-r));
        if (r >= 0) {
                r = open_verified(c, pid, false, &pidfd);
                if (r < 0)
                        return err_set(e, r, "pid %d from '%s': %s", (int)pid, c->pid_path, strerror(-r));
                if (r > 0)
                        goto found;
        }

        /* No usable pid file: a QEMU started for this VM may still run (its
         * pid file removed by hand, or a full /run). Saying "not running"
         * then would let the VM be started a second time. */
        d = opendir("/proc");
        if (!d)
                return err_set(e, -errno, "/proc: %m");
        while ((de = readdir(d))) {
                uint32_t n;
                if (parse_uint32(de->d_name, &n) < 0 || n > INT_MAX)
                        continue;
                r = open_verified(c, (pid_t)n, true, &pidfd);
                if (r > 0) {
                        pid = (pid_t)n;
                        goto found;
                }
        }
        return 0;
found:
        *ret_pid = pid;
        *ret_pidfd = pidfd;
        return 1;
}

int vm_wait_exit(int pidfd, uint64_t deadline_usec) {
        for (;;) {
                struct pollfd p = { .fd = pidfd, .events = POLLIN };
                uint64_t now = now_monotonic_usec();
                uint64_t ms = now >= deadline_usec ? 0 : (deadline_usec - now + 999) / USEC_PER_MSEC;
                int n = poll(&p, 1, (int)MIN(ms, (uint64_t)INT_MAX));
                if (n == -1 && errno == EINTR)
                        continue;
                if (n > 0)
                        return 1;
                if (n == 0 && now_monotonic_usec() >= deadline_usec)
                        return 0;
                if (n == -1)
                        return -errno;
        }
}

/* In the child between fork and exec: a clean slate for QEMU. */
_noreturn_ static void exec_qemu(char *const *argv, int err_fd) {
        static char path[] = "PATH=/usr/sbin:/usr/bin:/sbin:/bin", lc_all[] = "LC_ALL=C";
        char *const env[] = { path, lc_all, NULL };
        sigset_t none;
        int null_fd;

        /* Dispositions set to "ignore" and the signal mask survive exec; a
         * QEMU that ignores SIGTERM could not be stopped gracefully. */
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        for (int sig = 1; sig < NSIG; sig++)
                signal(sig, SIG_DFL);

        null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd == -1 || dup2(null_fd, STDIN_FILENO) == -1 || dup2(null_fd, STDOUT_FILENO) == -1 ||
            dup2(err_fd, STDERR_FILENO) == -1 || chdir("/") == -1)
                _exit(126);
        /* Our own fds are O_CLOEXEC, but the executor's may not be, and a
         * daemonized QEMU would keep them open for the VM's lifetime. */
        if (close_range(3, ~0U, 0) == -1)
                for (int fd = 3; fd < 1024; fd++)
                        (void)close(fd);
        execve(argv[0], argv, env);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
}

/* QEMU's error output as one line for a message: lines joined by "; ". */
static void flatten(char *s, size_t size) {
        size_t n = strlen(s), w = 0;
        _cleanup_free_ char *copy = xstrndup(s, n);

        while (n > 0 && (copy[n - 1] == '\n' || copy[n - 1] == '\r' || copy[n - 1] == ' '))
                n--;
        for (size_t i = 0; i < n && w + 3 < size; i++) {
                if (copy[i] == '\n') {
                        s[w++] = ';';
                        s[w++] = ' ';
                } else
                        s[w++] = (unsigned char)copy[i] < 0x20 || copy[i] == 0x7f ? ' ' : copy[i];
        }
        s[w] = '\0';
}

int vm_spawn(char *const *argv, uint64_t deadline_usec, struct err *e) {
        _cleanup_close_ int rd = -1;
        char out[STDERR_KEEP + 1];
        size_t used = 0;
        bool timed_out = false;
        int fds[2], status;
        pid_t pid;

        if (pipe2(fds, O_CLOEXEC) == -1)
                return err_set(e, -errno, "pipe: %m");
        pid = fork();
        if (pid == -1) {
                int r = -errno;
                safe_close(fds[0]);
                safe_close(fds[1]);
                return err_set(e, r, "fork: %s", strerror(-r));
        }
        if (pid == 0)
                exec_qemu(argv, fds[1]);
        safe_close(fds[1]);
        rd = fds[0];

        /* QEMU's first process exits once the daemon is set up (or failed);
         * the daemon points its stderr at /dev/null before that, so the
         * pipe ends when start-up is over. */
        for (;;) {
                struct pollfd p = { .fd = rd, .events = POLLIN };
                uint64_t now = now_monotonic_usec();
                char buf[1024];

                if (now >= deadline_usec) {
                        timed_out = true;
                        break;
                }
                int n = poll(&p, 1, (int)MIN((deadline_usec - now + 999) / USEC_PER_MSEC, (uint64_t)INT_MAX));
                if (n == -1 && errno == EINTR)
                        continue;
                if (n == -1)
                        break;
                if (n == 0)
                        continue;
                ssize_t k = read(rd, buf, sizeof(buf));
                if (k == -1 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                size_t take = MIN((size_t)k, STDERR_KEEP - used);
                memcpy(out + used, buf, take);
                used += take;
        }
        out[used] = '\0';
        flatten(out, sizeof(out));

        if (timed_out)
                kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) == -1)
                if (errno != EINTR)
                        return err_set(e, -errno, "waitpid: %m");
        if (timed_out)
                return err_set(e, -ETIMEDOUT, "QEMU did not finish starting before the action's timeout%s%s",
                               used ? ": " : "", out);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return err_set(e, -EIO, "QEMU failed to start (exit status %d)%s%s", WEXITSTATUS(status),
                               used ? ": " : "", out);
        return err_set(e, -EIO, "QEMU failed to start (killed by signal %d)%s%s", WTERMSIG(status), used ? ": " : "",
                       out);
}
