"""Requests written ahead of their replies on one serving connection.

CPython's ``serve_client`` reads, calls and replies in a loop, so a client
may write several requests before reading any reply and gets the replies in
request order. These tests write batches of raw request frames on a
connection set up by CPython's own ``Client`` and ``accept_connection``,
and check order, values, a blocking call in the middle of a batch, a batch
whose replies exceed the socket buffers, and (ours only) that the replies to
one batch leave the server together instead of one TCP segment each.
"""

import os
import pickle
import socket
import struct
import sys
import threading

import pytest
from multiprocessing.connection import Client

from _mgr import connect, manager, mpcluster_only  # noqa: F401  (fixtures by name)


@pytest.fixture
def pipe(manager):
    """A CPython ``Connection`` turned into a serving connection, and a
    socket on the same descriptor for raw writes; both closed afterwards."""
    conn = Client(manager.address, authkey=manager.authkey)
    conn.send((None, "accept_connection", ("pipeliner",), {}))
    assert conn.recv() == ("#RETURN", None)
    raw = socket.socket(fileno=os.dup(conn.fileno()))
    yield conn, raw
    raw.close()
    conn.close()


def frames(requests):
    """The requests framed as ``Connection.send`` frames them, back to back."""
    out = bytearray()
    for r in requests:
        payload = pickle.dumps(r, protocol=4)
        out += struct.pack("!i", len(payload)) + payload
    return bytes(out)


# struct tcp_info (linux/tcp.h): tcpi_data_segs_in, data segments received.
TCP_INFO_DATA_SEGS_IN = 152


def data_segments_in(sock):
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    if len(info) < TCP_INFO_DATA_SEGS_IN + 4:
        pytest.skip("this kernel's tcp_info has no tcpi_data_segs_in")
    return struct.unpack_from("I", info, TCP_INFO_DATA_SEGS_IN)[0]


def test_pipelined_replies_come_in_request_order(manager, pipe):
    m = connect(manager)
    d = m.dict()
    ident = d._token.id
    conn, raw = pipe
    requests = [(ident, "__setitem__", (f"k{i}", i), {}) for i in range(50)]
    requests += [(ident, "__getitem__", (f"k{i}",), {}) for i in range(50)]
    requests.append((ident, "__getitem__", ("missing",), {}))
    requests.append((ident, "__len__", (), {}))
    raw.sendall(frames(requests))
    replies = [conn.recv() for _ in requests]
    assert replies[:50] == [("#RETURN", None)] * 50
    assert replies[50:100] == [("#RETURN", i) for i in range(50)]
    kind, exc = replies[100]
    assert kind == "#ERROR" and isinstance(exc, KeyError) and exc.args == ("missing",)
    assert replies[101] == ("#RETURN", 50)


@pytest.mark.skipif(sys.platform != "linux", reason="reads Linux tcp_info")
@mpcluster_only("CPython's server sends each reply as it is made")
def test_replies_to_one_batch_leave_in_one_write(manager, pipe):
    m = connect(manager)
    lst = m.list()
    ident = lst._token.id
    conn, raw = pipe
    # Settle the connection (the handshake's own segments are counted).
    raw.sendall(frames([(ident, "__len__", (), {})]))
    assert conn.recv() == ("#RETURN", 0)
    before = data_segments_in(raw)
    batch = [(ident, "append", (i,), {}) for i in range(16)]
    raw.sendall(frames(batch))
    assert [conn.recv() for _ in batch] == [("#RETURN", None)] * 16
    arrived = data_segments_in(raw) - before
    # 16 replies of 22 bytes: one segment when written together (a
    # second if the server's read happened to split the batch), 16
    # when each reply is sent on its own.
    assert 1 <= arrived <= 2, arrived
    assert lst[:] == list(range(16))


def test_a_blocking_call_inside_a_batch_holds_only_the_calls_after_it(manager, pipe):
    m = connect(manager)
    q = m.Queue()
    d = m.dict()
    conn, raw = pipe
    batch = [
        (d._token.id, "__setitem__", ("before", 1), {}),
        (q._token.id, "get", (), {}),  # blocks until the put below
        (d._token.id, "__setitem__", ("after", 2), {}),
    ]
    raw.sendall(frames(batch))
    assert conn.recv() == ("#RETURN", None)
    # The call after the blocked get has not run yet.
    assert not conn.poll(0.3)
    assert "after" not in d.keys()
    q.put("item")
    assert conn.recv() == ("#RETURN", "item")
    assert conn.recv() == ("#RETURN", None)
    assert d.copy() == {"before": 1, "after": 2}


def test_a_batch_larger_than_the_socket_buffers_is_answered(manager, pipe):
    """4000 requests whose replies (8 KiB each, 32 MB in all) cannot fit in
    the socket buffers: the server must keep answering while the client
    reads, and the client keeps writing meanwhile."""
    m = connect(manager)
    lst = m.list(["x" * 8192])
    ident = lst._token.id
    conn, raw = pipe
    count = 4000
    payload = frames([(ident, "__getitem__", (0,), {})] * count)
    writer = threading.Thread(target=raw.sendall, args=(payload,), daemon=True)
    writer.start()
    for _ in range(count):
        assert conn.recv() == ("#RETURN", "x" * 8192)
    writer.join(10)
    assert not writer.is_alive()
