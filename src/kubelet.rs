//! The kubelet credential provider protocol (`credentialprovider.kubelet.k8s.io/v1`): the request
//! kubelet writes to stdin, the response it decodes strictly from stdout, and the namespace the
//! pod's service-account token was issued for.

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

pub const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// Kubelet sends a few hundred bytes; anything past this is not a request.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

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
    Ok(request)
}

/// The response: no `auth` (CRI-O reads the file we write), and a cache duration that keeps kubelet
/// from skipping the plugin for a later pull, since every auth file is consumed by one pull.
pub fn response(cache_duration: &str) -> String {
    format!(
        r#"{{"kind":"CredentialProviderResponse","apiVersion":"{API_VERSION}","cacheKeyType":"Registry","cacheDuration":"{cache_duration}"}}"#
    )
}

/// The namespace claim of a service-account JWT. The signature is not checked here: the API server
/// verifies the token when we use it, and a forged namespace only gets a 401 or an empty list.
/// The namespace becomes part of a file name, so it must be a DNS-1123 label.
pub fn token_namespace(token: &SecretString) -> Result<String> {
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
    }
    let claims: Claims = serde_json::from_slice(&payload)
        .ok()
        .context("the service account token's payload is not a JSON object")?;
    let namespace = claims
        .kubernetes
        .and_then(|k| k.namespace)
        .context("the service account token has no kubernetes.io.namespace claim")?;
    ensure!(
        is_dns1123_label(&namespace),
        "the service account token's namespace {:?} is not a valid namespace name (DNS-1123 label)",
        namespace.escape_default().to_string()
    );
    Ok(namespace)
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
pub fn test_token(namespace: &str) -> SecretString {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = serde_json::json!({"kubernetes.io": {"namespace": namespace}});
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
    fn namespace_comes_from_the_kubernetes_io_claim() {
        assert_eq!(token_namespace(&test_token("team-a")).unwrap(), "team-a");
    }

    #[test]
    fn namespace_that_is_not_a_label_is_refused() {
        for bad in ["../etc", "a/b", "", "UPPER", "-a", &"a".repeat(64)] {
            let err = token_namespace(&test_token(bad)).unwrap_err().to_string();
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
            let err = token_namespace(&SecretString::from(bad))
                .unwrap_err()
                .to_string();
            assert!(!err.contains("SECRET") && !err.contains("bm90"), "{err}");
        }
    }
}
