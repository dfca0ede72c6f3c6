//! `Value` (ValueProxy, docs/protocol.md 9.5): one shared value with a typecode.
//!
//! CPython's `SyncManager.Value` is `managers.Value`, a plain holder: the
//! typecode is stored and shown but never enforced (`v.value = 'text'` on a
//! `Value('i', 0)` succeeds, captured), and `lock` is accepted and ignored.
//! `get()` and `set(v)` are Python methods, so their argument errors count
//! `self`.

use crate::args::{Args, Sig};
use crate::objects::seq;
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use mpcluster_wire::{Dict, Object, Value};
use std::any::Any;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &["get", "set"];

/// The shared value.
pub struct ValueObject {
    typecode: Value,
    value: Mutex<Value>,
}

const INIT: Sig = Sig::py("Value.__init__", &["typecode", "value", "lock"], 2);
const GET: Sig = Sig::py("Value.get", &[], 0);
const SET: Sig = Sig::py("Value.set", &["value"], 1);

/// `Value(typecode, value, lock=True)`.
pub fn create(_ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    let mut b = args.bind(&INIT)?;
    Ok(Arc::new(ValueObject {
        typecode: b.req(0),
        value: Mutex::new(b.req(1)),
    }))
}

impl SharedObject for ValueObject {
    fn type_name(&self) -> &'static str {
        "Value"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        let r = match method {
            "get" => args.bind(&GET).map(|_| seq::lock(&self.value).clone()),
            "set" => args.bind(&SET).map(|mut b| {
                *seq::lock(&self.value) = b.req(0);
                Value::None
            }),
            other => Err(PyException::attribute_error(format!(
                "'Value' object has no attribute '{other}'"
            ))),
        };
        r.into()
    }

    /// `Value.__repr__`: `Value('i', 5)`.
    fn repr(&self) -> String {
        format!(
            "Value({}, {})",
            self.typecode.repr(),
            seq::lock(&self.value).repr()
        )
    }

    /// `multiprocessing.managers.Value` with its `__dict__` as state (spec
    /// 7.5, captured).
    fn get_value(&self) -> Result<Value, String> {
        let state = Dict::from_pairs([
            (Value::from("_typecode"), self.typecode.clone()),
            (Value::from("_value"), seq::lock(&self.value).clone()),
        ])
        .map_err(|e| e.to_string())?;
        Ok(Value::Object(Box::new(Object::new_obj(
            Value::global("multiprocessing.managers", "Value"),
            vec![],
            Some(Value::Dict(Box::new(state))),
        ))))
    }

    fn refs(&self, out: &mut Vec<String>) {
        proxyref::collect_ids(&self.typecode, out);
        proxyref::collect_ids(&seq::lock(&self.value), out);
    }

    fn mem_bytes(&self) -> Option<usize> {
        Some(seq::lock(&self.value).mem_bytes())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::seq::testing::{call, call_kw, raised};
    use crate::pyexc::ExcKind::TypeError;
    use crate::store::Store;

    #[test]
    fn the_captured_session() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        // v = m.Value('i', 1); v.get(); v.set(2); v.value = 'not an int'
        let v = create(&ctx, Args::new(vec!["i".into(), Value::Int(1)])).unwrap();
        let v = v.as_ref();
        assert_eq!(call(v, &store, "get", vec![]).unwrap(), Value::Int(1));
        call(v, &store, "set", vec![Value::Int(2)]).unwrap();
        assert_eq!(call(v, &store, "get", vec![]).unwrap(), Value::Int(2));
        call(v, &store, "set", vec!["not an int".into()]).unwrap();
        assert_eq!(v.repr(), "Value('i', 'not an int')");
        let got = v.get_value().unwrap();
        let o = got
            .as_object_of("multiprocessing.managers", "Value")
            .unwrap();
        let want = Dict::from_pairs([
            (Value::from("_typecode"), Value::from("i")),
            (Value::from("_value"), Value::from("not an int")),
        ])
        .unwrap();
        assert_eq!(o.state, Some(Value::Dict(Box::new(want))));
        call_kw(v, &store, "set", vec![], vec![("value", Value::Int(3))]).unwrap();
        assert_eq!(call(v, &store, "get", vec![]).unwrap(), Value::Int(3));
    }

    #[test]
    fn argument_errors_are_pythons() {
        let store = Store::new(10);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let e = create(&ctx, Args::new(vec!["i".into()])).err().unwrap();
        assert_eq!(
            e.message(),
            "Value.__init__() missing 1 required positional argument: 'value'"
        );
        let lock = Args {
            pos: vec!["d".into(), Value::Float(0.5)],
            kw: vec![("lock".into(), Value::Bool(false))],
        };
        let v = create(&ctx, lock).unwrap();
        assert_eq!(v.repr(), "Value('d', 0.5)");
        assert_eq!(
            raised(v.as_ref(), &store, "get", vec![Value::Int(1)]),
            (
                TypeError,
                "Value.get() takes 1 positional argument but 2 were given".to_string()
            )
        );
        assert_eq!(
            raised(v.as_ref(), &store, "set", vec![]),
            (
                TypeError,
                "Value.set() missing 1 required positional argument: 'value'".to_string()
            )
        );
    }
}
