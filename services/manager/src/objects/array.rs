//! `Array` (ArrayProxy, docs/protocol.md 9.5): a typed `array.array` shared by clients.
//!
//! CPython's `SyncManager.Array(typecode, sequence, lock=True)` is a plain
//! `array.array`, so its type checks are part of the contract: `a[0] = 1.5`
//! is a `TypeError`, out-of-range ints are `OverflowError`s with the C
//! type's message, and iteration ends at `IndexError('array index out of
//! range')`. The items are kept as the native bytes an x86-64 CPython would
//! hold (little-endian; `l`/`L` 8 bytes, `i`/`I` 4, `u` 4 as Linux's
//! `wchar_t`), which is also what crosses the wire: `array.array(typecode,
//! bytes)` (docs/protocol.md 7.5).

use crate::args::{Args, Sig};
use crate::objects::seq::{self, Conv, Int, Subscript};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::pyexc::PyException;
use mpcluster_wire::value::SurrogateStr;
use mpcluster_wire::{Object, Value};
use std::any::Any;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &["__len__", "__getitem__", "__setitem__"];

mod codec;

use codec::{code_of, Code};

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
        if !data.len().is_multiple_of(code.size) {
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
            // The items' code points as one `str` (lone surrogates too).
            let text = SurrogateStr::str_value(
                self.values()
                    .flat_map(|v| v.str_code_points().unwrap_or_default()),
            );
            return format!("array('{tc}', {})", text.repr());
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
        // CPython unpacks the slice (step zero) before looking at the value.
        seq::resolve_slice(parts, 0)?;
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
            "__getitem__" => Conv::Slot("__getitem__", 1)
                .one(args)
                .and_then(|k| self.getitem(&k)),
            "__setitem__" => Conv::Unpack("__setitem__", 2)
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

    fn mem_bytes(&self) -> Option<usize> {
        Some(seq::lock(&self.items).data.capacity())
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
    fn accepted_items() {
        let store = Store::new(10);
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
            raised(
                a,
                &store,
                "__setitem__",
                vec![slice(N, N, I(0)), ints(&[1])]
            ),
            (ValueError, "slice step cannot be zero".to_string())
        );
        assert_eq!(
            raised(a, &store, "__getitem__", vec![slice(N, N, I(0))]),
            (ValueError, "slice step cannot be zero".to_string())
        );
        assert_eq!(call(a, &store, "__getitem__", vec![I(-1)]).unwrap(), I(5));
        // Slot wrappers, unlike list's METH_O `__getitem__`.
        assert_eq!(
            raised(a, &store, "__getitem__", vec![]),
            (TypeError, "expected 1 argument, got 0".to_string())
        );
    }
}
