/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cpgbench: the raw CPG round trip, the baseline for clusterd's write path.
 *
 * Run `cpgbench echo` on every node but one and `cpgbench drive` on that
 * one. The driver multicasts a request; every other member answers each
 * request it delivers with a multicast echo; a request is complete when the
 * driver has delivered the echoes of all other members. That is the shape
 * of a replicated write (an operation, then a confirmation from every
 * member) without a database or HTTP, so the two can be compared in one run.
 *
 *   cpgbench echo [--group NAME]
 *   cpgbench drive --members N [--concurrency C] [--seconds S] [--size BYTES] [--group NAME]
 *
 * The driver prints one JSON object: requests, seconds, per-second rate and
 * latency percentiles in microseconds.
 */
#include <corosync/cpg.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <time.h>

#include "common/common.h"

#define KIND_REQUEST 1
#define KIND_ECHO 2
#define MAX_INFLIGHT 4096

struct msg {
        uint32_t kind;
        uint32_t origin; /* driver's node id */
        uint64_t seq;
};

struct bench {
        cpg_handle_t h;
        struct cpg_name group;
        uint32_t nodeid;
        bool driver;
        size_t members_wanted, members;
        size_t size;
        uint8_t *buf;

        uint64_t next_seq;
        uint64_t sent_usec[MAX_INFLIGHT];
        uint32_t echoes[MAX_INFLIGHT];
        size_t inflight;
        uint64_t *lat; /* completed latencies, usec */
        size_t n_lat, alloc_lat;
        uint64_t pending_echo_try_again;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig) {
        stop = 1;
}

static int send_msg(struct bench *b, uint32_t kind, uint32_t origin, uint64_t seq) {
        struct msg m = { kind, origin, seq };
        struct iovec iov = { b->buf, MAX(b->size, sizeof(m)) };
        cs_error_t err;

        memcpy(b->buf, &m, sizeof(m));
        do {
                err = cpg_mcast_joined(b->h, CPG_TYPE_AGREED, &iov, 1);
                if (err == CS_ERR_TRY_AGAIN) {
                        /* Flow control: deliver what is pending, then retry. */
                        cpg_dispatch(b->h, CS_DISPATCH_ALL);
                        usleep(100);
                }
        } while (err == CS_ERR_TRY_AGAIN && !stop);
        return err == CS_OK ? 0 : -EIO;
}

static void deliver(cpg_handle_t h, const struct cpg_name *g, uint32_t nodeid, uint32_t pid, void *data, size_t size) {
        struct bench *b = NULL;
        struct msg m;

        cpg_context_get(h, (void **)&b);
        if (!b || size < sizeof(m))
                return;
        memcpy(&m, data, sizeof(m));
        if (m.kind == KIND_REQUEST && !b->driver) {
                send_msg(b, KIND_ECHO, m.origin, m.seq);
                return;
        }
        if (m.kind != KIND_ECHO || !b->driver || m.origin != b->nodeid)
                return;
        size_t slot = m.seq % MAX_INFLIGHT;
        if (++b->echoes[slot] < b->members - 1)
                return;
        uint64_t l = now_monotonic_usec() - b->sent_usec[slot];
        if (b->n_lat == b->alloc_lat) {
                b->alloc_lat = MAX(b->alloc_lat * 2, 4096);
                b->lat = xrealloc(b->lat, b->alloc_lat * sizeof(*b->lat));
        }
        b->lat[b->n_lat++] = l;
        b->inflight--;
}

static void confchg(cpg_handle_t h, const struct cpg_name *g, const struct cpg_address *m, size_t n,
                    const struct cpg_address *l, size_t nl, const struct cpg_address *j, size_t nj) {
        struct bench *b = NULL;
        cpg_context_get(h, (void **)&b);
        if (b)
                b->members = n;
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *v, size_t n, double p) {
        if (n == 0)
                return 0;
        size_t i = (size_t)(p * (double)(n - 1) + 0.5);
        return v[MIN(i, n - 1)];
}

static void pump(struct bench *b, int fd, int timeout_ms) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, timeout_ms) > 0)
                cpg_dispatch(b->h, CS_DISPATCH_ALL);
}

static int drive(struct bench *b, int fd, size_t concurrency, double seconds) {
        uint64_t deadline, start;

        /* Wait for the echoers. */
        start = now_monotonic_usec();
        while (b->members < b->members_wanted && !stop) {
                pump(b, fd, 100);
                if (now_monotonic_usec() - start > 30 * USEC_PER_SEC) {
                        fprintf(stderr, "cpgbench: only %zu of %zu members joined\n", b->members, b->members_wanted);
                        return 1;
                }
        }
        start = now_monotonic_usec();
        deadline = start + (uint64_t)(seconds * 1e6);
        while (!stop && now_monotonic_usec() < deadline) {
                while (b->inflight < concurrency) {
                        uint64_t seq = b->next_seq++;
                        size_t slot = seq % MAX_INFLIGHT;
                        b->echoes[slot] = 0;
                        b->sent_usec[slot] = now_monotonic_usec();
                        if (send_msg(b, KIND_REQUEST, b->nodeid, seq) < 0)
                                return 1;
                        b->inflight++;
                }
                pump(b, fd, 50);
        }
        uint64_t end = now_monotonic_usec();
        /* Let the last ones finish so the group is quiet for the next run. */
        for (int i = 0; i < 40 && b->inflight > 0; i++)
                pump(b, fd, 50);

        qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_u64);
        double secs = (double)(end - start) / 1e6;
        printf("{\"members\": %zu, \"concurrency\": %zu, \"size\": %zu, \"requests\": %zu, \"seconds\": %.3f, "
               "\"per_second\": %.1f, \"p50_usec\": %" PRIu64 ", \"p99_usec\": %" PRIu64 ", \"max_usec\": %" PRIu64
               "}\n",
               b->members, concurrency, b->size, b->n_lat, secs, (double)b->n_lat / secs, pct(b->lat, b->n_lat, 0.5),
               pct(b->lat, b->n_lat, 0.99), b->n_lat ? b->lat[b->n_lat - 1] : 0);
        return 0;
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "group", required_argument, NULL, 'g' },       { "members", required_argument, NULL, 'm' },
                { "concurrency", required_argument, NULL, 'c' }, { "seconds", required_argument, NULL, 's' },
                { "size", required_argument, NULL, 'b' },        {},
        };
        cpg_model_v1_data_t model = { .model = CPG_MODEL_V1, .cpg_deliver_fn = deliver, .cpg_confchg_fn = confchg };
        struct bench b = { .size = 256, .members_wanted = 3 };
        const char *group = "cpgbench";
        size_t concurrency = 1;
        double seconds = 5;
        int o, fd;

        if (argc < 2 || (!streq(argv[1], "echo") && !streq(argv[1], "drive"))) {
                fprintf(stderr, "usage: cpgbench echo|drive [--members N] [--concurrency C] [--seconds S] "
                                "[--size BYTES] [--group NAME]\n");
                return 2;
        }
        b.driver = streq(argv[1], "drive");
        optind = 2;
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1)
                switch (o) {
                case 'g':
                        group = optarg;
                        break;
                case 'm':
                        b.members_wanted = (size_t)atoi(optarg);
                        break;
                case 'c':
                        concurrency = MIN((size_t)MAX(atoi(optarg), 1), (size_t)MAX_INFLIGHT / 2);
                        break;
                case 's':
                        seconds = atof(optarg);
                        break;
                case 'b':
                        b.size = (size_t)MAX(atoi(optarg), (int)sizeof(struct msg));
                        break;
                default:
                        return 2;
                }
        b.buf = xcalloc(1, MAX(b.size, sizeof(struct msg)));
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);

        if (cpg_model_initialize(&b.h, CPG_MODEL_V1, (cpg_model_data_t *)&model, &b) != CS_OK ||
            cpg_local_get(b.h, &b.nodeid) != CS_OK) {
                fprintf(stderr, "cpgbench: cannot connect to corosync\n");
                return 1;
        }
        snprintf(b.group.value, sizeof(b.group.value), "%s", group);
        b.group.length = (uint32_t)strlen(b.group.value);
        if (cpg_join(b.h, &b.group) != CS_OK || cpg_fd_get(b.h, &fd) != CS_OK) {
                fprintf(stderr, "cpgbench: cannot join group '%s'\n", group);
                return 1;
        }
        int r = 0;
        if (b.driver)
                r = drive(&b, fd, concurrency, seconds);
        else
                while (!stop)
                        pump(&b, fd, 200);
        cpg_leave(b.h, &b.group);
        cpg_finalize(b.h);
        free(b.lat);
        free(b.buf);
        return r;
}
