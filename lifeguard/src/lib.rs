//! # Lifeguard
//!
//! A coroutine-native PostgreSQL toolkit for the [`may`] runtime: a pipelining driver, a
//! bounded pool, compile-time checked SQL, SQL-file migrations ([`mod@migrate`],
//! [`migrate!`]), per-test databases ([`testing`], `#[lifeguard::test]`) and a WAL-aware
//! replica [`Router`] with read-your-writes, models ([`mod@model`]), and Redis cache hooks
//! ([`cache`]) kept fresh by the [`reflector`].
//!
//! ```no_run
//! use lifeguard::{Client, Executor};
//!
//! let client = Client::connect("postgres://postgres@127.0.0.1/postgres")?;
//! let row = client.query_one("SELECT $1::int4 + 1", &[&41i32])?;
//! assert_eq!(row.get::<_, i32>(0), 42);
//! # Ok::<(), lifeguard::Error>(())
//! ```
//!
//! Every handle is usable from `may` coroutines and from plain threads. A [`Client`] may be
//! cloned into thousands of coroutines: their queries are pipelined over one connection and
//! each gets its own results back.
#![warn(missing_docs)]

pub mod cache;
pub mod checked;
mod driver;
mod error;
pub mod migrate;
pub mod model;
mod observe;
mod pool;
pub mod reflector;
mod router;
pub mod testing;

pub use driver::cancel::CancelToken;
pub use driver::client::Client;
pub use driver::config::{Config, Host, SslMode};
pub use driver::conn::SyncStats;
pub use driver::copy::{CopyInWriter, CopyOutReader};
pub use driver::executor::{Executor, ToStatement};
pub use driver::notify::{Notification, Notifications};
pub use driver::query::{Params, PendingQuery, RowStream};
pub use driver::row::{Row, RowIndex};
pub use driver::statement::{Column, Statement};
pub use driver::transaction::{IsolationLevel, Transaction, TransactionBuilder};
pub use error::{DbError, Error, ErrorKind, ErrorPosition, Result, SqlState};
pub use pool::{IntoConfig, Pool, PoolBuilder, PoolCounters, PoolStatus, PooledConnection};
pub use router::{
    CausalToken, Lsn, ReadPreference, ReplicaState, ReplicaStatus, Route, Router, RouterBuilder,
    RouterStatus,
};

/// Postgres type conversions: implement or derive these for your own types
/// (`#[derive(ToSql, FromSql)]` handles enums, domains and composites).
pub use postgres_types::{FromSql, IsNull, Kind, ToSql, Type};

#[doc(hidden)]
pub use driver::executor::Target;

pub use lifeguard_macros::{
    query, query_as, query_as_unchecked, query_file, query_file_as, query_file_as_unchecked,
    query_file_scalar, query_file_scalar_unchecked, query_file_unchecked, query_scalar,
    query_scalar_unchecked, query_unchecked, PgEnum,
};

/// Models: `#[derive(Model)]` maps a struct to a table, checked at build time (see
/// [`mod@model`]); the trait of the same name holds the CRUD methods.
pub use lifeguard_macros::Model;
pub use model::Model;

/// `migrate!()` embeds `<crate>/migrations` (or `migrate!("path")`, relative to the crate
/// root) in the binary as a [`migrate::Migrator`]: `lifeguard::migrate!().run(&pool)?`.
///
/// The files are included with `include_str!`, so editing one rebuilds the crate. Cargo
/// does not notice a *new* file on its own: add a `build.rs` to the crate with
/// `println!("cargo:rerun-if-changed=migrations");`. Malformed file names are compile errors.
pub use lifeguard_macros::migrate;

/// `#[lifeguard::test]`: runs a test against its own fresh database.
///
/// The database is created on `DATABASE_URL`'s server (read from the environment or
/// `.env`), gets the crate's `migrations/` folder applied (if it exists) and the optional
/// fixture files run, and is dropped when the test ends, pass or fail. The test body runs
/// in a `may` coroutine and may take a `&Pool` (or `Pool`) argument. Tests can run in
/// parallel under plain `cargo test`.
///
/// ```ignore
/// #[lifeguard::test]
/// fn counts_notes(pool: &lifeguard::Pool) {
///     let n: i64 = pool.query_one("SELECT count(*) FROM notes", &[]).unwrap().get(0);
///     assert_eq!(n, 0);
/// }
///
/// #[lifeguard::test(migrations = "db/migrations", fixtures("fixtures/users.sql"))]
/// fn with_users(pool: &lifeguard::Pool) -> Result<(), lifeguard::Error> {
///     pool.execute("UPDATE users SET seen = now()", &[])?;
///     Ok(())
/// }
///
/// #[lifeguard::test(migrations = false)]
/// fn empty_database(pool: &lifeguard::Pool) {}
/// ```
///
/// Paths are relative to the crate root. The returned value may be `()` or a `Result`
/// whose error is `Debug` (an `Err` fails the test).
pub use lifeguard_macros::test;

/// Items the macros' expansions name. Not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::checked::compat::{check, sql, unchecked, Encodes};
    pub use bytes::BytesMut;
    #[cfg(feature = "chrono")]
    pub use chrono;
    pub use postgres_types::to_sql_checked;
    #[cfg(feature = "decimal")]
    pub use rust_decimal;
    #[cfg(feature = "json")]
    pub use serde_json;
    #[cfg(feature = "time")]
    pub use time;
    #[cfg(feature = "uuid")]
    pub use uuid;
}

/// Re-exported so users need one dependency line.
pub use may;
