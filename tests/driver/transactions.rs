//! Transactions: commit, rollback on drop, savepoints, options, and exclusivity.

use std::time::Duration;

use lifeguard::{Executor, IsolationLevel, Pool, SqlState};

use crate::{client, support, TempTable};

fn count(c: &impl Executor, table: &str) -> i64 {
    c.query_one(format!("SELECT count(*) FROM {table}").as_str(), &[])
        .unwrap()
        .get(0)
}

#[test]
fn commit_persists_and_drop_rolls_back() {
    let c = client();
    let t = TempTable::create(&c, "tx", "id int4");
    let ins = format!("INSERT INTO {} VALUES ($1)", t.name);
    let tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&1i32]).unwrap();
    tx.commit().unwrap();
    {
        let tx = c.transaction().unwrap();
        tx.execute(ins.as_str(), &[&2i32]).unwrap();
        assert_eq!(count(&tx, &t.name), 2);
        // dropped without commit
    }
    assert_eq!(count(&c, &t.name), 1);
    let tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&3i32]).unwrap();
    tx.rollback().unwrap();
    assert_eq!(count(&c, &t.name), 1);
}

#[test]
fn savepoints_nest() {
    let c = client();
    let t = TempTable::create(&c, "sp", "id int4");
    let ins = format!("INSERT INTO {} VALUES ($1)", t.name);
    let mut tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&1i32]).unwrap();
    {
        let sp = tx.savepoint("inner").unwrap();
        sp.execute(ins.as_str(), &[&2i32]).unwrap();
        // rolled back to the savepoint on drop
    }
    {
        let mut sp = tx.transaction().unwrap();
        sp.execute(ins.as_str(), &[&3i32]).unwrap();
        let deeper = sp.transaction().unwrap();
        let err = deeper.execute("SELECT 1/0", &[]).unwrap_err();
        assert_eq!(err.code().map(|s| s.code()), Some("22012"));
        deeper.rollback().unwrap();
        sp.commit().unwrap();
    }
    tx.commit().unwrap();
    let ids: Vec<i32> = c
        .query(
            format!("SELECT id FROM {} ORDER BY id", t.name).as_str(),
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![1, 3]);
}

#[test]
fn isolation_and_read_only_are_applied() {
    let c = client();
    let tx = c
        .build_transaction()
        .isolation_level(IsolationLevel::Serializable)
        .read_only(true)
        .start()
        .unwrap();
    let level: String = tx
        .query_one("SHOW transaction_isolation", &[])
        .unwrap()
        .get(0);
    assert_eq!(level, "serializable");
    let ro: String = tx
        .query_one("SHOW transaction_read_only", &[])
        .unwrap()
        .get(0);
    assert_eq!(ro, "on");
    let err = tx
        .batch_execute("CREATE TEMP TABLE nope (x int)")
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("25006"));
}

#[test]
fn commit_after_a_failed_statement_reports_the_rollback() {
    let c = client();
    let tx = c.transaction().unwrap();
    assert!(tx.execute("SELECT 1/0", &[]).is_err());
    let err = tx.query("SELECT 1", &[]).unwrap_err();
    assert_eq!(err.code(), Some(&SqlState::IN_FAILED_SQL_TRANSACTION));
    assert!(
        tx.commit().is_err(),
        "COMMIT of an aborted transaction must not look like success"
    );
    assert_eq!(
        c.query_one("SELECT 1::int4", &[]).unwrap().get::<_, i32>(0),
        1
    );
}

#[test]
fn a_transaction_holds_its_connection_exclusively() {
    let c = client();
    let t = TempTable::create(&c, "excl", "id int4");
    let ins = format!("INSERT INTO {} VALUES ($1)", t.name);
    let tx = c.transaction().unwrap();
    tx.execute(ins.as_str(), &[&1i32]).unwrap();
    // Another coroutine on the same client: its insert must not land inside our
    // transaction (it would be rolled back with it). It waits for the gate instead.
    let other = c.clone();
    let ins2 = ins.clone();
    let h = may::go!(move || other.execute(ins2.as_str(), &[&2i32]).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let seen_inside = count(&tx, &t.name);
    assert_eq!(
        seen_inside, 1,
        "another caller's statement ran inside the transaction"
    );
    drop(tx); // rollback
    h.join().unwrap();
    let ids: Vec<i32> = c
        .query(format!("SELECT id FROM {}", t.name).as_str(), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(ids, vec![2]);
}

#[test]
fn pool_transactions_are_exclusive_and_return_the_connection() {
    let pool = Pool::builder(support::database_url())
        .max_size(2)
        .build()
        .unwrap();
    let c = client();
    let t = TempTable::create(&c, "ptx", "id int4");
    let ins = format!("INSERT INTO {} VALUES ($1)", t.name);
    {
        let tx = pool.transaction().unwrap();
        tx.execute(ins.as_str(), &[&1i32]).unwrap();
        assert_eq!(pool.status().in_use, 1);
        // Plain pool queries keep flowing on the other connection meanwhile.
        assert_eq!(count(&pool, &t.name), 0);
        tx.commit().unwrap();
    }
    assert_eq!(pool.status().in_use, 0);
    assert_eq!(count(&pool, &t.name), 1);
}
