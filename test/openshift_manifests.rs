//! OpenShift: each rendered MachineConfig under packaging/openshift/ must say what its Butane
//! source says (Butane cannot be installed here, so the rendering is checked, not redone), install
//! the very files of contrib/, and be a valid Ignition config (`ignition-validate`); the cluster
//! e2e script's `--dry-run` must show every step; the shell scripts must be shellcheck-clean; the
//! RPM spec's Version, License and bundled(crate()) Provides are Cargo.toml's and Cargo.lock's.

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
        8,
        "mirror, aws, gcp, azure for worker and master: {names:?}"
    );
    names
}

/// The contrib/ file a MachineConfig installs, by its path on the node.
fn contrib_file(node_path: &str) -> PathBuf {
    let path = Path::new(node_path);
    let dir = match path.parent().unwrap().to_str().unwrap() {
        "/etc/containers/registries.conf.d" => "contrib/registries.conf.d",
        "/etc/kubernetes/credential-providers" => "contrib/kubelet/openshift",
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
            assert_eq!(out["mode"], 0o644, "{name}: {path} mode");
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
            "generic-credential-provider.yaml",
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

/// Whether `tool` is on the PATH; in CI a missing tool fails the test, elsewhere it skips loudly.
fn have(tool: &str, test: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: {tool} is missing (.ci/run installs it)"
        );
        eprintln!("\n*** SKIPPED {test}: {tool} is missing ***\n");
    }
    found
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
        "+ oc apply -f - <<EOF\napiVersion: machineconfiguration.openshift.io/v1\nkind: MachineConfig",
        "+ oc patch criocredentialproviderconfig cluster --type merge -p {\"spec\":{\"matchImages\":[\"docker.io\"]}}",
        "+ oc wait machineconfigpool/worker --for=condition=Updated=True",
        "+ oc debug -q node/worker-0 -- chroot /host sh -c mkdir -p /var/tmp/ccp-e2e/auth",
        "+ oc create namespace ccp-e2e",
        "name: system:node:worker-0",
        "  namespace: ccp-e2e\ndata:\n",
        "spec:\n  nodeName: worker-0",
        "+ oc wait -n ccp-e2e pod/mirror-test --for=condition=Ready",
        "_COMM=crio-credential | grep 'Wrote auth file to /etc/crio/auth/ccp-e2e-'",
        "-u crio | grep 'Using auth file for namespace ccp-e2e'",
        "== cleaning up\n+ oc delete namespace ccp-e2e",
        "+ oc delete machineconfig 99-worker-ccp-e2e-mirror",
    ];
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
        "packaging/openshift/generic-kubelet-machineconfig",
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

const GENERIC_SCRIPT: &str = "packaging/openshift/generic-kubelet-machineconfig";
const DROP_IN: &str =
    "/etc/systemd/system/kubelet.service.d/40-kubelet-crio-image-credential-provider.conf";

/// Runs the generic MachineConfig generator on a kubelet.service file.
fn generic_machineconfig(role: &str, kubelet_service: &Path) -> std::process::Output {
    Command::new("bash")
        .arg(root().join(GENERIC_SCRIPT))
        .args(["--role", role, "--kubelet-service"])
        .arg(kubelet_service)
        .env("PATH", "/usr/bin:/bin") // no oc: the unit comes from the file
        .output()
        .unwrap()
}

/// The files of a generated MachineConfig, by path on the node, decoded.
fn generated_files(role: &str, kubelet_service: &Path) -> (Value, Vec<(String, String)>) {
    let out = generic_machineconfig(role, kubelet_service);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let machineconfig: Value = serde_saphyr::from_str(std::str::from_utf8(&out.stdout).unwrap())
        .expect("the generator prints one MachineConfig");
    let files = machineconfig["spec"]["config"]["storage"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| {
            assert_eq!(file["mode"], 0o644);
            assert_eq!(file["overwrite"], true);
            let contents = decode_data_url(file["contents"]["source"].as_str().unwrap());
            (
                file["path"].as_str().unwrap().to_string(),
                String::from_utf8(contents).unwrap(),
            )
        })
        .collect();
    (machineconfig, files)
}

/// The `ExecStart=` of a unit with its continuation lines, as written.
fn exec_start(unit: &str) -> String {
    let mut lines = unit.lines().skip_while(|l| !l.starts_with("ExecStart="));
    let mut block = Vec::new();
    for line in lines.by_ref() {
        block.push(line);
        if !line.ends_with('\\') {
            break;
        }
    }
    block.join("\n")
}

#[test]
fn generic_machineconfig_runs_kubelets_own_command_with_the_credential_provider_flags() {
    for role in ["worker", "master"] {
        let fixture = root().join(format!("test/data/openshift/kubelet-{role}.service"));
        let unit = std::fs::read_to_string(&fixture).unwrap();
        let (machineconfig, files) = generated_files(role, &fixture);
        assert_eq!(
            machineconfig["metadata"]["name"],
            format!("99-{role}-crio-credential-provider-generic")
        );
        assert_eq!(
            machineconfig["metadata"]["labels"]["machineconfiguration.openshift.io/role"],
            role
        );
        let paths: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/etc/kubernetes/credential-providers/generic-credential-provider.yaml",
                DROP_IN
            ]
        );
        assert_eq!(
            files[0].1,
            std::fs::read_to_string(contrib_file(&files[0].0)).unwrap()
        );
        let drop_in = &files[1].1;
        let expected = format!(
            "[Service]\n\
             ExecStartPre=-/bin/sh -c 'echo \"{}  /etc/systemd/system/kubelet.service\" | sha256sum --check --status || echo \"{DROP_IN} was made from another kubelet.service: regenerate it with generic-kubelet-machineconfig\" >&2'\n\
             ExecStart=\n\
             {} \\\n        \
             --image-credential-provider-bin-dir=/usr/libexec/kubelet-image-credential-provider-plugins \\\n        \
             --image-credential-provider-config=/etc/kubernetes/credential-providers/generic-credential-provider.yaml\n",
            sha256_hex(unit.as_bytes()),
            exec_start(&unit),
        );
        let body = drop_in
            .split_once("[Service]\n")
            .map(|(_, body)| format!("[Service]\n{body}"))
            .unwrap();
        assert_eq!(body, expected, "{role}");
        systemd_verify(&unit, drop_in, role);
        if have(
            "ignition-validate",
            "generic_machineconfig_runs_kubelets_own_command_with_the_credential_provider_flags",
        ) {
            let dir = tempfile::tempdir().unwrap();
            ignition_validate(&machineconfig, role, dir.path());
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// systemd itself loads kubelet.service with the drop-in (`systemd-analyze verify`): without the
/// `ExecStart=` reset it refuses a notify service with two commands. The MCO's executables and
/// the units kubelet requires do not exist here, so stand-ins take their place.
fn systemd_verify(unit: &str, drop_in: &str, role: &str) {
    if !have("systemd-analyze", "systemd_verify") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let here = |text: &str| text.replace("/usr/local/bin/kubenswrapper", "/bin/true");
    std::fs::write(dir.path().join("kubelet.service"), here(unit)).unwrap();
    std::fs::create_dir(dir.path().join("kubelet.service.d")).unwrap();
    std::fs::write(
        dir.path()
            .join("kubelet.service.d")
            .join(Path::new(DROP_IN).file_name().unwrap()),
        here(drop_in),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("crio.service"),
        "[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("kubelet-dependencies.target"),
        "[Unit]\nDescription=stand-in\n",
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("kubelet.service"))
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{role}: systemd-analyze verify:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn generic_drop_in_warns_in_kubelets_journal_once_kubelet_service_changed() {
    let fixture = root().join("test/data/openshift/kubelet-worker.service");
    let (_, files) = generated_files("worker", &fixture);
    let check = files[1]
        .1
        .lines()
        .find_map(|l| l.strip_prefix("ExecStartPre=-"))
        .expect("the drop-in's check");
    let node = tempfile::tempdir().unwrap();
    let installed = node.path().join("kubelet.service");
    let run = || {
        let script = check.replace(
            "/etc/systemd/system/kubelet.service\"",
            &format!("{}\"", installed.display()),
        );
        Command::new("sh").arg("-c").arg(script).output().unwrap()
    };
    std::fs::copy(&fixture, &installed).unwrap();
    let same = run();
    assert!(same.status.success() && same.stderr.is_empty(), "{same:?}");
    let mut updated = std::fs::read_to_string(&fixture).unwrap();
    updated.push_str("# the next release\n");
    std::fs::write(&installed, updated).unwrap();
    let changed = run();
    assert!(
        changed.status.success(),
        "kubelet still starts: {changed:?}"
    );
    assert_eq!(
        String::from_utf8(changed.stderr).unwrap(),
        format!(
            "{DROP_IN} was made from another kubelet.service: regenerate it with generic-kubelet-machineconfig\n"
        )
    );
}

#[test]
fn generic_machineconfig_refuses_a_kubelet_that_already_has_credential_provider_flags() {
    let unit = std::fs::read_to_string(root().join("test/data/openshift/kubelet-worker.service"))
        .unwrap()
        .replace(
            "      --cloud-provider= \\\n       \\\n",
            "      --cloud-provider=external \\\n      --image-credential-provider-bin-dir=/usr/libexec/kubelet-image-credential-provider-plugins --image-credential-provider-config=/etc/kubernetes/credential-providers/ecr-credential-provider.yaml \\\n",
        );
    let dir = tempfile::tempdir().unwrap();
    let aws = dir.path().join("kubelet.service");
    std::fs::write(&aws, unit).unwrap();
    let out = generic_machineconfig("worker", &aws);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty(), "nothing half written");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("generic-kubelet-machineconfig: ")
            && stderr.contains("already runs with --image-credential-provider-* flags")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn generic_machineconfig_refuses_a_unit_without_exactly_one_exec_start() {
    let dir = tempfile::tempdir().unwrap();
    let unit = dir.path().join("kubelet.service");
    std::fs::write(&unit, "[Service]\nType=notify\nExecStartPre=/bin/true\n").unwrap();
    let out = generic_machineconfig("worker", &unit);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "generic-kubelet-machineconfig: {}: kubelet.service must have exactly one ExecStart= in [Service]\n",
            unit.display()
        )
    );
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
