//! The private directory auth files are written to: opened without following links, checked,
//! written atomically, labelled for SELinux, and cleaned of what nobody will consume.

use std::fs::File;
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result, bail, ensure};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, renameat};
use nix::sys::stat::{FileStat, Mode, SFlag, fchmod, fstat, fstatat};
use nix::unistd::{UnlinkatFlags, fsync, unlinkat};

use super::is_auth_file;
use crate::selinux;

/// The auth directory, opened without following links, and checked: a real directory owned by us
/// and writable by nobody else. Created 0700 (with its parents) when missing.
pub struct AuthDir {
    fd: OwnedFd,
    path: std::path::PathBuf,
}

const TEMP_PREFIX: &str = ".crio-credential-provider-";
/// The Go implementation's temp files, which it leaves behind when killed.
const GO_TEMP_PREFIX: &str = ".auth-";
const TEMP_SUFFIX: &str = ".tmp";
const TEMP_MAX_AGE: Duration = Duration::from_secs(120);

impl AuthDir {
    /// Opens the directory, creating it (0700, with its parents) when missing.
    pub fn open(path: &Path) -> Result<Self> {
        match Self::open_existing(path)? {
            Some(dir) => Ok(dir),
            None => {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o700)
                    .create(path)
                    .with_context(|| format!("creating auth directory {}", path.display()))?;
                Self::open_existing(path)?.with_context(|| {
                    format!("auth directory {} vanished after creation", path.display())
                })
            }
        }
    }

    /// Opens the directory if it exists.
    pub fn open_existing(path: &Path) -> Result<Option<Self>> {
        let fd = match open_dir(path) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP | Errno::ENOTDIR) => {
                let symlink = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_symlink());
                bail!(
                    "auth directory {} is {}",
                    path.display(),
                    match symlink {
                        true => "a symlink, which is refused: it could redirect credentials",
                        false => "not a directory",
                    }
                )
            }
            Err(errno) => {
                return Err(errno)
                    .with_context(|| format!("opening auth directory {}", path.display()));
            }
        };
        let stat = fstat(&fd).with_context(|| format!("checking {}", path.display()))?;
        let owner = nix::unistd::geteuid().as_raw();
        ensure!(
            stat.st_uid == owner,
            "auth directory {} is owned by uid {}, not by this process's uid {owner}",
            path.display(),
            stat.st_uid
        );
        ensure!(
            stat.st_mode & 0o022 == 0,
            "auth directory {} is writable by group or others (mode {:o}); it holds credentials",
            path.display(),
            stat.st_mode & 0o7777
        );
        Ok(Some(AuthDir {
            fd,
            path: path.to_path_buf(),
        }))
    }

    /// Writes `content` to `name` atomically: an exclusive temp file in the same directory, mode
    /// 0600 whatever the umask, checked with fstat, synced, renamed over `name`, directory synced.
    /// A failure or a kill leaves at most a temp file, which a later run removes.
    ///
    /// With `context`, the temp file gets that SELinux context before any credential is written to
    /// it, and the write is refused if the context does not stick.
    pub fn write(&self, name: &str, content: &[u8], context: Option<&str>) -> Result<()> {
        let temp_name = format!(
            "{TEMP_PREFIX}{}-{}{TEMP_SUFFIX}",
            std::process::id(),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
        );
        let fd = nix::fcntl::openat(
            &self.fd,
            temp_name.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::S_IRUSR | Mode::S_IWUSR,
        )
        .with_context(|| format!("creating a temp file in {}", self.path.display()))?;
        let result = self.fill_and_rename(File::from(fd), &temp_name, name, content, context);
        if result.is_err() {
            let _ = unlinkat(&self.fd, temp_name.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        result
    }

    fn fill_and_rename(
        &self,
        mut file: File,
        temp_name: &str,
        name: &str,
        content: &[u8],
        context: Option<&str>,
    ) -> Result<()> {
        let temp_path = self.path.join(temp_name);
        fchmod(file.as_fd(), Mode::S_IRUSR | Mode::S_IWUSR)
            .with_context(|| format!("setting mode 0600 on {}", temp_path.display()))?;
        if let Some(expected) = context {
            // A new file usually inherits the directory's context already; relabelling it then
            // would only ask the policy for relabel permissions the plugin's domain may lack.
            let inherited = selinux::get(file.as_fd()).ok().flatten();
            let set = match inherited.as_deref() == Some(expected) {
                true => Ok(()),
                false => selinux::set(file.as_fd(), expected),
            };
            let actual = selinux::get(file.as_fd()).with_context(|| {
                format!(
                    "reading the SELinux context of {} just set",
                    temp_path.display()
                )
            })?;
            if actual.as_deref() != Some(expected) {
                let reason = set.err().map(|e| format!(" ({e})")).unwrap_or_default();
                bail!(
                    "the SELinux context of {} is {}, not {expected} as CRI-O needs it{reason}",
                    temp_path.display(),
                    actual.as_deref().unwrap_or("unset")
                );
            }
        }
        file.write_all(content)
            .with_context(|| format!("writing {}", temp_path.display()))?;
        fsync(file.as_fd()).with_context(|| format!("syncing {}", temp_path.display()))?;
        let stat =
            fstat(file.as_fd()).with_context(|| format!("checking {}", temp_path.display()))?;
        check_private_file(&stat).with_context(|| format!("checking {}", temp_path.display()))?;
        renameat(&self.fd, temp_name, &self.fd, name)
            .with_context(|| format!("renaming {} to {name}", temp_path.display()))?;
        fsync(&self.fd).with_context(|| format!("syncing {}", self.path.display()))?;
        Ok(())
    }

    /// Removes the pending auth file `name`, if there is one; returns whether there was.
    pub fn remove(&self, name: &str) -> Result<bool> {
        match unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
            Ok(()) => Ok(true),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => {
                Err(e).with_context(|| format!("removing {}", self.path.join(name).display()))
            }
        }
    }

    /// The SELinux context auth files must get: `configured`, else the directory's own. `None` when
    /// SELinux is disabled.
    pub fn expected_context(
        &self,
        selinuxfs: &Path,
        configured: Option<&str>,
    ) -> Result<Option<String>> {
        if !selinux::enabled(selinuxfs) {
            tracing::debug!(
                "SELinux is disabled ({} is not mounted), not labelling auth files",
                selinuxfs.display()
            );
            return Ok(None);
        }
        if let Some(context) = configured {
            return Ok(Some(context.to_string()));
        }
        let own = selinux::get(self.fd.as_fd())
            .with_context(|| format!("reading the SELinux context of {}", self.path.display()))?;
        own.map(Some).with_context(|| {
            format!(
                "auth directory {} has no SELinux context to give its files; pass --selinux-context",
                self.path.display()
            )
        })
    }

    /// Removes what nobody will consume: temp files older than two minutes (ours and the Go
    /// implementation's) and auth files older than `stale_after`. `in-use/` is CRI-O's and is never
    /// entered. Returns how many files were removed.
    pub fn clean(&self, stale_after: Duration) -> Result<usize> {
        let now = SystemTime::now();
        let mut dir = Dir::openat(
            &self.fd,
            ".",
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .with_context(|| format!("listing {}", self.path.display()))?;
        let mut removed = 0;
        for entry in dir.iter() {
            let entry = entry.with_context(|| format!("listing {}", self.path.display()))?;
            let Ok(name) = entry.file_name().to_str() else {
                continue;
            };
            let max_age = if is_temp_file(name) {
                TEMP_MAX_AGE
            } else if is_auth_file(name) {
                stale_after
            } else {
                continue;
            };
            let stat = match fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
                Ok(stat) => stat,
                Err(Errno::ENOENT) => continue, // consumed or cleaned by someone else meanwhile
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("checking {}", self.path.join(name).display()));
                }
            };
            if SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
                continue;
            }
            let modified =
                SystemTime::UNIX_EPOCH + Duration::from_secs(stat.st_mtime.max(0) as u64);
            if now.duration_since(modified).unwrap_or_default() < max_age {
                continue;
            }
            match unlinkat(&self.fd, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) => removed += 1,
                Err(Errno::ENOENT) => {}
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("removing {}", self.path.join(name).display()));
                }
            }
        }
        Ok(removed)
    }
}

fn open_dir(path: &Path) -> nix::Result<OwnedFd> {
    nix::fcntl::open(
        path,
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
}

fn check_private_file(stat: &FileStat) -> Result<()> {
    let kind = SFlag::from_bits_truncate(stat.st_mode & SFlag::S_IFMT.bits());
    ensure!(kind == SFlag::S_IFREG, "not a regular file");
    let owner = nix::unistd::geteuid().as_raw();
    ensure!(
        stat.st_uid == owner,
        "owned by uid {}, not {owner}",
        stat.st_uid
    );
    ensure!(
        stat.st_mode & 0o777 == 0o600,
        "mode {:o}, not 600",
        stat.st_mode & 0o7777
    );
    Ok(())
}

fn is_temp_file(name: &str) -> bool {
    (name.starts_with(TEMP_PREFIX) || name.starts_with(GO_TEMP_PREFIX))
        && name.ends_with(TEMP_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temp_files_are_ours_and_the_go_implementations() {
        assert!(is_temp_file(".auth-123.tmp"));
        assert!(is_temp_file(".crio-credential-provider-1-2.tmp"));
        assert!(!is_temp_file(".crio-credential-provider-1-2.json"));
        assert!(!is_temp_file("auth-1.tmp"));
        assert!(!is_temp_file("in-use"));
    }
}
