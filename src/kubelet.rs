//! The kubelet credential provider protocol (`credentialprovider.kubelet.k8s.io/v1`): the request
//! kubelet writes to stdin, the response it decodes strictly from stdout, and the namespace the
//! pod's service-account token was issued for.

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::logging;

pub const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// Kubelet sends a few hundred bytes; anything past this is not a request.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// Far more than any registry accepts (distribution caps a repository name at 255 characters).
const MAX_IMAGE_BYTES: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    /// The repository, docker-normalised, without tag or digest: `docker.io/library/nginx`.
    pub image: String,
    /// The pod's bound service-account token; absent when the pod has none.
    #[serde(default)]
    pub service_account_token: Option<SecretString>,
}

/// Decodes a request. Unknown fields are ignored; a wrong `apiVersion` or `kind` is refused.
pub fn parse_request(input: &[u8]) -> Result<Request> {
    let request: Request =
        serde_json::from_slice(input).context("decoding the CredentialProviderRequest on stdin")?;
    if let Some(version) = &request.api_version {
        ensure!(
            version == API_VERSION,
            "unsupported apiVersion {version:?} on stdin: expected {API_VERSION:?}"
        );
    }
    if let Some(kind) = &request.kind {
        ensure!(
            kind == "CredentialProviderRequest",
            "unsupported kind {kind:?} on stdin: expected \"CredentialProviderRequest\""
        );
    }
    ensure!(
        !request.image.is_empty(),
        "the request on stdin has an empty image"
    );
    // The image is named in log lines and file names: it must be a reference, not arbitrary text.
    ensure!(
        request.image.len() <= MAX_IMAGE_BYTES
            && !request
                .image
                .chars()
                .any(|c| c.is_whitespace() || c.is_control()),
        "the request's image {} is not an image reference (at most {MAX_IMAGE_BYTES} bytes, no \
         white space or control characters)",
        logging::quoted(&request.image)
    );
    Ok(request)
}

/// The response: no `auth` (CRI-O reads the file we write), and a cache duration that keeps kubelet
/// from skipping the plugin for a later pull, since every auth file is consumed by one pull.
pub fn response(cache_duration: &str) -> String {
    format!(
        r#"{{"kind":"CredentialProviderResponse","apiVersion":"{API_VERSION}","cacheKeyType":"Registry","cacheDuration":"{cache_duration}"}}"#
    )
}

/// What a bound service-account token says about the pod it was issued for.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub namespace: String,
    /// `kubernetes.io.serviceaccount.name`.
    pub service_account: Option<String>,
    /// `kubernetes.io.pod`: present in the tokens kubelet requests for a pod.
    pub pod: Option<PodClaim>,
}

#[derive(Debug, PartialEq, Eq, Deserialize)]
pub struct PodClaim {
    pub name: String,
    pub uid: String,
}

/// The `kubernetes.io` claims of a service-account JWT. The signature is not checked here: the API
/// server verifies the token when we use it, and a forged claim only gets a 401 or a 403.
/// The namespace becomes part of a file name and every name part of a request path, so each must
/// be a valid Kubernetes name; an invalid optional claim is treated as absent.
pub fn token_claims(token: &SecretString) -> Result<TokenClaims> {
    let mut parts = token.expose_secret().split('.');
    let (Some(_header), Some(payload), Some(_signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        bail!("the service account token is not a JWT (expected three dot-separated parts)");
    };
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .context("the service account token's payload is not base64url")?;
    #[derive(Deserialize)]
    struct Claims {
        #[serde(rename = "kubernetes.io")]
        kubernetes: Option<KubernetesClaims>,
    }
    #[derive(Deserialize)]
    struct KubernetesClaims {
        namespace: Option<String>,
        serviceaccount: Option<NameClaim>,
        pod: Option<PodClaim>,
    }
    #[derive(Deserialize)]
    struct NameClaim {
        name: String,
    }
    let claims: Claims = serde_json::from_slice(&payload)
        .ok()
        .context("the service account token's payload is not a JSON object")?;
    let kubernetes = claims
        .kubernetes
        .context("the service account token has no kubernetes.io claims")?;
    let namespace = kubernetes
        .namespace
        .context("the service account token has no kubernetes.io.namespace claim")?;
    ensure!(
        is_dns1123_label(&namespace),
        "the service account token's namespace {:?} is not a valid namespace name (DNS-1123 label)",
        namespace.escape_default().to_string()
    );
    Ok(TokenClaims {
        namespace,
        service_account: kubernetes
            .serviceaccount
            .map(|sa| sa.name)
            .filter(|name| is_dns1123_subdomain(name)),
        pod: kubernetes
            .pod
            .filter(|pod| is_dns1123_subdomain(&pod.name) && !pod.uid.is_empty()),
    })
}

/// A name the API server accepts for most objects (secrets, pods, service accounts), and so safe
/// to put into a request path.
pub fn is_dns1123_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns1123_label)
}

fn is_dns1123_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

#[cfg(test)]
fn test_token(kubernetes_claims: serde_json::Value) -> SecretString {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::json!({ "kubernetes.io": kubernetes_claims });
    SecretString::from(format!(
        "{}.{}.c2lnbmF0dXJl",
        engine.encode(r#"{"alg":"RS256"}"#),
        engine.encode(payload.to_string())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_with_unknown_fields_is_accepted() {
        let request = parse_request(
            br#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","kind":"CredentialProviderRequest",
                "image":"docker.io/library/nginx","serviceAccountToken":"a.b.c","future":1}"#,
        )
        .unwrap();
        assert_eq!(request.image, "docker.io/library/nginx");
        assert_eq!(
            request.service_account_token.unwrap().expose_secret(),
            "a.b.c"
        );
    }

    #[test]
    fn request_without_version_or_token_is_accepted() {
        let request = parse_request(br#"{"image":"quay.io/x"}"#).unwrap();
        assert!(request.service_account_token.is_none());
    }

    #[test]
    fn request_of_another_version_or_kind_is_refused() {
        let err = parse_request(
            br#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1beta1","image":"a"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("v1beta1"), "{err}");
        assert!(parse_request(br#"{"kind":"Pod","image":"a"}"#).is_err());
        assert!(parse_request(br#"{"image":""}"#).is_err());
        assert!(parse_request(b"not json").is_err());
    }

    #[test]
    fn an_image_that_could_forge_log_lines_is_refused_quoted() {
        let err = parse_request(br#"{"image":"a.io/x\nERROR forged"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains(r#""a.io/x\nERROR forged""#), "{err}");
        assert!(!err.contains('\n'));
        assert!(parse_request(br#"{"image":"a.io/x y"}"#).is_err());
    }

    #[test]
    fn an_image_longer_than_any_reference_is_refused() {
        let long = format!(r#"{{"image":"a.io/{}"}}"#, "x".repeat(MAX_IMAGE_BYTES));
        assert!(parse_request(long.as_bytes()).is_err());
        let longest = format!(r#"{{"image":"a.io/{}"}}"#, "x".repeat(MAX_IMAGE_BYTES - 5));
        assert!(parse_request(longest.as_bytes()).is_ok());
    }

    #[test]
    fn request_debug_output_redacts_the_token() {
        let request =
            parse_request(br#"{"image":"a.io/x","serviceAccountToken":"SECRET-TOKEN"}"#).unwrap();
        assert!(!format!("{request:?}").contains("SECRET-TOKEN"));
    }

    #[test]
    fn response_is_the_strict_v1_shape() {
        let value: serde_json::Value = serde_json::from_str(&response("0s")).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind":"CredentialProviderResponse","apiVersion":API_VERSION,
                               "cacheKeyType":"Registry","cacheDuration":"0s"})
        );
    }

    #[test]
    fn claims_come_from_the_kubernetes_io_claim() {
        let token = test_token(serde_json::json!({
            "namespace": "team-a",
            "serviceaccount": {"name": "builder", "uid": "sa-uid"},
            "pod": {"name": "app-7d9f", "uid": "pod-uid"},
            "node": {"name": "worker-0", "uid": "node-uid"},
        }));
        assert_eq!(
            token_claims(&token).unwrap(),
            TokenClaims {
                namespace: "team-a".into(),
                service_account: Some("builder".into()),
                pod: Some(PodClaim {
                    name: "app-7d9f".into(),
                    uid: "pod-uid".into()
                }),
            }
        );
    }

    #[test]
    fn a_token_with_only_a_namespace_has_no_service_account_or_pod() {
        let claims = token_claims(&test_token(serde_json::json!({"namespace": "team-a"}))).unwrap();
        assert_eq!((claims.service_account, claims.pod), (None, None));
    }

    #[test]
    fn names_that_could_change_a_request_path_are_treated_as_absent() {
        for bad in ["../secrets", "a/b", "a?b", "", "UPPER", ".", "a..b"] {
            let token = test_token(serde_json::json!({
                "namespace": "team-a",
                "serviceaccount": {"name": bad},
                "pod": {"name": bad, "uid": "u"},
            }));
            let claims = token_claims(&token).unwrap();
            assert_eq!((claims.service_account, claims.pod), (None, None), "{bad}");
        }
    }

    #[test]
    fn a_pod_claim_without_a_uid_is_treated_as_absent() {
        let token = test_token(serde_json::json!({
            "namespace": "team-a", "pod": {"name": "app", "uid": ""},
        }));
        assert_eq!(token_claims(&token).unwrap().pod, None);
    }

    #[test]
    fn subdomain_names_may_have_dots_but_not_empty_labels() {
        assert!(is_dns1123_subdomain("pull.secret-1"));
        assert!(!is_dns1123_subdomain(".a"));
        assert!(is_dns1123_subdomain(&vec!["a".repeat(63); 3].join(".")));
        assert!(!is_dns1123_subdomain(&vec!["a".repeat(63); 4].join(".")));
    }

    #[test]
    fn namespace_that_is_not_a_label_is_refused() {
        for bad in ["../etc", "a/b", "", "UPPER", "-a", "a.b", &"a".repeat(64)] {
            let err = token_claims(&test_token(serde_json::json!({ "namespace": bad })))
                .unwrap_err()
                .to_string();
            assert!(err.contains("not a valid namespace"), "{bad}: {err}");
        }
    }

    #[test]
    fn malformed_tokens_are_refused_without_echoing_them() {
        for bad in [
            "SECRET",
            "a.SECRET",
            "a.!!!.c",
            "a.bm90IGpzb24.c",
            "a.e30.c",
        ] {
            let err = token_claims(&SecretString::from(bad))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("SECRET") && !err.contains("bm90"), "{err}");
        }
    }
}
