//! [`EventProxy`]: a shared `threading.Event` (docs/protocol.md 9.8), and
//! `Manager::event`.

use super::{bool_out, secs, typed_proxy};
use crate::error::Result;
use crate::manager::Manager;
use crate::raw::RawProxy;
use mpcluster_wire::{Dict, Value};
use std::time::Duration;

/// A shared event flag.
pub struct EventProxy {
    raw: RawProxy,
}

typed_proxy!(EventProxy, Some("EventProxy"));

impl Manager {
    /// `manager.Event()`: a new, cleared event.
    pub async fn event(&self) -> Result<EventProxy> {
        self.create("Event", vec![], Dict::new()).await
    }
}

impl EventProxy {
    async fn call(&self, method: &str, args: Vec<Value>) -> Result<Value> {
        self.raw.call(method, args, Dict::new()).await
    }

    /// `is_set()`.
    pub async fn is_set(&self) -> Result<bool> {
        bool_out(self.call("is_set", vec![]).await?)
    }

    /// `set()`: wakes every waiter.
    pub async fn set(&self) -> Result<()> {
        self.call("set", vec![]).await.map(drop)
    }

    /// `clear()`.
    pub async fn clear(&self) -> Result<()> {
        self.call("clear", vec![]).await.map(drop)
    }

    /// `wait()`: until set.
    pub async fn wait(&self) -> Result<()> {
        self.call("wait", vec![Value::None]).await.map(drop)
    }

    /// `wait(timeout)`: whether the event is set.
    pub async fn wait_timeout(&self, timeout: Duration) -> Result<bool> {
        bool_out(self.call("wait", vec![secs(timeout)]).await?)
    }
}
