//! Cancel requests: a separate short connection asks the server to stop a running query.

use std::io::{Read, Write};
use std::sync::Arc;

use bytes::BytesMut;
use postgres_protocol::message::frontend;

use crate::driver::config::{Config, Host};
use crate::driver::connect::{negotiate_tls, open_stream};

use crate::error::{Error, Result};

/// Cancels whatever query its connection is running. Cheap to clone, `Send`, usable from any
/// coroutine or thread, and valid after the connection is gone (it then does nothing harmful).
#[derive(Clone, Debug)]
pub struct CancelToken {
    config: Arc<Config>,
    host: Host,
    port: u16,
    process_id: i32,
    secret_key: i32,
}

impl CancelToken {
    pub(crate) fn new(
        config: Arc<Config>,
        host: Host,
        port: u16,
        process_id: i32,
        secret_key: i32,
    ) -> CancelToken {
        CancelToken {
            config,
            host,
            port,
            process_id,
            secret_key,
        }
    }

    /// The backend process id the token targets.
    pub fn process_id(&self) -> i32 {
        self.process_id
    }

    /// Sends the cancel request. Success means the server received it; whether a query was
    /// running (and is now failing with SQLSTATE 57014) is not reported by the protocol.
    pub fn cancel_query(&self) -> Result<()> {
        let token = self.clone();
        crate::driver::connect::on_big_stack(move || token.send_cancel())
    }

    fn send_cancel(&self) -> Result<()> {
        let stream = open_stream(&self.host, self.port, self.config.connect_timeout)?;
        stream
            .set_timeouts(self.config.connect_timeout)
            .map_err(|e| Error::io("setting socket timeouts", e))?;
        // Same TLS negotiation as the connection itself, as libpq does.
        let mut socket = negotiate_tls(stream, &self.host, &self.config)?;
        let mut buf = BytesMut::new();
        frontend::cancel_request(self.process_id, self.secret_key, &mut buf);
        socket
            .write_all(&buf)
            .and_then(|_| socket.flush())
            .map_err(|e| Error::io("sending the cancel request", e))?;
        // The server closes the socket once it has handled the request.
        let mut sink = [0u8; 64];
        while let Ok(n) = socket.read(&mut sink) {
            if n == 0 {
                break;
            }
        }
        Ok(())
    }
}
