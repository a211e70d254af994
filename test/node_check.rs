//! `crio-credential-provider check` on a node in a temp dir: a good node passes every check, and
//! each broken node fails (or warns on) the one check that names what to change, in which file.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Mutex;

use serde_json::{Value, json};
use support::*;

/// Every check of a good node, in the order the lines come.
const CHECKS: [&str; 16] = [
    "configuration",
    "registries",
    "kubelet-config",
    "kubelet-provider",
    "kubelet-args",
    "kubelet-cache",
    "kubelet-match-images",
    "crio-config",
    "crio-auth-dir",
    "crio-version",
    "auth-dir",
    "api-server",
    "api-tls",
    "api-version",
    "journald",
    "global-pull-secret",
];

/// The global pull secret's password: no line may show it.
const GLOBAL_PASSWORD: &str = "gl0bal-s3cret";

/// A node in a temp dir that passes every check: `support::Node` (registries.conf mirroring
/// docker.io, the stand-in API server and its CA), plus kubelet's provider config naming the same
/// files in its args, CRI-O's configuration, an auth dir, a global pull secret and a `crio`.
struct CheckNode {
    node: Node,
}

struct Checked {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl CheckNode {
    fn good() -> Self {
        let check = CheckNode { node: Node::new() };
        check.write_kubelet_config(&check.kubelet_config());
        check.write("crio/crio.conf", "[crio.runtime]\nlog_level = \"info\"\n");
        check.write(
            "crio/crio.conf.d/10-auth.conf",
            &format!(
                "[crio.image]\nnamespaced_auth_dir = \"{}\"\n",
                check.node.auth_dir().display()
            ),
        );
        std::fs::create_dir(check.node.auth_dir()).unwrap();
        std::fs::set_permissions(
            check.node.auth_dir(),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        // For a registry nothing mirrors, as on a node that keeps mirrored ones out of it.
        let global = docker_config_json(&[("registry.redhat.io", "global", GLOBAL_PASSWORD)]);
        check.write("config.json", &global);
        check.install_crio("crio version 1.34.3");
        check
    }

    fn path(&self, name: &str) -> PathBuf {
        self.node.path(name)
    }

    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The flags of the run the check checks: this node's files and API server.
    fn run_flags(&self) -> Vec<String> {
        let mut flags = self.node.args();
        flags.extend([
            "--selinuxfs".into(),
            self.path("no-selinuxfs").display().to_string(),
        ]);
        flags
    }

    /// Kubelet's provider config as the good node has it, to change before writing.
    fn kubelet_config(&self) -> Value {
        json!({
            "apiVersion": "kubelet.config.k8s.io/v1",
            "kind": "CredentialProviderConfig",
            "providers": [{
                "name": "crio-credential-provider",
                "apiVersion": "credentialprovider.kubelet.k8s.io/v1",
                "matchImages": ["docker.io", "*.docker.io"],
                "defaultCacheDuration": "1s",
                "tokenAttributes": {
                    "serviceAccountTokenAudience": "https://kubernetes.default.svc",
                    "cacheType": "Token",
                    "requireServiceAccount": false,
                },
                "args": self.run_flags(),
            }],
        })
    }

    fn write_kubelet_config(&self, config: &Value) {
        let yaml = serde_saphyr::to_string(config).unwrap();
        self.write("credential-providers/crio-credential-provider.yaml", &yaml);
    }

    /// A `crio` on the check's PATH whose `--version` prints `first_line`.
    fn install_crio(&self, first_line: &str) {
        let crio = self.path("bin/crio");
        self.write(
            "bin/crio",
            &format!("#!/bin/sh\necho '{first_line}'\necho '   GitCommit:  0123abc'\n"),
        );
        std::fs::set_permissions(crio, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The check's flags: the run's, and where kubelet's and CRI-O's configuration is.
    fn check_flags(&self) -> Vec<String> {
        let mut flags = vec!["check".to_string()];
        flags.extend(self.run_flags());
        for (flag, name) in [
            (
                "--kubelet-provider-config",
                "credential-providers/crio-credential-provider.yaml",
            ),
            ("--crio-config", "crio/crio.conf"),
            ("--crio-config-dir", "crio/crio.conf.d"),
        ] {
            flags.extend([flag.to_string(), self.path(name).display().to_string()]);
        }
        flags
    }

    fn check(&self, extra: &[&str]) -> Checked {
        let mut flags = self.check_flags();
        flags.extend(extra.iter().map(|f| f.to_string()));
        self.check_with(&flags)
    }

    fn check_with(&self, flags: &[String]) -> Checked {
        let output = Command::new(BINARY)
            .args(flags)
            .env("PATH", self.path("bin"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        Checked {
            status: output.status,
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }
}

impl Checked {
    /// The one line of `check`.
    fn line(&self, check: &str) -> &str {
        let prefix = format!("  {check}: ");
        let lines: Vec<&str> = self
            .stdout
            .lines()
            .filter(|line| line.contains(&prefix))
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "one {check} line expected:\n{}",
            self.stdout
        );
        lines[0]
    }

    /// The lines that are not OK.
    fn not_ok(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|line| line.starts_with("WARN") || line.starts_with("FAIL"))
            .collect()
    }

    /// The one line that is not OK is `check`'s, with `status`; returns it.
    fn only_problem(&self, status: &str, check: &str) -> &str {
        let problems: Vec<&str> = self
            .not_ok()
            .into_iter()
            .filter(|line| !line.contains("  journald: "))
            .collect();
        assert_eq!(
            problems,
            [self.line(check)],
            "only {check} should be reported:\n{}",
            self.stdout
        );
        assert!(problems[0].starts_with(status), "{}", problems[0]);
        assert_eq!(
            self.status.code(),
            Some(if status == "FAIL" { 1 } else { 0 }),
            "{}",
            self.stdout
        );
        problems[0]
    }

    /// What the line tells the operator to change: the text after ` -> `.
    fn fix(line: &str) -> &str {
        line.split_once(" -> ")
            .expect("a line that is not OK says what to change")
            .1
    }
}

fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in: {text}");
}

#[test]
fn a_good_node_passes_every_check() {
    let node = CheckNode::good();
    let checked = node.check(&[]);
    assert_eq!(checked.status.code(), Some(0), "{}", checked.stdout);
    for check in CHECKS {
        let line = checked.line(check);
        // This machine may have no journald: that is the node's WARN, not the check's.
        if check != "journald" {
            assert!(line.starts_with("OK    "), "{line}");
        }
    }
    let summary = checked.stdout.lines().last().unwrap();
    assert!(summary.starts_with("0 FAIL, "), "{summary}");
    assert_eq!(checked.stderr, "");
}

#[test]
fn the_good_node_lines_say_what_was_found_and_where_it_came_from() {
    let node = CheckNode::good();
    let checked = node.check(&[]);
    assert_contains(
        checked.line("registries"),
        "prefixes with mirrors: docker.io",
    );
    assert_contains(
        checked.line("kubelet-config"),
        "crio-credential-provider.yaml (--kubelet-provider-config) is valid",
    );
    assert_contains(
        checked.line("crio-auth-dir"),
        &format!(
            "set in {}",
            node.path("crio/crio.conf.d/10-auth.conf").display()
        ),
    );
    assert_contains(checked.line("crio-version"), "is CRI-O 1.34.3");
    assert_contains(
        checked.line("api-server"),
        &format!(
            "{} (from --api-server), verified by the CA from --ca-file {} (1 certificate)",
            node.node.api.url,
            node.path("ca.crt").display()
        ),
    );
    assert_contains(checked.line("api-version"), "Kubernetes v1.34.2");
    assert_contains(checked.line("global-pull-secret"), "1 entry merged");
}

#[test]
fn json_gives_one_object_per_check() {
    let node = CheckNode::good();
    let checked = node.check(&["--json"]);
    assert_eq!(checked.status.code(), Some(0), "{}", checked.stdout);
    let lines: Vec<Value> = checked
        .stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let checks: Vec<&str> = lines.iter().map(|l| l["check"].as_str().unwrap()).collect();
    assert_eq!(checks, CHECKS);
    let registries = &lines[1];
    assert_eq!(registries["status"], "OK");
    assert_eq!(registries["fix"], Value::Null);
    assert!(
        registries["message"]
            .as_str()
            .unwrap()
            .contains("docker.io")
    );
}

#[test]
fn the_check_takes_kubelet_mode_flags_only_after_its_name() {
    let node = CheckNode::good();
    let mut flags = node.run_flags();
    flags.push("check".into());
    let checked = node.check_with(&flags);
    assert_eq!(checked.status.code(), Some(2));
    assert_contains(&checked.stderr, "check");
}

// --- registries.conf ----------------------------------------------------------------------------

#[test]
fn an_invalid_registries_conf_fails_naming_the_file() {
    let node = CheckNode::good();
    node.write(
        "registries.conf.d/50-bad.conf",
        "[[registry]]\nlocation = \"https://quay.io\"\n",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "registries");
    assert_contains(line, "URI schemes are not supported");
    assert_contains(
        Checked::fix(line),
        &format!(
            "fix {}",
            node.path("registries.conf.d/50-bad.conf").display()
        ),
    );
}

#[test]
fn a_registries_conf_without_mirrors_warns_that_no_file_is_ever_written() {
    let node = CheckNode::good();
    node.node
        .write_registries_conf("[[registry]]\nlocation = \"docker.io\"\n");
    let checked = node.check(&[]);
    let line = checked.only_problem("WARN", "registries");
    assert_contains(line, "none with mirrors");
    assert_contains(Checked::fix(line), "[[registry.mirror]]");
}

// --- kubelet's provider config ------------------------------------------------------------------

#[test]
fn a_provider_config_that_is_not_yaml_fails() {
    let node = CheckNode::good();
    node.write(
        "credential-providers/crio-credential-provider.yaml",
        "providers: [\n",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-config");
    assert_contains(line, "kubelet does not start with");
    assert_contains(Checked::fix(line), "fix ");
    assert_contains(Checked::fix(line), "crio-credential-provider.yaml");
}

#[test]
fn a_provider_config_kubelet_refuses_fails_with_kubelets_reason() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("defaultCacheDuration");
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-config");
    assert_contains(line, "defaultCacheDuration is required");
}

#[test]
fn an_unknown_field_in_the_provider_config_fails_as_kubelet_decodes_strictly() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    config["providers"][0]["matchImage"] = json!(["quay.io"]);
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-config");
    assert_contains(line, "matchImage");
}

#[test]
fn a_config_without_this_provider_fails() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    config["providers"][0]["name"] = json!("ecr-credential-provider");
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("tokenAttributes");
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-provider");
    assert_contains(line, "no provider named crio-credential-provider");
    assert_contains(Checked::fix(line), "to providers in ");
}

#[test]
fn a_provider_without_token_attributes_fails() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    config["providers"][0]
        .as_object_mut()
        .unwrap()
        .remove("tokenAttributes");
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-provider");
    assert_contains(line, "kubelet sends no service-account token");
    assert_contains(
        Checked::fix(line),
        "add tokenAttributes (serviceAccountTokenAudience",
    );
}

#[test]
fn args_that_are_no_flags_of_this_binary_fail_with_the_usage_error() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    config["providers"][0]["args"] = json!(["--auth-directory=/etc/crio/auth"]);
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-args");
    assert_contains(
        line,
        "every run fails with exit code 2: crio-credential-provider: unexpected argument '--auth-directory' found",
    );
    assert_contains(
        Checked::fix(line),
        "fix the args of crio-credential-provider in ",
    );
}

#[test]
fn args_that_differ_from_the_checks_flags_warn_naming_the_flag() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    let mut args = node.run_flags();
    args.push("--auth-dir=/var/lib/other-auth".into());
    // The last --auth-dir given is a repeated flag: replace the node's instead.
    let at = args.iter().position(|a| a == "--auth-dir").unwrap();
    args.drain(at..at + 2);
    config["providers"][0]["args"] = json!(args);
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("WARN", "kubelet-args");
    assert_contains(
        line,
        &format!(
            "--auth-dir (args /var/lib/other-auth, check {})",
            node.node.auth_dir().display()
        ),
    );
}

#[test]
fn a_cache_duration_in_the_args_warns() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    let mut args = node.run_flags();
    args.push("--cache-duration=1m".into());
    config["providers"][0]["args"] = json!(args);
    node.write_kubelet_config(&config);
    let checked = node.check(&[]);
    let line = checked.only_problem("WARN", "kubelet-cache");
    assert_contains(line, "a cached answer writes no auth file");
    assert_contains(Checked::fix(line), "remove --cache-duration from the args");
}

#[test]
fn a_mirrored_prefix_no_match_images_entry_matches_fails_naming_it() {
    let node = CheckNode::good();
    node.write(
        "registries.conf.d/60-quay.conf",
        "[[registry]]\nprefix = \"quay.io/team\"\nlocation = \"quay.io/team\"\n\
         [[registry.mirror]]\nlocation = \"mirror.local:5000/quay-team\"\n\
         [[registry]]\nlocation = \"registry.local:5000\"\n\
         [[registry.mirror]]\nlocation = \"mirror.local:5000/local\"\n",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "kubelet-match-images");
    assert_contains(line, "match no image of quay.io/team, registry.local:5000");
    let config = node.path("credential-providers/crio-credential-provider.yaml");
    assert_eq!(
        Checked::fix(line),
        format!(
            "add \"quay.io\", \"registry.local:5000\" to matchImages of crio-credential-provider in {}",
            config.display()
        )
    );
}

/// Tests that start a stand-in kubelet take turns: the check finds the one with the lowest pid.
static KUBELET: Mutex<()> = Mutex::new(());

/// A process named `kubelet` with `args`, alive until the returned child's stdin is closed.
fn stand_in_kubelet(node: &CheckNode, args: &[String]) -> std::process::Child {
    let script = node.path("kubelet-bin/kubelet");
    node.write("kubelet-bin/kubelet", "#!/bin/sh\nread line\n");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let child = Command::new(&script)
        .args(args)
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    // Until the child has exec'd the script, /proc shows it as a copy of this test: a check run
    // then would not find kubelet (it did, on a loaded machine).
    let cmdline = format!("/proc/{}/cmdline", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !std::fs::read_to_string(&cmdline).is_ok_and(|line| line.contains("kubelet-bin/kubelet"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the stand-in kubelet did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child
}

/// The check's flags without --kubelet-provider-config.
fn flags_without_kubelet_config(node: &CheckNode) -> Vec<String> {
    let mut flags = node.check_flags();
    let at = flags
        .iter()
        .position(|f| f == "--kubelet-provider-config")
        .unwrap();
    flags.drain(at..at + 2);
    flags
}

#[test]
fn the_provider_config_is_the_one_on_kubelets_command_line() {
    let _turn = KUBELET.lock().unwrap_or_else(|e| e.into_inner());
    let node = CheckNode::good();
    let config = node.path("credential-providers/crio-credential-provider.yaml");
    let mut kubelet = stand_in_kubelet(
        &node,
        &[
            "--v=2".into(),
            "--image-credential-provider-config".into(),
            config.display().to_string(),
        ],
    );
    let checked = node.check_with(&flags_without_kubelet_config(&node));
    drop(kubelet.stdin.take());
    kubelet.wait().unwrap();
    let line = checked.line("kubelet-config");
    assert!(line.starts_with("OK"), "{line}");
    assert_contains(
        line,
        &format!(
            "{} (kubelet's --image-credential-provider-config, pid {})",
            config.display(),
            kubelet.id()
        ),
    );
}

#[test]
fn a_kubelet_without_a_provider_config_fails() {
    let _turn = KUBELET.lock().unwrap_or_else(|e| e.into_inner());
    let node = CheckNode::good();
    let mut kubelet = stand_in_kubelet(&node, &["--v=2".into()]);
    let checked = node.check_with(&flags_without_kubelet_config(&node));
    drop(kubelet.stdin.take());
    kubelet.wait().unwrap();
    let line = checked.only_problem("FAIL", "kubelet-config");
    assert_contains(line, "runs without --image-credential-provider-config");
    assert_contains(
        Checked::fix(line),
        "give kubelet --image-credential-provider-config",
    );
}

// --- CRI-O ------------------------------------------------------------------------------------

#[test]
fn a_crio_drop_in_that_is_not_toml_fails_naming_the_file_and_line() {
    let node = CheckNode::good();
    node.write(
        "crio/crio.conf.d/20-bad.conf",
        "[crio.image]\npause_image = \n",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "crio-config");
    let file = node.path("crio/crio.conf.d/20-bad.conf");
    assert_contains(
        line,
        &format!(
            "CRI-O does not start with {}: invalid TOML at line 2",
            file.display()
        ),
    );
    assert_eq!(Checked::fix(line), format!("fix {}", file.display()));
}

#[test]
fn a_later_drop_in_with_another_auth_dir_fails_naming_it() {
    let node = CheckNode::good();
    node.write(
        "crio/crio.conf.d/20-other.conf",
        "[crio.image]\nnamespaced_auth_dir = \"/var/lib/crio/auth\"\n",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "crio-auth-dir");
    let file = node.path("crio/crio.conf.d/20-other.conf");
    assert_contains(
        line,
        &format!(
            "CRI-O reads auth files from /var/lib/crio/auth (set in {})",
            file.display()
        ),
    );
    assert_eq!(
        Checked::fix(line),
        format!(
            "set namespaced_auth_dir = \"{}\" under [crio.image] in {}, or pass --auth-dir /var/lib/crio/auth in the provider's args",
            node.node.auth_dir().display(),
            file.display()
        )
    );
}

#[test]
fn a_crio_older_than_1_34_3_fails() {
    let node = CheckNode::good();
    node.install_crio("crio version 1.34.2");
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "crio-version");
    assert_contains(line, "is CRI-O 1.34.2, which ignores auth files");
    assert_contains(Checked::fix(line), "update CRI-O to 1.34.3 or later");
}

#[test]
fn a_node_without_crio_only_warns() {
    let node = CheckNode::good();
    std::fs::remove_file(node.path("bin/crio")).unwrap();
    let checked = node.check(&[]);
    let line = checked.only_problem("WARN", "crio-version");
    assert_contains(line, "no crio on PATH or at /usr/bin/crio");
}

// --- the auth directory -------------------------------------------------------------------------

#[test]
fn a_group_writable_auth_dir_fails() {
    let node = CheckNode::good();
    std::fs::set_permissions(node.node.auth_dir(), std::fs::Permissions::from_mode(0o770)).unwrap();
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "auth-dir");
    assert_contains(line, "is writable by group or others (mode 770)");
    assert_contains(
        Checked::fix(line),
        &format!("chmod 0700 {}", node.node.auth_dir().display()),
    );
}

#[test]
fn an_auth_dir_that_is_a_symlink_fails() {
    let node = CheckNode::good();
    let auth_dir = node.node.auth_dir();
    std::fs::rename(&auth_dir, node.path("real-auth")).unwrap();
    std::os::unix::fs::symlink(node.path("real-auth"), &auth_dir).unwrap();
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "auth-dir");
    assert_contains(line, "is a symlink, which is refused");
}

// --- the API server -----------------------------------------------------------------------------

#[test]
fn a_ca_that_did_not_sign_the_servers_certificate_fails_the_tls_check() {
    let node = CheckNode::good();
    let other = support::apiserver::FakeApiServer::start();
    std::fs::write(node.path("ca.crt"), &other.ca_pem).unwrap();
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "api-tls");
    assert_contains(line, &format!("no TLS connection to {}", node.node.api.url));
    assert_contains(line, "certificate");
}

#[test]
fn not_verifying_the_api_server_warns() {
    let node = CheckNode::good();
    let mut config = node.kubelet_config();
    let mut args = node.run_flags();
    args.push("--insecure-skip-tls-verify".into());
    config["providers"][0]["args"] = json!(args);
    node.write_kubelet_config(&config);
    let checked = node.check(&["--insecure-skip-tls-verify"]);
    assert_eq!(checked.status.code(), Some(0), "{}", checked.stdout);
    for check in ["api-server", "api-tls"] {
        let line = checked.line(check);
        assert!(line.starts_with("WARN"), "{line}");
        assert_contains(line, "is not verified (--insecure-skip-tls-verify)");
    }
}

#[test]
fn an_api_server_that_answers_version_with_an_error_fails() {
    let node = CheckNode::good();
    node.node.api.force_status(503);
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "api-version");
    assert_contains(line, "answered HTTP 503");
}

#[test]
fn the_check_sends_no_credential_to_the_api_server() {
    let node = CheckNode::good();
    let kubeconfig = kubeconfig_with_credentials(&node);
    let checked = node.check(&["--kubeconfig", kubeconfig.to_str().unwrap()]);
    let requests = node.node.api.requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].path, "/version");
    assert!(!requests[0].authorized, "{requests:?}");
    assert!(
        checked.line("api-version").starts_with("OK"),
        "{}",
        checked.stdout
    );
}

const KUBECONFIG_TOKEN: &str = "kubeconfig-t0ken-value";
const CLIENT_KEY: &str = "client-key-s3cret";

/// A kubeconfig for this node's API server with a token and a client key, as node kubeconfigs
/// hold them.
fn kubeconfig_with_credentials(node: &CheckNode) -> PathBuf {
    use base64::Engine;
    let base64 = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let kubeconfig = json!({
        "apiVersion": "v1", "kind": "Config", "current-context": "node",
        "clusters": [{"name": "c", "cluster": {
            "server": node.node.api.url,
            "certificate-authority-data": base64(&node.node.api.ca_pem),
        }}],
        "contexts": [{"name": "node", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {
            "token": KUBECONFIG_TOKEN,
            "client-key-data": base64(CLIENT_KEY),
        }}],
    });
    let path = node.path("kubeconfig");
    std::fs::write(&path, kubeconfig.to_string()).unwrap();
    path
}

#[test]
fn no_line_at_any_level_shows_a_credential() {
    use base64::Engine;
    let node = CheckNode::good();
    let kubeconfig = kubeconfig_with_credentials(&node);
    let secrets = [
        KUBECONFIG_TOKEN.to_string(),
        CLIENT_KEY.to_string(),
        base64::engine::general_purpose::STANDARD.encode(CLIENT_KEY),
        GLOBAL_PASSWORD.to_string(),
        basic_auth("global", GLOBAL_PASSWORD),
    ];
    for extra in [&[][..], &["--json"][..]] {
        let mut flags = node.check_flags();
        let at = flags.iter().position(|f| f == "--api-server").unwrap();
        flags.drain(at..at + 4); // --api-server URL --ca-file PATH: both from the kubeconfig
        flags.extend(["--kubeconfig".into(), kubeconfig.display().to_string()]);
        flags.extend(["--log-level".into(), "debug".into()]);
        flags.extend(extra.iter().map(|e| e.to_string()));
        let checked = node.check_with(&flags);
        assert_contains(
            &checked.stdout,
            "verified by the CA from certificate-authority-data of",
        );
        for secret in &secrets {
            assert!(
                !checked.stdout.contains(secret),
                "{secret} in:\n{}",
                checked.stdout
            );
            assert!(
                !checked.stderr.contains(secret),
                "{secret} in:\n{}",
                checked.stderr
            );
        }
    }
}

// --- journald and the global pull secret ----------------------------------------------------------

#[test]
fn a_node_without_journald_only_warns() {
    if std::path::Path::new("/run/systemd/journal/socket").exists() {
        eprintln!(
            "\n*** SKIPPED a_node_without_journald_only_warns: this machine has journald ***\n"
        );
        return;
    }
    let node = CheckNode::good();
    let checked = node.check(&[]);
    assert_eq!(checked.status.code(), Some(0), "{}", checked.stdout);
    let line = checked.line("journald");
    assert!(line.starts_with("WARN"), "{line}");
    assert_contains(line, "runs log to stderr only");
    assert_contains(Checked::fix(line), "start systemd-journald");
}

#[test]
fn a_global_pull_secret_that_is_not_json_fails_without_quoting_it() {
    let node = CheckNode::good();
    node.write(
        "config.json",
        &format!("{{\"auths\": {{\"quay.io\": {{\"password\": \"{GLOBAL_PASSWORD}\"}}"),
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "global-pull-secret");
    assert_contains(line, "is not valid JSON (line 1 column");
    assert!(
        !checked.stdout.contains(GLOBAL_PASSWORD),
        "{}",
        checked.stdout
    );
}

#[test]
fn a_global_pull_secret_for_a_mirrored_registry_warns_that_every_pod_may_run_its_images() {
    // Kubelet tries the node's credentials first: an image they pull is recorded as one every
    // pod on the node may run, though the pull went through the mirror with a namespace's file.
    let node = CheckNode::good();
    let global = docker_config_json(&[("https://index.docker.io/v1/", "global", GLOBAL_PASSWORD)]);
    node.write("config.json", &global);
    let checked = node.check(&[]);
    let line = checked.only_problem("WARN", "global-pull-secret-scope");
    assert_contains(line, "holds credentials for the mirrored docker.io");
    assert_contains(Checked::fix(line), "AlwaysPullImages");
    assert!(
        !checked.stdout.contains(GLOBAL_PASSWORD),
        "{}",
        checked.stdout
    );
}

#[test]
fn a_global_pull_secret_with_an_invalid_auth_value_fails() {
    let node = CheckNode::good();
    node.write(
        "config.json",
        "{\"auths\": {\"quay.io\": {\"auth\": \"not base64!\"}}}",
    );
    let checked = node.check(&[]);
    let line = checked.only_problem("FAIL", "global-pull-secret");
    assert_contains(
        line,
        "the auth field of entry \"quay.io\" is not base64 of user:password",
    );
}

#[test]
fn the_configuration_files_read_are_named() {
    let node = CheckNode::good();
    std::fs::write(node.node.configuration(), "log-level = \"info\"\n").unwrap();
    let checked = node.check(&[]);
    assert_contains(
        checked.line("configuration"),
        &format!("runs read {}", node.node.configuration().display()),
    );
}
