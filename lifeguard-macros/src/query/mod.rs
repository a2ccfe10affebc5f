//! The checked-query macros, one step per module: [`input`] parses the macro call, [`data`]
//! obtains the statement's description (online or offline), [`plan`] turns it into Rust
//! types, [`codegen`] writes the expansion.

pub(crate) mod codegen;
pub(crate) mod data;
mod input;
mod plan;
pub(crate) mod types;

use proc_macro2::{Span, TokenStream};

/// Where the SQL text comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A string literal in the call.
    Inline,
    /// A file named by a string literal, relative to the crate root.
    File,
}

/// What each row becomes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An anonymous record struct.
    Record,
    /// The caller's struct.
    As,
    /// The single column's value.
    Scalar,
}

/// Expands one macro call; every failure becomes a `compile_error!` at the right span.
pub fn expand(input: TokenStream, source: Source, kind: Kind, checked: bool) -> TokenStream {
    match try_expand(input, source, kind, checked) {
        Ok(tokens) => tokens,
        Err(e) => {
            let error = e.to_compile_error();
            // Still track the inputs, so fixing the environment (a database coming up,
            // `lifeguard prepare` writing the entry) triggers a rebuild. The block's `!`
            // value keeps the error from causing follow-on type errors.
            let tracked = codegen::tracked_env();
            quote::quote!({ #error #tracked ::core::unreachable!() })
        }
    }
}

fn try_expand(
    input: TokenStream,
    source: Source,
    kind: Kind,
    checked: bool,
) -> syn::Result<TokenStream> {
    let input = input::parse(input, source, kind)?;
    let (desc, offline_file) = data::describe(&input.sql).map_err(|e| e.at(&input))?;
    let plan = plan::plan(&input, &desc, kind, checked, offline_file)?;
    Ok(codegen::generate(&input, &plan))
}

/// A span for errors about the statement as a whole.
pub fn sql_span(input: &input::Input) -> Span {
    input.sql_lit.span()
}
