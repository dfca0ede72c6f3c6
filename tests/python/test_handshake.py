"""Framing and the authkey handshake against unmodified CPython.

Our ``wire_peer`` example (the wire crate's frame codec and handshake over
tokio) faces ``multiprocessing.connection.Client`` and ``Listener`` from
CPython 3.8, 3.11, 3.12 and 3.13: legacy HMAC-MD5 and the 3.12+ ``{sha256}``
scheme in both roles, echoes through CPython's framing (including a frame
above the 16384-byte single-write threshold), wrong keys with CPython's own
errors, the handshake timeout and the 256-byte handshake frame cap.
"""

import socket
import struct
import sys
import time

import pytest

from _wire_peer import (
    CPythonListener,
    WirePeerServer,
    expected_scheme,
    python_version,
    run_cpython_client,
    run_wire_peer_client,
)

KEY = b"mpcluster-handshake-test".hex()
WRONG = b"not-the-key".hex()
# Around CPython's 16384-byte single-write threshold, plus one large frame.
SIZES = (0, 1, 59, 16384, 16385, 1 << 20)


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError(f"closed after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_raw_frame(sock):
    (size,) = struct.unpack("!i", read_exact(sock, 4))
    return read_exact(sock, size)


def wait_closed(sock, timeout):
    """Seconds until the peer closed ``sock`` (EOF or reset)."""
    sock.settimeout(timeout)
    started = time.monotonic()
    try:
        data = sock.recv(1)
    except ConnectionResetError:
        data = b""
    assert data == b"", f"expected the server to close, got {data!r}"
    return time.monotonic() - started


def test_cpython_client_handshakes_and_echoes(client_python):
    version = python_version(client_python)
    with WirePeerServer(KEY) as server:
        result = run_cpython_client(client_python, server.port, KEY, SIZES)
        assert "auth_error" not in result, result
        assert result["echoes"] == [[n, True] for n in SIZES]
        server.out.expect(rf"^CONN 1 AUTH_OK {expected_scheme(version)}$")
        for n in SIZES:
            server.out.expect(rf"^CONN 1 ECHO {n}$")
        server.out.expect(r"^CONN 1 CLOSED clean$")


def test_cpython_client_with_wrong_key_is_refused(client_python):
    with WirePeerServer(KEY) as server:
        result = run_cpython_client(client_python, server.port, WRONG)
        assert result.get("auth_error") == "digest sent was rejected", result
        server.out.expect(r"^CONN 1 AUTH_FAIL auth .*digest received was wrong$")
        # A good client still gets through afterwards.
        ok = run_cpython_client(client_python, server.port, KEY, (5,))
        assert ok["echoes"] == [[5, True]], ok


def test_our_client_against_cpython_listener(client_python):
    version = python_version(client_python)
    with CPythonListener(client_python, KEY, 2) as listener:
        for size in (10, 1 << 20):
            code, lines = run_wire_peer_client(listener.port, KEY, size)
            assert code == 0, lines
            assert lines == [f"AUTH_OK {expected_scheme(version)}", f"RECV {size} ECHO_OK"]
            listener.out.expect(r"^ACCEPT_OK$")
            listener.out.expect(rf"^ECHOED {size}$")
        listener.out.expect(r"^DONE$")


def test_our_client_with_wrong_key_against_cpython_listener(client_python):
    with CPythonListener(client_python, KEY, 1) as listener:
        code, lines = run_wire_peer_client(listener.port, WRONG, 1)
        assert code == 1
        assert lines == ["AUTH_FAIL auth authentication failed: digest sent was rejected"]
        listener.out.expect(r"^ACCEPT_FAIL AuthenticationError digest received was wrong$")


def test_refuse_md5_locks_out_only_legacy_clients(client_python):
    version = python_version(client_python)
    with WirePeerServer(KEY, "--refuse-md5") as server:
        result = run_cpython_client(client_python, server.port, KEY, (3,))
        if version < (3, 12):
            assert result.get("auth_error") == "digest sent was rejected", result
            server.out.expect(r"^CONN 1 AUTH_FAIL auth .*refused by policy")
        else:
            assert result["echoes"] == [[3, True]], result
            server.out.expect(r"^CONN 1 AUTH_OK modern sha256$")


def test_our_client_refusing_md5_rejects_legacy_listener(client_python):
    version = python_version(client_python)
    with CPythonListener(client_python, KEY, 1) as listener:
        code, lines = run_wire_peer_client(listener.port, KEY, 4, "--refuse-md5")
        if version < (3, 12):
            assert code == 1
            assert lines and lines[0].startswith("AUTH_FAIL auth"), lines
            assert "refused by policy" in lines[0]
        else:
            assert code == 0, lines
            assert lines[-1] == "RECV 4 ECHO_OK"


def test_stalled_peer_is_cut_off_after_the_handshake_timeout():
    with WirePeerServer(KEY, "--handshake-timeout", "0.5") as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            challenge = read_raw_frame(sock)
            assert challenge.startswith(b"#CHALLENGE#{sha256}") and len(challenge) == 59
            # The 0.5 s run from the accept; the challenge came right after.
            waited = wait_closed(sock, timeout=10)
            assert waited >= 0.3, waited
            assert waited < 5, waited
        server.out.expect(r"^CONN 1 AUTH_FAIL timeout handshake timed out after 500ms$")


def test_oversized_handshake_frame_is_refused_without_allocating():
    with WirePeerServer(KEY) as server:
        baseline = run_cpython_client(sys.executable, server.port, KEY, (100,))
        assert baseline["echoes"] == [[100, True]]
        peak_before = server.status_kib("VmPeak")
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            read_raw_frame(sock)
            sock.sendall(struct.pack("!i", 1 << 30) + b"x" * 64)  # declares 1 GiB
            wait_closed(sock, timeout=10)
        server.out.expect(
            r"^CONN 2 AUTH_FAIL frame handshake frame: bad message length: "
            r"frame declares 1073741824 bytes, the limit is 256$"
        )
        if peak_before is not None:
            # A 1 GiB buffer would raise the peak virtual size by 1 GiB even
            # if its pages were never touched.
            growth = server.status_kib("VmPeak") - peak_before
            assert growth < 256 * 1024, f"VmPeak grew by {growth} KiB"
        after = run_cpython_client(sys.executable, server.port, KEY, (7,))
        assert after["echoes"] == [[7, True]], after


def test_frame_over_the_configured_maximum_closes_the_connection():
    with WirePeerServer(KEY, "--max-frame", "1024") as server:
        result = run_cpython_client(sys.executable, server.port, KEY, (1024, 1025))
        assert result["echoes"] == [[1024, True]], result
        assert result["recv_error"] in ("EOFError", "ConnectionResetError", "OSError"), result
        server.out.expect(r"^CONN 1 CLOSED error bad message length: frame declares 1025 bytes")


@pytest.mark.parametrize("declared", [-2, -(2**31)])
def test_negative_length_is_a_protocol_error(declared):
    with WirePeerServer(KEY) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            read_raw_frame(sock)
            sock.sendall(struct.pack("!i", declared))
            wait_closed(sock, timeout=10)
        server.out.expect(rf"^CONN 1 AUTH_FAIL frame .*negative frame length {declared}$")
