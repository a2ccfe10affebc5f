//! # Lifeguard
//!
//! A coroutine-native PostgreSQL toolkit for the [`may`] runtime: a pipelining driver, a
//! bounded pool, and (in later modules) compile-time checked SQL, a replica router and cache
//! hooks.
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

mod cancel;
pub mod checked;
mod client;
mod config;
mod conn;
mod connect;
mod copy;
mod error;
mod executor;
mod notify;
mod pool;
mod query;
mod row;
mod socket;
mod statement;
#[cfg(feature = "tls")]
mod tls;
mod transaction;
mod types;

pub use cancel::CancelToken;
pub use client::Client;
pub use config::{Config, Host, SslMode};
pub use copy::{CopyInWriter, CopyOutReader};
pub use error::{DbError, Error, ErrorKind, ErrorPosition, Result, SqlState};
pub use executor::{Executor, ToStatement};
pub use notify::{Notification, Notifications};
pub use pool::{IntoConfig, Pool, PoolBuilder, PoolStatus, PooledConnection};
pub use query::{Params, PendingQuery, RowStream};
pub use row::{Row, RowIndex};
pub use statement::{Column, Statement};
pub use transaction::{IsolationLevel, Transaction, TransactionBuilder};

/// Postgres type conversions: implement or derive these for your own types
/// (`#[derive(ToSql, FromSql)]` handles enums, domains and composites).
pub use postgres_types::{FromSql, IsNull, Kind, ToSql, Type};

#[doc(hidden)]
pub use executor::Target;

pub use lifeguard_macros::{
    query, query_as, query_as_unchecked, query_file, query_file_as, query_file_as_unchecked,
    query_file_scalar, query_file_scalar_unchecked, query_file_unchecked, query_scalar,
    query_scalar_unchecked, query_unchecked, PgEnum,
};

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
