//! `repr` of a pickled `array.array`: `array('i', [1, 2])`, `array('u',
//! 'ab')`, `array('d')` when empty.
//!
//! An array arrives in one of three forms, depending on the client's
//! pickler and protocol:
//!
//! * `array._array_reconstructor(array.array, typecode, mformat_code,
//!   bytes)` (what `pickle.dumps(a, 4)` writes): `mformat_code` is CPython's
//!   `enum machine_format_code` from `arraymodule.c` and says exactly how the
//!   bytes are laid out (size, signedness, endianness), whatever the client
//!   machine;
//! * `array.array(typecode, bytes)` (what a manager's `#GETVALUE` of an
//!   `Array` sends, captured in `value_array.json`): raw machine values of
//!   the client. They are read with this machine's endianness and CPython's
//!   item sizes on 64-bit Linux/macOS (`l`/`L` 8 bytes, `u` 4 bytes);
//! * `array.array(typecode, list)` (protocols 0–2): the items themselves.
//!
//! When the bytes cannot be decoded (a length that is not a multiple of the
//! item size, an invalid code point) the caller falls back to the default
//! object repr.

use super::repr::Writer;
use super::repr_num::float_repr;
use super::{Global, Value};
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Signed,
    Unsigned,
    Float,
    Utf16,
    Utf32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    size: usize,
    kind: Kind,
    big_endian: bool,
}

/// The native layout of a typecode (CPython on 64-bit Unix).
fn native_layout(typecode: &str) -> Option<Layout> {
    let (size, kind) = match typecode {
        "b" => (1, Kind::Signed),
        "B" => (1, Kind::Unsigned),
        "u" | "w" => (4, Kind::Utf32),
        "h" => (2, Kind::Signed),
        "H" => (2, Kind::Unsigned),
        "i" => (4, Kind::Signed),
        "I" => (4, Kind::Unsigned),
        "l" | "q" => (8, Kind::Signed),
        "L" | "Q" => (8, Kind::Unsigned),
        "f" => (4, Kind::Float),
        "d" => (8, Kind::Float),
        _ => return None,
    };
    Some(Layout {
        size,
        kind,
        big_endian: cfg!(target_endian = "big"),
    })
}

/// `enum machine_format_code` of CPython's `arraymodule.c`: 0 and 1 are the
/// unsigned and signed bytes, then pairs (little-, big-endian) of 16-, 32-
/// and 64-bit unsigned and signed ints, float, double, UTF-16 and UTF-32.
fn mformat_layout(code: i64) -> Option<Layout> {
    let (size, kind) = match code {
        0 => (1, Kind::Unsigned),
        1 => (1, Kind::Signed),
        2 | 3 => (2, Kind::Unsigned),
        4 | 5 => (2, Kind::Signed),
        6 | 7 => (4, Kind::Unsigned),
        8 | 9 => (4, Kind::Signed),
        10 | 11 => (8, Kind::Unsigned),
        12 | 13 => (8, Kind::Signed),
        14 | 15 => (4, Kind::Float),
        16 | 17 => (8, Kind::Float),
        18 | 19 => (2, Kind::Utf16),
        20 | 21 => (4, Kind::Utf32),
        _ => return None,
    };
    Some(Layout {
        size,
        kind,
        big_endian: code >= 2 && code % 2 == 1,
    })
}

/// Writes the array built by `g(*args)`; false when it cannot be decoded.
pub(crate) fn write_array(w: &mut Writer<'_>, g: &Global, args: &[Value]) -> bool {
    match (g.name.as_str(), args) {
        ("array", [Value::Str(tc), Value::Bytes(data)]) => match native_layout(tc) {
            Some(layout) => write_decoded(w, tc, layout, data),
            None => false,
        },
        ("array", [Value::Str(tc), Value::List(items)]) => {
            write_head(w, tc);
            if !items.is_empty() {
                w.push(", [");
                w.items(items);
                w.push("]");
            }
            w.push(")");
            true
        }
        ("array", [Value::Str(tc), Value::Str(text)]) => {
            write_head(w, tc);
            if !text.is_empty() {
                w.push(", ");
                w.str_repr(text);
            }
            w.push(")");
            true
        }
        ("_array_reconstructor", [_, Value::Str(tc), Value::Int(code), Value::Bytes(data)]) => {
            match mformat_layout(*code) {
                Some(layout) => write_decoded(w, tc, layout, data),
                None => false,
            }
        }
        _ => false,
    }
}

fn write_head(w: &mut Writer<'_>, tc: &str) {
    w.push("array(");
    w.str_repr(tc);
}

fn write_decoded(w: &mut Writer<'_>, tc: &str, layout: Layout, data: &[u8]) -> bool {
    if !data.len().is_multiple_of(layout.size) {
        return false;
    }
    let words = data
        .chunks_exact(layout.size)
        .map(|c| word(c, layout.big_endian));
    match layout.kind {
        Kind::Utf16 | Kind::Utf32 => {
            let text = if layout.kind == Kind::Utf16 {
                let units: Vec<u16> = words.map(|u| u as u16).collect();
                String::from_utf16(&units).ok()
            } else {
                words
                    .map(|u| char::from_u32(u as u32))
                    .collect::<Option<String>>()
            };
            let Some(text) = text else {
                return false;
            };
            write_head(w, tc);
            if !text.is_empty() {
                w.push(", ");
                w.str_repr(&text);
            }
            w.push(")");
        }
        Kind::Signed | Kind::Unsigned | Kind::Float => {
            write_head(w, tc);
            if !data.is_empty() {
                w.push(", [");
                let mut item = String::new();
                for (i, u) in words.enumerate() {
                    if w.full() {
                        break;
                    }
                    item.clear();
                    if i > 0 {
                        item.push_str(", ");
                    }
                    format_item(&mut item, u, layout);
                    w.push(&item);
                }
                w.push("]");
            }
            w.push(")");
        }
    }
    true
}

/// The bytes of one item as an unsigned word.
fn word(chunk: &[u8], big_endian: bool) -> u64 {
    let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
    if big_endian {
        chunk.iter().fold(0, fold)
    } else {
        chunk.iter().rev().fold(0, fold)
    }
}

fn format_item(out: &mut String, u: u64, layout: Layout) {
    let bits = layout.size as u32 * 8;
    let _ = match layout.kind {
        Kind::Unsigned => write!(out, "{u}"),
        Kind::Signed => {
            // Sign-extend from the item width.
            let shift = 64 - bits;
            write!(out, "{}", ((u << shift) as i64) >> shift)
        }
        Kind::Float if layout.size == 4 => {
            out.push_str(&float_repr(f64::from(f32::from_bits(u as u32))));
            Ok(())
        }
        Kind::Float => {
            out.push_str(&float_repr(f64::from_bits(u)));
            Ok(())
        }
        Kind::Utf16 | Kind::Utf32 => Ok(()),
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Object;

    fn reconstructed(tc: &str, code: i64, data: &[u8]) -> Value {
        Value::Object(Box::new(Object::reduce(
            Value::global("array", "_array_reconstructor"),
            vec![
                Value::global("array", "array"),
                Value::str(tc),
                Value::Int(code),
                Value::Bytes(data.to_vec()),
            ],
        )))
    }

    fn native(tc: &str, data: &[u8]) -> Value {
        Value::Object(Box::new(Object::reduce(
            Value::global("array", "array"),
            vec![Value::str(tc), Value::Bytes(data.to_vec())],
        )))
    }

    /// Arguments of `a.__reduce_ex__(4)` and `repr(a)` from CPython 3.11.
    #[test]
    fn reconstructor_form() {
        let cases: &[(&str, i64, &[u8], &str)] = &[
            (
                "i",
                8,
                b"\x01\x00\x00\x00\xfe\xff\xff\xff",
                "array('i', [1, -2])",
            ),
            (
                "d",
                16,
                b"\x00\x00\x00\x00\x00\x00\xf8?",
                "array('d', [1.5])",
            ),
            (
                "u",
                20,
                b"h\x00\x00\x00\xe9\x00\x00\x00",
                "array('u', 'hé')",
            ),
            ("b", 1, b"", "array('b')"),
            (
                "Q",
                10,
                b"\xff\xff\xff\xff\xff\xff\xff\xff",
                "array('Q', [18446744073709551615])",
            ),
            (
                "f",
                14,
                b"\xcd\xcc\xcc=",
                "array('f', [0.10000000149011612])",
            ),
            ("h", 4, b"\xfd\xff,\x01", "array('h', [-3, 300])"),
            // Big-endian signed 16-bit (code 5) from another machine.
            ("h", 5, b"\xff\xfd\x01,", "array('h', [-3, 300])"),
            // UTF-16 little-endian (code 18), as a Windows client sends 'u'.
            ("u", 18, b"h\x00\xe9\x00", "array('u', 'hé')"),
        ];
        for &(tc, code, data, want) in cases {
            assert_eq!(reconstructed(tc, code, data).repr(), want);
        }
    }

    #[test]
    fn native_bytes_form_as_captured() {
        // value_array.json: `array.array('i', b'\n\x00\x00\x00\x02\x00\x00\x00')`.
        if cfg!(target_endian = "little") {
            assert_eq!(
                native("i", b"\n\x00\x00\x00\x02\x00\x00\x00").repr(),
                "array('i', [10, 2])"
            );
            assert_eq!(native("B", b"\xff").repr(), "array('B', [255])");
            assert_eq!(
                native("l", &(-5i64).to_le_bytes()).repr(),
                "array('l', [-5])"
            );
        }
        assert_eq!(native("d", b"").repr(), "array('d')");
    }

    #[test]
    fn list_form_and_undecodable_bytes() {
        let listed = Value::Object(Box::new(Object::reduce(
            Value::global("array", "array"),
            vec![
                Value::str("i"),
                Value::List(vec![Value::Int(1), Value::Int(2)]),
            ],
        )));
        assert_eq!(listed.repr(), "array('i', [1, 2])");
        // 3 bytes cannot be 'i' items: default repr, not garbage.
        assert_eq!(native("i", b"abc").repr(), "<array.array object>");
        assert_eq!(native("z", b"abcd").repr(), "<array.array object>");
        // An invalid code point in UTF-32 data.
        assert_eq!(
            reconstructed("u", 20, b"\x00\x00\x11\x00").repr(),
            "<array.array object>"
        );
    }
}
