//! `lifeguard generate models`: `#[derive(lifeguard::Model)]` structs written from the live
//! schema, one file per table plus a `mod.rs`, as Diesel's `print-schema` and `sea-orm-cli
//! generate entity` do.
//!
//! Everything comes from `pg_catalog` on DATABASE_URL: the ordinary and partitioned tables
//! of one schema (views are left out, and partitions unless named), their columns with
//! types and nullability, the primary key (else the first unique index over NOT NULL
//! columns), column defaults, enum labels and single-column foreign keys (composite ones
//! are not relations here). The types are the ones the checked macros decode with
//! lifeguard's default features (chrono for dates and times); a column whose type has no
//! Rust mapping (`tsvector`, `interval`, ranges, composites, …) is left out with a comment
//! saying so, and a warning if the insert needs it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::PathBuf;

use lifeguard::{Client, Executor};

use crate::migrate::{connect, ConnectArgs};

/// `lifeguard generate …`
#[derive(clap::Subcommand, Debug)]
pub enum GenerateCommand {
    /// Write `#[derive(lifeguard::Model)]` structs from the database's tables: one `.rs`
    /// file per table and a `mod.rs` (overwritten; other files in DIR are left alone).
    Models(ModelsArgs),
}

/// Options of `lifeguard generate models`.
#[derive(clap::Args, Debug)]
pub struct ModelsArgs {
    /// The schema whose tables become models; tables outside `public` are named
    /// `schema.table` in the generated `#[lifeguard(table = …)]`.
    #[arg(long, default_value = "public", value_name = "S")]
    pub schema: String,
    /// Only these tables (comma-separated); default: every table of the schema but
    /// partitions (a partition named here is generated).
    #[arg(long, value_delimiter = ',', value_name = "a,b")]
    pub tables: Vec<String>,
    /// The folder to write the files into (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub connect: ConnectArgs,
}

/// Runs the subcommand.
pub fn run(cmd: GenerateCommand) -> Result<bool, String> {
    match cmd {
        GenerateCommand::Models(args) => models(args),
    }
}

/// One column as the catalog has it.
struct Column {
    name: String,
    /// `format_type` of the column, for comments.
    sql_type: String,
    type_oid: u32,
    not_null: bool,
    has_default: bool,
    /// `pg_attribute.attidentity`: '' (none), 'a' (always) or 'd' (by default).
    identity: String,
    /// `pg_attribute.attgenerated`: '' or 's' (stored generated column).
    generated: String,
    /// NOT NULL, no default, not an identity or generated column, and no BEFORE INSERT
    /// trigger on the table: the model's insert must set it (the derive's rule).
    insert_required: bool,
}

/// A single-column foreign key.
struct ForeignKey {
    column: String,
    ref_schema: String,
    ref_table: String,
    ref_column: String,
}

struct Table {
    name: String,
    columns: Vec<Column>,
    /// Key column names in index order; empty when the table has no usable key.
    key: Vec<String>,
    /// Where the key came from, when it is not the primary key (a unique index's name).
    key_from_unique: Option<String>,
    foreign_keys: Vec<ForeignKey>,
}

/// How a Postgres type is written in the generated code.
enum Mapped {
    /// A Rust type, and the crate the user's `Cargo.toml` needs for it (if not std).
    Rust(String, Option<&'static str>),
    /// A generated enum, by its Rust name.
    Enum(String),
    /// `Vec` of the element.
    Array(Box<Mapped>),
}

/// A Postgres enum used by a generated column.
struct PgEnum {
    type_name: String,
    labels: Vec<String>,
}

const TABLES_SQL: &str = "SELECT c.oid::int8, c.relname::text FROM pg_class c \
     JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND (NOT c.relispartition OR $2) \
     ORDER BY c.relname";

const COLUMNS_SQL: &str = "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), \
       a.atttypid::int8, a.attnotnull, a.atthasdef, a.attidentity::text, a.attgenerated::text, \
       EXISTS (SELECT FROM pg_trigger t WHERE t.tgrelid = a.attrelid AND NOT t.tgisinternal \
         AND t.tgenabled <> 'D' AND t.tgtype::int & 7 = 7) \
     FROM pg_attribute a WHERE a.attrelid = $1::int8::oid AND a.attnum > 0 AND NOT a.attisdropped \
     ORDER BY a.attnum";

/// Unique indexes an `ON CONFLICT (cols)` can use, primary key first, with whether every
/// column is NOT NULL (a key with a nullable column does not identify a row).
const KEYS_SQL: &str = "SELECT i.indisprimary, i.indexrelid::regclass::text, \
       array_to_json(ARRAY(SELECT a.attname::text \
         FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, n) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum ORDER BY k.n))::text, \
       NOT EXISTS (SELECT FROM unnest(i.indkey::int2[]) AS k(attnum) \
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum WHERE NOT a.attnotnull) \
     FROM pg_index i WHERE i.indrelid = $1::int8::oid AND i.indisunique \
       AND i.indpred IS NULL AND i.indexprs IS NULL \
     ORDER BY i.indisprimary DESC, i.indexrelid::regclass::text";

const FOREIGN_KEYS_SQL: &str =
    "SELECT a.attname::text, rn.nspname::text, rc.relname::text, ra.attname::text \
     FROM pg_constraint con \
     JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1] \
     JOIN pg_class rc ON rc.oid = con.confrelid \
     JOIN pg_namespace rn ON rn.oid = rc.relnamespace \
     JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = con.confkey[1] \
     WHERE con.conrelid = $1::int8::oid AND con.contype = 'f' AND array_length(con.conkey, 1) = 1 \
     ORDER BY con.conname";

const TYPE_SQL: &str = "SELECT t.typname::text, t.typtype::text, t.typelem::int8, \
       t.typbasetype::int8, t.typcategory::text \
     FROM pg_type t WHERE t.oid = $1::int8::oid";

const ENUM_LABELS_SQL: &str =
    "SELECT enumlabel::text FROM pg_enum WHERE enumtypid = $1::int8::oid ORDER BY enumsortorder";

fn db(e: lifeguard::Error) -> String {
    format!("reading the catalog: {e}")
}

fn models(args: ModelsArgs) -> Result<bool, String> {
    let client = connect(&args.connect)?;
    let found: Vec<(i64, String)> = client
        .query(TABLES_SQL, &[&args.schema, &!args.tables.is_empty()])
        .map_err(db)?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let wanted: Vec<(i64, String)> = if args.tables.is_empty() {
        found
    } else {
        let mut out = Vec::new();
        for name in &args.tables {
            match found.iter().find(|(_, n)| n == name) {
                Some(t) => out.push(t.clone()),
                None => {
                    return Err(format!(
                        "no table `{name}` in schema `{}` (views are not generated)",
                        args.schema
                    ))
                }
            }
        }
        out
    };
    if wanted.is_empty() {
        return Err(format!("schema `{}` has no tables", args.schema));
    }
    let mut wanted = wanted;
    wanted.sort_by(|a, b| a.1.cmp(&b.1));
    wanted.dedup();
    let mut tables = Vec::new();
    for (oid, name) in &wanted {
        tables.push(read_table(&client, *oid, name)?);
    }
    let mut gen = Generator {
        client: &client,
        schema: args.schema.clone(),
        types: HashMap::new(),
        enums: BTreeMap::new(),
        crates: BTreeSet::new(),
        struct_names: tables
            .iter()
            .filter(|t| !t.key.is_empty())
            .map(|t| (t.name.clone(), camel(&t.name, "Table")))
            .collect(),
        keys: tables
            .iter()
            .map(|t| (t.name.clone(), t.key.clone()))
            .collect(),
        warnings: Vec::new(),
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut modules = Vec::new();
    let mut skipped = Vec::new();
    for t in &tables {
        if t.key.is_empty() {
            gen.warnings.push(format!(
                "table `{}` has no primary key and no unique index over NOT NULL columns: no model written (a model needs a key)",
                t.name
            ));
            skipped.push(t.name.clone());
            continue;
        }
        let text = gen.table_file(t)?;
        let module = module_name(&t.name);
        let path = args.out.join(format!("{module}.rs"));
        std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
        modules.push((module, gen.struct_names[&t.name].clone()));
    }
    if !gen.enums.is_empty() {
        let path = args.out.join("enums.rs");
        std::fs::write(&path, gen.enums_file())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let path = args.out.join("mod.rs");
    std::fs::write(&path, gen.mod_file(&modules, &skipped))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    for w in &gen.warnings {
        eprintln!("warning: {w}");
    }
    Ok(true)
}

fn read_table(client: &Client, oid: i64, name: &str) -> Result<Table, String> {
    let columns = client
        .query(COLUMNS_SQL, &[&oid])
        .map_err(db)?
        .iter()
        .map(|r| {
            let not_null: bool = r.get(3);
            let has_default: bool = r.get(4);
            let identity: String = r.get(5);
            let generated: String = r.get(6);
            let before_insert_trigger: bool = r.get(7);
            Column {
                name: r.get(0),
                sql_type: r.get(1),
                type_oid: r.get::<_, i64>(2) as u32,
                not_null,
                has_default,
                insert_required: not_null
                    && !has_default
                    && identity.is_empty()
                    && generated.is_empty()
                    && !before_insert_trigger,
                identity,
                generated,
            }
        })
        .collect();
    let (mut key, mut key_from_unique) = (Vec::new(), None);
    for r in client.query(KEYS_SQL, &[&oid]).map_err(db)? {
        let primary: bool = r.get(0);
        let all_not_null: bool = r.get(3);
        if primary || all_not_null {
            let index: String = r.get(1);
            let cols: String = r.get(2);
            key = serde_json::from_str(&cols).map_err(|e| format!("reading key columns: {e}"))?;
            key_from_unique = (!primary).then_some(index);
            break;
        }
    }
    let foreign_keys = client
        .query(FOREIGN_KEYS_SQL, &[&oid])
        .map_err(db)?
        .iter()
        .map(|r| ForeignKey {
            column: r.get(0),
            ref_schema: r.get(1),
            ref_table: r.get(2),
            ref_column: r.get(3),
        })
        .collect();
    Ok(Table {
        name: name.to_owned(),
        columns,
        key,
        key_from_unique,
        foreign_keys,
    })
}

struct Generator<'a> {
    client: &'a Client,
    schema: String,
    /// Type oid → its mapping (`None`: no Rust type).
    types: HashMap<u32, Option<Mapped>>,
    /// Enums met so far, by Rust name.
    enums: BTreeMap<String, PgEnum>,
    /// Crates the generated code names (`chrono`, …), for the `mod.rs` note.
    crates: BTreeSet<&'static str>,
    /// Table → struct name, for the tables that get a model.
    struct_names: BTreeMap<String, String>,
    /// Table → its key columns, for the tables of this run.
    keys: BTreeMap<String, Vec<String>>,
    warnings: Vec<String>,
}

impl Generator<'_> {
    /// The mapping of type `oid` (domains become their base type).
    fn map(&mut self, oid: u32) -> Result<Option<String>, String> {
        if !self.types.contains_key(&oid) {
            let m = self.resolve(oid, 0)?;
            self.types.insert(oid, m);
        }
        Ok(self.types[&oid].as_ref().map(|m| self.spell(m)))
    }

    fn spell(&self, m: &Mapped) -> String {
        match m {
            Mapped::Rust(t, _) => t.clone(),
            Mapped::Enum(name) => format!("super::{name}"),
            Mapped::Array(inner) => format!("Vec<{}>", self.spell(inner)),
        }
    }

    fn resolve(&mut self, oid: u32, depth: u32) -> Result<Option<Mapped>, String> {
        if depth > 8 {
            return Ok(None);
        }
        let Some(r) = self
            .client
            .query_opt(TYPE_SQL, &[&i64::from(oid)])
            .map_err(db)?
        else {
            return Ok(None);
        };
        let (name, typtype, elem, base, category): (String, String, i64, i64, String) =
            (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4));
        Ok(match typtype.as_str() {
            "d" => self.resolve(base as u32, depth + 1)?,
            "e" => {
                let labels = self
                    .client
                    .query(ENUM_LABELS_SQL, &[&i64::from(oid)])
                    .map_err(db)?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                let mut rust = camel(&name, "Enum");
                if self.struct_names.values().any(|s| *s == rust) {
                    rust.push_str("Enum");
                }
                self.enums.insert(
                    rust.clone(),
                    PgEnum {
                        type_name: name,
                        labels,
                    },
                );
                Some(Mapped::Enum(rust))
            }
            // `int2vector` and `oidvector` are arrays in the catalog but not to the driver.
            "b" if category == "A" && elem != 0 && name != "int2vector" && name != "oidvector" => {
                self.resolve(elem as u32, depth + 1)?
                    .map(|m| Mapped::Array(Box::new(m)))
            }
            "b" => scalar(&name).map(|(rust, krate)| Mapped::Rust(rust.to_owned(), krate)),
            _ => None,
        })
    }

    /// The crate a mapping names, if not std.
    fn crate_of(m: &Mapped) -> Option<&'static str> {
        match m {
            Mapped::Rust(_, c) => *c,
            Mapped::Array(inner) => Self::crate_of(inner),
            Mapped::Enum(_) => None,
        }
    }

    fn table_file(&mut self, t: &Table) -> Result<String, String> {
        let struct_name = self.struct_names[&t.name].clone();
        let table_attr = if self.schema == "public" {
            t.name.clone()
        } else {
            format!("{}.{}", self.schema, t.name)
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "//! Table `{}.{}`, generated by `lifeguard generate models`: regenerate rather than edit.\n",
            self.schema, t.name
        );
        let _ = writeln!(out, "/// A row of `{table_attr}`.");
        if let Some(index) = &t.key_from_unique {
            let _ = writeln!(
                out,
                "///\n/// The table has no primary key: the model's key is unique index `{index}`."
            );
        }
        let _ = writeln!(out, "#[derive(Debug, Clone, PartialEq, lifeguard::Model)]");
        let _ = writeln!(out, "#[lifeguard(table = {})]", rust_str(&table_attr));
        let _ = writeln!(out, "pub struct {struct_name} {{");
        let mut used_fields = BTreeSet::new();
        for c in &t.columns {
            let in_key = t.key.contains(&c.name);
            if c.generated == "s" {
                let _ = writeln!(
                    out,
                    "    // Column `{}` ({}) is left out: it is a generated column, which the model's insert and upsert would try to write.",
                    c.name, c.sql_type
                );
                continue;
            }
            let Some(rust) = self.map(c.type_oid)? else {
                let _ = writeln!(
                    out,
                    "    // Column `{}` ({}) is left out: lifeguard has no Rust type for it.",
                    c.name, c.sql_type
                );
                if c.insert_required || in_key {
                    self.warnings.push(format!(
                        "{}.{}: column `{}` ({}) has no Rust mapping and is left out, but {}: the model will not compile until you add a field for it (a type implementing FromSql/ToSql for it)",
                        self.schema,
                        t.name,
                        c.name,
                        c.sql_type,
                        if in_key { "it is part of the key" } else { "the insert must set it (NOT NULL, no default)" }
                    ));
                }
                continue;
            };
            if let Some(krate) = self.types[&c.type_oid].as_ref().and_then(Self::crate_of) {
                self.crates.insert(krate);
            }
            let field = field_name(&c.name, &used_fields);
            used_fields.insert(field.clone());
            let mut attrs = Vec::new();
            if in_key {
                attrs.push("primary_key".to_owned());
            }
            if c.has_default || !c.identity.is_empty() {
                attrs.push("default".to_owned());
            }
            let bare = field.trim_start_matches("r#");
            if bare != c.name {
                attrs.push(format!("column = {}", rust_str(&c.name)));
            }
            let fk_note = self.belongs_to(t, c, bare, &mut attrs);
            let nullable = !c.not_null;
            let _ = writeln!(
                out,
                "    /// `{}` {}{}{}.",
                c.name,
                c.sql_type,
                if nullable { "" } else { " NOT NULL" },
                if c.has_default {
                    ", with a default"
                } else if c.identity == "a" {
                    ", GENERATED ALWAYS AS IDENTITY"
                } else if c.identity == "d" {
                    ", GENERATED BY DEFAULT AS IDENTITY"
                } else {
                    ""
                }
            );
            if let Some(note) = fk_note {
                let _ = writeln!(out, "    // {note}");
            }
            if c.identity == "a" {
                self.warnings.push(format!(
                    "{}.{}: column `{}` is GENERATED ALWAYS AS IDENTITY; the model's upsert writes every column, which the server refuses for it (make it BY DEFAULT)",
                    self.schema, t.name, c.name
                ));
            }
            if !attrs.is_empty() {
                let _ = writeln!(out, "    #[lifeguard({})]", attrs.join(", "));
            }
            let ty = if nullable {
                format!("Option<{rust}>")
            } else {
                rust
            };
            let _ = writeln!(out, "    pub {field}: {ty},");
        }
        let _ = writeln!(out, "}}");
        Ok(out)
    }

    /// Adds `belongs_to = …` when the foreign key on `c` points at the full key of a table
    /// generated in this run; otherwise says why not (or nothing without a foreign key).
    fn belongs_to(
        &self,
        t: &Table,
        c: &Column,
        field: &str,
        attrs: &mut Vec<String>,
    ) -> Option<String> {
        let fk = t.foreign_keys.iter().find(|fk| fk.column == c.name)?;
        let target = format!("{}({})", fk.ref_table, fk.ref_column);
        if fk.ref_schema != self.schema {
            return Some(format!(
                "Foreign key to {}.{target}: not a `belongs_to` (another schema).",
                fk.ref_schema
            ));
        }
        let Some(parent) = self.struct_names.get(&fk.ref_table) else {
            return Some(format!(
                "Foreign key to {target}: not a `belongs_to` (that table is not generated)."
            ));
        };
        if self.keys.get(&fk.ref_table) != Some(&vec![fk.ref_column.clone()]) {
            return Some(format!(
                "Foreign key to {target}: not a `belongs_to` (that column is not the whole key of `{parent}`)."
            ));
        }
        if field.strip_suffix("_id").is_none_or(str::is_empty) {
            return Some(format!(
                "Foreign key to {target}: not a `belongs_to` (the derive names the relation after a field ending in `_id`)."
            ));
        }
        attrs.push(format!("belongs_to = super::{parent}"));
        None
    }

    fn enums_file(&self) -> String {
        let mut out = String::from(
            "//! The Postgres enums the generated models use, generated by `lifeguard generate models`.\n",
        );
        for (rust, e) in &self.enums {
            let _ = writeln!(out, "\n/// The Postgres enum `{}`.", e.type_name);
            let _ = writeln!(
                out,
                "#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, lifeguard::PgEnum)]"
            );
            let _ = writeln!(out, "#[lifeguard(type_name = {})]", rust_str(&e.type_name));
            let _ = writeln!(out, "pub enum {rust} {{");
            let mut used = BTreeSet::new();
            for label in &e.labels {
                let mut v = camel(label, "V");
                while used.contains(&v) {
                    v.push('_');
                }
                used.insert(v.clone());
                let _ = writeln!(out, "    /// `{label}`.");
                if v != *label {
                    let _ = writeln!(out, "    #[lifeguard(rename = {})]", rust_str(label));
                }
                let _ = writeln!(out, "    {v},");
            }
            let _ = writeln!(out, "}}");
        }
        out
    }

    fn mod_file(&self, modules: &[(String, String)], skipped: &[String]) -> String {
        let mut out = format!(
            "//! Models of schema `{}`, generated by `lifeguard generate models`: regenerate rather\n\
             //! than edit (the derive checks each one against its table at build time).\n",
            self.schema
        );
        if !self.crates.is_empty() {
            let list: Vec<String> = self.crates.iter().map(|c| format!("`{c}`")).collect();
            let _ = writeln!(
                out,
                "//!\n//! Column types name {}: the crate needs them as dependencies.",
                list.join(", ")
            );
        }
        for s in skipped {
            let _ = writeln!(
                out,
                "//!\n//! Table `{s}` has no model: it has no primary key and no unique index over NOT NULL columns."
            );
        }
        out.push('\n');
        if !self.enums.is_empty() {
            out.push_str("mod enums;\n");
        }
        for (m, _) in modules {
            let _ = writeln!(out, "mod {m};");
        }
        out.push('\n');
        if !self.enums.is_empty() {
            out.push_str("pub use enums::*;\n");
        }
        for (m, s) in modules {
            let _ = writeln!(out, "pub use {m}::{s};");
        }
        out
    }
}

/// Built-in types → Rust, as the checked macros decode them with lifeguard's default
/// features (chrono wins over time); the crate the user's code must depend on.
fn scalar(name: &str) -> Option<(&'static str, Option<&'static str>)> {
    Some(match name {
        "bool" => ("bool", None),
        "char" => ("i8", None),
        "int2" => ("i16", None),
        "int4" => ("i32", None),
        "int8" => ("i64", None),
        "float4" => ("f32", None),
        "float8" => ("f64", None),
        "oid" => ("u32", None),
        "text" | "varchar" | "bpchar" | "name" | "citext" => ("String", None),
        "bytea" => ("Vec<u8>", None),
        "inet" => ("std::net::IpAddr", None),
        "json" | "jsonb" => ("serde_json::Value", Some("serde_json")),
        "uuid" => ("uuid::Uuid", Some("uuid")),
        "numeric" => ("rust_decimal::Decimal", Some("rust_decimal")),
        "timestamp" => ("chrono::NaiveDateTime", Some("chrono")),
        "timestamptz" => ("chrono::DateTime<chrono::Utc>", Some("chrono")),
        "date" => ("chrono::NaiveDate", Some("chrono")),
        "time" => ("chrono::NaiveTime", Some("chrono")),
        _ => return None,
    })
}

/// Rust's strict and reserved keywords (edition 2021), which a field is written `r#` before.
const KEYWORDS: &[&str] = &[
    "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for",
    "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return",
    "self", "Self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use", "where",
    "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
];

/// Lower snake case of `name` (non-alphanumerics become `_`, camel humps split).
fn snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for ch in name.chars() {
        if ch.is_alphanumeric() {
            if ch.is_uppercase() && prev_lower {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
            prev_lower = ch.is_lowercase() || ch.is_numeric();
        } else {
            if !out.ends_with('_') {
                out.push('_');
            }
            prev_lower = false;
        }
    }
    out.trim_matches('_').to_owned()
}

/// A field for column `name`: snake case, `r#` before a keyword, unique in the struct.
fn field_name(name: &str, used: &BTreeSet<String>) -> String {
    let mut f = snake(name);
    if f.is_empty() || f.starts_with(|c: char| c.is_numeric()) {
        f = format!("c_{f}");
    }
    if matches!(f.as_str(), "self" | "Self" | "super" | "crate") {
        f.push('_');
    } else if KEYWORDS.contains(&f.as_str()) {
        f = format!("r#{f}");
    }
    while used.contains(&f) {
        f.push('_');
    }
    f
}

/// A module (file) name for table `name`.
fn module_name(name: &str) -> String {
    let mut m = snake(name);
    if m.is_empty() || m.starts_with(|c: char| c.is_numeric()) {
        m = format!("t_{m}");
    }
    if KEYWORDS.contains(&m.as_str()) || m == "enums" {
        m.push('_');
    }
    m
}

/// Upper camel case of `name` (`film_actor` → `FilmActor`, `PG-13` → `Pg13`); `fallback`
/// before it when it would not start with a letter.
fn camel(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for word in name.split(|c: char| !c.is_alphanumeric()) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.extend(chars.flat_map(char::to_lowercase));
        }
    }
    if !out.starts_with(|c: char| c.is_alphabetic()) {
        out = format!("{fallback}{out}");
    }
    if out == "Self" {
        out.push('_');
    }
    out
}

/// A Rust string literal.
fn rust_str(s: &str) -> String {
    format!("{s:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(camel("film_actor", "T"), "FilmActor");
        assert_eq!(camel("PG-13", "V"), "Pg13");
        assert_eq!(camel("NC-17", "V"), "Nc17");
        assert_eq!(camel("G", "V"), "G");
        assert_eq!(camel("3d", "V"), "V3d");
        assert_eq!(snake("FirstName"), "first_name");
        assert_eq!(snake("last name"), "last_name");
        let none = BTreeSet::new();
        assert_eq!(field_name("type", &none), "r#type");
        assert_eq!(field_name("self", &none), "self_");
        assert_eq!(field_name("1st", &none), "c_1st");
        assert_eq!(module_name("mod"), "mod_");
    }
}
