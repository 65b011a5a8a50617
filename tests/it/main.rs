//! netns-test's integration tests, written as a user of the crate writes them: one
//! test binary (as in xshell's `tests/it`), a module per concern.

mod api;
mod capture;
#[path = "../common.rs"]
mod common;
mod devices;
mod faults;
mod forkserver;
mod kernel;
mod kernel_devices;
mod kernel_impairments;
mod kernel_probe;
mod nat;
mod seeds;
mod support;
mod teardown;
mod ui;
