//! Python's `repr()` and `str()` of values.

use super::Value;

impl Value {
    /// `repr(v)` as CPython prints it.
    pub fn repr(&self) -> String {
        format!("{self:?}")
    }
}
