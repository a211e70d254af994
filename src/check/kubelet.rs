//! Kubelet's credential provider config, as kubelet reads it: which file, whether kubelet accepts
//! it, whether it runs this provider with a token, valid `args`, no caching, and `matchImages`
//! that cover every mirrored registries.conf prefix.
//!
//! Kubelet's rules are kubernetes `pkg/credentialprovider/plugin/config.go` (strict decoding,
//! `validateCredentialProviderConfig`; kubelet does not start with a config that fails them) and
//! `plugin.go` `isImageAllowed`: the plugin runs for an image only when one `matchImages` entry
//! matches it by `URLsMatchStr` of `pkg/credentialprovider/keyring.go`: the same number of host
//! labels, each matched by its glob, equal ports, and the entry's path a string prefix of the
//! image's.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::process::{self, flag_value};
use super::{Line, Settings};
use crate::duration;
use crate::files;
use crate::provider;
use crate::secrets::{label_matches, parse_url, split_host_port};

const PROVIDER_NAME: &str = "crio-credential-provider";
const PROVIDER_API_VERSION: &str = "credentialprovider.kubelet.k8s.io/v1";
const CONFIG_FLAG: &str = "--image-credential-provider-config";

/// Where kubelet's config is when kubelet does not say: the MCO's (OpenShift 4.22+, which wins over
/// the generic MachineConfigs' own), the generic MachineConfigs', the cloud platforms', and the
/// path docs/operating.md installs it at on plain Kubernetes (kubeadm itself names none).
const STANDARD_CONFIGS: [&str; 6] = [
    "/etc/kubernetes/credential-providers/generic-credential-provider.yaml",
    "/etc/kubernetes/credential-providers/crio-credential-provider.yaml",
    "/etc/kubernetes/credential-providers/ecr-credential-provider.yaml",
    "/etc/kubernetes/credential-providers/gcr-credential-provider.yaml",
    "/etc/kubernetes/credential-providers/acr-credential-provider.yaml",
    "/etc/kubernetes/credential-provider-config.yaml",
];

/// `kubelet.config.k8s.io` `CredentialProviderConfig`, strictly: an unknown field is an error, as
/// kubelet decodes it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ProviderConfig {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    providers: Vec<Provider>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Provider {
    #[serde(default)]
    name: String,
    #[serde(default)]
    match_images: Vec<String>,
    default_cache_duration: Option<String>,
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default, rename = "env")]
    _env: Vec<EnvVar>,
    token_attributes: Option<TokenAttributes>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvVar {
    #[serde(rename = "name")]
    _name: String,
    #[serde(rename = "value")]
    _value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenAttributes {
    #[serde(default)]
    service_account_token_audience: String,
    cache_type: Option<String>,
    require_service_account: Option<bool>,
    #[serde(default)]
    required_service_account_annotation_keys: Vec<String>,
    #[serde(default, rename = "optionalServiceAccountAnnotationKeys")]
    _optional_service_account_annotation_keys: Vec<String>,
}

pub(super) fn check(settings: &Settings, mirrored: Option<&[String]>, lines: &mut Vec<Line>) {
    let Some((path, from)) = config_path(settings, lines) else {
        return;
    };
    let shown = path.display().to_string();
    let config = match read_config(&path) {
        Ok(config) => config,
        Err(reason) => {
            lines.push(Line::fail(
                "kubelet-config",
                format!("kubelet does not start with {shown} ({from}): {reason}"),
                format!("fix {shown}"),
            ));
            return;
        }
    };
    let errors = validate(&config);
    if !errors.is_empty() {
        lines.push(Line::fail(
            "kubelet-config",
            format!(
                "kubelet does not start with {shown} ({from}): {}",
                errors.join("; ")
            ),
            format!("fix {shown}"),
        ));
        return;
    }
    let names: Vec<&str> = config.providers.iter().map(|p| p.name.as_str()).collect();
    lines.push(Line::ok(
        "kubelet-config",
        format!("{shown} ({from}) is valid, providers: {}", names.join(", ")),
    ));
    let Some(ours) = config.providers.iter().find(|p| p.name == PROVIDER_NAME) else {
        lines.push(Line::fail(
            "kubelet-provider",
            format!("{shown} has no provider named {PROVIDER_NAME}: kubelet never runs it"),
            format!(
                "add the {PROVIDER_NAME} entry of contrib/kubelet/ (/usr/share/crio-credential-provider/kubelet/ from the RPM) to providers in {shown}"
            ),
        ));
        return;
    };
    lines.push(provider_line(ours, &shown));
    if let Some(run) = args(settings, ours, &shown, lines) {
        lines.push(cache_line(&run, &shown));
    }
    if let Some(prefixes) = mirrored {
        lines.push(match_images_line(ours, prefixes, &shown));
    }
}

/// The config to check and where that choice came from; `None` (reported) when there is none.
fn config_path(settings: &Settings, lines: &mut Vec<Line>) -> Option<(PathBuf, String)> {
    const CHECK: &str = "kubelet-config";
    if let Some(path) = &settings.kubelet_provider_config {
        return Some((path.clone(), "--kubelet-provider-config".to_string()));
    }
    if let Some(kubelet) = process::running("kubelet") {
        let pid = kubelet.pid;
        return match flag_value(&kubelet.args, CONFIG_FLAG) {
            Some(path) => Some((path.into(), format!("kubelet's {CONFIG_FLAG}, pid {pid}"))),
            None => {
                lines.push(Line::fail(
                    CHECK,
                    format!("kubelet (pid {pid}) runs without {CONFIG_FLAG}: it runs no credential provider"),
                    format!(
                        "give kubelet {CONFIG_FLAG} and --image-credential-provider-bin-dir (OpenShift: the MachineConfigs of packaging/openshift/; kubeadm: KUBELET_EXTRA_ARGS in /etc/default/kubelet)"
                    ),
                ));
                None
            }
        };
    }
    let found = STANDARD_CONFIGS
        .iter()
        .map(Path::new)
        .find(|path| path.exists());
    match found {
        Some(path) => Some((
            path.to_path_buf(),
            "kubelet is not running: the first standard path that exists".to_string(),
        )),
        None => {
            lines.push(Line::fail(
                CHECK,
                format!(
                    "kubelet is not running and none of {} exists",
                    STANDARD_CONFIGS.join(", ")
                ),
                "pass --kubelet-provider-config FILE, the file kubelet's --image-credential-provider-config names",
            ));
            None
        }
    }
}

/// The file as kubelet decodes it (YAML or JSON, strictly). The error is one line.
fn read_config(path: &Path) -> Result<ProviderConfig, String> {
    let bytes = files::read_regular(path, 1 << 20).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    serde_saphyr::from_str(text).map_err(|e| {
        let message = e.to_string();
        message.lines().next().unwrap_or_default().to_string()
    })
}

/// What kubelet's `validateCredentialProviderConfig` refuses, in its words.
fn validate(config: &ProviderConfig) -> Vec<String> {
    let mut errors = Vec::new();
    if config.kind != "CredentialProviderConfig" {
        errors.push(format!(
            "kind is {:?}, not CredentialProviderConfig",
            config.kind
        ));
    }
    if !["v1", "v1beta1", "v1alpha1"]
        .map(|v| format!("kubelet.config.k8s.io/{v}"))
        .contains(&config.api_version)
    {
        errors.push(format!(
            "apiVersion is {:?}, not kubelet.config.k8s.io/v1",
            config.api_version
        ));
    }
    if config.providers.is_empty() {
        errors.push("providers: at least 1 item in plugins is required".to_string());
    }
    let mut seen = Vec::new();
    for provider in &config.providers {
        let name = &provider.name;
        let mut error = |message: String| errors.push(format!("provider {name:?}: {message}"));
        if name.contains('/') || name.contains(' ') || name == "." || name == ".." {
            error("provider name cannot contain '/' or spaces, or be '.' or '..'".into());
        }
        if seen.contains(&name) {
            error("duplicate provider name".into());
        }
        seen.push(name);
        let versions =
            ["v1", "v1beta1", "v1alpha1"].map(|v| format!("credentialprovider.kubelet.k8s.io/{v}"));
        if provider.api_version.is_empty() {
            error("apiVersion is required".into());
        } else if !versions.contains(&provider.api_version) {
            error(format!(
                "apiVersion {:?} is not supported",
                provider.api_version
            ));
        }
        if provider.match_images.is_empty() {
            error("at least 1 item in matchImages is required".into());
        }
        for image in &provider.match_images {
            if parse_url(image).is_none() {
                error(format!("match image {image:?} is invalid"));
            }
        }
        match &provider.default_cache_duration {
            None => error("defaultCacheDuration is required".into()),
            Some(text) if duration::parse(text).is_err() => error(format!(
                "defaultCacheDuration {text:?} is not a duration of at least 0s"
            )),
            Some(_) => {}
        }
        let Some(token) = &provider.token_attributes else {
            continue;
        };
        if token.service_account_token_audience.is_empty() {
            error("tokenAttributes.serviceAccountTokenAudience is required".into());
        }
        match token.require_service_account {
            None => error("tokenAttributes.requireServiceAccount is required".into()),
            Some(false) if !token.required_service_account_annotation_keys.is_empty() => error(
                "requireServiceAccount cannot be false when requiredServiceAccountAnnotationKeys is set"
                    .into(),
            ),
            Some(_) => {}
        }
        match token.cache_type.as_deref() {
            Some("Token" | "ServiceAccount") => {}
            Some(other) => error(format!(
                "tokenAttributes.cacheType {other:?} is neither Token nor ServiceAccount"
            )),
            None => error("tokenAttributes.cacheType is required".into()),
        }
        if provider.api_version != PROVIDER_API_VERSION {
            error(format!(
                "tokenAttributes is only supported for {PROVIDER_API_VERSION} API version"
            ));
        }
    }
    errors
}

/// This provider's entry: the API version it speaks and a token for the pod.
fn provider_line(ours: &Provider, file: &str) -> Line {
    const CHECK: &str = "kubelet-provider";
    if ours.api_version != PROVIDER_API_VERSION {
        return Line::fail(
            CHECK,
            format!(
                "{PROVIDER_NAME} has apiVersion {}: it answers {PROVIDER_API_VERSION} only, and kubelet ignores that answer",
                ours.api_version
            ),
            format!("set apiVersion: {PROVIDER_API_VERSION} in its entry in {file}"),
        );
    }
    let audience = ours
        .token_attributes
        .as_ref()
        .map(|t| t.service_account_token_audience.as_str())
        .filter(|audience| !audience.is_empty());
    match audience {
        None => Line::fail(
            CHECK,
            format!(
                "{PROVIDER_NAME} has no tokenAttributes: kubelet sends no service-account token, so no run reads a pull secret"
            ),
            format!(
                "add tokenAttributes (serviceAccountTokenAudience: https://kubernetes.default.svc on OpenShift, https://kubernetes.default.svc.cluster.local on kubeadm; cacheType: Token; requireServiceAccount: false) to its entry in {file}"
            ),
        ),
        Some(audience) => Line::ok(
            CHECK,
            format!(
                "{PROVIDER_NAME} speaks {PROVIDER_API_VERSION} and gets tokens for audience {audience}"
            ),
        ),
    }
}

/// The provider's `args`, read by this binary's own command line; the settings a run gets, `None`
/// (reported) when they are not kubelet mode.
fn args(
    settings: &Settings,
    ours: &Provider,
    file: &str,
    lines: &mut Vec<Line>,
) -> Option<provider::Settings> {
    const CHECK: &str = "kubelet-args";
    let command_line = std::iter::once(PROVIDER_NAME.to_string()).chain(ours.args.iter().cloned());
    let fix = format!("fix the args of {PROVIDER_NAME} in {file} (docs/operating.md, Flags)");
    let run = match (settings.kubelet_mode)(command_line.collect()) {
        Ok(run) => run,
        Err(why) => {
            lines.push(Line::fail(CHECK, why, fix));
            return None;
        }
    };
    let differences = differences(&run, &settings.provider);
    lines.push(match differences.is_empty() {
        true => Line::ok(
            CHECK,
            format!(
                "{} args, valid flags, the same files and API server as this check's",
                ours.args.len()
            ),
        ),
        false => Line::warn(
            CHECK,
            format!(
                "valid flags, but runs use other settings than this check: {}",
                differences.join(", ")
            ),
            format!("run the check with the flags of the args in {file}"),
        ),
    });
    Some(run)
}

/// The settings where a run with the provider's args and this check differ, as `--flag (args X,
/// check Y)`.
fn differences(run: &provider::Settings, check: &provider::Settings) -> Vec<String> {
    let path = |p: &Path| p.display().to_string();
    let maybe = |p: Option<&Path>| p.map_or("unset".to_string(), path);
    let pairs = [
        (
            "--registries-conf",
            path(&run.registries.main),
            path(&check.registries.main),
        ),
        (
            "--registries-conf-dir",
            maybe(run.registries.drop_in_dir.as_deref()),
            maybe(check.registries.drop_in_dir.as_deref()),
        ),
        ("--auth-dir", path(&run.auth_dir), path(&check.auth_dir)),
        (
            "--global-auth-file",
            path(&run.global_auth_file),
            path(&check.global_auth_file),
        ),
        (
            "--api-server",
            run.api.server.clone().unwrap_or("unset".into()),
            check.api.server.clone().unwrap_or("unset".into()),
        ),
        (
            "--ca-file",
            maybe(run.api.ca_file.as_deref()),
            maybe(check.api.ca_file.as_deref()),
        ),
        (
            "--kubeconfig",
            maybe(run.api.kubeconfig.as_deref()),
            maybe(check.api.kubeconfig.as_deref()),
        ),
        (
            "--kube-config-dir",
            path(&run.api.kube_config_dir),
            path(&check.api.kube_config_dir),
        ),
        (
            "--insecure-skip-tls-verify",
            run.api.insecure_skip_tls_verify.to_string(),
            check.api.insecure_skip_tls_verify.to_string(),
        ),
        (
            "--selinux-context",
            run.selinux_context.clone().unwrap_or("unset".into()),
            check.selinux_context.clone().unwrap_or("unset".into()),
        ),
        ("--selinuxfs", path(&run.selinuxfs), path(&check.selinuxfs)),
    ];
    pairs
        .into_iter()
        .filter(|(_, run, check)| run != check)
        .map(|(flag, run, check)| format!("{flag} (args {run}, check {check})"))
        .collect()
}

/// A cached answer writes no auth file, and every file serves one pull.
fn cache_line(run: &provider::Settings, file: &str) -> Line {
    const CHECK: &str = "kubelet-cache";
    let cached = duration::parse(&run.cache_duration).is_ok_and(|d| !d.is_zero());
    match cached {
        false => Line::ok(
            CHECK,
            "runs answer cacheDuration 0s: kubelet runs the plugin for every pull",
        ),
        true => Line::warn(
            CHECK,
            format!(
                "args set --cache-duration {}: kubelet reuses an answer for later pulls within it, but a cached answer writes no auth file, and every file serves one pull",
                run.cache_duration
            ),
            format!(
                "remove --cache-duration from the args of {PROVIDER_NAME} in {file} (the default is 0s)"
            ),
        ),
    }
}

/// Every mirrored prefix must be one kubelet runs the plugin for.
fn match_images_line(ours: &Provider, prefixes: &[String], file: &str) -> Line {
    const CHECK: &str = "kubelet-match-images";
    let unmatched: Vec<&str> = prefixes
        .iter()
        .map(String::as_str)
        .filter(|prefix| {
            !ours
                .match_images
                .iter()
                .any(|glob| urls_match(glob, prefix))
        })
        .collect();
    if unmatched.is_empty() {
        return Line::ok(
            CHECK,
            match prefixes.is_empty() {
                true => "no registries.conf prefix has mirrors to match".to_string(),
                false => format!(
                    "matchImages {} match every prefix with mirrors",
                    ours.match_images.join(", ")
                ),
            },
        );
    }
    let mut hosts: Vec<&str> = unmatched
        .iter()
        .map(|prefix| prefix.split('/').next().unwrap_or(prefix))
        .collect();
    hosts.dedup();
    let quoted: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    Line::fail(
        CHECK,
        format!(
            "matchImages [{}] match no image of {}: kubelet does not run the plugin for them, so their mirrors get no credentials",
            ours.match_images.join(", "),
            unmatched.join(", ")
        ),
        format!(
            "add {} to matchImages of {PROVIDER_NAME} in {file}",
            quoted.join(", ")
        ),
    )
}

/// Kubelet's `URLsMatchStr(glob, target)`: both parsed as schemeless URLs; equal ports, the same
/// number of host labels each matched by its glob, and the glob's path a string prefix of the
/// target's. A registries.conf prefix stands for every image below it: an entry that matches the
/// prefix matches them all.
fn urls_match(glob: &str, target: &str) -> bool {
    let (Some((glob_host, glob_path)), Some((host, path))) = (parse_url(glob), parse_url(target))
    else {
        return false;
    };
    let (glob_name, glob_port) = split_host_port(glob_host);
    let (name, port) = split_host_port(host);
    let globs: Vec<&str> = glob_name.split('.').collect();
    let labels: Vec<&str> = name.split('.').collect();
    glob_port == port
        && globs.len() == labels.len()
        && path.starts_with(&*glob_path)
        && globs
            .iter()
            .zip(&labels)
            .all(|(glob, label)| label_matches(glob, label))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_images_match_host_labels_one_glob_each() {
        assert!(urls_match("docker.io", "docker.io"));
        assert!(urls_match("*.docker.io", "registry-1.docker.io"));
        assert!(!urls_match("*.docker.io", "docker.io"));
        assert!(!urls_match("*.io", "a.b.io"));
        assert!(urls_match("*.*.io", "a.b.io"));
        assert!(urls_match("k8s.*", "k8s.io"));
        assert!(urls_match("app*.k8s.io", "app1.k8s.io"));
        assert!(!urls_match("docker.io", "quay.io"));
    }

    #[test]
    fn match_images_must_name_the_port_of_a_prefix_with_one() {
        assert!(urls_match("mirror.local:5000", "mirror.local:5000/team"));
        assert!(!urls_match("mirror.local", "mirror.local:5000"));
        assert!(!urls_match("mirror.local:5000", "mirror.local"));
    }

    #[test]
    fn a_match_images_path_is_a_string_prefix_of_the_prefix_path() {
        assert!(urls_match("quay.io", "quay.io/team/app"));
        assert!(urls_match("quay.io/team", "quay.io/team/app"));
        assert!(urls_match("quay.io/team", "quay.io/teams"));
        assert!(!urls_match("quay.io/team/app", "quay.io/team"));
    }

    #[test]
    fn a_wildcard_prefix_is_matched_by_a_glob_of_its_own_depth() {
        assert!(urls_match("*.example.com", "*.example.com"));
        assert!(!urls_match("example.com", "*.example.com"));
    }

    fn config(yaml: &str) -> ProviderConfig {
        serde_saphyr::from_str(yaml).unwrap()
    }

    const GOOD: &str = "apiVersion: kubelet.config.k8s.io/v1
kind: CredentialProviderConfig
providers:
  - name: crio-credential-provider
    apiVersion: credentialprovider.kubelet.k8s.io/v1
    matchImages: [docker.io]
    defaultCacheDuration: 1s
    tokenAttributes:
      serviceAccountTokenAudience: https://kubernetes.default.svc
      cacheType: Token
      requireServiceAccount: false
";

    #[test]
    fn the_example_configs_are_valid() {
        assert_eq!(validate(&config(GOOD)), Vec::<String>::new());
        for example in [
            "contrib/kubelet/credential-provider-config.yaml",
            "contrib/kubelet/openshift/crio-credential-provider.yaml",
            "contrib/kubelet/openshift/ecr-credential-provider.yaml",
            "contrib/kubelet/openshift/gcr-credential-provider.yaml",
            "contrib/kubelet/openshift/acr-credential-provider.yaml",
        ] {
            let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(example);
            let config = read_config(&path).unwrap_or_else(|e| panic!("{example}: {e}"));
            assert_eq!(validate(&config), Vec::<String>::new(), "{example}");
        }
    }

    #[test]
    fn kubelet_refuses_a_provider_without_a_cache_duration_or_images() {
        let yaml = GOOD
            .replace("    defaultCacheDuration: 1s\n", "")
            .replace("matchImages: [docker.io]", "matchImages: []");
        assert_eq!(
            validate(&config(&yaml)),
            [
                "provider \"crio-credential-provider\": at least 1 item in matchImages is required",
                "provider \"crio-credential-provider\": defaultCacheDuration is required",
            ]
        );
    }

    #[test]
    fn kubelet_refuses_token_attributes_without_their_required_fields() {
        let yaml = GOOD
            .replace("      cacheType: Token\n", "")
            .replace("      requireServiceAccount: false\n", "");
        assert_eq!(
            validate(&config(&yaml)),
            [
                "provider \"crio-credential-provider\": tokenAttributes.requireServiceAccount is required",
                "provider \"crio-credential-provider\": tokenAttributes.cacheType is required",
            ]
        );
    }

    #[test]
    fn an_unknown_field_is_refused_as_kubelet_decodes_strictly() {
        let yaml = GOOD.replace("    matchImages:", "    matchImage: [x]\n    matchImages:");
        let error = serde_saphyr::from_str::<ProviderConfig>(&yaml).unwrap_err();
        assert!(error.to_string().contains("matchImage"), "{error}");
    }
}
