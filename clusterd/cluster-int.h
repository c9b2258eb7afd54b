/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cluster-int.h: corosync.conf as clusterd writes it (pure rendering).
 *
 * corosync.conf is derived from the cluster database on every node, so
 * that adding or removing a node through clusterd changes it everywhere;
 * hand edits are overwritten (the file says so at the top).
 */
#pragma once

#include "common/common.h"

struct corosync_conf_node {
        const char *name;
        uint32_t nodeid;
        const char *address;
        bool left; /* it left cleanly: quorum_votes 0 (dynamic quorum) */
};

/* The quorum device section (clusterd's witness), when a witness is set. */
struct corosync_conf_device {
        uint32_t votes;           /* 1 when the witness counts (even number of voting nodes), else 0 */
        uint32_t expected_votes;  /* written when votes > 0: the nodes' votes plus the device's */
        uint32_t timeout_ms;      /* how long a cast vote lasts without a poll */
        uint32_t sync_timeout_ms; /* how long a membership change waits for the device's poll */
};

#define COROSYNC_DEVICE_MODEL "clusterd"

/* corosync.conf text for a cluster: knet with encryption (aes256) and
 * authentication (sha256), votequorum, the given totem token timeout,
 * logging to /var/log/corosync/corosync.log and syslog, and a quorum
 * device section (model clusterd) when device is not NULL. Nodes are written
 * in node id order. -EINVAL (with a message) for values corosync's parser
 * would misread (whitespace, braces, '#'). Caller frees *ret. */
int corosync_conf_render(const char *cluster_name, uint32_t token_ms, const struct corosync_conf_node *nodes,
                         size_t n_nodes, const struct corosync_conf_device *device, char **ret, struct err *e);
