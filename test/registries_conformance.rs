//! containers/image's own registries.conf fixtures and the answers containers/image v5.40 gives
//! for 823 (config, drop-ins, image) cases, checked against the built binary's `mirrors` command.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use support::assert_exit_ok;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("test/data/registries")
}

#[test]
fn every_reference_case_gets_the_reference_answer() {
    let cases: Vec<Value> = std::fs::read_to_string(data_dir().join("cases.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(cases.len(), 823);
    let mut groups: BTreeMap<(String, Option<String>), Vec<&Value>> = BTreeMap::new();
    for case in &cases {
        let config = case["config"].as_str().unwrap().to_string();
        let dropins = case["dropins"].as_str().map(str::to_string);
        groups.entry((config, dropins)).or_default().push(case);
    }
    let fixtures = data_dir().join("fixtures");
    let mut disagreements = Vec::new();
    for ((config, dropins), cases) in &groups {
        // A drop-in directory that does not exist stands for "no drop-ins".
        let dropin_dir = fixtures.join(dropins.as_deref().unwrap_or("no-such-directory"));
        let output = Command::new(env!("CARGO_BIN_EXE_crio-credential-provider"))
            .arg("mirrors")
            .arg("--registries-conf")
            .arg(fixtures.join(config))
            .arg("--registries-conf-dir")
            .arg(&dropin_dir)
            .args(cases.iter().map(|c| c["image"].as_str().unwrap()))
            .output()
            .unwrap();
        let answers: Vec<Value> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(
            answers.len(),
            cases.len(),
            "{config} with {dropins:?}: one line per image"
        );
        let expect_error = cases[0].get("error").is_some();
        assert_eq!(
            output.status.success(),
            !expect_error,
            "{config} with {dropins:?}: exit status {:?}",
            output.status
        );
        for (case, answer) in cases.iter().zip(&answers) {
            let agrees = if expect_error {
                answer.get("error").is_some()
            } else {
                ["image", "prefix", "location", "mirrors"]
                    .iter()
                    .all(|field| case.get(field) == answer.get(field))
                    && answer.get("error").is_none()
            };
            if !agrees {
                disagreements.push(format!(
                    "{config} + {dropins:?}: expected {case}, got {answer}"
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {} cases disagree with containers/image:\n{}",
        disagreements.len(),
        cases.len(),
        disagreements.join("\n")
    );
}

/// The drop-in directories `mirrors --explain` says it read, with `HOME` set as given.
fn drop_in_dirs_with_home(home: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("registries.conf"), "").unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_crio-credential-provider"));
    command
        .args(["mirrors", "--explain", "--registries-conf"])
        .arg(dir.path().join("registries.conf"))
        .arg("a.io/x");
    match home {
        Some(home) => command.env("HOME", home),
        None => command.env_remove("HOME"),
    };
    let output = command.output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    stdout.lines().next().unwrap().to_string()
}

#[test]
fn home_drop_ins_come_first_and_only_when_home_is_set() {
    assert_eq!(
        drop_in_dirs_with_home(Some("/home/op")),
        "Drop-in directories, highest priority first: /home/op/.config/containers/registries.conf.d, \
         /etc/containers/registries.rootful.conf.d, /etc/containers/registries.conf.d, \
         /usr/share/containers/registries.rootful.conf.d, /usr/share/containers/registries.conf.d"
    );
    assert!(!drop_in_dirs_with_home(None).contains(".config"));
    assert!(!drop_in_dirs_with_home(Some("")).contains(".config"));
}

#[test]
fn ten_thousand_entries_load_and_match() {
    let dir = tempfile::tempdir().unwrap();
    let mut conf = String::new();
    for i in 0..10_000 {
        conf.push_str(&format!(
            "[[registry]]\nprefix = \"registry-{i}.example.com/team\"\nlocation = \"registry-{i}.example.com/team\"\n\
             [[registry.mirror]]\nlocation = \"mirror-{i}.example.com/team\"\n"
        ));
    }
    std::fs::write(dir.path().join("registries.conf"), conf).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_crio-credential-provider"))
        .arg("mirrors")
        .arg("--registries-conf")
        .arg(dir.path().join("registries.conf"))
        .arg("--registries-conf-dir")
        .arg(dir.path().join("none"))
        .args([
            "registry-0.example.com/team/a",
            "registry-9999.example.com/team/b",
            "registry-1.example.com/teamx/c",
        ])
        .output()
        .unwrap();
    assert_exit_ok(&output, "mirrors");
    let mirrors: Vec<Value> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap()["mirrors"].clone())
        .collect();
    assert_eq!(
        mirrors,
        [
            serde_json::json!(["mirror-0.example.com/team"]),
            serde_json::json!(["mirror-9999.example.com/team"]),
            serde_json::json!([]),
        ]
    );
}
