//! Hashing consistent with Python's `==`, for dict keys and set members.
//!
//! We do not reproduce CPython's hash values (nothing on the wire depends on
//! them); we only keep the invariant that equal values hash alike, so `1`,
//! `1.0`, `True` and `1+0j` land on one key. Mutable values are unhashable
//! with CPython's message.

use super::eq::Num;
use super::{Build, OpError, Value};
use num_bigint::BigInt;
use num_traits::FromPrimitive;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Fails as `hash(v)` would in Python for `list`, `dict`, `set`,
/// `bytearray`, and any tuple or frozenset holding one of them.
pub fn check_hashable(v: &Value) -> Result<(), OpError> {
    match v {
        Value::List(_)
        | Value::BackRef(_)
        | Value::Dict(_)
        | Value::Set(_)
        | Value::ByteArray(_) => Err(OpError::Unhashable(v.type_name())),
        Value::Tuple(items) => items.iter().try_for_each(check_hashable),
        // Members of a frozenset were hashable when it was built.
        _ => Ok(()),
    }
}

/// Feeds a canonical form of `v` into `h`. Callers check hashability first;
/// unhashable parts are hashed by their contents, which is harmless.
pub(crate) fn hash_into<H: Hasher>(v: &Value, h: &mut H) {
    if let Some(n) = Num::of(v) {
        return hash_num(&n, h);
    }
    match v {
        Value::None => h.write_u8(1),
        Value::Str(s) => {
            h.write_u8(2);
            s.hash(h);
        }
        // Never equal to a `Str` (that holds no surrogate).
        Value::SurrogateStr(s) => {
            h.write_u8(2);
            s.hash(h);
        }
        Value::Bytes(b) | Value::ByteArray(b) => {
            h.write_u8(3);
            b.hash(h);
        }
        Value::Tuple(items) | Value::List(items) => {
            h.write_u8(4);
            h.write_usize(items.len());
            items.iter().for_each(|i| hash_into(i, h));
        }
        Value::Set(s) | Value::FrozenSet(s) => {
            // Order-independent: equal sets may iterate differently.
            h.write_u8(5);
            let sum = s
                .iter()
                .fold(0u64, |acc, k| acc.wrapping_add(hash_alone(k)));
            h.write_u64(sum);
        }
        Value::Dict(d) => {
            h.write_u8(6);
            let sum = d.iter().fold(0u64, |acc, (k, v)| {
                acc.wrapping_add(hash_alone(k).rotate_left(1) ^ hash_alone(v))
            });
            h.write_u64(sum);
        }
        Value::Global(g) => {
            h.write_u8(7);
            g.hash(h);
        }
        Value::Object(o) => {
            h.write_u8(8);
            match &o.build {
                Build::Reduce { callable, args } => {
                    hash_into(callable, h);
                    hash_into(args, h);
                }
                Build::NewObj { cls, args, .. } => {
                    hash_into(cls, h);
                    hash_into(args, h);
                }
            }
            if let Some(s) = &o.state {
                hash_into(s, h);
            }
        }
        Value::BackRef(n) => {
            h.write_u8(9);
            h.write_usize(*n);
        }
        // Numbers were handled above.
        Value::Bool(_) | Value::Int(_) | Value::BigInt(_) | Value::Float(_) | Value::Complex(_) => {
        }
    }
}

/// The hash of one value on its own, with fixed keys, for order-independent
/// combination inside sets.
fn hash_alone(v: &Value) -> u64 {
    let mut h = DefaultHasher::new();
    hash_into(v, &mut h);
    h.finish()
}

fn hash_num<H: Hasher>(n: &Num<'_>, h: &mut H) {
    match n {
        Num::Int(i) => {
            h.write_u8(0);
            h.write_i64(*i);
        }
        Num::Big(b) => {
            h.write_u8(10);
            b.hash(h);
        }
        Num::Float(f) => hash_float(*f, h),
        Num::Complex(re, im) if *im == 0.0 => hash_float(*re, h),
        Num::Complex(re, im) => {
            h.write_u8(11);
            h.write_u64(re.to_bits());
            h.write_u64(im.to_bits());
        }
    }
}

fn hash_float<H: Hasher>(f: f64, h: &mut H) {
    if f.is_finite() && f.fract() == 0.0 {
        // Integral floats must hash like the int they equal.
        if f >= -(2f64.powi(63)) && f < 2f64.powi(63) {
            h.write_u8(0);
            h.write_i64(f as i64);
        } else if let Some(b) = BigInt::from_f64(f) {
            h.write_u8(10);
            b.hash(h);
        }
    } else {
        h.write_u8(12);
        h.write_u64(f.to_bits());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hv(v: &Value) -> u64 {
        hash_alone(v)
    }

    #[test]
    fn equal_numbers_hash_alike() {
        assert_eq!(hv(&Value::Int(1)), hv(&Value::Float(1.0)));
        assert_eq!(hv(&Value::Int(1)), hv(&Value::Bool(true)));
        assert_eq!(hv(&Value::Int(0)), hv(&Value::Float(-0.0)));
        assert_eq!(hv(&Value::Int(2)), hv(&Value::complex(2.0, 0.0)));
        let big = Value::from_bigint(BigInt::from(10).pow(20));
        assert_eq!(hv(&big), hv(&Value::Float(1e20)));
    }

    #[test]
    fn unhashable_types() {
        assert_eq!(
            check_hashable(&Value::List(vec![])),
            Err(OpError::Unhashable("list".into()))
        );
        assert!(check_hashable(&Value::Tuple(vec![Value::Dict(Box::default())])).is_err());
        assert!(check_hashable(&Value::Tuple(vec![Value::Int(1)])).is_ok());
    }
}
