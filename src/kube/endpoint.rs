//! Where the API server is and which CA vouches for it: `--api-server`, else OpenShift's
//! `apiserver-url.env`, else the node's kubeconfig; the CA from `--ca-file` or that kubeconfig.
//! Never a kubeconfig's credentials: the provider authenticates with the pod's token only.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use super::ApiSettings;
use crate::files;
use crate::logging;

/// Kubeconfigs of a node, in the order they are tried: OpenShift, kubeadm, others.
const NODE_KUBECONFIGS: [&str; 3] = [
    "/etc/kubernetes/kubeconfig",
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/kubelet/kubeconfig",
];

const FALLBACK_SERVER: &str = "https://localhost:6443";

/// Where the API server is and how to trust it.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    /// DER certificates to trust; `None` only with `--insecure-skip-tls-verify`.
    pub roots: Option<Vec<Vec<u8>>>,
    /// Where the URL came from: `--api-server`, a file's path, or `the default`.
    pub url_origin: String,
    /// Where the CA came from; `None` with `roots`.
    pub ca_origin: Option<String>,
}

/// The server URL and CA the node's kubeconfig names; never its credentials.
struct KubeconfigCluster {
    path: PathBuf,
    server: Option<String>,
    ca_pem: Option<Vec<u8>>,
}

pub fn endpoint(settings: &ApiSettings) -> Result<Endpoint> {
    let env_url = match &settings.server {
        Some(_) => None,
        None => read_apiserver_url_env(&settings.kube_config_dir.join("apiserver-url.env"))?,
    };
    let needs_ca = !settings.insecure_skip_tls_verify && settings.ca_file.is_none();
    let needs_server = settings.server.is_none() && env_url.is_none();
    // Only read (and so only depend on) the kubeconfig for what the flags do not give.
    let kubeconfig = match &settings.kubeconfig {
        _ if !needs_ca && !needs_server => None,
        Some(path) => Some(read_kubeconfig(path)?),
        None => first_existing(&NODE_KUBECONFIGS)?
            .map(read_kubeconfig)
            .transpose()?,
    };
    let (url, origin) = if let Some(server) = &settings.server {
        (server.clone(), "--api-server".to_string())
    } else if let Some(url) = env_url {
        let path = settings.kube_config_dir.join("apiserver-url.env");
        (url, path.display().to_string())
    } else if let Some((server, path)) = kubeconfig
        .as_ref()
        .and_then(|k| Some((k.server.clone()?, &k.path)))
    {
        (server, path.display().to_string())
    } else {
        (FALLBACK_SERVER.to_string(), "the default".to_string())
    };
    require_https(&url).with_context(|| format!("the API server URL from {origin}"))?;
    if settings.insecure_skip_tls_verify {
        return Ok(Endpoint {
            url,
            roots: None,
            url_origin: origin,
            ca_origin: None,
        });
    }
    let url_origin = origin;
    let (pem, origin) = match (&settings.ca_file, &kubeconfig) {
        (Some(path), _) => (
            std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?,
            path.display().to_string(),
        ),
        (
            None,
            Some(KubeconfigCluster {
                path,
                ca_pem: Some(pem),
                ..
            }),
        ) => (
            pem.clone(),
            format!("the certificate authority of {}", path.display()),
        ),
        (None, found) => bail!(
            "no CA to verify the API server {url} with: {}; pass --ca-file or --kubeconfig \
             (or --insecure-skip-tls-verify to not verify)",
            match found {
                Some(k) => format!("{} has no certificate-authority(-data)", k.path.display()),
                None => format!("none of {} exists", NODE_KUBECONFIGS.join(", ")),
            }
        ),
    };
    let roots = certificates(&pem).with_context(|| format!("reading {origin}"))?;
    Ok(Endpoint {
        url,
        roots: Some(roots),
        url_origin,
        ca_origin: Some(origin),
    })
}

/// The first of `paths` that exists. Only "no such file" means absent: any other error (a denial,
/// which SELinux makes look like any other) is one, naming the path.
fn first_existing<'a>(paths: &'a [&'a str]) -> Result<Option<&'a Path>> {
    for path in paths.iter().map(Path::new) {
        if path
            .try_exists()
            .with_context(|| format!("checking {}", path.display()))?
        {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The pod's token goes only to a server that TLS verifies (or, with --insecure-skip-tls-verify,
/// at least encrypts): never in clear text.
fn require_https(url: &str) -> Result<()> {
    let uri: http::Uri = url
        .parse()
        .with_context(|| format!("{} is not a URL", logging::quoted(url)))?;
    ensure!(
        uri.scheme_str() == Some("https") && uri.host().is_some(),
        "{} is not an https:// URL with a host; the pod's token is only sent over TLS",
        logging::quoted(url)
    );
    Ok(())
}

fn certificates(pem: &[u8]) -> Result<Vec<Vec<u8>>> {
    let roots: Vec<Vec<u8>> = pem::parse_many(pem)
        .context("not valid PEM")?
        .into_iter()
        .filter(|block| block.tag() == "CERTIFICATE")
        .map(pem::Pem::into_contents)
        .collect();
    if roots.is_empty() {
        bail!("no PEM certificate found");
    }
    Ok(roots)
}

fn read_kubeconfig(path: &Path) -> Result<KubeconfigCluster> {
    let config = kube::config::Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let cluster_name = config
        .current_context
        .as_ref()
        .and_then(|current| config.contexts.iter().find(|c| &c.name == current))
        .and_then(|context| context.context.as_ref())
        .map(|context| context.cluster.clone());
    let cluster = config
        .clusters
        .iter()
        .find(|c| Some(&c.name) == cluster_name.as_ref())
        .or(config.clusters.first())
        .and_then(|c| c.cluster.as_ref());
    let Some(cluster) = cluster else {
        return Ok(KubeconfigCluster {
            path: path.to_path_buf(),
            server: None,
            ca_pem: None,
        });
    };
    let ca_pem = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => Some(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim())
                .with_context(|| {
                    format!("decoding certificate-authority-data of {}", path.display())
                })?,
        ),
        (None, Some(file)) => Some(std::fs::read(file).with_context(|| {
            format!(
                "reading certificate-authority {file} named by {}",
                path.display()
            )
        })?),
        (None, None) => None,
    };
    Ok(KubeconfigCluster {
        path: path.to_path_buf(),
        server: cluster.server.clone(),
        ca_pem,
    })
}

/// `KUBERNETES_SERVICE_HOST`/`_PORT` of OpenShift's `apiserver-url.env` as a URL; `None` when the
/// file or either key is missing.
fn read_apiserver_url_env(path: &Path) -> Result<Option<String>> {
    let read = files::absent_if_missing(files::read_regular(path, 64 * 1024));
    let Some(bytes) = read.with_context(|| format!("reading {}", path.display()))? else {
        return Ok(None);
    };
    Ok(apiserver_url(&String::from_utf8_lossy(&bytes)))
}

fn apiserver_url(env_file: &str) -> Option<String> {
    let value = |key: &str| {
        env_file.lines().find_map(|line| {
            let (name, value) = line.trim().split_once('=')?;
            (name.trim() == key).then(|| unquote(value.trim()).to_string())
        })
    };
    let host = value("KUBERNETES_SERVICE_HOST").filter(|h| !h.is_empty())?;
    let port = value("KUBERNETES_SERVICE_PORT").filter(|p| !p.is_empty())?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Some(format!("https://{host}:{port}"))
}

fn unquote(value: &str) -> &str {
    for quote in ['\'', '"'] {
        if let Some(inner) = value
            .strip_prefix(quote)
            .and_then(|v| v.strip_suffix(quote))
        {
            return inner;
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apiserver_url_env_values_may_be_quoted() {
        let env = "KUBERNETES_SERVICE_HOST='api-int.example.com'\nKUBERNETES_SERVICE_PORT='6443'\n";
        assert_eq!(
            apiserver_url(env).as_deref(),
            Some("https://api-int.example.com:6443")
        );
        let env = "KUBERNETES_SERVICE_HOST=\"h\"\nKUBERNETES_SERVICE_PORT=443";
        assert_eq!(apiserver_url(env).as_deref(), Some("https://h:443"));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        let env = "KUBERNETES_SERVICE_HOST='fd00::1'\nKUBERNETES_SERVICE_PORT='6443'\n";
        assert_eq!(
            apiserver_url(env).as_deref(),
            Some("https://[fd00::1]:6443")
        );
    }

    #[test]
    fn missing_host_or_port_means_no_url() {
        assert_eq!(apiserver_url("KUBERNETES_SERVICE_HOST='h'\n"), None);
        assert_eq!(apiserver_url("KUBERNETES_SERVICE_PORT='1'\n"), None);
        assert_eq!(apiserver_url(""), None);
    }

    #[test]
    fn only_https_urls_with_a_host_may_carry_the_token() {
        assert!(require_https("https://api-int.example.com:6443").is_ok());
        assert!(require_https("https://[fd00::1]:6443").is_ok());
        for bad in [
            "http://api:6443",
            "api:6443",
            "https://",
            "ftp://h",
            "",
            "https://a b",
        ] {
            assert!(require_https(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_first_existing_path_is_found_and_an_unreadable_one_is_an_error() {
        let dir = std::env::temp_dir().join(format!("first-existing-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, "").unwrap();
        let missing = dir.join("missing");
        let (missing, file) = (missing.to_str().unwrap(), file.to_str().unwrap());
        assert_eq!(
            first_existing(&[missing, file]).unwrap(),
            Some(Path::new(file))
        );
        assert_eq!(first_existing(&[missing]).unwrap(), None);
        let below_a_file = format!("{file}/kubeconfig");
        let err = first_existing(&[&below_a_file, file]).unwrap_err();
        assert!(format!("{err:#}").contains(&below_a_file), "{err:#}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn pem_without_certificates_is_refused() {
        assert!(certificates(b"not pem").is_err());
        assert!(
            certificates(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
                .is_err()
        );
    }
}
