//! The fork server's process side: forking pre-isolated children ahead of demand and
//! handing each a test (see [`crate::forkserver`] for the design and the protocol).
//!
//! The server is the test binary, started once per test process and sitting in a
//! libtest test function. It keeps a small pool of *warm* children. A warm child has
//! already done what `spawn::isolate` does for the re-executed child: it entered new
//! user, network, mount, PID, UTS and IPC namespaces and split off the namespace's
//! init, and now waits on its control socket. A request (test name, working directory,
//! environment, and the runner's four descriptors) goes to a warm child, which turns
//! into the test child right there, without an exec: it finds the test's function in
//! the registry and calls it, on a thread named like libtest's.
//!
//! Forking from the server is sound for arbitrary code in the child: the server's only
//! other thread is libtest's main thread, which is blocked waiting for the test to end
//! and holds no lock; glibc's allocator is fork-safe. The intermediate of every child
//! stays the server's child, so the server waits for it, through a pidfd, and reports
//! its wait status to the runner.
//!
//! [`start_direct`] makes one such child from a runner's thread, for a process that
//! runs a single test (nextest's process-per-test mode), on the same condition: the
//! process's only other thread is libtest's, waiting.

use std::collections::{HashMap, VecDeque};
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{
    AddressFamily, SockFlag, SockType, accept4, getsockopt, socketpair, sockopt,
};

use super::packet::{recv_with_fds, send_with_fds};
use super::spawn::{self, IdMaps, Stage};
use crate::__private::Registered;
use crate::forkserver::{self, Blueprint, Needs, Reply, Request};
use crate::plan::{Expected, Readying, choose};
use netns_test_topology::HOST;

/// The descriptor the server finds its listening socket on.
pub(crate) const LISTEN_FD: RawFd = 3;

/// Returns the listening socket on [`LISTEN_FD`] if this process was started as a
/// fork server (the variable names the test it was started through).
pub(crate) fn listener_if_server(test: &str) -> Option<OwnedFd> {
    let named = std::env::var_os(forkserver::SERVER_ENV).is_some_and(|v| v == test);
    if !named || !super::fd_is_open(LISTEN_FD) {
        return None;
    }
    // SAFETY: F_GETFD only queries; the check above shows the number is open.
    let listening = unsafe {
        let fd = BorrowedFd::borrow_raw(LISTEN_FD);
        getsockopt(&fd, sockopt::AcceptConn).unwrap_or(false)
    };
    listening.then(|| super::adopt_inherited_fd(LISTEN_FD).ok())?
}

/// A child that is (or is becoming) ready to take a test.
struct Warm {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    ctl: OwnedFd,
    /// What it was told to ready itself for (see [`Ahead::Server`]); a child is ready
    /// only after.
    readying: Option<Readying>,
    ready: bool,
    /// The child's mount namespace, once it is ready (see [`mount_namespace`]).
    mnt: Option<OwnedFd>,
}

/// A request waiting for a ready child.
struct Pending {
    /// The test asked for (the runner asks only for registered tests).
    test: Option<&'static Registered>,
    conn: OwnedFd,
    msg: Vec<u8>,
    fds: Vec<OwnedFd>,
}

/// A child running a test: its end is reported on `conn`; until it closes `ctl`, it
/// may tell what its topology needed (see [`report_needs`]).
struct Running {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    conn: OwnedFd,
    ctl: Option<OwnedFd>,
}

/// The most spare namespaces a warm child makes ahead of its test.
const MAX_SPARES: usize = 8;

/// Serves requests on `listener` until the runner goes away (the server dies with the
/// thread that started it). `pool` is how many warm children it keeps.
pub(crate) fn serve(listener: OwnedFd, pool: usize) -> ! {
    let me = nix::unistd::getpid().as_raw();
    let runner = nix::unistd::getppid().as_raw();
    let maps = IdMaps::of_caller();
    let mut warm: Vec<Warm> = Vec::new();
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut running: Vec<Running> = Vec::new();
    // After a child failed to get ready, new ones are made only for requests, one
    // each, so a machine that refuses namespaces does not make the server spin.
    let mut broken = false;
    // Which test each warm child readies for, from the runner's plan: it makes that
    // test's namespaces besides the host ahead, and builds its network if it may (see
    // `BUILT_AHEAD`). For a test the plan does not name, as many namespaces as the last
    // test reported.
    let mut expected = Expected::from_env();
    let mut reported_nodes = 0;
    let mut buf = vec![0u8; forkserver::MAX_MESSAGE];
    loop {
        let want = if broken { 0 } else { pool } + queue.len();
        while warm.len() < want {
            match spawn_warm(me, &maps, Ahead::Server) {
                Ok(w) => warm.push(w),
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    for p in queue.drain(..) {
                        reply(p.conn.as_fd(), &Reply::Failed(Stage::Fork, errno));
                    }
                    broken = true;
                    break;
                }
            }
        }

        // Children told to ready themselves now, for the test expected next: all of them
        // while no test runs, so that their work falls between tests; while tests run,
        // only as many as the tests the pool has room for beside them (at least one, and
        // every one a waiting request needs), so that their work does not take the CPU
        // from the running tests' starts and ends.
        let readying = warm.iter().filter(|w| w.readying.is_some()).count();
        let target = if running.is_empty() {
            usize::MAX
        } else {
            pool.saturating_sub(running.len()).max(1) + queue.len()
        };
        for w in warm
            .iter_mut()
            .filter(|w| w.readying.is_none())
            .take(target.saturating_sub(readying))
        {
            let test = expected.next_test();
            let needs = Needs {
                nodes: reported_nodes,
                test: test.map(|t| crate::runner::libtest_name(t.module_path, t.name)),
            };
            tell(w.ctl.as_raw_fd(), &needs.encode(b'G'));
            w.readying = Some(Readying { test, built: false });
        }

        let (accept, ctl_ready, ended, told) = {
            let mut pfds = Vec::with_capacity(1 + warm.len() + 2 * running.len());
            pfds.push(PollFd::new(listener.as_fd(), PollFlags::POLLIN));
            pfds.extend(
                warm.iter()
                    .map(|w| PollFd::new(w.ctl.as_fd(), PollFlags::POLLIN)),
            );
            pfds.extend(
                running
                    .iter()
                    .map(|r| PollFd::new(r.pidfd.as_fd(), PollFlags::POLLIN)),
            );
            let telling: Vec<usize> = (0..running.len())
                .filter(|i| running[*i].ctl.is_some())
                .collect();
            pfds.extend(telling.iter().filter_map(|i| {
                running[*i]
                    .ctl
                    .as_ref()
                    .map(|c| PollFd::new(c.as_fd(), PollFlags::POLLIN))
            }));
            match poll(&mut pfds, PollTimeout::NONE) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(_) => super::exit_now(1),
            }
            let hit = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
            let ctl_ready: Vec<usize> = (0..warm.len()).filter(|i| hit(&pfds[1 + i])).collect();
            let ended: Vec<usize> = (0..running.len())
                .filter(|i| hit(&pfds[1 + warm.len() + i]))
                .collect();
            let base = 1 + warm.len() + running.len();
            let told: Vec<usize> = telling
                .iter()
                .enumerate()
                .filter(|(k, _)| hit(&pfds[base + k]))
                .map(|(_, i)| *i)
                .collect();
            (hit(&pfds[0]), ctl_ready, ended, told)
        };

        // Running tests telling what they needed.
        for i in told {
            let n = running[i]
                .ctl
                .as_ref()
                .map_or(0, |c| nix::unistd::read(c, &mut buf).unwrap_or(0));
            if let Some(report) = Needs::decode(b'N', &buf[..n]) {
                reported_nodes = report.nodes.min(MAX_SPARES as u32);
            }
            running[i].ctl = None;
        }

        if accept && let Some(p) = take_request(listener.as_fd(), runner, &expected, &mut buf) {
            if let Some(test) = p.test {
                expected.requested(test);
            }
            queue.push_back(p);
        }

        // Children reporting ready, or failing to get there. A ready child that dies
        // while it waits (killed from outside) is only replaced; one that dies on its
        // way fails the oldest request, so that a machine that kills every child does
        // not make the server spin.
        let mut gone = Vec::new();
        for i in ctl_ready {
            let mut msg = [0u8; 8];
            let n = nix::unistd::read(&warm[i].ctl, &mut msg).unwrap_or(0);
            match (n, msg[0]) {
                (1 | 2, b'R') => {
                    // `RB`: it built its test's network.
                    if let Some(r) = warm[i].readying.as_mut() {
                        r.built = n == 2 && msg[1] == b'B';
                    }
                    warm[i].ready = true;
                    warm[i].mnt = mount_namespace(warm[i].pid);
                    broken = false;
                }
                (6, b'F') => gone.push((
                    i,
                    Some((
                        Stage::from_byte(msg[1]).unwrap_or(Stage::Fork),
                        i32::from_le_bytes([msg[2], msg[3], msg[4], msg[5]]),
                    )),
                )),
                _ if warm[i].ready => gone.push((i, None)),
                _ => gone.push((i, Some((Stage::Fork, libc::ECHILD)))),
            }
        }
        for (i, failure) in gone.into_iter().rev() {
            let w = warm.remove(i);
            reap(w.pid);
            if let Some((stage, errno)) = failure {
                if let Some(p) = queue.pop_front() {
                    reply(p.conn.as_fd(), &Reply::Failed(stage, errno));
                }
                broken = true;
            }
        }

        // Tests that ended: their intermediate's wait status goes to the runner.
        for i in ended.into_iter().rev() {
            let mut status = 0;
            // SAFETY: waitpid on our own child into a local.
            let rc = unsafe { libc::waitpid(running[i].pid, &mut status, libc::WNOHANG) };
            if rc == running[i].pid {
                let r = running.remove(i);
                reply(r.conn.as_fd(), &Reply::Ended(spawn::mirrored(status)));
            }
        }

        // Hand waiting requests to ready children, oldest first, each to a child that
        // readied for its test if there is one (see `plan::choose`).
        let mut handed = false;
        let mut k = 0;
        while k < queue.len() {
            let children: Vec<(bool, Option<Readying>)> =
                warm.iter().map(|w| (w.ready, w.readying)).collect();
            let Some(i) = choose(&children, queue[k].test) else {
                k += 1;
                continue;
            };
            let w = warm.remove(i);
            let Some(p) = queue.remove(k) else { break };
            let fds: Vec<BorrowedFd<'_>> = p.fds.iter().map(AsFd::as_fd).collect();
            if send_with_fds(w.ctl.as_fd(), &p.msg, &fds).is_err() {
                // The child died in the meantime: another one takes the request.
                let _ = kill(w.pidfd.as_fd());
                reap(w.pid);
                queue.insert(k, p);
                continue;
            }
            // The pidfd, and the mount namespace for the runner to free off the
            // test's path (see `mount_namespace`).
            let with: Vec<BorrowedFd<'_>> = std::iter::once(w.pidfd.as_fd())
                .chain(w.mnt.iter().map(AsFd::as_fd))
                .collect();
            let sent = send_with_fds(p.conn.as_fd(), &Reply::Started(w.pid).encode(), &with);
            if sent.is_err() {
                // The runner gave up waiting: the test must not run unobserved.
                let _ = kill(w.pidfd.as_fd());
            }
            running.push(Running {
                pid: w.pid,
                pidfd: w.pidfd,
                conn: p.conn,
                ctl: Some(w.ctl),
            });
            handed = true;
        }
        if handed {
            // The runner and the child just woken are the test; the next warm child,
            // made at the top of the loop, can wait. A socket's wake-up puts them on
            // this CPU, where they would otherwise wait until that child is made
            // (about a millisecond of creating namespaces) while the other CPU idles.
            // SAFETY: sched_yield(2) takes no arguments.
            unsafe { libc::sched_yield() };
        }
    }
}

/// Accepts one connection and reads its request; `None` for a stranger (only the
/// runner, our parent, may ask) or a malformed message. `expected` knows the tests.
fn take_request(
    listener: BorrowedFd<'_>,
    runner: libc::pid_t,
    expected: &Expected,
    buf: &mut [u8],
) -> Option<Pending> {
    let conn = accept4(listener.as_raw_fd(), SockFlag::SOCK_CLOEXEC).ok()?;
    // SAFETY: accept4 returned a new descriptor that nothing else owns.
    let conn = unsafe { OwnedFd::from_raw_fd(conn) };
    let peer = getsockopt(&conn, sockopt::PeerCredentials).ok()?;
    if peer.pid() != runner {
        return None;
    }
    let (n, fds) = recv_with_fds(conn.as_fd(), buf).ok()?;
    let name = Request::test_of(&buf[..n]);
    if fds.len() != 4 || name.is_none() {
        return None;
    }
    let test = name.and_then(|n| expected.find(n));
    Some(Pending {
        test,
        conn,
        msg: buf[..n].to_vec(),
        fds,
    })
}

fn reply(conn: BorrowedFd<'_>, r: &Reply) {
    let _ = send_with_fds(conn, &r.encode(), &[]);
}

fn reap(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waitpid on our own child into a local.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

/// `pidfd_open(2)`.
pub(crate) fn pidfd_open(pid: libc::pid_t) -> io::Result<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just created this descriptor for us.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Sends SIGKILL to the process `pidfd` refers to (`pidfd_send_signal(2)`): unlike a
/// pid, a pidfd can never name a recycled process.
pub(crate) fn kill(pidfd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: pidfd_send_signal with a descriptor we hold, no siginfo and no flags.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0u32,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Closes every descriptor from 3 up except `keep`.
fn close_all_but(keep: RawFd) {
    // SAFETY: close_range on our own table; `keep` stays open.
    unsafe {
        if keep > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (keep - 1) as u32, 0u32);
        }
        libc::syscall(
            libc::SYS_close_range,
            (keep + 1).max(3) as u32,
            u32::MAX,
            0u32,
        );
    }
}

/// Moves `fd` to a number of 100 or more (close-on-exec), out of the way of the
/// test's descriptors 3 to 6.
fn to_high(fd: OwnedFd) -> io::Result<OwnedFd> {
    let high = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(100))?;
    // SAFETY: F_DUPFD_CLOEXEC just made this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(high) })
}

/// In a test child started by the server: its control socket, until the test has
/// reported what it needs ([`report_needs`]).
static CTL: std::sync::Mutex<Option<OwnedFd>> = std::sync::Mutex::new(None);

/// Network namespaces a warm child made before its test was known.
static SPARES: std::sync::Mutex<Vec<Spare>> = std::sync::Mutex::new(Vec::new());

/// A netlink socket in the warm child's own namespace, whose `lo` the child brought up
/// before its test was known; left only for a test whose host is plain.
static HOST_LOOPBACK: std::sync::Mutex<Option<crate::netlink::Netlink>> =
    std::sync::Mutex::new(None);

/// Whether this warm child brought its own namespace's `lo` up before its test was
/// known (see [`Ahead`]).
static HOST_TOUCHED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The host namespace's netlink socket, if a fork server's child brought the host's
/// `lo` up ahead of the test (see [`Ahead`]).
pub(crate) fn take_host_loopback() -> Option<crate::netlink::Netlink> {
    HOST_LOOPBACK.lock().ok()?.take()
}

/// A network namespace made ahead of the test, with `lo` already up and a netlink
/// socket already open in it: what a node with no sysctls of its own starts as.
pub(crate) struct Spare {
    pub(crate) netns: OwnedFd,
    pub(crate) nl: crate::netlink::Netlink,
}

/// Tells the server, if this test child came from one, how many namespaces besides
/// the host the test's topology needs: its next children make that many in advance
/// when the runner's plan does not say which test comes next.
pub(crate) fn report_needs(topology: &netns_test_topology::Topology) {
    let ctl = CTL.lock().ok().and_then(|mut c| c.take());
    if let Some(ctl) = ctl {
        let nodes = topology.nodes.iter().filter(|n| n.name != HOST).count();
        let needs = Needs {
            nodes: nodes.min(u32::MAX as usize) as u32,
            test: None,
        };
        tell(ctl.as_raw_fd(), &needs.encode(b'N'));
    }
}

/// A network a warm child built before its test was known, for the test the runner's
/// plan says it will serve (see `crate::plan`): a test with the same topology takes
/// it ([`take_built_ahead`]) rather than building its own.
struct BuiltAhead {
    blueprint: Blueprint,
    net: crate::Net,
}

static BUILT_AHEAD: std::sync::Mutex<Option<BuiltAhead>> = std::sync::Mutex::new(None);

/// What a test child found built ahead of its test.
pub(crate) enum Found {
    /// Nothing.
    Nothing,
    /// Its own network, built from the same text and origin.
    Same(crate::Net),
    /// Another topology's network, now dropped (the kernel frees its namespaces in the
    /// background; it had nothing in the host's).
    Another,
}

/// Takes the network built ahead of this test, if it was built from `text` and
/// `origin`; drops any other.
pub(crate) fn take_built_ahead(text: &str, origin: &str) -> Found {
    let Some(ahead) = BUILT_AHEAD.lock().ok().and_then(|mut a| a.take()) else {
        return Found::Nothing;
    };
    if ahead.blueprint.text == text && ahead.blueprint.origin == origin {
        Found::Same(ahead.net)
    } else {
        Found::Another
    }
}

/// Readies this warm child for `test`, the one the server expects it to serve: as many
/// spare namespaces as its topology has nodes besides the host, the host's `lo` if its
/// host is plain (see [`ready_ahead`]), and its network, if a warm child may build it
/// ([`Blueprint::of`]); returns whether it built the network. The topology is parsed
/// here, not in the server, whose memory every child would copy (a 1000-node
/// topology's parse left the server at 16 MB instead of 5, and every test slower).
fn ready_for(test: &Registered) -> bool {
    // The macro's function only returns constants; one registered by hand may panic,
    // and this child must still get ready.
    let parsed = std::panic::catch_unwind(test.topology)
        .map(|(text, origin)| (text, origin, netns_test_topology::parse(text, origin)));
    let Ok((text, origin, Ok(topology))) = parsed else {
        ready_ahead(0, test.plain_host);
        return false;
    };
    let nodes = topology.nodes.iter().filter(|n| n.name != HOST).count();
    ready_ahead(nodes.min(MAX_SPARES), test.plain_host);
    match Blueprint::of(&topology, text, origin, MAX_SPARES) {
        Some(blueprint) => build_ahead(blueprint, topology),
        None => {
            if let Ok(mut slot) = PARSED.lock() {
                *slot = Some((text, origin, topology));
            }
            false
        }
    }
}

/// A topology a warm child parsed for the test it expected and did not build ahead
/// (see [`ready_for`]): its text, origin and the parse.
type Parsed = (&'static str, &'static str, netns_test_topology::Topology);

static PARSED: std::sync::Mutex<Option<Parsed>> = std::sync::Mutex::new(None);

/// The topology parsed ahead of this test, if it was parsed from `text` and `origin`:
/// the test need not parse its text again.
pub(crate) fn take_parsed(text: &str, origin: &str) -> Option<netns_test_topology::Topology> {
    let (t, o, topology) = PARSED.lock().ok()?.take()?;
    (t == text && o == origin).then_some(topology)
}

/// Builds `topology` (as `blueprint`) in this warm child's namespaces (its own becomes
/// the host), with the spares it made, and keeps the network for its test; whether it
/// did. A topology that fails to build here is left for the test to build and report.
/// The child still has a single thread afterwards, as its test needs:
/// [`Blueprint::of`] leaves out the only networks that run threads of their own
/// (links emulated in userspace).
fn build_ahead(blueprint: Blueprint, topology: netns_test_topology::Topology) -> bool {
    let Ok(home) = super::current_netns() else {
        return false;
    };
    crate::standalone::mark_isolated();
    let built = std::panic::catch_unwind(|| crate::Net::build_parsed(topology).ok());
    // A build ends in the host's namespace, failed or not; should one not have, this
    // child must not go on standing in a node (it would be the next test's host).
    if super::setns_net(home.as_fd()).is_err() {
        super::exit_now(121)
    }
    let Ok(Some(net)) = built else { return false };
    match BUILT_AHEAD.lock() {
        Ok(mut slot) => {
            *slot = Some(BuiltAhead { blueprint, net });
            true
        }
        Err(_) => false,
    }
}

/// A network namespace made in advance (owned by this test's user namespace), if any
/// is left.
pub(crate) fn take_spare() -> Option<Spare> {
    SPARES.lock().ok()?.pop()
}

/// Makes `n` network namespaces for the test to come, staying in the current one.
fn make_spares(n: usize) {
    let Ok(home) = super::current_netns() else {
        return;
    };
    let mut made = Vec::with_capacity(n);
    for _ in 0..n {
        match super::new_netns_here().and_then(to_high).and_then(|netns| {
            Ok(Spare {
                netns,
                nl: loopback_up()?,
            })
        }) {
            Ok(spare) => made.push(spare),
            Err(_) => break,
        }
    }
    if super::setns_net(home.as_fd()).is_err() {
        // Standing in a spare would make it the host: better to have none.
        super::exit_now(121)
    }
    if let Ok(mut spares) = SPARES.lock() {
        *spares = made;
    }
}

/// Puts `/dev/null` on descriptors 3 to 6 until the test's own take those numbers
/// (`spawn::place_child_fds`), so that what this child opens before lands above them.
fn reserve_test_fds() -> bool {
    let Ok(null) = std::fs::File::open("/dev/null") else {
        return false;
    };
    let reserved = spawn::VERDICT_FD..=spawn::LIFELINE_FD;
    let own = null.as_raw_fd();
    let all = reserved
        .clone()
        .all(|fd| fd == own || super::dup_onto(null.as_fd(), fd).is_ok());
    if reserved.contains(&own) {
        // Opened on one of the numbers (3, when 0 to 2 are open): kept open, it holds
        // that one too, until the test's descriptor replaces it.
        std::mem::forget(null);
    }
    all
}

/// Opens a netlink socket in the calling thread's namespace and brings `lo` up with it.
fn loopback_up() -> io::Result<crate::netlink::Netlink> {
    let mut nl = crate::netlink::Netlink::open()?;
    let refused = nl.execute(&[crate::build::loopback_up()])?;
    match refused.into_iter().next() {
        None => Ok(nl),
        Some(r) => Err(r.error),
    }
}

/// Sends `msg` on the control socket, ignoring errors (the server notices the end).
fn tell(ctl: RawFd, msg: &[u8]) {
    // SAFETY: send(2) of a local buffer on a socket we hold; a peer that is gone is
    // noticed by the reader, not by a SIGPIPE here.
    unsafe { libc::send(ctl, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
}

/// Starts a warm child: it enters its namespaces, readies what `ahead` says (a server's
/// child once the server tells it to, see [`Ahead::Server`]), reports `R` (or `F`, the
/// failed stage and errno) on its control socket, and waits there for a request.
///
/// The child is cloned straight into new user, network, mount, PID, UTS and IPC
/// namespaces, as the namespace's PID 1: the server waits for it directly, with no
/// intermediate process. If the kernel refuses that clone, the child is forked and
/// takes the steps one by one instead (as a re-executed child does), so that the
/// failure names its step.
fn spawn_warm(server: libc::pid_t, maps: &IdMaps, ahead: Ahead) -> io::Result<Warm> {
    let (ctl, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )?;
    let flags = libc::CLONE_NEWUSER | spawn::OTHER_NAMESPACES | libc::SIGCHLD;
    // SAFETY: clone(2) without CLONE_VM and without a new stack is a fork into new
    // namespaces: the child continues on a copy of this stack. It skips glibc's fork
    // handlers, so the child (PID 1) makes only raw system calls and glibc's `fork`,
    // which sets up the test child properly (see `cloned_child`).
    let cloned = unsafe {
        libc::syscall(
            libc::SYS_clone,
            flags as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    };
    let pid = if cloned == 0 {
        drop(ctl);
        cloned_child(theirs, maps, ahead)
    } else if cloned > 0 {
        cloned as libc::pid_t
    } else {
        // SAFETY: the child only runs code that is sound after a fork from this
        // process (see the module documentation) and never returns from `warm_child`.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(io::Error::last_os_error());
        }
        if pid == 0 {
            drop(ctl);
            warm_child(server, theirs, maps, ahead)
        }
        pid
    };
    drop(theirs);
    let pidfd = match pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) => {
            // SAFETY: kill on our own, not yet reaped, child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            reap(pid);
            return Err(e);
        }
    };
    Ok(Warm {
        pid,
        pidfd,
        ctl,
        readying: None,
        ready: false,
        mnt: None,
    })
}

/// A child started by the runner itself (see `crate::forkserver::launch_direct`).
pub(crate) struct Direct {
    pub(crate) pid: libc::pid_t,
    pub(crate) pidfd: OwnedFd,
    /// Its control socket: it reports its size there, as to a server.
    pub(crate) ctl: OwnedFd,
    /// Its mount namespace (see [`mount_namespace`]).
    pub(crate) mnt: Option<OwnedFd>,
}

/// Why [`start_direct`] failed.
pub(crate) enum DirectError {
    /// Entering the namespaces failed: the stage and errno.
    Refused(Stage, i32),
    /// Anything else: the caller re-executes the test instead.
    Other,
}

/// Clones a child into its namespaces from the calling thread, as the server makes a
/// warm child, hands it the request `msg` and the test's descriptors, and waits until
/// it reports that it entered its namespaces (or at which step it failed).
///
/// The caller's process must have no other thread than libtest's, waiting for this
/// test (the child is a copy of the caller's memory, with only this thread): then no
/// lock in that copy is held.
pub(crate) fn start_direct(msg: &[u8], fds: [BorrowedFd<'_>; 4]) -> Result<Direct, DirectError> {
    let me = nix::unistd::getpid().as_raw();
    let w = spawn_warm(me, &IdMaps::of_caller(), Ahead::Nothing).map_err(|_| DirectError::Other)?;
    // Sent at once: the child finds the request waiting when it is ready, instead of
    // waiting for this thread to wake up and send it. If the child fails instead, the
    // request and its descriptors go with its end of the socket.
    if send_with_fds(w.ctl.as_fd(), msg, &fds).is_err() {
        let _ = kill(w.pidfd.as_fd());
        reap(w.pid);
        return Err(DirectError::Other);
    }
    let mut ready = [0u8; 8];
    let n = nix::unistd::read(&w.ctl, &mut ready).unwrap_or(0);
    match (n, ready[0]) {
        (1, b'R') => {}
        (6, b'F') => {
            reap(w.pid);
            return Err(DirectError::Refused(
                Stage::from_byte(ready[1]).unwrap_or(Stage::Fork),
                i32::from_le_bytes([ready[2], ready[3], ready[4], ready[5]]),
            ));
        }
        _ => {
            let _ = kill(w.pidfd.as_fd());
            reap(w.pid);
            return Err(DirectError::Other);
        }
    }
    let mnt = mount_namespace(w.pid);
    Ok(Direct {
        pid: w.pid,
        pidfd: w.pidfd,
        ctl: w.ctl,
        mnt,
    })
}

/// Waits for this process's child `pid` and returns its wait status, with 128+N
/// turned back into signal N (see `spawn::mirrored`).
pub(crate) fn wait_mirrored(pid: libc::pid_t) -> io::Result<libc::c_int> {
    let mut status = 0;
    loop {
        // SAFETY: waitpid on our own child into a local.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(spawn::mirrored(status));
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// The mount namespace of the child `pid` (a fork server's ready child, or the
/// intermediate of a re-executed one), held so that its last process does not free it.
///
/// Freeing a mount namespace unmounts its copy of the mount table and then waits for
/// an RCU grace period (`namespace_unlock` in the kernel). Done by the namespace's
/// last process as it exits, that wait sat between a test's verdict and its end (0.1
/// ms typically, several ms at times). Held, the namespace is freed when the runner
/// closes the descriptor, on a thread of its own. `None` if it cannot be opened: the
/// last process then frees the namespace as before.
pub(crate) fn mount_namespace(pid: libc::pid_t) -> Option<OwnedFd> {
    let path = format!("/proc/{pid}/ns/mnt");
    std::fs::File::open(path).ok().map(OwnedFd::from)
}

/// The cloned child, PID 1 of its namespaces: finishes entering them, splits off the
/// test child (which goes on here) and stays behind as its init.
fn cloned_child(ctl: OwnedFd, maps: &IdMaps, ahead: Ahead) -> ! {
    // Die with the server. Its death before this call is caught by the control
    // socket's end-of-file, which ends the test child and so this init.
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    let ctl = keep_only(ctl);
    let raw = ctl.as_raw_fd();
    if let Err((stage, errno)) =
        spawn::write_id_maps(maps).and_then(|()| spawn::make_root_private())
    {
        fail_warm(raw, stage, errno)
    }
    // SAFETY: single-threaded; init stays behind, the test child returns here (through
    // glibc's fork, so it is a proper process of its own for glibc too).
    if let Err(e) = unsafe { spawn::split_init(false) } {
        fail_warm(raw, Stage::Fork, e.raw_os_error().unwrap_or(0))
    }
    await_test(ctl, ahead)
}

/// Closes everything of the server's (the listener, other tests' connections) and
/// moves `ctl` clear of 3 to 6, where the test's descriptors go.
fn keep_only(ctl: OwnedFd) -> OwnedFd {
    close_all_but(ctl.as_raw_fd());
    match to_high(ctl) {
        Ok(ctl) => ctl,
        Err(_) => super::exit_now(121),
    }
}

/// Reports that entering the namespaces failed at `stage`, and ends.
fn fail_warm(ctl: RawFd, stage: Stage, errno: i32) -> ! {
    let mut msg = [b'F', stage as u8, 0, 0, 0, 0];
    msg[2..].copy_from_slice(&errno.to_le_bytes());
    tell(ctl, &msg);
    super::exit_now(1)
}

/// The forked child (when the clone was refused): takes the steps one by one, then
/// becomes the isolated test child and waits for its test.
fn warm_child(server: libc::pid_t, ctl: OwnedFd, maps: &IdMaps, ahead: Ahead) -> ! {
    spawn::die_with_parent(server);
    let ctl = keep_only(ctl);
    let raw = ctl.as_raw_fd();
    // SAFETY: this process is single-threaded (a fresh fork).
    if let Err((stage, errno)) = unsafe { spawn::enter_and_split(maps) } {
        fail_warm(raw, stage, errno)
    }
    await_test(ctl, ahead)
}

/// Makes this process's environment `wanted`, changing only the variables that differ.
/// The server started with the runner's environment, so that is usually the server's
/// own mark and the test's name; replacing every variable took a tenth of a
/// millisecond on the test's path.
///
/// Must only be called while the process has a single thread.
fn adopt_environment(wanted: &[(OsString, OsString)]) {
    let wanted: HashMap<&OsStr, &OsStr> = wanted
        .iter()
        .map(|(k, v)| (k.as_os_str(), v.as_os_str()))
        .collect();
    for (k, v) in std::env::vars_os() {
        match wanted.get(k.as_os_str()) {
            Some(w) if *w == v.as_os_str() => {}
            // SAFETY: the caller guarantees a single thread.
            Some(w) => unsafe { std::env::set_var(&k, w) },
            // SAFETY: as above.
            None => unsafe { std::env::remove_var(&k) },
        }
    }
    for (k, v) in wanted {
        if std::env::var_os(k).is_none() {
            // SAFETY: as above.
            unsafe { std::env::set_var(k, v) };
        }
    }
}

/// What a child readies before it reports ready.
#[derive(Clone, Copy)]
enum Ahead {
    /// A server's child, made before its test is known. Once the server tells it to
    /// (`G` and a count, see `serve`), it readies that many spare namespaces, its own
    /// namespace's `lo` (the host's, unless the test wants a host that is not plain),
    /// and a cached thread stack. Told later rather than at once, that work (about a
    /// millisecond of the kernel making namespaces) falls between tests instead of
    /// delaying the running test's processes on their CPU.
    Server,
    /// The runner's own child, for the test at hand: anything readied now would only
    /// lengthen the runner's wait.
    Nothing,
}

/// What a server's child readies: `spares` spare namespaces, the host's `lo` (unless
/// its test is known to want a host that is not plain, which then keeps this
/// namespace as it is), and a cached thread stack.
fn ready_ahead(spares: usize, plain_host: bool) {
    make_spares(spares);
    if plain_host {
        // Set before trying: a host namespace whose `lo` may have been touched is not
        // one a test whose host keeps `lo` down may have.
        HOST_TOUCHED.store(true, std::sync::atomic::Ordering::Relaxed);
        if let (Ok(nl), Ok(mut slot)) = (loopback_up(), HOST_LOOPBACK.lock()) {
            *slot = Some(nl);
        }
    }
    // A thread started and joined now leaves its stack in glibc's cache: the test's
    // thread, started once the test is known, then needs no new mapping.
    if let Ok(t) = std::thread::Builder::new().spawn(|| {}) {
        let _ = t.join();
    }
}

/// In the test child, with its namespaces entered: readies what `ahead` says, reports
/// ready, and turns into the test the server sends.
fn await_test(ctl: OwnedFd, ahead: Ahead) -> ! {
    // What is readied must stay clear of 3 to 6, where the test's descriptors go.
    let reserved = reserve_test_fds();
    let mut buf = vec![0u8; forkserver::MAX_MESSAGE];
    if let Ahead::Server = ahead {
        let needs = loop {
            match nix::unistd::read(&ctl, &mut buf) {
                Err(nix::errno::Errno::EINTR) => {}
                Ok(n) => match Needs::decode(b'G', &buf[..n]) {
                    Some(needs) => break needs,
                    // End of file: the server is gone.
                    None => super::exit_now(137),
                },
                Err(_) => super::exit_now(137),
            }
        };
        let test = needs.test.as_deref().and_then(forkserver::registered);
        let built = match (reserved, test) {
            (false, _) => false,
            (true, Some(test)) => ready_for(test),
            (true, None) => {
                ready_ahead(needs.nodes as usize, true);
                false
            }
        };
        tell(ctl.as_raw_fd(), if built { b"RB" } else { b"R" });
    } else {
        tell(ctl.as_raw_fd(), b"R");
    }
    let Ok((n, fds)) = recv_with_fds(ctl.as_fd(), &mut buf) else {
        super::exit_now(137)
    };
    let Some(req) = Request::decode(&buf[..n]) else {
        super::exit_now(137) // End of file: the server is gone.
    };
    let [verdict, out, err, life]: [OwnedFd; 4] = match fds.try_into() {
        Ok(fds) => fds,
        Err(_) => super::exit_now(121),
    };
    let raws = [&verdict, &out, &err, &life].map(|f| f.as_raw_fd());
    if spawn::place_child_fds(raws).is_err() {
        super::exit_now(121)
    }
    // The originals: one on 3 to 6 now is the test's own descriptor, any other goes.
    for fd in [verdict, out, err, life] {
        if (spawn::VERDICT_FD..=spawn::LIFELINE_FD).contains(&fd.as_raw_fd()) {
            std::mem::forget(fd);
        }
    }
    // The control socket stays until the test reports what it needs.
    if let Ok(mut slot) = CTL.lock() {
        *slot = Some(ctl);
    }
    // The runner's environment and directory, as an exec would have passed them.
    adopt_environment(&req.env);
    let _ = std::env::set_current_dir(&req.cwd);
    let Some(entry) = forkserver::registered(&req.test) else {
        // As the re-executed child does when libtest finds no such test.
        super::exit_now(0)
    };
    // A host that keeps `lo` down or sets sysctls first gets a new namespace, as a
    // child made for the test would have; every thread started from here is in it.
    // Whether this child brought `lo` up (the socket that did may since have gone to a
    // network built ahead, which is then another topology's).
    if !entry.plain_host && HOST_TOUCHED.load(std::sync::atomic::Ordering::Relaxed) {
        drop(take_host_loopback());
        if super::unshare(libc::CLONE_NEWNET).is_err() {
            super::exit_now(121)
        }
    }
    let run = entry.run;
    // libtest runs a test on a thread named after it; some code reads that name.
    let spawned = std::thread::Builder::new()
        .name(req.test.clone())
        .spawn(run);
    match spawned {
        Ok(t) => {
            let _ = t.join();
            super::exit_now(101)
        }
        Err(_) => super::exit_now(122),
    }
}
