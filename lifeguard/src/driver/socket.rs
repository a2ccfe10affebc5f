//! Byte streams to the server: TCP or Unix socket, optionally wrapped in TLS, split into a
//! read half (owned by the connection's reader coroutine) and a write half (used by whichever
//! caller is flushing), so reads and writes never wait on each other.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use may::net::TcpStream;
use may::os::unix::net::UnixStream;

/// A plain socket.
#[derive(Debug)]
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Stream {
    pub(crate) fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
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
