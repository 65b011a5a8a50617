//! What the running kernel supports, found out by trying: each link kind is created,
//! each qdisc attached, an nftables dump asked for and an `AF_PACKET` socket opened, in
//! a network namespace made for the probe on a thread of its own (so nothing is ever
//! created in the machine's namespaces, and the namespace vanishes with the thread).
//!
//! The errno tells presence: an unknown link kind fails with `EOPNOTSUPP` ("Unknown
//! device type"), an unknown qdisc with `ENOENT`, a missing nftables with `EINVAL` from
//! nfnetlink; anything else (success, or a complaint about options) means the kernel
//! knows the feature. `netns-test doctor` prints the result as a table.
//!
//! ```no_run
//! netns_test::isolate().unwrap();
//! for p in netns_test::probe::probe_all() {
//!     println!("{:<10} {:<10} {:?} ({})", p.kind.to_string(), p.name, p.status, p.config);
//! }
//! ```

use std::fmt;
use std::io;

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkMessage};
use netlink_packet_route::tc::{TcAttribute, TcHandle, TcMessage};
use rtnetlink::{LinkMessageBuilder, LinkUnspec, LinkVeth, LinkVlan, LinkVrf, LinkVxlan};

use crate::error::errno_text;
use crate::netlink::{Netlink, Request};

/// What a probe is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// A link (device) kind, as in `ip link add ... type KIND`.
    Link,
    /// A queueing discipline, as in `tc qdisc add ... KIND`.
    Qdisc,
    /// Packet filtering and NAT.
    Firewall,
    /// A socket family.
    Socket,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Link => "link",
            Kind::Qdisc => "qdisc",
            Kind::Firewall => "firewall",
            Kind::Socket => "socket",
        })
    }
}

/// The answer of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// The kernel has it.
    Available,
    /// The kernel lacks it; `detail` is what it said.
    Missing {
        /// The kernel's words (errno and extended ack).
        detail: String,
    },
    /// The probe could not tell (it failed for another reason).
    Unknown {
        /// Why.
        detail: String,
    },
}

/// One feature and whether this kernel has it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Probe {
    /// What sort of feature.
    pub kind: Kind,
    /// Its name (`vxlan`, `netem`, `nftables`, `AF_PACKET`).
    pub name: &'static str,
    /// The kernel configuration option that provides it.
    pub config: &'static str,
    /// The answer.
    pub status: Status,
}

/// Link kinds probed, with their config options.
pub const LINK_KINDS: &[(&str, &str)] = &[
    ("veth", "CONFIG_VETH"),
    ("bridge", "CONFIG_BRIDGE"),
    ("dummy", "CONFIG_DUMMY"),
    ("vxlan", "CONFIG_VXLAN"),
    ("macvlan", "CONFIG_MACVLAN"),
    ("ipvlan", "CONFIG_IPVLAN"),
    ("vlan", "CONFIG_VLAN_8021Q"),
    ("gre", "CONFIG_NET_IPGRE"),
    ("ipip", "CONFIG_NET_IPIP"),
    ("sit", "CONFIG_IPV6_SIT"),
    ("tun", "CONFIG_TUN"),
    ("wireguard", "CONFIG_WIREGUARD"),
    ("bond", "CONFIG_BONDING"),
    ("vrf", "CONFIG_NET_VRF"),
];

/// Qdiscs probed, with their config options.
pub const QDISCS: &[(&str, &str)] = &[
    ("netem", "CONFIG_NET_SCH_NETEM"),
    ("tbf", "CONFIG_NET_SCH_TBF"),
    ("htb", "CONFIG_NET_SCH_HTB"),
];

/// Probes every feature. Works in any process: the probes run on a thread in a network
/// namespace of their own. Where that namespace cannot be made (an unprivileged
/// process that has not called [`isolate`](crate::isolate)), every status is
/// [`Status::Unknown`] and says so.
pub fn probe_all() -> Vec<Probe> {
    let worker = std::thread::Builder::new()
        .name("netns-test-probe".into())
        .spawn(probe_here);
    let joined = worker
        .map_err(|e| e.to_string())
        .and_then(|h| h.join().map_err(|_| "the probe thread panicked".to_owned()));
    match joined {
        Ok(Ok(list)) => list,
        Ok(Err(e)) | Err(e) => unknown_all(&e),
    }
}

fn unknown_all(why: &str) -> Vec<Probe> {
    let mut out = Vec::new();
    for (name, config) in LINK_KINDS {
        out.push(probe(Kind::Link, name, config, unknown(why)));
    }
    for (name, config) in QDISCS {
        out.push(probe(Kind::Qdisc, name, config, unknown(why)));
    }
    out.push(probe(
        Kind::Firewall,
        "nftables",
        "CONFIG_NF_TABLES",
        unknown(why),
    ));
    out.push(probe(
        Kind::Socket,
        "AF_PACKET",
        "CONFIG_PACKET",
        unknown(why),
    ));
    out
}

fn unknown(why: &str) -> Status {
    Status::Unknown {
        detail: why.to_owned(),
    }
}

fn probe(kind: Kind, name: &'static str, config: &'static str, status: Status) -> Probe {
    Probe {
        kind,
        name,
        config,
        status,
    }
}

/// Runs on the probe thread: a fresh network namespace, then every probe in it.
fn probe_here() -> Result<Vec<Probe>, String> {
    crate::ns::new_netns_here().map_err(|e| {
        format!(
            "cannot create a network namespace to probe in ({e}); run after \
             netns_test::isolate() or as root"
        )
    })?;
    let mut nl = Netlink::open().map_err(|e| format!("cannot open a netlink socket: {e}"))?;
    let mut out = Vec::new();
    // A veth pair first: the parent of macvlan, ipvlan and vlan, and the home of qdiscs.
    let veth = create(
        &mut nl,
        LinkVeth::new("probe-veth", "probe-peer").build(),
        "veth",
    );
    let parent = index_of(&mut nl, "probe-veth");
    for (name, config) in LINK_KINDS {
        let status = match *name {
            "veth" => veth.clone(),
            "tun" => tun(),
            _ => match link_message(name, parent) {
                Some(msg) => create(&mut nl, msg, name),
                None => unknown("the veth pair the probe needs as a parent could not be made"),
            },
        };
        out.push(probe(Kind::Link, name, config, status));
    }
    for (name, config) in QDISCS {
        let status = match parent {
            Some(index) => qdisc(&mut nl, index, name),
            None => unknown("no interface to attach a qdisc to"),
        };
        out.push(probe(Kind::Qdisc, name, config, status));
    }
    out.push(probe(
        Kind::Firewall,
        "nftables",
        "CONFIG_NF_TABLES",
        nftables(),
    ));
    out.push(probe(
        Kind::Socket,
        "AF_PACKET",
        "CONFIG_PACKET",
        af_packet(),
    ));
    Ok(out)
}

/// The `ip link add` message for a kind, with the least it needs.
fn link_message(kind: &str, parent: Option<u32>) -> Option<LinkMessage> {
    let name = format!("probe-{kind}");
    let bare = |k: &str| {
        LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::from(k)).name(name.clone())
    };
    Some(match kind {
        "vxlan" => LinkVxlan::new(&name, 42).build(),
        "vrf" => LinkVrf::new(&name, 42).build(),
        "vlan" => LinkVlan::new(&name, parent?, 42).build(),
        "macvlan" | "ipvlan" => bare(kind).link(parent?).build(),
        "gre" => bare("gre").build(),
        "sit" => bare("sit").build(),
        other => bare(other).build(),
    })
}

fn create(nl: &mut Netlink, msg: LinkMessage, kind: &str) -> Status {
    let req = Request::new(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("ip link add type {kind}"),
    );
    verdict(nl.execute(&[req]), libc::EOPNOTSUPP)
}

fn qdisc(nl: &mut Netlink, index: u32, kind: &str) -> Status {
    let mut msg = TcMessage::with_index(i32::try_from(index).unwrap_or(0));
    msg.header.parent = TcHandle::ROOT;
    msg.attributes.push(TcAttribute::Kind(kind.to_owned()));
    let req = Request::new(
        RouteNetlinkMessage::NewQueueDiscipline(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("tc qdisc add root {kind}"),
    );
    // Without options netem, tbf and htb refuse with EINVAL: the kind is known.
    verdict(nl.execute(&[req]), libc::ENOENT)
}

/// Success, or an error other than `absent_errno`, means the kernel has the feature.
fn verdict(r: io::Result<Vec<crate::netlink::Refusal>>, absent_errno: i32) -> Status {
    match r {
        Err(e) => unknown(&format!("netlink failed: {e}")),
        Ok(refused) => match refused.into_iter().next() {
            None => Status::Available,
            Some(r) if r.error.raw_os_error() == Some(absent_errno) => Status::Missing {
                detail: r.detail.unwrap_or_else(|| errno_text(&r.error)),
            },
            Some(r) if r.error.raw_os_error() == Some(libc::EPERM) => {
                unknown(&format!("not permitted: {}", r.error))
            }
            Some(_) => Status::Available,
        },
    }
}

fn index_of(nl: &mut Netlink, name: &str) -> Option<u32> {
    let links = nl
        .dump(RouteNetlinkMessage::GetLink(LinkMessage::default()))
        .ok()?;
    links.into_iter().find_map(|m| match m {
        RouteNetlinkMessage::NewLink(l)
            if l.attributes
                .iter()
                .any(|a| matches!(a, LinkAttribute::IfName(n) if n == name)) =>
        {
            Some(l.header.index)
        }
        _ => None,
    })
}

/// tun/tap devices are made through `/dev/net/tun`, which opens only when the kernel
/// has the driver.
fn tun() -> Status {
    match std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/net/tun")
    {
        Ok(_) => Status::Available,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV | libc::ENXIO)) => Status::Missing {
            detail: format!("/dev/net/tun: {e}"),
        },
        Err(e) if e.kind() == io::ErrorKind::NotFound => Status::Missing {
            detail: "/dev/net/tun does not exist".to_owned(),
        },
        Err(e) => unknown(&format!("/dev/net/tun: {e}")),
    }
}

fn af_packet() -> Status {
    use socket2::{Domain, Socket, Type};
    match Socket::new(Domain::PACKET, Type::RAW, None) {
        Ok(_) => Status::Available,
        Err(e) if e.raw_os_error() == Some(libc::EAFNOSUPPORT) => Status::Missing {
            detail: errno_text(&e),
        },
        Err(e) => unknown(&e.to_string()),
    }
}

/// Asks nf_tables for its tables (`nft list tables`): nfnetlink answers `EINVAL` for a
/// subsystem it does not have.
fn nftables() -> Status {
    const NETLINK_NETFILTER: isize = 12;
    const NFT_GETTABLE: u16 = (10 << 8) | 1;
    const NLMSG_ERROR: u16 = 2;
    let mut sock = match netlink_sys::Socket::new(NETLINK_NETFILTER) {
        Ok(s) => s,
        Err(e) if e.raw_os_error() == Some(libc::EPROTONOSUPPORT) => {
            return Status::Missing {
                detail: format!("no nfnetlink (CONFIG_NETFILTER_NETLINK): {e}"),
            };
        }
        Err(e) => return unknown(&format!("netfilter netlink socket: {e}")),
    };
    let connected = sock
        .bind_auto()
        .and_then(|_| sock.connect(&netlink_sys::SocketAddr::new(0, 0)));
    if let Err(e) = connected {
        return unknown(&format!("netfilter netlink socket: {e}"));
    }
    let flags: u16 = 0x1 | 0x300; // NLM_F_REQUEST | NLM_F_DUMP
    let mut msg = Vec::with_capacity(20);
    msg.extend_from_slice(&20u32.to_ne_bytes());
    msg.extend_from_slice(&NFT_GETTABLE.to_ne_bytes());
    msg.extend_from_slice(&flags.to_ne_bytes());
    msg.extend_from_slice(&1u32.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[0, 0, 0, 0]); // nfgenmsg: AF_UNSPEC, version 0, res_id 0
    if let Err(e) = sock.send(&msg, 0) {
        return unknown(&format!("sending to nfnetlink: {e}"));
    }
    let (data, _) = match sock.recv_from_full() {
        Ok(d) => d,
        Err(e) => return unknown(&format!("reading from nfnetlink: {e}")),
    };
    let kind = data.get(4..6).map(|b| u16::from_ne_bytes([b[0], b[1]]));
    let errno = data
        .get(16..20)
        .map(|b| -i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
    match (kind, errno) {
        (None, _) => unknown("nfnetlink gave an empty answer"),
        (Some(NLMSG_ERROR), Some(e)) if e == libc::EINVAL || e == libc::EOPNOTSUPP => {
            Status::Missing {
                detail: errno_text(&io::Error::from_raw_os_error(e)),
            }
        }
        (Some(NLMSG_ERROR), Some(e)) if e != 0 => {
            unknown(&errno_text(&io::Error::from_raw_os_error(e)))
        }
        // NLMSG_DONE, a table, or an ack: nf_tables answered.
        _ => Status::Available,
    }
}
