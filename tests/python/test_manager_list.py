"""``manager.list()`` (ListProxy) against unmodified CPython clients (docs/protocol.md 9.1).

Every exposed method, the ``__getitem__`` iteration protocol that ends on
``IndexError``, the client-side rewrites of ``+=``/``*=``, ``sort`` with keys
that are pickled functions, Python's equality rules, and CPython's exact
exception types and messages for bad indexes and missing items.
"""

import collections
import datetime
import decimal
import fractions

import pytest
from multiprocessing.managers import ListProxy

from _mgr import manager, manager_factory  # noqa: F401  (fixtures are used by name)


def raises(exc_type, message, fn, *args, **kwds):
    with pytest.raises(exc_type) as info:
        fn(*args, **kwds)
    assert type(info.value) is exc_type
    assert str(info.value) == message


def test_indexing_negative_and_slices(sync_manager):
    l = sync_manager.list([1, 2, 3, 4, 5])
    assert (l[0], l[4], l[-1], l[-5]) == (1, 5, 5, 1)
    assert l[1:3] == [2, 3] and type(l[1:3]) is list
    assert l[::-1] == [5, 4, 3, 2, 1]
    assert l[::2] == [1, 3, 5]
    assert l[-2:] == [4, 5]
    assert l[10:] == []
    assert len(l) == 5 and bool(l) and not bool(sync_manager.list())
    raises(IndexError, "list index out of range", lambda: l[5])
    raises(IndexError, "list index out of range", lambda: l[-6])
    raises(TypeError, "list indices must be integers or slices, not str", lambda: l["a"])
    # Very large ints are still ints: IndexError, as in CPython.
    with pytest.raises(IndexError):
        l[2**40]


def test_item_and_slice_assignment_and_deletion(sync_manager):
    l = sync_manager.list([1, 2, 3, 4, 5])
    l[0] = "a"
    l[-1] = "e"
    assert l._getvalue() == ["a", 2, 3, 4, "e"]
    l[1:3] = ["x", "y", "z"]
    assert l._getvalue() == ["a", "x", "y", "z", 4, "e"]
    l[::2] = [0, 0, 0]
    assert l._getvalue() == [0, "x", 0, "z", 0, "e"]
    del l[0]
    del l[-1]
    assert l._getvalue() == ["x", 0, "z", 0]
    del l[::2]
    assert l._getvalue() == [0, 0]
    del l[:]
    assert l._getvalue() == []
    raises(IndexError, "list assignment index out of range", l.__setitem__, 0, 1)
    raises(IndexError, "list assignment index out of range", l.__delitem__, 0)
    l.extend([1, 2, 3])
    raises(TypeError, "can only assign an iterable", l.__setitem__, slice(0, 2), 5)
    raises(
        ValueError,
        "attempt to assign sequence of size 3 to extended slice of size 2",
        l.__setitem__,
        slice(0, 3, 2),
        [7, 8, 9],
    )
    assert l._getvalue() == [1, 2, 3]


def test_iteration_uses_getitem_until_index_error(sync_manager):
    values = [1, "two", 3.0, None, (5,)]
    l = sync_manager.list(values)
    assert list(l) == values
    assert [x for x in l] == values
    assert list(sync_manager.list()) == []
    assert 3 in l and "two" in l and "nope" not in l
    assert list(reversed(l)) == values[::-1]


def test_inplace_add_and_mul_keep_the_proxy(sync_manager):
    l = sync_manager.list([1, 2])
    same = l
    l += [3]
    l += (4,)
    assert l is same and isinstance(l, ListProxy)
    assert l._getvalue() == [1, 2, 3, 4]
    l *= 2
    assert l is same
    assert l._getvalue() == [1, 2, 3, 4, 1, 2, 3, 4]
    l *= 0
    assert l._getvalue() == []
    raises(TypeError, "'str' object cannot be interpreted as an integer", l.__imul__, "x")


def test_add_and_mul_return_plain_lists(sync_manager):
    l = sync_manager.list([1, 2])
    assert l + [3] == [1, 2, 3] and type(l + [3]) is list
    assert l * 2 == [1, 2, 1, 2]
    assert 2 * l == [1, 2, 1, 2]
    assert l._getvalue() == [1, 2]
    with pytest.raises(TypeError) as info:
        l + (3,)
    assert str(info.value) == 'can only concatenate list (not "tuple") to list'


def test_sort_reverse_and_keys(sync_manager):
    l = sync_manager.list([3, 1, 2])
    l.sort()
    assert l._getvalue() == [1, 2, 3]
    l.sort(reverse=True)
    assert l._getvalue() == [3, 2, 1]
    words = sync_manager.list(["ccc", "a", "bb", "dd"])
    words.sort(key=len)
    assert words._getvalue() == ["a", "bb", "dd", "ccc"]
    words.sort(key=len, reverse=True)
    # Stable, as in CPython: equal keys keep their order even in reverse.
    assert words._getvalue() == ["ccc", "bb", "dd", "a"]
    mixed_case = sync_manager.list(["b", "A", "c", "B", "a"])
    mixed_case.sort(key=str.lower)
    assert mixed_case._getvalue() == ["A", "a", "b", "B", "c"]
    mixed_case.sort()
    assert mixed_case._getvalue() == ["A", "B", "a", "b", "c"]
    nums = sync_manager.list([2, 1.5, True, -3, 10**30, 0.0])
    nums.sort()
    assert nums._getvalue() == [-3, 0.0, True, 1.5, 2, 10**30]
    tuples = sync_manager.list([(2, "b"), (1, "z"), (2, "a")])
    tuples.sort()
    assert tuples._getvalue() == [(1, "z"), (2, "a"), (2, "b")]


def test_sort_of_mixed_types_is_a_type_error(sync_manager):
    l = sync_manager.list([1, "a"])
    raises(TypeError, "'<' not supported between instances of 'str' and 'int'", l.sort)
    # reverse=True reverses first (CPython's list.sort), so the operands swap.
    raises(TypeError, "'<' not supported between instances of 'int' and 'str'", l.sort, reverse=True)
    assert l._getvalue() == [1, "a"]
    raises(TypeError, "'<' not supported between instances of 'dict' and 'dict'", sync_manager.list([{}, {}]).sort)
    with pytest.raises(TypeError):
        sync_manager.list([1, None]).sort()
    # Proxies define no ordering: CPython's own message, not the server's
    # "needs their Python comparison methods" for classes it cannot run.
    proxies = sync_manager.list([sync_manager.list(), sync_manager.list()])
    raises(TypeError, "'<' not supported between instances of 'ListProxy' and 'ListProxy'", proxies.sort)


def test_index_count_insert_pop_remove_reverse_extend(sync_manager):
    l = sync_manager.list(["a", "b", "a", "c"])
    assert l.index("a") == 0
    assert l.index("a", 1) == 2
    assert l.index("a", 1, 3) == 2
    assert l.count("a") == 2 and l.count("zz") == 0
    l.insert(0, "start")
    l.insert(100, "end")
    l.insert(-1, "before-end")
    assert l._getvalue() == ["start", "a", "b", "a", "c", "before-end", "end"]
    assert l.pop() == "end"
    assert l.pop(0) == "start"
    assert l.pop(-1) == "before-end"
    l.remove("a")
    assert l._getvalue() == ["b", "a", "c"]
    l.reverse()
    assert l._getvalue() == ["c", "a", "b"]
    l.extend(range(2))
    l.extend("xy")
    assert l._getvalue() == ["c", "a", "b", 0, 1, "x", "y"]
    l.append([1, 2])
    assert l[-1] == [1, 2]
    raises(ValueError, "99 is not in list", l.index, 99)
    raises(ValueError, "'c' is not in list", l.index, "c", 1)
    raises(ValueError, "list.remove(x): x not in list", l.remove, 99)
    raises(IndexError, "pop index out of range", l.pop, 100)
    raises(IndexError, "pop from empty list", sync_manager.list().pop)
    raises(TypeError, "list.append() takes exactly one argument (0 given)", l._callmethod, "append")
    raises(TypeError, "'int' object is not iterable", l.extend, 5)


def test_python_equality_in_search_methods(sync_manager):
    # 1 == 1.0 == True, as the server must compare with Python's rules.
    l = sync_manager.list([1, 1.0, True, "1", b"1"])
    assert l.count(1) == 3
    assert l.count(True) == 3
    assert l.index(1.0) == 0
    assert l.index("1") == 3
    assert 1 + 0j in l
    l.remove(True)
    assert l._getvalue() == [1.0, True, "1", b"1"]
    assert type(l[0]) is float
    assert sync_manager.list([(1, 2)]).count((1.0, 2)) == 1
    assert float("nan") not in sync_manager.list([float("nan")])


def test_values_round_trip_with_their_types(sync_manager):
    values = [
        None, True, False, 0, -1, 2**100, -(2**70), 1.5, float("inf"), -0.0, 3 + 4j,
        "", "héllo ☃", b"\x00\xff", bytearray(b"ab"), (), (1, (2, 3)), [], [1, [2]],
        {"a": 1, 2: [3]}, {1, 2}, frozenset({"x"}),
    ]
    l = sync_manager.list(values)
    got = l._getvalue()
    assert got == values
    assert [type(x) for x in got] == [type(x) for x in values]
    assert str(got[9]) == str(-0.0)
    for i, v in enumerate(values):
        assert l[i] == v and type(l[i]) is type(v)


def test_opaque_objects_round_trip_unchanged(sync_manager):
    # The server never runs pickles: these come back as the same objects.
    values = [
        datetime.date(2024, 2, 29),
        datetime.datetime(2001, 2, 3, 4, 5, 6, 7),
        decimal.Decimal("1.10"),
        fractions.Fraction(3, 7),
        collections.OrderedDict([("b", 1), ("a", 2)]),
        collections.Counter("abca"),
        range(1, 10, 3),
    ]
    l = sync_manager.list(values)
    got = l._getvalue()
    assert got == values
    assert [type(x) for x in got] == [type(x) for x in values]
    l.append(datetime.timedelta(days=2))
    assert l[-1] == datetime.timedelta(days=2)
    assert l.pop(0) == datetime.date(2024, 2, 29)


def test_values_made_from_a_container_that_contains_itself(sync_manager):
    """``x = [x]``: ``list(x)`` is ``[x]``, a new list whose item is ``x``
    (still containing itself), not a list containing itself; the same for
    ``extend``, ``dict(d)`` with ``d['me'] = d``, and the server's repr."""
    x = []
    x.append(x)
    l = sync_manager.list(x)
    item = l[0]
    assert type(item) is list and item[0] is item
    assert repr(item) == "[[...]]"
    copy = l[:]
    assert copy[0] is not copy and copy[0][0] is copy[0]
    assert str(l) == repr(list(x)) == "[[[...]]]"

    l2 = sync_manager.list([1])
    l2.extend(x)
    assert repr(l2[1]) == "[[...]]" and str(l2) == repr([1, *x])

    d = {}
    d["me"] = d
    shared = sync_manager.dict(d)
    me = shared["me"]
    assert me["me"] is me and str(shared) == repr(dict(d)) == "{'me': {'me': {...}}}"
