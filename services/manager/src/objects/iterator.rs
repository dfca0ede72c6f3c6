//! (being written: see objects/mod.rs for the contract)

use crate::args::Args;
use crate::objects::{CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub const EXPOSED: &[&str] = &["__next__", "send", "throw", "close"];

