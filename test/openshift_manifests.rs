//! OpenShift: each rendered MachineConfig under packaging/openshift/ must say what its Butane
//! source says (Butane cannot be installed here, so the rendering is checked, not redone), install
//! the very files of contrib/, and be a valid Ignition config (`ignition-validate`); the cluster
//! e2e script's `--dry-run` must show every step; the shell scripts must be shellcheck-clean; the
//! RPM spec's Version, License and bundled(crate()) Provides are Cargo.toml's and Cargo.lock's.
//! The kubelet generator of the generic MachineConfigs is booted on the kubelet.service of each
//! release and of each update between them, and systemd (`systemd-analyze verify`) loads the result.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn yaml(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of an Ignition `data:` URL (percent-encoded, or base64).
fn decode_data_url(source: &str) -> Vec<u8> {
    let (header, data) = source
        .strip_prefix("data:")
        .and_then(|s| s.split_once(','))
        .expect("a data: URL");
    if header.ends_with(";base64") {
        return base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
    }
    let bytes = data.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(u8::from_str_radix(&data[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Every MachineConfig under packaging/openshift, by name (its `.bu` and its rendered `.yaml`).
fn manifests() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join("packaging/openshift"))
        .unwrap()
        .filter_map(|e| {
            e.unwrap()
                .file_name()
                .to_str()?
                .strip_suffix(".bu")
                .map(str::to_string)
        })
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        10,
        "mirror, aws, gcp, azure, generic for worker and master: {names:?}"
    );
    names
}

/// A Butane `mode` (`0644`, octal as Butane reads it) as the number Ignition gets.
fn butane_mode(mode: &Value) -> u64 {
    let digits = mode.as_f64().expect("a numeric mode") as u64;
    u64::from_str_radix(&digits.to_string(), 8).expect("octal digits")
}

/// The contrib/ file a MachineConfig installs, by its path on the node.
fn contrib_file(node_path: &str) -> PathBuf {
    let path = Path::new(node_path);
    let dir = match path.parent().unwrap().to_str().unwrap() {
        "/etc/containers/registries.conf.d" => "contrib/registries.conf.d",
        "/etc/kubernetes/credential-providers" => "contrib/kubelet/openshift",
        "/etc/systemd/system-generators" => "contrib/systemd/system-generators",
        other => panic!("no contrib/ counterpart for files in {other}"),
    };
    root().join(dir).join(path.file_name().unwrap())
}

#[test]
fn rendered_machineconfigs_match_their_butane_sources_and_contrib() {
    for name in manifests() {
        let dir = root().join("packaging/openshift");
        let source = yaml(&dir.join(format!("{name}.bu")));
        let rendered = yaml(&dir.join(format!("{name}.yaml")));
        assert_eq!(source["variant"], "openshift", "{name}");
        assert_eq!(rendered["kind"], "MachineConfig", "{name}");
        assert_eq!(
            rendered["metadata"]["name"], source["metadata"]["name"],
            "{name}: metadata.name"
        );
        assert_eq!(
            rendered["metadata"]["labels"], source["metadata"]["labels"],
            "{name}: the pool label"
        );
        assert!(
            name.contains(
                source["metadata"]["labels"]["machineconfiguration.openshift.io/role"]
                    .as_str()
                    .unwrap()
            )
        );
        let source_files = source["storage"]["files"].as_array().unwrap();
        let rendered_files = rendered["spec"]["config"]["storage"]["files"]
            .as_array()
            .unwrap();
        assert_eq!(
            source_files.len(),
            rendered_files.len(),
            "{name}: number of files"
        );
        for file in source_files {
            let path = file["path"].as_str().unwrap();
            let out = rendered_files
                .iter()
                .find(|f| f["path"] == path)
                .unwrap_or_else(|| panic!("{name}: {path} not rendered"));
            let inline = file["contents"]["inline"].as_str().unwrap();
            let decoded =
                String::from_utf8(decode_data_url(out["contents"]["source"].as_str().unwrap()))
                    .unwrap();
            assert_eq!(
                decoded, inline,
                "{name}: {path} differs from the Butane source"
            );
            let contrib = std::fs::read_to_string(contrib_file(path)).unwrap();
            assert_eq!(decoded, contrib, "{name}: {path} differs from contrib/");
            assert_eq!(
                out["mode"],
                butane_mode(&file["mode"]),
                "{name}: {path} mode"
            );
            assert_eq!(
                out["overwrite"], file["overwrite"],
                "{name}: {path} overwrite"
            );
        }
    }
}

#[test]
fn platform_configs_keep_the_platform_provider_and_add_ours_as_openshift_does() {
    for (file, expected) in [
        (
            "ecr-credential-provider.yaml",
            &["ecr-credential-provider", "crio-credential-provider"][..],
        ),
        (
            "gcr-credential-provider.yaml",
            &["gcr-credential-provider", "crio-credential-provider"],
        ),
        (
            "acr-credential-provider.yaml",
            &["acr-credential-provider", "crio-credential-provider"],
        ),
        // Elsewhere the MCO gives kubelet no provider: ours is the only one.
        (
            "crio-credential-provider.yaml",
            &["crio-credential-provider"],
        ),
    ] {
        let config = yaml(&root().join("contrib/kubelet/openshift").join(file));
        assert_eq!(config["apiVersion"], "kubelet.config.k8s.io/v1", "{file}");
        assert_eq!(config["kind"], "CredentialProviderConfig", "{file}");
        let providers = config["providers"].as_array().unwrap();
        let names: Vec<&str> = providers
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, expected, "{file}");
        let ours = providers.last().unwrap();
        assert_eq!(
            ours["apiVersion"], "credentialprovider.kubelet.k8s.io/v1",
            "{file}"
        );
        assert_eq!(ours["defaultCacheDuration"], "1s", "{file}");
        assert_eq!(
            ours["tokenAttributes"],
            serde_json::json!({"serviceAccountTokenAudience": "https://kubernetes.default.svc",
                               "cacheType": "Token", "requireServiceAccount": false}),
            "{file}"
        );
        assert!(
            !ours["matchImages"].as_array().unwrap().is_empty(),
            "{file}"
        );
    }
}

#[test]
fn rendered_ignition_configs_are_valid() {
    if !have("ignition-validate", "rendered_ignition_configs_are_valid") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in manifests() {
        let rendered = yaml(
            &root()
                .join("packaging/openshift")
                .join(format!("{name}.yaml")),
        );
        ignition_validate(&rendered, &name, dir.path());
    }
}

/// `ignition-validate` on the Ignition config of a MachineConfig.
fn ignition_validate(machineconfig: &Value, name: &str, scratch: &Path) {
    let mut config = machineconfig["spec"]["config"].clone();
    assert_eq!(config["ignition"]["version"], "3.4.0", "{name}");
    // Debian's ignition-validate (2.14) knows spec 3.4 only under its pre-release name.
    config["ignition"]["version"] = "3.4.0-experimental".into();
    let path = scratch.join(format!("{name}.ign"));
    std::fs::write(&path, config.to_string()).unwrap();
    let out = Command::new("ignition-validate")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{name}: ignition-validate refused it:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether `tool` is on the PATH (`support::parts_present`).
fn have(tool: &str, test: &str) -> bool {
    support::parts_present(test, false, &[tool], &[])
}

#[test]
fn openshift_e2e_dry_run_prints_every_step_and_cleans_up() {
    let out = Command::new("bash")
        .arg(root().join("test/openshift/e2e"))
        .args(["--dry-run", "--node", "worker-0"])
        .env("PATH", "/usr/bin:/bin") // no oc needed: nothing may reach a cluster
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let steps = [
        // A namespace of a previous run may still be terminating; the spec to restore is saved.
        "+ oc delete namespace ccp-e2e --ignore-not-found --wait=true",
        "+ oc get criocredentialproviderconfig cluster -o jsonpath={.spec.matchImages}",
        "+ oc get machineconfigpool master -o jsonpath={.spec.configuration.name}",
        "+ oc get machineconfigpool worker -o jsonpath={.spec.configuration.name}",
        "+ oc apply -f - <<EOF\napiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig",
        "+ oc patch criocredentialproviderconfig cluster --type merge -p {\"spec\":{\"matchImages\":[\"docker.io\"]}}",
        // Every pool, master included, renders a new configuration and applies it.
        "+ oc get machineconfigpool master -o jsonpath={.spec.configuration.name} until not rendered-master-before",
        "+ oc wait machineconfigpool/master --for=jsonpath={.status.configuration.name}=rendered-master-after",
        "+ oc wait machineconfigpool/master --for=condition=Updated=True",
        "+ oc get machineconfigpool worker -o jsonpath={.spec.configuration.name} until not rendered-worker-before",
        "+ oc wait machineconfigpool/worker --for=jsonpath={.status.configuration.name}=rendered-worker-after",
        "+ oc wait machineconfigpool/worker --for=condition=Updated=True",
        "+ oc debug -q node/worker-0 -- chroot /host sh -c podman rm -f --ignore ccp-e2e-registry && mkdir -p /var/tmp/ccp-e2e/auth",
        "+ oc create namespace ccp-e2e",
        "name: system:node:worker-0",
        "  namespace: ccp-e2e\ndata:\n",
        // A pod that exits 0 under restricted-v2.
        "spec:\n  nodeName: worker-0\n  restartPolicy: Never\n  securityContext:\n    runAsNonRoot: true\n    seccompProfile:\n      type: RuntimeDefault",
        "      command: [\"true\"]\n      securityContext:\n        allowPrivilegeEscalation: false\n        capabilities:\n          drop: [\"ALL\"]",
        "+ oc get events -n ccp-e2e --field-selector involvedObject.name=mirror-test,reason=Pulled -o name until it lists one",
        "+ oc wait -n ccp-e2e pod/mirror-test --for=jsonpath={.status.phase}=Succeeded",
        "_COMM=crio-credential | grep 'Wrote auth file to /etc/crio/auth/ccp-e2e-'",
        "-u crio | grep 'Using auth file for namespace ccp-e2e'",
        "== cleaning up\n+ oc delete namespace ccp-e2e --ignore-not-found --wait=true",
        // matchImages needs an item: an empty saved list is restored by removing the field.
        "+ oc patch criocredentialproviderconfig cluster --type json -p [{\"op\":\"remove\",\"path\":\"/spec/matchImages\"}]",
        "+ oc delete machineconfig 99-worker-ccp-e2e-mirror",
        "+ oc wait machineconfigpool/master --for=condition=Updated=True",
        "+ oc wait machineconfigpool/worker --for=condition=Updated=True",
        "+ oc debug -q node/worker-0 -- chroot /host sh -c podman rm -f --ignore ccp-e2e-registry && rm -rf /var/tmp/ccp-e2e",
    ];
    assert!(
        !stdout.contains(":[]}}"),
        "an empty matchImages is refused by the CRD: {stdout}"
    );
    for line in stdout.lines().filter(|l| l.starts_with("+ ")) {
        assert!(line.starts_with("+ oc "), "not an oc command: {line}");
    }
    let mut at = 0;
    for step in steps {
        let found = stdout[at..]
            .find(step)
            .unwrap_or_else(|| panic!("expected, in this order, {step:?} in:\n{stdout}"));
        at += found;
    }
    // The mirror the script installs is the one the test registry serves.
    let source = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("source: "))
        .expect("the MachineConfig's file source");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registries.conf"), decode_data_url(source)).unwrap();
    let mirrors = Command::new(env!("CARGO_BIN_EXE_crio-credential-provider"))
        .arg("mirrors")
        .arg("--registries-conf")
        .arg(dir.path().join("registries.conf"))
        .arg("--registries-conf-dir")
        .arg(dir.path())
        .arg("docker.io/library/nginx")
        .output()
        .unwrap();
    let answer: Value = serde_json::from_slice(&mirrors.stdout).unwrap();
    assert_eq!(answer["mirrors"], serde_json::json!(["localhost:5000"]));
}

#[test]
fn shell_scripts_are_shellcheck_clean() {
    if !have("shellcheck", "shell_scripts_are_shellcheck_clean") {
        return;
    }
    let scripts = [
        "test/openshift/e2e",
        GENERATOR,
        "test/registry/start",
        "test/registry/stop",
        "test/demo",
        ".ci/run",
    ];
    let out = Command::new("shellcheck")
        .args(scripts.map(|s| root().join(s)))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "shellcheck:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

const GENERATOR: &str = "contrib/systemd/system-generators/crio-credential-provider-kubelet";
const PLUGIN_DIR: &str = "/usr/libexec/kubelet-image-credential-provider-plugins";
const OUR_CONFIG: &str = "/etc/kubernetes/credential-providers/crio-credential-provider.yaml";
/// What the MCO renders for a CRIOCredentialProviderConfig on a platform without a cloud provider
/// (4.22+: helpers.go `generateDropinUnitCredProviderConfig`, constants.go
/// `KubeletCrioImageCredProviderConfPath`).
const MCO_CONFIG: &str = "/etc/kubernetes/credential-providers/generic-credential-provider.yaml";
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

/// Paths the MCO writes for kubelet on a platform without a cloud provider.
const MCO_PATHS: [&str; 3] = [
    "/etc/systemd/system/kubelet.service",
    "/etc/systemd/system/kubelet.service.d/40-kubelet-crio-image-credential-provider.conf",
    MCO_CONFIG,
];

#[test]
fn generic_machineconfigs_install_the_generator_and_our_config_at_paths_the_mco_does_not_write() {
    for role in ["worker", "master"] {
        let name = format!("99-{role}-crio-credential-provider-generic");
        let machineconfig = yaml(
            &root()
                .join("packaging/openshift")
                .join(format!("{name}.yaml")),
        );
        let files = machineconfig["spec"]["config"]["storage"]["files"]
            .as_array()
            .unwrap();
        let installed: Vec<(&str, &Value)> = files
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), &f["mode"]))
            .collect();
        assert_eq!(
            installed,
            [
                (OUR_CONFIG, &Value::from(0o644)),
                (
                    "/etc/systemd/system-generators/crio-credential-provider-kubelet",
                    &Value::from(0o755)
                ),
            ],
            "{name}"
        );
        for (path, _) in installed {
            assert!(!MCO_PATHS.contains(&path), "{name} writes the MCO's {path}");
        }
    }
}

const SPEC: &str = "packaging/crio-credential-provider.spec";
const CRATES_BEGIN: &str = "# BEGIN bundled crates";
const CRATES_END: &str = "# END bundled crates";

/// A crate compiled into a build: its name, its version as RPM spells it, its license expression.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CompiledCrate {
    name: String,
    rpm_version: String,
    license: String,
}

impl CompiledCrate {
    fn provides(&self) -> String {
        format!("bundled(crate({})) = {}", self.name, self.rpm_version)
    }
}

/// SemVer as an RPM version: build metadata carries no order and is dropped (`1.2.2+spec-1.1.0`
/// is 1.2.2); a pre-release sorts before its release, which is RPM's `~` (`1.0.0~rc.1`).
fn rpm_version(semver: &str) -> String {
    let release = semver.split('+').next().unwrap();
    release.replacen('-', "~", 1)
}

/// The crates `cargo build` compiles into the binary with these feature flags (`cargo tree -e normal`:
/// no build scripts' or tests' crates), this package first, for this platform.
fn compiled_crates(feature_flags: &[&str]) -> (CompiledCrate, Vec<CompiledCrate>) {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}\t{l}"])
        .args(feature_flags)
        .current_dir(root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut own = None;
    let mut crates = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        // A crate already shown is marked ` (*)` at the end of its line.
        let line = line.trim_end_matches(" (*)");
        let (package, license) = line.split_once('\t').unwrap();
        let mut words = package.split(' ');
        let name = words.next().unwrap().to_string();
        let version = words.next().unwrap().strip_prefix('v').unwrap();
        assert!(!license.is_empty(), "{name} {version} declares no license");
        let compiled = CompiledCrate {
            name,
            rpm_version: rpm_version(version),
            license: license.to_string(),
        };
        if package.contains(" (/") {
            own = Some(compiled);
        } else {
            crates.push(compiled);
        }
    }
    crates.sort();
    crates.dedup();
    (own.expect("this package in cargo tree"), crates)
}

/// The operands of a license expression joined by `operator` at its top level (outside parentheses).
fn split_top_level<'a>(expression: &'a str, operator: &str) -> Vec<&'a str> {
    let separator = format!(" {operator} ");
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in expression.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && expression[i..].starts_with(&separator) => {
                parts.push(expression[start..i].trim());
                start = i + separator.len();
            }
            _ => {}
        }
    }
    parts.push(expression[start..].trim());
    parts
}

/// The SPDX expression covering every license: each crate's conjuncts (the old `MIT/Apache-2.0`
/// is `MIT OR Apache-2.0`; `A OR B` and `B OR A` are one choice), all of them ANDed.
fn spdx_license(licenses: impl Iterator<Item = String>) -> String {
    let mut terms: Vec<String> = Vec::new();
    for license in licenses {
        let license = license.replace('/', " OR ");
        for conjunct in split_top_level(&license, "AND") {
            let conjunct = conjunct
                .strip_prefix('(')
                .and_then(|c| c.strip_suffix(')'))
                .unwrap_or(conjunct);
            let mut choices = split_top_level(conjunct, "OR");
            choices.sort();
            let term = if choices.len() > 1 {
                format!("({})", choices.join(" OR "))
            } else {
                choices[0].to_string()
            };
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    terms.sort_by_key(|t| (t.starts_with('('), t.clone()));
    terms.join(" AND ")
}

/// The spec's two builds: `--with openssl` (RHEL's) and `--without openssl` (the default rustls).
const SPEC_BUILDS: [(&str, &[&str]); 2] = [
    (
        "--with=openssl",
        &["--no-default-features", "--features", "openssl"],
    ),
    ("--without=openssl", &[]),
];

/// What the spec says of one build, through rpmspec itself.
fn rpmspec(build: &str, query: &[&str]) -> String {
    let out = Command::new("rpmspec")
        .args(["-q", build])
        .args(query)
        .arg(root().join(SPEC))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "rpmspec {build} {query:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The spec's generated block: License and bundled(crate()) Provides of each build, the crates in
/// both builds once.
fn bundled_crates_block(
    openssl: &(CompiledCrate, Vec<CompiledCrate>),
    rustls: &(CompiledCrate, Vec<CompiledCrate>),
) -> String {
    let license = |(own, crates): &(CompiledCrate, Vec<CompiledCrate>)| {
        spdx_license(
            std::iter::once(own)
                .chain(crates)
                .map(|c| c.license.clone()),
        )
    };
    let provides = |crates: &mut dyn Iterator<Item = &CompiledCrate>| -> String {
        crates
            .map(|c| format!("Provides:       {}\n", c.provides()))
            .collect()
    };
    let in_both = |c: &&CompiledCrate| openssl.1.contains(c) && rustls.1.contains(c);
    format!(
        "{CRATES_BEGIN}: generated by `make spec-crates` from Cargo.lock (do not edit).\n\
         # The crates compiled into each build (cargo tree -e normal) and their licenses.\n\
         %if %{{with openssl}}\n\
         License:        {}\n\
         %else\n\
         License:        {}\n\
         %endif\n\
         {}\
         %if %{{with openssl}}\n\
         {}\
         %else\n\
         {}\
         %endif\n\
         {CRATES_END}\n",
        license(openssl),
        license(rustls),
        provides(&mut openssl.1.iter().filter(in_both)),
        provides(&mut openssl.1.iter().filter(|c| !in_both(c))),
        provides(&mut rustls.1.iter().filter(|c| !in_both(c))),
    )
}

#[test]
fn spec_version_is_cargo_tomls() {
    if !have("rpmspec", "spec_version_is_cargo_tomls") {
        return;
    }
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let version = manifest["package"]["version"].as_str().unwrap();
    for (build, _) in SPEC_BUILDS {
        assert_eq!(
            rpmspec(build, &["--qf", "%{VERSION}\n"]),
            format!("{version}\n")
        );
    }
}

/// `make spec-crates` runs this test with UPDATE_SPEC_CRATES=1 to rewrite the block.
#[test]
fn spec_license_and_bundled_provides_are_the_crates_compiled_into_each_build() {
    if !have(
        "rpmspec",
        "spec_license_and_bundled_provides_are_the_crates_compiled_into_each_build",
    ) {
        return;
    }
    let [openssl, rustls] = SPEC_BUILDS.map(|(_, flags)| compiled_crates(flags));
    if std::env::var_os("UPDATE_SPEC_CRATES").is_some() {
        let spec = std::fs::read_to_string(root().join(SPEC)).unwrap();
        let begin = spec.find(CRATES_BEGIN).expect("the spec's BEGIN line");
        let end = spec[begin..].find(CRATES_END).expect("the spec's END line") + begin;
        let end = end + spec[end..].find('\n').unwrap() + 1;
        let block = bundled_crates_block(&openssl, &rustls);
        std::fs::write(
            root().join(SPEC),
            format!("{}{block}{}", &spec[..begin], &spec[end..]),
        )
        .unwrap();
    }
    for ((build, _), (own, crates)) in SPEC_BUILDS.iter().zip([&openssl, &rustls]) {
        let expected_license = spdx_license(
            std::iter::once(own)
                .chain(crates)
                .map(|c| c.license.clone()),
        );
        assert_eq!(
            rpmspec(build, &["--qf", "%{LICENSE}\n"]).trim_end(),
            expected_license,
            "{SPEC} {build}: License (make spec-crates rewrites it)"
        );
        let provides = rpmspec(build, &["--provides"]);
        let mut bundled: Vec<&str> = provides
            .lines()
            .filter(|l| l.starts_with("bundled(crate("))
            .collect();
        bundled.sort();
        let mut expected: Vec<String> = crates.iter().map(CompiledCrate::provides).collect();
        expected.sort();
        assert_eq!(
            bundled, expected,
            "{SPEC} {build}: bundled(crate()) Provides (make spec-crates rewrites them)"
        );
    }
}

#[test]
fn rpm_versions_of_semver() {
    assert_eq!(rpm_version("1.0.228"), "1.0.228");
    assert_eq!(rpm_version("1.2.2+spec-1.1.0"), "1.2.2");
    assert_eq!(rpm_version("1.0.0-rc.1"), "1.0.0~rc.1");
}

#[test]
fn spdx_license_ands_each_distinct_choice_once() {
    let licenses = [
        "Apache-2.0",
        "MIT/Apache-2.0",
        "Apache-2.0 OR MIT",
        "Apache-2.0 AND ISC",
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        "Unlicense OR MIT",
    ];
    assert_eq!(
        spdx_license(licenses.iter().map(|l| l.to_string())),
        "Apache-2.0 AND ISC AND Unicode-3.0 AND (Apache-2.0 OR MIT) AND (MIT OR Unlicense)"
    );
}

/// The stages of a Containerfile: each `FROM` line with the instructions under it, continuation
/// lines joined.
fn containerfile_stages(text: &str) -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    let mut logical = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        if let Some(continued) = line.strip_suffix('\\') {
            logical.push_str(continued);
            continue;
        }
        logical.push_str(line);
        let instruction = std::mem::take(&mut logical).trim().to_string();
        if let Some(from) = instruction.strip_prefix("FROM ") {
            stages.push((from.to_string(), Vec::new()));
        } else if !instruction.is_empty()
            && let Some((_, body)) = stages.last_mut()
        {
            body.push(instruction);
        }
    }
    stages
}

/// What both layerings run to put the RPM in place of the Go implementation.
const LAYERING_INSTALL: &str = "rpm-ostree override remove ose-crio-credential-provider";

#[test]
fn layering_image_builds_the_openssl_rpm_with_rust_toolset_in_ubi() {
    let text = std::fs::read_to_string(root().join("packaging/openshift/Containerfile")).unwrap();
    let stages = containerfile_stages(&text);
    let from: Vec<&str> = stages.iter().map(|(from, _)| from.as_str()).collect();
    assert_eq!(
        from,
        [
            "${UBI_IMAGE} AS rpm",
            "scratch AS rpm-image",
            "${RHCOS_IMAGE}"
        ]
    );
    assert!(text.contains("ARG UBI_IMAGE=registry.access.redhat.com/ubi9/ubi"));
    let build = stages[0].1.join("\n");
    assert!(build.contains("dnf -y install rust-toolset openssl-devel rpm-build"));
    // On RHEL (UBI defines %rhel) the spec builds --with openssl: the FIPS build.
    assert!(build.contains(
        "rpmbuild -bb --define \"_topdir /rpmbuild\" packaging/crio-credential-provider.spec"
    ));
    assert!(build.contains("grep -q '^bundled(crate(openssl))'"));
    assert_eq!(stages[1].1, ["COPY --from=rpm /out/ /"]);
    assert!(stages[2].1.iter().any(|i| i.contains(LAYERING_INSTALL)));
    // The RUN of the build stage is plain sh.
    let run = build
        .lines()
        .find_map(|l| l.strip_prefix("RUN set -eu;"))
        .expect("the build's RUN");
    let out = Command::new("sh").args(["-n", "-c", run]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn on_cluster_layering_ends_in_the_configs_stage_with_the_rpm_from_an_image() {
    let config = yaml(
        &root().join("packaging/openshift/99-worker-crio-credential-provider-machineosconfig.yaml"),
    );
    assert_eq!(config["apiVersion"], "machineconfiguration.openshift.io/v1");
    assert_eq!(config["kind"], "MachineOSConfig");
    assert_eq!(config["spec"]["machineConfigPool"]["name"], "worker");
    assert_eq!(config["spec"]["imageBuilder"]["imageBuilderType"], "Job");
    let containerfiles = config["spec"]["containerFile"].as_array().unwrap();
    assert_eq!(containerfiles.len(), 1);
    assert_eq!(containerfiles[0]["containerfileArch"], "NoArch");
    let stages = containerfile_stages(containerfiles[0]["content"].as_str().unwrap());
    assert!(
        stages[0]
            .0
            .ends_with("/crio-credential-provider-rpm:<version> AS rpm")
    );
    let (last, body) = stages.last().unwrap();
    assert_eq!(
        last, "configs AS final",
        "the MCO injects its configs into this stage"
    );
    assert!(body[0].starts_with("COPY --from=rpm / "));
    assert!(body[1].contains(LAYERING_INSTALL));
}

#[test]
fn kubeadm_example_asks_for_kubeadms_api_audience() {
    let config = yaml(&root().join("contrib/kubelet/credential-provider-config.yaml"));
    assert_eq!(
        config["providers"][0]["tokenAttributes"]["serviceAccountTokenAudience"],
        "https://kubernetes.default.svc.cluster.local",
        "kubeadm's --service-account-issuer, the default of its --api-audiences"
    );
}

#[test]
fn nodes_may_request_tokens_for_the_audiences_the_example_configs_ask_for() {
    let text =
        std::fs::read_to_string(root().join("contrib/rbac/node-token-audience.yaml")).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let role = documents
        .iter()
        .find(|d| d["kind"] == "ClusterRole")
        .unwrap();
    assert_eq!(
        role["rules"][0]["verbs"][0],
        "request-serviceaccounts-token-audience"
    );
    let granted = role["rules"][0]["resources"].as_array().unwrap();
    for config in [
        "contrib/kubelet/credential-provider-config.yaml",
        "contrib/kubelet/openshift/crio-credential-provider.yaml",
    ] {
        let config = yaml(&root().join(config));
        let provider = config["providers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "crio-credential-provider")
            .unwrap();
        let audience = &provider["tokenAttributes"]["serviceAccountTokenAudience"];
        assert!(granted.contains(audience), "{audience} is not granted");
    }
}

/// A file a MachineConfig installs: its path on the node, its mode, its source in contrib/.
struct NodeFile {
    path: &'static str,
    mode: u32,
    contrib: &'static str,
}

/// The MachineConfigs of packaging/openshift, per kind (one for each of the worker and master
/// pools): what the header says, and the contrib/ files they install.
fn machineconfig_kinds() -> Vec<(&'static str, String, Vec<NodeFile>)> {
    let platform = |kind: &'static str, provider: &'static str| {
        let path = match provider {
            "ecr" => "/etc/kubernetes/credential-providers/ecr-credential-provider.yaml",
            "gcr" => "/etc/kubernetes/credential-providers/gcr-credential-provider.yaml",
            _ => "/etc/kubernetes/credential-providers/acr-credential-provider.yaml",
        };
        (
            kind,
            format!(
                "On {kind}, kubelet reads {path}: this\n\
                 replaces it with the MCO's own {provider} entry plus crio-credential-provider, and freezes that\n\
                 entry at this copy. Never apply it where CRIOCredentialProviderConfig is used (4.22 TechPreview,\n\
                 4.23): as 99-* it overrides the MCO's 97-<pool>-generated-credentialproviderconfig.\n"
            ),
            vec![NodeFile {
                path,
                mode: 0o644,
                contrib: match provider {
                    "ecr" => "contrib/kubelet/openshift/ecr-credential-provider.yaml",
                    "gcr" => "contrib/kubelet/openshift/gcr-credential-provider.yaml",
                    _ => "contrib/kubelet/openshift/acr-credential-provider.yaml",
                },
            }],
        )
    };
    vec![
        platform("aws", "ecr"),
        platform("azure", "acr"),
        platform("gcp", "gcr"),
        (
            "generic",
            "On a platform without a cloud credential provider (None, External, bare metal, vSphere,\n\
             OpenStack...): our kubelet credential provider config and the systemd generator that wires\n\
             kubelet at every boot from the kubelet.service installed then (packaging/openshift/README.md).\n"
                .to_string(),
            vec![
                NodeFile {
                    path: OUR_CONFIG,
                    mode: 0o644,
                    contrib: "contrib/kubelet/openshift/crio-credential-provider.yaml",
                },
                NodeFile {
                    path: "/etc/systemd/system-generators/crio-credential-provider-kubelet",
                    mode: 0o755,
                    contrib: GENERATOR,
                },
            ],
        ),
        (
            "mirror",
            "Installs the example mirror configuration of contrib/registries.conf.d/. Each change drains and\n\
             reboots the pool's nodes; prefer an ImageDigestMirrorSet/ImageTagMirrorSet where they do.\n"
                .to_string(),
            vec![NodeFile {
                path: "/etc/containers/registries.conf.d/50-crio-credential-provider-mirror.conf",
                mode: 0o644,
                contrib: "contrib/registries.conf.d/50-crio-credential-provider-mirror.conf",
            }],
        ),
    ]
}

/// An Ignition `data:` URL of the bytes, percent-encoded as Butane does for uncompressed files.
fn data_url(text: &str) -> String {
    let mut url = String::from("data:,");
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// The Butane source and the rendered MachineConfig of one kind for one pool.
fn render_machineconfig(
    kind: &str,
    header: &str,
    files: &[NodeFile],
    role: &str,
) -> (String, String) {
    let name = format!("99-{role}-crio-credential-provider-{kind}");
    let mut butane = format!(
        "# Generated by `make manifests` from contrib/ (test/openshift_manifests.rs); do not edit.\n\
         # The Butane source of {name}.yaml, for the {role} pool.\n"
    );
    for line in header.lines() {
        butane.push_str(&format!("# {line}\n"));
    }
    butane.push_str(&format!(
        "variant: openshift\nversion: 4.18.0\nmetadata:\n  name: {name}\n  labels:\n    \
         machineconfiguration.openshift.io/role: {role}\nstorage:\n  files:\n"
    ));
    let mut rendered = format!(
        "# Generated by `make manifests` from contrib/ as Butane renders {name}.bu; do not edit.\n\
         apiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig\nmetadata:\n  labels:\n    \
         machineconfiguration.openshift.io/role: {role}\n  name: {name}\nspec:\n  config:\n    ignition:\n      \
         version: 3.4.0\n    storage:\n      files:\n"
    );
    for file in files {
        let text = std::fs::read_to_string(root().join(file.contrib)).unwrap();
        butane.push_str(&format!(
            "    - path: {}\n      mode: 0{:o}\n      overwrite: true\n      contents:\n        inline: |\n",
            file.path, file.mode
        ));
        for line in text.lines() {
            if line.is_empty() {
                butane.push('\n');
            } else {
                butane.push_str(&format!("          {line}\n"));
            }
        }
        rendered.push_str(&format!(
            "        - contents:\n            compression: \"\"\n            source: {}\n          \
             mode: {}\n          overwrite: true\n          path: {}\n",
            data_url(&text),
            file.mode,
            file.path
        ));
    }
    (butane, rendered)
}

/// `make manifests` runs this test with UPDATE_MANIFESTS=1 to write them.
#[test]
fn machineconfigs_are_generated_from_contrib() {
    let update = std::env::var_os("UPDATE_MANIFESTS").is_some();
    let dir = root().join("packaging/openshift");
    let mut stale = Vec::new();
    for (kind, header, files) in machineconfig_kinds() {
        for role in ["worker", "master"] {
            let (butane, rendered) = render_machineconfig(kind, &header, &files, role);
            let name = format!("99-{role}-crio-credential-provider-{kind}");
            for (path, text) in [
                (dir.join(format!("{name}.bu")), butane),
                (dir.join(format!("{name}.yaml")), rendered),
            ] {
                if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                    if update {
                        std::fs::write(&path, text).unwrap();
                    } else {
                        stale.push(path.display().to_string());
                    }
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "not what `make manifests` generates from contrib/: {stale:?}"
    );
}
