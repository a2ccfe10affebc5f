//! The model: fields and columns, the constant statements, and their check against the
//! database through the same describe step as `query!` (online, offline, or recording for
//! `lifeguard prepare`).

use std::path::PathBuf;

use proc_macro2::TokenStream;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type, Visibility};

use super::attrs;
use crate::query::{data, types};

/// One field and its column.
pub struct FieldModel {
    pub ident: Ident,
    pub ty: Type,
    /// The type without `Option` (what filters and changes take).
    pub inner: Type,
    pub is_option: bool,
    /// Unquoted column name.
    pub column: String,
    pub primary_key: bool,
    pub default: bool,
    /// The marker the field's type must encode (from the column's SQL type), if checked.
    pub marker: Option<TokenStream>,
}

/// The whole model.
pub struct Model {
    pub ident: Ident,
    pub vis: Visibility,
    pub table_lit: LitStr,
    pub fields: Vec<FieldModel>,
    pub sql: Statements,
    /// Offline entries read, for rebuild tracking.
    pub offline_files: Vec<PathBuf>,
}

/// The constant statements, quoted.
pub struct Statements {
    pub table: String,
    pub columns: Vec<String>,
    pub column_list: String,
    pub select: String,
    pub select_by_key: String,
    pub insert: String,
    pub upsert: String,
    pub delete: String,
}

/// `"name"` with embedded quotes doubled.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(p) = ty else { return None };
    if p.qself.is_some() {
        return None;
    }
    let last = p.path.segments.last()?;
    if last.ident != "Option" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.first()? {
        syn::GenericArgument::Type(t) if args.args.len() == 1 => Some(t),
        _ => None,
    }
}

fn statements(table: &str, fields: &[FieldModel]) -> Statements {
    let table = table
        .split('.')
        .map(quote_ident)
        .collect::<Vec<_>>()
        .join(".");
    let columns: Vec<String> = fields.iter().map(|f| quote_ident(&f.column)).collect();
    let column_list = columns.join(", ");
    let select = format!("SELECT {column_list} FROM {table}");
    let key: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].primary_key)
        .collect();
    let key_where = key
        .iter()
        .enumerate()
        .map(|(n, &i)| format!("{} = ${}", columns[i], n + 1))
        .collect::<Vec<_>>()
        .join(" AND ");
    let select_by_key = format!("{select} WHERE {key_where}");
    let ins: Vec<usize> = (0..fields.len()).filter(|&i| !fields[i].default).collect();
    let insert = if ins.is_empty() {
        format!("INSERT INTO {table} DEFAULT VALUES RETURNING {column_list}")
    } else {
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) RETURNING {column_list}",
            ins.iter()
                .map(|&i| columns[i].as_str())
                .collect::<Vec<_>>()
                .join(", "),
            (1..=ins.len())
                .map(|n| format!("${n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let key_cols = key
        .iter()
        .map(|&i| columns[i].as_str())
        .collect::<Vec<_>>()
        .join(", ");
    // Every non-key column takes the new value; with only key columns, re-assigning the
    // first key keeps `RETURNING` returning the row on a conflict.
    let mut assign: Vec<usize> = (0..fields.len())
        .filter(|&i| !fields[i].primary_key)
        .collect();
    if assign.is_empty() {
        assign.push(key[0]);
    }
    let upsert = format!(
        "INSERT INTO {table} ({column_list}) VALUES ({}) ON CONFLICT ({key_cols}) DO UPDATE SET {} RETURNING {column_list}",
        (1..=fields.len())
            .map(|n| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", "),
        assign
            .iter()
            .map(|&i| format!("{0} = EXCLUDED.{0}", columns[i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let delete = format!("DELETE FROM {table} WHERE {key_where}");
    Statements {
        table,
        columns,
        column_list,
        select,
        select_by_key,
        insert,
        upsert,
        delete,
    }
}

/// Parses the struct and its attributes (no database yet).
fn parse(input: &DeriveInput) -> syn::Result<Model> {
    let attrs = attrs::parse_struct(input)?;
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a model cannot be generic",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Model is for structs with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "Model is for structs with named fields",
        ));
    };
    let mut fields = Vec::new();
    for f in &named.named {
        let a = attrs::parse_field(f)?;
        let ident = f.ident.clone().expect("named field");
        let column = match &a.column {
            Some(c) => c.value(),
            None => ident.to_string().trim_start_matches("r#").to_owned(),
        };
        let (inner, is_option) = match option_inner(&f.ty) {
            Some(t) => (t.clone(), true),
            None => (f.ty.clone(), false),
        };
        fields.push(FieldModel {
            ident,
            ty: f.ty.clone(),
            inner,
            is_option,
            column,
            primary_key: a.primary_key,
            default: a.default,
            marker: None,
        });
    }
    if fields.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a model needs at least one field",
        ));
    }
    if !fields.iter().any(|f| f.primary_key) {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "a model needs a primary key: mark its field(s) with #[lifeguard(primary_key)]",
        ));
    }
    let table = attrs.table.value();
    if table.is_empty() || table.split('.').any(str::is_empty) || table.split('.').count() > 2 {
        return Err(syn::Error::new(
            attrs.table.span(),
            "expected a table name, or schema.table",
        ));
    }
    let sql = statements(&table, &fields);
    Ok(Model {
        ident: input.ident.clone(),
        vis: input.vis.clone(),
        table_lit: attrs.table,
        fields,
        sql,
        offline_files: Vec::new(),
    })
}

/// The field a server message names (`column "x" …`), if any.
fn field_named<'a>(fields: &'a [FieldModel], message: &str) -> Option<&'a FieldModel> {
    let rest = message.split("column \"").nth(1)?;
    let name = rest.split('"').next()?;
    fields.iter().find(|f| f.column == name)
}

/// Parses the model and checks it against the table: every statement is described (and,
/// under `lifeguard prepare`, recorded); column types and nullability come from the
/// description of the select by key, the key's uniqueness from the upsert's `ON CONFLICT`.
pub fn build(input: &DeriveInput) -> syn::Result<Model> {
    let mut model = parse(input)?;
    let table_span = model.table_lit.span();
    let statements = [
        ("select by key", model.sql.select_by_key.clone()),
        ("insert", model.sql.insert.clone()),
        ("upsert", model.sql.upsert.clone()),
        ("delete", model.sql.delete.clone()),
    ];
    let mut select_desc = None;
    for (what, sql) in statements {
        match data::describe(&sql) {
            Ok((desc, file)) => {
                model.offline_files.extend(file);
                if select_desc.is_none() {
                    select_desc = Some(desc);
                }
            }
            Err(data::DataError::Describe(e)) if !e.unreachable => {
                let code = e.code.clone().unwrap_or_default();
                if code == "42P10" {
                    let key = model.fields.iter().find(|f| f.primary_key).expect("key");
                    let names: Vec<&str> = model
                        .fields
                        .iter()
                        .filter(|f| f.primary_key)
                        .map(|f| f.column.as_str())
                        .collect();
                    return Err(syn::Error::new(
                        key.ident.span(),
                        format!(
                            "the primary key ({}) is not the primary key or a unique constraint of table `{}`",
                            names.join(", "),
                            model.table_lit.value()
                        ),
                    ));
                }
                let msg = format!(
                    "table `{}`: {e} (in the model's {what} statement: {sql})",
                    model.table_lit.value()
                );
                let span = match field_named(&model.fields, &e.message) {
                    Some(f) if code == "42703" || code.starts_with("428") => f.ident.span(),
                    _ => table_span,
                };
                return Err(syn::Error::new(span, msg));
            }
            Err(e) => return Err(syn::Error::new(table_span, e.message(&sql))),
        }
    }
    let desc = select_desc.expect("the select was described");
    if desc.columns.len() != model.fields.len() {
        return Err(syn::Error::new(
            table_span,
            "the server described a different number of columns than the model has fields",
        ));
    }
    for (field, col) in model.fields.iter_mut().zip(&desc.columns) {
        if col.nullable && !field.is_option {
            return Err(syn::Error::new(
                field.ty.span(),
                format!(
                    "column `{}` of `{}` can be NULL: make the field an `Option<{}>`",
                    field.column,
                    model.table_lit.value(),
                    quote::ToTokens::to_token_stream(&field.ty)
                ),
            ));
        }
        field.marker = types::param_marker(&desc, &col.type_name);
    }
    Ok(model)
}
