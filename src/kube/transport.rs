//! HTTPS to the API server: TLS verified against the endpoint's CA, and HTTP/2 when the server
//! offers it, so that every request of a run shares one TLS connection and they run concurrently
//! on it; HTTP/1.1 otherwise. kube-apiserver offers `h2` and `http/1.1` (k8s.io/apiserver,
//! `SecureServingInfo.tlsConfig`, `NextProtos`; read at kubernetes commit 0072a2a, where it allows
//! 100 concurrent streams by default; the line's comment names Go 1.7, older than any release
//! this supports). The bearer token goes on each request, to this server only, marked sensitive:
//! HPACK never indexes it.

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
type Connector = hyper_openssl::client::legacy::HttpsConnector<TcpConnector>;

/// A client of one API server, over one connection: made on the first request, then shared.
pub struct Transport {
    connector: Connector,
    connection: futures::lock::Mutex<Option<Arc<Connection>>>,
    /// Scheme, authority and path prefix of the server's URL.
    base: http::Uri,
    authorization: Option<HeaderValue>,
    /// The first error the connection's socket returned: HTTP/2 keeps only its kind.
    socket_error: SocketError,
}

type SocketError = Arc<Mutex<Option<std::io::Error>>>;

type Body = Full<Bytes>;

/// One connection to the server, numbered in the order they were made.
struct Connection {
    protocol: Protocol,
    number: u64,
    /// Whether it has answered a request: a failure after that is the connection's end.
    answered: AtomicBool,
}

/// The protocol the server chose: HTTP/2 carries requests side by side, HTTP/1.1 one at a time.
enum Protocol {
    Http2(hyper::client::conn::http2::SendRequest<Body>),
    Http1(futures::lock::Mutex<hyper::client::conn::http1::SendRequest<Body>>),
}

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
        let mut config = kube::Config::new(base.clone());
        config.accept_invalid_certs = roots.is_none();
        config.root_cert = roots;
        let socket_error = SocketError::default();
        let tcp = TcpConnector {
            http,
            socket_error: Arc::clone(&socket_error),
        };
        let connector = connector(&config, tcp).context("setting up TLS")?;
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
            base,
            authorization,
            socket_error,
        })
    }

    /// Sends `request`, whose URI is a path and query, to the server. No redirect is followed.
    /// A failure names the socket's error last, as the cause an operator can act on.
    ///
    /// A request that fails on a connection that has answered before is sent once more, on a new
    /// connection: the server closed it or sent GOAWAY, as kube-apiserver does after a share of
    /// its answers to spread clients over its instances (`--goaway-chance`, 0.001 on a highly
    /// available OpenShift control plane: cluster-kube-apiserver-operator,
    /// `ObserveGoawayChance`). Every request of the provider is a GET, which may be repeated.
    pub async fn send(&self, request: http::Request<Vec<u8>>) -> Result<http::Response<Incoming>> {
        let (mut parts, body) = request.into_parts();
        parts.uri = self.uri(&parts.uri);
        if let Some(authorization) = &self.authorization {
            parts.headers.insert(AUTHORIZATION, authorization.clone());
        }
        let body = Bytes::from(body);
        let mut failed = None;
        loop {
            let connection = self.connection(failed).await?;
            let copy = |version| {
                let mut request = http::Request::new(Full::new(body.clone()));
                *request.method_mut() = parts.method.clone();
                *request.uri_mut() = parts.uri.clone();
                *request.headers_mut() = parts.headers.clone();
                *request.version_mut() = version;
                request
            };
            let sent = match &connection.protocol {
                Protocol::Http2(sender) => {
                    let mut sender = sender.clone();
                    match sender.ready().await {
                        Ok(()) => sender.send_request(copy(http::Version::HTTP_2)).await,
                        Err(error) => Err(error),
                    }
                }
                Protocol::Http1(sender) => {
                    let mut request = copy(http::Version::HTTP_11);
                    if let Some(host) = parts.uri.authority() {
                        let host = HeaderValue::try_from(host.as_str())?;
                        request.headers_mut().insert(http::header::HOST, host);
                    }
                    *request.uri_mut() = parts
                        .uri
                        .path_and_query()
                        .map_or("/", |p| p.as_str())
                        .parse()?;
                    // One request at a time: the next waits until this one's answer is read.
                    let mut sender = sender.lock().await;
                    match sender.ready().await {
                        Ok(()) => sender.send_request(request).await,
                        Err(error) => Err(error),
                    }
                }
            };
            match sent {
                Ok(response) => {
                    connection.answered.store(true, Ordering::Relaxed);
                    return Ok(response);
                }
                Err(_) if failed.is_none() && connection.answered.load(Ordering::Relaxed) => {
                    failed = Some(connection.number);
                }
                Err(error) => return Err(self.failure(error)),
            }
        }
    }

    /// The connection to send on: the current one, or a new one when there is none yet or it is
    /// the one numbered `failed` (another request may have replaced it already).
    async fn connection(&self, failed: Option<u64>) -> Result<Arc<Connection>> {
        let mut current = self.connection.lock().await;
        match current.as_ref() {
            Some(connection) if Some(connection.number) != failed => Ok(Arc::clone(connection)),
            _ => {
                let number = current.as_ref().map_or(0, |c| c.number + 1);
                let connection = Arc::new(Connection {
                    protocol: self.connect().await?,
                    number,
                    answered: AtomicBool::new(false),
                });
                *current = Some(Arc::clone(&connection));
                Ok(connection)
            }
        }
    }

    /// Connects, and runs the connection's protocol as a task of the runtime.
    async fn connect(&self) -> Result<Protocol> {
        let mut connector = self.connector.clone();
        let stream = tower_service::Service::call(&mut connector, self.base.clone())
            .await
            .map_err(|error| self.failure(error))?;
        let io = stream;
        if connect::Connection::connected(&io).is_negotiated_h2() {
            let (sender, connection) =
                hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .map_err(|error| self.failure(error))?;
            tokio::spawn(connection);
            Ok(Protocol::Http2(sender))
        } else {
            let (sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .map_err(|error| self.failure(error))?;
            tokio::spawn(connection);
            Ok(Protocol::Http1(futures::lock::Mutex::new(sender)))
        }
    }

    /// An error of a request or of reading its answer, with the socket's error last when there
    /// was one: HTTP/2 reports a failed read as `uncategorized error`, without the errno.
    pub fn failure(
        &self,
        error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> anyhow::Error {
        let error = error.into();
        let socket_error = self.socket_error.lock().unwrap_or_else(|e| e.into_inner());
        match socket_error.as_ref() {
            Some(cause) => anyhow!("{}: {cause}", logging::one_line(&*error)),
            None => anyhow!(error),
        }
    }

    /// The server's URL, with its path prefix (a proxy's), joined with `request`'s path and query.
    fn uri(&self, request: &http::Uri) -> http::Uri {
        let prefix = self.base.path().trim_end_matches('/');
        let path_and_query = request.path_and_query().map_or("/", |p| p.as_str());
        let mut parts = self.base.clone().into_parts();
        parts.path_and_query = format!("{prefix}{path_and_query}").parse().ok();
        http::Uri::from_parts(parts).unwrap_or_else(|_| self.base.clone())
    }
}

/// TCP connections that keep the first error their socket returns in `socket_error`.
#[derive(Clone)]
struct TcpConnector {
    http: HttpConnector,
    socket_error: SocketError,
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
        let socket_error = Arc::clone(&self.socket_error);
        Box::pin(async move {
            let stream = connecting.await?;
            Ok(RecordingStream {
                stream,
                socket_error,
            })
        })
    }
}

struct RecordingStream {
    stream: TokioIo<tokio::net::TcpStream>,
    socket_error: SocketError,
}

impl RecordingStream {
    fn record<T>(&self, polled: Poll<std::io::Result<T>>) -> Poll<std::io::Result<T>> {
        if let Poll::Ready(Err(error)) = &polled {
            let mut first = self.socket_error.lock().unwrap_or_else(|e| e.into_inner());
            if first.is_none() {
                *first = Some(std::io::Error::new(error.kind(), error.to_string()));
            }
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

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
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
        self.stream.connected()
    }
}

#[cfg(feature = "rustls")]
fn connector(config: &kube::Config, http: TcpConnector) -> Result<Connector> {
    use kube::client::ConfigExt;
    let tls = config.rustls_client_config()?;
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_all_versions()
        .wrap_connector(http))
}

#[cfg(feature = "openssl")]
fn connector(config: &kube::Config, http: TcpConnector) -> Result<Connector> {
    use kube::client::ConfigExt;
    let mut tls = config.openssl_ssl_connector_builder()?;
    tls.set_alpn_protos(b"\x02h2\x08http/1.1")?;
    let mut connector = Connector::with_connector(http, tls)?;
    if config.accept_invalid_certs {
        connector.set_callback(|ssl, _uri| {
            ssl.set_verify(openssl::ssl::SslVerifyMode::NONE);
            Ok(())
        });
    }
    Ok(connector)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn transport(base: &str) -> Transport {
        Transport::new(base.parse().unwrap(), None, None, Duration::from_secs(1)).unwrap()
    }

    #[test]
    fn requests_go_to_the_servers_url_below_its_path_prefix() {
        let path: http::Uri = "/api/v1/namespaces/a/secrets?limit=1".parse().unwrap();
        assert_eq!(
            transport("https://api.example.com:6443").uri(&path),
            "https://api.example.com:6443/api/v1/namespaces/a/secrets?limit=1"
        );
        assert_eq!(
            transport("https://proxy.example.com/k8s/clusters/c-1/").uri(&path),
            "https://proxy.example.com/k8s/clusters/c-1/api/v1/namespaces/a/secrets?limit=1"
        );
    }
}
