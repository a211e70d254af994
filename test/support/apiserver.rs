//! A stand-in for the Kubernetes API server, for tests and `make demo` (no kube-apiserver can be
//! installed here). It behaves like the real one where the provider can tell: HTTPS with a CA of
//! its own, bearer tokens of service accounts (401 for an unknown token), RBAC per service account
//! (Role rules of verbs, resources and `resourceNames`, checked before the object is looked up;
//! 403 with the real message otherwise), `get` and `list` of secrets, `get` of service accounts
//! and pods, `v1` `Status` objects for errors, field selectors on `type` and `metadata.name` (400
//! for other fields), a leading `&` in the query accepted, `GET /version` without credentials,
//! and content negotiation: secrets, secret lists and `Status` objects in Kubernetes' protobuf
//! encoding when `Accept` names it first (else, and for other kinds, JSON).

#![allow(dead_code)] // Each test binary uses its own part of this.

use std::collections::HashMap;
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

pub struct FakeApiServer {
    pub url: String,
    /// PEM of the CA that signed the server's certificate.
    pub ca_pem: String,
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    /// Token to the service account it authenticates.
    tokens: HashMap<String, Account>,
    /// The Role rules bound to each service account.
    rules: HashMap<Account, Vec<Rule>>,
    /// Objects by resource (`secrets`, `serviceaccounts`, `pods`), each with its namespace.
    objects: HashMap<&'static str, Vec<Value>>,
    forced_status: Option<(u16, String)>,
    /// Requests to one path (a list or one object) answered with this status instead.
    failing_paths: HashMap<String, u16>,
    /// Answers that replace every regular one: a redirect, or an endless-looking body.
    raw_answer: Option<RawAnswer>,
    delay: Duration,
    requests: Vec<Recorded>,
    traffic: Traffic,
    goaway_after: Option<usize>,
    close_every_connection: bool,
    /// Answers in JSON whatever the request accepts, as a server that encodes no type in
    /// protobuf (an aggregated API, a proxy in front of the real one).
    json_only: bool,
}

/// What the server's connections carried: the load one run puts on the API server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// TCP connections accepted, each with its TLS handshake.
    pub connections: u64,
    /// Bytes read from and written to the connections, TLS records and handshakes included.
    pub bytes_received: u64,
    pub bytes_sent: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Account {
    namespace: String,
    name: String,
}

/// One rule of a Role in the core API group: these verbs on this resource, on the named objects
/// only when `names` is not empty.
struct Rule {
    verbs: Vec<String>,
    resource: String,
    names: Vec<String>,
}

/// Answers no real API server gives, which the provider must survive.
#[derive(Clone)]
pub enum RawAnswer {
    /// `302 Found` to `location`.
    Redirect(String),
    /// A `200` whose body is `bytes` of JSON white space, with a `Content-Length` or chunked.
    Blanks { bytes: usize, chunked: bool },
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    /// `get` or `list`.
    pub verb: &'static str,
    pub field_selector: Option<String>,
    pub resource_version: Option<String>,
    pub status: u16,
    /// Whether the request carried an `Authorization` header.
    pub authorized: bool,
    pub version: http::Version,
    /// Whether it was answered in Kubernetes' protobuf encoding (else in JSON).
    pub protobuf: bool,
}

/// The name and uid of the pod every token of `service_account_token` is bound to.
pub const POD_NAME: &str = "app";
pub const POD_UID: &str = "0b9c7e9e-3f0c-4d55-9d5e-2f6a6c1f0a11";

/// A token of the `default` service account of `namespace`, bound to pod `POD_NAME`.
pub fn service_account_token(namespace: &str) -> String {
    bound_token(namespace, "default", POD_NAME, POD_UID)
}

/// A JWT shaped like the bound token kubelet requests for a pod (the signature is not real).
pub fn bound_token(namespace: &str, account: &str, pod: &str, pod_uid: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = json!({
        "aud": ["https://kubernetes.default.svc"],
        "iss": "https://kubernetes.default.svc",
        "sub": format!("system:serviceaccount:{namespace}:{account}"),
        "kubernetes.io": {
            "namespace": namespace,
            "serviceaccount": {"name": account, "uid": format!("uid-{account}")},
            "pod": {"name": pod, "uid": pod_uid},
            "node": {"name": "worker-0", "uid": "uid-worker-0"},
        },
    });
    format!(
        "{}.{}.{}",
        engine.encode(r#"{"alg":"RS256","kid":"test"}"#),
        engine.encode(claims.to_string()),
        engine.encode(format!("signature-of-{namespace}-{account}-{pod_uid}"))
    )
}

/// A `.dockerconfigjson` document with one `user:password` entry per key.
pub fn docker_config_json(entries: &[(&str, &str, &str)]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    let auths: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(key, user, password)| {
            (
                key.to_string(),
                json!({"auth": engine.encode(format!("{user}:{password}"))}),
            )
        })
        .collect();
    json!({ "auths": auths }).to_string()
}

impl FakeApiServer {
    /// Starts serving on a free loopback port, on threads that live as long as the process.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    pub fn start_on(address: &str) -> Self {
        Self::serve(address, &[b"h2", b"http/1.1"], Issuer::Root)
    }

    /// A server that offers HTTP/1.1 only, as one behind a proxy that speaks no HTTP/2 may.
    pub fn start_http1_only() -> Self {
        Self::serve("127.0.0.1:0", &[b"http/1.1"], Issuer::Root)
    }

    /// A server whose certificate an intermediate CA signed, which sends it with its root; its
    /// `ca_pem` is the intermediate's alone.
    pub fn start_behind_intermediate() -> Self {
        Self::serve("127.0.0.1:0", &[b"h2", b"http/1.1"], Issuer::Intermediate)
    }

    /// Serves on `address`, offering the ALPN `protocols`.
    fn serve(address: &str, protocols: &[&[u8]], issuer: Issuer) -> Self {
        let (ca_pem, tls) = tls_config(protocols, issuer);
        let listener = TcpListener::bind(address).expect("binding the fake API server");
        let url = format!("https://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let tls = Arc::clone(&tls);
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve_connection(stream, tls, state));
            }
        });
        FakeApiServer { url, ca_pem, state }
    }

    /// Lets `token` act as the default service account of `namespace`, under the Role OpenShift
    /// documents today: `get` and `list` on every secret of the namespace.
    pub fn allow_token(&self, token: &str, namespace: &str) {
        self.add_account(token, namespace, "default");
        self.grant(namespace, "default", &["get", "list"], "secrets", &[]);
    }

    /// Lets `token` authenticate as service account `name` of `namespace`, with no rules yet.
    pub fn add_account(&self, token: &str, namespace: &str, name: &str) {
        let account = Account {
            namespace: namespace.to_string(),
            name: name.to_string(),
        };
        let mut state = self.state.lock().unwrap();
        state.tokens.insert(token.to_string(), account.clone());
        state.rules.entry(account).or_default();
    }

    /// Binds a Role rule to service account `account` of `namespace`: `verbs` on `resource`,
    /// restricted to `names` when there are any.
    pub fn grant(
        &self,
        namespace: &str,
        account: &str,
        verbs: &[&str],
        resource: &str,
        names: &[&str],
    ) {
        let account = Account {
            namespace: namespace.to_string(),
            name: account.to_string(),
        };
        let rule = Rule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            resource: resource.to_string(),
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        let mut state = self.state.lock().unwrap();
        state.rules.entry(account).or_default().push(rule);
    }

    /// Removes every rule bound to service account `account` of `namespace`.
    pub fn revoke(&self, namespace: &str, account: &str) {
        let account = Account {
            namespace: namespace.to_string(),
            name: account.to_string(),
        };
        self.state.lock().unwrap().rules.insert(account, Vec::new());
    }

    /// Stores a secret whose data holds `data_key` = `content`.
    pub fn add_secret(
        &self,
        namespace: &str,
        name: &str,
        secret_type: &str,
        data_key: &str,
        content: &str,
    ) {
        let engine = base64::engine::general_purpose::STANDARD;
        let secret = json!({
            "kind": "Secret", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}")},
            "type": secret_type,
            "data": {data_key: engine.encode(content)},
        });
        self.add_object("secrets", secret);
    }

    pub fn add_pull_secret(&self, namespace: &str, name: &str, config_json: &str) {
        self.add_secret(
            namespace,
            name,
            "kubernetes.io/dockerconfigjson",
            ".dockerconfigjson",
            config_json,
        );
    }

    /// Stores a service account whose `imagePullSecrets` name `pull_secrets`, in that order.
    pub fn add_service_account(&self, namespace: &str, name: &str, pull_secrets: &[&str]) {
        let account = json!({
            "kind": "ServiceAccount", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{name}")},
            "secrets": [{"name": format!("{name}-dockercfg-x1y2z")}],
            "imagePullSecrets": references(pull_secrets),
        });
        self.add_object("serviceaccounts", account);
    }

    /// Stores a pod whose `spec.imagePullSecrets` name `pull_secrets`, in that order.
    pub fn add_pod(&self, namespace: &str, name: &str, uid: &str, pull_secrets: &[&str]) {
        let pod = json!({
            "kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": name, "namespace": namespace, "uid": uid},
            "spec": {
                "serviceAccountName": "default",
                "containers": [{"name": "app", "image": "docker.io/library/nginx:latest"}],
                "imagePullSecrets": references(pull_secrets),
            },
            "status": {"phase": "Pending"},
        });
        self.add_object("pods", pod);
    }

    fn add_object(&self, resource: &'static str, object: Value) {
        let mut state = self.state.lock().unwrap();
        let objects = state.objects.entry(resource).or_default();
        objects.retain(|o| {
            o["metadata"]["namespace"] != object["metadata"]["namespace"]
                || o["metadata"]["name"] != object["metadata"]["name"]
        });
        objects.push(object);
    }

    /// Every request is answered with this status from now on.
    pub fn force_status(&self, code: u16) {
        self.force_status_message(code, &format!("forced status {code}"));
    }

    /// Every request is answered with this status and `Status` message from now on.
    pub fn force_status_message(&self, code: u16, message: &str) {
        self.state.lock().unwrap().forced_status = Some((code, message.to_string()));
    }

    /// Requests to `path` alone (`/api/v1/namespaces/team-a/secrets` for the list, or one
    /// object's path) are answered with `code` and a `Status` from now on, as an API server
    /// answers when etcd or an aggregated layer fails.
    pub fn fail_path(&self, path: &str, code: u16) {
        let mut state = self.state.lock().unwrap();
        state.failing_paths.insert(path.to_string(), code);
    }

    /// Every request gets `answer` from now on.
    pub fn force_raw_answer(&self, answer: RawAnswer) {
        self.state.lock().unwrap().raw_answer = Some(answer);
    }

    /// The connection that carries the `request`-th request of the server (counting from 1) ends
    /// with that answer: GOAWAY (HTTP/2) or `Connection: close` (HTTP/1.1), as kube-apiserver's
    /// `--goaway-chance` ends a connection with a share of its answers.
    pub fn goaway_after(&self, request: usize) {
        self.state.lock().unwrap().goaway_after = Some(request);
    }

    /// Answers in JSON only, as a server that encodes nothing in protobuf.
    pub fn json_only(&self) {
        self.state.lock().unwrap().json_only = true;
    }

    /// Every connection ends with its first answer, as behind a proxy that answers with
    /// `Connection: close`.
    pub fn close_every_connection(&self) {
        self.state.lock().unwrap().close_every_connection = true;
    }

    /// Every answer is held back this long.
    pub fn delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    /// What the connections so far carried.
    pub fn traffic(&self) -> Traffic {
        self.state.lock().unwrap().traffic
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

/// Who signs the server's certificate.
#[derive(PartialEq)]
enum Issuer {
    Root,
    Intermediate,
}

/// The CA a client is to trust, and the server's TLS config.
fn tls_config(protocols: &[&[u8]], issuer: Issuer) -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{
        BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair,
        KeyUsagePurpose,
    };
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "fake-apiserver-ca");
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let root =
        CertifiedIssuer::self_signed(ca_params.clone(), KeyPair::generate().unwrap()).unwrap();
    let intermediate = (issuer == Issuer::Intermediate).then(|| {
        let mut params = ca_params;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, "fake-apiserver-intermediate-ca");
        CertifiedIssuer::signed_by(params, KeyPair::generate().unwrap(), &root).unwrap()
    });
    let ca = intermediate.as_ref().unwrap_or(&root);
    let server_key = KeyPair::generate().unwrap();
    let mut server_params = CertificateParams::new(vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        "::1".to_string(),
    ])
    .unwrap();
    server_params
        .distinguished_name
        .push(DnType::CommonName, "kube-apiserver");
    let server_cert = server_params.signed_by(&server_key, ca).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    // The server's certificate, then its issuers up to the root, as a server sends them.
    let mut chain = vec![server_cert.der().clone()];
    chain.extend(intermediate.as_ref().map(|i| i.der().clone()));
    chain.push(root.der().clone());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .unwrap();
    let mut config = config;
    config.alpn_protocols = protocols.iter().map(|p| p.to_vec()).collect();
    (ca.pem(), Arc::new(config))
}

/// Serves one connection: HTTP/2 or HTTP/1.1 as ALPN chose, like the real server (Go's
/// `net/http`), on a runtime of its own; what the connection carries is counted.
fn serve_connection(stream: TcpStream, tls: Arc<rustls::ServerConfig>, state: Arc<Mutex<State>>) {
    use hyper_util::rt::{TokioExecutor, TokioIo};
    state.lock().unwrap().traffic.connections += 1;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        // Go's TCP connections (kube-apiserver's) set TCP_NODELAY; without it, an answer's last
        // segment waits for the client's delayed ACK (40 ms).
        if stream.set_nonblocking(true).is_err() || stream.set_nodelay(true).is_err() {
            return;
        }
        let Ok(stream) = tokio::net::TcpStream::from_std(stream) else {
            return;
        };
        let counted = Counted {
            inner: stream,
            state: Arc::clone(&state),
        };
        let Ok(stream) = tokio_rustls::TlsAcceptor::from(tls).accept(counted).await else {
            return;
        };
        // The request `goaway_after` picks ends its connection: the shutdown starts before its
        // answer goes out, so that the client learns of it (GOAWAY, `Connection: close`) with
        // the answer, as from kube-apiserver, and sends nothing more on this connection.
        let goaway = Arc::new(tokio::sync::Notify::new());
        let shutting_down = Arc::new(tokio::sync::Notify::new());
        let service = hyper::service::service_fn({
            let (goaway, shutting_down) = (Arc::clone(&goaway), Arc::clone(&shutting_down));
            move |request| {
                let state = Arc::clone(&state);
                let (goaway, shutting_down) = (Arc::clone(&goaway), Arc::clone(&shutting_down));
                async move {
                    let (answer, number) = respond(request, &state).await;
                    let picked = {
                        let mut state = state.lock().unwrap();
                        let picked = state.goaway_after == Some(number);
                        if picked {
                            state.goaway_after = None;
                        }
                        picked || (state.close_every_connection && number > 0)
                    };
                    if picked {
                        goaway.notify_one();
                        shutting_down.notified().await;
                    }
                    Ok::<_, std::convert::Infallible>(answer)
                }
            }
        });
        let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(connection);
        tokio::select! {
            biased;
            () = goaway.notified() => {
                connection.as_mut().graceful_shutdown();
                shutting_down.notify_one();
            }
            _ = connection.as_mut() => return,
        }
        let _ = connection.await;
    });
}

type AnswerBody =
    http_body_util::combinators::BoxBody<hyper::body::Bytes, std::convert::Infallible>;

/// The answer to `request`, and its number among the server's requests (from 1; 0 for a raw
/// answer, which is not recorded).
async fn respond(
    request: hyper::Request<hyper::body::Incoming>,
    state: &Mutex<State>,
) -> (hyper::Response<AnswerBody>, usize) {
    use http_body_util::BodyExt;
    let (delay, raw_answer) = {
        let state = state.lock().unwrap();
        (state.delay, state.raw_answer.clone())
    };
    tokio::time::sleep(delay).await;
    if let Some(raw) = raw_answer {
        return (raw_response(&raw), 0);
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_string(), value)
        })
        .collect();
    let version = request.version();
    // The request's body is read and dropped, as the real server ignores one on a GET.
    let _ = request.into_body().collect().await;
    let mut state = state.lock().unwrap();
    let (status, body, mut recorded) = answer(&target, &headers, &mut state);
    // Content negotiation as the real server's: the first media type of `Accept` it can encode
    // the answer in; protobuf for the built-in types (here the ones it serves in protobuf).
    let accepts_protobuf_first = headers.get("accept").is_some_and(|accept| {
        accept
            .split(',')
            .map(|range| range.split(';').next().unwrap_or("").trim())
            .find(|media_type| {
                ["application/json", PROTOBUF, "*/*", "application/*"].contains(media_type)
            })
            == Some(PROTOBUF)
    });
    let protobuf = (accepts_protobuf_first && !state.json_only)
        .then(|| protobuf::encode(&body))
        .flatten();
    recorded.version = version;
    recorded.protobuf = protobuf.is_some();
    state.requests.push(recorded);
    let number = state.requests.len();
    let (content_type, body) = match protobuf {
        Some(encoded) => (PROTOBUF, encoded),
        None => ("application/json", body.to_string().into_bytes()),
    };
    let response = hyper::Response::builder()
        .status(status)
        .header("content-type", content_type)
        .header("content-length", body.len())
        .body(http_body_util::Full::from(body).boxed())
        .unwrap();
    (response, number)
}

fn raw_response(answer: &RawAnswer) -> hyper::Response<AnswerBody> {
    use http_body_util::BodyExt;
    match answer {
        RawAnswer::Redirect(location) => hyper::Response::builder()
            .status(302)
            .header("location", location)
            .header("content-length", 0)
            .body(http_body_util::Empty::new().boxed())
            .unwrap(),
        &RawAnswer::Blanks { bytes, chunked } => {
            let chunk = hyper::body::Bytes::from(vec![b' '; 64 * 1024]);
            let frames = (0..bytes.div_ceil(chunk.len())).map(move |i| {
                let left = bytes - i * chunk.len();
                Ok(hyper::body::Frame::data(
                    chunk.slice(..left.min(chunk.len())),
                ))
            });
            let body = http_body_util::StreamBody::new(futures::stream::iter(frames));
            let mut response = hyper::Response::builder()
                .status(200)
                .header("content-type", "application/json");
            // Without a length, HTTP/1.1 sends it chunked (HTTP/2 in frames, as always).
            if !chunked {
                response = response.header("content-length", bytes);
            }
            response.body(body.boxed()).unwrap()
        }
    }
}

/// A connection's TCP stream, counting the bytes it carries (TLS records included).
struct Counted {
    inner: tokio::net::TcpStream,
    state: Arc<Mutex<State>>,
}

impl tokio::io::AsyncRead for Counted {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.state.lock().unwrap().traffic.bytes_received += read;
        polled
    }
}

impl tokio::io::AsyncWrite for Counted {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(written)) = &polled {
            self.state.lock().unwrap().traffic.bytes_sent += *written as u64;
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn references(names: &[&str]) -> Value {
    names.iter().map(|name| json!({ "name": name })).collect()
}

fn answer(
    target: &str,
    headers: &HashMap<String, String>,
    state: &mut State,
) -> (u16, Value, Recorded) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let parameter = |wanted: &str| {
        query
            .split('&')
            .filter(|pair| !pair.is_empty()) // `?&fieldSelector=...` is accepted, as by the real server
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == wanted)
            .map(|(_, value)| percent_decode(value))
    };
    let field_selector = parameter("fieldSelector");
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let failure = state.failing_paths.get(path).copied();
    let (verb, status, body) = match (&parts[..], failure) {
        // Open to anyone, as the real server's system:public-info-viewer role makes it by default.
        (["version"], None) => match &state.forced_status {
            Some((code, message)) => ("get", *code, status(*code, message)),
            None => ("get", 200, version()),
        },
        (["api", "v1", "namespaces", _, _], Some(code)) => {
            ("list", code, status(code, &format!("forced status {code}")))
        }
        (["api", "v1", "namespaces", _, _, _], Some(code)) => {
            ("get", code, status(code, &format!("forced status {code}")))
        }
        (["api", "v1", "namespaces", namespace, resource], None) => {
            let (status, body) = list(
                namespace,
                resource,
                field_selector.as_deref(),
                headers,
                state,
            );
            ("list", status, body)
        }
        (["api", "v1", "namespaces", namespace, resource, name], None) => {
            let (status, body) = get(namespace, resource, name, headers, state);
            ("get", status, body)
        }
        _ => (
            "get",
            404,
            status(404, "the server could not find the requested resource"),
        ),
    };
    let recorded = Recorded {
        path: path.to_string(),
        verb,
        field_selector,
        resource_version: parameter("resourceVersion"),
        status,
        authorized: headers.contains_key("authorization"),
        version: http::Version::HTTP_11,
        protobuf: false,
    };
    (status, body, recorded)
}

/// `GET /version` as a Kubernetes 1.34 API server answers it.
fn version() -> Value {
    json!({
        "major": "1", "minor": "34", "gitVersion": "v1.34.2",
        "gitCommit": "8cc511e399b929453cd98ae65b419c3cc227ec79", "gitTreeState": "clean",
        "buildDate": "2025-11-11T19:10:18Z", "goVersion": "go1.24.9", "compiler": "gc",
        "platform": "linux/amd64"
    })
}

const RESOURCES: [&str; 3] = ["secrets", "serviceaccounts", "pods"];

/// The service account a request authenticates as, or the answer that refuses it.
fn authenticate<'a>(
    headers: &HashMap<String, String>,
    state: &'a State,
) -> Result<&'a Account, (u16, Value)> {
    if let Some((code, message)) = &state.forced_status {
        return Err((*code, status(*code, message)));
    }
    headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|token| state.tokens.get(token))
        .ok_or_else(|| (401, status(401, "Unauthorized")))
}

/// RBAC as the API server decides it, before it looks at any object: a rule of the account's
/// namespace with the verb and resource, whose `resourceNames` (if any) include the name. A
/// `list` has a name only through a `metadata.name` field selector.
fn authorize(
    account: &Account,
    verb: &str,
    namespace: &str,
    resource: &str,
    name: Option<&str>,
    state: &State,
) -> Result<(), (u16, Value)> {
    let allowed = account.namespace == namespace
        && state.rules.get(account).into_iter().flatten().any(|rule| {
            rule.verbs.iter().any(|v| v == verb)
                && rule.resource == resource
                && (rule.names.is_empty()
                    || name.is_some_and(|name| rule.names.iter().any(|n| n == name)))
        });
    if allowed {
        return Ok(());
    }
    let object = match (verb, name) {
        ("get", Some(name)) => format!("{resource} \"{name}\""),
        _ => resource.to_string(),
    };
    let message = format!(
        "{object} is forbidden: User \"system:serviceaccount:{}:{}\" cannot {verb} resource \"{resource}\" in API group \"\" in the namespace \"{namespace}\"",
        account.namespace, account.name
    );
    let mut body = status(403, &message);
    body["details"] = json!({"name": name.unwrap_or_default(), "kind": resource});
    Err((403, body))
}

fn get(
    namespace: &str,
    resource: &str,
    name: &str,
    headers: &HashMap<String, String>,
    state: &State,
) -> (u16, Value) {
    let decided = authenticate(headers, state)
        .and_then(|account| authorize(account, "get", namespace, resource, Some(name), state));
    if let Err(refusal) = decided {
        return refusal;
    }
    if !RESOURCES.contains(&resource) {
        return (
            404,
            status(404, "the server could not find the requested resource"),
        );
    }
    let found = state
        .objects
        .get(resource)
        .into_iter()
        .flatten()
        .find(|o| o["metadata"]["namespace"] == namespace && o["metadata"]["name"] == name);
    match found {
        Some(object) => (200, object.clone()),
        None => {
            let mut body = status(404, &format!("{resource} \"{name}\" not found"));
            body["details"] = json!({"name": name, "kind": resource});
            (404, body)
        }
    }
}

fn list(
    namespace: &str,
    resource: &str,
    field_selector: Option<&str>,
    headers: &HashMap<String, String>,
    state: &State,
) -> (u16, Value) {
    let selected_name = field_selector
        .and_then(|s| s.strip_prefix("metadata.name="))
        .filter(|name| !name.contains(','));
    let decided = authenticate(headers, state)
        .and_then(|account| authorize(account, "list", namespace, resource, selected_name, state));
    if let Err(refusal) = decided {
        return refusal;
    }
    if resource != "secrets" {
        return (
            404,
            status(404, "the server could not find the requested resource"),
        );
    }
    let mut items = Vec::new();
    for secret in state
        .objects
        .get("secrets")
        .into_iter()
        .flatten()
        .filter(|s| s["metadata"]["namespace"] == namespace)
    {
        match selected(secret, field_selector) {
            Ok(true) => items.push(secret.clone()),
            Ok(false) => {}
            Err(message) => return (400, status(400, &message)),
        }
    }
    (
        200,
        json!({"kind": "SecretList", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}),
    )
}

/// Field selector semantics of the real server for secrets: comma-separated `field=value`,
/// `field==value` or `field!=value` over `type`, `metadata.name` and `metadata.namespace`.
fn selected(secret: &Value, selector: Option<&str>) -> Result<bool, String> {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return Ok(true);
    };
    for requirement in selector.split(',') {
        let (field, negate, value) = if let Some((f, v)) = requirement.split_once("!=") {
            (f, true, v)
        } else if let Some((f, v)) = requirement.split_once("==") {
            (f, false, v)
        } else if let Some((f, v)) = requirement.split_once('=') {
            (f, false, v)
        } else {
            return Err(format!(
                "invalid selector: '{requirement}'; can't understand '{requirement}'"
            ));
        };
        let actual = match field {
            "type" => &secret["type"],
            "metadata.name" => &secret["metadata"]["name"],
            "metadata.namespace" => &secret["metadata"]["namespace"],
            _ => {
                return Err(format!(
                    "\"{field}\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\", \"type\""
                ));
            }
        };
        if (actual.as_str() == Some(value)) == negate {
            return Ok(false);
        }
    }
    Ok(true)
}

fn status(code: u16, message: &str) -> Value {
    json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": status_reason(code), "code": code,
    })
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Error",
    }
}

/// The `reason` of a `Status` object, as the API server spells it.
fn status_reason(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        500 => "InternalError",
        _ => "Unknown",
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() && u8::from_str_radix(&value[i + 1..i + 3], 16).is_ok() => {
                out.push(u8::from_str_radix(&value[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// Kubernetes' protobuf encoding of the objects the stand-in serves in it, written as the API
/// server's generated marshallers write them: every non-pointer field, empty or not, in field
/// order, map entries sorted by key, the object in a `runtime.Unknown` behind the `k8s\0` magic.
/// Field numbers from `generated.proto` of k8s.io/api `core/v1` and k8s.io/apimachinery.
mod protobuf {
    use base64::Engine;
    use serde_json::Value;

    /// The encoded object, or `None` for a kind the stand-in does not encode (served in JSON).
    pub fn encode(object: &Value) -> Option<Vec<u8>> {
        let raw = match object["kind"].as_str()? {
            "SecretList" => {
                let mut list = message(1, &list_meta(&object["metadata"]));
                for secret in object["items"].as_array()? {
                    list.extend(message(2, &secret_object(secret)));
                }
                list
            }
            "Secret" => secret_object(object),
            "Status" => status(object),
            _ => return None,
        };
        let type_meta = [text(1, "v1"), text(2, object["kind"].as_str()?)].concat();
        let unknown = [
            message(1, &type_meta),
            message(2, &raw),
            text(3, ""),
            text(4, ""),
        ]
        .concat();
        Some([&b"k8s\x00"[..], &unknown].concat())
    }

    fn varint(mut value: u64, out: &mut Vec<u8>) {
        while value >= 0x80 {
            out.push(value as u8 | 0x80);
            value >>= 7;
        }
        out.push(value as u8);
    }

    fn number(field: u64, value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3, &mut out);
        varint(value, &mut out);
        out
    }

    fn message(field: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3 | 2, &mut out);
        varint(bytes.len() as u64, &mut out);
        out.extend_from_slice(bytes);
        out
    }

    fn text(field: u64, value: &str) -> Vec<u8> {
        message(field, value.as_bytes())
    }

    fn string_of<'a>(object: &'a Value, name: &str) -> &'a str {
        object[name].as_str().unwrap_or("")
    }

    /// ListMeta: selfLink = 1, resourceVersion = 2, continue = 3.
    fn list_meta(meta: &Value) -> Vec<u8> {
        [
            text(1, ""),
            text(2, string_of(meta, "resourceVersion")),
            text(3, ""),
        ]
        .concat()
    }

    /// ObjectMeta: name = 1, generateName = 2, namespace = 3, selfLink = 4, uid = 5,
    /// resourceVersion = 6, generation = 7, creationTimestamp = 8 (seconds = 1, nanos = 2).
    fn object_meta(meta: &Value) -> Vec<u8> {
        [
            text(1, string_of(meta, "name")),
            text(2, ""),
            text(3, string_of(meta, "namespace")),
            text(4, ""),
            text(5, string_of(meta, "uid")),
            text(6, string_of(meta, "resourceVersion")),
            number(7, 0),
            message(8, &[number(1, 1_764_547_200), number(2, 0)].concat()),
        ]
        .concat()
    }

    /// Secret: metadata = 1, data = 2 (entries: key = 1, value = 2), type = 3.
    fn secret_object(secret: &Value) -> Vec<u8> {
        let mut encoded = message(1, &object_meta(&secret["metadata"]));
        // serde_json's map is sorted by key, as the marshaller sorts the entries.
        for (key, value) in secret["data"].as_object().into_iter().flatten() {
            let value = base64::engine::general_purpose::STANDARD
                .decode(value.as_str().unwrap_or(""))
                .expect("secret data is base64");
            encoded.extend(message(2, &[text(1, key), message(2, &value)].concat()));
        }
        encoded.extend(text(3, string_of(secret, "type")));
        encoded
    }

    /// Status: metadata = 1, status = 2, message = 3, reason = 4, code = 6.
    fn status(status: &Value) -> Vec<u8> {
        [
            message(1, &list_meta(&Value::Null)),
            text(2, string_of(status, "status")),
            text(3, string_of(status, "message")),
            text(4, string_of(status, "reason")),
            number(6, status["code"].as_u64().unwrap_or(0)),
        ]
        .concat()
    }
}
