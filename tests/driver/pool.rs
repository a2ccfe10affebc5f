//! The pool: bounded, typed timeout when full, and it keeps serving after connections die.

use std::time::{Duration, Instant};

use lifeguard::{ErrorKind, Executor, Pool};

use crate::{client, in_coroutines, support};

fn pool(max: usize) -> Pool {
    Pool::builder(support::database_url())
        .max_size(max)
        .acquire_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[test]
fn never_opens_more_than_max_size() {
    let p = pool(3);
    let p2 = p.clone();
    let pids = in_coroutines(300, move |_| {
        p2.query_one("SELECT pg_backend_pid()", &[])
            .unwrap()
            .get::<_, i32>(0)
    });
    let distinct: std::collections::HashSet<_> = pids.into_iter().collect();
    assert!(distinct.len() <= 3, "{} backends used", distinct.len());
    assert!(p.status().size <= 3);
}

#[test]
fn full_pool_is_a_typed_timeout_not_a_hang() {
    let p = pool(2);
    let a = p.get().unwrap();
    let b = p.get().unwrap();
    let started = Instant::now();
    let err = p.get().expect_err("third checkout must fail");
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
    // Pipelined queries also wait for a connection, and time out the same way.
    let err = p.query("SELECT 1", &[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::PoolTimeout, "{err}");
    drop(a);
    // A returned connection serves again.
    assert_eq!(
        p.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );
    drop(b);
    assert_eq!(p.status().in_use, 0);
}

/// Coroutines waiting on a full pool get their typed timeout on time, not when the holder
/// lets go: may keeps parker timeouts in whole milliseconds, and the pool's wait must not
/// turn the sub-millisecond rest of its deadline into an untimed wait.
#[test]
fn full_pool_times_out_on_time_in_coroutines() {
    let p = Pool::builder(support::database_url())
        .max_size(1)
        .acquire_timeout(Duration::from_millis(250))
        .build()
        .unwrap();
    let held = p.get().unwrap();
    let holder = may::go!(move || {
        may::coroutine::sleep(Duration::from_secs(3));
        drop(held);
    });
    let p2 = p.clone();
    let waits = in_coroutines(8, move |_| {
        let started = Instant::now();
        let got = p2.get().map(|_| ()).map_err(|e| e.kind());
        (got, started.elapsed())
    });
    holder.join().unwrap();
    for (i, (got, took)) in waits.iter().enumerate() {
        println!("waiter {i}: {got:?} after {} ms", took.as_millis());
    }
    for (got, took) in &waits {
        assert_eq!(*got, Err(ErrorKind::PoolTimeout));
        assert!(*took < Duration::from_millis(1500), "waited {took:?}");
    }
}

#[test]
fn pool_keeps_serving_after_a_backend_is_killed() {
    let p = pool(2);
    let admin = client();
    let conn = p.get().unwrap();
    let pid = conn.backend_pid();
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let err = conn.query_one("SELECT 1", &[]).unwrap_err();
    assert!(err.is_closed(), "{err}");
    drop(conn); // a broken connection is discarded, not returned
    for i in 0..20i32 {
        let v: i32 = p.query_one("SELECT $1::int4", &[&i]).unwrap().get(0);
        assert_eq!(v, i);
    }
    let fresh = p.get().unwrap();
    assert_ne!(fresh.backend_pid(), pid);
}

#[test]
fn pool_keeps_serving_after_a_cancel() {
    let p = pool(1);
    let conn = p.get().unwrap();
    let token = conn.cancel_token();
    let h = may::go!(move || {
        may::coroutine::sleep(Duration::from_millis(200));
        token.cancel_query().unwrap();
    });
    let err = conn.query_one("SELECT pg_sleep(20)", &[]).unwrap_err();
    h.join().unwrap();
    assert_eq!(err.code().map(|s| s.code()), Some("57014"));
    drop(conn);
    assert_eq!(
        p.query_one("SELECT 5::int4", &[]).unwrap().get::<_, i32>(0),
        5
    );
}

#[test]
fn min_size_opens_up_front_and_bad_config_fails_fast() {
    let p = Pool::builder(support::database_url())
        .max_size(3)
        .min_size(3)
        .build()
        .unwrap();
    assert_eq!(p.status().size, 3);
    let err = Pool::builder("postgres://u@127.0.0.1:1/d?sslmode=disable")
        .min_size(1)
        .build()
        .err()
        .unwrap();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(Pool::builder("nonsense").build().is_err());
}
