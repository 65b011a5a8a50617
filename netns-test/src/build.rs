//! Builds a validated [`Topology`] inside the test's namespaces.
//!
//! The build runs on one thread, which starts (and ends) in the test's root network
//! namespace, the `host` node. It goes in phases, each a batch of netlink requests per
//! namespace sent before any acknowledgement is read:
//!
//! 0. namespaces: one `unshare(CLONE_NEWNET)` per node, with its sysctls written and its
//!    netlink socket opened while the thread stands in it;
//! 1. the first device of every kind (bridge, veth, dummy, ...): a kind the kernel lacks
//!    is reported for all kinds at once, before anything else is built;
//! 2. every other device, created up, with its final name, index, MTU and MAC, in its
//!    final namespace (a veth pair is one request creating both ends, each in its node);
//!    `lo` up;
//!    then the second veth ends brought up, and the devices stacked on others
//!    (macvlan, ipvlan, vlan on their parent, a VXLAN on its underlay), created in the
//!    parent's node and moved to their own in the same request (a parent must be up
//!    first); then tun and tap devices (ioctls on `/dev/net/tun`, in the node);
//! 3. bridge ports enslaved, addresses added, tun/tap settings, further VXLAN remotes;
//! 4. impairments (qdiscs), then routes;
//! 5. NAT and filter rules (one `nft -f -` per node that has some, all at once); the
//!    nodes' `/etc/hosts` files and host names (see [`crate::hosts`]).
//!
//! Phase 1 also asks, without creating anything, whether the kernel knows the kinds
//! made later (stacked devices: a request naming a parent that does not exist; qdiscs:
//! the qdisc without options on `lo`; tun: `/dev/net/tun` opens), so that every missing
//! feature is named in one message before anything is built.
//!
//! Interface indexes are chosen here (1 is `lo`; then 1000, 1001, ... in creation
//! order, unique across all the test's namespaces, above the kernel's fallback tunnels) so that no phase has to look anything up.
//! Unique matters: the kernel treats a veth whose index equals its peer's as a "stacked"
//! device and delays its carrier event (linkwatch) by up to a second.
//!
//! Finally the build waits, on link notifications rather than by polling, until every
//! veth end that should be up is operationally up: until the kernel's asynchronous
//! linkwatch work has run, the device drops packets (no qdisc attached yet). In a
//! topology that uses IPv6 it then waits, on address notifications, until no address
//! of those interfaces is tentative: the kernel's addrconf work, which runs after the
//! link's, joins each address's solicited-node group and clears the flag; before that,
//! a neighbour solicitation for the address goes unanswered and the first packet to it
//! waits a second for the next.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use netlink_packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::link::{
    BridgeStpState, InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkMessage, State,
};
use netlink_packet_route::route::{RouteScope, RouteType};
use netns_test_topology::{
    Bridge, Device, DeviceSettings, Endpoint, HOST, IfaceConfig, Impairment, IpNet, Link, LinkMode,
    Node as NodeSpec, Route, RouteDest, RouteKind, Topology,
};
use rtnetlink::{
    AddressMessageBuilder, LinkBridge, LinkMessageBuilder, LinkUnspec, RouteMessageBuilder,
};

use crate::error::{Error, MissingFeature, Result};
use crate::netlink::{Netlink, Request};
use crate::ns;

/// A namespace made for a node, with the socket that configures it.
pub(crate) struct BuiltNode {
    pub(crate) name: String,
    pub(crate) netns: OwnedFd,
    pub(crate) nl: Netlink,
    /// `lo` is up already (the namespace was a fork server's spare).
    pub(crate) lo_up: bool,
    /// The far ends of the node's tun and tap devices, by interface name.
    pub(crate) taps: Vec<(String, OwnedFd)>,
    /// The node's `/etc/hosts` and host name, when the topology asks for them.
    pub(crate) env: Option<crate::ns::node_env::NodeEnv>,
    /// The node's ends of links emulated in userspace, with their impairments.
    pub(crate) emulated: Vec<(String, crate::emulate::Params)>,
    /// The forwarders of those links (kept by `host`, alive as long as the network).
    pub(crate) forwarders: Vec<crate::emulate::Forwarder>,
}

/// The sysctls every node gets before its own when the topology uses IPv6: no
/// duplicate address detection (the harness's addresses are known unique), so IPv6
/// addresses are usable as soon as the kernel's addrconf work has run for them, which
/// the build waits for.
const NODE_DEFAULTS: [(&str, &str); 2] = [
    ("/proc/sys/net/ipv6/conf/all/accept_dad", "0"),
    ("/proc/sys/net/ipv6/conf/default/accept_dad", "0"),
];

fn write_sysctls(spec: &NodeSpec, v6: bool) -> Result<()> {
    let mut all: Vec<(String, String)> = Vec::new();
    if v6 {
        all.extend(
            NODE_DEFAULTS
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
    }
    if spec.forwarding {
        all.push(("/proc/sys/net/ipv4/ip_forward".into(), "1".into()));
        all.push(("/proc/sys/net/ipv6/conf/all/forwarding".into(), "1".into()));
    }
    all.extend(
        spec.sysctls
            .iter()
            .map(|s| (s.proc_path(), s.value.clone())),
    );
    for (path, value) in all {
        std::fs::write(&path, &value).map_err(|e| {
            Error::io(
                Some(&spec.name),
                format!("writing `{value}` to {path} (sysctl)"),
                e,
            )
        })?;
    }
    Ok(())
}

/// Whether the topology uses IPv6 at all (then duplicate address detection is turned
/// off in every node, so link-local addresses are usable as soon as the kernel's
/// addrconf work has run for them too, which the build waits for).
pub(crate) fn uses_v6(topo: &Topology) -> bool {
    topo.interfaces()
        .iter()
        .any(|i| i.config.addresses.iter().any(|a| a.addr().is_ipv6()))
        || topo.nodes.iter().any(|n| {
            n.routes
                .iter()
                .any(|r| r.dest.family() == netns_test_topology::Family::V6)
        })
}

/// Creates the namespace of one node on the calling thread, which stays in it.
fn make_namespace(spec: &NodeSpec, v6: bool) -> Result<BuiltNode> {
    // One the fork server's child made before the test was known, if any is left. Its
    // `lo` is up, so only a plain node (`lo` up, no sysctls of its own, which a fresh
    // namespace gets before `lo` comes up) takes one.
    let spare = spec
        .is_plain()
        .then(ns::forkserver::take_spare)
        .flatten()
        .and_then(|spare| ns::setns_net(spare.netns.as_fd()).ok().map(|()| spare));
    if let Some(spare) = spare {
        write_sysctls(spec, v6)?;
        return Ok(BuiltNode {
            name: spec.name.clone(),
            netns: spare.netns,
            nl: spare.nl,
            lo_up: true,
            taps: Vec::new(),
            env: None,
            emulated: Vec::new(),
            forwarders: Vec::new(),
        });
    }
    let netns = ns::new_netns_here().map_err(|e| {
        let what = if e.raw_os_error() == Some(libc::ENOSPC) {
            let limit = std::fs::read_to_string("/proc/sys/user/max_net_namespaces")
                .map(|v| v.trim().to_owned())
                .unwrap_or_else(|_| "?".into());
            format!(
                "creating a network namespace: the limit on network namespaces is reached \
                 (user.max_net_namespaces = {limit}, /proc/sys/user/max_net_namespaces); \
                 use fewer nodes or raise the limit"
            )
        } else {
            "creating a network namespace".to_owned()
        };
        Error::io(Some(&spec.name), what, e)
    })?;
    write_sysctls(spec, v6)?;
    let nl =
        Netlink::open().map_err(|e| Error::io(Some(&spec.name), "opening a netlink socket", e))?;
    Ok(BuiltNode {
        name: spec.name.clone(),
        netns,
        nl,
        lo_up: false,
        taps: Vec::new(),
        env: None,
        emulated: Vec::new(),
        forwarders: Vec::new(),
    })
}

/// Nodes per thread below which creating namespaces on more threads does not pay.
const NODES_PER_THREAD: usize = 16;

/// Creates every node's namespace. The calling thread must stand in the test's root
/// namespace, which becomes `host`, and ends there. Small topologies are made on the
/// calling thread (it goes back to `host` afterwards: a thread costs more than the
/// namespaces); large ones on helper threads, since namespace creation is largely
/// parallel in the kernel.
fn make_namespaces(topo: &Topology) -> Result<Vec<BuiltNode>> {
    let v6 = uses_v6(topo);
    let others: Vec<&NodeSpec> = topo.nodes.iter().filter(|n| n.name != HOST).collect();
    let host_netns = ns::current_netns()
        .map_err(|e| Error::io(Some(HOST), "opening a handle on the host namespace", e))?;
    let threads = if others.len() <= NODES_PER_THREAD {
        1
    } else {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(others.len().div_ceil(NODES_PER_THREAD))
    };
    let mut created: Vec<Result<BuiltNode>> = Vec::with_capacity(others.len());
    if threads == 1 {
        created.extend(others.iter().map(|spec| make_namespace(spec, v6)));
        ns::setns_net(host_netns.as_fd())
            .map_err(|e| Error::io(Some(HOST), "returning to the host namespace", e))?;
    } else {
        let chunk = others.len().div_ceil(threads).max(1);
        std::thread::scope(|s| {
            let handles: Vec<_> = others
                .chunks(chunk)
                .map(|part| {
                    s.spawn(move || {
                        part.iter()
                            .map(|spec| make_namespace(spec, v6))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(v) => created.extend(v),
                    Err(p) => std::panic::resume_unwind(p),
                }
            }
        });
    }
    // The host's own namespace, whose `lo` a fork server's child brought up before the
    // test was known: only for a plain host (the child gave any other host a new
    // namespace, as `Registered::plain_host` told it).
    let readied = ns::forkserver::take_host_loopback();
    if readied.is_some() && !topo.host_is_plain() {
        return Err(Error::io(
            Some(HOST),
            "taking the host namespace readied ahead",
            std::io::Error::other(
                "its `lo` is up, but this topology's host keeps `lo` down or sets sysctls \
                 (the test's registration says `plain_host: true`)",
            ),
        ));
    }
    if let Some(spec) = topo.node(HOST) {
        write_sysctls(spec, v6)?;
    }
    let lo_up = readied.is_some();
    let nl = match readied {
        Some(nl) => nl,
        None => {
            Netlink::open().map_err(|e| Error::io(Some(HOST), "opening a netlink socket", e))?
        }
    };
    let mut out = Vec::with_capacity(topo.nodes.len());
    out.push(BuiltNode {
        name: HOST.to_owned(),
        netns: host_netns,
        nl,
        lo_up,
        taps: Vec::new(),
        env: None,
        emulated: Vec::new(),
        forwarders: Vec::new(),
    });
    for node in created {
        out.push(node?);
    }
    Ok(out)
}

/// One batch of requests per node, in node order.
struct Phase {
    per_node: Vec<Vec<Request>>,
    /// For each request: the device kind it creates, if any (for the kernel probe).
    kinds: Vec<Vec<Option<&'static str>>>,
}

impl Phase {
    fn new(nodes: usize) -> Phase {
        Phase {
            per_node: (0..nodes).map(|_| Vec::new()).collect(),
            kinds: (0..nodes).map(|_| Vec::new()).collect(),
        }
    }

    fn push(&mut self, node: usize, req: Request, kind: Option<&'static str>) {
        self.per_node[node].push(req);
        self.kinds[node].push(kind);
    }

    /// Sends every node's batch, then reads every node's acknowledgements. Returns the
    /// refusals with the node index and the request.
    fn run(
        self,
        nodes: &mut [BuiltNode],
    ) -> Result<Vec<(usize, Request, crate::netlink::Refusal)>> {
        let mut firsts = Vec::with_capacity(nodes.len());
        for (i, reqs) in self.per_node.iter().enumerate() {
            let first = if reqs.is_empty() {
                0
            } else {
                nodes[i]
                    .nl
                    .send(reqs)
                    .map_err(|e| Error::io(Some(&nodes[i].name), "sending netlink requests", e))?
            };
            firsts.push(first);
        }
        let mut refused = Vec::new();
        for (i, reqs) in self.per_node.into_iter().enumerate() {
            if reqs.is_empty() {
                continue;
            }
            let r = nodes[i].nl.wait(firsts[i], reqs.len()).map_err(|e| {
                Error::io(Some(&nodes[i].name), "reading netlink acknowledgements", e)
            })?;
            let mut reqs: Vec<Option<Request>> = reqs.into_iter().map(Some).collect();
            for refusal in r {
                if let Some(req) = reqs.get_mut(refusal.index).and_then(Option::take) {
                    refused.push((i, req, refusal));
                }
            }
        }
        Ok(refused)
    }
}

fn first_error(
    nodes: &[BuiltNode],
    refused: Vec<(usize, Request, crate::netlink::Refusal)>,
) -> Result<()> {
    match refused.into_iter().next() {
        None => Ok(()),
        Some((node, req, refusal)) => Err(Error::Netlink {
            node: nodes[node].name.clone(),
            what: req.what,
            detail: refusal.detail,
            source: refusal.error,
        }),
    }
}

/// The kernel config option for a link kind (from the probe's table).
pub(crate) fn config_option(kind: &str) -> String {
    crate::probe::LINK_KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map_or_else(
            || format!("CONFIG_{}", kind.to_ascii_uppercase()),
            |(_, c)| (*c).to_owned(),
        )
}

/// Interface indexes, chosen per namespace.
struct Indexes {
    next: u32,
    map: HashMap<(usize, String), u32>,
}

impl Indexes {
    fn assign(&mut self, node: usize, name: &str) -> u32 {
        let idx = self.next;
        self.next += 1;
        self.map.insert((node, name.to_owned()), idx);
        idx
    }

    fn get(&self, node: usize, name: &str) -> u32 {
        if name == "lo" {
            return 1;
        }
        // Validation guarantees every referenced interface exists.
        self.map.get(&(node, name.to_owned())).copied().unwrap_or(0)
    }
}

/// `ip link set lo up` (the loopback device is index 1 in every namespace).
pub(crate) fn loopback_up() -> Request {
    let msg = LinkUnspec::new_with_index(1).up().build();
    Request::new(RouteNetlinkMessage::SetLink(msg), 0, "ip link set lo up")
}

pub(crate) fn with_config<T>(
    mut b: LinkMessageBuilder<T>,
    cfg: &IfaceConfig,
) -> LinkMessageBuilder<T> {
    if let Some(mtu) = cfg.mtu {
        b = b.mtu(mtu);
    }
    if let Some(mac) = cfg.mac {
        b = b.address(mac.0.to_vec());
    }
    if cfg.up { b.up() } else { b }
}

fn create_bridge(br: &Bridge, index: u32) -> Request {
    let mut b = LinkBridge::new(&br.name).index(index);
    if br.stp {
        b = b.stp_state(BridgeStpState::KernelStp);
    }
    if let Some(fd) = br.forward_delay {
        // The kernel takes clock_t (hundredths of a second).
        b = b.forward_delay(fd * 100);
    }
    let msg = with_config(b, &br.config).build();
    Request::new(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("ip link add {} type bridge", br.name),
    )
}

fn create_veth(link: &Link, index: [u32; 2], peer_ns: Option<&OwnedFd>) -> Request {
    let [a, b]: &[Endpoint; 2] = &link.ends;
    let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(b.iface.clone())
        .index(index[1]);
    if let Some(fd) = peer_ns {
        peer = peer.setns_by_fd(fd.as_raw_fd());
    }
    // The peer cannot be created up: veth refuses to open an end whose peer is not
    // linked yet (ENOTCONN). Phase 3 brings it up.
    let peer_cfg = IfaceConfig {
        up: false,
        ..b.config.clone()
    };
    let mut peer = with_config(peer, &peer_cfg).build();
    one_queue_each_way(&mut peer);
    let main = LinkMessageBuilder::<LinkUnspec>::new_with_info_kind(InfoKind::Veth)
        .name(a.iface.clone())
        .index(index[0])
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer)));
    let mut msg = with_config(main, &a.config).build();
    one_queue_each_way(&mut msg);
    Request::new(
        RouteNetlinkMessage::NewLink(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!(
            "ip link add {} type veth peer name {} netns {}",
            a.iface, b.iface, b.node
        ),
    )
}

/// Asks for one transmit and one receive queue. Without the attributes veth allocates
/// a queue per possible CPU and then cuts the real count down to one; cutting queues
/// waits for an RCU grace period (`synchronize_net` under the RTNL lock), once for each
/// end of the pair. One queue each way is what the kernel leaves in use anyway.
fn one_queue_each_way(msg: &mut LinkMessage) {
    msg.attributes.push(LinkAttribute::NumTxQueues(1));
    msg.attributes.push(LinkAttribute::NumRxQueues(1));
}

/// `ip addr add NET dev IFACE`. An IPv6 address is added tentative, as by `ip`: the
/// kernel's addrconf work joins its solicited-node group and then clears the flag
/// (at once where duplicate address detection is off, as in every node of a topology
/// that uses IPv6) and then puts in its local route (see [`Netlink::wait_v6_usable`],
/// which waits for both). `nodad` would skip the flag but not the work.
pub(crate) fn add_address(iface: &str, index: u32, net: &IpNet) -> Request {
    let msg = match net.addr() {
        IpAddr::V4(a) => AddressMessageBuilder::<Ipv4Addr>::new()
            .index(index)
            .address(a, net.prefix_len())
            .build(),
        IpAddr::V6(a) => AddressMessageBuilder::<Ipv6Addr>::new()
            .index(index)
            .address(a, net.prefix_len())
            .build(),
    };
    Request::new(
        RouteNetlinkMessage::NewAddress(msg),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("ip addr add {net} dev {iface}"),
    )
}

pub(crate) fn add_route(route: &Route, dev_index: Option<u32>, text: String) -> Request {
    Request::new(
        RouteNetlinkMessage::NewRoute(route_message(route, dev_index)),
        NLM_F_CREATE | NLM_F_EXCL,
        format!("ip route add {text}"),
    )
}

/// `ip route del`: the route that matches `route` whatever its scope and whoever
/// added it (the kernel's own connected routes too), as `ip` asks.
pub(crate) fn del_route(route: &Route, dev_index: Option<u32>, text: String) -> Request {
    let mut msg = route_message(route, dev_index);
    msg.header.scope = RouteScope::NoWhere;
    msg.header.protocol = netlink_packet_route::route::RouteProtocol::Unspec;
    Request::new(
        RouteNetlinkMessage::DelRoute(msg),
        0,
        format!("ip route del {text}"),
    )
}

fn route_message(
    route: &Route,
    dev_index: Option<u32>,
) -> netlink_packet_route::route::RouteMessage {
    let (kind, via, onlink) = match &route.kind {
        RouteKind::Unicast { via, onlink, .. } => (RouteType::Unicast, *via, *onlink),
        RouteKind::Blackhole => (RouteType::BlackHole, None, false),
        RouteKind::Unreachable => (RouteType::Unreachable, None, false),
        RouteKind::Prohibit => (RouteType::Prohibit, None, false),
    };
    let (dest, plen) = match route.dest {
        RouteDest::Default(netns_test_topology::Family::V4) => {
            (IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)
        }
        RouteDest::Default(netns_test_topology::Family::V6) => {
            (IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0)
        }
        RouteDest::Prefix(p) => (p.network(), p.prefix_len()),
    };
    let mut b = RouteMessageBuilder::<IpAddr>::new()
        .destination_prefix(dest, plen)
        .unwrap_or_else(|_| RouteMessageBuilder::<IpAddr>::new())
        .kind(kind);
    if let Some(gw) = via {
        b = b
            .gateway(gw)
            .unwrap_or_else(|_| RouteMessageBuilder::<IpAddr>::new());
    } else if kind == RouteType::Unicast {
        b = b.scope(RouteScope::Link);
    }
    if let Some(i) = dev_index {
        b = b.output_interface(i);
    }
    if let Some(m) = route.metric {
        b = b.priority(m);
    }
    if onlink {
        b = b.onlink();
    }
    b.build()
}

/// The part of an interface's impairment the kernel applies: all of it, or only the
/// rate limit on an end of a link emulated in userspace (the forwarder does the rest).
fn kernel_impairment(topo: &Topology, iface: &netns_test_topology::IfaceRef<'_>) -> Impairment {
    let imp = &iface.config.impairment;
    match iface.origin {
        netns_test_topology::IfaceOrigin::Link { index, .. }
            if topo
                .links
                .get(index)
                .is_some_and(|l| l.mode == LinkMode::Userspace) =>
        {
            Impairment {
                rate: imp.rate,
                burst: imp.burst,
                ..Impairment::default()
            }
        }
        _ => imp.clone(),
    }
}

/// What a phase-1 request finds out.
#[derive(Clone, Copy)]
enum Probe {
    /// A link kind; `only` if the request creates nothing (its refusal is expected).
    Link { kind: &'static str, only: bool },
    /// A qdisc kind, asked without creating anything.
    Qdisc(&'static str),
}

/// Sends phase 1 and turns "unknown kind" refusals into one list of missing features.
fn run_probes(
    nodes: &mut [BuiltNode],
    probe: Phase,
    what: HashMap<(usize, usize), Probe>,
    mut missing: Vec<MissingFeature>,
) -> Result<()> {
    let refused = probe.run(nodes)?;
    // A probe that creates nothing should be refused; if a kernel accepted one anyway,
    // the device it made goes again.
    let mut strays: Vec<(usize, usize)> = what
        .iter()
        .filter(|(_, p)| matches!(p, Probe::Link { only: true, .. }))
        .map(|(at, _)| *at)
        .filter(|(n, i)| !refused.iter().any(|(rn, _, r)| rn == n && r.index == *i))
        .collect();
    strays.sort_unstable();
    for (n, i) in strays {
        if let Some(Probe::Link { kind, .. }) = what.get(&(n, i)) {
            let name = format!("nt-probe-{kind}");
            let msg = LinkUnspec::new_with_name(&name).build();
            let del = Request::new(
                RouteNetlinkMessage::DelLink(msg),
                0,
                format!("ip link del {name}"),
            );
            let _ = nodes[n].nl.execute(&[del]);
        }
    }
    let mut other = Vec::new();
    for (n, req, refusal) in refused {
        let errno = refusal.error.raw_os_error();
        match what.get(&(n, refusal.index)) {
            Some(Probe::Link { kind, .. }) if errno == Some(libc::EOPNOTSUPP) => {
                missing.push(MissingFeature {
                    what: format!("the `{kind}` link kind (ip link add ... type {kind})"),
                    config: config_option(kind),
                });
            }
            Some(Probe::Qdisc(kind)) if errno == Some(libc::ENOENT) => {
                missing.push(MissingFeature {
                    what: format!("the `{kind}` qdisc (tc qdisc add ... {kind})"),
                    config: crate::tc::config_option(kind),
                });
            }
            Some(Probe::Link { only: true, .. } | Probe::Qdisc(_)) => {}
            _ => other.push((n, req, refusal)),
        }
    }
    if !missing.is_empty() {
        return Err(Error::MissingKernelFeatures(missing));
    }
    first_error(nodes, other)
}

/// Builds `topo`. Returns the nodes in topology order (`host` first).
pub(crate) fn build(topo: &Topology) -> Result<Vec<BuiltNode>> {
    let mut clock = PhaseClock::new();
    let nft = crate::nat::find_nft(topo)?;
    crate::tap::check_access(topo)?;
    let mut nodes = make_namespaces(topo)?;
    clock.lap("namespaces");
    let pos: HashMap<&str, usize> = topo
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let at = |name: &str| pos.get(name).copied().unwrap_or(0);
    let mut idx = Indexes {
        next: FIRST_INDEX,
        map: HashMap::new(),
    };

    // Phases 1 and 2: creation, with the first of each kind sent alone first.
    let mut creations: Vec<(usize, Request, &'static str)> = Vec::new();
    for br in &topo.bridges {
        let n = at(&br.node);
        let i = idx.assign(n, &br.name);
        creations.push((n, create_bridge(br, i), "bridge"));
    }
    let (stacked, plain): (Vec<&Device>, Vec<&Device>) = topo
        .devices
        .iter()
        .filter(|d| !crate::tap::is_tuntap(d))
        .partition(|d| crate::devices::is_stacked(d));
    for dev in plain {
        let n = at(&dev.node);
        let i = idx.assign(n, &dev.name);
        let req = crate::devices::create(dev, i, None, None);
        creations.push((n, req, dev.kind.kernel_kind()));
    }
    for link in topo.links.iter().filter(|l| l.mode == LinkMode::Veth) {
        let (na, nb) = (at(&link.ends[0].node), at(&link.ends[1].node));
        let ia = idx.assign(na, &link.ends[0].iface);
        let ib = idx.assign(nb, &link.ends[1].iface);
        let peer_ns = (na != nb).then(|| &nodes[nb].netns);
        creations.push((na, create_veth(link, [ia, ib], peer_ns), "veth"));
    }
    let mut probe = Phase::new(nodes.len());
    let mut rest = Phase::new(nodes.len());
    let mut what: HashMap<(usize, usize), Probe> = HashMap::new();
    let mut seen: Vec<&str> = Vec::new();
    for (n, req, kind) in creations {
        if seen.contains(&kind) {
            rest.push(n, req, Some(kind));
        } else {
            seen.push(kind);
            what.insert(
                (n, probe.per_node[n].len()),
                Probe::Link { kind, only: false },
            );
            probe.push(n, req, Some(kind));
        }
    }
    for dev in &stacked {
        let kind = dev.kind.kernel_kind();
        if !seen.contains(&kind) {
            seen.push(kind);
            what.insert(
                (0, probe.per_node[0].len()),
                Probe::Link { kind, only: true },
            );
            probe.push(0, crate::devices::probe_request(dev.kind), Some(kind));
        }
    }
    let mut qdiscs: Vec<&'static str> = Vec::new();
    for iface in topo.interfaces() {
        for k in crate::tc::kinds(&kernel_impairment(topo, &iface)) {
            if !qdiscs.contains(&k) {
                qdiscs.push(k);
                what.insert((0, probe.per_node[0].len()), Probe::Qdisc(k));
                probe.push(0, crate::tc::probe_request(k), None);
            }
        }
    }
    let mut missing = Vec::new();
    if topo.devices.iter().any(crate::tap::is_tuntap)
        || topo.links.iter().any(|l| l.mode == LinkMode::Userspace)
    {
        if let Err(detail) = crate::tap::available() {
            missing.push(MissingFeature {
                what: format!("tun/tap devices ({detail})"),
                config: "CONFIG_TUN".to_owned(),
            });
        }
    }
    clock.lap("plan");
    run_probes(&mut nodes, probe, what, missing)?;
    clock.lap("first device of each kind");

    for (n, node) in topo.nodes.iter().enumerate() {
        if node.loopback && !nodes[n].lo_up {
            rest.push(n, loopback_up(), None);
        }
    }
    let refused = rest.run(&mut nodes)?;
    first_error(&nodes, refused)?;

    // Devices stacked on others, in the parent's node. The second ends of the veth
    // pairs come up first (in the same batch of their node, so in order): a VLAN
    // cannot be created up on a parent that is down (ENETDOWN).
    let mut phase = Phase::new(nodes.len());
    for link in topo.links.iter().filter(|l| l.mode == LinkMode::Veth) {
        let b = &link.ends[1];
        if b.config.up {
            let n = at(&b.node);
            let msg = LinkUnspec::new_with_index(idx.get(n, &b.iface))
                .up()
                .build();
            phase.push(
                n,
                Request::new(
                    RouteNetlinkMessage::SetLink(msg),
                    0,
                    format!("ip link set {} up", b.iface),
                ),
                None,
            );
        }
    }
    for dev in &stacked {
        let n = at(&dev.node);
        let (home, lower) = match &dev.settings {
            DeviceSettings::Vxlan(v) => (n, v.dev.as_deref().map(|d| idx.get(n, d))),
            DeviceSettings::Macvlan { parent, .. }
            | DeviceSettings::Ipvlan { parent, .. }
            | DeviceSettings::Vlan { parent, .. } => {
                let p = at(&parent.node);
                (p, Some(idx.get(p, &parent.iface)))
            }
            _ => (n, None),
        };
        let i = idx.assign(n, &dev.name);
        let target = (home != n).then(|| &nodes[n].netns);
        phase.push(home, crate::devices::create(dev, i, lower, target), None);
    }
    let refused = phase.run(&mut nodes)?;
    first_error(&nodes, refused)?;
    for dev in topo.devices.iter().filter(|d| crate::tap::is_tuntap(d)) {
        let n = at(&dev.node);
        let i = idx.assign(n, &dev.name);
        let fd = crate::tap::create(&nodes[n], dev, i)?;
        nodes[n].taps.push((dev.name.clone(), fd));
    }
    for link in topo.links.iter().filter(|l| l.mode == LinkMode::Userspace) {
        let mut fds = Vec::new();
        let mut params = Vec::new();
        for e in &link.ends {
            let n = at(&e.node);
            let i = idx.assign(n, &e.iface);
            fds.push(crate::tap::create_tap(&nodes[n], &e.iface, i)?);
            let p: crate::emulate::Params =
                std::sync::Arc::new(std::sync::Mutex::new(e.config.impairment.clone()));
            nodes[n].emulated.push((e.iface.clone(), p.clone()));
            params.push(p);
        }
        let name = format!("{}:{}", link.ends[0].node, link.ends[0].iface);
        let (Ok(ends), Ok(params)) = (<[OwnedFd; 2]>::try_from(fds), params.try_into()) else {
            continue;
        };
        let fw = crate::emulate::start(&name, ends, params)
            .map_err(|e| Error::io(None, format!("starting the userspace link {name}"), e))?;
        nodes[0].forwarders.push(fw);
    }
    clock.lap("devices");

    // Phase 3: bridge ports and addresses.
    let mut phase = Phase::new(nodes.len());
    for br in &topo.bridges {
        let n = at(&br.node);
        let bi = idx.get(n, &br.name);
        for port in &br.ports {
            let msg = LinkUnspec::new_with_index(idx.get(n, port))
                .controller(bi)
                .build();
            phase.push(
                n,
                Request::new(
                    RouteNetlinkMessage::SetLink(msg),
                    0,
                    format!("ip link set {port} master {}", br.name),
                ),
                None,
            );
        }
    }
    for link in topo.links.iter().filter(|l| l.mode == LinkMode::Userspace) {
        for e in &link.ends {
            let n = at(&e.node);
            let msg =
                with_config(LinkUnspec::new_with_index(idx.get(n, &e.iface)), &e.config).build();
            let what = format!("ip link set {} (mtu, address, up)", e.iface);
            phase.push(
                n,
                Request::new(RouteNetlinkMessage::SetLink(msg), 0, what),
                None,
            );
        }
    }
    for dev in &topo.devices {
        let n = at(&dev.node);
        let i = idx.get(n, &dev.name);
        if crate::tap::is_tuntap(dev) {
            let msg = with_config(LinkUnspec::new_with_index(i), &dev.config).build();
            let what = format!("ip link set {} (mtu, address, up)", dev.name);
            phase.push(
                n,
                Request::new(RouteNetlinkMessage::SetLink(msg), 0, what),
                None,
            );
        }
        for req in crate::devices::vxlan_remotes(dev, i) {
            phase.push(n, req, None);
        }
    }
    for iface in topo.interfaces() {
        let n = at(iface.node);
        let i = idx.get(n, iface.name);
        for a in &iface.config.addresses {
            phase.push(n, add_address(iface.name, i, a), None);
        }
    }
    let refused = phase.run(&mut nodes)?;
    first_error(&nodes, refused)?;

    clock.lap("ports and addresses");
    // Phase 4: impairments, then routes.
    let mut phase = Phase::new(nodes.len());
    for iface in topo.interfaces() {
        let n = at(iface.node);
        let i = idx.get(n, iface.name);
        for req in crate::tc::install(iface.name, i, &kernel_impairment(topo, &iface)) {
            phase.push(n, req, None);
        }
    }
    let refused = phase.run(&mut nodes)?;
    first_error(&nodes, refused)?;
    let mut phase = Phase::new(nodes.len());
    for (n, node) in topo.nodes.iter().enumerate() {
        for r in &node.routes {
            let dev = match &r.kind {
                RouteKind::Unicast { dev: Some(d), .. } => Some(idx.get(n, d)),
                _ => None,
            };
            phase.push(n, add_route(r, dev, r.to_string()), None);
        }
    }
    let refused = phase.run(&mut nodes)?;
    first_error(&nodes, refused)?;
    clock.lap("routes");
    crate::nat::load(topo, &nodes, nft.as_ref())?;
    clock.lap("nat and filter");
    for (node, env) in nodes.iter_mut().zip(crate::hosts::prepare(topo)?) {
        node.env = env;
    }

    let mut pending: Vec<Vec<Pending<'_>>> = vec![Vec::new(); nodes.len()];
    for link in topo.links.iter().filter(|l| l.mode == LinkMode::Veth) {
        if link.ends.iter().all(|e| e.config.up) {
            for e in &link.ends {
                let n = at(&e.node);
                pending[n].push(Pending {
                    index: idx.get(n, &e.iface),
                    name: &e.iface,
                    stacked: false,
                });
            }
        }
    }
    for dev in topo
        .devices
        .iter()
        .filter(|d| d.kind.has_parent() && d.config.up)
    {
        let n = at(&dev.node);
        pending[n].push(Pending {
            index: idx.get(n, &dev.name),
            name: &dev.name,
            stacked: true,
        });
    }
    // In a topology with IPv6: every link waited for, and every interface that is up
    // with an IPv6 address of the topology, must have usable IPv6 addresses too.
    let v6_links = uses_v6(topo).then(|| {
        let mut links: Vec<Vec<u32>> = pending
            .iter()
            .map(|p| p.iter().map(|p| p.index).collect())
            .collect();
        for iface in topo.interfaces() {
            if iface.config.up && iface.config.addresses.iter().any(|a| a.addr().is_ipv6()) {
                let n = at(iface.node);
                let i = idx.get(n, iface.name);
                if !links[n].contains(&i) {
                    links[n].push(i);
                }
            }
        }
        links
    });
    wait_until_up(&mut nodes, pending)?;
    if let Some(links) = v6_links {
        wait_until_v6_usable(&mut nodes, &links)?;
    }
    clock.lap("links up");
    clock.report(topo.nodes.len(), nodes.iter().filter(|n| n.lo_up).count());
    Ok(nodes)
}

/// The first interface index the build hands out. A new namespace can already hold
/// devices besides `lo`: with the ip_gre, ipip, sit or ip6 tunnel modules loaded, the
/// kernel adds fallback tunnels (`gre0`, `tunl0`, `sit0`, ...) at the lowest indexes.
/// Starting well above them keeps chosen indexes free everywhere.
const FIRST_INDEX: u32 = 1000;

/// Per-phase timings, printed to stderr when `NETNS_TEST_TIMING` is set: where a
/// build's time goes, to keep the per-test path honest.
struct PhaseClock {
    on: bool,
    start: Instant,
    last: Instant,
    laps: Vec<(&'static str, Duration)>,
}

impl PhaseClock {
    fn new() -> PhaseClock {
        let now = Instant::now();
        PhaseClock {
            on: std::env::var_os("NETNS_TEST_TIMING").is_some(),
            start: now,
            last: now,
            laps: Vec::new(),
        }
    }

    fn lap(&mut self, what: &'static str) {
        if self.on {
            let now = Instant::now();
            self.laps.push((what, now - self.last));
            self.last = now;
        }
    }

    fn report(&self, nodes: usize, made_ahead: usize) {
        if self.on {
            let laps: Vec<String> = self
                .laps
                .iter()
                .map(|(w, d)| format!("{w} {:.2}", d.as_secs_f64() * 1e3))
                .collect();
            let peak = std::fs::read_to_string("/proc/self/status")
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .map(|v| v.trim().to_owned())
                })
                .unwrap_or_default();
            eprintln!(
                "netns-test timing: build of {nodes} nodes {:.2} ms: {} (ms); {made_ahead} \
                 namespaces made ahead by the fork server; peak RSS {peak}",
                self.start.elapsed().as_secs_f64() * 1e3,
                laps.join(", ")
            );
        }
    }
}

/// How long the kernel gets to report links up, and IPv6 addresses usable, before the
/// build, [`Net::restore_link`](crate::Net::restore_link) or
/// [`Node::add_address`](crate::Node::add_address) gives up.
pub(crate) const LINK_UP_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) fn is_up(l: &LinkMessage) -> bool {
    l.attributes
        .iter()
        .any(|a| matches!(a, LinkAttribute::OperState(State::Up)))
}

/// An interface the build waits for.
#[derive(Debug, Clone, Copy)]
struct Pending<'a> {
    index: u32,
    name: &'a str,
    /// A device on a parent (macvlan, ipvlan, vlan). Created with its parent's carrier
    /// already on, it is activated when it opens and may never get an operstate event
    /// of its own, so carrier (`IFF_RUNNING`) is enough. A veth end needs operstate UP:
    /// its qdisc is attached by the same asynchronous linkwatch work that sets it.
    stacked: bool,
}

impl Pending<'_> {
    fn satisfied_by(&self, l: &LinkMessage) -> bool {
        l.header.index == self.index
            && (is_up(l) || (self.stacked && l.header.flags.contains(LinkFlags::Running)))
    }
}

/// Waits until every interface in `pending[node]` is up (see [`Pending`]). Each node's
/// socket joins the link notifications first, then asking for the pending links gives
/// their state up to that moment (and applies their pending carrier change, see
/// [`Netlink::get_links`]), and notifications tell the rest; asking again every 200 ms
/// covers notifications the kernel dropped.
fn wait_until_up(nodes: &mut [BuiltNode], mut pending: Vec<Vec<Pending<'_>>>) -> Result<()> {
    let deadline = Instant::now() + LINK_UP_TIMEOUT;
    for (n, node) in nodes.iter_mut().enumerate() {
        let want = &mut pending[n];
        if want.is_empty() {
            continue;
        }
        let mut last_ask: Option<Instant> = None;
        loop {
            for l in node.nl.take_link_events() {
                want.retain(|p| !p.satisfied_by(&l));
            }
            if want.is_empty() {
                break;
            }
            let now = Instant::now();
            if now >= deadline {
                let names: Vec<&str> = want.iter().map(|p| p.name).collect();
                return Err(Error::io(
                    Some(&node.name),
                    format!("waiting for {} to come up (operstate UP)", names.join(", ")),
                    std::io::Error::from(std::io::ErrorKind::TimedOut),
                ));
            }
            if last_ask.is_none_or(|t| now - t > Duration::from_millis(200)) {
                last_ask = Some(now);
                let indexes: Vec<u32> = want.iter().map(|p| p.index).collect();
                let links = node
                    .nl
                    .get_links(&indexes)
                    .map_err(|e| Error::io(Some(&node.name), "`ip link show`", e))?;
                for l in links {
                    want.retain(|p| !p.satisfied_by(&l));
                }
                continue;
            }
            node.nl
                .wait_events(Duration::from_millis(50))
                .map_err(|e| Error::io(Some(&node.name), "reading link notifications", e))?;
        }
    }
    Ok(())
}

/// Waits until every IPv6 address on the interfaces `links[node]` is usable
/// ([`Netlink::wait_v6_usable`]: not tentative, and with its local route):
/// duplicate address detection is off in a topology that uses IPv6, but the kernel's
/// addrconf work, which runs after the link's own, still has to join each address's
/// solicited-node group, clear its flag and put in its local route.
fn wait_until_v6_usable(nodes: &mut [BuiltNode], links: &[Vec<u32>]) -> Result<()> {
    let deadline = Instant::now() + LINK_UP_TIMEOUT;
    for (node, indexes) in nodes.iter_mut().zip(links) {
        if indexes.is_empty() {
            continue;
        }
        node.nl
            .wait_v6_usable(indexes, deadline)
            .map_err(|e| Error::io(Some(&node.name), crate::netlink::WAITING_V6, e))?;
    }
    Ok(())
}
