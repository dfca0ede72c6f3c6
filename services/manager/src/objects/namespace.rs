//! `Namespace` (NamespaceProxy, docs/protocol.md 9.4): a bag of named attributes.
//!
//! The client turns `ns.x`, `ns.x = v` and `del ns.x` into
//! `__getattribute__`, `__setattr__` and `__delattr__` calls (names starting
//! with `_` never leave the client). A CPython server answers them with the
//! real attribute machinery of its `Namespace` object, so `ns.__dict__` or
//! `ns.__class__` reach server internals; we serve exactly the attributes
//! that were set (docs/protocol.md 14), in insertion order, and fail the others with
//! CPython's `AttributeError` text.

use crate::args::{Args, Sig};
use crate::objects::seq::{self, Conv};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use mpcluster_wire::{Dict, Object, Value};
use std::any::Any;
use std::sync::{Arc, Mutex, MutexGuard};

pub const EXPOSED: &[&str] = &["__getattribute__", "__setattr__", "__delattr__"];

/// The shared namespace: attribute names (always `str`) to values.
pub struct Namespace {
    attrs: Mutex<Dict>,
}

const INIT: Sig = Sig::py("Namespace.__init__", &[], 0);

/// `Namespace(**kwds)`.
pub fn create(_ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    let kw = args.kw.clone();
    Args::new(args.pos).bind(&INIT)?;
    let mut attrs = Dict::new();
    for (k, v) in kw {
        attrs.insert(Value::Str(k), v)?;
    }
    Ok(Arc::new(Namespace {
        attrs: Mutex::new(attrs),
    }))
}

/// The attribute name argument (`getattr(ns, 5)` fails the same way).
fn name_of(v: &Value) -> Result<&str, PyException> {
    v.as_str().ok_or_else(|| match v {
        Value::SurrogateStr(_) => PyException::type_error(format!(
            "mpcluster: attribute names holding a lone surrogate ({}) are not supported",
            v.repr()
        )),
        _ => PyException::type_error(format!(
            "attribute name must be string, not '{}'",
            v.type_name()
        )),
    })
}

fn no_attribute(name: &str) -> PyException {
    PyException::attribute_error(format!("'Namespace' object has no attribute '{name}'"))
}

impl Namespace {
    fn attrs(&self) -> MutexGuard<'_, Dict> {
        seq::lock(&self.attrs)
    }

    fn getattr(&self, name: &Value) -> Result<Value, PyException> {
        let n = name_of(name)?;
        if n == "__dict__" {
            // The instance dict itself, as `object.__getattribute__` finds
            // it on CPython's server: every attribute, `_`-names included.
            return Ok(Value::Dict(Box::new(self.attrs().clone())));
        }
        let v = self.attrs().get(name)?.cloned();
        v.ok_or_else(|| no_attribute(n))
    }

    fn setattr(&self, name: Value, value: Value) -> Result<(), PyException> {
        name_of(&name)?;
        self.attrs().insert(name, value)?;
        Ok(())
    }

    fn delattr(&self, name: &Value) -> Result<(), PyException> {
        let n = name_of(name)?;
        match self.attrs().remove(name)? {
            Some(_) => Ok(()),
            None => Err(no_attribute(n)),
        }
    }
}

impl SharedObject for Namespace {
    fn type_name(&self) -> &'static str {
        "Namespace"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let r = match method {
            "__getattribute__" => Conv::Slot("__getattribute__", 1)
                .one(args)
                .and_then(|n| self.getattr(&n)),
            "__setattr__" => Conv::Unpack("__setattr__", 2)
                .two(args)
                .and_then(|(n, v)| self.setattr(n, v))
                .map(|_| Value::None),
            "__delattr__" => Conv::Slot("__delattr__", 1)
                .one(args)
                .and_then(|n| self.delattr(&n))
                .map(|_| Value::None),
            other => Err(no_attribute(other)),
        };
        r.into()
    }

    /// `Namespace.__repr__`: public attributes as `name=repr`, sorted as
    /// those strings (so `a1=...` sorts before `a=...`, as in CPython).
    fn repr(&self) -> String {
        let attrs = self.attrs();
        let mut parts: Vec<String> = attrs
            .iter()
            .filter_map(|(k, v)| {
                let name = k.as_str()?;
                (!name.starts_with('_')).then(|| format!("{name}={}", v.repr()))
            })
            .collect();
        parts.sort();
        format!("Namespace({})", parts.join(", "))
    }

    /// `multiprocessing.managers.Namespace` with its `__dict__` as state
    /// (docs/protocol.md 7.5, captured).
    fn get_value(&self) -> Result<Value, String> {
        let state = Value::Dict(Box::new(self.attrs().clone()));
        Ok(Value::Object(Box::new(Object::new_obj(
            Value::global("multiprocessing.managers", "Namespace"),
            vec![],
            Some(state),
        ))))
    }

    fn refs(&self, out: &mut Vec<String>) {
        for v in self.attrs().values() {
            proxyref::collect_ids(v, out);
        }
    }

    fn mem_bytes(&self) -> Option<usize> {
        Some(self.attrs().heap_bytes())
    }

    fn len_hint(&self) -> Option<usize> {
        Some(self.attrs().len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, raised};
    use crate::pyexc::ExcKind::{AttributeError, TypeError};
    use crate::store::Store;

    fn ns(store: &Store, kw: Vec<(&str, Value)>) -> Arc<dyn SharedObject> {
        let ctx = CallCtx { conn: 1, store };
        let args = Args {
            pos: vec![],
            kw: kw.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        };
        create(&ctx, args).unwrap()
    }

    #[test]
    fn the_captured_session() {
        let store = Store::new(10);
        // ns = m.Namespace(x=1); ns.x; ns.y = [1, 2]; del ns.x; ns.x
        let n = ns(&store, vec![("x", Value::Int(1))]);
        let n = n.as_ref();
        assert_eq!(
            call(n, &store, "__getattribute__", vec!["x".into()]).unwrap(),
            Value::Int(1)
        );
        let y = Value::List(vec![Value::Int(1), Value::Int(2)]);
        call(n, &store, "__setattr__", vec!["y".into(), y.clone()]).unwrap();
        call(n, &store, "__delattr__", vec!["x".into()]).unwrap();
        assert_eq!(
            raised(n, &store, "__getattribute__", vec!["x".into()]),
            (
                AttributeError,
                "'Namespace' object has no attribute 'x'".to_string()
            )
        );
        assert_eq!(n.repr(), "Namespace(y=[1, 2])");
        let v = n.get_value().unwrap();
        let o = v
            .as_object_of("multiprocessing.managers", "Namespace")
            .unwrap();
        assert!(o.args().is_empty());
        let want = Dict::from_pairs([(Value::from("y"), y)]).unwrap();
        assert_eq!(o.state, Some(Value::Dict(Box::new(want))));
    }

    #[test]
    fn the_instance_dict_is_every_attribute() {
        let store = Store::new(10);
        let n = ns(&store, vec![]);
        let n = n.as_ref();
        let dict = |n| call(n, &store, "__getattribute__", vec!["__dict__".into()]).unwrap();
        assert_eq!(dict(n), Value::Dict(Box::default()));
        call(n, &store, "__setattr__", vec!["_p".into(), Value::Int(1)]).unwrap();
        let want = Dict::from_pairs([(Value::from("_p"), Value::Int(1))]).unwrap();
        assert_eq!(dict(n), Value::Dict(Box::new(want)));
    }

    #[test]
    fn only_set_attributes_exist() {
        let store = Store::new(10);
        let n = ns(&store, vec![]);
        let n = n.as_ref();
        for name in ["__class__", "__init__"] {
            assert_eq!(
                raised(n, &store, "__getattribute__", vec![name.into()]).0,
                AttributeError
            );
        }
        call(
            n,
            &store,
            "__setattr__",
            vec!["_private".into(), Value::Int(1)],
        )
        .unwrap();
        assert_eq!(
            call(n, &store, "__getattribute__", vec!["_private".into()]).unwrap(),
            Value::Int(1)
        );
        assert_eq!(
            raised(n, &store, "__delattr__", vec!["zz".into()]),
            (
                AttributeError,
                "'Namespace' object has no attribute 'zz'".to_string()
            )
        );
        assert_eq!(
            raised(n, &store, "__getattribute__", vec![Value::Int(5)]),
            (
                TypeError,
                "attribute name must be string, not 'int'".to_string()
            )
        );
        assert_eq!(
            raised(n, &store, "__setattr__", vec!["a".into()]),
            (TypeError, " expected 2 arguments, got 1".to_string())
        );
    }

    #[test]
    fn repr_sorts_formatted_public_items() {
        let store = Store::new(10);
        // CPython: repr(Namespace(a=1, a1=2, _b=3, c='x')) ==
        // "Namespace(a1=2, a=1, c='x')".
        let n = ns(
            &store,
            vec![
                ("a", Value::Int(1)),
                ("a1", Value::Int(2)),
                ("_b", Value::Int(3)),
                ("c", "x".into()),
            ],
        );
        assert_eq!(n.repr(), "Namespace(a1=2, a=1, c='x')");
    }

    #[test]
    fn positional_arguments_are_refused() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let e = create(&ctx, Args::new(vec![Value::Int(1)])).err().unwrap();
        assert_eq!(
            e.message(),
            "Namespace.__init__() takes 1 positional argument but 2 were given"
        );
    }
}
