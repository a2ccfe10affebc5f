//! The one error type of the `lifeguard` crate.
//!
//! Every fallible operation returns [`Error`]. Server-reported failures carry the full
//! [`DbError`] (SQLSTATE, message, detail, hint, position, constraint…); client-side failures
//! carry a [`ErrorKind`] and a short context string saying what was being done.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;

use fallible_iterator::FallibleIterator;
use postgres_protocol::message::backend::ErrorResponseBody;

/// A SQLSTATE error code (five characters), as reported by the server.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SqlState(Cow<'static, str>);

impl SqlState {
    /// Builds a code from its five-character text.
    pub fn from_code(code: &str) -> SqlState {
        SqlState(Cow::Owned(code.to_owned()))
    }

    /// The five-character code, e.g. `"42601"`.
    pub fn code(&self) -> &str {
        &self.0
    }

    /// The two-character class, e.g. `"08"` for connection exceptions.
    pub fn class(&self) -> &str {
        self.0.get(..2).unwrap_or("")
    }

    /// `42601`
    pub const SYNTAX_ERROR: SqlState = SqlState(Cow::Borrowed("42601"));
    /// `42P01`
    pub const UNDEFINED_TABLE: SqlState = SqlState(Cow::Borrowed("42P01"));
    /// `42703`
    pub const UNDEFINED_COLUMN: SqlState = SqlState(Cow::Borrowed("42703"));
    /// `23505`
    pub const UNIQUE_VIOLATION: SqlState = SqlState(Cow::Borrowed("23505"));
    /// `23502`
    pub const NOT_NULL_VIOLATION: SqlState = SqlState(Cow::Borrowed("23502"));
    /// `40001`
    pub const T_R_SERIALIZATION_FAILURE: SqlState = SqlState(Cow::Borrowed("40001"));
    /// `57014` — the statement was cancelled (cancel request or `statement_timeout`).
    pub const QUERY_CANCELED: SqlState = SqlState(Cow::Borrowed("57014"));
    /// `57P01` — the backend was terminated by an administrator.
    pub const ADMIN_SHUTDOWN: SqlState = SqlState(Cow::Borrowed("57P01"));
    /// `57P02`
    pub const CRASH_SHUTDOWN: SqlState = SqlState(Cow::Borrowed("57P02"));
    /// `57P03`
    pub const CANNOT_CONNECT_NOW: SqlState = SqlState(Cow::Borrowed("57P03"));
    /// `28P01`
    pub const INVALID_PASSWORD: SqlState = SqlState(Cow::Borrowed("28P01"));
    /// `3D000`
    pub const INVALID_CATALOG_NAME: SqlState = SqlState(Cow::Borrowed("3D000"));
    /// `25P02` — commands ignored until end of transaction block.
    pub const IN_FAILED_SQL_TRANSACTION: SqlState = SqlState(Cow::Borrowed("25P02"));

    /// True for codes after which a connection must not be reused: class 08
    /// (connection exception) and 57P01–57P03 (the server is shutting down or restarting).
    pub fn is_connection_fatal(&self) -> bool {
        self.class() == "08" || matches!(self.code(), "57P01" | "57P02" | "57P03")
    }
}

impl fmt::Debug for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SqlState({})", self.0)
    }
}

impl fmt::Display for SqlState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where in the statement the server located an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorPosition {
    /// A 1-based character offset into the statement the client sent.
    Original(u32),
    /// An offset into an internally generated query (e.g. inside a PL/pgSQL function).
    Internal {
        /// The 1-based character offset into `query`.
        position: u32,
        /// The internal query text.
        query: String,
    },
}

/// An error or notice reported by the server, with every field the protocol carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    severity: String,
    code: SqlState,
    message: String,
    detail: Option<String>,
    hint: Option<String>,
    position: Option<ErrorPosition>,
    where_: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    column: Option<String>,
    datatype: Option<String>,
    constraint: Option<String>,
    routine: Option<String>,
}

impl DbError {
    pub(crate) fn parse(body: &ErrorResponseBody) -> std::io::Result<DbError> {
        let mut e = DbError {
            severity: String::new(),
            code: SqlState::from_code("XX000"),
            message: String::new(),
            detail: None,
            hint: None,
            position: None,
            where_: None,
            schema: None,
            table: None,
            column: None,
            datatype: None,
            constraint: None,
            routine: None,
        };
        let mut internal_position = None;
        let mut internal_query = None;
        let mut fields = body.fields();
        while let Some(field) = fields.next()? {
            let value = String::from_utf8_lossy(field.value_bytes()).into_owned();
            match field.type_() {
                b'S' => e.severity = value,
                b'V' => e.severity = value,
                b'C' => e.code = SqlState::from_code(&value),
                b'M' => e.message = value,
                b'D' => e.detail = Some(value),
                b'H' => e.hint = Some(value),
                b'P' => e.position = value.parse().ok().map(ErrorPosition::Original),
                b'p' => internal_position = value.parse().ok(),
                b'q' => internal_query = Some(value),
                b'W' => e.where_ = Some(value),
                b's' => e.schema = Some(value),
                b't' => e.table = Some(value),
                b'c' => e.column = Some(value),
                b'd' => e.datatype = Some(value),
                b'n' => e.constraint = Some(value),
                b'R' => e.routine = Some(value),
                _ => {}
            }
        }
        if let (Some(position), Some(query)) = (internal_position, internal_query) {
            e.position = Some(ErrorPosition::Internal { position, query });
        }
        Ok(e)
    }

    /// `ERROR`, `FATAL`, `PANIC`, `WARNING`, `NOTICE`…
    pub fn severity(&self) -> &str {
        &self.severity
    }
    /// The SQLSTATE code.
    pub fn code(&self) -> &SqlState {
        &self.code
    }
    /// The primary human-readable message.
    pub fn message(&self) -> &str {
        &self.message
    }
    /// Optional secondary message with more detail.
    pub fn detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }
    /// Optional suggestion of what to do about the problem.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    /// Where in the statement the error was found.
    pub fn position(&self) -> Option<&ErrorPosition> {
        self.position.as_ref()
    }
    /// The call-stack context (`CONTEXT:` lines).
    pub fn where_(&self) -> Option<&str> {
        self.where_.as_deref()
    }
    /// The schema of the object involved.
    pub fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }
    /// The table involved.
    pub fn table(&self) -> Option<&str> {
        self.table.as_deref()
    }
    /// The column involved.
    pub fn column(&self) -> Option<&str> {
        self.column.as_deref()
    }
    /// The data type involved.
    pub fn datatype(&self) -> Option<&str> {
        self.datatype.as_deref()
    }
    /// The constraint violated.
    pub fn constraint(&self) -> Option<&str> {
        self.constraint.as_deref()
    }
    /// The server routine that reported the error.
    pub fn routine(&self) -> Option<&str> {
        self.routine.as_deref()
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "\nDETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\nHINT: {hint}")?;
        }
        Ok(())
    }
}

impl StdError for DbError {}

/// What went wrong, for errors not reported by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The server reported an error; see [`Error::as_db_error`].
    Db,
    /// A socket read or write failed.
    Io,
    /// The connection is closed (by the server, the network, or the client).
    Closed,
    /// A client-side timeout expired (connect, query, or pool acquire).
    Timeout,
    /// The pool could not hand out a connection within its acquire timeout.
    PoolTimeout,
    /// The connection configuration is invalid.
    Config,
    /// TLS negotiation or verification failed.
    Tls,
    /// Authentication could not be completed by the client.
    Authentication,
    /// The server sent something the protocol does not allow here.
    Protocol,
    /// A parameter could not be converted to its Postgres type.
    ToSql,
    /// A column could not be converted to the requested Rust type.
    FromSql,
    /// The number of parameters does not match the statement.
    ParameterCount,
    /// A named column does not exist in the row.
    ColumnNotFound,
    /// `query_one` got no row, or more than one.
    RowCount,
    /// The operation is not valid in the current state (e.g. a statement from another connection).
    Usage,
    /// A migration could not be read, checked or applied; the context names the file (and
    /// line), and a server error stays reachable through [`Error::as_db_error`].
    Migrate,
    /// A model's update or delete found no row with the model's key.
    NotFound,
    /// Redis failed or timed out. Model reads never return it (they fall back to the
    /// database); it reaches callers of [`cache::Cache`](crate::cache::Cache)'s own methods.
    Cache,
    /// A model's hook ([`Hooks`](crate::model::Hooks)) refused the write, or a bulk write
    /// was asked of a model whose hooks it cannot run; nothing was written by it.
    Hook,
}

struct Inner {
    kind: ErrorKind,
    context: Option<Cow<'static, str>>,
    cause: Option<Box<dyn StdError + Send + Sync>>,
}

/// The error type of every `lifeguard` operation.
pub struct Error(Box<Inner>);

impl Error {
    pub(crate) fn new(
        kind: ErrorKind,
        context: impl Into<Cow<'static, str>>,
        cause: Option<Box<dyn StdError + Send + Sync>>,
    ) -> Error {
        Error(Box::new(Inner {
            kind,
            context: Some(context.into()),
            cause,
        }))
    }

    pub(crate) fn db(e: DbError) -> Error {
        Error(Box::new(Inner {
            kind: ErrorKind::Db,
            context: None,
            cause: Some(Box::new(e)),
        }))
    }

    pub(crate) fn io(context: impl Into<Cow<'static, str>>, e: std::io::Error) -> Error {
        let kind = match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ErrorKind::Timeout,
            _ => ErrorKind::Io,
        };
        Error::new(kind, context, Some(Box::new(e)))
    }

    pub(crate) fn closed(reason: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Closed, reason, None)
    }

    pub(crate) fn protocol(what: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Protocol, what, None)
    }

    pub(crate) fn config(what: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Config, what, None)
    }

    /// The error a [`Hooks`](crate::model::Hooks) method returns to refuse a write
    /// ([`ErrorKind::Hook`]); `why` becomes its message.
    pub fn hook(why: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Hook, why, None)
    }

    pub(crate) fn usage(what: impl Into<Cow<'static, str>>) -> Error {
        Error::new(ErrorKind::Usage, what, None)
    }

    /// Adds context (what was being done) to an error; the first context is kept as the
    /// innermost, later ones are prefixed.
    pub fn context(mut self, what: impl Into<Cow<'static, str>>) -> Error {
        let what = what.into();
        self.0.context = Some(match self.0.context.take() {
            Some(inner) => Cow::Owned(format!("{what}: {inner}")),
            None => what,
        });
        self
    }

    /// The category of the error.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// The server's error, if the server reported one.
    pub fn as_db_error(&self) -> Option<&DbError> {
        self.0
            .cause
            .as_ref()
            .and_then(|c| c.downcast_ref::<DbError>())
    }

    /// The SQLSTATE code, if the server reported an error.
    pub fn code(&self) -> Option<&SqlState> {
        self.as_db_error().map(DbError::code)
    }

    /// True when the connection is closed: no further query on it can succeed.
    pub fn is_closed(&self) -> bool {
        self.0.kind == ErrorKind::Closed
            || self.0.kind == ErrorKind::Io
            || self.code().is_some_and(SqlState::is_connection_fatal)
    }

    /// True for client-side timeouts (connect, query, pool acquire).
    pub fn is_timeout(&self) -> bool {
        matches!(self.0.kind, ErrorKind::Timeout | ErrorKind::PoolTimeout)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.0.kind)
            .field("context", &self.0.context)
            .field("cause", &self.0.cause)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.0.kind {
            ErrorKind::Db => "database error",
            ErrorKind::Io => "i/o error",
            ErrorKind::Closed => "connection closed",
            ErrorKind::Timeout => "timed out",
            ErrorKind::PoolTimeout => "pool timed out",
            ErrorKind::Config => "invalid configuration",
            ErrorKind::Tls => "tls error",
            ErrorKind::Authentication => "authentication error",
            ErrorKind::Protocol => "protocol error",
            ErrorKind::ToSql => "cannot encode parameter",
            ErrorKind::FromSql => "cannot decode column",
            ErrorKind::ParameterCount => "wrong number of parameters",
            ErrorKind::ColumnNotFound => "column not found",
            ErrorKind::RowCount => "unexpected number of rows",
            ErrorKind::Usage => "invalid use",
            ErrorKind::Migrate => "migration error",
            ErrorKind::NotFound => "row not found",
            ErrorKind::Cache => "cache error",
            ErrorKind::Hook => "refused by a model hook",
        };
        match (&self.0.context, &self.0.cause) {
            (Some(ctx), Some(cause)) => write!(f, "{kind}: {ctx}: {cause}"),
            (Some(ctx), None) => write!(f, "{kind}: {ctx}"),
            (None, Some(cause)) => write!(f, "{kind}: {cause}"),
            (None, None) => f.write_str(kind),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0
            .cause
            .as_ref()
            .map(|c| &**c as &(dyn StdError + 'static))
    }
}

/// `Result` with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
