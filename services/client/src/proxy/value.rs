//! [`ValueProxy`]: a shared `multiprocessing.managers.Value` (docs/protocol.md 9.5),
//! and `Manager::value`.
//!
//! The manager's `Value` ignores its typecode (CPython stores whatever it
//! is given), so the type parameter alone decides what Rust reads back.

use super::{arg, out, typed_proxy};
use crate::error::Result;
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// A shared single value of type `T`.
pub struct ValueProxy<T> {
    raw: RawProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ValueProxy<T>, Some("ValueProxy"));

impl Manager {
    /// `manager.Value(typecode, value)`: a new shared value. The typecode
    /// (`"i"`, `"d"`, `"c"`, ...) is kept for `repr` only.
    pub async fn value<T: Serialize>(&self, typecode: &str, value: &T) -> Result<ValueProxy<T>> {
        self.create(
            "Value",
            vec![Value::from(typecode), arg(value)?],
            Dict::new(),
        )
        .await
    }
}

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    /// `v.value` (`get()`).
    pub async fn get(&self) -> Result<T> {
        out(self.raw.call("get", vec![], Dict::new()).await?)
    }

    /// `v.value = value` (`set(value)`).
    pub async fn set(&self, value: &T) -> Result<()> {
        self.raw
            .call("set", vec![arg(value)?], Dict::new())
            .await
            .map(drop)
    }
}
