"""Shared helpers of the manager interop suite (``test_manager_*.py``).

Every expectation in that suite is CPython's. To check that, the same tests
run against CPython's own manager server: set ``MPCLUSTER_REFERENCE=cpython``
and the ``manager``/``manager_factory`` fixtures below start a CPython
``SyncManager`` server (named objects from the same TOML file) instead of the
``mpcluster-manager`` binary. Tests of behaviour that is deliberately better
than CPython's (ids never reused, refused remote shutdown, limits, cancelled
waits of dead clients, setup speed) carry ``mpcluster_only`` and are skipped
there.

Test modules import the fixtures (``from _mgr import manager,
manager_factory``); they override conftest's, and conftest's
``sync_manager`` then connects to whichever server was started.
"""

import gc
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

import conftest

REFERENCE = os.environ.get("MPCLUSTER_REFERENCE", "") == "cpython"


def mpcluster_only(why):
    """Marks a test of behaviour where mpcluster deliberately differs from
    (improves on) CPython: skipped when running against CPython's server."""
    return pytest.mark.skipif(REFERENCE, reason=f"mpcluster-specific: {why}")


# ---------------------------------------------------------------------------
# CPython's own server, for checking the suite's expectations

# Runs in the reference server process. Named objects mirror what the config
# file declares: one object per name, served with the exposed list and
# method_to_typeid of the SyncManager typeid it is a kind of.
_REFERENCE_SERVER = r"""
import multiprocessing, sys
from multiprocessing.managers import SyncManager

key = bytes.fromhex(sys.argv[1])
# Server-side proxies (Condition(lock_proxy), nested proxies) authenticate
# with the process key; make it the manager's, as multiprocessing.Manager() does.
multiprocessing.current_process().authkey = key

class ReferenceManager(SyncManager):
    pass

if len(sys.argv) > 2:
    import tomllib
    with open(sys.argv[2], "rb") as f:
        objects = tomllib.load(f).get("objects", {})
    for name, spec in objects.items():
        make, exposed, to_typeid, proxytype = SyncManager._registry[spec["kind"]]
        obj = make(*spec.get("args", []))
        ReferenceManager.register(name, callable=lambda o=obj: o, exposed=exposed,
                                  method_to_typeid=to_typeid, proxytype=proxytype)

server = ReferenceManager(address=("127.0.0.1", 0), authkey=key).get_server()
print("listening on %s:%d" % server.address, flush=True)
server.serve_forever()
"""


def start_reference(tmp_dir, *flags, authkey=b"mpcluster-test-key", config=None, env=None, python=None):
    """CPython's own manager server (this interpreter's, or ``python``) with
    conftest.Manager's interface. Flags are mpcluster's and have no CPython
    equivalent: ignored."""
    args = [python or sys.executable, "-c", _REFERENCE_SERVER, authkey.hex()]
    if config is not None:
        cfg = Path(tmp_dir) / f"named-{time.monotonic_ns()}.toml"
        cfg.write_text(config)
        args.append(str(cfg))
    log_path = Path(tmp_dir) / f"reference-{time.monotonic_ns()}.log"
    log = open(log_path, "wb")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, env=dict(os.environ, **(env or {})))
    line = proc.stdout.readline()
    if b"listening on" not in line:
        proc.kill()
        raise RuntimeError(f"reference server did not start: {line!r}\n{log_path.read_text()}")
    host, port = line.decode().rsplit(" ", 1)[1].strip().rsplit(":", 1)
    threading.Thread(target=proc.stdout.read, daemon=True).start()
    return conftest.Manager(proc, (host, int(port)), authkey, log_path)


def start(tmp_dir, *flags, reference_python=None, **kw):
    """The server under test: mpcluster's binary, or CPython's (see above;
    ``reference_python`` picks the interpreter of CPython's server)."""
    if REFERENCE:
        return start_reference(tmp_dir, *flags, python=reference_python, **kw)
    return conftest.start_manager(tmp_dir, *flags, **kw)


@pytest.fixture(scope="module")
def manager(tmp_path_factory):
    """One server per test module (default flags)."""
    m = start(tmp_path_factory.mktemp("manager"))
    yield m
    m.stop()


@pytest.fixture
def manager_factory(tmp_path):
    """Starts servers with custom flags/config; all stopped after the test."""
    started = []

    def factory(*flags, **kw):
        m = start(tmp_path, *flags, **kw)
        started.append(m)
        return m

    yield factory
    for m in started:
        m.stop()


# ---------------------------------------------------------------------------
# Client-side helpers (all through CPython's own client code)


def connect(manager, cls=None, authkey=None):
    """A connected manager client of class ``cls`` (SyncManager by default),
    with the process authkey set so nested proxies can incref (docs/protocol.md 6.3)."""
    import multiprocessing
    from multiprocessing.managers import SyncManager

    cls = cls or SyncManager
    multiprocessing.current_process().authkey = manager.authkey
    m = cls(address=manager.address, authkey=authkey or manager.authkey)
    m.connect()
    return m


def control(manager, name, *args, **kwds):
    """One request on a fresh control connection, through CPython's own
    ``managers.dispatch`` (RemoteError for a #TRACEBACK reply)."""
    from multiprocessing.connection import Client
    from multiprocessing.managers import dispatch

    with Client(manager.address, authkey=manager.authkey) as conn:
        return dispatch(conn, None, name, args, kwds)


def raw_control(manager, request):
    """Sends ``request`` as is on a control connection; the raw reply."""
    from multiprocessing.connection import Client

    with Client(manager.address, authkey=manager.authkey) as conn:
        conn.send(request)
        return conn.recv()


def number_of_objects(manager):
    gc.collect()
    return control(manager, "number_of_objects")


def refcount_of(manager, ident):
    """The refcount ``debug_info`` shows for ``ident``, or None if absent."""
    for line in control(manager, "debug_info").splitlines():
        head = line.strip()
        if head.startswith(f"{ident}:"):
            return int(head.rsplit("refcount=", 1)[1])
    return None


def wait_until(predicate, timeout=10.0, interval=0.01):
    """Polls ``predicate`` until true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def assert_serving(manager, victim=None, expected=None):
    """The server is alive, a brand-new client works, and ``victim`` (a proxy
    made before some abuse) still holds ``expected``."""
    assert manager.alive(), manager.log()[-4000:]
    m = connect(manager)
    probe = m.list(["probe", 1])
    probe.append(2)
    assert probe._getvalue() == ["probe", 1, 2]
    del probe
    if victim is not None:
        assert victim._getvalue() == expected


def fork_context():
    import multiprocessing

    return multiprocessing.get_context("fork")


def in_thread(fn, *args):
    """Starts ``fn(*args)`` in a daemon thread; ``join()`` returns
    ``(result, exception)``."""
    box = {}

    def run():
        try:
            box["result"] = fn(*args)
        except BaseException as e:  # reported to the test through join()
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    class Handle:
        thread = t

        def join(self, timeout=30):
            t.join(timeout)
            assert not t.is_alive(), "thread still blocked"
            return box.get("result"), box.get("error")

    return Handle()


def run_python(manager, code, python=None):
    """Starts ``code`` in a separate CPython process (``ADDRESS``/``AUTHKEY``
    defined, as conftest's ``run_client`` does) without waiting for it; the
    caller talks to it through shared objects and then ``communicate()``s."""
    prelude = (
        "import multiprocessing, sys\n"
        f"ADDRESS = {manager.address!r}\n"
        f"AUTHKEY = {manager.authkey!r}\n"
        "multiprocessing.current_process().authkey = AUTHKEY\n"
    )
    return subprocess.Popen(
        [python or sys.executable, "-c", prelude + code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
