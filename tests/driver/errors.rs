//! Server errors carry their SQLSTATE and fields; timeouts and cancels are typed errors
//! that leave the connection usable.

use std::time::{Duration, Instant};

use lifeguard::{Client, Config, ErrorKind, ErrorPosition, Executor, SqlState};

use crate::{client, support, TempTable};

#[test]
fn syntax_error_carries_sqlstate_and_position() {
    let c = client();
    let err = c.query("SELECT 1 FROM WHERE x", &[]).unwrap_err();
    let db = err.as_db_error().expect("a server error");
    assert_eq!(db.code(), &SqlState::SYNTAX_ERROR);
    assert_eq!(db.position(), Some(&ErrorPosition::Original(15)));
    assert!(db.message().contains("WHERE"), "{}", db.message());
    // Batches report it too.
    let err = c.batch_execute("SELEC 1").unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    assert_eq!(
        c.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );
}

#[test]
fn constraint_errors_carry_detail_and_constraint_name() {
    let c = client();
    let t = TempTable::create(&c, "uniq", "id int4 CONSTRAINT lg_uniq_pk PRIMARY KEY");
    let sql = format!("INSERT INTO {} VALUES ($1)", t.name);
    c.execute(sql.as_str(), &[&1i32]).unwrap();
    let err = c.execute(sql.as_str(), &[&1i32]).unwrap_err();
    let db = err.as_db_error().unwrap();
    assert_eq!(db.code(), &SqlState::UNIQUE_VIOLATION);
    assert_eq!(db.constraint(), Some("lg_uniq_pk"));
    assert_eq!(db.table(), Some(t.name.as_str()));
    assert!(
        db.detail().unwrap().contains("(id)=(1)"),
        "{:?}",
        db.detail()
    );
    let err = c.query("SELECT nope FROM pg_class", &[]).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN));
}

#[test]
fn cancelled_query_fails_with_57014_and_connection_lives_on() {
    let c = client();
    let token = c.cancel_token();
    let canceller = may::go!(move || {
        may::coroutine::sleep(Duration::from_millis(300));
        token.cancel_query().unwrap();
    });
    let started = Instant::now();
    let err = c.query_one("SELECT pg_sleep(20)", &[]).unwrap_err();
    canceller.join().unwrap();
    assert_eq!(err.code(), Some(&SqlState::QUERY_CANCELED), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(!c.is_closed());
    assert_eq!(
        c.query_one("SELECT 3::int4", &[]).unwrap().get::<_, i32>(0),
        3
    );
}

#[test]
fn query_timeout_cancels_and_keeps_the_connection() {
    let mut cfg: Config = support::database_url().parse().unwrap();
    cfg.query_timeout(Some(Duration::from_millis(300)));
    let c = Client::connect_with(&cfg).unwrap();
    let started = Instant::now();
    let err = c.query_one("SELECT pg_sleep(20)", &[]).unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    // The cancel reached the server: the next query runs at once, not after 20 s.
    let started = Instant::now();
    assert_eq!(
        c.query_one("SELECT 4::int4", &[]).unwrap().get::<_, i32>(0),
        4
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// `query_timeout` holds for queries made from coroutines, as a service's are. (may times
/// a coroutine's park in whole milliseconds, truncated: the sub-millisecond rest of the
/// deadline was once waited for without a timeout, so each of these ran its full 3 s.)
#[test]
fn query_timeout_holds_in_coroutines() {
    let timeout = Duration::from_millis(250);
    let mut cfg: Config = support::database_url().parse().unwrap();
    cfg.query_timeout(Some(timeout));
    let c = Client::connect_with(&cfg).unwrap();
    let probe = c.clone();
    let results = crate::in_coroutines(8, move |_| {
        let t = Instant::now();
        let r = probe.query_one("SELECT pg_sleep(3)", &[]);
        (t.elapsed(), r.map(|_| ()).map_err(|e| e.is_timeout()))
    });
    println!("pg_sleep(3) with query_timeout {timeout:?}, from 8 coroutines: {results:?}");
    for (took, r) in &results {
        assert_eq!(*r, Err(true), "not a timeout ({took:?})");
        assert!(
            *took < Duration::from_millis(1500),
            "a query waited {took:?} (query_timeout {timeout:?})"
        );
    }
}

#[test]
fn connect_timeout_against_a_silent_server() {
    // A listener that accepts TCP but never speaks the protocol.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let started = Instant::now();
    let err = Client::connect(&format!(
        "postgres://u@127.0.0.1:{port}/d?connect_timeout=1&sslmode=disable"
    ))
    .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(listener);
}

#[test]
fn unreachable_server_and_bad_urls_are_clear_errors() {
    // Nothing listens on port 1.
    let err = Client::connect("postgres://u@127.0.0.1:1/d?sslmode=disable").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
    let err = Client::connect("mysql://x").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    // A database that does not exist.
    let mut cfg: Config = support::database_url().parse().unwrap();
    cfg.dbname("lifeguard_no_such_db");
    let err = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::INVALID_CATALOG_NAME), "{err}");
}

#[test]
fn unix_socket_connection() {
    let dir = "/var/run/postgresql";
    if !std::path::Path::new(dir).join(".s.PGSQL.5432").exists() {
        eprintln!("skipped: no server socket in {dir}");
        return;
    }
    // Through the socket the test role authenticates like over TCP (or by peer/trust).
    let cfg: Config = support::database_url().parse().unwrap();
    let mut unix = cfg.clone();
    unix.host(dir, 5432);
    match Client::connect_with(&unix) {
        Ok(c) => {
            let v: String = c
                .query_one("SELECT 'via socket'::text", &[])
                .unwrap()
                .get(0);
            assert_eq!(v, "via socket");
        }
        // Debian's default `local ... peer` refuses a role named differently from the OS
        // user; that is the server's policy, reported as an auth error.
        Err(e) => assert!(e.code().is_some(), "{e}"),
    }
}
