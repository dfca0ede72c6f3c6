//! [`ListProxy`]: a shared Python `list` (docs/protocol.md 9.1), and
//! `Manager::list`.
//!
//! Indices are Python's: negative ones count from the end. Iteration uses
//! the protocol CPython's `ListProxy` falls back on, since the proxy has
//! no `__iter__`: `__getitem__(0)`, `__getitem__(1)`, ... until the server
//! answers `IndexError`.

use super::{arg, none_on, out, slice, typed_proxy, usize_out};
use crate::error::{exc, Error, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;

/// A shared `list` of `T` (use [`Value`] for lists of mixed types).
pub struct ListProxy<T> {
    raw: RawProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(ListProxy<T>, Some("ListProxy"));

impl Manager {
    /// `manager.list(items)`: a new shared list.
    pub async fn list<T: Serialize>(&self, items: &[T]) -> Result<ListProxy<T>> {
        self.create("list", vec![arg(items)?], Dict::new()).await
    }
}

impl<T: Serialize + DeserializeOwned> ListProxy<T> {
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.raw.call(method, args, Dict::new()).await
    }

    async fn unit(&self, method: &str, args: Vec<Value>) -> Result<()> {
        self.call(method, args).await.map(drop)
    }

    /// `append(item)`.
    pub async fn push(&self, item: &T) -> Result<()> {
        self.unit("append", vec![arg(item)?]).await
    }

    /// `extend(items)` (also what a CPython client sends for `l += items`).
    pub async fn extend(&self, items: &[T]) -> Result<()> {
        self.unit("extend", vec![arg(items)?]).await
    }

    /// `insert(index, item)`.
    pub async fn insert(&self, index: i64, item: &T) -> Result<()> {
        self.unit("insert", vec![Value::Int(index), arg(item)?])
            .await
    }

    /// `l[index]`; `IndexError` when out of range.
    pub async fn get(&self, index: i64) -> Result<T> {
        out(self.call("__getitem__", vec![Value::Int(index)]).await?)
    }

    /// `l[start:stop]`, `None` for an open end.
    pub async fn slice(&self, start: Option<i64>, stop: Option<i64>) -> Result<Vec<T>> {
        out(self.call("__getitem__", vec![slice(start, stop)]).await?)
    }

    /// `l[index] = item`.
    pub async fn set(&self, index: i64, item: &T) -> Result<()> {
        self.unit("__setitem__", vec![Value::Int(index), arg(item)?])
            .await
    }

    /// `l[start:stop] = items`.
    pub async fn set_slice(
        &self,
        start: Option<i64>,
        stop: Option<i64>,
        items: &[T],
    ) -> Result<()> {
        self.unit("__setitem__", vec![slice(start, stop), arg(items)?])
            .await
    }

    /// `del l[index]`.
    pub async fn delete(&self, index: i64) -> Result<()> {
        self.unit("__delitem__", vec![Value::Int(index)]).await
    }

    /// `del l[start:stop]`.
    pub async fn delete_slice(&self, start: Option<i64>, stop: Option<i64>) -> Result<()> {
        self.unit("__delitem__", vec![slice(start, stop)]).await
    }

    /// Empties the list: `del l[:]`, which every server exposes (`clear`
    /// is exposed by 3.14 servers only).
    pub async fn clear(&self) -> Result<()> {
        self.delete_slice(None, None).await
    }

    /// `len(l)`.
    pub async fn len(&self) -> Result<usize> {
        usize_out(self.call("__len__", vec![]).await?)
    }

    /// `not l`.
    pub async fn is_empty(&self) -> Result<bool> {
        Ok(self.len().await? == 0)
    }

    /// `item in l` (Python equality: `1 == 1.0 == True`).
    pub async fn contains(&self, item: &T) -> Result<bool> {
        super::bool_out(self.call("__contains__", vec![arg(item)?]).await?)
    }

    /// `l.index(item)`; `ValueError` when absent.
    pub async fn index(&self, item: &T) -> Result<usize> {
        usize_out(self.call("index", vec![arg(item)?]).await?)
    }

    /// `l.count(item)`.
    pub async fn count(&self, item: &T) -> Result<usize> {
        usize_out(self.call("count", vec![arg(item)?]).await?)
    }

    /// `l.pop()`; `None` when the list is empty (Python's `IndexError`).
    pub async fn pop(&self) -> Result<Option<T>> {
        let v = none_on(self.call("pop", vec![]).await, exc::INDEX_ERROR)?;
        v.map(out).transpose()
    }

    /// `l.pop(index)`; `IndexError` when out of range.
    pub async fn pop_at(&self, index: i64) -> Result<T> {
        out(self.call("pop", vec![Value::Int(index)]).await?)
    }

    /// `l.remove(item)`: the first equal item; `ValueError` when absent.
    pub async fn remove(&self, item: &T) -> Result<()> {
        self.unit("remove", vec![arg(item)?]).await
    }

    /// `l.reverse()`.
    pub async fn reverse(&self) -> Result<()> {
        self.unit("reverse", vec![]).await
    }

    /// `l.sort(reverse=...)` with Python's ordering (`TypeError` for
    /// values Python cannot compare).
    pub async fn sort(&self, reverse: bool) -> Result<()> {
        let kwds = super::kwds1("reverse", Value::Bool(reverse));
        self.raw.call("sort", vec![], kwds).await.map(drop)
    }

    /// `l + other`: a new plain list (the shared one is unchanged).
    pub async fn concat(&self, other: &[T]) -> Result<Vec<T>> {
        out(self.call("__add__", vec![arg(other)?]).await?)
    }

    /// `l * n`: a new plain list.
    pub async fn repeat(&self, n: i64) -> Result<Vec<T>> {
        out(self.call("__mul__", vec![Value::Int(n)]).await?)
    }

    /// `l *= n` on the shared list.
    pub async fn repeat_in_place(&self, n: i64) -> Result<()> {
        // The server answers with the whole list, which a CPython client
        // discards too (docs/protocol.md 9.1).
        self.unit("__imul__", vec![Value::Int(n)]).await
    }

    /// `list(reversed(l))`: the server returns a `list_reverseiterator` by
    /// value (`builtins.reversed(list)` + its position), read here.
    pub async fn reversed(&self) -> Result<Vec<T>> {
        let v = self.call("__reversed__", vec![]).await?;
        out(read_reversed(v)?)
    }

    /// A copy of the whole list (`#GETVALUE`).
    pub async fn to_vec(&self) -> Result<Vec<T>> {
        out(self.raw.get_value().await?)
    }

    /// Iterates with the `__getitem__` protocol, as `for x in l` does in
    /// CPython; items added meanwhile are seen, as in Python.
    pub fn iter(&self) -> ListIter<T> {
        ListIter {
            list: self.clone(),
            next: 0,
            done: false,
        }
    }
}

/// Items of a [`ListProxy`] or an array, one request each.
pub struct ListIter<T> {
    list: ListProxy<T>,
    next: i64,
    done: bool,
}

impl<T: Serialize + DeserializeOwned> ListIter<T> {
    /// The next item, or `None` once the server answers `IndexError`.
    pub async fn next(&mut self) -> Result<Option<T>> {
        if self.done {
            return Ok(None);
        }
        let got = self
            .list
            .call("__getitem__", vec![Value::Int(self.next)])
            .await;
        match none_on(got, exc::INDEX_ERROR)? {
            Some(v) => {
                self.next += 1;
                out(v).map(Some)
            }
            None => {
                self.done = true;
                Ok(None)
            }
        }
    }
}

/// The items a `reversed(list)` value would yield: `builtins.reversed(l)`
/// with `BUILD` of the next index (CPython's `listreviter.__reduce__`), or
/// `builtins.iter([])` once exhausted.
pub(crate) fn read_reversed(v: Value) -> Result<Value> {
    let bad = |v: &Value| {
        Error::protocol(format!(
            "unexpected reversed() value {}",
            v.repr_bounded(100)
        ))
    };
    if v.as_object_of("builtins", "iter").is_some() {
        return Ok(super::unwrap_builtin_list(v));
    }
    let Some(o) = v.as_object_of("builtins", "reversed") else {
        return Err(bad(&v));
    };
    let Some(Value::List(items)) = o.args().first() else {
        return Err(bad(&v));
    };
    let next = match &o.state {
        Some(state) => state.as_i64().ok_or_else(|| bad(&v))?,
        None => items.len() as i64 - 1,
    };
    let upto = usize::try_from(next.saturating_add(1))
        .unwrap_or(0)
        .min(items.len());
    Ok(Value::List(
        items.iter().take(upto).rev().cloned().collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mpcluster_wire::{pickle, Object};

    #[test]
    fn reversed_values_from_cpython_are_read() {
        // CPython 3.11: pickle.dumps(reversed([1, 2, 3]), 4)
        let bytes: &[u8] = b"\x80\x04\x95*\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x08reversed\x94\x93\x94]\x94(K\x01K\x02K\x03e\x85\x94R\x94K\x02b.";
        let v = pickle::decode(bytes, &Default::default()).unwrap();
        assert_eq!(
            read_reversed(v).unwrap(),
            Value::List(vec![Value::Int(3), Value::Int(2), Value::Int(1)])
        );
        let exhausted = Value::Object(Box::new(Object::reduce(
            Value::global("builtins", "iter"),
            vec![Value::List(vec![])],
        )));
        assert_eq!(read_reversed(exhausted).unwrap(), Value::List(vec![]));
        assert!(read_reversed(Value::Int(1)).is_err());
    }
}
