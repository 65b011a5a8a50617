//! The topology model and parser shared by the `netns-test` runtime and its macro.
//!
//! Architecture Invariant: this crate makes no syscalls and contains no `unsafe`. It
//! turns topology text into a validated [`Topology`] or precise [`Diagnostic`]s.
#![forbid(unsafe_code)]

mod model;

pub use model::*;

/// Parses and validates topology text. `origin` names where it came from (a file path
/// as the user wrote it, or `<inline>`) and is used in error messages.
///
/// (Stub: replaced by the real parser.)
pub fn parse(_src: &str, _origin: &str) -> Result<Topology, Vec<String>> {
    Err(vec!["parser not written yet".into()])
}
