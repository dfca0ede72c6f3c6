//! (being written: see objects/mod.rs for the contract)

use crate::args::Args;
use crate::objects::{CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub const EXPOSED: &[&str] = &["__contains__", "__delitem__", "__getitem__", "__ior__", "__iter__", "__len__", "__or__", "__reversed__", "__ror__", "__setitem__", "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values", "__iter__"];

pub fn create(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Err(PyException::msg(ExcKind::NotImplementedError, "not implemented yet"))
}

pub const METHOD_TO_TYPEID: &[(&str, &str)] = &[("__iter__", "Iterator")];
