//! `lifeguard prepare [--check]`: regenerates `.lifeguard-offline/` by building the workspace
//! with `LIFEGUARD_PREPARE_DIR` set, so every checked macro writes its description there;
//! then replaces the folder's content with exactly those entries (or, with `--check`,
//! reports the differences and fails).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use lifeguard_describe::offline::DIR_NAME;

/// Options of `lifeguard prepare`.
#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// Do not write anything: exit non-zero if the offline data is missing, stale or orphaned.
    #[arg(long)]
    pub check: bool,
    /// Arguments for `cargo check` instead of the default `--workspace --all-targets --all-features`.
    #[arg(last = true)]
    pub cargo_args: Vec<String>,
}

struct Workspace {
    root: PathBuf,
    target: PathBuf,
}

fn metadata() -> Result<Workspace, String> {
    let out = Command::new(cargo())
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "`cargo metadata` failed (run prepare inside a cargo workspace):\n{}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("cannot read `cargo metadata` output: {e}"))?;
    let path = |key: &str| {
        meta[key]
            .as_str()
            .map(PathBuf::from)
            .ok_or_else(|| format!("`cargo metadata` gave no {key}"))
    };
    Ok(Workspace {
        root: path("workspace_root")?,
        target: path("target_directory")?,
    })
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// `query-*.json` files of a folder, by name, with their text.
fn entries(dir: &Path) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    let read = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(map),
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    for entry in read {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("query-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(entry.path())
                .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
            map.insert(name, text);
        }
    }
    Ok(map)
}

/// The differences between the folder and what the build produced.
#[derive(Default)]
struct Report {
    missing: Vec<String>,
    stale: Vec<(String, String)>,
    orphaned: Vec<String>,
}

fn compare(have: &BTreeMap<String, String>, want: &BTreeMap<String, String>) -> Report {
    let mut r = Report::default();
    for (name, text) in want {
        match have.get(name) {
            None => r.missing.push(name.clone()),
            Some(old) if old != text => {
                let diff = similar::TextDiff::from_lines(old.as_str(), text.as_str())
                    .unified_diff()
                    .context_radius(2)
                    .header(&format!("{DIR_NAME}/{name}"), "from the database")
                    .to_string();
                r.stale.push((name.clone(), diff));
            }
            Some(_) => {}
        }
    }
    r.orphaned = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    r
}

fn query_of(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| v["query"].as_str().map(str::to_owned))
        .map(|q| q.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn short(q: &str) -> String {
    if q.chars().count() > 70 {
        format!("{}…", q.chars().take(70).collect::<String>())
    } else {
        q.to_owned()
    }
}

/// Runs the command; `Ok(false)` means `--check` found differences.
pub fn run(args: PrepareArgs) -> Result<bool, String> {
    let ws = metadata()?;
    let dotenv: Vec<(String, String)> = dotenvy::from_path_iter(ws.root.join(".env"))
        .map(|it| it.filter_map(Result::ok).collect())
        .unwrap_or_default();
    let has_url = std::env::var("DATABASE_URL").is_ok_and(|v| !v.is_empty())
        || dotenv
            .iter()
            .any(|(k, v)| k == "DATABASE_URL" && !v.is_empty());
    if !has_url {
        return Err("DATABASE_URL is not set (in the environment or .env): prepare describes every query on that database".into());
    }
    let offline_dir = std::env::var("LIFEGUARD_OFFLINE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| ws.root.join(DIR_NAME));
    let nonce = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let scratch = ws
        .target
        .join("lifeguard-prepare")
        .join(format!("{}-{nonce}", std::process::id()));
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;

    let cargo_args = if args.cargo_args.is_empty() {
        vec![
            "--workspace".into(),
            "--all-targets".into(),
            "--all-features".into(),
        ]
    } else {
        args.cargo_args.clone()
    };
    eprintln!(
        "prepare: describing every checked query (cargo check {})",
        cargo_args.join(" ")
    );
    let status = Command::new(cargo())
        .arg("check")
        .args(&cargo_args)
        .current_dir(&ws.root)
        .env("LIFEGUARD_PREPARE_DIR", &scratch)
        // A new token changes the macros' tracked inputs, so cargo re-expands every one.
        .env("LIFEGUARD_PREPARE_TOKEN", nonce.to_string())
        // Set, not removed: a `.env` saying LIFEGUARD_OFFLINE=true must not win.
        .env("LIFEGUARD_OFFLINE", "false")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let result = (|| {
        if !status.success() {
            return Err(
                "`cargo check` failed; fix the errors above (a query the database rejects is one), then run prepare again"
                    .to_string(),
            );
        }
        let want = entries(&scratch)?;
        let have = entries(&offline_dir)?;
        let report = compare(&have, &want);
        if args.check {
            Ok(print_check(&report, &have, &want, &offline_dir))
        } else {
            write(&report, &want, &offline_dir)?;
            Ok(true)
        }
    })();
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

fn print_check(
    r: &Report,
    have: &BTreeMap<String, String>,
    want: &BTreeMap<String, String>,
    dir: &Path,
) -> bool {
    if r.missing.is_empty() && r.stale.is_empty() && r.orphaned.is_empty() {
        println!(
            "prepare --check: {} is up to date ({} queries)",
            dir.display(),
            want.len()
        );
        return true;
    }
    println!("prepare --check: {} is out of date", dir.display());
    for name in &r.missing {
        println!("  missing:  {name}  {}", short(&query_of(&want[name])));
    }
    for name in &r.orphaned {
        println!("  orphaned: {name}  {}", short(&query_of(&have[name])));
    }
    for (name, diff) in &r.stale {
        println!("  stale:    {name}  {}", short(&query_of(&want[name])));
        for line in diff.lines() {
            println!("    {line}");
        }
    }
    println!(
        "{} missing, {} stale, {} orphaned; run `lifeguard prepare` to update",
        r.missing.len(),
        r.stale.len(),
        r.orphaned.len()
    );
    false
}

fn write(r: &Report, want: &BTreeMap<String, String>, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let changed = r.missing.iter().chain(r.stale.iter().map(|(n, _)| n));
    for name in changed {
        std::fs::write(dir.join(name), &want[name])
            .map_err(|e| format!("cannot write {}: {e}", dir.join(name).display()))?;
    }
    for name in &r.orphaned {
        std::fs::remove_file(dir.join(name))
            .map_err(|e| format!("cannot remove {}: {e}", dir.join(name).display()))?;
    }
    println!(
        "prepare: {} queries in {} ({} new, {} updated, {} removed)",
        want.len(),
        dir.display(),
        r.missing.len(),
        r.stale.len(),
        r.orphaned.len()
    );
    Ok(())
}
