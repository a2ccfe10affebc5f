//! `lifeguard prepare [--check]` end to end, on a scratch crate that uses the macros: the
//! offline folder is written, checked, found missing/stale/orphaned after edits, fixed, and
//! then the crate builds with no database at all.

mod scratch;

use std::path::Path;

use scratch::{database_url, text, Fixture};

const LIB_V1: &str = r#"
pub fn titles(pool: &lifeguard::Pool) -> lifeguard::Result<Vec<String>> {
    lifeguard::query_scalar!("SELECT title FROM film WHERE film_id < $1 ORDER BY 1", 5)
        .fetch_all(pool)
}

pub fn counts(pool: &lifeguard::Pool) -> lifeguard::Result<Vec<(i32, Option<i64>)>> {
    let rows = lifeguard::query!(
        "SELECT f.film_id, c.n FROM film f
         LEFT JOIN (SELECT film_id, count(*) AS n FROM inventory GROUP BY film_id) c USING (film_id)"
    )
    .fetch_all(pool)?;
    Ok(rows.into_iter().map(|r| (r.film_id, r.n)).collect())
}
"#;

fn fixture() -> Fixture {
    Fixture::new("lg-prepare-fixture", LIB_V1)
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.join(".lifeguard-offline"))
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".json"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn prepare_writes_checks_and_cleans_the_offline_folder() {
    let fx = fixture();
    let url = database_url();

    // Without a database URL prepare refuses, clearly.
    let out = fx.lifeguard(&["prepare"], None);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("DATABASE_URL is not set"),
        "{}",
        text(&out)
    );

    let out = fx.lifeguard(&["prepare"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));
    let names = entries(&fx.dir);
    assert_eq!(names.len(), 2, "{names:?}");
    for name in &names {
        let json: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(fx.dir.join(".lifeguard-offline").join(name)).unwrap(),
        )
        .unwrap();
        let hash = json["hash"].as_str().unwrap();
        assert_eq!(name, &format!("query-{hash}.json"));
        assert!(json["query"].as_str().unwrap().contains("film"));
        if json["query"].as_str().unwrap().contains("LEFT JOIN") {
            assert_eq!(json["params"], serde_json::json!([]));
            assert_eq!(
                json["columns"],
                serde_json::json!([
                    {"name": "film_id", "type": "int4", "nullable": false},
                    {"name": "n", "type": "int8", "nullable": true}
                ])
            );
        } else {
            assert_eq!(json["params"], serde_json::json!(["int4"]));
        }
    }
    let out = fx.lifeguard(&["prepare", "--check"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("up to date (2 queries)"),
        "{}",
        text(&out)
    );

    // A `.env` that turns offline mode on for builds must not make prepare read the cache
    // (and then find every entry orphaned).
    std::fs::write(fx.dir.join(".env"), "LIFEGUARD_OFFLINE=true\n").unwrap();
    let out = fx.lifeguard(&["prepare", "--check"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.lifeguard(&["prepare"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(entries(&fx.dir).len(), 2, "{}", text(&out));
    std::fs::remove_file(fx.dir.join(".env")).unwrap();

    // Edit a query (its entry goes missing and the old one is orphaned), corrupt another
    // entry (stale), and leave a stray file (orphaned).
    std::fs::write(
        fx.dir.join("src/lib.rs"),
        LIB_V1.replace("film_id < $1", "film_id <= $1"),
    )
    .unwrap();
    let offline = fx.dir.join(".lifeguard-offline");
    let stale = names
        .iter()
        .find(|n| {
            std::fs::read_to_string(offline.join(n))
                .unwrap()
                .contains("LEFT JOIN")
        })
        .unwrap();
    let body = std::fs::read_to_string(offline.join(stale)).unwrap();
    std::fs::write(
        offline.join(stale),
        body.replace("\"nullable\": true", "\"nullable\": false"),
    )
    .unwrap();
    std::fs::write(offline.join("query-0000.json"), "{}").unwrap();

    let out = fx.lifeguard(&["prepare", "--check"], Some(&url));
    let report = text(&out);
    assert!(!out.status.success(), "{report}");
    assert!(
        report.contains("1 missing, 1 stale, 2 orphaned"),
        "{report}"
    );
    assert!(
        report.contains("missing:") && report.contains("film_id <= $1"),
        "{report}"
    );
    assert!(report.contains("orphaned: query-0000.json"), "{report}");
    // The stale entry comes with a diff of what changed.
    assert!(
        report.contains("-      \"nullable\": false")
            && report.contains("+      \"nullable\": true"),
        "{report}"
    );

    let out = fx.lifeguard(&["prepare"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("(1 new, 1 updated, 2 removed)"),
        "{}",
        text(&out)
    );
    assert_eq!(entries(&fx.dir).len(), 2);
    let out = fx.lifeguard(&["prepare", "--check"], Some(&url));
    assert!(out.status.success(), "{}", text(&out));

    // Offline, with no database anywhere, the crate builds from the folder.
    let out = fx.check(
        Some("postgres://nobody@127.0.0.1:1/none"),
        &[("LIFEGUARD_OFFLINE", "true")],
    );
    assert!(out.status.success(), "{}", text(&out));
}
