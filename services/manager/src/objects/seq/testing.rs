//! Helpers for the data kinds' unit tests: calling a method that answers at
//! once, and building common argument values.

use crate::args::Args;
use crate::objects::{Call, CallCtx, Ret, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use crate::store::Store;
use mpcluster_wire::Value;

/// Calls a method that must answer at once, with keyword arguments.
pub fn call_kw(
    obj: &dyn SharedObject,
    store: &Store,
    method: &str,
    pos: Vec<Value>,
    kw: Vec<(&str, Value)>,
) -> Result<Ret, PyException> {
    let ctx = CallCtx { conn: 1, store };
    let args = Args {
        pos,
        kw: kw.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    let r = match obj.call(&ctx, method, args) {
        Call::Done(r) => r,
        Call::Wait(_) => panic!("{method} should not wait"),
    };
    r
}

/// Calls a method that returns a value.
pub fn call(
    obj: &dyn SharedObject,
    store: &Store,
    method: &str,
    pos: Vec<Value>,
) -> Result<Value, PyException> {
    match call_kw(obj, store, method, pos, vec![])? {
        Ret::Value(v) => Ok(v),
        Ret::Object(_) => panic!("{method} returned an object"),
    }
}

/// The exception a call raised, as `(kind, message)`.
pub fn raised(
    obj: &dyn SharedObject,
    store: &Store,
    method: &str,
    pos: Vec<Value>,
) -> (ExcKind, String) {
    let e = call(obj, store, method, pos).expect_err("the call should fail");
    (e.kind, e.message())
}

pub fn ints(xs: &[i64]) -> Value {
    Value::List(xs.iter().map(|&i| Value::Int(i)).collect())
}

pub fn slice(a: Value, b: Value, c: Value) -> Value {
    crate::objects::seq::builtin_call("slice", vec![a, b, c])
}
