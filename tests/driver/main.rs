//! Integration tests of the driver and pool against a real PostgreSQL server
//! (`DATABASE_URL`; `scripts/test.sh` makes sure one is running).

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

pub use support::in_coroutines;

mod auth;
mod copy;
mod errors;
mod notify;
mod pipelining;
mod pool;
mod pool_upkeep;
mod restart;
mod statements;
mod tls;
mod transactions;
mod types;

use lifeguard::{Client, Executor};

/// A client on the test database.
pub fn client() -> Client {
    Client::connect(&support::database_url()).expect("connect to DATABASE_URL")
}

/// A table name unique to this test process and call site, so tests can run in parallel.
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Drops a table when the test ends, whatever happened.
pub struct TempTable {
    client: Client,
    /// The table's name.
    pub name: String,
}

impl TempTable {
    /// Creates `name` with the given column list.
    pub fn create(client: &Client, prefix: &str, columns: &str) -> TempTable {
        let name = unique(prefix);
        client
            .batch_execute(&format!("CREATE TABLE {name} ({columns})"))
            .unwrap();
        TempTable {
            client: client.clone(),
            name,
        }
    }
}

impl Drop for TempTable {
    fn drop(&mut self) {
        let _ = self
            .client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.name));
    }
}
