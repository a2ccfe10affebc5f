//! Every supported type round-trips through a real server: values, NULL, empty and extreme
//! values, arrays with NULLs, non-ASCII text, enums and domains.

use std::fmt::Debug;

use lifeguard::Executor;
use postgres_types::{FromSql, ToSql};

use crate::client;

/// Sends `value` as a parameter cast to `ty`, reads it back, and compares.
fn roundtrip<T>(client: &lifeguard::Client, ty: &str, values: &[T])
where
    T: ToSql + Sync + for<'a> FromSql<'a> + PartialEq + Debug,
{
    let sql = format!("SELECT $1::{ty}");
    for v in values {
        let row = client.query_one(sql.as_str(), &[v]).unwrap();
        let back: T = row.get(0);
        assert_eq!(&back, v, "{ty} round-trip");
    }
}

#[test]
fn scalars_round_trip_with_extremes_and_null() {
    let c = client();
    roundtrip(&c, "bool", &[true, false]);
    roundtrip(&c, "int2", &[0i16, i16::MIN, i16::MAX, -1]);
    roundtrip(&c, "int4", &[0i32, i32::MIN, i32::MAX, 7]);
    roundtrip(&c, "int8", &[0i64, i64::MIN, i64::MAX]);
    roundtrip(
        &c,
        "float4",
        &[0.0f32, f32::MIN, f32::MAX, f32::INFINITY, 1.5e-38],
    );
    roundtrip(
        &c,
        "float8",
        &[0.0f64, f64::MIN_POSITIVE, f64::MAX, f64::NEG_INFINITY],
    );
    let texts = [
        String::new(),
        "plain".to_string(),
        "Grüße, 世界, ½ — émoji 🦀".to_string(),
        "x".repeat(100_000),
    ];
    roundtrip(&c, "text", &texts);
    roundtrip(&c, "varchar", &texts);
    roundtrip(&c, "name", &["pg_class".to_string()]);
    roundtrip(
        &c,
        "bytea",
        &[Vec::<u8>::new(), vec![0u8, 255, 1, 0], vec![7u8; 70_000]],
    );
    roundtrip(&c, "\"char\"", &[b'x' as i8]);
    roundtrip(&c, "oid", &[0u32, u32::MAX]);
    // NULL in both directions, for several types.
    roundtrip(&c, "int4", &[None::<i32>, Some(5)]);
    roundtrip(&c, "text", &[None::<String>, Some("é".to_string())]);
    roundtrip(&c, "bool", &[None::<bool>]);
    roundtrip(&c, "float8", &[None::<f64>]);
    // NaN is not equal to itself: check it separately.
    let nan: f64 = c.query_one("SELECT 'NaN'::float8", &[]).unwrap().get(0);
    assert!(nan.is_nan());
}

#[test]
fn arrays_with_nulls_round_trip() {
    let c = client();
    roundtrip(&c, "int4[]", &[vec![], vec![1i32, -2, i32::MAX]]);
    roundtrip(&c, "int8[]", &[vec![Some(1i64), None, Some(i64::MIN)]]);
    roundtrip(
        &c,
        "text[]",
        &[vec![Some("ä".to_string()), None, Some(String::new())]],
    );
    roundtrip(&c, "bool[]", &[vec![true, false]]);
    roundtrip(&c, "float8[]", &[vec![1.5f64, -0.0]]);
    roundtrip(&c, "bytea[]", &[vec![vec![1u8, 2], vec![]]]);
    roundtrip(&c, "int4[]", &[None::<Vec<i32>>]);
    // A two-dimensional array reads back through the array type's own decoding.
    let n: i32 = c
        .query_one("SELECT cardinality($1::int4[])", &[&vec![1i32, 2, 3]])
        .unwrap()
        .get(0);
    assert_eq!(n, 3);
}

#[test]
fn json_uuid_and_numeric_round_trip() {
    let c = client();
    let doc = serde_json::json!({"a": [1, 2, {"b": null}], "ü": "ß", "n": 1.5});
    roundtrip(&c, "jsonb", std::slice::from_ref(&doc));
    roundtrip(
        &c,
        "json",
        &[doc, serde_json::json!(null), serde_json::json!([])],
    );
    roundtrip(
        &c,
        "uuid",
        &[
            uuid::Uuid::nil(),
            uuid::Uuid::from_u128(u128::MAX),
            uuid::Uuid::from_u128(0x1234),
        ],
    );
    use rust_decimal::Decimal;
    use std::str::FromStr;
    roundtrip(
        &c,
        "numeric",
        &[
            Decimal::ZERO,
            Decimal::from_str("-12345678901234567890.123456789").unwrap(),
            Decimal::MAX,
            Decimal::from_str("0.0000000001").unwrap(),
        ],
    );
}

#[test]
fn chrono_and_time_round_trip() {
    let c = client();
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    let ts = NaiveDate::from_ymd_opt(2024, 2, 29)
        .unwrap()
        .and_hms_micro_opt(23, 59, 59, 999_999)
        .unwrap();
    roundtrip(
        &c,
        "timestamp",
        &[
            ts,
            NaiveDateTime::default(),
            NaiveDate::from_ymd_opt(1, 1, 1)
                .unwrap()
                .and_hms_opt(0, 0, 0)
                .unwrap(),
        ],
    );
    roundtrip(
        &c,
        "timestamptz",
        &[DateTime::<Utc>::from_naive_utc_and_offset(ts, Utc)],
    );
    roundtrip(
        &c,
        "date",
        &[
            NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
            NaiveDate::from_ymd_opt(9999, 1, 1).unwrap(),
        ],
    );
    roundtrip(
        &c,
        "time",
        &[
            NaiveTime::from_hms_micro_opt(0, 0, 0, 0).unwrap(),
            NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap(),
        ],
    );
    // The `time` crate, too.
    let t = time::macros::datetime!(2020-01-02 03:04:05.678901);
    roundtrip(&c, "timestamp", &[t]);
    roundtrip(&c, "timestamptz", &[t.assume_utc()]);
    roundtrip(&c, "date", &[time::macros::date!(2000 - 02 - 29)]);
    roundtrip(&c, "time", &[time::macros::time!(12:34:56.000001)]);
}

#[derive(Debug, PartialEq, ToSql, FromSql)]
#[postgres(name = "lg_mood")]
enum Mood {
    #[postgres(name = "sad")]
    Sad,
    #[postgres(name = "ok")]
    Ok,
    #[postgres(name = "très bien")]
    TresBien,
}

#[test]
fn enums_and_domains_round_trip() {
    let c = client();
    // Types are shared by all tests in this database; create them idempotently.
    c.batch_execute(
        "DO $$ BEGIN
            CREATE TYPE lg_mood AS ENUM ('sad', 'ok', 'très bien');
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN
            CREATE DOMAIN lg_positive AS int4 CHECK (VALUE > 0);
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;
         DO $$ BEGIN
            CREATE DOMAIN lg_email AS text CHECK (VALUE LIKE '%@%');
         EXCEPTION WHEN duplicate_object THEN NULL; END $$;",
    )
    .unwrap();
    roundtrip(&c, "lg_mood", &[Mood::Sad, Mood::Ok, Mood::TresBien]);
    roundtrip(&c, "lg_mood[]", &[vec![Some(Mood::Ok), None]]);
    roundtrip(&c, "lg_mood", &[None::<Mood>]);
    // Domains read and write as their base type.
    roundtrip(&c, "lg_positive", &[1i32, i32::MAX]);
    roundtrip(&c, "lg_email", &["a@b".to_string()]);
    // Arrays of domains: elements as the base type, the header naming the domain.
    roundtrip(&c, "lg_positive[]", &[vec![Some(1i32), None, Some(7)]]);
    roundtrip(&c, "lg_email[]", &[vec!["a@b".to_string()]]);
    let err = c
        .query_one("SELECT $1::lg_positive[]", &[&vec![-1i32]])
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("23514"), "{err}");
    // And the domain's constraint is enforced on the server.
    let err = c
        .query_one("SELECT $1::lg_positive", &[&-1i32])
        .unwrap_err();
    assert_eq!(err.code().map(|s| s.code()), Some("23514"), "{err}");
    // A column of a domain type, with the parameter type inferred as the domain.
    let t = crate::TempTable::create(&c, "dom", "id lg_positive, mood lg_mood");
    c.execute(
        format!("INSERT INTO {} VALUES ($1, $2)", t.name).as_str(),
        &[&5i32, &Mood::TresBien],
    )
    .unwrap();
    let row = c
        .query_one(
            format!("SELECT id, mood FROM {} WHERE id = $1", t.name).as_str(),
            &[&5i32],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>("id"), 5);
    assert_eq!(row.get::<_, Mood>("mood"), Mood::TresBien);
}

#[test]
fn wrong_rust_type_is_an_error_not_garbage() {
    let c = client();
    let row = c
        .query_one("SELECT 1::int4 AS n, NULL::text AS t", &[])
        .unwrap();
    let err = row.try_get::<_, i64>("n").unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::FromSql, "{err}");
    assert!(err.to_string().contains("`n`"), "{err}");
    // NULL into a non-Option type is an error, not a default value.
    let err = row.try_get::<_, String>("t").unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::FromSql, "{err}");
    assert_eq!(row.try_get::<_, Option<String>>("t").unwrap(), None);
    let err = row.try_get::<_, i32>("missing").unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::ColumnNotFound);
    // A parameter of the wrong Rust type is refused before anything is sent.
    let err = c.query_one("SELECT $1::int4", &[&"text"]).unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::ToSql, "{err}");
    assert!(err.to_string().contains("$1"), "{err}");
    let err = c.query_one("SELECT $1::int4", &[]).unwrap_err();
    assert_eq!(err.kind(), lifeguard::ErrorKind::ParameterCount, "{err}");
    // The connection is still fine.
    assert_eq!(
        c.query_one("SELECT 2::int4", &[]).unwrap().get::<_, i32>(0),
        2
    );
}
