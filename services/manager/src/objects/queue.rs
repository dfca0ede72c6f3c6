//! `Queue` and `JoinableQueue` (docs/protocol.md 9.10): CPython's `queue.Queue(maxsize=0)`
//! (one class serves both typeids) for `AutoProxy` clients.
//!
//! Items live in a `VecDeque` behind a `std::sync::Mutex`, with CPython's
//! three conditions as `Notify`s: `not_empty` (getters), `not_full`
//! (putters) and `all_tasks_done` (`join`). Blocking calls use the shared
//! [`wait_until`] loop: an item only ever leaves the queue inside the
//! critical section of the call that returns it, so a `get` dropped because
//! its client went away can never lose one, and a wake-up it received
//! passes to the next waiter (tokio's `notify_one` hand-off). Waiters are
//! woken in arrival order (tokio's `Notify` is FIFO), though, as in CPython,
//! a newly arriving call may take an item before a woken waiter runs.
//!
//! `shutdown` has 3.13's semantics; only 3.13+ clients can unpickle the
//! `queue.ShutDown` it leads to, and only they call it.

use crate::args::{Args, Sig};
use crate::objects::lock::wait::{
    compare_error, deadline_in, guard, no_args, seconds, wait_until, Waiters,
};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

pub const EXPOSED: &[&str] = &[
    "empty",
    "full",
    "get",
    "get_nowait",
    "join",
    "put",
    "put_nowait",
    "qsize",
    "shutdown",
    "task_done",
];

#[derive(Default)]
struct State {
    items: VecDeque<Value>,
    /// CPython's `unfinished_tasks`: puts not yet matched by `task_done`.
    unfinished: u64,
    shutdown: bool,
}

pub struct Queue {
    /// 0 for an unbounded queue (CPython: any `maxsize <= 0`).
    maxsize: usize,
    state: Mutex<State>,
    not_empty: Waiters,
    not_full: Waiters,
    all_tasks_done: Waiters,
}

/// `Queue(maxsize=0)`.
pub fn create(_: &CallCtx<'_>, args: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    const SIG: Sig = Sig::py("Queue.__init__", &["maxsize"], 0);
    let maxsize = match args.bind(&SIG)?.take(0) {
        None => 0,
        Some(v) => bound(&v)?,
    };
    Ok(Arc::new(Queue {
        maxsize,
        state: Mutex::default(),
        not_empty: Waiters::new(),
        not_full: Waiters::new(),
        all_tasks_done: Waiters::new(),
    }))
}

/// The bound a `maxsize` stands for. CPython compares it with sizes
/// (`maxsize > 0`, `qsize() >= maxsize`), so any real number works: a
/// fractional bound rounds up, a huge one never fills. Non-numbers fail
/// with the `TypeError` CPython's first `put` would raise.
fn bound(v: &Value) -> Result<usize, PyException> {
    match seconds(v) {
        None => Err(compare_error(">", v)),
        Some(x) if x.is_nan() || x <= 0.0 => Ok(0),
        // Saturating float-to-int conversion.
        Some(x) => Ok(x.ceil() as usize),
    }
}

fn shut_down() -> PyException {
    PyException::bare(ExcKind::QueueShutDown)
}

fn negative_timeout() -> PyException {
    PyException::value_error("'timeout' must be a non-negative number")
}

/// A `timeout` that is not `None`, as the number of seconds `timeout < 0`
/// compares (CPython's `TypeError` for anything else).
fn timeout_secs(t: &Value) -> Result<f64, PyException> {
    seconds(t).ok_or_else(|| compare_error("<", t))
}

impl Queue {
    fn is_full(&self, s: &State) -> bool {
        self.maxsize > 0 && s.items.len() >= self.maxsize
    }

    /// Appends under the lock: CPython's `_put`, `unfinished_tasks += 1`,
    /// `not_empty.notify()`.
    fn push(&self, s: &mut State, item: Value) {
        s.items.push_back(item);
        s.unfinished = s.unfinished.saturating_add(1);
        self.not_empty.notify_one();
    }

    /// Takes the first item under the lock and wakes a putter.
    fn pop(&self, s: &mut State) -> Option<Value> {
        let item = s.items.pop_front()?;
        self.not_full.notify_one();
        Some(item)
    }

    /// `put(item, block=True, timeout=None)`.
    fn put(&self, item: Value, block: bool, timeout: Option<Value>) -> Call<'_> {
        let mut s = guard(&self.state);
        if s.shutdown {
            return Call::err(shut_down());
        }
        // Only a bounded queue looks at `block` and `timeout`, and checks
        // the timeout even when there is room (verified on 3.8-3.13).
        let deadline = if self.maxsize > 0 && block {
            match timeout.as_ref().map(timeout_secs) {
                None => None,
                Some(Err(e)) => return Call::err(e),
                Some(Ok(secs)) if secs < 0.0 => return Call::err(negative_timeout()),
                Some(Ok(secs)) => Some(deadline_in(secs)),
            }
        } else {
            None
        };
        if !self.is_full(&s) {
            self.push(&mut s, item);
            return Call::none();
        }
        if !block {
            return Call::err(PyException::bare(ExcKind::QueueFull));
        }
        drop(s);
        let mut item = Some(item);
        Call::wait(async move {
            let done = wait_until(&self.state, &self.not_full, deadline, |s| {
                if s.shutdown {
                    return Some(Err(shut_down()));
                }
                if self.is_full(s) {
                    return None;
                }
                if let Some(item) = item.take() {
                    self.push(s, item);
                }
                Some(Ok(Value::None.into()))
            })
            .await;
            done.unwrap_or_else(|| Err(PyException::bare(ExcKind::QueueFull)))
        })
    }

    /// `get(block=True, timeout=None)`.
    fn get(&self, block: bool, timeout: Option<Value>) -> Call<'_> {
        let mut s = guard(&self.state);
        if s.shutdown && s.items.is_empty() {
            return Call::err(shut_down());
        }
        let deadline = if !block {
            None
        } else {
            // Checked even when an item is waiting, as CPython does.
            match timeout.as_ref().map(timeout_secs) {
                None => None,
                Some(Err(e)) => return Call::err(e),
                Some(Ok(secs)) if secs < 0.0 => return Call::err(negative_timeout()),
                Some(Ok(secs)) => Some(deadline_in(secs)),
            }
        };
        if let Some(item) = self.pop(&mut s) {
            return Call::value(item);
        }
        if !block {
            return Call::err(PyException::bare(ExcKind::QueueEmpty));
        }
        drop(s);
        Call::wait(async move {
            let got = wait_until(&self.state, &self.not_empty, deadline, |s| {
                match self.pop(s) {
                    Some(item) => Some(Ok(item.into())),
                    None if s.shutdown => Some(Err(shut_down())),
                    None => None,
                }
            })
            .await;
            got.unwrap_or_else(|| Err(PyException::bare(ExcKind::QueueEmpty)))
        })
    }

    fn task_done(&self) -> Result<Value, PyException> {
        let mut s = guard(&self.state);
        if s.unfinished == 0 {
            return Err(PyException::value_error(
                "task_done() called too many times",
            ));
        }
        s.unfinished -= 1;
        if s.unfinished == 0 {
            self.all_tasks_done.notify_waiters();
        }
        Ok(Value::None)
    }

    fn join(&self) -> Call<'_> {
        if guard(&self.state).unfinished == 0 {
            return Call::none();
        }
        Call::wait(async move {
            wait_until(&self.state, &self.all_tasks_done, None, |s| {
                (s.unfinished == 0).then_some(())
            })
            .await;
            Ok(Value::None.into())
        })
    }

    /// 3.13's `shutdown(immediate=False)`: later puts fail; gets fail once
    /// the queue is empty, at once if `immediate` (which also discards the
    /// items and counts them done). Every waiter wakes to re-check.
    fn shutdown(&self, immediate: bool) {
        let mut s = guard(&self.state);
        s.shutdown = true;
        if immediate {
            let drained = s.items.len() as u64;
            s.items.clear();
            s.unfinished = s.unfinished.saturating_sub(drained);
            self.all_tasks_done.notify_waiters();
        }
        self.not_empty.notify_waiters();
        self.not_full.notify_waiters();
    }
}

impl SharedObject for Queue {
    fn type_name(&self) -> &'static str {
        "Queue"
    }

    fn call<'a>(&'a self, _ctx: &'a CallCtx<'a>, method: &str, args: Args) -> Call<'a> {
        const PUT: Sig = Sig::py("Queue.put", &["item", "block", "timeout"], 1);
        const GET: Sig = Sig::py("Queue.get", &["block", "timeout"], 0);
        const PUT_NOWAIT: Sig = Sig::py("Queue.put_nowait", &["item"], 1);
        const SHUTDOWN: Sig = Sig::py("Queue.shutdown", &["immediate"], 0);
        let not_none = |v: Option<Value>| v.filter(|t| !matches!(t, Value::None));
        let len = || guard(&self.state).items.len();
        match method {
            "put" => match args.bind(&PUT) {
                Ok(mut b) => {
                    let item = b.req(0);
                    let block = b.take(1).is_none_or(|v| v.truthy());
                    self.put(item, block, not_none(b.take(2)))
                }
                Err(e) => Call::err(e),
            },
            "put_nowait" => match args.bind(&PUT_NOWAIT) {
                Ok(mut b) => self.put(b.req(0), false, None),
                Err(e) => Call::err(e),
            },
            "get" => match args.bind(&GET) {
                Ok(mut b) => {
                    let block = b.take(0).is_none_or(|v| v.truthy());
                    self.get(block, not_none(b.take(1)))
                }
                Err(e) => Call::err(e),
            },
            "get_nowait" => match no_args("Queue.get_nowait", args) {
                Ok(()) => self.get(false, None),
                Err(e) => Call::err(e),
            },
            "qsize" => no_args("Queue.qsize", args)
                .map(|()| Value::Int(i64::try_from(len()).unwrap_or(i64::MAX)))
                .into(),
            "empty" => no_args("Queue.empty", args)
                .map(|()| Value::Bool(len() == 0))
                .into(),
            "full" => no_args("Queue.full", args)
                .map(|()| Value::Bool(self.is_full(&guard(&self.state))))
                .into(),
            "task_done" => no_args("Queue.task_done", args)
                .and_then(|()| self.task_done())
                .into(),
            "join" => match no_args("Queue.join", args) {
                Ok(()) => self.join(),
                Err(e) => Call::err(e),
            },
            "shutdown" => args
                .bind(&SHUTDOWN)
                .map(|mut b| {
                    self.shutdown(b.take(0).is_some_and(|v| v.truthy()));
                    Value::None
                })
                .into(),
            other => Call::err(PyException::attribute_error(format!(
                "'Queue' object has no attribute '{other}'"
            ))),
        }
    }

    /// CPython's default `<queue.Queue object at 0x...>`.
    fn repr(&self) -> String {
        "<queue.Queue object>".into()
    }

    fn repr_at(&self, addr: &str) -> String {
        format!("<queue.Queue object at {addr}>")
    }

    /// A `queue.Queue` holds locks, so CPython's `#GETVALUE` fails.
    fn get_value(&self) -> Result<Value, String> {
        Err("cannot pickle '_thread.lock' object".into())
    }

    fn refs(&self, out: &mut Vec<String>) {
        for item in &guard(&self.state).items {
            proxyref::collect_ids(item, out);
        }
    }

    fn mem_bytes(&self) -> Option<usize> {
        let state = guard(&self.state);
        Some(mpcluster_wire::value::items_bytes(
            state.items.iter(),
            state.items.capacity(),
        ))
    }

    fn len_hint(&self) -> Option<usize> {
        Some(guard(&self.state).items.len())
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
    use crate::store::Store;
    use mpcluster_wire::Object;

    fn make(args: Vec<Value>) -> Arc<dyn SharedObject> {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        create(&ctx, Args::new(args)).unwrap()
    }

    fn int(i: i64) -> Value {
        Value::Int(i)
    }

    fn bare(r: Outcome, kind: ExcKind) {
        match r {
            Err(e) => {
                assert_eq!(e.kind, kind);
                assert!(e.args.is_empty(), "{kind:?} carries no arguments");
            }
            Ok(v) => panic!("expected {kind:?}, got {v:?}"),
        }
    }

    #[test]
    fn fifo_sizes_and_nowait_errors() {
        let q = make(vec![int(2)]);
        let q = q.as_ref();
        assert_eq!(now(q, 1, "empty", vec![]).unwrap(), t());
        bare(now(q, 1, "get_nowait", vec![]), ExcKind::QueueEmpty);
        bare(now(q, 1, "get", vec![f()]), ExcKind::QueueEmpty);
        now(q, 1, "put", vec![int(1)]).unwrap();
        now(q, 1, "put_nowait", vec![int(2)]).unwrap();
        assert_eq!(now(q, 1, "full", vec![]).unwrap(), t());
        assert_eq!(now(q, 1, "qsize", vec![]).unwrap(), int(2));
        assert_eq!(q.len_hint(), Some(2));
        bare(now(q, 1, "put", vec![int(3), f()]), ExcKind::QueueFull);
        bare(now(q, 1, "put_nowait", vec![int(3)]), ExcKind::QueueFull);
        assert_eq!(now(q, 2, "get", vec![]).unwrap(), int(1));
        assert_eq!(now(q, 2, "get_nowait", vec![]).unwrap(), int(2));
        assert_eq!(q.repr(), "<queue.Queue object>");
        assert_eq!(q.repr_at("0xab"), "<queue.Queue object at 0xab>");
        assert_eq!(
            q.get_value().unwrap_err(),
            "cannot pickle '_thread.lock' object"
        );
        assert_exc(
            now(q, 1, "put", vec![]),
            ExcKind::TypeError,
            "Queue.put() missing 1 required positional argument: 'item'",
        );
        // A fractional bound rounds up, as `qsize() >= 1.5` does.
        let q = make(vec![Value::Float(1.5)]);
        now(q.as_ref(), 1, "put", vec![int(1)]).unwrap();
        assert_eq!(now(q.as_ref(), 1, "full", vec![]).unwrap(), f());
    }

    #[test]
    fn timeout_rules_of_the_spec() {
        let unbounded = make(vec![]);
        let q = unbounded.as_ref();
        // An unbounded put ignores its timeout entirely.
        now(q, 1, "put", vec![int(1), t(), int(-1)]).unwrap();
        now_args(
            q,
            1,
            "put",
            kw(vec![int(2)], &[("timeout", Value::str("x"))]),
        )
        .unwrap();
        // `get` checks it even when an item is there...
        assert_exc(
            now(q, 1, "get", vec![t(), int(-1)]),
            ExcKind::ValueError,
            "'timeout' must be a non-negative number",
        );
        assert_exc(
            now_args(q, 1, "get", kw(vec![], &[("timeout", Value::str("x"))])),
            ExcKind::TypeError,
            "'<' not supported between instances of 'str' and 'int'",
        );
        // ...but not when not blocking.
        assert_eq!(now(q, 1, "get", vec![f(), int(-1)]).unwrap(), int(1));
        let bounded = make(vec![int(5)]);
        assert_exc(
            now(
                bounded.as_ref(),
                1,
                "put",
                vec![int(1), t(), Value::Float(-0.5)],
            ),
            ExcKind::ValueError,
            "'timeout' must be a non-negative number",
        );
        now(bounded.as_ref(), 1, "put", vec![int(1), f(), int(-1)]).unwrap();
        assert_exc(
            make_err(vec![Value::str("x")]),
            ExcKind::TypeError,
            "'>' not supported between instances of 'str' and 'int'",
        );
    }

    fn make_err(args: Vec<Value>) -> Outcome {
        let store = Store::new(16);
        let ctx = CallCtx {
            conn: 1,
            store: &store,
        };
        create(&ctx, Args::new(args)).map(|_| Value::None)
    }

    #[tokio::test]
    async fn blocking_calls_time_out() {
        let q = make(vec![int(1)]);
        let started = std::time::Instant::now();
        let got = spawn(&q, 1, "get", vec![t(), Value::Float(0.05)]);
        bare(joined(got).await, ExcKind::QueueEmpty);
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        now(q.as_ref(), 1, "put", vec![int(1)]).unwrap();
        let started = std::time::Instant::now();
        let put = spawn(&q, 2, "put", vec![int(2), t(), Value::Float(0.05)]);
        bare(joined(put).await, ExcKind::QueueFull);
        assert!(started.elapsed() >= std::time::Duration::from_millis(50));
        assert_eq!(now(q.as_ref(), 1, "qsize", vec![]).unwrap(), int(1));
    }

    #[tokio::test]
    async fn waiting_getters_and_putters_are_served_in_order() {
        let q = make(vec![]);
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2, c3) = (ctx(1), ctx(2), ctx(3));
        let first = pending(q.call(&c1, "get", Args::default())).await;
        let second = pending(q.call(&c2, "get", Args::new(vec![t(), Value::Float(30.0)]))).await;
        now(q.as_ref(), 3, "put", vec![Value::str("a")]).unwrap();
        now(q.as_ref(), 3, "put", vec![Value::str("b")]).unwrap();
        assert_eq!(finish(Call::Wait(first)).await.unwrap(), Value::str("a"));
        assert_eq!(finish(Call::Wait(second)).await.unwrap(), Value::str("b"));
        // A full bounded queue makes putters wait for room.
        let q = make(vec![int(1)]);
        now(q.as_ref(), 3, "put", vec![int(1)]).unwrap();
        let putter = pending(q.call(&c3, "put", Args::new(vec![int(2)]))).await;
        assert_eq!(now(q.as_ref(), 1, "get", vec![]).unwrap(), int(1));
        finish(Call::Wait(putter)).await.unwrap();
        assert_eq!(now(q.as_ref(), 1, "get", vec![]).unwrap(), int(2));
    }

    #[tokio::test]
    async fn a_put_to_a_waiting_getter_is_a_handoff() {
        let q = make(vec![]);
        let store = Store::new(16);
        let c1 = CallCtx {
            conn: 1,
            store: &store,
        };
        take_handoff();
        now(q.as_ref(), 2, "put", vec![int(1)]).unwrap();
        assert!(!take_handoff(), "nobody waited");
        assert_eq!(now(q.as_ref(), 1, "get", vec![]).unwrap(), int(1));
        let getter = pending(q.call(&c1, "get", Args::default())).await;
        now(q.as_ref(), 2, "put", vec![int(2)]).unwrap();
        assert!(take_handoff());
        assert_eq!(finish(Call::Wait(getter)).await.unwrap(), int(2));
    }

    #[tokio::test]
    async fn cancelled_calls_lose_no_item() {
        let q = make(vec![int(1)]);
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2, c3) = (ctx(1), ctx(2), ctx(3));
        let idle = pending(q.call(&c3, "get", Args::default())).await;
        drop(idle);
        let woken = pending(q.call(&c1, "get", Args::default())).await;
        let next = pending(q.call(&c2, "get", Args::default())).await;
        now(q.as_ref(), 3, "put", vec![Value::str("only")]).unwrap();
        // Woken for the item, then gone: the item goes to the next getter.
        drop(woken);
        assert_eq!(finish(Call::Wait(next)).await.unwrap(), Value::str("only"));
        // A cancelled putter adds nothing.
        now(q.as_ref(), 3, "put", vec![int(1)]).unwrap();
        let putter = pending(q.call(&c3, "put", Args::new(vec![int(2)]))).await;
        drop(putter);
        assert_eq!(now(q.as_ref(), 1, "get", vec![]).unwrap(), int(1));
        bare(
            now(q.as_ref(), 1, "get_nowait", vec![]),
            ExcKind::QueueEmpty,
        );
    }

    #[tokio::test]
    async fn task_done_and_join() {
        let q = make(vec![]);
        let store = Store::new(16);
        let c1 = CallCtx {
            conn: 1,
            store: &store,
        };
        assert_eq!(
            finish(q.call(&c1, "join", Args::default())).await.unwrap(),
            Value::None
        );
        now(q.as_ref(), 2, "put", vec![int(1)]).unwrap();
        now(q.as_ref(), 2, "put", vec![int(2)]).unwrap();
        let mut join = pending(q.call(&c1, "join", Args::default())).await;
        now(q.as_ref(), 2, "get", vec![]).unwrap();
        now(q.as_ref(), 2, "task_done", vec![]).unwrap();
        let still = tokio::time::timeout(std::time::Duration::from_millis(20), &mut join).await;
        assert!(still.is_err(), "join returned with a task unfinished");
        now(q.as_ref(), 2, "task_done", vec![]).unwrap();
        assert_eq!(finish(Call::Wait(join)).await.unwrap(), Value::None);
        assert_exc(
            now(q.as_ref(), 2, "task_done", vec![]),
            ExcKind::ValueError,
            "task_done() called too many times",
        );
    }

    #[tokio::test]
    async fn shutdown_wakes_everybody() {
        let q = make(vec![int(1)]);
        let getter = make(vec![]);
        let store = Store::new(16);
        let ctx = |conn| CallCtx {
            conn,
            store: &store,
        };
        let (c1, c2) = (ctx(1), ctx(2));
        let waiting_get = pending(getter.call(&c1, "get", Args::default())).await;
        now(q.as_ref(), 3, "put", vec![int(1)]).unwrap();
        let waiting_put = pending(q.call(&c2, "put", Args::new(vec![int(2)]))).await;
        now(q.as_ref(), 3, "shutdown", vec![]).unwrap();
        now(getter.as_ref(), 3, "shutdown", vec![]).unwrap();
        bare(
            finish(Call::Wait(waiting_get)).await,
            ExcKind::QueueShutDown,
        );
        bare(
            finish(Call::Wait(waiting_put)).await,
            ExcKind::QueueShutDown,
        );
        bare(
            now(q.as_ref(), 3, "put_nowait", vec![int(3)]),
            ExcKind::QueueShutDown,
        );
        // Not immediate: what is queued can still be taken.
        assert_eq!(now(q.as_ref(), 3, "get", vec![]).unwrap(), int(1));
        bare(now(q.as_ref(), 3, "get", vec![]), ExcKind::QueueShutDown);

        let q = make(vec![]);
        now(q.as_ref(), 3, "put", vec![int(1)]).unwrap();
        now(q.as_ref(), 3, "put", vec![int(2)]).unwrap();
        let join = pending(q.call(&c1, "join", Args::default())).await;
        now_args(q.as_ref(), 3, "shutdown", kw(vec![], &[("immediate", t())])).unwrap();
        assert_eq!(finish(Call::Wait(join)).await.unwrap(), Value::None);
        assert_eq!(now(q.as_ref(), 3, "qsize", vec![]).unwrap(), int(0));
        bare(now(q.as_ref(), 3, "get", vec![]), ExcKind::QueueShutDown);
    }

    #[test]
    fn queued_proxies_are_references() {
        let q = make(vec![]);
        let token = crate::proxyref::token("list", &("127.0.0.1".into(), 1), "abc");
        let proxy = Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "ListProxy"),
                token,
                Value::str("pickle"),
                Value::Dict(Box::default()),
            ],
        )));
        now(q.as_ref(), 1, "put", vec![Value::tuple([int(1), proxy])]).unwrap();
        let mut refs = Vec::new();
        q.refs(&mut refs);
        assert_eq!(refs, vec!["abc".to_string()]);
        now(q.as_ref(), 1, "get", vec![]).unwrap();
        refs.clear();
        q.refs(&mut refs);
        assert!(refs.is_empty());
    }
}
