//! `Condition` (docs/protocol.md 9.7): CPython's `threading.Condition(lock=None)` served
//! to `ConditionProxy` clients.
//!
//! The lock is the condition's own `RLock`, or a `Lock`/`RLock` of this
//! manager passed as a proxy (`manager.Condition(manager.Lock())` sends a
//! `RebuildProxy(...)` value to `create`); it is reached through
//! [`LockRef`], and its id is reported by `refs()` so the store keeps it
//! alive as long as the condition is.
//!
//! Waiters queue in FIFO order, each with its own oneshot channel, as
//! CPython's `_waiters` deque of per-waiter locks: `notify(n)` wakes the
//! first `n`. `wait` registers the waiter, releases the lock completely,
//! waits for its notification or the timeout, then re-acquires the lock
//! (without a timeout, as CPython does) and restores its recursion level.
//!
//! Cancellation (the client went away mid-wait; CPython cannot cancel): the
//! waiter leaves the queue; if it had already been notified, the
//! notification is handed to the next waiter instead of being swallowed, so
//! the waiters that remain behave as if the cancelled wait never happened.
//! The lock stays released: the wait had released it, and the client that
//! would have re-acquired it is gone.

use crate::args::{Args, Sig};
use crate::objects::lock::wait::{compare_error, guard, mark_handoff, no_args, seconds};
use crate::objects::lock::{LockObject, LockRef};
use crate::objects::{duration, Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use crate::store::ConnId;
use mpcluster_wire::Value;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub const EXPOSED: &[&str] = &[
    "acquire",
    "release",
    "locked",
    "wait",
    "notify",
    "notify_all",
];

/// The FIFO of waiting `wait` calls.
#[derive(Default)]
struct Waiters {
    next_id: u64,
    queue: VecDeque<(u64, oneshot::Sender<()>)>,
}

pub struct Condition {
    lock: LockRef,
    /// The store id of a lock passed to `Condition(lock)`.
    lock_id: Option<String>,
    waiters: Mutex<Waiters>,
}

/// `Condition(lock=None)`.
pub fn create(ctx: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    const SIG: Sig = Sig::py("Condition.__init__", &["lock"], 0);
    let (lock, lock_id) = match args.bind(&SIG)?.take(0) {
        None | Some(Value::None) => (LockRef::new_rlock(), None),
        Some(v) => resolve_lock(ctx, &v)?,
    };
    Ok(Arc::new(Condition {
        lock,
        lock_id,
        waiters: Mutex::default(),
    }))
}

/// The lock a proxy argument names. CPython would accept any object with
/// `acquire`/`release`; we serve only locks that live here, since the
/// condition must reach the lock's state directly.
fn resolve_lock(ctx: &CallCtx<'_>, v: &Value) -> Result<(LockRef, Option<String>), PyException> {
    let refused = |what: String| {
        PyException::type_error(format!(
            "Condition lock must be a Lock or RLock of this manager, not {what}"
        ))
    };
    let Some(entry) = ctx.resolve_proxy(v) else {
        return Err(match proxyref::token_typeid(v) {
            Some(typeid) => refused(format!("a '{typeid}' proxy of another manager")),
            // Not a proxy at all: CPython's `Condition.__init__` fails
            // looking up `lock.acquire`.
            None => PyException::attribute_error(format!(
                "'{}' object has no attribute 'acquire'",
                v.type_name()
            )),
        });
    };
    match entry.obj.as_any().downcast_ref::<LockObject>() {
        Some(lock) => Ok((lock.lock_ref(), Some(entry.id.clone()))),
        None => Err(refused(format!("a '{}' proxy", entry.typeid))),
    }
}

/// One `wait` call between registering and returning. Dropping it early
/// (cancellation) withdraws the waiter or passes its notification on.
struct Waiting<'a> {
    cond: &'a Condition,
    id: u64,
    rx: oneshot::Receiver<()>,
    /// `None` while waiting; then whether the wait was notified.
    outcome: Option<bool>,
    finished: bool,
}

impl Waiting<'_> {
    /// The wait returned (or never started): nothing to undo.
    fn finish(&mut self) {
        self.finished = true;
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let notified = match self.outcome {
            Some(notified) => notified,
            // Still queued: leaving is enough. Gone: a notify took it.
            None => !self.cond.dequeue(self.id),
        };
        if notified {
            self.cond.wake(1);
        }
    }
}

impl Condition {
    /// Removes waiter `id`; false when a `notify` already took it.
    fn dequeue(&self, id: u64) -> bool {
        let mut w = guard(&self.waiters);
        match w.queue.iter().position(|(i, _)| *i == id) {
            Some(pos) => {
                w.queue.remove(pos);
                true
            }
            None => false,
        }
    }

    /// Wakes the first `n` waiters. A waiter whose future is being dropped
    /// still holds its receiver while it looks itself up, so a send to a
    /// queued waiter cannot fail; if it ever did, the next one is woken.
    fn wake(&self, mut n: u64) {
        let mut w = guard(&self.waiters);
        while n > 0 {
            let Some((_, tx)) = w.queue.pop_front() else {
                break;
            };
            if tx.send(()).is_ok() {
                mark_handoff();
                n -= 1;
            }
        }
    }

    fn waiting(&self) -> usize {
        guard(&self.waiters).queue.len()
    }

    /// `wait(timeout=None)`.
    fn wait(&self, conn: ConnId, args: Args) -> Call<'_> {
        const SIG: Sig = Sig::py("Condition.wait", &["timeout"], 0);
        let timeout = match args.bind(&SIG) {
            Ok(mut b) => b.take(0).filter(|t| !matches!(t, Value::None)),
            Err(e) => return Call::err(e),
        };
        if !self.lock.is_owned(conn) {
            return Call::err(PyException::runtime_error(
                "cannot wait on un-acquired lock",
            ));
        }
        // CPython evaluates `timeout > 0` only after releasing the lock and
        // re-acquires it before raising; checking first looks the same.
        let timeout = match &timeout {
            None => None,
            Some(t) => match seconds(t) {
                Some(secs) => Some(secs),
                None => return Call::err(compare_error(">", t)),
            },
        };
        if timeout.is_some_and(|secs| secs.is_nan() || secs <= 0.0) {
            // CPython releases the lock, polls its fresh waiter lock (which
            // nobody can have notified yet) and re-acquires: nothing to see.
            return Call::value(Value::Bool(false));
        }
        let (tx, rx) = oneshot::channel();
        let id = {
            let mut w = guard(&self.waiters);
            let id = w.next_id;
            w.next_id = w.next_id.wrapping_add(1);
            w.queue.push_back((id, tx));
            id
        };
        // The guard exists before the future does, so even a future dropped
        // unpolled leaves the queue clean.
        let mut waiting = Waiting {
            cond: self,
            id,
            rx,
            outcome: None,
            finished: false,
        };
        let saved = match self.lock.release_save(conn) {
            Ok(saved) => saved,
            Err(e) => {
                // Owned a moment ago: only a concurrent release on the same
                // plain lock gets here. Withdraw quietly.
                waiting.finish();
                self.dequeue(id);
                return Call::err(e);
            }
        };
        Call::wait(async move {
            let received = match timeout {
                None => (&mut waiting.rx).await.is_ok(),
                Some(secs) => matches!(
                    tokio::time::timeout(duration(secs), &mut waiting.rx).await,
                    Ok(Ok(()))
                ),
            };
            // A notify racing with the timeout counts, as it was sent.
            let notified = received || !self.dequeue(id);
            waiting.outcome = Some(notified);
            self.lock.acquire_restore(conn, saved).await;
            waiting.finish();
            Ok(Value::Bool(notified).into())
        })
    }

    fn check_notify(&self, conn: ConnId) -> Result<(), PyException> {
        if self.lock.is_owned(conn) {
            Ok(())
        } else {
            Err(PyException::runtime_error(
                "cannot notify on un-acquired lock",
            ))
        }
    }

    /// `notify(n=1)`: CPython 3.11 loops `while waiters and n > 0`, so `n`
    /// is only looked at when somebody waits, and a float counts up.
    fn notify(&self, conn: ConnId, args: Args) -> Result<Value, PyException> {
        const SIG: Sig = Sig::py("Condition.notify", &["n"], 0);
        let n = args.bind(&SIG)?.take(0).unwrap_or(Value::Int(1));
        self.check_notify(conn)?;
        if self.waiting() == 0 {
            return Ok(Value::None);
        }
        let count = match seconds(&n) {
            None => return Err(compare_error(">", &n)),
            Some(x) if x.is_nan() || x <= 0.0 => 0,
            // Saturating float-to-int conversion; `ceil` as `n -= 1` loops.
            Some(x) => x.ceil() as u64,
        };
        self.wake(count);
        Ok(Value::None)
    }
}

impl SharedObject for Condition {
    fn type_name(&self) -> &'static str {
        "Condition"
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        match method {
            "acquire" => self.lock.acquire_call(ctx.conn, args),
            "release" => self.lock.release_call(ctx.conn, args).into(),
            "locked" => self.lock.locked_call(args).into(),
            "wait" => self.wait(ctx.conn, args),
            "notify" => self.notify(ctx.conn, args).into(),
            "notify_all" => no_args("Condition.notify_all", args)
                .and_then(|()| self.check_notify(ctx.conn))
                .map(|()| {
                    self.wake(u64::MAX);
                    Value::None
                })
                .into(),
            other => Call::err(PyException::attribute_error(format!(
                "'Condition' object has no attribute '{other}'"
            ))),
        }
    }

    /// CPython's `<Condition(<lock repr>, waiters)>`.
    fn repr(&self) -> String {
        format!(
            "<Condition({}, {})>",
            self.lock.describe(""),
            self.waiting()
        )
    }

    /// A lock passed in shows its own id as its address; the condition's
    /// own `RLock` has none, so it borrows the condition's.
    fn repr_at(&self, addr: &str) -> String {
        let at = match &self.lock_id {
            Some(id) => format!(" at 0x{id}"),
            None => format!(" at {addr}"),
        };
        format!(
            "<Condition({}, {})>",
            self.lock.describe(&at),
            self.waiting()
        )
    }

    /// Pickling a `Condition` fails on its lock first.
    fn get_value(&self) -> Result<Value, String> {
        Err(format!("cannot pickle '{}' object", self.lock.class()))
    }

    fn refs(&self, out: &mut Vec<String>) {
        out.extend(self.lock_id.iter().cloned());
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::lock::wait::take_handoff;
    use crate::objects::lock::wait::testing::*;
    use crate::objects::lock::{create_lock, EXPOSED as LOCK_EXPOSED};
    use crate::pyexc::ExcKind;
    use crate::store::{NewObject, Store};
    use mpcluster_wire::Object;

    const MANAGERS: &str = "multiprocessing.managers";

    fn own_rlock() -> Condition {
        Condition {
            lock: LockRef::new_rlock(),
            lock_id: None,
            waiters: Mutex::default(),
        }
    }

    fn proxy(typeid: &str, id: &str) -> Value {
        let token = proxyref::token(typeid, &("127.0.0.1".into(), 50000), id);
        Value::Object(Box::new(Object::reduce(
            Value::global(MANAGERS, "RebuildProxy"),
            vec![
                Value::global(MANAGERS, "AcquirerProxy"),
                token,
                Value::str("pickle"),
                Value::Dict(Box::default()),
            ],
        )))
    }

    #[tokio::test]
    async fn wait_and_notify_need_the_lock() {
        let c = own_rlock();
        assert_exc(
            now(&c, 1, "wait", vec![Value::None]),
            ExcKind::RuntimeError,
            "cannot wait on un-acquired lock",
        );
        assert_exc(
            now(&c, 1, "notify", vec![Value::Int(1)]),
            ExcKind::RuntimeError,
            "cannot notify on un-acquired lock",
        );
        assert_eq!(now(&c, 1, "acquire", vec![t()]).unwrap(), t());
        // Another connection does not own the default RLock.
        assert_exc(
            now(&c, 2, "notify_all", vec![]),
            ExcKind::RuntimeError,
            "cannot notify on un-acquired lock",
        );
        assert_eq!(now(&c, 2, "locked", vec![]).unwrap(), t());
        // Nobody waits: a bad `n` is not even looked at (3.11 loop).
        assert_eq!(
            now(&c, 1, "notify", vec![Value::str("x")]).unwrap(),
            Value::None
        );
        assert_eq!(now(&c, 1, "wait", vec![Value::Int(0)]).unwrap(), f());
        assert_eq!(now(&c, 1, "wait", vec![Value::Int(-1)]).unwrap(), f());
        assert_eq!(
            c.repr(),
            "<Condition(<locked _thread.RLock object owner=1 count=1>, 0)>"
        );
        assert_eq!(
            c.get_value().unwrap_err(),
            "cannot pickle '_thread.RLock' object"
        );
        let started = std::time::Instant::now();
        let store = Store::new(16);
        let c1 = CallCtx {
            conn: 1,
            store: &store,
        };
        let timed = finish(c.call(&c1, "wait", Args::new(vec![Value::Float(0.05)])));
        assert_eq!(timed.await.unwrap(), f());
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        // Timed out, the waiter still owns the lock and left the queue.
        assert!(c.lock.is_owned(1));
        assert_eq!(c.waiting(), 0);
    }

    #[tokio::test]
    async fn wait_releases_fully_and_restores_the_recursion_level() {
        let c = own_rlock();
        let store = Store::new(16);
        let c1 = CallCtx {
            conn: 1,
            store: &store,
        };
        now(&c, 1, "acquire", vec![t()]).unwrap();
        now(&c, 1, "acquire", vec![]).unwrap();
        let waiter = pending(c.call(&c1, "wait", Args::new(vec![Value::None]))).await;
        // Released during the wait, so connection 2 can take it and notify.
        assert_eq!(now(&c, 2, "acquire", vec![f()]).unwrap(), t());
        now(&c, 2, "notify", vec![Value::Int(1)]).unwrap();
        let reacquiring = finish(Call::Wait(waiter));
        now(&c, 2, "release", vec![]).unwrap();
        assert_eq!(reacquiring.await.unwrap(), t());
        assert!(c.lock.is_owned(1));
        now(&c, 1, "release", vec![]).unwrap();
        now(&c, 1, "release", vec![]).unwrap();
        assert!(now(&c, 1, "release", vec![]).is_err());
    }

    #[tokio::test]
    async fn notify_wakes_the_first_n_in_order() {
        let c = own_rlock();
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2, c3) = (ctx(1), ctx(2), ctx(3));
        let mut waits = Vec::new();
        for cx in [&c1, &c2, &c3] {
            assert!(c.lock.try_acquire(cx.conn));
            waits.push(pending(c.call(cx, "wait", Args::new(vec![Value::None]))).await);
        }
        assert_eq!(c.waiting(), 3);
        assert!(c.lock.try_acquire(4));
        take_handoff();
        now(&c, 4, "notify", vec![Value::Int(2)]).unwrap();
        assert!(take_handoff(), "notify woke waiters");
        assert_eq!(c.waiting(), 1);
        c.lock.release(4).unwrap();
        let mut waits = waits.into_iter();
        let (a, b, last) = (
            waits.next().unwrap(),
            waits.next().unwrap(),
            waits.next().unwrap(),
        );
        // The first two were notified; each re-acquires in turn.
        assert_eq!(finish(Call::Wait(a)).await.unwrap(), t());
        c.lock.release(1).unwrap();
        assert_eq!(finish(Call::Wait(b)).await.unwrap(), t());
        c.lock.release(2).unwrap();
        now(&c, 2, "acquire", vec![]).unwrap();
        now(&c, 2, "notify_all", vec![]).unwrap();
        c.lock.release(2).unwrap();
        assert_eq!(finish(Call::Wait(last)).await.unwrap(), t());
        assert!(c.lock.is_owned(3));
    }

    #[tokio::test]
    async fn a_cancelled_waiter_passes_its_notification_on() {
        let c = own_rlock();
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2, c3) = (ctx(1), ctx(2), ctx(3));
        assert!(c.lock.try_acquire(3));
        let never = pending(c.call(&c3, "wait", Args::new(vec![Value::None]))).await;
        assert!(c.lock.try_acquire(1));
        let first = pending(c.call(&c1, "wait", Args::new(vec![Value::None]))).await;
        assert!(c.lock.try_acquire(2));
        let second = pending(c.call(&c2, "wait", Args::new(vec![Value::None]))).await;
        // An unnotified waiter that goes away just leaves the queue.
        drop(never);
        assert_eq!(c.waiting(), 2);
        assert!(c.lock.try_acquire(4));
        now(&c, 4, "notify", vec![]).unwrap();
        c.lock.release(4).unwrap();
        // `first` was notified but its client is gone: `second` gets it.
        drop(first);
        assert_eq!(c.waiting(), 0);
        assert_eq!(finish(Call::Wait(second)).await.unwrap(), t());
        assert!(c.lock.is_owned(2));
        // The lock a cancelled waiter released stays released.
        c.lock.release(2).unwrap();
        assert!(!c.lock.locked());
    }

    #[tokio::test]
    async fn a_lock_proxy_of_this_manager_backs_the_condition() {
        let store = Store::new(16);
        let c1 = CallCtx {
            conn: 1,
            store: &store,
        };
        let lock = create_lock(&c1, Args::default()).unwrap();
        let entry = store
            .insert(NewObject {
                typeid: "Lock".into(),
                obj: lock.clone(),
                exposed: LOCK_EXPOSED,
                method_to_typeid: &[],
                named: false,
            })
            .unwrap();
        let cond = create(&c1, Args::new(vec![proxy("Lock", &entry.id)])).unwrap();
        assert_eq!(
            cond.repr_at("0xcd"),
            format!(
                "<Condition(<unlocked _thread.lock object at 0x{}>, 0)>",
                entry.id
            )
        );
        let mut refs = Vec::new();
        cond.refs(&mut refs);
        assert_eq!(refs, vec![entry.id.clone()]);
        assert_eq!(
            cond.get_value().unwrap_err(),
            "cannot pickle '_thread.lock' object"
        );
        // Acquiring the condition locks the Lock object itself.
        assert_eq!(now(cond.as_ref(), 1, "acquire", vec![t()]).unwrap(), t());
        assert_eq!(now(lock.as_ref(), 2, "locked", vec![]).unwrap(), t());
        let waiter = pending(cond.call(&c1, "wait", Args::new(vec![Value::Float(30.0)]))).await;
        assert_eq!(now(lock.as_ref(), 2, "locked", vec![]).unwrap(), f());
        // A plain lock is "owned" by whoever finds it locked (CPython's
        // `_is_owned` probe), so connection 2 may notify once it holds it.
        assert_eq!(now(lock.as_ref(), 2, "acquire", vec![]).unwrap(), t());
        now(cond.as_ref(), 2, "notify", vec![]).unwrap();
        now(lock.as_ref(), 2, "release", vec![]).unwrap();
        assert_eq!(finish(Call::Wait(waiter)).await.unwrap(), t());
        assert_eq!(now(lock.as_ref(), 2, "locked", vec![]).unwrap(), t());
    }

    #[test]
    fn other_locks_are_refused() {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let refused = |v: Value| match create(&ctx, Args::new(vec![v])) {
            Ok(_) => panic!("accepted"),
            Err(e) => {
                assert_eq!(e.kind, ExcKind::TypeError);
                e.message()
            }
        };
        assert!(refused(proxy("Lock", "elsewhere")).contains("'Lock' proxy of another manager"));
        // Not a proxy: CPython fails looking up `lock.acquire`.
        let e = create(&ctx, Args::new(vec![Value::Int(5)]))
            .err()
            .expect("refused");
        assert_eq!(e.kind, ExcKind::AttributeError);
        assert_eq!(e.message(), "'int' object has no attribute 'acquire'");
        let list = store
            .insert(NewObject {
                typeid: "Event".into(),
                obj: Arc::new(crate::objects::event::Event::default()),
                exposed: &[],
                method_to_typeid: &[],
                named: false,
            })
            .unwrap();
        assert!(refused(proxy("Event", &list.id)).contains("a 'Event' proxy"));
        // `Condition(None)` and `Condition()` make their own RLock.
        let own = create(&ctx, Args::new(vec![Value::None])).unwrap();
        assert_eq!(
            own.get_value().unwrap_err(),
            "cannot pickle '_thread.RLock' object"
        );
    }
}
