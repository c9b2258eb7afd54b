#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rig_host.py: the host side of the rig (see rig.py): constants, running
commands, processes and network namespaces, the state files that let a
later run sweep what a crashed one left, and the config emitter. No node
or rig objects live here."""

import argparse
import atexit
import fcntl
import json as jsonlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

PREFIX = "cdr-"
STATE_ROOT = "/var/tmp/clusterd-rig"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
API_PORT = 7440
# The nodes' watchdog timeout: short, so that recovery by watchdog fencing
# is quick in tests, and long enough for a restart of clusterd.
WATCHDOG_TIMEOUT = "5s"

# Directories of a node that survive a reboot: bound from <base_dir>/<node>/<path>.
PERSISTED_DIRS = (
    "/etc/corosync",
    "/var/lib/corosync",
    "/var/log/corosync",
    "/etc/clusterd",
    "/var/lib/clusterd",
    "/var/log/clusterd",
)
# Fresh on every boot of a node, like on a real host.
VOLATILE_DIRS = (("/run", "0755"), ("/dev/shm", "1777"), ("/tmp", "1777"))

NFT_TABLE = "cdrig"
_ID_RE = re.compile(r"^[a-z0-9]{1,8}$")
_SYS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class RigError(Exception):
    """Something in the rig itself went wrong (not in the software under test)."""


class CommandError(RigError):
    """A command failed; the message carries its exit code, stdout and stderr."""

    def __init__(self, where, cmd, returncode, stdout, stderr):
        self.where = where
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        super().__init__(
            "%s: command %s failed with exit code %s\n--- stdout ---\n%s\n--- stderr ---\n%s"
            % (where, _cmd_str(cmd), returncode, _text(stdout).rstrip(), _text(stderr).rstrip())
        )


class NodeDown(RigError):
    """The node has no running holder (it was killed and not restarted)."""


class Pending:
    """A falsy observation for wait_until(): return Pending(what_you_saw) from a
    predicate that is not satisfied yet, and a timeout will show what_you_saw."""

    def __init__(self, observed):
        self.observed = observed

    def __bool__(self):
        return False

    def __repr__(self):
        return repr(self.observed)


def _text(b):
    if b is None:
        return ""
    if isinstance(b, bytes):
        return b.decode("utf-8", "replace")
    return b


def _cmd_str(cmd):
    if isinstance(cmd, str):
        return cmd
    return " ".join(shlex.quote(str(c)) for c in cmd)


def _env(extra=None):
    env = dict(os.environ)
    path = env.get("PATH", "")
    env["PATH"] = _SYS_PATH + (":" + path if path else "")
    env["LC_ALL"] = "C"
    if extra:
        env.update(extra)
    return env


def sh(cmd, check=True, timeout=30, input=None, where="host"):
    """Runs cmd (a list, or a string for sh -c) on the host; returns the
    CompletedProcess (text). Raises CommandError when check and it fails."""
    if isinstance(cmd, str):
        cmd = ["sh", "-c", cmd]
    try:
        cp = subprocess.run(
            cmd,
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            timeout=timeout,
            env=_env(),
            cwd="/",
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as e:
        raise CommandError(where, cmd, "timeout after %ss" % timeout, e.stdout, e.stderr) from None
    if check and cp.returncode != 0:
        raise CommandError(where, cmd, cp.returncode, cp.stdout, cp.stderr)
    return cp


def wait_until(predicate, timeout=30.0, interval=0.25, what="condition"):
    """Calls predicate() until it returns something truthy and returns that.

    Exceptions from predicate count as "not yet". On timeout raises
    TimeoutError naming `what` and the last value observed (a falsy return
    value, e.g. Pending(x), or the last exception)."""
    deadline = time.monotonic() + timeout
    last = "<never evaluated>"
    while True:
        try:
            value = predicate()
            if value:
                return value
            last = repr(value)
        except (RigError, OSError, ValueError, KeyError, TypeError, IndexError) as e:
            last = "%s: %s" % (type(e).__name__, e)
        if time.monotonic() >= deadline:
            raise TimeoutError("timed out after %.1fs waiting for %s; last observed: %s" % (timeout, what, last))
        time.sleep(interval)


# --------------------------------------------------------------------------
# Host-level helpers: namespaces, processes, state files
# --------------------------------------------------------------------------


def _netns_names():
    cp = sh(["ip", "netns", "list"], check=False)
    names = []
    for line in cp.stdout.splitlines():
        if line.strip():
            names.append(line.split()[0])
    return names


def _netns_pids(ns):
    cp = sh(["ip", "netns", "pids", ns], check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def _netns_inode(ns):
    try:
        return os.stat("/run/netns/" + ns).st_ino
    except OSError:
        return None


def _proc_netns_inode(pid):
    try:
        link = os.readlink("/proc/%d/ns/net" % pid)  # "net:[4026532281]"
    except OSError:
        return None
    m = re.match(r"net:\[(\d+)\]", link)
    return int(m.group(1)) if m else None


def _proc_starttime(pid):
    """The process's start time in clock ticks since boot (guards against pid reuse)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    # comm may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[19])


def _proc_comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def _proc_state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return None
    return stat[stat.rfind(")") + 2 :].split()[0]


def _pid_alive(pid, starttime=None):
    if not pid:
        return False
    st = _proc_starttime(pid)
    if st is None:
        return False
    if starttime is not None and st != starttime:
        return False
    return _proc_state(pid) not in ("Z", "X", None)


def _kill(pid, sig):
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False


def stop_group(proc, timeout=10):
    """Stops a subprocess started with start_new_session=True and everything
    in its process group: SIGTERM, then SIGKILL after timeout seconds.
    Idempotent; returns its exit status."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            break
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            if sig == signal.SIGKILL:
                raise
    return proc.returncode


def _kill_netns(ns, timeout=10.0, reap=None):
    """SIGKILLs every process of network namespace ns until none is left."""
    deadline = time.monotonic() + timeout
    while True:
        pids = _netns_pids(ns)
        if not pids:
            return
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        if reap:
            reap()
        if time.monotonic() >= deadline:
            raise RigError("processes of %s survive SIGKILL: %s" % (ns, pids))
        time.sleep(0.05)


def _run_netns_mounted():
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == "/run/netns" for line in f)
    except OSError:
        return False


def _maybe_unmount_run_netns():
    """`ip netns add` mounts /run/netns on itself. Unmount it when the last
    named namespace (ours or anybody's) is gone; leave it otherwise."""
    for _ in range(4):
        if _netns_names() or not _run_netns_mounted():
            return
        sh(["umount", "/run/netns"], check=False)


def _link_exists_in_root(ifname):
    return os.path.exists("/sys/class/net/" + ifname)


class _Lock:
    """An exclusive flock on STATE_ROOT/.lock: serializes rig creation,
    subnet allocation and sweeping between processes."""

    def __enter__(self):
        os.makedirs(STATE_ROOT, exist_ok=True)
        self.fd = os.open(os.path.join(STATE_ROOT, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _state_path(rig_id):
    return os.path.join(STATE_ROOT, rig_id, "state.json")


def _read_state(rig_id):
    try:
        with open(_state_path(rig_id)) as f:
            return jsonlib.load(f)
    except (OSError, ValueError):
        return None


def _write_state(rig_id, state):
    path = _state_path(rig_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        jsonlib.dump(state, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)


def _all_states():
    out = {}
    try:
        entries = os.listdir(STATE_ROOT)
    except FileNotFoundError:
        return out
    for entry in entries:
        if _ID_RE.match(entry):
            st = _read_state(entry)
            if st is not None:
                out[entry] = st
    return out


def _owner_alive(state):
    return _pid_alive(state.get("owner_pid"), state.get("owner_starttime"))


def _rig_namespaces(rig_id):
    return [ns for ns in _netns_names() if ns.startswith(PREFIX + rig_id + "-")]


def _teardown(rig_id, host_if=None, reap=None):
    """Kills every process of the rig's namespaces and deletes them (their
    interfaces and nftables tables go with them) and the host veth."""
    nss = _rig_namespaces(rig_id)
    # Kill first, in every namespace, so that no holder keeps another's alive.
    for ns in nss:
        _kill_netns(ns, reap=reap)
    for ns in nss:
        sh(["ip", "netns", "del", ns], check=False)
    if host_if and _link_exists_in_root(host_if):
        sh(["ip", "link", "del", host_if], check=False)
    left = _rig_namespaces(rig_id)
    if left:
        raise RigError("could not delete namespaces %s" % left)


def _alloc_subnet(states):
    used = set()
    for st in states.values():
        if not st.get("cleaned"):
            used.add(st.get("subnet"))
    for third in range(1, 256):
        cand = "198.18.%d" % third
        if cand not in used:
            return cand
    for third in range(0, 256):
        cand = "198.19.%d" % third
        if cand not in used:
            return cand
    raise RigError("no free test subnet in 198.18.0.0/15")


def _normalize_subnet(subnet):
    s = subnet.split("/")[0]
    parts = s.split(".")
    if len(parts) == 4 and parts[3] == "0":
        parts = parts[:3]
    if len(parts) != 3 or not all(p.isdigit() and 0 <= int(p) <= 255 for p in parts):
        raise ValueError("subnet must look like 198.18.5 or 198.18.5.0/24, not %r" % subnet)
    if not (parts[0] == "198" and parts[1] in ("18", "19")):
        raise ValueError("test subnets live in 198.18.0.0/15, not %r" % subnet)
    return ".".join(parts)


def sweep_stale(include_detached=False, log=None):
    """Removes what rigs whose creating process is gone left behind: their
    processes, namespaces, host veth and directory. Rigs created detached
    (`rig.py up`) are left alone unless include_detached. Namespaces with the
    rig prefix that belong to no known live rig are removed too. Directories
    kept for post-mortem (cleaned rigs) are not touched. Returns the ids swept."""
    swept = []
    say = log or (lambda msg: None)
    with _Lock():
        states = _all_states()
        live_ids = set()
        for rig_id, st in states.items():
            if st.get("cleaned"):
                continue
            if _owner_alive(st) or (st.get("detached") and not include_detached):
                live_ids.add(rig_id)
                continue
            say("sweeping stale rig %s (owner pid %s gone)" % (rig_id, st.get("owner_pid")))
            _teardown(rig_id, st.get("host_if"))
            for d in {st.get("base_dir"), os.path.join(STATE_ROOT, rig_id)}:
                if d:
                    shutil.rmtree(d, ignore_errors=True)
            swept.append(rig_id)
        # Namespaces nobody owns (e.g. a state dir deleted by hand).
        orphans = {}
        for ns in _netns_names():
            if ns.startswith(PREFIX):
                rig_id = ns[len(PREFIX) :].split("-")[0]
                if rig_id not in live_ids:
                    orphans.setdefault(rig_id, []).append(ns)
        for rig_id in orphans:
            say("sweeping orphaned namespaces %s" % orphans[rig_id])
            _teardown(rig_id, PREFIX + rig_id + "-h")
            if rig_id not in swept:
                swept.append(rig_id)
        # Host veths of rigs that are gone.
        try:
            ifaces = os.listdir("/sys/class/net")
        except OSError:
            ifaces = []
        for ifname in ifaces:
            m = re.match(r"^%s([a-z0-9]{1,8})-h$" % re.escape(PREFIX), ifname)
            if m and m.group(1) not in live_ids:
                sh(["ip", "link", "del", ifname], check=False)
        _maybe_unmount_run_netns()
    return swept


# Rigs this process owns and must clean up at exit.
_live_rigs = {}
_live_lock = threading.Lock()
_handlers_installed = False


def _cleanup_at_exit():
    with _live_lock:
        rigs = list(_live_rigs.values())
    for rig in rigs:
        try:
            rig.cleanup(keep_dir=True)
            sys.stderr.write("rig %s: cleaned up at exit; its files are kept in %s\n" % (rig.id, rig.base_dir))
        except Exception as e:  # exit path: report and go on with the others
            sys.stderr.write("rig %s: cleanup at exit failed: %s\n" % (rig.id, e))


def _on_signal(signum, frame):
    # KeyboardInterrupt unwinds pytest and the CLI alike; atexit then cleans up.
    raise KeyboardInterrupt("signal %d" % signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_cleanup_at_exit)
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _on_signal)


# --------------------------------------------------------------------------
# A tiny YAML emitter: JSON scalars and flow lists are valid YAML.
# --------------------------------------------------------------------------


def _yaml(obj, indent=0):
    pad = "  " * indent
    lines = []
    for key, value in obj.items():
        if isinstance(value, dict):
            lines.append("%s%s:" % (pad, key))
            lines.append(_yaml(value, indent + 1))
        else:
            lines.append("%s%s: %s" % (pad, key, jsonlib.dumps(value)))
    return "\n".join(lines)


def _merge(base, extra):
    out = dict(base)
    for k, v in (extra or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        elif v is None:
            out.pop(k, None)
        else:
            out[k] = v
    return out
