//! `Barrier` (docs/protocol.md 9.9): CPython's `threading.Barrier(parties, action=None,
//! timeout=None)` served to `BarrierProxy` clients.
//!
//! The state machine is CPython's: filling (arrivals get `index = count`,
//! the last one releases everybody), draining (leavers wait until the last
//! has left), resetting and broken. A timeout breaks the barrier for every
//! party, and waiters of a broken, aborted or reset barrier raise
//! `threading.BrokenBarrierError`. Every transition happens under the state
//! mutex and wakes all waiters (`notify_waiters`), who re-check the phase.
//!
//! Differences from CPython, on purpose:
//! * `action` is refused with `NotImplementedError`: it is a Python callable
//!   that would have to run on the server, which never executes client
//!   code (the same error family as `Pool`, which needs node agents).
//! * `__getattribute__` answers only `parties`, `n_waiting` and `broken`
//!   (docs/protocol.md 9.9); CPython would serve any attribute.
//! * `parties` must be an `int` >= 1 (3.13's check; 3.11 accepted 0).
//! * A waiter cancelled because its client went away leaves the barrier as
//!   CPython's `finally: self._count -= 1; self._exit()` does when a waiting
//!   thread is interrupted: its arrival is withdrawn and the other parties
//!   keep waiting (a replacement party can still complete the barrier).

use crate::args::{Args, Sig};
use crate::objects::lock::wait::{deadline_in, guard, no_args, seconds, wait_until, Waiters};
use crate::objects::{Call, CallCtx, CallResult, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;
use std::any::Any;
use std::sync::{Arc, Mutex};
use tokio::time::Instant;

pub const EXPOSED: &[&str] = &["__getattribute__", "wait", "abort", "reset"];

/// CPython's `_state`: 0, 1, -1, -2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Filling,
    Draining,
    Resetting,
    Broken,
}

struct State {
    phase: Phase,
    /// Parties inside `wait` (CPython's `_count`).
    count: u64,
}

pub struct Barrier {
    parties: u64,
    /// The default timeout given to the constructor, checked when used.
    timeout: Option<Value>,
    state: Mutex<State>,
    changed: Waiters,
}

fn broken() -> PyException {
    PyException::bare(ExcKind::BrokenBarrierError)
}

/// `Barrier(parties, action=None, timeout=None)`.
pub fn create(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    const SIG: Sig = Sig::py("Barrier.__init__", &["parties", "action", "timeout"], 1);
    let mut b = args.bind(&SIG)?;
    let parties = match b.req(0) {
        Value::Int(n) if n >= 1 => n as u64,
        Value::Bool(true) => 1,
        Value::Int(_) | Value::Bool(false) => {
            return Err(PyException::value_error("parties must be > 0"))
        }
        Value::BigInt(n) if n.sign() == num_bigint::Sign::Minus => {
            return Err(PyException::value_error("parties must be > 0"))
        }
        Value::BigInt(_) => {
            return Err(PyException::msg(
                ExcKind::OverflowError,
                "Barrier parties too large for this server (at most 2**63-1)",
            ))
        }
        other => {
            return Err(PyException::type_error(format!(
                "'{}' object cannot be interpreted as an integer",
                other.type_name()
            )))
        }
    };
    if b.take(1).is_some_and(|a| !matches!(a, Value::None)) {
        return Err(PyException::msg(
            ExcKind::NotImplementedError,
            "Barrier action is not supported by mpcluster: the action is Python code that \
             would run on the manager, which never executes client code; run it in the \
             party whose wait() returns 0 instead",
        ));
    }
    let timeout = b.take(2).filter(|t| !matches!(t, Value::None));
    Ok(Arc::new(Barrier {
        parties,
        timeout,
        state: Mutex::new(State {
            phase: Phase::Filling,
            count: 0,
        }),
        changed: Waiters::new(),
    }))
}

/// An arrival that has been counted and must be withdrawn if its wait is
/// dropped (CPython's `finally` in `Barrier.wait`).
struct Arrival<'a> {
    barrier: &'a Barrier,
    left: bool,
}

impl Arrival<'_> {
    fn leave(&mut self, s: &mut State) {
        self.left = true;
        self.barrier.leave(s);
    }
}

impl Drop for Arrival<'_> {
    fn drop(&mut self) {
        if !self.left {
            self.barrier.leave(&mut guard(&self.barrier.state));
        }
    }
}

impl Barrier {
    /// CPython's `_count -= 1; _exit()`: the last leaver of a draining or
    /// resetting barrier makes it fill again.
    fn leave(&self, s: &mut State) {
        s.count = s.count.saturating_sub(1);
        if s.count == 0 && matches!(s.phase, Phase::Draining | Phase::Resetting) {
            s.phase = Phase::Filling;
            self.changed.notify_waiters();
        }
    }

    fn set_phase(&self, s: &mut State, phase: Phase) {
        s.phase = phase;
        self.changed.notify_waiters();
    }

    /// `wait(timeout=None)` → the arrival index.
    async fn wait(&self, timeout: Option<Value>) -> CallResult {
        let timeout = timeout.or_else(|| self.timeout.clone());
        // `wait_for` computes `_time() + timeout` only for a party that waits.
        let secs = match &timeout {
            None => Ok(None),
            Some(t) => seconds(t).map(Some).ok_or_else(|| {
                PyException::type_error(format!(
                    "unsupported operand type(s) for +: 'float' and '{}'",
                    t.type_name()
                ))
            }),
        };
        // `_enter`: wait (without a timeout) while the previous cycle drains
        // or resets, then take an index.
        let entered = wait_until(&self.state, &self.changed, None, |s| match s.phase {
            Phase::Draining | Phase::Resetting => None,
            Phase::Broken => Some(Err(broken())),
            Phase::Filling if s.count.saturating_add(1) == self.parties => {
                // The last party releases the others and leaves at once.
                let index = s.count;
                self.set_phase(s, Phase::Draining);
                s.count += 1;
                self.leave(s);
                Some(Ok(Err(index)))
            }
            Phase::Filling => match &secs {
                Err(e) => Some(Err(e.clone())),
                Ok(_) => {
                    s.count += 1;
                    Some(Ok(Ok(s.count - 1)))
                }
            },
        })
        .await;
        let index = match entered {
            // Unreachable: without a deadline `wait_until` only returns a result.
            None => return Err(broken()),
            Some(Err(e)) => return Err(e),
            Some(Ok(Err(last))) => return Ok(index_value(last).into()),
            Some(Ok(Ok(index))) => index,
        };
        // Counted in the same poll that took the index: from here on a
        // dropped future withdraws the arrival.
        let mut arrival = Arrival {
            barrier: self,
            left: false,
        };
        let deadline = secs.ok().flatten().map(deadline_in);
        loop {
            let outcome = wait_until(&self.state, &self.changed, deadline, |s| {
                if s.phase == Phase::Filling {
                    // `wait_for` timed out: break the barrier for everybody.
                    if deadline.is_none_or(|d| Instant::now() < d) {
                        return None;
                    }
                    self.set_phase(s, Phase::Broken);
                }
                let result = match s.phase {
                    Phase::Resetting | Phase::Broken => Err(broken()),
                    Phase::Filling | Phase::Draining => Ok(index_value(index).into()),
                };
                arrival.leave(s);
                Some(result)
            })
            .await;
            // `None` only if the timer fired a hair before the deadline.
            if let Some(result) = outcome {
                return result;
            }
        }
    }

    fn get_attribute(&self, args: Args) -> Result<Value, PyException> {
        if !args.kw.is_empty() {
            return Err(PyException::type_error(
                "wrapper __getattribute__() takes no keyword arguments",
            ));
        }
        let [name] = args.pos.as_slice() else {
            return Err(PyException::type_error(format!(
                "expected 1 argument, got {}",
                args.pos.len()
            )));
        };
        let Some(name) = name.as_str() else {
            return Err(PyException::type_error(format!(
                "attribute name must be string, not '{}'",
                name.type_name()
            )));
        };
        let s = guard(&self.state);
        match name {
            "parties" => Ok(index_value(self.parties)),
            "n_waiting" => Ok(index_value(if s.phase == Phase::Filling {
                s.count
            } else {
                0
            })),
            "broken" => Ok(Value::Bool(s.phase == Phase::Broken)),
            other => Err(PyException::attribute_error(format!(
                "'Barrier' object has no attribute '{other}'"
            ))),
        }
    }

    /// `reset()`, CPython's rules: waiters of the current cycle break; a
    /// broken barrier with waiters still inside resets once they leave.
    fn reset(&self) {
        let mut s = guard(&self.state);
        let phase = if s.count == 0 {
            Phase::Filling
        } else if matches!(s.phase, Phase::Filling | Phase::Broken) {
            Phase::Resetting
        } else {
            s.phase
        };
        self.set_phase(&mut s, phase);
    }
}

impl Barrier {
    /// CPython's `<threading.Barrier at 0x...: waiters=1/3>` (or `broken`);
    /// `at` is `" at 0x..."` or empty.
    fn describe(&self, at: &str) -> String {
        let s = guard(&self.state);
        if s.phase == Phase::Broken {
            return format!("<threading.Barrier{at}: broken>");
        }
        let waiting = if s.phase == Phase::Filling {
            s.count
        } else {
            0
        };
        format!(
            "<threading.Barrier{at}: waiters={waiting}/{}>",
            self.parties
        )
    }
}

/// Counts are below `parties`, itself at most `i64::MAX`.
fn index_value(n: u64) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

impl SharedObject for Barrier {
    fn type_name(&self) -> &'static str {
        "Barrier"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        match method {
            "__getattribute__" => self.get_attribute(args).into(),
            "wait" => {
                const SIG: Sig = Sig::py("Barrier.wait", &["timeout"], 0);
                match args.bind(&SIG) {
                    Ok(mut b) => {
                        let timeout = b.take(0).filter(|t| !matches!(t, Value::None));
                        Call::wait(self.wait(timeout))
                    }
                    Err(e) => Call::err(e),
                }
            }
            "abort" => no_args("Barrier.abort", args)
                .map(|()| {
                    self.set_phase(&mut guard(&self.state), Phase::Broken);
                    Value::None
                })
                .into(),
            "reset" => no_args("Barrier.reset", args)
                .map(|()| {
                    self.reset();
                    Value::None
                })
                .into(),
            other => Call::err(PyException::attribute_error(format!(
                "'Barrier' object has no attribute '{other}'"
            ))),
        }
    }

    fn repr(&self) -> String {
        self.describe("")
    }

    fn repr_at(&self, addr: &str) -> String {
        self.describe(&format!(" at {addr}"))
    }

    /// CPython's barrier holds a `Condition(Lock())`, which cannot pickle.
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
    use crate::store::Store;

    fn make(args: Vec<Value>) -> Result<Arc<dyn SharedObject>, PyException> {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        create(&ctx, Args::new(args))
    }

    fn attr(b: &Arc<dyn SharedObject>, name: &str) -> Value {
        now(b.as_ref(), 9, "__getattribute__", vec![Value::str(name)]).unwrap()
    }

    fn broken_error(r: Outcome) {
        match r {
            Err(e) => assert_eq!(e.kind, ExcKind::BrokenBarrierError),
            Ok(v) => panic!("expected BrokenBarrierError, got {v:?}"),
        }
    }

    async fn n_waiting(b: &Arc<dyn SharedObject>, n: i64) {
        until(|| attr(b, "n_waiting") == Value::Int(n)).await;
    }

    #[test]
    fn construction_follows_cpython_where_it_can() {
        let err = |args| make(args).map(|_| Value::None);
        assert_exc(
            err(vec![Value::Int(0)]),
            ExcKind::ValueError,
            "parties must be > 0",
        );
        assert!(err(vec![]).unwrap_err().message().contains("'parties'"));
        let action = err(vec![Value::Int(2), Value::global("builtins", "print")]);
        assert_eq!(action.unwrap_err().kind, ExcKind::NotImplementedError);
        let b = make(vec![Value::Int(3), Value::None, Value::None]).unwrap();
        assert_eq!(attr(&b, "parties"), Value::Int(3));
        assert_eq!(attr(&b, "broken"), f());
        assert_exc(
            now(b.as_ref(), 1, "__getattribute__", vec![Value::str("_cond")]),
            ExcKind::AttributeError,
            "'Barrier' object has no attribute '_cond'",
        );
        assert_exc(
            now(b.as_ref(), 1, "__getattribute__", vec![]),
            ExcKind::TypeError,
            "expected 1 argument, got 0",
        );
        assert_exc(
            now(b.as_ref(), 1, "__getattribute__", vec![Value::Int(1)]),
            ExcKind::TypeError,
            "attribute name must be string, not 'int'",
        );
        assert_eq!(b.repr(), "<threading.Barrier: waiters=0/3>");
        assert_eq!(
            b.repr_at("0xab"),
            "<threading.Barrier at 0xab: waiters=0/3>"
        );
    }

    #[tokio::test]
    async fn three_parties_get_distinct_indices_twice() {
        let b = make(vec![Value::Int(3)]).unwrap();
        for _round in 0..2 {
            let first = spawn(&b, 1, "wait", vec![Value::None]);
            let second = spawn(&b, 2, "wait", vec![Value::None]);
            n_waiting(&b, 2).await;
            assert_eq!(b.repr(), "<threading.Barrier: waiters=2/3>");
            let last = spawn(&b, 3, "wait", vec![]);
            let mut got = vec![
                joined(first).await.unwrap(),
                joined(second).await.unwrap(),
                joined(last).await.unwrap(),
            ];
            got.sort_by_key(|v| v.as_i64());
            assert_eq!(got, vec![Value::Int(0), Value::Int(1), Value::Int(2)]);
        }
    }

    #[tokio::test]
    async fn abort_and_reset_break_the_waiters() {
        let b = make(vec![Value::Int(3)]).unwrap();
        let x = spawn(&b, 1, "wait", vec![Value::None]);
        let y = spawn(&b, 2, "wait", vec![Value::None]);
        n_waiting(&b, 2).await;
        now(b.as_ref(), 3, "abort", vec![]).unwrap();
        broken_error(joined(x).await);
        broken_error(joined(y).await);
        assert_eq!(attr(&b, "broken"), t());
        assert_eq!(b.repr(), "<threading.Barrier: broken>");
        broken_error(joined(spawn(&b, 1, "wait", vec![])).await);
        now(b.as_ref(), 3, "reset", vec![]).unwrap();
        assert_eq!(attr(&b, "broken"), f());
        // Reset while parties wait: they break, then the barrier fills anew.
        let x = spawn(&b, 1, "wait", vec![Value::None]);
        n_waiting(&b, 1).await;
        now(b.as_ref(), 3, "reset", vec![]).unwrap();
        broken_error(joined(x).await);
        let round: Vec<_> = (1..=3).map(|c| spawn(&b, c, "wait", vec![])).collect();
        for h in round {
            assert!(joined(h).await.is_ok());
        }
    }

    #[tokio::test]
    async fn a_timeout_breaks_the_barrier_for_everybody() {
        let b = make(vec![Value::Int(3)]).unwrap();
        let patient = spawn(&b, 1, "wait", vec![Value::None]);
        n_waiting(&b, 1).await;
        let started = std::time::Instant::now();
        broken_error(joined(spawn(&b, 2, "wait", vec![Value::Float(0.05)])).await);
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        broken_error(joined(patient).await);
        assert_eq!(attr(&b, "broken"), t());
        // The constructor's timeout applies when `wait` gives none.
        let b = make(vec![Value::Int(2), Value::None, Value::Float(0.05)]).unwrap();
        broken_error(joined(spawn(&b, 1, "wait", vec![Value::None])).await);
        // A bad timeout is only looked at by a party that must wait.
        let b = make(vec![Value::Int(1), Value::None, Value::str("x")]).unwrap();
        assert_eq!(
            joined(spawn(&b, 1, "wait", vec![])).await.unwrap(),
            Value::Int(0)
        );
        let b = make(vec![Value::Int(2)]).unwrap();
        assert_exc(
            joined(spawn(&b, 1, "wait", vec![Value::str("x")])).await,
            ExcKind::TypeError,
            "unsupported operand type(s) for +: 'float' and 'str'",
        );
        assert_eq!(attr(&b, "n_waiting"), Value::Int(0));
    }

    #[tokio::test]
    async fn a_cancelled_party_withdraws_its_arrival() {
        let b = make(vec![Value::Int(2)]).unwrap();
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2) = (ctx(1), ctx(2));
        // Gone while filling: the count drops back.
        let gone = pending(b.call(&c1, "wait", Args::default())).await;
        assert_eq!(attr(&b, "n_waiting"), Value::Int(1));
        drop(gone);
        assert_eq!(attr(&b, "n_waiting"), Value::Int(0));
        // Gone after being released but before leaving: the barrier must
        // still finish draining, or the next round would hang.
        let released = pending(b.call(&c1, "wait", Args::default())).await;
        assert_eq!(
            finish(b.call(&c2, "wait", Args::default())).await.unwrap(),
            Value::Int(1)
        );
        drop(released);
        let x = spawn(&b, 1, "wait", vec![]);
        let y = spawn(&b, 2, "wait", vec![]);
        assert!(joined(x).await.is_ok() && joined(y).await.is_ok());
    }
}
