//! The migration runner: order, history, transactions, checksums, locking, revert.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use lifeguard::migrate::{MigrationKind, MigrationStatus, Migrator, Progress};
use lifeguard::{ErrorKind, Executor, Pool};

use crate::{advisory_locks, connect, exists, files, fresh, history};

const BASIC: &str = "tests/migrate/basic";

#[test]
fn run_applies_in_order_then_nothing() {
    let db = fresh();
    let c = connect(&db);
    let m = Migrator::new(BASIC).unwrap();
    let steps = m.run(&c).unwrap();
    assert_eq!(
        steps.iter().map(|s| s.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(history(&c), [(1, true), (2, true), (3, true)]);
    assert!(
        exists(&c, "items_name"),
        "the no-transaction index was built"
    );
    let name: String = c
        .query_one("SELECT name FROM items WHERE id = 1", &[])
        .unwrap()
        .get(0);
    assert_eq!(name, "seed; with a semicolon");
    // The recorded checksum is SHA-256 of the file, and a second run has nothing to do.
    let sum: Vec<u8> = c
        .query_one(
            "SELECT checksum FROM _lifeguard_migrations WHERE version = 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        sum,
        m.migrations()
            .iter()
            .find(|x| x.version() == 2)
            .unwrap()
            .checksum()
    );
    assert_eq!(sum.len(), 32);
    assert!(m.run(&c).unwrap().is_empty());
    assert_eq!(history(&c).len(), 3);
}

#[test]
fn embedded_migrations_match_the_folder() {
    let embedded = lifeguard::migrate!("tests/migrate/basic");
    let read = Migrator::new(BASIC).unwrap();
    let key = |m: &Migrator| {
        m.migrations()
            .iter()
            .map(|x| {
                (
                    x.version(),
                    x.kind(),
                    x.file().to_string(),
                    x.checksum().to_vec(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&embedded), key(&read));
    assert_eq!(embedded.migrations().len(), 5);
    assert_eq!(embedded.migrations()[0].kind(), MigrationKind::Up);
    assert!(embedded.migrations()[4].no_transaction());
    // And the repository's own example migration.
    let notes = lifeguard::migrate!();
    assert_eq!(notes.migrations()[0].version(), 20240101000000);
    assert_eq!(notes.migrations()[0].description(), "create notes");
}

#[test]
fn failed_migration_rolls_back_and_names_file_and_line() {
    let db = fresh();
    let c = connect(&db);
    let m = files(&[
        ("1_ok.sql", "CREATE TABLE one (id int);"),
        (
            "2_syntax.sql",
            "CREATE TABLE two (id int);\nINSERT INTO two VALUES (1);\n\n  SELEC 1;\n",
        ),
    ]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migrate);
    assert_eq!(err.code().map(|s| s.code()), Some("42601"), "{err}");
    let text = err.to_string();
    assert!(text.contains("`2_syntax.sql`, line 4"), "{text}");
    assert!(exists(&c, "one"));
    assert!(!exists(&c, "two"), "the failed migration was rolled back");
    assert_eq!(history(&c), [(1, true)]);

    // An error without a position names the line where the failing statement starts.
    let m = files(&[
        ("1_ok.sql", "CREATE TABLE one (id int);"),
        (
            "2_dup.sql",
            "CREATE TABLE three (id int PRIMARY KEY);\r\nINSERT INTO three VALUES (1);\r\n-- again\r\nINSERT INTO three\r\nVALUES (1);",
        ),
    ]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("23505"), "{err}");
    assert!(err.to_string().contains("`2_dup.sql`, line 4"), "{err}");
    assert!(!exists(&c, "three"));
    assert_eq!(
        advisory_locks(&c),
        0,
        "the lock was released after the error"
    );
}

#[test]
fn failed_no_transaction_migration_is_recorded_and_blocks() {
    let db = fresh();
    let c = connect(&db);
    let m = files(&[(
        "1_half.sql",
        "-- lifeguard:no-transaction\nCREATE TABLE half (id int);\nSELECT 1/0;\n",
    )]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("22012"));
    assert!(err.to_string().contains("`1_half.sql`, line 3"), "{err}");
    assert!(
        exists(&c, "half"),
        "statements before the failure stay applied"
    );
    assert_eq!(history(&c), [(1, false)]);
    let err = m.run(&c).unwrap_err();
    assert!(err.to_string().contains("failed earlier"), "{err}");
    assert_eq!(m.info(&c).unwrap()[0].status, MigrationStatus::Failed);
    // Once repaired by hand and its row deleted, it runs again.
    c.batch_execute("DROP TABLE half; DELETE FROM _lifeguard_migrations")
        .unwrap();
    let fixed = files(&[(
        "1_half.sql",
        "-- lifeguard:no-transaction\nCREATE TABLE half (id int);\n",
    )]);
    assert_eq!(fixed.run(&c).unwrap().len(), 1);
    assert_eq!(history(&c), [(1, true)]);
}

#[test]
fn changed_applied_migration_is_refused() {
    let db = fresh();
    let c = connect(&db);
    files(&[(
        "1_a.sql",
        "CREATE TABLE a (id int);\nCREATE TABLE b (id int);\n",
    )])
    .run(&c)
    .unwrap();
    // Same text checked out with CRLF: same checksum, nothing to do.
    let crlf = files(&[(
        "1_a.sql",
        "CREATE TABLE a (id int);\r\nCREATE TABLE b (id int);\r\n",
    )]);
    assert!(crlf.run(&c).unwrap().is_empty());
    assert_eq!(crlf.info(&c).unwrap()[0].status, MigrationStatus::Applied);

    let edited = files(&[
        (
            "1_a.sql",
            "CREATE TABLE a (id int8);\nCREATE TABLE b (id int);\n",
        ),
        ("2_c.sql", "CREATE TABLE c (id int);"),
    ]);
    let err = edited.run(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migrate);
    assert!(err.to_string().contains("checksum mismatch"), "{err}");
    assert!(!exists(&c, "c"), "nothing runs after a mismatch");
    let info = edited.info(&c).unwrap();
    assert_eq!(info[0].status, MigrationStatus::ChecksumMismatch);
    assert_eq!(info[1].status, MigrationStatus::Pending);
}

#[test]
fn older_pending_migration_is_reported_not_applied() {
    let db = fresh();
    let c = connect(&db);
    files(&[
        ("1_a.sql", "CREATE TABLE a ();"),
        ("3_c.sql", "CREATE TABLE c ();"),
    ])
    .run(&c)
    .unwrap();
    let m = files(&[
        ("1_a.sql", "CREATE TABLE a ();"),
        ("2_b.sql", "CREATE TABLE b ();"),
        ("3_c.sql", "CREATE TABLE c ();"),
    ]);
    let err = m.run(&c).unwrap_err();
    assert!(
        err.to_string().contains("older than the latest applied"),
        "{err}"
    );
    assert!(!exists(&c, "b"));
    let status: Vec<_> = m.info(&c).unwrap().into_iter().map(|i| i.status).collect();
    assert_eq!(
        status,
        [
            MigrationStatus::Applied,
            MigrationStatus::OutOfOrder,
            MigrationStatus::Applied
        ]
    );
    // Applied migrations that vanished from the source are an error unless ignored.
    let only_one = files(&[("1_a.sql", "CREATE TABLE a ();")]);
    let err = only_one.run(&c).unwrap_err();
    assert!(err.to_string().contains("missing from the source"), "{err}");
    assert!(only_one.ignore_missing(true).run(&c).unwrap().is_empty());
}

#[test]
fn target_version_revert_and_dry_run() {
    let db = fresh();
    let c = connect(&db);
    let m = Migrator::new(BASIC).unwrap();
    // A dry run reports without touching anything (not even the history table).
    let planned = m.clone().dry_run(true).run(&c).unwrap();
    assert_eq!(planned.len(), 3);
    assert!(!exists(&c, "_lifeguard_migrations"));
    assert!(!exists(&c, "items"));

    let steps = m.clone().target_version(Some(1)).run(&c).unwrap();
    assert_eq!(steps.len(), 1);
    assert_eq!(history(&c), [(1, true)]);
    assert_eq!(m.run(&c).unwrap().len(), 2);
    // 3 is a one-way migration: it cannot be reverted.
    let err = m.revert(&c).unwrap_err();
    assert!(err.to_string().contains("no `.down.sql`"), "{err}");

    c.batch_execute("DROP INDEX items_name; DELETE FROM _lifeguard_migrations WHERE version = 3")
        .unwrap();
    let dry = m.clone().dry_run(true).revert(&c).unwrap();
    assert_eq!(dry.len(), 1);
    assert!(exists(&c, "tags"));
    let reverted = m.revert(&c).unwrap();
    assert_eq!(reverted.iter().map(|s| s.version).collect::<Vec<_>>(), [2]);
    assert!(!exists(&c, "tags"));
    assert_eq!(history(&c), [(1, true)]);
    m.clone().target_version(Some(1)).run(&c).unwrap();
    let reverted = m.clone().target_version(Some(0)).revert(&c).unwrap();
    assert_eq!(reverted.iter().map(|s| s.version).collect::<Vec<_>>(), [1]);
    assert!(!exists(&c, "items"));
    assert!(history(&c).is_empty());
}

#[test]
fn eight_concurrent_migrators_apply_each_migration_once() {
    let db = fresh();
    let m = files(&[
        (
            "1_runs.sql",
            "CREATE TABLE runs (version int);\nINSERT INTO runs VALUES (1);",
        ),
        // Slow enough that the migrators really overlap.
        (
            "2_slow.sql",
            "SELECT pg_sleep(0.3);\nINSERT INTO runs VALUES (2);",
        ),
        ("3_more.sql", "INSERT INTO runs VALUES (3);"),
    ]);
    let waited = Arc::new(AtomicUsize::new(0));
    let counter = waited.clone();
    let m = m.on_progress(move |p| {
        if matches!(p, Progress::WaitingForLock) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let start = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (m, start, config) = (m.clone(), start.clone(), db.config().clone());
            std::thread::spawn(move || {
                let pool = Pool::builder(config).max_size(1).build().unwrap();
                start.wait();
                let steps = m.run(&pool).unwrap();
                (steps.len(), pool)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().map(|r| r.0).sum::<usize>(), 3);
    let c = connect(&db);
    let runs: Vec<i32> = c
        .query("SELECT version FROM runs ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(runs, [1, 2, 3], "each migration ran exactly once");
    assert_eq!(history(&c), [(1, true), (2, true), (3, true)]);
    // The pools (and their sessions) are still open: none of them kept the lock.
    assert_eq!(advisory_locks(&c), 0);
    assert!(
        waited.load(Ordering::Relaxed) >= 1,
        "someone had to wait for the lock"
    );
}

#[test]
fn lock_is_released_on_every_error_path() {
    let db = fresh();
    let pool = Pool::builder(db.config()).max_size(1).build().unwrap();
    // A no-transaction migration that leaves its own transaction open and failed.
    let m = files(&[(
        "1_open_tx.sql",
        "-- lifeguard:no-transaction\nBEGIN;\nSELECT 1/0;\n",
    )]);
    assert!(m.run(&pool).is_err());
    assert_eq!(advisory_locks(&pool), 0);
    // A checksum mismatch found under the lock.
    c_clear(&pool);
    files(&[("1_a.sql", "SELECT 1;")]).run(&pool).unwrap();
    assert!(files(&[("1_a.sql", "SELECT 2;")]).run(&pool).is_err());
    assert_eq!(advisory_locks(&pool), 0);
    // Another migrator can go on right away.
    assert_eq!(
        files(&[("1_a.sql", "SELECT 1;"), ("2_b.sql", "SELECT 2;")])
            .run(&pool)
            .unwrap()
            .len(),
        1
    );
}

fn c_clear(pool: &Pool) {
    pool.batch_execute("DELETE FROM _lifeguard_migrations")
        .unwrap();
}

#[test]
fn bad_sources_are_errors() {
    let err = Migrator::new("tests/migrate/no-such-folder").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migrate);
    assert!(err.to_string().contains("no-such-folder"), "{err}");
    for (bad, why) in [
        (
            vec![("create_users.sql", "")],
            "malformed migration file name",
        ),
        (
            vec![("1_a.sql", ""), ("1_b.sql", "")],
            "two migrations have version 1",
        ),
        (
            vec![("1_a.sql", ""), ("1_a.up.sql", "")],
            "two migrations have version 1",
        ),
        (vec![("2_a.down.sql", "")], "no matching `.up.sql`"),
        (
            vec![("2_a.up.sql", ""), ("2_b.down.sql", "")],
            "`2_b.down.sql` has no matching `.up.sql` file (`2_b.up.sql`)",
        ),
    ] {
        let err = Migrator::from_files(bad.iter().map(|(n, s)| (n.to_string(), s.to_string())))
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    // Non-SQL files are ignored.
    assert!(Migrator::from_files([("README.md", "hi")])
        .unwrap()
        .migrations()
        .is_empty());
}

#[test]
fn error_lines_count_characters_not_bytes() {
    let db = fresh();
    let c = connect(&db);
    // The server reports a character position; the accented text before it takes more
    // bytes than characters.
    let m = files(&[(
        "1_pos.sql",
        "CREATE TABLE café (nöm text);\nINSERT INTO café VALUES ('ééé');\nSELECT nöm,\n       missing_column\nFROM café;\n",
    )]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("42703"), "{err}");
    assert!(err.to_string().contains("`1_pos.sql`, line 4"), "{err}");
    assert!(!exists(&c, "café"));
}

#[test]
fn sql_function_bodies_are_not_split() {
    let db = fresh();
    let c = connect(&db);
    let body = "CREATE FUNCTION two() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT 1;\n  SELECT CASE WHEN true THEN 2 END;\nEND;\n\
                CREATE FUNCTION three() RETURNS int LANGUAGE plpgsql AS $body$\nBEGIN\n  RETURN 3;\nEND;\n$body$;\n";
    let no_tx = format!(
        "-- lifeguard:no-transaction\n{}",
        body.replace("two", "four").replace("three", "five")
    );
    files(&[("1_fns.sql", body), ("2_fns.sql", &no_tx)])
        .run(&c)
        .unwrap();
    let row = c
        .query_one("SELECT two(), three(), four(), five()", &[])
        .unwrap();
    assert_eq!(
        (
            row.get::<_, i32>(0),
            row.get::<_, i32>(1),
            row.get::<_, i32>(2),
            row.get::<_, i32>(3)
        ),
        (2, 3, 2, 3)
    );
}

#[test]
fn search_path_changes_in_a_migration_do_not_move_the_bookkeeping() {
    let db = fresh();
    let c = connect(&db);
    let m = files(&[
        // What pg_dump output starts with.
        (
            "1_dump.sql",
            "SELECT pg_catalog.set_config('search_path', '', false);\nCREATE TABLE public.foo (id int);\n",
        ),
        (
            "2_ntx.sql",
            "-- lifeguard:no-transaction\nSET search_path = '';\nCREATE TABLE public.bar (id int);\n",
        ),
        // Unqualified: lands in public only if the session was reset in between.
        ("3_after.sql", "CREATE TABLE baz (id int);\n"),
    ]);
    assert_eq!(m.run(&c).unwrap().len(), 3);
    assert_eq!(history(&c), [(1, true), (2, true), (3, true)]);
    assert!(exists(&c, "public.baz"));
    let path: String = c.query_one("SHOW search_path", &[]).unwrap().get(0);
    assert_eq!(path, "\"$user\", public", "the session was reset");
    assert!(m.run(&c).unwrap().is_empty());
}

#[test]
fn interrupted_no_transaction_migration_is_recorded_as_failed() {
    let db = fresh();
    let m = files(&[(
        "1_slow.sql",
        "-- lifeguard:no-transaction\nCREATE TABLE n1 (id int);\nSELECT pg_sleep(30);\nCREATE TABLE n2 (id int);\n",
    )]);
    let migrating = connect(&db);
    let pid: i32 = migrating
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    let runner = std::thread::spawn(move || m.run(&migrating).map(|s| s.len()));
    // Kill the migrating session half-way, as a crashed process would leave it.
    let c = connect(&db);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !exists(&c, "n1") {
        assert!(std::time::Instant::now() < deadline, "n1 never appeared");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let killed: bool = c
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    assert!(runner.join().unwrap().is_err());
    assert_eq!(history(&c), [(1, false)]);
    let again = files(&[(
        "1_slow.sql",
        "-- lifeguard:no-transaction\nCREATE TABLE n1 (id int);\nSELECT pg_sleep(30);\nCREATE TABLE n2 (id int);\n",
    )]);
    assert_eq!(again.info(&c).unwrap()[0].status, MigrationStatus::Failed);
    let err = again.run(&c).unwrap_err();
    assert!(err.to_string().contains("failed earlier"), "{err}");
}

#[test]
fn transaction_control_in_a_transactional_file_is_refused() {
    let db = fresh();
    let c = connect(&db);
    let m = files(&[(
        "1_commit.sql",
        "CREATE TABLE a (id int);\nCOMMIT;\nINSERT INTO a VALUES (1);\n",
    )]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Migrate);
    let text = err.to_string();
    assert!(text.contains("`1_commit.sql`, line 2: COMMIT"), "{text}");
    assert!(text.contains("lifeguard:no-transaction"), "{text}");
    assert!(!exists(&c, "a"), "nothing of it ran");
    assert!(history(&c).is_empty());
    // Savepoints stay inside the migration's transaction and are fine.
    let m = files(&[(
        "1_savepoint.sql",
        "SAVEPOINT s;\nCREATE TABLE b (id int);\nROLLBACK TO SAVEPOINT s;\nCREATE TABLE c (id int);\n",
    )]);
    assert_eq!(m.run(&c).unwrap().len(), 1);
    assert!(exists(&c, "c") && !exists(&c, "b"));
}

#[test]
fn byte_order_marks_and_parenthesised_semicolons() {
    let db = fresh();
    let c = connect(&db);
    let with_bom = files(&[("1_bom.sql", "\u{feff}CREATE TABLE bom (id int);\n")]);
    let without = files(&[("1_bom.sql", "CREATE TABLE bom (id int);\n")]);
    assert_eq!(
        with_bom.migrations()[0].checksum(),
        without.migrations()[0].checksum()
    );
    assert_eq!(with_bom.run(&c).unwrap().len(), 1);
    assert!(exists(&c, "bom"));
    // A rule's action list keeps its `;` inside the parentheses, also when the file is
    // run statement by statement.
    let rule = files(&[
        ("1_bom.sql", "CREATE TABLE bom (id int);\n"),
        (
            "2_rule.sql",
            "-- lifeguard:no-transaction\nCREATE TABLE ra (id int);\nCREATE TABLE rx (id int);\n\
             CREATE TABLE ry (id int);\n\
             CREATE RULE r AS ON INSERT TO ra DO ALSO (INSERT INTO rx VALUES (1); INSERT INTO ry VALUES (2));\n\
             INSERT INTO ra VALUES (0);\n",
        ),
    ]);
    assert_eq!(rule.run(&c).unwrap().len(), 1);
    let n: i64 = c
        .query_one(
            "SELECT (SELECT count(*) FROM rx) + (SELECT count(*) FROM ry)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
}

#[test]
fn a_failing_statement_is_located_without_running_the_file_again() {
    let db = fresh();
    let c = connect(&db);
    // nextval is not undone by the rollback: it counts how often the file ran.
    let m = files(&[
        ("1_seq.sql", "CREATE SEQUENCE runs;\n"),
        (
            "2_dup.sql",
            "SELECT nextval('runs');\nCREATE TABLE d (id int PRIMARY KEY);\n\nINSERT INTO d VALUES (1);\nINSERT INTO d VALUES (1);\n",
        ),
    ]);
    let err = m.run(&c).unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("23505"), "{err}");
    assert!(err.to_string().contains("`2_dup.sql`, line 5"), "{err}");
    let runs: i64 = c
        .query_one("SELECT last_value FROM runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 1, "the file ran once");
    assert!(!exists(&c, "d"));
}

#[test]
fn runs_through_one_shared_client_take_turns() {
    // Advisory locks are re-entrant within a session, so two runs over the clones of one
    // `Client` are kept apart by the connection's exclusive gate, not by the lock.
    let db = fresh();
    let c = connect(&db);
    let m = files(&[
        ("1_runs.sql", "CREATE TABLE runs (version int);"),
        (
            "2_slow.sql",
            "SELECT pg_sleep(0.3);\nINSERT INTO runs VALUES (2);",
        ),
    ]);
    let start = Arc::new(Barrier::new(3));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (m, c, start) = (m.clone(), c.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                m.run(&c).map(|steps| steps.len())
            })
        })
        .collect();
    // A third user of the same connection, whose query must not land inside a migration.
    start.wait();
    let during: i64 = c.query_one("SELECT 1::int8", &[]).unwrap().get(0);
    assert_eq!(during, 1);
    let done: Vec<usize> = handles
        .into_iter()
        .map(|h| h.join().unwrap().expect("both runs succeed"))
        .collect();
    assert_eq!(done.iter().sum::<usize>(), 2, "{done:?}");
    let runs: i64 = c
        .query_one("SELECT count(*) FROM runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 1, "the slow migration ran once");
    assert_eq!(advisory_locks(&c), 0);
}

#[test]
fn a_waiting_migrator_outlasts_its_query_timeout() {
    let db = fresh();
    let holder = connect(&db);
    let mut config = db.config().clone();
    config.query_timeout(Some(std::time::Duration::from_millis(200)));
    let m = files(&[(
        "1_slow.sql",
        "SELECT pg_sleep(1);\nCREATE TABLE slow (id int);",
    )]);
    let (m2, started) = (m.clone(), Arc::new(Barrier::new(2)));
    let gate = started.clone();
    let first = std::thread::spawn(move || {
        let m2 = m2.on_progress(move |p| {
            if matches!(p, Progress::Applying(_)) {
                gate.wait();
            }
        });
        m2.run(&holder).map(|s| s.len())
    });
    started.wait();
    // The lock is held for a second, five times this client's query_timeout.
    let waiter = lifeguard::Client::connect_with(&config).unwrap();
    let steps = m
        .run(&waiter)
        .expect("waits for the lock instead of timing out");
    assert_eq!(first.join().unwrap().unwrap(), 1);
    assert!(steps.is_empty(), "the first migrator applied it");
    assert!(exists(&waiter, "slow"));
    assert_eq!(advisory_locks(&waiter), 0);
}

#[test]
fn lock_is_released_when_a_progress_callback_panics() {
    let db = fresh();
    let pool = Pool::builder(db.config()).max_size(1).build().unwrap();
    let m = files(&[("1_a.sql", "CREATE TABLE a (id int);")]).on_progress(|p| {
        if matches!(p, Progress::Applied(..)) {
            panic!("progress callback fails");
        }
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| m.run(&pool)));
    assert!(caught.is_err());
    // The pool's only connection went back without the lock, and the migration committed.
    assert_eq!(advisory_locks(&pool), 0);
    assert_eq!(history(&pool), [(1, true)]);
    let more = files(&[
        ("1_a.sql", "CREATE TABLE a (id int);"),
        ("2_b.sql", "SELECT 1;"),
    ]);
    assert_eq!(more.run(&pool).unwrap().len(), 1);
}

#[test]
fn lock_is_released_after_a_failed_revert() {
    let db = fresh();
    let pool = Pool::builder(db.config()).max_size(1).build().unwrap();
    let m = files(&[
        ("1_a.up.sql", "CREATE TABLE a (id int);"),
        ("1_a.down.sql", "DROP TABLE a;\nDROP TABLE not_there;"),
    ]);
    m.run(&pool).unwrap();
    let err = m.revert(&pool).unwrap_err();
    assert!(err.to_string().contains("`1_a.down.sql`, line 2"), "{err}");
    assert_eq!(advisory_locks(&pool), 0);
    assert!(exists(&pool, "a"), "the failed revert rolled back");
    assert_eq!(history(&pool), [(1, true)]);
}
