"""Hypothesis strategies and helpers of ``test_value_semantics.py``.

Values are limited to what has one correct ``repr`` on both sides: sets hold
at most one item (CPython prints sets in hash order, the server in insertion
order), ints stay below CPython's 4300-digit ``str`` limit, and text avoids
code points unassigned in this CPython's Unicode database (newer Unicode
versions may give them case mappings or printability). Lone surrogates are
in: CPython pickles them (``surrogatepass``) and so must the server.
"""

from hypothesis import strategies as st

# Lone surrogates are 2,048 of 1.1 million code points: drawn on purpose.
unicode_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cn",)) | st.characters(categories=("Cs",)),
    max_size=6,
)
ascii_text = st.text(alphabet=st.characters(max_codepoint=127), max_size=4)

ints = st.one_of(st.integers(-5, 5), st.integers(-(2**200), 2**200))
floats = st.floats(allow_nan=True, allow_infinity=True)
complexes = st.complex_numbers(allow_nan=True, allow_infinity=True)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    floats,
    complexes,
    unicode_text,
    st.binary(max_size=6),
)

hashables = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3).map(tuple),
        st.frozensets(inner, max_size=1),
    ),
    max_leaves=6,
)

values = st.recursive(
    st.one_of(scalars, st.binary(max_size=6).map(bytearray)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.dictionaries(hashables, inner, max_size=3),
        st.sets(hashables, max_size=1),
        st.frozensets(hashables, max_size=1),
    ),
    max_leaves=10,
)

# Numbers where exactness matters: around 2**53, beyond 64 bits, NaNs.
numbers = st.one_of(
    st.integers(-3, 3),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    floats,
    st.sampled_from([2**53, 2**53 + 1, float(2**53), 1e20, 10**20, 10**20 + 1, -0.0, 0.5]),
)

# Lists that are sometimes orderable and sometimes not: each list draws
# from one family, or from a mix of all of them.
_families = [
    numbers,
    ascii_text,
    unicode_text,
    st.one_of(st.binary(max_size=3), st.binary(max_size=3).map(bytearray)),
    st.tuples(st.integers(0, 2), st.one_of(st.integers(0, 2), st.sampled_from(["a", "b"]))),
    st.lists(st.integers(0, 2), max_size=2),
    st.frozensets(st.integers(0, 2), max_size=1),
    st.sets(st.integers(0, 2), max_size=1),
    st.sampled_from([None, 1j, {}, (), []]),
]
mixed_sortables = st.one_of(
    *[st.lists(f, max_size=10) for f in _families],
    st.lists(st.one_of(*_families), max_size=6),
)


def outcome(fn):
    """``("ok", result)`` or ``(exception type name, message)``."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001  (any exception is an answer)
        return (type(e).__name__, str(e))
