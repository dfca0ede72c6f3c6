//! Python's ordering comparisons (`<`, `<=`, `>`, `>=`) between values.
//!
//! The manager needs these to serve `ListProxy.sort()` (`sort.rs` builds on
//! [`py_lt`]) and set comparisons exactly as CPython does, including its
//! `TypeError`s. The rules are those
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
    if let (Some(x), Some(y)) = (a.str_utf8(), b.str_utf8()) {
        // Code point order, surrogates included (see `SurrogateStr`).
        return Ok(op.holds(x.cmp(y)));
    }
    match (a, b) {
        (Value::Bytes(x) | Value::ByteArray(x), Value::Bytes(y) | Value::ByteArray(y)) => {
            Ok(op.holds(x.as_slice().cmp(y.as_slice())))
        }
        (Value::Tuple(x), Value::Tuple(y)) | (Value::List(x), Value::List(y)) => {
            seq_compare(op, x, y, depth)
        }
        (Value::Set(x) | Value::FrozenSet(x), Value::Set(y) | Value::FrozenSet(y)) => {
            Ok(set_compare(op, x, y))
        }
        // Proxies have no ordering methods to run: CPython's plain error.
        (Value::Object(x), Value::Object(y)) if x.is_proxy() && y.is_proxy() => {
            Err(not_orderable(op, a, b))
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
        // A proxy has no ordering methods, so CPython's own error applies.
        let proxy = Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "ListProxy"),
                Value::None,
            ],
        )));
        assert_eq!(
            err(CompareOp::Lt, &proxy, &proxy),
            "'<' not supported between instances of 'ListProxy' and 'ListProxy'"
        );
        assert!(matches!(py_lt(&proxy, &p), Err(OpError::NeedsPython(_))));
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
}
