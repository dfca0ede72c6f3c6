"""Canonical text forms of step outcomes, so that two servers' answers can be
compared as strings.

A step's outcome is either a value (``= <canonical form>``), an exception
(``! module.qualname: message``) or a timeout (``~ timeout``). What is taken
out, because it legitimately differs between servers or runs:

* object ids: every id the client has seen in a token or a ``create``
  reply is replaced by ``<id>`` (only where it is quoted, ``'7f...'``, so a
  short id can never eat an unrelated number). Ids are not numbered: CPython
  reuses the id of a freed object and we never do (docs/protocol.md 6.4), so any
  numbering would drift between the servers;
* the server's address (``('127.0.0.1', 4242)`` and ``127.0.0.1:4242``);
* memory addresses (``0x7f...``) in reprs;
* the order of ``exposed={...}`` sets in CPython's "not in exposed" message
  (a Python set's order is arbitrary, docs/protocol.md 5.3/5.5), and of sets in values.

This module runs inside the client process (any CPython 3.8+): no newer syntax.
"""

import re
import threading
from multiprocessing.managers import BaseProxy, RemoteError

HEX_ADDR = re.compile(r"0x[0-9a-fA-F]+")


class Outcome(str):
    """An already canonical outcome (from a helper such as ``in_thread`` or
    ``serving``), shown as is inside a step's value."""

    def __repr__(self):
        return str(self)
EXPOSED_SET = re.compile(r"exposed=\{([^{}]*)\}")


class Normalizer:
    """Turns values and exceptions into comparable text for one server."""

    def __init__(self, address):
        self.host, self.port = address[0], address[1]
        self._ids = {}
        self._lock = threading.Lock()

    # ---- ids -------------------------------------------------------------

    def see_id(self, ident):
        """Registers an object id (from a token) for replacement."""
        if not isinstance(ident, str) or not ident:
            return
        with self._lock:
            self._ids[ident] = "<id>"

    def see_proxies(self, value, depth=0):
        """Registers the ids of the proxies in ``value`` (shallowly nested)."""
        if depth > 3:
            return
        if isinstance(value, BaseProxy):
            self.see_id(value._token.id)
        elif isinstance(value, (list, tuple, set, frozenset)):
            for v in value:
                self.see_proxies(v, depth + 1)
        elif isinstance(value, dict):
            for v in value.values():
                self.see_proxies(v, depth + 1)

    def id_label(self, ident):
        self.see_id(ident)
        return self._ids.get(ident, repr(ident))

    # ---- text ------------------------------------------------------------

    def text(self, s):
        """Removes ids, addresses, memory addresses and set order from text."""
        s = HEX_ADDR.sub("0x?", s)
        for quote in ("'", '"'):
            s = s.replace("(%s%s%s, %d)" % (quote, self.host, quote, self.port), "ADDR")
        s = s.replace("%s:%d" % (self.host, self.port), "ADDR")
        with self._lock:
            ids = sorted(self._ids.items(), key=lambda kv: -len(kv[0]))
        for ident, label in ids:
            s = s.replace("'%s'" % ident, label)
        return EXPOSED_SET.sub(_sort_exposed, s)

    # ---- values ----------------------------------------------------------

    def value(self, v, depth=0):
        """The canonical form of a value: ``repr``-like, with sets sorted,
        proxies by typeid, and tokens by typeid and id label."""
        if depth > 20:
            return "..."
        d = depth + 1
        if isinstance(v, Outcome):
            return str(v)
        if isinstance(v, BaseProxy):
            self.see_id(v._token.id)
            return "<%s %s %s>" % (type(v).__name__, v._token.typeid, self.id_label(v._token.id))
        if isinstance(v, BaseException):
            return self.exception(v)
        t = type(v)
        if t is list:
            return "[" + ", ".join(self.value(x, d) for x in v) + "]"
        if t is tuple:
            inner = ", ".join(self.value(x, d) for x in v)
            return "(" + inner + ("," if len(v) == 1 else "") + ")"
        if t is dict:
            return "{" + ", ".join("%s: %s" % (self.value(k, d), self.value(x, d)) for k, x in v.items()) + "}"
        if t in (set, frozenset):
            return "%s({%s})" % (t.__name__, ", ".join(sorted(self.value(x, d) for x in v)))
        if type(v).__name__ == "Token" and hasattr(v, "typeid"):
            return "Token(%r, %s, %s)" % (v.typeid, self.text(repr(v.address)), self.id_label(v.id))
        return self.text(repr(v))

    def exception(self, e):
        """``module.qualname: message``; a RemoteError is shown by the last
        line of the traceback text it carries (its exception line)."""
        t = type(e)
        name = "%s.%s" % (t.__module__, t.__qualname__)
        if isinstance(e, RemoteError):
            text = e.args[0] if e.args and isinstance(e.args[0], str) else str(e)
            return "%s: %s" % (name, self.text(last_line(text)))
        return "%s: %s" % (name, self.text(str(e)))

    def reply(self, msg):
        """A raw manager reply ``(kind, payload)`` in canonical form:
        tracebacks by their last line, exceptions by type and message."""
        if not (isinstance(msg, tuple) and len(msg) == 2 and isinstance(msg[0], str)):
            return "<not a reply> " + self.value(msg)
        kind, payload = msg
        if kind in ("#TRACEBACK", "#UNSERIALIZABLE") and isinstance(payload, str):
            return "%s %s" % (kind, self.text(last_line(payload)))
        if kind == "#ERROR" and isinstance(payload, BaseException):
            return "#ERROR " + self.exception(payload)
        if kind == "#PROXY" and isinstance(payload, tuple) and len(payload) == 2:
            exposed, token = payload
            return "#PROXY %s %s" % (self.value(tuple(sorted(exposed))), self.value(token))
        return "%s %s" % (kind, self.value(payload))


def last_line(text):
    """The last non-blank line of a traceback text (its ``Type: message``)."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else ""


def _sort_exposed(match):
    items = [x.strip() for x in match.group(1).split(",") if x.strip()]
    return "exposed={" + ", ".join(sorted(items)) + "}"
