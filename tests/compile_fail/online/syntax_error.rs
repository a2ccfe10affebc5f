fn main() {
    let _ = lifeguard::query!("SELECT actor_id FORM actor");
}
