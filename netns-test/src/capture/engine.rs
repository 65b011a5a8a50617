//! The capture loop, in the test runner's process: one thread per test reads the
//! packet sockets the child opened in each of its nodes (and handed over with
//! `SCM_RIGHTS`) until told to stop, then drains them.
//!
//! Why here and not in the child: the trace survives whatever ends the child, a
//! `SIGKILL`, a stack overflow, an `abort`, or the timeout that kills it; the child's
//! exit path stays a plain `_exit`; and the body gets both cores' worth of CPU minus
//! one reader thread, exactly as with the child doing it.
//!
//! Why `recvmmsg` and not a `TPACKET_V3` ring: see the measurement in
//! ARCHITECTURE.md ("Failure forensics"); reading sixteen packets a call keeps up with
//! what a veth carries between two namespaces on a shared core, with no `unsafe` mmap
//! code and no ring allocated up front per node per test.

use std::io::{self, IoSliceMut};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{ControlMessageOwned, LinkAddr, MsgFlags, MultiHeaders, recvmmsg};
use nix::sys::time::TimeSpec;

use super::links;
use super::store::{Direction, LinkKind, Packet, Store};
use crate::ns::packet::{copy_uncached, packet_statistics};

/// The sockets the child opened in one node.
#[derive(Debug)]
pub(crate) struct NodeSockets {
    pub(crate) node: String,
    /// `AF_PACKET`, `ETH_P_ALL`, with `SO_TIMESTAMPNS`.
    pub(crate) packet: OwnedFd,
    /// `NETLINK_ROUTE`, for interface names.
    pub(crate) netlink: OwnedFd,
}

/// What a finished capture hands back.
#[derive(Debug)]
pub(crate) struct Trace {
    pub(crate) store: Store,
    /// When the capture started (just before the body), since the Unix epoch.
    pub(crate) start: Duration,
    /// Per node: packets the kernel dropped because the socket's buffer was full.
    pub(crate) kernel_drops: Vec<(String, u64)>,
    pub(crate) snaplen: u32,
    /// The memory cap, in bytes; also the rate for whole packets, a second
    /// ([`WholeRate`]).
    pub(crate) limit: u64,
    /// The packet sockets, for the caller to close off the test's path (closing one
    /// waits for an RCU grace period; see [`super::closer`]).
    pub(crate) sockets: Vec<OwnedFd>,
}

/// A running capture.
#[derive(Debug)]
pub(crate) struct Running {
    wake: OwnedFd,
    thread: JoinHandle<Trace>,
    /// Whether the thread was told to stop.
    stopped: bool,
}

/// `sll_pkttype` of a packet the interface sent (`<linux/if_packet.h>`).
const PACKET_OUTGOING: u8 = 4;

/// Packets read from one socket before looking at the others again.
const BATCH: usize = 256;
/// Packets one `recvmmsg` reads at most: one call instead of sixteen nearly halves the
/// reader's CPU time on small packets (the benchmark's paced UDP, under `perf`).
const SLOTS: usize = 16;
/// The most bytes kept of one packet, whatever the snap length: a 64 KiB GSO
/// super-packet, or jumbo frames on loopback, fit, with room to notice truncation.
const MAX_KEPT: usize = 256 * 1024;
/// Packets read from one socket while draining at the end: enough for any queue, and
/// a bound if something keeps sending.
const DRAIN_MAX: usize = 1 << 20;
/// How long the reader waits between rounds of reads while the traffic runs faster
/// than [`WholeRate`] allows. Woken for every packet or two, it took the CPU from the
/// test's own threads often enough to cost bulk TCP a fifth of its throughput on a
/// busy two-core VM (see ARCHITECTURE.md, "Failure forensics"); the socket's buffer
/// holds several times this much of the fastest traffic a veth carries here.
const BULK_NAP: Duration = Duration::from_micros(200);
/// Bytes kept of a packet while the traffic runs faster than [`WholeRate`] allows:
/// every header of the deepest stack the topologies make (VXLAN over IPv6 carrying
/// IPv6 and TCP with options: 184 bytes) and the start of the payload.
pub(crate) const HEADERS: usize = 256;

/// Starts reading `nodes`' sockets on a new thread.
pub(crate) fn start(
    nodes: Vec<NodeSockets>,
    start: Duration,
    snaplen: u32,
    limit: u64,
) -> io::Result<Running> {
    let (wake_r, wake_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let thread = std::thread::Builder::new()
        .name("netns-test-capture".to_owned())
        .spawn(move || run(nodes, wake_r, start, snaplen, limit))?;
    Ok(Running {
        wake: wake_w,
        thread,
        stopped: false,
    })
}

impl Running {
    /// Stops the capture after reading every packet already queued, and returns them.
    pub(crate) fn finish(mut self) -> Option<Trace> {
        self.stop();
        self.thread.join().ok()
    }

    /// Tells the thread to drain what is queued and end, without waiting for it.
    pub(crate) fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = nix::unistd::write(&self.wake, b"s");
        }
    }
}

struct Reader {
    node: String,
    packet: OwnedFd,
    netlink: socket2::Socket,
    kernel_drops: u64,
}

fn run(nodes: Vec<NodeSockets>, wake: OwnedFd, start: Duration, snaplen: u32, limit: u64) -> Trace {
    let mut store = Store::new(limit);
    let mut readers: Vec<Reader> = nodes
        .into_iter()
        .map(|n| Reader {
            node: n.node,
            packet: n.packet,
            netlink: socket2::Socket::from(n.netlink),
            kernel_drops: 0,
        })
        .collect();
    for (i, r) in readers.iter().enumerate() {
        learn_links(&mut store, i, r);
    }
    // One buffer for every read, a slot per packet of a call, each as long as what is
    // kept of a packet.
    let slot = MAX_KEPT.min(snaplen as usize).max(1);
    let mut mapped = take_buffer(SLOTS * slot);
    let mut heap = Vec::new();
    let buf: &mut [u8] = match &mut mapped {
        Some(m) => m,
        None => {
            heap.resize(SLOTS * slot, 0);
            &mut heap
        }
    };
    let mut rate = WholeRate::new(limit, Instant::now());
    let mut stopping = false;
    while !stopping {
        let ready: Vec<usize> = {
            let mut fds: Vec<PollFd<'_>> = std::iter::once(wake.as_fd())
                .chain(readers.iter().map(|r| r.packet.as_fd()))
                .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => break,
            }
            let ready = |p: &PollFd<'_>| p.revents().is_some_and(|r| !r.is_empty());
            stopping = ready(&fds[0]);
            (0..readers.len()).filter(|i| ready(&fds[i + 1])).collect()
        };
        if stopping {
            break;
        }
        for i in ready {
            read_some(&mut store, &readers, i, buf, slot, BATCH, &mut rate);
        }
        if !rate.whole(Instant::now()) {
            // Bulk traffic: read it in fewer, larger rounds.
            std::thread::sleep(BULK_NAP);
        }
    }
    for i in 0..readers.len() {
        read_some(&mut store, &readers, i, buf, slot, DRAIN_MAX, &mut rate);
    }
    if let Some(m) = mapped {
        give_back(m);
    }
    // Each socket's packets are in order; merge the nodes' by time.
    store.packets.make_contiguous().sort_by_key(|p| p.time);
    for r in &mut readers {
        if let Ok(st) = packet_statistics(r.packet.as_fd()) {
            r.kernel_drops += u64::from(st.drops);
        }
    }
    let kernel_drops = readers
        .iter()
        .map(|r| (r.node.clone(), r.kernel_drops))
        .collect();
    Trace {
        store,
        start,
        kernel_drops,
        snaplen,
        limit,
        sockets: readers.into_iter().map(|r| r.packet).collect(),
    }
}

/// Read buffers of captures that ended, for the next ones. A buffer is up to 4 MiB
/// (the default snap length); from the heap each would be zeroed whole first, and a new
/// mapping per test costs its page faults and unmapping: either about a fifth of a
/// millisecond of a two-node test.
static SPARE: Mutex<Vec<memmap2::MmapMut>> = Mutex::new(Vec::new());
/// Buffers kept for later captures: as many as tests usually run at once.
const SPARE_MAX: usize = 4;

/// A spare buffer of `len` bytes, or a new mapping (pages the kernel never writes to
/// are never allocated).
fn take_buffer(len: usize) -> Option<memmap2::MmapMut> {
    if let Ok(mut spare) = SPARE.lock() {
        if let Some(i) = spare.iter().position(|m| m.len() == len) {
            return Some(spare.swap_remove(i));
        }
    }
    memmap2::MmapMut::map_anon(len).ok()
}

/// Keeps `buf` for a later capture, in place of the oldest kept if enough are (so that
/// the sizes kept follow the snap lengths of the tests running now).
fn give_back(buf: memmap2::MmapMut) {
    if let Ok(mut spare) = SPARE.lock() {
        spare.push(buf);
        if spare.len() > SPARE_MAX {
            spare.remove(0);
        }
    }
}

/// Records every interface node `i` has now.
fn learn_links(store: &mut Store, i: usize, r: &Reader) {
    static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Ok(links) = links::dump(&r.netlink, seq) {
        for l in links {
            store.add_iface(i, &r.node, l.index, l.name, LinkKind::from_hatype(l.hatype));
        }
    }
}

/// How fast the capture keeps whole packets: a bucket of `limit` bytes (the memory
/// cap), refilled at `limit` bytes a second. While it holds bytes, packets are kept up
/// to the snap length; once bulk traffic has emptied it, up to [`HEADERS`] bytes, until
/// it refills.
///
/// Why: a capture that keeps whole packets moves every byte the test moves once more,
/// into memory no cache holds; under bulk TCP on a veth that took 22-44% of the
/// throughput. And of a bulk transfer the memory cap keeps only the newest milliseconds
/// anyway (32 MiB holds 13 ms of 10 Gbit/s seen on both veth ends): cut packets make the
/// trace cover seconds of every header instead, with fewer of them dropped by the
/// kernel. Traffic slower than the rate, and bursts up to the cap, stay whole.
#[derive(Debug)]
pub(crate) struct WholeRate {
    /// What may still be kept whole, in byte-nanoseconds (bytes times 10^9, so that
    /// refills of a fraction of a byte add up); below zero after a read took more.
    credit: i128,
    limit: u64,
    last: Instant,
}

/// Nanoseconds a second: a byte of credit is this many byte-nanoseconds.
const NS: i128 = 1_000_000_000;

impl WholeRate {
    /// A full bucket at `now`.
    pub(crate) fn new(limit: u64, now: Instant) -> WholeRate {
        WholeRate {
            credit: i128::from(limit) * NS,
            limit,
            last: now,
        }
    }

    /// Whether a read at `now` keeps whole packets.
    pub(crate) fn whole(&mut self, now: Instant) -> bool {
        if now > self.last {
            let ns = i128::try_from(now.duration_since(self.last).as_nanos()).unwrap_or(i128::MAX);
            self.credit = self
                .credit
                .saturating_add(ns.saturating_mul(i128::from(self.limit)))
                .min(i128::from(self.limit) * NS);
            self.last = now;
        }
        self.credit > 0
    }

    /// Counts `bytes` kept whole.
    pub(crate) fn spend(&mut self, bytes: usize) {
        self.credit -= i128::try_from(bytes).unwrap_or(i128::MAX) * NS;
    }
}

/// Reads up to `max` packets from reader `i` without blocking, [`SLOTS`] a call, each
/// into its `slot` bytes of `buf`, or into its first [`HEADERS`] bytes when `rate`
/// says so.
fn read_some(
    store: &mut Store,
    readers: &[Reader],
    i: usize,
    buf: &mut [u8],
    slot: usize,
    max: usize,
    rate: &mut WholeRate,
) {
    let r = &readers[i];
    let mut read = 0;
    while read < max {
        // Fresh headers each call: the kernel shortens their control lengths.
        let mut headers =
            MultiHeaders::<LinkAddr>::preallocate(SLOTS, Some(nix::cmsg_space!(TimeSpec)));
        let whole = rate.whole(Instant::now());
        let keep = if whole { slot } else { slot.min(HEADERS) };
        let mut iovs: Vec<[IoSliceMut<'_>; 1]> = buf
            .chunks_mut(slot)
            .map(|c| [IoSliceMut::new(&mut c[..keep])])
            .collect();
        // Each slot is no longer than the snap length, so the kernel copies only what is
        // kept; with MSG_TRUNC it still says how long each packet was.
        let got = recvmmsg(
            r.packet.as_raw_fd(),
            &mut headers,
            iovs.iter_mut(),
            MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            None,
        );
        let msgs = match got {
            Ok(m) => m,
            Err(Errno::EINTR) => continue,
            Err(_) => return, // EAGAIN: the queue is empty.
        };
        let mut n = 0;
        for msg in msgs {
            n += 1;
            let Some(addr) = msg.address else { continue };
            let time = msg
                .cmsgs()
                .ok()
                .and_then(|mut c| {
                    c.find_map(|c| match c {
                        ControlMessageOwned::ScmTimestampns(ts) => Some(Duration::new(
                            u64::try_from(ts.tv_sec()).unwrap_or(0),
                            u32::try_from(ts.tv_nsec()).unwrap_or(0),
                        )),
                        _ => None,
                    })
                })
                .unwrap_or_else(|| {
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .unwrap_or_default()
                });
            let data = copy_uncached(msg.iovs().next().unwrap_or_default());
            if whole {
                rate.spend(data.len());
            }
            let iface = record(store, r, i, &addr, time, msg.bytes, data);
            if !whole && msg.bytes.min(slot) > keep {
                // Kept shorter than the snap length would have kept it.
                store.mark_cut(iface);
            }
        }
        read += n;
        if n < SLOTS {
            return; // The queue is empty.
        }
    }
}

/// Stores one packet read from reader `r` (number `i`), learning its interface's name
/// if it is new; returns the interface's index in the store.
fn record(
    store: &mut Store,
    r: &Reader,
    i: usize,
    addr: &LinkAddr,
    time: Duration,
    len: usize,
    data: Box<[u8]>,
) -> usize {
    let (ifindex, pkttype, hatype) = (addr.ifindex() as u32, addr.pkttype(), addr.hatype());
    let iface = match store.iface(i, ifindex) {
        Some(x) => x,
        None => {
            // Created or moved here while the test ran: ask for its name.
            learn_links(store, i, r);
            match store.iface(i, ifindex) {
                Some(x) => x,
                None => store.add_iface(
                    i,
                    &r.node,
                    ifindex,
                    format!("if{ifindex}"),
                    LinkKind::from_hatype(hatype),
                ),
            }
        }
    };
    store.push(Packet {
        time,
        iface,
        dir: if pkttype == PACKET_OUTGOING {
            Direction::Out
        } else {
            Direction::In
        },
        pkttype,
        len: u32::try_from(len).unwrap_or(u32::MAX),
        data,
    });
    iface
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_packets_are_kept_up_to_the_cap_at_once_and_the_cap_a_second() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let mut rate = WholeRate::new(1000, t0);
        // A burst of the whole cap, in reads of 300 bytes: the fourth read overdraws.
        for _ in 0..4 {
            assert!(rate.whole(t0));
            rate.spend(300);
        }
        assert!(!rate.whole(t0), "an empty bucket still keeps whole packets");
        // 200 bytes overdrawn: refilled at 1000 bytes a second, it is above zero again
        // only after 200 ms.
        assert!(!rate.whole(at(150)));
        assert!(rate.whole(at(201)));
        rate.spend(1);
        // A long pause refills it to the cap, not beyond.
        assert!(rate.whole(at(60_000)));
        rate.spend(1000);
        assert!(!rate.whole(at(60_000)), "it held more than the cap");
        // An earlier time changes nothing.
        assert!(!rate.whole(at(10)));
        assert!(!rate.whole(at(60_000)));
        // A slow rate refills by fractions of a byte that add up: 4 bytes a second,
        // asked every millisecond, pays back a byte overdrawn after 250 ms.
        let mut slow = WholeRate::new(4, t0);
        slow.spend(5);
        assert!((1..=250).all(|ms| !slow.whole(at(ms))));
        assert!(slow.whole(at(251)));
    }

    #[test]
    fn a_buffer_given_back_serves_the_next_capture_of_its_size() {
        // A length no capture asks for (theirs are multiples of SLOTS), so that captures
        // running in other tests cannot take this one.
        let len = 3 * 4096 + 5;
        let mut buf = take_buffer(len).expect("an anonymous mapping");
        assert_eq!(buf.len(), len);
        assert!(buf.iter().all(|b| *b == 0), "a new mapping reads as zeros");
        buf[7] = 42;
        give_back(buf);
        let again = take_buffer(len).expect("the spare buffer");
        assert_eq!(again[7], 42, "the buffer given back was not reused");
        let other = take_buffer(len + 1).expect("an anonymous mapping");
        assert_eq!(other[7], 0, "a buffer of another size was handed out");
        // Kept up to SPARE_MAX, newest last: the first of five given back goes.
        for marker in 1..=5u8 {
            let mut b = memmap2::MmapMut::map_anon(len).expect("an anonymous mapping");
            b[0] = marker;
            give_back(b);
        }
        let kept: Vec<u8> = (0..SPARE_MAX)
            .map(|_| take_buffer(len).expect("a spare buffer")[0])
            .collect();
        assert!(!kept.contains(&1), "the oldest buffer was kept: {kept:?}");
    }
}
