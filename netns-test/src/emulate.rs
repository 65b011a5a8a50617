//! Links emulated in userspace (`mode = "userspace"`): each end is a tap device in its
//! node, and the harness forwards frames between the two descriptors, applying the
//! sending end's netem settings itself (delay, jitter, loss, duplication, reordering,
//! corruption). This gives impairments on kernels without netem; a `rate` still goes to
//! a tbf qdisc, which every such kernel has.
//!
//! Each direction has a reader thread (poll, read a frame, decide its fate, hand it on
//! with a due time) and a writer thread (a heap of frames by due time). The threads end
//! when the network is dropped, and at the latest with the test's process.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netns_test_topology::{Impairment, Ratio};

/// How often the threads look at the stop flag while idle.
const TICK: Duration = Duration::from_millis(100);
/// Frames queued in one direction beyond which new ones are dropped (netem's default).
const QUEUE_LIMIT: usize = 1000;

/// The impairment an emulated end applies, changeable while the link runs.
pub(crate) type Params = Arc<Mutex<Impairment>>;

/// The threads of one emulated link; dropping it stops them.
pub(crate) struct Forwarder {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A small xorshift generator: impairments need cheap randomness, not quality.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((t ^ seed.rotate_left(17)) | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// True with probability `r`.
    fn chance(&mut self, r: Option<Ratio>) -> bool {
        r.is_some_and(|r| (self.next() % 1_000_000) < u64::from(r.0))
    }
}

/// Starts forwarding between the taps of the two ends; `params[i]` is the impairment
/// of what end `i` sends.
pub(crate) fn start(
    name: &str,
    ends: [OwnedFd; 2],
    params: [Params; 2],
) -> std::io::Result<Forwarder> {
    let stop = Arc::new(AtomicBool::new(false));
    let [a, b] = ends;
    let files = [File::from(a), File::from(b)];
    let mut threads = Vec::new();
    for (from, dir) in [(0usize, "a-b"), (1, "b-a")] {
        let to = 1 - from;
        let src = files[from].try_clone()?;
        let dst = files[to].try_clone()?;
        let p = params[from].clone();
        let (tx, rx) = channel();
        let s = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("netns-emu:{name}:{dir}:rx"))
                .spawn(move || read_loop(src, &p, &tx, &s, from as u64))?,
        );
        let s = stop.clone();
        threads.push(
            std::thread::Builder::new()
                .name(format!("netns-emu:{name}:{dir}:tx"))
                .spawn(move || write_loop(dst, &rx, &s))?,
        );
    }
    Ok(Forwarder { stop, threads })
}

/// A frame and when to send it; ordered by time, then arrival.
type Due = Reverse<(Instant, u64, Vec<u8>)>;

fn read_loop(
    mut src: File,
    params: &Params,
    tx: &Sender<(Instant, Vec<u8>)>,
    stop: &AtomicBool,
    seed: u64,
) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut rng = Rng::new(seed);
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        let ready = {
            let mut fds = [PollFd::new(src.as_fd(), PollFlags::POLLIN)];
            poll(&mut fds, PollTimeout::from(100u16)).unwrap_or(0)
        };
        if ready == 0 {
            continue;
        }
        let n = match src.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            // The tap went down or away: wait for it to come back.
            Err(_) => {
                std::thread::sleep(TICK);
                continue;
            }
        };
        let imp = params.lock().map(|p| p.clone()).unwrap_or_default();
        if rng.chance(imp.loss) {
            continue;
        }
        let copies = if rng.chance(imp.duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let mut frame = buf[..n].to_vec();
            if rng.chance(imp.corrupt) && frame.len() > 14 {
                let byte = 14 + (rng.next() as usize % (frame.len() - 14));
                frame[byte] ^= 1 << (rng.next() % 8);
            }
            let mut delay = imp.delay.unwrap_or_default();
            if let Some(j) = imp.jitter {
                let j = u64::try_from(j.as_nanos()).unwrap_or(u64::MAX);
                if j > 0 {
                    let offset = rng.next() % j.saturating_mul(2).saturating_add(1);
                    let d = u64::try_from(delay.as_nanos())
                        .unwrap_or(u64::MAX)
                        .saturating_add(offset)
                        .saturating_sub(j);
                    delay = Duration::from_nanos(d);
                }
            }
            if rng.chance(imp.reorder) {
                delay = Duration::ZERO;
            }
            if tx
                .send((crate::deadline(Instant::now(), delay), frame))
                .is_err()
            {
                return;
            }
        }
    }
}

fn write_loop(mut dst: File, rx: &Receiver<(Instant, Vec<u8>)>, stop: &AtomicBool) {
    let mut heap: BinaryHeap<Due> = BinaryHeap::new();
    let mut seq = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        while let Some(Reverse((due, _, _))) = heap.peek() {
            if *due > now {
                break;
            }
            if let Some(Reverse((_, _, frame))) = heap.pop() {
                // A down tap refuses the frame: it is lost, as on a cut cable.
                let _ = dst.write(&frame);
            }
        }
        let wait = heap
            .peek()
            .map_or(TICK, |Reverse((due, _, _))| {
                due.saturating_duration_since(now)
            })
            .min(TICK);
        match rx.recv_timeout(wait) {
            Ok((due, frame)) => {
                if heap.len() < QUEUE_LIMIT {
                    seq += 1;
                    heap.push(Reverse((due, seq, frame)));
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chances_follow_the_ratio() {
        let mut rng = Rng::new(7);
        let hits = (0..100_000)
            .filter(|_| rng.chance(Some(Ratio(250_000))))
            .count();
        assert!((20_000..30_000).contains(&hits), "{hits}");
        assert!(!rng.chance(None));
        assert!(!(0..1000).any(|_| rng.chance(Some(Ratio(0)))));
        assert!((0..1000).all(|_| rng.chance(Some(Ratio(1_000_000)))));
    }
}
