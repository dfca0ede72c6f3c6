"""``manager.dict()`` (DictProxy) against unmodified CPython clients (docs/protocol.md 9.2).

Python key equality (``1 == 1.0 == True`` are one key, the first key object
is kept), every exposed method, ``keys``/``values``/``items`` as lists,
iteration through a server-side ``Iterator`` object with its own refcount,
and CPython's exact exceptions, including the ``RuntimeError`` for a dict
changed during iteration.
"""

import gc

import pytest
from multiprocessing.managers import BaseProxy

from _mgr import (  # noqa: F401  (fixtures are used by name)
    fork_context,
    manager,
    manager_factory,
    mpcluster_only,
    number_of_objects,
    wait_until,
)


def raises(exc_type, message, fn, *args, **kwds):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwds)
    assert type(info.value) is exc_type
    assert str(info.value) == message
    return info.value


def test_get_set_delete_len_contains(sync_manager):
    d = sync_manager.dict()
    d["a"] = 1
    d[("t", 1)] = [1, 2]
    d[None] = "none"
    assert d["a"] == 1 and d[("t", 1)] == [1, 2] and d[None] == "none"
    assert len(d) == 3 and "a" in d and "b" not in d and None in d
    del d["a"]
    assert "a" not in d and len(d) == 2
    err = raises(KeyError, "'missing'", lambda: d["missing"])
    assert err.args == ("missing",)
    raises(KeyError, "'a'", d.__delitem__, "a")
    raises(KeyError, "(1, 2)", lambda: d[(1, 2)])


def test_equal_numbers_are_one_key_and_the_first_key_is_kept(sync_manager):
    d = sync_manager.dict()
    d[1] = "int"
    assert d[1.0] == "int" and d[True] == "int" and d[1 + 0j] == "int"
    d[True] = "bool"
    d[1.0] = "float"
    assert len(d) == 1
    assert d.keys() == [1] and type(d.keys()[0]) is int
    assert d[1] == "float"
    # Distinct values that share a hash stay distinct (hash(-1) == hash(-2)).
    d[-1] = "minus one"
    d[-2] = "minus two"
    assert d[-1] == "minus one" and d[-2] == "minus two"
    d["1"] = "str"
    d[b"1"] = "bytes"
    d[frozenset({1, 2})] = "fs"
    assert d[frozenset({2.0, True})] == "fs"
    assert (1, "x") not in d
    d[(1, "x")] = "tuple"
    assert d[(True, "x")] == "tuple" and d[(1.0, "x")] == "tuple"
    assert len(d) == 7
    d[0] = "zero"
    assert d[False] == "zero" and d[0.0] == "zero" and d[-0.0] == "zero"


def test_unhashable_key_is_a_type_error(sync_manager):
    d = sync_manager.dict()
    raises(TypeError, "unhashable type: 'list'", d.__setitem__, [1], 2)
    raises(TypeError, "unhashable type: 'dict'", lambda: d[{}])
    raises(TypeError, "unhashable type: 'set'", d.get, {1})
    assert len(d) == 0


def test_get_pop_popitem_setdefault_clear_copy(sync_manager):
    d = sync_manager.dict(a=1, b=2, c=3)
    assert d.get("a") == 1 and d.get("zz") is None and d.get("zz", 7) == 7
    assert d.pop("a") == 1 and d.pop("a", "dflt") == "dflt"
    raises(KeyError, "'a'", d.pop, "a")
    d["z"] = 26
    # popitem removes the most recently inserted item (LIFO).
    assert d.popitem() == ("z", 26)
    assert d.popitem() == ("c", 3)
    assert d.setdefault("b", 99) == 2
    assert d.setdefault("new") is None
    assert d.setdefault("x", [1]) == [1]
    assert d._getvalue() == {"b": 2, "new": None, "x": [1]}
    copy = d.copy()
    assert copy == {"b": 2, "new": None, "x": [1]} and type(copy) is dict
    d.clear()
    assert len(d) == 0 and d._getvalue() == {}
    raises(KeyError, "'popitem(): dictionary is empty'", d.popitem)
    raises(TypeError, "get expected at least 1 argument, got 0", d.get)
    raises(TypeError, "pop expected at least 1 argument, got 0", d.pop)


def test_update_forms(sync_manager):
    d = sync_manager.dict()
    d.update({"a": 1})
    d.update([("b", 2), ("c", 3)])
    d.update(x=10, y=20)
    d.update({"a": 100}, z=26)
    assert d._getvalue() == {"a": 100, "b": 2, "c": 3, "x": 10, "y": 20, "z": 26}
    assert d.keys() == ["a", "b", "c", "x", "y", "z"]
    with pytest.raises(TypeError):
        d.update(5)
    raises(
        ValueError,
        "dictionary update sequence element #0 has length 3; 2 is required",
        d.update,
        [(1, 2, 3)],
    )
    raises(TypeError, "update expected at most 1 argument, got 2", d.update, {}, {})


def test_keys_values_items_are_lists_in_insertion_order(sync_manager):
    d = sync_manager.dict()
    for k in ("b", "a", "c"):
        d[k] = k.upper()
    assert d.keys() == ["b", "a", "c"] and type(d.keys()) is list
    assert d.values() == ["B", "A", "C"] and type(d.values()) is list
    assert d.items() == [("b", "B"), ("a", "A"), ("c", "C")] and type(d.items()) is list
    del d["b"]
    d["b"] = "again"
    assert d.keys() == ["a", "c", "b"]
    assert str(d) == "{'a': 'A', 'c': 'C', 'b': 'again'}"


def test_iteration_goes_through_an_iterator_proxy(sync_manager, manager):
    d = sync_manager.dict({"x": 1, "y": 2, "z": 3})
    base = number_of_objects(manager)
    it = iter(d)
    assert isinstance(it, BaseProxy) and it._token.typeid == "Iterator"
    assert it._token.id != d._token.id
    assert number_of_objects(manager) == base + 1
    assert next(it) == "x"
    assert list(it) == ["y", "z"]
    with pytest.raises(StopIteration):
        next(it)
    del it
    gc.collect()
    assert number_of_objects(manager) == base
    assert [k for k in d] == ["x", "y", "z"]
    assert sorted(d) == ["x", "y", "z"]
    assert list(sync_manager.dict()) == []
    gc.collect()
    assert number_of_objects(manager) == base


def test_changing_size_during_iteration_is_a_runtime_error(sync_manager):
    d = sync_manager.dict({"a": 1, "b": 2})
    it = iter(d)
    assert next(it) == "a"
    d["c"] = 3
    raises(RuntimeError, "dictionary changed size during iteration", next, it)
    it2 = iter(d)
    next(it2)
    del d["a"]
    raises(RuntimeError, "dictionary changed size during iteration", next, it2)
    # Changing a value (not the size) is allowed.
    it3 = iter(d)
    d["b"] = "changed"
    assert list(it3) == ["b", "c"]


def test_swapping_a_yielded_key_during_iteration_changes_the_keys(sync_manager):
    # Same size, so no size error: a deleted key leaves a hole in CPython's
    # entry table, the iterator goes on past it, and the added key is one
    # too many. An unyielded key swapped for another is just iterated.
    d = sync_manager.dict({"a": 1, "b": 2, "c": 3})
    it = iter(d)
    assert next(it) == "a"
    del d["a"]
    d["x"] = 4
    assert [next(it), next(it)] == ["b", "c"]
    raises(RuntimeError, "dictionary keys changed during iteration", next, it)
    with pytest.raises(StopIteration):
        next(it)
    it = iter(d)
    assert next(it) == "b"
    del d["c"]
    d["y"] = 5
    assert list(it) == ["x", "y"]


def test_values_of_every_builtin_type(sync_manager):
    d = sync_manager.dict()
    values = {
        "none": None, "big": -(2**90), "float": 2.5, "complex": 1j, "bytes": b"\x00",
        "ba": bytearray(b"x"), "tuple": (1, (2,)), "list": [{"a": [1]}], "set": {1, "a"},
        "fs": frozenset(), "dict": {(1, 2): {3: 4}},
    }
    d.update(values)
    got = d._getvalue()
    assert got == values
    assert {k: type(v) for k, v in got.items()} == {k: type(v) for k, v in values.items()}


def _iterate_without_a_manager(d, out):
    # A forked child's proxy has no manager: the #PROXY reply of __iter__
    # makes the CPython client fail (gh-99595) after the server created the
    # iterator, and the client never increfs or decrefs it.
    try:
        out.put(("iterated", list(iter(d))))
    except AttributeError as e:
        out.put(("AttributeError", str(e)))


@mpcluster_only("CPython keeps the iterator of gh-99595 counted forever")
def test_iterator_of_a_managerless_proxy_is_freed_with_its_connection(sync_manager, manager):
    d = sync_manager.dict(a=1)
    out = sync_manager.Queue()
    base = number_of_objects(manager)
    child = fork_context().Process(target=_iterate_without_a_manager, args=(d, out))
    child.start()
    kind, detail = out.get(timeout=10)
    child.join(10)
    assert child.exitcode == 0
    assert kind == "AttributeError" and "_registry" in detail
    # The child's serving connection is closed: its iterator must be gone.
    assert wait_until(lambda: number_of_objects(manager) == base, timeout=5), number_of_objects(manager)
