//! The built binary in kubelet mode, against the stand-in API server: what it writes, what it
//! answers, and how it fails.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::apiserver;
use support::*;

const IMAGE: &str = "docker.io/library/nginx";

#[test]
fn writes_the_namespace_credentials_for_the_mirror() {
    let node = node_with_mirror_secret();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    let file = node.auth_file("team-a", IMAGE).expect("auth file written");
    assert_eq!(
        file,
        json!({"auths": {format!("{MIRROR}/library/nginx"): {"auth": basic_auth("alice", ALICE_PASSWORD)}}})
    );
    let path = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    assert_eq!(mode(&path), 0o600);
    assert!(
        run.stderr.contains(&format!(
            "Wrote auth file to {} with 1 number of entries",
            path.display()
        )),
        "{}",
        run.stderr
    );
    assert_eq!(
        node.auth_dir_entries(),
        [auth_file_name("team-a", IMAGE)],
        "no temp file is left"
    );
}

#[test]
fn lists_both_pull_secret_types_with_a_field_selector() {
    let node = node_with_mirror_secret();
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    let mut selectors: Vec<String> = node
        .api
        .requests()
        .into_iter()
        .map(|r| r.field_selector.unwrap_or_default())
        .collect();
    selectors.sort();
    assert_eq!(
        selectors,
        [
            "type=kubernetes.io/dockercfg",
            "type=kubernetes.io/dockerconfigjson"
        ]
    );
    assert!(
        node.api
            .requests()
            .iter()
            .all(|r| r.path == "/api/v1/namespaces/team-a/secrets" && r.status == 200)
    );
}

#[test]
fn secrets_of_other_types_are_not_used() {
    let node = Node::new();
    let config = docker_config_json(&[(MIRROR, "opaque", "pw")]);
    node.api.add_secret(
        "team-a",
        "not-a-pull-secret",
        "Opaque",
        ".dockerconfigjson",
        &config,
    );
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    assert_eq!(node.auth_file("team-a", IMAGE), None);
}

#[test]
fn missing_registries_conf_answers_without_doing_anything() {
    let node = node_with_mirror_secret();
    std::fs::remove_file(node.path("registries.conf")).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    assert!(node.api.requests().is_empty());
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn pod_without_service_account_token_gets_no_file() {
    let node = node_with_mirror_secret();
    let run = node.run(&json!({"image": IMAGE}).to_string(), &[]);
    assert_success(&run);
    assert!(
        run.stderr.contains("No service account token"),
        "{}",
        run.stderr
    );
    assert!(node.api.requests().is_empty());
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn image_without_mirrors_makes_no_api_call() {
    let node = node_with_mirror_secret();
    let run = node.run(&request("quay.io/team/app", "team-a"), &[]);
    assert_success(&run);
    assert!(
        run.stderr
            .contains("No mirrors found for image quay.io/team/app"),
        "{}",
        run.stderr
    );
    assert!(node.api.requests().is_empty());
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn no_matching_secret_writes_no_file() {
    let node = Node::new();
    node.api.add_pull_secret(
        "team-a",
        "other",
        &docker_config_json(&[("quay.io", "u", "p")]),
    );
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(
        run.stderr
            .contains("No pull secret in namespace team-a matches"),
        "{}",
        run.stderr
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn global_pull_secret_is_merged_and_namespace_entries_win() {
    let node = node_with_mirror_secret();
    let mirror_key = format!("{MIRROR}/library/nginx");
    let global = json!({"auths": {
        "registry.example.com": {"auth": basic_auth("global", "g")},
        mirror_key.clone(): {"auth": basic_auth("global", "loses")},
    }});
    std::fs::write(node.path("config.json"), global.to_string()).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert_eq!(
        node.auth_file("team-a", IMAGE).unwrap(),
        json!({"auths": {
            "registry.example.com": {"auth": basic_auth("global", "g")},
            mirror_key: {"auth": basic_auth("alice", ALICE_PASSWORD)},
        }})
    );
    assert!(
        run.stderr.contains("with 2 number of entries"),
        "{}",
        run.stderr
    );
}

#[test]
fn cache_duration_is_zero_unless_configured() {
    let node = node_with_mirror_secret();
    let run = node.run(&request(IMAGE, "team-a"), &["--cache-duration", "5m"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(response(&run)["cacheDuration"], "5m");
}

#[test]
fn unknown_token_is_reported_with_the_servers_401() {
    let node = node_with_mirror_secret();
    // The server knows team-a's token only.
    let run = node.run(&request(IMAGE, "team-b"), &[]);
    assert_failure(&run, "HTTP 401");
    assert!(run.stderr.contains(&node.api.url), "{}", run.stderr);
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn api_errors_name_the_status_and_url() {
    for code in [403, 404, 500] {
        let node = node_with_mirror_secret();
        node.api.force_status(code);
        let run = node.run(&request(IMAGE, "team-a"), &[]);
        assert_failure(&run, &format!("HTTP {code}"));
        assert!(
            run.stderr
                .contains(&format!("in namespace team-a at {}", node.api.url)),
            "{}",
            run.stderr
        );
        assert!(
            node.auth_dir_entries().is_empty(),
            "no file after HTTP {code}"
        );
    }
}

#[test]
fn token_of_another_namespace_is_forbidden_by_the_server() {
    let node = node_with_mirror_secret();
    // A token whose claim says team-a, but which the server knows as team-b's.
    node.api
        .allow_token(&service_account_token("team-a"), "team-b");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(&run, "HTTP 403");
}

#[test]
fn slow_server_hits_the_timeout() {
    let node = node_with_mirror_secret();
    node.api.delay(Duration::from_secs(10));
    let started = Instant::now();
    let run = node.run(&request(IMAGE, "team-a"), &["--api-timeout", "1s"]);
    assert_failure(&run, "reading pull secrets in namespace team-a");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the deadline was not kept"
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn server_with_a_certificate_from_another_ca_is_refused() {
    let node = node_with_mirror_secret();
    let other = FakeApiServer::start();
    // The node's --ca-file now names another CA.
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(&run, "in namespace team-a at");
    assert!(
        node.api.requests().is_empty(),
        "no request may reach an unverified server"
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn a_ca_of_the_systems_trust_store_does_not_vouch_for_the_api_server() {
    let node = node_with_mirror_secret();
    let other = FakeApiServer::start();
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    // The server's own CA is all the system trusts (OpenSSL reads these variables for its
    // default verify paths); only the configured CA may vouch for the server.
    let system_ca = node.path("system-ca.pem");
    std::fs::write(&system_ca, &node.api.ca_pem).unwrap();
    let certs = node.path(".");
    let env = [
        ("SSL_CERT_FILE", system_ca.as_path()),
        ("SSL_CERT_DIR", &certs),
    ];
    let child = spawn_binary_with_env(&node.args(), &env, &request(IMAGE, "team-a"));
    let output = child.wait_with_output().unwrap();
    assert!(!output.status.success(), "{output:?}");
    assert!(
        node.api.requests().is_empty(),
        "the token went to a server the configured CA does not vouch for"
    );
}

/// A node whose API server is `api`, with the mirror's secret for alice.
fn node_with_mirror_secret_on(api: FakeApiServer) -> Node {
    Node::serving_with_mirror_secret(api, "alice", ALICE_PASSWORD)
}

#[test]
fn a_server_whose_certificate_does_not_name_the_urls_address_is_refused() {
    // The certificate names localhost, 127.0.0.1 and ::1; this server answers on 127.0.0.2.
    let node = node_with_mirror_secret_on(FakeApiServer::start_on("127.0.0.2:0"));
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(&run, "in namespace team-a at https://127.0.0.2:");
    assert!(
        node.api.requests().is_empty(),
        "the token went to a server whose certificate is not for its address"
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn a_ca_file_holding_only_the_intermediate_that_signed_the_server_vouches_for_it() {
    // As Go's and rustls's roots: any certificate of the bundle is an anchor, self-signed or not.
    let node = node_with_mirror_secret_on(FakeApiServer::start_behind_intermediate());
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(
        node.mirror_auth("team-a", IMAGE).is_some(),
        "{}",
        run.stderr
    );
}

#[test]
fn a_server_is_verified_by_the_host_name_or_ipv6_address_of_its_url() {
    let by_name = node_with_mirror_secret();
    let url = by_name.api.url.replace("127.0.0.1", "localhost");
    let by_ipv6 = node_with_mirror_secret_on(FakeApiServer::start_on("[::1]:0"));
    for (node, url) in [(&by_name, url), (&by_ipv6, by_ipv6.api.url.clone())] {
        let mut args = node.local_args();
        let ca = node.path("ca.crt").display().to_string();
        args.extend(["--api-server".into(), url.clone(), "--ca-file".into(), ca]);
        let run = run_binary(&args, &request(IMAGE, "team-a"));
        assert_success(&run);
        assert!(
            node.mirror_auth("team-a", IMAGE).is_some(),
            "{url}: {}",
            run.stderr
        );
    }
}

/// The OpenSSL build loads libssl only to talk to the API server: with libssl unreadable, a run
/// for an image without mirrors still answers, and a mirror run ends in one line naming it.
#[cfg(feature = "openssl")]
#[test]
fn without_libssl_only_a_run_that_calls_the_api_fails_and_names_it() {
    let ldconfig = std::process::Command::new("/sbin/ldconfig")
        .arg("-p")
        .output()
        .unwrap();
    let listing = String::from_utf8(ldconfig.stdout).unwrap();
    let libssl = listing
        .lines()
        .find(|l| l.trim_start().starts_with("libssl.so.3 "))
        .and_then(|l| l.split(" => ").nth(1))
        .expect("ldconfig lists libssl.so.3");
    let libssl = std::fs::canonicalize(libssl).unwrap();
    let node = node_with_mirror_secret();
    // In a mount namespace of its own, libssl reads as an empty file.
    let run_without_libssl = |image: &str| {
        let output = std::process::Command::new("unshare")
            .args([
                "-m",
                "sh",
                "-c",
                r#"mount --bind /dev/null "$0" && exec "$@""#,
            ])
            .arg(&libssl)
            .arg(BINARY)
            .args(node.args())
            .stdin(std::fs::File::open(write_request(&node, image)).unwrap())
            .output()
            .unwrap();
        Run {
            status: output.status,
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    };
    let no_mirror = run_without_libssl("quay.io/team/app:1");
    assert_success(&no_mirror);
    let mirror = run_without_libssl(IMAGE);
    assert_failure(&mirror, "setting up TLS: loading the system OpenSSL (");
    let error = error_line(&mirror);
    assert!(
        error.contains(&format!("{}: file too short", libssl.display()))
            || error.contains("libssl.so.3: file too short"),
        "{error}"
    );
    assert!(
        error.contains("install it (openssl-libs on RHEL)"),
        "{error}"
    );
    assert!(node.api.requests().is_empty());
}

/// The request for `image` in a file of `node`'s, to be a run's stdin.
#[cfg(feature = "openssl")]
fn write_request(node: &Node, image: &str) -> std::path::PathBuf {
    let path = node.path("request.json");
    std::fs::write(&path, request(image, "team-a")).unwrap();
    path
}

#[test]
fn insecure_flag_skips_verification_with_a_warning() {
    let node = node_with_mirror_secret();
    let mut args = node.local_args();
    args.extend([
        "--api-server".into(),
        node.api.url.clone(),
        "--insecure-skip-tls-verify".into(),
    ]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_success(&run);
    assert!(
        run.stderr.contains("WARN") && run.stderr.contains("without verifying its certificate"),
        "{}",
        run.stderr
    );
    assert!(node.auth_file("team-a", IMAGE).is_some());
}

#[test]
fn without_a_ca_the_error_names_the_options() {
    let node = node_with_mirror_secret();
    std::fs::write(node.path("kubeconfig"), "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://example.invalid\n").unwrap();
    let mut args = node.local_args();
    args.extend([
        "--api-server".into(),
        node.api.url.clone(),
        "--kubeconfig".into(),
        node.path("kubeconfig").display().to_string(),
    ]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_failure(&run, "--ca-file");
    assert!(
        run.stderr.contains("no certificate-authority"),
        "{}",
        run.stderr
    );
}

#[test]
fn server_and_ca_come_from_the_kubeconfig() {
    use base64::Engine;
    let node = node_with_mirror_secret();
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&node.api.ca_pem);
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: node\ncontexts:\n- name: node\n  context:\n    cluster: local\n    user: u\n\
         clusters:\n- name: other\n  cluster:\n    server: https://wrong.invalid\n- name: local\n  cluster:\n    server: {}\n    certificate-authority-data: {ca_data}\n\
         users:\n- name: u\n  user:\n    token: node-credential-never-used\n",
        node.api.url
    );
    std::fs::write(node.path("kubeconfig"), kubeconfig).unwrap();
    let mut args = node.local_args();
    args.extend([
        "--kubeconfig".into(),
        node.path("kubeconfig").display().to_string(),
    ]);
    assert_success(&run_binary(&args, &request(IMAGE, "team-a")));
    assert!(node.auth_file("team-a", IMAGE).is_some());
}

#[test]
fn server_comes_from_apiserver_url_env() {
    let node = node_with_mirror_secret();
    let port = node.api.url.rsplit(':').next().unwrap();
    std::fs::write(
        node.path("kubernetes/apiserver-url.env"),
        format!("KUBERNETES_SERVICE_HOST='127.0.0.1'\nKUBERNETES_SERVICE_PORT='{port}'\n"),
    )
    .unwrap();
    let mut args = node.local_args();
    args.extend([
        "--ca-file".into(),
        node.path("ca.crt").display().to_string(),
    ]);
    assert_success(&run_binary(&args, &request(IMAGE, "team-a")));
    assert!(node.auth_file("team-a", IMAGE).is_some());
}

#[test]
fn namespace_that_could_escape_the_auth_dir_is_refused() {
    let node = node_with_mirror_secret();
    for namespace in ["../../etc", "a/b", "UPPER"] {
        node.api
            .allow_token(&service_account_token(namespace), namespace);
        let run = node.run(&request(IMAGE, namespace), &[]);
        assert_failure(&run, "not a valid namespace");
    }
    assert!(node.api.requests().is_empty());
    assert!(node.auth_dir_entries().is_empty());
    let mut written: Vec<_> = std::fs::read_dir(node.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "ca.crt",
            "kubernetes",
            "registries.conf",
            "registries.conf.d"
        ],
        "nothing written"
    );
}

#[test]
fn malformed_requests_are_refused() {
    let node = node_with_mirror_secret();
    let oversized = format!("{{\"image\":\"{}\"}}", "a".repeat(2 * 1024 * 1024));
    for (stdin, needle) in [
        ("", "decoding the CredentialProviderRequest"),
        ("{not json", "decoding the CredentialProviderRequest"),
        (
            r#"{"apiVersion":"credentialprovider.kubelet.k8s.io/v1alpha1","image":"a"}"#,
            "unsupported apiVersion",
        ),
        (r#"{"kind":"Pod","image":"a"}"#, "unsupported kind"),
        (&oversized, "larger than"),
    ] {
        let run = node.run(stdin, &[]);
        assert_failure(&run, needle);
    }
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn file_mode_is_0600_whatever_the_umask() {
    let node = node_with_mirror_secret();
    let mut command = String::from("umask 000; exec \"$0\" \"$@\"");
    command.push_str(" < \"$REQUEST\"");
    std::fs::write(node.path("request.json"), request(IMAGE, "team-a")).unwrap();
    let output = std::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .arg(BINARY)
        .args(node.args())
        .env("REQUEST", node.path("request.json"))
        .output()
        .unwrap();
    assert_exit_ok(&output, "the provider under umask 000");
    assert_eq!(
        mode(&node.auth_dir()),
        0o700,
        "a created auth dir is private"
    );
    assert_eq!(
        mode(&node.auth_dir().join(auth_file_name("team-a", IMAGE))),
        0o600
    );
}

#[test]
fn no_secret_value_reaches_stderr_even_at_debug_level() {
    let node = node_with_mirror_secret();
    std::fs::write(
        node.path("config.json"),
        json!({"auths": {"g.io": {"auth": basic_auth("global-user", "global-pw")}}}).to_string(),
    )
    .unwrap();
    node.api.add_pull_secret(
        "team-a",
        "broken",
        r#"{"auths":{"x.io":{"auth":"bm90LWJhc2U2NC1wYXNzd29yZA=="}}}"#,
    );
    let run = node.run(&request(IMAGE, "team-a"), &["--log-level", "debug"]);
    assert_success(&run);
    assert!(
        run.stderr.contains("DEBUG"),
        "debug logging is on: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Skipping secret broken"),
        "{}",
        run.stderr
    );
    let token = service_account_token("team-a");
    for secret in [
        ALICE_PASSWORD,
        &basic_auth("alice", ALICE_PASSWORD),
        "global-pw",
        &basic_auth("global-user", "global-pw"),
        "bm90LWJhc2U2NC1wYXNzd29yZA",
        &token,
        token.split('.').nth(1).unwrap(),
        token.split('.').nth(2).unwrap(),
    ] {
        assert!(
            !run.stderr.contains(secret),
            "stderr leaks {secret:?}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn version_json_describes_the_build() {
    let run = run_binary(&["--version-json".to_string()], "");
    assert!(run.status.success(), "{}", run.stderr);
    let version: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    for field in ["gitCommit", "buildDate", "rustc", "target"] {
        let value = version[field].as_str().unwrap_or_default();
        assert!(
            !value.is_empty() && value != "unknown",
            "{field}: {version}"
        );
    }
    assert!(
        version["rustc"].as_str().unwrap().starts_with("rustc "),
        "{version}"
    );
    assert!(version["features"].is_array(), "{version}");
}

#[test]
fn help_lists_every_flag() {
    let run = run_binary(&["--help".to_string()], "");
    assert!(run.status.success());
    for flag in [
        "--registries-conf",
        "--auth-dir",
        "--global-auth-file",
        "--kube-config-dir",
        "--api-server",
        "--ca-file",
        "--kubeconfig",
        "--insecure-skip-tls-verify",
        "--cache-duration",
        "--stale-after",
        "--selinux-context",
        "--version-json",
    ] {
        assert!(run.stdout.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let run = run_binary(&["--registry-conf".to_string(), "x".to_string()], "");
    assert_eq!(run.status.code(), Some(2));
    assert!(
        run.stderr.contains("unexpected argument '--registry-conf'"),
        "{}",
        run.stderr
    );
}

#[test]
fn invalid_registries_conf_fails_naming_the_file_and_reason() {
    let node = node_with_mirror_secret();
    node.write_registries_conf("[[registry]]\nlocation = \"https://docker.io\"\n");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(
        &run,
        "registries.conf: invalid location 'https://docker.io': URI schemes are not supported",
    );
    assert!(node.api.requests().is_empty());
    assert!(node.auth_dir_entries().is_empty());
}

/// A plain TCP listener that counts the connections it accepts.
fn counting_listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = std::sync::Arc::clone(&accepted);
    std::thread::spawn(move || {
        for _ in listener.incoming() {
            counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    (address, accepted)
}

#[test]
fn a_plain_http_api_server_never_gets_the_token() {
    let node = node_with_mirror_secret();
    let (address, accepted) = counting_listener();
    let mut args = node.local_args();
    args.extend(["--api-server".into(), format!("http://{address}")]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_failure(&run, "from --api-server");
    assert!(run.stderr.contains("not an https:// URL"), "{}", run.stderr);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn a_plain_http_server_in_the_kubeconfig_is_refused_naming_the_file() {
    let node = node_with_mirror_secret();
    let (address, accepted) = counting_listener();
    std::fs::write(
        node.path("kubeconfig"),
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://{address}\n"),
    )
    .unwrap();
    let mut args = node.local_args();
    args.extend([
        "--kubeconfig".into(),
        node.path("kubeconfig").display().to_string(),
        "--insecure-skip-tls-verify".into(),
    ]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_failure(&run, &node.path("kubeconfig").display().to_string());
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// Runs the binary under `/usr/bin/time -f %M`; returns the run (stderr without the last line)
/// and its peak RSS in KiB.
fn run_measured(node: &Node, stdin: &str, extra: &[&str]) -> (Run, u64) {
    let mut args = vec![BINARY.to_string()];
    args.extend(node.args());
    args.extend(extra.iter().map(|a| a.to_string()));
    let mut child = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("/usr/bin/time (Debian package time)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    let (stderr, rss) = stderr.trim_end().rsplit_once('\n').unwrap();
    let run = Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: format!("{stderr}\n"),
    };
    (run, rss.trim().parse().unwrap())
}

/// `node_with_mirror_secret`, its API server speaking HTTP/2 and then one speaking HTTP/1.1 only.
fn nodes_with_mirror_secret_over_each_protocol() -> [Node; 2] {
    [
        apiserver::FakeApiServer::start(),
        apiserver::FakeApiServer::start_http1_only(),
    ]
    .map(|api| {
        let node = Node::serving(api);
        let config = apiserver::docker_config_json(&[(MIRROR, "alice", ALICE_PASSWORD)]);
        node.api.add_pull_secret("team-a", "mirror-pull", &config);
        node
    })
}

#[test]
fn an_oversized_answer_is_refused_naming_the_limit_and_memory_stays_near_it() {
    // Over HTTP/1.1 with and without a length (chunked); HTTP/2 frames it either way.
    let nodes = nodes_with_mirror_secret_over_each_protocol();
    for (node, chunked) in nodes.iter().flat_map(|node| [(node, false), (node, true)]) {
        // 1 GiB offered; the server stops sending when the client hangs up.
        node.api.force_raw_answer(apiserver::RawAnswer::Blanks {
            bytes: 1 << 30,
            chunked,
        });
        let (run, peak_kib) = run_measured(node, &request(IMAGE, "team-a"), &[]);
        assert_failure(&run, "larger than 32 MiB");
        // The limit, the growth of the buffer that holds it, and the process itself.
        assert!(
            peak_kib < 128 * 1024,
            "chunked {chunked}: peak RSS {peak_kib} KiB"
        );
    }
}

#[test]
fn a_length_declared_beyond_memory_is_refused_naming_the_limit() {
    // 1 TiB: more than a node could allocate, refused before any room is made for it.
    for node in nodes_with_mirror_secret_over_each_protocol() {
        node.api.force_raw_answer(apiserver::RawAnswer::Blanks {
            bytes: 1 << 40,
            chunked: false,
        });
        let run = node.run(&request(IMAGE, "team-a"), &[]);
        assert_failure(&run, "larger than 32 MiB");
    }
}

#[test]
fn an_answer_of_exactly_the_limit_is_read_to_its_end() {
    // 32 MiB of blanks, with and without a length: read to the last one, then refused as no
    // JSON, not as too large.
    let nodes = nodes_with_mirror_secret_over_each_protocol();
    for (node, chunked) in nodes.iter().flat_map(|node| [(node, false), (node, true)]) {
        node.api.force_raw_answer(apiserver::RawAnswer::Blanks {
            bytes: 32 << 20,
            chunked,
        });
        let run = node.run(&request(IMAGE, "team-a"), &[]);
        assert_failure(
            &run,
            "decoding the answer: invalid JSON at line 1 column 33554432",
        );
        assert!(!run.stderr.contains("larger than"), "{}", run.stderr);
    }
}

#[test]
fn a_redirect_is_not_followed_and_is_called_one() {
    for node in nodes_with_mirror_secret_over_each_protocol() {
        node.api.force_raw_answer(apiserver::RawAnswer::Redirect(
            "https://elsewhere.example/steal".into(),
        ));
        let run = node.run(&request(IMAGE, "team-a"), &[]);
        assert_failure(&run, "redirect (HTTP 302 Found)");
        assert!(
            run.stderr.contains("\"https://elsewhere.example/steal\""),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_huge_multi_line_server_message_stays_one_bounded_line() {
    let node = node_with_mirror_secret();
    let message = format!("denied\nERROR forged line\n{}", "x".repeat(1 << 20));
    node.api.force_status_message(403, &message);
    let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", "namespace"]);
    assert_failure(&run, r#""denied\nERROR forged line\nxxx"#);
    assert!(
        run.stderr.len() < 4096,
        "{} bytes of stderr",
        run.stderr.len()
    );
}

#[test]
fn a_connection_error_says_each_cause_once() {
    let node = node_with_mirror_secret();
    let other = FakeApiServer::start();
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    let error = run.stderr.lines().find(|l| l.contains("ERROR")).unwrap();
    let causes: Vec<&str> = error.split(": ").collect();
    let mut unique = causes.clone();
    unique.dedup();
    assert_eq!(causes, unique, "{error}");
}

#[test]
fn a_registries_conf_that_cannot_be_checked_fails_the_run_naming_it() {
    // Below a regular file: ENOTDIR, which (like an SELinux denial) is not "does not exist".
    let node = node_with_mirror_secret();
    let below_a_file = node.path("registries.conf/registries.conf");
    let mut args = node.args();
    let position = args.iter().position(|a| a == "--registries-conf").unwrap();
    args[position + 1] = below_a_file.display().to_string();
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_failure(&run, &below_a_file.display().to_string());
    assert!(node.api.requests().is_empty());
}

/// The error line of a failed run.
fn error_line(run: &Run) -> &str {
    run.stderr
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_else(|| panic!("no ERROR line: {}", run.stderr))
}

#[test]
fn a_rejected_token_names_its_audience_and_the_api_audiences() {
    // support::bound_token's aud is ["https://kubernetes.default.svc"].
    let node = node_with_mirror_secret();
    let run = node.run(&request(IMAGE, "team-b"), &[]);
    assert_failure(
        &run,
        r#"the token was requested for the audience "https://kubernetes.default.svc", which must be one of the API server's --api-audiences"#,
    );
    let token = service_account_token("team-b");
    assert!(
        !run.stderr.contains(token.split('.').nth(1).unwrap()),
        "{}",
        run.stderr
    );
}

#[test]
fn a_request_without_a_token_names_the_kubelet_setting_that_sends_it() {
    let node = node_with_mirror_secret();
    let run = node.run(&json!({"image": IMAGE}).to_string(), &[]);
    assert_success(&run);
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("No service account token"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    for expected in [
        "tokenAttributes",
        "CredentialProviderConfig",
        "KubeletServiceAccountTokenForCredentialProviders",
    ] {
        assert!(line.contains(expected), "{expected}: {line}");
    }
}

#[test]
fn the_api_server_and_ca_and_their_sources_are_logged_once() {
    let node = node_with_mirror_secret();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    let ca = node.path("ca.crt").display().to_string();
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("Using the API server"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains(&format!(
            "Using the API server {} (from --api-server), verifying it with the CA of --ca-file {ca}",
            node.api.url
        )),
        "{}",
        lines[0]
    );
}

#[test]
fn the_api_server_from_the_kubeconfig_is_logged_naming_it() {
    use base64::Engine;
    let node = node_with_mirror_secret();
    let ca_data = base64::engine::general_purpose::STANDARD.encode(&node.api.ca_pem);
    let kubeconfig = node.path("kubeconfig").display().to_string();
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: local\n  cluster:\n    server: {}\n    certificate-authority-data: {ca_data}\n",
            node.api.url
        ),
    )
    .unwrap();
    let mut args = node.local_args();
    args.extend(["--kubeconfig".into(), kubeconfig.clone()]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_success(&run);
    assert!(
        run.stderr.contains(&format!(
            "Using the API server {} (from {kubeconfig}), verifying it with the CA of certificate-authority-data of {kubeconfig}",
            node.api.url
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn an_apiserver_url_env_without_its_port_is_an_error_naming_the_file() {
    let node = node_with_mirror_secret();
    let env = node.path("kubernetes/apiserver-url.env");
    std::fs::write(
        &env,
        "KUBERNETES_SERVICE_HOST='127.0.0.1'\nKUBERNETES_SERVICE_PORT=''\n",
    )
    .unwrap();
    let mut args = node.local_args();
    args.extend([
        "--ca-file".into(),
        node.path("ca.crt").display().to_string(),
    ]);
    let run = run_binary(&args, &request(IMAGE, "team-a"));
    assert_failure(
        &run,
        &format!("{} has no KUBERNETES_SERVICE_PORT", env.display()),
    );
    assert!(node.api.requests().is_empty());
}

#[test]
fn a_certificate_from_another_ca_is_refused_naming_the_ca_file() {
    let node = node_with_mirror_secret();
    let other = FakeApiServer::start();
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(
        &run,
        &format!("the CA of --ca-file {}", node.path("ca.crt").display()),
    );
}

#[test]
fn a_blocked_entry_without_mirrors_says_it_is_blocked() {
    let node = node_with_mirror_secret();
    node.write_registries_conf("[[registry]]\nlocation = \"docker.io\"\nblocked = true\n");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(
        run.stderr
            .contains("Registry docker.io is blocked, CRI-O will not pull docker.io/library/nginx"),
        "{}",
        run.stderr
    );
    assert!(node.api.requests().is_empty());
}

#[test]
fn the_number_of_secrets_read_is_singular_for_one() {
    for (secrets, expected) in [
        (&["other"][..], "(1 secret read)"),
        (&["other", "more"], "(2 secrets read)"),
    ] {
        let node = Node::new();
        for name in secrets {
            let config = docker_config_json(&[("quay.io", "u", "p")]);
            node.api.add_pull_secret("team-a", name, &config);
        }
        let run = node.run(&request(IMAGE, "team-a"), &[]);
        assert_success(&run);
        assert!(run.stderr.contains(expected), "{expected}: {}", run.stderr);
    }
}

#[test]
fn an_error_line_names_the_image_and_carries_its_fields() {
    // A TLS failure: the CA file names another CA.
    let node = node_with_mirror_secret();
    let other = FakeApiServer::start();
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    let error = error_line(&run);
    assert!(
        error.contains(&format!("ERROR getting credentials for {IMAGE}: ")),
        "{error}"
    );
    assert!(
        error.ends_with(&format!(r#"image="{IMAGE}" namespace="team-a""#)),
        "{error}"
    );
}

#[test]
fn a_timeout_names_the_image() {
    let node = node_with_mirror_secret();
    node.api.delay(Duration::from_secs(10));
    let run = node.run(&request(IMAGE, "team-a"), &["--api-timeout", "1s"]);
    assert_failure(
        &run,
        &format!("getting credentials for {IMAGE}: reading pull secrets"),
    );
}

#[test]
fn a_warning_of_a_run_carries_the_image_and_namespace_fields() {
    let node = node_with_mirror_secret();
    std::fs::write(node.path("config.json"), "not json").unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_else(|| panic!("{}", run.stderr));
    assert!(
        warning.contains(&format!(r#"image="{IMAGE}" namespace="team-a""#)),
        "{warning}"
    );
}

#[test]
fn a_run_that_writes_an_auth_file_answers_with_an_empty_credential_for_the_image() {
    // Kubelet then records the pull as made with the pod's service account (not "every pod on the
    // node may use it"), and CRI-O takes the empty username for no credential and uses the file.
    let node = node_with_mirror_secret();
    let run = node.run(&request("docker.io/library/nginx", "team-a"), &[]);
    assert_success(&run);
    assert!(
        node.auth_file("team-a", "docker.io/library/nginx")
            .is_some()
    );
    let response = kubelet_response(&run);
    assert_eq!(
        response.auth.into_iter().collect::<Vec<_>>(),
        [(
            "docker.io/library/nginx".to_string(),
            AuthConfig {
                username: String::new(),
                password: String::new()
            }
        )]
    );
}

#[test]
fn a_run_that_writes_no_file_answers_with_no_credential() {
    // So kubelet does not re-check, and run the plugin for, images the provider does not serve.
    let no_registries_conf = Node::new();
    std::fs::remove_file(no_registries_conf.path("registries.conf")).unwrap();
    let without_token = serde_json::json!({
        "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
        "kind": "CredentialProviderRequest",
        "image": "docker.io/library/nginx",
    })
    .to_string();
    for (why, node, stdin) in [
        ("no token", node_with_mirror_secret(), without_token),
        (
            "no registries.conf",
            no_registries_conf,
            request("docker.io/library/nginx", "team-a"),
        ),
        (
            "no mirror",
            node_with_mirror_secret(),
            request("quay.io/team/app", "team-a"),
        ),
        (
            "no matching secret",
            Node::new(),
            request("docker.io/library/nginx", "team-a"),
        ),
    ] {
        let run = node.run(&stdin, &[]);
        assert_success(&run);
        assert!(node.auth_dir_entries().is_empty(), "{why}");
        assert!(
            kubelet_response(&run).auth.is_empty(),
            "{why}: {}",
            run.stdout
        );
    }
}

#[test]
fn scope_pulled_images_false_answers_as_the_go_implementation() {
    let node = node_with_mirror_secret();
    for args in [&["--scope-pulled-images=false"][..], &[][..]] {
        if args.is_empty() {
            std::fs::write(node.configuration(), "scope-pulled-images = false\n").unwrap();
        }
        let run = node.run(&request("docker.io/library/nginx", "team-a"), args);
        assert_success(&run);
        assert!(
            node.auth_file("team-a", "docker.io/library/nginx")
                .is_some()
        );
        assert!(
            kubelet_response(&run).auth.is_empty(),
            "{args:?}: {}",
            run.stdout
        );
    }
}

#[test]
fn a_recheck_that_no_pull_follows_leaves_one_pending_file_per_namespace_and_image() {
    // Kubelet runs the plugin to compare a present image's recorded service account and pulls
    // nothing when it matches: nothing consumes the file. Each re-check replaces it.
    let node = node_with_mirror_secret();
    let mut requests_per_run = Vec::new();
    for _recheck in 0..3 {
        let before = node.api.requests().len();
        assert_success(&node.run(&request("docker.io/library/nginx", "team-a"), &[]));
        requests_per_run.push(node.api.requests().len() - before);
    }
    assert_success(&node.run(&request("docker.io/library/busybox", "team-a"), &[]));
    assert_eq!(
        node.auth_dir_entries().len(),
        2,
        "{:?}",
        node.auth_dir_entries()
    );
    // The namespace's two pull-secret types, listed.
    assert_eq!(requests_per_run, [2, 2, 2]);
}

#[test]
fn a_request_with_a_tag_or_a_short_name_gets_the_file_crio_looks_up() {
    // CRI-O names the file after the normalised repository of what it pulls
    // (reference.ParseNormalizedNamed(image).Name()), whatever kubelet sent.
    for sent in [
        "nginx",
        "nginx:1.27",
        "docker.io/nginx@sha256:0123456789abcdef0123456789abcdef",
    ] {
        let node = node_with_mirror_secret();
        assert_success(&node.run(&request(sent, "team-a"), &[]));
        assert!(
            node.auth_file("team-a", "docker.io/library/nginx")
                .is_some(),
            "{sent}: {:?}",
            node.auth_dir_entries()
        );
    }
}

#[test]
fn a_key_with_user_info_is_logged_without_it_at_any_level() {
    // Kubelet accepts `https://user:password@host` as a key and ignores the user info; the log
    // names the key so an operator can find it, and leaves that part out.
    let node = Node::new();
    let key = format!("https://robot:KEY-SECRET@{MIRROR}");
    let config = docker_config_json(&[(&key, "alice", ALICE_PASSWORD)]);
    node.api.add_pull_secret("team-a", "mirror-pull", &config);
    let run = node.run(
        &request("docker.io/library/nginx", "team-a"),
        &["--log-level", "debug"],
    );
    assert_success(&run);
    assert!(
        run.stderr
            .contains(&format!("https://<user info>@{MIRROR}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("KEY-SECRET"), "{}", run.stderr);
    assert!(!run.stderr.contains(ALICE_PASSWORD), "{}", run.stderr);
}

/// A service account naming `count` pull secrets, the last of which serves the mirror, under
/// the Role that allows getting exactly those.
fn node_naming_secrets(api: apiserver::FakeApiServer, count: usize) -> Node {
    let node = Node::serving(api);
    node.api.revoke("team-a", "default");
    let names: Vec<String> = (0..count).map(|i| format!("pull-{i:02}")).collect();
    for (i, name) in names.iter().enumerate() {
        let registry = match i + 1 == count {
            true => MIRROR.to_string(),
            false => format!("other-{i}.example.com"),
        };
        let config = apiserver::docker_config_json(&[(&registry, "alice", "pw")]);
        node.api.add_pull_secret("team-a", name, &config);
    }
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    node.api.add_service_account("team-a", "default", &names);
    node.grant_service_account_role(&names);
    node
}

/// A mirrored pull with `--secrets-from service-account`.
fn run_reading_named_secrets(node: &Node) -> Run {
    node.run(
        &request("docker.io/library/nginx", "team-a"),
        &["--secrets-from", "service-account"],
    )
}

#[test]
fn every_request_of_a_run_shares_one_http2_connection() {
    let node = node_naming_secrets(apiserver::FakeApiServer::start(), 20);
    let run = run_reading_named_secrets(&node);
    assert_success(&run);
    let requests = node.api.requests();
    assert_eq!(requests.len(), 21, "the account and its 20 secrets");
    assert!(
        requests.iter().all(|r| r.version == http::Version::HTTP_2),
        "{requests:?}"
    );
    assert_eq!(node.api.traffic().connections, 1);
}

#[test]
fn a_server_without_http2_is_read_over_http1() {
    let node = node_naming_secrets(apiserver::FakeApiServer::start_http1_only(), 2);
    let run = run_reading_named_secrets(&node);
    assert_success(&run);
    let requests = node.api.requests();
    assert_eq!(requests.len(), 3);
    assert!(
        requests.iter().all(|r| r.version == http::Version::HTTP_11),
        "{requests:?}"
    );
}

/// Whether each list request of the run was answered in protobuf.
fn lists_in_protobuf(node: &Node) -> Vec<bool> {
    let requests = node.api.requests();
    requests
        .iter()
        .filter(|r| r.verb == "list")
        .map(|r| r.protobuf)
        .collect()
}

#[test]
fn secrets_are_listed_in_protobuf_as_kubelets_client_lists_them() {
    let node = node_with_mirror_secret();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert_eq!(lists_in_protobuf(&node), [true, true], "both secret types");
    assert_eq!(
        node.mirror_auth("team-a", IMAGE),
        Some(basic_auth("alice", ALICE_PASSWORD))
    );
}

#[test]
fn a_list_answer_of_many_http2_frames_gives_every_secret() {
    // 1,200 secrets of about 200 bytes: the answer is some 240 KB, 16 KiB per HTTP/2 DATA frame,
    // so many a secret is split between two frames; the one that serves the mirror
    // ("mirror-pull") lies among the others.
    let node = node_with_mirror_secret();
    for i in 0..600 {
        let config =
            docker_config_json(&[(&format!("other-{i:03}.example.com"), "u", &"p".repeat(120))]);
        node.api
            .add_pull_secret("team-a", &format!("a-pull-{i:03}"), &config);
        node.api
            .add_pull_secret("team-a", &format!("z-pull-{i:03}"), &config);
    }
    let run = node.run(&request(IMAGE, "team-a"), &["--log-level", "debug"]);
    assert_success(&run);
    assert_eq!(lists_in_protobuf(&node), [true, true]);
    assert_eq!(run.stderr.matches("Read pull secret").count(), 1201);
    assert_eq!(
        node.mirror_auth("team-a", IMAGE),
        Some(basic_auth("alice", ALICE_PASSWORD))
    );
}

#[test]
fn a_server_that_answers_the_list_in_json_is_read_in_json() {
    let node = node_with_mirror_secret();
    node.api.json_only();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert_eq!(lists_in_protobuf(&node), [false, false]);
    assert_eq!(
        node.mirror_auth("team-a", IMAGE),
        Some(basic_auth("alice", ALICE_PASSWORD))
    );
}

#[test]
fn a_forbidden_list_answered_in_protobuf_names_the_servers_reason_and_message() {
    let node = node_with_mirror_secret();
    node.api
        .allow_token(&service_account_token("team-a"), "team-b");
    let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", "namespace"]);
    assert_failure(
        &run,
        "HTTP 403 Forbidden: \"secrets is forbidden: User \\\"system:serviceaccount:team-b:default\\\" cannot list",
    );
    assert!(
        lists_in_protobuf(&node).contains(&true),
        "{:?}",
        node.api.requests()
    );
}

#[test]
fn a_closed_stdout_ends_the_run_with_its_error_line_not_sigpipe() {
    let node = Node::with_mirror_secret("alice", "pw");
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut child = std::process::Command::new(BINARY)
        .args(node.args())
        .stdin(std::process::Stdio::piped())
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let request = request("docker.io/library/nginx", "team-a");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("writing the response to stdout: Broken pipe"),
        "{stderr}"
    );
    assert_eq!(node.auth_dir_entries(), Vec::<String>::new());
}

#[test]
fn a_connection_the_server_ends_after_an_answer_is_replaced_for_the_next_requests() {
    // kube-apiserver's --goaway-chance: after the service account's answer, GOAWAY.
    let node = node_naming_secrets(apiserver::FakeApiServer::start(), 3);
    node.api.goaway_after(1);
    let run = node.run(
        &request("docker.io/library/nginx", "team-a"),
        &["--secrets-from", "service-account", "--log-level", "debug"],
    );
    assert_success(&run);
    assert_eq!(
        node.api.requests().len(),
        4,
        "the account and its 3 secrets"
    );
    assert_eq!(node.api.traffic().connections, 2);
    let said = "The API server ended connection 0 (";
    let again = "sending GET /api/v1/namespaces/team-a/secrets/pull-";
    assert!(
        run.stderr.contains(said) && run.stderr.contains(again),
        "{}",
        run.stderr
    );
}

#[test]
fn an_http1_connection_the_server_closes_after_an_answer_is_replaced() {
    let node = node_naming_secrets(apiserver::FakeApiServer::start_http1_only(), 2);
    node.api.goaway_after(1);
    let run = run_reading_named_secrets(&node);
    assert_success(&run);
    assert_eq!(node.api.requests().len(), 3);
    // Each secret's request, refused by the closed connection, gets a connection of its own.
    assert_eq!(node.api.traffic().connections, 3);
}

#[test]
fn closed_standard_descriptors_are_opened_on_dev_null_before_anything_else() {
    use std::os::unix::process::CommandExt;
    // Else the first file or socket the run opens would become stderr, and a log line would go
    // into it: an auth file, or the TLS stream to the API server.
    let node = Node::with_mirror_secret("alice", "pw");
    node.api.delay(Duration::from_secs(5));
    let mut command = std::process::Command::new(BINARY);
    command
        .args(node.args())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    // SAFETY: close is async-signal-safe.
    unsafe {
        command.pre_exec(|| {
            libc::close(2);
            Ok(())
        })
    };
    let mut child = command.spawn().unwrap();
    let request = request("docker.io/library/nginx", "team-a");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), request.as_bytes()).unwrap();
    // Once the run has a socket (journald's, the API server's), the loader's files are closed.
    let fds = format!("/proc/{}/fd", child.id());
    let started = Instant::now();
    let target = loop {
        let links: Vec<String> = std::fs::read_dir(&fds)
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .map(|l| l.display().to_string())
                    .collect()
            })
            .unwrap_or_default();
        if links.iter().any(|link| link.starts_with("socket:")) {
            break std::fs::read_link(format!("{fds}/2")).ok();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no socket: {links:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(target.as_deref(), Some(std::path::Path::new("/dev/null")));
}

#[test]
fn an_http1_server_that_closes_every_connection_after_one_answer_is_read_one_connection_a_request()
{
    let node = node_naming_secrets(apiserver::FakeApiServer::start_http1_only(), 5);
    node.api.close_every_connection();
    let run = run_reading_named_secrets(&node);
    assert_success(&run);
    assert_eq!(
        node.api.requests().len(),
        6,
        "the account and its 5 secrets"
    );
    assert_eq!(node.api.traffic().connections, 6);
}
