//! A pipelined Redis connection on `may::net`: callers append their encoded commands to one
//! buffer and queue a waiter; whoever finds no write in progress writes the buffer, and
//! keeps writing what others appended meanwhile, so concurrent callers share a syscall.
//! One reader coroutine parses replies (the `redis` crate's RESP parser) and hands each
//! waiter its replies in order. Thousands of coroutines share a few connections, as they
//! do the Postgres driver's.

use std::collections::VecDeque;
use std::io::Write;
use std::net::{Shutdown, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use may::net::TcpStream;
use may::sync::Blocker;
use redis::Value;

use crate::error::{Error, ErrorKind, Result};

/// Where and how to connect (parsed once from the URL).
#[derive(Clone, Debug)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: i64,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<String>,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Target> {
        use redis::IntoConnectionInfo;
        let info = url
            .into_connection_info()
            .map_err(|e| cache_error(format!("invalid Redis URL: {e}")))?;
        let (host, port) = match info.addr() {
            redis::ConnectionAddr::Tcp(h, p) => (h.clone(), *p),
            other => {
                return Err(cache_error(format!(
                    "unsupported Redis address {other:?}: only redis:// over TCP"
                )))
            }
        };
        let r = info.redis_settings();
        Ok(Target {
            host,
            port,
            db: r.db(),
            username: r.username().map(str::to_owned),
            password: r.password().map(str::to_owned),
        })
    }
}

pub(crate) fn cache_error(what: impl Into<std::borrow::Cow<'static, str>>) -> Error {
    Error::new(ErrorKind::Cache, what, None)
}

type Outcome = std::result::Result<Vec<Value>, String>;

/// Where a caller's replies land: one allocation and the caller's own parker (may's mpsc
/// channel costs several allocations per call, as the driver's slot notes).
struct Reply {
    value: Mutex<Option<Outcome>>,
    blocker: Blocker,
    /// Made in a coroutine (its blocker parks coroutines): only those are recycled, and
    /// only for coroutines.
    in_coroutine: bool,
}

thread_local! {
    /// Replies whose request is over, for this may worker's next requests: a request
    /// then allocates neither the slot nor its parker (as the driver's slots do).
    static FREE: std::cell::RefCell<Vec<Arc<Reply>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// How many replies a thread keeps.
const FREE_MAX: usize = 64;

impl Reply {
    /// A reply from this thread's free list, or a new one.
    fn get() -> Arc<Reply> {
        let in_coroutine = may::coroutine::is_coroutine();
        if in_coroutine {
            // `try_with`: a thread being torn down has no free list any more.
            if let Some(r) = FREE.try_with(|f| f.borrow_mut().pop()).ok().flatten() {
                return r;
            }
        }
        Arc::new(Reply {
            value: Mutex::new(None),
            blocker: Blocker::new(false),
            in_coroutine,
        })
    }

    /// Returns a reply to the free list once nobody else holds it: the reader has dropped
    /// its waiter, so no late wake-up or value can reach the next request. A wake-up
    /// permit left from this request only makes the next wait look once more.
    fn recycle(mut reply: Arc<Reply>) {
        if !reply.in_coroutine || !may::coroutine::is_coroutine() {
            return;
        }
        let Some(r) = Arc::get_mut(&mut reply) else {
            return;
        };
        *r.value.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        let _ = FREE.try_with(|f| {
            let mut free = f.borrow_mut();
            if free.len() < FREE_MAX {
                free.push(reply);
            }
        });
    }

    fn set(&self, v: Outcome) {
        *self.value.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        self.blocker.unpark();
    }
    fn take(&self) -> Option<Outcome> {
        self.value.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// A caller waiting for `want` replies.
struct Waiter {
    want: usize,
    got: Vec<Value>,
    reply: Arc<Reply>,
}

struct Shared {
    pending: Mutex<VecDeque<Waiter>>,
    dead: AtomicBool,
}

impl Shared {
    /// Fails every queued waiter (the connection is gone; their replies will never come).
    fn fail_all(&self, why: &str) {
        self.dead.store(true, Ordering::Release);
        let waiters: Vec<Waiter> = self.pending.lock().unwrap().drain(..).collect();
        for w in waiters {
            w.reply.set(Err(why.to_owned()));
        }
    }
}

/// Bytes waiting to be written, and whether a caller is writing.
struct Outbox {
    buf: Vec<u8>,
    /// An empty buffer with capacity, put in `buf`'s place while the flusher writes it,
    /// so callers appending meanwhile do not allocate a new one.
    spare: Vec<u8>,
    flushing: bool,
}

/// One connection. Dropping the last handle shuts the socket, which ends the reader.
pub(crate) struct Conn {
    /// Only the flushing caller touches the socket; the lock is never contended.
    stream: may::sync::Mutex<TcpStream>,
    outbox: Mutex<Outbox>,
    shared: Arc<Shared>,
}

impl Drop for Conn {
    fn drop(&mut self) {
        if let Ok(w) = self.stream.lock() {
            let _ = w.shutdown(Shutdown::Both);
        }
    }
}

impl Conn {
    /// Connects, starts the reader, then authenticates and selects the database.
    pub(crate) fn connect(
        target: &Target,
        timeout: Duration,
        call_timeout: Duration,
    ) -> Result<Conn> {
        let addrs = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Cache,
                    format!("resolving {}", target.host),
                    Some(Box::new(e)),
                )
            })?;
        let mut last = None;
        let mut stream = None;
        for addr in addrs {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(s) => {
                    stream = Some(s);
                    break;
                }
                Err(e) => last = Some(e),
            }
        }
        let stream = stream.ok_or_else(|| {
            Error::new(
                ErrorKind::Cache,
                format!("connecting to Redis at {}:{}", target.host, target.port),
                last.map(|e| Box::new(e) as _),
            )
        })?;
        let _ = stream.set_nodelay(true);
        let read = stream.try_clone().map_err(|e| {
            Error::new(
                ErrorKind::Cache,
                "cloning the Redis socket",
                Some(Box::new(e)),
            )
        })?;
        let shared = Arc::new(Shared {
            pending: Mutex::new(VecDeque::new()),
            dead: AtomicBool::new(false),
        });
        let reader_shared = shared.clone();
        // SAFETY (may): the reader keeps no thread-local state across yields. The RESP
        // parser (combine) recurses per nesting level: a larger stack than may's default.
        let spawned = unsafe {
            may::coroutine::Builder::new()
                .name("lifeguard-redis-reader".into())
                .stack_size(0x10000)
                .spawn(move || reader_loop(read, reader_shared))
        };
        spawned.map_err(|e| {
            Error::new(
                ErrorKind::Cache,
                "spawning the Redis reader",
                Some(Box::new(e)),
            )
        })?;
        let conn = Conn {
            stream: may::sync::Mutex::new(stream),
            outbox: Mutex::new(Outbox {
                buf: Vec::with_capacity(8 * 1024),
                spare: Vec::with_capacity(8 * 1024),
                flushing: false,
            }),
            shared,
        };
        let mut setup = redis::pipe();
        let mut n = 0;
        if let Some(pw) = &target.password {
            let mut auth = redis::cmd("AUTH");
            if let Some(user) = &target.username {
                auth.arg(user);
            }
            auth.arg(pw);
            setup.add_command(auth);
            n += 1;
        }
        if target.db != 0 {
            setup.add_command(redis::cmd("SELECT").arg(target.db).to_owned());
            n += 1;
        }
        if n > 0 {
            let bytes = setup.get_packed_pipeline();
            let encode = |out: &mut Vec<u8>| out.extend_from_slice(&bytes);
            for v in conn.request(encode, n, call_timeout.max(timeout))? {
                if let Value::ServerError(e) = v {
                    return Err(cache_error(format!(
                        "Redis refused the connection set-up: {e}"
                    )));
                }
            }
        }
        Ok(conn)
    }

    /// True once the socket failed; the owner replaces the connection.
    pub(crate) fn is_dead(&self) -> bool {
        self.shared.dead.load(Ordering::Acquire)
    }

    /// Writes the commands `encode` appends to the outbox (`want` of them; they are
    /// encoded in place, not into a buffer of their own that is then copied) and waits up
    /// to `timeout` for their replies. A timeout leaves the connection usable: the late
    /// replies go to nobody.
    pub(crate) fn request(
        &self,
        encode: impl FnOnce(&mut Vec<u8>),
        want: usize,
        timeout: Duration,
    ) -> Result<Vec<Value>> {
        if self.is_dead() {
            return Err(cache_error("the Redis connection is closed"));
        }
        let reply = Reply::get();
        let mut out = {
            let mut ob = self.outbox.lock().unwrap();
            // Queued under the outbox lock, so the waiters' order is the bytes' order.
            self.shared.pending.lock().unwrap().push_back(Waiter {
                want,
                got: Vec::with_capacity(want),
                reply: reply.clone(),
            });
            encode(&mut ob.buf);
            if ob.flushing {
                None
            } else {
                ob.flushing = true;
                let spare = std::mem::take(&mut ob.spare);
                Some(std::mem::replace(&mut ob.buf, spare))
            }
        };
        while let Some(mut chunk) = out.take() {
            let written = self
                .stream
                .lock()
                .map_err(|_| cache_error("the Redis socket lock is poisoned"))
                .and_then(|mut s| {
                    s.write_all(&chunk).map_err(|e| {
                        let _ = s.shutdown(Shutdown::Both);
                        Error::new(ErrorKind::Cache, "writing to Redis", Some(Box::new(e)))
                    })
                });
            let mut ob = self.outbox.lock().unwrap();
            if let Err(e) = written {
                ob.flushing = false;
                drop(ob);
                self.shared.fail_all("writing to Redis failed");
                return Err(e);
            }
            chunk.clear();
            if ob.buf.is_empty() {
                // The written buffer is the next round's spare.
                ob.spare = chunk;
                ob.flushing = false;
            } else {
                // More arrived while we wrote: ours to write too.
                std::mem::swap(&mut ob.buf, &mut chunk);
                out = Some(chunk);
            }
        }
        let deadline = std::time::Instant::now() + timeout;
        let outcome = loop {
            match reply.take() {
                Some(Ok(values)) => break Ok(values),
                Some(Err(why)) => break Err(cache_error(why)),
                None => {}
            }
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                // The waiter stays queued (holding the reply), so this one is not recycled.
                break Err(Error::new(
                    ErrorKind::Cache,
                    format!("no answer from Redis within {timeout:?}"),
                    None,
                ));
            }
            // A wake-up before the park makes it return at once; a spurious one loops.
            let _ = reply
                .blocker
                .park(Some(crate::driver::wait::parker_timeout(left)));
        };
        Reply::recycle(reply);
        outcome
    }
}

fn reader_loop(mut stream: TcpStream, shared: Arc<Shared>) {
    // No BufReader: the parser's decoder keeps its own buffer and reads only when it
    // lacks bytes, so a BufReader in between only added a copy of every reply.
    let mut parser = redis::Parser::new();
    loop {
        match parser.parse_value(&mut stream) {
            Ok(value) => {
                let mut pending = shared.pending.lock().unwrap();
                let Some(front) = pending.front_mut() else {
                    drop(pending);
                    // A reply nobody asked for: the stream is out of step; give up on it.
                    shared.fail_all("Redis sent a reply nobody asked for");
                    return;
                };
                front.got.push(value);
                if front.got.len() >= front.want {
                    let w = pending.pop_front().expect("front exists");
                    drop(pending);
                    w.reply.set(Ok(w.got));
                }
            }
            Err(e) => {
                shared.fail_all(&format!("the Redis connection closed: {e}"));
                let _ = stream.shutdown(Shutdown::Both);
                return;
            }
        }
    }
}
