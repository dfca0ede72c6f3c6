//! The admin surface's narrow view of the manager: read-only snapshots of
//! the store, the connection table and the counters, plus the two operator
//! actions (dispose of an object, drop a connection) and the event feed.
//!
//! HTTP (`http.rs`) and gRPC (`grpc.rs`) both answer from these types, so
//! the two protocols can never disagree. Nothing here exposes the authkey,
//! and nothing here holds a lock across an `.await`: each snapshot copies
//! what it needs out of the entry's usage lock and lets go.

use crate::events::Event;
use crate::reaper;
use crate::state::Shared;
use crate::store::{ConnId, Entry};
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;
use tokio::sync::{broadcast, mpsc};
use utoipa::ToSchema;

/// Longest `repr()` preview returned, in bytes.
pub const PREVIEW_LIMIT: usize = 4096;

/// Idle time after which an unused object none of whose users is connected
/// counts as an orphan, when `--reap-orphans-after` does not say.
pub const DEFAULT_ORPHAN_AFTER: Duration = Duration::from_secs(300);

/// What an operator action can fail with.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ViewError {
    #[error("no object with id {0:?}")]
    NoSuchObject(String),
    #[error("object {0:?} is a named object from the config and cannot be deleted")]
    Named(String),
    #[error("no open connection with id {0}")]
    NoSuchConnection(ConnId),
}

/// A connection that called an object's methods.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct ConnRef {
    pub id: ConnId,
    /// Whether that connection is still open.
    pub open: bool,
}

/// One object, as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectInfo {
    pub id: String,
    /// The typeid it was created as (`list`, `Queue`, a named typeid).
    pub typeid: String,
    /// The CPython class of the referent (`list`, `Queue`, `Namespace`).
    pub type_name: String,
    /// References held by clients (CPython's `id_to_refcount`).
    pub refcount: i64,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Seconds since a method was last called on it.
    pub last_used_seconds_ago: f64,
    /// Number of items where that means something (queue depth, list length).
    pub size: Option<u64>,
    pub conns: Vec<ConnRef>,
    /// Referenced, idle past the orphan threshold, none of its users connected.
    pub orphan: bool,
    /// Declared in the config; never disposed.
    pub named: bool,
    /// Bytes of the data it holds (lists, dicts, queues, ...; none for
    /// locks and other kinds without data): a lower bound, without the
    /// allocator's overhead.
    pub memory_bytes: Option<u64>,
}

/// One object with a bounded preview of its contents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ObjectDetail {
    #[serde(flatten)]
    pub object: ObjectInfo,
    /// `repr()` of the referent, cut at `preview_limit` bytes.
    pub preview: String,
    pub preview_truncated: bool,
    pub preview_limit: u64,
}

/// One open data-plane connection.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConnectionInfo {
    pub id: ConnId,
    pub peer: String,
    /// The `accept_connection` name of a serving connection.
    pub name: Option<String>,
    /// RFC 3339.
    pub opened: String,
    /// When the authkey handshake succeeded (RFC 3339).
    pub authenticated: Option<String>,
    pub requests: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// What a blocked call waits on (`'<id>.get'`).
    pub waiting: Option<String>,
}

/// Counters of the whole manager.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Stats {
    pub version: String,
    /// RFC 3339 time the admin surface started (with the manager).
    pub started: String,
    pub uptime_seconds: f64,
    /// Every object held.
    pub objects: u64,
    /// Objects with a live client reference (CPython's `number_of_objects`).
    pub objects_referenced: u64,
    pub orphans: u64,
    pub connections: u64,
    /// Requests answered since start.
    pub requests_total: u64,
    /// `host:port` written into tokens.
    pub advertised: String,
    /// Bytes the manager process has allocated now (what `--max-memory`
    /// is checked against); absent when not counted.
    pub memory_used_bytes: Option<u64>,
    /// `--max-memory`, resolved; absent when unlimited.
    pub memory_limit_bytes: Option<u64>,
    /// Sum of the objects' `memory_bytes`: the part of the used memory
    /// that is stored data.
    pub memory_objects_bytes: u64,
}

/// What happened, as watchers see it.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKind {
    ObjectCreated {
        id: String,
        typeid: String,
    },
    ObjectDisposed {
        id: String,
        typeid: String,
    },
    ClientConnected {
        conn: ConnId,
        peer: String,
    },
    ClientDisconnected {
        conn: ConnId,
        peer: String,
    },
    AuthFailed {
        peer: String,
        reason: String,
    },
    /// This watcher fell behind and lost `skipped` events.
    Lagged {
        skipped: u64,
    },
}

/// An event with the time the admin surface saw it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventInfo {
    /// RFC 3339 with milliseconds.
    pub at: String,
    #[serde(flatten)]
    pub kind: EventKind,
}

impl From<Event> for EventKind {
    fn from(e: Event) -> Self {
        match e {
            Event::ObjectCreated { id, typeid } => EventKind::ObjectCreated { id, typeid },
            Event::ObjectDisposed { id, typeid } => EventKind::ObjectDisposed { id, typeid },
            Event::ClientConnected { conn, peer } => EventKind::ClientConnected {
                conn,
                peer: peer.to_string(),
            },
            Event::ClientDisconnected { conn, peer } => EventKind::ClientDisconnected {
                conn,
                peer: peer.to_string(),
            },
            Event::AuthFailed { peer, reason } => EventKind::AuthFailed {
                peer: peer.to_string(),
                reason,
            },
        }
    }
}

/// The admin surface's handle on a running manager.
pub struct AdminView {
    shared: Arc<Shared>,
    started: SystemTime,
    started_at: Instant,
    orphan_after: Duration,
}

impl AdminView {
    pub fn new(shared: Arc<Shared>) -> AdminView {
        let orphan_after = shared
            .settings
            .reap_orphans_after
            .unwrap_or(DEFAULT_ORPHAN_AFTER);
        AdminView {
            shared,
            started: SystemTime::now(),
            started_at: Instant::now(),
            orphan_after,
        }
    }

    /// Flags orphans after `idle` instead of the configured threshold.
    pub fn with_orphan_after(mut self, idle: Duration) -> AdminView {
        self.orphan_after = idle;
        self
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// The idle time after which objects count as orphans.
    pub fn orphan_after(&self) -> Duration {
        self.orphan_after
    }

    /// Serving until the one shutdown signal fires (`/readyz`).
    pub fn ready(&self) -> bool {
        !self.shared.shutdown.is_cancelled()
    }

    fn info(&self, e: &Entry) -> ObjectInfo {
        let orphan = reaper::is_orphan(&self.shared, e, self.orphan_after);
        let (refcount, idle, conns) = {
            let u = e.lock_usage();
            (u.refcount, e.last_used().elapsed(), u.conns.clone())
        };
        ObjectInfo {
            id: e.id.clone(),
            typeid: e.typeid.clone(),
            type_name: e.obj.type_name().to_string(),
            refcount,
            created: rfc3339(e.created),
            last_used_seconds_ago: idle.as_secs_f64(),
            size: e.obj.len_hint().map(|n| n as u64),
            conns: conns
                .into_iter()
                .map(|id| ConnRef {
                    id,
                    open: self.shared.clients.is_open(id),
                })
                .collect(),
            orphan,
            named: e.named,
            memory_bytes: e.obj.mem_bytes().map(|n| n as u64),
        }
    }

    /// Every object, oldest first.
    pub fn objects(&self) -> Vec<ObjectInfo> {
        let mut entries = self.shared.store.entries();
        // Ids are a boot prefix plus an unpadded hex counter: order by
        // creation, then by length and text, which is the counter's order.
        entries.sort_by(|a, b| (a.created, a.id.len(), &a.id).cmp(&(b.created, b.id.len(), &b.id)));
        entries.iter().map(|e| self.info(e)).collect()
    }

    /// One object with a preview of its `repr()`.
    ///
    /// `repr` walks the whole referent, so it runs on the blocking pool:
    /// a preview of a huge list must not stall the admin listener.
    pub async fn object(&self, id: &str) -> Result<ObjectDetail, ViewError> {
        let entry = self
            .shared
            .store
            .get(id)
            .ok_or_else(|| ViewError::NoSuchObject(id.to_string()))?;
        let object = self.info(&entry);
        let obj = entry.obj.clone();
        let repr = tokio::task::spawn_blocking(move || obj.repr())
            .await
            .unwrap_or_else(|_| "<repr failed>".to_string());
        let (preview, preview_truncated) = truncate(repr, PREVIEW_LIMIT);
        Ok(ObjectDetail {
            object,
            preview,
            preview_truncated,
            preview_limit: PREVIEW_LIMIT as u64,
        })
    }

    /// Disposes of an object whatever its count, then frees what only it
    /// kept alive. CPython has no equivalent: its only way to free an object
    /// a dead client leaked is restarting the server (docs/protocol.md 5.6).
    pub fn delete_object(&self, id: &str) -> Result<ObjectInfo, ViewError> {
        let entry = self
            .shared
            .store
            .get(id)
            .ok_or_else(|| ViewError::NoSuchObject(id.to_string()))?;
        // Named objects back `register("get_queue")` typeids: removing one
        // would make every later `get_queue()` fail.
        if entry.named {
            return Err(ViewError::Named(id.to_string()));
        }
        let info = self.info(&entry);
        self.shared
            .store
            .remove(id)
            .ok_or_else(|| ViewError::NoSuchObject(id.to_string()))?;
        self.shared.store.collect();
        Ok(info)
    }

    fn connection_info(&self, c: &crate::clients::ClientInfo) -> ConnectionInfo {
        use std::sync::atomic::Ordering::Relaxed;
        let read = |m: &std::sync::Mutex<Option<String>>| {
            m.lock().unwrap_or_else(|p| p.into_inner()).clone()
        };
        let authenticated = *c.authenticated.lock().unwrap_or_else(|p| p.into_inner());
        ConnectionInfo {
            id: c.id,
            peer: c.peer.to_string(),
            name: read(&c.name),
            opened: rfc3339(c.opened),
            authenticated: authenticated.map(rfc3339),
            requests: c.requests.load(Relaxed),
            bytes_in: c.bytes_in.load(Relaxed),
            bytes_out: c.bytes_out.load(Relaxed),
            waiting: read(&c.waiting),
        }
    }

    /// Every open connection, by id.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        let mut all = self.shared.clients.all();
        all.sort_by_key(|c| c.id);
        all.iter().map(|c| self.connection_info(c)).collect()
    }

    /// Closes a connection: its task stops reading, cancels any blocked
    /// call and releases what the connection owned, as when the client
    /// itself goes away.
    pub fn drop_connection(&self, id: ConnId) -> Result<ConnectionInfo, ViewError> {
        let c = self
            .shared
            .clients
            .get(id)
            .ok_or(ViewError::NoSuchConnection(id))?;
        let info = self.connection_info(&c);
        c.cancel.cancel();
        Ok(info)
    }

    pub fn stats(&self) -> Stats {
        let entries = self.shared.store.entries();
        let orphans = entries
            .iter()
            .filter(|e| reaper::is_orphan(&self.shared, e, self.orphan_after))
            .count();
        Stats {
            version: env!("CARGO_PKG_VERSION").to_string(),
            started: rfc3339(self.started),
            uptime_seconds: self.started_at.elapsed().as_secs_f64(),
            objects: entries.len() as u64,
            objects_referenced: self.shared.store.number_of_objects() as u64,
            orphans: orphans as u64,
            connections: self.shared.clients.len() as u64,
            requests_total: requests_total(&self.shared.metrics.render()),
            advertised: format!("{}:{}", self.shared.advertised.0, self.shared.advertised.1),
            memory_used_bytes: crate::memory::allocated().map(|n| n as u64),
            memory_limit_bytes: self.shared.settings.max_memory.bytes,
            memory_objects_bytes: entries
                .iter()
                .filter_map(|e| e.obj.mem_bytes())
                .map(|n| n as u64)
                .sum(),
        }
    }

    /// The Prometheus exposition, with the per-typeid object gauge brought
    /// up to date first (it is computed at scrape time, not maintained).
    pub fn metrics(&self) -> String {
        let mut counts: std::collections::HashMap<String, i64> = Default::default();
        for e in self.shared.store.entries() {
            *counts.entry(e.typeid.clone()).or_default() += 1;
        }
        let family = &self.shared.metrics.objects;
        // Clearing drops the series of typeids that no longer have objects.
        family.clear();
        for (typeid, n) in counts {
            family
                .get_or_create(&crate::metrics::TypeLabel { typeid })
                .set(n);
        }
        let m = &self.shared.metrics;
        let gauge = |n: Option<u64>| n.map_or(0, |n| i64::try_from(n).unwrap_or(i64::MAX));
        m.memory_used
            .set(gauge(crate::memory::allocated().map(|n| n as u64)));
        m.memory_limit
            .set(gauge(self.shared.settings.max_memory.bytes));
        self.shared.metrics.render()
    }

    /// Events from now on, ending when the manager shuts down or the
    /// receiver is dropped. Subscribes before returning, so nothing that
    /// happens after the call is missed.
    pub fn watch(&self) -> mpsc::Receiver<EventInfo> {
        let (tx, rx) = mpsc::channel(64);
        let mut sub = self.shared.events.subscribe();
        let stop = self.shared.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tx.closed() => return,
                    got = sub.recv() => got,
                };
                let kind = match got {
                    Ok(e) => EventKind::from(e),
                    // A slow watcher loses old events, and is told how many.
                    Err(broadcast::error::RecvError::Lagged(n)) => EventKind::Lagged { skipped: n },
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                let info = EventInfo {
                    at: humantime::format_rfc3339_millis(SystemTime::now()).to_string(),
                    kind,
                };
                tokio::select! {
                    _ = stop.cancelled() => return,
                    sent = tx.send(info) => if sent.is_err() { return },
                }
            }
        });
        rx
    }
}

/// RFC 3339, UTC, whole seconds.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Cuts `s` to at most `limit` bytes on a character boundary.
fn truncate(mut s: String, limit: usize) -> (String, bool) {
    if s.len() <= limit {
        return (s, false);
    }
    let mut cut = limit;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s.truncate(cut);
    (s, true)
}

/// Sum of the `mpcluster_requests_total` series in a Prometheus exposition:
/// the metrics family is the only count of every request answered since
/// start (the connection table forgets closed connections).
fn requests_total(exposition: &str) -> u64 {
    exposition
        .lines()
        .filter(|l| {
            l.starts_with("mpcluster_requests_total{") || l.starts_with("mpcluster_requests_total ")
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .map(|v| v as u64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    #[test]
    fn truncates_on_char_boundaries() {
        assert_eq!(truncate("abc".into(), 3), ("abc".to_string(), false));
        assert_eq!(truncate("abcd".into(), 3), ("abc".to_string(), true));
        // 'é' is two bytes: a cut inside it backs off to before it.
        assert_eq!(truncate("aé".into(), 2), ("a".to_string(), true));
    }

    #[test]
    fn sums_request_counters() {
        let m = Metrics::default();
        assert_eq!(requests_total(&m.render()), 0);
        m.request("append", "#RETURN", Duration::ZERO, 1, 1);
        m.request("append", "#RETURN", Duration::ZERO, 1, 1);
        m.request("get", "#ERROR", Duration::ZERO, 1, 1);
        assert_eq!(requests_total(&m.render()), 3);
    }

    #[test]
    fn events_serialise_with_a_kind_tag() {
        let e = EventInfo {
            at: "2024-01-01T00:00:00.000Z".into(),
            kind: EventKind::Lagged { skipped: 3 },
        };
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["kind"], "lagged");
        assert_eq!(v["skipped"], 3);
        assert_eq!(v["at"], "2024-01-01T00:00:00.000Z");
    }
}
