//! `int(x)` and `float(x)` on values, as sort keys (`sort_key.rs`) use them:
//! CPython 3.11's conversions and literal syntax (surrounding whitespace, a
//! sign, PEP 515 underscores between digits, `inf`/`infinity`/`nan` in any
//! case) and its exceptions and messages (`ValueError: invalid literal for
//! int() with base 10: 'x'`, `OverflowError` for infinities). Strings with
//! non-ASCII digits or spaces, which CPython also reads, are refused as
//! needing Python rather than guessed at.

use super::builtin_fns::{needs_python, SortKeyError};
use super::names::py_type_name;
use super::Value;
use num_bigint::BigInt;
use num_traits::ToPrimitive;

/// `int(v)` with the default base.
pub(crate) fn py_int(v: &Value) -> Result<Value, SortKeyError> {
    let invalid = || {
        // CPython cuts the repr in this message at 200 characters (`%.200R`).
        let r: String = v.repr().chars().take(200).collect();
        SortKeyError::BadValue(format!("invalid literal for int() with base 10: {r}"))
    };
    match v {
        Value::Bool(b) => Ok(Value::Int(i64::from(*b))),
        Value::Int(_) | Value::BigInt(_) => Ok(v.clone()),
        Value::Float(f) if f.is_nan() => Err(SortKeyError::BadValue(
            "cannot convert float NaN to integer".into(),
        )),
        Value::Float(f) if f.is_infinite() => Err(SortKeyError::Overflow(
            "cannot convert float infinity to integer".into(),
        )),
        Value::Float(f) => {
            let t = f.trunc();
            // A finite float converts exactly.
            Ok(num_traits::FromPrimitive::from_f64(t)
                .map(Value::from_bigint)
                .unwrap_or(Value::Int(0)))
        }
        Value::Str(s) => {
            if has_unicode_digits_or_spaces(s) {
                return Err(needs_python(
                    "int() of a string with non-ASCII digits or spaces".into(),
                ));
            }
            parse_int(s.as_bytes()).ok_or_else(invalid)
        }
        Value::Bytes(b) | Value::ByteArray(b) => parse_int(b).ok_or_else(invalid),
        // A surrogate is never a digit nor a space.
        Value::SurrogateStr(_) => Err(invalid()),
        Value::Object(o) => Err(needs_python(format!(
            "int() of a '{}' object",
            o.type_name()
        ))),
        _ => Err(SortKeyError::WrongType(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            py_type_name(v)
        ))),
    }
}

/// `float(v)`.
pub(crate) fn py_float(v: &Value) -> Result<Value, SortKeyError> {
    let invalid =
        || SortKeyError::BadValue(format!("could not convert string to float: {}", v.repr()));
    match v {
        Value::Bool(b) => Ok(Value::Float(f64::from(u8::from(*b)))),
        Value::Int(i) => Ok(Value::Float(*i as f64)),
        Value::BigInt(b) => match b.to_f64() {
            Some(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(SortKeyError::Overflow(
                "int too large to convert to float".into(),
            )),
        },
        Value::Float(_) => Ok(v.clone()),
        Value::Str(s) => {
            if has_unicode_digits_or_spaces(s) {
                return Err(needs_python(
                    "float() of a string with non-ASCII digits or spaces".into(),
                ));
            }
            parse_float(s.as_bytes())
                .map(Value::Float)
                .ok_or_else(invalid)
        }
        Value::Bytes(b) | Value::ByteArray(b) => {
            parse_float(b).map(Value::Float).ok_or_else(invalid)
        }
        Value::SurrogateStr(_) => Err(invalid()),
        Value::Object(o) => Err(needs_python(format!(
            "float() of a '{}' object",
            o.type_name()
        ))),
        _ => Err(SortKeyError::WrongType(format!(
            "float() argument must be a string or a real number, not '{}'",
            py_type_name(v)
        ))),
    }
}

/// CPython's `int()`/`float()` accept every Unicode decimal digit and
/// whitespace; we parse ASCII only and refuse to guess about the rest.
fn has_unicode_digits_or_spaces(s: &str) -> bool {
    s.chars()
        .any(|c| !c.is_ascii() && (c.is_numeric() || c.is_whitespace()))
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    let is_space = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c');
    let start = b.iter().position(|c| !is_space(c)).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !is_space(c))
        .map_or(start, |e| e + 1);
    b.get(start..end).unwrap_or(&[])
}

/// Drops the underscores of a numeric literal, which must each sit between
/// two digits (PEP 515); `None` when one does not.
fn strip_underscores(b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let before = i.checked_sub(1).and_then(|j| b.get(j));
            let after = b.get(i + 1);
            if !(before.is_some_and(u8::is_ascii_digit) && after.is_some_and(u8::is_ascii_digit)) {
                return None;
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// `int(text)` in base 10: surrounding whitespace, a sign, digits with
/// single underscores between them.
fn parse_int(b: &[u8]) -> Option<Value> {
    let t = trim_ascii(b);
    let (neg, digits) = match t.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, t),
    };
    if digits.is_empty() || !digits.first().is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let clean = strip_underscores(digits)?;
    if !clean.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = BigInt::parse_bytes(&clean, 10)?;
    Some(Value::from_bigint(if neg { -n } else { n }))
}

/// `float(text)`: whitespace, then a decimal literal (underscores between
/// digits), `inf`, `infinity` or `nan` in any case, with an optional sign.
fn parse_float(b: &[u8]) -> Option<f64> {
    let clean = strip_underscores(trim_ascii(b))?;
    let text = std::str::from_utf8(&clean).ok()?;
    // Rust's parser accepts exactly Python's forms once underscores are gone
    // (it also rejects hex and lone dots), but check the alphabet so nothing
    // else slips through.
    let ok = text
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'));
    if !ok {
        return None;
    }
    text.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::OpError;

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn msg(r: Result<Value, SortKeyError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn int_parses_like_cpython() {
        let ok = |v: Value, want: &str| assert_eq!(py_int(&v).unwrap().repr(), want, "{v:?}");
        ok(s(" 1_000 "), "1000");
        ok(s("+0012"), "12");
        ok(s("-7"), "-7");
        ok(
            s("123456789012345678901234567890"),
            "123456789012345678901234567890",
        );
        ok(Value::Bytes(b"42".to_vec()), "42");
        ok(Value::Float(-2.9), "-2");
        ok(Value::Float(1e20), "100000000000000000000");
        ok(Value::Bool(true), "1");
        for bad in ["abc", "1__0", "_1", "1_", "-", "", "1.5", "0x10"] {
            assert_eq!(
                msg(py_int(&s(bad))),
                format!("invalid literal for int() with base 10: {}", s(bad).repr())
            );
        }
        let long = "x".repeat(300);
        assert_eq!(
            msg(py_int(&s(&long))),
            format!(
                "invalid literal for int() with base 10: '{}",
                "x".repeat(199)
            )
        );
        assert_eq!(
            msg(py_int(&Value::Bytes(b"abc".to_vec()))),
            "invalid literal for int() with base 10: b'abc'"
        );
        assert_eq!(
            py_int(&Value::Float(f64::NAN)),
            Err(SortKeyError::BadValue(
                "cannot convert float NaN to integer".into()
            ))
        );
        assert_eq!(
            py_int(&Value::Float(f64::INFINITY)),
            Err(SortKeyError::Overflow(
                "cannot convert float infinity to integer".into()
            ))
        );
        assert_eq!(
            msg(py_int(&Value::complex(0.0, 1.0))),
            "int() argument must be a string, a bytes-like object or a real number, not 'complex'"
        );
        // '٣' is 3 in CPython; we do not guess.
        assert!(matches!(
            py_int(&s("٣")),
            Err(SortKeyError::Op(OpError::NeedsPython(_)))
        ));
    }

    #[test]
    fn float_parses_like_cpython() {
        let ok = |t: &str, want: &str| assert_eq!(py_float(&s(t)).unwrap().repr(), want, "{t}");
        ok(" 1_0.5e1_0 ", "105000000000.0");
        ok("+.5", "0.5");
        ok("1.", "1.0");
        ok("-iNF", "-inf");
        ok("infinity", "inf");
        ok("-nan", "nan");
        ok(" 1e5 ", "100000.0");
        for bad in [
            "abc", "1._5", "1_", "_1", "1e_5", "1_e5", ".", "0x1p3", "1e", "",
        ] {
            assert_eq!(
                py_float(&s(bad)),
                Err(SortKeyError::BadValue(format!(
                    "could not convert string to float: {}",
                    s(bad).repr()
                ))),
                "{bad}"
            );
        }
        let huge = Value::from_bigint(num_bigint::BigInt::from(10).pow(400));
        assert_eq!(msg(py_float(&huge)), "int too large to convert to float");
        assert_eq!(
            msg(py_float(&Value::None)),
            "float() argument must be a string or a real number, not 'NoneType'"
        );
    }
}
