#[derive(lifeguard::Model)]
#[lifeguard(table = "film")]
struct Film {
    #[lifeguard(primary_key, default)]
    film_id: i32,
    title: String,
    directed_by: String,
}

fn main() {}
