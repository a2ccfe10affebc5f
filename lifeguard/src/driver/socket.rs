//! Byte streams to the server: TCP or Unix socket, optionally wrapped in TLS, split into a
//! read half (owned by the connection's reader coroutine) and a write half (used by whichever
//! caller is flushing), so reads and writes never wait on each other.

use std::io::{self, Read, Write};
use std::mem::ManuallyDrop;
use std::net::Shutdown;
use std::ops::{Deref, DerefMut};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::time::Duration;

use may::net::TcpStream;
use may::os::unix::net::UnixStream;

/// A plain socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixSocket),
}

/// A may Unix stream that leaves may's epoll set before its descriptor is closed.
///
/// may 0.3.51's `UnixStream` drops its descriptor before its registration (`CoIo` declares
/// `inner` before `io`), so the `EPOLL_CTL_DEL` that follows fails on a closed descriptor.
/// The kernel drops a registration only when every descriptor of the socket is closed, and
/// this driver holds three (see [`three_ways`]): the registration outlives may's event data,
/// and the socket's next event hands may's epoll loop a pointer to freed memory (a segfault,
/// or a panic in `epoll.rs`). `into_raw_fd` deregisters with the descriptor still open; the
/// descriptor is closed after it. (may's `TcpStream` declares its fields the other way round.)
#[derive(Debug)]
pub(crate) struct UnixSocket(ManuallyDrop<UnixStream>);

impl UnixSocket {
    pub(crate) fn new(s: UnixStream) -> UnixSocket {
        UnixSocket(ManuallyDrop::new(s))
    }
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        // SAFETY: the stream is taken once, here, and `self` is not used after.
        let s = unsafe { ManuallyDrop::take(&mut self.0) };
        let fd = s.into_raw_fd();
        // SAFETY: `into_raw_fd` gave up the descriptor, so nothing else closes it.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

impl Deref for UnixSocket {
    type Target = UnixStream;
    fn deref(&self) -> &UnixStream {
        &self.0
    }
}

impl DerefMut for UnixSocket {
    fn deref_mut(&mut self) -> &mut UnixStream {
        &mut self.0
    }
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(UnixSocket::new(s.try_clone()?)),
        })
    }

    pub(crate) fn shutdown(&self) {
        // Errors only mean it is already gone.
        let _ = match self {
            Stream::Tcp(s) => s.shutdown(Shutdown::Both),
            Stream::Unix(s) => s.shutdown(Shutdown::Both),
        };
    }

    pub(crate) fn set_timeouts(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
            Stream::Unix(s) => {
                s.set_read_timeout(timeout)?;
                s.set_write_timeout(timeout)
            }
        }
    }

    pub(crate) fn is_tcp(&self) -> bool {
        matches!(self, Stream::Tcp(_))
    }
}

impl std::os::fd::AsRawFd for Stream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            Stream::Tcp(s) => s.as_raw_fd(),
            Stream::Unix(s) => s.as_raw_fd(),
        }
    }
}

/// The socket and two duplicates of it, as (read, write, shutdown), the read one polled on
/// the may worker with the fewest readers (see `driver::worker`).
pub(crate) fn three_ways(s: Stream) -> io::Result<(Stream, Stream, Stream)> {
    let w = s.try_clone()?;
    let k = s.try_clone()?;
    Ok(crate::driver::worker::spread(s, w, k))
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The socket during connection set-up, before it is split.
pub(crate) enum Socket {
    Plain(Stream),
    #[cfg(feature = "tls")]
    Tls(Box<crate::driver::tls::TlsStream>),
}

impl Socket {
    /// Splits into independent halves plus a handle used only to shut the socket down.
    pub(crate) fn split(self) -> io::Result<(ReadHalf, WriteHalf, Stream)> {
        match self {
            Socket::Plain(s) => {
                let (r, w, k) = three_ways(s)?;
                Ok((ReadHalf::Plain(r), WriteHalf::Plain(w), k))
            }
            #[cfg(feature = "tls")]
            Socket::Tls(t) => {
                let (r, w, k) = t.split()?;
                Ok((ReadHalf::Tls(r), WriteHalf::Tls(w), k))
            }
        }
    }

    pub(crate) fn stream(&self) -> &Stream {
        match self {
            Socket::Plain(s) => s,
            #[cfg(feature = "tls")]
            Socket::Tls(t) => t.stream(),
        }
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            Socket::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            Socket::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Socket::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Socket::Tls(t) => t.flush(),
        }
    }
}

/// The half the reader coroutine owns.
pub(crate) enum ReadHalf {
    Plain(Stream),
    #[cfg(feature = "tls")]
    Tls(crate::driver::tls::TlsReadHalf),
}

impl std::os::fd::AsRawFd for ReadHalf {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            ReadHalf::Plain(s) => s.as_raw_fd(),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(t) => t.stream().as_raw_fd(),
        }
    }
}

impl Read for ReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ReadHalf::Plain(s) => s.read(buf),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(t) => t.read(buf),
        }
    }
}

/// The half writers share (behind the connection's writer lock).
pub(crate) enum WriteHalf {
    Plain(Stream),
    #[cfg(feature = "tls")]
    Tls(crate::driver::tls::TlsWriteHalf),
}

impl Write for WriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            WriteHalf::Plain(s) => s.write(buf),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(t) => t.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    /// The socket inode behind descriptor `fd` of this process.
    fn inode(fd: i32) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/fd/{fd}")).unwrap();
        let link = link.to_string_lossy();
        link.trim_start_matches("socket:[")
            .trim_end_matches(']')
            .parse()
            .unwrap_or_else(|_| panic!("not a socket: {link}"))
    }

    /// The descriptors that this process's epoll sets still watch for socket inode `ino`
    /// (from /proc/self/fdinfo: `tfd: <fd> ... ino:<hex inode>`).
    fn watched(ino: u64) -> Vec<i32> {
        let mut fds = Vec::new();
        for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let is_epoll = std::fs::read_link(entry.path())
                .is_ok_and(|l| l.to_string_lossy() == "anon_inode:[eventpoll]");
            if !is_epoll {
                continue;
            }
            let name = entry.file_name();
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{}", name.to_string_lossy()))
                    .unwrap_or_default();
            for line in info.lines().filter(|l| l.starts_with("tfd:")) {
                let mut words = line.split_whitespace();
                let tfd = words.nth(1).and_then(|w| w.parse().ok());
                let watched_ino = words
                    .find_map(|w| w.strip_prefix("ino:"))
                    .and_then(|h| u64::from_str_radix(h, 16).ok());
                if let (Some(tfd), Some(i)) = (tfd, watched_ino) {
                    if i == ino {
                        fds.push(tfd);
                    }
                }
            }
        }
        fds
    }

    /// Dropping one descriptor of a split Unix socket takes it out of may's epoll set while
    /// the others stay open; a registration left behind would point at freed memory.
    #[test]
    fn a_dropped_unix_descriptor_leaves_no_registration_behind() {
        let (a, _peer) = UnixStream::pair().unwrap();
        let a = Stream::Unix(UnixSocket::new(a));
        let b = a.try_clone().unwrap();
        let (fd_a, fd_b) = (a.as_raw_fd(), b.as_raw_fd());
        let ino = inode(fd_b);
        let mut before = watched(ino);
        before.sort_unstable();
        assert_eq!(
            before,
            [fd_a.min(fd_b), fd_a.max(fd_b)],
            "both are registered"
        );
        drop(a);
        assert_eq!(watched(ino), [fd_b], "only the open descriptor is watched");
        drop(b);
    }
}
