"""A bad or dying client never takes the server down or touches another
client's data (limits with clear errors; docs/protocol.md 5.7, 14).

Each test abuses the server (garbage before and after the handshake, a
declared 2 GiB frame, a pickle nested 100 000 deep, clients killed while
holding a lock or blocked in ``get``, a storm of wrong keys, a thousand idle
connections) and then checks that the server still serves a new client and
that a proxy made beforehand by a well-behaved client still holds its data.
"""

import gc
import os
import random
import socket
import struct
import threading
import time

import pytest
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
from multiprocessing.managers import RemoteError

from _browser import admin_address, request, wait_until
from _mgr import (  # noqa: F401  (fixtures are used by name)
    REFERENCE,
    assert_serving,
    connect,
    control,
    fork_context,
    in_thread,
    manager,
    manager_factory,
    mpcluster_only,
    number_of_objects,
    refcount_of,
)

VICTIM_DATA = ["precious", {"nested": [1, 2]}, 3.5]


@pytest.fixture
def victim(manager):
    """A well-behaved client's list, checked after every abuse."""
    m = connect(manager)
    v = m.list(VICTIM_DATA)
    yield v
    assert_serving(manager, v, VICTIM_DATA)


def read_until_closed(sock, timeout):
    """True when the peer closes ``sock`` within ``timeout`` seconds (data
    before the close, such as the server's challenge, is skipped)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False
    return False


def serving_connection(manager):
    """An authenticated connection turned into a serving one (docs/protocol.md 5.1)."""
    conn = Client(manager.address, authkey=manager.authkey)
    conn.send((None, "accept_connection", ("robustness",), {}))
    assert conn.recv() == ("#RETURN", None)
    return conn


def reply_or_closed(conn, timeout=10):
    """The reply to the last request, or ``'closed'``."""
    try:
        if not conn.poll(timeout):
            return "no reply"
        return conn.recv()
    except (EOFError, ConnectionError):
        return "closed"


def serving_connection_once_freed(manager, what, timeout=10):
    """A serving connection opened after one was closed: the server may
    turn clients away until it has noticed the close."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return serving_connection(manager)
        except (EOFError, ConnectionError):
            assert time.monotonic() < deadline, f"{what} never served"
            time.sleep(0.05)


def assert_all_answered(conns):
    """Every connection still answers (a call on no object gets the error
    reply CPython's serve_client gives)."""
    for c in conns:
        c.send((None, "dummy", (), {}))
    for c in conns:
        reply = reply_or_closed(c)
        assert reply not in ("closed", "no reply") and reply[0] == "#TRACEBACK", reply


def test_garbage_bytes_instead_of_a_handshake(manager, victim):
    rng = random.Random(1234)
    payloads = [
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 10,
        bytes(rng.getrandbits(8) for _ in range(4096)),
        b"\xff\xff\xff\xff" + b"\xff" * 8,  # -1 then a 2**64-1 length
        b"\x00\x00\x00\x05#CHAL",  # a plausible frame with the wrong content
    ]
    for payload in payloads:
        with socket.create_connection(manager.address, timeout=5) as s:
            s.sendall(payload)
            assert read_until_closed(s, 10), payload[:20]
    # A connection that promises a frame and hangs up half-way.
    with socket.create_connection(manager.address, timeout=5) as s:
        s.sendall(struct.pack("!i", 100) + b"x" * 10)


def test_random_frames_after_a_correct_handshake(manager, victim):
    rng = random.Random(99)
    for i in range(16):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randrange(1, 300)))
        if i % 2:
            body = b"\x80\x04" + body  # looks like a protocol-4 pickle
        conn = serving_connection(manager) if i % 4 >= 2 else Client(manager.address, authkey=manager.authkey)
        with conn:
            conn.send_bytes(body)
            reply = reply_or_closed(conn)
            assert reply == "closed" or (reply[0] == "#TRACEBACK" and isinstance(reply[1], str)), reply


@mpcluster_only("CPython has no frame limit: it waits for 2 GiB to arrive")
@pytest.mark.parametrize(
    "header", [struct.pack("!iQ", -1, 2 << 30), struct.pack("!i", 2**31 - 1)], ids=["u64-length", "i32-length"]
)
def test_declared_2_gib_frame_is_refused_without_allocating(manager, victim, header):
    conn = Client(manager.address, authkey=manager.authkey)
    with socket.socket(fileno=os.dup(conn.fileno())) as s:
        s.sendall(header + b"\x80\x04" + b"x" * 1000)
        assert read_until_closed(s, 10)
    conn.close()
    status = open(f"/proc/{manager.proc.pid}/status").read()
    rss_kib = int(status.split("VmRSS:")[1].split()[0])
    assert rss_kib < 256 * 1024, f"server RSS grew to {rss_kib} KiB"


@mpcluster_only("CPython has no frame limit")
def test_frame_above_max_frame_closes_only_that_connection(manager_factory):
    server = manager_factory("--max-frame", "4096")
    m = connect(server)
    small = m.list(["small"])
    big = m.list()
    with pytest.raises((EOFError, ConnectionError)):
        big.append("x" * 10_000)
    # This thread's serving connection is gone (CPython clients never
    # reconnect it); a new thread gets a new one.
    assert server.alive()
    assert in_thread(small._getvalue).join() == (["small"], None)
    assert in_thread(len, big).join() == (0, None)


def deep_request(ident, method, nested):
    """A pickled ``(ident, method, (nested,), {})`` written as raw opcodes."""

    def text(s):
        raw = s.encode()
        return b"\x8c" + bytes([len(raw)]) + raw  # SHORT_BINUNICODE

    return b"\x80\x04(" + text(ident) + text(method) + nested + b"\x85}t."


@pytest.mark.parametrize(
    "kind, nested",
    [
        # EMPTY_LIST x N, then APPEND x (N-1): lists nested N deep.
        ("lists", b"]" * 100_000 + b"a" * 99_999),
        # EMPTY_TUPLE, then TUPLE1 x N: tuples nested N deep.
        ("tuples", b")" + b"\x85" * 100_000),
    ],
    ids=["lists", "tuples"],
)
def test_deeply_nested_pickle(manager, victim, kind, nested):
    import pickle

    shallow = deep_request("id", "append", b"]" * 3 + b"a" * 2)
    assert pickle.loads(shallow) == ("id", "append", ([[[]]],), {})
    target = connect(manager).list()
    with serving_connection(manager) as conn:
        conn.send_bytes(deep_request(target._token.id, "append", nested))
        reply = reply_or_closed(conn, timeout=30)
    if REFERENCE:
        assert reply == ("#RETURN", None)  # CPython simply stores it
    else:
        assert reply == "closed" or reply[0] in ("#TRACEBACK", "#ERROR"), reply
        assert len(target) == 0


def _hold_lock_forever(lock, held):
    lock.acquire()
    held.set()
    time.sleep(120)


def test_lock_held_by_a_killed_client_stays_held(manager, victim):
    m = connect(manager)
    lock, held = m.Lock(), m.Event()
    child = fork_context().Process(target=_hold_lock_forever, args=(lock, held))
    child.start()
    assert held.wait(10)
    child.kill()
    child.join(10)
    assert child.exitcode == -9
    # CPython releases nothing when a holder dies (docs/protocol.md 9.6); neither do we
    # by default.
    assert lock.acquire(timeout=0.2) is False
    lock.release()  # a Lock has no owner: a live client can free it
    assert lock.acquire(False) is True


def _hold_a_reference(l, held):
    held.set()  # the forked child has already increfed `l` (docs/protocol.md 5.6)
    time.sleep(120)


def test_references_of_a_killed_client_stay_counted(manager, victim):
    m = connect(manager)
    l = m.list(["orphan"])
    ident, held = l._token.id, m.Event()
    child = fork_context().Process(target=_hold_a_reference, args=(l, held))
    child.start()
    assert held.wait(10)
    assert refcount_of(manager, ident) == 2
    child.kill()
    child.join(10)
    # A killed client never decrefs; CPython keeps its reference counted
    # (docs/protocol.md 5.6), and so do we by default (reaping is opt-in).
    time.sleep(0.2)
    assert refcount_of(manager, ident) == 2
    del l
    gc.collect()
    assert refcount_of(manager, ident) == 1
    base = number_of_objects(manager)
    control(manager, "decref", ident)
    assert number_of_objects(manager) == base - 1


def _wait_for_lock(lock, ready):
    ready.set()
    lock.acquire()
    time.sleep(120)


@mpcluster_only("CPython's server thread later acquires the lock for the dead client")
def test_client_killed_while_waiting_for_a_lock_does_not_take_it(manager, victim):
    m = connect(manager)
    lock, ready = m.Lock(), m.Event()
    assert lock.acquire()
    child = fork_context().Process(target=_wait_for_lock, args=(lock, ready))
    child.start()
    assert ready.wait(10)
    time.sleep(0.3)  # let the child's acquire() reach the server and block there
    child.kill()
    child.join(10)
    time.sleep(0.2)  # the server sees the closed connection
    lock.release()
    assert lock.acquire(timeout=2) is True
    lock.release()


def _block_in_get(q, ready):
    ready.set()
    q.get()


@mpcluster_only("CPython's server thread keeps waiting for the dead client and takes the item")
def test_client_killed_while_blocked_in_get_does_not_steal_items(manager, victim):
    m = connect(manager)
    q, ready = m.Queue(), m.Event()
    child = fork_context().Process(target=_block_in_get, args=(q, ready))
    child.start()
    assert ready.wait(10)
    time.sleep(0.3)  # let the child's get() reach the server and block there
    child.kill()
    child.join(10)
    assert child.exitcode == -9
    time.sleep(0.2)  # the server sees the closed connection
    getter = in_thread(q.get, True, 5)
    q.put("for the living")
    result, error = getter.join()
    assert error is None and result == "for the living"
    q.put("again")
    assert q.get(timeout=5) == "again"


def test_wrong_authkey_storm(manager, victim):
    failures = []

    def storm():
        for _ in range(10):
            try:
                Client(manager.address, authkey=b"wrong key").close()
                failures.append("accepted")
            except AuthenticationError:
                pass
            except (EOFError, ConnectionError) as e:
                failures.append(repr(e))

    threads = [threading.Thread(target=storm) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert failures == []


def test_a_thousand_idle_connections(manager, victim):
    idle = []
    try:
        for _ in range(900):
            idle.append(Client(manager.address, authkey=manager.authkey))
        for _ in range(100):
            idle.append(serving_connection(manager))
        raw = [socket.create_connection(manager.address) for _ in range(100)]
        idle.extend(raw)
        m = connect(manager)
        l = m.list([1])
        l.append(2)
        q = m.Queue()
        q.put("busy server")
        assert q.get(timeout=5) == "busy server"
        assert l._getvalue() == [1, 2] and victim._getvalue() == VICTIM_DATA
    finally:
        for c in idle:
            c.close()
    gc.collect()


@mpcluster_only("CPython's server has a thread per connection, no --workers")
def test_one_worker_serves_others_while_clients_block(manager_factory):
    """With a single serving thread, clients blocked in ``get`` and
    ``acquire`` (one holding the lock) park without holding the thread: a
    third client is still served, and its put and release wake them."""
    server = manager_factory("--workers", "1")
    m = connect(server)
    q = m.Queue()
    lock = m.Lock()
    assert lock.acquire()
    getters = [in_thread(q.get, True, 20) for _ in range(3)]
    waiter = in_thread(lock.acquire, True, 20)
    time.sleep(0.3)  # all four are waiting on the server by now
    assert all(g.thread.is_alive() for g in getters) and waiter.thread.is_alive()
    l = m.list(range(1000))
    assert sum(l) == 499500
    for i in range(3):
        q.put(i)
    assert sorted(g.join()[0] for g in getters) == [0, 1, 2]
    lock.release()
    assert waiter.join() == (True, None)


@mpcluster_only("CPython's server has no connection cap and keeps its open-file limit")
def test_connection_cap_holds_under_a_low_open_file_limit(manager_factory):
    """Started with a soft open-file limit of 128 (systemd's default is
    1,024), the server raises it to what its caps need, serves every
    connection up to ``--max-connections`` and closes the next one at
    accept; a freed slot serves again. Without the raise, accept fails with
    EMFILE past ~120 connections and their handshakes never start."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 700:
        pytest.skip(f"hard open-file limit {hard} is below what the test needs")

    def low_soft_limit():  # in the server's process only
        resource.setrlimit(resource.RLIMIT_NOFILE, (128, hard))

    server = manager_factory("--max-connections", "300", preexec_fn=low_soft_limit)
    assert "open-file limit raised from=128" in server.log()
    conns = []

    def open_all():
        # Serving connections stay open (a control connection is closed
        # after its one reply). A handshake the server never starts would
        # block forever: CPython's Client has no timeout.
        for _ in range(300):
            conns.append(serving_connection(server))

    try:
        _, error = in_thread(open_all).join(timeout=30)
        assert error is None, repr(error)
        # Connections past the cap are closed at accept, long before the
        # handshake timeout (10 s).
        extra = socket.create_connection(server.address)
        assert read_until_closed(extra, 5)
        extra.close()
        conns.pop().close()
        conns.append(serving_connection_once_freed(server, "the freed slot"))
        assert_all_answered(conns)
    finally:
        for c in conns:
            c.close()


FD_LIMIT = 64


def low_file_limit():
    """Run in the server's process before it starts: a hard open-file
    limit of 64, far below what --max-connections 500 needs."""
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


def fill_descriptors(server):
    """Opens serving connections until the server turns one away for want
    of a descriptor; returns the open ones (a CPython client has no
    timeout, so a client left in the backlog hangs the opener: 30 s)."""
    conns = []
    refused = []

    def open_until_refused():
        for _ in range(200):
            try:
                conns.append(serving_connection(server))
            except (EOFError, ConnectionError) as e:
                refused.append(e)
                return

    _, error = in_thread(open_until_refused).join(timeout=30)
    if error is not None or not refused:
        for c in conns:
            c.close()
    assert error is None, repr(error)
    assert refused, f"200 connections under a limit of {FD_LIMIT} descriptors"
    # The server takes its spare descriptor back just after the close the
    # refused client saw; until then one descriptor is free.
    wait_until(
        lambda: len(os.listdir(f"/proc/{server.proc.pid}/fd")) >= FD_LIMIT,
        what=f"the server to hold all {FD_LIMIT} descriptors again",
    )
    return conns


@mpcluster_only("CPython's server makes a thread per connection and never refuses one")
def test_out_of_file_descriptors_refuses_instead_of_hanging(manager_factory):
    """With a hard open-file limit of 64 the server cannot hold its
    --max-connections: past the limit a client's connection is closed at
    once (a spare descriptor accepts and closes it) instead of waiting in
    the backlog, where a CPython client, which has no timeout, would hang.
    Connections already open keep being served, and a freed descriptor
    serves a new client."""
    server = manager_factory("--max-connections", "500", preexec_fn=low_file_limit)
    assert "open-file limit leaves room for about 32 connections" in server.log()
    conns = fill_descriptors(server)
    try:
        assert 20 < len(conns) < FD_LIMIT, len(conns)
        for c in conns[:5]:
            c.close()
        del conns[:5]
        conns.append(serving_connection_once_freed(server, "a freed descriptor"))
        assert_all_answered(conns)
        assert "out of file descriptors" in server.log()
    finally:
        for c in conns:
            c.close()


@mpcluster_only("CPython's server has no admin port")
def test_admin_port_out_of_file_descriptors_closes_instead_of_hanging(manager_factory):
    """The admin port, out of descriptors, closes a new connection at once
    as the data port does (its own spare descriptor), rather than leaving
    the HTTP client to its timeout; once descriptors are freed it answers
    again."""
    server = manager_factory("--max-connections", "500", preexec_fn=low_file_limit)
    host, port = admin_address(server).rsplit(":", 1)
    conns = fill_descriptors(server)
    try:
        started = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert read_until_closed(s, 10), "the admin port left the connection waiting"
        assert time.monotonic() - started < 5
        # Logged once the spare descriptor is back, just after the close.
        wait_until(
            lambda: "admin connection refused: out of file descriptors" in server.log(),
            what="the refusal in the log",
        )
        for c in conns[:5]:
            c.close()
        del conns[:5]

        def healthy():
            try:
                return request(f"{host}:{port}", "/healthz", token=None).status == 200
            except OSError:
                return False

        wait_until(healthy, what="the admin port to answer once descriptors were freed")
        assert_all_answered(conns)
    finally:
        for c in conns:
            c.close()


@mpcluster_only("CPython shares the object where the server's value trees copy it")
def test_a_value_referring_to_itself_many_times_is_refused_not_multiplied(manager, victim):
    """``list(x)`` copies ``x`` once per reference to it in the item taken
    out (values are trees); 2,000 references next to a large sibling would
    copy the sibling 2,000 times. Refused with MemoryError instead, and the
    server goes on serving."""
    x = [None, list(range(2000))]
    x[0] = [x] * 2000
    m = connect(manager)
    with pytest.raises(RemoteError) as info:
        m.list(x)
    assert "MemoryError" in str(info.value) and "refers to itself 2000 times" in str(info.value)
    y = []
    y.append(y)
    assert repr(m.list(y)[0]) == "[[...]]"
