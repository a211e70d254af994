//! Pull secrets: what a pull secret holds (its types, its credentials) and how its data decodes,
//! as kubelet decodes it; `keyring` chooses, for each reference CRI-O may pull, the one entry that
//! serves it. Pure: secret data in, credentials out.

mod keyring;

pub use keyring::{Chosen, choose};
/// Kubelet's URL parsing and host globbing, which its `matchImages` use too.
pub(crate) use keyring::{label_matches, parse_url, split_host_port};

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde::Deserialize;

use crate::logging;

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
    auths: Entries,
}

/// The entries of a docker config by key, sorted; of equal keys the last is kept, as by
/// kubelet's Go map. A sorted list, not a map: a config holds an entry or a few, and a
/// namespace's thousands of configs are read on every pull. Each credential is decoded as its
/// entry is read, into the list that is kept: `None` where its `auth` does not decode.
#[derive(Default)]
struct Entries(Vec<(String, Option<Credential>)>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> serde::de::Visitor<'de> for EntriesVisitor {
            type Value = Entries;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map of registry keys to entries")
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Self::Value, A::Error> {
                // Most configs hold one entry: room for more is made when a second comes.
                let mut entries: Vec<(String, Option<Credential>)> = Vec::with_capacity(1);
                while let Some((Key(key), entry)) = map.next_entry::<Key, RawEntry>()? {
                    entries.push((key.into_owned(), entry.credential()));
                }
                // Stable: of equal keys the one read last stays last, and is the one kept.
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                entries.dedup_by(|later, earlier| {
                    let equal = later.0 == earlier.0;
                    if equal {
                        std::mem::swap(later, earlier);
                    }
                    equal
                });
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// A key, borrowed from the data where it holds no escape.
#[derive(Deserialize)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// An entry as written: its text borrowed from the secret's data where it holds no escape (a
/// namespace's thousands of secrets are decoded on every pull).
#[derive(Deserialize)]
struct RawEntry<'a> {
    #[serde(default, borrow)]
    username: Cow<'a, str>,
    #[serde(default, borrow)]
    password: Cow<'a, str>,
    #[serde(default, borrow)]
    auth: Cow<'a, str>,
    #[serde(default, borrow)]
    identitytoken: Cow<'a, str>,
}

impl RawEntry<'_> {
    /// The entry's credential: `auth`, where it is set, stands for the username and password.
    /// `None` where `auth` is not base64 of user:password.
    fn credential(self) -> Option<Credential> {
        let (username, password) = if self.auth.is_empty() {
            (self.username.into_owned(), self.password.into_owned())
        } else {
            decode_auth(&self.auth)?
        };
        Some(Credential {
            username,
            password,
            identity_token: self.identitytoken.into_owned(),
        })
    }
}

/// Decodes a secret's data into its entries. The error names what is wrong, never any of the
/// content.
pub fn decode(secret_type: SecretType, data: &[u8]) -> Result<Vec<(String, Credential)>, String> {
    let Entries(entries) = match secret_type {
        SecretType::DockerConfigJson => {
            serde_json::from_slice::<DockerConfigJson>(data).map(|config| config.auths)
        }
        SecretType::DockerCfg => serde_json::from_slice(data),
    }
    .map_err(|e| {
        format!(
            "{} is not a docker config: {}",
            secret_type.data_key(),
            logging::json_error(&e)
        )
    })?;
    if let Some((key, _)) = entries.iter().find(|(_, credential)| credential.is_none()) {
        return Err(format!(
            "the auth field of entry {:?} is not base64 of user:password",
            shown_key(key)
        ));
    }
    // Every credential is there (checked above): the list is kept, in place.
    Ok(entries
        .into_iter()
        .filter_map(|(key, credential)| Some((key, credential?)))
        .collect())
}

/// A secret's key as it may be shown in a log line or an error: a key may carry user info
/// (`https://user:password@reg.io/team`, which kubelet accepts and ignores), and that part is left
/// out. Everything else of the key is as written, so an operator can find it.
pub fn shown_key(key: &str) -> String {
    let (scheme, rest) = key.split_at(key.find("://").map_or(0, |at| at + 3));
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    match authority.rfind('@') {
        Some(at) => format!("{scheme}<user info>{}", &rest[at..]),
        None => key.to_string(),
    }
}

/// Padded or unpadded standard base64 of `user:password`, as kubelet accepts it.
fn decode_auth(auth: &str) -> Option<(String, String)> {
    let auth = auth.trim();
    let engine = if auth.ends_with('=') {
        STANDARD
    } else {
        STANDARD_NO_PAD
    };
    let mut username = String::from_utf8(engine.decode(auth).ok()?).ok()?;
    let colon = username.find(':')?;
    let password = username[colon + 1..].to_string();
    username.truncate(colon);
    Some((username, password))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A credential with exactly these fields.
    pub(crate) fn only(username: &str, password: &str, identity_token: &str) -> Credential {
        Credential {
            username: username.into(),
            password: password.into(),
            identity_token: identity_token.into(),
        }
    }

    #[test]
    fn entries_are_sorted_by_key_and_of_equal_keys_the_last_is_read() {
        // The JSON is valid with a key twice; Go's map (kubelet) keeps the last value.
        let data = br#"{"auths":{"z.io":{"username":"z"},"a.io":{"username":"first"},"a.io":{"username":"second"},"a.io":{"username":"last"}}}"#;
        let entries = decode(SecretType::DockerConfigJson, data).unwrap();
        let users: Vec<(&str, &str)> = entries
            .iter()
            .map(|(key, credential)| (key.as_str(), credential.username.as_str()))
            .collect();
        assert_eq!(users, [("a.io", "last"), ("z.io", "z")]);
    }

    #[test]
    fn only_the_entry_kept_of_equal_keys_must_have_an_auth_that_decodes() {
        let replaced = br#"{"a.io":{"auth":"!!"},"a.io":{"auth":"dTpw"}}"#;
        let entries = decode(SecretType::DockerCfg, replaced).unwrap();
        assert_eq!(entries, [("a.io".to_string(), only("u", "p", ""))]);
        let kept = br#"{"a.io":{"auth":"dTpw"},"a.io":{"auth":"!!"}}"#;
        assert_eq!(
            decode(SecretType::DockerCfg, kept).unwrap_err(),
            r#"the auth field of entry "a.io" is not base64 of user:password"#
        );
    }

    #[test]
    fn escaped_text_in_entries_is_decoded() {
        let data = br#"{"r.io":{"username":"a\u0041","password":"p\"w"}}"#;
        let entries = decode(SecretType::DockerCfg, data).unwrap();
        assert_eq!(entries[0].1.username, "aA");
        assert_eq!(entries[0].1.password, "p\"w");
    }

    #[test]
    fn an_escaped_key_is_decoded() {
        let data = br#"{"auths":{"r\u002eio":{"username":"u"}}}"#;
        let entries = decode(SecretType::DockerConfigJson, data).unwrap();
        assert_eq!(entries[0].0, "r.io");
    }

    #[test]
    fn dockerconfigjson_auth_overrides_username_and_password() {
        let data = br#"{"auths":{"reg.io":{"username":"ignored","password":"x","auth":"dXNlcjpwYTpzcw=="}}}"#;
        let entries = decode(SecretType::DockerConfigJson, data).unwrap();
        assert_eq!(entries[0].1.username, "user");
        assert_eq!(entries[0].1.password, "pa:ss");
    }

    #[test]
    fn unpadded_auth_and_username_password_only_entries_are_read() {
        let data = br#"{"a.io":{"auth":"dXNlcjpwYXNz"},"b.io":{"username":"u","password":"p","identitytoken":"t"}}"#;
        let entries = decode(SecretType::DockerCfg, data).unwrap();
        assert_eq!(
            entries[0].1,
            Credential {
                username: "user".into(),
                password: "pass".into(),
                identity_token: "".into()
            }
        );
        assert_eq!(
            entries[1].1,
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
            let err = decode(secret_type, data).unwrap_err();
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
    fn auth_entry_of_partial_credentials_holds_only_what_they_have() {
        assert_eq!(
            only("", "", "t").auth_entry(),
            serde_json::json!({"identitytoken": "t"})
        );
        // base64 of "u:" and of ":p"
        assert_eq!(
            only("u", "", "").auth_entry(),
            serde_json::json!({"auth": "dTo="})
        );
        assert_eq!(
            only("", "p", "").auth_entry(),
            serde_json::json!({"auth": "OnA="})
        );
    }

    #[test]
    fn a_key_is_shown_without_its_user_info() {
        for (key, shown) in [
            (
                "https://user:pw@reg.io/team",
                "https://<user info>@reg.io/team",
            ),
            ("user:pw@reg.io", "<user info>@reg.io"),
            ("reg.io/team@x", "reg.io/team@x"),
            ("https://reg.io:5000/v2/", "https://reg.io:5000/v2/"),
            ("reg.io?a@b", "reg.io?a@b"),
        ] {
            assert_eq!(shown_key(key), shown, "{key}");
        }
    }

    #[test]
    fn a_bad_auth_field_names_its_entry_without_user_info() {
        let data = br#"{"auths":{"https://robot:SECRET@reg.io":{"auth":"!!"}}}"#;
        let error = decode(SecretType::DockerConfigJson, data).unwrap_err();
        assert_eq!(
            error,
            r#"the auth field of entry "https://<user info>@reg.io" is not base64 of user:password"#
        );
    }

    #[test]
    fn credential_debug_output_names_the_user() {
        let debug = format!("{:?}", only("robot$ci", "hunter2", ""));
        assert_eq!(
            debug,
            r#"Credential { username: "robot$ci", password: "<redacted>", identity_token: "<redacted>" }"#
        );
    }

    #[test]
    fn json_that_is_not_a_docker_config_is_told_apart_from_invalid_json() {
        let structure = decode(SecretType::DockerConfigJson, br#"{"auths":[]}"#).unwrap_err();
        assert_eq!(
            structure,
            ".dockerconfigjson is not a docker config: unexpected structure at line 1 column 9"
        );
        let syntax = decode(SecretType::DockerCfg, b"{").unwrap_err();
        assert_eq!(
            syntax,
            ".dockercfg is not a docker config: invalid JSON at line 1 column 1"
        );
    }

    #[test]
    fn secret_types_are_known_by_their_type_names_only() {
        for t in [SecretType::DockerConfigJson, SecretType::DockerCfg] {
            assert_eq!(SecretType::from_type_name(t.type_name()), Some(t));
        }
        assert_eq!(SecretType::from_type_name("Opaque"), None);
        assert_eq!(SecretType::from_type_name(".dockercfg"), None);
    }
}
