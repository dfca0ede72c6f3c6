//! The mpcluster manager server.
//!
//! Data flows one way: `server.rs` accepts a socket, `connection.rs` runs
//! the handshake (wire crate) and reads framed pickles, `request.rs` turns
//! each into a request, `control.rs` answers the manager's control functions
//! and `serve.rs` dispatches method calls to the objects in `store.rs`
//! (one file per kind under `objects/`); replies (`reply.rs`) go back as
//! pickles. `pyexc.rs` is the one table of Python exceptions.

pub mod admin;
pub mod args;
pub mod authkey;
pub mod clients;
pub mod config;
pub mod connection;
pub mod control;
pub mod events;
pub mod fdlimit;
pub mod memory;
pub mod metrics;
pub mod objects;
pub mod proxyref;
pub mod pyexc;
pub mod reaper;
pub mod registry;
pub mod reply;
pub mod request;
pub mod serve;
pub mod server;
pub mod state;
pub mod store;
