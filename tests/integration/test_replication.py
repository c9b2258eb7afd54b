# SPDX-License-Identifier: LGPL-2.1-or-later
"""Replication as users see it: a write acknowledged by one node is on every
node the moment the acknowledgement arrives, and concurrent writes through
all nodes end in one identical state everywhere."""

import concurrent.futures
import time

import helpers as h


def test_write_is_readable_everywhere_when_it_returns(rig3):
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes

    # A user.* key set through n2 is on n1 and n3 right away (no waiting).
    res = h.set_setting(n2, "user.greeting", "hello world")
    assert res.ok, res
    assert res.data["key"] == "user.greeting" and res.data["value"] == "hello world"
    for n in r.nodes:
        assert h.get_setting(n, "user.greeting") == "hello world", n.name
        shown = h.ok(n, "settings", "get", "user.greeting")
        assert shown["updated_by"] == "local:root" and shown["is_default"] is False

    # A built-in setting through n3, in the type it has.
    assert h.set_setting(n3, "events.max-entries", "2000").ok
    assert h.set_setting(n1, "cluster.description", "lab cluster").ok
    for n in r.nodes:
        assert h.ok(n, "settings", "get", "events.max-entries")["value"] == 2000
        assert h.get_setting(n, "cluster.description") == "lab cluster"
        assert h.status(n)["description"] == "lab cluster"

    # Overwrite and remove: gone everywhere at once.
    assert h.set_setting(n1, "user.greeting", "bye").ok
    assert [h.get_setting(n, "user.greeting") for n in r.nodes] == ["bye"] * 3
    assert h.ctl(n3, "settings", "unset", "user.greeting").ok
    for n in r.nodes:
        res = h.ctl(n, "settings", "get", "user.greeting")
        assert res.rc == 1 and res.code == "not-found", (n.name, res)
        assert "user.greeting" not in h.user_settings(n)
    # Back to the default.
    assert h.ctl(n2, "settings", "unset", "events.max-entries").ok
    for n in r.nodes:
        s = h.ok(n, "settings", "get", "events.max-entries")
        assert s["value"] == 10000 and s["is_default"] is True

    # A token made through n2 is listed everywhere and opens the HTTPS API of
    # n1 and n3 at once; deleted through n3, it stops working everywhere.
    made = h.ok(n2, "token", "create", "automation")
    secret = made["secret"]
    for n in r.nodes:
        assert h.tokens(n) == ["automation"], n.name
    for n in (n1, n3):
        rep = h.curl(n, "/v1/cluster", tcp=True, token=secret)
        assert rep.status == 200 and rep.json["node"]["name"] == n.name, rep
    assert h.ok(n3, "token", "delete", "automation")
    for n in r.nodes:
        assert h.tokens(n) == []
        rep = h.curl(n, "/v1/cluster", tcp=True, token=secret)
        h.assert_error(rep, 401, "unauthorized")

    # Each write left its event, on every node, right when it returned.
    kinds = [(e["kind"], e["object"]) for e in h.events(n1) if e["kind"].startswith(("setting.", "token."))]
    assert kinds == [
        ("setting.set", "user.greeting"), ("setting.set", "events.max-entries"),
        ("setting.set", "cluster.description"), ("setting.set", "user.greeting"),
        ("setting.unset", "user.greeting"), ("setting.unset", "events.max-entries"),
        ("token.created", "automation"), ("token.deleted", "automation"),
    ], kinds
    evs = [h.events(n) for n in r.nodes]
    assert evs[0] == evs[1] == evs[2]
    h.wait_converged(r)

    # Paging through the log from its start: `--since 0` means "after id 0",
    # i.e. the oldest events first (docs/clusterctl.md: "only events after
    # this id"); without --since, the newest.
    assert len(evs[0]) > 5
    oldest = h.ok(n2, "events", "--since", "0", "--limit", "3")["events"]
    assert [e["id"] for e in oldest] == [e["id"] for e in evs[0][:3]], \
        "`events --since 0 --limit 3` gave %s, not the oldest three" % [e["id"] for e in oldest]
    newest = h.ok(n2, "events", "--limit", "3")["events"]
    assert [e["id"] for e in newest] == [e["id"] for e in evs[0][-3:]]


def test_concurrent_writes_from_every_node_end_identical(rig3):
    r = rig3
    h.form(r)
    before = h.status(r.nodes[0])["database"]["version"]
    writes = 200
    threads_per_node = 2
    jobs = []  # (node, key, value)
    for i in range(writes):
        node = r.nodes[i % 3]
        jobs.append((node, "user.c%03d" % i, "v%d-from-%s" % (i, node.name)))
    # One key that every node writes, many times: they must agree on the last.
    for i in range(30):
        node = r.nodes[i % 3]
        jobs.append((node, "user.contended", "w%02d-%s" % (i, node.name)))

    per_node = {n.name: [j for j in jobs if j[0] is n] for n in r.nodes}
    results = []

    def worker(node, share):
        out = []
        for _, key, value in share:
            out.append((key, value, h.set_setting(node, key, value)))
        return out

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=3 * threads_per_node) as ex:
        futs = []
        for n in r.nodes:
            mine = per_node[n.name]
            for t in range(threads_per_node):
                futs.append(ex.submit(worker, n, mine[t::threads_per_node]))
        for f in futs:
            results += f.result()
    took = time.monotonic() - t0
    print("timing: %d writes from 3 nodes x %d threads in %.1fs" % (len(jobs), threads_per_node, took))

    failed = [(k, v, res) for k, v, res in results if not res.ok]
    assert not failed, "writes failed on a healthy cluster: %s" % failed[:5]

    common = h.wait_converged(r, timeout=30)
    assert common["version"] >= before + len(jobs)
    for n in r.nodes:
        got = h.user_settings(n)
        for i in range(writes):
            key = "user.c%03d" % i
            assert got.get(key) == "v%d-from-%s" % (i, r.nodes[i % 3].name), (n.name, key, got.get(key))
    # Every write is in the log once, and the contended key ends with the
    # value of its last change there.
    evs = common["events"]
    sets = [e for e in evs if e["kind"] == "setting.set"]
    assert len(sets) == len(jobs), len(sets)
    assert sorted(e["object"] for e in sets if e["object"] != "user.contended") == sorted(
        "user.c%03d" % i for i in range(writes))
    last = [e for e in sets if e["object"] == "user.contended"][-1]
    final = common["settings"]["user.contended"]
    assert final in {v for _, k, v in jobs if k == "user.contended"}
    assert "'%s'" % final in last["message"], (final, last)
    # Each origin node is recorded as the node the change came through.
    by_key = {e["object"]: e["node"] for e in sets if e["object"] != "user.contended"}
    for i in range(writes):
        assert by_key["user.c%03d" % i] == r.nodes[i % 3].name
