//! Cached `Film::find_by_id` hits vs the same `find_by_id` from Postgres, `conns`
//! connections × `tasks` coroutines, in one run (alternating, `BENCH_RUNS` times), with
//! Redis round trips per hit; then the reflector: `BENCH_WRITERS` coroutines update cached
//! rows for `BENCH_SECS`, and the run reports notifications and refreshes per second and the
//! lag from a write's commit to its version in Redis (p50 / p99, sampled by one prober).
//!
//! `cargo run --release` with DATABASE_URL (a server where the bench may create the
//! database `lifeguard_bench_cache`), REDIS_URL, BENCH_SECS=5, BENCH_RUNS=3,
//! BENCH_CELL=8x256. See run.sh. BENCH_OPS=N with BENCH_PROFILE=database|hit runs exactly N
//! reads and exits, for instruction counts under callgrind.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use lifeguard::cache::Cache;
use lifeguard::{Executor, Pool};

const ROWS: i32 = 1000;
const DB: &str = "lifeguard_bench_cache";

/// pagila's film, as tests/cache maps it.
#[derive(Debug, Clone, PartialEq, lifeguard::Model)]
#[lifeguard(table = "film", cache(ttl = "600s"))]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub language_id: i32,
    #[lifeguard(default)]
    pub rental_rate: rust_decimal::Decimal,
    pub length: Option<i16>,
    #[lifeguard(default)]
    pub last_update: chrono::DateTime<chrono::Utc>,
}

const FILM_TABLE: &str = "
DROP TABLE IF EXISTS film;
CREATE TABLE film (
    film_id serial PRIMARY KEY,
    title text NOT NULL,
    description text,
    language_id integer NOT NULL,
    rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
    length smallint,
    last_update timestamptz NOT NULL DEFAULT now(),
    lifeguard_version bigint
);
INSERT INTO film (title, description, language_id, length, lifeguard_version)
SELECT 'Film ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'About film ' || g END,
       1 + g % 6, (60 + g % 120)::smallint, 1
FROM generate_series(1, 1000) AS g;
ANALYZE film;
";

fn with_db(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let slash = base.rfind('/').expect("a URL with a database");
    let mut out = format!("{}/{db}", &base[..slash]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn setup(url: &str) -> String {
    let admin = lifeguard::Client::connect(url).expect("connect");
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {DB} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .unwrap();
    let bench = with_db(url, DB);
    lifeguard::Client::connect(bench.as_str())
        .unwrap()
        .batch_execute(FILM_TABLE)
        .unwrap();
    bench
}

struct Window {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: AtomicU64,
    hist: Mutex<Histogram<u64>>,
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

struct Outcome {
    ops_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    errors: u64,
}

fn run(pool: &Pool, tasks: usize, secs: u64) -> Outcome {
    let w = Arc::new(Window {
        measuring: AtomicBool::new(false),
        stop: AtomicBool::new(false),
        ops: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        hist: Mutex::new(new_hist()),
    });
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let (pool, w) = (pool.clone(), w.clone());
            may::go!(move || {
                let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((i as u64 + 1) * 7919);
                let mut h = new_hist();
                let (mut ops, mut errs) = (0u64, 0u64);
                while !w.stop.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let id = (rng % ROWS as u64) as i32 + 1;
                    let t = Instant::now();
                    let ok = matches!(Film::find_by_id(&pool, id), Ok(Some(f)) if f.film_id == id);
                    if w.measuring.load(Ordering::Relaxed) {
                        if ok {
                            ops += 1;
                            let _ = h.record(t.elapsed().as_micros() as u64);
                        } else {
                            errs += 1;
                        }
                    }
                }
                w.ops.fetch_add(ops, Ordering::SeqCst);
                w.errors.fetch_add(errs, Ordering::SeqCst);
                w.hist.lock().unwrap().add(&h).unwrap();
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(1)); // warm-up
    w.measuring.store(true, Ordering::SeqCst);
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    w.measuring.store(false, Ordering::SeqCst);
    let elapsed = t.elapsed().as_secs_f64();
    w.stop.store(true, Ordering::SeqCst);
    for h in handles {
        let _ = h.join();
    }
    let hist = w.hist.lock().unwrap();
    Outcome {
        ops_per_sec: w.ops.load(Ordering::SeqCst) as f64 / elapsed,
        p50_us: hist.value_at_quantile(0.5),
        p99_us: hist.value_at_quantile(0.99),
        errors: w.errors.load(Ordering::SeqCst),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// The reflector under write load: throughput and commit-to-Redis lag.
#[cfg(feature = "reflector")]
fn reflector_run(bench_url: &str, cache: &Cache, writers: usize, secs: u64) {
    use lifeguard::cache::redis::{self, Value};
    use lifeguard::reflector::{install_sql, Reflector};
    let admin = lifeguard::Client::connect(bench_url).unwrap();
    admin.batch_execute(&install_sql(&["film"])).unwrap();
    let reflector = Reflector::builder(bench_url, cache.clone())
        .tables(["film"])
        .build()
        .unwrap();
    let handle = reflector.handle();
    let runner = std::thread::spawn(move || reflector.run());
    let deadline = Instant::now() + Duration::from_secs(20);
    while !handle.stats().leader {
        assert!(
            Instant::now() < deadline,
            "the reflector did not take the lead"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let pool = Pool::builder(bench_url).max_size(4).build().unwrap();
    let cached = Pool::builder(bench_url)
        .max_size(2)
        .cache(cache.clone())
        .build()
        .unwrap();
    // Every row cached (the reflector only refreshes cached keys).
    may::go!({
        let cached = cached.clone();
        move || {
            for id in 1..=ROWS {
                Film::find_by_id(&cached, id).unwrap().unwrap();
            }
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(Duration::from_millis(500));

    let stop = Arc::new(AtomicBool::new(false));
    let commits = Arc::new(AtomicU64::new(0));
    let update = "UPDATE film SET length = coalesce(length, 0) % 200 + 1 WHERE film_id = $1 RETURNING lifeguard_version";
    let ws: Vec<_> = (0..writers)
        .map(|i| {
            let (pool, stop, commits) = (pool.clone(), stop.clone(), commits.clone());
            may::go!(move || {
                let mut rng = 0xA076_1D64_78BD_642Fu64 ^ ((i as u64 + 1) * 104_729);
                while !stop.load(Ordering::Relaxed) {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let id = (rng % ROWS as u64) as i32 + 1;
                    if pool.query_one(update, &[&id]).is_ok() {
                        commits.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    // The prober: one write at a time, then poll its key until the version is there.
    let prober = {
        let (pool, stop, cache) = (pool.clone(), stop.clone(), cache.clone());
        may::go!(move || {
            let mut lags = new_hist();
            let mut id = 0;
            let mut lost = 0u64;
            while !stop.load(Ordering::Relaxed) {
                id = id % ROWS + 1;
                let Ok(row) = pool.query_one(update, &[&id]) else {
                    continue;
                };
                let committed = Instant::now();
                let version: i64 = row.get(0);
                let key = cache.row_key("film", &id.to_string());
                loop {
                    let v = cache.cmd(redis::cmd("HGET").arg(&key).arg("v"));
                    let now: i64 = match v {
                        Ok(Value::BulkString(b)) => {
                            String::from_utf8_lossy(&b).parse().unwrap_or(0)
                        }
                        _ => 0,
                    };
                    if now >= version {
                        let _ = lags.record(committed.elapsed().as_micros() as u64);
                        break;
                    }
                    if committed.elapsed() > Duration::from_secs(5) {
                        lost += 1;
                        break;
                    }
                    may::coroutine::sleep(Duration::from_micros(200));
                }
            }
            (lags, lost)
        })
    };
    std::thread::sleep(Duration::from_secs(1));
    let (s0, c0, t0) = (
        handle.stats(),
        commits.load(Ordering::Relaxed),
        Instant::now(),
    );
    std::thread::sleep(Duration::from_secs(secs));
    let (s1, c1, el) = (
        handle.stats(),
        commits.load(Ordering::Relaxed),
        t0.elapsed().as_secs_f64(),
    );
    stop.store(true, Ordering::SeqCst);
    for w in ws {
        let _ = w.join();
    }
    let (lags, lost) = prober.join().unwrap();
    // Drain: the last notifications arrive within a moment.
    std::thread::sleep(Duration::from_secs(1));
    handle.stop();
    let _ = runner.join();
    println!(
        "reflector: {writers} writers, {:.0} commits/s; {:.0} notifications/s, {:.0} refreshes/s, {:.0} ignored/s; commit→Redis lag p50 {} µs, p99 {} µs, max {} µs ({} samples, {lost} not seen within 5 s)",
        (c1 - c0) as f64 / el,
        (s1.notifications - s0.notifications) as f64 / el,
        (s1.refreshes - s0.refreshes) as f64 / el,
        (s1.ignored - s0.ignored) as f64 / el,
        lags.value_at_quantile(0.5),
        lags.value_at_quantile(0.99),
        lags.max(),
        lags.len()
    );
}

fn main() {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let redis = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let cell = std::env::var("BENCH_CELL").unwrap_or_else(|_| "8x256".into());
    let (conns, tasks) = cell.split_once('x').expect("BENCH_CELL like 8x256");
    let (conns, tasks): (usize, usize) = (conns.parse().unwrap(), tasks.parse().unwrap());
    let redis_conns: usize = std::env::var("BENCH_REDIS_CONNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2);
    may::config().set_workers(2);

    let bench_url = setup(&url);
    let ns = format!("lgbench-{}", std::process::id());
    let cache = Cache::builder(redis.as_str())
        .namespace(ns.clone())
        .connections(redis_conns)
        .build()
        .unwrap();
    let plain = Pool::builder(bench_url.as_str())
        .max_size(conns)
        .min_size(conns)
        .build()
        .unwrap();
    let cached = Pool::builder(bench_url.as_str())
        .max_size(conns)
        .min_size(conns)
        .cache(cache.clone())
        .build()
        .unwrap();
    // Fill every key once, so the cached run measures hits.
    may::go!({
        let cached = cached.clone();
        move || {
            for id in 1..=ROWS {
                Film::find_by_id(&cached, id).unwrap().unwrap();
            }
        }
    })
    .join()
    .unwrap();
    let _ = plain.query_one("SELECT 1", &[]).unwrap();
    // `BENCH_OPS=N BENCH_PROFILE=database|hit`: exactly N reads on the cell, then exit
    // (for callgrind: the difference of two N is one read's instructions without the setup).
    if let Some(n) = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        let mode = std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "hit".into());
        let pool = match mode.as_str() {
            "database" => plain.clone(),
            "hit" => cached.clone(),
            other => panic!("BENCH_PROFILE={other}: database or hit"),
        };
        let s0 = cache.stats();
        let left = Arc::new(AtomicU64::new(n));
        let handles: Vec<_> = (0..tasks)
            .map(|i| {
                let (pool, left) = (pool.clone(), left.clone());
                may::go!(move || {
                    let mut rng = 0x9E37_79B9_7F4A_7C15u64 ^ ((i as u64 + 1) * 7919);
                    while left
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
                        .is_ok()
                    {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let id = (rng % ROWS as u64) as i32 + 1;
                        assert!(
                            matches!(Film::find_by_id(&pool, id), Ok(Some(f)) if f.film_id == id)
                        );
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        let s1 = cache.stats();
        println!(
            "{mode}: {n} reads on {conns}x{tasks}; hits {}, misses {}",
            s1.hits - s0.hits,
            s1.misses - s0.misses
        );
        return;
    }

    println!(
        "cache bench: {conns} connections x {tasks} coroutines, {redis_conns} Redis connections, {secs} s x {runs} runs (alternating), 2 may workers"
    );
    println!("| run | read | ops/s | p50 µs | p99 µs | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    let (mut db_ops, mut hit_ops, mut db_p99, mut hit_p99) = (vec![], vec![], vec![], vec![]);
    let mut per_hit = vec![];
    for r in 1..=runs {
        let o = run(&plain, tasks, secs);
        println!(
            "| {r} | database | {:.0} | {} | {} | {} |",
            o.ops_per_sec, o.p50_us, o.p99_us, o.errors
        );
        db_ops.push(o.ops_per_sec);
        db_p99.push(o.p99_us as f64);
        let s0 = cache.stats();
        let o = run(&cached, tasks, secs);
        let s1 = cache.stats();
        let hits = s1.hits - s0.hits;
        let trips = s1.round_trips - s0.round_trips;
        println!(
            "| {r} | cache hit | {:.0} | {} | {} | {} |",
            o.ops_per_sec, o.p50_us, o.p99_us, o.errors
        );
        println!(
            "|   | (hits {hits}, misses {}, Redis round trips {trips}: {:.3} per hit) | | | | |",
            s1.misses - s0.misses,
            trips as f64 / hits.max(1) as f64
        );
        per_hit.push(trips as f64 / hits.max(1) as f64);
        hit_ops.push(o.ops_per_sec);
        hit_p99.push(o.p99_us as f64);
    }
    let (d, h) = (median(db_ops), median(hit_ops));
    println!(
        "median: database {d:.0} ops/s (p99 {:.0} µs), cache hit {h:.0} ops/s (p99 {:.0} µs): hit/database {:.2}x; {:.3} round trips per hit",
        median(db_p99),
        median(hit_p99),
        h / d,
        median(per_hit)
    );
    #[cfg(feature = "reflector")]
    let writers: usize = std::env::var("BENCH_WRITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8);
    #[cfg(feature = "reflector")]
    if writers > 0 {
        reflector_run(&bench_url, &cache, writers, secs);
    }

    // Our keys only (the shared Redis may hold others'): they expire with their TTL, but
    // there is no need to keep them.
    let mut cursor = 0u64;
    loop {
        let Ok((next, keys)) = cache.scan(cursor, &format!("{ns}:*"), 1000) else {
            break;
        };
        if !keys.is_empty() {
            let mut del = lifeguard::cache::redis::cmd("DEL");
            for k in &keys {
                del.arg(k);
            }
            let _ = cache.cmd(&del);
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
}
