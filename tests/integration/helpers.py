# SPDX-License-Identifier: LGPL-2.1-or-later
"""Helpers shared by the clusterd integration tests (test_*.py here).

Everything goes through what a user has: clusterctl on a node (the local
socket), or curl inside a node against the REST API. Nothing reads the
daemon's database or internals.

    ctl(node, *args)              -> Reply (never raises on a non-zero exit)
    set_setting(node, key, value) -> Reply
    status(node), user_settings(node), events(node), settings_map(node)
    wait_converged(rig, nodes)    -> every node synced, same epoch/version,
                                     same settings and same events
    wait_status(rig, node, pred)  -> waits on one node's `status`
    curl(node, path, ...)         -> HttpReply over the unix socket or HTTPS
"""

import base64
import json as jsonlib
import os
import re
import shlex
import time

import rig as rigmod
from rig import CommandError, NodeDown, Pending, RigError, wait_until  # noqa: F401 (re-exported)

TOKEN_MS = 1000
CLUSTERCTL_TIMEOUT = 60  # seconds; writes wait up to database.write-timeout (10s)
SOCKET = "/run/clusterd/clusterd.sock"
CA_CERT = "/var/lib/clusterd/pki/ca.crt"

_ERROR_RE = re.compile(r"^clusterctl: (?P<message>.*?)(?: \((?P<code>[a-z][a-z-]*)\))?$")


# --------------------------------------------------------------------------
# clusterctl
# --------------------------------------------------------------------------


class Reply:
    """What `clusterctl -o json ARGS` did on a node.

    rc: exit status (negative: killed by that signal; None: it did not
    finish within the timeout, or the node was down so nothing ran);
    data: the parsed JSON on stdout (None without); stdout, stderr: text;
    code and message: from the error line `clusterctl: MESSAGE (CODE)`."""

    def __init__(self, rc, stdout="", stderr="", note=None):
        self.rc = rc
        self.stdout = stdout or ""
        self.stderr = stderr or ""
        self.note = note  # why there is no exit status
        self.data = None
        if self.stdout.strip():
            try:
                self.data = jsonlib.loads(self.stdout)
            except ValueError:
                self.data = None
        self.code = None
        self.message = None
        for line in reversed(self.stderr.strip().splitlines()):
            m = _ERROR_RE.match(line.strip())
            if m:
                self.code = m.group("code")
                self.message = m.group("message")
                break

    @property
    def ok(self):
        return self.rc == 0

    def __repr__(self):
        return "<Reply rc=%r code=%r message=%r note=%r stdout=%r>" % (
            self.rc, self.code, self.message, self.note, self.stdout[:200])


def clusterctl_path(node):
    return os.path.join(node.rig.builddir, "clusterctl", "clusterctl")


def ctl(node, *args, json=True, timeout=CLUSTERCTL_TIMEOUT, env=None):
    """Runs `clusterctl [-o json] ARGS` inside node; returns a Reply. A node
    that is down gives rc None (note "node down"); a command that does not
    finish in time gives rc None (note "timeout")."""
    cmd = [clusterctl_path(node)] + (["-o", "json"] if json else []) + [str(a) for a in args]
    try:
        cp = node.run(cmd, check=False, timeout=timeout, env=env)
    except NodeDown as e:
        return Reply(None, note="node down: %s" % e)
    except CommandError as e:  # only raised for a timeout with check=False
        return Reply(None, rigmod._text(e.stdout), rigmod._text(e.stderr), note=str(e.returncode))
    return Reply(cp.returncode, cp.stdout, cp.stderr)


def ok(node, *args, **kwargs):
    """clusterctl ARGS that must succeed; returns its parsed JSON (or the
    Reply when there is none)."""
    r = ctl(node, *args, **kwargs)
    assert r.rc == 0, "`clusterctl %s` on %s failed: %r\nstderr: %s" % (
        " ".join(map(str, args)), node.name, r, r.stderr)
    return r.data if r.data is not None else r


def status(node):
    """`clusterctl -o json status` of node (raises if it fails)."""
    return ok(node, "status")


def set_setting(node, key, value, timeout=CLUSTERCTL_TIMEOUT):
    """`clusterctl settings set KEY VALUE` on node; the Reply."""
    return ctl(node, "settings", "set", key, "--", value, timeout=timeout)


def get_setting(node, key):
    """`clusterctl settings get KEY` (plain output): the value as printed, without the newline."""
    r = ctl(node, "settings", "get", key, json=False)
    assert r.rc == 0, "`settings get %s` on %s failed: %r %s" % (key, node.name, r, r.stderr)
    return r.stdout.rstrip("\n")


def settings_map(node):
    """Every setting on node as {key: value} (from `settings list`)."""
    data = ok(node, "settings", "list")
    return {s["key"]: s["value"] for s in data["settings"]}


def user_settings(node):
    """The user.* settings on node as {key: value}."""
    return {k: v for k, v in settings_map(node).items() if k.startswith("user.")}


def events(node, kind=None, since=0):
    """The whole event log as node sees it (paged through), oldest first."""
    out = []
    while True:
        args = ["events", "--since", str(since), "--limit", "1000"]
        if kind:
            args += ["--kind", kind]
        page = ok(node, *args)["events"]
        out += page
        if len(page) < 1000:
            return out
        since = page[-1]["id"]


def first_acked_write(node, prefix, deadline, value="x"):
    """Writes PREFIX-0, PREFIX-1, ... on node until one is acknowledged or
    deadline seconds have passed (each attempt gets only the time left).
    Returns (seconds until the acknowledgement or None, [outcome of every
    attempt: an error code or exit status])."""
    t0 = time.monotonic()
    outcomes = []
    while True:
        left = deadline - (time.monotonic() - t0)
        if left <= 0.5:
            return None, outcomes
        res = set_setting(node, "%s-%d" % (prefix, len(outcomes)), value, timeout=left)
        outcomes.append(res.code or res.note or res.rc)
        if res.ok and time.monotonic() - t0 <= deadline:
            return round(time.monotonic() - t0, 1), outcomes
        if not res.ok:
            time.sleep(0.1)


def tokens(node):
    return sorted(t["name"] for t in ok(node, "token", "list")["tokens"])


def nodes_by_name(st):
    """{name: node object} from a status reply."""
    return {n["name"]: n for n in st.get("nodes") or []}


# --------------------------------------------------------------------------
# Waiting on what the nodes say
# --------------------------------------------------------------------------


def live(rig, nodes=None):
    """The given nodes (names or Nodes; default all) that are powered on."""
    out = []
    for x in nodes or rig.nodes:
        n = rig.node(x.name if isinstance(x, rigmod.Node) else x)
        if n.alive():
            out.append(n)
    return out


def _as_nodes(rig, nodes):
    return [rig.node(x.name if isinstance(x, rigmod.Node) else x) for x in (nodes or rig.nodes)]


def wait_status(rig, node, pred, timeout=30, what=None):
    """Waits until pred(status of node) is truthy; returns that status."""
    def check():
        r = ctl(node, "status")
        if r.rc != 0 or r.data is None:
            return Pending("status failed: %r %s" % (r, r.stderr.strip()))
        return r.data if pred(r.data) else Pending(_brief(r.data))

    return wait_until(check, timeout, 0.25, what or "status of %s" % node.name)


def _brief(st):
    q = st.get("quorum") or {}
    db = st.get("database") or {}
    return {
        "state": st.get("state"), "writable": st.get("writable"), "leader": st.get("leader"),
        "quorate": q.get("quorate"), "members": q.get("members"), "database_members": q.get("database_members"),
        "expected_votes": q.get("expected_votes"), "epoch": db.get("epoch"), "version": db.get("version"),
        "nodes": {n["name"]: (n.get("state"), n.get("clusterd")) for n in st.get("nodes") or []},
    }


def snapshot(node):
    """What a user sees of the replicated state on node: database position,
    all settings, all events, tokens and nodes (without node-local fields)."""
    st = status(node)
    return {
        "state": st["state"],
        "writable": st.get("writable"),
        "epoch": st["database"]["epoch"],
        "version": st["database"]["version"],
        "settings": settings_map(node),
        "events": events(node),
        "tokens": tokens(node),
        "nodes": sorted((n["name"], n["id"], n["address"], n["state"], n["since"], n["clusterd"], n["votes"])
                        for n in st["nodes"]),
        "leader": st.get("leader"),
    }


def wait_converged(rig, nodes=None, timeout=60, writable=True):
    """Waits until every given node (default all) is synced (and writable,
    unless writable=False) and all of them show the same epoch, version,
    settings, events, tokens, nodes (with their state and since when) and
    leader. Returns the common snapshot."""
    nodes = _as_nodes(rig, nodes)

    def check():
        snaps = {}
        for n in nodes:
            try:
                snaps[n.name] = snapshot(n)
            except AssertionError as e:
                return Pending({n.name: str(e).splitlines()[0]})
        bad = [k for k, s in snaps.items() if s["state"] != "synced" or (writable and not s["writable"])]
        first = next(iter(snaps.values()))
        keys = ("epoch", "version", "settings", "events", "tokens", "nodes", "leader")
        differ = [k for k in keys if any(s[k] != first[k] for s in snaps.values())]
        if bad or differ:
            return Pending({"not synced/writable": bad, "differ in": differ,
                            "positions": {k: (s["state"], s["epoch"], s["version"], len(s["events"]))
                                          for k, s in snaps.items()}})
        return first

    return wait_until(check, timeout, 0.5, "nodes %s to converge" % [n.name for n in nodes])


def wait_writable(rig, nodes=None, timeout=60):
    """Waits until every given node is synced and writable."""
    for n in _as_nodes(rig, nodes):
        wait_status(rig, n, lambda s: s.get("state") == "synced" and s.get("writable"), timeout,
                    "%s to be synced and writable" % n.name)


def leader_of(rig, timeout=15):
    """The leader's Node, once every live node names the same one."""
    def check():
        names = {n.name: status(n).get("leader") for n in live(rig)}
        values = set(names.values())
        return values.pop() if len(values) == 1 and None not in values else Pending(names)

    return rig.node(wait_until(check, timeout, 0.25, "the nodes to agree on a leader"))


def form(rig, name="t"):
    """Forms a cluster of all the rig's nodes the way users do; returns the
    create reply."""
    return rig.create_cluster(name, token_ms=TOKEN_MS, timeout=60)


def form_subset(rig, nodes, name="t"):
    """Like rig.create_cluster, for some of the rig's nodes only (the others
    get clusterd started, unconfigured): `cluster create` on the first,
    `cluster join` on the rest. Returns the create reply."""
    nodes = _as_nodes(rig, nodes)
    for n in rig.nodes:
        if not n.clusterd_running():
            n.start_clusterd()
    for n in rig.nodes:
        wait_until(lambda n=n: ctl(n, "status").rc == 0, 15, 0.1, "clusterctl status to answer on %s" % n.name)
    args = ["cluster", "create", name]
    for n in nodes:
        args += ["--node", "%s=%s" % (n.name, n.address)]
    reply = ok(nodes[0], *(args + ["--token-timeout", str(TOKEN_MS)]))
    join = reply["join"]
    for n in nodes[1:]:
        ok(n, "cluster", "join", join["url"], "--token", join["token"], "--ca-hash", join["ca_hash"],
           "--name", n.name)
    rig.wait_synced(nodes=nodes, members=[n.name for n in nodes], timeout=60)
    return reply


# --------------------------------------------------------------------------
# Logs
# --------------------------------------------------------------------------


def clusterd_log(node):
    """clusterd's log file on node (readable while the node is down)."""
    path = os.path.join(node.log_dir, "clusterd.log")
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def wait_log(node, pattern, start=0, timeout=15):
    """Waits until clusterd's log on node, from offset start, matches the
    regex pattern; returns the match."""
    rx = re.compile(pattern)

    def check():
        m = rx.search(clusterd_log(node)[start:])
        return m or Pending(clusterd_log(node)[start:][-600:])

    return wait_until(check, timeout, 0.2, "clusterd log of %s to match %r" % (node.name, pattern))


# --------------------------------------------------------------------------
# HTTP with curl inside a node
# --------------------------------------------------------------------------


class HttpReply:
    """status, headers ({lower-case name: value}), raw (bytes), body (text;
    invalid UTF-8 shown as U+FFFD), json (None unless the body is valid
    UTF-8 JSON), utf8 (whether it is valid UTF-8)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.body = raw.decode("utf-8", "replace")
        try:
            raw.decode("utf-8")
            self.utf8 = True
        except UnicodeDecodeError:
            self.utf8 = False
        try:
            self.json = jsonlib.loads(raw.decode("utf-8")) if self.utf8 and raw.strip() else None
        except ValueError:
            self.json = None

    @property
    def error(self):
        """(code, message) of an error reply; asserts the documented shape."""
        j = self.json
        assert isinstance(j, dict) and set(j) == {"error"}, "not an error object: %r" % self.body[:500]
        e = j["error"]
        assert isinstance(e, dict) and set(e) >= {"code", "message"}, "bad error object: %r" % self.body[:500]
        assert isinstance(e["code"], str) and isinstance(e["message"], str) and e["message"], self.body
        return e["code"], e["message"]

    def __repr__(self):
        return "<HttpReply %s %s>" % (self.status, self.body[:300])


def curl(node, path, method="GET", body=None, content_type="application/json", headers=(), tcp=False,
         token=None, cacert=CA_CERT, address=None, timeout=30):
    """One HTTP request from inside node with curl: over the local socket,
    or with tcp=True over HTTPS to address (default the node's own) on port
    7440, verified against cacert, with an optional bearer token. body is a
    str or bytes (sent from a file, so any size works). Returns an HttpReply."""
    args = ["curl", "-sS", "-D", "/tmp/h.txt", "-o", "/tmp/b.txt", "-w", "%{http_code}", "-X", method,
            "--max-time", str(timeout)]
    if tcp:
        url = "https://%s:%d%s" % (address or node.address, rigmod.API_PORT, path)
        if cacert:
            args += ["--cacert", cacert]
        if token:
            args += ["-H", "Authorization: Bearer %s" % token]
    else:
        url = "http://localhost%s" % path
        args += ["--unix-socket", SOCKET]
    if body is not None:
        tag = "%d-%d" % (os.getpid(), time.monotonic_ns())
        req = "/tmp/req-%s" % tag
        node.write_file(req, body if isinstance(body, bytes) else body.encode(), 0o600)
        args += ["--data-binary", "@" + req]
        if content_type is not None:
            args += ["-H", "Content-Type: %s" % content_type]
        else:
            args += ["-H", "Content-Type:"]
    for h in headers:
        args += ["-H", h]
    args.append(url)
    # The body comes back base64-encoded: it need not be valid UTF-8.
    script = ("%s; rc=$?; echo; cat /tmp/h.txt; echo ==BODY==; base64 -w0 /tmp/b.txt; rm -f /tmp/h.txt /tmp/b.txt; "
              "exit $rc" % " ".join(shlex.quote(a) for a in args))
    cp = node.run(script, check=False, timeout=timeout + 10)
    if cp.returncode != 0:
        raise AssertionError("curl %s %s on %s failed (exit %d): %s" % (method, url, node.name, cp.returncode,
                                                                      cp.stderr.strip()))
    code_line, _, rest = cp.stdout.partition("\n")
    head, _, payload = rest.partition("==BODY==\n")
    hdrs = {}
    for line in head.splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
    return HttpReply(int(code_line.strip()), hdrs, base64.b64decode(payload.strip()))


def assert_error(reply, status, code, *words):
    """reply is an HTTP error with this status and code whose message
    contains every word."""
    assert reply.status == status, "expected HTTP %d, got %r" % (status, reply)
    got_code, message = reply.error
    assert got_code == code, "expected code %r, got %r (%s)" % (code, got_code, message)
    for w in words:
        assert w in message, "message %r does not mention %r" % (message, w)
    return message
