# SPDX-License-Identifier: LGPL-2.1-or-later
"""The Azure Blob Storage witness backend (quorum/witness-azure.c) against
Azurite, directly and through a fault-injecting proxy, driven by
tests/witness/witness-tool as an operator would run it:

    witness-tool --url URL --credentials FILE [--timeout-ms N] read NAME
    witness-tool --url URL --credentials FILE [--timeout-ms N] write NAME EXPECT_TAG GENERATION FILE

Everything runs in a network namespace of this module's own (cw-az-PID,
198.18.201.1 on its lo): Azurite on port 10000, witness_proxy.py on 10001
in front of it. No rig, no corosync.

Skipped when Azurite is not installed (scripts/deps installs it from
tests/witness/package-lock.json) or the tool is not built
($CLUSTERD_BUILDDIR/tests/witness/witness-tool).
"""

import base64
import os
import re
import secrets
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from witness_tool import ToolEnv, module_env  # noqa: E402
import witness_azure  # noqa: E402
import witness_proxy  # noqa: E402

ADDRESS = "198.18.201.1"
AZURITE_PORT = 10000
PROXY_PORT = 10001
CONTAINER = "witness"
NS_PREFIX = "cw-az-"
STATE_ROOT = "/var/tmp/clusterd-witness-azure"



class Env(ToolEnv):
    """The namespace, Azurite, the proxy, and helpers to run the tool."""

    ns_prefix = NS_PREFIX

    def __init__(self, workdir):
        super().__init__(workdir)
        self.az = None
        self.proxy = None
        self.control = os.path.join(workdir, "proxy-mode")

    def start(self):
        self.make_namespace([ADDRESS])
        self.az = witness_azure.start_azurite(self.prefix, os.path.join(self.dir, "azurite"), ADDRESS, AZURITE_PORT)
        self.proxy = witness_proxy.start_proxy(self.prefix, "%s:%d" % (ADDRESS, PROXY_PORT),
                                               "%s:%d" % (ADDRESS, AZURITE_PORT), self.control,
                                               os.path.join(self.dir, "proxy.log"))

    def stop(self):
        for p in (self.proxy, self.az):
            if p is not None:
                p.stop()
        self.drop_namespace()

    def url(self, container=CONTAINER, via_proxy=False):
        port = PROXY_PORT if via_proxy else AZURITE_PORT
        return "azure://%s/%s?endpoint=http://%s:%d/%s" % (self.az.account, container, ADDRESS, port,
                                                           self.az.account)

    def key_credentials(self):
        return self.credentials(account_key=self.az.key)


@pytest.fixture(scope="module")
def env(request):
    yield from module_env(request, witness_azure.azurite_missing(), Env, STATE_ROOT, "Azurite's and the proxy's logs")


@pytest.fixture
def proxy(env):
    """The proxy, passing; set its mode with proxy.set_mode()."""
    env.proxy.set_mode("pass")
    yield env.proxy
    env.proxy.set_mode("pass")


def expect(reply, result):
    assert reply.result == result, "expected result=%s: %r" % (result, reply)


# --------------------------------------------------------------------------
# Shared Key
# --------------------------------------------------------------------------


def test_compare_and_swap_with_the_account_key(env):
    url, cred, name = env.url(), env.key_credentials(), env.name("cas")

    expect(env.read(url, cred, name), "absent")

    first = env.write(url, cred, name, "", "generation 1\n", generation=1)
    expect(first, "ok")
    assert first.tag.startswith('"') and first.tag.endswith('"'), first  # the ETag as Azure gives it

    expect(env.write(url, cred, name, "", "someone else's first\n"), "conflict")

    got = env.read(url, cred, name)
    expect(got, "ok")
    assert got.text == "generation 1\n" and got.tag == first.tag, got

    second = env.write(url, cred, name, first.tag, "generation 2\n", generation=2)
    expect(second, "ok")
    assert second.tag != first.tag, second

    expect(env.write(url, cred, name, first.tag, "stale writer\n", generation=2), "conflict")
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "generation 2\n", second.tag), got


def test_first_write_creates_the_container(env):
    url, cred, name = env.url("made-by-write"), env.key_credentials(), env.name("new")

    expect(env.read(url, cred, name), "absent")  # no container: no record
    expect(env.write(url, cred, name, "", "created\n"), "ok")
    got = env.read(url, cred, name)
    assert (got.result, got.text) == ("ok", "created\n"), got


def test_update_of_a_deleted_record_is_a_conflict(env):
    url, cred = env.url(), env.key_credentials()
    expect(env.write(url, cred, env.name("gone"), '"0x8D000000000000"', "x\n"), "conflict")


def test_concurrent_writers_one_wins(env):
    # Into a container nobody made yet: every writer creates it (or finds
    # it made), then exactly one create and one update of a tag succeed.
    url, cred, name = env.url("raced"), env.key_credentials(), env.name("race")
    tag = env.race(url, cred, name, "-", 1)
    env.race(url, cred, name, tag, 2)


def test_wrong_key_is_denied_with_the_server_code(env):
    wrong = base64.b64encode(secrets.token_bytes(64)).decode()
    url, cred, name = env.url(), env.credentials(account_key=wrong), env.name("wrongkey")

    for r in (env.read(url, cred, name), env.write(url, cred, name, "", "x\n")):
        expect(r, "denied")
        # Azurite says AuthorizationFailure where Azure says AuthenticationFailed.
        assert re.search(r"\b(AuthorizationFailure|AuthenticationFailed)\b", r.error), r
        assert "account key" in r.error and "azure://devstoreaccount1/witness" in r.error, r


def test_unusable_credentials_are_refused_before_any_request(env):
    url = env.url()
    r = env.tool_run(url, env.credentials(username="nobody"), "read", "x")
    assert r.rc == 2 and "neither account-key nor sas" in r.error, r
    assert "azure://devstoreaccount1/witness" in r.error, r
    r = env.tool_run(url, env.credentials(account_key="not*base64"), "read", "x")
    assert r.rc == 2 and "base64" in r.error, r


def test_oversized_blob_is_corrupt(env):
    url, cred, name = env.url(), env.key_credentials(), env.name("big")
    env.az.create_container(CONTAINER)
    env.az.put_blob(CONTAINER, name, b"x" * 5000)
    r = env.read(url, cred, name)
    expect(r, "corrupt")
    assert "larger than 4096 bytes" in r.error, r


# --------------------------------------------------------------------------
# SAS
# --------------------------------------------------------------------------


def test_compare_and_swap_with_a_sas(env):
    env.az.create_container(CONTAINER)
    url, cred, name = env.url(), env.credentials(sas=env.az.sas(CONTAINER, "rcw")), env.name("sas")

    expect(env.read(url, cred, name), "absent")
    first = env.write(url, cred, name, "", "one\n")
    expect(first, "ok")
    expect(env.write(url, cred, name, "", "two\n"), "conflict")
    second = env.write(url, cred, name, first.tag, "two\n", generation=2)
    expect(second, "ok")
    expect(env.write(url, cred, name, first.tag, "three\n", generation=3), "conflict")
    got = env.read(url, cred, name)
    assert (got.result, got.text, got.tag) == ("ok", "two\n", second.tag), got


def test_read_only_sas_reads_but_may_not_write(env):
    url, name = env.url(), env.name("rosas")
    expect(env.write(url, env.key_credentials(), name, "", "by the key\n"), "ok")
    cred = env.credentials(sas=env.az.sas(CONTAINER, "r"))

    got = env.read(url, cred, name)
    assert (got.result, got.text) == ("ok", "by the key\n"), got
    r = env.write(url, cred, name, got.tag, "by the sas\n", generation=2)
    expect(r, "denied")
    assert "AuthorizationPermissionMismatch" in r.error and "SAS" in r.error, r


def test_expired_or_foreign_sas_is_denied(env):
    env.az.create_container(CONTAINER)
    url, name = env.url(), env.name("badsas")
    for sas in (env.az.sas(CONTAINER, "rcw", expiry_seconds=-60), env.az.sas("another-container", "rcw")):
        r = env.read(url, env.credentials(sas=sas), name)
        expect(r, "denied")
        assert "SAS for azure://devstoreaccount1/witness was refused" in r.error, r


def test_sas_cannot_create_the_container(env):
    container = "never-created"
    url, cred, name = env.url(container), env.credentials(sas=env.az.sas(container, "rcw")), env.name("nc")
    expect(env.read(url, cred, name), "absent")
    r = env.write(url, cred, name, "", "x\n")
    expect(r, "failed")
    assert "container 'never-created' does not exist in account devstoreaccount1" in r.error, r


# --------------------------------------------------------------------------
# Faults, through the proxy
# --------------------------------------------------------------------------


def test_one_connection_serves_a_whole_write(env, proxy):
    # Into a missing container: Put Blob (404), Create Container, Put Blob
    # again, all on one kept-alive connection.
    url, cred, name = env.url("via-proxy", via_proxy=True), env.key_credentials(), env.name("keepalive")
    start = len(proxy.log())
    expect(env.write(url, cred, name, "", "through the proxy\n"), "ok")
    lines = proxy.log()[start:].splitlines()
    conns = {line.split()[1] for line in lines if re.match(r"conn \d+ req \d+ ", line)}
    requests = [line for line in lines if re.match(r"conn \d+ req \d+ ", line)]
    assert len(requests) == 3 and len(conns) == 1, lines
    got = env.read(url, cred, name)
    assert (got.result, got.text) == ("ok", "through the proxy\n"), got


def test_server_busy_is_failed(env, proxy):
    url, cred, name = env.url(via_proxy=True), env.key_credentials(), env.name("busy")
    proxy.set_mode("status 503")
    for r in (env.read(url, cred, name), env.write(url, cred, name, "", "x\n")):
        expect(r, "failed")
        assert "503" in r.error and "ServerBusy" in r.error, r
    proxy.set_mode("status 500")
    r = env.read(url, cred, name)
    expect(r, "failed")
    assert "500" in r.error and "InternalError" in r.error, r


def test_read_only_storage_is_denied(env, proxy):
    url, cred, name = env.url(via_proxy=True), env.key_credentials(), env.name("readonly")
    first = env.write(url, cred, name, "", "before\n")
    expect(first, "ok")
    proxy.set_mode("readonly")
    got = env.read(url, cred, name)
    assert (got.result, got.text) == ("ok", "before\n"), got
    r = env.write(url, cred, name, first.tag, "after\n", generation=2)
    expect(r, "denied")
    assert "AuthorizationPermissionMismatch" in r.error, r


def test_slow_answer_is_unreachable_within_the_timeout(env, proxy):
    url, cred, name = env.url(via_proxy=True), env.key_credentials(), env.name("slow")
    proxy.set_mode("slow 3000")
    r = env.read(url, cred, name, timeout_ms=1000)
    expect(r, "unreachable")
    assert r.seconds < 2.5, r
    assert "timed out" in r.error, r
    proxy.set_mode("slow 100")
    expect(env.read(url, cred, name, timeout_ms=2000), "absent")  # slow but in time is fine


def test_dropped_connection_is_unreachable(env, proxy):
    url, cred, name = env.url(via_proxy=True), env.key_credentials(), env.name("drop")
    proxy.set_mode("drop")
    for r in (env.read(url, cred, name), env.write(url, cred, name, "", "x\n")):
        expect(r, "unreachable")
        assert "no answer from http://198.18.201.1:10001" in r.error, r


def test_hung_server_is_unreachable_within_the_timeout(env, proxy):
    url, cred, name = env.url(via_proxy=True), env.key_credentials(), env.name("hang")
    proxy.set_mode("hang")
    r = env.write(url, cred, name, "", "x\n", timeout_ms=1000)
    expect(r, "unreachable")
    assert r.seconds < 2.5, r


def test_nobody_listening_is_unreachable(env):
    url = "azure://devstoreaccount1/witness?endpoint=http://%s:10009/devstoreaccount1" % ADDRESS
    r = env.read(url, env.key_credentials(), env.name("closed"))
    expect(r, "unreachable")
