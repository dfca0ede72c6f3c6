//! What the I/O tasks share: connection settings and the pools of serving
//! connections, and the three ways a request travels.
//!
//! * **Control requests** (`create`, `incref`, `decref`, `dummy`, ...) each
//!   use a fresh connection, as a CPython client does and as a CPython
//!   server requires: it closes a control connection after one reply, and a
//!   serving connection cannot carry them (docs/protocol.md 5.1, 5.9).
//! * **Method calls** check a serving connection out of a small per-address
//!   pool, send one request, and check it back in. CPython keeps one
//!   serving connection per client thread; a pool is the async equivalent
//!   and does better for tasks: each connection still carries at most one
//!   outstanding request, so a blocking `Queue.get` holds its connection
//!   while other calls, from any task, take another one.
//! * **Pipelined calls** ([`crate::Pipeline`]) check one serving
//!   connection out for a whole batch: every request is written before
//!   the replies are read, which the server sends in order.
//! * **Pinned calls**: lock ownership of `RLock` and `Condition` belongs to
//!   the serving connection (docs/protocol.md 9.6), so a lock guard keeps the
//!   connection it acquired on and sends its release, `wait` and `notify`
//!   there.

use crate::conn::{Conn, ConnSettings, Reply};
use crate::error::{Error, Result};
use crate::token::{Address, Token};
use mpcluster_wire::{Dict, Value};
use std::collections::HashMap;
use std::sync::Mutex;

/// Shared by a manager's handles and its I/O tasks.
pub(crate) struct Core {
    pub settings: ConnSettings,
    /// Sent with `accept_connection` (CPython: process and thread name);
    /// the server shows it to operators.
    pub client_name: String,
    /// Idle serving connections kept per address; more are closed.
    pub max_idle: usize,
    pools: Mutex<HashMap<Address, Vec<Conn>>>,
}

impl Core {
    pub fn new(settings: ConnSettings, client_name: String, max_idle: usize) -> Core {
        Core {
            settings,
            client_name,
            max_idle,
            pools: Mutex::new(HashMap::new()),
        }
    }

    /// One control request on its own connection.
    pub async fn control(
        &self,
        address: &Address,
        name: &str,
        args: Vec<Value>,
        kwds: Dict,
    ) -> Result<Value> {
        let mut conn = Conn::open(address, &self.settings).await?;
        conn.request(None, name, args, kwds).await?.into_value()
    }

    /// `incref(id)` on the object's manager.
    pub async fn incref(&self, token: &Token) -> Result<()> {
        let args = vec![Value::from(token.id.as_str())];
        self.control(&token.address, "incref", args, Dict::new())
            .await
            .map(drop)
    }

    /// `decref(id)` on the object's manager.
    pub async fn decref(&self, token: &Token) -> Result<()> {
        let args = vec![Value::from(token.id.as_str())];
        self.control(&token.address, "decref", args, Dict::new())
            .await
            .map(drop)
    }

    /// An idle serving connection to `address`, or a new one announced
    /// with `accept_connection`.
    pub async fn checkout(&self, address: &Address) -> Result<Conn> {
        if let Some(conn) = self.lock_pools().get_mut(address).and_then(Vec::pop) {
            return Ok(conn);
        }
        let mut conn = Conn::open(address, &self.settings).await?;
        let name = vec![Value::from(self.client_name.as_str())];
        conn.request(None, "accept_connection", name, Dict::new())
            .await?
            .into_value()?;
        Ok(conn)
    }

    /// Returns a connection whose last exchange completed.
    pub fn checkin(&self, conn: Conn) {
        let mut pools = self.lock_pools();
        let idle = pools.entry(conn.address().clone()).or_default();
        if idle.len() < self.max_idle {
            idle.push(conn);
        }
    }

    /// One method call on a pooled serving connection.
    pub async fn call(
        &self,
        token: &Token,
        name: &str,
        args: Vec<Value>,
        kwds: Dict,
    ) -> Result<Reply> {
        let mut conn = self.checkout(&token.address).await?;
        // On an error the connection is dropped here: its state is unknown.
        let reply = conn.request(Some(&token.id), name, args, kwds).await?;
        self.checkin(conn);
        Ok(reply)
    }

    /// A batch of method calls written ahead of their replies on one
    /// pooled serving connection to `address` (see `crate::pipeline`).
    /// `frames` holds `count` framed requests.
    ///
    /// A `#PROXY` reply (a method whose result the server makes a shared
    /// object) is that entry's error, and the object it made is released
    /// at once: its creation reference belongs to this connection (spec
    /// 6.2), and CPython's server would keep it forever otherwise.
    pub async fn call_many(
        &self,
        address: &Address,
        frames: Vec<u8>,
        count: usize,
    ) -> Result<Vec<Result<Value>>> {
        let mut conn = self.checkout(address).await?;
        // On an error the connection is dropped here: its state is unknown.
        let exchanged = conn.exchange_many(&frames, count).await?;
        if exchanged.all_clean {
            self.checkin(conn);
        }
        let mut out = Vec::with_capacity(exchanged.replies.len());
        for reply in exchanged.replies {
            out.push(match reply {
                Ok(Reply::Proxy { token, .. }) => {
                    let mut token = token;
                    token.address = address.clone();
                    if let Err(e) = self.decref(&token).await {
                        // The manager may be gone; the object then went too.
                        tracing::debug!(%token, error = %e, "decref of a pipelined #PROXY failed");
                    }
                    Err(Error::protocol(format!(
                        "a pipelined call returned a shared object ({}); use \
                         RawProxy::call_proxy for such methods",
                        token.typeid
                    )))
                }
                Ok(reply) => reply.into_value(),
                Err(e) => Err(e),
            });
        }
        Ok(out)
    }

    /// One method call on a connection the caller keeps (a lock guard's).
    /// The connection comes back only if the exchange completed.
    pub async fn call_pinned(
        &self,
        mut conn: Conn,
        token: &Token,
        name: &str,
        args: Vec<Value>,
    ) -> (Option<Conn>, Result<Reply>) {
        match conn.request(Some(&token.id), name, args, Dict::new()).await {
            Ok(reply) => (Some(conn), Ok(reply)),
            Err(e) => (None, Err(e)),
        }
    }

    /// Takes over the object of a `#PROXY` reply as CPython's client does
    /// (docs/protocol.md 5.6): the token's address becomes the one we called through,
    /// then `incref` for our own reference and `decref` of the creation
    /// reference, which the server ties to the serving connection that
    /// carried the reply (docs/protocol.md 6.2) and which would otherwise vanish when
    /// that pooled connection closes.
    pub async fn adopt(&self, called: &Address, mut token: Token) -> Result<Token> {
        token.address = called.clone();
        self.incref(&token).await?;
        self.decref(&token).await?;
        Ok(token)
    }

    /// Closes every idle serving connection.
    pub fn close_idle(&self) {
        self.lock_pools().clear();
    }

    fn lock_pools(&self) -> std::sync::MutexGuard<'_, HashMap<Address, Vec<Conn>>> {
        // The map holds plain connections; a panic elsewhere cannot leave
        // it half-updated in a way that matters.
        self.pools.lock().unwrap_or_else(|p| p.into_inner())
    }
}
