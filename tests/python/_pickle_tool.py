"""Subprocess plumbing for ``test_pickle_roundtrip.py``.

``PickleTool`` drives the ``pickle_tool`` example (``services/wire/examples/
pickle_tool.rs``): pickles go in, each preceded by its length as a 4-byte
big-endian integer, and each comes back re-encoded by the Rust codec, or as
``ERR <reason>``. One tool process serves a whole test module; every read has
a deadline, so a hung tool fails the test instead of hanging it.

``PythonPeer`` runs ``PEER_SCRIPT`` under another CPython version (3.8 to
3.13) so that the CPython side of a round trip (``pickle.dumps`` at every
protocol, ``pickle.loads`` of our output, the comparison) happens in that
version. ``strict_equal`` is shared by both sides: the source is executed here
and embedded in the peer script, which must stay valid Python 3.8.
"""

import os
import pickle
import select
import struct
import subprocess
import time

from conftest import cargo_bin

DEFAULT_TIMEOUT = 20.0

# Equality that a faithful round trip must satisfy: same types all the way
# down (1 is not True is not 1.0), floats compared by value and sign with
# NaN equal to NaN, dicts in order, sets as multisets of canonical keys.
STRICT_EQUAL_SOURCE = r'''
import math as _math
import struct as _struct

def _canon(x):
    t = type(x)
    if t is float:
        return "f" + _struct.pack(">d", x).hex()
    if t is complex:
        return "c" + _canon(x.real) + _canon(x.imag)
    if t is tuple:
        return "T(" + ",".join(_canon(i) for i in x) + ")"
    if t is frozenset:
        return "F(" + ",".join(sorted(_canon(i) for i in x)) + ")"
    if t is int:
        # hex(): repr() of a huge int is refused since 3.11 (4300 digits).
        return "i" + hex(x)
    return t.__name__ + ":" + repr(x)

def short_repr(x):
    try:
        text = repr(x)
    except ValueError:
        text = "<%s too large to repr>" % type(x).__name__
    return text[:500]

def strict_equal(a, b):
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if a != a:
            return b != b
        return a == b and _math.copysign(1.0, a) == _math.copysign(1.0, b)
    if isinstance(a, complex):
        return strict_equal(a.real, b.real) and strict_equal(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(strict_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return len(a) == len(b) and all(
            strict_equal(k1, k2) and strict_equal(v1, v2)
            for (k1, v1), (k2, v2) in zip(a.items(), b.items())
        )
    if isinstance(a, (set, frozenset)):
        return sorted(_canon(x) for x in a) == sorted(_canon(x) for x in b)
    return a == b
'''

_shared = {}
exec(STRICT_EQUAL_SOURCE, _shared)
strict_equal = _shared["strict_equal"]
short_repr = _shared["short_repr"]

# Runs under the CPython version being tested. Requests and replies are
# length-prefixed protocol-4 pickles of (command, argument).
PEER_SCRIPT = STRICT_EQUAL_SOURCE + r'''
import pickle, struct, sys

def read_exact(n):
    buf = b""
    while len(buf) < n:
        chunk = sys.stdin.buffer.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

def handle(cmd, arg):
    if cmd == "dumps":
        value = pickle.loads(arg)
        out = []
        for proto in range(pickle.HIGHEST_PROTOCOL + 1):
            try:
                out.append(pickle.dumps(value, proto))
            except Exception:
                out.append(None)
        return out
    if cmd == "check":
        reference, candidate = arg
        expected = pickle.loads(reference)
        try:
            got = pickle.loads(candidate)
        except Exception as exc:
            return (False, "loads failed: %r" % (exc,))
        if strict_equal(expected, got):
            return (True, "")
        return (False, "expected %s, got %s" % (short_repr(expected), short_repr(got)))
    if cmd == "version":
        return tuple(sys.version_info[:2])
    raise ValueError(cmd)

while True:
    head = read_exact(4)
    if head is None:
        break
    cmd, arg = pickle.loads(read_exact(struct.unpack(">I", head)[0]))
    reply = pickle.dumps(handle(cmd, arg), 4)
    sys.stdout.buffer.write(struct.pack(">I", len(reply)) + reply)
    sys.stdout.buffer.flush()
'''


class ToolError(Exception):
    """The tool answered ``ERR <reason>``."""


class _Framed:
    """A child process spoken to with length-prefixed messages."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0
        )

    def alive(self):
        return self.proc.poll() is None

    def _read_exact(self, n, deadline):
        fd = self.proc.stdout.fileno()
        buf = b""
        while len(buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply within the deadline")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, n - len(buf))
            if not chunk:
                raise EOFError("process exited: %r" % (self.proc.stderr.read()[-2000:],))
            buf += chunk
        return buf

    def request(self, payload, timeout=DEFAULT_TIMEOUT):
        deadline = time.monotonic() + timeout
        self.proc.stdin.write(struct.pack(">I", len(payload)) + payload)
        self.proc.stdin.flush()
        (n,) = struct.unpack(">I", self._read_exact(4, deadline))
        return self._read_exact(n, deadline)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


class PickleTool(_Framed):
    """The Rust codec: decode, re-encode (protocol 4 unless told)."""

    def __init__(self, *options):
        super().__init__([str(cargo_bin("pickle_tool", example=True))] + list(options))

    def answer(self, data, timeout=DEFAULT_TIMEOUT):
        """The raw reply: a pickle, or ``b'ERR ...'``."""
        return self.request(data, timeout)

    def roundtrip(self, data, timeout=DEFAULT_TIMEOUT):
        reply = self.request(data, timeout)
        if reply.startswith(b"ERR "):
            raise ToolError(reply[4:].decode("utf-8", "replace"))
        return reply


class PythonPeer(_Framed):
    """``PEER_SCRIPT`` running under the interpreter ``exe``."""

    def __init__(self, exe):
        super().__init__([exe, "-c", PEER_SCRIPT])

    def call(self, cmd, arg=None, timeout=DEFAULT_TIMEOUT):
        return pickle.loads(self.request(pickle.dumps((cmd, arg), 4), timeout))
