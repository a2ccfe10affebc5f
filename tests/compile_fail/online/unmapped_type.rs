fn main() {
    let _ = lifeguard::query!("SELECT film_id, rating FROM film");
    let _ = lifeguard::query!("SELECT fulltext FROM film");
}
