//! The Lifeguard tour: connect, create a table, run concurrent queries from many
//! coroutines over a small pool, a transaction, and LISTEN/NOTIFY.
//!
//! Run it with `scripts/demo.sh` (which makes sure PostgreSQL is up), or directly:
//! `DATABASE_URL=postgres://… cargo run --release --example demo`.

use std::time::{Duration, Instant};

use lifeguard::{Client, Executor, IsolationLevel, Pool};

fn main() -> Result<(), lifeguard::Error> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_demo".into());
    may::config().set_workers(2);

    // 1. Connect.
    let client = Client::connect(&url)?;
    println!(
        "connected to PostgreSQL {} (backend pid {})",
        client.parameter("server_version").unwrap_or_default(),
        client.backend_pid()
    );

    // 2. Create a table and fill it.
    client.batch_execute(
        "DROP TABLE IF EXISTS demo_accounts;
         CREATE TABLE demo_accounts (
             id      int4 PRIMARY KEY,
             owner   text NOT NULL,
             balance numeric(12, 2) NOT NULL DEFAULT 0
         )",
    )?;
    let inserted = client.execute(
        "INSERT INTO demo_accounts (id, owner, balance)
         SELECT g, 'owner-' || g, g * 10 FROM generate_series(1, 10000) g",
        &[],
    )?;
    println!("created demo_accounts with {inserted} rows");

    // 3. Ten thousand coroutines, each reading its own row, over a pool of 4 connections.
    let pool = Pool::builder(url.as_str())
        .max_size(4)
        .min_size(4)
        .build()?;
    let started = Instant::now();
    let handles: Vec<_> = (1..=10_000i32)
        .map(|id| {
            let pool = pool.clone();
            may::go!(move || -> Result<bool, lifeguard::Error> {
                let row =
                    pool.query_one("SELECT id, owner FROM demo_accounts WHERE id = $1", &[&id])?;
                Ok(row.get::<_, i32>(0) == id && row.get::<_, String>(1) == format!("owner-{id}"))
            })
        })
        .collect();
    let mut correct = 0;
    for h in handles {
        if h.join().expect("coroutine panicked")? {
            correct += 1;
        }
    }
    let elapsed = started.elapsed();
    println!(
        "10000 coroutines over 4 pipelined connections: {correct} got their own row in {:.0?} ({:.0} queries/s)",
        elapsed,
        10_000.0 / elapsed.as_secs_f64()
    );

    // 4. A transaction: move money atomically; a failing one rolls back.
    let tx = pool
        .build_transaction()?
        .isolation_level(IsolationLevel::RepeatableRead)
        .start()?;
    tx.execute(
        "UPDATE demo_accounts SET balance = balance - 5 WHERE id = 1",
        &[],
    )?;
    tx.execute(
        "UPDATE demo_accounts SET balance = balance + 5 WHERE id = 2",
        &[],
    )?;
    tx.commit()?;
    {
        let tx = pool.transaction()?;
        tx.execute("UPDATE demo_accounts SET balance = 0 WHERE id = 1", &[])?;
        // dropped without commit: rolled back
    }
    let row = client.query_one(
        "SELECT balance::text, (SELECT balance::text FROM demo_accounts WHERE id = 2)
         FROM demo_accounts WHERE id = 1",
        &[],
    )?;
    println!(
        "transaction committed: account 1 = {}, account 2 = {} (the dropped one rolled back)",
        row.get::<_, String>(0),
        row.get::<_, String>(1)
    );

    // 5. LISTEN/NOTIFY: a listener coroutine receives what another connection sends.
    let listener = Client::connect(&url)?;
    listener.batch_execute("LISTEN demo_events")?;
    let notifications = listener.notifications();
    let receiver = may::go!(move || {
        let mut got = Vec::new();
        while got.len() < 3 {
            match notifications.recv_timeout(Duration::from_secs(5)) {
                Ok(Some(n)) => got.push(n.payload().to_string()),
                _ => break,
            }
        }
        got
    });
    for event in ["opened", "credited", "closed"] {
        client.execute("SELECT pg_notify('demo_events', $1)", &[&event])?;
    }
    let got = receiver.join().expect("listener panicked");
    println!("listener received, in order: {}", got.join(", "));

    client.batch_execute("DROP TABLE demo_accounts")?;
    if correct != 10_000 || got.len() != 3 {
        eprintln!("demo FAILED");
        std::process::exit(1);
    }
    println!("demo finished OK");
    Ok(())
}
