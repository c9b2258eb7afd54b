/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * witness-url.c: what an operator writes and what the witness stores, as
 * text: witness URLs, the root-only credentials file, the record's text
 * form and the object's name. Pure apart from reading the credentials
 * file; every refusal names what was wrong and where.
 */
#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "quorum/witness-int.h"

/* ------------------------------------------------------------------------ */
/* URLs                                                                      */

static bool is_host_char(char c) {
        return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

/* A host name, an IPv4 address, or an IPv6 address in brackets. */
static int parse_host(const char *url, const char *s, size_t len, char *out, size_t out_size, struct err *e) {
        if (len == 0)
                return err_set(e, -EINVAL, "witness URL '%s' has no host", url);
        if (len >= out_size)
                return err_set(e, -EINVAL, "witness URL '%s': the host is longer than %zu characters", url,
                               out_size - 1);
        if (s[0] == '[') {
                if (s[len - 1] != ']' || len < 4)
                        return err_set(e, -EINVAL, "witness URL '%s': an IPv6 host must be written [ADDRESS]", url);
                for (size_t i = 1; i + 1 < len; i++)
                        if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
                                return err_set(e, -EINVAL, "witness URL '%s': '%.*s' is not an IPv6 address", url,
                                               (int)len, s);
        } else
                for (size_t i = 0; i < len; i++)
                        if (!is_host_char(s[i]))
                                return err_set(e, -EINVAL, "witness URL '%s': the host '%.*s' has a '%c'", url,
                                               (int)len, s, s[i]);
        memcpy(out, s, len);
        out[len] = '\0';
        return 0;
}

/* An SMB share or folder name: no separators, no "." or "..", nothing a
 * shell or SMB would read specially. */
static bool smb_name_ok(const char *s, size_t len) {
        if (len == 0 || len > 80 || (len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
                return false;
        for (size_t i = 0; i < len; i++)
                if (!isalnum((unsigned char)s[i]) && !strchr("-_.$ ", s[i]))
                        return false;
        return true;
}

static int parse_smb(const char *url, const char *rest, struct witness_url *ret, struct err *e) {
        const char *slash = strchr(rest, '/');
        int r;

        if (!slash)
                return err_set(e, -EINVAL, "witness URL '%s' has no share: write smb://HOST/SHARE[/FOLDER]", url);
        if ((r = parse_host(url, rest, (size_t)(slash - rest), ret->host, sizeof(ret->host), e)) < 0)
                return r;
        const char *share = slash + 1, *end = strchr(share, '/');
        size_t len = end ? (size_t)(end - share) : strlen(share);
        if (!smb_name_ok(share, len))
                return err_set(e, -EINVAL,
                               "witness URL '%s': '%.*s' is not a share name (1 to 80 letters, digits, '-', '_', "
                               "'.', '$' or spaces)",
                               url, (int)len, share);
        memcpy(ret->share, share, len);
        ret->share[len] = '\0';
        while (end && end[1]) {
                const char *seg = end + 1;
                end = strchr(seg, '/');
                len = end ? (size_t)(end - seg) : strlen(seg);
                if (!smb_name_ok(seg, len))
                        return err_set(e, -EINVAL, "witness URL '%s': '%.*s' is not a folder name", url, (int)len, seg);
                if (strlen(ret->path) + len + 2 > sizeof(ret->path))
                        return err_set(e, -EINVAL, "witness URL '%s': the folder path is too long", url);
                if (ret->path[0])
                        strcat(ret->path, "/");
                strncat(ret->path, seg, len);
        }
        return 0;
}

/* Azure's rules: an account is 3-24 lower-case letters and digits; a
 * container 3-63 lower-case letters, digits and single hyphens, starting
 * and ending with a letter or digit. */
static bool azure_account_ok(const char *s, size_t len) {
        if (len < 3 || len > 24)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
                        return false;
        return true;
}

static bool azure_container_ok(const char *s, size_t len) {
        if (len < 3 || len > 63 || s[0] == '-' || s[len - 1] == '-')
                return false;
        for (size_t i = 0; i < len; i++) {
                if (s[i] == '-' && s[i + 1] == '-')
                        return false;
                if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
                        return false;
        }
        return true;
}

static int parse_endpoint(const char *url, const char *v, struct witness_url *ret, struct err *e) {
        const char *host = startswith(v, "https://");
        if (!host)
                host = startswith(v, "http://");
        if (!host || !*host)
                return err_set(e, -EINVAL, "witness URL '%s': endpoint '%s' is not an http:// or https:// URL", url, v);
        if (strlen(v) >= sizeof(ret->endpoint))
                return err_set(e, -EINVAL, "witness URL '%s': the endpoint is too long", url);
        for (const char *p = v; *p; p++)
                if ((unsigned char)*p <= ' ' || strchr("?#&\"'\\", *p))
                        return err_set(e, -EINVAL, "witness URL '%s': the endpoint has a '%c'", url, *p);
        snprintf(ret->endpoint, sizeof(ret->endpoint), "%s", v);
        size_t n = strlen(ret->endpoint);
        while (n > 0 && ret->endpoint[n - 1] == '/')
                ret->endpoint[--n] = '\0';
        return 0;
}

static int parse_azure(const char *url, const char *rest, struct witness_url *ret, struct err *e) {
        const char *q = strchr(rest, '?'), *slash = strchr(rest, '/');
        size_t all = q ? (size_t)(q - rest) : strlen(rest);
        int r;

        if (!slash || slash > rest + all)
                return err_set(e, -EINVAL, "witness URL '%s' has no container: write azure://ACCOUNT/CONTAINER", url);
        if (!azure_account_ok(rest, (size_t)(slash - rest)))
                return err_set(e, -EINVAL,
                               "witness URL '%s': '%.*s' is not a storage account name (3 to 24 lower-case letters "
                               "and digits)",
                               url, (int)(slash - rest), rest);
        memcpy(ret->host, rest, (size_t)(slash - rest));
        const char *container = slash + 1;
        size_t len = (size_t)(rest + all - container);
        if (len > 0 && container[len - 1] == '/')
                len--;
        if (!azure_container_ok(container, len))
                return err_set(e, -EINVAL,
                               "witness URL '%s': '%.*s' is not a container name (3 to 63 lower-case letters, "
                               "digits and single hyphens)",
                               url, (int)len, container);
        memcpy(ret->share, container, len);
        ret->share[len] = '\0';
        if (q) {
                const char *v = startswith(q + 1, "endpoint=");
                if (!v)
                        return err_set(e, -EINVAL, "witness URL '%s': the only option is ?endpoint=URL", url);
                if ((r = parse_endpoint(url, v, ret, e)) < 0)
                        return r;
        } else
                snprintf(ret->endpoint, sizeof(ret->endpoint), "https://%s.blob.core.windows.net", ret->host);
        return 0;
}

int witness_url_parse(const char *url, struct witness_url *ret, struct err *e) {
        struct witness_url u = {};
        const char *rest;
        int r;

        if (!url || !*url)
                return err_set(e, -EINVAL, "the witness URL is empty");
        if (strlen(url) > WITNESS_URL_MAX)
                return err_set(e, -EINVAL, "the witness URL is longer than %d characters", WITNESS_URL_MAX);
        for (const char *p = url; *p; p++)
                if ((unsigned char)*p < ' ' || (unsigned char)*p >= 0x7f)
                        return err_set(e, -EINVAL, "the witness URL has a control or non-ASCII character");
        if ((rest = startswith(url, "smb://"))) {
                snprintf(u.scheme, sizeof(u.scheme), "smb");
                r = parse_smb(url, rest, &u, e);
        } else if ((rest = startswith(url, "azure://"))) {
                snprintf(u.scheme, sizeof(u.scheme), "azure");
                r = parse_azure(url, rest, &u, e);
        } else if (startswith(url, "s3://"))
                return err_set(e, -EOPNOTSUPP,
                               "witness URL '%s': S3 witnesses are not supported yet; use smb:// or azure://", url);
        else {
                const char *colon = strstr(url, "://");
                if (colon)
                        return err_set(e, -EINVAL,
                                       "witness URL '%s': unknown scheme '%.*s' (known: smb://HOST/SHARE[/FOLDER], "
                                       "azure://ACCOUNT/CONTAINER[?endpoint=URL])",
                                       url, (int)(colon - url), url);
                return err_set(e, -EINVAL,
                               "'%s' is not a witness URL (write none, smb://HOST/SHARE[/FOLDER] or "
                               "azure://ACCOUNT/CONTAINER)",
                               url);
        }
        if (r < 0)
                return r;
        *ret = u;
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Credentials                                                               */

static char *strip(char *s) {
        while (isspace((unsigned char)*s))
                s++;
        size_t n = strlen(s);
        while (n > 0 && isspace((unsigned char)s[n - 1]))
                s[--n] = '\0';
        return s;
}

int witness_credentials_parse(const char *path, char *text, struct witness_credentials *ret, struct err *e) {
        struct witness_credentials c = {};
        unsigned line = 0;
        int r = 0;

        for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *eq, *k, *v, *dst;
                size_t size;

                line++;
                l = strip(l);
                if (!*l || *l == '#')
                        continue;
                if (!(eq = strchr(l, '='))) {
                        r = err_set(e, -EINVAL, "%s:%u: expected 'key = value'", path, line);
                        break;
                }
                *eq = '\0';
                k = strip(l);
                v = strip(eq + 1);
                if (streq(k, "username"))
                        dst = c.username, size = sizeof(c.username);
                else if (streq(k, "password"))
                        dst = c.password, size = sizeof(c.password);
                else if (streq(k, "domain"))
                        dst = c.domain, size = sizeof(c.domain);
                else if (streq(k, "account-key"))
                        dst = c.account_key, size = sizeof(c.account_key);
                else if (streq(k, "sas"))
                        dst = c.sas, size = sizeof(c.sas);
                else {
                        r = err_set(e, -EINVAL,
                                    "%s:%u: unknown key '%s' (known: username, password, domain, account-key, sas)",
                                    path, line, k);
                        break;
                }
                if (strlen(v) >= size) {
                        r = err_set(e, -EINVAL, "%s:%u: the value of '%s' is longer than %zu characters", path, line, k,
                                    size - 1);
                        break;
                }
                if (*v == '?' && dst == c.sas)
                        v++;
                snprintf(dst, size, "%s", v);
        }
        if (r == 0)
                *ret = c;
        explicit_bzero(&c, sizeof(c));
        return r;
}

int witness_credentials_read(const char *path, struct witness_credentials *ret, struct err *e) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *text = NULL;
        struct stat st;
        size_t size = 0;
        int r;

        if (!path || !*path)
                return err_set(e, -EINVAL, "no witness credentials file is configured (witness.credentials)");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return err_set(e, -errno, "cannot open the witness credentials file '%s': %m", path);
        if (fstat(fd, &st) < 0)
                return err_set(e, -errno, "cannot stat '%s': %m", path);
        if (!S_ISREG(st.st_mode))
                return err_set(e, -EINVAL, "the witness credentials file '%s' is not a regular file", path);
        if (st.st_uid != 0 || (st.st_mode & 077))
                return err_set(e, -EPERM,
                               "the witness credentials file '%s' must be owned by root and readable only by root "
                               "(it is uid %u, mode %04o): chown root '%s' && chmod 600 '%s'",
                               path, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), path, path);
        if (st.st_size > 64 * 1024)
                return err_set(e, -EFBIG, "the witness credentials file '%s' is larger than 64 KiB", path);
        text = xmalloc((size_t)st.st_size + 1);
        while (size < (size_t)st.st_size) {
                ssize_t n = read(fd, text + size, (size_t)st.st_size - size);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return err_set(e, -errno, "cannot read '%s': %m", path);
                if (n == 0)
                        break;
                size += (size_t)n;
        }
        text[size] = '\0';
        r = witness_credentials_parse(path, text, ret, e);
        explicit_bzero(text, size);
        return r;
}

void witness_credentials_wipe(struct witness_credentials *c) {
        explicit_bzero(c, sizeof(*c));
}

/* ------------------------------------------------------------------------ */
/* The record                                                                */

#define RECORD_MAGIC "clusterd-witness-record 1"

char *witness_record_format(const struct arbiter_record *r, const char *cluster_name) {
        return xasprintf(RECORD_MAGIC "\n"
                                      "cluster: %s\n"
                                      "cluster-name: %s\n"
                                      "holder: %" PRIu32 " %" PRIu64 "\n"
                                      "generation: %" PRIu64 "\n"
                                      "lease-usec: %" PRIu64 "\n"
                                      "position: %" PRIu64 " %" PRIu64 "\n",
                         r->cluster_uuid, cluster_name && *cluster_name ? cluster_name : "-", r->holder.nodeid,
                         r->holder.ring_seq, r->generation, r->lease_usec, r->position.epoch, r->position.version);
}

/* The next line of *p, without its '\n'; NULL at the end. */
static const char *next_line(const char **p, size_t *ret_len) {
        const char *s = *p, *nl;
        if (!*s)
                return NULL;
        nl = strchr(s, '\n');
        *ret_len = nl ? (size_t)(nl - s) : strlen(s);
        *p = nl ? nl + 1 : s + *ret_len;
        return s;
}

/* Reads "KEY: " and then n unsigned numbers separated by single spaces. */
static int read_numbers(const char *line, size_t len, const char *key, uint64_t *out, size_t n) {
        char buf[128];
        size_t klen = strlen(key);
        if (len >= sizeof(buf) || len < klen + 2 || memcmp(line, key, klen) != 0 || line[klen] != ':' ||
            line[klen + 1] != ' ')
                return -EINVAL;
        memcpy(buf, line + klen + 2, len - klen - 2);
        buf[len - klen - 2] = '\0';
        char *s = buf;
        for (size_t i = 0; i < n; i++) {
                char *sp = strchr(s, ' ');
                if ((i + 1 < n) != (sp != NULL))
                        return -EINVAL;
                if (sp)
                        *sp = '\0';
                if (*s == '0' && s[1])
                        return -EINVAL; /* one spelling per number */
                if (parse_uint64(s, &out[i]) < 0)
                        return -EINVAL;
                s = sp ? sp + 1 : s;
        }
        return 0;
}

static bool uuid_ok(const char *s, size_t len) {
        if (len != 36)
                return false;
        for (size_t i = 0; i < len; i++) {
                bool dash = i == 8 || i == 13 || i == 18 || i == 23;
                if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
                        return false;
        }
        return true;
}

int witness_record_parse(const char *text, struct arbiter_record *ret, struct err *e) {
        struct arbiter_record r = {};
        const char *p = text, *l;
        uint64_t v[2];
        size_t len;

        if (!text || !*text)
                return err_set(e, -EBADMSG, "the witness record is empty");
        l = next_line(&p, &len);
        if (len != strlen(RECORD_MAGIC) || memcmp(l, RECORD_MAGIC, len) != 0)
                return err_set(e, -EBADMSG, "not a clusterd witness record (the first line is not '%s')", RECORD_MAGIC);
        if (!(l = next_line(&p, &len)) || len < 9 || memcmp(l, "cluster: ", 9) != 0 || !uuid_ok(l + 9, len - 9))
                return err_set(e, -EBADMSG, "witness record: line 2 is not 'cluster: UUID'");
        memcpy(r.cluster_uuid, l + 9, 36);
        if (!(l = next_line(&p, &len)) || len < 15 || memcmp(l, "cluster-name: ", 14) != 0)
                return err_set(e, -EBADMSG, "witness record: line 3 is not 'cluster-name: NAME'");
        if (!(l = next_line(&p, &len)) || read_numbers(l, len, "holder", v, 2) < 0 || v[0] > UINT32_MAX)
                return err_set(e, -EBADMSG, "witness record: line 4 is not 'holder: NODEID RING'");
        r.holder = (struct arbiter_partition){ (uint32_t)v[0], v[1] };
        if (!(l = next_line(&p, &len)) || read_numbers(l, len, "generation", v, 1) < 0 || v[0] == 0)
                return err_set(e, -EBADMSG, "witness record: line 5 is not 'generation: N' with N >= 1");
        r.generation = v[0];
        if (!(l = next_line(&p, &len)) || read_numbers(l, len, "lease-usec", v, 1) < 0 || v[0] == 0 ||
            v[0] > ARBITER_LEASE_MAX_USEC)
                return err_set(e, -EBADMSG, "witness record: line 6 is not 'lease-usec: N' with 0 < N <= 1 hour");
        r.lease_usec = v[0];
        if (!(l = next_line(&p, &len)) || read_numbers(l, len, "position", v, 2) < 0)
                return err_set(e, -EBADMSG, "witness record: line 7 is not 'position: EPOCH VERSION'");
        r.position = (struct arbiter_position){ v[0], v[1] };
        if (*p)
                return err_set(e, -EBADMSG, "witness record: unexpected text after line 7");
        *ret = r;
        return 0;
}

int witness_object_name(const char *cluster_name, const char *cluster_uuid, char *buf, size_t size, struct err *e) {
        if (!cluster_name || !name_is_valid(cluster_name))
                return err_set(e, -EINVAL, "cluster name '%s' cannot name a witness object", strempty(cluster_name));
        if (!cluster_uuid || !uuid_ok(cluster_uuid, strlen(cluster_uuid)))
                return err_set(e, -EINVAL, "cluster uuid '%s' is not a uuid", strempty(cluster_uuid));
        if ((size_t)snprintf(buf, size, "clusterd-witness-%s-%s", cluster_name, cluster_uuid) >= size)
                return err_set(e, -ENAMETOOLONG, "the witness object name for cluster '%s' is too long", cluster_name);
        return 0;
}
