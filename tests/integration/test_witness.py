# SPDX-License-Identifier: LGPL-2.1-or-later
"""The witness on the rig: a 2-node cluster with a file-share witness
survives the loss of either node and 20+ cuts of the link between them with
exactly one surviving partition each time; a 4-node cluster split 2|2 with a
cloud witness (Azurite behind a fault-injecting proxy); a witness that is
unreachable, slow, read-only, failing, reachable from one side only, holding
junk, or refusing our credentials never grants a vote on doubt, and says so
in status and logs. Real Samba, real Azurite, real corosync votequorum."""

import os
import random
import re
import shutil
import time

import pytest

import helpers as h
from rig_host import Pending, wait_until
import rig_witness
import witness_azure
import witness_smb


def _skip_reason(kind):
    if kind == "smb" and not shutil.which("smbd"):
        return "smbd is not installed (scripts/deps installs samba)"
    if kind == "azure" and witness_azure.azurite_missing():
        return witness_azure.azurite_missing()
    return None


def quorum(node):
    r = h.ctl(node, "quorum", "show")
    assert r.rc == 0 and r.data is not None, (node.name, r, r.stderr)
    return r.data


def wait_quorum(r, node, pred, timeout=30, what=""):
    def check():
        res = h.ctl(node, "quorum", "show")
        if res.rc != 0 or res.data is None:
            return Pending(res.stderr.strip())
        q = res.data
        return q if pred(q) else Pending({k: q.get(k) for k in ("quorate", "writable", "total_votes", "members")} |
                                         {"witness": {k: (q.get("witness") or {}).get(k)
                                                      for k in ("vote", "role", "counts")},
                                          "arbiter": ((q.get("witness") or {}).get("arbiter") or {})})
    return wait_until(check, timeout, 0.25, what or "quorum of %s" % node.name)


def voting(q):
    return bool(q.get("witness", {}).get("vote"))


def alone_and_quorate(node, q):
    return q["quorate"] and q["members"] == [node.name]


def setup_witness(r, kind):
    w = rig_witness.WitnessHost(r)
    url = w.start_samba() if kind == "smb" else w.start_azurite()
    for n in r.nodes:
        w.write_credentials(n, kind)
    h.form(r)
    res = h.ctl(r.nodes[0], "quorum", "set", "--witness", url)
    assert res.rc == 0, (res, res.stderr)
    for n in r.nodes:
        wait_quorum(r, n, lambda q: voting(q) and q["writable"] and q["total_votes"] == len(r.nodes) + 1, 40,
                    "%s to cast the witness vote" % n.name)
    return w, url


def assert_one_survivor(r, a, b, expect=None, timeout=40):
    """After a split of a | b: waits until exactly one side is quorate on its
    own and the other is not (the expected one, when given), and checks on
    every pair of samples on the way that the two sides never were quorate
    on their own at the same time. A holder cut off from the witness too
    keeps quorum until its lease lapses, and the other side takes the
    witness only after that: one after the other, never both at once."""
    def check():
        qa, qb = quorum(a), quorum(b)
        both = alone_and_quorate(a, qa) and alone_and_quorate(b, qb)
        assert not both, "both partitions were quorate at once: %r %r" % (qa, qb)
        split = qa["members"] == [a.name] and qb["members"] == [b.name]
        if split and qa["quorate"] != qb["quorate"]:
            winner = a if qa["quorate"] else b
            if expect is None or winner is expect:
                return winner
        return Pending((qa["members"], qa["quorate"], qb["members"], qb["quorate"]))

    survivor = wait_until(check, timeout, 0.1, "exactly one of %s, %s to survive" % (a.name, b.name))
    # Hold the split a little longer: the loser must stay out.
    for _ in range(5):
        qa, qb = quorum(a), quorum(b)
        assert not (alone_and_quorate(a, qa) and alone_and_quorate(b, qb)), (qa, qb)
        time.sleep(0.2)
    return survivor


def rejoin(r, node):
    node.boot()
    node.start_clusterd()
    h.wait_converged(r, timeout=90)


# --------------------------------------------------------------------------


@pytest.mark.skipif(_skip_reason("smb") is not None, reason=str(_skip_reason("smb")))
def test_two_nodes_with_a_file_share_witness(rig):
    r = rig(2)
    w, url = setup_witness(r, "smb")
    n1, n2 = r.nodes
    q = quorum(n1)
    assert (q["expected_votes"], q["total_votes"], q["quorum"]) == (3, 3, 2), q
    wq = q["witness"]
    assert wq["witness"] == url and wq["type"] == "smb" and wq["counts"] is True
    assert wq["role"] == "arbiter" and wq["arbiter"]["state"] == "holding" and wq["arbiter"]["health"] == "ok"
    assert wq["arbiter"]["holder"]["node"] == "n1" and wq["arbiter"]["last_renewal"]
    assert quorum(n2)["witness"]["role"] == "member"
    conf = n2.read_file("/etc/corosync/corosync.conf")
    assert "model: clusterd" in conf and "votes: 1" in conf and "expected_votes: 3" in conf, conf
    # The share holds a file named after the cluster.
    names = os.listdir(w.share_dir())
    assert any(f.startswith("clusterd-witness-t-") for f in names), names

    # -- the loss of the non-holder: the holder keeps going
    n2.kill9()
    wait_quorum(r, n1, lambda q: q["members"] == ["n1"] and q["writable"], 30, "n1 alone and writable")
    # A write that needs the witness is acknowledged only once the witness
    # record holds it: read the share right after each acknowledgement.
    for i in range(5):
        before = h.status(n1)["database"]["version"]
        assert h.set_setting(n1, "user.alone", "n1-%d" % i).ok
        held = record_position(w)[1]
        assert held > before, "acknowledged write %d: the record holds version %d, the database was at %d before it" % (
            i, held, before)
    rejoin(r, n2)

    # -- the loss of the holder: the other takes the witness after the lease
    n1.kill9()
    t0 = time.monotonic()
    q = wait_quorum(r, n2, lambda q: q["members"] == ["n2"] and q["writable"], 40, "n2 to take the witness")
    took = time.monotonic() - t0
    assert q["witness"]["arbiter"]["holder"]["node"] == "n2", q
    assert h.set_setting(n2, "user.alone", "n2").ok
    print("n2 quorate %.1fs after n1 was killed" % took)
    rejoin(r, n1)
    assert h.get_setting(n1, "user.alone") == "n2"

    # -- link cuts: exactly one survivor every time
    rnd = random.Random(4)
    wins = {"n1": 0, "n2": 0}
    for trial in range(20):
        time.sleep(rnd.uniform(0, 2.5))  # sometimes mid hand-over
        if trial % 4 == 3:
            # n1's cable: it loses the witness as well, so n2 must win.
            n1.cut_link()
            survivor = assert_one_survivor(r, n1, n2, expect=n2)
        else:
            # The link between them (the witness stays reachable by both).
            r.partition([n1], [n2])
            survivor = assert_one_survivor(r, n1, n2)
        wins[survivor.name] += 1
        assert h.set_setting(survivor, "user.trial", str(trial)).ok
        r.heal()
        h.wait_converged(r, timeout=60)
        for n in r.nodes:
            wait_quorum(r, n, voting, 30, "%s to vote again after trial %d" % (n.name, trial))
    print("survivors over 20 link cuts:", wins)

    # -- the witness alone unreachable: nothing changes but its status
    before = h.events(n1)[-1]["id"]
    w.cut()
    q = wait_quorum(r, n1, lambda q: q["witness"]["arbiter"]["health"] == "unreachable", 30, "witness unreachable")
    assert q["quorate"] and q["writable"] and q["witness"]["arbiter"]["last_error"], q
    wait_quorum(r, n1, lambda q: not voting(q) and q["quorate"], 30, "the vote to lapse, quorum kept")
    assert h.set_setting(n1, "user.witness-down", "1").ok
    assert not [e for e in h.events(n1, since=before) if e["kind"].startswith(("node.", "quorum.", "role."))]
    assert "Witness smb://" in h.clusterd_log(n1)
    w.restore()
    for n in r.nodes:
        wait_quorum(r, n, voting, 40, "%s to vote once the witness is back" % n.name)

    # -- reachable from one side only: that side survives a split
    w.block_from(n1)
    wait_quorum(r, n1, lambda q: not voting(q), 30, "n1's vote to lapse")
    r.partition([n1], [n2])
    assert assert_one_survivor(r, n1, n2, expect=n2) is n2
    r.heal()
    w.unblock(n1)
    h.wait_converged(r, timeout=60)
    for n in r.nodes:
        wait_quorum(r, n, voting, 40, "%s to vote after the one-sided test" % n.name)

    # -- junk in the share: never a vote on doubt
    obj = sorted(f for f in os.listdir(w.share_dir()) if f.startswith("clusterd-witness-t-"))[0].rsplit(".", 1)[0]
    junk = os.path.join(w.share_dir(), obj + ".999999999")
    with open(junk, "w") as f:
        f.write("not a witness record\n")
    q = wait_quorum(r, n1, lambda q: q["witness"]["arbiter"]["health"] == "corrupt", 30, "the junk to be noticed")
    assert "not a clusterd witness record" in q["witness"]["arbiter"]["last_error"], q
    wait_quorum(r, n1, lambda q: not voting(q), 30, "no vote while the witness holds junk")
    os.unlink(junk)
    wait_quorum(r, n1, voting, 40, "the vote back once the junk is gone")

    # -- wrong credentials: a clear error in status and logs
    assert h.ctl(n1, "quorum", "set", "--witness", "none").rc == 0
    for n in r.nodes:
        wait_quorum(r, n, lambda q: q["witness"]["witness"] == "none" and q["total_votes"] == 2, 30)
    w.write_credentials(n1, "smb", wrong=True)
    assert h.ctl(n1, "quorum", "set", "--witness", url).rc == 0
    q = wait_quorum(r, n1, lambda q: "wrong user name or password" in str(q["witness"].get("arbiter")), 30,
                    "the credential error in status")
    assert not voting(q)
    assert "wrong user name or password" in h.clusterd_log(n1)
    w.write_credentials(n1, "smb")


def record_position(w, cluster="t"):
    """(epoch, version) of the newest record of the cluster in the share."""
    best = None
    for f in os.listdir(w.share_dir()):
        if not f.startswith("clusterd-witness-%s-" % cluster):
            continue
        with open(os.path.join(w.share_dir(), f)) as fh:
            text = fh.read()
        if not text:
            continue  # abandoned by a writer that gave up
        gen = int(f.rsplit(".", 1)[1])
        if best is None or gen > best[0]:
            best = (gen, text)
    assert best, os.listdir(w.share_dir())
    line = [ln for ln in best[1].splitlines() if ln.startswith("position: ")][0]
    epoch, version = line.split()[1:3]
    return int(epoch), int(version)


def corosync_running(node):
    return bool(node.find_pids("corosync"))


@pytest.mark.skipif(_skip_reason("smb") is not None, reason=str(_skip_reason("smb")))
def test_clean_leave_lowers_the_majority_and_turns_the_witness_on(rig):
    """Dynamic quorum with the dynamic witness: 3 nodes and a witness that
    does not count (odd). n3 stops corosync cleanly: its vote goes, so 2
    voting nodes remain and the witness counts. Then n2 crashes: n1 goes on
    with the witness, which the static majority (2 of 3) would not allow.
    n3 started again takes its vote back."""
    r = rig(3)
    n1, n2, n3 = r.nodes
    w = rig_witness.WitnessHost(r)
    url = w.start_samba()
    for n in r.nodes:
        w.write_credentials(n, "smb")
    h.form(r)
    assert h.ctl(n1, "quorum", "set", "--witness", url).rc == 0
    q = wait_quorum(r, n1, lambda q: q["witness"].get("device_registered") and q["writable"], 40, "the witness set")
    assert q["witness"]["counts"] is False and q["witness"]["voting_nodes"] == 3, q
    assert (q["expected_votes"], q["quorum"]) == (3, 2), q

    # -- n3 leaves cleanly (how corosync.service stops)
    before = h.events(n1)[-1]["id"]
    n3.run(["corosync-cfgtool", "-H", "--force"])
    for n in (n1, n2):
        q = wait_quorum(r, n, lambda q: q["members"] == ["n1", "n2"] and q["witness"]["counts"] and voting(q), 40,
                        "%s: n3 gone, the witness counting" % n.name)
        assert q["witness"]["voting_nodes"] == 2 and q["quorate"] and q["writable"], q
        # 2 nodes and the witness: the majority is 2 of 3.
        wait_quorum(r, n, lambda q: (q["expected_votes"], q["total_votes"], q["quorum"]) == (3, 3, 2), 20,
                    "%s: expected votes 3 (n1, n2, the witness)" % n.name)
    node = h.nodes_by_name(h.status(n1))["n3"]
    assert node["state"] == "left" and node["vote_counts"] is False, node
    left = h.events(n1, kind="node.left", since=before)
    assert left and "n3" in left[-1]["message"] and "left cleanly" in left[-1]["message"], left
    conf = n1.read_file("/etc/corosync/corosync.conf")
    assert "quorum_votes: 0" in conf and "expected_votes: 3" in conf and "votes: 1" in conf, conf
    assert "recording that this node leaves" in h.clusterd_log(n3)
    # clusterd does not start a corosync that was stopped on purpose.
    time.sleep(3)
    assert not corosync_running(n3)

    # -- n2 crashes: n1 goes on with the witness (static quorum: 1 of 3)
    n2.kill9()
    q = wait_quorum(r, n1, lambda q: q["members"] == ["n1"] and q["writable"], 40, "n1 alone with the witness")
    assert q["total_votes"] == 2 and q["quorum"] == 2 and voting(q), q
    assert h.set_setting(n1, "user.last-man", "n1").ok

    # -- n3 comes back: it takes its vote back and catches up
    n3.run(["corosync"])
    q = wait_quorum(r, n1, lambda q: q["members"] == ["n1", "n3"] and q["writable"], 60, "n3 back")
    wait_until(lambda: h.nodes_by_name(h.status(n1))["n3"]["vote_counts"] is True, 30, 0.25, "n3's vote back")
    # n2 crashed, so its vote still counts: 3 voting nodes, the witness off.
    q = wait_quorum(r, n1, lambda q: q["witness"]["voting_nodes"] == 3 and not q["witness"]["counts"], 30,
                    "the witness off again")
    assert (q["expected_votes"], q["total_votes"], q["quorum"]) == (3, 2, 2), q
    assert h.events(n1, kind="node.vote-restored", since=before)
    wait_until(lambda: h.get_setting(n3, "user.last-man") == "n1", 30, 0.25, "n3 to catch up")
    assert "quorum_votes" not in n3.read_file("/etc/corosync/corosync.conf")


@pytest.mark.skipif(_skip_reason("smb") is not None, reason=str(_skip_reason("smb")))
def test_witness_bad_input(rig):
    r = rig(2)
    h.form(r)
    n1 = r.nodes[0]
    for url, words in [("ftp://host/share", "unknown scheme 'ftp'"),
                       ("s3://bucket", "S3 witnesses are not supported"),
                       ("smb://host", "has no share"),
                       ("smb://ho st/share", "the host"),
                       ("azure://UPPER/container", "storage account name"),
                       ("azure://acct/ab", "container name"),
                       ("azure://acct/cont?endpoint=ftp://x", "endpoint"),
                       ("witness", "is not a witness URL")]:
        res = h.ctl(n1, "quorum", "set", "--witness", url)
        assert res.rc == 1 and words in res.message, (url, res, res.message)
    h.assert_error(h.curl(n1, "/v1/quorum/witness", method="PUT", body='{"witness": 7}'), 400, "bad-request",
                   "witness")
    h.assert_error(h.curl(n1, "/v1/quorum/witness", method="PUT", body='{"url": "none"}'), 400, "bad-request",
                   "url")
    # Nothing was stored.
    assert quorum(n1)["witness"] == {"witness": "none"}
    # A credentials file others can read is refused, with the fix.
    w = rig_witness.WitnessHost(r)
    url = w.start_samba()
    n1.write_file(rig_witness.CREDENTIALS, w.credentials_text("smb"), mode=0o644)
    r.nodes[1].write_file(rig_witness.CREDENTIALS, w.credentials_text("smb"), mode=0o600)
    assert h.ctl(n1, "quorum", "set", "--witness", url).rc == 0
    q = wait_quorum(r, n1, lambda q: "readable only by root" in str(q["witness"]), 30, "the mode to be refused")
    assert not voting(q)


@pytest.mark.skipif(_skip_reason("azure") is not None, reason=str(_skip_reason("azure")))
def test_four_nodes_split_with_a_cloud_witness(rig):
    r = rig(4)
    w, url = setup_witness(r, "azure")
    n1, n2, n3, n4 = r.nodes
    assert quorum(n1)["witness"]["type"] == "azure"

    # 2|2: the holder's half keeps quorum, the other half does not.
    r.partition([n1, n2], [n3, n4])
    for n in (n1, n2):
        wait_quorum(r, n, lambda q: q["members"] == ["n1", "n2"] and q["writable"], 30, "%s quorate" % n.name)
    for n in (n3, n4):
        wait_quorum(r, n, lambda q: q["members"] == ["n3", "n4"] and not q["quorate"], 30, "%s not quorate" % n.name)
    time.sleep(8)  # longer than the lease: the other half never takes it
    for n in (n3, n4):
        assert not quorum(n)["quorate"]
    # The half lives on the witness's vote, so a write is acknowledged only
    # once the blob holds it, on the arbiter (n1) and on a member (n2): with
    # the witness slowed down, reading the blob right after each
    # acknowledgement shows it.
    w.proxy_mode("slow 600")
    blob = "clusterd-witness-t-" + h.status(n1)["uuid"]
    for i, n in enumerate((n1, n2, n1, n2)):
        before = h.status(n)["database"]["version"]
        assert h.set_setting(n, "user.half", "%s-%d" % (n.name, i)).ok
        held = int(re.search(r"^position: \d+ (\d+)$", w.azurite.get_blob(rig_witness.AZ_CONTAINER, blob),
                             re.M).group(1))
        assert held > before, "%s: acknowledged, but the blob holds version %d (the database was at %d)" % (
            n.name, held, before)
    w.proxy_mode("pass")
    r.heal()
    h.wait_converged(r, timeout=60)

    # Faults: each is reported; the cluster (all four nodes) stays quorate.
    for mode, health in [("slow 3000", "unreachable"), ("status 503", "failing"), ("readonly", "refused"),
                         ("drop", "unreachable")]:
        w.proxy_mode(mode)
        q = wait_quorum(r, n1, lambda q: q["witness"]["arbiter"]["health"] == health, 30, "health %s" % health)
        assert q["quorate"] and q["writable"] and q["witness"]["arbiter"]["last_error"], q
        print(mode, "->", q["witness"]["arbiter"]["last_error"])
        w.proxy_mode("pass")
        wait_quorum(r, n1, lambda q: q["witness"]["arbiter"]["health"] == "ok" and voting(q), 40, "healthy again")

    # A failing witness grants nothing: a 2|2 split then leaves no quorum.
    w.proxy_mode("status 503")
    for n in r.nodes:
        wait_quorum(r, n, lambda q: not voting(q), 30, "%s's vote to lapse" % n.name)
    r.partition([n1, n2], [n3, n4])
    for n in r.nodes:
        wait_quorum(r, n, lambda q: len(q["members"]) == 2 and not q["quorate"], 30, "%s not quorate" % n.name)
    w.proxy_mode("pass")
    for n in (n1, n2):
        wait_quorum(r, n, lambda q: q["writable"], 40, "%s quorate once the witness answers" % n.name)
    for n in (n3, n4):
        assert not quorum(n)["quorate"]
    r.heal()
    h.wait_converged(r, timeout=60)
