"""Helpers for driving the ``wire_peer`` example against unmodified CPython.

``WirePeerServer`` runs ``wire_peer server`` and collects its stdout lines
(``LISTENING``, ``CONN n AUTH_OK ...``) on a thread so tests can wait for an
event with a deadline instead of sleeping. The ``*_SCRIPT`` strings are run
with each CPython version under test and use only the standard library's
``multiprocessing.connection`` (they must stay valid Python 3.8).
"""

import json
import queue
import re
import subprocess
import threading
import time

from conftest import cargo_bin

DEFAULT_TIMEOUT = 20.0

# A CPython client: connects with an authkey, echoes frames of the given
# sizes through the peer, prints one JSON line.
CLIENT_SCRIPT = r"""
import json, sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Client
port, key = int(sys.argv[1]), bytes.fromhex(sys.argv[2])
sizes = [int(x) for x in sys.argv[3].split(",") if x]
out = {"version": list(sys.version_info[:2])}
try:
    conn = Client(("127.0.0.1", port), authkey=key)
except AuthenticationError as exc:
    out["auth_error"] = str(exc)
else:
    out["echoes"] = []
    try:
        for n in sizes:
            payload = (bytes(range(251)) * (n // 251 + 1))[:n]
            conn.send_bytes(payload)
            back = conn.recv_bytes()
            out["echoes"].append([n, back == payload])
    except (EOFError, OSError) as exc:
        out["recv_error"] = type(exc).__name__
    conn.close()
print(json.dumps(out))
"""

# A CPython Listener: accepts ``count`` connections with an authkey, echoes
# one frame on each, prints one line per event.
LISTENER_SCRIPT = r"""
import sys
from multiprocessing import AuthenticationError
from multiprocessing.connection import Listener
key, count = bytes.fromhex(sys.argv[1]), int(sys.argv[2])
with Listener(("127.0.0.1", 0), authkey=key) as listener:
    print("PORT", listener.address[1], flush=True)
    for _ in range(count):
        try:
            conn = listener.accept()
        except AuthenticationError as exc:
            print("ACCEPT_FAIL", type(exc).__name__, exc, flush=True)
            continue
        print("ACCEPT_OK", flush=True)
        data = conn.recv_bytes()
        conn.send_bytes(data)
        print("ECHOED", len(data), flush=True)
        conn.close()
print("DONE", flush=True)
"""


def python_version(exe):
    """``(major, minor)`` of an interpreter."""
    out = subprocess.run(
        [exe, "-c", "import sys; print(*sys.version_info[:2])"],
        capture_output=True, text=True, check=True, timeout=DEFAULT_TIMEOUT,
    ).stdout.split()
    return int(out[0]), int(out[1])


def expected_scheme(version):
    """How our side logs a peer of this CPython version."""
    return "legacy" if version < (3, 12) else "modern sha256"


def run_cpython_client(exe, port, key_hex, sizes=()):
    """Runs ``CLIENT_SCRIPT`` with ``exe``; returns its JSON result."""
    proc = subprocess.run(
        [exe, "-c", CLIENT_SCRIPT, str(port), key_hex, ",".join(str(n) for n in sizes)],
        capture_output=True, text=True, timeout=DEFAULT_TIMEOUT,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


class LineReader:
    """Collects a process's stdout lines on a thread."""

    def __init__(self, proc):
        self.proc = proc
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self):
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern, timeout=DEFAULT_TIMEOUT):
        """Waits for the next line matching ``pattern``; returns the match."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r}; got {self.lines}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"stream ended before {pattern!r}; got {self.lines}")
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match


class WirePeerServer:
    """``wire_peer server`` as a context manager; ``port`` is read back."""

    def __init__(self, key_hex, *extra):
        self.proc = subprocess.Popen(
            [str(cargo_bin("wire_peer", example=True)), "server", "--authkey-hex", key_hex, *extra],
            stdout=subprocess.PIPE, text=True,
        )
        self.out = LineReader(self.proc)
        self.port = int(self.out.expect(r"^LISTENING (\d+)$").group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(timeout=DEFAULT_TIMEOUT)
        self.proc.stdout.close()

    def status_kib(self, field):
        """A ``/proc/<pid>/status`` memory field in KiB, or None off Linux."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as status:
                for line in status:
                    if line.startswith(field + ":"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


class CPythonListener:
    """``LISTENER_SCRIPT`` run by ``exe`` as a context manager."""

    def __init__(self, exe, key_hex, count):
        self.proc = subprocess.Popen(
            [exe, "-c", LISTENER_SCRIPT, key_hex, str(count)],
            stdout=subprocess.PIPE, text=True,
        )
        self.out = LineReader(self.proc)
        self.port = int(self.out.expect(r"^PORT (\d+)$").group(1))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=DEFAULT_TIMEOUT)
        self.proc.stdout.close()


def run_wire_peer_client(port, key_hex, send_len, *extra):
    """Runs ``wire_peer client``; returns (exit code, stdout lines)."""
    proc = subprocess.run(
        [str(cargo_bin("wire_peer", example=True)), "client", "--port", str(port),
         "--authkey-hex", key_hex, "--send-len", str(send_len), *extra],
        capture_output=True, text=True, timeout=DEFAULT_TIMEOUT,
    )
    return proc.returncode, proc.stdout.splitlines()
