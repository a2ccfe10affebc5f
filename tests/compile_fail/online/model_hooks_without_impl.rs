#[derive(lifeguard::Model)]
#[lifeguard(table = "public.actor", hooks)]
struct Actor {
    #[lifeguard(primary_key, default)]
    actor_id: i32,
    first_name: String,
    last_name: String,
}

// `hooks` without `impl lifeguard::model::Hooks for Actor`.

fn main() {}
