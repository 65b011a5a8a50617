//! Interface names for the capture: an `ip link show` dump on a netlink socket that was
//! opened inside the node (a netlink socket talks to the namespace it was created in,
//! whoever holds it later, here the test runner's process).

use std::io;
use std::os::fd::OwnedFd;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{LinkAttribute, LinkMessage};

/// One interface of a namespace: index, name, `ARPHRD_*` type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Link {
    pub(crate) index: u32,
    pub(crate) name: String,
    pub(crate) hatype: u16,
}

/// A route netlink socket of `NETLINK_ROUTE`, close-on-exec, in the calling thread's
/// network namespace. No multicast groups: it only answers dumps.
pub(crate) fn open_socket() -> io::Result<OwnedFd> {
    let s = socket2::Socket::new(
        socket2::Domain::from(libc::AF_NETLINK),
        socket2::Type::RAW,
        Some(socket2::Protocol::from(libc::NETLINK_ROUTE)),
    )?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    Ok(s.into())
}

/// Every interface of the namespace `sock` belongs to (`ip link show`).
pub(crate) fn dump(sock: &socket2::Socket, seq: u32) -> io::Result<Vec<Link>> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    header.sequence_number = seq;
    let mut request = LinkMessage::default();
    request.attributes.push(crate::netlink::skip_stats());
    let mut msg = NetlinkMessage::new(
        header,
        NetlinkPayload::InnerMessage(RouteNetlinkMessage::GetLink(request)),
    );
    msg.finalize();
    let mut buf = vec![0u8; msg.buffer_len()];
    msg.serialize(&mut buf);
    // An unconnected netlink socket sends to the kernel (port 0) by default.
    sock.send(&buf)?;

    let mut out = Vec::new();
    let mut data = vec![0u8; 64 * 1024];
    loop {
        let n = std::io::Read::read(&mut &*sock, &mut data)?;
        if n == 0 {
            return Ok(out);
        }
        let mut off = 0;
        while let Some(head) = data[..n].get(off..off + 4) {
            let len = u32::from_ne_bytes([head[0], head[1], head[2], head[3]]) as usize;
            let Some(frame) = data[..n].get(off..off + len).filter(|_| len >= 16) else {
                break;
            };
            off += (len + 3) & !3;
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(frame)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            if msg.header.sequence_number != seq {
                continue;
            }
            match msg.payload {
                NetlinkPayload::Done(_) => return Ok(out),
                NetlinkPayload::Error(e) if e.code.is_some() => return Err(e.to_io()),
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                    let name = l.attributes.iter().find_map(|a| match a {
                        LinkAttribute::IfName(n) => Some(n.clone()),
                        _ => None,
                    });
                    out.push(Link {
                        index: l.header.index,
                        name: name.unwrap_or_else(|| format!("if{}", l.header.index)),
                        hatype: u16::from(l.header.link_layer_type),
                    });
                }
                _ => {}
            }
        }
    }
}
