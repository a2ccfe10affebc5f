//! LISTEN/NOTIFY: every notification arrives, in commit order.

use std::time::Duration;

use lifeguard::Executor;

use crate::{client, unique};

#[test]
fn notifications_arrive_in_commit_order() {
    let listener = client();
    let channel = unique("chan");
    listener
        .batch_execute(&format!("LISTEN {channel}"))
        .unwrap();
    let sender = client();
    // Three transactions commit in the order 2, 0, 1 (not the order they began).
    let t0 = sender.clone();
    let mut txs = Vec::new();
    for i in 0..3 {
        let c = client();
        c.batch_execute("BEGIN").unwrap();
        c.batch_execute(&format!("NOTIFY {channel}, 'tx{i}'"))
            .unwrap();
        txs.push(c);
    }
    for i in [2usize, 0, 1] {
        txs[i].batch_execute("COMMIT").unwrap();
    }
    // Plus a burst of 500 from one session, which must all arrive, in order.
    for i in 0..500 {
        t0.execute("SELECT pg_notify($1, $2)", &[&channel, &format!("n{i}")])
            .unwrap();
    }
    let notes = listener.notifications();
    let mut got = Vec::new();
    while got.len() < 503 {
        match notes.recv_timeout(Duration::from_secs(10)).unwrap() {
            Some(n) => {
                assert_eq!(n.channel(), channel);
                got.push(n.payload().to_string());
            }
            None => panic!("only {} notifications arrived", got.len()),
        }
    }
    let mut expected = vec!["tx2".to_string(), "tx0".into(), "tx1".into()];
    expected.extend((0..500).map(|i| format!("n{i}")));
    assert_eq!(got, expected);
    assert_eq!(notes.try_recv().unwrap(), None);
}

#[test]
fn notifications_arrive_while_queries_run_on_the_listener() {
    let listener = client();
    let channel = unique("busy");
    listener
        .batch_execute(&format!("LISTEN {channel}"))
        .unwrap();
    let sender = client();
    for i in 0..20 {
        sender
            .execute("SELECT pg_notify($1, $2)", &[&channel, &i.to_string()])
            .unwrap();
        // Notifications interleave with this connection's own query responses.
        let v: i32 = listener.query_one("SELECT $1::int4", &[&i]).unwrap().get(0);
        assert_eq!(v, i);
    }
    let notes = listener.notifications();
    for i in 0..20 {
        let n = notes.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert_eq!(n.payload(), i.to_string());
        assert_eq!(n.process_id(), sender.backend_pid());
    }
}
