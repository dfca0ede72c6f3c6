//! The one error type of the client, and the remote exceptions it carries.
//!
//! A manager answers a failed call in three ways (docs/protocol.md 5.2): `#ERROR` with
//! the exception the method raised (`KeyError`, `queue.Empty`,
//! `threading.BrokenBarrierError`, ...), `#TRACEBACK` with the text of a
//! failure outside the method (a CPython client raises
//! `multiprocessing.managers.RemoteError`), and `#UNSERIALIZABLE` when the
//! reply could not be pickled (also `RemoteError`). All three become
//! [`Error::Remote`] so callers match on one shape; failures of our own
//! side (connection, authentication, decoding) have their own variants.

use mpcluster_wire::frame::FrameError;
use mpcluster_wire::handshake::AuthError;
use mpcluster_wire::pickle::PickleError;
use mpcluster_wire::value::{Build, SerdeError};
use mpcluster_wire::Value;
use std::fmt;
use std::time::Duration;
use thiserror::Error;

/// The client's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Python type names of the exceptions callers most often match on, as
/// [`RemoteException::py_type`] spells them.
pub mod exc {
    /// `KeyError` (a missing dict key, `decref` of an unknown id).
    pub const KEY_ERROR: &str = "KeyError";
    /// `IndexError` (list and array subscripts, `pop` from an empty list).
    pub const INDEX_ERROR: &str = "IndexError";
    /// `ValueError` (`list.index`, `Semaphore` over-release, ...).
    pub const VALUE_ERROR: &str = "ValueError";
    /// `TypeError` (bad arguments, unorderable values in `sort`).
    pub const TYPE_ERROR: &str = "TypeError";
    /// `AttributeError` (a missing `Namespace` attribute).
    pub const ATTRIBUTE_ERROR: &str = "AttributeError";
    /// `RuntimeError` (releasing a lock this connection does not hold).
    pub const RUNTIME_ERROR: &str = "RuntimeError";
    /// `OverflowError` (an `Array` item out of its typecode's range).
    pub const OVERFLOW_ERROR: &str = "OverflowError";
    /// `StopIteration` (the end of a dict iterator).
    pub const STOP_ITERATION: &str = "StopIteration";
    /// `queue.Empty`; CPython pickles it as `_queue.Empty` (docs/protocol.md 7.2), which
    /// the client renames to the name users import.
    pub const QUEUE_EMPTY: &str = "queue.Empty";
    /// `queue.Full`.
    pub const QUEUE_FULL: &str = "queue.Full";
    /// `queue.ShutDown` (CPython 3.13+ queues).
    pub const QUEUE_SHUTDOWN: &str = "queue.ShutDown";
    /// `threading.BrokenBarrierError`.
    pub const BROKEN_BARRIER: &str = "threading.BrokenBarrierError";
    /// `multiprocessing.managers.RemoteError`: what a CPython client raises
    /// for `#TRACEBACK` and `#UNSERIALIZABLE` replies.
    pub const REMOTE_ERROR: &str = "RemoteError";
}

/// Everything that can go wrong in a call.
#[derive(Debug, Error)]
pub enum Error {
    /// The manager answered with an exception (see [`RemoteException`]).
    #[error("{0}")]
    Remote(Box<RemoteException>),
    /// The handshake failed: the authkeys differ (or a policy refused the
    /// peer's digest). Retrying with the same key cannot succeed.
    #[error("authentication with {address} failed: {source}")]
    Auth {
        /// The manager address.
        address: String,
        /// Why the handshake failed.
        source: AuthError,
    },
    /// The manager could not be reached, or a connection to it broke.
    #[error("connection to {address}: {source}")]
    Connection {
        /// The manager address.
        address: String,
        /// The transport failure.
        source: std::io::Error,
    },
    /// Connecting or authenticating took longer than the configured limit.
    #[error("{what} with {address} timed out after {after:?}")]
    Timeout {
        /// `"connect"` or `"handshake"`.
        what: &'static str,
        /// The manager address.
        address: String,
        /// The limit that was hit.
        after: Duration,
    },
    /// The manager sent something the protocol does not allow (a reply
    /// that is not a `(kind, payload)` pair, an unknown reply kind, a
    /// malformed frame).
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A reply could not be decoded as a pickle.
    #[error("undecodable reply: {0}")]
    Pickle(#[from] PickleError),
    /// A value did not convert between its Rust type and Python: the
    /// manager holds a `str` where the proxy's type expects an `i64`, or a
    /// map key Python cannot hash.
    #[error("value conversion: {0}")]
    Serde(#[from] SerdeError),
    /// A blocking method was called on a thread that runs an async runtime,
    /// where blocking would stall other tasks (and tokio forbids it). Use
    /// the async API there.
    #[error("blocking mpcluster call inside an async runtime; use the async API")]
    BlockingInAsync,
    /// The client's I/O runtime could not be started (no threads left?).
    #[error("cannot start the mpcluster client runtime: {0}")]
    Runtime(std::io::Error),
    /// The client's I/O runtime is gone (the process is shutting down).
    #[error("the mpcluster client runtime has stopped")]
    Shutdown,
    /// An argument the client refuses before sending anything (a negative
    /// count, a proxy of another manager kind).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The remote exception, when the manager raised one.
    pub fn remote(&self) -> Option<&RemoteException> {
        match self {
            Error::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// True when the manager raised the Python exception `py_type`, spelled
    /// as in [`exc`] (`"KeyError"`, `"queue.Empty"`, ...).
    pub fn is_remote(&self, py_type: &str) -> bool {
        self.remote().is_some_and(|r| r.py_type == py_type)
    }

    /// True for authentication failures (a wrong authkey).
    pub fn is_auth(&self) -> bool {
        matches!(self, Error::Auth { .. })
    }

    /// True for failures to reach the manager or lost connections.
    pub fn is_connection(&self) -> bool {
        matches!(self, Error::Connection { .. } | Error::Timeout { .. })
    }

    pub(crate) fn protocol(msg: impl Into<String>) -> Error {
        Error::Protocol(msg.into())
    }

    pub(crate) fn from_frame(address: &str, e: FrameError) -> Error {
        match e {
            FrameError::Io(source) => Error::Connection {
                address: address.to_string(),
                source,
            },
            other => Error::Protocol(other.to_string()),
        }
    }

    pub(crate) fn closed(address: &str) -> Error {
        Error::Connection {
            address: address.to_string(),
            source: std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the manager closed the connection",
            ),
        }
    }
}

/// A Python exception raised by the manager.
#[derive(Debug, Clone)]
pub struct RemoteException {
    /// The exception's type as a user imports it: builtins bare
    /// (`"KeyError"`), others with their module (`"queue.Empty"`,
    /// `"threading.BrokenBarrierError"`); [`exc::REMOTE_ERROR`] for
    /// `#TRACEBACK` and `#UNSERIALIZABLE` replies. See [`exc`].
    pub py_type: String,
    /// The exception's arguments (`('missing',)` for `KeyError('missing')`;
    /// the traceback text for a `RemoteError`).
    pub args: Vec<Value>,
    /// The formatted server-side traceback, for `RemoteError`.
    pub traceback: Option<String>,
}

impl RemoteException {
    /// Reads the exception instance of an `#ERROR` reply: a reduce call of
    /// the exception class with its argument tuple (docs/protocol.md 7.2).
    pub(crate) fn from_instance(v: &Value) -> Option<RemoteException> {
        let Value::Object(o) = v else { return None };
        let Build::Reduce {
            callable: Value::Global(g),
            args,
        } = &o.build
        else {
            return None;
        };
        let args = match args {
            Value::Tuple(items) => items.clone(),
            _ => Vec::new(),
        };
        Some(RemoteException {
            py_type: user_facing_name(&g.module, &g.name),
            args,
            traceback: None,
        })
    }

    /// A `RemoteError` carrying a `#TRACEBACK` text (or the message of an
    /// `#UNSERIALIZABLE` reply, which CPython formats the same way).
    pub(crate) fn remote_error(text: String) -> RemoteException {
        RemoteException {
            py_type: exc::REMOTE_ERROR.to_string(),
            args: vec![Value::Str(text.clone())],
            traceback: Some(text),
        }
    }

    /// The first argument as a string, when it is one: the message of most
    /// exceptions (`'list index out of range'`).
    pub fn message(&self) -> Option<&str> {
        self.args.first().and_then(Value::as_str)
    }

    /// For a `RemoteError`, the exception named by the traceback's last
    /// line (`"KeyError"` for `"KeyError: 'nosuch'"`), which says what
    /// failed on the server.
    pub fn traceback_type(&self) -> Option<&str> {
        let last = self.traceback.as_deref()?.trim_end().lines().last()?;
        let name = last.split(':').next()?.trim();
        (!name.is_empty() && !name.contains(' ')).then_some(name)
    }
}

impl fmt::Display for RemoteException {
    /// `KeyError: 'missing'` as Python prints an exception (`str()` of one
    /// argument, the tuple's `repr` of several).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(tb) = &self.traceback {
            return write!(f, "{}: {}", self.py_type, tb.trim_end());
        }
        match self.args.as_slice() {
            [] => f.write_str(&self.py_type),
            [one] => write!(f, "{}: {}", self.py_type, one.repr_bounded(400)),
            many => write!(
                f,
                "{}: {}",
                self.py_type,
                Value::Tuple(many.to_vec()).repr_bounded(400)
            ),
        }
    }
}

/// `builtins.KeyError` → `KeyError`; `_queue.Empty` → `queue.Empty` (the C
/// module `_queue` defines the class users import from `queue`, docs/protocol.md 7.2);
/// anything else keeps its module.
fn user_facing_name(module: &str, name: &str) -> String {
    match module {
        "builtins" | "exceptions" => name.to_string(),
        "_queue" => format!("queue.{name}"),
        _ => format!("{module}.{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::Object;

    fn instance(module: &str, name: &str, args: Vec<Value>) -> Value {
        Value::Object(Box::new(Object::reduce(Value::global(module, name), args)))
    }

    #[test]
    fn exception_names_are_the_ones_users_import() {
        let cases = [
            ("builtins", "KeyError", "KeyError"),
            ("_queue", "Empty", "queue.Empty"),
            ("queue", "Full", "queue.Full"),
            (
                "threading",
                "BrokenBarrierError",
                "threading.BrokenBarrierError",
            ),
            (
                "multiprocessing.context",
                "TimeoutError",
                "multiprocessing.context.TimeoutError",
            ),
        ];
        for (module, name, want) in cases {
            let r = RemoteException::from_instance(&instance(module, name, vec![])).unwrap();
            assert_eq!(r.py_type, want);
        }
    }

    #[test]
    fn display_matches_python_str_of_the_exception() {
        let r = RemoteException::from_instance(&instance(
            "builtins",
            "KeyError",
            vec![Value::from("missing")],
        ))
        .unwrap();
        assert_eq!(r.to_string(), "KeyError: 'missing'");
        assert_eq!(r.message(), Some("missing"));
        let empty = RemoteException::from_instance(&instance("_queue", "Empty", vec![])).unwrap();
        assert_eq!(empty.to_string(), "queue.Empty");
        let err = Error::Remote(Box::new(empty));
        assert!(err.is_remote(exc::QUEUE_EMPTY));
        assert!(!err.is_remote(exc::KEY_ERROR));
    }

    #[test]
    fn non_exceptions_are_not_read_as_exceptions() {
        assert!(RemoteException::from_instance(&Value::from("text")).is_none());
        assert!(RemoteException::from_instance(&Value::None).is_none());
    }

    #[test]
    fn traceback_type_reads_the_last_line() {
        let r = RemoteException::remote_error(
            "Traceback (most recent call last):\n  File \"x\"\nKeyError: 'nosuch'\n".into(),
        );
        assert_eq!(r.py_type, exc::REMOTE_ERROR);
        assert_eq!(r.traceback_type(), Some("KeyError"));
        let odd = RemoteException::remote_error("no colon here at all".into());
        assert_eq!(odd.traceback_type(), None);
    }
}
