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
`rig.py --help`. The host-side plumbing is in rig_host.py and the Node class
in rig_node.py; this module re-exports both, so `import rig` is the API.
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


from rig_host import (  # noqa: F401 (re-exported: the rig's API)
    PREFIX,
    STATE_ROOT,
    REPO_ROOT,
    API_PORT,
    WATCHDOG_TIMEOUT,
    PERSISTED_DIRS,
    VOLATILE_DIRS,
    NFT_TABLE,
    _ID_RE,
    _SYS_PATH,
    RigError,
    CommandError,
    NodeDown,
    Pending,
    _text,
    _cmd_str,
    _env,
    sh,
    wait_until,
    _netns_names,
    _netns_pids,
    _netns_inode,
    _proc_netns_inode,
    _proc_starttime,
    _proc_comm,
    _proc_state,
    _pid_alive,
    _kill,
    _kill_netns,
    _run_netns_mounted,
    _maybe_unmount_run_netns,
    _link_exists_in_root,
    _Lock,
    _state_path,
    _read_state,
    _write_state,
    _all_states,
    _owner_alive,
    _rig_namespaces,
    _teardown,
    _alloc_subnet,
    _normalize_subnet,
    sweep_stale,
    _live_rigs,
    _live_lock,
    _handlers_installed,
    _cleanup_at_exit,
    _on_signal,
    _install_handlers,
    _yaml,
    _merge,
)
from rig_node import Node  # noqa: E402,F401



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
        scripts = []
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
                scripts.append((n, script))
        self._nft_at_once(scripts)

    def _nft_at_once(self, scripts):
        """Runs each (node, script) in its node's namespace, all at the same
        time: applied one node after the other, the network would pass
        through seconds of non-transitive connectivity (a sees b and c, b and
        c not each other), which makes corosync's membership churn."""
        errors = []

        def run(node, script):
            try:
                self._nft(node, script)
            except Exception as e:  # noqa: BLE001 (re-raised below)
                errors.append(e)

        threads = [threading.Thread(target=run, args=ns) for ns in scripts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]

    def heal(self):
        """Ends partitions (removes every node's nftables table, on all nodes
        at once) and restores every node's link."""
        drop = "table inet %s\ndelete table inet %s\n" % (NFT_TABLE, NFT_TABLE)
        self._nft_at_once([(n, drop) for n in self.nodes])
        for n in self.nodes:
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
