//! Cached model reads: `Film::find_by_id` reads Redis first, fills on a miss, and a write
//! invalidates the key after its commit. Runs on the test database (pagila) and Redis:
//!
//!     eval "$(scripts/ensure-services.sh --print-env)"
//!     cargo run --example cache
//!
//! It writes nothing to pagila (its one write is rolled back) and deletes its own keys.

use std::time::Instant;

use lifeguard::cache::{redis, Cache};
use lifeguard::Pool;

/// A cached view of pagila's `film`.
#[derive(Debug, Clone, PartialEq, lifeguard::Model)]
#[lifeguard(table = "film", cache(ttl = "60s"))]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub language_id: i32,
    pub length: Option<i16>,
}

fn main() -> lifeguard::Result<()> {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/ensure-services.sh)");
    let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let cache = Cache::builder(redis_url)
        .namespace(format!("lifeguard-example-{}", std::process::id()))
        .build()?;
    let pool = Pool::builder(url)
        .max_size(4)
        .cache(cache.clone())
        .build()?;

    may::go!(move || -> lifeguard::Result<()> {
        for round in ["miss", "hit", "hit"] {
            let t = Instant::now();
            let film = Film::find_by_id(&pool, 7)?.expect("pagila has film 7");
            println!("{round:>4}: {:?} in {:?}", film.title, t.elapsed());
        }
        let key = cache.row_key("film", "7");
        println!("key {key}, stats {:?}", cache.stats());

        // Inside a transaction: reads skip the cache (they must see the transaction's own
        // writes), and the invalidation waits for COMMIT; this one rolls back.
        let tx = pool.transaction()?;
        let mut film = Film::find_by_id(&tx, 7)?.expect("film 7");
        film.update(
            &tx,
            Film::changes().set(Film::Title, "NOT COMMITTED".to_string()),
        )?;
        println!(
            "in the transaction: {:?}",
            Film::find_by_id(&tx, 7)?.map(|f| f.title)
        );
        tx.rollback()?;
        println!(
            "after rollback, from Redis: {:?}",
            Film::find_by_id(&pool, 7)?.map(|f| f.title)
        );

        cache.cmd(redis::cmd("DEL").arg(&key))?;
        println!("final stats {:?}", cache.stats());
        Ok(())
    })
    .join()
    .expect("the example coroutine panicked")
}
