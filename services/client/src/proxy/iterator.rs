//! [`IteratorProxy`]: a server-side iterator (docs/protocol.md 9.11), what
//! `DictProxy::iter` returns: `__next__` until `StopIteration`.
//!
//! The iterator is its own shared object with its own reference, released
//! when the proxy is dropped, like any other.

use super::{none_on, out, typed_proxy};
use crate::error::{exc, Result};
use crate::raw::RawProxy;
use mpcluster_wire::Dict;
use serde::de::DeserializeOwned;
use std::marker::PhantomData;

/// A server-side Python iterator yielding `T`.
pub struct IteratorProxy<T> {
    raw: RawProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(IteratorProxy<T>, Some("IteratorProxy"));

impl<T: DeserializeOwned> IteratorProxy<T> {
    /// `next(it)`: the next item, or `None` at `StopIteration`.
    pub async fn next(&self) -> Result<Option<T>> {
        let got = self.raw.call("__next__", vec![], Dict::new()).await;
        none_on(got, exc::STOP_ITERATION)?.map(out).transpose()
    }

    /// Every remaining item.
    pub async fn collect_all(&self) -> Result<Vec<T>> {
        let mut items = Vec::new();
        while let Some(item) = self.next().await? {
            items.push(item);
        }
        Ok(items)
    }
}
