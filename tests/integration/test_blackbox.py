# SPDX-License-Identifier: LGPL-2.1-or-later
"""`kill -USR1` makes clusterd write its blackbox (recent messages at every
level, also those below the configured log level) to /var/lib/clusterd, in
the format qb-blackbox(8) reads."""

import os
import re
import shutil
import signal

import pytest

import helpers as h


@pytest.mark.skipif(shutil.which("qb-blackbox", path="/usr/sbin:/usr/bin:/sbin:/bin") is None,
                    reason="qb-blackbox (libqb-tools) is not installed")
def test_sigusr1_writes_a_blackbox_qb_blackbox_reads(rig):
    r = rig(1)
    n1 = r.nodes[0]
    n1.start_clusterd(config={"log": {"level": "info"}})
    pid = n1.clusterd_pids()[0]
    # Logged at debug level: not in the log file at level info.
    marker = "/v1/blackbox-marker-%d" % os.getpid()
    assert h.curl(n1, marker).status == 404
    assert marker not in h.clusterd_log(n1)

    before = set(os.listdir(n1.host_path("/var/lib/clusterd")))
    start = len(h.clusterd_log(n1))
    os.kill(pid, signal.SIGUSR1)
    h.wait_log(n1, r"Wrote the blackbox to '/var/lib/clusterd'", start)

    new = sorted(set(os.listdir(n1.host_path("/var/lib/clusterd"))) - before)
    boxes = [f for f in new if f.startswith("blackbox")]
    assert len(boxes) == 1, new
    path = "/var/lib/clusterd/" + boxes[0]
    assert re.match(r"blackbox-%d-\d+$" % pid, boxes[0]), boxes[0]
    cp = n1.run(["qb-blackbox", path], check=False)
    assert cp.returncode == 0, cp.stderr
    assert "clusterd" in cp.stdout and "starting" in cp.stdout, cp.stdout[-2000:]
    assert marker in cp.stdout, "the blackbox lacks the debug message about %s:\n%s" % (marker, cp.stdout[-2000:])
    # clusterd goes on as before.
    assert n1.clusterd_pids() == [pid]
    assert h.status(n1)["state"] == "unconfigured"
