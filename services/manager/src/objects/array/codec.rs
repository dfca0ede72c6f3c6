//! The typecodes of `array.array` and how one item is checked, stored and
//! read back: CPython's `*_setitem`/`*_getitem` functions of
//! `arraymodule.c`, with their exact `OverflowError`/`TypeError` texts.
//! Items are stored as x86-64 CPython stores them, little-endian.

use crate::objects::seq::{self, Int};
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::value::SurrogateStr;
use mpcluster_wire::Value;
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};

/// How a typecode's items are checked and stored.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Checked through a C `long`, then against the range of the C type
    /// CPython parses the item as, then against the type's own range
    /// (`b B h H i`); labels name the C types in CPython's messages.
    Ranged(Range, Option<Range>),
    /// `l`: any `i64`.
    Long,
    /// `q`: any `i64`, with `long long`'s overflow message.
    LongLong,
    /// `I`, `L`: unsigned through a C `unsigned long`, then the max.
    ULong(u64),
    /// `Q`.
    ULongLong,
    F32,
    F64,
    /// `u`, `w`: one character as a 4-byte code point.
    Char,
}

/// A C integer type's bounds and its name in CPython's overflow messages.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Range(i64, i64, &'static str);

const SHORT: Range = Range(i16::MIN as i64, i16::MAX as i64, "signed short integer");
const INT: Range = Range(i32::MIN as i64, i32::MAX as i64, "signed integer");

/// One typecode of `array.array`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Code {
    pub(super) tc: char,
    pub(super) size: usize,
    kind: Kind,
}

const CODES: &[Code] = &[
    Code {
        tc: 'b',
        size: 1,
        // `b_setitem` parses a `short` ("h") first: past its range the
        // message names `short`, only then `signed char`.
        kind: Kind::Ranged(Range(-128, 127, "signed char"), Some(SHORT)),
    },
    Code {
        tc: 'B',
        size: 1,
        kind: Kind::Ranged(Range(0, 255, "unsigned byte integer"), None),
    },
    Code {
        tc: 'u',
        size: 4,
        kind: Kind::Char,
    },
    // 3.13 adds `w` (a `Py_UCS4`); older clients never send it.
    Code {
        tc: 'w',
        size: 4,
        kind: Kind::Char,
    },
    Code {
        tc: 'h',
        size: 2,
        kind: Kind::Ranged(SHORT, None),
    },
    Code {
        tc: 'H',
        size: 2,
        // `HH_setitem` parses an `int` ("i") first.
        kind: Kind::Ranged(Range(0, 65535, "unsigned short"), Some(INT)),
    },
    Code {
        tc: 'i',
        size: 4,
        kind: Kind::Ranged(INT, None),
    },
    Code {
        tc: 'I',
        size: 4,
        kind: Kind::ULong(u32::MAX as u64),
    },
    Code {
        tc: 'l',
        size: 8,
        kind: Kind::Long,
    },
    Code {
        tc: 'L',
        size: 8,
        kind: Kind::ULong(u64::MAX),
    },
    Code {
        tc: 'q',
        size: 8,
        kind: Kind::LongLong,
    },
    Code {
        tc: 'Q',
        size: 8,
        kind: Kind::ULongLong,
    },
    Code {
        tc: 'f',
        size: 4,
        kind: Kind::F32,
    },
    Code {
        tc: 'd',
        size: 8,
        kind: Kind::F64,
    },
];

pub(super) fn code_of(tc: char) -> Option<Code> {
    CODES.iter().copied().find(|c| c.tc == tc)
}

fn overflow(msg: impl Into<String>) -> PyException {
    PyException::msg(ExcKind::OverflowError, msg)
}

impl Code {
    pub(super) fn is_char(self) -> bool {
        self.kind == Kind::Char
    }

    /// Appends `v` as one native item, with `array.array`'s checks
    /// (`b_setitem`, `II_setitem`, `f_setitem`, ... in `arraymodule.c`).
    pub(super) fn encode(self, v: &Value, out: &mut Vec<u8>) -> Result<(), PyException> {
        match self.kind {
            Kind::Char => {
                // One code point, a lone surrogate included (`'\udcff'`).
                match v.str_code_points().as_deref() {
                    Some(&[cp]) => out.extend_from_slice(&cp.to_le_bytes()),
                    _ => {
                        return Err(PyException::type_error(
                            "array item must be unicode character",
                        ))
                    }
                }
            }
            Kind::F32 => out.extend_from_slice(&(float_arg(v)? as f32).to_le_bytes()),
            Kind::F64 => out.extend_from_slice(&float_arg(v)?.to_le_bytes()),
            Kind::Ranged(own, via) => {
                let i = match seq::int_of(v).ok_or_else(|| seq::not_an_integer(v))? {
                    Int::Fits(i) => i,
                    Int::Huge(_) => {
                        return Err(overflow("Python int too large to convert to C long"))
                    }
                };
                for Range(min, max, label) in via.into_iter().chain([own]) {
                    if i < min {
                        return Err(overflow(format!("{label} is less than minimum")));
                    }
                    if i > max {
                        return Err(overflow(format!("{label} is greater than maximum")));
                    }
                }
                // In range, so the low `size` bytes are the value.
                out.extend_from_slice(&i.to_le_bytes()[..self.size]);
            }
            Kind::Long | Kind::LongLong => {
                let i = match seq::int_of(v).ok_or_else(|| seq::not_an_integer(v))? {
                    Int::Fits(i) => i,
                    Int::Huge(_) if self.kind == Kind::Long => {
                        return Err(overflow("Python int too large to convert to C long"))
                    }
                    Int::Huge(_) => return Err(overflow("int too big to convert")),
                };
                out.extend_from_slice(&i.to_le_bytes());
            }
            Kind::ULong(max) => {
                let u = unsigned(v, "can't convert negative value to unsigned int")?.ok_or_else(
                    || overflow("Python int too large to convert to C unsigned long"),
                )?;
                if u > max {
                    return Err(overflow("unsigned int is greater than maximum"));
                }
                out.extend_from_slice(&u.to_le_bytes()[..self.size]);
            }
            Kind::ULongLong => {
                let u = unsigned(v, "can't convert negative int to unsigned")?
                    .ok_or_else(|| overflow("int too big to convert"))?;
                out.extend_from_slice(&u.to_le_bytes());
            }
        }
        Ok(())
    }

    /// The item stored in `b` (exactly `size` bytes) as a Python value.
    pub(super) fn decode(self, b: &[u8]) -> Value {
        let mut w = [0u8; 8];
        let n = b.len().min(8);
        w[..n].copy_from_slice(&b[..n]);
        let raw = u64::from_le_bytes(w);
        match self.kind {
            // Only code points below U+110000 are ever stored (`encode`).
            Kind::Char => SurrogateStr::str_value([(raw as u32).min(0x10ffff)]),
            Kind::F32 => Value::Float(f32::from_bits(raw as u32) as f64),
            Kind::F64 => Value::Float(f64::from_bits(raw)),
            // `B` and `H` are unsigned: `raw` already holds the value.
            Kind::Ranged(Range(min, ..), _) if min >= 0 => Value::Int(raw as i64),
            Kind::Ranged(..) | Kind::Long | Kind::LongLong => {
                // Sign-extend from `size` bytes.
                let shift = 64 - 8 * self.size as u32;
                Value::Int(((raw << shift) as i64) >> shift)
            }
            Kind::ULong(_) | Kind::ULongLong => match i64::try_from(raw) {
                Ok(i) => Value::Int(i),
                Err(_) => Value::from_bigint(BigInt::from(raw)),
            },
        }
    }
}

/// An unsigned integer argument: `Ok(None)` when it exceeds `u64`.
fn unsigned(v: &Value, negative: &str) -> Result<Option<u64>, PyException> {
    match v {
        Value::BigInt(b) if b.is_negative() => Err(overflow(negative)),
        Value::BigInt(b) => Ok(b.to_u64()),
        _ => match seq::int_of(v).ok_or_else(|| seq::not_an_integer(v))? {
            Int::Fits(i) => u64::try_from(i).map(Some).map_err(|_| overflow(negative)),
            // Only `BigInt`s are huge, handled above.
            Int::Huge(_) => Ok(None),
        },
    }
}

/// `PyFloat_AsDouble` for a float array item.
fn float_arg(v: &Value) -> Result<f64, PyException> {
    match v {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::BigInt(b) => b
            .to_f64()
            .filter(|f| f.is_finite())
            .ok_or_else(|| overflow("int too large to convert to float")),
        other => Err(PyException::type_error(format!(
            "must be real number, not {}",
            other.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExcKind::*;
    use Value::{Int as I, None as N};

    fn big(s: &str) -> Value {
        Value::from_bigint(s.parse().unwrap())
    }

    #[test]
    fn item_checks_match_array_module() {
        // Messages of CPython 3.11's `array.array(tc, [v])`.
        let cases: &[(&str, Value, ExcKind, &str)] = &[
            (
                "b",
                I(128),
                OverflowError,
                "signed char is greater than maximum",
            ),
            (
                "b",
                I(-129),
                OverflowError,
                "signed char is less than minimum",
            ),
            (
                "B",
                I(256),
                OverflowError,
                "unsigned byte integer is greater than maximum",
            ),
            (
                "B",
                I(-1),
                OverflowError,
                "unsigned byte integer is less than minimum",
            ),
            // Parsed as a `short` first (`b_setitem`), an `int` (`HH_setitem`).
            (
                "b",
                I(32768),
                OverflowError,
                "signed short integer is greater than maximum",
            ),
            (
                "b",
                I(-32769),
                OverflowError,
                "signed short integer is less than minimum",
            ),
            (
                "H",
                I(1 << 31),
                OverflowError,
                "signed integer is greater than maximum",
            ),
            (
                "h",
                I(32768),
                OverflowError,
                "signed short integer is greater than maximum",
            ),
            (
                "H",
                I(-1),
                OverflowError,
                "unsigned short is less than minimum",
            ),
            (
                "i",
                I(1 << 31),
                OverflowError,
                "signed integer is greater than maximum",
            ),
            (
                "i",
                big("1180591620717411303424"),
                OverflowError,
                "Python int too large to convert to C long",
            ),
            (
                "I",
                I(1 << 32),
                OverflowError,
                "unsigned int is greater than maximum",
            ),
            (
                "I",
                I(-1),
                OverflowError,
                "can't convert negative value to unsigned int",
            ),
            (
                "I",
                big("1180591620717411303424"),
                OverflowError,
                "Python int too large to convert to C unsigned long",
            ),
            (
                "l",
                big("9223372036854775808"),
                OverflowError,
                "Python int too large to convert to C long",
            ),
            (
                "L",
                I(-1),
                OverflowError,
                "can't convert negative value to unsigned int",
            ),
            (
                "L",
                big("18446744073709551616"),
                OverflowError,
                "Python int too large to convert to C unsigned long",
            ),
            (
                "q",
                big("-9223372036854775809"),
                OverflowError,
                "int too big to convert",
            ),
            (
                "Q",
                I(-1),
                OverflowError,
                "can't convert negative int to unsigned",
            ),
            (
                "Q",
                big("18446744073709551616"),
                OverflowError,
                "int too big to convert",
            ),
            (
                "i",
                "a".into(),
                TypeError,
                "'str' object cannot be interpreted as an integer",
            ),
            (
                "b",
                N,
                TypeError,
                "'NoneType' object cannot be interpreted as an integer",
            ),
            ("d", "a".into(), TypeError, "must be real number, not str"),
            (
                "d",
                Value::complex(1.0, 0.0),
                TypeError,
                "must be real number, not complex",
            ),
            (
                "f",
                big(&"1".repeat(400)),
                OverflowError,
                "int too large to convert to float",
            ),
            (
                "u",
                "ab".into(),
                TypeError,
                "array item must be unicode character",
            ),
            ("u", I(1), TypeError, "array item must be unicode character"),
        ];
        for (tc, v, kind, m) in cases {
            let code = tc.chars().next().and_then(code_of).unwrap();
            let e = code.encode(v, &mut Vec::new()).unwrap_err();
            assert_eq!(
                (e.kind, e.message().as_str()),
                (*kind, *m),
                "array('{tc}', [{v:?}])"
            );
        }
    }

    #[test]
    fn items_round_trip_through_native_bytes() {
        let cases: &[(char, Value, &[u8])] = &[
            ('b', I(-2), &[0xfe]),
            ('B', I(255), &[0xff]),
            ('H', I(65535), &[0xff, 0xff]),
            ('h', I(-32768), &[0x00, 0x80]),
            ('I', I(4294967295), &[0xff; 4]),
            ('H', I(0x1234), &[0x34, 0x12]),
            ('i', I(-1), &[0xff; 4]),
            ('L', big("18446744073709551615"), &[0xff; 8]),
            ('d', Value::Float(1.5), &[0, 0, 0, 0, 0, 0, 0xf8, 0x3f]),
            ('u', Value::from("é"), &[0xe9, 0, 0, 0]),
            // array('u', ['\udcff']): a lone surrogate is one character.
            ('u', SurrogateStr::str_value([0xdcff]), &[0xff, 0xdc, 0, 0]),
        ];
        for (tc, v, bytes) in cases {
            let code = code_of(*tc).unwrap();
            let mut out = Vec::new();
            code.encode(v, &mut out).unwrap();
            assert_eq!(&out, bytes, "{tc}");
            assert_eq!(&code.decode(&out), v, "{tc}");
        }
    }
}
