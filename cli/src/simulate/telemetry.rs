//! The metrics recorder that `simulate` installs: Prometheus text on `/metrics` when asked for,
//! and, always, a copy of the reconciler's cycle durations for the final report.
//!
//! The library records through the `metrics` facade and never installs a recorder itself. The
//! reconciler's runner thread keeps no history of its cycles, but it records each cycle's
//! duration as [`DURATION_SECONDS`]; teeing that one histogram gives the report every cycle's
//! duration, measured by the library itself, with or without an exporter.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use hdrhistogram::Histogram as Hdr;
use metrics::{
    Counter, Gauge, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusRecorder};
use snapstate::reconcile::metrics::{DURATION_BUCKETS_SECONDS, DURATION_SECONDS};
use snapstate_sim::run::latency_histogram;

use crate::metrics_endpoint::{self, EndpointLimits, Render};

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The Prometheus recorder could not be built.
    #[error("could not build the metrics recorder")]
    Exporter(#[source] BuildError),
    /// The endpoint could not bind its address (typically taken) or start its threads.
    #[error("could not start the metrics endpoint")]
    Endpoint(#[source] io::Error),
    /// This process already has a metrics recorder (only one can be installed).
    #[error("a metrics recorder is already installed in this process")]
    AlreadyInstalled,
}

/// Cycle durations, in nanoseconds, copied from the reconciler's duration histogram.
#[derive(Debug)]
pub struct CycleDurations {
    histogram: Mutex<Hdr<u64>>,
}

impl CycleDurations {
    /// An empty record: from one nanosecond to an hour, three significant digits.
    pub fn new() -> Self {
        Self {
            histogram: Mutex::new(latency_histogram()),
        }
    }

    fn record_seconds(&self, seconds: f64) {
        // `as` saturates for floats: negative or NaN become 0, huge values the maximum.
        let nanos = (seconds * 1e9) as u64;
        self.lock().saturating_record(nanos);
    }

    /// A copy of the durations so far.
    pub fn snapshot(&self) -> Hdr<u64> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Hdr<u64>> {
        // Recording cannot panic while holding the lock, so a poisoned lock still holds a
        // whole histogram.
        self.histogram
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Default for CycleDurations {
    fn default() -> Self {
        Self::new()
    }
}

/// Installs the process's metrics recorder: the Prometheus recorder, served on `metrics_addr`
/// if given (see [`crate::metrics_endpoint`]: `GET /metrics` only, bounded), teeing the
/// reconciler's cycle durations into the returned record. Returns the endpoint's address
/// with the record.
///
/// # Errors
///
/// A [`TelemetryError`] when the endpoint cannot start or a recorder is already installed.
pub fn install(
    metrics_addr: Option<SocketAddr>,
) -> Result<(Arc<CycleDurations>, Option<SocketAddr>), TelemetryError> {
    let durations = Arc::new(CycleDurations::new());
    let (prometheus, bound) = match metrics_addr {
        Some(address) => {
            let (recorder, bound) = start_endpoint(address)?;
            (Some(recorder), Some(bound))
        }
        None => (None, None),
    };
    let recorder = TeeRecorder {
        prometheus,
        durations: Arc::clone(&durations),
    };
    metrics::set_global_recorder(recorder).map_err(|_| TelemetryError::AlreadyInstalled)?;
    Ok((durations, bound))
}

/// Builds the Prometheus recorder and serves its rendering on `address`, warning on stderr
/// when the address is reachable beyond this machine.
fn start_endpoint(address: SocketAddr) -> Result<(PrometheusRecorder, SocketAddr), TelemetryError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(DURATION_SECONDS.to_owned()),
            &DURATION_BUCKETS_SECONDS,
        )
        .map_err(TelemetryError::Exporter)?
        .build_recorder();
    let handle = recorder.handle();
    // `build_recorder` starts no upkeep task: a histogram keeps every sample recorded since
    // the last upkeep, and the engine records several per batch. Without a scraper nothing
    // else drains them, so memory would grow for as long as the run lasts.
    let upkeep = handle.clone();
    thread::Builder::new()
        .name("snapstate-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        })
        .map_err(TelemetryError::Endpoint)?;
    let render: Render = Arc::new(move || {
        // Each scrape drains the histograms first, so that it shows every sample so far.
        handle.run_upkeep();
        handle.render()
    });
    let bound = metrics_endpoint::bind(
        address,
        render,
        EndpointLimits::default(),
        &mut io::stderr(),
    )
    .map_err(TelemetryError::Endpoint)?;
    Ok((recorder, bound))
}

/// How often the Prometheus recorder's histograms are drained between scrapes (the exporter's
/// own upkeep task's default).
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Forwards everything to the Prometheus recorder (if any), and copies the reconciler's
/// cycle durations.
struct TeeRecorder {
    prometheus: Option<PrometheusRecorder>,
    durations: Arc<CycleDurations>,
}

impl Recorder for TeeRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(prometheus) = &self.prometheus {
            prometheus.describe_counter(key, unit, description);
        }
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(prometheus) = &self.prometheus {
            prometheus.describe_gauge(key, unit, description);
        }
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        if let Some(prometheus) = &self.prometheus {
            prometheus.describe_histogram(key, unit, description);
        }
    }

    fn register_counter(&self, key: &Key, metadata: &Metadata<'_>) -> Counter {
        self.prometheus
            .as_ref()
            .map_or_else(Counter::noop, |prometheus| {
                prometheus.register_counter(key, metadata)
            })
    }

    fn register_gauge(&self, key: &Key, metadata: &Metadata<'_>) -> Gauge {
        self.prometheus
            .as_ref()
            .map_or_else(Gauge::noop, |prometheus| {
                prometheus.register_gauge(key, metadata)
            })
    }

    fn register_histogram(&self, key: &Key, metadata: &Metadata<'_>) -> Histogram {
        let forwarded = self
            .prometheus
            .as_ref()
            .map_or_else(Histogram::noop, |prometheus| {
                prometheus.register_histogram(key, metadata)
            });
        if key.name() != DURATION_SECONDS {
            return forwarded;
        }
        Histogram::from_arc(Arc::new(Tee {
            forwarded,
            durations: Arc::clone(&self.durations),
        }))
    }
}

/// One histogram recorded twice: to the exporter and to the report's copy.
struct Tee {
    forwarded: Histogram,
    durations: Arc<CycleDurations>,
}

impl HistogramFn for Tee {
    fn record(&self, value: f64) {
        self.forwarded.record(value);
        self.durations.record_seconds(value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_duration_histogram_is_copied_and_others_are_not() {
        let durations = Arc::new(CycleDurations::new());
        let recorder = TeeRecorder {
            prometheus: None,
            durations: Arc::clone(&durations),
        };
        metrics::with_local_recorder(&recorder, || {
            metrics::histogram!(DURATION_SECONDS).record(0.002);
            metrics::histogram!(DURATION_SECONDS).record(0.004);
            metrics::histogram!("snapstate_batch_size").record(7.0);
        });
        let copied = durations.snapshot();
        assert_eq!(copied.len(), 2);
        assert!(copied.equivalent(copied.max(), 4_000_000));
    }
}
