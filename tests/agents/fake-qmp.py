#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A QMP socket that misbehaves, in place of QEMU, for tests/agents/test-vm.py.

Usage: fake-qmp.py MODE -name NAME -pidfile PIDFILE -qmp unix:PATH,server=on,wait=off

The arguments look like QEMU's so that the vm agent recognises the process
as the VM's (it checks for "-name NAME" in the command line). Writes its pid
to PIDFILE once it listens. Modes:
  silent       accepts and never says anything
  close        accepts and closes at once
  garbage      answers with a line that is not JSON
  huge         sends 2 MiB without a line end
  bad-status   speaks QMP, but query-status names no run state
  panicked     speaks QMP; the guest is "guest-panicked"
  postmigrate  speaks QMP; the guest has migrated away
"""

import json
import os
import socket
import sys
import threading

GREETING = b'{"QMP": {"version": {"qemu": {"micro": 0, "minor": 2, "major": 7}, "package": ""}, "capabilities": []}}\r\n'
STATUS = {
    "bad-status": {"status": "\u001b[2J\u001b[31mRUNNING", "singlestep": False, "running": True},
    "panicked": {"status": "guest-panicked", "singlestep": False, "running": False},
    "postmigrate": {"status": "postmigrate", "singlestep": False, "running": False},
}


def serve(conn, mode):
    with conn:
        if mode == "silent":
            conn.recv(1)  # until the client gives up
            return
        if mode == "close":
            return
        if mode == "garbage":
            conn.sendall(b"220 smtp.example ESMTP ready\r\n")
            conn.recv(1)
            return
        if mode == "huge":
            try:
                conn.sendall(b'{"QMP": "' + b"x" * (2 * 1024 * 1024))
            except OSError:
                pass
            return
        conn.sendall(GREETING)
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                cmd = json.loads(line)
                if cmd["execute"] == "query-status":
                    reply = {"return": STATUS[mode], "id": cmd.get("id")}
                elif cmd["execute"] == "quit":
                    conn.sendall(json.dumps({"return": {}, "id": cmd.get("id")}).encode() + b"\r\n")
                    os._exit(0)
                else:
                    reply = {"return": {}, "id": cmd.get("id")}
                conn.sendall(json.dumps(reply).encode() + b"\r\n")


def main():
    mode = sys.argv[1]
    args = sys.argv[2:]
    pidfile = args[args.index("-pidfile") + 1]
    path = args[args.index("-qmp") + 1].split(",")[0][len("unix:"):]
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(4)
    with open(pidfile + ".tmp", "w") as f:
        f.write("%d\n" % os.getpid())
    os.rename(pidfile + ".tmp", pidfile)
    while True:
        conn, _ = s.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
