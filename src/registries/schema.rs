//! registries.conf as written, before validation: what the TOML deserializer fills and what the
//! streaming reader (`stream`) produces, so both readers meet in one set of types.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A file as written: the TOML deserializer fills it; `stream::read` fills all of it but the
/// entries, which it hands over one at a time.
#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawFile {
    #[serde(default)]
    pub registry: Vec<RawRegistry>,
    #[serde(default)]
    pub unqualified_search_registries: Vec<String>,
    // The next two only have their type checked: they have no bearing on mirrors.
    #[serde(default, rename = "credential-helpers")]
    pub _credential_helpers: Vec<String>,
    #[serde(default, rename = "additional-layer-store-auth-helper")]
    pub _additional_layer_store_auth_helper: String,
    #[serde(default)]
    pub short_name_mode: String,
    #[serde(default)]
    pub aliases: BTreeMap<String, String>,
    /// The V1 syntax: `[registries.search]`, `[registries.insecure]`, `[registries.block]`.
    #[serde(default)]
    pub registries: RawV1,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct RawV1 {
    #[serde(default)]
    pub search: RawV1List,
    #[serde(default)]
    pub insecure: RawV1List,
    #[serde(default)]
    pub block: RawV1List,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
pub(super) struct RawV1List {
    pub registries: Option<Vec<String>>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawRegistry {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    #[serde(default)]
    pub mirror_by_digest_only: bool,
    #[serde(default)]
    pub pull_from_mirror: String,
    #[serde(default)]
    pub mirror: Vec<RawMirror>,
}

#[derive(Deserialize, Default, Debug, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub(super) struct RawMirror {
    #[serde(default)]
    pub location: String,
    #[serde(default, rename = "insecure")]
    pub _insecure: bool, // only its type is checked
    #[serde(default)]
    pub pull_from_mirror: String,
}
