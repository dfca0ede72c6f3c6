//! [`RawProxy`]: one reference to a shared object, and untyped calls on it.
//!
//! Every typed proxy wraps a `RawProxy`. Clones share the one server-side
//! reference; when the last clone goes, its `Drop` queues a `decref` on
//! the manager's I/O runtime (CPython's proxy finalizer, docs/protocol.md 5.6), which
//! runs even if the caller has no runtime, and which the manager's last
//! handle waits for. A `RawProxy` is also the Rust `AutoProxy`: it calls
//! any exposed method by name with Python values, for typeids the client
//! has no typed proxy for.

use crate::conn::{Conn, Reply};
use crate::error::{Error, Result};
use crate::manager::{Manager, Shared};
use crate::token::{ProxyClass, Token};
use mpcluster_wire::{Dict, Value};
use std::fmt;
use std::sync::Arc;

/// An untyped proxy: a counted reference to one shared object.
#[derive(Clone)]
pub struct RawProxy {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    token: Token,
    exposed: Option<Vec<String>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let core = self.shared.core.clone();
        let token = self.token.clone();
        self.shared.io.detach(async move {
            if let Err(e) = core.decref(&token).await {
                // The manager may be gone; nothing more can be done.
                tracing::debug!(%token, error = %e, "decref failed");
            }
        });
    }
}

impl fmt::Debug for RawProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawProxy")
            .field("token", &self.inner.token)
            .finish_non_exhaustive()
    }
}

impl RawProxy {
    /// Wraps a reference the caller already counted on the server.
    pub(crate) fn new(shared: Arc<Shared>, token: Token, exposed: Option<Vec<String>>) -> Self {
        RawProxy {
            inner: Arc::new(Inner {
                shared,
                token,
                exposed,
            }),
        }
    }

    /// The object's token.
    pub fn token(&self) -> &Token {
        &self.inner.token
    }

    /// The exposed method names the server reported, when known (from
    /// `create`, a `#PROXY` reply, or `get_methods` for auto proxies).
    pub fn exposed(&self) -> Option<&[String]> {
        self.inner.exposed.as_deref()
    }

    /// The manager this proxy was made through.
    pub fn manager(&self) -> Manager {
        Manager {
            shared: self.inner.shared.clone(),
        }
    }

    /// Calls `method(*args, **kwds)` on the object.
    pub async fn call(&self, method: &str, args: Vec<Value>, kwds: Dict) -> Result<Value> {
        self.call_reply(method, args, kwds).await?.into_value()
    }

    /// Calls a method whose result the server makes a new shared object
    /// (`#PROXY`, e.g. `dict.__iter__`), and returns a proxy of it.
    pub async fn call_proxy(&self, method: &str, args: Vec<Value>, kwds: Dict) -> Result<RawProxy> {
        let (token, exposed) = match self.call_reply(method, args, kwds).await? {
            Reply::Proxy { exposed, token } => (token, exposed),
            other => {
                other.into_value()?;
                return Err(Error::protocol(format!(
                    "{method} returned a value where a #PROXY reply was expected"
                )));
            }
        };
        let core = self.inner.shared.core.clone();
        let called = self.inner.token.address.clone();
        let token = self
            .inner
            .shared
            .io
            .run(async move { core.adopt(&called, token).await })
            .await??;
        Ok(RawProxy::new(
            self.inner.shared.clone(),
            token,
            Some(exposed),
        ))
    }

    async fn call_reply(&self, method: &str, args: Vec<Value>, kwds: Dict) -> Result<Reply> {
        let core = self.inner.shared.core.clone();
        let token = self.inner.token.clone();
        let method = method.to_string();
        self.inner
            .shared
            .io
            .run(async move { core.call(&token, &method, args, kwds).await })
            .await?
    }

    /// `#GETVALUE`: a copy of the whole referent (CPython's
    /// `proxy._getvalue()`).
    pub async fn get_value(&self) -> Result<Value> {
        self.call("#GETVALUE", vec![], Dict::new()).await
    }

    /// `str(referent)` through the server's `__str__` fallback.
    pub async fn py_str(&self) -> Result<String> {
        self.text("__str__").await
    }

    /// `repr(referent)` through the server's `__repr__` fallback (what a
    /// CPython client's `str(proxy)` shows).
    pub async fn py_repr(&self) -> Result<String> {
        self.text("__repr__").await
    }

    async fn text(&self, method: &str) -> Result<String> {
        match self.call(method, vec![], Dict::new()).await? {
            Value::Str(s) => Ok(s),
            other => Err(Error::protocol(format!(
                "{method} returned a {}",
                other.type_name()
            ))),
        }
    }

    /// The proxy as a value CPython unpickles into a working proxy
    /// (`RebuildProxy(...)`, docs/protocol.md 7.4), to store in shared objects or send
    /// to Python processes. It holds no reference by itself.
    pub fn to_value(&self, class: Option<&str>) -> Value {
        let exposed: &[String] = self.exposed().unwrap_or(&[]);
        let class = match class {
            Some(name) => ProxyClass::Typed(name),
            None => ProxyClass::Auto(exposed),
        };
        self.inner.token.to_proxy_value(class)
    }

    /// A serving connection of this object's manager, to keep for calls
    /// that must share one (lock ownership).
    pub(crate) async fn checkout(&self) -> Result<Conn> {
        let core = self.inner.shared.core.clone();
        let address = self.inner.token.address.clone();
        self.inner
            .shared
            .io
            .run(async move { core.checkout(&address).await })
            .await?
    }

    /// A call on a pinned connection; `conn` is `None` afterwards when the
    /// exchange failed (the connection is gone) or the task was cancelled.
    pub(crate) async fn call_on(
        &self,
        conn: &mut Option<Conn>,
        method: &'static str,
        args: Vec<Value>,
    ) -> Result<Value> {
        let Some(c) = conn.take() else {
            return Err(Error::closed(&self.inner.token.address.to_string()));
        };
        let core = self.inner.shared.core.clone();
        let token = self.inner.token.clone();
        let (back, reply) = self
            .inner
            .shared
            .io
            .run(async move { core.call_pinned(c, &token, method, args).await })
            .await?;
        *conn = back;
        reply?.into_value()
    }

    /// Sends `method` on a pinned connection in the background and then
    /// returns the connection to the pool (a guard dropped without an
    /// explicit release).
    pub(crate) fn detach_on(&self, conn: Conn, method: &'static str) {
        let core = self.inner.shared.core.clone();
        let token = self.inner.token.clone();
        self.inner.shared.io.detach(async move {
            let (back, reply) = core.call_pinned(conn, &token, method, vec![]).await;
            if let Err(e) = reply.and_then(Reply::into_value) {
                tracing::warn!(%token, method, error = %e, "release from a dropped guard failed");
            }
            if let Some(conn) = back {
                core.checkin(conn);
            }
        });
    }

    /// Returns a pinned connection to the pool.
    pub(crate) fn checkin(&self, conn: Conn) {
        self.inner.shared.core.checkin(conn);
    }

    /// Blocks the current thread on `fut` (the blocking facade).
    pub(crate) fn block_on<F: std::future::Future>(&self, fut: F) -> Result<F::Output> {
        self.inner.shared.io.block_on(fut)
    }
}
