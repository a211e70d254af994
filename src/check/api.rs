//! The API server as runs find it (`kube::endpoint`: the URL and CA, each with where it came from),
//! a TLS handshake verified by that CA, and `GET /version`, which the API server allows without
//! credentials by default. No credential is ever sent: not a kubeconfig's, not a token.

use anyhow::{Context, Result};
use http_body_util::BodyExt;

use super::Line;
use crate::kube::ApiSettings;
use crate::kube::endpoint::{self, Endpoint};
use crate::kube::transport::Socket;
use crate::logging;

/// The most of `/version`'s answer that is read; it is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 << 10;

pub(super) fn check(settings: &ApiSettings, lines: &mut Vec<Line>) {
    let endpoint = match endpoint::endpoint(settings) {
        Ok(endpoint) => endpoint,
        Err(e) => {
            lines.push(Line::fail(
                "api-server",
                format!(
                    "runs cannot reach the API server: {}",
                    logging::one_line(e.as_ref())
                ),
                "fix the file the error names, or pass --api-server and --ca-file in the provider's args",
            ));
            return;
        }
    };
    let Endpoint {
        url,
        roots,
        url_origin,
    } = &endpoint;
    let unverified = |check| {
        Line::warn(
            check,
            format!(
                "{url} (from {url_origin}) is not verified (--insecure-skip-tls-verify): the pod's token goes to whatever answers"
            ),
            "remove --insecure-skip-tls-verify from the provider's args and give the CA with --ca-file",
        )
    };
    lines.push(match roots {
        Some((roots, ca_origin)) => Line::ok(
            "api-server",
            format!(
                "{url} (from {url_origin}), verified by the CA from {ca_origin} ({} {})",
                roots.len(),
                if roots.len() == 1 {
                    "certificate"
                } else {
                    "certificates"
                }
            ),
        ),
        None => unverified("api-server"),
    });
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|runtime| runtime.block_on(get_version(&endpoint, settings.timeout)));
    let ca = roots
        .as_ref()
        .map_or("no CA", |(_, origin)| origin.as_str());
    let (status, body) = match answer {
        Ok(answer) => answer,
        Err(e) => {
            lines.push(Line::fail(
                "api-tls",
                format!(
                    "no TLS connection to {url} that {ca} verifies: {}",
                    logging::one_line(e.as_ref())
                ),
                format!("check the URL (from {url_origin}) and that the CA ({ca}) signed the API server's certificate"),
            ));
            return;
        }
    };
    lines.push(match roots {
        Some(_) => Line::ok(
            "api-tls",
            format!("TLS handshake with {url}: its certificate is verified by {ca}"),
        ),
        None => unverified("api-tls"),
    });
    lines.push(version_line(status, &body, url));
}

/// `GET /version` without credentials: the HTTP status and the answer's first bytes.
async fn get_version(
    endpoint: &Endpoint,
    timeout: std::time::Duration,
) -> Result<(http::StatusCode, Vec<u8>)> {
    // Never a credential: /version answers without one.
    let client = endpoint.client(None, timeout)?;
    let request = http::Request::get("/version")
        .body(Vec::new())
        .context("building the request for /version")?;
    let exchange = async {
        let response = client.send(request).await?;
        let status = response.status();
        let socket = Socket::of(&response);
        let body = http_body_util::Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| socket.failure(e).context("reading the answer"))?
            .to_bytes();
        anyhow::Ok((status, body.to_vec()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| anyhow::anyhow!("no answer within {}s", timeout.as_secs_f64()))?
}

fn version_line(status: http::StatusCode, body: &[u8], url: &str) -> Line {
    const CHECK: &str = "api-version";
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Info {
        git_version: String,
    }
    let code = status.as_u16();
    match code {
        200 => match serde_json::from_slice::<Info>(body) {
            Ok(info) => Line::ok(
                CHECK,
                format!(
                    "GET /version without credentials: Kubernetes {}",
                    info.git_version
                ),
            ),
            Err(_) => Line::fail(
                CHECK,
                format!(
                    "GET /version of {url} answered something that is not a Kubernetes version"
                ),
                "point --api-server at the API server itself, not a proxy",
            ),
        },
        401 | 403 => Line::warn(
            CHECK,
            format!(
                "GET /version without credentials is refused (HTTP {code}): the server answers, but allows no anonymous requests"
            ),
            "nothing for runs, which send the pod's token; the API server's --anonymous-auth decides this",
        ),
        _ => Line::fail(
            CHECK,
            format!(
                "GET /version of {url} answered HTTP {code}: {}",
                logging::quoted(&String::from_utf8_lossy(body))
            ),
            "check the API server's health (kubectl get --raw /readyz from a machine with credentials)",
        ),
    }
}
