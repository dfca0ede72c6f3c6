//! `Queue` and `JoinableQueue` (spec 9.10): CPython's `queue.Queue(maxsize=0)`
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
use crate::objects::lock::wait::{compare_error, deadline_in, guard, seconds, wait_until};
use crate::objects::{Call, CallCtx, SharedObject};
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use mpcluster_wire::Value;
use std::any::Any;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

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
    not_empty: Notify,
    not_full: Notify,
    all_tasks_done: Notify,
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
        not_empty: Notify::new(),
        not_full: Notify::new(),
        all_tasks_done: Notify::new(),
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
            return Err(PyException::value_error("task_done() called too many times"));
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
                    let block = b.take(1).map_or(true, |v| v.truthy());
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
                    let block = b.take(0).map_or(true, |v| v.truthy());
                    self.get(block, not_none(b.take(1)))
                }
                Err(e) => Call::err(e),
            },
            "get_nowait" => match args.none("Queue.get_nowait") {
                Ok(()) => self.get(false, None),
                Err(e) => Call::err(e),
            },
            "qsize" => args
                .none("Queue.qsize")
                .map(|()| Value::Int(i64::try_from(len()).unwrap_or(i64::MAX)))
                .into(),
            "empty" => args
                .none("Queue.empty")
                .map(|()| Value::Bool(len() == 0))
                .into(),
            "full" => args
                .none("Queue.full")
                .map(|()| Value::Bool(self.is_full(&guard(&self.state))))
                .into(),
            "task_done" => args
                .none("Queue.task_done")
                .and_then(|()| self.task_done())
                .into(),
            "join" => match args.none("Queue.join") {
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

    /// CPython's default `<queue.Queue object at 0x...>` without the address.
    fn repr(&self) -> String {
        "<queue.Queue object>".into()
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

    fn len_hint(&self) -> Option<usize> {
        Some(guard(&self.state).items.len())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
