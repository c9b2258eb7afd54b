# SPDX-License-Identifier: LGPL-2.1-or-later
"""Quorum as users see it: a majority keeps working after nodes die, a lone
survivor refuses writes but still answers reads, and the history records
what happened once quorum is back."""

import helpers as h


def _kinds(evs, since_id=0):
    return [(e["kind"], e["object"]) for e in evs if e["id"] > since_id and e["kind"].startswith(("node.", "quorum."))]


def _wait_event(r, node, kind, obj, since_id):
    """Waits until node's event log holds (kind, obj) after since_id."""
    return r.wait_until(lambda: any((e["kind"], e["object"]) == (kind, obj) and e["id"] > since_id
                                    for e in h.events(node)),
                        15, 0.25, "%s %s in %s's event log" % (kind, obj, node.name))


def _assert_lone_survivor(r, survivor, gone):
    """survivor is alone: not quorate, writes refused with no-quorum, reads fine."""
    st = h.wait_status(r, survivor, lambda s: s["quorum"]["quorate"] is False, 30,
                       "%s to see quorum lost" % survivor.name)
    assert st["writable"] is False and st["quorum"]["writable"] is False
    assert (st["quorum"]["expected_votes"], st["quorum"]["total_votes"], st["quorum"]["quorum"]) == (3, 1, 2)
    assert st["quorum"]["members"] == [survivor.name]
    # Its view of the others, with reads only.
    st = h.wait_status(r, survivor, lambda s: all(h.nodes_by_name(s)[g.name]["state"] == "offline" for g in gone),
                       15, "%s to show %s offline" % (survivor.name, [g.name for g in gone]))
    text = h.ctl(survivor, "status", json=False)
    assert text.rc == 0 and "quorate: no (1 of 3 votes, quorum 2)" in text.stdout, text.stdout

    # A write is refused at once, with a message that says why.
    res = h.set_setting(survivor, "user.refused", "x", timeout=8)
    assert res.rc == 1, res
    assert res.code == "no-quorum", res
    assert "not quorate" in res.message and "refused" in res.message, res.message
    assert res.stdout == ""
    res = h.ctl(survivor, "token", "create", "refused", timeout=8)
    assert res.rc == 1 and res.code == "no-quorum", res

    # Reads still work and show what was committed before.
    assert h.get_setting(survivor, "user.before") == "1"
    assert h.get_setting(survivor, "user.with-two") == "2"
    assert "user.refused" not in h.user_settings(survivor)
    assert "refused" not in h.tokens(survivor)
    assert any(e["object"] == "user.with-two" for e in h.events(survivor))


def test_majority_keeps_working_survivor_refuses_writes(rig3):
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    assert h.set_setting(n2, "user.before", "1").ok
    last_id = h.events(n1)[-1]["id"]

    # One node of three dies: the other two stay quorate and writable.
    n3.kill9()
    for n in (n1, n2):
        h.wait_status(r, n, lambda s: s["writable"] and s["quorum"]["members"] == ["n1", "n2"], 30,
                      "%s to be writable with n1, n2" % n.name)
    res = h.set_setting(n2, "user.with-two", "2")
    assert res.ok, res
    assert h.get_setting(n1, "user.with-two") == "2"
    # The leader (n1) records that n3 is gone, for everyone to see: the live
    # view shows it at once, the event log once the leader's write commits.
    h.wait_status(r, n2, lambda s: h.nodes_by_name(s)["n3"]["state"] == "offline", 15, "n3 offline on n2")
    assert h.nodes_by_name(h.status(n2))["n3"]["clusterd"] == "stopped"
    _wait_event(r, n2, "node.offline", "n3", last_id)

    # A second one dies: the survivor is not quorate.
    n2.kill9()
    _assert_lone_survivor(r, n1, [n2, n3])

    # Both come back: quorum regained, writes work again.
    n2.restart()
    n3.restart()
    r.wait_synced()
    h.wait_writable(r)
    res = h.set_setting(n3, "user.after", "3")
    assert res.ok, res
    for n in r.nodes:
        assert h.get_setting(n, "user.after") == "3"
        assert h.get_setting(n, "user.before") == "1"
        assert h.get_setting(n, "user.with-two") == "2"
        assert "user.refused" not in h.user_settings(n)
    common = h.wait_converged(r)
    for n in r.nodes:
        for info in h.status(n)["nodes"]:
            assert (info["state"], info["clusterd"]) == ("online", "running"), (n.name, info)

    # The leader recorded the story: n3 offline, quorum regained, n3 online.
    new = [e for e in common["events"] if e["id"] > last_id]
    kinds = _kinds(new)
    assert ("node.offline", "n3") in kinds, kinds
    assert ("quorum.regained", "n1") in kinds, kinds
    assert ("node.online", "n3") in kinds, kinds
    assert kinds.index(("node.offline", "n3")) < kinds.index(("quorum.regained", "n1"))
    assert kinds.index(("node.offline", "n3")) < kinds.index(("node.online", "n3"))
    # Recorded by the daemons themselves. Usually by n1, the leader; but while
    # n2 and n3 boot, corosync may first form a quorate ring of the two
    # without n1, whose leader (n2) then rightly records what it sees.
    for e in new:
        if e["kind"].startswith(("node.", "quorum.")):
            assert e["client"] == "clusterd", e
    assert all(e["node"] == "n1" for e in new if (e["kind"], e["object"]) == ("node.offline", "n3")), new
    regained = [e for e in new if e["kind"] == "quorum.regained"]
    assert len(regained) == 1, regained
    assert "regained" in regained[0]["message"].lower()


def test_quorum_regained_is_recorded_when_leader_died_first(rig3):
    """The leader dies first, then a second node: the survivor is n3, which
    is not the lowest id once the others are back. The history must still
    show what happened, whoever leads afterwards."""
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    assert h.set_setting(n1, "user.before", "1").ok
    last_id = h.events(n1)[-1]["id"]

    n1.kill9()
    h.wait_status(r, n2, lambda s: s["writable"] and s["leader"] == "n2", 30, "n2 to lead a writable partition")
    h.wait_status(r, n3, lambda s: s["writable"] and s["leader"] == "n2", 30, "n3 to follow n2")
    assert h.set_setting(n3, "user.with-two", "2").ok
    # The new leader records n1 offline (the live view first, then the log).
    h.wait_status(r, n3, lambda s: h.nodes_by_name(s)["n1"]["state"] == "offline", 15, "n1 offline on n3")
    _wait_event(r, n3, "node.offline", "n1", last_id)

    n2.kill9()
    _assert_lone_survivor(r, n3, [n1, n2])

    n1.restart()
    n2.restart()
    r.wait_synced()
    h.wait_writable(r)
    assert h.leader_of(r) is n1
    assert h.set_setting(n2, "user.after", "3").ok
    common = h.wait_converged(r)
    kinds = _kinds([e for e in common["events"] if e["id"] > last_id])
    assert ("node.offline", "n1") in kinds, kinds
    assert ("node.online", "n1") in kinds, kinds
    assert any(k == "quorum.regained" for k, _ in kinds), \
        "quorum was lost (n3 alone refused writes) and regained, but no quorum.regained event: %s" % kinds
    for key, value in (("user.before", "1"), ("user.with-two", "2"), ("user.after", "3")):
        assert common["settings"][key] == value
