struct Film {
    film_id: i32,
    description: String,
}

fn main() {
    let _ = lifeguard::query_as!(Film, "SELECT film_id, description FROM film");
}
