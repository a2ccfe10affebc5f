#[derive(lifeguard::Model)]
#[lifeguard(table = "film")]
struct Film {
    film_id: i32,
    // film's key is film_id; title is neither the key nor unique.
    #[lifeguard(primary_key)]
    title: String,
}

fn main() {}
