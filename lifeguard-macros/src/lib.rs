//! Procedural macros of [Lifeguard](https://docs.rs/lifeguard): compile-time checked SQL.
//! Use them through the `lifeguard` crate, which re-exports them and documents them.
//!
//! Each checked macro runs SQL text → description (prepared on `DATABASE_URL`, or read from
//! `.lifeguard-offline/`) → typed plan → generated code, one module per step under `query/`.

use proc_macro::TokenStream;

mod query;

use query::{Kind, Source};

macro_rules! query_macros {
    ($($(#[$doc:meta])* $name:ident => ($source:expr, $kind:expr, $checked:expr);)*) => {$(
        $(#[$doc])*
        #[proc_macro]
        pub fn $name(input: TokenStream) -> TokenStream {
            query::expand(input.into(), $source, $kind, $checked).into()
        }
    )*};
}

query_macros! {
    /// `query!("SQL", args…)`: rows as an anonymous record with one typed field per column.
    query => (Source::Inline, Kind::Record, true);
    /// `query_as!(Type, "SQL", args…)`: rows as your struct, fields by column name.
    query_as => (Source::Inline, Kind::As, true);
    /// `query_scalar!("SQL", args…)`: the single column of each row.
    query_scalar => (Source::Inline, Kind::Scalar, true);
    /// `query_file!("path.sql", args…)`: like `query!`, SQL read from a file (relative to the
    /// crate root); the crate rebuilds when the file changes.
    query_file => (Source::File, Kind::Record, true);
    /// `query_file_as!(Type, "path.sql", args…)`.
    query_file_as => (Source::File, Kind::As, true);
    /// `query_file_scalar!("path.sql", args…)`.
    query_file_scalar => (Source::File, Kind::Scalar, true);
    /// `query!` without argument type checks.
    query_unchecked => (Source::Inline, Kind::Record, false);
    /// `query_as!` without argument checks; fields decode as whatever type they declare.
    query_as_unchecked => (Source::Inline, Kind::As, false);
    /// `query_scalar!` without argument type checks.
    query_scalar_unchecked => (Source::Inline, Kind::Scalar, false);
    /// `query_file!` without argument type checks.
    query_file_unchecked => (Source::File, Kind::Record, false);
    /// `query_file_as!` without argument checks.
    query_file_as_unchecked => (Source::File, Kind::As, false);
    /// `query_file_scalar!` without argument type checks.
    query_file_scalar_unchecked => (Source::File, Kind::Scalar, false);
}

mod pg_enum;

/// `#[derive(PgEnum)]`: maps a fieldless enum to a Postgres enum type (implements `ToSql` and
/// `FromSql`). `#[lifeguard(type_name = "mpaa_rating")]` names the type (default: the enum's
/// name in snake_case); `#[lifeguard(rename = "PG-13")]` on a variant, or
/// `#[lifeguard(rename_all = "lowercase")]` on the enum, sets labels (default: variant names).
#[proc_macro_derive(PgEnum, attributes(lifeguard))]
pub fn derive_pg_enum(input: TokenStream) -> TokenStream {
    pg_enum::derive(syn::parse_macro_input!(input as syn::DeriveInput)).into()
}

mod model;

/// `#[derive(Model)]`: CRUD methods, typed columns and a query builder for a struct mapped to
/// a table, checked against the table at build time (documented on the `lifeguard`
/// re-export and in `lifeguard::model`).
#[proc_macro_derive(Model, attributes(lifeguard))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    model::derive(syn::parse_macro_input!(input as syn::DeriveInput)).into()
}

mod migrate;

/// `migrate!()` / `migrate!("path")`: embeds a migrations folder as a `Migrator`
/// (documented on the `lifeguard` re-export).
#[proc_macro]
pub fn migrate(input: TokenStream) -> TokenStream {
    migrate::expand(input.into()).into()
}

/// `#[lifeguard::test]`: a test with its own fresh database (documented on the `lifeguard`
/// re-export).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    migrate::test(args.into(), item.into()).into()
}
