"""Proxies inside shared objects (docs/protocol.md 6.3) against unmodified CPython clients.

A proxy stored in a list, dict or queue comes back as a working proxy of the
same object; the inner object outlives the client's own proxy of it while a
container holds it; and when everything is dropped the counts return to the
baseline. CPython keeps such inner objects forever (issue #103136); mpcluster
frees them, which the ``mpcluster_only`` test checks.
"""

import gc

import pytest
from multiprocessing.managers import DictProxy, ListProxy, RemoteError

from _mgr import (  # noqa: F401  (fixtures are used by name)
    control,
    fork_context,
    manager,
    manager_factory,
    mpcluster_only,
    number_of_objects,
)


def test_dict_proxy_appended_to_a_list_proxy(sync_manager):
    outer = sync_manager.list()
    inner = sync_manager.dict(a=1)
    outer.append(inner)
    got = outer[0]
    assert isinstance(got, DictProxy)
    assert got._token.id == inner._token.id and got._token.typeid == "dict"
    got["b"] = 2
    assert inner._getvalue() == {"a": 1, "b": 2}
    inner["c"] = 3
    assert outer[0]["c"] == 3
    assert len(outer) == 1


def test_list_created_with_a_list_proxy_inside(sync_manager):
    outer = sync_manager.list([sync_manager.list([1]), "plain"])
    first = outer[0]
    assert isinstance(first, ListProxy)
    first.append(2)
    assert outer[0]._getvalue() == [1, 2]
    assert outer[1] == "plain"
    assert str(outer).endswith(", 'plain']")


def test_inner_object_stays_alive_after_the_client_drops_its_proxy(sync_manager):
    outer = sync_manager.list()
    inner = sync_manager.dict(kept="yes")
    outer.append(inner)
    del inner
    gc.collect()
    assert outer[0]["kept"] == "yes"
    outer[0]["more"] = 1
    assert outer[0]._getvalue() == {"kept": "yes", "more": 1}


def test_counts_return_to_baseline_after_everything_is_dropped(sync_manager, manager):
    base = number_of_objects(manager)
    outer = sync_manager.list()
    inner = sync_manager.dict(a=1)
    outer.append(inner)
    for _ in range(5):  # reading back creates and drops client proxies
        assert outer[0]["a"] == 1
    del inner
    gc.collect()
    nested = sync_manager.dict(inner=sync_manager.list([1]))
    assert nested["inner"][0] == 1
    del outer, nested
    assert number_of_objects(manager) == base


@mpcluster_only("CPython keeps nested objects forever and revives them on incref (#103136)")
def test_inner_object_is_freed_with_its_container(sync_manager, manager):
    base = number_of_objects(manager)
    outer = sync_manager.list()
    inner = sync_manager.dict(a=1)
    ident = inner._token.id
    outer.append(inner)
    del inner
    gc.collect()
    assert outer[0]["a"] == 1
    outer.pop()
    del outer
    assert number_of_objects(manager) == base
    # Gone for good: an incref of its id is an unknown id.
    with pytest.raises(RemoteError, match="KeyError"):
        control(manager, "incref", ident)
    assert number_of_objects(manager) == base


def test_proxy_values_in_dicts_and_queues(sync_manager):
    d = sync_manager.dict()
    d["x"] = sync_manager.list()
    d["x"].append(1)
    d["x"].append(2)
    assert d["x"]._getvalue() == [1, 2]
    q = sync_manager.Queue()
    q.put(sync_manager.Namespace(n=5))
    ns = q.get(timeout=5)
    assert ns.n == 5
    ns.n = 6
    assert d.get("x")._getvalue() == [1, 2]
    # The same inner object twice in one container.
    lst = sync_manager.list([1])
    both = sync_manager.list([lst, lst])
    both[0].append(2)
    assert both[1]._getvalue() == [1, 2]


def _child_reads_nested(outer, out):
    inner = outer[0]
    inner["child"] = "was here"
    out.put(inner["parent"])


def test_nested_proxy_used_from_another_process(sync_manager):
    outer = sync_manager.list([sync_manager.dict(parent="hello")])
    out = sync_manager.Queue()
    child = fork_context().Process(target=_child_reads_nested, args=(outer, out))
    child.start()
    try:
        assert out.get(timeout=10) == "hello"
    finally:
        child.join(10)
    assert child.exitcode == 0
    assert outer[0]._getvalue() == {"parent": "hello", "child": "was here"}
