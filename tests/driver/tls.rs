//! TLS: sslmode semantics against a throwaway server with a self-signed certificate.

use lifeguard::{Client, Config, ErrorKind, Executor, SslMode};

use crate::support::cluster::{Auth, ClusterOptions, TempCluster};

fn ssl_in_use(c: &Client) -> bool {
    c.query_one(
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        &[],
    )
    .unwrap()
    .get(0)
}

#[test]
fn sslmodes_against_a_tls_server() {
    let cluster = TempCluster::start(ClusterOptions {
        auth: Auth::Scram,
        ssl: true,
    })
    .expect("starting a TLS cluster");
    let base: Config = cluster.url().parse().unwrap();

    // require: encrypted, certificate not verified (libpq semantics). SCRAM runs inside TLS.
    let mut cfg = base.clone();
    cfg.ssl_mode(SslMode::Require);
    let c = Client::connect_with(&cfg).unwrap();
    assert!(ssl_in_use(&c));
    // Pipelining over TLS: concurrent coroutines through the split TLS stream.
    let c2 = c.clone();
    let ok = crate::in_coroutines(100, move |i| {
        let v: i32 = c2
            .query_one("SELECT $1::int4", &[&(i as i32)])
            .unwrap()
            .get(0);
        v == i as i32
    });
    assert!(ok.into_iter().all(|b| b));
    let big: String = c
        .query_one("SELECT repeat('z', 200000)", &[])
        .unwrap()
        .get(0);
    assert_eq!(big.len(), 200000);

    // prefer (the default) uses TLS when offered.
    let mut cfg = base.clone();
    cfg.ssl_mode(SslMode::Prefer);
    assert!(ssl_in_use(&Client::connect_with(&cfg).unwrap()));

    // disable: plain.
    let mut cfg = base.clone();
    cfg.ssl_mode(SslMode::Disable);
    assert!(!ssl_in_use(&Client::connect_with(&cfg).unwrap()));

    // verify-full with the server's own certificate as the root, host name `localhost`.
    let url = cluster.url().replace("127.0.0.1", "localhost");
    let mut cfg: Config = url.parse().unwrap();
    cfg.ssl_mode(SslMode::VerifyFull);
    cfg.ssl_root_cert(cluster.ca_cert_path());
    match Client::connect_with(&cfg) {
        Ok(c) => assert!(ssl_in_use(&c)),
        // webpki refuses a self-signed CA certificate used as its own leaf; what matters is
        // that the refusal is a TLS error, not a silent plain connection.
        Err(e) => assert_eq!(e.kind(), ErrorKind::Tls, "{e}"),
    }

    // verify-full against the public roots must refuse a self-signed certificate.
    let mut cfg = base.clone();
    cfg.ssl_mode(SslMode::VerifyFull);
    let err = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
}

#[test]
fn require_against_a_server_without_tls_is_refused() {
    let cluster = TempCluster::start(ClusterOptions {
        auth: Auth::Trust,
        ssl: false,
    })
    .expect("starting a cluster");
    let mut cfg: Config = cluster.url().parse().unwrap();
    cfg.ssl_mode(SslMode::Require);
    let err = Client::connect_with(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Tls, "{err}");
    cfg.ssl_mode(SslMode::Prefer);
    assert!(!ssl_in_use(&Client::connect_with(&cfg).unwrap()));
}
