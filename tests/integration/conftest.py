# SPDX-License-Identifier: LGPL-2.1-or-later
"""pytest glue for the multi-node rig (see rig.py and README.md).

Fixtures: rig (a factory: rig(n, **kwargs) -> rig.Rig), rig3, rig5. Rigs
are fresh per test. After each test clusterd is stopped with SIGTERM on
every live node (so that ASan's leak check runs), the nodes' log
directories are searched for ASan/UBSan reports (which fail the test), and
the rig is removed; its directory (every node's corosync and clusterd logs,
sanitizer reports) is kept when the test failed, and its path printed.
"""

import os
import shutil
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rig as rigmod  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
_MAX_REPORT_CHARS = 20000


def _unavailable_reason():
    """Why the rig cannot run here, or None."""
    if os.geteuid() != 0:
        return "the rig needs root (network, mount and UTS namespaces); run as root"
    for tool in ("ip", "nsenter", "unshare", "nft", "corosync", "corosync-keygen", "corosync-quorumtool"):
        if shutil.which(tool, path=rigmod._SYS_PATH) is None:
            return "%s is not installed (run scripts/deps)" % tool
    env = rigmod._env()
    cp = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, env=env)
    if cp.returncode != 0:
        return "`ip netns` does not work here: %s" % cp.stderr.strip()
    cp = subprocess.run(["unshare", "--net", "--mount", "--uts", "true"], capture_output=True, text=True, env=env)
    if cp.returncode != 0:
        return "cannot create network/mount/UTS namespaces: %s" % cp.stderr.strip()
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "rig: the rig's own self-test (plain corosync, no clusterd)")
    config._rig_unavailable = _unavailable_reason()
    config._rig_kept = []


def pytest_sessionstart(session):
    if session.config._rig_unavailable is None:
        swept = rigmod.sweep_stale()
        if swept:
            sys.stderr.write("rig: swept stale rigs %s\n" % " ".join(swept))


def pytest_collection_modifyitems(config, items):
    reason = config._rig_unavailable
    if reason is None:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if str(item.fspath).startswith(HERE + os.sep):
            item.add_marker(skip)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.when == "call" and rep.failed and getattr(item, "_rigs", None):
        # A failed test's rigs are kept (see _finish); say where right here.
        rep.sections.append(("rig files kept", "\n".join(r.base_dir for r in item._rigs)))
    if rep.when == "teardown":
        kept = getattr(item, "_rig_kept_dirs", None)
        if kept:
            rep.sections.append(("rig files kept", "\n".join(kept)))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if config._rig_kept:
        terminalreporter.section("rig files kept for failed tests")
        for nodeid, path in config._rig_kept:
            terminalreporter.write_line("%s: %s" % (nodeid, path))


def _say(config, text):
    """Writes a line to the terminal even while output is captured."""
    tr = config.pluginmanager.getplugin("terminalreporter")
    capman = config.pluginmanager.getplugin("capturemanager")
    if tr is None:
        return
    if capman is not None:
        with capman.global_and_fixture_disabled():
            tr.write_line(text)
    else:
        tr.write_line(text)


def _read_reports(paths):
    out = []
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                out.append("=== %s ===\n%s" % (p, f.read()))
        except OSError as e:
            out.append("=== %s === (unreadable: %s)" % (p, e))
    text = "\n".join(out)
    if len(text) > _MAX_REPORT_CHARS:
        text = text[:_MAX_REPORT_CHARS] + "\n[... cut; see the files]"
    return text


def _finish(request, rigs):
    item = request.node
    failed = any(getattr(getattr(item, "rep_" + p, None), "failed", False) for p in ("setup", "call"))
    failed = failed or not hasattr(item, "rep_call")  # interrupted (Ctrl-C, SIGTERM)
    problems = []
    for r in rigs:
        if r.cleaned:
            continue
        for n in r.nodes:
            if not n.alive():
                continue
            n.sigcont()  # a stopped clusterd cannot act on SIGTERM
            if not n.clusterd_running():
                continue
            try:
                rc = n.stop_clusterd(timeout=10)
                if rc not in (None, 0):
                    problems.append("clusterd on %s/%s exited with status %s after SIGTERM" % (r.id, n.name, rc))
            except rigmod.RigError as e:
                problems.append(str(e))
        reports = r.sanitizer_reports()
        if reports:
            problems.append("sanitizer reports in rig %s:\n%s" % (r.id, _read_reports(reports)))
    keep = failed or bool(problems)
    kept = []
    for r in rigs:
        try:
            r.cleanup(keep_dir=keep)
        except Exception as e:  # clean up the other rigs all the same
            problems.append("cleanup of rig %s failed: %s" % (r.id, e))
        if keep:
            kept.append(r.base_dir)
            request.config._rig_kept.append((item.nodeid, r.base_dir))
    if kept:
        item._rig_kept_dirs = kept
        _say(request.config, "\nrig files kept: %s" % " ".join(kept))
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def rig(request):
    """Factory: rig(nodes=3, **Rig kwargs) -> a fresh rig.Rig, removed after the test."""
    made = []

    def make(nodes=3, **kwargs):
        r = rigmod.Rig(nodes=nodes, **kwargs)
        made.append(r)
        request.node._rigs = made
        return r

    yield make
    _finish(request, made)


@pytest.fixture
def rig3(rig):
    return rig(3)


@pytest.fixture
def rig5(rig):
    return rig(5)
