//! HTTPS to the API server: TLS verified against the endpoint's CA, and HTTP/2 when the server
//! offers it, so that every request of a run shares one TLS connection and they run concurrently
//! on it; HTTP/1.1 otherwise. kube-apiserver offers `h2` and `http/1.1` (k8s.io/apiserver
//! `SecureServingInfo.tlsConfig`, `NextProtos`, in v0.34.1, v0.35.1 and v0.36.2: those that
//! cluster-kube-apiserver-operator release-4.21, 4.22 and 4.23 vendor). The bearer token goes
//! on each request, to this server only, marked sensitive: HPACK never indexes it.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use http::header::{AUTHORIZATION, HeaderValue};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::client::legacy::connect::{self, Connected, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo};
use secrecy::{ExposeSecret, SecretString};

use crate::logging;

#[cfg(feature = "rustls")]
type Connector = hyper_rustls::HttpsConnector<TcpConnector>;
#[cfg(feature = "openssl")]
type Connector = super::openssl::HttpsConnector<TcpConnector>;

/// A client of one API server, over one connection: made on the first request, then shared.
pub struct Transport {
    connector: Connector,
    connection: futures::lock::Mutex<Option<Arc<Connection>>>,
    /// Held while connecting, so that requests that find the same connection ended share the
    /// one that replaces it.
    connecting: futures::lock::Mutex<()>,
    /// Scheme, authority and path prefix of the server's URL.
    base: http::Uri,
    authorization: Option<HeaderValue>,
}

/// What one connection's socket failed with first, if it failed: HTTP/2 keeps only the kind of
/// an I/O error (`uncategorized error`), so a failure names this as its cause.
#[derive(Clone, Default)]
pub struct Socket(Arc<Mutex<Option<std::io::Error>>>);

impl Socket {
    /// The socket an answer of `Transport::send` came over.
    pub fn of<B>(response: &http::Response<B>) -> Socket {
        response
            .extensions()
            .get::<Socket>()
            .cloned()
            .unwrap_or_default()
    }

    /// `error`, with the socket's own error last when there was one.
    pub fn failure(
        &self,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> anyhow::Error {
        let error = error.into();
        let first = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match first.as_ref() {
            Some(cause) => anyhow!("{}: {cause}", logging::one_line(&*error)),
            None => anyhow!(error),
        }
    }

    fn record(&self, error: &std::io::Error) {
        let mut first = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(std::io::Error::new(error.kind(), error.to_string()));
        }
    }
}

type Body = Full<Bytes>;

/// One connection to the server, numbered in the order they were made.
struct Connection {
    protocol: Protocol,
    number: u64,
    socket: Socket,
    /// Whether it has answered a request: a failure after that is the connection's end.
    answered: AtomicBool,
}

/// The protocol the server chose: HTTP/2 carries requests side by side, HTTP/1.1 one at a time.
enum Protocol {
    Http2(hyper::client::conn::http2::SendRequest<Body>),
    Http1(futures::lock::Mutex<hyper::client::conn::http1::SendRequest<Body>>),
}

/// How often a request is sent at most: a connection ended under it is replaced, twice.
const MAX_ATTEMPTS: u32 = 3;

impl Transport {
    /// `roots`: the DER certificates to trust; `None` encrypts without verifying
    /// (`--insecure-skip-tls-verify`). TCP connects within `timeout`.
    pub fn new(
        base: http::Uri,
        roots: Option<Vec<Vec<u8>>>,
        token: Option<&SecretString>,
        timeout: Duration,
    ) -> Result<Self> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        http.set_connect_timeout(Some(timeout));
        let connector = connector(roots, TcpConnector { http }).context("setting up TLS")?;
        let authorization = token
            .map(|token| {
                let mut value = HeaderValue::try_from(format!("Bearer {}", token.expose_secret()))
                    .context("the service account token is not a valid header value")?;
                value.set_sensitive(true);
                anyhow::Ok(value)
            })
            .transpose()?;
        Ok(Transport {
            connector,
            connection: futures::lock::Mutex::new(None),
            connecting: futures::lock::Mutex::new(()),
            base,
            authorization,
        })
    }

    /// Sends `request`, whose URI is a path and query, to the server. No redirect is followed.
    /// A failure names the socket's error last, as the cause an operator can act on; so does
    /// `Socket::of(&answer)` for an error reading the answer.
    ///
    /// A request that the connection ended before sending, or that fails on a connection that
    /// has answered before, is sent again on a new connection, at most `MAX_ATTEMPTS` times in
    /// all: the server closed the connection or sent GOAWAY, as kube-apiserver does after a share
    /// of its answers to spread clients over its instances (`--goaway-chance`, 0.001 on a highly
    /// available OpenShift control plane, 0 on a single node: cluster-kube-apiserver-operator
    /// release-4.21, 4.22 and 4.23, `ObserveGoawayChance`). Every request of the provider is a GET, which may be repeated.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Incoming>> {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.uri(&parts.uri)?;
        if let Some(authorization) = &self.authorization {
            parts.headers.insert(AUTHORIZATION, authorization.clone());
        }
        let body = Bytes::from(body);
        let mut failed: Option<Arc<Connection>> = None;
        for attempt in 1..=MAX_ATTEMPTS {
            let connection = match &failed {
                None => self.connection(None).await?,
                // HTTP/2: the connection that replaces it carries every request that failed.
                Some(c) if matches!(c.protocol, Protocol::Http2(_)) => {
                    self.connection(Some(c.number)).await?
                }
                // HTTP/1.1: one of its own, rather than a place in a queue on another that the
                // server may end after one answer too.
                Some(_) => self.new_connection().await?,
            };
            let mut request = http::Request::new(Full::new(body.clone()));
            *request.method_mut() = parts.method.clone();
            *request.headers_mut() = parts.headers.clone();
            let (sent, unsent) = match &connection.protocol {
                Protocol::Http2(sender) => {
                    *request.uri_mut() = parts.uri.clone();
                    *request.version_mut() = http::Version::HTTP_2;
                    let mut sender = sender.clone();
                    match sender.ready().await {
                        Ok(()) => (sender.send_request(request).await, false),
                        Err(error) => (Err(error), true),
                    }
                }
                Protocol::Http1(sender) => {
                    let host = match parts.uri.port() {
                        Some(port) => format!("{}:{port}", parts.uri.host().unwrap_or_default()),
                        None => parts.uri.host().unwrap_or_default().to_string(),
                    };
                    request
                        .headers_mut()
                        .insert(http::header::HOST, HeaderValue::try_from(host)?);
                    *request.uri_mut() = parts
                        .uri
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .parse()?;
                    // `ready` waits until the answer before is read whole (or dropped): a caller
                    // must read or drop an answer before it awaits its next request.
                    let mut sender = sender.lock().await;
                    match sender.ready().await {
                        Ok(()) => (sender.send_request(request).await, false),
                        Err(error) => (Err(error), true),
                    }
                }
            };
            match sent {
                Ok(mut response) => {
                    connection.answered.store(true, Ordering::Relaxed);
                    response.extensions_mut().insert(connection.socket.clone());
                    return Ok(response);
                }
                Err(error) => {
                    let answered = connection.answered.load(Ordering::Relaxed);
                    if !send_again(attempt, unsent, answered) {
                        return Err(connection.socket.failure(error));
                    }
                    tracing::debug!(
                        "The API server ended connection {} ({}); sending {} {} again on a new one",
                        connection.number,
                        logging::one_line(connection.socket.failure(error).as_ref()),
                        parts.method,
                        parts.uri.path()
                    );
                    failed = Some(connection);
                }
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The connection to send on: the current one, or a new one when there is none yet or it is
    /// the one numbered `failed`; a request that waited for another's new connection takes it.
    async fn connection(&self, failed: Option<u64>) -> Result<Arc<Connection>> {
        let current = |current: &Option<Arc<Connection>>| {
            current
                .as_ref()
                .filter(|connection| Some(connection.number) != failed)
                .cloned()
        };
        if let Some(connection) = current(&*self.connection.lock().await) {
            return Ok(connection);
        }
        let connecting = self.connecting.lock().await;
        if let Some(connection) = current(&*self.connection.lock().await) {
            return Ok(connection);
        }
        self.connect(connecting).await
    }

    /// A new connection, which becomes the current one.
    async fn new_connection(&self) -> Result<Arc<Connection>> {
        let connecting = self.connecting.lock().await;
        self.connect(connecting).await
    }

    /// Connects while `connecting` is held.
    async fn connect(
        &self,
        connecting: futures::lock::MutexGuard<'_, ()>,
    ) -> Result<Arc<Connection>> {
        let mut connector = self.connector.clone();
        // A failure to connect or to shake hands keeps its errno: no HTTP/2 between it and the
        // socket.
        let io = tower_service::Service::call(&mut connector, self.base.clone())
            .await
            .map_err(|error| anyhow!(error))?;
        let connected = connect::Connection::connected(&io);
        let mut extras = http::Extensions::new();
        connected.get_extras(&mut extras);
        let socket = extras.get::<Socket>().cloned().unwrap_or_default();
        let protocol = if connected.is_negotiated_h2() {
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|error| socket.failure(error))?;
            tokio::spawn(connection);
            Protocol::Http2(sender)
        } else {
            let (sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|error| socket.failure(error))?;
            tokio::spawn(connection);
            Protocol::Http1(futures::lock::Mutex::new(sender))
        };
        let mut current = self.connection.lock().await;
        let number = current.as_ref().map_or(0, |c| c.number + 1);
        let connection = Arc::new(Connection {
            protocol,
            number,
            socket,
            answered: AtomicBool::new(false),
        });
        *current = Some(Arc::clone(&connection));
        drop(connecting);
        Ok(connection)
    }

    /// The server's URL, with its path prefix (a proxy's), joined with `request`'s path and query.
    fn uri(&self, request: &http::Uri) -> Result<http::Uri> {
        let prefix = self.base.path().trim_end_matches('/');
        let path_and_query = request.path_and_query().map_or("/", |p| p.as_str());
        let joined = format!("{prefix}{path_and_query}");
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = Some(
            joined
                .parse()
                .with_context(|| format!("{} is no URL path", logging::quoted(&joined)))?,
        );
        Ok(http::Uri::from_parts(parts)?)
    }
}

/// Whether a request that failed on its `attempt` is sent again: when its connection ended
/// before sending it (`unsent`), or had answered before (the server ended it), and attempts are
/// left. A request that fails on a connection that never answered fails the run: that server
/// would fail the next connection too, and the run has one deadline.
fn send_again(attempt: u32, unsent: bool, answered: bool) -> bool {
    attempt < MAX_ATTEMPTS && (unsent || answered)
}

/// TCP connections that keep the first error their socket returns, in the `Socket` their
/// `Connected` carries (the TLS connectors pass it on).
#[derive(Clone)]
struct TcpConnector {
    http: HttpConnector,
}

impl tower_service::Service<http::Uri> for TcpConnector {
    type Response = RecordingStream;
    type Error = <HttpConnector as tower_service::Service<http::Uri>>::Error;
    type Future = Pin<Box<dyn Future<Output = Result<RecordingStream, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.http.poll_ready(cx)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let connecting = self.http.call(uri);
        Box::pin(async move {
            let stream = connecting.await?;
            let socket = Socket::default();
            Ok(RecordingStream { stream, socket })
        })
    }
}

struct RecordingStream {
    stream: TokioIo<tokio::net::TcpStream>,
    socket: Socket,
}

impl RecordingStream {
    fn record<T>(&self, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(Err(error)) = &polled {
            self.socket.record(error);
        }
        polled
    }
}

impl hyper::rt::Read for RecordingStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        self.record(polled)
    }
}

impl hyper::rt::Write for RecordingStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.record(polled)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_flush(cx);
        self.record(polled)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.record(polled)
    }
}

impl connect::Connection for RecordingStream {
    fn connected(&self) -> Connected {
        self.stream.connected().extra(self.socket.clone())
    }
}

/// TLS that trusts `roots` only (never the system's CAs, which would let any public CA vouch for
/// the API server), or, without roots, any certificate (`--insecure-skip-tls-verify`); no client
/// certificate. ALPN offers `h2` and `http/1.1`.
#[cfg(feature = "rustls")]
fn connector(roots: Option<Vec<Vec<u8>>>, http: TcpConnector) -> Result<Connector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let tls = match roots {
        Some(roots) => {
            let mut store = rustls::RootCertStore::empty();
            for der in roots {
                store
                    .add(der.into())
                    .context("reading the CA certificate")?;
            }
            builder.with_root_certificates(store)
        }
        None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider))),
    };
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.with_no_client_auth())
        .https_only()
        .enable_all_versions()
        .wrap_connector(http))
}

/// `--insecure-skip-tls-verify`: any certificate is accepted for the server, while the handshake's
/// signatures are still checked, so the connection is encrypted to whoever holds that
/// certificate's key.
#[cfg(feature = "rustls")]
#[derive(Debug)]
struct AnyCertificate(Arc<rustls::crypto::CryptoProvider>);

#[cfg(feature = "rustls")]
impl rustls::client::danger::ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, signature, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        signature: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, signature, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// As the rustls connector, with the system OpenSSL, loaded by the first connector made
/// (`super::openssl`).
#[cfg(feature = "openssl")]
fn connector(roots: Option<Vec<Vec<u8>>>, http: TcpConnector) -> Result<Connector> {
    Connector::new(roots.as_deref(), http)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base: &str) -> Transport {
        Transport::new(base.parse().unwrap(), None, None, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn a_request_is_sent_again_only_when_its_connection_ended_and_attempts_are_left() {
        // (attempt, unsent, answered)
        for again in [(1, true, false), (1, false, true), (2, true, true)] {
            assert!(send_again(again.0, again.1, again.2), "{again:?}");
        }
        for not_again in [(1, false, false), (MAX_ATTEMPTS, true, true)] {
            assert!(
                !send_again(not_again.0, not_again.1, not_again.2),
                "{not_again:?}"
            );
        }
    }

    #[test]
    fn requests_go_to_the_servers_url_below_its_path_prefix() {
        let path: http::Uri = "/api/v1/namespaces/a/secrets?limit=1".parse().unwrap();
        assert_eq!(
            transport("https://api.example.com:6443")
                .uri(&path)
                .unwrap(),
            "https://api.example.com:6443/api/v1/namespaces/a/secrets?limit=1"
        );
        assert_eq!(
            transport("https://proxy.example.com/k8s/clusters/c-1/")
                .uri(&path)
                .unwrap(),
            "https://proxy.example.com/k8s/clusters/c-1/api/v1/namespaces/a/secrets?limit=1"
        );
    }
}
