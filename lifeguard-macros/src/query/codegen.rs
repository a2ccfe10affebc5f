//! The expansion: `::lifeguard::checked::Query::__new(SQL, (checked args…), row_mapper)`.
//!
//! The arguments are borrowed in the caller's expression (no `let`), so temporaries live as
//! long as the caller's statement; the mapper is a block of items (record struct + fn), so
//! the record type never leaks a name.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use super::input::Input;
use super::plan::{ColumnPlan, Plan};
use super::Kind;

/// Items that make cargo rebuild the crate when the macros' inputs change.
pub fn tracked_env() -> TokenStream {
    quote! {
        const _: () = {
            let _ = ::core::option_env!("DATABASE_URL");
            let _ = ::core::option_env!("LIFEGUARD_OFFLINE");
            let _ = ::core::option_env!("LIFEGUARD_OFFLINE_DIR");
            let _ = ::core::option_env!("LIFEGUARD_PREPARE_DIR");
            let _ = ::core::option_env!("LIFEGUARD_PREPARE_TOKEN");
        };
    }
}

fn decode(col: &ColumnPlan, index: usize, plan: &Plan) -> TokenStream {
    let get = quote!(::lifeguard::Row::try_get);
    match (&col.ty, plan.kind) {
        // query_as! with an unmapped type (or unchecked): the field's own type decides; a
        // nullable column still has to land in an `Option`.
        (None, _) if col.nullable && plan.checked => quote! {{
            let value: ::core::option::Option<_> = #get(row, #index)?;
            value
        }},
        (None, _) => quote!(#get(row, #index)?),
        (Some(ty), kind) => {
            let ty = if col.nullable {
                quote!(::core::option::Option<#ty>)
            } else {
                ty.clone()
            };
            let value = quote!(#get::<_, #ty>(row, #index)?);
            if kind == Kind::As {
                quote!(::core::convert::Into::into(#value))
            } else {
                value
            }
        }
    }
}

fn out_type(col: &ColumnPlan) -> TokenStream {
    let ty = col.ty.clone().unwrap_or_else(|| quote!(_));
    if col.nullable {
        quote!(::core::option::Option<#ty>)
    } else {
        ty
    }
}

/// Generates the expansion for one call.
pub fn generate(input: &Input, plan: &Plan) -> TokenStream {
    let sql = &input.sql;
    let args: Vec<TokenStream> = input
        .args
        .iter()
        .zip(&plan.params)
        .map(|(arg, p)| match &p.marker {
            Some(marker) => quote_spanned! {arg.span()=>
                ::lifeguard::__private::check::<#marker, _>(&(#arg))
            },
            None => quote_spanned! {arg.span()=> ::lifeguard::__private::unchecked(&(#arg)) },
        })
        .collect();
    let args = if args.len() <= 12 {
        quote!((#(#args,)*))
    } else {
        quote!(::std::vec![#(#args as &(dyn ::lifeguard::ToSql + ::core::marker::Sync)),*])
    };

    let mut items = tracked_env();
    if let Some(file) = &input.file {
        let file = file.display().to_string();
        items.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#file);
        ));
    }
    if let Some(file) = &plan.offline_file {
        let file = file.display().to_string();
        items.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#file);
        ));
    }

    let (out, build) = match plan.kind {
        Kind::Scalar => {
            let col = &plan.columns[0];
            (out_type(col), decode(col, 0, plan))
        }
        Kind::Record => {
            let fields = plan.columns.iter().map(|c| {
                let (name, ty) = (&c.field, out_type(c));
                quote!(pub #name: #ty)
            });
            items.extend(quote! {
                #[derive(Debug)]
                #[allow(non_snake_case)]
                struct Record { #(#fields,)* }
            });
            let inits = plan.columns.iter().enumerate().map(|(i, c)| {
                let (name, value) = (&c.field, decode(c, i, plan));
                quote!(#name: #value)
            });
            (quote!(Record), quote!(Record { #(#inits,)* }))
        }
        Kind::As => {
            let path = input.record.as_ref().expect("query_as! has a type");
            let inits = plan.columns.iter().enumerate().map(|(i, c)| {
                let (name, value) = (&c.field, decode(c, i, plan));
                quote!(#name: #value)
            });
            (quote!(#path), quote!(#path { #(#inits,)* }))
        }
    };

    // A statement that only reads may go where the executor sends reads (a router's replica).
    let reads = lifeguard_describe::reads_only(sql).then(|| quote!(.__reads_only()));
    quote! {
        ::lifeguard::checked::Query::__new(
            #sql,
            #args,
            {
                #items
                // One shape for every kind; for a scalar it reads `Ok(decode?)`.
                #[allow(clippy::needless_question_mark)]
                fn __lifeguard_map(row: &::lifeguard::Row) -> ::lifeguard::Result<#out> {
                    ::core::result::Result::Ok(#build)
                }
                __lifeguard_map
            },
        )
        #reads
    }
}
