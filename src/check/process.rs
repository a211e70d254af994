//! Running processes and their command lines, from `/proc`: the flags kubelet and CRI-O run with.

use std::path::Path;

use crate::files;

/// A running process: its pid and its command line.
#[derive(Debug)]
pub(super) struct Process {
    pub pid: u32,
    pub args: Vec<String>,
}

/// The running process with the lowest pid whose name (`/proc/<pid>/comm`) is `name`.
pub(super) fn running(name: &str) -> Option<Process> {
    let mut pids: Vec<u32> = files::entries_of(Path::new("/proc"))
        .ok()?
        .into_iter()
        .filter_map(|entry| entry.name.to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    pids.into_iter().find_map(|pid| {
        let proc = Path::new("/proc").join(pid.to_string());
        let comm = files::read_regular(&proc.join("comm"), 64).ok()?;
        if comm.strip_suffix(b"\n").unwrap_or(&comm) != name.as_bytes() {
            return None;
        }
        let cmdline = files::read_regular(&proc.join("cmdline"), 1 << 20).ok()?;
        let args = cmdline
            .split(|&b| b == 0)
            .filter(|arg| !arg.is_empty())
            .map(|arg| String::from_utf8_lossy(arg).into_owned())
            .collect();
        Some(Process { pid, args })
    })
}

/// The value of `flag` (`--name`) in a command line, as Go's flag packages read it: `--name=value`
/// or `--name value`, the last one given winning.
pub(super) fn flag_value(args: &[String], flag: &str) -> Option<String> {
    let mut value = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if let Some(inline) = arg.strip_prefix(flag).and_then(|r| r.strip_prefix('=')) {
            value = Some(inline.to_string());
        } else if arg == flag {
            value = args.next().cloned();
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn a_flag_is_read_inline_or_from_the_next_argument() {
        let flag = "--image-credential-provider-config";
        assert_eq!(
            flag_value(
                &args("kubelet --v=2 --image-credential-provider-config=/a.yaml"),
                flag
            ),
            Some("/a.yaml".into())
        );
        assert_eq!(
            flag_value(
                &args("kubelet --image-credential-provider-config /b.yaml --v=2"),
                flag
            ),
            Some("/b.yaml".into())
        );
        assert_eq!(flag_value(&args("kubelet --v=2"), flag), None);
    }

    #[test]
    fn a_longer_flag_with_the_same_start_is_another_flag() {
        let line = args(
            "kubelet --image-credential-provider-config-x=/a --image-credential-provider-bin-dir=/b",
        );
        assert_eq!(
            flag_value(&line, "--image-credential-provider-config"),
            None
        );
        assert_eq!(
            flag_value(&line, "--image-credential-provider-bin-dir"),
            Some("/b".into())
        );
    }

    #[test]
    fn the_last_value_of_a_repeated_flag_wins() {
        let line = args("crio --namespaced-auth-dir=/a --namespaced-auth-dir /b");
        assert_eq!(
            flag_value(&line, "--namespaced-auth-dir"),
            Some("/b".into())
        );
    }

    #[test]
    fn this_process_is_found_by_its_name() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap();
        let found = running(comm.trim()).expect("this test's own process");
        assert!(!found.args.is_empty());
    }
}
