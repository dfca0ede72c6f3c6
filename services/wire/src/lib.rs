//! The wire format of CPython's `multiprocessing.managers`, with no I/O
//! policy of its own.
//!
//! Data flows one way through this crate: bytes become frames (`frame`),
//! the first frames of a connection run the authkey handshake (`handshake`),
//! every later frame is a pickle (`pickle`) that decodes into a Python value
//! (`value`), and replies go back the same way. Nothing here spawns tasks,
//! sleeps or logs; the `io` module only adapts these pieces to tokio streams.
//!
//! The contract is `docs/protocol.md` (at the repository's root); the
//! captured CPython frames under `testdata/vectors/` are the byte-exact
//! fixtures of the tests.

pub mod frame;
pub mod handshake;
pub mod io;
pub mod pickle;
pub mod value;

pub use value::{Dict, Global, Key, Object, OpError, Set, Value};
