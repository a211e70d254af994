//! The Kubernetes API, as the pod's own service account: one way in, `read_pull_secrets`, from
//! the API settings and the pod's token to the pull secrets the pod may use. Inside: where the
//! server is and which CA vouches for it (`endpoint`), what the token says (`token`), the requests
//! (`client`, which reads a list in Kubernetes' `protobuf` encoding) and which of them find a pod's
//! pull secrets (`secret_sources`).

mod client;
pub(crate) mod endpoint;
#[cfg(feature = "openssl")]
mod openssl;
mod protobuf;
mod secret_sources;
mod token;
pub(crate) mod transport;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use secrecy::SecretString;
use tracing::{info, warn};

#[cfg(fuzzing)]
pub use protobuf::{SecretListReader, status as protobuf_status};
pub use secret_sources::{ForbiddenSecret, SecretsFrom};
pub use token::{TokenClaims, token_claims};

use crate::duration;
use crate::secrets::PullSecret;

/// How to reach the API server, and which pull secrets to read there.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The API server's URL; `None`: from `apiserver-url.env`, else the node's kubeconfig.
    pub server: Option<String>,
    /// PEM CA bundle to verify the server with; `None`: the kubeconfig's.
    pub ca_file: Option<PathBuf>,
    /// The kubeconfig to read the server and CA from; `None`: the node's.
    pub kubeconfig: Option<PathBuf>,
    /// Holds OpenShift's `apiserver-url.env`.
    pub kube_config_dir: PathBuf,
    /// Encrypt, but do not verify the server (the Go implementation's behaviour).
    pub insecure_skip_tls_verify: bool,
    /// Deadline for every request of a run together.
    pub timeout: Duration,
    pub secrets_from: SecretsFrom,
}

/// Defaults, as they are written on the command line.
pub const DEFAULT_KUBE_CONFIG_DIR: &str = "/etc/kubernetes";
pub const DEFAULT_TIMEOUT: &str = "20s";

/// Kubelet kills the plugin after one minute; reading must end well before, leaving time to write.
const MAX_TIMEOUT: Duration = Duration::from_secs(55);

/// Reads an API timeout: a Go duration, more than 0s and less than 55s.
pub fn timeout(text: &str) -> Result<Duration> {
    let timeout = duration::parse(text)?;
    ensure!(
        !timeout.is_zero() && timeout < MAX_TIMEOUT,
        "must be more than 0s and less than 55s, inside kubelet's 1m deadline"
    );
    Ok(timeout)
}

/// The pull secrets a pod may use, and each named one its Role forbids.
pub struct PodPullSecrets {
    /// Decoded, in precedence order: on equally specific keys the earlier secret wins.
    pub secrets: Vec<PullSecret>,
    /// The named secrets that could not be read (a 403). The caller decides: OpenShift names a
    /// generated `<sa>-dockercfg-*` secret for its internal registry in every service account,
    /// which a Role naming only the mirrors' pull secrets rightly does not cover, so a forbidden
    /// secret fails a run only when no readable one serves the pull.
    pub forbidden: Vec<ForbiddenSecret>,
}

/// The pod's pull secrets, read with its token as `settings.secrets_from` says, all within
/// `settings.timeout`. A secret that does not decode is skipped with a warning naming it. `image`
/// is the pull's, for the log.
pub fn read_pull_secrets(
    settings: &ApiSettings,
    token: &SecretString,
    claims: &TokenClaims,
    image: &str,
) -> Result<PodPullSecrets> {
    let endpoint = endpoint::endpoint(settings)?;
    let namespace = claims.namespace.as_str();
    if endpoint.roots.is_some() {
        info!(
            image,
            namespace,
            url = endpoint.url,
            "Using the API server {} {}",
            endpoint.url,
            endpoint.sources()
        );
    } else {
        warn!(
            image,
            namespace,
            url = endpoint.url,
            "Using the API server {} {}",
            endpoint.url,
            endpoint.sources()
        );
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let fetched = runtime.block_on(async {
        let client = client::Client::new(&endpoint, token, claims, image, settings.timeout)?;
        secret_sources::fetch(&client, settings.secrets_from, claims).await
    })?;
    Ok(PodPullSecrets {
        secrets: decoded(fetched.secrets, namespace, image),
        forbidden: fetched.forbidden,
    })
}

/// The secrets read whose data decoded; one that did not is skipped with a warning naming it and
/// the reason.
fn decoded(fetched: Vec<client::FetchedSecret>, namespace: &str, image: &str) -> Vec<PullSecret> {
    fetched
        .into_iter()
        .filter_map(|secret| match secret.data {
            client::SecretData::Decoded(entries) => Some(PullSecret {
                name: secret.name,
                entries,
            }),
            client::SecretData::Missing => {
                warn!(
                    image,
                    namespace,
                    secret = secret.name,
                    "Skipping secret {}: it has no {} key",
                    secret.name,
                    secret.secret_type.data_key()
                );
                None
            }
            client::SecretData::Undecodable(reason) => {
                warn!(
                    image,
                    namespace,
                    secret = secret.name,
                    "Skipping secret {}: {reason}",
                    secret.name
                );
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_timeout_ends_inside_kubelets_deadline() {
        assert_eq!(timeout("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(timeout("54.9s").unwrap(), Duration::from_millis(54_900));
        for refused in ["0s", "55s", "1m"] {
            let error = timeout(refused).unwrap_err().to_string();
            assert!(error.contains("less than 55s"), "{refused}: {error}");
        }
    }
}
