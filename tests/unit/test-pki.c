/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test-pki.c: the cluster CA and node certificates, checked the way a TLS
 * client would check them: GnuTLS verifies the chain and the host names, and
 * a real handshake runs between a server with node.crt and a client that
 * trusts only ca.crt.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "clusterd/pki-int.h"

static const char *const test_sans[] = { "node1",     "node1.example.org", "localhost", "198.18.0.1",
                                         "127.0.0.1", "fd00::1",           NULL };

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup_dir(void **state) {
        char tmpl[] = "/tmp/test-pki-XXXXXX";
        if (!mkdtemp(tmpl))
                return -1;
        *state = xstrdup(tmpl);
        return 0;
}

static int teardown_dir(void **state) {
        char *dir = *state;
        int r = nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
        free(dir);
        return r;
}

static char *subdir(const char *dir, const char *name) {
        return xasprintf("%s/%s", dir, name);
}

static char *read_pki_file(const char *dir, const char *file) {
        _cleanup_free_ char *path = pki_path(dir, file);
        char *data = NULL;
        assert_int_equal(read_full_file(path, 1024 * 1024, &data, NULL), 0);
        return data;
}

static void write_pki_file(const char *dir, const char *file, const char *data, mode_t mode) {
        _cleanup_free_ char *path = pki_path(dir, file);
        assert_int_equal(write_file_atomic(path, data, strlen(data), mode), 0);
}

static mode_t file_mode(const char *dir, const char *file) {
        _cleanup_free_ char *path = pki_path(dir, file);
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        return st.st_mode & 07777;
}

static bool file_exists(const char *dir, const char *file) {
        _cleanup_free_ char *path = pki_path(dir, file);
        return access(path, F_OK) == 0;
}

static gnutls_x509_crt_t crt_load(const char *dir, const char *file) {
        _cleanup_free_ char *pem = read_pki_file(dir, file);
        gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
        gnutls_x509_crt_t crt;
        assert_int_equal(gnutls_x509_crt_init(&crt), 0);
        assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
        return crt;
}

static gnutls_x509_privkey_t key_load(const char *dir, const char *file) {
        _cleanup_free_ char *pem = read_pki_file(dir, file);
        gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };
        gnutls_x509_privkey_t key;
        assert_int_equal(gnutls_x509_privkey_init(&key), 0);
        assert_int_equal(gnutls_x509_privkey_import2(key, &d, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
        return key;
}

static void assert_cn(gnutls_x509_crt_t crt, const char *cn) {
        char buf[256];
        size_t size = sizeof(buf);
        assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &size), 0);
        assert_string_equal(buf, cn);
}

static void assert_p256(gnutls_x509_crt_t crt) {
        gnutls_ecc_curve_t curve;
        gnutls_datum_t x = { NULL, 0 }, y = { NULL, 0 };
        assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, NULL), GNUTLS_PK_ECDSA);
        assert_int_equal(gnutls_x509_crt_get_pk_ecc_raw(crt, &curve, &x, &y), 0);
        assert_int_equal(curve, GNUTLS_ECC_CURVE_SECP256R1);
        gnutls_free(x.data);
        gnutls_free(y.data);
}

/* Validity starts about an hour ago and lasts about `years`. */
static void assert_validity(gnutls_x509_crt_t crt, int years) {
        time_t now = time(NULL);
        time_t from = gnutls_x509_crt_get_activation_time(crt);
        time_t until = gnutls_x509_crt_get_expiration_time(crt);
        assert_true(from <= now - 3500 && from >= now - 3700);
        assert_true(until >= now + (time_t)years * 365 * 86400 - 3600);
        assert_true(until <= now + (time_t)years * 366 * 86400);
}

static void assert_verifies(gnutls_x509_crt_t crt, gnutls_x509_crt_t ca) {
        unsigned status = ~0U;
        assert_int_equal(gnutls_x509_crt_verify(crt, &ca, 1, 0, &status), 0);
        assert_int_equal(status, 0);
}

static void create_ca(const char *dir, const char *cluster) {
        struct err e = {};
        assert_int_equal(pki_create_ca(dir, cluster, &e), 0);
        assert_int_equal(e.code, 0);
}

static int ensure_node(const char *dir, const char *const *sans) {
        struct err e = {};
        int r = pki_ensure_node_cert(dir, "node1", (char *const *)sans, &e);
        if (r < 0)
                fail_msg("pki_ensure_node_cert: %s", e.msg);
        return r;
}

/* ------------------------------------------------------------------------ */

static void test_create_ca(void **state) {
        _cleanup_free_ char *dir = subdir(*state, "deep/pki");
        unsigned char serial[64];
        size_t serial_size = sizeof(serial);
        unsigned usage, critical;
        struct stat st;

        create_ca(dir, "prod");
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0700);
        assert_int_equal(file_mode(dir, "ca.crt"), 0644);
        assert_int_equal(file_mode(dir, "ca.key"), 0600);

        gnutls_x509_crt_t ca = crt_load(dir, "ca.crt");
        assert_cn(ca, "clusterd CA prod");
        assert_p256(ca);
        assert_validity(ca, 20);
        assert_int_equal(gnutls_x509_crt_get_ca_status(ca, &critical), 1);
        assert_true(critical);
        assert_true(gnutls_x509_crt_get_key_usage(ca, &usage, &critical) >= 0);
        assert_int_equal(usage, GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN);
        assert_int_equal(gnutls_x509_crt_get_serial(ca, serial, &serial_size), 0);
        assert_int_equal(serial_size, 16);
        assert_int_equal(serial[0] & 0x80, 0);
        assert_verifies(ca, ca);
        gnutls_x509_crt_deinit(ca);

        /* The key on disk is the CA's. */
        gnutls_x509_crt_t again = crt_load(dir, "ca.crt");
        gnutls_x509_privkey_t key = key_load(dir, "ca.key");
        unsigned char a[64], b[64];
        size_t a_size = sizeof(a), b_size = sizeof(b);
        assert_int_equal(gnutls_x509_crt_get_key_id(again, GNUTLS_KEYID_USE_SHA256, a, &a_size), 0);
        assert_int_equal(gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA256, b, &b_size), 0);
        assert_memory_equal(a, b, a_size);
        gnutls_x509_privkey_deinit(key);
        gnutls_x509_crt_deinit(again);
}

static void test_create_ca_refuses_existing(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *before = NULL, *after = NULL, *crt_path = pki_path(dir, "ca.crt");
        struct err e = {};

        create_ca(dir, "prod");
        before = read_pki_file(dir, "ca.crt");
        assert_int_equal(pki_create_ca(dir, "prod", &e), -EEXIST);
        assert_non_null(strstr(e.msg, "ca.crt"));
        after = read_pki_file(dir, "ca.crt");
        assert_string_equal(before, after);

        /* A key left without its certificate is refused too. */
        assert_int_equal(unlink(crt_path), 0);
        err_clear(&e);
        assert_int_equal(pki_create_ca(dir, "prod", &e), -EEXIST);
        assert_non_null(strstr(e.msg, "ca.key"));

        err_clear(&e);
        assert_int_equal(pki_create_ca(dir, "bad name", &e), -EINVAL);
}

static void test_node_cert_issued_then_kept(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *first = NULL, *second = NULL;

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(file_mode(dir, "node.crt"), 0644);
        assert_int_equal(file_mode(dir, "node.key"), 0600);
        first = read_pki_file(dir, "node.crt");

        assert_int_equal(ensure_node(dir, test_sans), 0);
        second = read_pki_file(dir, "node.crt");
        assert_string_equal(first, second);

        /* Same set in another order, with a duplicate, another spelling of
         * the IPv6 address and DNS case: still the same set. */
        const char *const same[] = { "fd00:0::0:1",       "127.0.0.1", "NODE1",     "198.18.0.1",
                                     "node1.example.org", "localhost", "localhost", NULL };
        assert_int_equal(ensure_node(dir, same), 0);
}

static bool crt_has_san(gnutls_x509_crt_t crt, unsigned want_type, const void *want, size_t want_size) {
        for (unsigned seq = 0;; seq++) {
                unsigned char buf[256];
                size_t size = sizeof(buf);
                unsigned type, critical;
                if (gnutls_x509_crt_get_subject_alt_name2(crt, seq, buf, &size, &type, &critical) < 0)
                        return false;
                if (type == want_type && size == want_size && memcmp(buf, want, size) == 0)
                        return true;
        }
}

static void test_node_cert_verifies(void **state) {
        const char *dir = *state;
        const unsigned char ip4[] = { 198, 18, 0, 1 };
        const unsigned char ip6[] = { 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1 };
        unsigned char ski[64], aki[64];
        size_t ski_size = sizeof(ski), aki_size = sizeof(aki);
        unsigned usage, critical;

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        gnutls_x509_crt_t ca = crt_load(dir, "ca.crt");
        gnutls_x509_crt_t crt = crt_load(dir, "node.crt");

        assert_verifies(crt, ca);
        assert_cn(crt, "node1");
        assert_p256(crt);
        assert_validity(crt, 5);
        assert_int_equal(gnutls_x509_crt_get_ca_status(crt, &critical), 0);
        assert_true(gnutls_x509_crt_get_key_usage(crt, &usage, &critical) >= 0);
        assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_ENCIPHERMENT);
        assert_int_equal(gnutls_x509_crt_check_key_purpose(crt, GNUTLS_KP_TLS_WWW_SERVER, 0), 1);
        assert_int_equal(gnutls_x509_crt_check_key_purpose(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0), 1);
        assert_int_equal(gnutls_x509_crt_get_subject_key_id(ca, ski, &ski_size, &critical), 0);
        assert_int_equal(gnutls_x509_crt_get_authority_key_id(crt, aki, &aki_size, &critical), 0);
        assert_int_equal(aki_size, ski_size);
        assert_memory_equal(aki, ski, ski_size);
        ski_size = sizeof(ski);
        assert_int_equal(gnutls_x509_crt_get_subject_key_id(crt, ski, &ski_size, &critical), 0);

        assert_true(crt_has_san(crt, GNUTLS_SAN_IPADDRESS, ip4, sizeof(ip4)));
        assert_true(crt_has_san(crt, GNUTLS_SAN_IPADDRESS, ip6, sizeof(ip6)));
        assert_true(crt_has_san(crt, GNUTLS_SAN_DNSNAME, "node1.example.org", strlen("node1.example.org")));
        assert_true(crt_has_san(crt, GNUTLS_SAN_DNSNAME, "localhost", strlen("localhost")));
        assert_false(crt_has_san(crt, GNUTLS_SAN_DNSNAME, "198.18.0.1", strlen("198.18.0.1")));

        assert_true(gnutls_x509_crt_check_hostname2(crt, "node1", 0));
        assert_true(gnutls_x509_crt_check_hostname2(crt, "node1.example.org", 0));
        assert_true(gnutls_x509_crt_check_hostname2(crt, "198.18.0.1", 0));
        assert_true(gnutls_x509_crt_check_hostname2(crt, "fd00::1", 0));
        assert_false(gnutls_x509_crt_check_hostname2(crt, "node2", 0));
        assert_false(gnutls_x509_crt_check_hostname2(crt, "198.18.0.2", 0));

        gnutls_x509_crt_deinit(crt);
        gnutls_x509_crt_deinit(ca);
}

static void test_node_cert_reissued_when_sans_change(void **state) {
        const char *dir = *state;
        const char *const fewer[] = { "node1", "198.18.0.1", NULL };
        const char *const moved[] = { "node1", "198.18.0.9", NULL };

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(ensure_node(dir, fewer), 1);
        assert_int_equal(ensure_node(dir, fewer), 0);
        assert_int_equal(ensure_node(dir, moved), 1);

        gnutls_x509_crt_t crt = crt_load(dir, "node.crt");
        assert_true(gnutls_x509_crt_check_hostname2(crt, "198.18.0.9", 0));
        assert_false(gnutls_x509_crt_check_hostname2(crt, "198.18.0.1", 0));
        gnutls_x509_crt_deinit(crt);

        assert_int_equal(ensure_node(dir, NULL), 1);
        assert_int_equal(ensure_node(dir, NULL), 0);
}

static void test_node_cert_reissued_when_ca_changes(void **state) {
        _cleanup_free_ char *dir = subdir(*state, "a"), *other = subdir(*state, "b");
        _cleanup_free_ char *cert = NULL, *key = NULL;
        struct err e = {};

        create_ca(dir, "prod");
        create_ca(other, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);

        assert_int_equal(pki_read_ca(other, &cert, &key, &e), 0);
        assert_int_equal(pki_install_ca(dir, cert, key, &e), 0);
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(ensure_node(dir, test_sans), 0);

        gnutls_x509_crt_t ca = crt_load(other, "ca.crt");
        gnutls_x509_crt_t crt = crt_load(dir, "node.crt");
        assert_verifies(crt, ca);
        gnutls_x509_crt_deinit(crt);
        gnutls_x509_crt_deinit(ca);
}

static void test_node_cert_reissued_when_key_bad(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *ca_key = NULL;

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        write_pki_file(dir, "node.key", "garbage\n", 0600);
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(ensure_node(dir, test_sans), 0);

        /* A valid key that is not the certificate's. */
        ca_key = read_pki_file(dir, "ca.key");
        write_pki_file(dir, "node.key", ca_key, 0600);
        assert_int_equal(ensure_node(dir, test_sans), 1);

        /* Missing files. */
        _cleanup_free_ char *crt_path = pki_path(dir, "node.crt");
        assert_int_equal(unlink(crt_path), 0);
        assert_int_equal(ensure_node(dir, test_sans), 1);
        write_pki_file(dir, "node.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0644);
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(ensure_node(dir, test_sans), 0);
}

/* Issues node.crt/node.key in dir as pki_ensure_node_cert() would, but
 * expiring in `days` days, to stand in for a certificate issued long ago. */
static void write_node_cert_expiring(const char *dir, const char *const *sans, int days) {
        gnutls_x509_crt_t ca = crt_load(dir, "ca.crt"), crt;
        gnutls_x509_privkey_t ca_key = key_load(dir, "ca.key"), key;
        gnutls_datum_t cert_pem = { NULL, 0 }, key_pem = { NULL, 0 };
        unsigned char serial[] = { 0x42, 1, 2, 3 };
        time_t now = time(NULL);

        assert_int_equal(gnutls_x509_privkey_init(&key), 0);
        assert_int_equal(gnutls_x509_privkey_generate2(key, GNUTLS_PK_ECDSA,
                                                       GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0, NULL, 0),
                         0);
        assert_int_equal(gnutls_x509_crt_init(&crt), 0);
        assert_int_equal(gnutls_x509_crt_set_version(crt, 3), 0);
        assert_int_equal(gnutls_x509_crt_set_key(crt, key), 0);
        assert_int_equal(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, "node1", 5), 0);
        assert_int_equal(gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)), 0);
        assert_int_equal(gnutls_x509_crt_set_activation_time(crt, now - 86400), 0);
        assert_int_equal(gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400), 0);
        for (const char *const *s = sans; *s; s++)
                assert_int_equal(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, *s, (unsigned)strlen(*s),
                                                                      GNUTLS_FSAN_APPEND),
                                 0);
        assert_int_equal(gnutls_x509_crt_sign2(crt, ca, ca_key, GNUTLS_DIG_SHA256, 0), 0);
        assert_int_equal(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cert_pem), 0);
        assert_int_equal(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &key_pem), 0);

        _cleanup_free_ char *c = xstrndup((char *)cert_pem.data, cert_pem.size);
        _cleanup_free_ char *k = xstrndup((char *)key_pem.data, key_pem.size);
        write_pki_file(dir, "node.crt", c, 0644);
        write_pki_file(dir, "node.key", k, 0600);

        gnutls_free(cert_pem.data);
        gnutls_free(key_pem.data);
        gnutls_x509_crt_deinit(crt);
        gnutls_x509_privkey_deinit(key);
        gnutls_x509_privkey_deinit(ca_key);
        gnutls_x509_crt_deinit(ca);
}

static void test_node_cert_renewed_before_expiry(void **state) {
        const char *dir = *state;
        const char *const sans[] = { "node1", "node1.example.org", NULL };

        create_ca(dir, "prod");
        /* 60 days left: kept, which shows the stand-in is otherwise fine. */
        write_node_cert_expiring(dir, sans, 60);
        assert_int_equal(ensure_node(dir, sans), 0);
        /* 10 days left: renewed, for the full five years. */
        write_node_cert_expiring(dir, sans, 10);
        assert_int_equal(ensure_node(dir, sans), 1);
        gnutls_x509_crt_t crt = crt_load(dir, "node.crt");
        assert_validity(crt, 5);
        gnutls_x509_crt_deinit(crt);
}

static void test_node_cert_errors(void **state) {
        const char *dir = *state;
        const char *const blank[] = { "node1", "", NULL };
        const char *const spaced[] = { "node 1", NULL };
        _cleanup_free_ char *ca_key = NULL, *other = subdir(dir, "other");
        struct err e = {};

        /* No CA yet. */
        assert_int_equal(pki_ensure_node_cert(dir, "node1", (char *const *)test_sans, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "ca.crt"));

        create_ca(dir, "prod");
        err_clear(&e);
        assert_int_equal(pki_ensure_node_cert(dir, "node1", (char *const *)blank, &e), -EINVAL);
        err_clear(&e);
        assert_int_equal(pki_ensure_node_cert(dir, "node1", (char *const *)spaced, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "'node 1'"));
        err_clear(&e);
        assert_int_equal(pki_ensure_node_cert(dir, "", (char *const *)test_sans, &e), -EINVAL);
        assert_false(file_exists(dir, "node.crt"));

        /* A CA key that is not ca.crt's is refused rather than used. */
        create_ca(other, "prod");
        ca_key = read_pki_file(other, "ca.key");
        write_pki_file(dir, "ca.key", ca_key, 0600);
        err_clear(&e);
        assert_int_equal(pki_ensure_node_cert(dir, "node1", (char *const *)test_sans, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "does not match"));
        assert_false(file_exists(dir, "node.crt"));
}

static void test_install_ca_round_trip(void **state) {
        _cleanup_free_ char *a = subdir(*state, "a"), *b = subdir(*state, "b/pki");
        _cleanup_free_ char *cert = NULL, *key = NULL, *cert_b = NULL, *key_b = NULL;
        char hash_a[CA_HASH_MAX], hash_b[CA_HASH_MAX];
        struct err e = {};

        create_ca(a, "prod");
        assert_int_equal(pki_read_ca(a, &cert, &key, &e), 0);
        assert_int_equal(pki_install_ca(b, cert, key, &e), 0);
        assert_int_equal(file_mode(b, "ca.crt"), 0644);
        assert_int_equal(file_mode(b, "ca.key"), 0600);

        assert_int_equal(pki_read_ca(b, &cert_b, &key_b, &e), 0);
        assert_int_equal(ca_hash_from_pem(cert, hash_a), 0);
        assert_int_equal(ca_hash_from_pem(cert_b, hash_b), 0);
        assert_string_equal(hash_a, hash_b);
        assert_string_equal(cert, cert_b);

        /* The installed CA issues node certificates that verify against the original. */
        assert_int_equal(ensure_node(b, test_sans), 1);
        gnutls_x509_crt_t ca = crt_load(a, "ca.crt");
        gnutls_x509_crt_t crt = crt_load(b, "node.crt");
        assert_verifies(crt, ca);
        gnutls_x509_crt_deinit(crt);
        gnutls_x509_crt_deinit(ca);
}

static void test_install_ca_refuses(void **state) {
        _cleanup_free_ char *a = subdir(*state, "a"), *b = subdir(*state, "b"), *target = subdir(*state, "t");
        _cleanup_free_ char *cert_a = NULL, *key_a = NULL, *cert_b = NULL, *key_b = NULL;
        _cleanup_free_ char *node_crt = NULL, *node_key = NULL, *bundle = NULL, *installed = NULL;
        struct err e = {};

        create_ca(a, "prod");
        create_ca(b, "prod");
        assert_int_equal(pki_read_ca(a, &cert_a, &key_a, &e), 0);
        assert_int_equal(pki_read_ca(b, &cert_b, &key_b, &e), 0);
        assert_int_equal(ensure_node(a, test_sans), 1);
        node_crt = read_pki_file(a, "node.crt");
        node_key = read_pki_file(a, "node.key");

        assert_int_equal(pki_install_ca(target, cert_a, key_b, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "CA key does not match the CA certificate"));
        err_clear(&e);
        assert_int_equal(pki_install_ca(target, node_crt, node_key, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "certificate is not a CA"));
        err_clear(&e);
        assert_int_equal(pki_install_ca(target, "garbage", key_a, &e), -EINVAL);
        assert_non_null(strstr(e.msg, "CA certificate does not parse: "));
        err_clear(&e);
        assert_int_equal(pki_install_ca(target, cert_a, "garbage", &e), -EINVAL);
        assert_non_null(strstr(e.msg, "CA key does not parse: "));
        err_clear(&e);
        assert_int_equal(pki_install_ca(target, "", "", &e), -EINVAL);
        assert_false(file_exists(target, "ca.crt"));
        assert_false(file_exists(target, "ca.key"));

        /* Only the certificate that was checked is installed, not whatever
         * else came along in the PEM. */
        bundle = xasprintf("%s%s", cert_a, cert_b);
        assert_int_equal(pki_install_ca(target, bundle, key_a, &e), 0);
        installed = read_pki_file(target, "ca.crt");
        assert_string_equal(installed, cert_a);
}

static void test_read_missing(void **state) {
        const char *dir = *state;
        char *cert = (char *)"untouched", *key = (char *)"untouched";
        struct err e = {};

        assert_int_equal(pki_read_ca(dir, &cert, &key, &e), -ENOENT);
        assert_non_null(strstr(e.msg, "ca.crt"));
        assert_string_equal(cert, "untouched");
        assert_string_equal(key, "untouched");
        err_clear(&e);
        assert_int_equal(pki_read_node_cert(dir, &cert, &key, &e), -ENOENT);
        assert_string_equal(cert, "untouched");
}

static void test_read_node_cert_chain(void **state) {
        const char *dir = *state;
        _cleanup_free_ char *chain = NULL, *key = NULL;
        gnutls_x509_crt_t *list = NULL;
        unsigned n = 0;
        struct err e = {};

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(pki_read_node_cert(dir, &chain, &key, &e), 0);

        gnutls_datum_t d = { (unsigned char *)chain, (unsigned)strlen(chain) };
        assert_int_equal(gnutls_x509_crt_list_import2(&list, &n, &d, GNUTLS_X509_FMT_PEM, 0), 0);
        assert_int_equal(n, 2);
        assert_cn(list[0], "node1");
        assert_cn(list[1], "clusterd CA prod");
        assert_verifies(list[0], list[1]);
        for (unsigned i = 0; i < n; i++)
                gnutls_x509_crt_deinit(list[i]);
        gnutls_free(list);

        gnutls_x509_privkey_t k;
        gnutls_datum_t kd = { (unsigned char *)key, (unsigned)strlen(key) };
        assert_int_equal(gnutls_x509_privkey_init(&k), 0);
        assert_int_equal(gnutls_x509_privkey_import2(k, &kd, GNUTLS_X509_FMT_PEM, NULL, 0), 0);
        gnutls_x509_privkey_deinit(k);
}

/* ------------------------------------------------------------------------ */
/* A real TLS handshake                                                      */
/* ------------------------------------------------------------------------ */

static gnutls_session_t session_new(unsigned flags, gnutls_certificate_credentials_t cred, int fd) {
        gnutls_session_t s;
        assert_int_equal(gnutls_init(&s, flags | GNUTLS_NONBLOCK), 0);
        assert_int_equal(gnutls_set_default_priority(s), 0);
        assert_int_equal(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), 0);
        gnutls_transport_set_int(s, fd);
        return s;
}

/* Drives both ends of a handshake over a non-blocking socketpair in one
 * thread, taking turns until neither is waiting for the other. Returns the
 * client's result. */
static int handshake(gnutls_session_t client, gnutls_session_t server) {
        int rc = GNUTLS_E_AGAIN, rs = GNUTLS_E_AGAIN;

        for (int i = 0; i < 1000 && (rc == GNUTLS_E_AGAIN || rs == GNUTLS_E_AGAIN); i++) {
                if (rc == GNUTLS_E_AGAIN)
                        rc = gnutls_handshake(client);
                if (rs == GNUTLS_E_AGAIN)
                        rs = gnutls_handshake(server);
        }
        if (rc == 0)
                assert_int_equal(rs, 0);
        return rc;
}

/* A client that trusts only ca.crt connects to a server presenting the
 * node's chain and asking for a client certificate, for which the client
 * presents the node's certificate too (nodes talk to each other so). */
static int tls_connect(const char *dir, const char *hostname) {
        _cleanup_free_ char *chain = NULL, *key = NULL, *ca = NULL;
        gnutls_certificate_credentials_t server_cred, client_cred;
        gnutls_session_t client, server;
        struct err e = {};
        int sv[2], r;

        assert_int_equal(pki_read_node_cert(dir, &chain, &key, &e), 0);
        ca = read_pki_file(dir, "ca.crt");
        gnutls_datum_t chain_d = { (unsigned char *)chain, (unsigned)strlen(chain) };
        gnutls_datum_t key_d = { (unsigned char *)key, (unsigned)strlen(key) };
        gnutls_datum_t ca_d = { (unsigned char *)ca, (unsigned)strlen(ca) };

        assert_int_equal(gnutls_certificate_allocate_credentials(&server_cred), 0);
        assert_true(gnutls_certificate_set_x509_key_mem2(server_cred, &chain_d, &key_d, GNUTLS_X509_FMT_PEM, NULL, 0) >=
                    0);
        assert_int_equal(gnutls_certificate_set_x509_trust_mem(server_cred, &ca_d, GNUTLS_X509_FMT_PEM), 1);
        assert_int_equal(gnutls_certificate_allocate_credentials(&client_cred), 0);
        assert_int_equal(gnutls_certificate_set_x509_trust_mem(client_cred, &ca_d, GNUTLS_X509_FMT_PEM), 1);
        assert_true(gnutls_certificate_set_x509_key_mem2(client_cred, &chain_d, &key_d, GNUTLS_X509_FMT_PEM, NULL, 0) >=
                    0);

        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        server = session_new(GNUTLS_SERVER, server_cred, sv[0]);
        gnutls_certificate_server_set_request(server, GNUTLS_CERT_REQUIRE);
        gnutls_session_set_verify_cert(server, NULL, 0);
        client = session_new(GNUTLS_CLIENT, client_cred, sv[1]);
        gnutls_session_set_verify_cert(client, hostname, 0);

        r = handshake(client, server);
        if (r == 0) {
                char buf[8] = {};
                assert_int_equal(gnutls_record_send(client, "ping", 4), 4);
                assert_int_equal(gnutls_record_recv(server, buf, sizeof(buf)), 4);
                assert_string_equal(buf, "ping");
        }

        gnutls_deinit(client);
        gnutls_deinit(server);
        close(sv[0]);
        close(sv[1]);
        gnutls_certificate_free_credentials(client_cred);
        gnutls_certificate_free_credentials(server_cred);
        return r;
}

static void test_tls_handshake(void **state) {
        const char *dir = *state;

        create_ca(dir, "prod");
        assert_int_equal(ensure_node(dir, test_sans), 1);
        assert_int_equal(tls_connect(dir, "node1.example.org"), 0);
        assert_int_equal(tls_connect(dir, "198.18.0.1"), 0);
        assert_int_equal(tls_connect(dir, "fd00::1"), 0);
        /* A name the certificate does not carry is refused by the client. */
        assert_int_equal(tls_connect(dir, "node2.example.org"), GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, teardown_dir)
        const struct CMUnitTest tests[] = {
                T(test_create_ca),
                T(test_create_ca_refuses_existing),
                T(test_node_cert_issued_then_kept),
                T(test_node_cert_verifies),
                T(test_node_cert_reissued_when_sans_change),
                T(test_node_cert_reissued_when_ca_changes),
                T(test_node_cert_reissued_when_key_bad),
                T(test_node_cert_renewed_before_expiry),
                T(test_node_cert_errors),
                T(test_install_ca_round_trip),
                T(test_install_ca_refuses),
                T(test_read_missing),
                T(test_read_node_cert_chain),
                T(test_tls_handshake),
        };
#undef T
        return cmocka_run_group_tests(tests, NULL, NULL);
}
