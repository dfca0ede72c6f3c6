//! [`BarrierProxy`]: a shared `threading.Barrier` (docs/protocol.md 9.9), and
//! `Manager::barrier`.
//!
//! A broken or aborted barrier, or a timed-out wait (which breaks it for
//! everybody), is the remote `threading.BrokenBarrierError`. Properties go
//! through `__getattribute__`, as CPython's `BarrierProxy` reads them.

use super::{bool_out, secs, typed_proxy, usize_out};
use crate::error::Result;
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use std::time::Duration;

/// A shared barrier for a fixed number of parties.
pub struct BarrierProxy {
    raw: RawProxy,
}

typed_proxy!(BarrierProxy, Some("BarrierProxy"));

impl Manager {
    /// `manager.Barrier(parties, timeout=timeout)`: `timeout` is the
    /// default for waits that give none.
    pub async fn barrier(&self, parties: usize, timeout: Option<Duration>) -> Result<BarrierProxy> {
        let mut args = vec![Value::Int(parties as i64)];
        if let Some(t) = timeout {
            // Barrier(parties, action=None, timeout=t)
            args.extend([Value::None, secs(t)]);
        }
        self.create("Barrier", args, Dict::new()).await
    }
}

impl BarrierProxy {
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.raw.call(method, args, Dict::new()).await
    }

    async fn attribute(&self, name: &str) -> Result<Value> {
        self.call("__getattribute__", vec![Value::from(name)]).await
    }

    /// `wait()`: the arrival index, `0 .. parties` (the barrier's own
    /// timeout applies, if it has one).
    pub async fn wait(&self) -> Result<usize> {
        usize_out(self.call("wait", vec![Value::None]).await?)
    }

    /// `wait(timeout)`: a timeout breaks the barrier
    /// (`BrokenBarrierError`).
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<usize> {
        usize_out(self.call("wait", vec![secs(timeout)]).await?)
    }

    /// `abort()`: breaks the barrier; current and future waits fail.
    pub async fn abort(&self) -> Result<()> {
        self.call("abort", vec![]).await.map(drop)
    }

    /// `reset()`: back to the initial state; current waiters fail.
    pub async fn reset(&self) -> Result<()> {
        self.call("reset", vec![]).await.map(drop)
    }

    /// `parties`.
    pub async fn parties(&self) -> Result<usize> {
        usize_out(self.attribute("parties").await?)
    }

    /// `n_waiting`: parties currently waiting.
    pub async fn n_waiting(&self) -> Result<usize> {
        usize_out(self.attribute("n_waiting").await?)
    }

    /// `broken`.
    pub async fn broken(&self) -> Result<bool> {
        bool_out(self.attribute("broken").await?)
    }
}
