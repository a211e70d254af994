//! The container image reference grammar of `github.com/distribution/reference`, as far as
//! registries.conf validation needs it: short-name aliases and unqualified-search registries are
//! accepted or rejected by containers/image according to this grammar, and we must agree.

/// A reference split the way `reference.Parse` splits it.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed<'a> {
    /// The domain part, empty when the first path component is not a valid domain.
    pub domain: &'a str,
    pub tag: Option<&'a str>,
    pub digest: Option<&'a str>,
}

const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// `reference.Parse`: `name[:tag][@digest]`, where the name's first component is taken as the
/// domain when it is a valid `host[:port]` followed by more components.
pub fn parse(reference: &str) -> Result<Parsed<'_>, String> {
    let (name_and_tag, digest) = match reference.split_once('@') {
        Some((before, digest)) => (before, Some(digest)),
        None => (reference, None),
    };
    if let Some(digest) = digest
        && !is_digest(digest)
    {
        return Err(format!("invalid reference format: {reference:?}"));
    }
    let last_slash = name_and_tag.rfind('/');
    let (name, tag) = match name_and_tag.rfind(':') {
        Some(colon) if last_slash.is_none_or(|slash| colon > slash) => {
            (&name_and_tag[..colon], Some(&name_and_tag[colon + 1..]))
        }
        _ => (name_and_tag, None),
    };
    if let Some(tag) = tag
        && !is_tag(tag)
    {
        return Err(format!("invalid reference format: {reference:?}"));
    }
    let domain = split_name(name).ok_or_else(|| {
        if split_name(&name.to_ascii_lowercase()).is_some() {
            format!("repository name must be lowercase: {reference:?}")
        } else {
            format!("invalid reference format: {reference:?}")
        }
    })?;
    if name.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(format!(
            "repository name must not be more than {NAME_TOTAL_LENGTH_MAX} characters: {reference:?}"
        ));
    }
    Ok(Parsed {
        domain,
        tag,
        digest,
    })
}

/// `reference.ParseNormalizedNamed(image).Name()`: the repository CRI-O names a pull's auth file
/// after (cri-o release-1.34 `server/image_pull.go`, `prepareTempAuthFile`). Docker Hub names get
/// their domain and `library/` (`nginx` is `docker.io/library/nginx`), `index.docker.io` becomes
/// `docker.io`, and a tag or digest is dropped.
pub fn normalized_name(image: &str) -> Result<String, String> {
    if image.len() == 64
        && image
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "invalid repository name {image:?}: cannot specify 64-byte hexadecimal strings"
        ));
    }
    // splitDockerDomain: the first component is a domain when it looks like one.
    let (domain, remainder) = match image.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_ascii_lowercase() != first =>
        {
            (first, rest.to_string())
        }
        _ => ("docker.io", image.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io"
    } else {
        domain
    };
    let remainder = if domain == "docker.io" && !remainder.contains('/') {
        format!("library/{remainder}")
    } else {
        remainder
    };
    let remote = remainder.split(':').next().unwrap_or_default();
    if remote.to_ascii_lowercase() != remote {
        return Err(format!(
            "invalid reference format: repository name {remote:?} must be lowercase"
        ));
    }
    let full = format!("{domain}/{remainder}");
    let parsed = parse(&full)?;
    let mut name = full.as_str();
    if parsed.digest.is_some() {
        name = &name[..name.find('@').unwrap_or(name.len())];
    }
    if let Some(tag) = parsed.tag {
        name = &name[..name.len() - tag.len() - 1];
    }
    Ok(name.to_string())
}

/// Matches `^(?:(domain)/)?(remote-name)$` and returns the domain ("" when absent). The optional
/// domain group is greedy: the first component is the domain whenever that makes the whole match.
fn split_name(name: &str) -> Option<&str> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain(first)
        && is_remote_name(rest)
    {
        return Some(first);
    }
    is_remote_name(name).then_some("")
}

/// `host[:port]`, where host is a DNS name or a bracketed IPv6 address (`DomainRegexp`).
pub fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((ipv6, after)) = rest.split_once(']') else {
            return false;
        };
        if ipv6.is_empty() || !ipv6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':') {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && !host.is_empty() && host.split('.').all(is_domain_component)
}

fn is_domain_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

fn is_remote_name(name: &str) -> bool {
    name.split('/').all(is_path_component)
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let mut i = 0;
    loop {
        let start = i;
        while i < bytes.len() && alnum(bytes[i]) {
            i += 1;
        }
        if i == start {
            return false;
        }
        if i == bytes.len() {
            return true;
        }
        let sep_start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[sep_start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
}

/// `[\w][\w.-]{0,127}`
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

/// `algorithm:encoded`, algorithm `[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*`,
/// encoded `[a-fA-F0-9]{32,}`.
fn is_digest(digest: &str) -> bool {
    let Some((algorithm, encoded)) = digest.split_once(':') else {
        return false;
    };
    let algorithm_ok = algorithm.split(['-', '_', '+', '.']).all(|component| {
        let bytes = component.as_bytes();
        !bytes.is_empty()
            && bytes[0].is_ascii_alphabetic()
            && bytes.iter().all(u8::is_ascii_alphanumeric)
    });
    algorithm_ok && encoded.len() >= 32 && encoded.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_component_is_the_domain_when_it_can_be() {
        assert_eq!(parse("quay/foo").unwrap().domain, "quay");
        assert_eq!(parse("quay.io/repo/image").unwrap().domain, "quay.io");
        assert_eq!(parse("localhost:5000/a").unwrap().domain, "localhost:5000");
        assert_eq!(parse("[::1]:5000/a").unwrap().domain, "[::1]:5000");
        assert_eq!(parse("image").unwrap().domain, "");
        assert_eq!(parse("a_b/c").unwrap().domain, "");
    }

    #[test]
    fn tag_is_after_the_last_colon_of_the_last_component() {
        let parsed = parse("quay.io/repo/image:1").unwrap();
        assert_eq!(parsed.tag, Some("1"));
        assert_eq!(parse("localhost:5000").unwrap().tag, Some("5000"));
        assert_eq!(parse("localhost:5000/image").unwrap().tag, None);
    }

    #[test]
    fn digest_is_validated() {
        let digest = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            parse(&format!("example.com/x@{digest}")).unwrap().digest,
            Some(digest.as_str())
        );
        assert!(parse("example.com/x@sha256:abc").is_err());
    }

    #[test]
    fn invalid_names_are_rejected() {
        for bad in [
            "",
            "example.com/UPPER",
            "a//b",
            "a/-b",
            "x:",
            ":tag",
            "a/b:bad!",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn path_components_may_join_with_runs_of_dashes_or_one_dot_or_underscore_or_two() {
        for good in ["a/b-c", "a/b--c", "a/b.c", "a/b_c", "a/b__c", "a/b-c.d_e"] {
            assert!(parse(good).is_ok(), "{good:?} should be accepted");
        }
        for bad in ["a/b.-c", "a/b..c", "a/b___c", "a/b-_c", "a/b:c/d"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn a_path_component_may_not_end_in_a_separator() {
        for bad in ["a/b-", "a/b.", "a/b_", "a/b__", "a/b--"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn tags_may_hold_dots_and_dashes_after_a_word_character() {
        assert_eq!(parse("a/b:v1.2-rc_3").unwrap().tag, Some("v1.2-rc_3"));
        assert_eq!(parse("a/b:_x").unwrap().tag, Some("_x"));
        for bad in ["a/b:.x", "a/b:-x", "a/b:x+y"] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse(&format!("a/b:{}", "t".repeat(128))).is_ok());
        assert!(parse(&format!("a/b:{}", "t".repeat(129))).is_err());
    }

    #[test]
    fn digest_algorithms_are_components_joined_by_separators() {
        let hex = "a".repeat(32);
        for good in ["sha256", "sha256+b64u", "multihash+base58", "a.b_c-d", "S1"] {
            let reference = format!("a/b@{good}:{hex}");
            assert!(
                parse(&reference).is_ok(),
                "{reference:?} should be accepted"
            );
        }
        for bad in ["1sha", "sha256-", "sha256+", "sha--256", "sha!", ""] {
            let reference = format!("a/b@{bad}:{hex}");
            assert!(
                parse(&reference).is_err(),
                "{reference:?} should be rejected"
            );
        }
        assert!(parse(&format!("a/b@sha256:{}", "a".repeat(31))).is_err());
        assert!(parse(&format!("a/b@sha256:{}g", "a".repeat(32))).is_err());
    }

    #[test]
    fn a_name_of_exactly_255_characters_is_accepted() {
        let longest = format!("example.com/{}", "a".repeat(255 - "example.com/".len()));
        assert_eq!(longest.len(), 255);
        assert!(parse(&longest).is_ok());
        assert!(parse(&format!("{longest}a")).is_err());
    }

    #[test]
    fn names_are_normalised_as_crio_names_the_auth_file() {
        let digest = format!("sha256:{}", "a".repeat(64));
        for (image, name) in [
            ("nginx", "docker.io/library/nginx"),
            ("nginx:1.27", "docker.io/library/nginx"),
            ("library/nginx", "docker.io/library/nginx"),
            ("docker.io/nginx", "docker.io/library/nginx"),
            ("index.docker.io/library/nginx", "docker.io/library/nginx"),
            ("docker.io/library/nginx", "docker.io/library/nginx"),
            ("team/app", "docker.io/team/app"),
            ("quay.io/team/app:v1", "quay.io/team/app"),
            (&format!("quay.io/team/app@{digest}"), "quay.io/team/app"),
            (&format!("quay.io/team/app:v1@{digest}"), "quay.io/team/app"),
            ("localhost/app", "localhost/app"),
            ("localhost:5000/app:tag", "localhost:5000/app"),
            ("localhost:5000", "docker.io/library/localhost"),
            ("[fd00::1]:5000/app", "[fd00::1]:5000/app"),
            ("Registry/app", "Registry/app"),
            // Refused only when it is 64 hexadecimal digits, an image ID.
            ("deadbeef", "docker.io/library/deadbeef"),
            (
                &format!("{}g", "a".repeat(63)),
                &format!("docker.io/library/{}g", "a".repeat(63)),
            ),
        ] {
            assert_eq!(normalized_name(image).as_deref(), Ok(name), "{image}");
        }
    }

    #[test]
    fn names_crio_cannot_normalise_are_refused() {
        for bad in [
            "docker.io/Nginx",
            "quay.io/Team/app",
            "quay.io/x@sha256:abc",
            "quay.io/x:bad!",
            "a//b",
            &"0".repeat(64),
            &format!("quay.io/{}", "a".repeat(255)),
        ] {
            assert!(normalized_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn domains_follow_the_domain_regexp() {
        for good in [
            "example.com",
            "localhost:5000",
            "[2001:db8::1]",
            "[::1]:443",
            "a-b.c",
        ] {
            assert!(is_domain(good), "{good:?} should be a domain");
        }
        for bad in [
            "",
            "example.com/ns",
            "-a.com",
            "a.com:",
            "a.com:x",
            "[zz]",
            "a..b",
        ] {
            assert!(!is_domain(bad), "{bad:?} should not be a domain");
        }
    }
}
