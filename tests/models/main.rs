//! `#[derive(lifeguard::Model)]` against pagila: reads by key and by filter on film, actor
//! and customer (enum, array and nullable columns), and every write on a scratch table
//! inside a transaction that is rolled back.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod reads;
mod writes;

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
