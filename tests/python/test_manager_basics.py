"""Manager server basics against unmodified CPython clients (docs/protocol.md 5, 6).

Connecting, authkey refusal, control functions (``number_of_objects``,
``debug_info``, ``incref``/``decref``, ``shutdown``, unknown names),
reference counts as CPython keeps them, unique ids, the exposure check and
the ``__repr__``/``#GETVALUE`` fallbacks. Expectations are what CPython's own
server answers (run with ``MPCLUSTER_REFERENCE=cpython`` to check).
"""

import copy
import gc
import multiprocessing
import pickle
import socket

import pytest
from multiprocessing.connection import Client
from multiprocessing.managers import BaseManager, ListProxy, RemoteError, SyncManager, Token

from _mgr import (  # noqa: F401  (fixtures are used by name)
    REFERENCE,
    connect,
    control,
    manager,
    manager_factory,
    mpcluster_only,
    number_of_objects,
    raw_control,
    refcount_of,
    wait_until,
)


def test_connect_sends_dummy_and_succeeds(manager):
    m = SyncManager(address=manager.address, authkey=manager.authkey)
    m.connect()
    # `connect()` is a `dummy` control request; answering it directly too.
    assert control(manager, "dummy") is None
    assert raw_control(manager, (None, "dummy", (), {})) == ("#RETURN", None)


def test_wrong_authkey_is_refused_and_server_keeps_serving(manager):
    bad = SyncManager(address=manager.address, authkey=b"not-the-key")
    with pytest.raises(multiprocessing.AuthenticationError, match="digest sent was rejected"):
        bad.connect()
    with pytest.raises(multiprocessing.AuthenticationError):
        Client(manager.address, authkey=b"not-the-key")
    m = connect(manager)
    l = m.list([1, 2])
    l.append(3)
    assert l._getvalue() == [1, 2, 3]


def test_unknown_typeid_is_a_remote_key_error(manager):
    class Custom(BaseManager):
        pass

    Custom.register("no_such_typeid")
    m = Custom(address=manager.address, authkey=manager.authkey)
    m.connect()
    with pytest.raises(RemoteError) as info:
        m.no_such_typeid()
    assert "KeyError" in str(info.value)
    assert "no_such_typeid" in str(info.value)


def test_number_of_objects_and_debug_info_follow_proxies(manager):
    m = connect(manager)
    base = number_of_objects(manager)
    l = m.list(["hello", 2])
    d = m.dict(k=1)
    assert number_of_objects(manager) == base + 2
    info = control(manager, "debug_info")
    assert isinstance(info, str)
    assert refcount_of(manager, l._token.id) == 1
    assert refcount_of(manager, d._token.id) == 1
    # Each entry shows str(obj) on the line after the id (docs/protocol.md 5.3).
    lines = info.splitlines()
    at = [i for i, line in enumerate(lines) if line.strip().startswith(l._token.id + ":")]
    assert len(at) == 1 and lines[at[0] + 1].strip() == "['hello', 2]"
    del l
    gc.collect()
    assert number_of_objects(manager) == base + 1
    del d
    assert number_of_objects(manager) == base


def test_a_second_proxy_of_the_same_object_holds_its_own_reference(manager):
    m = connect(manager)
    base = number_of_objects(manager)
    l = m.list([1])
    # Unpickling a proxy in a client process increfs (docs/protocol.md 5.6).
    twin = pickle.loads(pickle.dumps(l))
    assert twin._token.id == l._token.id
    assert refcount_of(manager, l._token.id) == 2
    twin.append(2)
    assert l._getvalue() == [1, 2]
    del l
    gc.collect()
    assert refcount_of(manager, twin._token.id) == 1
    assert twin._getvalue() == [1, 2]
    ident = twin._token.id
    del twin
    gc.collect()
    assert refcount_of(manager, ident) is None
    assert number_of_objects(manager) == base


def test_raw_incref_decref_and_their_errors(manager):
    m = connect(manager)
    l = m.list()
    ident = l._token.id
    assert control(manager, "incref", ident) is None
    assert refcount_of(manager, ident) == 2
    assert control(manager, "decref", ident) is None
    assert refcount_of(manager, ident) == 1
    for name in ("incref", "decref"):
        with pytest.raises(RemoteError) as info:
            control(manager, name, "no-such-id")
        assert "KeyError" in str(info.value)
    del l
    gc.collect()
    # A decref after disposal is a KeyError too (captured in CPython).
    with pytest.raises(RemoteError, match="KeyError"):
        control(manager, "decref", ident)


@mpcluster_only("CPython reuses ids (memory addresses) after disposal")
def test_object_ids_are_never_reused(manager):
    m = connect(manager)
    seen = []
    for i in range(30):
        p = m.list([i]) if i % 2 else m.dict(i=i)
        seen.append(p._token.id)
        del p
        gc.collect()
    assert len(set(seen)) == len(seen), seen
    assert all(isinstance(i, str) and i and i != "0" for i in seen)


def test_unknown_control_function_is_an_assertion_error(manager):
    with pytest.raises(RemoteError) as info:
        control(manager, "xyz")
    assert "AssertionError" in str(info.value)
    assert "'xyz' unrecognized" in str(info.value)


def test_control_function_with_wrong_arguments_is_a_type_error(manager):
    with pytest.raises(RemoteError, match="TypeError"):
        control(manager, "dummy", 1)
    with pytest.raises(RemoteError, match="TypeError"):
        control(manager, "incref")


@mpcluster_only("CPython always obeys a remote shutdown")
def test_shutdown_is_refused_by_default_and_server_keeps_serving(manager):
    m = connect(manager)
    l = m.list(["kept"])
    with pytest.raises(RemoteError) as info:
        control(manager, "shutdown")
    assert "PermissionError" in str(info.value)
    assert manager.alive()
    assert l._getvalue() == ["kept"]
    assert connect(manager).list([1])._getvalue() == [1]


def test_shutdown_with_allow_remote_shutdown_stops_the_process(manager_factory):
    server = manager_factory("--allow-remote-shutdown")
    m = connect(server)
    assert m.list([1])._getvalue() == [1]
    assert control(server, "shutdown") is None
    assert wait_until(lambda: not server.alive(), timeout=10), "server still running"
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=2).close()


def test_method_not_exposed_is_a_remote_attribute_error(manager):
    m = connect(manager)
    l = m.list([1])
    with pytest.raises(RemoteError) as info:
        l._callmethod("no_such_method")
    assert "AttributeError" in str(info.value)
    # `__class__` is a real attribute of a list, but not exposed either.
    with pytest.raises(RemoteError, match="AttributeError"):
        l._callmethod("__class__")
    # The connection is still in sync afterwards.
    assert len(l) == 1


def test_unknown_ident_on_a_serving_connection_is_a_remote_key_error(manager):
    m = connect(manager)
    ghost = ListProxy(Token("list", manager.address, "no-such-id"), "pickle", manager=m, incref=False)
    with pytest.raises(RemoteError, match="KeyError"):
        len(ghost)
    assert m.list([5])._getvalue() == [5]


def test_str_uses_the_repr_fallback_and_getvalue_returns_a_copy(manager):
    m = connect(manager)
    l = m.list([1, "a", (2.5, None)])
    assert str(l) == "[1, 'a', (2.5, None)]"
    assert repr(l).startswith("<ListProxy object, typeid 'list' at ")
    value = l._getvalue()
    assert value == [1, "a", (2.5, None)] and type(value) is list
    value.append("local only")
    assert len(l) == 3
    assert copy.deepcopy(l) == [1, "a", (2.5, None)]
    d = m.dict({"b": [1]})
    assert str(d) == "{'b': [1]}"
    assert d._getvalue() == {"b": [1]}
    q = m.Queue()
    # CPython adds " at 0x..." (a meaningless address); docs/protocol.md 15 allows without.
    assert str(q).startswith("<queue.Queue object")


def test_create_with_bad_constructor_arguments_is_a_remote_error(manager):
    m = connect(manager)
    base = number_of_objects(manager)
    with pytest.raises(RemoteError, match="TypeError"):
        m.list(1, 2, 3)
    with pytest.raises(RemoteError, match="TypeError"):
        m.dict(1)
    assert number_of_objects(manager) == base


def test_file_names_that_are_not_utf8_are_shared(sync_manager):
    """``os.listdir()`` decodes a file name that is not UTF-8 with
    ``surrogateescape`` (``b'caf\\xe9.txt'`` -> ``'caf\\udce9.txt'``); pickle
    writes the lone surrogate with ``surrogatepass``. Such names go into
    dicts, lists, queues and namespaces and come back as they were, sort and
    print as in CPython, and a key with a surrogate is not a key without."""
    raw = [b"caf\xe9.txt", b"plain.txt", b"\xff", b"\xed\xa0\x80"]
    names = [b.decode("utf-8", "surrogateescape") for b in raw]
    assert any("\udc80" <= c <= "\udcff" for c in names[0])

    d = sync_manager.dict()
    l = sync_manager.list()
    q = sync_manager.Queue()
    for name, b in zip(names, raw):
        d[name] = b
        l.append(name)
        q.put(name)
    assert d[names[0]] == b"caf\xe9.txt"
    assert sorted(d.keys()) == sorted(names)
    assert "caf\ufffd.txt" not in d and names[0] in d
    assert [q.get() for _ in names] == names
    assert l.index(names[2]) == 2 and l.count(names[3]) == 1
    l.sort()
    assert l[:] == sorted(names)
    assert str(l) == repr(sorted(names))
    l.sort(key=str.upper, reverse=True)
    assert l[:] == sorted(names, key=str.upper, reverse=True)
    l.extend(names[0])  # a str is iterated by code point
    assert l[-4:] == list(names[0])[-4:]

    ns = sync_manager.Namespace()
    ns.path = names[0]
    assert ns.path == names[0]


def test_shared_memory_manager_gets_cpythons_error_and_a_way_out(manager):
    """SharedMemoryManager's ``track_segment`` asks the server to unlink a
    segment of the client's host at shutdown, which a server elsewhere
    cannot do: CPython's answer to an unknown function, plus what to do."""
    from multiprocessing.managers import SharedMemoryManager

    smm = SharedMemoryManager(address=manager.address, authkey=manager.authkey)
    smm.connect()
    with pytest.raises(RemoteError) as info:
        smm.ShareableList([1, 2, 3])
    text = str(info.value)
    assert "AssertionError: 'track_segment' unrecognized" in text
    if not REFERENCE:
        assert "multiprocessing.shared_memory" in text
