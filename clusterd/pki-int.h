/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pki-int.h: the cluster's certificate authority and each node's TLS
 * certificate (GnuTLS).
 *
 * A cluster has one CA, created by "cluster create" and handed to joining
 * nodes over the authenticated join channel. Every node holds the CA key so
 * that it can issue its own server certificate (SANs: node name, host name,
 * its cluster address, localhost). Clients verify the REST API against the
 * CA certificate; a joining node, which has no CA yet, checks the CA it is
 * offered against a hash the operator copied from "node add" (as kubeadm's
 * discovery-token-ca-cert-hash does).
 *
 * Files under dir (normally /var/lib/clusterd/pki):
 *   ca.crt   0644   CA certificate (PEM)
 *   ca.key   0600   CA private key (PEM)
 *   node.crt 0644   this node's server certificate, signed by the CA
 *   node.key 0600   its private key
 */
#pragma once

#include "common/common.h"

/* Creates a new CA (ECDSA P-256, valid 20 years, CN "clusterd CA <cluster>")
 * in dir, which is created 0700 if missing. Refuses with -EEXIST when a CA is
 * already there. */
int pki_create_ca(const char *dir, const char *cluster_name, struct err *e);

/* Installs a CA received from a member (PEM strings). Validates that the
 * key matches the certificate and that the certificate is a CA. Overwrites
 * an existing CA. */
int pki_install_ca(const char *dir, const char *cert_pem, const char *key_pem, struct err *e);

/* Reads the CA certificate and key as PEM. Caller frees both. */
int pki_read_ca(const char *dir, char **ret_cert_pem, char **ret_key_pem, struct err *e);

/* Makes sure dir/node.crt exists, is signed by the current CA, is valid for
 * at least 30 more days and names exactly these SANs (each an IP address
 * literal or a DNS name); (re)issues it otherwise (ECDSA P-256, 5 years).
 * Returns 1 when a new certificate was written, 0 when the existing one was
 * kept. */
int pki_ensure_node_cert(const char *dir, const char *node_name, char *const *sans, struct err *e);

/* Paths inside dir; caller frees. */
char *pki_path(const char *dir, const char *file);
