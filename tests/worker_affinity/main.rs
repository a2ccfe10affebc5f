//! The pool's worker-affine pick against a real PostgreSQL server (`DATABASE_URL`). A test
//! binary of its own, so that nothing else runs in the process while it measures where
//! queries go.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

use std::collections::HashMap;
use std::thread::ThreadId;

use lifeguard::{Executor, Pool};

use support::in_coroutines;

/// may's worker number for each worker thread: a coroutine spawned onto worker `i` reports
/// the thread it runs on.
fn worker_threads() -> HashMap<ThreadId, usize> {
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
fn affine_pool(n: usize, affine: bool) -> (Pool, HashMap<i32, usize>) {
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

/// may's worker number for each worker thread, and the worker each backend is read on.
struct Workers {
    threads: HashMap<ThreadId, usize>,
    readers: HashMap<i32, usize>,
}

impl Workers {
    /// How many of the (caller's thread, backend) pairs ran on the connection read on the
    /// caller's worker.
    fn own(&self, seen: &[(ThreadId, i32)]) -> usize {
        seen.iter()
            .filter(|(thread, pid)| self.threads.get(thread) == self.readers.get(pid))
            .count()
    }
}

/// One query: the thread the caller was on when it picked, and the backend that answered.
/// The thread is read right before the query: a coroutine moves between workers only when it
/// yields, and the pick happens before the first yield.
fn one_query(p: &Pool) -> (ThreadId, i32) {
    let thread = std::thread::current().id();
    let pid: i32 = p.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    (thread, pid)
}

/// Of `n` coroutines' 5 pipelined queries each, the share that ran on the connection read
/// on the worker the caller was on when it picked.
fn on_own_worker(p: &Pool, w: &Workers, n: usize) -> f64 {
    let p = p.clone();
    let seen: Vec<_> = in_coroutines(n, move |_| {
        (0..5).map(|_| one_query(&p)).collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    w.own(&seen) as f64 / seen.len() as f64
}

/// One coroutine's 40 sequential queries: the most that went to one backend, and how many
/// ran on the connection read on the worker the coroutine was on when it picked.
fn sequential(p: &Pool, w: &Workers) -> (usize, usize) {
    let p = p.clone();
    let seen = may::go!(move || {
        // The first pick may come before the pool has learnt the workers' numbers.
        one_query(&p);
        (0..40).map(|_| one_query(&p)).collect::<Vec<_>>()
    })
    .join()
    .unwrap();
    let mut counts = HashMap::<i32, usize>::new();
    for (_, pid) in &seen {
        *counts.entry(*pid).or_default() += 1;
    }
    (counts.into_values().max().unwrap(), w.own(&seen))
}

/// The worker-affine pick sends a query to the connection read on the caller's worker, for
/// sequential and concurrent callers alike. The least-loaded pick alternates between idle
/// connections and lands on the caller's worker about half the time (with 2 workers).
///
/// It is the only test in this binary (cargo runs test binaries one at a time): the pools'
/// connections are then the process's only readers, so a pool's two land on different
/// workers, and no other test's coroutines keep the workers busy. How long one coroutine stays
/// on one backend is printed, not asserted: a woken caller resumes on its reader's worker, but
/// may's work stealing can move it, and the next pick then rightly follows it.
#[test]
fn worker_affine_pick_keeps_callers_on_their_workers_connection() {
    let workers = may::config().get_workers();
    let (affine, affine_readers) = affine_pool(2, true);
    let (least, least_readers) = affine_pool(2, false);
    let threads = worker_threads();
    let on_affine = Workers {
        threads: threads.clone(),
        readers: affine_readers,
    };
    let on_least = Workers {
        threads,
        readers: least_readers,
    };
    let (seq_affine, seq_own_affine) = sequential(&affine, &on_affine);
    let (seq_least, seq_own_least) = sequential(&least, &on_least);
    let own_affine = on_own_worker(&affine, &on_affine, 64);
    let own_least = on_own_worker(&least, &on_least, 64);
    println!(
        "{workers} workers; readers (pid -> worker) affine {:?}, least-loaded {:?}; of 40 sequential queries, on one backend: affine {seq_affine}, \
         least-loaded {seq_least}; on the caller's worker: affine {seq_own_affine}, \
         least-loaded {seq_own_least}; of 64x5 concurrent queries on the caller's worker: \
         affine {:.0}%, least-loaded {:.0}%",
        on_affine.readers,
        on_least.readers,
        own_affine * 100.0,
        own_least * 100.0
    );
    assert!(seq_least < 36, "the least-loaded pick alternates");
    let spread: std::collections::HashSet<_> = on_affine.readers.values().collect();
    if workers < 2 {
        println!("one may worker: nothing to compare");
        return;
    }
    assert_eq!(
        spread.len(),
        2,
        "the only two readers are spread over the workers"
    );
    assert!(
        seq_own_affine >= 38,
        "sequential queries go to their worker's connection"
    );
    // Not all: the pick takes the least-loaded connection when the near one has more than
    // twice its queue. Alone on this machine affine was 85-97%, least-loaded 38-72%; with both
    // cores kept busy by other processes, 82-97% and 55-79%. So the two are not compared here:
    // the sequential count above is what tells the picks apart.
    assert!(
        own_affine >= 0.7,
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
