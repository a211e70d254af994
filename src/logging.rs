//! Logging to stderr (which kubelet shows when a run fails) and to journald (where operators look),
//! with structured fields such as `IMAGE`, `NAMESPACE` and `AUTH_FILE`.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};
use tracing_journald::{Priority, PriorityMappings};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

pub const SYSLOG_IDENTIFIER: &str = "crio-credential-provider";

const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// Installs the subscriber. Journald is used when its socket answers; without it (a container, a
/// dev machine, a dead socket) stderr alone carries the log.
pub fn init(level: tracing::Level) -> Journal {
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .without_time()
        .with_target(false);
    let journald = tracing_journald::layer().ok().map(|layer| {
        layer
            .with_syslog_identifier(SYSLOG_IDENTIFIER.to_string())
            .with_field_prefix(None)
            .with_priority_mappings(PriorityMappings {
                error: Priority::Error,
                warn: Priority::Warning,
                info: Priority::Informational,
                debug: Priority::Debug,
                trace: Priority::Debug,
            })
    });
    let journald_absent = journald.is_none();
    // Only our own events: the libraries' (kube, hyper) would repeat our errors in their words.
    tracing_subscriber::registry()
        .with(Targets::new().with_target(env!("CARGO_CRATE_NAME"), level))
        .with(stderr)
        .with(journald)
        .init();
    if journald_absent {
        tracing::debug!("journald is not reachable; logging to stderr only");
        return Journal { marker: None };
    }
    let marker = UnixDatagram::unbound()
        .and_then(|socket| socket.connect(JOURNAL_SOCKET).map(|()| socket))
        .ok();
    Journal { marker }
}

/// Text from outside (a server's message, a request's image) as one bounded line: at most this many
/// characters, escaped and quoted, so it can neither flood the journal nor forge log lines.
const MAX_QUOTED_CHARS: usize = 300;

pub fn quoted(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(MAX_QUOTED_CHARS).collect();
    let more = if chars.next().is_some() { "..." } else { "" };
    format!("\"{}\"{more}", head.escape_debug())
}

/// Lets the process wait, before it exits, until journald has taken in its entries.
///
/// Journald attaches `_COMM` (which operators and OpenShift's e2e filter on) by reading
/// `/proc/<pid>` when it processes a datagram; a run that exits first gets entries without it.
pub struct Journal {
    marker: Option<UnixDatagram>,
}

impl Journal {
    /// Sends an empty datagram (journald discards it) behind our entries and waits, at most 100 ms,
    /// until journald has dequeued it: it reads its one socket in order and finishes each
    /// datagram before the next, so by then it has processed every entry of this run.
    pub fn flush(&self) {
        let Some(socket) = &self.marker else {
            return;
        };
        if socket.send(&[]).is_err() {
            return;
        }
        let deadline = Instant::now() + Duration::from_millis(100);
        while unsent_bytes(socket).is_some_and(|bytes| bytes > 0) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(50));
        }
    }
}

/// Bytes sent on `socket` that the receiver has not dequeued yet (`SIOCOUTQ`).
fn unsent_bytes(socket: &UnixDatagram) -> Option<i32> {
    let mut bytes: libc::c_int = 0;
    // SAFETY: SIOCOUTQ (TIOCOUTQ on Linux) writes one c_int through the pointer.
    let result = unsafe { libc::ioctl(socket.as_raw_fd(), libc::TIOCOUTQ, &mut bytes) };
    (result == 0).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_text_is_one_escaped_line() {
        assert_eq!(quoted("a \"b\"\nc\u{1b}"), r#""a \"b\"\nc\u{1b}""#);
    }

    #[test]
    fn long_text_is_cut_at_the_limit() {
        let quoted = quoted(&"é".repeat(10_000));
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 2 + 3);
        assert!(quoted.ends_with("\"..."));
        assert!(!super::quoted(&"x".repeat(MAX_QUOTED_CHARS)).ends_with("..."));
    }
}
