//! Lag: a paused replica is banned once its lag passes `max_lag`; `Strong` reads never see
//! stale rows; after resume, reads are served by the replica again.

use std::time::Duration;

use lifeguard::{Client, Executor, ReadPreference, ReplicaState, Router};

use crate::support::replica::ReplicaPair;
use crate::{on_replica, wait_for, wait_replica};

fn router(pair: &ReplicaPair, max_lag: Duration) -> Router {
    Router::builder(pair.primary_url().as_str())
        .replica(pair.replica_url().as_str())
        .pool_size(4)
        .max_lag(max_lag)
        // Only time lag and stalls matter here.
        .max_lag_bytes(u64::MAX)
        .stall_timeout(Duration::from_secs(3600))
        .monitor_interval(Duration::from_millis(100))
        .readmit_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .probe_timeout(Duration::from_secs(10))
        .build()
        .expect("router")
}

/// One row per pair: the row's value (None = stale) and whether the replica answered.
const READ_BACK: &str = "SELECT (SELECT v FROM rw WHERE id = $1), pg_is_in_recovery()";

#[test]
fn paused_replica_is_banned_and_strong_reads_are_never_stale() {
    let pair = ReplicaPair::start().expect("primary + streaming replica");
    let admin = Client::connect(&pair.replica_superuser_url()).unwrap();
    // Bans after one second of lag.
    let strict = router(&pair, Duration::from_secs(1));
    // Never bans: Strong reads must rely on the token check alone.
    let lenient = router(&pair, Duration::from_secs(3600));
    strict
        .execute("CREATE TABLE rw (id int PRIMARY KEY, v text NOT NULL)", &[])
        .unwrap();
    wait_replica(&strict, true);
    wait_replica(&lenient, true);
    // The table reaches the replica.
    wait_for("the table on the replica", || {
        let row = strict
            .read()
            .query_one(
                "SELECT to_regclass('rw') IS NOT NULL, pg_is_in_recovery()",
                &[],
            )
            .ok()?;
        (row.get::<_, bool>(0) && row.get::<_, bool>(1)).then_some(())
    });
    assert!(
        on_replica(&strict.read()).unwrap(),
        "a Replica read is served by the replica"
    );
    assert!(!on_replica(&strict.write()).unwrap());
    assert!(
        !on_replica(&strict).unwrap(),
        "text statements on the router use the primary"
    );

    // --- replay paused: lag becomes real ---
    admin.execute("SELECT pg_wal_replay_pause()", &[]).unwrap();
    wait_for("replay to pause", || {
        let row = admin
            .query_one("SELECT pg_get_wal_replay_pause_state()", &[])
            .ok()?;
        (row.get::<_, String>(0) == "paused").then_some(())
    });
    strict
        .execute("INSERT INTO rw VALUES (0, 'written while paused')", &[])
        .unwrap();
    let banned = wait_replica(&strict, false);
    let r = &banned.replicas[0];
    println!(
        "paused replica banned: state {:?}, lag {:?}, {} bytes behind, paused {}",
        r.state,
        r.lag,
        r.lag_bytes.unwrap_or(0),
        r.replay_paused
    );
    assert_eq!(r.state, ReplicaState::Lagging);
    assert!(r.lag.unwrap() > Duration::from_secs(1), "{r:?}");
    assert!(r.replay_paused);
    let before = strict.status().primary_fallbacks;
    assert!(
        !on_replica(&strict.read()).unwrap(),
        "Replica reads fall back to the primary"
    );
    assert_eq!(strict.status().primary_fallbacks, before + 1);
    // The lenient router still admits it: a Replica read there is stale, which is what
    // makes the Strong check below meaningful.
    assert!(lenient.status().replicas[0].healthy);
    let stale = lenient
        .read_with(ReadPreference::Replica)
        .query_one(READ_BACK, &[&0i32])
        .unwrap();
    assert_eq!(stale.get::<_, Option<String>>(0), None);
    assert!(stale.get::<_, bool>(1));

    // 1,000 write → Strong read pairs, replay paused, through both routers.
    let (mut stale_reads, mut on_primary) = (0, 0);
    for i in 1..=1000i32 {
        let router = if i % 2 == 0 { &strict } else { &lenient };
        let v = format!("row {i}");
        router
            .execute("INSERT INTO rw VALUES ($1, $2)", &[&i, &v])
            .unwrap();
        let token = router.causal_token().unwrap();
        let row = router.strong(&token).query_one(READ_BACK, &[&i]).unwrap();
        match row.get::<_, Option<String>>(0) {
            Some(got) => assert_eq!(got, v),
            None => stale_reads += 1,
        }
        on_primary += usize::from(!row.get::<_, bool>(1));
    }
    println!(
        "stale reads: {stale_reads} of 1000 (paused replica; {on_primary} served by the primary)"
    );
    assert_eq!(stale_reads, 0);
    assert_eq!(on_primary, 1000);

    // --- replay resumed ---
    admin.execute("SELECT pg_wal_replay_resume()", &[]).unwrap();
    let readmitted = wait_replica(&strict, true);
    println!(
        "replica readmitted after resume: lag {:?}, bans {}",
        readmitted.replicas[0].lag, readmitted.replicas[0].bans
    );
    assert!(readmitted.replicas[0].bans >= 1);
    assert!(
        on_replica(&strict.read()).unwrap(),
        "reads are served by the replica again"
    );

    // Strong reads: never stale, and served by the replica once it has replayed the token.
    let (mut stale_reads, mut on_standby, mut tries) = (0, 0, 0);
    for i in 1001..=1100i32 {
        let v = format!("row {i}");
        strict
            .execute("INSERT INTO rw VALUES ($1, $2)", &[&i, &v])
            .unwrap();
        let token: lifeguard::CausalToken =
            strict.causal_token().unwrap().to_string().parse().unwrap();
        wait_for("a Strong read served by the replica", || {
            tries += 1;
            let row = strict.strong(&token).query_one(READ_BACK, &[&i]).unwrap();
            if row.get::<_, Option<String>>(0).as_deref() != Some(v.as_str()) {
                stale_reads += 1;
            }
            let standby = row.get::<_, bool>(1);
            on_standby += usize::from(standby);
            (standby || i % 10 != 0).then_some(())
        });
    }
    println!(
        "after resume: stale reads: {stale_reads} of {tries}; {on_standby} served by the replica"
    );
    assert_eq!(stale_reads, 0);
    assert!(on_standby >= 10);

    // Checked statements: the macro knows which ones only read.
    let read = lifeguard::query_scalar!("SELECT pg_is_in_recovery()");
    assert!(read.is_read_only());
    assert_eq!(read.fetch_one(&strict).unwrap(), Some(true));
    let on_write = lifeguard::query_scalar!("SELECT pg_is_in_recovery()")
        .fetch_one(&strict.write())
        .unwrap();
    assert_eq!(on_write, Some(false));
    let writes = lifeguard::query_scalar!("SELECT pg_is_in_recovery() FROM txid_current() x");
    assert!(!writes.is_read_only());
    assert_eq!(writes.fetch_one(&strict).unwrap(), Some(false));
}
