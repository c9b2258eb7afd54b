/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz-replay.c: runs a libFuzzer target over files without libFuzzer, so
 * that the corpus is a regression test in every build (gcc included).
 * Usage: <target> FILE|DIR...
 */
#include <dirent.h>
#include <sys/stat.h>

#include "common/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path) {
        _cleanup_free_ char *buf = NULL;
        size_t size;
        int r = read_full_file(path, 16 * 1024 * 1024, &buf, &size);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, strerror(-r));
                return r;
        }
        LLVMFuzzerTestOneInput((const uint8_t *)buf, size);
        return 1;
}

static int run_path(const char *path) {
        struct stat st;
        if (stat(path, &st) == -1) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        if (!S_ISDIR(st.st_mode))
                return run_file(path);

        struct dirent **names;
        int n = scandir(path, &names, NULL, alphasort), total = 0;
        if (n < 0) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        _cleanup_free_ char *p = xasprintf("%s/%s", path, names[i]->d_name);
                        int r = run_path(p);
                        if (r < 0)
                                total = r;
                        else if (total >= 0)
                                total += r;
                }
                free(names[i]);
        }
        free(names);
        return total;
}

int main(int argc, char **argv) {
        int total = 0;
        for (int i = 1; i < argc; i++) {
                int r = run_path(argv[i]);
                if (r < 0)
                        return 1;
                total += r;
        }
        printf("%s: %d inputs replayed\n", argc > 0 ? argv[0] : "fuzz", total);
        return 0;
}
