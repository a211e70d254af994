//! OpenShift's MachineConfigs (packaging/openshift/): generated from contrib/ (`make manifests`);
//! each rendered `.yaml` says what its Butane source says (Butane cannot be installed here, so the
//! rendering is checked, not redone), installs the very files of contrib/ and is a valid Ignition
//! config (`ignition-validate`); the platform configs keep the platform's own provider and add ours
//! as OpenShift does; the generic ones write no path the MCO writes.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::assert_exit_ok;
use support::packaging::*;

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
        12,
        "mirror, config, aws, gcp, azure, generic for worker and master: {names:?}"
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
        "/etc/crio" => "contrib",
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
    assert_exit_ok(&out, &format!("{name}: ignition-validate refused it"));
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
            "config",
            "Installs the example configuration file of contrib/, which every run reads: the only way to\n\
             configure the provider where the MCO renders kubelet's provider entry with no args (4.22+).\n\
             With the MachineConfiguration node disruption policy of packaging/openshift/README.md, a\n\
             change to it neither drains nor reboots.\n"
                .to_string(),
            vec![NodeFile {
                path: "/etc/crio/crio-credential-provider.conf",
                mode: 0o644,
                contrib: "contrib/crio-credential-provider.conf",
            }],
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
        "# Generated by `make manifests` from contrib/ (test/machineconfigs.rs); do not edit.\n\
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

#[test]
fn the_node_disruption_policy_covers_the_configuration_file_with_no_action() {
    let patch = yaml(&root().join("packaging/openshift/node-disruption-policy-config.yaml"));
    let files = patch["spec"]["nodeDisruptionPolicy"]["files"]
        .as_array()
        .expect("a files list");
    assert_eq!(files.len(), 1);
    let config =
        yaml(&root().join("packaging/openshift/99-worker-crio-credential-provider-config.bu"));
    assert_eq!(files[0]["path"], config["storage"]["files"][0]["path"]);
    assert_eq!(files[0]["actions"], serde_json::json!([{"type": "None"}]));
}

#[test]
fn the_image_mirror_sets_mirror_what_the_contrib_example_mirrors() {
    let text =
        std::fs::read_to_string(root().join("packaging/openshift/image-mirror-sets.yaml")).unwrap();
    let documents: Vec<Value> = text
        .split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).unwrap())
        .collect();
    let kinds: Vec<&str> = documents
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["ImageDigestMirrorSet", "ImageTagMirrorSet"]);
    let example: toml::Table = toml::from_str(
        &std::fs::read_to_string(
            root().join("contrib/registries.conf.d/50-crio-credential-provider-mirror.conf"),
        )
        .unwrap(),
    )
    .unwrap();
    let registry = &example["registry"].as_array().unwrap()[0];
    let source = registry["location"].as_str().unwrap();
    let mirrors: Vec<&str> = registry["mirror"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["location"].as_str().unwrap())
        .collect();
    for (document, field) in documents
        .iter()
        .zip(["imageDigestMirrors", "imageTagMirrors"])
    {
        assert_eq!(document["apiVersion"], "config.openshift.io/v1");
        let entries = document["spec"][field].as_array().expect(field);
        assert_eq!(entries.len(), 1, "{field}");
        assert_eq!(entries[0]["source"], source, "{field}");
        assert_eq!(entries[0]["mirrors"], serde_json::json!(mirrors), "{field}");
    }
}
