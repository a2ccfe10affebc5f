//! The four TechEmpower database endpoints on Lifeguard and may_minihttp, with the checked
//! macros (every statement here is static), `send` for the multi-query endpoints, and one
//! `UPDATE … FROM unnest(…)` per update batch. `/updates-case?q=N` is the same batch as the
//! classic `CASE id WHEN …` statement (dynamic text, one statement per N), for comparison.
//!
//! Env: DATABASE_URL, BENCH_CONNS (default 2), BENCH_PICK=least-loaded (the pool's pick
//! without worker affinity; the default is the pool's default, worker-affine),
//! LISTEN (default 127.0.0.1:8081).

mod common;

use std::fmt::Write as _;
use std::io;

use common::Rng;
use lifeguard::{query, Executor, Pool, ToSql};
use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

struct Service {
    pool: Pool,
    rng: Rng,
}

type Reply = (&'static str, String);

impl Service {
    fn world(&self, id: i32) -> lifeguard::Result<(i32, i32)> {
        let w =
            query!("SELECT id, randomnumber FROM world WHERE id = $1", id).fetch_one(&self.pool)?;
        Ok((w.id, w.randomnumber))
    }

    /// `n` random worlds, every query written before any answer is read.
    fn worlds(&mut self, n: usize) -> lifeguard::Result<Vec<(i32, i32)>> {
        let pending = (0..n)
            .map(|_| {
                let id = self.rng.id();
                query!("SELECT id, randomnumber FROM world WHERE id = $1", id).send(&self.pool)
            })
            .collect::<lifeguard::Result<Vec<_>>>()?;
        pending
            .into_iter()
            .map(|p| p.one().map(|w| (w.id, w.randomnumber)))
            .collect()
    }

    fn route(&mut self, path: &str) -> lifeguard::Result<Option<Reply>> {
        const JSON: &str = "Content-Type: application/json";
        let reply = if path == "/db" {
            let id = self.rng.id();
            let (id, n) = self.world(id)?;
            let mut out = String::new();
            common::world_json(&mut out, id, n);
            (JSON, out)
        } else if path.starts_with("/queries") {
            let worlds = self.worlds(common::count(path))?;
            (JSON, common::worlds_json(&worlds))
        } else if path == "/fortunes" {
            let rows = query!("SELECT id, message FROM fortune")
                .fetch_all(&self.pool)?
                .into_iter()
                .map(|f| (f.id, f.message))
                .collect();
            (
                "Content-Type: text/html; charset=utf-8",
                common::fortunes_html(rows),
            )
        } else if path.starts_with("/updates-case") {
            let mut worlds = self.worlds(common::count(path))?;
            let (ids, numbers) = common::update_batch(&mut worlds, &mut self.rng);
            self.update_case(&ids, &numbers)?;
            (JSON, common::worlds_json(&worlds))
        } else if path.starts_with("/updates") {
            let mut worlds = self.worlds(common::count(path))?;
            let (ids, numbers) = common::update_batch(&mut worlds, &mut self.rng);
            query!(
                "UPDATE world SET randomnumber = v.r
                 FROM unnest($1::int4[], $2::int4[]) AS v(id, r)
                 WHERE world.id = v.id",
                &ids,
                &numbers
            )
            .execute(&self.pool)?;
            (JSON, common::worlds_json(&worlds))
        } else {
            return Ok(None);
        };
        Ok(Some(reply))
    }

    /// The `CASE` form: `UPDATE world SET randomnumber = CASE id WHEN $1 THEN $2 … END
    /// WHERE id IN (…)`, a different text for each batch size (500 statements at most).
    fn update_case(&self, ids: &[i32], numbers: &[i32]) -> lifeguard::Result<u64> {
        let n = ids.len();
        let mut sql = String::from("UPDATE world SET randomnumber = CASE id");
        for i in 0..n {
            let _ = write!(sql, " WHEN ${} THEN ${}", 2 * i + 1, 2 * i + 2);
        }
        sql.push_str(" ELSE randomnumber END WHERE id IN (");
        for i in 0..n {
            let _ = write!(sql, "{}${}", if i > 0 { "," } else { "" }, 2 * n + i + 1);
        }
        sql.push(')');
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(3 * n);
        for (id, number) in ids.iter().zip(numbers) {
            params.push(id);
            params.push(number);
        }
        params.extend(ids.iter().map(|id| id as &(dyn ToSql + Sync)));
        self.pool.execute(sql.as_str(), &params)
    }
}

impl HttpService for Service {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        let path = req.path().to_string();
        match self.route(&path) {
            Ok(Some((content_type, body))) => {
                rsp.header(content_type);
                rsp.body_vec(body.into_bytes());
            }
            Ok(None) => {
                rsp.status_code(404, "Not Found");
            }
            Err(e) => {
                rsp.status_code(500, "Internal Server Error");
                rsp.body_vec(e.to_string().into_bytes());
            }
        }
        Ok(())
    }
}

struct Factory {
    pool: Pool,
}

impl HttpServiceFactory for Factory {
    type Service = Service;
    fn new_service(&self, id: usize) -> Service {
        Service {
            pool: self.pool.clone(),
            rng: Rng::new(id as u64 + 1),
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    may::config().set_workers(2).set_stack_size(0x4000);
    let (url, conns, addr) = common::settings(8081);
    let mut builder = Pool::builder(url).max_size(conns).min_size(conns);
    let least_loaded = std::env::var("BENCH_PICK").is_ok_and(|v| v == "least-loaded");
    if least_loaded {
        builder = builder.worker_affine(false);
    }
    let pool = builder.build()?;
    let server = Factory { pool }.start(&addr)?;
    let pick = if least_loaded {
        "least-loaded"
    } else {
        "default"
    };
    println!("lifeguard-service on http://{addr} ({conns} connections, {pick} pick)");
    server.join().map_err(|_| "the server stopped")?;
    Ok(())
}
