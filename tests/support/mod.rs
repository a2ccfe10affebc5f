//! Helpers shared by the integration tests (included with `mod support;`).

pub mod cluster;
pub mod replica;

/// The URL of the test database: `DATABASE_URL`, else the one `scripts/ensure-services.sh`
/// sets up (`lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test`).
pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => url,
        _ => "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".to_string(),
    }
}
