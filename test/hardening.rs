//! Hostile or broken input, through the built binary: each gets one clear, bounded answer.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use support::*;

/// Runs the binary; a run that has not ended within `limit` is killed and fails the test.
fn run_within(args: &[String], stdin: &str, limit: Duration) -> Run {
    let mut child = spawn_binary(args, stdin);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("{args:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        status: output.status,
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

fn args(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

/// `mirrors` for one image with `registries_conf` and no drop-ins.
fn mirrors(registries_conf: &Path) -> Run {
    let no_drop_ins = registries_conf.with_file_name("no-drop-ins");
    run_within(
        &args(&[
            "mirrors",
            "--registries-conf",
            registries_conf.to_str().unwrap(),
            "--registries-conf-dir",
            no_drop_ins.to_str().unwrap(),
            "docker.io/library/nginx",
        ]),
        "",
        Duration::from_secs(10),
    )
}

#[test]
fn mirrors_help_is_help() {
    let run = run_within(&args(&["mirrors", "-h"]), "", Duration::from_secs(10));
    assert_eq!(run.status.code(), Some(0), "{}", run.stderr);
    assert!(run.stdout.contains("--explain"), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for bad in [
        &["--cache-duration", "100000000000000000000s"][..],
        &["--stale-after", "100000000000000000000s"][..],
        &["--api-timeout", "100000000000000000000s"][..],
        &["--stale-after", "0s"][..],
        &["--auth-dir", "--kubeconfig", "/k"][..],
        &["--version=foo"][..],
        &["--auth-dir", "/a", "--auth-dir", "/b"][..],
        &["mirrors", "--explain=maybe", "x"][..],
    ] {
        let run = run_within(&args(bad), "", Duration::from_secs(10));
        assert_eq!(run.status.code(), Some(2), "{bad:?}: {}", run.stderr);
        assert_eq!(run.stdout, "", "{bad:?}");
        assert_eq!(run.stderr.lines().count(), 1, "{bad:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("crio-credential-provider: "),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_fifo_as_registries_conf_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("registries.conf");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let run = mirrors(&fifo);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stdout.contains("registries.conf: not a regular file"),
        "{}",
        run.stdout
    );
}

#[test]
fn dev_zero_as_registries_conf_is_refused_without_reading_it() {
    let run = mirrors(Path::new("/dev/zero"));
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stdout.contains("/dev/zero: not a regular file"),
        "{}",
        run.stdout
    );
}

#[test]
// How fast a file at the limit is read is `make bench`'s to measure ("4 MiB of blank lines").
fn ten_megabytes_of_blank_lines_are_refused_by_their_size() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("registries.conf");
    let mut text = "\n".repeat(10 * 1024 * 1024);
    text.push_str("[[registry]]\nlocation = \"docker.io\"\n");
    std::fs::write(&conf, text).unwrap();
    let run = mirrors(&conf);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stdout
            .contains("registries.conf: larger than the limit of 4 MiB"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_fifo_as_registries_conf_fails_a_kubelet_run() {
    let node = node_with_mirror_secret();
    let conf = node.path("registries.conf");
    std::fs::remove_file(&conf).unwrap();
    nix::unistd::mkfifo(&conf, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let mut run_args = node.args();
    run_args.push("--log-level=error".into());
    let run = run_within(
        &run_args,
        &request("docker.io/library/nginx", "team-a"),
        Duration::from_secs(20),
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    assert!(node.api.requests().is_empty());
    assert!(
        node.auth_file("team-a", "docker.io/library/nginx")
            .is_none()
    );
}

#[test]
fn mirrors_stops_quietly_when_its_reader_goes_away() {
    use std::io::BufRead;
    // Far more output than a pipe holds, and a reader that takes one line: `mirrors ... | head -1`.
    let node = Node::new();
    let images: Vec<String> = (0..5_000)
        .map(|i| format!("docker.io/team/app-{i}"))
        .collect();
    let mut child = std::process::Command::new(BINARY)
        .arg("mirrors")
        .arg("--config")
        .arg(node.configuration())
        .arg("--registries-conf")
        .arg(node.path("registries.conf"))
        .args(&images)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(first.contains("docker.io/team/app-0"), "{first}");
    assert!(output.status.success(), "{:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn a_kubeconfig_that_does_not_parse_is_named_with_its_line_and_never_quoted() {
    // The node's kubeconfig holds its credentials: none of it may reach the journal.
    let node = node_with_mirror_secret();
    let kubeconfig = node.path("kubeconfig");
    std::fs::write(
        &kubeconfig,
        "apiVersion: v1\nusers:\n- name: node\n  user:\n    token: SECRET-NODE-TOKEN\n    \
         client-key-data: SECRET-KEY-DATA\n  bad: [unclosed\ncontexts: []\n",
    )
    .unwrap();
    let mut args = node.local_args();
    args.extend(["--kubeconfig".to_string(), kubeconfig.display().to_string()]);
    let run = run_binary(&args, &request("docker.io/library/nginx", "team-a"));
    assert_failure(&run, "is not a valid kubeconfig at line 8 column 9");
    assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
}

#[test]
fn a_request_that_does_not_decode_is_not_quoted() {
    let node = node_with_mirror_secret();
    for request in [
        r#"{"image":"docker.io/library/nginx","serviceAccountToken":["SECRET-TOKEN"]}"#,
        r#"{"image":["SECRET-IMAGE"]}"#,
    ] {
        let run = node.run(request, &[]);
        assert_failure(
            &run,
            "decoding the CredentialProviderRequest on stdin: unexpected structure",
        );
        assert!(!run.stderr.contains("SECRET"), "{}", run.stderr);
    }
}
