#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""witness_proxy.py: a fault-injecting HTTP/1.1 reverse proxy between a
witness backend and its server (Azurite), for the witness tests.

    witness_proxy.py --listen ADDR:PORT --upstream ADDR:PORT --control FILE

It forwards requests and answers byte for byte, keeping connections alive
on both sides (one upstream connection per client connection), except as
the control file says. The file is read again for every request; one
line, one of:

    pass          forward (also when the file is missing or empty)
    slow MS       wait MS milliseconds, then forward
    status CODE   answer CODE (500, 503, ...) with an Azure-style XML error
                  body and x-ms-error-code (503: ServerBusy), without forwarding
    readonly      PUT, POST and DELETE get 403 AuthorizationPermissionMismatch;
                  GET and HEAD are forwarded
    drop          close the connection without answering
    hang          never answer (the connection stays open until the client
                  gives up)

set_proxy_mode(path, mode) writes the file atomically; start_proxy()
runs the proxy through a command prefix (e.g. `ip netns exec NS`) and
returns once it listens. The proxy logs one line per connection and per
request to stdout: "conn 3 req 2 PUT /devstoreaccount1/c/b mode=pass".

Requests must give their body's size with Content-Length (libcurl does);
a chunked request body gets 501. Answers may be chunked or sized. Only the
standard library is used.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from rig_host import stop_group

MODES = ("pass", "slow", "status", "readonly", "drop", "hang")
HEAD_MAX = 64 * 1024
IO_TIMEOUT = 120.0  # seconds: a stuck peer of a forwarded exchange is given up on
ERROR_CODES = {
    400: ("InvalidInput", "One of the request inputs is not valid."),
    403: ("AuthorizationPermissionMismatch",
          "This request is not authorized to perform this operation using this permission."),
    404: ("ResourceNotFound", "The specified resource does not exist."),
    409: ("OperationNotAllowed", "The operation is not allowed."),
    412: ("ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met."),
    429: ("ServerBusy", "Operations per second is over the account limit."),
    500: ("InternalError", "The server encountered an internal error. Please retry the request."),
    503: ("ServerBusy", "The server is currently unable to receive requests. Please retry your request."),
}
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict", 412: "Precondition Failed",
           429: "Too Many Requests", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}


def parse_mode(text):
    """(name, argument) from a control file's text; ValueError when it is not a mode."""
    words = text.split()
    if not words:
        return ("pass", None)
    name = words[0]
    if name not in MODES:
        raise ValueError("unknown proxy mode %r (known: %s)" % (text.strip(), ", ".join(MODES)))
    if name in ("slow", "status"):
        if len(words) != 2 or not words[1].isdigit():
            raise ValueError("proxy mode %r needs one number" % name)
        arg = int(words[1])
        if name == "status" and not 400 <= arg <= 599:
            raise ValueError("proxy mode 'status' takes a 4xx or 5xx code, not %d" % arg)
        return (name, arg)
    if len(words) != 1:
        raise ValueError("proxy mode %r takes no argument" % name)
    return (name, None)


def set_proxy_mode(path, mode):
    """Writes mode ("pass", "slow 3000", "status 503", "readonly", "drop",
    "hang") into the control file at path, atomically: the proxy reads the
    old or the new mode, never a mix."""
    parse_mode(mode)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".proxy-mode.", dir=d)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(mode.strip() + "\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------
# The proxy
# --------------------------------------------------------------------------


class Closed(Exception):
    """The peer closed the connection (or it broke)."""


class Reader:
    """Buffered reads from a socket: lines of a head, exact byte counts."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise Closed()
        self.buf += data

    def head(self):
        """The bytes of a message head up to and including the empty line."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                out, self.buf = self.buf[:end + 4], self.buf[end + 4:]
                return out
            if len(self.buf) > HEAD_MAX:
                raise ValueError("message head larger than %d bytes" % HEAD_MAX)
            self._fill()

    def exactly(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def line(self):
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                out, self.buf = self.buf[:end + 2], self.buf[end + 2:]
                return out
            if len(self.buf) > HEAD_MAX:
                raise ValueError("line longer than %d bytes" % HEAD_MAX)
            self._fill()

    def rest(self):
        """Everything until the peer closes."""
        chunks = [self.buf]
        self.buf = b""
        while True:
            data = self.sock.recv(65536)
            if not data:
                return b"".join(chunks)
            chunks.append(data)


def parse_head(head):
    """(first line, {lower-case name: value}) of a message head."""
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    return lines[0], headers


def read_body(reader, headers):
    """The raw bytes of a body as they came (chunked: with its framing), and
    whether the connection ends with it (no length given)."""
    if "chunked" in headers.get("transfer-encoding", "").lower():
        out = []
        while True:
            line = reader.line()
            out.append(line)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    t = reader.line()
                    out.append(t)
                    if t == b"\r\n":
                        return b"".join(out), False
            out.append(reader.exactly(size + 2))
    if "content-length" in headers:
        return reader.exactly(int(headers["content-length"])), False
    return None, True


class Proxy:
    def __init__(self, listen, upstream, control):
        self.listen = listen
        self.upstream = upstream
        self.control = control
        self.lock = threading.Lock()
        self.next_conn = 0
        self.stopping = threading.Event()

    def say(self, text):
        with self.lock:
            sys.stdout.write(text + "\n")
            sys.stdout.flush()

    def mode(self):
        try:
            with open(self.control) as f:
                text = f.read()
        except FileNotFoundError:
            return ("pass", None)
        try:
            return parse_mode(text)
        except ValueError as e:
            self.say("control file %s: %s; passing" % (self.control, e))
            return ("pass", None)

    def serve(self):
        host, port = self.listen
        srv = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((host, port))
        srv.listen(64)
        self.say("listening on %s:%d, upstream %s:%d, control %s" % (host, port, self.upstream[0], self.upstream[1],
                                                                      self.control))
        while not self.stopping.is_set():
            client, addr = srv.accept()
            with self.lock:
                self.next_conn += 1
                cid = self.next_conn
            threading.Thread(target=self.connection, args=(client, cid), daemon=True).start()

    def error_answer(self, status, code=None, message=None):
        code_default, message_default = ERROR_CODES.get(status, ("InternalError", "Injected error."))
        code = code or code_default
        message = message or message_default
        body = ('<?xml version="1.0" encoding="utf-8"?>\n<Error><Code>%s</Code><Message>%s\nRequestId:'
                '00000000-0000-0000-0000-000000000000\nTime:%s</Message></Error>' % (
                    code, message, time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime()))).encode()
        head = ("HTTP/1.1 %d %s\r\nContent-Type: application/xml\r\nContent-Length: %d\r\n"
                "x-ms-error-code: %s\r\nx-ms-request-id: 00000000-0000-0000-0000-000000000000\r\n"
                "x-ms-version: 2021-08-06\r\nServer: witness-proxy\r\nDate: %s\r\n\r\n" % (
                    status, REASONS.get(status, "Error"), len(body), code,
                    time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime())))
        return head.encode() + body

    def forward(self, up, upr, request):
        """Sends request upstream and reads the answer's head; returns (socket,
        reader, head). An upstream connection kept from an earlier request
        may have been closed by the server meanwhile (its keep-alive timeout):
        then once more on a new one, as a client would."""
        for attempt in (0, 1):
            reused = up is not None
            if up is None:
                up = socket.create_connection(self.upstream, timeout=IO_TIMEOUT)
                upr = Reader(up)
            try:
                up.sendall(request)
                return up, upr, upr.head()
            except (Closed, ConnectionError):
                up.close()
                up, upr = None, None
                if not reused or attempt == 1:
                    raise
        raise AssertionError("not reached")

    def connection(self, client, cid):
        up = None
        upr = None
        reader = Reader(client)
        client.settimeout(IO_TIMEOUT)
        nreq = 0
        self.say("conn %d open" % cid)
        try:
            while True:
                try:
                    head = reader.head()
                except Closed:
                    return
                nreq += 1
                first, headers = parse_head(head)
                method = first.split(" ")[0]
                name, arg = self.mode()
                self.say("conn %d req %d %s mode=%s%s" % (cid, nreq, " ".join(first.split(" ")[:2]), name,
                                                         "" if arg is None else " %d" % arg))
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    client.sendall(self.error_answer(501, "NotImplemented", "The proxy takes sized bodies only."))
                    return
                body = reader.exactly(int(headers.get("content-length", "0") or "0"))
                if name == "drop":
                    return
                if name == "hang":
                    client.settimeout(None)
                    try:
                        reader.rest()  # until the client gives up
                    except OSError:
                        pass
                    return
                if name == "status":
                    client.sendall(self.error_answer(arg))
                    continue
                if name == "readonly" and method in ("PUT", "POST", "DELETE"):
                    client.sendall(self.error_answer(403))
                    continue
                if name == "slow":
                    time.sleep(arg / 1000.0)
                up, upr, rhead = self.forward(up, upr, head + body)
                rfirst, rheaders = parse_head(rhead)
                status = int(rfirst.split(" ")[1])
                if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
                    rbody, until_close = b"", False
                else:
                    rbody, until_close = read_body(upr, rheaders)
                if until_close:
                    rbody = upr.rest()
                client.sendall(rhead + rbody)
                if until_close or "close" in rheaders.get("connection", "").lower():
                    return
        except (OSError, ValueError, Closed) as e:
            self.say("conn %d: %s: %s" % (cid, type(e).__name__, e))
        finally:
            self.say("conn %d closed after %d requests" % (cid, nreq))
            for s in (client, up):
                if s is not None:
                    try:
                        s.close()
                    except OSError:
                        pass


def _addr(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


# --------------------------------------------------------------------------
# For the tests: the proxy as a process
# --------------------------------------------------------------------------


class ProxyProcess:
    def __init__(self, proc, log_path, listen, control):
        self.proc = proc
        self.pid = proc.pid
        self.log_path = log_path
        self.listen = listen
        self.control = control

    def log(self, limit=20000):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-limit:]
        except OSError as e:
            return "(no log: %s)" % e

    def set_mode(self, mode):
        set_proxy_mode(self.control, mode)

    def stop(self, timeout=10):
        return stop_group(self.proc, timeout)


def start_proxy(run_prefix, listen, upstream, control, log_path, timeout=15.0):
    """Runs this file as a process through run_prefix; returns a
    ProxyProcess once it listens. listen, upstream: "ADDR:PORT"."""
    if not os.path.exists(control):
        set_proxy_mode(control, "pass")
    cmd = list(run_prefix) + [sys.executable, os.path.abspath(__file__), "--listen", listen, "--upstream",
                              upstream, "--control", control]
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    p = ProxyProcess(proc, log_path, listen, control)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("witness_proxy.py exited with status %s: %s" % (proc.returncode, p.log()))
        if "listening on" in p.log():
            return p
        time.sleep(0.1)
    p.stop()
    raise RuntimeError("witness_proxy.py did not listen within %.0fs: %s" % (timeout, p.log()))


def main(argv=None):
    ap = argparse.ArgumentParser(description="a fault-injecting HTTP reverse proxy for the witness tests")
    ap.add_argument("--listen", required=True, help="ADDR:PORT")
    ap.add_argument("--upstream", required=True, help="ADDR:PORT")
    ap.add_argument("--control", required=True, help="the file with the mode, read for every request")
    args = ap.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    Proxy(_addr(args.listen), _addr(args.upstream), args.control).serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
