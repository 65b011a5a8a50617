//! How the child hands its capture sockets to the parent: right after the topology is
//! built and just before the body runs, the child opens, in every node, a packet
//! socket and a netlink socket, and sends them over the verdict socket (a Unix stream
//! socket) with `SCM_RIGHTS`, behind a short text header:
//!
//! ```text
//! netns-test-capture <start ns since epoch> <node count>\n
//! <node name>\n            (once per node, host first)
//! end\n
//! ```
//!
//! The descriptors (packet, netlink, per node in that order) may be spread over
//! several messages (at most 253 per message). The verdict follows the header.
//! From the moment a packet socket exists the kernel queues packets for it, so
//! nothing is lost while the parent starts reading.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, SystemTime};

use nix::sys::socket::{setsockopt, sockopt};

use super::engine::NodeSockets;
use super::links;
use crate::net::Net;
use crate::ns::packet::{MAX_FDS_PER_MESSAGE, packet_socket_all, send_with_fds};

const MAGIC: &str = "netns-test-capture ";
/// Receive buffer asked for each packet socket: bursts between two reads of the
/// parent's thread must fit.
const RCVBUF: usize = 32 * 1024 * 1024;

/// Why [`send`] failed.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The sockets could not be opened or sent: the test runs without a capture.
    Capture(io::Error),
    /// The calling thread could not go back to the host node after visiting the
    /// others: the body must not run there.
    Stranded(io::Error),
}

/// Child side: opens the sockets in every node of `net` and sends them on `verdict`.
///
/// The calling thread visits each node in turn (a socket keeps the namespace it was
/// made in) and then returns to the host node, which it must be in; the build does
/// the same. A helper thread doing the visits cost more than the sockets.
pub(crate) fn send(net: &Net, verdict: BorrowedFd<'_>) -> Result<(), SendError> {
    let mut names = Vec::new();
    let mut fds: Vec<OwnedFd> = Vec::new();
    let mut opened = Vec::new();
    let visited = net.nodes().try_for_each(|node| -> io::Result<()> {
        crate::ns::setns_net(node.netns())?;
        opened.push(open_pair()?);
        Ok(())
    });
    crate::ns::setns_net(net.host().netns()).map_err(SendError::Stranded)?;
    visited.map_err(SendError::Capture)?;
    for (node, (packet, netlink)) in net.nodes().zip(opened) {
        names.push(node.name().to_owned());
        fds.push(packet);
        fds.push(netlink);
    }
    let start = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let mut header = format!("{MAGIC}{} {}\n", start.as_nanos(), names.len());
    for n in &names {
        header.push_str(n);
        header.push('\n');
    }
    header.push_str("end\n");
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    let mut chunks = borrowed.chunks(MAX_FDS_PER_MESSAGE - 1);
    send_with_fds(
        verdict,
        header.as_bytes(),
        chunks.next().unwrap_or_default(),
    )
    .map_err(SendError::Capture)?;
    for chunk in chunks {
        // One byte of padding carries each further batch; the parent skips it.
        send_with_fds(verdict, b"\n", chunk).map_err(SendError::Capture)?;
    }
    Ok(())
}

/// A packet socket for every interface of the calling thread's namespace, with
/// timestamps and a large buffer, and a netlink socket for the interfaces' names.
fn open_pair() -> io::Result<(OwnedFd, OwnedFd)> {
    let p = packet_socket_all()?;
    setsockopt(&p, sockopt::ReceiveTimestampns, &true)?;
    // Past net.core.rmem_max only with CAP_NET_ADMIN; the plain request is capped by
    // the kernel, which is fine.
    if setsockopt(&p, sockopt::RcvBufForce, &RCVBUF).is_err() {
        let _ = setsockopt(&p, sockopt::RcvBuf, &RCVBUF);
    }
    Ok((p, links::open_socket()?))
}

/// Parent side: collects the header and descriptors from the start of the verdict
/// stream.
#[derive(Debug, Default)]
pub(crate) struct Receiver {
    fds: Vec<OwnedFd>,
    /// The handoff was taken already.
    taken: bool,
}

/// A complete handoff.
#[derive(Debug)]
pub(crate) struct Handoff {
    pub(crate) start: Duration,
    pub(crate) nodes: Vec<NodeSockets>,
}

impl Receiver {
    /// Adds descriptors received with the verdict stream's bytes.
    pub(crate) fn add_fds(&mut self, fds: Vec<OwnedFd>) {
        self.fds.extend(fds);
    }

    /// Looks at the verdict bytes so far. If they start with a complete header and all
    /// descriptors arrived, removes the header (and padding) from `buf` and returns the
    /// handoff, once. Bytes that are not a header are left alone.
    pub(crate) fn take(&mut self, buf: &mut Vec<u8>) -> Option<Handoff> {
        if self.taken || !buf.starts_with(MAGIC.as_bytes()) {
            return None;
        }
        let text = std::str::from_utf8(buf).ok().or_else(|| {
            // The verdict after the header may be cut mid-character; the header is ASCII.
            let end = find(buf, b"\nend\n")? + 5;
            std::str::from_utf8(&buf[..end]).ok()
        })?;
        let end = text.find("\nend\n")? + 5;
        let mut lines = text[..end].lines();
        let first = lines.next()?.strip_prefix(MAGIC)?;
        let (start, count) = first.split_once(' ')?;
        let start: u128 = start.parse().ok()?;
        let count: usize = count.parse().ok()?;
        let names: Vec<String> = lines.take(count).map(str::to_owned).collect();
        let extra = (count * 2)
            .div_ceil(MAX_FDS_PER_MESSAGE - 1)
            .saturating_sub(1);
        if names.len() != count || self.fds.len() < count * 2 || buf.len() < end + extra {
            return None;
        }
        buf.drain(..end + extra);
        let mut fds = std::mem::take(&mut self.fds).into_iter();
        let nodes = names
            .into_iter()
            .filter_map(|node| {
                Some(NodeSockets {
                    node,
                    packet: fds.next()?,
                    netlink: fds.next()?,
                })
            })
            .collect();
        let start = Duration::new(
            u64::try_from(start / 1_000_000_000).unwrap_or(0),
            u32::try_from(start % 1_000_000_000).unwrap_or(0),
        );
        self.taken = true;
        Some(Handoff { start, nodes })
    }
}

impl Receiver {
    /// Whether a header came (taken or abandoned): the child built its network and
    /// got to its body.
    pub(crate) fn came(&self) -> bool {
        self.taken
    }

    /// At the end of the stream: removes a header whose descriptors never all
    /// arrived (the child failed half-way), so that the verdict after it still reads.
    /// Returns whether there was one.
    pub(crate) fn abandon(&mut self, buf: &mut Vec<u8>) -> bool {
        if self.taken || !buf.starts_with(MAGIC.as_bytes()) {
            return false;
        }
        match find(buf, b"\nend\n") {
            Some(end) => {
                let mut cut = end + 5;
                while buf.get(cut) == Some(&b'\n') {
                    cut += 1;
                }
                buf.drain(..cut);
            }
            None => buf.clear(),
        }
        self.fds.clear();
        self.taken = true;
        true
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fd() -> OwnedFd {
        nix::unistd::pipe().unwrap().0
    }

    #[test]
    fn header_is_parsed_once_and_removed() {
        let mut r = Receiver::default();
        let mut buf = b"netns-test-capture 1500000000 2\nhost\nns1\nen".to_vec();
        assert!(r.take(&mut buf).is_none());
        buf.extend_from_slice(b"d\npanic\nboom");
        r.add_fds(vec![fd(), fd(), fd()]);
        assert!(r.take(&mut buf).is_none(), "one descriptor is missing");
        r.add_fds(vec![fd()]);
        let h = r.take(&mut buf).unwrap();
        assert_eq!(h.start, Duration::new(1, 500_000_000));
        let names: Vec<&str> = h.nodes.iter().map(|n| n.node.as_str()).collect();
        assert_eq!(names, ["host", "ns1"]);
        assert_eq!(buf, b"panic\nboom");
        assert!(r.take(&mut buf).is_none());
    }

    #[test]
    fn an_incomplete_handoff_is_dropped_at_the_end() {
        let mut r = Receiver::default();
        let mut buf = b"netns-test-capture 1 1\nhost\nend\n\npass".to_vec();
        assert!(r.take(&mut buf).is_none());
        assert!(r.abandon(&mut buf));
        assert_eq!(buf, b"pass");
    }

    #[test]
    fn a_plain_verdict_is_left_alone() {
        let mut r = Receiver::default();
        let mut buf = b"pass".to_vec();
        assert!(r.take(&mut buf).is_none());
        assert_eq!(buf, b"pass");
    }
}
