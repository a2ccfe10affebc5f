//! The client alone: pipelining many coroutines over two connections, errors as values.

use lifeguard::cache::redis::{self, Value};
use lifeguard::cache::Cache;
use lifeguard::ErrorKind;

#[test]
fn two_thousand_coroutines_share_two_connections() {
    let ns = crate::namespace("pipe");
    let cache = Cache::builder(crate::redis_url())
        .namespace(ns.clone())
        .connections(2)
        .build()
        .unwrap();
    let before = cache.stats().round_trips;
    let handles: Vec<_> = (0..2000)
        .map(|i| {
            let cache = cache.clone();
            let key = format!("{ns}:k{i}");
            may::go!(move || -> Result<(), String> {
                cache
                    .cmd(
                        redis::cmd("SET")
                            .arg(&key)
                            .arg(format!("v{i}"))
                            .arg("PX")
                            .arg(60_000),
                    )
                    .map_err(|e| e.to_string())?;
                match cache
                    .cmd(redis::cmd("GET").arg(&key))
                    .map_err(|e| e.to_string())?
                {
                    Value::BulkString(b) if b == format!("v{i}").as_bytes() => Ok(()),
                    other => Err(format!("{key}: got {other:?}")),
                }
            })
        })
        .collect();
    let mut wrong = Vec::new();
    for h in handles {
        if let Err(e) = h.join().unwrap() {
            wrong.push(e);
        }
    }
    let trips = cache.stats().round_trips - before;
    println!(
        "2000 coroutines × (SET + GET): {trips} round trips, {} wrong replies",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{:?}", &wrong[..wrong.len().min(5)]);
    assert_eq!(trips, 4000);

    // A pipeline is one round trip; an error reply stays a value, a failed command is a
    // typed error.
    let mut p = redis::pipe();
    p.cmd("INCR")
        .arg(format!("{ns}:n"))
        .cmd("HGET")
        .arg(format!("{ns}:k1"))
        .arg("x");
    let before = cache.stats().round_trips;
    let values = cache.pipe(&p).unwrap();
    assert_eq!(cache.stats().round_trips - before, 1);
    assert_eq!(values[0], Value::Int(1));
    assert!(
        matches!(values[1], Value::ServerError(_)),
        "{:?}",
        values[1]
    );
    let err = cache.cmd(&redis::cmd("NOSUCHCOMMAND")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert!(err.to_string().contains("unknown command"), "{err}");
    // …and the connection is still in step afterwards.
    assert_eq!(
        cache
            .cmd(redis::cmd("INCR").arg(format!("{ns}:n")))
            .unwrap(),
        Value::Int(2)
    );
}

#[test]
fn a_dead_address_is_a_typed_error_within_the_timeout() {
    // Nothing listens on port 1 of loopback: connection refused, fast.
    let cache = Cache::builder("redis://127.0.0.1:1/").build().unwrap();
    let started = std::time::Instant::now();
    let err = cache.cmd(&redis::cmd("PING")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cache);
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(cache.stats().errors, 1);
    let bad = Cache::builder("http://nowhere").build().unwrap_err();
    assert_eq!(bad.kind(), ErrorKind::Cache, "{bad}");
}
