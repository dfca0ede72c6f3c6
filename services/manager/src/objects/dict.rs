//! `dict` (DictProxy, docs/protocol.md 9.2): a Python dict shared by clients.
//!
//! Keys follow Python's hashing and equality (`1`, `1.0` and `True` are one
//! key) and insertion order, through the value model's [`Dict`]. Methods
//! behave as CPython's, with two wire-level twists from the spec:
//! `keys()`, `values()` and `items()` answer `builtins.list([...])` (views
//! pickle that way), and `__iter__` answers a new server-side
//! [`Iterator`] object (the registry maps it to the `Iterator` typeid, so
//! the client gets a `#PROXY`). The state sits behind an `Arc` so that an
//! iterator can follow the live dict and notice size changes, as CPython's
//! `dict_keyiterator` does.
//!
//! Arguments that must be read as mappings or iterables are resolved before
//! the dict's lock is taken: they may be proxies of this very dict.

use crate::args::Args;
use crate::objects::iterator::Iterator;
use crate::objects::seq::{self, Conv};
use crate::objects::{Call, CallCtx, Ret, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use mpcluster_wire::{Dict, Value};
use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

pub const EXPOSED: &[&str] = &[
    "__contains__",
    "__delitem__",
    "__getitem__",
    "__ior__",
    "__iter__",
    "__len__",
    "__or__",
    "__reversed__",
    "__ror__",
    "__setitem__",
    "clear",
    "copy",
    "fromkeys",
    "get",
    "items",
    "keys",
    "pop",
    "popitem",
    "setdefault",
    "update",
    "values",
    // CPython appends the keys of `method_to_typeid` to the exposed list,
    // so `__iter__` appears twice in its `create` reply (docs/protocol.md 5.4).
    "__iter__",
];

mod slots;
mod update;

pub use slots::SlottedDict;
use update::Update;

pub const METHOD_TO_TYPEID: &[(&str, &str)] = &[("__iter__", "Iterator")];

/// The shared dict.
pub struct DictObject {
    map: Arc<Mutex<SlottedDict>>,
}

/// `dict(*args, **kwargs)`.
pub fn create(ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    let mut d = SlottedDict::default();
    let update = Update::read(ctx, "dict", args)?;
    update.apply(&mut d)?;
    Ok(Arc::new(DictObject {
        map: Arc::new(Mutex::new(d)),
    }))
}

fn dict_value(d: &Dict) -> Value {
    Value::Dict(Box::new(d.clone()))
}

impl DictObject {
    pub fn new(d: Dict) -> Self {
        DictObject {
            map: Arc::new(Mutex::new(SlottedDict::new(d))),
        }
    }

    fn map(&self) -> MutexGuard<'_, SlottedDict> {
        seq::lock(&self.map)
    }

    fn get(&self, args: Vec<Value>) -> Result<Value, PyException> {
        let mut args = args.into_iter();
        let key = args.next().unwrap_or(Value::None);
        let default = args.next().unwrap_or(Value::None);
        Ok(self.map().get(&key)?.cloned().unwrap_or(default))
    }

    fn pop(&self, args: Vec<Value>) -> Result<Value, PyException> {
        let mut args = args.into_iter();
        let key = args.next().unwrap_or(Value::None);
        let default = args.next();
        let mut map = self.map();
        // An empty dict answers before hashing the key (`{}.pop([])` is a
        // KeyError, not "unhashable type"), as CPython's `_PyDict_Pop`.
        let removed = if map.is_empty() {
            None
        } else {
            map.remove(&key)?
        };
        match (removed, default) {
            (Some(v), _) | (None, Some(v)) => Ok(v),
            (None, None) => Err(PyException::key_error(key)),
        }
    }

    fn setdefault(&self, args: Vec<Value>) -> Result<Value, PyException> {
        let mut args = args.into_iter();
        let key = args.next().unwrap_or(Value::None);
        let default = args.next().unwrap_or(Value::None);
        let mut map = self.map();
        if let Some(v) = map.get(&key)? {
            return Ok(v.clone());
        }
        map.insert(key, default.clone())?;
        Ok(default)
    }

    /// `d | other` (`other` first for `__ror__`): a new dict, or
    /// `NotImplemented` when `other` is not a dict (CPython's `dict_or`).
    fn or(&self, other: &Value, reflected: bool) -> Result<Value, PyException> {
        let Value::Dict(other) = other else {
            return Ok(seq::not_implemented());
        };
        let mine = self.map().clone();
        let (mut out, add) = if reflected {
            ((**other).clone(), mine)
        } else {
            (mine, (**other).clone())
        };
        for (k, v) in add {
            out.insert(k, v)?;
        }
        Ok(Value::Dict(Box::new(out)))
    }

    fn update(&self, ctx: &CallCtx<'_>, args: Args) -> Result<(), PyException> {
        let update = Update::read(ctx, "update", args)?;
        update.apply(&mut self.map())
    }

    fn fromkeys(&self, ctx: &CallCtx<'_>, args: Vec<Value>) -> Result<Value, PyException> {
        let mut args = args.into_iter();
        let iterable = args.next().unwrap_or(Value::None);
        let value = args.next().unwrap_or(Value::None);
        let mut out = Dict::new();
        for k in seq::iterate(ctx, &iterable)? {
            out.insert(k, value.clone())?;
        }
        Ok(Value::Dict(Box::new(out)))
    }

    fn keys_list(&self) -> Vec<Value> {
        self.map().keys().cloned().collect()
    }
}

impl SharedObject for DictObject {
    fn type_name(&self) -> &'static str {
        "dict"
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let none = |r: Result<(), PyException>| r.map(|_| Value::None);
        // Views pickle as `builtins.list([...])` (docs/protocol.md 7.5, captured).
        let view = |items: Vec<Value>| seq::builtin_call("list", vec![Value::List(items)]);
        let r = match method {
            "__getitem__" => Conv::One("dict.__getitem__").one(args).and_then(|k| {
                let v = self.map().get(&k)?.cloned();
                v.ok_or_else(|| PyException::key_error(k))
            }),
            "__setitem__" => none(Conv::Unpack("__setitem__", 2).two(args).and_then(|(k, v)| {
                self.map().insert(k, v)?;
                Ok(())
            })),
            "__delitem__" => none(Conv::Slot("__delitem__", 1).one(args).and_then(|k| {
                match self.map().remove(&k)? {
                    Some(_) => Ok(()),
                    None => Err(PyException::key_error(k)),
                }
            })),
            "__contains__" => Conv::One("dict.__contains__")
                .one(args)
                .and_then(|k| Ok(Value::Bool(self.map().contains_key(&k)?))),
            "__len__" => Conv::Slot("__len__", 0)
                .none(args)
                .map(|_| Value::Int(self.map().len() as i64)),
            "__iter__" => {
                return Call::Done(
                    Conv::Slot("__iter__", 0)
                        .none(args)
                        .map(|_| Ret::Object(Arc::new(Iterator::over_dict_keys(self.map.clone())))),
                )
            }
            "__reversed__" => Conv::NoArgs("dict.__reversed__").none(args).map(|_| {
                let mut keys = self.keys_list();
                keys.reverse();
                // A `dict_reversekeyiterator` pickles as `iter([...])`.
                seq::builtin_call("iter", vec![Value::List(keys)])
            }),
            "keys" => Conv::NoArgs("dict.keys")
                .none(args)
                .map(|_| view(self.keys_list())),
            "values" => Conv::NoArgs("dict.values")
                .none(args)
                .map(|_| view(self.map().values().cloned().collect())),
            "items" => Conv::NoArgs("dict.items").none(args).map(|_| {
                let items = self
                    .map()
                    .iter()
                    .map(|(k, v)| Value::tuple([k.clone(), v.clone()]))
                    .collect();
                view(items)
            }),
            "get" => Conv::Clinic("dict.get", "get", 1, 2)
                .unpack(args)
                .and_then(|a| self.get(a)),
            "pop" => Conv::Clinic("dict.pop", "pop", 1, 2)
                .unpack(args)
                .and_then(|a| self.pop(a)),
            "popitem" => Conv::NoArgs("dict.popitem").none(args).and_then(|_| {
                let item = self.map().pop_last();
                item.map(|(k, v)| Value::tuple([k, v])).ok_or_else(|| {
                    PyException::key_error(Value::from("popitem(): dictionary is empty"))
                })
            }),
            "setdefault" => Conv::Clinic("dict.setdefault", "setdefault", 1, 2)
                .unpack(args)
                .and_then(|a| self.setdefault(a)),
            "update" => none(self.update(ctx, args)),
            "copy" => Conv::NoArgs("dict.copy")
                .none(args)
                .map(|_| dict_value(&self.map())),
            "clear" => none(
                Conv::NoArgs("dict.clear")
                    .none(args)
                    .map(|_| self.map().clear()),
            ),
            "fromkeys" => Conv::Clinic("dict.fromkeys", "fromkeys", 1, 2)
                .unpack(args)
                .and_then(|a| self.fromkeys(ctx, a)),
            "__or__" => Conv::Slot("__or__", 1)
                .one(args)
                .and_then(|o| self.or(&o, false)),
            "__ror__" => Conv::Slot("__ror__", 1)
                .one(args)
                .and_then(|o| self.or(&o, true)),
            // `d |= x` accepts anything `update` does (`dict_ior`) and
            // answers the whole dict, which the client discards.
            "__ior__" => Conv::Slot("__ior__", 1).one(args).and_then(|o| {
                self.update(ctx, Args::new(vec![o]))?;
                Ok(dict_value(&self.map()))
            }),
            other => Err(PyException::attribute_error(format!(
                "'dict' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    fn repr(&self) -> String {
        let map = self.map();
        let parts: Vec<String> = map
            .iter()
            .map(|(k, v)| format!("{}: {}", k.repr(), v.repr()))
            .collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn get_value(&self) -> Result<Value, String> {
        Ok(dict_value(&self.map()))
    }

    fn refs(&self, out: &mut Vec<String>) {
        for (k, v) in self.map().iter() {
            proxyref::collect_ids(k, out);
            proxyref::collect_ids(v, out);
        }
    }

    fn mem_bytes(&self) -> Option<usize> {
        Some(self.map().heap_bytes())
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.map().len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, call_kw, ints, raised};
    use crate::pyexc::ExcKind::{self, *};
    use crate::store::{NewObject, Store};
    use mpcluster_wire::Object;
    use Value::{Int as I, None as N};

    pub(super) fn d(pairs: &[(&str, i64)]) -> Value {
        Value::Dict(Box::new(
            Dict::from_pairs(pairs.iter().map(|(k, v)| (Value::from(*k), I(*v)))).unwrap(),
        ))
    }

    fn obj(pairs: &[(&str, i64)]) -> DictObject {
        let Value::Dict(map) = d(pairs) else {
            unreachable!()
        };
        DictObject::new(*map)
    }

    fn msg(kind: ExcKind, m: &str) -> (ExcKind, String) {
        (kind, m.to_string())
    }

    #[test]
    fn item_access_and_key_errors() {
        let store = Store::new(10);
        let m = obj(&[("a", 1)]);
        assert_eq!(
            call(&m, &store, "__getitem__", vec!["a".into()]).unwrap(),
            I(1)
        );
        // KeyError('missing') (captured).
        let e = call(&m, &store, "__getitem__", vec!["missing".into()]).unwrap_err();
        assert_eq!(
            (e.kind, e.args.clone()),
            (KeyError, vec![Value::from("missing")])
        );
        assert_eq!(
            raised(&m, &store, "__getitem__", vec![ints(&[1])]),
            msg(TypeError, "unhashable type: 'list'")
        );
        call(&m, &store, "__setitem__", vec![I(1), "one".into()]).unwrap();
        // 1.0 and True are the same key as 1.
        assert_eq!(
            call(&m, &store, "__getitem__", vec![Value::Float(1.0)]).unwrap(),
            Value::from("one")
        );
        assert_eq!(
            call(&m, &store, "__contains__", vec![Value::Bool(true)]).unwrap(),
            Value::Bool(true)
        );
        call(&m, &store, "__delitem__", vec![I(1)]).unwrap();
        assert_eq!(raised(&m, &store, "__delitem__", vec![I(1)]).0, KeyError);
        assert_eq!(call(&m, &store, "__len__", vec![]).unwrap(), I(1));
        assert_eq!(
            call(&m, &store, "get", vec!["missing".into(), I(0)]).unwrap(),
            I(0)
        );
        assert_eq!(call(&m, &store, "get", vec!["missing".into()]).unwrap(), N);
        assert_eq!(
            raised(&m, &store, "get", vec![]),
            msg(TypeError, "get expected at least 1 argument, got 0")
        );
        assert_eq!(
            raised(&m, &store, "__setitem__", vec![]),
            msg(TypeError, " expected 2 arguments, got 0")
        );
    }

    #[test]
    fn views_are_builtin_lists() {
        let store = Store::new(10);
        let m = obj(&[("a", 1), ("b", 2)]);
        let list_of = |items: Vec<Value>| seq::builtin_call("list", vec![Value::List(items)]);
        // Shapes captured in dict_proxy.json: builtins.list([...]).
        assert_eq!(
            call(&m, &store, "keys", vec![]).unwrap(),
            list_of(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            call(&m, &store, "values", vec![]).unwrap(),
            list_of(vec![I(1), I(2)])
        );
        assert_eq!(
            call(&m, &store, "items", vec![]).unwrap(),
            list_of(vec![
                Value::tuple(["a".into(), I(1)]),
                Value::tuple(["b".into(), I(2)])
            ])
        );
        assert_eq!(
            call(&m, &store, "__reversed__", vec![]).unwrap(),
            seq::builtin_call("iter", vec![Value::List(vec!["b".into(), "a".into()])])
        );
        assert_eq!(
            raised(&m, &store, "keys", vec![I(1)]),
            msg(TypeError, "dict.keys() takes no arguments (1 given)")
        );
    }

    #[test]
    fn iter_returns_a_live_iterator_object() {
        let store = Store::new(10);
        let m = obj(&[("a", 1), ("b", 2)]);
        let Ret::Object(it) = call_kw(&m, &store, "__iter__", vec![], vec![]).unwrap() else {
            panic!("__iter__ must answer a new object (#PROXY)");
        };
        assert_eq!(it.type_name(), "dict_keyiterator");
        assert_eq!(
            call(it.as_ref(), &store, "__next__", vec![]).unwrap(),
            Value::from("a")
        );
        call(&m, &store, "__setitem__", vec!["c".into(), I(3)]).unwrap();
        assert_eq!(
            raised(it.as_ref(), &store, "__next__", vec![]),
            msg(RuntimeError, "dictionary changed size during iteration")
        );
    }

    #[test]
    fn mutators_follow_the_captured_session() {
        let store = Store::new(10);
        let m = obj(&[("a", 1), ("b", 2)]);
        assert_eq!(
            call(&m, &store, "setdefault", vec!["c".into(), I(3)]).unwrap(),
            I(3)
        );
        assert_eq!(
            call(&m, &store, "setdefault", vec!["c".into(), I(9)]).unwrap(),
            I(3)
        );
        call_kw(
            &m,
            &store,
            "update",
            vec![d(&[("d", 4)])],
            vec![("e", I(5))],
        )
        .unwrap();
        assert_eq!(call(&m, &store, "pop", vec!["e".into()]).unwrap(), I(5));
        assert_eq!(
            call(&m, &store, "pop", vec!["e".into(), I(0)]).unwrap(),
            I(0)
        );
        assert_eq!(raised(&m, &store, "pop", vec!["e".into()]).0, KeyError);
        // An unhashable key: TypeError, unless the dict is empty (KeyError).
        assert_eq!(raised(&m, &store, "pop", vec![ints(&[])]).0, TypeError);
        let empty = obj(&[]);
        assert_eq!(
            raised(&empty, &store, "pop", vec![ints(&[])]),
            msg(KeyError, "[]")
        );
        assert_eq!(
            call(&empty, &store, "pop", vec![ints(&[]), I(7)]).unwrap(),
            I(7)
        );
        assert_eq!(
            call(&m, &store, "popitem", vec![]).unwrap(),
            Value::tuple(["d".into(), I(4)])
        );
        assert_eq!(
            call(&m, &store, "copy", vec![]).unwrap(),
            d(&[("a", 1), ("b", 2), ("c", 3)])
        );
        assert_eq!(m.repr(), "{'a': 1, 'b': 2, 'c': 3}");
        call(&m, &store, "clear", vec![]).unwrap();
        assert_eq!(
            raised(&m, &store, "popitem", vec![]),
            msg(KeyError, "'popitem(): dictionary is empty'")
        );
        assert_eq!(
            raised(&m, &store, "update", vec![N, N]),
            msg(TypeError, "update expected at most 1 argument, got 2")
        );
        // CPython inserts the pairs read before a bad element.
        let bad = Value::List(vec![Value::tuple([I(1), I(2)]), I(5)]);
        assert_eq!(raised(&m, &store, "update", vec![bad]).0, TypeError);
        assert_eq!(
            m.get_value().unwrap(),
            Value::Dict(Box::new(Dict::from_pairs([(I(1), I(2))]).unwrap()))
        );
    }

    #[test]
    fn operators_of_3_14() {
        let store = Store::new(10);
        let m = obj(&[("a", 1)]);
        assert_eq!(
            call(&m, &store, "__or__", vec![d(&[("z", 1)])]).unwrap(),
            d(&[("a", 1), ("z", 1)])
        );
        assert_eq!(
            call(&m, &store, "__ror__", vec![d(&[("z", 1), ("a", 2)])]).unwrap(),
            d(&[("z", 1), ("a", 1)])
        );
        // Not a dict: NotImplemented, so the client raises its own TypeError.
        assert_eq!(
            call(&m, &store, "__or__", vec![ints(&[1])]).unwrap(),
            seq::not_implemented()
        );
        assert_eq!(
            m.get_value().unwrap(),
            d(&[("a", 1)]),
            "| leaves the dict alone"
        );
        let pairs = Value::List(vec![Value::tuple(["b".into(), I(2)])]);
        assert_eq!(
            call(&m, &store, "__ior__", vec![pairs]).unwrap(),
            d(&[("a", 1), ("b", 2)])
        );
        assert_eq!(
            raised(&m, &store, "__ior__", vec![ints(&[1])]),
            msg(
                TypeError,
                "cannot convert dictionary update sequence element #0 to a sequence"
            )
        );
        let fresh = call(&m, &store, "fromkeys", vec![ints(&[1, 2]), I(0)]).unwrap();
        assert_eq!(
            fresh,
            Value::Dict(Box::new(
                Dict::from_pairs([(I(1), I(0)), (I(2), I(0))]).unwrap()
            ))
        );
        assert_eq!(m.len_hint(), Some(2), "fromkeys leaves the dict alone");
        assert_eq!(
            raised(&m, &store, "fromkeys", vec![Value::List(vec![ints(&[1])])]),
            msg(TypeError, "unhashable type: 'list'")
        );
    }

    #[test]
    fn proxies_as_values_and_as_update_arguments() {
        let store = Store::new(10);
        let other = store
            .insert(NewObject {
                typeid: "dict".into(),
                obj: Arc::new(obj(&[("k", 1)])),
                exposed: EXPOSED,
                method_to_typeid: METHOD_TO_TYPEID,
                named: false,
            })
            .unwrap();
        let tok = proxyref::token("dict", &("127.0.0.1".into(), 1), &other.id);
        let proxy = Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "DictProxy"),
                tok,
                "pickle".into(),
                Value::Dict(Box::default()),
            ],
        )));
        let m = obj(&[]);
        call(
            &m,
            &store,
            "__setitem__",
            vec!["inner".into(), proxy.clone()],
        )
        .unwrap();
        let mut refs = Vec::new();
        m.refs(&mut refs);
        assert_eq!(refs, vec![other.id.clone()]);
        // `d.update(proxy)` merges the proxied dict as a mapping, even
        // when it is the dict itself.
        call(&m, &store, "update", vec![proxy.clone()]).unwrap();
        assert_eq!(
            call(&m, &store, "__getitem__", vec!["k".into()]).unwrap(),
            I(1)
        );
        call(other.obj.as_ref(), &store, "update", vec![proxy]).unwrap();
        assert_eq!(other.obj.len_hint(), Some(1));
    }
}
