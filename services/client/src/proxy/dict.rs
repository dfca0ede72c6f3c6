//! [`DictProxy`]: a shared Python `dict` (docs/protocol.md 9.2), and `Manager::dict`.
//!
//! Keys follow Python's equality and hashing on the server (`1`, `1.0` and
//! `True` are one key). `keys()`, `values()` and `items()` arrive as
//! `builtins.list([...])` (dict views pickle so) and are unwrapped;
//! iteration goes through a server-side `Iterator` object (`__iter__`
//! answers `#PROXY`).

use super::iterator::IteratorProxy;
use super::{arg, bool_out, none_on, out, typed_proxy, unwrap_builtin_list, usize_out, Proxy};
use crate::error::{exc, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// A shared `dict` from `K` to `V` (use [`Value`] for either when the
/// types are unknown or mixed).
///
/// `get`, `insert`, `delete`, `contains_key` and `len` use the dict's
/// dunder methods (`__getitem__`, ...), which every `manager.dict()`
/// exposes. A CPython server that serves a dict through
/// `register(name, callable)` without `exposed=` exposes public methods
/// only and answers those with a `RemoteError`; `get_or`, `update`,
/// `remove`, `keys`, `items` and `to_map` work there too.
pub struct DictProxy<K, V> {
    raw: RawProxy,
    _types: PhantomData<fn() -> (K, V)>,
}

typed_proxy!(DictProxy<K, V>, Some("DictProxy"));

/// A Python `dict` value from pairs (errors on keys Python cannot hash).
pub(crate) fn dict_arg<K: Serialize, V: Serialize>(pairs: &[(K, V)]) -> Result<Value> {
    let mut d = Dict::new();
    for (k, v) in pairs {
        d.insert(arg(k)?, arg(v)?)
            .map_err(mpcluster_wire::value::SerdeError::from)?;
    }
    Ok(Value::from(d))
}

impl Manager {
    /// `manager.dict(pairs)`: a new shared dict, in the pairs' order.
    pub async fn dict<K: Serialize, V: Serialize>(
        &self,
        pairs: &[(K, V)],
    ) -> Result<DictProxy<K, V>> {
        self.create("dict", vec![dict_arg(pairs)?], Dict::new())
            .await
    }
}

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.raw.call(method, args, Dict::new()).await
    }

    /// `d[key]`, with `None` for a missing key (the server's `KeyError`).
    pub async fn get(&self, key: &K) -> Result<Option<V>> {
        let v = none_on(
            self.call("__getitem__", vec![arg(key)?]).await,
            exc::KEY_ERROR,
        )?;
        v.map(out).transpose()
    }

    /// `d.get(key, default)`.
    pub async fn get_or(&self, key: &K, default: &V) -> Result<V> {
        out(self.call("get", vec![arg(key)?, arg(default)?]).await?)
    }

    /// `d[key] = value`.
    pub async fn insert(&self, key: &K, value: &V) -> Result<()> {
        self.call("__setitem__", vec![arg(key)?, arg(value)?])
            .await
            .map(drop)
    }

    /// `del d[key]`; `KeyError` when missing.
    pub async fn delete(&self, key: &K) -> Result<()> {
        self.call("__delitem__", vec![arg(key)?]).await.map(drop)
    }

    /// `key in d`.
    pub async fn contains_key(&self, key: &K) -> Result<bool> {
        bool_out(self.call("__contains__", vec![arg(key)?]).await?)
    }

    /// `len(d)`.
    pub async fn len(&self) -> Result<usize> {
        usize_out(self.call("__len__", vec![]).await?)
    }

    /// `not d`.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// `list(d.keys())`, in insertion order.
    pub async fn keys(&self) -> Result<Vec<K>> {
        out(unwrap_builtin_list(self.call("keys", vec![]).await?))
    }

    /// `list(d.values())`.
    pub async fn values(&self) -> Result<Vec<V>> {
        out(unwrap_builtin_list(self.call("values", vec![]).await?))
    }

    /// `list(d.items())`.
    pub async fn items(&self) -> Result<Vec<(K, V)>> {
        out(unwrap_builtin_list(self.call("items", vec![]).await?))
    }

    /// `d.pop(key)`, with `None` for a missing key.
    pub async fn remove(&self, key: &K) -> Result<Option<V>> {
        let v = none_on(self.call("pop", vec![arg(key)?]).await, exc::KEY_ERROR)?;
        v.map(out).transpose()
    }

    /// `d.pop(key, default)`.
    pub async fn remove_or(&self, key: &K, default: &V) -> Result<V> {
        out(self.call("pop", vec![arg(key)?, arg(default)?]).await?)
    }

    /// `d.popitem()`: the last inserted pair; `None` when empty.
    pub async fn pop_item(&self) -> Result<Option<(K, V)>> {
        let v = none_on(self.call("popitem", vec![]).await, exc::KEY_ERROR)?;
        v.map(out).transpose()
    }

    /// `d.setdefault(key, default)`: the value now stored under `key`.
    pub async fn set_default(&self, key: &K, default: &V) -> Result<V> {
        out(self
            .call("setdefault", vec![arg(key)?, arg(default)?])
            .await?)
    }

    /// `d.update(pairs)`.
    pub async fn update(&self, pairs: &[(K, V)]) -> Result<()> {
        self.call("update", vec![dict_arg(pairs)?]).await.map(drop)
    }

    /// `d.clear()`.
    pub async fn clear(&self) -> Result<()> {
        self.call("clear", vec![]).await.map(drop)
    }

    /// `d.copy()` as pairs in insertion order.
    pub async fn copy(&self) -> Result<Vec<(K, V)>> {
        let d = self.call("copy", vec![]).await?;
        pairs_of(d)
    }

    /// The whole dict (`#GETVALUE`) as any map type serde can build
    /// (`HashMap<K, V>`, `BTreeMap<K, V>`, a struct with named fields).
    pub async fn to_map<M: DeserializeOwned>(&self) -> Result<M> {
        out(self.raw.get_value().await?)
    }

    /// Iterates the keys through a server-side iterator (`iter(d)`). The
    /// server raises `RuntimeError` if the dict changes size meanwhile.
    pub async fn iter(&self) -> Result<IteratorProxy<K>> {
        Ok(IteratorProxy::from_raw(
            self.raw.call_proxy("__iter__", vec![], Dict::new()).await?,
        ))
    }
}

/// The pairs of a `dict` value, in order.
fn pairs_of<K: DeserializeOwned, V: DeserializeOwned>(d: Value) -> Result<Vec<(K, V)>> {
    match d {
        Value::Dict(d) => d.into_iter().map(|(k, v)| Ok((out(k)?, out(v)?))).collect(),
        other => Err(crate::error::Error::protocol(format!(
            "expected a dict, got a {}",
            other.type_name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dict_arguments_keep_order_and_python_keys() {
        let v = dict_arg(&[(1.0_f64, "a"), (2.0, "b")]).unwrap();
        let Value::Dict(d) = &v else { panic!("{v:?}") };
        // 1.0 and 1 are one key in Python.
        assert_eq!(d.get(&Value::Int(1)).unwrap(), Some(&Value::from("a")));
        let pairs: Vec<(f64, String)> = pairs_of(v).unwrap();
        assert_eq!(pairs, vec![(1.0, "a".to_string()), (2.0, "b".to_string())]);
    }

    #[test]
    fn unhashable_keys_are_refused_before_sending() {
        let err = dict_arg(&[(vec![1], 1)]).unwrap_err();
        assert!(err.to_string().contains("unhashable type: 'list'"), "{err}");
    }
}
