//! (being written: see objects/mod.rs for the contract)

use crate::args::Args;
use crate::objects::{CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub const EXPOSED: &[&str] = &["__add__", "__contains__", "__delitem__", "__getitem__", "__imul__", "__len__", "__mul__", "__reversed__", "__rmul__", "__setitem__", "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort"];

pub fn create(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Err(PyException::msg(ExcKind::NotImplementedError, "not implemented yet"))
}

