//! `crio-credential-provider check`: a read-only self-check of the node, for an operator on it.
//! Each check prints one line: what was checked, OK / WARN / FAIL, and for anything not OK what to
//! change, in which file. It reads kubelet's and CRI-O's configuration and the provider's own
//! (`node`, `kubelet`, `crio`), and asks the API server for `/version` without any credential
//! (`api`). It writes nothing.

mod api;
mod crio;
mod kubelet;
mod node;
mod process;

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use crate::provider;

/// What a check reads: the settings of the kubelet-mode run it checks, and where kubelet's and
/// CRI-O's configuration is.
#[derive(Debug)]
pub struct Settings {
    pub provider: Box<provider::Settings>,
    /// Kubelet's credential provider config; `None`: the one kubelet runs with, else the first
    /// standard path that exists.
    pub kubelet_provider_config: Option<PathBuf>,
    pub crio_config: PathBuf,
    pub crio_config_dir: PathBuf,
    /// One JSON object per line instead of text.
    pub json: bool,
    /// What a kubelet-mode run makes of a command line (the provider's `args`, program name
    /// first): its settings, or what goes wrong, as a sentence. The command line's own parser,
    /// handed in so that this module need not know the command line.
    pub kubelet_mode: fn(Vec<String>) -> Result<provider::Settings, String>,
    /// The configuration files this run read, in order (every run reads them the same way).
    pub configuration: Vec<PathBuf>,
}

/// CRI-O's defaults (cri-o `pkg/config/config_unix.go`), as written on the command line.
pub const DEFAULT_CRIO_CONFIG: &str = "/etc/crio/crio.conf";
pub const DEFAULT_CRIO_CONFIG_DIR: &str = "/etc/crio/crio.conf.d";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Ok,
    Warn,
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// The result of one check.
#[derive(Debug)]
struct Line {
    /// Which check, a short name (`crio-auth-dir`).
    check: &'static str,
    status: Status,
    /// What was checked and what was found.
    message: String,
    /// For a line that is not OK: what to change, naming the file.
    fix: Option<String>,
}

impl Line {
    fn ok(check: &'static str, message: impl Into<String>) -> Self {
        Line {
            check,
            status: Status::Ok,
            message: message.into(),
            fix: None,
        }
    }

    fn warn(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Line {
            check,
            status: Status::Warn,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    fn fail(check: &'static str, message: impl Into<String>, fix: impl Into<String>) -> Self {
        Line {
            check,
            status: Status::Fail,
            message: message.into(),
            fix: Some(fix.into()),
        }
    }

    /// `FAIL  crio-auth-dir: <message> -> <fix>`, on one line whatever the texts hold.
    fn text(&self) -> String {
        let fix = self
            .fix
            .as_ref()
            .map(|fix| format!(" -> {fix}"))
            .unwrap_or_default();
        let line = format!(
            "{:<4}  {}: {}{fix}",
            self.status.word(),
            self.check,
            self.message
        );
        line.replace(['\n', '\r'], " ")
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "check": self.check,
            "status": self.status.word(),
            "message": self.message,
            "fix": self.fix,
        })
    }
}

/// Runs every check and prints a line for each to `out`, then (as text) a summary. Returns
/// whether no check failed.
pub fn run(settings: &Settings, out: &mut impl Write) -> std::io::Result<bool> {
    let lines = checks(settings);
    for line in &lines {
        match settings.json {
            true => writeln!(out, "{}", line.json())?,
            false => writeln!(out, "{}", line.text())?,
        }
    }
    let count = |status| lines.iter().filter(|l| l.status == status).count();
    let failed = count(Status::Fail);
    if !settings.json {
        writeln!(
            out,
            "{failed} FAIL, {} WARN, {} OK",
            count(Status::Warn),
            count(Status::Ok)
        )?;
    }
    out.flush()?;
    Ok(failed == 0)
}

fn checks(settings: &Settings) -> Vec<Line> {
    let provider = &settings.provider;
    let mut lines = Vec::new();
    node::configuration(&settings.configuration, &mut lines);
    let mirrored = node::registries(&provider.registries, &mut lines);
    kubelet::check(settings, mirrored.as_deref(), &mut lines);
    crio::check(settings, &mut lines);
    node::auth_dir(provider, &mut lines);
    api::check(&provider.api, &mut lines);
    node::journald(&mut lines);
    node::global_pull_secret(&provider.global_auth_file, mirrored.as_deref(), &mut lines);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_not_ok_says_what_to_change() {
        let line = Line::fail("crio-auth-dir", "it is /a", "set it to /b in /etc/x.conf");
        assert_eq!(
            line.text(),
            "FAIL  crio-auth-dir: it is /a -> set it to /b in /etc/x.conf"
        );
        assert_eq!(Line::ok("journald", "here").text(), "OK    journald: here");
    }

    #[test]
    fn a_line_stays_one_line_whatever_its_text_holds() {
        let line = Line::warn("registries", "a\nb", "c\r\nd");
        assert_eq!(line.text(), "WARN  registries: a b -> c  d");
    }
}
