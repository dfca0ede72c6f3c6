//! The client's own I/O runtime: every socket of a [`crate::Manager`] lives
//! on it, every request runs on it.
//!
//! Why a runtime of our own instead of the caller's:
//!
//! * A proxy dropped anywhere (a sync function, a thread without tokio,
//!   during the caller's runtime shutdown) still releases its reference:
//!   `Drop` hands the `decref` to this runtime, and dropping the last
//!   handle of a manager waits (bounded by the release timeout) until every
//!   queued release has reached the server. That is our equivalent of
//!   CPython's exit hook, which runs proxy finalizers at interpreter exit.
//! * Pooled connections stay usable whatever runtime (or none: the
//!   blocking facade) the caller uses; a tokio socket is bound to the
//!   runtime that created it.
//! * The async API works under any executor, since callers only await
//!   join handles.
//!
//! Cancellation: dropping the future of a call aborts its task, which drops
//! the connection it was using (its request/reply state is unknown). The
//! manager then sees the connection close, as with a CPython client thread
//! that dies mid-call.

use crate::error::{Error, Result};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Background jobs (releases) not finished yet.
#[derive(Default)]
struct Pending {
    count: AtomicUsize,
    idle: Notify,
}

impl Pending {
    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Register before reading the count, so a job finishing in
            // between still wakes us.
            notified.as_mut().enable();
            if self.count.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Where a manager's sockets live and its requests run: a one-worker
/// multi-thread tokio runtime owned by the manager handle, or the caller's
/// runtime (`ManagerBuilder::runtime`).
pub(crate) struct IoRuntime {
    /// The owned runtime; `None` for a borrowed one, and while dropping.
    rt: Mutex<Option<Runtime>>,
    handle: Handle,
    /// The caller's runtime: calls made on it run in the caller's task.
    borrowed: bool,
    pending: Arc<Pending>,
    release_timeout: Duration,
}

impl IoRuntime {
    pub fn new(release_timeout: Duration) -> Result<IoRuntime> {
        // One worker thread: requests are I/O-bound and the pickle work per
        // request is small; callers of the blocking facade drive their own
        // futures on their own threads anyway.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("mpcluster-io")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let handle = rt.handle().clone();
        Ok(IoRuntime {
            rt: Mutex::new(Some(rt)),
            handle,
            borrowed: false,
            pending: Arc::default(),
            release_timeout,
        })
    }

    /// Uses the caller's runtime (which needs I/O and time enabled).
    ///
    /// Calls made from a task of a runtime then run inline in that task:
    /// no task spawned per call and no wake-up of another thread, which
    /// cost an unpipelined call a third of its client CPU (measured in
    /// `docs/performance-native.md`). Releases of dropped proxies are
    /// spawned on `handle` and the last manager handle does not wait for
    /// them: `Manager::flush` does.
    pub fn borrowed(handle: Handle) -> IoRuntime {
        IoRuntime {
            rt: Mutex::new(None),
            handle,
            borrowed: true,
            pending: Arc::default(),
            // Never waited on: the caller's runtime goes on after us.
            release_timeout: Duration::ZERO,
        }
    }

    /// Runs `fut` on the I/O runtime; the returned future resolves to its
    /// output and aborts it when dropped first.
    pub fn run<F>(&self, fut: F) -> Task<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        if self.borrowed && Handle::try_current().is_ok() {
            // A tokio socket may be polled from any runtime's task; its
            // readiness then wakes that task directly.
            return Task(Inner::Inline(Box::pin(fut)));
        }
        Task(Inner::Spawned(self.handle.spawn(fut)))
    }

    /// Runs `fut` to completion in the background (a reference release);
    /// the last manager handle waits for such jobs before it goes away.
    pub fn detach<F>(&self, fut: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let pending = self.pending.clone();
        pending.count.fetch_add(1, Ordering::AcqRel);
        self.handle.spawn(async move {
            fut.await;
            if pending.count.fetch_sub(1, Ordering::AcqRel) == 1 {
                pending.idle.notify_waiters();
            }
        });
    }

    /// Waits until every detached job has finished.
    pub fn flush(&self) -> Task<()> {
        let pending = self.pending.clone();
        self.run(async move { pending.wait_idle().await })
    }

    /// Blocks the current thread on `fut` (the blocking facade). Refused on
    /// a thread that runs an async runtime, where blocking would stall its
    /// other tasks and tokio would panic.
    pub fn block_on<F: Future>(&self, fut: F) -> Result<F::Output> {
        if Handle::try_current().is_ok() {
            return Err(Error::BlockingInAsync);
        }
        Ok(self.handle.block_on(fut))
    }
}

impl Drop for IoRuntime {
    /// Lets queued releases finish (at most `release_timeout`), then stops
    /// the runtime. Both happen on a helper thread: a runtime may not be
    /// blocked on, or dropped, from inside another runtime's context, and
    /// the last handle may well be dropped in an async function.
    ///
    /// No task running on this runtime holds an `IoRuntime` (tasks capture
    /// `Arc<Core>` and connections only), so this never runs on the
    /// runtime's own worker and the join below cannot deadlock.
    fn drop(&mut self) {
        if self.borrowed {
            // Not ours to stop or block on: queued releases go on running
            // on the caller's runtime.
            return;
        }
        let slot = Arc::new(Mutex::new(self.rt.get_mut().ok().and_then(Option::take)));
        let (pending, timeout) = (self.pending.clone(), self.release_timeout);
        let in_thread = slot.clone();
        let spawned = std::thread::Builder::new()
            .name("mpcluster-release".into())
            .spawn(move || {
                let rt = in_thread.lock().ok().and_then(|mut rt| rt.take());
                if let Some(rt) = rt {
                    rt.block_on(async {
                        let _ = tokio::time::timeout(timeout, pending.wait_idle()).await;
                    });
                }
            });
        match spawned {
            Ok(join) => {
                let _ = join.join();
            }
            Err(_) => {
                // No thread to wait on: stop without waiting, which never
                // blocks and is allowed in any context.
                if let Some(rt) = slot.lock().ok().and_then(|mut rt| rt.take()) {
                    rt.shutdown_background();
                }
            }
        }
    }
}

/// A request's work: a task on the I/O runtime, aborted when dropped
/// before completion, or the work itself run in the caller's task (and
/// dropped with it) on a borrowed runtime.
pub(crate) struct Task<T>(Inner<T>);

enum Inner<T> {
    Spawned(JoinHandle<T>),
    Inline(Pin<Box<dyn Future<Output = T> + Send>>),
}

impl<T> Future for Task<T> {
    type Output = Result<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T>> {
        let join = match &mut self.0 {
            Inner::Inline(fut) => return fut.as_mut().poll(cx).map(Ok),
            Inner::Spawned(join) => join,
        };
        match Pin::new(join).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(v)) => Poll::Ready(Ok(v)),
            Poll::Ready(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Poll::Ready(Err(_)) => Poll::Ready(Err(Error::Shutdown)),
        }
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if let Inner::Spawned(join) = &self.0 {
            join.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    #[test]
    fn detached_jobs_finish_before_the_runtime_goes_away() {
        let rt = IoRuntime::new(Duration::from_secs(5)).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        rt.detach(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            flag.store(true, Ordering::SeqCst);
        });
        drop(rt);
        assert!(done.load(Ordering::SeqCst));
    }

    #[test]
    fn dropping_a_task_aborts_it() {
        let rt = IoRuntime::new(Duration::from_secs(5)).unwrap();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let task = rt.run(async move {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let _ = tx.send(());
        });
        drop(task);
        // The aborted task drops its sender without sending.
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected)
        );
        assert_eq!(rt.block_on(rt.run(async { 7 })).unwrap().unwrap(), 7);
    }

    #[tokio::test]
    async fn a_borrowed_runtime_runs_calls_inline_and_releases_as_tasks() {
        let rt = IoRuntime::borrowed(Handle::current());
        let task = rt.run(async { 5 });
        assert!(matches!(task.0, Inner::Inline(_)));
        assert_eq!(task.await.unwrap(), 5);
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        rt.detach(async move {
            tokio::task::yield_now().await;
            flag.store(true, Ordering::SeqCst);
        });
        rt.flush().await.unwrap();
        assert!(done.load(Ordering::SeqCst));
        drop(rt);
    }

    #[test]
    fn a_borrowed_runtime_spawns_calls_made_outside_it() {
        let owner = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let rt = IoRuntime::borrowed(owner.handle().clone());
        let task = rt.run(async { 9 });
        assert!(matches!(task.0, Inner::Spawned(_)));
        assert_eq!(rt.block_on(task).unwrap().unwrap(), 9);
    }

    #[tokio::test]
    async fn blocking_inside_a_runtime_is_refused_and_drop_is_safe_there() {
        let rt = IoRuntime::new(Duration::from_secs(1)).unwrap();
        assert!(matches!(rt.block_on(async {}), Err(Error::BlockingInAsync)));
        assert_eq!(rt.run(async { 3 }).await.unwrap(), 3);
        rt.flush().await.unwrap();
        // Dropping inside an async context must not panic.
        drop(rt);
    }
}
