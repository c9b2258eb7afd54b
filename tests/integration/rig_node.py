#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""rig_node.py: one node of a rig (see rig.py): its processes, paths, faults
and clusterd."""

import json as jsonlib
import os
import re
import shlex
import signal
import socket
import subprocess
import threading
import time

from rig_host import (
    PREFIX,
    API_PORT,
    WATCHDOG_TIMEOUT,
    PERSISTED_DIRS,
    VOLATILE_DIRS,
    RigError,
    CommandError,
    NodeDown,
    _cmd_str,
    _env,
    sh,
    wait_until,
    _netns_pids,
    _netns_inode,
    _proc_netns_inode,
    _proc_starttime,
    _proc_comm,
    _pid_alive,
    _kill,
    _kill_netns,
    _yaml,
    _merge,
)



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
            "LSAN_OPTIONS": "print_suppressions=0:suppressions="
            + os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan.supp"),
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
