//! One-line packet summaries in tcpdump's spirit, decoded with `etherparse` (lax
//! slicing: a packet cut by the snap length still shows its headers).

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use etherparse::{
    ArpOperation, EtherType, Icmpv4Type, Icmpv6Type, LaxNetSlice, LaxSlicedPacket, TransportSlice,
};

use super::store::LinkKind;

/// The UDP ports VXLAN uses: IANA's, and Linux's historical default.
const VXLAN_PORTS: [u16; 2] = [4789, 8472];

/// Decodes `data` (as captured on an interface of kind `link`; `len` on the wire).
///
/// Payload sizes are the packet's, not the capture's: bytes a snap length cut off
/// (the last `len - data.len()`) still count.
pub(crate) fn describe(link: LinkKind, data: &[u8], len: u32) -> String {
    let mut out = String::new();
    let cut = (len as usize).saturating_sub(data.len());
    match link {
        LinkKind::Ethernet => ethernet(&mut out, data, cut, 0),
        LinkKind::RawIp => match LaxSlicedPacket::from_ip(data) {
            Ok(p) => net_and_transport(&mut out, &p, cut, 0),
            Err(e) => {
                let _ = write!(out, "undecoded ({e})");
            }
        },
    }
    let _ = write!(out, ", length {len}");
    out
}

/// `cut`: how many bytes at the end of `data` the capture did not keep.
fn ethernet(out: &mut String, data: &[u8], cut: usize, depth: usize) {
    match LaxSlicedPacket::from_ethernet(data) {
        Err(e) => {
            let _ = write!(out, "truncated Ethernet frame ({e})");
        }
        Ok(p) => {
            if p.net.is_none() {
                match p.link.as_ref().and_then(|l| l.to_header()) {
                    Some(etherparse::LinkHeader::Ethernet2(h)) => {
                        let _ = write!(
                            out,
                            "{} > {} ethertype {}",
                            mac(&h.source),
                            mac(&h.destination),
                            ether_type(h.ether_type)
                        );
                    }
                    _ => out.push_str("unknown frame"),
                }
                return;
            }
            net_and_transport(out, &p, cut, depth);
        }
    }
}

fn ether_type(t: EtherType) -> String {
    format!("0x{:04x}", t.0)
}

fn mac(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn net_and_transport(out: &mut String, p: &LaxSlicedPacket<'_>, cut: usize, depth: usize) {
    let (src, dst): (String, String) = match &p.net {
        None => {
            out.push_str("unknown network layer");
            return;
        }
        Some(LaxNetSlice::Arp(arp)) => {
            let ip = |b: &[u8]| match <[u8; 4]>::try_from(b) {
                Ok(a) => Ipv4Addr::from(a).to_string(),
                Err(_) => format!("{b:02x?}"),
            };
            let sender = ip(arp.sender_protocol_addr());
            let target = ip(arp.target_protocol_addr());
            let _ = match arp.operation() {
                ArpOperation::REQUEST => write!(out, "ARP, Request who-has {target} tell {sender}"),
                ArpOperation::REPLY => {
                    let hw = <[u8; 6]>::try_from(arp.sender_hw_addr())
                        .map(|m| mac(&m))
                        .unwrap_or_default();
                    write!(out, "ARP, Reply {sender} is-at {hw}")
                }
                op => write!(out, "ARP, op {}", op.0),
            };
            return;
        }
        Some(LaxNetSlice::Ipv4(ip)) => {
            let h = ip.header();
            out.push_str("IP ");
            (
                h.source_addr().to_string(),
                h.destination_addr().to_string(),
            )
        }
        Some(LaxNetSlice::Ipv6(ip)) => {
            let h = ip.header();
            out.push_str("IP6 ");
            (v6(h.source_addr()), v6(h.destination_addr()))
        }
    };
    match &p.transport {
        Some(TransportSlice::Tcp(t)) => {
            let mut flags = String::new();
            for (on, c) in [
                (t.syn(), 'S'),
                (t.fin(), 'F'),
                (t.rst(), 'R'),
                (t.psh(), 'P'),
                (t.ack(), '.'),
            ] {
                if on {
                    flags.push(c);
                }
            }
            let _ = write!(
                out,
                "{src}.{} > {dst}.{}: Flags [{flags}], seq {}",
                t.source_port(),
                t.destination_port(),
                t.sequence_number()
            );
            if t.ack() {
                let _ = write!(out, ", ack {}", t.acknowledgment_number());
            }
            let _ = write!(
                out,
                ", win {}, payload {}",
                t.window_size(),
                t.payload().len() + cut
            );
        }
        Some(TransportSlice::Udp(u)) => {
            let (sp, dp) = (u.source_port(), u.destination_port());
            let payload = u.payload();
            // The length field counts the 8-byte header; 0 (a jumbogram) or less than
            // 8 (malformed) says nothing, so what arrived counts instead.
            let size = match usize::from(u.length()) {
                n if n >= 8 => n - 8,
                _ => payload.len() + cut,
            };
            let _ = write!(out, "{src}.{sp} > {dst}.{dp}: UDP, payload {size}");
            if depth == 0
                && VXLAN_PORTS.contains(&dp)
                && payload.len() >= 8
                && payload[0] & 0x08 != 0
            {
                let vni = u32::from_be_bytes([0, payload[4], payload[5], payload[6]]);
                let _ = write!(out, ": VXLAN vni {vni}: ");
                ethernet(out, &payload[8..], cut, depth + 1);
            }
        }
        Some(TransportSlice::Icmpv4(i)) => {
            let _ = write!(out, "{src} > {dst}: ICMP ");
            let _ = match i.icmp_type() {
                Icmpv4Type::EchoRequest(e) => {
                    write!(out, "echo request, id {}, seq {}", e.id, e.seq)
                }
                Icmpv4Type::EchoReply(e) => write!(out, "echo reply, id {}, seq {}", e.id, e.seq),
                Icmpv4Type::DestinationUnreachable(d) => {
                    write!(out, "destination unreachable ({d:?})")
                }
                Icmpv4Type::TimeExceeded(c) => write!(out, "time exceeded ({c:?})"),
                Icmpv4Type::Redirect(_) => write!(out, "redirect"),
                Icmpv4Type::ParameterProblem(_) => write!(out, "parameter problem"),
                Icmpv4Type::TimestampRequest(_) => write!(out, "timestamp request"),
                Icmpv4Type::TimestampReply(_) => write!(out, "timestamp reply"),
                Icmpv4Type::Unknown {
                    type_u8, code_u8, ..
                } => write!(out, "type {type_u8} code {code_u8}"),
            };
        }
        Some(TransportSlice::Icmpv6(i)) => {
            let _ = write!(out, "{src} > {dst}: ICMP6 ");
            let _ = match i.icmp_type() {
                Icmpv6Type::EchoRequest(e) => {
                    write!(out, "echo request, id {}, seq {}", e.id, e.seq)
                }
                Icmpv6Type::EchoReply(e) => write!(out, "echo reply, id {}, seq {}", e.id, e.seq),
                Icmpv6Type::NeighborSolicitation => {
                    let target = i
                        .payload()
                        .get(..16)
                        .and_then(|b| <[u8; 16]>::try_from(b).ok());
                    match target {
                        Some(t) => write!(out, "neighbor solicitation, who has {}", v6(t.into())),
                        None => write!(out, "neighbor solicitation"),
                    }
                }
                Icmpv6Type::NeighborAdvertisement(_) => {
                    let target = i
                        .payload()
                        .get(..16)
                        .and_then(|b| <[u8; 16]>::try_from(b).ok());
                    match target {
                        Some(t) => write!(out, "neighbor advertisement, tgt is {}", v6(t.into())),
                        None => write!(out, "neighbor advertisement"),
                    }
                }
                Icmpv6Type::RouterSolicitation => write!(out, "router solicitation"),
                Icmpv6Type::RouterAdvertisement(_) => write!(out, "router advertisement"),
                Icmpv6Type::Redirect => write!(out, "redirect"),
                Icmpv6Type::DestinationUnreachable(c) => {
                    write!(out, "destination unreachable ({c:?})")
                }
                Icmpv6Type::PacketTooBig { mtu } => write!(out, "packet too big, mtu {mtu}"),
                Icmpv6Type::TimeExceeded(c) => write!(out, "time exceeded ({c:?})"),
                Icmpv6Type::ParameterProblem(_) => write!(out, "parameter problem"),
                Icmpv6Type::Unknown {
                    type_u8, code_u8, ..
                } => match type_u8 {
                    143 => write!(out, "multicast listener report v2"),
                    _ => write!(out, "type {type_u8} code {code_u8}"),
                },
            };
        }
        Some(TransportSlice::Igmp(_)) => {
            let _ = write!(out, "{src} > {dst}: IGMP");
        }
        None => {
            let proto = match &p.net {
                Some(LaxNetSlice::Ipv4(ip)) => ip.payload().ip_number.0,
                Some(LaxNetSlice::Ipv6(ip)) => ip.payload().ip_number.0,
                _ => 0,
            };
            let _ = write!(out, "{src} > {dst}: ip-proto-{proto}");
        }
    }
}

fn v6(a: Ipv6Addr) -> String {
    a.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::PacketBuilder;

    const A: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const B: [u8; 6] = [2, 0, 0, 0, 0, 2];

    #[test]
    fn tcp_udp_icmp() {
        let mut buf = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 7000, 1000, 512)
            .syn()
            .write(&mut buf, &[])
            .unwrap();
        assert_eq!(
            describe(LinkKind::Ethernet, &buf, buf.len() as u32),
            "IP 10.0.0.1.40000 > 10.0.0.2.7000: Flags [S], seq 1000, win 512, payload 0, length 54"
        );
        let mut buf = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .icmpv4_echo_request(7, 3)
            .write(&mut buf, b"ping")
            .unwrap();
        // Cut by a snap length: the headers still show.
        let d = describe(LinkKind::Ethernet, &buf[..44], buf.len() as u32);
        assert_eq!(
            d,
            "IP 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 3, length 46"
        );
        let mut buf = Vec::new();
        PacketBuilder::ipv6([0xfd; 16], [0xfe; 16], 64)
            .udp(5353, 53)
            .write(&mut buf, b"q")
            .unwrap();
        let d = describe(LinkKind::RawIp, &buf, buf.len() as u32);
        assert!(d.starts_with("IP6 fdfd:"), "{d}");
        // As tcpdump counts it: the datagram's payload, without the UDP header.
        assert!(d.contains(".53: UDP, payload 1, length 49"), "{d}");
        assert!(describe(LinkKind::Ethernet, &[1, 2, 3], 3).starts_with("truncated"));
    }

    #[test]
    fn payload_sizes_count_what_the_snap_length_cut_off() {
        let mut buf = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 7000, 1000, 512)
            .ack(5)
            .write(&mut buf, &[7; 1000])
            .unwrap();
        // 54 bytes of headers, 10 of the 1000-byte payload kept.
        let d = describe(LinkKind::Ethernet, &buf[..64], buf.len() as u32);
        assert!(d.ends_with("win 512, payload 1000, length 1054"), "{d}");
        let mut buf = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(40000, 7000)
            .write(&mut buf, &[7; 300])
            .unwrap();
        let d = describe(LinkKind::Ethernet, &buf[..50], buf.len() as u32);
        assert!(d.ends_with("7000: UDP, payload 300, length 342"), "{d}");
    }

    #[test]
    fn vxlan_shows_the_inner_frame() {
        let mut inner = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([192, 168, 0, 1], [192, 168, 0, 2], 64)
            .icmpv4_echo_reply(1, 2)
            .write(&mut inner, &[])
            .unwrap();
        let mut payload = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        payload.extend_from_slice(&inner);
        let mut buf = Vec::new();
        PacketBuilder::ethernet2(A, B)
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(50000, 4789)
            .write(&mut buf, &payload)
            .unwrap();
        let d = describe(LinkKind::Ethernet, &buf, buf.len() as u32);
        assert!(
            d.contains(
                "UDP, payload 50: VXLAN vni 42: IP 192.168.0.1 > 192.168.0.2: ICMP echo reply, id 1, seq 2"
            ),
            "{d}"
        );
    }

    #[test]
    fn arp() {
        let arp = etherparse::ArpPacket::new(
            etherparse::ArpHardwareId::ETHERNET,
            EtherType::IPV4,
            ArpOperation::REQUEST,
            &A,
            &[10, 0, 0, 1],
            &[0; 6],
            &[10, 0, 0, 2],
        )
        .unwrap();
        let mut buf = Vec::new();
        etherparse::Ethernet2Header {
            source: A,
            destination: [0xff; 6],
            ether_type: EtherType::ARP,
        }
        .write(&mut buf)
        .unwrap();
        arp.write(&mut buf).unwrap();
        assert_eq!(
            describe(LinkKind::Ethernet, &buf, 42),
            "ARP, Request who-has 10.0.0.2 tell 10.0.0.1, length 42"
        );
    }
}
