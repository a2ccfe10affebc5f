//! A may_minihttp service that serves `/metrics` in Prometheus' text format, with the pool's
//! and the queries' metrics (Lifeguard's `metrics` feature), and no tokio anywhere: the
//! Prometheus recorder is installed without its HTTP listener and rendered by the service.
//!
//! ```sh
//! eval "$(scripts/ensure-services.sh --print-env)"
//! cargo run --example observability                 # serves 127.0.0.1:8080 until stopped
//! curl localhost:8080/film/1; curl localhost:8080/metrics
//! cargo run --example observability -- --check      # serves, asks itself, prints, exits
//! ```

use std::io::{self, Read, Write};
use std::time::Duration;

use lifeguard::{Executor, Pool};
use may_minihttp::{HttpServer, HttpService, HttpServiceFactory, Request, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

#[derive(Clone)]
struct Service {
    pool: Pool,
    metrics: PrometheusHandle,
}

impl HttpService for Service {
    fn call(&mut self, req: Request, rsp: &mut Response) -> io::Result<()> {
        let path = req.path().to_string();
        if path == "/metrics" {
            rsp.header("Content-Type: text/plain; version=0.0.4");
            rsp.body_vec(self.metrics.render().into_bytes());
        } else if let Some(id) = path
            .strip_prefix("/film/")
            .and_then(|s| s.parse::<i32>().ok())
        {
            match self
                .pool
                .query_opt("SELECT title FROM film WHERE film_id = $1", &[&id])
            {
                Ok(Some(row)) => rsp.body_vec(row.get::<_, String>(0).into_bytes()),
                Ok(None) => {
                    rsp.status_code(404, "Not Found");
                }
                Err(e) => {
                    rsp.status_code(503, "Service Unavailable");
                    rsp.body_vec(e.to_string().into_bytes());
                }
            }
        } else {
            rsp.status_code(404, "Not Found");
        }
        Ok(())
    }
}

impl HttpServiceFactory for Service {
    type Service = Service;
    fn new_service(&self, _: usize) -> Service {
        self.clone()
    }
}

/// One HTTP/1.0 GET with std sockets (the `--check` mode's client); returns the body.
fn get(addr: &str, path: &str) -> io::Result<String> {
    let mut s = std::net::TcpStream::connect(addr)?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    // may_minihttp keeps the connection open: read until the declared length arrives.
    loop {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&out);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("Content-Length: "))
                .and_then(|v| v.trim().parse::<usize>().ok());
            if len.is_some_and(|len| body.len() >= len) {
                return Ok(body.to_string());
            }
        }
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Handlers run on may coroutines: give them room for a debug build's frames (in words).
    may::config().set_stack_size(0x8000);
    let metrics = PrometheusBuilder::new().install_recorder()?;
    // Histograms are kept as summaries; upkeep drains them now and then.
    let upkeep = metrics.clone();
    may::go!(move || loop {
        may::coroutine::sleep(Duration::from_secs(5));
        upkeep.run_upkeep();
    });

    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://lifeguard:lifeguard@127.0.0.1/lifeguard_test".into());
    let pool = Pool::builder(url).max_size(4).build()?;
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| "127.0.0.1:8080".into());
    let server = HttpServer(Service { pool, metrics }).start(&addr)?;
    println!("serving http://{addr}/film/<id> and http://{addr}/metrics");

    if std::env::args().any(|a| a == "--check") {
        for id in 1..=20 {
            get(&addr, &format!("/film/{id}"))?;
        }
        let text = get(&addr, "/metrics")?;
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("lifeguard_"))
            .collect();
        for line in &lines {
            println!("{line}");
        }
        if !lines
            .iter()
            .any(|l| l.starts_with("lifeguard_query_duration_seconds"))
        {
            return Err("no lifeguard_query_duration_seconds in /metrics".into());
        }
        return Ok(());
    }
    server.join().map_err(|_| "the server coroutine panicked")?;
    Ok(())
}
