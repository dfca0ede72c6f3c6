//! [`ValueSerializer`]: any `Serialize` type to a [`Value`], with the
//! mapping documented in `mod.rs`.

use super::value_impl::from_tagged;
use super::{tag, SerdeError};
use crate::value::{Dict, Value};
use num_bigint::BigInt;
use serde::ser::{self, Serialize};

/// A serde `Serializer` whose output is a [`Value`].
#[derive(Clone, Copy, Debug, Default)]
pub struct ValueSerializer;

fn to_value<T: ?Sized + Serialize>(t: &T) -> Result<Value, SerdeError> {
    t.serialize(ValueSerializer)
}

/// `{variant: payload}`, serde's externally tagged enum form.
fn tagged(variant: &str, payload: Value) -> Result<Value, SerdeError> {
    Ok(Value::from(Dict::from_pairs([(
        Value::str(variant),
        payload,
    )])?))
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = SerdeError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> Result<Value, SerdeError> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, SerdeError> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, SerdeError> {
        Ok(Value::from_bigint(BigInt::from(v)))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, SerdeError> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, SerdeError> {
        Ok(Value::from_bigint(BigInt::from(v)))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, SerdeError> {
        Ok(Value::from_bigint(BigInt::from(v)))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, SerdeError> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, SerdeError> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, SerdeError> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, SerdeError> {
        Ok(Value::str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, SerdeError> {
        Ok(Value::Bytes(v.to_vec()))
    }
    fn serialize_none(self) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, v: &T) -> Result<Value, SerdeError> {
        to_value(v)
    }
    fn serialize_unit(self) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, SerdeError> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, SerdeError> {
        Ok(Value::str(variant))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(
        self,
        name: &'static str,
        v: &T,
    ) -> Result<Value, SerdeError> {
        let inner = to_value(v)?;
        if tag::is_tag(name) {
            return from_tagged(name, inner);
        }
        Ok(inner)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, SerdeError> {
        tagged(variant, to_value(v)?)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer::new(SeqKind::List, len))
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer::new(SeqKind::Tuple, Some(len)))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer::new(SeqKind::Tuple, Some(len)))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, SerdeError> {
        Ok(SeqSer::new(SeqKind::Variant(variant), Some(len)))
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, SerdeError> {
        Ok(MapSer::new(None))
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer, SerdeError> {
        Ok(MapSer::new(None))
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer, SerdeError> {
        Ok(MapSer::new(Some(variant)))
    }
}

#[derive(Clone, Copy, Debug)]
enum SeqKind {
    List,
    Tuple,
    /// A tuple variant: `{variant: (items...)}`.
    Variant(&'static str),
}

/// Collects the items of a sequence, tuple or tuple variant.
pub struct SeqSer {
    kind: SeqKind,
    items: Vec<Value>,
}

impl SeqSer {
    fn new(kind: SeqKind, len: Option<usize>) -> Self {
        SeqSer {
            kind,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
        }
    }

    fn push<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.items.push(to_value(v)?);
        Ok(())
    }

    fn done(self) -> Result<Value, SerdeError> {
        match self.kind {
            SeqKind::List => Ok(Value::List(self.items)),
            SeqKind::Tuple => Ok(Value::Tuple(self.items)),
            SeqKind::Variant(name) => tagged(name, Value::Tuple(self.items)),
        }
    }
}

impl ser::SerializeSeq for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

impl ser::SerializeTuple for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

impl ser::SerializeTupleVariant for SeqSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        self.push(v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

/// Collects a map, struct or struct variant into a dict.
pub struct MapSer {
    dict: Dict,
    key: Option<Value>,
    variant: Option<&'static str>,
}

impl MapSer {
    fn new(variant: Option<&'static str>) -> Self {
        MapSer {
            dict: Dict::new(),
            key: None,
            variant,
        }
    }

    fn done(self) -> Result<Value, SerdeError> {
        let d = Value::from(self.dict);
        match self.variant {
            Some(name) => tagged(name, d),
            None => Ok(d),
        }
    }

    fn field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerdeError> {
        self.dict.insert(Value::str(name), to_value(v)?)?;
        Ok(())
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, k: &T) -> Result<(), SerdeError> {
        self.key = Some(to_value(k)?);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, v: &T) -> Result<(), SerdeError> {
        let Some(k) = self.key.take() else {
            return Err(SerdeError::Message("map value without a key".into()));
        };
        self.dict.insert(k, to_value(v)?)?;
        Ok(())
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

impl ser::SerializeStruct for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerdeError> {
        self.field(name, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}

impl ser::SerializeStructVariant for MapSer {
    type Ok = Value;
    type Error = SerdeError;
    fn serialize_field<T: ?Sized + Serialize>(
        &mut self,
        name: &'static str,
        v: &T,
    ) -> Result<(), SerdeError> {
        self.field(name, v)
    }
    fn end(self) -> Result<Value, SerdeError> {
        self.done()
    }
}
