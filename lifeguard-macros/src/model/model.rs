//! The model: fields and columns, the constant statements, and their check against the
//! database through the same describe step as `query!` (online, offline, or recording for
//! `lifeguard prepare`).

use std::fmt::Write as _;
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
    /// `belongs_to = Parent`: the relation's method name (the field without `_id`) and the
    /// parent model.
    pub belongs_to: Option<(Ident, syn::Path)>,
    /// `created_at` / `updated_at`: written as `now()` by the statements, never bound.
    pub managed: Option<Managed>,
    /// `soft_delete`: the `deleted_at` of a soft-deleted row.
    pub soft_delete: bool,
}

/// A server-managed timestamp column.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Managed {
    /// Set on insert only.
    Created,
    /// Set on insert and on every update.
    Updated,
}

impl FieldModel {
    /// Whether an insert binds this field (not left to the server, not `now()`, not the
    /// soft-delete mark, which a new row never has).
    pub fn inserted(&self) -> bool {
        !self.default && self.managed.is_none() && !self.soft_delete
    }
}

/// The whole model.
pub struct Model {
    pub ident: Ident,
    pub vis: Visibility,
    pub table_lit: LitStr,
    pub fields: Vec<FieldModel>,
    /// Struct-level `has_many` / `has_one`.
    pub relations: Vec<attrs::RelationAttr>,
    /// `hooks`: writes call the model's `lifeguard::model::Hooks`.
    pub hooks: bool,
    pub sql: Statements,
    /// Offline entries read, for rebuild tracking.
    pub offline_files: Vec<PathBuf>,
    /// `cache(ttl = ..)`, in milliseconds.
    pub cache_ttl_ms: Option<u64>,
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
    /// `SELECT * FROM <table> WHERE <key>`: a cached model's miss reads every column, so its
    /// bytes are the reflector's.
    pub select_row: String,
    /// `DELETE FROM <table> WHERE <key> …`: the same as `delete` unless the model soft-deletes.
    pub force_delete: String,
    /// Indexes of the fields the upsert binds (all but the managed timestamps).
    pub upsert_columns: Vec<usize>,
    /// `SELECT * FROM <table>` with a marking comment: described with the table's columns an
    /// insert must set (the comment keeps its offline entry apart from a user's query).
    pub table_check: String,
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
    let ins: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].inserted())
        .collect();
    // Server-managed timestamps are `now()` in the statement text, after the bound columns.
    let managed: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].managed.is_some())
        .collect();
    let now = |n: usize| std::iter::repeat_n("now()".to_owned(), n);
    let insert = if ins.is_empty() && managed.is_empty() {
        format!("INSERT INTO {table} DEFAULT VALUES RETURNING {column_list}")
    } else {
        format!(
            "INSERT INTO {table} ({}) VALUES ({}) RETURNING {column_list}",
            ins.iter()
                .chain(&managed)
                .map(|&i| columns[i].as_str())
                .collect::<Vec<_>>()
                .join(", "),
            (1..=ins.len())
                .map(|n| format!("${n}"))
                .chain(now(managed.len()))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    let key_cols = key
        .iter()
        .map(|&i| columns[i].as_str())
        .collect::<Vec<_>>()
        .join(", ");
    // Every non-key column takes the new value (`updated_at` the new `now()`, `created_at`
    // keeps the first insert's); with only key columns, re-assigning the first key keeps
    // `RETURNING` returning the row on a conflict.
    let mut assign: Vec<usize> = (0..fields.len())
        .filter(|&i| !fields[i].primary_key && fields[i].managed != Some(Managed::Created))
        .collect();
    if assign.is_empty() {
        assign.push(key[0]);
    }
    let upsert_columns: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].managed.is_none())
        .collect();
    let upsert = format!(
        "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({key_cols}) DO UPDATE SET {} RETURNING {column_list}",
        upsert_columns
            .iter()
            .chain(&managed)
            .map(|&i| columns[i].as_str())
            .collect::<Vec<_>>()
            .join(", "),
        (1..=upsert_columns.len())
            .map(|n| format!("${n}"))
            .chain(now(managed.len()))
            .collect::<Vec<_>>()
            .join(", "),
        assign
            .iter()
            .map(|&i| format!("{0} = EXCLUDED.{0}", columns[i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let force_delete = format!("DELETE FROM {table} WHERE {key_where}");
    // A soft-deleting model: `delete` marks the row (once), and reads by key skip marked rows.
    let (select_by_key, delete) = match fields.iter().position(|f| f.soft_delete) {
        Some(d) => {
            let mut set = format!("{} = now()", columns[d]);
            if let Some(u) = fields
                .iter()
                .position(|f| f.managed == Some(Managed::Updated))
            {
                let _ = write!(set, ", {} = now()", columns[u]);
            }
            (
                format!("{select_by_key} AND {} IS NULL", columns[d]),
                format!(
                    "UPDATE {table} SET {set} WHERE {key_where} AND {} IS NULL",
                    columns[d]
                ),
            )
        }
        None => (select_by_key, force_delete.clone()),
    };
    let select_row = match fields.iter().position(|f| f.soft_delete) {
        Some(d) => format!(
            "SELECT * FROM {table} WHERE {key_where} AND {} IS NULL",
            columns[d]
        ),
        None => format!("SELECT * FROM {table} WHERE {key_where}"),
    };
    let table_check = format!("SELECT * FROM {table} /* lifeguard model: insert check */");
    Statements {
        table,
        columns,
        column_list,
        select,
        select_by_key,
        insert,
        upsert,
        delete,
        select_row,
        force_delete,
        upsert_columns,
        table_check,
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
        let belongs_to = match a.belongs_to {
            Some(parent) => {
                let field = ident.to_string();
                let Some(name) = field.strip_suffix("_id").filter(|n| !n.is_empty()) else {
                    return Err(syn::Error::new(
                        ident.span(),
                        "a `belongs_to` field is named after its relation plus `_id` (`language_id` gives `language()`)",
                    ));
                };
                Some((
                    Ident::new(name.trim_start_matches("r#"), ident.span()),
                    parent,
                ))
            }
            None => None,
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
            belongs_to,
            managed: match (a.created_at, a.updated_at) {
                (true, true) => {
                    return Err(syn::Error::new(
                        f.span(),
                        "a field is `created_at` or `updated_at`, not both",
                    ))
                }
                (true, false) => Some(Managed::Created),
                (false, true) => Some(Managed::Updated),
                (false, false) => None,
            },
            soft_delete: a.soft_delete,
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
    options(input, attrs.timestamps, &mut fields)?;
    let table = attrs.table.value();
    if table.is_empty() || table.split('.').any(str::is_empty) || table.split('.').count() > 2 {
        return Err(syn::Error::new(
            attrs.table.span(),
            "expected a table name, or schema.table",
        ));
    }
    if let (Some(_), Some(f)) = (attrs.cache_ttl_ms, fields.iter().find(|f| f.soft_delete)) {
        // The reflector refreshes a soft-deleted row like any other change, so a hit would
        // hand it back: not supported until hits check the marker.
        return Err(syn::Error::new(
            f.ident.span(),
            "a cached model cannot soft-delete yet: drop `cache(..)` or `soft_delete`",
        ));
    }
    let sql = statements(&table, &fields);
    Ok(Model {
        ident: input.ident.clone(),
        vis: input.vis.clone(),
        table_lit: attrs.table,
        fields,
        relations: attrs.relations,
        hooks: attrs.hooks,
        sql,
        offline_files: Vec::new(),
        cache_ttl_ms: attrs.cache_ttl_ms,
    })
}

/// Applies the struct's `timestamps` and checks the timestamp and soft-delete fields: one
/// of each at most, none a key or `default` (the statements write them), soft delete on an
/// `Option`.
fn options(input: &DeriveInput, timestamps: bool, fields: &mut [FieldModel]) -> syn::Result<()> {
    if timestamps {
        for (column, kind) in [
            ("created_at", Managed::Created),
            ("updated_at", Managed::Updated),
        ] {
            if fields.iter().any(|f| f.managed == Some(kind)) {
                continue;
            }
            match fields.iter_mut().find(|f| f.column == column) {
                Some(f) => f.managed = Some(kind),
                None => {
                    return Err(syn::Error::new_spanned(
                        &input.ident,
                        format!("`timestamps` needs a field for the `{column}` column (or mark another field #[lifeguard({column})])"),
                    ))
                }
            }
        }
    }
    let mut seen = [None::<&Ident>; 3];
    for f in fields.iter() {
        let what = match (f.managed, f.soft_delete) {
            (None, false) => continue,
            (Some(_), true) => {
                return Err(syn::Error::new(
                    f.ident.span(),
                    "a soft-delete field cannot also be a timestamp",
                ))
            }
            (Some(Managed::Created), false) => 0,
            (Some(Managed::Updated), false) => 1,
            (None, true) => 2,
        };
        let name = ["created_at", "updated_at", "soft_delete"][what];
        if let Some(first) = seen[what] {
            return Err(syn::Error::new(
                f.ident.span(),
                format!("only one `{name}` field (`{first}` is already)"),
            ));
        }
        seen[what] = Some(&f.ident);
        if f.primary_key || f.default {
            return Err(syn::Error::new(
                f.ident.span(),
                format!("a `{name}` field is written by the model's statements: it cannot be `primary_key` or `default`"),
            ));
        }
        if f.soft_delete && !f.is_option {
            return Err(syn::Error::new(
                f.ty.span(),
                "a `soft_delete` field is NULL for live rows: make it an `Option<…>` of a timestamp",
            ));
        }
    }
    Ok(())
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
        ("force delete", model.sql.force_delete.clone()),
    ];
    let mut select_desc = None;
    for (what, sql) in statements {
        if what == "force delete" && sql == model.sql.delete {
            continue;
        }
        match data::describe(&sql) {
            Ok((desc, file)) => {
                model.offline_files.extend(file);
                if select_desc.is_none() {
                    select_desc = Some(desc);
                }
            }
            Err(data::DataError::Describe(e)) if !e.unreachable => {
                let code = e.code.clone().unwrap_or_default();
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
    check_table(&mut model)?;
    Ok(model)
}

/// Checks against catalog facts no statement description carries (the server only finds
/// these when a statement runs): the key must be the table's primary key or a unique
/// constraint (the upsert's `ON CONFLICT` needs one), and a NOT NULL column without a
/// default must be set by the insert (a field for it, not marked `default`). Errors are on
/// the key field, the `default` field, or the table name when the model has no field for
/// the column.
fn check_table(model: &mut Model) -> syn::Result<()> {
    let table_span = model.table_lit.span();
    let table_name = model.table_lit.value();
    let (desc, file) = data::describe_model_table(&model.sql.table_check, &model.sql.table)
        .map_err(|e| syn::Error::new(table_span, e.message(&model.sql.table_check)))?;
    model.offline_files.extend(file);
    let facts = desc.model_table.unwrap_or(lifeguard_describe::ModelTable {
        insert_required: Vec::new(),
        unique_keys: Vec::new(),
    });
    let mut key: Vec<&str> = model
        .fields
        .iter()
        .filter(|f| f.primary_key)
        .map(|f| f.column.as_str())
        .collect();
    key.sort_unstable();
    let unique = facts.unique_keys.iter().any(|cols| {
        let mut cols: Vec<&str> = cols.iter().map(String::as_str).collect();
        cols.sort_unstable();
        cols == key
    });
    if !unique {
        let field = model.fields.iter().find(|f| f.primary_key).expect("a key");
        let keys: Vec<String> = facts
            .unique_keys
            .iter()
            .map(|k| format!("({})", k.join(", ")))
            .collect();
        return Err(syn::Error::new(
            field.ident.span(),
            format!(
                "the model's primary key ({}) is neither the primary key nor a unique constraint of table `{table_name}` (its keys: {})",
                key.join(", "),
                if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
            ),
        ));
    }
    for column in facts.insert_required {
        match model.fields.iter().find(|f| f.column == column) {
            Some(f) if f.default => {
                return Err(syn::Error::new(
                    f.ident.span(),
                    format!(
                        "column `{column}` of `{table_name}` is NOT NULL and has no default, so the insert must set it: remove `default` from this field"
                    ),
                ))
            }
            Some(_) => {}
            None => {
                return Err(syn::Error::new(
                    table_span,
                    format!(
                        "column `{column}` of `{table_name}` is NOT NULL and has no default, and the model's insert does not set it: add a field for it"
                    ),
                ))
            }
        }
    }
    Ok(())
}
