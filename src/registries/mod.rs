//! registries.conf: which registry entry CRI-O (containers/image `sysregistriesv2`) picks for an
//! image, and therefore which mirrors it will pull from.

mod file;
mod reference;
mod schema;
mod stream;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::files;

pub use file::{MirrorPulls, Registry};
pub use reference::normalized_name;

/// The registries.conf CRI-O reads; `make REGISTRIES_CONF=/path` bakes another one in.
pub const DEFAULT_REGISTRIES_CONF: &str =
    match option_env!("CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF") {
        Some(path) => path,
        None => "/etc/containers/registries.conf",
    };

/// The files the configuration is read from, as CRI-O reads them.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The main file.
    pub main: PathBuf,
    /// The only drop-in directory to read; `None`: the standard ones.
    pub drop_in_dir: Option<PathBuf>,
}

impl Sources {
    /// The configuration CRI-O would use: the main file (which must exist) and its drop-ins.
    pub fn load(&self) -> Result<Registries, LoadError> {
        Registries::load(&self.main, &self.drop_in_dirs())
    }

    /// The drop-in directories to read, highest priority first: the configured one alone, else
    /// the standard ones containers/image reads as root.
    pub fn drop_in_dirs(&self) -> Vec<PathBuf> {
        if let Some(dir) = &self.drop_in_dir {
            return vec![dir.clone()];
        }
        let mut dirs = Vec::with_capacity(5);
        if let Some(home) = std::env::var_os("HOME").filter(|home| !home.is_empty()) {
            dirs.push(Path::new(&home).join(".config/containers/registries.conf.d"));
        }
        dirs.extend(
            [
                "/etc/containers/registries.rootful.conf.d",
                "/etc/containers/registries.conf.d",
                "/usr/share/containers/registries.rootful.conf.d",
                "/usr/share/containers/registries.conf.d",
            ]
            .map(PathBuf::from),
        );
        dirs
    }
}

/// The merged configuration of a main file and its drop-ins.
#[derive(Debug)]
pub struct Registries {
    /// Unique by prefix, sorted by prefix: the order `FindRegistry` breaks ties in.
    entries: Vec<Registry>,
    /// Every file that was read, in load order.
    pub files: Vec<PathBuf>,
}

/// Why a configuration could not be loaded: the file and the reason, as one line.
#[derive(Debug)]
pub struct LoadError {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

impl std::error::Error for LoadError {}

impl Registries {
    /// Loads `main` (which must exist) and the `*.conf` drop-ins of `drop_in_dirs` (highest priority
    /// first; a basename in a higher-priority dir hides the same basename in a lower one; the
    /// survivors load in basename order and later files replace earlier entries of a prefix).
    fn load(main: &Path, drop_in_dirs: &[PathBuf]) -> Result<Self, LoadError> {
        let mut by_prefix = BTreeMap::new();
        merge_into(&mut by_prefix, load_file(main, false)?.unwrap_or_default());
        let mut files = vec![main.to_path_buf()];
        for path in drop_ins(drop_in_dirs)? {
            if let Some(drop_in) = load_file(&path, true)? {
                merge_into(&mut by_prefix, drop_in);
                files.push(path);
            }
        }
        Ok(Registries {
            entries: by_prefix.into_values().collect(),
            files,
        })
    }

    /// One main file's text alone, for tests elsewhere.
    #[cfg(test)]
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut by_prefix = BTreeMap::new();
        merge_into(&mut by_prefix, file::parse(text, false)?);
        Ok(Registries {
            entries: by_prefix.into_values().collect(),
            files: Vec::new(),
        })
    }

    /// `FindRegistry`: the entry with the longest matching prefix; the first in prefix order on a tie.
    pub fn find(&self, image: &str) -> Option<&Registry> {
        let mut best: Option<&Registry> = None;
        for entry in &self.entries {
            if matched_len(image, &entry.prefix).is_some()
                && best.is_none_or(|b| entry.prefix.len() > b.prefix.len())
            {
                best = Some(entry);
            }
        }
        best
    }

    /// Every entry whose prefix matches `image`, for explaining a decision.
    pub fn candidates<'a>(&'a self, image: &'a str) -> impl Iterator<Item = &'a Registry> + 'a {
        self.entries
            .iter()
            .filter(move |entry| matched_len(image, &entry.prefix).is_some())
    }

    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The prefixes CRI-O pulls through mirrors: entries with mirrors that are not blocked.
    pub fn mirrored_prefixes(&self) -> impl Iterator<Item = &str> {
        self.entries
            .iter()
            .filter(|entry| !entry.mirrors.is_empty() && !entry.blocked)
            .map(|entry| entry.prefix.as_str())
    }
}

impl Registry {
    /// The references CRI-O may pull `image` from through this entry, mirrors first (rewritten as
    /// containers/image rewrites them), then the source location, then `image` itself.
    pub fn pull_references(&self, image: &str) -> Vec<String> {
        let Some(matched) = matched_len(image, &self.prefix) else {
            return vec![image.to_string()];
        };
        let rest = &image[matched..];
        let mut references: Vec<String> = self
            .mirrors
            .iter()
            .map(|mirror| format!("{mirror}{rest}"))
            .collect();
        if !self.location.is_empty() {
            references.push(format!("{}{rest}", self.location));
        }
        references.push(image.to_string());
        let mut seen = std::collections::HashSet::new();
        references.retain(|reference| seen.insert(reference.clone()));
        references
    }
}

/// `refMatchingPrefix`: how much of `image` the prefix matched, if it matched.
fn matched_len(image: &str, prefix: &str) -> Option<usize> {
    if let Some(domain) = prefix.strip_prefix('*') {
        // `*.example.com`: the first occurrence of `.example.com`, inside the host part.
        let index = image.find(domain)?;
        if image[..index].contains('/') {
            return None;
        }
        let end = index + domain.len();
        return at_boundary(image, end).then_some(end);
    }
    (image.starts_with(prefix) && at_boundary(image, prefix.len())).then_some(prefix.len())
}

fn at_boundary(image: &str, index: usize) -> bool {
    matches!(image.as_bytes().get(index), None | Some(b':' | b'/' | b'@'))
}

fn io_error(path: &Path, error: &std::io::Error) -> LoadError {
    LoadError {
        path: path.to_path_buf(),
        reason: error.to_string(),
    }
}

/// registries.conf files (main or drop-in) larger than this are refused: more than twice a file of
/// 10,000 entries with a mirror each, and it bounds the time and memory one run can spend on them.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and validates one file. A drop-in removed between listing and reading (or a dangling
/// link) is skipped, as containers/image skips it: `None`.
fn load_file(path: &Path, drop_in: bool) -> Result<Option<Vec<Registry>>, LoadError> {
    let read = files::read_regular(path, MAX_FILE_BYTES);
    let read = match drop_in {
        true => files::absent_if_missing(read),
        false => read.map(Some),
    };
    let Some(bytes) = read.map_err(|e| io_error(path, &e))? else {
        return Ok(None);
    };
    file::load(&bytes, drop_in)
        .map(Some)
        .map_err(|reason| LoadError {
            path: path.to_path_buf(),
            reason,
        })
}

/// The fuzz target's check of one file's bytes: reading them never panics, and the stream reader
/// and the deserializer agree wherever the stream reader reads them.
#[cfg(fuzzing)]
pub fn fuzz_one_file(bytes: &[u8]) {
    stream::assert_agrees(bytes);
    for drop_in in [false, true] {
        let _ = file::load(bytes, drop_in);
    }
}

/// The drop-in files to load, in load order.
fn drop_ins(dirs: &[PathBuf]) -> Result<Vec<PathBuf>, LoadError> {
    let mut by_basename: BTreeMap<std::ffi::OsString, PathBuf> = BTreeMap::new();
    for dir in dirs {
        let Some(entries) =
            files::absent_if_missing(files::entries_of(dir)).map_err(|e| io_error(dir, &e))?
        else {
            continue;
        };
        for entry in entries {
            // Like filepath.WalkDir: sub-directories are skipped, links are taken as files.
            if entry.name.as_encoded_bytes().ends_with(b".conf") && !entry.is_dir {
                let path = dir.join(&entry.name);
                by_basename.entry(entry.name).or_insert(path);
            }
        }
    }
    Ok(by_basename.into_values().collect())
}

/// `updateWithConfigurationFrom`: entries merge by prefix, a later file's entry replacing the
/// earlier one whole. All files merge into one map, sorted by prefix: loading costs the same per
/// entry whether the entries are in one file or in thousands of drop-ins.
fn merge_into(by_prefix: &mut BTreeMap<String, Registry>, update: Vec<Registry>) {
    for entry in update {
        by_prefix.insert(entry.prefix.clone(), entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(prefix: &str, location: &str, mirrors: &[&str]) -> Registry {
        Registry {
            prefix: prefix.into(),
            location: location.into(),
            mirrors: mirrors.iter().map(|m| m.to_string()).collect(),
            mirror_pulls: vec![MirrorPulls::All; mirrors.len()],
            blocked: false,
        }
    }

    fn registries(mut entries: Vec<Registry>) -> Registries {
        entries.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        Registries {
            entries,
            files: vec![],
        }
    }

    #[test]
    fn exact_prefix_matches_only_on_a_boundary() {
        assert_eq!(matched_len("docker.io/library/nginx", "docker.io"), Some(9));
        assert_eq!(matched_len("docker.io", "docker.io"), Some(9));
        assert_eq!(matched_len("docker.io:443/x", "docker.io"), Some(9));
        assert_eq!(matched_len("docker.io@sha256:x", "docker.io"), Some(9));
        assert_eq!(matched_len("docker.iox/nginx", "docker.io"), None);
        assert_eq!(matched_len("docker.i", "docker.io"), None);
    }

    #[test]
    fn wildcard_prefix_matches_any_depth_of_subdomains_in_the_host_only() {
        assert_eq!(matched_len("a.example.com/img", "*.example.com"), Some(13));
        assert_eq!(
            matched_len("a.b.example.com/img", "*.example.com"),
            Some(15)
        );
        assert_eq!(matched_len("example.com/img", "*.example.com"), None);
        assert_eq!(matched_len("a.io/x.example.com/img", "*.example.com"), None);
        assert_eq!(matched_len("a.example.comx/img", "*.example.com"), None);
    }

    #[test]
    fn longest_prefix_wins_and_wildcards_count_their_star() {
        let config = registries(vec![
            entry("docker.io", "docker.io", &["m1.io"]),
            entry("docker.io/library", "docker.io/library", &["m2.io/lib"]),
            entry("*.docker.io", "", &["m3.io"]),
        ]);
        assert_eq!(
            config.find("docker.io/library/nginx").unwrap().prefix,
            "docker.io/library"
        );
        assert_eq!(
            config.find("docker.io/other/x").unwrap().prefix,
            "docker.io"
        );
        assert_eq!(config.find("a.docker.io/x").unwrap().prefix, "*.docker.io");
        assert!(config.find("quay.io/x").is_none());
    }

    #[test]
    fn equal_length_prefixes_tie_to_the_first_in_prefix_order() {
        let config = registries(vec![
            entry("*.b.example.com", "", &["wild.io"]),
            entry("a.b.example.com", "a.b.example.com", &["exact.io"]),
        ]);
        assert_eq!(
            config.find("a.b.example.com/x").unwrap().prefix,
            "*.b.example.com"
        );
    }

    #[test]
    fn pull_references_rewrite_the_rest_of_the_image_onto_each_mirror() {
        let registry = entry(
            "docker.io/library",
            "docker.io/library",
            &["m.io/team-a", "n.io"],
        );
        assert_eq!(
            registry.pull_references("docker.io/library/nginx"),
            ["m.io/team-a/nginx", "n.io/nginx", "docker.io/library/nginx"]
        );
        let moved = entry("example.com/foo", "internal.com/bar", &[]);
        assert_eq!(
            moved.pull_references("example.com/foo/img"),
            ["internal.com/bar/img", "example.com/foo/img"]
        );
        let wildcard = entry("*.example.com", "", &["m.io"]);
        assert_eq!(
            wildcard.pull_references("a.example.com/img"),
            ["m.io/img", "a.example.com/img"]
        );
    }

    /// Writes `files` (relative path, content) under a new temp dir.
    fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for (path, content) in files {
            let path = root.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        root
    }

    fn location_for(root: &Path, dirs: &[&str], image: &str) -> String {
        let dirs: Vec<PathBuf> = dirs.iter().map(|d| root.join(d)).collect();
        let registries = Registries::load(&root.join("main.conf"), &dirs).unwrap();
        registries
            .find(image)
            .map_or("-".into(), |r| r.location.clone())
    }

    fn entry_conf(prefix: &str, location: &str) -> String {
        format!("[[registry]]\nprefix = \"{prefix}\"\nlocation = \"{location}\"\n")
    }

    #[test]
    fn drop_in_of_a_higher_priority_dir_hides_the_same_basename_below() {
        let root = tree(&[
            ("main.conf", &entry_conf("a.io", "main.io")),
            ("high/50-a.conf", &entry_conf("a.io", "high.io")),
            ("low/50-a.conf", &entry_conf("a.io", "low.io")),
        ]);
        assert_eq!(
            location_for(root.path(), &["high", "low"], "a.io/x"),
            "high.io"
        );
        assert_eq!(
            location_for(root.path(), &["low", "high"], "a.io/x"),
            "low.io"
        );
    }

    #[test]
    fn drop_ins_load_in_basename_order_across_dirs() {
        let root = tree(&[
            ("main.conf", ""),
            ("high/10-a.conf", &entry_conf("a.io", "high-early.io")),
            ("low/90-a.conf", &entry_conf("a.io", "low-late.io")),
        ]);
        assert_eq!(
            location_for(root.path(), &["high", "low"], "a.io/x"),
            "low-late.io"
        );
    }

    #[test]
    fn only_conf_files_count_and_links_are_followed() {
        let root = tree(&[
            ("main.conf", &entry_conf("a.io", "main.io")),
            ("d/a.conf.bak", &entry_conf("a.io", "backup.io")),
            ("d/sub.conf/x.conf", &entry_conf("a.io", "nested.io")),
            ("elsewhere/real", &entry_conf("b.io", "linked.io")),
        ]);
        std::os::unix::fs::symlink(
            root.path().join("elsewhere/real"),
            root.path().join("d/link.conf"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            root.path().join("missing"),
            root.path().join("d/dangling.conf"),
        )
        .unwrap();
        assert_eq!(location_for(root.path(), &["d"], "a.io/x"), "main.io");
        assert_eq!(location_for(root.path(), &["d"], "b.io/x"), "linked.io");
    }

    #[test]
    fn invalid_drop_in_names_its_file() {
        let root = tree(&[
            ("main.conf", ""),
            ("d/bad.conf", "[registries.search]\nregistries = []\n"),
        ]);
        let error =
            Registries::load(&root.path().join("main.conf"), &[root.path().join("d")]).unwrap_err();
        assert!(
            error
                .to_string()
                .ends_with("bad.conf: registry must be in v2 format but is in v1"),
            "{error}"
        );
    }

    #[test]
    fn later_drop_in_replaces_an_entry_whole() {
        let base = file::parse(
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"old.io\"\n",
            false,
        )
        .unwrap();
        let update =
            file::parse("[[registry]]\nlocation = \"a.io\"\nblocked = true\n", true).unwrap();
        let mut by_prefix = BTreeMap::new();
        merge_into(&mut by_prefix, base);
        merge_into(&mut by_prefix, update);
        assert_eq!(
            by_prefix.into_values().collect::<Vec<_>>(),
            vec![Registry {
                blocked: true,
                ..entry("a.io", "a.io", &[])
            }]
        );
    }

    /// `load` of `main` alone, on a thread: a read that blocks fails the test instead of hanging it.
    fn load_within_seconds(main: PathBuf) -> Result<Registries, LoadError> {
        let (done, result) = std::sync::mpsc::channel();
        std::thread::spawn(move || done.send(Registries::load(&main, &[])));
        result
            .recv_timeout(std::time::Duration::from_secs(5))
            .expect("loading must not block")
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let root = tree(&[]);
        let fifo = root.path().join("registries.conf");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let error = load_within_seconds(fifo.clone()).unwrap_err();
        assert_eq!(error.path, fifo);
        assert_eq!(error.reason, "not a regular file");
    }

    #[test]
    fn a_device_is_refused_without_reading_it() {
        let error = load_within_seconds(PathBuf::from("/dev/zero")).unwrap_err();
        assert_eq!(error.to_string(), "/dev/zero: not a regular file");
    }

    #[test]
    fn a_file_over_the_limit_is_refused() {
        let root = tree(&[]);
        let main = root.path().join("main.conf");
        let file = std::fs::File::create(&main).unwrap();
        file.set_len(MAX_FILE_BYTES + 1).unwrap();
        let error = load_within_seconds(main).unwrap_err();
        assert_eq!(error.reason, "larger than the limit of 4 MiB");
    }
}
