# SPDX-License-Identifier: LGPL-2.1-or-later
"""Runs OCF agents the way an executor does, for tests/agents/*.py.

An action runs with a clean environment (PATH, the OCF_* variables and the
parameters as OCF_RESKEY_*), with stdout and stderr captured, and is judged
by its exit code. Python standard library only.
"""

import os
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

OCF_SUCCESS = 0
OCF_ERR_GENERIC = 1
OCF_ERR_ARGS = 2
OCF_ERR_UNIMPLEMENTED = 3
OCF_ERR_INSTALLED = 5
OCF_ERR_CONFIGURED = 6
OCF_NOT_RUNNING = 7

SKIP = 77

BUILDDIR = os.path.abspath(os.environ.get("top_builddir", "."))
SRCDIR = os.path.abspath(os.environ.get("top_srcdir", os.path.join(os.path.dirname(__file__), "..", "..")))
LIBEXECDIR = os.environ.get("CLUSTERD_LIBEXECDIR", os.path.join(BUILDDIR, "agents"))


def agent_path(name):
    return os.path.join(BUILDDIR, "agents", name)


class Result:
    def __init__(self, rc, stdout, stderr, seconds):
        self.rc = rc
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds

    def __repr__(self):
        return "rc=%d in %.2fs, stderr=%r" % (self.rc, self.seconds, self.stderr.strip()[-600:])


def run(agent, action, params=None, instance="test", timeout_ms=None, env=None, prefix=None, limit=60):
    """Runs `agent action`; params become OCF_RESKEY_*; timeout_ms is what
    the executor passes as OCF_RESKEY_CRM_meta_timeout. prefix is a command
    to run the agent under (e.g. nsenter)."""
    e = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "LC_ALL": "C",
        "OCF_ROOT": "/usr/lib/ocf",
        "OCF_RA_VERSION_MAJOR": "1",
        "OCF_RA_VERSION_MINOR": "1",
        "OCF_RESOURCE_INSTANCE": instance,
        "OCF_RESOURCE_TYPE": os.path.basename(agent),
        "CLUSTERD_LIBEXECDIR": LIBEXECDIR,
    }
    for k, v in (params or {}).items():
        e["OCF_RESKEY_" + k] = str(v)
    if timeout_ms is not None:
        e["OCF_RESKEY_CRM_meta_timeout"] = str(timeout_ms)
    if env:
        e.update(env)
    cmd = list(prefix or []) + [agent, action]
    t0 = time.monotonic()
    p = subprocess.run(cmd, env=e, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       errors="replace", timeout=limit)
    return Result(p.returncode, p.stdout, p.stderr, time.monotonic() - t0)


class Checker:
    """Collects results; prints one line per check, like TAP."""

    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.count = 0
        self.t0 = time.monotonic()

    def check(self, ok, what, detail=None):
        self.count += 1
        if ok:
            print("ok %d - %s" % (self.count, what))
        else:
            self.failed += 1
            print("not ok %d - %s%s" % (self.count, what, (": %s" % detail) if detail is not None else ""))
        sys.stdout.flush()
        return ok

    def rc(self, result, expected, what):
        return self.check(result.rc == expected, "%s -> %d" % (what, expected), result)

    def reason(self, result, needle, what):
        """The failure reason (ocf-exit-reason:) contains needle."""
        lines = [l[len("ocf-exit-reason:"):] for l in result.stderr.splitlines() if l.startswith("ocf-exit-reason:")]
        return self.check(any(needle in l for l in lines), "%s: reason mentions %r" % (what, needle), result)

    def skip(self, what):
        print("ok - # SKIP %s" % what)
        sys.stdout.flush()

    def done(self):
        print("%s: %d checks, %d failed, %.1fs" % (self.name, self.count, self.failed, time.monotonic() - self.t0))
        return 1 if self.failed else 0


def meta_data_ok(c, agent, params, actions):
    """meta-data is well-formed XML that lists params and actions, each
    action with a timeout."""
    r = run(agent, "meta-data")
    c.rc(r, OCF_SUCCESS, "%s meta-data" % os.path.basename(agent))
    try:
        root = ET.fromstring(r.stdout)
    except ET.ParseError as ex:
        c.check(False, "meta-data parses as XML", ex)
        return
    # resource-agents ships the OCF DTD; validate against it when it is there.
    dtd = "/usr/share/resource-agents/ra-api-1.dtd"
    if os.path.exists(dtd) and shutil.which("xmllint"):
        p = subprocess.run(["xmllint", "--noout", "--nonet", "--dtdvalid", dtd, "-"], input=r.stdout,
                           capture_output=True, text=True)
        c.check(p.returncode == 0, "meta-data is valid against %s" % dtd, p.stderr[-600:])
    have_params = {p.get("name") for p in root.iter("parameter")}
    have_actions = {a.get("name"): a.get("timeout") for a in root.iter("action")}
    c.check(set(params) <= have_params, "meta-data lists parameters %s" % sorted(params), sorted(have_params))
    c.check(set(actions) <= set(have_actions) and all(have_actions.values()),
            "meta-data lists actions %s, each with a timeout" % sorted(actions), have_actions)


def process_gone(pid):
    """Gone, or a zombie nobody reaped yet (it runs nothing any more)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True
