//! The configuration file: what kubelet does not pass (OpenShift 4.22+ passes no args) comes from
//! it, a flag wins over it, and a broken file stops every mode with one line naming where.

mod support;

use support::*;

const IMAGE: &str = "docker.io/library/nginx";

/// A node whose `default` account may get only its own `imagePullSecrets`, which name the mirror's
/// secret: the narrow Role of contrib/rbac/service-account-pull-secrets.yaml.
fn node_under_the_narrow_role() -> Node {
    let node = node_with_mirror_secret();
    node.api.revoke("team-a", "default");
    node.api
        .add_service_account("team-a", "default", &["mirror-pull"]);
    node.grant_service_account_role(&["mirror-pull"]);
    node
}

fn lists(node: &Node) -> usize {
    node.api
        .requests()
        .iter()
        .filter(|r| r.verb == "list")
        .count()
}

#[test]
fn a_key_of_the_file_applies_where_kubelet_passes_no_flag() {
    let node = node_under_the_narrow_role();
    std::fs::write(node.configuration(), "secrets-from = \"service-account\"\n").unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(node.auth_file("team-a", IMAGE).is_some(), "{}", run.stderr);
    assert_eq!(lists(&node), 0, "{:?}", node.api.requests());
}

#[test]
fn a_flag_on_the_command_line_wins_over_the_file() {
    let node = node_under_the_narrow_role();
    std::fs::write(node.configuration(), "secrets-from = \"namespace\"\n").unwrap();
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--secrets-from", "service-account"],
    );
    assert_success(&run);
    assert_eq!(lists(&node), 0, "{:?}", node.api.requests());
}

#[test]
fn a_drop_in_replaces_the_files_key() {
    let node = node_with_mirror_secret();
    std::fs::write(node.configuration(), "log-level = \"error\"\n").unwrap();
    let drop_ins = node.path("crio-credential-provider.conf.d");
    std::fs::create_dir(&drop_ins).unwrap();
    std::fs::write(drop_ins.join("50-debug.conf"), "log-level = \"debug\"\n").unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_success(&run);
    assert!(
        run.stderr.contains(&format!(
            "Read the configuration file {}",
            drop_ins.join("50-debug.conf").display()
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Using secret mirror-pull"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_broken_file_fails_every_mode_with_one_line_naming_file_line_and_key() {
    let node = node_with_mirror_secret();
    let path = node.configuration();
    std::fs::write(&path, "log-level = \"debug\"\napi-timeout = \"2m\"\n").unwrap();
    let expected = format!(
        "crio-credential-provider: {}:2: invalid value '2m' for '--api-timeout <DURATION>': must be \
         more than 0s and less than 55s, inside kubelet's 1m deadline",
        path.display()
    );
    let config = path.display().to_string();
    for args in [
        vec![],
        vec!["mirrors", "--config", &config, IMAGE],
        vec!["--version-json", "--config", &config],
    ] {
        let run = if args.is_empty() {
            node.run(&request(IMAGE, "team-a"), &[])
        } else {
            run_binary(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>(), "")
        };
        assert_eq!(run.status.code(), Some(2), "{args:?}: {}", run.stderr);
        assert_eq!(run.stderr.trim_end(), expected, "{args:?}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert!(node.auth_dir_entries().is_empty());
    assert!(node.api.requests().is_empty());
}

#[test]
fn an_unknown_key_is_named_with_its_line() {
    let node = node_with_mirror_secret();
    std::fs::write(node.configuration(), "\nsecret-from = \"pod\"\n").unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_eq!(run.status.code(), Some(2));
    assert_eq!(
        run.stderr.trim_end(),
        format!(
            "crio-credential-provider: {}:2: unknown key \"secret-from\": the keys are the long \
             flags of kubelet mode without their dashes (crio-credential-provider --help)",
            node.configuration().display()
        )
    );
}

#[test]
fn a_file_that_cannot_be_read_is_not_taken_for_an_absent_one() {
    let node = node_with_mirror_secret();
    std::fs::create_dir(node.configuration()).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert_eq!(run.status.code(), Some(2));
    let line = run.stderr.trim_end();
    assert!(
        line.contains(&node.configuration().display().to_string())
            && line.contains("not a regular file"),
        "{line}"
    );
}

#[test]
fn the_version_json_names_the_configuration_files_read() {
    let node = Node::new();
    std::fs::write(node.configuration(), "log-level = \"warn\"\n").unwrap();
    let config = node.configuration().display().to_string();
    let run = run_binary(
        &["--version-json".into(), "--config".into(), config.clone()],
        "",
    );
    let version: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(version["configurationFiles"], serde_json::json!([config]));
}
