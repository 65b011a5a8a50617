//! Starting processes inside namespaces: the per-test child (new user, network, PID,
//! mount, UTS and IPC namespaces) and commands that run inside a node.
//!
//! Only async-signal-safe work happens between fork and exec: every byte and path the
//! `pre_exec` closures use is prepared before the fork.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

/// Which step of entering the namespaces failed, reported through the verdict pipe so
/// that the parent can name the cause (see `crate::userns`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stage {
    /// `unshare(CLONE_NEWUSER)`.
    UnshareUser = 1,
    /// Writing `/proc/self/setgroups`, `uid_map` or `gid_map`.
    IdMap = 2,
    /// `unshare` of the network, mount, PID, UTS and IPC namespaces.
    UnshareOthers = 3,
    /// Making `/` a private mount.
    MountPrivate = 4,
    /// Forking the namespace's PID 1.
    Fork = 5,
}

impl Stage {
    pub(crate) fn from_byte(b: u8) -> Option<Stage> {
        Some(match b {
            1 => Stage::UnshareUser,
            2 => Stage::IdMap,
            3 => Stage::UnshareOthers,
            4 => Stage::MountPrivate,
            5 => Stage::Fork,
            _ => return None,
        })
    }
}

/// The descriptor numbers the test child finds its pipes on.
pub(crate) const VERDICT_FD: RawFd = 3;
/// The child's real stdout (its fd 1 is /dev/null until the body starts).
pub(crate) const STDOUT_FD: RawFd = 4;
/// The child's real stderr.
pub(crate) const STDERR_FD: RawFd = 5;
/// The read end of the lifeline: the runner holds the only write end, so end-of-file
/// here means the runner is gone (see [`watch_lifeline`]).
pub(crate) const LIFELINE_FD: RawFd = 6;

/// Pipes the child will find on [`VERDICT_FD`], [`STDOUT_FD`] and [`STDERR_FD`].
pub(crate) struct ChildFds<'a> {
    pub(crate) verdict: BorrowedFd<'a>,
    pub(crate) stdout: BorrowedFd<'a>,
    pub(crate) stderr: BorrowedFd<'a>,
    /// The read end of a pipe whose write end only the caller holds, until the child
    /// has ended.
    pub(crate) lifeline: BorrowedFd<'a>,
}

/// Sets up `cmd` so that the process it starts runs as PID 1 of new user (caller's uid
/// and gid mapped to 0), network, mount (with `/` private), PID, UTS and IPC
/// namespaces, dies with the calling thread, and finds `fds` on 3, 4 and 5.
///
/// Between the fork and the exec an intermediate process stays outside the new PID
/// namespace and waits for the namespace's PID 1, exiting the way it did; `Child::wait`
/// on the returned child therefore reports the test child's own end.
pub(crate) fn isolate(cmd: &mut Command, fds: ChildFds<'_>) {
    let maps = IdMaps::of_caller();
    let (verdict, out, err, life) = (
        fds.verdict.as_raw_fd(),
        fds.stdout.as_raw_fd(),
        fds.stderr.as_raw_fd(),
        fds.lifeline.as_raw_fd(),
    );
    let runner = nix::unistd::getpid().as_raw();

    let hook = move || -> io::Result<()> {
        // Die with the runner from the first instruction on; if it is already gone,
        // stop here (PR_SET_PDEATHSIG only covers deaths after the call).
        die_with_parent(runner);
        // SAFETY: between fork and exec in the single-threaded child.
        if let Err((stage, errno)) = unsafe { enter_and_split(&maps) } {
            let b = [stage as u8];
            // SAFETY: write(2) from a buffer on our stack to a descriptor we inherited.
            unsafe { libc::write(verdict, b.as_ptr().cast(), 1) };
            return Err(io::Error::from_raw_os_error(errno));
        }
        place_child_fds([verdict, out, err, life])
    };
    // SAFETY: the hook only performs async-signal-safe calls (see above) and allocates
    // nothing.
    unsafe { cmd.pre_exec(hook) };
}

/// Sets up `cmd` (the fork server) to die with the calling thread and to find `fd` on
/// descriptor `target`.
pub(crate) fn serve_on(cmd: &mut Command, fd: BorrowedFd<'_>, target: RawFd) {
    let fd = fd.as_raw_fd();
    let runner = nix::unistd::getpid().as_raw();
    let hook = move || -> io::Result<()> {
        die_with_parent(runner);
        // SAFETY: dup2/fcntl on descriptors of this forked child; dup2 onto itself
        // keeps close-on-exec, so it is cleared explicitly.
        unsafe {
            if fd == target {
                libc::fcntl(fd, libc::F_SETFD, 0);
            } else if libc::dup2(fd, target) < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    };
    // SAFETY: the hook only performs async-signal-safe calls and allocates nothing.
    unsafe { cmd.pre_exec(hook) };
}

/// Moves `fds` (verdict, stdout, stderr, lifeline) onto [`VERDICT_FD`] ...
/// [`LIFELINE_FD`], not close-on-exec. Async-signal-safe.
pub(crate) fn place_child_fds(fds: [RawFd; 4]) -> io::Result<()> {
    // Park the four descriptors on high numbers first so that moving them to 3 to 6
    // cannot overwrite one another.
    let mut parked = [0; 4];
    for (slot, from) in parked.iter_mut().zip(fds) {
        // SAFETY: fcntl on a descriptor the caller owns.
        *slot = unsafe { libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 100) };
        if *slot < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    for (high, to) in parked
        .into_iter()
        .zip([VERDICT_FD, STDOUT_FD, STDERR_FD, LIFELINE_FD])
    {
        // SAFETY: dup2 onto a fixed descriptor number; the new descriptor is not
        // close-on-exec, so the test child inherits it.
        if unsafe { libc::dup2(high, to) } < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: closing the parked copy, which only this function knows.
        unsafe { libc::close(high) };
    }
    Ok(())
}

/// The id maps of a new user namespace (the caller's uid and gid mapped to 0),
/// prepared before a fork so that the child only writes bytes.
pub(crate) struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

impl IdMaps {
    /// Maps for the calling process's effective uid and gid.
    pub(crate) fn of_caller() -> IdMaps {
        let uid = nix::unistd::geteuid().as_raw();
        let gid = nix::unistd::getegid().as_raw();
        IdMaps {
            uid_map: format!("0 {uid} 1\n").into_bytes(),
            gid_map: format!("0 {gid} 1\n").into_bytes(),
        }
    }
}

/// Asks for SIGKILL when the parent thread ends and, if the parent (`parent` is its
/// pid) is already gone, ends the process now: `PR_SET_PDEATHSIG` only covers deaths
/// after the call. Async-signal-safe.
pub(crate) fn die_with_parent(parent: libc::pid_t) {
    // SAFETY: prctl with integer arguments; getppid and _exit take none we own.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        if libc::getppid() != parent {
            libc::_exit(137);
        }
    }
}

/// The namespaces besides the user namespace that a test's child gets.
pub(crate) const OTHER_NAMESPACES: libc::c_int = libc::CLONE_NEWNET
    | libc::CLONE_NEWNS
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC;

fn errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Moves the calling process into new user (with `maps`), network, mount (with `/`
/// made private), PID, UTS and IPC namespaces; the PID namespace applies to children
/// forked afterwards. On failure, the step and its errno.
///
/// # Safety
/// The process must be single-threaded. Only async-signal-safe calls are made and
/// nothing is allocated, so it may run between fork and exec.
pub(crate) unsafe fn enter_new_namespaces(maps: &IdMaps) -> Result<(), (Stage, i32)> {
    // SAFETY: unshare takes flags only.
    if unsafe { libc::unshare(libc::CLONE_NEWUSER) } != 0 {
        return Err((Stage::UnshareUser, errno()));
    }
    write_id_maps(maps)?;
    // SAFETY: unshare takes flags only.
    if unsafe { libc::unshare(OTHER_NAMESPACES) } != 0 {
        return Err((Stage::UnshareOthers, errno()));
    }
    make_root_private()
}

/// Writes the id maps of the user namespace the calling process has just entered (or
/// was created in). Async-signal-safe; allocates nothing.
pub(crate) fn write_id_maps(maps: &IdMaps) -> Result<(), (Stage, i32)> {
    let writes: [(&std::ffi::CStr, &[u8]); 3] = [
        (c"/proc/self/setgroups", b"deny"),
        (c"/proc/self/uid_map", &maps.uid_map),
        (c"/proc/self/gid_map", &maps.gid_map),
    ];
    for (path, data) in writes {
        // SAFETY: open/write/close with a NUL-terminated path and a buffer prepared
        // before the fork; all three are async-signal-safe.
        let ok = unsafe {
            let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 {
                false
            } else {
                let n = libc::write(fd, data.as_ptr().cast(), data.len());
                libc::close(fd);
                n == data.len() as isize
            }
        };
        if !ok {
            return Err((Stage::IdMap, errno()));
        }
    }
    Ok(())
}

/// Makes every mount of the calling process's (new) mount namespace private, so that
/// nothing mounted in the test propagates out. Async-signal-safe.
pub(crate) fn make_root_private() -> Result<(), (Stage, i32)> {
    // SAFETY: mount(2) with a NUL-terminated target and null pointers for the unused
    // arguments, as the man page allows for a propagation change.
    let rc = unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    };
    if rc != 0 {
        return Err((Stage::MountPrivate, errno()));
    }
    Ok(())
}

/// Takes the calling process into new namespaces (see [`enter_new_namespaces`]) and
/// splits it the way a test's child runs: an intermediate stays outside the new PID
/// namespace, waiting for the namespace's PID 1 and ending the way it did; PID 1 stays
/// behind as the namespace's init (see [`split_init`]); the call returns `Ok` in the
/// test child, an ordinary process (init ignores its own SIGABRT, so `abort()` would
/// spin in PID 1). On failure, the step and its errno.
///
/// # Safety
/// As [`enter_new_namespaces`]: single-threaded, async-signal-safe, allocates nothing.
pub(crate) unsafe fn enter_and_split(maps: &IdMaps) -> Result<(), (Stage, i32)> {
    // SAFETY: the caller guarantees a single thread.
    unsafe { enter_new_namespaces(maps) }?;
    // SAFETY: fork in a single-threaded process; the parent branch never returns.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err((Stage::Fork, errno()));
    }
    if pid > 0 {
        // SAFETY: the intermediate only waits and mirrors, then exits.
        unsafe { wait_and_mirror(pid) }
    }
    // PID 1 of the new PID namespace. Set after the unshare: gaining capabilities
    // clears the parent-death signal.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    // SAFETY: still single-threaded.
    unsafe { split_init(false) }.map_err(|e| (Stage::Fork, e.raw_os_error().unwrap_or(0)))
}

/// The wait status a process ending with `status` stands for: PID 1 of a PID namespace
/// cannot die of its own signals, so it ends with 128+N for a child killed by signal
/// N (see [`split_init`]); that is death by signal N again. Pure arithmetic, so
/// async-signal-safe.
pub(crate) fn mirrored(status: libc::c_int) -> libc::c_int {
    if libc::WIFEXITED(status) {
        let code = libc::WEXITSTATUS(status);
        if (129..=192).contains(&code) {
            return code - 128;
        }
    }
    status
}

/// Called in PID 1 of a fresh PID namespace: forks the process that goes on (the call
/// returns `Ok` in it) while PID 1 stays behind as the namespace's init. Init reaps
/// every orphan and, when the process that went on ends, ends the same way; a death by
/// signal N becomes exit status 128+N, since init cannot signal itself (the waiting
/// parent turns it back into the signal). Init ignores SIGINT and SIGTERM, so that the
/// program decides what they mean; it dies with its parent (`PR_SET_PDEATHSIG`), and
/// when it ends the kernel kills every process of the namespace.
///
/// # Safety
/// The process must be single-threaded; in init only async-signal-safe calls are made.
pub(crate) unsafe fn split_init(keep_stdio: bool) -> io::Result<()> {
    // SAFETY: the caller guarantees a single thread.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: prctl with integer arguments.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
        return Ok(());
    }
    // SAFETY: async-signal-safe calls only; never returns.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        let first = if keep_stdio { 3u32 } else { 0 };
        libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32);
        exit_like(wait_for(pid, true).unwrap_or(0))
    }
}

/// Waits until `pid` ends and returns its wait status (`None` if it cannot be waited
/// for). With `reap_all`, as the namespace's init, it reaps every other child that ends
/// meanwhile.
///
/// # Safety
/// Async-signal-safe; for the forked processes of this module.
unsafe fn wait_for(pid: libc::pid_t, reap_all: bool) -> Option<libc::c_int> {
    loop {
        let mut status = 0;
        // SAFETY: waitpid into a local; errno read right after the call.
        let rc = unsafe { libc::waitpid(if reap_all { -1 } else { pid }, &mut status, 0) };
        if rc == pid {
            return Some(status);
        }
        // SAFETY: errno is thread-local and set by the failed waitpid.
        if rc < 0 && unsafe { *libc::__errno_location() } != libc::EINTR {
            return None;
        }
    }
}

/// Ends the process the way a wait `status` says its child ended: the same exit code,
/// or 128+N for death by signal N.
///
/// # Safety
/// Async-signal-safe; never returns.
unsafe fn exit_like(status: libc::c_int) -> ! {
    let code = if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    };
    // SAFETY: _exit never returns.
    unsafe { libc::_exit(code) }
}

/// The intermediate process: waits for the namespace's PID 1 and ends the same way
/// (an exit status of 128+N from init, which stands for death by signal N, is turned
/// back into that signal).
///
/// # Safety
/// Must only be called in a freshly forked child, which it never returns from.
pub(crate) unsafe fn wait_and_mirror(pid: libc::pid_t) -> ! {
    // SAFETY: all calls below are async-signal-safe; the process exits at the end.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0);
        // Hold no pipe open: the parent waits for end-of-file on them.
        libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
        let Some(status) = wait_for(pid, false) else {
            libc::_exit(127)
        };
        let status = mirrored(status);
        if !libc::WIFSIGNALED(status) {
            libc::_exit(libc::WEXITSTATUS(status))
        }
        let sig = libc::WTERMSIG(status);
        libc::signal(sig, libc::SIG_DFL);
        libc::kill(libc::getpid(), sig);
        libc::_exit(128 + sig)
    }
}

/// Ends this process as soon as the lifeline `fd` reaches end-of-file, that is when
/// every holder of its write end (the runner) is gone. This closes the gap that
/// `PR_SET_PDEATHSIG` leaves: a runner killed between the fork and the moment a process
/// asked for the signal, or a parent outside our PID namespace we cannot check.
///
/// The kernel does the watching: the pipe is set to signal its owner, this process,
/// with `SIGKILL` (`F_SETSIG`) when it becomes readable (`O_ASYNC`), which it does
/// only when the last writer closes. No thread is needed, so none has to start before
/// the test or be killed at its end. Where that cannot be set up, a thread waits on
/// the pipe instead.
pub(crate) fn watch_lifeline(fd: std::os::fd::OwnedFd) {
    use std::os::fd::AsRawFd;
    if kill_on_end_of_file(fd.as_raw_fd()).is_ok() {
        // The write end may have closed before the signal was armed.
        if at_end_of_file(&fd) {
            super::exit_now(137);
        }
        // Kept open for the life of the process: closing it would disarm the signal.
        std::mem::forget(fd);
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("netns-test-lifeline".into())
        .spawn(move || {
            let mut fds = [nix::poll::PollFd::new(
                std::os::fd::AsFd::as_fd(&fd),
                nix::poll::PollFlags::POLLIN,
            )];
            loop {
                match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                    Err(nix::errno::Errno::EINTR) => continue,
                    // Readable (end-of-file: nobody ever writes) or hung up.
                    _ => super::exit_now(137),
                }
            }
        });
    if spawned.is_err() {
        // Without a watcher we cannot keep the promise; do not run at all.
        super::exit_now(137);
    }
}

/// Asks the kernel to send `SIGKILL` to this process when `fd` (a pipe's read end)
/// becomes readable.
fn kill_on_end_of_file(fd: RawFd) -> io::Result<()> {
    /// `F_SETSIG` from `<asm-generic/fcntl.h>`, which the libc crate does not export.
    const F_SETSIG: libc::c_int = 10;
    // SAFETY: fcntl with integer arguments on a descriptor we own.
    unsafe {
        if libc::fcntl(fd, libc::F_SETOWN, libc::getpid()) != 0
            || libc::fcntl(fd, F_SETSIG, libc::SIGKILL) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags | libc::O_ASYNC) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Whether the pipe `fd` is at end-of-file now (or broken), without waiting.
fn at_end_of_file(fd: &std::os::fd::OwnedFd) -> bool {
    let mut fds = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(fd),
        nix::poll::PollFlags::POLLIN,
    )];
    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::ZERO) {
        Ok(0) => false,
        Ok(_) => true,
        Err(_) => false,
    }
}

/// Sets up `cmd` so that the program starts inside the network namespace `netns` (and
/// a private mount namespace with that namespace's `/sys`).
pub(crate) fn enter_node(cmd: &mut Command, netns: BorrowedFd<'_>) {
    let fd = netns.as_raw_fd();
    let root = CString::from(c"/");
    let sys = CString::from(c"/sys");
    let sysfs = CString::from(c"sysfs");
    let hook = move || -> io::Result<()> {
        // SAFETY: setns/unshare/mount with flags, a descriptor the Node keeps open, and
        // NUL-terminated strings prepared before the fork.
        unsafe {
            if libc::setns(fd, libc::CLONE_NEWNET) != 0 {
                return Err(io::Error::last_os_error());
            }
            // Best effort: a /sys that shows this node's interfaces.
            if libc::unshare(libc::CLONE_NEWNS) == 0
                && libc::mount(
                    std::ptr::null(),
                    root.as_ptr(),
                    std::ptr::null(),
                    libc::MS_REC | libc::MS_PRIVATE,
                    std::ptr::null(),
                ) == 0
            {
                libc::mount(
                    sysfs.as_ptr(),
                    sys.as_ptr(),
                    sysfs.as_ptr(),
                    0,
                    std::ptr::null(),
                );
            }
        }
        Ok(())
    };
    // SAFETY: the hook only performs async-signal-safe calls and allocates nothing.
    unsafe { cmd.pre_exec(hook) };
}

/// Moves the calling process into new user (caller's uid and gid mapped to 0), network,
/// mount, PID, UTS and IPC namespaces, as the per-test child is. The process forks:
/// the child, PID 1 of the new PID namespace, returns `Ok(())`; the parent waits for it
/// and exits the way it did, never returning.
///
/// Must be called while the process has a single thread.
pub(crate) fn isolate_self() -> Result<(), (Option<Stage>, io::Error)> {
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let step = |stage: Stage, r: io::Result<()>| r.map_err(|e| (Some(stage), e));
    step(Stage::UnshareUser, super::unshare(libc::CLONE_NEWUSER))?;
    step(Stage::IdMap, std::fs::write("/proc/self/setgroups", "deny"))?;
    step(
        Stage::IdMap,
        std::fs::write("/proc/self/uid_map", format!("0 {uid} 1\n")),
    )?;
    step(
        Stage::IdMap,
        std::fs::write("/proc/self/gid_map", format!("0 {gid} 1\n")),
    )?;
    step(
        Stage::UnshareOthers,
        super::unshare(
            libc::CLONE_NEWNET
                | libc::CLONE_NEWNS
                | libc::CLONE_NEWPID
                | libc::CLONE_NEWUTS
                | libc::CLONE_NEWIPC,
        ),
    )?;
    step(
        Stage::MountPrivate,
        nix::mount::mount(
            None::<&str>,
            "/",
            None::<&str>,
            nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(io::Error::from),
    )?;
    use std::io::Write;
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    let (life_r, life_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| (Some(Stage::Fork), io::Error::from(e)))?;
    // SAFETY: the caller guarantees the process is single-threaded, so the child may
    // continue running arbitrary code.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err((Some(Stage::Fork), io::Error::last_os_error()));
    }
    if pid > 0 {
        // The waiting parent keeps the write end of the lifeline until it exits.
        drop(life_r);
        // SAFETY: the parent never returns and only waits and exits.
        unsafe { wait_and_mirror_keeping_stdio(pid) }
    }
    drop(life_w);
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    // SAFETY: still single-threaded; the program goes on in init's child.
    unsafe { split_init(true) }.map_err(|e| (Some(Stage::Fork), e))?;
    watch_lifeline(life_r);
    Ok(())
}

/// Like `wait_and_mirror`, for a process whose terminal the child shares: it keeps its
/// descriptors, and forwards SIGINT and SIGTERM to the child by ignoring them itself
/// (the terminal delivers them to the whole foreground group).
///
/// # Safety
/// Must only be called in the parent right after the fork; it never returns.
unsafe fn wait_and_mirror_keeping_stdio(pid: libc::pid_t) -> ! {
    // SAFETY: signal/waitpid/kill/_exit on our own process and child.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        match wait_for(pid, false) {
            Some(status) => exit_like(status),
            None => libc::_exit(127),
        }
    }
}
