/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* common-tls.c: CA pinning hash and SHA-256 (GnuTLS), shared by daemon and CLI. */
#include <gnutls/crypto.h>
#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "common/common.h"

void sha256(const void *data, size_t size, uint8_t out[32]) {
        /* Cannot fail for a built-in algorithm and in-memory data. */
        if (gnutls_hash_fast(GNUTLS_DIG_SHA256, data, size, out) < 0)
                abort();
}

bool memeq_consttime(const void *a, const void *b, size_t size) {
        const volatile uint8_t *x = a, *y = b;
        uint8_t d = 0;
        for (size_t i = 0; i < size; i++)
                d |= x[i] ^ y[i];
        return d == 0;
}

int ca_hash_from_pem(const char *pem, char ret[CA_HASH_MAX]) {
        gnutls_x509_crt_t crt = NULL;
        gnutls_pubkey_t pub = NULL;
        gnutls_datum_t in = { (unsigned char *)(uintptr_t)pem, (unsigned)strlen(pem) };
        gnutls_datum_t spki = { NULL, 0 };
        uint8_t digest[32];
        char hex[65];
        int r = -EINVAL;

        if (gnutls_x509_crt_init(&crt) < 0)
                return -ENOMEM;
        if (gnutls_x509_crt_import(crt, &in, GNUTLS_X509_FMT_PEM) < 0)
                goto out;
        if (gnutls_pubkey_init(&pub) < 0) {
                r = -ENOMEM;
                goto out;
        }
        if (gnutls_pubkey_import_x509(pub, crt, 0) < 0)
                goto out;
        if (gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &spki) < 0)
                goto out;
        sha256(spki.data, spki.size, digest);
        snprintf(ret, CA_HASH_MAX, "sha256:%s", hex_encode(hex, digest, sizeof(digest)));
        r = 0;
out:
        gnutls_free(spki.data);
        if (pub)
                gnutls_pubkey_deinit(pub);
        gnutls_x509_crt_deinit(crt);
        return r;
}
