//! Metrics and tracing hooks.
//!
//! Metrics go through the [`metrics`](https://docs.rs/metrics) facade when the `metrics`
//! feature is on: Lifeguard records, the application installs whatever recorder (exporter)
//! it likes. With the feature off, the macros below expand to nothing, so their arguments
//! are not even evaluated: the hot path pays nothing.
//!
//! Names (the seed's): `lifeguard_pool_size`, `lifeguard_active_connections`,
//! `lifeguard_connection_wait_time`, `lifeguard_query_duration_seconds`,
//! `lifeguard_query_errors_total`, `lifeguard_pool_closed_total{reason}`,
//! `lifeguard_replica_lag_bytes{replica}`, `lifeguard_replica_lag_seconds{replica}`,
//! `lifeguard_replicas_healthy`, `lifeguard_primary_fallbacks_total`.

pub(crate) mod query;

/// Adds to a counter: `counter!("name", n)` or `counter!("name", n, "label" => value, …)`.
#[allow(unused_macros)]
macro_rules! counter {
    ($name:expr, $n:expr $(, $k:literal => $v:expr)* $(,)?) => {{
        #[cfg(feature = "metrics")]
        ::metrics::counter!($name $(, $k => $v)*).increment($n);
    }};
}

/// Sets a gauge: `gauge!("name", value as f64, "label" => value, …)`.
#[allow(unused_macros)]
macro_rules! gauge {
    ($name:expr, $value:expr $(, $k:literal => $v:expr)* $(,)?) => {{
        #[cfg(feature = "metrics")]
        ::metrics::gauge!($name $(, $k => $v)*).set($value);
    }};
}

/// Records a value (seconds, for durations) in a histogram.
#[allow(unused_macros)]
macro_rules! histogram {
    ($name:expr, $value:expr $(, $k:literal => $v:expr)* $(,)?) => {{
        #[cfg(feature = "metrics")]
        ::metrics::histogram!($name $(, $k => $v)*).record($value);
    }};
}

#[allow(unused_imports)] // each is used by some feature combination
pub(crate) use {counter, gauge, histogram};
