//! Fault injection: a mirror run with an earlier run's file pending, under `strace -e inject`, once
//! for every occurrence of every system call of the file-writing and API path, with EIO and the
//! errno that call really meets (ENOSPC for writes and syncs, EACCES for opens, ECONNREFUSED and
//! ECONNRESET for the connection). Each run must end in one of two ways:
//!
//! - exit 0, and the pull's file is this run's, whole (or there is none);
//! - a non-zero exit, no file for the pull (the earlier one gone too), no temp file, exactly one
//!   ERROR line that names the errno;
//!
//! and never a panic, a hang, or a credential on stdout or stderr. Two ends are not the binary's
//! to choose: a fault in the dynamic loader ends the process before it runs, and a run that
//! cannot read its configuration or its request (exit 2, or an ERROR about stdin) does not know
//! its pull, so it can remove no file for it (nor did it decide anything). The table of outcomes is printed; a run that breaks the rule fails the
//! test, named with its injection.

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::*;

const IMAGE: &str = "docker.io/library/nginx";

/// The password of the earlier run's file: its decision is not this run's, and must not survive
/// a run that fails.
const EARLIER_PASSWORD: &str = "earlier-run-pw";

/// The system calls and the errnos injected into them.
const INJECTIONS: &[(&str, &[&str])] = &[
    ("openat", &["EIO", "EACCES"]),
    ("write", &["EIO", "ENOSPC"]),
    ("fsync", &["EIO", "ENOSPC"]),
    ("fchmod", &["EIO"]),
    ("renameat", &["EIO"]),
    ("renameat2", &["EIO"]),
    ("unlinkat", &["EIO"]),
    ("newfstatat", &["EIO"]),
    ("fstat", &["EIO"]),
    ("statx", &["EIO"]),
    ("getdents64", &["EIO"]),
    ("close", &["EIO"]),
    ("read", &["EIO", "ECONNRESET"]),
    ("recvfrom", &["EIO", "ECONNRESET"]),
    ("sendto", &["EIO", "ECONNRESET"]),
    ("connect", &["ECONNREFUSED"]),
    ("socket", &["EMFILE"]),
    ("epoll_wait", &["EIO"]),
    ("eventfd2", &["EIO"]),
    ("getrandom", &["EIO"]),
];

/// More occurrences than this of one call are not each injected (a reply read in many chunks):
/// the first ones are, where the path differs.
const MAX_OCCURRENCES: usize = 200;

/// The text `strerror` gives each errno, which the ERROR line must carry.
fn strerror(errno: &str) -> &'static str {
    match errno {
        "EIO" => "Input/output error",
        "ENOSPC" => "No space left on device",
        "EACCES" => "Permission denied",
        "ECONNREFUSED" => "Connection refused",
        "ECONNRESET" => "Connection reset by peer",
        "EMFILE" => "Too many open files",
        other => panic!("no text for {other}"),
    }
}

/// The node of every run: the mirror's secret for alice, and the auth file of an earlier run for
/// the same pull with other credentials, as a run finds it.
fn prepare(node: &Node) {
    let _ = std::fs::remove_dir_all(node.auth_dir());
    assert_success(&node.run(&request(IMAGE, "team-a"), &[]));
    let file = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    let earlier = serde_json::json!({"auths": {format!("{MIRROR}/library/nginx"):
        {"auth": basic_auth("earlier", EARLIER_PASSWORD)}}});
    std::fs::write(&file, earlier.to_string()).unwrap();
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// The line strace wrote for the injected call, if the call was reached.
    injected: Option<String>,
    hung: bool,
}

fn strace(node: &Node, filter: &[String], trace: &Path) -> Outcome {
    let mut command = Command::new("strace");
    command
        .args(["-f", "-qq", "-o"])
        .arg(trace)
        .args(filter)
        .arg(BINARY);
    command.args(node.args());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    let _ = child
        .stdin
        .take()
        .unwrap()
        .write_all(request(IMAGE, "team-a").as_bytes());
    let started = Instant::now();
    let mut hung = false;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(20) {
            hung = true;
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    let trace = std::fs::read_to_string(trace).unwrap_or_default();
    Outcome {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        injected: trace
            .lines()
            .find(|l| l.contains("(INJECTED)"))
            .map(str::to_string),
        hung,
    }
}

/// How often each call happens in a run that nothing disturbs.
fn occurrences(node: &Node, trace: &Path) -> BTreeMap<&'static str, usize> {
    prepare(node);
    let names: Vec<&str> = INJECTIONS.iter().map(|(name, _)| *name).collect();
    let outcome = strace(
        node,
        &["-e".into(), format!("trace={}", names.join(","))],
        trace,
    );
    assert_eq!(
        outcome.code,
        Some(0),
        "the undisturbed run: {}",
        outcome.stderr
    );
    let text = std::fs::read_to_string(trace).unwrap();
    names
        .into_iter()
        .map(|name| {
            let calls = text
                .lines()
                .map(|line| line.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' '))
                .filter(|line| line.starts_with(&format!("{name}(")))
                .count();
            (name, calls)
        })
        .collect()
}

/// Whether the process ended before the binary ran: the dynamic loader failed.
fn never_ran(outcome: &Outcome) -> bool {
    outcome
        .stderr
        .contains("error while loading shared libraries")
}

/// Whether `line` names the fault: the errno by name (`EIO: I/O error`) or by its text. Where
/// the library that meets it drops the errno, what failed: the random bytes TLS needs (ring says
/// only that), or, where std or tokio cannot go on, the panic hook's line.
fn names_the_fault(line: &str, call: &str, errno: &str) -> bool {
    line.contains(errno)
        || line.contains(strerror(errno))
        || (call == "getrandom" && line.contains("random"))
        || (["getrandom", "eventfd2", "epoll_wait"].contains(&call)
            && line.contains("internal error at"))
}

/// What is wrong with a run's end, if anything.
fn violations(node: &Node, outcome: &Outcome, call: &str, errno: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    if outcome.hung {
        wrong.push("did not end within 20 s".to_string());
    }
    let said = format!("{}{}", outcome.stdout, outcome.stderr);
    for secret in [ALICE_PASSWORD, EARLIER_PASSWORD] {
        if said.contains(secret) {
            wrong.push(format!("printed the password {secret}"));
        }
    }
    if said.contains(&service_account_token("team-a")) {
        wrong.push("printed the token".to_string());
    }
    if said.contains("panicked") {
        wrong.push("panicked".to_string());
    }
    let entries = node.auth_dir_entries();
    if entries.iter().any(|name| name.ends_with(".tmp")) {
        wrong.push(format!("left a temp file: {entries:?}"));
    }
    let file = std::fs::read(node.auth_dir().join(auth_file_name("team-a", IMAGE))).ok();
    let holds = |password: &str| {
        file.as_ref().is_some_and(|bytes| {
            serde_json::from_slice::<serde_json::Value>(bytes).is_ok_and(|value| {
                value["auths"][format!("{MIRROR}/library/nginx")]["auth"]
                    == basic_auth(
                        if password == ALICE_PASSWORD {
                            "alice"
                        } else {
                            "earlier"
                        },
                        password,
                    )
            })
        })
    };
    // A failing write to stderr or stdout silences the line; stdout also carries the response.
    let quiet = outcome
        .injected
        .as_deref()
        .is_some_and(|line| line.contains("write(2,") || line.contains("write(1,"));
    match outcome.code {
        Some(0) => {
            if file.is_some() && !holds(ALICE_PASSWORD) {
                wrong.push("exit 0, but the pull's file is not this run's, whole".to_string());
            }
        }
        // A usage error (the configuration file could not be read): no request read, no pull.
        Some(2) => {
            let lines: Vec<&str> = outcome.stderr.lines().collect();
            if !quiet && (lines.len() != 1 || !names_the_fault(lines[0], call, errno)) {
                wrong.push(format!(
                    "a usage error, but not one line naming {errno}: {lines:?}"
                ));
            }
        }
        _ => {
            let pull_unknown = outcome.stderr.contains("reading the request from stdin");
            if file.is_some() && !pull_unknown {
                let whose = if holds(EARLIER_PASSWORD) {
                    "the earlier run's"
                } else {
                    "a"
                };
                wrong.push(format!("failed, and left {whose} file for the pull"));
            }
            let errors: Vec<&str> = outcome
                .stderr
                .lines()
                .filter(|l| l.contains("ERROR"))
                .collect();
            if !quiet && errors.len() != 1 {
                wrong.push(format!("{} ERROR lines", errors.len()));
            }
            if !quiet && !errors.iter().any(|line| names_the_fault(line, call, errno)) {
                wrong.push(format!("the ERROR line does not name {errno}: {errors:?}"));
            }
        }
    }
    wrong
}

#[test]
fn every_fault_ends_in_a_whole_file_or_one_error_line_and_no_file() {
    if !parts_present(
        "every_fault_ends_in_a_whole_file_or_one_error_line_and_no_file",
        false,
        &["strace"],
        &[],
    ) {
        return;
    }
    let node = node_with_mirror_secret();
    let trace = node.path("strace.out");
    let counts = occurrences(&node, &trace);
    let mut table = Vec::new();
    let mut failures = Vec::new();
    for (call, errnos) in INJECTIONS {
        let count = counts[call].min(MAX_OCCURRENCES);
        for errno in *errnos {
            let (mut succeeded, mut failed, mut loader) = (0, 0, 0);
            for when in 1..=count {
                prepare(&node);
                let filter = [
                    "-e".to_string(),
                    format!("trace={call}"),
                    "-e".to_string(),
                    format!("inject={call}:error={errno}:when={when}"),
                ];
                let outcome = strace(&node, &filter, &trace);
                if never_ran(&outcome) {
                    loader += 1;
                    continue;
                }
                match outcome.code {
                    Some(0) => succeeded += 1,
                    _ => failed += 1,
                }
                for wrong in violations(&node, &outcome, call, errno) {
                    failures.push(format!(
                        "{call} {errno} #{when} ({}): {wrong}\n    stderr: {}",
                        outcome.injected.as_deref().unwrap_or("not reached"),
                        outcome.stderr.trim_end().replace('\n', "\n            ")
                    ));
                }
            }
            table.push(format!(
                "{call:<12} {errno:<13} {:>3} of {:>3}  {succeeded:>10}  {failed:>14}  {loader:>6}",
                count, counts[call]
            ));
        }
    }
    println!(
        "call         errno         injected   whole file  error, no file  loader\n{}",
        table.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} runs broke the rule:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
