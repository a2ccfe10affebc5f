use chrono::{DateTime, Utc};

#[derive(lifeguard::Model)]
#[lifeguard(table = "lifeguard_models.post")]
struct Post {
    #[lifeguard(primary_key, default)]
    post_id: i64,
    title: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    // A live row has no deletion time: the mark must be an Option.
    #[lifeguard(soft_delete)]
    deleted_at: DateTime<Utc>,
}

fn main() {}
