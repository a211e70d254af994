//! Which secret entry serves a reference, as kubelet's keyring (`pkg/credentialprovider/keyring.go`)
//! matches image names against the keys of pull secrets; `docs/matching.md` states the deliberate
//! differences.

use std::borrow::Cow;

use super::{Credential, PullSecret};

/// A secret key as kubelet's keyring (`pkg/credentialprovider/keyring.go`) reads it, borrowed
/// from the key wherever it can be: every key of every secret of a namespace is read on a pull.
#[derive(Debug, PartialEq, Eq)]
struct KeyPattern<'a> {
    /// Kubelet's index key: host (and port), then the path unless it is empty or `/`, with the
    /// scheme, user info, query, fragment and a leading `/v1` or `/v2` dropped and
    /// percent-escapes decoded. Kubelet tries keys in reverse order of this string.
    normalized: IndexKey<'a>,
    /// The host without its port: labels separated by `.`, each of which may hold `*` (any run
    /// of characters within one label).
    name: Cow<'a, str>,
    /// The host is an IPv6 literal (`[fd00::1]`): it is matched as written, a `*` in it being no
    /// wildcard. Kubelet's `filepath.Match` reads a bracketed host without a port as a character
    /// class and never matches it; a wildcard is a DNS label's, not an address's.
    ipv6: bool,
    /// The name holds a `*` that is a wildcard. Without one, the host matches exactly when the
    /// names are equal, label for label being the same as the whole string.
    wildcard: bool,
    /// Empty when there is none (or it is empty, as in `reg.io:`).
    port: Cow<'a, str>,
    /// Decoded; empty for a host-only key.
    path: Cow<'a, str>,
    /// The index key is `index.docker.io`, kubelet's fallback for Docker Hub names.
    docker_hub: bool,
}

/// Kubelet's index key, kept as its host and its path and ordered as the string they make
/// together, which is never built.
#[derive(Debug, Clone)]
struct IndexKey<'a> {
    host: &'a str,
    /// Empty, or starting with `/`.
    path: Cow<'a, str>,
}

impl IndexKey<'_> {
    fn bytes(&self) -> impl Iterator<Item = u8> + '_ {
        self.host.bytes().chain(self.path.bytes())
    }

    fn is(&self, text: &str) -> bool {
        // A host holds no `/` and a path starts with one: the string splits at its first `/`.
        let (host, path) = text.split_at(text.find('/').unwrap_or(text.len()));
        self.host == host && self.path == path
    }
}

impl Ord for IndexKey<'_> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.bytes().cmp(other.bytes())
    }
}

impl PartialOrd for IndexKey<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for IndexKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for IndexKey<'_> {}

/// `BasicDockerKeyring.Add`, then `URLsMatchStr`'s parse of the index key it made. `None`
/// where kubelet ignores the key (url.Parse fails) or it has no host.
fn parse_key(key: &str) -> Option<KeyPattern<'_>> {
    let schemeless = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let (host, decoded_path) = parse_url(schemeless)?;
    let normalized = IndexKey {
        host,
        path: match decoded_path {
            Cow::Borrowed(path) => Cow::Borrowed(index_path(path)),
            Cow::Owned(path) => Cow::Owned(index_path(&path).to_string()),
        },
    };
    // Kubelet matches with its index key, which it parses as a URL once more. That reads it
    // otherwise only where the first parse decoded an escape (`%3F` became a `?`): the host has
    // no `/`, `@`, `?` or `#`, and a path without an escape had none of `?`, `#` or `%` left.
    let (host, name, port, path) = match &normalized.path {
        Cow::Owned(decoded) => {
            let joined = format!("{host}{decoded}");
            let (host, path) = parse_url(&joined)?;
            let (name, port) = split_host_port(host);
            let owned = |text: &str| Cow::Owned(text.to_string());
            (owned(host), owned(name), owned(port), owned(&path))
        }
        Cow::Borrowed(path) => {
            let (name, port) = split_host_port(host);
            (host.into(), name.into(), port.into(), Cow::Borrowed(*path))
        }
    };
    if name.is_empty() {
        return None;
    }
    let ipv6 = host.starts_with('[');
    Some(KeyPattern {
        wildcard: !ipv6 && name.contains('*'),
        docker_hub: normalized.is("index.docker.io"),
        ipv6,
        normalized,
        name,
        port,
        path,
    })
}

/// The path of kubelet's index key: without a leading `/v1` or `/v2`, and nothing for `/`.
fn index_path(path: &str) -> &str {
    let path = if path.starts_with("/v1/") || path.starts_with("/v2/") {
        &path[3..]
    } else {
        path
    };
    if path == "/" { "" } else { path }
}

/// What Go's `url.Parse("https://" + url)` keeps of a schemeless URL, as kubelet parses secret
/// keys and image names: the host (with its port, without user info) and the decoded path. The
/// query and fragment are dropped. `None` where url.Parse fails.
pub(crate) fn parse_url(url: &str) -> Option<(&str, Cow<'_, str>)> {
    // Most keys and image names hold nothing but letters, digits and `-._~:/`: no escape, user
    // info, query or fragment. Read in one pass, as every key of a namespace's secrets is.
    let plain = |b| matches!(b, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' | b'/');
    if url.bytes().all(plain) {
        let (host, path) = url.split_at(url.find('/').unwrap_or(url.len()));
        return valid_port(host).then_some((host, Cow::Borrowed(path)));
    }
    if url.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return None;
    }
    let (rest, fragment) = url.split_once('#').unwrap_or((url, ""));
    percent_decode(fragment)?;
    let rest = rest.split_once('?').map_or(rest, |(before, _query)| before);
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rsplit_once('@') {
        Some((user_info, host)) => {
            let valid = user_info
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
            percent_decode(user_info).filter(|_| valid)?;
            host
        }
        None => authority,
    };
    valid_host(host).then_some(())?;
    Some((host, percent_decode(path)?))
}

/// Go's `parseHost` and its `unescape` in host mode. A percent-escape in a host either fails there
/// or decodes to a character no image name's host holds, so it is refused outright.
fn valid_host(host: &str) -> bool {
    valid_port(host)
        && host.bytes().all(|b| {
            !b.is_ascii() || b.is_ascii_alphanumeric() || b"-_.~!$&'()*+,;=:[]<>\"".contains(&b)
        })
}

/// The port of a host (after `]` for an IPv6 literal) is digits, if it has one.
fn valid_port(host: &str) -> bool {
    let port = match host.strip_prefix('[') {
        Some(bracketed) => match bracketed.rfind(']') {
            Some(end) => &bracketed[end + 1..],
            None => return false,
        },
        None => host.rfind(':').map_or("", |colon| &host[colon..]),
    };
    port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Go's `unescape`: `%XX` decoded, a malformed escape refused. Most text has no escape, and is
/// borrowed as it is: every key of every secret is read with this.
fn percent_decode(text: &str) -> Option<Cow<'_, str>> {
    if !text.contains('%') {
        return Some(Cow::Borrowed(text));
    }
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|hex| hex.iter().all(u8::is_ascii_hexdigit))?;
            decoded.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    // Go keeps invalid UTF-8; such a path can never prefix an image name's, so it is refused.
    String::from_utf8(decoded).ok().map(Cow::Owned)
}

/// `net.SplitHostPort`, falling back as kubelet does to the whole host and no port.
pub(crate) fn split_host_port(host: &str) -> (&str, &str) {
    let split = match host.strip_prefix('[') {
        Some(bracketed) => bracketed
            .split_once(']')
            .and_then(|(address, rest)| Some((address, rest.strip_prefix(':')?))),
        None => host
            .rsplit_once(':')
            .filter(|(name, _)| !name.contains([':', '[', ']'])),
    };
    split.unwrap_or((host, ""))
}

/// `filepath.Match` restricted to what a host label can hold: `*` matches any run of characters.
/// Greedy, going back only to the last `*`: linear in practice and never exponential, whatever a
/// key holds (a key like `a*a*a*…b` would otherwise take the whole run's time).
pub(crate) fn label_matches(pattern: &str, label: &str) -> bool {
    let (pattern, label) = (pattern.as_bytes(), label.as_bytes());
    let (mut p, mut l) = (0, 0);
    // After the last `*` seen: where the pattern resumes and where the label was when it did.
    let mut last_star: Option<(usize, usize)> = None;
    while l < label.len() {
        if pattern.get(p) == Some(&b'*') {
            p += 1;
            last_star = Some((p, l));
        } else if pattern.get(p) == Some(&label[l]) {
            p += 1;
            l += 1;
        } else if let Some((resume, star_end)) = last_star {
            // The `*` takes one more byte; literal parts are whole UTF-8 sequences, so they only
            // ever match at character boundaries.
            p = resume;
            l = star_end + 1;
            last_star = Some((resume, l));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// Where an entry stands for a reference; `None` when it does not apply. Greater is tried first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct Rank<'a> {
    /// A direct match beats the `index.docker.io` fallback for Docker Hub names.
    direct: bool,
    /// Then kubelet's order: the index key that sorts last first (`reg.io/team` before `reg.io`,
    /// `a.b.io` before `*.b.io`).
    normalized: &'a IndexKey<'a>,
}

const DOCKER_HUB_HOSTS: [&str; 2] = ["docker.io", "index.docker.io"];

/// An image reference as `rank` compares it with keys: parsed once, whatever the number of keys.
struct ParsedReference<'a> {
    /// The host without its port.
    name: &'a str,
    labels: Vec<&'a str>,
    port: &'a str,
    path: Cow<'a, str>,
    /// A Docker Hub name, which an `index.docker.io` key serves when nothing else does.
    docker_hub: bool,
}

impl<'a> ParsedReference<'a> {
    fn parse(reference: &'a str) -> Option<Self> {
        let (host, path) = parse_url(reference)?;
        let (name, port) = split_host_port(host);
        Some(ParsedReference {
            name,
            labels: name.split('.').collect(),
            port,
            path,
            docker_hub: DOCKER_HUB_HOSTS.contains(&host),
        })
    }
}

fn rank<'a>(key: &'a KeyPattern<'_>, reference: &ParsedReference) -> Option<Rank<'a>> {
    let host_matches = if key.wildcard {
        let mut patterns = key.name.split('.');
        reference.labels.iter().all(|label| {
            patterns
                .next()
                .is_some_and(|pattern| label_matches(pattern, label))
        }) && patterns.next().is_none()
    } else {
        *key.name == *reference.name
    };
    let path = &*reference.path;
    // Kubelet takes any string prefix; here a key's path serves its own subtree only.
    let path_matches = || {
        key.path.is_empty()
            || *path == *key.path
            || path
                .strip_prefix(&*key.path)
                .is_some_and(|below| key.path.ends_with('/') || below.starts_with('/'))
    };
    let normalized = &key.normalized;
    if host_matches && *key.port == *reference.port && path_matches() {
        return Some(Rank {
            direct: true,
            normalized,
        });
    }
    // Kubelet serves Docker Hub names with credentials for `index.docker.io` (as written in
    // `https://index.docker.io/v1/`) when nothing else matches.
    (key.docker_hub && reference.docker_hub).then_some(Rank {
        direct: false,
        normalized,
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

/// For each reference, the entry kubelet would try first: the greatest `Rank`; for equal index
/// keys, the secret whose name sorts first, then the key as written that sorts first, so the
/// result does not depend on the order the API listed the secrets in. References no entry
/// applies to are left out.
pub fn choose<'a>(secrets: &'a [PullSecret], references: &'a [String]) -> Vec<Chosen<'a>> {
    // One pass over the keys, each parsed once and then dropped: a namespace's thousands of keys
    // are never all held. For each reference, the best entry so far.
    let parsed: Vec<Option<ParsedReference>> = references
        .iter()
        .map(|reference| ParsedReference::parse(reference))
        .collect();
    let mut best: Vec<Option<Best>> = references.iter().map(|_| None).collect();
    for secret in secrets {
        for (key, credential) in &secret.entries {
            let usable = !credential.username.is_empty()
                || !credential.password.is_empty()
                || !credential.identity_token.is_empty();
            let Some(pattern) = parse_key(key).filter(|_| usable) else {
                continue;
            };
            for (reference, best) in parsed.iter().zip(&mut best) {
                let Some(rank) = reference.as_ref().and_then(|r| rank(&pattern, r)) else {
                    continue;
                };
                // Most specific first; among equals the first in order (the secret that comes
                // first, then its key that sorts first, as entries are sorted by key).
                if best.as_ref().is_none_or(|best| rank > best.rank()) {
                    *best = Some(Best {
                        direct: rank.direct,
                        normalized: pattern.normalized.clone(),
                        secret: &secret.name,
                        key,
                        credential,
                    });
                }
            }
        }
    }
    references
        .iter()
        .zip(best)
        .filter_map(|(reference, best)| {
            let best = best?;
            Some(Chosen {
                reference,
                secret: best.secret,
                key: best.key,
                credential: best.credential,
            })
        })
        .collect()
}

/// The entry that serves a reference best of those seen so far, and where it ranks.
struct Best<'a> {
    direct: bool,
    normalized: IndexKey<'a>,
    secret: &'a str,
    key: &'a str,
    credential: &'a Credential,
}

impl Best<'_> {
    fn rank(&self) -> Rank<'_> {
        Rank {
            direct: self.direct,
            normalized: &self.normalized,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::tests::only;

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
    fn an_entry_with_any_one_field_is_usable() {
        for (field, credential) in [
            ("username", only("u", "", "")),
            ("password", only("", "p", "")),
            ("identity token", only("", "", "t")),
        ] {
            let partial = PullSecret {
                name: "a-partial".into(),
                entries: vec![("m.io".into(), credential)],
            };
            let secrets = [partial, secret("b-full", &[("m.io", "full")])];
            let references = ["m.io/x".to_string()];
            let chosen = choose(&secrets, &references);
            assert_eq!(
                chosen[0].secret, "a-partial",
                "an entry with only a {field}"
            );
        }
    }

    #[test]
    fn a_key_serves_the_reference_equal_to_its_path() {
        let secrets = [secret("s", &[("m.io/team-a", "a")])];
        assert_eq!(chosen_users(&secrets, &["m.io/team-a"]), ["a"]);
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
                &[
                    "a.example.com/x",
                    "a.b.example.com/x",
                    "example.com/x",
                    "a.example.com.evil.io/x"
                ]
            ),
            ["wild", "-", "-", "-"]
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
    fn a_key_with_a_trailing_slash_serves_what_is_below_it_only() {
        let secrets = [secret("s", &[("reg.io/team/", "slash")])];
        assert_eq!(
            chosen_users(
                &secrets,
                &["reg.io/team/app", "reg.io/team", "reg.io/teams/app"]
            ),
            ["slash", "-", "-"]
        );
    }

    #[test]
    fn keys_are_read_as_kubelet_parses_urls() {
        for (key, served, not_served) in [
            (
                "https://user:pw@reg.io/team",
                "reg.io/team/app",
                "reg.io/other",
            ),
            ("user@reg.io", "reg.io/app", "user.reg.io/app"),
            ("reg.io:", "reg.io/app", "reg.io:5000/app"),
            ("reg.io/team?tag=1", "reg.io/team/app", "reg.io/other"),
            ("reg.io/team#frag", "reg.io/team/app", "reg.io/other"),
            (
                "https://reg.io/v2/team?x#y",
                "reg.io/team/app",
                "reg.io/v2/team/app",
            ),
            ("reg.io/te%61m", "reg.io/team/app", "reg.io/tea/app"),
            // Decoded once, the key is parsed again as kubelet parses its index key: the `?`
            // that `%3F` became starts a query, which is dropped.
            ("reg.io/team%3Fx", "reg.io/team/app", "reg.io/other"),
            ("reg.io/v2/", "reg.io/app", "other.io/app"),
            // url.Parse refuses control characters only: a space is kept, or dropped with the
            // query or fragment that holds it.
            ("reg.io/team?tag=a b", "reg.io/team/app", "reg.io/other"),
            ("reg.io/team#a b", "reg.io/team/app", "reg.io/other"),
            ("reg.io/a b", "reg.io/a b/app", "reg.io/a/app"),
            ("reg.io:5000", "reg.io:5000/app", "reg.io/app"),
            ("[fd00::1]:5000", "[fd00::1]:5000/app", "[fd00::1]/app"),
        ] {
            let secrets = [secret("s", &[(key, "user")])];
            assert_eq!(
                chosen_users(&secrets, &[served, not_served]),
                ["user", "-"],
                "{key}"
            );
        }
    }

    #[test]
    fn a_star_inside_an_ipv6_literal_is_no_wildcard() {
        for key in ["[fd00::*]:5000", "[fd00::*]", "[*]:5000"] {
            let secrets = [secret("s", &[(key, "wild")])];
            assert_eq!(
                chosen_users(&secrets, &["[fd00::1]:5000/app", "[fd00::1]/app"]),
                ["-", "-"],
                "{key}"
            );
        }
        let secrets = [secret("s", &[("[fd00::1]", "literal")])];
        assert_eq!(chosen_users(&secrets, &["[fd00::1]/app"]), ["literal"]);
    }

    #[test]
    fn keys_kubelet_cannot_parse_are_ignored() {
        for key in [
            "reg.io/%zz",
            "reg.io/%4",
            "reg.io#%zz",
            "us er@reg.io",
            "reg.io:port",
            "reg.io:50:00x",
            "reg\\.io",
            "reg.io/a\x01b",
            "[fd00::1",
            "",
            "https://",
        ] {
            assert_eq!(parse_key(key), None, "{key}");
        }
    }

    #[test]
    fn entries_are_tried_in_reverse_order_of_kubelets_index_key() {
        // Both serve a.b.io; kubelet tries "a.*.io" first ('a' sorts after '*').
        let secrets = [
            secret("first", &[("*.b.io", "star-first")]),
            secret("second", &[("a.*.io", "star-second")]),
        ];
        assert_eq!(chosen_users(&secrets, &["a.b.io/x"]), ["star-second"]);
        // The trailing-slash key sorts after the same key without it.
        let secrets = [
            secret("first", &[("reg.io/team", "plain")]),
            secret("second", &[("reg.io/team/", "slash")]),
        ];
        assert_eq!(chosen_users(&secrets, &["reg.io/team/app"]), ["slash"]);
    }

    #[test]
    fn the_order_is_of_the_index_key_string_not_of_its_host_then_its_path() {
        // Both serve host b-x. As strings "*/p" sorts after "*-x" ('/' after '-'), so kubelet
        // tries it first, although its host alone, "*", sorts before "*-x".
        let secrets = [
            secret("first", &[("*-x", "host-only")]),
            secret("second", &[("*/p", "with-path")]),
        ];
        assert_eq!(chosen_users(&secrets, &["b-x/p/app"]), ["with-path"]);
    }

    #[test]
    fn index_keys_compare_as_the_strings_they_make() {
        let normalized = |key| parse_key(key).unwrap().normalized;
        let (team, same, longer) = (
            normalized("reg.io/team"),
            normalized("https://u@reg.io/v2/team"),
            normalized("reg.io/teams"),
        );
        assert!(team == same && team != longer);
        assert_eq!(team.partial_cmp(&longer), Some(std::cmp::Ordering::Less));
        assert!(team.is("reg.io/team") && !team.is("reg.io"));
    }

    #[test]
    fn plain_and_escaped_urls_are_parsed_alike() {
        for (url, parsed) in [
            ("reg.io", Some(("reg.io", ""))),
            ("reg.io:5000/team/app", Some(("reg.io:5000", "/team/app"))),
            ("reg.io:/app", Some(("reg.io:", "/app"))),
            ("reg.io%3A5000/app", None),
            ("reg.io:50a0/app", None),
            ("reg.io:5000:1/app", Some(("reg.io:5000:1", "/app"))),
            ("reg.io/te%61m", Some(("reg.io", "/team"))),
            ("u@reg.io/a?q#f", Some(("reg.io", "/a"))),
        ] {
            let got = parse_url(url);
            let got = got.as_ref().map(|(host, path)| (*host, &**path));
            assert_eq!(got, parsed, "{url}");
        }
    }

    #[test]
    fn keys_kubelet_indexes_alike_tie_to_the_secret_that_comes_first() {
        let secrets = [
            secret("beta", &[("reg.io", "beta")]),
            secret("alpha", &[("https://user@reg.io/v2/?q", "alpha")]),
        ];
        assert_eq!(chosen_users(&secrets, &["reg.io/x"]), ["beta"]);
        let secrets = [
            secret("alpha", &[("https://user@reg.io/v2/?q", "alpha")]),
            secret("beta", &[("reg.io", "beta")]),
        ];
        assert_eq!(chosen_users(&secrets, &["reg.io/x"]), ["alpha"]);
    }

    #[test]
    fn wildcards_match_within_a_label_in_linear_time() {
        for (pattern, label, matches) in [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abbbc", true),
            ("a*c", "abcd", false),
            ("*-good", "prefix-good", true),
            ("*b*", "abc", true),
            ("*é", "xé", true),
            ("a**", "a", true),
            ("k*", "quay", false),
        ] {
            assert_eq!(label_matches(pattern, label), matches, "{pattern} {label}");
        }
        // Backtracking into every `*` would take about 200^40 steps here: the test would not end.
        let pattern = format!("{}b", "a*".repeat(40));
        assert!(!label_matches(&pattern, &"a".repeat(200)));
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
