//! Redis stopped under read load: callers see no error, reads go to Postgres, and hits
//! resume once Redis is back. The Redis is our own (a second `redis-server` on a free
//! port), stopped by its pid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeguard::cache::redis;
use lifeguard::cache::Cache;

use crate::{Film, OwnRedis};

#[derive(Default)]
struct Tally {
    reads: AtomicU64,
    errors: AtomicU64,
    wrong: AtomicU64,
}

#[test]
fn redis_stopped_under_load_costs_callers_nothing() {
    let (mut redis, port) = OwnRedis::start();
    let db = crate::film_db();
    let cache = Cache::builder(format!("redis://127.0.0.1:{port}/"))
        .namespace(crate::namespace("down"))
        .build()
        .unwrap();
    let pool = crate::cached_pool(&db, &cache, 4);
    let expected: Arc<HashMap<i32, Film>> = Arc::new(
        Film::find()
            .all(db.pool())
            .unwrap()
            .into_iter()
            .map(|f| (f.film_id, f))
            .collect(),
    );
    assert_eq!(expected.len(), 1000);

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let readers: Vec<_> = (0..256u64)
        .map(|r| {
            let (pool, stop, tally, expected) =
                (pool.clone(), stop.clone(), tally.clone(), expected.clone());
            may::go!(move || {
                // Each reader walks a hot set of 100 rows from its own offset.
                let mut i = r;
                while !stop.load(Ordering::Relaxed) {
                    let id = 1 + (i % 100) as i32;
                    i = i.wrapping_add(7);
                    match Film::find_by_id(&pool, id) {
                        Ok(Some(f)) if f == expected[&id] => {}
                        Ok(_) => {
                            tally.wrong.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(_) => {
                            tally.errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    tally.reads.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();

    let phase = |name: &str, secs: u64| {
        let (r0, s0) = (tally.reads.load(Ordering::Relaxed), cache.stats());
        std::thread::sleep(Duration::from_secs(secs));
        let (r1, s1) = (tally.reads.load(Ordering::Relaxed), cache.stats());
        println!(
            "{name}: {} reads ({}/s), {} hits, {} misses, {} bypassed by the open breaker, {} Redis errors",
            r1 - r0,
            (r1 - r0) / secs,
            s1.hits - s0.hits,
            s1.misses - s0.misses,
            s1.bypassed - s0.bypassed,
            s1.errors - s0.errors
        );
        (s1.hits - s0.hits, s1.misses - s0.misses)
    };

    let (hits_up, _) = phase("Redis up", 2);
    assert!(hits_up > 0);
    redis.kill();
    // Replies already on their way when the server died still count as hits; measure
    // after they are in.
    std::thread::sleep(Duration::from_millis(300));
    let (hits_down, misses_down) = phase("Redis stopped", 3);
    let open = cache.stats().breaker_open;
    println!("breaker open while stopped: {open}");
    assert_eq!(hits_down, 0);
    assert!(misses_down > 0, "reads went on, from Postgres");
    assert!(open);

    let restarted = Instant::now();
    let _redis = OwnRedis::start_on(port);
    let hits_before = cache.stats().hits;
    let resumed = loop {
        if cache.stats().hits > hits_before + 100 {
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(10),
            "hits did not resume within 10 s of Redis coming back"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    println!(
        "hits resumed {:.0} ms after Redis came back",
        resumed.as_secs_f64() * 1e3
    );
    phase("Redis back", 1);

    stop.store(true, Ordering::Relaxed);
    for r in readers {
        r.join().unwrap();
    }
    let (errors, wrong) = (
        tally.errors.load(Ordering::Relaxed),
        tally.wrong.load(Ordering::Relaxed),
    );
    println!(
        "total: {} reads, {errors} errors to callers, {wrong} wrong rows",
        tally.reads.load(Ordering::Relaxed)
    );
    assert_eq!(errors, 0);
    assert_eq!(wrong, 0);
}

/// A stalled Redis (`CLIENT PAUSE` on a Redis of our own) answers nothing for 2 s: a call
/// made from a coroutine, as a service's are, must fail after its call timeout, not wait
/// the stall out. (may times a coroutine's park in whole milliseconds, truncated: the
/// sub-millisecond rest of a deadline was once waited for without a timeout.)
#[test]
fn stalled_redis_times_out_in_coroutines() {
    crate::shared::coroutine_stacks();
    let (_redis, port) = OwnRedis::start();
    let url = format!("redis://127.0.0.1:{port}/");
    let timeout = Duration::from_millis(250);
    let cache = Cache::builder(url.as_str())
        .namespace(crate::namespace("stall"))
        .call_timeout(timeout)
        // The breaker would answer later calls without asking Redis.
        .breaker(1000, Duration::from_millis(10))
        .build()
        .unwrap();
    let c = cache.clone();
    may::go!(move || c.cmd(&redis::cmd("PING")).map(|_| ()))
        .join()
        .unwrap()
        .unwrap();
    // Paused from a connection of its own (the pause exempts only the pausing client).
    let admin = Cache::builder(url.as_str()).build().unwrap();
    admin
        .cmd(redis::cmd("CLIENT").arg("PAUSE").arg(2000).arg("ALL"))
        .unwrap();
    let paused = Instant::now();
    let probes: Vec<_> = (0..8)
        .map(|_| {
            let c = cache.clone();
            may::go!(move || {
                let t = Instant::now();
                let r = c.cmd(&redis::cmd("PING"));
                (t.elapsed(), r.is_err())
            })
        })
        .collect();
    let thread_probe = {
        let t = Instant::now();
        let r = cache.cmd(&redis::cmd("PING"));
        (t.elapsed(), r.is_err())
    };
    let results: Vec<_> = probes.into_iter().map(|p| p.join().unwrap()).collect();
    println!(
        "stalled Redis, call timeout {timeout:?}: coroutine calls {:?}; thread call {:?} (all within {} ms of the pause)",
        results,
        thread_probe,
        paused.elapsed().as_millis()
    );
    for (took, failed) in results.iter().chain([&thread_probe]) {
        assert!(*failed, "a call answered during the stall ({took:?})");
        assert!(
            *took < Duration::from_millis(1500),
            "a call waited {took:?} of a 2 s stall (timeout {timeout:?})"
        );
    }
}
