//! The pool through real server restarts: 256 coroutines insert through an 8-connection
//! pool while a throwaway server is restarted with `-m fast`, then `-m immediate`.
//!
//! Asserted: no call hangs (each returns within the acquire timeout plus a margin, and every
//! coroutine ends), every acknowledged insert is in the table afterwards, every failure is
//! a typed error of the kinds a restart explains, and the first success after the server
//! accepts again comes within 2 s.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lifeguard::{Error, ErrorKind, Executor, Pool};

use crate::support::cluster::TempCluster;

const TASKS: usize = 256;
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Tally {
    acked: Vec<i64>,
    /// When each acknowledged insert returned.
    acked_at: Vec<Instant>,
    /// Each failure: its kind, whether a restart explains it, its text.
    errors: Vec<(ErrorKind, bool, String)>,
    slowest: Duration,
}

/// Whether a failure is one a restarting server explains (and typed as such).
fn explained_by_restart(e: &Error) -> bool {
    match e.kind() {
        ErrorKind::Closed | ErrorKind::Io | ErrorKind::PoolTimeout => true,
        ErrorKind::Db => e.code().is_some_and(|c| {
            // admin_shutdown, crash_shutdown, cannot_connect_now, connection_failure class
            matches!(c.code(), "57P01" | "57P02" | "57P03") || c.class() == "08"
        }),
        _ => false,
    }
}

#[test]
fn inserts_survive_fast_and_immediate_restarts() {
    let mut cluster = TempCluster::start(Default::default()).unwrap();
    // Acknowledged must mean durable across a crash (the throwaway default is off).
    cluster
        .psql("ALTER SYSTEM SET synchronous_commit = on")
        .unwrap();
    cluster.psql("SELECT pg_reload_conf()").unwrap();
    cluster
        .psql("CREATE TABLE acked (id int8 PRIMARY KEY, at timestamptz DEFAULT now()); GRANT ALL ON acked TO lg_user;")
        .unwrap();
    let pool = Pool::builder(format!("{}?sslmode=disable", cluster.url()))
        .max_size(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let next_id = Arc::new(AtomicI64::new(1));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let handles: Vec<_> = (0..TASKS)
        .map(|_| {
            let (pool, stop, next_id, tally) =
                (pool.clone(), stop.clone(), next_id.clone(), tally.clone());
            may::go!(move || {
                while !stop.load(Ordering::Relaxed) {
                    let id = next_id.fetch_add(1, Ordering::Relaxed);
                    let started = Instant::now();
                    let res = pool.execute("INSERT INTO acked (id) VALUES ($1)", &[&id]);
                    let took = started.elapsed();
                    let mut t = tally.lock().unwrap();
                    t.slowest = t.slowest.max(took);
                    match res {
                        Ok(1) => {
                            t.acked.push(id);
                            t.acked_at.push(Instant::now());
                        }
                        Ok(n) => panic!("insert reported {n} rows"),
                        Err(e) => {
                            t.errors
                                .push((e.kind(), explained_by_restart(&e), e.to_string()));
                            drop(t);
                            // Failed callers retry at their own pace, as a service would.
                            may::coroutine::sleep(Duration::from_millis(20));
                        }
                    }
                }
            })
        })
        .collect();

    let mut accepted_again = Vec::new();
    std::thread::sleep(Duration::from_secs(1));
    for mode in ["fast", "immediate"] {
        cluster.stop(mode).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        cluster.start_again().unwrap();
        let at = Instant::now();
        accepted_again.push((mode, at));
        std::thread::sleep(Duration::from_secs(3));
    }
    stop.store(true, Ordering::Relaxed);

    // No hang: every coroutine ends soon after being told to.
    let joined = Instant::now();
    for h in handles {
        h.join().expect("an inserting coroutine panicked");
    }
    let join_time = joined.elapsed();
    assert!(
        join_time < ACQUIRE_TIMEOUT + Duration::from_secs(10),
        "coroutines took {join_time:?} to stop"
    );

    let t = tally.lock().unwrap();
    println!(
        "restart test: {} inserts acknowledged, {} errors, slowest call {:?}, join {:?}",
        t.acked.len(),
        t.errors.len(),
        t.slowest,
        join_time
    );
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    for (kind, _, _) in &t.errors {
        *kinds.entry(format!("{kind:?}")).or_default() += 1;
    }
    println!("restart test: errors by kind {kinds:?}");
    assert!(
        t.slowest < ACQUIRE_TIMEOUT + Duration::from_secs(5),
        "a call took {:?}",
        t.slowest
    );

    // Only typed errors that a restart explains.
    let unexplained: Vec<_> = t.errors.iter().filter(|(_, ok, _)| !ok).collect();
    assert!(
        unexplained.is_empty(),
        "unexplained errors: {unexplained:?}"
    );

    // First success within 2 s of the server accepting again, after each restart.
    for (mode, at) in &accepted_again {
        let first = t.acked_at.iter().find(|when| *when >= at).copied();
        let after = first.map(|f| f.duration_since(*at));
        println!("restart test: -m {mode}: first acknowledged insert {after:?} after the server accepted again");
        let after = after.unwrap_or_else(|| panic!("no insert succeeded after -m {mode}"));
        assert!(after <= Duration::from_secs(2), "-m {mode}: {after:?}");
    }

    // Every acknowledged insert is there.
    let admin = Pool::builder(format!("{}?sslmode=disable", cluster.url()))
        .max_size(1)
        .build()
        .unwrap();
    let stored: Vec<i64> = admin
        .query("SELECT id FROM acked", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let stored: std::collections::HashSet<i64> = stored.into_iter().collect();
    let missing = t.acked.iter().filter(|id| !stored.contains(id)).count();
    println!(
        "restart test: {} rows stored, {missing} acknowledged inserts missing",
        stored.len()
    );
    assert_eq!(missing, 0);
    let s = pool.status();
    println!("restart test: pool {s:?}");
    assert!(s.size <= 8);
    assert!(s.counters.closed_broken >= 1);
}
