//! The checked-SQL macros against the pagila schema: types, nullability, overrides, enums,
//! and every fetch method on every executor.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod basics;
mod executors;
mod pipelined;
mod shared_sync;
mod variants;

/// pagila's `mpaa_rating`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, lifeguard::PgEnum)]
#[lifeguard(type_name = "mpaa_rating")]
pub enum Rating {
    G,
    #[lifeguard(rename = "PG")]
    Pg,
    #[lifeguard(rename = "PG-13")]
    Pg13,
    R,
    #[lifeguard(rename = "NC-17")]
    Nc17,
}

/// A pool on the test database.
pub fn pool() -> lifeguard::Pool {
    lifeguard::Pool::builder(support::database_url().as_str())
        .max_size(2)
        .build()
        .expect("pool")
}
