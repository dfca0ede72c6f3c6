"""``Namespace``, ``Value`` and ``Array`` against unmodified CPython clients
(docs/protocol.md 9.4, 9.5).

Namespace attributes through ``__getattribute__``/``__setattr__``/
``__delattr__`` with CPython's ``AttributeError`` and ``repr``; the manager's
``Value`` that ignores its typecode; ``Array`` as a real ``array.array`` with
its type and range checks, slices returned as arrays, and iteration that
ends on ``IndexError``.
"""

import array

import pytest
from multiprocessing.managers import Namespace, RemoteError

from _mgr import manager, manager_factory  # noqa: F401  (fixtures are used by name)


def raises(exc_type, message, fn, *args):
    with pytest.raises(exc_type) as info:
        fn(*args)
    assert type(info.value) is exc_type
    if message is not None:
        assert str(info.value) == message


# --------------------------------------------------------------------------- Namespace


def test_namespace_get_set_delete(sync_manager):
    ns = sync_manager.Namespace(a=1, b="two")
    assert ns.a == 1 and ns.b == "two"
    ns.c = [1, 2]
    ns.a = {"replaced": True}
    assert ns.c == [1, 2] and ns.a == {"replaced": True}
    del ns.b
    raises(AttributeError, "'Namespace' object has no attribute 'b'", getattr, ns, "b")
    raises(AttributeError, "'Namespace' object has no attribute 'missing'", getattr, ns, "missing")
    assert hasattr(ns, "a") and not hasattr(ns, "missing")
    with pytest.raises(AttributeError):
        del ns.missing
    # Another proxy of the same object sees the same attributes.
    other = sync_manager.Namespace()
    other.x = 1
    assert not hasattr(ns, "x")


def test_namespace_repr_and_getvalue(sync_manager):
    ns = sync_manager.Namespace()
    assert str(ns) == "Namespace()"
    ns.zeta = 1
    ns.alpha = [1, "x"]
    ns.mid = None
    # Public names only, sorted, values by repr.
    assert str(ns) == "Namespace(alpha=[1, 'x'], mid=None, zeta=1)"
    value = ns._getvalue()
    assert type(value) is Namespace
    assert (value.alpha, value.mid, value.zeta) == ([1, "x"], None, 1)


def test_namespace_dict_through_a_raw_call(sync_manager):
    # NamespaceProxy keeps `_` names on the client; a raw call reaches the
    # server's `__getattribute__`, which finds the instance dict.
    ns = sync_manager.Namespace(a=1)
    ns._callmethod("__setattr__", ("_hidden", 2))
    assert ns._callmethod("__getattribute__", ("__dict__",)) == {"a": 1, "_hidden": 2}


# --------------------------------------------------------------------------- Value


def test_value_get_set_and_property(sync_manager):
    v = sync_manager.Value("i", 5)
    assert v.value == 5 and v.get() == 5
    v.value = 7
    assert v.get() == 7
    v.set(8)
    assert v.value == 8
    assert str(v) == "Value('i', 8)"


def test_value_ignores_its_typecode(sync_manager):
    v = sync_manager.Value("i", 0)
    v.value = "text"
    assert v.value == "text"
    assert str(v) == "Value('i', 'text')"
    v.value = [1, 2.5]
    assert v.value == [1, 2.5]
    d = sync_manager.Value("d", 1.5, lock=False)
    assert d.value == 1.5 and str(d) == "Value('d', 1.5)"
    s = sync_manager.Value("c", b"x")
    assert s.value == b"x"


# --------------------------------------------------------------------------- Array


def test_array_index_slice_set_len_and_iteration(sync_manager):
    a = sync_manager.Array("i", [1, 2, 3, 4])
    assert len(a) == 4 and a[0] == 1 and a[-1] == 4
    part = a[1:3]
    assert part == array.array("i", [2, 3]) and type(part) is array.array
    assert a[::-1] == array.array("i", [4, 3, 2, 1])
    a[0] = 10
    a[-1] = -4
    assert list(a) == [10, 2, 3, -4]
    a[1:3] = array.array("i", [7, 8])
    assert [x for x in a] == [10, 7, 8, -4]
    raises(IndexError, "array index out of range", lambda: a[4])
    raises(IndexError, "array assignment index out of range", a.__setitem__, -5, 1)
    assert str(a) == "array('i', [10, 7, 8, -4])"
    assert a._getvalue() == array.array("i", [10, 7, 8, -4])


def test_array_type_and_range_checks(sync_manager):
    a = sync_manager.Array("b", [0, 1])
    raises(OverflowError, "signed char is greater than maximum", a.__setitem__, 0, 200)
    raises(OverflowError, "signed char is less than minimum", a.__setitem__, 0, -200)
    raises(TypeError, "'float' object cannot be interpreted as an integer", a.__setitem__, 0, 1.5)
    raises(TypeError, 'can only assign array (not "list") to array slice', a.__setitem__, slice(0, 1), [1])
    raises(TypeError, None, a.__setitem__, slice(0, 1), array.array("i", [1]))
    B = sync_manager.Array("B", [0])
    raises(OverflowError, "unsigned byte integer is greater than maximum", B.__setitem__, 0, 256)
    d = sync_manager.Array("d", [0.5])
    d[0] = 2
    assert d[0] == 2.0 and type(d[0]) is float
    raises(TypeError, "must be real number, not str", d.__setitem__, 0, "x")
    assert list(a) == [0, 1]


@pytest.mark.parametrize(
    "typecode, values",
    [
        ("b", [-128, 127]), ("B", [0, 255]), ("h", [-32768, 32767]), ("H", [0, 65535]),
        ("i", [-(2**31), 2**31 - 1]), ("I", [0, 2**32 - 1]), ("l", [-(2**63), 2**63 - 1]),
        ("L", [0, 2**64 - 1]), ("q", [-(2**63), 2**63 - 1]), ("Q", [0, 2**64 - 1]),
        ("f", [0.5, -2.25]), ("d", [1e300, -0.0]), ("u", "hé"),
    ],
)
def test_array_typecodes_round_trip(sync_manager, typecode, values):
    a = sync_manager.Array(typecode, values)
    want = array.array(typecode, values)
    assert a._getvalue() == want and a._getvalue().typecode == typecode
    assert list(a) == list(want)
    assert a[0] == want[0]


def test_array_bad_create_is_a_remote_error(sync_manager):
    # Exceptions from the constructor are #TRACEBACK, so RemoteError (docs/protocol.md 5.4).
    with pytest.raises(RemoteError, match="ValueError"):
        sync_manager.Array("c", b"x")
    with pytest.raises(RemoteError, match="TypeError"):
        sync_manager.Array("i", ["a"])
    with pytest.raises(RemoteError, match="OverflowError"):
        sync_manager.Array("b", [1000])
