//! A replica that dies: reads keep succeeding on the primary; dropping the router stops
//! its monitor.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lifeguard::{Client, Executor, ReplicaState, Router};

use crate::support::replica::ReplicaPair;
use crate::{on_replica, wait_for, wait_replica};

#[derive(Debug)]
enum Read {
    Replica,
    Primary,
    Failed(lifeguard::Error),
}

#[test]
fn killed_replica_reads_keep_succeeding_and_drop_stops_the_monitor() {
    let pair = ReplicaPair::start().expect("primary + streaming replica");
    let router = Router::builder(pair.primary_url().as_str())
        .replica(pair.replica_url().as_str())
        .pool_size(2)
        .monitor_interval(Duration::from_millis(100))
        .readmit_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .probe_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    wait_replica(&router, true);

    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (router, stop) = (router.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut reads = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let banned = !router.status().replicas[0].healthy;
                let read = match on_replica(&router.read()) {
                    Ok(true) => Read::Replica,
                    Ok(false) => Read::Primary,
                    Err(e) => Read::Failed(e),
                };
                reads.push((banned, read));
                std::thread::sleep(Duration::from_millis(2));
            }
            reads
        })
    };
    wait_for("reads on the replica", || {
        (router.status().replicas[0].healthy).then_some(())
    });
    std::thread::sleep(Duration::from_millis(300));
    let pid = pair.replica_pid().expect("replica pid");
    pair.kill_replica();
    // Gone (or a zombie waiting for its reaper).
    wait_for("the replica's postmaster to exit", || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        (stat.is_empty() || stat.contains(") Z ")).then_some(())
    });
    let status = wait_replica(&router, false);
    assert_eq!(
        status.replicas[0].state,
        ReplicaState::Unreachable,
        "{status:?}"
    );
    // Keep reading a while after the ban.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let reads = reader.join().unwrap();

    let count = |f: fn(&Read) -> bool| reads.iter().filter(|(_, r)| f(r)).count();
    let (replica, primary) = (
        count(|r| matches!(r, Read::Replica)),
        count(|r| matches!(r, Read::Primary)),
    );
    let failed: Vec<_> = reads
        .iter()
        .filter_map(|(_, r)| match r {
            Read::Failed(e) => Some(e),
            _ => None,
        })
        .collect();
    println!(
        "replica killed: {} reads, {replica} on the replica, {primary} on the primary, {} failed \
         (in flight as the server died: {failed:?})",
        reads.len(),
        failed.len()
    );
    assert!(replica > 0 && primary > 0);
    // A read caught in flight by the kill is run again on the primary: none fails.
    assert!(failed.is_empty(), "{failed:?}");
    // Every read that started once the replica was banned succeeded on the primary.
    assert!(reads
        .iter()
        .filter(|(banned, _)| *banned)
        .all(|(_, r)| matches!(r, Read::Primary)));
    assert!(!on_replica(&router.read()).unwrap());

    // Dropping the router stops the monitor: its connection to the primary goes away.
    let primary = Client::connect(&pair.primary().superuser_url()).unwrap();
    let monitors = || -> i64 {
        primary
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'lifeguard-router-monitor'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    assert_eq!(monitors(), 1);
    drop(router);
    wait_for("the monitor to stop", || (monitors() == 0).then_some(()));
    println!("router dropped: monitor stopped");
}
