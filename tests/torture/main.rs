//! The torture suite: nothing leaks and nothing escapes, whatever the tests do.
//!
//! - `teardown`: many tests mixing pass, panic, `Err`, timeout, abort, daemons, threads
//!   that never end, and runners killed with SIGKILL at random moments; the machine's
//!   state is compared before and after.
//! - `isolation`: many tests in parallel with the same names and addresses, each
//!   seeing only its own network.
//! - `limits`: a topology over the kernel's namespace limit fails cleanly.
//! - `security`: artifacts belong to the invoking user and are not world-writable.
//! - `zoo`: malformed topologies are clear errors, never panics.
//!
//! Sizes: `NETNS_TEST_TORTURE=full` runs the sizes (1000 faulted tests, 200
//! parallel isolation tests); the default is a smaller run of the same mix.

#[path = "../common.rs"]
mod common;
mod isolation;
mod limits;
mod machine;
mod security;
mod teardown;
mod zoo;

/// How many faulted tests the teardown torture runs.
pub(crate) fn size(default: usize, full: usize) -> usize {
    match std::env::var("NETNS_TEST_TORTURE").as_deref() {
        Ok("full") => full,
        _ => default,
    }
}

/// The torture tests compare machine-wide state: they run one at a time.
pub(crate) static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
