//! From a description to a typed plan: each argument's checked SQL type, each column's field
//! name, Rust type and nullability — with the column-alias overrides applied:
//! `"col!"` (non-null), `"col?"` (nullable), `"col: Type"`, `"col!: Type"`, `"col?: Type"`.

use lifeguard_describe::Description;
use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::Ident;

use super::input::Input;
use super::{sql_span, types, Kind};

/// One argument.
pub struct ParamPlan {
    /// The marker the argument is checked against; `None` = not checked.
    pub marker: Option<TokenStream>,
}

/// How one column is decoded.
pub struct ColumnPlan {
    /// Field name (also the record's field).
    pub field: Ident,
    /// The Rust type (without `Option`); `None` = take the type of `query_as!`'s field.
    pub ty: Option<TokenStream>,
    /// Whether the value may be NULL (decoded as `Option`).
    pub nullable: bool,
}

/// The typed plan for one macro call.
pub struct Plan {
    /// One per argument.
    pub params: Vec<ParamPlan>,
    /// One per result column.
    pub columns: Vec<ColumnPlan>,
    /// What rows become.
    pub kind: Kind,
    /// Whether `query_as!` fields go through `Into` from the planned type.
    pub checked: bool,
    /// The offline entry the description came from, if any.
    pub offline_file: Option<std::path::PathBuf>,
}

/// A column alias split into its parts.
struct Alias<'a> {
    name: &'a str,
    nullable: Option<bool>,
    ty: Option<&'a str>,
}

fn parse_alias(full: &str) -> Alias<'_> {
    let (left, ty) = match full.split_once(':') {
        Some((l, t)) => (l, Some(t.trim())),
        None => (full, None),
    };
    let left = left.trim_end();
    let (name, nullable) = if let Some(n) = left.strip_suffix('!') {
        (n, Some(false))
    } else if let Some(n) = left.strip_suffix('?') {
        (n, Some(true))
    } else {
        (left, None)
    };
    Alias { name, nullable, ty }
}

fn field_ident(name: &str, span: Span) -> Option<Ident> {
    if name.is_empty() {
        return None;
    }
    syn::parse_str::<Ident>(name)
        .ok()
        .or_else(|| syn::parse_str::<Ident>(&format!("r#{name}")).ok())
        .map(|mut id| {
            id.set_span(span);
            id
        })
}

/// Builds the plan, or the compile error a user should see.
pub fn plan(
    input: &Input,
    desc: &Description,
    kind: Kind,
    checked: bool,
    offline_file: Option<std::path::PathBuf>,
) -> syn::Result<Plan> {
    let span = sql_span(input);
    let expected = desc.params.len();
    if input.args.len() != expected {
        let at = input.args.get(expected).map(|a| a.span()).unwrap_or(span);
        return Err(syn::Error::new(
            at,
            format!(
                "wrong number of arguments: the statement takes {expected} ({}), {} given",
                if expected == 0 {
                    "no parameters".to_string()
                } else {
                    format!("$1..${expected}: {}", desc.params.join(", "))
                },
                input.args.len()
            ),
        ));
    }
    let params = desc
        .params
        .iter()
        .map(|ty| ParamPlan {
            marker: if checked {
                types::param_marker(desc, ty)
            } else {
                None
            },
        })
        .collect();

    if kind == Kind::Scalar && desc.columns.len() != 1 {
        return Err(syn::Error::new(
            span,
            format!(
                "query_scalar! needs exactly one result column; this statement returns {}",
                desc.columns.len()
            ),
        ));
    }

    let mut columns: Vec<ColumnPlan> = Vec::new();
    for (i, col) in desc.columns.iter().enumerate() {
        let alias = parse_alias(&col.name);
        let field = match field_ident(alias.name, span) {
            Some(f) => f,
            None if kind == Kind::Scalar => Ident::new("value", span),
            None => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "column {} is named `{}`, which is not a Rust identifier; give it an alias: `... AS my_name`",
                        i + 1,
                        col.name
                    ),
                ))
            }
        };
        if kind != Kind::Scalar && columns.iter().any(|c| c.field == field) {
            return Err(syn::Error::new(
                span,
                format!("two result columns are named `{field}`; give one of them an alias"),
            ));
        }
        let nullable = alias.nullable.unwrap_or(col.nullable);
        let ty = if let Some(ty) = alias.ty {
            let parsed: syn::Type = syn::parse_str(ty).map_err(|e| {
                syn::Error::new(
                    span,
                    format!("column `{}`: `{ty}` is not a Rust type: {e}", col.name),
                )
            })?;
            Some(parsed.into_token_stream())
        } else if kind == Kind::As && !checked {
            None
        } else {
            match types::map(desc, &col.type_name) {
                Some(m) => Some(m.rust),
                None if kind == Kind::As => None,
                None => {
                    return Err(syn::Error::new(
                        span,
                        format!(
                            "column `{}` has Postgres type `{}` ({}), which has no built-in Rust mapping; \
                             name the Rust type in the column alias, e.g. `{} AS \"{}: MyType\"` \
                             (MyType implements lifeguard::FromSql, e.g. with #[derive(FromSql)]), \
                             or use query_as! with a struct field of that type",
                            alias.name,
                            col.type_name,
                            types::describe_kind(desc, &col.type_name),
                            alias.name,
                            alias.name,
                        ),
                    ))
                }
            }
        };
        columns.push(ColumnPlan {
            field,
            ty,
            nullable,
        });
    }
    Ok(Plan {
        params,
        columns,
        kind,
        checked,
        offline_file,
    })
}

#[cfg(test)]
mod tests {
    use super::parse_alias;

    #[test]
    fn aliases() {
        let a = parse_alias("id!");
        assert_eq!((a.name, a.nullable, a.ty), ("id", Some(false), None));
        let a = parse_alias("rating?: MpaaRating");
        assert_eq!(
            (a.name, a.nullable, a.ty),
            ("rating", Some(true), Some("MpaaRating"))
        );
        let a = parse_alias("tags: Vec<String>");
        assert_eq!(
            (a.name, a.nullable, a.ty),
            ("tags", None, Some("Vec<String>"))
        );
        let a = parse_alias("plain");
        assert_eq!((a.name, a.nullable, a.ty), ("plain", None, None));
    }
}
