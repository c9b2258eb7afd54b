/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clusterd-corosync.c: the adapter to corosync's client libraries.
 *
 * One struct cs holds the CPG, quorum, votequorum, cmap and cfg handles
 * of one connection. Their fds are polled by the daemon's libqb loop; every
 * dispatch drains what is pending (CS_DISPATCH_ALL), so that one batch of
 * CPG deliveries can be committed to the database in one transaction.
 */
#include <corosync/cfg.h>
#include <corosync/cmap.h>
#include <corosync/cpg.h>
#include <corosync/quorum.h>
#include <corosync/votequorum.h>
#include <poll.h>

#include "clusterd/corosync-int.h"

#define MAX_NODES 1024

struct cs {
        qb_loop_t *loop;
        const struct cs_callbacks *cb;
        void *userdata;

        cpg_handle_t cpg;
        quorum_handle_t quorum;
        votequorum_handle_t votequorum;
        cmap_handle_t cmap;
        cmap_track_handle_t cmap_track;
        corosync_cfg_handle_t cfg;
        int fd_cpg, fd_quorum, fd_votequorum, fd_cmap, fd_cfg; /* -1 when not polled */

        struct cpg_name group;
        uint32_t local_nodeid;
        size_t max_msg;

        struct cs_quorum q; /* members owned here */
        struct {
                uint32_t nodeid;
                uint32_t votes;
        } * votes; /* per member, refreshed with q; owned */
        size_t n_votes;

        struct cs_node *nodes; /* cached nodelist; owned */
        size_t n_nodes;

        /* votequorum's ring, as its nodelist notification gives it during
         * a membership's sync (before the quorum verdict): what a quorum
         * device's poll must name. */
        bool vq_ring_known;
        uint32_t vq_ring_nodeid;
        uint64_t vq_ring_seq;
        uint32_t *vq_members; /* owned */
        size_t n_vq_members;
        uint32_t device_votes; /* the quorum device's votes counted on this node (0: none cast) */

        bool lost;           /* the lost callback ran */
        bool shutdown_asked; /* corosync asked whether it may stop; no answer yet */
};

/* cfg's callbacks carry no context: the one connection that tracks
 * shutdown requests (a process has one). */
static struct cs *cfg_owner;

int cs_errno(int err) {
        switch ((cs_error_t)err) {
        case CS_OK:
                return 0;
        case CS_ERR_TRY_AGAIN:
                return -EAGAIN;
        case CS_ERR_NO_MEMORY:
                return -ENOMEM;
        case CS_ERR_TOO_BIG:
                return -EMSGSIZE;
        case CS_ERR_NOT_EXIST:
                return -ENOENT;
        case CS_ERR_EXIST:
                return -EEXIST;
        case CS_ERR_ACCESS:
        case CS_ERR_SECURITY:
                return -EACCES;
        case CS_ERR_TIMEOUT:
                return -ETIMEDOUT;
        case CS_ERR_INVALID_PARAM:
        case CS_ERR_BAD_FLAGS:
                return -EINVAL;
        case CS_ERR_NOT_SUPPORTED:
                return -EOPNOTSUPP;
        case CS_ERR_MESSAGE_ERROR:
                return -EBADMSG;
        case CS_ERR_LIBRARY:
        case CS_ERR_BAD_HANDLE:
        case CS_ERR_NO_RESOURCES:
                return -ENOTCONN;
        default:
                return -EIO;
        }
}

static void mark_lost(struct cs *cs, int error) {
        if (cs->lost)
                return;
        cs->lost = true;
        if (cs->cb->lost)
                cs->cb->lost(cs->userdata, error);
}

/* ------------------------------------------------------------------------ */
/* CPG                                                                       */

static void cpg_deliver_cb(cpg_handle_t h, const struct cpg_name *group, uint32_t nodeid, uint32_t pid, void *msg,
                           size_t size) {
        struct cs *cs = NULL;
        if (cpg_context_get(h, (void **)&cs) != CS_OK || !cs || cs->lost)
                return;
        cs->cb->deliver(cs->userdata, nodeid, pid, msg, size);
}

static void copy_members(const struct cpg_address *in, size_t n, struct cs_member *out) {
        for (size_t i = 0; i < n; i++)
                out[i] = (struct cs_member){ in[i].nodeid, in[i].pid,
                                             in[i].reason <= CPG_REASON_PROCDOWN ? (enum cs_reason)in[i].reason
                                                                                 : CS_REASON_OTHER };
}

static void cpg_confchg_cb(cpg_handle_t h, const struct cpg_name *group, const struct cpg_address *members,
                           size_t n_members, const struct cpg_address *left, size_t n_left,
                           const struct cpg_address *joined, size_t n_joined) {
        struct cs *cs = NULL;
        if (cpg_context_get(h, (void **)&cs) != CS_OK || !cs || cs->lost)
                return;

        struct cs_member *m = xcalloc(n_members + n_left + n_joined + 1, sizeof(*m));
        copy_members(members, n_members, m);
        copy_members(left, n_left, m + n_members);
        copy_members(joined, n_joined, m + n_members + n_left);
        cs->cb->group_change(cs->userdata, m, n_members, m + n_members, n_left, m + n_members + n_left, n_joined);
        free(m);
}

static int32_t cpg_fd_cb(int32_t fd, int32_t revents, void *data) {
        struct cs *cs = data;
        cs_error_t err;

        if (cs->lost)
                return 0;
        err = cpg_dispatch(cs->cpg, CS_DISPATCH_ALL);
        if (cs->lost)
                return 0;
        if (err != CS_OK && err != CS_ERR_TRY_AGAIN) {
                mark_lost(cs, cs_errno(err));
                return 0;
        }
        if (cs->cb->dispatch_done)
                cs->cb->dispatch_done(cs->userdata);
        if (revents & (POLLHUP | POLLERR))
                mark_lost(cs, -ENOTCONN);
        return 0;
}

/* ------------------------------------------------------------------------ */
/* Quorum and votes                                                          */

static void refresh_votes(struct cs *cs) {
        struct votequorum_info info;

        cs->votes = xrealloc(cs->votes, MAX(cs->q.n_members, 1) * sizeof(*cs->votes));
        cs->n_votes = cs->q.n_members;
        for (size_t i = 0; i < cs->q.n_members; i++) {
                cs->votes[i].nodeid = cs->q.members[i];
                cs->votes[i].votes = 0;
                if (votequorum_getinfo(cs->votequorum, cs->q.members[i], &info) == CS_OK)
                        cs->votes[i].votes = info.node_votes;
        }
        if (votequorum_getinfo(cs->votequorum, cs->local_nodeid, &info) == CS_OK) {
                cs->q.expected_votes = info.node_expected_votes;
                cs->q.total_votes = info.total_votes;
                cs->q.quorum = info.quorum;
                cs->device_votes = (info.flags & VOTEQUORUM_INFO_QDEVICE_CAST_VOTE) ? info.qdevice_votes : 0;
        }
}

void cs_refresh_quorum(struct cs *cs) {
        if (!cs->lost && cs->q.known)
                refresh_votes(cs);
}

uint32_t cs_device_votes(struct cs *cs) {
        return cs->device_votes;
}

static void votequorum_nodelist_cb(votequorum_handle_t h, uint64_t context, votequorum_ring_id_t ring_id, uint32_t n,
                                   uint32_t nodes[]) {
        struct cs *cs = (struct cs *)(uintptr_t)context;
        if (!cs || cs->lost)
                return;
        n = MIN(n, MAX_NODES);
        free(cs->vq_members);
        cs->vq_members = xcalloc(MAX(n, 1), sizeof(uint32_t));
        memcpy(cs->vq_members, nodes, n * sizeof(uint32_t));
        cs->n_vq_members = n;
        cs->vq_ring_known = true;
        cs->vq_ring_nodeid = ring_id.nodeid;
        cs->vq_ring_seq = ring_id.seq;
        if (cs->cb->ring_change)
                cs->cb->ring_change(cs->userdata, ring_id.seq, cs->vq_members, n);
}

static void quorum_cb(quorum_handle_t h, uint32_t quorate, struct quorum_ring_id ring_id, uint32_t n,
                      const uint32_t *members) {
        struct cs *cs = NULL;
        if (quorum_context_get(h, (const void **)&cs) != CS_OK || !cs || cs->lost)
                return;

        n = MIN(n, MAX_NODES);
        free(cs->q.members);
        cs->q.members = xcalloc(MAX(n, 1), sizeof(uint32_t));
        memcpy(cs->q.members, members, n * sizeof(uint32_t));
        cs->q.n_members = n;
        cs->q.quorate = quorate != 0;
        cs->q.ring_seq = ring_id.seq;
        cs->q.ring_nodeid = ring_id.nodeid;
        cs->q.known = true;
        refresh_votes(cs);
        cs->cb->quorum_change(cs->userdata);
}

static void votequorum_expected_cb(votequorum_handle_t h, uint64_t context, uint32_t expected_votes) {
        struct cs *cs = (struct cs *)(uintptr_t)context;
        if (!cs || cs->lost)
                return;
        refresh_votes(cs);
        cs->cb->quorum_change(cs->userdata);
}

static int32_t quorum_fd_cb(int32_t fd, int32_t revents, void *data) {
        struct cs *cs = data;
        cs_error_t err;

        if (cs->lost)
                return 0;
        if (fd == cs->fd_quorum)
                err = quorum_dispatch(cs->quorum, CS_DISPATCH_ALL);
        else if (fd == cs->fd_votequorum)
                err = votequorum_dispatch(cs->votequorum, CS_DISPATCH_ALL);
        else if (fd == cs->fd_cfg)
                err = corosync_cfg_dispatch(cs->cfg, CS_DISPATCH_ALL);
        else
                err = cmap_dispatch(cs->cmap, CS_DISPATCH_ALL);
        if (cs->lost)
                return 0;
        if ((err != CS_OK && err != CS_ERR_TRY_AGAIN) || (revents & (POLLHUP | POLLERR)))
                mark_lost(cs, err != CS_OK ? cs_errno(err) : -ENOTCONN);
        return 0;
}

static int read_nodelist(struct cs *cs, struct cs_node **ret, size_t *ret_n);

static void refresh_nodelist(struct cs *cs) {
        struct cs_node *nodes = NULL;
        size_t n = 0;
        if (read_nodelist(cs, &nodes, &n) < 0)
                return;
        free(cs->nodes);
        cs->nodes = nodes;
        cs->n_nodes = n;
}

static void cmap_nodelist_cb(cmap_handle_t h, cmap_track_handle_t t, int32_t event, const char *key,
                             struct cmap_notify_value new_value, struct cmap_notify_value old_value, void *data) {
        struct cs *cs = data;
        if (!cs || cs->lost)
                return;
        /* corosync just talked to us: asking it now does not block. */
        refresh_nodelist(cs);
        if (cs->cb->nodelist_change)
                cs->cb->nodelist_change(cs->userdata);
}

/* ------------------------------------------------------------------------ */
/* Connecting                                                                */

static int init_cpg(struct cs *cs, const char *group, struct err *e) {
        static cpg_model_v1_data_t model = {
                .model = CPG_MODEL_V1,
                .cpg_deliver_fn = cpg_deliver_cb,
                .cpg_confchg_fn = cpg_confchg_cb,
        };
        uint32_t size = 0;
        cs_error_t err;

        err = cpg_model_initialize(&cs->cpg, CPG_MODEL_V1, (cpg_model_data_t *)&model, cs);
        if (err != CS_OK)
                return err_set(e, cs_errno(err), "cannot connect to corosync's CPG service (%s)", cs_strerror(err));
        if ((err = cpg_local_get(cs->cpg, &cs->local_nodeid)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot get the local node id (%s)", cs_strerror(err));
        if (cpg_max_atomic_msgsize_get(cs->cpg, &size) != CS_OK || size == 0)
                size = 64 * 1024;
        cs->max_msg = size;

        snprintf(cs->group.value, sizeof(cs->group.value), "%s", group);
        cs->group.length = (uint32_t)strlen(cs->group.value);
        /* Joining can be refused for a moment while corosync syncs. */
        for (int i = 0; i < 50; i++) {
                err = cpg_join(cs->cpg, &cs->group);
                if (err != CS_ERR_TRY_AGAIN)
                        break;
                usleep(20 * 1000);
        }
        if (err != CS_OK)
                return err_set(e, cs_errno(err), "cannot join CPG group '%s' (%s)", group, cs_strerror(err));
        return 0;
}

static int init_quorum(struct cs *cs, struct err *e) {
        static quorum_model_v1_data_t model = {
                .model = QUORUM_MODEL_V1,
                .quorum_notify_fn = quorum_cb,
        };
        votequorum_callbacks_t vq_cb = { .votequorum_expectedvotes_notify_fn = votequorum_expected_cb,
                                         .votequorum_nodelist_notify_fn = votequorum_nodelist_cb };
        uint32_t type = 0;
        cs_error_t err;

        err = quorum_model_initialize(&cs->quorum, QUORUM_MODEL_V1, (quorum_model_data_t *)&model, &type, cs);
        if (err != CS_OK)
                return err_set(e, cs_errno(err), "cannot connect to corosync's quorum service (%s)", cs_strerror(err));
        if (type != QUORUM_SET)
                return err_set(e, -EOPNOTSUPP, "corosync has no quorum provider: configure corosync_votequorum");
        if ((err = quorum_trackstart(cs->quorum, CS_TRACK_CHANGES | CS_TRACK_CURRENT)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot track quorum (%s)", cs_strerror(err));

        if ((err = votequorum_initialize(&cs->votequorum, &vq_cb)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot connect to votequorum (%s)", cs_strerror(err));
        if ((err = votequorum_trackstart(cs->votequorum, (uint64_t)(uintptr_t)cs, CS_TRACK_CHANGES)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot track votes (%s)", cs_strerror(err));
        return 0;
}

static int init_cmap(struct cs *cs, struct err *e) {
        cs_error_t err;

        if ((err = cmap_initialize(&cs->cmap)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot connect to corosync's cmap (%s)", cs_strerror(err));
        err = cmap_track_add(cs->cmap, "nodelist.",
                             CMAP_TRACK_ADD | CMAP_TRACK_DELETE | CMAP_TRACK_MODIFY | CMAP_TRACK_PREFIX,
                             cmap_nodelist_cb, cs, &cs->cmap_track);
        if (err != CS_OK)
                return err_set(e, cs_errno(err), "cannot track corosync's nodelist (%s)", cs_strerror(err));
        return 0;
}

static int poll_fd(struct cs *cs, int fd, qb_loop_poll_dispatch_fn fn, int *slot, struct err *e) {
        int r = qb_loop_poll_add(cs->loop, QB_LOOP_HIGH, fd, POLLIN, cs, fn);
        if (r < 0)
                return err_set(e, r, "cannot poll a corosync connection");
        *slot = fd;
        return 0;
}

/* corosync is stopping cleanly (corosync-cfgtool -H, which is how
 * corosync.service stops) and asks its clients first. */
static void cfg_shutdown_cb(corosync_cfg_handle_t h, corosync_cfg_shutdown_flags_t flags) {
        struct cs *cs = cfg_owner;
        if (!cs || cs->lost || cs->cfg != h)
                return;
        cs->shutdown_asked = true;
        cs->cb->shutdown_request(cs->userdata);
}

/* Only for a connection that wants shutdown requests, and only one. */
static int init_cfg(struct cs *cs, struct err *e) {
        static const corosync_cfg_callbacks_t callbacks = { .corosync_cfg_shutdown_callback = cfg_shutdown_cb };
        cs_error_t err;
        int fd;

        if (!cs->cb->shutdown_request || cfg_owner)
                return 0;
        if ((err = corosync_cfg_initialize(&cs->cfg, &callbacks)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot connect to corosync's cfg service (%s)", cs_strerror(err));
        if ((err = corosync_cfg_trackstart(cs->cfg, 0)) != CS_OK)
                return err_set(e, cs_errno(err), "cannot track corosync's shutdown (%s)", cs_strerror(err));
        if (corosync_cfg_fd_get(cs->cfg, &fd) != CS_OK)
                return err_set(e, -ENOTCONN, "cannot get corosync's file descriptors");
        cfg_owner = cs;
        return poll_fd(cs, fd, quorum_fd_cb, &cs->fd_cfg, e);
}

int cs_connect(qb_loop_t *loop, const char *group, const struct cs_callbacks *cb, void *userdata, struct cs **ret,
               struct err *e) {
        struct cs *cs = xcalloc(1, sizeof(*cs));
        int fd, r;

        *cs = (struct cs){ .loop = loop,
                           .cb = cb,
                           .userdata = userdata,
                           .fd_cpg = -1,
                           .fd_quorum = -1,
                           .fd_votequorum = -1,
                           .fd_cmap = -1,
                           .fd_cfg = -1 };

        if ((r = init_cpg(cs, group, e)) < 0 || (r = init_quorum(cs, e)) < 0 || (r = init_cmap(cs, e)) < 0)
                goto fail;
        if (cpg_fd_get(cs->cpg, &fd) != CS_OK || (r = poll_fd(cs, fd, cpg_fd_cb, &cs->fd_cpg, e)) < 0 ||
            quorum_fd_get(cs->quorum, &fd) != CS_OK || (r = poll_fd(cs, fd, quorum_fd_cb, &cs->fd_quorum, e)) < 0 ||
            votequorum_fd_get(cs->votequorum, &fd) != CS_OK ||
            (r = poll_fd(cs, fd, quorum_fd_cb, &cs->fd_votequorum, e)) < 0 || cmap_fd_get(cs->cmap, &fd) != CS_OK ||
            (r = poll_fd(cs, fd, quorum_fd_cb, &cs->fd_cmap, e)) < 0) {
                if (r >= 0)
                        r = err_set(e, -ENOTCONN, "cannot get corosync's file descriptors");
                goto fail;
        }
        if ((r = init_cfg(cs, e)) < 0)
                goto fail;
        refresh_nodelist(cs);
        *ret = cs;
        return 0;
fail:
        cs_free(cs);
        return r;
}

struct cs *cs_free(struct cs *cs) {
        if (!cs)
                return NULL;
        int *fds[] = { &cs->fd_cpg, &cs->fd_quorum, &cs->fd_votequorum, &cs->fd_cmap, &cs->fd_cfg };
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                if (*fds[i] >= 0)
                        qb_loop_poll_del(cs->loop, *fds[i]);
        if (cs->cpg) {
                if (!cs->lost && cs->group.length > 0)
                        (void)cpg_leave(cs->cpg, &cs->group);
                cpg_finalize(cs->cpg);
        }
        if (cs->quorum)
                quorum_finalize(cs->quorum);
        if (cs->votequorum)
                votequorum_finalize(cs->votequorum);
        if (cs->cmap) {
                if (cs->cmap_track)
                        cmap_track_delete(cs->cmap, cs->cmap_track);
                cmap_finalize(cs->cmap);
        }
        if (cs->cfg) {
                /* Unanswered, corosync would wait its shutdown timeout out. */
                cs_reply_shutdown(cs);
                corosync_cfg_finalize(cs->cfg);
        }
        if (cfg_owner == cs)
                cfg_owner = NULL;
        free(cs->q.members);
        free(cs->votes);
        free(cs->nodes);
        free(cs->vq_members);
        free(cs);
        return NULL;
}

/* ------------------------------------------------------------------------ */
/* Using a connection                                                        */

int cs_mcast(struct cs *cs, const void *data, size_t size) {
        struct iovec iov = { (void *)(uintptr_t)data, size };
        cs_error_t err;

        if (cs->lost)
                return -ENOTCONN;
        if (size > cs->max_msg)
                return -EMSGSIZE;
        err = cpg_mcast_joined(cs->cpg, CPG_TYPE_AGREED, &iov, 1);
        return cs_errno(err);
}

uint32_t cs_local_nodeid(struct cs *cs) {
        return cs->local_nodeid;
}

size_t cs_max_message_size(struct cs *cs) {
        return cs->max_msg;
}

const struct cs_quorum *cs_quorum(struct cs *cs) {
        return &cs->q;
}

uint32_t cs_node_votes(struct cs *cs, uint32_t nodeid) {
        for (size_t i = 0; i < cs->n_votes; i++)
                if (cs->votes[i].nodeid == nodeid)
                        return cs->votes[i].votes;
        return 0;
}

static struct cs_node *node_slot(struct cs_node **nodes, size_t *n, int *idx, int want) {
        for (size_t i = 0; i < *n; i++)
                if (idx[i] == want)
                        return &(*nodes)[i];
        if (*n >= MAX_NODES)
                return NULL;
        *nodes = xrealloc(*nodes, (*n + 1) * sizeof(**nodes));
        idx[*n] = want;
        (*nodes)[*n] = (struct cs_node){ .votes = 1 };
        return &(*nodes)[(*n)++];
}

static int cmp_node(const void *a, const void *b) {
        const struct cs_node *x = a, *y = b;
        return x->nodeid < y->nodeid ? -1 : x->nodeid > y->nodeid;
}

int cs_nodelist(struct cs *cs, struct cs_node **ret, size_t *ret_n) {
        *ret = xcalloc(MAX(cs->n_nodes, 1), sizeof(**ret));
        if (cs->n_nodes > 0)
                memcpy(*ret, cs->nodes, cs->n_nodes * sizeof(**ret));
        *ret_n = cs->n_nodes;
        return 0;
}

static int read_nodelist(struct cs *cs, struct cs_node **ret, size_t *ret_n) {
        _cleanup_free_ int *idx = xcalloc(MAX_NODES, sizeof(int));
        struct cs_node *nodes = NULL;
        cmap_iter_handle_t iter;
        char key[CMAP_KEYNAME_MAXLEN + 1];
        size_t n = 0, len;
        cmap_value_types_t type;
        cs_error_t err;

        if ((err = cmap_iter_init(cs->cmap, "nodelist.node.", &iter)) != CS_OK)
                return cs_errno(err);
        while (cmap_iter_next(cs->cmap, iter, key, &len, &type) == CS_OK) {
                int i, consumed = 0;
                char field[64];
                if (sscanf(key, "nodelist.node.%d.%63s%n", &i, field, &consumed) != 2 || i < 0)
                        continue;
                struct cs_node *node = node_slot(&nodes, &n, idx, i);
                if (!node)
                        break;
                if (streq(field, "nodeid"))
                        (void)cmap_get_uint32(cs->cmap, key, &node->nodeid);
                else if (streq(field, "quorum_votes"))
                        (void)cmap_get_uint32(cs->cmap, key, &node->votes);
                else if (streq(field, "name") || streq(field, "ring0_addr")) {
                        char *s = NULL;
                        if (cmap_get_string(cs->cmap, key, &s) == CS_OK && s) {
                                if (streq(field, "name"))
                                        snprintf(node->name, sizeof(node->name), "%s", s);
                                else
                                        snprintf(node->address, sizeof(node->address), "%s", s);
                        }
                        free(s);
                }
        }
        cmap_iter_finalize(cs->cmap, iter);
        if (n > 0)
                qsort(nodes, n, sizeof(*nodes), cmp_node);
        *ret = nodes;
        *ret_n = n;
        return 0;
}

bool cs_running(void) {
        cmap_handle_t h;
        if (cmap_initialize(&h) != CS_OK)
                return false;
        cmap_finalize(h);
        return true;
}

/* ------------------------------------------------------------------------ */
/* The quorum device                                                         */

int cs_qdevice_register(struct cs *cs, const char *name) {
        if (cs->lost)
                return -ENOTCONN;
        return cs_errno(votequorum_qdevice_register(cs->votequorum, name));
}

int cs_qdevice_unregister(struct cs *cs, const char *name) {
        if (cs->lost)
                return -ENOTCONN;
        return cs_errno(votequorum_qdevice_unregister(cs->votequorum, name));
}

int cs_qdevice_poll(struct cs *cs, const char *name, bool cast_vote) {
        votequorum_ring_id_t ring;

        if (cs->lost)
                return -ENOTCONN;
        if (!cs->vq_ring_known)
                return -EAGAIN;
        ring = (votequorum_ring_id_t){ .nodeid = cs->vq_ring_nodeid, .seq = cs->vq_ring_seq };
        return cs_errno(votequorum_qdevice_poll(cs->votequorum, name, cast_vote ? 1 : 0, ring));
}

bool cs_vq_ring(struct cs *cs, uint64_t *ret_seq) {
        if (cs->vq_ring_known)
                *ret_seq = cs->vq_ring_seq;
        return cs->vq_ring_known;
}

void cs_reply_shutdown(struct cs *cs) {
        if (!cs->shutdown_asked)
                return;
        cs->shutdown_asked = false;
        (void)corosync_cfg_replyto_shutdown(cs->cfg, COROSYNC_CFG_SHUTDOWN_FLAG_YES);
}
