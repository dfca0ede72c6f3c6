//! Events operators can watch (the admin event stream): objects created and
//! disposed, clients connecting and leaving, failed authentications.
//!
//! A `broadcast` channel: emitting never blocks the data plane, and a slow
//! watcher only loses old events (it is told how many).

use crate::store::ConnId;
use std::net::SocketAddr;
use tokio::sync::broadcast;

#[derive(Clone, Debug)]
pub enum Event {
    ObjectCreated { id: String, typeid: String },
    ObjectDisposed { id: String, typeid: String },
    ClientConnected { conn: ConnId, peer: SocketAddr },
    ClientDisconnected { conn: ConnId, peer: SocketAddr },
    AuthFailed { peer: SocketAddr, reason: String },
}

/// The sending side, shared by the store and the connection tasks.
#[derive(Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(1024).0,
        }
    }
}

impl Events {
    pub fn emit(&self, e: Event) {
        // No watcher is not an error.
        let _ = self.tx.send(e);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }
}
