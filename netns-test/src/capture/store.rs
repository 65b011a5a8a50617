//! The captured packets of one test, in memory, bounded: when the cap is reached the
//! oldest packets go first, and every interface counts what it lost.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

/// Which way a packet went through its interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// Received by the interface (`PACKET_HOST`, `_BROADCAST`, `_MULTICAST`, ...).
    In,
    /// Sent by the interface (`PACKET_OUTGOING`).
    Out,
}

/// How the link layer of an interface's frames looks, for the pcapng link type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkKind {
    /// An Ethernet header (veth, bridge, vxlan, macvlan, tap, and `lo`).
    Ethernet,
    /// No link header: the frame starts with the IP header (tun, wireguard, ipip...).
    RawIp,
}

impl LinkKind {
    /// From the `ARPHRD_*` hardware type of `packet(7)` / rtnetlink.
    pub(crate) fn from_hatype(hatype: u16) -> LinkKind {
        match hatype {
            // ARPHRD_ETHER, ARPHRD_LOOPBACK (which carries a zeroed Ethernet header).
            1 | 772 => LinkKind::Ethernet,
            _ => LinkKind::RawIp,
        }
    }
}

/// One captured interface: `node/iface`.
#[derive(Debug, Clone)]
pub(crate) struct Iface {
    pub(crate) node: String,
    pub(crate) name: String,
    pub(crate) ifindex: u32,
    pub(crate) link: LinkKind,
    /// Packets seen (kept or dropped for the cap).
    pub(crate) packets: u64,
    /// Packets dropped from memory to stay under the cap.
    pub(crate) dropped: u64,
    /// Packets kept cut to their headers because the traffic ran faster than the
    /// capture keeps whole packets (`engine::WholeRate`).
    pub(crate) cut: u64,
}

impl Iface {
    /// `node/iface`, the name in the trace and in messages.
    pub(crate) fn label(&self) -> String {
        format!("{}/{}", self.node, self.name)
    }
}

/// One packet as captured.
#[derive(Debug, Clone)]
pub(crate) struct Packet {
    /// Wall-clock time of capture (since the Unix epoch), nanosecond resolution.
    pub(crate) time: Duration,
    /// Index into [`Store::ifaces`].
    pub(crate) iface: usize,
    pub(crate) dir: Direction,
    /// The `PACKET_*` type (host, broadcast, multicast, otherhost, outgoing).
    pub(crate) pkttype: u8,
    /// Length on the wire; `data` may be shorter (snap length).
    pub(crate) len: u32,
    pub(crate) data: Box<[u8]>,
}

/// Per-packet bookkeeping counted against the cap besides the bytes themselves (the
/// attribute's documentation gives the figure: change both together).
pub(crate) const OVERHEAD: u64 = 64;

/// The packets and interfaces of one capture.
#[derive(Debug)]
pub(crate) struct Store {
    pub(crate) ifaces: Vec<Iface>,
    by_key: HashMap<(usize, u32), usize>,
    pub(crate) packets: VecDeque<Packet>,
    bytes: u64,
    limit: u64,
    /// Packets dropped to stay under the cap, over all interfaces.
    pub(crate) dropped: u64,
}

impl Store {
    pub(crate) fn new(limit: u64) -> Store {
        Store {
            ifaces: Vec::new(),
            by_key: HashMap::new(),
            packets: VecDeque::new(),
            bytes: 0,
            limit,
            dropped: 0,
        }
    }

    /// The interface `ifindex` of node number `node`, if known.
    pub(crate) fn iface(&self, node: usize, ifindex: u32) -> Option<usize> {
        self.by_key.get(&(node, ifindex)).copied()
    }

    /// Records an interface (first name wins) and returns its index.
    pub(crate) fn add_iface(
        &mut self,
        node: usize,
        node_name: &str,
        ifindex: u32,
        name: String,
        link: LinkKind,
    ) -> usize {
        if let Some(i) = self.iface(node, ifindex) {
            return i;
        }
        self.ifaces.push(Iface {
            node: node_name.to_owned(),
            name,
            ifindex,
            link,
            packets: 0,
            dropped: 0,
            cut: 0,
        });
        let i = self.ifaces.len() - 1;
        self.by_key.insert((node, ifindex), i);
        i
    }

    /// Keeps `p`, dropping the oldest packets while over the cap.
    pub(crate) fn push(&mut self, p: Packet) {
        self.ifaces[p.iface].packets += 1;
        self.bytes += p.data.len() as u64 + OVERHEAD;
        self.packets.push_back(p);
        while self.bytes > self.limit {
            let Some(old) = self.packets.pop_front() else {
                break;
            };
            self.bytes -= old.data.len() as u64 + OVERHEAD;
            self.ifaces[old.iface].dropped += 1;
            self.dropped += 1;
        }
    }

    /// Counts a packet of interface `iface` kept cut to its headers for the rate.
    pub(crate) fn mark_cut(&mut self, iface: usize) {
        self.ifaces[iface].cut += 1;
    }

    /// Packets kept cut to their headers for the rate, over all interfaces.
    pub(crate) fn cut(&self) -> u64 {
        self.ifaces.iter().map(|i| i.cut).sum()
    }

    /// Packets captured in all (kept or dropped).
    pub(crate) fn total(&self) -> u64 {
        self.ifaces.iter().map(|i| i.packets).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(iface: usize, n: usize) -> Packet {
        Packet {
            time: Duration::from_nanos(n as u64),
            iface,
            dir: Direction::In,
            pkttype: 0,
            len: 100,
            data: vec![0u8; 100].into_boxed_slice(),
        }
    }

    #[test]
    fn the_cap_keeps_the_newest_packets() {
        let mut s = Store::new(3 * (100 + OVERHEAD));
        let a = s.add_iface(0, "ns1", 2, "eth0".into(), LinkKind::Ethernet);
        let b = s.add_iface(1, "ns2", 2, "eth0".into(), LinkKind::Ethernet);
        assert_eq!(
            s.add_iface(0, "ns1", 2, "other".into(), LinkKind::Ethernet),
            a
        );
        for n in 0..5 {
            s.push(packet(if n % 2 == 0 { a } else { b }, n));
        }
        assert_eq!(s.packets.len(), 3);
        assert_eq!(s.packets[0].time, Duration::from_nanos(2));
        assert_eq!((s.dropped, s.total()), (2, 5));
        assert_eq!((s.ifaces[a].packets, s.ifaces[a].dropped), (3, 1));
        assert_eq!((s.ifaces[b].packets, s.ifaces[b].dropped), (2, 1));
        assert_eq!(s.ifaces[b].label(), "ns2/eth0");
    }
}
