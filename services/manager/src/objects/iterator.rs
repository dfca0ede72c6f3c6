//! `Iterator` (IteratorProxy, docs/protocol.md 9.11): a server-side iterator that a
//! client advances with `__next__` until `#ERROR StopIteration()`.
//!
//! CPython registers `Iterator` without a callable: only the server makes
//! one, for a method listed in `method_to_typeid` (`dict.__iter__`, spec
//! 9.2). The referent is then CPython's `dict_keyiterator`, which keeps the
//! dict alive and fails with `RuntimeError('dictionary changed size during
//! iteration')` once the dict's size differs from when it was made; this
//! iterator holds the dict's shared state the same way.
//!
//! A dict iterator has no `send`, `throw` or `close`: the proxy exposes them
//! but CPython's server fails on the attribute lookup, so these answer an
//! `AttributeError`.

use crate::args::Args;
use crate::objects::dict::SlottedDict;
use crate::objects::seq::{self, Conv};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &["__next__", "send", "throw", "close"];

/// Where a dict key iterator stands (`dictiterobject`).
#[derive(Debug)]
struct DictCursor {
    dict: Arc<Mutex<SlottedDict>>,
    /// The entry to look at next (`di_pos`): positions are CPython's entry
    /// indexes, where a deleted key leaves a hole (see `dict/slots.rs`).
    pos: u64,
    /// The dict's size when the iterator was made (`di_used`); `None` once
    /// a size change was seen, which CPython makes sticky.
    used: Option<usize>,
    /// Keys still expected (`len`): yielding more means the keys changed.
    left: usize,
}

#[derive(Debug)]
enum Source {
    Dict(DictCursor),
    Values(VecDeque<Value>),
    /// Exhausted for good (CPython drops its reference to the dict).
    Done,
}

/// A server-side iterator.
pub struct Iterator {
    /// CPython's class name (`dict_keyiterator`), for messages and `repr`.
    type_name: &'static str,
    source: Mutex<Source>,
}

impl Iterator {
    /// `iter(d)` over a dict's shared state.
    pub fn over_dict_keys(dict: Arc<Mutex<SlottedDict>>) -> Iterator {
        let n = seq::lock(&dict).len();
        Iterator {
            type_name: "dict_keyiterator",
            source: Mutex::new(Source::Dict(DictCursor {
                dict,
                pos: 0,
                used: Some(n),
                left: n,
            })),
        }
    }

    /// An iterator over fixed values (a `list_iterator`).
    pub fn over_values(values: Vec<Value>) -> Iterator {
        Iterator {
            type_name: "list_iterator",
            source: Mutex::new(Source::Values(values.into())),
        }
    }

    /// `next(it)`: the next item, `Ok(None)` at the end.
    fn next(&self) -> Result<Option<Value>, PyException> {
        let mut source = seq::lock(&self.source);
        let (item, finished) = match &mut *source {
            Source::Done => (None, false),
            Source::Values(q) => (q.pop_front(), false),
            Source::Dict(c) => {
                // Lock order: iterator, then dict (a dict never locks its
                // iterators), so this cannot deadlock.
                let dict = seq::lock(&c.dict);
                if c.used != Some(dict.len()) {
                    c.used = None;
                    return Err(PyException::runtime_error(
                        "dictionary changed size during iteration",
                    ));
                }
                match dict.key_from(c.pos) {
                    None => (None, true),
                    Some(_) if c.left == 0 => {
                        drop(dict);
                        *source = Source::Done;
                        return Err(PyException::runtime_error(
                            "dictionary keys changed during iteration",
                        ));
                    }
                    Some((slot, k)) => {
                        c.pos = slot + 1;
                        c.left -= 1;
                        (Some(k.clone()), false)
                    }
                }
            }
        };
        if finished {
            *source = Source::Done;
        }
        Ok(item)
    }

    /// The items not yet produced, without advancing.
    fn remaining(&self) -> Result<Vec<Value>, String> {
        match &*seq::lock(&self.source) {
            Source::Done => Ok(Vec::new()),
            Source::Values(q) => Ok(q.iter().cloned().collect()),
            Source::Dict(c) => {
                let dict = seq::lock(&c.dict);
                if c.used != Some(dict.len()) {
                    return Err("RuntimeError: dictionary changed size during iteration".into());
                }
                let start = dict.index_from(c.pos);
                Ok(dict.keys().skip(start).take(c.left).cloned().collect())
            }
        }
    }
}

impl SharedObject for Iterator {
    fn type_name(&self) -> &'static str {
        self.type_name
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let r = match method {
            "__next__" => Conv::Slot("__next__", 0).none(args).and_then(|_| {
                self.next()?
                    .ok_or_else(|| PyException::bare(ExcKind::StopIteration))
            }),
            // `send`, `throw`, `close` and anything else: not attributes of
            // a dict or list iterator (CPython answers with a traceback).
            other => Err(PyException::attribute_error(format!(
                "'{}' object has no attribute '{other}'",
                self.type_name
            ))),
        };
        r.into()
    }

    /// Dict and list iterators have only `__next__`: the serving loop
    /// answers the other exposed names with CPython's traceback.
    fn has_method(&self, method: &str) -> bool {
        method == "__next__"
    }

    fn repr_at(&self, addr: &str) -> String {
        format!("<{} object at {addr}>", self.type_name)
    }

    fn repr(&self) -> String {
        format!("<{} object>", self.type_name)
    }

    /// CPython pickles these iterators as `iter(list_of_remaining_items)`.
    fn get_value(&self) -> Result<Value, String> {
        Ok(seq::builtin_call(
            "iter",
            vec![Value::List(self.remaining()?)],
        ))
    }

    fn refs(&self, out: &mut Vec<String>) {
        match &*seq::lock(&self.source) {
            Source::Done => {}
            Source::Values(q) => q.iter().for_each(|v| proxyref::collect_ids(v, out)),
            // The iterator keeps the whole dict alive, as CPython's does.
            Source::Dict(c) => {
                for (k, v) in seq::lock(&c.dict).iter() {
                    proxyref::collect_ids(k, out);
                    proxyref::collect_ids(v, out);
                }
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, raised};
    use crate::store::Store;
    use mpcluster_wire::Dict;

    fn dict(keys: &[&str]) -> Arc<Mutex<SlottedDict>> {
        let d = Dict::from_pairs(keys.iter().map(|k| (Value::from(*k), Value::None))).unwrap();
        Arc::new(Mutex::new(SlottedDict::new(d)))
    }

    #[test]
    fn yields_keys_then_stop_iteration() {
        let store = Store::new(10);
        let it = Iterator::over_dict_keys(dict(&["a", "b"]));
        assert_eq!(
            it.get_value().unwrap(),
            seq::builtin_call("iter", vec![Value::List(vec!["a".into(), "b".into()])])
        );
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap(),
            Value::from("a")
        );
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap(),
            Value::from("b")
        );
        let e = call(&it, &store, "__next__", vec![]).unwrap_err();
        assert_eq!(e.kind, ExcKind::StopIteration);
        assert!(
            e.args.is_empty(),
            "StopIteration() has no arguments (captured)"
        );
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap_err().kind,
            ExcKind::StopIteration
        );
        assert_eq!(
            raised(&it, &store, "__next__", vec![Value::None]).1,
            "expected 0 arguments, got 1"
        );
    }

    #[test]
    fn size_change_is_a_sticky_runtime_error() {
        let store = Store::new(10);
        let d = dict(&["a", "b"]);
        let it = Iterator::over_dict_keys(d.clone());
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap(),
            Value::from("a")
        );
        seq::lock(&d).insert("c".into(), Value::None).unwrap();
        let err = (
            ExcKind::RuntimeError,
            "dictionary changed size during iteration".to_string(),
        );
        assert_eq!(raised(&it, &store, "__next__", vec![]), err);
        // Back to the old size: CPython still fails (di_used = -1).
        seq::lock(&d).remove(&"c".into()).unwrap();
        assert_eq!(raised(&it, &store, "__next__", vec![]), err);
        assert!(it.get_value().is_err());
    }

    #[test]
    fn same_size_key_swap_is_not_a_size_change() {
        // CPython: d = dict.fromkeys('a'); it = iter(d); del d['a'];
        // d['x'] = None; list(it) == ['x'].
        let store = Store::new(10);
        let d = dict(&["a"]);
        let it = Iterator::over_dict_keys(d.clone());
        seq::lock(&d).remove(&"a".into()).unwrap();
        seq::lock(&d).insert("x".into(), Value::None).unwrap();
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap(),
            Value::from("x")
        );
        assert_eq!(
            call(&it, &store, "__next__", vec![]).unwrap_err().kind,
            ExcKind::StopIteration
        );
    }

    #[test]
    fn deleting_a_yielded_key_and_adding_one_changes_the_keys() {
        // CPython 3.11: d = dict.fromkeys('abc'); it = iter(d); next(it);
        // del d['a']; d['x'] = None; then 'b', 'c', and RuntimeError
        // (the deleted entry stays a hole; 'x' is one key too many).
        let store = Store::new(10);
        let d = dict(&["a", "b", "c"]);
        let it = Iterator::over_dict_keys(d.clone());
        let next = || call(&it, &store, "__next__", vec![]);
        assert_eq!(next().unwrap(), Value::from("a"));
        seq::lock(&d).remove(&"a".into()).unwrap();
        seq::lock(&d).insert("x".into(), Value::None).unwrap();
        assert_eq!(next().unwrap(), Value::from("b"));
        assert_eq!(next().unwrap(), Value::from("c"));
        assert_eq!(
            raised(&it, &store, "__next__", vec![]),
            (
                ExcKind::RuntimeError,
                "dictionary keys changed during iteration".to_string()
            )
        );
        assert_eq!(next().unwrap_err().kind, ExcKind::StopIteration);
    }

    #[test]
    fn send_throw_close_are_attribute_errors() {
        let store = Store::new(10);
        let it = Iterator::over_dict_keys(dict(&[]));
        for m in ["send", "throw", "close"] {
            assert!(!it.has_method(m));
            assert_eq!(
                raised(&it, &store, m, vec![]),
                (
                    ExcKind::AttributeError,
                    format!("'dict_keyiterator' object has no attribute '{m}'")
                )
            );
        }
        let values = Iterator::over_values(vec![Value::Int(1)]);
        assert_eq!(
            call(&values, &store, "__next__", vec![]).unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            call(&values, &store, "__next__", vec![]).unwrap_err().kind,
            ExcKind::StopIteration
        );
    }
}
