//! Hostile or broken input, through the built binary: each gets one clear, bounded answer.

mod support;

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
