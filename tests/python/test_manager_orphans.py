"""Orphans: objects whose clients died without decref'ing them.

CPython keeps such objects forever (docs/protocol.md 5.6). mpcluster does the same by
default, and with ``--reap-orphans-after`` disposes of objects that still
have references, none of whose users is connected, and that were idle for
that long. A live client's objects must survive, even when idle.
"""

import gc
import multiprocessing
import subprocess
import sys
import time
from multiprocessing.connection import Client

from conftest import run_client

CHILD = """
import os
from multiprocessing.managers import SyncManager
m = SyncManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()
l = m.list([1, 2, 3])
l.append(4)              # a method call: this connection used the object
print(l._token.id, flush=True)
os._exit(0)              # no finalizers: the reference is never returned
"""


def count(manager):
    c = Client(manager.address, authkey=manager.authkey)
    try:
        c.send((None, "number_of_objects", (), {}))
        kind, n = c.recv()
        assert kind == "#RETURN"
        return n
    finally:
        c.close()


def ids(manager):
    c = Client(manager.address, authkey=manager.authkey)
    try:
        c.send((None, "debug_info", (), {}))
        kind, text = c.recv()
        assert kind == "#RETURN"
        return {line.split(":")[0].strip() for line in text.splitlines() if "refcount=" in line}
    finally:
        c.close()


def connect(manager):
    from multiprocessing.managers import SyncManager

    multiprocessing.current_process().authkey = manager.authkey
    m = SyncManager(address=manager.address, authkey=manager.authkey)
    m.connect()
    return m


def wait_for(pred, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_killed_clients_objects_are_kept_by_default(manager_factory):
    manager = manager_factory()
    dead = run_client(sys.executable, CHILD, manager).strip()
    assert dead in ids(manager)
    time.sleep(1.0)
    # As CPython: still counted, still there.
    assert dead in ids(manager)


def test_reaper_disposes_of_orphans_only(manager_factory):
    manager = manager_factory("--reap-orphans-after", "500ms")
    live = connect(manager)
    kept = live.list(["mine"])
    kept.append("used")  # used by a connection that stays open
    dead = run_client(sys.executable, CHILD, manager).strip()
    assert dead in ids(manager)
    assert wait_for(lambda: dead not in ids(manager), 10), "the orphan was not reaped"
    # The live client's object survives although it is idle too.
    time.sleep(1.0)
    assert kept._token.id in ids(manager)
    assert kept[:] == ["mine", "used"]
    assert "reaping orphan" in manager.log()
    del kept
    gc.collect()
    assert wait_for(lambda: count(manager) == 0, 5)
