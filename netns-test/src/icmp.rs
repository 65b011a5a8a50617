//! Reachability checks written in Rust: an ICMP echo (`ping`) and a TTL-stepped hop
//! trace (`traceroute -I`), so tests need no iputils.
//!
//! Both use a raw ICMP socket opened inside the node (the test is root in its own user
//! namespace, so `CAP_NET_RAW` holds there). Replies are matched by echo identifier and
//! sequence number, so concurrent probes in one node do not confuse each other.

use std::io::{self, Read};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

use etherparse::{IcmpEchoHeader, Icmpv4Header, Icmpv4Type, Ipv4HeaderSlice};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::error::{Error, Result};
use crate::net::Node;

/// A successful echo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingReply {
    /// Who answered.
    pub from: IpAddr,
    /// The reply's TTL (IPv4) or hop limit (IPv6) on arrival: 64 from a directly
    /// connected Linux peer, one less per router on the way back.
    pub ttl: u8,
    /// Round-trip time.
    pub rtt: Duration,
}

/// Options for [`Node::ping_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingOptions {
    /// How long to wait for the reply (default 1 s; `Duration::MAX` waits as long as
    /// it takes).
    pub timeout: Duration,
    /// TTL / hop limit of the request (default: the node's default, normally 64).
    pub ttl: Option<u8>,
    /// Payload bytes after the ICMP header (default 56, as `ping`).
    pub payload: usize,
}

impl Default for PingOptions {
    fn default() -> Self {
        PingOptions {
            timeout: Duration::from_secs(1),
            ttl: None,
            payload: 56,
        }
    }
}

impl PingOptions {
    /// Sets the reply timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Sets the request's TTL / hop limit.
    pub fn ttl(mut self, ttl: u8) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// Sets the payload size: at most 65507 bytes to an IPv4 address and 65527 to an
    /// IPv6 one (one IP packet); [`Node::ping_with`] refuses more.
    pub fn payload(mut self, bytes: usize) -> Self {
        self.payload = bytes;
        self
    }
}

/// One step of a [`Node::trace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Hop {
    /// The TTL the probe was sent with (1 for the first hop).
    pub ttl: u8,
    /// Who answered (a router's "time exceeded", or the destination's echo reply);
    /// `None` if nobody answered in time (`*` in traceroute).
    pub addr: Option<IpAddr>,
    /// Round-trip time of the answer.
    pub rtt: Option<Duration>,
}

/// Something that names an IP address: an `IpAddr`, `Ipv4Addr`, `Ipv6Addr`, or a string
/// such as `"192.168.1.2"`.
pub trait ToIpAddr {
    /// The address, or [`Error::InvalidAddress`].
    fn to_ip_addr(&self) -> Result<IpAddr>;
}

impl ToIpAddr for IpAddr {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        Ok(*self)
    }
}
impl ToIpAddr for Ipv4Addr {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        Ok(IpAddr::V4(*self))
    }
}
impl ToIpAddr for Ipv6Addr {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        Ok(IpAddr::V6(*self))
    }
}
impl ToIpAddr for str {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        self.trim().parse().map_err(|_| Error::InvalidAddress {
            text: self.to_owned(),
        })
    }
}
impl ToIpAddr for &str {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        (**self).to_ip_addr()
    }
}
impl ToIpAddr for String {
    fn to_ip_addr(&self) -> Result<IpAddr> {
        self.as_str().to_ip_addr()
    }
}

/// What came back for one probe.
enum Answer {
    Echo { from: IpAddr, ttl: u8 },
    TimeExceeded { from: IpAddr },
    Unreachable { from: IpAddr, reason: String },
}

static NEXT_ID: AtomicU16 = AtomicU16::new(1);

fn next_id() -> u16 {
    (std::process::id() as u16) ^ NEXT_ID.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37)
}

struct Prober<'a> {
    node: &'a Node,
    dest: IpAddr,
    sock: Socket,
    id: u16,
}

impl<'a> Prober<'a> {
    fn open(node: &'a Node, dest: IpAddr) -> Result<Prober<'a>> {
        let (domain, proto) = match dest {
            IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
            IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
        };
        let sock =
            crate::ns::in_netns(node.netns(), || Socket::new(domain, Type::RAW, Some(proto)))
                .map_err(|e| Error::io(Some(node.name()), "opening a raw ICMP socket", e))?;
        if dest.is_ipv6() {
            nix::sys::socket::setsockopt(
                &sock.as_fd(),
                nix::sys::socket::sockopt::Ipv6RecvHopLimit,
                &true,
            )
            .map_err(|e| Error::io(Some(node.name()), "setting IPV6_RECVHOPLIMIT", e.into()))?;
        }
        Ok(Prober {
            node,
            dest,
            sock,
            id: next_id(),
        })
    }

    fn err(&self, what: &str, e: io::Error) -> Error {
        Error::io(
            Some(self.node.name()),
            format!("ping {}: {what}", self.dest),
            e,
        )
    }

    fn send(&self, seq: u16, ttl: Option<u8>, payload: usize) -> Result<()> {
        let data: Vec<u8> = (0..payload).map(|i| i as u8).collect();
        let pkt = match self.dest {
            IpAddr::V4(_) => {
                if let Some(t) = ttl {
                    self.sock
                        .set_ttl_v4(u32::from(t))
                        .map_err(|e| self.err("setting the TTL", e))?;
                }
                let h = Icmpv4Header::with_checksum(
                    Icmpv4Type::EchoRequest(IcmpEchoHeader { id: self.id, seq }),
                    &data,
                );
                let mut p = h.to_bytes().to_vec();
                p.extend_from_slice(&data);
                p
            }
            IpAddr::V6(_) => {
                if let Some(t) = ttl {
                    self.sock
                        .set_unicast_hops_v6(u32::from(t))
                        .map_err(|e| self.err("setting the hop limit", e))?;
                }
                // The kernel fills in the ICMPv6 checksum on raw ICMPv6 sockets.
                let mut p = vec![128, 0, 0, 0];
                p.extend_from_slice(&self.id.to_be_bytes());
                p.extend_from_slice(&seq.to_be_bytes());
                p.extend_from_slice(&data);
                p
            }
        };
        let to = SockAddr::from(SocketAddr::new(self.dest, 0));
        self.sock
            .send_to(&pkt, &to)
            .map_err(|e| self.err("sending an ICMP echo request", e))?;
        Ok(())
    }

    /// Waits until `deadline` for an answer to `seq`.
    fn answer(&mut self, seq: u16, deadline: Instant) -> Result<Option<Answer>> {
        let mut buf = vec![0u8; 2048];
        loop {
            let now = Instant::now();
            if now >= deadline {
                return Ok(None);
            }
            self.sock
                .set_read_timeout(Some(deadline - now))
                .map_err(|e| self.err("setting a timeout", e))?;
            let got = match self.dest {
                IpAddr::V4(_) => match (&self.sock).read(&mut buf) {
                    Ok(n) => parse_v4(&buf[..n], self.id, seq),
                    Err(e) if is_timeout(&e) => return Ok(None),
                    Err(e) => return Err(self.err("receiving", e)),
                },
                IpAddr::V6(_) => match recv_v6(&self.sock, &mut buf) {
                    Ok((n, from, hops)) => parse_v6(&buf[..n], from, hops, self.id, seq),
                    Err(e) if is_timeout(&e) => return Ok(None),
                    Err(e) => return Err(self.err("receiving", e)),
                },
            };
            if got.is_some() {
                return Ok(got);
            }
        }
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn recv_v6(sock: &Socket, buf: &mut [u8]) -> io::Result<(usize, IpAddr, Option<u8>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, SockaddrIn6, recvmsg};
    let mut iov = [io::IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::c_int);
    let msg = recvmsg::<SockaddrIn6>(
        std::os::fd::AsRawFd::as_raw_fd(sock),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .map_err(io::Error::from)?;
    let mut hops = None;
    if let Ok(cmsgs) = msg.cmsgs() {
        for c in cmsgs {
            if let ControlMessageOwned::Ipv6HopLimit(h) = c {
                hops = u8::try_from(h).ok();
            }
        }
    }
    let from = msg
        .address
        .map(|a| IpAddr::V6(a.ip()))
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    Ok((msg.bytes, from, hops))
}

fn id_seq(b: &[u8]) -> Option<(u16, u16)> {
    Some((
        u16::from_be_bytes([*b.get(4)?, *b.get(5)?]),
        u16::from_be_bytes([*b.get(6)?, *b.get(7)?]),
    ))
}

fn parse_v4(pkt: &[u8], id: u16, seq: u16) -> Option<Answer> {
    let ip = Ipv4HeaderSlice::from_slice(pkt).ok()?;
    let from = IpAddr::V4(ip.source_addr());
    let icmp = pkt.get(ip.slice().len()..)?;
    let kind = *icmp.first()?;
    let code = *icmp.get(1)?;
    match kind {
        0 if id_seq(icmp)? == (id, seq) => Some(Answer::Echo {
            from,
            ttl: ip.ttl(),
        }),
        3 | 11 => {
            // The error quotes our request: its IP header, then our ICMP header.
            let inner = icmp.get(8..)?;
            let inner_ip = Ipv4HeaderSlice::from_slice(inner).ok()?;
            let quoted = inner.get(inner_ip.slice().len()..)?;
            if *quoted.first()? != 8 || id_seq(quoted)? != (id, seq) {
                return None;
            }
            if kind == 11 {
                Some(Answer::TimeExceeded { from })
            } else {
                Some(Answer::Unreachable {
                    from,
                    reason: v4_unreachable_reason(code).to_owned(),
                })
            }
        }
        _ => None,
    }
}

fn v4_unreachable_reason(code: u8) -> &'static str {
    match code {
        0 => "network unreachable",
        1 => "host unreachable",
        2 => "protocol unreachable",
        3 => "port unreachable",
        4 => "fragmentation needed",
        9 | 10 | 13 => "communication administratively prohibited",
        _ => "destination unreachable",
    }
}

fn parse_v6(pkt: &[u8], from: IpAddr, hops: Option<u8>, id: u16, seq: u16) -> Option<Answer> {
    let kind = *pkt.first()?;
    let code = *pkt.get(1)?;
    match kind {
        129 if id_seq(pkt)? == (id, seq) => Some(Answer::Echo {
            from,
            ttl: hops.unwrap_or(0),
        }),
        1 | 3 => {
            // Quoted: the 40-byte IPv6 header, then our ICMPv6 header.
            let quoted = pkt.get(8 + 40..)?;
            if *quoted.first()? != 128 || id_seq(quoted)? != (id, seq) {
                return None;
            }
            if kind == 3 {
                Some(Answer::TimeExceeded { from })
            } else {
                let reason = match code {
                    0 => "no route to destination",
                    1 => "communication administratively prohibited",
                    3 => "address unreachable",
                    4 => "port unreachable",
                    _ => "destination unreachable",
                };
                Some(Answer::Unreachable {
                    from,
                    reason: reason.to_owned(),
                })
            }
        }
        _ => None,
    }
}

impl Node {
    /// Sends one ICMP echo request to `dest` from this node and waits up to a second
    /// for the reply.
    ///
    /// Errors come back as the kernel gives them: a destination with no route fails at
    /// once with [`io::ErrorKind::NetworkUnreachable`] (see [`Error::io_kind`]); an ICMP
    /// error from a router is [`Error::Unreachable`]; silence is [`Error::Timeout`].
    ///
    /// ```no_run
    /// # fn body(net: &netns_test::Net) -> netns_test::Result<()> {
    /// let reply = net.node("ns1").ping("192.168.2.2")?;
    /// assert_eq!(reply.ttl, 63, "one router on the way back");
    /// # Ok(()) }
    /// ```
    pub fn ping(&self, dest: impl ToIpAddr) -> Result<PingReply> {
        self.ping_with(dest, PingOptions::default())
    }

    /// [`Node::ping`] with options.
    pub fn ping_with(&self, dest: impl ToIpAddr, opts: PingOptions) -> Result<PingReply> {
        let dest = dest.to_ip_addr()?;
        // An IP packet is at most 65535 bytes, headers included (IPv4's 20, ICMP's 8;
        // IPv6's payload length leaves out its own header).
        let (family, max) = match dest {
            IpAddr::V4(_) => ("IPv4", 65_535 - 20 - 8),
            IpAddr::V6(_) => ("IPv6", 65_535 - 8),
        };
        if opts.payload > max {
            return Err(Error::io(
                Some(self.name()),
                format!(
                    "ping {dest}: a payload of {} bytes does not fit in one {family} packet; \
                     ask for at most {max} (PingOptions::payload)",
                    opts.payload
                ),
                io::Error::from(io::ErrorKind::InvalidInput),
            ));
        }
        // The socket is made in the node (see `Prober::open`); the rest runs on the
        // calling thread.
        let mut p = Prober::open(self, dest)?;
        let start = Instant::now();
        p.send(1, opts.ttl, opts.payload)?;
        match p.answer(1, crate::deadline(start, opts.timeout))? {
            Some(Answer::Echo { from, ttl }) => Ok(PingReply {
                from,
                ttl,
                rtt: start.elapsed(),
            }),
            Some(Answer::Unreachable { from, reason }) => Err(Error::Unreachable {
                node: self.name().to_owned(),
                dest,
                from,
                reason,
            }),
            Some(Answer::TimeExceeded { from }) => Err(Error::Unreachable {
                node: self.name().to_owned(),
                dest,
                from,
                reason: "time to live exceeded".into(),
            }),
            None => Err(Error::Timeout {
                node: self.name().to_owned(),
                what: format!("ping {dest}"),
                after: opts.timeout,
            }),
        }
    }

    /// Traces the path to `dest` as `traceroute -I` does: echo requests with TTL 1, 2,
    /// 3, ... each answered by the router where it expires, until `dest` itself answers
    /// (at most 30 hops, one probe per hop, up to a second each).
    ///
    /// The last [`Hop`] is `dest` when it was reached.
    pub fn trace(&self, dest: impl ToIpAddr) -> Result<Vec<Hop>> {
        let dest = dest.to_ip_addr()?;
        let timeout = Duration::from_secs(1);
        let mut p = Prober::open(self, dest)?;
        let mut hops = Vec::new();
        for ttl in 1..=30u8 {
            let seq = u16::from(ttl);
            let start = Instant::now();
            p.send(seq, Some(ttl), 56)?;
            let answer = p.answer(seq, start + timeout)?;
            let rtt = Some(start.elapsed());
            match answer {
                Some(Answer::Echo { from, .. }) => {
                    hops.push(Hop {
                        ttl,
                        addr: Some(from),
                        rtt,
                    });
                    return Ok(hops);
                }
                Some(Answer::TimeExceeded { from }) => hops.push(Hop {
                    ttl,
                    addr: Some(from),
                    rtt,
                }),
                Some(Answer::Unreachable { from, reason }) => {
                    return Err(Error::Unreachable {
                        node: self.name().to_owned(),
                        dest,
                        from,
                        reason,
                    });
                }
                None => hops.push(Hop {
                    ttl,
                    addr: None,
                    rtt: None,
                }),
            }
        }
        Ok(hops)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_addresses_convert() {
        assert_eq!(
            "10.0.0.1".to_ip_addr().unwrap(),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert!("fd00::1".to_ip_addr().unwrap().is_ipv6());
        let e = "ns2".to_ip_addr().unwrap_err();
        assert!(e.to_string().contains("`ns2` is not an IP address"), "{e}");
    }

    #[test]
    fn v4_echo_reply_is_matched_by_id_and_seq() {
        // 20-byte IPv4 header, TTL 63, ICMP echo reply id 7 seq 1.
        let mut pkt = vec![
            0x45, 0, 0, 28, 0, 0, 0, 0, 63, 1, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1,
        ];
        pkt.extend_from_slice(&[0, 0, 0, 0, 0, 7, 0, 1]);
        match parse_v4(&pkt, 7, 1) {
            Some(Answer::Echo { from, ttl }) => {
                assert_eq!(from, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
                assert_eq!(ttl, 63);
            }
            _ => panic!("echo reply not recognised"),
        }
        assert!(parse_v4(&pkt, 8, 1).is_none(), "another prober's reply");
        assert!(parse_v4(&pkt[..10], 7, 1).is_none(), "truncated");
    }
}
