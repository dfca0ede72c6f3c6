//! Errors of the pickle codec.
//!
//! Every way a peer's bytes can fail to decode is one variant of
//! [`PickleError`], with the offset of the opcode that failed, so that the
//! connection that sent it can be closed with a reason an operator can read
//! (and a test can match). Limits (`Limits` in `mod.rs`) have their own
//! variants: they are refusals, not malformed input.

use thiserror::Error;

/// Why a pickle could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PickleError {
    /// The data ended inside an opcode or before `STOP` (CPython:
    /// `pickle data was truncated` / `Ran out of input`).
    #[error("pickle data was truncated at offset {offset}")]
    Truncated { offset: usize },
    /// A byte that is no opcode of protocols 0 to 5.
    #[error("invalid load key {byte:#04x} at offset {offset}")]
    UnknownOpcode { byte: u8, offset: usize },
    /// `PROTO` with a version above 5 (CPython: `unsupported pickle protocol`).
    #[error("unsupported pickle protocol: {0}")]
    UnsupportedProtocol(u8),
    /// A length field larger than the data that remains; checked before
    /// anything is allocated.
    #[error("{opcode} at offset {offset} declares {declared} bytes, only {available} remain")]
    LengthBeyondData {
        opcode: &'static str,
        offset: usize,
        declared: u64,
        available: usize,
    },
    /// A length field larger than `Limits::max_len`.
    #[error("{opcode} at offset {offset} declares {declared} bytes, the limit is {limit}")]
    TooLong {
        opcode: &'static str,
        offset: usize,
        declared: u64,
        limit: usize,
    },
    /// `GET`/`BINGET`/`LONG_BINGET` of an index nothing was stored at.
    #[error("memo key {index} not found (opcode at offset {offset})")]
    BadMemo { index: u64, offset: usize },
    /// An opcode needed more stack items than there are above the last mark.
    #[error("unpickling stack underflow: {opcode} at offset {offset}")]
    StackUnderflow { opcode: &'static str, offset: usize },
    /// An opcode that works on the items since the last `MARK` found none.
    #[error("could not find MARK for {opcode} at offset {offset}")]
    MarkMissing { opcode: &'static str, offset: usize },
    /// The decoded value nests deeper than `Limits::max_depth`.
    #[error("pickle nests deeper than the limit of {limit}")]
    DepthExceeded { limit: usize },
    /// The decoded value (counting copies of shared references) is larger
    /// than its budget (`Limits::value_budget`: `max_values`, and a bound
    /// proportional to the pickle's size).
    #[error("pickle expands to more than the limit of {limit} values")]
    TooManyValues { limit: usize },
    /// A feature the server cannot honour without running code or state it
    /// does not have: persistent ids, extension codes, out-of-band buffers.
    #[error("{what} is not supported (opcode at offset {offset})")]
    Unsupported { what: &'static str, offset: usize },
    /// A `str` opcode whose bytes are not UTF-8.
    #[error("{opcode} at offset {offset}: invalid UTF-8 in string")]
    InvalidUtf8 { opcode: &'static str, offset: usize },
    /// A `str` holding a lone surrogate: CPython allows it
    /// (`surrogatepass`), a Rust `String` cannot hold it.
    #[error("{opcode} at offset {offset}: string holds a lone surrogate, which is not supported")]
    LoneSurrogate { opcode: &'static str, offset: usize },
    /// The argument of a text opcode of protocol 0 (`INT`, `LONG`, `FLOAT`,
    /// `STRING`, `UNICODE`, `PUT`, `GET`, `GLOBAL`) is malformed.
    #[error("{opcode} at offset {offset}: {reason}")]
    BadText {
        opcode: &'static str,
        offset: usize,
        reason: String,
    },
    /// An opcode found an operand of the wrong kind (`REDUCE` arguments that
    /// are no tuple, `APPENDS` onto a dict, `STACK_GLOBAL` of non-strings).
    #[error("{opcode} at offset {offset}: {reason}")]
    BadOperand {
        opcode: &'static str,
        offset: usize,
        reason: String,
    },
    /// A dict key or set member that Python could not hash
    /// (CPython: `TypeError: unhashable type: 'list'`).
    #[error("unhashable type: '{type_name}'")]
    Unhashable { type_name: String },
}

/// Why a value could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// A [`crate::Value::BackRef`] that names no enclosing list, dict, set or
    /// filled object (the decoder never produces one).
    #[error("back-reference {levels} levels up names no memoized enclosing container")]
    DanglingBackRef { levels: usize },
}
