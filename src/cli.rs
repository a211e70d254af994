//! Command-line interface. Kubelet passes only the `args` of its provider config, so flags are the
//! whole runtime interface; every default matches the Go implementation's. The doc comments below
//! are the help text (`--help`, `mirrors --help`); the README's flag table repeats them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::{ArgAction, Args, Parser, Subcommand};

use crate::kube::pull_secrets::SecretsFrom;

/// The registries.conf default; `make REGISTRIES_CONF=/path` bakes another one in.
pub const DEFAULT_REGISTRIES_CONF: &str =
    match option_env!("CRIO_CREDENTIAL_PROVIDER_REGISTRIES_CONF") {
        Some(path) => path,
        None => "/etc/containers/registries.conf",
    };

/// Below this, a run could remove the pending auth file of a concurrent pull that has not been
/// consumed yet (a pull of a large image can wait that long for CRI-O).
pub const MIN_STALE_AFTER: Duration = Duration::from_secs(60);

/// Kubelet kills the plugin after one minute; listing must end well before, leaving time to write.
const MAX_API_TIMEOUT: Duration = Duration::from_secs(55);

/// Kubelet image credential provider: writes the pod namespace's pull secrets for registry mirrors
/// into the auth file CRI-O reads for that one pull. Without a subcommand it answers the
/// CredentialProviderRequest on stdin (kubelet mode).
#[derive(Debug, Parser)]
#[command(
    name = "crio-credential-provider",
    disable_version_flag = true,
    disable_help_subcommand = true,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    subcommand: Option<CliSubcommand>,
    #[command(flatten)]
    settings: Settings,
    /// Print the version and exit
    #[arg(long, conflicts_with = "version_json")]
    version: bool,
    /// Print version, commit, build date, rustc, target and features as JSON and exit
    #[arg(long)]
    version_json: bool,
}

#[derive(Debug, Subcommand)]
enum CliSubcommand {
    /// Print, per image, the registries.conf entry and mirrors CRI-O uses (one JSON line each)
    Mirrors {
        #[command(flatten)]
        sources: RegistrySources,
        /// Explain which files were read, which prefixes matched and which won
        #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
              default_value = "false", default_missing_value = "true", action = ArgAction::Set,
              hide_default_value = true, hide_possible_values = true)]
        explain: bool,
        /// Image names, as kubelet sends them (docker.io/library/nginx)
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
    },
}

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
}

#[derive(Debug, Clone, Args)]
pub struct RegistrySources {
    /// registries.conf to find mirrors in
    #[arg(long, value_name = "PATH", default_value = DEFAULT_REGISTRIES_CONF)]
    pub registries_conf: PathBuf,
    /// The only drop-in directory to read [default: the standard ones]
    #[arg(long, value_name = "DIR")]
    pub registries_conf_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct Settings {
    #[command(flatten)]
    pub sources: RegistrySources,
    /// Where CRI-O looks for auth files
    #[arg(long, value_name = "DIR", default_value = "/etc/crio/auth")]
    pub auth_dir: PathBuf,
    /// The node's global pull secret, merged into every auth file
    #[arg(
        long,
        value_name = "PATH",
        default_value = "/var/lib/kubelet/config.json"
    )]
    pub global_auth_file: PathBuf,
    #[command(flatten)]
    pub api: ApiSettings,
    /// cacheDuration of the response, a Go duration (kept as given, after validation)
    #[arg(long, value_name = "DURATION", default_value = "0s", value_parser = cache_duration)]
    pub cache_duration: String,
    /// Remove unconsumed auth files older than this (at least 1m)
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = stale_after)]
    pub stale_after: Duration,
    /// SELinux context for auth files [default: the auth dir's own]
    #[arg(long, value_name = "CONTEXT")]
    pub selinux_context: Option<String>,
    /// Where SELinux's filesystem is mounted when SELinux is enabled
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/selinux")]
    pub selinuxfs: PathBuf,
    /// error, warn, info, debug or trace (the same as debug)
    #[arg(long, value_name = "LEVEL", default_value = "info", value_parser = log_level)]
    pub log_level: tracing::Level,
}

#[derive(Debug, Clone, Args)]
pub struct ApiSettings {
    /// The API server [default: from apiserver-url.env, else the kubeconfig]
    #[arg(long = "api-server", value_name = "URL")]
    pub server: Option<String>,
    /// PEM CA bundle to verify the API server with [default: the kubeconfig's]
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// kubeconfig for the API server URL and CA (never its credentials)
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<PathBuf>,
    /// Holds OpenShift's apiserver-url.env
    #[arg(long, value_name = "DIR", default_value = "/etc/kubernetes")]
    pub kube_config_dir: PathBuf,
    /// Do not verify the API server (the Go implementation's behaviour)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", action = ArgAction::Set,
          hide_default_value = true, hide_possible_values = true)]
    pub insecure_skip_tls_verify: bool,
    /// Deadline for reading the pull secrets, all requests together, more than 0s and less than 55s
    #[arg(long = "api-timeout", value_name = "DURATION", default_value = "20s", value_parser = api_timeout)]
    pub timeout: Duration,
    /// Which pull secrets are read: auto, namespace, service-account or pod (README: Least privilege)
    #[arg(long, value_name = "SOURCE", default_value = "auto", value_parser = secrets_from)]
    pub secrets_from: SecretsFrom,
}

/// Parses the whole command line, program name first. A usage error is a `clap::Error`
/// (exit code 2); `--help` and `mirrors --help` come back as one too (exit code 0).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString> + Clone>,
) -> Result<Command, clap::Error> {
    let cli = Cli::try_parse_from(args)?;
    Ok(if cli.version {
        Command::Version
    } else if cli.version_json {
        Command::VersionJson
    } else {
        match cli.subcommand {
            Some(CliSubcommand::Mirrors {
                sources,
                explain,
                images,
            }) => Command::Mirrors {
                sources,
                explain,
                images,
            },
            None => Command::Provide(Box::new(cli.settings)),
        }
    })
}

/// A usage error as one line, `crio-credential-provider: <what>`: kubelet logs stderr as it is.
/// Clap's message is its first paragraph; the usage and the hint to `--help` after it are dropped.
pub fn usage_error_line(error: &clap::Error) -> String {
    let rendered = error.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .map(str::trim)
        .collect();
    let message = message.join(" ");
    format!(
        "crio-credential-provider: {}",
        message.strip_prefix("error: ").unwrap_or(&message)
    )
}

fn cache_duration(duration: &str) -> Result<String> {
    parse_duration(duration)?;
    Ok(duration.to_string())
}

fn stale_after(duration: &str) -> Result<Duration> {
    let stale_after = parse_duration(duration)?;
    ensure!(
        stale_after >= MIN_STALE_AFTER,
        "must be at least 1m, or runs remove the auth files of pulls still pending"
    );
    Ok(stale_after)
}

fn secrets_from(source: &str) -> Result<SecretsFrom> {
    SecretsFrom::parse(source).with_context(|| format!("takes {}", SecretsFrom::NAMES))
}

fn api_timeout(duration: &str) -> Result<Duration> {
    let timeout = parse_duration(duration)?;
    ensure!(
        !timeout.is_zero() && timeout < MAX_API_TIMEOUT,
        "must be more than 0s and less than 55s, inside kubelet's 1m deadline"
    );
    Ok(timeout)
}

fn log_level(level: &str) -> Result<tracing::Level> {
    Ok(match level {
        "error" => tracing::Level::ERROR,
        "warn" | "warning" => tracing::Level::WARN,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => bail!("takes error, warn, info, debug or trace"),
    })
}

/// The longest duration Go (and so kubelet, reading `cacheDuration`) can represent: 2^63-1 ns.
const MAX_GO_DURATION_NANOS: u64 = i64::MAX as u64;

/// A Go duration (`time.ParseDuration`, as kubelet reads `cacheDuration`): `0`, `90s`, `1m30s`,
/// `1.5h`, `100ms`. Negative durations and those beyond Go's ~292 years are refused.
pub fn parse_duration(duration: &str) -> Result<Duration> {
    ensure!(!duration.is_empty(), "empty duration");
    if duration == "0" {
        return Ok(Duration::ZERO);
    }
    let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut rest = duration;
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (whole, after) = rest.split_at(digits(rest));
        let (fraction, after) = match after.strip_prefix('.') {
            Some(after) => after.split_at(digits(after)),
            None => ("", after),
        };
        ensure!(
            !whole.is_empty() || !fraction.is_empty(),
            "invalid duration {duration:?}: expected a number"
        );
        let (unit, unit_nanos) = [
            ("ns", 1),
            ("us", 1_000),
            ("µs", 1_000),
            ("μs", 1_000),
            ("ms", 1_000_000),
            ("s", 1_000_000_000),
            ("m", 60_000_000_000),
            ("h", 3_600_000_000_000u64),
        ]
        .into_iter()
        .find(|(unit, _)| after.starts_with(unit))
        .with_context(|| {
            format!("invalid duration {duration:?}: expected a unit (ns, us, ms, s, m, h)")
        })?;
        rest = &after[unit.len()..];
        let too_long = || {
            format!(
                "invalid duration {duration:?}: longer than Go's maximum, 2562047h47m16.854775807s"
            )
        };
        let whole_nanos = if whole.is_empty() {
            0
        } else {
            whole
                .parse::<u64>()
                .ok()
                .and_then(|whole| whole.checked_mul(unit_nanos))
                .with_context(too_long)?
        };
        // As Go does: the fraction in floating point, truncated to whole nanoseconds.
        let fraction_nanos = if fraction.is_empty() {
            0
        } else {
            let fraction: f64 = format!("0.{fraction}").parse().context("fraction")?;
            (fraction * unit_nanos as f64) as u64
        };
        total = total
            .checked_add(whole_nanos)
            .and_then(|total| total.checked_add(fraction_nanos))
            .filter(|&total| total <= MAX_GO_DURATION_NANOS)
            .with_context(too_long)?;
    }
    Ok(Duration::from_nanos(total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse_args(args: &[&str]) -> Result<Command, clap::Error> {
        parse(std::iter::once("crio-credential-provider").chain(args.iter().copied()))
    }

    fn settings(args: &[&str]) -> Settings {
        match parse_args(args) {
            Ok(Command::Provide(settings)) => *settings,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn usage_error(args: &[&str]) -> String {
        let error = parse_args(args).expect_err("a usage error");
        assert_eq!(error.exit_code(), 2, "{args:?}: {error}");
        usage_error_line(&error)
    }

    #[test]
    fn the_help_text_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_readme_documents_every_flag() {
        let readme =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/operating.md"))
                .expect("docs/operating.md");
        let command = Cli::command();
        let commands = std::iter::once(&command).chain(command.get_subcommands());
        for flag in commands.flat_map(|c| c.get_arguments().filter_map(|a| a.get_long())) {
            if flag != "help" {
                assert!(
                    readme.contains(&format!("`--{flag}")),
                    "--{flag} is not in docs/operating.md"
                );
            }
        }
    }

    #[test]
    fn defaults_are_the_go_implementations() {
        let settings = settings(&[]);
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
        assert_eq!(settings.stale_after, Duration::from_secs(600));
        assert_eq!(settings.api.timeout, Duration::from_secs(20));
        assert_eq!(settings.log_level, tracing::Level::INFO);
        assert!(!settings.api.insecure_skip_tls_verify);
        assert_eq!(settings.api.secrets_from, SecretsFrom::Auto);
    }

    #[test]
    fn flags_take_separate_or_inline_values() {
        let settings = settings(&[
            "--auth-dir",
            "/a",
            "--cache-duration=1m",
            "--insecure-skip-tls-verify",
            "--secrets-from=service-account",
        ]);
        assert_eq!(settings.api.secrets_from, SecretsFrom::ServiceAccount);
        assert_eq!(settings.auth_dir, PathBuf::from("/a"));
        assert_eq!(settings.cache_duration, "1m");
        assert!(settings.api.insecure_skip_tls_verify);
    }

    #[test]
    fn boolean_flags_take_an_inline_true_or_false() {
        assert!(
            !settings(&["--insecure-skip-tls-verify=false"])
                .api
                .insecure_skip_tls_verify
        );
        assert!(
            settings(&["--insecure-skip-tls-verify=true"])
                .api
                .insecure_skip_tls_verify
        );
        let Ok(Command::Mirrors { explain, .. }) =
            parse_args(&["mirrors", "--explain=false", "a.io/x"])
        else {
            panic!()
        };
        assert!(!explain);
        assert!(usage_error(&["--insecure-skip-tls-verify=yes"]).contains("yes"));
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
        assert!(usage_error(&["mirrors", "--auth-dir", "/a", "x"]).contains("--auth-dir"));
        assert!(usage_error(&["--auth-dir", "/a", "mirrors", "x"]).contains("mirrors"));
        assert!(usage_error(&["mirrors"]).contains("IMAGE"));
    }

    #[test]
    fn help_is_answered_per_subcommand() {
        for (args, expected) in [
            (&["-h"][..], "--stale-after"),
            (&["--help"][..], "--stale-after"),
            (&["mirrors", "-h"][..], "--explain"),
            (&["mirrors", "--help"][..], "--explain"),
            (&["mirrors", "a.io/x", "-h"][..], "--explain"),
        ] {
            let help = parse_args(args).expect_err("help is an early exit");
            assert_eq!(help.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(help.exit_code(), 0, "{args:?}");
            assert!(help.to_string().contains(expected), "{args:?}: {help}");
        }
        let mirrors_help = parse_args(&["mirrors", "-h"]).unwrap_err().to_string();
        assert!(!mirrors_help.contains("--auth-dir"), "{mirrors_help}");
        assert!(
            mirrors_help.contains(DEFAULT_REGISTRIES_CONF),
            "{mirrors_help}"
        );
    }

    #[test]
    fn a_flag_missing_its_value_does_not_take_the_next_flag() {
        let error = usage_error(&["--auth-dir", "--kubeconfig", "/k"]);
        assert!(error.contains("--auth-dir"), "{error}");
        assert!(usage_error(&["--auth-dir"]).contains("--auth-dir"));
    }

    #[test]
    fn a_repeated_flag_is_a_usage_error() {
        let error = usage_error(&["--auth-dir", "/a", "--auth-dir=/b"]);
        assert!(error.contains("--auth-dir"), "{error}");
        assert!(
            usage_error(&["--insecure-skip-tls-verify", "--insecure-skip-tls-verify"])
                .contains("--insecure-skip-tls-verify")
        );
    }

    #[test]
    fn version_flags_take_no_value() {
        assert!(matches!(parse_args(&["--version"]), Ok(Command::Version)));
        assert!(matches!(
            parse_args(&["--version-json"]),
            Ok(Command::VersionJson)
        ));
        assert!(usage_error(&["--version=foo"]).contains("foo"));
        assert!(usage_error(&["--version-json=1"]).contains("--version-json"));
    }

    #[test]
    fn bad_flags_are_named_in_the_error() {
        for (args, needle) in [
            (&["--nope"][..], "--nope"),
            (&["--cache-duration", "soon"][..], "--cache-duration"),
            (&["--log-level", "loud"][..], "loud"),
            (&["--api-timeout", "2m"][..], "--api-timeout"),
            (&["--api-timeout", "0s"][..], "--api-timeout"),
            (&["--secrets-from", "all"][..], "takes auto, namespace"),
            (&["mirrors"][..], "IMAGE"),
        ] {
            let error = usage_error(args);
            assert!(error.contains(needle), "{args:?}: {error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
    }

    #[test]
    fn log_level_trace_is_accepted() {
        assert_eq!(
            settings(&["--log-level", "trace"]).log_level,
            tracing::Level::TRACE
        );
        assert_eq!(
            settings(&["--log-level", "warning"]).log_level,
            tracing::Level::WARN
        );
    }

    #[test]
    fn overflowing_durations_are_usage_errors() {
        for flag in ["--cache-duration", "--stale-after", "--api-timeout"] {
            for duration in [
                "100000000000000000000s",
                "2562048h",
                "9223372036854775808ns",
            ] {
                let error = usage_error(&[flag, duration]);
                assert!(error.contains(flag), "{flag} {duration}: {error}");
            }
        }
        assert!(usage_error(&["--cache-duration", "2562048h"]).contains("maximum"));
    }

    #[test]
    fn stale_after_below_one_minute_is_refused() {
        for short in ["0s", "0", "59s", "59.999s"] {
            let error = usage_error(&["--stale-after", short]);
            assert!(error.contains("at least 1m"), "{short}: {error}");
        }
        assert_eq!(
            settings(&["--stale-after", "1m"]).stale_after,
            MIN_STALE_AFTER
        );
    }

    #[test]
    fn durations_are_read_as_go_reads_them() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse_duration(".5s").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("3µs").unwrap(), Duration::from_micros(3));
        assert_eq!(
            parse_duration("2562047h47m16.854775807s").unwrap(),
            Duration::from_nanos(i64::MAX as u64)
        );
        for bad in [
            "",
            "1",
            "s",
            ".s",
            "1x",
            "-1s",
            "1sm",
            "1..2s",
            "2562047h47m16.854775808s",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
