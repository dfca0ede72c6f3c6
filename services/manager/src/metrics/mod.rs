//! Prometheus metrics of the data plane, rendered by the admin `/metrics`.
//!
//! Counters and histograms are atomics (`prometheus-client` counters and
//! families, our own latency histogram in `latency.rs`). Each connection
//! counts its requests in a [`Recorder`] of plain integers and publishes
//! them before it writes its replies, so a batch of pipelined requests
//! costs a few atomic adds, not a few per request, and a client that has
//! its reply also sees it counted. Object counts by type are read from the
//! store at scrape time instead of being maintained.

mod latency;

pub use latency::Latency;
use latency::Pending;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabels {
    pub method: &'static str,
    pub kind: &'static str,
}

/// Labels are static strings (names from the exposed lists and the control
/// functions, "other" for anything else): recording a request allocates
/// nothing and the label sets stay bounded whatever clients send.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MethodLabel {
    pub method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabel {
    pub typeid: String,
}

/// Every metric of one manager.
pub struct Metrics {
    pub registry: Registry,
    pub requests: Family<MethodLabels, Counter>,
    pub latency: Family<MethodLabel, Latency>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub connections_open: Gauge,
    pub connections_total: Counter,
    pub auth_failures: Counter,
    pub waiting: Gauge,
    pub objects: Family<TypeLabel, Gauge>,
    pub output_limit_disconnects: Counter,
    /// Requests refused with `MemoryError` by `--max-memory`.
    pub memory_refusals: Counter,
    /// Set at scrape time from the counting allocator.
    pub memory_used: Gauge,
    pub memory_limit: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mpcluster");
        let requests = Family::<MethodLabels, Counter>::default();
        // Buckets of 20 µs .. ~10 s (latency.rs).
        let latency = Family::<MethodLabel, Latency>::default();
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        let connections_open = Gauge::default();
        let connections_total = Counter::default();
        let auth_failures = Counter::default();
        let waiting = Gauge::default();
        let objects = Family::<TypeLabel, Gauge>::default();
        let output_limit_disconnects = Counter::default();
        let memory_refusals = Counter::default();
        let memory_used = Gauge::default();
        let memory_limit = Gauge::default();
        registry.register(
            "requests",
            "Requests answered, by method and reply kind (#RETURN, #ERROR, ...)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request read to reply queued, by method",
            latency.clone(),
        );
        registry.register("received_bytes", "Request bytes received", bytes_in.clone());
        registry.register("sent_bytes", "Reply bytes sent", bytes_out.clone());
        registry.register(
            "connections_open",
            "Connections open now",
            connections_open.clone(),
        );
        registry.register(
            "connections",
            "Connections accepted",
            connections_total.clone(),
        );
        registry.register(
            "auth_failures",
            "Handshakes that failed (wrong authkey, timeout, garbage)",
            auth_failures.clone(),
        );
        registry.register(
            "blocked_waiters",
            "Calls waiting now (Queue.get, Lock.acquire, Condition.wait, ...)",
            waiting.clone(),
        );
        registry.register("objects", "Objects held, by typeid", objects.clone());
        registry.register(
            "output_limit_disconnects",
            "Clients cut off for leaving more than --max-pending-reply-bytes unread",
            output_limit_disconnects.clone(),
        );
        registry.register(
            "memory_refusals",
            "Calls refused with MemoryError because the manager used --max-memory",
            memory_refusals.clone(),
        );
        registry.register(
            "memory_used_bytes",
            "Bytes the manager has allocated (what --max-memory is checked against)",
            memory_used.clone(),
        );
        registry.register(
            "memory_limit_bytes",
            "--max-memory in bytes (0: no limit)",
            memory_limit.clone(),
        );
        Metrics {
            registry,
            requests,
            latency,
            bytes_in,
            bytes_out,
            connections_open,
            connections_total,
            auth_failures,
            waiting,
            objects,
            output_limit_disconnects,
            memory_refusals,
            memory_used,
            memory_limit,
        }
    }
}

impl Metrics {
    /// Records one answered request.
    pub fn request(
        &self,
        method: &'static str,
        kind: &'static str,
        elapsed: Duration,
        bytes_in: usize,
        bytes_out: usize,
    ) {
        self.requests
            .get_or_create(&MethodLabels { method, kind })
            .inc();
        self.latency
            .get_or_create(&MethodLabel { method })
            .observe(elapsed);
        self.bytes_in.inc_by(bytes_in as u64);
        self.bytes_out.inc_by(bytes_out as u64);
    }

    /// A per-connection recorder that keeps the handles of the label sets
    /// it has used: no family lookup (a lock and a hash) per request.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder {
            metrics: self,
            cache: Vec::new(),
            bytes_in: 0,
            bytes_out: 0,
            unpublished: 0,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// [`Metrics::request`] for one connection: counts in plain integers,
/// published by [`Recorder::publish`] (and when dropped).
pub struct Recorder<'a> {
    metrics: &'a Metrics,
    /// Label sets seen; labels are compared by address, as they come from
    /// the same static tables.
    cache: Vec<Cached>,
    bytes_in: u64,
    bytes_out: u64,
    unpublished: usize,
}

struct Cached {
    method: &'static str,
    kind: &'static str,
    counter: Counter,
    latency: Latency,
    requests: u64,
    pending: Pending,
}

impl Recorder<'_> {
    /// Label sets one connection keeps handles for; others go through the
    /// families.
    const MAX: usize = 32;
    /// Published at the latest after this many requests, whatever the
    /// caller does.
    const PUBLISH_EVERY: usize = 256;

    /// Records one answered request.
    pub fn request(
        &mut self,
        method: &'static str,
        kind: &'static str,
        elapsed: Duration,
        bytes_in: usize,
        bytes_out: usize,
    ) {
        let m = self.metrics;
        let at = self
            .cache
            .iter()
            .position(|c| std::ptr::eq(c.method, method) && std::ptr::eq(c.kind, kind));
        let at = match at {
            Some(i) => i,
            None if self.cache.len() < Self::MAX => {
                self.cache.push(Cached {
                    method,
                    kind,
                    counter: m
                        .requests
                        .get_or_create(&MethodLabels { method, kind })
                        .clone(),
                    latency: m.latency.get_or_create(&MethodLabel { method }).clone(),
                    requests: 0,
                    pending: Pending::default(),
                });
                self.cache.len() - 1
            }
            None => return m.request(method, kind, elapsed, bytes_in, bytes_out),
        };
        let c = &mut self.cache[at];
        c.requests += 1;
        c.pending.observe(elapsed);
        self.bytes_in += bytes_in as u64;
        self.bytes_out += bytes_out as u64;
        self.unpublished += 1;
        if self.unpublished >= Self::PUBLISH_EVERY {
            self.publish();
        }
    }

    /// Adds what was recorded since the last call to the shared metrics.
    pub fn publish(&mut self) {
        if self.unpublished == 0 {
            return;
        }
        for c in &mut self.cache {
            if c.requests != 0 {
                c.counter.inc_by(c.requests);
                c.latency.add(&mut c.pending);
                c.requests = 0;
            }
        }
        self.metrics.bytes_in.inc_by(self.bytes_in);
        self.metrics.bytes_out.inc_by(self.bytes_out);
        self.bytes_in = 0;
        self.bytes_out = 0;
        self.unpublished = 0;
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(m: &Metrics, method: &'static str, kind: &'static str) -> u64 {
        m.requests
            .get_or_create(&MethodLabels { method, kind })
            .get()
    }

    #[test]
    fn a_recorder_counts_like_the_families_past_its_cache() {
        let m = Metrics::default();
        let mut r = m.recorder();
        const METHODS: [&str; 40] = [
            "m0", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10", "m11", "m12", "m13",
            "m14", "m15", "m16", "m17", "m18", "m19", "m20", "m21", "m22", "m23", "m24", "m25",
            "m26", "m27", "m28", "m29", "m30", "m31", "m32", "m33", "m34", "m35", "m36", "m37",
            "m38", "m39",
        ];
        for _ in 0..3 {
            for method in METHODS {
                r.request(method, "#RETURN", Duration::from_micros(30), 10, 20);
            }
            r.request("get", "#ERROR", Duration::from_micros(30), 10, 20);
        }
        assert_eq!(count(&m, "m0", "#RETURN"), 0, "nothing published yet");
        assert_eq!(count(&m, "m39", "#RETURN"), 3, "past the cache: direct");
        r.publish();
        for method in METHODS {
            assert_eq!(count(&m, method, "#RETURN"), 3, "{method}");
        }
        assert_eq!(count(&m, "get", "#ERROR"), 3);
        assert_eq!(count(&m, "get", "#RETURN"), 0);
        assert_eq!(m.bytes_in.get(), 41 * 3 * 10);
        assert_eq!(m.bytes_out.get(), 41 * 3 * 20);
        let text = m.render();
        assert!(
            text.contains("mpcluster_request_duration_seconds_count{method=\"m39\"} 3"),
            "{text}"
        );
    }

    #[test]
    fn a_recorder_publishes_when_told_every_256_requests_and_when_dropped() {
        let m = Metrics::default();
        let mut r = m.recorder();
        for _ in 0..255 {
            r.request("put", "#RETURN", Duration::from_micros(5), 1, 2);
        }
        assert_eq!(count(&m, "put", "#RETURN"), 0);
        r.request("put", "#RETURN", Duration::from_micros(5), 1, 2);
        assert_eq!(count(&m, "put", "#RETURN"), 256);
        assert_eq!(m.bytes_out.get(), 512);
        r.request("put", "#RETURN", Duration::from_micros(5), 1, 2);
        drop(r);
        assert_eq!(count(&m, "put", "#RETURN"), 257);
        let text = m.render();
        assert!(
            text.contains(
                "mpcluster_request_duration_seconds_bucket{le=\"0.00002\",method=\"put\"} 257"
            ),
            "{text}"
        );
    }
}
