"""The witness host of a rig: one more network namespace on the rig's
bridge (address <subnet>.250) where the tests run the witnesses' servers:
Samba for smb:// witnesses, Azurite behind a fault-injecting proxy for
azure:// witnesses.

    w = WitnessHost(rig)
    smb_url = w.start_samba()        # smb://<addr>/witness
    az_url = w.start_azurite()       # azure://devstoreaccount1/witness?endpoint=http://<addr>:10001/devstoreaccount1
    w.write_credentials(node, "smb") # /etc/clusterd/witness.cred on a node (root, 0600)
    w.cut() / w.restore()            # the witness host's cable
    w.block_from(node) / w.unblock(node)   # the witness unreachable from one node only
    w.proxy_mode("slow 3000")        # Azure faults: pass, slow MS, status 503, readonly, drop, hang

The namespace is named like the rig's others, so the rig's cleanup and
`rig.py sweep` delete it with every process in it.
"""

import os
import subprocess
import sys

from rig_host import PREFIX, sh, wait_until

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import witness_azure  # noqa: E402
import witness_proxy  # noqa: E402
import witness_smb  # noqa: E402

SMB_USER = "witness"
SMB_PASSWORD = "Witness-pass-1"
SMB_SHARE = "witness"
AZ_CONTAINER = "witness"
AZ_PORT = 10000
PROXY_PORT = 10001
NFT_TABLE = "cdwit"
CREDENTIALS = "/etc/clusterd/witness.cred"


class WitnessHost:
    def __init__(self, rig, name="wit"):
        self.rig = rig
        self.ns = PREFIX + rig.id + "-" + name
        self.veth = name
        self.address = rig.subnet + ".250"
        self.dir = os.path.join(rig.base_dir, name)
        self.run_prefix = ["ip", "netns", "exec", self.ns]
        self.samba = None
        self.azurite = None
        self.proxy = None
        self.control = os.path.join(self.dir, "proxy-mode")
        os.makedirs(self.dir, exist_ok=True)
        sh(["ip", "netns", "add", self.ns])
        sh(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        sw = rig.switch_ns
        sh(["ip", "-n", sw, "link", "add", self.veth, "type", "veth", "peer", "name", "eth0", "netns", self.ns])
        sh(["ip", "-n", sw, "link", "set", self.veth, "master", "br0"])
        sh(["ip", "-n", sw, "link", "set", self.veth, "up"])
        sh(["ip", "-n", self.ns, "addr", "add", self.address + "/24", "dev", "eth0"])
        sh(["ip", "-n", self.ns, "link", "set", "eth0", "up"])

    # ---- servers -----------------------------------------------------------

    def start_samba(self):
        self.samba = witness_smb.start_samba(self.run_prefix, os.path.join(self.dir, "samba"), self.address,
                                             users={SMB_USER: SMB_PASSWORD}, shares={SMB_SHARE: {"read_only": False}})
        return "smb://%s/%s" % (self.address, SMB_SHARE)

    def share_dir(self):
        """The share's directory on this host's file system."""
        return self.samba.share_path(SMB_SHARE)

    def start_azurite(self):
        self.azurite = witness_azure.start_azurite(self.run_prefix, os.path.join(self.dir, "azurite"), self.address,
                                                   port=AZ_PORT)
        self.azurite.create_container(AZ_CONTAINER)
        witness_proxy.set_proxy_mode(self.control, "pass")
        log = open(os.path.join(self.dir, "proxy.log"), "ab")
        self.proxy = subprocess.Popen(
            self.run_prefix + [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                            "witness_proxy.py"),
                               "--listen", "%s:%d" % (self.address, PROXY_PORT),
                               "--upstream", "%s:%d" % (self.address, AZ_PORT), "--control", self.control],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(lambda: sh(self.run_prefix + ["bash", "-c", "exec 3<>/dev/tcp/%s/%d" % (self.address, PROXY_PORT)],
                              check=False).returncode == 0, 15, 0.1, "the witness proxy to listen")
        return "azure://%s/%s?endpoint=http://%s:%d/%s" % (self.azurite.account, AZ_CONTAINER, self.address,
                                                          PROXY_PORT, self.azurite.account)

    def proxy_mode(self, mode):
        witness_proxy.set_proxy_mode(self.control, mode)

    def credentials_text(self, kind, wrong=False):
        if kind == "smb":
            return "username = %s\npassword = %s\n" % (SMB_USER, SMB_PASSWORD + ("x" if wrong else ""))
        key = self.azurite.key
        if wrong:
            key = ("B" if key[0] != "B" else "C") + key[1:]
        return "account-key = %s\n" % key

    def write_credentials(self, node, kind, wrong=False):
        node.write_file(CREDENTIALS, self.credentials_text(kind, wrong), mode=0o600)

    # ---- faults ------------------------------------------------------------

    def cut(self):
        sh(["ip", "-n", self.rig.switch_ns, "link", "set", self.veth, "down"])

    def restore(self):
        sh(["ip", "-n", self.rig.switch_ns, "link", "set", self.veth, "up"])

    def block_from(self, node):
        """The witness unreachable from node (its packets to and from the
        witness host are dropped in node's namespace)."""
        script = ("table inet %s\ndelete table inet %s\n"
                  "table inet %s {\n"
                  "  chain output { type filter hook output priority -5; policy accept; ip daddr %s drop; }\n"
                  "  chain input { type filter hook input priority -5; policy accept; ip saddr %s drop; }\n"
                  "}\n" % (NFT_TABLE, NFT_TABLE, NFT_TABLE, self.address, self.address))
        sh(["nsenter", "--net=/run/netns/" + node.ns, "nft", "-f", "-"], input=script)

    def unblock(self, node):
        sh(["nsenter", "--net=/run/netns/" + node.ns, "nft", "-f", "-"],
           input="table inet %s\ndelete table inet %s\n" % (NFT_TABLE, NFT_TABLE))

    def stop(self):
        for p in (self.proxy,):
            if p and p.poll() is None:
                p.kill()
                p.wait(5)
        if self.azurite:
            self.azurite.stop()
        if self.samba:
            self.samba.stop()
