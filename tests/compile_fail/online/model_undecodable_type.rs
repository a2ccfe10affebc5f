#[derive(lifeguard::Model)]
#[lifeguard(table = "film")]
struct Film {
    #[lifeguard(primary_key, default)]
    film_id: i32,
    // film.title is text.
    title: i64,
}

fn main() {}
