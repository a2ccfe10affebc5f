//! `send`: checked queries written before any is read (pipelined from a pool, a client, a
//! transaction), the typed single-row accessors, failures that stay with their own query,
//! the `unnest` batch update, and the statement cache's address-keyed path.

use lifeguard::{query, query_as, query_scalar, Client, Config, ErrorKind, Executor, Pool};

use crate::support::database_url;

#[derive(Debug, PartialEq)]
struct Film {
    film_id: i32,
    title: String,
}

#[test]
fn a_pool_pipelines_checked_queries_without_checking_out() {
    // One connection: every query below shares it, and none may hold it exclusively.
    let pool = Pool::builder(database_url()).max_size(1).build().unwrap();
    let expected: Vec<String> = (1..=20)
        .map(|id: i32| {
            query_scalar!("SELECT title FROM film WHERE film_id = $1", id)
                .fetch_one(&pool)
                .unwrap()
        })
        .collect();
    let pending = (1..=20)
        .map(|id: i32| query_scalar!("SELECT title FROM film WHERE film_id = $1", id).send(&pool))
        .collect::<lifeguard::Result<Vec<_>>>()
        .unwrap();
    let status = pool.status();
    assert_eq!((status.size, status.in_use), (1, 0), "{status:?}");
    // Read back to front: each handle still gets its own answer.
    let mut titles: Vec<String> = pending
        .into_iter()
        .rev()
        .map(|p| p.one().unwrap())
        .collect();
    titles.reverse();
    assert_eq!(titles, expected);
}

#[test]
fn every_accessor_maps_to_the_macro_row_type() {
    let pool = crate::pool();
    let film = query_as!(
        Film,
        "SELECT film_id, title FROM film WHERE film_id = $1",
        3
    )
    .send(&pool)
    .unwrap();
    let none = query_as!(
        Film,
        "SELECT film_id, title FROM film WHERE film_id = $1",
        -3
    )
    .send(&pool)
    .unwrap();
    let some = query_scalar!("SELECT title FROM film WHERE film_id = $1", 2)
        .send(&pool)
        .unwrap();
    let rows = query!("SELECT film_id FROM film WHERE film_id <= $1 ORDER BY 1", 4)
        .send(&pool)
        .unwrap();
    assert_eq!(
        film.one().unwrap(),
        Film {
            film_id: 3,
            title: "ADAPTATION HOLES".into()
        }
    );
    assert_eq!(none.opt().unwrap(), None);
    assert_eq!(some.opt().unwrap().as_deref(), Some("ACE GOLDFINGER"));
    let ids: Vec<i32> = rows.all().unwrap().iter().map(|r| r.film_id).collect();
    assert_eq!(ids, [1, 2, 3, 4]);
    // `one` on several rows is a RowCount error, as fetch_one's.
    let err = query!("SELECT film_id FROM film WHERE film_id <= $1 ORDER BY 1", 4)
        .send(&pool)
        .unwrap()
        .one()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RowCount);
}

#[test]
fn a_failing_query_fails_alone() {
    let pool = Pool::builder(database_url()).max_size(1).build().unwrap();
    let before = query_scalar!("SELECT title FROM film WHERE film_id = $1", 1)
        .send(&pool)
        .unwrap();
    let boom = query_scalar!(
        "SELECT 1 / ($1::int4 - film_id) FROM film WHERE film_id = 1",
        1
    )
    .send(&pool)
    .unwrap();
    let after = query_scalar!("SELECT title FROM film WHERE film_id = $1", 2)
        .send(&pool)
        .unwrap();
    let err = boom.one().unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    assert_eq!(after.one().unwrap(), "ACE GOLDFINGER");
    assert_eq!(before.one().unwrap(), "ACADEMY DINOSAUR");
}

#[test]
fn coroutines_issue_many_queries_before_reading_any() {
    let pool = Pool::builder(database_url()).max_size(2).build().unwrap();
    let handles: Vec<_> = (0..16)
        .map(|task: i32| {
            let pool = pool.clone();
            may::go!(move || {
                let ids: Vec<i32> = (1..=20).map(|i| (task * 20 + i) % 1000 + 1).collect();
                let pending = ids
                    .iter()
                    .map(|&id| {
                        query!("SELECT film_id, length FROM film WHERE film_id = $1", id)
                            .send(&pool)
                    })
                    .collect::<lifeguard::Result<Vec<_>>>()
                    .unwrap();
                let got: Vec<i32> = pending
                    .into_iter()
                    .map(|p| p.one().unwrap().film_id)
                    .collect();
                assert_eq!(got, ids);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(pool.status().in_use, 0);
}

#[test]
fn unnest_batch_update_in_a_pipelined_transaction() {
    let pool = crate::pool();
    let tx = pool.transaction().unwrap();
    let ids = vec![1i32, 2, 3];
    let stores: Vec<i32> = query_scalar!(
        "SELECT store_id FROM inventory WHERE inventory_id = ANY($1) ORDER BY inventory_id",
        &ids
    )
    .fetch_all(&tx)
    .unwrap();
    let swapped: Vec<i32> = stores.iter().map(|s| 3 - s).collect();
    // One statement for the whole batch, with its arguments as two parallel arrays.
    let update = query!(
        "UPDATE inventory SET store_id = v.store
         FROM unnest($1::int4[], $2::int4[]) AS v(id, store)
         WHERE inventory.inventory_id = v.id",
        &ids,
        &swapped
    )
    .send(&tx)
    .unwrap();
    let read = query_scalar!(
        "SELECT store_id FROM inventory WHERE inventory_id = ANY($1) ORDER BY inventory_id",
        &ids
    )
    .send(&tx)
    .unwrap();
    assert_eq!(update.affected().unwrap(), 3);
    assert_eq!(read.all().unwrap(), swapped);
    tx.rollback().unwrap();
}

fn prepared(c: &Client, sql: &str) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1",
        &[&sql],
    )
    .unwrap()
    .get(0)
}

#[test]
fn static_and_dynamic_text_share_the_cache_and_evict_together() {
    const ONE: &str = "SELECT $1::int4 + 1";
    let mut cfg: Config = database_url().parse().unwrap();
    cfg.statement_cache_capacity(3);
    let c = Client::connect_with(&cfg).unwrap();
    // The checked literal (keyed by address) and the same text as a String (keyed by text)
    // are two entries, and both answer.
    let checked: i32 = query_scalar!("SELECT $1::int4 + 1", 1)
        .fetch_one(&c)
        .unwrap()
        .unwrap();
    let dynamic: i32 = c
        .query_one(ONE.to_string().as_str(), &[&1i32])
        .unwrap()
        .get(0);
    assert_eq!((checked, dynamic), (2, 2));
    // Those two and the inspecting statement: the cache is full.
    assert_eq!(prepared(&c, ONE), 2);
    assert_eq!(c.cached_statements(), 3);
    // A fourth statement (static) evicts the least recently used one: the checked literal.
    let two: i32 = query_scalar!("SELECT $1::int4 + 2", 1)
        .fetch_one(&c)
        .unwrap()
        .unwrap();
    assert_eq!(two, 3);
    assert_eq!(c.cached_statements(), 3);
    // Its server-side close rode along with this request.
    assert_eq!(prepared(&c, ONE), 1);
    // The evicted literal is prepared again on its next use.
    let again: i32 = query_scalar!("SELECT $1::int4 + 1", 5)
        .fetch_one(&c)
        .unwrap()
        .unwrap();
    assert_eq!(again, 6);
    assert_eq!(c.cached_statements(), 3);
}
