//! Failure forensics: every packet on every interface of every node, from just before
//! the body starts until the verdict, kept as a pcapng file when the test fails and
//! summarised at the end of the failure message.
//!
//! - [`handoff`]: the child opens an `AF_PACKET` socket (and a netlink socket, for
//!   names) in each node and passes them to the parent over the verdict socket.
//! - [`engine`]: the parent reads them on one thread, into a bounded [`store`].
//! - [`pcapng`], [`summary`], [`report`], [`artifacts`]: the file, the one-line
//!   decodes, the message, and where the file goes.
//! - [`settings`]: attribute options, environment and defaults.

pub(crate) mod artifacts;
pub(crate) mod closer;
pub(crate) mod engine;
pub(crate) mod handoff;
pub(crate) mod links;
pub(crate) mod pcapng;
pub(crate) mod report;
pub(crate) mod settings;
pub(crate) mod store;
pub(crate) mod summary;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub(crate) use settings::{CapturePolicy, Settings};

/// "1 packet", "2 packets": counts in messages and in the trace's comments.
pub(crate) fn packets(n: u64) -> String {
    format!("{n} packet{}", crate::plural(n))
}

/// "32 MiB", "4 KiB", "1000 bytes": a byte count as a user writes `capture_limit`.
pub(crate) fn size(bytes: u64) -> String {
    for (shift, unit) in [(30, "GiB"), (20, "MiB"), (10, "KiB")] {
        if bytes >= 1 << shift && bytes % (1 << shift) == 0 {
            return format!("{} {unit}", bytes >> shift);
        }
    }
    format!("{bytes} byte{}", crate::plural(bytes))
}

/// What the trace says of packets kept cut for the rate, after "N packets": the rest
/// of the sentence but the closing parenthesis, which the caller gives with its advice.
pub(crate) fn cut_for_the_rate(limit: u64) -> String {
    format!(
        "kept cut to their first {} bytes: the traffic ran faster than the capture keeps \
         whole packets ({} a second, and bursts of as much: the memory cap's worth",
        engine::HEADERS,
        size(limit)
    )
}

/// Keeps the kernel's receive timestamps switched on for as long as this process runs
/// tests, by holding one socket that asks for them (a netlink socket: it belongs to no
/// interface, and nothing is bound or created). Called by a runner thread before it
/// gives itself a private descriptor table; every such table keeps the socket
/// ([`crate::ns::keep_in_private_tables`]). Returns the socket held, if there is one.
///
/// Why: timestamps are a static key in the kernel, switched on when the first socket
/// in the machine asks for them and off when the last one closes, each time by a
/// kernel worker that patches code on every CPU. Each test's capture sockets are the
/// only ones asking, so back to back every test switched it on and off again: the
/// switching was 0.8% of the CPU time of two-node tests back to back (`perf record -a
/// -g`: `static_key_enable`, `static_key_disable`), a test costs about 3% less CPU
/// without it, and it no longer interrupts the CPU the next test runs on. A process
/// that runs one test gains nothing from it.
pub(crate) fn keep_timestamps_on() -> Option<std::os::fd::BorrowedFd<'static>> {
    static KEEPER: std::sync::OnceLock<Option<OwnedFd>> = std::sync::OnceLock::new();
    if crate::forkserver::one_test_per_process() {
        return None;
    }
    let keeper = KEEPER.get_or_init(|| {
        use nix::sys::socket::{setsockopt, sockopt};
        use std::os::fd::AsRawFd;
        let s = links::open_socket().ok()?;
        setsockopt(&s, sockopt::ReceiveTimestampns, &true).ok()?;
        crate::ns::keep_in_private_tables(s.as_raw_fd());
        Some(s)
    });
    keeper.as_ref().map(std::os::fd::AsFd::as_fd)
}

/// The parent's side of one test's capture.
#[derive(Debug)]
pub(crate) struct Session {
    policy: CapturePolicy,
    snaplen: u32,
    limit: u64,
    summary: usize,
    path: PathBuf,
    receiver: handoff::Receiver,
    running: Option<engine::Running>,
    /// Why the capture could not start, if it could not.
    problem: Option<String>,
}

impl Session {
    /// A session for the test `libtest_name` of the binary `exe`.
    pub(crate) fn new(settings: &Settings, exe: &std::path::Path, libtest_name: &str) -> Session {
        let root = std::env::var_os(settings::ARTIFACTS_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        Session {
            policy: settings.policy,
            snaplen: settings.snaplen,
            limit: settings.limit,
            summary: settings.summary as usize,
            path: artifacts::trace_path(exe, libtest_name, root.as_deref()),
            receiver: handoff::Receiver::default(),
            running: None,
            problem: None,
        }
    }

    /// Takes the capture header and descriptors off the start of the verdict stream
    /// (`buf`, all bytes so far; `fds`, descriptors that came with the last read) and
    /// starts capturing once they are complete.
    pub(crate) fn feed(&mut self, buf: &mut Vec<u8>, fds: Vec<OwnedFd>) {
        self.receiver.add_fds(fds);
        if let Some(h) = self.receiver.take(buf) {
            if self.policy == CapturePolicy::Never {
                return;
            }
            match engine::start(h.nodes, h.start, self.snaplen, self.limit) {
                Ok(r) => self.running = Some(r),
                Err(e) => self.problem = Some(format!("cannot start the capture thread: {e}")),
            }
        }
    }

    /// Whether the child handed its capture over, which it does just before the body
    /// runs (with the capture on).
    pub(crate) fn body_reached(&self) -> bool {
        self.receiver.came()
    }

    /// Called when the verdict stream has ended: drops a capture header whose
    /// descriptors did not all arrive, leaving the verdict behind it.
    pub(crate) fn end_of_stream(&mut self, buf: &mut Vec<u8>) {
        if self.receiver.abandon(buf) {
            self.problem = Some("the child's capture sockets did not all arrive".to_owned());
        }
    }

    /// Stops reading at the verdict: the capture thread drains what is queued while
    /// the child ends; [`Session::finish`] collects it.
    pub(crate) fn stop(&mut self) {
        if let Some(r) = &mut self.running {
            r.stop();
        }
    }

    /// Stops the capture. When the test `failed` (or the policy is `always`) the trace
    /// is written; returns the text for the failure message (`None` when the test
    /// passed or nothing was captured). The capture's sockets, and `to_close` with
    /// them, are closed on a thread of their own.
    pub(crate) fn finish(self, failed: bool, mut to_close: Vec<OwnedFd>) -> Option<String> {
        let trace = self.running.and_then(engine::Running::finish).map(|mut t| {
            to_close.append(&mut t.sockets);
            t
        });
        closer::close_later(to_close);
        let Some(trace) = trace else {
            if failed && let Some(p) = self.problem {
                return Some(format!("netns-test: no packet trace: {p}\n"));
            }
            return None;
        };
        if !failed && self.policy != CapturePolicy::Always {
            // A trace from an earlier failing run would now mislead.
            let _ = std::fs::remove_file(&self.path);
            return None;
        }
        let written = pcapng::write_file(&trace, &self.path);
        let text = report::report(
            &trace,
            &self.path,
            written.as_ref().map(|_| ()),
            self.summary,
        );
        if failed {
            Some(text)
        } else {
            println!("{}", text.lines().next().unwrap_or_default());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsRawFd;

    #[test]
    fn one_socket_keeps_timestamps_on_for_the_whole_process() {
        use nix::sys::socket::{getsockopt, sockopt};
        let first = super::keep_timestamps_on();
        if crate::forkserver::one_test_per_process() {
            // nextest's process-per-test mode: the process ends with its one test.
            assert!(first.is_none());
            return;
        }
        let first = first.expect("a netlink socket can be opened here");
        assert!(getsockopt(&first, sockopt::ReceiveTimestampns).unwrap());
        let again = super::keep_timestamps_on().unwrap();
        assert_eq!(
            first.as_raw_fd(),
            again.as_raw_fd(),
            "one socket, not one a call"
        );
        // A runner thread's private table keeps it too: with `--test-threads=1` that
        // table is the only one left holding it.
        let path = format!("/proc/thread-self/fd/{}", first.as_raw_fd());
        let socket = std::fs::read_link(&path).unwrap();
        let kept = std::thread::spawn(move || {
            assert!(crate::ns::private_fd_table());
            std::fs::read_link(&path).ok()
        })
        .join()
        .unwrap();
        assert_eq!(kept, Some(socket), "the private table closed the socket");
    }

    #[test]
    fn sizes_read_as_a_user_writes_them() {
        assert_eq!(super::size(32 << 20), "32 MiB");
        assert_eq!(super::size(4096), "4 KiB");
        assert_eq!(super::size(3 << 30), "3 GiB");
        assert_eq!(super::size(1000), "1000 bytes");
        assert_eq!(super::size((1 << 20) + 1), "1048577 bytes");
        assert_eq!(super::size(1), "1 byte");
    }
}
