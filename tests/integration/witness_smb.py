# SPDX-License-Identifier: LGPL-2.1-or-later
"""A real Samba server (smbd) for the SMB witness tests, inside a network
namespace the caller made.

    samba = start_samba(run_prefix, workdir, address,
                        users={"witness": "password"},
                        shares={"witness": {"read_only": False}})
    samba.pid, samba.log_path, samba.conf_path, samba.share_path("witness")
    samba.set_read_only("witness", True)   # applied to connected clients too
    samba.stop()

run_prefix is the command prefix that runs a program in the witness
host's network namespace (["ip", "netns", "exec", NS] or ["nsenter", "-n",
"-m", "-t", PID]); smbd listens on `address` port 445 only (interfaces =
address, bind interfaces only). NetBIOS, nmbd, winbindd, printing and the
on-demand RPC helpers stay off: a file share is all a witness needs.

Everything Samba writes lives under workdir: smb.conf, the private tdbsam
passdb and the lock, state, cache, pid, ncalrpc and log directories, and
the shares' directories (workdir/shares/NAME). /etc/samba and
/var/lib/samba are never read or written, and no host account is added:

Samba needs a Unix account for every user it authenticates, so each test
user is mapped ("username map") onto an account the host already has
(root first, then daemon, bin, ...; a user named like an existing account
is that account), and its passdb entry is made under the account's name
with the test user's password. Shares "force user = root", so files are
created as root whichever account a user maps to, and the share
directories need no permissions of their own. The mapping is private to
this smbd: it is not a login to the host. Share options that name users
("valid users", "write list") must name the mapped accounts:
samba.accounts[user].

Standard library only.
"""

import os
import pwd
import shutil
import signal
import subprocess
import sys
import time

SMB_PORT = 445
# Host accounts test users are mapped onto, in this order (those that exist).
_ACCOUNTS = ("root", "daemon", "bin", "sys", "games", "man", "lp", "mail", "news", "uucp", "proxy", "www-data",
             "backup", "list", "irc", "nobody")
_LOG_TAIL = 4000


class SambaError(Exception):
    pass


def samba_missing():
    """Why Samba cannot run here (a reason for pytest.skip), or None."""
    for tool in ("smbd", "smbcontrol", "pdbedit"):
        if shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return "%s is not installed (apt-get install samba)" % tool
    return None


def _which(tool):
    path = shutil.which(tool, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/bin:/sbin:/bin")
    if path is None:
        raise SambaError("%s is not installed (apt-get install samba)" % tool)
    return path


def _tail(path, limit=_LOG_TAIL):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - limit))
            return f.read().decode(errors="replace")
    except OSError as e:
        return "(cannot read %s: %s)" % (path, e)


def _conf_value(v):
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


class Samba:
    """One running smbd. Made by start_samba()."""

    def __init__(self, run_prefix, workdir, address, users, shares):
        self.run_prefix = list(run_prefix)
        self.workdir = os.path.abspath(workdir)
        self.address = address
        self.users = dict(users)
        self.shares = {name: dict(opts) for name, opts in shares.items()}
        self.conf_path = os.path.join(self.workdir, "smb.conf")
        self.log_path = os.path.join(self.workdir, "log", "smbd.log")
        self.accounts = {}  # test user -> host account it is mapped onto
        self.proc = None
        self.pid = None

    # ---- paths ---------------------------------------------------------------

    def _dir(self, name):
        return os.path.join(self.workdir, name)

    def share_path(self, share):
        return os.path.join(self.workdir, "shares", share)

    # ---- configuration -------------------------------------------------------

    def _map_accounts(self):
        existing = set(p.pw_name for p in pwd.getpwall())
        taken = set()
        for user in self.users:
            if user in existing and user not in taken:
                self.accounts[user] = user
                taken.add(user)
        pool = [a for a in _ACCOUNTS if a in existing]
        for user in self.users:
            if user in self.accounts:
                continue
            free = [a for a in pool if a not in taken]
            if not free:
                raise SambaError("no host account left to map Samba user '%s' onto" % user)
            self.accounts[user] = free[0]
            taken.add(free[0])

    def _write_conf(self):
        w = self.workdir
        lines = [
            "# Written by tests/integration/witness_smb.py; private to this test server.",
            "[global]",
            "    server role = standalone server",
            "    netbios name = WITNESS",
            "    workgroup = WORKGROUP",
            "    interfaces = %s" % self.address,
            "    bind interfaces only = yes",
            "    smb ports = %d" % SMB_PORT,
            "    disable netbios = yes",
            "    server min protocol = SMB3",
            "    map to guest = Never",
            "    restrict anonymous = 2",
            "    passdb backend = tdbsam:%s" % os.path.join(w, "private", "passdb.tdb"),
            "    smb passwd file = %s" % os.path.join(w, "private", "smbpasswd"),
            "    username map = %s" % os.path.join(w, "usermap"),
            "    private dir = %s" % self._dir("private"),
            "    lock directory = %s" % self._dir("lock"),
            "    state directory = %s" % self._dir("state"),
            "    cache directory = %s" % self._dir("cache"),
            "    pid directory = %s" % self._dir("pid"),
            "    ncalrpc dir = %s" % self._dir("ncalrpc"),
            "    binddns dir = %s" % self._dir("bind-dns"),
            "    winbindd socket directory = %s" % self._dir("winbindd"),
            "    ntp signd socket directory = %s" % self._dir("ntp_signd"),
            "    usershare path =",
            "    log file = %s" % self.log_path,
            "    max log size = 0",
            "    log level = 1",
            "    rpc start on demand helpers = no",
            "    idmap config * : backend = tdb",
            "    idmap config * : range = 3000-7999",
            "    load printers = no",
            "    printing = bsd",
            "    printcap name = /dev/null",
            "    disable spoolss = yes",
            "    obey pam restrictions = no",
            "    unix password sync = no",
            "    kernel oplocks = no",
            "",
        ]
        for name, opts in sorted(self.shares.items()):
            lines += [
                "[%s]" % name,
                "    path = %s" % self.share_path(name),
                "    read only = %s" % _conf_value(bool(opts.get("read_only", False))),
                "    force user = root",
                "    guest ok = no",
            ]
            for key, value in sorted(opts.items()):
                if key != "read_only":
                    lines.append("    %s = %s" % (key.replace("_", " "), _conf_value(value)))
            lines.append("")
        tmp = self.conf_path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines))
        os.replace(tmp, self.conf_path)

    def _write_usermap(self):
        with open(os.path.join(self.workdir, "usermap"), "w") as f:
            for user, account in sorted(self.accounts.items()):
                if user != account:
                    f.write("%s = %s\n" % (account, user))

    def _run(self, argv, input=None, timeout=30):
        cp = subprocess.run(self.run_prefix + argv, input=input, capture_output=True, text=True, timeout=timeout)
        if cp.returncode != 0:
            raise SambaError("%s failed (exit %d): %s%s" % (" ".join(argv), cp.returncode, cp.stdout, cp.stderr))
        return cp

    def _add_users(self):
        pdbedit = _which("pdbedit")
        for user, password in sorted(self.users.items()):
            account = self.accounts[user]
            # -t: the password twice on stdin, never on a command line.
            self._run([pdbedit, "-s", self.conf_path, "-a", "-u", account, "-t"],
                      input="%s\n%s\n" % (password, password))

    def set_password(self, user, password):
        """Changes a user's password (for connected clients: at their next logon)."""
        self.users[user] = password
        self._run([_which("pdbedit"), "-s", self.conf_path, "-a", "-u", self.accounts[user], "-t"],
                  input="%s\n%s\n" % (password, password))

    # ---- running -------------------------------------------------------------

    def _start(self, timeout):
        for d in ("private", "lock", "state", "cache", "pid", "ncalrpc", "log", "bind-dns", "winbindd",
                  "ntp_signd", "shares"):
            os.makedirs(self._dir(d), exist_ok=True)
        os.chmod(self._dir("private"), 0o700)
        for name in self.shares:
            os.makedirs(self.share_path(name), exist_ok=True)
        self._map_accounts()
        self._write_conf()
        self._write_usermap()
        self._add_users()

        smbd = _which("smbd")
        log = open(self.log_path, "ab")
        try:
            # smbd forks a child per connection; its own session lets
            # stop() reach every one of them (and nothing else).
            self.proc = subprocess.Popen(
                self.run_prefix + [smbd, "--foreground", "--no-process-group", "--debug-stdout",
                                   "--configfile=%s" % self.conf_path],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        finally:
            log.close()
        self.pid = self.proc.pid
        self._wait_listening(timeout)

    def _probe(self):
        code = ("import socket,sys\n"
                "try:\n"
                "    socket.create_connection((sys.argv[1], %d), 1).close()\n"
                "except OSError:\n"
                "    sys.exit(1)\n") % SMB_PORT
        cp = subprocess.run(self.run_prefix + [sys.executable, "-c", code, self.address],
                            capture_output=True, timeout=10)
        return cp.returncode == 0

    def _wait_listening(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            rc = self.proc.poll()
            if rc is not None:
                raise SambaError("smbd exited with status %s before it answered on %s:%d; its log (%s):\n%s" % (
                    rc, self.address, SMB_PORT, self.log_path, _tail(self.log_path)))
            if self._probe():
                return
            if time.monotonic() > deadline:
                self.stop()
                raise SambaError("smbd did not answer on %s:%d within %.0fs; its log (%s):\n%s" % (
                    self.address, SMB_PORT, timeout, self.log_path, _tail(self.log_path)))
            time.sleep(0.1)

    def reload(self):
        """Makes the running smbd and its children read smb.conf again."""
        self._run([_which("smbcontrol"), "--configfile=%s" % self.conf_path, "smbd", "reload-config"])

    def close_share(self, share):
        """Drops every client's connection to the share (a tree disconnect;
        the clients' sessions stay)."""
        self._run([_which("smbcontrol"), "--configfile=%s" % self.conf_path, "smbd", "close-share", share])

    def set_read_only(self, share, read_only):
        """Turns a share read-only (or writable again) while smbd runs.
        A reload alone reaches new connections only: smbd decides whether a
        share is read-only when a client connects to it, and keeps that for
        the connection's life. So the share is also closed, and clients
        that reconnect (libsmbclient's first request on the old connection
        fails) get the new setting."""
        if share not in self.shares:
            raise SambaError("no share '%s'" % share)
        self.shares[share]["read_only"] = bool(read_only)
        self._write_conf()
        self.reload()
        self.close_share(share)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout=10.0):
        """Stops smbd and every process it started; idempotent."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # its own session: the group id is its pid
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if self.proc.poll() is None:
                try:
                    self.proc.send_signal(sig)
                except ProcessLookupError:
                    pass
                try:
                    self.proc.wait(wait)
                except subprocess.TimeoutExpired:
                    continue
            break
        # Connection children outlive a killed parent for a moment.
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def start_samba(run_prefix, workdir, address, users=None, shares=None, timeout=20.0):
    """Starts smbd in the namespace run_prefix enters, serving `shares`
    ({name: {"read_only": bool, other smb.conf share options}}) to `users`
    ({name: password}) on address:445. Returns a Samba once it accepts
    connections; raises SambaError (quoting its log) otherwise."""
    if users is None:
        users = {"witness": "password"}
    if shares is None:
        shares = {"witness": {"read_only": False}}
    s = Samba(run_prefix, workdir, address, users, shares)
    try:
        s._start(timeout)
    except BaseException:
        s.stop()
        raise
    return s
