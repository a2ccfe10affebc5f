//! Reading a select piece by piece on pagila's `film`: the row stream, keyset pagination
//! (`after`) and the paginator, each checked against plain SQL, with statement counts.

use lifeguard::Executor;

use crate::reads::Film;
use crate::{pool, statements};

fn ids(films: &[Film]) -> Vec<i32> {
    films.iter().map(|f| f.film_id).collect()
}

fn sql_ids(e: &impl Executor, sql: &str) -> Vec<i32> {
    e.query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, i32>(0))
        .collect()
}

#[test]
fn stream_yields_the_rows_of_all_in_one_statement() {
    let pool = pool();
    let q = Film::find()
        .filter(Film::Title.like("C%"))
        .order_by(Film::Title.desc());
    let all = q.all(&pool).unwrap();
    assert!(all.len() > 50);
    let (streamed, sent) = statements(|| {
        q.stream(&pool)
            .unwrap()
            .collect::<lifeguard::Result<Vec<Film>>>()
            .unwrap()
    });
    assert_eq!(streamed, all);
    assert_eq!(sent.len(), 1);
    // Taking a few and dropping the rest is fine, and the pool stays usable.
    let first: Vec<Film> = Film::find()
        .order_by(Film::FilmId.asc())
        .stream(&pool)
        .unwrap()
        .take(3)
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids(&first), [1, 2, 3]);
    assert_eq!(Film::find().count(&pool).unwrap(), 1000);
}

#[test]
fn after_continues_the_order_with_a_row_comparison() {
    let pool = pool();
    // Titles are unique in pagila, but the key is appended anyway so the order is total.
    let all = Film::find().order_by(Film::Title.asc()).all(&pool).unwrap();
    let q = Film::find()
        .order_by(Film::Title.asc())
        .after(&all[9])
        .limit(5);
    assert!(
        q.sql()
            .ends_with("WHERE (\"title\", \"film_id\") > ($1, $2) ORDER BY \"title\" ASC, \"film_id\" ASC LIMIT $3"),
        "{}",
        q.sql()
    );
    assert_eq!(q.all(&pool).unwrap(), all[10..15]);

    // No order: the key's. With a filter: both conditions.
    let q = Film::find()
        .filter(Film::Title.like("A%").or(Film::Title.like("B%")))
        .after(&all[0]);
    assert!(
        q.sql().contains(
            "WHERE ((\"title\" LIKE $1) OR (\"title\" LIKE $2)) AND (\"film_id\") > ($3)"
        ),
        "{}",
        q.sql()
    );
    let want = sql_ids(
        &pool,
        &format!(
            "SELECT film_id FROM film WHERE (title LIKE 'A%' OR title LIKE 'B%') AND film_id > {} ORDER BY film_id",
            all[0].film_id
        ),
    );
    assert_eq!(ids(&q.all(&pool).unwrap()), want);

    // Mixed directions (many films share a rental rate): the expanded predicate.
    let all = Film::find()
        .order_by(Film::RentalRate.desc())
        .order_by(Film::Title.asc())
        .after(&Film::find_by_id(&pool, 1).unwrap().unwrap())
        .sql();
    assert!(all.contains(" OR "), "{all}");
    let ordered = sql_ids(
        &pool,
        "SELECT film_id FROM film ORDER BY rental_rate DESC, title ASC, film_id DESC",
    );
    let pivot = Film::find_by_id(&pool, ordered[99]).unwrap().unwrap();
    let next = Film::find()
        .order_by(Film::RentalRate.desc())
        .order_by(Film::Title.asc())
        .after(&pivot)
        .limit(50)
        .all(&pool)
        .unwrap();
    assert_eq!(ids(&next), ordered[100..150]);
}

#[test]
fn paginate_counts_pages_in_one_statement_and_walks_them_by_keyset() {
    let pool = pool();
    let all = sql_ids(
        &pool,
        "SELECT film_id FROM film WHERE film_id > 10 ORDER BY film_id",
    );
    assert_eq!(all.len(), 990);
    let mut pages = Film::find().filter(Film::FilmId.gt(10)).paginate(300);
    let (n, sent) = statements(|| pages.num_pages(&pool).unwrap());
    assert_eq!((n, sent.len()), (4, 1));
    assert!(sent[0].starts_with("SELECT count(*)"), "{}", sent[0]);
    assert_eq!(pages.num_items(&pool).unwrap(), 990);

    let (walked, sent) = statements(|| {
        let mut walked = Vec::new();
        while let Some(page) = pages.next_page(&pool).unwrap() {
            walked.push(ids(&page));
        }
        walked
    });
    // 300, 300, 300, 90: the short last page ends the walk without another statement.
    assert_eq!(
        walked.iter().map(Vec::len).collect::<Vec<_>>(),
        [300, 300, 300, 90]
    );
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[1].contains("(\"film_id\") > ($2)"), "{}", sent[1]);
    assert_eq!(walked.concat(), all);
    assert_eq!(pages.next_page(&pool).unwrap(), None);
    // Jumping to a page by offset.
    assert_eq!(ids(&pages.page(&pool, 2).unwrap()), all[600..900]);
    assert!(pages.page(&pool, 4).unwrap().is_empty());

    // Nothing matches: no pages, and the walk ends at once.
    let mut none = Film::find().filter(Film::FilmId.lt(0)).paginate(10);
    assert_eq!(none.num_pages(&pool).unwrap(), 0);
    assert_eq!(none.next_page(&pool).unwrap(), None);
}
