# SPDX-License-Identifier: LGPL-2.1-or-later
"""The SMB witness backend (quorum/witness-smb.c) against a real Samba
(witness_smb.py), driven by tests/witness/witness-tool as an operator would
run it:

    witness-tool --url URL --credentials FILE [--timeout-ms N] read NAME
    witness-tool --url URL --credentials FILE [--timeout-ms N] write NAME EXPECT_TAG GENERATION FILE

Everything runs in a network namespace of this module's own (cw-smb-PID,
198.18.202.1 and .2 on its lo): smbd serves the shares "witness" and
"spare" on .1; the test of a stopped server runs a second smbd on .2. No
rig, no corosync.

Skipped when Samba is not installed (apt-get install samba) or the tool is
not built ($CLUSTERD_BUILDDIR/tests/witness/witness-tool).
"""

import os
import re
import secrets
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig as rigmod  # noqa: E402
from witness_tool import ToolEnv, module_env  # noqa: E402
import witness_smb  # noqa: E402

ADDRESS = "198.18.202.1"
SPARE_ADDRESS = "198.18.202.2"  # the smbd that test_stopped_server_is_unreachable stops
SHARE = "witness"
USER, PASSWORD = "witness", "pass-%s" % secrets.token_hex(4)
NS_PREFIX = "cw-smb-"
STATE_ROOT = "/var/tmp/clusterd-witness-smb"
# libsmbclient leaks one string each time its first context in a process is
# made (debug_set_logfile, called from smbc_new_context); libtalloc has no
# frame pointers, so only the slow unwinder sees that far.
LSAN_SUPPRESSIONS = "leak:debug_set_logfile\n"



class Env(ToolEnv):
    """The namespace, smbd, and helpers to run the tool."""

    ns_prefix = NS_PREFIX

    def __init__(self, workdir):
        super().__init__(workdir)
        self.samba = None
        self.suppressions = os.path.join(workdir, "lsan.supp")
        with open(self.suppressions, "w") as f:
            f.write(LSAN_SUPPRESSIONS)

    def start(self):
        self.make_namespace([ADDRESS, SPARE_ADDRESS])
        self.samba = witness_smb.start_samba(self.prefix, os.path.join(self.dir, "samba"), ADDRESS,
                                             users={USER: PASSWORD},
                                             shares={SHARE: {"read_only": False}, "spare": {"read_only": False}})

    def stop(self):
        if self.samba is not None:
            self.samba.stop()
        self.drop_namespace()

    def url(self, share=SHARE, folder="", address=ADDRESS):
        return "smb://%s/%s%s" % (address, share, "/" + folder if folder else "")

    def user_credentials(self):
        return self.credentials(username=USER, password=PASSWORD)

    def share_dir(self, share=SHARE):
        return self.samba.share_path(share)

    def tool_env(self):
        env = super().tool_env()
        # Leak checks stay on in an ASan build; only libsmbclient's own
        # leak is suppressed.
        env["ASAN_OPTIONS"] = ":".join(x for x in (os.environ.get("ASAN_OPTIONS", ""), "fast_unwind_on_malloc=0") if x)
        env["LSAN_OPTIONS"] = ":".join(
            x for x in (os.environ.get("LSAN_OPTIONS", ""), "suppressions=" + self.suppressions) if x)
        return env


@pytest.fixture(scope="module")
def env(request):
    yield from module_env(request, witness_smb.samba_missing(), Env, STATE_ROOT, "smbd's log, the shares")


def expect(reply, result):
    assert reply.result == result, "expected result=%s: %r" % (result, reply)


def files_of(env, name, share=SHARE, folder=""):
    """The object's generation files in the share, as the server has them."""
    d = os.path.join(env.share_dir(share), folder)
    return sorted((f for f in os.listdir(d) if re.fullmatch(re.escape(name) + r"\.[0-9]+", f)),
                  key=lambda f: int(f.rsplit(".", 1)[1]))


# --------------------------------------------------------------------------
# The compare-and-swap
# --------------------------------------------------------------------------


def test_compare_and_swap(env):
    url, cred, name = env.url(), env.user_credentials(), env.name("cas")

    expect(env.read(url, cred, name), "absent")

    first = env.write(url, cred, name, "", "generation 1\n", generation=1)
    expect(first, "ok")
    assert first.tag == "1", first
    expect(env.write(url, cred, name, "", "someone else's first\n", generation=1), "conflict")

    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "generation 1\n", "1"), got

    second = env.write(url, cred, name, "1", "generation 2\n", generation=2)
    assert (second.result, second.tag) == ("ok", "2"), second
    expect(env.write(url, cred, name, "1", "stale writer\n", generation=2), "conflict")
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "generation 2\n", "2"), got
    assert files_of(env, name) == [name + ".1", name + ".2"]


def test_old_generations_are_cleaned_up_and_stale_writers_lose(env):
    url, cred, name = env.url(), env.user_credentials(), env.name("old")
    tag = ""
    for g in range(1, 7):
        r = env.write(url, cred, name, tag, "generation %d\n" % g, generation=g)
        assert (r.result, r.tag) == ("ok", str(g)), r
        tag = r.tag
    # Two below the newest stay for readers in flight.
    assert files_of(env, name) == [name + ".4", name + ".5", name + ".6"]

    # A writer that read generation 1 long ago: its create succeeds (2 is
    # gone), the generations above it make it lose, and it cleans up.
    r = env.write(url, cred, name, "1", "from the past\n", generation=2)
    expect(r, "conflict")
    assert "above ours" in r.error, r
    assert files_of(env, name) == [name + ".4", name + ".5", name + ".6"]
    got = env.read(url, cred, name)
    assert (got.text, got.tag) == ("generation 6\n", "6"), got


def test_concurrent_writers_one_wins(env):
    url, cred, name = env.url(), env.user_credentials(), env.name("race")
    tag = env.race(url, cred, name, "-", 1)
    env.race(url, cred, name, tag, 2)


def test_two_clusters_share_a_folder(env):
    url, cred = env.url(folder="shared"), env.user_credentials()
    os.makedirs(os.path.join(env.share_dir(), "shared"), exist_ok=True)
    a, b = env.name("alpha"), env.name("beta")

    expect(env.write(url, cred, a, "", "alpha 1\n"), "ok")
    expect(env.read(url, cred, b), "absent")
    expect(env.write(url, cred, b, "", "beta 1\n"), "ok")
    for g in (2, 3, 4, 5):
        expect(env.write(url, cred, b, str(g - 1), "beta %d\n" % g, generation=g), "ok")
    got = env.read(url, cred, a)
    assert (got.text, got.tag) == ("alpha 1\n", "1"), got
    got = env.read(url, cred, b)
    assert (got.text, got.tag) == ("beta 5\n", "5"), got
    # b's clean-up left a alone.
    assert files_of(env, a, folder="shared") == [a + ".1"]


def test_foreign_files_are_ignored_and_a_junk_generation_is_read(env):
    url, cred, name = env.url(), env.user_credentials(), env.name("junk")
    d = env.share_dir()
    expect(env.write(url, cred, name, "", "mine\n"), "ok")
    for junk in (name + ".0007", name + ".x", name + ".3.tmp", name + ".99999999999999999999", name + "x.5"):
        with open(os.path.join(d, junk), "w") as f:
            f.write("not a generation\n")
    os.mkdir(os.path.join(d, name + ".8"))  # a folder is no generation either
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "mine\n", "1"), got

    # A file that looks like a newer generation is what a read returns
    # (whose record it is, the caller decides), and writers lose to it.
    with open(os.path.join(d, name + ".123456789"), "w") as f:
        f.write("garbage that is no record\n")
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "garbage that is no record\n", "123456789"), got
    expect(env.write(url, cred, name, "1", "mine 2\n", generation=2), "conflict")


def test_oversized_file_is_corrupt(env):
    url, cred, name = env.url(), env.user_credentials(), env.name("big")
    with open(os.path.join(env.share_dir(), name + ".1"), "w") as f:
        f.write("x" * 5000)
    r = env.read(url, cred, name)
    expect(r, "corrupt")
    assert "larger than 4096 bytes" in r.error, r


def test_abandoned_empty_file_is_passed_over_and_taken_over(env):
    # A writer that died between its create and its write (or whose create
    # reached the server after it gave up) leaves an empty file nobody has
    # open: not a version.
    url, cred, name = env.url(), env.user_credentials(), env.name("empty")
    expect(env.write(url, cred, name, "", "one\n"), "ok")
    open(os.path.join(env.share_dir(), name + ".2"), "w").close()
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "one\n", "1"), got
    r = env.write(url, cred, name, "1", "two\n", generation=2)
    assert (r.result, r.tag) == ("ok", "2"), r
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "two\n", "2"), got

    other = env.name("emptyfirst")
    open(os.path.join(env.share_dir(), other + ".1"), "w").close()
    expect(env.read(url, cred, other), "absent")
    expect(env.write(url, cred, other, "", "first\n"), "ok")


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------


def test_read_only_share_is_denied(env):
    url, cred, name = env.url("spare"), env.user_credentials(), env.name("ro")
    expect(env.write(url, cred, name, "", "before\n"), "ok")
    env.samba.set_read_only("spare", True)
    try:
        got = env.read(url, cred, name)
        assert (got.result, got.text) == ("ok", "before\n"), got
        r = env.write(url, cred, name, "1", "after\n", generation=2)
        expect(r, "denied")
        assert "smb://%s/spare" % ADDRESS in r.error and "read-only" in r.error, r
    finally:
        env.samba.set_read_only("spare", False)
    expect(env.write(url, cred, name, "1", "after\n", generation=2), "ok")


def test_wrong_password_is_denied(env):
    url, name = env.url(), env.name("pw")
    cred = env.credentials(username=USER, password="not-" + PASSWORD)
    for r in (env.read(url, cred, name), env.write(url, cred, name, "", "x\n")):
        expect(r, "denied")
        assert "wrong user name or password for smb://%s/%s" % (ADDRESS, SHARE) in r.error, r
    r = env.read(url, env.credentials(username="nobody-" + USER, password=PASSWORD), name)
    expect(r, "denied")
    assert "wrong user name or password" in r.error, r


def test_missing_share_and_folder(env):
    cred, name = env.user_credentials(), env.name("where")
    r = env.read(env.url("nosuchshare"), cred, name)
    expect(r, "unreachable")
    assert "smb://%s/nosuchshare: the server has no such share" % ADDRESS in r.error, r
    r = env.write(env.url(folder="no/such/folder"), cred, name, "", "x\n")
    expect(r, "unreachable")
    assert "the folder does not exist" in r.error, r


def test_credentials_without_a_user_are_refused(env):
    r = env.tool_run(env.url(), env.credentials(password=PASSWORD), "read", "x")
    assert r.rc == 2 and "no user name" in r.error, r


def test_no_server_is_unreachable_within_the_timeout(env):
    cred, name = env.user_credentials(), env.name("nobody")
    # Nothing listens on the spare address yet: refused at once.
    r = env.read(env.url(address=SPARE_ADDRESS), cred, name, timeout_ms=2000)
    expect(r, "unreachable")
    assert "Connection refused" in r.error and r.seconds < 2.0, r
    # An address nothing answers on (no route in the namespace).
    r = env.read(env.url(address="198.18.203.1"), cred, name, timeout_ms=2000)
    expect(r, "unreachable")
    assert r.seconds < 4.0, r


def test_stopped_server_is_unreachable_within_the_timeout(env):
    cred, name = env.user_credentials(), env.name("stop")
    spare = witness_smb.start_samba(env.prefix, os.path.join(env.dir, "spare-samba"), SPARE_ADDRESS,
                                    users={USER: PASSWORD}, shares={SHARE: {"read_only": False}})
    url = env.url(address=SPARE_ADDRESS)
    try:
        expect(env.write(url, cred, name, "", "up\n"), "ok")
        spare.stop()
        for r in (env.read(url, cred, name, timeout_ms=3000), env.write(url, cred, name, "1", "down\n",
                                                                          generation=2, timeout_ms=3000)):
            expect(r, "unreachable")
            assert "smb://%s/%s" % (SPARE_ADDRESS, SHARE) in r.error, r
            assert r.seconds < 3.0 + 2.0, r  # the timeout, and the tool's start
    finally:
        spare.stop()


def test_dropped_packets_are_unreachable_within_the_timeout(env):
    # smbd is there but the network eats every packet to it: libsmbclient
    # alone would wait longer than the timeout to connect.
    cred, name = env.user_credentials(), env.name("drop")
    table = "cwsmb%d" % os.getpid()
    nft = env.prefix + ["nft"]
    rigmod.sh(nft + ["add", "table", "inet", table])
    try:
        rigmod.sh(nft + ["add", "chain", "inet", table, "in", "{ type filter hook input priority 0 ; }"])
        rigmod.sh(nft + ["add", "rule", "inet", table, "in", "ip", "daddr", ADDRESS, "tcp", "dport", "445", "drop"])
        r = env.read(env.url(), cred, name, timeout_ms=1500)
        expect(r, "unreachable")
        assert "no answer from '%s' port 445 within 1500 ms" % ADDRESS in r.error, r
        assert r.seconds < 1.5 + 2.0, r
    finally:
        rigmod.sh(nft + ["delete", "table", "inet", table], check=False)
    expect(env.read(env.url(), cred, name), "absent")
