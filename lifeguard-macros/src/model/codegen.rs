//! The expansion: `impl lifeguard::Model`, the typed column constants, inherent wrappers of
//! the trait's methods, and one compile-time type check per field (at the field's type).

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use super::model::Model;
use crate::query::codegen::tracked_env;

fn camel(name: &str) -> String {
    name.trim_start_matches("r#")
        .split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(first) => first.to_uppercase().chain(c).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

pub fn generate(m: &Model) -> TokenStream {
    let ident = &m.ident;
    let vis = &m.vis;
    let s = &m.sql;
    let table = &s.table;
    let table_name = m.table_lit.value();
    let columns = &s.columns;
    let key: Vec<usize> = (0..m.fields.len())
        .filter(|&i| m.fields[i].primary_key)
        .collect();
    let insert_columns: Vec<usize> = (0..m.fields.len())
        .filter(|&i| m.fields[i].inserted())
        .collect();
    let options = options(m);
    let (column_list, select, select_by_key, insert, upsert, delete) = (
        &s.column_list,
        &s.select,
        &s.select_by_key,
        &s.insert,
        &s.upsert,
        &s.delete,
    );

    let key_tys: Vec<&syn::Type> = key.iter().map(|&i| &m.fields[i].ty).collect();
    // The key's values as array elements: `key_values` collects them, `__with_key`
    // lends them as a stack array (no allocation per read by key).
    let (key_ty, key_elems) = if key.len() == 1 {
        let t = key_tys[0];
        (quote!(#t), quote!(key as ::lifeguard::model::Param<'_>))
    } else {
        let idx = (0..key.len()).map(syn::Index::from);
        (
            quote!((#(#key_tys,)*)),
            quote!(#(&key.#idx as ::lifeguard::model::Param<'_>),*),
        )
    };

    let key_fields: Vec<&syn::Ident> = key.iter().map(|&i| &m.fields[i].ident).collect();
    let key_of_self = if key.len() == 1 {
        let f = key_fields[0];
        quote!(::core::clone::Clone::clone(&self.#f))
    } else {
        quote!((#(::core::clone::Clone::clone(&self.#key_fields),)*))
    };
    let relations = relations(m);
    // `hooks`: the trait's no-op becomes a call into the user's `Hooks` impl (a missing
    // impl is a compile error naming `Hooks`).
    let hook = if m.hooks {
        quote! {
            fn __hook(
                &self,
                exec: &(impl ::lifeguard::Executor + ?Sized),
                event: ::lifeguard::model::Event<'_, Self>,
            ) -> ::lifeguard::Result<()> {
                ::lifeguard::model::__run_hook(self, exec, event)
            }
        }
    } else {
        TokenStream::new()
    };

    let consts = m.fields.iter().map(|f| {
        let name = format_ident!("{}", camel(&f.ident.to_string()), span = f.ident.span());
        let inner = &f.inner;
        let nullness = if f.is_option {
            quote!(::lifeguard::model::Nullable)
        } else {
            quote!(::lifeguard::model::NotNull)
        };
        let quoted = super::model::quote_ident(&f.column);
        let doc = format!(
            "Typed column `{}` of `{table_name}` (field `{}`), for filters, ordering and changes.",
            f.column, f.ident
        );
        quote! {
            #[doc = #doc]
            #[allow(non_upper_case_globals)]
            #vis const #name: ::lifeguard::model::Column<#ident, #inner, #nullness> =
                ::lifeguard::model::Column::__new(#quoted);
        }
    });

    let decode = m.fields.iter().enumerate().map(|(i, f)| {
        let (name, ty) = (&f.ident, &f.ty);
        quote!(#name: ::lifeguard::Row::try_get::<_, #ty>(row, #i)?)
    });
    let decode_at = m.fields.iter().enumerate().map(|(i, f)| {
        let (name, ty) = (&f.ident, &f.ty);
        quote!(#name: ::lifeguard::Row::try_get::<_, #ty>(row, positions[#i])?)
    });
    let cache = match m.cache_ttl_ms {
        Some(ttl_ms) => {
            let select_row = &s.select_row;
            // The key type must name a cache key (integers, text, uuid, bool, or tuples of
            // them); the error lands on the key field.
            let key_span = key_tys[0].span();
            let key_text = quote_spanned! {key_span=>
                <#key_ty as ::lifeguard::cache::CacheKey>::key_text(key)
            };
            let own = quote_spanned! {key_span=>
                <#key_ty as ::lifeguard::cache::CacheKey>::key_text(&#key_of_self)
            };
            quote! {
                const CACHE: ::core::option::Option<&'static ::lifeguard::cache::CacheSpec> =
                    ::core::option::Option::Some(&::lifeguard::cache::CacheSpec {
                        table: #table_name,
                        ttl_ms: #ttl_ms,
                        select_row: #select_row,
                    });
                fn __cache_key(key: &Self::Key) -> ::std::string::String {
                    #key_text
                }
                fn __own_cache_key(&self) -> ::std::string::String {
                    #own
                }
            }
        }
        None => TokenStream::new(),
    };
    let values = m.fields.iter().map(|f| {
        let name = &f.ident;
        quote!(&self.#name as ::lifeguard::model::Param<'_>)
    });
    // Each field's Rust type must be one that binds to (and so decodes) its column's SQL
    // type; the error lands on the field.
    let checks = m.fields.iter().filter_map(|f| {
        let marker = f.marker.as_ref()?;
        let ty = &f.ty;
        Some(quote_spanned! {ty.span()=>
            ::lifeguard::model::__column_type::<#marker, #ty>();
        })
    });

    let mut tracked = tracked_env();
    for file in &m.offline_files {
        let file = file.display().to_string();
        tracked.extend(quote!(
            const _: &[u8] = ::core::include_bytes!(#file);
        ));
    }

    let wrappers = quote! {
        /// Fetches the row with this primary key (see [`lifeguard::Model::find_by_id`]).
        #vis fn find_by_id(
            exec: &(impl ::lifeguard::Executor + ?Sized),
            key: #key_ty,
        ) -> ::lifeguard::Result<::core::option::Option<Self>> {
            <Self as ::lifeguard::Model>::find_by_id(exec, key)
        }
        /// A query over the table (see [`lifeguard::Model::find`]).
        #vis fn find() -> ::lifeguard::model::Select<Self> {
            <Self as ::lifeguard::Model>::find()
        }
        /// Inserts this row, returning the stored row (see [`lifeguard::Model::insert`]).
        #vis fn insert(&self, exec: &(impl ::lifeguard::Executor + ?Sized)) -> ::lifeguard::Result<Self> {
            <Self as ::lifeguard::Model>::insert(self, exec)
        }
        /// Inserts many rows in as few statements as possible (see
        /// [`lifeguard::Model::insert_many`]).
        #vis fn insert_many(exec: &(impl ::lifeguard::Executor + ?Sized), rows: &[Self]) -> ::lifeguard::Result<u64> {
            <Self as ::lifeguard::Model>::insert_many(exec, rows)
        }
        /// Inserts, or updates on a key conflict (see [`lifeguard::Model::upsert`]).
        #vis fn upsert(&self, exec: &(impl ::lifeguard::Executor + ?Sized)) -> ::lifeguard::Result<Self> {
            <Self as ::lifeguard::Model>::upsert(self, exec)
        }
        /// Writes only the changed columns (see [`lifeguard::Model::update`]).
        #vis fn update(
            &mut self,
            exec: &(impl ::lifeguard::Executor + ?Sized),
            changes: ::lifeguard::model::Changes<Self>,
        ) -> ::lifeguard::Result<()> {
            <Self as ::lifeguard::Model>::update(self, exec, changes)
        }
        /// Deletes this row (see [`lifeguard::Model::delete`]).
        #vis fn delete(&self, exec: &(impl ::lifeguard::Executor + ?Sized)) -> ::lifeguard::Result<()> {
            <Self as ::lifeguard::Model>::delete(self, exec)
        }
        /// Removes this row, even from a soft-deleting model (see
        /// [`lifeguard::Model::force_delete`]).
        #vis fn force_delete(&self, exec: &(impl ::lifeguard::Executor + ?Sized)) -> ::lifeguard::Result<()> {
            <Self as ::lifeguard::Model>::force_delete(self, exec)
        }
        /// Removes every row matching `filter`, soft-deleted or not (see
        /// [`lifeguard::Model::force_delete_many`]).
        #vis fn force_delete_many(
            exec: &(impl ::lifeguard::Executor + ?Sized),
            filter: ::lifeguard::model::Expr<Self>,
        ) -> ::lifeguard::Result<u64> {
            <Self as ::lifeguard::Model>::force_delete_many(exec, filter)
        }
        /// Updates every row matching `filter` (see [`lifeguard::Model::update_many`]).
        #vis fn update_many(
            exec: &(impl ::lifeguard::Executor + ?Sized),
            filter: ::lifeguard::model::Expr<Self>,
            changes: ::lifeguard::model::Changes<Self>,
        ) -> ::lifeguard::Result<u64> {
            <Self as ::lifeguard::Model>::update_many(exec, filter, changes)
        }
        /// Deletes every row matching `filter` (see [`lifeguard::Model::delete_many`]).
        #vis fn delete_many(
            exec: &(impl ::lifeguard::Executor + ?Sized),
            filter: ::lifeguard::model::Expr<Self>,
        ) -> ::lifeguard::Result<u64> {
            <Self as ::lifeguard::Model>::delete_many(exec, filter)
        }
        /// An empty change set for [`update`](Self::update) and
        /// [`update_many`](Self::update_many).
        #vis fn changes() -> ::lifeguard::model::Changes<Self> {
            ::lifeguard::model::Changes::new()
        }
    };

    quote! {
        impl #ident {
            #(#consts)*
            #wrappers
            #relations
        }

        impl ::lifeguard::Model for #ident {
            type Key = #key_ty;

            const META: &'static ::lifeguard::model::ModelMeta = &::lifeguard::model::ModelMeta {
                table: #table,
                columns: &[#(#columns),*],
                key: &[#(#key),*],
                insert_columns: &[#(#insert_columns),*],
                select: #select,
                select_by_key: #select_by_key,
                insert: #insert,
                upsert: #upsert,
                delete: #delete,
                column_list: #column_list,
                #options
            };

            fn from_row(row: &::lifeguard::Row) -> ::lifeguard::Result<Self> {
                ::core::result::Result::Ok(#ident { #(#decode,)* })
            }

            fn __from_row_at(row: &::lifeguard::Row, positions: &[usize]) -> ::lifeguard::Result<Self> {
                ::core::result::Result::Ok(#ident { #(#decode_at,)* })
            }

            #cache

            fn values(&self) -> ::std::vec::Vec<::lifeguard::model::Param<'_>> {
                ::std::vec![#(#values),*]
            }

            fn key_values(key: &Self::Key) -> ::std::vec::Vec<::lifeguard::model::Param<'_>> {
                ::std::vec![#key_elems]
            }

            fn __with_key<R>(
                key: &Self::Key,
                f: impl ::core::ops::FnOnce(&[::lifeguard::model::Param<'_>]) -> R,
            ) -> R {
                f(&[#key_elems])
            }

            fn key(&self) -> Self::Key {
                #key_of_self
            }

            #hook
        }

        const _: () = {
            #tracked
            #[allow(dead_code)]
            fn __lifeguard_column_types() {
                #(#checks)*
            }
        };
    }
}

/// The `ModelMeta` fields of the timestamp, soft-delete and hook options.
fn options(m: &Model) -> TokenStream {
    use super::model::Managed;
    let s = &m.sql;
    let (force_delete, upsert_columns, hooks) = (&s.force_delete, &s.upsert_columns, m.hooks);
    let find =
        |pred: &dyn Fn(&super::model::FieldModel) -> bool| match m.fields.iter().position(pred) {
            Some(i) => quote!(::core::option::Option::Some(#i)),
            None => quote!(::core::option::Option::None),
        };
    let created_at = find(&|f| f.managed == Some(Managed::Created));
    let updated_at = find(&|f| f.managed == Some(Managed::Updated));
    let deleted_at = find(&|f| f.soft_delete);
    quote! {
        force_delete: #force_delete,
        upsert_columns: &[#(#upsert_columns),*],
        created_at: #created_at,
        updated_at: #updated_at,
        deleted_at: #deleted_at,
        hooks: #hooks,
    }
}

/// One method per relation: `belongs_to` fields, then struct-level `has_many` / `has_one`.
/// Each is typed so that a foreign key whose type is not the related key fails to compile
/// at the declaration.
fn relations(m: &Model) -> TokenStream {
    let ident = &m.ident;
    let vis = &m.vis;
    let mut out = TokenStream::new();
    for f in &m.fields {
        let Some((name, parent)) = &f.belongs_to else {
            continue;
        };
        let field = &f.ident;
        let read = quote_spanned! {f.ty.span()=>
            <_ as ::lifeguard::model::AsKey<<#parent as ::lifeguard::Model>::Key>>::as_key(&m.#field)
        };
        let doc = format!(
            "The relation to the `{}` whose key is in `{field}`; `load` it for many rows in one statement.",
            quote::ToTokens::to_token_stream(parent)
        );
        out.extend(quote! {
            #[doc = #doc]
            #vis fn #name() -> ::lifeguard::model::BelongsTo<Self, #parent> {
                fn fk(m: &#ident) -> ::core::option::Option<&<#parent as ::lifeguard::Model>::Key> {
                    #read
                }
                ::lifeguard::model::BelongsTo::__new(fk)
            }
        });
    }
    for r in &m.relations {
        let (name, model, fk) = (&r.name, &r.model, &r.fk);
        let model_name = quote::ToTokens::to_token_stream(model).to_string();
        let fk_const = format_ident!("{}", camel(&fk.to_string()), span = fk.span());
        let tokens = match (&r.through, &r.other) {
            (Some(through), Some(other)) => {
                let other_const =
                    format_ident!("{}", camel(&other.to_string()), span = other.span());
                let doc = format!(
                    "The `{model_name}` rows linked to this one through `{}` (`{fk}` → `{other}`); `load` them for many rows in one statement.",
                    quote::ToTokens::to_token_stream(through)
                );
                quote! {
                    #[doc = #doc]
                    #vis fn #name() -> ::lifeguard::model::Through<Self, #model, #through> {
                        ::lifeguard::model::Through::__new(<#through>::#fk_const, <#through>::#other_const)
                    }
                }
            }
            _ => {
                let (ty, what) = match r.kind {
                    super::attrs::RelationKind::HasMany => (quote!(HasMany), "rows"),
                    super::attrs::RelationKind::HasOne => (quote!(HasOne), "row"),
                };
                let doc = format!(
                    "The `{model_name}` {what} whose `{fk}` holds this row's key; `load` for many rows in one statement."
                );
                quote! {
                    #[doc = #doc]
                    #vis fn #name() -> ::lifeguard::model::#ty<Self, #model> {
                        fn fk(c: &#model) -> ::core::option::Option<&<#ident as ::lifeguard::Model>::Key> {
                            <_ as ::lifeguard::model::AsKey<<#ident as ::lifeguard::Model>::Key>>::as_key(&c.#fk)
                        }
                        ::lifeguard::model::#ty::__new(<#model>::#fk_const, fk)
                    }
                }
            }
        };
        out.extend(tokens);
    }
    out
}
