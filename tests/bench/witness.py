#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The witness benchmark: a 2-node rig with a witness (a Samba share, then
Azurite), measuring per trial the time from a fault to the surviving
partition being quorate and writable on its own:

  link cut     the link between the nodes is cut (nftables): the partition
               that holds the witness keeps it, so this is corosync's
               detection plus the new membership's sync with the device's
               poll;
  holder lost  the holder's node is killed (kill -9, link down): the other
               node waits out the lease (6 s by default, plus 2 % and
               0.1 s) after its first read of the last renewal, then takes
               the witness.

and the time a write takes (`clusterctl settings set`, from the host, so
with the tool's start-up) with both nodes up, then on a node left alone,
whose writes are acknowledged only once the witness record holds them
(commit coupling): the difference is what coupling costs.

Times are taken on the host by polling `clusterctl quorum show` on the
survivor every 50 ms. Prints a table and writes JSON (default
bench-results/witness.json). Not part of the test pass/fail.

    scripts/bench --witness [--trials 8] [--kills 3]
"""

import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import rig as R  # noqa: E402
import rig_witness  # noqa: E402
import witness_azure  # noqa: E402
from failover import pct  # noqa: E402
from helpers import ctl, set_setting, wait_converged  # noqa: E402
from rig_host import Pending, wait_until  # noqa: E402


def quorum(node):
    r = ctl(node, "quorum", "show", timeout=10)
    return r.data if r.rc == 0 and r.data else None


def alone_writable(node):
    q = quorum(node)
    return bool(q and q["members"] == [node.name] and q["writable"])


def voting_everywhere(rig):
    for n in rig.nodes:
        q = quorum(n)
        if not q or not q.get("witness", {}).get("vote") or not q["writable"]:
            return Pending(n.name)
    return True


def time_until(pred, start, timeout=60):
    deadline = start + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def summarize(vals):
    return {"p50": pct(vals, 50), "p95": pct(vals, 95), "n": len([v for v in vals if v is not None]),
            "values": vals}


def time_writes(node, count, tag):
    out = []
    for i in range(count):
        t0 = time.monotonic()
        ok = set_setting(node, "user.bench", "%s-%d" % (tag, i)).ok
        out.append(time.monotonic() - t0 if ok else None)
    return out


def run_kind(kind, args):
    print("witness %s" % kind, flush=True)
    with R.Rig(nodes=2, builddir=args.builddir) as rig:
        w = rig_witness.WitnessHost(rig)
        url = w.start_samba() if kind == "smb" else w.start_azurite()
        for n in rig.nodes:
            w.write_credentials(n, kind)
        rig.create_cluster("bench", token_ms=args.token, timeout=90)
        n1, n2 = rig.nodes
        assert ctl(n1, "quorum", "set", "--witness", url).rc == 0
        wait_until(lambda: voting_everywhere(rig), 60, 0.25, "both nodes to cast the witness vote")

        link = []
        for i in range(args.trials):
            time.sleep(1.0)
            t0 = time.monotonic()
            rig.partition([n1], [n2])
            # The holder (the leader, n1) keeps the witness.
            t = time_until(lambda: alone_writable(n1), t0)
            link.append(t)
            print("  link cut %d: n1 quorate alone after %s s" % (i + 1, "%.3f" % t if t else "?"), flush=True)
            rig.heal()
            wait_converged(rig, timeout=90)
            wait_until(lambda: voting_everywhere(rig), 60, 0.25, "the vote back on both nodes")

        kills = []
        for i in range(args.kills):
            time.sleep(1.0)
            t0 = time.monotonic()
            n1.kill9()
            t = time_until(lambda: alone_writable(n2), t0, timeout=90)
            kills.append(t)
            print("  holder lost %d: n2 quorate alone after %s s" % (i + 1, "%.3f" % t if t else "?"), flush=True)
            n1.boot()
            n1.start_clusterd()
            wait_converged(rig, timeout=90)
            wait_until(lambda: voting_everywhere(rig), 60, 0.25, "the vote back on both nodes")
        both = time_writes(n1, args.writes, "both")
        n2.kill9()
        wait_until(lambda: alone_writable(n1), 60, 0.05, "n1 alone and writable")
        alone = time_writes(n1, args.writes, "alone")
        print("  writes: p50 %s s with both nodes, %s s alone with the witness" % (pct(both, 50), pct(alone, 50)),
              flush=True)
        w.stop()
        return {"witness": kind, "token_ms": args.token, "link_cut": summarize(link),
                "holder_lost": summarize(kills), "write_both": summarize(both), "write_alone": summarize(alone)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=8)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--writes", type=int, default=20)
    ap.add_argument("--token", type=int, default=1000)
    ap.add_argument("--kinds", default="smb,azure")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "bench-results", "witness.json"))
    ap.add_argument("--builddir", default=os.environ.get("CLUSTERD_BUILDDIR",
                                                         os.path.abspath(os.path.join(HERE, "..", ".."))))
    args = ap.parse_args()

    results = {"machine": {"host": platform.node(), "cpus": os.cpu_count()}, "runs": []}
    for kind in args.kinds.split(","):
        if kind == "azure" and witness_azure.azurite_missing():
            print("skipping azure: %s" % witness_azure.azurite_missing())
            continue
        results["runs"].append(run_kind(kind, args))

    print()
    print("%-8s %-12s %8s %8s %8s %4s" % ("witness", "fault", "p50 s", "p95 s", "max s", "n"))
    for run in results["runs"]:
        for key, label in (("link_cut", "link cut"), ("holder_lost", "holder lost"), ("write_both", "write, 2 up"),
                           ("write_alone", "write, alone")):
            s = run[key]
            vals = [v for v in s["values"] if v is not None]
            fmt = lambda v: "%8.3f" % v if v is not None else "%8s" % "-"  # noqa: E731
            print("%-8s %-12s %s %s %s %4d" % (run["witness"], label, fmt(s["p50"]), fmt(s["p95"]),
                                               fmt(max(vals) if vals else None), s["n"]))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print("wrote %s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
