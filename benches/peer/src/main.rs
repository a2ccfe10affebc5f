//! Point SELECT by primary key on pgbench_accounts (1M rows), swept over
//! connections × concurrent tasks, for Lifeguard, tokio-postgres, sqlx and pgbench.
//!
//! `cargo run --release` (env: DATABASE_URL, BENCH_SWEEP="1x1,4x64,8x256,8x1024", BENCH_SECS=5;
//! BENCH_ONLY=lifeguard runs Lifeguard alone (default worker-affine and least-loaded picks), for profiling;
//! `--features alloc-count` adds allocations per query; BENCH_REPLICA_URL adds a cell for
//! the router's replica reads — `router-spread.sh` makes the replica); BENCH_OPS=N with
//! BENCH_PROFILE=lifeguard|tokio-postgres runs exactly N selects on the first cell, for callgrind.

use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// With `--features alloc-count`: every heap allocation of the process is counted, so a
/// cell can report allocations per query over its measurement window.
#[cfg(feature = "alloc-count")]
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::sync::atomic::{AtomicU64, Ordering};

    pub static ALLOCS: AtomicU64 = AtomicU64::new(0);

    pub struct Counting;

    // SAFETY: defers to the system allocator; the counter has no effect on the memory.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            unsafe { System.alloc_zeroed(layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static GLOBAL: Counting = Counting;
}

/// Allocations so far (0 without the `alloc-count` feature).
fn allocs() -> u64 {
    #[cfg(feature = "alloc-count")]
    return alloc_count::ALLOCS.load(Ordering::Relaxed);
    #[cfg(not(feature = "alloc-count"))]
    0
}

const SQL: &str = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
const ROWS: i32 = 1_000_000;

struct Outcome {
    ops: u64,
    errors: u64,
    secs: f64,
    hist: Histogram<u64>,
    /// Heap allocations of the whole process during the window.
    allocs: u64,
}

impl Outcome {
    fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.secs
    }
}

fn xorshift(state: &mut u64) -> i32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % ROWS as u64) as i32 + 1
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

/// Shared measurement window: tasks count only between `start` and `stop`.
struct Window {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: AtomicU64,
    hist: Mutex<Histogram<u64>>,
    allocs: AtomicU64,
}

impl Window {
    fn new() -> Arc<Window> {
        Arc::new(Window {
            measuring: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            hist: Mutex::new(new_hist()),
            allocs: AtomicU64::new(0),
        })
    }
    fn drive(&self, secs: u64) -> f64 {
        std::thread::sleep(Duration::from_secs(1)); // warm-up
        self.measuring.store(true, Ordering::SeqCst);
        let before = allocs();
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        self.measuring.store(false, Ordering::SeqCst);
        self.allocs.store(allocs() - before, Ordering::SeqCst);
        let elapsed = t.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::SeqCst);
        elapsed
    }
    fn outcome(&self, secs: f64) -> Outcome {
        Outcome {
            ops: self.ops.load(Ordering::SeqCst),
            errors: self.errors.load(Ordering::SeqCst),
            secs,
            hist: self.hist.lock().unwrap().clone(),
            allocs: self.allocs.load(Ordering::SeqCst),
        }
    }
}

/// Lifeguard's pool, with the default (worker-affine) pick or the least-loaded one.
fn lifeguard_run(url: &str, conns: usize, tasks: usize, secs: u64, affine: bool) -> Outcome {
    use lifeguard::Executor;
    let pool = lifeguard::Pool::builder(url)
        .max_size(conns)
        .min_size(conns)
        .worker_affine(affine)
        .build()
        .expect("lifeguard pool");
    let w = Window::new();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let (pool, w) = (pool.clone(), w.clone());
            may::go!(move || {
                let mut rng = 0x9E3779B97F4A7C15u64 ^ (i as u64 + 1) * 7919;
                let mut h = new_hist();
                let (mut ops, mut errs) = (0u64, 0u64);
                while !w.stop.load(Ordering::Relaxed) {
                    let aid = xorshift(&mut rng);
                    let t = Instant::now();
                    let ok = pool
                        .query_one(SQL, &[&aid])
                        .map(|r| r.get::<_, i32>(0))
                        .is_ok();
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
    let secs = w.drive(secs);
    for h in handles {
        let _ = h.join();
    }
    w.outcome(secs)
}

/// Lifeguard's router with a replica (`BENCH_REPLICA_URL`): reads with the `Replica`
/// preference, `conns` connections per node. Returns the outcome and the share of answers
/// that came from the replica (`pg_is_in_recovery()`).
fn router_run(url: &str, replica: &str, conns: usize, tasks: usize, secs: u64) -> (Outcome, f64) {
    use lifeguard::Executor;
    let router = lifeguard::Router::builder(url)
        .replica(replica)
        .pool_size(conns)
        .build()
        .expect("lifeguard router");
    let deadline = Instant::now() + Duration::from_secs(30);
    while router.status().healthy_replicas == 0 {
        assert!(Instant::now() < deadline, "the replica was never admitted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let on_replica = Arc::new(AtomicU64::new(0));
    let w = Window::new();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let (read, w, on_replica) = (router.read(), w.clone(), on_replica.clone());
            may::go!(move || {
                let mut rng = 0x9E3779B97F4A7C15u64 ^ (i as u64 + 1) * 7919;
                let mut h = new_hist();
                let (mut ops, mut errs, mut replica_ops) = (0u64, 0u64, 0u64);
                while !w.stop.load(Ordering::Relaxed) {
                    let aid = xorshift(&mut rng);
                    let t = Instant::now();
                    let res = read
                        .query_one(
                            "SELECT abalance, pg_is_in_recovery() FROM pgbench_accounts WHERE aid = $1",
                            &[&aid],
                        )
                        .map(|r| r.get::<_, bool>(1));
                    if w.measuring.load(Ordering::Relaxed) {
                        match res {
                            Ok(recovery) => {
                                ops += 1;
                                replica_ops += u64::from(recovery);
                                let _ = h.record(t.elapsed().as_micros() as u64);
                            }
                            Err(_) => errs += 1,
                        }
                    }
                }
                w.ops.fetch_add(ops, Ordering::SeqCst);
                w.errors.fetch_add(errs, Ordering::SeqCst);
                on_replica.fetch_add(replica_ops, Ordering::SeqCst);
                w.hist.lock().unwrap().add(&h).unwrap();
            })
        })
        .collect();
    let secs = w.drive(secs);
    for h in handles {
        let _ = h.join();
    }
    let out = w.outcome(secs);
    let share = on_replica.load(Ordering::SeqCst) as f64 / out.ops.max(1) as f64;
    (out, share)
}

/// One task's measured loop: run `op` until the window stops, recording latency while it measures.
async fn measure_async<F, Fut>(w: Arc<Window>, seed: usize, mut op: F)
where
    F: FnMut(i32) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut rng = 0x9E3779B97F4A7C15u64 ^ (seed as u64 + 1) * 7919;
    let mut h = new_hist();
    let (mut ops, mut errs) = (0u64, 0u64);
    while !w.stop.load(Ordering::Relaxed) {
        let aid = xorshift(&mut rng);
        let t = Instant::now();
        let ok = op(aid).await;
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
}

fn tokio_postgres_run(url: &str, conns: usize, tasks: usize, secs: u64) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = Window::new();
    let url = url.to_string();
    let w2 = w.clone();
    let driver = std::thread::spawn(move || {
        rt.block_on(async move {
            let mut clients = Vec::new();
            for _ in 0..conns {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("tokio-postgres connect");
                tokio::spawn(conn);
                let stmt = client.prepare(SQL).await.unwrap();
                clients.push(Arc::new((client, stmt)));
            }
            let mut joins = Vec::new();
            for i in 0..tasks {
                let c = clients[i % conns].clone();
                let w = w2.clone();
                joins.push(tokio::spawn(measure_async(w, i, move |aid| {
                    let c = c.clone();
                    async move {
                        c.0.query_one(&c.1, &[&aid])
                            .await
                            .map(|r| r.get::<_, i32>(0))
                            .is_ok()
                    }
                })));
            }
            for j in joins {
                let _ = j.await;
            }
        })
    });
    let secs = w.drive(secs);
    driver.join().unwrap();
    w.outcome(secs)
}

fn sqlx_run(url: &str, conns: usize, tasks: usize, secs: u64) -> Outcome {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = Window::new();
    let url = url.to_string();
    let w2 = w.clone();
    let driver = std::thread::spawn(move || {
        rt.block_on(async move {
            let pool = sqlx::postgres::PgPoolOptions::new()
                .max_connections(conns as u32)
                .min_connections(conns as u32)
                .connect(&url)
                .await
                .expect("sqlx pool");
            let mut joins = Vec::new();
            for i in 0..tasks {
                let pool = pool.clone();
                let w = w2.clone();
                joins.push(tokio::spawn(measure_async(w, i, move |aid| {
                    let pool = pool.clone();
                    async move {
                        sqlx::query_scalar::<_, i32>(SQL)
                            .bind(aid)
                            .fetch_one(&pool)
                            .await
                            .is_ok()
                    }
                })));
            }
            for j in joins {
                let _ = j.await;
            }
        })
    });
    let secs = w.drive(secs);
    driver.join().unwrap();
    w.outcome(secs)
}

struct PgArgs {
    host: String,
    port: String,
    user: String,
    password: Option<String>,
    db: String,
}

fn pg_args(url: &str) -> PgArgs {
    let cfg: lifeguard::Config = url.parse().expect("DATABASE_URL");
    let (host, port) = match &cfg.hosts()[0] {
        (lifeguard::Host::Tcp(h), p) => (h.clone(), p.to_string()),
        (lifeguard::Host::Unix(d), p) => (d.display().to_string(), p.to_string()),
    };
    let password = url
        .split("://")
        .nth(1)
        .and_then(|r| r.split('@').next())
        .filter(|u| u.contains(':'))
        .and_then(|u| u.split(':').nth(1))
        .map(str::to_string);
    PgArgs {
        host,
        port,
        user: cfg.get_user().to_string(),
        password,
        db: cfg.get_dbname().to_string(),
    }
}

fn pgbench(a: &PgArgs, extra: &[&str]) -> std::process::Output {
    let mut cmd = Command::new("pgbench");
    cmd.args(["-h", &a.host, "-p", &a.port, "-U", &a.user])
        .args(extra)
        .arg(&a.db);
    if let Some(p) = &a.password {
        cmd.env("PGPASSWORD", p);
    }
    cmd.output().expect("running pgbench")
}

/// pgbench with a per-transaction log; ops = transactions × selects per transaction.
fn pgbench_run(a: &PgArgs, conns: usize, secs: u64, pipeline: usize) -> Outcome {
    let dir = std::env::temp_dir().join(format!(
        "lg-pgbench-{}-{conns}-{pipeline}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("point.sql");
    let mut body = String::from("\\set aid random(1, 1000000)\n");
    if pipeline > 1 {
        body.push_str("\\startpipeline\n");
        for _ in 0..pipeline {
            body.push_str("SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n");
        }
        body.push_str("\\endpipeline\n");
    } else {
        body.push_str("SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\n");
    }
    std::fs::write(&script, body).unwrap();
    let prefix = dir.join("log");
    let out = pgbench(
        a,
        &[
            "-n",
            "-M",
            "prepared",
            "-c",
            &conns.to_string(),
            "-j",
            "2",
            "-T",
            &secs.to_string(),
            "-f",
            script.to_str().unwrap(),
            "-l",
            "--log-prefix",
            prefix.to_str().unwrap(),
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tx: u64 = stdout
        .lines()
        .find(|l| l.starts_with("number of transactions actually processed"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split('/').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let failed: u64 = stdout
        .lines()
        .find(|l| l.starts_with("number of failed transactions"))
        .and_then(|l| l.split(':').nth(1))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut hist = new_hist();
    for entry in std::fs::read_dir(&dir).unwrap().flatten() {
        if entry.file_name().to_string_lossy().starts_with("log") {
            for line in std::fs::read_to_string(entry.path())
                .unwrap_or_default()
                .lines()
            {
                // client_id transaction_no time script_no time_epoch time_us
                if let Some(us) = line
                    .split_whitespace()
                    .nth(2)
                    .and_then(|v| v.parse::<u64>().ok())
                {
                    let _ = hist.record(us.max(1));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    if tx == 0 {
        eprintln!("pgbench failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Outcome {
        ops: tx * pipeline as u64,
        errors: failed,
        secs: secs as f64,
        hist,
        allocs: 0,
    }
}

fn ensure_table(url: &str, a: &PgArgs) {
    use lifeguard::Executor;
    let client = lifeguard::Client::connect(url).expect("connect to DATABASE_URL");
    let rows: Option<i64> = client
        .query_opt(
            "SELECT count(*) FROM pgbench_accounts WHERE to_regclass('pgbench_accounts') IS NOT NULL",
            &[],
        )
        .ok()
        .flatten()
        .map(|r| r.get(0));
    if rows != Some(ROWS as i64) {
        eprintln!("initialising pgbench_accounts (pgbench -i -s 10)…");
        let out = pgbench(a, &["-i", "-s", "10", "-q"]);
        assert!(
            out.status.success(),
            "pgbench -i: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `BENCH_OPS=N BENCH_PROFILE=lifeguard|tokio-postgres`: exactly `N` point selects on the
/// first `BENCH_SWEEP` cell, no warm-up or clock, then exit: for instruction counts
/// (`valgrind --tool=callgrind`), where the difference of two runs with different `N`
/// divided by the difference of `N` is the cost of one operation without the setup.
fn fixed_ops(url: &str, driver: &str, conns: usize, tasks: usize, n: u64) {
    let left = Arc::new(AtomicU64::new(n));
    let take = |left: &AtomicU64| {
        left.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| v.checked_sub(1))
            .is_ok()
    };
    let errors = Arc::new(AtomicU64::new(0));
    match driver {
        "lifeguard" => {
            use lifeguard::Executor;
            let pool = lifeguard::Pool::builder(url)
                .max_size(conns)
                .min_size(conns)
                .build()
                .expect("lifeguard pool");
            let handles: Vec<_> = (0..tasks)
                .map(|i| {
                    let (pool, left, errors) = (pool.clone(), left.clone(), errors.clone());
                    may::go!(move || {
                        let mut rng = 0x9E3779B97F4A7C15u64 ^ (i as u64 + 1) * 7919;
                        while take(&left) {
                            let aid = xorshift(&mut rng);
                            if pool
                                .query_one(SQL, &[&aid])
                                .map(|r| r.get::<_, i32>(0))
                                .is_err()
                            {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    })
                })
                .collect();
            for h in handles {
                let _ = h.join();
            }
        }
        "tokio-postgres" => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let mut clients = Vec::new();
                for _ in 0..conns {
                    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                        .await
                        .expect("tokio-postgres connect");
                    tokio::spawn(conn);
                    let stmt = client.prepare(SQL).await.unwrap();
                    clients.push(Arc::new((client, stmt)));
                }
                let mut joins = Vec::new();
                for i in 0..tasks {
                    let (c, left, errors) =
                        (clients[i % conns].clone(), left.clone(), errors.clone());
                    joins.push(tokio::spawn(async move {
                        let mut rng = 0x9E3779B97F4A7C15u64 ^ (i as u64 + 1) * 7919;
                        while take(&left) {
                            let aid = xorshift(&mut rng);
                            if c.0
                                .query_one(&c.1, &[&aid])
                                .await
                                .map(|r| r.get::<_, i32>(0))
                                .is_err()
                            {
                                errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }));
                }
                for j in joins {
                    let _ = j.await;
                }
            });
        }
        other => panic!("BENCH_PROFILE={other}: lifeguard or tokio-postgres"),
    }
    println!(
        "{driver}: {n} point selects on {conns}×{tasks}, {} errors",
        errors.load(Ordering::Relaxed)
    );
}

fn main() {
    may::config().set_workers(2);
    // With `--features observe`: every metric is recorded, as a service exporting them would.
    #[cfg(feature = "observe")]
    let _metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder");
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".into());
    // Every peer runs without TLS: loopback, and tokio-postgres/sqlx here are built without it.
    let url = if url.contains("sslmode=") {
        url
    } else if url.contains('?') {
        format!("{url}&sslmode=disable")
    } else {
        format!("{url}?sslmode=disable")
    };
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let sweep: Vec<(usize, usize)> = std::env::var("BENCH_SWEEP")
        .unwrap_or_else(|_| "1x1,4x64,8x256,8x1024".into())
        .split(',')
        .map(|c| {
            let (a, b) = c.split_once('x').expect("BENCH_SWEEP cell like 8x256");
            (a.trim().parse().unwrap(), b.trim().parse().unwrap())
        })
        .collect();
    let a = pg_args(&url);
    ensure_table(&url, &a);
    if let Some(n) = std::env::var("BENCH_OPS").ok().and_then(|s| s.parse().ok()) {
        let driver = std::env::var("BENCH_PROFILE").unwrap_or_else(|_| "lifeguard".into());
        let (conns, tasks) = sweep[0];
        fixed_ops(&url, &driver, conns, tasks, n);
        return;
    }
    let version = String::from_utf8_lossy(
        &Command::new("psql")
            .arg("--version")
            .output()
            .map(|o| o.stdout)
            .unwrap_or_default(),
    )
    .trim()
    .to_string();
    println!(
        "# Point SELECT by primary key, pgbench_accounts 1M rows — {} cores, {}, {} s per cell after 1 s warm-up\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        version,
        secs
    );
    println!("| conns×tasks | driver | ops/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut ratios = Vec::new();
    for (conns, tasks) in sweep {
        let lg = lifeguard_run(&url, conns, tasks, secs, true);
        let la = lifeguard_run(&url, conns, tasks, secs, false);
        if let Ok(replica) = std::env::var("BENCH_REPLICA_URL") {
            let replica = if replica.contains("sslmode=") {
                replica
            } else {
                format!(
                    "{replica}{}sslmode=disable",
                    if replica.contains('?') { '&' } else { '?' }
                )
            };
            let (o, share) = router_run(&url, &replica, conns, tasks, secs);
            println!(
                "| {conns}×{tasks} | lifeguard router, Replica reads ({:.0} % answered by the replica) | {:.0} | {:.2} | {:.2} | {} |",
                share * 100.0,
                o.ops_per_sec(),
                o.hist.value_at_quantile(0.5) as f64 / 1000.0,
                o.hist.value_at_quantile(0.99) as f64 / 1000.0,
                o.errors
            );
        }
        if std::env::var("BENCH_ONLY").is_ok_and(|v| v == "lifeguard") {
            // For profiling Lifeguard alone (e.g. under `perf record`): no peers, no ratios.
            println!(
                "| {conns}×{tasks} | lifeguard | {:.0} | {:.2} | {:.2} | {} |",
                lg.ops_per_sec(),
                lg.hist.value_at_quantile(0.5) as f64 / 1000.0,
                lg.hist.value_at_quantile(0.99) as f64 / 1000.0,
                lg.errors
            );
            println!(
                "| {conns}×{tasks} | lifeguard, least-loaded pick | {:.0} | {:.2} | {:.2} | {} |",
                la.ops_per_sec(),
                la.hist.value_at_quantile(0.5) as f64 / 1000.0,
                la.hist.value_at_quantile(0.99) as f64 / 1000.0,
                la.errors
            );
            if cfg!(feature = "alloc-count") {
                for (name, o) in [("default pick", &lg), ("least-loaded pick", &la)] {
                    println!(
                        "allocations per query (whole process, {conns}×{tasks}, {name}): {:.2} ({} allocations, {} queries)",
                        o.allocs as f64 / o.ops.max(1) as f64,
                        o.allocs,
                        o.ops
                    );
                }
            }
            continue;
        }
        let tp = tokio_postgres_run(&url, conns, tasks, secs);
        let sx = sqlx_run(&url, conns, tasks, secs);
        let pb = pgbench_run(&a, conns, secs, 1);
        let pp = pgbench_run(&a, conns, secs, 16);
        for (name, o) in [
            ("lifeguard", &lg),
            ("lifeguard, least-loaded pick", &la),
            ("tokio-postgres", &tp),
            ("sqlx", &sx),
            ("pgbench -M prepared (1 task/conn)", &pb),
            ("pgbench pipelined ×16 (latency per pipeline)", &pp),
        ] {
            println!(
                "| {conns}×{tasks} | {name} | {:.0} | {:.2} | {:.2} | {} |",
                o.ops_per_sec(),
                o.hist.value_at_quantile(0.5) as f64 / 1000.0,
                o.hist.value_at_quantile(0.99) as f64 / 1000.0,
                o.errors
            );
        }
        ratios.push((
            conns,
            tasks,
            lg.ops_per_sec() / tp.ops_per_sec(),
            lg.ops_per_sec() / sx.ops_per_sec(),
            lg.ops_per_sec() / pb.ops_per_sec(),
            lg.ops_per_sec() / pp.ops_per_sec(),
            lg.hist.value_at_quantile(0.99) as f64 / tp.hist.value_at_quantile(0.99).max(1) as f64,
            la.ops_per_sec() / lg.ops_per_sec(),
        ));
    }
    println!("\n| conns×tasks | lifeguard/tokio-postgres | lifeguard/sqlx | lifeguard/pgbench | lifeguard/pgbench-pipelined | p99 lifeguard/tokio-postgres | least-loaded/default pick |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (c, t, a, b, p, q, l, f) in ratios {
        println!("| {c}×{t} | {a:.2}× | {b:.2}× | {p:.2}× | {q:.2}× | {l:.2} | {f:.2}× |");
    }
}
