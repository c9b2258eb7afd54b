#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""witness_azure.py: Azurite (the Azure Blob Storage emulator) for the cloud
witness tests, and what a test needs to talk to it: the emulator's
well-known account and key, SAS tokens, and Shared Key signed requests.

    az = start_azurite(["ip", "netns", "exec", NS], workdir, "198.18.201.1")
    az.endpoint        # "http://198.18.201.1:10000/devstoreaccount1" (path style)
    az.account, az.key # "devstoreaccount1" and its key (public: the emulator's)
    az.sas("witness", "rcw")                # a service SAS for one container
    az.create_container("witness")          # through run_prefix, signed with the key
    az.put_blob("witness", "name", b"...")  # any content (a backend writes only records)
    az.stop()

Azurite runs as `azurite-blob --blobHost ADDR --blobPort PORT --location
WORKDIR --silent --disableTelemetry` through run_prefix (a command prefix,
e.g. `ip netns exec NS`): the binary is tests/witness/node_modules/.bin/
azurite-blob (scripts/deps installs it with npm ci; $CLUSTERD_AZURITE
overrides). Its output goes to WORKDIR/azurite.log. Telemetry is off: the
emulator would otherwise try to reach Microsoft.

This file is also a small CLI that runs inside the namespace, where the
test process itself cannot connect:

    witness_azure.py ping ENDPOINT
    witness_azure.py create-container ENDPOINT CONTAINER   (account and key: the emulator's)
    witness_azure.py put-blob ENDPOINT CONTAINER NAME FILE

Only the standard library is used.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import os
import subprocess
import sys
import time
import urllib.parse

from rig_host import stop_group

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))

ACCOUNT = "devstoreaccount1"
# The emulator's one account key: public, the same in every Azurite.
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
API_VERSION = "2021-08-06"  # what quorum/witness-azure.c speaks
START_TIMEOUT = 30.0  # seconds; Azurite starts in 1-3 s on 2 cores


class AzuriteError(Exception):
    pass


def azurite_path():
    """The azurite-blob to run: $CLUSTERD_AZURITE, else the one npm installed
    from tests/witness/package-lock.json."""
    return os.environ.get("CLUSTERD_AZURITE") or os.path.join(
        REPO_ROOT, "tests", "witness", "node_modules", ".bin", "azurite-blob")


def azurite_missing():
    """Why Azurite cannot run here, or None."""
    path = azurite_path()
    if not os.access(path, os.X_OK):
        return "Azurite is not installed at %s (scripts/deps installs it with npm, or set CLUSTERD_AZURITE)" % path
    return None


# --------------------------------------------------------------------------
# Signing (Shared Key and service SAS), as Azure documents them
# --------------------------------------------------------------------------


def _hmac_b64(key_b64, text):
    mac = hmac.new(base64.b64decode(key_b64), text.encode("utf-8"), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode("ascii")


def http_date(when=None):
    """RFC 1123 in GMT (x-ms-date), with English names whatever the locale."""
    t = time.gmtime(when)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return "%s, %02d %s %04d %02d:%02d:%02d GMT" % (
        days[t.tm_wday], t.tm_mday, months[t.tm_mon - 1], t.tm_year, t.tm_hour, t.tm_min, t.tm_sec)


def shared_key_headers(method, url, account=ACCOUNT, key=KEY, headers=None, body=b""):
    """The headers of a Shared Key signed request: headers (a dict) plus
    x-ms-date, x-ms-version and Authorization. The canonicalized resource is
    "/ACCOUNT" + the URL's path (for a path-style endpoint the path already
    starts with /ACCOUNT) + the query parameters, one "\\nname:value" each."""
    h = dict(headers or {})
    h["x-ms-date"] = http_date()
    h["x-ms-version"] = API_VERSION
    u = urllib.parse.urlsplit(url)
    lower = {k.lower(): v for k, v in h.items()}
    length = str(len(body)) if body else ""
    standard = [method, lower.get("content-encoding", ""), lower.get("content-language", ""), length,
                lower.get("content-md5", ""), lower.get("content-type", ""), lower.get("date", ""),
                lower.get("if-modified-since", ""), lower.get("if-match", ""), lower.get("if-none-match", ""),
                lower.get("if-unmodified-since", ""), lower.get("range", "")]
    ms = "".join("%s:%s\n" % (k, lower[k].strip()) for k in sorted(lower) if k.startswith("x-ms-"))
    resource = "/%s%s" % (account, u.path or "/")
    for name, value in sorted((k.lower(), v) for k, v in urllib.parse.parse_qsl(u.query, keep_blank_values=True)):
        resource += "\n%s:%s" % (name, value)
    string_to_sign = "\n".join(standard) + "\n" + ms + resource
    h["Authorization"] = "SharedKey %s:%s" % (account, _hmac_b64(key, string_to_sign))
    return h


def service_sas(container, permissions, account=ACCOUNT, key=KEY, expiry_seconds=3600, start=None):
    """A service SAS token (without '?') for a whole container (sr=c), signed
    with key, version 2020-12-06's string-to-sign: permissions ("r", "rcw",
    ...), start, expiry, the resource, identifier, IP range, protocol,
    version, resource type, snapshot time, encryption scope and the five
    response headers, one per line. expiry_seconds < 0 makes one that has
    already expired."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    se = (now + datetime.timedelta(seconds=expiry_seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    st = start or (now - datetime.timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fields = [permissions, st, se, "/blob/%s/%s" % (account, container), "", "", "", API_VERSION, "c",
              "", "", "", "", "", "", ""]
    sig = _hmac_b64(key, "\n".join(fields))
    q = [("sv", API_VERSION), ("sr", "c"), ("sp", permissions), ("st", st), ("se", se), ("sig", sig)]
    return urllib.parse.urlencode(q, quote_via=urllib.parse.quote, safe="")


# --------------------------------------------------------------------------
# Requests (run inside the namespace: see the CLI below)
# --------------------------------------------------------------------------


def _request(method, url, headers=None, body=b"", timeout=10):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=timeout)
    try:
        path = u.path + ("?" + u.query if u.query else "")
        conn.request(method, path, body=body or None, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


def put_blob(endpoint, container, name, body, account=ACCOUNT, key=KEY):
    """Put Blob (a block blob, unconditionally): for content no backend
    would write. Returns the new ETag."""
    url = "%s/%s/%s" % (endpoint, container, name)
    headers = shared_key_headers("PUT", url, account, key, {"x-ms-blob-type": "BlockBlob",
                                                              "Content-Type": "application/octet-stream"}, body)
    status, rh, rbody = _request("PUT", url, headers, body)
    if status != 201:
        raise AzuriteError("putting blob %s/%s at %s: HTTP %s %s %s" % (
            container, name, endpoint, status, rh.get("x-ms-error-code", ""), rbody[:300]))
    return rh.get("ETag")


def get_blob(endpoint, container, name, account=ACCOUNT, key=KEY):
    """Get Blob: its content (bytes)."""
    url = "%s/%s/%s" % (endpoint, container, name)
    status, rh, rbody = _request("GET", url, shared_key_headers("GET", url, account, key))
    if status != 200:
        raise AzuriteError("getting blob %s/%s at %s: HTTP %s %s %s" % (
            container, name, endpoint, status, rh.get("x-ms-error-code", ""), rbody[:300]))
    return rbody


def ping(endpoint):
    """Whether the blob service answers at all (any HTTP status)."""
    status, _, _ = _request("GET", endpoint + "?comp=list", timeout=2)
    return status


def create_container(endpoint, container, account=ACCOUNT, key=KEY):
    """Create Container; an existing one is fine. Returns the HTTP status."""
    url = "%s/%s?restype=container" % (endpoint, container)
    status, headers, body = _request("PUT", url, shared_key_headers("PUT", url, account, key))
    if status not in (201, 409):
        raise AzuriteError("creating container %s at %s: HTTP %s %s %s" % (
            container, endpoint, status, headers.get("x-ms-error-code", ""), body[:300]))
    return status


# --------------------------------------------------------------------------
# The emulator
# --------------------------------------------------------------------------


class Azurite:
    """A running azurite-blob (see start_azurite)."""

    def __init__(self, proc, run_prefix, workdir, address, port, log_path):
        self.proc = proc
        self.pid = proc.pid
        self.run_prefix = list(run_prefix)
        self.workdir = workdir
        self.address = address
        self.port = port
        self.log_path = log_path
        self.account = ACCOUNT
        self.key = KEY
        self.endpoint = "http://%s:%d/%s" % (address, port, ACCOUNT)

    def log(self, limit=4000):
        try:
            with open(self.log_path, errors="replace") as f:
                text = f.read()
        except OSError as e:
            return "(no log: %s)" % e
        return text[-limit:]

    def sas(self, container, permissions, expiry_seconds=3600):
        """A service SAS (without '?') for container with permissions ("rcw": read, create, write)."""
        return service_sas(container, permissions, self.account, self.key, expiry_seconds)

    def _cli(self, *args, timeout=30):
        cmd = self.run_prefix + [sys.executable, os.path.abspath(__file__)] + list(args)
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)

    def create_container(self, container):
        """Creates container (Shared Key, through run_prefix); an existing one is fine."""
        cp = self._cli("create-container", self.endpoint, container)
        if cp.returncode != 0:
            raise AzuriteError("could not create container %s: %s%s" % (container, cp.stdout, cp.stderr))

    def put_blob(self, container, name, body):
        """Puts body (bytes) as blob container/name (Shared Key, through run_prefix)."""
        path = os.path.join(self.workdir, ".put-blob")
        with open(path, "wb") as f:
            f.write(body)
        cp = self._cli("put-blob", self.endpoint, container, name, path)
        if cp.returncode != 0:
            raise AzuriteError("could not put blob %s/%s: %s%s" % (container, name, cp.stdout, cp.stderr))
        return cp.stdout.strip()

    def get_blob(self, container, name):
        """Blob container/name's content as text (Shared Key, through run_prefix)."""
        cp = self._cli("get-blob", self.endpoint, container, name)
        if cp.returncode != 0:
            raise AzuriteError("could not get blob %s/%s: %s%s" % (container, name, cp.stdout, cp.stderr))
        return cp.stdout

    def running(self):
        return self.proc.poll() is None

    def stop(self, timeout=10):
        """SIGTERM, then SIGKILL after timeout seconds. Idempotent."""
        return stop_group(self.proc, timeout)


def start_azurite(run_prefix, workdir, address, port=10000, timeout=START_TIMEOUT):
    """Starts azurite-blob on address:port through run_prefix with its data
    in workdir (created); returns an Azurite once it answers HTTP. Raises
    AzuriteError quoting its log when it does not start."""
    reason = azurite_missing()
    if reason:
        raise AzuriteError(reason)
    os.makedirs(workdir, exist_ok=True)
    log_path = os.path.join(workdir, "azurite.log")
    cmd = list(run_prefix) + [
        azurite_path(), "--blobHost", address, "--blobPort", str(port), "--location", os.path.join(workdir, "data"),
        "--silent", "--disableTelemetry"]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=workdir)
    az = Azurite(proc, run_prefix, workdir, address, port, log_path)
    deadline = time.monotonic() + timeout
    why = "it did not say it listens"
    while time.monotonic() < deadline:
        if not az.running():
            raise AzuriteError("azurite-blob exited with status %s before it answered; `%s`; its log %s:\n%s" % (
                proc.returncode, " ".join(cmd), log_path, az.log()))
        if "successfully listens" in az.log():
            cp = az._cli("ping", az.endpoint, timeout=10)
            if cp.returncode == 0:
                return az
            why = "it does not answer HTTP: %s" % (cp.stdout + cp.stderr).strip()[-300:]
        time.sleep(0.2)
    az.stop()
    raise AzuriteError("azurite-blob did not start within %.0fs (%s); `%s`; its log %s:\n%s" % (
        timeout, why, " ".join(cmd), log_path, az.log()))


def main(argv):
    if len(argv) == 2 and argv[0] == "ping":
        print("HTTP %s" % ping(argv[1]))
        return 0
    if len(argv) == 3 and argv[0] == "create-container":
        print("HTTP %s" % create_container(argv[1], argv[2]))
        return 0
    if len(argv) == 5 and argv[0] == "put-blob":
        with open(argv[4], "rb") as f:
            print(put_blob(argv[1], argv[2], argv[3], f.read()))
        return 0
    if len(argv) == 4 and argv[0] == "get-blob":
        sys.stdout.write(get_blob(argv[1], argv[2], argv[3]).decode("utf-8", "replace"))
        return 0
    sys.stderr.write("usage: witness_azure.py ping ENDPOINT | create-container ENDPOINT CONTAINER"
                     " | put-blob ENDPOINT CONTAINER NAME FILE | get-blob ENDPOINT CONTAINER NAME\n")
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, AzuriteError) as e:
        sys.stderr.write("witness_azure.py: %s\n" % e)
        sys.exit(1)
