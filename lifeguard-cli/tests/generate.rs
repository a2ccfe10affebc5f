//! `lifeguard generate models` on a real server: the files it writes for pagila's tables,
//! the edge cases of a scratch schema, and scratch crates built on the generated code
//! (which the derive checks against the tables at build time).

mod scratch;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lifeguard::{Client, Executor};
use scratch::{database_url, repo, text, Fixture};

const PAGILA: &str = "film,language,actor,film_actor,customer,address,city";

fn generate(out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lifeguard"))
        .args(["generate", "models", "--out"])
        .arg(out)
        .args(extra)
        .env("DATABASE_URL", database_url())
        .output()
        .unwrap()
}

/// A temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.0.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts `text` contains each of `parts`, in order.
#[track_caller]
fn contains_in_order(text: &str, parts: &[&str]) {
    let mut rest = text;
    for p in parts {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => panic!("expected {p:?} (after the previous parts) in:\n{text}"),
        }
    }
}

#[test]
fn pagila_tables_become_models() {
    let dir = TempDir::new("lg-gen-pagila");
    let out = generate(&dir.0, &["--tables", PAGILA]);
    assert!(out.status.success(), "{}", text(&out));
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "actor.rs",
            "address.rs",
            "city.rs",
            "customer.rs",
            "enums.rs",
            "film.rs",
            "film_actor.rs",
            "language.rs",
            "mod.rs"
        ]
    );

    let film = dir.read("film.rs");
    contains_in_order(
        &film,
        &[
            "#[derive(Debug, Clone, PartialEq, lifeguard::Model)]",
            "#[lifeguard(table = \"film\")]",
            "pub struct Film {",
            "#[lifeguard(primary_key, default)]\n    pub film_id: i32,",
            "pub title: String,",
            "pub description: Option<String>,",
            // The `year` domain is its base type.
            "pub release_year: Option<i32>,",
            "#[lifeguard(belongs_to = super::Language)]\n    pub language_id: i32,",
            "#[lifeguard(belongs_to = super::Language)]\n    pub original_language_id: Option<i32>,",
            "#[lifeguard(default)]\n    pub rental_duration: i16,",
            "#[lifeguard(default)]\n    pub rental_rate: rust_decimal::Decimal,",
            "pub length: Option<i16>,",
            "#[lifeguard(default)]\n    pub rating: Option<super::MpaaRating>,",
            "#[lifeguard(default)]\n    pub last_update: chrono::DateTime<chrono::Utc>,",
            "pub special_features: Option<Vec<String>>,",
            "// Column `fulltext` (tsvector) is left out: lifeguard has no Rust type for it.",
        ],
    );
    assert!(!film.contains("pub fulltext"), "{film}");

    let enums = dir.read("enums.rs");
    contains_in_order(
        &enums,
        &[
            "lifeguard::PgEnum)]",
            "#[lifeguard(type_name = \"mpaa_rating\")]",
            "pub enum MpaaRating {",
            "    G,",
            "#[lifeguard(rename = \"PG\")]\n    Pg,",
            "#[lifeguard(rename = \"PG-13\")]\n    Pg13,",
            "    R,",
            "#[lifeguard(rename = \"NC-17\")]\n    Nc17,",
        ],
    );

    // A composite key, both halves foreign keys to generated tables; no default on either.
    contains_in_order(
        &dir.read("film_actor.rs"),
        &[
            "pub struct FilmActor {",
            "#[lifeguard(primary_key, belongs_to = super::Actor)]\n    pub actor_id: i32,",
            "#[lifeguard(primary_key, belongs_to = super::Film)]\n    pub film_id: i32,",
            "#[lifeguard(default)]\n    pub last_update: chrono::DateTime<chrono::Utc>,",
        ],
    );
    // `store` is not generated: the foreign key stays a plain field, said so.
    let customer = dir.read("customer.rs");
    contains_in_order(
        &customer,
        &[
            "pub struct Customer {",
            "// Foreign key to store(store_id): not a `belongs_to` (that table is not generated).\n    pub store_id: i32,",
            "pub email: Option<String>,",
            "#[lifeguard(belongs_to = super::Address)]\n    pub address_id: i32,",
            "#[lifeguard(default)]\n    pub activebool: bool,",
            "#[lifeguard(default)]\n    pub create_date: chrono::NaiveDate,",
            "#[lifeguard(default)]\n    pub last_update: Option<chrono::DateTime<chrono::Utc>>,",
            "pub active: Option<i32>,",
        ],
    );
    contains_in_order(
        &dir.read("address.rs"),
        &[
            "pub address2: Option<String>,",
            "#[lifeguard(belongs_to = super::City)]\n    pub city_id: i32,",
        ],
    );
    contains_in_order(
        &dir.read("city.rs"),
        &["// Foreign key to country(country_id): not a `belongs_to` (that table is not generated).\n    pub country_id: i32,"],
    );
    contains_in_order(
        &dir.read("mod.rs"),
        &[
            "`chrono`, `rust_decimal`",
            "mod enums;",
            "mod actor;",
            "mod film;",
            "pub use enums::*;",
            "pub use actor::Actor;",
            "pub use film_actor::FilmActor;",
        ],
    );

    // An unknown table is an error, and nothing is written.
    let none = TempDir::new("lg-gen-none");
    let out = generate(&none.0, &["--tables", "film,no_such_table"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("no table `no_such_table` in schema `public`"),
        "{}",
        text(&out)
    );
    assert!(!none.0.join("film.rs").exists());
}

/// A schema of its own with what pagila does not have, dropped at the end.
struct Schema {
    admin: Client,
    name: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = self
            .admin
            .batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

#[test]
fn edge_cases_of_a_scratch_schema() {
    let admin = Client::connect(&database_url()).unwrap();
    let name = format!("lg_gen_{}", std::process::id());
    let schema = Schema {
        admin: Client::connect(&database_url()).unwrap(),
        name: name.clone(),
    };
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}; SET search_path = {name};
             CREATE TYPE state AS ENUM ('in_progress', 'done', '3d');
             CREATE TABLE team (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, code text NOT NULL UNIQUE);
             CREATE TABLE \"Task\" (
                 id serial PRIMARY KEY,
                 \"type\" text NOT NULL,
                 \"FirstName\" varchar(20),
                 states state[] NOT NULL DEFAULT '{{}}',
                 owner bigint REFERENCES team (id),
                 team_code text REFERENCES team (code),
                 span interval,
                 doubled int4 GENERATED ALWAYS AS (id * 2) STORED,
                 payload jsonb,
                 uid uuid,
                 at timestamp NOT NULL
             );
             CREATE TABLE tagged (name text NOT NULL, note text, UNIQUE (name), where_ tsvector NOT NULL);
             CREATE TABLE loose (a int4, b int4);"
        ))
        .unwrap();
    let dir = TempDir::new("lg-gen-edge");
    let out = generate(&dir.0, &["--schema", &name]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);

    let task = dir.read("task.rs");
    contains_in_order(
        &task,
        &[
            &format!("#[lifeguard(table = \"{name}.Task\")]"),
            "pub struct Task {",
            "#[lifeguard(primary_key, default)]\n    pub id: i32,",
            // A keyword, and a column that is not a Rust identifier as it is.
            "pub r#type: String,",
            "#[lifeguard(column = \"FirstName\")]\n    pub first_name: Option<String>,",
            "#[lifeguard(default)]\n    pub states: Vec<super::State>,",
            // `owner` does not end in `_id`, `team_code` is not team's key.
            "not a `belongs_to` (the derive names the relation after a field ending in `_id`).\n    pub owner: Option<i64>,",
            "not a `belongs_to` (that column is not the whole key of `Team`).\n    pub team_code: Option<String>,",
            "// Column `span` (interval) is left out",
            "// Column `doubled` (integer) is left out: it is a generated column",
            "pub payload: Option<serde_json::Value>,",
            "pub uid: Option<uuid::Uuid>,",
            "pub at: chrono::NaiveDateTime,",
        ],
    );
    contains_in_order(
        &dir.read("team.rs"),
        &["GENERATED BY DEFAULT AS IDENTITY.\n    #[lifeguard(primary_key, default)]\n    pub id: i64,"],
    );
    // No primary key: the unique index over a NOT NULL column is the key; the unmapped
    // NOT NULL column the insert needs is left out, loudly.
    contains_in_order(
        &dir.read("tagged.rs"),
        &[
            "The table has no primary key: the model's key is unique index",
            "#[lifeguard(primary_key)]\n    pub name: String,",
            "// Column `where_` (tsvector) is left out",
        ],
    );
    assert!(
        stderr.contains("column `where_` (tsvector) has no Rust mapping and is left out, but the insert must set it"),
        "{stderr}"
    );
    // No key at all: no model, said in mod.rs and on stderr.
    assert!(!dir.0.join("loose.rs").exists());
    assert!(
        stderr.contains("table `loose` has no primary key"),
        "{stderr}"
    );
    contains_in_order(
        &dir.read("mod.rs"),
        &[
            "`chrono`, `serde_json`, `uuid`",
            "Table `loose` has no model",
            "pub use task::Task;",
        ],
    );
    contains_in_order(
        &dir.read("enums.rs"),
        &[
            "pub enum State {",
            "#[lifeguard(rename = \"in_progress\")]\n    InProgress,",
            "#[lifeguard(rename = \"done\")]\n    Done,",
            "#[lifeguard(rename = \"3d\")]\n    V3d,",
        ],
    );

    // The generated code builds, and the derive still checks it: `tagged` leaves out a
    // NOT NULL column its insert needs, so the derive refuses it (as the warning said);
    // without it, the rest (keywords, renamed columns, enum arrays, JSON, UUID, a
    // schema-qualified table) compiles.
    let fx = Fixture::new(
        "lg-gen-edge-build",
        "pub mod models;\n\
         pub fn task(pool: &lifeguard::Pool) -> lifeguard::Result<Option<models::Task>> {\n    \
         models::Task::find_by_id(pool, 1)\n}\n",
    );
    fx.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"lg-gen-edge-build\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nlifeguard = {{ path = {:?} }}\nchrono = \"0.4\"\nserde_json = \"1\"\nuuid = \"1\"\n\n[workspace]\n",
            repo().join("lifeguard").display().to_string()
        ),
    );
    std::fs::copy(repo().join("Cargo.lock"), fx.dir.join("Cargo.lock")).unwrap();
    let models = fx.dir.join("src/models");
    let out = generate(&models, &["--schema", &name]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.check(Some(&database_url()), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(&format!(
            "column `where_` of `{name}.tagged` is NOT NULL and has no default, and the model's insert does not set it"
        )),
        "{}",
        text(&out)
    );
    std::fs::remove_dir_all(&models).unwrap();
    let out = generate(&models, &["--schema", &name, "--tables", "Task,team"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.check(Some(&database_url()), &[]);
    assert!(out.status.success(), "{}", text(&out));
    drop(schema);
}

#[test]
fn generated_pagila_models_compile_against_the_database() {
    let fx = Fixture::new(
        "lg-gen-build",
        r#"
pub mod models;

/// Uses each generated item kind, so the build type-checks more than the derive.
pub fn film_and_language(
    pool: &lifeguard::Pool,
) -> lifeguard::Result<Option<(models::Film, Vec<Option<models::Language>>)>> {
    use lifeguard::Model;
    let Some(film) = models::Film::find_by_id(pool, 1)? else {
        return Ok(None);
    };
    let pg13 = models::Film::find()
        .filter(models::Film::Rating.eq(models::MpaaRating::Pg13))
        .limit(3)
        .all(pool)?;
    let languages = models::Film::language().load(pool, &pg13)?;
    let _links = models::FilmActor::find_by_id(pool, (1, 1))?;
    let _cities = models::Address::city().load(pool, &[] as &[models::Address])?;
    Ok(Some((film, languages)))
}
"#,
    );
    // The generated code names chrono and rust_decimal, as a user's crate would.
    fx.write(
        "Cargo.toml",
        &format!(
            "[package]\nname = \"lg-gen-build\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\n\
             [dependencies]\nlifeguard = {{ path = {:?} }}\nchrono = \"0.4\"\nrust_decimal = \"1\"\n\n[workspace]\n",
            repo().join("lifeguard").display().to_string()
        ),
    );
    // The repository's lock file: the dependencies the workspace is tested with.
    std::fs::copy(repo().join("Cargo.lock"), fx.dir.join("Cargo.lock")).unwrap();
    let out = generate(&fx.dir.join("src/models"), &["--tables", PAGILA]);
    assert!(out.status.success(), "{}", text(&out));
    let out = fx.check(Some(&database_url()), &[]);
    assert!(out.status.success(), "{}", text(&out));

    // The check is real: a wrong type in a generated field fails the build at that field.
    let path = fx.dir.join("src/models/customer.rs");
    let code = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        code.replace("pub email: Option<String>,", "pub email: String,"),
    )
    .unwrap();
    let out = fx.check(Some(&database_url()), &[]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("column `email` of `customer` can be NULL"),
        "{}",
        text(&out)
    );
}
