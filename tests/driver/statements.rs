//! The per-connection statement cache is bounded and closes what it evicts.

use lifeguard::{Client, Config, Executor};

use crate::support;

fn prepared_on_server(c: &Client) -> i64 {
    c.query_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .unwrap()
        .get(0)
}

#[test]
fn cache_reuses_statements_and_evicts_with_close() {
    let mut cfg: Config = support::database_url().parse().unwrap();
    cfg.statement_cache_capacity(8);
    let c = Client::connect_with(&cfg).unwrap();
    for _ in 0..5 {
        c.query_one("SELECT 1::int4", &[]).unwrap();
    }
    assert_eq!(
        c.cached_statements(),
        1,
        "the same SQL text is prepared once"
    );
    // 100 distinct statements through a cache of 8.
    for i in 0..100i32 {
        let sql = format!("SELECT {i}::int4 + $1");
        let v: i32 = c.query_one(sql.as_str(), &[&1i32]).unwrap().get(0);
        assert_eq!(v, i + 1);
    }
    assert_eq!(c.cached_statements(), 8);
    // Evicted statements are closed on the server (closes ride along with the next request),
    // so the server holds about as many as the cache, not 100.
    let on_server = prepared_on_server(&c);
    assert!(
        (8..=10).contains(&on_server),
        "{on_server} statements prepared on the server"
    );
}

#[test]
fn explicit_statements_describe_params_and_columns() {
    let c = Client::connect(&support::database_url()).unwrap();
    let s = c
        .prepare("SELECT $1::int8 AS a, $2::text AS b, NULL::bool AS c")
        .unwrap();
    let params: Vec<_> = s.params().iter().map(|t| t.name().to_string()).collect();
    assert_eq!(params, ["int8", "text"]);
    let cols: Vec<_> = s
        .columns()
        .iter()
        .map(|c| (c.name().to_string(), c.type_().name().to_string()))
        .collect();
    assert_eq!(
        cols,
        [
            ("a".into(), "int8".into()),
            ("b".into(), "text".into()),
            ("c".to_string(), "bool".to_string())
        ]
    );
    let row = c.query_one(&s, &[&7i64, &"x"]).unwrap();
    assert_eq!(row.get::<_, i64>("a"), 7);
    // With a statement cache of 0, statements are not kept and are closed when dropped.
    let mut cfg: Config = support::database_url().parse().unwrap();
    cfg.statement_cache_capacity(0);
    let nc = Client::connect_with(&cfg).unwrap();
    for _ in 0..20 {
        nc.query_one("SELECT 1::int4", &[]).unwrap();
    }
    assert!(prepared_on_server(&nc) <= 2);
}
