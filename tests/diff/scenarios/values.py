"""Namespace (docs/protocol.md 9.4), Value and Array (docs/protocol.md 9.5): attribute access and its
errors, ``Value``'s ignored typecode, every Array typecode with its range
and type errors, slicing, iteration, failing creates."""

# (typecode, a value in range, values out of range or of the wrong type)
_ARRAY_CASES = [
    ("b", [-128, 127], [128, -129, 1.5]),
    ("B", [0, 255], [256, -1, "x"]),
    ("h", [-32768, 32767], [32768, -32769]),
    ("H", [0, 65535], [65536, -1]),
    ("i", [-2**31, 2**31 - 1], [2**31, -2**31 - 1, 1.0]),
    ("I", [0, 2**32 - 1], [2**32, -1]),
    ("l", [-2**63, 2**63 - 1], [2**63, -2**63 - 1, None]),
    ("L", [0, 2**64 - 1], [2**64, -1]),
    ("q", [-2**63, 2**63 - 1], [2**63, -2**63 - 1]),
    ("Q", [0, 2**64 - 1], [2**64, -1, 10**30]),
    ("f", [1.5, -2.0], ["x", 1e300, 2**1024]),
    ("d", [0.1, 1e308], [None, 2**1024]),
    ("u", ["a", "\u00e9"], ["ab", 1, ""]),
]


def _array_steps():
    steps = []
    for code, good, bad in _ARRAY_CASES:
        var = "a_" + code
        steps.append("%s = m.Array(%r, %r)" % (var, code, good))
        steps.append("%s[:], len(%s)" % (var, var))
        for value in bad:
            steps.append("%s[0] = %r" % (var, value))
        steps.append("%s[0] = %s[1]; %s._getvalue()" % (var, var, var))
        steps.append("m.Array(%r, [%r])" % (code, bad[0]))
        steps.append("del %s" % var)
    return steps


SCENARIOS = [
    ("namespace", [
        "ns = m.Namespace(a=1, b='x')",
        "ns.a, ns.b",
        "ns.c",
        "hasattr(ns, 'c'), hasattr(ns, 'a')",
        "ns.c = [1, 2]",
        "ns.c",
        "str(ns)",
        "del ns.c",
        "del ns.c",
        "ns.a = None; ns.a",
        "ns._getvalue()",
        "type(ns._getvalue()).__name__",
        "ns._local = 1; ns._local",
        "str(ns)",
        "ns._callmethod('__getattribute__', (5,))",
        "ns._callmethod('__setattr__', ('a',))",
        "ns._callmethod('__delattr__', ())",
        "ns._callmethod('__getattribute__', ('a', 'b'))",
        "ns._callmethod('__setattr__', ('_hidden', 7))",
        "ns._callmethod('__getattribute__', ('_hidden',))",
        "str(ns)",
        "ns._callmethod('__getattribute__', ('__dict__',))",
        "ns._callmethod('__getattribute__', ('__class__',))",
        "str(m.Namespace())",
        "m.Namespace(1)",
        "str(m.Namespace(z=1, y=[2], x={'k': (3,)}))",
    ]),
    ("value", [
        "v = m.Value('i', 5)",
        "v.value",
        "v.get()",
        "v.value = 'text'",
        "v.value",
        "str(v)",
        "v.set(1.5); v.get()",
        "v.set(1, 2)",
        "v.set()",
        "v.get(1)",
        "v._getvalue()",
        "type(v._getvalue()).__name__",
        "m.Value('i')",
        "m.Value('zz', [1]).value",
        "m.Value('d', 1.5, lock=False).value",
        "m.Value('d', 1.5, False, 1)",
        "str(m.Value(typecode='b', value=2))",
    ]),
    ("array", _array_steps() + [
        "a = m.Array('i', range(5))",
        "a[1:3]",
        "a[::-1]",
        "a[10]",
        "a[-6]",
        "a['x']",
        "a[0:2] = array.array('i', [7, 8])",
        "a[:]",
        "a[0:2] = [7, 8]",
        "a[0:2] = array.array('d', [7.0, 8.0])",
        "a[::2] = array.array('i', [0, 0])",
        "a[1:1] = array.array('i', [9, 9])",
        "len(a), a[:]",
        "list(a)",
        "[x for x in a]",
        "str(a)",
        "del a[0]",
        "m.Array('x', [])",
        "m.Array('c', b'x')",
        "m.Array('i', [1.5])",
        "m.Array('i', 5)",
        "m.Array('i')",
        "str(m.Array('d', [1, 2]))",
    ]),
]
