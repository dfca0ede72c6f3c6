//! `Array` (ArrayProxy, spec 9.5): a typed `array.array` shared by clients.
//!
//! CPython's `SyncManager.Array(typecode, sequence, lock=True)` is a plain
//! `array.array`, so its type checks are part of the contract: `a[0] = 1.5`
//! is a `TypeError`, out-of-range ints are `OverflowError`s with the C
//! type's message, and iteration ends at `IndexError('array index out of
//! range')`. The items are kept as the native bytes an x86-64 CPython would
//! hold (little-endian; `l`/`L` 8 bytes, `i`/`I` 4, `u` 4 as Linux's
//! `wchar_t`), which is also what crosses the wire: `array.array(typecode,
//! bytes)` (spec 7.5).

use crate::args::{Args, Sig};
use crate::objects::seq::{self, Conv, Int, Subscript};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::{Object, Value};
use num_bigint::BigInt;
use num_traits::{Signed, ToPrimitive};
use std::any::Any;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &["__len__", "__getitem__", "__setitem__"];

/// How a typecode's items are checked and stored.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    /// Checked through a C `long`, then against the type's range
    /// (`b B h H i`); the label names the C type in CPython's messages.
    Ranged(i64, i64, &'static str),
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

/// One typecode of `array.array`.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Code {
    tc: char,
    size: usize,
    kind: Kind,
}

const CODES: &[Code] = &[
    Code {
        tc: 'b',
        size: 1,
        kind: Kind::Ranged(-128, 127, "signed char"),
    },
    Code {
        tc: 'B',
        size: 1,
        kind: Kind::Ranged(0, 255, "unsigned byte integer"),
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
        kind: Kind::Ranged(-32768, 32767, "signed short integer"),
    },
    Code {
        tc: 'H',
        size: 2,
        kind: Kind::Ranged(0, 65535, "unsigned short"),
    },
    Code {
        tc: 'i',
        size: 4,
        kind: Kind::Ranged(i32::MIN as i64, i32::MAX as i64, "signed integer"),
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

fn code_of(tc: char) -> Option<Code> {
    CODES.iter().copied().find(|c| c.tc == tc)
}

fn overflow(msg: impl Into<String>) -> PyException {
    PyException::msg(ExcKind::OverflowError, msg)
}

impl Code {
    fn is_char(self) -> bool {
        self.kind == Kind::Char
    }

    /// Appends `v` as one native item, with `array.array`'s checks
    /// (`b_setitem`, `II_setitem`, `f_setitem`, ... in `arraymodule.c`).
    fn encode(self, v: &Value, out: &mut Vec<u8>) -> Result<(), PyException> {
        match self.kind {
            Kind::Char => {
                let mut chars = v.as_str().map(str::chars);
                match chars.as_mut().map(|c| (c.next(), c.next())) {
                    Some((Some(c), None)) => out.extend_from_slice(&(c as u32).to_le_bytes()),
                    _ => {
                        return Err(PyException::type_error(
                            "array item must be unicode character",
                        ))
                    }
                }
            }
            Kind::F32 => out.extend_from_slice(&(float_arg(v)? as f32).to_le_bytes()),
            Kind::F64 => out.extend_from_slice(&float_arg(v)?.to_le_bytes()),
            Kind::Ranged(min, max, label) => {
                let i = match seq::int_of(v).ok_or_else(|| seq::not_an_integer(v))? {
                    Int::Fits(i) => i,
                    Int::Huge(_) => {
                        return Err(overflow("Python int too large to convert to C long"))
                    }
                };
                if i < min {
                    return Err(overflow(format!("{label} is less than minimum")));
                }
                if i > max {
                    return Err(overflow(format!("{label} is greater than maximum")));
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
    fn decode(self, b: &[u8]) -> Value {
        let mut w = [0u8; 8];
        let n = b.len().min(8);
        w[..n].copy_from_slice(&b[..n]);
        let raw = u64::from_le_bytes(w);
        match self.kind {
            Kind::Char => {
                let c = char::from_u32(raw as u32).unwrap_or(char::REPLACEMENT_CHARACTER);
                Value::Str(c.to_string())
            }
            Kind::F32 => Value::Float(f32::from_bits(raw as u32) as f64),
            Kind::F64 => Value::Float(f64::from_bits(raw)),
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

/// The typed items: a typecode and its native bytes.
#[derive(Clone, Debug)]
struct Items {
    code: Code,
    data: Vec<u8>,
}

impl Items {
    fn len(&self) -> usize {
        self.data.len() / self.code.size
    }

    fn item(&self, pos: usize) -> Option<Value> {
        let size = self.code.size;
        let b = self.data.get(pos * size..(pos + 1) * size)?;
        Some(self.code.decode(b))
    }

    fn values(&self) -> impl Iterator<Item = Value> + '_ {
        self.data
            .chunks_exact(self.code.size)
            .map(|b| self.code.decode(b))
    }

    fn from_values(code: Code, values: &[Value]) -> Result<Items, PyException> {
        let mut data = Vec::with_capacity(values.len() * code.size);
        for v in values {
            code.encode(v, &mut data)?;
        }
        Ok(Items { code, data })
    }

    /// `frombytes`: native bytes, whole items only; characters must be
    /// code points (which Rust strings can hold, so not surrogates).
    fn from_bytes(code: Code, data: &[u8]) -> Result<Items, PyException> {
        if data.len() % code.size != 0 {
            return Err(PyException::value_error(
                "bytes length not a multiple of item size",
            ));
        }
        if code.is_char() {
            for b in data.chunks_exact(4) {
                let cp = u32::from_le_bytes(b.try_into().unwrap_or_default());
                if char::from_u32(cp).is_none() {
                    return Err(PyException::value_error(format!(
                        "character U+{cp:x} is not in range [U+0000; U+10ffff]"
                    )));
                }
            }
        }
        Ok(Items {
            code,
            data: data.to_vec(),
        })
    }

    /// The items at `positions` as a new array.
    fn select(&self, positions: impl Iterator<Item = usize>) -> Items {
        let size = self.code.size;
        let mut data = Vec::new();
        for p in positions {
            if let Some(b) = self.data.get(p * size..(p + 1) * size) {
                data.extend_from_slice(b);
            }
        }
        Items {
            code: self.code,
            data,
        }
    }

    /// `array.array(typecode, bytes)`, as CPython's `ForkingPickler` writes it.
    fn to_value(&self) -> Value {
        Value::Object(Box::new(Object::reduce(
            Value::global("array", "array"),
            vec![
                Value::Str(self.code.tc.to_string()),
                Value::Bytes(self.data.clone()),
            ],
        )))
    }

    fn repr(&self) -> String {
        let tc = self.code.tc;
        if self.data.is_empty() {
            return format!("array('{tc}')");
        }
        if self.code.is_char() {
            let s: String = self
                .values()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect();
            return format!("array('{tc}', {})", Value::Str(s).repr());
        }
        format!(
            "array('{tc}', {})",
            Value::List(self.values().collect()).repr()
        )
    }
}

/// An `array.array(...)` value as sent by a client: `(typecode, bytes)`
/// (protocol 3+) or `(typecode, list)` (protocol 2).
fn parse_array_value(o: &Object) -> Result<Items, PyException> {
    let bad = || PyException::type_error("malformed array.array value");
    let (tc, init) = match o.args() {
        [tc, init] => (tc, init),
        _ => return Err(bad()),
    };
    let code = tc
        .as_str()
        .and_then(|s| {
            let mut c = s.chars();
            c.next().filter(|_| c.next().is_none())
        })
        .and_then(code_of)
        .ok_or_else(bad)?;
    match init {
        Value::Bytes(b) | Value::ByteArray(b) => Items::from_bytes(code, b),
        Value::List(items) => Items::from_values(code, items),
        Value::Str(s) if code.is_char() => Items::from_values(code, &chars(s)),
        _ => Err(bad()),
    }
}

fn chars(s: &str) -> Vec<Value> {
    s.chars().map(|c| Value::Str(c.to_string())).collect()
}

/// The items of an `array.array(...)` value, for `seq::iterate`.
pub fn items_of_value(o: &Object) -> Result<Vec<Value>, PyException> {
    Ok(parse_array_value(o)?.values().collect())
}

/// The shared object.
pub struct Array {
    items: Mutex<Items>,
}

const ARRAY: Sig = Sig::py("Array", &["typecode", "sequence", "lock"], 2);

/// `SyncManager.Array(typecode, sequence, lock=True)` →
/// `array.array(typecode, sequence)`; `lock` is ignored, as CPython's does.
pub fn create(ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    let mut b = args.bind(&ARRAY)?;
    let tc = b.req(0);
    let init = b.req(1);
    Ok(Arc::new(Array {
        items: Mutex::new(build(ctx, &tc, &init)?),
    }))
}

/// `array.array(typecode, initializer)` (`array_new`).
fn build(ctx: &CallCtx<'_>, tc: &Value, init: &Value) -> Result<Items, PyException> {
    let c = match tc.as_str().map(|s| (s.chars().next(), s.chars().count())) {
        Some((Some(c), 1)) => c,
        _ => {
            return Err(PyException::type_error(format!(
                "array() argument 1 must be a unicode character, not {}",
                tc.type_name()
            )))
        }
    };
    let code = code_of(c).ok_or_else(|| {
        PyException::value_error("bad typecode (must be b, B, u, h, H, i, I, l, L, q, Q, f or d)")
    })?;
    match init {
        Value::Bytes(b) | Value::ByteArray(b) => Items::from_bytes(code, b),
        Value::Str(s) if code.is_char() => Items::from_values(code, &chars(s)),
        Value::Str(_) => Err(PyException::type_error(format!(
            "cannot use a str to initialize an array with typecode '{c}'"
        ))),
        Value::Object(o) if o.global().is_some_and(|g| g.is("array", "array")) => {
            let src = parse_array_value(o)?;
            if src.code.is_char() && !code.is_char() {
                return Err(PyException::type_error(format!(
                    "cannot use a unicode array to initialize an array with typecode '{c}'"
                )));
            }
            Items::from_values(code, &src.values().collect::<Vec<_>>())
        }
        other => Items::from_values(code, &seq::iterate(ctx, other)?),
    }
}

impl Array {
    fn getitem(&self, key: &Value) -> Result<Value, PyException> {
        let items = seq::lock(&self.items);
        match seq::subscript(key) {
            Some(Subscript::Index(Int::Fits(i))) => seq::position(i, items.len())
                .and_then(|p| items.item(p))
                .ok_or_else(|| PyException::index_error("array index out of range")),
            Some(Subscript::Index(Int::Huge(_))) => Err(seq::index_overflow()),
            Some(Subscript::Slice(parts)) => {
                let s = seq::resolve_slice(parts, items.len())?;
                Ok(items.select(s.positions()).to_value())
            }
            None => Err(PyException::type_error("array indices must be integers")),
        }
    }

    fn setitem(&self, key: &Value, value: &Value) -> Result<(), PyException> {
        match seq::subscript(key) {
            Some(Subscript::Index(Int::Fits(i))) => {
                let mut items = seq::lock(&self.items);
                let pos = seq::position(i, items.len()).ok_or_else(|| {
                    PyException::index_error("array assignment index out of range")
                })?;
                let code = items.code;
                let mut one = Vec::with_capacity(code.size);
                code.encode(value, &mut one)?;
                let at = pos * code.size;
                if let Some(slot) = items.data.get_mut(at..at + code.size) {
                    slot.copy_from_slice(&one);
                }
                Ok(())
            }
            Some(Subscript::Index(Int::Huge(_))) => Err(seq::index_overflow()),
            Some(Subscript::Slice(parts)) => self.set_slice(parts, value),
            None => Err(PyException::type_error("array indices must be integers")),
        }
    }

    /// `a[i:j:k] = other`: `other` must be an array of the same typecode
    /// (`array_ass_subscr`).
    fn set_slice(&self, parts: &[Value], value: &Value) -> Result<(), PyException> {
        let src = match value {
            Value::Object(o) if o.global().is_some_and(|g| g.is("array", "array")) => {
                parse_array_value(o)?
            }
            other => {
                return Err(PyException::type_error(format!(
                    "can only assign array (not \"{}\") to array slice",
                    other.type_name()
                )))
            }
        };
        let mut items = seq::lock(&self.items);
        if src.code.tc != items.code.tc {
            return Err(PyException::type_error(
                "bad argument type for built-in operation",
            ));
        }
        let s = seq::resolve_slice(parts, items.len())?;
        let size = items.code.size;
        if s.step == 1 {
            let r = s.range();
            items.data.splice(r.start * size..r.end * size, src.data);
            return Ok(());
        }
        if src.len() != s.len {
            return Err(PyException::value_error(format!(
                "attempt to assign array of size {} to extended slice of size {}",
                src.len(),
                s.len
            )));
        }
        for (p, chunk) in s.positions().zip(src.data.chunks_exact(size)) {
            if let Some(slot) = items.data.get_mut(p * size..(p + 1) * size) {
                slot.copy_from_slice(chunk);
            }
        }
        Ok(())
    }
}

impl SharedObject for Array {
    fn type_name(&self) -> &'static str {
        "array"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let r = match method {
            "__len__" => Conv::Slot("__len__", 0)
                .none(args)
                .map(|_| Value::Int(seq::lock(&self.items).len() as i64)),
            "__getitem__" => Conv::One("array.__getitem__")
                .one(args)
                .and_then(|k| self.getitem(&k)),
            "__setitem__" => Conv::Slot("__setitem__", 2)
                .two(args)
                .and_then(|(k, v)| self.setitem(&k, &v))
                .map(|_| Value::None),
            other => Err(PyException::attribute_error(format!(
                "'array.array' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    fn repr(&self) -> String {
        seq::lock(&self.items).repr()
    }

    fn get_value(&self) -> Result<Value, String> {
        Ok(seq::lock(&self.items).to_value())
    }

    fn len_hint(&self) -> Option<usize> {
        Some(seq::lock(&self.items).len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, ints, raised, slice};
    use crate::pyexc::ExcKind::*;
    use crate::store::Store;
    use Value::{Int as I, None as N};

    fn make(store: &Store, tc: &str, init: Value) -> Result<Arc<dyn SharedObject>, PyException> {
        let ctx = CallCtx { conn: 1, store };
        create(&ctx, Args::new(vec![tc.into(), init]))
    }

    fn array_value(tc: &str, bytes: &[u8]) -> Value {
        Value::Object(Box::new(Object::reduce(
            Value::global("array", "array"),
            vec![tc.into(), Value::Bytes(bytes.to_vec())],
        )))
    }

    fn big(s: &str) -> Value {
        Value::from_bigint(s.parse().unwrap())
    }

    #[test]
    fn the_captured_session() {
        let store = Store::new(10);
        let a = make(&store, "i", ints(&[1, 2, 3])).unwrap();
        let a = a.as_ref();
        assert_eq!(call(a, &store, "__len__", vec![]).unwrap(), I(3));
        assert_eq!(call(a, &store, "__getitem__", vec![I(0)]).unwrap(), I(1));
        call(a, &store, "__setitem__", vec![I(0), I(10)]).unwrap();
        // a[0:2] → array.array('i', b'\n\x00\x00\x00\x02\x00\x00\x00').
        assert_eq!(
            call(a, &store, "__getitem__", vec![slice(I(0), I(2), N)]).unwrap(),
            array_value("i", b"\n\x00\x00\x00\x02\x00\x00\x00")
        );
        assert_eq!(
            raised(a, &store, "__setitem__", vec![I(1), Value::Float(1.5)]),
            (
                TypeError,
                "'float' object cannot be interpreted as an integer".to_string()
            )
        );
        assert_eq!(
            raised(a, &store, "__getitem__", vec![I(3)]),
            (IndexError, "array index out of range".to_string())
        );
        assert_eq!(
            a.get_value().unwrap(),
            array_value("i", b"\n\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00")
        );
        assert_eq!(a.repr(), "array('i', [10, 2, 3])");
        // m.Array('c', b'x') fails at create.
        let e = make(&store, "c", Value::Bytes(b"x".to_vec()))
            .err()
            .unwrap();
        assert_eq!(
            (e.kind, e.message()),
            (
                ValueError,
                "bad typecode (must be b, B, u, h, H, i, I, l, L, q, Q, f or d)".to_string()
            )
        );
    }

    #[test]
    fn item_checks_match_array_module() {
        // Messages of CPython 3.11's `array.array(tc, [v])`.
        let cases: &[(&str, Value, crate::pyexc::ExcKind, &str)] = &[
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
        let store = Store::new(10);
        for (tc, v, kind, m) in cases {
            let e = make(&store, tc, Value::List(vec![v.clone()]))
                .err()
                .unwrap();
            assert_eq!(
                (e.kind, e.message().as_str()),
                (*kind, *m),
                "array('{tc}', [{v:?}])"
            );
        }
        // Accepted: bools as ints, the unsigned 64-bit range, floats that
        // overflow a C float become inf.
        let a = make(
            &store,
            "Q",
            Value::List(vec![big("18446744073709551615"), Value::Bool(true)]),
        )
        .unwrap();
        assert_eq!(a.repr(), "array('Q', [18446744073709551615, 1])");
        let f = make(
            &store,
            "f",
            Value::List(vec![Value::Float(1e300), Value::Float(0.1)]),
        )
        .unwrap();
        assert_eq!(f.repr(), "array('f', [inf, 0.10000000149011612])");
        let b = make(&store, "b", ints(&[-128, 127])).unwrap();
        assert_eq!(b.get_value().unwrap(), array_value("b", &[0x80, 0x7f]));
        assert_eq!(
            call(b.as_ref(), &store, "__getitem__", vec![I(0)]).unwrap(),
            I(-128)
        );
    }

    #[test]
    fn initializers() {
        let store = Store::new(10);
        let u = make(&store, "u", "ab".into()).unwrap();
        assert_eq!(u.repr(), "array('u', 'ab')");
        assert_eq!(u.get_value().unwrap(), array_value("u", b"a\0\0\0b\0\0\0"));
        assert_eq!(make(&store, "d", ints(&[])).unwrap().repr(), "array('d')");
        let e = make(&store, "i", "ab".into()).err().unwrap();
        assert_eq!(
            e.message(),
            "cannot use a str to initialize an array with typecode 'i'"
        );
        // Bytes are raw machine values (`frombytes`).
        let raw = make(&store, "i", Value::Bytes(b"abcd".to_vec())).unwrap();
        assert_eq!(raw.repr(), "array('i', [1684234849])");
        let e = make(&store, "i", Value::Bytes(b"abc".to_vec()))
            .err()
            .unwrap();
        assert_eq!(e.message(), "bytes length not a multiple of item size");
        // Another array: converted item by item.
        let from_int = make(&store, "d", array_value("i", &[1, 0, 0, 0])).unwrap();
        assert_eq!(from_int.repr(), "array('d', [1.0])");
        let e = make(&store, "i", array_value("u", b"a\0\0\0"))
            .err()
            .unwrap();
        assert_eq!(
            e.message(),
            "cannot use a unicode array to initialize an array with typecode 'i'"
        );
        let e = make(&store, "i", I(5)).err().unwrap();
        assert_eq!(e.message(), "'int' object is not iterable");
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let e = create(&ctx, Args::new(vec![I(1), ints(&[])]))
            .err()
            .unwrap();
        assert_eq!(
            e.message(),
            "array() argument 1 must be a unicode character, not int"
        );
        let range = seq::builtin_call("range", vec![I(0), I(3), I(1)]);
        assert_eq!(
            make(&store, "h", range).unwrap().repr(),
            "array('h', [0, 1, 2])"
        );
    }

    #[test]
    fn slices() {
        let store = Store::new(10);
        let a = make(&store, "i", ints(&[1, 2, 3])).unwrap();
        let a = a.as_ref();
        let iv = |xs: &[i32]| {
            array_value(
                "i",
                &xs.iter().flat_map(|x| x.to_le_bytes()).collect::<Vec<u8>>(),
            )
        };
        assert_eq!(
            call(a, &store, "__getitem__", vec![slice(N, N, I(-1))]).unwrap(),
            iv(&[3, 2, 1])
        );
        assert_eq!(
            raised(
                a,
                &store,
                "__setitem__",
                vec![slice(I(0), I(2), N), ints(&[1, 2])]
            ),
            (
                TypeError,
                "can only assign array (not \"list\") to array slice".to_string()
            )
        );
        assert_eq!(
            raised(
                a,
                &store,
                "__setitem__",
                vec![slice(I(0), I(2), N), array_value("d", &[0; 8])]
            ),
            (
                TypeError,
                "bad argument type for built-in operation".to_string()
            )
        );
        // a[0:2] = array('i', [7]) shrinks the array.
        call(
            a,
            &store,
            "__setitem__",
            vec![slice(I(0), I(2), N), iv(&[7])],
        )
        .unwrap();
        assert_eq!(a.repr(), "array('i', [7, 3])");
        assert_eq!(
            raised(
                a,
                &store,
                "__setitem__",
                vec![slice(N, N, I(2)), iv(&[7, 8])]
            ),
            (
                ValueError,
                "attempt to assign array of size 2 to extended slice of size 1".to_string()
            )
        );
        call(
            a,
            &store,
            "__setitem__",
            vec![slice(N, N, I(-1)), iv(&[5, 6])],
        )
        .unwrap();
        assert_eq!(a.repr(), "array('i', [6, 5])");
        assert_eq!(
            raised(a, &store, "__setitem__", vec![I(2), I(0)]),
            (
                IndexError,
                "array assignment index out of range".to_string()
            )
        );
        assert_eq!(
            raised(a, &store, "__getitem__", vec!["x".into()]),
            (TypeError, "array indices must be integers".to_string())
        );
        assert_eq!(
            raised(
                a,
                &store,
                "__getitem__",
                vec![big("1180591620717411303424")]
            ),
            (
                IndexError,
                "cannot fit 'int' into an index-sized integer".to_string()
            )
        );
        assert_eq!(
            raised(a, &store, "__getitem__", vec![slice(N, N, I(0))]),
            (ValueError, "slice step cannot be zero".to_string())
        );
        assert_eq!(call(a, &store, "__getitem__", vec![I(-1)]).unwrap(), I(5));
    }
}
