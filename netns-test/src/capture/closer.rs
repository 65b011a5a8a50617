//! Closing capture sockets off the test's path.
//!
//! Closing an `AF_PACKET` socket waits for an RCU grace period (`synchronize_net()` in
//! the kernel's `packet_release`): about 13 ms each on the 2-core machine we measure
//! on, so three nodes' sockets closed in line added some 40 ms to every test, and a
//! hundred-node test over a second. [`close_later`] closes them on other threads
//! instead: a pool kept for the process's life ([`Pool`]), or, where there is none
//! (the CLI), detached threads sharing the caller's descriptor table. Each test's
//! runner thread has a private table (see `ns::private_fd_table`), and so does each
//! pool thread, so no other test's fork can inherit these sockets and end up paying
//! for their release.
//!
//! One thread closing them one after another would still take a grace period each:
//! 13 s for a thousand nodes, all that time holding their network namespaces and
//! keeping the test binary from exiting (what is left at exit the kernel closes the same
//! way, one by one); and about 50 ms for a three-node test, which under nextest, one
//! test a process, made every test's process that much longer. Waiters that overlap
//! share grace periods, so each descriptor gets a thread (or a pool thread) of its
//! own, up to [`MAX_THREADS`] (a thousand-node test then takes about sixteen grace
//! periods), and the process waits for them when it exits (an `atexit` hook), rather
//! than leave the rest to the kernel.
//!
//! A process that runs one test and ends (nextest's process-per-test mode) would
//! spend that wait at its exit, about a grace period per test, which nextest counts as
//! the test's time. There the descriptors go to short-lived child processes instead
//! (`ns::release_in_child`), each keeping a share of them and nothing else, closing
//! them and ending: the test's process ends without waiting, and nobody waits for
//! those children (their standard streams are closed at once). At most
//! [`MAX_THREADS`] of them, each with at least [`REAPER_SHARE`] descriptors, so a small
//! test makes one. When the test's process has ended they are its orphans, which the
//! init of its PID namespace (or a subreaper) reaps; a process whose parent is that
//! init itself (nextest as a container's first process, which reaps only its own
//! children) keeps the threads.

use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, Once, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// The most closer threads one test starts.
const MAX_THREADS: usize = 64;

/// The fewest descriptors a releasing child process takes (one process per test
/// unless it has more than this).
const REAPER_SHARE: usize = 16;

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
/// Releasing child processes not waited for yet.
static REAPERS: Mutex<Vec<nix::unistd::Pid>> = Mutex::new(Vec::new());
/// Releasing child processes this process has started, for `NETNS_TEST_TIMING`.
static STARTED: AtomicUsize = AtomicUsize::new(0);

/// How many releasing child processes this process has started so far (none unless
/// it runs one test; see the module documentation).
pub(crate) fn releasing_processes_started() -> usize {
    STARTED.load(Ordering::Relaxed)
}

/// Closes `fds` soon: on the pool's threads once [`prepare_pool`] has made it, else
/// on new detached threads; if no thread can be started, here. In a process that runs
/// one test, in child processes instead.
///
/// When the process exits through `exit(3)`, as libtest's `main` does, it first waits
/// (up to [`EXIT_WAIT`]) for these threads: whatever they had not closed yet the
/// kernel would close one by one, a grace period each, before the process is gone.
pub(crate) fn close_later(fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    // A parent that is its namespace's init (nextest as a container's first process)
    // would inherit those children when this process ends, and may never reap them; in
    // a process that isolated itself they would be in its PID namespace, whose end
    // waits for them.
    if crate::forkserver::one_test_per_process()
        && !crate::standalone::is_isolated()
        && nix::unistd::getppid().as_raw() != 1
    {
        // What no child could be forked for goes to the threads.
        if let Err(rest) = release_in_children(fds) {
            close_on_threads(rest);
        }
        return;
    }
    match POOL.get() {
        Some(Some(pool)) => pool.close(fds),
        _ => close_on_threads(fds),
    }
}

/// Closes `fds` on new detached threads, which the exit hook waits for.
fn close_on_threads(mut fds: Vec<OwnedFd>) {
    hook_exit();
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

/// Has the process wait for its closers when it exits (see [`wait_at_exit`]).
fn hook_exit() {
    HOOK.call_once(|| {
        OWNER.store(std::process::id(), Ordering::SeqCst);
        crate::ns::at_exit(wait_at_exit);
    });
}

/// The closer threads kept for the process's life, if [`prepare_pool`] made them a
/// socket.
static POOL: OnceLock<Option<Pool>> = OnceLock::new();

/// A pool's threads.
static POOL_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Messages sent to the pool and not taken yet, and the pool threads waiting for one.
static QUEUE: Mutex<Queue> = Mutex::new(Queue { queued: 0, idle: 0 });
/// Signalled for each message counted in [`QUEUE`], and by [`end_pool_threads`].
static WORK: Condvar = Condvar::new();
/// Set by [`end_pool_threads`]: idle pool threads end.
static RETIRE: AtomicBool = AtomicBool::new(false);

struct Queue {
    /// Messages counted once their sender has closed its copies of the descriptors.
    queued: usize,
    /// Threads waiting for a message.
    idle: usize,
}

/// A closer thread's stack: it only receives descriptors and closes them.
const POOL_STACK: usize = 64 * 1024;

/// Threads that stay, each waiting on one socket for descriptors to close, instead of
/// a thread started and ended for each descriptor: a thread's start and end (its
/// stack, the alternate signal stack Rust's runtime maps for each, the exit) cost more
/// than the close it ran for. A test's runner thread has a descriptor table of its own,
/// so the descriptors travel as `SCM_RIGHTS` over a Unix socket pair made before any
/// such table (and kept in each, [`crate::ns::keep_in_private_tables`]); each pool
/// thread has a table of its own too, holding that socket and what it is closing.
/// Messages carry a share each, as the threads did, so that the closes overlap and
/// share grace periods; a new thread starts when none is free, up to [`MAX_THREADS`].
struct Pool {
    send: OwnedFd,
    recv: OwnedFd,
}

/// Makes the closer pool's socket, for the process's tests to come. Called by a runner
/// thread before it gives itself a private descriptor table; not in a process that
/// runs one test (its descriptors go to child processes).
pub(crate) fn prepare_pool() {
    if crate::forkserver::one_test_per_process() {
        return;
    }
    POOL.get_or_init(|| {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        use std::os::fd::AsRawFd;
        let (send, recv) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .ok()?;
        (crate::ns::keep_in_private_tables(send.as_raw_fd())
            && crate::ns::keep_in_private_tables(recv.as_raw_fd()))
        .then_some(Pool { send, recv })
    });
}

impl Pool {
    /// Sends `fds` to the pool's threads, a share a message, starting a thread for a
    /// message that no free one waits for; what cannot be sent goes to new threads of
    /// its own as before.
    fn close(&'static self, mut fds: Vec<OwnedFd>) {
        use std::os::fd::AsFd;
        hook_exit();
        let per_message = share_size(fds.len()).clamp(1, crate::ns::packet::MAX_FDS_PER_MESSAGE);
        let mut sent = Vec::new();
        while !fds.is_empty() {
            let share = fds.split_off(fds.len().saturating_sub(per_message));
            *RUNNING.lock().unwrap_or_else(PoisonError::into_inner) += 1;
            let borrowed: Vec<_> = share.iter().map(AsFd::as_fd).collect();
            let result = crate::ns::packet::send_with_fds(self.send.as_fd(), b"c", &borrowed);
            drop(borrowed);
            match result {
                Ok(()) => sent.push(share),
                Err(_) => {
                    one_done();
                    close_on_threads(share);
                }
            }
        }
        // Our copies go before any thread is told to take a message: whoever closes a
        // socket last waits for its grace period, and that must be the thread.
        let messages = sent.len();
        drop(sent);
        if messages == 0 {
            return;
        }
        let unserved = {
            let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
            q.queued += messages;
            q.queued.saturating_sub(q.idle)
        };
        for _ in 0..messages {
            WORK.notify_one();
        }
        for _ in 0..unserved {
            if !self.start_thread() {
                break;
            }
        }
        if POOL_THREADS.load(Ordering::Acquire) == 0 {
            self.take_here();
        }
    }

    /// Starts one more pool thread, unless there are [`MAX_THREADS`] already (then the
    /// messages wait for a thread to be free). Returns whether it started one.
    fn start_thread(&'static self) -> bool {
        let under_cap = POOL_THREADS
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_THREADS).then_some(n + 1)
            })
            .is_ok();
        if !under_cap {
            return false;
        }
        let started = std::thread::Builder::new()
            .name("netns-test-closer".into())
            .stack_size(POOL_STACK)
            .spawn(move || self.serve());
        if started.is_err() {
            POOL_THREADS.fetch_sub(1, Ordering::AcqRel);
        }
        started.is_ok()
    }

    /// Takes the next message, once there is one; `None` when the pool is to end.
    fn next(&self, byte: &mut [u8; 1]) -> Option<std::io::Result<()>> {
        {
            let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
            q.idle += 1;
            while q.queued == 0 {
                if RETIRE.load(Ordering::Acquire) {
                    q.idle -= 1;
                    return None;
                }
                q = WORK.wait(q).unwrap_or_else(PoisonError::into_inner);
            }
            q.idle -= 1;
            q.queued -= 1;
        }
        Some(self.take(byte))
    }

    /// Receives the message a caller has counted out of [`QUEUE`] and closes what it
    /// carries.
    fn take(&self, byte: &mut [u8; 1]) -> std::io::Result<()> {
        use std::os::fd::AsFd;
        loop {
            match crate::ns::packet::recv_with_fds(self.recv.as_fd(), byte) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                other => return other.map(|(_, fds)| drop(fds)),
            }
        }
    }

    /// A pool thread: takes a table of its own (started from a runner thread, it would
    /// share that test's), then closes what arrives, one message at a time. Without a
    /// table of its own (a kernel that refuses `unshare(CLONE_FILES)`) it closes one
    /// message and ends, so as not to keep that test's descriptors open.
    fn serve(&self) {
        use std::os::fd::AsRawFd;
        let own_table = crate::ns::private_fd_table_with_only(self.recv.as_raw_fd());
        let mut byte = [0u8; 1];
        while let Some(got) = self.next(&mut byte) {
            one_done();
            if got.is_err() || !own_table {
                break;
            }
        }
        POOL_THREADS.fetch_sub(1, Ordering::AcqRel);
    }

    /// With no pool thread at all (none could be started), closes the queued messages'
    /// descriptors on this thread, as [`close_on_threads`] does when it cannot start one.
    fn take_here(&self) {
        let mut byte = [0u8; 1];
        loop {
            {
                let mut q = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
                if q.queued == 0 {
                    return;
                }
                q.queued -= 1;
            }
            let _ = self.take(&mut byte);
            one_done();
        }
    }
}

/// Waits up to `limit` until every descriptor handed to [`close_later`] so far is
/// closed; returns whether they all are.
pub(crate) fn wait_until_closed(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    while *running > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        running = DONE
            .wait_timeout(running, left)
            .unwrap_or_else(PoisonError::into_inner)
            .0;
    }
    true
}

/// Once every descriptor handed over is closed (up to `limit`), ends the pool's
/// threads, so that the process is down to its own threads again; the pool starts new
/// ones when it is next used. For a caller that sends nothing meanwhile (the
/// benchmark, before it runs tests as one test a process, which needs the process to
/// have no other thread). Returns whether they all ended.
pub(crate) fn end_pool_threads(limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    if !wait_until_closed(limit) {
        return false;
    }
    {
        let _queue = QUEUE.lock().unwrap_or_else(PoisonError::into_inner);
        RETIRE.store(true, Ordering::Release);
        WORK.notify_all();
    }
    while POOL_THREADS.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let ended = POOL_THREADS.load(Ordering::Acquire) == 0;
    if ended {
        RETIRE.store(false, Ordering::Release);
    }
    ended
}

/// Hands `fds` to releasing child processes (see the module documentation); the ones
/// no child could be forked for are given back.
fn release_in_children(mut fds: Vec<OwnedFd>) -> Result<(), Vec<OwnedFd>> {
    use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
    let mut reapers = REAPERS.lock().unwrap_or_else(PoisonError::into_inner);
    // Wait for those an earlier test of this process made, if they are done.
    reapers.retain(|&pid| {
        !matches!(
            waitpid(pid, Some(WaitPidFlag::WNOHANG)),
            Ok(WaitStatus::Exited(..) | WaitStatus::Signaled(..)) | Err(_)
        )
    });
    let per_child = share_size(fds.len()).max(REAPER_SHARE);
    while !fds.is_empty() {
        let share = fds.split_off(fds.len().saturating_sub(per_child));
        match crate::ns::release_in_child(share) {
            Ok(pid) => {
                reapers.push(nix::unistd::Pid::from_raw(pid));
                STARTED.fetch_add(1, Ordering::Relaxed);
            }
            Err(mut back) => {
                fds.append(&mut back);
                return Err(fds);
            }
        }
    }
    Ok(())
}

fn one_done() {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    *running = running.saturating_sub(1);
    DONE.notify_all();
}

/// The exit hook: waits until every closer thread of this process is done.
extern "C" fn wait_at_exit() {
    if std::process::id() == OWNER.load(Ordering::SeqCst) {
        wait_until_closed(EXIT_WAIT);
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

    /// `n` pipes: their read ends, which do not block, and their write ends.
    fn pipes(n: usize) -> (Vec<OwnedFd>, Vec<OwnedFd>) {
        let (reads, writes): (Vec<OwnedFd>, Vec<OwnedFd>) = (0..n)
            .map(|_| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap())
            .unzip();
        for r in &reads {
            nix::fcntl::fcntl(
                r,
                nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
            )
            .unwrap();
        }
        (reads, writes)
    }

    /// Every pipe reads as ended: a write end still open anywhere would make the read
    /// fail with EAGAIN instead.
    fn assert_all_ended(reads: &[OwnedFd]) {
        let mut buf = [0u8; 1];
        for (i, r) in reads.iter().enumerate() {
            assert_eq!(nix::unistd::read(r, &mut buf), Ok(0), "pipe {i} still open");
        }
    }

    /// Every descriptor handed over is closed, more than [`MAX_THREADS`] of them too,
    /// and the exit hook returns only once they all are: each write end's pipe then
    /// reads as ended at once.
    #[test]
    fn every_descriptor_is_closed_before_the_exit_hook_returns() {
        let (reads, writes) = pipes(MAX_THREADS * 2 + 3);
        close_on_threads(writes);
        wait_at_exit();
        assert_all_ended(&reads);
    }

    /// Child processes take [`REAPER_SHARE`] descriptors each, close every one of
    /// them, and end well; this process keeps none.
    #[test]
    fn child_processes_release_every_descriptor_handed_over() {
        let n = REAPER_SHARE * 2 + 3;
        let (reads, writes) = pipes(n);
        assert!(release_in_children(writes).is_ok());
        let children = std::mem::take(&mut *REAPERS.lock().unwrap());
        assert_eq!(children.len(), n.div_ceil(REAPER_SHARE));
        for pid in children {
            // Ended but not reaped, it still shows the name it took once it held only
            // its share (what the teardown tests tell a releasing process by).
            use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
            let ended = waitid(Id::Pid(pid), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT);
            assert_eq!(ended, Ok(WaitStatus::Exited(pid, 0)));
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
            assert_eq!(comm.trim_end(), crate::ns::RELEASING.to_str().unwrap());
            assert_eq!(waitpid(pid, None), Ok(WaitStatus::Exited(pid, 0)));
        }
        assert_all_ended(&reads);
    }

    /// The pool closes every descriptor it is sent, a small test's and a big one's,
    /// before the exit hook returns; its threads stay and serve the next test, there
    /// are never more than [`MAX_THREADS`], and once ended they come back when needed.
    /// Under nextest's process-per-test mode there is no pool (the descriptors go to
    /// child processes).
    #[test]
    fn the_pool_closes_every_descriptor_and_its_threads_stay() {
        prepare_pool();
        if crate::forkserver::one_test_per_process() {
            assert!(
                POOL.get().is_none(),
                "a pool in a process that runs one test"
            );
            return;
        }
        assert!(matches!(POOL.get(), Some(Some(_))), "no pool");
        for n in [3, MAX_THREADS * 3 + 1] {
            let (reads, writes) = pipes(n);
            close_later(writes);
            wait_at_exit();
            assert_all_ended(&reads);
        }
        let threads = POOL_THREADS.load(Ordering::Acquire);
        assert!((1..=MAX_THREADS).contains(&threads), "{threads} threads");
        // Free again, the same threads take the next test's.
        let free = std::time::Instant::now() + Duration::from_secs(10);
        while QUEUE.lock().unwrap().idle < 3 && std::time::Instant::now() < free {
            std::thread::sleep(Duration::from_millis(1));
        }
        let (reads, writes) = pipes(3);
        close_later(writes);
        wait_at_exit();
        assert_all_ended(&reads);
        assert_eq!(
            POOL_THREADS.load(Ordering::Acquire),
            threads,
            "threads were added"
        );
        // Ended (for a run as one test a process), and back when next needed.
        assert!(
            end_pool_threads(Duration::from_secs(10)),
            "pool threads left"
        );
        assert_eq!(POOL_THREADS.load(Ordering::Acquire), 0);
        let (reads, writes) = pipes(3);
        close_later(writes);
        assert!(wait_until_closed(Duration::from_secs(10)));
        assert_all_ended(&reads);
        assert!(POOL_THREADS.load(Ordering::Acquire) >= 1);
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
