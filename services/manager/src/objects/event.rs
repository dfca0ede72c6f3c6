//! `Event` (docs/protocol.md 9.8): CPython's `threading.Event()` served to `EventProxy`
//! clients (`is_set`, `set`, `clear`, `wait(timeout=None)`).
//!
//! CPython's `Event.wait` returns True when the flag was set at any moment
//! of the wait, even if it was cleared again before the waiter ran (its
//! `Condition.wait` reports the notification). A flag alone cannot tell
//! that, so the state also counts `set()` calls: a waiter returns True when
//! the flag is set or the count moved since it started waiting.

use crate::args::{Args, Sig};
use crate::objects::lock::wait::{
    compare_error, deadline_in, guard, no_args, seconds, wait_until, Waiters,
};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::pyexc::PyException;
use mpcluster_wire::Value;
use std::any::Any;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &["is_set", "set", "clear", "wait"];

#[derive(Default)]
struct Flag {
    set: bool,
    /// Number of `set()` calls so far.
    sets: u64,
}

#[derive(Default)]
pub struct Event {
    flag: Mutex<Flag>,
    changed: Waiters,
}

pub fn create(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    no_args("Event.__init__", args)?;
    Ok(Arc::new(Event::default()))
}

impl Event {
    fn set(&self) {
        {
            let mut f = guard(&self.flag);
            f.set = true;
            f.sets = f.sets.wrapping_add(1);
        }
        self.changed.notify_waiters();
    }

    /// `wait(timeout=None)`: True at once when set; otherwise waits for a
    /// `set()` or the timeout (a timeout <= 0 does not wait, as CPython's
    /// `Condition.wait` then only polls).
    fn wait(&self, args: Args) -> Call<'_> {
        const SIG: Sig = Sig::py("Event.wait", &["timeout"], 0);
        let timeout = match args.bind(&SIG) {
            Ok(mut b) => b.take(0).filter(|t| !matches!(t, Value::None)),
            Err(e) => return Call::err(e),
        };
        let start = {
            let f = guard(&self.flag);
            if f.set {
                return Call::value(Value::Bool(true));
            }
            f.sets
        };
        let deadline = match &timeout {
            None => None,
            Some(t) => match seconds(t) {
                None => return Call::err(compare_error(">", t)),
                Some(secs) if secs.is_nan() || secs <= 0.0 => {
                    return Call::value(Value::Bool(false))
                }
                Some(secs) => Some(deadline_in(secs)),
            },
        };
        Call::wait(async move {
            let signalled = wait_until(&self.flag, &self.changed, deadline, |f| {
                (f.set || f.sets != start).then_some(())
            })
            .await;
            Ok(Value::Bool(signalled.is_some()).into())
        })
    }
}

impl Event {
    /// CPython's `<threading.Event at 0x...: set>`; `at` is `" at 0x..."`
    /// or empty.
    fn describe(&self, at: &str) -> String {
        let state = if guard(&self.flag).set {
            "set"
        } else {
            "unset"
        };
        format!("<threading.Event{at}: {state}>")
    }
}

impl SharedObject for Event {
    fn type_name(&self) -> &'static str {
        "Event"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        match method {
            "is_set" => no_args("Event.is_set", args)
                .map(|()| Value::Bool(guard(&self.flag).set))
                .into(),
            "set" => no_args("Event.set", args)
                .map(|()| {
                    self.set();
                    Value::None
                })
                .into(),
            "clear" => no_args("Event.clear", args)
                .map(|()| {
                    guard(&self.flag).set = false;
                    Value::None
                })
                .into(),
            "wait" => self.wait(args),
            other => Call::err(PyException::attribute_error(format!(
                "'Event' object has no attribute '{other}'"
            ))),
        }
    }

    fn repr(&self) -> String {
        self.describe("")
    }

    fn repr_at(&self, addr: &str) -> String {
        self.describe(&format!(" at {addr}"))
    }

    /// CPython's event holds a `Condition(Lock())`, which cannot pickle.
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
    use crate::pyexc::ExcKind;
    use crate::store::Store;

    #[tokio::test]
    async fn flag_and_timeouts() {
        let e = Event::default();
        assert_eq!(now(&e, 1, "is_set", vec![]).unwrap(), f());
        assert_eq!(e.repr(), "<threading.Event: unset>");
        assert_eq!(e.repr_at("0xab"), "<threading.Event at 0xab: unset>");
        assert_eq!(now(&e, 1, "wait", vec![Value::Int(0)]).unwrap(), f());
        assert_exc(
            now(&e, 1, "wait", vec![Value::str("x")]),
            ExcKind::TypeError,
            "'>' not supported between instances of 'str' and 'int'",
        );
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        let started = std::time::Instant::now();
        let timed = finish(e.call(&ctx, "wait", Args::new(vec![Value::Float(0.05)])));
        assert_eq!(timed.await.unwrap(), f());
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        now(&e, 2, "set", vec![]).unwrap();
        assert_eq!(now(&e, 1, "is_set", vec![]).unwrap(), t());
        // Set: `wait` answers at once, whatever the timeout.
        assert_eq!(now(&e, 1, "wait", vec![Value::None]).unwrap(), t());
        assert_eq!(now(&e, 1, "wait", vec![Value::str("x")]).unwrap(), t());
        now(&e, 2, "clear", vec![]).unwrap();
        assert_eq!(now(&e, 1, "is_set", vec![]).unwrap(), f());
        // Python methods count `self` in their messages (CPython 3.11).
        assert_exc(
            now(&e, 1, "set", vec![Value::Int(1)]),
            ExcKind::TypeError,
            "Event.set() takes 1 positional argument but 2 were given",
        );
        assert_exc(
            now(&e, 1, "wait", vec![Value::Int(1), Value::Int(2)]),
            ExcKind::TypeError,
            "Event.wait() takes from 1 to 2 positional arguments but 3 were given",
        );
    }

    #[tokio::test]
    async fn set_wakes_every_waiter_even_if_cleared_at_once() {
        let e = Event::default();
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2, c3) = (ctx(1), ctx(2), ctx(3));
        let a = pending(e.call(&c1, "wait", Args::new(vec![Value::None]))).await;
        let b = pending(e.call(&c2, "wait", Args::new(vec![Value::Float(30.0)]))).await;
        let gone = pending(e.call(&c3, "wait", Args::new(vec![Value::None]))).await;
        drop(gone);
        e.set();
        guard(&e.flag).set = false;
        // CPython's waiters were notified, so they report True.
        assert_eq!(finish(Call::Wait(a)).await.unwrap(), t());
        assert_eq!(finish(Call::Wait(b)).await.unwrap(), t());
    }
}
