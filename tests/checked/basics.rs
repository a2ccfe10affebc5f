use lifeguard::{query, query_as, query_file, query_scalar, query_unchecked};

use crate::{pool, Rating};

#[test]
fn record_fields_get_types_and_nullability() {
    let pool = pool();
    let film = query!(
        "SELECT f.film_id, f.title, f.description, f.release_year, f.rental_rate,
                f.special_features, f.last_update
         FROM film f WHERE f.film_id = $1",
        1i32
    )
    .fetch_one(&pool)
    .unwrap();
    let id: i32 = film.film_id;
    let title: String = film.title;
    let description: Option<String> = film.description;
    // `year` is a domain over int4: the base type.
    let year: Option<i32> = film.release_year;
    let rate: lifeguard::__private::rust_decimal::Decimal = film.rental_rate;
    let features: Option<Vec<String>> = film.special_features;
    let _: lifeguard::__private::chrono::DateTime<lifeguard::__private::chrono::Utc> =
        film.last_update;
    assert_eq!((id, title.as_str()), (1, "ACADEMY DINOSAUR"));
    assert!(description.is_some_and(|d| d.contains("Epic Drama")));
    assert_eq!(year, Some(2012));
    // An array of a domain: a Vec of the base type, bound and read back.
    let years: Vec<i32> = query_scalar!(
        "SELECT ARRAY[release_year, $1::year] FROM film WHERE film_id = 1",
        2000i32
    )
    .fetch_one(&pool)
    .unwrap();
    assert_eq!(years, [2012, 2000]);
    let n: i64 = query_scalar!(
        "SELECT count(*) FROM film WHERE release_year = ANY($1::year[])",
        &[2012i32][..]
    )
    .fetch_one(&pool)
    .unwrap();
    assert!(n > 0, "{n}");
    assert_eq!(rate.to_string(), "0.99");
    assert_eq!(
        features.unwrap(),
        vec![
            "Deleted Scenes".to_string(),
            "Behind the Scenes".to_string()
        ]
    );
}

#[test]
fn left_join_makes_the_right_side_optional() {
    let rows = query!(
        "SELECT f.film_id, i.inventory_id FROM film f LEFT JOIN inventory i ON i.film_id = f.film_id
         WHERE f.film_id IN (14, 33) ORDER BY 1, 2"
    )
    .fetch_all(&pool())
    .unwrap();
    let missing: Vec<i32> = rows
        .iter()
        .filter(|r| r.inventory_id.is_none())
        .map(|r| r.film_id)
        .collect();
    assert_eq!(missing, vec![14, 33]);
}

#[derive(Debug)]
struct Actor {
    actor_id: i32,
    first_name: String,
    last_name: String,
}

#[test]
fn query_as_and_query_scalar() {
    let pool = pool();
    let a = query_as!(
        Actor,
        "SELECT actor_id, first_name, last_name FROM actor WHERE actor_id = $1",
        1
    )
    .fetch_one(&pool)
    .unwrap();
    assert_eq!(
        (a.actor_id, a.first_name.as_str(), a.last_name.as_str()),
        (1, "PENELOPE", "GUINESS")
    );
    let n: i64 = query_scalar!("SELECT count(*) FROM actor")
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(n, 200);
    let none: Option<i32> = query_scalar!(
        "SELECT max(actor_id) FROM actor WHERE last_name = $1",
        "NOBODY"
    )
    .fetch_one(&pool)
    .unwrap();
    assert_eq!(none, None);
}

#[test]
fn overrides_in_the_alias() {
    let pool = pool();
    // `!` asserts non-null (the user knows the WHERE rules NULLs out), `?` forces Option,
    // `: Type` names a type.
    let r = query!(
        r#"SELECT i.inventory_id AS "inventory_id!", f.title AS "title?", f.rating AS "rating: Rating"
           FROM film f LEFT JOIN inventory i ON i.film_id = f.film_id
           WHERE i.inventory_id = 1"#
    )
    .fetch_one(&pool)
    .unwrap();
    let id: i32 = r.inventory_id;
    let title: Option<String> = r.title;
    let rating: Option<Rating> = r.rating;
    assert_eq!(
        (id, title.as_deref(), rating),
        (1, Some("ACADEMY DINOSAUR"), Some(Rating::Pg))
    );
}

#[derive(Debug)]
struct RatedFilm {
    film_id: i32,
    // An enum column: the field's type decides (PgEnum), and a nullable column must be Option.
    rating: Option<Rating>,
}

#[test]
fn enums_map_through_the_derive() {
    let pool = pool();
    let films = query_as!(
        RatedFilm,
        "SELECT film_id, rating FROM film WHERE rating = $1 ORDER BY film_id LIMIT 3",
        Rating::Nc17
    )
    .fetch_all(&pool)
    .unwrap();
    assert_eq!(films.len(), 3);
    assert!(films.iter().all(|f| f.rating == Some(Rating::Nc17)));
    assert!(films.windows(2).all(|w| w[0].film_id < w[1].film_id));
    // Arrays of enums: override with a Vec.
    let labels = query_scalar!(r#"SELECT enum_range(NULL::mpaa_rating) AS "labels!: Vec<Rating>""#)
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(
        labels,
        vec![Rating::G, Rating::Pg, Rating::Pg13, Rating::R, Rating::Nc17]
    );
}

#[test]
fn query_file_reads_sql_from_a_file() {
    let films = query_file!("tests/checked/sql/films_by_rating.sql", Rating::G, 5i64)
        .fetch_all(&pool())
        .unwrap();
    assert_eq!(films.len(), 5);
    for f in &films {
        let copies: i64 = f.copies;
        assert!(copies >= 0);
        assert_eq!(f.rating, Some(Rating::G));
        assert!(!f.title.is_empty());
    }
}

#[test]
fn arguments_take_references_options_and_slices() {
    let pool = pool();
    let name = String::from("PENELOPE");
    let ids = [1i32, 2, 3];
    let none: Option<&str> = None;
    let rows = query!(
        "SELECT actor_id FROM actor
         WHERE (first_name = $1 OR actor_id = ANY($2)) AND ($3::text IS NULL OR last_name = $3)
         ORDER BY actor_id",
        &name,
        &ids[..],
        none
    )
    .fetch_all(&pool)
    .unwrap();
    let got: Vec<i32> = rows.iter().map(|r| r.actor_id).collect();
    assert_eq!(got, vec![1, 2, 3, 54, 104, 120]);
    // `name` was borrowed, not moved.
    assert_eq!(name, "PENELOPE");
}

#[test]
fn unchecked_still_describes_but_does_not_check_arguments() {
    // An i64 for an int4 parameter: the checked macro rejects it at compile time; unchecked,
    // the driver refuses it at run time with a typed error.
    let err = query_unchecked!("SELECT title FROM film WHERE film_id = $1", 1i64)
        .fetch_one(&pool())
        .unwrap_err();
    assert!(err.to_string().contains("int4"), "{err}");
}
