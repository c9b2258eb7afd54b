# SPDX-License-Identifier: LGPL-2.1-or-later
"""Forming a cluster the way users do (`clusterctl cluster create` on n1,
`clusterctl cluster join` on the others): what every node shows afterwards."""

import time

import pytest

import helpers as h


@pytest.mark.parametrize("size", [3, 5])
def test_cluster_forms(rig, size):
    r = rig(size)
    t0 = time.monotonic()
    reply = h.form(r, name="demo")
    print("timing: %d nodes synced and quorate %.1fs after `cluster create`" % (size, time.monotonic() - t0))
    names = [n.name for n in r.nodes]

    # The create reply says who still has to join, and where.
    join = reply["join"]
    assert sorted(join["nodes"]) == names[1:]
    assert join["url"] == "https://%s:7440" % r.nodes[0].address
    assert join["ca_hash"].startswith("sha256:")

    # Every node: synced, writable, quorate with every vote, the same
    # database position, the same nodes with the addresses they were given.
    common = h.wait_converged(r)
    quorum = size // 2 + 1
    for n in r.nodes:
        st = h.status(n)
        assert st["name"] == "demo"
        assert st["state"] == "synced" and st["writable"] is True
        assert st["node"] == {"name": n.name, "id": n.index}
        assert st["leader"] == "n1", "the leader is the lowest node id"
        q = st["quorum"]
        assert q["quorate"] is True and q["writable"] is True
        assert (q["expected_votes"], q["total_votes"], q["quorum"]) == (size, size, quorum)
        assert sorted(q["members"]) == names and sorted(q["database_members"]) == names
        assert q["database_votes"] == size
        assert (st["database"]["epoch"], st["database"]["version"]) == (common["epoch"], common["version"])
        assert st["database"]["committed"] <= st["database"]["version"]
        by_name = h.nodes_by_name(st)
        assert sorted(by_name) == names
        for m in r.nodes:
            info = by_name[m.name]
            assert info["id"] == m.index
            assert info["address"] == m.address
            assert info["state"] == "online", (n.name, info)
            assert info["clusterd"] == "running", (n.name, info)
            assert info["votes"] == 1
            assert info["local"] is (m is n)
            assert info["leader"] is (m.index == 1)
            assert info["join_expires"] is None
        # Every node has the same uuid as the one that created the cluster.
        assert st["uuid"] == reply["cluster"]["uuid"]

    # What a person reads.
    for n in r.nodes:
        text = h.ctl(n, "status", json=False)
        assert text.rc == 0, text
        assert "cluster: demo" in text.stdout
        assert "state: synced (writable)" in text.stdout
        assert "this node: %s (id %d)" % (n.name, n.index) in text.stdout
        assert "leader: n1" in text.stdout
        assert "quorate: yes (%d of %d votes, quorum %d)" % (size, size, quorum) in text.stdout
        for m in r.nodes:
            assert any(line.split()[:4] == [m.name, str(m.index), m.address, "online"] and line.split()[-1] == "running"
                       for line in text.stdout.splitlines() if line.strip()), text.stdout

    # corosync agrees (what `corosync-quorumtool` would show an operator).
    for n in r.nodes:
        cq = n.corosync_quorum()
        assert cq["quorate"] and cq["members"] == list(range(1, size + 1))

    # The history: created once, every node joined once, the same on all nodes
    # (wait_converged compared the event logs of all nodes).
    evs = common["events"]
    created = [e for e in evs if e["kind"] == "cluster.created"]
    assert len(created) == 1 and created[0]["object"] == "demo" and created[0]["node"] == "n1", created
    joined = sorted(e["object"] for e in evs if e["kind"] == "node.joined")
    assert joined == names, evs
    assert evs[0]["kind"] == "cluster.created"
    ids = [e["id"] for e in evs]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
