//! Which `may` worker thread a connection's reader runs on, and which one the caller is on.
//!
//! may polls a socket on worker `fd % workers` (its selectors are per worker and chosen by
//! fd), and a coroutine woken by that poll — the connection's reader — runs there; the
//! callers the reader wakes are scheduled on the same worker. A caller on another worker
//! therefore crosses threads twice per query. Two things follow:
//!
//! - A connection owns three descriptors of one socket (read half, write half, shutdown
//!   handle), so [`spread`] lets the read half be whichever of them lands on the worker
//!   with the fewest readers: a pool's connections are spread over the workers instead of
//!   depending on the parity of the descriptors the kernel handed out.
//! - [`current`] tells the pool which worker the caller is on, so it can prefer the
//!   connection read on that worker (`PoolBuilder::worker_affine`).
//!
//! may does not expose a worker's number; it does let a coroutine be spawned onto worker
//! `i` (`coroutine::Builder::id`), so one probe per worker labels the worker threads.

use std::cell::Cell;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Once, OnceLock};

thread_local! {
    /// This thread's may worker number, once a probe has run on it.
    static WORKER: Cell<usize> = const { Cell::new(usize::MAX) };
}

static PROBES: Once = Once::new();

/// Live readers per worker, across every connection of the process.
fn readers() -> &'static [AtomicUsize] {
    static READERS: OnceLock<Box<[AtomicUsize]>> = OnceLock::new();
    READERS.get_or_init(|| {
        let n = may::config().get_workers().max(1);
        (0..n).map(|_| AtomicUsize::new(0)).collect()
    })
}

/// may's worker count, read once: may sizes its selectors when its scheduler starts, and a
/// later `set_workers` must not move our arithmetic (or index past the counters).
fn workers() -> usize {
    readers().len()
}

/// The worker that polls `fd`.
fn of_fd(fd: RawFd) -> usize {
    usize::try_from(fd).unwrap_or(0) % workers()
}

/// The may worker the calling thread is, if it is one and has been labelled. The first call
/// sends the labelling probes; until they have run (microseconds later) this is `None`.
pub(crate) fn current() -> Option<usize> {
    PROBES.call_once(|| {
        for i in 0..workers() {
            probe(i, PROBE_RETRIES);
        }
    });
    let w = WORKER.with(Cell::get);
    (w != usize::MAX).then_some(w)
}

/// How often a probe that landed on another worker's thread is queued for its own again.
const PROBE_RETRIES: u32 = 256;

/// Queues the labelling probe for worker `i`. With may's work stealing it can run on
/// another worker: a thread keeps its first label, and a probe that finds its thread
/// labelled otherwise queues itself for worker `i` again, so a worker busy when the first
/// probe came is still labelled once it runs its queue. A worker that never does just gets
/// no preference.
fn probe(i: usize, retries: u32) {
    // SAFETY (may): the probe keeps no thread-local state across a yield (it does not
    // yield).
    let _ = unsafe {
        may::coroutine::Builder::new()
            .id(i)
            .stack_size(0x1000)
            .spawn(move || {
                let label = WORKER.with(|w| {
                    if w.get() == usize::MAX {
                        w.set(i);
                    }
                    w.get()
                });
                if label != i && retries > 0 {
                    probe(i, retries - 1);
                }
            })
    };
}

/// A reader counted on its worker while the connection lives.
#[derive(Debug)]
pub(crate) struct Home(usize);

impl Home {
    /// Counts a reader polling `fd`.
    pub(crate) fn of<S: AsRawFd>(sock: &S) -> Home {
        let w = of_fd(sock.as_raw_fd());
        readers()[w].fetch_add(1, Ordering::Relaxed);
        Home(w)
    }

    /// The worker the reader runs on.
    pub(crate) fn worker(&self) -> usize {
        self.0
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        readers()[self.0].fetch_sub(1, Ordering::Relaxed);
    }
}

/// Orders three descriptors of one socket as (read, write, shutdown), the read one on the
/// worker with the fewest live readers (ties: the first, so nothing moves needlessly).
pub(crate) fn spread<S: AsRawFd>(a: S, b: S, c: S) -> (S, S, S) {
    let load = |s: &S| readers()[of_fd(s.as_raw_fd())].load(Ordering::Relaxed);
    let (la, lb, lc) = (load(&a), load(&b), load(&c));
    if lb < la && lb <= lc {
        (b, a, c)
    } else if lc < la && lc < lb {
        (c, b, a)
    } else {
        (a, b, c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fd(RawFd);
    impl AsRawFd for Fd {
        fn as_raw_fd(&self) -> RawFd {
            self.0
        }
    }

    fn count(w: usize) -> usize {
        readers()[w].load(Ordering::Relaxed)
    }

    /// However many workers this machine gives may, a read half goes to the least-loaded
    /// worker among its three descriptors', and successive connections fill the workers
    /// evenly instead of following the descriptors' numbering.
    #[test]
    fn spread_puts_each_reader_on_the_least_loaded_worker() {
        let n = workers();
        let mut homes = Vec::new();
        // Three consecutive descriptors per connection, as a split socket gets.
        let mut fd = 10;
        for _ in 0..2 * n {
            let (r, _, _) = spread(Fd(fd), Fd(fd + 1), Fd(fd + 2));
            let least = (fd..fd + 3).map(|f| count(of_fd(f))).min().unwrap();
            assert_eq!(count(of_fd(r.0)), least, "fd {} of {fd}..{}", r.0, fd + 3);
            homes.push(Home::of(&r));
            fd += 3;
        }
        if n <= 3 {
            // Three descriptors reach every worker: each has exactly two readers.
            for w in 0..n {
                assert_eq!(homes.iter().filter(|h| h.worker() == w).count(), 2);
            }
        }
        let before: Vec<_> = (0..n).map(count).collect();
        drop(homes.pop());
        let after: Vec<_> = (0..n).map(count).collect();
        assert_eq!(
            before.iter().sum::<usize>(),
            after.iter().sum::<usize>() + 1
        );
    }

    #[test]
    fn coroutines_learn_their_worker() {
        let _ = current();
        // Other tests may keep a worker busy for a while (its probe then waits in its
        // queue, or is stolen and queued again): ask until every worker answers, for up to
        // 5 s.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let seen = loop {
            may::coroutine::sleep(std::time::Duration::from_millis(20));
            let seen: Vec<Option<usize>> = (0..workers())
                .map(|i| {
                    // SAFETY (may): no thread-local state is kept across a yield.
                    unsafe {
                        may::coroutine::Builder::new()
                            .id(i)
                            .spawn(current)
                            .unwrap()
                            .join()
                            .unwrap()
                    }
                })
                .collect();
            if seen.iter().all(Option::is_some) || std::time::Instant::now() > deadline {
                break seen;
            }
        };
        assert!(seen.iter().all(Option::is_some), "{seen:?}");
        assert_eq!(current(), None, "a plain thread is no worker");
    }
}
