//! A node's own view of names: its `/etc/hosts` (a bind mount, in a mount namespace of
//! the thread or process that runs "in" the node) and its host name (a UTS namespace).
//! Nothing outside the test's own namespaces is touched.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// What a node's programs see: the file to bind on `/etc/hosts` and the host name.
#[derive(Debug, Clone)]
pub(crate) struct NodeEnv {
    /// The node's hosts file (in the test's private staging tmpfs).
    pub(crate) hosts: CString,
    /// The node's host name.
    pub(crate) hostname: CString,
}

const ETC_HOSTS: &std::ffi::CStr = c"/etc/hosts";

/// `sethostname(2)` in the calling thread's UTS namespace:
/// <https://man7.org/linux/man-pages/man2/sethostname.2.html>
pub(crate) fn set_hostname(name: &CString) -> io::Result<()> {
    let bytes = name.as_bytes();
    // SAFETY: the pointer and length describe the CString's bytes, alive for the call.
    let rc = unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Gives the calling thread the node's view: its own mount and UTS namespaces, the
/// node's hosts file on `/etc/hosts` and its host name. (A thread may unshare these:
/// the kernel copies its filesystem information for it.)
pub(crate) fn enter_thread(env: &NodeEnv) -> io::Result<()> {
    super::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS)?;
    nix::mount::mount(
        Some(env.hosts.as_c_str()),
        ETC_HOSTS,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(io::Error::from)?;
    set_hostname(&env.hostname)
}

/// Like [`super::spawn::enter_node`], and also gives the program the node's
/// `/etc/hosts` and host name (new mount and UTS namespaces).
pub(crate) fn enter_node_env(cmd: &mut Command, netns: BorrowedFd<'_>, env: &NodeEnv) {
    let fd = netns.as_raw_fd();
    let root = CString::from(c"/");
    let sys = CString::from(c"/sys");
    let sysfs = CString::from(c"sysfs");
    let env = env.clone();
    let hook = move || -> io::Result<()> {
        // SAFETY: setns/unshare/mount/sethostname with flags, a descriptor the Node
        // keeps open, and NUL-terminated strings prepared before the fork; all are
        // async-signal-safe system calls.
        unsafe {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::unshare(libc::CLONE_NEWNS | libc::CLONE_NEWUTS) != 0 {
                return Err(io::Error::last_os_error());
            }
            if libc::mount(
                std::ptr::null(),
                root.as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            // Best effort, as for every command: a /sys that shows the node.
            libc::mount(
                sysfs.as_ptr(),
                sys.as_ptr(),
                sysfs.as_ptr(),
                0,
                std::ptr::null(),
            );
            if libc::mount(
                env.hosts.as_ptr(),
                ETC_HOSTS.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null(),
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let name = env.hostname.as_bytes();
            if libc::sethostname(name.as_ptr().cast(), name.len()) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only performs async-signal-safe calls and allocates nothing
    // (the strings were made before the fork and are moved in).
    unsafe { cmd.pre_exec(hook) };
}
