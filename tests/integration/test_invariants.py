# SPDX-License-Identifier: LGPL-2.1-or-later
"""Invariant 2 of DESIGN.md: a write that was acknowledged is never lost,
whatever fails afterwards.

Writer threads on every node run `clusterctl settings set user.k<T>-<I> v..`
continuously, each key written exactly once, while the test injects a
seeded, deterministic sequence of faults: kill -9 and reboot of a node, a
1|2 partition and its heal, SIGSTOP/SIGCONT of the leader, a pulled cable.
Every reply is recorded. At the end (everything healed, all nodes synced):

* every acknowledged write (exit 0) is on every node, with its value, and
  in the event log exactly once;
* every write refused with a code that promises "nothing was written"
  (no-quorum, unavailable, write-not-committed) is on no node and not in the
  event log;
* write-timeout, a killed or timed-out clusterctl: either way.

The seed is CLUSTERD_TEST_SEED (default below); it is printed, with the
fault plan, so a failure can be replayed.
"""

import os
import random
import threading
import time

import helpers as h

SEED = int(os.environ.get("CLUSTERD_TEST_SEED", "20261121"))
WRITERS_PER_NODE = 2
NOT_APPLIED = ("no-quorum", "unavailable", "write-not-committed")  # "nothing was written"
MAYBE = ("write-timeout",)  # "it may or may not have been applied"


class Ledger:
    """Every write attempt and what came back, shared by the writer threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.acked = {}  # key -> value
        self.not_applied = {}  # key -> code
        self.maybe = {}  # key -> why
        self.unexpected = []  # (key, node, Reply): error codes the API does not give for a write
        self.acked_at = []  # monotonic time of every ack, in order
        self.acked_on = []  # (node name, key, sent, answered): monotonic times

    def record(self, node, key, value, res, sent=None):
        """node: a Node or its name."""
        name = getattr(node, "name", node)
        answered = time.monotonic()
        with self.lock:
            if res.rc == 0:
                self.acked_on.append((name, key, sent if sent is not None else answered, answered))
                self.acked[key] = value
                self.acked_at.append(time.monotonic())
            elif res.rc == 1 and res.code in NOT_APPLIED:
                self.not_applied[key] = res.code
            elif res.rc == 1 and res.code in MAYBE:
                self.maybe[key] = res.code
            elif res.rc == 1 and res.code is None and "clusterd is not running" in res.stderr:
                self.not_applied[key] = "not-running"  # nothing reached clusterd
            elif res.rc is None and res.note and res.note.startswith("node down"):
                self.not_applied[key] = "node-down"  # nothing ran
            elif res.rc is None or res.rc < 0 or (res.rc == 1 and res.code is None):
                # Killed with its node, timed out, or the connection broke: unknown.
                self.maybe[key] = res.note or res.stderr.strip()[-200:] or "rc %s" % res.rc
            else:
                self.unexpected.append((key, name, res))

    def acks_since(self, t):
        with self.lock:
            return sum(1 for x in self.acked_at if x >= t)


def writer(node, tid, ledger, stop):
    i = 0
    while not stop.is_set():
        key, value = "user.k%d-%d" % (tid, i), "v%d-%d-%s" % (tid, i, node.name)
        i += 1
        if not node.alive():
            ledger.record(node, key, value, h.Reply(None, note="node down"))
            time.sleep(0.2)
            continue
        sent = time.monotonic()
        res = h.set_setting(node, key, value, timeout=45)
        ledger.record(node, key, value, res, sent)
        if res.rc != 0:
            time.sleep(0.1)  # a refusal comes back at once: do not spin


def verify(ledger, node_settings, node_events):
    """The problems a user would notice, as text lines (empty: all good).

    node_settings: {node: {key: value}} of user.* keys; node_events:
    {node: [event, ...]}."""
    problems = []
    for name, got in sorted(node_settings.items()):
        lost = sorted(k for k in ledger.acked if k not in got)
        wrong = sorted(k for k, v in ledger.acked.items() if k in got and got[k] != v)
        phantom = sorted(k for k in ledger.not_applied if k in got)
        if lost:
            problems.append("%s: %d acknowledged write(s) missing, e.g. %s" % (name, len(lost), lost[:5]))
        if wrong:
            problems.append("%s: %d acknowledged write(s) with another value, e.g. %s" % (
                name, len(wrong), [(k, ledger.acked[k], got[k]) for k in wrong[:5]]))
        if phantom:
            problems.append("%s: %d write(s) refused as not applied are present, e.g. %s" % (
                name, len(phantom), [(k, ledger.not_applied[k]) for k in phantom[:5]]))
    for name, evs in sorted(node_events.items()):
        count = {}
        for e in evs:
            if e["kind"] == "setting.set" and e["object"].startswith("user.k"):
                count[e["object"]] = count.get(e["object"], 0) + 1
        missing = sorted(k for k in ledger.acked if count.get(k, 0) != 1)
        phantom = sorted(k for k in ledger.not_applied if k in count)
        if missing:
            ids = [e["id"] for e in evs if "id" in e]
            problems.append("%s: %d acknowledged write(s) not in the event log exactly once, e.g. %s "
                            "(the log as read: %d events, ids %s..%s)" % (
                                name, len(missing), [(k, count.get(k, 0)) for k in missing[:5]], len(evs),
                                min(ids) if ids else "-", max(ids) if ids else "-"))
        if phantom:
            problems.append("%s: %d write(s) refused as not applied are in the event log, e.g. %s" % (
                name, len(phantom), phantom[:5]))
    return problems


def test_checker_catches_lost_and_phantom_writes():
    """The final check must be able to fail: a lost, changed or phantom
    write on any one node is reported."""
    ledger = Ledger()
    ok = h.Reply(0)
    ledger.record("n1", "user.k0-0", "a", ok)
    ledger.record("n1", "user.k0-1", "b", ok)
    ledger.record("n1", "user.k1-0", "c", h.Reply(1, stderr="clusterctl: membership changed (write-not-committed)\n"))
    ledger.record("n1", "user.k1-1", "d", h.Reply(1, stderr="clusterctl: not confirmed (write-timeout)\n"))
    ledger.record("n1", "user.k1-2", "e", h.Reply(-9))
    assert ledger.not_applied == {"user.k1-0": "write-not-committed"}
    assert set(ledger.maybe) == {"user.k1-1", "user.k1-2"}

    def ev(key):
        return {"kind": "setting.set", "object": key}

    good = {"user.k0-0": "a", "user.k0-1": "b", "user.k1-1": "d"}
    good_ev = [ev("user.k0-0"), ev("user.k0-1"), ev("user.k1-1")]
    assert verify(ledger, {"n1": good, "n2": good}, {"n1": good_ev, "n2": good_ev}) == []
    lost = dict(good)
    del lost["user.k0-1"]
    assert any("missing" in p for p in verify(ledger, {"n1": good, "n2": lost}, {"n1": good_ev}))
    assert any("another value" in p for p in verify(ledger, {"n1": dict(good, **{"user.k0-0": "x"})}, {}))
    assert any("refused" in p for p in verify(ledger, {"n1": dict(good, **{"user.k1-0": "c"})}, {}))
    assert any("event log" in p for p in verify(ledger, {}, {"n1": good_ev[1:]}))
    assert any("event log" in p for p in verify(ledger, {}, {"n1": good_ev + [ev("user.k0-0")]}))
    assert any("event log" in p for p in verify(ledger, {}, {"n1": good_ev + [ev("user.k1-0")]}))


def plan(rng, nodes):
    """The fault sequence: (kind, node name, hold seconds). The four kinds in
    a fixed order, then three more drawn at random (power loss of every node
    at once among them)."""
    kinds = ["kill9", "partition", "sigstop-leader", "cut-link"]
    kinds += [rng.choice(kinds + ["power-loss"]) for _ in range(3)]
    out = []
    for k in kinds:
        target = None if k in ("sigstop-leader", "power-loss") else rng.choice(nodes)
        out.append((k, target, round(rng.uniform(4.0, 6.0), 1)))
    return out


def _recover_and_progress(r, ledger, timeout=60):
    """Waits until all nodes are synced and quorate with all members and
    writes are acknowledged again after the fault ended."""
    r.wait_synced(members=[n.name for n in r.nodes], timeout=timeout)
    t = time.monotonic()
    h.wait_until(lambda: ledger.acks_since(t) >= 3, timeout, 0.2,
                 "writes to be acknowledged again after the fault (%d acked in all so far)" % len(ledger.acked))


def test_acknowledged_writes_survive_faults(rig3):
    r = rig3
    h.form(r)
    rng = random.Random(SEED)
    faults = plan(rng, [n.name for n in r.nodes])
    print("seed %d, faults: %s" % (SEED, faults))

    ledger = Ledger()
    isolated = []  # (node name, from, to): the node was cut off from the others
    stop = threading.Event()
    threads = []
    tid = 0
    for n in r.nodes:
        for _ in range(WRITERS_PER_NODE):
            t = threading.Thread(target=writer, args=(n, tid, ledger, stop), name="writer-%d-%s" % (tid, n.name),
                                 daemon=True)
            threads.append(t)
            tid += 1
    t_start = time.monotonic()
    for t in threads:
        t.start()
    try:
        h.wait_until(lambda: len(ledger.acked) >= 20, 30, 0.2, "the writers to get going")
        for kind, target, hold in faults:
            t0 = time.monotonic()
            acked0 = len(ledger.acked)
            if kind == "kill9":
                node = r[target]
                node.kill9()
                time.sleep(hold)
                node.restart()
            elif kind == "partition":
                r.partition([target])
                t_cut = time.monotonic()
                time.sleep(hold)
                isolated.append((target, t_cut, time.monotonic()))
                r.heal()
            elif kind == "sigstop-leader":
                node = h.leader_of(r)
                target = node.name
                node.sigstop()
                time.sleep(hold)
                node.sigcont()
            elif kind == "power-loss":
                # Every node at once: what was acknowledged is on disk.
                for n in r.nodes:
                    n.kill9()
                time.sleep(hold / 4)
                for n in r.nodes:
                    n.restart()
            elif kind == "cut-link":
                node = r[target]
                node.cut_link()
                t_cut = time.monotonic()
                time.sleep(hold)
                isolated.append((target, t_cut, time.monotonic()))
                node.restore_link()
            _recover_and_progress(r, ledger)
            print("fault %-14s %s for %.1fs: %d acked during it and the recovery, %.1fs in all" % (
                kind, target, hold, len(ledger.acked) - acked0, time.monotonic() - t0))
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        # Whatever happened above: power on, thaw and reconnect everything.
        r.heal()
        for n in r.nodes:
            if n.alive():
                n.sigcont()
            else:
                n.restart()
    print("writers ran %.1fs: %d acknowledged, %d not applied %s, %d either way" % (
        time.monotonic() - t_start, len(ledger.acked), len(ledger.not_applied),
        sorted(set(ledger.not_applied.values())), len(ledger.maybe)))

    assert not [t.name for t in threads if t.is_alive()], "writer threads hang"
    assert not ledger.unexpected, "writes failed in ways the API does not document: %s" % ledger.unexpected[:5]
    common = h.wait_converged(r, timeout=60)
    node_settings = {n.name: h.user_settings(n) for n in r.nodes}
    node_events = {n.name: h.events(n) for n in r.nodes}
    problems = verify(ledger, node_settings, node_events)
    # Invariant 3: a node cut off from the others is not quorate, so no write
    # sent to it after the cut and answered before the heal can succeed.
    for name, t_from, t_to in isolated:
        wrong = [key for node, key, sent, answered in ledger.acked_on
                 if node == name and sent > t_from and answered < t_to]
        if wrong:
            problems.append("%s acknowledged %d write(s) while it was cut off from the others, e.g. %s" % (
                name, len(wrong), wrong[:5]))
    assert not problems, "\n".join(problems)
    # Sanity: the run did write a lot, and the cluster agrees on one state.
    assert len(ledger.acked) >= 200, len(ledger.acked)
    assert all(s == common["settings"] for s in
               ({k: v for k, v in h.settings_map(n).items()} for n in r.nodes))
