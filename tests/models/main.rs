//! `#[derive(lifeguard::Model)]` against pagila: reads by key and by filter on film, actor
//! and customer (enum, array and nullable columns), and every write on a scratch table
//! inside a transaction that is rolled back.

#[path = "../support/mod.rs"]
#[allow(dead_code)]
mod support;

mod options;
mod paging;
mod reads;
mod relations;
mod writes;

/// pagila's `mpaa_rating`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, lifeguard::PgEnum)]
#[lifeguard(type_name = "mpaa_rating")]
pub enum Rating {
    G,
    #[lifeguard(rename = "PG")]
    Pg,
    #[lifeguard(rename = "PG-13")]
    Pg13,
    R,
    #[lifeguard(rename = "NC-17")]
    Nc17,
}

/// A pool on the test database.
pub fn pool() -> lifeguard::Pool {
    lifeguard::Pool::builder(support::database_url().as_str())
        .max_size(2)
        .build()
        .expect("pool")
}

/// Runs `f` and returns what it returned with the text of every statement the driver sent
/// on this thread meanwhile. The driver opens one `lifeguard.query` span per statement it
/// sends (its own catalog lookups open none); a process-wide subscriber appends each to the
/// list of the thread that sent it, so tests running in parallel do not interfere.
pub fn statements<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        tracing::subscriber::set_global_default(StatementCounter::default())
            .expect("no other subscriber in this test binary");
    });
    SENT.with(|s| *s.borrow_mut() = Some(Vec::new()));
    let out = f();
    let sent = SENT.with(|s| s.borrow_mut().take()).unwrap_or_default();
    (out, sent)
}

thread_local! {
    /// The statements sent on this thread while [`statements`] runs.
    static SENT: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

/// The subscriber behind [`statements`].
#[derive(Default)]
struct StatementCounter {
    next_id: std::sync::atomic::AtomicU64,
}

/// Takes `db.query.text` out of a span's recorded values.
struct QueryText(Option<String>);

impl tracing::field::Visit for QueryText {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "db.query.text" {
            self.0 = Some(value.to_owned());
        }
    }
    fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
}

impl tracing::Subscriber for StatementCounter {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.name() == "lifeguard.query"
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        // One statement sent; the driver records its text right after, into this entry.
        let mut text = QueryText(None);
        span.record(&mut text);
        SENT.with(|s| {
            if let Some(sent) = s.borrow_mut().as_mut() {
                sent.push(text.0.unwrap_or_default());
            }
        });
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::span::Id::from_u64(id + 1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        let mut text = QueryText(None);
        values.record(&mut text);
        if let Some(text) = text.0 {
            SENT.with(|s| {
                if let Some(last) = s.borrow_mut().as_mut().and_then(|v| v.last_mut()) {
                    *last = text;
                }
            });
        }
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}
