//! Which pull secrets a pod may use, read with the narrowest access that finds them.
//!
//! RBAC cannot restrict `list` by secret type, so a Role that lets a pod list its namespace's pull
//! secrets lets it read every secret there. The service account's and the pod's `imagePullSecrets`
//! name the secrets instead, and `get` can be restricted to exactly those names.

use anyhow::{Context, Result, anyhow, bail};
use tracing::{info, warn};

use super::client::{Client, FetchedSecret, status_code};
use super::token::{TokenClaims, is_dns1123_subdomain};
use crate::logging;
use crate::secrets::SecretType;

/// `--secrets-from`: where the pull secrets of a pod are found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretsFrom {
    /// List as `Namespace` does; when that list is forbidden, read as `ServiceAccount` does.
    Auto,
    /// Every pull secret of the pod's namespace (RBAC: `list` on `secrets`).
    Namespace,
    /// The `imagePullSecrets` of the token's service account (RBAC: `get` on it and on them).
    ServiceAccount,
    /// The `spec.imagePullSecrets` of the token's pod, exactly what kubelet uses (RBAC: `get` on
    /// it and on them).
    Pod,
}

impl SecretsFrom {
    /// Reads the value as `--secrets-from` takes it.
    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "auto" => SecretsFrom::Auto,
            "namespace" => SecretsFrom::Namespace,
            "service-account" => SecretsFrom::ServiceAccount,
            "pod" => SecretsFrom::Pod,
            _ => bail!("takes auto, namespace, service-account or pod"),
        })
    }
}

/// The pull secrets read, and each named one the pod's Role forbids (`PodPullSecrets` says what
/// the caller does with those).
pub(super) struct FetchedSecrets {
    /// In precedence order: on equally specific keys the earlier secret wins.
    pub secrets: Vec<FetchedSecret>,
    pub forbidden: Vec<ForbiddenSecret>,
}

/// A secret named in `imagePullSecrets` that the pod's Role does not let it read.
pub struct ForbiddenSecret {
    pub name: String,
    /// The request and the API server's 403.
    pub error: anyhow::Error,
    /// The Role rule that would allow the read.
    pub rule: String,
}

impl ForbiddenSecret {
    /// Whether it could hold a credential for one of the image's `mirrors` (registries.conf
    /// locations). Anything could, but the pull secret OpenShift generates for a service account:
    /// it serves OpenShift's integrated registry only.
    pub fn could_serve(&self, mirrors: &[String]) -> bool {
        !is_openshift_generated_dockercfg(&self.name)
            || mirrors.iter().any(|m| is_integrated_registry(m))
    }
}

/// Whether `name` has the shape of the pull secret openshift-controller-manager generates for
/// every service account, `<sa>-dockercfg-<suffix>`: release-4.22,
/// pkg/internalregistry/controllers/service_account_controller.go `managedImagePullSecretName`
/// (`names.SimpleNameGenerator.GenerateName(naming.GetName(sa, "dockercfg-", 58))`: five
/// characters of apimachinery's `rand.String` alphabet, after a name cut to 58). Its
/// `.dockercfg` holds one entry per URL of the integrated registry and nothing else
/// (image_pull_secret_controller.go `dockerConfig`).
fn is_openshift_generated_dockercfg(name: &str) -> bool {
    const SUFFIX_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    name.rsplit_once("-dockercfg-")
        .is_some_and(|(base, suffix)| {
            !base.is_empty()
                && suffix.len() == 5
                && suffix.bytes().all(|b| SUFFIX_ALPHABET.contains(&b))
        })
}

/// Whether a registries.conf location is on OpenShift's integrated registry by one of the service
/// names openshift-controller-manager writes into the generated pull secrets (release-4.22,
/// pkg/internalregistry/controllers/registry_urls_observation_controller.go
/// `urlsForInternalRegistryService`: `<service>.<namespace>.svc[.cluster.local]` of
/// `image-registry` in `openshift-image-registry` and of the legacy `docker-registry` in
/// `default`). Its ClusterIP and the extra `registryURLs` of the controller's config (the
/// registry's routes) are not recognised.
fn is_integrated_registry(location: &str) -> bool {
    let host = location.split('/').next().unwrap_or_default();
    let host = match host.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => host,
    };
    let service = host.strip_suffix(".cluster.local").unwrap_or(host);
    matches!(
        service,
        "image-registry.openshift-image-registry.svc" | "docker-registry.default.svc"
    )
}

/// The pod's pull secrets in precedence order: on equally specific keys the earlier secret wins.
/// Named secrets keep the order of `imagePullSecrets` (kubelet's); listed ones are sorted by name.
/// The whole exchange ends within the client's timeout.
pub(super) async fn fetch(
    client: &Client,
    from: SecretsFrom,
    claims: &TokenClaims,
) -> Result<FetchedSecrets> {
    let timeout = client.timeout();
    let forbidden_list = |e| with_rule(e, claims, "list", "secrets", None);
    let fetch = async {
        match from {
            SecretsFrom::Namespace => list(client).await.map_err(forbidden_list),
            SecretsFrom::ServiceAccount => from_service_account(client, claims).await,
            SecretsFrom::Pod => from_pod(client, claims).await,
            SecretsFrom::Auto => match list(client).await {
                Err(e) if status_code(&e) == Some(403) => {
                    info!(
                        image = client.image(),
                        namespace = client.namespace(),
                        "Not allowed to list secrets in namespace {}, reading the pull secrets \
                         its service account names instead",
                        client.namespace()
                    );
                    from_service_account(client, claims).await.with_context(|| {
                        format!(
                            "reading the pull secrets {} names (--secrets-from auto, listing \
                             secrets in namespace {} is forbidden)",
                            claims
                                .service_account
                                .as_ref()
                                .map_or("the service account".into(), |a| {
                                    format!("service account {a}")
                                }),
                            client.namespace()
                        )
                    })
                }
                listed => listed.map_err(forbidden_list),
            },
        }
    };
    let fetched = tokio::time::timeout(timeout, fetch).await.map_err(|_| {
        anyhow!(
            "reading pull secrets in namespace {} at {}: no answer within {timeout:?}",
            client.namespace(),
            client.url()
        )
    })?;
    fetched.map_err(|e| with_audience(e, claims))
}

/// A rejected token (401) gets the likeliest cause beside the server's answer: an audience the
/// API server does not accept.
fn with_audience(error: anyhow::Error, claims: &TokenClaims) -> anyhow::Error {
    if status_code(&error) != Some(401) {
        return error;
    }
    let audiences: Vec<String> = claims
        .audiences
        .iter()
        .map(|a| logging::quoted(a))
        .collect();
    let requested = match audiences.as_slice() {
        [] => "the token names no audience; kubelet's tokenAttributes.serviceAccountTokenAudience"
            .to_string(),
        [one] => format!("the token was requested for the audience {one}, which"),
        many => format!(
            "the token was requested for the audiences {}, one of which",
            many.join(", ")
        ),
    };
    anyhow!(
        "{}; {requested} must be one of the API server's --api-audiences (else the token expired, \
         or its pod or service account is gone)",
        logging::one_line(error.as_ref())
    )
}

/// Both pull-secret types, listed concurrently.
async fn list(client: &Client) -> Result<FetchedSecrets> {
    let (json, cfg) = tokio::try_join!(
        client.list_pull_secrets(SecretType::DockerConfigJson),
        client.list_pull_secrets(SecretType::DockerCfg)
    )?;
    // The second list joins the first where it lies: a namespace's thousands of secrets are not
    // copied into a third.
    let mut listed = json;
    listed.extend(cfg);
    sort_by_name(&mut listed);
    Ok(FetchedSecrets {
        secrets: listed,
        forbidden: Vec::new(),
    })
}

/// By name, as a stable sort of the dockerconfigjson list joined with the dockercfg one would
/// order them, without a stable sort's buffer of half the list. A name is unique in a namespace,
/// but not across two lists read at different moments: a secret recreated with the other type
/// between them is in both, its dockerconfigjson one first.
fn sort_by_name(listed: &mut [FetchedSecret]) {
    let is_dockercfg = |secret: &FetchedSecret| secret.secret_type == SecretType::DockerCfg;
    listed.sort_unstable_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| is_dockercfg(a).cmp(&is_dockercfg(b)))
    });
}

async fn from_service_account(client: &Client, claims: &TokenClaims) -> Result<FetchedSecrets> {
    let account = claims.service_account.as_deref().context(
        "the service account token has no valid kubernetes.io.serviceaccount.name claim, so the \
         service account's imagePullSecrets cannot be read",
    )?;
    let names = client
        .service_account_pull_secrets(account)
        .await
        .map_err(|e| with_rule(e, claims, "get", "serviceaccounts", Some(account)))?;
    get_named(client, claims, names).await
}

async fn from_pod(client: &Client, claims: &TokenClaims) -> Result<FetchedSecrets> {
    let pod = claims.pod.as_ref().context(
        "the service account token has no valid kubernetes.io.pod claim (name and uid), so the \
         pod's imagePullSecrets cannot be read: kubelet's tokens for credential providers have it",
    )?;
    let names = client
        .pod_pull_secrets(pod)
        .await
        // contrib/rbac/pod-pull-secrets.yaml: pod names are generated, so not by name.
        .map_err(|e| with_rule(e, claims, "get", "pods", None))?;
    get_named(client, claims, names).await
}

/// Gets the named secrets concurrently, in the order given, each once. One that does not exist,
/// cannot be a secret's name or is not a pull secret is skipped with a warning naming it; one
/// that is forbidden is returned as such.
async fn get_named(
    client: &Client,
    claims: &TokenClaims,
    names: Vec<String>,
) -> Result<FetchedSecrets> {
    let mut unique: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        if !is_dns1123_subdomain(&name) {
            warn!(
                image = client.image(),
                namespace = client.namespace(),
                "Skipping image pull secret {:?}: not a valid secret name",
                name.escape_debug().to_string()
            );
        } else if !unique.contains(&name) {
            unique.push(name);
        }
    }
    let answers =
        futures::future::join_all(unique.iter().map(|name| client.get_pull_secret(name))).await;
    let mut secrets = Vec::with_capacity(answers.len());
    let mut forbidden = Vec::new();
    for (name, answer) in unique.iter().zip(answers) {
        match answer {
            Ok(Some(secret)) => secrets.push(secret),
            Ok(None) => warn!(
                image = client.image(),
                namespace = client.namespace(),
                secret = name,
                "Skipping image pull secret {name}: its type is neither {} nor {}",
                SecretType::DockerConfigJson.type_name(),
                SecretType::DockerCfg.type_name()
            ),
            Err(e) if status_code(&e) == Some(404) => warn!(
                image = client.image(),
                namespace = client.namespace(),
                secret = name,
                "Skipping image pull secret {name}: it does not exist in namespace {}",
                client.namespace()
            ),
            Err(e) if status_code(&e) == Some(403) => forbidden.push(ForbiddenSecret {
                name: name.clone(),
                error: e,
                rule: rule(claims, "get", "secrets", Some(name)),
            }),
            Err(e) => return Err(e),
        }
    }
    Ok(FetchedSecrets { secrets, forbidden })
}

fn identity(claims: &TokenClaims) -> String {
    match &claims.service_account {
        Some(account) => format!("system:serviceaccount:{}:{account}", claims.namespace),
        None => "the pod's service account".to_string(),
    }
}

/// A forbidden request gets the Role rule that would allow it beside the server's answer.
fn with_rule(
    error: anyhow::Error,
    claims: &TokenClaims,
    verb: &str,
    resource: &str,
    name: Option<&str>,
) -> anyhow::Error {
    if status_code(&error) != Some(403) {
        return error;
    }
    anyhow!("{error:#}; {}", rule(claims, verb, resource, name))
}

/// The Role rule that allows the pod's service account `verb` on `resource` (`name` only).
fn rule(claims: &TokenClaims, verb: &str, resource: &str, name: Option<&str>) -> String {
    let names = name
        .map(|name| format!(", resourceNames: [\"{name}\"]"))
        .unwrap_or_default();
    format!(
        "{} needs a Role rule {{apiGroups: [\"\"], resources: [\"{resource}\"], \
         verbs: [\"{verb}\"]{names}}}",
        identity(claims)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kube::client::SecretData;

    #[test]
    fn listed_secrets_are_sorted_by_name_and_of_one_name_dockerconfigjson_first() {
        let secret = |name: &str, secret_type| FetchedSecret {
            name: name.to_string(),
            secret_type,
            data: SecretData::Missing,
        };
        let mut listed = [
            secret("b", SecretType::DockerConfigJson),
            secret("c", SecretType::DockerConfigJson),
            secret("c", SecretType::DockerCfg),
            secret("a", SecretType::DockerCfg),
            secret("c", SecretType::DockerConfigJson),
        ];
        sort_by_name(&mut listed);
        let sorted: Vec<(&str, SecretType)> = listed
            .iter()
            .map(|secret| (secret.name.as_str(), secret.secret_type))
            .collect();
        assert_eq!(
            sorted,
            [
                ("a", SecretType::DockerCfg),
                ("b", SecretType::DockerConfigJson),
                ("c", SecretType::DockerConfigJson),
                ("c", SecretType::DockerConfigJson),
                ("c", SecretType::DockerCfg),
            ]
        );
    }

    #[test]
    fn every_source_is_known_by_its_flag_value() {
        for (name, source) in [
            ("auto", SecretsFrom::Auto),
            ("namespace", SecretsFrom::Namespace),
            ("service-account", SecretsFrom::ServiceAccount),
            ("pod", SecretsFrom::Pod),
        ] {
            assert_eq!(SecretsFrom::parse(name).unwrap(), source);
        }
        let error = SecretsFrom::parse("serviceaccount").unwrap_err();
        assert_eq!(
            error.to_string(),
            "takes auto, namespace, service-account or pod"
        );
    }

    #[test]
    fn only_names_of_the_generated_shape_are_openshifts_generated_dockercfg_secrets() {
        for generated in ["default-dockercfg-x7k2p", "builder-dockercfg-2b4zq"] {
            assert!(is_openshift_generated_dockercfg(generated), "{generated}");
        }
        for other in [
            "mirror-pull",
            "-dockercfg-x7k2p",
            "default-dockercfg-x7k2",
            "default-dockercfg-x7k2pp",
            "default-dockercfg-aeiou",
            "default-dockercfg",
        ] {
            assert!(!is_openshift_generated_dockercfg(other), "{other}");
        }
    }

    #[test]
    fn the_integrated_registry_is_known_by_its_service_names_with_or_without_port_and_path() {
        for location in [
            "image-registry.openshift-image-registry.svc:5000",
            "image-registry.openshift-image-registry.svc.cluster.local:5000/team-a",
            "docker-registry.default.svc",
        ] {
            assert!(is_integrated_registry(location), "{location}");
        }
        for location in [
            "mirror.example.com:5000",
            "image-registry.openshift-image-registry.svc.example.com",
            "registry.svc",
            // Only digits make a port.
            "image-registry.openshift-image-registry.svc:http",
        ] {
            assert!(!is_integrated_registry(location), "{location}");
        }
    }
}
