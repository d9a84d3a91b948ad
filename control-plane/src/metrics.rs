//! The master's Prometheus metrics (`GET /metrics`, outside `/api/v1`): counters that
//! the registry bumps as things happen, and gauges read from the registry and Raft at
//! scrape time.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Counters of worker-protocol events.
#[derive(Debug, Default, Clone)]
pub struct MasterCounters {
    pub registrations: Counter,
    pub heartbeats: Counter,
    pub workers_lost: Counter,
}

/// Values sampled at scrape time.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub workers: u64,
    pub slots_total: u64,
    pub slots_available: u64,
    pub raft_term: u64,
    pub is_leader: bool,
}

/// Renders the Prometheus text exposition of `counters` and `sample`.
pub fn render(counters: &MasterCounters, sample: Sample) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::with_prefix("eddy");
    registry.register(
        "worker_registrations",
        "Worker registrations accepted",
        counters.registrations.clone(),
    );
    registry.register(
        "heartbeats",
        "Worker heartbeats received",
        counters.heartbeats.clone(),
    );
    registry.register(
        "workers_lost",
        "Workers declared lost after the heartbeat timeout",
        counters.workers_lost.clone(),
    );
    let gauges = [
        ("workers", "Workers registered and alive", sample.workers),
        (
            "slots_total",
            "Task slots of alive workers",
            sample.slots_total,
        ),
        (
            "slots_available",
            "Free task slots of alive workers",
            sample.slots_available,
        ),
        (
            "raft_term",
            "Current Raft term of this master",
            sample.raft_term,
        ),
        (
            "raft_is_leader",
            "1 when this master is the Raft leader",
            u64::from(sample.is_leader),
        ),
    ];
    for (name, help, value) in gauges {
        let gauge = Gauge::<u64, AtomicU64>::default();
        gauge.set(value);
        registry.register(name, help, gauge);
    }
    let mut out = String::new();
    encode(&mut out, &registry)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_gauges() {
        let counters = MasterCounters::default();
        counters.heartbeats.inc_by(3);
        let sample = Sample {
            workers: 2,
            slots_total: 8,
            slots_available: 5,
            raft_term: 4,
            is_leader: true,
        };
        let text = render(&counters, sample).expect("render");
        assert!(text.contains("eddy_heartbeats_total 3"), "{text}");
        assert!(text.contains("eddy_slots_available 5"), "{text}");
        assert!(text.contains("eddy_raft_is_leader 1"), "{text}");
        assert!(text.trim_end().ends_with("# EOF"), "{text}");
    }
}
