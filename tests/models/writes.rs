//! Writes through the derive on pagila tables, each inside a transaction that is rolled
//! back: insert, update (only what changed; nothing for no change), upsert, delete,
//! insert_many, update_many, delete_many, and the typed errors.

use lifeguard::model::Changes;
use lifeguard::{ErrorKind, Executor};

use crate::reads::{Actor, FilmActor};
use crate::{pool, statements};

fn actors_named(e: &impl Executor, last: &str) -> i64 {
    e.query_one("SELECT count(*) FROM actor WHERE last_name = $1", &[&last])
        .unwrap()
        .get(0)
}

#[test]
fn insert_update_upsert_delete_round_trip_and_roll_back() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let new = Actor {
        actor_id: 0, // `default`: the sequence assigns it
        first_name: "ADA".into(),
        last_name: "LIFEGUARD_W1".into(),
    };
    let mut stored = new.insert(&tx).unwrap();
    assert!(stored.actor_id > 200, "{stored:?}");
    assert_eq!(
        (stored.first_name.as_str(), stored.last_name.as_str()),
        ("ADA", "LIFEGUARD_W1")
    );
    assert_eq!(
        Actor::find_by_id(&tx, stored.actor_id).unwrap(),
        Some(stored.clone())
    );

    // Nothing changed: nothing written, the row stays.
    let before = stored.clone();
    stored.update(&tx, Changes::new()).unwrap();
    assert_eq!(stored, before);
    // One column changed: written, and self refreshed from the stored row.
    stored
        .update(&tx, Changes::new().set(Actor::FirstName, "GRACE"))
        .unwrap();
    assert_eq!(stored.first_name, "GRACE");
    let (first, last): (String, String) = tx
        .query_one(
            "SELECT first_name, last_name FROM actor WHERE actor_id = $1",
            &[&stored.actor_id],
        )
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!((first.as_str(), last.as_str()), ("GRACE", "LIFEGUARD_W1"));

    // Upsert on the key: the existing row is updated.
    let up = Actor {
        first_name: "HOPPER".into(),
        ..stored.clone()
    }
    .upsert(&tx)
    .unwrap();
    assert_eq!(up.actor_id, stored.actor_id);
    assert_eq!(
        Actor::find_by_id(&tx, stored.actor_id)
            .unwrap()
            .unwrap()
            .first_name,
        "HOPPER"
    );

    up.delete(&tx).unwrap();
    assert_eq!(Actor::find_by_id(&tx, up.actor_id).unwrap(), None);
    // Deleting or updating a row that is gone is a typed NotFound.
    assert_eq!(up.delete(&tx).unwrap_err().kind(), ErrorKind::NotFound);
    let mut gone = up.clone();
    let err = gone
        .update(&tx, Changes::new().set(Actor::LastName, "X"))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    tx.rollback().unwrap();
    assert_eq!(
        actors_named(&pool, "LIFEGUARD_W1"),
        0,
        "the rollback left rows"
    );
}

#[test]
fn bulk_writes_of_ten_thousand_rows() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    let rows: Vec<Actor> = (0..10_000)
        .map(|i| Actor {
            actor_id: 0,
            first_name: format!("BULK{i}"),
            last_name: "LIFEGUARD_W2".into(),
        })
        .collect();
    let (inserted, sent) = statements(|| Actor::insert_many(&tx, &rows).unwrap());
    assert_eq!(inserted, 10_000);
    // 2 parameters a row: 20,000 fit in one statement of the 65,535 allowed.
    assert_eq!(sent.len(), 1, "{} statements", sent.len());
    assert!(sent
        .iter()
        .all(|s| s.starts_with("INSERT INTO \"public\".\"actor\"")));
    assert_eq!(actors_named(&tx, "LIFEGUARD_W2"), 10_000);
    let changed = Actor::update_many(
        &tx,
        Actor::LastName.eq("LIFEGUARD_W2"),
        Changes::new().set(Actor::FirstName, "SAME"),
    )
    .unwrap();
    assert_eq!(changed, 10_000);
    assert_eq!(
        Actor::find()
            .filter(
                Actor::FirstName
                    .eq("SAME")
                    .and(Actor::LastName.eq("LIFEGUARD_W2"))
            )
            .count(&tx)
            .unwrap(),
        10_000
    );
    let deleted = Actor::delete_many(&tx, Actor::LastName.eq("LIFEGUARD_W2")).unwrap();
    assert_eq!(deleted, 10_000);
    assert_eq!(actors_named(&tx, "LIFEGUARD_W2"), 0);
    tx.rollback().unwrap();
}

#[test]
fn a_unique_violation_is_a_typed_error_and_writes_nothing() {
    let pool = pool();
    let tx = pool.transaction().unwrap();
    // (1, 1) is in pagila's film_actor: inserting it again breaks the primary key.
    let err = FilmActor {
        actor_id: 1,
        film_id: 1,
    }
    .insert(&tx)
    .unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("23505"), "{err}");
    assert_eq!(
        err.as_db_error().and_then(|d| d.constraint()),
        Some("film_actor_pkey")
    );
    tx.rollback().unwrap();
    let n: i64 = pool
        .query_one(
            "SELECT count(*) FROM film_actor WHERE actor_id = 1 AND film_id = 1",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}
