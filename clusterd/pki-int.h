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

/* Every function below returns >= 0 on success and -errno on failure, with
 * a message in e (which may be NULL): -EINVAL for bad input (a PEM that does
 * not parse, a key that does not match, an invalid name or SAN), -ENOENT and
 * other file errors as the system reports them, -ENOMEM when GnuTLS ran out
 * of memory, -EIO when GnuTLS failed at key generation or signing. Messages
 * name the file concerned and carry GnuTLS's reason. Files are written with
 * write_file_atomic(): a crash leaves the old or the new file, never half
 * of one. Private keys never leave the process except into dir. */

/* Creates a new CA (ECDSA P-256, self-signed, CA:TRUE critical, key usage
 * certSign and cRLSign, subject CN "clusterd CA <cluster_name>", a random
 * 16-byte serial, valid from an hour ago for 20 years) in dir, which is
 * created 0700 if missing. cluster_name must pass name_is_valid() (else
 * -EINVAL). Refuses with -EEXIST when ca.crt or ca.key is already there:
 * replacing a CA orphans every certificate it signed. */
int pki_create_ca(const char *dir, const char *cluster_name, struct err *e);

/* Installs a CA received from a member (PEM strings, borrowed). Validates
 * that the certificate parses and is a CA, and that the key is the private
 * half of its public key; -EINVAL with "CA certificate does not parse: ...",
 * "certificate is not a CA" or "CA key does not match the CA certificate"
 * otherwise, and nothing is written. Writes back only the first certificate
 * and the key, re-encoded, so that nothing appended to the PEM ends up
 * trusted. Creates dir 0700 if missing; overwrites an existing CA. */
int pki_install_ca(const char *dir, const char *cert_pem, const char *key_pem, struct err *e);

/* Reads ca.crt and ca.key as PEM, without checking them. On success the
 * caller owns and frees both strings; on failure (-ENOENT when there is no
 * CA, -EFBIG for a file over 64 KiB) neither is written. */
int pki_read_ca(const char *dir, char **ret_cert_pem, char **ret_key_pem, struct err *e);

/* Makes sure dir/node.crt and dir/node.key are a pair this node can serve
 * TLS with, and keeps them (returns 0) only if: both parse, the key matches
 * the certificate, it verifies against the current ca.crt, it is valid for
 * at least 30 more days, its CN is node_name, and its SANs are exactly the
 * set in sans (order and duplicates do not matter, IPv6 spellings and DNS
 * case are normalised). Otherwise issues a new pair (ECDSA P-256, CA:FALSE,
 * digitalSignature + keyEncipherment, serverAuth + clientAuth, CN node_name,
 * valid from an hour ago for 5 years, signed by the CA in dir) and returns
 * 1. Each entry of sans (a NULL-terminated list, borrowed, may be NULL) that
 * inet_pton() accepts as IPv4 or IPv6 becomes an IP SAN, anything else a DNS
 * SAN; an entry that is neither an address nor a valid DNS name (1..253
 * characters of [A-Za-z0-9._*-]), or a node_name that fails
 * name_is_valid(), is -EINVAL. -ENOENT when dir holds
 * no CA, -EINVAL when ca.key does not match ca.crt. */
int pki_ensure_node_cert(const char *dir, const char *node_name, char *const *sans, struct err *e);

/* What the REST server needs for HTTPS: *ret_cert_pem is node.crt followed
 * by ca.crt (the chain a client verifies), *ret_key_pem is node.key. Reads
 * without checking; call pki_ensure_node_cert() first. On success the
 * caller owns and frees both; on failure neither is written. */
int pki_read_node_cert(const char *dir, char **ret_cert_pem, char **ret_key_pem, struct err *e);

/* dir + "/" + file; never NULL (aborts when out of memory). Caller frees. */
char *pki_path(const char *dir, const char *file);
