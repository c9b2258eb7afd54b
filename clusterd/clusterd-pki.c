/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-pki.c: the cluster's CA and this node's TLS certificate (GnuTLS).
 *
 * Every GnuTLS result is translated to -errno here (STYLE rule 14): -ENOMEM
 * when the library ran out of memory, -EINVAL when what we were handed (a
 * PEM from a peer, a file in dir, a SAN) is bad, -EIO when the library fails
 * at something that cannot fail on good input (key generation, signing).
 * Messages carry gnutls_strerror()'s text and the file concerned.
 */
#include <arpa/inet.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "clusterd/pki-int.h"

/* A PEM certificate or key is well under 4 KiB; refuse anything that is
 * clearly not one of ours instead of handing it to the parser. */
#define PKI_PEM_MAX (64U * 1024U)

#define SEC_PER_DAY ((time_t)24 * 60 * 60)
#define CA_LIFETIME_SEC (20 * 365 * SEC_PER_DAY)
#define NODE_LIFETIME_SEC (5 * 365 * SEC_PER_DAY)
/* Certificates start an hour in the past so that a peer whose clock is a
 * little behind ours does not reject them as not yet valid. */
#define BACKDATE_SEC ((time_t)60 * 60)
/* A node certificate this close to expiry is replaced when it is next
 * checked, long before any client could see it expire. */
#define RENEW_MARGIN_SEC (30 * SEC_PER_DAY)

#define SERIAL_SIZE 16
#define KEY_ID_MAX 64 /* bytes; a SHA-256 key id is 32 */
#define SAN_MAX 256   /* bytes; a DNS name is at most 253 characters */

static void crt_deinitp(gnutls_x509_crt_t *p) {
        if (*p)
                gnutls_x509_crt_deinit(*p);
}

static void privkey_deinitp(gnutls_x509_privkey_t *p) {
        if (*p)
                gnutls_x509_privkey_deinit(*p);
}

/* Private keys do not linger in freed heap memory. */
static void erase_and_freep(char **p) {
        if (*p) {
                explicit_bzero(*p, strlen(*p));
                free(*p);
        }
}

#define _cleanup_crt_ _cleanup_(crt_deinitp)
#define _cleanup_privkey_ _cleanup_(privkey_deinitp)
#define _cleanup_erase_ _cleanup_(erase_and_freep)

/* Records "<what>: <GnuTLS's reason>" in e and returns the -errno for gr:
 * -ENOMEM when the library ran out of memory, fallback otherwise (the caller
 * knows whether its input was bad or the library failed). */
_printf_(4, 5) static int tls_fail(struct err *e, int gr, int fallback, const char *fmt, ...) {
        char what[256];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        return err_set(e, gr == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : fallback, "%s: %s", what, gnutls_strerror(gr));
}

char *pki_path(const char *dir, const char *file) {
        return xasprintf("%s/%s", dir, file);
}

/* ------------------------------------------------------------------------ */
/* Parsing and checking                                                      */
/* ------------------------------------------------------------------------ */

/* Parses the first certificate in pem; `what` names it in messages. */
static int crt_from_pem(const char *pem, const char *what, gnutls_x509_crt_t *ret, struct err *e) {
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        size_t len = strlen(pem);
        gnutls_datum_t d = { (unsigned char *)(uintptr_t)pem, (unsigned)len };
        int gr;

        if (len > PKI_PEM_MAX)
                return err_set(e, -EINVAL, "%s does not parse: larger than %u bytes", what, PKI_PEM_MAX);
        gr = gnutls_x509_crt_init(&crt);
        if (gr < 0)
                return tls_fail(e, gr, -ENOMEM, "Failed to allocate %s", what);
        gr = gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM);
        if (gr < 0)
                return tls_fail(e, gr, -EINVAL, "%s does not parse", what);
        *ret = TAKE_PTR(crt);
        return 0;
}

/* Parses an unencrypted private key (PKCS#8 or the algorithm's own PEM). */
static int key_from_pem(const char *pem, const char *what, gnutls_x509_privkey_t *ret, struct err *e) {
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        size_t len = strlen(pem);
        gnutls_datum_t d = { (unsigned char *)(uintptr_t)pem, (unsigned)len };
        int gr;

        if (len > PKI_PEM_MAX)
                return err_set(e, -EINVAL, "%s does not parse: larger than %u bytes", what, PKI_PEM_MAX);
        gr = gnutls_x509_privkey_init(&key);
        if (gr < 0)
                return tls_fail(e, gr, -ENOMEM, "Failed to allocate %s", what);
        gr = gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
        if (gr < 0)
                return tls_fail(e, gr, -EINVAL, "%s does not parse", what);
        *ret = TAKE_PTR(key);
        return 0;
}

/* Whether key is the private half of crt's public key. The SHA-256 key ids
 * of both are ids of the same public key exactly when it is; an id that
 * cannot be computed counts as a mismatch. */
static bool key_matches_crt(gnutls_x509_privkey_t key, gnutls_x509_crt_t crt) {
        unsigned char a[KEY_ID_MAX], b[KEY_ID_MAX];
        size_t a_size = sizeof(a), b_size = sizeof(b);

        if (gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, a, &a_size) < 0)
                return false;
        if (gnutls_x509_crt_get_key_id(crt, GNUTLS_KEYID_USE_SHA256, b, &b_size) < 0)
                return false;
        return a_size == b_size && memcmp(a, b, a_size) == 0;
}

static bool crt_is_ca(gnutls_x509_crt_t crt) {
        unsigned critical;
        return gnutls_x509_crt_get_ca_status(crt, &critical) > 0;
}

static bool crt_cn_equal(gnutls_x509_crt_t crt, const char *cn) {
        char buf[SAN_MAX];
        size_t size = sizeof(buf);

        if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size) < 0)
                return false;
        return streq(buf, cn);
}

/* ------------------------------------------------------------------------ */
/* Subject alternative names                                                 */
/* ------------------------------------------------------------------------ */

/* Parses an IPv4 or IPv6 literal into addr (network order); returns its
 * length (4 or 16), or 0 when san is not an address. */
static size_t san_parse_ip(const char *san, unsigned char addr[16]) {
        if (inet_pton(AF_INET, san, addr) == 1)
                return 4;
        if (inet_pton(AF_INET6, san, addr) == 1)
                return 16;
        return 0;
}

/* What we accept as a DNS SAN: the characters of host names (and the '*'
 * of a wildcard), at most 253 of them. Anything else is a caller's mistake
 * that GnuTLS would otherwise encode without complaint. */
static bool dns_name_is_valid(const char *s) {
        size_t n = strlen(s);

        if (n == 0 || n > 253)
                return false;
        for (const char *p = s; *p; p++)
                if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_*", *p))
                        return false;
        return true;
}

static char *canonical_ip(const unsigned char *addr, size_t size) {
        char buf[INET6_ADDRSTRLEN];

        if (!inet_ntop(size == 4 ? AF_INET : AF_INET6, addr, buf, sizeof(buf)))
                return NULL;
        return xasprintf("IP:%s", buf);
}

/* DNS names are case-insensitive, so they are compared in lower case. */
static char *canonical_dns(const char *name, size_t len) {
        char *c = xasprintf("DNS:%.*s", (int)len, name);

        for (char *p = c + 4; *p; p++)
                if (*p >= 'A' && *p <= 'Z')
                        *p = (char)(*p - 'A' + 'a');
        return c;
}

static int strcmp_ptr(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts l and drops duplicates, so that two SAN lists compare as sets. */
static void strv_sort_uniq(char **l) {
        size_t n = strv_length(l), k = 0;

        if (n == 0)
                return;
        qsort(l, n, sizeof(char *), strcmp_ptr);
        for (size_t i = 1; i < n; i++) {
                if (streq(l[i], l[k]))
                        free(l[i]);
                else
                        l[++k] = l[i];
        }
        l[k + 1] = NULL;
}

/* The requested SANs in the form they are compared in: "IP:" with the
 * address as inet_ntop() spells it (so "::0:1" equals "::1"), or "DNS:" with
 * the name in lower case; sorted, without duplicates. NULL when there are
 * none. -EINVAL for an entry that is neither an address nor a DNS name. */
static int sans_canonical(char *const *sans, char ***ret, struct err *e) {
        _cleanup_strv_free_ char **l = NULL;

        for (char *const *s = sans; s && *s; s++) {
                unsigned char addr[16];
                size_t size = san_parse_ip(*s, addr);
                _cleanup_free_ char *c = NULL;

                if (size > 0)
                        c = canonical_ip(addr, size);
                else if (dns_name_is_valid(*s))
                        c = canonical_dns(*s, strlen(*s));
                if (!c)
                        return err_set(e, -EINVAL, "SAN '%s' is neither an IP address nor a valid DNS name", *s);
                strv_push(&l, c);
        }
        strv_sort_uniq(l);
        *ret = TAKE_PTR(l);
        return 0;
}

/* The SANs crt names, in the form of sans_canonical(). A SAN of any other
 * type is listed as "OTHER:<type>", which matches no request. */
static int crt_sans(gnutls_x509_crt_t crt, char ***ret) {
        _cleanup_strv_free_ char **l = NULL;

        for (unsigned seq = 0;; seq++) {
                unsigned char buf[SAN_MAX];
                size_t size = sizeof(buf);
                unsigned type, critical;
                _cleanup_free_ char *c = NULL;
                int gr;

                gr = gnutls_x509_crt_get_subject_alt_name2(crt, seq, buf, &size, &type, &critical);
                if (gr == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
                        break;
                if (gr < 0)
                        return -EINVAL;
                if (type == GNUTLS_SAN_IPADDRESS && (size == 4 || size == 16))
                        c = canonical_ip(buf, size);
                else if (type == GNUTLS_SAN_DNSNAME)
                        c = canonical_dns((const char *)buf, strnlen((const char *)buf, size));
                else
                        c = xasprintf("OTHER:%u", type);
                if (!c)
                        return -EINVAL;
                strv_push(&l, c);
        }
        strv_sort_uniq(l);
        *ret = TAKE_PTR(l);
        return 0;
}

/* Adds every entry of sans, already checked by sans_canonical(), in the
 * order given: an address literal as an IP SAN, anything else as DNS. */
static int crt_add_sans(gnutls_x509_crt_t crt, char *const *sans, struct err *e) {
        for (char *const *s = sans; s && *s; s++) {
                unsigned char addr[16];
                size_t size = san_parse_ip(*s, addr);
                int gr;

                if (size > 0)
                        gr = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, (unsigned)size,
                                                                  GNUTLS_FSAN_APPEND);
                else
                        gr = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, *s, (unsigned)strlen(*s),
                                                                  GNUTLS_FSAN_APPEND);
                if (gr < 0)
                        return tls_fail(e, gr, -EINVAL, "Failed to add SAN '%s'", *s);
        }
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Issuing                                                                   */
/* ------------------------------------------------------------------------ */

static int key_generate(gnutls_x509_privkey_t *ret, struct err *e) {
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        int gr;

        gr = gnutls_x509_privkey_init(&key);
        if (gr < 0)
                return tls_fail(e, gr, -ENOMEM, "Failed to allocate a private key");
        gr = gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA, GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0,
                                           NULL, 0);
        if (gr < 0)
                return tls_fail(e, gr, -EIO, "Failed to generate an ECDSA P-256 key");
        *ret = TAKE_PTR(key);
        return 0;
}

/* Sets what every certificate we issue has: version 3, key's public key and
 * its subject key id, subject CN cn, a random serial, and a validity period
 * from BACKDATE_SEC ago to lifetime_sec from now. */
static int crt_fill_common(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn, time_t lifetime_sec,
                           struct err *e) {
        unsigned char serial[SERIAL_SIZE], key_id[KEY_ID_MAX];
        size_t key_id_size = sizeof(key_id);
        time_t now = (time_t)(now_realtime_usec() / USEC_PER_SEC);
        int r, gr;

        r = random_bytes(serial, sizeof(serial));
        if (r < 0)
                return err_set(e, r, "Failed to get random bytes for a serial number: %s", strerror(-r));
        /* A DER INTEGER is signed: clearing the top bit keeps the serial
         * positive, and setting the next one keeps it exactly 16 bytes long
         * (a leading zero byte would be dropped from the encoding). */
        serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);

        if ((gr = gnutls_x509_crt_set_version(crt, 3)) < 0 || (gr = gnutls_x509_crt_set_key(crt, key)) < 0 ||
            (gr = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, cn, (unsigned)strlen(cn))) < 0 ||
            (gr = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
            (gr = gnutls_x509_crt_set_activation_time(crt, now - BACKDATE_SEC)) < 0 ||
            (gr = gnutls_x509_crt_set_expiration_time(crt, now + lifetime_sec)) < 0 ||
            (gr = gnutls_x509_privkey_get_key_id(key, 0, key_id, &key_id_size)) < 0 ||
            (gr = gnutls_x509_crt_set_subject_key_id(crt, key_id, key_id_size)) < 0)
                return tls_fail(e, gr, -EIO, "Failed to fill in certificate for '%s'", cn);
        return 0;
}

/* The authority key id of a certificate ca signs: ca's subject key id. A CA
 * made elsewhere may lack one; then its key id is the next best thing. */
static int crt_set_issuer_key_id(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca, struct err *e) {
        unsigned char id[KEY_ID_MAX];
        size_t size = sizeof(id);
        unsigned critical;
        int gr;

        gr = gnutls_x509_crt_get_subject_key_id(ca, id, &size, &critical);
        if (gr == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
                size = sizeof(id);
                gr = gnutls_x509_crt_get_key_id(ca, 0, id, &size);
        }
        if (gr >= 0)
                gr = gnutls_x509_crt_set_authority_key_id(crt, id, size);
        if (gr < 0)
                return tls_fail(e, gr, -EIO, "Failed to set the authority key id");
        return 0;
}

/* Exports crt and key as PEM strings (the key as unencrypted PKCS#8, which
 * every TLS library reads). The caller frees both. */
static int export_pair(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, char **ret_cert_pem, char **ret_key_pem,
                       struct err *e) {
        gnutls_datum_t c = { NULL, 0 }, k = { NULL, 0 };
        int gr;

        gr = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &c);
        if (gr < 0)
                return tls_fail(e, gr, -EIO, "Failed to export certificate");
        gr = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN, &k);
        if (gr < 0) {
                gnutls_free(c.data);
                return tls_fail(e, gr, -EIO, "Failed to export private key");
        }
        *ret_cert_pem = xstrndup((const char *)c.data, c.size);
        *ret_key_pem = xstrndup((const char *)k.data, k.size);
        gnutls_free(c.data);
        explicit_bzero(k.data, k.size);
        gnutls_free(k.data);
        return 0;
}

static int ca_issue(const char *cluster_name, char **ret_cert_pem, char **ret_key_pem, struct err *e) {
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        _cleanup_free_ char *cn = xasprintf("clusterd CA %s", cluster_name);
        int r, gr;

        r = key_generate(&key, e);
        if (r < 0)
                return r;
        gr = gnutls_x509_crt_init(&crt);
        if (gr < 0)
                return tls_fail(e, gr, -ENOMEM, "Failed to allocate a certificate");
        r = crt_fill_common(crt, key, cn, CA_LIFETIME_SEC, e);
        if (r < 0)
                return r;
        /* Path length 0: this CA signs node certificates, never another CA.
         * GnuTLS marks both extensions critical. */
        if ((gr = gnutls_x509_crt_set_basic_constraints(crt, 1, 0)) < 0 ||
            (gr = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN)) < 0)
                return tls_fail(e, gr, -EIO, "Failed to set the extensions of '%s'", cn);
        gr = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
        if (gr < 0)
                return tls_fail(e, gr, -EIO, "Failed to self-sign '%s'", cn);
        return export_pair(crt, key, ret_cert_pem, ret_key_pem, e);
}

static int node_issue(gnutls_x509_crt_t ca, gnutls_x509_privkey_t ca_key, const char *node_name, char *const *sans,
                      char **ret_cert_pem, char **ret_key_pem, struct err *e) {
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        int r, gr;

        r = key_generate(&key, e);
        if (r < 0)
                return r;
        gr = gnutls_x509_crt_init(&crt);
        if (gr < 0)
                return tls_fail(e, gr, -ENOMEM, "Failed to allocate a certificate");
        r = crt_fill_common(crt, key, node_name, NODE_LIFETIME_SEC, e);
        if (r < 0)
                return r;
        /* keyEncipherment means nothing for an EC key but is asked for by
         * clients that still check for RSA-era server certificates. */
        if ((gr = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
            (gr = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT)) < 0 ||
            (gr = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
            (gr = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0)
                return tls_fail(e, gr, -EIO, "Failed to set the extensions of '%s'", node_name);
        r = crt_add_sans(crt, sans, e);
        if (r < 0)
                return r;
        r = crt_set_issuer_key_id(crt, ca, e);
        if (r < 0)
                return r;
        gr = gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0);
        if (gr < 0)
                return tls_fail(e, gr, -EIO, "Failed to sign the certificate of '%s'", node_name);
        return export_pair(crt, key, ret_cert_pem, ret_key_pem, e);
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

static int read_pem(const char *dir, const char *file, char **ret, struct err *e) {
        _cleanup_free_ char *path = pki_path(dir, file);
        int r;

        r = read_full_file(path, PKI_PEM_MAX, ret, NULL);
        if (r < 0)
                return err_set(e, r, "Failed to read '%s': %s", path, strerror(-r));
        return 0;
}

static int load_crt(const char *dir, const char *file, const char *what, gnutls_x509_crt_t *ret, struct err *e) {
        _cleanup_free_ char *pem = NULL, *path = pki_path(dir, file);
        _cleanup_free_ char *label = xasprintf("%s '%s'", what, path);
        int r;

        r = read_pem(dir, file, &pem, e);
        if (r < 0)
                return r;
        return crt_from_pem(pem, label, ret, e);
}

static int load_key(const char *dir, const char *file, const char *what, gnutls_x509_privkey_t *ret, struct err *e) {
        _cleanup_erase_ char *pem = NULL;
        _cleanup_free_ char *path = pki_path(dir, file);
        _cleanup_free_ char *label = xasprintf("%s '%s'", what, path);
        int r;

        r = read_pem(dir, file, &pem, e);
        if (r < 0)
                return r;
        return key_from_pem(pem, label, ret, e);
}

/* The CA in dir, checked to be a usable pair: signing with a key that does
 * not belong to ca.crt would produce certificates nobody can verify. */
static int ca_load(const char *dir, gnutls_x509_crt_t *ret_crt, gnutls_x509_privkey_t *ret_key, struct err *e) {
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        int r;

        r = load_crt(dir, "ca.crt", "CA certificate", &crt, e);
        if (r < 0)
                return r;
        r = load_key(dir, "ca.key", "CA key", &key, e);
        if (r < 0)
                return r;
        if (!key_matches_crt(key, crt))
                return err_set(e, -EINVAL, "CA key in '%s' does not match the CA certificate ca.crt", dir);
        *ret_crt = TAKE_PTR(crt);
        *ret_key = TAKE_PTR(key);
        return 0;
}

/* Writes <name>.key (0600) and then <name>.crt (0644) in dir, each
 * atomically. The key goes first: a crash between the two leaves a new key
 * beside the old certificate, which the key-match checks notice, rather
 * than a certificate whose key was never written. */
static int write_pair(const char *dir, const char *name, const char *cert_pem, const char *key_pem, struct err *e) {
        _cleanup_free_ char *key_path = xasprintf("%s/%s.key", dir, name);
        _cleanup_free_ char *cert_path = xasprintf("%s/%s.crt", dir, name);
        int r;

        r = write_file_atomic(key_path, key_pem, strlen(key_pem), 0600);
        if (r < 0)
                return err_set(e, r, "Failed to write '%s': %s", key_path, strerror(-r));
        r = write_file_atomic(cert_path, cert_pem, strlen(cert_pem), 0644);
        if (r < 0)
                return err_set(e, r, "Failed to write '%s': %s", cert_path, strerror(-r));
        return 0;
}

static int refuse_existing(const char *dir, const char *file, struct err *e) {
        _cleanup_free_ char *path = pki_path(dir, file);
        int r;

        if (access(path, F_OK) == 0)
                return err_set(e, -EEXIST, "'%s' already exists; refusing to replace the cluster's CA", path);
        r = -errno;
        if (r != -ENOENT)
                return err_set(e, r, "Failed to check '%s': %s", path, strerror(-r));
        return 0;
}

static int make_dir(const char *dir, struct err *e) {
        int r = mkdir_p(dir, 0700);
        if (r < 0)
                return err_set(e, r, "Failed to create directory '%s': %s", dir, strerror(-r));
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Interface                                                                 */
/* ------------------------------------------------------------------------ */

int pki_create_ca(const char *dir, const char *cluster_name, struct err *e) {
        _cleanup_free_ char *cert_pem = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        int r;

        if (!name_is_valid(cluster_name))
                return err_set(e, -EINVAL, "Invalid cluster name '%s'", cluster_name);
        r = refuse_existing(dir, "ca.crt", e);
        if (r < 0)
                return r;
        r = refuse_existing(dir, "ca.key", e);
        if (r < 0)
                return r;
        r = make_dir(dir, e);
        if (r < 0)
                return r;
        r = ca_issue(cluster_name, &cert_pem, &key_pem, e);
        if (r < 0)
                return r;
        return write_pair(dir, "ca", cert_pem, key_pem, e);
}

int pki_install_ca(const char *dir, const char *cert_pem, const char *key_pem, struct err *e) {
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        _cleanup_free_ char *clean_cert = NULL;
        _cleanup_erase_ char *clean_key = NULL;
        int r;

        r = crt_from_pem(cert_pem, "CA certificate", &crt, e);
        if (r < 0)
                return r;
        r = key_from_pem(key_pem, "CA key", &key, e);
        if (r < 0)
                return r;
        if (!crt_is_ca(crt))
                return err_set(e, -EINVAL, "Refusing to install the CA: certificate is not a CA");
        if (!key_matches_crt(key, crt))
                return err_set(e, -EINVAL, "Refusing to install the CA: CA key does not match the CA certificate");
        /* Write back what was checked, not what was sent: extra certificates
         * after the first would otherwise end up trusted by every client
         * that reads ca.crt as a bundle. */
        r = export_pair(crt, key, &clean_cert, &clean_key, e);
        if (r < 0)
                return r;
        r = make_dir(dir, e);
        if (r < 0)
                return r;
        return write_pair(dir, "ca", clean_cert, clean_key, e);
}

int pki_read_ca(const char *dir, char **ret_cert_pem, char **ret_key_pem, struct err *e) {
        _cleanup_free_ char *cert_pem = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        int r;

        r = read_pem(dir, "ca.crt", &cert_pem, e);
        if (r < 0)
                return r;
        r = read_pem(dir, "ca.key", &key_pem, e);
        if (r < 0)
                return r;
        *ret_cert_pem = TAKE_PTR(cert_pem);
        *ret_key_pem = TAKE_PTR(key_pem);
        return 0;
}

/* Whether node.crt/node.key in dir may be kept (see pki_ensure_node_cert()).
 * Every reason not to, including a missing or unreadable file, is just
 * "no": the caller then writes a new pair. */
static bool node_cert_usable(const char *dir, gnutls_x509_crt_t ca, const char *node_name, char *const *want_sans) {
        _cleanup_crt_ gnutls_x509_crt_t crt = NULL;
        _cleanup_privkey_ gnutls_x509_privkey_t key = NULL;
        _cleanup_strv_free_ char **have_sans = NULL;
        time_t now = (time_t)(now_realtime_usec() / USEC_PER_SEC);
        time_t expires;
        unsigned status;

        if (load_crt(dir, "node.crt", "node certificate", &crt, NULL) < 0)
                return false;
        if (load_key(dir, "node.key", "node key", &key, NULL) < 0)
                return false;
        if (!key_matches_crt(key, crt))
                return false;
        /* Also checks that it is valid now: not before its start, not after its end. */
        if (gnutls_x509_crt_verify(crt, &ca, 1, 0, &status) < 0 || status != 0)
                return false;
        expires = gnutls_x509_crt_get_expiration_time(crt);
        if (expires == (time_t)-1 || expires < now + RENEW_MARGIN_SEC)
                return false;
        if (!crt_cn_equal(crt, node_name))
                return false;
        if (crt_sans(crt, &have_sans) < 0)
                return false;
        return strv_equal(have_sans, want_sans);
}

int pki_ensure_node_cert(const char *dir, const char *node_name, char *const *sans, struct err *e) {
        _cleanup_strv_free_ char **want_sans = NULL;
        _cleanup_crt_ gnutls_x509_crt_t ca = NULL;
        _cleanup_privkey_ gnutls_x509_privkey_t ca_key = NULL;
        _cleanup_free_ char *cert_pem = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        int r;

        if (!name_is_valid(node_name))
                return err_set(e, -EINVAL, "Invalid node name '%s'", node_name);
        r = sans_canonical(sans, &want_sans, e);
        if (r < 0)
                return r;
        r = ca_load(dir, &ca, &ca_key, e);
        if (r < 0)
                return r;
        if (node_cert_usable(dir, ca, node_name, want_sans))
                return 0;
        r = node_issue(ca, ca_key, node_name, sans, &cert_pem, &key_pem, e);
        if (r < 0)
                return r;
        r = write_pair(dir, "node", cert_pem, key_pem, e);
        if (r < 0)
                return r;
        return 1;
}

int pki_read_node_cert(const char *dir, char **ret_cert_pem, char **ret_key_pem, struct err *e) {
        _cleanup_free_ char *node_pem = NULL, *ca_pem = NULL;
        _cleanup_erase_ char *key_pem = NULL;
        size_t n;
        int r;

        r = read_pem(dir, "node.crt", &node_pem, e);
        if (r < 0)
                return r;
        r = read_pem(dir, "ca.crt", &ca_pem, e);
        if (r < 0)
                return r;
        r = read_pem(dir, "node.key", &key_pem, e);
        if (r < 0)
                return r;
        /* PEM blocks must start on a line of their own. */
        n = strlen(node_pem);
        *ret_cert_pem = xasprintf("%s%s%s", node_pem, n > 0 && node_pem[n - 1] != '\n' ? "\n" : "", ca_pem);
        *ret_key_pem = TAKE_PTR(key_pem);
        return 0;
}
