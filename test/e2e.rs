//! End to end with real parts: the distribution registry (`docker-registry`) with htpasswd auth,
//! `skopeo` pulling with containers/image (the library inside CRI-O) from the auth file the
//! provider wrote, and a private `systemd-journald` reading the provider's log. Only the
//! Kubernetes API is the stand-in. Run with `make e2e` (root, Debian's packages; see `.ci/run`).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

/// Whether the real parts are here (`support::parts_present`).
fn parts_present(test: &str) -> bool {
    let tools = [
        "docker-registry",
        "skopeo",
        "htpasswd",
        "unshare",
        "journalctl",
        "tar",
        "mount",
    ];
    support::parts_present(test, true, &tools, &[JOURNALD])
}

const JOURNALD: &str = "/lib/systemd/systemd-journald";

/// A distribution registry on a free loopback port, storage and config in a temp dir, htpasswd
/// users. Stopped by PID when dropped.
struct Registry {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Registry {
    fn start(users: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut htpasswd = String::new();
        for (user, password) in users {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .unwrap();
            assert_exit_ok(&out, "htpasswd");
            htpasswd.push_str(String::from_utf8(out.stdout).unwrap().trim());
            htpasswd.push('\n');
        }
        std::fs::write(dir.path().join("htpasswd"), htpasswd).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: e2e\nauth:\n  htpasswd:\n    realm: e2e\n    path: {}\n",
            dir.path().join("storage").display(),
            dir.path().join("htpasswd").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(dir.path().join("config.yml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let registry = Registry { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "docker-registry did not listen on {port}:\n{}",
                registry.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        registry
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Pushes the test image to `repository` (`host/...`) as `user`.
    fn push(&self, image: &Path, repository: &str, user: &str, password: &str) {
        let out = Command::new("skopeo")
            .arg("--tmpdir")
            .arg(self.dir.path())
            .args([
                "--insecure-policy",
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
            ])
            .arg(format!("{user}:{password}"))
            .arg(format!("oci:{}:latest", image.display()))
            .arg(format!("docker://{repository}:latest"))
            .output()
            .unwrap();
        assert_exit_ok(&out, &format!("pushing to {repository}"));
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A one-layer OCI image layout, written from scratch.
fn oci_image(dir: &Path) -> PathBuf {
    let layout = dir.join("image");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    std::fs::create_dir_all(dir.join("rootfs")).unwrap();
    std::fs::write(dir.join("rootfs/hello.txt"), "hello from the mirror\n").unwrap();
    let tar = Command::new("tar")
        .arg("-cf")
        .arg(dir.join("layer.tar"))
        .arg("-C")
        .arg(dir.join("rootfs"))
        .arg("hello.txt")
        .status()
        .unwrap();
    assert!(tar.success());
    let blob = |content: &[u8]| -> (String, usize) {
        let digest = format!("{:x}", Sha256::digest(content));
        std::fs::write(blobs.join(&digest), content).unwrap();
        (format!("sha256:{digest}"), content.len())
    };
    let (layer, layer_size) = blob(&std::fs::read(dir.join("layer.tar")).unwrap());
    let config = json!({"architecture": "amd64", "os": "linux", "config": {},
                        "rootfs": {"type": "layers", "diff_ids": [layer]}});
    let (config, config_size) = blob(config.to_string().as_bytes());
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": layer_size}],
    });
    let (manifest, manifest_size) = blob(manifest.to_string().as_bytes());
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    std::fs::write(layout.join("index.json"), index.to_string()).unwrap();
    std::fs::write(
        layout.join("oci-layout"),
        r#"{"imageLayoutVersion":"1.0.0"}"#,
    )
    .unwrap();
    layout
}

/// `skopeo --registries-conf <node's> <args>` with `authfile`, as CRI-O would pull.
fn skopeo(node: &Node, authfile: &Path, args: &[&str]) -> Output {
    let mut command = Command::new("skopeo");
    command
        .arg("--registries-conf")
        .arg(node.path("registries.conf"));
    command
        .args(["--insecure-policy", args[0], "--authfile"])
        .arg(authfile);
    command
        .args(&args[1..])
        .arg("--tmpdir")
        .arg(node.dir.path());
    command.output().unwrap()
}

fn inspect(node: &Node, authfile: &Path, image: &str) -> Output {
    skopeo(
        node,
        authfile,
        &["inspect", "--no-tags", &format!("docker://{image}:latest")],
    )
}

fn assert_pulled(output: &Output, what: &str) {
    assert_exit_ok(output, &format!("{what}: expected the pull to succeed"));
}

fn assert_refused(output: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "{what}: expected the registry to refuse the pull, it succeeded"
    );
    assert!(
        stderr.contains("unauthorized") || stderr.contains("authentication required"),
        "{what}: expected a 401, got:\n{stderr}"
    );
}

/// A node whose registries.conf mirrors docker.io to the registry (path `mirror_path`), with
/// `team-a`'s pull secret for the mirror, and the image pushed there.
fn mirrored_node(registry: &Registry, mirror_path: &str) -> Node {
    let node = Node::new();
    let mirror = format!("{}/{mirror_path}", registry.host());
    node.write_registries_conf(&format!(
        "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"{mirror}\"\ninsecure = true\n"
    ));
    node.api.add_pull_secret(
        "team-a",
        "mirror-pull",
        &docker_config_json(&[(&mirror, "alice", "pw-a")]),
    );
    registry.push(
        &oci_image(node.dir.path()),
        &format!("{mirror}/library/demo"),
        "alice",
        "pw-a",
    );
    node
}

fn provide(node: &Node, namespace: &str, image: &str) -> PathBuf {
    let run = node.run(&request(image, namespace), &[]);
    assert!(
        run.status.success(),
        "provider run for {namespace}: {}",
        run.stderr
    );
    let path = node.auth_dir().join(auth_file_name(namespace, image));
    assert!(
        path.exists(),
        "expected the provider to write {}: {}",
        path.display(),
        run.stderr
    );
    path
}

const IMAGE: &str = "docker.io/library/demo";

#[test]
#[ignore = "end to end: run with make e2e"]
fn mirror_pull_works_with_only_the_auth_file() {
    if !parts_present("mirror_pull_works_with_only_the_auth_file") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a")]);
    let node = mirrored_node(&registry, "mirror");
    let auth_file = provide(&node, "team-a", IMAGE);
    assert_pulled(
        &inspect(&node, &auth_file, IMAGE),
        "skopeo inspect through the mirror",
    );
    let copy_to = format!("oci:{}:pulled", node.path("pulled").display());
    let copy = skopeo(
        &node,
        &auth_file,
        &["copy", &format!("docker://{IMAGE}:latest"), &copy_to],
    );
    assert_pulled(&copy, "skopeo copy through the mirror");
    assert!(
        registry.log().contains("auth.user.name=alice"),
        "expected the registry log to show a request authorized as alice:\n{}",
        registry.log()
    );
}

/// A pull as CRI-O makes it from the credential kubelet hands it (cri-o release-1.34
/// `server/image_pull.go`, `PullImage`): a credential with a username goes to every registry
/// and the namespace's auth file is not read; without a username it is no credential, and the
/// pull reads the auth file.
fn crio_pull(node: &Node, credential: &AuthConfig, auth_file: &Path, image: &str) -> Output {
    if credential.username.is_empty() {
        return inspect(node, auth_file, image);
    }
    let creds = format!("{}:{}", credential.username, credential.password);
    skopeo(
        node,
        Path::new("/dev/null"),
        &[
            "inspect",
            "--no-tags",
            "--creds",
            &creds,
            &format!("docker://{image}:latest"),
        ],
    )
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn the_responses_empty_credential_makes_the_pull_use_the_auth_file() {
    if !parts_present("the_responses_empty_credential_makes_the_pull_use_the_auth_file") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a")]);
    let node = mirrored_node(&registry, "mirror");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    let response = kubelet_response(&run);
    let credential = response.auth.get(IMAGE).expect("an entry for the image");
    let auth_file = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    assert_pulled(
        &crio_pull(&node, credential, &auth_file, IMAGE),
        "a pull with the response's credential, as CRI-O makes it",
    );
    assert!(
        registry.log().contains("auth.user.name=alice"),
        "{}",
        registry.log()
    );
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn service_account_mode_pulls_under_a_get_only_role_and_revocation_withdraws_the_file() {
    if !parts_present(
        "service_account_mode_pulls_under_a_get_only_role_and_revocation_withdraws_the_file",
    ) {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a")]);
    let node = mirrored_node(&registry, "mirror");
    node.api.revoke("team-a", "default");
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    let args = ["--secrets-from", "service-account"];
    let run = node.run(&request(IMAGE, "team-a"), &args);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(node.api.requests().iter().all(|r| r.verb == "get"));
    let auth_file = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    assert_pulled(
        &inspect(&node, &auth_file, IMAGE),
        "skopeo inspect with the service account's pull secret",
    );

    // The Role is taken away before CRI-O consumed the file: the next run must not leave it.
    node.api.revoke("team-a", "default");
    let run = node.run(&request(IMAGE, "team-a"), &args);
    assert!(!run.status.success(), "{}", run.stderr);
    assert!(!auth_file.exists(), "{}", run.stderr);
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn without_the_file_or_with_a_docker_io_key_the_registry_refuses() {
    if !parts_present("without_the_file_or_with_a_docker_io_key_the_registry_refuses") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a")]);
    let node = mirrored_node(&registry, "mirror");
    let empty = node.path("empty.json");
    std::fs::write(&empty, r#"{"auths":{}}"#).unwrap();
    assert_refused(&inspect(&node, &empty, IMAGE), "no credentials");
    // What the Go implementation would write for a pull secret keyed by the source registry.
    let source_keyed = node.path("docker-io.json");
    std::fs::write(
        &source_keyed,
        json!({"auths": {"docker.io": {"auth": basic_auth("alice", "pw-a")}}}).to_string(),
    )
    .unwrap();
    assert_refused(
        &inspect(&node, &source_keyed, IMAGE),
        "credentials keyed by docker.io",
    );
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn path_scoped_mirrors_give_each_namespace_its_own_credentials() {
    if !parts_present("path_scoped_mirrors_give_each_namespace_its_own_credentials") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a"), ("bob", "pw-b")]);
    let node = Node::new();
    let (team_a, team_b) = (
        format!("{}/team-a", registry.host()),
        format!("{}/team-b", registry.host()),
    );
    node.write_registries_conf(&format!(
        "[[registry]]\nprefix = \"docker.io/team-a\"\nlocation = \"docker.io/team-a\"\n\
         [[registry.mirror]]\nlocation = \"{team_a}\"\ninsecure = true\n\
         [[registry]]\nprefix = \"docker.io/team-b\"\nlocation = \"docker.io/team-b\"\n\
         [[registry.mirror]]\nlocation = \"{team_b}\"\ninsecure = true\n"
    ));
    node.api
        .allow_token(&service_account_token("team-b"), "team-b");
    node.api.add_pull_secret(
        "team-a",
        "pull",
        &docker_config_json(&[(&team_a, "alice", "pw-a")]),
    );
    node.api.add_pull_secret(
        "team-b",
        "pull",
        &docker_config_json(&[(&team_b, "bob", "pw-b")]),
    );
    let image = oci_image(node.dir.path());
    registry.push(&image, &format!("{team_a}/app"), "alice", "pw-a");
    registry.push(&image, &format!("{team_b}/app"), "bob", "pw-b");

    let file_a = provide(&node, "team-a", "docker.io/team-a/app");
    let file_b = provide(&node, "team-b", "docker.io/team-b/app");
    let auths = |path: &Path| -> Value {
        serde_json::from_slice::<Value>(&std::fs::read(path).unwrap()).unwrap()["auths"].clone()
    };
    assert_eq!(
        auths(&file_a),
        json!({format!("{team_a}/app"): {"auth": basic_auth("alice", "pw-a")}})
    );
    assert_eq!(
        auths(&file_b),
        json!({format!("{team_b}/app"): {"auth": basic_auth("bob", "pw-b")}})
    );
    assert_pulled(
        &inspect(&node, &file_a, "docker.io/team-a/app"),
        "team-a's file for team-a's image",
    );
    assert_pulled(
        &inspect(&node, &file_b, "docker.io/team-b/app"),
        "team-b's file for team-b's image",
    );
    assert_refused(
        &inspect(&node, &file_b, "docker.io/team-a/app"),
        "team-b's file for team-a's image",
    );
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn global_pull_secret_entries_still_serve_their_registries() {
    if !parts_present("global_pull_secret_entries_still_serve_their_registries") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a"), ("bob", "pw-b")]);
    let node = mirrored_node(&registry, "mirror");
    // The same registry under another name stands for another registry of the node's pull secret.
    let other = format!("localhost:{}", registry.port);
    registry.push(
        &oci_image(node.dir.path()),
        &format!("{other}/platform/base"),
        "bob",
        "pw-b",
    );
    std::fs::write(
        node.path("config.json"),
        json!({"auths": {other.clone(): {"auth": basic_auth("bob", "pw-b")}}}).to_string(),
    )
    .unwrap();
    let auth_file = provide(&node, "team-a", IMAGE);
    assert_pulled(
        &inspect(&node, &auth_file, IMAGE),
        "the mirror, with the namespace's credentials",
    );
    let direct = skopeo(
        &node,
        &auth_file,
        &[
            "inspect",
            "--no-tags",
            "--tls-verify=false",
            &format!("docker://{other}/platform/base:latest"),
        ],
    );
    assert_pulled(
        &direct,
        "the other registry, with the global pull secret's credentials",
    );
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn crio_consumption_replayed_then_a_fresh_file_for_the_next_pull() {
    if !parts_present("crio_consumption_replayed_then_a_fresh_file_for_the_next_pull") {
        return;
    }
    let registry = Registry::start(&[("alice", "pw-a")]);
    let node = mirrored_node(&registry, "mirror");
    let auth_file = provide(&node, "team-a", IMAGE);
    let first = std::fs::read(&auth_file).unwrap();
    // CRI-O: rename into in-use/ (0700), pull with it, delete it whatever happened.
    let in_use_dir = node.auth_dir().join("in-use");
    std::fs::create_dir(&in_use_dir).unwrap();
    std::fs::set_permissions(
        &in_use_dir,
        std::os::unix::fs::PermissionsExt::from_mode(0o700),
    )
    .unwrap();
    let stem = auth_file.file_stem().unwrap().to_str().unwrap();
    let in_use = in_use_dir.join(format!("{stem}-2f1c9a4e-3d5b-4b8e-9c1a-7e6f5d4c3b2a.json"));
    std::fs::rename(&auth_file, &in_use).unwrap();
    assert_pulled(
        &inspect(&node, &in_use, IMAGE),
        "the pull with the in-use file",
    );
    std::fs::remove_file(&in_use).unwrap();
    assert!(!auth_file.exists());

    let again = provide(&node, "team-a", IMAGE);
    assert_eq!(
        std::fs::read(&again).unwrap(),
        first,
        "the next pull gets the same credentials afresh"
    );
    assert_pulled(&inspect(&node, &again, IMAGE), "the second pull");
    assert_eq!(
        std::fs::read_dir(&in_use_dir).unwrap().count(),
        0,
        "the provider never writes into in-use/"
    );
}

/// Runs `script` in a private mount namespace where a fresh systemd-journald owns
/// /run/systemd/journal; `$PROVIDER` runs the binary with the node's flags and `$REQUEST` as stdin.
/// Returns the journal as `journalctl -o json` lines and the script's stderr.
fn with_private_journald(node: &Node, request_json: &str, script: &str) -> (Vec<Value>, String) {
    std::fs::write(node.path("request.json"), request_json).unwrap();
    let provider = format!(
        "{BINARY} {} < {}",
        node.args().join(" "),
        node.path("request.json").display()
    );
    let setup = format!(
        "set -u\n\
         mount -t tmpfs tmpfs /run/systemd/journal 2>/dev/null || {{ mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal; }}\n\
         mkdir -p /run/log/journal && mount -t tmpfs tmpfs /run/log/journal\n\
         {JOURNALD} >/dev/null 2>&1 & journald=$!\n\
         for _ in $(seq 100); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done\n\
         PROVIDER='{provider}'\n\
         {script}\n\
         journalctl --sync >/dev/null 2>&1 || sleep 0.5\n\
         journalctl -o json --no-pager > {journal}\n\
         kill $journald; wait $journald 2>/dev/null\n",
        journal = node.path("journal.json").display()
    );
    let output = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &setup])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let journal = std::fs::read_to_string(node.path("journal.json")).unwrap_or_default();
    let entries = journal
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    (entries, stderr)
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn journald_gets_structured_entries_and_no_secret() {
    if !parts_present("journald_gets_structured_entries_and_no_secret") {
        return;
    }
    let node = Node::with_mirror_secret("alice", "pw-journal-secret");
    let broken = Node::new(); // its API server denies everything: an error run
    broken.api.force_status(403);
    let failing = format!(
        "{BINARY} {} < {}",
        broken.args().join(" "),
        node.path("request.json").display()
    );
    let (entries, stderr) = with_private_journald(
        &node,
        &request("docker.io/library/nginx", "team-a"),
        &format!("eval \"$PROVIDER\" >/dev/null; {failing} >/dev/null || true"),
    );
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| e["SYSLOG_IDENTIFIER"] == "crio-credential-provider")
        .collect();
    assert!(
        !ours.is_empty(),
        "expected entries with SYSLOG_IDENTIFIER=crio-credential-provider; stderr:\n{stderr}"
    );
    assert!(
        ours.iter().all(|e| e["_COMM"] == "crio-credential"),
        "expected _COMM=crio-credential: {ours:?}"
    );
    let auth_file = node
        .auth_dir()
        .join(auth_file_name("team-a", "docker.io/library/nginx"));
    let wrote = ours
        .iter()
        .find(|e| {
            e["MESSAGE"]
                == format!(
                    "Wrote auth file to {} with 1 number of entries",
                    auth_file.display()
                )
        })
        .unwrap_or_else(|| panic!("expected the 'Wrote auth file to' entry: {ours:?}"));
    assert_eq!(wrote["NAMESPACE"], "team-a");
    assert_eq!(wrote["IMAGE"], "docker.io/library/nginx");
    assert_eq!(wrote["AUTH_FILE"], auth_file.display().to_string());
    assert_eq!(wrote["PRIORITY"], "6");
    let error = ours
        .iter()
        .find(|e| e["PRIORITY"] == "3")
        .unwrap_or_else(|| panic!("expected an error-priority entry: {ours:?}"));
    assert!(
        error["MESSAGE"].as_str().unwrap().contains("HTTP 403"),
        "{error}"
    );
    let journal = serde_json::to_string(&entries).unwrap();
    let token = service_account_token("team-a");
    for secret in [
        "pw-journal-secret",
        &basic_auth("alice", "pw-journal-secret"),
        &token,
        token.split('.').nth(1).unwrap(),
    ] {
        assert!(
            !journal.contains(secret),
            "the journal holds a secret ({secret:?})"
        );
    }
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn without_journald_the_run_logs_to_stderr() {
    if !parts_present("without_journald_the_run_logs_to_stderr") {
        return;
    }
    let node = Node::with_mirror_secret("alice", "pw");
    std::fs::write(
        node.path("request.json"),
        request("docker.io/library/nginx", "team-a"),
    )
    .unwrap();
    let provider = format!(
        "{BINARY} {} < {}",
        node.args().join(" "),
        node.path("request.json").display()
    );
    for (case, setup) in [
        ("no socket", "true"),
        (
            "a dead socket file",
            "python3 -c 'import socket; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.bind(\"/run/systemd/journal/socket\")'",
        ),
    ] {
        let script = format!(
            "mkdir -p /run/systemd/journal && mount -t tmpfs tmpfs /run/systemd/journal && {setup} && {provider}"
        );
        let output = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .output()
            .unwrap();
        assert_exit_ok(&output, case);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("Wrote auth file to"),
            "{case}: expected the log on stderr, got {stderr}"
        );
    }
}

#[test]
#[ignore = "end to end: run with make e2e"]
fn journald_gets_the_error_fields_and_usage_errors_with_priority_3() {
    if !parts_present("journald_gets_the_error_fields_and_usage_errors_with_priority_3") {
        return;
    }
    let node = Node::new();
    node.api.force_status(500);
    let (entries, stderr) = with_private_journald(
        &node,
        &request("docker.io/library/nginx", "team-a"),
        &format!(
            "eval \"$PROVIDER\" >/dev/null || true; {BINARY} --no-such-flag </dev/null || true"
        ),
    );
    let ours: Vec<&Value> = entries
        .iter()
        .filter(|e| e["SYSLOG_IDENTIFIER"] == "crio-credential-provider")
        .collect();
    let error = ours
        .iter()
        .find(|e| e["PRIORITY"] == "3" && e["MESSAGE"].as_str().unwrap().contains("HTTP 500"))
        .unwrap_or_else(|| panic!("expected the run's error entry: {ours:?}\n{stderr}"));
    assert_eq!(error["IMAGE"], "docker.io/library/nginx", "{error}");
    assert_eq!(error["NAMESPACE"], "team-a", "{error}");
    let usage = ours
        .iter()
        .find(|e| {
            e["MESSAGE"] == "crio-credential-provider: unexpected argument '--no-such-flag' found"
        })
        .unwrap_or_else(|| panic!("expected the usage error entry: {ours:?}\n{stderr}"));
    assert_eq!(usage["PRIORITY"], "3", "{usage}");
    assert_eq!(usage["_COMM"], "crio-credential", "{usage}");
    assert!(
        stderr.contains("crio-credential-provider: unexpected argument '--no-such-flag' found"),
        "the usage error still goes to stderr: {stderr}"
    );
}
