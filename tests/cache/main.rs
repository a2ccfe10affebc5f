//! The Redis cache on real servers: the pipelined client, `find_by_id` through the cache
//! (one round trip per hit), invalidation after commit, the compare-and-set that refuses
//! stale fills, the byte-for-byte encoding the reflector shares, and a Redis of our own
//! stopped under read load.
//!
//! The model is checked at build time against pagila's `film` (in the test database); at run
//! time each test has its own database with a `film`-shaped table of 1,000 rows, and its own
//! key namespace on the shared Redis.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod client;
mod faults;
mod model;

use lifeguard::cache::Cache;
use lifeguard::testing::TestDatabase;
use lifeguard::Pool;

/// pagila's film, the columns a cached read needs.
#[derive(Debug, Clone, PartialEq, lifeguard::Model)]
#[lifeguard(table = "film", cache(ttl = "60s"))]
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

/// The run-time table: pagila's film columns the model maps, a version column as the
/// reflector's install adds it, and 1,000 rows.
pub const FILM_TABLE: &str = "
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
";

/// The shared Redis (`scripts/test.sh` exports `REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A namespace no other test (or earlier run) uses.
pub fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("lgtest-{test}-{}-{nanos}", std::process::id())
}

/// A fresh database with the film table.
pub fn film_db() -> TestDatabase {
    TestDatabase::builder()
        .fixture("film table", FILM_TABLE)
        .create()
        .expect("test database")
}

/// A pool on `db` reading through `cache`.
pub fn cached_pool(db: &TestDatabase, cache: &Cache, size: usize) -> Pool {
    Pool::builder(db.config().clone())
        .max_size(size)
        .cache(cache.clone())
        .build()
        .expect("pool")
}

/// Runs `f` in a coroutine (the driver's handles work from threads too, but the cache is
/// meant for coroutines) and returns its result.
pub fn in_coroutine<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    may::go!(f).join().expect("the test coroutine panicked")
}
