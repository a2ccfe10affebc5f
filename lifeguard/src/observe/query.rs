//! One query's span and metrics, carried by its row stream until the server's answer ends.

#[cfg(feature = "metrics")]
use std::time::Instant;

/// Created when a query is sent; [`QueryObserver::finish`] records its outcome.
///
/// With no `tracing` subscriber interested the span is `Span::none()` (nothing allocated,
/// the SQL text not even looked at), and without the `metrics` feature nothing is timed.
pub(crate) struct QueryObserver {
    span: tracing::Span,
    #[cfg(feature = "metrics")]
    started: Option<Instant>,
}

impl QueryObserver {
    /// Observes a user's query: an OpenTelemetry-style span (`db.system.name`,
    /// `db.namespace`, `db.query.text`, `db.operation.name`) and the query metrics.
    #[inline]
    pub(crate) fn start(sql: Option<&str>, dbname: &str) -> QueryObserver {
        let span = tracing::debug_span!(
            "lifeguard.query",
            "db.system.name" = "postgresql",
            "db.namespace" = tracing::field::Empty,
            "db.query.text" = tracing::field::Empty,
            "db.operation.name" = tracing::field::Empty,
            // Declared up front: tracing ignores a record of a field the span lacks.
            error = tracing::field::Empty,
        );
        if !span.is_disabled() {
            span.record("db.namespace", dbname);
            if let Some(sql) = sql {
                span.record("db.query.text", sql);
                if let Some(op) = operation_name(sql) {
                    span.record("db.operation.name", op);
                }
            }
        }
        QueryObserver {
            span,
            #[cfg(feature = "metrics")]
            started: Some(Instant::now()),
        }
    }

    /// Observes nothing (the driver's own catalog lookups).
    pub(crate) fn none() -> QueryObserver {
        QueryObserver {
            span: tracing::Span::none(),
            #[cfg(feature = "metrics")]
            started: None,
        }
    }

    /// Records the outcome once; later calls do nothing.
    #[inline]
    pub(crate) fn finish(&mut self, ok: bool) {
        #[cfg(feature = "metrics")]
        if let Some(started) = self.started.take() {
            crate::observe::histogram!(
                "lifeguard_query_duration_seconds",
                started.elapsed().as_secs_f64()
            );
            if !ok {
                crate::observe::counter!("lifeguard_query_errors_total", 1);
            }
        }
        if !self.span.is_disabled() {
            if !ok {
                self.span.record("error", true);
            }
            self.span = tracing::Span::none();
        }
    }
}

/// The statement's first keyword, upper-cased (`SELECT`, `INSERT`, `WITH`…), for
/// `db.operation.name`; `None` when the text does not start with one.
fn operation_name(sql: &str) -> Option<String> {
    let word: String = skip_comments(sql)
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

fn skip_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(rest) = sql.strip_prefix("--") {
            sql = rest.split_once('\n').map_or("", |(_, r)| r);
        } else if let Some(rest) = sql.strip_prefix("/*") {
            sql = rest.split_once("*/").map_or("", |(_, r)| r);
        } else {
            return sql;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::operation_name;

    #[test]
    fn operation_names() {
        assert_eq!(operation_name("select 1").as_deref(), Some("SELECT"));
        assert_eq!(
            operation_name("-- c\n /* x */ insert into t values (1)").as_deref(),
            Some("INSERT")
        );
        assert_eq!(operation_name("(SELECT 1)"), None);
        assert_eq!(operation_name(""), None);
    }
}
