fn main() {
    let _ = lifeguard::query!("SELECT actor_id, middle_name FROM actor");
}
