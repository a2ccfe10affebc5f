//! Postgres types → Rust types. Which Rust type a date/time, JSON, UUID or numeric column
//! gets depends on the features `lifeguard` was built with (chrono wins over time when both
//! are on); everything else is fixed.

use lifeguard_describe::{Description, TypeDesc};
use proc_macro2::TokenStream;
use quote::quote;

/// How a Postgres type is represented in Rust.
pub struct Mapped {
    /// The Rust type of a decoded value.
    pub rust: TokenStream,
    /// The marker an argument is checked against, if arguments of this type are checked.
    pub marker: Option<TokenStream>,
}

fn scalar(name: &str) -> Option<Mapped> {
    let (rust, marker) = match name {
        "bool" => (quote!(bool), quote!(bool)),
        "char" => (quote!(i8), quote!(char)),
        "int2" => (quote!(i16), quote!(int2)),
        "int4" => (quote!(i32), quote!(int4)),
        "int8" => (quote!(i64), quote!(int8)),
        "float4" => (quote!(f32), quote!(float4)),
        "float8" => (quote!(f64), quote!(float8)),
        "oid" => (quote!(u32), quote!(oid)),
        "text" | "varchar" | "bpchar" | "name" | "citext" | "unknown" => {
            (quote!(::std::string::String), quote!(text))
        }
        "bytea" => (quote!(::std::vec::Vec<u8>), quote!(bytea)),
        "inet" => (quote!(::std::net::IpAddr), quote!(inet)),
        #[cfg(feature = "json")]
        "json" | "jsonb" => (
            quote!(::lifeguard::__private::serde_json::Value),
            quote!(json),
        ),
        #[cfg(feature = "uuid")]
        "uuid" => (quote!(::lifeguard::__private::uuid::Uuid), quote!(uuid)),
        #[cfg(feature = "decimal")]
        "numeric" => (
            quote!(::lifeguard::__private::rust_decimal::Decimal),
            quote!(numeric),
        ),
        _ => return datetime(name),
    };
    Some(Mapped {
        rust,
        marker: Some(quote!(::lifeguard::__private::sql::#marker)),
    })
}

#[cfg(feature = "chrono")]
fn datetime(name: &str) -> Option<Mapped> {
    let (rust, marker) = match name {
        "timestamp" => (
            quote!(::lifeguard::__private::chrono::NaiveDateTime),
            quote!(timestamp),
        ),
        "timestamptz" => (
            quote!(::lifeguard::__private::chrono::DateTime<::lifeguard::__private::chrono::Utc>),
            quote!(timestamptz),
        ),
        "date" => (
            quote!(::lifeguard::__private::chrono::NaiveDate),
            quote!(date),
        ),
        "time" => (
            quote!(::lifeguard::__private::chrono::NaiveTime),
            quote!(time),
        ),
        _ => return None,
    };
    Some(Mapped {
        rust,
        marker: Some(quote!(::lifeguard::__private::sql::#marker)),
    })
}

#[cfg(all(feature = "time", not(feature = "chrono")))]
fn datetime(name: &str) -> Option<Mapped> {
    let (rust, marker) = match name {
        "timestamp" => (
            quote!(::lifeguard::__private::time::PrimitiveDateTime),
            quote!(timestamp),
        ),
        "timestamptz" => (
            quote!(::lifeguard::__private::time::OffsetDateTime),
            quote!(timestamptz),
        ),
        "date" => (quote!(::lifeguard::__private::time::Date), quote!(date)),
        "time" => (quote!(::lifeguard::__private::time::Time), quote!(time)),
        _ => return None,
    };
    Some(Mapped {
        rust,
        marker: Some(quote!(::lifeguard::__private::sql::#marker)),
    })
}

#[cfg(not(any(feature = "chrono", feature = "time")))]
fn datetime(name: &str) -> Option<Mapped> {
    // SystemTime is always available for timestamps.
    match name {
        "timestamp" | "timestamptz" => Some(Mapped {
            rust: quote!(::std::time::SystemTime),
            marker: Some({
                let marker = quote::format_ident!("{}", name);
                quote!(::lifeguard::__private::sql::#marker)
            }),
        }),
        _ => None,
    }
}

/// Maps a type name from `desc` (domains become their base type, arrays `Vec<element>`).
/// `None` when there is no built-in mapping.
pub fn map(desc: &Description, name: &str) -> Option<Mapped> {
    let name = desc.base_type(name);
    match desc.types.get(name) {
        Some(TypeDesc::Array { element }) => {
            let inner = map(desc, element)?;
            let rust = inner.rust;
            Some(Mapped {
                rust: quote!(::std::vec::Vec<#rust>),
                marker: inner
                    .marker
                    .map(|m| quote!(::lifeguard::__private::sql::array<#m>)),
            })
        }
        Some(TypeDesc::Base { .. }) if name == "citext" => scalar(name),
        Some(_) => None,
        None => scalar(name),
    }
}

/// The marker a parameter of type `name` is checked against: the built-in mapping's, or for
/// an enum `pg_enum<KEY>` (arrays of either too). `None`: not checked at compile time.
pub fn param_marker(desc: &Description, name: &str) -> Option<TokenStream> {
    let name = desc.base_type(name);
    match desc.types.get(name) {
        Some(TypeDesc::Enum { .. }) => {
            let key = proc_macro2::Literal::u64_unsuffixed(enum_key(name));
            Some(quote!(::lifeguard::__private::sql::pg_enum<#key>))
        }
        Some(TypeDesc::Array { element }) => {
            param_marker(desc, element).map(|m| quote!(::lifeguard::__private::sql::array<#m>))
        }
        _ => map(desc, name).and_then(|m| m.marker),
    }
}

/// The key of a Postgres enum's marker: FNV-1a (64-bit) of its type name. The derive and
/// the query macros both call this, so the keys agree.
pub fn enum_key(type_name: &str) -> u64 {
    type_name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A phrase naming what kind of type `name` is, for error messages.
pub fn describe_kind(desc: &Description, name: &str) -> String {
    let base = desc.base_type(name);
    let what = match desc.types.get(base) {
        Some(TypeDesc::Enum { labels, .. }) => format!("an enum ({})", labels.join(", ")),
        Some(TypeDesc::Composite { .. }) => "a composite type".into(),
        Some(TypeDesc::Range { .. }) => "a range type".into(),
        Some(TypeDesc::Pseudo) => "a pseudo-type".into(),
        Some(TypeDesc::Array { element }) => format!("an array of `{element}`"),
        _ => "a type".into(),
    };
    if base != name {
        format!("a domain over `{base}`, {what}")
    } else {
        what
    }
}
