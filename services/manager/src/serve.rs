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

use crate::args::Args;
use crate::connection::{self, Conn, ConnError};
use crate::objects::{Call, CallCtx, Ret, SharedObject};
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use crate::registry;
use crate::reply::Reply;
use crate::request::{BadRequest, Request};
use crate::state::Shared;
use crate::store::{Entry, NewObject};
use bytes::Bytes;
use mpcluster_wire::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;
use tracing::trace;

/// Serves method calls on `conn` until EOF, error or shutdown.
pub async fn run(shared: &Arc<Shared>, mut conn: Conn) -> Result<(), ConnError> {
    let mut owned: Vec<String> = Vec::new();
    let result = serve(shared, &mut conn, &mut owned).await;
    // Creation references of `#PROXY` results the client never took over
    // (a manager-less CPython proxy, gh-99595) die with the connection.
    for id in owned {
        shared.store.release_proxy_owner(&id, conn.id);
    }
    result
}

async fn serve(
    shared: &Arc<Shared>,
    conn: &mut Conn,
    owned: &mut Vec<String>,
) -> Result<(), ConnError> {
    let max = shared.settings.max_frame;
    let mut pending: VecDeque<Bytes> = VecDeque::new();
    loop {
        let frame = match pending.pop_front() {
            Some(f) => f,
            None => {
                let read = tokio::select! {
                    _ = shared.shutdown.cancelled() => return Ok(()),
                    r = conn.read_frame(max) => r?,
                };
                match read {
                    Some(f) => f,
                    None => return Ok(()),
                }
            }
        };
        let started = Instant::now();
        let (entry, method, args) = match prepare(shared, &frame) {
            Ok(call) => call,
            Err(reply) => {
                let kind = reply.kind();
                let n = conn.send(reply).await?;
                conn.info.count(frame.len(), n);
                shared.metrics.request("other", kind, started.elapsed(), frame.len(), n);
                continue;
            }
        };
        if !entry.is_exposed(&method) || !entry.obj.has_method(&method) {
            let reply = fallback(&entry, &method, args);
            let kind = reply.kind();
            let n = conn.send(reply).await?;
            conn.info.count(frame.len(), n);
            let label = if matches!(method.as_str(), "__str__" | "__repr__" | "#GETVALUE") {
                method.clone()
            } else {
                "other".to_string()
            };
            shared.metrics.request(&label, kind, started.elapsed(), frame.len(), n);
            continue;
        }
        entry.touch(conn.id);
        let ctx = CallCtx {
            conn: conn.id,
            store: &shared.store,
        };
        let result = match entry.obj.call(&ctx, &method, args) {
            Call::Done(r) => r,
            Call::Wait(fut) => {
                conn.info.set_waiting(Some(format!("{}.{}", entry.id, method)));
                shared.metrics.waiting.inc();
                let _waiting = WaitGuard(shared, conn.info.clone());
                let mut fut = fut;
                loop {
                    tokio::select! {
                        r = &mut fut => break r,
                        _ = shared.shutdown.cancelled() => return Ok(()),
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
        let reply = match result {
            Ok(Ret::Value(v)) => Reply::Return(v),
            Ok(Ret::Object(obj)) => match register_result(shared, &entry, &method, obj, conn.id) {
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
        let elapsed = started.elapsed();
        let n = conn.send(reply).await?;
        conn.info.count(frame.len(), n);
        shared.metrics.request(&method, kind, elapsed, frame.len(), n);
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

/// Decodes a request and finds its object, or the reply CPython would give.
fn prepare(shared: &Shared, frame: &[u8]) -> Result<(Arc<Entry>, String, Args), Reply> {
    let value = connection::decode(shared, frame).map_err(Reply::Traceback)?;
    let (ident, name, mut args) = match Request::parse(value) {
        Ok(r) => (r.ident, r.name, r.args),
        Err(BadRequest::Unpack(e)) | Err(BadRequest::Name(e)) => return Err(Reply::Traceback(e)),
        // CPython expands `*args, **kwds` inside the call: `#ERROR`, once
        // the object and method are known to be fine.
        Err(BadRequest::Args { ident, name, err }) => {
            let entry = lookup(shared, &ident)?;
            if !entry.is_exposed(&name) {
                return Err(not_exposed(&entry, &name));
            }
            return Err(Reply::Error(err));
        }
    };
    let entry = lookup(shared, &ident)?;
    shared.adopt_proxies(&mut args);
    Ok((entry, name, args))
}

fn lookup(shared: &Shared, ident: &Value) -> Result<Arc<Entry>, Reply> {
    match ident {
        Value::Str(id) => shared
            .store
            .get(id)
            .ok_or_else(|| Reply::Traceback(PyException::key_error(ident.clone()))),
        Value::List(_) | Value::Dict(_) | Value::Set(_) => Err(Reply::Traceback(
            PyException::type_error(format!("unhashable type: '{}'", ident.type_name())),
        )),
        other => Err(Reply::Traceback(PyException::key_error(other.clone()))),
    }
}

/// `__str__`, `__repr__` and `#GETVALUE` are served even when not
/// exposed; any other unexposed name is CPython's `AttributeError`
/// traceback.
fn fallback(entry: &Entry, method: &str, args: Args) -> Reply {
    let name = match method {
        "__str__" | "__repr__" | "#GETVALUE" => method,
        _ => return not_exposed(entry, method),
    };
    if !args.is_empty() {
        return Reply::Traceback(PyException::type_error(format!(
            "fallback {name}() takes 0 arguments but {} were given",
            args.pos.len() + args.kw.len()
        )));
    }
    match name {
        "#GETVALUE" => match entry.obj.get_value() {
            Ok(v) => Reply::Return(v),
            Err(text) => Reply::Unserializable(text),
        },
        _ => Reply::Return(Value::Str(entry.obj.repr())),
    }
}

fn not_exposed(entry: &Entry, method: &str) -> Reply {
    if entry.is_exposed(method) {
        // Exposed by the typeid but missing on this referent.
        return Reply::Traceback(PyException::attribute_error(format!(
            "'{}' object has no attribute '{method}'",
            entry.obj.type_name()
        )));
    }
    let exposed: Vec<String> = entry.exposed.iter().map(|m| format!("'{m}'")).collect();
    Reply::Traceback(PyException::msg(
        ExcKind::AttributeError,
        format!(
            "method {} of <class '{}'> object is not in exposed={{{}}}",
            Value::from(method).repr(),
            entry.obj.type_name(),
            exposed.join(", ")
        ),
    ))
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
    let kind = registry::lookup(typeid).ok_or_else(|| PyException::key_error(Value::from(typeid)))?;
    let entry = shared.store.insert(NewObject {
        typeid: typeid.to_string(),
        obj,
        exposed: kind.exposed,
        method_to_typeid: kind.method_to_typeid,
        named: false,
    })?;
    shared.store.incref(&entry.id)?;
    entry.lock_usage().proxy_owner = Some(conn);
    let exposed = Value::tuple(kind.exposed.iter().map(|m| Value::from(*m)));
    let token = proxyref::token(typeid, &shared.advertised, &entry.id);
    Ok((Reply::Proxy { exposed, token }, entry.id.clone()))
}
