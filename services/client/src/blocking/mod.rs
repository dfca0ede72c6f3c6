//! The blocking facade, for programs without an async runtime.
//!
//! Every type mirrors its async counterpart in the crate root, method for
//! method, and blocks the calling thread instead of returning a future:
//!
//! ```no_run
//! use mpcluster::blocking::Manager;
//!
//! # fn demo() -> mpcluster::Result<()> {
//! let manager = Manager::connect("127.0.0.1:50000", b"secret")?;
//! let counts = manager.dict(&[("runs".to_string(), 0_i64)])?;
//! let lock = manager.lock()?;
//! {
//!     let _guard = lock.acquire()?; // released at the end of the block
//!     let runs = counts.get(&"runs".to_string())?.unwrap_or(0);
//!     counts.insert(&"runs".to_string(), &(runs + 1))?;
//! }
//! # Ok(()) }
//! ```
//!
//! How it blocks: the manager handle already owns a small I/O runtime
//! (`crate::runtime`) on which every request runs; a blocking call drives
//! the async method on the calling thread and waits for that runtime's
//! answer. No runtime is created per call, and any number of threads may
//! call at once (each call checks out its own serving connection).
//!
//! Calling a blocking method from inside an async runtime's thread is
//! refused with [`crate::Error::BlockingInAsync`] rather than stalling the
//! runtime. Guards dropped there fall back to the async guards' background
//! release; everywhere else a dropped guard releases before `drop`
//! returns, so the next statement sees the lock free.

mod collections;
mod manager;
mod pipeline;
mod sync;

pub use collections::{
    ArrayIter, ArrayProxy, DictProxy, IteratorProxy, ListIter, ListProxy, NamespaceProxy, RawProxy,
    ValueProxy,
};
pub use manager::Manager;
pub use pipeline::Pipeline;
pub use sync::{
    AcquireGuard, AcquirerProxy, BarrierProxy, ConditionGuard, ConditionProxy, EventProxy,
    QueueProxy,
};

use crate::error::Result;
use std::future::Future;

/// Runs one async call to completion on the current thread.
fn block<T>(raw: &crate::RawProxy, fut: impl Future<Output = Result<T>>) -> Result<T> {
    raw.block_on(fut)?
}

/// Declares blocking forms of async methods of `self.0`, each documented
/// as the blocking form of the async method it calls.
macro_rules! blocking_methods {
    ($async_ty:literal; $(
        fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty;
    )*) => {$(
        #[doc = concat!("Blocking form of [`", $async_ty, "::", stringify!($name), "`].")]
        pub fn $name(&self $(, $arg: $ty)*) -> $crate::Result<$ret> {
            $crate::blocking::block(
                $crate::Proxy::raw(&self.0),
                self.0.$name($($arg),*),
            )
        }
    )*};
}
use blocking_methods;

/// Implements [`crate::Proxy`] (so `Manager::get`/`open` can build the
/// blocking type), `Clone`, `Debug` and `Serialize` for a one-field
/// wrapper of an async proxy.
macro_rules! blocking_proxy {
    ($name:ident $(<$($p:ident),+>)?, $inner:ty) => {
        impl$(<$($p),+>)? $crate::Proxy for $name$(<$($p),+>)? {
            const CLASS: Option<&'static str> = <$inner as $crate::Proxy>::CLASS;

            fn from_raw(raw: $crate::RawProxy) -> Self {
                $name(<$inner as $crate::Proxy>::from_raw(raw))
            }

            fn raw(&self) -> &$crate::RawProxy {
                $crate::Proxy::raw(&self.0)
            }
        }

        impl$(<$($p),+>)? $name$(<$($p),+>)? {
            /// The async proxy underneath.
            pub fn as_async(&self) -> &$inner {
                &self.0
            }
        }

        impl$(<$($p),+>)? From<$inner> for $name$(<$($p),+>)? {
            fn from(p: $inner) -> Self {
                $name(p)
            }
        }

        impl$(<$($p),+>)? Clone for $name$(<$($p),+>)? {
            fn clone(&self) -> Self {
                $name(self.0.clone())
            }
        }

        impl$(<$($p),+>)? std::fmt::Debug for $name$(<$($p),+>)? {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl$(<$($p),+>)? serde::Serialize for $name$(<$($p),+>)? {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                $crate::Proxy::to_py_value(self).serialize(s)
            }
        }
    };
}
use blocking_proxy;
