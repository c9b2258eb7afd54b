# SPDX-License-Identifier: LGPL-2.1-or-later
"""Bad input gets a clear error and never takes a daemon down (DESIGN.md,
invariant 6): node configuration files, a second daemon, reloads, REST
requests, clusterctl usage, and garbage from a foreign process in clusterd's
CPG group."""

import json
import os
import re
import signal

import pytest

import helpers as h
import rig as rigmod

CONF = "/etc/clusterd/clusterd.yaml"


def _clusterd(node):
    return os.path.join(node.rig.builddir, "clusterd", "clusterd")


def _config_text(node, extra=None):
    return rigmod._yaml(node.clusterd_config(extra)) + "\n"


# Each: file text, expected "LINE:COLUMN: message" (positions per docs/config.md).
BAD_CONFIGS = {
    "unknown-key": ("api:\n  lisen: 7440\n", "2:3: unknown key 'lisen' in section 'api'"),
    "wrong-type": ("api:\n  max-clients: many\n",
                   "2:16: 'api.max-clients' must be an integer between 1 and 65535, got 'many'"),
    "missing-log-file": ("log:\n  target: file\n", "2:11: 'log.target' is 'file' but 'log.file' is not set"),
    "missing-value": ("api:\n  tls:\n", "2:3: missing value for 'api.tls'"),
    "yaml-syntax": ("api:\n  tls: [yes\n", None),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_refused_with_its_position(rig, case):
    r = rig(1)
    n1 = r.nodes[0]
    text, expected = BAD_CONFIGS[case]
    path = "/etc/clusterd/bad.yaml"
    n1.write_file(path, text, 0o600)
    for args in (["--check-config", "-c", path], ["--foreground", "-c", path]):
        cp = n1.run([_clusterd(n1)] + args, check=False, timeout=15)
        assert cp.returncode == 1, (args, cp.returncode, cp.stdout, cp.stderr)
        assert cp.stdout == "", (args, cp.stdout)
        lines = [l for l in cp.stderr.splitlines() if l.strip()]
        assert lines, "no message on stderr for %s" % args
        assert re.search(r"%s:\d+:\d+: \S" % re.escape(path), cp.stderr), cp.stderr
        if expected:
            assert "%s:%s" % (path, expected) in cp.stderr, cp.stderr
        else:
            assert "invalid YAML" in cp.stderr, cp.stderr
    assert not n1.clusterd_running()
    assert not n1.exists("/run/clusterd/clusterd.sock")


def test_check_config_prints_the_normalized_config(rig):
    r = rig(1)
    n1 = r.nodes[0]
    n1.write_file("/etc/clusterd/good.yaml",
                  "# a comment\nlog:\n  level: WARN\napi:\n  max-body-size: 2048\n  request-timeout: 90\n"
                  "database:\n  write-timeout: 1.5s\n", 0o600)
    cp = n1.run([_clusterd(n1), "--check-config", "-c", "/etc/clusterd/good.yaml"], check=False)
    assert cp.returncode == 0, cp.stderr
    out = cp.stdout
    assert re.search(r"^log:$", out, re.M) and re.search(r"^\s+level: warning$", out, re.M), out
    assert re.search(r"^\s+max-body-size: 2KiB$", out, re.M), out
    assert re.search(r"^\s+request-timeout: 1m30s$", out, re.M), out
    assert re.search(r"^\s+write-timeout: (1\.5s|1s500ms)$", out, re.M), out
    assert re.search(r"^\s+max-clients: 128$", out, re.M), out  # defaults are filled in
    assert "start-command" in out and "state-dir" in out
    # The output is a valid configuration that normalizes to itself.
    n1.write_file("/etc/clusterd/again.yaml", out, 0o600)
    again = n1.run([_clusterd(n1), "--check-config", "-c", "/etc/clusterd/again.yaml"], check=False)
    assert again.returncode == 0 and again.stdout == out, again.stderr
    assert not n1.clusterd_running()


def test_second_clusterd_is_refused(rig):
    r = rig(1)
    n1 = r.nodes[0]
    first = n1.start_clusterd()
    pid = first.pid
    log_start = len(h.clusterd_log(n1))
    cp = n1.run([_clusterd(n1), "--foreground", "-c", CONF], check=False, timeout=15)
    assert cp.returncode == 1, (cp.returncode, cp.stderr)
    said = cp.stderr + h.clusterd_log(n1)[log_start:]
    assert re.search(r"Another clusterd is running on this node \(pid \d+", said), said
    # The first one is untouched and still serves.
    assert n1.clusterd_pids() == [pid] and first.poll() is None
    assert h.status(n1)["state"] == "unconfigured"
    # Its pid file still names it (nodes share the host's pid namespace).
    assert n1.read_file("/run/clusterd/clusterd.pid").strip() == str(pid)
    # Whoever started the second one (by hand, or systemd's journal) sees why
    # it exited: the message belongs on its stderr, not only in the log file
    # of the clusterd that is already running.
    assert "Another clusterd is running" in cp.stderr, \
        "the refusal is not on the second clusterd's stderr (only in the log file): %r" % cp.stderr


def test_sighup_reload_keeps_running_config_on_error_and_applies_a_good_one(rig):
    r = rig(1)
    n1 = r.nodes[0]
    n1.start_clusterd()  # log level debug
    pid = n1.clusterd_pids()[0]

    def probe():
        """A request that clusterd logs at debug level only."""
        assert h.curl(n1, "/v1/no-such-path").status == 404

    start = len(h.clusterd_log(n1))
    probe()
    h.wait_log(n1, r"/v1/no-such-path: 404", start)

    # A broken file: clusterd keeps running, with the old configuration.
    n1.write_file(CONF, "log:\n  level: loud\n", 0o600)
    start = len(h.clusterd_log(n1))
    os.kill(pid, signal.SIGHUP)
    h.wait_log(n1, r"Reload failed, keeping the running configuration: %s:2:10: 'log.level' must be one of"
               % re.escape(CONF), start)
    assert n1.clusterd_pids() == [pid]
    assert h.status(n1)["state"] == "unconfigured"
    start = len(h.clusterd_log(n1))
    probe()
    h.wait_log(n1, r"/v1/no-such-path: 404", start)  # still at debug level

    # A good file with log level notice: applied, debug lines stop.
    n1.write_file(CONF, _config_text(n1, {"log": {"level": "notice"}}), 0o600)
    start = len(h.clusterd_log(n1))
    os.kill(pid, signal.SIGHUP)
    h.wait_log(n1, r"Reloaded the configuration from '%s'" % re.escape(CONF), start)
    start = len(h.clusterd_log(n1))
    probe()
    h.status(n1)
    assert "/v1/no-such-path" not in h.clusterd_log(n1)[start:], "debug lines still logged after level notice"

    # A key that needs a restart: said so, the rest applied.
    n1.write_file(CONF, _config_text(n1, {"log": {"level": "debug"}, "api": {"socket": "/run/clusterd/other.sock"}}),
                  0o600)
    start = len(h.clusterd_log(n1))
    os.kill(pid, signal.SIGHUP)
    h.wait_log(n1, r"Changing 'api.socket' needs a restart of clusterd", start)
    h.wait_log(n1, r"Reloaded the configuration", start)
    probe()
    h.wait_log(n1, r"/v1/no-such-path: 404", start)
    assert n1.exists("/run/clusterd/clusterd.sock") and not n1.exists("/run/clusterd/other.sock")
    assert n1.clusterd_pids() == [pid]


@pytest.fixture
def solo(rig):
    """A one-node cluster: its REST API on the local socket and on HTTPS."""
    r = rig(1)
    h.form(r, name="solo")
    return r.nodes[0]


def _still_fine(node):
    st = h.status(node)
    assert st["state"] == "synced" and st["writable"], st
    assert node.clusterd_running()


def test_rest_refuses_bad_requests_with_clear_errors(solo):
    n1 = solo
    put = lambda path, body, **kw: lambda: h.curl(n1, path, "PUT", body, **kw)  # noqa: E731
    post = lambda path, body, **kw: lambda: h.curl(n1, path, "POST", body, **kw)  # noqa: E731
    get = lambda path, method="GET": lambda: h.curl(n1, path, method)  # noqa: E731
    allow = {"GET", "PUT", "DELETE"}
    create = json.dumps({"name": "x", "nodes": [{"name": "n1", "address": n1.address}]})
    # (what, request, status, code, words the message must contain, Allow header)
    cases = [
        ("malformed JSON", put("/v1/settings/user.a", '{"value": "x"'), 400, "bad-request", ["JSON"], None),
        ("not an object", put("/v1/settings/user.a", "[1, 2]"), 400, "bad-request", [], None),
        ("trailing garbage", put("/v1/settings/user.a", '{"value": "x"} trailing'), 400, "bad-request", [], None),
        ("wrong type", put("/v1/settings/user.a", '{"value": ["x"]}'), 400, "bad-request", ["value"], None),
        ("missing field", put("/v1/settings/user.a", "{}"), 400, "bad-request", ["value"], None),
        ("unknown field", put("/v1/settings/user.a", '{"value": "x", "colour": "red"}'), 400, "bad-request",
         ["colour"], None),
        ("token name of the wrong type", post("/v1/tokens", '{"name": 42}'), 400, "bad-request", ["name"], None),
        ("unknown token field", post("/v1/tokens", '{"name": "ok", "admin": true}'), 400, "bad-request", ["admin"],
         None),
        ("node id of the wrong type", post("/v1/nodes", '{"name": "n2", "address": "198.18.0.2", "id": "two"}'), 400,
         "bad-request", ["id"], None),
        ("integer setting, not a number", put("/v1/settings/events.max-entries", '{"value": "lots"}'), 400,
         "bad-request", ["events.max-entries", "lots"], None),
        ("integer setting, out of range", put("/v1/settings/events.max-entries", '{"value": 5}'), 400,
         "bad-request", ["events.max-entries", "5", "100"], None),
        ("duration setting, not a duration", put("/v1/settings/join.token-ttl", '{"value": "soon"}'), 400,
         "bad-request", ["join.token-ttl", "soon"], None),
        ("user value too long", put("/v1/settings/user.big", json.dumps({"value": "x" * 5000})), 400, "bad-request",
         ["user.big", "4096"], None),
        # Refused as soon as Content-Length announces it (the reply must not
        # wait for the whole upload), and a large body under the limit is
        # read promptly: both within 15s.
        ("body too large", put("/v1/settings/user.a", b'{"value": "' + b"x" * (1024 * 1024) + b'"}', timeout=15),
         413, "payload-too-large", ["api.max-body-size"], None),
        ("large body under the limit", put("/v1/settings/user.a", b'{"value": "' + b"x" * (512 * 1024) + b'"}',
                                           timeout=15), 400, "bad-request", ["4096"], None),
        ("text/plain body", put("/v1/settings/user.a", '{"value": "x"}', content_type="text/plain"), 415,
         "unsupported-media-type", [], None),
        ("body without a type", put("/v1/settings/user.a", '{"value": "x"}', content_type=None), 415,
         "unsupported-media-type", [], None),
        ("unknown path", get("/v1/nope"), 404, "not-found", [], None),
        ("unknown version", get("/v2/cluster"), 404, "not-found", [], None),
        ("unknown setting", get("/v1/settings/no.such-key"), 404, "not-found", ["no.such-key"], None),
        ("set an unknown setting", put("/v1/settings/no.such-key", '{"value": "1"}'), 404, "not-found",
         ["no.such-key"], None),
        ("unset a user key never set", get("/v1/settings/user.never-set", "DELETE"), 404, "not-found", [], None),
        ("unknown node", get("/v1/nodes/n9"), 404, "not-found", ["n9"], None),
        ("unknown token", get("/v1/tokens/nobody", "DELETE"), 404, "not-found", [], None),
        ("events limit 0", get("/v1/events?limit=0"), 400, "bad-request", ["limit"], None),
        ("events since -1", get("/v1/events?since=-1"), 400, "bad-request", ["since"], None),
        ("PATCH a setting", get("/v1/settings/user.a", "PATCH"), 405, "method-not-allowed", [], allow),
        ("POST the quorum", post("/v1/quorum", "{}"), 405, "method-not-allowed", [], {"GET"}),
        ("create again", post("/v1/cluster", create), 409, "already-configured", [], None),
        # JSON is UTF-8 (RFC 8259): invalid UTF-8 in a string is malformed
        # input. Accepted, it is stored, replicated, and sent back to every
        # client as invalid JSON.
        ("invalid UTF-8 in a value", put("/v1/settings/user.a", b'{"value": "\xff\xfe"}'), 400, "bad-request", [],
         None),
        ("invalid UTF-8 in a token name", post("/v1/tokens", b'{"name": "caf\xe9"}'), 400, "bad-request", [], None),
    ]
    problems = []
    for what, request, status, code, words, allowed in cases:
        try:
            rep = request()
            assert rep.utf8, "the reply is not valid UTF-8: %r" % rep.raw[:200]
            h.assert_error(rep, status, code, *words)
            if allowed is not None:
                got = set(m.strip() for m in rep.headers.get("allow", "").split(",") if m.strip())
                assert got == allowed, "Allow: %r, expected %s" % (rep.headers.get("allow"), sorted(allowed))
        except AssertionError as e:
            problems.append("%s: %s" % (what, str(e).splitlines()[0]))
    # The daemon is fine, and none of it changed anything.
    _still_fine(n1)
    rep = h.curl(n1, "/v1/settings")
    stored = [s["key"] for s in (rep.json or {}).get("settings", []) if s["key"].startswith("user.")] \
        if rep.json else "unreadable: %r" % rep.raw[:200]
    if stored:
        problems.append("refused requests changed settings: %s" % (stored,))
    rep = h.curl(n1, "/v1/tokens")
    if not rep.json or rep.json.get("tokens"):
        problems.append("refused requests changed tokens: %r" % rep.raw[:200])
    rep = h.curl(n1, "/v1/settings/events.max-entries")
    if not rep.json or rep.json.get("value") != 10000:
        problems.append("events.max-entries changed: %r" % rep.raw[:200])
    assert not problems, "\n".join(problems)


def test_https_needs_a_valid_token_and_verifies_with_the_cluster_ca(solo):
    n1 = solo
    # Public: the CA, the same as the file on the node.
    rep = h.curl(n1, "/v1/cluster/ca", tcp=True)
    assert rep.status == 200, rep
    assert rep.json["certificate"].strip() == n1.read_file(h.CA_CERT).strip()
    assert rep.json["ca_hash"].startswith("sha256:")
    # Everything else needs a bearer token.
    h.assert_error(h.curl(n1, "/v1/cluster", tcp=True), 401, "unauthorized")
    h.assert_error(h.curl(n1, "/v1/cluster", tcp=True, token="ops.notthesecretatall0000000000000"), 401,
                   "unauthorized")
    h.assert_error(h.curl(n1, "/v1/cluster", tcp=True, headers=["Authorization: Basic cm9vdDpyb290"]), 401,
                   "unauthorized")
    secret = h.ok(n1, "token", "create", "ops")["secret"]
    h.assert_error(h.curl(n1, "/v1/cluster", tcp=True, token=secret + "x"), 401, "unauthorized")
    rep = h.curl(n1, "/v1/cluster", tcp=True, token=secret)
    assert rep.status == 200 and rep.json["name"] == "solo", rep
    # Writes over HTTPS are recorded with the token's name.
    rep = h.curl(n1, "/v1/settings/user.via-https", "PUT", '{"value": "yes"}', tcp=True, token=secret)
    assert rep.status == 200 and rep.json["updated_by"] == "token:ops", rep
    # Local-only requests are refused over TCP, even with a token.
    body = json.dumps({"name": "x", "nodes": [{"name": "n1", "address": n1.address}]})
    h.assert_error(h.curl(n1, "/v1/cluster", "POST", body, tcp=True, token=secret), 403, "forbidden")
    # The certificate does not verify without the cluster's CA.
    cp = n1.run(["curl", "-sS", "-o", "/dev/null", "https://%s:7440/v1/cluster/ca" % n1.address], check=False)
    assert cp.returncode != 0 and "certificate" in cp.stderr.lower(), (cp.returncode, cp.stderr)
    # clusterctl over HTTPS with the token file, and without a token.
    n1.write_file("/root-token", secret + "\n", 0o600)
    res = h.ctl(n1, "--server", "https://%s:7440" % n1.address, "--token-file", "/root-token", "settings", "get",
                "user.via-https", json=False)
    assert res.rc == 0 and res.stdout == "yes\n", res
    res = h.ctl(n1, "--server", "https://%s:7440" % n1.address, "status")
    assert res.rc == 1 and "(unauthorized)" in res.stderr and "--token-file" in res.stderr, res
    assert secret not in res.stderr
    # A revoked token stops working.
    h.ok(n1, "token", "delete", "ops")
    h.assert_error(h.curl(n1, "/v1/cluster", tcp=True, token=secret), 401, "unauthorized")
    _still_fine(n1)


def test_clusterctl_usage_errors_and_daemon_down(rig):
    r = rig(1)
    n1 = r.nodes[0]
    n1.start_clusterd()
    for args in (["frobnicate"], ["settings", "set", "user.only-key"], ["settings", "frob"], ["-o", "yaml", "status"],
                 ["events", "--limit", "abc"], ["node", "add", "n2"], ["status", "--no-such-option"],
                 ["cluster", "join", "https://198.18.0.1:7440"], ["--server", "http://198.18.0.1:7440", "status"]):
        res = h.ctl(n1, *args, json=False)
        assert res.rc == 2, (args, res)
        assert res.stderr.startswith("clusterctl: "), (args, res.stderr)
        assert "Try 'clusterctl" in res.stderr and "--help'" in res.stderr, (args, res.stderr)
        assert res.stdout == "", (args, res.stdout)
    for args in (["--help"], ["settings", "--help"], ["version"]):
        res = h.ctl(n1, *args, json=False)
        assert res.rc == 0 and res.stdout, (args, res)
    # Not root: the local socket is refused.
    cp = n1.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", h.clusterctl_path(n1), "status"],
                check=False)
    assert cp.returncode == 1 and "Permission denied" in cp.stderr, (cp.returncode, cp.stderr)
    # clusterd stopped: exit 1 and a message that says so.
    assert n1.stop_clusterd() == 0
    for args in (["status"], ["settings", "set", "user.a", "b"]):
        res = h.ctl(n1, *args, json=False)
        assert res.rc == 1, (args, res)
        assert "clusterd is not running" in res.stderr, (args, res.stderr)


FOREIGN_CPG = r'''
import ctypes, os, struct, sys, time
lib = ctypes.CDLL("libcpg.so.4")
class Name(ctypes.Structure):
    _fields_ = [("length", ctypes.c_uint32), ("value", ctypes.c_char * 128)]
class Iov(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
class Callbacks(ctypes.Structure):
    _fields_ = [("deliver", ctypes.c_void_p), ("confchg", ctypes.c_void_p)]
lib.cpg_initialize.argtypes = [ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(Callbacks)]
lib.cpg_join.argtypes = [ctypes.c_uint64, ctypes.POINTER(Name)]
lib.cpg_leave.argtypes = [ctypes.c_uint64, ctypes.POINTER(Name)]
lib.cpg_finalize.argtypes = [ctypes.c_uint64]
lib.cpg_mcast_joined.argtypes = [ctypes.c_uint64, ctypes.c_int, ctypes.POINTER(Iov), ctypes.c_uint]
h = ctypes.c_uint64()
cb = Callbacks(None, None)
assert lib.cpg_initialize(ctypes.byref(h), ctypes.byref(cb)) == 1
name = Name(8, b"clusterd")
for i in range(50):
    rc = lib.cpg_join(h, ctypes.byref(name))
    if rc == 1:
        break
    time.sleep(0.1)
assert rc == 1, rc
magic = 0x31444c43
def header(mtype, version=1, view=0, rnd=0, body=b""):
    return struct.pack("<IBBHQII", magic, mtype, version, 0, view, rnd, len(body)) + body
msgs = [b"", b"x", os.urandom(23), os.urandom(4000), b"GARBAGE" * 10,
        header(1, version=9), header(99), header(4, body=b"\xff" * 40)[:-3],
        header(1, body=os.urandom(64)), header(4, body=os.urandom(200)), header(5, body=b"\x00" * 8)]
for m in msgs:
    buf = ctypes.create_string_buffer(m, max(len(m), 1))
    iov = Iov(ctypes.cast(buf, ctypes.c_void_p), len(m))
    for i in range(50):
        rc = lib.cpg_mcast_joined(h, 2, ctypes.byref(iov), 1)
        if rc != 6:  # CS_ERR_TRY_AGAIN
            break
        time.sleep(0.05)
    print("sent %d bytes: %d" % (len(m), rc))
time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 1)
lib.cpg_leave(h, ctypes.byref(name))
lib.cpg_finalize(h)
print("left")
'''


def test_garbage_in_the_cpg_group_is_dropped(rig3):
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    assert h.set_setting(n1, "user.before", "b").ok
    before = h.wait_converged(r)
    pids = {n.name: n.clusterd_pids() for n in r.nodes}
    marks = {n.name: len(h.clusterd_log(n)) for n in r.nodes}
    n2.write_file("/tmp/foreign.py", FOREIGN_CPG)
    cp = n2.run(["/usr/bin/python3", "/tmp/foreign.py"], check=False, timeout=60)
    assert cp.returncode == 0 and "left" in cp.stdout, (cp.stdout, cp.stderr)

    # Every clusterd is still the same process, dropped what it could not
    # read, and the cluster is back to synced and writable with its data.
    after = h.wait_converged(r, timeout=40)
    assert {n.name: n.clusterd_pids() for n in r.nodes} == pids
    for n in r.nodes:
        assert re.search(r"Dropped a malformed", h.clusterd_log(n)[marks[n.name]:]), n.name
    assert after["settings"] == before["settings"]
    assert after["events"][:len(before["events"])] == before["events"]
    assert h.set_setting(n3, "user.after", "a").ok
    for n in r.nodes:
        assert h.get_setting(n, "user.after") == "a"


def test_foreign_member_that_stays_silent_does_not_stall_the_cluster(rig3):
    """A process that joins clusterd's CPG group and never speaks its
    protocol (here: garbage, then silence for 20s) must not keep the
    cluster from syncing: its messages are dropped, and so should it be."""
    r = rig3
    h.form(r)
    n1, n2, n3 = r.nodes
    n2.write_file("/tmp/foreign.py", FOREIGN_CPG)
    foreign = n2.spawn(["/usr/bin/python3", "/tmp/foreign.py", "20"], "/var/log/clusterd/foreign.out")
    try:
        h.wait_log(n1, r"clusterd on node 'n2' \(id 2, pid %d\) joined the group" % foreign.pid, 0, timeout=10)
        took, outcomes = h.first_acked_write(n1, "user.during", deadline=15)
        print("timing: writes acknowledged %s s after the foreign process joined (attempts: %s)"
              % (took, outcomes))
        assert took is not None, "no write on n1 succeeded within %ds: %s" % (15, outcomes)
    finally:
        foreign.wait(40)
    h.wait_converged(r)
