//! Pull secrets: decoding them as kubelet does, and choosing, for each reference CRI-O may pull,
//! the one credential that applies to it. Pure: decoded secret data in, chosen credentials out.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;

/// The two secret types kubelet reads pull credentials from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretType {
    /// `kubernetes.io/dockerconfigjson`: `.dockerconfigjson` holds `{"auths": {key: entry}}`.
    DockerConfigJson,
    /// `kubernetes.io/dockercfg`: `.dockercfg` holds the bare `{key: entry}` map.
    DockerCfg,
}

impl SecretType {
    pub fn type_name(self) -> &'static str {
        match self {
            SecretType::DockerConfigJson => "kubernetes.io/dockerconfigjson",
            SecretType::DockerCfg => "kubernetes.io/dockercfg",
        }
    }

    pub fn from_type_name(name: &str) -> Option<Self> {
        [SecretType::DockerConfigJson, SecretType::DockerCfg]
            .into_iter()
            .find(|t| t.type_name() == name)
    }

    pub fn data_key(self) -> &'static str {
        match self {
            SecretType::DockerConfigJson => ".dockerconfigjson",
            SecretType::DockerCfg => ".dockercfg",
        }
    }
}

/// A registry credential. Its `Debug` output never shows the password or token.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    pub username: String,
    pub password: String,
    pub identity_token: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("identity_token", &"<redacted>")
            .finish()
    }
}

impl Credential {
    /// The entry as containers/image reads it: `auth` is base64 of `user:password`
    /// (containers/image ignores separate `username`/`password` fields).
    pub fn auth_entry(&self) -> serde_json::Value {
        let mut entry = serde_json::Map::new();
        if !self.username.is_empty() || !self.password.is_empty() {
            let auth = STANDARD.encode(format!("{}:{}", self.username, self.password));
            entry.insert("auth".into(), auth.into());
        }
        if !self.identity_token.is_empty() {
            entry.insert("identitytoken".into(), self.identity_token.clone().into());
        }
        serde_json::Value::Object(entry)
    }
}

/// One decoded pull secret: its name and its entries, keyed as the user wrote them.
#[derive(Debug)]
pub struct PullSecret {
    pub name: String,
    pub entries: Vec<(String, Credential)>,
}

#[derive(Deserialize)]
struct DockerConfigJson {
    #[serde(default)]
    auths: BTreeMap<String, RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    auth: String,
    #[serde(default)]
    identitytoken: String,
}

/// Decodes a secret's data. The error names what is wrong, never any of the content.
pub fn decode(name: &str, secret_type: SecretType, data: &[u8]) -> Result<PullSecret, String> {
    let raw = match secret_type {
        SecretType::DockerConfigJson => {
            serde_json::from_slice::<DockerConfigJson>(data).map(|config| config.auths)
        }
        SecretType::DockerCfg => serde_json::from_slice(data),
    }
    .map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Data => "unexpected structure",
            _ => "invalid JSON",
        };
        format!(
            "{} is not a docker config: {what} at line {} column {}",
            secret_type.data_key(),
            e.line(),
            e.column()
        )
    })?;
    let mut entries = Vec::with_capacity(raw.len());
    for (key, entry) in raw {
        let (username, password) = if entry.auth.is_empty() {
            (entry.username, entry.password)
        } else {
            decode_auth(&entry.auth).ok_or_else(|| {
                format!("the auth field of entry {key:?} is not base64 of user:password")
            })?
        };
        entries.push((
            key,
            Credential {
                username,
                password,
                identity_token: entry.identitytoken,
            },
        ));
    }
    Ok(PullSecret {
        name: name.to_string(),
        entries,
    })
}

/// Padded or unpadded standard base64 of `user:password`, as kubelet accepts it.
fn decode_auth(auth: &str) -> Option<(String, String)> {
    let auth = auth.trim();
    let engine = if auth.ends_with('=') {
        STANDARD
    } else {
        STANDARD_NO_PAD
    };
    let decoded = String::from_utf8(engine.decode(auth).ok()?).ok()?;
    let (username, password) = decoded.split_once(':')?;
    Some((username.to_string(), password.to_string()))
}

/// A secret key parsed the way kubelet's keyring does: scheme optional, `/v1/` or `/v2/` dropped.
#[derive(Debug, PartialEq, Eq)]
struct KeyPattern<'a> {
    /// Host labels; each may hold `*` (any run of characters within one label).
    labels: Vec<&'a str>,
    port: Option<&'a str>,
    /// Without a trailing slash; empty for a host-only key.
    path: &'a str,
}

fn parse_key(key: &str) -> Option<KeyPattern<'_>> {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (authority, path) = match rest.find('/') {
        Some(slash) => rest.split_at(slash),
        None => (rest, ""),
    };
    let path = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/v2/"))
        .map_or(path, |stripped| &path[path.len() - stripped.len() - 1..]);
    let path = path.trim_end_matches('/');
    let (host, port) = split_host_port(authority)?;
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
        return None;
    }
    Some(KeyPattern {
        labels: host.split('.').collect(),
        port,
        path,
    })
}

/// A reference `host[:port]/path` split into host labels, port and path (`/...`).
fn split_reference(reference: &str) -> Option<(Vec<&str>, Option<&str>, &str)> {
    let (authority, path) = match reference.find('/') {
        Some(slash) => reference.split_at(slash),
        None => (reference, ""),
    };
    let (host, port) = split_host_port(authority)?;
    Some((host.split('.').collect(), port, path))
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let end = authority.find(']')?;
        let port = authority[end + 1..].strip_prefix(':');
        if port.is_none() && end + 1 != authority.len() {
            return None;
        }
        return Some((&authority[..=end], port));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !port.is_empty() => {
            Some((host, Some(port)))
        }
        Some(_) => None,
        None => Some((authority, None)),
    }
}

/// `filepath.Match` restricted to what a host label can hold: `*` matches any run of characters.
fn label_matches(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some((head, tail)) => {
            let Some(rest) = label.strip_prefix(head) else {
                return false;
            };
            (0..=rest.len())
                .filter(|&i| rest.is_char_boundary(i))
                .any(|i| label_matches(tail, &rest[i..]))
        }
    }
}

/// How well a key applies to a reference; `None` when it does not apply. Greater is better.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct Specificity {
    /// A direct match beats the `index.docker.io` fallback for Docker Hub names.
    direct: bool,
    /// Length of the key's host and path: a longer key is more specific.
    length: usize,
    /// Between equally long keys, one without wildcards wins.
    literal: bool,
}

const DOCKER_HUB_HOSTS: [&str; 2] = ["docker.io", "index.docker.io"];

fn specificity(key: &KeyPattern<'_>, reference: &str) -> Option<Specificity> {
    let (labels, port, path) = split_reference(reference)?;
    let length = key.labels.iter().map(|l| l.len() + 1).sum::<usize>() + key.path.len();
    let literal = !key.labels.iter().any(|l| l.contains('*'));
    let host_matches = key.labels.len() == labels.len()
        && key
            .labels
            .iter()
            .zip(&labels)
            .all(|(p, l)| label_matches(p, l));
    let path_matches = path == key.path
        || (path.starts_with(key.path) && path.as_bytes().get(key.path.len()) == Some(&b'/'));
    if host_matches && key.port == port && path_matches {
        return Some(Specificity {
            direct: true,
            length,
            literal,
        });
    }
    // Kubelet serves Docker Hub names with credentials for `index.docker.io` (as written in
    // `https://index.docker.io/v1/`) when nothing else matches.
    let hub_key =
        key.labels == ["index", "docker", "io"] && key.port.is_none() && key.path.is_empty();
    let hub_reference = port.is_none() && DOCKER_HUB_HOSTS.contains(&labels.join(".").as_str());
    (hub_key && hub_reference).then_some(Specificity {
        direct: false,
        length,
        literal,
    })
}

/// The credential chosen for one reference, and where it came from (for the log).
#[derive(Debug)]
pub struct Chosen<'a> {
    pub reference: &'a str,
    pub secret: &'a str,
    pub key: &'a str,
    pub credential: &'a Credential,
}

/// For each reference, the most specific applicable entry of all secrets; on a tie, the secret
/// whose name sorts first, then the key that sorts first, so the result does not depend on the
/// order the API listed the secrets in. References no entry applies to are left out.
pub fn choose<'a>(secrets: &'a [PullSecret], references: &'a [String]) -> Vec<Chosen<'a>> {
    let patterns: Vec<(&PullSecret, &str, KeyPattern<'_>, &Credential)> = secrets
        .iter()
        .flat_map(|secret| {
            secret.entries.iter().filter_map(move |(key, credential)| {
                let usable = !credential.username.is_empty()
                    || !credential.password.is_empty()
                    || !credential.identity_token.is_empty();
                let pattern = parse_key(key).filter(|_| usable)?;
                Some((secret, key.as_str(), pattern, credential))
            })
        })
        .collect();
    references
        .iter()
        .filter_map(|reference| {
            patterns
                .iter()
                .enumerate()
                .filter_map(|(order, (secret, key, pattern, credential))| {
                    let rank = specificity(pattern, reference)?;
                    Some((rank, order, secret.name.as_str(), *key, *credential))
                })
                // Most specific first; among equals the first in order (the secret that comes
                // first, then its key that sorts first, as entries are sorted by key).
                .min_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)))
                .map(|(_, _, secret, key, credential)| Chosen {
                    reference,
                    secret,
                    key,
                    credential,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credential(user: &str) -> Credential {
        Credential {
            username: user.into(),
            password: format!("{user}-pw"),
            identity_token: String::new(),
        }
    }

    fn secret(name: &str, keys: &[(&str, &str)]) -> PullSecret {
        PullSecret {
            name: name.into(),
            entries: keys
                .iter()
                .map(|(k, u)| (k.to_string(), credential(u)))
                .collect(),
        }
    }

    /// The username chosen for each reference ("-" where none applies).
    fn chosen_users(secrets: &[PullSecret], references: &[&str]) -> Vec<String> {
        let references: Vec<String> = references.iter().map(|r| r.to_string()).collect();
        let chosen = choose(secrets, &references);
        references
            .iter()
            .map(|r| {
                chosen
                    .iter()
                    .find(|c| c.reference == r)
                    .map_or("-".to_string(), |c| c.credential.username.clone())
            })
            .collect()
    }

    #[test]
    fn dockerconfigjson_auth_overrides_username_and_password() {
        let data = br#"{"auths":{"reg.io":{"username":"ignored","password":"x","auth":"dXNlcjpwYTpzcw=="}}}"#;
        let secret = decode("s", SecretType::DockerConfigJson, data).unwrap();
        assert_eq!(secret.entries[0].1.username, "user");
        assert_eq!(secret.entries[0].1.password, "pa:ss");
    }

    #[test]
    fn unpadded_auth_and_username_password_only_entries_are_read() {
        let data = br#"{"a.io":{"auth":"dXNlcjpwYXNz"},"b.io":{"username":"u","password":"p","identitytoken":"t"}}"#;
        let secret = decode("s", SecretType::DockerCfg, data).unwrap();
        assert_eq!(
            secret.entries[0].1,
            Credential {
                username: "user".into(),
                password: "pass".into(),
                identity_token: "".into()
            }
        );
        assert_eq!(
            secret.entries[1].1,
            Credential {
                username: "u".into(),
                password: "p".into(),
                identity_token: "t".into()
            }
        );
    }

    #[test]
    fn broken_secrets_are_refused_without_their_content() {
        let cases: [(SecretType, &[u8]); 4] = [
            (SecretType::DockerConfigJson, b"SECRET-not-json"),
            (
                SecretType::DockerConfigJson,
                br#"{"auths":{"a.io":"SECRET"}}"#,
            ),
            (
                SecretType::DockerConfigJson,
                br#"{"auths":{"a.io":{"auth":"!!SECRET!!"}}}"#,
            ),
            (
                SecretType::DockerCfg,
                br#"{"a.io":{"auth":"U0VDUkVULW5vLWNvbG9u"}}"#,
            ),
        ];
        for (secret_type, data) in cases {
            let err = decode("s", secret_type, data).unwrap_err();
            assert!(!err.contains("SECRET") && !err.contains("U0VD"), "{err}");
        }
    }

    #[test]
    fn credential_debug_output_is_redacted() {
        let debug = format!(
            "{:?}",
            Credential {
                username: "u".into(),
                password: "hunter2".into(),
                identity_token: "tok3n".into()
            }
        );
        assert!(
            !debug.contains("hunter2") && !debug.contains("tok3n"),
            "{debug}"
        );
    }

    #[test]
    fn auth_entry_is_what_containers_image_reads() {
        let entry = Credential {
            username: "u".into(),
            password: "p".into(),
            identity_token: "t".into(),
        }
        .auth_entry();
        assert_eq!(
            entry,
            serde_json::json!({"auth": "dTpw", "identitytoken": "t"})
        );
    }

    #[test]
    fn a_bare_host_never_serves_a_longer_host() {
        let secrets = [secret("s", &[("reg.io", "good")])];
        assert_eq!(
            chosen_users(&secrets, &["reg.io/x", "reg.io.evil.com/x", "evilreg.io/x"]),
            ["good", "-", "-"]
        );
    }

    #[test]
    fn scheme_and_registry_api_paths_are_ignored_in_keys() {
        let secrets = [secret(
            "s",
            &[
                ("https://a.io/v2/", "a"),
                ("http://b.io/v1/", "b"),
                ("c.io/", "c"),
            ],
        )];
        assert_eq!(
            chosen_users(&secrets, &["a.io/x", "b.io/x/y", "c.io/z"]),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn ports_must_be_equal() {
        let secrets = [secret("s", &[("m.io:5000", "port")])];
        assert_eq!(
            chosen_users(&secrets, &["m.io:5000/x", "m.io/x", "m.io:5001/x"]),
            ["port", "-", "-"]
        );
    }

    #[test]
    fn each_wildcard_is_exactly_one_label() {
        let secrets = [secret("s", &[("*.example.com", "wild")])];
        assert_eq!(
            chosen_users(
                &secrets,
                &["a.example.com/x", "a.b.example.com/x", "example.com/x"]
            ),
            ["wild", "-", "-"]
        );
    }

    #[test]
    fn key_path_applies_to_its_own_subtree_only() {
        let secrets = [secret("s", &[("m.io/team-a", "a"), ("m.io/team-b", "b")])];
        assert_eq!(
            chosen_users(
                &secrets,
                &[
                    "m.io/team-a/img",
                    "m.io/team-b/img",
                    "m.io/team-ab/img",
                    "m.io/img"
                ]
            ),
            ["a", "b", "-", "-"]
        );
    }

    #[test]
    fn most_specific_key_wins_over_order() {
        let secrets = [
            secret("a-first", &[("m.io", "host")]),
            secret("b-second", &[("m.io/team-a", "path"), ("*.io", "wild")]),
        ];
        assert_eq!(
            chosen_users(&secrets, &["m.io/team-a/img", "m.io/img"]),
            ["path", "host"]
        );
    }

    #[test]
    fn literal_host_beats_wildcard_of_the_same_length() {
        let secrets = [
            secret("a", &[("*.b.io", "wild")]),
            secret("b", &[("a.b.io", "literal")]),
        ];
        assert_eq!(chosen_users(&secrets, &["a.b.io/x"]), ["literal"]);
    }

    #[test]
    fn equal_keys_tie_to_the_secret_that_comes_first() {
        let forward = [
            secret("alpha", &[("m.io", "alpha")]),
            secret("beta", &[("m.io", "beta")]),
        ];
        let backward = [
            secret("beta", &[("m.io", "beta")]),
            secret("alpha", &[("m.io", "alpha")]),
        ];
        assert_eq!(chosen_users(&forward, &["m.io/x"]), ["alpha"]);
        assert_eq!(chosen_users(&backward, &["m.io/x"]), ["beta"]);
    }

    #[test]
    fn secret_types_are_known_by_their_type_names_only() {
        for t in [SecretType::DockerConfigJson, SecretType::DockerCfg] {
            assert_eq!(SecretType::from_type_name(t.type_name()), Some(t));
        }
        assert_eq!(SecretType::from_type_name("Opaque"), None);
        assert_eq!(SecretType::from_type_name(".dockercfg"), None);
    }

    #[test]
    fn index_docker_io_serves_docker_hub_names_when_nothing_else_does() {
        let hub = [secret("s", &[("https://index.docker.io/v1/", "hub")])];
        assert_eq!(
            chosen_users(&hub, &["docker.io/library/nginx", "quay.io/x"]),
            ["hub", "-"]
        );
        let both = [secret(
            "s",
            &[
                ("https://index.docker.io/v1/", "hub"),
                ("docker.io", "direct"),
            ],
        )];
        assert_eq!(
            chosen_users(&both, &["docker.io/library/nginx"]),
            ["direct"]
        );
    }

    #[test]
    fn entries_without_any_credential_are_not_chosen() {
        let empty = PullSecret {
            name: "a".into(),
            entries: vec![(
                "m.io".into(),
                Credential {
                    username: "".into(),
                    password: "".into(),
                    identity_token: "".into(),
                },
            )],
        };
        assert_eq!(
            chosen_users(&[empty, secret("b", &[("m.io", "real")])], &["m.io/x"]),
            ["real"]
        );
    }

    #[test]
    fn unparsable_keys_are_ignored() {
        let secrets = [secret(
            "s",
            &[("m.io:port", "bad"), ("", "empty"), ("m.io", "good")],
        )];
        assert_eq!(chosen_users(&secrets, &["m.io/x"]), ["good"]);
    }
}
