//! netns-test's integration tests, written as a user of the crate writes them: one
//! test binary (as in xshell's `tests/it`), a module per concern.

mod api;
mod capture;
mod faults;
mod kernel;
mod kernel_probe;
mod nat;
mod seeds;
mod teardown;
mod ui;
