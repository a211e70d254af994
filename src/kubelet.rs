//! The kubelet credential provider protocol (`credentialprovider.kubelet.k8s.io/v1`): the request
//! kubelet writes to stdin (with the pod's service-account token, which `kube::token` reads) and
//! the response it decodes strictly from stdout.

use anyhow::{Result, ensure};
use secrecy::SecretString;
use serde::Deserialize;

use crate::logging;
use crate::registries;

const API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";

/// Kubelet sends a few hundred bytes; anything past this is not a request.
pub const MAX_REQUEST_BYTES: u64 = 1024 * 1024;

/// Far more than any registry accepts (distribution caps a repository name at 255 characters).
const MAX_IMAGE_BYTES: usize = 4096;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    pub api_version: Option<String>,
    pub kind: Option<String>,
    /// The repository, docker-normalised, without tag or digest: `docker.io/library/nginx`
    /// (`parse_request` normalises whatever came, as CRI-O does).
    pub image: String,
    /// The pod's bound service-account token; absent when the pod has none.
    #[serde(default)]
    pub service_account_token: Option<SecretString>,
}

/// Decodes a request. Unknown fields are ignored; a wrong `apiVersion` or `kind` is refused.
pub fn parse_request(input: &[u8]) -> Result<Request> {
    let mut request: Request = serde_json::from_slice(input).map_err(|e| {
        anyhow::anyhow!(
            "decoding the CredentialProviderRequest on stdin: {}",
            logging::json_error(&e)
        )
    })?;
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
    // Kubelet sends the normalised repository; whatever comes, the file must bear the name CRI-O
    // looks up.
    request.image = registries::normalized_name(&request.image).map_err(|reason| {
        anyhow::anyhow!(
            "the request's image {} is not an image reference CRI-O can pull: {reason}",
            logging::quoted(&request.image)
        )
    })?;
    Ok(request)
}

/// The response's default `cacheDuration`, as written on the command line: every auth file serves
/// one pull, so kubelet must not answer a later pull from its cache.
pub const DEFAULT_CACHE_DURATION: &str = "0s";

/// Reads a `cacheDuration`: kept as given, once it is a Go duration kubelet can read.
pub fn cache_duration(text: &str) -> Result<String> {
    crate::duration::parse(text)?;
    Ok(text.to_string())
}

/// The response, with a cache duration that keeps kubelet from skipping the plugin for a later
/// pull (every auth file is consumed by one pull). CRI-O reads the credentials from the file we
/// write, so the response carries none: `scoped_image`, when given, gets one entry with an empty
/// username and password. Kubelet then records the pull as made with the credential of a plugin
/// that used the pod's service-account token, and checks the pod's service account before
/// another pod may use the image; CRI-O takes an empty username for no credential and uses the
/// file (docs/operating.md: Who can run an image pulled with a namespace's mirror credentials).
pub fn response(cache_duration: &str, scoped_image: Option<&str>) -> String {
    let mut response = serde_json::json!({
        "kind": "CredentialProviderResponse",
        "apiVersion": API_VERSION,
        "cacheKeyType": "Registry",
        "cacheDuration": cache_duration,
    });
    if let Some(image) = scoped_image {
        response["auth"] = serde_json::json!({ image: {"username": "", "password": ""} });
    }
    response.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

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
        // Refused before it is parsed, then by the reference grammar's 255 characters.
        let long = format!(r#"{{"image":"a.io/{}"}}"#, "x".repeat(MAX_IMAGE_BYTES));
        let error = parse_request(long.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("at most 4096 bytes"), "{error}");
        let name = |length: usize| format!(r#"{{"image":"a.io/{}"}}"#, "x".repeat(length - 5));
        assert!(parse_request(name(255).as_bytes()).is_ok());
        let error = parse_request(name(256).as_bytes()).unwrap_err().to_string();
        assert!(
            error.contains("must not be more than 255 characters"),
            "{error}"
        );
    }

    #[test]
    fn the_image_is_normalised_as_crio_names_the_auth_file() {
        for (sent, image) in [
            ("docker.io/library/nginx", "docker.io/library/nginx"),
            ("nginx", "docker.io/library/nginx"),
            ("quay.io/team/app:v1", "quay.io/team/app"),
        ] {
            let request = format!(r#"{{"image":"{sent}"}}"#);
            assert_eq!(parse_request(request.as_bytes()).unwrap().image, image);
        }
        let error = parse_request(br#"{"image":"docker.io/Nginx"}"#).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the request's image \"docker.io/Nginx\" is not an image reference CRI-O can pull: \
             invalid reference format: repository name \"library/Nginx\" must be lowercase"
        );
    }

    #[test]
    fn request_debug_output_redacts_the_token() {
        let request =
            parse_request(br#"{"image":"a.io/x","serviceAccountToken":"SECRET-TOKEN"}"#).unwrap();
        assert!(!format!("{request:?}").contains("SECRET-TOKEN"));
    }

    #[test]
    fn response_is_the_strict_v1_shape() {
        let value: serde_json::Value = serde_json::from_str(&response("0s", None)).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind":"CredentialProviderResponse","apiVersion":API_VERSION,
                               "cacheKeyType":"Registry","cacheDuration":"0s"})
        );
    }

    #[test]
    fn a_scoped_response_has_one_empty_credential_keyed_by_the_image() {
        let value: serde_json::Value =
            serde_json::from_str(&response("0s", Some("docker.io/library/nginx"))).unwrap();
        assert_eq!(
            value,
            serde_json::json!({"kind":"CredentialProviderResponse","apiVersion":API_VERSION,
                               "cacheKeyType":"Registry","cacheDuration":"0s",
                               "auth":{"docker.io/library/nginx":{"username":"","password":""}}})
        );
    }
}
