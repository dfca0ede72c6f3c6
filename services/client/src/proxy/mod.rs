//! Typed proxies, one file per kind of shared object, and what they share:
//! the [`Proxy`] trait and the conversions between Rust values and the
//! Python values of requests and replies.
//!
//! Values cross the wire through the wire crate's serde bridge
//! (`mpcluster_wire::value::serde`): a Rust struct becomes a Python `dict`
//! keyed by field name, a `Vec` a `list`, a tuple a `tuple`, and back; use
//! [`Value`] as the type parameter to see a Python value as it is. Each
//! file also adds its constructor to [`crate::Manager`]
//! (`manager.list(...)`, `manager.queue(...)`, ...).

pub(crate) mod acquirer;
pub(crate) mod array;
pub(crate) mod barrier;
pub(crate) mod condition;
pub(crate) mod dict;
pub(crate) mod event;
pub(crate) mod iterator;
pub(crate) mod list;
pub(crate) mod namespace;
pub(crate) mod queue;
pub(crate) mod value;

use crate::error::{Error, Result};
use crate::raw::RawProxy;
use crate::token::Token;
use mpcluster_wire::value::{from_value, to_value};
use mpcluster_wire::{Dict, Object, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::Duration;

/// A typed view of a shared object.
pub trait Proxy: Sized {
    /// The CPython proxy class a pickled proxy of this type names
    /// (`"ListProxy"`), or `None` for `AutoProxy` kinds (`Queue`, user
    /// typeids).
    const CLASS: Option<&'static str>;

    /// Wraps an untyped proxy (no check that the object has this kind: a
    /// wrong kind shows as remote `AttributeError`s or conversion errors on
    /// use).
    fn from_raw(raw: RawProxy) -> Self;

    /// The untyped proxy underneath.
    fn raw(&self) -> &RawProxy;

    /// The object's token, to reopen it elsewhere with
    /// [`crate::Manager::open`].
    fn token(&self) -> &Token {
        self.raw().token()
    }

    /// The proxy as a Python value (`RebuildProxy(...)`), to store inside
    /// other shared objects or hand to Python processes.
    fn to_py_value(&self) -> Value {
        self.raw().to_value(Self::CLASS)
    }
}

impl Proxy for RawProxy {
    const CLASS: Option<&'static str> = None;

    fn from_raw(raw: RawProxy) -> Self {
        raw
    }

    fn raw(&self) -> &RawProxy {
        self
    }
}

/// Implements [`Proxy`] and `Serialize` (as the `RebuildProxy` value, so a
/// proxy inside a serialized struct reaches Python as a working proxy) for
/// a typed proxy with a `raw` field.
macro_rules! typed_proxy {
    ($name:ident $(<$($p:ident),+>)?, $class:expr) => {
        impl$(<$($p),+>)? $crate::proxy::Proxy for $name$(<$($p),+>)? {
            const CLASS: Option<&'static str> = $class;

            fn from_raw(raw: $crate::raw::RawProxy) -> Self {
                $name {
                    raw,
                    $(_types: { let _: Option<($($p,)+)> = None; std::marker::PhantomData },)?
                }
            }

            fn raw(&self) -> &$crate::raw::RawProxy {
                &self.raw
            }
        }

        impl$(<$($p),+>)? serde::Serialize for $name$(<$($p),+>)? {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::proxy::Proxy::to_py_value(self).serialize(s)
            }
        }

        impl$(<$($p),+>)? Clone for $name$(<$($p),+>)? {
            fn clone(&self) -> Self {
                <Self as $crate::proxy::Proxy>::from_raw(self.raw.clone())
            }
        }

        impl$(<$($p),+>)? std::fmt::Debug for $name$(<$($p),+>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("token", $crate::proxy::Proxy::token(self))
                    .finish()
            }
        }
    };
}
pub(crate) use typed_proxy;

/// A Rust value as a Python argument.
pub(crate) fn arg<T: Serialize + ?Sized>(t: &T) -> Result<Value> {
    Ok(to_value(t)?)
}

/// A reply as a Rust value.
pub(crate) fn out<T: DeserializeOwned>(v: Value) -> Result<T> {
    Ok(from_value(v)?)
}

/// A timeout as Python seconds.
pub(crate) fn secs(d: Duration) -> Value {
    Value::Float(d.as_secs_f64())
}

/// `None` where a Python exception of type `py_type` was raised: the
/// Rust-shaped form of "try" calls (`queue.Empty` → `None`).
pub(crate) fn none_on<T>(r: Result<T>, py_type: &str) -> Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.is_remote(py_type) => Ok(None),
        Err(e) => Err(e),
    }
}

/// A `kwds` dict of one keyword argument.
pub(crate) fn kwds1(name: &str, v: Value) -> Dict {
    let mut d = Dict::new();
    // A str key is always hashable.
    let _ = d.insert(Value::from(name), v);
    d
}

/// `builtins.slice(start, stop, None)`, as CPython pickles `l[i:j]`'s
/// argument (docs/protocol.md 7.5).
pub(crate) fn slice(start: Option<i64>, stop: Option<i64>) -> Value {
    let bound = |b: Option<i64>| b.map_or(Value::None, Value::Int);
    Value::Object(Box::new(Object::reduce(
        Value::global("builtins", "slice"),
        vec![bound(start), bound(stop), Value::None],
    )))
}

/// Unwraps `builtins.iter([...])` and `builtins.list([...])`, the form dict
/// views (`keys()`, `values()`, `items()`) arrive in (docs/protocol.md 7.5);
/// anything else is returned as it is. (The wire crate's decoder already
/// builds the list of a `list([...])` call; a value made by hand may still
/// hold the call.)
pub(crate) fn unwrap_builtin_list(v: Value) -> Value {
    let is_listish = |v: &Value| {
        v.as_object_of("builtins", "list").is_some() || v.as_object_of("builtins", "iter").is_some()
    };
    if !is_listish(&v) {
        return v;
    }
    match v {
        Value::Object(o) => match o.args().first() {
            Some(inner @ (Value::List(_) | Value::Tuple(_))) => inner.clone(),
            // `list()` with no argument.
            None => Value::List(Vec::new()),
            Some(_) => Value::Object(o),
        },
        other => other,
    }
}

/// A `bool` reply.
pub(crate) fn bool_out(v: Value) -> Result<bool> {
    match v {
        Value::Bool(b) => Ok(b),
        other => Err(Error::protocol(format!(
            "expected a bool reply, got a {}",
            other.type_name()
        ))),
    }
}

/// A non-negative `int` reply (a length, a count).
pub(crate) fn usize_out(v: Value) -> Result<usize> {
    v.as_i64()
        .and_then(|n| usize::try_from(n).ok())
        .ok_or_else(|| Error::protocol(format!("expected a size, got {}", v.repr_bounded(100))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::pickle;

    #[test]
    fn dict_views_unwrap_to_lists() {
        let items = Value::List(vec![Value::Int(1), Value::Int(2)]);
        let view = Value::Object(Box::new(Object::reduce(
            Value::global("builtins", "list"),
            vec![items.clone()],
        )));
        assert_eq!(unwrap_builtin_list(view), items);
        let empty = Value::Object(Box::new(Object::reduce(
            Value::global("builtins", "list"),
            vec![],
        )));
        assert_eq!(unwrap_builtin_list(empty), Value::List(vec![]));
        assert_eq!(unwrap_builtin_list(Value::Int(3)), Value::Int(3));
    }

    #[test]
    fn slices_pickle_as_cpython_writes_them() {
        // `l[1:3]` sends `builtins.slice(1, 3, None)` (docs/protocol.md 7.5); the bytes
        // below are CPython 3.11's `pickle.dumps(slice(1, 3), 4)`.
        let want: &[u8] = b"\x80\x04\x95\x1f\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x05slice\x94\x93\x94K\x01K\x03N\x87\x94R\x94.";
        assert_eq!(pickle::encode(&slice(Some(1), Some(3))), want);
    }

    #[test]
    fn none_on_maps_only_the_named_exception() {
        let empty = Error::Remote(Box::new(crate::error::RemoteException {
            py_type: "queue.Empty".into(),
            args: vec![],
            traceback: None,
        }));
        assert!(matches!(
            none_on::<i32>(Err(empty), "queue.Empty"),
            Ok(None)
        ));
        assert!(matches!(none_on(Ok(3), "queue.Empty"), Ok(Some(3))));
        let other = Error::Protocol("x".into());
        assert!(none_on::<i32>(Err(other), "queue.Empty").is_err());
    }
}
