//! The command line. Kubelet passes only the `args` of its provider config, so flags are the
//! whole runtime interface; every default matches the Go implementation's. Declares the flags with
//! clap and converts them into the settings each module owns; the doc comments below are the help
//! text (`--help`, `mirrors --help`) and the man page.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::{ArgAction, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::check;
use crate::config;
use crate::kube::{self, ApiSettings, SecretsFrom};
use crate::kubelet;
use crate::logging;
use crate::provider::{self, Settings};
use crate::registries::{self, Sources};

#[cfg(test)]
mod man;

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
    kubelet_mode: KubeletModeArgs,
    /// Configuration file, whose keys are the long flags above; then its drop-ins, PATH.d/*.conf
    #[arg(long, value_name = "PATH", global = true, default_value = config::DEFAULT_PATH)]
    config: PathBuf,
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
        registries: RegistriesArgs,
        /// Explain which files were read, which prefixes matched and which won
        #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
              default_value = "false", default_missing_value = "true", action = ArgAction::Set,
              hide_default_value = true, hide_possible_values = true)]
        explain: bool,
        /// Image names, as kubelet sends them (docker.io/library/nginx)
        #[arg(required = true, value_name = "IMAGE")]
        images: Vec<String>,
    },
    /// Check this node's set-up, read-only: one line per check, OK, WARN or FAIL, and what to change
    Check(Box<CheckArgs>),
}

/// `check`: the kubelet-mode flags (the run it checks) and where kubelet's and CRI-O's own
/// configuration is.
#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    kubelet_mode: KubeletModeArgs,
    /// Kubelet's credential provider config [default: kubelet's --image-credential-provider-config, else the standard paths]
    #[arg(long, value_name = "FILE")]
    kubelet_provider_config: Option<PathBuf>,
    /// CRI-O's main configuration file
    #[arg(long, value_name = "FILE", default_value = check::DEFAULT_CRIO_CONFIG)]
    crio_config: PathBuf,
    /// CRI-O's drop-in configuration directory
    #[arg(long, value_name = "DIR", default_value = check::DEFAULT_CRIO_CONFIG_DIR)]
    crio_config_dir: PathBuf,
    /// Print one JSON object per check instead of a line of text
    #[arg(long)]
    json: bool,
}

/// What to do, with the settings of the module that does it.
#[derive(Debug)]
pub enum Command {
    /// Kubelet mode: answer the request on stdin.
    Provide {
        settings: Box<Settings>,
        log_level: tracing::Level,
    },
    Mirrors {
        sources: Sources,
        explain: bool,
        images: Vec<String>,
    },
    Check {
        settings: Box<check::Settings>,
    },
    Version,
    VersionJson,
}

#[derive(Debug, Args)]
struct RegistriesArgs {
    /// registries.conf to find mirrors in
    #[arg(long, value_name = "PATH", default_value = registries::DEFAULT_REGISTRIES_CONF)]
    registries_conf: PathBuf,
    /// The only drop-in directory to read [default: the standard ones]
    #[arg(long, value_name = "DIR")]
    registries_conf_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct KubeletModeArgs {
    #[command(flatten)]
    registries: RegistriesArgs,
    /// Where CRI-O looks for auth files
    #[arg(long, value_name = "DIR", default_value = provider::DEFAULT_AUTH_DIR)]
    auth_dir: PathBuf,
    /// The node's global pull secret, merged into every auth file
    #[arg(long, value_name = "PATH", default_value = provider::DEFAULT_GLOBAL_AUTH_FILE)]
    global_auth_file: PathBuf,
    #[command(flatten)]
    api: ApiArgs,
    /// cacheDuration of the response, a Go duration (kept as given, after validation)
    #[arg(long, value_name = "DURATION", default_value = kubelet::DEFAULT_CACHE_DURATION,
          value_parser = kubelet::cache_duration)]
    cache_duration: String,
    /// Remove unconsumed auth files older than this (at least 1m)
    #[arg(long, value_name = "DURATION", default_value = provider::DEFAULT_STALE_AFTER,
          value_parser = provider::stale_after)]
    stale_after: Duration,
    /// SELinux context for auth files [default: the auth dir's own]
    #[arg(long, value_name = "CONTEXT")]
    selinux_context: Option<String>,
    /// Where SELinux's filesystem is mounted when SELinux is enabled
    #[arg(long, value_name = "DIR", default_value = provider::DEFAULT_SELINUXFS)]
    selinuxfs: PathBuf,
    /// Answer a run that wrote an auth file with an empty credential for the image, so that kubelet
    /// ties the pulled image to the pod's service account; false: the Go implementation's answer
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "true", default_missing_value = "true", action = ArgAction::Set,
          hide_default_value = true, hide_possible_values = true)]
    scope_pulled_images: bool,
    /// error, warn, info, debug or trace (the same as debug)
    #[arg(long, value_name = "LEVEL", default_value = logging::DEFAULT_LEVEL,
          value_parser = logging::level)]
    log_level: tracing::Level,
}

#[derive(Debug, Args)]
struct ApiArgs {
    /// The API server [default: from apiserver-url.env, else the kubeconfig]
    #[arg(long, value_name = "URL")]
    api_server: Option<String>,
    /// PEM CA bundle to verify the API server with [default: the kubeconfig's]
    #[arg(long, value_name = "PATH")]
    ca_file: Option<PathBuf>,
    /// kubeconfig for the API server URL and CA (never its credentials)
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Holds OpenShift's apiserver-url.env
    #[arg(long, value_name = "DIR", default_value = kube::DEFAULT_KUBE_CONFIG_DIR)]
    kube_config_dir: PathBuf,
    /// Do not verify the API server (the Go implementation's behaviour)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true,
          default_value = "false", default_missing_value = "true", action = ArgAction::Set,
          hide_default_value = true, hide_possible_values = true)]
    insecure_skip_tls_verify: bool,
    /// Deadline for reading the pull secrets, all requests together, more than 0s and less than 55s
    #[arg(long, value_name = "DURATION", default_value = kube::DEFAULT_TIMEOUT,
          value_parser = kube::timeout)]
    api_timeout: Duration,
    /// Which pull secrets are read: auto, namespace, service-account or pod (docs/operating.md: Least privilege)
    #[arg(long, value_name = "SOURCE", default_value = "auto", value_parser = SecretsFrom::parse)]
    secrets_from: SecretsFrom,
}

impl From<RegistriesArgs> for Sources {
    fn from(args: RegistriesArgs) -> Self {
        Sources {
            main: args.registries_conf,
            drop_in_dir: args.registries_conf_dir,
        }
    }
}

impl From<ApiArgs> for ApiSettings {
    fn from(args: ApiArgs) -> Self {
        ApiSettings {
            server: args.api_server,
            ca_file: args.ca_file,
            kubeconfig: args.kubeconfig,
            kube_config_dir: args.kube_config_dir,
            insecure_skip_tls_verify: args.insecure_skip_tls_verify,
            timeout: args.api_timeout,
            secrets_from: args.secrets_from,
        }
    }
}

impl KubeletModeArgs {
    /// The run settings and the log level.
    fn into_settings(self) -> (Settings, tracing::Level) {
        let settings = Settings {
            registries: self.registries.into(),
            auth_dir: self.auth_dir,
            global_auth_file: self.global_auth_file,
            api: self.api.into(),
            cache_duration: self.cache_duration,
            stale_after: self.stale_after,
            selinux_context: self.selinux_context,
            selinuxfs: self.selinuxfs,
            scope_pulled_images: self.scope_pulled_images,
        };
        (settings, self.log_level)
    }

    fn into_command(self) -> Command {
        let (settings, log_level) = self.into_settings();
        Command::Provide {
            settings: Box::new(settings),
            log_level,
        }
    }
}

impl CheckArgs {
    fn into_command(self) -> Command {
        let (provider, _log_level) = self.kubelet_mode.into_settings();
        Command::Check {
            settings: Box::new(check::Settings {
                provider: Box::new(provider),
                kubelet_provider_config: self.kubelet_provider_config,
                crio_config: self.crio_config,
                crio_config_dir: self.crio_config_dir,
                json: self.json,
                kubelet_mode,
                configuration: Vec::new(),
            }),
        }
    }
}

/// What to do, and the configuration files that were read for it, in order.
#[derive(Debug)]
pub struct Invocation {
    pub command: Command,
    pub configuration: Vec<PathBuf>,
}

/// Parses the whole command line, program name first, over the configuration file's values. A
/// usage error, on the command line or in the file, is a `clap::Error` (exit code 2); `--help`
/// and `mirrors --help` come back as one too (exit code 0).
pub fn parse(
    args: impl IntoIterator<Item = impl Into<OsString>>,
) -> Result<Invocation, clap::Error> {
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    let path = configuration_path(&args);
    let configuration = config::load(&path)
        .map_err(|e| Cli::command().error(ErrorKind::Io, logging::one_line(e.as_ref())))?;
    let mut command = Cli::command();
    if !configuration.entries.is_empty() {
        command = with_configured_defaults(command, &configuration)?;
    }
    let matches = command.try_get_matches_from_mut(&args)?;
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    // Not freed: the process ends within the run, and freeing clap's tree of commands, arguments
    // and matches costs ~70,000 instructions, 7 % of a run for an image without a mirror.
    std::mem::forget((command, matches));
    let command = if cli.version {
        Command::Version
    } else if cli.version_json {
        Command::VersionJson
    } else {
        match cli.subcommand {
            Some(CliSubcommand::Mirrors {
                registries,
                explain,
                images,
            }) => Command::Mirrors {
                sources: registries.into(),
                explain,
                images,
            },
            Some(CliSubcommand::Check(args)) => args.into_command(),
            None => cli.kubelet_mode.into_command(),
        }
    };
    Ok(Invocation {
        command,
        configuration: configuration.files,
    })
}

/// What a kubelet-mode run makes of `args` (program name first), for `check`: its settings, or
/// why every such run fails, as a sentence.
fn kubelet_mode(args: Vec<String>) -> Result<Settings, String> {
    match parse(args) {
        Ok(Invocation {
            command: Command::Provide { settings, .. },
            ..
        }) => Ok(*settings),
        Ok(_) => Err(
            "the args choose another command than kubelet mode: every run answers nothing"
                .to_string(),
        ),
        Err(e) if e.use_stderr() => Err(format!(
            "every run fails with exit code 2: {}",
            usage_error_line(&e)
        )),
        Err(_) => {
            Err("every run fails with exit code 2: the args ask for the help text".to_string())
        }
    }
}

/// `--config` as given, read before the command line is parsed: the file's values are the flags'
/// defaults. Clap then parses `--config` like any flag (a value missing is its error).
fn configuration_path(args: &[OsString]) -> PathBuf {
    let mut args = args.iter().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--config" {
            if let Some(path) = args.next() {
                return PathBuf::from(path);
            }
        } else if let Some(path) = arg.as_bytes().strip_prefix(b"--config=") {
            return PathBuf::from(std::ffi::OsStr::from_bytes(path));
        }
    }
    PathBuf::from(config::DEFAULT_PATH)
}

/// Root flags that are not settings: the file cannot set them (a subcommand's own flags, such as
/// `mirrors --explain`, are no keys either: keys are the root command's flags).
const NOT_CONFIGURABLE: [&str; 4] = ["help", "version", "version-json", "config"];

/// The command line with each configured key as its flag's default, so that a flag given on the
/// command line wins. Each value is first parsed alone by its flag's own parser (the same
/// validation and limits), so an error names the file and line.
fn with_configured_defaults(
    mut command: clap::Command,
    configuration: &config::Config,
) -> Result<clap::Command, clap::Error> {
    for entry in &configuration.entries {
        let at = format!("{}:{}", entry.path.display(), entry.line);
        let id = command
            .get_arguments()
            .find(|arg| {
                arg.get_long() == Some(entry.key.as_str())
                    && !NOT_CONFIGURABLE.contains(&entry.key.as_str())
            })
            .map(|arg| arg.get_id().clone())
            .ok_or_else(|| {
                Cli::command().error(
                    ErrorKind::UnknownArgument,
                    format!(
                        "{at}: unknown key {:?}: the keys are the long flags of kubelet mode \
                         without their dashes (crio-credential-provider --help)",
                        entry.key.escape_debug().to_string()
                    ),
                )
            })?;
        let flag = OsString::from(format!("--{}={}", entry.key, entry.value));
        if let Err(error) =
            Cli::command().try_get_matches_from(["crio-credential-provider".into(), flag])
        {
            let message = usage_error_line(&error);
            let message = message
                .strip_prefix("crio-credential-provider: ")
                .unwrap_or(&message);
            return Err(Cli::command().error(error.kind(), format!("{at}: {message}")));
        }
        let subcommands: Vec<String> = command
            .get_subcommands()
            .filter(|sub| sub.get_arguments().any(|arg| arg.get_id() == &id))
            .map(|sub| sub.get_name().to_string())
            .collect();
        command = command.mut_arg(&id, |arg| arg.default_value(entry.value.clone()));
        for name in subcommands {
            command = command.mut_subcommand(name, |sub| {
                sub.mut_arg(&id, |arg| arg.default_value(entry.value.clone()))
            });
        }
    }
    Ok(command)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command, clap::Error> {
        parse(std::iter::once("crio-credential-provider").chain(args.iter().copied()))
            .map(|invocation| invocation.command)
    }

    fn settings(args: &[&str]) -> Settings {
        match parse_args(args) {
            Ok(Command::Provide { settings, .. }) => *settings,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    fn log_level(args: &[&str]) -> tracing::Level {
        match parse_args(args) {
            Ok(Command::Provide { log_level, .. }) => log_level,
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
            settings.registries.main,
            PathBuf::from(registries::DEFAULT_REGISTRIES_CONF)
        );
        assert_eq!(settings.registries.drop_in_dir, None);
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
        assert_eq!(log_level(&[]), tracing::Level::INFO);
        assert!(!settings.api.insecure_skip_tls_verify);
        assert!(settings.scope_pulled_images);
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
        assert_eq!(sources.main, PathBuf::from("/r.conf"));
        assert!(explain);
        assert_eq!(images, ["a.io/x", "b.io/y"]);
        assert!(usage_error(&["mirrors", "--auth-dir", "/a", "x"]).contains("--auth-dir"));
        assert!(usage_error(&["--auth-dir", "/a", "mirrors", "x"]).contains("mirrors"));
        assert!(usage_error(&["mirrors"]).contains("IMAGE"));
    }

    #[test]
    fn check_takes_the_kubelet_mode_flags_and_its_own() {
        let Command::Check { settings } = parse_args(&[
            "check",
            "--auth-dir",
            "/a",
            "--cache-duration=1m",
            "--crio-config-dir",
            "/c.d",
            "--json",
        ])
        .unwrap() else {
            panic!()
        };
        assert_eq!(settings.provider.auth_dir, PathBuf::from("/a"));
        assert_eq!(settings.provider.cache_duration, "1m");
        assert_eq!(settings.crio_config_dir, PathBuf::from("/c.d"));
        assert!(settings.json);
        assert!(usage_error(&["--auth-dir", "/a", "check"]).contains("check"));
    }

    #[test]
    fn check_defaults_to_kubelets_config_and_crios_standard_files() {
        let Command::Check { settings } = parse_args(&["check"]).unwrap() else {
            panic!()
        };
        assert_eq!(settings.kubelet_provider_config, None);
        assert_eq!(settings.crio_config, PathBuf::from("/etc/crio/crio.conf"));
        assert_eq!(
            settings.crio_config_dir,
            PathBuf::from("/etc/crio/crio.conf.d")
        );
        assert!(!settings.json);
        assert_eq!(settings.provider.auth_dir, PathBuf::from("/etc/crio/auth"));
    }

    #[test]
    fn help_is_answered_per_subcommand() {
        for (args, expected) in [
            (&["-h"][..], "--stale-after"),
            (&["--help"][..], "--stale-after"),
            (&["mirrors", "-h"][..], "--explain"),
            (&["mirrors", "--help"][..], "--explain"),
            (&["mirrors", "a.io/x", "-h"][..], "--explain"),
            (&["check", "-h"][..], "--kubelet-provider-config"),
        ] {
            let help = parse_args(args).expect_err("help is an early exit");
            assert_eq!(help.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(help.exit_code(), 0, "{args:?}");
            assert!(help.to_string().contains(expected), "{args:?}: {help}");
        }
        let mirrors_help = parse_args(&["mirrors", "-h"]).unwrap_err().to_string();
        assert!(!mirrors_help.contains("--auth-dir"), "{mirrors_help}");
        assert!(
            mirrors_help.contains(registries::DEFAULT_REGISTRIES_CONF),
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
        assert_eq!(log_level(&["--log-level", "trace"]), tracing::Level::TRACE);
        assert_eq!(log_level(&["--log-level", "warning"]), tracing::Level::WARN);
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
    fn every_setting_of_kubelet_mode_can_be_written_in_the_file_as_on_the_command_line() {
        let values = [
            ("registries-conf", "/r.conf"),
            ("registries-conf-dir", "/r.d"),
            ("auth-dir", "/a"),
            ("global-auth-file", "/g.json"),
            ("api-server", "https://api:6443"),
            ("ca-file", "/ca.crt"),
            ("kubeconfig", "/k"),
            ("kube-config-dir", "/kd"),
            ("insecure-skip-tls-verify", "true"),
            ("api-timeout", "5s"),
            ("secrets-from", "pod"),
            ("cache-duration", "1s"),
            ("stale-after", "2m"),
            ("selinux-context", "system_u:object_r:container_config_t:s0"),
            ("selinuxfs", "/s"),
            ("log-level", "debug"),
            ("scope-pulled-images", "false"),
        ];
        let command = Cli::command();
        let settings_flags: Vec<&str> = command
            .get_arguments()
            .filter_map(|arg| arg.get_long())
            .filter(|flag| !NOT_CONFIGURABLE.contains(flag))
            .collect();
        let mut keys: Vec<&str> = values.iter().map(|(key, _)| *key).collect();
        keys.sort();
        let mut sorted_flags = settings_flags.clone();
        sorted_flags.sort();
        assert_eq!(keys, sorted_flags, "the table names every setting");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.conf");
        let text: String = values
            .iter()
            .map(|(key, value)| match *value {
                "true" | "false" => format!("{key} = {value}\n"),
                value => format!("{key} = {value:?}\n"),
            })
            .collect();
        std::fs::write(&file, text).unwrap();
        let config = file.to_str().unwrap();
        let flags: Vec<String> = values
            .iter()
            .map(|(key, value)| format!("--{key}={value}"))
            .collect();
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        assert_eq!(
            format!("{:?}", settings(&["--config", config])),
            format!("{:?}", settings(&flags))
        );
        assert_eq!(log_level(&["--config", config]), tracing::Level::DEBUG);
    }

    #[test]
    fn flags_that_are_not_settings_cannot_be_set_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for key in ["version", "version-json", "config", "explain", "help"] {
            let file = dir.path().join(format!("{key}.conf"));
            std::fs::write(&file, format!("{key} = true\n")).unwrap();
            let error = usage_error(&["--config", file.to_str().unwrap()]);
            assert!(error.contains(&format!("unknown key \"{key}\"")), "{error}");
        }
    }

    #[test]
    fn the_mirrors_command_reads_the_registries_keys_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.conf");
        std::fs::write(&file, "registries-conf = \"/r.conf\"\nauth-dir = \"/a\"\n").unwrap();
        let config = file.to_str().unwrap();
        for args in [
            &["mirrors", "--config", config, "a.io/x"][..],
            &["mirrors", &format!("--config={config}"), "a.io/x"][..],
        ] {
            let Ok(Command::Mirrors { sources, .. }) = parse_args(args) else {
                panic!("{args:?}")
            };
            assert_eq!(sources.main, PathBuf::from("/r.conf"), "{args:?}");
        }
        // As every flag: after the subcommand it belongs to.
        assert!(usage_error(&["--config", config, "mirrors", "a.io/x"]).contains("--config"));
    }

    #[test]
    fn stale_after_below_one_minute_is_refused() {
        for short in ["0s", "0", "59s", "59.999s"] {
            let error = usage_error(&["--stale-after", short]);
            assert!(error.contains("at least 1m"), "{short}: {error}");
        }
        assert_eq!(
            settings(&["--stale-after", "1m"]).stale_after,
            Duration::from_secs(60)
        );
    }
}
