#[derive(lifeguard::Model)]
#[lifeguard(table = "film")]
struct Film {
    #[lifeguard(primary_key, default)]
    film_id: i32,
    // film.description can be NULL.
    description: String,
}

fn main() {}
