"""Clients of every supported CPython generation against one server.

CPython 3.8 and 3.11 authenticate with the legacy HMAC-MD5 answer, 3.12 and
3.13 with the ``{sha256}`` mutual handshake (docs/protocol.md 4). Each runs the same
script of list, dict, queue, lock, namespace and nested-proxy operations, the
``get_queue`` pattern, and a wrong-key attempt, and prints its results; the
test compares them with what CPython answers.
"""

import ast
import queue

import pytest
from multiprocessing.managers import BaseManager

from _mgr import start
from conftest import find_python, run_client

CONFIG = """
[objects]
get_queue = { kind = "Queue" }
"""

CLIENT = r"""
import queue, threading
from multiprocessing import AuthenticationError
from multiprocessing.managers import BaseManager, RemoteError, SyncManager

out = {"version": list(sys.version_info[:2])}
m = SyncManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()

l = m.list([3, 1, 2])
l.append(0)
l += [10]
l.sort(reverse=True)
out["list"] = list(l)
out["slice"] = l[1:3]
try:
    l[99]
except IndexError as e:
    out["index_error"] = str(e)

d = m.dict({1: "int"})
d[1.0] = "float"
d.update(x=2)
out["dict"] = d.items()
out["dict_iter"] = [k for k in d]
try:
    d["missing"]
except KeyError as e:
    out["key_error"] = repr(e)

q = m.Queue(1)
q.put("item")
try:
    q.put("over", timeout=0.1)
except queue.Full:
    out["full"] = True
out["get"] = q.get(timeout=1)
try:
    q.get(timeout=0.1)
except queue.Empty as e:
    out["empty"] = type(e).__module__ + "." + type(e).__name__

lock = m.RLock()
lock.acquire()
res = {}
t = threading.Thread(target=lambda: res.setdefault("other", lock.acquire(False)))
t.start(); t.join()
out["rlock"] = [lock.acquire(False), res["other"]]
lock.release(); lock.release()

ns = m.Namespace(a=1)
ns.b = [2]
out["namespace"] = str(ns)

outer = m.list([m.dict(inner=1)])
out["nested"] = outer[0]["inner"]

class QueueManager(BaseManager):
    pass
QueueManager.register("get_queue")
qm = QueueManager(address=ADDRESS, authkey=AUTHKEY)
qm.connect()
qm.get_queue().put("hello from %d.%d" % sys.version_info[:2])

try:
    SyncManager(address=ADDRESS, authkey=b"wrong key").connect()
except AuthenticationError as e:
    out["wrong_key"] = str(e)

print(repr(out))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    m = start(tmp_path_factory.mktemp("cross"), config=CONFIG)
    yield m
    m.stop()


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue")


def test_client_of_each_version(client_python, server):
    out = ast.literal_eval(run_client(client_python, CLIENT, server).strip().splitlines()[-1])
    major, minor = out["version"]
    assert out["list"] == [10, 3, 2, 1, 0]
    assert out["slice"] == [3, 2]
    assert out["index_error"] == "list index out of range"
    assert out["dict"] == [(1, "float"), ("x", 2)]
    assert out["dict_iter"] == [1, "x"]
    assert out["key_error"] == "KeyError('missing')"
    assert out["full"] is True and out["get"] == "item"
    assert out["empty"] == "_queue.Empty"
    assert out["rlock"] == [True, False]
    assert out["namespace"] == "Namespace(a=1, b=[2])"
    assert out["nested"] == 1
    assert out["wrong_key"] == "digest sent was rejected"
    qm = QueueManager(address=server.address, authkey=server.authkey)
    qm.connect()
    assert qm.get_queue().get(timeout=5) == f"hello from {major}.{minor}"
    with pytest.raises(queue.Empty):
        qm.get_queue().get(timeout=0.05)


def test_wrong_key_does_not_disturb_the_server(client_python, server):
    code = (
        "from multiprocessing.connection import Client\n"
        "from multiprocessing import AuthenticationError\n"
        "for key in (b'', b'x', b'wrong' * 20):\n"
        "    try:\n"
        "        Client(ADDRESS, authkey=key)\n"
        "    except AuthenticationError as e:\n"
        "        print('refused:', e)\n"
        "    except (EOFError, ConnectionError) as e:\n"
        "        print('closed:', type(e).__name__)\n"
    )
    lines = run_client(client_python, code, server).strip().splitlines()
    assert lines == ["refused: digest sent was rejected"] * 3
    qm = QueueManager(address=server.address, authkey=server.authkey)
    qm.connect()
    qm.get_queue().put(1)
    assert qm.get_queue().get(timeout=5) == 1


SHUTDOWN_CLIENT = r"""
import queue, threading
from multiprocessing.managers import SyncManager

m = SyncManager(address=ADDRESS, authkey=AUTHKEY)
m.connect()
out = {}

def outcome(fn):
    try:
        return ("returned", fn())
    except Exception as e:
        return ("raised", type(e).__module__ + "." + type(e).__name__)

q = m.Queue()
out["exposed"] = "shutdown" in q._exposed_
q.put(1)
q.shutdown()
out["put_after"] = outcome(lambda: q.put(2))
out["get_left"] = outcome(q.get)
out["get_empty"] = outcome(q.get)
out["get_nowait"] = outcome(lambda: q.get(False))

now = m.Queue()
now.put(1)
now.shutdown(immediate=True)
out["immediate"] = [outcome(now.get), now.qsize()]

blocked = m.Queue()
box = {}
t = threading.Thread(target=lambda: box.setdefault("r", outcome(lambda: blocked.get(timeout=10))))
t.start()
import time
time.sleep(0.3)  # let the getter block on the server before the shutdown
blocked.shutdown()
t.join(10)
out["woken"] = box.get("r")

jq = m.JoinableQueue()
jq.put(1)
jq.put(2)
jq.shutdown(immediate=True)
out["join"] = outcome(jq.join)
out["task_done"] = outcome(jq.task_done)
print(repr(out))
"""


def test_queue_shutdown_for_3_13_clients(tmp_path):
    python = find_python("3.13")
    if python is None:
        pytest.skip("CPython 3.13 is not installed (looked in pyenv versions)")
    # Queue.shutdown exists from 3.13 on; CPython 3.13's server exposes it.
    server = start(tmp_path, reference_python=python)
    try:
        out = ast.literal_eval(run_client(python, SHUTDOWN_CLIENT, server).strip().splitlines()[-1])
    finally:
        server.stop()
    shut = ("raised", "queue.ShutDown")
    assert out["exposed"] is True
    assert out["put_after"] == shut
    assert out["get_left"] == ("returned", 1)
    assert out["get_empty"] == shut and out["get_nowait"] == shut
    assert out["immediate"] == [shut, 0]
    assert out["woken"] == shut
    assert out["join"] == ("returned", None)
    assert out["task_done"] == ("raised", "builtins.ValueError")
