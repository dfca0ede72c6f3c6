//! `list` (ListProxy, docs/protocol.md 9.1): a Python list shared by clients.
//!
//! Every exposed method behaves as CPython's `list` method of the same name,
//! with its exact errors: clients iterate a `ListProxy` by calling
//! `__getitem__(0)`, `(1)`, ... until `IndexError('list index out of
//! range')`, so that error and the index rules must be right. Items may be
//! proxies of other objects of this manager (docs/protocol.md 6.3); [`SharedObject::refs`]
//! reports them so they stay alive while the list holds them.
//!
//! Iterable arguments (`extend`, slice assignment) are read before the
//! list's own lock is taken: the argument may be a proxy of this very list.

use crate::args::Args;
use crate::objects::seq::{self, Conv, Int};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
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

mod items;
mod sort;
mod subscript;

use items::Items;

/// The shared list.
pub struct List {
    items: Mutex<Items>,
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
            items: Mutex::new(Items::new(items)),
        }
    }

    fn items(&self) -> std::sync::MutexGuard<'_, Items> {
        seq::lock(&self.items)
    }
}

impl List {
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
        let p = if i < 0 {
            (i.saturating_add(len)).max(0)
        } else {
            i.min(len)
        };
        items.values().insert(p as usize, v);
        items.settle();
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
                    PyException::type_error(
                        "slice indices must be integers or have an __index__ method",
                    )
                }),
            }
        };
        let start = bound(args.get(1), 0)?;
        let stop = bound(args.get(2), i64::MAX)?;
        let x = args.first().unwrap_or(&Value::None);
        let items = self.items();
        let items = items.view();
        let len = items.len() as i64;
        let adjust = |b: i64| {
            if b < 0 {
                (b.saturating_add(len)).max(0)
            } else {
                b.min(len)
            }
        };
        let (start, stop) = (adjust(start) as usize, adjust(stop) as usize);
        if start < stop {
            if let Some(k) = items
                .get(start..stop)
                .and_then(|s| s.iter().position(|v| v == x))
            {
                return Ok(Value::Int((start + k) as i64));
            }
        }
        Err(PyException::value_error(format!(
            "{} is not in list",
            x.repr()
        )))
    }

    fn reversed_value(items: &[Value]) -> Value {
        // CPython pickles a `list_reverseiterator` as `reversed(list)` plus
        // its index (`listreviter_reduce`): the last position, -1 if empty.
        let mut o = Object::reduce(
            Value::global("builtins", "reversed"),
            vec![Value::List(items.to_vec())],
        );
        o.state = Some(Value::Int(items.len() as i64 - 1));
        Value::Object(Box::new(o))
    }
}

impl SharedObject for List {
    fn type_name(&self) -> &'static str {
        "list"
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let none = |r: Result<(), PyException>| r.map(|_| Value::None);
        let r = match method {
            "__getitem__" => Conv::One("list.__getitem__")
                .one(args)
                .and_then(|k| self.getitem(&k)),
            "__setitem__" => none(
                Conv::Unpack("__setitem__", 2)
                    .two(args)
                    .and_then(|(k, v)| self.setitem(ctx, &k, v)),
            ),
            "__delitem__" => none(
                Conv::Slot("__delitem__", 1)
                    .one(args)
                    .and_then(|k| self.delitem(&k)),
            ),
            "__len__" => Conv::Slot("__len__", 0)
                .none(args)
                .map(|_| Value::Int(self.items().len() as i64)),
            "__contains__" => Conv::Slot("__contains__", 1)
                .one(args)
                .map(|x| Value::Bool(self.items().iter().any(|v| *v == x))),
            "__add__" => Conv::Slot("__add__", 1)
                .one(args)
                .and_then(|other| match other {
                    Value::List(more) => {
                        let mut out = self.items().to_vec();
                        out.extend(more);
                        Ok(Value::List(out))
                    }
                    other => Err(PyException::type_error(format!(
                        "can only concatenate list (not \"{}\") to list",
                        other.type_name()
                    ))),
                }),
            "__mul__" | "__rmul__" => {
                let name = if method == "__mul__" {
                    "__mul__"
                } else {
                    "__rmul__"
                };
                Conv::Unpack(name, 1)
                    .one(args)
                    .and_then(|n| List::repeated(&self.items().view(), &n).map(Value::List))
            }
            "__imul__" => Conv::Unpack("__imul__", 1).one(args).and_then(|n| {
                let mut items = self.items();
                let repeated = List::repeated(&items.view(), &n)?;
                *items = Items::new(repeated);
                Ok(Value::List(items.to_vec()))
            }),
            "__reversed__" => Conv::NoArgs("list.__reversed__")
                .none(args)
                .map(|_| List::reversed_value(&self.items().view())),
            "append" => none(
                Conv::One("list.append")
                    .one(args)
                    .map(|v| self.items().push(v)),
            ),
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
                    .position(|v| *v == x)
                    .ok_or_else(|| PyException::value_error("list.remove(x): x not in list"))?;
                items.remove(p);
                Ok(())
            })),
            "index" => Conv::Clinic("list.index", "index", 1, 3)
                .unpack(args)
                .and_then(|a| self.index(&a)),
            "count" => Conv::One("list.count")
                .one(args)
                .map(|x| Value::Int(self.items().iter().filter(|v| **v == x).count() as i64)),
            "reverse" => none(
                Conv::NoArgs("list.reverse")
                    .none(args)
                    .map(|_| self.items().reverse()),
            ),
            "sort" => none(self.sort(args)),
            "clear" => none(
                Conv::NoArgs("list.clear")
                    .none(args)
                    .map(|_| self.items().clear()),
            ),
            "copy" => Conv::NoArgs("list.copy")
                .none(args)
                .map(|_| Value::List(self.items().to_vec())),
            other => Err(PyException::attribute_error(format!(
                "'list' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    fn repr(&self) -> String {
        let items = self.items();
        let parts: Vec<String> = items.iter().map(|v| v.repr()).collect();
        format!("[{}]", parts.join(", "))
    }

    fn get_value(&self) -> Result<Value, String> {
        Ok(Value::List(self.items().to_vec()))
    }

    fn refs(&self, out: &mut Vec<String>) {
        if let Items::Values(items) = &*self.items() {
            // Packed items are never proxies.
            for v in items {
                proxyref::collect_ids(v, out);
            }
        }
    }

    fn mem_bytes(&self) -> Option<usize> {
        Some(self.items().mem_bytes())
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
    use crate::objects::seq::testing::{call, ints, raised};
    use crate::pyexc::ExcKind::{self, *};
    use crate::store::{NewObject, Store};
    use Value::{Int as I, None as N};

    pub(super) fn list(xs: &[i64]) -> List {
        List::new(xs.iter().map(|&i| I(i)).collect())
    }

    pub(super) fn value(l: &List) -> Value {
        l.get_value().unwrap()
    }

    pub(super) fn msg(kind: ExcKind, m: &str) -> (ExcKind, String) {
        (kind, m.to_string())
    }

    #[test]
    fn create_accepts_iterables_like_list() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let mk = |pos: Vec<Value>| create(&ctx, Args::new(pos)).map(|o| o.get_value().unwrap());
        // `m.list(range(3))` sends `builtins.range(0, 3, 1)` (captured).
        let range = builtin_call("range", vec![I(0), I(3), I(1)]);
        assert_eq!(mk(vec![range]).unwrap(), ints(&[0, 1, 2]));
        assert_eq!(mk(vec![]).unwrap(), ints(&[]));
        assert_eq!(
            mk(vec![Value::from("ab")]).unwrap(),
            Value::List(vec!["a".into(), "b".into()])
        );
        assert_eq!(mk(vec![Value::Tuple(vec![I(1)])]).unwrap(), ints(&[1]));
        assert_eq!(
            mk(vec![I(5)]).unwrap_err().message(),
            "'int' object is not iterable"
        );
        assert_eq!(
            mk(vec![N, N]).unwrap_err().message(),
            "list expected at most 1 argument, got 2"
        );
        let kw = Args {
            pos: vec![],
            kw: vec![("iterable".into(), ints(&[1]))],
        };
        assert_eq!(
            create(&ctx, kw).err().unwrap().message(),
            "list() takes no keyword arguments"
        );
    }

    #[test]
    fn operators() {
        let store = Store::new(10);
        let l = list(&[1, 2]);
        assert_eq!(
            call(&l, &store, "__add__", vec![ints(&[9])]).unwrap(),
            ints(&[1, 2, 9])
        );
        assert_eq!(
            raised(&l, &store, "__add__", vec![Value::Tuple(vec![I(1)])]),
            msg(
                TypeError,
                "can only concatenate list (not \"tuple\") to list"
            )
        );
        assert_eq!(
            call(&l, &store, "__mul__", vec![I(2)]).unwrap(),
            ints(&[1, 2, 1, 2])
        );
        assert_eq!(
            call(&l, &store, "__rmul__", vec![I(-1)]).unwrap(),
            ints(&[])
        );
        assert_eq!(
            raised(&l, &store, "__mul__", vec![Value::Float(1.5)]),
            msg(
                TypeError,
                "'float' object cannot be interpreted as an integer"
            )
        );
        // A huge repeat is refused before allocating (CPython: MemoryError).
        assert_eq!(
            raised(&l, &store, "__mul__", vec![I(1 << 40)]).0,
            MemoryError
        );
        assert_eq!(value(&l), ints(&[1, 2]), "operators leave the list alone");
        // `l *= 2` answers with the whole list (captured).
        assert_eq!(
            call(&l, &store, "__imul__", vec![I(2)]).unwrap(),
            ints(&[1, 2, 1, 2])
        );
        assert_eq!(value(&l), ints(&[1, 2, 1, 2]));
        assert_eq!(
            call(&l, &store, "__contains__", vec![Value::Float(2.0)]).unwrap(),
            Value::Bool(true)
        );
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
        let o = r
            .as_object_of("builtins", "reversed")
            .expect("a reversed object");
        assert_eq!(o.args(), &[ints(&[1, 2, 3])]);
        assert_eq!(o.state, Some(I(2)));
        let r = call(&list(&[]), &store, "__reversed__", vec![]).unwrap();
        assert_eq!(
            r.as_object_of("builtins", "reversed").unwrap().state,
            Some(I(-1))
        );
    }

    #[test]
    fn mutating_methods() {
        let store = Store::new(10);
        let l = list(&[]);
        assert_eq!(
            raised(&l, &store, "pop", vec![]),
            msg(IndexError, "pop from empty list")
        );
        call(&l, &store, "append", vec![I(3)]).unwrap();
        call(&l, &store, "extend", vec![ints(&[4, 5])]).unwrap();
        call(&l, &store, "insert", vec![I(-100), I(0)]).unwrap();
        call(&l, &store, "insert", vec![I(100), I(9)]).unwrap();
        call(&l, &store, "insert", vec![I(-1), I(8)]).unwrap();
        assert_eq!(value(&l), ints(&[0, 3, 4, 5, 8, 9]));
        assert_eq!(call(&l, &store, "pop", vec![]).unwrap(), I(9));
        assert_eq!(call(&l, &store, "pop", vec![I(0)]).unwrap(), I(0));
        assert_eq!(
            raised(&l, &store, "pop", vec![I(9)]),
            msg(IndexError, "pop index out of range")
        );
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
            msg(
                TypeError,
                "list.append() takes exactly one argument (0 given)"
            )
        );
    }

    #[test]
    fn index_and_count() {
        let store = Store::new(10);
        let l = list(&[1, 2, 3, 1]);
        assert_eq!(call(&l, &store, "index", vec![I(1)]).unwrap(), I(0));
        assert_eq!(call(&l, &store, "index", vec![I(1), I(1)]).unwrap(), I(3));
        assert_eq!(
            call(&l, &store, "index", vec![I(1), I(-100), I(100)]).unwrap(),
            I(0)
        );
        assert_eq!(
            raised(&l, &store, "index", vec![I(1), I(1), I(3)]),
            msg(ValueError, "1 is not in list")
        );
        // The message uses the value's repr.
        assert_eq!(
            raised(&l, &store, "index", vec!["a".into()]),
            msg(ValueError, "'a' is not in list")
        );
        assert_eq!(
            raised(&l, &store, "index", vec![I(1), N]),
            msg(
                TypeError,
                "slice indices must be integers or have an __index__ method"
            )
        );
        assert_eq!(
            raised(&l, &store, "index", vec![]),
            msg(TypeError, "index expected at least 1 argument, got 0")
        );
        assert_eq!(
            call(&l, &store, "count", vec![Value::Float(1.0)]).unwrap(),
            I(2)
        );
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
        call(
            entry.obj.as_ref(),
            &store,
            "extend",
            vec![proxy_of(&entry.id)],
        )
        .unwrap();
        assert_eq!(entry.obj.get_value().unwrap(), ints(&[1, 2, 1, 2]));
    }

    #[test]
    fn repr_is_pythons() {
        let l = List::new(vec![I(1), "a".into(), Value::Float(1.0), N]);
        assert_eq!(l.repr(), "[1, 'a', 1.0, None]");
        assert_eq!(list(&[]).repr(), "[]");
    }
}
