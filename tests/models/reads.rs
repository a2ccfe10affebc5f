//! Reads on pagila: by key and through the query builder, checked against the same rows
//! fetched with plain SQL.

use chrono::{DateTime, NaiveDate, Utc};
use lifeguard::{Client, Executor, Model};
use rust_decimal::Decimal;

use crate::{pool, support::database_url, Rating};

/// pagila's `film`, every column but the `tsvector`.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "film")]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub release_year: Option<i32>,
    pub language_id: i32,
    pub rental_rate: Decimal,
    pub length: Option<i16>,
    pub rating: Option<Rating>,
    #[lifeguard(column = "last_update", default)]
    pub updated: DateTime<Utc>,
    pub special_features: Option<Vec<String>>,
}

/// pagila's `actor`, schema-qualified.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "public.actor")]
pub struct Actor {
    #[lifeguard(primary_key, default)]
    pub actor_id: i32,
    pub first_name: String,
    pub last_name: String,
}

/// pagila's `customer` (nullable `email`, `active`, `last_update`).
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "customer")]
pub struct Customer {
    #[lifeguard(primary_key)]
    pub customer_id: i32,
    pub store_id: i32,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub address_id: i32,
    pub activebool: bool,
    pub create_date: NaiveDate,
    pub last_update: Option<DateTime<Utc>>,
    pub active: Option<i32>,
}

/// pagila's `film_actor`: a composite key.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "film_actor")]
pub struct FilmActor {
    #[lifeguard(primary_key)]
    pub actor_id: i32,
    #[lifeguard(primary_key)]
    pub film_id: i32,
}

fn ids(films: &[Film]) -> Vec<i32> {
    films.iter().map(|f| f.film_id).collect()
}

/// The film ids plain SQL returns.
fn sql_ids(e: &impl Executor, sql: &str) -> Vec<i32> {
    e.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0))
        .collect()
}

#[test]
fn find_by_id_decodes_every_column() {
    let pool = pool();
    let film = Film::find_by_id(&pool, 1).unwrap().expect("film 1");
    let row = pool
        .query_one(
            "SELECT title, description, rating::text, special_features, rental_rate, last_update FROM film WHERE film_id = 1",
            &[],
        )
        .unwrap();
    assert_eq!(film.film_id, 1);
    assert_eq!(film.title, row.get::<_, String>(0));
    assert_eq!(film.description, row.get::<_, Option<String>>(1));
    assert_eq!(row.get::<_, Option<String>>(2).as_deref(), Some("PG"));
    assert_eq!(film.rating, Some(Rating::Pg));
    assert_eq!(film.special_features, row.get::<_, Option<Vec<String>>>(3));
    assert!(film
        .special_features
        .as_ref()
        .is_some_and(|f| !f.is_empty()));
    assert_eq!(film.rental_rate, row.get::<_, Decimal>(4));
    assert_eq!(film.updated, row.get::<_, DateTime<Utc>>(5));
    assert_eq!(Film::find_by_id(&pool, -1).unwrap(), None);

    let actor = Actor::find_by_id(&pool, 1).unwrap().unwrap();
    assert_eq!(
        (actor.first_name.as_str(), actor.last_name.as_str()),
        ("PENELOPE", "GUINESS")
    );

    // Composite key: a tuple.
    let link = FilmActor::find_by_id(&pool, (1, 1)).unwrap().unwrap();
    assert_eq!(
        link,
        FilmActor {
            actor_id: 1,
            film_id: 1
        }
    );
    assert_eq!(FilmActor::find_by_id(&pool, (1, 2)).unwrap(), None);
}

#[test]
fn filters_match_plain_sql() {
    let pool = pool();
    let got = Film::find()
        .filter(Film::Rating.eq(Rating::Pg13).and(Film::Title.like("A%")))
        .order_by(Film::Title.asc())
        .limit(20)
        .all(&pool)
        .unwrap();
    let want = sql_ids(
        &pool,
        "SELECT film_id FROM film WHERE rating = 'PG-13' AND title LIKE 'A%' ORDER BY title LIMIT 20",
    );
    assert!(!want.is_empty());
    assert_eq!(ids(&got), want);
    assert!(got.iter().all(|f| f.rating == Some(Rating::Pg13)));

    let cases: Vec<(lifeguard::model::Expr<Film>, &str)> = vec![
        (Film::FilmId.ne(1), "film_id <> 1"),
        (Film::FilmId.lt(10), "film_id < 10"),
        (Film::FilmId.le(10), "film_id <= 10"),
        (Film::FilmId.gt(990), "film_id > 990"),
        (Film::FilmId.ge(990), "film_id >= 990"),
        (
            Film::Length.between(50i16, 60i16),
            "length BETWEEN 50 AND 60",
        ),
        (Film::FilmId.in_([3, 1, 2, 999_999]), "film_id IN (1, 2, 3)"),
        (Film::FilmId.in_(Vec::<i32>::new()), "false"),
        (
            Film::Rating.in_([Rating::G, Rating::Nc17]),
            "rating IN ('G', 'NC-17')",
        ),
        (Film::Title.ilike("%dinosaur%"), "title ILIKE '%dinosaur%'"),
        (Film::Rating.eq(Rating::R).not(), "NOT (rating = 'R')"),
        (
            Film::FilmId.lt(5).or(Film::FilmId.gt(995)),
            "film_id < 5 OR film_id > 995",
        ),
        (Film::Description.is_not_null(), "description IS NOT NULL"),
        (Film::Length.is_null(), "length IS NULL"),
        (Film::ReleaseYear.eq(2006), "release_year = 2006"),
    ];
    for (expr, sql) in cases {
        let shown = format!("{expr:?}");
        let got = Film::find()
            .filter(expr)
            .order_by(Film::FilmId.asc())
            .all(&pool)
            .unwrap();
        let want = sql_ids(
            &pool,
            &format!("SELECT film_id FROM film WHERE {sql} ORDER BY film_id"),
        );
        assert_eq!(ids(&got), want, "{shown} vs {sql}");
    }
}

#[test]
fn values_are_parameters_and_identifiers_quoted() {
    let q = Film::find()
        .filter(Film::Title.eq("x'; DROP TABLE film; --"))
        .order_by(Film::Title.desc())
        .limit(3)
        .offset(4);
    assert_eq!(
        q.sql(),
        "SELECT \"film_id\", \"title\", \"description\", \"release_year\", \"language_id\", \"rental_rate\", \"length\", \"rating\", \"last_update\", \"special_features\" FROM \"film\" WHERE \"title\" = $1 ORDER BY \"title\" DESC LIMIT $2 OFFSET $3"
    );
    // The hostile value is only a value.
    assert_eq!(q.all(&pool()).unwrap(), vec![]);
}

#[test]
fn count_exists_one_optional_offset() {
    let pool = pool();
    let n: i64 = pool
        .query_one("SELECT count(*) FROM film WHERE rating = 'G'", &[])
        .unwrap()
        .get(0);
    let q = Film::find().filter(Film::Rating.eq(Rating::G));
    assert_eq!(q.count(&pool).unwrap(), n);
    assert!(q.exists(&pool).unwrap());
    assert!(!Film::find()
        .filter(Film::FilmId.lt(0))
        .exists(&pool)
        .unwrap());
    assert_eq!(Film::find().count(&pool).unwrap(), 1000);

    let one = Film::find().filter(Film::FilmId.eq(7)).one(&pool).unwrap();
    assert_eq!(one.film_id, 7);
    let err = Film::find()
        .filter(Film::FilmId.lt(3))
        .one(&pool)
        .unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::RowCount);
    let err = Film::find()
        .filter(Film::FilmId.lt(0))
        .one(&pool)
        .unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::RowCount);
    assert_eq!(
        Film::find()
            .filter(Film::FilmId.lt(0))
            .optional(&pool)
            .unwrap(),
        None
    );
    let err = Film::find()
        .filter(Film::FilmId.lt(3))
        .optional(&pool)
        .unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::RowCount);

    let page = Film::find()
        .order_by(Film::FilmId.desc())
        .offset(10)
        .limit(3)
        .all(&pool)
        .unwrap();
    assert_eq!(ids(&page), [990, 989, 988]);

    // Customers without an email, by the nullable column.
    let missing: i64 = pool
        .query_one("SELECT count(*) FROM customer WHERE email IS NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        Customer::find()
            .filter(Customer::Email.is_null())
            .count(&pool)
            .unwrap(),
        missing
    );
    let smiths = Customer::find()
        .filter(Customer::LastName.eq("SMITH"))
        .all(&pool)
        .unwrap();
    assert_eq!(smiths.len(), 1);
    assert_eq!(smiths[0].first_name, "MARY");
    assert_eq!(
        smiths[0].email.as_deref(),
        Some("MARY.SMITH@sakilacustomer.org")
    );
}

#[test]
fn every_executor() {
    let pool = pool();
    let client = Client::connect(&database_url()).unwrap();
    fn on(e: &impl Executor) {
        assert_eq!(
            Film::find_by_id(e, 2).unwrap().unwrap().title,
            "ACE GOLDFINGER"
        );
        assert_eq!(
            Actor::find().filter(Actor::ActorId.le(3)).count(e).unwrap(),
            3
        );
    }
    on(&pool);
    on(&client);
    // The pool has two connections: one held directly, one by the transaction.
    let conn = pool.get().unwrap();
    on(&conn);
    let tx = pool.transaction().unwrap();
    on(&tx);
    tx.rollback().unwrap();
}
