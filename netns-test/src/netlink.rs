//! A synchronous rtnetlink socket that sends requests in batches.
//!
//! Messages are built with `rtnetlink`'s builders and `netlink-packet-route` types and
//! sent here without an async runtime: a whole phase of a topology build (every link of
//! a namespace, say) goes out in one `send(2)` and the kernel's acknowledgements are
//! read back together. One socket per namespace: a netlink socket talks to the network
//! namespace it was created in, whichever thread uses it later.

use std::io;
use std::net::Ipv6Addr;
use std::time::{Duration, Instant};

use netlink_packet_core::{
    NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::AddressFamily;
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{LinkAttribute, LinkExtentMask, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage, RouteType};
use netlink_sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE};

/// The attribute that asks the kernel for links without their counters
/// (`RTEXT_FILTER_SKIP_STATS`): the counters are most of a link's message (IPv6's alone
/// some 300 bytes), and the kernel sums each from every CPU to answer.
pub(crate) fn skip_stats() -> LinkAttribute {
    LinkAttribute::ExtMask(vec![LinkExtentMask::SkipStats])
}

/// One request and what it stands for, in `ip` terms, for error messages.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) msg: RouteNetlinkMessage,
    pub(crate) flags: u16,
    /// The equivalent command, e.g. `ip link add veth0 type veth peer name veth1`.
    pub(crate) what: String,
}

impl Request {
    pub(crate) fn new(msg: RouteNetlinkMessage, flags: u16, what: impl Into<String>) -> Self {
        Request {
            msg,
            flags,
            what: what.into(),
        }
    }
}

/// A request the kernel refused.
#[derive(Debug)]
pub(crate) struct Refusal {
    /// Index of the request in the batch.
    pub(crate) index: usize,
    pub(crate) error: io::Error,
    /// The kernel's extended-ack text, if it gave one ("Unknown device type", ...).
    pub(crate) detail: Option<String>,
}

/// A netlink route socket bound to the namespace it was opened in.
#[derive(Debug)]
pub(crate) struct Netlink {
    sock: Socket,
    seq: u32,
    buf: Vec<u8>,
    /// Link notifications (`RTNLGRP_LINK`) that arrived while waiting for answers.
    link_events: Vec<LinkMessage>,
    /// Whether the socket has joined `RTNLGRP_LINK` (see [`Netlink::take_link_events`]).
    watching: bool,
    /// IPv6 address and route notifications (`RTNLGRP_IPV6_IFADDR`,
    /// `RTNLGRP_IPV6_ROUTE`, joined only in [`Netlink::wait_v6_usable`]) since the last
    /// look.
    v6_events: usize,
}

/// The rtnetlink multicast group of link changes.
const RTNLGRP_LINK: u32 = 1;
/// The rtnetlink multicast group of IPv6 address changes.
const RTNLGRP_IPV6_IFADDR: u32 = 9;
/// The rtnetlink multicast group of IPv6 route changes.
const RTNLGRP_IPV6_ROUTE: u32 = 11;

/// What a caller of [`Netlink::wait_v6_usable`] was doing, for its error.
pub(crate) const WAITING_V6: &str = "waiting for its IPv6 addresses to be usable \
     (`ip -6 addr show`, `ip -6 route show table all`)";

const SEND_CHUNK: usize = 128 * 1024;

impl Netlink {
    /// Opens a socket in the calling thread's current network namespace.
    pub(crate) fn open() -> io::Result<Netlink> {
        let mut sock = Socket::new(NETLINK_ROUTE)?;
        sock.bind_auto()?;
        sock.connect(&SocketAddr::new(0, 0))?;
        sock.set_ext_ack(true)?;
        sock.set_cap_ack(true)?;
        // Acks for a large batch must fit: ask for a generous receive buffer.
        let _ = sock.set_rx_buf_sz(4 * 1024 * 1024);
        // A burst of notifications must not turn into an error on a request's answer;
        // whoever waits for link state re-reads it with a dump if events were lost.
        sock.set_no_enobufs(true)?;
        Ok(Netlink {
            sock,
            seq: 0,
            buf: Vec::new(),
            link_events: Vec::new(),
            watching: false,
            v6_events: 0,
        })
    }

    fn encode(&mut self, msg: RouteNetlinkMessage, flags: u16) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = flags | NLM_F_REQUEST;
        header.sequence_number = self.seq;
        let mut nl = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        nl.finalize();
        let start = self.buf.len();
        self.buf.resize(start + nl.buffer_len(), 0);
        nl.serialize(&mut self.buf[start..]);
        self.seq
    }

    fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            let n = self.sock.send(&self.buf, 0)?;
            if n != self.buf.len() {
                return Err(io::Error::other("short netlink send"));
            }
            self.buf.clear();
        }
        Ok(())
    }

    /// Sends every request (with `NLM_F_ACK`) and returns the sequence number of the
    /// first; the rest follow consecutively. Pair with [`Netlink::wait`].
    pub(crate) fn send(&mut self, reqs: &[Request]) -> io::Result<u32> {
        let first = self.seq.wrapping_add(1);
        for r in reqs {
            self.encode(r.msg.clone(), r.flags | NLM_F_ACK);
            if self.buf.len() >= SEND_CHUNK {
                self.flush()?;
            }
        }
        self.flush()?;
        Ok(first)
    }

    /// Reads the acknowledgements of `count` requests sent from sequence `first` on.
    pub(crate) fn wait(&mut self, first: u32, count: usize) -> io::Result<Vec<Refusal>> {
        let mut pending = count;
        let mut refused = Vec::new();
        while pending > 0 {
            for msg in self.recv()? {
                let seq = msg.header.sequence_number;
                let index = seq.wrapping_sub(first) as usize;
                if index >= count {
                    continue;
                }
                if let NetlinkPayload::Error(err) = msg.payload {
                    pending -= 1;
                    if err.code.is_some() {
                        refused.push(Refusal {
                            index,
                            error: err.to_io(),
                            detail: ext_ack_text(&err.header),
                        });
                    }
                }
            }
        }
        Ok(refused)
    }

    /// Reads one datagram and decodes every message in it.
    fn recv(&mut self) -> io::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>> {
        let (data, _) = self.sock.recv_from_full()?;
        let mut out = Vec::new();
        let mut off = 0;
        while let Some(head) = data.get(off..off + 4) {
            let len = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let Some(frame) = data.get(off..off + len).filter(|_| len >= 16) else {
                break;
            };
            off += (len + 3) & !3;
            let msg: NetlinkMessage<RouteNetlinkMessage> = NetlinkMessage::deserialize(frame)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if msg.header.sequence_number == 0 {
                match msg.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        self.link_events.push(l);
                    }
                    NetlinkPayload::InnerMessage(
                        RouteNetlinkMessage::NewAddress(_) | RouteNetlinkMessage::NewRoute(_),
                    ) => {
                        self.v6_events += 1;
                    }
                    _ => {}
                }
                continue;
            }
            out.push(msg);
        }
        Ok(out)
    }

    /// Takes the link notifications received so far. The first call joins
    /// `RTNLGRP_LINK`, so link state changes are told from then on rather than polled
    /// for; a caller dumps after it to learn the state before. (Joining only when
    /// someone waits matters: the kernel walks every member socket of a group, in every
    /// namespace, for each notification, so a thousand subscribed nodes would make each
    /// link change of the build cost a thousand checks.)
    pub(crate) fn take_link_events(&mut self) -> Vec<LinkMessage> {
        if !self.watching && self.sock.add_membership(RTNLGRP_LINK).is_ok() {
            self.watching = true;
        }
        std::mem::take(&mut self.link_events)
    }

    /// Waits up to `timeout` for more notifications (of the groups joined).
    pub(crate) fn wait_events(&mut self, timeout: Duration) -> io::Result<()> {
        use std::os::fd::AsFd;
        let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
        let mut fds = [nix::poll::PollFd::new(
            self.sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        match nix::poll::poll(&mut fds, nix::poll::PollTimeout::from(ms)) {
            Ok(0) => Ok(()),
            Ok(_) => self.recv().map(drop),
            Err(nix::errno::Errno::EINTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Waits until every IPv6 address on the links `indexes` is usable: not tentative,
    /// and with its local route in (`local ADDR`, in whichever table: see
    /// [`Netlink::local_v6_routes`]). Past `deadline`,
    /// fails with `TimedOut`, naming the addresses still waited for.
    ///
    /// Both are the kernel's addrconf work, asynchronous and separate from the link's
    /// own or the address's `RTM_NEWADDR`: for each address it joins the solicited-node
    /// group, clears the tentative flag (set on a new address, and on every address of
    /// a link whose carrier just came on, even with duplicate address detection off;
    /// never on a `nodad` one), announces the address, and only then puts in its local
    /// route. Until the group is joined a neighbour solicitation for the address goes
    /// unanswered, and the first packet to it waits for the next one, a second later;
    /// until the route is in, a packet for it is not delivered. Waiting for the route
    /// waits for all of it. The socket joins `RTNLGRP_IPV6_IFADDR` and
    /// `RTNLGRP_IPV6_ROUTE` before it first asks (`ip -6 addr show`, then `ip -6 route
    /// show table all` once nothing is tentative), and asks again on every
    /// notification and every 200 ms; it leaves the groups when done (see
    /// [`Netlink::take_link_events`] for why a group is joined only while waiting). An
    /// address whose detection failed is not waited for: it stays as it is.
    pub(crate) fn wait_v6_usable(&mut self, indexes: &[u32], deadline: Instant) -> io::Result<()> {
        self.sock.add_membership(RTNLGRP_IPV6_IFADDR)?;
        let joined = self.sock.add_membership(RTNLGRP_IPV6_ROUTE);
        let waited = joined.and_then(|()| self.unusable_until(indexes, deadline));
        let _ = self.sock.drop_membership(RTNLGRP_IPV6_ROUTE);
        let _ = self.sock.drop_membership(RTNLGRP_IPV6_IFADDR);
        let (tentative, unrouted) = waited?;
        let list = |addrs: Vec<Ipv6Addr>| -> String {
            let addrs: Vec<String> = addrs.iter().map(Ipv6Addr::to_string).collect();
            addrs.join(", ")
        };
        let why = match (tentative.is_empty(), unrouted.is_empty()) {
            (true, true) => return Ok(()),
            (false, _) => format!("still tentative: {}", list(tentative)),
            (true, false) => format!("still without their local route: {}", list(unrouted)),
        };
        Err(io::Error::new(io::ErrorKind::TimedOut, why))
    }

    /// The addresses of [`Netlink::wait_v6_usable`] still tentative, and those not
    /// tentative but without their local route, when all are usable or `deadline` has
    /// passed, once the socket has joined the groups.
    fn unusable_until(
        &mut self,
        indexes: &[u32],
        deadline: Instant,
    ) -> io::Result<(Vec<Ipv6Addr>, Vec<Ipv6Addr>)> {
        self.v6_events = 0;
        let mut last_ask: Option<Instant> = None;
        loop {
            let now = Instant::now();
            if self.v6_events > 0 || last_ask.is_none_or(|t| now - t > Duration::from_millis(200)) {
                self.v6_events = 0;
                last_ask = Some(now);
                let mut ask = AddressMessage::default();
                ask.header.family = AddressFamily::Inet6;
                let mut tentative = Vec::new();
                let mut settled = Vec::new();
                for m in self.dump(RouteNetlinkMessage::GetAddress(ask))? {
                    match m {
                        RouteNetlinkMessage::NewAddress(a) if indexes.contains(&a.header.index) => {
                            match v6_state(&a) {
                                Some((addr, V6State::Tentative)) => tentative.push(addr),
                                Some((addr, V6State::Settled)) => settled.push(addr),
                                _ => {}
                            }
                        }
                        _ => {}
                    }
                }
                let unrouted = if tentative.is_empty() && !settled.is_empty() {
                    let local = self.local_v6_routes()?;
                    settled.retain(|a| !local.contains(a));
                    settled
                } else {
                    Vec::new()
                };
                if (tentative.is_empty() && unrouted.is_empty()) || now >= deadline {
                    return Ok((tentative, unrouted));
                }
            }
            self.wait_events(Duration::from_millis(50))?;
        }
    }

    /// The IPv6 addresses with a local route (`ip -6 route show table all`, its `local
    /// ADDR` lines: in table `local`, or in a VRF's table for an address on one of its
    /// ports).
    fn local_v6_routes(&mut self) -> io::Result<Vec<Ipv6Addr>> {
        let mut ask = RouteMessage::default();
        ask.header.address_family = AddressFamily::Inet6;
        let routes = self.dump(RouteNetlinkMessage::GetRoute(ask))?;
        Ok(routes
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r)
                    if r.header.kind == RouteType::Local
                        && r.header.destination_prefix_length == 128 =>
                {
                    r.attributes.iter().find_map(|at| match at {
                        RouteAttribute::Destination(RouteAddress::Inet6(a)) => Some(*a),
                        _ => None,
                    })
                }
                _ => None,
            })
            .collect())
    }

    /// Sends `reqs` and waits for all their acknowledgements.
    pub(crate) fn execute(&mut self, reqs: &[Request]) -> io::Result<Vec<Refusal>> {
        let first = self.send(reqs)?;
        self.wait(first, reqs.len())
    }

    /// Asks for the links with these indexes one by one (`ip link show dev X`, batched)
    /// and returns what the kernel reports; a link that is gone is left out. Asking for
    /// one link, unlike a dump, also makes the kernel apply that link's pending carrier
    /// change first (`linkwatch_sync_dev` in `rtnl_getlink`, on kernels that have it),
    /// instead of when its link-watch work runs: with thousands of changes queued, that
    /// work goes a hundred at a time, a second apart.
    pub(crate) fn get_links(&mut self, indexes: &[u32]) -> io::Result<Vec<LinkMessage>> {
        let first = self.seq.wrapping_add(1);
        for &index in indexes {
            let mut msg = LinkMessage::default();
            msg.header.index = index;
            msg.attributes.push(skip_stats());
            self.encode(RouteNetlinkMessage::GetLink(msg), 0);
            if self.buf.len() >= SEND_CHUNK {
                self.flush()?;
            }
        }
        self.flush()?;
        let mut out = Vec::with_capacity(indexes.len());
        let mut pending = indexes.len();
        while pending > 0 {
            for msg in self.recv()? {
                let index = msg.header.sequence_number.wrapping_sub(first) as usize;
                if index >= indexes.len() {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                        pending -= 1;
                        out.push(l);
                    }
                    NetlinkPayload::Error(_) => pending -= 1,
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Runs a dump request (`ip link show`, `ip addr show`, ...) and returns every
    /// message of the answer.
    pub(crate) fn dump(
        &mut self,
        msg: RouteNetlinkMessage,
    ) -> io::Result<Vec<RouteNetlinkMessage>> {
        let seq = self.encode(msg, NLM_F_DUMP);
        self.flush()?;
        let mut out = Vec::new();
        loop {
            for msg in self.recv()? {
                if msg.header.sequence_number != seq {
                    continue;
                }
                match msg.payload {
                    NetlinkPayload::Done(_) => return Ok(out),
                    NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                    NetlinkPayload::InnerMessage(m) => out.push(m),
                    _ => {}
                }
            }
        }
    }
}

/// Where an IPv6 address stands for [`Netlink::wait_v6_usable`].
enum V6State {
    /// Tentative: its addrconf work has not run yet.
    Tentative,
    /// Neither tentative nor failed: its local route is to be checked.
    Settled,
    /// Its duplicate address detection failed: not waited for.
    Failed,
}

/// The address of `a`, if it is an IPv6 address, with where it stands.
fn v6_state(a: &AddressMessage) -> Option<(Ipv6Addr, V6State)> {
    let addr = a.attributes.iter().find_map(|at| match at {
        AddressAttribute::Address(std::net::IpAddr::V6(v6)) => Some(*v6),
        _ => None,
    })?;
    let flags = a
        .attributes
        .iter()
        .find_map(|at| match at {
            AddressAttribute::Flags(f) => Some(*f),
            _ => None,
        })
        .unwrap_or_else(|| AddressFlags::from_bits_retain(u32::from(a.header.flags.bits())));
    let state = if flags.contains(AddressFlags::Dadfailed) {
        V6State::Failed
    } else if flags.contains(AddressFlags::Tentative) {
        V6State::Tentative
    } else {
        V6State::Settled
    };
    Some((addr, state))
}

/// Extracts `NLMSGERR_ATTR_MSG` from an error payload (after the capped original
/// header), if the kernel sent one.
fn ext_ack_text(payload: &[u8]) -> Option<String> {
    const NLMSGERR_ATTR_MSG: u16 = 1;
    let mut tlvs = payload.get(16..)?;
    while tlvs.len() >= 4 {
        let len = u16::from_ne_bytes([tlvs[0], tlvs[1]]) as usize;
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        if len < 4 || len > tlvs.len() {
            return None;
        }
        if kind == NLMSGERR_ATTR_MSG {
            let text = &tlvs[4..len];
            let text = text.split(|b| *b == 0).next().unwrap_or_default();
            return Some(String::from_utf8_lossy(text).into_owned());
        }
        tlvs = tlvs.get((len + 3) & !3..).unwrap_or_default();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::ext_ack_text;

    #[test]
    fn ext_ack_message_is_found_after_the_capped_header() {
        let mut payload = vec![0u8; 16];
        let msg = b"Unknown device type\0";
        let len = (4 + msg.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&1u16.to_ne_bytes());
        payload.extend_from_slice(msg);
        assert_eq!(
            ext_ack_text(&payload).as_deref(),
            Some("Unknown device type")
        );
        assert_eq!(ext_ack_text(&payload[..10]), None);
    }
}
