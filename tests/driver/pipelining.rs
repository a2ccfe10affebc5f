//! Many coroutines over few connections: everyone gets their own answer, dropping a
//! half-read stream harms nobody, and a dead connection fails every waiter promptly.

use std::time::{Duration, Instant};

use lifeguard::{Client, Executor, Pool};

use crate::{client, in_coroutines, support, TempTable};

#[test]
fn thousand_coroutines_over_four_connections_get_their_own_rows() {
    let c = client();
    let t = TempTable::create(&c, "ids", "id int4 PRIMARY KEY, label text NOT NULL");
    c.execute(
        format!(
            "INSERT INTO {} SELECT g, 'row-' || g FROM generate_series(1, 1000) g",
            t.name
        )
        .as_str(),
        &[],
    )
    .unwrap();
    let pool = Pool::builder(support::database_url())
        .max_size(4)
        .min_size(4)
        .build()
        .unwrap();
    let sql = format!("SELECT id, label FROM {} WHERE id = $1", t.name);
    let results = in_coroutines(1000, move |i| {
        let id = i as i32 + 1;
        // Several rounds each, so requests interleave on the wire.
        for _ in 0..5 {
            let row = pool.query_one(sql.as_str(), &[&id]).unwrap();
            let (got, label): (i32, String) = (row.get(0), row.get(1));
            if got != id || label != format!("row-{id}") {
                return Err(format!("coroutine {id} got row {got} / {label}"));
            }
        }
        Ok(())
    });
    let failures: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(failures.is_empty(), "cross-talk: {failures:?}");
}

#[test]
fn one_client_shared_by_many_coroutines_and_threads() {
    let c = client();
    let c2 = c.clone();
    let results = in_coroutines(200, move |i| {
        let v: i64 = c2
            .query_one("SELECT $1::int8 * 2", &[&(i as i64)])
            .unwrap()
            .get(0);
        v == 2 * i as i64
    });
    assert!(results.iter().all(|ok| *ok));
    // Plain OS threads share the same connection too.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            std::thread::spawn(move || {
                let s: String = c
                    .query_one("SELECT 'thread ' || $1::int4", &[&i])
                    .unwrap()
                    .get(0);
                s == format!("thread {i}")
            })
        })
        .collect();
    assert!(threads.into_iter().all(|h| h.join().unwrap()));
}

#[test]
fn one_coroutine_pipelines_several_queries() {
    let c = client();
    let pending: Vec<_> = (0..50i32)
        .map(|i| c.send("SELECT $1::int4 + 1000", &[&i]).unwrap())
        .collect();
    // Read them in reverse: responses are buffered per query, so order of reading is free.
    for (i, p) in pending.into_iter().enumerate().rev() {
        let rows = p.rows().unwrap();
        assert_eq!(rows[0].get::<_, i32>(0), i as i32 + 1000);
    }
}

#[test]
fn pools_and_transactions_pipeline_sends_too() {
    let pool = lifeguard::Pool::builder(crate::support::database_url())
        .max_size(2)
        .build()
        .unwrap();
    // One caller, twenty queries in flight before it reads any answer.
    let pending: Vec<_> = (0..20i32)
        .map(|i| pool.send("SELECT $1::int4 * 2", &[&i]).unwrap())
        .collect();
    for (i, p) in pending.into_iter().enumerate() {
        assert_eq!(p.one().unwrap().get::<_, i32>(0), i as i32 * 2);
    }
    // The single-row accessors keep query_one's meaning.
    let none = pool.send("SELECT 1 WHERE false", &[]).unwrap();
    assert!(none.opt().unwrap().is_none());
    let two = pool.send("SELECT generate_series(1, 2)", &[]).unwrap();
    assert_eq!(
        two.one().unwrap_err().kind(),
        lifeguard::ErrorKind::RowCount
    );
    // Inside a transaction the sends go to its connection, in order.
    let tx = pool.transaction().unwrap();
    tx.execute("CREATE TEMP TABLE piped (n int4)", &[]).unwrap();
    let inserts: Vec<_> = (0..10i32)
        .map(|i| tx.send("INSERT INTO piped VALUES ($1)", &[&i]).unwrap())
        .collect();
    let count = tx.send("SELECT count(*)::int4 FROM piped", &[]).unwrap();
    for p in inserts {
        assert_eq!(p.affected().unwrap(), 1);
    }
    assert_eq!(count.one().unwrap().get::<_, i32>(0), 10);
    tx.rollback().unwrap();
}

#[test]
fn dropping_a_half_read_stream_does_not_corrupt_the_connection() {
    let c = client();
    let c2 = c.clone();
    // Others keep querying while streams are abandoned midway.
    let others = may::go!(move || {
        for i in 0..300i32 {
            let v: i32 = c2.query_one("SELECT $1::int4", &[&i]).unwrap().get(0);
            assert_eq!(v, i);
        }
    });
    for _ in 0..30 {
        let mut stream = c
            .query_stream("SELECT g FROM generate_series(1, 50000) g", &[])
            .unwrap();
        let first: i32 = stream.next().unwrap().unwrap().get(0);
        assert_eq!(first, 1);
        drop(stream);
        let v: String = c.query_one("SELECT 'after'::text", &[]).unwrap().get(0);
        assert_eq!(v, "after");
    }
    others.join().unwrap();
}

#[test]
fn a_killed_backend_fails_every_waiter_promptly() {
    let victim = client();
    let admin = client();
    let pid = victim.backend_pid();
    // 100 coroutines wait behind a long query on the victim connection.
    let v = victim.clone();
    let started = Instant::now();
    let waiters: Vec<_> = (0..100)
        .map(|i| {
            let v = v.clone();
            may::go!(move || {
                if i == 0 {
                    v.query_one("SELECT pg_sleep(30)", &[]).map(|_| ())
                } else {
                    v.query_one("SELECT $1::int4", &[&i]).map(|_| ())
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let mut errors = 0;
    for w in waiters {
        let res = w.join().unwrap();
        // Queries that completed before the kill may succeed; none may hang or lie.
        if let Err(e) = res {
            assert!(e.is_closed(), "unexpected error kind: {e}");
            errors += 1;
        }
    }
    assert!(errors >= 1, "the sleeping query must fail");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "waiters were not released promptly"
    );
    assert!(victim.is_closed());
    let err = victim.query_one("SELECT 1", &[]).unwrap_err();
    assert!(err.is_closed(), "{err}");
}

#[test]
fn works_from_plain_threads_without_coroutines() {
    let url = support::database_url();
    let handle = std::thread::spawn(move || {
        let c = Client::connect(&url).unwrap();
        let n: i64 = c
            .query_one("SELECT count(*) FROM generate_series(1, 10)", &[])
            .unwrap()
            .get(0);
        n
    });
    assert_eq!(handle.join().unwrap(), 10);
}
