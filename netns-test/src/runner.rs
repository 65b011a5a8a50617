//! How one `#[netns_test]` runs: the parent half in the test runner's process, and the
//! child half in a fresh process inside the test's own namespaces.
//!
//! libtest runs every test body on a spawned thread, and a multi-threaded process cannot
//! `unshare(CLONE_NEWUSER)`, so the body runs in a child: the test binary itself,
//! re-executed (from `/proc/self/exe`) with a filter that selects just this test. The
//! child starts in new user, network, PID, mount, UTS and IPC namespaces, under a tiny
//! init of its own (see [`crate::ns::spawn::isolate`]), builds the topology, runs the body, writes a
//! verdict on a socket and leaves with `_exit`, before libtest could print anything of its
//! own. When it ends, for whatever reason, the kernel destroys its namespaces: every
//! interface, route and process the test made. The parent relays the child's output
//! through `print!`/`eprint!` (so libtest captures it as usual) and turns the verdict
//! into the test's result.
//!
//! The verdict channel is a Unix stream socket rather than a pipe so that the child can
//! hand the parent its capture sockets (see [`crate::capture`]): the parent captures,
//! enforces the timeout (killing the child), and writes the trace, whatever ended the
//! child.

use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::fcntl::OFlag;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::__private::{Outcome, TestOptions, TestSpec};
use crate::capture::{self, CapturePolicy, Settings};

use crate::error::Error;
use crate::forkserver::{self, Launch};
use crate::net::{CHILD_ENV, Net};
use crate::ns::forkserver::Found;
use crate::ns::{self, spawn};
use crate::userns;

/// The name libtest knows the test by: its module path without the crate, then the
/// function name.
pub(crate) fn libtest_name(module_path: &str, name: &str) -> String {
    match module_path.split_once("::") {
        Some((_, rest)) => format!("{rest}::{name}"),
        None => name.to_owned(),
    }
}

/// Whether `test` is [`libtest_name`]`(module_path, name)`, without building it (the
/// fork server's registry is searched on every test).
pub(crate) fn is_libtest_name(test: &str, module_path: &str, name: &str) -> bool {
    match module_path.split_once("::") {
        Some((_, rest)) => test
            .strip_prefix(rest)
            .and_then(|t| t.strip_prefix("::"))
            .is_some_and(|t| t == name),
        None => test == name,
    }
}

/// Entry point from the generated test function.
pub(crate) fn run(spec: &TestSpec, options: &TestOptions, body: impl FnOnce(&Net) -> Outcome) {
    let name = libtest_name(spec.module_path, spec.name);
    if let Some(listener) = ns::forkserver::listener_if_server(&name) {
        ns::forkserver::serve(listener, forkserver::pool_size())
    }
    let is_child = std::env::var_os(CHILD_ENV).is_some_and(|v| v == name.as_str())
        && ns::fd_is_open(spawn::VERDICT_FD);
    if is_child {
        child(spec, options, body)
    } else {
        let settings = Settings::from_env(options).unwrap_or_else(|e| fail(e));
        parent(&name, &settings)
    }
}

const PASS: &str = "pass";
const PANIC: &str = "panic";
const FAIL: &str = "fail";
const SETUP: &str = "setup";
/// Not sent by the child: the parent's own verdict when the deadline passed.
const TIMEOUT: &str = "timeout";

/// `1.5s`, `30s`, `250ms`.
fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else if d.as_secs() == 0 {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.3}s", d.as_secs_f64())
    }
}

/// How long the parent keeps relaying after killing a child that timed out.
const GRACE: Duration = Duration::from_secs(5);

fn child(spec: &TestSpec, options: &TestOptions, body: impl FnOnce(&Net) -> Outcome) -> ! {
    let fds = (
        ns::adopt_inherited_fd(spawn::VERDICT_FD),
        ns::adopt_inherited_fd(spawn::STDOUT_FD),
        ns::adopt_inherited_fd(spawn::STDERR_FD),
    );
    let (Ok(verdict), Ok(out), Ok(err)) = fds else {
        ns::exit_now(121)
    };
    // End with the runner, however it ends.
    match ns::adopt_inherited_fd(spawn::LIFELINE_FD) {
        Ok(lifeline) => spawn::watch_lifeline(lifeline),
        Err(_) => ns::exit_now(124),
    }
    // From here on, what the body prints reaches the parent.
    if ns::dup_onto(out.as_fd(), 1).is_err() || ns::dup_onto(err.as_fd(), 2).is_err() {
        ns::exit_now(122)
    }
    drop((out, err));
    // A procfs for our own PID namespace; without it /proc still works, showing more.
    let _ = ns::remount_proc();

    crate::standalone::mark_isolated();
    let setup = || -> Result<Net, Error> {
        let timing = std::env::var_os("NETNS_TEST_TIMING").is_some();
        match ns::forkserver::take_built_ahead(spec.topology, spec.origin) {
            Found::Same(net) => {
                ns::forkserver::report_needs(net.topology());
                if timing {
                    eprintln!("netns-test timing: network built ahead by the fork server");
                }
                return Ok(net);
            }
            Found::Another if timing => eprintln!(
                "netns-test timing: the network built ahead by the fork server was another \
                 topology's; building this one"
            ),
            Found::Another | Found::Nothing => {}
        }
        let topology = match ns::forkserver::take_parsed(spec.topology, spec.origin) {
            Some(topology) => {
                if timing {
                    eprintln!("netns-test timing: topology parsed ahead by the fork server");
                }
                topology
            }
            None => netns_test_topology::parse(spec.topology, spec.origin)?,
        };
        ns::forkserver::report_needs(&topology);
        Net::build_parsed(topology)
    };
    let message = match setup() {
        Err(e) => format!("{SETUP}\n{}", error_chain(&e).join("\0")),
        Ok(net) => match run_body(&net, options, verdict.as_fd(), body) {
            Ok(Outcome::Pass) => PASS.to_owned(),
            Ok(Outcome::Fail(chain)) => format!("{FAIL}\n{}", chain.join("\0")),
            Err(payload) => format!("{PANIC}\n{}", panic_message(&*payload)),
        },
    };
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    let mut f = std::fs::File::from(verdict);
    let code = if f.write_all(message.as_bytes()).is_ok() {
        0
    } else {
        123
    };
    // Close our ends now, not after the kernel has freed this process's memory: the
    // parent takes end-of-file as the end of the output and moves on meanwhile.
    drop(f);
    ns::detach_stdio();
    ns::exit_now(code)
}

/// Starts the capture (the sockets go to the parent, which reads them), then runs the
/// body under `catch_unwind`.
fn run_body(
    net: &Net,
    options: &TestOptions,
    verdict: std::os::fd::BorrowedFd<'_>,
    body: impl FnOnce(&Net) -> Outcome,
) -> std::thread::Result<Outcome> {
    let capture = Settings::from_env(options).is_ok_and(|s| s.policy != CapturePolicy::Never);
    let started = std::time::Instant::now();
    if capture {
        match capture::handoff::send(net, verdict) {
            Ok(()) => {}
            Err(capture::handoff::SendError::Capture(e)) => {
                eprintln!("netns-test: packet capture unavailable: {e}");
            }
            Err(capture::handoff::SendError::Stranded(e)) => {
                return Ok(Outcome::Fail(vec![
                    "netns-test: could not return to the host node after opening the \
                     capture's sockets in the other nodes; the body did not run"
                        .to_owned(),
                    e.to_string(),
                ]));
            }
        }
    }
    if std::env::var_os("NETNS_TEST_TIMING").is_some() {
        eprintln!(
            "netns-test timing: capture hand-off {:.2} ms",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    catch_unwind(AssertUnwindSafe(|| body(net)))
}

fn error_chain(e: &dyn std::error::Error) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut src = e.source();
    while let Some(s) = src {
        out.push(s.to_string());
        src = s.source();
    }
    out
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// Fails the running test with `message` without a second panic report: the text is
/// printed (libtest shows it with the test's output) and the unwind carries it, so
/// `#[should_panic(expected = ...)]` can match it.
fn fail(message: String) -> ! {
    eprintln!("{message}");
    resume_unwind(Box::new(message))
}

fn pipe() -> (OwnedFd, OwnedFd) {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .unwrap_or_else(|e| fail(format!("netns-test: cannot create a pipe: {e}")))
}

/// The verdict channel: a Unix stream socket pair (it can carry descriptors).
fn verdict_channel() -> (OwnedFd, OwnedFd) {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .unwrap_or_else(|e| fail(format!("netns-test: cannot create a socket pair: {e}")))
}

fn parent(name: &str, settings: &Settings) {
    if settings.policy != CapturePolicy::Never {
        let _ = capture::keep_timestamps_on();
    }
    capture::closer::prepare_pool();
    // Everything this test opens (pipes, the capture's sockets) stays out of the other
    // tests' forks, and theirs out of ours.
    ns::private_fd_table();
    let exe = std::env::current_exe().unwrap_or_else(|e| {
        fail(format!(
            "netns-test: cannot find this test binary (/proc/self/exe) to start the \
             test's isolated child: {e}"
        ))
    });
    let (verdict_r, verdict_w) = verdict_channel();
    let (out_r, out_w) = pipe();
    let (err_r, err_w) = pipe();
    // Held here until the child has ended: its end-of-file tells the child that the
    // runner is gone (see `spawn::watch_lifeline`).
    let (life_r, life_w) = pipe();
    let fds = [
        verdict_w.as_fd(),
        out_w.as_fd(),
        err_w.as_fd(),
        life_r.as_fd(),
    ];
    let refused = |stage: Option<spawn::Stage>, e: std::io::Error| -> ! {
        let cause = userns::diagnose(&userns::ProcFacts::read(), stage, &e);
        fail(Error::UserNamespaces { cause, source: e }.to_string())
    };
    let launching = Instant::now();
    let mut child = match forkserver::launch(name, fds) {
        Launch::Started(c) => Child::Forked(c),
        Launch::Refused(stage, e) => refused(Some(stage), e),
        Launch::Unavailable => match spawn_reexecuted(&exe, name, fds) {
            Ok(c) => {
                let mnt = ns::forkserver::mount_namespace(c.id() as libc::pid_t);
                Child::Exec(c, mnt)
            }
            Err(e) => {
                drop((verdict_w, out_w, err_w, life_r));
                let mut stage = [0u8; 1];
                let n = std::fs::File::from(verdict_r).read(&mut stage).unwrap_or(0);
                let stage = (n == 1)
                    .then(|| spawn::Stage::from_byte(stage[0]))
                    .flatten();
                refused(stage, e)
            }
        },
    };
    drop((verdict_w, out_w, err_w, life_r));
    let timing = std::env::var_os("NETNS_TEST_TIMING").is_some();
    if timing {
        let how = match &child {
            Child::Exec(..) => "re-executed",
            Child::Forked(c) if c.is_direct() => "cloned by the runner",
            Child::Forked(_) => "from the fork server",
        };
        eprintln!(
            "netns-test timing: child started {how} in {:.2} ms",
            launching.elapsed().as_secs_f64() * 1e3
        );
    }
    let mut session = capture::Session::new(settings, &exe, name);
    let deadline = settings.timeout.map(|t| crate::deadline(Instant::now(), t));
    let (verdict, timed_out) = relay(verdict_r, out_r, err_r, &mut session, deadline, || {
        child.kill();
    });
    let verdict_at = Instant::now();
    // The trace runs up to the verdict; the capture thread drains it while the child
    // ends.
    session.stop();
    let verdict = String::from_utf8_lossy(&verdict);
    let (kind, rest) = verdict.split_once('\n').unwrap_or((&verdict, ""));
    let kind = if timed_out { TIMEOUT } else { kind };
    // How the child ended matters only when it left no verdict.
    let status = child.end(![PASS, PANIC, FAIL, SETUP, TIMEOUT].contains(&kind));
    let held = child.take_held();
    drop(life_w);
    if timing {
        eprintln!(
            "netns-test timing: child ended {:.2} ms after its verdict",
            verdict_at.elapsed().as_secs_f64() * 1e3
        );
    }
    let failed = match kind {
        PASS => settings.expects_panic,
        // As libtest judges it: the panic's message must hold the expected text.
        PANIC if settings.expects_panic => settings
            .panic_expected
            .is_some_and(|expected| !rest.contains(expected)),
        _ => true,
    };
    let finishing = Instant::now();
    let releasing = crate::capture::closer::releasing_processes_started();
    let body_reached = session.body_reached();
    let forensics = session.finish(failed, held).unwrap_or_default();
    if timing {
        let started = crate::capture::closer::releasing_processes_started() - releasing;
        eprintln!(
            "netns-test timing: capture finished in {:.2} ms; its sockets are closed {}",
            finishing.elapsed().as_secs_f64() * 1e3,
            match started {
                0 => "on threads".to_owned(),
                n => format!("by {n} releasing process{}", if n == 1 { "" } else { "es" }),
            }
        );
    }
    let with_forensics = |msg: String| -> String {
        if forensics.is_empty() {
            msg
        } else {
            format!("{msg}\n\n{}", forensics.trim_end())
        }
    };
    match kind {
        PASS => {
            if !forensics.is_empty() {
                // `#[should_panic]` and no panic: libtest reports the failure.
                eprintln!("{}", forensics.trim_end());
            }
        }
        PANIC => {
            if !forensics.is_empty() {
                eprintln!("\n{}", forensics.trim_end());
            }
            if settings.expects_panic {
                // libtest matches `expected` against the message: the trace's text
                // must not make a wrong panic look like the expected one.
                resume_unwind(Box::new(rest.to_owned()))
            }
            resume_unwind(Box::new(with_forensics(rest.to_owned())))
        }
        TIMEOUT => harness_failure(
            settings,
            with_forensics(format!(
                "netns-test: the test timed out after {}; its processes were killed (set \
                 `timeout = \"...\"` on the test or NETNS_TEST_TIMEOUT)",
                human(settings.timeout.unwrap_or_default())
            )),
        ),
        FAIL => {
            let mut lines = rest.split('\0');
            let mut msg = format!("Error: {}", lines.next().unwrap_or_default());
            let causes: Vec<&str> = lines.collect();
            if !causes.is_empty() {
                msg.push_str("\n\nCaused by:");
                for (i, c) in causes.iter().enumerate() {
                    msg.push_str(&format!("\n    {i}: {c}"));
                }
            }
            fail(with_forensics(msg))
        }
        SETUP => harness_failure(
            settings,
            format!(
                "netns-test: could not set up the test's network:\n{}",
                rest.replace('\0', "\n  caused by: ")
            ),
        ),
        _ => {
            // Asked for above: a child that left no verdict always has its status read.
            let status = status.and_then(|s| {
                s.ok_or_else(|| std::io::Error::other("the child's exit status was not asked for"))
            });
            let why = no_verdict(&status, name, &exe, body_reached);
            harness_failure(settings, with_forensics(why))
        }
    }
}

/// What the failure says of a child that ended without a verdict, from how it ended
/// and whether it was known to reach the body.
fn no_verdict(
    status: &std::io::Result<std::process::ExitStatus>,
    name: &str,
    exe: &std::path::Path,
    body_reached: bool,
) -> String {
    let signal = status
        .as_ref()
        .ok()
        .and_then(std::os::unix::process::ExitStatusExt::signal);
    let code = status.as_ref().ok().and_then(|s| s.code());
    match (signal, code, status) {
        (Some(sig), _, _) => format!(
            "netns-test: the test was killed by signal {sig} ({}) before it \
             finished",
            signal_name(sig)
        ),
        (None, Some(0), _) if body_reached => "netns-test: the test's process exited with \
             status 0 before it finished (a body calling std::process::exit(0)?)"
            .to_owned(),
        (None, Some(0), _) => format!(
            "netns-test: the test's isolated child ended with status 0 and no verdict: \
             its body called std::process::exit(0), or it ran no test because the name \
             `{name}` was not found in {} (a renamed or cfg'd-out test?)",
            exe.display()
        ),
        (None, Some(code), _) => format!(
            "netns-test: the test's process exited with status {code} before it \
             finished (a body calling std::process::exit?)"
        ),
        (None, None, Err(e)) => {
            format!("netns-test: the test's process could not be waited for: {e}")
        }
        (None, None, Ok(s)) => format!("netns-test: the test's process ended: {s}"),
    }
}

/// A test's isolated child, however it was started.
enum Child {
    /// The test binary, re-executed, and its mount namespace, held so that the
    /// runner's closer frees it, off the test's path (see
    /// `ns::forkserver::mount_namespace`).
    Exec(std::process::Child, Option<OwnedFd>),
    /// A child of the fork server.
    Forked(forkserver::Child),
}

impl Child {
    fn kill(&mut self) {
        let _ = match self {
            Child::Exec(c, _) => c.kill(),
            Child::Forked(c) => c.kill(),
        };
    }

    /// Descriptors to close once the child has ended (its mount namespace).
    fn take_held(&mut self) -> Vec<OwnedFd> {
        match self {
            Child::Exec(_, mnt) => mnt.take().into_iter().collect(),
            Child::Forked(c) => c.take_held(),
        }
    }

    /// Waits until the child has ended, and says how only when asked (`how`): a
    /// child of the fork server is then over a hop sooner (see
    /// `forkserver::Child::wait_gone`).
    fn end(&mut self, how: bool) -> std::io::Result<Option<std::process::ExitStatus>> {
        match self {
            Child::Forked(c) if !how => c.wait_gone().map(|()| None),
            Child::Forked(c) => c.wait().map(Some),
            Child::Exec(c, _) => c.wait().map(Some),
        }
    }
}

/// Starts the test binary again, filtered to `name`, as the test's isolated child
/// with `fds` (verdict, stdout, stderr, lifeline) on descriptors 3 to 6.
fn spawn_reexecuted(
    exe: &std::path::Path,
    name: &str,
    fds: [std::os::fd::BorrowedFd<'_>; 4],
) -> std::io::Result<std::process::Child> {
    let mut cmd = Command::new(exe);
    cmd.args([
        name,
        "--exact",
        "--nocapture",
        "--test-threads=1",
        "--include-ignored",
        "-q",
    ])
    .env(CHILD_ENV, name)
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    let [verdict, stdout, stderr, lifeline] = fds;
    spawn::isolate(
        &mut cmd,
        spawn::ChildFds {
            verdict,
            stdout,
            stderr,
            lifeline,
        },
    );
    cmd.spawn()
}

/// Fails the test for a reason that is not the body's own panic (timeout, set-up error,
/// a signal). Under `#[should_panic]` a panic would count as success, so there the
/// message is printed and the function returns: libtest then fails the test with "did
/// not panic as expected".
fn harness_failure(settings: &Settings, message: String) {
    if settings.expects_panic {
        eprintln!(
            "{message}\n(netns-test: this is not the panic #[should_panic] expects, so the \
             test fails)"
        );
    } else {
        fail(message)
    }
}

/// The usual name of a signal, for messages.
fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGABRT => "SIGABRT: abort()",
        libc::SIGSEGV => "SIGSEGV: invalid memory access or stack overflow",
        libc::SIGKILL => "SIGKILL",
        libc::SIGTERM => "SIGTERM",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGINT => "SIGINT",
        _ => "see signal(7)",
    }
}

/// Copies the child's stdout and stderr to ours, line by line through `print!` and
/// `eprint!`, until all three channels close; returns what came on the verdict socket
/// (capture descriptors and header go to `session`) and whether `deadline` passed.
/// At the deadline `kill` is called, and relaying goes on for at most [`GRACE`].
fn relay(
    verdict: OwnedFd,
    out: OwnedFd,
    err: OwnedFd,
    session: &mut capture::Session,
    mut deadline: Option<Instant>,
    mut kill: impl FnMut(),
) -> (Vec<u8>, bool) {
    let mut files = [
        Some(std::fs::File::from(verdict)),
        Some(std::fs::File::from(out)),
        Some(std::fs::File::from(err)),
    ];
    let mut bufs: [Vec<u8>; 3] = Default::default();
    let mut chunk = vec![0u8; 64 * 1024];
    let mut timed_out = false;
    while files.iter().any(Option::is_some) {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    if timed_out {
                        break; // The backstop: the child's pipes outlived the kill.
                    }
                    timed_out = true;
                    kill();
                    deadline = Some(Instant::now() + GRACE);
                    continue;
                }
                PollTimeout::try_from(left.as_millis().min(60_000) as u32 + 1)
                    .unwrap_or(PollTimeout::MAX)
            }
        };
        let ready: Vec<usize> = {
            let (idx, mut pfds): (Vec<usize>, Vec<PollFd<'_>>) = files
                .iter()
                .enumerate()
                .filter_map(|(i, f)| {
                    f.as_ref()
                        .map(|f| (i, PollFd::new(f.as_fd(), PollFlags::POLLIN)))
                })
                .unzip();
            match poll(&mut pfds, timeout) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break,
            }
            idx.into_iter()
                .zip(&pfds)
                .filter(|(_, p)| p.revents().is_some_and(|r| !r.is_empty()))
                .map(|(i, _)| i)
                .collect()
        };
        for i in ready {
            let Some(f) = files[i].as_mut() else { continue };
            let got = if i == 0 {
                ns::packet::recv_with_fds(f.as_fd(), &mut chunk).map(|(n, fds)| {
                    bufs[0].extend_from_slice(&chunk[..n]);
                    session.feed(&mut bufs[0], fds);
                    n
                })
            } else {
                f.read(&mut chunk)
                    .inspect(|n| bufs[i].extend_from_slice(&chunk[..*n]))
            };
            if matches!(got, Ok(0) | Err(_)) {
                files[i] = None;
            }
            if i > 0 {
                emit(i, &mut bufs[i], files[i].is_none());
            }
        }
    }
    session.end_of_stream(&mut bufs[0]);
    (std::mem::take(&mut bufs[0]), timed_out)
}

/// Prints the complete lines in `buf` (all of it at end of file) to stdout (`which` 1)
/// or stderr (2).
fn emit(which: usize, buf: &mut Vec<u8>, eof: bool) {
    let cut = if eof {
        buf.len()
    } else {
        match buf.iter().rposition(|b| *b == b'\n') {
            Some(p) => p + 1,
            None => return,
        }
    };
    let text: Vec<u8> = buf.drain(..cut).collect();
    let text = String::from_utf8_lossy(&text);
    if which == 1 {
        print!("{text}");
    } else {
        eprint!("{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtest_names_drop_the_crate() {
        let spec = TestSpec {
            module_path: "it::seeds::s1",
            name: "pings",
            topology: "",
            origin: "",
        };
        assert_eq!(
            libtest_name(spec.module_path, spec.name),
            "seeds::s1::pings"
        );
        assert_eq!(libtest_name("s1", spec.name), "pings");
        for (module_path, name) in [
            ("it::seeds::s1", "pings"),
            ("s1", "pings"),
            ("it::seeds", "s1::pings"),
        ] {
            for test in ["seeds::s1::pings", "pings", "s1::pings", "seeds::s1::ping"] {
                assert_eq!(
                    is_libtest_name(test, module_path, name),
                    libtest_name(module_path, name) == test,
                    "{test} vs {module_path} {name}"
                );
            }
        }
    }
}
