//! Image layering on OpenShift (packaging/openshift/): the Containerfile builds the RPM in UBI and
//! layers it on RHCOS in place of the Go implementation; the MachineOSConfig's on-cluster build
//! ends in the MCO's configs stage with the RPM from its image. Neither is built here: their stages
//! are checked.

mod support;

use std::process::Command;

use support::assert_exit_ok;
use support::packaging::*;

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
    assert!(build.contains("dnf -y install rust-toolset rpm-build"));
    // On RHEL (UBI defines %rhel) the spec builds --with openssl: the FIPS build.
    assert!(build.contains(
        "rpmbuild -bb --define \"_topdir /rpmbuild\" packaging/crio-credential-provider.spec"
    ));
    // The OpenSSL build requires libssl by its soname, which no other build does.
    assert!(build.contains("--requires") && build.contains("grep -qF 'libssl.so.3()(64bit)'"));
    assert_eq!(stages[1].1, ["COPY --from=rpm /out/ /"]);
    assert!(stages[2].1.iter().any(|i| i.contains(LAYERING_INSTALL)));
    // The RUN of the build stage is plain sh.
    let run = build
        .lines()
        .find_map(|l| l.strip_prefix("RUN set -eu;"))
        .expect("the build's RUN");
    let out = Command::new("sh").args(["-n", "-c", run]).output().unwrap();
    assert_exit_ok(&out, "sh -n on the build's RUN");
}

#[test]
fn on_cluster_layering_ends_in_the_configs_stage_with_the_rpm_from_an_image() {
    // One MachineOSConfig per pool, named as its pool; the same build for both, so that the
    // masters do not keep the Go build.
    let mut builds = Vec::new();
    for pool in ["worker", "master"] {
        let path = root().join(format!(
            "packaging/openshift/99-{pool}-crio-credential-provider-machineosconfig.yaml"
        ));
        let config = yaml(&path);
        assert_eq!(config["apiVersion"], "machineconfiguration.openshift.io/v1");
        assert_eq!(config["kind"], "MachineOSConfig");
        assert_eq!(config["metadata"]["name"], pool);
        assert_eq!(config["spec"]["machineConfigPool"]["name"], pool);
        assert_eq!(config["spec"]["imageBuilder"]["imageBuilderType"], "Job");
        assert!(
            config["spec"]["renderedImagePushSpec"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/os-images/{pool}:latest")),
            "{pool}: its own rendered image"
        );
        let containerfiles = config["spec"]["containerFile"].as_array().unwrap();
        assert_eq!(containerfiles.len(), 1);
        assert_eq!(containerfiles[0]["containerfileArch"], "NoArch");
        let content = containerfiles[0]["content"].as_str().unwrap().to_string();
        let stages = containerfile_stages(&content);
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
        builds.push(content);
    }
    assert_eq!(builds[0], builds[1], "the pools build the same image");
}
