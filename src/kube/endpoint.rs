//! Where the API server is and which CA vouches for it: `--api-server`, else OpenShift's
//! `apiserver-url.env`, else the node's kubeconfig; the CA from `--ca-file` or that kubeconfig.
//! Never a kubeconfig's credentials: the provider authenticates with the pod's token only.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail, ensure};
use secrecy::SecretString;

use super::ApiSettings;
use super::transport::Transport;
use crate::files;
use crate::logging;

/// Kubeconfigs of a node, in the order they are tried: OpenShift, kubeadm, others.
const NODE_KUBECONFIGS: [&str; 3] = [
    "/etc/kubernetes/kubeconfig",
    "/etc/kubernetes/kubelet.conf",
    "/var/lib/kubelet/kubeconfig",
];

const FALLBACK_SERVER: &str = "https://localhost:6443";

/// Where the API server is and how to trust it, and where each came from.
#[derive(Debug)]
pub struct Endpoint {
    pub url: String,
    /// `--api-server`, the path of the file that named it, or the fallback.
    pub url_origin: String,
    /// DER certificates to trust, and where they came from (`--ca-file <path>`, the kubeconfig's
    /// field); `None` only with `--insecure-skip-tls-verify`.
    pub roots: Option<(Vec<Vec<u8>>, String)>,
}

impl Endpoint {
    /// Where the URL came from and how the server is verified, to follow the URL in a message.
    pub fn sources(&self) -> String {
        match &self.roots {
            Some((_, ca_origin)) => format!(
                "(from {}), verifying it with the CA of {ca_origin}",
                self.url_origin
            ),
            None => format!(
                "(from {}) without verifying its certificate (--insecure-skip-tls-verify)",
                self.url_origin
            ),
        }
    }
}

impl Endpoint {
    /// A client of this server: verified against its CA (encrypted only, with
    /// `--insecure-skip-tls-verify`), authenticated with `token` when given and with nothing
    /// else, connecting within `timeout`.
    pub fn client(&self, token: Option<&SecretString>, timeout: Duration) -> Result<Transport> {
        let uri: http::Uri = self
            .url
            .parse()
            .with_context(|| format!("parsing API server URL {:?}", self.url))?;
        let roots = self.roots.as_ref().map(|(roots, _)| roots.clone());
        Transport::new(uri, roots, token, timeout)
            .with_context(|| format!("setting up a client for {}", self.url))
    }
}

/// The server URL and CA the node's kubeconfig names; never its credentials.
struct KubeconfigCluster {
    path: PathBuf,
    server: Option<String>,
    /// The PEM and which field of the kubeconfig gave it.
    ca: Option<(Vec<u8>, String)>,
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
        (
            FALLBACK_SERVER.to_string(),
            "the fallback: no --api-server, apiserver-url.env or kubeconfig server".to_string(),
        )
    };
    require_https(&url).with_context(|| format!("the API server URL from {origin}"))?;
    if settings.insecure_skip_tls_verify {
        return Ok(Endpoint {
            url,
            url_origin: origin,
            roots: None,
        });
    }
    let (pem, ca_origin) = match (&settings.ca_file, kubeconfig) {
        (Some(path), _) => (
            std::fs::read(path).with_context(|| format!("reading CA file {}", path.display()))?,
            format!("--ca-file {}", path.display()),
        ),
        (
            None,
            Some(KubeconfigCluster {
                ca: Some((pem, ca_origin)),
                ..
            }),
        ) => (pem, ca_origin),
        (None, found) => bail!(
            "no CA to verify the API server {url} with: {}; pass --ca-file or --kubeconfig \
             (or --insecure-skip-tls-verify to not verify)",
            match &found {
                Some(k) => format!("{} has no certificate-authority(-data)", k.path.display()),
                None => format!("none of {} exists", NODE_KUBECONFIGS.join(", ")),
            }
        ),
    };
    let roots = certificates(&pem).with_context(|| format!("reading {ca_origin}"))?;
    Ok(Endpoint {
        url,
        url_origin: origin,
        roots: Some((roots, ca_origin)),
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

/// A node's kubeconfig is a few KiB; one that holds many clusters stays well under this.
const MAX_KUBECONFIG_BYTES: u64 = 1024 * 1024;

/// Reads the server and CA of a kubeconfig: read once, a regular file, bounded. The file holds
/// the node's own credentials (`token`, `client-key-data`), so a parse error says where, never
/// what: not the parser's excerpt of the file.
fn read_kubeconfig(path: &Path) -> Result<KubeconfigCluster> {
    let bytes = files::read_regular(path, MAX_KUBECONFIG_BYTES)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    let text = std::str::from_utf8(&bytes)
        .ok()
        .with_context(|| format!("kubeconfig {} is not UTF-8 text", path.display()))?;
    let config = kube::config::Kubeconfig::from_yaml(text).map_err(|e| {
        let at = match &e {
            kube::config::KubeconfigError::Parse(parse) => parse
                .location()
                .map(|l| format!(" at line {} column {}", l.line(), l.column())),
            _ => None,
        };
        anyhow::anyhow!(
            "kubeconfig {} is not a valid kubeconfig{} (its content is not shown: it holds \
             credentials)",
            path.display(),
            at.unwrap_or_default()
        )
    })?;
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
            ca: None,
        });
    };
    let ca = match (
        &cluster.certificate_authority_data,
        &cluster.certificate_authority,
    ) {
        (Some(data), _) => Some((
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim())
                .with_context(|| {
                    format!("decoding certificate-authority-data of {}", path.display())
                })?,
            format!("certificate-authority-data of {}", path.display()),
        )),
        (None, Some(file)) => {
            // Relative to the kubeconfig's directory, as kubectl and kubelet read it.
            let file = path.parent().unwrap_or(Path::new("")).join(file);
            let origin = format!(
                "certificate-authority {} named by {}",
                file.display(),
                path.display()
            );
            let pem = std::fs::read(&file).with_context(|| format!("reading {origin}"))?;
            Some((pem, origin))
        }
        (None, None) => None,
    };
    Ok(KubeconfigCluster {
        path: path.to_path_buf(),
        server: cluster.server.clone(),
        ca,
    })
}

/// `KUBERNETES_SERVICE_HOST`/`_PORT` of OpenShift's `apiserver-url.env` as a URL; `None` when the
/// file is missing. A file without either value is an error: it is meant to name the server, and
/// another source would be a guess.
fn read_apiserver_url_env(path: &Path) -> Result<Option<String>> {
    let read = files::absent_if_missing(files::read_regular(path, 64 * 1024));
    let Some(bytes) = read.with_context(|| format!("reading {}", path.display()))? else {
        return Ok(None);
    };
    apiserver_url(&String::from_utf8_lossy(&bytes))
        .map(Some)
        .map_err(|key| {
            anyhow!(
                "{} has no {key} value, so it names no API server (remove the file to use the \
                 kubeconfig's server)",
                path.display()
            )
        })
}

/// The URL, or the key whose value is missing or empty.
fn apiserver_url(env_file: &str) -> Result<String, &'static str> {
    let value = |key: &'static str| {
        env_file
            .lines()
            .find_map(|line| {
                let (name, value) = line.trim().split_once('=')?;
                (name.trim() == key).then(|| unquote(value.trim()).to_string())
            })
            .filter(|value| !value.is_empty())
            .ok_or(key)
    };
    let host = value("KUBERNETES_SERVICE_HOST")?;
    let port = value("KUBERNETES_SERVICE_PORT")?;
    let host = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host
    };
    Ok(format!("https://{host}:{port}"))
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
            Ok("https://api-int.example.com:6443")
        );
        let env = "KUBERNETES_SERVICE_HOST=\"h\"\nKUBERNETES_SERVICE_PORT=443";
        assert_eq!(apiserver_url(env).as_deref(), Ok("https://h:443"));
    }

    #[test]
    fn ipv6_hosts_get_brackets() {
        let env = "KUBERNETES_SERVICE_HOST='fd00::1'\nKUBERNETES_SERVICE_PORT='6443'\n";
        assert_eq!(apiserver_url(env).as_deref(), Ok("https://[fd00::1]:6443"));
    }

    #[test]
    fn a_missing_or_empty_host_or_port_is_named() {
        let port = "KUBERNETES_SERVICE_PORT";
        let host = "KUBERNETES_SERVICE_HOST";
        assert_eq!(apiserver_url("KUBERNETES_SERVICE_HOST='h'\n"), Err(port));
        assert_eq!(
            apiserver_url("KUBERNETES_SERVICE_HOST=''\nKUBERNETES_SERVICE_PORT='1'\n"),
            Err(host)
        );
        assert_eq!(apiserver_url(""), Err(host));
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
