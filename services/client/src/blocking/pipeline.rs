//! The blocking [`Pipeline`]: the async [`crate::Pipeline`] with a
//! blocking `run`, for calls written ahead of their replies without an
//! async runtime.

use crate::error::Result;
use crate::Proxy;
use mpcluster_wire::{Dict, Value};

/// A batch of method calls sent together on one connection and answered
/// in order; see [`crate::Pipeline`] for the semantics (results, errors,
/// blocking methods).
///
/// ```no_run
/// # fn demo() -> mpcluster::Result<()> {
/// use mpcluster::Value;
/// let manager = mpcluster::blocking::Manager::connect("127.0.0.1:50000", b"secret")?;
/// let q = manager.queue::<i64>(0)?;
/// let mut pipe = manager.pipeline();
/// for i in 0..16 {
///     pipe.call(&q, "put", vec![Value::Int(i)]);
/// }
/// assert_eq!(pipe.run()?.len(), 16);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Pipeline(crate::Pipeline);

impl super::Manager {
    /// An empty [`Pipeline`].
    pub fn pipeline(&self) -> Pipeline {
        Pipeline(self.as_async().pipeline())
    }
}

impl Pipeline {
    /// Adds `method(*args)` on `proxy`'s object (async or blocking proxy).
    pub fn call(&mut self, proxy: &impl Proxy, method: &str, args: Vec<Value>) -> &mut Self {
        self.0.call(proxy, method, args);
        self
    }

    /// Adds `method(*args, **kwds)` on `proxy`'s object.
    pub fn call_kw(
        &mut self,
        proxy: &impl Proxy,
        method: &str,
        args: Vec<Value>,
        kwds: Dict,
    ) -> &mut Self {
        self.0.call_kw(proxy, method, args, kwds);
        self
    }

    /// Calls added since the last `run`.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No calls added since the last `run`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Blocking form of [`crate::Pipeline::run`].
    pub fn run(&mut self) -> Result<Vec<Result<Value>>> {
        self.0.run_blocking()
    }
}
