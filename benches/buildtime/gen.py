#!/usr/bin/env python3
"""Generate the two crates of the build-time benchmark: `lg_queries` (lifeguard) and
`sqlx_queries` (sqlx 0.9). Both hold the same 100 pagila queries, character for character,
each inside its own function so the expansion is type-checked and compiled.

    python3 gen.py --out /work/bench-target/buildtime [--count 100]

Each crate has a cargo feature `empty` that compiles the crate without its queries (the
0-query baseline that isolates the per-query cost).
"""

import argparse
import os
import shutil
import textwrap

# Parameter kinds -> Rust types, the same for both libraries.
RUST = {
    "i16": "i16",
    "i32": "i32",
    "i64": "i64",
    "str": "&str",
    "dec": "rust_decimal::Decimal",
    "ts": "chrono::DateTime<chrono::Utc>",
    "i32s": "&[i32]",
    "bool": "bool",
    "date": "chrono::NaiveDate",
    "strs": "&[String]",
}


def queries():
    """The 100 statements: (sql, [param kinds in $n order])."""
    q = []

    # 1. Point lookups on film, different projections (5).
    for cols in [
        "film_id, title, description",
        "film_id, title, rental_rate, replacement_cost",
        "title, length, rental_duration, last_update",
        "film_id, title, special_features, rating::text AS rating",
        "title, release_year::int4 AS release_year, language_id, original_language_id",
    ]:
        q.append((f"SELECT {cols} FROM film WHERE film_id = $1", ["i32"]))

    # 2. Film range filters with ORDER BY / LIMIT (6).
    for where, order, kinds in [
        ("length BETWEEN $1 AND $2", "length DESC, title", ["i16", "i16"]),
        ("rental_rate <= $1", "rental_rate, title", ["dec"]),
        ("replacement_cost > $1 AND length < $2", "replacement_cost DESC", ["dec", "i16"]),
        ("rental_duration = $1", "title", ["i16"]),
        ("title ILIKE $1", "title", ["str"]),
        ("$1 = ANY(special_features)", "film_id", ["str"]),
    ]:
        n = len(kinds) + 1
        q.append((
            f"SELECT film_id, title, length, rental_rate\nFROM film\nWHERE {where}\nORDER BY {order}\nLIMIT ${n}",
            kinds + ["i64"],
        ))

    # 3. Actor <-> film joins (6).
    q.append(("SELECT f.film_id, f.title\nFROM film f\nJOIN film_actor fa ON fa.film_id = f.film_id\nWHERE fa.actor_id = $1\nORDER BY f.title", ["i32"]))
    q.append(("SELECT a.actor_id, a.first_name, a.last_name\nFROM actor a\nJOIN film_actor fa ON fa.actor_id = a.actor_id\nWHERE fa.film_id = $1\nORDER BY a.last_name, a.first_name", ["i32"]))
    q.append(("SELECT a.first_name, a.last_name, count(*) AS films\nFROM actor a\nJOIN film_actor fa USING (actor_id)\nGROUP BY a.actor_id, a.first_name, a.last_name\nHAVING count(*) >= $1\nORDER BY films DESC", ["i64"]))
    q.append(("SELECT a.actor_id, a.last_name, f.title, f.length\nFROM actor a\nJOIN film_actor fa USING (actor_id)\nJOIN film f USING (film_id)\nWHERE a.last_name = $1 AND f.length > $2", ["str", "i16"]))
    q.append(("SELECT a.actor_id, max(f.length) AS longest, min(f.length) AS shortest\nFROM actor a\nLEFT JOIN film_actor fa ON fa.actor_id = a.actor_id\nLEFT JOIN film f ON f.film_id = fa.film_id\nGROUP BY a.actor_id", []))
    q.append(("SELECT a1.actor_id AS first_actor, a2.actor_id AS second_actor, count(*) AS together\nFROM film_actor a1\nJOIN film_actor a2 ON a1.film_id = a2.film_id AND a1.actor_id < a2.actor_id\nWHERE a1.actor_id = $1\nGROUP BY a1.actor_id, a2.actor_id\nORDER BY together DESC\nLIMIT 10", ["i32"]))

    # 4. Categories (6).
    q.append(("SELECT c.name, count(*) AS films\nFROM category c\nJOIN film_category fc USING (category_id)\nGROUP BY c.name\nORDER BY films DESC", []))
    q.append(("SELECT c.name, avg(f.length) AS avg_length\nFROM category c\nJOIN film_category fc USING (category_id)\nJOIN film f USING (film_id)\nGROUP BY c.name\nHAVING avg(f.length) > $1", ["dec"]))
    q.append(("SELECT f.film_id, f.title, c.name AS category\nFROM film f\nJOIN film_category fc ON fc.film_id = f.film_id\nJOIN category c ON c.category_id = fc.category_id\nWHERE c.name = $1\nORDER BY f.title", ["str"]))
    q.append(("SELECT c.category_id, c.name, sum(p.amount) AS revenue\nFROM category c\nJOIN film_category fc ON fc.category_id = c.category_id\nJOIN inventory i ON i.film_id = fc.film_id\nJOIN rental r ON r.inventory_id = i.inventory_id\nJOIN payment p ON p.rental_id = r.rental_id\nGROUP BY c.category_id, c.name\nORDER BY revenue DESC", []))
    q.append(("SELECT c.name, f.title, f.rental_rate,\n       rank() OVER (PARTITION BY c.category_id ORDER BY f.rental_rate DESC) AS price_rank\nFROM category c\nJOIN film_category fc USING (category_id)\nJOIN film f USING (film_id)", []))
    q.append(("SELECT c.name, count(DISTINCT fa.actor_id) AS actors\nFROM category c\nJOIN film_category fc USING (category_id)\nJOIN film_actor fa USING (film_id)\nWHERE c.category_id = ANY($1)\nGROUP BY c.name", ["i32s"]))

    # 5. Customers and addresses (8).
    q.append(("SELECT cu.customer_id, cu.first_name, cu.last_name, cu.email\nFROM customer cu\nWHERE cu.customer_id = $1", ["i32"]))
    q.append(("SELECT cu.customer_id, cu.email, a.address, a.phone\nFROM customer cu\nJOIN address a ON a.address_id = cu.address_id\nWHERE cu.store_id = $1 AND cu.activebool", ["i32"]))
    q.append(("SELECT cu.first_name, cu.last_name, ci.city, co.country\nFROM customer cu\nJOIN address a USING (address_id)\nJOIN city ci USING (city_id)\nJOIN country co USING (country_id)\nWHERE co.country = $1\nORDER BY cu.last_name", ["str"]))
    q.append(("SELECT co.country, count(*) AS customers\nFROM country co\nJOIN city ci USING (country_id)\nJOIN address a USING (city_id)\nJOIN customer cu USING (address_id)\nGROUP BY co.country\nHAVING count(*) > $1\nORDER BY customers DESC", ["i64"]))
    q.append(("SELECT ci.city_id, ci.city, count(a.address_id) AS addresses\nFROM city ci\nLEFT JOIN address a ON a.city_id = ci.city_id\nGROUP BY ci.city_id, ci.city\nORDER BY addresses DESC, ci.city\nLIMIT $1", ["i64"]))
    q.append(("SELECT customer_id, create_date, last_update, active\nFROM customer\nWHERE create_date >= $1 AND store_id = $2", ["date", "i32"]))
    q.append(("SELECT cu.customer_id, lower(cu.email) AS email, a.postal_code, a.district\nFROM customer cu\nJOIN address a USING (address_id)\nWHERE a.district = $1 AND a.postal_code IS NOT NULL", ["str"]))
    q.append(("SELECT cu.customer_id, cu.first_name || ' ' || cu.last_name AS full_name\nFROM customer cu\nWHERE cu.last_name ILIKE $1 OR cu.first_name ILIKE $1\nORDER BY full_name", ["str"]))

    # 6. Payments: aggregates over dates and amounts (10).
    q.append(("SELECT customer_id, sum(amount) AS total, count(*) AS payments\nFROM payment\nWHERE payment_date >= $1 AND payment_date < $2\nGROUP BY customer_id\nORDER BY total DESC\nLIMIT 20", ["ts", "ts"]))
    q.append(("SELECT date_trunc('month', payment_date) AS month, sum(amount) AS revenue\nFROM payment\nGROUP BY 1\nORDER BY 1", []))
    q.append(("SELECT staff_id, sum(amount) AS revenue, avg(amount) AS average\nFROM payment\nWHERE payment_date >= $1\nGROUP BY staff_id", ["ts"]))
    q.append(("SELECT payment_id, customer_id, amount, payment_date\nFROM payment\nWHERE amount > $1\nORDER BY amount DESC, payment_date", ["dec"]))
    q.append(("SELECT payment_id, rental_id, amount\nFROM payment\nWHERE customer_id = $1\nORDER BY payment_date DESC", ["i32"]))
    q.append(("SELECT extract(dow FROM payment_date) AS weekday, count(*) AS payments, sum(amount) AS revenue\nFROM payment\nGROUP BY 1\nORDER BY 1", []))
    q.append(("SELECT customer_id, max(amount) AS biggest, min(payment_date) AS first_payment\nFROM payment\nGROUP BY customer_id\nHAVING max(amount) >= $1", ["dec"]))
    q.append(("SELECT p.payment_id, p.amount, s.first_name AS staff_first, s.last_name AS staff_last\nFROM payment p\nJOIN staff s ON s.staff_id = p.staff_id\nWHERE p.payment_date BETWEEN $1 AND $2", ["ts", "ts"]))
    q.append(("SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY amount) AS median_amount,\n       stddev(amount) AS spread\nFROM payment\nWHERE customer_id = $1", ["i32"]))
    q.append(("SELECT customer_id, payment_date, amount,\n       sum(amount) OVER (PARTITION BY customer_id ORDER BY payment_date) AS running_total\nFROM payment\nWHERE customer_id = ANY($1)", ["i32s"]))

    # 7. Rentals (10).
    q.append(("SELECT r.rental_id, r.rental_date, r.customer_id\nFROM rental r\nWHERE r.return_date IS NULL\nORDER BY r.rental_date", []))
    q.append(("SELECT r.rental_id, f.title, r.rental_date, r.return_date\nFROM rental r\nJOIN inventory i USING (inventory_id)\nJOIN film f USING (film_id)\nWHERE r.customer_id = $1\nORDER BY r.rental_date DESC", ["i32"]))
    q.append(("SELECT cu.customer_id, cu.email, f.title, r.rental_date\nFROM rental r\nJOIN customer cu USING (customer_id)\nJOIN inventory i USING (inventory_id)\nJOIN film f USING (film_id)\nWHERE r.return_date IS NULL\n  AND r.rental_date < $1", ["ts"]))
    q.append(("SELECT f.film_id, f.title, count(r.rental_id) AS rentals\nFROM film f\nLEFT JOIN inventory i ON i.film_id = f.film_id\nLEFT JOIN rental r ON r.inventory_id = i.inventory_id\nGROUP BY f.film_id, f.title\nORDER BY rentals DESC\nLIMIT $1", ["i64"]))
    q.append(("SELECT r.staff_id, count(*) AS rentals, count(r.return_date) AS returned\nFROM rental r\nWHERE r.rental_date >= $1\nGROUP BY r.staff_id", ["ts"]))
    q.append(("SELECT rental_id, extract(epoch FROM return_date - rental_date) / 86400 AS days_out\nFROM rental\nWHERE return_date IS NOT NULL AND customer_id = $1", ["i32"]))
    q.append(("SELECT i.store_id, count(*) AS rentals\nFROM rental r\nJOIN inventory i ON i.inventory_id = r.inventory_id\nWHERE r.rental_date BETWEEN $1 AND $2\nGROUP BY i.store_id", ["ts", "ts"]))
    q.append(("SELECT r.rental_id, r.inventory_id, r.last_update\nFROM rental r\nWHERE r.inventory_id = $1\nORDER BY r.rental_date DESC\nLIMIT 1", ["i32"]))
    q.append(("SELECT cu.customer_id, count(*) FILTER (WHERE r.return_date IS NULL) AS outstanding,\n       count(*) AS total\nFROM customer cu\nJOIN rental r USING (customer_id)\nGROUP BY cu.customer_id\nHAVING count(*) FILTER (WHERE r.return_date IS NULL) > 0", []))
    q.append(("SELECT r.rental_id, f.title, f.rental_duration,\n       r.rental_date + f.rental_duration * interval '1 day' < now() AS overdue\nFROM rental r\nJOIN inventory i USING (inventory_id)\nJOIN film f USING (film_id)\nWHERE r.return_date IS NULL AND r.customer_id = $1", ["i32"]))

    # 8. Inventory and stores (8).
    q.append(("SELECT i.inventory_id, f.title\nFROM inventory i\nJOIN film f USING (film_id)\nWHERE i.store_id = $1\n  AND NOT EXISTS (\n    SELECT 1 FROM rental r\n    WHERE r.inventory_id = i.inventory_id AND r.return_date IS NULL)", ["i32"]))
    q.append(("SELECT film_id, store_id, count(*) AS copies\nFROM inventory\nGROUP BY film_id, store_id\nHAVING count(*) >= $1", ["i64"]))
    q.append(("SELECT i.inventory_id, i.store_id, i.last_update\nFROM inventory i\nWHERE i.film_id = $1 AND i.store_id = $2", ["i32", "i32"]))
    q.append(("SELECT f.film_id, f.title\nFROM film f\nWHERE NOT EXISTS (SELECT 1 FROM inventory i WHERE i.film_id = f.film_id)\nORDER BY f.title", []))
    q.append(("SELECT s.store_id, st.first_name AS manager_first, st.last_name AS manager_last, a.address, ci.city\nFROM store s\nJOIN staff st ON st.staff_id = s.manager_staff_id\nJOIN address a ON a.address_id = s.address_id\nJOIN city ci ON ci.city_id = a.city_id", []))
    q.append(("SELECT s.store_id, count(DISTINCT i.film_id) AS titles, count(i.inventory_id) AS copies\nFROM store s\nLEFT JOIN inventory i ON i.store_id = s.store_id\nGROUP BY s.store_id", []))
    q.append(("SELECT st.staff_id, st.username, st.email, st.active, st.picture\nFROM staff st\nWHERE st.store_id = $1", ["i32"]))
    q.append(("SELECT s.store_id, sum(p.amount) AS revenue\nFROM store s\nJOIN staff st ON st.store_id = s.store_id\nJOIN payment p ON p.staff_id = st.staff_id\nWHERE p.payment_date >= $1\nGROUP BY s.store_id", ["ts"]))

    # 9. CTEs, recursive CTEs, LATERAL, set operations (14).
    q.append(("WITH spend AS (\n  SELECT customer_id, sum(amount) AS total FROM payment GROUP BY customer_id\n)\nSELECT cu.customer_id, cu.email, s.total\nFROM spend s\nJOIN customer cu USING (customer_id)\nWHERE s.total > $1\nORDER BY s.total DESC", ["dec"]))
    q.append(("WITH popular AS (\n  SELECT i.film_id, count(*) AS rentals\n  FROM rental r JOIN inventory i USING (inventory_id)\n  GROUP BY i.film_id\n  ORDER BY rentals DESC\n  LIMIT $1\n)\nSELECT f.title, p.rentals, f.rental_rate\nFROM popular p\nJOIN film f USING (film_id)", ["i64"]))
    q.append(("WITH RECURSIVE days(d) AS (\n  SELECT $1::date\n  UNION ALL\n  SELECT d + 1 FROM days WHERE d < $2\n)\nSELECT d AS day, (SELECT count(*) FROM rental r WHERE r.rental_date::date = d) AS rentals\nFROM days", ["date", "date"]))
    q.append(("WITH first_rental AS (\n  SELECT customer_id, min(rental_date) AS first_at FROM rental GROUP BY customer_id\n)\nSELECT cu.customer_id, cu.first_name, fr.first_at\nFROM customer cu\nLEFT JOIN first_rental fr USING (customer_id)\nWHERE cu.store_id = $1", ["i32"]))
    q.append(("SELECT cu.customer_id, last3.rental_id, last3.rental_date\nFROM customer cu\nCROSS JOIN LATERAL (\n  SELECT r.rental_id, r.rental_date FROM rental r\n  WHERE r.customer_id = cu.customer_id\n  ORDER BY r.rental_date DESC LIMIT 3\n) last3\nWHERE cu.store_id = $1", ["i32"]))
    q.append(("SELECT a.actor_id, top.title, top.length\nFROM actor a\nLEFT JOIN LATERAL (\n  SELECT f.title, f.length FROM film f\n  JOIN film_actor fa USING (film_id)\n  WHERE fa.actor_id = a.actor_id\n  ORDER BY f.length DESC NULLS LAST LIMIT 1\n) top ON true\nWHERE a.actor_id <= $1", ["i32"]))
    q.append(("SELECT first_name, last_name, 'actor' AS kind FROM actor WHERE last_name = $1\nUNION ALL\nSELECT first_name, last_name, 'customer' FROM customer WHERE last_name = $1", ["str"]))
    q.append(("SELECT first_name FROM actor\nINTERSECT\nSELECT first_name FROM customer\nORDER BY 1", []))
    q.append(("SELECT email FROM customer WHERE store_id = $1\nEXCEPT\nSELECT email FROM staff\nORDER BY 1", ["i32"]))
    q.append(("WITH monthly AS (\n  SELECT customer_id, date_trunc('month', payment_date) AS month, sum(amount) AS total\n  FROM payment GROUP BY 1, 2\n)\nSELECT customer_id, month, total,\n       total - lag(total) OVER (PARTITION BY customer_id ORDER BY month) AS change\nFROM monthly\nWHERE customer_id = $1", ["i32"]))
    q.append(("WITH ranked AS (\n  SELECT f.film_id, f.title, fc.category_id,\n         row_number() OVER (PARTITION BY fc.category_id ORDER BY f.replacement_cost DESC) AS rn\n  FROM film f JOIN film_category fc USING (film_id)\n)\nSELECT film_id, title, category_id FROM ranked WHERE rn <= $1", ["i64"]))
    q.append(("SELECT f.title,\n       (SELECT count(*) FROM inventory i WHERE i.film_id = f.film_id) AS copies,\n       (SELECT max(r.rental_date) FROM rental r JOIN inventory i USING (inventory_id) WHERE i.film_id = f.film_id) AS last_rented\nFROM film f\nWHERE f.film_id = ANY($1)", ["i32s"]))
    q.append(("SELECT c.name, f.rental_duration, count(*) AS films\nFROM film f JOIN film_category fc USING (film_id) JOIN category c USING (category_id)\nGROUP BY ROLLUP (c.name, f.rental_duration)", []))
    q.append(("SELECT co.country, ci.city, count(cu.customer_id) AS customers\nFROM country co\nJOIN city ci USING (country_id)\nLEFT JOIN address a USING (city_id)\nLEFT JOIN customer cu USING (address_id)\nWHERE co.country_id = $1\nGROUP BY GROUPING SETS ((co.country), (co.country, ci.city))", ["i32"]))

    # 10. Expressions: CASE, COALESCE, strings, arrays (10).
    q.append(("SELECT film_id, title,\n       CASE WHEN length < 60 THEN 'short' WHEN length < 120 THEN 'feature' ELSE 'long' END AS bucket\nFROM film\nWHERE language_id = $1", ["i32"]))
    q.append(("SELECT customer_id, coalesce(email, first_name || '@unknown') AS contact\nFROM customer\nWHERE active = $1", ["i32"]))
    q.append(("SELECT a.address_id, coalesce(a.address2, '') AS address2, coalesce(a.postal_code, 'n/a') AS postal_code\nFROM address a\nWHERE a.city_id = $1", ["i32"]))
    q.append(("SELECT film_id, upper(title) AS title, length(description) AS description_length\nFROM film\nWHERE description ILIKE $1", ["str"]))
    q.append(("SELECT film_id, array_length(special_features, 1) AS feature_count, special_features\nFROM film\nWHERE special_features @> $1", ["strs"]))
    q.append(("SELECT c.name, array_agg(f.title ORDER BY f.title) AS titles\nFROM category c JOIN film_category fc USING (category_id) JOIN film f USING (film_id)\nWHERE c.category_id = $1\nGROUP BY c.name", ["i32"]))
    q.append(("SELECT a.actor_id, string_agg(f.title, ', ' ORDER BY f.title) AS filmography\nFROM actor a JOIN film_actor fa USING (actor_id) JOIN film f USING (film_id)\nWHERE a.actor_id = $1\nGROUP BY a.actor_id", ["i32"]))
    q.append(("SELECT i.store_id, array_agg(DISTINCT i.film_id) AS film_ids\nFROM inventory i\nWHERE i.film_id < $1\nGROUP BY i.store_id", ["i32"]))
    q.append(("SELECT film_id, round(rental_rate / rental_duration, 2) AS rate_per_day,\n       replacement_cost / nullif(rental_rate, 0) AS rentals_to_break_even\nFROM film\nORDER BY rate_per_day DESC\nLIMIT $1", ["i64"]))
    q.append(("SELECT l.language_id, trim(l.name) AS name, count(f.film_id) AS films\nFROM language l\nLEFT JOIN film f USING (language_id)\nGROUP BY l.language_id, l.name", []))

    # 11. Views (4).
    q.append(("SELECT fid, title, category, price, length\nFROM film_list\nWHERE category = $1", ["str"]))
    q.append(("SELECT category, total_sales\nFROM sales_by_film_category\nORDER BY total_sales DESC", []))
    q.append(("SELECT store, manager, total_sales\nFROM sales_by_store", []))
    q.append(("SELECT id, name, address, phone, city, country, sid\nFROM staff_list\nWHERE sid = $1", ["i32"]))

    # 12. Existence and counts (5).
    q.append(("SELECT EXISTS (SELECT 1 FROM customer WHERE email = $1) AS taken", ["str"]))
    q.append(("SELECT count(*) AS rentals FROM rental WHERE customer_id = $1 AND rental_date >= $2", ["i32", "ts"]))
    q.append(("SELECT count(DISTINCT customer_id) AS customers, count(DISTINCT inventory_id) AS items\nFROM rental\nWHERE staff_id = $1", ["i32"]))
    q.append(("SELECT c.customer_id\nFROM customer c\nWHERE c.customer_id IN (\n  SELECT p.customer_id FROM payment p GROUP BY p.customer_id HAVING sum(p.amount) > $1\n)", ["dec"]))
    q.append(("SELECT f.film_id, f.title\nFROM film f\nWHERE f.film_id NOT IN (SELECT fa.film_id FROM film_actor fa)\n  AND f.rental_rate = $1", ["dec"]))

    # 13. INSERT / UPDATE / DELETE ... RETURNING (8).
    q.append(("INSERT INTO actor (first_name, last_name)\nVALUES ($1, $2)\nRETURNING actor_id, last_update", ["str", "str"]))
    q.append(("INSERT INTO category (name)\nVALUES ($1)\nRETURNING category_id, name", ["str"]))
    q.append(("INSERT INTO rental (rental_date, inventory_id, customer_id, staff_id)\nVALUES (now(), $1, $2, $3)\nRETURNING rental_id, rental_date", ["i32", "i32", "i32"]))
    q.append(("INSERT INTO film_actor (actor_id, film_id)\nVALUES ($1, $2)\nON CONFLICT DO NOTHING\nRETURNING actor_id, film_id", ["i32", "i32"]))
    q.append(("UPDATE rental\nSET return_date = now()\nWHERE rental_id = $1 AND return_date IS NULL\nRETURNING rental_id, return_date", ["i32"]))
    q.append(("UPDATE film\nSET rental_rate = rental_rate + $1, last_update = now()\nWHERE film_id = $2\nRETURNING film_id, rental_rate, last_update", ["dec", "i32"]))
    q.append(("UPDATE customer\nSET email = $1, activebool = $2\nWHERE customer_id = $3\nRETURNING customer_id, email, activebool", ["str", "bool", "i32"]))
    q.append(("DELETE FROM film_actor\nWHERE actor_id = $1 AND film_id = $2\nRETURNING last_update", ["i32", "i32"]))

    assert len(q) == 100, len(q)
    sqls = [s for s, _ in q]
    assert len(set(sqls)) == len(sqls), "statements must be distinct"
    return q


def raw(sql):
    """A Rust raw string literal holding `sql` exactly."""
    hashes = "#"
    while '"' + hashes in sql:
        hashes += "#"
    return f'r{hashes}"{sql}"{hashes}'


def params(kinds):
    return "".join(f", p{i + 1}: {RUST[k]}" for i, k in enumerate(kinds))


def args(kinds):
    return "".join(f",\n        p{i + 1}" for i in range(len(kinds)))


def lg_fn(n, sql, kinds):
    return (
        f"pub fn q{n:03}(pool: &lifeguard::Pool{params(kinds)}) -> lifeguard::Result<usize> {{\n"
        f"    Ok(lifeguard::query!(\n        {raw(sql)}{args(kinds)}\n    )\n"
        f"    .fetch_all(pool)?\n    .len())\n}}\n"
    )


def sqlx_fn(n, sql, kinds):
    return (
        f"pub async fn q{n:03}(pool: &sqlx::PgPool{params(kinds)}) -> Result<usize, sqlx::Error> {{\n"
        f"    Ok(sqlx::query!(\n        {raw(sql)}{args(kinds)}\n    )\n"
        f"    .fetch_all(pool)\n    .await?\n    .len())\n}}\n"
    )


CARGO = {
    "lg_queries": """\
[package]
name = "lg_queries"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[features]
empty = []   # compile without the queries (the 0-query baseline)

[dependencies]
lifeguard = {{ path = "{lifeguard}" }}   # default features: tls, json, uuid, chrono, time, decimal
chrono = {{ version = "0.4", default-features = false }}
rust_decimal = "1"
""",
    "sqlx_queries": """\
[package]
name = "sqlx_queries"
version = "0.0.0"
edition = "2021"
publish = false

[workspace]

[features]
empty = []   # compile without the queries (the 0-query baseline)

[dependencies]
# The same type features as lifeguard's defaults (tls, json, uuid, chrono, time, decimal), plus
# sqlx-toml: with both chrono and time, sqlx.toml must say which one the macros use (lifeguard
# picks chrono when both are on).
sqlx = {{ version = "=0.9.0", default-features = false, features = ["postgres", "macros", "runtime-tokio", "tls-rustls-ring-webpki", "json", "uuid", "chrono", "time", "rust_decimal", "sqlx-toml"] }}
chrono = {{ version = "0.4", default-features = false }}
rust_decimal = "1"
""",
}

LIB = {
    "lg_queries": """\
//! Generated by benches/buildtime/gen.py: {count} checked lifeguard queries on pagila.
#![allow(clippy::all)]

#[cfg(not(feature = "empty"))]
mod queries;
#[cfg(not(feature = "empty"))]
pub use queries::*;

/// Keeps the crate using lifeguard when built with `--features empty`.
pub fn ping(pool: &lifeguard::Pool) -> lifeguard::Result<u64> {{
    lifeguard::Executor::execute(pool, "SELECT 1", &[])
}}
""",
    "sqlx_queries": """\
//! Generated by benches/buildtime/gen.py: {count} checked sqlx queries on pagila.
#![allow(clippy::all)]

#[cfg(not(feature = "empty"))]
mod queries;
#[cfg(not(feature = "empty"))]
pub use queries::*;

/// Keeps the crate using sqlx when built with `--features empty`.
pub async fn ping(pool: &sqlx::PgPool) -> Result<u64, sqlx::Error> {{
    Ok(sqlx::query("SELECT 1").execute(pool).await?.rows_affected())
}}
""",
}


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/work/bench-target/buildtime")
    ap.add_argument("--count", type=int, default=100, help="how many of the 100 queries to emit")
    ap.add_argument("--lifeguard", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../lifeguard")))
    ap.add_argument("--lockfile", default=None, help="Cargo.lock to seed lg_queries with (keeps lifeguard's tested versions)")
    a = ap.parse_args()

    qs = queries()[: a.count]
    for crate, fn in [("lg_queries", lg_fn), ("sqlx_queries", sqlx_fn)]:
        root = os.path.join(a.out, crate)
        write(os.path.join(root, "Cargo.toml"), CARGO[crate].format(lifeguard=a.lifeguard))
        write(os.path.join(root, "src/lib.rs"), LIB[crate].format(count=len(qs)))
        body = "//! Generated by benches/buildtime/gen.py. Do not edit.\n\n" + "\n".join(
            fn(i + 1, sql, kinds) for i, (sql, kinds) in enumerate(qs)
        )
        write(os.path.join(root, "src/queries.rs"), body)
        if crate == "sqlx_queries":
            write(os.path.join(root, "sqlx.toml"), '[macros.preferred-crates]\ndate-time = "chrono"\n')
        if crate == "lg_queries" and a.lockfile and not os.path.exists(os.path.join(root, "Cargo.lock")):
            shutil.copy(a.lockfile, os.path.join(root, "Cargo.lock"))
    print(f"generated {len(qs)} queries in {a.out}/{{lg_queries,sqlx_queries}}")


if __name__ == "__main__":
    main()
