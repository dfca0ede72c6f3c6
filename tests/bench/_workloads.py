"""The workloads of the CPython-client benchmark: what one operation is.

Each workload has two halves. ``shared(manager, nprocs)`` runs in the
benchmark's coordinator, against the server under test, and creates the
objects the client processes share (they reach the workers pickled, as
``RebuildProxy`` recipes, the way CPython passes proxies to a ``Process``).
``prepare(ctx)`` runs in each client process and returns the operation: a
callable doing one unit of work with ordinary proxy calls. The worker times
each call of it.

Every operation is plain, unmodified ``multiprocessing`` client code; the
``requests`` field says how many manager requests one operation costs
(method calls on the thread's serving connection, or fresh control
connections for ``create``/``incref``/``decref``, see docs/protocol.md 5.6).
"""

import queue
import time


class Stop(Exception):
    """Raised by an operation that cannot complete because the run is over
    (a queue ring whose neighbour has stopped): the op is not counted."""


class Context:
    """What a client process knows when it prepares its operation."""

    def __init__(self, manager, shared, wid, nprocs):
        self.manager = manager
        self.shared = shared
        self.wid = wid
        self.nprocs = nprocs
        # Set by the worker once the timed window is known (monotonic ns);
        # None during the warm-up.
        self.end_ns = None


class Workload:
    def __init__(self, name, requests, description, shared, prepare, warmup=20):
        self.name = name
        self.requests = requests
        self.description = description
        self.shared = shared
        self.prepare = prepare
        self.warmup = warmup


def _no_shared(manager, nprocs):
    return {}


# -- dict set and get --------------------------------------------------------


def _dict_shared(manager, nprocs):
    return {"d": manager.dict()}


def _dict_prepare(ctx):
    d = ctx.shared["d"]
    # One shared dict; each process cycles through 256 keys of its own, so
    # the dict stays small and processes contend on the object, not a key.
    keys = [f"w{ctx.wid}k{i}" for i in range(256)]

    def op(i):
        k = keys[i & 255]
        d[k] = i
        if d[k] != i:
            raise AssertionError(f"dict read back {d[k]!r} for {i}")

    return op


def _dict_20k_prepare(ctx):
    d = ctx.shared["d"]
    key = f"w{ctx.wid}"
    # Over 16 KiB a CPython client or server writes a frame's header and
    # payload in two sends, which Nagle's algorithm holds apart until the
    # header is acknowledged (docs/protocol.md 2.2a): the request of the set and
    # the reply of the get both take that path.
    filler = b"x" * (20_000 - 8)

    def op(i):
        value = filler + i.to_bytes(8, "big")
        d[key] = value
        if d[key] != value:
            raise AssertionError("dict read back a different 20 KB value")

    return op


# -- list append -------------------------------------------------------------


def _list_shared(manager, nprocs):
    return {"l": manager.list()}


def _list_prepare(ctx):
    append = ctx.shared["l"].append

    def op(i):
        append(i)

    return op


# -- Queue put + get between processes ----------------------------------------


def _queue_shared(manager, nprocs):
    return {"q": [manager.Queue() for _ in range(nprocs)]}


def _queue_prepare(ctx):
    # A ring: process w puts into the inbox of process w+1 and takes from
    # its own, so every item crosses from one client process to another
    # (with one process, it puts into and takes from its own inbox). All
    # processes do the same number of warm-up ops, so the warm-up always
    # completes; at the end of the timed window a process whose neighbour
    # has stopped gives up shortly after the end (Stop, not counted).
    inbox = ctx.shared["q"][ctx.wid]
    outbox = ctx.shared["q"][(ctx.wid + 1) % ctx.nprocs]

    def op(i):
        outbox.put(i)
        if ctx.end_ns is None:
            timeout = 60.0
        else:
            timeout = max(0.0, (ctx.end_ns - time.monotonic_ns()) / 1e9) + 0.2
        try:
            inbox.get(timeout=timeout)
        except queue.Empty:
            raise Stop() from None

    return op


# -- Lock acquire + release ---------------------------------------------------


def _lock_shared(manager, nprocs):
    return {"lock": manager.Lock()}


def _lock_prepare(ctx):
    lock = ctx.shared["lock"]

    def op(i):
        lock.acquire()
        lock.release()

    return op


# -- Namespace set / get ------------------------------------------------------


def _namespace_shared(manager, nprocs):
    return {"ns": manager.Namespace()}


def _namespace_prepare(ctx):
    ns = ctx.shared["ns"]
    name = f"w{ctx.wid}"

    def op(i):
        setattr(ns, name, i)
        if getattr(ns, name) != i:
            raise AssertionError("namespace read back a different value")

    return op


# -- Value get / set ----------------------------------------------------------


def _value_shared(manager, nprocs):
    return {"v": manager.Value("i", 0)}


def _value_prepare(ctx):
    v = ctx.shared["v"]

    def op(i):
        v.value = i & 0xFFFF
        # Shared by every process: another may have written in between, so
        # the read is not checked against what this process wrote.
        v.value

    return op


# -- proxy create + drop ------------------------------------------------------


def _create_drop_prepare(ctx):
    manager = ctx.manager

    def op(i):
        p = manager.dict()
        # No cycle: dropping the last reference runs the decref finalizer
        # at once, inside the timed call.
        del p

    return op


WORKLOADS = {
    w.name: w
    for w in [
        Workload(
            "dict_setget",
            2,
            "d[k] = i then d[k] on one shared dict (256 keys per process)",
            _dict_shared,
            _dict_prepare,
        ),
        Workload(
            "dict_setget_20k",
            2,
            "d[k] = v then d[k] with 20,000-byte values (one key per process)",
            _dict_shared,
            _dict_20k_prepare,
        ),
        Workload("list_append", 1, "l.append(i) on one shared list", _list_shared, _list_prepare),
        Workload(
            "queue_putget",
            2,
            "q_next.put(i) then q_own.get(): items pass around a ring of processes",
            _queue_shared,
            _queue_prepare,
        ),
        Workload("lock", 2, "acquire() then release() of one shared Lock", _lock_shared, _lock_prepare),
        Workload(
            "namespace",
            2,
            "ns.w<id> = i then ns.w<id> on one shared Namespace",
            _namespace_shared,
            _namespace_prepare,
        ),
        Workload("value", 2, "v.value = i then v.value on one shared Value('i')", _value_shared, _value_prepare),
        Workload(
            "create_drop",
            4,
            "p = m.dict(); del p (create, incref, decref, decref: 4 control connections)",
            _no_shared,
            _create_drop_prepare,
            warmup=2,
        ),
    ]
}

# Workloads whose throughput target is "2x CPython at 4 and 16 processes"
# (create_drop has its own, much larger, target; dict_setget_20k is not one
# of the workloads and has none).
STEADY = [name for name in WORKLOADS if name not in ("create_drop", "dict_setget_20k")]
