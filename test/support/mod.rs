//! A node in a temp dir (registries.conf, auth dir, global pull secret, CA) beside a stand-in API
//! server, and a way to run the built binary against them as kubelet does.

#![allow(dead_code)] // Each test binary uses its own part of the support code.

pub mod apiserver;
pub mod packaging;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Output, Stdio};

pub use apiserver::{FakeApiServer, docker_config_json, service_account_token};
use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_crio-credential-provider");

/// A mirror of docker.io on a port nothing listens on: the provider never contacts registries.
pub const MIRROR: &str = "mirror.local:5000";

/// The password of `node_with_mirror_secret`'s user `alice`: tests look for it in what must not
/// show it.
pub const ALICE_PASSWORD: &str = "s3cret-pw";

/// `Node::with_mirror_secret` for `alice`.
pub fn node_with_mirror_secret() -> Node {
    Node::with_mirror_secret("alice", ALICE_PASSWORD)
}

pub struct Node {
    pub dir: tempfile::TempDir,
    pub api: FakeApiServer,
}

pub struct Run {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Node {
    /// docker.io mirrored to `MIRROR`, namespace `team-a` allowed to list its secrets.
    pub fn new() -> Self {
        Node::serving(FakeApiServer::start())
    }

    /// `new`, with `api` as its API server.
    pub fn serving(api: FakeApiServer) -> Self {
        let node = Node {
            dir: tempfile::tempdir().unwrap(),
            api,
        };
        node.write_registries_conf(&format!(
            "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{MIRROR}\"\n"
        ));
        std::fs::create_dir(node.path("registries.conf.d")).unwrap();
        std::fs::create_dir(node.path("kubernetes")).unwrap();
        std::fs::write(node.path("ca.crt"), &node.api.ca_pem).unwrap();
        node.api
            .allow_token(&service_account_token("team-a"), "team-a");
        node
    }

    /// `new`, plus a pull secret in `team-a` for `MIRROR` with `user` and `password`.
    pub fn with_mirror_secret(user: &str, password: &str) -> Self {
        Node::serving_with_mirror_secret(FakeApiServer::start(), user, password)
    }

    /// `with_mirror_secret`, with `api` as its API server.
    pub fn serving_with_mirror_secret(api: FakeApiServer, user: &str, password: &str) -> Self {
        let node = Node::serving(api);
        let config = docker_config_json(&[(MIRROR, user, password)]);
        node.api.add_pull_secret("team-a", "mirror-pull", &config);
        node
    }

    /// Binds to `default` in `team-a` the minimal Role of `--secrets-from service-account`: `get`
    /// on the service account and on the named secrets.
    pub fn grant_service_account_role(&self, secrets: &[&str]) {
        self.api.grant(
            "team-a",
            "default",
            &["get"],
            "serviceaccounts",
            &["default"],
        );
        self.api
            .grant("team-a", "default", &["get"], "secrets", secrets);
    }

    /// The node's configuration file (`--config`), which a test writes to set keys.
    pub fn configuration(&self) -> PathBuf {
        self.path("crio-credential-provider.conf")
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn auth_dir(&self) -> PathBuf {
        self.path("auth")
    }

    pub fn write_registries_conf(&self, text: &str) {
        std::fs::write(self.path("registries.conf"), text).unwrap();
    }

    /// The flags that point the binary at this node, API server and CA included.
    pub fn args(&self) -> Vec<String> {
        let mut args = self.local_args();
        args.extend(["--api-server".into(), self.api.url.clone()]);
        args.extend([
            "--ca-file".into(),
            self.path("ca.crt").display().to_string(),
        ]);
        args
    }

    /// The flags for this node's files only; the API server and CA are found as on a real node.
    /// The configuration file is the node's too (`configuration`; absent until a test writes it).
    pub fn local_args(&self) -> Vec<String> {
        [
            ("--config", "crio-credential-provider.conf"),
            ("--registries-conf", "registries.conf"),
            ("--registries-conf-dir", "registries.conf.d"),
            ("--auth-dir", "auth"),
            ("--global-auth-file", "config.json"),
            ("--kube-config-dir", "kubernetes"),
        ]
        .into_iter()
        .flat_map(|(flag, name)| [flag.to_string(), self.path(name).display().to_string()])
        .collect()
    }

    /// Runs the binary with `stdin` as kubelet would, with this node's flags and `extra` ones.
    pub fn run(&self, stdin: &str, extra: &[&str]) -> Run {
        let mut args = self.args();
        args.extend(extra.iter().map(|a| a.to_string()));
        run_binary(&args, stdin)
    }

    /// The auth file written for `image` in `namespace`, parsed.
    pub fn auth_file(&self, namespace: &str, image: &str) -> Option<Value> {
        let text = std::fs::read(self.auth_dir().join(auth_file_name(namespace, image))).ok()?;
        Some(serde_json::from_slice(&text).expect("the auth file is valid JSON"))
    }

    /// The `auth` of `MIRROR`'s entry in the auth file written for `image`, a docker.io image,
    /// in `namespace`.
    pub fn mirror_auth(&self, namespace: &str, image: &str) -> Option<String> {
        let file = self.auth_file(namespace, image)?;
        let repository = image.strip_prefix("docker.io/").expect("a docker.io image");
        let auth = file["auths"][format!("{MIRROR}/{repository}")]["auth"].as_str()?;
        Some(auth.to_string())
    }

    /// Every name in the auth dir (empty when it does not exist).
    pub fn auth_dir_entries(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.auth_dir()) else {
            return vec![];
        };
        let mut names: Vec<String> = entries
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }
}

/// Starts the binary with `args`, writes `stdin` to it and closes it.
pub fn spawn_binary(args: &[String], stdin: &str) -> std::process::Child {
    spawn_binary_with_env(args, &[], stdin)
}

/// `spawn_binary`, with these environment variables set besides the test's own.
pub fn spawn_binary_with_env(
    args: &[String],
    env: &[(&str, &Path)],
    stdin: &str,
) -> std::process::Child {
    let mut child = Command::new(BINARY)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A run may refuse its input before reading it all; that is not the test's concern.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child
}

pub fn run_binary(args: &[String], stdin: &str) -> Run {
    let output = spawn_binary(args, stdin).wait_with_output().unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// A v1 CredentialProviderRequest for `image` from a pod in `namespace`.
pub fn request(image: &str, namespace: &str) -> String {
    request_with_token(image, &service_account_token(namespace))
}

/// A v1 CredentialProviderRequest for `image` with `token`.
pub fn request_with_token(image: &str, token: &str) -> String {
    serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": image,
        "serviceAccountToken": token,
        "serviceAccountAnnotations": {"example.com/a": "b"},
    })
    .to_string()
}

/// `<namespace>-<sha256hex(image)>.json`, computed independently of the binary (`sha256sum`).
pub fn auth_file_name(namespace: &str, image: &str) -> String {
    let mut child = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(image.as_bytes())
        .unwrap();
    let output = String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap();
    format!("{namespace}-{}.json", &output[..64])
}

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether the real parts a test needs are here: root (when `needs_root`), each tool on the PATH
/// and each file. Outside CI a missing part skips the test loudly; in CI (`.ci/run` installs them
/// all) it fails the test.
pub fn parts_present(test: &str, needs_root: bool, tools: &[&str], files: &[&str]) -> bool {
    let mut missing = Vec::new();
    if needs_root && !is_root() {
        missing.push("root".to_string());
    }
    for tool in tools {
        let found = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            missing.push(tool.to_string());
        }
    }
    missing.extend(
        files
            .iter()
            .filter(|file| !Path::new(file).exists())
            .map(|file| file.to_string()),
    );
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{test}: missing {} (.ci/run installs them)",
        missing.join(", ")
    );
    assert!(std::env::var_os("CI").is_none(), "{message}");
    eprintln!("\n*** SKIPPED {message} ***\n");
    false
}

pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

/// base64 of `user:password`, as containers/image expects the `auth` field.
pub fn basic_auth(user: &str, password: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

/// The response a run printed, parsed.
pub fn response(run: &Run) -> Value {
    serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not a response ({e}): {:?}\nstderr: {}",
            run.stdout, run.stderr
        )
    })
}

/// A process that exited 0; otherwise the failure names `what` and shows the exit status, stderr,
/// and stdout when there is any (shellcheck and ignition-validate report there).
pub fn assert_exit_ok(output: &Output, what: &str) {
    let stdout = if output.stdout.is_empty() {
        String::new()
    } else {
        format!("\nstdout:\n{}", String::from_utf8_lossy(&output.stdout))
    };
    assert!(
        output.status.success(),
        "{what}: {}\nstderr:\n{}{stdout}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A `CredentialProviderResponse` as kubelet decodes it (k8s.io/kubelet
/// `pkg/apis/credentialprovider/v1`, through the strict decoder of
/// `pkg/credentialprovider/plugin/plugin.go`): a field it does not know fails the decoding.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct KubeletResponse {
    pub kind: String,
    pub api_version: String,
    pub cache_key_type: String,
    pub cache_duration: Option<String>,
    #[serde(default)]
    pub auth: std::collections::BTreeMap<String, AuthConfig>,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(default)]
    pub username: String,
    #[serde(default)]
    pub password: String,
}

/// The response a run printed, decoded as kubelet decodes it, with what kubelet checks besides.
pub fn kubelet_response(run: &Run) -> KubeletResponse {
    let response: KubeletResponse = serde_json::from_str(run.stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "kubelet cannot decode the response ({e}): {:?}\nstderr: {}",
            run.stdout, run.stderr
        )
    });
    assert_eq!(response.kind, "CredentialProviderResponse");
    assert_eq!(response.api_version, "credentialprovider.kubelet.k8s.io/v1");
    assert_eq!(response.cache_key_type, "Registry");
    assert_eq!(response.cache_duration.as_deref(), Some("0s"));
    response
}

/// A run that succeeded, with a response kubelet accepts: no credential at all, or one empty one
/// (a file was written: `--scope-pulled-images`).
pub fn assert_success(run: &Run) {
    assert!(
        run.status.success(),
        "expected success, got {:?}\nstderr: {}",
        run.status,
        run.stderr
    );
    let response = kubelet_response(run);
    assert!(response.auth.len() <= 1, "{response:?}");
    for credential in response.auth.values() {
        assert_eq!(
            credential,
            &AuthConfig {
                username: String::new(),
                password: String::new()
            }
        );
    }
}

/// A failed run: non-zero exit, nothing on stdout, one error line on stderr containing `needle`.
pub fn assert_failure(run: &Run, needle: &str) {
    assert!(
        !run.status.success(),
        "expected failure, got success\nstderr: {}",
        run.stderr
    );
    assert_eq!(run.stdout, "", "a failed run prints no response");
    let errors: Vec<&str> = run.stderr.lines().filter(|l| l.contains("ERROR")).collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{}", run.stderr);
    assert!(
        errors[0].contains(needle),
        "error should mention {needle:?}: {}",
        errors[0]
    );
}
