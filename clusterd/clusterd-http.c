/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-http.c: libmicrohttpd under the libqb loop.
 *
 * Each listener is one MHD daemon in external-polling epoll mode: its
 * epoll fd is watched by the loop and MHD_run() does the work, on the
 * loop's thread. Sockets are created here (so that they are O_CLOEXEC and
 * so that errors name the address), then handed to MHD.
 *
 * A request's body is collected up to the limit; a larger one is answered
 * 413 without being stored. The handler runs once per request; when it
 * suspends, the connection sleeps in MHD until the reply is ready.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "clusterd/http-int.h"
#include "clusterd/log.h"

#define HARD_MAX_CLIENTS 65535
#define LISTEN_BACKLOG 128
/* Per-connection memory for headers and buffers (bodies are ours). MHD
 * clears it for every request, so its 32 KiB default costs on every call;
 * 16 KiB still holds any reasonable request line and headers (431 beyond). */
#define CONNECTION_MEMORY (16 * 1024)

struct listener {
        struct http_server *s;
        struct MHD_Daemon *d;
        int fd;       /* listening socket, owned by MHD once started */
        int epoll_fd; /* MHD's, polled by the loop */
        bool local;
        bool tls;
        char *path; /* local socket path, to unlink; owned */
        char address[80];
        unsigned clients;
        bool run_queued;
        struct listener *next;
};

struct reply_header {
        char *name, *value;
        struct reply_header *next;
};

struct http_request {
        struct http_server *s;
        struct listener *l;
        struct MHD_Connection *conn;
        char *method, *path; /* owned */
        char *body;          /* owned, NUL-terminated */
        size_t body_size, body_alloc;
        bool too_large;
        bool in_handler;
        bool suspended;
        bool replied;
        struct MHD_Response *response; /* prepared reply, queued on the next access call */
        unsigned status;
        struct reply_header *headers;
        char peer[INET6_ADDRSTRLEN];
        char client[80];
        uid_t uid;
        void (*abort_fn)(void *);
        void *abort_userdata;
        struct http_request *prev, *next; /* live requests of the server */
};

struct http_server {
        qb_loop_t *loop;
        http_handler_fn handler;
        void *userdata;
        struct http_limits lim;
        struct listener *listeners;
        struct http_request *requests;
        qb_loop_timer_handle tick;
        int wake_fd; /* eventfd: "run MHD now", see queue_run() */
};

/* ------------------------------------------------------------------------ */
/* Driving MHD from the loop                                                 */

static void queue_run(struct listener *l);

static void run_listener(struct listener *l) {
        MHD_UNSIGNED_LONG_LONG timeout_ms;

        l->run_queued = false;
        if (!l->d)
                return;
        MHD_run(l->d);
        /* MHD's epoll is edge-triggered: a connection it could not finish
         * (more body than one read, a reply not yet fully written) stays on
         * its ready list and will not raise the fd again. MHD says so with
         * a zero timeout; run it again at once. */
        if (MHD_get_timeout(l->d, &timeout_ms) == MHD_YES && timeout_ms == 0)
                queue_run(l);
}

static int32_t wake_cb(int32_t fd, int32_t revents, void *data) {
        struct http_server *s = data;
        uint64_t n;

        (void)!read(fd, &n, sizeof(n));
        for (struct listener *l = s->listeners; l; l = l->next)
                if (l->run_queued)
                        run_listener(l);
        return 0;
}

/* Asks for MHD to run on the next loop iteration. libqb does not shorten
 * its poll timeout for jobs queued during a dispatch, and MHD does not wake
 * its epoll fd for a connection resumed from outside it, so a write's reply
 * would wait for the next timer: an eventfd in the loop wakes it instead. */
static void queue_run(struct listener *l) {
        uint64_t one = 1;

        if (l->run_queued)
                return;
        l->run_queued = true;
        (void)!write(l->s->wake_fd, &one, sizeof(one));
}

static int32_t epoll_cb(int32_t fd, int32_t revents, void *data) {
        run_listener(data);
        return 0;
}

static void tick_cb(void *data) {
        struct http_server *s = data;
        /* Connection timeouts are MHD's business, but it only looks at them
         * when it runs. */
        for (struct listener *l = s->listeners; l; l = l->next)
                run_listener(l);
        (void)qb_loop_timer_add(s->loop, QB_LOOP_LOW, 1000 * 1000 * 1000ULL, s, tick_cb, &s->tick);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
        char buf[512];
        vsnprintf(buf, sizeof(buf), fmt, ap);
        buf[strcspn(buf, "\n")] = '\0';
        log_debug("HTTP: %s", buf);
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                   */

static void free_headers(struct http_request *req) {
        while (req->headers) {
                struct reply_header *h = req->headers;
                req->headers = h->next;
                free(h->name);
                free(h->value);
                free(h);
        }
}

void http_reply_header(struct http_request *req, const char *name, const char *value) {
        struct reply_header *h = xcalloc(1, sizeof(*h));
        h->name = xstrdup(name);
        h->value = xstrdup(value);
        h->next = req->headers;
        req->headers = h;
}

static void set_reply(struct http_request *req, unsigned status, char *text, size_t size) {
        struct MHD_Response *resp;

        if (req->replied) {
                /* A programming error; never let it reach the client twice. */
                log_error("BUG: second reply to %s %s", req->method, req->path);
                free(text);
                return;
        }
        req->replied = true;
        resp = MHD_create_response_from_buffer(size, text, MHD_RESPMEM_MUST_FREE);
        if (!resp) {
                free(text);
                return;
        }
        MHD_add_response_header(resp, "Content-Type", "application/json");
        MHD_add_response_header(resp, "Cache-Control", "no-store");
        for (struct reply_header *h = req->headers; h; h = h->next)
                MHD_add_response_header(resp, h->name, h->value);
        free_headers(req);
        req->response = resp;
        req->status = status;

        if (req->suspended && !req->in_handler) {
                req->suspended = false;
                MHD_resume_connection(req->conn);
                queue_run(req->l);
        }
}

void http_reply_json(struct http_request *req, unsigned status, json_object *body) {
        const char *s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t n = strlen(s);
        char *text = xmalloc(n + 2);
        memcpy(text, s, n);
        text[n] = '\n';
        text[n + 1] = '\0';
        json_object_put(body);
        set_reply(req, status, text, n + 1);
}

void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...) {
        _cleanup_free_ char *msg = NULL;
        json_object *o = json_object_new_object(), *err = json_object_new_object();
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        json_add_string(err, "code", code);
        json_add_string(err, "message", msg ? msg : code);
        json_object_object_add(o, "error", err);
        if (status >= 500 && status != 503)
                log_warning("%s %s: %u %s", req->method, req->path, status, msg ? msg : code);
        else
                log_debug("%s %s: %u %s", req->method, req->path, status, msg ? msg : code);
        http_reply_json(req, status, o);
}

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

static void peer_info(struct http_request *req) {
        const union MHD_ConnectionInfo *ci;

        req->uid = (uid_t)-1;
        if (req->l->local) {
                ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                struct ucred cred;
                socklen_t len = sizeof(cred);
                if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
                        req->uid = cred.uid;
                return;
        }
        ci = MHD_get_connection_info(req->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (!ci || !ci->client_addr)
                return;
        /* Copied out rather than cast: MHD's struct sockaddr need not be
         * aligned for the larger types. */
        if (ci->client_addr->sa_family == AF_INET) {
                struct sockaddr_in in4;
                memcpy(&in4, ci->client_addr, sizeof(in4));
                inet_ntop(AF_INET, &in4.sin_addr, req->peer, sizeof(req->peer));
        } else if (ci->client_addr->sa_family == AF_INET6) {
                struct sockaddr_in6 in6;
                memcpy(&in6, ci->client_addr, sizeof(in6));
                if (IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr))
                        inet_ntop(AF_INET, &in6.sin6_addr.s6_addr[12], req->peer, sizeof(req->peer));
                else
                        inet_ntop(AF_INET6, &in6.sin6_addr, req->peer, sizeof(req->peer));
        }
}

static struct http_request *request_new(struct listener *l, struct MHD_Connection *conn, const char *url,
                                        const char *method) {
        struct http_request *req = xcalloc(1, sizeof(*req));
        const char *cl;
        uint64_t len;

        req->s = l->s;
        req->l = l;
        req->conn = conn;
        req->method = xstrdup(method);
        req->path = xstrdup(url);
        peer_info(req);
        /* Refuse an announced oversize body before reading any of it. */
        cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && parse_uint64(cl, &len) >= 0 && len > l->s->lim.max_body_size)
                req->too_large = true;

        req->next = l->s->requests;
        if (req->next)
                req->next->prev = req;
        l->s->requests = req;
        return req;
}

static void request_free(struct http_request *req) {
        if (req->prev)
                req->prev->next = req->next;
        else
                req->s->requests = req->next;
        if (req->next)
                req->next->prev = req->prev;
        if (req->response)
                MHD_destroy_response(req->response);
        free_headers(req);
        free(req->method);
        free(req->path);
        free(req->body);
        free(req);
}

static void append_body(struct http_request *req, const char *data, size_t size) {
        if (req->too_large)
                return;
        if (req->body_size + size > req->s->lim.max_body_size) {
                req->too_large = true;
                free_and_null(req->body);
                req->body_size = req->body_alloc = 0;
                return;
        }
        if (req->body_size + size + 1 > req->body_alloc) {
                req->body_alloc = MAX(req->body_alloc * 2, req->body_size + size + 1);
                req->body = xrealloc(req->body, req->body_alloc);
        }
        memcpy(req->body + req->body_size, data, size);
        req->body_size += size;
        req->body[req->body_size] = '\0';
}

static enum MHD_Result queue_reply(struct http_request *req) {
        enum MHD_Result ret = MHD_queue_response(req->conn, req->status, req->response);
        MHD_destroy_response(req->response);
        req->response = NULL;
        return ret;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
        struct listener *l = cls;
        struct http_request *req = *con_cls;

        if (!req) {
                *con_cls = req = request_new(l, conn, url, method);
                /* An announced oversize body is refused before it is read. */
                if (req->too_large) {
                        http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large",
                                         "request body larger than the limit of %" PRIu64 " bytes (api.max-body-size)",
                                         l->s->lim.max_body_size);
                        return queue_reply(req);
                }
                return MHD_YES;
        }
        if (*upload_data_size > 0) {
                append_body(req, upload_data, *upload_data_size);
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (req->response)
                return queue_reply(req);
        if (req->replied || req->suspended)
                return MHD_YES;

        if (req->too_large)
                http_reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "payload-too-large",
                                 "request body larger than the limit of %" PRIu64 " bytes (api.max-body-size)",
                                 req->s->lim.max_body_size);
        else {
                req->in_handler = true;
                req->s->handler(req->s->userdata, req);
                req->in_handler = false;
        }
        if (req->response)
                return queue_reply(req);
        if (!req->replied) {
                if (!req->suspended) {
                        log_error("BUG: handler neither replied to nor suspended %s %s", req->method, req->path);
                        http_reply_error(req, 500, "internal", "no reply");
                        return queue_reply(req);
                }
                MHD_suspend_connection(conn);
        }
        return MHD_YES;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
        struct http_request *req = *con_cls;
        if (!req)
                return;
        if (!req->replied && req->abort_fn)
                req->abort_fn(req->abort_userdata);
        request_free(req);
        *con_cls = NULL;
}

static void connection_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
        struct listener *l = cls;
        if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
                l->clients++;
                /* Idle timeout from the current limits (they may have been reloaded). */
                MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                          (unsigned)MAX(l->s->lim.request_timeout_usec / USEC_PER_SEC, 1));
        } else if (l->clients > 0)
                l->clients--;
}

static enum MHD_Result accept_cb(void *cls, const struct sockaddr *addr, socklen_t addrlen) {
        struct listener *l = cls;
        if (l->clients >= l->s->lim.max_clients) {
                log_warning("Refusing a connection on %s: %u clients connected (api.max-clients)", l->address,
                            l->clients);
                return MHD_NO;
        }
        return MHD_YES;
}

const char *http_request_method(struct http_request *req) {
        return req->method;
}

const char *http_request_path(struct http_request *req) {
        return req->path;
}

const char *http_request_query(struct http_request *req, const char *key) {
        return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *http_request_header(struct http_request *req, const char *name) {
        return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(struct http_request *req, size_t *ret_size) {
        if (ret_size)
                *ret_size = req->body_size;
        return req->body ? req->body : "";
}

bool http_request_is_local(struct http_request *req) {
        return req->l->local;
}

uid_t http_request_peer_uid(struct http_request *req) {
        return req->uid;
}

const char *http_request_peer_address(struct http_request *req) {
        return req->peer;
}

const char *http_request_local_address(struct http_request *req) {
        return req->l->address;
}

bool http_request_is_tls(struct http_request *req) {
        return req->l->tls;
}

void http_request_set_client(struct http_request *req, const char *client) {
        snprintf(req->client, sizeof(req->client), "%s", client);
}

const char *http_request_client(struct http_request *req) {
        return req->client[0] ? req->client : "unknown";
}

void http_request_suspend(struct http_request *req) {
        if (!req->replied)
                req->suspended = true;
}

void http_request_on_abort(struct http_request *req, void (*fn)(void *), void *userdata) {
        req->abort_fn = fn;
        req->abort_userdata = userdata;
}

/* ------------------------------------------------------------------------ */
/* Listeners                                                                 */

static int start_listener(struct http_server *s, struct listener *l, const char *cert, const char *key, struct err *e) {
        unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
        const union MHD_DaemonInfo *info;
        int r;

        if (cert)
                flags |= MHD_USE_TLS;
        l->d = MHD_start_daemon(
                flags, 0, accept_cb, l, access_cb, l, MHD_OPTION_LISTEN_SOCKET, l->fd, MHD_OPTION_NOTIFY_COMPLETED,
                completed_cb, l, MHD_OPTION_NOTIFY_CONNECTION, connection_cb, l, MHD_OPTION_CONNECTION_LIMIT,
                (unsigned)HARD_MAX_CLIENTS, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)MAX(s->lim.request_timeout_usec / USEC_PER_SEC, 1),
                MHD_OPTION_EXTERNAL_LOGGER, mhd_log, l, cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, cert,
                MHD_OPTION_HTTPS_MEM_KEY, key, MHD_OPTION_HTTPS_PRIORITIES,
                "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
        if (!l->d)
                return err_set(e, -EIO, "cannot start the HTTP server on %s%s", l->address,
                               cert ? " (check the TLS certificate and key)" : "");
        l->fd = -1; /* MHD owns it now */
        info = MHD_get_daemon_info(l->d, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info)
                return err_set(e, -EIO, "cannot get the HTTP server's epoll descriptor");
        l->epoll_fd = info->epoll_fd;
        r = qb_loop_poll_add(s->loop, QB_LOOP_MED, l->epoll_fd, POLLIN, l, epoll_cb);
        if (r < 0)
                return err_set(e, r, "cannot watch the HTTP server on %s", l->address);
        return 0;
}

static void listener_free(struct listener *l) {
        if (!l)
                return;
        if (l->d) {
                qb_loop_poll_del(l->s->loop, l->epoll_fd);
                MHD_stop_daemon(l->d);
        }
        safe_close(l->fd);
        if (l->path)
                (void)unlink(l->path);
        free(l->path);
        free(l);
}

static void add_listener(struct http_server *s, struct listener *l) {
        l->next = s->listeners;
        s->listeners = l;
}

int http_listen_local(struct http_server *s, const char *path, const struct http_limits *lim, struct err *e) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct listener *l;
        int r;

        if (strlen(path) >= sizeof(sa.sun_path))
                return err_set(e, -ENAMETOOLONG, "socket path '%s' is too long", path);
        strcpy(sa.sun_path, path);
        l = xcalloc(1, sizeof(*l));
        *l = (struct listener){ .s = s, .fd = -1, .epoll_fd = -1, .local = true, .path = xstrdup(path) };
        snprintf(l->address, sizeof(l->address), "%s", path);

        _cleanup_free_ char *dir = xstrdup(path);
        *strrchr(dir, '/') = '\0';
        if (*dir && (r = mkdir_p(dir, 0755)) < 0) {
                err_set(e, r, "cannot create directory '%s': %s", dir, strerror(-r));
                goto fail;
        }
        l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l->fd == -1) {
                r = err_set(e, -errno, "cannot create a socket: %m");
                goto fail;
        }
        /* Another daemon cannot be running (the lock file says so), so a
         * socket file left at path is stale. */
        (void)unlink(path);
        if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
                r = err_set(e, -errno, "cannot bind socket '%s': %m", path);
                goto fail;
        }
        if (chmod(path, 0600) == -1 || listen(l->fd, LISTEN_BACKLOG) == -1) {
                r = err_set(e, -errno, "cannot listen on '%s': %m", path);
                goto fail;
        }
        if ((r = start_listener(s, l, NULL, NULL, e)) < 0)
                goto fail;
        add_listener(s, l);
        return 0;
fail:
        listener_free(l);
        return r;
}

static int parse_address(const char *text, struct sockaddr_storage *ss, socklen_t *len, struct err *e) {
        char host[64];
        const char *port_s;
        uint32_t port;

        if (text[0] == '[') {
                const char *end = strchr(text, ']');
                if (!end || end[1] != ':' || (size_t)(end - text - 1) >= sizeof(host))
                        return err_set(e, -EINVAL, "invalid address '%s'", text);
                memcpy(host, text + 1, (size_t)(end - text - 1));
                host[end - text - 1] = '\0';
                port_s = end + 2;
        } else {
                const char *colon = strrchr(text, ':');
                if (!colon || (size_t)(colon - text) >= sizeof(host))
                        return err_set(e, -EINVAL, "invalid address '%s'", text);
                memcpy(host, text, (size_t)(colon - text));
                host[colon - text] = '\0';
                port_s = colon + 1;
        }
        if (parse_uint32(port_s, &port) < 0 || port == 0 || port > 65535)
                return err_set(e, -EINVAL, "invalid port in '%s'", text);

        memset(ss, 0, sizeof(*ss));
        struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
                in4->sin_family = AF_INET;
                in4->sin_port = htons((uint16_t)port);
                *len = sizeof(*in4);
        } else if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t)port);
                *len = sizeof(*in6);
        } else
                return err_set(e, -EINVAL, "'%s' is not an IP address", host);
        return 0;
}

int http_listen_tcp(struct http_server *s, const char *address, const char *cert_pem, const char *key_pem,
                    const struct http_limits *lim, struct err *e) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        struct listener *l;
        int one = 1, r;

        if ((r = parse_address(address, &ss, &len, e)) < 0)
                return r;
        l = xcalloc(1, sizeof(*l));
        *l = (struct listener){ .s = s, .fd = -1, .epoll_fd = -1, .tls = cert_pem != NULL };
        snprintf(l->address, sizeof(l->address), "%s", address);

        l->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (l->fd == -1) {
                r = err_set(e, -errno, "cannot create a socket for %s: %m", address);
                goto fail;
        }
        (void)setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ss.ss_family == AF_INET6)
                (void)setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(l->fd, (struct sockaddr *)&ss, len) == -1) {
                r = err_set(e, -errno, "cannot listen on %s: %m", address);
                goto fail;
        }
        if (listen(l->fd, LISTEN_BACKLOG) == -1) {
                r = err_set(e, -errno, "cannot listen on %s: %m", address);
                goto fail;
        }
        if ((r = start_listener(s, l, cert_pem, key_pem, e)) < 0)
                goto fail;
        add_listener(s, l);
        return 0;
fail:
        listener_free(l);
        return r;
}

void http_close_tcp(struct http_server *s) {
        struct listener **p = &s->listeners;
        while (*p) {
                struct listener *l = *p;
                if (l->local) {
                        p = &l->next;
                        continue;
                }
                *p = l->next;
                listener_free(l);
        }
}

size_t http_tcp_listeners(struct http_server *s) {
        size_t n = 0;
        for (struct listener *l = s->listeners; l; l = l->next)
                n += !l->local;
        return n;
}

void http_set_limits(struct http_server *s, const struct http_limits *lim) {
        s->lim = *lim;
}

int http_server_new(qb_loop_t *loop, http_handler_fn handler, void *userdata, struct http_server **ret) {
        struct http_server *s = xcalloc(1, sizeof(*s));
        *s = (struct http_server){
                .loop = loop, .handler = handler, .userdata = userdata, .lim = { 1024 * 1024, 128, 30 * USEC_PER_SEC }
        };
        s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (s->wake_fd == -1) {
                int r = -errno;
                free(s);
                return r;
        }
        int r = qb_loop_poll_add(loop, QB_LOOP_HIGH, s->wake_fd, POLLIN, s, wake_cb);
        if (r >= 0)
                r = qb_loop_timer_add(loop, QB_LOOP_LOW, 1000 * 1000 * 1000ULL, s, tick_cb, &s->tick);
        if (r < 0) {
                qb_loop_poll_del(loop, s->wake_fd);
                safe_close(s->wake_fd);
                free(s);
                return r;
        }
        *ret = s;
        return 0;
}

struct http_server *http_server_free(struct http_server *s) {
        if (!s)
                return NULL;
        /* MHD cannot stop with suspended connections: answer them first. */
        for (struct http_request *req = s->requests; req; req = req->next)
                if (req->suspended && !req->replied)
                        http_reply_error(req, 503, "unavailable", "clusterd is stopping");
        for (struct listener *l = s->listeners; l; l = l->next)
                if (l->d)
                        MHD_run(l->d);
        while (s->listeners) {
                struct listener *l = s->listeners;
                s->listeners = l->next;
                listener_free(l);
        }
        qb_loop_timer_del(s->loop, s->tick);
        qb_loop_poll_del(s->loop, s->wake_fd);
        safe_close(s->wake_fd);
        free(s);
        return NULL;
}
