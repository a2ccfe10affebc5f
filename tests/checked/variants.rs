//! The file-based and unchecked variants, enum arguments, and the fetch methods inside a
//! transaction.

use lifeguard::{
    query_as_unchecked, query_file_as, query_file_as_unchecked, query_file_scalar,
    query_file_scalar_unchecked, query_file_unchecked, query_scalar, query_scalar_unchecked,
};

use crate::{pool, Rating};

#[derive(Debug, PartialEq)]
struct Name {
    first_name: String,
    last_name: String,
}

#[test]
fn file_variants_read_their_sql_from_the_file() {
    let pool = pool();
    let name = query_file_as!(Name, "tests/checked/sql/actor_name.sql", 1)
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(
        name,
        Name {
            first_name: "PENELOPE".into(),
            last_name: "GUINESS".into()
        }
    );
    let n: i64 = query_file_scalar!("tests/checked/sql/actor_count.sql", 10)
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(n, 10);
}

#[test]
fn unchecked_variants_decode_but_do_not_check_arguments() {
    let pool = pool();
    // Each takes an i64 where the statement has int4: unchecked, the driver refuses it.
    let wrong = 1i64;
    let errors = [
        query_as_unchecked!(
            Name,
            "SELECT first_name, last_name FROM actor WHERE actor_id = $1",
            wrong
        )
        .fetch_one(&pool)
        .map(|_| ())
        .unwrap_err(),
        query_scalar_unchecked!("SELECT first_name FROM actor WHERE actor_id = $1", wrong)
            .fetch_one(&pool)
            .map(|_| ())
            .unwrap_err(),
        query_file_unchecked!("tests/checked/sql/actor_name.sql", wrong)
            .fetch_one(&pool)
            .map(|_| ())
            .unwrap_err(),
        query_file_as_unchecked!(Name, "tests/checked/sql/actor_name.sql", wrong)
            .fetch_one(&pool)
            .map(|_| ())
            .unwrap_err(),
        query_file_scalar_unchecked!("tests/checked/sql/actor_count.sql", wrong)
            .fetch_one(&pool)
            .map(|_| ())
            .unwrap_err(),
    ];
    for err in errors {
        assert!(err.to_string().contains("int4"), "{err}");
    }
    // With the right types they run, and the results are typed from the description.
    let first: String =
        query_scalar_unchecked!("SELECT first_name FROM actor WHERE actor_id = $1", 1i32)
            .fetch_one(&pool)
            .unwrap();
    assert_eq!(first, "PENELOPE");
    let row = query_file_unchecked!("tests/checked/sql/actor_name.sql", 2i32)
        .fetch_one(&pool)
        .unwrap();
    let last: String = row.last_name;
    assert_eq!(last, "WAHLBERG");
}

#[test]
fn enum_arguments_and_arrays_of_them() {
    let pool = pool();
    let ratings = [Rating::G, Rating::Nc17];
    let n: i64 = query_scalar!(
        "SELECT count(*) FROM film WHERE rating = ANY($1)",
        &ratings[..]
    )
    .fetch_one(&pool)
    .unwrap();
    let by_hand: i64 =
        query_scalar!("SELECT count(*) FROM film WHERE rating::text IN ('G', 'NC-17')")
            .fetch_one(&pool)
            .unwrap();
    assert_eq!(n, by_hand);
    assert!(n > 0);
    let none: Option<Rating> = None;
    let unrated: i64 = query_scalar!(
        "SELECT count(*) FROM film WHERE rating IS NOT DISTINCT FROM $1",
        none
    )
    .fetch_one(&pool)
    .unwrap();
    assert_eq!(unrated, 0, "pagila rates every film");
}
