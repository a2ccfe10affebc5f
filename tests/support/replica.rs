//! A real streaming replica of a throwaway primary, for the replica router's tests.
//!
//! [`ReplicaPair::start`] starts a [`TempCluster`] (already configured for replication:
//! `wal_level = replica`, `max_wal_senders`, replication lines in `pg_hba.conf`), clones it
//! with `pg_basebackup -R` into `/tmp/lifeguard-replica-<pid>-<n>` as the cluster's OS user,
//! and starts that copy as a hot standby on another free loopback port. Dropping the pair
//! stops the replica by its own data directory, then the primary. Replicas left by a test
//! process that died are stopped and removed at the next start.

use std::ffi::OsStr;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread::sleep;
use std::time::{Duration, Instant};

use super::cluster::{
    as_postgres, clean_pg_env, free_port, is_root, log_tail, read_postmaster_pid, run,
    stop_data_dir, ClusterOptions, TempCluster, PASSWORD, USER,
};

const ROOT_PREFIX: &str = "lifeguard-replica-";
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A primary and one streaming replica of it.
pub struct ReplicaPair {
    // Dropped first: the replica stops before its primary.
    replica: Standby,
    primary: TempCluster,
}

struct Standby {
    root: PathBuf,
    data: PathBuf,
    bindir: PathBuf,
    port: u16,
}

impl ReplicaPair {
    /// Starts a primary and a replica streaming from it; returns once the replica is in
    /// recovery and its WAL receiver is streaming (at most ~90 s, generous for a loaded
    /// machine), else an error with the replica's log tail.
    pub fn start() -> io::Result<ReplicaPair> {
        sweep_stale_replicas();
        let primary = TempCluster::start(ClusterOptions::default())?;
        let meta = fs::metadata(primary.socket_dir())?;
        let owner = (meta.uid(), meta.gid());
        let root = make_root_dir(owner)?;
        let replica = Standby {
            data: root.join("data"),
            root,
            bindir: primary.bindir().to_path_buf(),
            port: 0,
        };
        let mut pair = ReplicaPair { replica, primary };
        pair.clone_and_start()?;
        Ok(pair)
    }

    /// The primary.
    pub fn primary(&self) -> &TempCluster {
        &self.primary
    }

    /// `lg_user` on the primary over TCP.
    pub fn primary_url(&self) -> String {
        self.primary.url()
    }

    /// `lg_user` on the replica over TCP.
    pub fn replica_url(&self) -> String {
        format!(
            "postgres://{USER}:{PASSWORD}@127.0.0.1:{}/postgres",
            self.replica.port
        )
    }

    /// The superuser on the replica through its Unix socket (for `pg_wal_replay_pause()`).
    pub fn replica_superuser_url(&self) -> String {
        format!(
            "postgres://postgres@/postgres?host={}&port={}",
            self.replica.root.display(),
            self.replica.port
        )
    }

    /// The replica's TCP port.
    pub fn replica_port(&self) -> u16 {
        self.replica.port
    }

    /// The replica's postmaster pid (from its own `postmaster.pid`), while it runs.
    pub fn replica_pid(&self) -> Option<u32> {
        read_postmaster_pid(&self.replica.data)
    }

    /// Kills the replica's server (`pg_ctl stop -m immediate` on its own data directory,
    /// SIGKILL to its own postmaster pid if that fails) and waits until it is gone.
    pub fn kill_replica(&self) {
        self.replica.stop();
    }

    fn clone_and_start(&mut self) -> io::Result<()> {
        let r = &self.replica;
        let out = run(&mut as_postgres(
            &r.bindir.join("pg_basebackup"),
            [
                OsStr::new("-D"),
                r.data.as_os_str(),
                OsStr::new("-h"),
                self.primary.socket_dir().as_os_str(),
                OsStr::new("-p"),
                OsStr::new(&self.primary.port().to_string()),
                OsStr::new("-U"),
                OsStr::new("postgres"),
                OsStr::new("-R"),
                OsStr::new("-X"),
                OsStr::new("stream"),
                OsStr::new("--checkpoint=fast"),
                OsStr::new("--no-sync"),
            ],
        ))?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "pg_basebackup failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        // The copied postgresql.conf names the primary's socket directory: use our own.
        fs::OpenOptions::new()
            .append(true)
            .open(r.data.join("postgresql.conf"))?
            .write_all(
                format!(
                    "\n# --- tests/support/replica.rs ---\n\
                     unix_socket_directories = '{}'\n\
                     hot_standby = on\n\
                     wal_receiver_status_interval = 1s\n\
                     max_standby_streaming_delay = -1\n",
                    r.root.display()
                )
                .as_bytes(),
            )?;
        self.start_server()?;
        self.wait_streaming()
    }

    fn start_server(&mut self) -> io::Result<()> {
        let log = self.replica.root.join("server.log");
        let mut last = String::new();
        for _ in 0..5 {
            self.replica.port = free_port()?;
            let port_opt = format!("-p {}", self.replica.port);
            let out = run(&mut as_postgres(
                &self.replica.bindir.join("pg_ctl"),
                [
                    OsStr::new("-D"),
                    self.replica.data.as_os_str(),
                    OsStr::new("-l"),
                    log.as_os_str(),
                    OsStr::new("-o"),
                    OsStr::new(&port_opt),
                    OsStr::new("-w"),
                    OsStr::new("-t"),
                    OsStr::new("90"),
                    OsStr::new("start"),
                ],
            ))?;
            if out.status.success() {
                return Ok(());
            }
            let tail = log_tail(&log, 30);
            last = format!(
                "starting the replica on port {} failed: {}{}\n--- {} (tail) ---\n{tail}",
                self.replica.port,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                log.display()
            );
            self.replica.stop();
            if !(tail.contains("could not bind") || tail.contains("already in use")) {
                break;
            }
        }
        Err(io::Error::other(last))
    }

    /// Until the replica reports recovery and a streaming WAL receiver.
    fn wait_streaming(&self) -> io::Result<()> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let sql = "SELECT pg_is_in_recovery() AND EXISTS \
                   (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')";
        loop {
            match self.replica_psql(sql) {
                Ok(out) if out == "t" => return Ok(()),
                Ok(_) | Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(200)),
                res => {
                    return Err(io::Error::other(format!(
                        "the replica did not start streaming within {READY_TIMEOUT:?} \
                         (last answer {res:?})\n--- log tail ---\n{}",
                        log_tail(&self.replica.root.join("server.log"), 30)
                    )))
                }
            }
        }
    }

    /// Runs SQL on the replica as the superuser with `psql` (unaligned, tuples only).
    pub fn replica_psql(&self, sql: &str) -> io::Result<String> {
        let out = run(
            clean_pg_env(&mut Command::new(self.replica.bindir.join("psql")))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(&self.replica.root)
                .args(["-p", &self.replica.port.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-c", sql]),
        )?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "psql {sql:?} on the replica failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Standby {
    fn stop(&self) {
        if self.data.join("postmaster.pid").exists() {
            stop_data_dir(&self.bindir, &self.data);
        }
    }
}

impl Drop for Standby {
    fn drop(&mut self) {
        self.stop();
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// `/tmp/lifeguard-replica-<pid>-<n>`, owned by the server's user.
fn make_root_dir((uid, gid): (u32, u32)) -> io::Result<PathBuf> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = PathBuf::from(format!("/tmp/{ROOT_PREFIX}{}-{n}", std::process::id()));
        match fs::create_dir(&dir) {
            Ok(()) => {
                if is_root() {
                    std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Once per process: stops and removes replicas left by test processes that died.
fn sweep_stale_replicas() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Ok(entries) = fs::read_dir("/tmp") else {
            return;
        };
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
            let data = entry.path().join("data");
            if data.join("postmaster.pid").exists() {
                if let Some(bindir) = pg_ctl_dir() {
                    stop_data_dir(&bindir, &data);
                }
            }
            let _ = fs::remove_dir_all(entry.path());
        }
    });
}

/// The highest installed server binaries' directory (a stale replica's own is unknown).
fn pg_ctl_dir() -> Option<PathBuf> {
    fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|d| d.join("pg_ctl").is_file())
        .max()
}
