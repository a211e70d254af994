//! The auth directory and its files: who may own them, their SELinux context, cleanup of what
//! nobody consumed, runs killed mid-write, and many runs at once.

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::json;
use support::*;

const IMAGE: &str = "docker.io/library/nginx";
const CONTAINER_CONFIG: &str = "system_u:object_r:container_config_t:s0";

fn private_auth_dir(node: &Node) {
    std::fs::create_dir(node.auth_dir()).unwrap();
    std::fs::set_permissions(node.auth_dir(), std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// The file's SELinux context, read by path (the provider reads and writes through its handles).
fn get_context(path: &Path) -> Option<String> {
    let mut buffer = [0u8; 256];
    let len = rustix::fs::getxattr(path, "security.selinux", &mut buffer[..]).ok()?;
    Some(
        String::from_utf8_lossy(&buffer[..len])
            .trim_end_matches('\0')
            .to_string(),
    )
}

fn set_context(path: &Path, context: &str) {
    let value = format!("{context}\0");
    rustix::fs::setxattr(
        path,
        "security.selinux",
        value.as_bytes(),
        rustix::fs::XattrFlags::empty(),
    )
    .unwrap_or_else(|e| panic!("setting security.selinux needs root: {e}"));
}

/// A directory that looks like a mounted selinuxfs, so the labelling path runs without an SELinux
/// kernel (root can set `security.selinux` on ext4 and tmpfs when no LSM claims it).
fn fake_selinuxfs(node: &Node) -> String {
    let dir = node.path("selinuxfs");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("enforce"), "1").unwrap();
    dir.display().to_string()
}

#[test]
fn file_gets_the_auth_dirs_selinux_context() {
    if !parts_present("file_gets_the_auth_dirs_selinux_context", true, &[], &[]) {
        return;
    }
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    set_context(&node.auth_dir(), CONTAINER_CONFIG);
    let selinuxfs = fake_selinuxfs(&node);
    let run = node.run(&request(IMAGE, "team-a"), &["--selinuxfs", &selinuxfs]);
    assert!(run.status.success(), "{}", run.stderr);
    let file = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    assert_eq!(get_context(&file).as_deref(), Some(CONTAINER_CONFIG));
}

#[test]
fn configured_selinux_context_wins_over_the_dirs() {
    if !parts_present(
        "configured_selinux_context_wins_over_the_dirs",
        true,
        &[],
        &[],
    ) {
        return;
    }
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    set_context(&node.auth_dir(), CONTAINER_CONFIG);
    let selinuxfs = fake_selinuxfs(&node);
    let wanted = "system_u:object_r:container_file_t:s0";
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--selinuxfs", &selinuxfs, "--selinux-context", wanted],
    );
    assert!(run.status.success(), "{}", run.stderr);
    let file = node.auth_dir().join(auth_file_name("team-a", IMAGE));
    assert_eq!(get_context(&file).as_deref(), Some(wanted));
}

#[test]
fn auth_dir_without_a_context_is_refused_when_selinux_is_enabled() {
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    let selinuxfs = fake_selinuxfs(&node);
    let run = node.run(&request(IMAGE, "team-a"), &["--selinuxfs", &selinuxfs]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("has no SELinux context") && run.stderr.contains("--selinux-context"),
        "{}",
        run.stderr
    );
    assert!(node.auth_dir_entries().is_empty(), "nothing written");
}

#[test]
fn without_selinux_no_context_is_set() {
    let node = node_with_mirror_secret();
    let missing = node.path("no-selinuxfs").display().to_string();
    let run = node.run(
        &request(IMAGE, "team-a"),
        &["--selinuxfs", &missing, "--log-level", "debug"],
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(run.stderr.contains("SELinux is disabled"), "{}", run.stderr);
    assert_eq!(
        get_context(&node.auth_dir().join(auth_file_name("team-a", IMAGE))),
        None
    );
}

#[test]
fn symlinked_auth_dir_is_refused() {
    let node = node_with_mirror_secret();
    std::fs::create_dir(node.path("elsewhere")).unwrap();
    std::os::unix::fs::symlink(node.path("elsewhere"), node.auth_dir()).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("is a symlink, which is refused"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read_dir(node.path("elsewhere")).unwrap().count(),
        0
    );
}

#[test]
fn a_file_given_as_auth_dir_is_called_not_a_directory() {
    let node = node_with_mirror_secret();
    std::fs::write(node.auth_dir(), "").unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("is not a directory"), "{}", run.stderr);
    assert!(!run.stderr.contains("symlink"), "{}", run.stderr);
}

#[test]
fn an_auth_dir_problem_is_reported_once() {
    let node = node_with_mirror_secret();
    std::fs::create_dir(node.auth_dir()).unwrap();
    std::fs::set_permissions(node.auth_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let needed = node.run(&request(IMAGE, "team-a"), &[]);
    let not_needed = node.run(&request("quay.io/not/mirrored", "team-a"), &[]);
    for run in [needed, not_needed] {
        let mentions = run.stderr.matches("is writable by group or others").count();
        assert_eq!(mentions, 1, "{}", run.stderr);
    }
}

#[test]
fn auth_dir_writable_by_others_is_refused() {
    let node = node_with_mirror_secret();
    std::fs::create_dir(node.auth_dir()).unwrap();
    std::fs::set_permissions(node.auth_dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(!run.status.success());
    assert!(
        run.stderr
            .contains("is writable by group or others (mode 777)"),
        "{}",
        run.stderr
    );
    assert!(node.auth_dir_entries().is_empty());
}

#[test]
fn auth_dir_owned_by_another_user_is_refused() {
    if !parts_present("auth_dir_owned_by_another_user_is_refused", true, &[], &[]) {
        return;
    }
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    std::os::unix::fs::chown(node.auth_dir(), Some(65534), Some(65534)).unwrap();
    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(!run.status.success());
    assert!(
        run.stderr.contains("is owned by uid 65534"),
        "{}",
        run.stderr
    );
    assert!(node.auth_dir_entries().is_empty());
}

fn age(path: &Path, by: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn stale_files_are_cleaned_and_in_use_is_never_touched() {
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    let dir = node.auth_dir();
    let stale_auth = auth_file_name("team-b", "quay.io/old");
    let fresh_auth = auth_file_name("team-c", "quay.io/new");
    let files = [
        (".auth-1234.tmp", 180, false), // the Go implementation's, old
        (".crio-credential-provider-7-8.tmp", 180, false), // ours, old
        (".crio-credential-provider-9-9.tmp", 30, true), // ours, a run may still be writing it
        (stale_auth.as_str(), 11 * 60, false), // never consumed
        (fresh_auth.as_str(), 60, true), // waiting for its pull
        ("config.json", 24 * 3600, true), // not ours
    ];
    for (name, seconds, _) in files {
        std::fs::write(dir.join(name), "{}").unwrap();
        age(&dir.join(name), Duration::from_secs(seconds));
    }
    std::fs::create_dir(dir.join("in-use")).unwrap();
    let in_use = dir
        .join("in-use")
        .join(auth_file_name("team-b", "quay.io/busy"));
    std::fs::write(&in_use, "{}").unwrap();
    age(&in_use, Duration::from_secs(3600));

    let run = node.run(&request(IMAGE, "team-a"), &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(
        run.stderr.contains("Removed 3 stale files"),
        "{}",
        run.stderr
    );
    for (name, _, kept) in files {
        assert_eq!(
            dir.join(name).exists(),
            kept,
            "{name} should be {}",
            if kept { "kept" } else { "removed" }
        );
    }
    assert!(in_use.exists(), "in-use/ belongs to CRI-O");
    assert!(dir.join(auth_file_name("team-a", IMAGE)).exists());
}

#[test]
fn stale_files_are_cleaned_even_by_runs_that_write_nothing() {
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    let old = node.auth_dir().join(auth_file_name("team-b", "quay.io/x"));
    std::fs::write(&old, "{}").unwrap();
    age(&old, Duration::from_secs(3600));
    let run = node.run(&request("quay.io/no/mirror", "team-a"), &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(!old.exists());
    assert!(node.api.requests().is_empty());
}

#[test]
fn stale_after_is_configurable() {
    let node = node_with_mirror_secret();
    private_auth_dir(&node);
    let old = node.auth_dir().join(auth_file_name("team-b", "quay.io/x"));
    std::fs::write(&old, "{}").unwrap();
    age(&old, Duration::from_secs(90));
    let run = node.run(&request(IMAGE, "team-a"), &["--stale-after", "1m"]);
    assert!(run.status.success(), "{}", run.stderr);
    assert!(!old.exists());
}

/// A pseudo-random number from the standard library's per-process hasher keys.
fn random_below(bound: u64, salt: u64) -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(salt) % bound
}

#[test]
fn runs_killed_at_any_moment_leave_no_partial_auth_file() {
    let node = node_with_mirror_secret();
    let stdin = request(IMAGE, "team-a");
    let name = auth_file_name("team-a", IMAGE);
    let path = node.auth_dir().join(&name);
    let expected = json!({"auths": {format!("{MIRROR}/library/nginx"): {"auth": basic_auth("alice", ALICE_PASSWORD)}}});
    let mut outcomes = [0usize; 2];
    for attempt in 0..40 {
        let _ = std::fs::remove_file(&path);
        let mut child = spawn_binary(&node.args(), &stdin);
        std::thread::sleep(Duration::from_micros(random_below(30_000, attempt)));
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        for entry in node.auth_dir_entries() {
            let is_temp =
                entry.starts_with(".crio-credential-provider-") && entry.ends_with(".tmp");
            assert!(is_temp || entry == name, "unexpected file {entry}");
        }
        match std::fs::read(&path) {
            Ok(content) => {
                let written: serde_json::Value =
                    serde_json::from_slice(&content).expect("complete JSON, never partial");
                assert_eq!(written, expected);
                outcomes[1] += 1;
            }
            Err(_) => outcomes[0] += 1,
        }
    }
    eprintln!(
        "killed runs: {} left no file, {} the complete file",
        outcomes[0], outcomes[1]
    );
    // What the kills left behind is removed once it is old enough.
    for entry in node.auth_dir_entries() {
        age(&node.auth_dir().join(entry), Duration::from_secs(180));
    }
    let run = node.run(&stdin, &[]);
    assert!(run.status.success(), "{}", run.stderr);
    assert_eq!(
        node.auth_dir_entries(),
        [name],
        "temp files of killed runs are cleaned up"
    );
}

#[test]
fn two_hundred_concurrent_runs_write_every_file_completely() {
    let node = Node::new();
    let namespaces: Vec<String> = (0..20).map(|i| format!("ns-{i}")).collect();
    let images: Vec<String> = (0..10)
        .map(|i| format!("docker.io/library/image-{i}"))
        .collect();
    for namespace in &namespaces {
        node.api
            .allow_token(&service_account_token(namespace), namespace);
        node.api.add_pull_secret(
            namespace,
            "pull",
            &docker_config_json(&[(MIRROR, namespace, "pw")]),
        );
    }
    let runs: Vec<(String, String)> = namespaces
        .iter()
        .flat_map(|ns| images.iter().map(move |image| (ns.clone(), image.clone())))
        .collect();
    assert_eq!(runs.len(), 200);
    std::thread::scope(|scope| {
        let handles: Vec<_> = runs
            .iter()
            .map(|(namespace, image)| {
                let node = &node;
                scope.spawn(move || node.run(&request(image, namespace), &[]))
            })
            .collect();
        for handle in handles {
            let run = handle.join().unwrap();
            assert!(run.status.success(), "{}", run.stderr);
        }
    });
    let mut expected: Vec<String> = runs
        .iter()
        .map(|(ns, image)| auth_file_name(ns, image))
        .collect();
    expected.sort();
    assert_eq!(
        node.auth_dir_entries(),
        expected,
        "exactly one file per namespace and image, no temp file"
    );
    for (namespace, image) in &runs {
        let rest = image.strip_prefix("docker.io").unwrap();
        assert_eq!(
            node.auth_file(namespace, image).unwrap(),
            json!({"auths": {format!("{MIRROR}{rest}"): {"auth": basic_auth(namespace, "pw")}}})
        );
    }
}
