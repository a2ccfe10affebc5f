//! Nullability over the pagila schema, table-driven: for each statement, the type and
//! nullability of every column. The same answers must come from an empty and a full
//! database, before and after ANALYZE (the analysis reads the statement, not the plan). A
//! second test runs every statement on data that produces NULLs and checks that NULLs
//! appear only in columns described as nullable — and do appear where a case expects them.
//!
//! Needs DATABASE_URL pointing at a database with pagila loaded (scripts/test.sh does it);
//! the empty copy is created and dropped here.

use std::time::Duration;

use lifeguard_describe::{describe, DescribeConn};

const N: bool = false; // never NULL
const Y: bool = true; // may be NULL

struct Case {
    sql: &'static str,
    /// (name, type, nullable) of every column.
    cols: &'static [(&'static str, &'static str, bool)],
    /// Columns the data in `nulls_where_expected` makes NULL.
    nulls: &'static [&'static str],
}

macro_rules! case {
    ($sql:expr, [$(($n:expr, $t:expr, $null:expr)),* $(,)?] $(, nulls: [$($x:expr),*])?) => {
        Case { sql: $sql, cols: &[$(($n, $t, $null)),*], nulls: &[$($($x),*)?] }
    };
}

const CASES: &[Case] = &[
    // Base tables: NOT NULL constraints.
    case!("SELECT actor_id, first_name, last_update FROM actor",
        [("actor_id", "int4", N), ("first_name", "text", N), ("last_update", "timestamptz", N)]),
    case!("SELECT film_id, description, release_year, rental_rate, length, rating, special_features FROM film",
        [("film_id", "int4", N), ("description", "text", Y), ("release_year", "int4", Y),
         ("rental_rate", "numeric", N), ("length", "int2", Y), ("rating", "mpaa_rating", Y),
         ("special_features", "_text", Y)],
        nulls: ["description", "release_year", "length", "rating", "special_features"]),
    case!("SELECT payment_id, amount, payment_date FROM payment_p2022_01",
        [("payment_id", "int4", N), ("amount", "numeric", N), ("payment_date", "timestamptz", N)]),
    // Outer joins, whatever the planner does with them.
    case!("SELECT f.title, i.inventory_id FROM film f LEFT JOIN inventory i ON i.film_id = f.film_id",
        [("title", "text", N), ("inventory_id", "int4", Y)], nulls: ["inventory_id"]),
    case!("SELECT i.inventory_id, f.title FROM inventory i RIGHT JOIN film f ON i.film_id = f.film_id",
        [("inventory_id", "int4", Y), ("title", "text", N)], nulls: ["inventory_id"]),
    case!("SELECT f.film_id, i.inventory_id FROM film f FULL JOIN inventory i ON i.film_id = f.film_id",
        [("film_id", "int4", Y), ("inventory_id", "int4", Y)], nulls: ["inventory_id"]),
    case!("SELECT c.customer_id, r.rental_id, p.amount FROM customer c
           LEFT JOIN (rental r JOIN payment p ON p.rental_id = r.rental_id) ON r.customer_id = c.customer_id",
        [("customer_id", "int4", N), ("rental_id", "int4", Y), ("amount", "numeric", Y)],
        nulls: ["rental_id", "amount"]),
    case!("SELECT f.film_id, i.inventory_id, r.rental_id FROM film f
           LEFT JOIN inventory i ON i.film_id = f.film_id LEFT JOIN rental r ON r.inventory_id = i.inventory_id",
        [("film_id", "int4", N), ("inventory_id", "int4", Y), ("rental_id", "int4", Y)],
        nulls: ["inventory_id", "rental_id"]),
    case!("SELECT a.address_id, b.address_id AS other FROM address a LEFT JOIN address b ON b.address_id = a.address_id + 1000",
        [("address_id", "int4", N), ("other", "int4", Y)], nulls: ["other"]),
    case!("SELECT film_id FROM film FULL JOIN inventory USING (film_id)",
        [("film_id", "int4", N)]),
    // LATERAL.
    case!("SELECT f.film_id, last.rental_date FROM film f LEFT JOIN LATERAL (
             SELECT r.rental_date FROM inventory i JOIN rental r ON r.inventory_id = i.inventory_id
             WHERE i.film_id = f.film_id ORDER BY r.rental_date DESC LIMIT 1) last ON true",
        [("film_id", "int4", N), ("rental_date", "timestamptz", Y)], nulls: ["rental_date"]),
    case!("SELECT a.actor_id, fa.film_id FROM actor a CROSS JOIN LATERAL (
             SELECT film_id FROM film_actor WHERE actor_id = a.actor_id LIMIT 1) fa",
        [("actor_id", "int4", N), ("film_id", "int4", N)]),
    // Aggregates: over possibly empty input, and per (non-empty) group.
    case!("SELECT count(*) AS n, count(original_language_id) AS n2, max(rental_rate) AS max_rate, sum(length) AS total FROM film",
        [("n", "int8", N), ("n2", "int8", N), ("max_rate", "numeric", Y), ("total", "int8", Y)]),
    case!("SELECT max(rental_rate) AS max_rate FROM film WHERE film_id < 0",
        [("max_rate", "numeric", Y)], nulls: ["max_rate"]),
    case!("SELECT rating, count(*) AS n, max(rental_rate) AS max_rate, min(length) AS min_len FROM film GROUP BY rating",
        [("rating", "mpaa_rating", Y), ("n", "int8", N), ("max_rate", "numeric", N), ("min_len", "int2", Y)],
        nulls: ["rating", "min_len"]),
    case!("SELECT a.actor_id, string_agg(f.title, ', ') AS titles, array_agg(f.film_id) AS ids
           FROM actor a JOIN film_actor fa ON fa.actor_id = a.actor_id JOIN film f ON f.film_id = fa.film_id
           GROUP BY a.actor_id",
        [("actor_id", "int4", N), ("titles", "text", N), ("ids", "_int4", N)]),
    case!("SELECT f.film_id, count(i.inventory_id) AS copies FROM film f LEFT JOIN inventory i ON i.film_id = f.film_id GROUP BY f.film_id",
        [("film_id", "int4", N), ("copies", "int8", N)]),
    // Grouping sets null out grouping columns.
    case!("SELECT i.store_id, f.rating, count(*) AS n FROM inventory i JOIN film f ON f.film_id = i.film_id
           GROUP BY ROLLUP (i.store_id, f.rating)",
        [("store_id", "int4", Y), ("rating", "mpaa_rating", Y), ("n", "int8", N)], nulls: ["store_id", "rating"]),
    case!("SELECT customer_id, staff_id, sum(amount) AS total, GROUPING(customer_id, staff_id) AS g
           FROM payment GROUP BY GROUPING SETS ((customer_id), (staff_id), ())",
        [("customer_id", "int4", Y), ("staff_id", "int4", Y), ("total", "numeric", Y), ("g", "int4", N)],
        nulls: ["customer_id", "staff_id"]),
    case!("SELECT store_id, staff_id, count(*) AS n FROM payment JOIN staff USING (staff_id) GROUP BY CUBE (store_id, staff_id)",
        [("store_id", "int4", Y), ("staff_id", "int4", Y), ("n", "int8", N)], nulls: ["store_id", "staff_id"]),
    // Subqueries.
    case!("SELECT f.film_id, (SELECT max(r.rental_date) FROM rental r JOIN inventory i ON i.inventory_id = r.inventory_id
             WHERE i.film_id = f.film_id) AS last_rented FROM film f",
        [("film_id", "int4", N), ("last_rented", "timestamptz", Y)], nulls: ["last_rented"]),
    case!("SELECT f.film_id, EXISTS (SELECT 1 FROM inventory i WHERE i.film_id = f.film_id) AS in_stock FROM film f",
        [("film_id", "int4", N), ("in_stock", "bool", N)]),
    case!("SELECT x.id, x.email FROM (SELECT customer_id AS id, email FROM customer) x",
        [("id", "int4", N), ("email", "text", Y)], nulls: ["email"]),
    // Set operations.
    case!("SELECT first_name, email FROM customer UNION ALL SELECT first_name, email FROM staff",
        [("first_name", "text", N), ("email", "text", Y)], nulls: ["email"]),
    case!("SELECT actor_id, first_name FROM actor UNION SELECT NULL, 'x'",
        [("actor_id", "int4", Y), ("first_name", "text", N)], nulls: ["actor_id"]),
    case!("SELECT address_id FROM customer INTERSECT SELECT address_id FROM staff",
        [("address_id", "int4", N)]),
    case!("SELECT customer_id FROM customer EXCEPT SELECT NULL::int4",
        [("customer_id", "int4", N)]),
    // Expressions.
    case!("SELECT coalesce(email, 'none') AS email, coalesce(email, NULL) AS maybe FROM customer",
        [("email", "text", N), ("maybe", "text", Y)], nulls: ["maybe"]),
    case!("SELECT 1 AS one, 'a'::text AS a, NULL::int4 AS nothing, CAST(film_id AS text) AS id_text, length::int4 AS len FROM film",
        [("one", "int4", N), ("a", "text", N), ("nothing", "int4", Y), ("id_text", "text", N), ("len", "int4", Y)],
        nulls: ["nothing", "len"]),
    case!("SELECT CASE WHEN length > 100 THEN 'long' ELSE 'short' END AS kind,
                  CASE WHEN length > 100 THEN 'long' END AS maybe FROM film",
        [("kind", "text", N), ("maybe", "text", Y)], nulls: ["maybe"]),
    case!("SELECT first_name || ' ' || last_name AS full_name, email || '!' AS e, customer_id + 1 AS next FROM customer",
        [("full_name", "text", N), ("e", "text", Y), ("next", "int4", N)], nulls: ["e"]),
    case!("SELECT film_id IN (1, 2) AS small, original_language_id IN (1) AS orig, original_language_id IS NULL AS no_orig FROM film",
        [("small", "bool", N), ("orig", "bool", Y), ("no_orig", "bool", N)], nulls: ["orig"]),
    case!("SELECT lower(title) AS t, now() AS ts, inventory_in_stock(1) AS stock FROM film",
        [("t", "text", N), ("ts", "timestamptz", N), ("stock", "bool", Y)]),
    // Window functions.
    case!("SELECT film_id, row_number() OVER (ORDER BY film_id) AS rn, lag(film_id) OVER (ORDER BY film_id) AS prev FROM film",
        [("film_id", "int4", N), ("rn", "int8", N), ("prev", "int4", Y)], nulls: ["prev"]),
    // CTEs.
    case!("WITH counts AS (SELECT film_id, count(*) AS n FROM inventory GROUP BY film_id)
           SELECT f.film_id, c.n FROM film f LEFT JOIN counts c ON c.film_id = f.film_id",
        [("film_id", "int4", N), ("n", "int8", Y)], nulls: ["n"]),
    case!("WITH t AS (SELECT actor_id, first_name FROM actor) SELECT * FROM t",
        [("actor_id", "int4", N), ("first_name", "text", N)]),
    case!("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n",
        [("i", "int4", N)]),
    // Views and a materialized view: their definitions are analysed.
    case!("SELECT * FROM customer_list",
        [("id", "int4", N), ("name", "text", N), ("address", "text", N), ("zip code", "text", Y),
         ("phone", "text", N), ("city", "text", N), ("country", "text", N), ("notes", "text", N), ("sid", "int4", N)],
        nulls: ["zip code"]),
    case!("SELECT store, manager, total_sales FROM sales_by_store",
        [("store", "text", N), ("manager", "text", N), ("total_sales", "numeric", N)]),
    // A materialized view holds the rows of its last refresh, which may predate the
    // constraints its definition relies on: its columns are nullable.
    case!("SELECT category, total_sales FROM rental_by_category",
        [("category", "text", Y), ("total_sales", "numeric", Y)]),
    // Set-returning function in FROM.
    case!("SELECT * FROM film_in_stock(1, 1)", [("p_film_count", "int4", Y)]),
    // Found in review: each was once described NOT NULL and gives NULL on this data.
    case!("SELECT (film_id, original_language_id) = (film_id, 1) AS e1 FROM film",
        [("e1", "bool", Y)], nulls: ["e1"]),
    case!("SELECT generate_series(1, 3) AS a, generate_series(1, 1) AS b",
        [("a", "int4", Y), ("b", "int4", Y)], nulls: ["b"]),
    case!("SELECT extract(month FROM t) AS m, to_char(t, 'YYYY') AS y FROM (VALUES ('infinity'::timestamptz)) v(t)",
        [("m", "numeric", Y), ("y", "text", Y)], nulls: ["m", "y"]),
    case!("SELECT 1 IN (SELECT f.film_id) AS x FROM film f GROUP BY ROLLUP (f.film_id)",
        [("x", "bool", Y)], nulls: ["x"]),
    case!("WITH RECURSIVE a AS (SELECT film_id FROM film), film AS (SELECT NULL::int AS film_id) SELECT film_id FROM a",
        [("film_id", "int4", Y)], nulls: ["film_id"]),
    case!("WITH film AS (SELECT 1 AS original_language_id) UPDATE film SET length = length WHERE film_id = 1
           RETURNING original_language_id",
        [("original_language_id", "int4", Y)], nulls: ["original_language_id"]),
    // Grouping keys that are expressions, constants named by position or alias, or outer
    // columns: NULL in the rows that aggregate them away.
    case!("SELECT coalesce(rating::text, 'none') AS r, count(*) AS n FROM film GROUP BY ROLLUP (1)",
        [("r", "text", Y), ("n", "int8", N)], nulls: ["r"]),
    case!("SELECT 1 AS k, count(*)::int4 AS n FROM film GROUP BY ROLLUP (k)",
        [("k", "int4", Y), ("n", "int4", N)], nulls: ["k"]),
    case!("SELECT x.fid FROM film f CROSS JOIN LATERAL (SELECT f.film_id AS fid, count(*) AS n
             FROM inventory i WHERE i.film_id = f.film_id GROUP BY ROLLUP (f.film_id)) x",
        [("fid", "int4", Y)], nulls: ["fid"]),
    // Overloads on ranges and geometry that yield NULL for values.
    case!("SELECT upper(('[' || rental_date::date || ',)')::daterange) AS u,
                  upper(first_name || last_name) AS name FROM rental JOIN customer USING (customer_id)",
        [("u", "date", Y), ("name", "text", N)], nulls: ["u"]),
    case!("SELECT '((0,0),(1,1))'::box # '((2,2),(3,3))'::box AS meet",
        [("meet", "box", Y)], nulls: ["meet"]),
    // Whole rows of the padded side, names the analysis can only guess, a long identifier,
    // jsonpath, an empty number format, closed paths: each once described NOT NULL.
    case!("SELECT f.film_id, row_to_json(l.*) AS lang, quote_literal(l.*) AS q
           FROM film f LEFT JOIN language l ON l.language_id = f.original_language_id",
        [("film_id", "int4", N), ("lang", "json", Y), ("q", "text", Y)], nulls: ["lang", "q"]),
    case!("WITH latest AS (SELECT (SELECT max(rental_date) AS rental_date FROM rental WHERE false))
           SELECT r.rental_id, x.d FROM rental r CROSS JOIN LATERAL (SELECT rental_date AS d FROM latest) x",
        [("rental_id", "int4", N), ("d", "timestamptz", Y)], nulls: ["d"]),
    case!("SELECT s.\"?column?\" FROM (SELECT 1::int, NULL) s",
        [("?column?", "text", Y)], nulls: ["?column?"]),
    case!(concat!("SELECT l.v FROM (SELECT 1 AS ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay) o, LATERAL (SELECT ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaay AS v FROM (SELECT NULL::int AS ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaax) i) l"),
        [("v", "int4", Y)], nulls: ["v"]),
    case!("SELECT jsonb_build_object('rate', f.rental_rate::text) @@ '$.rate > 1' AS pricey FROM film f",
        [("pricey", "bool", Y)], nulls: ["pricey"]),
    case!("SELECT to_number(f.rental_rate::text, '') AS n, f.rental_rate + 1 AS r FROM film f",
        [("n", "numeric", Y), ("r", "numeric", N)], nulls: ["n"]),
    case!("SELECT \"?column?\" FROM (SELECT 'x'::text) a NATURAL LEFT JOIN (SELECT 1 AS \"?column?\" WHERE false) b",
        [("?column?", "int4", Y)], nulls: ["?column?"]),
    // A scalar subquery that aggregates returns one row; others may return none.
    case!("SELECT c.customer_id,
                  (SELECT count(*) FROM rental r WHERE r.customer_id = c.customer_id) AS rentals,
                  (SELECT max(r.rental_date) FROM rental r WHERE r.customer_id = c.customer_id) AS last,
                  (SELECT count(*) FROM rental r WHERE r.customer_id = c.customer_id HAVING count(*) > 0) AS some
           FROM customer c",
        [("customer_id", "int4", N), ("rentals", "int8", N), ("last", "timestamptz", Y), ("some", "int8", Y)],
        nulls: ["last", "some"]),
    case!("SELECT rental_date + interval '3 days' AS due, now() - rental_date AS age FROM rental",
        [("due", "timestamptz", N), ("age", "interval", N)]),
    case!("SELECT '((0,0),(1,1))'::path + '[(0,0),(1,1)]'::path AS p, point(1, 1) <-> point(0, 0) AS d",
        [("p", "path", Y), ("d", "float8", Y)], nulls: ["p"]),
    // RETURNING.
    case!("INSERT INTO actor (first_name, last_name) VALUES ('NEW', 'ACTOR') RETURNING actor_id, first_name, last_update",
        [("actor_id", "int4", N), ("first_name", "text", N), ("last_update", "timestamptz", N)]),
    case!("UPDATE customer SET email = NULL WHERE customer_id = 1 RETURNING customer_id, email, last_update",
        [("customer_id", "int4", N), ("email", "text", Y), ("last_update", "timestamptz", Y)], nulls: ["email"]),
    case!("DELETE FROM payment WHERE payment_id = 16050 RETURNING payment_id, amount",
        [("payment_id", "int4", N), ("amount", "numeric", N)]),
    case!("INSERT INTO category (category_id, name) VALUES (1, 'Action')
           ON CONFLICT (category_id) DO UPDATE SET name = EXCLUDED.name RETURNING category_id, name, last_update",
        [("category_id", "int4", N), ("name", "text", N), ("last_update", "timestamptz", N)]),
];

fn url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".into(),
    }
}

fn connect(url: &str) -> DescribeConn {
    DescribeConn::connect(url, Duration::from_secs(10)).expect("connect to DATABASE_URL")
}

/// Describes every case; returns one line per mismatch.
fn mismatches(conn: &mut DescribeConn, label: &str) -> Vec<String> {
    let mut out = Vec::new();
    for case in CASES {
        let sql = case.sql;
        match describe(conn, sql) {
            Err(e) => out.push(format!("[{label}] {sql}\n    describe failed: {e}")),
            Ok(desc) => {
                let got: Vec<(String, String, bool)> = desc
                    .columns
                    .iter()
                    .map(|c| (c.name.clone(), c.type_name.clone(), c.nullable))
                    .collect();
                let want: Vec<(String, String, bool)> = case
                    .cols
                    .iter()
                    .map(|&(n, t, x)| (n.to_owned(), t.to_owned(), x))
                    .collect();
                if got != want {
                    out.push(format!(
                        "[{label}] {sql}\n    want {want:?}\n    got  {got:?}"
                    ));
                }
            }
        }
    }
    out
}

fn swap_db(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let base = &base[..base.rfind('/').expect("a URL with a path")];
    match query {
        Some(q) => format!("{base}/{db}?{q}"),
        None => format!("{base}/{db}"),
    }
}

fn pagila_schema() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        std::env::var("LIFEGUARD_PAGILA_DIR").unwrap_or_default(),
        root.join("../shared/fixtures/pagila").display().to_string(),
        "/work/shared/fixtures/pagila".into(),
    ];
    for dir in candidates.iter().filter(|d| !d.is_empty()) {
        if let Ok(text) = std::fs::read_to_string(std::path::Path::new(dir).join("schema.sql")) {
            return text;
        }
    }
    panic!("pagila schema.sql not found (set LIFEGUARD_PAGILA_DIR)");
}

#[test]
fn same_types_on_empty_and_full_databases_before_and_after_analyze() {
    let url = url();
    let mut failures = Vec::new();

    // The full database: statistics reset, then analyzed.
    let mut full = connect(&url);
    full.batch_execute("SELECT pg_stat_reset()").unwrap();
    failures.extend(mismatches(&mut full, "full"));
    full.batch_execute("ANALYZE").unwrap();
    failures.extend(mismatches(&mut full, "full, analyzed"));

    // An empty copy of the schema, never analyzed, then analyzed.
    let db = format!("lg_pagila_empty_{}", std::process::id());
    full.batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    full.batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let empty_url = swap_db(&url, &db);
    connect(&empty_url).batch_execute(&pagila_schema()).unwrap();
    // A fresh session: the dump empties search_path for the session that loads it.
    let mut empty = connect(&empty_url);
    failures.extend(mismatches(&mut empty, "empty"));
    empty.batch_execute("ANALYZE").unwrap();
    failures.extend(mismatches(&mut empty, "empty, analyzed"));
    drop(empty);
    full.batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();

    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn nulls_appear_only_where_the_type_says_option() {
    let mut conn = connect(&url());
    conn.batch_execute(
        "BEGIN;
         -- A film with no inventory and no rating, length, description, year or features; a
         -- customer with no rentals.
         INSERT INTO film (title, language_id, fulltext, rating, length)
             VALUES ('NULL RATED', 1, ''::tsvector, NULL, NULL);
         -- Without an email, living at an address without a postal code.
         INSERT INTO address (address, district, city_id, phone) VALUES ('NOWHERE', 'NONE', 1, '0');
         INSERT INTO customer (store_id, first_name, last_name, address_id)
             VALUES (1, 'NO', 'RENTALS', currval('address_address_id_seq')::int);",
    )
    .unwrap();
    let mut failures = Vec::new();
    for case in CASES {
        let desc = describe(&mut conn, case.sql).unwrap();
        let rows = match conn.query(case.sql, &[]) {
            Ok(rows) => rows,
            Err(e) => {
                failures.push(format!("{}: {e}", case.sql));
                continue;
            }
        };
        for (i, col) in desc.columns.iter().enumerate() {
            let nulls = rows.iter().filter(|r| r[i].is_none()).count();
            if !col.nullable && nulls > 0 {
                failures.push(format!(
                    "{}: column {} is described NOT NULL but {nulls} rows have NULL",
                    case.sql, col.name
                ));
            }
            if case.nulls.contains(&col.name.as_str()) && nulls == 0 {
                failures.push(format!(
                    "{}: column {} was expected to produce NULLs on this data but did not",
                    case.sql, col.name
                ));
            }
        }
    }
    conn.batch_execute("ROLLBACK").unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The origins the analysis compares with RowDescription's: a view's columns come from the
/// view, a CTE's or subquery's from the table underneath, an expression's from nowhere.
#[test]
fn row_description_origins_are_what_the_analysis_expects() {
    let mut conn = connect(&url());
    let oid = |conn: &mut DescribeConn, rel: &str| -> u32 {
        let rows = conn
            .query("SELECT $1::regclass::oid::int8::text", &[rel])
            .unwrap();
        rows[0][0].as_deref().unwrap().parse().unwrap()
    };
    let (actor, view) = (oid(&mut conn, "actor"), oid(&mut conn, "customer_list"));
    let origins = |conn: &mut DescribeConn, sql: &str| -> Vec<(u32, i16)> {
        conn.prepare(sql)
            .unwrap()
            .fields
            .iter()
            .map(|f| (f.table_oid, f.column_id))
            .collect()
    };
    assert_eq!(
        origins(
            &mut conn,
            "WITH t AS (SELECT first_name FROM actor) SELECT s.actor_id, t.first_name, upper(t.first_name) \
             FROM (SELECT actor_id FROM actor) s, t"
        ),
        [(actor, 1), (actor, 2), (0, 0)]
    );
    assert_eq!(
        origins(&mut conn, "SELECT id, name FROM customer_list"),
        [(view, 1), (view, 2)]
    );
}

/// Schema features that hide NULLs behind a NOT NULL column or a trusted name: an
/// inheritance child without the constraint, a foreign partition, an INSTEAD OF trigger
/// deciding what RETURNING sends, a user function overloading a built-in's name. Each is
/// set up in a transaction that is rolled back, described, and run to show the NULLs.
#[test]
fn catalog_features_that_can_hide_nulls() {
    let mut conn = connect(&url());
    conn.batch_execute(
        "BEGIN;
         CREATE TABLE lg_parent (k int NOT NULL, v int NOT NULL);
         CREATE TABLE lg_child () INHERITS (lg_parent);
         ALTER TABLE lg_child ALTER COLUMN v DROP NOT NULL;
         INSERT INTO lg_child VALUES (1, NULL);
         CREATE FUNCTION pg_temp.lg_noop() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
         CREATE TRIGGER lg_instead INSTEAD OF INSERT ON staff_list
             FOR EACH ROW EXECUTE FUNCTION pg_temp.lg_noop();
         CREATE FUNCTION public.initcap(integer) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';
         CREATE TYPE lg_level AS ENUM ('low', 'high');
         CREATE FUNCTION lg_level_of(int) RETURNS lg_level LANGUAGE sql
             AS $$SELECT CASE WHEN $1 > 500 THEN 'high'::lg_level END$$;
         CREATE CAST (integer AS lg_level) WITH FUNCTION lg_level_of(integer);
         CREATE FUNCTION lg_tsv_text(tsvector) RETURNS text LANGUAGE sql AS 'SELECT NULL::text';
         CREATE CAST (tsvector AS text) WITH FUNCTION lg_tsv_text(tsvector) AS IMPLICIT;
         SAVEPOINT fdw;",
    )
    .unwrap();
    // (statement, nullability of each column, the columns the data makes NULL)
    let mut cases: Vec<(&str, &[bool], &[&str])> = vec![
        ("SELECT k, v FROM lg_parent", &[N, Y], &["v"]),
        (
            "INSERT INTO staff_list (name) VALUES ('x') RETURNING id, name, sid",
            &[Y, Y, Y],
            &["id", "sid"],
        ),
        // Once a user's function shares a built-in's name, unqualified calls are unknown
        // (and with the user casts below, so is every call: `upper(title)` too).
        (
            "SELECT initcap(film_id) AS i, initcap(title) AS t, upper(title) AS u FROM film",
            &[Y, Y, Y],
            &["i"],
        ),
        // Casts implemented by a user's function: explicit, of a number literal, implicit.
        (
            "SELECT film_id::lg_level AS lvl, 1::lg_level AS one, upper(fulltext) AS u, film_id AS id FROM film",
            &[Y, Y, Y, N],
            &["lvl", "one", "u"],
        ),
    ];
    // A foreign partition needs file_fdw, which a non-superuser DATABASE_URL cannot create.
    let fdw = conn.batch_execute(
        "CREATE EXTENSION file_fdw;
         CREATE SERVER lg_files FOREIGN DATA WRAPPER file_fdw;
         CREATE TABLE lg_parts (k int NOT NULL, v int NOT NULL) PARTITION BY LIST (k);
         CREATE FOREIGN TABLE lg_parts_1 PARTITION OF lg_parts FOR VALUES IN (1)
             SERVER lg_files OPTIONS (program 'echo 1,', format 'csv');
         CREATE TABLE lg_parts_2 PARTITION OF lg_parts FOR VALUES IN (2);",
    );
    match fdw {
        Ok(()) => cases.push(("SELECT k, v FROM lg_parts", &[Y, Y], &["v"])),
        Err(e) => {
            eprintln!("foreign partition not checked: {e}");
            conn.batch_execute("ROLLBACK TO SAVEPOINT fdw").unwrap();
        }
    }
    let mut failures = Vec::new();
    for (sql, want, nulls) in &cases {
        let desc = describe(&mut conn, sql).unwrap();
        let got: Vec<bool> = desc.columns.iter().map(|c| c.nullable).collect();
        if got != *want {
            failures.push(format!("{sql}: want {want:?}, got {got:?}"));
        }
        let rows = conn.query(sql, &[]).unwrap();
        for (i, col) in desc.columns.iter().enumerate() {
            let expected = nulls.contains(&col.name.as_str());
            let nulls = rows.iter().filter(|r| r[i].is_none()).count();
            if (!want[i] && nulls > 0) || (expected && nulls == 0) {
                failures.push(format!("{sql}: column {} has {nulls} NULLs", col.name));
            }
        }
    }
    conn.batch_execute("ROLLBACK").unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The catalog is read again after a pause, so a long-lived describe connection (an
/// editor's) sees a migration that ran in between.
#[test]
fn the_catalog_cache_does_not_outlive_a_pause() {
    let mut conn = connect(&url());
    let sql = "SELECT first_name FROM actor";
    conn.batch_execute("BEGIN").unwrap();
    assert!(!describe(&mut conn, sql).unwrap().columns[0].nullable);
    conn.batch_execute("ALTER TABLE actor ALTER first_name DROP NOT NULL")
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let after = describe(&mut conn, sql).unwrap().columns[0].nullable;
    conn.batch_execute("ROLLBACK").unwrap();
    assert!(after, "the dropped NOT NULL went unnoticed");
}
