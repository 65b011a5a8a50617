//! Netlink requests for the `[[devices]]` kinds: dummy, VXLAN, macvlan, ipvlan, VLAN,
//! ipip, gre and sit (tun and tap are made with ioctls, see [`crate::tap`]).
//!
//! Each request says which `ip` command it equals. Devices on a parent (macvlan, ipvlan,
//! vlan) are created in the parent's node and moved to their own in the same request,
//! as `ip link add link PARENT name NAME netns NODE type macvlan` does.

use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};

use netlink_packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::link::{
    InfoData, InfoIpVlan, InfoKind, InfoMacVlan, InfoVlan, IpVlanMode, LinkMessage, MacVlanMode,
};
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourFlags, NeighbourMessage, NeighbourState,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netns_test_topology::{Device, DeviceKind, DeviceSettings, IpvlanMode, MacvlanMode, Tunnel};
use rtnetlink::{LinkGre, LinkIpIp, LinkMessageBuilder, LinkSit, LinkUnspec, LinkVxlan};

use crate::build::with_config;
use crate::netlink::Request;

/// An interface index no namespace has: a request naming it as a parent fails with
/// `ENODEV` when the kernel knows the kind, and with `EOPNOTSUPP` when it does not.
const NO_SUCH_INDEX: u32 = 0x7fff_fff0;

/// Whether the device is made on another interface of the topology, so it must wait
/// until that one exists.
pub(crate) fn is_stacked(dev: &Device) -> bool {
    match &dev.settings {
        DeviceSettings::Vxlan(v) => v.dev.is_some(),
        _ => dev.kind.has_parent(),
    }
}

/// A request that tells whether the kernel knows `kind` without creating anything: a
/// device of that kind on a parent that does not exist.
pub(crate) fn probe_request(kind: DeviceKind) -> Request {
    let k = kind.kernel_kind();
    let msg = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::from(k))
        .name(format!("nt-probe-{k}"))
        .link(NO_SUCH_INDEX)
        .build();
    Request::new(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("ip link add link <none> type {k} (probe)"),
    )
}

/// The request creating `dev` with interface index `index`. `lower` is the index of
/// its parent (or VXLAN underlay) in the node the request goes to; `target` the
/// namespace to create it in when that is another node.
pub(crate) fn create(
    dev: &Device,
    index: u32,
    lower: Option<u32>,
    target: Option<&OwnedFd>,
) -> Request {
    let name = dev.name.as_str();
    let (msg, what) = match &dev.settings {
        DeviceSettings::Vxlan(v) => {
            let mut b = LinkVxlan::new(name, v.vni)
                .port(v.dstport)
                .learning(v.learning);
            let mut what = format!(
                "ip link add {name} type vxlan id {} dstport {}",
                v.vni, v.dstport
            );
            match (v.group, v.remotes.first()) {
                (Some(IpAddr::V4(g)), _) => b = b.group(g),
                (Some(IpAddr::V6(g)), _) => b = b.group6(g),
                (None, Some(IpAddr::V4(r))) => b = b.remote(*r),
                (None, Some(IpAddr::V6(r))) => b = b.remote6(*r),
                (None, None) => {}
            }
            if let Some(g) = v.group {
                what.push_str(&format!(" group {g}"));
            } else if let Some(r) = v.remotes.first() {
                what.push_str(&format!(" remote {r}"));
            }
            match v.local {
                Some(IpAddr::V4(l)) => b = b.local(l),
                Some(IpAddr::V6(l)) => b = b.local6(l),
                None => {}
            }
            if let Some(l) = v.local {
                what.push_str(&format!(" local {l}"));
            }
            if let (Some(i), Some(d)) = (lower, &v.dev) {
                b = b.dev(i);
                what.push_str(&format!(" dev {d}"));
            }
            if let Some(t) = v.ttl {
                b = b.ttl(t);
            }
            (finish(b, dev, index, target), what)
        }
        DeviceSettings::Macvlan { parent, mode } => {
            let b = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::MacVlan)
                .set_info_data(InfoData::MacVlan(vec![InfoMacVlan::Mode(macvlan_mode(
                    *mode,
                ))]));
            (
                finish_on(b, dev, index, lower, target),
                format!(
                    "ip link add link {} name {name} netns {} type macvlan mode {}",
                    parent.iface,
                    dev.node,
                    mode.as_str()
                ),
            )
        }
        DeviceSettings::Ipvlan { parent, mode } => {
            let b = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::IpVlan)
                .set_info_data(InfoData::IpVlan(vec![InfoIpVlan::Mode(ipvlan_mode(*mode))]));
            (
                finish_on(b, dev, index, lower, target),
                format!(
                    "ip link add link {} name {name} netns {} type ipvlan mode {}",
                    parent.iface,
                    dev.node,
                    mode.as_str()
                ),
            )
        }
        DeviceSettings::Vlan { parent, id } => {
            let b = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Vlan)
                .set_info_data(InfoData::Vlan(vec![InfoVlan::Id(*id)]));
            (
                finish_on(b, dev, index, lower, target),
                format!(
                    "ip link add link {} name {name} netns {} type vlan id {id}",
                    parent.iface, dev.node
                ),
            )
        }
        DeviceSettings::Tunnel(t) => tunnel(dev, t, index),
        _ => {
            let k = dev.kind.kernel_kind();
            let b = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::from(k))
                .name(name.to_owned());
            (
                finish(b, dev, index, None),
                format!("ip link add {name} type {k}"),
            )
        }
    };
    Request::new(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        what,
    )
}

fn finish<T>(
    b: LinkMessageBuilder<T>,
    dev: &Device,
    index: u32,
    target: Option<&OwnedFd>,
) -> LinkMessage {
    let mut b = b.name(dev.name.clone()).index(index);
    if let Some(fd) = target {
        b = b.setns_by_fd(fd.as_raw_fd());
    }
    with_config(b, &dev.config).build()
}

fn finish_on<T>(
    b: LinkMessageBuilder<T>,
    dev: &Device,
    index: u32,
    lower: Option<u32>,
    target: Option<&OwnedFd>,
) -> LinkMessage {
    finish(b.link(lower.unwrap_or(NO_SUCH_INDEX)), dev, index, target)
}

fn tunnel(dev: &Device, t: &Tunnel, index: u32) -> (LinkMessage, String) {
    let name = dev.name.as_str();
    let v4 = |a: Option<IpAddr>| match a {
        Some(IpAddr::V4(a)) => Some(a),
        _ => None,
    };
    let (local, remote) = (v4(t.local), v4(Some(t.remote)));
    let kind = dev.kind.kernel_kind();
    let mut what = format!("ip link add {name} type {kind} remote {}", t.remote);
    if let Some(l) = t.local {
        what.push_str(&format!(" local {l}"));
    }
    // The three builders have the same methods but no common trait.
    macro_rules! build {
        ($builder:ident) => {{
            let mut b = $builder::new(name);
            if let Some(l) = local {
                b = b.local(l);
            }
            if let Some(r) = remote {
                b = b.remote(r);
            }
            if let Some(ttl) = t.ttl {
                b = b.ttl(ttl);
            }
            finish(b, dev, index, None)
        }};
    }
    let msg = match dev.kind {
        DeviceKind::Gre => build!(LinkGre),
        DeviceKind::Sit => build!(LinkSit),
        _ => build!(LinkIpIp),
    };
    (msg, what)
}

fn macvlan_mode(m: MacvlanMode) -> MacVlanMode {
    match m {
        MacvlanMode::Private => MacVlanMode::Private,
        MacvlanMode::Vepa => MacVlanMode::Vepa,
        MacvlanMode::Bridge => MacVlanMode::Bridge,
        MacvlanMode::Passthru => MacVlanMode::Passthrough,
    }
}

fn ipvlan_mode(m: IpvlanMode) -> IpVlanMode {
    match m {
        IpvlanMode::L2 => IpVlanMode::L2,
        IpvlanMode::L3 => IpVlanMode::L3,
        IpvlanMode::L3s => IpVlanMode::L3S,
    }
}

/// The forwarding entries for a VXLAN's further unicast remotes (`bridge fdb append
/// 00:00:00:00:00:00 dev NAME dst REMOTE`): flooded traffic goes to every remote.
pub(crate) fn vxlan_remotes(dev: &Device, index: u32) -> Vec<Request> {
    let DeviceSettings::Vxlan(v) = &dev.settings else {
        return Vec::new();
    };
    v.remotes
        .iter()
        .skip(1)
        .map(|r| {
            let mut m = NeighbourMessage::default();
            m.header.family = AddressFamily::Bridge;
            m.header.ifindex = index;
            m.header.state = NeighbourState::Permanent;
            m.header.flags = NeighbourFlags::Own;
            m.attributes
                .push(NeighbourAttribute::LinkLayerAddress(vec![0; 6]));
            m.attributes.push(NeighbourAttribute::Destination(match r {
                IpAddr::V4(a) => NeighbourAddress::Inet(*a),
                IpAddr::V6(a) => NeighbourAddress::Inet6(*a),
            }));
            Request::new(
                RouteNetlinkMessage::NewNeighbour(m),
                NLM_F_CREATE | NLM_F_APPEND,
                format!(
                    "bridge fdb append 00:00:00:00:00:00 dev {} dst {r}",
                    dev.name
                ),
            )
        })
        .collect()
}
