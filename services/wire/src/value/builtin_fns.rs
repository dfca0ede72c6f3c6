//! The few Python built-in functions the server evaluates itself, on values:
//! `len`, `abs`, `str.lower`/`upper`/`casefold`, `bytes.lower`/`upper`,
//! `operator.itemgetter`'s item lookup, `str`/`repr`; `int` and `float` are
//! in `builtin_num.rs`.
//!
//! They exist so that `ListProxy.sort(key=...)` with a built-in key (the
//! common `key=len`, `key=str.lower`, `key=itemgetter(1)`) runs on the
//! server (see `sort_key.rs`), with CPython's results and CPython's errors:
//! each failure is the exception the function raises in CPython 3.11, with
//! its message, as a [`SortKeyError`] variant. Opaque objects would need
//! their Python methods (`__len__`, `__abs__`, `__index__`): those are
//! [`OpError::NeedsPython`].

use super::names::py_type_name;
use super::repr::repr_exact;
use super::{OpError, Value};
use num_bigint::BigInt;
use num_traits::Signed;
use thiserror::Error;

/// What a built-in function raised. The message is CPython's; the variant
/// says which exception the client must receive.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SortKeyError {
    /// An ordering `TypeError`, an unhashable lookup, or a function that
    /// needs Python code the server cannot run.
    #[error(transparent)]
    Op(#[from] OpError),
    /// `TypeError` raised by the function (`len(5)`).
    #[error("{0}")]
    WrongType(String),
    /// `ValueError` (`int('abc')`).
    #[error("{0}")]
    BadValue(String),
    /// `OverflowError` (`int(float('inf'))`).
    #[error("{0}")]
    Overflow(String),
    /// `IndexError` (`itemgetter(5)([1])`).
    #[error("{0}")]
    IndexOutOfRange(String),
    /// `KeyError(key)` (`itemgetter('k')({})`).
    #[error("{}", .0.repr())]
    MissingKey(Value),
}

pub(crate) fn needs_python(what: String) -> SortKeyError {
    SortKeyError::Op(OpError::NeedsPython(format!(
        "{what} needs Python code, which the server never runs"
    )))
}

/// `len(v)`.
pub(crate) fn py_len(v: &Value) -> Result<Value, SortKeyError> {
    let n = match v {
        Value::Str(s) => s.chars().count(),
        Value::SurrogateStr(s) => s.char_count(),
        Value::Bytes(b) | Value::ByteArray(b) => b.len(),
        Value::Tuple(items) | Value::List(items) => items.len(),
        Value::Dict(d) => d.len(),
        Value::Set(s) | Value::FrozenSet(s) => s.len(),
        Value::Object(o) => match (o.global(), o.args()) {
            (Some(g), [Value::Int(a), Value::Int(b), Value::Int(c)])
                if g.is("builtins", "range") =>
            {
                range_len(*a, *b, *c).ok_or_else(|| needs_python("len() of this range".into()))?
            }
            _ => {
                return Err(needs_python(format!(
                    "len() of a '{}' object",
                    o.type_name()
                )))
            }
        },
        Value::BackRef(_) => {
            return Err(needs_python("len() of a list that contains itself".into()))
        }
        _ => {
            return Err(SortKeyError::WrongType(format!(
                "object of type '{}' has no len()",
                py_type_name(v)
            )))
        }
    };
    Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `len(range(start, stop, step))`, `None` for a zero step.
fn range_len(start: i64, stop: i64, step: i64) -> Option<usize> {
    let (lo, hi, step) = (i128::from(start), i128::from(stop), i128::from(step));
    let n = if step > 0 && lo < hi {
        (hi - lo - 1) / step + 1
    } else if step < 0 && lo > hi {
        (lo - hi - 1) / (-step) + 1
    } else if step == 0 {
        return None;
    } else {
        0
    };
    usize::try_from(n).ok()
}

/// `abs(v)`.
pub(crate) fn py_abs(v: &Value) -> Result<Value, SortKeyError> {
    Ok(match v {
        Value::Bool(b) => Value::Int(i64::from(*b)),
        Value::Int(i) => match i.checked_abs() {
            Some(a) => Value::Int(a),
            None => Value::from_bigint(BigInt::from(*i).abs()),
        },
        Value::BigInt(b) => Value::from_bigint(b.abs()),
        Value::Float(f) => Value::Float(f.abs()),
        Value::Complex(c) => Value::Float(c.0.hypot(c.1)),
        Value::Object(o) => {
            return Err(needs_python(format!(
                "abs() of a '{}' object",
                o.type_name()
            )))
        }
        _ => {
            return Err(SortKeyError::WrongType(format!(
                "bad operand type for abs(): '{}'",
                py_type_name(v)
            )))
        }
    })
}

/// `str.lower`, `str.upper`, `str.casefold` and `bytes.lower`/`upper`,
/// applied to `v` as the unbound method `cls.name(v)`.
pub(crate) fn py_case(cls: &str, method: &str, v: &Value) -> Result<Value, SortKeyError> {
    match (cls, method, v) {
        ("str", "lower", Value::Str(s)) => Ok(Value::Str(s.to_lowercase())),
        ("str", "upper", Value::Str(s)) => Ok(Value::Str(s.to_uppercase())),
        ("str", "casefold", Value::Str(s)) => Ok(Value::Str(casefold(s))),
        // The text between surrogates changes, the surrogates do not.
        ("str", "lower", Value::SurrogateStr(s)) => {
            Ok(Value::SurrogateStr(s.map_text(str::to_lowercase)))
        }
        ("str", "upper", Value::SurrogateStr(s)) => {
            Ok(Value::SurrogateStr(s.map_text(str::to_uppercase)))
        }
        ("str", "casefold", Value::SurrogateStr(s)) => {
            Ok(Value::SurrogateStr(s.map_text(casefold)))
        }
        ("bytes", "lower", Value::Bytes(b)) => Ok(Value::Bytes(b.to_ascii_lowercase())),
        ("bytes", "upper", Value::Bytes(b)) => Ok(Value::Bytes(b.to_ascii_uppercase())),
        (_, _, Value::Object(o)) => Err(needs_python(format!(
            "{cls}.{method}() of a '{}' object",
            o.type_name()
        ))),
        _ => Err(SortKeyError::WrongType(format!(
            "descriptor '{method}' for '{cls}' objects doesn't apply to a '{}' object",
            py_type_name(v)
        ))),
    }
}

/// `str.casefold`: full Unicode case folding. Upper-casing then
/// lower-casing each character gives CPython 3.11's folding for every code
/// point except the three exceptions handled first (checked against
/// `chr(c).casefold()` for all of Unicode 14): dotless ı stays, capital ẞ
/// folds to "ss", and Cherokee folds to its upper-case letters. Per
/// character, so no final-sigma rule applies (casefold has none).
fn casefold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'ı' => out.push(c),
            'ẞ' => out.push_str("ss"),
            '\u{13a0}'..='\u{13f5}' => out.push(c),
            '\u{13f8}'..='\u{13fd}' | '\u{ab70}'..='\u{abbf}' => out.extend(c.to_uppercase()),
            _ => {
                for u in c.to_uppercase() {
                    out.extend(u.to_lowercase());
                }
            }
        }
    }
    out
}

/// `container[index]` as `operator.itemgetter(index)(container)` does it.
pub(crate) fn py_getitem(container: &Value, index: &Value) -> Result<Value, SortKeyError> {
    let (kind, oob) = match container {
        Value::List(_) => ("list", "list index out of range"),
        Value::Tuple(_) => ("tuple", "tuple index out of range"),
        Value::Str(_) | Value::SurrogateStr(_) => ("string", "string index out of range"),
        Value::Bytes(_) => ("byte", "index out of range"),
        Value::ByteArray(_) => ("bytearray", "bytearray index out of range"),
        Value::Dict(d) => {
            return match d.get(index)? {
                Some(v) => Ok(v.clone()),
                None => Err(SortKeyError::MissingKey(index.clone())),
            }
        }
        Value::Object(o) => {
            return Err(needs_python(format!(
                "indexing a '{}' object",
                o.type_name()
            )))
        }
        Value::BackRef(_) => {
            return Err(needs_python("indexing a list that contains itself".into()))
        }
        _ => {
            return Err(SortKeyError::WrongType(format!(
                "'{}' object is not subscriptable",
                py_type_name(container)
            )))
        }
    };
    let i = match index {
        Value::Int(i) => *i,
        Value::Bool(b) => i64::from(*b),
        Value::BigInt(_) => {
            return Err(SortKeyError::IndexOutOfRange(
                "cannot fit 'int' into an index-sized integer".into(),
            ))
        }
        Value::Object(o) if o.global().is_some_and(|g| g.is("builtins", "slice")) => {
            return Err(needs_python("itemgetter with a slice".into()))
        }
        _ if kind == "string" => {
            return Err(SortKeyError::WrongType(format!(
                "string indices must be integers, not '{}'",
                py_type_name(index)
            )))
        }
        _ => {
            return Err(SortKeyError::WrongType(format!(
                "{kind} indices must be integers or slices, not {}",
                py_type_name(index)
            )))
        }
    };
    let at = |len: usize| -> Option<usize> {
        let len = i64::try_from(len).ok()?;
        let j = if i < 0 { i.checked_add(len)? } else { i };
        (0..len).contains(&j).then_some(j as usize)
    };
    let found = match container {
        Value::List(items) | Value::Tuple(items) => {
            at(items.len()).and_then(|j| items.get(j)).cloned()
        }
        // Indexing by code point is O(n) here; keys are short in practice.
        Value::Str(s) => at(s.chars().count())
            .and_then(|j| s.chars().nth(j))
            .map(|c| Value::Str(c.to_string())),
        Value::SurrogateStr(_) => {
            let chars = container.str_items().unwrap_or_default();
            at(chars.len()).and_then(|j| chars.get(j)).cloned()
        }
        Value::Bytes(b) | Value::ByteArray(b) => at(b.len())
            .and_then(|j| b.get(j))
            .map(|&x| Value::Int(i64::from(x))),
        _ => None,
    };
    found.ok_or_else(|| SortKeyError::IndexOutOfRange(oob.into()))
}

/// `str(v)` / `repr(v)` when the server knows the answer for certain.
pub(crate) fn py_str_key(v: &Value, use_repr: bool) -> Result<Value, SortKeyError> {
    if let (Value::SurrogateStr(_), false) = (v, use_repr) {
        return Ok(v.clone());
    }
    let s = if use_repr {
        repr_exact(v)
    } else {
        super::repr::str_exact(v)
    };
    s.map(Value::Str).ok_or_else(|| {
        needs_python(format!(
            "{}() of a value holding opaque objects",
            if use_repr { "repr" } else { "str" }
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Dict, Object, Set};

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn msg(r: Result<Value, SortKeyError>) -> String {
        r.unwrap_err().to_string()
    }

    fn obj(module: &str, name: &str, args: Vec<Value>) -> Value {
        Value::Object(Box::new(Object::reduce(Value::global(module, name), args)))
    }

    #[test]
    fn len_of_builtins() {
        assert_eq!(py_len(&s("héllo")).unwrap(), Value::Int(5));
        assert_eq!(py_len(&Value::Bytes(vec![1, 2])).unwrap(), Value::Int(2));
        assert_eq!(
            py_len(&Value::Set(Box::new(
                Set::from_values([Value::Int(1)]).unwrap()
            )))
            .unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            py_len(&Value::Dict(Box::new(Dict::new()))).unwrap(),
            Value::Int(0)
        );
        // len(range(0, 10, 3)) == len(range(10, 0, -3)) == 4; empty ranges 0.
        let r = |a, b, c| {
            obj(
                "builtins",
                "range",
                vec![Value::Int(a), Value::Int(b), Value::Int(c)],
            )
        };
        assert_eq!(py_len(&r(0, 10, 3)).unwrap(), Value::Int(4));
        assert_eq!(py_len(&r(10, 0, -3)).unwrap(), Value::Int(4));
        assert_eq!(py_len(&r(5, 0, 1)).unwrap(), Value::Int(0));
        assert_eq!(py_len(&r(i64::MIN, i64::MAX, 1)), Ok(Value::Int(i64::MAX)));
        assert_eq!(
            msg(py_len(&Value::Int(5))),
            "object of type 'int' has no len()"
        );
        assert_eq!(
            msg(py_len(&Value::None)),
            "object of type 'NoneType' has no len()"
        );
        assert!(matches!(
            py_len(&obj("m", "C", vec![])),
            Err(SortKeyError::Op(OpError::NeedsPython(_)))
        ));
    }

    #[test]
    fn abs_of_numbers() {
        assert_eq!(py_abs(&Value::Int(-3)).unwrap(), Value::Int(3));
        // abs(-2**63) leaves the i64 range.
        assert_eq!(
            py_abs(&Value::Int(i64::MIN)).unwrap().repr(),
            "9223372036854775808"
        );
        assert_eq!(
            py_abs(&Value::complex(3.0, 4.0)).unwrap(),
            Value::Float(5.0)
        );
        assert!(matches!(py_abs(&Value::Bool(true)).unwrap(), Value::Int(1)));
        assert_eq!(msg(py_abs(&s("x"))), "bad operand type for abs(): 'str'");
    }

    #[test]
    fn case_methods() {
        // (s, s.lower(), s.upper(), s.casefold()) from CPython 3.11.
        let cases = [
            ("Straße", "straße", "STRASSE", "strasse"),
            ("ΣΑΣ", "σας", "ΣΑΣ", "σασ"),
            ("ǅ", "ǆ", "Ǆ", "ǆ"),
            ("İx", "i̇x", "İX", "i̇x"),
            ("ﬁ", "ﬁ", "FI", "fi"),
            ("ẞ", "ß", "ẞ", "ss"),
            ("ı", "ı", "I", "ı"),
            ("Ꭰꭰ", "ꭰꭰ", "ᎠᎠ", "ᎠᎠ"),
        ];
        for (x, lower, upper, folded) in cases {
            assert_eq!(py_case("str", "lower", &s(x)).unwrap(), s(lower));
            assert_eq!(py_case("str", "upper", &s(x)).unwrap(), s(upper));
            assert_eq!(py_case("str", "casefold", &s(x)).unwrap(), s(folded), "{x}");
        }
        assert_eq!(
            py_case("bytes", "lower", &Value::Bytes(b"AbC".to_vec())).unwrap(),
            Value::Bytes(b"abc".to_vec())
        );
        assert_eq!(
            msg(py_case("str", "lower", &Value::Int(5))),
            "descriptor 'lower' for 'str' objects doesn't apply to a 'int' object"
        );
        assert_eq!(
            msg(py_case("bytes", "lower", &Value::ByteArray(b"A".to_vec()))),
            "descriptor 'lower' for 'bytes' objects doesn't apply to a 'bytearray' object"
        );
    }

    #[test]
    fn getitem_like_itemgetter() {
        let l = Value::List(vec![Value::Int(1), Value::Int(2)]);
        assert_eq!(py_getitem(&l, &Value::Int(-1)).unwrap(), Value::Int(2));
        assert_eq!(py_getitem(&l, &Value::Bool(true)).unwrap(), Value::Int(2));
        assert_eq!(py_getitem(&s("héllo"), &Value::Int(1)).unwrap(), s("é"));
        assert_eq!(
            py_getitem(&Value::Bytes(b"a".to_vec()), &Value::Int(0)).unwrap(),
            Value::Int(97)
        );
        let d = Value::from(Dict::from_pairs([(s("k"), Value::Int(1))]).unwrap());
        assert_eq!(py_getitem(&d, &s("k")).unwrap(), Value::Int(1));
        assert_eq!(
            py_getitem(&d, &s("x")),
            Err(SortKeyError::MissingKey(s("x")))
        );
        assert_eq!(msg(py_getitem(&d, &s("x"))), "'x'");
        assert_eq!(
            msg(py_getitem(&d, &Value::List(vec![]))),
            "unhashable type: 'list'"
        );
        // Messages of CPython 3.11.
        let five = Value::Int(5);
        let k = s("k");
        let cases: Vec<(Value, &Value, &str)> = vec![
            (l.clone(), &five, "list index out of range"),
            (
                Value::tuple([Value::Int(1)]),
                &five,
                "tuple index out of range",
            ),
            (s("a"), &five, "string index out of range"),
            (Value::Bytes(b"a".to_vec()), &five, "index out of range"),
            (
                Value::ByteArray(b"a".to_vec()),
                &five,
                "bytearray index out of range",
            ),
            (
                l.clone(),
                &k,
                "list indices must be integers or slices, not str",
            ),
            (
                Value::tuple([]),
                &k,
                "tuple indices must be integers or slices, not str",
            ),
            (s("a"), &k, "string indices must be integers, not 'str'"),
            (
                Value::Bytes(vec![]),
                &k,
                "byte indices must be integers or slices, not str",
            ),
            (
                Value::ByteArray(vec![]),
                &k,
                "bytearray indices must be integers or slices, not str",
            ),
            (
                Value::Set(Box::default()),
                &five,
                "'set' object is not subscriptable",
            ),
            (Value::Int(1), &five, "'int' object is not subscriptable"),
            (Value::None, &five, "'NoneType' object is not subscriptable"),
        ];
        for (c, i, want) in cases {
            assert_eq!(msg(py_getitem(&c, i)), want);
        }
        let big = Value::from_bigint(num_bigint::BigInt::from(2).pow(70));
        assert_eq!(
            py_getitem(&l, &big),
            Err(SortKeyError::IndexOutOfRange(
                "cannot fit 'int' into an index-sized integer".into()
            ))
        );
        assert_eq!(
            msg(py_getitem(&l, &Value::Float(1.0))),
            "list indices must be integers or slices, not float"
        );
    }
}
