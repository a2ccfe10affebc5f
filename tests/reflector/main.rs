//! The reflector against real Postgres and Redis, under a write storm: 32 writers update
//! random rows of a 1,000-row table with plain SQL (so only the reflector keeps the cache
//! fresh) while 256 readers read through a cached model. After the writers stop and the
//! cache is quiet, every cached key is compared with the database, byte for byte.
//!
//! Faults: the leader process SIGKILLed mid-storm (takeover time measured as the time until
//! the epoch key moves), and the leader's listener backend terminated mid-storm.
//!
//! Reflectors run as child processes (this binary re-executed with `--exact
//! reflector_child --ignored` and the `LG_REFLECTOR_CHILD_*` variables) or in-process.
//! Each test has its own scratch database and its own key namespace on the shared Redis;
//! children are killed by their pids when a test ends, pass or fail.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use lifeguard::cache::redis::{self, Value};
use lifeguard::cache::{codec, Cache};
use lifeguard::reflector::{install_sql, Reflector, LISTENER_APPLICATION_NAME};
use lifeguard::testing::TestDatabase;
use lifeguard::{Executor, Pool};

#[path = "../support/cache.rs"]
#[allow(dead_code)]
mod shared;

use shared::{namespace, redis_url, Film, OwnRedis, FILM_ROWS, FILM_TABLE};

const ROWS: i32 = 1000;
const WRITERS: usize = 32;
const READERS: usize = 256;

/// A scratch database with the film table installed, its URL, and a cache namespace.
struct Env {
    db: TestDatabase,
    url: String,
    redis: String,
    /// The readers' cache.
    cache: Cache,
    /// The test's own view of the same namespace (snapshots, the epoch), on connections of
    /// its own and with a breaker that never opens, so the readers' faults do not hide it.
    check: Cache,
}

impl Env {
    fn new(test: &str) -> Env {
        Env::with_redis(test, &redis_url())
    }

    fn with_redis(test: &str, redis: &str) -> Env {
        shared::coroutine_stacks();
        let db = TestDatabase::builder()
            .pool_size(16)
            .create()
            .expect("test database");
        let pool = db.pool();
        pool.batch_execute(FILM_TABLE).unwrap();
        pool.batch_execute(&install_sql(&["film"])).unwrap();
        pool.batch_execute(FILM_ROWS).unwrap();
        let server = lifeguard::testing::database_url().unwrap();
        let (base, query) = match server.split_once('?') {
            Some((b, q)) => (b.to_string(), format!("?{q}")),
            None => (server.clone(), String::new()),
        };
        let (root, _) = base.rsplit_once('/').expect("a database URL with a path");
        let url = format!("{root}/{}{query}", db.name());
        let cache = Cache::builder(redis)
            .namespace(namespace(test))
            .connections(4)
            .build()
            .unwrap();
        let check = Cache::builder(redis)
            .namespace(cache.namespace())
            .call_timeout(Duration::from_secs(5))
            .breaker(u32::MAX, Duration::from_millis(1))
            .build()
            .unwrap();
        Env {
            db,
            url,
            redis: redis.to_string(),
            cache,
            check,
        }
    }

    fn cached_pool(&self) -> Pool {
        Pool::builder(self.db.config().clone())
            .max_size(8)
            .cache(self.cache.clone())
            .build()
            .unwrap()
    }

    fn epoch(&self) -> i64 {
        match self
            .check
            .cmd(redis::cmd("GET").arg(self.check.epoch_key()))
        {
            Ok(Value::BulkString(b)) => String::from_utf8_lossy(&b).parse().unwrap_or(0),
            _ => 0,
        }
    }

    /// The OS pid of the process whose listener session is connected (the leader), if any.
    fn listener(&self) -> Option<(u32, i32)> {
        let rows = self
            .db
            .pool()
            .query(
                "SELECT application_name::text, pid FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name LIKE $1",
                &[&format!("{LISTENER_APPLICATION_NAME}%")],
            )
            .unwrap();
        let row = rows.first()?;
        let app: String = row.get(0);
        let os_pid = app.rsplit("pid=").next()?.parse().ok()?;
        Some((os_pid, row.get(1)))
    }

    fn wait_for_listener(&self, not: Option<i32>) -> (u32, i32) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.listener() {
                if Some(l.1) != not {
                    return l;
                }
            }
            assert!(Instant::now() < deadline, "no reflector started listening");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Reflector child processes, killed (SIGKILL, by their pids) and reaped when dropped.
struct Children(Vec<Child>);

impl Children {
    fn spawn(env: &Env, n: usize) -> Children {
        let exe = std::env::current_exe().unwrap();
        let kids = (0..n)
            .map(|_| {
                Command::new(&exe)
                    .args(["--exact", "reflector_child", "--ignored", "--nocapture"])
                    .env("LG_REFLECTOR_CHILD_PG", &env.url)
                    .env("LG_REFLECTOR_CHILD_REDIS", &env.redis)
                    .env("LG_REFLECTOR_CHILD_NS", env.cache.namespace())
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .expect("re-executing the test binary")
            })
            .collect();
        Children(kids)
    }

    fn kill(&mut self, pid: u32) {
        let i = self
            .0
            .iter()
            .position(|c| c.id() == pid)
            .expect("the leader is one of our children");
        let mut c = self.0.remove(i);
        c.kill().unwrap();
        c.wait().unwrap();
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// An in-process reflector on a thread, stopped when dropped.
struct InProcess {
    handle: lifeguard::reflector::ReflectorHandle,
    thread: Option<std::thread::JoinHandle<lifeguard::Result<()>>>,
}

impl InProcess {
    fn start(env: &Env) -> InProcess {
        // A cache of its own, as a reflector process would have.
        let cache = Cache::builder(env.redis.as_str())
            .namespace(env.cache.namespace())
            .build()
            .unwrap();
        let r = Reflector::builder(env.url.as_str(), cache)
            .tables(["film"])
            .build()
            .unwrap();
        let handle = r.handle();
        let thread = Some(std::thread::spawn(move || r.run()));
        InProcess { handle, thread }
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.handle.stop();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The child side: runs a reflector until killed. Does nothing outside a child.
#[test]
#[ignore = "run by the reflector tests as a child process"]
fn reflector_child() {
    let Ok(pg) = std::env::var("LG_REFLECTOR_CHILD_PG") else {
        return;
    };
    let redis = std::env::var("LG_REFLECTOR_CHILD_REDIS").unwrap();
    let ns = std::env::var("LG_REFLECTOR_CHILD_NS").unwrap();
    let cache = Cache::builder(redis).namespace(ns).build().unwrap();
    Reflector::builder(pg, cache)
        .tables(["film"])
        .build()
        .unwrap()
        .run()
        .unwrap();
}

fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}

#[derive(Debug, Default)]
struct StormFigures {
    writes: u64,
    reads: u64,
    read_errors: u64,
    write_errors: u64,
}

/// Runs the storm for `length`, calling `at(elapsed)` about every 20 ms from this thread.
fn storm(
    env: &Env,
    reader_pool: &Pool,
    length: Duration,
    mut at: impl FnMut(Duration),
) -> StormFigures {
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let reads = Arc::new(AtomicU64::new(0));
    let read_errors = Arc::new(AtomicU64::new(0));
    let write_errors = Arc::new(AtomicU64::new(0));
    let mut joins = Vec::new();
    for w in 0..WRITERS {
        let (pool, stop, writes, errors) = (
            env.db.pool().clone(),
            stop.clone(),
            writes.clone(),
            write_errors.clone(),
        );
        joins.push(may::go!(move || {
            let mut next = rng(w as u64 + 1);
            while !stop.load(Ordering::Relaxed) {
                let id = (next() % ROWS as u64) as i32 + 1;
                let n = next() % 1_000_000;
                let r = pool.execute(
                    "UPDATE film SET title = $2, length = $3 WHERE film_id = $1",
                    &[&id, &format!("Film {id} v{n}"), &((n % 180) as i16)],
                );
                match r {
                    Ok(_) => writes.fetch_add(1, Ordering::Relaxed),
                    Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for r in 0..READERS {
        let (pool, stop, reads, errors) = (
            reader_pool.clone(),
            stop.clone(),
            reads.clone(),
            read_errors.clone(),
        );
        joins.push(may::go!(move || {
            let mut next = rng(1000 + r as u64);
            while !stop.load(Ordering::Relaxed) {
                let id = (next() % ROWS as u64) as i32 + 1;
                match Film::find_by_id(&pool, id) {
                    Ok(Some(_)) => reads.fetch_add(1, Ordering::Relaxed),
                    _ => errors.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let started = Instant::now();
    while started.elapsed() < length {
        at(started.elapsed());
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for j in joins {
        j.join().expect("a storm coroutine panicked");
    }
    StormFigures {
        writes: writes.load(Ordering::Relaxed),
        reads: reads.load(Ordering::Relaxed),
        read_errors: read_errors.load(Ordering::Relaxed),
        write_errors: write_errors.load(Ordering::Relaxed),
    }
}

/// Every row and tombstone key of the table: key → (kind, version, bytes).
fn snapshot(cache: &Cache) -> HashMap<String, (String, String, Vec<u8>)> {
    let pattern = cache.table_pattern("film");
    let mut keys = Vec::new();
    let mut cursor = 0;
    loop {
        let (next, batch) = cache.scan(cursor, &pattern, 1000).unwrap();
        keys.extend(batch);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut out = HashMap::new();
    for chunk in keys.chunks(500) {
        let mut pipe = redis::pipe();
        for k in chunk {
            pipe.cmd("HMGET").arg(k).arg("k").arg("v").arg("d");
        }
        let replies = cache.pipe(&pipe).unwrap();
        for (k, v) in chunk.iter().zip(replies) {
            let Value::Array(f) = v else { continue };
            let s = |v: &Value| match v {
                Value::BulkString(b) => b.clone(),
                _ => Vec::new(),
            };
            let kind = String::from_utf8_lossy(&s(&f[0])).into_owned();
            if kind == "r" || kind == "t" {
                let ver = String::from_utf8_lossy(&s(&f[1])).into_owned();
                out.insert(k.clone(), (kind, ver, s(&f[2])));
            }
        }
    }
    out
}

/// Waits until the cached rows stop changing (1 s without a change); returns how long.
fn quiesce(cache: &Cache) -> Duration {
    let started = Instant::now();
    let mut last = snapshot(cache);
    let mut stable_since = Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let now = snapshot(cache);
        if now != last {
            last = now;
            stable_since = Instant::now();
        } else if stable_since.elapsed() >= Duration::from_secs(1) {
            return started.elapsed() - Duration::from_secs(1);
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the cache did not become quiet in 60 s"
        );
    }
}

#[derive(Debug, Default)]
struct Compared {
    rows: usize,
    tombstones: usize,
    differ: usize,
}

/// Compares every cached row (and tombstone) with the database, byte for byte.
fn compare(env: &Env) -> Compared {
    let snap = snapshot(&env.check);
    let prefix = env.cache.row_key("film", "");
    let rows = env.db.pool().query("SELECT * FROM film", &[]).unwrap();
    let db: HashMap<String, Vec<u8>> = rows
        .iter()
        .map(|r| {
            let id: i32 = r.get("film_id");
            (id.to_string(), codec::encode(r, r.len()))
        })
        .collect();
    let mut c = Compared::default();
    let mut shown = 0;
    for (key, (kind, version, bytes)) in &snap {
        let id = key.strip_prefix(&prefix).unwrap();
        let ok = match kind.as_str() {
            "r" => {
                c.rows += 1;
                db.get(id) == Some(bytes)
            }
            _ => {
                c.tombstones += 1;
                !db.contains_key(id)
            }
        };
        if !ok {
            c.differ += 1;
            if shown < 5 {
                shown += 1;
                eprintln!("stale: {key} kind {kind} version {version}");
            }
        }
    }
    c
}

/// One storm round: storm, stop, quiesce, compare. Returns the comparison.
fn round(
    env: &Env,
    pool: &Pool,
    name: &str,
    length: Duration,
    at: impl FnMut(Duration),
) -> Compared {
    let figures = storm(env, pool, length, at);
    let quiet = quiesce(&env.check);
    let c = compare(env);
    let stats = env.cache.stats();
    println!(
        "{name}: {} writes ({} failed), {} reads ({} failed) in {:.1} s; cache hits {} misses {}; \
         quiet after {} ms; {} cached rows, {} tombstones, {} differ from the database",
        figures.writes,
        figures.write_errors,
        figures.reads,
        figures.read_errors,
        length.as_secs_f64(),
        stats.hits,
        stats.misses,
        quiet.as_millis(),
        c.rows,
        c.tombstones,
        c.differ
    );
    assert_eq!(figures.read_errors, 0, "{name}: reads failed");
    assert!(figures.writes > 0 && figures.reads > 0, "{name}: no load");
    assert!(c.rows > 0, "{name}: nothing cached");
    c
}

#[test]
fn storm_two_reflectors_three_rounds() {
    let env = Env::new("storm");
    let _children = Children::spawn(&env, 2);
    let (leader, _) = env.wait_for_listener(None);
    println!("storm: leader pid {leader}, epoch {}", env.epoch());
    let pool = env.cached_pool();
    for i in 1..=3 {
        let c = round(
            &env,
            &pool,
            &format!("storm round {i}"),
            Duration::from_secs(4),
            |_| {},
        );
        assert_eq!(c.differ, 0, "storm round {i}: stale keys");
    }
}

#[test]
fn leader_killed_during_the_storm() {
    let env = Env::new("killed");
    let mut children = Children::spawn(&env, 2);
    let (leader, _) = env.wait_for_listener(None);
    let pool = env.cached_pool();
    let mut killed: Option<(Instant, i64)> = None;
    let mut takeover: Option<Duration> = None;
    let c = round(&env, &pool, "leader killed", Duration::from_secs(8), |t| {
        if killed.is_none() && t >= Duration::from_secs(2) {
            let before = env.epoch();
            children.kill(leader);
            killed = Some((Instant::now(), before));
        }
        if let (Some((at, before)), None) = (killed, takeover) {
            if env.epoch() > before {
                takeover = Some(at.elapsed());
            }
        }
    });
    let takeover = takeover.expect("no standby took over within the storm");
    let (new_leader, _) = env.wait_for_listener(None);
    println!(
        "leader killed: SIGKILL of pid {leader}; pid {new_leader} took over (new epoch) in {} ms",
        takeover.as_millis()
    );
    assert_ne!(new_leader, leader);
    assert!(
        takeover < Duration::from_secs(5),
        "takeover took {takeover:?}"
    );
    assert_eq!(c.differ, 0, "stale keys after the takeover");
}

#[test]
fn listener_terminated_during_writes() {
    let env = Env::new("listener");
    let reflector = InProcess::start(&env);
    let (_, backend) = env.wait_for_listener(None);
    let pool = env.cached_pool();
    let mut terminated: Option<Instant> = None;
    let mut back: Option<Duration> = None;
    let c = round(
        &env,
        &pool,
        "listener terminated",
        Duration::from_secs(6),
        |t| {
            if terminated.is_none() && t >= Duration::from_secs(2) {
                let ok: bool = env
                    .db
                    .pool()
                    .query_one("SELECT pg_terminate_backend($1)", &[&backend])
                    .unwrap()
                    .get(0);
                assert!(ok, "pg_terminate_backend");
                terminated = Some(Instant::now());
            }
            if let (Some(at), None) = (terminated, back) {
                if env.listener().is_some_and(|l| l.1 != backend) {
                    back = Some(at.elapsed());
                }
            }
        },
    );
    let stats = reflector.handle.stats();
    println!(
        "listener terminated: backend {backend} terminated; listening again after {} ms; \
         reflector: {} notifications, {} refreshes, {} ignored, {} resyncs, {} listener reconnects",
        back.map_or(-1, |d| d.as_millis() as i64),
        stats.notifications,
        stats.refreshes,
        stats.ignored,
        stats.resyncs,
        stats.listener_reconnects
    );
    assert!(back.is_some(), "the listener did not come back");
    assert!(
        stats.listener_reconnects >= 1 && stats.resyncs >= 2,
        "{stats:?}"
    );
    assert_eq!(stats.leader_changes, 1, "it stayed leader");
    assert_eq!(c.differ, 0, "stale keys after the resync");
}

/// The control: with no reflector the same storm leaves stale keys, so the comparison
/// above can fail.
#[test]
fn control_without_a_reflector_keys_go_stale() {
    let env = Env::new("control");
    let pool = env.cached_pool();
    let figures = storm(&env, &pool, Duration::from_secs(2), |_| {});
    let c = compare(&env);
    println!(
        "control (no reflector): {} writes, {} reads; {} cached rows, {} differ from the database",
        figures.writes, figures.reads, c.rows, c.differ
    );
    assert!(
        c.differ > 0,
        "without a reflector some cached rows must be stale"
    );
}

fn kind(cache: &Cache, key: &str) -> Option<String> {
    match cache.cmd(redis::cmd("HGET").arg(key).arg("k")).unwrap() {
        Value::BulkString(b) => Some(String::from_utf8(b).unwrap()),
        _ => None,
    }
}

fn wait_kind(cache: &Cache, key: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while kind(cache, key).as_deref() != Some(want) {
        assert!(
            Instant::now() < deadline,
            "{key} never became {want:?} (is {:?})",
            kind(cache, key)
        );
        may::coroutine::sleep(Duration::from_millis(20));
    }
}

/// A delete, a key-changing update and a TRUNCATE leave tombstones; an update refreshes the
/// cached row in place (the next read is a hit with the new row); uncached keys stay absent.
#[test]
fn deletes_key_changes_and_truncate_become_tombstones() {
    let env = Env::new("tomb");
    // Keys that are not the app's (a key text that is no integer, a two-part key): the
    // first resync must skip them, not fail on them.
    for junk in ["abc", "1:2", "99999999999"] {
        let k = env.cache.row_key("film", junk);
        env.cache
            .cmd(redis::cmd("HSET").arg(&k).arg("k").arg("r").arg("v").arg(1))
            .unwrap();
    }
    let reflector = InProcess::start(&env);
    env.wait_for_listener(None);
    let pool = env.cached_pool();
    let db = env.db.pool().clone();
    let cache = env.cache.clone();
    let key = |id: i32| env.cache.row_key("film", &id.to_string());
    let (k5, k6, k7, k8) = (key(5), key(6), key(7), key(8));
    may::go!(move || {
        for id in [5, 6, 7] {
            Film::find_by_id(&pool, id).unwrap().unwrap();
        }
        // Wait until the fills landed (a lease turns into a row).
        for k in [&k5, &k6, &k7] {
            wait_kind(&cache, k, "r");
        }
        db.execute("DELETE FROM film WHERE film_id = 5", &[])
            .unwrap();
        wait_kind(&cache, &k5, "t");
        assert_eq!(Film::find_by_id(&pool, 5).unwrap(), None);

        db.execute("UPDATE film SET film_id = 2000 WHERE film_id = 6", &[])
            .unwrap();
        wait_kind(&cache, &k6, "t");

        let hits = cache.stats().hits;
        db.execute("UPDATE film SET title = 'Refreshed' WHERE film_id = 7", &[])
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let f = Film::find_by_id(&pool, 7).unwrap().unwrap();
            if f.title == "Refreshed" {
                break;
            }
            assert!(Instant::now() < deadline, "film 7 was never refreshed");
            may::coroutine::sleep(Duration::from_millis(20));
        }
        assert!(
            cache.stats().hits > hits,
            "the refreshed row is served from Redis"
        );

        db.execute(
            "UPDATE film SET title = 'Not cached' WHERE film_id = 8",
            &[],
        )
        .unwrap();
        db.batch_execute("TRUNCATE film").unwrap();
        wait_kind(&cache, &k7, "t");
        assert_eq!(kind(&cache, &k8), None, "an uncached key stays absent");
    })
    .join()
    .unwrap();
    let s = reflector.handle.stats();
    println!(
        "tombstones: {} notifications, {} refreshes, {} ignored, {} resyncs",
        s.notifications, s.refreshes, s.ignored, s.resyncs
    );
    assert!(s.ignored >= 1, "{s:?}");
}

/// Redis stalls (`CLIENT PAUSE 2000 ALL` on a Redis of our own) during writes: the
/// reflector's calls time out, it backs off and resyncs once Redis answers; readers fall
/// back to Postgres without an error; 0 stale keys after.
#[test]
fn redis_stalled_during_writes() {
    let (_redis, port) = OwnRedis::start();
    let env = Env::with_redis("stall", &format!("redis://127.0.0.1:{port}/"));
    let reflector = InProcess::start(&env);
    env.wait_for_listener(None);
    let pool = env.cached_pool();
    // Stalls of 1.5 s from t = 2 s, one after another (at most 4), until the reflector has
    // seen a Redis error: on a loaded machine its coroutine may sit out one stall.
    let mut stalls = 0;
    let mut next_stall = Duration::from_secs(2);
    let c = round(&env, &pool, "redis stalled", Duration::from_secs(10), |t| {
        if t >= next_stall && stalls < 4 && reflector.handle.stats().redis_errors == 0 {
            env.check
                .cmd(redis::cmd("CLIENT").arg("PAUSE").arg(1500).arg("ALL"))
                .unwrap();
            stalls += 1;
            next_stall = t + Duration::from_millis(1750);
            // The probe runs in a coroutine, as the service's own calls do.
            let probe = Instant::now();
            let cache = env.cache.clone();
            let r = may::go!(move || cache.cmd(&redis::cmd("PING")))
                .join()
                .expect("the probe coroutine panicked");
            println!(
                "redis stalled: stall {stalls} at {} ms; a PING then took {} ms ({})",
                t.as_millis(),
                probe.elapsed().as_millis(),
                if r.is_ok() { "answered" } else { "failed" }
            );
        }
    });
    let s = reflector.handle.stats();
    println!(
        "redis stalled: reflector: {} notifications, {} refreshes, {} Redis errors, {} resyncs; \
         readers' cache: {} errors, {} bypassed",
        s.notifications,
        s.refreshes,
        s.redis_errors,
        s.resyncs,
        env.cache.stats().errors,
        env.cache.stats().bypassed
    );
    // Runs where no reflector call failed inside a pause were may truncating parker timeouts
    // to whole milliseconds (driver/wait.rs): the call's timed wait became an untimed one.
    assert!(
        s.redis_errors >= 1,
        "the stall reached the reflector: {s:?}"
    );
    assert!(s.resyncs >= 2, "a resync after the Redis errors: {s:?}");
    assert_eq!(
        s.leader_changes, 1,
        "Redis errors do not cost the leadership"
    );
    assert_eq!(c.differ, 0, "stale keys after Redis came back");
}

/// The reflector's metrics reach an installed recorder (the `metrics` feature is on in this
/// package). The recorder is process-wide, so other tests' reflectors may add to it: only
/// the names are checked.
#[test]
fn metrics_are_emitted() {
    use metrics_util::debugging::DebuggingRecorder;
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("install the debugging recorder");
    let env = Env::new("metrics");
    let reflector = InProcess::start(&env);
    env.wait_for_listener(None);
    let pool = env.cached_pool();
    let db = env.db.pool().clone();
    let cache = env.cache.clone();
    let k3 = env.cache.row_key("film", "3");
    may::go!(move || {
        Film::find_by_id(&pool, 3).unwrap().unwrap();
        wait_kind(&cache, &k3, "r");
        db.execute("UPDATE film SET title = 'M' WHERE film_id = 3", &[])
            .unwrap();
        db.execute("UPDATE film SET title = 'M' WHERE film_id = 4", &[])
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Film::find_by_id(&pool, 3).unwrap().unwrap().title != "M" {
            assert!(Instant::now() < deadline, "film 3 was never refreshed");
            may::coroutine::sleep(Duration::from_millis(20));
        }
    })
    .join()
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while reflector.handle.stats().ignored == 0 {
        assert!(
            Instant::now() < deadline,
            "the uncached key was never ignored"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let names: std::collections::HashSet<String> = snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(k, _, _, _)| k.key().name().to_string())
        .collect();
    for name in [
        "reflector_notifications_total",
        "reflector_refreshes_total",
        "reflector_ignored_total",
        "reflector_active_keys",
        "reflector_redis_latency_seconds",
        "reflector_pg_latency_seconds",
        "reflector_leader_changes_total",
    ] {
        assert!(names.contains(name), "{name} was not emitted: {names:?}");
    }
    println!("metrics: all 7 reflector metrics emitted");
}
