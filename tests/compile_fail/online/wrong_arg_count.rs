fn main() {
    let _ = lifeguard::query!("SELECT title FROM film WHERE film_id = $1 AND rental_duration = $2", 1i32);
    let _ = lifeguard::query!("SELECT title FROM film WHERE film_id = $1", 1i32, 2i16);
}
