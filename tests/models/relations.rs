//! Relations on pagila, loaded eagerly: film → language, customer → address → city, and
//! film ↔ actor through film_actor. Each relation costs exactly one statement however many
//! rows it loads for (counted from what the driver sends), and matches plain SQL.

use chrono::{DateTime, Utc};
use lifeguard::{Executor, Model};

use crate::reads::Customer;
use crate::{pool, statements};

/// pagila's `film` with its relations (the columns these tests need).
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "film")]
#[lifeguard(has_many(name = actors, model = Actor, through = FilmActor, fk = film_id, other = actor_id))]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    #[lifeguard(belongs_to = Language)]
    pub language_id: i32,
    #[lifeguard(belongs_to = Language)]
    pub original_language_id: Option<i32>,
}

/// pagila's `language`: the parent of films.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "language")]
#[lifeguard(has_many(name = films, model = Film, fk = language_id))]
pub struct Language {
    #[lifeguard(primary_key, default)]
    pub language_id: i32,
    pub name: String,
    #[lifeguard(default)]
    pub last_update: DateTime<Utc>,
}

/// pagila's `actor`, linked to films through `film_actor`.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "actor")]
#[lifeguard(has_many(name = films, model = Film, through = FilmActor, fk = actor_id, other = film_id))]
pub struct Actor {
    #[lifeguard(primary_key, default)]
    pub actor_id: i32,
    pub first_name: String,
    pub last_name: String,
}

/// The join table.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "film_actor")]
pub struct FilmActor {
    #[lifeguard(primary_key)]
    pub actor_id: i32,
    #[lifeguard(primary_key)]
    pub film_id: i32,
}

/// pagila's `address`: belongs to a city; a customer belongs to it.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "address")]
#[lifeguard(has_one(name = customer, model = CustomerRef, fk = address_id))]
pub struct Address {
    #[lifeguard(primary_key, default)]
    pub address_id: i32,
    pub address: String,
    pub address2: Option<String>,
    pub district: String,
    #[lifeguard(belongs_to = City)]
    pub city_id: i32,
    pub postal_code: Option<String>,
    pub phone: String,
}

/// pagila's `city`.
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "city")]
#[lifeguard(has_many(name = addresses, model = Address, fk = city_id))]
pub struct City {
    #[lifeguard(primary_key, default)]
    pub city_id: i32,
    pub city: String,
    pub country_id: i32,
}

/// `customer` with its address relation (the full model in reads.rs has none).
#[derive(Debug, Clone, PartialEq, Model)]
#[lifeguard(table = "customer")]
pub struct CustomerRef {
    #[lifeguard(primary_key)]
    pub customer_id: i32,
    pub store_id: i32,
    pub first_name: String,
    pub last_name: String,
    #[lifeguard(belongs_to = Address)]
    pub address_id: i32,
}

/// `(key, value)` pairs plain SQL returns, as strings.
fn pairs(e: &impl Executor, sql: &str) -> Vec<(i32, String)> {
    e.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[test]
fn film_to_language_in_one_statement() {
    let pool = pool();
    let films = Film::find()
        .filter(Film::FilmId.le(300))
        .order_by(Film::FilmId.asc())
        .all(&pool)
        .unwrap();
    assert_eq!(films.len(), 300);
    let (languages, sent) = statements(|| Film::language().load(&pool, &films).unwrap());
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("= ANY($1)"), "{}", sent[0]);
    let want = pairs(
        &pool,
        "SELECT f.film_id, l.name FROM film f JOIN language l USING (language_id) WHERE f.film_id <= 300 ORDER BY f.film_id",
    );
    let got: Vec<(i32, String)> = films
        .iter()
        .zip(&languages)
        .map(|(f, l)| {
            (
                f.film_id,
                l.as_ref().expect("every film has a language").name.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    // Several films share each language: fetched once each, not once per film.
    let distinct: std::collections::BTreeSet<i32> = films.iter().map(|f| f.language_id).collect();
    assert!(
        distinct.len() > 1 && distinct.len() < films.len(),
        "{distinct:?}"
    );

    // A nullable foreign key that is NULL everywhere: no keys, so no statement at all.
    let (originals, sent) = statements(|| Film::original_language().load(&pool, &films).unwrap());
    assert!(originals.iter().all(Option::is_none));
    assert_eq!(sent.len(), 0, "{sent:#?}");

    // The other way: every language's films, grouped, in one statement.
    let languages = Language::find()
        .order_by(Language::LanguageId.asc())
        .all(&pool)
        .unwrap();
    let (films_by_language, sent) =
        statements(|| Language::films().load(&pool, &languages).unwrap());
    assert_eq!(sent.len(), 1, "{sent:#?}");
    for (language, films) in languages.iter().zip(&films_by_language) {
        let want: Vec<i32> = pool
            .query(
                "SELECT film_id FROM film WHERE language_id = $1 ORDER BY film_id",
                &[&language.language_id],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let ids: Vec<i32> = films.iter().map(|f| f.film_id).collect();
        assert_eq!(ids, want, "{}", language.name);
    }
    assert_eq!(films_by_language.iter().map(Vec::len).sum::<usize>(), 1000);
}

#[test]
fn customer_to_address_to_city_in_one_statement_each() {
    let pool = pool();
    let (customers, addresses, cities, sent) = {
        let ((customers, addresses, cities), sent) = statements(|| {
            let customers = CustomerRef::find()
                .order_by(CustomerRef::CustomerId.asc())
                .all(&pool)
                .unwrap();
            let addresses: Vec<Address> = CustomerRef::address()
                .load(&pool, &customers)
                .unwrap()
                .into_iter()
                .map(|a| a.expect("every customer has an address"))
                .collect();
            let cities = Address::city().load(&pool, &addresses).unwrap();
            (customers, addresses, cities)
        });
        (customers, addresses, cities, sent)
    };
    // 599 customers, 599 addresses, their cities: three statements, not 1 + 599 + 599.
    assert_eq!(customers.len(), 599);
    assert_eq!(sent.len(), 3, "{sent:#?}");
    let want = pairs(
        &pool,
        "SELECT c.customer_id, ci.city FROM customer c JOIN address a USING (address_id) JOIN city ci USING (city_id) ORDER BY c.customer_id",
    );
    let got: Vec<(i32, String)> = customers
        .iter()
        .zip(&cities)
        .map(|(c, ci)| (c.customer_id, ci.as_ref().unwrap().city.clone()))
        .collect();
    assert_eq!(got, want);
    assert!(customers
        .iter()
        .zip(&addresses)
        .all(|(c, a)| c.address_id == a.address_id));

    // has_one back from the address, and has_many from a city.
    let (back, sent) = statements(|| Address::customer().load(&pool, &addresses[..10]).unwrap());
    assert_eq!(sent.len(), 1);
    let back_ids: Vec<i32> = back
        .iter()
        .map(|c| c.as_ref().unwrap().customer_id)
        .collect();
    assert_eq!(
        back_ids,
        customers[..10]
            .iter()
            .map(|c| c.customer_id)
            .collect::<Vec<_>>()
    );
    let city = cities[0].clone().unwrap();
    let lived: Vec<Vec<Address>> = City::addresses()
        .load(&pool, std::slice::from_ref(&city))
        .unwrap();
    let n: i64 = pool
        .query_one(
            "SELECT count(*) FROM address WHERE city_id = $1",
            &[&city.city_id],
        )
        .unwrap()
        .get(0);
    assert_eq!(lived[0].len() as i64, n);
    assert!(lived[0].iter().all(|a| a.city_id == city.city_id));
    // The full model decodes the same customers (the relation model is a projection).
    assert_eq!(
        Customer::find_by_id(&pool, customers[0].customer_id)
            .unwrap()
            .unwrap()
            .address_id,
        customers[0].address_id
    );
}

#[test]
fn film_to_actors_through_film_actor_in_one_statement() {
    let pool = pool();
    // Film 257 has no actors in pagila.
    let films = Film::find()
        .filter(Film::FilmId.in_([1, 2, 3, 257]))
        .order_by(Film::FilmId.asc())
        .all(&pool)
        .unwrap();
    let (actors, sent) = statements(|| Film::actors().load(&pool, &films).unwrap());
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].contains("JOIN \"film_actor\""), "{}", sent[0]);
    for (film, actors) in films.iter().zip(&actors) {
        let want: Vec<i32> = pool
            .query(
                "SELECT actor_id FROM film_actor WHERE film_id = $1 ORDER BY actor_id",
                &[&film.film_id],
            )
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(want.is_empty(), film.film_id == 257);
        assert_eq!(
            actors.iter().map(|a| a.actor_id).collect::<Vec<_>>(),
            want,
            "film {}",
            film.film_id
        );
    }

    // And back: every actor's films, 200 actors in one statement.
    let all = Actor::find().all(&pool).unwrap();
    let (films_of, sent) = statements(|| Actor::films().load(&pool, &all).unwrap());
    assert_eq!(sent.len(), 1, "{sent:#?}");
    let links: i64 = pool
        .query_one("SELECT count(*) FROM film_actor", &[])
        .unwrap()
        .get(0);
    assert_eq!(films_of.iter().map(Vec::len).sum::<usize>() as i64, links);
    let penelope = &films_of[all.iter().position(|a| a.actor_id == 1).unwrap()];
    assert!(penelope.iter().any(|f| f.title == "ACADEMY DINOSAUR"));
}
