//! The one table of Python exceptions.
//!
//! Everything a CPython client can be made to raise is a [`PyException`]: a
//! kind from [`ExcKind`] plus the exception's arguments. A method that fails
//! answers `('#ERROR', exc)` and the client re-raises exactly that type, so
//! the pickled global of each kind must be the one CPython's server writes
//! (docs/protocol.md 7.2): `queue.Empty` is `_queue.Empty`, a barrier failure is
//! `threading.BrokenBarrierError`. Failures of the server itself (unknown
//! id, method not exposed, bad request shape) are sent as `#TRACEBACK` text
//! whose last line is `Type: message`, as CPython's would be.
//!
//! No other file spells a Python exception name.

use mpcluster_wire::value::OpError;
use mpcluster_wire::{Object, Value};
use std::fmt;

/// The exception types the server raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExcKind {
    KeyError,
    IndexError,
    ValueError,
    TypeError,
    AttributeError,
    RuntimeError,
    OverflowError,
    StopIteration,
    AssertionError,
    NotImplementedError,
    MemoryError,
    PermissionError,
    /// A request pickle the server refused to decode.
    UnpicklingError,
    QueueEmpty,
    QueueFull,
    QueueShutDown,
    BrokenBarrierError,
    /// `multiprocessing.TimeoutError` (`AsyncResult.get`).
    MpTimeoutError,
    /// `multiprocessing.AuthenticationError`.
    AuthenticationError,
    /// `multiprocessing.managers.RemoteError`.
    RemoteError,
}

impl ExcKind {
    /// The `(module, qualname)` global a CPython client unpickles.
    pub fn global(self) -> (&'static str, &'static str) {
        use ExcKind::*;
        match self {
            KeyError => ("builtins", "KeyError"),
            IndexError => ("builtins", "IndexError"),
            ValueError => ("builtins", "ValueError"),
            TypeError => ("builtins", "TypeError"),
            AttributeError => ("builtins", "AttributeError"),
            RuntimeError => ("builtins", "RuntimeError"),
            OverflowError => ("builtins", "OverflowError"),
            StopIteration => ("builtins", "StopIteration"),
            AssertionError => ("builtins", "AssertionError"),
            NotImplementedError => ("builtins", "NotImplementedError"),
            MemoryError => ("builtins", "MemoryError"),
            PermissionError => ("builtins", "PermissionError"),
            UnpicklingError => ("_pickle", "UnpicklingError"),
            // Defined in the C module `_queue`, so that is where it pickles from.
            QueueEmpty => ("_queue", "Empty"),
            QueueFull => ("queue", "Full"),
            // Only 3.13+ clients can import it; only they can call `shutdown`.
            QueueShutDown => ("queue", "ShutDown"),
            BrokenBarrierError => ("threading", "BrokenBarrierError"),
            MpTimeoutError => ("multiprocessing.context", "TimeoutError"),
            AuthenticationError => ("multiprocessing.context", "AuthenticationError"),
            RemoteError => ("multiprocessing.managers", "RemoteError"),
        }
    }

    /// The name a traceback's last line shows (`KeyError`, `_queue.Empty`).
    pub fn traceback_name(self) -> String {
        match self.global() {
            ("builtins", name) => name.to_string(),
            (module, name) => format!("{module}.{name}"),
        }
    }
}

/// A Python exception to raise in the client.
#[derive(Clone, Debug)]
pub struct PyException {
    pub kind: ExcKind,
    pub args: Vec<Value>,
    /// The exception being handled when this one was raised; only shown in
    /// `#TRACEBACK` text (CPython chains the `KeyError` of its fallback
    /// lookup onto the `AttributeError` of a method that is not exposed).
    pub context: Option<Box<PyException>>,
}

impl PyException {
    pub fn new(kind: ExcKind, args: Vec<Value>) -> Self {
        PyException {
            kind,
            args,
            context: None,
        }
    }

    /// This exception, raised while handling `context`.
    pub fn during(mut self, context: PyException) -> Self {
        self.context = Some(Box::new(context));
        self
    }

    /// An exception with one message argument.
    pub fn msg(kind: ExcKind, message: impl Into<String>) -> Self {
        PyException::new(kind, vec![Value::Str(message.into())])
    }

    /// An exception without arguments (`queue.Empty()`).
    pub fn bare(kind: ExcKind) -> Self {
        PyException::new(kind, Vec::new())
    }

    pub fn key_error(key: Value) -> Self {
        PyException::new(ExcKind::KeyError, vec![key])
    }

    pub fn type_error(message: impl Into<String>) -> Self {
        PyException::msg(ExcKind::TypeError, message)
    }

    pub fn value_error(message: impl Into<String>) -> Self {
        PyException::msg(ExcKind::ValueError, message)
    }

    pub fn index_error(message: impl Into<String>) -> Self {
        PyException::msg(ExcKind::IndexError, message)
    }

    pub fn runtime_error(message: impl Into<String>) -> Self {
        PyException::msg(ExcKind::RuntimeError, message)
    }

    pub fn attribute_error(message: impl Into<String>) -> Self {
        PyException::msg(ExcKind::AttributeError, message)
    }

    /// The pickled exception instance: `REDUCE(global, args)`, the plain
    /// 3.11 form every supported client loads (docs/protocol.md 7.2).
    pub fn to_value(&self) -> Value {
        let (module, name) = self.kind.global();
        Value::Object(Box::new(Object::reduce(
            Value::global(module, name),
            self.args.clone(),
        )))
    }

    /// `str(exc)` as Python prints it: the single argument's `str`, the
    /// tuple of arguments otherwise; `KeyError` shows its key's `repr`.
    pub fn message(&self) -> String {
        match self.args.as_slice() {
            [] => String::new(),
            [one] if self.kind == ExcKind::KeyError => one.repr(),
            [Value::Str(s)] => s.clone(),
            [one] => one.repr(),
            many => Value::Tuple(many.to_vec()).repr(),
        }
    }

    /// A Python-looking traceback whose last line is `Type: message`, for
    /// `#TRACEBACK` replies (clients wrap it in `RemoteError`).
    pub fn traceback(&self) -> String {
        let name = self.kind.traceback_name();
        let msg = self.message();
        let last = if msg.is_empty() {
            name
        } else {
            format!("{name}: {msg}")
        };
        // The client's RemoteError adds the dashed frame around this text.
        let this = format!(
            "Traceback (most recent call last):\n  File \"mpcluster-manager\", in serve_client\n{last}\n"
        );
        match &self.context {
            Some(ctx) => format!(
                "{}\nDuring handling of the above exception, another exception occurred:\n\n{this}",
                ctx.traceback()
            ),
            None => this,
        }
    }
}

impl fmt::Display for PyException {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.traceback_name(), self.message())
    }
}

/// Value-model failures are the `TypeError`s Python would raise.
impl From<OpError> for PyException {
    fn from(e: OpError) -> Self {
        match e {
            OpError::TooLarge(m) => PyException::msg(ExcKind::MemoryError, m),
            other => PyException::type_error(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_empty_pickles_from_the_c_module() {
        let v = PyException::bare(ExcKind::QueueEmpty).to_value();
        let o = v
            .as_object_of("_queue", "Empty")
            .expect("an _queue.Empty object");
        assert!(o.args().is_empty());
    }

    #[test]
    fn key_error_message_is_the_key_repr() {
        let e = PyException::key_error(Value::from("x"));
        assert_eq!(e.kind.traceback_name(), "KeyError");
        assert!(e.traceback().contains("\nKeyError: 'x'\n"));
    }

    #[test]
    fn op_errors_become_type_errors() {
        let e: PyException = OpError::Unhashable("list".into()).into();
        assert_eq!(e.kind, ExcKind::TypeError);
        assert_eq!(e.message(), "unhashable type: 'list'");
    }
}
