//! `#[lifeguard(...)]` attributes of a model struct and its fields.

use syn::{DeriveInput, Field, LitStr};

/// The struct's attributes.
pub struct StructAttrs {
    /// `table = "name"` or `"schema.name"`.
    pub table: LitStr,
}

/// One field's attributes.
#[derive(Default)]
pub struct FieldAttrs {
    /// `primary_key`.
    pub primary_key: bool,
    /// `column = "name"`: the column when it differs from the field name.
    pub column: Option<LitStr>,
    /// `default`: an insert leaves this column to the server (serial keys, `now()`).
    pub default: bool,
}

pub fn parse_struct(input: &DeriveInput) -> syn::Result<StructAttrs> {
    let mut table = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifeguard"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = Some(meta.value()?.parse::<LitStr>()?);
                Ok(())
            } else {
                Err(meta.error("expected `table = \"...\"`"))
            }
        })?;
    }
    let table = table.ok_or_else(|| {
        syn::Error::new_spanned(
            &input.ident,
            "a model needs its table: #[lifeguard(table = \"name\")] (or \"schema.name\")",
        )
    })?;
    Ok(StructAttrs { table })
}

pub fn parse_field(field: &Field) -> syn::Result<FieldAttrs> {
    let mut out = FieldAttrs::default();
    for attr in field
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifeguard"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("primary_key") {
                out.primary_key = true;
            } else if meta.path.is_ident("default") {
                out.default = true;
            } else if meta.path.is_ident("column") {
                out.column = Some(meta.value()?.parse::<LitStr>()?);
            } else {
                return Err(meta.error("expected `primary_key`, `default` or `column = \"...\"`"));
            }
            Ok(())
        })?;
    }
    Ok(out)
}
