//! Errors of operations on values: the cases where Python itself would raise.
//!
//! These carry what the message needs; the manager's exception table turns
//! them into the `TypeError` a CPython client expects.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OpError {
    /// `hash(x)` of a mutable value (`TypeError: unhashable type: 'list'`).
    #[error("unhashable type: '{0}'")]
    Unhashable(String),
    /// An ordering between values Python cannot order
    /// (`TypeError: '<' not supported between instances of 'str' and 'int'`).
    #[error("'{op}' not supported between instances of '{left}' and '{right}'")]
    NotOrderable {
        op: &'static str,
        left: String,
        right: String,
    },
    /// An operation that would need to run Python code the server never runs
    /// (ordering two opaque objects, a `sort` key function).
    #[error("{0}")]
    NeedsPython(String),
    /// A result too large to build (`MemoryError` in the manager).
    #[error("{0}")]
    TooLarge(String),
}
