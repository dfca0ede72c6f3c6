//! Blocking forms of the queue and synchronisation proxies. Guards release
//! synchronously when dropped (outside async runtimes; see the module
//! documentation of [`crate::blocking`]).

use super::{block, blocking_methods, blocking_proxy};
use crate::error::Result;
use crate::Proxy;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Blocking [`crate::QueueProxy`].
pub struct QueueProxy<T>(crate::QueueProxy<T>);
blocking_proxy!(QueueProxy<T>, crate::QueueProxy<T>);

impl<T: Serialize> QueueProxy<T> {
    blocking_methods! { "crate::QueueProxy";
        fn put(&self, item: &T) -> ();
        fn try_put(&self, item: &T) -> bool;
        fn put_timeout(&self, item: &T, timeout: Duration) -> bool;
        fn put_nowait(&self, item: &T) -> ();
    }
}

impl<T: DeserializeOwned> QueueProxy<T> {
    blocking_methods! { "crate::QueueProxy";
        fn get(&self) -> T;
        fn try_get(&self) -> Option<T>;
        fn get_timeout(&self, timeout: Duration) -> Option<T>;
        fn get_nowait(&self) -> T;
    }
}

impl<T> QueueProxy<T> {
    blocking_methods! { "crate::QueueProxy";
        fn len(&self) -> usize;
        fn is_empty(&self) -> bool;
        fn is_full(&self) -> bool;
        fn task_done(&self) -> ();
        fn join(&self) -> ();
    }
}

/// Blocking [`crate::AcquirerProxy`] (`Lock`, `RLock`, semaphores).
pub struct AcquirerProxy(crate::AcquirerProxy);
blocking_proxy!(AcquirerProxy, crate::AcquirerProxy);

impl AcquirerProxy {
    /// Blocking form of [`crate::AcquirerProxy::acquire`].
    pub fn acquire(&self) -> Result<AcquireGuard> {
        block(self.0.raw(), self.0.acquire()).map(AcquireGuard::new)
    }

    /// Blocking form of [`crate::AcquirerProxy::try_acquire`].
    pub fn try_acquire(&self) -> Result<Option<AcquireGuard>> {
        Ok(block(self.0.raw(), self.0.try_acquire())?.map(AcquireGuard::new))
    }

    /// Blocking form of [`crate::AcquirerProxy::acquire_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<AcquireGuard>> {
        Ok(block(self.0.raw(), self.0.acquire_timeout(timeout))?.map(AcquireGuard::new))
    }

    blocking_methods! { "crate::AcquirerProxy";
        fn release(&self) -> ();
        fn locked(&self) -> bool;
    }
}

/// A held lock or semaphore; released (synchronously) when dropped.
#[derive(Debug)]
pub struct AcquireGuard {
    guard: Option<crate::AcquireGuard>,
    raw: crate::RawProxy,
}

impl AcquireGuard {
    fn new(guard: crate::AcquireGuard) -> AcquireGuard {
        let raw = guard.raw().clone();
        AcquireGuard {
            guard: Some(guard),
            raw,
        }
    }

    /// Releases now and reports failures.
    pub fn release(mut self) -> Result<()> {
        match self.guard.take() {
            Some(g) => block(&self.raw, g.release()),
            None => Ok(()),
        }
    }

    /// Keeps the lock acquired and gives up the guard.
    pub fn forget(mut self) {
        if let Some(g) = self.guard.take() {
            g.forget();
        }
    }
}

impl Drop for AcquireGuard {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            release_now_or_later(&self.raw, g.release());
        }
    }
}

/// Runs a guard's release on this thread when it may block; inside an
/// async runtime the future is dropped instead, which leaves the release
/// to the async guard's background path.
fn release_now_or_later(
    raw: &crate::RawProxy,
    release: impl std::future::Future<Output = Result<()>>,
) {
    if let Ok(Err(e)) = raw.block_on(release) {
        tracing::warn!(token = %raw.token(), error = %e, "release from a dropped guard failed");
    }
}

/// Blocking [`crate::ConditionProxy`].
pub struct ConditionProxy(crate::ConditionProxy);
blocking_proxy!(ConditionProxy, crate::ConditionProxy);

impl ConditionProxy {
    /// Blocking form of [`crate::ConditionProxy::acquire`].
    pub fn acquire(&self) -> Result<ConditionGuard> {
        block(self.0.raw(), self.0.acquire()).map(ConditionGuard::new)
    }

    /// Blocking form of [`crate::ConditionProxy::try_acquire`].
    pub fn try_acquire(&self) -> Result<Option<ConditionGuard>> {
        Ok(block(self.0.raw(), self.0.try_acquire())?.map(ConditionGuard::new))
    }

    /// Blocking form of [`crate::ConditionProxy::acquire_timeout`].
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<Option<ConditionGuard>> {
        Ok(block(self.0.raw(), self.0.acquire_timeout(timeout))?.map(ConditionGuard::new))
    }
}

/// The held lock of a [`ConditionProxy`]; released when dropped.
#[derive(Debug)]
pub struct ConditionGuard {
    guard: Option<crate::ConditionGuard>,
    raw: crate::RawProxy,
}

impl ConditionGuard {
    fn new(guard: crate::ConditionGuard) -> ConditionGuard {
        let raw = guard.raw().clone();
        ConditionGuard {
            guard: Some(guard),
            raw,
        }
    }

    /// The proxy and the live async guard (only `release` empties the
    /// slot, and it consumes `self`).
    fn parts(&mut self) -> Result<(&crate::RawProxy, &mut crate::ConditionGuard)> {
        match self.guard.as_mut() {
            Some(g) => Ok((&self.raw, g)),
            None => Err(crate::Error::protocol("condition guard already released")),
        }
    }

    /// Blocking form of [`crate::ConditionGuard::wait`].
    pub fn wait(&mut self) -> Result<()> {
        let (raw, g) = self.parts()?;
        block(raw, g.wait())
    }

    /// Blocking form of [`crate::ConditionGuard::wait_timeout`].
    pub fn wait_timeout(&mut self, timeout: Duration) -> Result<bool> {
        let (raw, g) = self.parts()?;
        block(raw, g.wait_timeout(timeout))
    }

    /// Waits until `predicate` holds or the timeout passes, as
    /// [`crate::ConditionGuard::wait_for`]; the predicate runs on this
    /// thread and may use other blocking proxies.
    pub fn wait_for<F>(&mut self, mut predicate: F, timeout: Option<Duration>) -> Result<bool>
    where
        F: FnMut() -> Result<bool>,
    {
        let end = timeout.map(|t| Instant::now() + t);
        loop {
            if predicate()? {
                return Ok(true);
            }
            match end {
                None => self.wait()?,
                Some(end) => {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(false);
                    }
                    self.wait_timeout(left)?;
                }
            }
        }
    }

    /// Waits while `condition` holds (`Condvar::wait_while`'s sense).
    pub fn wait_while<F>(&mut self, mut condition: F, timeout: Option<Duration>) -> Result<bool>
    where
        F: FnMut() -> Result<bool>,
    {
        self.wait_for(|| condition().map(|c| !c), timeout)
    }

    /// Blocking form of [`crate::ConditionGuard::notify`].
    pub fn notify(&mut self, n: usize) -> Result<()> {
        let (raw, g) = self.parts()?;
        block(raw, g.notify(n))
    }

    /// Blocking form of [`crate::ConditionGuard::notify_all`].
    pub fn notify_all(&mut self) -> Result<()> {
        let (raw, g) = self.parts()?;
        block(raw, g.notify_all())
    }

    /// Releases now and reports failures.
    pub fn release(mut self) -> Result<()> {
        match self.guard.take() {
            Some(g) => block(&self.raw, g.release()),
            None => Ok(()),
        }
    }
}

impl Drop for ConditionGuard {
    fn drop(&mut self) {
        if let Some(g) = self.guard.take() {
            release_now_or_later(&self.raw, g.release());
        }
    }
}

/// Blocking [`crate::EventProxy`].
pub struct EventProxy(crate::EventProxy);
blocking_proxy!(EventProxy, crate::EventProxy);

impl EventProxy {
    blocking_methods! { "crate::EventProxy";
        fn is_set(&self) -> bool;
        fn set(&self) -> ();
        fn clear(&self) -> ();
        fn wait(&self) -> ();
        fn wait_timeout(&self, timeout: Duration) -> bool;
    }
}

/// Blocking [`crate::BarrierProxy`].
pub struct BarrierProxy(crate::BarrierProxy);
blocking_proxy!(BarrierProxy, crate::BarrierProxy);

impl BarrierProxy {
    blocking_methods! { "crate::BarrierProxy";
        fn wait(&self) -> usize;
        fn wait_timeout(&self, timeout: Duration) -> usize;
        fn abort(&self) -> ();
        fn reset(&self) -> ();
        fn parties(&self) -> usize;
        fn n_waiting(&self) -> usize;
        fn broken(&self) -> bool;
    }
}
