#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""clusterd's failover benchmark on a 3-node rig.

Kills every process of the node that runs a role (kill -9, the node's link
goes down) and measures, per trial:

  detection  kill -> the survivors' corosync formed the new membership (the
             first survivor's clusterd log line "... left corosync's
             membership"): corosync's own timing;
  recovery   new membership -> the role reported running on another node
             (the "running" status event, stamped by the node that started
             it): clusterd's fencing wait, placement and the agent's start.

Both come from the same host clock. Half the trials kill the leader. Runs
for the default corosync token (3000 ms) and for token 1000, with fencing by
a fence agent that confirms at once (fence-agents' fence_dummy) and by the
watchdog alone (deadline = watchdog timeout + fencing.watchdog-margin). The
role is a dummy resource; a short VM series reports the VM's own start time
separately. Also runs placebench (8,000 VMs over 64 nodes).

Prints a table and writes JSON (default bench-results/failover.json). Not
part of the test pass/fail.

    scripts/bench --failover [--trials 10]
"""

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rig as R  # noqa: E402
from helpers import events, leader_of, ok  # noqa: E402
from roles import dummy_role, qemu_vms, vm_role, wait_running  # noqa: E402

LEFT = re.compile(r"^(\w{3} +\d+ [\d:.]+) clusterd\[\d+\] notice: Node '(\w+)' \(id \d+\) left corosync's membership")
STARTED = re.compile(r"^(\w{3} +\d+ [\d:.]+) clusterd\[\d+\] notice: Role '(\S+)': announcing -> starting")
RUNNING = re.compile(r"^(\w{3} +\d+ [\d:.]+) clusterd\[\d+\] notice: Role '(\S+)': starting -> running")


def log_time(stamp):
    year = datetime.datetime.now().year
    t = datetime.datetime.strptime("%d %s" % (year, stamp), "%Y %b %d %H:%M:%S.%f")
    return t.timestamp()


def log_lines(node):
    try:
        with open(os.path.join(node.log_dir, "clusterd.log"), errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def membership_change(rig, victim, after):
    """When the first survivor saw victim leave, from the clusterd logs."""
    times = []
    for n in rig.nodes:
        if n.name == victim:
            continue
        for line in log_lines(n):
            m = LEFT.match(line)
            if m and m.group(2) == victim:
                t = log_time(m.group(1))
                if t >= after - 0.5:
                    times.append(t)
    return min(times) if times else None


def running_event(node, name, victim, since):
    for e in events(node, "role.status", since=since):
        if e["object"] == name and "is running on node" in e["message"] and victim not in e["message"]:
            return datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
    return None


def agent_start_seconds(rig, name, after):
    """The role's start on its new node, from its executor's log."""
    for n in rig.nodes:
        start = None
        for line in log_lines(n):
            m = STARTED.match(line) or RUNNING.match(line)
            if not m or m.group(2) != name or log_time(m.group(1)) < after:
                continue
            if "announcing -> starting" in line:
                start = log_time(m.group(1))
            elif start is not None:
                return log_time(m.group(1)) - start
    return None


def put_role_on(rig, n1, name, target):
    r = ok(n1, "role", "show", name)
    if r["active_node"] != target:
        ok(n1, "role", "move", name, "--to", target)
    wait_running(n1, [name], 60, where=target)


def series(rig, trials, name, fence_agent, vm=False):
    """trials kills of the node running role `name`; half of them the leader."""
    out = []
    for i in range(trials):
        leader = leader_of(rig)
        others = [n for n in rig.nodes if n is not leader]
        victim = leader if i % 2 == 0 else others[i % len(others)]
        helper = next(n for n in rig.nodes if n is not victim)
        put_role_on(rig, helper, name, victim.name)
        if vm:
            R.wait_until(lambda: qemu_vms(victim).get(name), 30, 0.1, "the VM's QEMU")
        if fence_agent:
            for n in rig.nodes:
                ok(helper, "node", "fencing", n.name, "fence_dummy")
        since = events(helper)[-1]["id"]
        time.sleep(1.0)
        t_kill = time.time()
        victim.kill9()
        wait_running(helper, [name], 120, not_on=victim.name)
        t_change = R.wait_until(lambda: membership_change(rig, victim.name, t_kill), 30, 0.1, "the membership change")
        t_running = running_event(helper, name, victim.name, since)
        trial = {
            "victim": victim.name,
            "leader_killed": victim is leader,
            "detection_s": round(t_change - t_kill, 4),
            "recovery_s": round(t_running - t_change, 4) if t_running else None,
            "total_s": round(t_running - t_kill, 4) if t_running else None,
        }
        if vm:
            trial["vm_start_s"] = agent_start_seconds(rig, name, t_change)
        out.append(trial)
        print("    trial %2d: killed %s%s: detection %.3f s, recovery %s s" % (
            i + 1, victim.name, " (leader)" if victim is leader else "", trial["detection_s"],
            "%.3f" % trial["recovery_s"] if trial["recovery_s"] is not None else "?"), flush=True)
        victim.restart()
        rig.wait_synced(timeout=90)
    return out


def pct(values, p):
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    k = (len(values) - 1) * p / 100.0
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def summarize(trials, key):
    vals = [t[key] for t in trials if t.get(key) is not None]
    return {"p50": pct(vals, 50), "p95": pct(vals, 95), "n": len(vals)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--vm-trials", type=int, default=3)
    ap.add_argument("--tokens", default="3000,1000")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "bench-results", "failover.json"))
    ap.add_argument("--builddir", default=os.environ.get("CLUSTERD_BUILDDIR",
                                                         os.path.abspath(os.path.join(HERE, "..", ".."))))
    args = ap.parse_args()

    results = {"machine": {"host": platform.node(), "cpus": os.cpu_count()}, "runs": []}
    for token in [int(t) for t in args.tokens.split(",")]:
        for mode in ("fence-agent", "watchdog"):
            print("token %d ms, fencing by %s" % (token, mode), flush=True)
            with R.Rig(nodes=3, builddir=args.builddir) as rig:
                rig.create_cluster("bench", token_ms=token, timeout=90)
                n1 = rig.nodes[0]
                dummy_role(n1, "bench")
                wait_running(n1, ["bench"], 60)
                trials = series(rig, args.trials, "bench", mode == "fence-agent")
                run = {"token_ms": token, "fencing": mode, "role": "dummy", "trials": trials,
                       "detection": summarize(trials, "detection_s"), "recovery": summarize(trials, "recovery_s"),
                       "total": summarize(trials, "total_s")}
                if mode == "watchdog":
                    run["watchdog_deadline_s"] = 5.0 + 1.0  # rig watchdog timeout + default margin
                results["runs"].append(run)
                if mode == "fence-agent" and token == 1000 and args.vm_trials:
                    print("token %d ms, fencing by fence agent, a VM role" % token, flush=True)
                    vm_role(rig, n1, "benchvm")
                    wait_running(n1, ["benchvm"], 60)
                    ok(n1, "role", "stop", "bench")
                    vt = series(rig, args.vm_trials, "benchvm", True, vm=True)
                    results["runs"].append({"token_ms": token, "fencing": mode, "role": "vm", "trials": vt,
                                            "detection": summarize(vt, "detection_s"),
                                            "recovery": summarize(vt, "recovery_s"),
                                            "vm_start": summarize(vt, "vm_start_s")})

    pb = os.path.join(args.builddir, "tests", "bench", "placebench")
    if os.access(pb, os.X_OK):
        cp = subprocess.run([pb], capture_output=True, text=True, timeout=300)
        results["placement"] = json.loads(cp.stdout.strip().splitlines()[-1])

    print()
    print("%-34s %10s %10s %10s %10s %8s" % ("run", "detect p50", "detect p95", "recov p50", "recov p95", "target"))
    for run in results["runs"]:
        label = "token %d, %s, %s" % (run["token_ms"], run["fencing"], run["role"])
        d, r = run["detection"], run["recovery"]
        if run["fencing"] == "fence-agent":
            target = "<= 0.300"
            okay = r["p50"] is not None and r["p50"] <= 0.3
        else:
            target = "<= %.3f" % (run["watchdog_deadline_s"] + 0.3)
            okay = r["p50"] is not None and r["p50"] <= run["watchdog_deadline_s"] + 0.3
        if run["role"] == "vm":
            target, okay = "-", True
        print("%-34s %10.3f %10.3f %10.3f %10.3f %8s %s" % (label, d["p50"], d["p95"], r["p50"], r["p95"], target,
                                                             "ok" if okay else "MISSED"))
        if run["role"] == "vm" and run["vm_start"]["p50"] is not None:
            print("%-34s %10s %10s %10.3f %10.3f" % ("  of which the VM's own start", "", "", run["vm_start"]["p50"],
                                                     run["vm_start"]["p95"]))
    if "placement" in results:
        p = results["placement"]
        print("placement of %d VMs over %d nodes: p50 %.1f ms, max %.1f ms (target <= 100 ms) %s" % (
            p["roles"], p["nodes"], p["p50_ms"], p["max_ms"], "ok" if p["p50_ms"] <= 100 else "MISSED"))
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1)
    print("wrote %s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
