//! The `lifeguard migrate …` and `lifeguard database …` commands, run as the built binary
//! against a real server (`DATABASE_URL`), each test in its own database and folder.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

use lifeguard::{Client, Executor};

mod scratch;

use scratch::database_url;

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A scratch folder and a database name, both removed at the end.
struct Scratch {
    dir: PathBuf,
    url: String,
    name: String,
}

impl Scratch {
    fn new() -> Scratch {
        let name = unique("lg_cli");
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(dir.join("migrations")).unwrap();
        let base = database_url();
        let (base, query) = match base.split_once('?') {
            Some((b, q)) => (b.to_string(), format!("?{q}")),
            None => (base, String::new()),
        };
        let server = base.rsplit_once('/').map_or(base.as_str(), |x| x.0);
        Scratch {
            url: format!("{server}/{name}{query}"),
            dir,
            name,
        }
    }

    fn file(&self, name: &str, text: &str) {
        std::fs::write(self.dir.join("migrations").join(name), text).unwrap();
    }

    /// Runs `lifeguard` in the scratch folder with DATABASE_URL set to the scratch database.
    fn run(&self, args: &[&str]) -> Output {
        lifeguard(&self.dir, args, Some(&self.url))
    }

    fn client(&self) -> Client {
        Client::connect(&self.url).unwrap()
    }

    fn exists(&self) -> bool {
        let admin = Client::connect(&database_url()).unwrap();
        admin
            .query_opt(
                "SELECT 1 FROM pg_database WHERE datname = $1",
                &[&self.name],
            )
            .unwrap()
            .is_some()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Ok(admin) = Client::connect(&database_url()) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn lifeguard(dir: &Path, args: &[&str], url: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lifeguard"));
    cmd.current_dir(dir).args(args).env_remove("DATABASE_URL");
    if let Some(url) = url {
        cmd.env("DATABASE_URL", url);
    }
    cmd.output().expect("run the lifeguard binary")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "expected success\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Fails with exit code 1, an `error:` line, and no panic; returns stderr.
#[track_caller]
fn fails(o: Output) -> String {
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout: {}\nstderr: {err}",
        stdout(&o)
    );
    assert!(err.starts_with("error: "), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn help_lists_the_commands() {
    let dir = std::env::temp_dir();
    let top = ok(lifeguard(&dir, &["--help"], None));
    for word in ["migrate", "database", "prepare", "generate"] {
        assert!(top.contains(word), "{top}");
    }
    assert!(top.contains("Examples:"), "{top}");
    let m = ok(lifeguard(&dir, &["migrate", "--help"], None));
    for word in [
        "add",
        "run",
        "revert",
        "info",
        ".up.sql",
        "-- lifeguard:no-transaction",
    ] {
        assert!(m.contains(word), "{m}");
    }
    let run = ok(lifeguard(&dir, &["migrate", "run", "--help"], None));
    for word in [
        "--database-url",
        "--source",
        "--target-version",
        "--dry-run",
    ] {
        assert!(run.contains(word), "{run}");
    }
    let d = ok(lifeguard(&dir, &["database", "--help"], None));
    for word in ["create", "drop", "reset"] {
        assert!(d.contains(word), "{d}");
    }
    let g = ok(lifeguard(&dir, &["generate", "models", "--help"], None));
    for word in ["--schema", "--tables", "--out", "--database-url"] {
        assert!(g.contains(word), "{g}");
    }
    // Usage errors are clap's (exit code 2), not panics.
    let o = lifeguard(&dir, &["migrate", "frobnicate"], None);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn add_creates_timestamped_files() {
    let s = Scratch::new();
    let out = ok(s.run(&["migrate", "add", "create", "Users"]));
    assert!(out.contains("created"), "{out}");
    ok(s.run(&["migrate", "add", "-r", "add posts!"]));
    let mut names: Vec<String> = std::fs::read_dir(s.dir.join("migrations"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3, "{names:?}");
    let version = |n: &str| n.split('_').next().unwrap().parse::<i64>().unwrap();
    assert!(names[0].ends_with("_create_users.sql"), "{names:?}");
    assert_eq!(names[0].split('_').next().unwrap().len(), 14, "a timestamp");
    assert!(names[1].ends_with("_add_posts.down.sql"), "{names:?}");
    assert!(names[2].ends_with("_add_posts.up.sql"), "{names:?}");
    assert!(version(&names[1]) > version(&names[0]), "{names:?}");
    // The new files are valid migrations.
    let m = lifeguard::migrate::Migrator::new(s.dir.join("migrations")).unwrap();
    assert_eq!(m.migrations().len(), 3);
}

#[test]
fn database_create_migrate_info_revert_reset_drop() {
    let s = Scratch::new();
    s.file("1_items.up.sql", "CREATE TABLE items (id int);\n");
    s.file("1_items.down.sql", "DROP TABLE items;\n");
    s.file("2_seed.sql", "INSERT INTO items VALUES (1);\n");

    let out = ok(s.run(&["database", "create"]));
    assert!(
        out.contains(&format!("created database {}", s.name)),
        "{out}"
    );
    assert!(s.exists());
    assert!(ok(s.run(&["database", "create"])).contains("already exists"));

    let out = ok(s.run(&["migrate", "run", "--dry-run"]));
    assert!(out.contains("would apply  1 items"), "{out}");
    let out = ok(s.run(&["migrate", "run", "--target-version", "1"]));
    assert!(out.contains("applying  1 items ... done"), "{out}");
    assert!(out.contains("applied 1 migration(s)"), "{out}");
    let out = ok(s.run(&["migrate", "info"]));
    assert!(out.contains("VERSION"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("1 ") && l.contains("applied")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("2 ") && l.contains("pending")),
        "{out}"
    );
    let out = ok(s.run(&["migrate", "run"]));
    assert!(out.contains("applying  2 seed ... done"), "{out}");
    assert!(ok(s.run(&["migrate", "run"])).contains("up to date"));
    let n: i64 = s
        .client()
        .query_one("SELECT count(*) FROM items", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);

    // An edited applied migration: info shows it, run refuses.
    s.file("2_seed.sql", "INSERT INTO items VALUES (2);\n");
    let info = s.run(&["migrate", "info"]);
    assert!(
        stdout(&info).contains("checksum mismatch"),
        "{}",
        stdout(&info)
    );
    let err = fails(info);
    assert!(err.contains("need repair: 2 (checksum mismatch)"), "{err}");
    let err = fails(s.run(&["migrate", "run"]));
    assert!(err.contains("checksum mismatch"), "{err}");
    // And 2 is one-way: revert says so.
    s.file("2_seed.sql", "INSERT INTO items VALUES (1);\n");
    let err = fails(s.run(&["migrate", "revert"]));
    assert!(err.contains("no `.down.sql`"), "{err}");

    // A failing migration: named with its line, exit code 1, nothing half-applied.
    s.file(
        "3_bad.sql",
        "CREATE TABLE more (id int);\nINSERT INTO nope VALUES (1);\n",
    );
    let o = s.run(&["migrate", "run"]);
    assert!(
        stdout(&o).contains("applying  3 bad ... failed"),
        "{}",
        stdout(&o)
    );
    let err = fails(o);
    assert!(err.contains("`3_bad.sql`, line 2"), "{err}");
    std::fs::remove_file(s.dir.join("migrations/3_bad.sql")).unwrap();

    // A failed no-transaction migration stays recorded as failed: info exits 1 on it.
    s.file(
        "3_bad.sql",
        "-- lifeguard:no-transaction\nINSERT INTO nope VALUES (1);\n",
    );
    fails(s.run(&["migrate", "run"]));
    let info = s.run(&["migrate", "info"]);
    let err = fails(info);
    assert!(err.contains("need repair: 3 (failed)"), "{err}");
    std::fs::remove_file(s.dir.join("migrations/3_bad.sql")).unwrap();

    // reset = drop, create, migrate.
    let out = ok(s.run(&["database", "reset", "--force"]));
    assert!(out.contains("dropped database"), "{out}");
    assert!(out.contains("applied 2 migration(s)"), "{out}");
    let c = s.client();
    let n: i64 = c
        .query_one("SELECT count(*) FROM _lifeguard_migrations", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 2);
    drop(c);

    let out = ok(s.run(&["database", "drop"]));
    assert!(out.contains("dropped database"), "{out}");
    assert!(!s.exists());
    assert!(ok(s.run(&["database", "drop"])).contains("does not exist"));
}

#[test]
fn revert_runs_down_files() {
    let s = Scratch::new();
    s.file("1_a.up.sql", "CREATE TABLE a (id int);");
    s.file("1_a.down.sql", "DROP TABLE a;");
    s.file("2_b.up.sql", "CREATE TABLE b (id int);");
    s.file("2_b.down.sql", "DROP TABLE b;");
    ok(s.run(&["database", "create"]));
    ok(s.run(&["migrate", "run"]));
    let out = ok(s.run(&["migrate", "revert", "--dry-run"]));
    assert!(out.contains("would revert 2 b"), "{out}");
    let out = ok(s.run(&["migrate", "revert"]));
    assert!(out.contains("reverting 2 b ... done"), "{out}");
    let out = ok(s.run(&["migrate", "revert", "--target-version", "0"]));
    assert!(out.contains("reverting 1 a ... done"), "{out}");
    assert!(ok(s.run(&["migrate", "revert"])).contains("nothing to revert"));
    let tables: i64 = s
        .client()
        .query_one(
            "SELECT count(*) FROM pg_tables WHERE tablename IN ('a', 'b')",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0);
}

#[test]
fn reads_database_url_from_dot_env() {
    let s = Scratch::new();
    std::fs::write(s.dir.join(".env"), format!("DATABASE_URL={}\n", s.url)).unwrap();
    let out = lifeguard(&s.dir, &["database", "create"], None);
    assert!(ok(out).contains(&s.name));
    assert!(s.exists());
}

#[test]
fn bad_input_fails_cleanly() {
    let s = Scratch::new();
    let dir = &s.dir;
    // No URL at all.
    let err = fails(lifeguard(dir, &["migrate", "info"], None));
    assert!(err.contains("DATABASE_URL"), "{err}");
    // A malformed URL.
    let err = fails(lifeguard(
        dir,
        &["database", "create"],
        Some("mysql://x@y/z"),
    ));
    assert!(err.contains("bad database URL"), "{err}");
    let err = fails(lifeguard(
        dir,
        &[
            "migrate",
            "run",
            "--database-url",
            "postgres://u@h:notaport/d",
        ],
        None,
    ));
    assert!(err.contains("invalid port"), "{err}");
    // A server that is not there.
    let down = "postgres://postgres@127.0.0.1:1/x";
    for args in [
        &["migrate", "run"][..],
        &["database", "create"],
        &["database", "drop"],
    ] {
        let err = fails(lifeguard(dir, args, Some(down)));
        assert!(err.contains("cannot connect"), "{err}");
    }
    // A missing folder.
    let err = fails(s.run(&["migrate", "run", "--source", "no/such/dir"]));
    assert!(err.contains("no/such/dir"), "{err}");
    // A malformed file name.
    s.file("create_users.sql", "SELECT 1;");
    let err = fails(s.run(&["migrate", "info"]));
    assert!(
        err.contains("malformed migration file name `create_users.sql`"),
        "{err}"
    );
    let err = fails(s.run(&["migrate", "add", "x"]));
    assert!(err.contains("create_users.sql"), "{err}");
    let err = fails(s.run(&["migrate", "add", "--source", "other", "!!!"]));
    assert!(err.contains("letter or digit"), "{err}");
}

#[test]
fn run_waits_for_another_migrator() {
    let s = Scratch::new();
    s.file("1_a.sql", "CREATE TABLE a ();");
    ok(s.run(&["database", "create"]));
    // Play the other app instance: hold the migration lock.
    let holder = s.client();
    let key = lifeguard::migrate::LOCK_KEY;
    holder
        .execute("SELECT pg_advisory_lock($1)", &[&key])
        .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .current_dir(&s.dir)
        .env("DATABASE_URL", &s.url)
        .args(["migrate", "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    assert!(child.try_wait().unwrap().is_none(), "it waits for the lock");
    holder
        .execute("SELECT pg_advisory_unlock($1)", &[&key])
        .unwrap();
    let out = ok(child.wait_with_output().unwrap());
    assert!(out.contains("holds the migration lock: waiting"), "{out}");
    assert!(out.contains("applying  1 a ... done"), "{out}");
}

#[test]
fn ignore_missing_and_build_script() {
    let s = Scratch::new();
    s.file("1_a.sql", "CREATE TABLE a (id int);");
    s.file("2_b.sql", "CREATE TABLE b (id int);");
    ok(s.run(&["database", "create"]));
    ok(s.run(&["migrate", "run"]));
    // Squash the applied 1 away: refused, unless told to go on.
    std::fs::remove_file(s.dir.join("migrations/1_a.sql")).unwrap();
    s.file("3_c.sql", "CREATE TABLE c (id int);");
    let err = fails(s.run(&["migrate", "run"]));
    assert!(err.contains("missing from the source"), "{err}");
    let out = ok(s.run(&["migrate", "run", "--ignore-missing"]));
    assert!(out.contains("applying  3 c ... done"), "{out}");

    // build-script needs a crate, writes build.rs once, then leaves it alone.
    let err = fails(s.run(&["migrate", "build-script"]));
    assert!(err.contains("no Cargo.toml"), "{err}");
    std::fs::write(s.dir.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    assert!(ok(s.run(&["migrate", "build-script"])).contains("wrote build.rs"));
    let text = std::fs::read_to_string(s.dir.join("build.rs")).unwrap();
    assert!(
        text.contains("println!(\"cargo:rerun-if-changed=migrations\");"),
        "{text}"
    );
    assert!(ok(s.run(&["migrate", "build-script"])).contains("already reruns"));
    ok(s.run(&["database", "drop"]));
}

#[cfg(unix)]
#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    let s = Scratch::new();
    ok(s.run(&["database", "create"]));
    // Enough lines to overflow the pipe once the reader has gone.
    for i in 1..=3000 {
        s.file(&format!("{i}_step_{i}.sql"), "SELECT 1;");
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .current_dir(&s.dir)
        .args(["migrate", "info"])
        .env("DATABASE_URL", &s.url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("VERSION"), "{first}");
    let out = child.wait_with_output().unwrap();
    // Ended by SIGPIPE (13), as `cat` would be, not by a panic.
    assert_eq!(out.status.signal(), Some(13), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
}
