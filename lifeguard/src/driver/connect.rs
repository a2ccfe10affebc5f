//! Opening a connection: socket, TLS negotiation, startup and authentication.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use fallible_iterator::FallibleIterator;
use may::net::TcpStream;
use may::os::unix::net::UnixStream;
use postgres_protocol::authentication::{self, sasl};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use crate::driver::cancel::CancelToken;
use crate::driver::config::{Config, Host, SslMode};
use crate::driver::conn::{Conn, Established};
use crate::driver::socket::{Socket, Stream, UnixSocket};
use crate::error::{DbError, Error, ErrorKind, Result};

/// Connects to the first host in the configuration that accepts us.
pub(crate) fn connect(config: &Arc<Config>) -> Result<Arc<Conn>> {
    let config = config.clone();
    on_big_stack(move || connect_any(&config))
}

fn connect_any(config: &Arc<Config>) -> Result<Arc<Conn>> {
    let mut last = None;
    for (host, port) in &config.hosts {
        match connect_host(config, host, *port) {
            Ok(conn) => return Ok(conn),
            Err(e) => {
                tracing::debug!(?host, port, error = %e, "connection attempt failed");
                last = Some(e);
            }
        }
    }
    Err(last.unwrap_or_else(|| Error::config("no host to connect to")))
}

fn describe(host: &Host, port: u16) -> String {
    match host {
        Host::Tcp(h) => format!("{h}:{port}"),
        Host::Unix(dir) => format!("{}/.s.PGSQL.{port}", dir.display()),
    }
}

fn connect_host(config: &Arc<Config>, host: &Host, port: u16) -> Result<Arc<Conn>> {
    let where_ = describe(host, port);
    // open_stream's errors already name the address.
    let stream = open_stream(host, port, config.connect_timeout)?;
    // Bound every set-up read and write by the connect timeout.
    stream
        .set_timeouts(config.connect_timeout)
        .map_err(|e| Error::io("setting socket timeouts", e))?;
    let mut socket = negotiate_tls(stream, host, config)?;
    log_transport_once(config.ssl_mode, !matches!(socket, Socket::Plain(_)));
    let (params, pid, secret, leftover) = startup(&mut socket, config)
        .map_err(|e| e.context(format!("starting up with {where_}")))?;
    socket
        .stream()
        .set_timeouts(None)
        .map_err(|e| Error::io("clearing socket timeouts", e))?;
    let (read, write, shutdown) = socket
        .split()
        .map_err(|e| Error::io("splitting the socket", e))?;
    let cancel = CancelToken::new(config.clone(), host.clone(), port, pid, secret);
    Conn::start(
        Established {
            read,
            write,
            shutdown,
            params,
            cancel,
            leftover,
        },
        config.clone(),
    )
}

/// Opens a plain socket to one host.
pub(crate) fn open_stream(host: &Host, port: u16, timeout: Option<Duration>) -> Result<Stream> {
    match host {
        Host::Unix(dir) => {
            let path = dir.join(format!(".s.PGSQL.{port}"));
            UnixStream::connect(&path)
                .map(|s| Stream::Unix(UnixSocket::new(s)))
                .map_err(|e| Error::io(format!("connecting to {}", path.display()), e))
        }
        Host::Tcp(name) => {
            let addrs = (name.as_str(), port)
                .to_socket_addrs()
                .map_err(|e| Error::io(format!("resolving {name}"), e))?;
            let mut last = None;
            for addr in addrs {
                let res = match timeout {
                    Some(t) => TcpStream::connect_timeout(&addr, t),
                    None => TcpStream::connect(addr),
                };
                match res {
                    Ok(s) => {
                        s.set_nodelay(true)
                            .map_err(|e| Error::io("setting TCP_NODELAY", e))?;
                        // Keepalive makes a vanished server (no FIN, no RST) an error
                        // instead of a reader blocked forever.
                        let ka = socket2::TcpKeepalive::new()
                            .with_time(Duration::from_secs(60))
                            .with_interval(Duration::from_secs(10));
                        let _ = socket2::SockRef::from(s.inner()).set_tcp_keepalive(&ka);
                        return Ok(Stream::Tcp(s));
                    }
                    Err(e) => {
                        let target = if addr.ip().to_string() == *name {
                            addr.to_string()
                        } else {
                            format!("{name}:{port} ({addr})")
                        };
                        last = Some(Error::io(format!("connecting to {target}"), e));
                    }
                }
            }
            Err(last.unwrap_or_else(|| Error::config(format!("{name} resolved to no address"))))
        }
    }
}

/// Says once per process, at debug level, what `sslmode` gave: `prefer` (the default)
/// silently uses TLS whenever the server offers it, loopback included.
fn log_transport_once(mode: SslMode, tls: bool) {
    static LOGGED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !LOGGED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        tracing::debug!(sslmode = ?mode, tls, "first connection's transport (logged once)");
    }
}

/// Sends `SSLRequest` when the mode asks for TLS and upgrades if the server agrees.
pub(crate) fn negotiate_tls(mut stream: Stream, host: &Host, config: &Config) -> Result<Socket> {
    let mode = config.ssl_mode;
    // TLS over a Unix socket buys nothing; libpq skips it too.
    if mode == SslMode::Disable || !stream.is_tcp() {
        return Ok(Socket::Plain(stream));
    }
    if !cfg!(feature = "tls") {
        return match mode {
            SslMode::Prefer => Ok(Socket::Plain(stream)),
            _ => Err(Error::new(
                ErrorKind::Tls,
                "sslmode requires TLS but lifeguard was built without the `tls` feature",
                None,
            )),
        };
    }
    let mut buf = BytesMut::new();
    frontend::ssl_request(&mut buf);
    stream
        .write_all(&buf)
        .map_err(|e| Error::io("sending SSLRequest", e))?;
    let mut answer = [0u8; 1];
    stream
        .read_exact(&mut answer)
        .map_err(|e| Error::io("reading the SSLRequest answer", e))?;
    match answer[0] {
        b'S' => {
            #[cfg(feature = "tls")]
            {
                let name = match host {
                    Host::Tcp(h) => h.as_str(),
                    Host::Unix(_) => "localhost",
                };
                let tls = crate::driver::tls::TlsStream::handshake(stream, name, config)?;
                Ok(Socket::Tls(Box::new(tls)))
            }
            #[cfg(not(feature = "tls"))]
            {
                let _ = host;
                Err(Error::protocol("server accepted TLS we did not offer"))
            }
        }
        b'N' if mode == SslMode::Prefer => Ok(Socket::Plain(stream)),
        b'N' => Err(Error::new(
            ErrorKind::Tls,
            "the server does not support TLS but sslmode requires it",
            None,
        )),
        other => Err(Error::protocol(format!(
            "unexpected answer {other:#x} to SSLRequest"
        ))),
    }
}

/// Runs `f` on a coroutine with a large stack and waits for it.
///
/// Connection set-up (a rustls+ring handshake, SCRAM's PBKDF2) needs far more stack than a
/// default `may` coroutine has (32 KiB), and users connect and cancel from such coroutines
/// (a pool opens connections on demand inside its callers).
pub(crate) fn on_big_stack<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    // SAFETY (may): the closure keeps no thread-local state across yields.
    let handle = unsafe {
        may::coroutine::Builder::new()
            .name("lifeguard-connect".into())
            .stack_size(0x8000)
            .spawn(f)
    }
    .map_err(|e| Error::io("spawning the connect coroutine", e))?;
    handle
        .join()
        .map_err(|_| Error::protocol("connection set-up panicked"))?
}

struct Reader<'a> {
    socket: &'a mut Socket,
    buf: BytesMut,
}

impl Reader<'_> {
    fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(m) =
                Message::parse(&mut self.buf).map_err(|e| Error::io("parsing a message", e))?
            {
                return Ok(m);
            }
            let mut chunk = [0u8; 8192];
            let n = self
                .socket
                .read(&mut chunk)
                .map_err(|e| Error::io("reading from the server", e))?;
            if n == 0 {
                return Err(Error::closed(
                    "the server closed the connection during start-up",
                ));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn send(socket: &mut Socket, buf: &mut BytesMut) -> Result<()> {
    socket
        .write_all(buf)
        .and_then(|_| socket.flush())
        .map_err(|e| Error::io("writing to the server", e))?;
    buf.clear();
    Ok(())
}

fn password<'a>(config: &'a Config, method: &str) -> Result<&'a [u8]> {
    config.password.as_deref().ok_or_else(|| {
        Error::new(
            ErrorKind::Authentication,
            format!("the server asks for a password ({method}) but none was given"),
            None,
        )
    })
}

type StartupResult = (HashMap<String, String>, i32, i32, BytesMut);

fn startup(socket: &mut Socket, config: &Config) -> Result<StartupResult> {
    let mut out = BytesMut::new();
    let mut params: Vec<(&str, &str)> = vec![
        ("user", &config.user),
        ("database", &config.dbname),
        ("client_encoding", "UTF8"),
    ];
    if let Some(app) = &config.application_name {
        params.push(("application_name", app));
    }
    if let Some(options) = &config.options {
        params.push(("options", options));
    }
    frontend::startup_message(params.iter().copied(), &mut out)
        .map_err(|e| Error::io("encoding the startup message", e))?;
    send(socket, &mut out)?;
    let mut rd = Reader {
        socket,
        buf: BytesMut::new(),
    };
    // Authentication.
    loop {
        match rd.next()? {
            Message::AuthenticationOk => break,
            Message::AuthenticationCleartextPassword => {
                let pw = password(config, "cleartext")?;
                frontend::password_message(pw, &mut out)
                    .map_err(|e| Error::io("encoding the password", e))?;
                send(rd.socket, &mut out)?;
            }
            Message::AuthenticationMd5Password(body) => {
                let pw = password(config, "md5")?;
                let hash = authentication::md5_hash(config.user.as_bytes(), pw, body.salt());
                frontend::password_message(hash.as_bytes(), &mut out)
                    .map_err(|e| Error::io("encoding the password", e))?;
                send(rd.socket, &mut out)?;
            }
            Message::AuthenticationSasl(body) => {
                let mut scram_offered = false;
                let mut mechanisms = body.mechanisms();
                while let Some(m) = mechanisms
                    .next()
                    .map_err(|e| Error::io("parsing SASL mechanisms", e))?
                {
                    scram_offered |= m == sasl::SCRAM_SHA_256;
                }
                if !scram_offered {
                    return Err(Error::new(
                        ErrorKind::Authentication,
                        "the server offers no SASL mechanism lifeguard supports (SCRAM-SHA-256)",
                        None,
                    ));
                }
                let pw = password(config, "SCRAM-SHA-256")?;
                let mut scram = sasl::ScramSha256::new(pw, sasl::ChannelBinding::unsupported());
                frontend::sasl_initial_response(sasl::SCRAM_SHA_256, scram.message(), &mut out)
                    .map_err(|e| Error::io("encoding SASL", e))?;
                send(rd.socket, &mut out)?;
                match rd.next()? {
                    Message::AuthenticationSaslContinue(body) => scram
                        .update(body.data())
                        .map_err(|e| auth_err("SCRAM server-first message", e))?,
                    Message::ErrorResponse(body) => return Err(db_err(&body)),
                    _ => return Err(Error::protocol("expected AuthenticationSASLContinue")),
                }
                frontend::sasl_response(scram.message(), &mut out)
                    .map_err(|e| Error::io("encoding SASL", e))?;
                send(rd.socket, &mut out)?;
                match rd.next()? {
                    Message::AuthenticationSaslFinal(body) => scram
                        .finish(body.data())
                        .map_err(|e| auth_err("verifying the server's SCRAM signature", e))?,
                    Message::ErrorResponse(body) => return Err(db_err(&body)),
                    _ => return Err(Error::protocol("expected AuthenticationSASLFinal")),
                }
            }
            Message::AuthenticationKerberosV5
            | Message::AuthenticationScmCredential
            | Message::AuthenticationGss
            | Message::AuthenticationSspi => {
                return Err(Error::new(
                    ErrorKind::Authentication,
                    "the server asks for an authentication method lifeguard does not support (GSS/SSPI/Kerberos)",
                    None,
                ))
            }
            Message::ErrorResponse(body) => return Err(db_err(&body)),
            _ => return Err(Error::protocol("unexpected message during authentication")),
        }
    }
    // Session set-up until the first ReadyForQuery.
    let mut params = HashMap::new();
    let (mut pid, mut secret) = (0, 0);
    loop {
        match rd.next()? {
            Message::BackendKeyData(body) => {
                pid = body.process_id();
                secret = body.secret_key();
            }
            Message::ParameterStatus(body) => {
                if let (Ok(k), Ok(v)) = (body.name(), body.value()) {
                    params.insert(k.to_string(), v.to_string());
                }
            }
            Message::NoticeResponse(_) => {}
            Message::ReadyForQuery(_) => break,
            Message::ErrorResponse(body) => return Err(db_err(&body)),
            _ => return Err(Error::protocol("unexpected message during start-up")),
        }
    }
    Ok((params, pid, secret, rd.buf))
}

fn auth_err(what: &str, e: std::io::Error) -> Error {
    Error::new(
        ErrorKind::Authentication,
        what.to_string(),
        Some(Box::new(e)),
    )
}

fn db_err(body: &postgres_protocol::message::backend::ErrorResponseBody) -> Error {
    match DbError::parse(body) {
        Ok(db) => Error::db(db),
        Err(e) => Error::io("parsing an error response", e),
    }
}
