//! The extended-protocol request/response cycle: prepare, bind+execute, and reading results.

use std::sync::Arc;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::{CommandCompleteBody, Message};
use postgres_protocol::message::frontend;
use postgres_types::{IsNull, ToSql, Type};

use crate::driver::conn::{Conn, Frame, Responses, Token};
use crate::driver::row::{base_type, domain_array_element, Row};
use crate::driver::share;
use crate::driver::slot::slot;
use crate::driver::statement::{Column, Statement};
use crate::driver::types::resolve_type;
use crate::error::{DbError, Error, ErrorKind, Result};
use crate::observe::query::QueryObserver;

/// Parameters as the query methods take them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |e| Error::io(what, e)
}

/// Turns a server error into an `Error`, remembering connection-fatal ones.
pub(crate) fn server_error(conn: &Conn, db: DbError) -> Error {
    if db.code().is_connection_fatal() {
        conn.mark_broken();
    }
    Error::db(db)
}

fn parse_db(conn: &Conn, body: &postgres_protocol::message::backend::ErrorResponseBody) -> Error {
    match DbError::parse(body) {
        Ok(db) => server_error(conn, db),
        Err(e) => Error::io("parsing an error response", e),
    }
}

/// Reads messages up to `ReadyForQuery` after an error, so the error is reported only once the
/// request is complete (its later messages would otherwise be attributed to nobody).
fn drain(resp: &mut Responses) -> Result<()> {
    loop {
        if let Message::ReadyForQuery(_) = resp.next()? {
            return Ok(());
        }
    }
}

/// Prepares `sql` under a fresh name and resolves its parameter and column types.
pub(crate) fn prepare(conn: &Arc<Conn>, token: Option<Token>, sql: &str) -> Result<Statement> {
    let name = format!("lg{}", conn.next_id());
    let (responder, rx) = Responses::channel();
    let seq = conn.send(token, true, Some(responder), |buf| {
        frontend::parse(&name, sql, std::iter::empty(), buf).map_err(io("encoding Parse"))?;
        frontend::describe(b'S', &name, buf).map_err(io("encoding Describe"))?;
        frontend::sync(buf);
        Ok(())
    })?;
    let mut resp = Responses::new(rx, conn.clone(), seq);
    let mut param_oids = Vec::new();
    let mut fields = Vec::new();
    loop {
        match resp.next()? {
            Message::ParseComplete | Message::CloseComplete | Message::NoData => {}
            Message::ParameterDescription(body) => {
                param_oids = body
                    .parameters()
                    .collect()
                    .map_err(io("parsing ParameterDescription"))?;
            }
            Message::RowDescription(body) => {
                let mut it = body.fields();
                while let Some(f) = it.next().map_err(io("parsing RowDescription"))? {
                    fields.push((
                        f.name().to_string(),
                        f.type_oid(),
                        f.table_oid(),
                        f.column_id(),
                    ));
                }
            }
            Message::ErrorResponse(body) => {
                let err = parse_db(conn, &body);
                drain(&mut resp)?;
                return Err(err);
            }
            Message::ReadyForQuery(_) => break,
            _ => return Err(Error::protocol("unexpected message while preparing")),
        }
    }
    // The statement exists on the server from here on: wrap it first so an error while
    // resolving types still closes it.
    let sharing = share::by_text(sql);
    let stmt = Statement::new(conn, name, Vec::new(), Vec::new(), sharing);
    let mut params = Vec::with_capacity(param_oids.len());
    for oid in param_oids {
        params.push(resolve_type(conn, token, oid)?);
    }
    let mut columns = Vec::with_capacity(fields.len());
    for (name, oid, table_oid, column_id) in fields {
        let type_ = resolve_type(conn, token, oid)?;
        columns.push(Column::new(name, type_, table_oid, column_id));
    }
    Ok(stmt.with_types(params, columns))
}

/// Queues Bind/Execute/Sync for `stmt` and returns the pending responses. A statement that
/// only reads built-ins ([`share::decided`]), outside a transaction, shares its
/// `Sync` with the shared statements queued around it, unless `share_sync` is off.
pub(crate) fn start(
    conn: &Arc<Conn>,
    token: Option<Token>,
    stmt: &Statement,
    params: Params<'_>,
) -> Result<Responses> {
    if !stmt.belongs_to(conn) {
        return Err(Error::usage(
            "this statement was prepared on another connection; with a pool, pass the SQL text",
        ));
    }
    if params.len() != stmt.params().len() {
        return Err(Error::new(
            ErrorKind::ParameterCount,
            format!(
                "the statement expects {} parameters but {} were given",
                stmt.params().len(),
                params.len()
            ),
            None,
        ));
    }
    if token.is_none() && conn.config.share_sync && share::decided(conn, stmt) {
        let (tx, rx) = slot();
        let seq = conn.send_shared(tx, &rx, |buf| encode_bind_execute(stmt, params, buf, false))?;
        return Ok(Responses::new(rx, conn.clone(), seq).shared());
    }
    let (responder, rx) = Responses::channel();
    let seq = conn.send(token, true, Some(responder), |buf| {
        encode_bind_execute(stmt, params, buf, true)
    })?;
    Ok(Responses::new(rx, conn.clone(), seq))
}

/// Bind and Execute for `stmt`, then `Sync` unless the statement shares one.
fn encode_bind_execute(
    stmt: &Statement,
    params: Params<'_>,
    buf: &mut BytesMut,
    sync: bool,
) -> Result<()> {
    let mut failed: Option<(usize, Type)> = None;
    let res = frontend::bind(
        "",
        stmt.name(),
        Some(1),
        params.iter().zip(stmt.params()).enumerate(),
        |(i, (value, declared)), buf| {
            let ty = base_type(declared);
            let start = buf.len();
            match value.to_sql_checked(&ty, buf) {
                Ok(IsNull::No) => {
                    // The array header (ndim, flags, element OID) must name the domain.
                    if let Some(oid) = domain_array_element(declared) {
                        if let Some(slot) = buf.get_mut(start + 8..start + 12) {
                            slot.copy_from_slice(&oid.to_be_bytes());
                        }
                    }
                    Ok(postgres_protocol::IsNull::No)
                }
                Ok(IsNull::Yes) => Ok(postgres_protocol::IsNull::Yes),
                Err(e) => {
                    failed = Some((i, ty.into_owned()));
                    Err(e)
                }
            }
        },
        Some(1),
        buf,
    );
    match res {
        Ok(()) => {}
        Err(frontend::BindError::Conversion(e)) => {
            let (i, ty) = failed.unwrap_or((0, Type::UNKNOWN));
            return Err(Error::new(
                ErrorKind::ToSql,
                format!("parameter ${} (type {ty})", i + 1),
                Some(e),
            ));
        }
        Err(frontend::BindError::Serialization(e)) => return Err(Error::io("encoding Bind", e)),
    }
    frontend::execute("", 0, buf).map_err(io("encoding Execute"))?;
    if sync {
        frontend::sync(buf);
    }
    Ok(())
}

/// Rows affected, from a command tag like `INSERT 0 5` or `UPDATE 3`.
pub(crate) fn rows_affected(body: &CommandCompleteBody) -> u64 {
    body.tag()
        .ok()
        .and_then(|tag| tag.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Row-by-row results. Dropping it early is fine: the rest of the response is discarded
/// by the connection without disturbing other callers.
pub struct RowStream {
    resp: Responses,
    observer: QueryObserver,
    statement: Statement,
    error: Option<Error>,
    done: bool,
    affected: Option<u64>,
}

impl RowStream {
    pub(crate) fn new(resp: Responses, statement: Statement, observer: QueryObserver) -> RowStream {
        RowStream {
            resp,
            observer,
            statement,
            error: None,
            done: false,
            affected: None,
        }
    }

    /// Rows affected, known once the stream is exhausted.
    pub fn rows_affected(&self) -> Option<u64> {
        self.affected
    }

    /// The result columns.
    pub fn columns(&self) -> &[Column] {
        self.statement.columns()
    }

    /// The one row the statement must return: a [`RowCount`](ErrorKind::RowCount) error
    /// for none or several. Reads to the end, so a later error is not hidden.
    pub fn one(self) -> Result<Row> {
        match self.at_most_one()? {
            Some(row) => Ok(row),
            None => Err(Error::new(
                ErrorKind::RowCount,
                "query returned no rows",
                None,
            )),
        }
    }

    /// The row the statement returns, if any: an error for several.
    pub fn opt(self) -> Result<Option<Row>> {
        self.at_most_one()
    }

    fn at_most_one(mut self) -> Result<Option<Row>> {
        let first = self.next().transpose()?;
        let second = self.next().transpose()?;
        // Read to the end so a later error (e.g. a failing function) is not hidden.
        for r in self.by_ref() {
            r?;
        }
        match second {
            None => Ok(first),
            Some(_) => Err(Error::new(
                ErrorKind::RowCount,
                "query returned more than one row",
                None,
            )),
        }
    }

    fn step(&mut self) -> Result<Option<Row>> {
        loop {
            let msg = match self.resp.next_frame()? {
                Frame::DataRow(body) => return Row::parse(self.statement.clone(), body).map(Some),
                Frame::Message(msg) => msg,
            };
            match msg {
                Message::BindComplete | Message::CloseComplete => continue,
                Message::CommandComplete(body) => self.affected = Some(rows_affected(&body)),
                Message::EmptyQueryResponse | Message::PortalSuspended => self.affected = Some(0),
                Message::ErrorResponse(body) => {
                    self.error = Some(parse_db(self.resp.conn(), &body));
                }
                Message::ReadyForQuery(_) => return self.finish(),
                _ => return Err(Error::protocol("unexpected message in query results")),
            }
            // Only a statement's last message gets here: it ends a shared-`Sync` member's answer.
            if self.resp.is_member() {
                return self.finish();
            }
        }
    }

    /// The answer is complete: the statement's error, if it had one.
    fn finish(&mut self) -> Result<Option<Row>> {
        self.done = true;
        self.observer.finish(self.error.is_none());
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(None),
        }
    }
}

impl Iterator for RowStream {
    type Item = Result<Row>;
    fn next(&mut self) -> Option<Result<Row>> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(row)) => Some(Ok(row)),
            Ok(None) => None,
            Err(e) => {
                self.done = true;
                self.observer.finish(false);
                Some(Err(e))
            }
        }
    }
}

/// A query already written to the connection, whose results are read later. Lets one
/// caller pipeline several queries: send them all, then read them in any order.
pub struct PendingQuery {
    stream: RowStream,
}

impl PendingQuery {
    pub(crate) fn from_stream(stream: RowStream) -> PendingQuery {
        PendingQuery { stream }
    }

    /// Waits for the one row the query must return (an error for none or several).
    pub fn one(self) -> Result<Row> {
        self.stream.one()
    }

    /// Waits for the row the query returns, if any (an error for several).
    pub fn opt(self) -> Result<Option<Row>> {
        self.stream.opt()
    }

    /// Waits for and returns all rows.
    pub fn rows(self) -> Result<Vec<Row>> {
        self.stream.collect()
    }

    /// Waits for completion and returns the number of rows affected.
    pub fn affected(mut self) -> Result<u64> {
        for row in self.stream.by_ref() {
            row?;
        }
        Ok(self.stream.affected.unwrap_or(0))
    }

    /// Streams the rows as they arrive.
    pub fn stream(self) -> RowStream {
        self.stream
    }
}

/// Checks that the server answers: an empty simple query, bounded by `timeout` (the pool's
/// liveness check; `query_timeout` may be unset or long).
pub(crate) fn ping(conn: &Arc<Conn>, timeout: std::time::Duration) -> Result<()> {
    let (responder, rx) = Responses::channel();
    let seq = conn.send(None, false, Some(responder), |buf| {
        frontend::query("", buf).map_err(io("encoding Query"))
    })?;
    let deadline = Some(std::time::Instant::now() + timeout);
    let mut resp = Responses::with_deadline(rx, conn.clone(), seq, deadline);
    let mut error = None;
    loop {
        match resp.next()? {
            Message::ErrorResponse(body) => error = Some(parse_db(conn, &body)),
            Message::ReadyForQuery(_) => return error.map_or(Ok(()), Err),
            _ => {}
        }
    }
}

/// Runs `sql` (possibly several statements) with the simple protocol, returning the last
/// command tag's row count. Used for `batch_execute` and transaction control.
pub(crate) fn simple(conn: &Arc<Conn>, token: Option<Token>, sql: &str) -> Result<Vec<String>> {
    let (tags, error) = simple_tags(conn, token, sql)?;
    match error {
        Some(e) => Err(e),
        None => Ok(tags),
    }
}

/// Runs `;`-separated statements with the simple protocol: the tags of the statements that
/// completed and the server error that stopped the rest, if any (so a caller can tell which
/// statement failed without running anything again).
pub(crate) fn simple_tags(
    conn: &Arc<Conn>,
    token: Option<Token>,
    sql: &str,
) -> Result<(Vec<String>, Option<Error>)> {
    let (responder, rx) = Responses::channel();
    let seq = conn.send(token, false, Some(responder), |buf| {
        frontend::query(sql, buf).map_err(io("encoding Query"))
    })?;
    let mut resp = Responses::new(rx, conn.clone(), seq);
    let mut tags = Vec::new();
    let mut error = None;
    loop {
        match resp.next()? {
            Message::CommandComplete(body) => {
                tags.push(body.tag().unwrap_or_default().to_string());
            }
            Message::ErrorResponse(body) => error = Some(parse_db(conn, &body)),
            Message::CopyInResponse(_) => {
                // Nobody will feed this COPY; fail it so the connection moves on.
                conn.send(token, false, None, |buf| {
                    frontend::copy_fail(
                        "COPY FROM STDIN is not supported in batch_execute; use copy_in",
                        buf,
                    )
                    .map_err(io("encoding CopyFail"))
                })?;
            }
            Message::ReadyForQuery(_) => break,
            _ => {}
        }
    }
    Ok((tags, error))
}
