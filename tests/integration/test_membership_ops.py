# SPDX-License-Identifier: LGPL-2.1-or-later
"""Adding and removing nodes at runtime, and the join flow's refusals, with
`clusterctl node add|join-token|remove` and `clusterctl cluster join`."""

import re

import helpers as h


def _conf_nodes(node):
    """The (name, address) pairs in node's corosync.conf."""
    text = node.read_file("/etc/corosync/corosync.conf")
    names = re.findall(r"^\s*name:\s*(\S+)\s*$", text, re.M)
    addrs = re.findall(r"^\s*ring0_addr:\s*(\S+)\s*$", text, re.M)
    return sorted(zip(names, addrs))


def _unconfigured(node):
    st = h.status(node)
    return st["state"] == "unconfigured"


def test_add_join_and_remove_nodes(rig):
    r = rig(4)
    n1, n2, n3, n4 = r.nodes
    h.form_subset(r, [n1, n2, n3])
    assert _unconfigured(n4)
    assert h.set_setting(n1, "user.before", "b").ok

    # Names, addresses and ids that are taken are refused (409), bad ones (400).
    for args, words in (((["node", "add", "n2=%s" % n4.address]), ["n2"]),
                        ((["node", "add", "n9=%s" % n2.address]), [n2.address]),
                        ((["node", "add", "n9=%s" % n4.address, "--id", "2"]), ["2"])):
        res = h.ctl(n2, *args)
        assert res.rc == 1 and res.code == "conflict", (args, res)
        for w in words:
            assert w in res.message, (args, res.message)
    for bad in ("bad!name=%s" % n4.address, "n9=300.1.2.3", "n9=bad_host!"):
        res = h.ctl(n2, "node", "add", bad)
        assert res.rc in (1, 2), (bad, res)
        if res.rc == 1:
            assert res.code == "bad-request", (bad, res)
    assert sorted(x["name"] for x in h.ok(n3, "node", "list")["nodes"]) == ["n1", "n2", "n3"]

    # Adding n4 through n2: every node lists it as joining, with a token.
    added = h.ok(n2, "node", "add", "n4=%s" % n4.address)
    assert added["node"]["name"] == "n4" and added["node"]["id"] == 4 and added["node"]["address"] == n4.address
    assert added["node"]["state"] == "joining" and added["node"]["join_expires"]
    first = added["join"]
    assert first["nodes"] == ["n4"] and first["ca_hash"].startswith("sha256:")
    for n in (n1, n2, n3):
        info = h.nodes_by_name(h.status(n))["n4"]
        assert info["state"] == "joining" and info["join_expires"] == added["node"]["join_expires"], (n.name, info)
        h.wait_until(lambda n=n: ("n4", n4.address) in _conf_nodes(n), 15, 0.2,
                     "corosync.conf on %s to list n4" % n.name)
    # The three are still quorate (3 of 4 votes) and writable.
    h.wait_status(r, n1, lambda s: s["quorum"]["expected_votes"] == 4 and s["writable"], 20, "expected votes 4")

    # A new join token replaces the first one.
    second = h.ok(n3, "node", "join-token", "n4")["join"]
    assert second["token"] != first["token"]
    url = first["url"]

    def join(token, ca_hash):
        return h.ctl(n4, "cluster", "join", url, "--token", token, "--ca-hash", ca_hash)

    # The replaced token: 401, and the message says why, never the secret.
    res = join(first["token"], first["ca_hash"])
    assert res.rc == 1 and res.code == "unauthorized", res
    assert "replaced" in res.message or "unknown" in res.message, res.message
    secret_part = first["token"].split(".")[-1]
    assert secret_part not in res.stderr and secret_part not in res.stdout
    assert _unconfigured(n4)
    # A wrong token: 401.
    wrong = second["token"][:-4] + ("aaaa" if not second["token"].endswith("aaaa") else "bbbb")
    res = join(wrong, second["ca_hash"])
    assert res.rc == 1 and res.code == "unauthorized", res
    assert "wrong" in res.message, res.message
    assert wrong.split(".")[-1] not in res.stderr
    assert _unconfigured(n4)
    # A wrong CA hash: clusterctl stops before sending the token anywhere.
    log_mark = {n.name: len(h.clusterd_log(n)) for n in (n1, n2, n3)}
    bad_hash = "sha256:" + "0" * 64
    res = join(second["token"], bad_hash)
    assert res.rc == 1, res
    assert "refusing to join" in res.stderr and bad_hash in res.stderr and second["ca_hash"] in res.stderr, res.stderr
    assert _unconfigured(n4)
    for n in (n1, n2, n3):
        assert not re.search(r"join request|join bundle|/v1/join", h.clusterd_log(n)[log_mark[n.name]:], re.I), \
            "%s heard of a join attempt with a wrong CA hash" % n.name

    # The right token joins: n4 is online and in sync everywhere.
    res = join(second["token"], second["ca_hash"])
    assert res.rc == 0, res
    h.wait_status(r, n4, lambda s: s["state"] == "synced" and s["writable"], 40, "n4 synced")
    r.wait_synced(members=["n1", "n2", "n3", "n4"])
    common = h.wait_converged(r)
    for n in r.nodes:
        st = h.status(n)
        assert (st["quorum"]["expected_votes"], st["quorum"]["total_votes"], st["quorum"]["quorum"]) == (4, 4, 3)
        info = h.nodes_by_name(st)["n4"]
        assert (info["state"], info["clusterd"], info["join_expires"]) == ("online", "running", None), info
        assert _conf_nodes(n) == sorted((m.name, m.address) for m in r.nodes)
    assert common["settings"]["user.before"] == "b"
    kinds = [(e["kind"], e["object"]) for e in common["events"]]
    assert ("node.added", "n4") in kinds and ("node.joined", "n4") in kinds, kinds
    assert h.set_setting(n4, "user.from-n4", "4").ok
    assert h.get_setting(n1, "user.from-n4") == "4"
    # Joining twice is refused.
    res = join(second["token"], second["ca_hash"])
    assert res.rc == 1, res

    # Removing n3 (through n4): it returns to unconfigured, the others drop it.
    removed = h.ok(n4, "node", "remove", "n3")
    assert removed["name"] == "n3"
    h.wait_until(lambda: _unconfigured(n3), 30, 0.25, "n3 to be unconfigured")
    text = h.ctl(n3, "status", json=False)
    assert text.rc == 0 and "not part of a cluster" in text.stdout
    h.wait_until(lambda: not n3.find_pids("corosync"), 20, 0.25, "corosync on n3 to stop")
    assert n3.exists("/etc/corosync/corosync.conf.removed")
    rest = [n1, n2, n4]
    r.wait_synced(nodes=rest, members=["n1", "n2", "n4"])
    for n in rest:
        st = h.wait_status(r, n, lambda s: s["quorum"]["expected_votes"] == 3 and s["writable"], 20,
                           "%s: expected votes 3" % n.name)
        assert sorted(h.nodes_by_name(st)) == ["n1", "n2", "n4"]
        assert (st["quorum"]["total_votes"], st["quorum"]["quorum"]) == (3, 2)
        h.wait_until(lambda n=n: "n3" not in dict(_conf_nodes(n)), 15, 0.2, "corosync.conf on %s without n3" % n.name)
        assert n3.address not in n.read_file("/etc/corosync/corosync.conf")
    common = h.wait_converged(r, nodes=rest)
    assert ("node.removed", "n3") in [(e["kind"], e["object"]) for e in common["events"]]
    res = h.ctl(n1, "node", "show", "n3")
    assert res.rc == 1 and res.code == "not-found", res
    # The remaining three still work, and still lose no data.
    assert h.set_setting(n2, "user.after", "a").ok
    for n in rest:
        assert h.get_setting(n, "user.after") == "a" and h.get_setting(n, "user.before") == "b"


def test_last_node_cannot_be_removed(rig):
    r = rig(1)
    n1 = r.nodes[0]
    h.form(r, name="solo")
    st = h.status(n1)
    assert st["writable"] and st["quorum"]["expected_votes"] == 1
    res = h.ctl(n1, "node", "remove", "n1")
    assert res.rc == 1 and res.code == "conflict", res
    assert "last" in res.message, res.message
    st = h.status(n1)
    assert st["state"] == "synced" and [n["name"] for n in st["nodes"]] == ["n1"]
    res = h.ctl(n1, "node", "remove", "n7")
    assert res.rc == 1 and res.code == "not-found", res
