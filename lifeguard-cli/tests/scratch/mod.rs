//! Scratch crates that depend on `lifeguard` and use its macros, built with cargo the way a
//! user's crate is. They share one target folder, so the dependencies build once.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The test database (scripts/test.sh exports DATABASE_URL).
pub fn database_url() -> String {
    match std::env::var("DATABASE_URL") {
        Ok(u) if !u.trim().is_empty() => u,
        _ => "postgres://lifeguard:lifeguard@127.0.0.1:5432/lifeguard_test".into(),
    }
}

/// The workspace root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A crate in a temporary folder, removed when dropped.
pub struct Fixture {
    pub dir: PathBuf,
}

impl Fixture {
    /// A library crate named `name` with `lib` as its `src/lib.rs`.
    pub fn new(name: &str, lib: &str) -> Fixture {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("src")).unwrap();
        let lifeguard = repo().join("lifeguard");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\nlifeguard = {{ path = {:?} }}\n\n[workspace]\n",
                lifeguard.display().to_string()
            ),
        )
        .unwrap();
        let fx = Fixture { dir };
        fx.write("src/lib.rs", lib);
        fx
    }

    /// Writes a file of the crate.
    pub fn write(&self, path: &str, text: &str) {
        std::fs::write(self.dir.join(path), text).unwrap();
    }

    /// A command run in the crate's folder with the shared target folder and none of the
    /// macros' settings from this process's environment; `url` becomes DATABASE_URL.
    pub fn command(&self, program: &str, url: Option<&str>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", repo().join("target/prepare-fixture"))
            .env_remove("LIFEGUARD_OFFLINE")
            .env_remove("LIFEGUARD_OFFLINE_DIR")
            .env_remove("LIFEGUARD_PREPARE_DIR")
            .env_remove("LIFEGUARD_CONNECT_TIMEOUT");
        match url {
            Some(u) => cmd.env("DATABASE_URL", u),
            None => cmd.env_remove("DATABASE_URL"),
        };
        cmd
    }

    /// `cargo check` of the crate.
    pub fn check(&self, url: Option<&str>, env: &[(&str, &str)]) -> Output {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = self.command(&cargo, url);
        cmd.args(["check", "--quiet"]).envs(env.iter().copied());
        cmd.output().unwrap()
    }

    /// The `lifeguard` binary on the crate.
    pub fn lifeguard(&self, args: &[&str], url: Option<&str>) -> Output {
        let mut cmd = self.command(env!("CARGO_BIN_EXE_lifeguard"), url);
        cmd.args(args).output().unwrap()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A process's exit status and output, for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}
