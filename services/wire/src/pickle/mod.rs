//! The pickle codec: bytes of a pickle to a [`Value`] and back.
//!
//! Every frame after the handshake carries one pickle (spec §3). [`decode`]
//! parses protocols 0 to 5 without executing anything (`decode.rs` builds a
//! node graph, `convert.rs` turns it into a tree at `STOP`; `fast.rs`
//! decodes plain trees, most requests and replies, directly), inside the
//! budgets of [`Limits`]; [`encode`] writes protocol 4 the way CPython 3.11's
//! pickler does, so replies are byte-identical to a CPython manager's for
//! built-in values (`encode.rs`).
//!
//! What the decoder does not model stays opaque and round-trips: a global is
//! [`Value::Global`], a `REDUCE`/`NEWOBJ`/`INST`/`OBJ` is a
//! [`crate::Object`] with its arguments, items and `BUILD` state. It refuses,
//! with a typed [`PickleError`], what it cannot represent without running
//! code: persistent ids, extension codes, out-of-band buffers.

mod arena;
mod compat;
mod convert;
mod decode;
mod encode;
mod error;
mod fast;
mod fixed;
mod known;
mod memo;
pub mod opcode;
mod ops;
mod reader;
mod text;

pub use error::{EncodeError, PickleError};
pub use fixed::{fixed_return, read_fixed_return};

use crate::Value;

/// The protocol CPython 3.8 to 3.13 write and the one replies use.
pub const DEFAULT_PROTOCOL: u8 = 4;

/// The most a decoded value may nest, whatever [`Limits::max_depth`] says.
/// CPython cannot pickle deeper values anyway (its recursion limit is about
/// 1000), and consumers of a [`Value`] recurse over it.
pub const MAX_DEPTH_CAP: usize = 1000;

/// Budgets of one decode: what a peer's pickle may cost.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of containers (tuple, list, dict, set, frozenset,
    /// object) in the decoded value; capped at [`MAX_DEPTH_CAP`].
    pub max_depth: usize,
    /// Size of the decoded value: one unit per node parsed and per value
    /// produced, plus one per 32 bytes of string data copied for shared
    /// references. Refuses "billion laughs" pickles whose shared references
    /// expand exponentially.
    pub max_values: usize,
    /// Longest single `str`/`bytes`/`bytearray`/`int` payload, in bytes.
    pub max_len: usize,
    /// Units of [`Limits::max_values`] each byte of the pickle may cost,
    /// on top of [`Limits::values_free`]: what bounds a pickle's decoded
    /// size by its own size. A pickle without shared references costs at
    /// most 2 units per byte (every value takes at least one opcode byte
    /// and costs one unit parsed and one produced), so only copies of
    /// shared references (`DUP`, memo `GET`) can reach the bound.
    pub values_per_byte: usize,
    /// Units any pickle may cost whatever its size.
    pub values_free: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 200,
            max_values: 10_000_000,
            // The frame size limit bounds the data; no separate cap.
            max_len: usize::MAX,
            values_per_byte: VALUES_PER_BYTE,
            values_free: VALUES_FREE,
        }
    }
}

/// Default of [`Limits::values_per_byte`]: twice what a pickle of a tree
/// costs, so a value may share as much as it holds once.
pub const VALUES_PER_BYTE: usize = 4;

/// Default of [`Limits::values_free`]: 2^16 values, a few MiB, for small
/// pickles that share a lot (`[row] * 100` of a 1,000-item `row`).
pub const VALUES_FREE: usize = 1 << 16;

impl Limits {
    fn effective_depth(&self) -> usize {
        self.max_depth.min(MAX_DEPTH_CAP)
    }

    /// The value budget of one pickle of `len` bytes: proportional to its
    /// size, and never above `max_values`. A value in the tree costs about
    /// 32-48 bytes of memory, so a decoded pickle holds at most about
    /// `48 * (values_per_byte * len + values_free)` bytes, whatever its
    /// shared references: a 77-byte pickle cannot turn into hundreds of
    /// megabytes.
    pub fn value_budget(&self, len: usize) -> usize {
        self.values_per_byte
            .saturating_mul(len)
            .saturating_add(self.values_free)
            .min(self.max_values)
    }
}

/// Decodes one pickle. Bytes after `STOP` are ignored, as `pickle.loads`
/// ignores them.
pub fn decode(data: &[u8], limits: &Limits) -> Result<Value, PickleError> {
    decode_with_protocol(data, limits).map(|(v, _)| v)
}

/// Decodes one pickle and reports the protocol its `PROTO` opcode named
/// (0 when it has none, as protocol 0 and 1 pickles).
pub fn decode_with_protocol(data: &[u8], limits: &Limits) -> Result<(Value, u8), PickleError> {
    if let Some(done) = fast::decode(data, limits) {
        return Ok(done);
    }
    decode_full(data, limits)
}

/// The full machine, without the fast path (tests compare the two).
fn decode_full(data: &[u8], limits: &Limits) -> Result<(Value, u8), PickleError> {
    let mut m = decode::Machine::new(data, limits);
    let root = m.run()?;
    let v = convert::to_value(&mut m.nodes, root, limits, &mut m.budget, m.shared)?;
    Ok((v, m.proto))
}

/// Encodes `v` at protocol 4, as CPython's `pickle.dumps(v, 4)` would.
///
/// A [`Value::BackRef`] that names no enclosing list, dict, set or object
/// (which the decoder never produces) is written as `None`; use
/// [`try_encode`] to have it refused instead.
pub fn encode(v: &Value) -> Vec<u8> {
    encode_protocol(v, DEFAULT_PROTOCOL)
}

/// Encodes `v` at protocol 5 when `protocol >= 5` (the only difference:
/// `bytearray` as `BYTEARRAY8`), else at protocol 4.
pub fn encode_protocol(v: &Value, protocol: u8) -> Vec<u8> {
    encode::Encoder::new(clamp(protocol), false)
        .dump(v)
        // A non-strict encoder has no failure path.
        .unwrap_or_default()
}

/// Like [`encode_protocol`], appending the pickle to `out` (a connection's
/// output buffer) instead of allocating one.
pub fn encode_into(v: &Value, protocol: u8, out: &mut Vec<u8>) {
    // A non-strict encoder has no failure path.
    let _ = encode::Encoder::new(clamp(protocol), false).dump_into(v, out);
}

/// Appends the pickle of the request `(ident, name, tuple(args), kwds)`
/// to `out`, byte for byte what [`encode_into`] writes for that tuple, but
/// without building it (the per-call path of a client).
pub fn encode_call_into(
    ident: Option<&str>,
    name: &str,
    args: &[Value],
    kwds: &crate::value::Dict,
    protocol: u8,
    out: &mut Vec<u8>,
) {
    // A non-strict encoder has no failure path.
    let _ =
        encode::Encoder::new(clamp(protocol), false).dump_call_into(ident, name, args, kwds, out);
}

/// Appends the pickle of the pair `(first, second)` to `out` (a reply:
/// `("#RETURN", value)`), byte for byte what [`encode_into`] writes for
/// that tuple, without building it.
pub fn encode_pair_into(first: &str, second: &Value, protocol: u8, out: &mut Vec<u8>) {
    // A non-strict encoder has no failure path.
    let _ = encode::Encoder::new(clamp(protocol), false).dump_pair_into(first, second, out);
}

/// Like [`encode_protocol`], but refuses a dangling [`Value::BackRef`].
pub fn try_encode(v: &Value, protocol: u8) -> Result<Vec<u8>, EncodeError> {
    encode::Encoder::new(clamp(protocol), true).dump(v)
}

fn clamp(protocol: u8) -> u8 {
    protocol.clamp(DEFAULT_PROTOCOL, opcode::HIGHEST_PROTOCOL)
}

#[cfg(test)]
mod tests;
