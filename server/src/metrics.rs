//! What `/metrics` shows, in Prometheus' text format: requests by route, sync documents accepted
//! and refused, merge time, the database pool, and the complaint steps open and overdue by
//! department. Each server state has its own recorder (not the process-wide one), so two
//! servers in one process (the tests) count apart.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder as _};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Seconds: the buckets of every duration histogram (1 ms to 10 s).
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The metric names, each described once here (the README's table lists the same).
pub const HTTP_REQUESTS: &str = "fieldloop_http_requests_total";
pub const HTTP_SECONDS: &str = "fieldloop_http_request_duration_seconds";
pub const SYNC_DOCUMENTS: &str = "fieldloop_sync_documents_total";
pub const MERGE_SECONDS: &str = "fieldloop_sync_merge_seconds";
pub const POOL_CONNECTIONS: &str = "fieldloop_db_pool_connections";
pub const STEPS_OPEN: &str = "fieldloop_complaint_steps_open";
pub const STEPS_OVERDUE: &str = "fieldloop_complaint_steps_overdue";
pub const SIGN_INS: &str = "fieldloop_sign_ins_total";
pub const ALERTS: &str = "fieldloop_alerts_total";

#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
    requests: Arc<RwLock<RequestSeries>>,
}

/// Each request's counter and latency histogram, by route, then method and status: found
/// again without building their keys (labels, strings, hashes) on every request.
type RequestSeries = HashMap<String, HashMap<(axum::http::Method, u16), (Counter, Histogram)>>;

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        // Buckets are constants that are never empty, so this cannot fail; a summary (the
        // builder's default without buckets) is the fallback all the same.
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .unwrap_or_else(|_| PrometheusBuilder::new())
            .build_recorder();
        let handle = recorder.handle();
        let metrics = Metrics {
            recorder: Arc::new(recorder),
            handle,
            requests: Arc::default(),
        };
        for (name, help) in [
            (
                HTTP_REQUESTS,
                "Requests answered, by method, route and status",
            ),
            (
                SYNC_DOCUMENTS,
                "Documents a device sent with changes, by outcome",
            ),
            (SIGN_INS, "Sign-ins, by outcome"),
            (
                ALERTS,
                "Deadline alert rows by channel kind and outcome (queued, sent, rate_limited, failed)",
            ),
        ] {
            metrics
                .recorder
                .describe_counter(name.into(), None, help.into());
        }
        for (name, help) in [
            (
                HTTP_SECONDS,
                "Time to answer a request, by method and route",
            ),
            (
                MERGE_SECONDS,
                "Time to check, merge and store one sync batch that wrote",
            ),
        ] {
            metrics.recorder.describe_histogram(
                name.into(),
                Some(metrics::Unit::Seconds),
                help.into(),
            );
        }
        for (name, help) in [
            (
                POOL_CONNECTIONS,
                "Database connections, by state (idle, in_use)",
            ),
            (STEPS_OPEN, "Complaint steps under way, by department"),
            (
                STEPS_OVERDUE,
                "Complaint steps, reports and cases past their limit, by department",
            ),
        ] {
            metrics
                .recorder
                .describe_gauge(name.into(), None, help.into());
        }
        metrics
    }

    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&key(name, labels), &METADATA)
    }

    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&key(name, labels), &METADATA)
    }

    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder.register_gauge(&key(name, labels), &METADATA)
    }

    /// Counts one answered request and its time.
    pub fn request(&self, method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
        let found = {
            let series = self.requests.read().unwrap_or_else(|e| e.into_inner());
            series
                .get(route)
                .and_then(|by| by.get(&(method.clone(), status)))
                .cloned()
        };
        let (counter, histogram) = found.unwrap_or_else(|| {
            let made = (
                self.counter(
                    HTTP_REQUESTS,
                    &[
                        ("method", method.as_str()),
                        ("route", route),
                        ("status", &status.to_string()),
                    ],
                ),
                self.histogram(
                    HTTP_SECONDS,
                    &[("method", method.as_str()), ("route", route)],
                ),
            );
            self.requests
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .entry(route.to_string())
                .or_default()
                .insert((method.clone(), status), made.clone());
            made
        });
        counter.increment(1);
        histogram.record(seconds);
    }

    /// Folds the latency samples recorded since the last call into their histograms. The
    /// recorder keeps every sample until then, so the server calls this every few seconds
    /// whether or not anyone scrapes `/metrics` (otherwise memory grows with every request).
    pub fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// Everything recorded, in Prometheus' text format.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
    let labels: Vec<Label> = labels
        .iter()
        .map(|(k, v)| Label::new(*k, v.to_string()))
        .collect();
    Key::from_parts(name, labels)
}
