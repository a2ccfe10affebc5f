//! What both services share: query-string parsing, random ids, JSON and HTML rendering.

use std::fmt::Write;

/// Rows in `world`.
pub const WORLD_ROWS: u32 = 10_000;

/// `q` from a `?q=N` query string, clamped to 1..=500 (missing or garbage: 1).
pub fn count(path_and_query: &str) -> usize {
    path_and_query
        .split_once("q=")
        .and_then(|(_, v)| v.split('&').next())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1)
        .clamp(1, 500)
}

/// A small xorshift generator: one per service instance, no shared state.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// 1..=10000.
    pub fn id(&mut self) -> i32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % u64::from(WORLD_ROWS)) as i32 + 1
    }
}

/// `{"id":1,"randomNumber":2}`.
pub fn world_json(out: &mut String, id: i32, number: i32) {
    let _ = write!(out, "{{\"id\":{id},\"randomNumber\":{number}}}");
}

/// A JSON array of worlds.
pub fn worlds_json(worlds: &[(i32, i32)]) -> String {
    let mut out = String::with_capacity(worlds.len() * 32 + 2);
    out.push('[');
    for (i, (id, n)) in worlds.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        world_json(&mut out, *id, *n);
    }
    out.push(']');
    out
}

/// The fortunes page: the rows plus one added at request time, sorted by message, escaped.
pub fn fortunes_html(mut rows: Vec<(i32, String)>) -> String {
    rows.push((0, "Additional fortune added at request time.".to_string()));
    rows.sort_by(|a, b| a.1.cmp(&b.1));
    let mut out = String::with_capacity(1200);
    out.push_str(
        "<!DOCTYPE html><html><head><title>Fortunes</title></head><body><table><tr><th>id</th><th>message</th></tr>",
    );
    for (id, message) in &rows {
        let _ = write!(out, "<tr><td>{id}</td><td>");
        escape(&mut out, message);
        out.push_str("</td></tr>");
    }
    out.push_str("</table></body></html>");
    out
}

fn escape(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            c => out.push(c),
        }
    }
}

/// The ids and new numbers of an update batch, sorted by id so concurrent batches take
/// their row locks in the same order (no deadlocks).
pub fn update_batch(worlds: &mut [(i32, i32)], rng: &mut Rng) -> (Vec<i32>, Vec<i32>) {
    for w in worlds.iter_mut() {
        w.1 = rng.id();
    }
    let mut sorted = worlds.to_vec();
    sorted.sort_unstable_by_key(|w| w.0);
    sorted.into_iter().unzip()
}

/// Connections and listen address from the environment (run.sh sets them).
pub fn settings(default_port: u16) -> (String, usize, String) {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL (run.sh sets it)");
    let conns = std::env::var("BENCH_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2);
    let addr = std::env::var("LISTEN").unwrap_or_else(|_| format!("127.0.0.1:{default_port}"));
    (url, conns, addr)
}
