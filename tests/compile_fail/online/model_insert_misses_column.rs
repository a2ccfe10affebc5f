// actor.last_name is NOT NULL without a default: every insert must set it.

#[derive(lifeguard::Model)]
#[lifeguard(table = "actor")]
struct NoField {
    #[lifeguard(primary_key, default)]
    actor_id: i32,
    first_name: String,
}

#[derive(lifeguard::Model)]
#[lifeguard(table = "actor")]
struct LeftToServer {
    #[lifeguard(primary_key, default)]
    actor_id: i32,
    first_name: String,
    #[lifeguard(default)]
    last_name: String,
}

fn main() {}
