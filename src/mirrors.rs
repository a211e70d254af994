//! `crio-credential-provider mirrors`: which registries.conf entry and mirrors CRI-O uses for an
//! image, one JSON line per image, or an account of the decision with `--explain`.

use std::io::Write;

use anyhow::Result;
use serde_json::json;

use crate::registries::{self, Registries, Sources};

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
        writeln!(
            out,
            "  mirrors, in the order CRI-O tries them: {}",
            winner.mirrors.join(", ")
        )?;
        writeln!(
            out,
            "  auth file keys for a pull: {}",
            winner.pull_references(image).join(", ")
        )?;
    }
    Ok(())
}
