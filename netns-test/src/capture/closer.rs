//! Closing capture sockets off the test's path.
//!
//! Closing an `AF_PACKET` socket waits for an RCU grace period (`synchronize_net()` in
//! the kernel's `packet_release`): about 13 ms each on the 2-core machine we measure
//! on, so three nodes' sockets closed in line added some 40 ms to every test, and a
//! hundred-node test over a second. [`close_later`] closes them on detached threads
//! instead, which share the caller's descriptor table (each test's runner thread has
//! a private one, see `ns::private_fd_table`, so no other test's fork can inherit these
//! sockets and end up paying for their release).
//!
//! One thread closing them one after another would still take a grace period each:
//! 13 s for a thousand nodes, all that time holding their network namespaces and
//! keeping the test binary from exiting (what is left at exit the kernel closes the same
//! way, one by one); and about 50 ms for a three-node test, which under nextest, one
//! test a process, made every test's process that much longer. Waiters that overlap
//! share grace periods, so each descriptor gets a thread of its own, up to
//! [`MAX_THREADS`] (a thousand-node test then takes about sixteen grace periods), and
//! the process waits for them when it exits (an `atexit` hook), rather than leave the
//! rest to the kernel.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Condvar, Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

/// The most closer threads one test starts.
const MAX_THREADS: usize = 64;

/// How long the process waits at exit for its closer threads.
const EXIT_WAIT: Duration = Duration::from_secs(30);

/// Closer threads still running.
static RUNNING: Mutex<usize> = Mutex::new(0);
/// Signalled when a closer thread is done.
static DONE: Condvar = Condvar::new();
/// The process whose closer threads [`wait_at_exit`] waits for (a forked child that
/// calls `exit` has none).
static OWNER: AtomicU32 = AtomicU32::new(0);
static HOOK: Once = Once::new();

/// Closes `fds` soon, on new detached threads; if no thread can be started, here.
///
/// When the process exits through `exit(3)`, as libtest's `main` does, it first waits
/// (up to [`EXIT_WAIT`]) for these threads: whatever they had not closed yet the
/// kernel would close one by one, a grace period each, before the process is gone.
pub(crate) fn close_later(mut fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    HOOK.call_once(|| {
        OWNER.store(std::process::id(), Ordering::SeqCst);
        crate::ns::at_exit(wait_at_exit);
    });
    let per_thread = share_size(fds.len());
    while !fds.is_empty() {
        let share = fds.split_off(fds.len().saturating_sub(per_thread));
        *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        let spawned = std::thread::Builder::new()
            .name("netns-test-closer".into())
            .spawn(move || {
                drop(share);
                one_done();
            });
        if spawned.is_err() {
            // The closure, and with it the descriptors, were dropped already.
            one_done();
        }
    }
}

fn one_done() {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    *running = running.saturating_sub(1);
    DONE.notify_all();
}

/// The exit hook: waits until every closer thread of this process is done.
extern "C" fn wait_at_exit() {
    if std::process::id() != OWNER.load(Ordering::SeqCst) {
        return;
    }
    let deadline = Instant::now() + EXIT_WAIT;
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    while *running > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        running = DONE
            .wait_timeout(running, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
}

/// How many of `n` descriptors each closer thread takes: one, unless that would take
/// more than [`MAX_THREADS`] threads.
fn share_size(n: usize) -> usize {
    n.div_ceil(MAX_THREADS).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every descriptor handed over is closed, more than [`MAX_THREADS`] of them too,
    /// and the exit hook returns only once they all are: each write end's pipe then
    /// reads as ended at once.
    #[test]
    fn every_descriptor_is_closed_before_the_exit_hook_returns() {
        let (reads, writes): (Vec<OwnedFd>, Vec<OwnedFd>) = (0..MAX_THREADS * 2 + 3)
            .map(|_| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap())
            .unzip();
        for r in &reads {
            nix::fcntl::fcntl(
                r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .unwrap();
        }
        close_later(writes);
        wait_at_exit();
        let mut buf = [0u8; 1];
        for (i, r) in reads.iter().enumerate() {
            // Open write ends would make this EAGAIN instead of end-of-file.
            assert_eq!(nix::unistd::read(r, &mut buf), Ok(0), "pipe {i} still open");
        }
    }

    #[test]
    fn one_descriptor_a_thread_up_to_the_cap() {
        assert_eq!(share_size(0), 1);
        assert_eq!(share_size(4), 1);
        assert_eq!(share_size(MAX_THREADS), 1);
        assert_eq!(share_size(MAX_THREADS + 1), 2);
        assert_eq!(share_size(1001), 16);
        for n in 1usize..5000 {
            let threads = n.div_ceil(share_size(n));
            assert!(threads <= MAX_THREADS, "{n}: {threads} threads");
            if n <= MAX_THREADS {
                assert_eq!(threads, n, "{n} descriptors");
            }
        }
    }
}
