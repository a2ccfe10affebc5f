//! TLS with rustls over `may` sockets, with libpq's `sslmode` semantics.
//!
//! rustls is a state machine, so one `ClientConnection` can serve a reader and a writer that
//! run concurrently: each side locks it only to move bytes in or out (never across socket
//! I/O), and does its socket I/O on its own clone of the file descriptor.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};

use bytes::{Buf, BytesMut};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

use crate::driver::config::{Config, SslMode};
use crate::driver::socket::Stream;
use crate::error::{Error, ErrorKind, Result};

fn tls_err(what: &str, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Tls, what.to_string(), Some(Box::new(e)))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Accepts any certificate but still checks handshake signatures: `sslmode=require`/`prefer`
/// without a root certificate, as libpq does.
#[derive(Debug)]
struct NoVerify(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
struct VerifyCaOnly(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for VerifyCaOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

fn root_store(config: &Config) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    match &config.ssl_root_cert {
        Some(path) if path.as_os_str() != "system" => {
            let pem = std::fs::read(path)
                .map_err(|e| Error::io(format!("reading sslrootcert {}", path.display()), e))?;
            for cert in rustls_pemfile::certs(&mut &pem[..]) {
                let cert = cert.map_err(|e| tls_err("parsing sslrootcert", e))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_err("adding sslrootcert", e))?;
            }
            if roots.is_empty() {
                return Err(Error::new(
                    ErrorKind::Tls,
                    format!("no certificate found in sslrootcert {}", path.display()),
                    None,
                ));
            }
        }
        _ => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(roots)
}

fn client_config(config: &Config) -> Result<ClientConfig> {
    let provider = provider();
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("configuring TLS", e))?;
    // libpq: with sslrootcert, `require` behaves like `verify-ca`.
    let mode = match (config.ssl_mode, &config.ssl_root_cert) {
        (SslMode::Require, Some(_)) => SslMode::VerifyCa,
        (mode, _) => mode,
    };
    let cfg = match mode {
        SslMode::VerifyFull => builder
            .with_root_certificates(root_store(config)?)
            .with_no_client_auth(),
        SslMode::VerifyCa => {
            let verifier = WebPkiServerVerifier::builder_with_provider(
                Arc::new(root_store(config)?),
                provider,
            )
            .build()
            .map_err(|e| tls_err("building certificate verifier", e))?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(VerifyCaOnly(verifier)))
                .with_no_client_auth()
        }
        _ => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(
                provider.signature_verification_algorithms,
            )))
            .with_no_client_auth(),
    };
    Ok(cfg)
}

/// A TLS session during set-up (before it is split for pipelining).
pub(crate) struct TlsStream {
    conn: ClientConnection,
    sock: Stream,
}

impl TlsStream {
    /// Runs the handshake over `sock`, which has already had its `SSLRequest` accepted.
    pub(crate) fn handshake(mut sock: Stream, host: &str, config: &Config) -> Result<TlsStream> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| tls_err("invalid TLS server name", e))?;
        let mut conn = ClientConnection::new(Arc::new(client_config(config)?), name)
            .map_err(|e| tls_err("starting TLS", e))?;
        while conn.is_handshaking() {
            conn.complete_io(&mut sock).map_err(|e| {
                let kind = if e.kind() == io::ErrorKind::InvalidData {
                    ErrorKind::Tls
                } else {
                    ErrorKind::Io
                };
                Error::new(kind, "TLS handshake", Some(Box::new(e)))
            })?;
        }
        Ok(TlsStream { conn, sock })
    }

    pub(crate) fn stream(&self) -> &Stream {
        &self.sock
    }

    pub(crate) fn split(self) -> io::Result<(TlsReadHalf, TlsWriteHalf, Stream)> {
        let shared = Arc::new(Mutex::new(self.conn));
        let (r, w, k) = crate::driver::socket::three_ways(self.sock)?;
        Ok((
            TlsReadHalf {
                conn: shared.clone(),
                sock: r,
                raw: BytesMut::new(),
                scratch: vec![0u8; 16 * 1024].into_boxed_slice(),
            },
            TlsWriteHalf {
                conn: shared,
                sock: w,
                out: Vec::new(),
            },
            k,
        ))
    }
}

impl Read for TlsStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        rustls::Stream::new(&mut self.conn, &mut self.sock).read(buf)
    }
}

impl Write for TlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        rustls::Stream::new(&mut self.conn, &mut self.sock).write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        rustls::Stream::new(&mut self.conn, &mut self.sock).flush()
    }
}

fn lock(conn: &Mutex<ClientConnection>) -> std::sync::MutexGuard<'_, ClientConnection> {
    // A panic while holding this lock cannot leave rustls half-updated in a way we could
    // repair; keep going with the inner value as std's guidance allows.
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reader side: decrypts what arrives.
pub(crate) struct TlsReadHalf {
    conn: Arc<Mutex<ClientConnection>>,
    sock: Stream,
    /// Ciphertext read from the socket that rustls has not taken yet.
    raw: BytesMut,
    /// Where socket reads land (zeroed once): only the bytes read are copied into `raw`,
    /// instead of zero-filling 16 KiB of `raw` before every read.
    scratch: Box<[u8]>,
}

impl TlsReadHalf {
    /// The socket it reads from.
    pub(crate) fn stream(&self) -> &Stream {
        &self.sock
    }
}

impl Read for TlsReadHalf {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            {
                let mut conn = lock(&self.conn);
                match conn.reader().read(buf) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
                if !self.raw.is_empty() {
                    let mut slice = &self.raw[..];
                    let taken = conn.read_tls(&mut slice)?;
                    self.raw.advance(taken);
                    conn.process_new_packets()
                        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                    continue;
                }
            }
            // Socket I/O happens without the lock so the writer is never held up.
            let n = self.sock.read(&mut self.scratch)?;
            if n == 0 {
                return Ok(0);
            }
            self.raw.extend_from_slice(&self.scratch[..n]);
        }
    }
}

/// Writer side: encrypts and sends.
pub(crate) struct TlsWriteHalf {
    conn: Arc<Mutex<ClientConnection>>,
    sock: Stream,
    out: Vec<u8>,
}

impl Write for TlsWriteHalf {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = {
            let mut conn = lock(&self.conn);
            let n = conn.writer().write(buf)?;
            while conn.wants_write() {
                conn.write_tls(&mut self.out)?;
            }
            n
        };
        let res = self.sock.write_all(&self.out);
        self.out.clear();
        res.map(|_| n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
