//! `Serialize` and `Deserialize` for [`Value`] itself, and the tagged forms
//! of the Python types serde has no word for (see `tag` in `mod.rs`).

use super::{tag, SerdeError};
use crate::value::{Build, Dict, Global, Object, Set, SurrogateStr, Value};
use num_bigint::BigInt;
use num_traits::ToPrimitive;
use serde::de::{self, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor};
use serde::ser::{SerializeSeq, SerializeTuple};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::None => s.serialize_none(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            Value::BigInt(b) => s.serialize_newtype_struct(tag::BIGINT, &BigPayload(b)),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Complex(c) => s.serialize_newtype_struct(tag::COMPLEX, &(c.0, c.1)),
            Value::Str(x) => s.serialize_str(x),
            // Tagged, with its `surrogatepass` bytes: a format that does
            // not know the tag (JSON) sees a newtype around the bytes.
            Value::SurrogateStr(x) => {
                s.serialize_newtype_struct(tag::SURROGATE_STR, &BytesPayload(x.as_bytes()))
            }
            Value::Bytes(b) => s.serialize_bytes(b),
            Value::ByteArray(b) => s.serialize_newtype_struct(tag::BYTEARRAY, &BytesPayload(b)),
            Value::Tuple(items) => {
                let mut t = s.serialize_tuple(items.len())?;
                for item in items {
                    t.serialize_element(item)?;
                }
                t.end()
            }
            Value::List(items) => s.collect_seq(items),
            Value::Dict(d) => s.collect_map(d.iter()),
            Value::Set(x) => s.serialize_newtype_struct(tag::SET, &SetItems(x)),
            Value::FrozenSet(x) => s.serialize_newtype_struct(tag::FROZENSET, &SetItems(x)),
            Value::Global(g) => s.serialize_newtype_struct(tag::GLOBAL, &(&g.module, &g.name)),
            Value::Object(o) => s.serialize_newtype_struct(tag::OBJECT, &ObjectParts(o)),
            Value::BackRef(n) => s.serialize_newtype_struct(tag::BACKREF, &(*n as u64)),
        }
    }
}

/// A big int as the widest integer that holds it, else its decimal text.
struct BigPayload<'a>(&'a BigInt);

impl Serialize for BigPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Some(u) = self.0.to_u64() {
            s.serialize_u64(u)
        } else if let Some(i) = self.0.to_i128() {
            s.serialize_i128(i)
        } else if let Some(u) = self.0.to_u128() {
            s.serialize_u128(u)
        } else {
            s.serialize_str(&self.0.to_string())
        }
    }
}

struct BytesPayload<'a>(&'a [u8]);

impl Serialize for BytesPayload<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

struct SetItems<'a>(&'a Set);

impl Serialize for SetItems<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter())
    }
}

/// An optional value as a sequence of zero or one item, so that "absent"
/// and "present and `None`" stay apart.
struct Opt<'a>(Option<&'a Value>);

impl Serialize for Opt<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(usize::from(self.0.is_some())))?;
        if let Some(v) = self.0 {
            seq.serialize_element(v)?;
        }
        seq.end()
    }
}

struct Pairs<'a>(&'a [(Value, Value)]);

impl Serialize for Pairs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(|(k, v)| (k, v)))
    }
}

/// An object's recipe as the 7-tuple `(kind, constructor, args, [kwargs],
/// list_items, dict_items, [state])`, `kind` being `"reduce"` or `"newobj"`.
struct ObjectParts<'a>(&'a Object);

impl Serialize for ObjectParts<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let o = self.0;
        let (kind, ctor, args, kwargs) = match &o.build {
            Build::Reduce { callable, args } => ("reduce", callable, args, None),
            Build::NewObj { cls, args, kwargs } => ("newobj", cls, args, kwargs.as_ref()),
        };
        let mut t = s.serialize_tuple(7)?;
        t.serialize_element(kind)?;
        t.serialize_element(ctor)?;
        t.serialize_element(args)?;
        t.serialize_element(&Opt(kwargs))?;
        t.serialize_element(&o.list_items)?;
        t.serialize_element(&Pairs(&o.dict_items))?;
        t.serialize_element(&Opt(o.state.as_ref()))?;
        t.end()
    }
}

/// The owned 7-tuple of [`ObjectParts`], moving the object's parts.
pub(crate) fn object_into_parts(o: Object) -> Value {
    let (kind, ctor, args, kwargs) = match o.build {
        Build::Reduce { callable, args } => ("reduce", callable, args, None),
        Build::NewObj { cls, args, kwargs } => ("newobj", cls, args, kwargs),
    };
    let pairs = o
        .dict_items
        .into_iter()
        .map(|(k, v)| Value::Tuple(vec![k, v]))
        .collect();
    Value::Tuple(vec![
        Value::str(kind),
        ctor,
        args,
        Value::List(kwargs.into_iter().collect()),
        Value::List(o.list_items),
        Value::List(pairs),
        Value::List(o.state.into_iter().collect()),
    ])
}

fn bad(what: &str) -> SerdeError {
    SerdeError::Message(format!("malformed {what} payload"))
}

/// Items of a list or tuple payload.
fn items(v: Value, what: &str) -> Result<Vec<Value>, SerdeError> {
    match v {
        Value::List(items) | Value::Tuple(items) => Ok(items),
        _ => Err(bad(what)),
    }
}

/// Zero or one item of an [`Opt`] payload.
fn opt(v: Value, what: &str) -> Result<Option<Value>, SerdeError> {
    let mut it = items(v, what)?.into_iter();
    let first = it.next();
    match it.next() {
        None => Ok(first),
        Some(_) => Err(bad(what)),
    }
}

fn object_from_parts(v: Value) -> Result<Object, SerdeError> {
    let parts: [Value; 7] = items(v, "object")?.try_into().map_err(|_| bad("object"))?;
    let [kind, ctor, args, kwargs, list_items, dict_items, state] = parts;
    let build = match kind.as_str() {
        Some("reduce") => Build::Reduce {
            callable: ctor,
            args,
        },
        Some("newobj") => Build::NewObj {
            cls: ctor,
            args,
            kwargs: opt(kwargs, "object kwargs")?,
        },
        _ => return Err(bad("object kind")),
    };
    let dict_items = items(dict_items, "object dict items")?
        .into_iter()
        .map(|pair| {
            let [k, v]: [Value; 2] = items(pair, "object dict item")?
                .try_into()
                .map_err(|_| bad("object dict item"))?;
            Ok((k, v))
        })
        .collect::<Result<Vec<_>, SerdeError>>()?;
    Ok(Object {
        build,
        list_items: items(list_items, "object list items")?,
        dict_items,
        state: opt(state, "object state")?,
    })
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        _ => None,
    }
}

/// The Python value a tagged payload stands for.
pub(crate) fn from_tagged(name: &str, payload: Value) -> Result<Value, SerdeError> {
    Ok(match name {
        tag::TUPLE => Value::Tuple(items(payload, "tuple")?),
        tag::BIGINT => match payload {
            Value::Int(_) | Value::BigInt(_) => payload,
            Value::Str(s) => Value::from_bigint(s.parse::<BigInt>().map_err(|_| bad("int"))?),
            _ => return Err(bad("int")),
        },
        tag::COMPLEX => match items(payload, "complex")?.as_slice() {
            [re, im] => match (number(re), number(im)) {
                (Some(re), Some(im)) => Value::complex(re, im),
                _ => return Err(bad("complex")),
            },
            _ => return Err(bad("complex")),
        },
        tag::BYTEARRAY => match payload {
            Value::Bytes(b) | Value::ByteArray(b) => Value::ByteArray(b),
            _ => return Err(bad("bytearray")),
        },
        tag::SET => Value::Set(Box::new(Set::from_values(items(payload, "set")?)?)),
        tag::FROZENSET => {
            Value::FrozenSet(Box::new(Set::from_values(items(payload, "frozenset")?)?))
        }
        tag::GLOBAL => match items(payload, "global")?.as_slice() {
            [Value::Str(m), Value::Str(n)] => {
                Value::Global(Box::new(Global::new(m.as_str(), n.as_str())))
            }
            _ => return Err(bad("global")),
        },
        tag::OBJECT => Value::Object(Box::new(object_from_parts(payload)?)),
        tag::BACKREF => match payload {
            Value::Int(n) if n >= 0 => {
                Value::BackRef(usize::try_from(n).map_err(|_| bad("back reference"))?)
            }
            _ => return Err(bad("back reference")),
        },
        tag::SURROGATE_STR => match payload {
            Value::Bytes(b) => Value::SurrogateStr(
                SurrogateStr::from_surrogatepass(&b).ok_or_else(|| bad("str with surrogates"))?,
            ),
            _ => return Err(bad("str with surrogates")),
        },
        other => return Err(SerdeError::Message(format!("unknown tag {other}"))),
    })
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        // Our own deserializer answers this with the exact Python type;
        // other formats treat it as a transparent newtype.
        d.deserialize_newtype_struct(tag::VALUE, ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, i: i64) -> Result<Value, E> {
        Ok(Value::Int(i))
    }

    fn visit_u64<E: de::Error>(self, u: u64) -> Result<Value, E> {
        Ok(match i64::try_from(u) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::from_bigint(BigInt::from(u)),
        })
    }

    fn visit_i128<E: de::Error>(self, i: i128) -> Result<Value, E> {
        Ok(Value::from_bigint(BigInt::from(i)))
    }

    fn visit_u128<E: de::Error>(self, u: u128) -> Result<Value, E> {
        Ok(Value::from_bigint(BigInt::from(u)))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Value, E> {
        Ok(Value::Float(f))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::str(s))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Str(s))
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<Value, E> {
        Ok(Value::Bytes(b.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, b: Vec<u8>) -> Result<Value, E> {
        Ok(Value::Bytes(b))
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // Cap the pre-allocation: the hint comes from the peer's data.
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::List(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut d = Dict::new();
        while let Some((k, v)) = map.next_entry::<Value, Value>()? {
            d.insert(k, v).map_err(de::Error::custom)?;
        }
        Ok(Value::Dict(Box::new(d)))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Value, A::Error> {
        let (name, variant): (String, _) = data.variant()?;
        let payload: Value = variant.newtype_variant()?;
        if tag::is_tag(&name) {
            return from_tagged(&name, payload).map_err(de::Error::custom);
        }
        // A foreign format's enum: serde's externally tagged shape.
        let d = Dict::from_pairs([(Value::Str(name), payload)]).map_err(de::Error::custom)?;
        Ok(Value::Dict(Box::new(d)))
    }
}
