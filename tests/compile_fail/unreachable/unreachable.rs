fn main() {
    let _ = lifeguard::query!("SELECT 1 AS one");
}
