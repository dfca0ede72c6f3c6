//! `Semaphore` and `BoundedSemaphore` (docs/protocol.md 9.6): CPython's
//! `threading.Semaphore(value=1)` and `threading.BoundedSemaphore(value=1)`
//! served to `AcquirerProxy` clients.
//!
//! The counter lives behind a `std::sync::Mutex`; `acquire` waits with the
//! shared [`wait_until`] loop (a `Notify` registration enabled under the
//! mutex), so a waiter dropped because its client went away takes nothing
//! and passes its wake-up on. The registry exposes `lock::EXPOSED` for both
//! typeids, as CPython's `AcquirerProxy` does, including 3.14's `locked`.

use crate::args::{Args, Sig};
use crate::objects::lock::wait::{
    compare_error, deadline_in, guard, no_args, seconds, wait_until, Waiters,
};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;
use std::any::Any;
use std::sync::{Arc, Mutex};

/// Above this many wake-ups `release(n)` wakes every waiter instead of
/// calling `notify_one` `n` times; waiters re-check the counter anyway.
const WAKE_ONE_BY_ONE: u64 = 1024;

/// A semaphore; `bound` is the initial value of a `BoundedSemaphore`.
pub struct Semaphore {
    value: Mutex<u64>,
    bound: Option<u64>,
    released: Waiters,
}

pub fn create_semaphore(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    const SIG: Sig = Sig::py("Semaphore.__init__", &["value"], 0);
    let value = initial_value(args.bind(&SIG)?.take(0))?;
    Ok(Arc::new(Semaphore::new(value, false)))
}

pub fn create_bounded(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    const SIG: Sig = Sig::py("BoundedSemaphore.__init__", &["value"], 0);
    let value = initial_value(args.bind(&SIG)?.take(0))?;
    Ok(Arc::new(Semaphore::new(value, true)))
}

/// `value=1`, checked as `Semaphore.__init__` does (`value < 0`).
///
/// CPython stores any number it can compare with 0; a float counter only
/// breaks later (`range(n)` fails), so non-integers are refused here.
fn initial_value(v: Option<Value>) -> Result<u64, PyException> {
    let v = v.unwrap_or(Value::Int(1));
    let negative = || PyException::value_error("semaphore initial value must be >= 0");
    match v {
        Value::Int(i) => u64::try_from(i).map_err(|_| negative()),
        Value::Bool(b) => Ok(u64::from(b)),
        Value::BigInt(b) if b.sign() == num_bigint::Sign::Minus => Err(negative()),
        Value::BigInt(_) => Err(PyException::msg(
            ExcKind::OverflowError,
            "semaphore initial value too large for this server (at most 2**63-1)",
        )),
        Value::Float(_) => Err(not_an_integer(&v)),
        other => Err(compare_error("<", &other)),
    }
}

fn not_an_integer(v: &Value) -> PyException {
    PyException::type_error(format!(
        "'{}' object cannot be interpreted as an integer",
        v.type_name()
    ))
}

impl Semaphore {
    fn new(value: u64, bounded: bool) -> Self {
        Semaphore {
            value: Mutex::new(value),
            bound: bounded.then_some(value),
            released: Waiters::new(),
        }
    }

    fn take(value: &mut u64) -> Option<()> {
        if *value == 0 {
            None
        } else {
            *value -= 1;
            Some(())
        }
    }

    /// `acquire(blocking=True, timeout=None)` as `threading.Semaphore`.
    fn acquire(&self, args: Args) -> Call<'_> {
        const SIG: Sig = Sig::py("Semaphore.acquire", &["blocking", "timeout"], 0);
        let mut b = match args.bind(&SIG) {
            Ok(b) => b,
            Err(e) => return Call::err(e),
        };
        let blocking = b.take(0).is_none_or(|v| v.truthy());
        let timeout = b.take(1).filter(|t| !matches!(t, Value::None));
        if !blocking && timeout.is_some() {
            return Call::err(PyException::value_error(
                "can't specify timeout for non-blocking acquire",
            ));
        }
        if Semaphore::take(&mut guard(&self.value)).is_some() {
            return Call::value(Value::Bool(true));
        }
        if !blocking {
            return Call::value(Value::Bool(false));
        }
        let deadline = match &timeout {
            None => None,
            Some(t) => match seconds(t) {
                // CPython computes `_time() + timeout` only once it must wait.
                None => {
                    return Call::err(PyException::type_error(format!(
                        "unsupported operand type(s) for +: 'float' and '{}'",
                        t.type_name()
                    )))
                }
                // CPython polls once and gives up.
                Some(secs) if secs.is_nan() || secs <= 0.0 => {
                    return Call::value(Value::Bool(false))
                }
                Some(secs) => Some(deadline_in(secs)),
            },
        };
        Call::wait(async move {
            let got = wait_until(&self.value, &self.released, deadline, Semaphore::take).await;
            Ok(Value::Bool(got.is_some()).into())
        })
    }

    /// `release(n=1)`; a bounded semaphore refuses to exceed its initial
    /// value, checked before anything changes.
    fn release(&self, args: Args) -> Result<Value, PyException> {
        let sig = if self.bound.is_some() {
            Sig::py("BoundedSemaphore.release", &["n"], 0)
        } else {
            Sig::py("Semaphore.release", &["n"], 0)
        };
        let n = args.bind(&sig)?.take(0).unwrap_or(Value::Int(1));
        let one_or_more = || PyException::value_error("n must be one or more");
        let too_many = || PyException::value_error("Semaphore released too many times");
        let n: u64 = match &n {
            Value::Int(i) => u64::try_from(*i)
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(one_or_more)?,
            Value::Bool(true) => 1,
            Value::Bool(false) => return Err(one_or_more()),
            Value::BigInt(b) if b.sign() == num_bigint::Sign::Minus => return Err(one_or_more()),
            // Larger than any counter: only a bounded check can answer it.
            Value::BigInt(_) if self.bound.is_some() => return Err(too_many()),
            Value::BigInt(_) => u64::MAX,
            Value::Float(f) if *f < 1.0 => return Err(one_or_more()),
            Value::Float(_) => return Err(not_an_integer(&n)),
            other => return Err(compare_error("<", other)),
        };
        {
            let mut value = guard(&self.value);
            let new = value.checked_add(n).ok_or_else(|| {
                PyException::msg(ExcKind::OverflowError, "semaphore value too large")
            })?;
            if self.bound.is_some_and(|bound| new > bound) {
                return Err(too_many());
            }
            *value = new;
        }
        if n > WAKE_ONE_BY_ONE {
            self.released.notify_waiters();
        } else {
            (0..n).for_each(|_| self.released.notify_one());
        }
        Ok(Value::None)
    }
}

impl Semaphore {
    /// CPython's `<threading.Semaphore at 0x...: value=1>` (`value=1/3`
    /// for a bounded one); `at` is `" at 0x..."` or empty.
    fn describe(&self, at: &str) -> String {
        let value = *guard(&self.value);
        match self.bound {
            Some(bound) => format!("<threading.BoundedSemaphore{at}: value={value}/{bound}>"),
            None => format!("<threading.Semaphore{at}: value={value}>"),
        }
    }
}

impl SharedObject for Semaphore {
    fn type_name(&self) -> &'static str {
        if self.bound.is_some() {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        }
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        match method {
            "acquire" => self.acquire(args),
            "release" => self.release(args).into(),
            // 3.14's `multiprocessing.Semaphore.locked()`: the counter is 0
            // (`threading.Semaphore` has none, docs/protocol.md 9.6).
            "locked" => no_args("Semaphore.locked", args)
                .map(|()| Value::Bool(*guard(&self.value) == 0))
                .into(),
            other => Call::err(PyException::attribute_error(format!(
                "'{}' object has no attribute '{other}'",
                self.type_name()
            ))),
        }
    }

    fn repr(&self) -> String {
        self.describe("")
    }

    fn repr_at(&self, addr: &str) -> String {
        self.describe(&format!(" at {addr}"))
    }

    /// CPython's semaphore holds a `Condition(Lock())`, which cannot pickle.
    fn get_value(&self) -> Result<Value, String> {
        Err("cannot pickle '_thread.lock' object".into())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::lock::wait::testing::*;
    use crate::store::{ConnId, Store};

    fn make(bounded: bool, args: Vec<Value>) -> Result<Arc<dyn SharedObject>, PyException> {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        if bounded {
            create_bounded(&ctx, Args::new(args))
        } else {
            create_semaphore(&ctx, Args::new(args))
        }
    }

    fn value_of(s: &Arc<dyn SharedObject>) -> u64 {
        *guard(&s.as_any().downcast_ref::<Semaphore>().unwrap().value)
    }

    #[test]
    fn counts_like_the_captured_session() {
        // locks.json: s = m.Semaphore(2); acquire; acquire; acquire(False).
        let s = make(false, vec![Value::Int(2)]).unwrap();
        let sem = s.as_ref();
        assert_eq!(now(sem, 1, "acquire", vec![t()]).unwrap(), t());
        assert_eq!(now(sem, 2, "acquire", vec![]).unwrap(), t());
        assert_eq!(now(sem, 1, "locked", vec![]).unwrap(), t());
        assert_eq!(now(sem, 1, "acquire", vec![f()]).unwrap(), f());
        // No owner: another connection releases.
        assert_eq!(now(sem, 3, "release", vec![]).unwrap(), Value::None);
        assert_eq!(sem.repr(), "<threading.Semaphore: value=1>");
        assert_eq!(
            sem.repr_at("0xab"),
            "<threading.Semaphore at 0xab: value=1>"
        );
        // An unbounded semaphore grows past its initial value.
        now(sem, 3, "release", vec![Value::Int(5)]).unwrap();
        assert_eq!(value_of(&s), 6);
        assert_eq!(
            sem.get_value().unwrap_err(),
            "cannot pickle '_thread.lock' object"
        );
    }

    #[test]
    fn cpython_errors() {
        assert_exc(
            make(false, vec![Value::Int(-1)]).map(|_| Value::None),
            ExcKind::ValueError,
            "semaphore initial value must be >= 0",
        );
        assert_exc(
            make(false, vec![Value::str("x")]).map(|_| Value::None),
            ExcKind::TypeError,
            "'<' not supported between instances of 'str' and 'int'",
        );
        let b = make(true, vec![]).unwrap();
        let sem = b.as_ref();
        assert_eq!(sem.type_name(), "BoundedSemaphore");
        assert_exc(
            now(sem, 1, "release", vec![]),
            ExcKind::ValueError,
            "Semaphore released too many times",
        );
        assert_exc(
            now(sem, 1, "release", vec![Value::Int(0)]),
            ExcKind::ValueError,
            "n must be one or more",
        );
        assert_exc(
            now(sem, 1, "acquire", vec![f(), Value::Int(1)]),
            ExcKind::ValueError,
            "can't specify timeout for non-blocking acquire",
        );
        // `timeout` is only used once the caller must wait.
        assert_eq!(
            now(sem, 1, "acquire", vec![t(), Value::str("x")]).unwrap(),
            t()
        );
        assert_eq!(sem.repr(), "<threading.BoundedSemaphore: value=0/1>");
        assert_exc(
            now(sem, 1, "acquire", vec![t(), Value::str("x")]),
            ExcKind::TypeError,
            "unsupported operand type(s) for +: 'float' and 'str'",
        );
        // A negative timeout gives up at once.
        assert_eq!(
            now_args(
                sem,
                1,
                "acquire",
                kw(vec![], &[("timeout", Value::Int(-3))])
            )
            .unwrap(),
            f()
        );
        // A failed bounded release changes nothing.
        now(sem, 1, "release", vec![]).unwrap();
        assert!(now(sem, 1, "release", vec![]).is_err());
        assert_eq!(value_of(&b), 1);
    }

    #[tokio::test]
    async fn release_n_wakes_n_waiters_and_timeouts_expire() {
        let s = make(false, vec![Value::Int(0)]).unwrap();
        let a = spawn(&s, 1, "acquire", vec![]);
        let b = spawn(&s, 2, "acquire", vec![t()]);
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 3,
            store: &store,
        };
        let started = std::time::Instant::now();
        let timed = finish(s.call(&ctx, "acquire", Args::new(vec![t(), Value::Float(0.05)])));
        assert_eq!(timed.await.unwrap(), f());
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        now(s.as_ref(), 4, "release", vec![Value::Int(2)]).unwrap();
        assert_eq!(joined(a).await.unwrap(), t());
        assert_eq!(joined(b).await.unwrap(), t());
        assert_eq!(value_of(&s), 0);
    }

    #[tokio::test]
    async fn a_cancelled_acquire_takes_nothing() {
        let s = make(false, vec![Value::Int(0)]).unwrap();
        let store = Store::new(16);
        let ctx = |conn: ConnId| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2) = (ctx(1), ctx(2));
        let woken = pending(s.call(&c1, "acquire", Args::default())).await;
        let next = pending(s.call(&c2, "acquire", Args::default())).await;
        now(s.as_ref(), 3, "release", vec![]).unwrap();
        // The woken waiter goes away before running: the unit it was woken
        // for must go to the next waiter, not vanish.
        drop(woken);
        assert_eq!(finish(Call::Wait(next)).await.unwrap(), t());
        assert_eq!(value_of(&s), 0);
        let gone = pending(s.call(&c1, "acquire", Args::default())).await;
        drop(gone);
        now(s.as_ref(), 3, "release", vec![]).unwrap();
        assert_eq!(value_of(&s), 1);
    }
}
