//! The requests the provider makes, as the pod's service account: list a namespace's pull secrets,
//! get one secret, get the `imagePullSecrets` of a service account or a pod. Every answer is read
//! into a minimal type, so a namespace with thousands of secrets (and their annotations and managed
//! fields) stays small, and every read may be served from the API server's watch cache
//! (`resourceVersion=0`) rather than a quorum read from etcd.

use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use kube::core::Request;
use kube::core::params::{GetParams, ListParams};
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::endpoint::Endpoint;
use super::protobuf;
use super::token::{PodClaim, TokenClaims};
use super::transport::{Socket, Transport};
use crate::logging;
use crate::secrets::{self, Credential, SecretType};

/// A pull secret as the API returned it: its name, its type and the entries of its data key,
/// decoded from the answer as it is read (a namespace's thousands of secrets are never copied).
pub struct FetchedSecret {
    pub name: String,
    pub secret_type: SecretType,
    pub data: SecretData,
}

/// What a secret's data key of its type held.
pub enum SecretData {
    /// The secret has no such key.
    Missing,
    /// Its entries, by key.
    Decoded(Vec<(String, Credential)>),
    /// Why it does not decode (naming no content).
    Undecodable(String),
}

impl FetchedSecret {
    fn new(name: String, secret_type: SecretType, data: Option<&[u8]>) -> Self {
        let data = match data.map(|data| secrets::decode(secret_type, data)) {
            None => SecretData::Missing,
            Some(Ok(entries)) => SecretData::Decoded(entries),
            Some(Err(reason)) => SecretData::Undecodable(reason),
        };
        FetchedSecret {
            name,
            secret_type,
            data,
        }
    }
}

/// What the API server answered instead of the object: its HTTP status and `Status` message.
#[derive(Debug)]
struct ApiStatus {
    code: u16,
    reason: String,
    message: String,
}

impl std::fmt::Display for ApiStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "HTTP {} {}: {}",
            self.code,
            self.reason,
            logging::quoted(&self.message)
        )
    }
}

impl std::error::Error for ApiStatus {}

impl ApiStatus {
    /// The `Status` object the API server answers with, in JSON or protobuf; a body that is
    /// none (a proxy's page) is quoted as the message.
    fn from_answer(status: http::StatusCode, answer: &Answer) -> Self {
        #[derive(Deserialize)]
        struct StatusObject {
            #[serde(default)]
            reason: String,
            #[serde(default)]
            message: String,
        }
        let canonical = status.canonical_reason().unwrap_or_default().to_string();
        let body = &answer.body;
        let object = if answer.protobuf {
            protobuf::status(body).ok().map(|status| StatusObject {
                reason: status.reason.to_string(),
                message: status.message.to_string(),
            })
        } else {
            serde_json::from_slice::<StatusObject>(body).ok()
        };
        match object {
            Some(object) => ApiStatus {
                code: status.as_u16(),
                reason: Some(object.reason)
                    .filter(|r| !r.is_empty())
                    .unwrap_or(canonical),
                message: object.message,
            },
            None => ApiStatus {
                code: status.as_u16(),
                reason: canonical,
                message: String::from_utf8_lossy(&body[..body.len().min(1024)]).into_owned(),
            },
        }
    }
}

/// An answer's body, and whether it is in Kubernetes' protobuf encoding (else it is JSON, or a
/// proxy's page).
struct Answer {
    protobuf: bool,
    body: Vec<u8>,
}

/// The most an answer of the API server may be: 2,000 pull secrets are about 1 MiB.
const MAX_RESPONSE_BYTES: usize = 32 << 20;

/// An answer with its headers read and its body not yet.
struct Response {
    /// Its `Content-Type` is Kubernetes' protobuf encoding (else it is JSON, or a proxy's page).
    protobuf: bool,
    /// Its `Content-Length`, if it has one.
    declared: Option<u64>,
    socket: Socket,
    body: hyper::body::Incoming,
}

impl Response {
    /// Reads the body up to `MAX_RESPONSE_BYTES`, a part at a time as it arrives, refusing more
    /// without reading it: by its declared length at once, else as soon as the parts add up to
    /// more.
    async fn read(mut self, mut each: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
        use http_body_util::BodyExt;
        let too_large = || {
            anyhow!(
                "the answer is larger than {} MiB, the most accepted",
                MAX_RESPONSE_BYTES >> 20
            )
        };
        if self.declared.unwrap_or(0) > MAX_RESPONSE_BYTES as u64 {
            return Err(too_large());
        }
        let mut read = 0;
        while let Some(frame) = self.body.frame().await {
            let frame = frame
                .map_err(|e| self.socket.failure(e))
                .context("reading the answer")?;
            if let Some(data) = frame.data_ref() {
                read += data.len();
                if read > MAX_RESPONSE_BYTES {
                    return Err(too_large());
                }
                each(data)?;
            }
        }
        Ok(())
    }

    /// The whole body.
    async fn answer(self) -> Result<Answer> {
        let protobuf = self.protobuf;
        // Room for the declared length at once, but never for more than `read` accepts: room for
        // a length beyond memory would abort the process before `read` refuses it.
        let room = self.declared.unwrap_or(0).min(MAX_RESPONSE_BYTES as u64);
        let mut body = Vec::with_capacity(room as usize);
        self.read(|data| {
            body.extend_from_slice(data);
            Ok(())
        })
        .await?;
        Ok(Answer { protobuf, body })
    }
}

/// The HTTP status of the API server's answer that failed a request, if it answered.
pub fn status_code(error: &anyhow::Error) -> Option<u16> {
    error.downcast_ref::<ApiStatus>().map(|status| status.code)
}

/// A client for one namespace, authenticated by the pod's token.
pub struct Client {
    client: Transport,
    url: String,
    /// Where the URL and the CA came from (`Endpoint::sources`), for a failed connection.
    sources: String,
    namespace: String,
    /// The pull's, for the log.
    image: String,
    /// For each request, and for all of a run's requests together.
    timeout: Duration,
}

impl Client {
    pub fn new(
        endpoint: &Endpoint,
        token: &SecretString,
        claims: &TokenClaims,
        image: &str,
        timeout: Duration,
    ) -> Result<Self> {
        let client = endpoint.client(Some(token), timeout)?;
        Ok(Client {
            client,
            url: endpoint.url.clone(),
            sources: endpoint.sources(),
            namespace: claims.namespace.clone(),
            image: image.to_string(),
            timeout,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn image(&self) -> &str {
        &self.image
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    fn resources(&self, resource: &str) -> Request {
        Request::new(format!("/api/v1/namespaces/{}/{resource}", self.namespace))
    }

    /// Sends `request` and reads the object it answers as JSON; see `respond`.
    async fn send<T: DeserializeOwned>(
        &self,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
        what: impl FnOnce() -> String,
    ) -> Result<T> {
        let (what, response) = self.respond(request, what).await?;
        let answer = response.answer().await.with_context(|| what.clone())?;
        serde_json::from_slice(&answer.body)
            .map_err(|e| anyhow!("{what}: decoding the answer: {}", logging::json_error(&e)))
    }

    /// Sends `request` and returns a successful answer, its body unread (`Response::read` bounds
    /// it); an error names `what` was asked, the API server and what it answered, or, when no
    /// answer came (refused, TLS), also where the URL and the CA came from. A redirect is never
    /// followed (the token goes to the configured server only). Returns the full `what`, for an
    /// error about the answer.
    async fn respond(
        &self,
        request: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
        what: impl FnOnce() -> String,
    ) -> Result<(String, Response)> {
        let what = format!("{} in namespace {} at {}", what(), self.namespace, self.url);
        let request = request.with_context(|| format!("building the request for {what}"))?;
        let response = self
            .client
            .send(request)
            .await
            .with_context(|| format!("{what} {}", self.sources))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(http::header::LOCATION)
                .map(|l| String::from_utf8_lossy(l.as_bytes()).into_owned())
                .unwrap_or_default();
            bail!(
                "{what}: the API server answered with a redirect (HTTP {status}) to {}, which is \
                 not followed: the pod's token goes to the configured API server only",
                logging::quoted(&location)
            );
        }
        let headers = response.headers();
        let declared = headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|length| length.to_str().ok()?.parse().ok());
        let protobuf = headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(|media_type| {
                media_type
                    .as_bytes()
                    .starts_with(protobuf::MEDIA_TYPE.as_bytes())
            });
        let response = Response {
            protobuf,
            declared,
            socket: Socket::of(&response),
            body: response.into_body(),
        };
        if !status.is_success() {
            let answer = response.answer().await.with_context(|| what.clone())?;
            return Err(anyhow::Error::new(ApiStatus::from_answer(status, &answer)).context(what));
        }
        Ok((what, response))
    }

    /// The namespace's secrets of one pull-secret type (RBAC: `list` on `secrets`), asked for in
    /// protobuf as kubelet's client asks, and read in JSON where a server answers that instead.
    pub async fn list_pull_secrets(&self, secret_type: SecretType) -> Result<Vec<FetchedSecret>> {
        let params = ListParams::default()
            .fields(&format!("type={}", secret_type.type_name()))
            .match_any();
        let request = self.resources("secrets").list(&params).map(|mut request| {
            let accept = http::HeaderValue::from_static(protobuf::ACCEPT);
            request.headers_mut().insert(http::header::ACCEPT, accept);
            request
        });
        let (what, response) = self
            .respond(request, || {
                format!("listing secrets of type {}", secret_type.type_name())
            })
            .await?;
        if response.protobuf {
            // Each secret is decoded as soon as it has arrived, and the answer is never held.
            let mut reader = protobuf::SecretListReader::new(secret_type.data_key());
            let mut fetched = Vec::new();
            let mut each = |secret: protobuf::ListedSecret| {
                fetched.push(FetchedSecret::new(
                    secret.name.to_string(),
                    secret_type,
                    secret.data,
                ));
            };
            const DECODING: &str = "decoding the answer (protobuf)";
            response
                .read(|data| reader.read(data, &mut each).context(DECODING))
                .await
                .and_then(|()| reader.finish().context(DECODING))
                .with_context(|| what.clone())?;
            return Ok(fetched);
        }
        let answer = response.answer().await.with_context(|| what.clone())?;
        let list: SecretList = serde_json::from_slice(&answer.body)
            .map_err(|e| anyhow!("{what}: decoding the answer: {}", logging::json_error(&e)))?;
        Ok(list
            .items
            .into_iter()
            .map(|secret| {
                let data = secret.data.and_then(|data| data.for_type(secret_type));
                FetchedSecret::new(secret.metadata.name, secret_type, data.as_deref())
            })
            .collect())
    }

    /// One secret by name (RBAC: `get` on `secrets`, `resourceNames` may name it); `None` when it
    /// is not of a pull-secret type.
    pub async fn get_pull_secret(&self, name: &str) -> Result<Option<FetchedSecret>> {
        let secret: Secret = self
            .send(
                self.resources("secrets").get(name, &GetParams::any()),
                || format!("reading secret {name:?}"),
            )
            .await?;
        let Some(secret_type) = SecretType::from_type_name(&secret.secret_type) else {
            return Ok(None);
        };
        let data = secret.data.and_then(|data| data.for_type(secret_type));
        Ok(Some(FetchedSecret::new(
            name.to_string(),
            secret_type,
            data.as_deref(),
        )))
    }

    /// The `imagePullSecrets` of a service account, in its order (RBAC: `get` on
    /// `serviceaccounts`).
    pub async fn service_account_pull_secrets(&self, name: &str) -> Result<Vec<String>> {
        let account: ServiceAccount = self
            .send(
                self.resources("serviceaccounts")
                    .get(name, &GetParams::any()),
                || format!("reading service account {name:?}"),
            )
            .await?;
        Ok(names(account.image_pull_secrets))
    }

    /// The `spec.imagePullSecrets` of the pod the token was issued for, in its order (RBAC: `get`
    /// on `pods`). A pod of that name with another uid is a newer pod, whose secrets are not ours.
    pub async fn pod_pull_secrets(&self, claim: &PodClaim) -> Result<Vec<String>> {
        let pod: Pod = self
            .send(
                self.resources("pods").get(&claim.name, &GetParams::any()),
                || format!("reading pod {:?}", claim.name),
            )
            .await?;
        anyhow::ensure!(
            pod.metadata.uid == claim.uid,
            "pod {:?} in namespace {} is not the pod the token was issued for (uid {:?}, the \
             token's {:?}): not using its pull secrets",
            claim.name,
            self.namespace,
            pod.metadata.uid,
            claim.uid
        );
        Ok(names(pod.spec.image_pull_secrets))
    }
}

fn names(references: Vec<LocalObjectReference>) -> Vec<String> {
    references.into_iter().map(|r| r.name).collect()
}

#[derive(Deserialize)]
struct SecretList {
    #[serde(default)]
    items: Vec<ListItem>,
}

#[derive(Deserialize)]
struct ListItem {
    metadata: Name,
    data: Option<PullSecretData>,
}

/// The one field of a listed secret's metadata that is used.
#[derive(Deserialize)]
struct Name {
    #[serde(default)]
    name: String,
}

/// The one field of a pod's metadata that is used.
#[derive(Deserialize)]
struct Uid {
    #[serde(default)]
    uid: String,
}

#[derive(Deserialize)]
struct Secret {
    #[serde(rename = "type", default)]
    secret_type: String,
    data: Option<PullSecretData>,
}

#[derive(Deserialize)]
struct PullSecretData {
    #[serde(rename = ".dockerconfigjson")]
    docker_config_json: Option<Base64Bytes>,
    #[serde(rename = ".dockercfg")]
    docker_cfg: Option<Base64Bytes>,
}

/// A `[]byte` field as the API server writes it: standard base64 in a JSON string. It is read as
/// the string's bytes, unchecked as UTF-8, since the decoder refuses anything but base64 anyway:
/// the data of a namespace's thousands of secrets is most of a list answer.
struct Base64Bytes(Vec<u8>);

impl<'de> Deserialize<'de> for Base64Bytes {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Base64Visitor;
        impl serde::de::Visitor<'_> for Base64Visitor {
            type Value = Base64Bytes;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a base64 string")
            }

            fn visit_bytes<E: serde::de::Error>(self, text: &[u8]) -> Result<Base64Bytes, E> {
                use base64::Engine;
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map(Base64Bytes)
                    .map_err(E::custom)
            }
        }
        deserializer.deserialize_bytes(Base64Visitor)
    }
}

impl PullSecretData {
    fn for_type(self, secret_type: SecretType) -> Option<Vec<u8>> {
        match secret_type {
            SecretType::DockerConfigJson => self.docker_config_json,
            SecretType::DockerCfg => self.docker_cfg,
        }
        .map(|bytes| bytes.0)
    }
}

#[derive(Deserialize)]
struct LocalObjectReference {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceAccount {
    #[serde(default)]
    image_pull_secrets: Vec<LocalObjectReference>,
}

#[derive(Deserialize)]
struct Pod {
    metadata: Uid,
    #[serde(default)]
    spec: PodSpec,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    #[serde(default)]
    image_pull_secrets: Vec<LocalObjectReference>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listed_data_is_decoded_from_base64_escaped_or_not() {
        let list = br#"{"items":[
            {"metadata":{"name":"a"},"data":{".dockerconfigjson":"eyJhdXRocyI6e319"}},
            {"metadata":{"name":"b"},"data":{".dockerconfigjson":"e30\u003d"}},
            {"metadata":{"name":"c"},"data":{".dockercfg":"e30="}}]}"#;
        let list: SecretList = serde_json::from_slice(list).unwrap();
        let data: Vec<Option<Vec<u8>>> = list
            .items
            .into_iter()
            .map(|item| {
                item.data
                    .and_then(|data| data.for_type(SecretType::DockerConfigJson))
            })
            .collect();
        assert_eq!(
            data,
            [Some(b"{\"auths\":{}}".to_vec()), Some(b"{}".to_vec()), None]
        );
    }

    #[test]
    fn data_that_is_not_base64_fails_the_answer() {
        for data in [r#""not base64!""#, "[1, 2]", "7"] {
            let secret = format!(r#"{{"type":"t","data":{{".dockercfg":{data}}}}}"#);
            assert!(serde_json::from_str::<Secret>(&secret).is_err(), "{data}");
        }
    }
}
