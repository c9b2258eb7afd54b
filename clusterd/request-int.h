/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * request-int.h: decoding of REST request bodies and query strings into
 * plain structs, with errors that name the field and the value.
 *
 * Pure code (fuzzed): no I/O, no logging, no daemon state.
 */
#pragma once

#include "clusterd/db-int.h"

#define REQUEST_MAX_NODES 64
#define TOKEN_ID_LEN 6
#define TOKEN_SECRET_LEN 16
#define API_SECRET_LEN 32

/* An address corosync and clusterd accept for a node: an IPv4 or IPv6
 * literal, or a DNS name (letters, digits, '-', '.'; at most 253). */
bool address_is_valid(const char *s);

/* PUT /v1/settings/KEY: {"value": X}. *ret is a new reference. */
int request_setting_put(const char *body, size_t size, json_object **ret, struct err *e);

/* PUT /v1/quorum/witness: {"witness": "none" | URL}; the URL is checked
 * by the setting quorum.witness. Caller frees *ret_witness. */
int request_witness_put(const char *body, size_t size, char **ret_witness, struct err *e);

struct node_add_req {
        char *name;
        char *address;
        uint32_t nodeid;        /* 0 = next free */
        uint64_t join_ttl_usec; /* 0 = the join.token-ttl setting */
};
void node_add_req_done(struct node_add_req *r);
/* POST /v1/nodes */
int request_node_add(const char *body, size_t size, struct node_add_req *ret, struct err *e);

/* POST /v1/nodes/NAME/join-token: empty or {"join_token_ttl": "2h"}. */
int request_join_token(const char *body, size_t size, uint64_t *ret_ttl_usec, struct err *e);

/* POST /v1/tokens: {"name": "automation"}. Caller frees *ret_name. */
int request_token_create(const char *body, size_t size, char **ret_name, struct err *e);

/* POST /v1/join: {"token": "id.secret", "node": "n2"}. node may be NULL. */
int request_join(const char *body, size_t size, char **ret_token, char **ret_node, struct err *e);

/* Splits a join token "id.secret" (TOKEN_ID_LEN and TOKEN_SECRET_LEN
 * characters of [a-z0-9]). buffers hold len+1. */
int join_token_parse(const char *token, char id[TOKEN_ID_LEN + 1], char secret[TOKEN_SECRET_LEN + 1]);

/* Splits an API token "NAME.SECRET". buffers hold 64 and API_SECRET_LEN+1. */
int api_token_parse(const char *token, char name[64], char secret[API_SECRET_LEN + 1]);

struct cluster_create {
        char *name;
        struct db_node *nodes; /* name, nodeid (1..n in order), address */
        size_t n_nodes;
        char *local;       /* NULL = let the daemon find out */
        uint32_t token_ms; /* corosync totem token */
        uint64_t join_ttl_usec;
};
void cluster_create_done(struct cluster_create *cc);
/* POST /v1/cluster */
int request_cluster_create(const char *body, size_t size, struct cluster_create *ret, struct err *e);

struct join_bundle {
        char *cluster_name, *cluster_uuid;
        char *node_name, *node_address;
        uint32_t nodeid;
        char *corosync_conf;
        void *authkey;
        size_t authkey_size;
        char *ca_cert, *ca_key;
};
void join_bundle_done(struct join_bundle *b);
/* POST /v1/cluster/join (the reply of POST /v1/join on a member). */
int request_join_bundle(const char *body, size_t size, struct join_bundle *ret, struct err *e);
json_object *join_bundle_to_json(const struct join_bundle *b);

struct events_query {
        uint64_t since; /* only events with a larger id, when has_since */
        bool has_since; /* false: the newest */
        unsigned limit; /* 1..1000 */
        char *kind;     /* prefix or NULL */
};
void events_query_done(struct events_query *q);
/* GET /v1/events?since=&limit=&kind= (each may be NULL). */
int request_events_query(const char *since, const char *limit, const char *kind, struct events_query *ret,
                         struct err *e);

/* A version-4 UUID as text. */
int uuid_generate_text(char ret[37]);
bool uuid_is_valid(const char *s);
