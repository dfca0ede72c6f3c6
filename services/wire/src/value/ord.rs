//! Python's ordering (`<`) for values, and `list.sort` on top of it.
//!
//! (Being filled in: see the module's tests for the contract.)

use super::{OpError, Value};

/// Python's `a < b`.
pub fn py_lt(a: &Value, b: &Value) -> Result<bool, OpError> {
    let _ = (a, b);
    Err(OpError::NeedsPython("ordering not implemented yet".into()))
}

/// `list.sort(reverse=...)`: stable, using only `<`, failing with Python's
/// `TypeError` when two items cannot be ordered. On error the list is left
/// unchanged.
pub fn py_sort(items: &mut [Value], reverse: bool) -> Result<(), OpError> {
    let _ = (items, reverse);
    Err(OpError::NeedsPython("sort not implemented yet".into()))
}
