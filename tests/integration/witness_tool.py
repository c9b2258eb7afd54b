# SPDX-License-Identifier: LGPL-2.1-or-later
"""Driving tests/witness/witness-tool from the backend tests
(test_witness_smb.py, test_witness_azure.py): where the tool is, what one
run printed, and the sweep of namespaces a dead run of a test left."""

import os
import re
import sys

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

