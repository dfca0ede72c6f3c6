//! [`Pipeline`]: several method calls written ahead of their replies on
//! one serving connection, and `Manager::pipeline`.
//!
//! A serving connection answers its requests strictly in order (CPython's
//! `Server.serve_client` reads, calls and replies in a loop; ours keeps
//! requests that arrive early in a queue, docs/protocol.md 5.5), so a client may write
//! N requests at once and then read N replies: one round trip instead of
//! N. Nothing in the protocol marks a pipelined request, so this works
//! against CPython's own server as well as ours.
//!
//! The flow: [`Pipeline::call`] pickles and frames each request into one
//! buffer at once (so values are borrowed only for the call), and
//! [`Pipeline::run`] checks a connection out of the pool
//! (`crate::core::Core::call_many`), writes the buffer while it reads the
//! replies, and returns one result per call.
//!
//! What a pipeline is not: a transaction. Other connections' calls may run
//! between two of its calls, and a failing call does not stop the ones
//! after it (each has its own result).

use crate::error::{Error, Result};
use crate::manager::{Manager, Shared};
use crate::proxy::Proxy;
use crate::raw::RawProxy;
use crate::token::Address;
use mpcluster_wire::{Dict, Value};
use std::fmt;
use std::sync::Arc;

/// A batch of method calls on one manager, sent together and answered in
/// order.
///
/// ```no_run
/// # async fn demo() -> mpcluster::Result<()> {
/// use mpcluster::{to_value, Value};
/// let manager = mpcluster::Manager::connect("127.0.0.1:50000", b"secret").await?;
/// let d = manager.dict::<String, i64>(&[]).await?;
/// let mut pipe = manager.pipeline();
/// for i in 0..16_i64 {
///     pipe.call(&d, "__setitem__", vec![to_value(&format!("k{i}"))?, Value::Int(i)]);
/// }
/// pipe.call(&d, "__getitem__", vec![Value::from("k3")]);
/// pipe.call(&d, "__getitem__", vec![Value::from("missing")]);
/// let results = pipe.run().await?; // one round trip
/// assert_eq!(results[16].as_ref().ok(), Some(&Value::Int(3)));
/// assert!(results[17].as_ref().unwrap_err().is_remote(mpcluster::exc::KEY_ERROR));
/// # Ok(()) }
/// ```
///
/// # Results and errors
///
/// [`Pipeline::run`] answers `Ok` with one `Result` per call, in the order
/// the calls were added: a method that raised (`KeyError`, `queue.Empty`)
/// is an [`Error::Remote`] in its own slot and the calls after it still
/// ran. The outer `Err` means the exchange itself failed (the connection
/// broke or a reply frame was malformed): then an unknown prefix of the
/// calls ran, as with a single call that fails mid-way.
///
/// Methods whose result the server turns into a new shared object
/// (`dict.__iter__`, answered `#PROXY`) are refused in their slot and the
/// object is released; use [`RawProxy::call_proxy`] for those.
///
/// # Blocking methods
///
/// A pipeline holds one connection until its last reply. A call that
/// waits on the server (`Queue.get`, `Lock.acquire`, `Event.wait`) holds
/// every call behind it until it returns: the server answers in order, as
/// CPython's does, so a `get` on an empty queue followed by the `put` that
/// would feed it, in the same pipeline, waits for the `get`'s timeout (or
/// forever without one). Other connections are not affected. Lock
/// ownership (`RLock`, `Condition`) belongs to the pipeline's connection,
/// which returns to the pool afterwards: acquire and release within one
/// pipeline, or use the proxy's guards.
///
/// All calls must go to one manager address (proxies of objects on other
/// managers of a cluster need a pipeline each); a mismatch is reported by
/// `run` as [`Error::InvalidArgument`] and nothing is sent.
pub struct Pipeline {
    shared: Arc<Shared>,
    /// The address of the first call's object; every call must share it.
    address: Option<Address>,
    /// The framed requests, back to back.
    frames: Vec<u8>,
    count: usize,
    /// The proxies called, so their objects outlive the batch even if the
    /// caller drops them before `run`.
    keep: Vec<RawProxy>,
    /// The first call that could not be added, reported by `run`.
    error: Option<Error>,
}

impl fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("address", &self.address)
            .field("calls", &self.count)
            .finish_non_exhaustive()
    }
}

impl Manager {
    /// An empty [`Pipeline`] of calls to send together.
    pub fn pipeline(&self) -> Pipeline {
        Pipeline {
            shared: self.shared.clone(),
            address: None,
            frames: Vec::new(),
            count: 0,
            keep: Vec::new(),
            error: None,
        }
    }
}

impl Pipeline {
    /// Adds `method(*args)` on `proxy`'s object.
    pub fn call(&mut self, proxy: &impl Proxy, method: &str, args: Vec<Value>) -> &mut Self {
        self.call_kw(proxy, method, args, Dict::new())
    }

    /// Adds `method(*args, **kwds)` on `proxy`'s object.
    pub fn call_kw(
        &mut self,
        proxy: &impl Proxy,
        method: &str,
        args: Vec<Value>,
        kwds: Dict,
    ) -> &mut Self {
        let raw = proxy.raw();
        let token = raw.token();
        match &self.address {
            None => self.address = Some(token.address.clone()),
            Some(a) if *a == token.address => {}
            Some(a) => {
                if self.error.is_none() {
                    self.error = Some(Error::InvalidArgument(format!(
                        "a pipeline to {a} cannot call {token}, which lives on another manager"
                    )));
                }
                return self;
            }
        }
        crate::conn::append_frame(&mut self.frames, Some(&token.id), method, &args, &kwds);
        self.count += 1;
        self.keep.push(raw.clone());
        self
    }

    /// Calls added since the last `run`.
    pub fn len(&self) -> usize {
        self.count
    }

    /// No calls added since the last `run`.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Sends every call added since the last `run` and reads their
    /// replies, one result per call in order (see the type's docs for the
    /// two levels of errors). The pipeline is empty afterwards and can be
    /// filled again. An empty pipeline answers at once without a
    /// connection.
    pub async fn run(&mut self) -> Result<Vec<Result<Value>>> {
        // The next batch of a refilled pipeline is likely the same size:
        // start it with room for that, not with regrowth from empty.
        let room = self.frames.len();
        let frames = std::mem::replace(&mut self.frames, Vec::with_capacity(room));
        let count = std::mem::replace(&mut self.count, 0);
        let keep = std::mem::replace(&mut self.keep, Vec::with_capacity(count));
        let address = self.address.take();
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let Some(address) = address else {
            return Ok(Vec::new());
        };
        let core = self.shared.core.clone();
        let out = self
            .shared
            .io
            .run(async move { core.call_many(&address, frames, count).await })
            .await?;
        drop(keep);
        out
    }

    /// [`Pipeline::run`], blocking the current thread (the blocking
    /// facade).
    pub(crate) fn run_blocking(&mut self) -> Result<Vec<Result<Value>>> {
        let shared = self.shared.clone();
        shared.io.block_on(self.run())?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_empty_pipeline_answers_without_a_connection() {
        // Nobody listens on port 1: any connection attempt would fail.
        let m = Manager::builder("127.0.0.1:1", b"k").build().unwrap();
        let mut pipe = m.pipeline();
        assert!(pipe.is_empty());
        assert!(pipe.run().await.unwrap().is_empty());
        assert_eq!(
            format!("{pipe:?}"),
            "Pipeline { address: None, calls: 0, .. }"
        );
    }
}
