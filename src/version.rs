//! What this binary is: version, commit, build date, compiler, target and features, as recorded by
//! `build.rs`.

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `configuration`: the configuration files this run read, in order.
pub fn json(configuration: &[std::path::PathBuf]) -> String {
    serde_json::json!({
        "version": VERSION,
        "gitCommit": env!("CRIO_CREDENTIAL_PROVIDER_GIT_COMMIT"),
        "buildDate": env!("CRIO_CREDENTIAL_PROVIDER_BUILD_DATE"),
        "rustc": env!("CRIO_CREDENTIAL_PROVIDER_RUSTC"),
        "target": env!("CRIO_CREDENTIAL_PROVIDER_TARGET"),
        "features": env!("CRIO_CREDENTIAL_PROVIDER_FEATURES").split(',').filter(|f| !f.is_empty()).collect::<Vec<_>>(),
        "registriesConf": crate::registries::DEFAULT_REGISTRIES_CONF,
        "configurationFiles": configuration.iter().map(|file| file.display().to_string()).collect::<Vec<_>>(),
    })
    .to_string()
}
