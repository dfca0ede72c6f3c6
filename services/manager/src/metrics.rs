//! Prometheus metrics of the data plane, rendered by the admin `/metrics`.
//!
//! Counters and histograms are updated on the hot path without locks
//! (`prometheus-client` families of atomics); object counts by type are
//! read from the store at scrape time instead of being maintained.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
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
    pub latency: Family<MethodLabel, Histogram>,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub connections_open: Gauge,
    pub connections_total: Counter,
    pub auth_failures: Counter,
    pub waiting: Gauge,
    pub objects: Family<TypeLabel, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("mpcluster");
        let requests = Family::<MethodLabels, Counter>::default();
        let latency = Family::<MethodLabel, Histogram>::new_with_constructor(|| {
            // 20 µs .. ~10 s.
            Histogram::new(exponential_buckets(0.00002, 2.0, 20))
        });
        let bytes_in = Counter::default();
        let bytes_out = Counter::default();
        let connections_open = Gauge::default();
        let connections_total = Counter::default();
        let auth_failures = Counter::default();
        let waiting = Gauge::default();
        let objects = Family::<TypeLabel, Gauge>::default();
        registry.register(
            "requests",
            "Requests answered, by method and reply kind (#RETURN, #ERROR, ...)",
            requests.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request decoded to reply encoded, by method",
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
            .observe(elapsed.as_secs_f64());
        self.bytes_in.inc_by(bytes_in as u64);
        self.bytes_out.inc_by(bytes_out as u64);
    }

    /// A per-connection recorder that keeps the handles of the label sets
    /// it has used: no family lookup (a lock and a hash) per request.
    pub fn recorder(&self) -> Recorder<'_> {
        Recorder {
            metrics: self,
            cache: Vec::new(),
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

/// [`Metrics::request`] with the label sets' handles kept (see
/// [`Metrics::recorder`]).
pub struct Recorder<'a> {
    metrics: &'a Metrics,
    /// (method, kind, its counter, the method's histogram); labels are
    /// compared by address, as they come from the same static tables.
    cache: Vec<(&'static str, &'static str, Counter, Histogram)>,
}

impl Recorder<'_> {
    /// Label sets one connection keeps handles for; others go through the
    /// families.
    const MAX: usize = 32;

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
        let hit = self
            .cache
            .iter()
            .find(|(cm, ck, ..)| std::ptr::eq(*cm, method) && std::ptr::eq(*ck, kind));
        match hit {
            Some((_, _, counter, histogram)) => {
                counter.inc();
                histogram.observe(elapsed.as_secs_f64());
                m.bytes_in.inc_by(bytes_in as u64);
                m.bytes_out.inc_by(bytes_out as u64);
            }
            None if self.cache.len() < Self::MAX => {
                let counter = m
                    .requests
                    .get_or_create(&MethodLabels { method, kind })
                    .clone();
                let histogram = m.latency.get_or_create(&MethodLabel { method }).clone();
                self.cache.push((method, kind, counter, histogram));
                m.request(method, kind, elapsed, bytes_in, bytes_out);
            }
            None => m.request(method, kind, elapsed, bytes_in, bytes_out),
        }
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
}
