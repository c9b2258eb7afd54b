# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driving tests/witness/witness-tool from the backend tests
(test_witness_smb.py, test_witness_azure.py): where the tool is, what one
run printed, and the sweep of namespaces a dead run of a test left."""

import os
import re
import secrets
import shutil
import subprocess
import sys
import time

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig as rigmod  # noqa: E402

RESULT_RE = re.compile(r"^result=(?P<result>[a-z]+) tag=(?P<tag>.*)$")


def tool_path():
    builddir = os.environ.get("CLUSTERD_BUILDDIR", rigmod.REPO_ROOT)
    return os.path.join(builddir, "tests", "witness", "witness-tool")


class Reply:
    """What one witness-tool run printed."""

    def __init__(self, cp, seconds):
        self.rc = cp.returncode
        self.stdout = cp.stdout
        self.stderr = cp.stderr
        self.seconds = seconds
        self.result = None
        self.tag = None
        self.text = None
        lines = cp.stdout.split("\n")
        m = RESULT_RE.match(lines[0]) if lines else None
        if m:
            self.result = m.group("result")
            self.tag = m.group("tag")
            if len(lines) > 1 and lines[1] == "--":
                self.text = "\n".join(lines[2:])

    @property
    def error(self):
        """The tool's `error: ...` lines, joined."""
        return " ".join(line[len("error: "):] for line in self.stderr.splitlines() if line.startswith("error: "))

    def __repr__(self):
        return "<Reply rc=%r result=%r tag=%r %.2fs stdout=%r stderr=%r>" % (
            self.rc, self.result, self.tag, self.seconds, self.stdout[:300], self.stderr[:600])


def sweep_stale_namespaces(prefix):
    """Removes namespaces earlier runs of this module left (their creator died)."""
    for ns in rigmod._netns_names():
        if not ns.startswith(prefix):
            continue
        pid = ns[len(prefix):]
        if not pid.isdigit() or rigmod._pid_alive(int(pid)):
            continue
        rigmod._kill_netns(ns)
        rigmod.sh(["ip", "netns", "del", ns], check=False)



class ToolEnv:
    """A backend test module's own network namespace (NS_PREFIX + pid) and
    witness-tool run in it. A subclass sets ns_prefix and starts its server
    in start() (after make_namespace) and stops it in stop() (before
    drop_namespace)."""

    ns_prefix = None

    def __init__(self, workdir):
        self.ns = "%s%d" % (self.ns_prefix, os.getpid())
        self.prefix = ["ip", "netns", "exec", self.ns]
        self.dir = workdir
        self.tool = tool_path()
        self.n = 0

    def make_namespace(self, addresses):
        sweep_stale_namespaces(self.ns_prefix)
        rigmod.sh(["ip", "netns", "add", self.ns])
        rigmod.sh(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        for a in addresses:
            rigmod.sh(["ip", "-n", self.ns, "addr", "add", a + "/32", "dev", "lo"])

    def drop_namespace(self):
        if self.ns in rigmod._netns_names():
            rigmod._kill_netns(self.ns)
            rigmod.sh(["ip", "netns", "del", self.ns], check=False)
        rigmod._maybe_unmount_run_netns()

    def credentials(self, **values):
        """A credentials file (root, 0600) with values (username=..., account_key=...)."""
        self.n += 1
        path = os.path.join(self.dir, "cred-%d" % self.n)
        with open(path, "w") as f:
            f.write("# written by the witness backend tests\n")
            for k, v in values.items():
                f.write("%s = %s\n" % (k.replace("_", "-"), v))
        os.chmod(path, 0o600)
        return path

    def name(self, what):
        """A fresh object name per test, so that tests do not see each other's objects."""
        self.n += 1
        return "clusterd-witness-%s-%d" % (what, self.n)

    def text_file(self, text):
        self.n += 1
        path = os.path.join(self.dir, "text-%d" % self.n)
        with open(path, "w") as f:
            f.write(text)
        return path

    def tool_env(self):
        return rigmod._env()

    def tool_cmd(self, url, cred, *args, timeout_ms=5000):
        cmd = self.prefix + [self.tool, "--url", url, "--credentials", cred, "--timeout-ms", str(timeout_ms)]
        return cmd + [str(a) for a in args]

    def tool_run(self, url, cred, *args, timeout_ms=5000):
        t0 = time.monotonic()
        cp = subprocess.run(self.tool_cmd(url, cred, *args, timeout_ms=timeout_ms), capture_output=True, text=True,
                            timeout=120, env=self.tool_env())
        return Reply(cp, time.monotonic() - t0)

    def run_together(self, cmds):
        """Starts every command at once; their Replies, in order."""
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=self.tool_env()) for cmd in cmds]
        replies = []
        for proc in procs:
            out, err = proc.communicate(timeout=60)
            replies.append(Reply(subprocess.CompletedProcess(proc.args, proc.returncode, out, err), 0.0))
        return replies

    def race(self, url, cred, name, expect_tag, generation, writers=5):
        """Writers write generation at once, each expecting expect_tag:
        exactly one succeeds, and a read shows its text. Returns its tag."""
        replies = self.run_together([self.tool_cmd(url, cred, "write", name, expect_tag, generation,
                                                   self.text_file("writer %d generation %d\n" % (i, generation)))
                                     for i in range(writers)])
        results = sorted(r.result for r in replies)
        assert results == ["conflict"] * (writers - 1) + ["ok"], replies
        winner = replies[[r.result for r in replies].index("ok")]
        got = self.read(url, cred, name)
        assert got.tag == winner.tag and got.text.endswith("generation %d\n" % generation), (got, replies)
        return winner.tag

    def read(self, url, cred, name, **kw):
        r = self.tool_run(url, cred, "read", name, **kw)
        assert r.rc == 0, r
        return r

    def write(self, url, cred, name, expect_tag, text, generation=1, **kw):
        r = self.tool_run(url, cred, "write", name, expect_tag or "-", generation, self.text_file(text), **kw)
        assert r.rc == 0, r
        return r


def module_env(request, missing, make_env, state_root, kept_what):
    """The body of a backend test module's `env` fixture: skips when the
    server (missing: why, or None) or the tool is missing, runs make_env(
    workdir) started, and keeps the work directory only when a test failed."""
    if missing:
        pytest.skip(missing)
    if not os.access(tool_path(), os.X_OK):
        pytest.skip("%s is not built (make, or set CLUSTERD_BUILDDIR)" % tool_path())
    workdir = os.path.join(state_root, "%d-%s" % (os.getpid(), secrets.token_hex(3)))
    os.makedirs(workdir)
    failed_before = request.session.testsfailed
    e = make_env(workdir)
    try:
        e.start()
        yield e
    finally:
        e.stop()
        if request.session.testsfailed == failed_before:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            sys.stderr.write("\nwitness test files kept (%s): %s\n" % (kept_what, workdir))
