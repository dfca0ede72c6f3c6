//! A [`Value`] as a serde `Deserializer`: `T::deserialize(value)` builds any
//! `Deserialize` type from a Python value, with the leniency and the error
//! messages documented in `mod.rs`. The value is consumed, so strings and
//! byte buffers move into the result.

use super::value_impl::object_into_parts;
use super::{tag, SerdeError};
use crate::value::{Dict, Value};
use num_bigint::BigInt;
use num_traits::ToPrimitive;
use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};

type Result<T> = std::result::Result<T, SerdeError>;

/// A big int to the visitor as the narrowest integer type that holds it.
fn visit_big<'de, V: Visitor<'de>>(b: &BigInt, visitor: V) -> Result<V::Value> {
    if let Some(i) = b.to_i64() {
        visitor.visit_i64(i)
    } else if let Some(u) = b.to_u64() {
        visitor.visit_u64(u)
    } else if let Some(i) = b.to_i128() {
        visitor.visit_i128(i)
    } else if let Some(u) = b.to_u128() {
        visitor.visit_u128(u)
    } else {
        Err(SerdeError::Message(format!(
            "int too large for any Rust integer type: {b}"
        )))
    }
}

/// The items of anything Python would iterate as a sequence, or `None`.
fn seq_items(v: Value) -> std::result::Result<Vec<Value>, Value> {
    match v {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        Value::Set(s) | Value::FrozenSet(s) => Ok(s.into_iter().collect()),
        // `list(b'ab') == [97, 98]`: a Vec<u8> field accepts bytes.
        Value::Bytes(b) | Value::ByteArray(b) => {
            Ok(b.into_iter().map(|x| Value::Int(x.into())).collect())
        }
        other => Err(other),
    }
}

fn visit_items<'de, V: Visitor<'de>>(items: Vec<Value>, visitor: V) -> Result<V::Value> {
    let len = items.len();
    let mut access = SeqAccess {
        iter: items.into_iter(),
    };
    let out = visitor.visit_seq(&mut access)?;
    if access.iter.len() == 0 {
        Ok(out)
    } else {
        Err(de::Error::invalid_length(len, &"fewer elements"))
    }
}

fn visit_dict<'de, V: Visitor<'de>>(d: Dict, visitor: V) -> Result<V::Value> {
    let mut access = MapAccess {
        iter: d.into_iter(),
        value: None,
    };
    visitor.visit_map(&mut access)
}

impl<'de> IntoDeserializer<'de, SerdeError> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

macro_rules! ints {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            match self {
                Value::Int(i) => visitor.visit_i64(i),
                Value::Bool(b) => visitor.visit_i64(i64::from(b)),
                Value::BigInt(b) => visit_big(&b, visitor),
                other => Err(SerdeError::wrong_type("an int", &other)),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = SerdeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Int(i) => visitor.visit_i64(i),
            Value::BigInt(b) => visit_big(&b, visitor),
            Value::Float(f) => visitor.visit_f64(f),
            Value::Complex(c) => visit_items(vec![Value::Float(c.0), Value::Float(c.1)], visitor),
            Value::Str(s) => visitor.visit_string(s),
            // A Rust `String` cannot hold it; say why rather than hand
            // over bytes a `String` would refuse with a vaguer message.
            s @ Value::SurrogateStr(_) => Err(SerdeError::wrong_type("a str", &s)),
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_byte_buf(b),
            Value::Dict(d) => visit_dict(*d, visitor),
            Value::Global(g) => visitor.visit_string(format!("{}.{}", g.module, g.name)),
            Value::Object(o) => Err(SerdeError::Message(format!(
                "cannot deserialize an opaque '{}' object",
                o.type_name()
            ))),
            Value::BackRef(_) => Err(SerdeError::Message(
                "cannot deserialize a list that contains itself".into(),
            )),
            v @ (Value::List(_) | Value::Tuple(_) | Value::Set(_) | Value::FrozenSet(_)) => {
                match seq_items(v) {
                    Ok(items) => visit_items(items, visitor),
                    Err(v) => Err(SerdeError::wrong_type("a sequence", &v)),
                }
            }
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Bool(b) => visitor.visit_bool(b),
            other => Err(SerdeError::wrong_type("a bool", &other)),
        }
    }

    ints!(deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
          deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128);

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Float(f) => visitor.visit_f64(f),
            Value::Int(i) => visitor.visit_f64(i as f64),
            Value::Bool(b) => visitor.visit_f64(f64::from(u8::from(b))),
            // float(10**400) raises OverflowError in Python too.
            Value::BigInt(b) => match b.to_f64() {
                Some(f) if f.is_finite() => visitor.visit_f64(f),
                _ => Err(SerdeError::Message(
                    "int too large to convert to float".into(),
                )),
            },
            other => Err(SerdeError::wrong_type("a float", &other)),
        }
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Str(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => visitor.visit_char(c),
                    _ => Err(SerdeError::Message(format!(
                        "expected a one-character str, found a str of length {}",
                        s.chars().count()
                    ))),
                }
            }
            other => Err(SerdeError::wrong_type("a one-character str", &other)),
        }
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_string(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Str(s) => visitor.visit_string(s),
            other => Err(SerdeError::wrong_type("a str", &other)),
        }
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_byte_buf(visitor)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Bytes(b) | Value::ByteArray(b) => visitor.visit_byte_buf(b),
            other => Err(SerdeError::wrong_type("bytes", &other)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::None => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::None => visitor.visit_unit(),
            other => Err(SerdeError::wrong_type("None", &other)),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name != tag::VALUE {
            return visitor.visit_newtype_struct(self);
        }
        // `Value::deserialize` asks for the exact Python type: the types
        // serde cannot express natively come as a tagged enum variant.
        let (tag, payload) = match self {
            Value::Tuple(items) => (tag::TUPLE, Value::List(items)),
            Value::BigInt(b) => (tag::BIGINT, Value::Str(b.to_string())),
            Value::Complex(c) => (
                tag::COMPLEX,
                Value::Tuple(vec![Value::Float(c.0), Value::Float(c.1)]),
            ),
            Value::ByteArray(b) => (tag::BYTEARRAY, Value::Bytes(b)),
            Value::Set(s) => (tag::SET, Value::List(s.into_iter().collect())),
            Value::FrozenSet(s) => (tag::FROZENSET, Value::List(s.into_iter().collect())),
            Value::Global(g) => (
                tag::GLOBAL,
                Value::Tuple(vec![Value::Str(g.module), Value::Str(g.name)]),
            ),
            Value::Object(o) => (tag::OBJECT, object_into_parts(*o)),
            Value::BackRef(n) => (
                tag::BACKREF,
                Value::Int(i64::try_from(n).unwrap_or(i64::MAX)),
            ),
            Value::SurrogateStr(s) => (tag::SURROGATE_STR, Value::Bytes(s.as_bytes().to_vec())),
            native => return native.deserialize_any(visitor),
        };
        visitor.visit_enum(EnumAccess {
            variant: tag.to_string(),
            value: Some(payload),
        })
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match seq_items(self) {
            Ok(items) => visit_items(items, visitor),
            Err(other) => Err(SerdeError::wrong_type("a sequence", &other)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Dict(d) => visit_dict(*d, visitor),
            other => Err(SerdeError::wrong_type("a dict", &other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self {
            Value::Dict(d) => visit_dict(*d, visitor),
            // A namedtuple-like tuple fills the fields in order.
            Value::Tuple(items) | Value::List(items) => visit_items(items, visitor),
            // An instance's attributes (`BUILD` with a `__dict__`).
            Value::Object(o) => match o.state {
                Some(Value::Dict(d)) => visit_dict(*d, visitor),
                _ => Err(SerdeError::Message(format!(
                    "expected a dict, found a '{}' object without attributes",
                    o.type_name()
                ))),
            },
            other => Err(SerdeError::wrong_type("a dict", &other)),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self {
            Value::Str(s) => visitor.visit_enum(EnumAccess {
                variant: s,
                value: None,
            }),
            Value::Dict(d) if d.len() == 1 => {
                let mut it = d.into_iter();
                match it.next() {
                    Some((Value::Str(k), v)) => visitor.visit_enum(EnumAccess {
                        variant: k,
                        value: Some(v),
                    }),
                    Some((k, _)) => Err(SerdeError::wrong_type("a str variant name", &k)),
                    None => Err(SerdeError::Message("empty enum dict".into())),
                }
            }
            other => Err(SerdeError::wrong_type("a str or a one-item dict", &other)),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self {
            Value::Str(s) => visitor.visit_string(s),
            Value::Int(i) if i >= 0 => visitor.visit_u64(i.unsigned_abs()),
            other => Err(SerdeError::wrong_type("a str", &other)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }
}

struct SeqAccess {
    iter: std::vec::IntoIter<Value>,
}

impl<'de> de::SeqAccess<'de> for SeqAccess {
    type Error = SerdeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        self.iter.next().map(|v| seed.deserialize(v)).transpose()
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

struct MapAccess {
    iter: <Dict as IntoIterator>::IntoIter,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for MapAccess {
    type Error = SerdeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(k).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(SerdeError::Message(
                "map value requested before its key".into(),
            )),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

/// An enum variant: its name and its payload, if any.
struct EnumAccess {
    variant: String,
    value: Option<Value>,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = SerdeError;
    type Variant = VariantAccess;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, VariantAccess)> {
        let name = seed.deserialize(Value::Str(self.variant))?;
        Ok((name, VariantAccess { value: self.value }))
    }
}

struct VariantAccess {
    value: Option<Value>,
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = SerdeError;

    fn unit_variant(self) -> Result<()> {
        match self.value {
            None | Some(Value::None) => Ok(()),
            Some(other) => Err(SerdeError::wrong_type("None for a unit variant", &other)),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        match self.value {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"newtype variant",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value> {
        match self.value {
            Some(v) => de::Deserializer::deserialize_seq(v, visitor),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"tuple variant",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Some(v) => de::Deserializer::deserialize_struct(v, "", fields, visitor),
            None => Err(de::Error::invalid_type(
                de::Unexpected::UnitVariant,
                &"struct variant",
            )),
        }
    }
}
