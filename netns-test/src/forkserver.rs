//! The fork server: the fast way to start a test's isolated child.
//!
//! Re-executing the test binary for every test (see [`crate::runner`]) costs an exec,
//! the dynamic loader and libtest's start-up, and then the namespaces' creation, all
//! on the test's clock. Instead, the first test of a process starts one *fork server*:
//! the test binary again, re-executed once, filtered to that test and recognising
//! itself by [`SERVER_ENV`]. The server keeps a few children that have already entered
//! their own namespaces (see [`crate::ns::forkserver`]); a test asks for one over a
//! Unix socket, hands over its four descriptors, and the child runs the test function
//! found in the registry that `#[netns_test]` fills ([`crate::__private::Registered`]).
//! The server makes the next child while the test runs.
//!
//! Everything else is as with the re-executed child: the same descriptors on 3 to 6,
//! the same environment (sent with each request) and working directory, the same
//! init and intermediate, the same verdict. The runner kills a child through a pidfd,
//! and knows it has ended when the pidfd turns readable; how it ended (for a test that
//! left no verdict) it learns from the server, which waits for it.
//!
//! The server dies with the thread that started it (a thread kept for that alone), and
//! its children with it. It is not used for tests `#[netns_test]` did not register,
//! under nextest's process-per-test mode (one test per process gains nothing), or when
//! `NETNS_TEST_FORK_SERVER=0`; if it cannot start or stops answering, tests fall back
//! to the re-executed child.
//!
//! Under nextest's process-per-test mode the runner instead makes the child itself, as
//! the server would ([`launch_direct`]): the process runs this one test, and its only
//! other thread is libtest's, waiting for it, so the runner's thread may clone the
//! child straight into its namespaces, sparing the exec. Any other thread in the
//! process (a user's background thread) means the re-executed child, as before.
//!
//! Protocol, one `SOCK_SEQPACKET` message each:
//! - runner to server, on a new connection to the server's abstract socket: a
//!   [`Request`] with the verdict, stdout, stderr and lifeline descriptors attached;
//! - server to runner: [`Reply::Started`] with a pidfd of the child and its mount
//!   namespace attached, or [`Reply::Failed`] (entering the namespaces failed: the
//!   stage and errno), then [`Reply::Ended`] with the child's wait status when it has
//!   ended.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::socket::{
    AddressFamily, Backlog, SockFlag, SockType, UnixAddr, bind, connect, listen, setsockopt,
    socket, sockopt,
};

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::time::TimeVal;

use crate::__private::Registered;
use crate::net::CHILD_ENV;
use crate::ns::packet::{recv_with_fds, send_with_fds};
use crate::ns::spawn::Stage;
use crate::ns::{self, forkserver as server};

/// Set in the fork server's environment to the name of the test it was started
/// through (libtest runs that test, whose function then serves).
pub(crate) const SERVER_ENV: &str = "__NETNS_TEST_FORK_SERVER";

/// `NETNS_TEST_FORK_SERVER=0` (or `off`, `false`, `no`) turns the fork server off.
const SWITCH_ENV: &str = "NETNS_TEST_FORK_SERVER";

/// The largest message (a request carries the whole environment).
pub(crate) const MAX_MESSAGE: usize = 256 * 1024;

/// How long a runner waits for the server to start its child before giving up on the
/// server (the test then runs in a re-executed child).
const START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The registered test libtest knows as `test`.
pub(crate) fn registered(test: &str) -> Option<&'static Registered> {
    inventory::iter::<Registered>
        .into_iter()
        .find(|r| crate::runner::is_libtest_name(test, r.module_path, r.name))
}

/// Set by [`set_enabled`]: 0 for the environment's choice, 1 on, 2 off.
static OVERRIDE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

pub(crate) fn set_enabled(on: bool) {
    OVERRIDE.store(if on { 1 } else { 2 }, Ordering::Relaxed);
}

/// Whether tests may go through the fork server (see the module documentation).
fn enabled() -> bool {
    match OVERRIDE.load(Ordering::Relaxed) {
        1 => return true,
        2 | 3 => return false,
        _ => {}
    }
    !switched_off() && !per_test_mode()
}

/// `NETNS_TEST_FORK_SERVER=0` (or `off`, ...): no fork server, and no direct start.
fn switched_off() -> bool {
    std::env::var(SWITCH_ENV).is_ok_and(|v| matches!(v.trim(), "0" | "off" | "false" | "no"))
}

/// nextest's process-per-test mode: each test in a process of its own.
fn per_test_mode() -> bool {
    std::env::var("NEXTEST_EXECUTION_MODE").is_ok_and(|v| v == "process-per-test")
}

/// Whether this process runs one test and then ends: nextest's process-per-test mode
/// (whether or not the child is cloned directly), or the benchmark's stand-in for it.
pub(crate) fn one_test_per_process() -> bool {
    per_test_mode() || OVERRIDE.load(Ordering::Relaxed) == 3
}

/// Whether the runner may clone the child itself ([`launch_direct`]).
fn direct_enabled() -> bool {
    match OVERRIDE.load(Ordering::Relaxed) {
        3 => true,
        1 | 2 => false,
        _ => per_test_mode() && !switched_off(),
    }
}

/// Makes the runner clone each test's child itself, as under nextest's process-per-test
/// mode (the benchmark's row for that mode).
pub(crate) fn set_direct() {
    OVERRIDE.store(3, Ordering::Relaxed);
}

/// A test to run: which, and the runner's environment and working directory.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) test: String,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(OsString, OsString)>,
}

impl Request {
    /// `Q`, then NUL-terminated: the test, the directory, `KEY=VALUE` entries.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = vec![b'Q'];
        for part in [OsStr::new(&self.test), self.cwd.as_os_str()] {
            out.extend_from_slice(part.as_bytes());
            out.push(0);
        }
        for (k, v) in &self.env {
            out.extend_from_slice(k.as_bytes());
            out.push(b'=');
            out.extend_from_slice(v.as_bytes());
            out.push(0);
        }
        out
    }

    /// The test named in an encoded request, without decoding the rest.
    pub(crate) fn test_of(msg: &[u8]) -> Option<&str> {
        let rest = msg.strip_prefix(b"Q")?;
        let end = rest.iter().position(|b| *b == 0)?;
        std::str::from_utf8(&rest[..end]).ok()
    }

    pub(crate) fn decode(msg: &[u8]) -> Option<Request> {
        let rest = msg.strip_prefix(b"Q")?.strip_suffix(&[0])?;
        let mut parts = rest.split(|b| *b == 0);
        let test = String::from_utf8(parts.next()?.to_vec()).ok()?;
        let cwd = PathBuf::from(OsString::from_vec(parts.next()?.to_vec()));
        let env = parts
            .map(|kv| {
                let eq = kv.iter().position(|b| *b == b'=')?;
                Some((
                    OsString::from_vec(kv[..eq].to_vec()),
                    OsString::from_vec(kv[eq + 1..].to_vec()),
                ))
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Request { test, cwd, env })
    }
}

/// `NETNS_TEST_BUILD_AHEAD=0` (or `off`, `false`, `no`): warm children do not build
/// the network of the test expected next (see ARCHITECTURE.md, "Networks built
/// ahead").
const BUILD_AHEAD_ENV: &str = "NETNS_TEST_BUILD_AHEAD";

/// The largest topology (text and origin, in bytes) a warm child builds ahead.
const MAX_BLUEPRINT: usize = 16 * 1024;

/// A topology a warm child may build before its test is known, as the test function
/// has it: the text and its origin. A test whose own text and origin are the same
/// takes that network instead of building one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Blueprint {
    pub(crate) text: String,
    pub(crate) origin: String,
}

impl Blueprint {
    /// The blueprint of `topology` (parsed from `text`, from `origin`), if a warm child
    /// may build it ahead: at most `max_nodes` namespaces besides the host, built by
    /// netlink alone, and nothing in the host's namespace (the warm child's own, which
    /// stays the test's host whether or not the test takes the network): no interface,
    /// route or setting there, and no IPv6 (which sets the host's `accept_dad`). Not
    /// names either (`hostname`, `hosts`: mounts), nor NAT or filter rules (the `nft`
    /// program, which would run with the server's environment rather than the
    /// test's), nor links emulated in userspace (their threads: the child must have a
    /// single thread when its test comes). None with `NETNS_TEST_BUILD_AHEAD=0`.
    pub(crate) fn of(
        topology: &netns_test_topology::Topology,
        text: &str,
        origin: &str,
        max_nodes: usize,
    ) -> Option<Blueprint> {
        let off = std::env::var(BUILD_AHEAD_ENV)
            .is_ok_and(|v| matches!(v.trim(), "0" | "off" | "false" | "no"));
        (!off)
            .then(|| Blueprint::of_any(topology, text, origin, max_nodes))
            .flatten()
    }

    /// [`Blueprint::of`], whatever `NETNS_TEST_BUILD_AHEAD` says.
    fn of_any(
        topology: &netns_test_topology::Topology,
        text: &str,
        origin: &str,
        max_nodes: usize,
    ) -> Option<Blueprint> {
        use netns_test_topology::HOST;
        let host_untouched = topology
            .node(HOST)
            .is_none_or(|h| h.is_plain() && !h.forwarding && h.routes.is_empty())
            && topology.interfaces_of(HOST).is_empty()
            && !crate::build::uses_v6(topology);
        let allowed = text.len() + origin.len() <= MAX_BLUEPRINT
            && topology.nodes.len() <= max_nodes + 1
            && host_untouched
            && !crate::hosts::wanted(topology)
            && topology
                .nodes
                .iter()
                .all(|n| n.nat.is_empty() && n.filter.is_empty())
            && topology
                .links
                .iter()
                .all(|l| l.mode != netns_test_topology::LinkMode::Userspace);
        allowed.then(|| Blueprint {
            text: text.to_owned(),
            origin: origin.to_owned(),
        })
    }
}

/// What a warm child readies for: the test it is expected to serve, by libtest's name
/// (it makes that test's namespaces besides the host and may build its network, see
/// [`Blueprint::of`]), or, when none is expected, as many namespaces as `nodes`. The
/// server sends it with the word to ready itself (tag `G`); a test child reports its
/// own namespaces (tag `N`, no test) once its topology is parsed, for children readied
/// when the runner's plan names no test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Needs {
    pub(crate) nodes: u32,
    pub(crate) test: Option<String>,
}

impl Needs {
    /// The tag, the node count (4 bytes, little-endian), then the test's name, if any.
    pub(crate) fn encode(&self, tag: u8) -> Vec<u8> {
        let mut out = vec![tag];
        out.extend_from_slice(&self.nodes.to_le_bytes());
        if let Some(test) = &self.test {
            out.extend_from_slice(test.as_bytes());
        }
        out
    }

    pub(crate) fn decode(tag: u8, msg: &[u8]) -> Option<Needs> {
        let rest = msg.strip_prefix(&[tag])?;
        let (nodes, rest) = rest.split_first_chunk::<4>()?;
        let test = match rest {
            [] => None,
            name => Some(String::from_utf8(name.to_vec()).ok()?),
        };
        Some(Needs {
            nodes: u32::from_le_bytes(*nodes),
            test,
        })
    }
}

/// What the server tells a runner.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reply {
    /// The child (its intermediate's pid; a pidfd and its mount namespace travel with
    /// it) has the test.
    Started(libc::pid_t),
    /// Entering the namespaces failed at this stage, with this errno.
    Failed(Stage, i32),
    /// The child ended with this wait status.
    Ended(libc::c_int),
}

impl Reply {
    pub(crate) fn encode(&self) -> Vec<u8> {
        let (tag, stage, n) = match *self {
            Reply::Started(pid) => (b'P', None, pid),
            Reply::Failed(stage, errno) => (b'E', Some(stage as u8), errno),
            Reply::Ended(status) => (b'S', None, status),
        };
        let mut out = vec![tag];
        out.extend(stage);
        out.extend_from_slice(&n.to_le_bytes());
        out
    }

    pub(crate) fn decode(msg: &[u8]) -> Option<Reply> {
        let int = |b: &[u8]| Some(i32::from_le_bytes(b.try_into().ok()?));
        match msg.split_first()? {
            (b'P', rest) => Some(Reply::Started(int(rest)?)),
            (b'S', rest) => Some(Reply::Ended(int(rest)?)),
            (b'E', rest) => {
                let (stage, errno) = rest.split_first()?;
                Some(Reply::Failed(Stage::from_byte(*stage)?, int(errno)?))
            }
            _ => None,
        }
    }
}

/// The server of this process, once started.
struct Server {
    addr: UnixAddr,
}

static SERVER: OnceLock<Option<Server>> = OnceLock::new();
/// Set when the server has ended or stopped answering: tests no longer use it.
static GONE: AtomicBool = AtomicBool::new(false);

/// How a launch through the server went.
pub(crate) enum Launch {
    /// The test runs in a child of the server.
    Started(Child),
    /// The child could not enter its namespaces: the stage and the error.
    Refused(Stage, io::Error),
    /// No server for this test: start a re-executed child instead.
    Unavailable,
}

/// Starts `test` in a child of the fork server, with `fds` (verdict, stdout, stderr,
/// lifeline) as its descriptors 3 to 6.
pub(crate) fn launch(test: &str, fds: [BorrowedFd<'_>; 4]) -> Launch {
    if registered(test).is_none() {
        return Launch::Unavailable;
    }
    if direct_enabled() {
        return launch_direct(test, fds);
    }
    if !enabled() || GONE.load(Ordering::Relaxed) {
        return Launch::Unavailable;
    }
    let Some(server) = SERVER.get_or_init(|| start(test)) else {
        return Launch::Unavailable;
    };
    match server.request(test, fds) {
        Ok(launch) => launch,
        Err(_) => {
            GONE.store(true, Ordering::Relaxed);
            Launch::Unavailable
        }
    }
}

/// The request for `test`, with this process's environment and working directory.
fn request_for(test: &str) -> Request {
    let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
        .filter(|(k, _)| k != CHILD_ENV)
        .collect();
    env.push((CHILD_ENV.into(), test.into()));
    Request {
        test: test.to_owned(),
        cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
        env,
    }
}

/// Starts `test`'s child from this thread, the way the server starts its children
/// (see the module documentation): only when libtest's thread is the process's only
/// other one; otherwise, or if anything but the namespaces fails, the test is
/// re-executed.
fn launch_direct(test: &str, fds: [BorrowedFd<'_>; 4]) -> Launch {
    if ns::thread_count() != Some(2) {
        return Launch::Unavailable;
    }
    match server::start_direct(&request_for(test).encode(), fds) {
        Ok(d) => Launch::Started(Child {
            pid: d.pid,
            pidfd: d.pidfd,
            ending: Ending::Direct { _ctl: d.ctl },
            held: d.mnt.into_iter().collect(),
        }),
        Err(server::DirectError::Refused(stage, errno)) => {
            Launch::Refused(stage, io::Error::from_raw_os_error(errno))
        }
        Err(server::DirectError::Other) => Launch::Unavailable,
    }
}

impl Server {
    fn request(&self, test: &str, fds: [BorrowedFd<'_>; 4]) -> io::Result<Launch> {
        let conn = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        connect(std::os::fd::AsRawFd::as_raw_fd(&conn), &self.addr)?;
        send_with_fds(conn.as_fd(), &request_for(test).encode(), &fds)?;
        setsockopt(
            &conn,
            sockopt::ReceiveTimeout,
            &TimeVal::new(START_TIMEOUT.as_secs() as _, 0),
        )?;
        let mut buf = [0u8; 16];
        let (n, mut got) = recv_with_fds(conn.as_fd(), &mut buf)?;
        setsockopt(&conn, sockopt::ReceiveTimeout, &TimeVal::new(0, 0))?;
        match Reply::decode(&buf[..n]) {
            Some(Reply::Started(pid)) if !got.is_empty() => {
                let pidfd = got.remove(0);
                Ok(Launch::Started(Child {
                    pid,
                    pidfd,
                    ending: Ending::Server(conn),
                    held: got,
                }))
            }
            Some(Reply::Failed(stage, errno)) => {
                Ok(Launch::Refused(stage, io::Error::from_raw_os_error(errno)))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the fork server did not start the test",
            )),
        }
    }
}

/// Starts the server on a thread kept for it: the server dies with that thread
/// (`PR_SET_PDEATHSIG` is per thread), which lives as long as the server does.
fn start(test: &str) -> Option<Server> {
    let (tx, rx) = std::sync::mpsc::channel();
    let test = test.to_owned();
    std::thread::Builder::new()
        .name("netns-test-fork-server".into())
        .spawn(move || {
            // Only what this thread opens goes to the server.
            ns::private_fd_table();
            match spawn_server(&test) {
                Ok((addr, mut child)) => {
                    let _ = tx.send(Some(addr));
                    let _ = child.wait();
                    GONE.store(true, Ordering::Relaxed);
                }
                Err(_) => {
                    let _ = tx.send(None);
                }
            }
        })
        .ok()?;
    rx.recv().ok().flatten().map(|addr| Server { addr })
}

fn spawn_server(test: &str) -> io::Result<(UnixAddr, std::process::Child)> {
    use std::sync::atomic::AtomicU64;
    static SERIAL: AtomicU64 = AtomicU64::new(0);
    let listener = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "netns-test-fork-server-{}-{nanos}-{}",
        std::process::id(),
        SERIAL.fetch_add(1, Ordering::Relaxed)
    );
    let addr = UnixAddr::new_abstract(name.as_bytes())?;
    bind(std::os::fd::AsRawFd::as_raw_fd(&listener), &addr)?;
    listen(&listener, Backlog::new(128).unwrap_or(Backlog::MAXCONN))?;
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args([
        test,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
        "-q",
    ])
    .env(SERVER_ENV, test)
    .env(crate::plan::PLAN_ENV, crate::plan::of_this_process())
    .env_remove(CHILD_ENV)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    ns::spawn::serve_on(&mut cmd, listener.as_fd(), server::LISTEN_FD);
    let child = cmd.spawn()?;
    Ok((addr, child))
}

/// A test's child started by the server, or directly by the runner.
pub(crate) struct Child {
    pid: libc::pid_t,
    pidfd: OwnedFd,
    ending: Ending,
    /// The child's mount namespace (sent by the server with the start, or opened by
    /// the runner for a child of its own), for the runner to close off the test's path.
    held: Vec<OwnedFd>,
}

impl Child {
    /// Kills the child (its intermediate; the namespace's processes die with it).
    pub(crate) fn kill(&self) -> io::Result<()> {
        server::kill(self.pidfd.as_fd())
    }

    /// Whether the runner started this child itself (no server).
    pub(crate) fn is_direct(&self) -> bool {
        matches!(self.ending, Ending::Direct { .. })
    }

    /// Descriptors that came with the start (see `held`), to be closed off the path.
    pub(crate) fn take_held(&mut self) -> Vec<OwnedFd> {
        std::mem::take(&mut self.held)
    }

    /// Waits until the child has ended: the server reports how, or, for a child of
    /// this process, the kernel.
    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        let conn = match &self.ending {
            Ending::Server(conn) => conn,
            Ending::Direct { .. } => {
                return server::wait_mirrored(self.pid).map(ExitStatus::from_raw);
            }
        };
        let mut buf = [0u8; 16];
        loop {
            let (n, _) = recv_with_fds(conn.as_fd(), &mut buf)?;
            match Reply::decode(&buf[..n]) {
                Some(Reply::Ended(status)) => return Ok(ExitStatus::from_raw(status)),
                _ if n == 0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!(
                            "the fork server ended before reporting how the test's process \
                             (pid {}) ended",
                            self.pid
                        ),
                    ));
                }
                _ => {}
            }
        }
    }

    /// Waits until the child has ended, without learning how. A child of the server
    /// is over as soon as the kernel marks it exited (its pidfd turns readable), a hop
    /// before the server could say so; it exits last of the test's processes (the
    /// kernel ends the rest of its PID namespace first), so nothing of the test runs
    /// any more. A child of this process is reaped, as by [`Child::wait`].
    pub(crate) fn wait_gone(&mut self) -> io::Result<()> {
        if let Ending::Direct { .. } = self.ending {
            return self.wait().map(drop);
        }
        loop {
            let mut fds = [PollFd::new(self.pidfd.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => return Ok(()),
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
}

/// Where a child's end is learnt.
enum Ending {
    /// From the server, on the test's connection.
    Server(OwnedFd),
    /// From the kernel: the child is this process's. Its control socket stays open
    /// until then (the child reports its size there, as to a server).
    Direct { _ctl: OwnedFd },
}

/// The pool size of warm children the server keeps: enough for libtest's threads on
/// small machines, a few at most.
pub(crate) fn pool_size() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(1, 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_round_trip() {
        let req = Request {
            test: "seeds::s1::pings".into(),
            cwd: PathBuf::from("/work/x y"),
            env: vec![
                ("A".into(), "1=2".into()),
                ("EMPTY".into(), "".into()),
                (OsString::from_vec(b"K\xff".to_vec()), "v".into()),
            ],
        };
        assert_eq!(Request::test_of(&req.encode()), Some("seeds::s1::pings"));
        assert_eq!(Request::decode(&req.encode()), Some(req));
        assert_eq!(Request::test_of(b"Qname"), None, "unterminated");
        assert_eq!(Request::decode(b"Qname\0"), None, "no directory");
        assert_eq!(Request::decode(b"X"), None);
    }

    #[test]
    fn replies_round_trip() {
        for r in [
            Reply::Started(4242),
            Reply::Failed(Stage::IdMap, libc::EPERM),
            Reply::Ended(0x0900),
        ] {
            assert_eq!(Reply::decode(&r.encode()), Some(r));
        }
        assert_eq!(Reply::decode(b"P12"), None, "short");
        assert_eq!(Reply::decode(b""), None);
    }

    #[test]
    fn needs_round_trip() {
        let with = Needs {
            nodes: 3,
            test: Some("m::é".into()),
        };
        let without = Needs {
            nodes: 7,
            test: None,
        };
        for n in [with, without] {
            assert_eq!(Needs::decode(b'N', &n.encode(b'N')), Some(n.clone()));
            assert_eq!(Needs::decode(b'G', &n.encode(b'N')), None, "another tag");
        }
        assert_eq!(Needs::decode(b'G', b"G\x01\0\0"), None, "short count");
        assert_eq!(
            Needs::decode(b'G', b"G\x01\0\0\0\xff"),
            None,
            "a name that is not UTF-8"
        );
    }

    #[test]
    fn only_topologies_that_leave_the_host_alone_are_built_ahead() {
        let of = |text: &str| {
            let t = netns_test_topology::parse(text, "<t>").unwrap();
            Blueprint::of_any(&t, text, "<t>", 8)
        };
        let pair = r#"
            [nodes.a]
            [nodes.b]
            sysctl = { "net.ipv4.conf.all.rp_filter" = 2 }
            [[links]]
            endpoints = [
              { iface = "a:e", addresses = "10.0.0.1/24" },
              { iface = "b:e", addresses = "10.0.0.2/24" },
            ]
        "#;
        assert_eq!(
            of(pair),
            Some(Blueprint {
                text: pair.into(),
                origin: "<t>".into()
            })
        );
        for (why, text) in [
            (
                "an interface in the host",
                "[nodes.a]\n[[links]]\nendpoints = [\"host:e\", \"a:e\"]\n",
            ),
            ("the host's lo down", "[nodes.host]\nloopback = false\n"),
            (
                "forwarding in the host",
                "[nodes.host]\nforwarding = true\n",
            ),
            (
                "a route in the host",
                "[nodes.host]\nroutes = [\"blackhole 10.9.0.0/16\"]\n",
            ),
            (
                "IPv6 (accept_dad in the host)",
                "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [\n\
                 { iface = \"a:e\", addresses = \"fd00::1/64\" },\n\
                 { iface = \"b:e\", addresses = \"fd00::2/64\" },\n]\n",
            ),
            ("names (mounts)", "[nodes.a]\nhostname = \"alpha\"\n"),
            (
                "NAT (the nft program)",
                "[nodes.a]\nforwarding = true\nnat = [{ masquerade = \"e\" }]\n\
                 [nodes.b]\n[[links]]\nendpoints = [\"a:e\", \"b:e\"]\n",
            ),
            (
                "a link emulated in userspace (threads)",
                "[nodes.a]\n[nodes.b]\n[[links]]\nendpoints = [\"a:e\", \"b:e\"]\n\
                 mode = \"userspace\"\n",
            ),
            (
                "more nodes than spares",
                &(0..9)
                    .map(|i| format!("[nodes.n{i}]\n"))
                    .collect::<String>(),
            ),
        ] {
            assert_eq!(of(text), None, "built ahead with {why}");
        }
        // NETNS_TEST_BUILD_AHEAD=0: `it`'s `networks_built_ahead_are_the_topologys`.
    }
}
