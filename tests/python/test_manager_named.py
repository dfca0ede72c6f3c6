"""Named shared objects and the documentation's "using a remote manager"
pattern (docs/protocol.md 10) against unmodified CPython clients.

Named typeids come from the server's TOML config; clients register them
without a callable (``QueueManager.register('get_queue')``). Every call
returns the same long-lived object, shared between clients and processes,
and a ``SyncManager`` client uses the same server at the same time.
"""

import gc
import queue

import pytest
from multiprocessing.managers import BaseManager, DictProxy, RemoteError

from _mgr import connect, manager, manager_factory, run_python  # noqa: F401

CONFIG = """
[objects]
get_queue = { kind = "Queue" }
get_dict = { kind = "dict" }
get_small_queue = { kind = "Queue", args = [1] }
get_replies = { kind = "Queue" }
"""


class QueueManager(BaseManager):
    pass


QueueManager.register("get_queue")
QueueManager.register("get_small_queue")
QueueManager.register("get_dict")
QueueManager.register("get_replies")


class DictManager(BaseManager):
    pass


DictManager.register("get_dict", proxytype=DictProxy)


@pytest.fixture
def named(manager_factory):
    return manager_factory(config=CONFIG)


def client(server, cls=QueueManager):
    m = cls(address=server.address, authkey=server.authkey)
    m.connect()
    return m


def test_two_clients_share_the_named_queue(named):
    producer, consumer = client(named), client(named)
    q_in, q_out = producer.get_queue(), consumer.get_queue()
    q_in.put("hello")
    q_in.put({"job": 1})
    assert q_out.get(timeout=5) == "hello"
    assert q_out.get(timeout=5) == {"job": 1}
    with pytest.raises(queue.Empty):
        q_out.get(timeout=0.1)


def test_every_call_returns_the_same_object_which_outlives_its_proxies(named):
    m = client(named)
    proxies = [m.get_queue() for _ in range(3)]
    assert len({p._token.id for p in proxies}) == 1
    proxies[0].put("survives")
    ident = proxies[0]._token.id
    del proxies
    gc.collect()
    # Every proxy is gone; the named object (and its item) is not.
    again = client(named).get_queue()
    assert again._token.id == ident
    assert again.get(timeout=5) == "survives"


def test_named_queue_has_queue_methods_and_constructor_args(named):
    m = client(named)
    q = m.get_queue()
    assert {"put", "get", "qsize", "empty", "full", "task_done", "join"} <= set(q._exposed_)
    small = m.get_small_queue()
    small.put(1)
    with pytest.raises(queue.Full):
        small.put(2, False)
    assert small.full() and small.get() == 1


def test_named_dict_with_auto_and_typed_proxies(named):
    auto = client(named).get_dict()
    auto["k"] = "v"
    typed = client(named, DictManager).get_dict()
    assert isinstance(typed, DictProxy)
    assert typed["k"] == "v"
    typed.update(n=1)
    assert auto.get("n") == 1
    assert sorted(typed.keys()) == ["k", "n"]


def test_sync_manager_client_works_on_the_same_server(named):
    sm = connect(named)
    q = client(named).get_queue()
    l = sm.list([1, 2])
    shared = sm.Queue()
    # A SyncManager proxy travels through the named queue.
    q.put(l)
    got = client(named).get_queue().get(timeout=5)
    got.append(3)
    assert l._getvalue() == [1, 2, 3]
    shared.put("x")
    assert shared.get(timeout=5) == "x"


def test_unknown_named_typeid_is_a_remote_key_error(named):
    class Other(BaseManager):
        pass

    Other.register("get_nothing")
    m = client(named, Other)
    with pytest.raises(RemoteError, match="KeyError"):
        m.get_nothing()


def test_named_queue_shared_with_another_process(named):
    code = (
        "from multiprocessing.managers import BaseManager\n"
        "class QueueManager(BaseManager): pass\n"
        "QueueManager.register('get_queue')\n"
        "QueueManager.register('get_replies')\n"
        "m = QueueManager(address=ADDRESS, authkey=AUTHKEY)\n"
        "m.connect()\n"
        "m.get_queue().put('from the other process')\n"
        "print(m.get_replies().get(timeout=10))\n"
    )
    proc = run_python(named, code)
    m = client(named)
    assert m.get_queue().get(timeout=10) == "from the other process"
    m.get_replies().put("reply")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert out.strip() == "reply"
