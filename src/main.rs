//! crio-credential-provider: the process. Everything else is the library's (`lib.rs`).
//!
//! No Rust `main`: std's start-up finds the main thread's stack guard by parsing
//! `/proc/self/maps` (glibc's `pthread_getattr_np`), about 100,000 instructions, a tenth of a run
//! for an image without a mirror, which every pull of such an image pays. Of the rest of that
//! start-up, the one thing the provider needs is done here: SIGPIPE ignored, so that a closed
//! stdout is an error with its ERROR line rather than a silent death. Arguments are std's all the
//! same (glibc hands them to std before `main`). Lost is std's message on a stack overflow, which
//! still ends the process (SIGSEGV); no input recurses deeply, each being bounded.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    // SAFETY: before any thread exists; SIG_IGN is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    crio_credential_provider::run(std::env::args_os()).into()
}
