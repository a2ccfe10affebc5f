//! `migrate!()` and `#[lifeguard::test]`.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;

fn manifest_dir() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into()))
}

/// Checks a migration file name like the runtime parser does, so a typo fails the build
/// instead of panicking at start-up. Returns the version and the kind (0 simple, 1 up,
/// 2 down).
fn check_name(name: &str) -> Result<(i64, u8), String> {
    let stem = name.strip_suffix(".sql").unwrap_or(name);
    let (stem, kind) = match (stem.strip_suffix(".up"), stem.strip_suffix(".down")) {
        (Some(s), _) => (s, 1),
        (_, Some(s)) => (s, 2),
        _ => (stem, 0),
    };
    let version = stem.split_once('_').and_then(|(v, d)| {
        let digits = !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit());
        if digits && !d.is_empty() {
            v.parse::<i64>().ok()
        } else {
            None
        }
    });
    version.map(|v| (v, kind)).ok_or_else(|| {
        format!(
            "malformed migration file name `{name}` (expected `<version>_<description>.sql`, \
             `.up.sql` or `.down.sql`)"
        )
    })
}

/// The folder-level rules (unique versions, no `.down.sql` alone), checked at build time.
fn check_set(files: &[(String, i64, u8)]) -> Result<(), String> {
    for (i, (name, v, k)) in files.iter().enumerate() {
        for (other, v2, k2) in &files[i + 1..] {
            if v == v2 && (k == k2 || *k == 0 || *k2 == 0) {
                return Err(format!(
                    "two migrations have version {v}: `{name}` and `{other}`"
                ));
            }
        }
        let up = format!("{}.up.sql", name.trim_end_matches(".down.sql"));
        if *k == 2 && !files.iter().any(|(n2, _, k2)| *n2 == up && *k2 == 1) {
            return Err(format!("`{name}` has no matching `.up.sql` file (`{up}`)"));
        }
    }
    Ok(())
}

/// Expands to a `Migrator` embedding every `.sql` file of `dir` (relative to the crate root).
pub fn embed(dir: &str, span: Span) -> TokenStream {
    let path = manifest_dir().join(dir);
    let read = match std::fs::read_dir(&path) {
        Ok(r) => r,
        Err(e) => {
            let msg = format!("cannot read migrations folder `{}`: {e}", path.display());
            return quote::quote_spanned!(span=> compile_error!(#msg));
        }
    };
    let mut files: Vec<(String, PathBuf)> = Vec::new();
    let mut parsed = Vec::new();
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".sql") && entry.path().is_file() {
            match check_name(&name) {
                Ok((v, k)) => parsed.push((name.clone(), v, k)),
                Err(msg) => return quote::quote_spanned!(span=> compile_error!(#msg)),
            }
            files.push((name, entry.path()));
        }
    }
    if let Err(msg) = check_set(&parsed) {
        return quote::quote_spanned!(span=> compile_error!(#msg));
    }
    files.sort();
    let names = files.iter().map(|f| &f.0);
    let paths = files.iter().map(|f| f.1.to_string_lossy().into_owned());
    let names2 = names.clone();
    quote! {{
        // The folder as it was at build time; include_str! makes edits rebuild the crate,
        // new files need the crate's build.rs to `cargo:rerun-if-changed` the folder.
        const _LIFEGUARD_MIGRATION_FILES: &[&str] = &[#(#names2),*];
        ::lifeguard::migrate::Migrator::__embedded(&[#((#names, include_str!(#paths))),*])
    }}
}

/// `migrate!()` / `migrate!("path")`.
pub fn expand(input: TokenStream) -> TokenStream {
    if input.is_empty() {
        return embed("migrations", Span::call_site());
    }
    match syn::parse2::<syn::LitStr>(input) {
        Ok(lit) => embed(&lit.value(), lit.span()),
        Err(e) => e.to_compile_error(),
    }
}

enum Migrations {
    Default,
    None,
    Dir(syn::LitStr),
}

/// `#[lifeguard::test(...)]`.
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    match test_inner(args, item) {
        Ok(t) => t,
        Err(e) => e.to_compile_error(),
    }
}

fn test_inner(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let mut migrations = Migrations::Default;
    let mut fixtures: Vec<syn::LitStr> = Vec::new();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("migrations") {
            let value: syn::Lit = meta.value()?.parse()?;
            migrations = match value {
                syn::Lit::Str(s) => Migrations::Dir(s),
                syn::Lit::Bool(b) if !b.value => Migrations::None,
                other => {
                    return Err(syn::Error::new(
                        other.span(),
                        "expected a folder path or `false`",
                    ))
                }
            };
            Ok(())
        } else {
            Err(meta.error("expected `migrations = \"path\"`, `migrations = false` or `fixtures(\"file.sql\", …)`"))
        }
    });
    // `fixtures("a.sql", …)` holds literals, which parse_nested_meta cannot read: parse the
    // arguments by hand for it and use syn's parser for the rest.
    let mut rest = TokenStream::new();
    let mut tokens = args.into_iter().peekable();
    while let Some(tt) = tokens.next() {
        if let proc_macro2::TokenTree::Ident(id) = &tt {
            if id == "fixtures" {
                if let Some(proc_macro2::TokenTree::Group(g)) = tokens.peek().cloned() {
                    tokens.next();
                    let list = syn::parse::Parser::parse2(
                        syn::punctuated::Punctuated::<syn::LitStr, syn::Token![,]>::parse_terminated,
                        g.stream(),
                    )?;
                    fixtures.extend(list);
                    if let Some(proc_macro2::TokenTree::Punct(p)) = tokens.peek() {
                        if p.as_char() == ',' {
                            tokens.next();
                        }
                    }
                    continue;
                }
            }
        }
        rest.extend(std::iter::once(tt));
    }
    syn::parse::Parser::parse2(parser, rest)?;

    let func: syn::ItemFn = syn::parse2(item)?;
    let name = &func.sig.ident;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let mut inner = func.clone();
    inner.attrs.clear();
    inner.vis = syn::Visibility::Inherited;
    inner.sig.ident = format_ident!("__lifeguard_test_body");
    let call = match func.sig.inputs.len() {
        0 => quote!(__lifeguard_test_body()),
        1 => match &func.sig.inputs[0] {
            syn::FnArg::Typed(t) if matches!(*t.ty, syn::Type::Reference(_)) => {
                quote!(__lifeguard_test_body(&__pool))
            }
            syn::FnArg::Typed(_) => quote!(__lifeguard_test_body(__pool)),
            other => return Err(syn::Error::new(other.span(), "a test cannot take self")),
        },
        _ => {
            return Err(syn::Error::new(
                func.sig.inputs.span(),
                "a #[lifeguard::test] takes no argument or one pool (`&lifeguard::Pool`)",
            ))
        }
    };
    let migrations = match migrations {
        Migrations::None => quote!(),
        Migrations::Dir(lit) => {
            let m = embed(&lit.value(), lit.span());
            quote!(.migrations(#m))
        }
        Migrations::Default => {
            if manifest_dir().join("migrations").is_dir() {
                let m = embed("migrations", Span::call_site());
                quote!(.migrations(#m))
            } else {
                quote!()
            }
        }
    };
    let mut fixture_calls = Vec::new();
    for lit in &fixtures {
        let path: PathBuf = manifest_dir().join(lit.value());
        if !Path::new(&path).is_file() {
            let msg = format!("fixture file `{}` not found", path.display());
            return Err(syn::Error::new(lit.span(), msg));
        }
        let abs = path.to_string_lossy().into_owned();
        let shown = lit.value();
        fixture_calls.push(quote!(.fixture(#shown, include_str!(#abs))));
    }
    Ok(quote! {
        #[::core::prelude::v1::test]
        #(#attrs)*
        #vis fn #name() {
            #inner
            let __db = ::lifeguard::testing::TestDatabase::builder()
                #migrations
                #(#fixture_calls)*
                .create()
                .unwrap_or_else(|e| panic!("#[lifeguard::test]: cannot set up the test database: {e}"));
            let __pool = __db.pool().clone();
            ::lifeguard::testing::__run_in_coroutine(move || {
                ::lifeguard::testing::__TestOutcome::__check(#call);
            });
            drop(__db);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_at_build_time() {
        assert_eq!(
            check_name("20240101000000_create_notes.up.sql"),
            Ok((20240101000000, 1))
        );
        assert_eq!(check_name("3_x.down.sql"), Ok((3, 2)));
        assert_eq!(check_name("3_x.sql"), Ok((3, 0)));
        for bad in ["x_y.sql", "12.sql", "12_.sql", "99999999999999999999_a.sql"] {
            assert!(check_name(bad).unwrap_err().contains(bad));
        }
        let set = |v: &[(&str, i64, u8)]| {
            check_set(
                &v.iter()
                    .map(|(n, a, b)| (n.to_string(), *a, *b))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(set(&[
            ("1_a.up.sql", 1, 1),
            ("1_a.down.sql", 1, 2),
            ("2_b.sql", 2, 0)
        ])
        .is_ok());
        assert!(set(&[("1_a.sql", 1, 0), ("1_b.sql", 1, 0)])
            .unwrap_err()
            .contains("version 1"));
        assert!(set(&[("1_a.sql", 1, 0), ("1_a.up.sql", 1, 1)]).is_err());
        assert!(set(&[("1_a.down.sql", 1, 2)])
            .unwrap_err()
            .contains("no matching"));
        assert!(set(&[("1_a.up.sql", 1, 1), ("1_b.down.sql", 1, 2)])
            .unwrap_err()
            .contains("(`1_b.up.sql`)"));
    }
}
