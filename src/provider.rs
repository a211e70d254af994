//! Kubelet mode: one request in, at most one auth file out, the response on stdout.

use std::io::Read;

use anyhow::{Context, Result};
use tracing::{debug, info, warn};

use crate::authfile::{self, AuthDir};
use crate::cli::Settings;
use crate::kubelet;
use crate::registries::{self, Registries};
use crate::secrets::{self, PullSecret};

/// Answers one request read from `input`; returns the response to print.
pub fn run(settings: &Settings, input: impl Read) -> Result<String> {
    let mut request = Vec::new();
    input
        .take(kubelet::MAX_REQUEST_BYTES + 1)
        .read_to_end(&mut request)
        .context("reading the request from stdin")?;
    anyhow::ensure!(
        request.len() as u64 <= kubelet::MAX_REQUEST_BYTES,
        "the request on stdin is larger than {} bytes",
        kubelet::MAX_REQUEST_BYTES
    );
    let request = kubelet::parse_request(&request)?;
    let response = kubelet::response(&settings.cache_duration);
    // Every run cleans up, so unconsumed credentials do not outlive --stale-after even when no
    // later pull needs a file. A directory that fails its checks is reported when it is needed.
    let auth_dir = AuthDir::open_existing(&settings.auth_dir);
    match &auth_dir {
        Ok(Some(dir)) => clean(dir, settings),
        Ok(None) => {}
        Err(e) => warn!("Not cleaning up: {e:#}"),
    }
    let image = request.image.as_str();

    let registries_conf = &settings.sources.registries_conf;
    if !registries_conf.exists() {
        info!(
            image,
            "Registries configuration {} does not exist, nothing to do",
            registries_conf.display()
        );
        return Ok(response);
    }
    let Some(token) = &request.service_account_token else {
        info!(
            image,
            "No service account token in the request (pod without service account), nothing to do"
        );
        return Ok(response);
    };
    let namespace = kubelet::token_namespace(token)?;

    let drop_in_dirs = registries::drop_in_dirs(settings.sources.registries_conf_dir.as_deref());
    let registries = Registries::load(registries_conf, &drop_in_dirs)
        .context("loading the registries configuration")?;
    let Some(registry) = registries.find(image).filter(|r| !r.mirrors.is_empty()) else {
        info!(
            image,
            namespace, "No mirrors found for image {image}, nothing to do"
        );
        return Ok(response);
    };
    if registry.blocked {
        info!(
            image,
            namespace,
            prefix = registry.prefix,
            "Registry {} is blocked, CRI-O will not pull {image}",
            registry.prefix
        );
        return Ok(response);
    }
    let mirrors = registry.mirrors.join(",");
    let references = registry.pull_references(image);
    debug!(
        image,
        namespace,
        mirrors,
        "Pull references: {}",
        references.join(", ")
    );

    let endpoint = crate::kube::endpoint(&settings.api)?;
    if endpoint.roots.is_none() {
        warn!(
            url = endpoint.url,
            "Not verifying the API server's certificate (--insecure-skip-tls-verify)"
        );
    }
    crate::kube::prepare_tls();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let listed = runtime.block_on(crate::kube::list_pull_secrets(
        &endpoint,
        token,
        &namespace,
        settings.api.timeout,
    ))?;
    let pull_secrets = decode_secrets(listed, &namespace);
    let chosen = secrets::choose(&pull_secrets, &references);
    if chosen.is_empty() {
        info!(
            image,
            namespace,
            mirrors,
            "No pull secret in namespace {namespace} matches the mirrors of {image} ({} secrets read), no auth file written",
            pull_secrets.len()
        );
        return Ok(response);
    }
    for choice in &chosen {
        debug!(
            image,
            namespace,
            secret = choice.secret,
            key = choice.key,
            "Using secret {} (key {}) for {}",
            choice.secret,
            choice.key,
            choice.reference
        );
    }

    let global = authfile::read_global(&settings.global_auth_file).unwrap_or_else(|e| {
        warn!("Leaving out the global pull secret: {e:#}");
        None
    });
    let (document, entries) = authfile::merge(global, &chosen);
    let mut content = serde_json::to_vec_pretty(&document).context("encoding the auth file")?;
    content.push(b'\n');
    let dir = match auth_dir {
        Ok(Some(dir)) => dir,
        _ => AuthDir::open(&settings.auth_dir)?,
    };
    let name = authfile::auth_file_name(&namespace, image);
    let context = dir.expected_context(&settings.selinuxfs, settings.selinux_context.as_deref())?;
    dir.write(&name, &content, context.as_deref())?;
    let auth_file = settings.auth_dir.join(&name);
    info!(
        image, namespace, mirrors, auth_file = %auth_file.display(),
        "Wrote auth file to {} with {entries} number of entries", auth_file.display()
    );
    Ok(response)
}

fn clean(dir: &AuthDir, settings: &Settings) {
    match dir.clean(settings.stale_after) {
        Ok(0) => {}
        Ok(removed) => info!(
            removed,
            "Removed {removed} stale files from {}",
            settings.auth_dir.display()
        ),
        Err(e) => warn!("Cleaning up {}: {e:#}", settings.auth_dir.display()),
    }
}

/// Decodes every listed secret; one that fails is skipped with a warning naming it and the reason.
fn decode_secrets(listed: Vec<crate::kube::ListedSecret>, namespace: &str) -> Vec<PullSecret> {
    listed
        .into_iter()
        .filter_map(|secret| {
            let Some(data) = secret.data else {
                warn!(
                    namespace,
                    secret = secret.name,
                    "Skipping secret {}: it has no {} key",
                    secret.name,
                    secret.secret_type.data_key()
                );
                return None;
            };
            secrets::decode(&secret.name, secret.secret_type, &data)
                .inspect_err(|reason| {
                    warn!(
                        namespace,
                        secret = secret.name,
                        "Skipping secret {}: {reason}",
                        secret.name
                    )
                })
                .ok()
        })
        .collect()
}
