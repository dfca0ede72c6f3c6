//! `list` (ListProxy, spec 9.1): a Python list shared by clients.
//!
//! Every exposed method behaves as CPython's `list` method of the same name,
//! with its exact errors: clients iterate a `ListProxy` by calling
//! `__getitem__(0)`, `(1)`, ... until `IndexError('list index out of
//! range')`, so that error and the index rules must be right. Items may be
//! proxies of other objects of this manager (spec 6.3); [`SharedObject::refs`]
//! reports them so they stay alive while the list holds them.
//!
//! Iterable arguments (`extend`, slice assignment) are read before the
//! list's own lock is taken: the argument may be a proxy of this very list.

use crate::args::Args;
use crate::objects::seq::{self, Conv, Int, Subscript};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::value::{py_sort, py_sort_by_key, SortKeyError};
use mpcluster_wire::{Object, Value};
use std::any::Any;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &[
    "__add__",
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__imul__",
    "__len__",
    "__mul__",
    "__reversed__",
    "__rmul__",
    "__setitem__",
    "append",
    "clear",
    "copy",
    "count",
    "extend",
    "index",
    "insert",
    "pop",
    "remove",
    "reverse",
    "sort",
];

/// The shared list.
pub struct List {
    items: Mutex<Vec<Value>>,
}

/// `list(iterable=())`.
pub fn create(ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    if !args.kw.is_empty() {
        return Err(PyException::type_error("list() takes no keyword arguments"));
    }
    seq::check_count("list", args.pos.len(), 0, 1)?;
    let items = match args.pos.first() {
        Some(v) => seq::iterate(ctx, v)?,
        None => Vec::new(),
    };
    Ok(Arc::new(List::new(items)))
}

impl List {
    pub fn new(items: Vec<Value>) -> Self {
        List {
            items: Mutex::new(items),
        }
    }

    fn items(&self) -> std::sync::MutexGuard<'_, Vec<Value>> {
        seq::lock(&self.items)
    }
}

fn bad_index(v: &Value) -> PyException {
    PyException::type_error(format!(
        "list indices must be integers or slices, not {}",
        v.type_name()
    ))
}

fn index_error() -> PyException {
    PyException::index_error("list index out of range")
}

fn assign_index_error() -> PyException {
    PyException::index_error("list assignment index out of range")
}

impl List {
    fn getitem(&self, key: &Value) -> Result<Value, PyException> {
        let items = self.items();
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => seq::position(i, items.len())
                .and_then(|p| items.get(p).cloned())
                .ok_or_else(index_error),
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                let s = seq::resolve_slice(parts, items.len())?;
                Ok(Value::List(s.positions().filter_map(|p| items.get(p).cloned()).collect()))
            }
        }
    }

    fn setitem(&self, ctx: &CallCtx<'_>, key: &Value, value: Value) -> Result<(), PyException> {
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => {
                let mut items = self.items();
                let p = seq::position(i, items.len()).ok_or_else(assign_index_error)?;
                if let Some(slot) = items.get_mut(p) {
                    *slot = value;
                }
                Ok(())
            }
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                let new = seq::try_iterate(ctx, &value)?
                    .ok_or_else(|| PyException::type_error("can only assign an iterable"))?;
                let mut items = self.items();
                let s = seq::resolve_slice(parts, items.len())?;
                if s.step == 1 {
                    items.splice(s.range(), new);
                    return Ok(());
                }
                if new.len() != s.len {
                    return Err(PyException::value_error(format!(
                        "attempt to assign sequence of size {} to extended slice of size {}",
                        new.len(),
                        s.len
                    )));
                }
                for (p, v) in s.positions().zip(new) {
                    if let Some(slot) = items.get_mut(p) {
                        *slot = v;
                    }
                }
                Ok(())
            }
        }
    }

    fn delitem(&self, key: &Value) -> Result<(), PyException> {
        let mut items = self.items();
        match seq::subscript(key).ok_or_else(|| bad_index(key))? {
            Subscript::Index(Int::Fits(i)) => {
                let p = seq::position(i, items.len()).ok_or_else(assign_index_error)?;
                items.remove(p);
                Ok(())
            }
            Subscript::Index(Int::Huge(_)) => Err(seq::index_overflow()),
            Subscript::Slice(parts) => {
                let s = seq::resolve_slice(parts, items.len())?;
                if s.step == 1 {
                    items.drain(s.range());
                } else {
                    let mut doomed = vec![false; items.len()];
                    for p in s.positions() {
                        if let Some(d) = doomed.get_mut(p) {
                            *d = true;
                        }
                    }
                    let mut k = 0;
                    items.retain(|_| {
                        k += 1;
                        !doomed.get(k - 1).copied().unwrap_or(false)
                    });
                }
                Ok(())
            }
        }
    }

    /// `l * n` (also `n * l`, `l *= n`).
    fn repeated(items: &[Value], n: &Value) -> Result<Vec<Value>, PyException> {
        let count = seq::repeat_count(n)?;
        let total = seq::repeated_len(items.len(), count)?;
        let mut out = Vec::with_capacity(total);
        for _ in 0..count {
            out.extend_from_slice(items);
        }
        Ok(out)
    }

    fn insert(&self, at: &Value, v: Value) -> Result<(), PyException> {
        let i = seq::ssize(at)?;
        let mut items = self.items();
        let len = items.len() as i64;
        // `ins1`: negative counts from the end, both ends clamp.
        let p = if i < 0 { (i.saturating_add(len)).max(0) } else { i.min(len) };
        items.insert(p as usize, v);
        Ok(())
    }

    fn pop(&self, at: Option<&Value>) -> Result<Value, PyException> {
        let i = at.map(seq::ssize).transpose()?.unwrap_or(-1);
        let mut items = self.items();
        if items.is_empty() {
            return Err(PyException::index_error("pop from empty list"));
        }
        let p = seq::position(i, items.len())
            .ok_or_else(|| PyException::index_error("pop index out of range"))?;
        Ok(items.remove(p))
    }

    /// `list.index(x, start=0, stop=sys.maxsize)`.
    fn index(&self, args: &[Value]) -> Result<Value, PyException> {
        let bound = |v: Option<&Value>, default: i64| -> Result<i64, PyException> {
            match v {
                None => Ok(default),
                // `_PyEval_SliceIndexNotNone`: ints clamp, anything else fails.
                Some(v) => seq::int_of(v).map(Int::saturate).ok_or_else(|| {
                    PyException::type_error("slice indices must be integers or have an __index__ method")
                }),
            }
        };
        let start = bound(args.get(1), 0)?;
        let stop = bound(args.get(2), i64::MAX)?;
        let x = args.first().unwrap_or(&Value::None);
        let items = self.items();
        let len = items.len() as i64;
        let adjust = |b: i64| if b < 0 { (b.saturating_add(len)).max(0) } else { b.min(len) };
        let (start, stop) = (adjust(start) as usize, adjust(stop) as usize);
        if start < stop {
            if let Some(k) = items.get(start..stop).and_then(|s| s.iter().position(|v| v == x)) {
                return Ok(Value::Int((start + k) as i64));
            }
        }
        Err(PyException::value_error(format!("{} is not in list", x.repr())))
    }

    /// `list.sort(*, key=None, reverse=False)`.
    fn sort(&self, args: Args) -> Result<(), PyException> {
        if !args.pos.is_empty() {
            return Err(PyException::type_error("sort() takes no positional arguments"));
        }
        let (mut key, mut reverse) = (Value::None, false);
        for (name, v) in args.kw {
            match name.as_str() {
                "key" => key = v,
                "reverse" => reverse = c_int_flag(&v)?,
                other => {
                    return Err(PyException::type_error(format!(
                        "'{other}' is an invalid keyword argument for sort()"
                    )))
                }
            }
        }
        let mut items = self.items();
        match key {
            Value::None => py_sort(&mut items, reverse)?,
            key => py_sort_by_key(&mut items, &key, reverse).map_err(key_error)?,
        }
        Ok(())
    }

    fn reversed_value(items: &[Value]) -> Value {
        // CPython pickles a `list_reverseiterator` as `reversed(list)` plus
        // its index (`listreviter_reduce`): the last position, -1 if empty.
        let mut o = Object::reduce(Value::global("builtins", "reversed"), vec![Value::List(items.to_vec())]);
        o.state = Some(Value::Int(items.len() as i64 - 1));
        Value::Object(Box::new(o))
    }
}

/// What a sort key function raised, as the exception CPython's would.
fn key_error(e: SortKeyError) -> PyException {
    match e {
        SortKeyError::Op(op) => op.into(),
        SortKeyError::WrongType(m) => PyException::type_error(m),
        SortKeyError::BadValue(m) => PyException::value_error(m),
        SortKeyError::Overflow(m) => PyException::msg(ExcKind::OverflowError, m),
        SortKeyError::IndexOutOfRange(m) => PyException::index_error(m),
        SortKeyError::MissingKey(k) => PyException::key_error(k),
    }
}

/// A flag parsed with the C `int` converter (`sort(reverse=...)`).
fn c_int_flag(v: &Value) -> Result<bool, PyException> {
    match seq::int_of(v) {
        Some(Int::Fits(i)) if i32::try_from(i).is_ok() => Ok(i != 0),
        Some(_) => Err(PyException::msg(
            ExcKind::OverflowError,
            "Python int too large to convert to C int",
        )),
        None => Err(seq::not_an_integer(v)),
    }
}

impl SharedObject for List {
    fn type_name(&self) -> &'static str {
        "list"
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let none = |r: Result<(), PyException>| r.map(|_| Value::None);
        let r = match method {
            "__getitem__" => Conv::One("list.__getitem__").one(args).and_then(|k| self.getitem(&k)),
            "__setitem__" => none(
                Conv::Slot("__setitem__", 2)
                    .two(args)
                    .and_then(|(k, v)| self.setitem(ctx, &k, v)),
            ),
            "__delitem__" => none(Conv::Slot("__delitem__", 1).one(args).and_then(|k| self.delitem(&k))),
            "__len__" => Conv::Slot("__len__", 0)
                .none(args)
                .map(|_| Value::Int(self.items().len() as i64)),
            "__contains__" => Conv::Slot("__contains__", 1)
                .one(args)
                .map(|x| Value::Bool(self.items().iter().any(|v| v == &x))),
            "__add__" => Conv::Slot("__add__", 1).one(args).and_then(|other| match other {
                Value::List(more) => {
                    let mut out = self.items().clone();
                    out.extend(more);
                    Ok(Value::List(out))
                }
                other => Err(PyException::type_error(format!(
                    "can only concatenate list (not \"{}\") to list",
                    other.type_name()
                ))),
            }),
            "__mul__" | "__rmul__" => {
                let name = if method == "__mul__" { "__mul__" } else { "__rmul__" };
                Conv::Slot(name, 1)
                    .one(args)
                    .and_then(|n| List::repeated(&self.items(), &n).map(Value::List))
            }
            "__imul__" => Conv::Slot("__imul__", 1).one(args).and_then(|n| {
                let mut items = self.items();
                *items = List::repeated(&items, &n)?;
                Ok(Value::List(items.clone()))
            }),
            "__reversed__" => Conv::NoArgs("list.__reversed__")
                .none(args)
                .map(|_| List::reversed_value(&self.items())),
            "append" => none(Conv::One("list.append").one(args).map(|v| self.items().push(v))),
            "extend" => none(Conv::One("list.extend").one(args).and_then(|v| {
                let more = seq::iterate(ctx, &v)?;
                self.items().extend(more);
                Ok(())
            })),
            "insert" => none(
                Conv::Clinic("list.insert", "insert", 2, 2)
                    .two(args)
                    .and_then(|(i, v)| self.insert(&i, v)),
            ),
            "pop" => Conv::Clinic("list.pop", "pop", 0, 1)
                .unpack(args)
                .and_then(|a| self.pop(a.first())),
            "remove" => none(Conv::One("list.remove").one(args).and_then(|x| {
                let mut items = self.items();
                let p = items
                    .iter()
                    .position(|v| v == &x)
                    .ok_or_else(|| PyException::value_error("list.remove(x): x not in list"))?;
                items.remove(p);
                Ok(())
            })),
            "index" => Conv::Clinic("list.index", "index", 1, 3)
                .unpack(args)
                .and_then(|a| self.index(&a)),
            "count" => Conv::One("list.count")
                .one(args)
                .map(|x| Value::Int(self.items().iter().filter(|v| *v == &x).count() as i64)),
            "reverse" => none(Conv::NoArgs("list.reverse").none(args).map(|_| self.items().reverse())),
            "sort" => none(self.sort(args)),
            "clear" => none(Conv::NoArgs("list.clear").none(args).map(|_| self.items().clear())),
            "copy" => Conv::NoArgs("list.copy")
                .none(args)
                .map(|_| Value::List(self.items().clone())),
            other => Err(PyException::attribute_error(format!(
                "'list' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    fn repr(&self) -> String {
        let items = self.items();
        let parts: Vec<String> = items.iter().map(Value::repr).collect();
        format!("[{}]", parts.join(", "))
    }

    fn get_value(&self) -> Result<Value, String> {
        Ok(Value::List(self.items().clone()))
    }

    fn refs(&self, out: &mut Vec<String>) {
        for v in self.items().iter() {
            proxyref::collect_ids(v, out);
        }
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.items().len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::builtin_call;
    use crate::objects::seq::testing::{call, call_kw, ints, raised, slice};
    use crate::pyexc::ExcKind::*;
    use crate::store::{NewObject, Store};
    use Value::{Int as I, None as N};

    fn list(xs: &[i64]) -> List {
        List::new(xs.iter().map(|&i| I(i)).collect())
    }

    fn value(l: &List) -> Value {
        l.get_value().unwrap()
    }

    fn msg(kind: ExcKind, m: &str) -> (ExcKind, String) {
        (kind, m.to_string())
    }

    #[test]
    fn create_accepts_iterables_like_list() {
        let store = Store::new(10);
        let ctx = CallCtx { conn: 1, store: &store };
        let mk = |pos: Vec<Value>| create(&ctx, Args::new(pos)).map(|o| o.get_value().unwrap());
        // `m.list(range(3))` sends `builtins.range(0, 3, 1)` (captured).
        let range = builtin_call("range", vec![I(0), I(3), I(1)]);
        assert_eq!(mk(vec![range]).unwrap(), ints(&[0, 1, 2]));
        assert_eq!(mk(vec![]).unwrap(), ints(&[]));
        assert_eq!(mk(vec![Value::from("ab")]).unwrap(), Value::List(vec!["a".into(), "b".into()]));
        assert_eq!(mk(vec![Value::Tuple(vec![I(1)])]).unwrap(), ints(&[1]));
        assert_eq!(mk(vec![I(5)]).unwrap_err().message(), "'int' object is not iterable");
        assert_eq!(mk(vec![N, N]).unwrap_err().message(), "list expected at most 1 argument, got 2");
        let kw = Args {
            pos: vec![],
            kw: vec![("iterable".into(), ints(&[1]))],
        };
        assert_eq!(create(&ctx, kw).err().unwrap().message(), "list() takes no keyword arguments");
    }

    #[test]
    fn getitem_indexes_and_slices_like_python() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 4, 5]);
        let get = |k: Value| call(&l, &store, "__getitem__", vec![k]);
        assert_eq!(get(I(0)).unwrap(), I(1));
        assert_eq!(get(I(-1)).unwrap(), I(5));
        assert_eq!(get(Value::Bool(true)).unwrap(), I(2));
        // The end of iteration for `for x in proxy` (spec rule 9).
        assert_eq!(raised(&l, &store, "__getitem__", vec![I(5)]), msg(IndexError, "list index out of range"));
        assert_eq!(raised(&l, &store, "__getitem__", vec![I(-6)]), msg(IndexError, "list index out of range"));
        let big = Value::from_bigint(num_bigint::BigInt::from(2).pow(70));
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![big]),
            msg(IndexError, "cannot fit 'int' into an index-sized integer")
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec!["a".into()]),
            msg(TypeError, "list indices must be integers or slices, not str")
        );
        assert_eq!(get(slice(I(1), I(3), N)).unwrap(), ints(&[2, 3]));
        assert_eq!(get(slice(N, N, I(-2))).unwrap(), ints(&[5, 3, 1]));
        assert_eq!(get(slice(I(-100), I(100), N)).unwrap(), ints(&[1, 2, 3, 4, 5]));
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![slice(N, N, I(0))]),
            msg(ValueError, "slice step cannot be zero")
        );
        assert_eq!(
            raised(&l, &store, "__getitem__", vec![]),
            msg(TypeError, "list.__getitem__() takes exactly one argument (0 given)")
        );
    }

    #[test]
    fn setitem_and_delitem() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 4, 5]);
        call(&l, &store, "__setitem__", vec![I(-1), "z".into()]).unwrap();
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![I(5), N]),
            msg(IndexError, "list assignment index out of range")
        );
        // l[1:3] = 'ab' → [1, 'a', 'b', 4, 'z'] (CPython).
        call(&l, &store, "__setitem__", vec![slice(I(1), I(3), N), "ab".into()]).unwrap();
        assert_eq!(value(&l), Value::List(vec![I(1), "a".into(), "b".into(), I(4), "z".into()]));
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![slice(I(0), I(1), N), I(5)]),
            msg(TypeError, "can only assign an iterable")
        );
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![slice(I(0), I(5), I(2)), ints(&[1])]),
            msg(ValueError, "attempt to assign sequence of size 1 to extended slice of size 3")
        );
        call(&l, &store, "__setitem__", vec![slice(N, N, I(-2)), ints(&[7, 8, 9])]).unwrap();
        assert_eq!(value(&l), Value::List(vec![I(9), "a".into(), I(8), I(4), I(7)]));
        // Growing and shrinking through a plain slice.
        call(&l, &store, "__setitem__", vec![slice(I(1), I(4), N), ints(&[])]).unwrap();
        assert_eq!(value(&l), ints(&[9, 7]));
        call(&l, &store, "__setitem__", vec![slice(I(1), I(1), N), ints(&[5, 6])]).unwrap();
        assert_eq!(value(&l), ints(&[9, 5, 6, 7]));
        call(&l, &store, "__delitem__", vec![I(0)]).unwrap();
        assert_eq!(value(&l), ints(&[5, 6, 7]));
        call(&l, &store, "__delitem__", vec![slice(N, N, I(2))]).unwrap();
        assert_eq!(value(&l), ints(&[6]));
        assert_eq!(
            raised(&l, &store, "__delitem__", vec![I(3)]),
            msg(IndexError, "list assignment index out of range")
        );
        assert_eq!(
            raised(&l, &store, "__setitem__", vec![I(1)]),
            msg(TypeError, " expected 2 arguments, got 1")
        );
    }

    #[test]
    fn operators() {
        let store = Store::new(10);
        let l = list(&[1, 2]);
        assert_eq!(call(&l, &store, "__add__", vec![ints(&[9])]).unwrap(), ints(&[1, 2, 9]));
        assert_eq!(
            raised(&l, &store, "__add__", vec![Value::Tuple(vec![I(1)])]),
            msg(TypeError, "can only concatenate list (not \"tuple\") to list")
        );
        assert_eq!(call(&l, &store, "__mul__", vec![I(2)]).unwrap(), ints(&[1, 2, 1, 2]));
        assert_eq!(call(&l, &store, "__rmul__", vec![I(-1)]).unwrap(), ints(&[]));
        assert_eq!(
            raised(&l, &store, "__mul__", vec![Value::Float(1.5)]),
            msg(TypeError, "'float' object cannot be interpreted as an integer")
        );
        // A huge repeat is refused before allocating (CPython: MemoryError).
        assert_eq!(raised(&l, &store, "__mul__", vec![I(1 << 40)]).0, MemoryError);
        assert_eq!(value(&l), ints(&[1, 2]), "operators leave the list alone");
        // `l *= 2` answers with the whole list (captured).
        assert_eq!(call(&l, &store, "__imul__", vec![I(2)]).unwrap(), ints(&[1, 2, 1, 2]));
        assert_eq!(value(&l), ints(&[1, 2, 1, 2]));
        assert_eq!(call(&l, &store, "__contains__", vec![Value::Float(2.0)]).unwrap(), Value::Bool(true));
        assert_eq!(call(&l, &store, "__len__", vec![]).unwrap(), I(4));
        assert_eq!(
            raised(&l, &store, "__len__", vec![I(1)]),
            msg(TypeError, "expected 0 arguments, got 1")
        );
    }

    #[test]
    fn reversed_has_the_captured_shape() {
        let store = Store::new(10);
        // `builtins.reversed([1, 2, 3]).__setstate__(2)`, as CPython replies.
        let r = call(&list(&[1, 2, 3]), &store, "__reversed__", vec![]).unwrap();
        let o = r.as_object_of("builtins", "reversed").expect("a reversed object");
        assert_eq!(o.args(), &[ints(&[1, 2, 3])]);
        assert_eq!(o.state, Some(I(2)));
        let r = call(&list(&[]), &store, "__reversed__", vec![]).unwrap();
        assert_eq!(r.as_object_of("builtins", "reversed").unwrap().state, Some(I(-1)));
    }

    #[test]
    fn mutating_methods() {
        let store = Store::new(10);
        let l = list(&[]);
        assert_eq!(raised(&l, &store, "pop", vec![]), msg(IndexError, "pop from empty list"));
        call(&l, &store, "append", vec![I(3)]).unwrap();
        call(&l, &store, "extend", vec![ints(&[4, 5])]).unwrap();
        call(&l, &store, "insert", vec![I(-100), I(0)]).unwrap();
        call(&l, &store, "insert", vec![I(100), I(9)]).unwrap();
        call(&l, &store, "insert", vec![I(-1), I(8)]).unwrap();
        assert_eq!(value(&l), ints(&[0, 3, 4, 5, 8, 9]));
        assert_eq!(call(&l, &store, "pop", vec![]).unwrap(), I(9));
        assert_eq!(call(&l, &store, "pop", vec![I(0)]).unwrap(), I(0));
        assert_eq!(raised(&l, &store, "pop", vec![I(9)]), msg(IndexError, "pop index out of range"));
        assert_eq!(
            raised(&l, &store, "pop", vec![I(1), I(2)]),
            msg(TypeError, "pop expected at most 1 argument, got 2")
        );
        call(&l, &store, "remove", vec![I(4)]).unwrap();
        assert_eq!(
            raised(&l, &store, "remove", vec!["missing".into()]),
            msg(ValueError, "list.remove(x): x not in list")
        );
        assert_eq!(value(&l), ints(&[3, 5, 8]));
        assert_eq!(
            raised(&l, &store, "insert", vec![I(1)]),
            msg(TypeError, "insert expected 2 arguments, got 1")
        );
        assert_eq!(
            raised(&l, &store, "extend", vec![N]),
            msg(TypeError, "'NoneType' object is not iterable")
        );
        call(&l, &store, "reverse", vec![]).unwrap();
        assert_eq!(value(&l), ints(&[8, 5, 3]));
        assert_eq!(call(&l, &store, "copy", vec![]).unwrap(), ints(&[8, 5, 3]));
        call(&l, &store, "clear", vec![]).unwrap();
        assert_eq!(value(&l), ints(&[]));
        assert_eq!(
            raised(&l, &store, "append", vec![]),
            msg(TypeError, "list.append() takes exactly one argument (0 given)")
        );
    }

    #[test]
    fn index_and_count() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 1]);
        assert_eq!(call(&l, &store, "index", vec![I(1)]).unwrap(), I(0));
        assert_eq!(call(&l, &store, "index", vec![I(1), I(1)]).unwrap(), I(3));
        assert_eq!(call(&l, &store, "index", vec![I(1), I(-100), I(100)]).unwrap(), I(0));
        assert_eq!(raised(&l, &store, "index", vec![I(1), I(1), I(3)]), msg(ValueError, "1 is not in list"));
        // The message uses the value's repr.
        assert_eq!(raised(&l, &store, "index", vec!["a".into()]), msg(ValueError, "'a' is not in list"));
        assert_eq!(
            raised(&l, &store, "index", vec![I(1), N]),
            msg(TypeError, "slice indices must be integers or have an __index__ method")
        );
        assert_eq!(raised(&l, &store, "index", vec![]), msg(TypeError, "index expected at least 1 argument, got 0"));
        assert_eq!(call(&l, &store, "count", vec![Value::Float(1.0)]).unwrap(), I(2));
    }

    #[test]
    fn sort_binds_keywords_like_list_sort() {
        let store = Store::new(10);
        let l = list(&[3, 1, 2]);
        let sort = |kw: Vec<(&str, Value)>| call_kw(&l, &store, "sort", vec![], kw).map(|_| ());
        sort(vec![("reverse", Value::Bool(true))]).unwrap();
        assert_eq!(value(&l), ints(&[3, 2, 1]));
        sort(vec![("key", N)]).unwrap();
        assert_eq!(value(&l), ints(&[1, 2, 3]));
        assert_eq!(
            call_kw(&l, &store, "sort", vec![I(1)], vec![]).err().unwrap().message(),
            "sort() takes no positional arguments"
        );
        assert_eq!(
            sort(vec![("foo", I(1))]).unwrap_err().message(),
            "'foo' is an invalid keyword argument for sort()"
        );
        assert_eq!(
            sort(vec![("reverse", N)]).unwrap_err().message(),
            "'NoneType' object cannot be interpreted as an integer"
        );
        // key=len arrives as the global `builtins.len`.
        let words = List::new(vec!["ccc".into(), "a".into(), "bb".into()]);
        call_kw(&words, &store, "sort", vec![], vec![("key", Value::global("builtins", "len"))]).unwrap();
        assert_eq!(value(&words), Value::List(vec!["a".into(), "bb".into(), "ccc".into()]));
        let e = call_kw(&l, &store, "sort", vec![], vec![("key", Value::global("builtins", "len"))]).err().unwrap();
        assert_eq!((e.kind, e.message()), msg(TypeError, "object of type 'int' has no len()"));
        let mixed = List::new(vec![I(1), "a".into()]);
        let e = call_kw(&mixed, &store, "sort", vec![], vec![]).err().unwrap();
        assert_eq!(e.message(), "'<' not supported between instances of 'str' and 'int'");
        assert_eq!(value(&mixed), Value::List(vec![I(1), "a".into()]));
    }

    fn proxy_of(id: &str) -> Value {
        let tok = proxyref::token("list", &("127.0.0.1".into(), 1), id);
        Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "ListProxy"),
                tok,
                "pickle".into(),
                Value::Dict(Box::default()),
            ],
        )))
    }

    #[test]
    fn proxies_inside_are_reported_and_iterable() {
        let store = Store::new(10);
        let entry = store
            .insert(NewObject {
                typeid: "list".into(),
                obj: Arc::new(list(&[1, 2])),
                exposed: EXPOSED,
                method_to_typeid: &[],
                named: false,
            })
            .unwrap();
        let outer = list(&[]);
        call(&outer, &store, "append", vec![proxy_of(&entry.id)]).unwrap();
        let mut refs = Vec::new();
        outer.refs(&mut refs);
        assert_eq!(refs, vec![entry.id.clone()]);
        // `l.extend(proxy)` reads the proxied list, even when it is `l` itself.
        call(&outer, &store, "extend", vec![proxy_of(&entry.id)]).unwrap();
        assert_eq!(outer.len_hint(), Some(3));
        call(entry.obj.as_ref(), &store, "extend", vec![proxy_of(&entry.id)]).unwrap();
        assert_eq!(entry.obj.get_value().unwrap(), ints(&[1, 2, 1, 2]));
    }

    #[test]
    fn repr_is_pythons() {
        let l = List::new(vec![I(1), "a".into(), Value::Float(1.0), N]);
        assert_eq!(l.repr(), "[1, 'a', 1.0, None]");
        assert_eq!(list(&[]).repr(), "[]");
    }
}
