//! Reading the node's own files (registries.conf, the global pull secret, apiserver-url.env): once,
//! regular files only, bounded. Only "no such file" means a file is absent: any other error (a
//! permission or SELinux denial) is one, so a run never mistakes a denial for "nothing to do".

use std::ffi::OsString;
use std::io::{Error, ErrorKind, Read};
use std::os::unix::ffi::OsStringExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The whole content of a regular file of at most `max_bytes`, read once. Opening with
/// `O_NONBLOCK` keeps a FIFO from blocking the open (it does not change reads of a regular file);
/// anything but a regular file (a FIFO, `/dev/zero`, a directory) is refused before it is read.
pub fn read_regular(path: &Path, max_bytes: u64) -> std::io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(Error::new(ErrorKind::InvalidInput, "not a regular file"));
    }
    let too_large = || {
        Error::new(
            ErrorKind::FileTooLarge,
            format!("larger than the limit of {}", size(max_bytes)),
        )
    };
    if metadata.len() > max_bytes {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(metadata.len() as usize);
    // The file may grow while it is read: the limit holds for what is read, too.
    file.take(max_bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    Ok(bytes)
}

/// One entry of a directory: its name, and whether it is a directory itself (a link is not).
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: OsString,
    pub is_dir: bool,
}

/// The entries of a directory (not `.` and `..`), unsorted. Not `std::fs::read_dir`: its
/// `closedir` panics when the kernel reports an error on close (EIO, on a network file system),
/// where this closes the descriptor and goes on, the names being read by then.
pub fn entries_of(dir: &Path) -> std::io::Result<Vec<Entry>> {
    use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};
    let fd = rustix::fs::open(
        dir,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let mut read = Dir::read_from(&fd)?;
    let mut entries = Vec::new();
    while let Some(entry) = read.read() {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        // Some file systems do not say the type in the directory: then ask the inode.
        let file_type = match entry.file_type() {
            FileType::Unknown => {
                let stat = rustix::fs::statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW)?;
                FileType::from_raw_mode(stat.st_mode)
            }
            known => known,
        };
        entries.push(Entry {
            name: OsString::from_vec(name.to_bytes().to_vec()),
            is_dir: file_type == FileType::Directory,
        });
    }
    Ok(entries)
}

/// Where byte `offset` of a file's `text` is, as an editor counts: line and column, from 1. Parse
/// errors say this instead of quoting the file, which may hold a credential.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (
        before.matches('\n').count() + 1,
        before.len() - line_start + 1,
    )
}

/// `None` for "no such file"; every other error stays one.
pub fn absent_if_missing<T>(result: std::io::Result<T>) -> std::io::Result<Option<T>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn size(bytes: u64) -> String {
    match bytes % (1024 * 1024) {
        0 => format!("{} MiB", bytes / (1024 * 1024)),
        _ => format!("{} KiB", bytes / 1024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regular_file_within_the_limit_is_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, "abc").unwrap();
        assert_eq!(read_regular(&path, 3).unwrap(), b"abc");
        let error = read_regular(&path, 2).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::FileTooLarge);
    }

    #[test]
    fn a_file_longer_than_its_reported_size_is_still_held_to_the_limit() {
        // procfs reports a size of 0 for files that hold far more.
        let status = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(status).unwrap().len(), 0);
        let error = read_regular(status, 16).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::FileTooLarge);
        assert!(read_regular(status, 1 << 20).unwrap().starts_with(b"Name:"));
    }

    #[test]
    fn the_entries_of_a_directory_say_which_are_directories() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.conf"), "").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::os::unix::fs::symlink("sub", dir.path().join("link")).unwrap();
        let mut entries = entries_of(dir.path()).unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let entry = |name: &str, is_dir| Entry {
            name: name.into(),
            is_dir,
        };
        assert_eq!(
            entries,
            [
                entry("a.conf", false),
                entry("link", false),
                entry("sub", true)
            ]
        );
        let missing = entries_of(&dir.path().join("missing")).unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        // O_DIRECTORY: a FIFO in its place is refused at once, where opening it would block.
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert_eq!(
            entries_of(&fifo).unwrap_err().raw_os_error(),
            Some(libc::ENOTDIR)
        );
        let not_a_dir = entries_of(&dir.path().join("a.conf")).unwrap_err();
        assert_eq!(not_a_dir.raw_os_error(), Some(libc::ENOTDIR));
    }

    #[test]
    fn an_offset_is_a_line_and_column_from_one() {
        let text = "ab\ncd\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, 1), (1, 2));
        assert_eq!(line_and_column(text, 3), (2, 1));
        assert_eq!(line_and_column(text, 4), (2, 2));
        assert_eq!(line_and_column(text, 99), (3, 1));
    }

    #[test]
    fn a_directory_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let error = read_regular(dir.path(), 10).unwrap_err();
        assert_eq!(error.to_string(), "not a regular file");
    }

    #[test]
    fn only_no_such_file_is_absent() {
        let dir = tempfile::tempdir().unwrap();
        let missing = absent_if_missing(std::fs::read(dir.path().join("missing")));
        assert!(missing.unwrap().is_none());
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        // Below a regular file: ENOTDIR, not "no such file".
        assert!(absent_if_missing(std::fs::read(file.join("below"))).is_err());
        assert_eq!(
            absent_if_missing(std::fs::read(&file)).unwrap().unwrap(),
            b"x"
        );
    }

    #[test]
    fn limits_are_said_in_the_unit_they_were_set_in() {
        assert_eq!(size(4 * 1024 * 1024), "4 MiB");
        assert_eq!(size(64 * 1024), "64 KiB");
    }
}
