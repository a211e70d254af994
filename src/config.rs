//! The configuration file: the long flags of kubelet mode as TOML keys, read at every run, so that
//! a node whose kubelet passes no `args` (OpenShift 4.22 and later) can still be configured.
//!
//! `/etc/crio/crio-credential-provider.conf`, then the `*.conf` files of
//! `/etc/crio/crio-credential-provider.conf.d/` in name order; a later file's key replaces an
//! earlier one's. `--config PATH` reads PATH and `PATH.d/` instead. Which keys exist and what
//! their values may be is the command line's business (`cli`): here a file is read and parsed.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use toml::de::{DeTable, DeValue};

use crate::files;

pub const DEFAULT_PATH: &str = "/etc/crio/crio-credential-provider.conf";

/// A few dozen keys fit in a few KiB; a larger file is not a configuration of this binary.
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Drop-ins beyond this many are refused, so that a runaway directory cannot slow every pull.
const MAX_DROP_INS: usize = 100;

/// One `key = value` line, with where it was written.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    /// As it would be written on the command line: a string as is, a boolean as `true`/`false`.
    pub value: String,
    pub path: PathBuf,
    pub line: usize,
}

/// The files that were read, in order, and the value of each key that won.
#[derive(Debug, Default)]
pub struct Config {
    pub files: Vec<PathBuf>,
    /// One per key, in the order keys were first written.
    pub entries: Vec<Entry>,
}

/// Reads `path` (absent: no keys) and then its drop-ins. Only "no such file" means absent: any
/// other error (a denial, a directory where the file should be) names the file.
pub fn load(path: &Path) -> Result<Config> {
    let mut config = Config::default();
    let mut paths = vec![path.to_path_buf()];
    paths.extend(drop_ins(path)?);
    for path in paths {
        let read = files::absent_if_missing(files::read_regular(&path, MAX_FILE_BYTES));
        let Some(bytes) = read.with_context(|| format!("reading {}", path.display()))? else {
            continue;
        };
        let text = std::str::from_utf8(&bytes)
            .ok()
            .with_context(|| format!("{} is not UTF-8 text", path.display()))?;
        for entry in parse(text, &path)? {
            match config.entries.iter_mut().find(|e| e.key == entry.key) {
                Some(earlier) => *earlier = entry,
                None => config.entries.push(entry),
            }
        }
        config.files.push(path);
    }
    Ok(config)
}

/// The `*.conf` files of `PATH.d/`, in name order.
fn drop_ins(path: &Path) -> Result<Vec<PathBuf>> {
    let mut dir = OsString::from(path);
    dir.push(".d");
    let dir = PathBuf::from(dir);
    let read = files::absent_if_missing(files::entries_of(&dir));
    let Some(entries) = read.with_context(|| format!("reading {}", dir.display()))? else {
        return Ok(Vec::new());
    };
    let mut drop_ins: Vec<PathBuf> = entries
        .into_iter()
        .filter(|entry| entry.name.as_encoded_bytes().ends_with(b".conf"))
        .map(|entry| dir.join(entry.name))
        .collect();
    if drop_ins.len() > MAX_DROP_INS {
        bail!(
            "{} holds {} drop-ins, more than the {MAX_DROP_INS} read",
            dir.display(),
            drop_ins.len()
        );
    }
    drop_ins.sort();
    Ok(drop_ins)
}

/// The keys of one file, each with its line. A value is a string or a boolean; the error names
/// the file, line and column and never quotes the file.
fn parse(text: &str, path: &Path) -> Result<Vec<Entry>> {
    let table = DeTable::parse(text).map_err(|e| {
        let (line, column) = files::line_and_column(text, e.span().map_or(0, |span| span.start));
        anyhow::anyhow!(
            "{}:{line}:{column}: not valid TOML: {}",
            path.display(),
            e.message().trim_end()
        )
    })?;
    let mut entries = Vec::new();
    for (key, value) in table.get_ref() {
        let (line, _) = files::line_and_column(text, key.span().start);
        let value = match value.get_ref() {
            DeValue::String(text) => text.to_string(),
            DeValue::Boolean(flag) => flag.to_string(),
            _ => bail!(
                "{}:{line}: {}: takes a string (\"20s\", \"/etc/crio/auth\") or true/false",
                path.display(),
                key.get_ref()
            ),
        };
        entries.push(Entry {
            key: key.get_ref().to_string(),
            value,
            path: path.to_path_buf(),
            line,
        });
    }
    entries.sort_by_key(|entry| entry.line);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, String, usize)> {
        parse(text, Path::new("c.conf"))
            .unwrap()
            .into_iter()
            .map(|e| (e.key, e.value, e.line))
            .collect()
    }

    fn error(text: &str) -> String {
        parse(text, Path::new("c.conf")).unwrap_err().to_string()
    }

    #[test]
    fn keys_are_read_with_their_line_in_the_order_written() {
        assert_eq!(
            entries(
                "# why\nsecrets-from = \"service-account\"\n\nlog-level = 'debug'\ninsecure-skip-tls-verify = false\n"
            ),
            [
                ("secrets-from".into(), "service-account".into(), 2),
                ("log-level".into(), "debug".into(), 4),
                ("insecure-skip-tls-verify".into(), "false".into(), 5),
            ]
        );
        assert_eq!(entries(""), []);
    }

    #[test]
    fn a_value_that_is_neither_a_string_nor_a_boolean_names_file_line_and_key() {
        assert_eq!(
            error("log-level = \"info\"\napi-timeout = 20\n"),
            "c.conf:2: api-timeout: takes a string (\"20s\", \"/etc/crio/auth\") or true/false"
        );
        assert!(error("[table]\nx = \"y\"\n").starts_with("c.conf:1: table: takes a string"));
    }

    #[test]
    fn invalid_toml_names_file_line_and_column_without_quoting_it() {
        let message = error("log-level = \"info\"\nauth-dir = /x-SECRET\n");
        assert!(
            message.starts_with("c.conf:2:12: not valid TOML"),
            "{message}"
        );
        assert!(message.contains("not valid TOML"), "{message}");
        assert!(
            !message.contains("SECRET") && !message.contains("/x"),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn a_key_written_twice_in_one_file_is_invalid_toml() {
        assert!(error("log-level = \"info\"\nlog-level = \"debug\"\n").contains("c.conf:2:"));
    }

    #[test]
    fn drop_ins_replace_the_main_files_keys_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("p.conf");
        std::fs::write(&main, "log-level = \"info\"\nauth-dir = \"/a\"\n").unwrap();
        std::fs::create_dir(dir.path().join("p.conf.d")).unwrap();
        std::fs::write(
            dir.path().join("p.conf.d/20-b.conf"),
            "log-level = \"warn\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("p.conf.d/10-a.conf"),
            "log-level = \"debug\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("p.conf.d/30-c.txt"),
            "log-level = \"error\"\n",
        )
        .unwrap();
        let config = load(&main).unwrap();
        let values: Vec<(&str, &str)> = config
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.value.as_str()))
            .collect();
        assert_eq!(values, [("log-level", "warn"), ("auth-dir", "/a")]);
        assert_eq!(
            config.entries[0].path,
            dir.path().join("p.conf.d/20-b.conf")
        );
        assert_eq!(
            config.files,
            [
                main.clone(),
                dir.path().join("p.conf.d/10-a.conf"),
                dir.path().join("p.conf.d/20-b.conf")
            ]
        );
    }

    #[test]
    fn at_most_100_drop_ins_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("p.conf");
        let drop_ins = dir.path().join("p.conf.d");
        std::fs::create_dir(&drop_ins).unwrap();
        for i in 0..100 {
            std::fs::write(drop_ins.join(format!("{i:03}.conf")), "").unwrap();
        }
        assert_eq!(load(&main).unwrap().files.len(), 100);
        std::fs::write(drop_ins.join("100.conf"), "").unwrap();
        let error = load(&main).unwrap_err().to_string();
        assert!(
            error.ends_with("holds 101 drop-ins, more than the 100 read"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_and_directory_mean_no_keys_but_other_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = load(&dir.path().join("absent.conf")).unwrap();
        assert!(config.entries.is_empty() && config.files.is_empty());
        let error = load(dir.path()).unwrap_err();
        assert!(
            format!("{error:#}").contains("not a regular file"),
            "{error:#}"
        );
        let big = dir.path().join("big.conf");
        std::fs::write(&big, " ".repeat(64 * 1024 + 1)).unwrap();
        let error = format!("{:#}", load(&big).unwrap_err());
        assert!(
            error.contains("big.conf") && error.contains("64 KiB"),
            "{error}"
        );
    }
}
