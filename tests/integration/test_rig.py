# SPDX-License-Identifier: LGPL-2.1-or-later
"""The rig's own self-test: real corosync (no clusterd) in 3 and 5 nodes,
through every fault the rig can inject, and the rig's cleanup. Run alone
with `-m rig`. Timings (how long until corosync notices a fault with token
1000) are printed; see them with -s."""

import json
import os
import subprocess
import time

import pytest

import rig as rigmod

pytestmark = pytest.mark.rig

TOKEN_MS = 1000
TIMEOUT = 30


def _ids(nodes):
    return sorted(n.index for n in nodes)


def wait_view(rig, nodes, members, quorate, timeout=TIMEOUT):
    """Waits until corosync on each of nodes sees exactly members with the
    given quorate flag; returns the seconds it took."""
    t0 = time.monotonic()
    want = _ids(members)

    def check():
        views = {n.name: n.corosync_quorum() for n in nodes}
        ok = all(v["members"] == want and v["quorate"] == quorate for v in views.values())
        return views if ok else rigmod.Pending({k: (v["members"], v["quorate"]) for k, v in views.items()})

    rig.wait_until(check, timeout, 0.1, "%s to see members %s quorate=%s" % ([n.name for n in nodes], want, quorate))
    return time.monotonic() - t0


def start_all(rig):
    rig._start_plain_corosync(TOKEN_MS)
    took = wait_view(rig, rig.nodes, rig.nodes, True)
    print("timing: %d nodes quorate %.1fs after start" % (len(rig.nodes), took))


def test_three_nodes_become_quorate(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    # Each node has its own hostname and private /tmp, /run, /dev/shm.
    assert n2.run("hostname").stdout.strip() == "n2"
    n1.run("echo one > /tmp/x && echo one > /dev/shm/x")
    assert not n2.exists("/tmp/x") and not n2.exists("/dev/shm/x")
    assert n1.read_file("/tmp/x") == "one\n"
    # write_file / read_file, persisted and volatile paths.
    n3.write_file("/var/lib/clusterd/hello", "hi\n", 0o600)
    assert n3.run("cat /var/lib/clusterd/hello").stdout == "hi\n"
    assert os.path.exists(os.path.join(n3.dir, "var/lib/clusterd/hello"))
    n3.write_file("/run/clusterd/x", "volatile\n")
    assert n3.run("cat /run/clusterd/x").stdout == "volatile\n"
    # The nodes' addresses are only inside the rig.
    assert n1.run("ip -4 -o addr show dev eth0").stdout.split()[3] == n1.address + "/24"
    host = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    assert r.subnet + "." not in host
    # Each node's corosync logs to its own file.
    for n in r.nodes:
        assert "Completed service synchronization" in n.read_file("/var/log/corosync/corosync.log")
    # run() raises with the output on failure.
    with pytest.raises(rigmod.CommandError, match="boom"):
        n1.run("echo boom >&2; exit 3")
    assert n1.run("exit 3", check=False).returncode == 3


def test_kill9_and_restart(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    n3.run("echo gone > /tmp/volatile")
    n3.write_file("/var/lib/clusterd/persisted", "kept\n")
    holder = n3.holder_pid
    t0 = time.monotonic()
    n3.kill9()
    assert n3.pids() == [] and not n3.alive()
    assert not rigmod._pid_alive(holder)
    with pytest.raises(rigmod.NodeDown):
        n3.run("true")
    took = wait_view(r, [n1, n2], [n1, n2], True)
    print("timing: kill9 of n3 -> n1,n2 see 2 members %.1fs after the kill" % (time.monotonic() - t0))
    assert took < 15

    n3.restart(clusterd=False)
    assert n3.alive() and n3.holder_pid != holder
    assert n3.run("hostname").stdout.strip() == "n3"
    assert not n3.exists("/tmp/volatile")  # /tmp is fresh after a reboot
    assert n3.read_file("/var/lib/clusterd/persisted") == "kept\n"
    t0 = time.monotonic()
    r._start_plain_corosync(TOKEN_MS, nodes=[n3])
    wait_view(r, r.nodes, r.nodes, True)
    print("timing: restarted n3 back in the membership %.1fs after corosync started" % (time.monotonic() - t0))


def test_sigstop_and_sigcont(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    t0 = time.monotonic()
    n3.sigstop()
    states = {pid: rigmod._proc_state(pid) for pid in n3.pids() if pid != n3.holder_pid}
    assert states and all(s == "T" for s in states.values()), states
    assert rigmod._proc_state(n3.holder_pid) != "T"
    wait_view(r, [n1, n2], [n1, n2], True)
    print("timing: sigstop of n3 -> n1,n2 see 2 members %.1fs after the stop" % (time.monotonic() - t0))
    t0 = time.monotonic()
    n3.sigcont()
    wait_view(r, r.nodes, r.nodes, True)
    print("timing: sigcont of n3 -> 3 members again %.1fs after" % (time.monotonic() - t0))


def test_cut_and_restore_link(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    t0 = time.monotonic()
    n3.cut_link()
    assert not n3.link_up()
    wait_view(r, [n1, n2], [n1, n2], True)
    print("timing: cut_link of n3 -> n1,n2 see 2 members %.1fs after the cut" % (time.monotonic() - t0))
    wait_view(r, [n3], [n3], False)
    t0 = time.monotonic()
    n3.restore_link()
    assert n3.link_up()
    wait_view(r, r.nodes, r.nodes, True)
    print("timing: restore_link of n3 -> 3 members again %.1fs after" % (time.monotonic() - t0))


def test_partition_and_heal(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    t0 = time.monotonic()
    r.partition([n1], [n2, n3])
    wait_view(r, [n2, n3], [n2, n3], True)
    print("timing: partition n1 | n2,n3 -> majority sees 2 members %.1fs after" % (time.monotonic() - t0))
    wait_view(r, [n1], [n1], False)
    # Loopback inside an isolated node still works.
    n1.run("/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind((\"127.0.0.1\",0)); s.listen(); "
           "c=socket.create_connection(s.getsockname(), timeout=2)'")
    t0 = time.monotonic()
    r.heal()
    wait_view(r, r.nodes, r.nodes, True)
    print("timing: heal -> 3 members again %.1fs after" % (time.monotonic() - t0))
    out = subprocess.run(["nsenter", "--net=/run/netns/" + n1.ns, "nft", "list", "tables"],
                         capture_output=True, text=True).stdout
    assert rigmod.NFT_TABLE not in out


def test_five_nodes_split_two_three(rig5):
    r = rig5
    start_all(r)
    small, big = r.nodes[:2], r.nodes[2:]
    t0 = time.monotonic()
    r.partition(small, big)
    wait_view(r, big, big, True)
    wait_view(r, small, small, False)
    print("timing: 5 nodes split 2|3 -> both sides settled %.1fs after" % (time.monotonic() - t0))
    # Partition rules stay across a reboot of a node (they are the network's).
    n1 = small[0]
    n1.kill9()
    wait_view(r, small[1:], small[1:], False)
    n1.restart(clusterd=False)
    r._start_plain_corosync(TOKEN_MS, nodes=[n1])
    wait_view(r, small, small, False)
    wait_view(r, big, big, True)
    r.heal()
    wait_view(r, r.nodes, r.nodes, True)


def test_partition_with_implicit_rest(rig3):
    r = rig3
    start_all(r)
    n1, n2, n3 = r.nodes
    r.partition(["n2"])  # n1 and n3 form the other side
    wait_view(r, [n1, n3], [n1, n3], True)
    wait_view(r, [n2], [n2], False)
    r.partition([n1, n2, n3])  # one group: nothing blocked
    wait_view(r, r.nodes, r.nodes, True)


def _mountinfo():
    with open("/proc/self/mountinfo") as f:
        return f.read()


def test_cleanup_leaves_nothing(rig):
    r = rig(3)
    start_all(r)
    r.partition([r.nodes[0]])
    r.nodes[2].sigstop()
    inodes = {rigmod._netns_inode(ns) for ns in [r.switch_ns] + [n.ns for n in r.nodes]}
    pids = [p for n in r.nodes for p in n.pids()]
    assert len(pids) >= 6
    base = r.base_dir
    r.cleanup()
    assert rigmod._rig_namespaces(r.id) == []
    assert not any(ns.startswith(rigmod.PREFIX + r.id + "-") for ns in rigmod._netns_names())
    for pid in pids:
        assert not rigmod._pid_alive(pid), pid
    for d in os.listdir("/proc"):
        if d.isdigit():
            assert rigmod._proc_netns_inode(int(d)) not in inodes, "process %s is still in a rig namespace" % d
    mi = _mountinfo()
    assert base not in mi and (rigmod.PREFIX + r.id) not in mi
    assert not os.path.exists(base)
    assert not os.path.exists(os.path.join(rigmod.STATE_ROOT, r.id))
    if not rigmod._netns_names():
        assert not rigmod._run_netns_mounted()
    assert not os.path.exists("/sys/class/net/%s%s-h" % (rigmod.PREFIX, r.id))
    r.cleanup()  # idempotent


def _dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_sweep_stale_removes_rigs_of_dead_processes(rig):
    r = rig(2)
    r._start_plain_corosync(TOKEN_MS)
    wait_view(r, r.nodes, r.nodes, True)
    # Pretend the rig was made by a process that died without cleaning up.
    state_file = rigmod._state_path(r.id)
    with open(state_file) as f:
        st = json.load(f)
    st["owner_pid"], st["owner_starttime"] = _dead_pid(), 1
    with open(state_file, "w") as f:
        json.dump(st, f)
    rigmod._live_rigs.pop(r.id, None)
    # And a namespace that no rig owns at all.
    orphan = "%szz%s-n1" % (rigmod.PREFIX, os.urandom(2).hex())
    subprocess.run(["ip", "netns", "add", orphan], check=True)
    orphan_holder = subprocess.Popen(["ip", "netns", "exec", orphan, "sleep", "infinity"], start_new_session=True)
    rigmod.wait_until(lambda: rigmod._netns_pids(orphan), 5, 0.05, "orphan holder")
    pids = [p for n in r.nodes for p in n.pids()]

    swept = rigmod.sweep_stale()
    orphan_holder.wait(5)
    assert r.id in swept
    assert rigmod._rig_namespaces(r.id) == []
    assert orphan not in rigmod._netns_names()
    assert not any(rigmod._pid_alive(p) for p in pids)
    assert not os.path.exists(r.base_dir)


def test_sweep_keeps_live_and_detached_rigs(rig):
    r = rig(1)
    assert r.id not in rigmod.sweep_stale()
    assert r.nodes[0].alive()
    # A detached rig (the CLI's `up`) outlives its creator.
    d = rigmod.Rig(nodes=1, detached=True)
    try:
        st = rigmod._read_state(d.id)
        st["owner_pid"], st["owner_starttime"] = _dead_pid(), 1
        rigmod._write_state(d.id, st)
        assert d.id not in rigmod.sweep_stale()
        assert d.nodes[0].alive()
        loaded = rigmod.Rig.load(d.id)
        assert loaded.nodes[0].holder_pid == d.nodes[0].holder_pid and loaded.nodes[0].alive()
        assert loaded.nodes[0].run("hostname").stdout.strip() == "n1"
    finally:
        d.cleanup()
    assert rigmod._rig_namespaces(d.id) == []


# ---- clusterd plumbing, against stand-ins for clusterd and clusterctl ----

FAKE_CLUSTERD = r'''#!/usr/bin/python3
# Stand-in for clusterd: records how it was started, serves nothing.
import json, os, signal, socket, sys
seen = {"argv": sys.argv[1:], "hostname": socket.gethostname(),
        "asan": os.environ.get("ASAN_OPTIONS"), "ubsan": os.environ.get("UBSAN_OPTIONS"),
        "config": open(sys.argv[sys.argv.index("--config") + 1]).read()}
json.dump(seen, open("/var/lib/clusterd/fake-clusterd.json", "w"))
os.makedirs("/run/clusterd", exist_ok=True)
s = socket.socket(socket.AF_UNIX)
s.bind("/run/clusterd/clusterd.sock")
s.listen()
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("fake clusterd running", flush=True)
while True:
    signal.pause()
'''

FAKE_CLUSTERCTL = r'''#!/usr/bin/python3
# Stand-in for clusterctl: "cluster create", "cluster join", "status", "fail".
import json, os, sys
args = sys.argv[1:]
assert args[:2] == ["-o", "json"], args
args = args[2:]
state = "/var/lib/clusterd/fake-cluster.json"
if args[:2] == ["cluster", "create"]:
    json.dump(args, open(state, "w"))
    nodes = [a.split("=")[0] for a in args[2:] if "=" in a]
    addr = [a.split("=")[1] for a in args if a.startswith("n1=")][0]
    print(json.dumps({"cluster": {"name": args[2], "state": "synced"},
                      "join": {"token": "k3x9qa.tok", "ca_hash": "sha256:abc", "url": "https://%s:7440" % addr,
                               "nodes": nodes[1:]}}))
elif args[:2] == ["cluster", "join"]:
    json.dump(args, open(state, "w"))
    print(json.dumps({"state": "syncing"}))
elif args == ["status"]:
    if os.path.exists(state):
        print(json.dumps({"state": "synced", "quorum": {"quorate": True, "members": ["n1", "n2", "n3"]}}))
    else:
        print(json.dumps({"state": "unconfigured"}))
else:
    print(json.dumps({"error": {"code": "bad-request", "message": "unknown command %r" % args}}))
    print("clusterctl: unknown command", file=sys.stderr)
    sys.exit(1)
'''


def _fake_builddir(r):
    d = os.path.join(r.base_dir, "fakebuild")
    for sub, text in (("clusterd/clusterd", FAKE_CLUSTERD), ("clusterctl/clusterctl", FAKE_CLUSTERCTL)):
        path = os.path.join(d, sub)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)
    return d


def test_clusterd_plumbing_with_stand_ins(rig3):
    r = rig3
    r.builddir = _fake_builddir(r)
    n1, n2, n3 = r.nodes
    reply = r.create_cluster("t", token_ms=1000, timeout=10)
    assert reply["join"]["url"] == "https://%s:7440" % n1.address
    create = json.loads(n1.read_file("/var/lib/clusterd/fake-cluster.json"))
    assert create == ["cluster", "create", "t", "--node", "n1=" + n1.address, "--node", "n2=" + n2.address,
                      "--node", "n3=" + n3.address, "--token-timeout", "1000"]
    for n in (n2, n3):
        join = json.loads(n.read_file("/var/lib/clusterd/fake-cluster.json"))
        assert join == ["cluster", "join", "https://%s:7440" % n1.address, "--token", "k3x9qa.tok",
                        "--ca-hash", "sha256:abc", "--name", n.name]
    seen = json.loads(n2.read_file("/var/lib/clusterd/fake-clusterd.json"))
    assert seen["argv"] == ["--foreground", "--config", "/etc/clusterd/clusterd.yaml"]
    assert seen["hostname"] == "n2"
    assert "detect_leaks=1" in seen["asan"] and "log_path=/var/log/clusterd/asan" in seen["asan"]
    assert "halt_on_error=1" in seen["ubsan"] and "log_path=/var/log/clusterd/ubsan" in seen["ubsan"]
    assert seen["config"] == (
        'node:\n  name: "n2"\n  memory: "4GiB"\n  cpus: 4\n'
        'log:\n  target: "file"\n  file: "/var/log/clusterd/clusterd.log"\n  level: "debug"\n'
        'api:\n  listen: ["%s:7440"]\n'
        'agents:\n  directory: "%s/agents"\n  ocf-root: "%s"\n'
        'fencing:\n  watchdog: "unix:%s"\n  watchdog-timeout: "5s"\n'
        'corosync:\n  start-command: "corosync"\n  stop-command: "corosync-cfgtool -H --force"\n'
        % (n2.address, r.builddir, r.ocf_root, n2.watchdog_socket)
    )
    assert "fake clusterd running" in n2.read_file("/var/log/clusterd/clusterd.out")
    # clusterctl failures carry stdout and stderr; check=False gives the error object.
    with pytest.raises(rigmod.CommandError, match="unknown command"):
        n1.clusterctl("fail")
    assert n1.clusterctl("fail", check=False)["error"]["code"] == "bad-request"
    assert n1.clusterctl("status", json=True)["state"] == "synced"
    # stop_clusterd: SIGTERM, exit status back.
    assert n3.stop_clusterd() == 0
    assert not n3.clusterd_running()
    # restart() boots the node and starts clusterd again.
    n2.restart()
    assert n2.clusterd_running()
    # Sanitizer reports in a node's log directory are found.
    report = os.path.join(n1.log_dir, "asan.12345")
    with open(report, "w") as f:
        f.write("==12345==ERROR: AddressSanitizer: heap-use-after-free\n")
    assert r.sanitizer_reports() == [report]
    os.unlink(report)  # or this test would fail in teardown, as it should
    assert r.sanitizer_reports() == []


def test_wait_until_names_what_and_last_value():
    with pytest.raises(TimeoutError, match=r"the answer.*last observed: 41"):
        rigmod.wait_until(lambda: rigmod.Pending(41), 0.3, 0.05, "the answer")
    assert rigmod.wait_until(lambda: 42, 1, 0.05, "x") == 42
