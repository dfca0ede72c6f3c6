//! The state every connection task shares: settings, the object store,
//! named objects, the connection table and the one shutdown signal.

use crate::clients::Clients;
use crate::events::Events;
use crate::metrics::Metrics;
use crate::store::{ConnId, Store};
use mpcluster_wire::handshake::AuthPolicy;
use mpcluster_wire::pickle;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Limits and switches, fixed at start.
#[derive(Debug, Clone)]
pub struct Settings {
    pub max_frame: usize,
    pub pickle: pickle::Limits,
    pub max_connections: usize,
    pub admin_max_connections: usize,
    pub handshake_timeout: Duration,
    pub auth_policy: AuthPolicy,
    pub allow_remote_shutdown: bool,
    pub reap_orphans_after: Option<Duration>,
    /// Unsent reply bytes a client that reads nothing may leave.
    pub max_pending_reply_bytes: usize,
    /// `--max-memory`, resolved.
    pub max_memory: crate::memory::MemoryLimit,
}

/// What connection tasks share.
pub struct Shared {
    pub settings: Settings,
    /// Never logged, never shown by any API.
    pub authkey: Vec<u8>,
    /// `(host, port)` written into tokens.
    pub advertised: (String, u16),
    pub store: Store,
    /// Named typeid → id of its one shared object.
    pub named: HashMap<String, String>,
    pub clients: Clients,
    pub events: Events,
    pub metrics: Metrics,
    /// Ctrl-C, SIGTERM and an allowed `shutdown` request all cancel this.
    pub shutdown: CancellationToken,
    next_conn: AtomicU64,
}

impl Shared {
    pub fn new(
        settings: Settings,
        authkey: Vec<u8>,
        advertised: (String, u16),
        store: Store,
        events: Events,
        shutdown: CancellationToken,
    ) -> Shared {
        Shared {
            settings,
            authkey,
            advertised,
            store,
            named: HashMap::new(),
            clients: Clients::default(),
            events,
            metrics: Metrics::default(),
            shutdown,
            next_conn: AtomicU64::new(1),
        }
    }

    pub fn next_conn_id(&self) -> ConnId {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }
}

impl Shared {
    /// Prepares request arguments that carry proxies of ours: notes that
    /// objects may now reference each other (the store's sweep), and writes
    /// our advertised address into their tokens (spec 6.3, 6.4).
    pub fn adopt_proxies(&self, args: &mut crate::args::Args) {
        let values = args
            .pos
            .iter_mut()
            .chain(args.kw.iter_mut().map(|(_, v)| v));
        for v in values {
            if crate::proxyref::contains_proxy(v) {
                let mut ids = Vec::new();
                crate::proxyref::collect_ids(v, &mut ids);
                self.store.note_proxies(ids);
                let store = &self.store;
                crate::proxyref::localise(v, &self.advertised, &|id| store.get(id).is_some());
            }
        }
    }
}
