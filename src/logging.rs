//! Logging to stderr (which kubelet shows when a run fails) and to journald (where operators look),
//! with structured fields such as `IMAGE`, `NAMESPACE` and `AUTH_FILE`.

use tracing_journald::{Priority, PriorityMappings};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

pub const SYSLOG_IDENTIFIER: &str = "crio-credential-provider";

/// Installs the subscriber. Journald is used when its socket answers; without it (a container, a
/// dev machine, a dead socket) stderr alone carries the log.
pub fn init(level: tracing::Level) {
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
    }
}
