//! Kubelet mode: one request in, at most one auth file out, the response on stdout.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use secrecy::SecretString;
use tracing::{debug, error, info, warn};

use crate::authfile::{self, AuthDir};
use crate::duration;
use crate::kube::{self, TokenClaims};
use crate::kubelet;
use crate::logging;
use crate::registries;
use crate::secrets;

/// What a run reads and writes, and how it reaches the API server.
#[derive(Debug)]
pub struct Settings {
    pub registries: registries::Sources,
    /// Where CRI-O looks for auth files.
    pub auth_dir: PathBuf,
    /// The node's global pull secret, merged into every auth file.
    pub global_auth_file: PathBuf,
    pub api: kube::ApiSettings,
    /// The response's `cacheDuration`, as given (`kubelet::cache_duration` checked it).
    pub cache_duration: String,
    /// Unconsumed auth files older than this are removed.
    pub stale_after: Duration,
    /// The SELinux context of auth files; `None`: the auth directory's own.
    pub selinux_context: Option<String>,
    /// Where SELinux's filesystem is mounted when SELinux is enabled.
    pub selinuxfs: PathBuf,
    /// Answer a run that wrote an auth file with an empty credential for the image, so that
    /// kubelet ties the pulled image to the pod's service account (`kubelet::response`).
    pub scope_pulled_images: bool,
}

/// Defaults, as they are written on the command line; each is the Go implementation's.
pub const DEFAULT_AUTH_DIR: &str = "/etc/crio/auth";
pub const DEFAULT_GLOBAL_AUTH_FILE: &str = "/var/lib/kubelet/config.json";
pub const DEFAULT_STALE_AFTER: &str = "10m";
pub const DEFAULT_SELINUXFS: &str = "/sys/fs/selinux";

/// Below this, a run could remove the pending auth file of a concurrent pull that has not been
/// consumed yet (a pull of a large image can wait that long for CRI-O).
const MIN_STALE_AFTER: Duration = Duration::from_secs(60);

/// Reads the age after which unconsumed auth files are removed: a Go duration of at least 1m.
pub fn stale_after(text: &str) -> Result<Duration> {
    let stale_after = duration::parse(text)?;
    ensure!(
        stale_after >= MIN_STALE_AFTER,
        "must be at least 1m, or runs remove the auth files of pulls still pending"
    );
    Ok(stale_after)
}

/// Answers one request read from `input` on `output`.
///
/// A run that writes no auth file for its pull, for whatever reason, removes the file an earlier
/// run left pending for the same pull: CRI-O must not use credentials this run no longer grants.
/// That holds when writing the file fails halfway, and when the response cannot be written
/// (kubelet then pulls without the plugin, and CRI-O would still find the file). An error after
/// the request was read names the image first (`Pull` is its outermost context), and
/// `log_failure` gives its ERROR line the pull's fields.
pub fn run(settings: &Settings, input: impl Read, output: impl Write) -> Result<()> {
    let request = read_request(input)?;
    let claims = request
        .service_account_token
        .as_ref()
        .map(kube::token_claims);
    let pull = Pull {
        image: request.image.clone(),
        namespace: match &claims {
            Some(Ok(claims)) => Some(claims.namespace.clone()),
            _ => None,
        },
    };
    let result = answer(settings, &request, claims, &pull, output);
    PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    result.map_err(|e| e.context(pull))
}

/// The auth file this run may leave for its pull, from the moment its name is known until the
/// run ends: a panic (which ends the process) removes it, since no decision of the run stands.
static PENDING: Mutex<Option<PathBuf>> = Mutex::new(None);

/// For the panic hook: removes the auth file of the run's pull, if it was known.
pub fn withdraw_after_panic() {
    let pending = PENDING.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(path) = pending {
        let _ = std::fs::remove_file(path);
    }
}

/// The pull a run is for, as far as it is known: the `IMAGE` and `NAMESPACE` fields of its
/// warnings and of its ERROR line, and the context of its error.
#[derive(Debug)]
struct Pull {
    image: String,
    namespace: Option<String>,
}

impl std::fmt::Display for Pull {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "getting credentials for {}", self.image)
    }
}

/// Logs the one ERROR line of a failed run, with the pull's fields when the run got that far.
pub fn log_failure(error: &anyhow::Error) {
    let pull = error.downcast_ref::<Pull>();
    error!(
        image = pull.map(|p| p.image.as_str()),
        namespace = pull.and_then(|p| p.namespace.as_deref()),
        "{}",
        logging::one_line(error.as_ref())
    );
}

fn answer(
    settings: &Settings,
    request: &kubelet::Request,
    claims: Option<Result<TokenClaims>>,
    pull: &Pull,
    output: impl Write,
) -> Result<()> {
    // Every run cleans up, so unconsumed credentials do not outlive --stale-after even when no
    // later pull needs a file. A directory that fails its checks is reported once: as the run's
    // error when it needs the directory, else as a warning.
    let auth_dir = AuthDir::open_existing(&settings.auth_dir);
    if let Ok(Some(dir)) = &auth_dir {
        clean(dir, settings, pull);
    }
    let image = request.image.as_str();
    let (Some(token), Some(claims)) = (&request.service_account_token, claims) else {
        info!(
            image,
            "No service account token in the request, nothing to do: kubelet sends one for a pod \
             with a service account only when the provider's entry in its \
             CredentialProviderConfig has tokenAttributes (and, on Kubernetes 1.33, the \
             KubeletServiceAccountTokenForCredentialProviders feature gate is on; on by default \
             from 1.34)"
        );
        finish_without_file(auth_dir, None, pull);
        return respond(output, settings, None);
    };
    let claims = claims?;
    let namespace = claims.namespace.as_str();
    let name = authfile::auth_file_name(namespace, image);
    let auth_file = settings.auth_dir.join(&name);
    *PENDING.lock().unwrap_or_else(|e| e.into_inner()) = Some(auth_file.clone());
    let content = match auth_file_content(settings, image, token, &claims) {
        Ok(Some(content)) => content,
        Ok(None) => {
            finish_without_file(auth_dir, Some((&name, &auth_file)), pull);
            return respond(output, settings, None);
        }
        Err(e) => {
            finish_without_file(auth_dir, Some((&name, &auth_file)), pull);
            return Err(e);
        }
    };
    let dir = match auth_dir {
        Ok(Some(dir)) => dir,
        Ok(None) => AuthDir::open(&settings.auth_dir)?,
        Err(e) => {
            withdraw_by_path(&auth_file, pull);
            return Err(e);
        }
    };
    let written = dir
        .expected_context(&settings.selinuxfs, settings.selinux_context.as_deref())
        .and_then(|context| dir.write(&name, &content.json, context.as_deref()));
    if let Err(e) = written {
        // The earlier run's file, or this one's if only syncing the directory failed.
        withdraw(&dir, &name, &auth_file, pull);
        return Err(e);
    }
    info!(
        image, namespace, mirrors = content.mirrors, auth_file = %auth_file.display(),
        "Wrote auth file to {} with {} number of entries", auth_file.display(), content.entries
    );
    let scoped_image = settings.scope_pulled_images.then_some(image);
    respond(output, settings, scoped_image).inspect_err(|_| withdraw(&dir, &name, &auth_file, pull))
}

/// Writes the response for kubelet, whole, or fails: with an empty credential for
/// `scoped_image` when the run wrote its file (`kubelet::response`).
fn respond(mut output: impl Write, settings: &Settings, scoped_image: Option<&str>) -> Result<()> {
    let response = kubelet::response(&settings.cache_duration, scoped_image);
    writeln!(output, "{response}")
        .and_then(|()| output.flush())
        .context("writing the response to stdout")
}

/// The request on stdin, read up to kubelet's size and no further.
fn read_request(input: impl Read) -> Result<kubelet::Request> {
    let mut request = Vec::new();
    input
        .take(kubelet::MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut request)
        .context("reading the request from stdin")?;
    ensure!(
        request.len() as u64 <= kubelet::MAX_REQUEST_BYTES,
        "the request on stdin is larger than {} bytes",
        kubelet::MAX_REQUEST_BYTES
    );
    kubelet::parse_request(&request)
}

/// What the auth file for one pull holds.
struct AuthFileContent {
    json: Vec<u8>,
    entries: usize,
    mirrors: String,
}

/// The auth file this pull needs: `None` when it needs none (no mirrors, or no pull secret of the
/// pod matches them). Each reason is logged.
fn auth_file_content(
    settings: &Settings,
    image: &str,
    token: &SecretString,
    claims: &TokenClaims,
) -> Result<Option<AuthFileContent>> {
    let namespace = claims.namespace.as_str();
    let Some(MirroredPull {
        locations,
        references,
    }) = mirrored_pull(settings, image, namespace)?
    else {
        return Ok(None);
    };
    let kube::PodPullSecrets {
        secrets: pull_secrets,
        forbidden,
    } = kube::read_pull_secrets(&settings.api, token, claims, image)?;
    // Never freed: the process ends after this run, and freeing a namespace's thousands of
    // decoded secrets one by one is 2 M instructions of nothing.
    let kept = std::mem::ManuallyDrop::new(pull_secrets);
    let pull_secrets: &[secrets::PullSecret] = &kept;
    for secret in pull_secrets {
        debug!(
            image,
            namespace,
            secret = secret.name,
            "Read pull secret {} with {}",
            secret.name,
            keys(secret)
        );
    }
    let mirrors = locations.join(",");
    let chosen = secrets::choose(pull_secrets, &references);
    if chosen.is_empty() && !forbidden.is_empty() {
        let why = none_serves(&references, &locations, pull_secrets, &forbidden);
        // A secret that could not be read fails the run only where it could have served it.
        // OpenShift's generated dockercfg secret never serves a mirror: then this is the
        // ordinary "no matching secret", said with what was and was not read.
        ensure!(
            !forbidden
                .iter()
                .any(|secret| secret.could_serve(&locations)),
            "{why}"
        );
        info!(
            image,
            namespace,
            mirrors,
            "N{}; no auth file written",
            why.strip_prefix('n').unwrap_or(&why)
        );
        return Ok(None);
    }
    for secret in &forbidden {
        info!(
            image,
            namespace,
            secret = secret.name,
            "Pull secret {} could not be read (HTTP 403) and was not needed: another secret serves the pull",
            secret.name
        );
    }
    if chosen.is_empty() {
        info!(
            image,
            namespace,
            mirrors,
            "No pull secret in namespace {namespace} matches the mirrors of {image} ({} read), no auth file written",
            logging::count(pull_secrets.len(), "secret", "secrets")
        );
        return Ok(None);
    }
    for choice in &chosen {
        debug!(
            image,
            namespace,
            secret = choice.secret,
            key = secrets::shown_key(choice.key),
            "Using secret {} (key {}) for {}",
            choice.secret,
            secrets::shown_key(choice.key),
            choice.reference
        );
    }
    let global = authfile::read_global(&settings.global_auth_file).unwrap_or_else(|e| {
        warn!(
            image,
            namespace, "Leaving out the global pull secret: {e:#}"
        );
        None
    });
    let (document, entries) = authfile::merge(global, &chosen);
    let mut json = serde_json::to_vec_pretty(&document).context("encoding the auth file")?;
    json.push(b'\n');
    Ok(Some(AuthFileContent {
        json,
        entries,
        mirrors,
    }))
}

/// The keys of a secret read, for the log: the keys only, never an entry.
fn keys(secret: &secrets::PullSecret) -> String {
    if secret.entries.is_empty() {
        return "no keys".to_string();
    }
    let keys: Vec<String> = secret
        .entries
        .iter()
        .map(|(key, _)| logging::quoted(&secrets::shown_key(key)))
        .collect();
    format!("keys {}", keys.join(", "))
}

/// Why no pull secret serves a pull that some secret could not be read for: what needed a
/// credential, what each secret read holds, and each secret that could not be read, with the
/// Role rule for those that could hold the credential.
fn none_serves(
    references: &[String],
    locations: &[String],
    read: &[secrets::PullSecret],
    forbidden: &[kube::ForbiddenSecret],
) -> String {
    let mut parts: Vec<String> = read
        .iter()
        .map(|secret| format!("secret {} has {}", secret.name, keys(secret)))
        .collect();
    if parts.is_empty() {
        parts.push("no pull secret was read".to_string());
    }
    parts.extend(forbidden.iter().map(|secret| {
        if secret.could_serve(locations) {
            format!(
                "secret {} could not be read: {}; {}",
                secret.name,
                logging::one_line(secret.error.as_ref()),
                secret.rule
            )
        } else {
            format!(
                "secret {} could not be read (HTTP 403), but OpenShift generates it for its \
                 integrated registry only, which is none of the mirrors",
                secret.name
            )
        }
    }));
    format!(
        "no pull secret the pod may read has a key that serves any of {}: {}",
        references.join(", "),
        parts.join("; ")
    )
}

/// What CRI-O may pull for an image that has mirrors: the mirrors' locations, and every reference
/// it may pull through them, most specific first.
struct MirroredPull {
    locations: Vec<String>,
    references: Vec<String>,
}

/// The image's mirrors from registries.conf, as CRI-O will find them; `None` (logged) when CRI-O
/// will not pull through a mirror.
fn mirrored_pull(
    settings: &Settings,
    image: &str,
    namespace: &str,
) -> Result<Option<MirroredPull>> {
    let registries_conf = &settings.registries.main;
    let exists = registries_conf
        .try_exists()
        .with_context(|| format!("checking {}", registries_conf.display()))?;
    if !exists {
        info!(
            image,
            "Registries configuration {} does not exist, nothing to do",
            registries_conf.display()
        );
        return Ok(None);
    }
    let registries = settings
        .registries
        .load()
        .context("loading the registries configuration")?;
    let registry = registries.find(image);
    if let Some(registry) = registry.filter(|r| r.blocked) {
        info!(
            image,
            namespace,
            prefix = registry.prefix,
            "Registry {} is blocked, CRI-O will not pull {image}",
            registry.prefix
        );
        return Ok(None);
    }
    let Some(registry) = registry.filter(|r| !r.mirrors.is_empty()) else {
        info!(
            image,
            namespace, "No mirrors found for image {image}, nothing to do"
        );
        return Ok(None);
    };
    let references = registry.pull_references(image);
    debug!(
        image,
        namespace,
        mirrors = registry.mirrors.join(","),
        "Pull references: {}",
        references.join(", ")
    );
    Ok(Some(MirroredPull {
        locations: registry.mirrors.clone(),
        references,
    }))
}

/// Ends a run that writes no file: removes the pull's pending auth file from an earlier run, if
/// there is one, and reports an auth directory that failed its checks.
fn finish_without_file(
    auth_dir: Result<Option<AuthDir>>,
    pending: Option<(&str, &Path)>,
    pull: &Pull,
) {
    let (image, namespace) = (pull.image.as_str(), pull.namespace.as_deref());
    let dir = match auth_dir {
        Ok(Some(dir)) => dir,
        Ok(None) => return,
        Err(e) => {
            warn!(image, namespace, "Not cleaning up: {e:#}");
            if let Some((_, auth_file)) = pending {
                withdraw_by_path(auth_file, pull);
            }
            return;
        }
    };
    if let Some((name, auth_file)) = pending {
        withdraw(&dir, name, auth_file, pull);
    }
}

/// Removes the pull's auth file by its path, where the directory could not be opened or failed
/// its checks: the file bears this provider's name for the pull, and removing it hands no
/// credential to anyone, so an unverified directory is no reason to leave it.
fn withdraw_by_path(auth_file: &Path, pull: &Pull) {
    let (image, namespace) = (pull.image.as_str(), pull.namespace.as_deref());
    match std::fs::remove_file(auth_file) {
        Ok(()) => info!(
            image,
            namespace,
            auth_file = %auth_file.display(),
            "Removed the pending auth file {}: this run grants no credentials for it",
            auth_file.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => warn!(image, namespace, "removing {}: {e}", auth_file.display()),
    }
}

/// Removes the pull's auth file, if there is one: this run grants no credentials for it.
fn withdraw(dir: &AuthDir, name: &str, auth_file: &Path, pull: &Pull) {
    let (image, namespace) = (pull.image.as_str(), pull.namespace.as_deref());
    match dir.remove(name) {
        Ok(true) => info!(
            image,
            namespace,
            auth_file = %auth_file.display(),
            "Removed the pending auth file {}: this run grants no credentials for it",
            auth_file.display()
        ),
        Ok(false) => {}
        Err(e) => warn!(image, namespace, "{e:#}"),
    }
}

fn clean(dir: &AuthDir, settings: &Settings, pull: &Pull) {
    match dir.clean(settings.stale_after) {
        Ok(0) => {}
        Ok(removed) => info!(
            removed,
            "Removed {} from {}",
            logging::count(removed, "stale file", "stale files"),
            settings.auth_dir.display()
        ),
        Err(e) => warn!(
            image = pull.image.as_str(),
            namespace = pull.namespace.as_deref(),
            "Cleaning up {}: {e:#}",
            settings.auth_dir.display()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request padded with trailing white space (which JSON allows) to `size` bytes.
    fn request_of(size: usize) -> Vec<u8> {
        let mut request = br#"{"image":"a.io/x"}"#.to_vec();
        request.resize(size, b' ');
        request
    }

    #[test]
    fn a_request_of_one_mebibyte_is_read_and_one_byte_more_is_refused() {
        let request = read_request(&request_of(1024 * 1024)[..]).unwrap();
        assert_eq!(request.image, "a.io/x");
        let error = read_request(&request_of(1024 * 1024 + 1)[..]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the request on stdin is larger than 1048576 bytes"
        );
    }
}
