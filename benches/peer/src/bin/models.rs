//! The model layer's cost: pagila's film fetched by primary key through
//! `Film::find_by_id` (`#[derive(lifeguard::Model)]`), through the same statement written as
//! `query_as!`, and through SeaORM 1.1's `Entity::find_by_id(..).one(..)` on tokio, all
//! three with 8 connections × 256 concurrent tasks, in one run.
//!
//! ```sh
//! cd benches/peer && cargo run --release --features models --bin models
//! ```
//! Env: DATABASE_URL (the pagila test database; needed at build time too, the derive and
//! `query_as!` are checked against it), BENCH_SECS=5 per cell, BENCH_ROUNDS=3 (each round
//! runs the three cells, in rotating order), BENCH_CELL=8x256.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use rust_decimal::Decimal;

/// pagila's `mpaa_rating`, for Lifeguard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, lifeguard::PgEnum)]
#[lifeguard(type_name = "mpaa_rating")]
pub enum Rating {
    G,
    #[lifeguard(rename = "PG")]
    Pg,
    #[lifeguard(rename = "PG-13")]
    Pg13,
    R,
    #[lifeguard(rename = "NC-17")]
    Nc17,
}

/// pagila's film as `lifeguard generate models` writes it (every column but the
/// `tsvector`, which has no Rust type), without the relations.
#[derive(Debug, Clone, PartialEq, lifeguard::Model)]
#[lifeguard(table = "film")]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub release_year: Option<i32>,
    pub language_id: i32,
    pub original_language_id: Option<i32>,
    #[lifeguard(default)]
    pub rental_duration: i16,
    #[lifeguard(default)]
    pub rental_rate: Decimal,
    pub length: Option<i16>,
    #[lifeguard(default)]
    pub replacement_cost: Decimal,
    #[lifeguard(default)]
    pub rating: Option<Rating>,
    #[lifeguard(default)]
    pub last_update: DateTime<Utc>,
    pub special_features: Option<Vec<String>>,
}

/// The same columns for `query_as!`.
#[derive(Debug)]
#[allow(dead_code)]
pub struct FilmRow {
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub release_year: Option<i32>,
    pub language_id: i32,
    pub original_language_id: Option<i32>,
    pub rental_duration: i16,
    pub rental_rate: Decimal,
    pub length: Option<i16>,
    pub replacement_cost: Decimal,
    pub rating: Option<Rating>,
    pub last_update: DateTime<Utc>,
    pub special_features: Option<Vec<String>>,
}

/// The by-key statement the derive generates, as text (`query_as!` below spells it the same).
fn by_key(pool: &lifeguard::Pool, id: i32) -> lifeguard::Result<Option<FilmRow>> {
    lifeguard::query_as!(
        FilmRow,
        r#"SELECT "film_id", "title", "description", "release_year", "language_id", "original_language_id", "rental_duration", "rental_rate", "length", "replacement_cost", "rating", "last_update", "special_features" FROM "film" WHERE "film_id" = $1"#,
        id
    )
    .fetch_optional(pool)
}

/// SeaORM's entity for film, as `sea-orm-cli generate entity` writes it (same columns).
mod film {
    use sea_orm::entity::prelude::*;

    #[derive(Debug, Clone, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
    #[sea_orm(rs_type = "String", db_type = "Enum", enum_name = "mpaa_rating")]
    pub enum MpaaRating {
        #[sea_orm(string_value = "G")]
        G,
        #[sea_orm(string_value = "PG")]
        Pg,
        #[sea_orm(string_value = "PG-13")]
        Pg13,
        #[sea_orm(string_value = "R")]
        R,
        #[sea_orm(string_value = "NC-17")]
        Nc17,
    }

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "film")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub film_id: i32,
        pub title: String,
        pub description: Option<String>,
        // The `year` domain: sqlx decodes only the base type, so it is selected as one.
        #[sea_orm(select_as = "integer")]
        pub release_year: Option<i32>,
        pub language_id: i32,
        pub original_language_id: Option<i32>,
        pub rental_duration: i16,
        pub rental_rate: Decimal,
        pub length: Option<i16>,
        pub replacement_cost: Decimal,
        pub rating: Option<MpaaRating>,
        pub last_update: DateTimeUtc,
        pub special_features: Option<Vec<String>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

const FILMS: u64 = 1000;

fn xorshift(state: &mut u64) -> i32 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    (*state % FILMS) as i32 + 1
}

fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).unwrap()
}

/// A cell's result.
struct Outcome {
    ops: u64,
    errors: u64,
    secs: f64,
    hist: Histogram<u64>,
}

/// Shared measurement window: tasks count only while `measuring`.
struct Window {
    measuring: AtomicBool,
    stop: AtomicBool,
    ops: AtomicU64,
    errors: AtomicU64,
    hist: Mutex<Histogram<u64>>,
}

impl Window {
    fn new() -> Arc<Window> {
        Arc::new(Window {
            measuring: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            ops: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            hist: Mutex::new(new_hist()),
        })
    }
    fn drive(&self, secs: u64) -> f64 {
        std::thread::sleep(Duration::from_secs(1)); // warm-up
        self.measuring.store(true, Ordering::SeqCst);
        let t = Instant::now();
        std::thread::sleep(Duration::from_secs(secs));
        self.measuring.store(false, Ordering::SeqCst);
        let elapsed = t.elapsed().as_secs_f64();
        self.stop.store(true, Ordering::SeqCst);
        elapsed
    }
    fn record(&self, ops: u64, errs: u64, h: &Histogram<u64>) {
        self.ops.fetch_add(ops, Ordering::SeqCst);
        self.errors.fetch_add(errs, Ordering::SeqCst);
        self.hist.lock().unwrap().add(h).unwrap();
    }
    fn outcome(&self, secs: f64) -> Outcome {
        Outcome {
            ops: self.ops.load(Ordering::SeqCst),
            errors: self.errors.load(Ordering::SeqCst),
            secs,
            hist: self.hist.lock().unwrap().clone(),
        }
    }
}

/// Lifeguard: `op` on a pool of `conns`, from `tasks` coroutines.
fn lifeguard_run(
    url: &str,
    conns: usize,
    tasks: usize,
    secs: u64,
    op: fn(&lifeguard::Pool, i32) -> bool,
) -> Outcome {
    let pool = lifeguard::Pool::builder(url)
        .max_size(conns)
        .min_size(conns)
        .build()
        .expect("lifeguard pool");
    let w = Window::new();
    let handles: Vec<_> = (0..tasks)
        .map(|i| {
            let (pool, w) = (pool.clone(), w.clone());
            may::go!(move || {
                let mut rng = 0x9E3779B97F4A7C15u64 ^ ((i as u64 + 1) * 7919);
                let mut h = new_hist();
                let (mut ops, mut errs) = (0u64, 0u64);
                while !w.stop.load(Ordering::Relaxed) {
                    let id = xorshift(&mut rng);
                    let t = Instant::now();
                    let ok = op(&pool, id);
                    if w.measuring.load(Ordering::Relaxed) {
                        if ok {
                            ops += 1;
                            let _ = h.record(t.elapsed().as_micros() as u64);
                        } else {
                            errs += 1;
                        }
                    }
                }
                w.record(ops, errs, &h);
            })
        })
        .collect();
    let secs = w.drive(secs);
    for h in handles {
        let _ = h.join();
    }
    w.outcome(secs)
}

fn model_op(pool: &lifeguard::Pool, id: i32) -> bool {
    matches!(Film::find_by_id(pool, id), Ok(Some(f)) if f.film_id == id)
}

fn query_as_op(pool: &lifeguard::Pool, id: i32) -> bool {
    matches!(by_key(pool, id), Ok(Some(f)) if f.film_id == id)
}

/// SeaORM on a 2-worker tokio runtime (the machine's cores, as may's 2 workers).
fn sea_orm_run(url: &str, conns: usize, tasks: usize, secs: u64) -> Outcome {
    use sea_orm::EntityTrait;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let w = Window::new();
    let (url, w2) = (url.to_string(), w.clone());
    let driver = std::thread::spawn(move || {
        rt.block_on(async move {
            let mut opt = sea_orm::ConnectOptions::new(url);
            opt.max_connections(conns as u32)
                .min_connections(conns as u32)
                .sqlx_logging(false);
            let db = sea_orm::Database::connect(opt)
                .await
                .expect("sea-orm connect");
            let mut joins = Vec::new();
            for i in 0..tasks {
                let (db, w) = (db.clone(), w2.clone());
                joins.push(tokio::spawn(async move {
                    let mut rng = 0x9E3779B97F4A7C15u64 ^ ((i as u64 + 1) * 7919);
                    let mut h = new_hist();
                    let (mut ops, mut errs) = (0u64, 0u64);
                    while !w.stop.load(Ordering::Relaxed) {
                        let id = xorshift(&mut rng);
                        let t = Instant::now();
                        let ok = matches!(
                            film::Entity::find_by_id(id).one(&db).await,
                            Ok(Some(f)) if f.film_id == id
                        );
                        if w.measuring.load(Ordering::Relaxed) {
                            if ok {
                                ops += 1;
                                let _ = h.record(t.elapsed().as_micros() as u64);
                            } else {
                                errs += 1;
                            }
                        }
                    }
                    w.record(ops, errs, &h);
                }));
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

/// Every reader returns the same film: the three paths decode the same row.
fn agree(url: &str) {
    use sea_orm::EntityTrait;
    let pool = lifeguard::Pool::builder(url).max_size(1).build().unwrap();
    let m = Film::find_by_id(&pool, 133).unwrap().expect("film 133");
    let q = by_key(&pool, 133).unwrap().expect("film 133");
    assert_eq!(
        (
            &m.title,
            m.rental_rate,
            m.rating,
            &m.special_features,
            m.last_update
        ),
        (
            &q.title,
            q.rental_rate,
            q.rating,
            &q.special_features,
            q.last_update
        )
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let s = rt.block_on(async {
        let db = sea_orm::Database::connect(url).await.unwrap();
        film::Entity::find_by_id(133)
            .one(&db)
            .await
            .unwrap()
            .unwrap()
    });
    assert_eq!(
        (&s.title, s.rental_rate, s.release_year, s.last_update),
        (&m.title, m.rental_rate, m.release_year, m.last_update)
    );
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn main() {
    may::config().set_workers(2);
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".into());
    // No TLS for anyone: loopback, and sqlx here is built without it.
    let url = if url.contains("sslmode=") {
        url
    } else {
        format!(
            "{url}{}sslmode=disable",
            if url.contains('?') { '&' } else { '?' }
        )
    };
    let env = |k: &str, d: u64| -> u64 {
        std::env::var(k)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(d)
    };
    let (secs, rounds) = (env("BENCH_SECS", 5), env("BENCH_ROUNDS", 3) as usize);
    let cell = std::env::var("BENCH_CELL").unwrap_or_else(|_| "8x256".into());
    let (conns, tasks) = cell
        .split_once('x')
        .map(|(a, b)| (a.parse().unwrap(), b.parse().unwrap()))
        .expect("BENCH_CELL like 8x256");
    agree(&url);

    const NAMES: [&str; 3] = [
        "lifeguard Film::find_by_id",
        "lifeguard query_as!",
        "SeaORM find_by_id (tokio)",
    ];
    let load = || std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "# pagila film by primary key (13 columns), {conns} connections × {tasks} tasks, {} cores, {secs} s per cell after 1 s warm-up, {rounds} rounds; load average at start: {}\n",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        load().split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("| round | driver | ops/s | p50 ms | p99 ms | errors |");
    println!("|---|---|---:|---:|---:|---:|");
    let mut all: Vec<Vec<Outcome>> = (0..3).map(|_| Vec::new()).collect();
    for r in 0..rounds {
        // Rotate the order so no driver always runs first (or right after SeaORM).
        for k in 0..3 {
            let d = (k + r) % 3;
            let o = match d {
                0 => lifeguard_run(&url, conns, tasks, secs, model_op),
                1 => lifeguard_run(&url, conns, tasks, secs, query_as_op),
                _ => sea_orm_run(&url, conns, tasks, secs),
            };
            println!(
                "| {} | {} | {:.0} | {:.2} | {:.2} | {} |",
                r + 1,
                NAMES[d],
                o.ops as f64 / o.secs,
                ms(o.hist.value_at_quantile(0.5)),
                ms(o.hist.value_at_quantile(0.99)),
                o.errors
            );
            all[d].push(o);
        }
    }
    let rate = |o: &Outcome| o.ops as f64 / o.secs;
    let median = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    println!("\nMedian over the rounds (min–max):\n");
    println!("| driver | ops/s | p99 ms |");
    println!("|---|---:|---:|");
    for (d, outs) in all.iter().enumerate() {
        let rates: Vec<f64> = outs.iter().map(rate).collect();
        let (lo, hi) = rates
            .iter()
            .fold((f64::MAX, 0f64), |(l, h), &x| (l.min(x), h.max(x)));
        println!(
            "| {} | {:.0} ({:.0}–{:.0}) | {:.2} |",
            NAMES[d],
            median(rates.clone()),
            lo,
            hi,
            median(
                outs.iter()
                    .map(|o| ms(o.hist.value_at_quantile(0.99)))
                    .collect()
            )
        );
    }
    let per_round = |a: usize, b: usize| -> Vec<f64> {
        (0..rounds)
            .map(|r| rate(&all[a][r]) / rate(&all[b][r]))
            .collect()
    };
    let show = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.2}×"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (mq, ms_) = (per_round(0, 1), per_round(0, 2));
    println!("\n| ratio (ops/s) | median | per round | target |");
    println!("|---|---:|---|---:|");
    println!(
        "| Film::find_by_id / query_as! | {:.2}× | {} | ≥ 0.95× |",
        median(mq.clone()),
        show(&mq)
    );
    println!(
        "| Film::find_by_id / SeaORM | {:.2}× | {} | ≥ 3× |",
        median(ms_.clone()),
        show(&ms_)
    );
    println!(
        "\nload average at end: {}",
        load()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
}
