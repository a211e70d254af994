//! crio-credential-provider: the process. Everything else is the library's (`lib.rs`).
//!
//! No Rust `main`: std's start-up finds the main thread's stack guard by parsing
//! `/proc/self/maps` (glibc's `pthread_getattr_np`), about 100,000 instructions, a tenth of a run
//! for an image without a mirror, which every pull of such an image pays. Of the rest of that
//! start-up, what the provider needs is done here: SIGPIPE ignored, so that a closed stdout is an
//! error with its ERROR line rather than a silent death; and stdin, stdout and stderr opened on
//! `/dev/null` when they are closed, so that no file the run opens (an auth file) becomes one of
//! them. Arguments are std's all the same (glibc hands them to std before `main`). Lost is std's
//! message on a stack overflow, which still ends the process (SIGSEGV); no input recurses deeply,
//! each being bounded.
#![cfg_attr(not(test), no_main)]

#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    for fd in 0..=2 {
        // SAFETY: F_GETFD only reads the descriptor's flags.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        {
            // SAFETY: a constant C string; the lowest free descriptor is `fd`, as those below
            // it are open. As std's start-up, give up when even /dev/null cannot be opened.
            if unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } != fd {
                std::process::abort();
            }
        }
    }
    // SAFETY: before any thread exists; SIG_IGN is a valid disposition for SIGPIPE.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    crio_credential_provider::run(std::env::args_os()).into()
}
