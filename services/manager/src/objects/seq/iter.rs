//! Turning an iterable argument into items, as `list(v)` would: the value
//! kinds CPython clients send as iterables (sequences, sets, dict keys,
//! `str`, `bytes`, `range`, pickled `reversed`/`iter` objects,
//! `array.array`) and proxies of this manager's own objects.

use super::{check_size, int_of, not_an_integer, Int};
use crate::objects::CallCtx;
use crate::pyexc::PyException;
use mpcluster_wire::{Object, Value};
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive, Zero};

/// The items of an iterable argument, as `list(v)` would produce them:
/// sequences, sets, dicts (their keys), `str` (characters), `bytes` (ints),
/// `range`, `reversed`/`iter` values, `array.array`, and proxies of this
/// manager's own objects (iterated as the client's proxy would be).
///
/// Callers must not hold their own object's lock: the argument may be a
/// proxy of that very object.
pub fn iterate(ctx: &CallCtx<'_>, v: &Value) -> Result<Vec<Value>, PyException> {
    try_iterate(ctx, v)?.ok_or_else(|| not_iterable(v))
}

/// [`iterate`], with `None` when `v` is not iterable, for callers whose
/// message differs (`l[0:1] = 5`: `can only assign an iterable`).
pub fn try_iterate(ctx: &CallCtx<'_>, v: &Value) -> Result<Option<Vec<Value>>, PyException> {
    if let Some(items) = iterate_plain(v)? {
        return Ok(Some(items));
    }
    match ctx.resolve_proxy(v) {
        // Objects that cannot be pickled (a `Queue`) are not iterable either.
        Some(entry) => match entry.obj.get_value() {
            Ok(value) => iterate_plain(&value),
            Err(_) => Ok(None),
        },
        None => Ok(None),
    }
}

fn not_iterable(v: &Value) -> PyException {
    PyException::type_error(format!("'{}' object is not iterable", v.type_name()))
}

/// [`iterate`] for values that are not proxies; `None` when `v` is not a
/// kind of iterable the server can walk.
pub fn iterate_plain(v: &Value) -> Result<Option<Vec<Value>>, PyException> {
    let items = match v {
        Value::List(_) | Value::Tuple(_) => v.detached_items()?.unwrap_or_default(),
        Value::Set(s) | Value::FrozenSet(s) => s.iter().cloned().collect(),
        Value::Dict(d) => d.keys().cloned().collect(),
        Value::Str(_) | Value::SurrogateStr(_) => v.str_items().unwrap_or_default(),
        Value::Bytes(b) | Value::ByteArray(b) => b.iter().map(|&x| Value::Int(x as i64)).collect(),
        Value::Object(o) => return iterate_object(o),
        _ => return Ok(None),
    };
    Ok(Some(items))
}

fn iterate_object(o: &Object) -> Result<Option<Vec<Value>>, PyException> {
    let Some(g) = o.global() else { return Ok(None) };
    let args = o.args();
    match (g.module.as_str(), g.name.as_str(), args) {
        ("builtins", "range", [start, stop, step]) => range_items(start, stop, step).map(Some),
        // `reversed(seq)` with its index (`BUILD`): items `index..=0`.
        ("builtins", "reversed", [seq]) => {
            let Some(items) = iterate_plain(seq)? else {
                return Ok(None);
            };
            let last = items.len() as i64 - 1;
            let index = o
                .state
                .as_ref()
                .and_then(int_of)
                .map_or(last, Int::saturate);
            let upto = index.clamp(-1, last);
            Ok(Some(
                items.into_iter().take((upto + 1) as usize).rev().collect(),
            ))
        }
        // `iter(seq)` with its position (`BUILD`), as list and tuple
        // iterators pickle.
        ("builtins", "iter", [seq]) => {
            let Some(items) = iterate_plain(seq)? else {
                return Ok(None);
            };
            let pos = o.state.as_ref().and_then(int_of).map_or(0, Int::saturate);
            let skip = usize::try_from(pos).unwrap_or(0);
            Ok(Some(items.into_iter().skip(skip).collect()))
        }
        ("builtins", "bytearray", [bytes]) => iterate_plain(bytes),
        ("array", "array", _) => crate::objects::array::items_of_value(o).map(Some),
        _ => Ok(None),
    }
}

/// The items of `range(start, stop, step)`, refused beyond [`MAX_ITEMS`].
fn range_items(start: &Value, stop: &Value, step: &Value) -> Result<Vec<Value>, PyException> {
    let big = |v: &Value| -> Result<BigInt, PyException> {
        match v {
            Value::Int(i) => Ok(BigInt::from(*i)),
            Value::Bool(b) => Ok(BigInt::from(*b as i64)),
            Value::BigInt(b) => Ok((**b).clone()),
            other => Err(not_an_integer(other)),
        }
    };
    let (start, stop, step) = (big(start)?, big(stop)?, big(step)?);
    if step.is_zero() {
        return Err(PyException::value_error("range() arg 3 must not be zero"));
    }
    // Length as CPython's `compute_range_length`.
    let span = if step.is_positive() {
        &stop - &start
    } else {
        &start - &stop
    };
    let len = if span.is_positive() {
        (span - 1) / step.abs() + 1
    } else {
        BigInt::zero()
    };
    let n = len.to_usize().unwrap_or(usize::MAX);
    check_size(n)?;
    let mut out = Vec::with_capacity(n);
    let mut x = start;
    for _ in 0..n {
        out.push(Value::from_bigint(x.clone()));
        x += &step;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::builtin_call;
    use crate::pyexc::ExcKind;
    use crate::store::Store;

    #[test]
    fn iterables() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let range = builtin_call("range", vec![Value::Int(0), Value::Int(7), Value::Int(3)]);
        assert_eq!(
            iterate(&ctx, &range).unwrap(),
            vec![Value::Int(0), Value::Int(3), Value::Int(6)]
        );
        let down = builtin_call("range", vec![Value::Int(3), Value::Int(0), Value::Int(-1)]);
        assert_eq!(
            iterate(&ctx, &down).unwrap(),
            vec![Value::Int(3), Value::Int(2), Value::Int(1)]
        );
        let huge = builtin_call(
            "range",
            vec![Value::Int(0), Value::Int(i64::MAX), Value::Int(1)],
        );
        assert_eq!(iterate(&ctx, &huge).unwrap_err().kind, ExcKind::MemoryError);
        assert_eq!(
            iterate(&ctx, &Value::from("ab")).unwrap(),
            vec![Value::from("a"), Value::from("b")]
        );
        assert_eq!(
            iterate(&ctx, &Value::Bytes(vec![7])).unwrap(),
            vec![Value::Int(7)]
        );
        let mut rev = Object::reduce(
            Value::global("builtins", "reversed"),
            vec![Value::List(vec![
                Value::Int(1),
                Value::Int(2),
                Value::Int(3),
            ])],
        );
        rev.state = Some(Value::Int(1));
        assert_eq!(
            iterate(&ctx, &Value::Object(Box::new(rev))).unwrap(),
            vec![Value::Int(2), Value::Int(1)]
        );
        let e = iterate(&ctx, &Value::Int(5)).unwrap_err();
        assert_eq!(e.message(), "'int' object is not iterable");
        let e = iterate(&ctx, &Value::None).unwrap_err();
        assert_eq!(e.message(), "'NoneType' object is not iterable");
    }
}
