//! `--secrets-from`: each way of finding a pod's pull secrets works under its minimal Role, reads
//! nothing more, and fails with the rule it lacks.

mod support;

use serde_json::{Value, json};
use support::apiserver::{POD_NAME, POD_UID, bound_token};
use support::*;

const IMAGE: &str = "docker.io/library/nginx";

/// A node whose `default` service account in `team-a` has no Role at all, and a pull secret
/// `mirror-pull` for the mirror.
fn node_without_rbac() -> Node {
    let node = Node::with_mirror_secret("alice", "pw");
    node.api.revoke("team-a", "default");
    node
}

fn mirror_user(node: &Node) -> Option<String> {
    let decoded = base64_decode(&node.mirror_auth("team-a", IMAGE)?);
    Some(decoded.split_once(':').unwrap().0.to_string())
}

fn base64_decode(text: &str) -> String {
    use base64::Engine;
    String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap(),
    )
    .unwrap()
}

/// Runs `--secrets-from service-account` where `default` names `secrets` in its
/// `imagePullSecrets` and may read exactly those.
fn run_with_linked_secrets(node: &Node, secrets: &[&str]) -> Run {
    node.api.add_service_account("team-a", "default", secrets);
    node.grant_service_account_role(secrets);
    node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    )
}

/// What `--secrets-from service-account` reads when `default` names `mirror-pull`.
fn service_account_reads() -> [(&'static str, String, u16); 2] {
    [
        (
            "get",
            "/api/v1/namespaces/team-a/serviceaccounts/default".into(),
            200,
        ),
        (
            "get",
            "/api/v1/namespaces/team-a/secrets/mirror-pull".into(),
            200,
        ),
    ]
}

fn verbs(node: &Node) -> Vec<(&'static str, String, u16)> {
    node.api
        .requests()
        .into_iter()
        .map(|r| (r.verb, r.path, r.status))
        .collect()
}

#[test]
fn service_account_mode_reads_the_secrets_it_names_under_a_get_only_role() {
    let node = node_without_rbac();
    let run = run_with_linked_secrets(&node, &["mirror-pull"]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    assert_eq!(verbs(&node), service_account_reads());
}

#[test]
fn service_account_mode_reads_the_account_the_token_names() {
    let node = node_without_rbac();
    let token = bound_token("team-a", "builder", POD_NAME, POD_UID);
    node.api.add_account(&token, "team-a", "builder");
    node.api
        .add_service_account("team-a", "default", &["nothing-here"]);
    node.api
        .add_service_account("team-a", "builder", &["mirror-pull"]);
    node.api.grant(
        "team-a",
        "builder",
        &["get"],
        "serviceaccounts",
        &["builder"],
    );
    node.api
        .grant("team-a", "builder", &["get"], "secrets", &["mirror-pull"]);
    let run = node.run(
        &request_with_token(IMAGE, &token),
        &["--secrets-from", "service-account"],
    );
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
}

#[test]
fn pod_mode_reads_the_pods_own_image_pull_secrets_under_a_get_only_role() {
    let node = node_without_rbac();
    node.api
        .add_pod("team-a", POD_NAME, POD_UID, &["mirror-pull"]);
    node.api
        .grant("team-a", "default", &["get"], "pods", &[POD_NAME]);
    node.api
        .grant("team-a", "default", &["get"], "secrets", &["mirror-pull"]);
    let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", "pod"]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    assert_eq!(
        verbs(&node),
        [
            (
                "get",
                format!("/api/v1/namespaces/team-a/pods/{POD_NAME}"),
                200
            ),
            (
                "get",
                "/api/v1/namespaces/team-a/secrets/mirror-pull".into(),
                200
            ),
        ]
    );
}

#[test]
fn pod_mode_refuses_a_newer_pod_of_the_same_name() {
    let node = node_without_rbac();
    node.api
        .add_pod("team-a", POD_NAME, "uid-of-a-newer-pod", &["mirror-pull"]);
    node.api
        .grant("team-a", "default", &["get"], "pods", &[POD_NAME]);
    node.api
        .grant("team-a", "default", &["get"], "secrets", &["mirror-pull"]);
    let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", "pod"]);
    assert_failure(&run, "is not the pod the token was issued for");
    assert!(run.stderr.contains("uid-of-a-newer-pod"), "{}", run.stderr);
    assert_eq!(node.api.requests().len(), 1, "no secret may be read");
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn named_modes_never_list() {
    for mode in ["service-account", "pod"] {
        let node = node_without_rbac();
        node.api
            .add_service_account("team-a", "default", &["mirror-pull"]);
        node.api
            .add_pod("team-a", POD_NAME, POD_UID, &["mirror-pull"]);
        // Even a Role that would allow listing is not used.
        node.api
            .grant("team-a", "default", &["get", "list"], "secrets", &[]);
        node.api
            .grant("team-a", "default", &["get"], "serviceaccounts", &[]);
        node.api.grant("team-a", "default", &["get"], "pods", &[]);
        assert_success(&node.run(&request(IMAGE, "team-a"), &["--secrets-from", mode]));
        assert!(
            node.api.requests().iter().all(|r| r.verb == "get"),
            "{mode}: {:?}",
            node.api.requests()
        );
    }
}

#[test]
fn every_read_may_be_served_from_the_watch_cache() {
    for mode in ["namespace", "service-account", "pod"] {
        let node = Node::with_mirror_secret("alice", "pw");
        node.api
            .add_service_account("team-a", "default", &["mirror-pull"]);
        node.api
            .add_pod("team-a", POD_NAME, POD_UID, &["mirror-pull"]);
        node.api
            .grant("team-a", "default", &["get"], "serviceaccounts", &[]);
        node.api.grant("team-a", "default", &["get"], "pods", &[]);
        assert_success(&node.run(&request(IMAGE, "team-a"), &["--secrets-from", mode]));
        let requests = node.api.requests();
        assert!(!requests.is_empty());
        for r in requests {
            assert_eq!(r.resource_version.as_deref(), Some("0"), "{mode}: {r:?}");
        }
    }
}

#[test]
fn a_named_secret_that_does_not_exist_is_skipped_with_a_warning() {
    let node = node_without_rbac();
    let run = run_with_linked_secrets(&node, &["gone", "mirror-pull"]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    let warning = run
        .stderr
        .lines()
        .find(|l| l.contains("WARN"))
        .unwrap_or_default();
    assert!(
        warning.contains("gone") && warning.contains("does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_named_secret_that_is_not_a_pull_secret_is_skipped_with_a_warning() {
    let node = node_without_rbac();
    node.api.add_secret(
        "team-a",
        "tls",
        "kubernetes.io/tls",
        "tls.crt",
        "certificate",
    );
    let run = run_with_linked_secrets(&node, &["tls", "mirror-pull"]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("WARN") && l.contains("tls") && l.contains("type")),
        "{}",
        run.stderr
    );
}

#[test]
fn a_forbidden_named_secret_that_would_serve_the_pull_fails_the_run_naming_the_rule() {
    let node = node_without_rbac();
    let config = docker_config_json(&[("other.io", "bob", "pw")]);
    node.api.add_pull_secret("team-a", "other", &config);
    node.api
        .add_service_account("team-a", "default", &["other", "mirror-pull"]);
    node.grant_service_account_role(&["other"]);
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    );
    assert_failure(
        &run,
        r#"system:serviceaccount:team-a:default needs a Role rule {apiGroups: [""], resources: ["secrets"], verbs: ["get"], resourceNames: ["mirror-pull"]}"#,
    );
    assert!(run.stderr.contains("HTTP 403"), "{}", run.stderr);
    assert!(
        !run.stderr.contains(&service_account_token("team-a")),
        "the token is never printed"
    );
    assert!(node.auth_dir_entries().is_empty());
}

/// OpenShift's generated pull secret of `default`, for its integrated registry only.
const GENERATED: &str = "default-dockercfg-x7k2p";

fn add_generated_dockercfg_secret(node: &Node) {
    node.api.add_secret(
        "team-a",
        GENERATED,
        "kubernetes.io/dockercfg",
        ".dockercfg",
        r#"{"image-registry.openshift-image-registry.svc:5000":{"auth":"dTpw"}}"#,
    );
}

fn error_line(run: &Run) -> &str {
    run.stderr
        .lines()
        .find(|l| l.contains("ERROR"))
        .unwrap_or_default()
}

#[test]
fn a_forbidden_named_secret_is_one_info_line_when_another_serves_the_pull() {
    // OpenShift adds a generated `<sa>-dockercfg-<suffix>` secret for its internal registry to
    // every service account; a Role naming only the mirror's secret does not cover it.
    let node = node_without_rbac();
    add_generated_dockercfg_secret(&node);
    let run =
        run_with_linked_secrets_readable(&node, &[GENERATED, "mirror-pull"], &["mirror-pull"]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    assert!(!run.stderr.contains("WARN"), "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains(GENERATED))
        .collect();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].contains("INFO") && lines[0].contains("not needed"),
        "{}",
        lines[0]
    );
    assert!(!lines[0].contains("Role rule"), "{}", lines[0]);
}

/// Runs `--secrets-from service-account` where `default` names `linked` and may read `readable`.
fn run_with_linked_secrets_readable(node: &Node, linked: &[&str], readable: &[&str]) -> Run {
    node.api.add_service_account("team-a", "default", linked);
    node.grant_service_account_role(readable);
    node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    )
}

#[test]
fn a_mirror_key_without_the_port_says_no_key_matches_and_asks_for_no_rule() {
    // The mirror is mirror.local:5000; the secret's key lacks the port. The generated dockercfg
    // secret, which the Role rightly does not cover, could not have served it either: this is
    // the ordinary "no matching secret" (exit 0, no file), said with what was read.
    let node = node_without_rbac();
    let config = docker_config_json(&[("mirror.local", "alice", "pw-no-port")]);
    node.api.add_pull_secret("team-a", "mirror-pull", &config);
    add_generated_dockercfg_secret(&node);
    let run =
        run_with_linked_secrets_readable(&node, &[GENERATED, "mirror-pull"], &["mirror-pull"]);
    assert_success(&run);
    assert!(node.auth_dir_entries().is_empty());
    let line = run
        .stderr
        .lines()
        .find(|l| l.contains("No pull secret the pod may read has a key that serves"))
        .unwrap_or_else(|| panic!("no INFO line saying why: {}", run.stderr));
    assert!(line.contains("INFO"), "{line}");
    for expected in [
        &format!("{MIRROR}/library/nginx") as &str,
        r#"secret mirror-pull has keys "mirror.local""#,
        GENERATED,
        "could not be read",
        "integrated registry",
        "no auth file written",
    ] {
        assert!(line.contains(expected), "{expected:?} missing: {line}");
    }
    assert!(!run.stderr.contains("Role rule"), "{}", run.stderr);
    assert!(!run.stderr.contains("WARN"), "{}", run.stderr);
    for secret in [
        "pw-no-port",
        &basic_auth("alice", "pw-no-port"),
        &service_account_token("team-a"),
    ] {
        assert!(
            !run.stderr.contains(secret),
            "stderr shows a secret: {}",
            run.stderr
        );
    }
}

#[test]
fn every_forbidden_secret_that_could_serve_the_pull_is_named_with_its_rule() {
    let node = node_without_rbac();
    for name in ["first", "second"] {
        let config = docker_config_json(&[(MIRROR, "u", "pw")]);
        node.api.add_pull_secret("team-a", name, &config);
    }
    let config = docker_config_json(&[("other.io", "bob", "pw")]);
    node.api.add_pull_secret("team-a", "other", &config);
    let run = run_with_linked_secrets_readable(&node, &["first", "other", "second"], &["other"]);
    assert_failure(&run, "could not be read");
    let error = error_line(&run);
    for name in ["first", "second"] {
        assert!(
            error.contains(&format!(
                r#"resources: ["secrets"], verbs: ["get"], resourceNames: ["{name}"]"#
            )),
            "{name}: {error}"
        );
    }
    assert!(
        error.contains(r#"secret other has keys "other.io""#),
        "{error}"
    );
}

#[test]
fn a_generated_dockercfg_secret_gets_its_rule_when_a_mirror_is_the_integrated_registry() {
    let node = node_without_rbac();
    node.write_registries_conf(
        "[[registry]]\nlocation = \"docker.io\"\n[[registry.mirror]]\nlocation = \"image-registry.openshift-image-registry.svc:5000/mirror\"\n",
    );
    add_generated_dockercfg_secret(&node);
    let run =
        run_with_linked_secrets_readable(&node, &[GENERATED, "mirror-pull"], &["mirror-pull"]);
    assert_failure(
        &run,
        &format!(r#"resources: ["secrets"], verbs: ["get"], resourceNames: ["{GENERATED}"]"#),
    );
}

#[test]
fn debug_lists_every_secret_read_and_its_keys() {
    let node = node_without_rbac();
    let config = docker_config_json(&[("other.io", "bob", "pw-other")]);
    node.api.add_pull_secret("team-a", "other", &config);
    node.api
        .add_service_account("team-a", "default", &["mirror-pull", "other"]);
    node.grant_service_account_role(&["mirror-pull", "other"]);
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account", "--log-level", "debug"],
    );
    assert_success(&run);
    for expected in [
        format!(r#"Read pull secret mirror-pull with keys "{MIRROR}""#),
        r#"Read pull secret other with keys "other.io""#.to_string(),
    ] {
        assert!(run.stderr.contains(&expected), "{expected}: {}", run.stderr);
    }
    for secret in [
        "pw-other",
        &basic_auth("bob", "pw-other"),
        &service_account_token("team-a"),
    ] {
        assert!(
            !run.stderr.contains(secret),
            "stderr shows a secret: {}",
            run.stderr
        );
    }
}

#[test]
fn pod_mode_asks_for_the_pods_rule_of_its_contrib_role() {
    let node = node_without_rbac();
    node.api
        .add_pod("team-a", POD_NAME, POD_UID, &["mirror-pull"]);
    let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", "pod"]);
    assert_failure(
        &run,
        r#"needs a Role rule {apiGroups: [""], resources: ["pods"], verbs: ["get"]}"#,
    );
}

#[test]
fn auto_names_the_service_account_read_that_failed_after_the_forbidden_list() {
    let node = node_without_rbac();
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    node.api
        .fail_path("/api/v1/namespaces/team-a/serviceaccounts/default", 500);
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(
        &run,
        "reading the pull secrets service account default names (--secrets-from auto, listing secrets in namespace team-a is forbidden): reading service account \"default\"",
    );
    assert!(error_line(&run).contains("HTTP 500"), "{}", run.stderr);
}

#[test]
fn a_forbidden_service_account_fails_the_run_naming_the_rule() {
    let node = node_without_rbac();
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    );
    assert_failure(
        &run,
        r#"resources: ["serviceaccounts"], verbs: ["get"], resourceNames: ["default"]"#,
    );
}

#[test]
fn equally_specific_secrets_tie_in_the_order_of_image_pull_secrets() {
    for (order, expected) in [(["zeta", "alpha"], "zed"), (["alpha", "zeta"], "al")] {
        let node = node_without_rbac();
        for (name, user) in [("zeta", "zed"), ("alpha", "al")] {
            let config = docker_config_json(&[(MIRROR, user, "pw")]);
            node.api.add_pull_secret("team-a", name, &config);
        }
        node.api.add_service_account("team-a", "default", &order);
        node.grant_service_account_role(&order);
        let run = node.run(
            &request(IMAGE, "team-a"),
            &["--secrets-from", "service-account"],
        );
        assert_success(&run);
        assert_eq!(mirror_user(&node).as_deref(), Some(expected), "{order:?}");
    }
}

#[test]
fn a_secret_named_twice_is_read_once() {
    let node = node_without_rbac();
    node.api
        .add_service_account("team-a", "default", &["mirror-pull", "mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    assert_success(&node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    ));
    assert_eq!(node.api.requests().len(), 2);
}

#[test]
fn auto_lists_when_the_role_allows_listing() {
    let node = Node::with_mirror_secret("alice", "pw");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    assert!(node.api.requests().iter().all(|r| r.verb == "list"));
}

#[test]
fn auto_reads_the_service_accounts_secrets_when_listing_is_forbidden() {
    let node = node_without_rbac();
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert_eq!(mirror_user(&node).as_deref(), Some("alice"));
    // The first forbidden list ends the other one, which may or may not have reached the server.
    let (lists, gets): (Vec<_>, Vec<_>) = verbs(&node).into_iter().partition(|r| r.0 == "list");
    assert!(!lists.is_empty());
    assert!(lists.iter().all(|r| r.2 == 403), "{lists:?}");
    assert_eq!(gets, service_account_reads());
}

#[test]
fn auto_fails_when_the_server_cannot_answer_the_list_rather_than_read_fewer_secrets() {
    // Only a 403 means "read the service account's secrets instead": a 500 says nothing about
    // which secrets the pod may use, and the list might have held a better one.
    let node = Node::with_mirror_secret("alice", "pw");
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    node.api.fail_path("/api/v1/namespaces/team-a/secrets", 500);
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(&run, "HTTP 500");
    assert!(node.auth_dir_entries().is_empty());
    assert!(
        verbs(&node).iter().all(|r| r.0 == "list"),
        "{:?}",
        verbs(&node)
    );
}

#[test]
fn a_named_secret_the_server_cannot_answer_fails_the_run_rather_than_being_skipped() {
    // Only a 403 is "this Role does not cover it"; a 500 on a secret that may hold the mirror's
    // credentials fails the run, and kubelet pulls again.
    let node = node_without_rbac();
    let config = docker_config_json(&[("other.io", "bob", "pw")]);
    node.api.add_pull_secret("team-a", "other", &config);
    node.api
        .fail_path("/api/v1/namespaces/team-a/secrets/other", 500);
    let run = run_with_linked_secrets(&node, &["other", "mirror-pull"]);
    assert_failure(&run, "HTTP 500");
    assert!(
        run.stderr.contains(r#"reading secret "other""#),
        "{}",
        run.stderr
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn auto_without_any_role_fails_naming_both_ways() {
    let node = node_without_rbac();
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_failure(
        &run,
        "reading the pull secrets service account default names (--secrets-from auto, listing secrets in namespace team-a is forbidden)",
    );
    assert!(
        run.stderr.contains(r#"resources: ["serviceaccounts"]"#),
        "{}",
        run.stderr
    );
}

#[test]
fn revoking_access_removes_the_pending_file_of_an_earlier_run() {
    let node = Node::with_mirror_secret("alice", "pw");
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    assert!(node.auth_file("team-a", IMAGE).is_some());
    node.api.revoke("team-a", "default");
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(!run.status.success());
    assert!(
        node.auth_file("team-a", IMAGE).is_none(),
        "CRI-O would use revoked credentials"
    );
    assert!(
        run.stderr.contains("Removed the pending auth file"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_run_that_finds_no_matching_secret_removes_the_pending_file() {
    let node = Node::with_mirror_secret("alice", "pw");
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    let config = docker_config_json(&[("elsewhere.io", "alice", "pw")]);
    node.api.add_pull_secret("team-a", "mirror-pull", &config);
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    assert!(node.auth_file("team-a", IMAGE).is_none());
}

#[test]
fn a_run_for_another_image_keeps_the_pending_file() {
    let node = Node::with_mirror_secret("alice", "pw");
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    assert_success(&node.run(&request("quay.io/not/mirrored", "team-a"), &[]));
    assert!(node.auth_file("team-a", IMAGE).is_some());
}

/// Grants `default` in `team-a` the Role of a `contrib/rbac/` file (written for `default` in
/// `my-namespace`), as `kubectl apply -n team-a` of that file would.
fn apply_contrib_role(node: &Node, file: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("contrib/rbac")
        .join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    let documents: Vec<Value> = serde_saphyr::from_multiple(&text).unwrap();
    let role = documents.iter().find(|d| d["kind"] == "Role").unwrap();
    let binding = documents
        .iter()
        .find(|d| d["kind"] == "RoleBinding")
        .unwrap();
    assert_eq!(
        binding["roleRef"]["name"], role["metadata"]["name"],
        "{file}"
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "default", "namespace": "my-namespace"}]),
        "{file}"
    );
    let strings = |value: &Value| -> Vec<String> {
        value
            .as_array()
            .map(|a| a.iter().map(|v| v.as_str().unwrap().to_string()).collect())
            .unwrap_or_default()
    };
    for rule in role["rules"].as_array().unwrap() {
        assert_eq!(rule["apiGroups"], json!([""]), "{file}");
        let verbs = strings(&rule["verbs"]);
        let names = strings(&rule["resourceNames"]);
        for resource in strings(&rule["resources"]) {
            node.api.grant(
                "team-a",
                "default",
                &verbs.iter().map(String::as_str).collect::<Vec<_>>(),
                &resource,
                &names.iter().map(String::as_str).collect::<Vec<_>>(),
            );
        }
    }
}

#[test]
fn each_contrib_role_is_enough_for_its_mode() {
    for (file, mode, user) in [
        ("namespace-list-secrets.yaml", "namespace", "alice"),
        (
            "service-account-pull-secrets.yaml",
            "service-account",
            "linked",
        ),
        ("service-account-pull-secrets.yaml", "auto", "linked"),
        ("pod-pull-secrets.yaml", "pod", "linked"),
    ] {
        let node = node_without_rbac();
        let config = docker_config_json(&[(MIRROR, "linked", "pw")]);
        node.api
            .add_pull_secret("team-a", "my-pull-secret", &config);
        node.api
            .add_service_account("team-a", "default", &["my-pull-secret"]);
        node.api
            .add_pod("team-a", POD_NAME, POD_UID, &["my-pull-secret"]);
        apply_contrib_role(&node, file);
        let run = node.run(&request(IMAGE, "team-a"), &["--secrets-from", mode]);
        assert_success(&run);
        assert_eq!(mirror_user(&node).as_deref(), Some(user), "{file} {mode}");
    }
}
