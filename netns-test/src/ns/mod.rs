//! Namespaces and processes: every syscall that needs `unsafe` lives in this module.
//!
//! Architecture Invariant: no `unsafe` outside `ns`; each block carries a `// SAFETY:`
//! comment. Everything else in the crate calls the safe wrappers here.

pub(crate) mod forkserver;
pub(crate) mod node_env;
pub(crate) mod packet;
pub(crate) mod spawn;
pub(crate) mod tun;

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// `unshare(2)`: <https://man7.org/linux/man-pages/man2/unshare.2.html>
pub(crate) fn unshare(flags: libc::c_int) -> io::Result<()> {
    // SAFETY: unshare takes plain flags and touches no memory of ours.
    let rc = unsafe { libc::unshare(flags) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `setns(2)` for a network namespace, moving only the calling thread:
/// <https://man7.org/linux/man-pages/man2/setns.2.html>
pub(crate) fn setns_net(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is a valid, open descriptor for the borrow's lifetime.
    let rc = unsafe { libc::setns(fd.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Runs `make` on the calling thread inside the network namespace `netns`, then puts
/// the thread back in the namespace it was in. For making a socket or device in a node
/// (a socket keeps the namespace it was made in, whichever thread uses it later)
/// without starting a thread for it.
///
/// A thread that could not go back would go on in the wrong node, so that ends the
/// process, with a message; it does not happen short of running out of memory.
pub(crate) fn in_netns<T>(
    netns: BorrowedFd<'_>,
    make: impl FnOnce() -> io::Result<T>,
) -> io::Result<T> {
    struct Back(OwnedFd);
    impl Drop for Back {
        fn drop(&mut self) {
            if let Err(e) = setns_net(self.0.as_fd()) {
                eprintln!(
                    "netns-test: a thread could not return to its network namespace after \
                     making a socket in a node: {e}"
                );
                std::process::abort();
            }
        }
    }
    let back = Back(current_netns()?);
    setns_net(netns)?;
    let made = make();
    drop(back);
    made
}

/// How many threads this process has (`Threads:` in `/proc/self/status`).
pub(crate) fn thread_count() -> Option<usize> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))?
        .trim()
        .parse()
        .ok()
}

/// Has `f` run when the process exits through `exit(3)` (as libtest's `main` does);
/// not on `_exit` or a signal. Returns whether it was registered.
pub(crate) fn at_exit(f: extern "C" fn()) -> bool {
    // SAFETY: atexit(3) only records the function pointer, which lives as long as the
    // program.
    unsafe { libc::atexit(f) == 0 }
}

/// Opens the calling thread's current network namespace.
///
/// Through a socket's namespace (`SIOCGSKNS`) rather than `/proc/thread-self/ns/net`
/// where it is allowed (it wants `CAP_NET_ADMIN` over the namespace, which the test's
/// own user namespace gives): a thread that looked itself up in `/proc` leaves entries
/// there that its exit has to flush, and a test thread's flush raced the one its
/// process's init makes on reaping the child, which then spun for milliseconds.
pub(crate) fn current_netns() -> io::Result<OwnedFd> {
    // SAFETY: socket(2) with constant arguments; the result is checked before use.
    let sock = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock >= 0 {
        // SAFETY: `sock` was just made and is owned by nobody else.
        let sock = unsafe { OwnedFd::from_raw_fd(sock) };
        // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor (with
        // close-on-exec) or -1.
        let netns = unsafe { libc::ioctl(sock.as_raw_fd(), libc::SIOCGSKNS) };
        if netns >= 0 {
            // SAFETY: the ioctl's result is a descriptor we own.
            return Ok(unsafe { OwnedFd::from_raw_fd(netns) });
        }
    }
    Ok(File::open("/proc/thread-self/ns/net")?.into())
}

/// Creates a new network namespace for the calling thread and returns a handle to it.
/// The thread stays in the new namespace.
pub(crate) fn new_netns_here() -> io::Result<OwnedFd> {
    unshare(libc::CLONE_NEWNET)?;
    current_netns()
}

/// Returns whether `fd` is an open descriptor in this process.
pub(crate) fn fd_is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// Takes ownership of an inherited descriptor number, marking it close-on-exec so
/// programs the test starts do not inherit it.
///
/// The caller must know that `fd` is open and owned by nobody else in this process.
pub(crate) fn adopt_inherited_fd(fd: RawFd) -> io::Result<OwnedFd> {
    if !fd_is_open(fd) {
        return Err(io::Error::from_raw_os_error(libc::EBADF));
    }
    // SAFETY: the caller (the child entry point) owns this inherited descriptor: it was
    // placed there by our own spawn code and nothing else in the process refers to it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: plain fcntl on a descriptor we own.
    unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, libc::FD_CLOEXEC) };
    Ok(owned)
}

/// Makes `fd` the process's descriptor `target` (`dup2(2)`), e.g. to restore stdout.
pub(crate) fn dup_onto(fd: BorrowedFd<'_>, target: RawFd) -> io::Result<()> {
    // SAFETY: dup2 on a valid descriptor; `target` is a descriptor number the caller
    // may replace (stdout, stderr, or a number kept for the test's descriptors).
    let rc = unsafe { libc::dup2(fd.as_raw_fd(), target) };
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Points stdout and stderr at `/dev/null` (atomically, so no other thread's file
/// can take their numbers), letting go of the pipes they were.
pub(crate) fn detach_stdio() {
    if let Ok(null) = File::options().write(true).open("/dev/null") {
        let _ = dup_onto(std::os::fd::AsFd::as_fd(&null), 1);
        let _ = dup_onto(std::os::fd::AsFd::as_fd(&null), 2);
    }
}

/// Ends the process at once with `code`, running no destructors or atexit handlers
/// (`_exit(2)`): the child must not let libtest print its own verdict.
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit never returns and is always safe to call.
    unsafe { libc::_exit(code) }
}

/// The name a process of [`release_in_child`] takes once it holds only what it
/// releases.
pub(crate) const RELEASING: &std::ffi::CStr = c"netns-release";

/// Forks a process that keeps only `fds` (its copy of every other descriptor,
/// standard streams included, is closed at once, so nobody waiting for this process's
/// output waits for it), closes them one by one, and ends; this process closes its own
/// references at once, which release nothing while the child holds them. Returns the
/// new process's pid, to be waited for, or the descriptors if no process could be
/// forked.
///
/// Meant for descriptors whose release waits (a packet socket's for an RCU grace
/// period), in a process about to end, which then need not wait for it. It may have
/// other threads: the child only closes descriptors, names itself and exits.
///
/// Once it holds nothing but `fds`, the child takes the name [`RELEASING`] (what
/// `ps` and `/proc/PID/comm` show; its command line stays the test binary's), so that
/// someone looking at the machine can tell it from a process of the test, and tell
/// whether it has closed the rest yet.
pub(crate) fn release_in_child(fds: Vec<OwnedFd>) -> Result<libc::pid_t, Vec<OwnedFd>> {
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let mut keep: Vec<u32> = raw.iter().filter_map(|&f| u32::try_from(f).ok()).collect();
    keep.sort_unstable();
    // SAFETY: the child makes only async-signal-safe calls (close_range, prctl, close, _exit)
    // on memory made before the fork, so the state of other threads' locks does not
    // matter; it never returns from this block.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: close_range and close on the child's own descriptor table; prctl
        // reads a static string; _exit never returns.
        unsafe {
            close_all_but(0, &keep);
            libc::syscall(
                libc::SYS_prctl,
                libc::PR_SET_NAME,
                RELEASING.as_ptr(),
                0usize,
                0usize,
                0usize,
            );
            // One by one while the process is whole (it shows as the same program
            // until it is done), rather than left to its exit.
            for f in &raw {
                libc::close(*f);
            }
            libc::_exit(0)
        }
    }
    if pid < 0 {
        return Err(fds);
    }
    drop(fds);
    Ok(pid)
}

/// Gives the calling thread a descriptor table of its own (`unshare(CLONE_FILES)`,
/// <https://man7.org/linux/man-pages/man2/unshare.2.html>) and closes, in it, every
/// descriptor above stderr that it copied. Processes this thread forks then inherit
/// only what it opens from now on, never another test's sockets or pipes, and threads
/// it spawns share the new table. Returns whether it worked (it fails only on kernels
/// without the flag, where sharing the table is merely slower).
///
/// The descriptors given to [`keep_in_private_tables`] are kept.
pub(crate) fn private_fd_table() -> bool {
    let mut kept = [u32::MAX; KEPT_MAX];
    for (slot, k) in kept.iter_mut().zip(&KEPT) {
        if let Ok(fd) = u32::try_from(k.load(std::sync::atomic::Ordering::Relaxed)) {
            *slot = fd;
        }
    }
    kept.sort_unstable();
    let n = kept.iter().take_while(|k| **k != u32::MAX).count();
    private_table_keeping(&kept[..n])
}

/// Gives the calling thread a descriptor table of its own, as [`private_fd_table`]
/// does, keeping only `fd` above stderr. Returns whether it worked.
pub(crate) fn private_fd_table_with_only(fd: RawFd) -> bool {
    u32::try_from(fd).is_ok_and(|keep| private_table_keeping(&[keep]))
}

/// `unshare(CLONE_FILES)`, then closes every copied descriptor above stderr but those
/// in `keep` (sorted).
fn private_table_keeping(keep: &[u32]) -> bool {
    if unshare(libc::CLONE_FILES).is_err() {
        return false;
    }
    // SAFETY: on this thread's own, now private, descriptor table; the copies closed
    // are references, the originals stay open for the other threads.
    unsafe { close_all_but(3, keep) };
    true
}

/// Closes every descriptor from `from` up but those in `keep` (sorted), with
/// `close_range` over the gaps: no allocation and no lock, so a forked child may call
/// it.
///
/// # Safety
/// The descriptors closed must not be in use by anything that still needs them.
unsafe fn close_all_but(from: u32, keep: &[u32]) {
    let mut from = from;
    for &k in keep {
        if k < from {
            continue;
        }
        if k > from {
            // SAFETY: as the caller promises.
            unsafe { libc::syscall(libc::SYS_close_range, from, k - 1, 0u32) };
        }
        from = k.saturating_add(1);
    }
    // SAFETY: as the caller promises.
    unsafe { libc::syscall(libc::SYS_close_range, from, u32::MAX, 0u32) };
}

/// How many descriptors [`private_fd_table`] can keep.
const KEPT_MAX: usize = 4;

/// The descriptors [`private_fd_table`] keeps; -1 in a free slot.
static KEPT: [std::sync::atomic::AtomicI32; KEPT_MAX] =
    [const { std::sync::atomic::AtomicI32::new(-1) }; KEPT_MAX];

/// Has [`private_fd_table`] keep `fd`, a close-on-exec descriptor meant to live as
/// long as the process, in the tables it makes from now on (up to four such). Without
/// that, a test run on libtest's main thread (`--test-threads=1`) would close the only
/// table holding it. Returns whether there was room.
pub(crate) fn keep_in_private_tables(fd: RawFd) -> bool {
    use std::sync::atomic::Ordering;
    KEPT.iter().any(|k| {
        k.compare_exchange(-1, fd, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    })
}

/// Mounts a fresh procfs on `/proc` (for the PID namespace this process is PID 1 of).
pub(crate) fn remount_proc() -> io::Result<()> {
    use nix::mount::{MsFlags, mount};
    mount(
        Some("proc"),
        "/proc",
        Some("proc"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        None::<&str>,
    )
    .map_err(io::Error::from)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn current_netns_is_the_calling_threads_namespace() {
        let got = std::fs::File::from(super::current_netns().unwrap())
            .metadata()
            .unwrap();
        let want = std::fs::metadata("/proc/thread-self/ns/net").unwrap();
        assert_eq!((got.dev(), got.ino()), (want.dev(), want.ino()));
        // Close-on-exec, as the /proc way opened it.
        let fd = super::current_netns().unwrap();
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(std::os::fd::AsRawFd::as_raw_fd(&fd), libc::F_GETFD) };
        assert_eq!(flags & libc::FD_CLOEXEC, libc::FD_CLOEXEC);
    }
}
