//! Reads pickled `array.array` values into plain Python values.
//!
//! An `ArrayProxy`'s `#GETVALUE` and slices return the `array.array`
//! itself, in one of three forms:
//!
//! * `array._array_reconstructor(array.array, typecode, mformat, bytes)`:
//!   what CPython's `array.__reduce_ex__` writes at protocol 3 and up, the
//!   machine format code naming size, signedness and byte order;
//! * `array.array(typecode, bytes)`: the mpcluster server's form (spec
//!   7.5), items in x86-64 CPython's native little-endian sizes;
//! * `array.array(typecode, list)`: protocols 0-2.
//!
//! The result is a `list` of ints, floats or one-character strs.

use crate::error::{Error, Result};
use mpcluster_wire::Value;

/// How the items of an array's bytes are laid out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Layout {
    Int {
        size: usize,
        signed: bool,
        big: bool,
    },
    Float {
        size: usize,
        big: bool,
    },
    /// UTF-16 or UTF-32 code units, one character each.
    Char {
        size: usize,
        big: bool,
    },
}

/// CPython's `enum machine_format_code` (`arraymodule.c`).
fn layout_of_mformat(code: i64) -> Option<Layout> {
    let int = |size, signed, big| Some(Layout::Int { size, signed, big });
    match code {
        0 => int(1, false, false),
        1 => int(1, true, false),
        2..=13 => {
            // 2-5: 16 bit, 6-9: 32 bit, 10-13: 64 bit; within each group
            // unsigned LE, unsigned BE, signed LE, signed BE.
            let group = (code - 2) / 4;
            let within = (code - 2) % 4;
            let size = 2usize << group;
            int(size, within >= 2, within % 2 == 1)
        }
        14 => Some(Layout::Float {
            size: 4,
            big: false,
        }),
        15 => Some(Layout::Float { size: 4, big: true }),
        16 => Some(Layout::Float {
            size: 8,
            big: false,
        }),
        17 => Some(Layout::Float { size: 8, big: true }),
        18 => Some(Layout::Char {
            size: 2,
            big: false,
        }),
        19 => Some(Layout::Char { size: 2, big: true }),
        20 => Some(Layout::Char {
            size: 4,
            big: false,
        }),
        21 => Some(Layout::Char { size: 4, big: true }),
        _ => None,
    }
}

/// The layout of a typecode on x86-64 Linux CPython (LP64, little-endian).
fn layout_of_typecode(tc: &str) -> Option<Layout> {
    let int = |size, signed| {
        Some(Layout::Int {
            size,
            signed,
            big: false,
        })
    };
    match tc {
        "b" => int(1, true),
        "B" => int(1, false),
        "h" => int(2, true),
        "H" => int(2, false),
        "i" => int(4, true),
        "I" => int(4, false),
        "l" | "q" => int(8, true),
        "L" | "Q" => int(8, false),
        "f" => Some(Layout::Float {
            size: 4,
            big: false,
        }),
        "d" => Some(Layout::Float {
            size: 8,
            big: false,
        }),
        "u" | "w" => Some(Layout::Char {
            size: 4,
            big: false,
        }),
        _ => None,
    }
}

/// The items of an `array.array` value as a `list`, or `None` when `v` is
/// not an array.
pub(crate) fn array_items(v: &Value) -> Option<Result<Value>> {
    if let Some(o) = v.as_object_of("array", "_array_reconstructor") {
        let [_, _tc, Value::Int(mformat), Value::Bytes(bytes)] = o.args() else {
            return Some(Err(bad("array reconstructor arguments")));
        };
        return Some(match layout_of_mformat(*mformat) {
            Some(layout) => decode(layout, bytes),
            None => Err(bad("array machine format code")),
        });
    }
    let o = v.as_object_of("array", "array")?;
    Some(match o.args() {
        [Value::Str(tc), Value::Bytes(bytes)] => match layout_of_typecode(tc) {
            Some(layout) => decode(layout, bytes),
            None => Err(bad("array typecode")),
        },
        [Value::Str(_), Value::List(items)] => Ok(Value::List(items.clone())),
        [Value::Str(_)] => Ok(Value::List(Vec::new())),
        _ => Err(bad("array arguments")),
    })
}

fn bad(what: &str) -> Error {
    Error::protocol(format!("unexpected {what} in an array value"))
}

fn decode(layout: Layout, bytes: &[u8]) -> Result<Value> {
    let size = match layout {
        Layout::Int { size, .. } | Layout::Float { size, .. } | Layout::Char { size, .. } => size,
    };
    if !bytes.len().is_multiple_of(size) {
        return Err(bad("array byte length"));
    }
    bytes
        .chunks_exact(size)
        .map(|chunk| item(layout, chunk))
        .collect::<Result<Vec<_>>>()
        .map(Value::List)
}

/// One item; `chunk` has exactly the layout's size (`chunks_exact`).
fn item(layout: Layout, chunk: &[u8]) -> Result<Value> {
    let mut buf = [0u8; 8];
    let big = match layout {
        Layout::Int { big, .. } | Layout::Float { big, .. } | Layout::Char { big, .. } => big,
    };
    // Normalise to little-endian in the low bytes of `buf`.
    for (i, b) in chunk.iter().enumerate() {
        let at = if big { chunk.len() - 1 - i } else { i };
        if let Some(slot) = buf.get_mut(at) {
            *slot = *b;
        }
    }
    let raw = u64::from_le_bytes(buf);
    let bits = chunk.len() * 8;
    Ok(match layout {
        Layout::Int { signed: false, .. } => match i64::try_from(raw) {
            Ok(i) => Value::Int(i),
            Err(_) => Value::from_bigint(raw.into()),
        },
        Layout::Int { signed: true, .. } => {
            // Sign-extend from the item's width.
            let shift = 64 - bits;
            Value::Int(((raw << shift) as i64) >> shift)
        }
        Layout::Float { size: 4, .. } => Value::Float(f32::from_bits(raw as u32).into()),
        Layout::Float { .. } => Value::Float(f64::from_bits(raw)),
        Layout::Char { .. } => {
            let c = char::from_u32(raw as u32).ok_or_else(|| bad("array character"))?;
            Value::Str(c.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::pickle;

    fn decode_pickle(bytes: &[u8]) -> Value {
        let v = pickle::decode(bytes, &Default::default()).unwrap();
        array_items(&v).unwrap().unwrap()
    }

    #[test]
    fn cpython_reconstructor_form() {
        // CPython 3.11: pickle.dumps(array.array('i', [1, -2]), 4)
        let ints = decode_pickle(b"\x80\x04\x95J\x00\x00\x00\x00\x00\x00\x00\x8c\x05array\x94\x8c\x14_array_reconstructor\x94\x93\x94(\x8c\x05array\x94\x8c\x05array\x94\x93\x94\x8c\x01i\x94K\x08C\x08\x01\x00\x00\x00\xfe\xff\xff\xff\x94t\x94R\x94.");
        assert_eq!(ints, Value::List(vec![Value::Int(1), Value::Int(-2)]));
        // array.array('d', [1.5])
        let floats = decode_pickle(b"\x80\x04\x95J\x00\x00\x00\x00\x00\x00\x00\x8c\x05array\x94\x8c\x14_array_reconstructor\x94\x93\x94(\x8c\x05array\x94\x8c\x05array\x94\x93\x94\x8c\x01d\x94K\x10C\x08\x00\x00\x00\x00\x00\x00\xf8?\x94t\x94R\x94.");
        assert_eq!(floats, Value::List(vec![Value::Float(1.5)]));
    }

    #[test]
    fn machine_format_codes_cover_every_width() {
        let le16s = layout_of_mformat(4).unwrap();
        assert_eq!(
            le16s,
            Layout::Int {
                size: 2,
                signed: true,
                big: false
            }
        );
        let be64u = layout_of_mformat(11).unwrap();
        assert_eq!(
            be64u,
            Layout::Int {
                size: 8,
                signed: false,
                big: true
            }
        );
        assert_eq!(
            decode(be64u, &[0xff; 8]).unwrap(),
            Value::List(vec![Value::from_bigint(u64::MAX.into())])
        );
        assert_eq!(
            decode(layout_of_mformat(5).unwrap(), &[0xff, 0xfe]).unwrap(),
            Value::List(vec![Value::Int(-2)])
        );
        assert!(layout_of_mformat(22).is_none());
    }

    #[test]
    fn mpcluster_form_and_chars() {
        let v = Value::Object(Box::new(mpcluster_wire::Object::reduce(
            Value::global("array", "array"),
            vec![
                Value::from("u"),
                Value::Bytes(vec![b'h', 0, 0, 0, b'i', 0, 0, 0]),
            ],
        )));
        assert_eq!(
            array_items(&v).unwrap().unwrap(),
            Value::List(vec![Value::from("h"), Value::from("i")])
        );
        let ragged = Value::Object(Box::new(mpcluster_wire::Object::reduce(
            Value::global("array", "array"),
            vec![Value::from("i"), Value::Bytes(vec![1, 2, 3])],
        )));
        assert!(array_items(&ragged).unwrap().is_err());
        assert!(array_items(&Value::Int(1)).is_none());
    }
}
