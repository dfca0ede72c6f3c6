//! (being written: see objects/mod.rs for the contract)

use crate::args::Args;
use crate::objects::{CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub const EXPOSED: &[&str] = &["__getattribute__", "wait", "abort", "reset"];

pub fn create(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Err(PyException::msg(ExcKind::NotImplementedError, "not implemented yet"))
}

