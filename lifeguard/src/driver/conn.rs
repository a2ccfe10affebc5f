//! The shared connection: many callers pipeline requests over one socket.
//!
//! * **Writing.** A caller encodes its request straight into the shared output buffer and
//!   appends its responder to the FIFO queue under one lock, so the queue order is the wire
//!   order, and wakes the connection's writer coroutine unless it is already awake. The
//!   writer runs after the coroutines that are ready now, so one write carries everything
//!   they (and a caller sending many queries in a row) buffered meanwhile; a caller never
//!   waits for the write itself, except past a large backlog (COPY), which bounds the buffer.
//! * **Reading.** One reader coroutine per connection parses message headers and hands each
//!   request the run of messages up to and including its `ReadyForQuery`, as zero-copy
//!   chunks. Notifications, notices and parameter changes are peeled off on the way.
//! * **Shared `Sync`.** Reads safe to run in one implicit transaction ([`Conn::send_shared`])
//!   leave out their `Sync`; the batch they form ends with one `Sync` when the writer takes
//!   the buffer, when anything else is queued, or at 64 statements. The reader ends each
//!   member's answer at its `CommandComplete` or error; a `ReadyForQuery` while members are
//!   still due means the server skipped them after a failure, and their callers send them again.
//! * **Exclusivity.** Transactions and `COPY FROM STDIN` take the gate: until they release it,
//!   only requests carrying their token may be written; the rest wait.
//! * **Failure.** When the socket dies every queued responder is dropped, so every waiter
//!   wakes at once with the reason; nothing waits on a dead connection.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use may::sync::mpsc::{self, Receiver, Sender};
use may::sync::{Condvar, Mutex, MutexGuard};
use postgres_protocol::message::backend::{Header, Message};
use postgres_protocol::message::frontend;
use postgres_types::{Oid, Type};

use crate::driver::cancel::CancelToken;
use crate::driver::config::Config;
use crate::driver::notify::Notification;
use crate::driver::slot::{slot, RecvError, SlotReceiver, SlotSender};
use crate::driver::socket::{ReadHalf, Stream, WriteHalf};
use crate::driver::statement::StatementCache;
use crate::error::{DbError, Error, Result};

/// Attempts at the connection's state lock before a caller parks for it.
const LOCK_SPINS: usize = 100;

/// Identifies the holder of a connection's exclusive gate.
pub(crate) type Token = u64;

/// Where the reader delivers one request's responses.
pub(crate) enum Responder {
    Slot(SlotSender),
    /// Fire-and-forget requests (rollback on drop): responses are read and dropped.
    Discard,
    /// A statement sharing one `Sync` with its neighbours ([`Conn::send_shared`]): its
    /// answer ends with its own `CommandComplete` (or error), not a `ReadyForQuery`.
    Member(SlotSender),
    /// The `ReadyForQuery` that answers a shared batch's `Sync`.
    BatchEnd,
}

/// Most statements sharing one `Sync`: bounds what one failing statement makes the server
/// skip (and its callers send again).
const BATCH_MAX: usize = 64;

#[derive(Clone)]
struct Closed {
    reason: String,
    db: Option<DbError>,
}

struct State {
    buf: BytesMut,
    /// The writer coroutine has been woken and has not yet found the buffer empty.
    flushing: bool,
    queue: VecDeque<Responder>,
    /// Requests ever queued; a request's sequence number is the value before its push.
    queued: u64,
    closed: Option<Closed>,
    exclusive: Option<Token>,
    /// Statements dropped by users, closed on the server with the next extended request.
    pending_closes: Vec<String>,
    /// While the gate holder is in COPY IN, no other message may be injected.
    copy_in: bool,
    /// Shared-`Sync` statements at the end of `buf` whose `Sync` is not written yet.
    batch: usize,
    /// Totals for [`SyncStats`].
    stats: SyncStats,
}

/// How a connection's statements shared `Sync`s, since it opened
/// ([`Client::sync_stats`](crate::Client::sync_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Statements sent to share a `Sync` with their neighbours.
    pub shared: u64,
    /// `Sync`s that ended a batch of shared statements.
    pub batches: u64,
    /// Shared statements the server skipped because an earlier one in their batch failed,
    /// sent again on their own.
    pub sent_again: u64,
}

impl State {
    /// Encodes a Close for each statement dropped since the last extended request; the
    /// caller clears the list once they are sure to be sent.
    fn write_closes(&mut self) -> Result<()> {
        for name in &self.pending_closes {
            frontend::close(b'S', name, &mut self.buf)
                .map_err(|e| Error::io("encoding Close", e))?;
        }
        Ok(())
    }

    /// Ends the open shared batch, if any, with its `Sync`.
    fn close_batch(&mut self) {
        if self.batch > 0 {
            frontend::sync(&mut self.buf);
            self.queue.push_back(Responder::BatchEnd);
            self.queued += 1;
            self.batch = 0;
            self.stats.batches += 1;
        }
    }
}

pub(crate) struct Conn {
    state: Mutex<State>,
    gate: Condvar,
    writer: Mutex<WriteHalf>,
    /// The writer coroutine, woken when the buffer gets its first bytes.
    writer_co: std::sync::OnceLock<may::coroutine::Coroutine>,
    shutdown: Stream,
    /// Requests whose `ReadyForQuery` the reader has seen.
    completed: AtomicU64,
    inflight: AtomicUsize,
    broken: AtomicBool,
    /// Mirrors `State::closed` for lock-free checks (the pool's pick reads it per query).
    closed: AtomicBool,
    next_id: AtomicU64,
    notifications: Mutex<Receiver<Notification>>,
    params: std::sync::Mutex<HashMap<String, String>>,
    pub(crate) statements: StatementCache,
    pub(crate) types: std::sync::Mutex<HashMap<Oid, Type>>,
    /// The shared-`Sync` catalog check (`driver::share`), prepared on first use and kept
    /// out of `statements`, so it neither takes an application statement's place nor is
    /// evicted by them.
    pub(crate) share_check: std::sync::Mutex<Option<crate::driver::statement::Statement>>,
    /// Set while a catalog check runs on this connection (one at a time, see
    /// `driver::share::decided`).
    pub(crate) share_checking: AtomicBool,
    pub(crate) config: Arc<Config>,
    pub(crate) cancel: CancelToken,
    /// The may worker the reader is polled on (counted there while the connection lives).
    home: crate::driver::worker::Home,
}

/// What connection set-up hands over to the shared connection.
pub(crate) struct Established {
    pub(crate) read: ReadHalf,
    pub(crate) write: WriteHalf,
    pub(crate) shutdown: Stream,
    pub(crate) params: HashMap<String, String>,
    pub(crate) cancel: CancelToken,
    /// Bytes the server sent after the first `ReadyForQuery` (normally none).
    pub(crate) leftover: BytesMut,
}

impl Conn {
    pub(crate) fn start(est: Established, config: Arc<Config>) -> Result<Arc<Conn>> {
        let (ntx, nrx) = mpsc::channel();
        let conn = Arc::new(Conn {
            state: Mutex::new(State {
                buf: BytesMut::with_capacity(8 * 1024),
                flushing: false,
                queue: VecDeque::new(),
                queued: 0,
                closed: None,
                exclusive: None,
                pending_closes: Vec::new(),
                copy_in: false,
                batch: 0,
                stats: SyncStats::default(),
            }),
            gate: Condvar::new(),
            writer: Mutex::new(est.write),
            writer_co: std::sync::OnceLock::new(),
            shutdown: est.shutdown,
            completed: AtomicU64::new(0),
            inflight: AtomicUsize::new(0),
            broken: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            next_id: AtomicU64::new(1),
            notifications: Mutex::new(nrx),
            params: std::sync::Mutex::new(est.params),
            statements: StatementCache::new(config.statement_cache_capacity),
            types: std::sync::Mutex::new(HashMap::new()),
            share_check: std::sync::Mutex::new(None),
            share_checking: AtomicBool::new(false),
            cancel: est.cancel,
            home: crate::driver::worker::Home::of(&est.read),
            config,
        });
        let weak = Arc::downgrade(&conn);
        let read = est.read;
        let leftover = est.leftover;
        // SAFETY (may): the reader keeps no thread-local state across yields.
        let spawned = unsafe {
            may::coroutine::Builder::new()
                .name("lifeguard-reader".into())
                .stack_size(0x8000)
                .spawn(move || reader_loop(weak, read, leftover, ntx))
        };
        spawned.map_err(|e| Error::io("spawning the reader coroutine", e))?;
        let weak = Arc::downgrade(&conn);
        // SAFETY (may): the writer keeps no thread-local state across yields.
        let writer = unsafe {
            may::coroutine::Builder::new()
                .name("lifeguard-writer".into())
                .stack_size(0x4000)
                .spawn(move || writer_loop(weak))
        };
        let writer = writer.map_err(|e| Error::io("spawning the writer coroutine", e))?;
        // Nobody else has the connection yet, so no request can miss the handle.
        let _ = conn.writer_co.set(writer.coroutine().clone());
        Ok(conn)
    }

    /// A fresh id, used for statement names and gate tokens.
    pub(crate) fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No critical section below yields, so the lock is only ever contended by a caller
        // on another worker thread in the middle of one (a few hundred nanoseconds): spin
        // briefly before parking, which allocates a blocker and costs a scheduler round.
        // `try_lock` fails while anybody waits, so spinning never overtakes a waiter.
        for _ in 0..LOCK_SPINS {
            match self.state.try_lock() {
                Ok(guard) => return guard,
                // may's Mutex poisons like std's; the state stays consistent across a
                // panicking caller because every critical section below is panic-free.
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => std::hint::spin_loop(),
            }
        }
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a request: waits at the gate unless `token` holds it, encodes with `encode`,
    /// registers `responder` (if any) and flushes. Returns the request's sequence number.
    ///
    /// `extended` requests end in `Sync`, so pending statement closes may ride along.
    pub(crate) fn send(
        &self,
        token: Option<Token>,
        extended: bool,
        responder: Option<Responder>,
        encode: impl FnOnce(&mut BytesMut) -> Result<()>,
    ) -> Result<u64> {
        let mut st = self.at_gate(token)?;
        let state = &mut *st;
        // Whatever follows a shared batch must not run inside its implicit transaction.
        state.close_batch();
        let mark = state.buf.len();
        if extended && !state.copy_in {
            state.write_closes()?;
        }
        if let Err(e) = encode(&mut state.buf) {
            state.buf.truncate(mark);
            return Err(e);
        }
        if extended && !state.copy_in {
            state.pending_closes.clear();
        }
        let seq = state.queued;
        if let Some(r) = responder {
            state.queue.push_back(r);
            state.queued += 1;
            self.inflight.fetch_add(1, Ordering::Relaxed);
        }
        self.flush(st)?;
        Ok(seq)
    }

    /// Queues a statement that only reads, outside any transaction, to share one `Sync`
    /// with the shared statements around it (up to [`BATCH_MAX`]): the server then runs
    /// them in one implicit transaction and answers them with one `ReadyForQuery`, one
    /// flush for the lot instead of one per statement. `encode` writes Bind and Execute,
    /// no `Sync`; a copy is kept in `rx`'s slot so that, if an earlier statement of the
    /// batch fails and the server skips this one, its caller sends it again on its own
    /// (see [`Responses::next`]). Returns the request's sequence number.
    pub(crate) fn send_shared(
        &self,
        responder: SlotSender,
        rx: &SlotReceiver,
        encode: impl FnOnce(&mut BytesMut) -> Result<()>,
    ) -> Result<u64> {
        // Past the gate with no token, nobody holds it, so no COPY IN is under way.
        let mut st = self.at_gate(None)?;
        let state = &mut *st;
        if state.batch >= BATCH_MAX {
            state.close_batch();
        }
        // Closes of dropped statements ride at the head of a batch (their CloseComplete
        // reaches the first member, which skips it), so a workload of shared reads alone
        // still closes what its statement cache evicts.
        if state.batch == 0 {
            state.write_closes()?;
            state.pending_closes.clear();
        }
        let mark = state.buf.len();
        if let Err(e) = encode(&mut state.buf) {
            state.buf.truncate(mark);
            return Err(e);
        }
        rx.keep_request(&state.buf[mark..]);
        let seq = state.queued;
        state.queue.push_back(Responder::Member(responder));
        state.queued += 1;
        state.batch += 1;
        state.stats.shared += 1;
        self.inflight.fetch_add(1, Ordering::Relaxed);
        self.flush(st)?;
        Ok(seq)
    }

    /// The state lock, once the gate lets `token` write (bounded by `query_timeout`).
    fn at_gate(&self, token: Option<Token>) -> Result<MutexGuard<'_, State>> {
        let mut st = self.lock();
        let deadline = self.config.query_timeout.map(|t| Instant::now() + t);
        loop {
            if let Some(c) = &st.closed {
                return Err(closed_error(c));
            }
            match st.exclusive {
                None => return Ok(st),
                Some(t) if Some(t) == token => return Ok(st),
                Some(_) => {}
            }
            st = match deadline {
                None => self.gate.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::new(
                            crate::ErrorKind::Timeout,
                            "waiting for another caller's transaction to finish on this connection",
                            None,
                        ));
                    }
                    self.gate
                        .wait_timeout(st, crate::driver::wait::parker_timeout(left))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Hands the buffered bytes to the writer coroutine (waking it unless it is awake).
    /// Returns at once, unless the backlog is past [`BACKLOG_LIMIT`]: then it waits for
    /// the writer to take it, so a fast producer (COPY) cannot buffer without bound.
    fn flush<'a>(&'a self, mut st: MutexGuard<'a, State>) -> Result<()> {
        let wake = !st.flushing;
        st.flushing = true;
        let backlog = st.buf.len() >= BACKLOG_LIMIT;
        drop(st);
        if wake {
            if let Some(writer) = self.writer_co.get() {
                writer.unpark();
            }
        }
        if backlog {
            loop {
                let st = self.lock();
                if let Some(c) = &st.closed {
                    return Err(closed_error(c));
                }
                if st.buf.len() < BACKLOG_LIMIT {
                    return Ok(());
                }
                drop(st);
                if may::coroutine::is_coroutine() {
                    may::coroutine::yield_now();
                } else {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        }
        Ok(())
    }

    /// Takes the exclusive gate, waiting for the current holder (bounded by `timeout`).
    pub(crate) fn acquire_exclusive(&self, timeout: Option<Duration>) -> Result<Token> {
        let token = self.next_id();
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = self.lock();
        loop {
            if let Some(c) = &st.closed {
                return Err(closed_error(c));
            }
            if st.exclusive.is_none() {
                st.exclusive = Some(token);
                return Ok(token);
            }
            st = match deadline {
                None => self.gate.wait(st).unwrap_or_else(|p| p.into_inner()),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Error::new(
                            crate::ErrorKind::Timeout,
                            "waiting for exclusive use of the connection",
                            None,
                        ));
                    }
                    self.gate
                        .wait_timeout(st, crate::driver::wait::parker_timeout(left))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
            };
        }
    }

    /// Releases the gate if `token` holds it.
    pub(crate) fn release_exclusive(&self, token: Token) {
        let mut st = self.lock();
        if st.exclusive == Some(token) {
            st.exclusive = None;
            st.copy_in = false;
        }
        drop(st);
        self.gate.notify_all();
    }

    pub(crate) fn set_copy_in(&self, on: bool) {
        self.lock().copy_in = on;
    }

    /// Queues a server-side close of a dropped prepared statement.
    pub(crate) fn schedule_close(&self, name: String) {
        let mut st = self.lock();
        if st.closed.is_none() {
            st.pending_closes.push(name);
        }
    }

    /// Marks the connection dead and wakes every waiter.
    pub(crate) fn close(&self, reason: String, db: Option<DbError>) {
        let queue = {
            let mut st = self.lock();
            if st.closed.is_none() {
                st.closed = Some(Closed { reason, db });
            }
            self.closed.store(true, Ordering::Release);
            std::mem::take(&mut st.queue)
        };
        self.inflight.store(0, Ordering::Relaxed);
        drop(queue);
        self.gate.notify_all();
        self.shutdown.shutdown();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// The error a caller sees once the connection is gone.
    pub(crate) fn closed_error(&self) -> Error {
        match &self.lock().closed {
            Some(c) => closed_error(c),
            None => Error::closed("the connection's reader stopped"),
        }
    }

    /// Remembers that the connection hit an error after which it must not be reused.
    pub(crate) fn mark_broken(&self) {
        self.broken.store(true, Ordering::Relaxed);
    }

    pub(crate) fn is_broken(&self) -> bool {
        self.broken.load(Ordering::Relaxed) || self.is_closed()
    }

    /// The may worker the reader runs on (see `driver::worker`).
    pub(crate) fn reader_worker(&self) -> usize {
        self.home.worker()
    }

    /// Requests queued and not yet answered (a load hint for the pool).
    pub(crate) fn inflight(&self) -> usize {
        self.inflight.load(Ordering::Relaxed)
    }

    /// True while request `seq` is the one the server is working on (all before it done).
    pub(crate) fn is_running(&self, seq: u64) -> bool {
        self.completed.load(Ordering::Acquire) == seq
    }

    pub(crate) fn parameter(&self, name: &str) -> Option<String> {
        self.params
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(name)
            .cloned()
    }

    pub(crate) fn notifications(&self) -> &Mutex<Receiver<Notification>> {
        &self.notifications
    }

    /// Counts one queue entry as answered (`request`: one a caller waits for, counted in
    /// `inflight`; not a batch's closing `ReadyForQuery`).
    fn complete(&self, request: bool) {
        self.completed.fetch_add(1, Ordering::Release);
        if request {
            let _ = self
                .inflight
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        }
    }

    pub(crate) fn sync_stats(&self) -> SyncStats {
        self.lock().stats
    }

    fn pop_responder(&self) -> Option<Responder> {
        self.lock().queue.pop_front()
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Last handle gone: say goodbye and wake the reader and the writer so they exit.
        let mut buf = BytesMut::new();
        frontend::terminate(&mut buf);
        if let Ok(mut w) = self.writer.try_lock() {
            let _ = w.write_all(&buf);
        }
        self.shutdown.shutdown();
        if let Some(writer) = self.writer_co.get() {
            writer.unpark();
        }
    }
}

/// Bytes buffered past which a sender waits for the writer (see [`Conn::flush`]).
const BACKLOG_LIMIT: usize = 256 * 1024;

/// The connection's writer: parked until a sender wakes it, then writes out the buffer
/// until it finds it empty. Holds the connection only while writing, so dropping the last
/// handle ends it.
fn writer_loop(weak: Weak<Conn>) {
    loop {
        loop {
            let Some(conn) = weak.upgrade() else { return };
            let mut st = conn.lock();
            if st.buf.is_empty() || st.closed.is_some() {
                st.flushing = false;
                break;
            }
            // The batch ends with what is written now: its statements wait for no later one.
            st.close_batch();
            let out = st.buf.split();
            drop(st);
            let res = {
                let mut w = conn.writer.lock().unwrap_or_else(|p| p.into_inner());
                w.write_all(&out)
            };
            if let Err(e) = res {
                conn.lock().flushing = false;
                conn.close(Error::io("writing to the server", e).to_string(), None);
                return;
            }
        }
        may::coroutine::park();
    }
}

fn closed_error(c: &Closed) -> Error {
    match &c.db {
        Some(db) => Error::db(db.clone()).context(c.reason.clone()),
        None => Error::closed(c.reason.clone()),
    }
}

/// One message of a response, from [`Responses::next_frame`].
pub(crate) enum Frame {
    /// A `DataRow`'s body: the column count, then each column's length and bytes.
    DataRow(bytes::Bytes),
    /// Any other message.
    Message(Message),
}

/// Receives one request's responses, message by message.
pub(crate) struct Responses {
    rx: SlotReceiver,
    buf: BytesMut,
    conn: Arc<Conn>,
    seq: u64,
    deadline: Option<Instant>,
    /// The request shares a `Sync` ([`Conn::send_shared`]): its answer ends with its
    /// `CommandComplete` or error, and no `ReadyForQuery` of its own follows.
    member: bool,
}

impl Responses {
    /// A responder for the reader and the receiving end for [`Responses::new`]; made by
    /// the caller that will read the responses.
    pub(crate) fn channel() -> (Responder, SlotReceiver) {
        let (tx, rx) = slot();
        (Responder::Slot(tx), rx)
    }

    pub(crate) fn new(rx: SlotReceiver, conn: Arc<Conn>, seq: u64) -> Responses {
        let deadline = conn.config.query_timeout.map(|t| Instant::now() + t);
        Responses::with_deadline(rx, conn, seq, deadline)
    }

    /// Like [`Responses::new`], with its own deadline instead of `query_timeout`'s.
    pub(crate) fn with_deadline(
        rx: SlotReceiver,
        conn: Arc<Conn>,
        seq: u64,
        deadline: Option<Instant>,
    ) -> Responses {
        Responses {
            rx,
            buf: BytesMut::new(),
            conn,
            seq,
            deadline,
            member: false,
        }
    }

    /// Marks the request as a shared-`Sync` member (see [`Responses::is_member`]).
    pub(crate) fn shared(mut self) -> Responses {
        self.member = true;
        self
    }

    /// True while the answer ends at the statement's `CommandComplete` or error rather
    /// than at a `ReadyForQuery` (a shared-`Sync` member not sent again on its own).
    pub(crate) fn is_member(&self) -> bool {
        self.member
    }

    /// Sends a skipped shared statement again, on its own with its own `Sync`, so no
    /// other caller's failure can skip it twice.
    fn resend(&mut self) -> Result<()> {
        let request = self.rx.take_request();
        self.conn.lock().stats.sent_again += 1;
        let (tx, rx) = slot();
        let seq = self
            .conn
            .send(None, true, Some(Responder::Slot(tx)), |buf| {
                buf.extend_from_slice(&request);
                frontend::sync(buf);
                Ok(())
            })?;
        self.rx = rx;
        self.seq = seq;
        self.member = false;
        Ok(())
    }

    pub(crate) fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// The next backend message for this request.
    pub(crate) fn next(&mut self) -> Result<Message> {
        self.fill()?;
        Self::parse(&mut self.buf)
    }

    /// Like [`Responses::next`], with a `DataRow` handed over as its body, unparsed: a
    /// [`Row`](crate::Row) reads the column lengths itself, in one pass.
    pub(crate) fn next_frame(&mut self) -> Result<Frame> {
        let header = self.fill()?;
        if header.tag() == b'D' {
            // Skipping the header on the frozen `Bytes` is a pointer bump; on the `BytesMut`
            // it would be a second pass through its shared-buffer bookkeeping.
            let mut frame = self.buf.split_to(header.len() as usize + 1).freeze();
            frame.advance(5);
            return Ok(Frame::DataRow(frame));
        }
        Self::parse(&mut self.buf).map(Frame::Message)
    }

    fn parse(buf: &mut BytesMut) -> Result<Message> {
        match Message::parse(buf) {
            Ok(Some(msg)) => Ok(msg),
            Ok(None) => Err(Error::protocol("a response message ended early")),
            Err(e) => Err(Error::io("parsing a response", e)),
        }
    }

    /// Waits until a complete message is at the head of the buffer; returns its header.
    fn fill(&mut self) -> Result<Header> {
        loop {
            // Only a complete message is parsed: `Message::parse` reserves room for the rest
            // of an incomplete one, which on a drained chunk is an allocation per request.
            match Header::parse(&self.buf) {
                Ok(Some(h)) if self.buf.len() > h.len() as usize => return Ok(h),
                Ok(_) => {}
                Err(e) => return Err(Error::io("parsing a response", e)),
            }
            let chunk = match self.rx.recv(self.deadline) {
                Ok(c) => c,
                Err(RecvError::Disconnected) => return Err(self.conn.closed_error()),
                Err(RecvError::Timeout) => return Err(self.timed_out()),
                Err(RecvError::Skipped) => {
                    self.resend()?;
                    continue;
                }
            };
            if self.buf.is_empty() {
                self.buf = chunk;
            } else {
                self.buf.extend_from_slice(&chunk);
            }
        }
    }

    fn timed_out(&self) -> Error {
        // Cancel only if the server is on our request: cancelling blindly could hit another
        // caller's query that is pipelined behind ours.
        if self.conn.is_running(self.seq) {
            let token = self.conn.cancel.clone();
            let _ = may::go!(move || {
                if let Err(e) = token.cancel_query() {
                    tracing::warn!(error = %e, "cancel after query timeout failed");
                }
            });
        }
        Error::new(
            crate::ErrorKind::Timeout,
            format!(
                "query exceeded query_timeout of {:?}",
                self.conn.config.query_timeout.unwrap_or_default()
            ),
            None,
        )
    }
}

/// The most one socket read takes.
const READ_CHUNK: usize = 32 * 1024;

fn reader_loop(weak: Weak<Conn>, mut rd: ReadHalf, leftover: BytesMut, ntx: Sender<Notification>) {
    let mut buf = leftover;
    let mut current: Option<Responder> = None;
    let mut fatal: Option<DbError> = None;
    let mut processed_leftover = buf.is_empty();
    // Reads land in `scratch`, zeroed once, and only the `n` bytes read are copied into
    // `buf`: zero-filling `buf`'s spare capacity before each read (safe Rust's price for
    // reading into a `BytesMut`) cost up to 32 KiB of memset per read, a quarter of a
    // point select's client instructions.
    let mut scratch = vec![0u8; READ_CHUNK].into_boxed_slice();
    let reason = loop {
        if processed_leftover {
            match rd.read(&mut scratch) {
                Ok(0) => break "the server closed the connection".to_string(),
                Ok(n) => buf.extend_from_slice(&scratch[..n]),
                Err(e) => break format!("reading from the server failed: {e}"),
            }
        }
        processed_leftover = true;
        let Some(conn) = weak.upgrade() else {
            return;
        };
        if let Err(reason) = dispatch(&conn, &mut buf, &mut current, &mut fatal, &ntx) {
            break reason;
        }
    };
    drop(current);
    if let Some(conn) = weak.upgrade() {
        let reason = match &fatal {
            Some(db) => format!("{reason}: {}", db.message()),
            None => reason,
        };
        conn.close(reason, fatal);
    }
}

/// Routes every complete message in `buf`; an incomplete tail stays for the next read.
///
/// A request's answer normally ends with its `ReadyForQuery`. A shared-`Sync` member's
/// ends with its `CommandComplete` (or `EmptyQueryResponse`, `PortalSuspended`, or error);
/// a `ReadyForQuery` while members are still due means an earlier member failed and the
/// server skipped the rest of the batch, so each of them is told to send again.
fn dispatch(
    conn: &Conn,
    buf: &mut BytesMut,
    current: &mut Option<Responder>,
    fatal: &mut Option<DbError>,
    ntx: &Sender<Notification>,
) -> std::result::Result<(), String> {
    let mut off = 0;
    loop {
        let header = match Header::parse(&buf[off..]) {
            Ok(Some(h)) => h,
            Ok(None) => break,
            Err(e) => return Err(format!("malformed message from the server: {e}")),
        };
        let total = header.len() as usize + 1;
        if buf.len() - off < total {
            break;
        }
        let tag = header.tag();
        if matches!(tag, b'A' | b'N' | b'S') {
            if off > 0 {
                route(conn, current, buf.split_to(off), fatal);
                off = 0;
            }
            let mut msg = buf.split_to(total);
            handle_async(conn, &mut msg, ntx);
            continue;
        }
        if current.is_none() {
            *current = conn.pop_responder();
        }
        match (current.as_ref(), tag) {
            (Some(Responder::Member(_) | Responder::BatchEnd), b'Z') => {
                if off > 0 {
                    route(conn, current, buf.split_to(off), fatal);
                    off = 0;
                }
                buf.advance(total);
                let mut due = current.take();
                loop {
                    match due {
                        Some(Responder::Member(tx)) => {
                            tx.skip();
                            conn.complete(true);
                        }
                        Some(Responder::BatchEnd) => {
                            conn.complete(false);
                            break;
                        }
                        _ => return Err("a shared batch lost its place in the queue".into()),
                    }
                    due = conn.pop_responder();
                }
            }
            (Some(Responder::Member(_)), b'C' | b'I' | b's' | b'E') => {
                off += total;
                route(conn, current, buf.split_to(off), fatal);
                off = 0;
                *current = None;
                conn.complete(true);
            }
            (Some(Responder::BatchEnd), _) => {
                return Err(format!(
                    "unexpected message {:?} where a batch's ReadyForQuery was due",
                    tag as char
                ));
            }
            (_, b'Z') => {
                off += total;
                route(conn, current, buf.split_to(off), fatal);
                off = 0;
                *current = None;
                conn.complete(true);
            }
            _ => off += total,
        }
    }
    if off > 0 {
        route(conn, current, buf.split_to(off), fatal);
    }
    Ok(())
}

fn route(
    conn: &Conn,
    current: &mut Option<Responder>,
    chunk: BytesMut,
    fatal: &mut Option<DbError>,
) {
    if current.is_none() {
        *current = conn.pop_responder();
    }
    match current {
        Some(Responder::Slot(tx) | Responder::Member(tx)) => {
            // A receiver dropped mid-stream just means the rest is discarded.
            tx.send(chunk);
        }
        Some(Responder::Discard | Responder::BatchEnd) => {}
        None => {
            // Nothing asked for this: typically the FATAL sent before the server hangs up.
            let mut chunk = chunk;
            while let Ok(Some(msg)) = Message::parse(&mut chunk) {
                if let Message::ErrorResponse(body) = msg {
                    if let Ok(db) = DbError::parse(&body) {
                        *fatal = Some(db);
                    }
                }
            }
        }
    }
}

fn handle_async(conn: &Conn, msg: &mut BytesMut, ntx: &Sender<Notification>) {
    match Message::parse(msg) {
        Ok(Some(Message::NotificationResponse(body))) => {
            if let (Ok(channel), Ok(payload)) = (body.channel(), body.message()) {
                let _ = ntx.send(Notification::new(
                    body.process_id(),
                    channel.to_string(),
                    payload.to_string(),
                ));
            }
        }
        Ok(Some(Message::NoticeResponse(body))) => {
            let mut fields = Vec::new();
            let mut it = body.fields();
            while let Ok(Some(f)) = fallible_iterator::FallibleIterator::next(&mut it) {
                if f.type_() == b'M' || f.type_() == b'S' {
                    fields.push(String::from_utf8_lossy(f.value_bytes()).into_owned());
                }
            }
            tracing::info!(notice = %fields.join(": "), "server notice");
        }
        Ok(Some(Message::ParameterStatus(body))) => {
            if let (Ok(k), Ok(v)) = (body.name(), body.value()) {
                conn.params
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(k.to_string(), v.to_string());
            }
        }
        _ => {}
    }
}
