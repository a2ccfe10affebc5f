//! LISTEN/NOTIFY: notifications are queued by the connection's reader as they arrive (never
//! dropped) and consumed here in the order the server sent them, which is commit order.

use std::sync::Arc;
use std::time::Duration;

use std::sync::mpsc::{RecvTimeoutError, TryRecvError};

use crate::driver::conn::Conn;
use crate::error::Result;

/// One `NOTIFY` delivered to this connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    process_id: i32,
    channel: String,
    payload: String,
}

impl Notification {
    pub(crate) fn new(process_id: i32, channel: String, payload: String) -> Notification {
        Notification {
            process_id,
            channel,
            payload,
        }
    }
    /// The pid of the backend that sent the notification.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }
    /// The channel name.
    pub fn channel(&self) -> &str {
        &self.channel
    }
    /// The payload (empty if none was given).
    pub fn payload(&self) -> &str {
        &self.payload
    }
}

/// The stream of notifications of one connection. Several handles share one stream: each
/// notification goes to exactly one of them.
pub struct Notifications {
    pub(crate) conn: Arc<Conn>,
}

impl Notifications {
    /// Waits for the next notification; fails once the connection is closed and drained.
    pub fn recv(&self) -> Result<Notification> {
        let rx = self
            .conn
            .notifications()
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        rx.recv().map_err(|_| self.conn.closed_error())
    }

    /// Waits at most `timeout`; `Ok(None)` when nothing arrived in time.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Option<Notification>> {
        let rx = self
            .conn
            .notifications()
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match rx.recv_timeout(crate::driver::wait::parker_timeout(timeout)) {
            Ok(n) => Ok(Some(n)),
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => Err(self.conn.closed_error()),
        }
    }

    /// Returns a notification only if one is already queued.
    pub fn try_recv(&self) -> Result<Option<Notification>> {
        let rx = self
            .conn
            .notifications()
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        match rx.try_recv() {
            Ok(n) => Ok(Some(n)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(self.conn.closed_error()),
        }
    }
}

impl Iterator for Notifications {
    type Item = Notification;
    /// Blocks for the next notification; ends when the connection closes.
    fn next(&mut self) -> Option<Notification> {
        self.recv().ok()
    }
}
