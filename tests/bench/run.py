#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""clusterd's foundation benchmarks on a 3-node rig.

Measures, on one rig in one run (so that the numbers can be compared with
each other on a shared, noisy machine):

  - the raw CPG round trip (tests/bench/cpgbench: multicast, then an echo
    from every other member), one at a time and with many in flight;
  - replicated writes through the REST API (PUT /v1/settings/user.*), one
    at a time (latency) and with many clients (throughput);
  - REST reads (GET) over the local socket and over HTTPS with a token;
  - clusterd's resident memory on every node when idle.

Prints a table and writes JSON (default bench-results/foundation.json).
Not part of the test pass/fail: the targets are reported, not asserted.

    scripts/bench [--seconds 5] [--out FILE]
"""

import argparse
import json
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import rig as R  # noqa: E402

TARGETS = {
    "write_p50_ms": 2.0,
    "write_per_second": 2000,
    "write_vs_cpg_ratio": 0.5,
    "get_per_second": 10000,
    "rss_idle_mib": 20,
}
SOCKET = "/run/clusterd/clusterd.sock"


def tool(builddir, name):
    return os.path.join(builddir, "tests", "bench", name)


def run_json(node, cmd, timeout):
    cp = node.run(cmd, timeout=timeout)
    return json.loads(cp.stdout.strip().splitlines()[-1])


def cpg_round_trips(rig, builddir, seconds, concurrencies):
    n1, others = rig.nodes[0], rig.nodes[1:]
    echoers = [n.spawn([tool(builddir, "cpgbench"), "echo"], "/var/log/clusterd/cpgbench.log") for n in others]
    try:
        time.sleep(1)
        out = {}
        for c in concurrencies:
            out[c] = run_json(n1, [tool(builddir, "cpgbench"), "drive", "--members", str(len(rig.nodes)),
                                   "--concurrency", str(c), "--seconds", str(seconds)], seconds + 60)
        return out
    finally:
        for e in echoers:
            e.terminate()
        for e in echoers:
            try:
                e.wait(timeout=5)
            except Exception:
                e.kill()


def http(node, builddir, seconds, method, path, concurrency, https=None):
    cmd = [tool(builddir, "httpbench"), "--method", method, "--path", path,
           "--concurrency", str(concurrency), "--seconds", str(seconds)]
    if https:
        cmd += ["--base", https["base"], "--token", https["token"], "--cacert", https["cacert"]]
    else:
        cmd += ["--unix", SOCKET]
    return run_json(node, cmd, seconds + 60)


def rss_mib(node):
    pids = node.find_pids("clusterd")
    if not pids:
        return None
    status = node.read_file("/proc/%d/status" % pids[0])
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return None


def row(name, value, unit, target=None, ok=None):
    t = "" if target is None else target
    verdict = "" if ok is None else ("ok" if ok else "MISSED")
    return (name, value, unit, t, verdict)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=5.0, help="duration of each measurement")
    ap.add_argument("--out", default=os.path.join(HERE, "..", "..", "bench-results", "foundation.json"))
    ap.add_argument("--builddir", default=os.environ.get("CLUSTERD_BUILDDIR",
                                                         os.path.abspath(os.path.join(HERE, "..", ".."))))
    ap.add_argument("--concurrency", type=int, default=32, help="clients for the throughput runs")
    args = ap.parse_args()
    s, conc = args.seconds, args.concurrency

    R.sweep_stale()
    rig = R.Rig(nodes=3, builddir=args.builddir)
    results = {}
    try:
        for n in rig.nodes:
            n.start_clusterd(config={"log": {"level": "info"}})
        rig.create_cluster(name="bench", token_ms=1000)
        n1 = rig.nodes[0]
        secret = n1.clusterctl("token", "create", "bench")["secret"]
        https = {"base": "https://%s:7440" % n1.address, "token": secret, "cacert": "/var/lib/clusterd/pki/ca.crt"}

        time.sleep(5)  # settle, then measure idle memory before any load
        results["rss_idle_mib"] = {n.name: rss_mib(n) for n in rig.nodes}

        cpg = cpg_round_trips(rig, args.builddir, s, [1, conc])
        results["cpg_rtt"] = cpg[1]
        results["cpg_throughput"] = cpg[conc]

        results["write_latency"] = http(n1, args.builddir, s, "PUT", "/v1/settings/user.bench-%c", 1)
        results["write_throughput"] = http(n1, args.builddir, s, "PUT", "/v1/settings/user.bench-%c", conc)
        results["get_setting_unix"] = http(n1, args.builddir, s, "GET", "/v1/settings/cluster.description", 8)
        results["get_setting_https"] = http(n1, args.builddir, s, "GET", "/v1/settings/cluster.description", 8,
                                            https)
        results["get_cluster_unix"] = http(n1, args.builddir, s, "GET", "/v1/cluster", 8)
        results["rss_after_load_mib"] = {n.name: rss_mib(n) for n in rig.nodes}
        versions = {n.name: n.clusterctl("status")["database"]["version"] for n in rig.nodes}
        results["versions_after"] = versions
    finally:
        rig.cleanup()

    wl, wt, ct = results["write_latency"], results["write_throughput"], results["cpg_throughput"]
    ratio = wt["per_second"] / ct["per_second"] if ct["per_second"] else 0
    get_best = max(results["get_setting_unix"]["per_second"], results["get_setting_https"]["per_second"])
    rss_max = max(v for v in results["rss_idle_mib"].values() if v is not None)
    rows = [
        row("raw CPG round trip p50 (1 in flight)", "%.3f" % (results["cpg_rtt"]["p50_usec"] / 1000), "ms"),
        row("raw CPG round trip p99 (1 in flight)", "%.3f" % (results["cpg_rtt"]["p99_usec"] / 1000), "ms"),
        row("raw CPG round trips/s (%d in flight)" % conc, "%.0f" % ct["per_second"], "/s"),
        row("write p50 (1 client)", "%.3f" % (wl["p50_usec"] / 1000), "ms", "<= 2",
            wl["p50_usec"] / 1000 <= TARGETS["write_p50_ms"]),
        row("write p99 (1 client)", "%.3f" % (wl["p99_usec"] / 1000), "ms"),
        row("writes/s (%d clients)" % conc, "%.0f" % wt["per_second"], "/s", ">= 2000",
            wt["per_second"] >= TARGETS["write_per_second"]),
        row("write p50 / p99 (%d clients)" % conc, "%.2f / %.2f" % (wt["p50_usec"] / 1000, wt["p99_usec"] / 1000),
            "ms"),
        row("writes vs raw CPG throughput", "%.0f%%" % (ratio * 100), "", ">= 50%",
            ratio >= TARGETS["write_vs_cpg_ratio"]),
        row("GET setting, local socket (8 clients)", "%.0f" % results["get_setting_unix"]["per_second"], "/s",
            ">= 10000", results["get_setting_unix"]["per_second"] >= TARGETS["get_per_second"]),
        row("GET setting, HTTPS + token (8 clients)", "%.0f" % results["get_setting_https"]["per_second"], "/s"),
        row("GET /v1/cluster, local socket (8 clients)", "%.0f" % results["get_cluster_unix"]["per_second"], "/s"),
        row("clusterd RSS idle (max of 3 nodes)", "%.1f" % rss_max, "MiB", "<= 20",
            rss_max <= TARGETS["rss_idle_mib"]),
        row("clusterd RSS after the load (max)",
            "%.1f" % max(v for v in results["rss_after_load_mib"].values() if v is not None), "MiB"),
    ]
    errors = sum(results[k]["errors"] for k in results if isinstance(results[k], dict) and "errors" in results[k])

    widths = [max(len(str(r[i])) for r in rows + [("measure", "value", "unit", "target", "")]) for i in range(5)]
    print()
    print("clusterd foundation benchmarks: 3-node rig on %s, %d cores, %.0fs per measurement"
          % (platform.node(), os.cpu_count(), s))
    hdr = ("measure", "value", "unit", "target", "")
    print("  ".join(str(h).ljust(w) for h, w in zip(hdr, widths)).rstrip())
    for r in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    print("request errors during the runs: %d; database versions after: %s" % (errors, results["versions_after"]))

    out = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"host": platform.node(), "cores": os.cpu_count(), "kernel": platform.release()},
        "seconds_per_measurement": s,
        "concurrency": conc,
        "targets": TARGETS,
        "results": results,
        "summary": {
            "write_p50_ms": wl["p50_usec"] / 1000,
            "write_p99_ms": wl["p99_usec"] / 1000,
            "write_per_second": wt["per_second"],
            "cpg_rtt_p50_ms": results["cpg_rtt"]["p50_usec"] / 1000,
            "cpg_per_second": ct["per_second"],
            "write_vs_cpg_ratio": ratio,
            "get_per_second": get_best,
            "rss_idle_mib_max": rss_max,
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print("wrote %s" % os.path.abspath(args.out))


if __name__ == "__main__":
    main()
