#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ocf:clusterd:dummy run as an executor runs it, and one of Debian's
resource-agents (ocf:heartbeat:Dummy) through the same harness."""

import os
import shutil
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentlib import *  # noqa: E402,F401,F403

DUMMY = agent_path("dummy")
DEBIAN_DUMMY = "/usr/lib/ocf/resource.d/heartbeat/Dummy"


def main():
    c = Checker("test-dummy")
    tmp = tempfile.mkdtemp(prefix="clusterd-dummy-")
    try:
        test_dummy(c, tmp)
        test_debian(c, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return c.done()


def test_dummy(c, tmp):
    rsctmp = os.path.join(tmp, "rsc")
    env = {"HA_RSCTMP": rsctmp}
    state = os.path.join(rsctmp, "dummy-d1.state")

    def act(action, params=None, instance="d1", extra_env=None, **kw):
        return run(DUMMY, action, params, instance=instance, env=dict(env, **(extra_env or {})), **kw)

    meta_data_ok(c, DUMMY, ["state", "fake_start_delay", "fake_stop_delay", "fail_monitor_file"],
                 ["start", "stop", "monitor", "migrate_to", "migrate_from", "meta-data", "validate-all"])
    c.rc(act("validate-all"), OCF_SUCCESS, "validate-all")

    # The lifecycle, with the default state file under HA_RSCTMP.
    c.rc(act("monitor"), OCF_NOT_RUNNING, "monitor before start (probe)")
    c.rc(act("stop"), OCF_SUCCESS, "stop of a stopped resource")
    c.rc(act("start"), OCF_SUCCESS, "start")
    c.check(os.path.isfile(state), "start wrote %s" % state)
    c.rc(act("monitor"), OCF_SUCCESS, "monitor after start")
    c.rc(act("start"), OCF_SUCCESS, "start of a started resource")
    c.rc(act("monitor", instance="other"), OCF_NOT_RUNNING, "another instance is not running")
    c.rc(act("stop"), OCF_SUCCESS, "stop")
    c.check(not os.path.exists(state), "stop removed the state file")
    c.rc(act("monitor"), OCF_NOT_RUNNING, "monitor after stop")

    # Failure injection: a started resource fails its monitor while the
    # file exists; once stopped it is simply not running.
    fail_file = os.path.join(tmp, "fail")
    params = {"fail_monitor_file": fail_file}
    c.rc(act("start", params), OCF_SUCCESS, "start (with fail_monitor_file)")
    c.rc(act("monitor", params), OCF_SUCCESS, "monitor while the fail file is absent")
    open(fail_file, "w").close()
    r = act("monitor", params)
    c.rc(r, OCF_ERR_GENERIC, "monitor while the fail file exists")
    c.reason(r, fail_file, "monitor failure")
    c.rc(act("stop", params), OCF_SUCCESS, "stop of the failed resource")
    c.rc(act("monitor", params), OCF_NOT_RUNNING, "monitor of the stopped resource, fail file still there")
    os.unlink(fail_file)

    # Slow starts and stops.
    r = act("start", {"fake_start_delay": "0.6"})
    c.check(r.rc == OCF_SUCCESS and r.seconds >= 0.6, "fake_start_delay=0.6 makes start take 0.6s", r)
    r = act("stop", {"fake_stop_delay": "0.4"})
    c.check(r.rc == OCF_SUCCESS and r.seconds >= 0.4, "fake_stop_delay=0.4 makes stop take 0.4s", r)

    # Migration: migrate_to stops it on the source, migrate_from starts it
    # on the target (two nodes' state files here).
    src = {"state": os.path.join(tmp, "node-a", "m.state")}
    dst = {"state": os.path.join(tmp, "node-b", "m.state")}
    c.rc(act("start", src), OCF_SUCCESS, "start on the source")
    r = act("migrate_to", src, extra_env={"OCF_RESKEY_CRM_meta_migrate_target": "node-b"})
    c.rc(r, OCF_SUCCESS, "migrate_to")
    c.check("migrating to node-b" in r.stderr, "migrate_to names the target", r)
    c.rc(act("monitor", src), OCF_NOT_RUNNING, "not running on the source after migrate_to")
    r = act("migrate_from", dst, extra_env={"OCF_RESKEY_CRM_meta_migrate_source": "node-a"})
    c.rc(r, OCF_SUCCESS, "migrate_from")
    c.rc(act("monitor", dst), OCF_SUCCESS, "running on the target after migrate_from")
    c.rc(act("stop", dst), OCF_SUCCESS, "stop on the target")

    # Bad configuration names the parameter and its value.
    r = act("start", {"fake_start_delay": "soon"})
    c.rc(r, OCF_ERR_CONFIGURED, "fake_start_delay=soon")
    c.reason(r, "parameter 'fake_start_delay': expected seconds, got \"soon\"", "fake_start_delay=soon")
    r = act("monitor", {"state": "relative/path"})
    c.rc(r, OCF_ERR_CONFIGURED, "state=relative/path")
    c.reason(r, "relative/path", "state=relative/path")
    r = act("start", {"stat": "/tmp/x"})
    c.rc(r, OCF_ERR_CONFIGURED, "a misspelt parameter")
    c.reason(r, "unknown parameter 'stat'", "a misspelt parameter")
    c.rc(act("start", {"CRM_meta_interval": "0", "crm_feature_set": "3.16.2"}), OCF_SUCCESS,
         "the executor's own OCF_RESKEY_CRM_meta_* and crm_feature_set are accepted")
    c.rc(act("stop"), OCF_SUCCESS, "stop")
    r = run(DUMMY, "monitor", instance="", env=env)
    c.rc(r, OCF_ERR_CONFIGURED, "no OCF_RESOURCE_INSTANCE and no state")

    # Actions.
    r = act("reload")
    c.rc(r, OCF_ERR_UNIMPLEMENTED, "an unknown action")
    r = run(DUMMY, "", env=env)
    c.rc(r, OCF_ERR_ARGS, "no action")
    c.rc(act("usage"), OCF_SUCCESS, "usage")

    # The shell agents are POSIX sh: dash (Debian's /bin/sh) and busybox
    # run them when available.
    for sh in ("/bin/dash", "/bin/busybox"):
        if not os.path.exists(sh):
            continue
        prefix = [sh, "sh"] if sh.endswith("busybox") else [sh]
        r1 = act("start", prefix=prefix)
        r2 = act("monitor", prefix=prefix)
        r3 = act("stop", prefix=prefix)
        c.check((r1.rc, r2.rc, r3.rc) == (0, 0, 0), "start/monitor/stop under %s" % sh, (r1, r2, r3))


def test_debian(c, tmp):
    """One agent from Debian's resource-agents, to show that the harness
    (and so the executor's conventions) fit real OCF agents."""
    if not os.access(DEBIAN_DUMMY, os.X_OK):
        c.skip("%s is not installed (apt-get install resource-agents)" % DEBIAN_DUMMY)
        return
    rsctmp = os.path.join(tmp, "debian")
    os.makedirs(rsctmp)
    env = {"HA_RSCTMP": rsctmp, "OCF_ROOT": "/usr/lib/ocf"}

    def act(action):
        return run(DEBIAN_DUMMY, action, instance="deb1", env=env)

    meta_data_ok(c, DEBIAN_DUMMY, ["state"], ["start", "stop", "monitor", "meta-data", "validate-all"])
    c.rc(act("monitor"), OCF_NOT_RUNNING, "ocf:heartbeat:Dummy monitor before start")
    c.rc(act("start"), OCF_SUCCESS, "ocf:heartbeat:Dummy start")
    c.rc(act("monitor"), OCF_SUCCESS, "ocf:heartbeat:Dummy monitor")
    c.rc(act("stop"), OCF_SUCCESS, "ocf:heartbeat:Dummy stop")
    c.rc(act("monitor"), OCF_NOT_RUNNING, "ocf:heartbeat:Dummy monitor after stop")


if __name__ == "__main__":
    sys.exit(main())
