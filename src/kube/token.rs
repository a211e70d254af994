//! The pod's bound service-account token, as kubelet passes it: the `kubernetes.io` claims that
//! say which namespace, service account and pod it was issued for, and the name rules each must
//! meet before it goes into a file name or a request path.

use anyhow::{Context, Result, bail, ensure};
use base64::Engine;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

/// What a bound service-account token says about the pod it was issued for.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenClaims {
    pub namespace: String,
    /// `kubernetes.io.serviceaccount.name`.
    pub service_account: Option<String>,
    /// `kubernetes.io.pod`: present in the tokens kubelet requests for a pod.
    pub pod: Option<PodClaim>,
    /// `aud`: the audiences kubelet requested the token for (a string or an array of strings).
    pub audiences: Vec<String>,
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
        /// Only for messages, so anything else than a string or strings is no audience.
        aud: Option<serde_json::Value>,
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
        audiences: match claims.aud {
            Some(serde_json::Value::String(audience)) => vec![audience],
            Some(serde_json::Value::Array(audiences)) => audiences
                .into_iter()
                .filter_map(|a| a.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        },
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
                audiences: vec![],
            }
        );
    }

    #[test]
    fn the_audience_claim_is_a_string_or_an_array_of_strings() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let with_aud = |aud: serde_json::Value| {
            let payload = serde_json::json!({"aud": aud, "kubernetes.io": {"namespace": "team-a"}});
            let token = SecretString::from(format!("h.{}.s", engine.encode(payload.to_string())));
            token_claims(&token).unwrap().audiences
        };
        assert_eq!(with_aud(serde_json::json!("https://a")), ["https://a"]);
        assert_eq!(
            with_aud(serde_json::json!(["https://a", "https://b"])),
            ["https://a", "https://b"]
        );
        assert!(with_aud(serde_json::json!(7)).is_empty());
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
