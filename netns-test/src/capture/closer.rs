//! Closing capture sockets off the test's path.
//!
//! Closing an `AF_PACKET` socket waits for an RCU grace period (`synchronize_net()` in
//! the kernel's `packet_release`): about 13 ms each on the 2-core machine we measure
//! on, so three nodes' sockets closed in line added some 40 ms to every test, and a
//! hundred-node test over a second. [`close_later`] closes them on a detached thread
//! instead, which shares the caller's descriptor table (each test's runner thread has
//! a private one, see `ns::private_fd_table`, so no other test's fork can inherit these
//! sockets and end up paying for their release). Sockets still open when the runner
//! exits are closed by the kernel then.

use std::os::fd::OwnedFd;

/// Closes `fds` soon, on a new detached thread; if no thread can be started, here.
pub(crate) fn close_later(fds: Vec<OwnedFd>) {
    if fds.is_empty() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("netns-test-closer".into())
        .spawn(move || drop(fds));
    // On failure the closure, and with it the descriptors, were dropped already.
    drop(spawned);
}
