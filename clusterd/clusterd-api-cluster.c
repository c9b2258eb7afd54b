/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-api-cluster.c: /v1/cluster, /v1/join and /v1/quorum. */
#include "clusterd/clusterd-int.h"
#include "clusterd/log.h"
#include "clusterd/pki-int.h"
#include "clusterd/settings-int.h"

static const char *state_text(struct clusterd *c) {
        if (!clusterd_configured(c))
                return "unconfigured";
        switch (repl_state(c->repl)) {
        case REPL_DISCONNECTED:
                return "disconnected";
        case REPL_SYNCING:
        case REPL_TRANSFER:
                return "syncing";
        case REPL_SYNCED:
                return "synced";
        case REPL_FAILED:
                return "failed";
        default:
                return "unknown";
        }
}

static json_object *name_list(struct clusterd *c, const uint32_t *ids, size_t n) {
        json_object *a = json_object_new_array();
        char name[64];
        for (size_t i = 0; i < n; i++) {
                membership_node_name(c, ids[i], name, sizeof(name));
                json_object_array_add(a, json_object_new_string(name));
        }
        return a;
}

json_object *api_quorum_json(struct clusterd *c) {
        const struct cs_quorum *q = c->cs ? cs_quorum(c->cs) : NULL;
        json_object *o = json_object_new_object();
        uint32_t replicas[CLUSTERD_MAX_NODES];
        size_t n = repl_replicas(c->repl, replicas, ELEMENTSOF(replicas));
        char ring[64] = "";

        json_add_bool(o, "quorate", q && q->known && q->quorate);
        json_add_bool(o, "writable", repl_writable(c->repl));
        json_add_int(o, "expected_votes", q ? q->expected_votes : 0);
        json_add_int(o, "total_votes", q ? q->total_votes : 0);
        json_add_int(o, "quorum", q ? q->quorum : 0);
        if (q && q->known)
                snprintf(ring, sizeof(ring), "%" PRIx32 ".%" PRIx64, q->ring_nodeid, q->ring_seq);
        json_add_string(o, "ring_id", q && q->known ? ring : NULL);
        json_object_object_add(o, "members", name_list(c, q ? q->members : NULL, q ? q->n_members : 0));
        json_object_object_add(o, "database_members", name_list(c, replicas, n));
        json_add_int(o, "database_votes", repl_replica_votes(c->repl));
        json_add_timestamp(o, "since", c->live.known ? c->live.quorate_since_usec : 0);
        json_add_int(o, "witness_votes", c->cs ? cs_device_votes(c->cs) : 0);
        json_object_object_add(o, "witness", clusterd_witness_json(c));
        return o;
}

static uint32_t node_votes(struct clusterd *c, uint32_t nodeid) {
        struct cs_node *list = NULL;
        size_t n = 0;
        uint32_t v = 1;

        if (!c->cs)
                return v;
        if (cs_node_votes(c->cs, nodeid) > 0)
                return cs_node_votes(c->cs, nodeid);
        if (cs_nodelist(c->cs, &list, &n) >= 0)
                for (size_t i = 0; i < n; i++)
                        if (list[i].nodeid == nodeid)
                                v = list[i].votes;
        free(list);
        return v;
}

/* What the node offers roles, its pause state and how it is fenced (the
 * fence agent's name only: its parameters may hold credentials). */
static void add_role_props(struct clusterd *c, json_object *o, const char *name) {
        struct db_node_props p = {};
        char buf[32];

        if (db_node_props_get(c->db, name, &p) < 0) {
                json_add_string(o, "pause", "none");
                return;
        }
        json_add_string(o, "pause", p.pause == DB_PAUSE_DRAIN ? "draining" : p.pause == DB_PAUSE ? "paused" : "none");
        json_add_int(o, "memory_mib", (int64_t)p.memory_mib);
        json_add_int(o, "cpus", p.cpus);
        json_object_object_add(
                o, "watchdog_timeout",
                p.watchdog_usec ? json_object_new_string(format_duration(buf, sizeof(buf), p.watchdog_usec)) : NULL);
        _cleanup_(json_object_putp) json_object *f = NULL;
        const char *agent = NULL;
        if (p.fence && json_parse_object(p.fence, strlen(p.fence), &f, NULL) >= 0)
                (void)json_get_string(f, "agent", false, &agent, NULL);
        json_object_object_add(o, "fence_agent", agent ? json_object_new_string(agent) : NULL);
        db_node_props_done(&p);
}

json_object *api_node_json(struct clusterd *c, const struct db_node *n) {
        const struct live_node *live = c->live.known ? membership_find(&c->live, n->nodeid) : NULL;
        json_object *o = json_object_new_object();
        enum node_state state = n->state;
        uint64_t since = n->state_since_usec;
        bool daemon = n->daemon;

        /* The live view wins; the recorded time is used when the records
         * agree with what this node sees (they come from the leader). */
        if (c->live.known) {
                bool online = live && live->online;
                bool joined = n->state != NODE_STATE_JOINING || (live && live->seen_online);
                state = online ? NODE_STATE_ONLINE : joined ? NODE_STATE_OFFLINE : NODE_STATE_JOINING;
                if (state != n->state)
                        since = live ? live->online_since_usec : 0;
                daemon = live && live->daemon;
        }
        json_add_string(o, "name", n->name);
        json_add_int(o, "id", n->nodeid);
        json_add_string(o, "address", n->address);
        /* A node that left cleanly and is gone reads "left". */
        json_add_string(o, "state", state == NODE_STATE_OFFLINE && !n->vote ? "left" : node_state_to_string(state));
        json_add_timestamp(o, "since", since);
        json_add_string(o, "clusterd", daemon ? "running" : "stopped");
        json_add_int(o, "votes", node_votes(c, n->nodeid));
        json_add_bool(o, "vote_counts", n->vote);
        json_add_bool(o, "local", streq(n->name, c->node_name));
        json_add_bool(o, "leader", n->nodeid == repl_leader(c->repl));
        json_add_timestamp(o, "added", n->added_usec);
        json_add_timestamp(o, "join_expires", n->join_token_id ? n->join_expires_usec : 0);
        add_role_props(c, o, n->name);
        return o;
}

json_object *api_nodes_json(struct clusterd *c) {
        json_object *a = json_object_new_array();
        struct db_node *nodes = NULL;
        size_t n = 0;

        if (db_nodes(c->db, &nodes, &n) < 0)
                return a;
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, api_node_json(c, &nodes[i]));
        db_nodes_free(nodes, n);
        return a;
}

static char *setting_value(struct clusterd *c, const char *key) {
        const struct setting_def *d;
        char *v = NULL;
        if (db_setting_get(c->db, key, &v, NULL, NULL) >= 0)
                return v;
        return settings_lookup(key, &d, NULL) >= 0 && d->default_value ? xstrdup(d->default_value) : NULL;
}

json_object *api_cluster_json(struct clusterd *c) {
        json_object *o = json_object_new_object(), *node = json_object_new_object(), *db;
        struct db_cluster cl;
        char leader[64];

        json_add_string(node, "name", c->node_name[0] ? c->node_name : NULL);
        if (db_get_cluster(c->db, &cl) < 0) {
                char host[256] = "";
                if (!c->node_name[0] && gethostname(host, sizeof(host) - 1) == 0)
                        json_add_string(node, "name", host);
                json_object_object_add(node, "id", NULL);
                json_object_object_add(o, "name", NULL);
                json_add_string(o, "state", "unconfigured");
                json_object_object_add(o, "node", node);
                json_add_string(o, "version", PACKAGE_VERSION);
                return o;
        }
        _cleanup_free_ char *description = setting_value(c, "cluster.description");
        json_add_string(o, "name", cl.name);
        json_add_string(o, "uuid", cl.uuid);
        json_add_timestamp(o, "created", cl.created_usec);
        json_add_string(o, "description", description ? description : "");
        json_add_string(o, "version", PACKAGE_VERSION);
        json_add_string(o, "state", state_text(c));
        json_add_bool(o, "writable", repl_writable(c->repl));
        if (c->nodeid)
                json_add_int(node, "id", c->nodeid);
        else
                json_object_object_add(node, "id", NULL);
        json_object_object_add(o, "node", node);
        if (repl_leader(c->repl)) {
                membership_node_name(c, repl_leader(c->repl), leader, sizeof(leader));
                json_add_string(o, "leader", leader);
        } else
                json_object_object_add(o, "leader", NULL);
        db = json_object_new_object();
        json_add_int(db, "epoch", (int64_t)db_position(c->db)->epoch);
        json_add_int(db, "version", (int64_t)db_position(c->db)->version);
        json_add_int(db, "committed", (int64_t)repl_committed(c->repl));
        json_object_object_add(o, "database", db);
        json_object_object_add(o, "quorum", api_quorum_json(c));
        json_object_object_add(o, "nodes", api_nodes_json(c));
        return o;
}

/* The URL a joining node should use: this node's cluster address and the
 * port it serves the API on. */
static char *join_url(struct clusterd *c) {
        struct db_node self = {};
        const char *listen = c->config->api.listen ? c->config->api.listen[0] : NULL;
        const char *port = listen ? strrchr(listen, ':') : NULL;
        const char *scheme = c->config->api.tls ? "https" : "http";
        char *url;

        if (!port || !c->node_name[0] || db_node_get(c->db, c->node_name, &self) < 0)
                return NULL;
        if (strchr(self.address, ':'))
                url = xasprintf("%s://[%s]%s", scheme, self.address, port);
        else
                url = xasprintf("%s://%s%s", scheme, self.address, port);
        db_node_done(&self);
        return url;
}

static int read_ca_hash(struct clusterd *c, char **ret_pem, char hash[CA_HASH_MAX]) {
        _cleanup_free_ char *dir = clusterd_state_path(c, CLUSTERD_PKI_DIR);
        _cleanup_free_ char *path = pki_path(dir, "ca.crt");
        _cleanup_free_ char *pem = NULL;
        size_t size;
        int r;

        if ((r = read_full_file(path, 64 * 1024, &pem, &size)) < 0 || (r = ca_hash_from_pem(pem, hash)) < 0)
                return r;
        if (ret_pem)
                *ret_pem = TAKE_PTR(pem);
        return 0;
}

json_object *api_join_json(struct clusterd *c, struct http_request *req, const char *token, uint64_t expires_usec,
                           char *const *nodes) {
        json_object *o = json_object_new_object(), *a = json_object_new_array();
        _cleanup_free_ char *url = join_url(c);
        char hash[CA_HASH_MAX];

        json_add_string(o, "token", token);
        json_add_string(o, "ca_hash", read_ca_hash(c, NULL, hash) >= 0 ? hash : NULL);
        json_add_timestamp(o, "expires", expires_usec);
        json_add_string(o, "url", url);
        for (char *const *n = nodes; n && *n; n++)
                json_object_array_add(a, json_object_new_string(*n));
        json_object_object_add(o, "nodes", a);
        return o;
}

void api_cluster_get(struct clusterd *c, struct http_request *req, const char *arg) {
        http_reply_json(req, 200, api_cluster_json(c));
}

static void reply_setup_error(struct http_request *req, int r, const struct err *e) {
        if (r == -EEXIST)
                http_reply_error(req, 409, "already-configured", "%s", e->msg);
        else if (r == -EBUSY)
                http_reply_error(req, 409, "conflict", "%s", e->msg);
        else if (r == -EINVAL)
                http_reply_error(req, 400, "bad-request", "%s", e->msg);
        else
                http_reply_error(req, 500, "internal", "%s", e->msg);
}

void api_cluster_create(struct clusterd *c, struct http_request *req, const char *arg) {
        struct cluster_create cc = {};
        _cleanup_free_ char *token = NULL;
        _cleanup_strv_free_ char **others = NULL;
        uint64_t expires = 0;
        struct err e = {};
        const char *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if ((r = request_cluster_create(body, size, &cc, &e)) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        r = clusterd_create(c, &cc, http_request_client(req), &token, &expires, &e);
        if (r < 0) {
                reply_setup_error(req, r, &e);
                cluster_create_done(&cc);
                return;
        }
        for (size_t i = 0; i < cc.n_nodes; i++)
                if (!streq(cc.nodes[i].name, c->node_name))
                        strv_push(&others, cc.nodes[i].name);
        cluster_create_done(&cc);

        json_object *o = json_object_new_object();
        json_object_object_add(o, "cluster", api_cluster_json(c));
        json_object_object_add(o, "join", api_join_json(c, req, others ? token : NULL, others ? expires : 0, others));
        http_reply_json(req, 201, o);
}

void api_cluster_join_local(struct clusterd *c, struct http_request *req, const char *arg) {
        struct join_bundle b = {};
        struct err e = {};
        const char *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if ((r = request_join_bundle(body, size, &b, &e)) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        r = clusterd_join(c, &b, &e);
        join_bundle_done(&b);
        if (r < 0) {
                reply_setup_error(req, r, &e);
                return;
        }
        http_reply_json(req, 200, api_cluster_json(c));
}

void api_cluster_ca(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_free_ char *pem = NULL;
        char hash[CA_HASH_MAX];
        int r = read_ca_hash(c, &pem, hash);

        if (r < 0) {
                http_reply_error(req, 500, "internal", "cannot read the cluster CA: %s", strerror(-r));
                return;
        }
        json_object *o = json_object_new_object();
        json_add_string(o, "certificate", pem);
        json_add_string(o, "ca_hash", hash);
        http_reply_json(req, 200, o);
}

void api_join(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_free_ char *token = NULL, *node = NULL;
        struct join_bundle b = {};
        struct err e = {};
        const char *body;
        size_t size;
        int r;

        body = http_request_body(req, &size);
        if ((r = request_join(body, size, &token, &node, &e)) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        r = clusterd_join_bundle(c, token, node, http_request_peer_address(req), &b, &e);
        explicit_bzero(token, strlen(token));
        if (r < 0) {
                log_notice("Refused a join request from %s: %s",
                           http_request_is_local(req) ? "the local socket" : http_request_peer_address(req), e.msg);
                api_reply_errno(req, r, e.msg);
                return;
        }
        http_reply_json(req, 200, join_bundle_to_json(&b));
        join_bundle_done(&b);
}

void api_quorum_get(struct clusterd *c, struct http_request *req, const char *arg) {
        http_reply_json(req, 200, api_quorum_json(c));
}

static json_object *build_quorum(struct clusterd *c, void *ctx) {
        return api_quorum_json(c);
}

void api_witness_put(struct clusterd *c, struct http_request *req, const char *arg) {
        _cleanup_free_ char *witness = NULL;
        const struct setting_def *d;
        char *canonical = NULL;
        struct err e = {};
        const char *body;
        size_t size;

        body = http_request_body(req, &size);
        if (request_witness_put(body, size, &witness, &e) < 0 || settings_lookup("quorum.witness", &d, &e) < 0 ||
            setting_normalize(d, "quorum.witness", witness, &canonical, &e) < 0) {
                http_reply_error(req, 400, "bad-request", "%s", e.msg);
                return;
        }
        struct op op = { .kind = OP_SETTING_SET, .key = xstrdup("quorum.witness"), .value = canonical };
        api_submit(c, req, &op, 200, build_quorum, NULL, NULL);
}
