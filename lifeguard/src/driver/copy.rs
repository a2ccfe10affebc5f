//! `COPY FROM STDIN` and `COPY TO STDOUT` as streams.

use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use postgres_protocol::message::backend::Message;
use postgres_protocol::message::frontend;

use crate::driver::conn::{Conn, Responses, Token};
use crate::driver::query::{rows_affected, server_error};
use crate::error::{DbError, Error, Result};

/// Data is sent to the server in CopyData messages of about this size.
const CHUNK: usize = 64 * 1024;

fn db(conn: &Conn, body: &postgres_protocol::message::backend::ErrorResponseBody) -> Error {
    match DbError::parse(body) {
        Ok(e) => server_error(conn, e),
        Err(e) => Error::io("parsing an error response", e),
    }
}

fn drain_to_ready(resp: &mut Responses) {
    while let Ok(msg) = resp.next() {
        if let Message::ReadyForQuery(_) = msg {
            break;
        }
    }
}

/// Writes `COPY … FROM STDIN` data. Implements [`std::io::Write`]; call
/// [`finish`](CopyInWriter::finish) to complete the copy. Dropping it unfinished aborts the
/// copy (`CopyFail`), which rolls back everything it sent.
pub struct CopyInWriter<'a> {
    conn: Arc<Conn>,
    token: Token,
    owns_gate: bool,
    resp: Option<Responses>,
    buf: BytesMut,
    _borrow: PhantomData<&'a ()>,
}

impl<'a> CopyInWriter<'a> {
    pub(crate) fn start(
        conn: Arc<Conn>,
        token: Option<Token>,
        sql: &str,
    ) -> Result<CopyInWriter<'a>> {
        // COPY IN needs the wire to itself: no other request may come between its messages.
        let (token, owns_gate) = match token {
            Some(t) => (t, false),
            None => (conn.acquire_exclusive(conn.config.query_timeout)?, true),
        };
        let release = |conn: &Conn| {
            if owns_gate {
                conn.release_exclusive(token);
            }
        };
        let (responder, rx) = Responses::channel();
        let seq = match conn.send(Some(token), false, Some(responder), |buf| {
            frontend::query(sql, buf).map_err(|e| Error::io("encoding Query", e))
        }) {
            Ok(seq) => seq,
            Err(e) => {
                release(&conn);
                return Err(e);
            }
        };
        let mut resp = Responses::new(rx, conn.clone(), seq);
        let first = resp.next();
        match first {
            Ok(Message::CopyInResponse(_)) => {
                conn.set_copy_in(true);
                Ok(CopyInWriter {
                    conn,
                    token,
                    owns_gate,
                    resp: Some(resp),
                    buf: BytesMut::with_capacity(CHUNK),
                    _borrow: PhantomData,
                })
            }
            Ok(Message::ErrorResponse(body)) => {
                let err = db(&conn, &body);
                drain_to_ready(&mut resp);
                release(&conn);
                Err(err)
            }
            Ok(_) => {
                drain_to_ready(&mut resp);
                release(&conn);
                Err(Error::usage("copy_in needs a COPY … FROM STDIN statement"))
            }
            Err(e) => {
                release(&conn);
                Err(e)
            }
        }
    }

    fn send_buffered(&mut self) -> Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = self.buf.split().freeze();
        self.conn.send(Some(self.token), false, None, |buf| {
            frontend::CopyData::new(data)
                .map_err(|e| Error::io("encoding CopyData", e))?
                .write(buf);
            Ok(())
        })?;
        Ok(())
    }

    /// Sends what is buffered, ends the copy, and returns the number of rows copied.
    pub fn finish(mut self) -> Result<u64> {
        let result = self.finish_inner();
        self.end();
        result
    }

    fn finish_inner(&mut self) -> Result<u64> {
        self.send_buffered()?;
        self.conn.send(Some(self.token), false, None, |buf| {
            frontend::copy_done(buf);
            Ok(())
        })?;
        let mut resp = self.resp.take().expect("copy response taken once");
        let mut rows = 0;
        let mut error = None;
        loop {
            match resp.next()? {
                Message::CommandComplete(body) => rows = rows_affected(&body),
                Message::ErrorResponse(body) => error = Some(db(&self.conn, &body)),
                Message::ReadyForQuery(_) => break,
                _ => {}
            }
        }
        match error {
            Some(e) => Err(e),
            None => Ok(rows),
        }
    }

    fn end(&mut self) {
        self.conn.set_copy_in(false);
        if self.owns_gate {
            self.conn.release_exclusive(self.token);
            self.owns_gate = false;
        }
    }
}

impl Write for CopyInWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send_buffered()
                .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e))?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.send_buffered()
            .map_err(|e| io::Error::new(io::ErrorKind::BrokenPipe, e))
    }
}

impl Drop for CopyInWriter<'_> {
    fn drop(&mut self) {
        if self.resp.is_some() {
            let _ = self.conn.send(Some(self.token), false, None, |buf| {
                frontend::copy_fail("COPY aborted by the client", buf)
                    .map_err(|e| Error::io("encoding CopyFail", e))
            });
            // The server's error and ReadyForQuery go to the dropped receiver.
            self.resp = None;
        }
        self.end();
    }
}

/// Reads `COPY … TO STDOUT` data, as chunks (`Iterator`) or bytes ([`std::io::Read`]).
pub struct CopyOutReader {
    conn: Arc<Conn>,
    resp: Responses,
    current: Bytes,
    done: bool,
    error: Option<Error>,
}

impl CopyOutReader {
    pub(crate) fn start(conn: Arc<Conn>, token: Option<Token>, sql: &str) -> Result<CopyOutReader> {
        let (responder, rx) = Responses::channel();
        let seq = conn.send(token, false, Some(responder), |buf| {
            frontend::query(sql, buf).map_err(|e| Error::io("encoding Query", e))
        })?;
        let mut resp = Responses::new(rx, conn.clone(), seq);
        match resp.next()? {
            Message::CopyOutResponse(_) => Ok(CopyOutReader {
                conn,
                resp,
                current: Bytes::new(),
                done: false,
                error: None,
            }),
            Message::ErrorResponse(body) => {
                let err = db(&conn, &body);
                drain_to_ready(&mut resp);
                Err(err)
            }
            _ => {
                drain_to_ready(&mut resp);
                Err(Error::usage("copy_out needs a COPY … TO STDOUT statement"))
            }
        }
    }

    fn next_chunk(&mut self) -> Result<Option<Bytes>> {
        while !self.done {
            match self.resp.next()? {
                Message::CopyData(body) => return Ok(Some(body.into_bytes())),
                Message::ErrorResponse(body) => self.error = Some(db(&self.conn, &body)),
                Message::ReadyForQuery(_) => {
                    self.done = true;
                    if let Some(e) = self.error.take() {
                        return Err(e);
                    }
                }
                _ => {}
            }
        }
        Ok(None)
    }
}

impl Iterator for CopyOutReader {
    type Item = Result<Bytes>;
    fn next(&mut self) -> Option<Result<Bytes>> {
        self.next_chunk().transpose()
    }
}

impl Read for CopyOutReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.next_chunk() {
                Ok(Some(chunk)) => self.current = chunk,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(e)),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        self.current.advance(n);
        Ok(n)
    }
}
