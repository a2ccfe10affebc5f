//! Each authentication method against a throwaway server configured for it.

use lifeguard::{Client, Config, ErrorKind, Executor, SslMode};

use crate::support::cluster::{Auth, ClusterOptions, TempCluster};

fn check(auth: Auth, method: &str) {
    let cluster = TempCluster::start(ClusterOptions { auth, ssl: false })
        .unwrap_or_else(|e| panic!("starting a {method} cluster: {e}"));
    let mut cfg: Config = cluster.url().parse().unwrap();
    cfg.ssl_mode(SslMode::Disable);
    let c = Client::connect_with(&cfg).unwrap_or_else(|e| panic!("{method}: {e}"));
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .unwrap()
        .get(0);
    assert_eq!(who, "lg_user");
    if method != "trust" {
        // The server really asked for this method: a wrong password is refused…
        let mut bad = cfg.clone();
        bad.password("wrong");
        let err = Client::connect_with(&bad).unwrap_err();
        assert_eq!(
            err.code().map(|s| s.code()),
            Some("28P01"),
            "{method}: {err}"
        );
        // …and no password at all is a clear client-side error.
        let mut none: Config = {
            let url = cluster.url().replace(":lg_pass@", "@");
            url.parse().unwrap()
        };
        none.ssl_mode(SslMode::Disable);
        if std::env::var_os("PGPASSWORD").is_none() {
            let err = Client::connect_with(&none).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Authentication, "{method}: {err}");
        }
    }
}

#[test]
fn trust() {
    check(Auth::Trust, "trust");
}

#[test]
fn cleartext_password() {
    check(Auth::Password, "password");
}

#[test]
fn md5() {
    check(Auth::Md5, "md5");
}

#[test]
fn scram_sha_256() {
    check(Auth::Scram, "scram-sha-256");
}
