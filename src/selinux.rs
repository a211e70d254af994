//! SELinux contexts of auth files. CRI-O reads the file in its own domain and does no relabelling,
//! so the file must carry the context CRI-O expects (`container_config_t` on RHCOS) from the start.

use std::ffi::CStr;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;

const XATTR: &CStr = c"security.selinux";

/// Whether SELinux is enabled: its filesystem is mounted at `selinuxfs` (`/sys/fs/selinux`).
pub fn enabled(selinuxfs: &Path) -> bool {
    selinuxfs.join("enforce").exists()
}

/// The context of an open file; `None` when it has none.
pub fn get(fd: BorrowedFd<'_>) -> io::Result<Option<String>> {
    let mut buffer = [0u8; 1024];
    let len = match rustix::fs::fgetxattr(fd, XATTR, &mut buffer[..]) {
        Ok(len) => len,
        Err(rustix::io::Errno::NODATA) => return Ok(None),
        Err(errno) => return Err(errno.into()),
    };
    let value = &buffer[..len];
    let value = value.strip_suffix(&[0]).unwrap_or(value);
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

/// Sets the context of an open file.
pub fn set(fd: BorrowedFd<'_>, context: &str) -> io::Result<()> {
    let mut value = Vec::with_capacity(context.len() + 1);
    value.extend_from_slice(context.as_bytes());
    value.push(0);
    rustix::fs::fsetxattr(fd, XATTR, &value, rustix::fs::XattrFlags::empty())?;
    Ok(())
}
