//! crio-credential-provider: a kubelet image credential provider that writes the pod namespace's
//! pull secrets for registry mirrors into the auth file CRI-O reads for that one pull. The binary
//! only wires the library's modules to the process: arguments, stdin, stdout, exit code.

use crio_credential_provider::{cli, kube, logging, mirrors, provider, version};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args_os()) {
        Ok(command) => command,
        Err(e) if e.use_stderr() => {
            eprintln!("{}", cli::usage_error_line(&e));
            return ExitCode::from(2);
        }
        // --help
        Err(e) => {
            return match e.print() {
                Ok(()) => ExitCode::SUCCESS,
                Err(_) => ExitCode::FAILURE,
            };
        }
    };
    match command {
        cli::Command::Version => {
            println!("crio-credential-provider {}", version::VERSION);
            ExitCode::SUCCESS
        }
        cli::Command::VersionJson => {
            println!("{}", version::json());
            ExitCode::SUCCESS
        }
        cli::Command::Mirrors {
            sources,
            explain,
            images,
        } => {
            let mut out = std::io::stdout().lock();
            match mirrors::run(&sources, explain, &images, &mut out) {
                Ok(true) => ExitCode::SUCCESS,
                Ok(false) => ExitCode::FAILURE,
                Err(e) => {
                    eprintln!(
                        "crio-credential-provider: {}",
                        logging::one_line(e.as_ref())
                    );
                    ExitCode::FAILURE
                }
            }
        }
        cli::Command::Provide(settings) => {
            let settings = *settings;
            // Before anything else runs, so before any thread exists.
            kube::prepare_tls();
            let journal = logging::init(settings.log_level);
            let status = match provider::run(&settings, std::io::stdin().lock()) {
                Ok(response) => {
                    let mut out = std::io::stdout().lock();
                    match writeln!(out, "{response}").and_then(|()| out.flush()) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(e) => {
                            tracing::error!("writing the response to stdout: {e}");
                            ExitCode::FAILURE
                        }
                    }
                }
                Err(e) => {
                    tracing::error!("{}", logging::one_line(e.as_ref()));
                    ExitCode::FAILURE
                }
            };
            journal.flush();
            status
        }
    }
}
