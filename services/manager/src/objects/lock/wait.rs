//! The waiting loop and argument helpers shared by the synchronisation
//! kinds (`lock.rs`, `semaphore.rs`, `condition.rs`, `event.rs`,
//! `barrier.rs`, `queue.rs`).
//!
//! Waiting follows one pattern everywhere ([`wait_until`]): the condition is
//! checked under the object's `std::sync::Mutex`; if it does not hold, a
//! `tokio::sync::Notify` registration is enabled before the mutex is
//! released, so a change in between cannot be missed, and the waiter checks
//! again when woken. Nothing is ever held across an `.await`.
//!
//! A wake-up that reaches a waiter is a hand-off (a lock passing from one
//! client to another, an item to a blocked getter): [`Waiters`] records it
//! for the serving loop, which then lets the woken connection answer its
//! client before it answers its own ([`take_handoff`]).

use crate::args::{Args, Sig};
use crate::objects::duration;
use crate::pyexc::PyException;
use mpcluster_wire::Value;
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

/// The waiters on one condition of an object (a lock freed, a queue not
/// empty): tokio's `Notify`, and how many wait on it now.
#[derive(Default)]
pub(crate) struct Waiters {
    notify: Notify,
    waiting: AtomicUsize,
}

impl Waiters {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Wakes one waiter (or stores the wake-up for the next one).
    pub(crate) fn notify_one(&self) {
        self.note_handoff();
        self.notify.notify_one();
    }

    /// Wakes every waiter there is now.
    pub(crate) fn notify_waiters(&self) {
        self.note_handoff();
        self.notify.notify_waiters();
    }

    /// Callers change the state under its mutex before they notify, and
    /// a waiter counts itself under the same mutex, so a waiter that could
    /// miss the change is counted here.
    fn note_handoff(&self) {
        if self.waiting.load(Ordering::Relaxed) > 0 {
            mark_handoff();
        }
    }
}

/// One registered waiter, counted until its wait ends or is dropped.
struct Counted<'a>(&'a AtomicUsize);

impl<'a> Counted<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Counted(n)
    }
}

impl Drop for Counted<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

thread_local! {
    /// Set when a call on this thread woke a waiter; object calls run
    /// synchronously inside one poll, so the serving loop that made the
    /// call reads it right after, on the same thread.
    static HANDOFF: Cell<bool> = const { Cell::new(false) };
}

/// Records that the call being served woke a waiter.
pub(crate) fn mark_handoff() {
    HANDOFF.with(|h| h.set(true));
}

/// Whether a call on this thread woke a waiter since the last look, and
/// clears the mark.
///
/// The serving loop uses it to yield before writing its own reply: the
/// woken connection then sends its reply (say, a lock's grant) first. The
/// releasing client's reply is off the critical path (it would only queue
/// its next `acquire`), the grant is on it: `lock` at 4 client processes
/// gained about a fifth in throughput (docs/performance.md).
pub(crate) fn take_handoff() -> bool {
    HANDOFF.with(|h| h.replace(false))
}

/// Locks a state mutex. Poisoning only means a panic elsewhere mid-update;
/// every critical section here leaves the state consistent before any call
/// that could panic, so the data is still meaningful.
pub(crate) fn guard<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A deadline `secs` seconds from now (negative or NaN: now).
pub(crate) fn deadline_in(secs: f64) -> Instant {
    Instant::now() + duration(secs)
}

/// Runs `attempt` under `state`'s mutex until it yields a result, sleeping
/// on `notify` in between; `None` once `deadline` has passed (after one last
/// attempt, as CPython's timed loops re-check their predicate on timeout).
///
/// Cancel-safe: the only effects are those of a successful `attempt`, made
/// in the same poll that returns. The registration is enabled while the
/// mutex is held, so a notification sent after a failed attempt is never
/// lost; a `notify_one` received by a dropped waiter passes to the next one.
pub(crate) async fn wait_until<T, R>(
    state: &Mutex<T>,
    waiters: &Waiters,
    deadline: Option<Instant>,
    mut attempt: impl FnMut(&mut T) -> Option<R>,
) -> Option<R> {
    let mut counted = None;
    loop {
        let notified = waiters.notify.notified();
        tokio::pin!(notified);
        {
            let mut s = guard(state);
            if let Some(r) = attempt(&mut s) {
                return Some(r);
            }
            notified.as_mut().enable();
            counted.get_or_insert_with(|| Counted::new(&waiters.waiting));
        }
        match deadline {
            None => notified.await,
            Some(d) => {
                if tokio::time::timeout_at(d, notified).await.is_err() {
                    return attempt(&mut guard(state));
                }
            }
        }
    }
}

/// A Python real number as seconds, for the timeouts of the pure-Python
/// `threading`/`queue` methods (`int`, `bool`, `float`; big ints saturate).
/// `None` for anything else, which the caller reports with the `TypeError`
/// its CPython method would raise.
pub(crate) fn seconds(v: &Value) -> Option<f64> {
    match v {
        Value::Float(f) => Some(*f),
        Value::Int(i) => Some(*i as f64),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::BigInt(b) => Some(if b.sign() == num_bigint::Sign::Minus {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }),
        _ => None,
    }
}

/// The `TypeError` of a Python comparison `v <op> 0` on a non-number
/// (`timeout < 0` in `queue.Queue.get`, `timeout > 0` in `Condition.wait`).
pub(crate) fn compare_error(op: &str, v: &Value) -> PyException {
    PyException::type_error(format!(
        "'{op}' not supported between instances of '{}' and 'int'",
        v.type_name()
    ))
}

/// Checks that a method written in Python (`Event.set`, `Queue.qsize`)
/// got no arguments, with CPython's message, which counts `self`
/// (`Event.set() takes 1 positional argument but 2 were given`).
pub(crate) fn no_args(name: &'static str, args: Args) -> Result<(), PyException> {
    args.bind(&Sig::py(name, &[], 0)).map(drop)
}

/// Helpers for the synchronisation kinds' unit tests: calls made the way
/// the serving loop makes them, one `CallCtx` per simulated connection.
#[cfg(test)]
pub(crate) mod testing {
    use crate::args::Args;
    use crate::objects::{Call, CallCtx, CallResult, Ret, SharedObject, WaitFuture};
    use crate::pyexc::{ExcKind, PyException};
    use crate::store::{ConnId, Store};
    use mpcluster_wire::Value;
    use std::sync::Arc;
    use std::task::Poll;
    use std::time::Duration;
    use tokio::task::JoinHandle;

    pub type Outcome = Result<Value, PyException>;

    /// How long a test waits for something that must happen before it
    /// calls the test failed (never reached when the code is right).
    pub const PATIENCE: Duration = Duration::from_secs(10);

    pub fn outcome(r: CallResult) -> Outcome {
        r.map(|ret| match ret {
            Ret::Value(v) => v,
            Ret::Object(_) => Value::str("<new object>"),
        })
    }

    pub fn t() -> Value {
        Value::Bool(true)
    }

    pub fn f() -> Value {
        Value::Bool(false)
    }

    /// Arguments with keywords.
    pub fn kw(pos: Vec<Value>, kw: &[(&str, Value)]) -> Args {
        Args {
            pos,
            kw: kw.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        }
    }

    /// A call on connection `conn` that must answer without waiting.
    pub fn now(obj: &dyn SharedObject, conn: ConnId, method: &str, args: Vec<Value>) -> Outcome {
        now_args(obj, conn, method, Args::new(args))
    }

    pub fn now_args(obj: &dyn SharedObject, conn: ConnId, method: &str, args: Args) -> Outcome {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn,
            store: &store,
        };
        let answer = match obj.call(&ctx, method, args) {
            Call::Done(r) => outcome(r),
            Call::Wait(_) => panic!("{method} waited"),
        };
        answer
    }

    /// Asserts the error kind and message of an outcome.
    pub fn assert_exc(r: Outcome, kind: ExcKind, message: &str) {
        match r {
            Err(e) => {
                assert_eq!(e.kind, kind, "{e}");
                assert_eq!(e.message(), message);
            }
            Ok(v) => panic!("expected {kind:?}({message:?}), got {v:?}"),
        }
    }

    /// A call that must wait: its future, polled once so that it is
    /// registered as a waiter.
    pub async fn pending(call: Call<'_>) -> WaitFuture<'_> {
        let Call::Wait(mut fut) = call else {
            panic!("answered without waiting")
        };
        let waiting =
            std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx).is_pending())).await;
        assert!(waiting, "finished at the first poll");
        fut
    }

    /// Completes a call, waiting if it must (bounded by [`PATIENCE`]).
    pub async fn finish(call: Call<'_>) -> Outcome {
        match call {
            Call::Done(r) => outcome(r),
            Call::Wait(fut) => outcome(
                tokio::time::timeout(PATIENCE, fut)
                    .await
                    .expect("the call never finished"),
            ),
        }
    }

    /// Runs a call to completion on its own task, as another connection.
    pub fn spawn(
        obj: &Arc<dyn SharedObject>,
        conn: ConnId,
        method: &'static str,
        args: Vec<Value>,
    ) -> JoinHandle<Outcome> {
        let obj = obj.clone();
        tokio::spawn(async move {
            let store = Store::new(16);
            let ctx = CallCtx {
                conn,
                store: &store,
            };
            finish(obj.call(&ctx, method, Args::new(args))).await
        })
    }

    /// The result of a spawned call.
    pub async fn joined(h: JoinHandle<Outcome>) -> Outcome {
        tokio::time::timeout(PATIENCE, h)
            .await
            .expect("the call never finished")
            .expect("the call's task panicked")
    }

    /// Yields until `cond` holds (another task reached a waiting state).
    pub async fn until(mut cond: impl FnMut() -> bool) {
        let waited = tokio::time::timeout(PATIENCE, async {
            while !cond() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(waited.is_ok(), "the awaited state never came");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::Pin;
    use std::task::Poll;

    /// Polls a wait once (registering it unless it finishes); true while
    /// it still waits.
    async fn poll_once<F: Future + Unpin>(f: &mut F) -> bool {
        std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *f).poll(cx).is_pending())).await
    }

    #[tokio::test]
    async fn handoff_is_marked_only_while_somebody_waits() {
        let state = Mutex::new(false);
        let waiters = Waiters::new();
        take_handoff();
        waiters.notify_one();
        assert!(!take_handoff(), "nobody waited");

        let mut wait = Box::pin(wait_until(&state, &waiters, None, |s| s.then_some(())));
        assert!(poll_once(&mut wait).await, "the state is not set yet");
        assert_eq!(waiters.waiting.load(Ordering::Relaxed), 1);
        *guard(&state) = true;
        waiters.notify_one();
        assert!(take_handoff());
        assert!(!take_handoff(), "taking clears the mark");
        assert!(!poll_once(&mut wait).await, "woken, it finds the state set");
        assert_eq!(waiters.waiting.load(Ordering::Relaxed), 0);

        // A wait that is dropped, or times out, is no longer counted.
        *guard(&state) = false;
        let mut dropped = Box::pin(wait_until(&state, &waiters, None, |s| s.then_some(())));
        assert!(poll_once(&mut dropped).await);
        drop(dropped);
        let soon = Instant::now() + std::time::Duration::from_millis(1);
        assert_eq!(
            wait_until(&state, &waiters, Some(soon), |s| s.then_some(())).await,
            None
        );
        assert_eq!(waiters.waiting.load(Ordering::Relaxed), 0);
        waiters.notify_waiters();
        assert!(!take_handoff());
    }
}
