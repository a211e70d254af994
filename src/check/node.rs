//! The provider's own files on the node, checked as a kubelet-mode run reads them: registries.conf,
//! the auth directory, journald's socket and the global pull secret.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use super::Line;
use crate::authfile::{self, AuthDir};
use crate::logging;
use crate::provider;
use crate::registries::Sources;
use crate::secrets::{self, PullSecret, SecretType};

/// Loads registries.conf and its drop-ins as CRI-O does; returns the prefixes CRI-O pulls through
/// mirrors, `None` when the configuration could not be read.
pub(super) fn registries(sources: &Sources, lines: &mut Vec<Line>) -> Option<Vec<String>> {
    const CHECK: &str = "registries";
    let main = sources.main.display();
    match sources.main.try_exists() {
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!("cannot tell whether {main} exists: {e}"),
                format!("let root read the directory of {main} (a permission or SELinux denial)"),
            ));
            return None;
        }
        Ok(false) => {
            lines.push(Line::warn(
                CHECK,
                format!("{main} does not exist: CRI-O pulls without mirrors, every run has nothing to do"),
                "pass the registries.conf CRI-O reads with --registries-conf in the provider's args",
            ));
            return Some(Vec::new());
        }
        Ok(true) => {}
    }
    let registries = match sources.load() {
        Ok(registries) => registries,
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!("CRI-O refuses this configuration, so it pulls nothing: {e}"),
                format!("fix {}", e.path.display()),
            ));
            return None;
        }
    };
    let prefixes: Vec<String> = registries.mirrored_prefixes().map(str::to_string).collect();
    let read = format!(
        "{main} and {} read, {}",
        logging::count(registries.files.len() - 1, "drop-in", "drop-ins"),
        logging::count(registries.entry_count(), "entry", "entries")
    );
    lines.push(match prefixes.is_empty() {
        true => Line::warn(
            CHECK,
            format!("{read}, none with mirrors: the provider never writes an auth file"),
            format!(
                "add [[registry.mirror]] to the entries to mirror, in {main} or a drop-in \
                 (contrib/registries.conf.d/; on OpenShift an ImageDigestMirrorSet)"
            ),
        ),
        false => Line::ok(
            CHECK,
            format!("{read}; prefixes with mirrors: {}", prefixes.join(", ")),
        ),
    });
    Some(prefixes)
}

/// The auth directory, with the checks a run makes before it writes: a real directory, owned by
/// this user, writable by nobody else, and the SELinux context its files will get.
pub(super) fn auth_dir(settings: &provider::Settings, lines: &mut Vec<Line>) {
    const CHECK: &str = "auth-dir";
    let path = settings.auth_dir.display();
    let dir = match AuthDir::open_existing(&settings.auth_dir) {
        Ok(Some(dir)) => dir,
        Ok(None) => {
            lines.push(Line::warn(
                CHECK,
                format!("{path} does not exist: CRI-O creates it when it starts, and the first run that writes a file creates it 0700"),
                format!("start CRI-O with namespaced_auth_dir {path}, or create it: install -d -m 0700 {path}"),
            ));
            return;
        }
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!("every run that needs it fails: {e:#}"),
                format!("make {path} a real directory (not a symlink) owned by root, mode 0700: chown root: {path}; chmod 0700 {path}"),
            ));
            return;
        }
    };
    lines.push(
        match dir.expected_context(&settings.selinuxfs, settings.selinux_context.as_deref()) {
            Ok(None) => Line::ok(
                CHECK,
                format!("{path} is private to root as runs require; SELinux is disabled"),
            ),
            Ok(Some(context)) => Line::ok(
                CHECK,
                format!("{path} is private to root as runs require; auth files get SELinux context {context}"),
            ),
            Err(e) => Line::fail(
                CHECK,
                format!("every run that needs it fails: {e:#}"),
                format!("label {path} as CRI-O needs it (RHCOS: restorecon -R {path}, container_config_t), or pass --selinux-context in the provider's args"),
            ),
        },
    );
}

/// Journald's socket: without it runs still log, to stderr only.
pub(super) fn journald(lines: &mut Vec<Line>) {
    const CHECK: &str = "journald";
    let socket = logging::JOURNAL_SOCKET;
    let connected = UnixDatagram::unbound().and_then(|s| s.connect(socket));
    lines.push(match connected {
        Ok(()) => Line::ok(CHECK, format!("{socket} answers: runs log to the journal")),
        Err(e) => Line::warn(
            CHECK,
            format!("{socket} does not answer ({e}): runs log to stderr only, which kubelet shows when a run fails"),
            "start systemd-journald (systemctl start systemd-journald.socket), or read the provider's lines in kubelet's log",
        ),
    });
}

/// The configuration files every run reads, as this one read them (a broken one stops the check
/// before it starts, as it stops every run: a usage error naming it).
pub(super) fn configuration(files: &[PathBuf], lines: &mut Vec<Line>) {
    let shown: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    lines.push(Line::ok(
        "configuration",
        match shown.is_empty() {
            true => "no configuration file: runs take the defaults and kubelet's args".to_string(),
            false => format!("runs read {}", shown.join(", ")),
        },
    ));
}

/// The global pull secret every auth file includes: absent is normal, unreadable or invalid is not.
/// Kubelet tries it before the provider's answer: where it serves a mirrored registry, a pull it
/// makes succeed is recorded as one every pod on the node may use.
pub(super) fn global_pull_secret(path: &Path, mirrored: Option<&[String]>, lines: &mut Vec<Line>) {
    const CHECK: &str = "global-pull-secret";
    let shown = path.display();
    let fix = format!(
        "make {shown} a file root can read, holding {{\"auths\": {{...}}}} with base64 auth values"
    );
    let global = match authfile::read_global(path) {
        Ok(Some(global)) => global,
        Ok(None) => {
            lines.push(Line::ok(
                CHECK,
                format!("{shown} is absent: auth files hold the namespace's entries only"),
            ));
            return;
        }
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!(
                    "runs leave it out of every auth file, so pulls that need it are refused: {e:#}"
                ),
                fix,
            ));
            return;
        }
    };
    let bytes = serde_json::to_vec(&global).unwrap_or_default();
    let secret = match secrets::decode(SecretType::DockerConfigJson, &bytes) {
        Ok(entries) => PullSecret {
            name: shown.to_string(),
            entries,
        },
        Err(reason) => {
            lines.push(Line::fail(
                CHECK,
                format!("{shown} is merged into every auth file, and pulls with it fail: {reason}"),
                fix,
            ));
            return;
        }
    };
    lines.push(Line::ok(
        CHECK,
        format!(
            "{shown} is valid, {} merged into every auth file",
            logging::count(secret.entries.len(), "entry", "entries")
        ),
    ));
    // A wildcard prefix names no registry a key could be compared with.
    let sources: Vec<String> = mirrored
        .unwrap_or_default()
        .iter()
        .filter(|prefix| !prefix.starts_with("*."))
        .cloned()
        .collect();
    let served: Vec<&str> = secrets::choose(std::slice::from_ref(&secret), &sources)
        .iter()
        .map(|chosen| chosen.reference)
        .collect();
    if !served.is_empty() {
        lines.push(Line::warn(
            "global-pull-secret-scope",
            format!(
                "{shown} holds credentials for the mirrored {}: kubelet tries them before the \
                 provider's, and records an image they pull as one every pod on the node may \
                 run, whichever namespace's credentials pulled it from the mirror",
                served.join(", ")
            ),
            format!(
                "remove those entries from {shown}, or make pods pull every time (the \
                 AlwaysPullImages admission plugin, or imagePullPolicy: Always); docs/operating.md, \
                 Who can run an image pulled with a namespace's mirror credentials"
            ),
        ));
    }
}
