//! Which credentials land in the auth file, read back the way containers/image reads it: for a
//! reference `host/a/b`, the keys `host/a/b`, `host/a`, `host` in that order, and the first key
//! present wins even if another would have worked.

mod support;

use base64::Engine;
use serde_json::{Value, json};
use support::*;

/// The `user` containers/image would authenticate as when pulling `reference` with `file`.
fn user_for(file: &Value, reference: &str) -> Option<String> {
    let auths = file["auths"].as_object()?;
    let mut key = reference;
    loop {
        if let Some(entry) = auths.get(key) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(entry["auth"].as_str()?)
                .ok()?;
            let decoded = String::from_utf8(decoded).ok()?;
            return Some(decoded.split_once(':')?.0.to_string());
        }
        key = &key[..key.rfind('/')?];
    }
}

fn node_with_conf(conf: &str) -> Node {
    let node = Node::new();
    node.write_registries_conf(conf);
    node
}

fn run_ok(node: &Node, image: &str, namespace: &str) -> Option<Value> {
    let run = node.run(&request(image, namespace), &[]);
    assert!(run.status.success(), "{}", run.stderr);
    node.auth_file(namespace, image)
}

#[test]
fn most_specific_entry_across_secrets_serves_each_mirror() {
    let node = node_with_conf(
        "[[registry]]\nlocation = \"docker.io\"\n\
         [[registry.mirror]]\nlocation = \"m.io:5000/team-a\"\n\
         [[registry.mirror]]\nlocation = \"m.io:5000/team-b\"\n\
         [[registry.mirror]]\nlocation = \"n.example.com\"\n",
    );
    node.api.add_pull_secret(
        "team-a",
        "a-host",
        &docker_config_json(&[("m.io:5000", "host-user", "x")]),
    );
    node.api.add_pull_secret(
        "team-a",
        "b-path",
        &docker_config_json(&[("https://m.io:5000/team-a", "path-user", "x")]),
    );
    node.api.add_pull_secret(
        "team-a",
        "c-wild",
        &docker_config_json(&[("*.example.com", "wild-user", "x")]),
    );
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        user_for(&file, "m.io:5000/team-a/library/nginx").as_deref(),
        Some("path-user")
    );
    assert_eq!(
        user_for(&file, "m.io:5000/team-b/library/nginx").as_deref(),
        Some("host-user")
    );
    assert_eq!(
        user_for(&file, "n.example.com/library/nginx").as_deref(),
        Some("wild-user")
    );
}

#[test]
fn duplicated_keys_go_to_the_secret_that_sorts_first() {
    let node = Node::new();
    // Listed in reverse order; the choice must not depend on it.
    node.api.add_pull_secret(
        "team-a",
        "zeta",
        &docker_config_json(&[(MIRROR, "zeta", "x")]),
    );
    node.api.add_pull_secret(
        "team-a",
        "alpha",
        &docker_config_json(&[(MIRROR, "alpha", "x")]),
    );
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        user_for(&file, &format!("{MIRROR}/library/nginx")).as_deref(),
        Some("alpha")
    );
}

#[test]
fn dockercfg_secrets_with_username_and_password_are_read() {
    let node = Node::new();
    let dockercfg =
        json!({ MIRROR: {"username": "legacy", "password": "pw", "email": "a@b"} }).to_string();
    node.api.add_secret(
        "team-a",
        "legacy",
        "kubernetes.io/dockercfg",
        ".dockercfg",
        &dockercfg,
    );
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        file["auths"][format!("{MIRROR}/library/nginx")],
        json!({"auth": basic_auth("legacy", "pw")})
    );
}

#[test]
fn unpadded_auth_and_identity_tokens_are_kept() {
    let node = Node::new();
    let config =
        json!({"auths": {MIRROR: {"auth": "dTpw", "identitytoken": "refresh-token"}}}).to_string();
    node.api.add_pull_secret("team-a", "tokens", &config);
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        file["auths"][format!("{MIRROR}/library/nginx")],
        json!({"auth": basic_auth("u", "p"), "identitytoken": "refresh-token"})
    );
}

#[test]
fn index_docker_io_key_serves_the_docker_hub_reference() {
    let node = Node::new();
    node.api.add_pull_secret(
        "team-a",
        "hub",
        &docker_config_json(&[
            ("https://index.docker.io/v1/", "hub-user", "x"),
            (MIRROR, "mirror-user", "y"),
        ]),
    );
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        user_for(&file, "docker.io/library/nginx").as_deref(),
        Some("hub-user")
    );
    assert_eq!(
        user_for(&file, &format!("{MIRROR}/library/nginx")).as_deref(),
        Some("mirror-user")
    );
}

#[test]
fn look_alike_hosts_and_other_ports_get_nothing() {
    let node = node_with_conf(
        "[[registry]]\nlocation = \"docker.io\"\n\
         [[registry.mirror]]\nlocation = \"reg.io.evil.com\"\n\
         [[registry.mirror]]\nlocation = \"reg.io:5001\"\n",
    );
    node.api.add_pull_secret(
        "team-a",
        "s",
        &docker_config_json(&[("reg.io", "u", "p"), ("reg.io:5000", "u", "p")]),
    );
    assert_eq!(run_ok(&node, "docker.io/library/nginx", "team-a"), None);
}

#[test]
fn broken_secrets_are_skipped_and_the_good_ones_still_count() {
    let node = Node::new();
    node.api.add_pull_secret("team-a", "a-not-json", "{{{");
    node.api.add_pull_secret(
        "team-a",
        "b-bad-auth",
        &json!({"auths": {MIRROR: {"auth": "%%%"}}}).to_string(),
    );
    node.api.add_pull_secret(
        "team-a",
        "c-good",
        &docker_config_json(&[(MIRROR, "good", "x")]),
    );
    let run = node.run(&request("docker.io/library/nginx", "team-a"), &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("Skipping secret a-not-json: .dockerconfigjson is not a docker config"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Skipping secret b-bad-auth"),
        "{}",
        run.stderr
    );
    let file = node.auth_file("team-a", "docker.io/library/nginx").unwrap();
    assert_eq!(
        user_for(&file, &format!("{MIRROR}/library/nginx")).as_deref(),
        Some("good")
    );
}

#[test]
fn namespace_file_entries_shadow_broader_global_keys_only_for_their_references() {
    let node = Node::new();
    node.api.add_pull_secret(
        "team-a",
        "s",
        &docker_config_json(&[(MIRROR, "namespace", "x")]),
    );
    let global = json!({"auths": {MIRROR: {"auth": basic_auth("global", "g")}}});
    std::fs::write(node.path("config.json"), global.to_string()).unwrap();
    let file = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    assert_eq!(
        user_for(&file, &format!("{MIRROR}/library/nginx")).as_deref(),
        Some("namespace")
    );
    assert_eq!(
        user_for(&file, &format!("{MIRROR}/other/image")).as_deref(),
        Some("global")
    );
}

#[test]
fn each_namespace_gets_its_own_credentials() {
    let node = Node::new();
    node.api
        .allow_token(&service_account_token("team-b"), "team-b");
    node.api.add_pull_secret(
        "team-a",
        "s",
        &docker_config_json(&[(MIRROR, "alice", "a")]),
    );
    node.api
        .add_pull_secret("team-b", "s", &docker_config_json(&[(MIRROR, "bob", "b")]));
    let reference = format!("{MIRROR}/library/nginx");
    let a = run_ok(&node, "docker.io/library/nginx", "team-a").unwrap();
    let b = run_ok(&node, "docker.io/library/nginx", "team-b").unwrap();
    assert_eq!(user_for(&a, &reference).as_deref(), Some("alice"));
    assert_eq!(user_for(&b, &reference).as_deref(), Some("bob"));
}
