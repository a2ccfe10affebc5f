use lifeguard::{query, query_scalar, Client, Executor};

use crate::{pool, support::database_url};

#[test]
fn every_fetch_method_on_every_executor() {
    let pool = pool();
    let client = Client::connect(&database_url()).unwrap();
    let conn = pool.get().unwrap();
    all(&pool);
    all(&client);
    all(&conn);
    // And inside a transaction, rolled back so the UPDATE leaves nothing behind.
    let tx = pool.transaction().unwrap();
    all(&tx);
    tx.rollback().unwrap();
}

/// fetch_one / fetch_optional / fetch_all / fetch / execute on one executor.
fn all(e: &impl Executor) {
    let one = query_scalar!("SELECT title FROM film WHERE film_id = $1", 2)
        .fetch_one(e)
        .unwrap();
    assert_eq!(one, "ACE GOLDFINGER");
    let missing = query_scalar!("SELECT title FROM film WHERE film_id = $1", -1)
        .fetch_optional(e)
        .unwrap();
    assert_eq!(missing, None);
    let many = query!("SELECT film_id FROM film WHERE film_id <= $1 ORDER BY 1", 5)
        .fetch_all(e)
        .unwrap();
    assert_eq!(
        many.iter().map(|r| r.film_id).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let streamed: Vec<i32> = query_scalar!("SELECT actor_id FROM actor ORDER BY 1")
        .fetch(e)
        .take(3)
        .collect::<lifeguard::Result<_>>()
        .unwrap();
    assert_eq!(streamed, [1, 2, 3]);
    let n = query!("UPDATE film SET title = title WHERE film_id <= $1", 7)
        .execute(e)
        .unwrap();
    assert_eq!(n, 7);
    // Pipelined: both written before either is read.
    let first = query_scalar!("SELECT title FROM film WHERE film_id = $1", 2)
        .send(e)
        .unwrap();
    let count = query!("UPDATE film SET title = title WHERE film_id <= $1", 7)
        .send(e)
        .unwrap();
    assert_eq!(count.affected().unwrap(), 7);
    assert_eq!(first.one().unwrap(), "ACE GOLDFINGER");
}

#[test]
fn inside_a_transaction() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let id = query_scalar!(
        "INSERT INTO actor (first_name, last_name) VALUES ($1, $2) RETURNING actor_id",
        "TEMP",
        "ACTOR"
    )
    .fetch_one(&tx)
    .unwrap();
    let seen = query_scalar!("SELECT count(*) FROM actor WHERE actor_id = $1", id)
        .fetch_one(&tx)
        .unwrap();
    assert_eq!(seen, 1);
    tx.rollback().unwrap();
    let after = query_scalar!("SELECT count(*) FROM actor WHERE actor_id = $1", id)
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(after, 0);
}

#[test]
fn errors_are_typed_not_panics() {
    let pool = pool();
    // More than one row for fetch_one.
    let err = query_scalar!("SELECT actor_id FROM actor")
        .fetch_one(&pool)
        .unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::RowCount);
    // A runtime failure of a checked statement (division by zero) keeps its SQLSTATE.
    let err = query_scalar!("SELECT 1 / (film_id - film_id) AS boom FROM film WHERE film_id = 1")
        .fetch_one(&pool)
        .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
}
