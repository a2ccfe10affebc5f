//! Models on pagila: `#[derive(lifeguard::Model)]` structs checked against the schema at
//! build time, read by key and by typed filters, a relation loaded in one statement, keyset
//! pages, and writes in a transaction that is rolled back (the database is left as it was).
//!
//! Needs the test database with pagila (`eval "$(scripts/ensure-services.sh --print-env)"`
//! loads it), then: `cargo run --example models`.

use lifeguard::model::Changes;
use lifeguard::{Model, Pool};

/// pagila's `mpaa_rating` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, lifeguard::PgEnum)]
#[lifeguard(type_name = "mpaa_rating")]
enum Rating {
    G,
    #[lifeguard(rename = "PG")]
    Pg,
    #[lifeguard(rename = "PG-13")]
    Pg13,
    R,
    #[lifeguard(rename = "NC-17")]
    Nc17,
}

/// A few of `film`'s columns (a model need not map them all).
#[derive(Debug, Clone, Model)]
#[lifeguard(table = "film")]
struct Film {
    #[lifeguard(primary_key, default)]
    film_id: i32,
    title: String,
    length: Option<i16>,
    rating: Option<Rating>,
    #[lifeguard(belongs_to = Language)]
    language_id: i32,
}

#[derive(Debug, Clone, Model)]
#[lifeguard(table = "language")]
struct Language {
    #[lifeguard(primary_key, default)]
    language_id: i32,
    name: String,
}

#[derive(Debug, Clone, Model)]
#[lifeguard(table = "public.actor")]
struct Actor {
    #[lifeguard(primary_key, default)]
    actor_id: i32,
    first_name: String,
    last_name: String,
}

fn main() -> lifeguard::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".into());
    let pool = Pool::builder(url.as_str()).max_size(2).build()?;

    // By key: one constant statement, described at build time.
    let film = Film::find_by_id(&pool, 1)?.expect("pagila has film 1");
    println!(
        "film 1: {} ({:?}, {:?} min)",
        film.title, film.rating, film.length
    );

    // Typed filters (values are parameters; `Film::Title.eq(5)` would not compile).
    let long_pg13 = Film::find()
        .filter(Film::Rating.eq(Rating::Pg13).and(Film::Length.ge(180i16)))
        .order_by(Film::Title.asc())
        .all(&pool)?;
    println!(
        "{} PG-13 films of three hours or more, first: {}",
        long_pg13.len(),
        long_pg13[0].title
    );
    let g_or_nc17 = Film::find()
        .filter(Film::Rating.in_([Rating::G, Rating::Nc17]))
        .count(&pool)?;
    println!("{g_or_nc17} films rated G or NC-17");

    // A relation: every film's language in one more statement (never one per film).
    let languages = Film::language().load(&pool, &long_pg13)?;
    if let Some(Some(lang)) = languages.first() {
        println!("{} is in {}", long_pg13[0].title, lang.name.trim());
    }

    // Keyset pages: a COUNT for the page count, then one statement a page.
    let mut pages = Film::find().filter(Film::Title.like("A%")).paginate(20);
    let count = pages.num_pages(&pool)?;
    let mut seen = 0;
    while let Some(page) = pages.next_page(&pool)? {
        seen += page.len();
    }
    println!("{count} pages of films starting with A, {seen} films");

    // Writes, in a transaction that is rolled back.
    let tx = pool.transaction()?;
    let mut ada = Actor {
        actor_id: 0, // `default`: the sequence assigns it
        first_name: "ADA".into(),
        last_name: "LOVELACE".into(),
    }
    .insert(&tx)?;
    ada.update(&tx, Changes::new().set(Actor::FirstName, "AUGUSTA"))?; // only that column
    println!(
        "inserted and updated actor {}: {} {}",
        ada.actor_id, ada.first_name, ada.last_name
    );
    ada.delete(&tx)?;
    tx.rollback()?;
    println!(
        "rolled back: actor {} {}",
        ada.actor_id,
        if Actor::find_by_id(&pool, ada.actor_id)?.is_none() {
            "is gone"
        } else {
            "is still there?!"
        }
    );
    Ok(())
}
