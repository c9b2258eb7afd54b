# SPDX-License-Identifier: LGPL-2.1-or-later
"""Restarts: of the whole cluster, of clusterd alone, of corosync alone, and
a clean stop. Nothing that was acknowledged may be lost, and a node that
comes back catches up by itself."""

import os
import signal

import pytest

import helpers as h


def _fill(r):
    """A few committed changes of every kind, through different nodes."""
    n1, n2, n3 = r.nodes[:3]
    assert h.set_setting(n1, "user.one", "1").ok
    assert h.set_setting(n2, "user.two", "two words").ok
    assert h.set_setting(n3, "events.max-entries", "5000").ok
    assert h.set_setting(n2, "cluster.description", "restart test").ok
    secret = h.ok(n3, "token", "create", "ops")["secret"]
    h.ok(n1, "token", "create", "gone")
    h.ok(n2, "token", "delete", "gone")
    return secret


def test_whole_cluster_restart_keeps_everything(rig3):
    r = rig3
    h.form(r)
    secret = _fill(r)
    before = h.wait_converged(r)

    for n in r.nodes:
        n.kill9()
    for n in r.nodes:
        n.restart()
    r.wait_synced()
    after = h.wait_converged(r)

    assert after["settings"] == before["settings"]
    assert after["tokens"] == before["tokens"] == ["ops"]
    assert after["events"][:len(before["events"])] == before["events"], "events changed or lost in the restart"
    assert (after["epoch"], after["version"]) >= (before["epoch"], before["version"])
    for n in r.nodes:
        assert h.get_setting(n, "user.two") == "two words"
        assert h.status(n)["description"] == "restart test"
        # The token made before the restart still opens every node's API.
        rep = h.curl(n, "/v1/settings/user.one", tcp=True, token=secret)
        assert rep.status == 200 and rep.json["value"] == "1", rep
    assert h.leader_of(r).name == "n1"
    assert h.set_setting(r.nodes[2], "user.after", "a").ok


@pytest.mark.parametrize("victim", ["n2", "n1"], ids=["follower", "leader"])
def test_clusterd_killed_alone_rejoins(rig3, victim):
    r = rig3
    h.form(r)
    v = r[victim]
    others = [n for n in r.nodes if n is not v]
    others_names = [n.name for n in others]
    _fill(r)
    corosync_pids = v.find_pids("corosync")
    assert corosync_pids

    # SIGKILL of clusterd only: corosync keeps running on the victim.
    rc = v.stop_clusterd(sig=signal.SIGKILL)
    assert rc == -signal.SIGKILL
    assert v.find_pids("corosync") == corosync_pids
    res = h.ctl(v, "status")
    assert res.rc == 1 and "clusterd is not running" in res.stderr, res
    # The others: still writable (corosync members: all three; replicas: the
    # two others), led by the lowest id among them, and they show the
    # victim's clusterd stopped.
    for n in others:
        h.wait_status(r, n, lambda s: s["writable"] and sorted(s["quorum"]["database_members"]) == others_names
                      and h.nodes_by_name(s)[victim]["clusterd"] == "stopped", 30,
                      "%s to see clusterd on %s stopped" % (n.name, victim))
        st = h.status(n)
        assert sorted(st["quorum"]["members"]) == ["n1", "n2", "n3"]
        assert h.nodes_by_name(st)[victim]["state"] == "online"
        assert st["leader"] == others_names[0]
    for i in range(10):
        assert h.set_setting(others[i % 2], "user.while-%d" % i, str(i)).ok

    # Restarted, it rejoins, syncs and has everything.
    v.start_clusterd()
    h.wait_status(r, v, lambda s: s["state"] == "synced" and s["writable"], 30, "%s to be synced again" % victim)
    common = h.wait_converged(r)
    assert common["leader"] == "n1"
    for i in range(10):
        assert h.get_setting(v, "user.while-%d" % i) == str(i)
    for n in r.nodes:
        assert h.nodes_by_name(h.status(n))[victim]["clusterd"] == "running"
    kinds = [(e["kind"], e["object"]) for e in common["events"]]
    assert ("node.clusterd-stopped", victim) in kinds and ("node.clusterd-running", victim) in kinds, kinds
    assert kinds.index(("node.clusterd-stopped", victim)) < kinds.index(("node.clusterd-running", victim))
    assert h.set_setting(v, "user.from-victim", "x").ok
    assert h.get_setting(others[0], "user.from-victim") == "x"


def test_corosync_killed_alone_is_restarted_by_clusterd(rig3):
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    _fill(r)
    old = n3.find_pids("corosync")
    log_start = len(h.clusterd_log(n3))
    for pid in old:
        n3.run(["kill", "-9", str(pid)])

    # clusterd notices, starts corosync again with its start-command, and
    # the node rejoins and catches up with what was written meanwhile.
    h.wait_log(n3, r"corosync is not reachable .*; starting it", log_start, timeout=20)
    for n in (n1, n2):
        h.wait_status(r, n, lambda s: s["writable"], 30, "%s writable" % n.name)
    assert h.set_setting(n1, "user.meanwhile", "m").ok
    h.wait_status(r, n3, lambda s: s["state"] == "synced" and s["writable"], 40, "n3 synced again")
    new = n3.find_pids("corosync")
    assert new and not set(new) & set(old)
    r.wait_synced(members=["n1", "n2", "n3"])
    common = h.wait_converged(r)
    assert common["settings"]["user.meanwhile"] == "m"
    assert common["tokens"] == ["ops"]
    assert h.set_setting(n3, "user.from-n3", "y").ok
    assert h.get_setting(n2, "user.from-n3") == "y"


def test_sigterm_stops_clusterd_cleanly(rig3):
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    assert h.set_setting(n2, "user.before", "b").ok
    log_start = len(h.clusterd_log(n2))
    assert n2.stop_clusterd(sig=signal.SIGTERM, timeout=10) == 0
    h.wait_log(n2, r"clusterd stopped", log_start, timeout=5)
    res = h.ctl(n2, "status")
    assert res.rc == 1 and "clusterd is not running" in res.stderr, res
    h.wait_status(r, n1, lambda s: h.nodes_by_name(s)["n2"]["clusterd"] == "stopped" and s["writable"], 30,
                  "n1 to see clusterd on n2 stopped")
    assert h.set_setting(n1, "user.while", "w").ok
    n2.start_clusterd()
    h.wait_status(r, n2, lambda s: s["state"] == "synced" and s["writable"], 30, "n2 synced again")
    assert h.get_setting(n2, "user.while") == "w"
    assert h.get_setting(n2, "user.before") == "b"
    h.wait_converged(r)


def test_hung_clusterd_on_one_node_does_not_block_the_cluster(rig3):
    """clusterd hangs on one node (SIGSTOP, as when blocked on a dead disk)
    while its corosync runs on: the node stays in corosync's membership, but
    it confirms nothing. The other two hold a quorum between them; a user
    expects them to go on accepting writes after a bounded time, not to time
    out every write for as long as the hang lasts. When the hung clusterd
    resumes, it catches up."""
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    assert h.set_setting(n1, "user.before", "b").ok
    pids = n3.clusterd_pids()
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        took, outcomes = h.first_acked_write(n1, "user.during", deadline=30)
        print("timing: writes acknowledged again %s s after clusterd on n3 hung (attempts: %s)"
              % (took, outcomes))
        assert took is not None, "no write on n1 succeeded within %ds: %s" % (30, outcomes)
        assert h.set_setting(n2, "user.during-n2", "d", timeout=15).ok
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
    h.wait_status(r, n3, lambda s: s["state"] == "synced" and s["writable"], 40, "n3 synced after SIGCONT")
    common = h.wait_converged(r)
    assert common["settings"]["user.during-n2"] == "d"
    assert common["settings"]["user.before"] == "b"
