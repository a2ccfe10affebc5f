//! Compile-time checks of query arguments against the parameter types the server described.
//!
//! Each built-in SQL type has a marker type in [`sql`]; `Encodes<sql::int4>` is implemented
//! for the Rust types that may be bound to an `int4` parameter (`i32`, and through the
//! blanket impls `&i32`, `Option<i32>`, `&Option<i32>`, …). The macros call [`check`] on
//! every argument with its span, so a mismatch is reported at the argument.
#![allow(non_camel_case_types)]

use std::borrow::Cow;

/// Marker types, one per built-in SQL type the macros check arguments against.
pub mod sql {
    macro_rules! markers {
        ($($name:ident),* $(,)?) => {$(
            #[doc = concat!("The SQL type `", stringify!($name), "`.")]
            pub enum $name {}
        )*};
    }
    markers!(
        bool,
        bytea,
        char,
        text,
        int2,
        int4,
        int8,
        float4,
        float8,
        oid,
        json,
        inet,
        date,
        time,
        timestamp,
        timestamptz,
        numeric,
        uuid
    );
    /// An SQL array of `E`.
    pub struct array<E>(std::marker::PhantomData<E>);
    /// A Postgres enum type, keyed by a 64-bit FNV-1a hash of its name (`pg_type.typname`):
    /// `#[derive(lifeguard::PgEnum)]` implements `Encodes<pg_enum<KEY>>` for the Rust enum
    /// of that `type_name`, so only it (or an array, `Option`, reference of it) binds there.
    pub enum pg_enum<const KEY: u64> {}
}

/// "This Rust type may be bound to a parameter of SQL type `T`."
#[diagnostic::on_unimplemented(
    message = "mismatched argument: `{Self}` cannot be bound to a parameter of SQL type `{T}`",
    label = "this argument's type does not match the parameter's SQL type `{T}`"
)]
pub trait Encodes<T> {}

impl<T, U: ?Sized + Encodes<T>> Encodes<T> for &U {}
impl<T, U: Encodes<T>> Encodes<T> for Option<U> {}
impl<T, U: ?Sized + Encodes<T>> Encodes<T> for Box<U> {}

macro_rules! encodes {
    ($sql:ident: $($ty:ty),+) => {$(impl Encodes<sql::$sql> for $ty {})+};
}

encodes!(bool: bool);
encodes!(char: i8);
encodes!(int2: i16);
encodes!(int4: i32);
encodes!(int8: i64);
encodes!(float4: f32);
encodes!(float8: f64);
encodes!(oid: u32);
encodes!(text: str, String, Cow<'_, str>);
encodes!(bytea: [u8], Vec<u8>, Cow<'_, [u8]>);
encodes!(inet: std::net::IpAddr);
encodes!(timestamp: std::time::SystemTime);
encodes!(timestamptz: std::time::SystemTime);
#[cfg(feature = "json")]
encodes!(json: serde_json::Value);
#[cfg(feature = "json")]
impl<T> Encodes<sql::json> for postgres_types::Json<T> {}
#[cfg(feature = "uuid")]
encodes!(uuid: uuid::Uuid);
#[cfg(feature = "decimal")]
encodes!(numeric: rust_decimal::Decimal);
#[cfg(feature = "chrono")]
encodes!(timestamp: chrono::NaiveDateTime);
#[cfg(feature = "chrono")]
impl<Tz: chrono::TimeZone> Encodes<sql::timestamptz> for chrono::DateTime<Tz> {}
#[cfg(feature = "chrono")]
encodes!(date: chrono::NaiveDate);
#[cfg(feature = "chrono")]
encodes!(time: chrono::NaiveTime);
#[cfg(feature = "time")]
encodes!(timestamp: time::PrimitiveDateTime);
#[cfg(feature = "time")]
encodes!(timestamptz: time::OffsetDateTime);
#[cfg(feature = "time")]
encodes!(date: time::Date);
#[cfg(feature = "time")]
encodes!(time: time::Time);

// Arrays: a slice, vector or fixed array of anything that encodes the element type. (`u8`
// encodes nothing on its own, so `Vec<u8>` stays bytea and never matches an array.)
impl<T, U: Encodes<T>> Encodes<sql::array<T>> for [U] {}
impl<T, U: Encodes<T>> Encodes<sql::array<T>> for Vec<U> {}
impl<T, U: Encodes<T>, const N: usize> Encodes<sql::array<T>> for [U; N] {}

/// Passes `arg` through, requiring at compile time that it may be bound to SQL type `T`.
#[inline(always)]
pub fn check<T, A: ?Sized + Encodes<T>>(arg: &A) -> &A {
    arg
}

/// Passes `arg` through unchecked (parameters of types without a marker, such as composites
/// and ranges, and the `*_unchecked!` macros); the driver still checks `ToSql::accepts` when
/// binding.
#[inline(always)]
pub fn unchecked<A: ?Sized>(arg: &A) -> &A {
    arg
}
