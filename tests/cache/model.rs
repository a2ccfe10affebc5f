//! `find_by_id` through the cache, invalidation after commit, and the compare-and-set.

use std::time::Duration;

use lifeguard::cache::redis::{self, Value};
use lifeguard::cache::{codec, Cache, Refresh, RefreshOutcome};
use lifeguard::{Executor, Pool};

use crate::Film;

fn setup(test: &str) -> (lifeguard::testing::TestDatabase, Cache, Pool) {
    let db = crate::film_db();
    // Generous call timeouts: on a loaded machine a 250 ms timeout can turn a hit into a
    // miss, and these tests count hits and round trips exactly.
    let cache = Cache::builder(crate::redis_url())
        .namespace(crate::namespace(test))
        .call_timeout(std::time::Duration::from_secs(5))
        .connect_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let pool = crate::cached_pool(&db, &cache, 2);
    (db, cache, pool)
}

fn cached_field(cache: &Cache, key: &str, field: &str) -> Option<Vec<u8>> {
    match cache.cmd(redis::cmd("HGET").arg(key).arg(field)).unwrap() {
        Value::BulkString(b) => Some(b),
        _ => None,
    }
}

#[test]
fn a_hit_is_one_round_trip_and_the_same_row() {
    let (db, cache, pool) = setup("hit");
    crate::in_coroutine(move || {
        let from_db = Film::find_by_id(db.pool(), 7).unwrap().expect("film 7");
        let first = Film::find_by_id(&pool, 7).unwrap();
        assert_eq!(first.as_ref(), Some(&from_db));
        let s = cache.stats();
        assert_eq!((s.hits, s.misses, s.fills), (0, 1, 1), "{s:?}");

        let before = cache.stats();
        for _ in 0..100 {
            assert_eq!(Film::find_by_id(&pool, 7).unwrap().as_ref(), Some(&from_db));
        }
        let after = cache.stats();
        let trips = after.round_trips - before.round_trips;
        println!(
            "100 cached reads: {} hits, {trips} Redis round trips ({:.2} per hit)",
            after.hits - before.hits,
            trips as f64 / (after.hits - before.hits) as f64
        );
        assert_eq!(after.hits - before.hits, 100);
        assert_eq!(trips, 100, "one round trip per hit");

        // A NULL column and a missing row.
        let third = Film::find_by_id(db.pool(), 3).unwrap().unwrap();
        assert_eq!(third.description, None);
        assert_eq!(Film::find_by_id(&pool, 3).unwrap().as_ref(), Some(&third));
        assert_eq!(Film::find_by_id(&pool, 3).unwrap().as_ref(), Some(&third));
        assert_eq!(Film::find_by_id(&pool, 5000).unwrap(), None);
        let key = cache.row_key("film", "5000");
        assert_eq!(
            cached_field(&cache, &key, "k"),
            Some(b"l".to_vec()),
            "only the lease"
        );
        assert_eq!(cache.stats().fills, 2);
    });
}

#[test]
fn a_model_write_invalidates_after_commit_only() {
    let (_db, cache, pool) = setup("write");
    crate::in_coroutine(move || {
        let key = cache.row_key("film", "11");
        let mut film = Film::find_by_id(&pool, 11).unwrap().unwrap();
        assert!(cached_field(&cache, &key, "d").is_some());

        // Outside a transaction: gone at once, and the next read sees the new row.
        film.update(
            &pool,
            Film::changes().set(Film::Title, "Renamed".to_string()),
        )
        .unwrap();
        assert_eq!(cached_field(&cache, &key, "k"), None);
        assert_eq!(
            Film::find_by_id(&pool, 11).unwrap().unwrap().title,
            "Renamed"
        );

        // Inside one: still cached until COMMIT; a read in the transaction sees its own
        // write (it skips the cache); a rollback leaves the key alone.
        let tx = pool.transaction().unwrap();
        film.update(&tx, Film::changes().set(Film::Title, "In tx".to_string()))
            .unwrap();
        assert_eq!(Film::find_by_id(&tx, 11).unwrap().unwrap().title, "In tx");
        assert_eq!(cached_field(&cache, &key, "k"), Some(b"r".to_vec()));
        tx.rollback().unwrap();
        assert_eq!(cached_field(&cache, &key, "k"), Some(b"r".to_vec()));
        assert_eq!(
            Film::find_by_id(&pool, 11).unwrap().unwrap().title,
            "Renamed"
        );

        let tx = pool.transaction().unwrap();
        film.update(
            &tx,
            Film::changes().set(Film::Title, "Committed".to_string()),
        )
        .unwrap();
        assert_eq!(cached_field(&cache, &key, "k"), Some(b"r".to_vec()));
        tx.commit().unwrap();
        assert_eq!(cached_field(&cache, &key, "k"), None);
        assert_eq!(
            Film::find_by_id(&pool, 11).unwrap().unwrap().title,
            "Committed"
        );

        // Delete: the next read is None, not the cached row.
        let f = Film::find_by_id(&pool, 11).unwrap().unwrap();
        f.delete(&pool).unwrap();
        assert_eq!(Film::find_by_id(&pool, 11).unwrap(), None);
    });
}

#[test]
fn a_bulk_write_invalidates_every_row_it_wrote() {
    let (_db, cache, pool) = setup("bulk");
    crate::in_coroutine(move || {
        let ids = [31, 32, 33];
        let keys: Vec<String> = ids
            .iter()
            .map(|id| cache.row_key("film", &id.to_string()))
            .collect();
        for &id in &ids {
            Film::find_by_id(&pool, id).unwrap().unwrap();
        }
        assert!(keys.iter().all(|k| cached_field(&cache, k, "d").is_some()));

        // update_many inside a transaction: the keys stay until COMMIT, then all go, and
        // the next reads see the new titles rather than the cached rows.
        let tx = pool.transaction().unwrap();
        let n = Film::update_many(
            &tx,
            Film::FilmId.in_([31, 32]),
            Film::changes().set(Film::Title, "Bulk".to_string()),
        )
        .unwrap();
        assert_eq!(n, 2);
        assert!(keys.iter().all(|k| cached_field(&cache, k, "d").is_some()));
        let trips = cache.stats().round_trips;
        tx.commit().unwrap();
        assert_eq!(
            cache.stats().round_trips - trips,
            1,
            "one DEL for both keys"
        );
        assert_eq!(cached_field(&cache, &keys[0], "k"), None);
        assert_eq!(cached_field(&cache, &keys[1], "k"), None);
        assert!(
            cached_field(&cache, &keys[2], "d").is_some(),
            "a row the filter did not match keeps its entry"
        );
        for id in [31, 32] {
            assert_eq!(Film::find_by_id(&pool, id).unwrap().unwrap().title, "Bulk");
        }

        // delete_many: the next read is None, not the cached row.
        Film::find_by_id(&pool, 33).unwrap().unwrap();
        assert_eq!(
            Film::delete_many(&pool, Film::FilmId.eq(33)).unwrap(),
            1,
            "one row deleted"
        );
        assert_eq!(cached_field(&cache, &keys[2], "k"), None);
        assert_eq!(Film::find_by_id(&pool, 33).unwrap(), None);
    });
}

/// A write that changes the key: the row leaves its old key too, or a cached read of the
/// old key would return a row that is no longer there.
#[test]
fn a_key_change_invalidates_the_old_key() {
    let (_db, cache, pool) = setup("rekey");
    crate::in_coroutine(move || {
        let old: Vec<String> = [41, 42, 43]
            .iter()
            .map(|id| cache.row_key("film", &id.to_string()))
            .collect();
        let mut film = Film::find_by_id(&pool, 41).unwrap().unwrap();
        for id in [42, 43] {
            Film::find_by_id(&pool, id).unwrap().unwrap();
        }
        assert!(old.iter().all(|k| cached_field(&cache, k, "d").is_some()));

        film.update(&pool, Film::changes().set(Film::FilmId, 1041))
            .unwrap();
        assert_eq!(film.film_id, 1041);
        assert_eq!(cached_field(&cache, &old[0], "k"), None, "the old key");
        assert_eq!(Film::find_by_id(&pool, 41).unwrap(), None);
        assert_eq!(
            Film::find_by_id(&pool, 1041).unwrap().unwrap().title,
            film.title
        );

        // update_many: the old keys come from the same statement (RETURNING sees only the
        // new ones), after the commit of the surrounding transaction.
        let tx = pool.transaction().unwrap();
        let n = Film::update_many(
            &tx,
            Film::FilmId.in_([42, 43]),
            Film::changes()
                .set(Film::FilmId, 1042)
                .set(Film::Title, "Moved".to_string()),
        );
        // Both rows cannot take the same new key: the unique violation writes nothing and
        // leaves both entries.
        assert!(n.is_err(), "{n:?}");
        tx.rollback().unwrap();
        assert!(old[1..]
            .iter()
            .all(|k| cached_field(&cache, k, "d").is_some()));

        let tx = pool.transaction().unwrap();
        let n = Film::update_many(
            &tx,
            Film::FilmId.eq(42).or(Film::FilmId.eq(43)),
            Film::changes().set(Film::Title, "Moved".to_string()),
        )
        .unwrap();
        assert_eq!(n, 2);
        tx.commit().unwrap();
        for id in [42, 43] {
            Film::find_by_id(&pool, id).unwrap().unwrap();
        }
        let n = Film::update_many(
            &pool,
            Film::FilmId.eq(42),
            Film::changes().set(Film::FilmId, 1042),
        )
        .unwrap();
        assert_eq!(n, 1);
        assert_eq!(cached_field(&cache, &old[1], "k"), None, "the old key");
        assert_eq!(Film::find_by_id(&pool, 42).unwrap(), None);
        assert_eq!(
            Film::find_by_id(&pool, 1042).unwrap().unwrap().title,
            "Moved"
        );
        assert!(
            cached_field(&cache, &old[2], "d").is_some(),
            "a row the filter did not match keeps its entry"
        );
    });
}

/// The stale-set race, step by step: a reader leases, reads the old row, and a write
/// commits before its fill.
#[test]
fn a_slow_reader_cannot_put_back_an_old_row() {
    let (db, cache, pool) = setup("race");
    crate::in_coroutine(move || {
        let read = |id: i32| {
            db.pool()
                .query_one("SELECT * FROM film WHERE film_id = $1", &[&id])
                .unwrap()
        };
        let ttl = Duration::from_secs(60);

        // 1. The write deletes the key after its commit, which voids the lease.
        let key = cache.row_key("film", "21");
        let lease = cache.lease(&key).unwrap().expect("not cached yet");
        let old = read(21);
        let mut film = Film::find_by_id(db.pool(), 21).unwrap().unwrap();
        film.update(&pool, Film::changes().set(Film::Title, "New".to_string()))
            .unwrap();
        let body = codec::encode(&old, old.len());
        let fp = codec::fingerprint(old.columns(), old.len());
        assert!(!cache
            .fill(&lease, codec::version(&old), (&body, fp), ttl)
            .unwrap());
        assert_eq!(cached_field(&cache, &key, "k"), None);
        assert_eq!(Film::find_by_id(&pool, 21).unwrap().unwrap().title, "New");

        // 2. The reflector refreshes over the lease with a newer version first.
        let key = cache.row_key("film", "22");
        let lease = cache.lease(&key).unwrap().expect("not cached yet");
        let old = read(22);
        db.pool()
            .execute(
                "UPDATE film SET title = 'Newer', lifeguard_version = 2 WHERE film_id = 22",
                &[],
            )
            .unwrap();
        let new = read(22);
        let epoch = cache.new_epoch().unwrap();
        let new_body = codec::encode(&new, new.len());
        let refresh = |body: &[u8], version: i64, epoch: i64| {
            cache
                .refresh(
                    &[Refresh {
                        key: &key,
                        value: Some((body, fp)),
                        version,
                    }],
                    epoch,
                    ttl,
                    Duration::from_secs(10),
                )
                .unwrap()[0]
        };
        assert_eq!(refresh(&new_body, 2, epoch), RefreshOutcome::Written);
        let old_body = codec::encode(&old, old.len());
        assert!(!cache.fill(&lease, 1, (&old_body, fp), ttl).unwrap());
        assert_eq!(cached_field(&cache, &key, "d"), Some(new_body.clone()));
        assert_eq!(Film::find_by_id(&pool, 22).unwrap().unwrap().title, "Newer");
        // An older refresh changes nothing; a deposed leader's epoch is fenced.
        assert_eq!(refresh(&old_body, 1, epoch), RefreshOutcome::Unchanged);
        assert_eq!(refresh(&new_body, 2, epoch), RefreshOutcome::Unchanged);
        let next = cache.new_epoch().unwrap();
        assert_eq!(refresh(&old_body, 3, epoch), RefreshOutcome::Fenced);
        assert_eq!(cached_field(&cache, &key, "d"), Some(new_body));
        // A key nobody cached is ignored.
        let absent = cache.row_key("film", "999");
        let out = cache
            .refresh(
                &[Refresh {
                    key: &absent,
                    value: None,
                    version: 9,
                }],
                next,
                ttl,
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(out, vec![RefreshOutcome::NotCached]);
        assert_eq!(cached_field(&cache, &absent, "k"), None);

        // 3. A delete's tombstone refuses a late fill and a new lease.
        let key = cache.row_key("film", "23");
        let lease = cache.lease(&key).unwrap().expect("not cached yet");
        let old = read(23);
        let out = cache
            .refresh(
                &[Refresh {
                    key: &key,
                    value: None,
                    version: 5,
                }],
                next,
                ttl,
                Duration::from_secs(10),
            )
            .unwrap();
        assert_eq!(out, vec![RefreshOutcome::Written]);
        let body = codec::encode(&old, old.len());
        assert!(!cache.fill(&lease, 1, (&body, fp), ttl).unwrap());
        assert!(cache.lease(&key).unwrap().is_none());
        assert_eq!(cached_field(&cache, &key, "k"), Some(b"t".to_vec()));
        let s = cache.stats();
        println!(
            "fills refused: {} (expected 3), fills: {}",
            s.fills_refused, s.fills
        );
        assert_eq!(s.fills_refused, 3);
    });
}

/// What the app fills and what the reflector reads (`SELECT t.*, <key> …`, its first
/// columns) are the same bytes.
#[test]
fn app_and_reflector_bytes_are_equal() {
    let (db, cache, pool) = setup("bytes");
    crate::in_coroutine(move || {
        for id in [1, 3, 500, 1000] {
            Film::find_by_id(&pool, id).unwrap().unwrap();
            let key = cache.row_key("film", &id.to_string());
            let app = cached_field(&cache, &key, "d").expect("filled");
            let row = db
                .pool()
                .query_one(
                    "SELECT t.*, t.film_id::text AS lifeguard_key FROM film t WHERE film_id = ANY($1)",
                    &[&vec![id]],
                )
                .unwrap();
            let n = row.len() - 1;
            assert_eq!(codec::encode(&row, n), app, "film {id}");
            let fp = cached_field(&cache, &key, "f").unwrap();
            assert_eq!(
                String::from_utf8(fp).unwrap(),
                codec::fingerprint(row.columns(), n).to_string()
            );
        }
        println!("4 rows: app fill == reflector encoding, byte for byte");
    });
}
