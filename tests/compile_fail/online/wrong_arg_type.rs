fn main() {
    let title = "ACADEMY DINOSAUR";
    let _ = lifeguard::query!("SELECT title FROM film WHERE film_id = $1", title);
    let _ = lifeguard::query!("SELECT title FROM film WHERE title = $1", 7i64);
    let _ = lifeguard::query!("SELECT film_id FROM film WHERE special_features @> $1", &[1i32]);
}
