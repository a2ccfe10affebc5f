//! Connection configuration: `postgres://` URLs with libpq's `PG*` environment fallbacks.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// Prepared statements each connection keeps by default: above a 500-statement
/// application (each statement text once, and the checked macros' literals once more by
/// address), at a few kilobytes of server memory per statement and backend.
pub(crate) const DEFAULT_STATEMENT_CACHE: usize = 1024;

/// Whether and how to use TLS, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Never use TLS.
    Disable,
    /// Use TLS if the server offers it (libpq's default), without verifying the certificate.
    Prefer,
    /// Require TLS; verify the certificate only if `sslrootcert` is given.
    Require,
    /// Require TLS and a certificate signed by a trusted root; do not check the host name.
    VerifyCa,
    /// Require TLS, a trusted certificate, and a matching host name.
    VerifyFull,
}

impl FromStr for SslMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<SslMode> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "allow" | "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            other => return Err(Error::config(format!("unknown sslmode `{other}`"))),
        })
    }
}

/// Where a server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A host name or IP address, reached over TCP.
    Tcp(String),
    /// A directory holding the server's Unix-domain socket (`.s.PGSQL.<port>`).
    Unix(PathBuf),
}

/// Everything needed to open a connection.
///
/// Build one from a URL (`"postgres://…".parse()`), from the environment
/// ([`Config::from_env`]), or field by field with the setters.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) hosts: Vec<(Host, u16)>,
    pub(crate) user: String,
    pub(crate) password: Option<Vec<u8>>,
    pub(crate) dbname: String,
    pub(crate) application_name: Option<String>,
    pub(crate) options: Option<String>,
    pub(crate) ssl_mode: SslMode,
    pub(crate) ssl_root_cert: Option<PathBuf>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) query_timeout: Option<Duration>,
    pub(crate) statement_cache_capacity: usize,
    pub(crate) share_sync: bool,
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn default_host() -> Host {
    // libpq on Debian defaults to this socket directory; fall back to TCP when absent.
    let dir = Path::new("/var/run/postgresql");
    if dir.is_dir() {
        Host::Unix(dir.to_path_buf())
    } else {
        Host::Tcp("localhost".into())
    }
}

fn parse_host(text: &str) -> Host {
    if text.starts_with('/') {
        Host::Unix(PathBuf::from(text))
    } else {
        Host::Tcp(text.to_string())
    }
}

fn parse_port(text: &str) -> Result<u16> {
    text.parse()
        .map_err(|_| Error::config(format!("invalid port `{text}`")))
}

fn parse_secs(key: &str, text: &str) -> Result<Option<Duration>> {
    let secs: f64 = text
        .parse()
        .map_err(|_| Error::config(format!("invalid {key} `{text}` (seconds)")))?;
    // libpq treats 0 as "no timeout".
    Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
}

fn decode(text: &str) -> Result<String> {
    percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::config(format!("invalid percent-encoding in `{text}`")))
}

impl Config {
    /// A configuration from libpq's environment variables alone (`PGHOST`, `PGPORT`,
    /// `PGUSER`, `PGPASSWORD`, `PGDATABASE`, `PGAPPNAME`, `PGOPTIONS`, `PGSSLMODE`,
    /// `PGSSLROOTCERT`, `PGCONNECT_TIMEOUT`), with libpq's defaults for the rest.
    pub fn from_env() -> Result<Config> {
        let port = match env("PGPORT") {
            Some(p) => parse_port(&p)?,
            None => 5432,
        };
        let hosts = match env("PGHOST") {
            Some(h) => h.split(',').map(|h| (parse_host(h), port)).collect(),
            None => vec![(default_host(), port)],
        };
        let user = env("PGUSER")
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".into());
        Ok(Config {
            hosts,
            dbname: env("PGDATABASE").unwrap_or_else(|| user.clone()),
            user,
            password: env("PGPASSWORD").map(String::into_bytes),
            application_name: env("PGAPPNAME"),
            options: env("PGOPTIONS"),
            ssl_mode: match env("PGSSLMODE") {
                Some(m) => m.parse()?,
                None => SslMode::Prefer,
            },
            ssl_root_cert: env("PGSSLROOTCERT").map(PathBuf::from),
            connect_timeout: match env("PGCONNECT_TIMEOUT") {
                Some(t) => parse_secs("PGCONNECT_TIMEOUT", &t)?,
                None => Some(Duration::from_secs(10)),
            },
            query_timeout: None,
            statement_cache_capacity: DEFAULT_STATEMENT_CACHE,
            share_sync: true,
        })
    }

    /// Parses a `postgres://user:password@host:port,host2:port2/dbname?key=value` URL.
    /// Anything the URL leaves out falls back to the environment, as in libpq.
    ///
    /// Query keys: `sslmode`, `sslrootcert`, `application_name`, `options`,
    /// `connect_timeout` (seconds), `host` (may be a Unix socket directory), `port`, `user`,
    /// `password`, `dbname`, and Lifeguard's own `query_timeout` (seconds),
    /// `statement_cache_capacity` and `share_sync` (`true`/`false`).
    pub fn from_url(url: &str) -> Result<Config> {
        let rest = url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
            .ok_or_else(|| {
                Error::config("a connection URL must start with postgres:// or postgresql://")
            })?;
        let mut cfg = Config::from_env()?;
        let (rest, query) = match rest.split_once('?') {
            Some((a, b)) => (a, Some(b)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let (userinfo, hostlist) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        if let Some(userinfo) = userinfo {
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                cfg.user = decode(user)?;
                if env("PGDATABASE").is_none() {
                    cfg.dbname = cfg.user.clone();
                }
            }
            if let Some(p) = password {
                cfg.password = Some(decode(p)?.into_bytes());
            }
        }
        if !hostlist.is_empty() {
            let default_port = cfg.hosts.first().map(|h| h.1).unwrap_or(5432);
            let mut hosts = Vec::new();
            for spec in hostlist.split(',') {
                let (host, port) = if let Some(inner) = spec.strip_prefix('[') {
                    // [ipv6]:port
                    let (h, after) = inner
                        .split_once(']')
                        .ok_or_else(|| Error::config(format!("unclosed `[` in host `{spec}`")))?;
                    let port = match after.strip_prefix(':') {
                        Some(p) => parse_port(p)?,
                        None => default_port,
                    };
                    (h.to_string(), port)
                } else {
                    match spec.rsplit_once(':') {
                        Some((h, p)) => (decode(h)?, parse_port(p)?),
                        None => (decode(spec)?, default_port),
                    }
                };
                if host.is_empty() {
                    hosts.push((default_host(), port));
                } else {
                    hosts.push((parse_host(&host), port));
                }
            }
            cfg.hosts = hosts;
        }
        if let Some(path) = path.filter(|p| !p.is_empty()) {
            cfg.dbname = decode(path)?;
        }
        let mut port_override = None;
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| Error::config(format!("URL parameter `{pair}` has no value")))?;
            let value = decode(value)?;
            match key {
                "sslmode" => cfg.ssl_mode = value.parse()?,
                "sslrootcert" => cfg.ssl_root_cert = Some(PathBuf::from(value)),
                "application_name" => cfg.application_name = Some(value),
                "options" => cfg.options = Some(value),
                "connect_timeout" => cfg.connect_timeout = parse_secs(key, &value)?,
                "query_timeout" => cfg.query_timeout = parse_secs(key, &value)?,
                "statement_cache_capacity" => {
                    cfg.statement_cache_capacity = value.parse().map_err(|_| {
                        Error::config(format!("invalid statement_cache_capacity `{value}`"))
                    })?
                }
                "share_sync" => {
                    cfg.share_sync = value.parse().map_err(|_| {
                        Error::config(format!("invalid share_sync `{value}` (true or false)"))
                    })?
                }
                "host" => {
                    let port = cfg.hosts.first().map(|h| h.1).unwrap_or(5432);
                    cfg.hosts = value.split(',').map(|h| (parse_host(h), port)).collect();
                }
                "port" => port_override = Some(parse_port(&value)?),
                "user" => cfg.user = value,
                "password" => cfg.password = Some(value.into_bytes()),
                "dbname" => cfg.dbname = value,
                other => {
                    return Err(Error::config(format!(
                        "unknown connection parameter `{other}`"
                    )))
                }
            }
        }
        if let Some(port) = port_override {
            for h in &mut cfg.hosts {
                h.1 = port;
            }
        }
        Ok(cfg)
    }

    /// The hosts tried in order, with their ports.
    pub fn hosts(&self) -> &[(Host, u16)] {
        &self.hosts
    }
    /// Replaces the host list with one host.
    pub fn host(&mut self, host: &str, port: u16) -> &mut Config {
        self.hosts = vec![(parse_host(host), port)];
        self
    }
    /// The role name.
    pub fn get_user(&self) -> &str {
        &self.user
    }
    /// Sets the role name.
    pub fn user(&mut self, user: &str) -> &mut Config {
        self.user = user.into();
        self
    }
    /// Sets the password.
    pub fn password(&mut self, password: impl AsRef<[u8]>) -> &mut Config {
        self.password = Some(password.as_ref().to_vec());
        self
    }
    /// The database name.
    pub fn get_dbname(&self) -> &str {
        &self.dbname
    }
    /// Sets the database name.
    pub fn dbname(&mut self, dbname: &str) -> &mut Config {
        self.dbname = dbname.into();
        self
    }
    /// Sets `application_name`.
    pub fn application_name(&mut self, name: &str) -> &mut Config {
        self.application_name = Some(name.into());
        self
    }
    /// Sets the TLS mode.
    pub fn ssl_mode(&mut self, mode: SslMode) -> &mut Config {
        self.ssl_mode = mode;
        self
    }
    /// The TLS mode.
    pub fn get_ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }
    /// Sets the PEM file of trusted root certificates.
    pub fn ssl_root_cert(&mut self, path: impl Into<PathBuf>) -> &mut Config {
        self.ssl_root_cert = Some(path.into());
        self
    }
    /// Sets the connect timeout (per host tried); `None` waits forever.
    pub fn connect_timeout(&mut self, timeout: Option<Duration>) -> &mut Config {
        self.connect_timeout = timeout;
        self
    }
    /// Sets a client-side limit on each query: past it the query is cancelled on the server
    /// and the caller gets a timeout error; the connection stays usable.
    pub fn query_timeout(&mut self, timeout: Option<Duration>) -> &mut Config {
        self.query_timeout = timeout;
        self
    }
    /// Sets how many prepared statements each connection keeps (default 1024; 0 disables
    /// the cache). See [`PoolBuilder::statement_cache_capacity`](crate::PoolBuilder::statement_cache_capacity).
    pub fn statement_cache_capacity(&mut self, capacity: usize) -> &mut Config {
        self.statement_cache_capacity = capacity;
        self
    }
    /// Sets whether pipelined read-only statements share one `Sync` (default on). See
    /// [`PoolBuilder::share_sync`](crate::PoolBuilder::share_sync).
    pub fn share_sync(&mut self, on: bool) -> &mut Config {
        self.share_sync = on;
        self
    }
}

impl FromStr for Config {
    type Err = Error;
    fn from_str(s: &str) -> Result<Config> {
        Config::from_url(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_url() {
        let c: Config = "postgres://al%40ice:p%3Ass@db.example:6543/my%20db?sslmode=require&application_name=app&connect_timeout=3&query_timeout=1.5"
            .parse()
            .unwrap();
        assert_eq!(c.user, "al@ice");
        assert_eq!(c.password.as_deref(), Some(&b"p:ss"[..]));
        assert_eq!(c.hosts, vec![(Host::Tcp("db.example".into()), 6543)]);
        assert_eq!(c.dbname, "my db");
        assert_eq!(c.ssl_mode, SslMode::Require);
        assert_eq!(c.application_name.as_deref(), Some("app"));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(3)));
        assert_eq!(c.query_timeout, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn parses_unix_socket_and_multiple_hosts() {
        let c: Config = "postgresql://u@%2Fvar%2Frun%2Fpostgresql:5433/d"
            .parse()
            .unwrap();
        assert_eq!(
            c.hosts,
            vec![(Host::Unix("/var/run/postgresql".into()), 5433)]
        );
        let c: Config = "postgres://u@/d?host=/tmp&port=6000".parse().unwrap();
        assert_eq!(c.hosts, vec![(Host::Unix("/tmp".into()), 6000)]);
        let c: Config = "postgres://u@a:1,b:2,[::1]:3/d".parse().unwrap();
        assert_eq!(
            c.hosts,
            vec![
                (Host::Tcp("a".into()), 1),
                (Host::Tcp("b".into()), 2),
                (Host::Tcp("::1".into()), 3)
            ]
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "mysql://x",
            "postgres://u@h:notaport/d",
            "postgres://u@h/d?sslmode=sometimes",
            "postgres://u@h/d?bogus=1",
            "postgres://u@h/d?connect_timeout=soon",
        ] {
            let err = bad.parse::<Config>().unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{bad}: {err}");
        }
    }
}
