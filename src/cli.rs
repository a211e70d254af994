//! Command-line interface. Kubelet passes only the `args` of its provider config, so flags are the
//! whole runtime interface; every default matches the Go implementation's.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::kube::pull_secrets::SecretsFrom;

/// The registries.conf default; `make REGISTRIES_CONF=/path` bakes another one in.
pub const DEFAULT_REGISTRIES_CONF: &str =
    match option_env!("CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF") {
        Some(path) => path,
        None => "/etc/containers/registries.conf",
    };

pub const USAGE: &str = "\
Usage: crio-credential-provider [FLAGS]            (kubelet mode: request on stdin)
       crio-credential-provider mirrors [--explain] [--registries-conf F] [--registries-conf-dir D] IMAGE...
       crio-credential-provider --version | --version-json

Flags:
  --registries-conf PATH        registries.conf to find mirrors in (default: {registries_conf})
  --registries-conf-dir DIR     the only drop-in directory to read (default: the standard ones)
  --auth-dir DIR                where CRI-O looks for auth files (default: /etc/crio/auth)
  --global-auth-file PATH       the node's global pull secret (default: /var/lib/kubelet/config.json)
  --kube-config-dir DIR         holds apiserver-url.env (default: /etc/kubernetes)
  --kubeconfig PATH             kubeconfig for the API server URL and CA (never its credentials)
  --api-server URL              the API server (default: from apiserver-url.env, else the kubeconfig)
  --ca-file PATH                PEM CA bundle to verify the API server with
  --insecure-skip-tls-verify    do not verify the API server (the Go implementation's behaviour)
  --api-timeout DURATION        deadline for reading pull secrets (default: 20s)
  --secrets-from SOURCE         auto, namespace, service-account or pod: which pull secrets
                                are read (default: auto; see README, Least privilege)
  --cache-duration DURATION     cacheDuration of the response (default: 0s)
  --stale-after DURATION        remove unconsumed auth files older than this (default: 10m)
  --selinux-context CONTEXT     SELinux context for auth files (default: the auth dir's own)
  --selinuxfs DIR               where SELinux's filesystem is mounted (default: /sys/fs/selinux)
  --log-level LEVEL             error, warn, info or debug (default: info)
";

#[derive(Debug)]
pub enum Command {
    /// Kubelet mode: answer the request on stdin.
    Provide(Box<Settings>),
    Mirrors {
        sources: RegistrySources,
        explain: bool,
        images: Vec<String>,
    },
    Version,
    VersionJson,
    Help,
}

#[derive(Debug, Clone)]
pub struct RegistrySources {
    pub registries_conf: PathBuf,
    /// `Some` replaces the standard drop-in directories with this one.
    pub registries_conf_dir: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Settings {
    pub sources: RegistrySources,
    pub auth_dir: PathBuf,
    pub global_auth_file: PathBuf,
    pub api: ApiSettings,
    /// Passed to kubelet as it was given, after validation.
    pub cache_duration: String,
    pub stale_after: Duration,
    pub selinux_context: Option<String>,
    /// Where the SELinux filesystem is mounted when SELinux is enabled.
    pub selinuxfs: PathBuf,
    pub log_level: tracing::Level,
}

#[derive(Debug, Clone)]
pub struct ApiSettings {
    pub server: Option<String>,
    pub ca_file: Option<PathBuf>,
    pub kubeconfig: Option<PathBuf>,
    pub kube_config_dir: PathBuf,
    pub insecure_skip_tls_verify: bool,
    pub timeout: Duration,
    pub secrets_from: SecretsFrom,
}

pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Command> {
    let mut args = args.into_iter().peekable();
    let mirrors = args.peek().is_some_and(|arg| arg == "mirrors");
    if mirrors {
        args.next();
    }
    let mut sources = RegistrySources {
        registries_conf: PathBuf::from(DEFAULT_REGISTRIES_CONF),
        registries_conf_dir: None,
    };
    let mut settings = Settings {
        sources: sources.clone(),
        auth_dir: PathBuf::from("/etc/crio/auth"),
        global_auth_file: PathBuf::from("/var/lib/kubelet/config.json"),
        api: ApiSettings {
            server: None,
            ca_file: None,
            kubeconfig: None,
            kube_config_dir: PathBuf::from("/etc/kubernetes"),
            insecure_skip_tls_verify: false,
            timeout: Duration::from_secs(20),
            secrets_from: SecretsFrom::Auto,
        },
        cache_duration: "0s".to_string(),
        stale_after: Duration::from_secs(600),
        selinux_context: None,
        selinuxfs: PathBuf::from("/sys/fs/selinux"),
        log_level: tracing::Level::INFO,
    };
    let mut explain = false;
    let mut images = Vec::new();
    let mut version = None;
    while let Some(arg) = args.next() {
        if mirrors && !arg.starts_with("--") {
            images.push(arg);
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_string(), Some(value.to_string()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = || -> Result<String> {
            match inline.clone().or_else(|| args.next()) {
                Some(value) => Ok(value),
                None => bail!("flag {flag} needs a value"),
            }
        };
        match flag.as_str() {
            "--registries-conf" => sources.registries_conf = value()?.into(),
            "--registries-conf-dir" => sources.registries_conf_dir = Some(value()?.into()),
            "--explain" if mirrors => explain = true,
            "--help" | "-h" => return Ok(Command::Help),
            _ if mirrors => bail!("unknown flag {flag} for mirrors (see --help)"),
            "--auth-dir" => settings.auth_dir = value()?.into(),
            "--global-auth-file" => settings.global_auth_file = value()?.into(),
            "--kube-config-dir" => settings.api.kube_config_dir = value()?.into(),
            "--kubeconfig" => settings.api.kubeconfig = Some(value()?.into()),
            "--api-server" => settings.api.server = Some(value()?),
            "--ca-file" => settings.api.ca_file = Some(value()?.into()),
            "--insecure-skip-tls-verify" => {
                settings.api.insecure_skip_tls_verify = bool_flag(inline.as_deref(), &flag)?
            }
            "--api-timeout" => settings.api.timeout = duration_flag(&value()?, &flag)?,
            "--secrets-from" => {
                let source = value()?;
                settings.api.secrets_from = SecretsFrom::parse(&source).with_context(|| {
                    format!("{flag} takes {}, not {source:?}", SecretsFrom::NAMES)
                })?;
            }
            "--cache-duration" => {
                let duration = value()?;
                duration_flag(&duration, &flag)?;
                settings.cache_duration = duration;
            }
            "--stale-after" => settings.stale_after = duration_flag(&value()?, &flag)?,
            "--selinux-context" => settings.selinux_context = Some(value()?),
            "--selinuxfs" => settings.selinuxfs = value()?.into(),
            "--log-level" => settings.log_level = log_level(&value()?)?,
            "--version" => version = Some(Command::Version),
            "--version-json" => version = Some(Command::VersionJson),
            _ => bail!("unknown argument {arg:?} (see --help)"),
        }
    }
    if let Some(version) = version {
        return Ok(version);
    }
    if mirrors {
        ensure!(
            !images.is_empty(),
            "mirrors needs at least one image (see --help)"
        );
        return Ok(Command::Mirrors {
            sources,
            explain,
            images,
        });
    }
    ensure!(
        !settings.api.timeout.is_zero() && settings.api.timeout < Duration::from_secs(55),
        "--api-timeout must be more than 0s and less than kubelet's 1m deadline"
    );
    settings.sources = sources;
    Ok(Command::Provide(Box::new(settings)))
}

fn bool_flag(inline: Option<&str>, flag: &str) -> Result<bool> {
    match inline {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => bail!("flag {flag} takes true or false, not {other:?}"),
    }
}

fn log_level(level: &str) -> Result<tracing::Level> {
    Ok(match level {
        "error" => tracing::Level::ERROR,
        "warn" | "warning" => tracing::Level::WARN,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => bail!("--log-level takes error, warn, info or debug, not {level:?}"),
    })
}

fn duration_flag(duration: &str, flag: &str) -> Result<Duration> {
    parse_duration(duration).with_context(|| format!("flag {flag}"))
}

/// A Go duration (`time.ParseDuration`, as kubelet reads `cacheDuration`): `0`, `90s`, `1m30s`,
/// `1.5h`, `100ms`. Negative durations are refused.
pub fn parse_duration(duration: &str) -> Result<Duration> {
    ensure!(!duration.is_empty(), "empty duration");
    if duration == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = duration;
    let mut total = 0f64;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len]
            .parse()
            .ok()
            .with_context(|| format!("invalid duration {duration:?}: expected a number"))?;
        rest = &rest[number_len..];
        let (unit, seconds) = [
            ("ns", 1e-9),
            ("us", 1e-6),
            ("µs", 1e-6),
            ("ms", 1e-3),
            ("s", 1.0),
            ("m", 60.0),
            ("h", 3600.0),
        ]
        .into_iter()
        .find(|(unit, _)| rest.starts_with(unit))
        .with_context(|| {
            format!("invalid duration {duration:?}: expected a unit (ns, us, ms, s, m, h)")
        })?;
        rest = &rest[unit.len()..];
        total += number * seconds;
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command> {
        parse(args.iter().map(|a| a.to_string()))
    }

    #[test]
    fn defaults_are_the_go_implementations() {
        let Command::Provide(settings) = parse_args(&[]).unwrap() else {
            panic!()
        };
        assert_eq!(
            settings.sources.registries_conf,
            PathBuf::from(DEFAULT_REGISTRIES_CONF)
        );
        assert_eq!(settings.sources.registries_conf_dir, None);
        assert_eq!(settings.auth_dir, PathBuf::from("/etc/crio/auth"));
        assert_eq!(
            settings.global_auth_file,
            PathBuf::from("/var/lib/kubelet/config.json")
        );
        assert_eq!(
            settings.api.kube_config_dir,
            PathBuf::from("/etc/kubernetes")
        );
        assert_eq!(settings.cache_duration, "0s");
        assert!(!settings.api.insecure_skip_tls_verify);
        assert_eq!(settings.api.secrets_from, SecretsFrom::Auto);
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let Command::Provide(settings) = parse_args(&[
            "--auth-dir",
            "/a",
            "--cache-duration=1m",
            "--insecure-skip-tls-verify",
            "--secrets-from=service-account",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(settings.api.secrets_from, SecretsFrom::ServiceAccount);
        assert_eq!(settings.auth_dir, PathBuf::from("/a"));
        assert_eq!(settings.cache_duration, "1m");
        assert!(settings.api.insecure_skip_tls_verify);
    }

    #[test]
    fn mirrors_takes_images_and_registry_flags_only() {
        let Command::Mirrors {
            sources,
            explain,
            images,
        } = parse_args(&[
            "mirrors",
            "--registries-conf",
            "/r.conf",
            "a.io/x",
            "--explain",
            "b.io/y",
        ])
        .unwrap()
        else {
            panic!()
        };
        assert_eq!(sources.registries_conf, PathBuf::from("/r.conf"));
        assert!(explain);
        assert_eq!(images, ["a.io/x", "b.io/y"]);
        assert!(parse_args(&["mirrors", "--auth-dir", "/a", "x"]).is_err());
        assert!(parse_args(&["mirrors"]).is_err());
    }

    #[test]
    fn bad_flags_are_named_in_the_error() {
        for (args, needle) in [
            (&["--nope"][..], "--nope"),
            (&["--auth-dir"][..], "--auth-dir needs a value"),
            (&["--cache-duration", "soon"][..], "--cache-duration"),
            (&["--log-level", "loud"][..], "loud"),
            (&["--api-timeout", "2m"][..], "--api-timeout"),
            (&["--secrets-from", "all"][..], "--secrets-from takes auto"),
        ] {
            let err = format!("{:#}", parse_args(args).unwrap_err());
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }

    #[test]
    fn durations_are_read_as_go_reads_them() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        for bad in ["", "1", "s", "1x", "-1s", "1sm", "1..2s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
