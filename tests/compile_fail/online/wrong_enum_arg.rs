// A parameter of a Postgres enum type takes the Rust enum derived for that type only.
#[derive(Debug, lifeguard::PgEnum)]
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

// Another enum, derived for another Postgres type.
#[derive(Debug, lifeguard::PgEnum)]
#[lifeguard(type_name = "mood")]
enum Mood {
    Happy,
}

fn main() {
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE rating = $1", Rating::Pg);
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE rating = $1", "PG");
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE rating = $1", Mood::Happy);
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE rating = ANY($1)", &[Rating::G, Rating::R][..]);
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE rating = ANY($1)", vec![Mood::Happy]);
}
