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

#[path = "../support/cache.rs"]
#[allow(dead_code)]
mod shared;

use lifeguard::cache::Cache;
use lifeguard::testing::TestDatabase;
use lifeguard::Pool;

pub use shared::{namespace, redis_url, Film, OwnRedis};

/// A fresh database with the film table.
pub fn film_db() -> TestDatabase {
    shared::coroutine_stacks();
    TestDatabase::builder()
        .fixture("film table", shared::FILM_TABLE)
        // Versions as the reflector's install would stamp them (no triggers here: the
        // tests set versions by hand).
        .fixture(
            "version column",
            "ALTER TABLE film ADD COLUMN lifeguard_version bigint DEFAULT 1",
        )
        .fixture("film rows", shared::FILM_ROWS)
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
    shared::coroutine_stacks();
    may::go!(f).join().expect("the test coroutine panicked")
}
