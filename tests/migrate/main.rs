//! Integration tests of migrations and the per-test database fixture, against a real server
//! (`DATABASE_URL`). Every test works in a database of its own, so they run in parallel.

mod fixture;
mod runner;

use lifeguard::migrate::Migrator;
use lifeguard::testing::TestDatabase;
use lifeguard::{Client, Executor};

/// A fresh, empty database (no migrations applied).
pub fn fresh() -> TestDatabase {
    TestDatabase::builder()
        .create()
        .expect("create a test database")
}

/// A new connection to the test database.
pub fn connect(db: &TestDatabase) -> Client {
    Client::connect_with(db.config()).expect("connect to the test database")
}

/// A migrator from inline `(file name, SQL)` pairs.
pub fn files(list: &[(&str, &str)]) -> Migrator {
    Migrator::from_files(list.iter().map(|(n, s)| (n.to_string(), s.to_string())))
        .expect("valid migration files")
}

/// `(version, success)` of every history row.
pub fn history(c: &impl Executor) -> Vec<(i64, bool)> {
    c.query(
        "SELECT version, success FROM _lifeguard_migrations ORDER BY version",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

/// True when a relation of that name exists.
pub fn exists(c: &impl Executor, relation: &str) -> bool {
    c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&relation])
        .unwrap()
        .get(0)
}

/// Advisory locks held in the current database, by anyone.
pub fn advisory_locks(c: &impl Executor) -> i64 {
    c.query_one(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' \
         AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
        &[],
    )
    .unwrap()
    .get(0)
}
