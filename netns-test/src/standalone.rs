//! Using netns-test outside `#[netns_test]`: from a program's `main`, as the command
//! line tool and the examples do.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use netns_test_topology::Topology;

use crate::error::{Error, Result};
use crate::net::Net;
use crate::{ns, userns};

/// Set once this process stands in namespaces of its own.
static ISOLATED: AtomicBool = AtomicBool::new(false);

pub(crate) fn mark_isolated() {
    ISOLATED.store(true, Ordering::SeqCst);
}

/// Whether this process stands in namespaces of its own (after [`isolate`], or as a
/// test's child).
pub(crate) fn is_isolated() -> bool {
    ISOLATED.load(Ordering::SeqCst)
}

fn threads() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Moves the rest of this program into throwaway namespaces of its own: a new user
/// namespace (your uid mapped to root inside, no privileges needed), network, mount,
/// PID, UTS and IPC namespaces. Everything the program builds there disappears when it
/// exits, however it exits. This is what `#[netns_test]` does for each test.
///
/// Call it first thing in `main`, before any thread is started (the kernel refuses a
/// new user namespace to a multi-threaded process). The process forks: the function
/// returns in a child inside the new PID namespace (under a tiny init that is its PID
/// 1), while the original process waits and exits with the child's status.
///
/// ```no_run
/// fn main() -> netns_test::Result<()> {
///     netns_test::isolate()?;
///     let topology = netns_test::load("fixtures/s1.toml")?;
///     let net = netns_test::Net::build(topology)?;
///     println!("{:?}", net.node("ns1").ping("192.168.1.2")?);
///     Ok(())
/// }
/// ```
pub fn isolate() -> Result<()> {
    if ISOLATED.load(Ordering::SeqCst) {
        return Ok(());
    }
    if let Some(n) = threads().filter(|n| *n > 1) {
        return Err(Error::io(
            None,
            format!(
                "netns_test::isolate() must run before any thread starts (this process has \
                 {n}); call it first thing in main, before building a tokio runtime"
            ),
            std::io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    ns::spawn::isolate_self().map_err(|(stage, e)| {
        let cause = userns::diagnose(&userns::ProcFacts::read(), stage, &e);
        Error::UserNamespaces { cause, source: e }
    })?;
    mark_isolated();
    let _ = ns::remount_proc();
    Ok(())
}

/// Reads and validates a topology file.
pub fn load(path: impl AsRef<Path>) -> Result<Topology> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io(None, format!("reading topology file {}", path.display()), e))?;
    Ok(netns_test_topology::parse(
        &text,
        &path.display().to_string(),
    )?)
}

impl Net {
    /// Builds `topology` in this process's namespaces; the calling thread's network
    /// namespace becomes the `host` node.
    ///
    /// Only allowed after [`isolate`] (or inside a `#[netns_test]`), so that nothing is
    /// ever created in the machine's own network namespace: otherwise it returns
    /// [`Error::NotIsolated`].
    pub fn build(topology: Topology) -> Result<Net> {
        // A topology built or changed in code has not been through the parser's checks.
        topology.check().map_err(|why| {
            Error::io(
                None,
                format!("the topology `{}` cannot be built: {why}", topology.origin),
                std::io::Error::from(std::io::ErrorKind::InvalidInput),
            )
        })?;
        Net::build_parsed(topology)
    }

    /// [`Net::build`] for a topology straight from the parser, which
    /// [`Topology::check`](netns_test_topology::Topology::check) always passes: a
    /// test's own, on its path.
    pub(crate) fn build_parsed(topology: Topology) -> Result<Net> {
        if !ISOLATED.load(Ordering::SeqCst) {
            return Err(Error::NotIsolated);
        }
        let built = crate::build::build(&topology)?;
        Ok(Net::from_built(topology, built))
    }
}
