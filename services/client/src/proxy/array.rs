//! [`ArrayProxy`]: a shared `array.array` (docs/protocol.md 9.5), and
//! `Manager::array`.
//!
//! The server keeps `array.array`'s type checks (`TypeError` for a float in
//! an `'i'` array, `OverflowError` out of range). Whole-array reads come
//! back as `array.array` values, decoded by `crate::arraycodec`.

use super::{arg, none_on, out, slice, typed_proxy, usize_out};
use crate::arraycodec::array_items;
use crate::error::{exc, Error, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// A shared typed array of `T` (numbers, or one-character strings for
/// typecode `'u'`).
pub struct ArrayProxy<T> {
    raw: RawProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ArrayProxy<T>, Some("ArrayProxy"));

impl Manager {
    /// `manager.Array(typecode, items)`: typecodes are `array.array`'s
    /// (`b B u h H i I l L q Q f d`); an invalid one is a `RemoteError`.
    pub async fn array<T: Serialize>(&self, typecode: &str, items: &[T]) -> Result<ArrayProxy<T>> {
        self.create(
            "Array",
            vec![Value::from(typecode), arg(items)?],
            Dict::new(),
        )
        .await
    }
}

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    /// `len(a)`.
    pub async fn len(&self) -> Result<usize> {
        usize_out(self.raw.call("__len__", vec![], Dict::new()).await?)
    }

    /// `len(a) == 0`.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// `a[index]`; `IndexError` when out of range.
    pub async fn get(&self, index: i64) -> Result<T> {
        out(self
            .raw
            .call("__getitem__", vec![Value::Int(index)], Dict::new())
            .await?)
    }

    /// `a[index] = item`.
    pub async fn set(&self, index: i64, item: &T) -> Result<()> {
        let args = vec![Value::Int(index), arg(item)?];
        self.raw
            .call("__setitem__", args, Dict::new())
            .await
            .map(drop)
    }

    /// `list(a[start:stop])`.
    pub async fn slice(&self, start: Option<i64>, stop: Option<i64>) -> Result<Vec<T>> {
        let v = self
            .raw
            .call("__getitem__", vec![slice(start, stop)], Dict::new())
            .await?;
        out(decode_array(v)?)
    }

    /// A copy of the whole array (`#GETVALUE`).
    pub async fn to_vec(&self) -> Result<Vec<T>> {
        out(decode_array(self.raw.get_value().await?)?)
    }

    /// The items one request each (the `__getitem__` protocol CPython's
    /// `for x in a` uses), until `IndexError`.
    pub fn iter(&self) -> ArrayIter<T> {
        ArrayIter {
            array: self.clone(),
            next: 0,
            done: false,
        }
    }
}

fn decode_array(v: Value) -> Result<Value> {
    match array_items(&v) {
        Some(items) => items,
        None => Err(Error::protocol(format!(
            "expected an array value, got {}",
            v.repr_bounded(100)
        ))),
    }
}

/// Items of an [`ArrayProxy`], one request each.
pub struct ArrayIter<T> {
    array: ArrayProxy<T>,
    next: i64,
    done: bool,
}

impl<T: Serialize + DeserializeOwned> ArrayIter<T> {
    /// The next item, or `None` once the server answers `IndexError`.
    pub async fn next(&mut self) -> Result<Option<T>> {
        if self.done {
            return Ok(None);
        }
        let got = self.array.get(self.next).await;
        match none_on(got, exc::INDEX_ERROR)? {
            Some(v) => {
                self.next += 1;
                Ok(Some(v))
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}
