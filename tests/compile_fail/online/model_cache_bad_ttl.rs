#[derive(lifeguard::Model)]
#[lifeguard(table = "language", cache(ttl = "a while"))]
struct Language {
    #[lifeguard(primary_key, default)]
    language_id: i32,
    name: String,
}

fn main() {}
