//! Tokens as strings, and routing without (reachable) replicas.

use std::net::TcpListener;

use lifeguard::{CausalToken, ErrorKind, Executor, Lsn, ReadPreference, ReplicaState, Router};

use crate::support;

#[test]
fn token_round_trips_through_a_string() {
    let router = Router::builder(support::database_url().as_str())
        .build()
        .unwrap();
    let token = router.causal_token().unwrap();
    let header = token.to_string();
    let back: CausalToken = header.parse().unwrap();
    assert_eq!(back, token);
    // The server reads the same position from the text.
    let same: bool = router
        .query_one(
            "SELECT $1::text::pg_lsn = pg_current_wal_insert_lsn() OR $1::text::pg_lsn < pg_current_wal_insert_lsn()",
            &[&header],
        )
        .unwrap()
        .get(0);
    assert!(
        same,
        "token {header} is not a position the server has reached"
    );
    println!("causal token: {header}");

    let later = CausalToken::from_lsn(Lsn(token.lsn().0 + 1));
    assert_eq!(token.merge(later), later);
    for bad in ["", "nope", "1/", "G/0", "1/2/3"] {
        let e = bad.parse::<CausalToken>().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Usage, "{bad:?}");
    }
}

#[test]
fn without_a_reachable_replica_reads_use_the_primary() {
    // A port nobody listens on: the replica is unreachable from the start.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let router = Router::builder(support::database_url().as_str())
        .replica(format!("postgres://nobody@127.0.0.1:{port}/none").as_str())
        .probe_timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let status = router.status();
    assert_eq!(status.healthy_replicas, 0);
    assert_eq!(status.replicas[0].state, ReplicaState::Unreachable);
    for pref in [
        ReadPreference::Replica,
        ReadPreference::Mixed,
        ReadPreference::Strong(router.causal_token().unwrap()),
    ] {
        let n: i32 = router
            .read_with(pref)
            .query_one("SELECT 41 + 1", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, 42);
    }
    let status = router.status();
    assert_eq!(status.primary_fallbacks, 3, "{status:?}");
    // Primary reads and writes are not fallbacks.
    router
        .read_with(ReadPreference::Primary)
        .query("SELECT 1", &[])
        .unwrap();
    router.write().query("SELECT 1", &[]).unwrap();
    assert_eq!(router.status().primary_fallbacks, 3);
    println!("primary fallbacks with every replica banned: 3 of 3 reads");
}
