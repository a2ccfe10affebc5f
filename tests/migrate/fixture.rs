//! `#[lifeguard::test]` and `TestDatabase`.

use lifeguard::testing::TestDatabase;
use lifeguard::{Client, Error, Executor, Pool};

use crate::exists;

// No options: the crate's `migrations/` folder (the repository's example) is applied.
#[lifeguard::test]
fn default_applies_the_crate_migrations(pool: &Pool) {
    let id: i64 = pool
        .query_one("INSERT INTO notes (body) VALUES ('hi') RETURNING id", &[])
        .unwrap()
        .get(0);
    assert_eq!(id, 1, "a fresh database: the first note");
    // The body runs in a may coroutine.
    assert!(may::coroutine::is_coroutine());
}

#[lifeguard::test(
    migrations = "tests/migrate/basic",
    fixtures("tests/migrate/fixtures/items.sql")
)]
fn migrations_and_fixtures(pool: &Pool) -> Result<(), Error> {
    let n: i64 = pool.query_one("SELECT count(*) FROM items", &[])?.get(0);
    assert_eq!(
        n, 3,
        "one seed row from the migrations, two from the fixture"
    );
    assert!(!exists(pool, "notes"), "only the named migrations ran");
    Ok(())
}

#[lifeguard::test(migrations = false)]
fn no_migrations(pool: Pool) {
    assert!(!exists(&pool, "_lifeguard_migrations"));
    assert!(!exists(&pool, "notes"));
}

#[lifeguard::test]
#[should_panic(expected = "the body's own message")]
fn a_failing_body_fails_the_test() {
    panic!("the body's own message");
}

#[lifeguard::test(migrations = false)]
fn an_err_fails_the_test_too(pool: &Pool) {
    // Checked through the trait the expansion uses: an Err return panics.
    let outcome: Result<(), Error> = pool.batch_execute("SELEC 1");
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lifeguard::testing::__TestOutcome::__check(outcome);
    }));
    assert!(caught.is_err());
}

#[test]
fn the_database_is_dropped_afterwards() {
    let db = TestDatabase::builder().create().unwrap();
    let name = db.name().to_string();
    let pool = db.pool().clone();
    pool.batch_execute("CREATE TABLE t (id int)").unwrap();
    drop(db);
    assert!(!database_exists(&name), "{name} still exists");
}

#[test]
fn a_failing_fixture_names_its_line() {
    let err = TestDatabase::builder()
        .fixture(
            "bad.sql",
            "CREATE TABLE x (id int);\nINSERT INTO nope VALUES (1);",
        )
        .create()
        .unwrap_err();
    assert!(err.to_string().contains("`bad.sql`, line 2"), "{err}");
}

// Run only as a child process of the test below, which checks what it leaves behind.
#[lifeguard::test(migrations = false)]
#[ignore = "a deliberately failing body, run by the_database_is_dropped_after_a_panicking_body"]
fn panicking_body_for_the_drop_check(pool: &Pool) {
    if std::env::var_os("LIFEGUARD_PANIC_CHILD").is_none() {
        return;
    }
    let name: String = pool
        .query_one("SELECT current_database()::text", &[])
        .unwrap()
        .get(0);
    println!("LG_TEST_DB={name}");
    panic!("the body fails on purpose");
}

#[test]
fn the_database_is_dropped_after_a_panicking_body() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fixture::panicking_body_for_the_drop_check",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LIFEGUARD_PANIC_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "the child test must fail: {stdout}");
    let name = stdout
        .lines()
        .find_map(|l| l.split("LG_TEST_DB=").nth(1))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no database name in the child's output: {stdout}"));
    assert!(!database_exists(name), "{name} outlived the failed test");
}

// Run only as a child process of the test below, which kills it with SIGKILL.
#[test]
#[ignore = "a process to be killed, run by databases_of_killed_processes_are_swept"]
fn killed_child_holding_a_test_database() {
    if std::env::var_os("LIFEGUARD_KILL_CHILD").is_none() {
        return;
    }
    let db = lifeguard::testing::TestDatabase::builder()
        .create()
        .unwrap();
    println!("LG_TEST_DB={}", db.name());
    std::thread::sleep(std::time::Duration::from_secs(120));
}

#[test]
fn databases_of_killed_processes_are_swept() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "fixture::killed_child_holding_a_test_database",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LIFEGUARD_KILL_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let name = std::io::BufReader::new(stdout)
        .lines()
        .map_while(|l| l.ok())
        .find_map(|l| l.split("LG_TEST_DB=").nth(1).map(|n| n.trim().to_string()))
        .expect("the child printed its database");
    child.kill().unwrap(); // SIGKILL: no destructor runs
    child.wait().unwrap();
    assert!(
        database_exists(&name),
        "{name} should outlive the killed process"
    );
    let url = lifeguard::testing::database_url().unwrap();
    // Its pool's sessions end with the process; wait until the server has seen them go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut swept = 0;
    while database_exists(&name) && std::time::Instant::now() < deadline {
        swept += lifeguard::testing::sweep_orphaned_databases(&url).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!database_exists(&name), "{name} was not swept");
    assert!(swept >= 1);
    println!("swept {swept} orphaned test database(s), {name} among them");
}

fn database_exists(name: &str) -> bool {
    let admin = Client::connect(&lifeguard::testing::database_url().unwrap()).unwrap();
    admin
        .query_one(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = $1)",
            &[&name],
        )
        .unwrap()
        .get(0)
}
