//! SELinux contexts of auth files. CRI-O reads the file in its own domain and does no relabelling,
//! so the file must carry the context CRI-O expects (`container_config_t` on RHCOS) from the start.

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

const XATTR: &CStr = c"security.selinux";

/// Whether SELinux is enabled: its filesystem is mounted at `selinuxfs` (`/sys/fs/selinux`).
pub fn enabled(selinuxfs: &Path) -> bool {
    selinuxfs.join("enforce").exists()
}

/// The context of an open file; `None` when it has none.
pub fn get(fd: BorrowedFd<'_>) -> io::Result<Option<String>> {
    let mut buffer = [0u8; 1024];
    // SAFETY: the buffer is valid for writes of its length; the name is NUL-terminated.
    let len = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            XATTR.as_ptr(),
            buffer.as_mut_ptr().cast(),
            buffer.len(),
        )
    };
    if len < 0 {
        let error = io::Error::last_os_error();
        return match error.raw_os_error() {
            Some(libc::ENODATA) => Ok(None),
            _ => Err(error),
        };
    }
    let value = &buffer[..len as usize];
    let value = value.strip_suffix(&[0]).unwrap_or(value);
    Ok(Some(String::from_utf8_lossy(value).into_owned()))
}

/// Sets the context of an open file.
pub fn set(fd: BorrowedFd<'_>, context: &str) -> io::Result<()> {
    let mut value = Vec::with_capacity(context.len() + 1);
    value.extend_from_slice(context.as_bytes());
    value.push(0);
    // SAFETY: the value is valid for reads of its length; the name is NUL-terminated.
    let result = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            XATTR.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if result < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}
