//! Python's `==` for values.
//!
//! Numbers compare across `bool`, `int`, `float` and `complex` exactly as
//! CPython does (`1 == 1.0 == True`, `2**53 + 1 != float(2**53)`), `bytes`
//! equals a `bytearray` with the same contents, `set` equals a `frozenset`,
//! dicts and sets compare without regard to order. Opaque objects are equal
//! when their pickled recipes are equal: the server cannot call `__eq__`, and
//! this is the documented stand-in.

use super::{Build, Object, Value};
use num_bigint::BigInt;
use num_traits::FromPrimitive;

impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        use Value::*;
        if let (Some(a), Some(b)) = (Num::of(self), Num::of(other)) {
            return a.eq(&b);
        }
        match (self, other) {
            (None, None) => true,
            (Str(a), Str(b)) => a == b,
            (SurrogateStr(a), SurrogateStr(b)) => a == b,
            (Bytes(a) | ByteArray(a), Bytes(b) | ByteArray(b)) => a == b,
            (Tuple(a), Tuple(b)) | (List(a), List(b)) => a == b,
            (Dict(a), Dict(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .all(|(k, v)| matches!(b.get(k), Ok(Some(w)) if v == w))
            }
            (Set(a) | FrozenSet(a), Set(b) | FrozenSet(b)) => {
                a.len() == b.len() && a.iter().all(|k| b.contains(k).unwrap_or(false))
            }
            (Global(a), Global(b)) => a == b,
            (Object(a), Object(b)) => object_eq(a, b),
            (BackRef(a), BackRef(b)) => a == b,
            _ => false,
        }
    }
}

fn object_eq(a: &Object, b: &Object) -> bool {
    let build_eq = match (&a.build, &b.build) {
        (
            Build::Reduce {
                callable: c1,
                args: a1,
            },
            Build::Reduce {
                callable: c2,
                args: a2,
            },
        ) => c1 == c2 && a1 == a2,
        (
            Build::NewObj {
                cls: c1,
                args: a1,
                kwargs: k1,
            },
            Build::NewObj {
                cls: c2,
                args: a2,
                kwargs: k2,
            },
        ) => c1 == c2 && a1 == a2 && k1 == k2,
        _ => false,
    };
    build_eq && a.list_items == b.list_items && a.dict_items == b.dict_items && a.state == b.state
}

/// A numeric view of a value, for cross-type comparison.
#[derive(Debug)]
pub(crate) enum Num<'a> {
    Int(i64),
    Big(&'a BigInt),
    Float(f64),
    Complex(f64, f64),
}

impl<'a> Num<'a> {
    pub(crate) fn of(v: &'a Value) -> Option<Num<'a>> {
        match v {
            Value::Bool(b) => Some(Num::Int(*b as i64)),
            Value::Int(i) => Some(Num::Int(*i)),
            Value::BigInt(b) => Some(Num::Big(b)),
            Value::Float(f) => Some(Num::Float(*f)),
            Value::Complex(c) => Some(Num::Complex(c.0, c.1)),
            _ => None,
        }
    }

    fn eq(&self, other: &Num<'_>) -> bool {
        use Num::*;
        match (self, other) {
            (Complex(r1, i1), Complex(r2, i2)) => r1 == r2 && i1 == i2,
            (Complex(r, i), x) | (x, Complex(r, i)) => *i == 0.0 && x.eq(&Float(*r)),
            (Int(a), Int(b)) => a == b,
            (Big(a), Big(b)) => a == b,
            (Int(_), Big(_)) | (Big(_), Int(_)) => false, // normalised: a BigInt never fits i64
            (Float(a), Float(b)) => a == b,
            (Float(f), Int(i)) | (Int(i), Float(f)) => float_eq_int(*f, &BigInt::from(*i)),
            (Float(f), Big(b)) | (Big(b), Float(f)) => float_eq_int(*f, b),
        }
    }
}

/// Exact comparison of a float and an int, as CPython's `float_richcompare`.
fn float_eq_int(f: f64, i: &BigInt) -> bool {
    if !f.is_finite() || f.fract() != 0.0 {
        return false;
    }
    // An integral finite float converts to a BigInt exactly.
    BigInt::from_f64(f).is_some_and(|fi| &fi == i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(Value::Int(1), Value::Float(1.0));
        assert_eq!(Value::Bool(true), Value::Int(1));
        assert_eq!(Value::complex(1.0, 0.0), Value::Int(1));
        assert_ne!(Value::complex(1.0, 1.0), Value::Int(1));
        assert_ne!(Value::Float(f64::NAN), Value::Float(f64::NAN));
        // 2**53 + 1 is not representable: CPython says they differ.
        assert_ne!(Value::Int((1 << 53) + 1), Value::Float((1u64 << 53) as f64));
        let big = Value::from_bigint(BigInt::from(10).pow(20));
        assert_eq!(big, Value::Float(1e20));
    }

    #[test]
    fn containers() {
        assert_eq!(Value::Bytes(b"a".to_vec()), Value::ByteArray(b"a".to_vec()));
        assert_ne!(Value::List(vec![]), Value::Tuple(vec![]));
        assert_eq!(
            Value::List(vec![Value::Int(1)]),
            Value::List(vec![Value::Float(1.0)])
        );
        assert_ne!(Value::Str("1".into()), Value::Int(1));
    }
}
