//! Blocking forms of the data proxies: list, dict, namespace, value,
//! array, server-side iterators and untyped proxies. Iterators implement
//! `std::iter::Iterator` with `Result` items.

use super::{block, blocking_methods, blocking_proxy};
use crate::error::Result;
use crate::{Proxy, Value};
use mpcluster_wire::Dict;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Blocking [`crate::ListProxy`].
pub struct ListProxy<T>(crate::ListProxy<T>);
blocking_proxy!(ListProxy<T>, crate::ListProxy<T>);

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    blocking_methods! { "crate::ListProxy";
        fn push(&self, item: &T) -> ();
        fn extend(&self, items: &[T]) -> ();
        fn insert(&self, index: i64, item: &T) -> ();
        fn get(&self, index: i64) -> T;
        fn slice(&self, start: Option<i64>, stop: Option<i64>) -> Vec<T>;
        fn set(&self, index: i64, item: &T) -> ();
        fn set_slice(&self, start: Option<i64>, stop: Option<i64>, items: &[T]) -> ();
        fn delete(&self, index: i64) -> ();
        fn delete_slice(&self, start: Option<i64>, stop: Option<i64>) -> ();
        fn clear(&self) -> ();
        fn len(&self) -> usize;
        fn is_empty(&self) -> bool;
        fn contains(&self, item: &T) -> bool;
        fn index(&self, item: &T) -> usize;
        fn count(&self, item: &T) -> usize;
        fn pop(&self) -> Option<T>;
        fn pop_at(&self, index: i64) -> T;
        fn remove(&self, item: &T) -> ();
        fn reverse(&self) -> ();
        fn sort(&self, reverse: bool) -> ();
        fn concat(&self, other: &[T]) -> Vec<T>;
        fn repeat(&self, n: i64) -> Vec<T>;
        fn repeat_in_place(&self, n: i64) -> ();
        fn reversed(&self) -> Vec<T>;
        fn to_vec(&self) -> Vec<T>;
    }

    /// Iterates with the `__getitem__` protocol, one request per item.
    pub fn iter(&self) -> ListIter<T> {
        ListIter(self.0.iter(), self.0.raw().clone())
    }
}

/// Blocking [`crate::ListIter`]: yields `Ok(item)` until `IndexError`.
pub struct ListIter<T>(crate::ListIter<T>, crate::RawProxy);

impl<T: Serialize + DeserializeOwned> Iterator for ListIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        block(&self.1, self.0.next()).transpose()
    }
}

/// Blocking [`crate::DictProxy`].
pub struct DictProxy<K, V>(crate::DictProxy<K, V>);
blocking_proxy!(DictProxy<K, V>, crate::DictProxy<K, V>);

impl<K, V> DictProxy<K, V>
where
    K: Serialize + DeserializeOwned,
    V: Serialize + DeserializeOwned,
{
    blocking_methods! { "crate::DictProxy";
        fn get(&self, key: &K) -> Option<V>;
        fn get_or(&self, key: &K, default: &V) -> V;
        fn insert(&self, key: &K, value: &V) -> ();
        fn delete(&self, key: &K) -> ();
        fn contains_key(&self, key: &K) -> bool;
        fn len(&self) -> usize;
        fn is_empty(&self) -> bool;
        fn keys(&self) -> Vec<K>;
        fn values(&self) -> Vec<V>;
        fn items(&self) -> Vec<(K, V)>;
        fn remove(&self, key: &K) -> Option<V>;
        fn remove_or(&self, key: &K, default: &V) -> V;
        fn pop_item(&self) -> Option<(K, V)>;
        fn set_default(&self, key: &K, default: &V) -> V;
        fn update(&self, pairs: &[(K, V)]) -> ();
        fn clear(&self) -> ();
        fn copy(&self) -> Vec<(K, V)>;
    }

    /// Blocking form of [`crate::DictProxy::to_map`].
    pub fn to_map<M: DeserializeOwned>(&self) -> Result<M> {
        block(self.0.raw(), self.0.to_map())
    }

    /// Blocking form of [`crate::DictProxy::iter`]: the keys through a
    /// server-side iterator.
    pub fn iter(&self) -> Result<IteratorProxy<K>> {
        block(self.0.raw(), self.0.iter()).map(IteratorProxy)
    }
}

/// Blocking [`crate::IteratorProxy`], an `Iterator` of `Result<T>`.
pub struct IteratorProxy<T>(crate::IteratorProxy<T>);
blocking_proxy!(IteratorProxy<T>, crate::IteratorProxy<T>);

impl<T: DeserializeOwned> Iterator for IteratorProxy<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        block(self.0.raw(), self.0.next()).transpose()
    }
}

/// Blocking [`crate::NamespaceProxy`].
pub struct NamespaceProxy(crate::NamespaceProxy);
blocking_proxy!(NamespaceProxy, crate::NamespaceProxy);

impl NamespaceProxy {
    /// Blocking form of [`crate::NamespaceProxy::get`].
    pub fn get<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>> {
        block(self.0.raw(), self.0.get(name))
    }

    /// Blocking form of [`crate::NamespaceProxy::set`].
    pub fn set<T: Serialize + ?Sized>(&self, name: &str, value: &T) -> Result<()> {
        block(self.0.raw(), self.0.set(name, value))
    }

    /// Blocking form of [`crate::NamespaceProxy::to_struct`].
    pub fn to_struct<T: DeserializeOwned>(&self) -> Result<T> {
        block(self.0.raw(), self.0.to_struct())
    }

    blocking_methods! { "crate::NamespaceProxy";
        fn delete(&self, name: &str) -> ();
        fn attributes(&self) -> Vec<(String, Value)>;
    }
}

/// Blocking [`crate::ValueProxy`].
pub struct ValueProxy<T>(crate::ValueProxy<T>);
blocking_proxy!(ValueProxy<T>, crate::ValueProxy<T>);

impl<T: Serialize + DeserializeOwned> ValueProxy<T> {
    blocking_methods! { "crate::ValueProxy";
        fn get(&self) -> T;
        fn set(&self, value: &T) -> ();
    }
}

/// Blocking [`crate::ArrayProxy`].
pub struct ArrayProxy<T>(crate::ArrayProxy<T>);
blocking_proxy!(ArrayProxy<T>, crate::ArrayProxy<T>);

impl<T: Serialize + DeserializeOwned> ArrayProxy<T> {
    blocking_methods! { "crate::ArrayProxy";
        fn len(&self) -> usize;
        fn is_empty(&self) -> bool;
        fn get(&self, index: i64) -> T;
        fn set(&self, index: i64, item: &T) -> ();
        fn slice(&self, start: Option<i64>, stop: Option<i64>) -> Vec<T>;
        fn to_vec(&self) -> Vec<T>;
    }

    /// Iterates with the `__getitem__` protocol, one request per item.
    pub fn iter(&self) -> ArrayIter<T> {
        ArrayIter(self.0.iter(), self.0.raw().clone())
    }
}

/// Blocking [`crate::ArrayIter`].
pub struct ArrayIter<T>(crate::ArrayIter<T>, crate::RawProxy);

impl<T: Serialize + DeserializeOwned> Iterator for ArrayIter<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Result<T>> {
        block(&self.1, self.0.next()).transpose()
    }
}

/// Blocking [`crate::RawProxy`]: untyped calls with Python values.
pub struct RawProxy(crate::RawProxy);
blocking_proxy!(RawProxy, crate::RawProxy);

impl RawProxy {
    /// Blocking form of [`crate::RawProxy::call`].
    pub fn call(&self, method: &str, args: Vec<Value>, kwds: Dict) -> Result<Value> {
        block(&self.0, self.0.call(method, args, kwds))
    }

    /// Blocking form of [`crate::RawProxy::call_proxy`].
    pub fn call_proxy(&self, method: &str, args: Vec<Value>, kwds: Dict) -> Result<RawProxy> {
        block(&self.0, self.0.call_proxy(method, args, kwds)).map(RawProxy)
    }

    /// Blocking form of [`crate::RawProxy::get_value`].
    pub fn get_value(&self) -> Result<Value> {
        block(&self.0, self.0.get_value())
    }

    /// Blocking form of [`crate::RawProxy::py_repr`].
    pub fn py_repr(&self) -> Result<String> {
        block(&self.0, self.0.py_repr())
    }
}
