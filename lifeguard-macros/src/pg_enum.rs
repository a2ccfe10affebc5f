//! `#[derive(PgEnum)]`: maps a fieldless Rust enum to a Postgres enum type, implementing
//! `lifeguard::ToSql` and `lifeguard::FromSql` through `::lifeguard` paths (so users need no
//! other dependency). Attributes are parsed into a model first, then code is generated.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Ident, LitStr};

struct Model {
    ident: Ident,
    type_name: String,
    variants: Vec<(Ident, String)>,
}

fn rename(name: &str, rule: Option<&str>) -> Result<String, String> {
    let snake = || {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        }
        out
    };
    Ok(match rule {
        None => name.to_owned(),
        Some("lowercase") => name.to_lowercase(),
        Some("UPPERCASE") => name.to_uppercase(),
        Some("snake_case") => snake(),
        Some("SCREAMING_SNAKE_CASE") => snake().to_uppercase(),
        Some("kebab-case") => snake().replace('_', "-"),
        Some(other) => {
            return Err(format!(
                "unknown rename_all rule `{other}` (use lowercase, UPPERCASE, snake_case, SCREAMING_SNAKE_CASE or kebab-case)"
            ))
        }
    })
}

fn model(input: &DeriveInput) -> syn::Result<Model> {
    let mut type_name = None;
    let mut rename_all = None;
    for attr in input
        .attrs
        .iter()
        .filter(|a| a.path().is_ident("lifeguard"))
    {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("type_name") {
                type_name = Some(meta.value()?.parse::<LitStr>()?.value());
            } else if meta.path.is_ident("rename_all") {
                rename_all = Some(meta.value()?.parse::<LitStr>()?);
            } else {
                return Err(meta.error("expected `type_name = \"...\"` or `rename_all = \"...\"`"));
            }
            Ok(())
        })?;
    }
    let Data::Enum(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            &input.ident,
            "PgEnum is for fieldless enums",
        ));
    };
    let rule = rename_all.as_ref().map(LitStr::value);
    let mut variants = Vec::new();
    for v in &data.variants {
        if !matches!(v.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                v,
                "PgEnum variants cannot have fields",
            ));
        }
        let mut label = None;
        for attr in v.attrs.iter().filter(|a| a.path().is_ident("lifeguard")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    label = Some(meta.value()?.parse::<LitStr>()?.value());
                    Ok(())
                } else {
                    Err(meta.error("expected `rename = \"label\"`"))
                }
            })?;
        }
        let label = match label {
            Some(l) => l,
            None => rename(&v.ident.to_string(), rule.as_deref()).map_err(|e| {
                syn::Error::new_spanned(rename_all.as_ref().expect("only rules fail"), e)
            })?,
        };
        variants.push((v.ident.clone(), label));
    }
    let type_name = match type_name {
        Some(t) => t,
        None => rename(&input.ident.to_string(), Some("snake_case")).expect("known rule"),
    };
    Ok(Model {
        ident: input.ident.clone(),
        type_name,
        variants,
    })
}

fn generate(m: &Model) -> TokenStream {
    let ident = &m.ident;
    let type_name = &m.type_name;
    let idents: Vec<_> = m.variants.iter().map(|(i, _)| i).collect();
    let labels: Vec<_> = m.variants.iter().map(|(_, l)| l).collect();
    let count = labels.len();
    let accepts = quote! {
        fn accepts(ty: &::lifeguard::Type) -> bool {
            if ty.name() != #type_name {
                return false;
            }
            match ty.kind() {
                ::lifeguard::Kind::Enum(labels) => {
                    labels.len() == #count
                        && labels.iter().all(|l| matches!(l.as_str(), #(#labels)|*))
                }
                _ => false,
            }
        }
    };
    let error = quote!(
        ::std::boxed::Box<dyn ::std::error::Error + ::core::marker::Sync + ::core::marker::Send>
    );
    // Lets checked queries take this enum for parameters of its Postgres type only.
    let key = proc_macro2::Literal::u64_unsuffixed(crate::query::types::enum_key(type_name));
    quote! {
        impl ::lifeguard::__private::Encodes<::lifeguard::__private::sql::pg_enum<#key>> for #ident {}

        impl ::lifeguard::ToSql for #ident {
            fn to_sql(
                &self,
                _ty: &::lifeguard::Type,
                buf: &mut ::lifeguard::__private::BytesMut,
            ) -> ::core::result::Result<::lifeguard::IsNull, #error> {
                let label = match self { #(#ident::#idents => #labels,)* };
                buf.extend_from_slice(label.as_bytes());
                ::core::result::Result::Ok(::lifeguard::IsNull::No)
            }
            #accepts
            ::lifeguard::__private::to_sql_checked!();
        }

        impl<'a> ::lifeguard::FromSql<'a> for #ident {
            fn from_sql(
                _ty: &::lifeguard::Type,
                raw: &'a [u8],
            ) -> ::core::result::Result<Self, #error> {
                match ::core::str::from_utf8(raw)? {
                    #(#labels => ::core::result::Result::Ok(#ident::#idents),)*
                    other => ::core::result::Result::Err(::std::format!(
                        "`{}` is not a label of {} (enum {})", other, #type_name, ::core::stringify!(#ident)
                    ).into()),
                }
            }
            #accepts
        }
    }
}

/// Expands the derive.
pub fn derive(input: DeriveInput) -> TokenStream {
    match model(&input) {
        Ok(m) => generate(&m),
        Err(e) => e.to_compile_error(),
    }
}

#[cfg(test)]
mod tests {
    use super::rename;

    #[test]
    fn rename_rules() {
        assert_eq!(rename("NC17", None).unwrap(), "NC17");
        assert_eq!(
            rename("MpaaRating", Some("snake_case")).unwrap(),
            "mpaa_rating"
        );
        assert_eq!(
            rename("InProgress", Some("kebab-case")).unwrap(),
            "in-progress"
        );
        assert_eq!(rename("Done", Some("UPPERCASE")).unwrap(), "DONE");
        assert!(rename("X", Some("camel")).is_err());
    }
}
