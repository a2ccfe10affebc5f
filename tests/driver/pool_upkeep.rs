//! Pool hardening: fair checkouts, lifetimes, idle timeout, min_idle, the liveness check
//! and the status counters.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeguard::{ErrorKind, Executor, Pool};

use crate::{client, support};

fn builder() -> lifeguard::PoolBuilder {
    Pool::builder(support::database_url())
        .acquire_timeout(Duration::from_secs(10))
        .maintenance_interval(Duration::from_millis(50))
}

/// Polls `cond` until it holds or `within` passes.
fn eventually(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

#[test]
fn checkouts_are_served_first_come_first_served() {
    let pool = builder().max_size(1).min_size(1).build().unwrap();
    let held = pool.get().unwrap();
    let order = Arc::new(Mutex::new(Vec::new()));
    let mut handles = Vec::new();
    for i in 0..8 {
        let (p, order) = (pool.clone(), order.clone());
        handles.push(may::go!(move || {
            let conn = p.get().unwrap();
            order.lock().unwrap().push(i);
            // Hold it a moment so the next waiter really has to wait for this one.
            may::coroutine::sleep(Duration::from_millis(5));
            drop(conn);
        }));
        // Each waiter is queued before the next one arrives.
        assert!(eventually(Duration::from_secs(5), || pool.status().waiting == i + 1));
    }
    drop(held);
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(*order.lock().unwrap(), (0..8).collect::<Vec<_>>());
    let c = pool.status().counters;
    assert_eq!(c.acquired_after_wait, 8, "{c:?}");
    assert_eq!(c.acquired_directly, 1, "{c:?}");
}

#[test]
fn status_reports_idle_in_use_waiting_and_timeouts() {
    let pool = builder()
        .max_size(2)
        .acquire_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let a = pool.get().unwrap();
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle), (1, 1, 0), "{s:?}");
    let b = pool.get().unwrap();
    assert_eq!(pool.get().unwrap_err().kind(), ErrorKind::PoolTimeout);
    drop(a);
    let s = pool.status();
    assert_eq!((s.size, s.in_use, s.idle, s.waiting), (2, 1, 1, 0), "{s:?}");
    assert_eq!(s.counters.timed_out, 1, "{s:?}");
    assert_eq!(s.counters.opened, 2, "{s:?}");
    drop(b);
}

#[test]
fn lifetime_retires_connections_without_disturbing_a_running_query() {
    let pool = builder()
        .max_size(1)
        .max_lifetime(Some(Duration::from_millis(300)))
        .build()
        .unwrap();
    let first: i32 = pool
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    // A query running across the lifetime's end completes normally.
    let slow: i32 = pool
        .query_one("SELECT pg_backend_pid() FROM pg_sleep(0.6)", &[])
        .map(|r| r.get(0))
        .unwrap_or_else(|e| panic!("the running query was disturbed: {e}"));
    assert_eq!(slow, first);
    assert!(eventually(Duration::from_secs(5), || pool
        .status()
        .counters
        .closed_lifetime
        >= 1));
    let next: i32 = pool
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    assert_ne!(next, first, "a retired connection was handed out again");
    // The retired backend has gone away on the server too.
    let admin = client();
    assert!(eventually(Duration::from_secs(5), || {
        admin
            .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&first])
            .unwrap()
            .is_none()
    }));
}

#[test]
fn idle_connections_close_down_to_min_idle_and_min_idle_is_kept() {
    let pool = builder()
        .max_size(3)
        .min_idle(1)
        .idle_timeout(Some(Duration::from_millis(200)))
        .build()
        .unwrap();
    // min_idle is opened in the background, without any query.
    assert!(eventually(Duration::from_secs(5), || pool.status().size == 1));
    let held: Vec<_> = (0..3).map(|_| pool.get().unwrap()).collect();
    assert_eq!(pool.status().size, 3);
    drop(held);
    assert!(eventually(Duration::from_secs(5), || pool.status().size == 1));
    assert_eq!(pool.status().counters.closed_idle, 2);
    // It stays at min_idle.
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(pool.status().size, 1);
}

#[test]
fn a_broken_idle_connection_is_replaced_on_checkout() {
    let pool = builder()
        .max_size(2)
        .alive_bypass_window(Duration::from_millis(50))
        .build()
        .unwrap();
    let pid = pool.get().unwrap().backend_pid();
    let killed: bool = client()
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    std::thread::sleep(Duration::from_millis(100));
    let conn = pool.get().unwrap();
    assert_ne!(conn.backend_pid(), pid);
    let v: i32 = conn.query_one("SELECT 7::int4", &[]).unwrap().get(0);
    assert_eq!(v, 7);
    assert!(pool.status().counters.closed_broken >= 1);
}

#[test]
fn a_silent_connection_fails_the_liveness_ping_and_is_replaced() {
    // A backend of our own throwaway server, stopped with SIGSTOP: its socket stays open
    // but nothing answers, which only the ping can notice.
    let cluster = support::cluster::TempCluster::start(Default::default()).unwrap();
    let pool = Pool::builder(format!("{}?sslmode=disable", cluster.url()))
        .max_size(2)
        .alive_bypass_window(Duration::from_millis(50))
        .acquire_timeout(Duration::from_secs(3))
        .build()
        .unwrap();
    let pid = pool.get().unwrap().backend_pid();
    let signal = |sig: &str| {
        let ok = std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} {pid}");
    };
    signal("-STOP");
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    let got = pool.get();
    signal("-CONT");
    let conn = got.unwrap();
    assert_ne!(
        conn.backend_pid(),
        pid,
        "the silent connection was handed out"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(pool.status().counters.closed_broken, 1);
    println!(
        "silent backend {pid} replaced by {} in {:?}",
        conn.backend_pid(),
        started.elapsed()
    );
}

#[test]
fn owned_strings_build_pools() {
    let url: String = support::database_url();
    let pool = Pool::builder(url).max_size(1).build().unwrap();
    assert_eq!(
        pool.query_one("SELECT 3::int4", &[])
            .unwrap()
            .get::<_, i32>(0),
        3
    );
    assert!(Pool::builder(support::database_url())
        .max_size(1)
        .min_idle(2)
        .build()
        .is_err());
}
