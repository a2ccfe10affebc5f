//! Where the checked macros get their descriptions when a user's crate builds: the process
//! environment, `.env`, the offline folder; one connection per compiler process; a connect
//! timeout; a rebuild when a `query_file!` file changes. Each builds a scratch crate.

mod scratch;

use std::time::{Duration, Instant};

use lifeguard::{Client, Executor};
use scratch::{database_url, text, Fixture};

const TWO_QUERIES: &str = r#"
pub fn titles(pool: &lifeguard::Pool) -> lifeguard::Result<Vec<String>> {
    lifeguard::query_scalar!("SELECT title FROM film WHERE film_id < $1", 5).fetch_all(pool)
}
pub fn ids(pool: &lifeguard::Pool) -> lifeguard::Result<Vec<i32>> {
    lifeguard::query_scalar!("SELECT actor_id FROM actor").fetch_all(pool)
}
"#;

/// The URL with another port: nothing answers there.
const DEAD: &str = "postgres://lifeguard:lifeguard@127.0.0.1:1/lifeguard_test";

#[test]
fn dotenv_fills_in_what_the_environment_leaves_out() {
    let fx = Fixture::new("lg-env-dotenv", TWO_QUERIES);
    // No offline folder: a successful build had to describe on the database.
    fx.write(".env", &format!("DATABASE_URL={}\n", database_url()));
    let out = fx.check(None, &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The process environment wins over `.env`.
    let out = fx.check(Some(DEAD), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("cannot connect to the database at 127.0.0.1:1"),
        "{}",
        text(&out)
    );
}

#[test]
fn the_offline_folder_is_used_when_no_database_url_is_set() {
    let fx = Fixture::new("lg-env-offline", TWO_QUERIES);
    let out = fx.check(None, &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("DATABASE_URL is not set and there is no .lifeguard-offline folder"),
        "{}",
        text(&out)
    );
    let out = fx.lifeguard(&["prepare"], Some(&database_url()));
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.check(None, &[]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn one_connection_per_compiler_process() {
    // A database of its own, whose session count only the build moves.
    let admin = Client::connect(&database_url()).unwrap();
    let db = format!("lg_one_conn_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db}"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .unwrap();
    let url = {
        let base = database_url();
        let (base, query) = base.split_once('?').unwrap_or((&base, ""));
        let base = &base[..base.rfind('/').unwrap()];
        format!("{base}/{db}?{query}")
    };
    let sessions = || -> i64 {
        admin
            .batch_execute("SELECT pg_stat_clear_snapshot()")
            .unwrap();
        admin
            .query_one(
                "SELECT coalesce(sessions, 0) FROM pg_stat_database WHERE datname = $1",
                &[&db],
            )
            .unwrap()
            .get(0)
    };
    let before = sessions();
    let queries: String = (1..=6)
        .map(|i| {
            format!(
                "pub fn q{i}(c: &lifeguard::Client) -> lifeguard::Result<Option<i32>> {{\n    \
                 lifeguard::query_scalar!(\"SELECT $1::int4 + {i} AS v\", 1).fetch_one(c)\n}}\n"
            )
        })
        .collect();
    let fx = Fixture::new("lg-env-one-conn", &queries);
    let out = fx.check(Some(&url), &[]);
    assert!(out.status.success(), "{}", text(&out));
    // Session statistics reach the shared counters a moment after a backend ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut opened = sessions() - before;
    while opened < 1 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        opened = sessions() - before;
    }
    std::thread::sleep(Duration::from_millis(1500));
    opened = sessions() - before;
    admin
        .batch_execute(&format!("DROP DATABASE {db} WITH (FORCE)"))
        .unwrap();
    assert_eq!(opened, 1, "six macro calls, one compiler process");
}

#[test]
fn a_server_that_never_answers_hits_the_connect_timeout() {
    // Accepts connections (the kernel does, into the backlog) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let fx = Fixture::new("lg-env-timeout", TWO_QUERIES);
    let url = format!("postgres://lifeguard:lifeguard@127.0.0.1:{port}/lifeguard_test");
    let out = fx.check(Some(&url), &[("LIFEGUARD_CONNECT_TIMEOUT", "1")]);
    drop(silent);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "cannot connect to the database at 127.0.0.1:{port}: no answer within 1 s (LIFEGUARD_CONNECT_TIMEOUT)"
        )),
        "{}",
        text(&out)
    );
}

#[test]
fn query_file_rebuilds_when_its_file_changes() {
    let fx = Fixture::new(
        "lg-env-query-file",
        r#"
pub fn titles(pool: &lifeguard::Pool) -> lifeguard::Result<Vec<String>> {
    lifeguard::query_file_scalar!("q.sql").fetch_all(pool)
}
"#,
    );
    fx.write("q.sql", "SELECT title FROM film");
    let url = database_url();
    let out = fx.check(Some(&url), &[]);
    assert!(out.status.success(), "{}", text(&out));
    // Only the SQL file changes: the next build must see it.
    fx.write("q.sql", "SELECT no_such_column FROM film");
    let out = fx.check(Some(&url), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("column \"no_such_column\" does not exist"),
        "{}",
        text(&out)
    );
}
