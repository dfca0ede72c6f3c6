//! Replies: `(kind, payload)` pairs (docs/protocol.md 5.2), encoded as protocol-4
//! pickles, which every supported CPython client reads.

use crate::pyexc::PyException;
use mpcluster_wire::{pickle, Value};

/// One reply to a client.
#[derive(Debug)]
pub enum Reply {
    /// `#RETURN`: the method's result.
    Return(Value),
    /// `#ERROR`: an exception the client re-raises as is.
    Error(PyException),
    /// `#TRACEBACK`: a server-side failure the client wraps in `RemoteError`.
    Traceback(PyException),
    /// `#UNSERIALIZABLE`: the result cannot be sent (`#GETVALUE` of a lock).
    Unserializable(String),
    /// `#PROXY`: a new object the client wraps in a proxy.
    Proxy { exposed: Value, token: Value },
}

impl Reply {
    pub fn none() -> Reply {
        Reply::Return(Value::None)
    }

    /// The kind string, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Return(_) => "#RETURN",
            Reply::Error(_) => "#ERROR",
            Reply::Traceback(_) => "#TRACEBACK",
            Reply::Unserializable(_) => "#UNSERIALIZABLE",
            Reply::Proxy { .. } => "#PROXY",
        }
    }

    fn into_payload(self) -> Value {
        match self {
            Reply::Return(v) => v,
            Reply::Error(e) => e.to_value(),
            Reply::Traceback(e) => Value::Str(e.traceback()),
            Reply::Unserializable(text) => Value::Str(text),
            Reply::Proxy { exposed, token } => Value::tuple([exposed, token]),
        }
    }

    /// Appends the framed pickle to `out` (a connection's output buffer);
    /// returns the pickle's size. The `(kind, payload)` tuple is written
    /// from its parts, not built.
    pub fn encode_into(self, out: &mut Vec<u8>) -> usize {
        if let Reply::Return(v) = &self {
            // `None`, `True`, `False`: encoded once (`pickle::fixed`).
            if let Some(bytes) = pickle::fixed_return(v) {
                return mpcluster_wire::frame::append_frame(out, |out| {
                    out.extend_from_slice(bytes)
                });
            }
        }
        let kind = self.kind();
        let payload = self.into_payload();
        mpcluster_wire::frame::append_frame(out, |out| {
            pickle::encode_pair_into(kind, &payload, pickle::DEFAULT_PROTOCOL, out)
        })
    }
}
