//! Logging to stderr (which kubelet shows when a run fails) and to journald (where operators look),
//! with structured fields such as `IMAGE`, `NAMESPACE` and `AUTH_FILE`.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};
use tracing_journald::{Priority, PriorityMappings};

use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

const SYSLOG_IDENTIFIER: &str = "crio-credential-provider";

pub const JOURNAL_SOCKET: &str = "/run/systemd/journal/socket";

/// The log level of a run, as written on the command line.
pub const DEFAULT_LEVEL: &str = "info";

/// Reads a log level: error, warn (or warning), info, debug, or trace (the same as debug).
pub fn level(text: &str) -> anyhow::Result<tracing::Level> {
    Ok(match text {
        "error" => tracing::Level::ERROR,
        "warn" | "warning" => tracing::Level::WARN,
        "info" => tracing::Level::INFO,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => anyhow::bail!("takes error, warn, info, debug or trace"),
    })
}

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

/// Sends `message` to journald with priority err, for what fails before logging is set up (a usage
/// error): one datagram of journald's native protocol, then the wait of `Journal::flush`, so that
/// journald still finds the process to attach `_COMM`. Nothing happens without journald.
pub fn journal_error(message: &str) {
    let Ok(socket) = UnixDatagram::unbound() else {
        return;
    };
    let mut entry =
        format!("PRIORITY=3\nSYSLOG_IDENTIFIER={SYSLOG_IDENTIFIER}\nMESSAGE\n").into_bytes();
    // The length-prefixed form: the value may hold any byte, a newline included.
    entry.extend_from_slice(&(message.len() as u64).to_le_bytes());
    entry.extend_from_slice(message.as_bytes());
    entry.push(b'\n');
    if socket.connect(JOURNAL_SOCKET).is_ok() && socket.send(&entry).is_ok() {
        Journal {
            marker: Some(socket),
        }
        .flush();
    }
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

/// A JSON decoding error without what it read: the kind of fault and where. serde_json's own
/// message can quote a value (`invalid type: string "..."`), and what is decoded here can hold a
/// credential (a request's token, a secret's data, an API answer).
pub fn json_error(error: &serde_json::Error) -> String {
    let what = match error.classify() {
        serde_json::error::Category::Data => "unexpected structure",
        _ => "invalid JSON",
    };
    format!("{what} at line {} column {}", error.line(), error.column())
}

/// `n` things in words: "1 secret", "2 secrets" (`count(2, "entry", "entries")`).
pub fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// An error and its causes as one line, each said once: hyper's and kube's errors repeat their
/// cause in their own message, which `{:#}` would print again.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
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
    fn a_json_error_says_where_but_not_what_it_read() {
        let error = serde_json::from_str::<Vec<u8>>(r#"["SECRET"]"#).unwrap_err();
        assert!(
            error.to_string().contains("SECRET"),
            "serde_json quotes it: {error}"
        );
        assert_eq!(
            json_error(&error),
            "unexpected structure at line 1 column 9"
        );
        let error = serde_json::from_str::<Vec<u8>>("[SECRET").unwrap_err();
        assert_eq!(json_error(&error), "invalid JSON at line 1 column 2");
    }

    #[test]
    fn quoted_text_is_one_escaped_line() {
        assert_eq!(quoted("a \"b\"\nc\u{1b}"), r#""a \"b\"\nc\u{1b}""#);
    }

    #[derive(Debug)]
    struct Layer(&'static str, Option<Box<Layer>>);

    impl std::fmt::Display for Layer {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|l| l as _)
        }
    }

    #[test]
    fn a_cause_that_repeats_the_message_before_it_is_said_once() {
        let error = Layer(
            "ServiceError: client error (Connect)",
            Some(Box::new(Layer(
                "client error (Connect)",
                Some(Box::new(Layer("invalid peer certificate", None))),
            ))),
        );
        assert_eq!(
            one_line(&error),
            "ServiceError: client error (Connect): invalid peer certificate"
        );
    }

    #[test]
    fn distinct_causes_are_all_said() {
        let error = Layer("reading x", Some(Box::new(Layer("denied", None))));
        assert_eq!(one_line(&error), "reading x: denied");
    }

    #[test]
    fn one_thing_is_singular_and_any_other_number_plural() {
        assert_eq!(count(0, "secret", "secrets"), "0 secrets");
        assert_eq!(count(1, "secret", "secrets"), "1 secret");
        assert_eq!(count(2, "entry", "entries"), "2 entries");
    }

    #[test]
    fn long_text_is_cut_at_the_limit() {
        let quoted = quoted(&"é".repeat(10_000));
        assert_eq!(quoted.chars().count(), MAX_QUOTED_CHARS + 2 + 3);
        assert!(quoted.ends_with("\"..."));
        assert!(!super::quoted(&"x".repeat(MAX_QUOTED_CHARS)).ends_with("..."));
    }
}
