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

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
