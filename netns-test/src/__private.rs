//! Runtime helpers the `#[netns_test]` expansion calls. Not a public API: names and
//! signatures here change without notice.

use crate::Net;

pub use inventory;

/// A `#[netns_test]` function, registered by the expansion so that the fork server
/// can run any test of the binary by its name (see `crate::forkserver`).
#[derive(Debug)]
pub struct Registered {
    /// `module_path!()` at the test function.
    pub module_path: &'static str,
    /// The test function's name.
    pub name: &'static str,
    /// The test function itself.
    pub run: fn(),
    /// Whether the topology's `host` node is plain (`Topology::host_is_plain`, found
    /// when the macro checked the topology): a fork server's child may then bring its
    /// own namespace's `lo` up before the test is known.
    pub plain_host: bool,
    /// The test's topology text and its origin, as the test passes them (`TestSpec`):
    /// the fork server builds a network ahead for the test it expects next.
    pub topology: fn() -> (&'static str, &'static str),
    /// Whether the test carries `#[ignore]` (before or after `#[netns_test]`: the macro
    /// sees both): the tests libtest is expected to run leave it out, unless libtest is
    /// asked for ignored tests.
    pub ignored: bool,
}

inventory::collect!(Registered);

/// Turns the fork server off (`false`) or back on for the tests this process starts
/// from now on, overriding `NETNS_TEST_FORK_SERVER` (the benchmark compares both ways).
pub fn set_fork_server(on: bool) {
    crate::forkserver::set_enabled(on);
}

/// Makes the runner start each test's child itself, as it does under nextest's
/// process-per-test mode, for the tests this process starts from now on (the
/// benchmark's row for that mode). [`set_fork_server`] ends it.
pub fn set_direct_start() {
    crate::forkserver::set_direct();
}

/// Waits up to `limit` until the capture sockets of every test this process ran are
/// closed (their namespaces can then be freed); returns how long that took.
pub fn wait_until_sockets_closed(limit: std::time::Duration) -> std::time::Duration {
    let t = std::time::Instant::now();
    crate::capture::closer::wait_until_closed(limit);
    t.elapsed()
}

/// Ends the threads this process keeps for closing capture sockets, once they are done
/// (up to `limit`), so that it is down to its own threads, as a process that runs one
/// test starts; they come back when next needed.
pub fn end_closer_threads(limit: std::time::Duration) -> bool {
    crate::capture::closer::end_pool_threads(limit)
}

/// How many threads this process has (the benchmark waits for its own to end before
/// a run as one test a process).
pub fn thread_count() -> Option<usize> {
    crate::ns::thread_count()
}

/// What the macro knows about one test, fixed at compile time.
#[derive(Debug)]
pub struct TestSpec {
    /// `module_path!()` at the test function.
    pub module_path: &'static str,
    /// The test function's name.
    pub name: &'static str,
    /// The topology text (the file's contents via `include_str!`, or the inline text).
    pub topology: &'static str,
    /// Where the topology came from, for messages: the path as the user wrote it, or
    /// `<inline>`.
    pub origin: &'static str,
}

/// The attribute's further options, checked at compile time; `None` means "the
/// environment's setting, else the default" (`NETNS_TEST_TIMEOUT`,
/// `NETNS_TEST_CAPTURE`, ...; see ARCHITECTURE.md, "Failure forensics").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestOptions {
    /// `timeout = "30s"` in milliseconds; `Some(0)` for `timeout = "none"`.
    pub timeout_ms: Option<u64>,
    /// `capture = "always" | "on-failure" | "never"`.
    pub capture: Option<&'static str>,
    /// `snaplen = N`: bytes kept of each packet.
    pub snaplen: Option<u32>,
    /// `capture_limit = "32MiB"` in bytes: the capture's memory cap.
    pub capture_limit: Option<u64>,
    /// `summary = N`: packets summarised at the end of a failure message.
    pub summary: Option<u32>,
    /// The function also has `#[should_panic]`: a panic is its success.
    pub expects_panic: bool,
    /// Its `expected = "..."`: only a panic whose message holds this text is.
    pub panic_expected: Option<&'static str>,
}

impl TestOptions {
    /// No option given.
    pub const DEFAULT: TestOptions = TestOptions {
        timeout_ms: None,
        capture: None,
        snaplen: None,
        capture_limit: None,
        summary: None,
        expects_panic: false,
        panic_expected: None,
    };
}

/// How a test body ended, in the child.
#[derive(Debug)]
pub enum Outcome {
    /// The body returned `()` or `Ok(())`.
    Pass,
    /// The body returned `Err(e)`: the error's display text and its `source()` chain.
    Fail(Vec<String>),
}

/// Converts what a test body returns into an [`Outcome`]: `()` and
/// `Result<(), E>` where `E` converts into `Box<dyn Error>`.
#[diagnostic::on_unimplemented(
    message = "a #[netns_test] function returns () or Result<(), E> where E: Into<Box<dyn Error>>, not `{Self}`"
)]
pub trait IntoOutcome {
    /// Converts.
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for () {
    fn into_outcome(self) -> Outcome {
        Outcome::Pass
    }
}

impl<E> IntoOutcome for Result<(), E>
where
    E: Into<Box<dyn std::error::Error>>,
{
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(()) => Outcome::Pass,
            Err(e) => {
                let e: Box<dyn std::error::Error> = e.into();
                let mut chain = vec![e.to_string()];
                let mut src = e.source();
                while let Some(s) = src {
                    chain.push(s.to_string());
                    src = s.source();
                }
                Outcome::Fail(chain)
            }
        }
    }
}

/// Runs a future to completion on a current-thread tokio runtime (for `async` bodies).
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("netns-test: cannot build a tokio runtime for an async test body")
        .block_on(fut)
}

/// The entry point of every `#[netns_test]`: in the test runner's process it starts a
/// child in fresh namespaces and reports its verdict; in that child it builds the
/// topology and runs `body`.
pub fn run_test(spec: &TestSpec, body: impl FnOnce(&Net) -> Outcome) {
    crate::runner::run(spec, &TestOptions::DEFAULT, body)
}

/// [`run_test`] with the attribute's further options (timeout, capture).
pub fn run_test_with(spec: &TestSpec, options: &TestOptions, body: impl FnOnce(&Net) -> Outcome) {
    crate::runner::run(spec, options, body)
}
