"""Roles on a real cluster: VMs that fail over when their node dies or is cut
off, and never run twice; clusterd restarts that leave VMs alone; placement
policies; misbehaving agents; and bad input."""

import json
import os
import time

from helpers import assert_error, ctl, curl, events, form, leader_of, ok
from rig import wait_until
from roles import (Copies, assert_journal_clean, dummy_role, guestdisk, qemu_vms, role, roles, vm_role,
                   wait_running)


def test_kill_node_with_three_vms(rig3):
    """kill -9 of every process of a node hosting three VMs: all three run
    elsewhere once its watchdog deadline passed, and no VM ever ran on two
    nodes at once (processes sampled throughout, and the guests' disks)."""
    form(rig3)
    n1 = rig3.node("n1")
    names = ["vm1", "vm2", "vm3"]
    disks = {n: vm_role(rig3, n1, n, "--preferred", "n2") for n in names}
    wait_running(n1, names, 60, where="n2")
    copies = Copies(rig3, names)
    copies.watch(lambda w: all(w[n] == ["n2"] for n in names), 30, "the VMs' QEMU on n2")
    gens = {n: guestdisk.read_lease(d)["generation"] for n, d in disks.items()}

    rig3.node("n2").kill9()
    copies.watch(lambda w: all(len(w[n]) == 1 and w[n] != ["n2"] for n in names), 90,
                 "the VMs to run on the survivors")
    placed = wait_running(n1, names, 30, not_on="n2")
    for _ in range(20):  # keep watching for a second copy a little longer
        copies.sample()
        time.sleep(0.05)
    copies.assert_never_twice()

    fenced = events(n1, "node.fenced")
    assert any(e["object"] == "n2" for e in fenced), fenced
    for n, disk in disks.items():
        wait_until(lambda d=disk, g=gens[n]: guestdisk.read_lease(d)["generation"] > g, 30, 0.2,
                   "the guest of %s to boot again" % n)
        lease = guestdisk.read_lease(disk)
        assert lease["host"] == placed[n], (n, lease, placed)
        assert_journal_clean(disk)


def test_partitioned_node_stops_its_vms(rig3):
    """A node cut off from the other two loses quorum and stops its VMs at
    once; the majority starts them after the deadline; after the heal
    nothing runs twice and the node was not reset (it stopped cleanly)."""
    form(rig3)
    n1, n3 = rig3.node("n1"), rig3.node("n3")
    disk = vm_role(rig3, n1, "web", "--preferred", "n3")
    wait_running(n1, ["web"], 60, where="n3")
    copies = Copies(rig3, ["web"])
    copies.watch(lambda w: w["web"] == ["n3"], 30, "web's QEMU on n3")

    rig3.partition(["n3"])
    copies.watch(lambda w: w["web"] == [], 30, "n3 to stop web")
    copies.watch(lambda w: len(w["web"]) == 1, 60, "the majority to start web")
    copies.assert_never_twice()
    where = wait_running(n1, ["web"], 30, not_on="n3")["web"]

    rig3.heal()
    rig3.wait_synced(timeout=60)
    for _ in range(40):
        copies.sample()
        time.sleep(0.05)
    copies.assert_never_twice()
    assert copies.sample()["web"] == [where]
    assert n3.watchdog_fired() == 0, "n3 stopped its VM, so its watchdog must not have reset it"
    assert roles(n3)["web"]["active_node"] == where
    assert_journal_clean(disk)


def test_clusterd_restart_leaves_vms_running(rig3):
    """clusterd killed (and stopped cleanly) on a node with a running VM:
    QEMU keeps running, the restarted clusterd adopts it, and the VM is not
    restarted (same QEMU process, same guest generation)."""
    form(rig3)
    n1, n2 = rig3.node("n1"), rig3.node("n2")
    disk = vm_role(rig3, n1, "db", "--preferred", "n2")
    wait_running(n1, ["db"], 60, where="n2")
    # The daemonized QEMU, as its pid file names it (not the parent that
    # forked it).
    pid = wait_until(lambda: int(n2.read_file("/run/clusterd/vm/db.pid").strip()), 30, 0.1, "db's pid file")
    wait_until(lambda: qemu_vms(n2) == {"db": pid}, 30, 0.1, "db's QEMU on n2")
    wait_until(lambda: guestdisk.read_lease(disk)["generation"] > 0, 30, 0.1, "db's guest to boot")
    gen = guestdisk.read_lease(disk)["generation"]

    for sig in (9, 15):
        n2.stop_clusterd(sig=sig)
        time.sleep(1)
        assert qemu_vms(n2).get("db") == pid
        n2.start_clusterd()
        rig3.wait_synced(timeout=60)
        wait_running(n1, ["db"], 30, where="n2")
        time.sleep(2)  # a few monitor intervals
        assert qemu_vms(n2).get("db") == pid, "the VM was restarted"
        assert guestdisk.read_lease(disk)["generation"] == gen
    assert n2.watchdog_fired() == 0
    for n in rig3.nodes:
        assert "db" not in qemu_vms(n) or n is n2


def test_fence_agent_confirms_sooner(rig3):
    """With a fence agent (fence-agents' fence_dummy, which confirms at
    once), a lost node's roles start elsewhere at its confirmation, without
    waiting for the watchdog deadline."""
    form(rig3)
    n1 = rig3.node("n1")
    ok(n1, "settings", "set", "fencing.watchdog-margin", "60s")  # the watchdog path would take > 60 s
    ok(n1, "node", "fencing", "n3", "fence_dummy")
    dummy_role(n1, "app", "--preferred", "n3")
    wait_running(n1, ["app"], 30, where="n3")
    t0 = time.time()
    rig3.node("n3").kill9()
    wait_running(n1, ["app"], 45, not_on="n3")
    assert time.time() - t0 < 30
    fenced = [e for e in events(n1, "node.fenced") if e["object"] == "n3"]
    assert fenced and "fence_dummy" in fenced[-1]["message"], fenced


def test_placement_policies(rig3):
    """Preferred owners, anti-affinity, priority order, failover threshold,
    pause/drain/resume and failback, on one cluster."""
    form(rig3)
    n1 = rig3.node("n1")

    # Preferred owners: the first one that is up.
    dummy_role(n1, "pref", "--preferred", "n3,n2")
    # Anti-affinity: two roles of one class go to different nodes.
    dummy_role(n1, "aa1", "--anti-affinity", "sql", "--preferred", "n1")
    dummy_role(n1, "aa2", "--anti-affinity", "sql", "--preferred", "n1")
    placed = wait_running(n1, ["pref", "aa1", "aa2"], 30)
    assert placed["pref"] == "n3"
    assert placed["aa1"] != placed["aa2"], placed
    explain = ctl(n1, "role", "explain", "aa2", json=False).stdout
    assert "n1" in explain

    # Priority: after a failure the roles are placed high first.
    for name, prio in (("p-low", "low"), ("p-high", "high"), ("p-medium", "medium")):
        dummy_role(n1, name, "--priority", prio, "--preferred", "n2")
    wait_running(n1, ["p-low", "p-high", "p-medium"], 30, where="n2")
    ok(n1, "node", "fencing", "n2", "fence_dummy")
    since = events(n1)[-1]["id"]
    rig3.node("n2").kill9()
    wait_running(n1, ["p-low", "p-high", "p-medium"], 60, not_on="n2")
    order = [e["object"] for e in events(n1, "role.placed", since=since) if e["object"].startswith("p-")]
    assert order[:3] == ["p-high", "p-medium", "p-low"], order
    rig3.node("n2").restart()
    rig3.wait_synced(timeout=60)

    # Failover threshold: a role whose monitor keeps failing is moved once,
    # then stays failed until cleared.
    flag = rig3.shared_dir + "/fail-flaky"
    ok(n1, "role", "create", "flaky", "--monitor-interval", "1s", "--restart-threshold", "0",
       "--failover-threshold", "1", "--failover-period", "1h")
    ok(n1, "resource", "add", "flaky", "d", "dummy", "fail_monitor_file=" + flag)
    first = wait_running(n1, ["flaky"], 30)["flaky"]
    open(flag, "w").close()
    wait_until(lambda: roles(n1)["flaky"]["state"] == "failed", 60, 0.2, "flaky to fail")
    r = role(n1, "flaky")
    assert len(r["failures"]) == 2 and first in r["failed_on"], r
    assert any(e["kind"] == "role.failed" for e in events(n1, "role.failed"))
    os.unlink(flag)
    ok(n1, "role", "clear", "flaky")
    ok(n1, "role", "start", "flaky")
    wait_running(n1, ["flaky"], 30)

    # Pause with drain moves roles away; resume --failback brings back the
    # ones that prefer the node.
    ok(n1, "node", "pause", "n3", "--drain")
    assert ok(n1, "node", "show", "n3")["pause"] == "draining"
    wait_running(n1, ["pref"], 30, not_on="n3")
    dummy_role(n1, "newcomer", "--preferred", "n3")
    assert wait_running(n1, ["newcomer"], 30)["newcomer"] != "n3"
    ok(n1, "node", "resume", "n3", "--failback")
    shown = ok(n1, "node", "show", "n3")
    assert shown["pause"] == "none" and shown["memory_mib"] == 4096 and shown["watchdog_timeout"] == "5s", shown
    assert ok(n1, "node", "show", "n2")["fence_agent"] == "fence_dummy"
    wait_running(n1, ["pref", "newcomer"], 30, where="n3")

    # Failback: immediate brings a role back to its preferred owner once
    # that is up again; a window that is not now keeps it where it is.
    now = time.localtime()
    later = "%02d:%02d-%02d:%02d" % ((now.tm_hour + 2) % 24, now.tm_min, (now.tm_hour + 3) % 24, now.tm_min)
    dummy_role(n1, "fb-now", "--preferred", "n3", "--failback", "immediate")
    dummy_role(n1, "fb-later", "--preferred", "n3", "--failback", later)
    wait_running(n1, ["fb-now", "fb-later"], 30, where="n3")
    ok(n1, "node", "pause", "n3", "--drain")
    wait_running(n1, ["fb-now", "fb-later"], 30, not_on="n3")
    ok(n1, "node", "resume", "n3")
    wait_running(n1, ["fb-now"], 30, where="n3")
    time.sleep(2)
    assert roles(n1)["fb-later"]["active_node"] != "n3"


def test_debian_ocf_agent_and_bad_agents(rig3):
    """A real OCF agent from resource-agents (ocf:heartbeat:Dummy) runs as a
    role; agents that hang, crash, print junk or answer unknown codes fail
    their role with a clear cause, and the cluster keeps running the rest."""
    form(rig3)
    n1 = rig3.node("n1")
    ok(n1, "role", "create", "hb", "--monitor-interval", "1s")
    ok(n1, "resource", "add", "hb", "d", "ocf:heartbeat:Dummy")
    wait_running(n1, ["hb"], 30)

    causes = {"hang": "timing out", "crash": "SIGSEGV", "garbage": "generic error", "badcode": "unknown"}
    for agent in causes:
        ok(n1, "role", "create", agent, "--start-timeout", "2s", "--failover-threshold", "1",
           "--restart-threshold", "0")
        ok(n1, "resource", "add", agent, "r", "ocf:cdtest:" + agent)
    wait_until(lambda: all(roles(n1)[a]["state"] == "failed" for a in causes), 90, 0.5,
               "the bad agents' roles to fail")
    for agent, word in causes.items():
        r = role(n1, agent)
        msg = r["status"]["message"]
        assert word.lower() in msg.lower(), (agent, msg)
        json.dumps(msg)  # valid text, whatever the agent printed
    assert roles(n1)["hb"]["state"] == "running"
    for n in rig3.nodes:
        assert n.clusterd_running(), n.name

    # An agent that is not installed: the role fails with the path named.
    ok(n1, "role", "create", "ghost", "--failover-threshold", "1", "--restart-threshold", "0")
    ok(n1, "resource", "add", "ghost", "r", "ocf:nowhere:Nothing")
    wait_until(lambda: roles(n1)["ghost"]["state"] == "failed", 60, 0.5, "ghost to fail")
    assert "cannot start" in role(n1, "ghost")["status"]["message"]


def test_role_bad_input(rig3):
    """Invalid role and resource definitions are refused with the field and
    value named; nothing is created."""
    form(rig3)
    n1 = rig3.node("n1")
    cases = [
        ({"name": "x", "priority": "urgent"}, "priority", "urgent"),
        ({"name": "x", "failover": {"threshold": -1}}, "failover.threshold", "-1"),
        ({"name": "x", "failback": {"policy": "window", "window": "25:00-02:00"}}, "failback.window", "25:00"),
        ({"name": "x", "monitor_interval": "soon"}, "monitor_interval", "soon"),
        ({"name": "x", "preferred_owners": ["n1", "n1"]}, "preferred_owners", "twice"),
        ({"name": "x", "resources": [{"name": "v", "agent": "vm", "params": {"memory": "lots"}}]}, "memory",
         "lots"),
        ({"name": "x", "resources": [{"name": "v", "agent": "../../bin/sh"}]}, "agent", "../../bin/sh"),
        ({"name": "bad name!"}, "name", "bad name!"),
        ({"name": "x", "colour": "blue"}, "colour", ""),
    ]
    for body, field, value in cases:
        reply = curl(n1, "/v1/roles", method="POST", body=json.dumps(body))
        assert_error(reply, 400, "bad-request", field, value)
    reply = curl(n1, "/v1/roles", method="POST", body="{not json")
    assert_error(reply, 400, "bad-request")
    assert roles(n1) == {}
    r = ctl(n1, "role", "move", "nothing", "--to", "n2")
    assert r.rc == 1 and "no role named 'nothing'" in r.stderr
    r = ctl(n1, "role", "create", "y", "--priority", "urgent")
    assert r.rc == 1 and "urgent" in r.stderr
    dummy_role(n1, "busy")
    wait_running(n1, ["busy"], 30)
    reply = curl(n1, "/v1/roles/busy", method="DELETE")
    assert_error(reply, 409, "conflict", "stop it first")
    ok(n1, "role", "stop", "busy")
    wait_until(lambda: roles(n1)["busy"]["state"] == "stopped", 30, 0.2, "busy to stop")
    ok(n1, "role", "delete", "busy")
    assert leader_of(rig3) is not None


def test_hung_node_is_reset_by_its_watchdog(rig3):
    """A hung node (every process SIGSTOPped) cannot stop its VM or pet its
    watchdog: the watchdog, outside the node, resets it before the
    survivors' deadline, and only then does the VM start elsewhere."""
    form(rig3)
    n1, n2 = rig3.node("n1"), rig3.node("n2")
    disk = vm_role(rig3, n1, "hung", "--preferred", "n2")
    wait_running(n1, ["hung"], 60, where="n2")
    copies = Copies(rig3, ["hung"])
    copies.watch(lambda w: w["hung"] == ["n2"], 30, "hung's QEMU on n2")

    n2.sigstop()
    copies.watch(lambda w: len(w["hung"]) == 1 and w["hung"] != ["n2"], 90, "the VM to run on a survivor")
    assert n2.watchdog_fired() == 1
    assert not n2.pids(), "the watchdog left processes of the hung node"
    wait_running(n1, ["hung"], 30, not_on="n2")
    copies.assert_never_twice()
    assert_journal_clean(disk)
