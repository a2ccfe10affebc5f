//! Pipelined reads sharing one `Sync` (`PoolBuilder::share_sync`): every caller gets its
//! own answer, a failing read fails only itself (the reads the server skipped after it are
//! sent again), and writes, transactions, locking reads and unknown functions never share.

use lifeguard::{query, query_scalar, Client, Config, Executor, Pool, SyncStats};

use crate::support::database_url;

/// `film_id`'s title and `100 / divisor`; a zero divisor fails with 22012 on the server.
fn send_quotient(c: &Client, film_id: i32, divisor: i32) -> lifeguard::Result<QuotientPending> {
    query!(
        "SELECT title, 100 / $2::int4 AS quotient FROM film WHERE film_id = $1",
        film_id,
        divisor
    )
    .send(c)
    .map(|p| Box::new(move || p.one().map(|r| (r.title, r.quotient))) as QuotientPending)
}

type QuotientPending = Box<dyn FnOnce() -> lifeguard::Result<(String, Option<i32>)> + Send>;

fn titles(c: &Client) -> Vec<String> {
    query_scalar!("SELECT title FROM film WHERE film_id <= 40 ORDER BY film_id")
        .fetch_all(c)
        .unwrap()
}

/// Checks one answer against what the statement must return on its own.
fn check(
    titles: &[String],
    film_id: i32,
    divisor: i32,
    got: lifeguard::Result<(String, Option<i32>)>,
) {
    if divisor == 0 {
        let err = got.expect_err("a zero divisor must fail");
        assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err}");
    } else {
        let (title, q) = got.unwrap_or_else(|e| panic!("film {film_id} / {divisor}: {e}"));
        assert_eq!(title, titles[film_id as usize - 1]);
        assert_eq!(q, Some(100 / divisor));
    }
}

fn delta(after: SyncStats, before: SyncStats) -> SyncStats {
    SyncStats {
        shared: after.shared - before.shared,
        batches: after.batches - before.batches,
        sent_again: after.sent_again - before.sent_again,
    }
}

#[test]
fn a_failing_shared_read_fails_only_itself() {
    let c = Client::connect(&database_url()).unwrap();
    let titles = titles(&c);
    let before = c.sync_stats();
    let mut rounds = 0;
    // Batches form as the writer coroutine finds them, so repeat until a failure landed
    // in the middle of one (the server then skips the rest) a few times over.
    while rounds < 5 || (delta(c.sync_stats(), before).sent_again == 0 && rounds < 200) {
        rounds += 1;
        let divisors: Vec<i32> = (0..30)
            .map(|i| if i % 10 == 3 { 0 } else { i + 1 })
            .collect();
        let pending: Vec<_> = divisors
            .iter()
            .enumerate()
            .map(|(i, &d)| send_quotient(&c, i as i32 + 1, d).unwrap())
            .collect();
        // Read back to front: a skipped read is sent again whenever its caller reads.
        for (i, p) in pending.into_iter().enumerate().rev() {
            check(&titles, i as i32 + 1, divisors[i], p());
        }
    }
    let d = delta(c.sync_stats(), before);
    println!("{rounds} rounds of 30 reads: {d:?}");
    assert_eq!(d.shared, 30 * rounds);
    assert!(d.batches < d.shared, "the reads never shared a Sync: {d:?}");
    assert!(
        d.sent_again > 0,
        "no failure ever skipped a later read: {d:?}"
    );
    // The connection is still in step: a plain query answers.
    assert_eq!(
        c.query_one("SELECT 7::int4", &[]).unwrap().get::<_, i32>(0),
        7
    );
}

#[test]
fn many_callers_share_batches_and_keep_their_own_outcomes() {
    let c = Client::connect(&database_url()).unwrap();
    let titles = std::sync::Arc::new(titles(&c));
    let before = c.sync_stats();
    let handles: Vec<_> = (0..32)
        .map(|task: i32| {
            let (c, titles) = (c.clone(), titles.clone());
            may::go!(move || {
                for round in 0..40 {
                    let n = (task + round) % 7 + 1;
                    let calls: Vec<(i32, i32)> = (0..n)
                        .map(|i| {
                            let film = (task * 7 + round + i) % 40 + 1;
                            let divisor = if (task + round * 3 + i) % 9 == 0 {
                                0
                            } else {
                                i + 1
                            };
                            (film, divisor)
                        })
                        .collect();
                    let pending: Vec<_> = calls
                        .iter()
                        .map(|&(f, d)| send_quotient(&c, f, d).unwrap())
                        .collect();
                    for (&(f, d), p) in calls.iter().zip(pending) {
                        check(&titles, f, d, p());
                    }
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let d = delta(c.sync_stats(), before);
    println!("32 callers x 40 rounds: {d:?}");
    assert!(d.batches < d.shared, "no batch held two statements: {d:?}");
    assert!(
        d.sent_again > 0,
        "no read was skipped and sent again: {d:?}"
    );
    assert_eq!(c.in_flight(), 0);
}

#[test]
fn writes_transactions_locks_and_unknown_functions_never_share() {
    let c = Client::connect(&database_url()).unwrap();
    let before = c.sync_stats();
    // Inside a transaction: reads and writes keep their own Sync.
    let tx = c.transaction().unwrap();
    let p = query_scalar!("SELECT title FROM film WHERE film_id = $1", 1)
        .send(&tx)
        .unwrap();
    let updated = query!(
        "UPDATE film SET rental_rate = rental_rate WHERE film_id = $1",
        1
    )
    .execute(&tx)
    .unwrap();
    assert_eq!(
        (p.one().unwrap().as_str(), updated),
        ("ACADEMY DINOSAUR", 1)
    );
    tx.rollback().unwrap();
    // A write outside a transaction, and a read calling a function the text cannot
    // vouch for (checked or plain text alike).
    query!(
        "UPDATE film SET rental_rate = rental_rate WHERE film_id = $1",
        2
    )
    .execute(&c)
    .unwrap();
    query_scalar!(
        "SELECT pg_catalog.lower(title) FROM film WHERE film_id = $1",
        1
    )
    .fetch_one(&c)
    .unwrap();
    let text = c
        .send("SELECT md5(title), my_title FROM film, LATERAL (SELECT upper(title) AS my_title) u WHERE film_id = $1 FOR SHARE", &[&3i32])
        .unwrap();
    assert_eq!(text.one().unwrap().get::<_, String>(1), "ADAPTATION HOLES");
    assert_eq!(delta(c.sync_stats(), before).shared, 0);
    // And the controls: the same reads outside a transaction do share, text included.
    query_scalar!("SELECT title FROM film WHERE film_id = $1", 1)
        .fetch_one(&c)
        .unwrap();
    let text = c
        .send("SELECT title FROM film WHERE film_id = $1", &[&3i32])
        .unwrap();
    assert_eq!(text.one().unwrap().get::<_, String>(0), "ADAPTATION HOLES");
    assert_eq!(delta(c.sync_stats(), before).shared, 2);
}

/// A view over a volatile function that writes (an audit insert) looks like a plain read to
/// the text test. Sharing a `Sync` would put its write in one implicit transaction with other
/// callers' statements, and a failure among them would roll it back; the catalog check keeps
/// it on its own `Sync`. A view over built-ins only still shares.
#[test]
fn a_view_over_a_writing_function_never_shares() {
    let c = Client::connect(&database_url()).unwrap();
    let n = std::process::id();
    let (log, func, view, outer, plain, guarded, notify) = (
        format!("lg_audit_log_{n}"),
        format!("lg_audited_{n}"),
        format!("lg_audited_films_{n}"),
        format!("lg_audited_outer_{n}"),
        format!("lg_plain_films_{n}"),
        format!("lg_audit_guarded_{n}"),
        format!("lg_audit_notify_{n}"),
    );
    /// Drops the test's objects also when an assertion fails.
    struct Cleanup(Client, String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = self.0.batch_execute(&self.1);
        }
    }
    let _cleanup = Cleanup(
        c.clone(),
        format!(
            "DROP VIEW IF EXISTS {outer}, {view}, {plain}, {notify};
             DROP TABLE IF EXISTS {guarded}; DROP FUNCTION IF EXISTS {func}(int4);
             DROP TABLE IF EXISTS {log}"
        ),
    );
    c.batch_execute(&format!(
        "CREATE TABLE {log} (film_id int4);
         CREATE FUNCTION {func}(id int4) RETURNS int4 LANGUAGE plpgsql VOLATILE AS
           $$ BEGIN INSERT INTO {log} VALUES (id); RETURN id; END $$;
         CREATE VIEW {view} AS SELECT {func}(film_id) AS id, title FROM film WHERE film_id <= 3;
         CREATE VIEW {outer} AS SELECT * FROM {view};
         CREATE TABLE {guarded} (id int4);
         ALTER TABLE {guarded} ENABLE ROW LEVEL SECURITY;
         CREATE POLICY audited ON {guarded} USING ({func}(id) > 0);
         CREATE VIEW {notify} AS
           SELECT pg_notify('lg_audit', 'read') IS NULL AS n FROM film WHERE film_id = 1;
         CREATE VIEW {plain} AS SELECT film_id, upper(title) AS title FROM film"
    ))
    .unwrap();
    let read_view = format!("SELECT id, title FROM {view} ORDER BY id");
    let read_plain = format!("SELECT title FROM {plain} WHERE film_id = $1");
    let before = c.sync_stats();
    let rounds = 20;
    for _ in 0..rounds {
        // The audited read, then a failing shared read right behind it, before either is
        // read: if they shared a Sync, the failure would undo the audit rows.
        let audited = c.send(read_view.as_str(), &[]).unwrap();
        let failing = send_quotient(&c, 1, 0).unwrap();
        let rows: Vec<_> = audited.stream().collect::<lifeguard::Result<_>>().unwrap();
        assert_eq!(rows.len(), 3);
        let err = failing().expect_err("a zero divisor fails");
        assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err}");
    }
    let d = delta(c.sync_stats(), before);
    let logged: i64 = c
        .query_one(&format!("SELECT count(*) FROM {log}"), &[])
        .unwrap()
        .get(0);
    println!("{rounds} rounds: {logged} audit rows, {d:?}");
    assert_eq!(logged, 3 * rounds as i64, "an audit write was rolled back");
    assert_eq!(d.shared, rounds, "only the failing reads shared: {d:?}");

    // `SELECT count(*) FROM relation` on its own: the count and how many statements shared.
    let count_shared = |relation: &str| {
        let before = c.sync_stats();
        let p = c
            .send(format!("SELECT count(*) FROM {relation}").as_str(), &[])
            .unwrap();
        let count = p.one().unwrap().get::<_, i64>(0);
        (count, delta(c.sync_stats(), before).shared)
    };
    // A view over that view is found at depth, and so is a table whose row-security policy
    // calls the function.
    assert_eq!(count_shared(&outer), (3, 0), "the outer view shared");
    assert_eq!(count_shared(&guarded), (0, 0), "the guarded table shared");
    // A built-in with an effect (pg_notify) has no pg_depend entry: found in the view's tree.
    assert_eq!(count_shared(&notify), (1, 0), "the notifying view shared");

    // The control: a view over built-ins shares, also when first prepared in a transaction
    // (the catalog is asked on its first use outside one).
    let tx = c.transaction().unwrap();
    tx.query_one(read_plain.as_str(), &[&1i32]).unwrap();
    tx.rollback().unwrap();
    let before = c.sync_stats();
    let p = c.send(read_plain.as_str(), &[&1i32]).unwrap();
    assert_eq!(p.one().unwrap().get::<_, String>(0), "ACADEMY DINOSAUR");
    assert_eq!(delta(c.sync_stats(), before).shared, 1);
}

#[test]
fn share_sync_can_be_turned_off() {
    let mut cfg = Config::from_url(&database_url()).unwrap();
    cfg.share_sync(false);
    let c = Client::connect_with(&cfg).unwrap();
    let pending: Vec<_> = (1..=10)
        .map(|id: i32| {
            query_scalar!("SELECT title FROM film WHERE film_id = $1", id)
                .send(&c)
                .unwrap()
        })
        .collect();
    for p in pending {
        p.one().unwrap();
    }
    assert_eq!(c.sync_stats(), SyncStats::default());
    // The URL key says the same; a pool hands it to every connection.
    let url = format!(
        "{}{}share_sync=false",
        database_url(),
        if database_url().contains('?') {
            "&"
        } else {
            "?"
        }
    );
    let pool = Pool::builder(url).max_size(1).build().unwrap();
    query_scalar!("SELECT title FROM film WHERE film_id = $1", 1)
        .fetch_one(&pool)
        .unwrap();
    assert_eq!(pool.get().unwrap().sync_stats(), SyncStats::default());
}
