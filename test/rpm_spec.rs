//! The RPM spec (packaging/crio-credential-provider.spec): its Version is Cargo.toml's, its License
//! and bundled(crate()) Provides are those of the crates compiled into each of its builds
//! (`make spec-crates` rewrites them from Cargo.lock).

mod support;

use std::process::Command;

use support::assert_exit_ok;
use support::packaging::*;

const SPEC: &str = "packaging/crio-credential-provider.spec";
const CRATES_BEGIN: &str = "# BEGIN bundled crates";
const CRATES_END: &str = "# END bundled crates";

/// A crate compiled into a build: its name, its version as RPM spells it, its license expression.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord)]
struct CompiledCrate {
    name: String,
    rpm_version: String,
    license: String,
}

impl CompiledCrate {
    fn provides(&self) -> String {
        format!("bundled(crate({})) = {}", self.name, self.rpm_version)
    }
}

/// SemVer as an RPM version: build metadata carries no order and is dropped (`1.2.2+spec-1.1.0`
/// is 1.2.2); a pre-release sorts before its release, which is RPM's `~` (`1.0.0~rc.1`).
fn rpm_version(semver: &str) -> String {
    let release = semver.split('+').next().unwrap();
    release.replacen('-', "~", 1)
}

/// The crates `cargo build` compiles into the binary with these feature flags (`cargo tree -e normal`:
/// no build scripts' or tests' crates), this package first, for this platform.
fn compiled_crates(feature_flags: &[&str]) -> (CompiledCrate, Vec<CompiledCrate>) {
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--locked", "-e", "normal", "--prefix", "none"])
        .args(["--format", "{p}\t{l}"])
        .args(feature_flags)
        .current_dir(root())
        .output()
        .unwrap();
    assert_exit_ok(&out, "cargo tree");
    let mut own = None;
    let mut crates = Vec::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        // A crate already shown is marked ` (*)` at the end of its line.
        let line = line.trim_end_matches(" (*)");
        let (package, license) = line.split_once('\t').unwrap();
        let mut words = package.split(' ');
        let name = words.next().unwrap().to_string();
        let version = words.next().unwrap().strip_prefix('v').unwrap();
        assert!(!license.is_empty(), "{name} {version} declares no license");
        let compiled = CompiledCrate {
            name,
            rpm_version: rpm_version(version),
            license: license.to_string(),
        };
        if package.contains(" (/") {
            own = Some(compiled);
        } else {
            crates.push(compiled);
        }
    }
    crates.sort();
    crates.dedup();
    (own.expect("this package in cargo tree"), crates)
}

/// The operands of a license expression joined by `operator` at its top level (outside parentheses).
fn split_top_level<'a>(expression: &'a str, operator: &str) -> Vec<&'a str> {
    let separator = format!(" {operator} ");
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in expression.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            _ if depth == 0 && expression[i..].starts_with(&separator) => {
                parts.push(expression[start..i].trim());
                start = i + separator.len();
            }
            _ => {}
        }
    }
    parts.push(expression[start..].trim());
    parts
}

/// The SPDX expression covering every license: each crate's conjuncts (the old `MIT/Apache-2.0`
/// is `MIT OR Apache-2.0`; `A OR B` and `B OR A` are one choice), all of them ANDed.
fn spdx_license(licenses: impl Iterator<Item = String>) -> String {
    let mut terms: Vec<String> = Vec::new();
    for license in licenses {
        let license = license.replace('/', " OR ");
        for conjunct in split_top_level(&license, "AND") {
            let conjunct = conjunct
                .strip_prefix('(')
                .and_then(|c| c.strip_suffix(')'))
                .unwrap_or(conjunct);
            let mut choices = split_top_level(conjunct, "OR");
            choices.sort();
            let term = if choices.len() > 1 {
                format!("({})", choices.join(" OR "))
            } else {
                choices[0].to_string()
            };
            if !terms.contains(&term) {
                terms.push(term);
            }
        }
    }
    terms.sort_by_key(|t| (t.starts_with('('), t.clone()));
    terms.join(" AND ")
}

/// The spec's two builds: `--with openssl` (RHEL's) and `--without openssl` (the default rustls).
const SPEC_BUILDS: [(&str, &[&str]); 2] = [
    (
        "--with=openssl",
        &["--no-default-features", "--features", "openssl"],
    ),
    ("--without=openssl", &[]),
];

/// What the spec says of one build, through rpmspec itself.
fn rpmspec(build: &str, query: &[&str]) -> String {
    let out = Command::new("rpmspec")
        .args(["-q", build])
        .args(query)
        .arg(root().join(SPEC))
        .output()
        .unwrap();
    assert_exit_ok(&out, &format!("rpmspec {build} {query:?}"));
    String::from_utf8(out.stdout).unwrap()
}

/// The spec's generated block: License and bundled(crate()) Provides of each build, the crates in
/// both builds once.
fn bundled_crates_block(
    openssl: &(CompiledCrate, Vec<CompiledCrate>),
    rustls: &(CompiledCrate, Vec<CompiledCrate>),
) -> String {
    let license = |(own, crates): &(CompiledCrate, Vec<CompiledCrate>)| {
        spdx_license(
            std::iter::once(own)
                .chain(crates)
                .map(|c| c.license.clone()),
        )
    };
    let provides = |crates: &mut dyn Iterator<Item = &CompiledCrate>| -> String {
        crates
            .map(|c| format!("Provides:       {}\n", c.provides()))
            .collect()
    };
    let in_both = |c: &&CompiledCrate| openssl.1.contains(c) && rustls.1.contains(c);
    format!(
        "{CRATES_BEGIN}: generated by `make spec-crates` from Cargo.lock (do not edit).\n\
         # The crates compiled into each build (cargo tree -e normal) and their licenses.\n\
         %if %{{with openssl}}\n\
         License:        {}\n\
         %else\n\
         License:        {}\n\
         %endif\n\
         {}\
         %if %{{with openssl}}\n\
         {}\
         %else\n\
         {}\
         %endif\n\
         {CRATES_END}\n",
        license(openssl),
        license(rustls),
        provides(&mut openssl.1.iter().filter(in_both)),
        provides(&mut openssl.1.iter().filter(|c| !in_both(c))),
        provides(&mut rustls.1.iter().filter(|c| !in_both(c))),
    )
}

#[test]
fn spec_version_is_cargo_tomls() {
    if !have("rpmspec", "spec_version_is_cargo_tomls") {
        return;
    }
    let manifest: toml::Table =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).unwrap()).unwrap();
    let version = manifest["package"]["version"].as_str().unwrap();
    for (build, _) in SPEC_BUILDS {
        assert_eq!(
            rpmspec(build, &["--qf", "%{VERSION}\n"]),
            format!("{version}\n")
        );
    }
}

/// `make spec-crates` runs this test with UPDATE_SPEC_CRATES=1 to rewrite the block.
#[test]
fn spec_license_and_bundled_provides_are_the_crates_compiled_into_each_build() {
    if !have(
        "rpmspec",
        "spec_license_and_bundled_provides_are_the_crates_compiled_into_each_build",
    ) {
        return;
    }
    let [openssl, rustls] = SPEC_BUILDS.map(|(_, flags)| compiled_crates(flags));
    if std::env::var_os("UPDATE_SPEC_CRATES").is_some() {
        let spec = std::fs::read_to_string(root().join(SPEC)).unwrap();
        let begin = spec.find(CRATES_BEGIN).expect("the spec's BEGIN line");
        let end = spec[begin..].find(CRATES_END).expect("the spec's END line") + begin;
        let end = end + spec[end..].find('\n').unwrap() + 1;
        let block = bundled_crates_block(&openssl, &rustls);
        std::fs::write(
            root().join(SPEC),
            format!("{}{block}{}", &spec[..begin], &spec[end..]),
        )
        .unwrap();
    }
    for ((build, _), (own, crates)) in SPEC_BUILDS.iter().zip([&openssl, &rustls]) {
        let expected_license = spdx_license(
            std::iter::once(own)
                .chain(crates)
                .map(|c| c.license.clone()),
        );
        assert_eq!(
            rpmspec(build, &["--qf", "%{LICENSE}\n"]).trim_end(),
            expected_license,
            "{SPEC} {build}: License (make spec-crates rewrites it)"
        );
        let provides = rpmspec(build, &["--provides"]);
        let mut bundled: Vec<&str> = provides
            .lines()
            .filter(|l| l.starts_with("bundled(crate("))
            .collect();
        bundled.sort();
        let mut expected: Vec<String> = crates.iter().map(CompiledCrate::provides).collect();
        expected.sort();
        assert_eq!(
            bundled, expected,
            "{SPEC} {build}: bundled(crate()) Provides (make spec-crates rewrites them)"
        );
    }
}

#[test]
fn rpm_versions_of_semver() {
    assert_eq!(rpm_version("1.0.228"), "1.0.228");
    assert_eq!(rpm_version("1.2.2+spec-1.1.0"), "1.2.2");
    assert_eq!(rpm_version("1.0.0-rc.1"), "1.0.0~rc.1");
}

#[test]
fn spdx_license_ands_each_distinct_choice_once() {
    let licenses = [
        "Apache-2.0",
        "MIT/Apache-2.0",
        "Apache-2.0 OR MIT",
        "Apache-2.0 AND ISC",
        "(MIT OR Apache-2.0) AND Unicode-3.0",
        "Unlicense OR MIT",
    ];
    assert_eq!(
        spdx_license(licenses.iter().map(|l| l.to_string())),
        "Apache-2.0 AND ISC AND Unicode-3.0 AND (Apache-2.0 OR MIT) AND (MIT OR Unlicense)"
    );
}
