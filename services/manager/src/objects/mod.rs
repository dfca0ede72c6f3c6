//! The shared objects a manager serves, one file per kind.
//!
//! Each kind implements [`SharedObject`]: its state, the methods it exposes
//! and their dispatch live in its own file (`list.rs`, `queue.rs`, ...), the
//! way mini-redis keeps one command per file. The registry (`registry.rs`)
//! maps typeids to kinds; the serving loop (`serve.rs`) checks exposure,
//! calls [`SharedObject::call`] and turns the outcome into a reply.
//!
//! Calls that can block (`Queue.get`, `Lock.acquire`, ...) return
//! [`Call::Wait`]: a future the connection task awaits, never a thread. The
//! connection drops that future when its client goes away, so every wait
//! must be cancel-safe: dropping it leaves the object as if the call had
//! never been made.

pub mod array;
pub mod barrier;
pub mod condition;
pub mod dict;
pub mod event;
pub mod iterator;
pub mod list;
pub mod lock;
pub mod namespace;
pub mod queue;
pub mod semaphore;
pub mod seq;
pub mod set;
pub mod value;

use crate::args::Args;
use crate::pyexc::PyException;
use crate::store::{ConnId, Entry, Store};
use mpcluster_wire::Value;
use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

/// What a method returns.
pub enum Ret {
    /// A value sent back by value (`#RETURN`).
    Value(Value),
    /// A new server-side object (`dict.__iter__` → an `Iterator`); the
    /// serving loop registers it under the typeid the registry's
    /// `method_to_typeid` names and answers `#PROXY`.
    Object(Arc<dyn SharedObject>),
}

impl From<Value> for Ret {
    fn from(v: Value) -> Self {
        Ret::Value(v)
    }
}

pub type CallResult = Result<Ret, PyException>;
pub type WaitFuture<'a> = Pin<Box<dyn Future<Output = CallResult> + Send + 'a>>;

/// The outcome of dispatching one call.
pub enum Call<'a> {
    /// Finished without waiting.
    Done(CallResult),
    /// Must wait (for an item, a lock, a notification). Cancel-safe.
    Wait(WaitFuture<'a>),
}

impl<'a> Call<'a> {
    pub fn value(v: Value) -> Call<'a> {
        Call::Done(Ok(Ret::Value(v)))
    }

    pub fn none() -> Call<'a> {
        Call::value(Value::None)
    }

    pub fn err(e: PyException) -> Call<'a> {
        Call::Done(Err(e))
    }

    pub fn wait(f: impl Future<Output = CallResult> + Send + 'a) -> Call<'a> {
        Call::Wait(Box::pin(f))
    }
}

impl From<Result<Value, PyException>> for Call<'_> {
    fn from(r: Result<Value, PyException>) -> Self {
        Call::Done(r.map(Ret::Value))
    }
}

/// Who is calling, and the server state a method may need.
pub struct CallCtx<'a> {
    /// The serving connection: the owner of an `RLock` it acquires (CPython:
    /// one server thread per client thread, docs/protocol.md 9.6).
    pub conn: ConnId,
    pub store: &'a Store,
}

impl CallCtx<'_> {
    /// The object a proxy passed as an argument names, when it lives here
    /// (a `RebuildProxy(..., Token, ...)` value whose id is ours).
    pub fn resolve_proxy(&self, v: &Value) -> Option<Arc<Entry>> {
        self.store.resolve_proxy(v)
    }
}

/// One kind of shared object.
pub trait SharedObject: Send + Sync + 'static {
    /// The CPython class name of the referent (`list`, `Queue`, `Namespace`),
    /// used in error messages and by the admin surface.
    fn type_name(&self) -> &'static str;

    /// Calls an exposed method. The serving loop has already checked that
    /// `method` is in the object's exposed list.
    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a>;

    /// Whether the referent really has `method`. CPython looks the method
    /// up with `getattr` after the exposure check, and a missing attribute
    /// (`send` on a dict iterator) falls through to the fallback path: a
    /// `#TRACEBACK`, not an `#ERROR` (docs/protocol.md 8, `Iterator`).
    fn has_method(&self, _method: &str) -> bool {
        true
    }

    /// `repr(referent)`, the `__repr__`/`__str__` fallbacks and `debug_info`.
    fn repr(&self) -> String;

    /// `repr(referent)` for kinds whose CPython repr shows the object's
    /// address (`<queue.Queue object at 0x7f..>`): `addr` stands in for it
    /// (`0x` and the object id). Defaults to [`repr`](Self::repr).
    fn repr_at(&self, _addr: &str) -> String {
        self.repr()
    }

    /// `#GETVALUE`: the referent by value, or why it cannot be pickled (the
    /// `#UNSERIALIZABLE` text, e.g. `cannot pickle '_thread.lock' object`).
    fn get_value(&self) -> Result<Value, String>;

    /// Ids of server objects this one keeps alive (proxies stored in its
    /// values, the lock of a `Condition`); used by the store's sweep.
    fn refs(&self, _out: &mut Vec<String>) {}

    /// Number of items, where that means something (admin previews).
    fn len_hint(&self) -> Option<usize> {
        None
    }

    /// Bytes of the data it holds (`Value::mem_bytes`), for kinds that
    /// hold data; shown per object on the admin surface. A walk over the
    /// contents, so it is computed on request, never on the data path.
    fn mem_bytes(&self) -> Option<usize> {
        None
    }

    /// For kinds that need to find each other (a `Condition` over a `Lock`).
    fn as_any(&self) -> &dyn Any;
}

/// A timeout argument as Python's threading and queue code read it: `None`
/// is "no timeout", numbers (ints, floats, bools) are seconds.
pub fn timeout_secs(v: Option<Value>) -> Result<Option<f64>, PyException> {
    match v {
        None | Some(Value::None) => Ok(None),
        Some(Value::Float(f)) => Ok(Some(f)),
        Some(Value::Int(i)) => Ok(Some(i as f64)),
        Some(Value::Bool(b)) => Ok(Some(b as i64 as f64)),
        Some(other) => Err(PyException::type_error(format!(
            "'{}' object cannot be interpreted as a number of seconds",
            other.type_name()
        ))),
    }
}

/// A non-negative number of seconds as a `Duration`, saturating at a
/// century (Python accepts `timeout=1e300`; tokio's timer does not).
pub fn duration(secs: f64) -> Duration {
    const CAP: f64 = 100.0 * 365.0 * 24.0 * 3600.0;
    if secs.is_nan() || secs <= 0.0 {
        Duration::ZERO
    } else {
        Duration::from_secs_f64(secs.min(CAP))
    }
}
