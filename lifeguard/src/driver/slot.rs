//! One request's response slot: the reader coroutine pushes chunks, the caller takes them.
//!
//! A general channel (may's `mpsc`) costs several allocations per request, some of them
//! cache-aligned, which showed up as the largest item in the pipelined benchmark's
//! profile. A slot is one allocation: a small queue under a lock and the caller's parker,
//! made where the caller is so the reader can wake it directly.
//!
//! Slots made in coroutines are recycled: when the caller drops its end after the reader
//! dropped its own, the slot (its queue's capacity and its parker included) goes to a
//! small per-thread free list that the next request on that thread takes it from, so the
//! steady-state request allocates nothing here.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use bytes::BytesMut;
use may::coroutine::ParkError;
use may::sync::Blocker;

/// Why a receive returned without a chunk.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RecvError {
    /// The sender is gone (the request is complete or the connection died).
    Disconnected,
    /// The deadline passed.
    Timeout,
    /// The request shared a `Sync` with another caller's statement that failed, so the
    /// server skipped it without running it: it must be sent again.
    Skipped,
}

struct State {
    chunks: VecDeque<BytesMut>,
    sender_gone: bool,
    /// The sender went away because the server skipped the request (see [`RecvError::Skipped`]).
    skipped: bool,
    receiver_gone: bool,
    /// A copy of a shared-`Sync` request's encoded messages, kept to send it again if the
    /// server skips it. Its capacity survives recycling.
    request: BytesMut,
    /// A parker for a receive from a different kind of context (thread vs coroutine)
    /// than the one the slot was made in.
    other_waiter: Option<Arc<Blocker>>,
}

struct Slot {
    state: Mutex<State>,
    /// Made in the caller's context (coroutine or thread) when the request is made.
    blocker: Blocker,
    in_coroutine: bool,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is panic-free, so a poisoned lock holds consistent data.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake(&self, waiter: Option<Arc<Blocker>>) {
        self.blocker.unpark();
        if let Some(w) = waiter {
            w.unpark();
        }
    }
}

/// The reader's end.
pub(crate) struct SlotSender(Arc<Slot>);

/// The caller's end.
pub(crate) struct SlotReceiver(Arc<Slot>);

/// Recycled slots kept per thread at most: enough for the requests one worker's
/// coroutines have in flight at once in a busy service, little memory.
const FREE_MAX: usize = 512;

thread_local! {
    /// Coroutine-made slots whose both ends are gone, reset and ready for a new request.
    /// Touched only between yields (a coroutine may move to another worker when it yields).
    static FREE: RefCell<Vec<Arc<Slot>>> = const { RefCell::new(Vec::new()) };
}

/// A new slot, to be made by the caller that will receive from it.
pub(crate) fn slot() -> (SlotSender, SlotReceiver) {
    let in_coroutine = may::coroutine::is_coroutine();
    let recycled = if in_coroutine {
        // `try_with`: a thread being torn down has no free list any more.
        FREE.try_with(|f| f.borrow_mut().pop()).ok().flatten()
    } else {
        None
    };
    let slot = recycled.unwrap_or_else(|| {
        Arc::new(Slot {
            state: Mutex::new(State {
                chunks: VecDeque::new(),
                sender_gone: false,
                skipped: false,
                receiver_gone: false,
                request: BytesMut::new(),
                other_waiter: None,
            }),
            blocker: Blocker::new(false),
            in_coroutine,
        })
    });
    (SlotSender(slot.clone()), SlotReceiver(slot))
}

impl SlotSender {
    /// Hands over a chunk; dropped silently when the receiver is gone.
    pub(crate) fn send(&self, chunk: BytesMut) {
        let mut st = self.0.lock();
        if st.receiver_gone {
            return;
        }
        st.chunks.push_back(chunk);
        let waiter = st.other_waiter.take();
        drop(st);
        self.0.wake(waiter);
    }

    /// Ends the request as skipped by the server: the receiver sees [`RecvError::Skipped`].
    pub(crate) fn skip(self) {
        self.0.lock().skipped = true;
    }
}

impl Drop for SlotSender {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.sender_gone = true;
        let waiter = st.other_waiter.take();
        drop(st);
        self.0.wake(waiter);
        // The caller may have read everything and dropped its end first (it wakes on the
        // last chunk, the reader drops this end after): then the slot is recycled here.
        recycle(&mut self.0);
    }
}

/// Puts a slot whose other end has finished dropping on this thread's free list, reset
/// for the next request. Only coroutine-made slots, from coroutine context (the reader is
/// a coroutine). A parker permit left over from the last wake-up only makes the next
/// receive look once more before it parks.
fn recycle(handle: &mut Arc<Slot>) {
    if !handle.in_coroutine || !may::coroutine::is_coroutine() {
        return;
    }
    // Unique: the other end's drop (wake-up included) is over.
    let Some(slot) = Arc::get_mut(handle) else {
        return;
    };
    let st = slot.state.get_mut().unwrap_or_else(|p| p.into_inner());
    st.chunks.clear();
    st.sender_gone = false;
    st.skipped = false;
    st.request.clear();
    st.receiver_gone = false;
    st.other_waiter = None;
    // `try_with`: a thread being torn down has no free list any more.
    let _ = FREE.try_with(|f| {
        let mut free = f.borrow_mut();
        if free.len() < FREE_MAX {
            free.push(handle.clone());
        }
    });
}

impl SlotReceiver {
    /// The next chunk, waiting until `deadline` (forever when `None`).
    pub(crate) fn recv(&self, deadline: Option<Instant>) -> Result<BytesMut, RecvError> {
        let slot = &*self.0;
        let same_context = may::coroutine::is_coroutine() == slot.in_coroutine;
        loop {
            let mut st = slot.lock();
            if let Some(chunk) = st.chunks.pop_front() {
                return Ok(chunk);
            }
            if st.sender_gone {
                return Err(if st.skipped {
                    RecvError::Skipped
                } else {
                    RecvError::Disconnected
                });
            }
            let left = match deadline {
                None => None,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(RecvError::Timeout);
                    }
                    Some(crate::driver::wait::parker_timeout(left))
                }
            };
            // Parking outside the lock: a wake-up that lands in between leaves the
            // parker's permit set, so the park below returns at once.
            let res = if same_context {
                drop(st);
                slot.blocker.park(left)
            } else {
                let waiter = Arc::new(Blocker::new(false));
                st.other_waiter = Some(waiter.clone());
                drop(st);
                waiter.park(left)
            };
            match res {
                Ok(()) | Err(ParkError::Timeout) => {}
                Err(ParkError::Canceled) => may::coroutine::trigger_cancel_panic(),
            }
        }
    }

    /// Keeps a copy of the request's encoded messages (see [`SlotReceiver::take_request`]).
    pub(crate) fn keep_request(&self, bytes: &[u8]) {
        let mut st = self.0.lock();
        st.request.clear();
        st.request.extend_from_slice(bytes);
    }

    /// The copy [`keep_request`](Self::keep_request) kept, to send the request again.
    pub(crate) fn take_request(&self) -> BytesMut {
        std::mem::take(&mut self.0.lock().request)
    }

    /// [`recv`](Self::recv) with a timeout instead of a deadline.
    #[cfg(test)]
    fn recv_timeout(&self, timeout: std::time::Duration) -> Result<BytesMut, RecvError> {
        self.recv(Some(Instant::now() + timeout))
    }
}

impl Drop for SlotReceiver {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.receiver_gone = true;
        // Whatever arrived and was not read goes now, not when the request completes.
        st.chunks.clear();
        drop(st);
        recycle(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn chunks_arrive_in_order_then_disconnect() {
        let (tx, rx) = slot();
        let h = std::thread::spawn(move || {
            for i in 0..100u8 {
                tx.send(BytesMut::from(&[i][..]));
            }
        });
        for i in 0..100u8 {
            assert_eq!(rx.recv(None).unwrap()[..], [i]);
        }
        h.join().unwrap();
        assert_eq!(rx.recv(None), Err(RecvError::Disconnected));
    }

    #[test]
    fn times_out_without_a_sender_message() {
        let (tx, rx) = slot();
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvError::Timeout)
        );
        drop(tx);
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(20)),
            Err(RecvError::Disconnected)
        );
    }

    #[test]
    fn coroutines_wake_and_cross_context_receives_work() {
        // Made in a coroutine, received in a coroutine: the built-in parker.
        let h = may::go!(|| {
            let (tx, rx) = slot();
            let s = may::go!(move || {
                may::coroutine::sleep(Duration::from_millis(5));
                tx.send(BytesMut::from(&b"x"[..]));
            });
            assert_eq!(&rx.recv(None).unwrap()[..], b"x");
            s.join().unwrap();
            // Handed to a plain thread: a parker for that context.
            rx
        });
        let rx = h.join().unwrap();
        assert_eq!(rx.recv(None), Err(RecvError::Disconnected));

        let (tx, rx) = slot();
        let h = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(5));
            tx.send(BytesMut::from(&b"y"[..]));
        });
        let got = may::go!(move || rx.recv(None)).join().unwrap();
        assert_eq!(&got.unwrap()[..], b"y");
        h.join().unwrap();
    }

    #[test]
    fn coroutine_slots_are_recycled_clean() {
        may::go!(|| {
            let (tx, rx) = slot();
            let first = Arc::as_ptr(&rx.0);
            tx.send(BytesMut::from(&b"old"[..]));
            drop(tx);
            // Read only part of it: the rest must not leak into the next request.
            drop(rx);
            let (tx, rx) = slot();
            assert_eq!(Arc::as_ptr(&rx.0), first, "the slot was not reused");
            let s = may::go!(move || {
                may::coroutine::sleep(Duration::from_millis(5));
                tx.send(BytesMut::from(&b"new"[..]));
            });
            assert_eq!(&rx.recv(None).unwrap()[..], b"new");
            s.join().unwrap();
            assert_eq!(rx.recv(None), Err(RecvError::Disconnected));
            // Not unique (the sender is still alive): not recycled, freed later instead.
            let (tx, rx) = slot();
            let held = Arc::as_ptr(&rx.0);
            drop(rx);
            let (_tx2, rx2) = slot();
            assert_ne!(Arc::as_ptr(&rx2.0), held);
            drop(tx);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_dropped_receiver_discards_what_follows() {
        let (tx, rx) = slot();
        tx.send(BytesMut::from(&b"a"[..]));
        drop(rx);
        tx.send(BytesMut::from(&b"b"[..]));
        assert!(tx.0.lock().chunks.is_empty());
    }
}
