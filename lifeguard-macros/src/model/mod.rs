//! `#[derive(Model)]`, one step per module as serde_derive does: [`attrs`] reads the
//! `#[lifeguard(...)]` attributes, [`model`] builds the model and checks it against the table
//! through the query macros' describe step, [`codegen`] writes the impls.

mod attrs;
mod codegen;
#[allow(clippy::module_inception)]
mod model;

use proc_macro2::TokenStream;

/// Expands the derive; a failure becomes a `compile_error!` at its span (a field, the table
/// name), still tracking the environment so fixing it rebuilds.
pub fn derive(input: syn::DeriveInput) -> TokenStream {
    match model::build(&input) {
        Ok(m) => codegen::generate(&m),
        Err(e) => {
            let error = e.to_compile_error();
            let tracked = crate::query::codegen::tracked_env();
            quote::quote!(#error #tracked)
        }
    }
}
