//! The pool: bounded, typed timeout when full, and it keeps serving after connections die.

use std::time::{Duration, Instant};

use lifeguard::{ErrorKind, Executor, Pool};

use crate::{client, in_coroutines, support};

fn pool(max: usize) -> Pool {
    Pool::builder(support::database_url())
        .max_size(max)
        .acquire_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[test]
fn never_opens_more_than_max_size() {
    let p = pool(3);
    let p2 = p.clone();
    let pids = in_coroutines(300, move |_| {
        p2.query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get::<_, i32>(0)
    });
    let distinct: std::collections::HashSet<_> = pids.into_iter().collect();
    assert!(distinct.len() <= 3, "{} backends used", distinct.len());
    assert!(p.status().size <= 3);
}

#[test]
fn full_pool_is_a_typed_timeout_not_a_hang() {
    let p = pool(2);
    let a = p.get().unwrap();
    let b = p.get().unwrap();
    let started = Instant::now();
    let err = p.get().expect_err("third checkout must fail");
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Pipelined queries also wait for a connection, and time out the same way.
    let err = p.query("SELECT 1", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    drop(a);
    // A returned connection serves again.
    assert_eq!(
        p.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );
    drop(b);
    assert_eq!(p.status().in_use, 0);
}

/// Coroutines waiting on a full pool get their typed timeout on time, not when the holder
/// lets go: may keeps parker timeouts in whole milliseconds, and the pool's wait must not
/// turn the sub-millisecond rest of its deadline into an untimed wait.
#[test]
fn full_pool_times_out_on_time_in_coroutines() {
    let p = Pool::builder(support::database_url())
        .max_size(1)
        .acquire_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let held = p.get().unwrap();
    let holder = may::go!(move || {
        may::coroutine::sleep(Duration::from_secs(3));
        drop(held);
    });
    let p2 = p.clone();
    let waits = in_coroutines(8, move |_| {
        let started = Instant::now();
        let got = p2.get().map(|_| ()).map_err(|e| e.kind());
        (got, started.elapsed())
    });
    holder.join().unwrap();
    for (i, (got, took)) in waits.iter().enumerate() {
        println!("waiter {i}: {got:?} after {} ms", took.as_millis());
    }
    for (got, took) in &waits {
        assert_eq!(*got, Err(ErrorKind::PoolTimeout));
        assert!(*took < Duration::from_millis(1500), "waited {took:?}");
    }
}

#[test]
fn pool_keeps_serving_after_a_backend_is_killed() {
    let p = pool(2);
    let admin = client();
    let conn = p.get().unwrap();
    let pid = conn.backend_pid();
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let err = conn.query_one("SELECT 1", &[]).unwrap_err();
    assert!(err.is_closed(), "{err}");
    drop(conn); // a broken connection is discarded, not returned
    for i in 0..20i32 {
        let v: i32 = p.query_one("SELECT $1::int4", &[&i]).unwrap().get(0);
        assert_eq!(v, i);
    }
    let fresh = p.get().unwrap();
    assert_ne!(fresh.backend_pid(), pid);
}

#[test]
fn pool_keeps_serving_after_a_cancel() {
    let p = pool(1);
    let conn = p.get().unwrap();
    let token = conn.cancel_token();
    let h = may::go!(move || {
        may::coroutine::sleep(Duration::from_millis(200));
        token.cancel_query().unwrap();
    });
    let err = conn.query_one("SELECT pg_sleep(20)", &[]).unwrap_err();
    h.join().unwrap();
    assert_eq!(err.code().map(|s| s.code()), Some("57014"));
    drop(conn);
    assert_eq!(
        p.query_one("SELECT 5::int4", &[]).unwrap().get::<_, i32>(0),
        5
    );
}

#[test]
fn min_size_opens_up_front_and_bad_config_fails_fast() {
    let p = Pool::builder(support::database_url())
        .max_size(3)
        .min_size(3)
        .build()
        .unwrap();
    assert_eq!(p.status().size, 3);
    let err = Pool::builder("postgres://u@127.0.0.1:1/d?sslmode=disable")
        .min_size(1)
        .build()
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(Pool::builder("nonsense").build().is_err());
}

/// may's worker number for each worker thread: a coroutine spawned onto worker `i` reports
/// the thread it runs on.
fn worker_threads() -> std::collections::HashMap<std::thread::ThreadId, usize> {
    (0..may::config().get_workers())
        .map(|i| {
            // SAFETY (may): the coroutine keeps no thread-local state across a yield.
            let thread = unsafe {
                may::coroutine::Builder::new()
                    .id(i)
                    .spawn(|| std::thread::current().id())
                    .unwrap()
            };
            (thread.join().unwrap(), i)
        })
        .collect()
}

/// A pool of `n` open connections, and the worker each backend's connection is read on.
fn affine_pool(n: usize, affine: bool) -> (Pool, std::collections::HashMap<i32, usize>) {
    let p = Pool::builder(support::database_url())
        .max_size(n)
        .worker_affine(affine)
        .build()
        .unwrap();
    let held: Vec<_> = (0..n).map(|_| p.get().unwrap()).collect();
    let readers = held
        .iter()
        .map(|c| (c.backend_pid(), c.reader_worker()))
        .collect();
    (p, readers)
}

/// Of `n` coroutines' 5 pipelined queries each, the share that ran on the connection read
/// on the worker the caller was on when it picked.
fn on_own_worker(p: &Pool, readers: &std::collections::HashMap<i32, usize>, n: usize) -> f64 {
    let threads = worker_threads();
    let p = p.clone();
    let seen: Vec<_> = in_coroutines(n, move |_| {
        let mut seen = Vec::new();
        for _ in 0..5 {
            // Read right before the query: a coroutine moves between workers only when it
            // yields, and the pick happens before the first yield.
            let thread = std::thread::current().id();
            let pid: i32 = p.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
            seen.push((thread, pid));
        }
        seen
    })
    .into_iter()
    .flatten()
    .collect();
    let hits = seen
        .iter()
        .filter(|(thread, pid)| threads.get(thread) == readers.get(pid))
        .count();
    hits as f64 / seen.len() as f64
}

/// The most queries of 40 sequential ones (one coroutine) that went to one backend.
fn sequential_on_one(p: &Pool) -> usize {
    let p = p.clone();
    let pids = may::go!(move || {
        let one = || {
            p.query_one("SELECT pg_backend_pid()", &[])
                .unwrap()
                .get::<_, i32>(0)
        };
        // The first pick may come before the pool has learnt the workers' numbers.
        one();
        (0..40).map(|_| one()).collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    let mut counts = std::collections::HashMap::<i32, usize>::new();
    for pid in pids {
        *counts.entry(pid).or_default() += 1;
    }
    counts.into_values().max().unwrap()
}

/// The worker-affine pick sends a query to the connection read on the caller's worker: one
/// coroutine's sequential queries stay on one backend, and under concurrency most queries
/// run on their own worker's connection. The least-loaded pick alternates between idle
/// connections and lands on the caller's worker about half the time (with 2 workers).
#[test]
fn worker_affine_pick_keeps_callers_on_their_workers_connection() {
    let workers = may::config().get_workers();
    let (affine, affine_readers) = affine_pool(2, true);
    let (least, least_readers) = affine_pool(2, false);
    let (seq_affine, seq_least) = (sequential_on_one(&affine), sequential_on_one(&least));
    let own_affine = on_own_worker(&affine, &affine_readers, 64);
    let own_least = on_own_worker(&least, &least_readers, 64);
    println!(
        "{workers} workers; readers (pid -> worker) affine {affine_readers:?}, least-loaded \
         {least_readers:?}; of 40 sequential queries on one backend: affine {seq_affine}, \
         least-loaded {seq_least}; of 64x5 concurrent queries on the caller's worker: affine \
         {:.0}%, least-loaded {:.0}%",
        own_affine * 100.0,
        own_least * 100.0
    );
    assert!(seq_least < 36, "the least-loaded pick alternates");
    let spread: std::collections::HashSet<_> = affine_readers.values().collect();
    if spread.len() < 2 {
        // One worker, or other tests' connections left this pool's two on one worker.
        println!("the affine pool's connections are read on one worker: not compared");
        return;
    }
    assert!(
        seq_affine >= 39,
        "sequential queries stay on one connection"
    );
    assert!(
        own_affine >= 0.8,
        "concurrent queries mostly on their own worker"
    );

    // A caller whose worker's connection is checked out is served by another one.
    let held = affine.get().unwrap();
    let held_pid = held.backend_pid();
    let p = affine.clone();
    let pids = in_coroutines(16, move |_| {
        p.query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get::<_, i32>(0)
    });
    assert!(pids.iter().all(|pid| *pid != held_pid), "{pids:?}");
    drop(held);
}
