//! The kubelet generator of the generic MachineConfigs (contrib/systemd/system-generators/): booted
//! on the kubelet.service of each release and of each update between them (test/data/openshift/),
//! with and without the MCO's drop-in; systemd (`systemd-analyze verify`) loads the result and
//! kubelet runs the installed unit's own command with exactly one credential provider.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::packaging::*;

const PLUGIN_DIR: &str = "/usr/libexec/kubelet-image-credential-provider-plugins";
const MCO_DROP_IN: &str = "40-kubelet-crio-image-credential-provider.conf";
const MCO_DROP_IN_CONTENTS: &str = "[Service]\n\
    # Prepends the credential provider flags to the existing Kubelet arguments\n\
    Environment=\"KUBELET_CRIO_IMAGE_CREDENTIAL_PROVIDER_FLAGS=--image-credential-provider-bin-dir=/usr/libexec/kubelet-image-credential-provider-plugins --image-credential-provider-config=/etc/kubernetes/credential-providers/generic-credential-provider.yaml\"\n";

/// A node's systemd configuration in a scratch directory: `etc/` persists across reboots as on
/// RHCOS, `run/` is what the boot's generators wrote.
struct Node {
    root: tempfile::TempDir,
}

impl Node {
    /// A node of `release` (a fixture of test/data/openshift/) with our MachineConfig applied: our
    /// kubelet credential provider config and the generator. The MCO's kubenswrapper does not
    /// exist here, so /bin/true stands in for it.
    fn with_our_machineconfig(release: &str) -> Node {
        let node = Node {
            root: tempfile::tempdir().unwrap(),
        };
        let config = node.path(OUR_CONFIG);
        std::fs::create_dir_all(config.parent().unwrap()).unwrap();
        std::fs::copy(
            root().join("contrib/kubelet/openshift/crio-credential-provider.yaml"),
            config,
        )
        .unwrap();
        std::fs::create_dir_all(node.path("/etc/systemd/system/kubelet.service.d")).unwrap();
        for (name, contents) in [
            ("crio.service", "[Service]\nExecStart=/bin/true\n"),
            (
                "kubelet-dependencies.target",
                "[Unit]\nDescription=stand-in\n",
            ),
        ] {
            std::fs::write(node.path("/etc/systemd/system").join(name), contents).unwrap();
        }
        node.install_kubelet_service(release);
        node
    }

    fn path(&self, node_path: &str) -> PathBuf {
        self.root.path().join(node_path.trim_start_matches('/'))
    }

    /// The MCO writes the release's kubelet.service (an update, then a reboot).
    fn install_kubelet_service(&self, release: &str) {
        let unit = std::fs::read_to_string(
            root().join(format!("test/data/openshift/kubelet-{release}.service")),
        )
        .unwrap()
        .replace("/usr/local/bin/kubenswrapper", "/bin/true");
        std::fs::write(self.path("/etc/systemd/system/kubelet.service"), unit).unwrap();
    }

    /// The MCO's drop-in for a CRIOCredentialProviderConfig (4.22+).
    fn apply_crio_credential_provider_config(&self) {
        std::fs::write(
            self.path("/etc/systemd/system/kubelet.service.d")
                .join(MCO_DROP_IN),
            MCO_DROP_IN_CONTENTS,
        )
        .unwrap();
    }

    /// Runs the generator as systemd does at boot (a fresh /run), with this node's paths.
    fn run_generator(&self) -> std::process::Output {
        let run = self.path("/run/systemd");
        let _ = std::fs::remove_dir_all(&run);
        std::fs::create_dir_all(&run).unwrap();
        Command::new(root().join(GENERATOR))
            .args(["generator", "generator.early", "generator.late"].map(|d| run.join(d)))
            .env(
                "CRIO_CREDENTIAL_PROVIDER_KUBELET_UNIT",
                self.path("/etc/systemd/system/kubelet.service"),
            )
            .env("CRIO_CREDENTIAL_PROVIDER_CONFIG", self.path(OUR_CONFIG))
            .env("PATH", "/usr/bin:/bin")
            .output()
            .unwrap()
    }

    fn generated_nothing(&self) -> bool {
        !self
            .path("/run/systemd/generator/kubelet.service.d")
            .exists()
    }

    /// Boots: the generator runs, systemd itself loads kubelet.service with every drop-in
    /// (`systemd-analyze verify` refuses, among others, a notify service with two commands), and
    /// the result is kubelet's command line.
    fn boot(&self) -> Vec<String> {
        let out = self.run_generator();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "generator: {out:?}"
        );
        if have("systemd-analyze", "Node::boot") {
            let unit_path = format!(
                "{}:{}:",
                self.path("/etc/systemd/system").display(),
                self.path("/run/systemd/generator").display()
            );
            let verify = Command::new("systemd-analyze")
                .args(["verify", "--man=no"])
                .arg(self.path("/etc/systemd/system/kubelet.service"))
                .env("SYSTEMD_UNIT_PATH", unit_path)
                .output()
                .unwrap();
            assert!(
                verify.status.success() && verify.stderr.is_empty(),
                "systemd-analyze verify:\n{}",
                String::from_utf8_lossy(&verify.stderr)
            );
        }
        self.kubelet_command()
    }

    /// kubelet.service and its drop-ins, in the order systemd applies them: the unit, then the
    /// drop-ins of every directory sorted by file name.
    fn kubelet_unit_files(&self) -> Vec<String> {
        let mut drop_ins: Vec<PathBuf> = ["/etc/systemd/system", "/run/systemd/generator"]
            .iter()
            .filter_map(|dir| std::fs::read_dir(self.path(dir).join("kubelet.service.d")).ok())
            .flat_map(|entries| entries.map(|e| e.unwrap().path()))
            .collect();
        drop_ins.sort_by_key(|p| p.file_name().unwrap().to_owned());
        std::iter::once(self.path("/etc/systemd/system/kubelet.service"))
            .chain(drop_ins)
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }

    /// kubelet's argv as systemd builds it from the `[Service]` settings (systemd.service(5)): the
    /// last `ExecStart=` after the last reset, `$NAME` alone a word split into the variable's
    /// words, the variables from the last `Environment=` assigning them.
    fn kubelet_command(&self) -> Vec<String> {
        let mut command = String::new();
        let mut environment = std::collections::BTreeMap::new();
        for file in self.kubelet_unit_files() {
            for (key, value) in service_settings(&file) {
                match key.as_str() {
                    "ExecStart" => command = value,
                    "Environment" => {
                        let assignment = value.trim_matches('"');
                        let (name, value) = assignment.split_once('=').unwrap();
                        environment.insert(name.to_string(), value.to_string());
                    }
                    _ => {}
                }
            }
        }
        command
            .split_whitespace()
            .flat_map(|word| match word.strip_prefix('$') {
                Some(name) if !name.starts_with('{') => environment
                    .get(name)
                    .map(|v| v.split_whitespace().map(str::to_string).collect())
                    .unwrap_or_default(),
                _ => vec![word.to_string()],
            })
            .collect()
    }
}

/// The `key=value` settings of a unit file's `[Service]` section, continuation lines joined.
fn service_settings(unit: &str) -> Vec<(String, String)> {
    let mut settings = Vec::new();
    let mut in_service = false;
    let mut logical = String::new();
    for line in unit.lines() {
        if let Some(continued) = line.strip_suffix('\\') {
            logical.push_str(continued);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let setting = std::mem::take(&mut logical);
        let setting = setting.trim();
        if setting.starts_with('[') {
            in_service = setting == "[Service]";
        } else if in_service
            && !setting.starts_with('#')
            && let Some((key, value)) = setting.split_once('=')
        {
            settings.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    settings
}

/// The words of the installed kubelet.service's own `ExecStart=`, without a `$` variable.
fn unit_command(node: &Node) -> Vec<String> {
    let unit = std::fs::read_to_string(node.path("/etc/systemd/system/kubelet.service")).unwrap();
    let (_, command) = service_settings(&unit)
        .into_iter()
        .find(|(key, _)| key == "ExecStart")
        .unwrap();
    command
        .split_whitespace()
        .filter(|w| !w.starts_with('$'))
        .map(str::to_string)
        .collect()
}

/// kubelet's command is the installed unit's own with exactly one of each credential provider flag.
fn assert_kubelet_runs_the_unit_with_one_provider(node: &Node, config: &str, context: &str) {
    let command = node.boot();
    let flag = |name: &str| -> Vec<&String> {
        command
            .iter()
            .filter(|w| w.starts_with(&format!("--image-credential-provider-{name}")))
            .collect()
    };
    assert_eq!(
        flag("bin-dir"),
        [&format!("--image-credential-provider-bin-dir={PLUGIN_DIR}")],
        "{context}: {command:?}"
    );
    assert_eq!(
        flag("config"),
        [&format!("--image-credential-provider-config={config}")],
        "{context}: {command:?}"
    );
    let rest: Vec<String> = command
        .iter()
        .filter(|w| !w.starts_with("--image-credential-provider-"))
        .cloned()
        .collect();
    assert_eq!(rest, unit_command(node), "{context}");
}

/// The releases' kubelet.service fixtures a node is updated through, per platform kind.
const UPDATES: [(&str, &str); 4] = [
    ("4.21-base", "4.22-base"),
    ("4.22-base", "4.23-base"),
    ("4.21-on-prem", "4.22-on-prem"),
    ("4.22-on-prem", "4.23-on-prem"),
];

#[test]
fn kubelet_runs_the_installed_units_command_with_our_provider_on_every_release() {
    for release in [
        "4.21-base",
        "4.21-on-prem",
        "4.22-base",
        "4.22-on-prem",
        "4.23-base",
        "4.23-on-prem",
    ] {
        let node = Node::with_our_machineconfig(release);
        assert_kubelet_runs_the_unit_with_one_provider(
            &node,
            &node_path(&node, OUR_CONFIG),
            release,
        );
    }
}

/// Our config's path as the generator sees it on the scratch node.
fn node_path(node: &Node, path: &str) -> String {
    node.path(path).display().to_string()
}

#[test]
fn an_update_meets_no_stale_kubelet_command() {
    for (from, to) in UPDATES {
        let node = Node::with_our_machineconfig(from);
        let before = node.boot();
        node.install_kubelet_service(to);
        let context = format!("{from} updated to {to}");
        assert_kubelet_runs_the_unit_with_one_provider(
            &node,
            &node_path(&node, OUR_CONFIG),
            &context,
        );
        let after = node.boot();
        let removed: Vec<&String> = before
            .iter()
            .filter(|w| {
                !unit_command(&node).contains(w) && !w.starts_with("--image-credential-provider-")
            })
            .collect();
        for word in &removed {
            assert!(
                !after.contains(word),
                "{context}: {word} survived: {after:?}"
            );
        }
        let drop_ins = node.kubelet_unit_files()[1..].join("");
        assert!(
            !drop_ins.contains("EnvironmentFile"),
            "{context}: {drop_ins}"
        );
    }
    // What the fixtures change, so the loop above had something to prove.
    let words = |release: &str| unit_command(&Node::with_our_machineconfig(release));
    assert!(
        words("4.21-base")
            .iter()
            .any(|w| w.starts_with("--pod-infra-container-image="))
    );
    assert!(
        !words("4.22-base")
            .iter()
            .any(|w| w.starts_with("--pod-infra-container-image="))
    );
    assert!(
        words("4.22-on-prem")
            .iter()
            .any(|w| w.starts_with("--system-reserved="))
    );
    assert!(
        !words("4.23-on-prem")
            .iter()
            .any(|w| w.starts_with("--system-reserved="))
    );
}

#[test]
fn a_crio_credential_provider_config_from_the_mco_takes_over_ours() {
    for release in ["4.22-base", "4.22-on-prem", "4.23-base", "4.23-on-prem"] {
        let node = Node::with_our_machineconfig(release);
        node.apply_crio_credential_provider_config();
        assert_kubelet_runs_the_unit_with_one_provider(&node, MCO_CONFIG, release);
    }
}

#[test]
fn the_generator_sets_only_the_variable_where_the_unit_expands_it() {
    let node = Node::with_our_machineconfig("4.22-on-prem");
    node.boot();
    let generated = std::fs::read_to_string(
        node.path("/run/systemd/generator/kubelet.service.d/30-crio-credential-provider.conf"),
    )
    .unwrap();
    let settings: Vec<String> = service_settings(&generated)
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(settings, ["Environment"]);
}

#[test]
fn the_generator_writes_nothing_for_a_node_without_our_config() {
    let node = Node::with_our_machineconfig("4.21-base");
    std::fs::remove_file(node.path(OUR_CONFIG)).unwrap();
    let out = node.run_generator();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert!(node.generated_nothing());
}

#[test]
fn the_generator_leaves_a_kubelet_with_a_cloud_provider_alone() {
    let node = Node::with_our_machineconfig("4.22-base");
    let unit_path = node.path("/etc/systemd/system/kubelet.service");
    let aws = std::fs::read_to_string(&unit_path).unwrap().replace(
        "      --cloud-provider= \\\n       \\\n",
        "      --cloud-provider=external \\\n      --image-credential-provider-bin-dir=/usr/libexec/kubelet-image-credential-provider-plugins --image-credential-provider-config=/etc/kubernetes/credential-providers/ecr-credential-provider.yaml \\\n",
    );
    assert!(aws.contains("ecr-credential-provider"));
    std::fs::write(&unit_path, aws).unwrap();
    let out = node.run_generator();
    assert!(out.status.success() && out.stderr.is_empty(), "{out:?}");
    assert!(node.generated_nothing());
}

#[test]
fn the_generator_refuses_a_unit_without_exactly_one_exec_start() {
    let node = Node::with_our_machineconfig("4.21-base");
    let unit_path = node.path("/etc/systemd/system/kubelet.service");
    std::fs::write(
        &unit_path,
        "[Service]\nType=notify\nExecStartPre=/bin/true\n",
    )
    .unwrap();
    let out = node.run_generator();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "crio-credential-provider-kubelet: {}: kubelet.service must have exactly one ExecStart= in [Service]; kubelet runs without crio-credential-provider\n",
            unit_path.display()
        )
    );
    assert!(node.generated_nothing());
}
