#![doc = include_str!("../../README.md")]
//!
//! # Crate layout
//! - [`netns_test`] — the attribute.
//! - [`Net`], [`Node`], [`Interface`] — the running topology.
//! - [`Node::ping`], [`Node::trace`], [`PingReply`], [`Hop`] — reachability in Rust.
//! - [`isolate`], [`load`], [`Net::build`] — the same outside tests.
//! - [`Error`], [`Result`] — one error type with context.
//! - [`topology`] — the topology model (`netns-test-topology`).
//!
//! # Resource leaking
//! None by construction: every interface, route, namespace and process of a test lives
//! in namespaces owned by the test's child process, and the kernel destroys them when
//! that process ends, whether the test passed, panicked, returned `Err`, or its runner
//! was killed with SIGKILL (the child dies with it through `PR_SET_PDEATHSIG`). `Drop`
//! implementations here are a courtesy, not the mechanism. The only thing that can
//! outlive a test is a file the test itself writes outside its namespaces.
#![doc(html_root_url = "https://docs.rs/netns-test/0.1.0")]

mod build;
mod capture;
mod devices;
mod emulate;
mod error;
mod fallback;
mod faults;
mod forkserver;
mod hosts;
mod icmp;
mod nat;
mod net;
mod netlink;
mod ns;
mod plan;
mod runner;
mod standalone;
mod stp;
mod tap;
mod tc;
mod userns;

#[doc(hidden)]
pub mod __private;
pub mod probe;
pub mod scenario;

pub use error::{Error, MissingFeature, Result};
pub use fallback::FALLBACK_TUNNELS;
pub use icmp::{Hop, PingOptions, PingReply, ToIpAddr};
pub use net::{Interface, Net, Node};
pub use netns_test_macros::netns_test;
/// The topology model: what a topology file describes (re-exported from
/// `netns-test-topology`).
pub use netns_test_topology as topology;
pub use standalone::{isolate, load};

/// The plural ending of a count in messages: `""` for one, `"s"` otherwise.
pub(crate) fn plural<N: PartialEq + From<u8>>(n: N) -> &'static str {
    if n == N::from(1) { "" } else { "s" }
}

/// `start + after`, or, for a wait too long for the clock to represent (a caller's
/// `Duration::MAX`), a century on: a deadline never panics.
pub(crate) fn deadline(
    start: std::time::Instant,
    after: std::time::Duration,
) -> std::time::Instant {
    const CENTURY: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);
    start
        .checked_add(after)
        .or_else(|| start.checked_add(CENTURY))
        .unwrap_or(start)
}
