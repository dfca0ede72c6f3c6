"""The Rust client (crate ``mpcluster``) and unmodified CPython clients
sharing objects on the real ``mpcluster-manager`` binary.

The Rust side runs the crate's example programs (built by ``scripts/test``):
``remote_queue`` (the documentation's remote-manager example),
``shared_dict``, ``condition``, ``barrier`` and ``interop_probe`` (reads
what Python created). Python clients of every installed CPython version
put and get on the same queue, fill a dict Rust reads, and hold a lock
that blocks Rust until they release it.
"""

import os
import select
import subprocess
import time

import pytest

from conftest import cargo_bin, run_client

CONFIG = """
[objects]
get_queue = { kind = "Queue" }
get_dict = { kind = "dict" }
"""

CLIENT = """
from multiprocessing.managers import BaseManager, DictProxy
class QueueManager(BaseManager): pass
QueueManager.register('get_queue')
QueueManager.register('get_dict', proxytype=DictProxy)
m = QueueManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()
"""


def rust_env(server):
    host, port = server.address
    return dict(
        os.environ,
        MPCLUSTER_ADDRESS=f"{host}:{port}",
        MPCLUSTER_AUTHKEY=server.authkey.decode("latin-1"),
    )


def run_example(name, server, *args, timeout=60):
    r = subprocess.run(
        [str(cargo_bin(name, example=True)), *args],
        env=rust_env(server),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert r.returncode == 0, f"{name} {args} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}"
    return r.stdout.splitlines()


@pytest.fixture
def named(manager_factory):
    return manager_factory(config=CONFIG)


def test_rust_puts_python_gets(named, client_python):
    run_example("remote_queue", named, "put", "hello", "wörld")
    out = run_client(
        client_python,
        CLIENT + "q = m.get_queue()\nprint(repr(q.get(timeout=10)))\nprint(repr(q.get(timeout=10)))\n",
        named,
    )
    assert out.splitlines() == ["'hello'", "'wörld'"]


def test_python_puts_rust_gets(named, client_python):
    run_client(
        client_python,
        CLIENT + "q = m.get_queue()\nq.put('a')\nq.put(42)\nq.put({'k': (1, 2.5, None)})\n",
        named,
    )
    assert run_example("remote_queue", named, "get", "3") == ["'a'", "42", "{'k': (1, 2.5, None)}"]


def test_python_fills_a_dict_rust_reads_typed_and_untyped(named, client_python):
    run_client(
        client_python,
        # Only public methods: CPython exposes no more for a registered
        # callable's object (docs/protocol.md 10), so this runs against either server.
        CLIENT + "d = m.get_dict()\nd.update({'pears': 5})\nd.update(apples=3)\nd.setdefault('plums', -1)\n",
        named,
    )
    typed, untyped = run_example("interop_probe", named, "dict", "get_dict")
    assert typed == 'typed {"apples":3,"pears":5,"plums":-1}'
    assert untyped == "untyped {'pears': 5, 'apples': 3, 'plums': -1}"


def read_line(proc, timeout):
    """The next stdout line of ``proc``, or None if none comes in time."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    if not ready:
        return None
    return proc.stdout.readline().strip()


def test_lock_held_by_python_blocks_rust_until_released(manager):
    import multiprocessing
    from multiprocessing.managers import SyncManager

    multiprocessing.current_process().authkey = manager.authkey
    m = SyncManager(address=manager.address, authkey=manager.authkey)
    m.connect()
    lock = m.Lock()
    assert lock.acquire()
    probe = subprocess.Popen(
        [str(cargo_bin("interop_probe", example=True)), "lock", lock._token.id],
        env=rust_env(manager),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert read_line(probe, 30) == "waiting"
        # Python holds the lock: Rust must still be waiting.
        assert read_line(probe, 0.5) is None
        started = time.monotonic()
        lock.release()
        assert read_line(probe, 30) == "acquired"
        assert time.monotonic() - started < 10
        assert read_line(probe, 30) == "released"
        assert probe.wait(30) == 0
    finally:
        probe.kill()
        probe.wait()
    # Rust released it: Python can take it at once.
    assert lock.acquire(False)
    lock.release()


def test_shared_dict_example_counts_every_update_and_releases_everything(manager_factory):
    from multiprocessing.managers import SyncManager

    manager = manager_factory()
    lines = run_example("shared_dict", manager, "3")
    # Workers add their own key in whatever order they first got the lock.
    assert lines[0] == "total = 75"
    assert sorted(lines[1:]) == ["worker-0 = 25", "worker-1 = 25", "worker-2 = 25"]
    # Every process exited normally, so every reference was released.
    m = SyncManager(address=manager.address, authkey=manager.authkey)
    m.connect()
    assert m._number_of_objects() == 0


def test_condition_and_barrier_examples(manager):
    assert run_example("condition", manager, "5") == ["consumed [0, 1, 4, 9, 16]"]
    assert run_example("barrier", manager, "3") == ["3 parties passed; arrival indices [0, 1, 2]"]
