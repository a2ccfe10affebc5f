fn main() {
    let _ = lifeguard::query!("SELECT 'this query was never prepared' AS never");
}
