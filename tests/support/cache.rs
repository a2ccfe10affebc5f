//! What the cache and reflector tests share: the cached film model, its run-time table, a
//! key namespace per test, and a `redis-server` of the test's own.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// pagila's film, the columns a cached read needs (checked at build time against the test
/// database, where pagila is loaded).
#[derive(Debug, Clone, PartialEq, lifeguard::Model)]
#[lifeguard(table = "film", cache(ttl = "60s"))]
pub struct Film {
    #[lifeguard(primary_key, default)]
    pub film_id: i32,
    pub title: String,
    pub description: Option<String>,
    pub language_id: i32,
    #[lifeguard(default)]
    pub rental_rate: rust_decimal::Decimal,
    pub length: Option<i16>,
    #[lifeguard(default)]
    pub last_update: chrono::DateTime<chrono::Utc>,
}

/// The run-time table: the columns the model maps.
pub const FILM_TABLE: &str = "
CREATE TABLE film (
    film_id serial PRIMARY KEY,
    title text NOT NULL,
    description text,
    language_id integer NOT NULL,
    rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
    length smallint,
    last_update timestamptz NOT NULL DEFAULT now()
);";

/// Its 1,000 rows.
pub const FILM_ROWS: &str = "
INSERT INTO film (title, description, language_id, length)
SELECT 'Film ' || g, CASE WHEN g % 3 = 0 THEN NULL ELSE 'About film ' || g END,
       1 + g % 6, (60 + g % 120)::smallint
FROM generate_series(1, 1000) AS g;";

/// Gives coroutines 64 KiB stacks (may's default is 32 KiB). In a debug build a
/// `find_by_id` through the cache peaked at 2,868 words (22.4 KiB; 2,436 without the cache),
/// measured with may's odd-stack-size report, and a 256-reader storm overflowed a default
/// stack once. Idempotent; every test calls it before spawning coroutines.
pub fn coroutine_stacks() {
    may::config().set_stack_size(0x2000);
}

/// The shared Redis (`scripts/test.sh` exports `REDIS_URL`).
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// A key namespace no other test (or earlier run) uses.
pub fn namespace(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("lgtest-{test}-{}-{nanos}", std::process::id())
}

/// A free loopback port (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `redis-server` of the test's own, killed (by its pid) when dropped.
pub struct OwnRedis {
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one on a free port.
    pub fn start() -> (OwnRedis, u16) {
        let port = free_port();
        (OwnRedis::start_on(port), port)
    }

    /// Starts one on `port` (again, after [`OwnRedis::kill`]).
    pub fn start_on(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (scripts/ensure-services.sh installs it)");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server on {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        OwnRedis { child: Some(child) }
    }

    /// SIGKILLs it, by its pid.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}
