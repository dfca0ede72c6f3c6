//! [`AcquirerProxy`]: shared `Lock`, `RLock`, `Semaphore` and
//! `BoundedSemaphore` (docs/protocol.md 9.6), with RAII guards, and their `Manager`
//! constructors.
//!
//! Ownership of an `RLock` (and of a `Condition`'s lock) belongs to the
//! serving connection that acquired it, as CPython ties it to the server
//! thread of one client thread. A pool shares connections between tasks,
//! so an acquire checks out a connection of its own and the guard keeps
//! it: the release (and a condition's `wait`/`notify`) travels on the same
//! connection, and no other call uses it meanwhile.
//!
//! Dropping a guard releases in the background on the client's I/O
//! runtime; `guard.release().await` releases now and reports errors. The
//! blocking facade releases synchronously on drop.

use super::{bool_out, secs, typed_proxy};
use crate::conn::Conn;
use crate::error::Result;
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use std::time::Duration;

/// A shared lock or semaphore (`Lock`, `RLock`, `Semaphore`,
/// `BoundedSemaphore`): CPython's `AcquirerProxy`.
pub struct AcquirerProxy {
    raw: RawProxy,
}

typed_proxy!(AcquirerProxy, Some("AcquirerProxy"));

impl Manager {
    /// `manager.Lock()`.
    pub async fn lock(&self) -> Result<AcquirerProxy> {
        self.create("Lock", vec![], Dict::new()).await
    }

    /// `manager.RLock()`: re-entrant per connection, released only by its
    /// owner.
    pub async fn rlock(&self) -> Result<AcquirerProxy> {
        self.create("RLock", vec![], Dict::new()).await
    }

    /// `manager.Semaphore(value)`.
    pub async fn semaphore(&self, value: usize) -> Result<AcquirerProxy> {
        self.create("Semaphore", vec![Value::Int(value as i64)], Dict::new())
            .await
    }

    /// `manager.BoundedSemaphore(value)`: over-releasing is a `ValueError`.
    pub async fn bounded_semaphore(&self, value: usize) -> Result<AcquirerProxy> {
        self.create(
            "BoundedSemaphore",
            vec![Value::Int(value as i64)],
            Dict::new(),
        )
        .await
    }
}

impl AcquirerProxy {
    /// `acquire()`: waits for the lock; the guard releases it.
    pub async fn acquire(&self) -> Result<AcquireGuard> {
        let held = Held::acquire(&self.raw, vec![Value::Bool(true)]).await?;
        // A blocking acquire without timeout only returns once acquired.
        held.map(AcquireGuard)
            .ok_or_else(|| crate::error::Error::protocol("acquire(True) returned False"))
    }

    /// `acquire(False)`: `None` when the lock is taken.
    pub async fn try_acquire(&self) -> Result<Option<AcquireGuard>> {
        Ok(Held::acquire(&self.raw, vec![Value::Bool(false)])
            .await?
            .map(AcquireGuard))
    }

    /// `acquire(True, timeout)`: `None` when still taken after `timeout`.
    pub async fn acquire_timeout(&self, timeout: Duration) -> Result<Option<AcquireGuard>> {
        Ok(
            Held::acquire(&self.raw, vec![Value::Bool(true), secs(timeout)])
                .await?
                .map(AcquireGuard),
        )
    }

    /// `release()` on any connection, for a `Lock` or semaphore acquired
    /// elsewhere (another process, or a guard that was
    /// [`forget`](AcquireGuard::forget)-ten). `RuntimeError` for an
    /// unlocked `Lock` or an `RLock` this connection does not own.
    pub async fn release(&self) -> Result<()> {
        self.raw
            .call("release", vec![], Dict::new())
            .await
            .map(drop)
    }

    /// `locked()`: whether anyone holds it. Served by mpcluster for every
    /// kind and by CPython 3.14+ servers for locks only (others answer
    /// `RemoteError`).
    pub async fn locked(&self) -> Result<bool> {
        bool_out(self.raw.call("locked", vec![], Dict::new()).await?)
    }
}

/// A held lock or semaphore; released on drop.
#[derive(Debug)]
pub struct AcquireGuard(Held);

impl AcquireGuard {
    /// Releases now, on the connection that acquired.
    pub async fn release(self) -> Result<()> {
        self.0.release().await
    }

    /// Keeps the lock acquired and gives up the guard (a semaphore handed
    /// to someone else to release). The serving connection goes back to
    /// the pool; for an `RLock` the lock stays owned by that connection.
    pub fn forget(self) {
        self.0.forget();
    }

    pub(crate) fn raw(&self) -> &RawProxy {
        self.0.raw()
    }
}

/// A lock held on a pinned serving connection; shared by the acquirer and
/// condition guards.
#[derive(Debug)]
pub(crate) struct Held {
    raw: RawProxy,
    /// `None` once released, forgotten, or lost with its connection.
    conn: Option<Conn>,
}

impl Held {
    /// `acquire(*args)` on a connection of its own; `None` (and the
    /// connection back in the pool) when not acquired.
    pub async fn acquire(raw: &RawProxy, args: Vec<Value>) -> Result<Option<Held>> {
        let mut conn = Some(raw.checkout().await?);
        let acquired = bool_out(raw.call_on(&mut conn, "acquire", args).await?)?;
        match (acquired, conn) {
            (true, conn) => Ok(Some(Held {
                raw: raw.clone(),
                conn,
            })),
            (false, Some(c)) => {
                raw.checkin(c);
                Ok(None)
            }
            (false, None) => Ok(None),
        }
    }

    /// A call on the owning connection.
    pub async fn call(&mut self, method: &'static str, args: Vec<Value>) -> Result<Value> {
        self.raw.call_on(&mut self.conn, method, args).await
    }

    pub async fn release(mut self) -> Result<()> {
        let r = self.raw.call_on(&mut self.conn, "release", vec![]).await;
        if let Some(c) = self.conn.take() {
            self.raw.checkin(c);
        }
        r.map(drop)
    }

    pub fn forget(mut self) {
        if let Some(c) = self.conn.take() {
            self.raw.checkin(c);
        }
    }

    pub fn raw(&self) -> &RawProxy {
        &self.raw
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            self.raw.detach_on(c, "release");
        }
    }
}
