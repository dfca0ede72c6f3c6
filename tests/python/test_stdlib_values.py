"""Standard-library values in shared containers, as CPython's server
treats them (docs/protocol.md; the issue on standard-library values).

What is covered so far: values that reach the server as calls of the
built-in constructors. ``multiprocessing`` pickles a dict view
(``d.keys()``, ``d.items()``, ``d.values()``) as ``list(...)`` of its items
(its ``rebuild_as_list`` reducer), and other reducers write ``tuple(...)``,
``set(...)``, ``frozenset(...)`` or ``dict(...)``: the server builds the
value the call builds, so such arguments are iterable, hashable and
comparable as in CPython. Each test runs against CPython's own server too
(``MPCLUSTER_REFERENCE=cpython``).
"""

from _mgr import manager, manager_factory  # noqa: F401  (fixtures are used by name)


def test_dict_views_are_lists_of_their_items(sync_manager):
    src = {"x": 1, "y": 2}
    d = sync_manager.dict()
    d.update(src.items())
    assert d.copy() == src
    assert sync_manager.list(src.keys())[:] == ["x", "y"]
    assert sync_manager.list(src.values())[:] == [1, 2]
    lst = sync_manager.list()
    lst.extend(src.items())
    assert lst[:] == [("x", 1), ("y", 2)]
    lst.append(src.keys())
    # A view arrives as the list it pickles to.
    assert lst[2] == ["x", "y"] and lst.count(["x", "y"]) == 1


def test_constructor_calls_build_the_value(sync_manager):
    class AsTuple:
        def __reduce__(self):
            return tuple, ([1, 2],)

    class AsFrozenset:
        def __reduce__(self):
            return frozenset, ((3, 3, 4),)

    class AsDict:
        def __reduce__(self):
            return dict, ([("k", 1), ("j", 2)],)

    class AsSet:
        def __reduce__(self):
            return set, ({"a": 0},)

    d = sync_manager.dict()
    d[AsTuple()] = "tuple key"  # hashable: it is the tuple (1, 2)
    assert d[(1, 2)] == "tuple key"
    d[AsFrozenset()] = "frozenset key"
    assert d[frozenset({3, 4})] == "frozenset key"
    lst = sync_manager.list([AsDict(), AsSet()])
    assert lst[0] == {"k": 1, "j": 2} and lst[1] == {"a"}
    d.update(AsDict())
    assert d["k"] == 1 and d["j"] == 2
