//! crio-credential-provider: the process. Everything else is the library's (`lib.rs`).

fn main() -> std::process::ExitCode {
    crio_credential_provider::run(std::env::args_os())
}
