//! Python's ordering comparisons (`<`, `<=`, `>`, `>=`) between values, and
//! `list.sort` on top of `<`.
//!
//! The manager needs these to serve `ListProxy.sort()` and set comparisons
//! exactly as CPython does, including its `TypeError`s. The rules are those
//! of CPython's rich comparisons of the built-in types:
//!
//! * numbers (`bool`, `int`, `float`) compare exactly across types, as
//!   `float_richcompare` does: `2**53 + 1 > 2.0**53`, a NaN is neither less,
//!   equal nor greater; `complex` is not orderable at all;
//! * `str` by code point; `bytes` and `bytearray` lexicographically, with
//!   each other;
//! * `tuple` with `tuple` and `list` with `list` lexicographically: the first
//!   items that differ by `==` are compared with the same operator, else the
//!   lengths (`list_richcompare`); a list and a tuple do not compare;
//! * `set`/`frozenset` by inclusion (`<` is "proper subset");
//! * anything else raises `TypeError: '<' not supported between instances of
//!   'X' and 'Y'`. Two opaque objects might define `__lt__`, which the server
//!   cannot run: that is [`OpError::NeedsPython`].
//!
//! Items inside sequences are matched with Python `==` (see `eq.rs`) without
//! CPython's identity shortcut: values are copies here, so `[nan] <= [nan]` is
//! false, as for two distinct NaN objects in CPython.

use super::eq::Num;
use super::names::py_type_name;
use super::{OpError, Set, Value};
use num_bigint::BigInt;
use num_traits::FromPrimitive;
use std::cmp::Ordering;

/// Nesting depth past which a comparison gives up instead of risking the
/// stack (CPython raises `RecursionError` near 1000 frames; decoded values
/// are far shallower than this).
const MAX_DEPTH: usize = 400;

/// An ordering operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    /// The operator as CPython's messages spell it.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
        }
    }

    /// Whether `a op b` holds when `a` compares to `b` as `ord`.
    fn holds(self, ord: Ordering) -> bool {
        match self {
            CompareOp::Lt => ord == Ordering::Less,
            CompareOp::Le => ord != Ordering::Greater,
            CompareOp::Gt => ord == Ordering::Greater,
            CompareOp::Ge => ord != Ordering::Less,
        }
    }
}

/// Python's `a < b`.
pub fn py_lt(a: &Value, b: &Value) -> Result<bool, OpError> {
    compare(CompareOp::Lt, a, b, 0)
}

/// Python's `a <op> b` for an ordering operator.
pub fn py_compare(op: CompareOp, a: &Value, b: &Value) -> Result<bool, OpError> {
    compare(op, a, b, 0)
}

fn compare(op: CompareOp, a: &Value, b: &Value, depth: usize) -> Result<bool, OpError> {
    if let (Some(x), Some(y)) = (Num::of(a), Num::of(b)) {
        return match num_cmp(&x, &y) {
            NumOrd::Ordered(ord) => Ok(op.holds(ord)),
            NumOrd::Unordered => Ok(false),
            NumOrd::Complex => Err(not_orderable(op, a, b)),
        };
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(op.holds(x.as_str().cmp(y.as_str()))),
        (Value::Bytes(x) | Value::ByteArray(x), Value::Bytes(y) | Value::ByteArray(y)) => {
            Ok(op.holds(x.as_slice().cmp(y.as_slice())))
        }
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            seq_compare(op, x, y, depth)
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            Ok(set_compare(op, x, y))
        }
        (Value::Object(x), Value::Object(y)) => Err(OpError::NeedsPython(format!(
            "'{}' between instances of '{}' and '{}' needs their Python comparison \
             methods, which the server cannot run (it never executes client code)",
            op.symbol(),
            x.type_name(),
            y.type_name()
        ))),
        (Value::BackRef(_), Value::List(_) | Value::BackRef(_))
        | (Value::List(_), Value::BackRef(_)) => Err(OpError::NeedsPython(format!(
            "'{}' on a list that contains itself would recurse forever \
             (CPython raises RecursionError)",
            op.symbol()
        ))),
        _ => Err(not_orderable(op, a, b)),
    }
}

fn not_orderable(op: CompareOp, a: &Value, b: &Value) -> OpError {
    OpError::NotOrderable {
        op: op.symbol(),
        left: py_type_name(a),
        right: py_type_name(b),
    }
}

/// `list_richcompare`/`tuplerichcompare`: skip the common prefix of equal
/// items, then compare the first differing pair with the same operator, or
/// the lengths when one sequence is a prefix of the other.
fn seq_compare(op: CompareOp, x: &[Value], y: &[Value], depth: usize) -> Result<bool, OpError> {
    if depth >= MAX_DEPTH {
        return Err(OpError::NeedsPython(
            "maximum recursion depth exceeded in comparison".into(),
        ));
    }
    match x.iter().zip(y).find(|(a, b)| a != b) {
        Some((a, b)) => compare(op, a, b, depth + 1),
        None => Ok(op.holds(x.len().cmp(&y.len()))),
    }
}

/// `set_richcompare`: inclusion, `<` and `>` being proper.
fn set_compare(op: CompareOp, x: &Set, y: &Set) -> bool {
    let subset = |a: &Set, b: &Set| a.iter().all(|k| b.contains(k).unwrap_or(false));
    match op {
        CompareOp::Lt => x.len() < y.len() && subset(x, y),
        CompareOp::Le => x.len() <= y.len() && subset(x, y),
        CompareOp::Gt => x.len() > y.len() && subset(y, x),
        CompareOp::Ge => x.len() >= y.len() && subset(y, x),
    }
}

/// The outcome of ordering two numbers.
enum NumOrd {
    Ordered(Ordering),
    /// A NaN is involved: every ordering comparison is false.
    Unordered,
    /// A complex number is involved: `TypeError`.
    Complex,
}

fn num_cmp(x: &Num<'_>, y: &Num<'_>) -> NumOrd {
    let ord = match (x, y) {
        (Num::Complex(..), _) | (_, Num::Complex(..)) => return NumOrd::Complex,
        (Num::Int(a), Num::Int(b)) => Some(a.cmp(b)),
        (Num::Big(a), Num::Big(b)) => Some(a.cmp(b)),
        (Num::Int(a), Num::Big(b)) => Some(BigInt::from(*a).cmp(b)),
        (Num::Big(a), Num::Int(b)) => Some((*a).cmp(&BigInt::from(*b))),
        (Num::Float(a), Num::Float(b)) => a.partial_cmp(b),
        (Num::Float(f), Num::Int(i)) => float_cmp_i64(*f, *i),
        (Num::Int(i), Num::Float(f)) => float_cmp_i64(*f, *i).map(Ordering::reverse),
        (Num::Float(f), Num::Big(b)) => float_cmp_big(*f, b),
        (Num::Big(b), Num::Float(f)) => float_cmp_big(*f, b).map(Ordering::reverse),
    };
    match ord {
        Some(o) => NumOrd::Ordered(o),
        None => NumOrd::Unordered,
    }
}

/// Exact `float` versus `int`, as `float_richcompare`: no rounding of the
/// int to a float unless that conversion is exact.
fn float_cmp_i64(f: f64, i: i64) -> Option<Ordering> {
    // Every integer of magnitude up to 2**53 is exactly representable.
    if i.unsigned_abs() <= 1u64 << 53 {
        f.partial_cmp(&(i as f64))
    } else {
        float_cmp_big(f, &BigInt::from(i))
    }
}

fn float_cmp_big(f: f64, b: &BigInt) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() {
        return Some(if f > 0.0 {
            Ordering::Greater
        } else {
            Ordering::Less
        });
    }
    let whole = f.trunc();
    // A finite integral float converts to a BigInt exactly.
    let fw = BigInt::from_f64(whole)?;
    match fw.cmp(b) {
        // Same integer part: the fraction decides.
        Ordering::Equal => (f - whole).partial_cmp(&0.0),
        // `f` lies strictly between `whole` and the next integer away from
        // zero, so no integer other than `whole` sits between `f` and `b`.
        other => Some(other),
    }
}

/// `list.sort(reverse=...)`: stable, using only `<`, failing with Python's
/// `TypeError` when two items cannot be ordered. On error the slice is left
/// unchanged (CPython may leave the list partly sorted).
pub fn py_sort(items: &mut [Value], reverse: bool) -> Result<(), OpError> {
    let perm = sorted_permutation(items, reverse)?;
    apply_permutation(items, &perm);
    Ok(())
}

/// The order in which `list.sort` would place `keys`: `perm[i]` is the index
/// of the key that ends up at position `i`.
///
/// The algorithm is CPython 3.11's `list_sort_impl` up to its merges: runs
/// found by `count_run` (a strictly descending run is reversed), extended to
/// `minrun` by binary insertion. For fewer than 64 items that is the whole
/// sort, so the comparisons made, and therefore the result with inconsistent
/// keys such as NaNs and the pair named by a `TypeError`, are CPython's.
/// Longer inputs merge runs pairwise without galloping: the same result for
/// any consistent order, O(n log n) comparisons.
pub(crate) fn sorted_permutation(keys: &[Value], reverse: bool) -> Result<Vec<usize>, OpError> {
    let n = keys.len();
    // CPython sorts `reverse=True` by reversing, sorting, and reversing back,
    // which keeps equal items in their original order.
    let mut perm: Vec<usize> = if reverse {
        (0..n).rev().collect()
    } else {
        (0..n).collect()
    };
    if n < 2 {
        return Ok(perm);
    }
    let lt = |a: usize, b: usize| -> Result<bool, OpError> {
        match (keys.get(a), keys.get(b)) {
            (Some(x), Some(y)) => py_lt(x, y),
            // Indices come from `0..n`; unreachable, but never panic.
            _ => Ok(false),
        }
    };
    let minrun = compute_minrun(n);
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut lo = 0;
    while lo < n {
        let rest = &mut perm[lo..];
        let (mut len, descending) = count_run(rest, &lt)?;
        if descending {
            rest[..len].reverse();
        }
        if len < minrun {
            let force = rest.len().min(minrun);
            binary_insertion(&mut rest[..force], len, &lt)?;
            len = force;
        }
        runs.push((lo, len));
        lo += len;
    }
    let mut buf = Vec::with_capacity(n / 2 + 1);
    while runs.len() > 1 {
        let mut merged = Vec::with_capacity(runs.len() / 2 + 1);
        for pair in runs.chunks(2) {
            match *pair {
                [(start, a), (_, b)] => {
                    merge(&mut perm[start..start + a + b], a, &mut buf, &lt)?;
                    merged.push((start, a + b));
                }
                [single] => merged.push(single),
                _ => {}
            }
        }
        runs = merged;
    }
    if reverse {
        perm.reverse();
    }
    Ok(perm)
}

/// `merge_compute_minrun`: `n` itself below 64, else a length in 32..=64
/// that splits `n` into a power of two of runs, or slightly fewer.
fn compute_minrun(mut n: usize) -> usize {
    let mut r = 0;
    while n >= 64 {
        r |= n & 1;
        n >>= 1;
    }
    n + r
}

type Lt<'a> = dyn Fn(usize, usize) -> Result<bool, OpError> + 'a;

/// `count_run`: the length of the run at the start of `s` (at least 1), and
/// whether it is strictly descending. The first comparison is `s[1] < s[0]`,
/// which is why `sorted([1, 'a'])` complains about `'str' and 'int'`.
fn count_run(s: &[usize], lt: &Lt<'_>) -> Result<(usize, bool), OpError> {
    let mut pairs = s.windows(2);
    let Some(first) = pairs.next() else {
        return Ok((s.len(), false));
    };
    let descending = lt(first[1], first[0])?;
    let mut n = 2;
    for w in pairs {
        if lt(w[1], w[0])? != descending {
            break;
        }
        n += 1;
    }
    Ok((n, descending))
}

/// `binarysort`: `s[..sorted]` is sorted; insert the rest one by one after
/// the last item not greater than it (stable).
fn binary_insertion(s: &mut [usize], sorted: usize, lt: &Lt<'_>) -> Result<(), OpError> {
    for start in sorted.max(1)..s.len() {
        let pivot = s[start];
        let (mut l, mut r) = (0, start);
        while l < r {
            let p = l + (r - l) / 2;
            if lt(pivot, s[p])? {
                r = p;
            } else {
                l = p + 1;
            }
        }
        s[l..=start].rotate_right(1);
    }
    Ok(())
}

/// Stable merge of the sorted halves `s[..mid]` and `s[mid..]`: an item of
/// the right half goes first only when strictly less.
fn merge(s: &mut [usize], mid: usize, buf: &mut Vec<usize>, lt: &Lt<'_>) -> Result<(), OpError> {
    buf.clear();
    buf.extend_from_slice(&s[..mid]);
    let (mut i, mut j, mut k) = (0, mid, 0);
    while i < buf.len() && j < s.len() {
        if lt(s[j], buf[i])? {
            s[k] = s[j];
            j += 1;
        } else {
            s[k] = buf[i];
            i += 1;
        }
        k += 1;
    }
    // Whatever remains of the left half fills the gap before `j`.
    let rest = &buf[i..];
    s[k..k + rest.len()].copy_from_slice(rest);
    Ok(())
}

/// Reorders `items` so that position `i` holds the item formerly at
/// `perm[i]`.
pub(crate) fn apply_permutation(items: &mut [Value], perm: &[usize]) {
    let mut taken: Vec<Value> = items
        .iter_mut()
        .map(|v| std::mem::replace(v, Value::None))
        .collect();
    for (slot, &src) in items.iter_mut().zip(perm) {
        if let Some(v) = taken.get_mut(src) {
            *slot = std::mem::replace(v, Value::None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    fn big(s: &str) -> Value {
        Value::from_bigint(s.parse::<BigInt>().unwrap())
    }

    fn lt(a: &Value, b: &Value) -> bool {
        py_lt(a, b).unwrap()
    }

    fn err(op: CompareOp, a: &Value, b: &Value) -> String {
        py_compare(op, a, b).unwrap_err().to_string()
    }

    #[test]
    fn numbers_compare_exactly_across_types() {
        let two53 = 1i64 << 53;
        // 2**53 + 1 > float(2**53) although float(2**53 + 1) == float(2**53).
        assert!(lt(&Value::Float(two53 as f64), &int(two53 + 1)));
        assert!(!lt(&int(two53 + 1), &Value::Float(two53 as f64)));
        assert!(lt(
            &big("18446744073709551616"),
            &Value::Float(f64::INFINITY)
        ));
        // 2**1000 < 1e300 is False; -2**70 < -1e21 is True (2**70 ≈ 1.18e21).
        let p1000 = BigInt::from(2).pow(1000).to_string();
        assert!(!lt(&big(&p1000), &Value::Float(1e300)));
        assert!(lt(&big("-1180591620717411303424"), &Value::Float(-1e21)));
        assert!(lt(&Value::Float(0.5), &Value::Bool(true)));
        assert!(lt(&Value::Bool(false), &Value::Bool(true)));
        assert!(lt(&int(i64::MAX), &big("9223372036854775808")));
        assert!(lt(&big("-9223372036854775809"), &int(i64::MIN)));
        // 9007199254740993 vs 9007199254740992.5 is not representable; use a
        // fraction at a smaller scale: 3 > 2.5 and -3 < -2.5.
        assert!(lt(&Value::Float(2.5), &int(3)));
        assert!(lt(&int(-3), &Value::Float(-2.5)));
        let huge_float = Value::Float(1e20);
        assert!(lt(&int(i64::MAX), &huge_float));
        assert!(!py_compare(CompareOp::Lt, &huge_float, &big("100000000000000000000")).unwrap());
        assert!(py_compare(CompareOp::Le, &huge_float, &big("100000000000000000000")).unwrap());
        assert!(py_compare(CompareOp::Gt, &huge_float, &big("99999999999999999999")).unwrap());
    }

    #[test]
    fn nan_makes_every_ordering_false() {
        let nan = Value::Float(f64::NAN);
        for op in [CompareOp::Lt, CompareOp::Le, CompareOp::Gt, CompareOp::Ge] {
            assert!(!py_compare(op, &nan, &int(1)).unwrap());
            assert!(!py_compare(op, &int(1), &nan).unwrap());
            assert!(!py_compare(op, &nan, &nan).unwrap());
            assert!(!py_compare(op, &nan, &big("1180591620717411303424")).unwrap());
        }
    }

    #[test]
    fn complex_is_not_orderable() {
        let c = Value::complex(1.0, 0.0);
        assert_eq!(
            err(CompareOp::Lt, &c, &int(1)),
            "'<' not supported between instances of 'complex' and 'int'"
        );
        assert_eq!(
            err(CompareOp::Ge, &int(1), &c),
            "'>=' not supported between instances of 'int' and 'complex'"
        );
    }

    #[test]
    fn strings_and_bytes() {
        assert!(lt(&Value::str("a"), &Value::str("b")));
        assert!(lt(&Value::str("Z"), &Value::str("a")));
        // By code point: U+00E9 sorts after 'z', U+1F600 after U+FFFD.
        assert!(lt(&Value::str("z"), &Value::str("é")));
        assert!(lt(&Value::str("\u{fffd}"), &Value::str("\u{1f600}")));
        assert!(lt(&Value::str("ab"), &Value::str("abc")));
        assert!(lt(
            &Value::Bytes(b"a".to_vec()),
            &Value::ByteArray(b"b".to_vec())
        ));
        assert!(py_compare(
            CompareOp::Ge,
            &Value::ByteArray(b"ab".to_vec()),
            &Value::Bytes(b"ab".to_vec())
        )
        .unwrap());
        assert_eq!(
            err(CompareOp::Lt, &Value::str("a"), &Value::Bytes(vec![])),
            "'<' not supported between instances of 'str' and 'bytes'"
        );
    }

    #[test]
    fn sequences_compare_lexicographically() {
        let t = |v: Vec<Value>| Value::Tuple(v);
        let l = |v: Vec<Value>| Value::List(v);
        assert!(py_compare(
            CompareOp::Le,
            &t(vec![int(1), int(2)]),
            &t(vec![int(1), int(2)])
        )
        .unwrap());
        assert!(lt(&l(vec![]), &l(vec![int(1)])));
        assert!(lt(&l(vec![int(1), int(2)]), &l(vec![int(1), int(3)])));
        // Equal prefixes are skipped with `==`, even across types (1 == 1.0).
        assert!(lt(
            &t(vec![int(1), Value::str("a")]),
            &t(vec![Value::Float(1.0), Value::str("b")])
        ));
        // The first differing pair decides, so later junk is never looked at.
        assert!(lt(
            &t(vec![int(1), Value::complex(1.0, 1.0)]),
            &t(vec![int(2), Value::complex(2.0, 2.0)])
        ));
        assert_eq!(
            err(
                CompareOp::Lt,
                &t(vec![int(1), Value::complex(1.0, 1.0)]),
                &t(vec![int(1), Value::complex(2.0, 2.0)])
            ),
            "'<' not supported between instances of 'complex' and 'complex'"
        );
        assert_eq!(
            err(CompareOp::Lt, &l(vec![int(1)]), &t(vec![int(1)])),
            "'<' not supported between instances of 'list' and 'tuple'"
        );
        assert_eq!(
            err(CompareOp::Lt, &l(vec![int(1)]), &l(vec![Value::str("a")])),
            "'<' not supported between instances of 'int' and 'str'"
        );
        // [nan] <= [nan] is False for distinct NaN objects (our copies).
        let nan = || Value::Float(f64::NAN);
        assert!(!py_compare(CompareOp::Le, &l(vec![nan()]), &l(vec![nan()])).unwrap());
    }

    #[test]
    fn sets_compare_by_inclusion() {
        let set =
            |v: Vec<i64>| Value::Set(Box::new(Set::from_values(v.into_iter().map(int)).unwrap()));
        let fset = |v: Vec<i64>| {
            Value::FrozenSet(Box::new(Set::from_values(v.into_iter().map(int)).unwrap()))
        };
        assert!(lt(&set(vec![1]), &set(vec![1, 2])));
        assert!(!lt(&set(vec![1, 2]), &set(vec![1, 2])));
        assert!(py_compare(CompareOp::Le, &set(vec![1]), &fset(vec![1])).unwrap());
        assert!(py_compare(CompareOp::Gt, &fset(vec![1, 2, 3]), &set(vec![3, 1])).unwrap());
        assert!(!py_compare(CompareOp::Ge, &set(vec![1, 4]), &set(vec![1, 2])).unwrap());
        assert!(!lt(&set(vec![3]), &set(vec![1, 2])));
        assert_eq!(
            err(CompareOp::Lt, &set(vec![1]), &Value::List(vec![int(1)])),
            "'<' not supported between instances of 'set' and 'list'"
        );
    }

    #[test]
    fn unorderable_types_name_python_types() {
        let d = Value::Dict(Box::default());
        assert_eq!(
            err(CompareOp::Lt, &Value::None, &Value::None),
            "'<' not supported between instances of 'NoneType' and 'NoneType'"
        );
        assert_eq!(
            err(CompareOp::Lt, &d, &d),
            "'<' not supported between instances of 'dict' and 'dict'"
        );
        assert_eq!(
            err(CompareOp::Le, &int(1), &Value::None),
            "'<=' not supported between instances of 'int' and 'NoneType'"
        );
        assert_eq!(
            err(CompareOp::Gt, &Value::str("a"), &int(1)),
            "'>' not supported between instances of 'str' and 'int'"
        );
        assert_eq!(
            err(CompareOp::Lt, &Value::global("builtins", "abs"), &Value::global("builtins", "len")),
            "'<' not supported between instances of 'builtin_function_or_method' and 'builtin_function_or_method'"
        );
        assert_eq!(
            err(
                CompareOp::Lt,
                &Value::global("builtins", "int"),
                &Value::global("builtins", "str")
            ),
            "'<' not supported between instances of 'type' and 'type'"
        );
    }

    #[test]
    fn opaque_objects() {
        let p = Value::Object(Box::new(Object::new_obj(
            Value::global("m", "Point"),
            vec![],
            None,
        )));
        assert!(matches!(py_lt(&p, &p), Err(OpError::NeedsPython(_))));
        assert_eq!(
            err(CompareOp::Lt, &p, &int(1)),
            "'<' not supported between instances of 'Point' and 'int'"
        );
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut a = int(1);
        let mut b = int(2);
        for _ in 0..(MAX_DEPTH + 10) {
            a = Value::List(vec![a]);
            b = Value::List(vec![b]);
        }
        assert!(matches!(py_lt(&a, &b), Err(OpError::NeedsPython(_))));
    }

    /// Ints, with `f64::NAN` standing for a NaN float.
    fn nums(xs: &[f64]) -> Vec<Value> {
        xs.iter()
            .map(|&x| {
                if x.is_nan() {
                    Value::Float(x)
                } else {
                    int(x as i64)
                }
            })
            .collect()
    }

    fn same(got: &[Value], want: &[f64]) -> bool {
        got.len() == want.len()
            && got.iter().zip(want).all(|(g, &w)| match g {
                Value::Float(f) => f.is_nan() && w.is_nan(),
                Value::Int(i) => *i as f64 == w,
                _ => false,
            })
    }

    const NAN: f64 = f64::NAN;

    #[test]
    fn sort_matches_cpython_with_nans() {
        // Outputs of CPython 3.11 `sorted(...)` on the same lists.
        let mut v = nums(&[3.0, NAN, 1.0, 2.0]);
        py_sort(&mut v, false).unwrap();
        assert!(same(&v, &[3.0, NAN, 1.0, 2.0]));

        let mut v = nums(&[NAN, 3.0, 1.0, 2.0, NAN, 0.0]);
        py_sort(&mut v, false).unwrap();
        assert!(same(&v, &[NAN, 0.0, 1.0, 2.0, 3.0, NAN]));

        let input = [
            4.0, 1.0, NAN, 1.0, 6.0, 13.0, 2.0, NAN, 20.0, 1.0, 12.0, NAN, 4.0, 4.0, 18.0, 5.0,
            NAN, 17.0, 18.0, 6.0, 13.0, 14.0, 14.0, 7.0, 7.0, 9.0, 14.0, 2.0, NAN, 4.0, 13.0, 2.0,
            11.0, 18.0, 2.0, 8.0, 2.0, 9.0, 12.0, 11.0,
        ];
        let mut v = nums(&input);
        py_sort(&mut v, false).unwrap();
        let want = [
            1.0, 1.0, 1.0, 2.0, 2.0, 4.0, NAN, 2.0, 2.0, 2.0, 4.0, 4.0, 4.0, 5.0, 6.0, 13.0, NAN,
            6.0, 7.0, 7.0, 8.0, 9.0, 9.0, 11.0, 11.0, 12.0, 12.0, 13.0, 13.0, 14.0, 14.0, 14.0,
            17.0, 18.0, 20.0, NAN, 18.0, NAN, NAN, 18.0,
        ];
        assert!(same(&v, &want), "{v:?}");
        let mut v = nums(&input);
        py_sort(&mut v, true).unwrap();
        let want = [
            NAN, NAN, 20.0, 12.0, NAN, 18.0, NAN, 18.0, 14.0, 14.0, NAN, 18.0, 17.0, 14.0, 13.0,
            13.0, 13.0, 12.0, 11.0, 11.0, 9.0, 9.0, 8.0, 7.0, 7.0, 6.0, 6.0, 5.0, 4.0, 4.0, 4.0,
            4.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0,
        ];
        assert!(same(&v, &want), "{v:?}");
    }

    #[test]
    fn reverse_keeps_equal_items_in_original_order() {
        // sorted([1, 1.0, True, 0, 2], reverse=True) == [2, 1, 1.0, True, 0]
        let mut v = vec![int(1), Value::Float(1.0), Value::Bool(true), int(0), int(2)];
        py_sort(&mut v, true).unwrap();
        assert!(matches!(
            v.as_slice(),
            [
                Value::Int(2),
                Value::Int(1),
                Value::Float(_),
                Value::Bool(true),
                Value::Int(0)
            ]
        ));
    }

    #[test]
    fn sort_error_names_the_first_failing_pair_and_keeps_the_list() {
        // CPython: sorted([1, 'a']) and sorted([1, 2, 3, 'x', 4]) both say
        // 'str' and 'int'; sorted(['a', 1]) says 'int' and 'str'.
        let cases: [(Vec<Value>, &str); 3] = [
            (vec![int(1), Value::str("a")], "'str' and 'int'"),
            (vec![Value::str("a"), int(1)], "'int' and 'str'"),
            (
                vec![int(1), int(2), int(3), Value::str("x"), int(4)],
                "'str' and 'int'",
            ),
        ];
        for (items, pair) in cases {
            let mut v = items.clone();
            let e = py_sort(&mut v, false).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("'<' not supported between instances of {pair}")
            );
            assert_eq!(v, items, "list unchanged on error");
        }
        let mut v = vec![int(5), Value::None];
        assert_eq!(
            py_sort(&mut v, false).unwrap_err().to_string(),
            "'<' not supported between instances of 'NoneType' and 'int'"
        );
    }

    /// A small deterministic generator (no `rand` needed in tests).
    fn lcg(seed: &mut u64) -> u64 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        *seed >> 33
    }

    #[test]
    fn long_sorts_are_stable_and_correct() {
        let mut seed = 42;
        for n in [63, 64, 65, 100, 1000, 5000] {
            // Keys 0..50 as int or float alternately: equal keys of two types
            // reveal stability.
            let items: Vec<Value> = (0..n)
                .map(|i| {
                    let k = (lcg(&mut seed) % 50) as i64;
                    if i % 2 == 0 {
                        int(k)
                    } else {
                        Value::Float(k as f64)
                    }
                })
                .collect();
            for reverse in [false, true] {
                let mut got = items.clone();
                py_sort(&mut got, reverse).unwrap();
                let mut idx: Vec<usize> = (0..items.len()).collect();
                let key = |i: usize| match &items[i] {
                    Value::Int(k) => *k as f64,
                    Value::Float(f) => *f,
                    _ => unreachable!(),
                };
                // Rust's sort is stable; reverse=True keeps original order of ties.
                if reverse {
                    idx.sort_by(|&a, &b| key(b).partial_cmp(&key(a)).unwrap());
                } else {
                    idx.sort_by(|&a, &b| key(a).partial_cmp(&key(b)).unwrap());
                }
                for (g, &i) in got.iter().zip(&idx) {
                    assert!(
                        std::mem::discriminant(g) == std::mem::discriminant(&items[i])
                            && g == &items[i],
                        "n={n} reverse={reverse}"
                    );
                }
            }
        }
    }

    #[test]
    fn inconsistent_comparisons_never_panic() {
        let mut seed = 7;
        let mut v: Vec<Value> = (0..3000)
            .map(|_| match lcg(&mut seed) % 3 {
                0 => Value::Float(f64::NAN),
                _ => int((lcg(&mut seed) % 100) as i64),
            })
            .collect();
        let n = v.len();
        py_sort(&mut v, false).unwrap();
        assert_eq!(v.len(), n);
        assert_eq!(v.iter().filter(|x| matches!(x, Value::Float(_))).count(), {
            let mut seed = 7;
            (0..3000)
                .filter(|_| {
                    let nan = lcg(&mut seed) % 3 == 0;
                    if !nan {
                        lcg(&mut seed);
                    }
                    nan
                })
                .count()
        });
    }

    #[test]
    fn minrun_matches_cpython() {
        assert_eq!(compute_minrun(63), 63);
        assert_eq!(compute_minrun(64), 32);
        assert_eq!(compute_minrun(65), 33);
        assert_eq!(compute_minrun(2112), 33);
        assert_eq!(compute_minrun(1 << 20), 32);
    }
}
