//! Python's `repr()` and `str()` of values, as CPython prints them.
//!
//! The manager answers `str(proxy)`/`repr(proxy)` (the `__repr__` and
//! `__str__` fallbacks of `Server.serve_client`) with these strings, and the
//! admin surface previews objects with them. Built-in values print exactly
//! as in CPython 3.11: floats with the shortest round-trip digits
//! (`repr_num.rs`), strings with CPython's quote choice and escapes (non-ASCII
//! characters are kept when `str.isprintable` would say so, see
//! `printable.rs`), containers with their separators, a list that contains
//! itself as `[[...]]`. Opaque objects that the server understands (exceptions,
//! `range`, `array.array`, `Namespace`, …) print as their class would
//! (`repr_obj.rs`); others as `<module.Class object>`, CPython's default repr
//! without the address the server cannot know.
//!
//! Output is bounded on request ([`Value::repr_bounded`]) and nesting is
//! bounded always, so a hostile value costs neither unbounded memory nor the
//! stack.

use super::repr_num::{complex_repr, float_repr};
use super::{repr_obj, Object, Piece, SurrogateStr, Value};
use crate::value::printable::is_printable;
use std::fmt::Write as _;

/// Containers nested deeper than this print as `...` (CPython would raise
/// `RecursionError` near 1000 levels; decoded values are far shallower).
const MAX_DEPTH: usize = 256;

/// A custom repr for opaque objects, consulted before the built-in rules
/// (the manager uses it to print a proxy as the object it refers to).
pub type ObjectRepr<'a> = &'a dyn Fn(&Object) -> Option<String>;

/// How [`Value::repr_with`] prints.
#[derive(Clone, Copy, Default)]
pub struct ReprOptions<'a> {
    /// At most this many characters, the last three being `...` when the
    /// repr was cut. `None`: unbounded.
    pub max_chars: Option<usize>,
    /// Tried first for every opaque object.
    pub object_repr: Option<ObjectRepr<'a>>,
}

impl Value {
    /// `repr(v)` as CPython prints it.
    pub fn repr(&self) -> String {
        self.repr_with(&ReprOptions::default())
    }

    /// `repr(v)` cut to at most `max_chars` characters (ending in `...` when
    /// cut). Stops walking the value once the budget is spent.
    pub fn repr_bounded(&self, max_chars: usize) -> String {
        self.repr_with(&ReprOptions {
            max_chars: Some(max_chars),
            object_repr: None,
        })
    }

    /// `repr(v)` with options.
    pub fn repr_with(&self, opts: &ReprOptions<'_>) -> String {
        let mut w = Writer::new(opts.max_chars, opts.object_repr);
        w.value(self);
        w.finish()
    }

    /// `str(v)`: the string itself for a `str`, the message for an exception
    /// (`str(KeyError('x')) == "'x'"`), `repr(v)` otherwise, which is what
    /// CPython's `object.__str__` falls back to for every other built-in.
    pub fn py_str(&self) -> String {
        match self {
            Value::Str(s) => s.clone(),
            // A `String` cannot hold the surrogates: shown as U+FFFD.
            Value::SurrogateStr(s) => s.to_string_lossy(),
            Value::Object(o) => {
                let mut w = Writer::new(None, None);
                if !repr_obj::write_exception_str(&mut w, o) {
                    w.value(self);
                }
                w.finish()
            }
            _ => self.repr(),
        }
    }
}

/// `unicode_repr`'s quote: `"` only when the text has a `'` and no `"`.
fn repr_quote(has_single: bool, has_double: bool) -> char {
    if has_single && !has_double {
        '"'
    } else {
        '\''
    }
}

/// `repr(v)` when it is certainly what CPython prints; `None` when an opaque
/// object had to be guessed at (`<m.C object>` has no address, a user class
/// may define `__repr__`). Used where a wrong string would be a wrong
/// answer, such as the `str` sort key.
pub(crate) fn repr_exact(v: &Value) -> Option<String> {
    let mut w = Writer::new(None, None);
    w.value(v);
    w.exact.then(|| w.finish())
}

/// `str(v)` under the same condition as [`repr_exact`].
pub(crate) fn str_exact(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(s.clone()),
        Value::Object(o) => {
            let mut w = Writer::new(None, None);
            if !repr_obj::write_exception_str(&mut w, o) {
                w.value(v);
            }
            w.exact.then(|| w.finish())
        }
        _ => repr_exact(v),
    }
}

/// The kind of an enclosing value, for printing a [`Value::BackRef`] the
/// way CPython's `Py_ReprEnter` guards print recursion.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Frame {
    List,
    Tuple,
    Dict,
    Set,
    FrozenSet,
    Object,
}

/// Accumulates a repr under a character budget.
pub(crate) struct Writer<'a> {
    out: String,
    chars: usize,
    limit: Option<usize>,
    /// Cleared when some part was guessed rather than known.
    pub(crate) exact: bool,
    frames: Vec<Frame>,
    hook: Option<ObjectRepr<'a>>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(limit: Option<usize>, hook: Option<ObjectRepr<'a>>) -> Self {
        Writer {
            out: String::new(),
            chars: 0,
            limit,
            exact: true,
            frames: Vec::new(),
            hook,
        }
    }

    /// True once the budget is spent; writers stop descending then.
    pub(crate) fn full(&self) -> bool {
        self.limit.is_some_and(|l| self.chars > l)
    }

    /// Characters still allowed before the cut (plus one, so the cut is seen).
    fn remaining(&self) -> Option<usize> {
        self.limit.map(|l| (l + 1).saturating_sub(self.chars))
    }

    pub(crate) fn push(&mut self, s: &str) {
        if self.full() {
            return;
        }
        self.out.push_str(s);
        self.chars += s.chars().count();
    }

    pub(crate) fn hook(&self) -> Option<ObjectRepr<'a>> {
        self.hook
    }

    fn finish(self) -> String {
        let Some(limit) = self.limit else {
            return self.out;
        };
        if self.chars <= limit {
            return self.out;
        }
        let keep = limit.saturating_sub(3);
        let mut out: String = self.out.chars().take(keep).collect();
        out.push_str(&"..."[..limit.min(3)]);
        out
    }

    /// Runs `f` with `frames` pushed (the containers that `f` writes the
    /// contents of), popping them afterwards.
    pub(crate) fn within(&mut self, frames: &[Frame], f: impl FnOnce(&mut Self)) {
        let depth = self.frames.len();
        if depth + frames.len() > MAX_DEPTH {
            self.exact = false;
            self.push("...");
            return;
        }
        self.frames.extend_from_slice(frames);
        f(self);
        self.frames.truncate(depth);
    }

    /// The repr of `v` as a separate string (for parts that must be sorted
    /// before writing, as `Namespace` does), under what is left of the
    /// budget and inside the same enclosing containers.
    pub(crate) fn sub_repr(&mut self, v: &Value) -> String {
        let mut sub = Writer {
            out: String::new(),
            chars: 0,
            limit: self.remaining(),
            exact: true,
            frames: self.frames.clone(),
            hook: self.hook,
        };
        sub.value(v);
        self.exact &= sub.exact;
        sub.out
    }

    pub(crate) fn value(&mut self, v: &Value) {
        if self.full() {
            return;
        }
        match v {
            Value::None => self.push("None"),
            Value::Bool(true) => self.push("True"),
            Value::Bool(false) => self.push("False"),
            Value::Int(i) => {
                let mut buf = String::new();
                let _ = write!(buf, "{i}");
                self.push(&buf);
            }
            Value::BigInt(b) => self.push(&b.to_string()),
            Value::Float(f) => self.push(&float_repr(*f)),
            Value::Complex(c) => self.push(&complex_repr(c.0, c.1)),
            Value::Str(s) => self.str_repr(s),
            Value::SurrogateStr(s) => self.surrogate_str_repr(s),
            Value::Bytes(b) => self.bytes_repr(b),
            Value::ByteArray(b) => self.bytearray_repr(b),
            Value::Tuple(items) => {
                self.push("(");
                self.within(&[Frame::Tuple], |w| w.items(items));
                if items.len() == 1 {
                    self.push(",");
                }
                self.push(")");
            }
            Value::List(items) => {
                self.push("[");
                self.within(&[Frame::List], |w| w.items(items));
                self.push("]");
            }
            Value::Dict(d) => {
                self.push("{");
                self.within(&[Frame::Dict], |w| w.pairs(d.iter()));
                self.push("}");
            }
            Value::Set(s) if s.is_empty() => self.push("set()"),
            Value::Set(s) => {
                self.push("{");
                self.within(&[Frame::Set], |w| w.items(s.iter()));
                self.push("}");
            }
            Value::FrozenSet(s) if s.is_empty() => self.push("frozenset()"),
            Value::FrozenSet(s) => {
                self.push("frozenset({");
                self.within(&[Frame::FrozenSet], |w| w.items(s.iter()));
                self.push("})");
            }
            Value::Global(g) => repr_obj::write_global(self, g),
            Value::Object(o) => self.within(&[Frame::Object], |w| repr_obj::write_object(w, o)),
            Value::BackRef(n) => self.back_ref(*n),
        }
    }

    /// Items separated by `", "`.
    pub(crate) fn items<'v>(&mut self, items: impl IntoIterator<Item = &'v Value>) {
        for (i, v) in items.into_iter().enumerate() {
            if self.full() {
                return;
            }
            if i > 0 {
                self.push(", ");
            }
            self.value(v);
        }
    }

    /// `k: v` pairs separated by `", "`.
    pub(crate) fn pairs<'v>(&mut self, pairs: impl IntoIterator<Item = (&'v Value, &'v Value)>) {
        for (i, (k, v)) in pairs.into_iter().enumerate() {
            if self.full() {
                return;
            }
            if i > 0 {
                self.push(", ");
            }
            self.value(k);
            self.push(": ");
            self.value(v);
        }
    }

    /// What CPython prints for a container met again while printing itself.
    fn back_ref(&mut self, n: usize) {
        let frame = self
            .frames
            .len()
            .checked_sub(n + 1)
            .and_then(|i| self.frames.get(i));
        let s = match frame {
            Some(Frame::Dict) => "{...}",
            Some(Frame::Set) => "set(...)",
            Some(Frame::FrozenSet) => "frozenset(...)",
            Some(Frame::Tuple) => "(...)",
            Some(Frame::Object) => {
                self.exact = false;
                "..."
            }
            // A back reference is typed as a list when nothing says more.
            Some(Frame::List) | None => "[...]",
        };
        self.push(s);
    }

    /// `unicode_repr`: single quotes unless the text has a `'` and no `"`.
    pub(crate) fn str_repr(&mut self, s: &str) {
        let quote = repr_quote(s.contains('\''), s.contains('"'));
        self.code_points_repr(quote, s.len(), s.chars().map(u32::from));
    }

    /// The same for a `str` holding surrogates, which are never printable.
    pub(crate) fn surrogate_str_repr(&mut self, s: &SurrogateStr) {
        let texts = || {
            s.pieces().filter_map(|p| match p {
                Piece::Text(t) => Some(t),
                Piece::Surrogate(_) => None,
            })
        };
        let quote = repr_quote(
            texts().any(|t| t.contains('\'')),
            texts().any(|t| t.contains('"')),
        );
        let points = s
            .pieces()
            .flat_map(|p| -> Box<dyn Iterator<Item = u32> + '_> {
                match p {
                    Piece::Text(t) => Box::new(t.chars().map(u32::from)),
                    Piece::Surrogate(cp) => Box::new(std::iter::once(u32::from(cp))),
                }
            });
        self.code_points_repr(quote, s.as_bytes().len(), points);
    }

    fn code_points_repr(&mut self, quote: char, size: usize, points: impl Iterator<Item = u32>) {
        let mut out = String::with_capacity(size + 2);
        out.push(quote);
        // Only as much of a huge string as the budget can show.
        let take = self.remaining().unwrap_or(usize::MAX);
        for cp in points.take(take) {
            match char::from_u32(cp) {
                Some('\\') => out.push_str("\\\\"),
                Some('\t') => out.push_str("\\t"),
                Some('\n') => out.push_str("\\n"),
                Some('\r') => out.push_str("\\r"),
                Some(c) if c == quote => {
                    out.push('\\');
                    out.push(c);
                }
                Some(c) if is_printable(c) => out.push(c),
                // Other characters, and lone surrogates (no `char`).
                _ => {
                    let _ = match cp {
                        0..=0xff => write!(out, "\\x{cp:02x}"),
                        0x100..=0xffff => write!(out, "\\u{cp:04x}"),
                        _ => write!(out, "\\U{cp:08x}"),
                    };
                }
            }
        }
        out.push(quote);
        self.push(&out);
    }

    /// `bytes_repr`: the same quote rule; ASCII printables as they are,
    /// everything else as `\xhh`.
    pub(crate) fn bytes_repr(&mut self, b: &[u8]) {
        self.bytes_repr_inner(b, false)
    }

    /// `bytearray(b'...')`. CPython's `bytearray_repr` escapes a single
    /// quote even inside double quotes: `repr(bytearray(b"'"))` is
    /// `bytearray(b"\'")`.
    pub(crate) fn bytearray_repr(&mut self, b: &[u8]) {
        self.push("bytearray(");
        self.bytes_repr_inner(b, true);
        self.push(")");
    }

    fn bytes_repr_inner(&mut self, b: &[u8], escape_single: bool) {
        let quote = if b.contains(&b'\'') && !b.contains(&b'"') {
            b'"'
        } else {
            b'\''
        };
        let mut out = String::with_capacity(b.len() + 3);
        out.push('b');
        out.push(quote as char);
        let take = self.remaining().unwrap_or(usize::MAX);
        for &c in b.iter().take(take) {
            match c {
                b'\\' => out.push_str("\\\\"),
                b'\t' => out.push_str("\\t"),
                b'\n' => out.push_str("\\n"),
                b'\r' => out.push_str("\\r"),
                c if c == quote || (escape_single && c == b'\'') => {
                    out.push('\\');
                    out.push(c as char);
                }
                0x20..=0x7e => out.push(c as char),
                c => {
                    let _ = write!(out, "\\x{c:02x}");
                }
            }
        }
        out.push(quote as char);
        self.push(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Dict, Set};
    use num_bigint::BigInt;

    fn s(x: &str) -> Value {
        Value::str(x)
    }

    fn set(items: Vec<Value>) -> Box<Set> {
        Box::new(Set::from_values(items).unwrap())
    }

    /// (value, repr) pairs; every expected string was printed by CPython 3.11.
    #[test]
    fn builtins_print_as_cpython() {
        let d = Dict::from_pairs([
            (Value::Int(1), s("a")),
            (s("b"), Value::List(vec![Value::None])),
        ])
        .unwrap();
        let cases: Vec<(Value, &str)> = vec![
            (s("plain"), "'plain'"),
            (s("it's"), "\"it's\""),
            (s("say \"hi\""), "'say \"hi\"'"),
            (s("both ' and \""), "'both \\' and \"'"),
            (s("tab\tnl\nbs\\ cr\r"), "'tab\\tnl\\nbs\\\\ cr\\r'"),
            (s("\0\x1f\x7f"), "'\\x00\\x1f\\x7f'"),
            (s("é中😀"), "'é中😀'"),
            (
                s("\u{a0}\u{ad}\u{2028}\u{200b}\u{feff}"),
                "'\\xa0\\xad\\u2028\\u200b\\ufeff'",
            ),
            (s("\u{e0001}\u{10ffff}"), "'\\U000e0001\\U0010ffff'"),
            (s("\u{378}"), "'\\u0378'"),
            (Value::Bytes(vec![]), "b''"),
            (Value::Bytes(b"abc".to_vec()), "b'abc'"),
            (Value::Bytes(b"it's".to_vec()), "b\"it's\""),
            (
                Value::Bytes(b"\x00\x7f\x80\xff\\".to_vec()),
                "b'\\x00\\x7f\\x80\\xff\\\\'",
            ),
            (Value::Bytes(b"'\"".to_vec()), "b'\\'\"'"),
            (Value::ByteArray(b"x\"y".to_vec()), "bytearray(b'x\"y')"),
            (
                Value::ByteArray(b"a'b\\".to_vec()),
                "bytearray(b\"a\\'b\\\\\")",
            ),
            (Value::ByteArray(b"'\"".to_vec()), "bytearray(b'\\'\"')"),
            (Value::Tuple(vec![]), "()"),
            (Value::Tuple(vec![Value::Int(1)]), "(1,)"),
            (Value::Tuple(vec![Value::Int(1), s("a")]), "(1, 'a')"),
            (Value::List(vec![]), "[]"),
            (
                Value::List(vec![
                    Value::Int(1),
                    Value::List(vec![Value::Int(2), Value::Int(3)]),
                ]),
                "[1, [2, 3]]",
            ),
            (Value::Dict(Box::default()), "{}"),
            (Value::Dict(Box::new(d)), "{1: 'a', 'b': [None]}"),
            (Value::Set(Box::default()), "set()"),
            (Value::Set(set(vec![Value::Int(1)])), "{1}"),
            (Value::FrozenSet(Box::default()), "frozenset()"),
            (Value::FrozenSet(set(vec![Value::Int(2)])), "frozenset({2})"),
            (
                Value::from_bigint(BigInt::from(10).pow(30)),
                "1000000000000000000000000000000",
            ),
            (
                Value::from_bigint(-BigInt::from(10).pow(30)),
                "-1000000000000000000000000000000",
            ),
            (Value::Bool(true), "True"),
            (Value::Bool(false), "False"),
            (Value::None, "None"),
            (Value::Int(-7), "-7"),
            (Value::Int(i64::MIN), "-9223372036854775808"),
            (Value::Float(1.5), "1.5"),
            (Value::Float(1e16), "1e+16"),
            (Value::complex(0.0, 1.0), "1j"),
            (
                Value::List(vec![Value::Float(-0.0), Value::complex(1.0, -2.0)]),
                "[-0.0, (1-2j)]",
            ),
            (Value::global("builtins", "int"), "<class 'int'>"),
            (Value::global("builtins", "KeyError"), "<class 'KeyError'>"),
            (Value::global("builtins", "abs"), "<built-in function abs>"),
            (
                Value::global("collections", "OrderedDict"),
                "<class 'collections.OrderedDict'>",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.repr(), want, "{v:?}");
            assert_eq!(repr_exact(&v).as_deref(), Some(want));
        }
    }

    #[test]
    fn str_is_the_text_for_strings_and_repr_otherwise() {
        assert_eq!(s("text").py_str(), "text");
        assert_eq!(
            Value::List(vec![Value::Int(1), s("a")]).py_str(),
            "[1, 'a']"
        );
        assert_eq!(Value::Bytes(b"x".to_vec()).py_str(), "b'x'");
        assert_eq!(Value::Float(2.0).py_str(), "2.0");
    }

    #[test]
    fn recursive_containers_print_ellipses() {
        // l = []; l.append(l) → [[...]]; d = {}; d['a'] = d → {'a': {...}}
        assert_eq!(Value::List(vec![Value::BackRef(0)]).repr(), "[[...]]");
        let d = Dict::from_pairs([(s("a"), Value::BackRef(0))]).unwrap();
        assert_eq!(Value::Dict(Box::new(d)).repr(), "{'a': {...}}");
        // The reference may skip levels: [1, ({...},)] pointing at the list.
        let inner = Value::Tuple(vec![Value::BackRef(1)]);
        assert_eq!(
            Value::List(vec![Value::Int(1), inner]).repr(),
            "[1, ([...],)]"
        );
    }

    #[test]
    fn bounded_repr_cuts_with_ellipsis() {
        let v = Value::List((0..1000).map(Value::Int).collect());
        let full = v.repr();
        let cut = v.repr_bounded(20);
        assert_eq!(cut.chars().count(), 20);
        assert_eq!(cut, format!("{}...", &full[..17]));
        // Fits: untouched.
        assert_eq!(Value::Int(5).repr_bounded(1), "5");
        assert_eq!(v.repr_bounded(2), "..");
        // Non-ASCII counts characters, not bytes.
        let t = s(&"é".repeat(100));
        let cut = t.repr_bounded(10);
        assert_eq!(cut, format!("'{}...", "é".repeat(6)));
        // A huge string is not escaped in full when the budget is small.
        let huge = Value::List(vec![s(&"x".repeat(1_000_000)); 100]);
        assert_eq!(huge.repr_bounded(8), "['xxx...");
    }

    #[test]
    fn deep_values_do_not_overflow_the_stack() {
        let mut v = Value::Int(1);
        for _ in 0..10_000 {
            v = Value::List(vec![v]);
        }
        let r = v.repr();
        assert!(r.starts_with("[[[[") && r.contains("..."));
        assert_eq!(repr_exact(&v), None);
        // Dropping a 10 000-deep value recurses in Drop; keep the test's own
        // stack safe by unwinding it iteratively.
        while let Value::List(mut items) = v {
            v = items.pop().unwrap_or(Value::None);
        }
    }

    #[test]
    fn object_hook_is_consulted_first() {
        let o = Value::Object(Box::new(Object::new_obj(
            Value::global("m", "C"),
            vec![],
            None,
        )));
        let hook = |_: &Object| Some("{'shared': 1}".to_string());
        let opts = ReprOptions {
            max_chars: None,
            object_repr: Some(&hook),
        };
        assert_eq!(
            Value::List(vec![o.clone()]).repr_with(&opts),
            "[{'shared': 1}]"
        );
        assert_eq!(o.repr(), "<m.C object>");
        assert_eq!(repr_exact(&o), None);
    }
}
