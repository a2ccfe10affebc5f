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

/// Re-exported so users need one dependency line.
pub use may;
