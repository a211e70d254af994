//! The manual pages, rendered from the clap definition: `crio-credential-provider(8)`,
//! `crio-credential-provider-mirrors(8)` and `crio-credential-provider-check(8)`, committed under
//! docs/man/ and installed by the RPM. A test keeps them current; `make man` rewrites them after a
//! change of the flags or the text here.

use std::path::PathBuf;

use clap::CommandFactory;

use super::Cli;
use crate::version::VERSION;

/// What clap does not know: exit codes, files, the journal, where the settings come from.
const KUBELET_MODE_SECTIONS: &str = r#".SH CONFIGURATION
Every run reads \fI/etc/crio/crio\-credential\-provider.conf\fR (another file with \fB\-\-config\fR),
then the \fB*.conf\fR files of the directory of the same name with \fB.d\fR appended, in name order;
a later file's key replaces an earlier one's. The file is TOML; its keys are the long options of
kubelet mode without their dashes, with the same values: \fBsecrets\-from = "service\-account"\fR,
\fBlog\-level = "debug"\fR, \fBinsecure\-skip\-tls\-verify = false\fR. An option given on the command
line wins over the file. A missing file means no keys; a file that cannot be read, is not valid,
is larger than 64 KiB, or holds an unknown key or a bad value is a usage error that names the file
and line, in every mode. Kubelet passes the command line in the \fBargs\fR of the provider's entry
in its credential provider configuration; on OpenShift 4.22 and later the machine\-config\-operator
renders that entry with no args, so the file is the only way to configure the provider there.
.SH "EXIT STATUS"
.TP
\fB0\fR
The response is on standard output, with or without an auth file written.
.TP
\fB1\fR
The run failed: one ERROR line on standard error and in the journal says what and where.
.TP
\fB2\fR
Usage error: one line on standard error and in the journal (priority err) names the option.
.SH FILES
.TP
\fI/etc/crio/crio\-credential\-provider.conf\fR and \fI/etc/crio/crio\-credential\-provider.conf.d/*.conf\fR
Read at every run: the configuration (\fB\-\-config\fR; above).
.TP
\fI/etc/containers/registries.conf\fR and its drop\-in directories
Read: which mirrors CRI\-O pulls an image from (\fB\-\-registries\-conf\fR, \fB\-\-registries\-conf\-dir\fR).
.TP
\fI/etc/crio/auth/\fR\fINAMESPACE\fR\fB\-\fR\fISHA256\fR\fB.json\fR
Written: the auth file of one pull, mode 0600, in a directory that only root can write; the name is
the pod's namespace and the SHA\-256 of the image, as CRI\-O looks it up (\fB\-\-auth\-dir\fR).
Files not consumed within \fB\-\-stale\-after\fR are removed.
.TP
\fI/var/lib/kubelet/config.json\fR
Read: the node's global pull secret, merged into every auth file (\fB\-\-global\-auth\-file\fR).
.TP
\fI/etc/kubernetes/apiserver\-url.env\fR
Read: OpenShift's API server address (\fB\-\-kube\-config\-dir\fR).
.TP
\fI/etc/kubernetes/kubeconfig\fR, \fI/etc/kubernetes/kubelet.conf\fR, \fI/var/lib/kubelet/kubeconfig\fR
Read, the first that exists: the API server's URL and CA only, never its credentials (\fB\-\-kubeconfig\fR).
.SH JOURNAL
Every line goes to standard error and, when its socket answers, to journald with
\fBSYSLOG_IDENTIFIER=crio\-credential\-provider\fR and, where known, the fields \fBIMAGE\fR,
\fBNAMESPACE\fR, \fBMIRRORS\fR, \fBAUTH_FILE\fR, \fBSECRET\fR, \fBKEY\fR, \fBPREFIX\fR,
\fBREMOVED\fR and \fBURL\fR: \fBjournalctl \-t crio\-credential\-provider IMAGE=docker.io/library/nginx\fR
shows every line of the runs for that image, their warnings and errors included.
No line holds a password, an auth value or a token.
.SH "SEE ALSO"
\fBcrio\-credential\-provider\-mirrors\fR(8), \fBcrio\fR(8), \fBcontainers\-registries.conf\fR(5),
\fBcontainers\-auth.json\fR(5); /usr/share/doc/crio\-credential\-provider/ (operating,
troubleshooting and matching guides).
"#;

const MIRRORS_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
The registries configuration loaded; one line per image on standard output.
.TP
\fB1\fR
The registries configuration is invalid: each image's line (or the explanation) says why.
.TP
\fB2\fR
Usage error, on the command line or in the configuration file (\fBcrio\-credential\-provider\fR(8)).
.SH "SEE ALSO"
\fBcrio\-credential\-provider\fR(8), \fBcontainers\-registries.conf\fR(5)
"#;

const CHECK_SECTIONS: &str = r#".SH CHECKS
One line per check, in this order: \fBregistries\fR (registries.conf and its drop\-ins, the
prefixes with mirrors), \fBkubelet\-config\fR (kubelet's credential provider config, which file and
why, as kubelet decodes and validates it), \fBkubelet\-provider\fR (this provider's entry, its
apiVersion and tokenAttributes), \fBkubelet\-args\fR (its args, read as this program reads them),
\fBkubelet\-cache\fR (no \fB\-\-cache\-duration\fR), \fBkubelet\-match\-images\fR (every prefix with
mirrors matched, as kubelet matches), \fBcrio\-config\fR, \fBcrio\-auth\-dir\fR (CRI\-O's
\fBnamespaced_auth_dir\fR is \fB\-\-auth\-dir\fR), \fBcrio\-version\fR (1.34.3 or later),
\fBauth\-dir\fR (the checks a run makes), \fBapi\-server\fR (the URL and the CA, and where each
came from), \fBapi\-tls\fR (a verified handshake), \fBapi\-version\fR (\fBGET /version\fR without
credentials), \fBjournald\fR and \fBglobal\-pull\-secret\fR. Each line is \fBOK\fR, \fBWARN\fR or
\fBFAIL\fR, the check's name, what was found, and after \fB\->\fR what to change in which file.
A part that is not installed is a WARN. Nothing is written, and no credential is sent or printed.
Run it as root on the node (OpenShift: \fBoc debug node/\fR\fINODE\fR \fB\-\- chroot /host
crio\-credential\-provider check\fR) with the flags of the provider's args.
.SH "EXIT STATUS"
.TP
\fB0\fR
No check failed (warnings allowed).
.TP
\fB1\fR
At least one check failed.
.TP
\fB2\fR
Usage error.
.SH "SEE ALSO"
\fBcrio\-credential\-provider\fR(8), \fBcrio.conf\fR(5), \fBcontainers\-registries.conf\fR(5)
"#;

/// Each page's file name under docs/man/ and its content.
fn pages() -> Vec<(String, String)> {
    let mut command = Cli::command();
    command.build();
    let subcommand = |name: &str| {
        command
            .find_subcommand(name)
            .unwrap_or_else(|| panic!("the {name} subcommand"))
            .clone()
    };
    let (mirrors, check) = (subcommand("mirrors"), subcommand("check"));
    [
        (command, KUBELET_MODE_SECTIONS),
        (mirrors, MIRRORS_SECTIONS),
        (check, CHECK_SECTIONS),
    ]
    .into_iter()
    .map(|(command, sections)| {
        let man = clap_mangen::Man::new(command)
            .section("8")
            .source(format!("crio-credential-provider {VERSION}"))
            .manual("System Administration");
        let mut page = Vec::new();
        man.render(&mut page).expect("rendering into memory");
        page.extend_from_slice(sections.as_bytes());
        (
            man.get_filename(),
            String::from_utf8(page).expect("roff is text"),
        )
    })
    .collect()
}

#[test]
fn the_committed_man_pages_are_rendered_from_the_command_line() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    for (name, page) in pages() {
        let path = dir.join(&name);
        if std::env::var_os("UPDATE_MAN").is_some() {
            std::fs::write(&path, &page).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == page,
            "{} is not what the command line renders: run `make man`",
            path.display()
        );
    }
}
