/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* clusterd-corosync-conf.c: rendering corosync.conf from the cluster's nodes. */
#include "clusterd/cluster-int.h"

/* corosync's parser takes a value up to the end of the line, and braces or
 * '#' would change its structure; names and addresses are validated long
 * before this, but the renderer does not trust that. */
static bool value_is_safe(const char *s) {
        if (!s || !*s)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p <= ' ' || *p == '{' || *p == '}' || *p == '#')
                        return false;
        return true;
}

static int cmp_node(const void *a, const void *b) {
        const struct corosync_conf_node *x = a, *y = b;
        return x->nodeid < y->nodeid ? -1 : x->nodeid > y->nodeid;
}

int corosync_conf_render(const char *cluster_name, uint32_t token_ms, const struct corosync_conf_node *nodes,
                         size_t n_nodes, const struct corosync_conf_device *device, char **ret, struct err *e) {
        _cleanup_free_ struct corosync_conf_node *sorted = NULL;
        _cleanup_free_ char *text = NULL;
        size_t size = 0;
        FILE *f;

        if (!value_is_safe(cluster_name))
                return err_set(e, -EINVAL, "cluster name '%s' cannot be written to corosync.conf",
                               strempty(cluster_name));
        if (n_nodes == 0)
                return err_set(e, -EINVAL, "a cluster needs at least one node");
        sorted = xcalloc(n_nodes, sizeof(*sorted));
        memcpy(sorted, nodes, n_nodes * sizeof(*sorted));
        qsort(sorted, n_nodes, sizeof(*sorted), cmp_node);
        for (size_t i = 0; i < n_nodes; i++)
                if (!value_is_safe(sorted[i].name) || !value_is_safe(sorted[i].address) || sorted[i].nodeid == 0)
                        return err_set(e, -EINVAL, "node '%s' cannot be written to corosync.conf",
                                       strempty(sorted[i].name));

        f = open_memstream(&text, &size);
        if (!f)
                return err_set(e, -ENOMEM, "out of memory");
        fprintf(f,
                "# Written by clusterd from the cluster database. Changes made here are\n"
                "# overwritten: change the cluster with clusterctl (node add, node remove).\n"
                "totem {\n"
                "    version: 2\n"
                "    cluster_name: %s\n"
                "    transport: knet\n"
                "    crypto_cipher: aes256\n"
                "    crypto_hash: sha256\n"
                "    token: %" PRIu32 "\n"
                "}\n\n"
                "nodelist {\n",
                cluster_name, token_ms);
        for (size_t i = 0; i < n_nodes; i++)
                fprintf(f,
                        "    node {\n"
                        "        name: %s\n"
                        "        nodeid: %" PRIu32 "\n"
                        "        ring0_addr: %s\n"
                        "%s"
                        "    }\n",
                        sorted[i].name, sorted[i].nodeid, sorted[i].address,
                        sorted[i].left ? "        quorum_votes: 0\n" : "");
        fprintf(f, "}\n\n"
                   "quorum {\n"
                   "    provider: corosync_votequorum\n");
        if (device) {
                if (device->votes > 0)
                        fprintf(f, "    expected_votes: %" PRIu32 "\n", device->expected_votes);
                fprintf(f,
                        "    device {\n"
                        "        model: " COROSYNC_DEVICE_MODEL "\n"
                        "        votes: %" PRIu32 "\n"
                        "        timeout: %" PRIu32 "\n"
                        "        sync_timeout: %" PRIu32 "\n"
                        "    }\n",
                        device->votes, device->timeout_ms, device->sync_timeout_ms);
        }
        fprintf(f, "}\n\n"
                   "logging {\n"
                   "    to_logfile: yes\n"
                   "    logfile: /var/log/corosync/corosync.log\n"
                   "    to_syslog: yes\n"
                   "    timestamp: hires\n"
                   "}\n");
        if (fclose(f) != 0)
                return err_set(e, -ENOMEM, "out of memory");
        *ret = TAKE_PTR(text);
        return 0;
}
