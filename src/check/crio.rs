//! CRI-O: the auth directory its configuration names, and its version.
//!
//! CRI-O reads its configuration as cri-o release-1.34 `pkg/config/config.go` does: the main file
//! (`UpdateFromFile`, skipped when it does not exist), then every file below the drop-in directory
//! (`UpdateFromPath`: `filepath.Walk`, so in lexical order, sub-directories included, whatever the
//! file names end in), each decoded over what came before, so a file sets only the keys it holds
//! and the last file that sets a key wins. `namespaced_auth_dir` is a key of the `[crio.image]`
//! table (`ImageConfig`), by default `/etc/crio/auth`, and must be absolute; CRI-O's own
//! `--namespaced-auth-dir` flag overrides the files (`internal/criocli/criocli.go`).

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::process::{self, flag_value};
use super::{Line, Settings};
use crate::files;

/// CRI-O's `namespaced_auth_dir` when nothing sets it (the default of crio-credential-provider's
/// Go package, which CRI-O compiles in).
const DEFAULT_NAMESPACED_AUTH_DIR: &str = "/etc/crio/auth";

/// The first CRI-O that reads the auth files the provider writes.
const MIN_VERSION: Version = Version(1, 34, 3);

const AUTH_DIR_FLAG: &str = "--namespaced-auth-dir";

/// How long `crio --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) fn check(settings: &Settings, lines: &mut Vec<Line>) {
    if let Some(files) = config(settings, lines) {
        auth_dir(settings, &files, lines);
    }
    version(lines);
}

/// One configuration file CRI-O reads, decoded.
type ConfigFile = (PathBuf, toml::Table);

/// Reads CRI-O's configuration files in CRI-O's order; `None` (reported) when one fails.
fn config(settings: &Settings, lines: &mut Vec<Line>) -> Option<Vec<ConfigFile>> {
    const CHECK: &str = "crio-config";
    let paths = match config_paths(&settings.crio_config, &settings.crio_config_dir) {
        Ok(paths) => paths,
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!("CRI-O does not start: {e}"),
                "let root read CRI-O's configuration directory",
            ));
            return None;
        }
    };
    let mut read = Vec::with_capacity(paths.len());
    for path in paths {
        match decode(&path) {
            Ok(table) => read.push((path, table)),
            Err(reason) => {
                lines.push(Line::fail(
                    CHECK,
                    format!("CRI-O does not start with {}: {reason}", path.display()),
                    format!("fix {}", path.display()),
                ));
                return None;
            }
        }
    }
    let names: Vec<String> = read.iter().map(|(p, _)| p.display().to_string()).collect();
    lines.push(Line::ok(
        CHECK,
        match names.is_empty() {
            true => format!(
                "neither {} nor files in {} exist: CRI-O's defaults apply",
                settings.crio_config.display(),
                settings.crio_config_dir.display()
            ),
            false => format!("read, in CRI-O's order: {}", names.join(", ")),
        },
    ));
    Some(read)
}

/// The main file if it exists, then every file below `dir`, in `filepath.Walk`'s order.
fn config_paths(main: &Path, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    match main.try_exists() {
        Ok(true) => paths.push(main.to_path_buf()),
        Ok(false) => {}
        Err(e) => return Err(format!("checking {}: {e}", main.display())),
    }
    walk(dir, &mut paths)?;
    Ok(paths)
}

fn walk(dir: &Path, paths: &mut Vec<PathBuf>) -> Result<(), String> {
    let mut entries = match files::entries_of(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("listing {}: {e}", dir.display())),
    };
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    for entry in entries {
        let path = dir.join(&entry.name);
        // Like filepath.Walk: a link is a file, even to a directory.
        match entry.is_dir {
            true => walk(&path, paths)?,
            false => paths.push(path),
        }
    }
    Ok(())
}

/// A CRI-O configuration file as TOML; the error names the line, never quotes the file.
fn decode(path: &Path) -> Result<toml::Table, String> {
    let bytes = files::read_regular(path, 4 << 20).map_err(|e| e.to_string())?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|span| files::line_and_column(text, span.start).0);
        match line {
            Some(line) => format!("invalid TOML at line {line}: {}", e.message()),
            None => format!("invalid TOML: {}", e.message()),
        }
    })
}

/// Where `namespaced_auth_dir` comes from.
#[derive(Debug, PartialEq, Eq)]
enum Origin<'a> {
    Default,
    File(&'a Path),
}

/// The `namespaced_auth_dir` CRI-O ends up with after reading `files` in order, and the file that
/// set it.
fn namespaced_auth_dir(files: &[ConfigFile]) -> Result<(String, Origin<'_>), String> {
    let mut found = (DEFAULT_NAMESPACED_AUTH_DIR.to_string(), Origin::Default);
    for (path, table) in files {
        let value = table
            .get("crio")
            .and_then(|crio| crio.get("image"))
            .and_then(|image| image.get("namespaced_auth_dir"));
        match value {
            None => {}
            Some(toml::Value::String(dir)) => found = (dir.clone(), Origin::File(path)),
            Some(_) => {
                return Err(format!(
                    "namespaced_auth_dir in [crio.image] of {} is not a string",
                    path.display()
                ));
            }
        }
    }
    Ok(found)
}

fn auth_dir(settings: &Settings, files: &[ConfigFile], lines: &mut Vec<Line>) {
    const CHECK: &str = "crio-auth-dir";
    let wanted = &settings.provider.auth_dir;
    let (dir, origin) = match namespaced_auth_dir(files) {
        Ok(found) => found,
        Err(e) => {
            lines.push(Line::fail(
                CHECK,
                format!("CRI-O does not start: {e}"),
                "write it as a quoted path",
            ));
            return;
        }
    };
    let running = process::running("crio");
    let flag = running
        .as_ref()
        .and_then(|crio| Some((crio.pid, flag_value(&crio.args, AUTH_DIR_FLAG)?)));
    let (dir, from) = match (&flag, &origin) {
        (Some((pid, dir)), _) => (dir.clone(), format!("{AUTH_DIR_FLAG} of crio (pid {pid})")),
        (None, Origin::File(path)) => (dir, format!("set in {}", path.display())),
        (None, Origin::Default) => (dir, "CRI-O's default".to_string()),
    };
    let file = match origin {
        Origin::File(path) => path.to_path_buf(),
        Origin::Default => settings
            .crio_config_dir
            .join("99-crio-credential-provider.conf"),
    };
    let change = match &flag {
        Some((pid, _)) => format!("CRI-O's {AUTH_DIR_FLAG} (crio, pid {pid}, in its unit)"),
        None => format!(
            "namespaced_auth_dir = \"{}\" under [crio.image] in {}",
            wanted.display(),
            file.display()
        ),
    };
    lines.push(if !Path::new(&dir).is_absolute() {
        Line::fail(
            CHECK,
            format!("namespaced_auth_dir {dir:?} ({from}) is not absolute: CRI-O does not start"),
            format!("set {change}"),
        )
    } else if Path::new(&dir) == wanted {
        Line::ok(
            CHECK,
            format!("CRI-O reads auth files from {dir} ({from}), the provider's --auth-dir"),
        )
    } else {
        Line::fail(
            CHECK,
            format!(
                "CRI-O reads auth files from {dir} ({from}), the provider writes them to {}: CRI-O never uses them",
                wanted.display()
            ),
            format!("set {change}, or pass --auth-dir {dir} in the provider's args"),
        )
    });
}

/// A CRI-O version: major, minor, patch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u64, u64, u64);

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

/// The version in `crio --version`'s first line (`crio version 1.34.3`); a suffix of the patch
/// (`1.35.0-dev`) is ignored.
fn parse_version(output: &str) -> Option<Version> {
    let first = output.lines().next()?;
    let mut words = first.split_whitespace();
    words.find(|w| w.eq_ignore_ascii_case("version"))?;
    let number = words.next()?;
    let number = number.strip_prefix('v').unwrap_or(number);
    let mut parts = number.splitn(3, '.').map(|part| {
        let digits = part.len() - part.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        part[..digits].parse::<u64>().ok()
    });
    Some(Version(parts.next()??, parts.next()??, parts.next()??))
}

/// The `crio` binary: the first on `PATH`, else `/usr/bin/crio`.
fn crio_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join("crio"))
        .chain([PathBuf::from("/usr/bin/crio")])
        .find(|candidate| candidate.is_file())
}

/// What `<binary> --version` prints on stdout (at most 64 KiB), within `VERSION_TIMEOUT`.
fn version_output(binary: &Path) -> Result<String, String> {
    let mut child = Command::new(binary)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let reader = std::thread::spawn(move || {
        let mut output = String::new();
        let _ = stdout.take(64 << 10).read_to_string(&mut output);
        output
    });
    let deadline = Instant::now() + VERSION_TIMEOUT;
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "it did not exit within {}s",
                    VERSION_TIMEOUT.as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let output = reader.join().unwrap_or_default();
    match status.success() {
        true => Ok(output),
        false => Err(format!("it exited with {status}")),
    }
}

fn version(lines: &mut Vec<Line>) {
    const CHECK: &str = "crio-version";
    let Some(binary) = crio_binary() else {
        lines.push(Line::warn(
            CHECK,
            format!("no crio on PATH or at /usr/bin/crio: its version is unknown (CRI-O {MIN_VERSION} or later reads the auth files)"),
            "run the check on the node itself (oc debug: chroot /host), or put crio on PATH",
        ));
        return;
    };
    let shown = binary.display();
    let version = version_output(&binary).and_then(|output| {
        parse_version(&output).ok_or_else(|| "its first line names no version".to_string())
    });
    lines.push(match version {
        Err(reason) => Line::warn(
            CHECK,
            format!("{shown} --version gives no version: {reason}"),
            format!("check that {shown} is CRI-O"),
        ),
        Ok(version) if version < MIN_VERSION => Line::fail(
            CHECK,
            format!("{shown} is CRI-O {version}, which ignores auth files (they need {MIN_VERSION} or later): no pull uses them"),
            format!("update CRI-O to {MIN_VERSION} or later (OpenShift: the release of the node brings it)"),
        ),
        Ok(version) => Line::ok(
            CHECK,
            format!("{shown} is CRI-O {version}, which reads auth files ({MIN_VERSION} or later)"),
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> ConfigFile {
        (PathBuf::from(path), toml::from_str(text).unwrap())
    }

    #[test]
    fn the_last_file_that_sets_namespaced_auth_dir_wins() {
        let files = [
            file(
                "/etc/crio/crio.conf",
                "[crio.image]\nnamespaced_auth_dir = \"/a\"\n",
            ),
            file(
                "/etc/crio/crio.conf.d/10-b.conf",
                "[crio.image]\nnamespaced_auth_dir = \"/b\"\n",
            ),
            file(
                "/etc/crio/crio.conf.d/20-other.conf",
                "[crio.image]\npause_image = \"x\"\n",
            ),
        ];
        assert_eq!(
            namespaced_auth_dir(&files).unwrap(),
            (
                "/b".to_string(),
                Origin::File(Path::new("/etc/crio/crio.conf.d/10-b.conf"))
            )
        );
    }

    #[test]
    fn without_the_key_crio_uses_its_default() {
        let files = [file(
            "/etc/crio/crio.conf",
            "[crio.runtime]\nnamespaced_auth_dir = \"/x\"\n",
        )];
        assert_eq!(
            namespaced_auth_dir(&files).unwrap(),
            ("/etc/crio/auth".to_string(), Origin::Default)
        );
        assert_eq!(
            namespaced_auth_dir(&[]).unwrap(),
            ("/etc/crio/auth".to_string(), Origin::Default)
        );
    }

    #[test]
    fn a_namespaced_auth_dir_that_is_not_a_string_is_refused() {
        let files = [file("/c.conf", "[crio.image]\nnamespaced_auth_dir = 1\n")];
        let error = namespaced_auth_dir(&files).unwrap_err();
        assert_eq!(
            error,
            "namespaced_auth_dir in [crio.image] of /c.conf is not a string"
        );
    }

    #[test]
    fn drop_ins_are_walked_in_lexical_order_with_their_subdirectories() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("crio.conf.d");
        for name in [
            "20-b.conf",
            "10-a.conf",
            "15-sub/x.toml",
            "15-sub/a.conf",
            "30-notes",
        ] {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "").unwrap();
        }
        let main = root.path().join("crio.conf");
        let names: Vec<String> = config_paths(&main, &dir)
            .unwrap()
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "10-a.conf",
                "15-sub/a.conf",
                "15-sub/x.toml",
                "20-b.conf",
                "30-notes"
            ]
        );
    }

    #[test]
    fn the_version_is_read_from_the_first_line() {
        assert_eq!(
            parse_version("crio version 1.34.3\n   GitCommit:  abc\n"),
            Some(Version(1, 34, 3))
        );
        assert_eq!(
            parse_version("crio version 1.35.0-dev\n"),
            Some(Version(1, 35, 0))
        );
        assert_eq!(
            parse_version("crio version v1.36.1"),
            Some(Version(1, 36, 1))
        );
        assert_eq!(parse_version("crio version 1.34"), None);
        assert_eq!(parse_version("GitCommit: abc\ncrio version 1.34.3"), None);
        assert_eq!(parse_version(""), None);
    }

    #[test]
    fn versions_compare_by_number_not_by_text() {
        assert!(Version(1, 34, 2) < MIN_VERSION);
        assert!(Version(1, 33, 10) < MIN_VERSION);
        assert!(Version(1, 34, 3) >= MIN_VERSION);
        assert!(Version(1, 34, 10) > MIN_VERSION);
        assert!(Version(1, 35, 0) > MIN_VERSION);
        assert!(Version(2, 0, 0) > MIN_VERSION);
    }
}
