//! Throwaway PostgreSQL clusters for tests that need a specially configured server
//! (authentication methods, TLS, later a streaming replica).
//!
//! Each [`TempCluster`] is a fresh `initdb` in its own directory under `/tmp`
//! (`/tmp/lifeguard-cluster-<pid>-<n>`), listening on a free port of 127.0.0.1 and on a Unix
//! socket in that directory; dropping it stops that server and removes the directory. When
//! the tests run as root, the server runs as the `postgres` OS user (`runuser -u postgres`).
//! Everything is safe to call from parallel test threads. Only std is used; the PostgreSQL
//! server binaries (and `openssl`, for TLS) must be installed, as `scripts/ensure-services.sh`
//! makes sure they are.
//!
//! Server binaries are looked up in `$PG_BINDIR`, then `pg_config --bindir`, then the highest
//! `/usr/lib/postgresql/<major>/bin`, then `PATH`.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, Once, OnceLock};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// The password-holding role every cluster has, and its password.
pub const USER: &str = "lg_user";
/// The password of [`USER`].
pub const PASSWORD: &str = "lg_pass";

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: u32 = 5;

/// How TCP connections from 127.0.0.1 authenticate (`pg_hba.conf` method).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `trust`: no password asked.
    Trust,
    /// `password`: the password in cleartext.
    Password,
    /// `md5`, with the role's password stored as an MD5 hash.
    Md5,
    /// `scram-sha-256`.
    Scram,
}

impl Auth {
    /// The `pg_hba.conf` method name.
    pub fn hba_method(self) -> &'static str {
        match self {
            Auth::Trust => "trust",
            Auth::Password => "password",
            Auth::Md5 => "md5",
            Auth::Scram => "scram-sha-256",
        }
    }

    fn password_encryption(self) -> &'static str {
        match self {
            Auth::Md5 => "md5",
            _ => "scram-sha-256",
        }
    }
}

/// What kind of server to start.
#[derive(Clone, Copy, Debug)]
pub struct ClusterOptions {
    /// Authentication of TCP connections.
    pub auth: Auth,
    /// Serve TLS (`ssl=on`) with a certificate for `localhost` / 127.0.0.1.
    pub ssl: bool,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            auth: Auth::Trust,
            ssl: false,
        }
    }
}

/// A running throwaway cluster; dropping it stops the server and removes its files.
#[derive(Debug)]
pub struct TempCluster {
    /// `/tmp/lifeguard-cluster-<pid>-<n>`: the socket directory, holding `data/` and the log.
    root: PathBuf,
    data: PathBuf,
    bindir: PathBuf,
    port: u16,
    pid: u32,
    ca_cert: Option<PathBuf>,
}

impl TempCluster {
    /// Creates, configures and starts a cluster, with the role `lg_user` / `lg_pass`.
    /// Returns once it accepts connections (at most ~30 s), else an error with the log's tail.
    pub fn start(opts: ClusterOptions) -> io::Result<TempCluster> {
        sweep_stale_clusters();
        let bindir = bindir()?.to_path_buf();
        let root = make_root_dir()?;
        let data = root.join("data");
        // From here on, a failure removes what was made (and stops a started server).
        let mut cluster = TempCluster {
            root,
            data,
            bindir,
            port: 0,
            pid: 0,
            ca_cert: None,
        };
        cluster.init(opts)?;
        Ok(cluster)
    }

    /// The TCP port on 127.0.0.1 (also the Unix socket's `.s.PGSQL.<port>`).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory holding the server's Unix-domain socket.
    pub fn socket_dir(&self) -> &Path {
        &self.root
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.root.join("server.log")
    }

    /// The directory of the server binaries in use (`initdb`, `pg_ctl`, `psql`, …).
    pub fn bindir(&self) -> &Path {
        &self.bindir
    }

    /// The postmaster's process id.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Stops the server with `pg_ctl stop -m <mode>` (`smart`, `fast`, `immediate`), waiting
    /// until it is down; the files stay, for [`TempCluster::start_again`].
    pub fn stop(&self, mode: &str) -> io::Result<()> {
        let out = run(&mut as_postgres(
            &self.bindir.join("pg_ctl"),
            [
                OsStr::new("-D"),
                self.data.as_os_str(),
                OsStr::new("-m"),
                OsStr::new(mode),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("60"),
                OsStr::new("stop"),
            ],
        ))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "pg_ctl stop -m {mode} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }

    /// Starts a stopped server again on the same port and waits until it accepts
    /// connections (after crash recovery, for an `immediate` stop).
    pub fn start_again(&mut self) -> io::Result<()> {
        let log = self.log_path();
        let out = self.pg_ctl_start()?;
        if !out.status.success() || !self.wait_ready() {
            return Err(io::Error::other(format!(
                "restarting PostgreSQL on port {} failed: {}\n--- log tail ---\n{}",
                self.port,
                String::from_utf8_lossy(&out.stderr).trim(),
                log_tail(&log, 30)
            )));
        }
        self.pid = read_postmaster_pid(&self.data).unwrap_or(0);
        Ok(())
    }

    /// `postgres://lg_user:lg_pass@127.0.0.1:PORT/postgres`: TCP, through the configured
    /// authentication method.
    pub fn url(&self) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    /// The superuser `postgres` through the Unix socket, which is always `trust`.
    pub fn superuser_url(&self) -> String {
        format!(
            "postgres://postgres@/postgres?host={}&port={}",
            self.root.display(),
            self.port
        )
    }

    /// The CA certificate that signed the server's certificate (for `verify-ca` /
    /// `verify-full`; the server certificate names `localhost` and 127.0.0.1).
    /// Panics when the cluster was started without `ssl`.
    pub fn ca_cert_path(&self) -> PathBuf {
        self.ca_cert
            .clone()
            .expect("ca_cert_path: this TempCluster was started with ssl: false")
    }

    /// Runs SQL as the superuser through the Unix socket with `psql` and returns its
    /// unaligned, tuples-only output.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        let out = run(clean_pg_env(Command::new(self.bindir.join("psql")))
            .arg("-X")
            .arg("-q")
            .arg("-A")
            .arg("-t")
            .args(["-v", "ON_ERROR_STOP=1"])
            .arg("-h")
            .arg(&self.root)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-c", sql]))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "psql {sql:?} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    fn init(&mut self, opts: ClusterOptions) -> io::Result<()> {
        let initdb = run(&mut as_postgres(
            &self.bindir.join("initdb"),
            [
                OsStr::new("-D"),
                self.data.as_os_str(),
                OsStr::new("-U"),
                OsStr::new("postgres"),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--locale=C"),
                OsStr::new("--no-sync"),
            ],
        ))?;
        if !initdb.status.success() {
            return Err(io::Error::other(format!(
                "initdb failed: {}{}",
                String::from_utf8_lossy(&initdb.stdout),
                String::from_utf8_lossy(&initdb.stderr)
            )));
        }

        let method = opts.auth.hba_method();
        write_as_postgres(
            &self.data.join("pg_hba.conf"),
            &format!(
                "# written by tests/support/cluster.rs\n\
                 local all all trust\n\
                 host all all 127.0.0.1/32 {method}\n\
                 host replication all 127.0.0.1/32 {method}\n\
                 local replication all trust\n"
            ),
        )?;

        let mut conf = format!(
            "\n# --- tests/support/cluster.rs ---\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             shared_buffers = 16MB\n\
             max_connections = 100\n\
             password_encryption = '{}'\n\
             logging_collector = off\n\
             wal_level = replica\n\
             max_wal_senders = 4\n",
            self.root.display(),
            opts.auth.password_encryption()
        );
        if opts.ssl {
            self.make_certificates()?;
            conf.push_str("ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n");
        } else {
            conf.push_str("ssl = off\n");
        }
        append_as_postgres(&self.data.join("postgresql.conf"), &conf)?;

        self.start_server()?;
        self.psql(&format!(
            "CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'; \
             GRANT ALL ON SCHEMA public TO {USER};"
        ))?;
        Ok(())
    }

    /// Starts the postmaster on a free port, retrying with another port when one was taken
    /// meanwhile, and waits until it accepts connections.
    fn start_server(&mut self) -> io::Result<()> {
        let log = self.log_path();
        let mut last_err = None;
        for _ in 0..START_ATTEMPTS {
            self.port = free_port()?;
            // pg_ctl writes the log as postgres: it must be able to create it.
            let out = self.pg_ctl_start()?;
            if out.status.success() && self.wait_ready() {
                self.pid = read_postmaster_pid(&self.data).ok_or_else(|| {
                    io::Error::other(format!(
                        "the server started but {}/postmaster.pid has no pid",
                        self.data.display()
                    ))
                })?;
                return Ok(());
            }
            let tail = log_tail(&log, 30);
            let msg = format!(
                "starting PostgreSQL on port {} failed: {}{}\n--- {} (tail) ---\n{tail}",
                self.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.display()
            );
            // Stop whatever may have come up half-way before trying again.
            self.stop_server();
            if tail.contains("could not bind") || tail.contains("already in use") {
                last_err = Some(msg);
                continue;
            }
            return Err(io::Error::other(msg));
        }
        Err(io::Error::other(last_err.unwrap_or_default()))
    }

    /// `pg_ctl start -w` on this cluster's port, logging to its log file.
    fn pg_ctl_start(&self) -> io::Result<Output> {
        let log = self.log_path();
        let port_opt = format!("-p {}", self.port);
        let timeout = READY_TIMEOUT.as_secs().to_string();
        run(&mut as_postgres(
            &self.bindir.join("pg_ctl"),
            [
                OsStr::new("-D"),
                self.data.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-o"),
                OsStr::new(&port_opt),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new(&timeout),
                OsStr::new("start"),
            ],
        ))
    }

    fn wait_ready(&self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let ok = clean_pg_env(Command::new(self.bindir.join("pg_isready")))
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-t",
                    "2",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            sleep(Duration::from_millis(100));
        }
    }

    /// A CA and a server certificate it signs (CN and SAN `localhost`, SAN IP 127.0.0.1),
    /// so that `verify-full` can succeed; `server.crt`/`server.key` go into the data directory.
    fn make_certificates(&mut self) -> io::Result<()> {
        let dir = self.root.join("tls");
        fs::create_dir(&dir)?;
        let ca_key = dir.join("ca.key");
        let ca_crt = dir.join("ca.crt");
        let csr = dir.join("server.csr");
        let ext = dir.join("server.ext");
        let key = self.data.join("server.key");
        let crt = self.data.join("server.crt");
        fs::write(
            &ext,
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )?;
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-x509", "-days", "2", "-nodes"])
                .args(["-newkey", "rsa:2048", "-subj", "/CN=lifeguard test CA"])
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca_crt),
        )?;
        openssl(
            Command::new("openssl")
                .args(["req", "-new", "-nodes", "-newkey", "rsa:2048"])
                .args(["-subj", "/CN=localhost"])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&csr),
        )?;
        openssl(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "1", "-set_serial", "1"])
                .arg("-in")
                .arg(&csr)
                .arg("-CA")
                .arg(&ca_crt)
                .arg("-CAkey")
                .arg(&ca_key)
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&crt),
        )?;
        fs::set_permissions(&key, fs::Permissions::from_mode(0o600))?;
        fs::set_permissions(&crt, fs::Permissions::from_mode(0o644))?;
        if let Some((uid, gid)) = server_owner() {
            std::os::unix::fs::chown(&key, Some(uid), Some(gid))?;
            std::os::unix::fs::chown(&crt, Some(uid), Some(gid))?;
        }
        self.ca_cert = Some(ca_crt);
        Ok(())
    }

    /// Stops this cluster's postmaster (immediate mode; SIGKILL to the pid in its
    /// postmaster.pid when pg_ctl cannot), leaving its files.
    fn stop_server(&self) {
        if !self.data.join("postmaster.pid").exists() {
            return;
        }
        stop_data_dir(&self.bindir, &self.data);
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        self.stop_server();
        let _ = fs::remove_dir_all(&self.root);
    }
}

// ------------------------------------------------------------------------------------------
// helpers

/// Stops the postmaster serving `data`: `pg_ctl stop -m immediate`, else SIGKILL to the pid
/// recorded in its postmaster.pid, if that process is a postgres serving this very directory.
pub(super) fn stop_data_dir(bindir: &Path, data: &Path) {
    let stopped = run(&mut as_postgres(
        &bindir.join("pg_ctl"),
        [
            OsStr::new("-D"),
            data.as_os_str(),
            OsStr::new("-m"),
            OsStr::new("immediate"),
            OsStr::new("-w"),
            OsStr::new("-t"),
            OsStr::new("30"),
            OsStr::new("stop"),
        ],
    ))
    .map(|o| o.status.success())
    .unwrap_or(false);
    if stopped {
        return;
    }
    let Some(pid) = read_postmaster_pid(data) else {
        return;
    };
    let pidfile = fs::read_to_string(data.join("postmaster.pid")).unwrap_or_default();
    let serves_this_dir = pidfile.lines().nth(1).map(Path::new) == Some(data);
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let is_postgres = String::from_utf8_lossy(&cmdline).contains("postgres");
    if serves_this_dir && is_postgres {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Path::new(&format!("/proc/{pid}")).exists() && Instant::now() < deadline {
            sleep(Duration::from_millis(50));
        }
    }
}

pub(super) fn read_postmaster_pid(data: &Path) -> Option<u32> {
    fs::read_to_string(data.join("postmaster.pid"))
        .ok()?
        .lines()
        .next()?
        .trim()
        .parse()
        .ok()
}

pub(super) fn log_tail(path: &Path, lines: usize) -> String {
    let text = fs::read_to_string(path).unwrap_or_else(|e| format!("(cannot read: {e})"));
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// A port of 127.0.0.1 free right now, not handed out before by this process.
pub(super) fn free_port() -> io::Result<u16> {
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    for _ in 0..50 {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(io::Error::other("no free port on 127.0.0.1"))
}

const ROOT_PREFIX: &str = "lifeguard-cluster-";

/// A new, empty `/tmp/lifeguard-cluster-<pid>-<n>` the server's user can write.
/// (/tmp itself rather than $TMPDIR: the postgres user must reach it, and the socket path
/// must stay short.)
fn make_root_dir() -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let pid = std::process::id();
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/{ROOT_PREFIX}{pid}-{n}"));
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o755))?;
                if let Some((uid, gid)) = server_owner() {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
                }
                return Ok(dir);
            }
            // Left by an earlier process that had the same pid: take the next number.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Once per process: stops and removes clusters left behind by test processes that died
/// without dropping them (their pid no longer exists).
fn sweep_stale_clusters() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = fs::read_dir("/tmp") else {
            return;
        };
        let Ok(bindir) = bindir() else { return };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(ROOT_PREFIX)) else {
                continue;
            };
            let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            if Path::new(&format!("/proc/{owner}")).exists() {
                continue;
            }
            let root = entry.path();
            let data = root.join("data");
            if data.join("postmaster.pid").exists() {
                stop_data_dir(bindir, &data);
            }
            let _ = fs::remove_dir_all(&root);
        }
    });
}

pub(super) fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        // The effective uid is the second field of the `Uid:` line.
        fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("Uid:"))
                    .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
            })
            .unwrap_or(false)
    })
}

/// uid and gid of the `postgres` OS user when we are root (the server then runs as it);
/// None when we are not root (the server runs as ourselves).
fn server_owner() -> Option<(u32, u32)> {
    static OWNER: OnceLock<Option<(u32, u32)>> = OnceLock::new();
    *OWNER.get_or_init(|| {
        if !is_root() {
            return None;
        }
        let passwd = fs::read_to_string("/etc/passwd").ok()?;
        let line = passwd.lines().find(|l| l.starts_with("postgres:"))?;
        let fields: Vec<&str> = line.split(':').collect();
        Some((fields.get(2)?.parse().ok()?, fields.get(3)?.parse().ok()?))
    })
}

/// A command running `program args…` as the server's user: via `runuser -u postgres --`
/// (or `su postgres -c`) when we are root, directly otherwise. Runs from /tmp (the user may
/// not reach our working directory), PG* variables cleared.
pub(super) fn as_postgres<I, A>(program: &Path, args: I) -> Command
where
    I: IntoIterator<Item = A>,
    A: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let mut cmd = if !is_root() {
        let mut c = Command::new(program);
        c.args(&args);
        c
    } else if which("runuser").is_some() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program).args(&args);
        c
    } else {
        // `su -c` takes one shell string.
        let line = std::iter::once(program.as_os_str())
            .chain(args.iter().map(|a| a.as_os_str()))
            .map(shell_quote)
            .collect::<Vec<_>>()
            .join(" ");
        let mut c = Command::new("su");
        c.args(["-s", "/bin/sh", "-c"])
            .arg(format!("exec {line}"))
            .arg("postgres");
        c
    };
    cmd.current_dir("/tmp");
    clean_pg_env(&mut cmd);
    cmd
}

/// Clears PG* variables (PGHOST, PGSSLMODE, PGOPTIONS, …) that would redirect our commands.
pub(super) fn clean_pg_env<C: std::borrow::BorrowMut<Command>>(mut cmd: C) -> C {
    for (k, _) in std::env::vars_os() {
        if k.to_str().is_some_and(|k| k.starts_with("PG")) {
            cmd.borrow_mut().env_remove(k);
        }
    }
    cmd
}

fn shell_quote(s: &OsStr) -> String {
    format!("'{}'", s.to_string_lossy().replace('\'', r"'\''"))
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file())
}

pub(super) fn run(cmd: &mut Command) -> io::Result<Output> {
    cmd.stdin(Stdio::null())
        .output()
        .map_err(|e| io::Error::new(e.kind(), format!("running {cmd:?}: {e}")))
}

fn openssl(cmd: &mut Command) -> io::Result<()> {
    let out = run(cmd)?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Writes a file in the data directory, owned by the server's user.
fn write_as_postgres(path: &Path, text: &str) -> io::Result<()> {
    fs::write(path, text)?;
    if let Some((uid, gid)) = server_owner() {
        std::os::unix::fs::chown(path, Some(uid), Some(gid))?;
    }
    Ok(())
}

fn append_as_postgres(path: &Path, text: &str) -> io::Result<()> {
    fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(text.as_bytes())
}

/// The directory of the PostgreSQL server binaries (see the module docs).
fn bindir() -> io::Result<&'static Path> {
    static BINDIR: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BINDIR
        .get_or_init(find_bindir)
        .as_deref()
        .map_err(|e| io::Error::new(io::ErrorKind::NotFound, e.clone()))
}

fn find_bindir() -> Result<PathBuf, String> {
    let has_server = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(d) = std::env::var_os("PG_BINDIR").map(PathBuf::from) {
        if has_server(&d) {
            return Ok(d);
        }
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let d = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&d) {
            return Ok(d);
        }
    }
    let mut majors: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            Some((major, e.path().join("bin")))
        })
        .filter(|(_, d)| has_server(d))
        .collect();
    majors.sort();
    if let Some((_, d)) = majors.pop() {
        return Ok(d);
    }
    if let Some(initdb) = which("initdb") {
        let d = fs::canonicalize(&initdb)
            .unwrap_or(initdb)
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        if has_server(&d) {
            return Ok(d);
        }
    }
    Err(
        "no PostgreSQL server binaries (initdb, pg_ctl) found: install PostgreSQL \
         (scripts/ensure-services.sh does) or set PG_BINDIR"
            .into(),
    )
}
