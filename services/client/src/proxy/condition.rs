//! [`ConditionProxy`]: a shared `threading.Condition` (docs/protocol.md 9.7), and
//! `Manager::condition`.
//!
//! `wait` and `notify` need the condition's lock, owned by the serving
//! connection that acquired it; so they are methods of the
//! [`ConditionGuard`] that `acquire` returns, which keeps that connection
//! (see `acquirer.rs`). `wait_for` evaluates its predicate in the client
//! and sends `wait(remaining)` in a loop, as CPython's
//! `Condition.wait_for` does inside the client process.

use super::acquirer::{AcquirerProxy, Held};
use super::{bool_out, secs, typed_proxy, Proxy};
use crate::error::{Error, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use std::future::Future;
use std::time::{Duration, Instant};

/// A shared condition variable.
pub struct ConditionProxy {
    raw: RawProxy,
}

typed_proxy!(ConditionProxy, Some("ConditionProxy"));

impl Manager {
    /// `manager.Condition(lock)`: over a shared `Lock`/`RLock` of this
    /// manager, or a fresh `RLock` when `None`.
    pub async fn condition(&self, lock: Option<&AcquirerProxy>) -> Result<ConditionProxy> {
        let args = match lock {
            Some(l) => vec![l.to_py_value()],
            None => vec![],
        };
        self.create("Condition", args, Dict::new()).await
    }
}

impl ConditionProxy {
    /// Acquires the condition's lock; `wait`/`notify` go through the guard.
    pub async fn acquire(&self) -> Result<ConditionGuard> {
        Held::acquire(&self.raw, vec![Value::Bool(true)])
            .await?
            .map(ConditionGuard)
            .ok_or_else(|| Error::protocol("acquire(True) returned False"))
    }

    /// `acquire(False)`: `None` when the lock is taken.
    pub async fn try_acquire(&self) -> Result<Option<ConditionGuard>> {
        Ok(Held::acquire(&self.raw, vec![Value::Bool(false)])
            .await?
            .map(ConditionGuard))
    }

    /// `acquire(True, timeout)`: `None` when still taken after `timeout`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<ConditionGuard>> {
        Ok(
            Held::acquire(&self.raw, vec![Value::Bool(true), secs(timeout)])
                .await?
                .map(ConditionGuard),
        )
    }
}

/// The held lock of a [`ConditionProxy`]; released on drop.
#[derive(Debug)]
pub struct ConditionGuard(Held);

impl ConditionGuard {
    /// `wait()`: releases the lock until notified, then holds it again.
    pub async fn wait(&mut self) -> Result<()> {
        self.0.call("wait", vec![Value::None]).await.map(drop)
    }

    /// `wait(timeout)`: `false` when the timeout passed without a notify.
    pub async fn wait_timeout(&mut self, timeout: Duration) -> Result<bool> {
        bool_out(self.0.call("wait", vec![secs(timeout)]).await?)
    }

    /// `wait_for(predicate, timeout)`: waits until `predicate` holds (it is
    /// checked first, and after each wakeup) or the timeout passes; returns
    /// the predicate's last value. The predicate typically reads other
    /// shared objects, over other connections.
    pub async fn wait_for<F, Fut>(
        &mut self,
        mut predicate: F,
        timeout: Option<Duration>,
    ) -> Result<bool>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            if predicate().await? {
                return Ok(true);
            }
            match end {
                None => self.wait().await?,
                Some(end) => {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    self.wait_timeout(left).await?;
                }
            }
        }
    }

    /// Waits while `condition` holds (`std::sync::Condvar::wait_while`'s
    /// sense: the negation of [`wait_for`](Self::wait_for)); `false` on
    /// timeout.
    pub async fn wait_while<F, Fut>(
        &mut self,
        mut condition: F,
        timeout: Option<Duration>,
    ) -> Result<bool>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<bool>>,
    {
        let mut predicate = || {
            let fut = condition();
            async move { fut.await.map(|c| !c) }
        };
        self.wait_for(&mut predicate, timeout).await
    }

    /// `notify(n)`: wakes up to `n` waiters.
    pub async fn notify(&mut self, n: usize) -> Result<()> {
        self.0
            .call("notify", vec![Value::Int(n as i64)])
            .await
            .map(drop)
    }

    /// `notify_all()`.
    pub async fn notify_all(&mut self) -> Result<()> {
        self.0.call("notify_all", vec![]).await.map(drop)
    }

    /// Releases now, on the connection that acquired.
    pub async fn release(self) -> Result<()> {
        self.0.release().await
    }

    pub(crate) fn raw(&self) -> &RawProxy {
        self.0.raw()
    }

    /// The condition this guard holds.
    pub fn condition(&self) -> ConditionProxy {
        ConditionProxy::from_raw(self.0.raw().clone())
    }
}
