//! A small blocking connection used only at build time, by the macros and `lifeguard prepare`:
//! it prepares statements (Parse/Describe) and reads the catalog. It lives in the compiler's
//! process, so it uses std sockets, not the `may` runtime.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
#[cfg(unix)]
use std::os::unix::net::UnixStream;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use percent_encoding::percent_decode_str;
use postgres_protocol::authentication::{self, sasl};
use postgres_protocol::message::backend::{ErrorResponseBody, Message};
use postgres_protocol::message::frontend;

use crate::error::{Error, Result};

/// How long a reply may take before the build gives up instead of hanging.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// The message of a read that timed out.
const NO_ANSWER: &str = "the database did not answer in time";

/// Connection settings read from a `postgres://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectOptions {
    /// Host name, address, or Unix socket directory (starts with `/`).
    pub host: String,
    /// Port.
    pub port: u16,
    /// User name.
    pub user: String,
    /// Password, if any.
    pub password: Option<String>,
    /// Database name.
    pub dbname: String,
}

impl ConnectOptions {
    /// Parses a `postgres://user:pass@host:port/db?param=value` URL (libpq's URL form).
    pub fn parse(url: &str) -> Result<ConnectOptions> {
        let bad = |why: &str| Error::unreachable(format!("invalid DATABASE_URL: {why}"));
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| bad("it must start with postgres:// or postgresql://"))?;
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| bad("invalid percent-encoding"))
        };
        let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let mut opts = ConnectOptions {
            host: "localhost".into(),
            port: 5432,
            user: std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .unwrap_or_else(|_| "postgres".into()),
            password: std::env::var("PGPASSWORD").ok(),
            dbname: String::new(),
        };
        if let Some(u) = userinfo {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (u, None),
            };
            if !user.is_empty() {
                opts.user = decode(user)?;
            }
            if let Some(p) = pass {
                opts.password = Some(decode(p)?);
            }
        }
        let (host, port) = if let Some(h) = hostport.strip_prefix('[') {
            let (h, rest) = h
                .split_once(']')
                .ok_or_else(|| bad("unclosed `[` in host"))?;
            (h, rest.strip_prefix(':'))
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if !host.is_empty() {
            opts.host = decode(host)?;
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            opts.port = p.parse().map_err(|_| bad("invalid port"))?;
        }
        if !path.is_empty() {
            opts.dbname = decode(path)?;
        }
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let v = decode(v)?;
            match k {
                "host" => opts.host = v,
                "port" => opts.port = v.parse().map_err(|_| bad("invalid port"))?,
                "user" => opts.user = v,
                "password" => opts.password = Some(v),
                "dbname" => opts.dbname = v,
                "sslmode" if matches!(v.as_str(), "require" | "verify-ca" | "verify-full") => {
                    return Err(bad(
                        "the build-time describe connection does not speak TLS; \
                         point DATABASE_URL at a development database with sslmode=prefer or disable",
                    ))
                }
                _ => {}
            }
        }
        if opts.dbname.is_empty() {
            opts.dbname = opts.user.clone();
        }
        Ok(opts)
    }
}

enum Stream {
    Tcp(TcpStream),
    #[cfg(unix)]
    Unix(UnixStream),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Tcp(s) => s,
            #[cfg(unix)]
            Stream::Unix(s) => s,
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// One result column as RowDescription reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// Column name (after aliasing).
    pub name: String,
    /// Origin table OID, 0 when none.
    pub table_oid: u32,
    /// Origin attribute number, 0 when none.
    pub column_id: i16,
    /// Type OID.
    pub type_oid: u32,
}

/// What Parse + Describe tell about a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// Parameter type OIDs, `$1` first.
    pub params: Vec<u32>,
    /// Result columns; empty for statements that return no rows.
    pub fields: Vec<Field>,
}

/// A blocking connection to the database the macros check against.
pub struct DescribeConn {
    stream: Stream,
    buf: BytesMut,
    out: BytesMut,
    /// What the catalog reads found, kept while statements are described in quick
    /// succession (see `catalog::CACHE_IDLE`).
    pub(crate) catalog_cache: crate::catalog::CatalogCache,
}

impl DescribeConn {
    /// Connects to `url`, giving up after `timeout` per address.
    pub fn connect(url: &str, timeout: Duration) -> Result<DescribeConn> {
        let opts = ConnectOptions::parse(url)?;
        let place = format!("{}:{}", opts.host, opts.port);
        let unreachable = |e: std::io::Error| {
            Error::unreachable(format!("cannot connect to the database at {place}: {e}"))
        };
        let stream = if opts.host.starts_with('/') {
            #[cfg(unix)]
            {
                let path = format!("{}/.s.PGSQL.{}", opts.host, opts.port);
                let s = UnixStream::connect(&path).map_err(unreachable)?;
                Stream::Unix(s)
            }
            #[cfg(not(unix))]
            return Err(Error::unreachable("Unix sockets are not supported here"));
        } else {
            let addrs = (opts.host.as_str(), opts.port)
                .to_socket_addrs()
                .map_err(unreachable)?;
            let mut last = None;
            let mut found = None;
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(s) => {
                        found = Some(s);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let s = match (found, last) {
                (Some(s), _) => s,
                (None, Some(e)) => return Err(unreachable(e)),
                (None, None) => {
                    return Err(Error::unreachable(format!("{place}: no address found")))
                }
            };
            s.set_nodelay(true).map_err(unreachable)?;
            Stream::Tcp(s)
        };
        let mut conn = DescribeConn {
            stream,
            buf: BytesMut::new(),
            out: BytesMut::new(),
            catalog_cache: Default::default(),
        };
        // The connect timeout covers the startup exchange too: something that accepts the
        // connection and never answers must not hold the build for READ_TIMEOUT.
        conn.set_read_timeout(timeout).map_err(unreachable)?;
        conn.startup(&opts).map_err(|mut e| {
            e.unreachable = true;
            if e.message == NO_ANSWER {
                e.message = format!(
                    "no answer within {} s (LIFEGUARD_CONNECT_TIMEOUT)",
                    timeout.as_secs_f64()
                );
            }
            e.message = format!("cannot connect to the database at {place}: {}", e.message);
            e
        })?;
        conn.set_read_timeout(READ_TIMEOUT).map_err(unreachable)?;
        Ok(conn)
    }

    fn set_read_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        match &self.stream {
            Stream::Tcp(s) => s.set_read_timeout(Some(timeout)),
            #[cfg(unix)]
            Stream::Unix(s) => s.set_read_timeout(Some(timeout)),
        }
    }

    fn startup(&mut self, opts: &ConnectOptions) -> Result<()> {
        let params = [
            ("user", opts.user.as_str()),
            ("database", opts.dbname.as_str()),
            ("client_encoding", "UTF8"),
            ("application_name", "lifeguard-describe"),
        ];
        frontend::startup_message(params.iter().copied(), &mut self.out).map_err(io_err)?;
        self.flush()?;
        let password = || {
            opts.password.as_deref().map(str::as_bytes).ok_or_else(|| {
                Error::msg("the server asks for a password but DATABASE_URL has none")
            })
        };
        loop {
            match self.next()? {
                Message::AuthenticationOk => break,
                Message::AuthenticationCleartextPassword => {
                    frontend::password_message(password()?, &mut self.out).map_err(io_err)?;
                    self.flush()?;
                }
                Message::AuthenticationMd5Password(body) => {
                    let hash =
                        authentication::md5_hash(opts.user.as_bytes(), password()?, body.salt());
                    frontend::password_message(hash.as_bytes(), &mut self.out).map_err(io_err)?;
                    self.flush()?;
                }
                Message::AuthenticationSasl(body) => {
                    let offered = body
                        .mechanisms()
                        .any(|m| Ok(m == sasl::SCRAM_SHA_256))
                        .map_err(io_err)?;
                    if !offered {
                        return Err(Error::msg("the server offers no supported SASL mechanism"));
                    }
                    let mut scram =
                        sasl::ScramSha256::new(password()?, sasl::ChannelBinding::unsupported());
                    frontend::sasl_initial_response(
                        sasl::SCRAM_SHA_256,
                        scram.message(),
                        &mut self.out,
                    )
                    .map_err(io_err)?;
                    self.flush()?;
                    match self.next()? {
                        Message::AuthenticationSaslContinue(b) => {
                            scram.update(b.data()).map_err(io_err)?
                        }
                        _ => return Err(Error::msg("unexpected message during SCRAM")),
                    }
                    frontend::sasl_response(scram.message(), &mut self.out).map_err(io_err)?;
                    self.flush()?;
                    match self.next()? {
                        Message::AuthenticationSaslFinal(b) => {
                            scram.finish(b.data()).map_err(io_err)?
                        }
                        _ => return Err(Error::msg("unexpected message during SCRAM")),
                    }
                }
                Message::ErrorResponse(body) => return Err(db_error(&body)),
                _ => return Err(Error::msg("unsupported authentication method")),
            }
        }
        loop {
            match self.next()? {
                Message::ReadyForQuery(_) => return Ok(()),
                Message::ErrorResponse(body) => return Err(db_error(&body)),
                _ => {}
            }
        }
    }

    /// Prepares `sql` as the unnamed statement and describes its parameters and columns.
    pub fn prepare(&mut self, sql: &str) -> Result<Prepared> {
        frontend::parse("", sql, std::iter::empty(), &mut self.out).map_err(io_err)?;
        frontend::describe(b'S', "", &mut self.out).map_err(io_err)?;
        frontend::sync(&mut self.out);
        self.flush()?;
        let mut prepared = Prepared {
            params: Vec::new(),
            fields: Vec::new(),
        };
        let mut error = None;
        loop {
            match self.next()? {
                Message::ParameterDescription(body) => {
                    prepared.params = body.parameters().collect().map_err(io_err)?;
                }
                Message::RowDescription(body) => {
                    prepared.fields = body
                        .fields()
                        .map(|f| {
                            Ok(Field {
                                name: f.name().to_owned(),
                                table_oid: f.table_oid(),
                                column_id: f.column_id(),
                                type_oid: f.type_oid(),
                            })
                        })
                        .collect()
                        .map_err(io_err)?;
                }
                Message::ErrorResponse(body) => error = Some(db_error(&body)),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(prepared),
        }
    }

    /// Runs a catalog query with text parameters and returns its rows as text.
    pub fn query(&mut self, sql: &str, params: &[&str]) -> Result<Vec<Vec<Option<String>>>> {
        frontend::parse("", sql, std::iter::empty(), &mut self.out).map_err(io_err)?;
        frontend::bind(
            "",
            "",
            std::iter::empty::<i16>(),
            params.iter(),
            |p, buf| {
                buf.extend_from_slice(p.as_bytes());
                Ok(postgres_protocol::IsNull::No)
            },
            Some(0),
            &mut self.out,
        )
        .map_err(|_| Error::msg("cannot encode a catalog query"))?;
        frontend::execute("", 0, &mut self.out).map_err(io_err)?;
        frontend::sync(&mut self.out);
        self.flush()?;
        let mut rows = Vec::new();
        let mut error = None;
        loop {
            match self.next()? {
                Message::DataRow(body) => {
                    let buf = body.buffer();
                    let row = body
                        .ranges()
                        .map(|r| Ok(r.map(|r| String::from_utf8_lossy(&buf[r]).into_owned())))
                        .collect()
                        .map_err(io_err)?;
                    rows.push(row);
                }
                Message::ErrorResponse(body) => error = Some(db_error(&body)),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    /// Runs `;`-separated statements with the simple protocol (used by tests and tools to
    /// load schemas); any rows are discarded.
    pub fn batch_execute(&mut self, sql: &str) -> Result<()> {
        frontend::query(sql, &mut self.out).map_err(io_err)?;
        self.flush()?;
        let mut error = None;
        loop {
            match self.next()? {
                Message::ErrorResponse(body) => error = error.or(Some(db_error(&body))),
                Message::ReadyForQuery(_) => break,
                Message::CopyInResponse(_) => {
                    frontend::copy_fail("COPY is not supported here", &mut self.out)
                        .map_err(io_err)?;
                    self.flush()?;
                }
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn flush(&mut self) -> Result<()> {
        let io = self.stream.io();
        io.write_all(&self.out)
            .and_then(|_| io.flush())
            .map_err(|e| Error::unreachable(format!("writing to the database: {e}")))?;
        self.out.clear();
        Ok(())
    }

    fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = Message::parse(&mut self.buf).map_err(io_err)? {
                return Ok(m);
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .stream
                .io()
                .read(&mut chunk)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                        Error::unreachable(NO_ANSWER)
                    }
                    _ => Error::unreachable(format!("reading from the database: {e}")),
                })?;
            if n == 0 {
                return Err(Error::unreachable("the database closed the connection"));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::unreachable(format!("protocol error: {e}"))
}

fn db_error(body: &ErrorResponseBody) -> Error {
    let mut e = Error::msg("");
    let mut fields = body.fields();
    while let Ok(Some(f)) = fields.next() {
        let value = String::from_utf8_lossy(f.value_bytes()).into_owned();
        match f.type_() {
            b'M' => e.message = value,
            b'C' => e.code = Some(value),
            b'P' => e.position = value.parse().ok(),
            b'D' => e.detail = Some(value),
            b'H' => e.hint = Some(value),
            _ => {}
        }
    }
    e
}

#[cfg(test)]
mod tests {
    use super::ConnectOptions;

    #[test]
    fn parses_urls() {
        let o = ConnectOptions::parse("postgres://u:p%40ss@db.example:6543/app?sslmode=prefer")
            .unwrap();
        assert_eq!((o.host.as_str(), o.port), ("db.example", 6543));
        assert_eq!(
            (o.user.as_str(), o.password.as_deref()),
            ("u", Some("p@ss"))
        );
        assert_eq!(o.dbname, "app");
        let o = ConnectOptions::parse("postgresql:///app?host=/var/run/postgresql").unwrap();
        assert_eq!(o.host, "/var/run/postgresql");
        assert!(ConnectOptions::parse("mysql://x").is_err());
        assert!(ConnectOptions::parse("postgres://h:notaport/db").is_err());
        assert!(ConnectOptions::parse("postgres://h/db?sslmode=require").is_err());
    }
}
