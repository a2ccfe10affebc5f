//! Parsing a macro call: `[Type,] "SQL" | "file.sql" [, arg]*`.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Path, Token};

use super::{Kind, Source};

/// A parsed macro call.
pub struct Input {
    /// `query_as!`'s target type.
    pub record: Option<Path>,
    /// The literal holding the SQL or the file name (spans for errors).
    pub sql_lit: LitStr,
    /// The SQL text.
    pub sql: String,
    /// For `query_file*!`: the absolute path read, so the expansion can track it.
    pub file: Option<PathBuf>,
    /// The arguments, `$1` first.
    pub args: Vec<Expr>,
}

struct Raw {
    record: Option<Path>,
    lit: LitStr,
    args: Vec<Expr>,
}

fn parser(kind: Kind) -> impl Fn(ParseStream) -> syn::Result<Raw> {
    move |input: ParseStream| {
        let record = if kind == Kind::As {
            let path: Path = input.parse()?;
            input.parse::<Token![,]>()?;
            Some(path)
        } else {
            None
        };
        let lit: LitStr = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), "expected the SQL text as a string literal"))?;
        let args = if input.is_empty() {
            Vec::new()
        } else {
            input.parse::<Token![,]>()?;
            Punctuated::<Expr, Token![,]>::parse_terminated(input)?
                .into_iter()
                .collect()
        };
        Ok(Raw { record, lit, args })
    }
}

/// Parses the call and, for file macros, reads the file.
pub fn parse(tokens: TokenStream, source: Source, kind: Kind) -> syn::Result<Input> {
    let raw = parser(kind).parse2(tokens)?;
    let (sql, file) = match source {
        Source::Inline => (raw.lit.value(), None),
        Source::File => {
            let dir = std::env::var("CARGO_MANIFEST_DIR").map_err(|_| {
                syn::Error::new(
                    raw.lit.span(),
                    "CARGO_MANIFEST_DIR is not set (not built by cargo?)",
                )
            })?;
            let path = PathBuf::from(dir).join(raw.lit.value());
            let sql = std::fs::read_to_string(&path).map_err(|e| {
                syn::Error::new(
                    raw.lit.span(),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            (sql, Some(path))
        }
    };
    Ok(Input {
        record: raw.record,
        sql_lit: raw.lit,
        sql,
        file,
        args: raw.args,
    })
}
