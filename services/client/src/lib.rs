//! mpcluster: a Rust client for mpcluster managers and CPython's own
//! `multiprocessing.managers` servers.
//!
//! Connect to a manager, create shared objects (or open named ones and
//! objects other processes hand over), and use them through typed proxies
//! whose values travel as pickles: a Rust `QueueProxy<Job>` and a Python
//! consumer share one queue, and a dict filled by Python reads from Rust
//! as `DictProxy<String, i64>`, or as raw Python values with [`Value`].
//!
//! ```no_run
//! use mpcluster::{Manager, QueueProxy};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug)]
//! struct Job { id: u32, url: String } // a dict {'id': ..., 'url': ...} in Python
//!
//! #[tokio::main]
//! async fn main() -> mpcluster::Result<()> {
//!     let manager = Manager::connect("127.0.0.1:50000", b"secret").await?;
//!     let jobs: QueueProxy<Job> = manager.get("get_queue").await?; // named in the server config
//!     jobs.put(&Job { id: 1, url: "https://example.org".into() }).await?;
//!     let done = manager.dict::<String, i64>(&[]).await?; // a new shared dict
//!     let lock = manager.lock().await?;
//!     let _guard = lock.acquire().await?; // released when dropped
//!     done.insert(&"jobs".to_string(), &1).await?;
//!     Ok(())
//! }
//! ```
//!
//! Without an async runtime, [`blocking::Manager`] offers the same API with
//! blocking methods.
//!
//! # How it talks to the manager
//!
//! The client speaks CPython's manager protocol (`docs/protocol.md`
//! in the repository), so it works against an mpcluster manager and against
//! a CPython `BaseManager`/`SyncManager` server alike:
//!
//! * `create`, `incref` and `decref` each use a fresh authenticated
//!   connection, as CPython does (its server closes such connections after
//!   one reply). A new object costs one connection instead of CPython's
//!   three: the creation reference becomes the proxy's own.
//! * Method calls use a small pool of serving connections per manager
//!   address. Each connection carries one request at a time, so a blocking
//!   call (`Queue.get`, `Event.wait`) holds its connection while other
//!   calls, from any task or thread, use others. CPython's client uses one
//!   connection per thread instead.
//! * A [`Pipeline`] (`manager.pipeline()`) writes several calls on one
//!   serving connection before reading their replies, which the server
//!   sends in order: one round trip for the batch.
//! * Lock guards keep the connection they acquired on, because `RLock` and
//!   `Condition` ownership belongs to a connection (CPython: to a server
//!   thread). `wait` and `notify` are methods of the held guard.
//! * Dropping the last clone of a proxy releases its reference (`decref`)
//!   in the background; dropping the last handle of a [`Manager`] waits for
//!   those releases, so a program that ends normally leaves no references
//!   behind, as CPython's exit hook does. A killed process leaks them, as
//!   with CPython.
//!
//! By default all sockets live on a small runtime the manager handle owns,
//! so the async API works from any executor and the [`blocking`] facade
//! needs no runtime at all. A tokio application that wants the lowest
//! per-call cost passes its own runtime instead
//! ([`ManagerBuilder::runtime`]): calls then run inside the calling task,
//! with no hand-over to another thread.
//!
//! # Errors
//!
//! One [`Error`] type. Exceptions raised by the manager arrive as
//! [`Error::Remote`] with the Python type name ([`exc`] lists the common
//! ones: `"KeyError"`, `"queue.Empty"`, `"threading.BrokenBarrierError"`)
//! and arguments; connection failures ([`Error::Connection`]) and a wrong
//! authkey ([`Error::Auth`]) are distinct.

#![warn(missing_docs)]

// The README's Rust examples compile (they are doc tests of this crate).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;

mod arraycodec;
pub mod blocking;
mod conn;
mod core;
mod error;
mod manager;
mod pipeline;
mod proxy;
mod raw;
mod runtime;
mod token;

pub use error::{exc, Error, RemoteException, Result};
pub use manager::{IntoAddress, Manager, ManagerBuilder};
pub use mpcluster_wire::value::{from_value, to_value};
pub use mpcluster_wire::{Dict, Value};
pub use pipeline::Pipeline;
pub use proxy::acquirer::{AcquireGuard, AcquirerProxy};
pub use proxy::array::{ArrayIter, ArrayProxy};
pub use proxy::barrier::BarrierProxy;
pub use proxy::condition::{ConditionGuard, ConditionProxy};
pub use proxy::dict::DictProxy;
pub use proxy::event::EventProxy;
pub use proxy::iterator::IteratorProxy;
pub use proxy::list::{ListIter, ListProxy};
pub use proxy::namespace::NamespaceProxy;
pub use proxy::queue::QueueProxy;
pub use proxy::value::ValueProxy;
pub use proxy::Proxy;
pub use raw::RawProxy;
pub use token::{Address, ProxyClass, Token};
