//! The request-latency histogram: fixed exponential buckets of atomics.
//!
//! `prometheus-client`'s `Histogram` takes a mutex on every observation and
//! searches its buckets linearly; at several hundred thousand requests a
//! second that was a visible share of the server's CPU. Here a bucket is
//! found with one shift, and a connection adds a whole batch of
//! observations (a [`Pending`]) with one atomic add per touched bucket.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Upper bound of the first bucket, in nanoseconds (20 µs).
const FIRST_NANOS: u64 = 20_000;
/// Bounds double from one bucket to the next: 20 µs .. ~10.5 s.
const BOUNDS: usize = 20;
/// The buckets, the last one without an upper bound (+Inf).
const BUCKETS: usize = BOUNDS + 1;

/// Index of the bucket holding `nanos`: the smallest `i` with
/// `nanos <= FIRST_NANOS * 2^i`, or the +Inf bucket.
fn bucket(nanos: u64) -> usize {
    let q = nanos.div_ceil(FIRST_NANOS).max(1);
    let i = (u64::BITS - (q - 1).leading_zeros()) as usize;
    i.min(BOUNDS)
}

/// Observations not yet published: plain integers, one connection's own.
#[derive(Clone, Debug, Default)]
pub struct Pending {
    counts: [u32; BUCKETS],
    count: u64,
    sum_nanos: u64,
}

impl Pending {
    pub fn observe(&mut self, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        self.counts[bucket(nanos)] += 1;
        self.count += 1;
        self.sum_nanos = self.sum_nanos.saturating_add(nanos);
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// One method's histogram, shared by every connection (cheap to clone).
#[derive(Clone, Debug, Default)]
pub struct Latency(Arc<Inner>);

#[derive(Debug, Default)]
struct Inner {
    counts: [AtomicU64; BUCKETS],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl Latency {
    pub fn observe(&self, elapsed: Duration) {
        let mut one = Pending::default();
        one.observe(elapsed);
        self.add(&mut one);
    }

    /// Publishes `pending` and empties it.
    pub fn add(&self, pending: &mut Pending) {
        if pending.is_empty() {
            return;
        }
        for (shared, n) in self.0.counts.iter().zip(pending.counts.iter_mut()) {
            if *n != 0 {
                shared.fetch_add(u64::from(*n), Ordering::Relaxed);
                *n = 0;
            }
        }
        self.0.count.fetch_add(pending.count, Ordering::Relaxed);
        self.0
            .sum_nanos
            .fetch_add(pending.sum_nanos, Ordering::Relaxed);
        pending.count = 0;
        pending.sum_nanos = 0;
    }
}

impl TypedMetric for Latency {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Latency {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        // Per-bucket counts, as the encoder wants them (it sums them up);
        // read without a lock, so a scrape racing a publish may see a count
        // a few observations ahead of its buckets, which Prometheus allows
        // for any one scrape.
        let mut buckets = [(0.0, 0); BUCKETS];
        let mut bound = FIRST_NANOS as f64 / 1e9;
        for (i, slot) in buckets.iter_mut().enumerate() {
            let upper = if i == BOUNDS { f64::MAX } else { bound };
            *slot = (upper, self.0.counts[i].load(Ordering::Relaxed));
            bound *= 2.0;
        }
        let count = self.0.count.load(Ordering::Relaxed);
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_match_their_bounds() {
        assert_eq!(bucket(0), 0);
        assert_eq!(bucket(20_000), 0);
        assert_eq!(bucket(20_001), 1);
        assert_eq!(bucket(40_000), 1);
        assert_eq!(bucket(40_001), 2);
        assert_eq!(bucket(80_000), 2);
        // The last bound is 20 µs * 2^19 = 10.48576 s.
        assert_eq!(bucket(FIRST_NANOS << 19), 19);
        assert_eq!(bucket((FIRST_NANOS << 19) + 1), BOUNDS);
        assert_eq!(bucket(u64::MAX), BOUNDS);
    }

    #[test]
    fn a_batch_publishes_like_single_observations() {
        let (one, batch) = (Latency::default(), Latency::default());
        let mut pending = Pending::default();
        for micros in [1, 20, 21, 300, 5_000, 90_000_000] {
            one.observe(Duration::from_micros(micros));
            pending.observe(Duration::from_micros(micros));
        }
        batch.add(&mut pending);
        assert!(pending.is_empty());
        for (a, b) in one.0.counts.iter().zip(batch.0.counts.iter()) {
            assert_eq!(a.load(Ordering::Relaxed), b.load(Ordering::Relaxed));
        }
        assert_eq!(batch.0.count.load(Ordering::Relaxed), 6);
        assert_eq!(
            batch.0.sum_nanos.load(Ordering::Relaxed),
            (1 + 20 + 21 + 300 + 5_000 + 90_000_000) * 1000
        );
        let counts: Vec<u64> = batch
            .0
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts[0], 2, "1 µs and 20 µs");
        assert_eq!(counts[1], 1, "21 µs");
        assert_eq!(counts[BOUNDS], 1, "90 s");
    }
}
