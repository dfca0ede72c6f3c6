//! The table of open connections: who is connected, since when, doing
//! what. It feeds the orphan view (an object none of whose users is still
//! connected) and the admin surface.

use crate::store::ConnId;
use dashmap::DashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio_util::sync::CancellationToken;

/// One open connection.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: ConnId,
    pub peer: SocketAddr,
    pub opened: SystemTime,
    /// The `accept_connection` name (`'MainProcess|Thread-1'`) once the
    /// connection serves method calls.
    pub name: Mutex<Option<String>>,
    pub requests: AtomicU64,
    pub bytes_in: AtomicU64,
    pub bytes_out: AtomicU64,
    /// When the handshake succeeded.
    pub authenticated: Mutex<Option<SystemTime>>,
    /// What a blocked call waits on (`'<id>.get'`), for operators.
    pub waiting: Mutex<Option<String>>,
    /// Cancelled to drop this connection (admin), or on server shutdown.
    pub cancel: CancellationToken,
}

impl ClientInfo {
    pub fn count(&self, bytes_in: usize, bytes_out: usize) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.bytes_in.fetch_add(bytes_in as u64, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(bytes_out as u64, Ordering::Relaxed);
    }

    pub fn set_name(&self, name: String) {
        *self.name.lock().unwrap_or_else(|p| p.into_inner()) = Some(name);
    }

    pub fn set_waiting(&self, what: Option<String>) {
        *self.waiting.lock().unwrap_or_else(|p| p.into_inner()) = what;
    }

    pub fn set_authenticated(&self) {
        *self.authenticated.lock().unwrap_or_else(|p| p.into_inner()) = Some(SystemTime::now());
    }
}

/// Open connections by id.
#[derive(Default)]
pub struct Clients {
    open: DashMap<ConnId, Arc<ClientInfo>>,
}

impl Clients {
    pub fn open(&self, id: ConnId, peer: SocketAddr, cancel: CancellationToken) -> Arc<ClientInfo> {
        let info = Arc::new(ClientInfo {
            id,
            peer,
            opened: SystemTime::now(),
            name: Mutex::new(None),
            requests: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            authenticated: Mutex::new(None),
            waiting: Mutex::new(None),
            cancel,
        });
        self.open.insert(id, info.clone());
        info
    }

    pub fn close(&self, id: ConnId) {
        self.open.remove(&id);
    }

    pub fn is_open(&self, id: ConnId) -> bool {
        self.open.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }

    pub fn get(&self, id: ConnId) -> Option<Arc<ClientInfo>> {
        self.open.get(&id).map(|e| e.value().clone())
    }

    pub fn all(&self) -> Vec<Arc<ClientInfo>> {
        self.open.iter().map(|e| e.value().clone()).collect()
    }
}
