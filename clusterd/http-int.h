/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * http-int.h: the HTTP server under the REST API (libmicrohttpd, driven by
 * the daemon's libqb loop; no threads).
 *
 * It owns listeners and connections, enforces the limits (body size,
 * clients, timeouts), and hands each complete request to one handler.
 * Every request gets exactly one reply, either from inside the handler or
 * later (a write waiting for its commit): a handler that cannot answer at
 * once calls http_request_suspend() and replies when it can.
 */
#pragma once

#include <qb/qbloop.h>
#include <sys/types.h>

#include "common/common.h"

struct http_server;
struct http_request;

typedef void (*http_handler_fn)(void *userdata, struct http_request *req);

struct http_limits {
        uint64_t max_body_size;        /* bytes */
        unsigned max_clients;          /* per listener */
        uint64_t request_timeout_usec; /* idle connections are closed after this */
};

int http_server_new(qb_loop_t *loop, http_handler_fn handler, void *userdata, struct http_server **ret);
/* Stops every listener; pending requests are answered 503 first. */
struct http_server *http_server_free(struct http_server *s);

/* The root-only local socket (created 0600; a stale one is replaced). */
int http_listen_local(struct http_server *s, const char *path, const struct http_limits *lim, struct err *e);

/* A TCP listener on "ADDR:PORT" or "[ADDR]:PORT". With cert_pem/key_pem it
 * serves HTTPS (cert_pem may hold a chain); without, plain HTTP. */
int http_listen_tcp(struct http_server *s, const char *address, const char *cert_pem, const char *key_pem,
                    const struct http_limits *lim, struct err *e);

/* Closes every TCP listener (e.g. before the certificate changes). */
void http_close_tcp(struct http_server *s);
size_t http_tcp_listeners(struct http_server *s);

/* Applies new limits to later requests (body size) and connections. */
void http_set_limits(struct http_server *s, const struct http_limits *lim);

/* ------------------------------------------------------------------------ */
/* Requests                                                                  */

const char *http_request_method(struct http_request *req);
/* The path without the query string, percent-decoded. */
const char *http_request_path(struct http_request *req);
/* A query parameter, or NULL. */
const char *http_request_query(struct http_request *req, const char *key);
const char *http_request_header(struct http_request *req, const char *name);
/* The body (NUL-terminated, size excludes the NUL); "" when none. */
const char *http_request_body(struct http_request *req, size_t *ret_size);
/* Whether the request came over the local socket, and from which uid. */
bool http_request_is_local(struct http_request *req);
uid_t http_request_peer_uid(struct http_request *req);
/* The TCP peer's address as text ("198.18.0.2"), "" for the local socket. */
const char *http_request_peer_address(struct http_request *req);
/* The address:port the request arrived on (TCP), for building URLs. */
const char *http_request_local_address(struct http_request *req);
bool http_request_is_tls(struct http_request *req);

/* Who the request is from, as recorded with writes ("local:root",
 * "token:automation"); set by the API layer after authentication. */
void http_request_set_client(struct http_request *req, const char *client);
const char *http_request_client(struct http_request *req);

/* The handler has no answer yet; it replies later. */
void http_request_suspend(struct http_request *req);
/* fn(userdata) runs if the connection closes before the reply is sent
 * (the handler must then forget the request: it is freed right after). */
void http_request_on_abort(struct http_request *req, void (*fn)(void *userdata), void *userdata);

/* Replies. Each takes ownership of body. A request gets exactly one. */
void http_reply_json(struct http_request *req, unsigned status, json_object *body);
void http_reply_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...) _printf_(4, 5);
/* Adds a header to the reply that follows (Allow, Retry-After, Location). */
void http_reply_header(struct http_request *req, const char *name, const char *value);
