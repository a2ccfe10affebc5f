//! What a user sees when a checked query is wrong: each file under online/, offline/ and
//! unreachable/ must fail to compile with exactly the message in its `.stderr` file.
//!
//! One test in its own binary, because the three groups need different process
//! environments (a database, offline data only, a dead database) and trybuild builds with
//! the environment of this process.

use std::path::PathBuf;

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn compile_errors_show_the_problem_at_the_call() {
    // Online: the real database (scripts/test.sh exports DATABASE_URL).
    std::env::remove_var("LIFEGUARD_OFFLINE");
    std::env::remove_var("LIFEGUARD_PREPARE_DIR");
    std::env::set_var("DATABASE_URL", support::database_url());
    trybuild::TestCases::new().compile_fail("tests/compile_fail/online/*.rs");

    // Offline, against an empty offline folder: a missing entry says to run prepare.
    let empty = root().join("tests/compile_fail/offline/empty-offline-dir");
    std::env::set_var("LIFEGUARD_OFFLINE", "true");
    std::env::set_var("LIFEGUARD_OFFLINE_DIR", &empty);
    trybuild::TestCases::new().compile_fail("tests/compile_fail/offline/*.rs");
    std::env::remove_var("LIFEGUARD_OFFLINE");
    std::env::remove_var("LIFEGUARD_OFFLINE_DIR");

    // A database that is not there: nothing listens on port 1.
    std::env::set_var("DATABASE_URL", "postgres://lifeguard@127.0.0.1:1/nowhere");
    trybuild::TestCases::new().compile_fail("tests/compile_fail/unreachable/*.rs");
}
