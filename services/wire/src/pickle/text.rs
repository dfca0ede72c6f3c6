//! The text operands of protocol 0: `INT`, `LONG`, `FLOAT`, `STRING`,
//! `UNICODE` and the memo indices of `PUT`/`GET`.
//!
//! Protocol 0 is what `pickle.dumps(x, 0)` writes, and what hand-written
//! test clients tend to send. Each function here takes the bytes of one line
//! (without its `\n`) and follows what CPython's C unpickler (`_pickle.c`)
//! accepts, since that is what runs in `pickle.loads`. Errors are plain
//! reasons; `decode.rs` wraps them with the opcode and offset.

use crate::value::SurrogateStr;
use crate::Value;
use num_bigint::BigInt;
use num_traits::Num;

/// The most decimal digits CPython 3.11+ converts from text by default
/// (`sys.get_int_max_str_digits()`, CVE-2020-10735); longer `LONG` operands
/// fail there with `ValueError`, and would cost quadratic time here.
const MAX_DECIMAL_DIGITS: usize = 4300;

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_space(*b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !is_space(*b))
        .map_or(start, |e| e + 1);
    s.get(start..end).unwrap_or(&[])
}

/// `INT`: C `load_int` tries `strtol(s, 0)` first, and turns the exact
/// operands `00` and `01` into `False`/`True` (protocol 0 bools); when
/// `strtol` fails it falls back to Python's `int(s, 0)`.
pub(crate) fn int_line(line: &[u8]) -> Result<Value, String> {
    if let Some(x) = strtol_base0(line) {
        if line.len() == 2 && (x == 0 || x == 1) {
            return Ok(Value::Bool(x == 1));
        }
        return Ok(Value::Int(x));
    }
    int_literal(line).map(Value::from_bigint)
}

/// `LONG`: Python's `int(s, 0)` after dropping a trailing `L` (Python 2's
/// long suffix).
pub(crate) fn long_line(line: &[u8]) -> Result<Value, String> {
    let s = line.strip_suffix(b"L").unwrap_or(line);
    int_literal(s).map(Value::from_bigint)
}

/// C `strtol` with base 0 on the whole operand: leading whitespace, a sign,
/// `0x` for hex, a leading `0` for octal. `None` when it does not consume
/// everything or overflows a C `long` (64 bits on the platforms we run on).
fn strtol_base0(line: &[u8]) -> Option<i64> {
    let start = line.iter().position(|b| !is_space(*b))?;
    let mut s = line.get(start..)?;
    let neg = match s.first() {
        Some(b'-') => true,
        Some(b'+') => false,
        _ => {
            return strtol_digits(s, false);
        }
    };
    s = s.get(1..)?;
    strtol_digits(s, neg)
}

fn strtol_digits(s: &[u8], neg: bool) -> Option<i64> {
    let (radix, digits) = match s {
        [b'0', b'x' | b'X', rest @ ..] if rest.first().is_some_and(u8::is_ascii_hexdigit) => {
            (16, rest)
        }
        [b'0', _, ..] => (8, s),
        _ => (10, s),
    };
    if digits.is_empty() {
        return None;
    }
    let mut acc: i64 = 0;
    for &b in digits {
        let d = (b as char).to_digit(radix)? as i64;
        acc = acc.checked_mul(radix as i64)?;
        acc = if neg {
            acc.checked_sub(d)?
        } else {
            acc.checked_add(d)?
        };
    }
    Some(acc)
}

/// Python's `int(s, 0)`: surrounding whitespace, a sign, `0x`/`0o`/`0b`
/// prefixes, single underscores between digits, and no leading zeros on a
/// non-zero decimal.
pub(crate) fn int_literal(line: &[u8]) -> Result<BigInt, String> {
    let invalid = || {
        format!(
            "invalid literal for int() with base 0: {:?}",
            String::from_utf8_lossy(line)
        )
    };
    let s = trim(line);
    let (neg, s) = match s.first() {
        Some(b'-') => (true, s.get(1..).unwrap_or(&[])),
        Some(b'+') => (false, s.get(1..).unwrap_or(&[])),
        _ => (false, s),
    };
    let (radix, body, prefixed) = match s {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest, true),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest, true),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest, true),
        _ => (10, s, false),
    };
    // After a prefix one underscore may come first ("0x_1f").
    let body = if prefixed {
        body.strip_prefix(b"_").unwrap_or(body)
    } else {
        body
    };
    if body.is_empty() || body.first() == Some(&b'_') || body.last() == Some(&b'_') {
        return Err(invalid());
    }
    if body.windows(2).any(|w| w == b"__") {
        return Err(invalid());
    }
    let digits: String = body
        .iter()
        .filter(|b| **b != b'_')
        .map(|b| *b as char)
        .collect();
    if !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(invalid());
    }
    if radix == 10 {
        if digits.len() > MAX_DECIMAL_DIGITS {
            return Err(format!(
                "Exceeds the limit ({MAX_DECIMAL_DIGITS} digits) for integer string conversion: value has {} digits",
                digits.len()
            ));
        }
        if digits.len() > 1 && digits.starts_with('0') && digits.bytes().any(|b| b != b'0') {
            return Err(invalid());
        }
    }
    let n = BigInt::from_str_radix(&digits, radix).map_err(|_| invalid())?;
    Ok(if neg { -n } else { n })
}

/// `FLOAT`: C `PyOS_string_to_double` on the whole operand (no whitespace,
/// `inf`/`nan` spelled out, overflow is an error rather than infinity).
pub(crate) fn float_line(line: &[u8]) -> Result<f64, String> {
    let bad = || {
        format!(
            "could not convert string to float: {:?}",
            String::from_utf8_lossy(line)
        )
    };
    let s = std::str::from_utf8(line).map_err(|_| bad())?;
    if s.bytes().any(|b| is_space(b) || b == b'_') {
        return Err(bad());
    }
    let f: f64 = s.parse().map_err(|_| bad())?;
    if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return Err("float value out of range".into());
    }
    Ok(f)
}

/// `STRING`: a quoted Python 2 `repr` of a byte string, unescaped as
/// `codecs.escape_decode` does.
pub(crate) fn quoted_string(line: &[u8]) -> Result<Vec<u8>, String> {
    let inner = match line {
        [q, inner @ .., last] if (*q == b'\'' || *q == b'"') && q == last => inner,
        _ => return Err("the STRING opcode argument must be quoted".into()),
    };
    escape_decode(inner)
}

fn escape_decode(s: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(s.len());
    let mut it = s.iter().copied().peekable();
    while let Some(b) = it.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let Some(c) = it.next() else {
            return Err("Trailing \\ in string".into());
        };
        match c {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(c),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'0'..=b'7' => {
                let mut v = u32::from(c - b'0');
                for _ in 0..2 {
                    match it.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            it.next();
                        }
                        _ => break,
                    }
                }
                // CPython keeps the low byte of an escape above \377.
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hi = it.next().and_then(|d| (d as char).to_digit(16));
                let lo = it.next().and_then(|d| (d as char).to_digit(16));
                match (hi, lo) {
                    (Some(h), Some(l)) => out.push((h * 16 + l) as u8),
                    _ => return Err("invalid \\x escape".into()),
                }
            }
            // Unknown escapes stay as written (with a DeprecationWarning in
            // CPython).
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// `UNICODE`: the `raw-unicode-escape` codec. Bytes are Latin-1 code points,
/// except that `\uXXXX` and `\UXXXXXXXX` are escapes when the backslash run
/// before the `u` has odd length (an even run is literal backslashes). An
/// escaped lone surrogate gives a [`SurrogateStr`]; the error is the reason
/// the operand is not text.
pub(crate) fn raw_unicode_escape(s: &[u8]) -> Result<Value, String> {
    let mut points: Vec<u32> = Vec::with_capacity(s.len());
    let mut i = 0;
    while let Some(&b) = s.get(i) {
        if b != b'\\' {
            points.push(u32::from(b));
            i += 1;
            continue;
        }
        let run = s
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|c| **c == b'\\')
            .count();
        let after = i + run;
        let width = match s.get(after) {
            Some(b'u') if run % 2 == 1 => 4,
            Some(b'U') if run % 2 == 1 => 8,
            _ => {
                points.extend(std::iter::repeat_n(u32::from(b'\\'), run));
                i = after;
                continue;
            }
        };
        // All but the last backslash of the run are literal.
        points.extend(std::iter::repeat_n(u32::from(b'\\'), run - 1));
        let hex = s
            .get(after + 1..after + 1 + width)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| {
                format!(
                    "truncated \\{}XXXX escape",
                    if width == 4 { 'u' } else { 'U' }
                )
            })?;
        let code = hex.iter().fold(0u32, |acc, d| {
            acc * 16 + (*d as char).to_digit(16).unwrap_or(0)
        });
        if code > 0x10ffff {
            return Err("\\Uxxxxxxxx out of range".into());
        }
        points.push(code);
        i = after + 1 + width;
    }
    Ok(SurrogateStr::str_value(points))
}

/// The index of `PUT`/`GET`: a non-negative decimal (CPython parses it with
/// `int(s, 10)` and refuses negative `PUT` indices).
pub(crate) fn memo_index(line: &[u8]) -> Result<u64, String> {
    let s = trim(line);
    std::str::from_utf8(s)
        .ok()
        .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| format!("invalid memo index {:?}", String::from_utf8_lossy(line)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(s: &str) -> Value {
        int_line(s.as_bytes()).unwrap()
    }

    #[test]
    fn int_follows_c_load_int() {
        // Each expectation was checked with CPython 3.11 pickle.loads(b'I...\n.').
        assert!(matches!(int("00"), Value::Bool(false)));
        assert!(matches!(int("01"), Value::Bool(true)));
        assert!(matches!(int("-0"), Value::Bool(false)));
        assert!(matches!(int("001"), Value::Int(1)));
        assert!(matches!(int("0x10"), Value::Int(16)));
        assert!(matches!(int("010"), Value::Int(8)));
        assert!(matches!(int(" 5"), Value::Int(5)));
        assert!(matches!(int("+5"), Value::Int(5)));
        assert!(matches!(int("1_0"), Value::Int(10)));
        assert!(matches!(int("-42"), Value::Int(-42)));
        let big = int("123456789012345678901234567890");
        assert_eq!(big.type_name(), "int");
        assert!(matches!(big, Value::BigInt(_)));
        assert!(int_line(b"x").is_err());
        assert!(int_line(b"").is_err());
    }

    #[test]
    fn long_follows_python_int() {
        assert!(matches!(long_line(b"10L").unwrap(), Value::Int(10)));
        assert!(matches!(long_line(b"-0x10").unwrap(), Value::Int(-16)));
        assert!(long_line(b"L").is_err());
        assert!(long_line(b"-").is_err());
        assert!(
            long_line(b"010").is_err(),
            "leading zero is invalid in int(s, 0)"
        );
        assert!(matches!(long_line(b"000").unwrap(), Value::Int(0)));
        assert!(long_line(b"1__0").is_err());
        let many = "1".repeat(MAX_DECIMAL_DIGITS + 1);
        assert!(long_line(many.as_bytes())
            .unwrap_err()
            .contains("Exceeds the limit"));
        let ok = "1".repeat(MAX_DECIMAL_DIGITS);
        assert!(long_line(ok.as_bytes()).is_ok());
    }

    #[test]
    fn floats() {
        assert_eq!(float_line(b"1.5").unwrap(), 1.5);
        assert_eq!(float_line(b"-inf").unwrap(), f64::NEG_INFINITY);
        assert!(float_line(b"nan").unwrap().is_nan());
        assert_eq!(float_line(b"1e+300").unwrap(), 1e300);
        assert!(float_line(b" nan").is_err());
        assert!(float_line(b"1_0").is_err());
        assert!(float_line(b"1e999").is_err());
    }

    #[test]
    fn strings_unescape_like_escape_decode() {
        assert_eq!(quoted_string(br"'a\'b'").unwrap(), b"a'b");
        assert_eq!(quoted_string(br#""x\x41\101\n\\""#).unwrap(), b"xAA\n\\");
        assert_eq!(quoted_string(br"'\q'").unwrap(), br"\q");
        assert!(quoted_string(b"'abc").is_err());
        assert!(quoted_string(b"'").is_err());
        assert!(quoted_string(br"'\x4'").is_err());
        assert!(quoted_string(br"'a\'").is_err());
    }

    #[test]
    fn raw_unicode_escape_matches_cpython() {
        let text = |b: &[u8]| match raw_unicode_escape(b).unwrap() {
            Value::Str(s) => s,
            other => panic!("{other:?}"),
        };
        // pickle.dumps('a\\b\u1234\U0001f600\n', 0) writes this operand.
        let s = text(br"a\u005cb\u1234\U0001f600\u000a");
        assert_eq!(s, "a\\b\u{1234}\u{1f600}\n");
        // Latin-1 bytes are code points.
        assert_eq!(text(b"\xe9"), "\u{e9}");
        // An even run of backslashes is literal.
        assert_eq!(text(br"\\u0041"), r"\\u0041");
        assert_eq!(text(br"\\\u0041"), r"\\A");
        // pickle.dumps('x\udcff', 0): a lone surrogate.
        assert_eq!(
            raw_unicode_escape(br"x\udcff").unwrap(),
            Value::SurrogateStr(SurrogateStr::from_surrogatepass(b"x\xed\xb3\xbf").unwrap())
        );
        assert!(raw_unicode_escape(br"\u12").is_err());
        assert!(raw_unicode_escape(br"\U00110000").is_err());
    }

    #[test]
    fn memo_indices() {
        assert_eq!(memo_index(b"12").unwrap(), 12);
        assert!(memo_index(b"-1").is_err());
        assert!(memo_index(b"").is_err());
    }
}
