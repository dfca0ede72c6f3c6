//! The serde bridge: Rust types to and from [`Value`], for the Rust client
//! (typed proxies send and receive Rust values that Python clients see as
//! ordinary Python objects).
//!
//! [`to_value`] maps the serde data model onto Python types: `bool` → `bool`,
//! integers → `int` (any size, `u64::MAX` included), floats → `float`,
//! `char`/strings → `str`, `serialize_bytes` → `bytes`, `None`/unit → `None`,
//! `Some(x)` → `x`, sequences → `list`, tuples and tuple structs → `tuple`,
//! maps → `dict`, structs → `dict` keyed by field name, newtype structs →
//! their content, unit variants → the variant name as a `str`, other
//! variants → a one-item `dict` `{variant: payload}` (serde's externally
//! tagged form, as JSON has it).
//!
//! [`from_value`] takes the reverse path and accepts what a Python sender
//! naturally produces for the same shape: a `tuple`, `list`, `set` or
//! `frozenset` (or `bytes`, as ints) where a sequence is expected, an `int`
//! where a float is, `bool` where an int is (a `bool` is an `int` in
//! Python; the reverse is refused), `bytes` or `bytearray` for bytes, a
//! `dict` or a tuple for a struct, and for a struct also an opaque object's
//! `__dict__` state (a `Namespace`, a dataclass instance). A mismatch says
//! what was expected and which Python type was found: `expected an int,
//! found 'str'`.
//!
//! [`Value`] itself implements `Serialize` and `Deserialize`, so it can be a
//! field of a Rust struct. Through this bridge it keeps its exact Python type
//! (a `tuple` stays a tuple, a `set` a set, an opaque object its whole
//! recipe); through another format (JSON for the admin API) the types serde
//! lacks become their nearest form: sets and tuples as arrays, `complex` as
//! `[re, im]`, big ints as numbers or decimal strings, a global as
//! `[module, name]`. This works with "magic" newtype-struct names (the trick
//! `serde_json::RawValue` uses), listed in `tag`.

mod de;
mod ser;
mod value_impl;

use super::{names::py_type_name, OpError, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use thiserror::Error;

pub use ser::ValueSerializer;

/// Why a conversion between a Rust type and a [`Value`] failed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum SerdeError {
    /// The value has the wrong Python type for the Rust type asked for.
    #[error("expected {expected}, found '{found}'")]
    WrongType {
        expected: &'static str,
        found: String,
    },
    /// A map key Python cannot hash (`unhashable type: 'list'`).
    #[error(transparent)]
    Op(#[from] OpError),
    /// Anything else, from serde or a `Serialize`/`Deserialize` impl
    /// (`invalid value: integer `300`, expected u8`).
    #[error("{0}")]
    Message(String),
}

impl SerdeError {
    pub(crate) fn wrong_type(expected: &'static str, found: &Value) -> Self {
        if let Value::SurrogateStr(_) = found {
            return SerdeError::Message(format!(
                "a Python str holding a lone surrogate ({}) cannot become a Rust string; read it as mpcluster_wire::Value",
                found.repr_bounded(60)
            ));
        }
        SerdeError::WrongType {
            expected,
            found: py_type_name(found),
        }
    }
}

impl serde::ser::Error for SerdeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerdeError::Message(msg.to_string())
    }
}

impl serde::de::Error for SerdeError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        SerdeError::Message(msg.to_string())
    }
}

/// A Rust value as a Python [`Value`].
pub fn to_value<T: ?Sized + Serialize>(t: &T) -> Result<Value, SerdeError> {
    t.serialize(ValueSerializer)
}

/// A Rust value from a Python [`Value`], consuming it (strings and byte
/// buffers move rather than copy).
pub fn from_value<T: DeserializeOwned>(v: Value) -> Result<T, SerdeError> {
    T::deserialize(v)
}

/// [`from_value`] on a borrowed value (clones it first).
pub fn from_value_ref<T: DeserializeOwned>(v: &Value) -> Result<T, SerdeError> {
    T::deserialize(v.clone())
}

/// The newtype-struct names that carry Python types serde has no word for.
/// `Value`'s `Serialize` wraps such values in them, [`ValueSerializer`]
/// unwraps them, and the `Value` deserializer announces them as enum
/// variants to `Value`'s own `Deserialize` (which asks for [`tag::VALUE`]).
pub(crate) mod tag {
    /// Asked for by `Value::deserialize`: "give me your exact Python type".
    pub const VALUE: &str = "$mpcluster::Value";
    pub const TUPLE: &str = "$mpcluster::Tuple";
    pub const BIGINT: &str = "$mpcluster::BigInt";
    pub const COMPLEX: &str = "$mpcluster::Complex";
    pub const BYTEARRAY: &str = "$mpcluster::ByteArray";
    pub const SET: &str = "$mpcluster::Set";
    pub const FROZENSET: &str = "$mpcluster::FrozenSet";
    pub const GLOBAL: &str = "$mpcluster::Global";
    pub const OBJECT: &str = "$mpcluster::Object";
    pub const BACKREF: &str = "$mpcluster::BackRef";
    pub const SURROGATE_STR: &str = "$mpcluster::SurrogateStr";

    pub fn is_tag(name: &str) -> bool {
        [
            TUPLE,
            BIGINT,
            COMPLEX,
            BYTEARRAY,
            SET,
            FROZENSET,
            GLOBAL,
            OBJECT,
            BACKREF,
            SURROGATE_STR,
        ]
        .contains(&name)
    }
}

#[cfg(test)]
mod tests;
