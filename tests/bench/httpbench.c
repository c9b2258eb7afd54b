/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * httpbench: load on clusterd's REST API, for the benchmarks.
 *
 *   httpbench [--unix PATH | --base https://HOST:PORT --token T --cacert FILE]
 *             [--method GET|PUT] [--path PATH] [--concurrency C]
 *             [--seconds S | --requests N]
 *
 * C keep-alive connections each run one request after another (libcurl's
 * multi interface, one thread). For PUT the path may contain "%c" (the
 * connection number) and the body is {"value":"<counter>"}, so every
 * request is a real replicated write. Prints one JSON object with the
 * count, errors, rate and latency percentiles in microseconds.
 */
#include <curl/curl.h>
#include <getopt.h>

#include "common/common.h"

struct conn {
        CURL *easy;
        char url[512];
        char body[64];
        uint64_t start_usec;
        uint64_t n;
};

struct bench {
        const char *unix_path, *base, *token, *cacert, *method, *path;
        size_t concurrency;
        double seconds;
        uint64_t requests;
        struct curl_slist *headers;
        uint64_t *lat;
        size_t n_lat, alloc_lat;
        uint64_t errors;
        long last_error_status;
};

static size_t discard(char *p, size_t size, size_t n, void *u) {
        return size * n;
}

static void setup(struct bench *b, struct conn *c, size_t index) {
        char path[400];
        const char *pc = strstr(b->path, "%c");
        if (pc)
                snprintf(path, sizeof(path), "%.*s%zu%s", (int)(pc - b->path), b->path, index, pc + 2);
        else
                snprintf(path, sizeof(path), "%s", b->path);
        snprintf(c->url, sizeof(c->url), "%s%s", b->unix_path ? "http://localhost" : b->base, path);

        c->easy = curl_easy_init();
        curl_easy_setopt(c->easy, CURLOPT_URL, c->url);
        curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, b->headers);
        curl_easy_setopt(c->easy, CURLOPT_TCP_NODELAY, 1L);
        if (b->unix_path)
                curl_easy_setopt(c->easy, CURLOPT_UNIX_SOCKET_PATH, b->unix_path);
        if (b->cacert)
                curl_easy_setopt(c->easy, CURLOPT_CAINFO, b->cacert);
        if (streq(b->method, "PUT")) {
                curl_easy_setopt(c->easy, CURLOPT_CUSTOMREQUEST, "PUT");
                curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->body);
        }
}

static void start(struct bench *b, struct conn *c, CURLM *multi) {
        snprintf(c->body, sizeof(c->body), "{\"value\":\"%" PRIu64 "\"}", c->n++);
        if (streq(b->method, "PUT"))
                curl_easy_setopt(c->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(c->body));
        c->start_usec = now_monotonic_usec();
        curl_multi_add_handle(multi, c->easy);
}

static void record(struct bench *b, uint64_t l) {
        if (b->n_lat == b->alloc_lat) {
                b->alloc_lat = MAX(b->alloc_lat * 2, 4096);
                b->lat = xrealloc(b->lat, b->alloc_lat * sizeof(*b->lat));
        }
        b->lat[b->n_lat++] = l;
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

static void run(struct bench *b) {
        struct conn *conns = xcalloc(b->concurrency, sizeof(*conns));
        CURLM *multi = curl_multi_init();
        uint64_t begin = now_monotonic_usec(), end_by = begin + (uint64_t)(b->seconds * 1e6), done = 0, started = 0;
        int running = 0;

        for (size_t i = 0; i < b->concurrency; i++) {
                setup(b, &conns[i], i);
                curl_easy_setopt(conns[i].easy, CURLOPT_PRIVATE, &conns[i]);
                start(b, &conns[i], multi);
                started++;
        }
        for (;;) {
                curl_multi_perform(multi, &running);
                CURLMsg *m;
                int left;
                while ((m = curl_multi_info_read(multi, &left))) {
                        struct conn *c;
                        long status = 0;
                        if (m->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
                        curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &status);
                        curl_multi_remove_handle(multi, m->easy_handle);
                        if (m->data.result == CURLE_OK && status >= 200 && status < 300)
                                record(b, now_monotonic_usec() - c->start_usec);
                        else {
                                b->errors++;
                                b->last_error_status = m->data.result == CURLE_OK ? status : -(long)m->data.result;
                        }
                        done++;
                        bool more = b->requests ? started < b->requests : now_monotonic_usec() < end_by;
                        if (more) {
                                start(b, c, multi);
                                started++;
                        }
                }
                if (done == started)
                        break;
                curl_multi_poll(multi, NULL, 0, 100, NULL);
        }
        uint64_t end = now_monotonic_usec();
        for (size_t i = 0; i < b->concurrency; i++)
                curl_easy_cleanup(conns[i].easy);
        curl_multi_cleanup(multi);
        free(conns);

        qsort(b->lat, b->n_lat, sizeof(*b->lat), cmp_u64);
        double secs = (double)(end - begin) / 1e6;
        printf("{\"method\": \"%s\", \"path\": \"%s\", \"transport\": \"%s\", \"concurrency\": %zu, \"requests\": %zu, "
               "\"errors\": %" PRIu64 ", \"last_error_status\": %ld, \"seconds\": %.3f, \"per_second\": %.1f, "
               "\"p50_usec\": %" PRIu64 ", \"p99_usec\": %" PRIu64 ", \"max_usec\": %" PRIu64 "}\n",
               b->method, b->path, b->unix_path ? "unix" : "https", b->concurrency, b->n_lat, b->errors,
               b->last_error_status, secs, (double)b->n_lat / secs, pct(b->lat, b->n_lat, 0.5),
               pct(b->lat, b->n_lat, 0.99), b->n_lat ? b->lat[b->n_lat - 1] : 0);
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "unix", required_argument, NULL, 'u' },        { "base", required_argument, NULL, 'B' },
                { "token", required_argument, NULL, 't' },       { "cacert", required_argument, NULL, 'C' },
                { "method", required_argument, NULL, 'm' },      { "path", required_argument, NULL, 'p' },
                { "concurrency", required_argument, NULL, 'c' }, { "seconds", required_argument, NULL, 's' },
                { "requests", required_argument, NULL, 'n' },    {},
        };
        struct bench b = { .method = "GET", .path = "/v1/cluster", .concurrency = 1, .seconds = 5 };
        _cleanup_free_ char *auth = NULL;
        int o;

        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1)
                switch (o) {
                case 'u':
                        b.unix_path = optarg;
                        break;
                case 'B':
                        b.base = optarg;
                        break;
                case 't':
                        b.token = optarg;
                        break;
                case 'C':
                        b.cacert = optarg;
                        break;
                case 'm':
                        b.method = optarg;
                        break;
                case 'p':
                        b.path = optarg;
                        break;
                case 'c':
                        b.concurrency = (size_t)MAX(atoi(optarg), 1);
                        break;
                case 's':
                        b.seconds = atof(optarg);
                        break;
                case 'n':
                        b.requests = (uint64_t)atoll(optarg);
                        break;
                default:
                        fprintf(stderr, "usage: see the comment at the top of tests/bench/httpbench.c\n");
                        return 2;
                }
        if (!b.unix_path && !b.base) {
                fprintf(stderr, "httpbench: --unix PATH or --base URL is required\n");
                return 2;
        }
        curl_global_init(CURL_GLOBAL_DEFAULT);
        b.headers = curl_slist_append(NULL, "Content-Type: application/json");
        if (b.token) {
                auth = xasprintf("Authorization: Bearer %s", b.token);
                b.headers = curl_slist_append(b.headers, auth);
        }
        run(&b);
        curl_slist_free_all(b.headers);
        free(b.lat);
        curl_global_cleanup();
        return b.n_lat > 0 ? 0 : 1;
}
