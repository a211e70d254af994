//! The shell scripts: shellcheck-clean, and the cluster e2e script's `--dry-run` (no cluster
//! reached) prints every step in order, cleans up, and installs the mirror the test registry serves.

mod support;

use std::process::Command;

use serde_json::Value;
use support::assert_exit_ok;
use support::packaging::*;

#[test]
fn openshift_e2e_dry_run_prints_every_step_and_cleans_up() {
    let out = Command::new("bash")
        .arg(root().join("test/openshift/e2e"))
        .args(["--dry-run", "--node", "worker-0"])
        .env("PATH", "/usr/bin:/bin") // no oc needed: nothing may reach a cluster
        .output()
        .unwrap();
    assert_exit_ok(&out, "test/openshift/e2e --dry-run");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let steps = [
        // What the run disrupts, before it touches anything.
        "== what this run disrupts\n",
        "EVERY WORKER IS DRAINED AND REBOOTED",
        "restarts kubelet on every node of every pool",
        "- clean-up: step 1 undone: every worker drained and rebooted again",
        // A namespace of a previous run may still be terminating; the spec to restore is saved.
        "+ oc delete namespace ccp-e2e --ignore-not-found --wait=true",
        "+ oc get criocredentialproviderconfig cluster -o jsonpath={.spec.matchImages}",
        // Step 1 says it drains and reboots the workers before its MachineConfig.
        "provider on for docker.io (drains and reboots each worker)\n",
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
        "== cleaning up (removing the MachineConfig drains and reboots each worker again",
        "+ oc delete namespace ccp-e2e --ignore-not-found --wait=true",
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

/// Without --yes (or --dry-run) the script says what it would disrupt and stops before any `oc`.
#[test]
fn openshift_e2e_without_yes_warns_and_touches_nothing() {
    let out = Command::new("bash")
        .arg(root().join("test/openshift/e2e"))
        .env("PATH", "/usr/bin:/bin") // no oc: it must not be reached
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
    assert!(
        stdout.contains("EVERY WORKER IS DRAINED AND REBOOTED"),
        "{stdout}"
    );
    assert!(!stdout.contains("+ oc "), "{stdout}");
    assert!(stderr.contains("pass --yes"), "{stderr}");
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
    assert_exit_ok(&out, "shellcheck");
}
