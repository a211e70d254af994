//! A stand-in for the Kubernetes API server, for tests and `make demo` (no kube-apiserver can be
//! installed here). It behaves like the real one where the provider can tell: HTTPS with a CA of
//! its own, bearer tokens bound to a namespace (401 for an unknown token, 403 for another
//! namespace), `v1` `Status` objects for errors, field selectors on `type` and `metadata.name`
//! (400 for other fields), a leading `&` in the query accepted.

#![allow(dead_code)] // Each test binary uses its own part of this.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
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
    /// Token to the namespace its service account lives in.
    tokens: HashMap<String, String>,
    secrets: Vec<Value>,
    forced_status: Option<u16>,
    delay: Duration,
    requests: Vec<Recorded>,
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub field_selector: Option<String>,
    pub status: u16,
}

/// A service-account JWT for `namespace`, shaped like a bound token (the signature is not real).
pub fn service_account_token(namespace: &str) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = json!({
        "aud": ["https://kubernetes.default.svc"],
        "iss": "https://kubernetes.default.svc",
        "sub": format!("system:serviceaccount:{namespace}:default"),
        "kubernetes.io": {"namespace": namespace, "serviceaccount": {"name": "default"}},
    });
    format!(
        "{}.{}.{}",
        engine.encode(r#"{"alg":"RS256","kid":"test"}"#),
        engine.encode(claims.to_string()),
        engine.encode(format!("signature-of-{namespace}"))
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
        let (ca_pem, tls) = tls_config();
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

    /// Lets `token` act as the default service account of `namespace`.
    pub fn allow_token(&self, token: &str, namespace: &str) {
        let mut state = self.state.lock().unwrap();
        state
            .tokens
            .insert(token.to_string(), namespace.to_string());
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
            "metadata": {"name": name, "namespace": namespace, "uid": format!("uid-{namespace}-{name}")},
            "type": secret_type,
            "data": {data_key: engine.encode(content)},
        });
        self.state.lock().unwrap().secrets.push(secret);
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

    /// Every request is answered with this status from now on.
    pub fn force_status(&self, code: u16) {
        self.state.lock().unwrap().forced_status = Some(code);
    }

    /// Every answer is held back this long.
    pub fn delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().requests.clone()
    }
}

fn tls_config() -> (String, Arc<rustls::ServerConfig>) {
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
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
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
    let server_cert = server_params.signed_by(&server_key, &ca).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
    .unwrap();
    (ca.pem(), Arc::new(config))
}

fn serve_connection(stream: TcpStream, tls: Arc<rustls::ServerConfig>, state: Arc<Mutex<State>>) {
    let connection = match rustls::ServerConnection::new(tls) {
        Ok(connection) => connection,
        Err(_) => return,
    };
    let mut reader = BufReader::new(rustls::StreamOwned::new(connection, stream));
    // HTTP/1.1 keep-alive: requests follow each other until the client closes.
    while let Some((path_and_query, headers)) = read_request(&mut reader) {
        let delay = state.lock().unwrap().delay;
        std::thread::sleep(delay);
        let (status, body, recorded) =
            answer(&path_and_query, &headers, &mut state.lock().unwrap());
        state.lock().unwrap().requests.push(recorded);
        let body = body.to_string();
        let response = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            reason(status),
            body.len()
        );
        let stream = reader.get_mut();
        if stream
            .write_all(response.as_bytes())
            .and_then(|()| stream.flush())
            .is_err()
        {
            return;
        }
    }
}

/// The request target and the headers (lower-cased names) of the next request, skipping its body.
fn read_request(reader: &mut impl BufRead) -> Option<(String, HashMap<String, String>)> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: u64 = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    std::io::copy(&mut reader.take(length), &mut std::io::sink()).ok()?;
    Some((target, headers))
}

fn answer(
    target: &str,
    headers: &HashMap<String, String>,
    state: &mut State,
) -> (u16, Value, Recorded) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let field_selector = query
        .split('&')
        .filter(|pair| !pair.is_empty()) // `?&fieldSelector=...` is accepted, as by the real server
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == "fieldSelector")
        .map(|(_, value)| percent_decode(value));
    let (status, body) = respond(path, field_selector.as_deref(), headers, state);
    let recorded = Recorded {
        path: path.to_string(),
        field_selector,
        status,
    };
    (status, body, recorded)
}

fn respond(
    path: &str,
    field_selector: Option<&str>,
    headers: &HashMap<String, String>,
    state: &State,
) -> (u16, Value) {
    if let Some(code) = state.forced_status {
        return (code, status(code, &format!("forced status {code}")));
    }
    let token = headers
        .get("authorization")
        .and_then(|h| h.strip_prefix("Bearer "));
    let Some(token_namespace) = token.and_then(|t| state.tokens.get(t)) else {
        return (401, status(401, "Unauthorized"));
    };
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", namespace, "secrets"] = parts[..] else {
        return (
            404,
            status(404, "the server could not find the requested resource"),
        );
    };
    if namespace != token_namespace {
        let message = format!(
            "secrets is forbidden: User \"system:serviceaccount:{token_namespace}:default\" cannot list resource \"secrets\" in API group \"\" in the namespace \"{namespace}\""
        );
        return (403, status(403, &message));
    }
    let mut items = Vec::new();
    for secret in state
        .secrets
        .iter()
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
