//! A serving connection: method calls on objects until the client closes
//! (CPython's `Server.serve_client`, spec 5.5).
//!
//! For each request: look the id up, check the method is exposed (or serve
//! the `__str__`/`__repr__`/`#GETVALUE` fallbacks), call the object, and
//! answer `#RETURN`, `#ERROR` or `#PROXY`. A call that waits (`Queue.get`,
//! `Lock.acquire`) is awaited while the socket is still watched: if the
//! client disconnects the wait is dropped (its object left as if the call
//! never happened), and any request a pipelining client sent ahead is kept
//! in order for after the reply.

use crate::args::{Args, Sig};
use crate::connection::{self, Conn, ConnError};
use crate::objects::lock::wait::take_handoff;
use crate::objects::{Call, CallCtx, Ret, SharedObject};
use crate::proxyref;
use crate::pyexc::PyException;
use crate::registry;
use crate::reply::Reply;
use crate::request::Request;
use crate::state::Shared;
use crate::store::{Entry, NewObject};
use bytes::Bytes;
use mpcluster_wire::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tracing::trace;

/// Serves method calls on `conn` until EOF or error. Shutdown and an
/// admin's drop end it from outside (`connection::handle` drops this
/// future), which spares every read a second cancellation check.
pub async fn run(shared: &Arc<Shared>, mut conn: Conn) -> Result<(), ConnError> {
    let mut owned = Owned {
        shared,
        conn: conn.id,
        ids: Vec::new(),
    };
    serve(shared, &mut conn, &mut owned.ids).await
}

/// Creation references of `#PROXY` results the client never took over (a
/// manager-less CPython proxy, gh-99595): they die with the connection,
/// however it ends.
struct Owned<'a> {
    shared: &'a Shared,
    conn: crate::store::ConnId,
    ids: Vec<String>,
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        for id in self.ids.drain(..) {
            self.shared.store.release_proxy_owner(&id, self.conn);
        }
    }
}

async fn serve(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    owned: &mut Vec<String>,
) -> Result<(), ConnError> {
    let max = shared.settings.max_frame;
    let mut pending: VecDeque<Bytes> = VecDeque::new();
    let mut used = UsedObjects::default();
    let mut recorder = shared.metrics.recorder();
    // When the previous request was answered: a request already buffered
    // starts then, which saves a clock read per pipelined request.
    let mut answered: Option<Instant> = None;
    // The last call woke another connection's waiter (see `take_handoff`).
    let mut handed_off = false;
    loop {
        let frame = match pending.pop_front() {
            Some(f) => f,
            None => match conn.buffered_frame(max)? {
                // More requests already in: their replies join the batch.
                Some(f) => f,
                None => {
                    answered = None;
                    // Counted before the replies leave: a client that has
                    // its reply sees it in /metrics.
                    recorder.publish();
                    if std::mem::take(&mut handed_off) {
                        // Let the woken connection answer first.
                        YieldOnce(false).await;
                    }
                    conn.flush().await?;
                    match conn.read_frame(max).await? {
                        Some(f) => f,
                        None => return Ok(()),
                    }
                }
            },
        };
        let started = answered.take().unwrap_or_else(Instant::now);
        let (entry, method, args) = match prepare(shared, &frame) {
            Ok(call) => call,
            Err((label, reply)) => {
                let kind = reply.kind();
                let n = conn.queue(reply);
                let now = Instant::now();
                conn.info.count(frame.len(), n);
                recorder.request(label, kind, now - started, frame.len(), n);
                answered = Some(now);
                if conn.out_full() {
                    recorder.publish();
                    conn.flush().await?;
                    answered = None;
                }
                continue;
            }
        };
        entry.touch(conn.id, started, used.first_use(&entry.id));
        let ctx = CallCtx {
            conn: conn.id,
            store: &shared.store,
        };
        take_handoff();
        let result = match entry.obj.call(&ctx, method, args) {
            Call::Done(r) => r,
            Call::Wait(fut) => {
                // Nothing may sit in the output buffer while we wait: the
                // client may need those replies to make our wait end.
                recorder.publish();
                conn.flush().await?;
                conn.info
                    .set_waiting(Some(format!("{}.{}", entry.id, method)));
                shared.metrics.waiting.inc();
                let _waiting = WaitGuard(shared, conn.info.clone());
                let mut fut = fut;
                loop {
                    tokio::select! {
                        r = &mut fut => break r,
                        read = conn.read_frame(max) => match read {
                            Ok(Some(ahead)) => pending.push_back(ahead),
                            // The client is gone: dropping the wait cancels it.
                            Ok(None) => return Ok(()),
                            Err(e) => return Err(e.into()),
                        },
                    }
                }
            }
        };
        handed_off |= take_handoff();
        let reply = match result {
            Ok(Ret::Value(v)) => Reply::Return(v),
            Ok(Ret::Object(obj)) => match register_result(shared, &entry, method, obj, conn.id) {
                Ok((reply, id)) => {
                    owned.push(id);
                    reply
                }
                Err(e) => Reply::Traceback(e),
            },
            Err(e) => Reply::Error(e),
        };
        let kind = reply.kind();
        trace!(id = %entry.id, %method, kind, "call");
        let n = conn.queue(reply);
        let now = Instant::now();
        conn.info.count(frame.len(), n);
        recorder.request(method, kind, now - started, frame.len(), n);
        answered = Some(now);
        if conn.out_full() {
            recorder.publish();
            conn.flush().await?;
            answered = None;
        }
    }
}

/// Returns `Pending` once, waking itself first: the task goes to the back
/// of its worker's run queue, behind a task a hand-off just woke.
///
/// `tokio::task::yield_now` would do the same after polling the I/O driver
/// (it defers the wake-up until then), which costs an `epoll_wait` system
/// call per hand-off for nothing: the woken task is already queued.
struct YieldOnce(bool);

impl std::future::Future for YieldOnce {
    type Output = ();

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        if self.0 {
            return std::task::Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        std::task::Poll::Pending
    }
}

/// The objects this connection has called, so each entry's list of
/// users is updated (under its lock) once per connection, not per call.
#[derive(Default)]
struct UsedObjects(std::collections::HashSet<String, foldhash::fast::RandomState>);

impl UsedObjects {
    /// Bounds the set for a connection that touches many short-lived
    /// objects (iterators): forgetting only means one more locked update.
    const MAX: usize = 4096;

    fn first_use(&mut self, id: &str) -> bool {
        if self.0.contains(id) {
            return false;
        }
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(id.to_string());
        true
    }
}

/// Clears the "waiting" marks however a wait ends (reply, disconnect,
/// shutdown).
struct WaitGuard<'a>(&'a Shared, Arc<crate::clients::ClientInfo>);

impl Drop for WaitGuard<'_> {
    fn drop(&mut self) {
        self.0.metrics.waiting.dec();
        self.1.set_waiting(None);
    }
}

/// Decodes a request and finds its object and method, or the reply
/// CPython's `serve_client` would give, with a bounded metrics label.
fn prepare(
    shared: &Shared,
    frame: &[u8],
) -> Result<(Arc<Entry>, &'static str, Args), (&'static str, Reply)> {
    let other = |r: Reply| ("other", r);
    let value = connection::decode(shared, frame).map_err(|e| other(Reply::Traceback(e)))?;
    let mut req = Request::parse(value).map_err(|e| other(Reply::Traceback(e)))?;
    let entry = lookup(shared, &req.ident).map_err(other)?;
    let method = match &req.name {
        Value::Str(s) => s.clone(),
        v @ (Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::ByteArray(_)) => {
            // `name in exposed` hashes the name.
            return Err(other(Reply::Traceback(PyException::type_error(format!(
                "unhashable type: '{}'",
                v.type_name()
            )))));
        }
        v => return Err(other(not_exposed(&entry, v))),
    };
    if let Some(method) = entry
        .exposed_name(&method)
        .filter(|m| entry.obj.has_method(m))
    {
        return match req.take_args() {
            Ok(mut args) => {
                if crate::memory::stores_data(&entry.typeid, method) {
                    if let Err(e) = shared.settings.max_memory.check() {
                        shared.metrics.memory_refusals.inc();
                        return Err((method, Reply::Error(e)));
                    }
                }
                shared.adopt_proxies(&mut args);
                Ok((entry, method, args))
            }
            // CPython expands `*args, **kwds` inside the call: `#ERROR`.
            Err(e) => {
                let callable = format!("{}.{method}", entry.obj.type_name());
                Err((
                    method,
                    Reply::Error(e.to_exception(Some(&callable), &callable)),
                ))
            }
        };
    }
    let Some((label, fallback_name)) = fallback_of(&method) else {
        return Err(other(not_exposed(&entry, &req.name)));
    };
    // CPython reaches the fallback while handling the exposure check's
    // `AttributeError`, so a failing fallback shows both.
    let unexposed = not_exposed_error(&entry, &req.name);
    let args = match req.take_args() {
        Ok(a) => a,
        Err(e) => {
            let callable = format!("multiprocessing.managers.Server.{fallback_name}");
            let e = e.to_exception(None, &callable).during(unexposed);
            return Err((label, Reply::Traceback(e)));
        }
    };
    Err((
        label,
        fallback(&entry, label, fallback_name, args, unexposed),
    ))
}

fn lookup(shared: &Shared, ident: &Value) -> Result<Arc<Entry>, Reply> {
    match ident {
        // CPython's id table holds a malformed sentinel under '0'.
        Value::Str(id) if id == "0" => Err(Reply::Traceback(PyException::value_error(
            "not enough values to unpack (expected 3, got 2)",
        ))),
        Value::Str(id) => shared
            .store
            .get(id)
            .ok_or_else(|| Reply::Traceback(PyException::key_error(ident.clone()))),
        Value::List(_) | Value::Dict(_) | Value::Set(_) | Value::ByteArray(_) => {
            Err(Reply::Traceback(PyException::type_error(format!(
                "unhashable type: '{}'",
                ident.type_name()
            ))))
        }
        other => Err(Reply::Traceback(PyException::key_error(other.clone()))),
    }
}

/// CPython's `fallback_mapping`: served even when not exposed.
fn fallback_of(method: &str) -> Option<(&'static str, &'static str)> {
    match method {
        "__str__" => Some(("__str__", "fallback_str")),
        "__repr__" => Some(("__repr__", "fallback_repr")),
        "#GETVALUE" => Some(("#GETVALUE", "fallback_getvalue")),
        _ => None,
    }
}

/// Runs a fallback, called by CPython as `f(self, conn, ident, obj, *args)`.
fn fallback(
    entry: &Entry,
    method: &str,
    fallback_name: &'static str,
    args: Args,
    unexposed: PyException,
) -> Reply {
    let sig = Sig::server(
        match fallback_name {
            "fallback_str" => "Server.fallback_str",
            "fallback_repr" => "Server.fallback_repr",
            _ => "Server.fallback_getvalue",
        },
        &[],
        0,
        4,
    );
    if let Err(e) = args.bind(&sig) {
        return Reply::Traceback(e.during(unexposed));
    }
    match method {
        // Pickling the referent fails for locks, queues, ...: CPython sends
        // the traceback of that failure.
        "#GETVALUE" => match entry.obj.get_value() {
            Ok(v) => Reply::Return(v),
            Err(text) => Reply::Unserializable(PyException::type_error(text).traceback()),
        },
        _ => Reply::Return(Value::Str(entry.obj.repr_at(&format!("0x{}", entry.id)))),
    }
}

/// CPython's answer to a method it will not call: the `AttributeError` of
/// the exposure check (or of the missing attribute), then the `KeyError` of
/// the fallback lookup raised while handling it.
fn not_exposed(entry: &Entry, method: &Value) -> Reply {
    let first = not_exposed_error(entry, method);
    if matches!(method, Value::None) {
        // CPython's serve_client reports a `None` method name without
        // trying the fallbacks.
        return Reply::Traceback(first);
    }
    Reply::Traceback(PyException::key_error(method.clone()).during(first))
}

/// The `AttributeError` of a method that is not exposed or not there.
fn not_exposed_error(entry: &Entry, method: &Value) -> PyException {
    let name = method.as_str().unwrap_or("");
    if method.as_str().is_some() && entry.is_exposed(name) {
        // Exposed by the typeid but missing on this referent.
        PyException::attribute_error(format!(
            "'{}' object has no attribute '{name}'",
            entry.obj.type_name()
        ))
    } else {
        let mut exposed: Vec<String> = entry.exposed.iter().map(|m| format!("'{m}'")).collect();
        exposed.dedup_by(|a, b| a == b);
        exposed.sort();
        exposed.dedup();
        PyException::attribute_error(format!(
            "method {} of <class '{}'> object is not in exposed={{{}}}",
            method.repr(),
            entry.obj.type_name(),
            exposed.join(", ")
        ))
    }
}

/// Stores a method's new object (`dict.__iter__` → `Iterator`) with one
/// reference owned by this connection until the client's first `decref`,
/// and builds the `#PROXY` reply.
fn register_result(
    shared: &Shared,
    parent: &Entry,
    method: &str,
    obj: Arc<dyn SharedObject>,
    conn: u64,
) -> Result<(Reply, String), PyException> {
    let typeid = parent.result_typeid(method).unwrap_or("Iterator");
    let kind =
        registry::lookup(typeid).ok_or_else(|| PyException::key_error(Value::from(typeid)))?;
    let entry = shared.store.insert_with(
        NewObject {
            typeid: typeid.to_string(),
            obj,
            exposed: kind.exposed,
            method_to_typeid: kind.method_to_typeid,
            named: false,
        },
        1,
        Some(conn),
    )?;
    let exposed = Value::tuple(kind.exposed.iter().map(|m| Value::from(*m)));
    let token = proxyref::token(typeid, &shared.advertised, &entry.id);
    Ok((Reply::Proxy { exposed, token }, entry.id.clone()))
}
