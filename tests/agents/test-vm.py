#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ocf:clusterd:vm with real QEMU (KVM when usable, and TCG), and with fake
QMP peers that misbehave. No disk is needed: a guest without bootable media
sits in its firmware, and QEMU reports it as running."""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentlib import *  # noqa: E402,F401,F403

VM = agent_path("vm")
QEMU = "/usr/bin/qemu-system-x86_64"
FAKE_QMP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fake-qmp.py")


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (FileNotFoundError, ValueError):
        return None


def stat_fields(pid):
    """(state, ppid, session) of pid."""
    with open("/proc/%d/stat" % pid) as f:
        rest = f.read().rsplit(")", 1)[1].split()
    return rest[0], int(rest[1]), int(rest[3])


def wait_for(cond, seconds):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def main():
    if not os.access(QEMU, os.X_OK):
        print("SKIP: %s is not installed (apt-get install qemu-system-x86)" % QEMU)
        return SKIP
    c = Checker("test-vm")
    # A short directory: the QMP socket's path must fit in sun_path.
    run_dir = tempfile.mkdtemp(prefix="cdvm-", dir="/tmp")
    name = "cdtest-%d" % os.getpid()
    base = {"name": name, "memory": 64, "run_dir": run_dir}
    try:
        test_config(c, base, run_dir)
        test_lifecycle(c, base, run_dir)
        test_tcg_and_frozen_stop(c, base, run_dir)
        test_fake_peers(c, base, run_dir)
    finally:
        cleanup(run_dir, name)
        shutil.rmtree(run_dir, ignore_errors=True)
    return c.done()


def cleanup(run_dir, name):
    """Whatever a failed check left running."""
    pid = read_pid(os.path.join(run_dir, name + ".pid"))
    if pid:
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if b"\0-name\0" + name.encode() + b"\0" in b"\0" + f.read():
                    os.kill(pid, signal.SIGKILL)
        except (FileNotFoundError, ProcessLookupError):
            pass


def test_config(c, base, run_dir):
    meta_data_ok(c, VM, ["name", "memory", "vcpus", "machine", "accel", "disks", "nics", "kernel", "append",
                         "serial", "run_dir", "shutdown_timeout"],
                 ["start", "stop", "monitor", "meta-data", "validate-all"])
    c.rc(run(VM, "validate-all", base), OCF_SUCCESS, "validate-all")
    cases = [
        (dict(base, extra="-device foo"), OCF_ERR_CONFIGURED, "parameter 'extra' (\"-device foo\") is refused"),
        (dict(base, memory="lots"), OCF_ERR_CONFIGURED, "parameter 'memory': expected an integer"),
        (dict(base, name="no spaces"), OCF_ERR_CONFIGURED, "parameter 'name'"),
        (dict(base, memroy=64), OCF_ERR_CONFIGURED, "unknown parameter 'memroy'"),
        (dict(base, disks="/nonexistent/a.img:raw:ide"), OCF_ERR_INSTALLED, "'/nonexistent/a.img'"),
        (dict(base, nics="bridge=cdnobr0"), OCF_ERR_INSTALLED, "bridge 'cdnobr0'"),
        ({"memory": 64}, OCF_ERR_CONFIGURED, "parameter 'name' is required"),
    ]
    for params, rc, needle in cases:
        shown = {k: v for k, v in params.items() if k != "run_dir"}
        r = run(VM, "validate-all", params)
        c.rc(r, rc, "validate-all with %s" % shown)
        c.reason(r, needle, "validate-all with %s" % shown)
    r = run(VM, "start", dict(base, extra="-device foo"))
    c.rc(r, OCF_ERR_CONFIGURED, "start with extra")
    c.rc(run(VM, "migrate_to", base), OCF_ERR_UNIMPLEMENTED, "migrate_to")
    c.rc(run(VM, "migrate_from", base), OCF_ERR_UNIMPLEMENTED, "migrate_from")
    c.rc(run(VM, "reload", base), OCF_ERR_UNIMPLEMENTED, "an unknown action")
    c.rc(run(VM, "", base), OCF_ERR_ARGS, "no action")

    r = run(VM, "start", dict(base, machine="cdnosuchmachine"), timeout_ms=20000)
    c.rc(r, OCF_ERR_GENERIC, "start with a machine type QEMU does not know")
    c.reason(r, "QEMU failed to start", "start with a bad machine type")
    c.reason(r, "unsupported machine type", "start with a bad machine type (QEMU's own message)")
    c.rc(run(VM, "monitor", base), OCF_NOT_RUNNING, "monitor after the failed start")


def test_lifecycle(c, base, run_dir):
    pid_file = os.path.join(run_dir, base["name"] + ".pid")
    qmp_sock = os.path.join(run_dir, base["name"] + ".qmp")
    c.rc(run(VM, "monitor", base), OCF_NOT_RUNNING, "monitor before start (probe)")
    c.rc(run(VM, "stop", base), OCF_SUCCESS, "stop of a VM that is not running")

    # Start from an "executor" that then dies with its whole process group,
    # as clusterd would if it crashed: the VM must live on.
    rc_file = os.path.join(run_dir, "start.rc")
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "OCF_RESOURCE_INSTANCE": "vm1",
           "OCF_RESKEY_CRM_meta_timeout": "30000"}
    env.update({"OCF_RESKEY_" + k: str(v) for k, v in base.items()})
    t0 = time.monotonic()
    executor = subprocess.Popen(["/bin/sh", "-c", '"$0" start; echo $? >"$1"; exec sleep 60', VM, rc_file],
                                env=env, start_new_session=True, stdin=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
    wait_for(lambda: os.path.exists(rc_file) and open(rc_file).read().strip(), 30)
    took = time.monotonic() - t0
    rc = open(rc_file).read().strip()
    c.check(rc == "0", "start -> 0 (in %.1fs)" % took, rc)
    pid = read_pid(pid_file)
    c.check(pid is not None, "QEMU wrote its pid file")
    if pid is None:
        executor.kill()
        return
    state, ppid, sid = stat_fields(pid)
    c.check(ppid not in (executor.pid, os.getpid()) and sid != os.getsid(executor.pid),
            "QEMU is detached from the agent and its executor (ppid %d, own session)" % ppid)
    os.killpg(executor.pid, signal.SIGKILL)
    executor.wait()
    c.check(not process_gone(pid), "QEMU survives its executor's process group being killed")
    c.rc(run(VM, "monitor", base), OCF_SUCCESS, "monitor after start")
    r = run(VM, "start", base)
    c.rc(r, OCF_SUCCESS, "start of a running VM")
    c.check("already running" in r.stderr, "start says it is already running", r)

    # A lost pid file must not make the VM look stopped: a second start
    # would run it twice.
    os.unlink(pid_file)
    c.rc(run(VM, "monitor", base), OCF_SUCCESS, "monitor finds the VM without its pid file")
    r = run(VM, "start", base)
    c.check(r.rc == OCF_SUCCESS and "already running (pid %d" % pid in r.stderr,
            "start without the pid file finds the running VM instead of starting a second", r)

    # Hung QEMU: monitor must fail within its own timeout.
    os.kill(pid, signal.SIGSTOP)
    try:
        r = run(VM, "monitor", base, timeout_ms=3000)
        c.rc(r, OCF_ERR_GENERIC, "monitor of a frozen QEMU (SIGSTOP)")
        c.check(r.seconds < 3.0, "monitor of a frozen QEMU answers within its 3s timeout (%.1fs)" % r.seconds)
        c.reason(r, "is not answering on QMP", "monitor of a frozen QEMU")
    finally:
        os.kill(pid, signal.SIGCONT)
    c.rc(run(VM, "monitor", base), OCF_SUCCESS, "monitor after SIGCONT")

    # Stop: ACPI (which a guest without an OS ignores), then quit. The
    # parameters have become invalid meanwhile: stop must still work.
    r = run(VM, "stop", dict(base, shutdown_timeout=1, memory="lots"), timeout_ms=20000)
    c.rc(r, OCF_SUCCESS, "stop (with an invalid 'memory' by now)")
    c.check("ACPI" in r.stderr, "stop asked the guest to power off first", r)
    c.check(wait_for(lambda: process_gone(pid), 2), "QEMU is gone after stop")
    c.check(not os.path.exists(pid_file) and not os.path.exists(qmp_sock), "stop removed the pid file and socket")
    c.rc(run(VM, "monitor", base), OCF_NOT_RUNNING, "monitor after stop")
    c.rc(run(VM, "stop", base), OCF_SUCCESS, "stop again")


def test_tcg_and_frozen_stop(c, base, run_dir):
    params = dict(base, accel="tcg", vcpus=2, machine="pc")
    pid_file = os.path.join(run_dir, base["name"] + ".pid")
    r = run(VM, "start", params, timeout_ms=30000)
    c.rc(r, OCF_SUCCESS, "start with accel=tcg")
    c.check("TCG" in r.stderr, "started with TCG", r)
    c.rc(run(VM, "monitor", params), OCF_SUCCESS, "monitor (TCG)")
    pid = read_pid(pid_file)
    if not pid:
        return
    # Stop must end with the VM gone even when QEMU cannot answer at all.
    os.kill(pid, signal.SIGSTOP)
    r = run(VM, "stop", dict(params, shutdown_timeout=0), timeout_ms=10000)
    c.rc(r, OCF_SUCCESS, "stop of a frozen QEMU")
    c.check(r.seconds < 8, "stop of a frozen QEMU within its timeout (%.1fs)" % r.seconds)
    c.check(wait_for(lambda: process_gone(pid), 2), "the frozen QEMU is gone")
    c.rc(run(VM, "monitor", params), OCF_NOT_RUNNING, "monitor after stopping the frozen QEMU")


def test_fake_peers(c, base, run_dir):
    """Something that is not a healthy QEMU listens on the QMP socket:
    monitor reports an error quickly, with a clear message, and stop still
    gets rid of the process."""
    pid_file = os.path.join(run_dir, base["name"] + ".pid")
    qmp_sock = os.path.join(run_dir, base["name"] + ".qmp")
    cases = [
        ("silent", OCF_ERR_GENERIC, "no greeting within"),
        ("close", OCF_ERR_GENERIC, "closed by the peer"),
        ("garbage", OCF_ERR_GENERIC, "not a QMP message"),
        ("huge", OCF_ERR_GENERIC, "longer than 1048576 bytes without a line end"),
        ("bad-status", OCF_ERR_GENERIC, "\"status\" is not a run state name"),
        ("panicked", OCF_ERR_GENERIC, "run state 'guest-panicked'"),
        ("postmigrate", OCF_NOT_RUNNING, None),
    ]
    for mode, rc, needle in cases:
        fake = subprocess.Popen([sys.executable, FAKE_QMP, mode, "-name", base["name"], "-pidfile", pid_file,
                                 "-qmp", "unix:%s,server=on,wait=off" % qmp_sock], stdin=subprocess.DEVNULL)
        try:
            if not c.check(wait_for(lambda: read_pid(pid_file) == fake.pid, 5), "fake QMP peer '%s' listens" % mode):
                continue
            r = run(VM, "monitor", base, timeout_ms=2000)
            c.rc(r, rc, "monitor against a QMP peer that is '%s'" % mode)
            c.check(r.seconds < 2.0, "... within the 2s timeout (%.1fs)" % r.seconds)
            if needle:
                c.reason(r, needle, "monitor against '%s'" % mode)
                c.check(all(ch >= " " for l in r.stderr.splitlines() for ch in l),
                        "... and the message is printable", r)
            r = run(VM, "stop", dict(base, shutdown_timeout=0), timeout_ms=6000)
            c.rc(r, OCF_SUCCESS, "stop of the '%s' peer" % mode)
            c.check(fake.wait(timeout=5) is not None, "the '%s' peer is gone after stop" % mode)
        finally:
            if fake.poll() is None:
                fake.kill()
                fake.wait()


if __name__ == "__main__":
    sys.exit(main())
