//! The object store: every shared object by id, with CPython's reference
//! counts.
//!
//! Objects live in a `DashMap` keyed by id; each object guards its own state,
//! so no lock is shared between calls on different objects. Reference
//! counts follow CPython's `Server.incref`/`decref` exactly (spec 6.2):
//! `create` counts 1, `decref` to 0 forgets the id. Beyond CPython:
//!
//! * ids are never reused (a per-boot prefix plus a counter);
//! * an object that another object keeps alive (a proxy stored in a list,
//!   the lock of a `Condition`) stays revivable after its count reaches 0,
//!   and is freed once nothing references it: a mark-and-sweep over
//!   [`SharedObject::refs`], which also frees cycles;
//! * each entry remembers which serving connections used it and when, for
//!   the orphan view and the opt-in reaper (`reaper.rs`).

use crate::events::{Event, Events};
use crate::objects::SharedObject;
use crate::pyexc::{ExcKind, PyException};
use dashmap::DashMap;
use mpcluster_wire::Value;
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

/// Hashing of object ids, looked up on every request: foldhash with a
/// random seed per map (std's SipHash showed in the request profile).
type IdHasher = foldhash::fast::RandomState;

/// A connection's number, unique for the server's lifetime.
pub type ConnId = u64;

/// Mutable bookkeeping of one entry.
#[derive(Debug)]
pub struct Usage {
    /// CPython's `id_to_refcount` entry (references held by clients).
    pub refcount: i64,
    /// Serving connections that called its methods.
    pub conns: Vec<ConnId>,
    /// The serving connection that owns the creation reference of an object
    /// made for a `#PROXY` reply, until the client's first `decref` (spec
    /// 6.2, gh-99595).
    pub proxy_owner: Option<ConnId>,
}

/// One stored object.
pub struct Entry {
    pub id: String,
    pub typeid: String,
    pub obj: Arc<dyn SharedObject>,
    pub exposed: &'static [&'static str],
    pub method_to_typeid: &'static [(&'static str, &'static str)],
    /// Named objects (from the config) are never disposed.
    pub named: bool,
    pub created: SystemTime,
    /// When a method was last called on it, as nanoseconds after
    /// [`epoch`]: an atomic, so a call on a busy object takes no lock for it.
    last_used: AtomicU64,
    pub usage: Mutex<Usage>,
}

/// The process's reference instant for [`Entry`]'s atomic `last_used`.
fn epoch() -> Instant {
    static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn nanos_since_epoch(t: Instant) -> u64 {
    u64::try_from(t.saturating_duration_since(epoch()).as_nanos()).unwrap_or(u64::MAX)
}

impl Entry {
    /// Records a call at `now`, and from `conn` when `first_use` (the
    /// connection's first call on this object, which the serving loop
    /// tracks: later calls then take no lock here).
    pub fn touch(&self, conn: ConnId, now: Instant, first_use: bool) {
        self.last_used
            .fetch_max(nanos_since_epoch(now), Ordering::Relaxed);
        if !first_use {
            return;
        }
        let mut u = self.lock_usage();
        if !u.conns.contains(&conn) {
            // Bounded: one slot per client thread that used the object.
            if u.conns.len() >= 64 {
                u.conns.remove(0);
            }
            u.conns.push(conn);
        }
    }

    /// When a method was last called on it (its creation before that).
    pub fn last_used(&self) -> Instant {
        epoch() + std::time::Duration::from_nanos(self.last_used.load(Ordering::Relaxed))
    }

    pub fn refcount(&self) -> i64 {
        self.lock_usage().refcount
    }

    pub fn lock_usage(&self) -> std::sync::MutexGuard<'_, Usage> {
        // A poisoned lock only means a panic elsewhere mid-update of plain
        // counters; the data is still meaningful.
        self.usage.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_exposed(&self, method: &str) -> bool {
        self.exposed.contains(&method)
    }

    /// The exposed list's own copy of `method`'s name (a metrics label that
    /// costs no allocation), if it is exposed.
    pub fn exposed_name(&self, method: &str) -> Option<&'static str> {
        self.exposed.iter().find(|m| **m == method).copied()
    }

    /// The typeid a method's result becomes a new object of, if any.
    pub fn result_typeid(&self, method: &str) -> Option<&'static str> {
        self.method_to_typeid
            .iter()
            .find(|(m, _)| *m == method)
            .map(|(_, t)| *t)
    }
}

/// What a new object is registered with.
pub struct NewObject {
    pub typeid: String,
    pub obj: Arc<dyn SharedObject>,
    pub exposed: &'static [&'static str],
    pub method_to_typeid: &'static [(&'static str, &'static str)],
    pub named: bool,
}

/// All objects of one manager.
pub struct Store {
    objects: DashMap<String, Arc<Entry>, IdHasher>,
    boot: u16,
    next: AtomicU64,
    max_objects: usize,
    /// Set once any request carried a proxy of ours: until then no object
    /// can reference another and disposal needs no sweep.
    proxies_seen: AtomicBool,
    /// Ids that appeared in a proxy stored by some request: only these can
    /// be kept alive by another object, so only their disposal needs the
    /// sweep; every other object is dropped alone in O(1).
    referenced: DashMap<String, (), IdHasher>,
    events: Events,
}

impl Store {
    pub fn new(max_objects: usize) -> Self {
        Self::with_events(max_objects, Events::default())
    }

    pub fn with_events(max_objects: usize, events: Events) -> Self {
        Store {
            objects: DashMap::default(),
            boot: rand::random(),
            next: AtomicU64::new(1),
            max_objects,
            proxies_seen: AtomicBool::new(false),
            referenced: DashMap::default(),
            events,
        }
    }

    fn new_id(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        // Never "0" (CPython's reserved sentinel, spec 5.5) and never reused.
        format!("{:04x}{n:x}", self.boot)
    }

    /// Registers a new object with refcount 0 (named objects, tests).
    pub fn insert(&self, new: NewObject) -> Result<Arc<Entry>, PyException> {
        self.insert_with(new, 0, None)
    }

    /// Registers a new object already holding its creation reference
    /// (CPython's `create`: count 1), optionally owned by the serving
    /// connection of a `#PROXY` reply. Counting it at insertion matters: a
    /// concurrent sweep must never see the new object at count 0.
    pub fn insert_with(
        &self,
        new: NewObject,
        refcount: i64,
        proxy_owner: Option<ConnId>,
    ) -> Result<Arc<Entry>, PyException> {
        if self.objects.len() >= self.max_objects {
            return Err(PyException::msg(
                ExcKind::MemoryError,
                format!(
                    "the manager holds its maximum of {} objects (--max-objects)",
                    self.max_objects
                ),
            ));
        }
        let entry = Arc::new(Entry {
            id: self.new_id(),
            typeid: new.typeid,
            obj: new.obj,
            exposed: new.exposed,
            method_to_typeid: new.method_to_typeid,
            named: new.named,
            created: SystemTime::now(),
            last_used: AtomicU64::new(nanos_since_epoch(Instant::now())),
            usage: Mutex::new(Usage {
                refcount,
                conns: Vec::new(),
                proxy_owner,
            }),
        });
        self.objects.insert(entry.id.clone(), entry.clone());
        self.events.emit(Event::ObjectCreated {
            id: entry.id.clone(),
            typeid: entry.typeid.clone(),
        });
        Ok(entry)
    }

    pub fn get(&self, id: &str) -> Option<Arc<Entry>> {
        self.objects.get(id).map(|e| e.value().clone())
    }

    /// `incref`: +1. An id whose count reached 0 but which another object
    /// still references is revived, as CPython revives objects it holds in
    /// `id_to_local_proxy_obj`.
    pub fn incref(&self, id: &str) -> Result<(), PyException> {
        let entry = self.get(id).ok_or_else(|| key_error(id))?;
        entry.lock_usage().refcount += 1;
        Ok(())
    }

    /// `decref`: -1, disposing at 0 (spec 6.2). Unknown id → `KeyError`; a
    /// count already at 0 for an object kept alive by another is a silent
    /// no-op, as in CPython.
    pub fn decref(&self, id: &str) -> Result<(), PyException> {
        let entry = self.get(id).ok_or_else(|| key_error(id))?;
        let now_zero = {
            let mut u = entry.lock_usage();
            if u.refcount <= 0 {
                return Ok(());
            }
            u.refcount -= 1;
            u.proxy_owner = None;
            u.refcount == 0
        };
        if now_zero && !entry.named {
            self.dispose(&entry);
        }
        Ok(())
    }

    /// Frees an object whose count reached 0, unless another object keeps
    /// it alive.
    fn dispose(&self, entry: &Arc<Entry>) {
        if self.referenced.contains_key(&entry.id) {
            // Some stored value may still hold it: let the sweep decide.
            self.collect();
            return;
        }
        if let Some((_, e)) = self.objects.remove(&entry.id) {
            self.keep(&e, false);
        }
        // Objects it kept alive may be free now.
        let mut refs = Vec::new();
        entry.obj.refs(&mut refs);
        if !refs.is_empty() {
            self.collect();
        }
    }

    /// Releases the creation reference of a `#PROXY` result still owned by a
    /// serving connection that closed (spec 6.2).
    pub fn release_proxy_owner(&self, id: &str, conn: ConnId) {
        let Some(entry) = self.get(id) else { return };
        let owned = entry.lock_usage().proxy_owner == Some(conn);
        if owned {
            // The id exists, so this cannot fail.
            let _ = self.decref(id);
        }
    }

    /// Frees every object with no client reference that no live object
    /// references. Without proxies stored anywhere that is simply every
    /// object at count 0.
    pub fn collect(&self) {
        let unreferenced = |e: &Entry| !e.named && e.refcount() <= 0;
        if !self.proxies_seen.load(Ordering::Relaxed) {
            self.objects.retain(|_, e| self.keep(e, !unreferenced(e)));
            return;
        }
        // Mark from the roots: objects clients hold, and named objects.
        let mut marked: HashSet<String> = HashSet::new();
        let mut stack: Vec<String> = self
            .objects
            .iter()
            .filter(|e| !unreferenced(e.value()))
            .map(|e| e.key().clone())
            .collect();
        while let Some(id) = stack.pop() {
            if !marked.insert(id.clone()) {
                continue;
            }
            if let Some(e) = self.get(&id) {
                let mut refs = Vec::new();
                e.obj.refs(&mut refs);
                stack.extend(refs.into_iter().filter(|r| !marked.contains(r)));
            }
        }
        self.objects
            .retain(|id, e| self.keep(e, !unreferenced(e) || marked.contains(id)));
    }

    /// `retain` helper: announces the disposal of what it drops.
    fn keep(&self, e: &Entry, keep: bool) -> bool {
        if !keep {
            self.referenced.remove(&e.id);
            self.events.emit(Event::ObjectDisposed {
                id: e.id.clone(),
                typeid: e.typeid.clone(),
            });
        }
        keep
    }

    /// Removes an object whatever its count (admin delete, orphan reaper).
    pub fn remove(&self, id: &str) -> Option<Arc<Entry>> {
        let (_, e) = self.objects.remove(id)?;
        self.keep(&e, false);
        Some(e)
    }

    /// Notes that a request carried proxies of ours, naming `ids` (see
    /// `collect` and `dispose`).
    pub fn note_proxies(&self, ids: impl IntoIterator<Item = String>) {
        self.proxies_seen.store(true, Ordering::Relaxed);
        for id in ids {
            self.referenced.insert(id, ());
        }
    }

    /// CPython's `number_of_objects`: ids with a live reference count.
    pub fn number_of_objects(&self) -> usize {
        self.objects
            .iter()
            .filter(|e| e.value().refcount() > 0)
            .count()
    }

    /// Every entry (admin views, debug_info).
    pub fn entries(&self) -> Vec<Arc<Entry>> {
        self.objects.iter().map(|e| e.value().clone()).collect()
    }

    pub fn len(&self) -> usize {
        self.objects.len()
    }

    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// The entry a `RebuildProxy(cls, Token(typeid, address, id), ...)`
    /// value names, when that id is one of ours.
    pub fn resolve_proxy(&self, v: &Value) -> Option<Arc<Entry>> {
        crate::proxyref::token_id(v).and_then(|id| self.get(id))
    }
}

fn key_error(id: &str) -> PyException {
    PyException::key_error(Value::from(id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::list::List;
    use crate::proxyref;
    use mpcluster_wire::Object;

    fn list(store: &Store, items: Vec<Value>, refcount: i64) -> Arc<Entry> {
        store
            .insert_with(
                NewObject {
                    typeid: "list".into(),
                    obj: Arc::new(List::new(items)),
                    exposed: &[],
                    method_to_typeid: &[],
                    named: false,
                },
                refcount,
                None,
            )
            .unwrap()
    }

    fn proxy_of(id: &str) -> Value {
        let token = proxyref::token("list", &("127.0.0.1".into(), 1), id);
        Value::Object(Box::new(Object::reduce(
            Value::global("multiprocessing.managers", "RebuildProxy"),
            vec![
                Value::global("multiprocessing.managers", "ListProxy"),
                token,
                Value::from("pickle"),
                Value::Dict(Box::default()),
            ],
        )))
    }

    #[test]
    fn a_created_object_survives_a_concurrent_sweep() {
        // `create` counts the creation reference at insertion: a sweep run
        // by another connection in between must not dispose of it.
        let store = Store::new(100);
        let e = list(&store, vec![], 1);
        store.note_proxies(Vec::<String>::new());
        store.collect();
        assert!(store.get(&e.id).is_some());
        assert_eq!(store.number_of_objects(), 1);
    }

    #[test]
    fn nested_objects_live_as_long_as_their_holder() {
        let store = Store::new(100);
        let inner = list(&store, vec![Value::Int(1)], 1);
        store.note_proxies([inner.id.clone()]);
        let outer = list(&store, vec![proxy_of(&inner.id)], 1);
        // The client drops its own inner proxy: still revivable.
        store.decref(&inner.id).unwrap();
        assert!(store.get(&inner.id).is_some());
        assert_eq!(store.number_of_objects(), 1);
        store.incref(&inner.id).unwrap();
        store.decref(&inner.id).unwrap();
        // The holder goes: both are freed.
        store.decref(&outer.id).unwrap();
        assert!(store.get(&outer.id).is_none());
        assert!(store.get(&inner.id).is_none());
        assert!(store.is_empty());
    }

    #[test]
    fn unreferenced_objects_are_dropped_alone() {
        let store = Store::new(100);
        let keep: Vec<_> = (0..10).map(|_| list(&store, vec![], 1)).collect();
        let gone = list(&store, vec![], 1);
        store.decref(&gone.id).unwrap();
        assert!(store.get(&gone.id).is_none());
        assert_eq!(store.len(), keep.len());
        // A second decref of a disposed id is CPython's KeyError.
        assert!(store.decref(&gone.id).is_err());
    }
}
