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

/// Runs `f` in `n` coroutines and returns their results in spawn order.
pub fn in_coroutines<T: Send + 'static>(
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = std::sync::Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            may::go!(move || f(i))
        })
        .collect();
    handles
        .into_iter()
        .map(|h| h.join().expect("coroutine panicked"))
        .collect()
}
