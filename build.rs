//! Records what `--version-json` reports. Every value can be injected (for builds from a tarball,
//! as in the RPM) and falls back to what the build machine says.

use std::process::Command;

fn main() {
    for var in [
        "GIT_COMMIT",
        "BUILD_DATE",
        "SOURCE_DATE_EPOCH",
        "CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");

    let commit = std::env::var("GIT_COMMIT")
        .ok()
        .or_else(|| output("git", &["rev-parse", "HEAD"]))
        .unwrap_or_else(|| "unknown".into());
    let date = std::env::var("BUILD_DATE").ok().unwrap_or_else(|| {
        let epoch = std::env::var("SOURCE_DATE_EPOCH").unwrap_or_default();
        let args = match epoch.is_empty() {
            true => vec!["-u", "+%Y-%m-%dT%H:%M:%SZ"],
            false => vec![
                "-u",
                "-d",
                &*Box::leak(format!("@{epoch}").into_boxed_str()),
                "+%Y-%m-%dT%H:%M:%SZ",
            ],
        };
        output("date", &args).unwrap_or_else(|| "unknown".into())
    });
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let rustc_version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    let mut features: Vec<String> = std::env::vars()
        .filter_map(|(k, _)| {
            k.strip_prefix("CARGO_FEATURE_")
                .map(|f| f.to_lowercase().replace('_', "-"))
        })
        .collect();
    features.sort();

    println!("cargo:rustc-env=CRIO_CREDENTIAL_PROVIDER_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=CRIO_CREDENTIAL_PROVIDER_BUILD_DATE={date}");
    println!("cargo:rustc-env=CRIO_CREDENTIAL_PROVIDER_RUSTC={rustc_version}");
    println!(
        "cargo:rustc-env=CRIO_CREDENTIAL_PROVIDER_TARGET={}",
        std::env::var("TARGET").unwrap_or_default()
    );
    println!(
        "cargo:rustc-env=CRIO_CREDENTIAL_PROVIDER_FEATURES={}",
        features.join(",")
    );
}

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
