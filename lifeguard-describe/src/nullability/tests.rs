//! Unit tests of the analysis against a small in-memory catalog.

use super::*;

/// `author(id NOT NULL, name NOT NULL, bio)`, `book(id NOT NULL, author_id, title NOT NULL,
/// price)`, `tag(book_id NOT NULL, label)` and views over them.
struct Fake;

fn table(oid: u32, name: &str, cols: &[(&str, bool)]) -> Relation {
    Relation {
        oid,
        schema: "public".into(),
        name: name.into(),
        kind: RelKind::Table,
        columns: cols
            .iter()
            .enumerate()
            .map(|(i, &(n, not_null))| RelColumn {
                name: n.into(),
                attnum: i as i16 + 1,
                not_null,
                exotic: false,
            })
            .collect(),
        view_definition: None,
        has_rules: false,
    }
}

fn view(oid: u32, name: &str, cols: &[&str], def: &str) -> Relation {
    let mut rel = table(
        oid,
        name,
        &cols.iter().map(|c| (*c, false)).collect::<Vec<_>>(),
    );
    rel.kind = RelKind::View;
    rel.view_definition = Some(def.into());
    rel
}

impl Catalog for Fake {
    fn relation(&self, schema: Option<&str>, name: &str) -> Option<Relation> {
        if schema.is_some_and(|s| s != "public") {
            return None;
        }
        Some(match name {
            "author" => table(1, "author", &[("id", true), ("name", true), ("bio", false)]),
            "book" => table(
                2,
                "book",
                &[
                    ("id", true),
                    ("author_id", false),
                    ("title", true),
                    ("price", false),
                ],
            ),
            "tag" => table(3, "tag", &[("book_id", true), ("label", false)]),
            "book_author" => view(
                4,
                "book_author",
                &["title", "name"],
                "SELECT b.title, a.name FROM book b LEFT JOIN author a ON a.id = b.author_id;",
            ),
            "titles" => view(5, "titles", &["title"], " SELECT title FROM book;"),
            "loop_a" => view(6, "loop_a", &["x"], "SELECT x FROM loop_b;"),
            "remote" => {
                let mut rel = table(8, "remote", &[("rid", true)]);
                rel.kind = RelKind::ForeignTable;
                rel
            }
            "loop_b" => view(7, "loop_b", &["x"], "SELECT x FROM loop_a;"),
            // `during` is a NOT NULL daterange.
            "booking" => {
                let mut rel = table(9, "booking", &[("id", true), ("during", true)]);
                rel.columns[1].exotic = true;
                rel
            }
            "Émail" => table(10, "Émail", &[("x", true)]),
            // `outline` is a NOT NULL path.
            "shape" => {
                let mut rel = table(12, "shape", &[("id", true), ("outline", true)]);
                rel.columns[1].exotic = true;
                rel
            }
            "émail" => table(11, "émail", &[("x", false)]),
            _ => return None,
        })
    }

    fn relation_by_oid(&self, _oid: u32) -> Option<Relation> {
        None
    }

    fn user_function(&self, name: &str) -> bool {
        // As if the schema had `public.initcap(integer)` and `public.floor(integer)`, which
        // unqualified calls with an integer reach instead of the built-ins.
        name == "initcap" || name == "floor"
    }

    fn user_casts(&self) -> bool {
        false
    }
}

/// Nullability of each column as a string of `N` (never NULL) and `Y` (may be NULL), or
/// `None` when the analysis gave up.
fn shape(sql: &str) -> Option<String> {
    let cols = analyze::statement_columns(sql, &Fake)?;
    Some(
        cols.iter()
            .map(|c| if c.nullable { 'Y' } else { 'N' })
            .collect(),
    )
}

#[track_caller]
fn check(sql: &str, want: &str) {
    assert_eq!(shape(sql).as_deref(), Some(want), "{sql}");
}

#[test]
fn table_columns_follow_not_null() {
    check("SELECT id, name, bio FROM author", "NNY");
    check("SELECT * FROM book", "NYNY");
    check("SELECT a.*, 1 FROM author a", "NNYN");
    check("SELECT \"ID\" FROM author", "Y"); // quoted: no such column, so unknown
    check("SELECT ID FROM public.author", "N");
}

#[test]
fn outer_joins_make_the_padded_side_nullable() {
    check(
        "SELECT a.id, b.id FROM author a LEFT JOIN book b ON b.author_id = a.id",
        "NY",
    );
    check(
        "SELECT a.id, b.id FROM author a RIGHT JOIN book b ON b.author_id = a.id",
        "YN",
    );
    check(
        "SELECT a.id, b.id FROM author a FULL JOIN book b ON b.author_id = a.id",
        "YY",
    );
    check(
        "SELECT a.id, b.id FROM author a JOIN book b ON b.author_id = a.id",
        "NN",
    );
    check("SELECT a.id, b.id FROM author a, book b", "NN");
    // Nested: the inner join's columns are padded by the outer LEFT JOIN.
    check(
        "SELECT a.id, b.id, t.book_id FROM author a LEFT JOIN (book b JOIN tag t ON t.book_id = b.id) ON b.author_id = a.id",
        "NYY",
    );
    // Chains: a later LEFT JOIN does not undo an earlier one.
    check(
        "SELECT b.id, t.book_id FROM author a LEFT JOIN book b ON b.author_id = a.id JOIN tag t ON t.book_id = b.id",
        "YN",
    );
    check(
        "SELECT a.id FROM author a LEFT JOIN book b ON true RIGHT JOIN tag t ON true",
        "Y",
    );
}

#[test]
fn using_and_natural_merge_columns() {
    check("SELECT id FROM author FULL JOIN book USING (id)", "N");
    check("SELECT * FROM author FULL JOIN book USING (id)", "NYYYYY");
    check(
        "SELECT book_id FROM tag t LEFT JOIN tag u USING (book_id)",
        "N",
    );
    check("SELECT id FROM author NATURAL JOIN book", "N");
}

#[test]
fn lateral_subqueries() {
    check(
        "SELECT a.id, x.title FROM author a LEFT JOIN LATERAL (SELECT title FROM book WHERE author_id = a.id LIMIT 1) x ON true",
        "NY",
    );
    check(
        "SELECT a.id, x.title FROM author a CROSS JOIN LATERAL (SELECT title FROM book WHERE author_id = a.id) x",
        "NN",
    );
    check("SELECT x.t FROM (SELECT title AS t FROM book) AS x", "N");
    check("SELECT x.c FROM (SELECT title FROM book) AS x(c)", "N");
}

#[test]
fn aggregates_and_grouping() {
    check(
        "SELECT count(*), count(bio), max(id), sum(price), array_agg(id) FROM author, book",
        "NNYYY",
    );
    check("SELECT author_id, max(id), max(price), array_agg(price), count(*) FROM book GROUP BY author_id", "YNYNN");
    check(
        "SELECT max(id) FILTER (WHERE price > 1) FROM book GROUP BY author_id",
        "Y",
    );
    check(
        "SELECT id, max(title), grouping(id) FROM book GROUP BY ROLLUP (id)",
        "YYN",
    );
    check("SELECT id, count(*) FROM book GROUP BY CUBE (id)", "YN");
    check(
        "SELECT id, title FROM book GROUP BY GROUPING SETS ((id), (title))",
        "YY",
    );
    check("SELECT stddev(price) FROM book GROUP BY id", "Y");
    // The grand total exists even over no rows.
    check("SELECT max(id) FROM book GROUP BY ()", "Y");
}

#[test]
fn found_in_review_each_could_yield_null() {
    // A row compares as NULL when a field is NULL, though the row itself is a value.
    check(
        "SELECT (id, price) = (id, 1), ROW(id, price) < ROW(id, 2), (id, price) IN ((1, 1)), (id, title) = (1, 'a') FROM book",
        "YYYN",
    );
    // Set-returning functions of different lengths pad the shorter with NULLs.
    check("SELECT generate_series(1, 3), generate_series(1, 1)", "YY");
    // extract / date_part / to_char of 'infinity' are NULL.
    check(
        "SELECT extract(month FROM now()), to_char(now(), 'YYYY'), date_part('month', now())",
        "YYY",
    );
    // UPDATE / DELETE targets are tables even when a CTE has the same name.
    check(
        "WITH book AS (SELECT 1 AS price, 1 AS id) UPDATE book SET title = title RETURNING price",
        "Y",
    );
    check(
        "WITH tag AS (SELECT 1 AS label) DELETE FROM tag RETURNING label",
        "Y",
    );
    // Under WITH RECURSIVE a later CTE is visible in an earlier one.
    check(
        "WITH RECURSIVE a AS (SELECT id FROM book), book AS (SELECT NULL::int AS id) SELECT id FROM a",
        "Y",
    );
    // Grouping sets null out the outer query's columns seen from a subquery too.
    check(
        "SELECT 1 IN (SELECT b.id) FROM book b GROUP BY ROLLUP (b.id)",
        "Y",
    );
    check("SELECT 1 IN (SELECT b.id) FROM book b", "N");
    // An aggregate of outer columns belongs to the outer query.
    check(
        "SELECT 1 IN (SELECT max(b.id) FROM author a GROUP BY a.id) FROM book b",
        "Y",
    );
    check(
        "SELECT 1 IN (SELECT max(a.id) FROM author a GROUP BY a.name) FROM book b",
        "N",
    );
    // NOT NULL is not enforced on foreign tables.
    check("SELECT rid FROM remote", "Y");
}

#[test]
fn window_functions() {
    check(
        "SELECT row_number() OVER (), rank() OVER (ORDER BY id), lag(id) OVER (), sum(id) OVER () FROM book",
        "NNYY",
    );
}

#[test]
fn expressions() {
    check(
        "SELECT 1, 'a', NULL, $1, true, 1.5, DATE '2020-01-01'",
        "NNYYNNN",
    );
    check(
        "SELECT b.id + 1, price + 1, title || '!', bio || '!' FROM book b, author",
        "NYNY",
    );
    check("SELECT coalesce(price, 0), coalesce(price, NULL), greatest(price, 1), nullif(id, 1) FROM book", "NYNY");
    check(
        "SELECT CASE WHEN id > 1 THEN 'a' ELSE 'b' END, CASE WHEN id > 1 THEN 'a' END FROM book",
        "NY",
    );
    check("SELECT CASE id WHEN 1 THEN price ELSE 0 END FROM book", "Y");
    check(
        "SELECT price IS NULL, price IS DISTINCT FROM 1, id IN (1, 2), price IN (1) FROM book",
        "NNNY",
    );
    check(
        "SELECT EXISTS (SELECT 1 FROM tag), (SELECT max(id) FROM tag), ARRAY(SELECT id FROM tag)",
        "NYN",
    );
    check(
        "SELECT id IN (SELECT book_id FROM tag), id IN (SELECT label FROM tag) FROM book",
        "NY",
    );
    check(
        "SELECT id::text, CAST(price AS int), price::int FROM book",
        "NYY",
    );
    check(
        "SELECT lower(title), lower(bio), length(title), now(), my_func(id) FROM book, author",
        "NYNNY",
    );
    check(
        "SELECT concat(bio, 'x'), concat_ws(',', bio), public.lower(title) FROM author, book",
        "NNY",
    );
    check(
        "SELECT title LIKE 'a%', bio LIKE 'a%', b.id BETWEEN 1 AND 2 FROM book b, author",
        "NYN",
    );
    check(
        "SELECT ARRAY[price], ROW(price), (id, price) FROM book",
        "NNN",
    );
    check(
        "SELECT substring(title from 1 for 2), extract(year from now()), extract(month from now()) FROM book",
        "NNY",
    );
    // A regular expression that does not match gives NULL.
    check(
        "SELECT substring(title from 'x+'), substring(title, 'x+') FROM book",
        "YY",
    );
}

#[test]
fn set_operations_and_values() {
    check(
        "SELECT id, bio FROM author UNION ALL SELECT id, title FROM book",
        "NY",
    );
    check("SELECT id FROM author UNION SELECT NULL", "Y");
    check(
        "SELECT bio FROM author INTERSECT SELECT title FROM book",
        "N",
    );
    check("SELECT id FROM author EXCEPT SELECT NULL::int", "N");
    check("VALUES (1, NULL), (2, 'x')", "NY");
    check("SELECT v.a FROM (VALUES (1), (2)) v(a)", "N");
}

#[test]
fn ctes_including_recursive_ones() {
    check(
        "WITH x AS (SELECT id, price FROM book) SELECT * FROM x",
        "NY",
    );
    check("WITH x(a) AS (SELECT price FROM book) SELECT a FROM x", "Y");
    check(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5) SELECT i FROM n",
        "N",
    );
    // The recursive term brings NULLs in: found on the second round.
    check(
        "WITH RECURSIVE n(i, p) AS (SELECT 1, 1 UNION ALL SELECT i + 1, p + NULL FROM n WHERE i < 5) SELECT i, p FROM n",
        "NY",
    );
    // A CTE shadows a table of the same name.
    check(
        "WITH book AS (SELECT NULL::int AS id) SELECT id FROM book",
        "Y",
    );
}

#[test]
fn views_are_analysed_from_their_definition() {
    check("SELECT title, name FROM book_author", "NY");
    check("SELECT * FROM titles", "N");
    // Views referring to each other: the depth limit ends the walk, the answer is unknown.
    check("SELECT x FROM loop_a", "Y");
}

#[test]
fn returning_uses_the_target_table() {
    check(
        "INSERT INTO book (title) VALUES ('t') RETURNING id, author_id, title",
        "NYN",
    );
    check("UPDATE book SET price = NULL RETURNING id, price", "NY");
    check("DELETE FROM tag t RETURNING t.book_id, t.label", "NY");
    check(
        "INSERT INTO tag (book_id) VALUES (1) ON CONFLICT (book_id) DO UPDATE SET label = EXCLUDED.label RETURNING *",
        "NY",
    );
    check(
        "WITH d AS (DELETE FROM tag RETURNING book_id) SELECT book_id FROM d",
        "N",
    );
}

#[test]
fn unknowns_are_nullable_and_never_panic() {
    assert_eq!(shape("SELECT * FROM missing"), None);
    assert_eq!(shape("SELECT * FROM generate_series(1, 3)"), None);
    assert_eq!(shape("SELEC oops"), None);
    assert_eq!(shape("SELECT 1; SELECT 2"), None);
    check("SELECT id FROM author, book", "Y"); // ambiguous
    check("SELECT nope FROM author", "Y");

    let named = |names: &[&str]| {
        names
            .iter()
            .map(|n| OutputColumn {
                name: (*n).into(),
                table_oid: 0,
                column_id: 0,
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        infer("SELECT id, bio FROM author", &named(&["id", "bio"]), &Fake),
        [false, true]
    );
    // A column count that does not match the server's description: all nullable.
    assert_eq!(
        infer("SELECT id FROM author", &named(&["id", "x"]), &Fake),
        [true, true]
    );
    assert_eq!(infer("not sql at all", &named(&["x"]), &Fake), [true]);

    // Names the analysis is sure of must match the server's, position by position.
    let sql = "SELECT id, bio, upper(name) FROM author";
    let want = [false, true, false];
    assert_eq!(infer(sql, &named(&["id", "bio", "upper"]), &Fake), want);
    assert_eq!(
        infer(sql, &named(&["bio", "id", "upper"]), &Fake),
        [true; 3]
    );
    // Postgres cuts names at 63 bytes.
    let long = "x".repeat(70);
    let sql = format!("SELECT id AS {long} FROM author");
    assert_eq!(infer(&sql, &named(&[&long[..63]]), &Fake), [false]);
}

#[test]
fn lower_and_upper_of_ranges_may_be_null() {
    // An empty or unbounded range has no lower / upper bound.
    check("SELECT lower(during), upper(during) FROM booking", "YY");
    check("SELECT lower(b.during) FROM booking b", "Y");
    check(
        "SELECT lower(d) FROM (SELECT during AS d FROM booking) s",
        "Y",
    );
    check(
        "SELECT upper(x) FROM (SELECT during AS x FROM booking UNION SELECT during FROM booking) u",
        "Y",
    );
    check(
        "SELECT lower(x::daterange) FROM (VALUES ('[2020-01-01,)')) v(x)",
        "Y",
    );
    // Strings stay strings.
    check(
        "SELECT lower(name), upper(name || 'x'), lower('A'), upper(title::text) FROM author, book",
        "NNNN",
    );
    check("SELECT lower(n) FROM (SELECT name AS n FROM author) s", "N");
    check("SELECT upper(lower(name)) FROM author", "N");
    check("SELECT lower(bio) FROM author", "Y");
}

#[test]
fn grouping_keys_of_any_shape_are_nulled_by_grouping_sets() {
    check(
        "SELECT coalesce(bio, 'x') AS b, count(*) FROM author GROUP BY ROLLUP (1)",
        "YN",
    );
    check(
        "SELECT 1 AS k, count(*) FROM author GROUP BY CUBE (k)",
        "YN",
    );
    check(
        "SELECT upper(name), count(*)::int4, GROUPING(name) FROM author GROUP BY ROLLUP (name)",
        "YNN",
    );
    // An outer column grouped in a LATERAL subquery's ROLLUP.
    check(
        "SELECT x.k FROM author a CROSS JOIN LATERAL (SELECT a.id AS k, count(*) FROM book b GROUP BY ROLLUP (a.id)) x",
        "Y",
    );
}

#[test]
fn identifiers_fold_ascii_letters_only() {
    // Postgres folds `Émail` to `Émail`, not `émail`.
    check("SELECT x FROM Émail", "N");
    check("SELECT x FROM \"émail\"", "Y");
}

#[test]
fn origins_from_row_description_must_agree() {
    let cols = |origins: &[(&str, u32, i16)]| {
        origins
            .iter()
            .map(|&(n, table_oid, column_id)| OutputColumn {
                name: n.into(),
                table_oid,
                column_id,
            })
            .collect::<Vec<_>>()
    };
    let sql = "SELECT id AS a, name AS b, bio AS c FROM author";
    // author is OID 1: id, name, bio are attnums 1, 2, 3.
    let right = cols(&[("a", 1, 1), ("b", 1, 2), ("c", 1, 3)]);
    assert_eq!(infer(sql, &right, &Fake), [false, false, true]);
    // The server reports no origin: nothing to compare.
    let none = cols(&[("a", 0, 0), ("b", 0, 0), ("c", 0, 0)]);
    assert_eq!(infer(sql, &none, &Fake), [false, false, true]);
    // An origin that is not the column the analysis resolved: it is lost, so all nullable.
    let swapped = cols(&[("a", 1, 3), ("b", 1, 2), ("c", 1, 1)]);
    assert_eq!(infer(sql, &swapped, &Fake), [true, true, true]);
    // Through a subquery, a CTE and a view the origin is the underlying relation's.
    let sql = "WITH t AS (SELECT name FROM author) SELECT s.id, t.name, v.title \
               FROM (SELECT id FROM book) s, t, titles v";
    let right = cols(&[("id", 2, 1), ("name", 1, 2), ("title", 5, 1)]);
    assert_eq!(infer(sql, &right, &Fake), [false, false, false]);
    let wrong = cols(&[("id", 1, 1), ("name", 1, 2), ("title", 5, 1)]);
    assert_eq!(infer(sql, &wrong, &Fake), [true, true, true]);
}

#[test]
fn arithmetic_on_geometric_values_may_be_null() {
    // A closed path plus a path is NULL.
    check(
        "SELECT outline + outline, outline - outline, id + 1, id * 2 FROM shape",
        "YYNN",
    );
    check("SELECT p + p FROM (SELECT outline AS p FROM shape) s", "Y");
    check(
        "SELECT coalesce(outline, outline) + outline FROM shape",
        "Y",
    );
    check("SELECT '((0,0),(1,1))'::path + '[(0,0),(1,1)]'::path", "Y");
    check("SELECT count(*) + 1, length(name) * 2 FROM author", "NN");
}

#[test]
fn whole_rows_of_a_padded_side_may_be_null() {
    check(
        "SELECT row_to_json(b.*), to_json(b.*), count(b.*) FROM author a LEFT JOIN book b ON b.author_id = a.id GROUP BY a.id",
        "YYN",
    );
}

#[test]
fn guessed_names_and_unknown_aliases_never_resolve_a_reference() {
    // Postgres names the subquery's column `title`; the analysis cannot tell, so `title`
    // inside must not fall through to the outer, NOT NULL `book.title`.
    check(
        "SELECT x.t FROM book b CROSS JOIN LATERAL (SELECT title AS t FROM (SELECT (SELECT bio FROM author LIMIT 1)) s) x",
        "Y",
    );
    check("SELECT s.count FROM (SELECT count(*) FROM author) s", "Y");
    check("SELECT s.n FROM (SELECT count(*) AS n FROM author) s", "N");
    // A FROM item the analysis does not model hides the alias it may carry.
    let sql = "SELECT s.v FROM author x, LATERAL (SELECT x.id AS v \
               FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS id int PATH 'id') AS x) s";
    check(sql, "Y");
    // Names are cut to 63 bytes, as Postgres does.
    let p = "a".repeat(63);
    check(
        &format!("SELECT l.v FROM (SELECT 1 AS {p}y) o, LATERAL (SELECT {p}y AS v FROM (SELECT bio AS {p}x FROM author) i) l"),
        "Y",
    );
}

#[test]
fn a_user_function_may_shadow_a_built_in_name() {
    check(
        "SELECT initcap(name), pg_catalog.initcap(name), upper(name) FROM author",
        "YNN",
    );
}

#[test]
fn schema_qualified_column_references_are_not_resolved() {
    // `public.book.title` skips a subquery aliased `book`; the scopes do not record schemas.
    check("SELECT public.book.title, book.title FROM book", "YN");
}

#[test]
fn typed_geometric_literals_are_exotic() {
    check(
        "SELECT path '((0,0),(1,1))' + path '[(0,0),(1,1)]', DATE '2020-01-01' + 1",
        "YN",
    );
}

#[test]
fn qualified_stars_respect_unknown_and_shared_aliases() {
    let sql = "SELECT s.v FROM author x, LATERAL (SELECT x.* \
               FROM XMLTABLE('/r' PASSING '<r/>' COLUMNS id int PATH 'id') AS x) s(v)";
    assert_ne!(shape(sql).as_deref().map(|s| &s[..1]), Some("N"), "{sql}");
    // Two FROM items called `a`: which one `a.*` means is not told.
    assert_eq!(shape("SELECT a.* FROM author a, public.book a"), None);
}

#[test]
fn special_syntax_calls_functions_by_name_too() {
    check(
        "SELECT floor(id), ceil(id), substring(name FROM 1 FOR 2) FROM author",
        "YNN",
    );
}

#[test]
fn natural_and_using_joins_need_names_postgres_uses() {
    // Postgres calls the first subquery's column `text`, not `?column?`.
    check(
        "SELECT \"?column?\" FROM (SELECT 'x'::text) a NATURAL LEFT JOIN (SELECT 1 AS \"?column?\") b",
        "Y",
    );
    let sql = "SELECT * FROM (SELECT 'x'::text, 1 AS k) a \
               LEFT JOIN (SELECT 1 AS \"?column?\") b USING (\"?column?\")";
    assert!(
        shape(sql).is_none_or(|s| !s.contains('N')),
        "a USING join on a guessed name leaves nothing known: {sql}"
    );
    // Certain names still merge.
    check(
        "SELECT id FROM author JOIN (SELECT 1 AS id) x USING (id)",
        "N",
    );
}

#[test]
fn intervals_window_numbers_format_and_extract() {
    check(
        "SELECT now() - interval '30 days', row_number() OVER () - 1, count(*) OVER () / 20.0, format('%s', bio), extract(epoch FROM now()), extract(day FROM now()) FROM author",
        "NNNNNY",
    );
}

#[test]
fn scalar_subqueries_that_aggregate_return_one_row() {
    let one = |inner: &str| format!("SELECT ({inner}) FROM author a");
    check(
        &one("SELECT count(*) FROM book b WHERE b.author_id = a.id"),
        "N",
    );
    check(
        &one("SELECT coalesce(sum(b.price), 0) FROM book b WHERE b.author_id = a.id"),
        "N",
    );
    check(&one("SELECT count(b.id) + 1 FROM book b"), "N");
    check(
        &one("SELECT max(b.price) FROM book b WHERE b.author_id = a.id"),
        "Y",
    );
    // No row at all: the aggregate is the outer query's, or rows are filtered or grouped.
    check(&one("SELECT count(a.id) FROM book b"), "Y");
    check(
        &one("SELECT count(*) FILTER (WHERE a.id > 1) FROM book b"),
        "Y",
    );
    check(&one("SELECT count(*) FROM book b HAVING count(*) > 1"), "Y");
    check(
        &one("SELECT count(*) FROM book b GROUP BY b.author_id"),
        "Y",
    );
    check(&one("SELECT count(*) FROM book b LIMIT 0"), "Y");
    check(&one("SELECT count(*) OVER () FROM book b"), "Y");
    check(&one("SELECT b.id FROM book b LIMIT 1"), "Y");
    // A set-returning function anywhere can leave no row.
    check(
        &one("SELECT count(*) FROM book b ORDER BY generate_series(1, 0)"),
        "Y",
    );
    check(
        &one("SELECT DISTINCT ON (generate_series(1, 0)) count(*) FROM book b"),
        "Y",
    );
    check(
        &one("SELECT count(*) + (generate_series(1, 0) IS NOT NULL)::int FROM book b"),
        "Y",
    );
    check(&one("SELECT DISTINCT count(*) FROM book b"), "N");
}
