//! Closing capture sockets off the test's path.
//!
//! Closing an `AF_PACKET` socket waits for an RCU grace period (`synchronize_net()` in
//! the kernel's `packet_release`): about 13 ms each on the 2-core machine we measure
//! on, so three nodes' sockets closed in line added some 40 ms to every test. Sockets
//! handed to [`close_later`] are closed by a few long-lived threads instead; closes that
//! overlap share grace periods, and nothing waits for them. Sockets still queued when
//! the runner exits are closed by the kernel then.

use std::os::fd::OwnedFd;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

/// Threads closing sockets at once.
const THREADS: usize = 8;

static QUEUE: OnceLock<Mutex<Sender<OwnedFd>>> = OnceLock::new();

fn worker(rx: &Mutex<Receiver<OwnedFd>>) {
    loop {
        let next = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
        match next {
            Ok(fd) => drop(fd),
            Err(_) => return,
        }
    }
}

/// Closes `fds` soon, on the closer threads (started on first use). If a thread cannot
/// be started, the sockets are closed right here.
pub(crate) fn close_later(fds: Vec<OwnedFd>) {
    let queue = QUEUE.get_or_init(|| {
        let (tx, rx) = channel::<OwnedFd>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..THREADS {
            let rx = Arc::clone(&rx);
            let _ = std::thread::Builder::new()
                .name(format!("netns-test-closer-{i}"))
                .spawn(move || worker(&rx));
        }
        Mutex::new(tx)
    });
    let tx = queue.lock().unwrap_or_else(|p| p.into_inner());
    for fd in fds {
        // A send fails only if every worker is gone; the socket is then closed here.
        let _ = tx.send(fd);
    }
}
