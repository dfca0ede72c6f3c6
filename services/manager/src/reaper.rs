//! Orphans: objects whose clients are all gone.
//!
//! The protocol carries no client identity on `incref`/`decref`, and a
//! CPython client killed without running its finalizers never decrefs, so
//! CPython leaks its objects forever (docs/protocol.md 5.6, 14). We record which serving
//! connections called each object and when; an object that still has
//! references, none of whose users is connected, and that has been idle for
//! a while is an *orphan candidate*. `--reap-orphans-after` disposes of
//! them. It is off by default: a live client may hold a proxy it has not
//! used in a long time, and reaping would break it.

use crate::state::Shared;
use crate::store::Entry;
use std::sync::Arc;
use std::time::Duration;
use tracing::info;

/// True when `entry` is an orphan candidate after `idle` without use.
pub fn is_orphan(shared: &Shared, entry: &Entry, idle: Duration) -> bool {
    if entry.named {
        return false;
    }
    let u = entry.lock_usage();
    u.refcount > 0
        && entry.last_used().elapsed() >= idle
        && !u.conns.iter().any(|c| shared.clients.is_open(*c))
}

/// Disposes of orphan candidates every so often until shutdown.
pub async fn run(shared: Arc<Shared>, after: Duration) {
    let period = (after / 4).clamp(Duration::from_millis(100), Duration::from_secs(30));
    let mut tick = tokio::time::interval(period);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        reap(&shared, after);
    }
}

/// One pass of the reaper; returns how many objects it disposed of.
pub fn reap(shared: &Shared, after: Duration) -> usize {
    let mut n = 0;
    for entry in shared.store.entries() {
        if is_orphan(shared, &entry, after) {
            info!(id = %entry.id, typeid = %entry.typeid, refcount = entry.refcount(), "reaping orphan");
            shared.store.remove(&entry.id);
            n += 1;
        }
    }
    if n > 0 {
        // Objects only the reaped ones kept alive may now be free.
        shared.store.collect();
    }
    n
}
