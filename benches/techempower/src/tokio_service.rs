//! The same four endpoints on a tokio stack: hyper (HTTP/1) and tokio-postgres, with one
//! client per database connection, statements prepared up front, and the multi-query
//! endpoints pipelined the way TechEmpower's fastest tokio entries do it (all queries'
//! futures joined, so each client writes them before any answer is read).
//!
//! Env: DATABASE_URL, BENCH_CONNS (default 2), LISTEN (default 127.0.0.1:8082).

mod common;

use std::cell::Cell;
use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use common::Rng;
use futures_util::future::try_join_all;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio_postgres::{Client, NoTls, Statement};

struct Db {
    client: Client,
    world: Statement,
    fortune: Statement,
    update: Statement,
}

thread_local! {
    static RNG: Cell<u64> = const { Cell::new(0) };
}

/// A random id from this worker thread's generator.
fn random_id() -> i32 {
    RNG.with(|state| {
        let mut rng = Rng::new(state.get());
        let id = rng.id();
        state.set(state.get().wrapping_add(id as u64 + 1));
        id
    })
}

async fn worlds(db: &Db, n: usize) -> Result<Vec<(i32, i32)>, tokio_postgres::Error> {
    let queries = (0..n).map(|_| {
        let id = random_id();
        async move {
            let row = db.client.query_one(&db.world, &[&id]).await?;
            Ok::<_, tokio_postgres::Error>((row.get(0), row.get(1)))
        }
    });
    try_join_all(queries).await
}

async fn route(
    db: &Db,
    path: &str,
) -> Result<Option<(&'static str, String)>, tokio_postgres::Error> {
    const JSON: &str = "application/json";
    let reply = if path == "/db" {
        let id = random_id();
        let row = db.client.query_one(&db.world, &[&id]).await?;
        let mut out = String::new();
        common::world_json(&mut out, row.get(0), row.get(1));
        (JSON, out)
    } else if path.starts_with("/queries") {
        (
            JSON,
            common::worlds_json(&worlds(db, common::count(path)).await?),
        )
    } else if path == "/fortunes" {
        let rows = db
            .client
            .query(&db.fortune, &[])
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        ("text/html; charset=utf-8", common::fortunes_html(rows))
    } else if path.starts_with("/updates") {
        let mut ws = worlds(db, common::count(path)).await?;
        let seed = random_id() as u64;
        let (ids, numbers) = common::update_batch(&mut ws, &mut Rng::new(seed));
        db.client.execute(&db.update, &[&ids, &numbers]).await?;
        (JSON, common::worlds_json(&ws))
    } else {
        return Ok(None);
    };
    Ok(Some(reply))
}

async fn handle(db: &Db, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let (status, content_type, body) = match route(db, &path).await {
        Ok(Some((ct, body))) => (200, ct, body),
        Ok(None) => (404, "text/plain", String::new()),
        Err(e) => (500, "text/plain", e.to_string()),
    };
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

async fn connect(url: &str) -> Result<Db, tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    let world = client
        .prepare("SELECT id, randomnumber FROM world WHERE id = $1")
        .await?;
    let fortune = client.prepare("SELECT id, message FROM fortune").await?;
    let update = client
        .prepare(
            "UPDATE world SET randomnumber = v.r
             FROM unnest($1::int4[], $2::int4[]) AS v(id, r)
             WHERE world.id = v.id",
        )
        .await?;
    Ok(Db {
        client,
        world,
        fortune,
        update,
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (url, conns, addr) = common::settings(8082);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(url, conns, addr))
}

async fn serve(url: String, conns: usize, addr: String) -> Result<(), Box<dyn std::error::Error>> {
    {
        let mut dbs = Vec::new();
        for _ in 0..conns {
            dbs.push(Arc::new(connect(&url).await?));
        }
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        println!("tokio-service on http://{addr} ({conns} connections)");
        let mut next = 0usize;
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            // Each HTTP connection keeps one database client, round-robin.
            let db = dbs[next % dbs.len()].clone();
            next += 1;
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let db = db.clone();
                    async move { Ok::<_, Infallible>(handle(&db, req).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    }
}
