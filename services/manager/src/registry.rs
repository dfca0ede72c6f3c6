//! Typeids: what `create(typeid, ...)` builds, what it exposes, and which
//! method results become new objects.
//!
//! This is the server's registry, which alone decides what a call may do
//! (docs/protocol.md 8): typed CPython proxies ignore the exposed tuple, `AutoProxy`
//! clients (`Queue`, named objects) get exactly these methods. Exposed lists
//! are the union over CPython 3.8 to 3.14 (3.14's `list.clear`, `locked`,
//! 3.13's `Queue.shutdown`), which no older client is hurt by.
//!
//! Adding a typeid means adding its file under `objects/` and one line in
//! [`KINDS`].

use crate::args::Args;
use crate::objects::{self, CallCtx, SharedObject};
use crate::pyexc::{ExcKind, PyException};
use std::sync::Arc;

pub type Constructor = fn(&CallCtx<'_>, Args) -> Result<Arc<dyn SharedObject>, PyException>;

/// One kind of object a typeid can name.
#[derive(Clone, Copy)]
pub struct Kind {
    /// The SyncManager typeid (`"list"`, `"Queue"`); also the `kind` of a
    /// named object in the config.
    pub typeid: &'static str,
    pub exposed: &'static [&'static str],
    pub method_to_typeid: &'static [(&'static str, &'static str)],
    /// `None` for typeids CPython registers without a callable
    /// (`Iterator`, `AsyncResult`): only the server creates them.
    pub create: Option<Constructor>,
}

/// Every SyncManager typeid.
pub static KINDS: &[Kind] = &[
    kind("Queue", objects::queue::EXPOSED, objects::queue::create),
    kind(
        "JoinableQueue",
        objects::queue::EXPOSED,
        objects::queue::create,
    ),
    kind("Event", objects::event::EXPOSED, objects::event::create),
    kind("Lock", objects::lock::EXPOSED, objects::lock::create_lock),
    kind("RLock", objects::lock::EXPOSED, objects::lock::create_rlock),
    kind(
        "Semaphore",
        objects::lock::EXPOSED,
        objects::semaphore::create_semaphore,
    ),
    kind(
        "BoundedSemaphore",
        objects::lock::EXPOSED,
        objects::semaphore::create_bounded,
    ),
    kind(
        "Condition",
        objects::condition::EXPOSED,
        objects::condition::create,
    ),
    kind(
        "Barrier",
        objects::barrier::EXPOSED,
        objects::barrier::create,
    ),
    kind("Pool", POOL_EXPOSED, pool_unavailable),
    kind("list", objects::list::EXPOSED, objects::list::create),
    Kind {
        typeid: "dict",
        exposed: objects::dict::EXPOSED,
        method_to_typeid: objects::dict::METHOD_TO_TYPEID,
        create: Some(objects::dict::create),
    },
    kind("set", objects::set::EXPOSED, objects::set::create),
    kind("Value", objects::value::EXPOSED, objects::value::create),
    kind("Array", objects::array::EXPOSED, objects::array::create),
    kind(
        "Namespace",
        objects::namespace::EXPOSED,
        objects::namespace::create,
    ),
    Kind {
        typeid: "Iterator",
        exposed: objects::iterator::EXPOSED,
        method_to_typeid: &[],
        create: None,
    },
];

const fn kind(typeid: &'static str, exposed: &'static [&'static str], create: Constructor) -> Kind {
    Kind {
        typeid,
        exposed,
        method_to_typeid: &[],
        create: Some(create),
    }
}

/// The kind a typeid names.
pub fn lookup(typeid: &str) -> Option<&'static Kind> {
    KINDS.iter().find(|k| k.typeid == typeid)
}

const POOL_EXPOSED: &[&str] = &[
    "apply",
    "apply_async",
    "close",
    "imap",
    "imap_unordered",
    "join",
    "map",
    "map_async",
    "starmap",
    "starmap_async",
    "terminate",
];

/// `Pool` runs Python code; it will be placed on node agents. Until then a
/// client gets a clear error instead of an unknown-typeid `KeyError`.
fn pool_unavailable(_: &CallCtx<'_>, _: Args) -> Result<Arc<dyn SharedObject>, PyException> {
    Err(PyException::msg(
        ExcKind::NotImplementedError,
        "Pool is not available on this mpcluster manager yet: process pools run on node \
         agents, which this deployment does not have",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_syncmanager_typeid_is_registered() {
        for t in [
            "Queue",
            "JoinableQueue",
            "Event",
            "Lock",
            "RLock",
            "Semaphore",
            "BoundedSemaphore",
            "Condition",
            "Barrier",
            "Pool",
            "list",
            "dict",
            "Value",
            "Array",
            "Namespace",
            "Iterator",
            "set",
        ] {
            assert!(lookup(t).is_some(), "{t} missing");
        }
        assert_eq!(
            lookup("dict").unwrap().method_to_typeid,
            &[("__iter__", "Iterator")]
        );
    }
}
