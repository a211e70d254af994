//! The auth file CRI-O consumes: its name and its content (here), and the private directory it is
//! written to so that nothing can redirect the write, read a partial file, or find a credential
//! file with loose permissions (`dir`).

mod dir;

pub use dir::AuthDir;

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::files;
use crate::secrets::Chosen;

/// `<namespace>-<sha256hex(image)>.json`, the name CRI-O looks for before a pull in `namespace`.
pub fn auth_file_name(namespace: &str, image: &str) -> String {
    let digest = Sha256::digest(image.as_bytes());
    let mut name = String::with_capacity(namespace.len() + 70);
    name.push_str(namespace);
    name.push('-');
    // Lowercase hex, two digits a byte, without a formatter per byte (every run names a file).
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for byte in digest {
        name.push(char::from(HEX[usize::from(byte >> 4)]));
        name.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    name.push_str(".json");
    name
}

/// The file's content: the global pull secret as it is, with the chosen namespace credentials set
/// under `auths` (replacing a global entry of the same key). Returns it with the number of entries.
pub fn merge(global: Option<Value>, chosen: &[Chosen<'_>]) -> (Value, usize) {
    let mut document = match global {
        Some(Value::Object(document)) => document,
        _ => Map::new(),
    };
    let auths = document
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let auths = auths
        .as_object_mut()
        .expect("auths was just made an object");
    for choice in chosen {
        auths.insert(choice.reference.to_string(), choice.credential.auth_entry());
    }
    let entries = auths.len();
    (Value::Object(document), entries)
}

/// A node's global pull secret holds a few registries: a few KiB.
const MAX_GLOBAL_BYTES: u64 = 4 * 1024 * 1024;

/// Reads the global pull secret. Missing is normal (plain Kubernetes); unreadable or malformed is
/// reported to the caller, which goes on without it. The error never quotes the content.
pub fn read_global(path: &Path) -> Result<Option<Value>> {
    let read = files::absent_if_missing(files::read_regular(path, MAX_GLOBAL_BYTES));
    let Some(text) = read.with_context(|| format!("reading {}", path.display()))? else {
        return Ok(None);
    };
    match serde_json::from_slice::<Value>(&text) {
        Ok(value @ Value::Object(_)) => Ok(Some(value)),
        Ok(_) => bail!("{} is not a JSON object", path.display()),
        Err(e) => bail!(
            "{} is not valid JSON (line {} column {})",
            path.display(),
            e.line(),
            e.column()
        ),
    }
}

/// Whether `name` is one `auth_file_name` gives: `<namespace>-<64 lowercase hex>.json`.
pub(crate) fn is_auth_file(name: &str) -> bool {
    let Some(stem) = name.strip_suffix(".json") else {
        return false;
    };
    let Some((namespace, hash)) = stem.rsplit_once('-') else {
        return false;
    };
    !namespace.is_empty()
        && hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::Credential;

    #[test]
    fn file_name_is_namespace_and_sha256_of_the_image() {
        assert_eq!(
            auth_file_name("default", "docker.io/library/nginx"),
            "default-7e59ad64326bc321517fb6fc6586de5ee149178394d9edfa2a877176cdf6fad5.json"
        );
    }

    fn chosen<'a>(reference: &'a str, credential: &'a Credential) -> Chosen<'a> {
        Chosen {
            reference,
            secret: "s",
            key: "m.io",
            credential,
        }
    }

    fn credential(username: &str, password: &str) -> Credential {
        Credential {
            username: username.into(),
            password: password.into(),
            identity_token: "".into(),
        }
    }

    #[test]
    fn namespace_credentials_replace_global_entries_of_the_same_key_only() {
        let global = serde_json::json!({
            "auths": {"m.io/x": {"auth": "Z2xvYmFsOng="}, "other.io": {"auth": "b3RoZXI6eQ=="}},
            "credHelpers": {"a.io": "helper"}
        });
        let credential = credential("ns", "pw");
        let (document, entries) = merge(Some(global), &[chosen("m.io/x", &credential)]);
        assert_eq!(
            document,
            serde_json::json!({
                "auths": {"m.io/x": {"auth": "bnM6cHc="}, "other.io": {"auth": "b3RoZXI6eQ=="}},
                "credHelpers": {"a.io": "helper"}
            })
        );
        assert_eq!(entries, 2);
    }

    #[test]
    fn without_a_global_file_only_namespace_entries_are_written() {
        let credential = credential("u", "p");
        let (document, entries) = merge(None, &[chosen("m.io/x", &credential)]);
        assert_eq!(
            document,
            serde_json::json!({"auths": {"m.io/x": {"auth": "dTpw"}}})
        );
        assert_eq!(entries, 1);
    }

    #[test]
    fn auth_file_names_are_recognised_and_nothing_else() {
        let hash = "7e59ad64326bc321517fb6fc6586de5ee149178394d9edfa2a877176cdf6fad5";
        assert!(is_auth_file(&format!("team-a-{hash}.json")));
        assert!(is_auth_file(&auth_file_name("team-a", "quay.io/x")));
        assert!(!is_auth_file(&format!("-{hash}.json")));
        assert!(!is_auth_file(&format!("a-{}.json", hash.to_uppercase())));
        assert!(!is_auth_file(&format!("a-{}.json", &hash[1..])));
        assert!(!is_auth_file(&format!("a-{hash}.jsonx")));
        assert!(!is_auth_file("config.json"));
    }
}
