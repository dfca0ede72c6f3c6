//! `str` values that hold lone surrogates (code points U+D800..U+DFFF on
//! their own), which a Rust `String` cannot.
//!
//! CPython makes such strings from bytes that are not UTF-8: `os.listdir`,
//! `os.fsdecode` and `sys.argv` decode file names with `surrogateescape`,
//! so a file name with a Latin-1 byte becomes `'caf\udce9'`. Pickle writes
//! a `str` as UTF-8 with `surrogatepass`, where each surrogate is encoded
//! like any other code point below U+10000 (three bytes, `ED A0..BF xx`).
//! A [`SurrogateStr`] keeps exactly those bytes: the encoder writes them
//! back unchanged, and since this encoding preserves code point order as
//! UTF-8 does, byte order is Python's `str` order, also against a plain
//! `str`. Only strings that hold a surrogate are kept this way; every
//! other `str` is a [`Value::Str`](super::Value::Str).

use super::Value;
use std::fmt;

/// A `str` with at least one lone surrogate, as its `surrogatepass` UTF-8.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SurrogateStr(Box<[u8]>);

/// One piece of a [`SurrogateStr`]: a run of ordinary text or one surrogate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    Surrogate(u16),
}

impl SurrogateStr {
    /// The string pickled as `bytes` when they are UTF-8 apart from
    /// encoded surrogates and hold at least one; `None` otherwise (plain
    /// UTF-8 is a `Value::Str`, anything else is not a `str`).
    pub fn from_surrogatepass(bytes: &[u8]) -> Option<SurrogateStr> {
        let mut rest = bytes;
        let mut surrogates = 0;
        while !rest.is_empty() {
            match std::str::from_utf8(rest) {
                Ok(_) => break,
                Err(e) => {
                    let bad = rest.get(e.valid_up_to()..)?;
                    surrogate_at(bad)?;
                    surrogates += 1;
                    rest = bad.get(3..)?;
                }
            }
        }
        (surrogates > 0).then(|| SurrogateStr(bytes.into()))
    }

    /// The `str` of these code points (each below U+110000): a
    /// [`Value::Str`] unless one is a surrogate.
    pub fn str_value(points: impl IntoIterator<Item = u32>) -> Value {
        let mut out = Vec::new();
        for cp in points {
            match char::from_u32(cp) {
                Some(c) => out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes()),
                None => {
                    // The three-byte form of any code point below U+10000,
                    // which UTF-8 validation then refuses.
                    out.extend_from_slice(&[
                        0xe0 | (cp >> 12) as u8,
                        0x80 | ((cp >> 6) & 0x3f) as u8,
                        0x80 | (cp & 0x3f) as u8,
                    ]);
                }
            }
        }
        match String::from_utf8(out) {
            Ok(text) => Value::Str(text),
            Err(e) => Value::SurrogateStr(SurrogateStr(e.into_bytes().into())),
        }
    }

    /// The `surrogatepass` UTF-8 bytes, as pickled.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Runs of text and the surrogates between them, in order.
    pub fn pieces(&self) -> Pieces<'_> {
        Pieces { rest: &self.0 }
    }

    /// Code points, as Python counts them (`len`).
    pub fn char_count(&self) -> usize {
        self.pieces()
            .map(|p| match p {
                Piece::Text(t) => t.chars().count(),
                Piece::Surrogate(_) => 1,
            })
            .sum()
    }

    /// The text with each surrogate replaced by U+FFFD, for places that
    /// need a Rust string (JSON, log lines), never for the wire.
    pub fn to_string_lossy(&self) -> String {
        self.pieces()
            .map(|p| match p {
                Piece::Text(t) => t,
                Piece::Surrogate(_) => "\u{fffd}",
            })
            .collect()
    }

    /// Applies a text function (`str.lower` and the like) to the runs of
    /// text, leaving the surrogates as they are, as CPython does.
    pub fn map_text(&self, f: impl Fn(&str) -> String) -> SurrogateStr {
        let mut out = Vec::with_capacity(self.0.len());
        for p in self.pieces() {
            match p {
                Piece::Text(t) => out.extend_from_slice(f(t).as_bytes()),
                Piece::Surrogate(s) => out.extend_from_slice(&encode_surrogate(s)),
            }
        }
        SurrogateStr(out.into())
    }
}

/// The surrogate encoded at the start of `b`, if one is.
fn surrogate_at(b: &[u8]) -> Option<u16> {
    match b {
        [0xed, hi @ 0xa0..=0xbf, lo @ 0x80..=0xbf, ..] => {
            Some(0xd000 | (u16::from(hi & 0x3f) << 6) | u16::from(lo & 0x3f))
        }
        _ => None,
    }
}

fn encode_surrogate(s: u16) -> [u8; 3] {
    [
        0xe0 | (s >> 12) as u8,
        0x80 | ((s >> 6) & 0x3f) as u8,
        0x80 | (s & 0x3f) as u8,
    ]
}

/// Iterator of [`SurrogateStr::pieces`].
pub struct Pieces<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        if self.rest.is_empty() {
            return None;
        }
        if let Some(s) = surrogate_at(self.rest) {
            self.rest = self.rest.get(3..).unwrap_or(&[]);
            return Some(Piece::Surrogate(s));
        }
        // Validated at construction: what precedes the next surrogate is
        // UTF-8.
        let (text, rest) = match std::str::from_utf8(self.rest) {
            Ok(t) => (t, &[][..]),
            Err(e) => {
                let (head, tail) = self.rest.split_at(e.valid_up_to());
                (std::str::from_utf8(head).unwrap_or_default(), tail)
            }
        };
        if text.is_empty() {
            // Not reachable for a validated string; ends the walk rather
            // than loop.
            self.rest = &[];
            return None;
        }
        self.rest = rest;
        Some(Piece::Text(text))
    }
}

impl fmt::Debug for SurrogateStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SurrogateStr({:?})", self.pieces().collect::<Vec<_>>())
    }
}

/// Test helper: the `SurrogateStr` of code points that hold a surrogate.
#[cfg(test)]
fn with_surrogates(points: &[u32]) -> SurrogateStr {
    match SurrogateStr::str_value(points.iter().copied()) {
        Value::SurrogateStr(s) => s,
        other => panic!("no surrogate in {other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_encoded_surrogates_are_accepted() {
        // 'a\udcff' and '\ud800b' as pickle writes them.
        let s = SurrogateStr::from_surrogatepass(b"a\xed\xb3\xbf").unwrap();
        assert_eq!(
            s.pieces().collect::<Vec<_>>(),
            [Piece::Text("a"), Piece::Surrogate(0xdcff)]
        );
        let s = SurrogateStr::from_surrogatepass(b"\xed\xa0\x80b").unwrap();
        assert_eq!(
            s.pieces().collect::<Vec<_>>(),
            [Piece::Surrogate(0xd800), Piece::Text("b")]
        );
        assert!(
            SurrogateStr::from_surrogatepass(b"plain").is_none(),
            "no surrogate"
        );
        assert!(
            SurrogateStr::from_surrogatepass(b"\xff").is_none(),
            "not UTF-8"
        );
        assert!(
            SurrogateStr::from_surrogatepass(b"\xed\xa0").is_none(),
            "cut short"
        );
        assert!(SurrogateStr::from_surrogatepass(b"\xed\xa0\x80\xff").is_none());
        assert!(
            SurrogateStr::from_surrogatepass(b"\xed\x9f\xbf").is_none(),
            "U+D7FF is UTF-8"
        );
    }

    #[test]
    fn a_pair_of_surrogates_stays_two_code_points() {
        // '\ud83d\ude00' is two code points in Python, not one emoji.
        let s = SurrogateStr::from_surrogatepass(b"\xed\xa0\xbd\xed\xb8\x80").unwrap();
        assert_eq!(s.char_count(), 2);
        assert_eq!(s.to_string_lossy(), "\u{fffd}\u{fffd}");
    }

    #[test]
    fn code_points_round_trip() {
        let s = with_surrogates(&[0x63, 0xe9, 0xdce9, 0x1f600]);
        assert_eq!(
            s.as_bytes(),
            "c\u{e9}"
                .bytes()
                .chain([0xed, 0xb3, 0xa9])
                .chain("\u{1f600}".bytes())
                .collect::<Vec<_>>()
        );
        assert_eq!(s.char_count(), 4);
        assert_eq!(
            SurrogateStr::str_value([0x41, 0x1f600]),
            Value::Str("A\u{1f600}".to_string())
        );
        assert_eq!(SurrogateStr::from_surrogatepass(s.as_bytes()), Some(s));
    }

    #[test]
    fn byte_order_is_code_point_order() {
        let below = "\u{d7ff}".as_bytes();
        let above = "\u{e000}".as_bytes();
        let s = with_surrogates(&[0xdc80]);
        assert!(below < s.as_bytes() && s.as_bytes() < above);
    }

    #[test]
    fn text_functions_skip_surrogates() {
        let s = with_surrogates(&[0x41, 0xdc80, 0x42]);
        let lower = s.map_text(str::to_lowercase);
        assert_eq!(
            lower.pieces().collect::<Vec<_>>(),
            [Piece::Text("a"), Piece::Surrogate(0xdc80), Piece::Text("b")]
        );
    }
}

#[cfg(test)]
mod value_tests {
    use crate::value::{py_sort, Dict, Value};

    fn sv(points: &[u32]) -> Value {
        Value::SurrogateStr(super::with_surrogates(points))
    }

    fn s(t: &str) -> Value {
        Value::Str(t.into())
    }

    /// As CPython: equal only to itself, a dict key like any `str`, sorted
    /// by code point among plain strings, printed with `\u` escapes.
    #[test]
    fn behaves_as_a_python_str() {
        let a = sv(&[0x61, 0xdcff]);
        assert_eq!(a, sv(&[0x61, 0xdcff]));
        assert_ne!(a, s("a\u{fffd}"));
        assert_eq!(a.type_name(), "str");

        let mut d = Dict::new();
        d.insert(a.clone(), Value::Int(1)).unwrap();
        d.insert(s("a"), Value::Int(2)).unwrap();
        assert_eq!(d.get(&sv(&[0x61, 0xdcff])).unwrap(), Some(&Value::Int(1)));

        // sorted(['\ue000', '\udcff', '\ud7ff', 'a\udcff', 'a']) in CPython:
        // ['a', 'a\udcff', '\ud7ff', '\udcff', '\ue000']
        let mut items = vec![
            s("\u{e000}"),
            sv(&[0xdcff]),
            s("\u{d7ff}"),
            a.clone(),
            s("a"),
        ];
        py_sort(&mut items, false).unwrap();
        assert_eq!(
            Value::List(items).repr(),
            r"['a', 'a\udcff', '\ud7ff', '\udcff', '\ue000']"
        );

        // repr(["it's\udc80"]): the quote rule looks at the text.
        assert_eq!(
            sv(&[0x69, 0x74, 0x27, 0x73, 0xdc80]).repr(),
            r#""it's\udc80""#
        );
        assert_eq!(
            sv(&[0x61, 0xdcff]).str_items().unwrap(),
            vec![s("a"), sv(&[0xdcff])]
        );
    }
}
