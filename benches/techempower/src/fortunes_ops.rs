//! `BENCH_OPS=N fortunes-ops lifeguard|tokio-postgres`: exactly `N` /fortunes database steps
//! (`SELECT id, message FROM fortune`, every row decoded into `(i32, String)`) from one
//! task on one connection, then exit. For instruction counts under
//! `valgrind --tool=callgrind`: the difference of two runs with different `N`, divided by
//! the difference of `N`, is the client's cost of one step without the set-up. No clock,
//! no HTTP: wrk's noise on 2 shared cores is not in this number.
//!
//! Env: DATABASE_URL (run.sh's scratch database), BENCH_OPS (default 1000).

fn main() {
    let driver = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "lifeguard".into());
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run.sh's scratch database)");
    let n: usize = std::env::var("BENCH_OPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let mut rows = 0;
    match driver.as_str() {
        "lifeguard" => {
            may::config().set_workers(1);
            let pool = lifeguard::Pool::builder(url)
                .max_size(1)
                .min_size(1)
                .build()
                .expect("lifeguard pool");
            rows = may::go!(move || {
                let mut rows = 0;
                for _ in 0..n {
                    let fortunes: Vec<(i32, String)> =
                        lifeguard::query!("SELECT id, message FROM fortune")
                            .fetch_all(&pool)
                            .expect("fortunes")
                            .into_iter()
                            .map(|f| (f.id, f.message))
                            .collect();
                    rows += fortunes.len();
                }
                rows
            })
            .join()
            .expect("the coroutine");
        }
        "tokio-postgres" => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async {
                let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                    .await
                    .expect("tokio-postgres connect");
                tokio::spawn(conn);
                let stmt = client
                    .prepare("SELECT id, message FROM fortune")
                    .await
                    .expect("prepare");
                for _ in 0..n {
                    let fortunes: Vec<(i32, String)> = client
                        .query(&stmt, &[])
                        .await
                        .expect("fortunes")
                        .into_iter()
                        .map(|r| (r.get(0), r.get(1)))
                        .collect();
                    rows += fortunes.len();
                }
            });
        }
        other => panic!("{other}: lifeguard or tokio-postgres"),
    }
    assert_eq!(rows, n * 12, "every step reads the 12 fortunes");
    println!("{driver}: {n} fortunes steps, {rows} rows");
}
