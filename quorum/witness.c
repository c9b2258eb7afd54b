/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness.c: one witness backend on a worker thread of its own. The loop
 * hands over one arbiter operation at a time; the worker runs the
 * blocking backend call, turns what came back into a parsed record or a
 * reason, and signals an eventfd. The arbiter thinks in generations and
 * the backends in tags (an ETag, a file name), so the worker remembers the
 * tag of the newest generation it has seen: a write expecting a generation
 * whose tag it does not know is a conflict without asking (the arbiter
 * reads again).
 */
#include <pthread.h>
#include <sys/eventfd.h>

#include "quorum/witness-int.h"

struct witness {
        const struct witness_backend_ops *ops;
        void *state;
        char object[WITNESS_OBJECT_MAX];
        char cluster_name[128];
        int efd;

        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
        bool busy;    /* an operation is handed over and not yet taken back */
        bool has_job; /* the worker has not picked it up yet */
        bool has_result;
        struct arbiter_actions job;
        uint64_t job_timeout_usec;
        struct witness_result result;

        /* Worker only. */
        uint64_t known_generation;
        char known_tag[WITNESS_TAG_MAX];
};

enum arbiter_result witness_fail(struct err *e, enum arbiter_result res, int r, const char *fmt, ...) {
        char msg[sizeof(e->msg)];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        err_set(e, r, "%s", msg);
        return res;
}

static const struct witness_backend_ops *backend_for(const char *scheme) {
        if (streq(scheme, "smb"))
                return &witness_smb_ops;
        if (streq(scheme, "azure"))
                return &witness_azure_ops;
        return NULL;
}

/* Copies a message, cut to fit. */
static void set_message(struct witness_result *res, const char *a, const char *b) {
        size_t n = strnlen(a, sizeof(res->message) - 1);
        memcpy(res->message, a, n);
        res->message[n] = '\0';
        if (b) {
                size_t m = strnlen(b, sizeof(res->message) - 1 - n);
                memcpy(res->message + n, b, m);
                res->message[n + m] = '\0';
        }
}

static void run_read(struct witness *w, struct witness_result *res) {
        _cleanup_free_ char *text = NULL;
        char tag[WITNESS_TAG_MAX] = "";
        struct err e = {};

        res->result = w->ops->read(w->state, w->object, w->job_timeout_usec, &text, tag, &e);
        if (res->result != ARBITER_OK) {
                set_message(res, e.msg, NULL);
                return;
        }
        if (witness_record_parse(text ? text : "", &res->record, &e) < 0) {
                res->result = ARBITER_CORRUPT;
                set_message(res, e.msg, " (the witness object holds something else)");
                return;
        }
        w->known_generation = res->record.generation;
        snprintf(w->known_tag, sizeof(w->known_tag), "%s", tag);
}

static void run_write(struct witness *w, const struct arbiter_actions *a, struct witness_result *res) {
        _cleanup_free_ char *text = witness_record_format(&a->record, w->cluster_name);
        char tag[WITNESS_TAG_MAX] = "";
        const char *expect = "";
        struct err e = {};

        if (a->expect_generation != 0) {
                if (a->expect_generation != w->known_generation || !w->known_tag[0]) {
                        res->result = ARBITER_CONFLICT;
                        snprintf(res->message, sizeof(res->message),
                                 "generation %" PRIu64 " is not the newest one read (%" PRIu64 ")",
                                 a->expect_generation, w->known_generation);
                        return;
                }
                expect = w->known_tag;
        }
        res->result =
                w->ops->write(w->state, w->object, expect, a->record.generation, text, w->job_timeout_usec, tag, &e);
        if (res->result == ARBITER_OK) {
                w->known_generation = a->record.generation;
                snprintf(w->known_tag, sizeof(w->known_tag), "%s", tag);
        } else
                set_message(res, e.msg, NULL);
}

static void *worker(void *userdata) {
        struct witness *w = userdata;

        pthread_mutex_lock(&w->lock);
        for (;;) {
                while (!w->stop && !w->has_job)
                        pthread_cond_wait(&w->cond, &w->lock);
                if (w->stop)
                        break;
                struct arbiter_actions job = w->job;
                w->has_job = false;
                pthread_mutex_unlock(&w->lock);

                struct witness_result res = { .op_id = job.op_id, .op = job.op, .started_usec = now_monotonic_usec() };
                if (job.op == ARBITER_OP_READ)
                        run_read(w, &res);
                else
                        run_write(w, &job, &res);
                res.finished_usec = now_monotonic_usec();

                pthread_mutex_lock(&w->lock);
                w->result = res;
                w->has_result = true;
                uint64_t one = 1;
                (void)!write(w->efd, &one, sizeof(one));
        }
        pthread_mutex_unlock(&w->lock);
        return NULL;
}

int witness_new(const char *url, const char *credentials_path, const char *object_name, const char *cluster_name,
                struct witness **ret, struct err *e) {
        struct witness_credentials cred = {};
        struct witness_url u;
        struct witness *w;
        int r;

        if ((r = witness_url_parse(url, &u, e)) < 0)
                return r;
        if ((r = witness_credentials_read(credentials_path, &cred, e)) < 0)
                return r;
        w = xcalloc(1, sizeof(*w));
        w->efd = -1;
        w->ops = backend_for(u.scheme);
        snprintf(w->object, sizeof(w->object), "%s", object_name);
        snprintf(w->cluster_name, sizeof(w->cluster_name), "%s", strempty(cluster_name));
        if (!w->ops)
                r = err_set(e, -EOPNOTSUPP, "no witness backend for '%s'", u.scheme);
        else
                r = w->ops->open(&u, &cred, &w->state, e);
        witness_credentials_wipe(&cred);
        if (r < 0) {
                free(w);
                return r;
        }
        w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (w->efd < 0) {
                r = err_set(e, -errno, "cannot create an eventfd: %m");
                w->ops->close(w->state);
                free(w);
                return r;
        }
        pthread_mutex_init(&w->lock, NULL);
        pthread_cond_init(&w->cond, NULL);
        if ((r = -pthread_create(&w->thread, NULL, worker, w)) < 0) {
                close(w->efd);
                w->ops->close(w->state);
                pthread_cond_destroy(&w->cond);
                pthread_mutex_destroy(&w->lock);
                free(w);
                return err_set(e, r, "cannot start the witness thread: %s", strerror(-r));
        }
        *ret = w;
        return 0;
}

struct witness *witness_free(struct witness *w) {
        if (!w)
                return NULL;
        pthread_mutex_lock(&w->lock);
        w->stop = true;
        pthread_cond_signal(&w->cond);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
        w->ops->close(w->state);
        close(w->efd);
        pthread_cond_destroy(&w->cond);
        pthread_mutex_destroy(&w->lock);
        free(w);
        return NULL;
}

int witness_fd(const struct witness *w) {
        return w->efd;
}

const char *witness_scheme(const struct witness *w) {
        return w->ops->scheme;
}

int witness_start(struct witness *w, const struct arbiter_actions *a, uint64_t timeout_usec) {
        int r = 0;

        if (a->op != ARBITER_OP_READ && a->op != ARBITER_OP_WRITE)
                return -EINVAL;
        pthread_mutex_lock(&w->lock);
        if (w->busy)
                r = -EBUSY;
        else {
                w->job = *a;
                w->job_timeout_usec = timeout_usec;
                w->busy = w->has_job = true;
                pthread_cond_signal(&w->cond);
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}

int witness_take(struct witness *w, struct witness_result *ret) {
        uint64_t v;
        int r = -EAGAIN;

        (void)!read(w->efd, &v, sizeof(v));
        pthread_mutex_lock(&w->lock);
        if (w->has_result) {
                *ret = w->result;
                w->has_result = w->busy = false;
                r = 0;
        }
        pthread_mutex_unlock(&w->lock);
        return r;
}
