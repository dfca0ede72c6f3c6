"""Bounded memory: what one request may cost, ``--max-memory``, and the
client output limit (``--max-pending-reply-bytes``).

Each test drives the real ``mpcluster-manager`` binary with unmodified
CPython clients (and raw frames where a hostile client is the point), and
reads the server's memory from ``/proc`` and from its admin API.
"""

import multiprocessing
import os
import socket
import struct
import time
from multiprocessing.connection import Client
from multiprocessing.managers import RemoteError, SyncManager

import pytest

from _browser import admin_address, request, start_with_admin, wait_until
from _mgr import (  # noqa: F401  (fixtures are used by name)
    manager,
    manager_factory,
    mpcluster_only,
)

pytestmark = mpcluster_only("memory limits of the mpcluster server")

MiB = 1 << 20


def rss(m):
    """Resident memory of the manager process, in bytes."""
    with open(f"/proc/{m.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def stats(m):
    reply = request(admin_address(m), "/api/v1/stats")
    assert reply.status == 200, reply.body
    return reply.json()


def connect(m):
    multiprocessing.current_process().authkey = m.authkey
    client = SyncManager(address=m.address, authkey=m.authkey)
    client.connect()
    return client


def create_request(value_ops):
    """The raw pickle of ``(None, 'create', ('list', [v]), {})``, with
    ``v`` written by the opcodes ``value_ops``."""
    return (
        b"\x80\x04(N\x8c\x06create\x8c\x04list]"
        + value_ops
        + b"a\x86}t."
    )


def tuple_bomb(levels):
    """``None`` wrapped ``levels`` times in ``(x, x)`` tuples made with
    DUP: 2**levels leaves for a tree, ``levels`` objects for CPython."""
    return b"N" + b"2\x86" * levels


def list_bomb(levels):
    """The same with lists (mutable): each level a list holding the
    previous one twice, through memo GETs."""
    # Each level is memoized and popped; the last is fetched back.
    ops = b"N\x940"  # memo 0: the leaf the first level refers to twice
    for i in range(levels):
        ops += b"](" + b"h" + bytes([i]) + b"h" + bytes([i]) + b"e\x940"
    return ops + b"h" + bytes([levels])


def send_raw(m, payload):
    c = Client(m.address, authkey=m.authkey)
    try:
        c.send_bytes(payload)
        return c.recv()
    finally:
        c.close()


def test_a_77_byte_request_costs_no_memory(manager_factory):
    m = start_with_admin(manager_factory)
    payload = create_request(tuple_bomb(22))
    assert len(payload) < 80
    # Warm up the connection path before measuring.
    connect(m).list([1])
    before = rss(m)
    for _ in range(10):
        kind, text = send_raw(m, payload)
        assert kind == "#TRACEBACK" and "MemoryError" in text, text
    grew = rss(m) - before
    assert grew < 10 * MiB, f"resident memory grew by {grew} bytes"
    # The server serves everyone as before.
    assert connect(m).list([1, 2])[:] == [1, 2]


def test_a_mutable_chain_of_shared_references_is_refused(manager_factory):
    m = start_with_admin(manager_factory)
    before = rss(m)
    kind, text = send_raw(m, create_request(list_bomb(22)))
    assert kind == "#TRACEBACK" and "MemoryError" in text, text
    assert rss(m) - before < 10 * MiB
    # A few levels are within the bound and stored.
    kind, created = send_raw(m, create_request(list_bomb(3)))
    assert kind == "#RETURN", created


def test_sharing_a_modest_amount_still_works(manager):
    """``[row] * 100`` of a 100-item row: CPython shares ``row``; the
    server copies it, within the bound."""
    m = connect(manager)
    row = list(range(100))
    lst = m.list([row] * 100)
    assert lst[99] == row and len(lst) == 100


def test_max_memory_refuses_writes_and_keeps_reads_deletes_and_small_writes(manager_factory):
    m = start_with_admin(manager_factory, "--max-memory", "64MiB")
    s = stats(m)
    assert s["memory_limit_bytes"] == 64 * MiB
    assert 0 < s["memory_used_bytes"] < 32 * MiB, s
    client = connect(m)
    big = client.list()
    chunk = b"x" * MiB
    stored = 0
    with pytest.raises(MemoryError) as info:
        for _ in range(200):
            big.append(chunk)
            stored += 1
    assert "--max-memory" in str(info.value)
    assert 30 <= stored < 64, stored
    # The refused call stored nothing.
    assert len(big) == stored
    # Usage is shown in total and by object.
    s = stats(m)
    assert stored * MiB <= s["memory_used_bytes"] <= 64 * MiB + 2 * MiB, s
    assert s["memory_objects_bytes"] >= stored * MiB, s
    objs = request(admin_address(m), "/api/v1/objects").json()
    mine = [o for o in objs if o["memory_bytes"] and o["memory_bytes"] >= stored * MiB]
    assert len(mine) == 1 and mine[0]["typeid"] == "list", objs
    metrics = request(admin_address(m), "/metrics").body
    assert "mpcluster_memory_refusals_total 1" in metrics, metrics
    assert "mpcluster_memory_limit_bytes 67108864" in metrics
    # Reads go on.
    assert big[0] == chunk and len(big) == stored
    # Another client's small writes fit.
    other = connect(m)
    d = other.dict()
    d["small"] = "value"
    assert d.copy() == {"small": "value"}
    # Deletes make room, and big writes work again.
    for _ in range(10):
        big.pop()
    big.append(chunk)
    assert len(big) == stored - 9
    # A new object is refused too once over the limit, a read of it is not.
    with pytest.raises(MemoryError):
        for _ in range(200):
            big.append(chunk)
    with pytest.raises(RemoteError) as created:
        for _ in range(20):
            client.list([b"y" * MiB])
    assert "MemoryError" in str(created.value)


def _pipelined_call(ident, method):
    import pickle

    return pickle.dumps((ident, method, (), {}), protocol=4)


def test_a_client_that_never_reads_is_disconnected_at_the_output_limit(manager_factory):
    m = start_with_admin(manager_factory, "--max-pending-reply-bytes", "1MiB")
    client = connect(m)
    big = client.list([b"z" * (4 * MiB)])
    base = stats(m)["memory_used_bytes"]
    # A raw serving connection that pipelines reads of the 4 MiB list and
    # never reads a reply.
    c = Client(m.address, authkey=m.authkey)
    c.send((None, "accept_connection", ("reader",), {}))
    assert c.recv() == ("#RETURN", None)
    sock = socket.socket(fileno=os.dup(c.fileno()))
    c.close()
    frame = _pipelined_call(big._token.id, "copy")
    header = struct.pack("!i", len(frame))
    sent = 0
    sock.settimeout(0.2)
    deadline = time.monotonic() + 20
    closed = False
    while time.monotonic() < deadline and sent < 200:
        try:
            sock.sendall(header + frame)
            sent += 1
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        except socket.timeout:
            break
    # Whether or not the sends blocked first, the server must close the
    # connection within its grace (1 s) once the limit is passed.
    def gone():
        try:
            sock.setblocking(True)
            sock.settimeout(0.1)
            # Drain nothing: only peek for the reset/EOF, without reading
            # the replies the test deliberately leaves unread.
            sock.send(header + frame)
            return False
        except (BrokenPipeError, ConnectionResetError):
            return True
        except socket.timeout:
            return False

    assert closed or wait_until(gone, timeout=15, what="the server to drop the non-reading client")
    sock.close()
    assert "client output limit" in m.log()
    metrics = request(admin_address(m), "/metrics").body
    assert "mpcluster_output_limit_disconnects_total 1" in metrics
    # Its buffer was freed with it.
    wait_until(
        lambda: stats(m)["memory_used_bytes"] < base + 2 * MiB,
        what="the server's memory to return to where it was",
    )
    # Everyone else is served.
    assert len(big[0]) == 4 * MiB
