//! [`QueueProxy`]: a shared `queue.Queue` (docs/protocol.md 9.10), also behind
//! `JoinableQueue` and named queues (`get_queue`), and `Manager::queue`.
//!
//! Queues are `AutoProxy` objects in CPython, so their requests carry
//! arguments as written; we always send the positional
//! `put(item, block, timeout)` / `get(block, timeout)` forms. Python's
//! `queue.Empty` / `queue.Full` become `None` / `false` in the "try"
//! methods and stay errors elsewhere.

use super::{arg, bool_out, none_on, out, secs, typed_proxy, usize_out};
use crate::error::{exc, Result};
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::marker::PhantomData;
use std::time::Duration;

/// A shared FIFO queue of `T` (`Queue` and `JoinableQueue`).
pub struct QueueProxy<T> {
    raw: RawProxy,
    _types: PhantomData<fn() -> T>,
}

typed_proxy!(QueueProxy<T>, None);

impl Manager {
    /// `manager.Queue(maxsize)`: a new shared queue; `0` is unbounded.
    pub async fn queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.create("Queue", vec![Value::Int(maxsize as i64)], Dict::new())
            .await
    }

    /// `manager.JoinableQueue(maxsize)`: a queue whose consumers call
    /// [`QueueProxy::task_done`] and whose producers can
    /// [`QueueProxy::join`].
    pub async fn joinable_queue<T>(&self, maxsize: usize) -> Result<QueueProxy<T>> {
        self.create(
            "JoinableQueue",
            vec![Value::Int(maxsize as i64)],
            Dict::new(),
        )
        .await
    }
}

impl<T> QueueProxy<T> {
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.raw.call(method, args, Dict::new()).await
    }

    /// `q.qsize()`.
    pub async fn len(&self) -> Result<usize> {
        usize_out(self.call("qsize", vec![]).await?)
    }

    /// `q.empty()`.
    pub async fn is_empty(&self) -> Result<bool> {
        bool_out(self.call("empty", vec![]).await?)
    }

    /// `q.full()`.
    pub async fn is_full(&self) -> Result<bool> {
        bool_out(self.call("full", vec![]).await?)
    }

    /// `q.task_done()`; `ValueError` when called more often than items
    /// were put.
    pub async fn task_done(&self) -> Result<()> {
        self.call("task_done", vec![]).await.map(drop)
    }

    /// `q.join()`: waits until every item put has been marked done.
    pub async fn join(&self) -> Result<()> {
        self.call("join", vec![]).await.map(drop)
    }
}

/// Producers need only `Serialize`.
impl<T: Serialize> QueueProxy<T> {
    /// `q.put(item)`: waits while a bounded queue is full.
    pub async fn put(&self, item: &T) -> Result<()> {
        self.call("put", vec![arg(item)?]).await.map(drop)
    }

    /// `q.put(item, False)`: `false` when the queue is full (`queue.Full`).
    pub async fn try_put(&self, item: &T) -> Result<bool> {
        let r = self.call("put", vec![arg(item)?, Value::Bool(false)]).await;
        Ok(none_on(r, exc::QUEUE_FULL)?.is_some())
    }

    /// `q.put(item, True, timeout)`: `false` when still full after
    /// `timeout`.
    pub async fn put_timeout(&self, item: &T, timeout: Duration) -> Result<bool> {
        let args = vec![arg(item)?, Value::Bool(true), secs(timeout)];
        Ok(none_on(self.call("put", args).await, exc::QUEUE_FULL)?.is_some())
    }

    /// `q.put_nowait(item)`: `queue.Full` as an error.
    pub async fn put_nowait(&self, item: &T) -> Result<()> {
        self.call("put_nowait", vec![arg(item)?]).await.map(drop)
    }
}

/// Consumers need only `Deserialize`.
impl<T: DeserializeOwned> QueueProxy<T> {
    /// `q.get()`: waits for an item.
    pub async fn get(&self) -> Result<T> {
        out(self.call("get", vec![]).await?)
    }

    /// `q.get(False)`: `None` when empty (`queue.Empty`).
    pub async fn try_get(&self) -> Result<Option<T>> {
        let r = self.call("get", vec![Value::Bool(false)]).await;
        none_on(r, exc::QUEUE_EMPTY)?.map(out).transpose()
    }

    /// `q.get(True, timeout)`: `None` when still empty after `timeout`.
    pub async fn get_timeout(&self, timeout: Duration) -> Result<Option<T>> {
        let r = self
            .call("get", vec![Value::Bool(true), secs(timeout)])
            .await;
        none_on(r, exc::QUEUE_EMPTY)?.map(out).transpose()
    }

    /// `q.get_nowait()`: `queue.Empty` as an error.
    pub async fn get_nowait(&self) -> Result<T> {
        out(self.call("get_nowait", vec![]).await?)
    }
}
