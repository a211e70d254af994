//! crio-credential-provider: a kubelet image credential provider that writes the pod namespace's
//! pull secrets for registry mirrors into the auth file CRI-O reads for that one pull.
//!
//! `run` is the whole program (`main.rs` only calls it): `cli` turns the command line into the
//! settings of the module that does the work, `provider` (kubelet mode), `mirrors` or `check`.
//! The fuzz targets (`fuzz/`) reach the parsers through `fuzzing`, and nothing else is public.

#[cfg(all(feature = "rustls", feature = "openssl"))]
compile_error!("choose one TLS backend: the features rustls and openssl exclude each other");
#[cfg(not(any(feature = "rustls", feature = "openssl")))]
compile_error!("choose a TLS backend: feature rustls (the default) or openssl");

mod authfile;
mod check;
mod cli;
mod config;
mod duration;
mod files;
mod kube;
mod kubelet;
mod logging;
mod mirrors;
mod provider;
mod registries;
mod secrets;
mod selinux;
mod version;

use std::ffi::OsString;

/// The process's exit codes.
const SUCCESS: u8 = 0;
/// A run failed; its one ERROR line says why.
const FAILURE: u8 = 1;
/// The command line or the configuration file is wrong (one line on stderr and in journald).
const USAGE_ERROR: u8 = 2;

/// Runs the command line `args` (program name first), and says the process's exit code: 0 when
/// done, 1 when a run failed, 2 on a usage error.
pub fn run(args: impl IntoIterator<Item = OsString>) -> u8 {
    let cli::Invocation {
        command,
        configuration,
    } = match cli::parse(args) {
        Ok(invocation) => invocation,
        Err(e) if e.use_stderr() => {
            let line = cli::usage_error_line(&e);
            eprintln!("{line}");
            logging::journal_error(&line);
            return USAGE_ERROR;
        }
        // --help
        Err(e) => {
            return match e.print() {
                Ok(()) => SUCCESS,
                Err(_) => FAILURE,
            };
        }
    };
    match command {
        cli::Command::Version => {
            println!("crio-credential-provider {}", version::VERSION);
            SUCCESS
        }
        cli::Command::VersionJson => {
            println!("{}", version::json(&configuration));
            SUCCESS
        }
        cli::Command::Mirrors {
            sources,
            explain,
            images,
        } => {
            let mut out = std::io::stdout().lock();
            match mirrors::run(&sources, explain, &images, &mut out) {
                Ok(true) => SUCCESS,
                Ok(false) => FAILURE,
                // `mirrors ... | head`: the reader has what it wanted.
                Err(e)
                    if e.root_cause()
                        .downcast_ref::<std::io::Error>()
                        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
                {
                    SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "crio-credential-provider: {}",
                        logging::one_line(e.as_ref())
                    );
                    FAILURE
                }
            }
        }
        cli::Command::Check { mut settings } => {
            settings.configuration = configuration;
            match check::run(&settings, &mut std::io::stdout().lock()) {
                Ok(true) => SUCCESS,
                Ok(false) => FAILURE,
                Err(e) => {
                    eprintln!("crio-credential-provider: writing the check's lines to stdout: {e}");
                    FAILURE
                }
            }
        }
        cli::Command::Provide {
            settings,
            log_level,
        } => {
            let journal = std::sync::Arc::new(logging::init(log_level));
            let panic_journal = journal.clone();
            // A panic still left in a dependency (a failing eventfd, getrandom) ends the run as
            // any failure does: one ERROR line, the pull's file withdrawn, exit code 1.
            std::panic::set_hook(Box::new(move |panic| {
                provider::withdraw_after_panic();
                let message = panic
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|message| message.to_string())
                    .or_else(|| panic.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let at = panic
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                tracing::error!(
                    "internal error at {at}: {}; no auth file is left for this pull",
                    logging::quoted(&message)
                );
                panic_journal.flush();
                std::process::exit(1);
            }));
            for file in &configuration {
                tracing::debug!("Read the configuration file {}", file.display());
            }
            let stdin = std::io::stdin().lock();
            let status = match provider::run(&settings, stdin, std::io::stdout().lock()) {
                Ok(()) => SUCCESS,
                Err(e) => {
                    provider::log_failure(&e);
                    FAILURE
                }
            };
            journal.flush();
            status
        }
    }
}

/// What the fuzz targets check: the parsers of outside input and the auth file merge.
#[cfg(fuzzing)]
pub mod fuzzing {
    pub use crate::authfile::merge;
    pub use crate::kube::{SecretListReader, protobuf_status, token_claims};
    pub use crate::kubelet::parse_request;
    pub use crate::registries::fuzz_one_file;
    pub use crate::secrets::{Chosen, Credential, PullSecret, SecretType, choose, decode};
}
