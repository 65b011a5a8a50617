//! netns-test gives every integration test its own throwaway network.
//!
//! (Crate documentation: see the README; expanded below once the API settles.)
#![doc(html_root_url = "https://docs.rs/netns-test/0.1.0")]

mod build;
mod error;
mod icmp;
mod net;
mod netlink;
mod ns;
mod runner;
mod userns;

#[doc(hidden)]
pub mod __private;

pub use error::{Error, MissingFeature, Result};
pub use icmp::{Hop, PingOptions, PingReply, ToIpAddr};
pub use net::{Interface, Net, Node};
pub use netns_test_macros::netns_test;
/// The topology model: what a topology file describes (re-exported from
/// `netns-test-topology`).
pub use netns_test_topology as topology;
