//! Parsing and validating one registries.conf file, as containers/image's `loadConfigFile` and
//! `postProcessRegistries` do. Pure: text in, entries or the reason it is invalid out.

use std::collections::BTreeMap;

use super::reference;
use super::schema::{RawFile, RawRegistry};
use crate::files;

/// One `[[registry]]` entry after validation and normalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registry {
    /// What image names are matched against; defaults to `location`. May be `*.example.com`.
    pub prefix: String,
    /// Where the source is pulled from; empty only for a wildcard prefix.
    pub location: String,
    /// `[[registry.mirror]]` locations, in file order.
    pub mirrors: Vec<String>,
    /// For each mirror, which pulls CRI-O sends to it (`pull-from-mirror`, or the registry's
    /// `mirror-by-digest-only`).
    pub mirror_pulls: Vec<MirrorPulls>,
    pub blocked: bool,
}

/// Which pulls a mirror serves (containers/image `PullSourcesFromReference`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MirrorPulls {
    All,
    DigestOnly,
    TagOnly,
}

impl MirrorPulls {
    /// Whether a pull by digest (else by tag, `latest` when none is given) goes to the mirror.
    pub fn serves(self, by_digest: bool) -> bool {
        match self {
            MirrorPulls::All => true,
            MirrorPulls::DigestOnly => by_digest,
            MirrorPulls::TagOnly => !by_digest,
        }
    }
}

/// Reads and validates one file: the stream reader when it can, else the TOML deserializer on the
/// same bytes. The error is the reason alone; the caller adds the path.
pub(super) fn load(bytes: &[u8], drop_in: bool) -> Result<Vec<Registry>, String> {
    let mut entries = Entries::default();
    let rest = match super::stream::read(bytes, &mut |raw| entries.push(raw)) {
        Some(rest) => rest,
        None => {
            // The full parser decides; what the stream reader handed over so far goes.
            entries = Entries::default();
            let text = std::str::from_utf8(bytes)
                .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
            let mut raw: RawFile = toml::from_str(text).map_err(|e| toml_error(text, &e))?;
            for registry in std::mem::take(&mut raw.registry) {
                entries.push(registry);
            }
            raw
        }
    };
    validate(entries, rest, drop_in)
}

#[cfg(test)]
/// `load` of a text.
pub fn parse(text: &str, drop_in: bool) -> Result<Vec<Registry>, String> {
    load(text.as_bytes(), drop_in)
}

/// The `[[registry]]` entries of a file, validated one at a time as they are read, so that a large
/// file's raw entries are never all held; the first invalid one stops the keeping.
#[derive(Default)]
struct Entries {
    registries: Vec<Registry>,
    insecure: Vec<bool>,
    first_error: Option<String>,
}

impl Entries {
    fn push(&mut self, raw: RawRegistry) {
        if self.first_error.is_some() {
            return;
        }
        let insecure = raw.insecure;
        match validate_registry(raw) {
            Ok(registry) => {
                self.registries.push(registry);
                self.insecure.push(insecure);
            }
            Err(reason) => self.first_error = Some(reason),
        }
    }
}

/// Validates a file as read and returns its registry entries, unique by prefix (the first entry of
/// a prefix wins) and sorted by prefix. Search registries, short-name mode and aliases are
/// validated as containers/image does (a mistake there fails the whole configuration for CRI-O
/// too) but not kept: they have no bearing on mirrors. The checks come in containers/image's order.
fn validate(entries: Entries, rest: RawFile, drop_in: bool) -> Result<Vec<Registry>, String> {
    let v1 = &rest.registries;
    if [&v1.search, &v1.insecure, &v1.block]
        .iter()
        .any(|list| list.registries.is_some())
    {
        return Err(if drop_in {
            "registry must be in v2 format but is in v1".to_string()
        } else {
            "registries.conf must be in v2 format but is in v1".to_string()
        });
    }
    if let Some(reason) = entries.first_error {
        return Err(reason);
    }
    let mut registries = entries.registries;
    check_conflicts(&registries, &entries.insecure)?;
    // Within a file the first entry of a prefix wins; later ones could never match.
    registries.sort_by(|a, b| a.prefix.cmp(&b.prefix)); // stable: keeps file order per prefix
    registries.dedup_by(|later, first| later.prefix == first.prefix);
    for registry in &rest.unqualified_search_registries {
        validate_search_registry(registry)?;
    }
    if !matches!(
        rest.short_name_mode.as_str(),
        "" | "disabled" | "enforcing" | "permissive"
    ) {
        return Err(format!(
            "invalid short-name mode: {:?}",
            rest.short_name_mode
        ));
    }
    validate_aliases(&rest.aliases)?;
    Ok(registries)
}

/// One line: the TOML parser's message and where it applies, without its source excerpt.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim();
    match error.span() {
        Some(span) => {
            let (line, _) = files::line_and_column(text, span.start);
            format!("line {line}: {message}")
        }
        None => message.to_string(),
    }
}

/// `parseLocation`: trailing slashes dropped, URI schemes refused.
fn location(mut input: String) -> Result<String, String> {
    let trimmed = input.trim_end_matches('/');
    if trimmed.starts_with("http://") || trimmed.starts_with("https://") {
        return Err(format!(
            "invalid location '{input}': URI schemes are not supported"
        ));
    }
    input.truncate(trimmed.len());
    Ok(input)
}

fn validate_search_registry(input: &str) -> Result<(), String> {
    let registry = location(input.to_string())?;
    if !reference::is_domain(&registry) {
        return Err(format!(
            "invalid unqualified-search-registries entry {registry:?}: must be host[:port]"
        ));
    }
    Ok(())
}

const PULL_FROM_MIRROR_VALUES: [&str; 4] = ["", "all", "digest-only", "tag-only"];

/// One `[[registry]]` entry: `parseLocation` of its locations and the settings that must agree.
fn validate_registry(entry: RawRegistry) -> Result<Registry, String> {
    let location = location(entry.location)?;
    let prefix = if entry.prefix.is_empty() {
        if location.is_empty() {
            return Err("invalid condition: both location and prefix are unset".to_string());
        }
        location.clone()
    } else {
        let prefix = self::location(entry.prefix)?;
        if !prefix.starts_with("*.") && location.is_empty() {
            return Err(format!(
                "invalid condition: location is unset and prefix {prefix:?} is not in the format *.example.com"
            ));
        }
        prefix
    };
    if !entry.pull_from_mirror.is_empty() {
        return Err(format!(
            "pull-from-mirror must not be set for a non-mirror registry {prefix:?}"
        ));
    }
    let mut mirrors = Vec::with_capacity(entry.mirror.len());
    let mut mirror_pulls = Vec::with_capacity(entry.mirror.len());
    for mirror in entry.mirror {
        let mirror_location = self::location(mirror.location)?;
        if mirror_location.is_empty() {
            return Err(format!(
                "invalid condition: mirror location is unset (registry {prefix:?})"
            ));
        }
        if entry.mirror_by_digest_only && !mirror.pull_from_mirror.is_empty() {
            return Err(format!(
                "cannot set mirror-by-digest-only for the registry {prefix:?} and pull-from-mirror for its mirror {mirror_location:?} at the same time"
            ));
        }
        if !PULL_FROM_MIRROR_VALUES.contains(&mirror.pull_from_mirror.as_str()) {
            return Err(format!(
                "unsupported pull-from-mirror value {:?} for mirror {mirror_location:?}",
                mirror.pull_from_mirror
            ));
        }
        mirrors.push(mirror_location);
        mirror_pulls.push(
            match (
                entry.mirror_by_digest_only,
                mirror.pull_from_mirror.as_str(),
            ) {
                (true, _) | (false, "digest-only") => MirrorPulls::DigestOnly,
                (false, "tag-only") => MirrorPulls::TagOnly,
                _ => MirrorPulls::All,
            },
        );
    }
    if prefix.starts_with("*.") && prefix.contains(['/', '@', ':']) {
        return Err(format!(
            "wildcarded prefix should be in the format *.example.com, not {prefix:?}"
        ));
    }
    Ok(Registry {
        prefix,
        location,
        mirrors,
        mirror_pulls,
        blocked: entry.blocked,
    })
}

/// Entries of one location (of one prefix, for a wildcard without location) must agree on
/// `insecure` and `blocked`. Grouped by sorting indices, so no key is copied.
fn check_conflicts(registries: &[Registry], insecure: &[bool]) -> Result<(), String> {
    let key = |i: usize| {
        let entry = &registries[i];
        if entry.location.is_empty() {
            &entry.prefix
        } else {
            &entry.location
        }
    };
    let mut order: Vec<usize> = (0..registries.len()).collect();
    order.sort_by(|&a, &b| key(a).cmp(key(b)));
    for pair in order.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if key(a) != key(b) {
            continue;
        }
        let setting = if insecure[a] != insecure[b] {
            "insecure"
        } else if registries[a].blocked != registries[b].blocked {
            "blocked"
        } else {
            continue;
        };
        return Err(format!(
            "registry '{}' is defined multiple times with conflicting '{setting}' setting",
            key(a)
        ));
    }
    Ok(())
}

/// Short-name aliases: the name must be a short name without tag or digest, the value a
/// fully-qualified repository (or empty, to reset). All problems are reported at once.
fn validate_aliases(aliases: &BTreeMap<String, String>) -> Result<(), String> {
    let mut problems = Vec::new();
    for (name, value) in aliases {
        if let Err(problem) = short_name(name) {
            problems.push(problem);
        }
        if !value.is_empty()
            && let Err(problem) = alias_value(value)
        {
            problems.push(problem);
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "validating short-name aliases: {}",
            problems.join("; ")
        ))
    }
}

fn short_name(name: &str) -> Result<(), String> {
    let parsed =
        reference::parse(name).map_err(|e| format!("cannot parse short name {name:?}: {e}"))?;
    if parsed.digest.is_some() {
        return Err(format!(
            "invalid short name {name:?}: must not contain digest"
        ));
    }
    if parsed.tag.is_some() {
        return Err(format!("invalid short name {name:?}: must not contain tag"));
    }
    if parsed.domain.contains(['.', ':']) || parsed.domain == "localhost" {
        return Err(format!(
            "invalid short name {name:?}: must not contain registry"
        ));
    }
    Ok(())
}

fn alias_value(alias: &str) -> Result<(), String> {
    let parsed = reference::parse(alias).map_err(|e| format!("parsing alias {alias:?}: {e}"))?;
    if parsed.digest.is_some() {
        return Err(format!("invalid alias {alias:?}: must not contain digest"));
    }
    if parsed.tag.is_some() {
        return Err(format!("invalid alias {alias:?}: must not contain tag"));
    }
    if !parsed.domain.contains(['.', ':']) && parsed.domain != "localhost" {
        return Err(format!(
            "invalid alias {alias:?}: must contain registry and repository"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registries(text: &str) -> Vec<Registry> {
        parse(text, false).unwrap()
    }

    fn error(text: &str) -> String {
        parse(text, false).unwrap_err()
    }

    #[test]
    fn prefix_defaults_to_location_and_trailing_slashes_are_dropped() {
        let parsed = registries(
            "[[registry]]\nlocation = \"example.com/ns/\"\n[[registry.mirror]]\nlocation = \"m.io/x/\"\n",
        );
        assert_eq!(
            parsed,
            vec![Registry {
                prefix: "example.com/ns".into(),
                location: "example.com/ns".into(),
                mirrors: vec!["m.io/x".into()],
                mirror_pulls: vec![MirrorPulls::All],
                blocked: false,
            }]
        );
    }

    #[test]
    fn first_entry_of_a_prefix_wins_and_entries_are_sorted_by_prefix() {
        let parsed = registries(
            "[[registry]]\nprefix = \"b.io\"\nlocation = \"first.io\"\n\
             [[registry]]\nlocation = \"a.io\"\n\
             [[registry]]\nprefix = \"b.io\"\nlocation = \"second.io\"\n",
        );
        let summary: Vec<_> = parsed
            .iter()
            .map(|r| (r.prefix.as_str(), r.location.as_str()))
            .collect();
        assert_eq!(summary, [("a.io", "a.io"), ("b.io", "first.io")]);
    }

    #[test]
    fn v1_tables_are_rejected_even_when_empty() {
        assert!(error("[registries.search]\nregistries = []\n").contains("v1"));
        assert!(parse("[registries.search]\n", false).is_ok());
    }

    #[test]
    fn schemes_are_rejected_in_locations_and_prefixes() {
        assert!(error("[[registry]]\nlocation = \"https://a.io\"\n").contains("URI schemes"));
        assert!(
            error("[[registry]]\nprefix = \"http://a.io\"\nlocation = \"a.io\"\n")
                .contains("URI schemes")
        );
    }

    #[test]
    fn wildcard_prefix_may_have_no_location_but_plain_prefix_may_not() {
        assert_eq!(
            registries("[[registry]]\nprefix = \"*.a.io\"\n")[0].location,
            ""
        );
        assert!(error("[[registry]]\nprefix = \"a.io\"\n").contains("location is unset"));
        assert!(error("[[registry]]\ninsecure = true\n").contains("both location and prefix"));
        assert!(error("[[registry]]\nprefix = \"*.a.io/ns\"\n").contains("wildcarded prefix"));
    }

    #[test]
    fn mirror_settings_are_validated() {
        assert!(
            error("[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\ninsecure = true\n")
                .contains("mirror location is unset")
        );
        assert!(
            error("[[registry]]\nlocation = \"a.io\"\npull-from-mirror = \"all\"\n")
                .contains("non-mirror registry")
        );
        assert!(error(
            "[[registry]]\nlocation = \"a.io\"\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"often\"\n"
        )
        .contains("unsupported pull-from-mirror"));
        assert!(error(
            "[[registry]]\nlocation = \"a.io\"\nmirror-by-digest-only = true\n[[registry.mirror]]\nlocation = \"m.io\"\npull-from-mirror = \"all\"\n"
        )
        .contains("at the same time"));
    }

    #[test]
    fn entries_of_one_location_must_agree_on_insecure_and_blocked() {
        assert!(error(
            "[[registry]]\nlocation = \"a.io\"\nprefix = \"x.io\"\ninsecure = true\n[[registry]]\nlocation = \"a.io\"\n"
        )
        .contains("'insecure'"));
        assert!(error(
            "[[registry]]\nlocation = \"a.io\"\nprefix = \"x.io\"\nblocked = true\n[[registry]]\nlocation = \"a.io\"\n"
        )
        .contains("'blocked'"));
    }

    #[test]
    fn search_registries_must_be_plain_hosts() {
        assert!(parse("unqualified-search-registries = [\"a.io:5000/\"]\n", false).is_ok());
        assert!(error("unqualified-search-registries = [\"a.io/ns\"]\n").contains("host[:port]"));
    }

    #[test]
    fn short_name_mode_and_aliases_are_validated() {
        assert!(error("short-name-mode = \"sometimes\"\n").contains("short-name mode"));
        assert!(
            parse(
                "[aliases]\n\"quay/foo\" = \"quay.io/library/foo\"\nempty = \"\"\n",
                false
            )
            .is_ok()
        );
        let problems =
            error("[aliases]\nimage1 = \"quay.io/repo/image:1\"\n\"a.io/x\" = \"a.io/x\"\n");
        assert!(problems.contains("must not contain tag"), "{problems}");
        assert!(problems.contains("must not contain registry"), "{problems}");
    }

    #[test]
    fn wrong_value_types_name_the_line() {
        let problem = error("\n[[registry]]\nlocation = 5\n");
        assert!(problem.starts_with("line 3:"), "{problem}");
        assert!(!problem.contains('\n'), "{problem}");
    }

    #[test]
    fn unknown_keys_are_ignored() {
        assert_eq!(
            registries("colour = 1\n[[registry]]\nlocation = \"a.io\"\nshade = 2\n").len(),
            1
        );
    }

    #[test]
    fn a_file_the_stream_reader_gives_up_on_midway_is_read_whole_by_the_deserializer() {
        let text = "[[registry]]\nlocation = \"a.io\"\n[[registry]]\nlocation = \"b.io\"\n\
                    [[registry]]\nlocation = \"c.io\"\nmirror = [{location = \"m.io\"}]\n";
        let read: Vec<(String, Vec<String>)> = registries(text)
            .into_iter()
            .map(|r| (r.location, r.mirrors))
            .collect();
        assert_eq!(
            read,
            [
                ("a.io".to_string(), vec![]),
                ("b.io".to_string(), vec![]),
                ("c.io".to_string(), vec!["m.io".to_string()])
            ]
        );
    }
}
