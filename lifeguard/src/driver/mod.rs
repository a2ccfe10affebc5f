//! The driver: one pipelined connection to PostgreSQL and the protocol around it.
//!
//! `config` (URLs, env) → `socket` + `tls` (split streams) → `connect` (startup, auth) →
//! `conn` (writer batching, reader coroutine, exclusivity gate) → `query` / `statement` /
//! `types` / `row` (the extended protocol), with `transaction`, `copy`, `notify` and
//! `cancel` on top; `executor` holds the query methods every handle shares.

pub(crate) mod cancel;
pub(crate) mod client;
pub(crate) mod config;
pub(crate) mod conn;
pub(crate) mod connect;
pub(crate) mod copy;
pub(crate) mod executor;
pub(crate) mod notify;
pub(crate) mod query;
pub(crate) mod row;
pub(crate) mod share;
pub(crate) mod slot;
pub(crate) mod socket;
pub(crate) mod statement;
#[cfg(feature = "tls")]
pub(crate) mod tls;
pub(crate) mod transaction;
pub(crate) mod types;
pub(crate) mod wait;
pub(crate) mod worker;
