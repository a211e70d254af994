//! `crio-credential-provider mirrors`: which registries.conf entry and mirrors CRI-O uses for an
//! image, one JSON line per image, or an account of the decision with `--explain`.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::registries::{self, MirrorPulls, Registries, Sources};

/// Prints the answer for every image; returns whether the configuration loaded.
pub fn run(
    sources: &Sources,
    explain: bool,
    images: &[String],
    out: &mut impl Write,
) -> Result<bool> {
    let loaded = sources.load();
    if explain {
        explain_all(&loaded, &sources.drop_in_dirs(), images, out)?;
        return Ok(loaded.is_ok());
    }
    for image in images {
        let line = match &loaded {
            Err(error) => json!({"image": image, "error": error.to_string()}),
            Ok(registries) => match registries.find(image) {
                Some(entry) => json!({
                    "image": image,
                    "prefix": entry.prefix,
                    "location": entry.location,
                    "mirrors": entry.mirrors,
                }),
                None => json!({"image": image, "mirrors": []}),
            },
        };
        writeln!(out, "{line}")?;
    }
    Ok(loaded.is_ok())
}

fn explain_all(
    loaded: &Result<Registries, registries::LoadError>,
    drop_in_dirs: &[std::path::PathBuf],
    images: &[String],
    out: &mut impl Write,
) -> Result<()> {
    let dirs: Vec<String> = drop_in_dirs
        .iter()
        .map(|d| d.display().to_string())
        .collect();
    writeln!(
        out,
        "Drop-in directories, highest priority first: {}",
        dirs.join(", ")
    )?;
    let registries = match loaded {
        Err(error) => {
            writeln!(
                out,
                "The configuration is invalid, so CRI-O cannot pull at all: {error}"
            )?;
            return Ok(());
        }
        Ok(registries) => registries,
    };
    writeln!(
        out,
        "Files read, in order (a later file replaces entries of the same prefix):"
    )?;
    for file in &registries.files {
        writeln!(out, "  {}", file.display())?;
    }
    writeln!(out, "{} registry entries in all.", registries.entry_count())?;
    for image in images {
        explain(registries, image, out)?;
    }
    Ok(())
}

/// Which entry CRI-O picks for `image` and why, and what a pull would get.
fn explain(registries: &Registries, image: &str, out: &mut impl Write) -> Result<()> {
    writeln!(out, "\n{image}:")?;
    let candidates: Vec<_> = registries.candidates(image).collect();
    if candidates.is_empty() {
        writeln!(
            out,
            "  no entry's prefix matches: CRI-O pulls from the source, no mirrors"
        )?;
        return Ok(());
    }
    for candidate in &candidates {
        writeln!(
            out,
            "  prefix {:?} matches ({} characters)",
            candidate.prefix,
            candidate.prefix.len()
        )?;
    }
    let winner = registries.find(image).expect("a candidate matched");
    writeln!(
        out,
        "  chosen: {:?}, the longest matching prefix{}",
        winner.prefix,
        if candidates.len() > 1 {
            " (ties go to the first in prefix order)"
        } else {
            ""
        }
    )?;
    if winner.blocked {
        writeln!(out, "  the entry is blocked: CRI-O refuses to pull {image}")?;
    }
    if winner.mirrors.is_empty() {
        writeln!(
            out,
            "  it has no mirrors: no auth file is written for {image}"
        )?;
    } else {
        let (repository, pull) = split_pull(image);
        let mirrors = winner.mirrors.iter().zip(&winner.mirror_pulls);
        let (which, used, skipped) = match pull {
            // What kubelet sends: the file serves the pull whichever way it is made.
            Pull::Unknown => {
                let annotated = mirrors
                    .map(|(mirror, pulls)| match pulls {
                        MirrorPulls::All => mirror.clone(),
                        MirrorPulls::DigestOnly => format!("{mirror} (pulls by digest only)"),
                        MirrorPulls::TagOnly => format!("{mirror} (pulls by tag only)"),
                    })
                    .collect();
                ("a pull", annotated, Vec::new())
            }
            Pull::Tag | Pull::Digest => {
                let by_digest = pull == Pull::Digest;
                let (used, skipped): (Vec<_>, Vec<_>) =
                    mirrors.partition(|(_, pulls)| pulls.serves(by_digest));
                let names = |list: Vec<(&String, &MirrorPulls)>| -> Vec<String> {
                    list.into_iter().map(|(m, _)| m.clone()).collect()
                };
                let which = if by_digest {
                    "a pull by digest"
                } else {
                    "a pull by tag"
                };
                (which, names(used), names(skipped))
            }
        };
        writeln!(
            out,
            "  mirrors, in the order CRI-O tries them for {which}: {}",
            if used.is_empty() {
                "none".to_string()
            } else {
                used.join(", ")
            }
        )?;
        if !skipped.is_empty() {
            let only = if pull == Pull::Digest {
                "tag-only"
            } else {
                "digest-only"
            };
            writeln!(
                out,
                "  not used for {which} (pull-from-mirror {only}): {}",
                skipped.join(", ")
            )?;
        }
        // Kubelet asks for the repository: the auth file serves its every tag and digest.
        writeln!(
            out,
            "  auth file keys for a pull of {repository}: {}",
            winner.pull_references(repository).join(", ")
        )?;
    }
    Ok(())
}

/// How an image names what is pulled: kubelet sends the repository alone (the plugin cannot tell
/// which pull follows); an operator may add a tag or a digest.
#[derive(Debug, PartialEq, Eq)]
enum Pull {
    Unknown,
    Tag,
    Digest,
}

/// The repository of `image` and how it is pulled: `a.io/x@sha256:...` by digest, `a.io/x:1`
/// by tag (the tag follows the last `/`, so `a.io:5000/x` has none).
fn split_pull(image: &str) -> (&str, Pull) {
    if let Some((repository, _digest)) = image.split_once('@') {
        return (repository, Pull::Digest);
    }
    let name_start = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[name_start..].rfind(':') {
        Some(colon) => (&image[..name_start + colon], Pull::Tag),
        None => (image, Pull::Unknown),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn explained(conf: &str, image: &str) -> String {
        let registries = Registries::parse(conf).unwrap();
        let mut out = Vec::new();
        explain(&registries, image, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    const MIRRORS: &str = "[[registry]]\nlocation = \"a.io\"\n\
        [[registry.mirror]]\nlocation = \"digests.io\"\npull-from-mirror = \"digest-only\"\n\
        [[registry.mirror]]\nlocation = \"tags.io\"\npull-from-mirror = \"tag-only\"\n\
        [[registry.mirror]]\nlocation = \"all.io\"\n";

    #[test]
    fn a_pull_by_tag_is_explained_without_the_digest_only_mirrors() {
        let text = explained(MIRRORS, "a.io/x:1.0");
        assert!(
            text.contains("for a pull by tag: tags.io, all.io\n"),
            "{text}"
        );
        assert!(
            text.contains("(pull-from-mirror digest-only): digests.io"),
            "{text}"
        );
        assert!(
            text.contains(
                "auth file keys for a pull of a.io/x: digests.io/x, tags.io/x, all.io/x, a.io/x\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_pull_by_digest_is_explained_without_the_tag_only_mirrors() {
        let digest = format!("a.io/x@sha256:{}", "0".repeat(64));
        let text = explained(MIRRORS, &digest);
        assert!(
            text.contains("for a pull by digest: digests.io, all.io\n"),
            "{text}"
        );
        assert!(
            text.contains("(pull-from-mirror tag-only): tags.io"),
            "{text}"
        );
        assert!(text.contains("for a pull of a.io/x:"), "{text}");
    }

    #[test]
    fn a_repository_alone_is_explained_with_every_mirror() {
        let text = explained(MIRRORS, "a.io/x");
        assert!(
            text.contains(
                "for a pull: digests.io (pulls by digest only), tags.io (pulls by tag only), all.io\n"
            ),
            "{text}"
        );
        assert!(!text.contains("not used"), "{text}");
    }

    #[test]
    fn a_port_is_no_tag() {
        assert_eq!(split_pull("a.io:5000/x"), ("a.io:5000/x", Pull::Unknown));
        assert_eq!(split_pull("a.io:5000/x:1"), ("a.io:5000/x", Pull::Tag));
    }
}
