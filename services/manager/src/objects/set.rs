//! `set` (SetProxy, CPython 3.14+, docs/protocol.md 9.3): a Python set shared by
//! clients.
//!
//! Members follow Python's hashing and equality through the value model's
//! [`Set`]. Operators answer new sets by value; the in-place ones (sent by
//! the client for `|=`, `&=`, `^=`, `-=`) mutate and answer the whole set,
//! which the client discards; comparisons answer bools; `__iter__` answers
//! the iterator by value, `builtins.iter([...])` (no `method_to_typeid`).
//!
//! A binary operator or comparison whose operand is not a set answers
//! `NotImplemented`, as CPython's `set` does; the client's Python then tries
//! the reflected operation and raises the usual `TypeError`. Proxies of
//! this manager's own sets count as sets (CPython's server would see a
//! `SetProxy` and give up). Arguments are read before the set's lock is
//! taken, since they may be proxies of this very set.

use crate::args::Args;
use crate::objects::seq::{self, Conv};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use mpcluster_wire::{Set, Value};
use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

pub const EXPOSED: &[&str] = &[
    "__and__",
    "__contains__",
    "__iand__",
    "__ior__",
    "__isub__",
    "__iter__",
    "__ixor__",
    "__len__",
    "__or__",
    "__rand__",
    "__ror__",
    "__rsub__",
    "__rxor__",
    "__sub__",
    "__xor__",
    "__ge__",
    "__gt__",
    "__le__",
    "__lt__",
    "add",
    "clear",
    "copy",
    "difference",
    "difference_update",
    "discard",
    "intersection",
    "intersection_update",
    "isdisjoint",
    "issubset",
    "issuperset",
    "pop",
    "remove",
    "symmetric_difference",
    "symmetric_difference_update",
    "union",
    "update",
];

/// The shared set.
pub struct SetObject {
    set: Mutex<Set>,
}

/// `set(iterable=())`.
pub fn create(ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    if !args.kw.is_empty() {
        return Err(PyException::type_error("set() takes no keyword arguments"));
    }
    seq::check_count("set", args.pos.len(), 0, 1)?;
    let set = match args.pos.first() {
        Some(v) => collect(seq::iterate(ctx, v)?)?,
        None => Set::new(),
    };
    Ok(Arc::new(SetObject::new(set)))
}

fn collect(items: Vec<Value>) -> Result<Set, PyException> {
    Ok(Set::from_values(items)?)
}

mod algebra;

use algebra::{is_subset, lookup_key, Op};

impl SetObject {
    pub fn new(set: Set) -> Self {
        SetObject {
            set: Mutex::new(set),
        }
    }

    fn set(&self) -> MutexGuard<'_, Set> {
        seq::lock(&self.set)
    }

    fn snapshot(&self) -> Set {
        self.set().clone()
    }

    fn value(&self) -> Value {
        Value::Set(Box::new(self.snapshot()))
    }

    /// The operand of an operator when it is a set, frozenset or a proxy of
    /// one of our sets.
    fn operand(ctx: &CallCtx<'_>, v: &Value) -> Option<Set> {
        match v {
            Value::Set(s) | Value::FrozenSet(s) => Some((**s).clone()),
            _ => {
                let entry = ctx.resolve_proxy(v)?;
                let other = entry.obj.as_any().downcast_ref::<SetObject>()?;
                Some(other.snapshot())
            }
        }
    }

    /// `self op other` (or `other op self` when `reflected`).
    fn binary(
        &self,
        ctx: &CallCtx<'_>,
        op: Op,
        other: &Value,
        reflected: bool,
    ) -> Result<Value, PyException> {
        let Some(other) = Self::operand(ctx, other) else {
            return Ok(seq::not_implemented());
        };
        let mine = self.snapshot();
        let out = if reflected {
            op.apply(&other, &mine)?
        } else {
            op.apply(&mine, &other)?
        };
        Ok(Value::Set(Box::new(out)))
    }

    /// `self op= other`: mutates, answers the whole set.
    fn in_place(&self, ctx: &CallCtx<'_>, op: Op, other: &Value) -> Result<Value, PyException> {
        let Some(other) = Self::operand(ctx, other) else {
            return Err(PyException::type_error(format!(
                "unsupported operand type(s) for {}=: 'set' and '{}'",
                op.symbol(),
                other.type_name()
            )));
        };
        let mut set = self.set();
        *set = op.apply(&set, &other)?;
        Ok(Value::Set(Box::new(set.clone())))
    }

    fn compare(&self, ctx: &CallCtx<'_>, method: &str, other: &Value) -> Value {
        let Some(other) = Self::operand(ctx, other) else {
            return seq::not_implemented();
        };
        let mine = self.set();
        let r = match method {
            "__lt__" => mine.len() < other.len() && is_subset(&mine, &other),
            "__le__" => is_subset(&mine, &other),
            "__gt__" => mine.len() > other.len() && is_subset(&other, &mine),
            _ => is_subset(&other, &mine),
        };
        Value::Bool(r)
    }

    /// `union`, `intersection`, ... with any number of iterables, as new
    /// sets (`s.difference()` is a copy).
    fn multi(&self, ctx: &CallCtx<'_>, op: Op, others: &[Value]) -> Result<Set, PyException> {
        let others = others
            .iter()
            .map(|o| collect(seq::iterate(ctx, o)?))
            .collect::<Result<Vec<Set>, PyException>>()?;
        let mut out = self.snapshot();
        for o in &others {
            out = op.apply(&out, o)?;
        }
        Ok(out)
    }

    /// The `*_update` forms: the same, stored.
    fn multi_update(&self, ctx: &CallCtx<'_>, op: Op, others: &[Value]) -> Result<(), PyException> {
        let others = others
            .iter()
            .map(|o| collect(seq::iterate(ctx, o)?))
            .collect::<Result<Vec<Set>, PyException>>()?;
        let mut set = self.set();
        let mut out = set.clone();
        for o in &others {
            out = op.apply(&out, o)?;
        }
        *set = out;
        Ok(())
    }

    /// An iterable argument as a set (`issubset`, `symmetric_difference`).
    fn iterable_set(ctx: &CallCtx<'_>, v: &Value) -> Result<Set, PyException> {
        match Self::operand(ctx, v) {
            Some(s) => Ok(s),
            None => collect(seq::iterate(ctx, v)?),
        }
    }
}

/// Positional arguments only, any number (`set.union(*others)`).
fn varargs(name: &str, args: Args) -> Result<Vec<Value>, PyException> {
    if !args.kw.is_empty() {
        return Err(PyException::type_error(format!(
            "{name}() takes no keyword arguments"
        )));
    }
    Ok(args.pos)
}

impl SharedObject for SetObject {
    fn type_name(&self) -> &'static str {
        "set"
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let none = |r: Result<(), PyException>| r.map(|_| Value::None);
        let set_value = |r: Result<Set, PyException>| r.map(|s| Value::Set(Box::new(s)));
        let slot1 = |name: &'static str, args: Args| Conv::Slot(name, 1).one(args);
        let r = match method {
            "__and__" => slot1("__and__", args).and_then(|o| self.binary(ctx, Op::And, &o, false)),
            "__or__" => slot1("__or__", args).and_then(|o| self.binary(ctx, Op::Or, &o, false)),
            "__sub__" => slot1("__sub__", args).and_then(|o| self.binary(ctx, Op::Sub, &o, false)),
            "__xor__" => slot1("__xor__", args).and_then(|o| self.binary(ctx, Op::Xor, &o, false)),
            "__rand__" => slot1("__rand__", args).and_then(|o| self.binary(ctx, Op::And, &o, true)),
            "__ror__" => slot1("__ror__", args).and_then(|o| self.binary(ctx, Op::Or, &o, true)),
            "__rsub__" => slot1("__rsub__", args).and_then(|o| self.binary(ctx, Op::Sub, &o, true)),
            "__rxor__" => slot1("__rxor__", args).and_then(|o| self.binary(ctx, Op::Xor, &o, true)),
            "__iand__" => slot1("__iand__", args).and_then(|o| self.in_place(ctx, Op::And, &o)),
            "__ior__" => slot1("__ior__", args).and_then(|o| self.in_place(ctx, Op::Or, &o)),
            "__isub__" => slot1("__isub__", args).and_then(|o| self.in_place(ctx, Op::Sub, &o)),
            "__ixor__" => slot1("__ixor__", args).and_then(|o| self.in_place(ctx, Op::Xor, &o)),
            "__lt__" => slot1("__lt__", args).map(|o| self.compare(ctx, "__lt__", &o)),
            "__le__" => slot1("__le__", args).map(|o| self.compare(ctx, "__le__", &o)),
            "__gt__" => slot1("__gt__", args).map(|o| self.compare(ctx, "__gt__", &o)),
            "__ge__" => slot1("__ge__", args).map(|o| self.compare(ctx, "__ge__", &o)),
            "__contains__" => Conv::One("set.__contains__")
                .one(args)
                .and_then(|x| Ok(Value::Bool(self.set().contains(&lookup_key(x))?))),
            "__len__" => Conv::Slot("__len__", 0)
                .none(args)
                .map(|_| Value::Int(self.set().len() as i64)),
            // The iterator by value (docs/protocol.md 7.5: `builtins.iter([...])`).
            "__iter__" => Conv::Slot("__iter__", 0).none(args).map(|_| {
                let items: Vec<Value> = self.set().iter().cloned().collect();
                seq::builtin_call("iter", vec![Value::List(items)])
            }),
            "add" => none(Conv::One("set.add").one(args).and_then(|x| {
                self.set().insert(x)?;
                Ok(())
            })),
            "clear" => none(
                Conv::NoArgs("set.clear")
                    .none(args)
                    .map(|_| self.set().clear()),
            ),
            "copy" => Conv::NoArgs("set.copy").none(args).map(|_| self.value()),
            "pop" => Conv::NoArgs("set.pop").none(args).and_then(|_| {
                let v = self.set().pop();
                v.ok_or_else(|| PyException::key_error(Value::from("pop from an empty set")))
            }),
            "remove" => none(Conv::One("set.remove").one(args).and_then(|x| {
                let x = lookup_key(x);
                if self.set().remove(&x)? {
                    Ok(())
                } else {
                    Err(PyException::key_error(x))
                }
            })),
            "discard" => none(Conv::One("set.discard").one(args).and_then(|x| {
                self.set().remove(&lookup_key(x))?;
                Ok(())
            })),
            "union" => {
                set_value(varargs("set.union", args).and_then(|o| self.multi(ctx, Op::Or, &o)))
            }
            "intersection" => set_value(
                varargs("set.intersection", args).and_then(|o| self.multi(ctx, Op::And, &o)),
            ),
            "difference" => set_value(
                varargs("set.difference", args).and_then(|o| self.multi(ctx, Op::Sub, &o)),
            ),
            "symmetric_difference" => set_value(
                Conv::One("set.symmetric_difference")
                    .one(args)
                    .and_then(|o| Op::Xor.apply(&self.snapshot(), &Self::iterable_set(ctx, &o)?)),
            ),
            "update" => {
                none(varargs("set.update", args).and_then(|o| self.multi_update(ctx, Op::Or, &o)))
            }
            "intersection_update" => none(
                varargs("set.intersection_update", args)
                    .and_then(|o| self.multi_update(ctx, Op::And, &o)),
            ),
            "difference_update" => none(
                varargs("set.difference_update", args)
                    .and_then(|o| self.multi_update(ctx, Op::Sub, &o)),
            ),
            "symmetric_difference_update" => none(
                Conv::One("set.symmetric_difference_update")
                    .one(args)
                    .and_then(|o| self.multi_update(ctx, Op::Xor, &[o])),
            ),
            "isdisjoint" => Conv::One("set.isdisjoint").one(args).and_then(|o| {
                let other = Self::iterable_set(ctx, &o)?;
                let disjoint = !self
                    .set()
                    .iter()
                    .any(|v| other.contains(v).unwrap_or(false));
                Ok(Value::Bool(disjoint))
            }),
            "issubset" => Conv::One("set.issubset").one(args).and_then(|o| {
                let other = Self::iterable_set(ctx, &o)?;
                Ok(Value::Bool(is_subset(&self.set(), &other)))
            }),
            "issuperset" => Conv::One("set.issuperset").one(args).and_then(|o| {
                let other = Self::iterable_set(ctx, &o)?;
                Ok(Value::Bool(is_subset(&other, &self.set())))
            }),
            other => Err(PyException::attribute_error(format!(
                "'set' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    fn repr(&self) -> String {
        let set = self.set();
        if set.is_empty() {
            return "set()".into();
        }
        let parts: Vec<String> = set.iter().map(Value::repr).collect();
        format!("{{{}}}", parts.join(", "))
    }

    fn get_value(&self) -> Result<Value, String> {
        Ok(self.value())
    }

    fn refs(&self, out: &mut Vec<String>) {
        for v in self.set().iter() {
            proxyref::collect_ids(v, out);
        }
    }

    fn mem_bytes(&self) -> Option<usize> {
        Some(self.set().heap_bytes())
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.set().len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, call_kw, ints, raised};
    use crate::pyexc::ExcKind::*;
    use crate::store::{NewObject, Store};
    use mpcluster_wire::Object;
    use Value::Int as I;

    fn set(xs: &[i64]) -> Value {
        Value::Set(Box::new(
            Set::from_values(xs.iter().map(|&i| I(i))).unwrap(),
        ))
    }

    fn frozen(xs: &[i64]) -> Value {
        Value::FrozenSet(Box::new(
            Set::from_values(xs.iter().map(|&i| I(i))).unwrap(),
        ))
    }

    fn obj(xs: &[i64]) -> SetObject {
        let Value::Set(s) = set(xs) else {
            unreachable!()
        };
        SetObject::new(*s)
    }

    #[test]
    fn create_from_iterables() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let s = create(&ctx, Args::new(vec![ints(&[1, 2, 2, 1])])).unwrap();
        assert_eq!(s.get_value().unwrap(), set(&[1, 2]));
        assert_eq!(create(&ctx, Args::default()).unwrap().repr(), "set()");
        let e = create(&ctx, Args::new(vec![Value::List(vec![ints(&[1])])]))
            .err()
            .unwrap();
        assert_eq!(e.message(), "unhashable type: 'list'");
        let e = create(&ctx, Args::new(vec![I(1), I(2)])).err().unwrap();
        assert_eq!(e.message(), "set expected at most 1 argument, got 2");
    }

    #[test]
    fn operators_answer_new_sets_or_not_implemented() {
        // Expected values computed with CPython 3.11 on s = {1, 2, 3}.
        let store = Store::new(10);
        let s = obj(&[1, 2, 3]);
        let op = |m: &str, v: Value| call(&s, &store, m, vec![v]).unwrap();
        assert_eq!(op("__rsub__", set(&[1, 9])), set(&[9]));
        assert_eq!(op("__rxor__", set(&[3, 4])), set(&[1, 2, 4]));
        assert_eq!(op("__and__", frozen(&[2, 5])), set(&[2]));
        assert_eq!(op("__or__", frozen(&[5])), set(&[1, 2, 3, 5]));
        assert_eq!(op("__sub__", set(&[1])), set(&[2, 3]));
        assert_eq!(op("__or__", ints(&[1])), seq::not_implemented());
        assert_eq!(op("__lt__", ints(&[1])), seq::not_implemented());
        assert_eq!(op("__le__", set(&[1, 2, 3])), Value::Bool(true));
        assert_eq!(op("__lt__", set(&[1, 2, 3])), Value::Bool(false));
        assert_eq!(op("__ge__", frozen(&[])), Value::Bool(true));
        assert_eq!(op("__gt__", set(&[1, 2, 3])), Value::Bool(false));
        assert_eq!(
            s.get_value().unwrap(),
            set(&[1, 2, 3]),
            "operators leave the set alone"
        );
        assert_eq!(
            raised(&s, &store, "__lt__", vec![]),
            (TypeError, "expected 1 argument, got 0".to_string())
        );
    }

    #[test]
    fn in_place_operators_mutate_and_answer_the_set() {
        let store = Store::new(10);
        let s = obj(&[1, 2, 3]);
        assert_eq!(
            call(&s, &store, "__isub__", vec![set(&[1])]).unwrap(),
            set(&[2, 3])
        );
        assert_eq!(
            call(&s, &store, "__ixor__", vec![set(&[2, 9])]).unwrap(),
            set(&[3, 9])
        );
        assert_eq!(
            call(&s, &store, "__ior__", vec![frozen(&[4])]).unwrap(),
            set(&[3, 4, 9])
        );
        assert_eq!(
            call(&s, &store, "__iand__", vec![set(&[4, 9, 7])]).unwrap(),
            set(&[4, 9])
        );
        assert_eq!(
            raised(&s, &store, "__iand__", vec![ints(&[1])]),
            (
                TypeError,
                "unsupported operand type(s) for &=: 'set' and 'list'".to_string()
            )
        );
        assert_eq!(s.get_value().unwrap(), set(&[4, 9]));
    }

    #[test]
    fn methods() {
        let store = Store::new(10);
        let s = obj(&[1, 2, 3]);
        let m = |name: &str, args: Vec<Value>| call(&s, &store, name, args);
        assert_eq!(
            m("symmetric_difference", vec![ints(&[3, 4])]).unwrap(),
            set(&[1, 2, 4])
        );
        assert_eq!(
            m("union", vec![ints(&[4]), Value::tuple([I(5)])]).unwrap(),
            set(&[1, 2, 3, 4, 5])
        );
        assert_eq!(
            m("intersection", vec![ints(&[1, 2]), ints(&[2])]).unwrap(),
            set(&[2])
        );
        assert_eq!(m("difference", vec![]).unwrap(), set(&[1, 2, 3]));
        assert_eq!(
            m("isdisjoint", vec![ints(&[9])]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            m("issuperset", vec![Value::tuple([I(1)])]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            m("issubset", vec![ints(&[1, 2, 3, 4])]).unwrap(),
            Value::Bool(true)
        );
        assert_eq!(
            raised(&s, &store, "issuperset", vec![]),
            (
                TypeError,
                "set.issuperset() takes exactly one argument (0 given)".to_string()
            )
        );
        assert_eq!(
            raised(&s, &store, "isdisjoint", vec![I(5)]).1,
            "'int' object is not iterable"
        );
        m("update", vec![ints(&[4]), set(&[5])]).unwrap();
        m("difference_update", vec![ints(&[1]), ints(&[2])]).unwrap();
        m("intersection_update", vec![ints(&[3, 4, 5, 6])]).unwrap();
        m("symmetric_difference_update", vec![ints(&[5, 6])]).unwrap();
        assert_eq!(s.get_value().unwrap(), set(&[3, 4, 6]));
        m("add", vec![I(7)]).unwrap();
        assert_eq!(
            raised(&s, &store, "add", vec![ints(&[1])]),
            (TypeError, "unhashable type: 'list'".to_string())
        );
        m("remove", vec![I(7)]).unwrap();
        let e = call(&s, &store, "remove", vec![I(7)]).unwrap_err();
        assert_eq!((e.kind, e.args), (KeyError, vec![I(7)]));
        // A set argument is looked up as the equal frozenset (CPython).
        let e = call(&s, &store, "remove", vec![set(&[9])]).unwrap_err();
        assert_eq!(
            (e.kind, e.message()),
            (KeyError, "frozenset({9})".to_string())
        );
        assert_eq!(
            m("__contains__", vec![set(&[1])]).unwrap(),
            Value::Bool(false)
        );
        m("discard", vec![I(99)]).unwrap();
        assert_eq!(m("__len__", vec![]).unwrap(), I(3));
        let it = m("__iter__", vec![]).unwrap();
        let Some([Value::List(items)]) = it.as_object_of("builtins", "iter").map(|o| o.args())
        else {
            panic!("__iter__ answers builtins.iter([...])");
        };
        assert_eq!(
            Value::Set(Box::new(Set::from_values(items.clone()).unwrap())),
            set(&[3, 4, 6])
        );
        assert_eq!(items.len(), 3);
        assert_eq!(m("copy", vec![]).unwrap(), set(&[3, 4, 6]));
        assert_eq!(s.repr(), "{3, 4, 6}");
        let e = call_kw(&s, &store, "update", vec![], vec![("x", I(1))])
            .err()
            .unwrap();
        assert_eq!(e.message(), "set.update() takes no keyword arguments");
        m("clear", vec![]).unwrap();
        let e = call(&s, &store, "pop", vec![]).unwrap_err();
        assert_eq!(
            (e.kind, e.message()),
            (KeyError, "'pop from an empty set'".to_string())
        );
    }

    #[test]
    fn proxies_of_our_sets_are_sets() {
        let store = Store::new(10);
        let other = store
            .insert(NewObject {
                typeid: "set".into(),
                obj: Arc::new(obj(&[5])),
                exposed: EXPOSED,
                method_to_typeid: &[],
                named: false,
            })
            .unwrap();
        let tok = proxyref::token("set", &("127.0.0.1".into(), 1), &other.id);
        let proxy = Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "SetProxy"),
                tok,
                "pickle".into(),
                Value::Dict(Box::default()),
            ],
        )));
        let s = obj(&[1]);
        assert_eq!(
            call(&s, &store, "__or__", vec![proxy.clone()]).unwrap(),
            set(&[1, 5])
        );
        // `s |= s` through its own proxy must not deadlock.
        assert_eq!(
            call(other.obj.as_ref(), &store, "__ior__", vec![proxy.clone()]).unwrap(),
            set(&[5])
        );
        call(&s, &store, "update", vec![proxy]).unwrap();
        assert_eq!(s.get_value().unwrap(), set(&[1, 5]));
    }
}
