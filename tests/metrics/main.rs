//! The `metrics` feature: with a recorder installed, the pool and query metrics are emitted
//! with plausible values. (Its own test binary: the recorder is process-global.)

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::time::Duration;

use lifeguard::{Client, Executor, Pool, Router};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use metrics_util::MetricKind;
use support::replica::ReplicaPair;

#[test]
fn pool_and_query_metrics_are_emitted_with_plausible_values() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("install the debugging recorder");
    let snapshot = || {
        let mut values: HashMap<(MetricKind, String, Vec<String>), DebugValue> = HashMap::new();
        for (key, _, _, value) in snapshotter.snapshot().into_vec() {
            let labels = key
                .key()
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect();
            values.insert((key.kind(), key.key().name().to_string(), labels), value);
        }
        for ((kind, name, labels), value) in &values {
            let shown = match value {
                DebugValue::Histogram(v) => format!("{} samples", v.len()),
                other => format!("{other:?}"),
            };
            println!("metric {kind:?} {name}{labels:?} = {shown}");
        }
        values
    };

    let pool = Pool::builder(support::database_url())
        .max_size(2)
        .maintenance_interval(Duration::from_millis(50))
        .build()
        .unwrap();
    for i in 0..20i32 {
        let v: i32 = pool.query_one("SELECT $1::int4", &[&i]).unwrap().get(0);
        assert_eq!(v, i);
    }
    let err = pool.query_one("SELECT 1 / 0", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    let conn = pool.get().unwrap();
    let pid = conn.backend_pid();
    Client::connect(&support::database_url())
        .unwrap()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    assert!(conn.query_one("SELECT 1", &[]).is_err());
    drop(conn); // discarded: closed by reason "broken"
    pool.maintain();

    let values = snapshot();
    let get = |kind, name: &str, labels: &[&str]| {
        let labels = labels.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        values
            .get(&(kind, name.to_string(), labels))
            .unwrap_or_else(|| panic!("{name} was not emitted; got {:?}", values.keys()))
    };
    let DebugValue::Histogram(durations) = get(
        MetricKind::Histogram,
        "lifeguard_query_duration_seconds",
        &[],
    ) else {
        panic!("query duration is not a histogram")
    };
    assert!(durations.len() >= 21, "{} query durations", durations.len());
    assert!(durations
        .iter()
        .all(|d| d.into_inner() > 0.0 && d.into_inner() < 30.0));
    assert_eq!(
        get(MetricKind::Counter, "lifeguard_query_errors_total", &[]),
        // The failed SELECT 1 / 0 and the query on the killed connection.
        &DebugValue::Counter(2)
    );
    let DebugValue::Gauge(size) = get(MetricKind::Gauge, "lifeguard_pool_size", &[]) else {
        panic!("pool size is not a gauge")
    };
    assert!((0.0..=2.0).contains(&size.into_inner()), "{size:?}");
    let DebugValue::Gauge(active) = get(MetricKind::Gauge, "lifeguard_active_connections", &[])
    else {
        panic!("active connections is not a gauge")
    };
    assert!((0.0..=2.0).contains(&active.into_inner()), "{active:?}");
    let DebugValue::Histogram(waits) =
        get(MetricKind::Histogram, "lifeguard_connection_wait_time", &[])
    else {
        panic!("wait time is not a histogram")
    };
    assert!(!waits.is_empty());
    assert!(waits
        .iter()
        .all(|w| w.into_inner() >= 0.0 && w.into_inner() < 30.0));
    assert_eq!(
        get(
            MetricKind::Counter,
            "lifeguard_pool_closed_total",
            &["reason=broken"]
        ),
        &DebugValue::Counter(1)
    );

    // The router's metrics, on a real streaming replica whose replay is paused.
    let pair = ReplicaPair::start().expect("primary + streaming replica");
    let router = Router::builder(pair.primary_url().as_str())
        .replica(pair.replica_url().as_str())
        .pool_size(2)
        .monitor_interval(Duration::from_millis(100))
        .max_lag(Duration::from_secs(1))
        .max_lag_bytes(u64::MAX)
        .stall_timeout(Duration::from_secs(3600))
        .build()
        .unwrap();
    let until = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("the replica admitted", &|| {
        router.status().healthy_replicas == 1
    });
    router.execute("CREATE TABLE lagged (n int4)", &[]).unwrap();
    pair.replica_psql("SELECT pg_wal_replay_pause()").unwrap();
    router
        .execute("INSERT INTO lagged SELECT generate_series(1, 10000)", &[])
        .unwrap();
    until("the paused replica banned", &|| {
        router.status().healthy_replicas == 0
    });
    router.read().query("SELECT 1", &[]).unwrap(); // served by the primary
    let values = snapshot();
    let by_name = |kind: MetricKind, name: &str| -> Vec<&DebugValue> {
        values
            .iter()
            .filter(|((k, n, _), _)| *k == kind && n == name)
            .map(|(_, v)| v)
            .collect()
    };
    let gauge = |name: &str| -> f64 {
        match by_name(MetricKind::Gauge, name).as_slice() {
            [DebugValue::Gauge(v)] => v.into_inner(),
            other => panic!("{name}: {other:?}"),
        }
    };
    let lag_bytes = gauge("lifeguard_replica_lag_bytes");
    let lag_secs = gauge("lifeguard_replica_lag_seconds");
    println!("paused replica: lag {lag_bytes} bytes, {lag_secs:.2} s");
    assert!(lag_bytes > 0.0 && lag_bytes < 1e9, "{lag_bytes}"); // plausible: under a GiB
    assert!((1.0..120.0).contains(&lag_secs), "{lag_secs}");
    assert_eq!(gauge("lifeguard_replicas_healthy"), 0.0);
    let fallbacks: u64 = by_name(MetricKind::Counter, "lifeguard_primary_fallbacks_total")
        .iter()
        .map(|v| match v {
            DebugValue::Counter(n) => *n,
            other => panic!("{other:?}"),
        })
        .sum();
    assert!(fallbacks >= 1, "{fallbacks}");
    pair.replica_psql("SELECT pg_wal_replay_resume()").unwrap();
}
