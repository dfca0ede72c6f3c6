//! `Lock` and `RLock` (docs/protocol.md 9.6): CPython's `threading.Lock()` and
//! `threading.RLock()` as `AcquirerProxy` clients use them, plus (in `lock/wait.rs`) the waiting
//! machinery the other synchronisation kinds share.
//!
//! A plain lock has no owner: any connection may release it. An `RLock`
//! belongs to the serving connection that acquired it (CPython: the server
//! thread, one per client thread) and counts re-entrant acquires. The same
//! two states back a `Condition` (`condition.rs`), which reaches them through
//! [`LockRef`].
//!
//! Waiting uses the loop every synchronisation kind shares ([`wait`]):
//! wake-ups use `notify_one`, whose notification tokio hands to the next
//! waiter when a woken waiter is dropped, so a client that disconnects
//! mid-wait never strands the lock.
//!
//! When a client's connection closes, the locks it holds stay held, exactly
//! as in CPython (docs/protocol.md 5.7, 14): the server cannot know the lock's purpose is
//! over, and other clients may be relying on it.

use crate::args::Args;
use crate::objects::{Call, CallCtx, SharedObject};
use crate::pyexc::PyException;
use crate::store::ConnId;
use mpcluster_wire::Value;
use std::any::Any;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

mod acquire;
pub(crate) mod wait;

use acquire::{parse_acquire, Mode};
use wait::{deadline_in, guard, wait_until, Waiters};

pub const EXPOSED: &[&str] = &["acquire", "release", "locked"];

/// The state of a `threading.Lock`: locked or not, no owner.
#[derive(Default)]
pub(crate) struct PlainLock {
    locked: Mutex<bool>,
    freed: Waiters,
}

impl PlainLock {
    fn take(locked: &mut bool) -> Option<()> {
        if *locked {
            None
        } else {
            *locked = true;
            Some(())
        }
    }

    fn release(&self) -> Result<(), PyException> {
        {
            let mut l = guard(&self.locked);
            if !*l {
                return Err(PyException::runtime_error("release unlocked lock"));
            }
            *l = false;
        }
        self.freed.notify_one();
        Ok(())
    }
}

/// Who holds an `RLock` and how many times.
#[derive(Default)]
struct Owner {
    owner: Option<ConnId>,
    count: u64,
}

/// The state of a `threading.RLock`: owned by a serving connection.
#[derive(Default)]
pub(crate) struct ReentrantLock {
    state: Mutex<Owner>,
    freed: Waiters,
}

impl ReentrantLock {
    /// Takes the lock for `conn` with recursion count `count`, or adds to
    /// the count when `conn` already owns it.
    fn take(s: &mut Owner, conn: ConnId, count: u64) -> Option<()> {
        match s.owner {
            Some(o) if o == conn => {
                s.count = s.count.saturating_add(count);
                Some(())
            }
            Some(_) => None,
            None => {
                s.owner = Some(conn);
                s.count = count;
                Some(())
            }
        }
    }

    /// Drops the lock entirely when `full`, else one level; returns the
    /// count that was held.
    fn give_back(&self, conn: ConnId, full: bool) -> Result<u64, PyException> {
        let held = {
            let mut s = guard(&self.state);
            if s.owner != Some(conn) || s.count == 0 {
                return Err(PyException::runtime_error(
                    "cannot release un-acquired lock",
                ));
            }
            let held = s.count;
            s.count = if full { 0 } else { held - 1 };
            if s.count > 0 {
                return Ok(held);
            }
            s.owner = None;
            held
        };
        self.freed.notify_one();
        Ok(held)
    }
}

/// A lock's recursion level saved by [`LockRef::release_save`] while a
/// `Condition` waits (CPython's `RLock._release_save`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Saved(u64);

/// A `Lock` or `RLock`, as a `Condition` and the lock objects use it.
#[derive(Clone)]
pub(crate) enum LockRef {
    Lock(Arc<PlainLock>),
    RLock(Arc<ReentrantLock>),
}

impl LockRef {
    pub(crate) fn new_lock() -> LockRef {
        LockRef::Lock(Arc::default())
    }

    pub(crate) fn new_rlock() -> LockRef {
        LockRef::RLock(Arc::default())
    }

    /// Acquires without waiting.
    pub(crate) fn try_acquire(&self, conn: ConnId) -> bool {
        match self {
            LockRef::Lock(l) => PlainLock::take(&mut guard(&l.locked)).is_some(),
            LockRef::RLock(r) => ReentrantLock::take(&mut guard(&r.state), conn, 1).is_some(),
        }
    }

    /// Acquires, waiting until `deadline` at most; false when it passed.
    pub(crate) async fn acquire(&self, conn: ConnId, deadline: Option<Instant>) -> bool {
        match self {
            LockRef::Lock(l) => wait_until(&l.locked, &l.freed, deadline, PlainLock::take)
                .await
                .is_some(),
            LockRef::RLock(r) => wait_until(&r.state, &r.freed, deadline, |s| {
                ReentrantLock::take(s, conn, 1)
            })
            .await
            .is_some(),
        }
    }

    /// `release()`: any caller for a `Lock`, only the owner for an `RLock`.
    pub(crate) fn release(&self, conn: ConnId) -> Result<(), PyException> {
        match self {
            LockRef::Lock(l) => l.release(),
            LockRef::RLock(r) => r.give_back(conn, false).map(drop),
        }
    }

    /// 3.14's `locked()`: held by anybody (for an `RLock`, by any
    /// connection, docs/protocol.md 9.6).
    pub(crate) fn locked(&self) -> bool {
        match self {
            LockRef::Lock(l) => *guard(&l.locked),
            LockRef::RLock(r) => guard(&r.state).owner.is_some(),
        }
    }

    /// CPython's `Condition._is_owned`: an `RLock` asks its owner; a plain
    /// lock has none, so CPython tries a non-blocking acquire and calls the
    /// lock owned when that fails, i.e. when it is locked by anybody.
    pub(crate) fn is_owned(&self, conn: ConnId) -> bool {
        match self {
            LockRef::Lock(_) => self.locked(),
            LockRef::RLock(r) => guard(&r.state).owner == Some(conn),
        }
    }

    /// Releases the lock completely for a `Condition.wait` (CPython's
    /// `_release_save`: all recursion levels of an `RLock`).
    pub(crate) fn release_save(&self, conn: ConnId) -> Result<Saved, PyException> {
        match self {
            LockRef::Lock(l) => l.release().map(|()| Saved(1)),
            LockRef::RLock(r) => r.give_back(conn, true).map(Saved),
        }
    }

    /// Re-acquires after a `Condition.wait`, restoring the recursion level
    /// (CPython's `_acquire_restore`; it waits without a timeout).
    pub(crate) async fn acquire_restore(&self, conn: ConnId, saved: Saved) {
        match self {
            LockRef::Lock(l) => {
                wait_until(&l.locked, &l.freed, None, PlainLock::take).await;
            }
            LockRef::RLock(r) => {
                wait_until(&r.state, &r.freed, None, |s| {
                    ReentrantLock::take(s, conn, saved.0)
                })
                .await;
            }
        }
    }

    /// The `acquire(blocking=True, timeout=-1)` method with CPython's
    /// argument rules; shared by the lock objects and `Condition.acquire`.
    pub(crate) fn acquire_call<'a>(&'a self, conn: ConnId, args: Args) -> Call<'a> {
        let mode = match parse_acquire(args) {
            Ok(m) => m,
            Err(e) => return Call::err(e),
        };
        if self.try_acquire(conn) {
            return Call::value(Value::Bool(true));
        }
        let deadline = match mode {
            // A zero timeout only tries, like a non-blocking call.
            Mode::Try => return Call::value(Value::Bool(false)),
            Mode::For(secs) if secs <= 0.0 => return Call::value(Value::Bool(false)),
            Mode::Forever => None,
            Mode::For(secs) => Some(deadline_in(secs)),
        };
        Call::wait(async move { Ok(Value::Bool(self.acquire(conn, deadline).await).into()) })
    }

    /// The `release()` method (no arguments, as the C method).
    pub(crate) fn release_call(&self, conn: ConnId, args: Args) -> Result<Value, PyException> {
        // CPython's messages name the C type: `lock.release()`, `RLock.release()`.
        args.none(match self {
            LockRef::Lock(_) => "lock.release",
            LockRef::RLock(_) => "RLock.release",
        })?;
        self.release(conn).map(|()| Value::None)
    }

    /// The `locked()` method (3.14 clients).
    pub(crate) fn locked_call(&self, args: Args) -> Result<Value, PyException> {
        args.none(match self {
            LockRef::Lock(_) => "lock.locked",
            LockRef::RLock(_) => "RLock.locked",
        })?;
        Ok(Value::Bool(self.locked()))
    }

    /// CPython's `repr` of the lock; `at` is `" at 0x..."` or empty.
    pub(crate) fn describe(&self, at: &str) -> String {
        match self {
            LockRef::Lock(l) => {
                let state = if *guard(&l.locked) {
                    "locked"
                } else {
                    "unlocked"
                };
                format!("<{state} _thread.lock object{at}>")
            }
            LockRef::RLock(r) => {
                let s = guard(&r.state);
                let state = if s.owner.is_some() {
                    "locked"
                } else {
                    "unlocked"
                };
                format!(
                    "<{state} _thread.RLock object owner={} count={}{at}>",
                    s.owner.unwrap_or(0),
                    s.count
                )
            }
        }
    }

    /// CPython's class name, also the `#UNSERIALIZABLE` text's subject.
    pub(crate) fn class(&self) -> &'static str {
        match self {
            LockRef::Lock(_) => "_thread.lock",
            LockRef::RLock(_) => "_thread.RLock",
        }
    }
}

/// A `Lock` or `RLock` shared object. `Condition` finds the state behind a
/// lock proxy by downcasting to this type ([`LockObject::lock_ref`]).
pub struct LockObject {
    lock: LockRef,
}

impl LockObject {
    pub(crate) fn lock_ref(&self) -> LockRef {
        self.lock.clone()
    }
}

/// `Lock()`: CPython's `_thread.allocate_lock`, which takes no arguments.
pub fn create_lock(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    args.none("_thread.allocate_lock")?;
    Ok(Arc::new(LockObject {
        lock: LockRef::new_lock(),
    }))
}

/// `RLock()`: CPython's `threading.RLock(*args, **kwargs)` ignores its
/// arguments, so we do too.
pub fn create_rlock(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Ok(Arc::new(LockObject {
        lock: LockRef::new_rlock(),
    }))
}

impl SharedObject for LockObject {
    fn type_name(&self) -> &'static str {
        match self.lock {
            LockRef::Lock(_) => "lock",
            LockRef::RLock(_) => "RLock",
        }
    }

    fn call<'a>(&'a self, ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        match method {
            "acquire" => self.lock.acquire_call(ctx.conn, args),
            "release" => self.lock.release_call(ctx.conn, args).into(),
            "locked" => self.lock.locked_call(args).into(),
            other => Call::err(PyException::attribute_error(format!(
                "'{}' object has no attribute '{other}'",
                self.lock.class()
            ))),
        }
    }

    fn repr(&self) -> String {
        self.lock.describe("")
    }

    fn repr_at(&self, addr: &str) -> String {
        self.lock.describe(&format!(" at {addr}"))
    }

    fn get_value(&self) -> Result<Value, String> {
        Err(format!("cannot pickle '{}' object", self.lock.class()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::wait::testing::*;
    use super::*;
    use crate::pyexc::ExcKind;
    use crate::store::Store;
    use std::time::Duration;

    fn objects() -> (Arc<dyn SharedObject>, Arc<dyn SharedObject>) {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        (
            create_lock(&ctx, Args::default()).unwrap(),
            create_rlock(&ctx, Args::default()).unwrap(),
        )
    }

    /// A release that frees the lock for a waiting acquirer is a hand-off
    /// (the serving loop lets the waiter's grant go out first); one that
    /// nobody waits for is not.
    #[tokio::test]
    async fn release_to_a_waiter_is_a_handoff() {
        let (lock, rlock) = objects();
        let store = Store::new(16);
        let c2 = CallCtx {
            conn: 2,
            store: &store,
        };
        for l in [lock.as_ref(), rlock.as_ref()] {
            assert_eq!(now(l, 1, "acquire", vec![]).unwrap(), t());
            wait::take_handoff();
            now(l, 1, "release", vec![]).unwrap();
            assert!(!wait::take_handoff(), "nobody waited");
            assert_eq!(now(l, 1, "acquire", vec![]).unwrap(), t());
            let waiter = pending(l.call(&c2, "acquire", Args::default())).await;
            now(l, 1, "release", vec![]).unwrap();
            assert!(wait::take_handoff());
            assert_eq!(finish(Call::Wait(waiter)).await.unwrap(), t());
            now(l, 2, "release", vec![]).unwrap();
        }
    }

    #[tokio::test]
    async fn lock_has_no_owner() {
        let (lock, _) = objects();
        let l = lock.as_ref();
        // `with lk:` sends `acquire ()`.
        assert_eq!(now(l, 1, "acquire", vec![]).unwrap(), t());
        assert_eq!(now(l, 1, "acquire", vec![f()]).unwrap(), f());
        assert_eq!(now(l, 2, "locked", vec![]).unwrap(), t());
        // Any connection may release a plain lock.
        assert_eq!(now(l, 2, "release", vec![]).unwrap(), Value::None);
        assert_exc(
            now(l, 1, "release", vec![]),
            ExcKind::RuntimeError,
            "release unlocked lock",
        );
        assert_eq!(now(l, 1, "locked", vec![]).unwrap(), f());
        assert_eq!(l.repr(), "<unlocked _thread.lock object>");
        assert_eq!(l.repr_at("0xab"), "<unlocked _thread.lock object at 0xab>");
        assert_eq!(
            l.get_value().unwrap_err(),
            "cannot pickle '_thread.lock' object"
        );
    }

    #[tokio::test]
    async fn acquire_times_out() {
        let (lock, _) = objects();
        assert_eq!(now(lock.as_ref(), 1, "acquire", vec![t()]).unwrap(), t());
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 2,
            store: &store,
        };
        let started = std::time::Instant::now();
        let got = finish(lock.call(&ctx, "acquire", Args::new(vec![t(), Value::Float(0.05)])));
        assert_eq!(got.await.unwrap(), f());
        assert!(started.elapsed() >= Duration::from_millis(50));
        // A zero timeout only tries.
        assert_eq!(
            now(lock.as_ref(), 2, "acquire", vec![t(), Value::Int(0)]).unwrap(),
            f()
        );
    }

    #[tokio::test]
    async fn rlock_belongs_to_its_connection() {
        let (_, rlock) = objects();
        let r = rlock.as_ref();
        assert_eq!(now(r, 1, "acquire", vec![t()]).unwrap(), t());
        assert_eq!(now(r, 1, "acquire", vec![t()]).unwrap(), t());
        assert_eq!(r.repr(), "<locked _thread.RLock object owner=1 count=2>");
        assert_eq!(
            r.repr_at("0xab"),
            "<locked _thread.RLock object owner=1 count=2 at 0xab>"
        );
        assert_exc(
            now(r, 2, "release", vec![]),
            ExcKind::RuntimeError,
            "cannot release un-acquired lock",
        );
        assert_eq!(now(r, 2, "acquire", vec![f()]).unwrap(), f());
        // Held by any connection counts as locked (3.14 semantics).
        assert_eq!(now(r, 2, "locked", vec![]).unwrap(), t());
        now(r, 1, "release", vec![]).unwrap();
        now(r, 1, "release", vec![]).unwrap();
        assert_exc(
            now(r, 1, "release", vec![]),
            ExcKind::RuntimeError,
            "cannot release un-acquired lock",
        );
        assert_eq!(now(r, 2, "acquire", vec![f()]).unwrap(), t());
        assert_eq!(
            r.get_value().unwrap_err(),
            "cannot pickle '_thread.RLock' object"
        );
    }

    #[tokio::test]
    async fn a_release_hands_the_lock_to_a_waiter() {
        for make in [LockRef::new_lock, LockRef::new_rlock] {
            let lock = LockObject { lock: make() };
            let store = Store::new(16);
            let (c1, c2) = (
                CallCtx {
                    conn: 1,
                    store: &store,
                },
                CallCtx {
                    conn: 2,
                    store: &store,
                },
            );
            assert!(lock.lock.try_acquire(1));
            let waiter = pending(lock.call(&c2, "acquire", Args::new(vec![t()]))).await;
            finish(lock.call(&c1, "release", Args::default()))
                .await
                .unwrap();
            assert_eq!(finish(Call::Wait(waiter)).await.unwrap(), t());
            // Connection 2 holds it now.
            assert!(!lock.lock.try_acquire(1));
            lock.lock.release(2).unwrap();
        }
    }

    #[tokio::test]
    async fn a_cancelled_acquire_takes_nothing_and_passes_its_wakeup_on() {
        for make in [LockRef::new_lock, LockRef::new_rlock] {
            let lock = LockObject { lock: make() };
            let store = Store::new(16);
            let ctx = |conn| CallCtx {
                conn,
                store: &store,
            };
            let (c2, c3) = (ctx(2), ctx(3));
            assert!(lock.lock.try_acquire(1));
            // Cancelled while merely waiting: the lock stays free afterwards.
            let gone = pending(lock.call(&c2, "acquire", Args::new(vec![t()]))).await;
            drop(gone);
            // Cancelled after being woken, before running: the wake-up must
            // reach the next waiter.
            let woken = pending(lock.call(&c2, "acquire", Args::new(vec![t()]))).await;
            let next = pending(lock.call(&c3, "acquire", Args::new(vec![t()]))).await;
            lock.lock.release(1).unwrap();
            drop(woken);
            assert_eq!(finish(Call::Wait(next)).await.unwrap(), t());
            assert!(lock.lock.is_owned(3));
            lock.lock.release(3).unwrap();
            assert!(!lock.lock.locked());
        }
    }

    #[tokio::test]
    async fn release_save_restores_the_recursion_level() {
        let r = LockRef::new_rlock();
        for _ in 0..3 {
            assert!(r.try_acquire(1));
        }
        assert!(r.is_owned(1) && !r.is_owned(2));
        let saved = r.release_save(1).unwrap();
        assert!(!r.locked());
        assert!(r.try_acquire(2));
        r.release(2).unwrap();
        r.acquire_restore(1, saved).await;
        for _ in 0..3 {
            r.release(1).unwrap();
        }
        assert!(r.release(1).is_err());
        // A plain lock is "owned" by whoever asks while it is locked.
        let l = LockRef::new_lock();
        assert!(!l.is_owned(1));
        assert!(l.try_acquire(1));
        assert!(l.is_owned(2));
    }
}
