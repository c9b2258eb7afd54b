#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""ocf:clusterd:ipaddr in a pair of throwaway network namespaces.

Two namespaces, each held by a `sleep` started with `unshare --net`, joined
by a veth pair: "a" runs the agent, "b" is a neighbour that captures what
arrives (a raw AF_PACKET socket) and whose neighbour table must learn the
floating address's new MAC. The namespaces are anonymous (nothing under
/run/netns) and vanish, with their interfaces, when the two sleeps are
killed. Addresses: 198.18.0.0/24 and fd00:cd::/64 only. Needs root.
"""

import json
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # the source tree may be read-only
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from agentlib import *  # noqa: E402,F401,F403

IPADDR = agent_path("ipaddr")
ANNOUNCE = os.path.join(LIBEXECDIR, "ipaddr-announce")
BOGUS_MAC = "02:00:00:00:00:99"


def capture(ifname, max_seconds):
    """Runs inside namespace b: prints "ready", then one JSON line per ARP
    packet or neighbour advertisement received on ifname, until stdin
    closes (or max_seconds)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((ifname, 0))
    print("ready", flush=True)
    end = time.monotonic() + max_seconds
    mac = lambda b: ":".join("%02x" % x for x in b)  # noqa: E731
    while time.monotonic() < end:
        r, _, _ = select.select([s, sys.stdin], [], [], end - time.monotonic())
        if sys.stdin in r and not sys.stdin.readline():
            break
        if s not in r:
            continue
        frame, addr = s.recvfrom(65535)
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 14:
            continue
        dst, src, ethertype = frame[0:6], frame[6:12], struct.unpack("!H", frame[12:14])[0]
        p = frame[14:]
        if ethertype == 0x0806 and len(p) >= 28:
            op = struct.unpack("!H", p[6:8])[0]
            print(json.dumps({"kind": "arp", "dst": mac(dst), "op": op, "sha": mac(p[8:14]),
                              "spa": socket.inet_ntop(socket.AF_INET, p[14:18]), "tha": mac(p[18:24]),
                              "tpa": socket.inet_ntop(socket.AF_INET, p[24:28])}), flush=True)
        elif ethertype == 0x86DD and len(p) >= 40 + 24 and p[6] == 58 and p[40] == 136:
            icmp = p[40:]
            tll = None
            opts = icmp[24:]
            while len(opts) >= 8 and opts[1] > 0:
                if opts[0] == 2:
                    tll = mac(opts[2:8])
                opts = opts[opts[1] * 8:]
            print(json.dumps({"kind": "na", "dst": socket.inet_ntop(socket.AF_INET6, p[24:40]),
                              "src": socket.inet_ntop(socket.AF_INET6, p[8:24]), "hlim": p[7],
                              "flags": icmp[4], "target": socket.inet_ntop(socket.AF_INET6, icmp[8:24]),
                              "tll": tll}), flush=True)
    return 0


class Netns:
    """An anonymous network namespace held by a sleeping process."""

    def __init__(self):
        mine = os.readlink("/proc/self/ns/net")
        self.proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "120"], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        while True:
            try:
                if os.readlink("/proc/%d/ns/net" % self.proc.pid) != mine:
                    break
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError("unshare --net did not start")
            time.sleep(0.01)
        self.prefix = ["nsenter", "--target", str(self.proc.pid), "--net", "--"]

    def sh(self, *cmd, check=True):
        p = subprocess.run(self.prefix + list(cmd), capture_output=True, text=True, timeout=10)
        if check and p.returncode != 0:
            raise RuntimeError("%s: %s" % (" ".join(cmd), p.stderr.strip()))
        return p.stdout

    def close(self):
        self.proc.kill()
        self.proc.wait()


class Capture:
    def __init__(self, ns, ifname):
        self.proc = subprocess.Popen(ns.prefix + [sys.executable, os.path.abspath(__file__), "--capture", ifname],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError("capture did not start")

    def stop(self):
        """Waits a moment for stragglers, then returns what arrived."""
        time.sleep(0.2)
        out, _ = self.proc.communicate("\n", timeout=10)
        return [json.loads(l) for l in out.splitlines() if l.startswith("{")]


def link_mac(ns, ifname):
    return json.loads(ns.sh("ip", "-j", "link", "show", "dev", ifname))[0]["address"]


def neigh_mac(ns, family, ip, ifname):
    out = ns.sh("ip", "-j", "-" + family, "neigh", "show", "to", ip, "dev", ifname)
    entries = json.loads(out or "[]")
    return entries[0].get("lladdr") if entries else None


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces)")
        return SKIP
    for tool in ("ip", "unshare", "nsenter"):
        if not shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin"):
            print("SKIP: %s is not installed" % tool)
            return SKIP
    c = Checker("test-ipaddr")
    a = b = None
    try:
        a, b = Netns(), Netns()
        a.sh("ip", "link", "add", "cdA0", "type", "veth", "peer", "name", "cdB0", "netns", str(b.proc.pid))
        for ns, ifname, n in ((a, "cdA0", 1), (b, "cdB0", 2)):
            ns.sh("ip", "link", "set", "lo", "up")
            ns.sh("ip", "link", "set", ifname, "up")
            ns.sh("ip", "addr", "add", "198.18.0.%d/24" % n, "dev", ifname)
            ns.sh("ip", "-6", "addr", "add", "fd00:cd::%d/64" % n, "dev", ifname, "nodad")
        test_helper(c, a)
        test_errors(c, a)
        test_ipv4(c, a, b)
        test_ipv6(c, a, b)
    finally:
        for ns in (a, b):
            if ns:
                ns.close()
    return c.done()


def test_helper(c, a):
    p = subprocess.run(a.prefix + [ANNOUNCE, "--count", "0", "cdA0", "198.18.0.1"], capture_output=True, text=True)
    c.check(p.returncode == 2 and "--count" in p.stderr, "ipaddr-announce refuses --count 0", p.stderr)
    p = subprocess.run(a.prefix + [ANNOUNCE, "cdA0", "198.18.0.999"], capture_output=True, text=True)
    c.check(p.returncode == 2 and "198.18.0.999" in p.stderr, "ipaddr-announce refuses a bad address", p.stderr)
    p = subprocess.run(a.prefix + [ANNOUNCE, "lo", "127.0.0.1"], capture_output=True, text=True)
    c.check(p.returncode == 0 and "nothing to announce" in p.stdout, "ipaddr-announce on lo has nothing to do",
            p.stdout + p.stderr)
    p = subprocess.run(a.prefix + [ANNOUNCE, "nosuch0", "198.18.0.1"], capture_output=True, text=True)
    c.check(p.returncode == 1 and "nosuch0" in p.stderr, "ipaddr-announce on a missing interface", p.stderr)


def test_errors(c, a):
    def act(action, params):
        return run(IPADDR, action, params, prefix=a.prefix)

    meta_data_ok(c, IPADDR, ["ip", "cidr_netmask", "nic", "label", "announce_count", "announce_interval"],
                 ["start", "stop", "monitor", "meta-data", "validate-all"])
    cases = [
        ({}, OCF_ERR_CONFIGURED, "parameter 'ip' is required"),
        ({"ip": "198.18.0.300"}, OCF_ERR_CONFIGURED, "\"198.18.0.300\""),
        ({"ip": "198.18.0.10/24"}, OCF_ERR_CONFIGURED, "put it in 'cidr_netmask'"),
        ({"ip": "198.18.0.10", "cidr_netmask": "33"}, OCF_ERR_CONFIGURED, "parameter 'cidr_netmask'"),
        ({"ip": "fd00:cd::10", "label": "vip"}, OCF_ERR_CONFIGURED, "IPv6 addresses have no labels"),
        ({"ip": "198.18.0.10", "nic": "a b"}, OCF_ERR_CONFIGURED, "parameter 'nic'"),
        ({"ip": "198.18.0.10", "announce_count": "0"}, OCF_ERR_CONFIGURED, "parameter 'announce_count'"),
        ({"ip": "198.18.0.10", "netmask": "24"}, OCF_ERR_CONFIGURED, "unknown parameter 'netmask'"),
        ({"ip": "198.18.0.10", "nic": "nosuch0"}, OCF_ERR_INSTALLED, "no interface 'nosuch0'"),
        ({"ip": "198.19.255.10"}, OCF_ERR_INSTALLED, "no connected route holds 198.19.255.10"),
        ({"ip": "198.18.0.10", "nic": "cdA0", "label": "a-long-label"}, OCF_ERR_CONFIGURED, "longer than 15"),
    ]
    for params, rc, needle in cases:
        r = act("start", params)
        c.rc(r, rc, "start with %s" % params)
        c.reason(r, needle, "start with %s" % params)
    r = run(IPADDR, "validate-all", {"ip": "198.18.0.10"}, prefix=a.prefix,
            env={"CLUSTERD_LIBEXECDIR": "/nonexistent"})
    c.rc(r, OCF_ERR_INSTALLED, "validate-all without the helper")
    c.reason(r, "/nonexistent/ipaddr-announce", "validate-all without the helper")
    c.rc(act("migrate_to", {"ip": "198.18.0.10"}), OCF_ERR_UNIMPLEMENTED, "migrate_to")
    c.rc(act("monitor", {"ip": "198.18.0.10"}), OCF_NOT_RUNNING, "monitor of an address nobody added")
    c.rc(act("stop", {"ip": "198.18.0.10"}), OCF_SUCCESS, "stop of an address nobody added")


def test_ipv4(c, a, b):
    params = {"ip": "198.18.0.10", "label": "vip", "announce_count": 3, "announce_interval": 100}
    mac = link_mac(a, "cdA0")

    def act(action):
        return run(IPADDR, action, params, prefix=a.prefix)

    c.rc(act("validate-all"), OCF_SUCCESS, "IPv4 validate-all (nic and prefix from the route)")
    # b knows the address at another MAC, as it would after a failover.
    b.sh("ip", "neigh", "replace", "198.18.0.10", "lladdr", BOGUS_MAC, "dev", "cdB0", "nud", "stale")
    cap = Capture(b, "cdB0")
    r = act("start")
    frames = cap.stop()
    c.rc(r, OCF_SUCCESS, "IPv4 start")
    addrs = a.sh("ip", "-o", "-4", "addr", "show", "dev", "cdA0")
    c.check("inet 198.18.0.10/24 " in addrs and "cdA0:vip" in addrs,
            "198.18.0.10/24 with label cdA0:vip is on cdA0 (prefix from the route)", addrs)
    garp = [f for f in frames if f["kind"] == "arp" and f["spa"] == "198.18.0.10" and f["tpa"] == "198.18.0.10"
            and f["sha"] == mac and f["dst"] == "ff:ff:ff:ff:ff:ff"]
    requests = sum(1 for f in garp if f["op"] == 1)
    replies = sum(1 for f in garp if f["op"] == 2)
    c.check(requests == 3 and replies == 3, "b received 3 gratuitous ARP requests and 3 replies from %s" % mac,
            frames)
    learnt = neigh_mac(b, "4", "198.18.0.10", "cdB0")
    c.check(learnt == mac, "b's neighbour table moved 198.18.0.10 from %s to %s" % (BOGUS_MAC, mac), learnt)
    c.rc(act("monitor"), OCF_SUCCESS, "IPv4 monitor")
    c.rc(act("start"), OCF_SUCCESS, "IPv4 start again")
    c.rc(run(IPADDR, "monitor", dict(params, nic="lo"), prefix=a.prefix), OCF_NOT_RUNNING,
         "IPv4 monitor on another interface")
    c.rc(act("stop"), OCF_SUCCESS, "IPv4 stop")
    c.check("198.18.0.10" not in a.sh("ip", "-o", "-4", "addr", "show"), "the address is gone")
    c.rc(act("monitor"), OCF_NOT_RUNNING, "IPv4 monitor after stop")
    c.rc(act("stop"), OCF_SUCCESS, "IPv4 stop again")


def test_ipv6(c, a, b):
    params = {"ip": "fd00:cd:0::10", "nic": "cdA0", "cidr_netmask": 64, "announce_count": 3,
              "announce_interval": 100}
    mac = link_mac(a, "cdA0")

    def act(action):
        return run(IPADDR, action, params, prefix=a.prefix)

    b.sh("ip", "-6", "neigh", "replace", "fd00:cd::10", "lladdr", BOGUS_MAC, "dev", "cdB0", "nud", "stale")
    cap = Capture(b, "cdB0")
    r = act("start")
    frames = cap.stop()
    c.rc(r, OCF_SUCCESS, "IPv6 start")
    addrs = a.sh("ip", "-o", "-6", "addr", "show", "dev", "cdA0")
    c.check("inet6 fd00:cd::10/64 " in addrs, "fd00:cd::10/64 is on cdA0", addrs)
    na = [f for f in frames if f["kind"] == "na" and f["target"] == "fd00:cd::10"]
    good = [f for f in na if f["dst"] == "ff02::1" and f["src"] == "fd00:cd::10" and f["hlim"] == 255
            and f["flags"] & 0x20 and not f["flags"] & 0x40 and f["tll"] == mac]
    c.check(len(good) == 3, "b received 3 unsolicited neighbour advertisements (override, to ff02::1, hop "
            "limit 255, target link-layer address %s)" % mac, frames)
    learnt = neigh_mac(b, "6", "fd00:cd::10", "cdB0")
    c.check(learnt == mac, "b's neighbour table moved fd00:cd::10 from %s to %s" % (BOGUS_MAC, mac), learnt)
    c.rc(act("monitor"), OCF_SUCCESS, "IPv6 monitor")
    c.rc(act("stop"), OCF_SUCCESS, "IPv6 stop")
    c.check("fd00:cd::10/" not in a.sh("ip", "-o", "-6", "addr", "show"), "the address is gone")
    c.rc(act("monitor"), OCF_NOT_RUNNING, "IPv6 monitor after stop")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--capture":
        sys.exit(capture(sys.argv[2], 20))
    sys.exit(main())
