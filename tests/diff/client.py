"""The client half of the differential runner: runs scenarios against ONE
manager server with an unmodified CPython client and prints one JSON line per
step (``{"scenario", "index", "code", "outcome", "seconds"}``).

``difftest.py`` starts this script once per server (CPython's and ours) with
the same scenarios and compares the two streams. Run by hand for debugging:

    python tests/diff/client.py --address 127.0.0.1:50000 --authkey-hex 6b6579 --scenario list

Each step is a small piece of Python run in the scenario's namespace. When
the step ends with an expression, its value is the outcome; otherwise the
outcome is ``= <ok>``. An exception is the outcome ``! module.qualname: msg``.
The namespace holds ``m`` (a connected ``SyncManager``), ``qm`` (a
``BaseManager`` subclass with ``get_queue``/``get_dict`` registered without
callables, the docs' remote-manager pattern) and the helpers of ``Helpers``.
The client library is used as shipped; the only addition is an observer on
``BaseProxy.__init__`` that records object ids for the normaliser.

Runs on any CPython 3.8+ (no newer syntax).
"""

import argparse
import array
import ast
import copy
import gc
import json
import multiprocessing
import os
import pickle
import queue
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Client
from multiprocessing.managers import BaseManager, BaseProxy, RemoteError, SyncManager, Token, dispatch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from normalize import Normalizer, Outcome  # noqa: E402
import scenarios  # noqa: E402

# A step that takes longer than this is cut off (the server is hung on it).
STEP_TIMEOUT = float(os.environ.get("DIFFTEST_STEP_TIMEOUT", "15"))
# Joining helper threads: longer than any timeout a scenario uses.
THREAD_JOIN = 10.0


class StepTimeout(Exception):
    pass


class QueueManager(BaseManager):
    """The client half of the docs' "using a remote manager" pattern."""


QueueManager.register("get_queue")
QueueManager.register("get_dict")


class Background:
    """A function running in its own client thread (so on its own serving
    connection, as CPython gives every thread its own)."""

    def __init__(self, norm, fn, args):
        self._norm = norm
        self._outcome = None
        self._value = None
        self._thread = threading.Thread(target=self._run, args=(fn, args), daemon=True)
        self._thread.start()

    def _run(self, fn, args):
        try:
            self._value = fn(*args)
            self._outcome = "= " + self._norm.value(self._value)
        except BaseException as e:  # the outcome of a step includes any exception
            _forget_frames(e)
            self._outcome = "! " + self._norm.exception(e)

    def raw(self, timeout=THREAD_JOIN):
        """The function's own return value (``None`` if it failed)."""
        self._thread.join(timeout)
        return self._value

    def result(self, timeout=THREAD_JOIN):
        self._thread.join(timeout)
        if self._thread.is_alive():
            return Outcome("~ thread still blocked")
        return Outcome(self._outcome)


class Helpers:
    """Functions available to steps; each reaches the server the way a
    CPython client would (fresh authenticated connections)."""

    def __init__(self, address, authkey, norm):
        self.address = address
        self.authkey = authkey
        self.norm = norm

    def namespace(self):
        m = SyncManager(address=self.address, authkey=self.authkey)
        m.connect()
        qm = QueueManager(address=self.address, authkey=self.authkey)
        qm.connect()
        ns = {
            "m": m,
            "qm": qm,
            "address": self.address,
            "authkey": self.authkey,
            "array": array,
            "copy": copy,
            "gc": gc,
            "pickle": pickle,
            "queue": queue,
            "threading": threading,
            "time": time,
            "Token": Token,
            "Outcome": Outcome,
        }
        for name in ("nobj", "control", "raw_control", "serving", "in_thread", "bg",
                     "debug_entry", "debug_count", "wait_until", "ident", "exc_lines"):
            ns[name] = getattr(self, name)
        return ns

    def nobj(self):
        """``number_of_objects`` on a control connection."""
        return self.control("number_of_objects")

    def control(self, name, *args, **kwds):
        """One control request through CPython's own ``dispatch``."""
        conn = Client(self.address, authkey=self.authkey)
        try:
            result = dispatch(conn, None, name, args, kwds)
        finally:
            conn.close()
        self._see_created(name, result)
        return result

    def _see_created(self, name, result):
        """``create`` answers ``(ident, exposed)``: remember the id."""
        if name == "create" and isinstance(result, tuple) and len(result) == 2:
            self.norm.see_id(result[0])

    def raw_control(self, request):
        """Sends any object as a control request; the reply, canonical."""
        conn = Client(self.address, authkey=self.authkey)
        try:
            conn.send(request)
            reply = conn.recv()
        finally:
            conn.close()
        if isinstance(request, tuple) and len(request) == 4 and isinstance(reply, tuple) and len(reply) == 2:
            self._see_created(request[1], reply[1])
        return Outcome(self.norm.reply(reply))

    def serving(self, *requests):
        """Opens a serving connection (``accept_connection``) and sends each
        request as is; the canonical replies, in order."""
        conn = Client(self.address, authkey=self.authkey)
        try:
            conn.send((None, "accept_connection", ("difftest",), {}))
            first = conn.recv()
            if first != ("#RETURN", None):
                return [Outcome("accept_connection: " + self.norm.reply(first))]
            return [Outcome(self.norm.reply(self._ask(conn, r))) for r in requests]
        finally:
            conn.close()

    @staticmethod
    def _ask(conn, request):
        conn.send(request)
        return conn.recv()

    def in_thread(self, fn, *args):
        """Runs ``fn(*args)`` in a new client thread and waits for it."""
        return Background(self.norm, fn, args).result()

    def bg(self, fn, *args):
        """Starts ``fn(*args)`` in a new client thread; ``.result()`` later."""
        return Background(self.norm, fn, args)

    def ident(self, proxy):
        return proxy._token.id

    def _debug_entries(self):
        text = self.control("debug_info")
        entries = {}
        lines = text.split("\n") if text else []
        for head, body in zip(lines[0::2], lines[1::2]):
            ident, _, rest = head.strip().partition(":")
            entries[ident] = (rest.strip(), self.norm.text(body.strip()))
        return entries

    def debug_entry(self, proxy):
        """``(refcount=<n>, preview)`` of one object in ``debug_info``."""
        return self._debug_entries().get(proxy._token.id, "<absent>")

    def debug_count(self):
        """How many objects ``debug_info`` lists."""
        return len(self._debug_entries())

    def exc_lines(self, fn):
        """Calls ``fn``; for a RemoteError, the exception lines of its
        traceback text (every ``Type: message`` of a chain, in order)."""
        try:
            fn()
        except RemoteError as e:
            _forget_frames(e)
            text = e.args[0] if e.args and isinstance(e.args[0], str) else ""
            return [Outcome(self.norm.text(ln)) for ln in text.splitlines() if _is_exception_line(ln)]
        except Exception as e:
            _forget_frames(e)
            return Outcome("not a RemoteError: " + self.norm.exception(e))
        return Outcome("no exception")

    def wait_until(self, predicate, timeout=1.0):
        """Polls ``predicate`` every 50 ms; whether it became true in time."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _forget_frames(exc):
    """Clears the locals of the frames an exception's traceback holds.

    ``BaseProxy._callmethod`` keeps the received exception in a local, so a
    remote exception, its traceback and that frame form a cycle that pins
    the proxy; with the collector off, the proxy would never send its
    ``decref`` and object counts would depend on when a collection runs."""
    traceback.clear_frames(exc.__traceback__)
    for linked in (exc.__context__, exc.__cause__):
        if linked is not None and linked is not exc:
            traceback.clear_frames(linked.__traceback__)


def _is_exception_line(line):
    """A traceback line naming an exception: not indented, not a header."""
    if not line or line[0].isspace() or line.startswith("-"):
        return False
    return not line.startswith(("Traceback (", "During handling", "The above exception"))


_CURRENT = {"norm": None}
_proxy_init = BaseProxy.__init__


def _init_and_see(self, token, *args, **kwds):
    """Every proxy the client builds registers its object id with the
    current scenario's normaliser, so the id is replaced wherever it shows
    up later (a KeyError message, a token), even after the proxy is gone."""
    norm = _CURRENT["norm"]
    if norm is not None:
        norm.see_id(getattr(token, "id", None))
    _proxy_init(self, token, *args, **kwds)


BaseProxy.__init__ = _init_and_see


def _on_alarm(signum, frame):
    raise StepTimeout()


def _drop_serving_connections():
    """After a cut-off step the main thread's serving connection is out of
    step with its replies; forget it so the next call opens a new one."""
    for tls, _ in list(BaseProxy._address_to_local.values()):
        conn = getattr(tls, "connection", None)
        if conn is not None:
            try:
                conn.close()
            except OSError:
                pass
            del tls.connection


def compile_step(code):
    """(statements, final expression or None) of a step's code."""
    tree = ast.parse(code, mode="exec")
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(body=tree.body.pop().value)
    body = compile(ast.Module(body=tree.body, type_ignores=[]), "<step>", "exec")
    expr = compile(last, "<step>", "eval") if last is not None else None
    return body, expr


def run_step(code, ns, norm):
    signal.setitimer(signal.ITIMER_REAL, STEP_TIMEOUT)
    try:
        body, expr = compile_step(code)
        exec(body, ns)
        value = eval(expr, ns) if expr is not None else Outcome("<ok>")
        signal.setitimer(signal.ITIMER_REAL, 0)
        for v in list(ns.values()):
            norm.see_proxies(v)
        norm.see_proxies(value)
        return "= " + norm.value(value)
    except StepTimeout:
        _drop_serving_connections()
        return "~ timeout after %gs" % STEP_TIMEOUT
    except BaseException as e:  # the outcome of a step includes any exception
        signal.setitimer(signal.ITIMER_REAL, 0)
        if isinstance(e, KeyboardInterrupt):
            raise
        _forget_frames(e)
        for v in list(ns.values()):
            norm.see_proxies(v)
        return "! " + norm.exception(e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def emit(record):
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def run(address, authkey, names):
    # Nested proxies returned by the server are rebuilt with the process
    # authkey (docs/protocol.md 6.3), as in the docs' remote-manager examples.
    multiprocessing.current_process().authkey = authkey
    gc.disable()  # proxies are released where a step deletes them, not later
    signal.signal(signal.SIGALRM, _on_alarm)
    for name in names:
        steps = scenarios.SCENARIOS[name]
        norm = Normalizer(address)
        _CURRENT["norm"] = norm
        helpers = Helpers(address, authkey, norm)
        try:
            ns = helpers.namespace()
        except Exception as e:
            failure = "! setup: " + norm.exception(e)
            for i, code in enumerate(steps):
                emit({"scenario": name, "index": i, "code": code, "outcome": failure, "seconds": 0})
            continue
        for i, code in enumerate(steps):
            t0 = time.monotonic()
            outcome = run_step(code, ns, norm)
            emit({"scenario": name, "index": i, "code": code, "outcome": outcome,
                  "seconds": round(time.monotonic() - t0, 3)})
        ns.clear()
        gc.collect()


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--address", required=True, help="HOST:PORT of the manager")
    p.add_argument("--authkey-hex", required=True)
    p.add_argument("--scenario", action="append", default=[], help="scenario name (repeatable); default all")
    a = p.parse_args(argv)
    host, port = a.address.rsplit(":", 1)
    names = a.scenario or list(scenarios.SCENARIOS)
    run((host, int(port)), bytes.fromhex(a.authkey_hex), names)


if __name__ == "__main__":
    main()
