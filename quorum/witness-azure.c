/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-azure.c: the cloud witness in Azure Blob Storage (and Azurite,
 * its emulator). A record is the block blob CONTAINER/NAME; a read is Get
 * Blob, a write is Put Blob made conditional on the ETag the caller read
 * (If-Match) or on there being no blob (If-None-Match: *), which is the
 * compare-and-swap of backend-int.h. The ETag is the tag, as the server
 * wrote it (quotes included).
 *
 * Requests are signed with the account key (Shared Key: HMAC-SHA256 over
 * the canonical request, GnuTLS) or carry a SAS token in the query (with
 * both in the credentials, the key is used: it can create the container,
 * see below). libcurl does the HTTP with one easy handle per state, so the
 * connection to the blob service stays open between operations. TLS peers
 * are verified as libcurl does by default; proxies from the environment
 * (https_proxy, no_proxy) are honoured as curl does.
 *
 * A missing container: a read finds no record in it (ARBITER_ABSENT);
 * the first write, the one that creates the record, creates the container
 * too when it has the account key, as Windows' cloud witness creates its
 * own. With a SAS it cannot (a container SAS cannot create its container),
 * and the write fails saying so.
 *
 * Nothing here logs: the caller logs what ends up in the struct err.
 */
#include <limits.h>
#include <strings.h>
#include <curl/curl.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <time.h>

#include "quorum/backend-int.h"

/* Azure's storage service version: the rules for Shared Key and the error
 * answers below are those of this version. Azurite accepts it too. */
#define AZURE_API_VERSION "2021-08-06"
#define AZURE_CONTENT_TYPE "text/plain; charset=utf-8"
#define AZURE_CODE_MAX 64     /* an error code ("AuthenticationFailed") */
#define AZURE_MESSAGE_MAX 160 /* the first line of the server's <Message> we quote */

struct azure {
        CURL *curl;            /* one easy handle per state: its connection is reused */
        char *label;           /* "azure://ACCOUNT/CONTAINER", for messages; owned */
        char *endpoint;        /* the blob service's base URL, no trailing '/'; owned */
        char *resource_prefix; /* "/ACCOUNT" + the endpoint's URL path: how the canonicalized resource begins */
        char *account;         /* owned */
        char *container;       /* owned */
        uint8_t *key;          /* the decoded account key (Shared Key), or NULL; owned, wiped on close */
        size_t key_size;       /* bytes */
        char *sas;             /* the SAS token without '?', or NULL; owned, wiped on close */
};

/* A request as the blob service sees it; everything is signed. */
struct request {
        const char *method;        /* "GET", "PUT" */
        const char *path;          /* below the endpoint, URL-encoded: "/CONTAINER/BLOB" */
        const char *query;         /* "restype=container", or NULL */
        const char *body;          /* PUT: the content (may be ""); GET: NULL */
        size_t body_size;          /* bytes */
        const char *content_type;  /* or NULL */
        const char *blob_type;     /* x-ms-blob-type, or NULL */
        const char *if_match;      /* or NULL */
        const char *if_none_match; /* or NULL */
        const char *doing;         /* for messages: "reading blob 'NAME'" */
};

struct response {
        long status;                       /* the HTTP status */
        char etag[WITNESS_TAG_MAX];        /* the ETag header, "" when none */
        bool etag_too_long;                /* an ETag that does not fit a tag */
        char code[AZURE_CODE_MAX];         /* x-ms-error-code or the body's <Code>, "" when none */
        char message[AZURE_MESSAGE_MAX];   /* the body's <Message>, first line, "" when none */
        char body[WITNESS_RECORD_MAX + 1]; /* NUL-terminated */
        size_t body_size;                  /* bytes in body */
        bool body_too_large;               /* more than WITNESS_RECORD_MAX bytes came (the rest was not read) */
};

static void curl_slist_freep(struct curl_slist **l) {
        curl_slist_free_all(*l);
}
#define _cleanup_slist_ _cleanup_(curl_slist_freep)

/* ------------------------------------------------------------------------ */
/* libcurl's global state                                                    */

/* curl_global_init is not safe to run twice at once, and must run before
 * the first easy handle: once per process, on the first open. It is never
 * undone (curl_global_cleanup at exit would race with any other user of
 * libcurl in the process, and the process exit frees it anyway). */
static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result = CURLE_FAILED_INIT; /* written once, under curl_once */

static void curl_init_once(void) {
        curl_init_result = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ------------------------------------------------------------------------ */
/* Text helpers                                                              */

static bool is_unreserved(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-._~", c);
}

/* "/CONTAINER/NAME" with NAME percent-encoded (names are plain in
 * practice; this keeps any other one a single path segment). */
static char *blob_path(const struct azure *a, const char *name) {
        size_t n = strlen(name);
        char *enc = xmalloc(3 * n + 1), *o = enc;

        for (size_t i = 0; i < n; i++) {
                if (is_unreserved(name[i]))
                        *o++ = name[i];
                else
                        o += sprintf(o, "%%%02X", (unsigned)(unsigned char)name[i]);
        }
        *o = '\0';
        char *path = xasprintf("/%s/%s", a->container, enc);
        free(enc);
        return path;
}

/* Copies s (n bytes) into buf keeping only what is safe in a message: no
 * control characters, at most size - 1 bytes, cut at the first line end. */
static void copy_printable(char *buf, size_t size, const char *s, size_t n) {
        size_t o = 0;

        for (size_t i = 0; i < n && o + 1 < size; i++) {
                if (s[i] == '\r' || s[i] == '\n')
                        break;
                buf[o++] = (unsigned char)s[i] < ' ' || s[i] == 0x7f ? '?' : s[i];
        }
        buf[o] = '\0';
}

/* The text between <tag> and </tag> in an XML error body, or NULL. */
static const char *xml_element(const char *body, const char *tag, size_t *ret_len) {
        char open[32], close[32];
        const char *b, *end;

        snprintf(open, sizeof(open), "<%s>", tag);
        snprintf(close, sizeof(close), "</%s>", tag);
        if (!(b = strstr(body, open)))
                return NULL;
        b += strlen(open);
        if (!(end = strstr(b, close)))
                return NULL;
        *ret_len = (size_t)(end - b);
        return b;
}

/* An error code is a word ("ServerBusy"); anything else is not quoted. */
static void set_code(char buf[AZURE_CODE_MAX], const char *s, size_t n) {
        if (n == 0 || n >= AZURE_CODE_MAX)
                return;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9')))
                        return;
        memcpy(buf, s, n);
        buf[n] = '\0';
}

/* RFC 1123 in GMT for x-ms-date, with English names whatever the locale. */
static void format_http_date(char buf[40]) {
        static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
        static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
        time_t t = (time_t)(now_realtime_usec() / USEC_PER_SEC);
        struct tm tm;

        gmtime_r(&t, &tm);
        snprintf(buf, 40, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday % 7], tm.tm_mday,
                 months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A tag goes into an If-Match header: it must be one line of visible
 * characters. */
static bool tag_ok(const char *tag) {
        size_t n = strlen(tag);
        if (n == 0 || n >= WITNESS_TAG_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)tag[i] < ' ' || (unsigned char)tag[i] >= 0x7f)
                        return false;
        return true;
}

/* ------------------------------------------------------------------------ */
/* Shared Key                                                                */

/* The Authorization header's value for q, per "Authorize with Shared
 * Key": the standard headers in their fixed order (empty when absent; a
 * zero Content-Length is empty too), then the x-ms- headers sorted, then
 * the canonicalized resource: "/ACCOUNT" + the URL's path + each query
 * parameter as "\nname:value", sorted. The URL's path includes the
 * endpoint's own: for a path-style endpoint (Azurite:
 * http://HOST:10000/ACCOUNT) the account appears twice,
 * "/ACCOUNT/ACCOUNT/CONTAINER/BLOB". */
static char *shared_key_authorization(const struct azure *a, const struct request *q, const char *date) {
        _cleanup_free_ char *content_length = NULL, *blob_type = NULL, *query = NULL, *sts = NULL, *sig = NULL;
        uint8_t mac[32];

        content_length = q->body_size > 0 ? xasprintf("%zu", q->body_size) : xstrdup("");
        blob_type = q->blob_type ? xasprintf("x-ms-blob-type:%s\n", q->blob_type) : xstrdup("");
        if (q->query) {
                /* Our queries are single "name=value" pairs. */
                const char *eq = strchr(q->query, '=');
                query = xasprintf("\n%.*s:%s", (int)(eq - q->query), q->query, eq + 1);
        }
        sts = xasprintf("%s\n" /* verb */
                        "\n"   /* Content-Encoding */
                        "\n"   /* Content-Language */
                        "%s\n" /* Content-Length */
                        "\n"   /* Content-MD5 */
                        "%s\n" /* Content-Type */
                        "\n"   /* Date (x-ms-date is used) */
                        "\n"   /* If-Modified-Since */
                        "%s\n" /* If-Match */
                        "%s\n" /* If-None-Match */
                        "\n"   /* If-Unmodified-Since */
                        "\n"   /* Range */
                        "%s"   /* x-ms-blob-type */
                        "x-ms-date:%s\n"
                        "x-ms-version:" AZURE_API_VERSION "\n"
                        "%s%s%s", /* the canonicalized resource */
                        q->method, content_length, strempty(q->content_type), strempty(q->if_match),
                        strempty(q->if_none_match), blob_type, date, a->resource_prefix, q->path, strempty(query));
        /* Cannot fail for a built-in algorithm and in-memory data. */
        if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->key, a->key_size, sts, strlen(sts), mac) < 0)
                abort();
        sig = base64_encode(mac, sizeof(mac));
        explicit_bzero(mac, sizeof(mac));
        return xasprintf("Authorization: SharedKey %s:%s", a->account, sig);
}

/* ------------------------------------------------------------------------ */
/* One HTTP exchange                                                         */

static size_t on_body(char *data, size_t size, size_t n, void *userdata) {
        struct response *rsp = userdata;
        size_t len = size * n;

        if (len > WITNESS_RECORD_MAX - rsp->body_size) {
                /* Stop here: no record (and no error answer) is this large. */
                rsp->body_too_large = true;
                return 0;
        }
        memcpy(rsp->body + rsp->body_size, data, len);
        rsp->body_size += len;
        rsp->body[rsp->body_size] = '\0';
        return len;
}

static void header_add(struct curl_slist **l, const char *fmt, ...) _printf_(2, 3);
static void header_add(struct curl_slist **l, const char *fmt, ...) {
        _cleanup_free_ char *line = NULL;
        struct curl_slist *n;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&line, fmt, ap) < 0)
                abort();
        va_end(ap);
        n = curl_slist_append(*l, line);
        if (!n)
                abort(); /* out of memory, as in xmalloc */
        *l = n;
}

/* Keeps the headers we read from the answer: ETag and x-ms-error-code. A
 * status line starts a new header block (after a 100 Continue), which
 * replaces what an earlier one said. */
static size_t on_header(char *data, size_t size, size_t n, void *userdata) {
        struct response *rsp = userdata;
        size_t len = size * n, vlen;
        const char *colon, *v;

        if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
                rsp->etag[0] = '\0';
                rsp->etag_too_long = false;
                rsp->code[0] = '\0';
                return len;
        }
        if (!(colon = memchr(data, ':', len)))
                return len;
        v = colon + 1;
        vlen = len - (size_t)(v - data);
        while (vlen > 0 && (*v == ' ' || *v == '\t'))
                v++, vlen--;
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
                vlen--;
        if ((size_t)(colon - data) == 4 && strncasecmp(data, "ETag", 4) == 0) {
                if (vlen < sizeof(rsp->etag)) {
                        memcpy(rsp->etag, v, vlen);
                        rsp->etag[vlen] = '\0';
                } else
                        rsp->etag_too_long = true;
        } else if ((size_t)(colon - data) == 15 && strncasecmp(data, "x-ms-error-code", 15) == 0)
                set_code(rsp->code, v, vlen);
        return len;
}

/* Only HTTP and HTTPS, whatever an endpoint says. */
static CURLcode set_protocols(CURL *curl) {
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85: the string form; the bitmask is deprecated */
        return curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        return curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static bool curl_unreachable(CURLcode c) {
        switch (c) {
        case CURLE_COULDNT_RESOLVE_PROXY:
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
        case CURLE_OPERATION_TIMEDOUT:
        case CURLE_GOT_NOTHING:
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_PARTIAL_FILE:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                return true;
        default:
                return false;
        }
}

/* Sends q and reads the answer into *rsp. ARBITER_OK when the service
 * answered (with any status); ARBITER_UNREACHABLE when it did not (no
 * connection, no name, no answer before deadline_usec), ARBITER_FAILED
 * when libcurl failed otherwise (a certificate it refused, say); e says
 * which. */
static enum arbiter_result azure_request(struct azure *a, const struct request *q, uint64_t deadline_usec,
                                         struct response *rsp, struct err *e) {
        _cleanup_slist_ struct curl_slist *headers = NULL;
        _cleanup_free_ char *url = NULL, *auth = NULL;
        char errbuf[CURL_ERROR_SIZE] = "", date[40];
        uint64_t now = now_monotonic_usec();
        CURLcode c;
        long timeout_ms;

        memset(rsp, 0, sizeof(*rsp));
        if (now >= deadline_usec)
                return witness_fail(e, ARBITER_UNREACHABLE, -ETIMEDOUT, "%s: no time left for %s", a->label, q->doing);
        timeout_ms = (long)MIN((deadline_usec - now + USEC_PER_MSEC - 1) / USEC_PER_MSEC, (uint64_t)LONG_MAX);

        if (a->sas)
                url = xasprintf("%s%s?%s%s%s", a->endpoint, q->path, strempty(q->query), q->query ? "&" : "", a->sas);
        else
                url = xasprintf("%s%s%s%s", a->endpoint, q->path, q->query ? "?" : "", strempty(q->query));

        format_http_date(date);
        header_add(&headers, "x-ms-date: %s", date);
        header_add(&headers, "x-ms-version: %s", AZURE_API_VERSION);
        if (q->blob_type)
                header_add(&headers, "x-ms-blob-type: %s", q->blob_type);
        if (q->if_match)
                header_add(&headers, "If-Match: %s", q->if_match);
        if (q->if_none_match)
                header_add(&headers, "If-None-Match: %s", q->if_none_match);
        /* "Name:" with nothing after it keeps libcurl from sending its own:
         * a form Content-Type on a PUT without one (it would have to be
         * signed), and Expect: 100-continue (a round trip for nothing). */
        if (q->content_type)
                header_add(&headers, "Content-Type: %s", q->content_type);
        else
                header_add(&headers, "Content-Type:");
        header_add(&headers, "Expect:");
        if (a->key) {
                auth = shared_key_authorization(a, q, date);
                header_add(&headers, "%s", auth);
        }

        /* The reset keeps the handle's open connections; every option is
         * set anew for each request. */
        curl_easy_reset(a->curl);
        if (curl_easy_setopt(a->curl, CURLOPT_URL, url) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_ERRORBUFFER, errbuf) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_HTTPHEADER, headers) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_USERAGENT, "clusterd-witness") != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_WRITEDATA, rsp) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_HEADERFUNCTION, on_header) != CURLE_OK ||
            curl_easy_setopt(a->curl, CURLOPT_HEADERDATA, rsp) != CURLE_OK || set_protocols(a->curl) != CURLE_OK)
                return witness_fail(e, ARBITER_FAILED, -EIO, "%s: libcurl refused an option for %s", a->label,
                                    q->doing);
        if (q->body) {
                if (curl_easy_setopt(a->curl, CURLOPT_CUSTOMREQUEST, q->method) != CURLE_OK ||
                    curl_easy_setopt(a->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->body_size) != CURLE_OK ||
                    curl_easy_setopt(a->curl, CURLOPT_POSTFIELDS, q->body) != CURLE_OK)
                        return witness_fail(e, ARBITER_FAILED, -EIO, "%s: libcurl refused the body for %s", a->label,
                                            q->doing);
        }

        c = curl_easy_perform(a->curl);
        if (c == CURLE_WRITE_ERROR && rsp->body_too_large)
                c = CURLE_OK; /* answered; the body was too large to read */
        if (c == CURLE_OK && curl_easy_getinfo(a->curl, CURLINFO_RESPONSE_CODE, &rsp->status) != CURLE_OK)
                rsp->status = 0;
        /* The handle must not keep pointers to this call's headers, buffers
         * and response past it; its connection stays. */
        curl_easy_reset(a->curl);
        if (c != CURLE_OK) {
                const char *why = errbuf[0] ? errbuf : curl_easy_strerror(c);
                if (curl_unreachable(c))
                        return witness_fail(e, ARBITER_UNREACHABLE,
                                            c == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EHOSTUNREACH,
                                            "%s: no answer from %s while %s: %s", a->label, a->endpoint, q->doing, why);
                return witness_fail(e, ARBITER_FAILED, -EIO, "%s: %s failed talking to %s: %s", a->label, q->doing,
                                    a->endpoint, why);
        }

        if (rsp->status == 0)
                return witness_fail(e, ARBITER_FAILED, -EIO, "%s: no HTTP status from %s while %s", a->label,
                                    a->endpoint, q->doing);
        if (rsp->status >= 300) {
                const char *s;
                size_t n;

                if (!rsp->code[0] && (s = xml_element(rsp->body, "Code", &n)))
                        set_code(rsp->code, s, n);
                if ((s = xml_element(rsp->body, "Message", &n)))
                        copy_printable(rsp->message, sizeof(rsp->message), s, n);
        }
        return ARBITER_OK;
}

/* The result for an answer the operation did not expect: a refusal of our
 * credentials or rights (401, 403) is ARBITER_DENIED, anything else
 * (other 4xx, 5xx) ARBITER_FAILED. The message quotes the server's code
 * and words. */
static enum arbiter_result answer_error(const struct azure *a, const struct request *q, const struct response *rsp,
                                        struct err *e) {
        const char *sep = rsp->message[0] ? ": " : "";

        if (rsp->status == 401 || rsp->status == 403)
                return witness_fail(e, ARBITER_DENIED, -EACCES, "the %s for %s was refused while %s (%s, HTTP %ld%s%s)",
                                    a->key ? "account key" : "SAS", a->label, q->doing,
                                    rsp->code[0] ? rsp->code : "no code", rsp->status, sep, rsp->message);
        return witness_fail(e, ARBITER_FAILED, -EIO, "%s: %s: the blob service at %s answered HTTP %ld %s%s%s",
                            a->label, q->doing, a->endpoint, rsp->status, rsp->code[0] ? rsp->code : "(no error code)",
                            sep, rsp->message);
}

static bool code_is(const struct response *rsp, const char *code) {
        return streq(rsp->code, code);
}

/* ------------------------------------------------------------------------ */
/* Operations                                                                */

static int name_check(const struct azure *a, const char *name, struct err *e) {
        if (!name || !*name || strlen(name) > WITNESS_OBJECT_MAX)
                return err_set(e, -EINVAL, "%s: '%s' cannot name a witness blob (1 to %d characters)", a->label,
                               strempty(name), WITNESS_OBJECT_MAX);
        return 0;
}

static uint64_t deadline_after(uint64_t timeout_usec) {
        uint64_t now = now_monotonic_usec();
        return timeout_usec > UINT64_MAX - now ? UINT64_MAX : now + timeout_usec;
}

static enum arbiter_result azure_read(void *state, const char *name, uint64_t timeout_usec, char **ret_text,
                                      char ret_tag[WITNESS_TAG_MAX], struct err *e) {
        struct azure *a = state;
        _cleanup_free_ struct response *rsp = NULL;
        _cleanup_free_ char *path = NULL, *doing = NULL;
        uint64_t deadline = deadline_after(timeout_usec);
        enum arbiter_result res;

        if (name_check(a, name, e) < 0)
                return ARBITER_FAILED;
        path = blob_path(a, name);
        doing = xasprintf("reading blob '%s'", name);
        struct request q = { .method = "GET", .path = path, .doing = doing };
        rsp = xmalloc(sizeof(*rsp));
        res = azure_request(a, &q, deadline, rsp, e);
        if (res != ARBITER_OK)
                return res;

        switch (rsp->status) {
        case 200:
                if (rsp->body_too_large)
                        return witness_fail(e, ARBITER_CORRUPT, -EBADMSG,
                                            "%s: blob '%s' is larger than %d bytes: not a witness record", a->label,
                                            name, WITNESS_RECORD_MAX);
                if (memchr(rsp->body, '\0', rsp->body_size))
                        return witness_fail(e, ARBITER_CORRUPT, -EBADMSG,
                                            "%s: blob '%s' holds a NUL byte: not a witness record", a->label, name);
                if (!rsp->etag[0])
                        return witness_fail(e, ARBITER_FAILED, -EIO, "%s: the blob service answered %s %s", a->label,
                                            doing,
                                            rsp->etag_too_long ? "with an ETag too long to keep" : "without an ETag");
                *ret_text = xstrndup(rsp->body, rsp->body_size);
                memcpy(ret_tag, rsp->etag, sizeof(rsp->etag));
                return ARBITER_OK;
        case 404:
                /* No container, no record: see the top of the file. */
                if (code_is(rsp, "BlobNotFound") || code_is(rsp, "ContainerNotFound"))
                        return ARBITER_ABSENT;
                return answer_error(a, &q, rsp, e);
        default:
                return answer_error(a, &q, rsp, e);
        }
}

/* Create Container, for the first write into a container that is not
 * there. Another node creating it at the same moment is fine. */
static enum arbiter_result create_container(struct azure *a, uint64_t deadline, struct err *e) {
        _cleanup_free_ struct response *rsp = xmalloc(sizeof(*rsp));
        _cleanup_free_ char *path = xasprintf("/%s", a->container);
        _cleanup_free_ char *doing = xasprintf("creating container '%s'", a->container);
        struct request q = { .method = "PUT", .path = path, .query = "restype=container", .body = "", .doing = doing };
        enum arbiter_result res;

        res = azure_request(a, &q, deadline, rsp, e);
        if (res != ARBITER_OK)
                return res;
        if (rsp->status == 201 || (rsp->status == 409 && code_is(rsp, "ContainerAlreadyExists")))
                return ARBITER_OK;
        return answer_error(a, &q, rsp, e);
}

static enum arbiter_result azure_write(void *state, const char *name, const char *expect_tag, uint64_t generation,
                                       const char *text, uint64_t timeout_usec, char ret_tag[WITNESS_TAG_MAX],
                                       struct err *e) {
        struct azure *a = state;
        _cleanup_free_ struct response *rsp = NULL;
        _cleanup_free_ char *path = NULL, *doing = NULL;
        uint64_t deadline = deadline_after(timeout_usec);
        bool create = !expect_tag || !*expect_tag;
        enum arbiter_result res;
        size_t size = strlen(text);

        /* generation is the SMB backend's file name; an ETag needs none. */
        if (name_check(a, name, e) < 0)
                return ARBITER_FAILED;
        if (!create && !tag_ok(expect_tag))
                return witness_fail(e, ARBITER_FAILED, -EINVAL, "%s: '%s' is not an ETag", a->label, expect_tag);
        if (size > WITNESS_RECORD_MAX)
                return witness_fail(e, ARBITER_FAILED, -EFBIG, "%s: a record of %zu bytes is larger than %d", a->label,
                                    size, WITNESS_RECORD_MAX);
        path = blob_path(a, name);
        doing = xasprintf("writing blob '%s'", name);
        struct request q = {
                .method = "PUT",
                .path = path,
                .body = text,
                .body_size = size,
                .content_type = AZURE_CONTENT_TYPE,
                .blob_type = "BlockBlob",
                .if_match = create ? NULL : expect_tag,
                .if_none_match = create ? "*" : NULL,
                .doing = doing,
        };
        rsp = xmalloc(sizeof(*rsp));

        for (unsigned attempt = 0;; attempt++) {
                res = azure_request(a, &q, deadline, rsp, e);
                if (res != ARBITER_OK)
                        return res;
                switch (rsp->status) {
                case 200: /* Azure says 201; any success with an ETag is one */
                case 201:
                        if (!rsp->etag[0])
                                return witness_fail(
                                        e, ARBITER_FAILED, -EIO, "%s: the blob service answered %s %s", a->label, doing,
                                        rsp->etag_too_long ? "with an ETag too long to keep" : "without an ETag");
                        memcpy(ret_tag, rsp->etag, sizeof(rsp->etag));
                        return ARBITER_OK;
                case 409:
                        /* Azure's answer to If-None-Match: * on a blob that is there. */
                        if (code_is(rsp, "BlobAlreadyExists"))
                                return ARBITER_CONFLICT;
                        return answer_error(a, &q, rsp, e);
                case 412:
                        /* The ETag is another one now. A lease on the blob
                         * (LeaseIdMissing, also 412) is not ours to break. */
                        if (code_is(rsp, "ConditionNotMet") || !rsp->code[0])
                                return ARBITER_CONFLICT;
                        return answer_error(a, &q, rsp, e);
                case 404:
                        /* If-Match on a blob (or container) that is gone: the
                         * record is not the one expected. */
                        if (!create && (code_is(rsp, "BlobNotFound") || code_is(rsp, "ContainerNotFound")))
                                return ARBITER_CONFLICT;
                        if (!code_is(rsp, "ContainerNotFound"))
                                return answer_error(a, &q, rsp, e);
                        if (!a->key)
                                return witness_fail(e, ARBITER_FAILED, -ENOENT,
                                                    "container '%s' does not exist in account %s (%s): create it, or "
                                                    "give the account key instead of a SAS",
                                                    a->container, a->account, a->endpoint);
                        if (attempt > 0)
                                return witness_fail(e, ARBITER_FAILED, -ENOENT,
                                                    "container '%s' does not exist in account %s (%s) right after "
                                                    "it was created",
                                                    a->container, a->account, a->endpoint);
                        res = create_container(a, deadline, e);
                        if (res != ARBITER_OK)
                                return res;
                        continue;
                default:
                        return answer_error(a, &q, rsp, e);
                }
        }
}

/* ------------------------------------------------------------------------ */
/* Open and close                                                            */

static void azure_free(struct azure *a) {
        if (!a)
                return;
        if (a->curl)
                curl_easy_cleanup(a->curl);
        if (a->key)
                explicit_bzero(a->key, a->key_size);
        if (a->sas)
                explicit_bzero(a->sas, strlen(a->sas));
        free(a->key);
        free(a->sas);
        free(a->label);
        free(a->endpoint);
        free(a->resource_prefix);
        free(a->account);
        free(a->container);
        free(a);
}

static void azure_freep(struct azure **a) {
        azure_free(*a);
}

/* What a SAS token may hold: the characters of a URL query, nothing that
 * would end it or the header line. */
static bool sas_char_ok(char c) {
        return is_unreserved(c) || strchr("%&=+:,/!*'()@;$", c);
}

static int azure_open(const struct witness_url *url, const struct witness_credentials *cred, void **ret_state,
                      struct err *e) {
        _cleanup_(azure_freep) struct azure *a = NULL;
        const char *authority, *path;

        if (!url->host[0] || !url->share[0])
                return err_set(e, -EINVAL, "an Azure witness needs a storage account and a container");
        a = xcalloc(1, sizeof(*a));
        a->account = xstrdup(url->host);
        a->container = xstrdup(url->share);
        a->label = xasprintf("azure://%s/%s", url->host, url->share);

        if (url->endpoint[0])
                a->endpoint = xstrdup(url->endpoint);
        else
                a->endpoint = xasprintf("https://%s.blob.core.windows.net", url->host);
        for (size_t n = strlen(a->endpoint); n > 0 && a->endpoint[n - 1] == '/'; n--)
                a->endpoint[n - 1] = '\0';
        authority = startswith(a->endpoint, "https://");
        if (!authority)
                authority = startswith(a->endpoint, "http://");
        if (!authority || !*authority || strpbrk(a->endpoint, "?# \t\r\n"))
                return err_set(e, -EINVAL, "%s: endpoint '%s' is not an http:// or https:// URL", a->label,
                               a->endpoint);
        path = strchr(authority, '/');
        a->resource_prefix = xasprintf("/%s%s", a->account, path ? path : "");

        if (cred->account_key[0]) {
                void *key = NULL;
                size_t size = 0;
                if (base64_decode(cred->account_key, &key, &size) < 0 || size == 0) {
                        if (key)
                                explicit_bzero(key, size);
                        free(key);
                        return err_set(e, -EINVAL, "the account-key in the credentials for %s is not base64", a->label);
                }
                a->key = key;
                a->key_size = size;
        } else if (cred->sas[0]) {
                const char *sas = cred->sas[0] == '?' ? cred->sas + 1 : cred->sas;
                for (const char *p = sas; *p; p++)
                        if (!sas_char_ok(*p))
                                return err_set(e, -EINVAL,
                                               "the sas in the credentials for %s has a '%c' (expected a SAS token "
                                               "as Azure gives it, URL-encoded)",
                                               a->label, *p > ' ' && *p < 0x7f ? *p : '?');
                if (!strstr(sas, "sig="))
                        return err_set(e, -EINVAL,
                                       "the sas in the credentials for %s is not a SAS token (it has no sig=)",
                                       a->label);
                a->sas = xstrdup(sas);
        } else
                return err_set(e, -EINVAL, "the credentials for %s have neither account-key nor sas", a->label);

        pthread_once(&curl_once, curl_init_once);
        if (curl_init_result != CURLE_OK)
                return err_set(e, -EIO, "libcurl cannot start: %s", curl_easy_strerror(curl_init_result));
        a->curl = curl_easy_init();
        if (!a->curl)
                return err_set(e, -ENOMEM, "libcurl cannot make a handle for %s", a->label);

        *ret_state = TAKE_PTR(a);
        return 0;
}

static void azure_close(void *state) {
        azure_free(state);
}

const struct witness_backend_ops witness_azure_ops = {
        .scheme = "azure",
        .open = azure_open,
        .close = azure_close,
        .read = azure_read,
        .write = azure_write,
};
