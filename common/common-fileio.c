/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-fileio.c: whole-file reads and atomic, durable writes. */
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <sys/stat.h>

#include "common/common.h"

int read_full_file(const char *path, size_t max_size, char **ret, size_t *ret_size) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        size_t size = 0, alloc = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd == -1)
                return -errno;
        for (;;) {
                if (size == alloc) {
                        if (alloc > max_size)
                                return -EFBIG;
                        alloc = alloc ? alloc * 2 : 4096;
                        buf = xrealloc(buf, alloc + 1);
                }
                ssize_t n = read(fd, buf + size, alloc - size);
                if (n == -1) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (n == 0)
                        break;
                size += (size_t)n;
                if (size > max_size)
                        return -EFBIG;
        }
        if (!buf)
                buf = xmalloc(1);
        buf[size] = '\0';
        *ret = TAKE_PTR(buf);
        if (ret_size)
                *ret_size = size;
        return 0;
}

static int fsync_directory_of(const char *path) {
        _cleanup_free_ char *copy = xstrdup(path);
        _cleanup_close_ int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd == -1)
                return -errno;
        if (fsync(dfd) == -1)
                return -errno;
        return 0;
}

int write_file_atomic(const char *path, const void *data, size_t size, mode_t mode) {
        _cleanup_free_ char *tmp = NULL;
        _cleanup_close_ int fd = -1;
        const char *p = data;
        int r;

        tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd == -1)
                return -errno;
        if (fchmod(fd, mode) == -1) {
                r = -errno;
                goto fail;
        }
        while (size > 0) {
                ssize_t n = write(fd, p, size);
                if (n == -1) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                p += n;
                size -= (size_t)n;
        }
        if (fsync(fd) == -1) {
                r = -errno;
                goto fail;
        }
        fd = safe_close(fd);
        if (rename(tmp, path) == -1) {
                r = -errno;
                goto fail;
        }
        return fsync_directory_of(path);
fail:
        (void)unlink(tmp);
        return r;
}

int mkdir_p(const char *path, mode_t mode) {
        _cleanup_free_ char *copy = xstrdup(path);

        for (char *p = copy + 1; *p; p++) {
                if (*p != '/')
                        continue;
                *p = '\0';
                if (mkdir(copy, mode) == -1 && errno != EEXIST)
                        return -errno;
                *p = '/';
        }
        if (mkdir(copy, mode) == -1 && errno != EEXIST)
                return -errno;
        return 0;
}

static int rm_one(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        if (remove(path) == -1 && errno != ENOENT)
                return -errno;
        return 0;
}

int rm_rf(const char *path) {
        if (access(path, F_OK) != 0)
                return errno == ENOENT ? 0 : -errno;
        int r = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        return r < 0 ? (errno ? -errno : -EIO) : r;
}
