//! (being written: see objects/mod.rs for the contract)

use crate::args::Args;
use crate::objects::{CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub const EXPOSED: &[&str] = &["__and__", "__contains__", "__iand__", "__ior__", "__isub__", "__iter__", "__ixor__", "__len__", "__or__", "__rand__", "__ror__", "__rsub__", "__rxor__", "__sub__", "__xor__", "__ge__", "__gt__", "__le__", "__lt__", "add", "clear", "copy", "difference", "difference_update", "discard", "intersection", "intersection_update", "isdisjoint", "issubset", "issuperset", "pop", "remove", "symmetric_difference", "symmetric_difference_update", "union", "update"];

pub fn create(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Err(PyException::msg(ExcKind::NotImplementedError, "not implemented yet"))
}

