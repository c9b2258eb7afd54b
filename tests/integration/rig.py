#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rig.py: a multi-node cluster on one host, built from Linux namespaces.

A rig is N "nodes" and one "switch":

* the switch is a network namespace holding a Linux bridge, br0;
* every node is a network namespace with one veth, eth0 (address
  <subnet>.<i>/24), whose peer (named after the node) is a port of br0;
* every node also has its own mount and UTS namespace, held by a long-lived
  holder process (`sleep infinity`). In it the node's persistent directories
  (under <base_dir>/<node>/) are bound onto /etc/corosync, /var/lib/corosync,
  /var/log/corosync, /etc/clusterd, /var/lib/clusterd and /var/log/clusterd,
  and /run, /dev/shm and /tmp are fresh tmpfs. corosync and all its clients
  (clusterd, corosync-quorumtool, ...) must share that mount namespace: libqb
  keeps its shared-memory rings in /dev/shm.

Everything a rig creates is named after its id: namespaces cdr-<id>-<node>
and cdr-<id>-sw, the optional host veth cdr-<id>-h, the directory
/var/tmp/clusterd-rig/<id>/ with state.json. A rig never touches an address
or interface outside its namespaces, except the host veth that the demo asks
for with host_address=True.

Faults: Node.kill9() (power loss), Node.restart() (boot), Node.sigstop()
/ sigcont() (a hung host), Node.cut_link() / restore_link() (cable pulled),
Rig.partition() / heal() (nftables drops between groups of nodes).

Only the standard library is used. Run as root with /usr/bin/python3.
The same file is a small CLI: `rig.py up|down|status|shell|run|...`, see
`rig.py --help`.
"""

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


# --------------------------------------------------------------------------
# Nodes
# --------------------------------------------------------------------------


class Node:
    """One node of a rig. Attributes: name ("n1"), index (1..), address
    ("198.18.5.1"), dir (its persistent directory on the host), ns (its
    network namespace), holder_pid (None while the node is down)."""

    def __init__(self, rig, index, holder_pid=None, holder_starttime=None):
        self.rig = rig
        self.index = index
        self.name = "n%d" % index
        self.address = "%s.%d" % (rig.subnet, index)
        self.ns = "%s%s-%s" % (PREFIX, rig.id, self.name)
        self.dir = os.path.join(rig.base_dir, self.name)
        self.holder_pid = holder_pid
        self.holder_starttime = holder_starttime
        self._holder = None  # Popen of the holder when this process started it
        self._procs = []  # Popens started by this process inside the node
        self._clusterd = None  # Popen of clusterd when this process started it

    def __repr__(self):
        return "<Node %s %s %s>" % (self.name, self.address, "up" if self.alive() else "down")

    # ---- paths and logs ------------------------------------------------

    @property
    def watchdog_socket(self):
        """The socket of the node's watchdog process, which runs outside the
        node (in the switch namespace), as a hardware watchdog is outside
        the OS: stopping or killing the node's processes does not stop it,
        and when clusterd stops petting it kills every process of the node."""
        return os.path.join(self.dir, "watchdog.sock")

    def start_watchdog(self):
        """Starts the node's watchdog process unless it runs."""
        if getattr(self, "_watchdog", None) is not None and self._watchdog.poll() is None:
            return
        binary = os.path.join(self.rig.builddir, "clusterd", "clusterd-watchdog")
        if not os.access(binary, os.X_OK):
            raise RigError("no clusterd-watchdog binary at %s (set CLUSTERD_BUILDDIR)" % binary)
        os.makedirs(self.dir, exist_ok=True)
        try:
            os.unlink(self.watchdog_socket)
        except FileNotFoundError:
            pass
        log = open(os.path.join(self.dir, "watchdog.log"), "ab")
        self._watchdog = subprocess.Popen(
            ["ip", "netns", "exec", self.rig.switch_ns, binary, "--socket", self.watchdog_socket,
             "--action", "kill-netns", self.ns],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, close_fds=True)
        log.close()
        wait_until(lambda: os.path.exists(self.watchdog_socket), 10, 0.02,
                   "the watchdog of %s to listen" % self.name)

    def watchdog_disarm(self):
        """Disarms the node's watchdog process (as a power cycle would)."""
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(2)
                sock.connect(self.watchdog_socket)
                sock.sendall(b"disarm\n")
                sock.recv(256)
        except OSError:
            pass

    def watchdog_fired(self):
        """How many times the node's watchdog has reset it."""
        try:
            with open(os.path.join(self.dir, "watchdog.log"), errors="replace") as f:
                return f.read().count("Deadline passed")
        except OSError:
            return 0

    @property
    def log_dir(self):
        """clusterd's log directory on the host (also asan.* / ubsan.* reports)."""
        return self.host_path("/var/log/clusterd")

    @property
    def corosync_log_dir(self):
        return self.host_path("/var/log/corosync")

    @property
    def log_dirs(self):
        return [self.log_dir, self.corosync_log_dir]

    def host_path(self, path):
        """Where path (as the node sees it) is on the host: persisted paths
        map into node.dir (readable while the node is down); others go through
        the holder's root (/proc/PID/root/...), only while the node is up."""
        if not path.startswith("/"):
            raise ValueError("node paths are absolute, not %r" % path)
        norm = os.path.normpath(path)
        for d in PERSISTED_DIRS:
            if norm == d or norm.startswith(d + "/"):
                return os.path.join(self.dir, norm.lstrip("/"))
        self._require_alive()
        return "/proc/%d/root%s" % (self.holder_pid, norm)

    def write_file(self, path, text, mode=0o644):
        """Writes text (str or bytes) to path inside the node, creating parents."""
        hp = self.host_path(path)
        os.makedirs(os.path.dirname(hp), exist_ok=True)
        tmp = hp + ".rig-tmp"
        with open(tmp, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, hp)

    def read_file(self, path):
        with open(self.host_path(path), errors="replace") as f:
            return f.read()

    def exists(self, path):
        try:
            return os.path.exists(self.host_path(path))
        except NodeDown:
            return False

    # ---- processes -----------------------------------------------------

    def alive(self):
        """True while the node's holder runs (the node is "powered on")."""
        if not self.holder_pid or not _pid_alive(self.holder_pid, self.holder_starttime):
            return False
        return _proc_netns_inode(self.holder_pid) == _netns_inode(self.ns)

    def _require_alive(self):
        if not self.alive():
            raise NodeDown("node %s of rig %s is down (no holder process)" % (self.name, self.rig.id))

    def _nsenter(self):
        self._require_alive()
        return ["nsenter", "-t", str(self.holder_pid), "-n", "-m", "-u", "--"]

    def node_env(self, extra=None):
        env = {
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=1:log_path=/var/log/clusterd/asan",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:log_path=/var/log/clusterd/ubsan",
            "TMPDIR": "/tmp",
        }
        if extra:
            env.update(extra)
        return _env(env)

    def run(self, cmd, check=True, timeout=30, input=None, env=None):
        """Runs cmd (list, or a string for sh -c) inside the node; returns the
        CompletedProcess (text). Raises CommandError when check and it fails."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        full = self._nsenter() + [str(c) for c in cmd]
        where = "%s/%s" % (self.rig.id, self.name)
        try:
            cp = subprocess.run(
                full,
                input=input,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                timeout=timeout,
                env=self.node_env(env),
                cwd="/",
                stdin=None if input is not None else subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as e:
            raise CommandError(where, cmd, "timeout after %ss" % timeout, e.stdout, e.stderr) from None
        if check and cp.returncode != 0:
            raise CommandError(where, cmd, cp.returncode, cp.stdout, cp.stderr)
        return cp

    def spawn(self, cmd, logfile=None, env=None):
        """Starts cmd inside the node in its own session, stdout and stderr
        appended to logfile (a path inside the node; default
        /var/log/clusterd/<program>.out). Returns the Popen."""
        if isinstance(cmd, str):
            cmd = ["sh", "-c", cmd]
        if logfile is None:
            logfile = "/var/log/clusterd/%s.out" % os.path.basename(str(cmd[0]))
        hp = self.host_path(logfile)
        os.makedirs(os.path.dirname(hp), exist_ok=True)
        with open(hp, "ab") as log:
            log.write(("=== %s: %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), _cmd_str(cmd))).encode())
            log.flush()
            p = subprocess.Popen(
                self._nsenter() + [str(c) for c in cmd],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.node_env(env),
                cwd="/",
                start_new_session=True,
            )
        self._procs.append(p)
        return p

    def pids(self):
        """Every process of the node (its network namespace), holder included."""
        return _netns_pids(self.ns)

    def find_pids(self, comm):
        """Pids of the node's processes whose name (comm) is comm."""
        return [p for p in self.pids() if _proc_comm(p) == comm]

    def _reap(self):
        for p in self._procs + ([self._holder] if self._holder else []):
            if p is not None:
                p.poll()
        self._procs = [p for p in self._procs if p.returncode is None]

    # ---- boot / power ----------------------------------------------------

    def _start_holder(self):
        """Boots the node: a holder with fresh mount and UTS namespaces."""
        for d in PERSISTED_DIRS:
            os.makedirs(os.path.join(self.dir, d.lstrip("/")), exist_ok=True)
        lines = ["set -e", "echo %s > /proc/sys/kernel/hostname" % self.name]
        # Our copies of /run/netns/* (nsfs mounts) would keep other nodes'
        # namespaces alive after they are deleted: drop them first.
        lines.append("umount -l /run/netns 2>/dev/null || true")
        # Bind mounts first: the tmpfs mounts below would hide a base dir
        # under /tmp or /run.
        for d in PERSISTED_DIRS:
            src = os.path.join(self.dir, d.lstrip("/"))
            lines.append("mkdir -p %s" % d)
            lines.append("mount --bind %s %s" % (shlex.quote(src), d))
        # The binaries must stay visible in the node even when the build tree
        # lies under a directory the node replaces with a tmpfs (a clone in
        # /tmp, as CI may make): bind it aside first and back afterwards.
        build = os.path.realpath(self.rig.builddir)
        hidden = any(build == d or build.startswith(d + "/") for d, _ in VOLATILE_DIRS)
        keep = os.path.join(self.dir, "build-view")
        if hidden:
            os.makedirs(keep, exist_ok=True)
            lines.append("mount --bind %s %s" % (shlex.quote(build), shlex.quote(keep)))
        for d, mode in VOLATILE_DIRS:
            lines.append("mount -t tmpfs -o mode=%s,size=256m tmpfs-%s %s" % (mode, self.name, d))
        if hidden:
            lines.append("mkdir -p %s" % shlex.quote(build))
            lines.append("mount --bind %s %s" % (shlex.quote(keep), shlex.quote(build)))
        lines.append("mkdir -p /run/lock")  # as after a boot; /run/clusterd is clusterd's job
        lines.append("echo ready")
        lines.append("exec sleep infinity </dev/null >/dev/null 2>&1")
        script = "\n".join(lines)
        errlog = os.path.join(self.dir, "holder.log")
        with open(errlog, "ab") as err:
            p = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, "unshare", "--mount", "--uts", "--propagation", "private", "--", "sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=err,
                env=_env(),
                cwd="/",
                start_new_session=True,
            )
        # `ip netns exec`, unshare (without --fork) and sh's exec keep the pid:
        # p.pid becomes `sleep infinity`.
        result = {}

        def read_ready():
            result["line"] = p.stdout.readline()

        t = threading.Thread(target=read_ready, daemon=True)
        t.start()
        t.join(15)
        if result.get("line", b"").strip() != b"ready":
            _kill(p.pid, signal.SIGKILL)
            p.wait()
            p.stdout.close()
            with open(errlog, errors="replace") as f:
                tail = f.read()[-4000:]
            raise RigError("node %s did not boot; %s says:\n%s" % (self.name, errlog, tail))
        p.stdout.close()
        wait_until(lambda: _proc_comm(p.pid) == "sleep", 5, 0.01, "holder of %s to exec sleep" % self.name)
        self._holder = p
        self.holder_pid = p.pid
        self.holder_starttime = _proc_starttime(p.pid)
        self.rig._save_state()

    def kill9(self, power_off=True):
        """Power loss: SIGKILL to every process of the node, holder included,
        so its /run, /dev/shm and /tmp are gone. With power_off (default) the
        node's eth0 also goes down, so that it is silent like a dead host (no
        ICMP port-unreachable, no ARP replies). Network namespace, persisted
        directories and partition rules stay."""
        _kill_netns(self.ns, reap=self._reap)
        self._reap()
        # Losing power resets a hardware watchdog too: it must not fire later
        # at the node's next boot.
        self.watchdog_disarm()
        if self._holder is not None:
            self._holder.wait()
            self._holder = None
        if self._clusterd is not None:
            self._clusterd.wait()
            self._clusterd = None
        self.holder_pid = None
        self.holder_starttime = None
        if power_off:
            sh(["ip", "-n", self.ns, "link", "set", "eth0", "down"])
        self.rig._save_state()

    def boot(self):
        """Powers the node on without starting anything: eth0 up, a new holder
        with fresh /run, /dev/shm, /tmp and the persisted directories."""
        if self.alive():
            raise RigError("node %s is already up" % self.name)
        sh(["ip", "-n", self.ns, "link", "set", "eth0", "up"])
        self._start_holder()

    def restart(self, clusterd=True):
        """Reboot: kill9() if the node is up, boot() it, then start_clusterd()
        (clusterd itself starts corosync) unless clusterd=False."""
        if self.alive() or self.pids():
            self.kill9(power_off=False)
        self.boot()
        if clusterd:
            self.start_clusterd()

    def sigstop(self):
        """A hung host: SIGSTOP to every process of the node but the holder."""
        for pid in self.pids():
            if pid != self.holder_pid:
                _kill(pid, signal.SIGSTOP)

    def sigcont(self):
        for pid in self.pids():
            if pid != self.holder_pid:
                _kill(pid, signal.SIGCONT)

    def cut_link(self):
        """Pulls the node's cable: the bridge-side veth goes down."""
        sh(["ip", "-n", self.rig.switch_ns, "link", "set", self.name, "down"])

    def restore_link(self):
        sh(["ip", "-n", self.rig.switch_ns, "link", "set", self.name, "up"])

    def link_up(self):
        """False while the link is cut (the bridge-side veth is down)."""
        cp = sh(["ip", "-n", self.rig.switch_ns, "-o", "link", "show", self.name], check=False)
        return bool(re.search(r"<[^>]*\bUP\b", cp.stdout))

    def eth0_up(self):
        """False while the node is powered off by kill9()."""
        cp = sh(["ip", "-n", self.ns, "-o", "link", "show", "eth0"], check=False)
        return bool(re.search(r"<[^>]*\bUP\b", cp.stdout))

    # ---- clusterd --------------------------------------------------------

    def clusterd_config(self, extra=None):
        """The clusterd.yaml start_clusterd() writes, as a dict; extra is
        merged into it (a None value removes a key)."""
        base = {
            "node": {"name": self.name, "memory": "4GiB", "cpus": 4},
            "log": {"target": "file", "file": "/var/log/clusterd/clusterd.log", "level": "debug"},
            "api": {"listen": ["%s:%d" % (self.address, API_PORT)]},
            "agents": {"directory": os.path.join(self.rig.builddir, "agents"), "ocf-root": self.rig.ocf_root},
            "fencing": {"watchdog": "unix:" + self.watchdog_socket, "watchdog-timeout": WATCHDOG_TIMEOUT},
            "corosync": {"start-command": "corosync", "stop-command": "corosync-cfgtool -H --force"},
        }
        return _merge(base, extra)

    def start_clusterd(self, config=None, wait=True, timeout=15):
        """Writes /etc/clusterd/clusterd.yaml and starts clusterd --foreground
        (stdout/stderr to /var/log/clusterd/clusterd.out, sanitizer reports to
        /var/log/clusterd/asan.* and ubsan.*). With wait, returns once its
        local socket /run/clusterd/clusterd.sock exists; raises RigError with
        the log's tail if clusterd exits first. Returns the Popen."""
        self._require_alive()
        if self.clusterd_pids():
            raise RigError("clusterd already runs on %s" % self.name)
        self.write_file("/etc/clusterd/clusterd.yaml", _yaml(self.clusterd_config(config)) + "\n", 0o600)
        binary = os.path.join(self.rig.builddir, "clusterd", "clusterd")
        if not os.access(binary, os.X_OK):
            raise RigError("no clusterd binary at %s (set CLUSTERD_BUILDDIR)" % binary)
        p = self.spawn(
            [binary, "--foreground", "--config", "/etc/clusterd/clusterd.yaml"], "/var/log/clusterd/clusterd.out"
        )
        self._clusterd = p
        if wait:
            sock = "/run/clusterd/clusterd.sock"

            def ready():
                if p.poll() is not None:
                    raise RigError("exited with %s" % p.returncode)
                return self.exists(sock)

            try:
                wait_until(ready, timeout, 0.05, "clusterd on %s to create %s" % (self.name, sock))
            except (TimeoutError, RigError) as e:
                raise RigError("clusterd on %s did not start: %s\n%s" % (self.name, e, self._log_tail())) from None
        return p

    def _log_tail(self, n=3000):
        out = []
        for name in ("clusterd.out", "clusterd.log"):
            path = os.path.join(self.log_dir, name)
            try:
                with open(path, errors="replace") as f:
                    out.append("--- %s ---\n%s" % (path, f.read()[-n:]))
            except OSError:
                pass
        return "\n".join(out)

    def clusterd_pids(self):
        return self.find_pids("clusterd")

    def clusterd_running(self):
        return bool(self.clusterd_pids())

    def stop_clusterd(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig to clusterd and waits until it is gone. Returns its exit
        status when this process started it (negative: killed by a signal),
        else None. If it is still there after timeout it is SIGKILLed and
        RigError is raised."""
        pids = self.clusterd_pids()
        for pid in pids:
            _kill(pid, sig)

        def gone():
            self._reap()
            return not self.clusterd_pids()

        try:
            wait_until(gone, timeout, 0.05, "clusterd on %s to exit after signal %d" % (self.name, sig))
        except TimeoutError:
            for pid in self.clusterd_pids():
                _kill(pid, signal.SIGKILL)
            wait_until(gone, 5, 0.05, "clusterd on %s to die" % self.name)
            raise RigError(
                "clusterd on %s did not exit within %ss of signal %d; killed it" % (self.name, timeout, sig)
            ) from None
        rc = None
        if self._clusterd is not None:
            rc = self._clusterd.wait()
            self._clusterd = None
        return rc

    def clusterctl(self, *args, json=True, check=True, timeout=30):
        """Runs clusterctl inside the node (it talks to the local socket).

        With json (default) runs `clusterctl -o json ARGS` and returns the
        parsed JSON reply (stdout, or stderr when stdout has none, so that with
        check=False an error object comes back as a dict). With json=False
        returns the CompletedProcess. With check, a non-zero exit raises
        CommandError carrying stdout and stderr."""
        binary = os.path.join(self.rig.builddir, "clusterctl", "clusterctl")
        cmd = [binary] + (["-o", "json"] if json else []) + [str(a) for a in args]
        cp = self.run(cmd, check=check, timeout=timeout)
        if not json:
            return cp
        for text in (cp.stdout, cp.stderr):
            if text.strip():
                try:
                    return jsonlib.loads(text)
                except ValueError:
                    continue
        raise CommandError(
            "%s/%s (no JSON in the reply)" % (self.rig.id, self.name), cmd, cp.returncode, cp.stdout, cp.stderr
        )

    # ---- corosync (inspection) -------------------------------------------

    def corosync_quorum(self):
        """corosync's own view from this node (`corosync-quorumtool -s`):
        {"quorate": bool, "nodes": int, "members": [node ids], "ring_id": str,
        "total_votes": int, "quorum": int}. Raises CommandError when corosync
        does not answer."""
        cp = self.run(["corosync-quorumtool", "-s", "-p"], check=False, timeout=10)
        out = cp.stdout
        if "Quorate:" not in out:
            raise CommandError("%s/%s" % (self.rig.id, self.name), "corosync-quorumtool -s -p", cp.returncode, out, cp.stderr)
        info = {"members": []}
        in_members = False
        for line in out.splitlines():
            if ":" in line and not in_members:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "Quorate":
                    info["quorate"] = value.split()[0] == "Yes"
                elif key == "Nodes":
                    info["nodes"] = int(value)
                elif key == "Ring ID":
                    info["ring_id"] = value
                elif key == "Total votes":
                    info["total_votes"] = int(value)
                elif key == "Quorum":
                    info["quorum"] = int(value.split()[0])
            if line.strip().startswith("Nodeid"):
                in_members = True
                continue
            if in_members and line.strip() and line.split()[0].isdigit():
                info["members"].append(int(line.split()[0]))
        return info


# --------------------------------------------------------------------------
# Rigs
# --------------------------------------------------------------------------


class Rig:
    """N nodes on one bridge. See the module doc.

    Rig(name=None, nodes=3, subnet=None, base_dir=None, host_address=False,
    builddir=None, detached=False)

    name: the rig id, [a-z0-9]{1,8} (default: random "t" + 6 hex digits).
    subnet: "198.18.K" (or "198.18.K.0/24"); default: the lowest free
    198.18.K (K >= 1) among existing rigs. base_dir: per-node directories,
    default /var/tmp/clusterd-rig/<id>/ (never under /tmp or /run, which
    nodes cover with tmpfs). host_address: a veth from the root namespace
    into the bridge with <subnet>.254/24 (for the demo only). builddir:
    where clusterd/clusterd and clusterctl/clusterctl are (default
    $CLUSTERD_BUILDDIR, else the repository root). detached: the rig
    outlives this process (the CLI's `up`); otherwise it is cleaned up when
    this process exits, and swept by the next sweep_stale() if it dies.
    """

    def __init__(self, name=None, nodes=3, subnet=None, base_dir=None, host_address=False, builddir=None,
                 detached=False, _load=None):
        self.builddir = os.path.abspath(builddir or os.environ.get("CLUSTERD_BUILDDIR") or REPO_ROOT)
        if _load is not None:
            self._init_from_state(_load)
            return
        if os.geteuid() != 0:
            raise RigError("a rig needs root")
        self.id = name or "t" + secrets.token_hex(3)
        if not _ID_RE.match(self.id):
            raise ValueError("rig name must match [a-z0-9]{1,8}, not %r" % self.id)
        if not 1 <= nodes <= 32:
            raise ValueError("nodes must be 1..32")
        self.base_dir = os.path.abspath(base_dir or os.path.join(STATE_ROOT, self.id))
        for bad in ("/tmp", "/run", "/dev/shm"):
            if self.base_dir == bad or self.base_dir.startswith(bad + "/"):
                raise ValueError("base_dir %s is under %s, which every node covers with a tmpfs" % (self.base_dir, bad))
        self.host_address = host_address
        self.host_if = PREFIX + self.id + "-h" if host_address else None
        self.detached = detached
        self.switch_ns = PREFIX + self.id + "-sw"
        self.cleaned = False
        self.owner_pid = os.getpid()
        self.owner_starttime = _proc_starttime(self.owner_pid)
        with _Lock():
            states = _all_states()
            old = states.get(self.id)
            if old is not None and not old.get("cleaned"):
                if _owner_alive(old) or old.get("detached"):
                    raise RigError("rig %s exists already (owner pid %s)" % (self.id, old.get("owner_pid")))
                _teardown(self.id, old.get("host_if"))  # left by a process that died
            if _rig_namespaces(self.id):
                raise RigError("namespaces of rig %s exist already; run `rig.py sweep`" % self.id)
            if os.path.exists(os.path.join(STATE_ROOT, self.id)):
                # A directory kept from an earlier run of the same name.
                os.rename(os.path.join(STATE_ROOT, self.id),
                          os.path.join(STATE_ROOT, "%s.old-%d" % (self.id, time.time())))
            self.subnet = _normalize_subnet(subnet) if subnet else _alloc_subnet(states)
            for st in states.values():
                if st.get("subnet") == self.subnet and not st.get("cleaned") and st.get("id") != self.id:
                    raise RigError("subnet %s.0/24 is used by rig %s" % (self.subnet, st.get("id")))
            self.nodes = [Node(self, i) for i in range(1, nodes + 1)]
            os.makedirs(self.base_dir, exist_ok=True)
            self._save_state()
        if not detached:
            with _live_lock:
                _live_rigs[self.id] = self
            _install_handlers()
        try:
            self._setup()
        except BaseException:
            # Keep the directory: holder.log says why a node did not boot.
            self.cleanup(keep_dir=True)
            raise

    @classmethod
    def load(cls, name, builddir=None):
        """The rig `name` as its state file describes it (e.g. created by
        `rig.py up` in another process)."""
        st = _read_state(name)
        if st is None or st.get("cleaned"):
            raise RigError("no rig %r (no %s)" % (name, _state_path(name)))
        return cls(builddir=builddir, _load=st)

    def _init_from_state(self, st):
        self.id = st["id"]
        self.base_dir = st["base_dir"]
        self.subnet = st["subnet"]
        self.host_address = st.get("host_address", False)
        self.host_if = st.get("host_if")
        self.detached = st.get("detached", False)
        self.switch_ns = st["switch_ns"]
        self.cleaned = False
        # Loading (e.g. `rig.py kill9` while a test runs) never takes ownership.
        self.owner_pid = st.get("owner_pid")
        self.owner_starttime = st.get("owner_starttime")
        self.owner_cmdline = st.get("owner_cmdline")
        self.nodes = []
        for n in st["nodes"]:
            self.nodes.append(Node(self, n["index"], n.get("holder_pid"), n.get("holder_starttime")))

    def _state(self):
        return {
            "id": self.id,
            "owner_pid": self.owner_pid,
            "owner_starttime": self.owner_starttime,
            "owner_cmdline": getattr(self, "owner_cmdline", None) or " ".join(sys.argv),
            "detached": self.detached,
            "base_dir": self.base_dir,
            "subnet": self.subnet,
            "host_address": self.host_address,
            "host_if": self.host_if,
            "switch_ns": self.switch_ns,
            "builddir": self.builddir,
            "cleaned": self.cleaned,
            "nodes": [
                {"index": n.index, "name": n.name, "address": n.address, "ns": n.ns,
                 "holder_pid": n.holder_pid, "holder_starttime": n.holder_starttime}
                for n in self.nodes
            ],
        }

    def _save_state(self):
        _write_state(self.id, self._state())

    def __repr__(self):
        return "<Rig %s %s.0/24 %d nodes>" % (self.id, self.subnet, len(self.nodes))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup(keep_dir=exc[0] is not None)

    def __getitem__(self, key):
        return self.node(key)

    def node(self, key):
        """A node by name ("n2") or index (2)."""
        for n in self.nodes:
            if key in (n.name, n.index):
                return n
        raise KeyError("rig %s has no node %r" % (self.id, key))

    # ---- setup -------------------------------------------------------------

    def _ip(self, ns, *args, check=True):
        return sh(["ip", "-n", ns] + list(args), check=check)

    def _disable_ipv6(self, ns):
        # No router solicitations or DAD chatter on the test network.
        sh(["nsenter", "--net=/run/netns/" + ns, "sh", "-c",
            "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6"],
           check=False)

    @property
    def ocf_root(self):
        """An OCF root every node sees: Debian's agents (resource.d/heartbeat)
        and the tests' misbehaving ones (resource.d/cdtest)."""
        return os.path.join(self.base_dir, "ocf")

    @property
    def shared_dir(self):
        """A directory every node sees at the same path (shared storage)."""
        return os.path.join(self.base_dir, "shared")

    def _make_ocf_root(self):
        root = self.ocf_root
        os.makedirs(os.path.join(root, "resource.d"), exist_ok=True)
        os.makedirs(self.shared_dir, exist_ok=True)
        links = {
            os.path.join(root, "lib"): "/usr/lib/ocf/lib",
            os.path.join(root, "resource.d", "heartbeat"): "/usr/lib/ocf/resource.d/heartbeat",
        }
        for link, target in links.items():
            if not os.path.lexists(link):
                os.symlink(target, link)
        # Copied, not linked: the source tree may lie under /tmp, which every
        # node covers with its own tmpfs.
        src = os.path.join(REPO_ROOT, "tests", "integration", "ocf")
        dst = os.path.join(root, "resource.d", "cdtest")
        if not os.path.isdir(dst):
            shutil.copytree(src, dst)

    def _setup(self):
        self._make_ocf_root()
        sw = self.switch_ns
        sh(["ip", "netns", "add", sw])
        self._disable_ipv6(sw)
        self._ip(sw, "link", "set", "lo", "up")
        self._ip(sw, "link", "add", "br0", "type", "bridge", "stp_state", "0", "forward_delay", "0")
        self._ip(sw, "link", "set", "br0", "up")
        for n in self.nodes:
            sh(["ip", "netns", "add", n.ns])
            self._disable_ipv6(n.ns)
            self._ip(n.ns, "link", "set", "lo", "up")
            self._ip(sw, "link", "add", n.name, "type", "veth", "peer", "name", "eth0", "netns", n.ns)
            self._ip(sw, "link", "set", n.name, "master", "br0")
            self._ip(sw, "link", "set", n.name, "up")
            self._ip(n.ns, "addr", "add", n.address + "/24", "dev", "eth0")
            self._ip(n.ns, "link", "set", "eth0", "up")
        if self.host_address:
            sh(["ip", "link", "add", self.host_if, "type", "veth", "peer", "name", "host", "netns", sw])
            self._ip(sw, "link", "set", "host", "master", "br0")
            self._ip(sw, "link", "set", "host", "up")
            sh(["ip", "addr", "add", self.subnet + ".254/24", "dev", self.host_if])
            sh(["ip", "link", "set", self.host_if, "up"])
        for n in self.nodes:
            n._start_holder()
            n.start_watchdog()
        self._save_state()

    # ---- faults ------------------------------------------------------------

    def _nft(self, node, script):
        sh(["nsenter", "--net=/run/netns/" + node.ns, "nft", "-f", "-"], input=script,
           where="%s/%s nft" % (self.id, node.name))

    def partition(self, *groups):
        """Splits the network: nodes talk only to nodes of their own group.
        Each group is a list of nodes (Node objects or names); nodes named in
        no group form one more group together. In every node's namespace an
        nftables table `inet cdrig` drops input from and output to the others
        (loopback is allowed). Replaces an earlier partition."""
        groups = [[self.node(x.name if isinstance(x, Node) else x) for x in g] for g in groups]
        named = [n for g in groups for n in g]
        if len(set(named)) != len(named):
            raise ValueError("a node is in two groups")
        rest = [n for n in self.nodes if n not in named]
        if rest:
            groups.append(rest)
        for g in groups:
            blocked = [n.address for n in self.nodes if n not in g]
            for n in g:
                script = "table inet %s\ndelete table inet %s\n" % (NFT_TABLE, NFT_TABLE)
                if blocked:
                    elems = ", ".join(blocked)
                    script += (
                        "table inet %s {\n"
                        "  chain input {\n"
                        "    type filter hook input priority -10; policy accept;\n"
                        "    iifname \"lo\" accept\n"
                        "    ip saddr { %s } drop\n"
                        "  }\n"
                        "  chain output {\n"
                        "    type filter hook output priority -10; policy accept;\n"
                        "    oifname \"lo\" accept\n"
                        "    ip daddr { %s } drop\n"
                        "  }\n"
                        "}\n" % (NFT_TABLE, elems, elems)
                    )
                self._nft(n, script)

    def heal(self):
        """Ends partitions (removes every node's nftables table) and restores
        every node's link."""
        for n in self.nodes:
            self._nft(n, "table inet %s\ndelete table inet %s\n" % (NFT_TABLE, NFT_TABLE))
            n.restore_link()

    # ---- clusters -----------------------------------------------------------

    def create_cluster(self, name="t", token_ms=1000, timeout=60):
        """Forms a cluster the way users do: clusterd on every node (started
        where it is not running), `clusterctl cluster create` on n1 naming
        every node, `clusterctl cluster join URL --token T --ca-hash H --name
        NODE` on the others, then waits until every node is synced and quorate. Returns
        the create reply."""
        for n in self.nodes:
            if not n.clusterd_running():
                n.start_clusterd()
        for n in self.nodes:
            wait_until(lambda n=n: n.clusterctl("status"), 15, 0.1, "clusterctl status to answer on %s" % n.name)
        first = self.nodes[0]
        args = ["cluster", "create", name]
        for n in self.nodes:
            args += ["--node", "%s=%s" % (n.name, n.address)]
        args += ["--token-timeout", str(token_ms)]
        reply = first.clusterctl(*args)
        join = reply.get("join") if isinstance(reply, dict) else None
        if not join or not all(k in join for k in ("token", "ca_hash", "url")):
            raise RigError("`clusterctl cluster create` on %s gave no join token/ca_hash/url: %r" % (first.name, reply))
        # One token admits every other node, so each says which it is
        # (POST /v1/join may omit "node" only when one node is left to join).
        for n in self.nodes[1:]:
            n.clusterctl("cluster", "join", join["url"], "--token", join["token"], "--ca-hash", join["ca_hash"],
                         "--name", n.name)
        self.wait_synced(timeout=timeout)
        return reply

    def status(self, nodes=None):
        """`clusterctl -o json status` of every (given, live) node, by name."""
        return {n.name: n.clusterctl("status") for n in (nodes or self.nodes)}

    def wait_synced(self, nodes=None, members=None, timeout=60):
        """Waits until every given node (default: all) says state "synced"
        and quorum.quorate; with members (a list of names), also until each
        of them reports exactly those corosync members. Returns the statuses."""
        nodes = [self.node(x.name if isinstance(x, Node) else x) for x in (nodes or self.nodes)]

        def check():
            statuses = {}
            ok = True
            for n in nodes:
                try:
                    s = n.clusterctl("status")
                except RigError as e:
                    statuses[n.name] = "error: %s" % str(e).splitlines()[0]
                    ok = False
                    continue
                q = s.get("quorum") or {}
                statuses[n.name] = {"state": s.get("state"), "quorate": q.get("quorate"), "members": q.get("members")}
                if s.get("state") != "synced" or not q.get("quorate"):
                    ok = False
                if members is not None and sorted(q.get("members") or []) != sorted(members):
                    ok = False
            return statuses if ok else Pending(statuses)

        return wait_until(check, timeout, 0.25, "nodes %s to be synced and quorate" % [n.name for n in nodes])

    def wait_until(self, predicate, timeout=30.0, interval=0.25, what="condition"):
        return wait_until(predicate, timeout, interval, what)

    # ---- plain corosync (the rig's self-test only) ---------------------------

    def _corosync_conf(self, token_ms):
        lines = [
            "totem {",
            "    version: 2",
            "    cluster_name: %s%s" % (PREFIX, self.id),
            "    transport: knet",
            "    ip_version: ipv4",
            "    token: %d" % token_ms,
            "    crypto_cipher: aes256",
            "    crypto_hash: sha256",
            "}",
            "",
            "nodelist {",
        ]
        for n in self.nodes:
            lines += [
                "    node {",
                "        ring0_addr: %s" % n.address,
                "        name: %s" % n.name,
                "        nodeid: %d" % n.index,
                "    }",
            ]
        lines += [
            "}",
            "",
            "quorum {",
            "    provider: corosync_votequorum",
            "}",
            "",
            "logging {",
            "    to_logfile: yes",
            "    logfile: /var/log/corosync/corosync.log",
            "    to_syslog: no",
            "    to_stderr: no",
            "    timestamp: on",
            "}",
        ]
        return "\n".join(lines) + "\n"

    def _start_plain_corosync(self, token_ms=1000, nodes=None):
        """Rig self-test only (clusterd normally writes corosync.conf and
        starts corosync): writes corosync.conf and one shared authkey into
        every given node (default all) and starts `corosync -f` there."""
        nodes = [self.node(x.name if isinstance(x, Node) else x) for x in (nodes or self.nodes)]
        key = os.path.join(self.base_dir, "authkey")
        if not os.path.exists(key):
            sh(["corosync-keygen", "-k", key])
        with open(key, "rb") as f:
            keydata = f.read()
        conf = self._corosync_conf(token_ms)
        for n in nodes:
            n.write_file("/etc/corosync/corosync.conf", conf, 0o644)
            n.write_file("/etc/corosync/authkey", keydata, 0o400)
        for n in nodes:
            n.spawn(["corosync", "-f"], "/var/log/corosync/corosync.out")

    # ---- diagnostics ---------------------------------------------------------

    def sanitizer_reports(self):
        """Host paths of every ASan/UBSan report (asan.*, ubsan.*) in the
        nodes' log directories."""
        found = []
        for n in self.nodes:
            for d in n.log_dirs:
                try:
                    entries = sorted(os.listdir(d))
                except OSError:
                    continue
                for e in entries:
                    if e.startswith("asan.") or e.startswith("ubsan."):
                        found.append(os.path.join(d, e))
        return found

    def describe(self):
        """A human summary: one line per node."""
        lines = ["rig %s: %s.0/24, base dir %s%s" % (
            self.id, self.subnet, self.base_dir, ", host %s.254 via %s" % (self.subnet, self.host_if) if self.host_if else "")]
        for n in self.nodes:
            alive = n.alive()
            procs = []
            if alive:
                for pid in n.pids():
                    if pid != n.holder_pid:
                        procs.append("%s[%d]%s" % (_proc_comm(pid), pid, "(stopped)" if _proc_state(pid) == "T" else ""))
            link = "up" if n.link_up() else "CUT"
            if not n.eth0_up():
                link = "off"
            lines.append("  %-4s %-15s %-5s link %-4s holder %-7s %s" % (
                n.name, n.address, "up" if alive else "DOWN", link,
                n.holder_pid or "-", " ".join(procs)))
        return "\n".join(lines)

    # ---- cleanup -------------------------------------------------------------

    def cleanup(self, keep_dir=False):
        """Kills every process of the rig, deletes its namespaces (with their
        interfaces and nftables tables) and the host veth, unmounts /run/netns
        when no namespace is left, and removes base_dir unless keep_dir."""
        def reap():
            for n in self.nodes:
                n._reap()

        with _Lock():
            _teardown(self.id, self.host_if, reap=reap)
            for n in self.nodes:
                for p in n._procs + ([n._holder] if n._holder else []):
                    try:
                        p.wait(5)
                    except subprocess.TimeoutExpired:
                        pass
                n._procs, n._holder, n._clusterd = [], None, None
                n.holder_pid = n.holder_starttime = None
            self.cleaned = True
            if keep_dir:
                self._save_state()
            else:
                shutil.rmtree(self.base_dir, ignore_errors=True)
                shutil.rmtree(os.path.join(STATE_ROOT, self.id), ignore_errors=True)
            _maybe_unmount_run_netns()
        with _live_lock:
            _live_rigs.pop(self.id, None)


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def _cli_rig(args):
    if args.rig:
        return Rig.load(args.rig)
    ids = [i for i, st in _all_states().items() if not st.get("cleaned")]
    if len(ids) == 1:
        return Rig.load(ids[0])
    if "demo" in ids:
        return Rig.load("demo")
    raise RigError("which rig? (-r NAME; existing: %s)" % (", ".join(sorted(ids)) or "none"))


def main(argv=None):
    ap = argparse.ArgumentParser(prog="rig.py", description="clusterd's multi-node test rig (run as root)")
    ap.add_argument("-r", "--rig", help="rig name (default: the only rig, else 'demo')")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("up", help="create a rig that outlives this command")
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--subnet", default="198.18.0", help="default 198.18.0 (the demo's)")
    p.add_argument("--host-address", action="store_true", help="give the host <subnet>.254 on the rig's bridge")
    p.add_argument("--start-clusterd", action="store_true", help="start clusterd on every node")
    p.add_argument("--create-cluster", metavar="NAME", help="start clusterd and form cluster NAME")
    p.add_argument("--token-ms", type=int, default=1000)
    p = sub.add_parser("down", help="remove a rig")
    p.add_argument("--keep", action="store_true", help="keep its directory (logs)")
    sub.add_parser("status", help="show the rig's nodes")
    sub.add_parser("list", help="list rigs")
    p = sub.add_parser("sweep", help="remove rigs whose creator is gone")
    p.add_argument("--all", action="store_true", help="detached (`up`) rigs too")
    p = sub.add_parser("shell", help="interactive shell inside a node")
    p.add_argument("node")
    p = sub.add_parser("run", help="run a command inside a node (exit code passed through)")
    p.add_argument("node")
    p.add_argument("command", nargs=argparse.REMAINDER)
    for name, helptext in (("kill9", "power loss"), ("restart", "reboot (starts clusterd)"),
                           ("sigstop", "freeze"), ("sigcont", "thaw"), ("cut-link", "pull the cable"),
                           ("restore-link", "plug the cable back"), ("start-clusterd", "start clusterd"),
                           ("stop-clusterd", "stop clusterd (SIGTERM)")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("nodes", nargs="+")
    p = sub.add_parser("partition", help="split the network, e.g. `partition n1 n2,n3`")
    p.add_argument("groups", nargs="+")
    sub.add_parser("heal", help="end partitions and cut links")
    p = sub.add_parser("create-cluster", help="form a cluster with clusterctl")
    p.add_argument("name", nargs="?", default="demo")
    p.add_argument("--token-ms", type=int, default=1000)
    args = ap.parse_args(argv)

    if os.geteuid() != 0:
        sys.exit("rig.py: must run as root")

    if args.cmd == "up":
        sweep_stale(log=lambda m: print(m, file=sys.stderr))
        rig = Rig(args.rig or "demo", nodes=args.nodes, subnet=args.subnet, host_address=args.host_address,
                  detached=True)
        try:
            if args.start_clusterd or args.create_cluster:
                for n in rig.nodes:
                    n.start_clusterd()
            if args.create_cluster:
                rig.create_cluster(args.create_cluster, token_ms=args.token_ms)
        except BaseException:
            print(rig.describe(), file=sys.stderr)
            raise
        print(rig.describe())
        return 0
    if args.cmd == "list":
        for rig_id, st in sorted(_all_states().items()):
            print("%-9s %-14s %-8s owner %s%s" % (rig_id, st.get("subnet", "?") + ".0/24",
                  "cleaned" if st.get("cleaned") else ("detached" if st.get("detached") else "owned"),
                  st.get("owner_pid"), "" if _owner_alive(st) else " (gone)"))
        return 0
    if args.cmd == "sweep":
        swept = sweep_stale(include_detached=args.all, log=print)
        print("swept: %s" % (" ".join(swept) or "nothing"))
        return 0

    sweep_stale(log=lambda m: print(m, file=sys.stderr))
    rig = _cli_rig(args)
    if args.cmd == "down":
        rig.cleanup(keep_dir=args.keep)
        print("rig %s removed%s" % (rig.id, "; kept %s" % rig.base_dir if args.keep else ""))
    elif args.cmd == "status":
        print(rig.describe())
    elif args.cmd == "shell":
        n = rig.node(args.node)
        env = n.node_env({"PS1": "[%s %s] \\w# " % (rig.id, n.name)})
        os.execvpe("nsenter", n._nsenter() + ["bash", "--norc", "-i"], env)
    elif args.cmd == "run":
        n = rig.node(args.node)
        cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not cmd:
            sys.exit("rig.py run: no command")
        return subprocess.call(n._nsenter() + cmd, env=n.node_env(), cwd="/")
    elif args.cmd in ("kill9", "restart", "sigstop", "sigcont", "cut-link", "restore-link",
                      "start-clusterd", "stop-clusterd"):
        for name in args.nodes:
            n = rig.node(name)
            getattr(n, args.cmd.replace("-", "_"))()
        print(rig.describe())
    elif args.cmd == "partition":
        rig.partition(*[g.split(",") for g in args.groups])
        print("partitioned: %s" % " | ".join(args.groups))
    elif args.cmd == "heal":
        rig.heal()
        print("healed")
    elif args.cmd == "create-cluster":
        reply = rig.create_cluster(args.name, token_ms=args.token_ms)
        print(jsonlib.dumps(reply, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (RigError, ValueError, TimeoutError) as e:
        sys.exit("rig.py: %s" % e)
