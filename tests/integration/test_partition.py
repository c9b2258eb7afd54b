# SPDX-License-Identifier: LGPL-2.1-or-later
"""Network partitions: only the majority side changes anything; after the
heal the minority catches up and nothing acknowledged is lost."""

import pytest

import helpers as h


def _split(r, minority, majority, size):
    """Partitions the rig and waits until both sides see it: the minority
    not quorate, the majority writable with exactly its members."""
    r.partition(minority, majority)
    names = sorted(n.name for n in majority)
    for n in majority:
        h.wait_status(r, n, lambda s: s["writable"] and sorted(s["quorum"]["members"]) == names, 40,
                      "%s to be writable with %s" % (n.name, names))
    for n in minority:
        st = h.wait_status(r, n, lambda s: s["quorum"]["quorate"] is False, 40, "%s to lose quorum" % n.name)
        assert st["writable"] is False
        assert st["quorum"]["expected_votes"] == size
        assert sorted(st["quorum"]["members"]) == sorted(m.name for m in minority)


def _check_minority_refuses(minority, key):
    for n in minority:
        res = h.set_setting(n, key, "from-" + n.name, timeout=8)
        assert res.rc == 1 and res.code == "no-quorum", (n.name, res)
        assert "not quorate" in res.message
        res = h.ctl(n, "settings", "unset", "user.before", timeout=8)
        assert res.rc == 1 and res.code == "no-quorum", (n.name, res)


@pytest.mark.parametrize("minority_name", ["n3", "n1"], ids=["follower-isolated", "leader-isolated"])
def test_minority_refuses_majority_writes_heal_converges(rig3, minority_name):
    r = rig3
    h.form(r)
    minority = r[minority_name]
    majority = [n for n in r.nodes if n is not minority]
    assert h.leader_of(r).name == "n1"
    assert h.set_setting(minority, "user.before", "b").ok
    acked = {"user.before": "b"}

    _split(r, [minority], majority, 3)
    # The majority's leader is its lowest id.
    for n in majority:
        assert h.status(n)["leader"] == majority[0].name
    _check_minority_refuses([minority], "user.minority")
    for i, n in enumerate(majority * 3):
        key, value = "user.m%d" % i, "%d-%s" % (i, n.name)
        res = h.set_setting(n, key, value)
        assert res.ok, (n.name, res)
        acked[key] = value
    assert h.set_setting(majority[1], "user.before", "changed").ok
    acked["user.before"] = "changed"
    # The minority still answers reads, with what it had.
    assert h.get_setting(minority, "user.before") == "b"
    assert not any(k.startswith("user.m") for k in h.user_settings(minority))
    # The majority marked the isolated node offline.
    h.wait_status(r, majority[0], lambda s: h.nodes_by_name(s)[minority.name]["state"] == "offline", 15,
                  "%s offline on the majority" % minority.name)

    r.heal()
    r.wait_synced(members=[n.name for n in r.nodes])
    common = h.wait_converged(r)
    for n in r.nodes:
        got = h.user_settings(n)
        for key, value in acked.items():
            assert got.get(key) == value, (n.name, key, got.get(key))
        assert "user.minority" not in got
    assert h.leader_of(r).name == "n1"
    for n in r.nodes:
        for info in h.status(n)["nodes"]:
            assert info["state"] == "online" and info["clusterd"] == "running", (n.name, info)
    kinds = [(e["kind"], e["object"]) for e in common["events"]]
    assert ("node.offline", minority.name) in kinds and ("node.online", minority.name) in kinds, kinds
    assert kinds.index(("node.offline", minority.name)) < kinds.index(("node.online", minority.name))
    # Writes work everywhere again, the former minority included.
    assert h.set_setting(minority, "user.after", "a").ok
    for n in r.nodes:
        assert h.get_setting(n, "user.after") == "a"


def test_five_nodes_split_two_three(rig5):
    r = rig5
    h.form(r)
    small, big = r.nodes[:2], r.nodes[2:]
    assert h.set_setting(small[0], "user.before", "b").ok
    acked = {"user.before": "b"}

    _split(r, small, big, 5)
    for n in small:
        st = h.status(n)
        assert (st["quorum"]["total_votes"], st["quorum"]["quorum"]) == (2, 3)
    _check_minority_refuses(small, "user.minority")
    for i, n in enumerate(big * 2):
        key, value = "user.big%d" % i, n.name
        res = h.set_setting(n, key, value)
        assert res.ok, (n.name, res)
        acked[key] = value
    for n in big:
        assert h.status(n)["leader"] == "n3"
    for n in small:
        assert not any(k.startswith("user.big") for k in h.user_settings(n))

    r.heal()
    r.wait_synced(members=[n.name for n in r.nodes])
    common = h.wait_converged(r)
    for key, value in acked.items():
        assert common["settings"].get(key) == value, key
    assert "user.minority" not in common["settings"]
    assert h.leader_of(r).name == "n1"
    assert h.set_setting(small[1], "user.after", "a").ok
    for n in r.nodes:
        assert h.get_setting(n, "user.after") == "a"
