//! The manager's control functions (CPython's `Server.public`, docs/protocol.md 5.3):
//! `dummy`, `create`, `incref`, `decref`, `get_methods`, `debug_info`,
//! `number_of_objects`, `shutdown` and `accept_connection`.
//!
//! Each runs on its own short connection. Success is `#RETURN`; any failure
//! is `#TRACEBACK` with the exception CPython's server would have raised
//! (`KeyError` for an unknown typeid or id, `AssertionError` for an unknown
//! function).

use crate::args::{Args, Sig};
use crate::objects::CallCtx;
use crate::proxyref;
use crate::pyexc::{ExcKind, PyException};
use crate::registry;
use crate::reply::Reply;
use crate::request::Request;
use crate::state::Shared;
use crate::store::{ConnId, NewObject};
use mpcluster_wire::Value;
use tracing::{debug, info};

// `Server` methods are called as `f(self, c, *args, **kwds)`.
const DUMMY: Sig = Sig::server("Server.dummy", &[], 0, 2);
const INCREF: Sig = Sig::server("Server.incref", &["ident"], 1, 2);
const DECREF: Sig = Sig::server("Server.decref", &["ident"], 1, 2);
const GET_METHODS: Sig = Sig::server("Server.get_methods", &["token"], 1, 2);
const DEBUG_INFO: Sig = Sig::server("Server.debug_info", &[], 0, 2);
const NUMBER_OF_OBJECTS: Sig = Sig::server("Server.number_of_objects", &[], 0, 2);
const SHUTDOWN: Sig = Sig::server("Server.shutdown", &[], 0, 2);
const ACCEPT_CONNECTION: Sig = Sig::server("Server.accept_connection", &["name"], 1, 2);

/// Answers one control request. `shutdown` answers twice, as CPython does
/// (docs/protocol.md 5.8); clients read only the first.
pub async fn handle(shared: &Shared, conn: ConnId, mut req: Request) -> Vec<Reply> {
    let name = match req.name_str() {
        Some(n) if metric_label(n) != "other" => n.to_string(),
        _ => {
            return vec![Reply::Traceback(PyException::msg(
                ExcKind::AssertionError,
                format!(
                    "{} unrecognized{}",
                    req.name.repr(),
                    hint_for(req.name_str().unwrap_or_default())
                ),
            ))]
        }
    };
    let name = name.as_str();
    let args = match req.take_args() {
        Ok(a) => a,
        Err(e) => {
            let callable = format!("multiprocessing.managers.Server.{name}");
            return vec![Reply::Traceback(e.to_exception(None, &callable))];
        }
    };
    let result = match name {
        "dummy" => args.bind(&DUMMY).map(|_| Value::None),
        "create" => create(shared, conn, args),
        "incref" => ident_arg(args, &INCREF).and_then(|id| {
            shared.store.incref(&id)?;
            Ok(Value::None)
        }),
        "decref" => ident_arg(args, &DECREF).and_then(|id| {
            shared.store.decref(&id)?;
            Ok(Value::None)
        }),
        "get_methods" => get_methods(shared, args),
        "debug_info" => args.bind(&DEBUG_INFO).map(|_| debug_info(shared)),
        "number_of_objects" => args
            .bind(&NUMBER_OF_OBJECTS)
            .map(|_| Value::Int(shared.store.number_of_objects() as i64)),
        "shutdown" => return shutdown(shared, args),
        // `accept_connection` is handled by the connection before this.
        _ => args.bind(&ACCEPT_CONNECTION).map(|_| Value::None),
    };
    match result {
        Ok(v) => vec![Reply::Return(v)],
        Err(e) => {
            debug!(function = name, error = %e, "control request failed");
            vec![Reply::Traceback(e)]
        }
    }
}

/// The metrics label of a control function: its name when it is one,
/// `other` otherwise (names come from peers: labels must stay bounded).
pub fn metric_label(name: &str) -> &'static str {
    const KNOWN: &[&str] = &[
        "dummy",
        "create",
        "incref",
        "decref",
        "get_methods",
        "debug_info",
        "number_of_objects",
        "shutdown",
        "accept_connection",
    ];
    KNOWN
        .iter()
        .find(|k| **k == name)
        .copied()
        .unwrap_or("other")
}

/// `accept_connection(name)`: the client's process and thread name.
pub fn accept_connection(args: Args) -> Result<String, Reply> {
    let mut b = args.bind(&ACCEPT_CONNECTION).map_err(Reply::Traceback)?;
    Ok(match b.req(0) {
        Value::Str(s) => s,
        other => other.repr(),
    })
}

/// What to do instead, for control functions of other CPython servers that
/// a manager client may well try (CPython's message, then this).
fn hint_for(name: &str) -> &'static str {
    match name {
        // `SharedMemoryManager` (`SharedMemoryServer`): the client makes
        // the segment on its own host and asks the server to unlink it at
        // shutdown, which a server elsewhere cannot do.
        "track_segment" | "release_segment" | "list_segments" => {
            " (mpcluster: SharedMemoryManager's segment tracking is not served; \
             create segments with multiprocessing.shared_memory on the host that uses them, \
             and share their names through a dict or Namespace)"
        }
        _ => "",
    }
}

fn ident_arg(args: Args, sig: &Sig) -> Result<String, PyException> {
    match args.bind(sig)?.req(0) {
        Value::Str(s) => Ok(s),
        // No object has a non-str id: CPython's table lookup fails the same way.
        other => Err(PyException::key_error(other)),
    }
}

/// `create(typeid, *args, **kwds)` (docs/protocol.md 5.4): build the object, count the
/// creator's reference, reply `(ident, exposed)`.
fn create(shared: &Shared, conn: ConnId, mut args: Args) -> Result<Value, PyException> {
    if args.pos.is_empty() {
        return Err(PyException::type_error(
            "Server.create() missing 1 required positional argument: 'typeid'",
        ));
    }
    let typeid = match args.pos.remove(0) {
        Value::Str(s) => s,
        other => return Err(PyException::key_error(other)),
    };
    let (id, exposed) = if let Some(id) = shared.named.get(&typeid) {
        // A named object: every create returns the same one (docs/protocol.md 10). Its
        // CPython counterpart is a callable without parameters.
        if !args.is_empty() {
            let given = args.pos.len();
            return Err(PyException::type_error(match args.kw.first() {
                Some((k, _)) => format!("{typeid}() got an unexpected keyword argument '{k}'"),
                None => format!(
                    "{typeid}() takes 0 positional arguments but {given} {} given",
                    if given == 1 { "was" } else { "were" }
                ),
            }));
        }
        shared.store.incref(id)?;
        let entry = shared
            .store
            .get(id)
            .ok_or_else(|| PyException::key_error(Value::from(id.as_str())))?;
        (id.clone(), entry.exposed)
    } else {
        let kind = registry::lookup(&typeid)
            .ok_or_else(|| PyException::key_error(Value::from(typeid.as_str())))?;
        // A new object stores its arguments: past `--max-memory`, refused
        // (getting a named object above stores nothing and stays allowed).
        if let Err(e) = shared.settings.max_memory.check() {
            shared.metrics.memory_refusals.inc();
            return Err(e);
        }
        let Some(constructor) = kind.create else {
            // CPython wraps its single argument as is; we only make such
            // objects ourselves (dict iterators).
            return Err(if args.pos.len() != 1 || !args.kw.is_empty() {
                PyException::value_error("Without callable, must have one non-keyword argument")
            } else {
                PyException::type_error(format!(
                    "mpcluster creates {typeid} objects itself and cannot wrap a client value"
                ))
            });
        };
        shared.adopt_proxies(&mut args);
        let ctx = CallCtx {
            conn,
            store: &shared.store,
        };
        let obj = constructor(&ctx, args)?;
        let entry = shared.store.insert_with(
            NewObject {
                typeid: typeid.clone(),
                obj,
                exposed: kind.exposed,
                method_to_typeid: kind.method_to_typeid,
                named: false,
            },
            1,
            None,
        )?;
        (entry.id.clone(), kind.exposed)
    };
    debug!(%typeid, %id, "created");
    Ok(Value::tuple([
        Value::Str(id),
        Value::tuple(exposed.iter().map(|m| Value::from(*m))),
    ]))
}

/// `get_methods(token)`: the exposed names of the token's object.
fn get_methods(shared: &Shared, args: Args) -> Result<Value, PyException> {
    let token = args.bind(&GET_METHODS)?.req(0);
    let id = proxyref::token_id(&token).ok_or_else(|| {
        PyException::attribute_error(format!(
            "'{}' object has no attribute 'id'",
            token.type_name()
        ))
    })?;
    let entry = shared
        .store
        .get(id)
        .ok_or_else(|| PyException::key_error(Value::from(id)))?;
    // CPython keeps the exposed names as a set: no duplicates.
    let mut names: Vec<&str> = Vec::new();
    for m in entry.exposed {
        if !names.contains(m) {
            names.push(m);
        }
    }
    Ok(Value::tuple(names.into_iter().map(Value::from)))
}

/// CPython's `debug_info` text: each counted id, sorted, with its count and
/// the start of its `str()`.
fn debug_info(shared: &Shared) -> Value {
    let mut entries: Vec<_> = shared
        .store
        .entries()
        .into_iter()
        .filter(|e| e.refcount() > 0)
        .collect();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let text: String = e
                .obj
                .repr_at(&format!("0x{}", e.id))
                .chars()
                .take(75)
                .collect();
            format!("  {}:       refcount={}\n    {}", e.id, e.refcount(), text)
        })
        .collect();
    Value::Str(lines.join("\n"))
}

/// `shutdown()`: refused unless `--allow-remote-shutdown` (a cluster
/// service must not be stoppable by any client).
fn shutdown(shared: &Shared, args: Args) -> Vec<Reply> {
    if let Err(e) = args.bind(&SHUTDOWN) {
        return vec![Reply::Traceback(e)];
    }
    if !shared.settings.allow_remote_shutdown {
        return vec![Reply::Traceback(PyException::msg(
            ExcKind::PermissionError,
            "remote shutdown is disabled on this mpcluster manager \
             (start it with --allow-remote-shutdown to allow it)",
        ))];
    }
    info!("shutdown requested by a client");
    shared.shutdown.cancel();
    vec![Reply::none(), Reply::none()]
}
