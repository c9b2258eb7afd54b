"""Helpers for the role tests: creating roles and VMs, watching where they
run (from the database and from the processes on each node), and proving
that no VM ever ran twice (its guest's disk journal)."""

import os
import sys
import time

from helpers import ok
from rig import REPO_ROOT, wait_until

sys.path.insert(0, os.path.join(REPO_ROOT, "tests", "guest"))
import guestdisk  # noqa: E402


def roles(node):
    """The roles as `role list` shows them, by name."""
    return {r["name"]: r for r in ok(node, "role", "list")["roles"]}


def role(node, name):
    return ok(node, "role", "show", name)


def wait_running(node, names, timeout=60, where=None, not_on=None):
    """Waits until every role in names is running (on `where` when given,
    never on `not_on`); returns {name: node name}."""
    def check():
        rs = roles(node)
        out = {}
        for n in names:
            r = rs.get(n)
            if not r or r["state"] != "running":
                return None
            if where and r["active_node"] != where:
                return None
            if not_on and r["active_node"] == not_on:
                return None
            out[n] = r["active_node"]
        return out

    return wait_until(check, timeout, 0.1, "roles %s to run" % ", ".join(names))


def dummy_role(node, name, *create_args, params=()):
    ok(node, "role", "create", name, "--monitor-interval", "1s", *create_args)
    ok(node, "resource", "add", name, "d", "dummy", *params)


def guest_kernel(rig):
    path = os.path.join(rig.builddir, "tests", "guest", "guest.elf")
    if not os.path.exists(path):
        raise RuntimeError("no test guest at %s (built by make)" % path)
    return path


def vm_role(rig, node, name, *create_args, memory=32):
    """A role with one VM running the test guest, its disk on shared
    storage. Returns the disk image's path."""
    disk = os.path.join(rig.shared_dir, name + ".img")
    guestdisk.init_image(disk, 1)
    ok(node, "role", "create", name, "--monitor-interval", "1s", "--stop-timeout", "10s", *create_args)
    ok(node, "resource", "add", name, "vm", "vm", "name=" + name, "memory=%d" % memory, "accel=tcg", "machine=pc",
       "kernel=" + guest_kernel(rig), "append=host=%{node} interval=100",
       "disks=%s:raw:ide" % disk, "serial=" + os.path.join(rig.shared_dir, name + ".serial"),
       "shutdown_timeout=1")
    return disk


def qemu_vms(node):
    """Names of the VMs whose QEMU runs on node (from /proc, not from
    clusterd), as {name: pid}."""
    out = {}
    if not node.alive():
        return out
    for pid in node.pids():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if not argv or not os.path.basename(argv[0]).startswith(b"qemu-system"):
            continue
        if b"-name" in argv:
            i = argv.index(b"-name")
            if i + 1 < len(argv):
                out[argv[i + 1].decode(errors="replace").split(",")[0]] = pid
    return out


class Copies:
    """Samples which nodes run each VM and remembers the most copies of any
    VM seen at once: the invariant is that it never exceeds one."""

    def __init__(self, rig, names):
        self.rig = rig
        self.names = names
        self.max_copies = 0
        self.seen = []

    def sample(self):
        where = {n: [] for n in self.names}
        for node in self.rig.nodes:
            for vm in qemu_vms(node):
                if vm in where:
                    where[vm].append(node.name)
        for vm, nodes in where.items():
            if len(nodes) > self.max_copies:
                self.max_copies = len(nodes)
            if len(nodes) > 1:
                self.seen.append((time.time(), vm, nodes))
        return where

    def watch(self, predicate, timeout, what):
        """Samples until predicate(where) is true."""
        def check():
            where = self.sample()
            return where if predicate(where) else None

        return wait_until(check, timeout, 0.05, what)

    def assert_never_twice(self):
        assert self.max_copies <= 1, "a VM ran on two nodes at once: %r" % self.seen[:5]


def assert_journal_clean(disk):
    """The guest's disk shows one writer at a time (generations never go
    back), whatever ran where."""
    summary = guestdisk.check_journal(disk)
    assert summary["ok"], "two guests wrote the disk %s: %r" % (disk, summary)
    return summary
