//! The pickle writer: a [`Value`] as CPython 3.11's C pickler (`_pickle.c`)
//! writes it at protocol 4 (what every CPython manager replies with) or 5.
//!
//! The goal is byte-for-byte equality with `pickle.dumps(v, protocol=4)`
//! for built-in values, so replies look exactly like a CPython server's.
//! That means following the C pickler, not `pickle.py`, where they differ:
//! exact lists, dicts and sets are batched by `batch_list_exact`,
//! `batch_dict_exact` and `save_set` (a dict or set whose size is a
//! multiple of 1000 ends with an empty `MARK … SETITEMS`/`ADDITEMS` batch, a
//! one-item tail batch is `MARK x APPENDS`), while an object's list and dict
//! items use the iterator batching (`APPEND`/`SETITEM` for a lone item).
//!
//! Memo: every string, bytes, tuple, container, global and object is
//! memoized as CPython does (`MEMOIZE`). A tree has no identity, so only
//! two things are reused: a module name (the globals of one module share
//! one `__module__` string object, so CPython writes `BINGET` for the
//! second; `builtins` has two such objects, see `BUILTIN_FUNCTIONS`) and a
//! whole global (a class is one object). Any other repeated object CPython
//! would write as a `GET` (an interned string used twice, a list shared by
//! two parents) is written out again, equal but not byte-identical. A
//! [`Value::BackRef`] becomes a `GET` of the enclosing container's memo
//! index.
//!
//! Framing follows `_Pickler_OpcodeBoundary`/`_Pickler_CommitFrame`: one
//! frame is open at a time, closed before an object starts once it holds
//! 64 KiB, written without its `FRAME` header when shorter than 4 bytes;
//! `str`/`bytes` payloads of 64 KiB or more go between frames.

use super::error::EncodeError;
use super::opcode as op;
use crate::value::{Build, Dict, Object, Set, Value};
use num_bigint::BigInt;
use std::collections::HashMap;

/// foldhash, seeded per map like `Dict`'s: std's `RandomState` reads
/// thread-local keys on every `Encoder::new`, once per pickle.
type GlobalsHasher = foldhash::fast::RandomState;

/// `_Pickler_CommitFrame` writes no header for a frame shorter than this.
const FRAME_SIZE_MIN: usize = 4;
/// A frame is closed once it holds this much (`FRAME_SIZE_TARGET`), and
/// payloads this large are written outside frames.
const FRAME_SIZE_TARGET: usize = 64 * 1024;
const FRAME_HEADER: usize = 9;
/// Items per `APPENDS`/`SETITEMS`/`ADDITEMS` (`BATCHSIZE`).
const BATCH: usize = 1000;

/// The functions of `builtins` (CPython 3.8-3.13, `open` aside, which is
/// `io.open`). Their `__module__` is the `builtins` module's own name
/// object, while built-in types report the interned `'builtins'`: two
/// distinct string objects, so CPython memoizes `'builtins'` once for each
/// group (`pickle.dumps([complex, abs, KeyError, len], 4)` writes it twice).
const BUILTIN_FUNCTIONS: &[&str] = &[
    "__build_class__",
    "__import__",
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "breakpoint",
    "callable",
    "chr",
    "compile",
    "delattr",
    "dir",
    "divmod",
    "eval",
    "exec",
    "format",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "hex",
    "id",
    "input",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "locals",
    "max",
    "min",
    "next",
    "oct",
    "ord",
    "pow",
    "print",
    "repr",
    "round",
    "setattr",
    "sorted",
    "sum",
    "vars",
];

/// Which string object CPython's `whichmodule` returns for a global, as a
/// memo key: one per module, except that `builtins` has two (see
/// [`BUILTIN_FUNCTIONS`]).
fn module_identity(module: &str, name: &str) -> String {
    if module == "builtins" && BUILTIN_FUNCTIONS.contains(&name) {
        // Not a valid module name, so it cannot collide with one.
        "builtins()".to_string()
    } else {
        module.to_string()
    }
}

/// An opcode and its length operand, on the stack: every string and bytes
/// value has one, and a heap `Vec` for it cost an allocation per string.
struct Header {
    buf: [u8; 9],
    len: usize,
}

impl Header {
    fn new(code: u8, operand: &[u8]) -> Header {
        let mut buf = [0; 9];
        buf[0] = code;
        let len = 1 + operand.len().min(8);
        buf[1..len].copy_from_slice(&operand[..len - 1]);
        Header { buf, len }
    }

    /// The 1-, 4- or 8-byte length form, the shortest that fits `n`.
    fn sized(short: u8, four: u8, eight: u8, n: usize) -> Header {
        if let Ok(b) = u8::try_from(n) {
            Header::new(short, &[b])
        } else if let Ok(w) = u32::try_from(n) {
            Header::new(four, &w.to_le_bytes())
        } else {
            Header::new(eight, &(n as u64).to_le_bytes())
        }
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

pub(crate) struct Encoder {
    out: Vec<u8>,
    proto: u8,
    framing: bool,
    /// Start of the open frame's header placeholder.
    frame_start: Option<usize>,
    memo_len: u32,
    /// Memo index of each module string, by [`module_identity`].
    modules: HashMap<String, u32, GlobalsHasher>,
    globals: HashMap<(String, String), u32, GlobalsHasher>,
    /// Memo index of each enclosing container, innermost last; `None` while
    /// it is not memoized yet (tuples, frozensets, an object's arguments).
    ancestors: Vec<Option<u32>>,
    /// Fail on a dangling back-reference instead of writing `None`.
    strict: bool,
}

impl Encoder {
    /// `proto` is 4 or 5.
    pub(crate) fn new(proto: u8, strict: bool) -> Self {
        Encoder {
            out: Vec::new(),
            proto,
            framing: false,
            frame_start: None,
            memo_len: 0,
            modules: HashMap::default(),
            globals: HashMap::default(),
            ancestors: Vec::new(),
            strict,
        }
    }

    /// `Pickler.dump`: `PROTO` outside any frame, then the value and `STOP`
    /// in frames.
    pub(crate) fn dump(self, v: &Value) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.dump_into(v, &mut out)?;
        Ok(out)
    }

    /// [`Encoder::dump`] appending to `out`; `out` keeps what it held
    /// before (and, on an error, the partial pickle after it).
    pub(crate) fn dump_into(self, v: &Value, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        self.dump_with(out, |e| e.save(v))
    }

    /// The request tuple `(ident, name, args, kwds)` (spec 5.1), written
    /// exactly as [`Encoder::dump_into`] writes that tuple, without
    /// building it: no copies of the strings, arguments or keywords.
    pub(crate) fn dump_call_into(
        self,
        ident: Option<&str>,
        name: &str,
        args: &[Value],
        kwds: &Dict,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        // `save` of a 4-tuple: MARK, the items, TUPLE, MEMOIZE. A tuple is
        // memoized after its items, so nothing inside can refer back to it:
        // without an ancestor slot for it, such a back-reference is
        // dangling just the same (`save_back_ref`), and no slot means no
        // allocation per call.
        self.dump_with(out, |e| {
            e.begin();
            e.write(&[op::MARK]);
            e.begin();
            match ident {
                Some(id) => e.save_str(id),
                None => e.write(&[op::NONE]),
            }
            e.begin();
            e.save_str(name);
            e.begin();
            e.save_tuple(args)?;
            e.begin();
            e.save_dict(kwds)?;
            e.write(&[op::TUPLE]);
            e.memoize();
            Ok(())
        })
    }

    /// The pair `(first, second)` (a reply, spec 5.2), written exactly as
    /// [`Encoder::dump_into`] writes that tuple, without building it.
    pub(crate) fn dump_pair_into(
        self,
        first: &str,
        second: &Value,
        out: &mut Vec<u8>,
    ) -> Result<(), EncodeError> {
        // `save` of a 2-tuple: the items, TUPLE2, MEMOIZE (no ancestor
        // slot: see `dump_call_into`).
        self.dump_with(out, |e| {
            e.begin();
            e.begin();
            e.save_str(first);
            e.save(second)?;
            e.write(&[op::TUPLE2]);
            e.memoize();
            Ok(())
        })
    }

    /// `PROTO` outside any frame, then what `body` saves and `STOP` in
    /// frames, appended to `out`.
    fn dump_with(
        mut self,
        out: &mut Vec<u8>,
        body: impl FnOnce(&mut Self) -> Result<(), EncodeError>,
    ) -> Result<(), EncodeError> {
        self.out = std::mem::take(out);
        self.write(&[op::PROTO, self.proto]);
        self.framing = true;
        let result = body(&mut self);
        if result.is_ok() {
            self.write(&[op::STOP]);
            self.commit_frame();
        }
        *out = std::mem::take(&mut self.out);
        result
    }

    // ---- output and framing ----

    fn write(&mut self, bytes: &[u8]) {
        if self.framing && self.frame_start.is_none() {
            self.frame_start = Some(self.out.len());
            self.out.extend_from_slice(&[0; FRAME_HEADER]);
        }
        self.out.extend_from_slice(bytes);
    }

    fn frame_len(&self) -> Option<usize> {
        self.frame_start.map(|s| self.out.len() - s - FRAME_HEADER)
    }

    fn commit_frame(&mut self) {
        let (Some(start), Some(len)) = (self.frame_start, self.frame_len()) else {
            return;
        };
        self.frame_start = None;
        if len >= FRAME_SIZE_MIN {
            if let Some(h) = self.out.get_mut(start..start + FRAME_HEADER) {
                h[0] = op::FRAME;
                h[1..].copy_from_slice(&(len as u64).to_le_bytes());
            }
        } else {
            self.out.drain(start..start + FRAME_HEADER);
        }
    }

    /// Called where CPython's `save()` starts on an object.
    fn begin(&mut self) {
        if self.frame_len().is_some_and(|n| n >= FRAME_SIZE_TARGET) {
            self.commit_frame();
        }
    }

    /// A header and a payload; payloads of 64 KiB or more bypass framing
    /// (`_Pickler_write_bytes`).
    fn write_payload(&mut self, header: &[u8], payload: &[u8]) {
        if payload.len() < FRAME_SIZE_TARGET {
            self.write(header);
            self.write(payload);
            return;
        }
        self.commit_frame();
        self.framing = false;
        self.write(header);
        self.write(payload);
        self.framing = true;
    }

    // ---- memo ----

    fn memoize(&mut self) -> u32 {
        self.write(&[op::MEMOIZE]);
        self.memo_len += 1;
        self.memo_len - 1
    }

    fn get(&mut self, idx: u32) {
        match u8::try_from(idx) {
            Ok(i) => self.write(&[op::BINGET, i]),
            Err(_) => {
                self.write(&[op::LONG_BINGET]);
                self.write(&idx.to_le_bytes());
            }
        }
    }

    // ---- values ----

    fn save(&mut self, v: &Value) -> Result<(), EncodeError> {
        self.begin();
        match v {
            Value::None => self.write(&[op::NONE]),
            Value::Bool(true) => self.write(&[op::NEWTRUE]),
            Value::Bool(false) => self.write(&[op::NEWFALSE]),
            Value::Int(i) => self.save_int(*i),
            Value::BigInt(b) => self.save_long(b),
            Value::Float(f) => self.save_float(*f),
            Value::Complex(c) => self.save_complex(c.0, c.1),
            Value::Str(s) => self.save_str(s),
            Value::SurrogateStr(s) => self.save_text(s.as_bytes()),
            Value::Bytes(b) => self.save_bytes(b),
            Value::ByteArray(b) => self.save_bytearray(b),
            Value::Tuple(items) => self.save_tuple(items)?,
            Value::List(items) => self.save_list(items)?,
            Value::Dict(d) => self.save_dict(d)?,
            Value::Set(s) => self.save_set(s)?,
            Value::FrozenSet(s) => self.save_frozenset(s)?,
            Value::Global(g) => self.save_global(&g.module, &g.name),
            Value::Object(o) => self.save_object(o)?,
            Value::BackRef(levels) => self.save_back_ref(*levels)?,
        }
        Ok(())
    }

    fn save_int(&mut self, i: i64) {
        match i {
            0..=0xff => self.write(&[op::BININT1, i as u8]),
            0x100..=0xffff => {
                self.write(&[op::BININT2]);
                self.write(&(i as u16).to_le_bytes());
            }
            _ => match i32::try_from(i) {
                Ok(v) => {
                    self.write(&[op::BININT]);
                    self.write(&v.to_le_bytes());
                }
                Err(_) => self.save_long(&BigInt::from(i)),
            },
        }
    }

    /// `LONG1`/`LONG4` with the shortest two's complement (`encode_long`).
    fn save_long(&mut self, b: &BigInt) {
        let bytes = if b.sign() == num_bigint::Sign::NoSign {
            Vec::new()
        } else {
            b.to_signed_bytes_le()
        };
        match u8::try_from(bytes.len()) {
            Ok(n) => self.write(&[op::LONG1, n]),
            Err(_) => {
                self.write(&[op::LONG4]);
                self.write(&(bytes.len() as u32).to_le_bytes());
            }
        }
        self.write(&bytes);
    }

    fn save_float(&mut self, f: f64) {
        self.write(&[op::BINFLOAT]);
        self.write(&f.to_be_bytes());
    }

    /// `complex.__reduce__` is `(complex, (real, imag))`.
    fn save_complex(&mut self, re: f64, im: f64) {
        self.begin();
        self.save_global("builtins", "complex");
        self.begin();
        self.begin();
        self.save_float(re);
        self.begin();
        self.save_float(im);
        self.write(&[op::TUPLE2]);
        self.memoize();
        self.write(&[op::REDUCE]);
        self.memoize();
    }

    fn save_str(&mut self, s: &str) {
        self.save_text(s.as_bytes())
    }

    /// A `str` as its UTF-8 (`surrogatepass` for a `SurrogateStr`).
    fn save_text(&mut self, b: &[u8]) {
        let h = Header::sized(
            op::SHORT_BINUNICODE,
            op::BINUNICODE,
            op::BINUNICODE8,
            b.len(),
        );
        self.write_payload(h.bytes(), b);
        self.memoize();
    }

    fn save_bytes(&mut self, b: &[u8]) {
        let h = Header::sized(op::SHORT_BINBYTES, op::BINBYTES, op::BINBYTES8, b.len());
        self.write_payload(h.bytes(), b);
        self.memoize();
    }

    /// Protocol 5 has `BYTEARRAY8`; before it, `bytearray(bytes)` or
    /// `bytearray()` is a reduce (`save_bytearray`).
    fn save_bytearray(&mut self, b: &[u8]) {
        if self.proto >= 5 {
            let h = Header::new(op::BYTEARRAY8, &(b.len() as u64).to_le_bytes());
            self.write_payload(h.bytes(), b);
            self.memoize();
            return;
        }
        self.begin();
        self.save_global("builtins", "bytearray");
        self.begin();
        if b.is_empty() {
            self.write(&[op::EMPTY_TUPLE]);
        } else {
            self.begin();
            self.save_bytes(b);
            self.write(&[op::TUPLE1]);
            self.memoize();
        }
        self.write(&[op::REDUCE]);
        self.memoize();
    }

    fn save_tuple(&mut self, items: &[Value]) -> Result<(), EncodeError> {
        if items.is_empty() {
            // The empty tuple is a singleton CPython never memoizes.
            self.write(&[op::EMPTY_TUPLE]);
            return Ok(());
        }
        let short = items.len() <= 3;
        if !short {
            self.write(&[op::MARK]);
        }
        self.ancestors.push(None);
        let r = items.iter().try_for_each(|x| self.save(x));
        self.ancestors.pop();
        r?;
        let code = match items.len() {
            1 => op::TUPLE1,
            2 => op::TUPLE2,
            3 => op::TUPLE3,
            _ => op::TUPLE,
        };
        self.write(&[code]);
        self.memoize();
        Ok(())
    }

    /// Runs `body` with a memoized container `idx` as the innermost
    /// ancestor.
    fn inside<F>(&mut self, idx: Option<u32>, body: F) -> Result<(), EncodeError>
    where
        F: FnOnce(&mut Self) -> Result<(), EncodeError>,
    {
        self.ancestors.push(idx);
        let r = body(self);
        self.ancestors.pop();
        r
    }

    fn save_list(&mut self, items: &[Value]) -> Result<(), EncodeError> {
        self.write(&[op::EMPTY_LIST]);
        let idx = self.memoize();
        self.inside(Some(idx), |e| match items {
            [] => Ok(()),
            [one] => {
                e.save(one)?;
                e.write(&[op::APPEND]);
                Ok(())
            }
            _ => items.chunks(BATCH).try_for_each(|chunk| {
                e.write(&[op::MARK]);
                chunk.iter().try_for_each(|x| e.save(x))?;
                e.write(&[op::APPENDS]);
                Ok(())
            }),
        })
    }

    fn save_dict(&mut self, d: &Dict) -> Result<(), EncodeError> {
        self.write(&[op::EMPTY_DICT]);
        let idx = self.memoize();
        self.inside(Some(idx), |e| {
            if d.len() == 1 {
                for (k, v) in d.iter() {
                    e.save(k)?;
                    e.save(v)?;
                }
                e.write(&[op::SETITEM]);
                return Ok(());
            }
            if d.is_empty() {
                return Ok(());
            }
            // `batch_dict_exact` loops while a batch was full, so a size
            // that is a multiple of 1000 ends with an empty batch.
            let mut it = d.iter();
            loop {
                e.write(&[op::MARK]);
                let mut n = 0;
                for (k, v) in it.by_ref().take(BATCH) {
                    e.save(k)?;
                    e.save(v)?;
                    n += 1;
                }
                e.write(&[op::SETITEMS]);
                if n < BATCH {
                    return Ok(());
                }
            }
        })
    }

    fn save_set(&mut self, s: &Set) -> Result<(), EncodeError> {
        self.write(&[op::EMPTY_SET]);
        let idx = self.memoize();
        if s.is_empty() {
            return Ok(());
        }
        self.inside(Some(idx), |e| {
            // Same loop shape as `batch_dict_exact` (`save_set`).
            let mut it = s.iter();
            loop {
                e.write(&[op::MARK]);
                let mut n = 0;
                for x in it.by_ref().take(BATCH) {
                    e.save(x)?;
                    n += 1;
                }
                e.write(&[op::ADDITEMS]);
                if n < BATCH {
                    return Ok(());
                }
            }
        })
    }

    fn save_frozenset(&mut self, s: &Set) -> Result<(), EncodeError> {
        self.write(&[op::MARK]);
        self.inside(None, |e| s.iter().try_for_each(|x| e.save(x)))?;
        self.write(&[op::FROZENSET]);
        self.memoize();
        Ok(())
    }

    /// `STACK_GLOBAL` from memoized module and name strings, the global
    /// itself memoized; a repeated global or module is a `GET`.
    fn save_global(&mut self, module: &str, name: &str) {
        if let Some(idx) = self.globals.get(&(module.to_string(), name.to_string())) {
            let idx = *idx;
            self.get(idx);
            return;
        }
        self.begin();
        let identity = module_identity(module, name);
        match self.modules.get(&identity) {
            Some(idx) => {
                let idx = *idx;
                self.get(idx);
            }
            None => {
                self.save_str(module);
                self.modules.insert(identity, self.memo_len - 1);
            }
        }
        self.begin();
        self.save_str(name);
        self.write(&[op::STACK_GLOBAL]);
        let idx = self.memoize();
        self.globals
            .insert((module.to_string(), name.to_string()), idx);
    }

    /// `save_reduce`: construction, memoize, list items, dict items, state.
    fn save_object(&mut self, o: &Object) -> Result<(), EncodeError> {
        self.ancestors.push(None);
        let head = match &o.build {
            Build::Reduce { callable, args } => self
                .save(callable)
                .and_then(|_| self.save(args))
                .map(|_| op::REDUCE),
            Build::NewObj { cls, args, kwargs } => self
                .save(cls)
                .and_then(|_| self.save(args))
                .and_then(|_| match kwargs {
                    Some(kw) => self.save(kw).map(|_| op::NEWOBJ_EX),
                    None => Ok(op::NEWOBJ),
                }),
        };
        self.ancestors.pop();
        let code = head?;
        self.write(&[code]);
        let idx = self.memoize();
        self.inside(Some(idx), |e| {
            // `batch_list`/`batch_dict` over an iterator: a lone item of a
            // batch is written with APPEND/SETITEM.
            for chunk in o.list_items.chunks(BATCH) {
                if let [one] = chunk {
                    e.save(one)?;
                    e.write(&[op::APPEND]);
                } else {
                    e.write(&[op::MARK]);
                    chunk.iter().try_for_each(|x| e.save(x))?;
                    e.write(&[op::APPENDS]);
                }
            }
            for chunk in o.dict_items.chunks(BATCH) {
                let lone = chunk.len() == 1;
                if !lone {
                    e.write(&[op::MARK]);
                }
                for (k, v) in chunk {
                    e.save(k)?;
                    e.save(v)?;
                }
                e.write(&[if lone { op::SETITEM } else { op::SETITEMS }]);
            }
            if let Some(state) = &o.state {
                e.save(state)?;
                e.write(&[op::BUILD]);
            }
            Ok(())
        })
    }

    fn save_back_ref(&mut self, levels: usize) -> Result<(), EncodeError> {
        let target = self
            .ancestors
            .len()
            .checked_sub(levels + 1)
            .and_then(|i| self.ancestors.get(i).copied().flatten());
        match target {
            Some(idx) => self.get(idx),
            None if self.strict => return Err(EncodeError::DanglingBackRef { levels }),
            None => self.write(&[op::NONE]),
        }
        Ok(())
    }
}
