/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterctl-http.c: one REST request over libcurl's easy interface.
 *
 * Every request gets a fresh handle: clusterctl sends a handful of requests
 * per run, so connection reuse is not worth the state it would add. This
 * file turns what libcurl and the server say into one message a person can
 * act on; it never prints anything itself.
 */
#include <curl/curl.h>

#include "clusterctl/clusterctl.h"

struct reply_buffer {
        char *data;       /* NUL-terminated when not NULL */
        size_t size;      /* bytes received */
        size_t allocated; /* bytes allocated in data */
        bool too_large;   /* the server sent more than CTL_MAX_REPLY_SIZE */
};

static void reply_buffer_done(struct reply_buffer *b) {
        free_and_null(b->data);
}

static void curl_easy_cleanupp(CURL **c) {
        if (*c)
                curl_easy_cleanup(*c);
}

static void curl_slist_free_allp(struct curl_slist **l) {
        curl_slist_free_all(*l);
}

static void curl_urlp(CURLU **u) {
        if (*u)
                curl_url_cleanup(*u);
}

static void curl_freep(char **p) {
        curl_free(*p);
}

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata) {
        struct reply_buffer *b = userdata;
        size_t n = size * nmemb; /* libcurl documents size as always 1 */

        if (n > CTL_MAX_REPLY_SIZE - b->size) {
                b->too_large = true;
                return 0; /* makes libcurl fail with CURLE_WRITE_ERROR */
        }
        if (b->size + n + 1 > b->allocated) {
                size_t want = MAX(b->allocated * 2, b->size + n + 1);
                b->allocated = MIN(want, (size_t)CTL_MAX_REPLY_SIZE + 1);
                b->data = xrealloc(b->data, b->allocated);
        }
        memcpy(b->data + b->size, ptr, n);
        b->size += n;
        b->data[b->size] = '\0';
        return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
        const volatile sig_atomic_t *cancel = userdata;
        /* Nonzero aborts the transfer with CURLE_ABORTED_BY_CALLBACK. */
        return cancel && *cancel ? 1 : 0;
}

static CURLcode set_tls_options(CURL *curl, const struct ctl_http_target *t) {
        CURLcode cc = CURLE_OK;

        if (t->socket_path)
                return CURLE_OK;
        if (t->insecure) {
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
                return cc;
        }
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
        if (t->cacert_pem) {
                struct curl_blob blob = {
                        .data = (void *)(uintptr_t)t->cacert_pem,
                        .len = strlen(t->cacert_pem),
                        .flags = CURL_BLOB_COPY,
                };
                /* Only the pinned CA: not the system's store as well. */
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &blob);
        } else if (t->cacert_file) {
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_CAPATH, NULL);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_CAINFO, t->cacert_file);
        }
        return cc;
}

static CURLcode set_options(CURL *curl, const struct ctl_http_target *t, const char *method, const char *url,
                            const char *payload, struct curl_slist *headers, struct reply_buffer *b, char *errbuf) {
        CURLcode cc = CURLE_OK;

        cc = cc ?: curl_easy_setopt(curl, CURLOPT_URL, url);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        /* Names are escaped, but "." and ".." must reach the server as they
         * are instead of being folded into another path. */
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_USERAGENT, "clusterctl/" PACKAGE_VERSION);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_WRITEDATA, b);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)CTL_MAX_REPLY_SIZE);
        cc = cc ?: curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, (long)MIN(t->timeout_usec / USEC_PER_MSEC, LONG_MAX));
        if (t->cancel) {
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_progress);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_XFERINFODATA, (void *)(uintptr_t)t->cancel);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
        }
        if (t->socket_path)
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_UNIX_SOCKET_PATH, t->socket_path);
        if (payload) {
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(payload));
        }
        if (!streq(method, payload ? "POST" : "GET"))
                cc = cc ?: curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
        return cc ?: set_tls_options(curl, t);
}

static struct curl_slist *build_headers(const struct ctl_http_target *t, bool has_body) {
        _cleanup_(curl_slist_free_allp) struct curl_slist *l = NULL;
        const char *fixed[] = {
                "Accept: application/json",
                /* We never send a body large enough to be worth a round trip. */
                "Expect:",
                has_body ? "Content-Type: application/json" : NULL,
        };

        for (size_t i = 0; i < ELEMENTSOF(fixed); i++) {
                struct curl_slist *n;
                if (!fixed[i])
                        continue;
                n = curl_slist_append(l, fixed[i]);
                if (!n)
                        return NULL;
                l = n;
        }
        /* The local socket authenticates by peer credentials: a token there
         * would only be one more place it could leak. */
        if (t->token && !t->socket_path) {
                _cleanup_free_ char *auth = xasprintf("Authorization: Bearer %s", t->token);
                struct curl_slist *n = curl_slist_append(l, auth);
                explicit_bzero(auth, strlen(auth));
                if (!n)
                        return NULL;
                l = n;
        }
        return TAKE_PTR(l);
}

static int local_connect_error(const struct ctl_http_target *t, long os_errno, struct err *e) {
        const char *reason = os_errno ? strerror((int)os_errno) : "connection failed";

        if (os_errno == 0 || os_errno == ENOENT || os_errno == ECONNREFUSED || os_errno == ENOTDIR)
                return err_set(e, -ECONNREFUSED, "clusterd is not running on this node (cannot connect to %s: %s)",
                               t->socket_path, reason);
        if (os_errno == EACCES || os_errno == EPERM)
                return err_set(e, -EACCES,
                               "cannot connect to clusterd at %s: %s (the local socket is for root only: run "
                               "clusterctl as root, or use --server with an API token)",
                               t->socket_path, reason);
        return err_set(e, -(int)os_errno, "cannot connect to clusterd at %s: %s", t->socket_path, reason);
}

static int tls_error(const struct ctl_http_target *t, CURLcode cc, const char *detail, struct err *e) {
        if (cc == CURLE_SSL_CACERT_BADFILE)
                return err_set(e, -EINVAL, "cannot use the CA certificate '%s' to verify %s: %s",
                               strempty(t->cacert_file), t->base_url, detail);
        if (t->cacert_pem)
                return err_set(e, -EPERM,
                               "%s presented a TLS certificate that the pinned cluster CA does not vouch for "
                               "(or that does not name this host): %s",
                               t->base_url, detail);
        return err_set(e, -EPERM,
                       "cannot verify the TLS certificate of %s: %s; give the cluster's CA certificate with "
                       "--cacert FILE (it is " CTL_DEFAULT_CACERT " on every node)",
                       t->base_url, detail);
}

static int transport_error(const struct ctl_http_target *t, const char *where, CURL *curl, CURLcode cc,
                           const char *errbuf, const struct reply_buffer *b, struct err *e) {
        const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
        char buf[64];
        long os_errno = 0;

        if (b->too_large || cc == CURLE_FILESIZE_EXCEEDED)
                return err_set(e, -EFBIG, "the reply from %s is larger than 64 MiB: refusing it", where);
        if (cc == CURLE_ABORTED_BY_CALLBACK)
                return err_set(e, -EINTR, "interrupted");
        if (cc == CURLE_OPERATION_TIMEDOUT)
                return err_set(e, -ETIMEDOUT, "no reply from %s within %s (see --timeout)", where,
                               format_duration(buf, sizeof(buf), t->timeout_usec));
        switch (cc) {
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
        case CURLE_SSL_CRL_BADFILE:
                return tls_error(t, cc, detail, e);
        case CURLE_COULDNT_CONNECT:
                (void)curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
                if (t->socket_path)
                        return local_connect_error(t, os_errno, e);
                return err_set(e, -ECONNREFUSED, "cannot connect to %s: %s", t->base_url, detail);
        case CURLE_COULDNT_RESOLVE_HOST:
                return err_set(e, -EHOSTUNREACH, "cannot connect to %s: %s", t->base_url, detail);
        default:
                return err_set(e, -EIO, "request to %s failed: %s", where, detail);
        }
}

/* Turns an error reply into "<message> (<code>)". */
static int error_reply(const char *where, long status, json_object *o, struct err *e) {
        json_object *error = ctl_json_get(o, "error");
        const char *message = ctl_json_str(error, "message");
        const char *code = ctl_json_str(error, "code");
        int r = status == 401 ? -EACCES : -EREMOTEIO;

        if (message && code)
                return err_set(e, r, "%s (%s)", message, code);
        if (message || code)
                return err_set(e, r, "%s (HTTP %ld)", message ?: code, status);
        return err_set(e, r, "%s answered HTTP %ld without an error object", where, status);
}

static int parse_reply(const char *where, long status, const struct reply_buffer *b, json_object **ret, struct err *e) {
        _cleanup_json_ json_object *o = NULL;
        struct err perr = {};
        int r;

        r = json_parse_object(b->data ?: "", b->size, &o, &perr);
        if (status < 200 || status > 299)
                return error_reply(where, status, r >= 0 ? o : NULL, e);
        if (r < 0)
                return err_set(e, -EBADMSG, "invalid reply from %s (HTTP %ld): %s", where, status, perr.msg);
        *ret = TAKE_PTR(o);
        return 0;
}

int ctl_http_call(const struct ctl_http_target *t, const char *method, const char *path, json_object *body,
                  json_object **ret, struct err *e) {
        _cleanup_(curl_easy_cleanupp) CURL *curl = NULL;
        _cleanup_(curl_slist_free_allp) struct curl_slist *headers = NULL;
        _cleanup_(reply_buffer_done) struct reply_buffer b = {};
        _cleanup_free_ char *url = NULL, *where = NULL;
        char errbuf[CURL_ERROR_SIZE] = "";
        const char *payload = NULL;
        long status = 0;
        CURLcode cc;

        if (body)
                payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        url = xasprintf("%s%s", t->base_url, path);
        /* What messages call the other end. */
        where = t->socket_path ? xasprintf("clusterd at %s", t->socket_path) : xstrdup(t->base_url);
        curl = curl_easy_init();
        headers = build_headers(t, payload);
        if (!curl || !headers)
                return err_set(e, -ENOMEM, "cannot set up the request: out of memory");
        cc = set_options(curl, t, method, url, payload, headers, &b, errbuf);
        if (cc != CURLE_OK)
                return err_set(e, -EINVAL, "cannot set up the request to %s: %s", where, curl_easy_strerror(cc));

        cc = curl_easy_perform(curl);
        if (cc != CURLE_OK)
                return transport_error(t, where, curl, cc, errbuf, &b, e);
        (void)curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        return parse_reply(where, status, &b, ret, e);
}

char *ctl_http_escape(const char *s) {
        _cleanup_(curl_freep) char *c = curl_easy_escape(NULL, s, (int)strnlen(s, INT32_MAX));
        if (!c) {
                fputs("Out of memory.\n", stderr);
                abort();
        }
        return xstrdup(c);
}

/* Checks the parts of a parsed URL that must be absent or fixed. */
static int check_url_parts(CURLU *u, const char *url, struct err *e) {
        static const CURLUPart absent[] = { CURLUPART_USER, CURLUPART_PASSWORD, CURLUPART_QUERY, CURLUPART_FRAGMENT };
        _cleanup_(curl_freep) char *scheme = NULL, *path = NULL;

        if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK || !streq(scheme, "https"))
                return err_set(e, -EINVAL, "'%s': clusterd's API is served over https://", url);
        for (size_t i = 0; i < ELEMENTSOF(absent); i++) {
                _cleanup_(curl_freep) char *part = NULL;
                if (curl_url_get(u, absent[i], &part, 0) == CURLUE_OK)
                        return err_set(e, -EINVAL, "'%s': expected https://HOST:PORT, without user, query or fragment",
                                       url);
        }
        if (curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK && !streq(path, "") && !streq(path, "/"))
                return err_set(e, -EINVAL, "'%s': expected https://HOST:PORT, without a path", url);
        return 0;
}

int ctl_http_normalize_url(const char *url, char **ret, struct err *e) {
        _cleanup_(curl_urlp) CURLU *u = NULL;
        _cleanup_(curl_freep) char *host = NULL, *port = NULL;
        _cleanup_free_ char *full = NULL;
        int r;

        if (!url || !*url)
                return err_set(e, -EINVAL, "empty server URL");
        full = strstr(url, "://") ? xstrdup(url) : xasprintf("https://%s", url);
        u = curl_url();
        if (!u)
                return err_set(e, -ENOMEM, "out of memory");
        if (curl_url_set(u, CURLUPART_URL, full, 0) != CURLUE_OK)
                return err_set(e, -EINVAL, "'%s' is not a valid URL", url);
        r = check_url_parts(u, url, e);
        if (r < 0)
                return r;
        if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
                return err_set(e, -EINVAL, "'%s': no host", url);
        if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
                port = NULL;
        *ret = xasprintf("https://%s:%s", host, port ?: CTL_DEFAULT_PORT);
        return 0;
}
