//! The topology model: what a topology file describes, after parsing and validation.
//!
//! Every value here has already been checked by [`crate::parse()`]: node names are
//! declared, interface names are valid kernel names and unique per node, gateways are
//! reachable, and so on. The runtime builds exactly this, in this order.

use std::fmt;
use std::net::IpAddr;

pub use ipnet::IpNet;

/// The name of the implicit node that stands for the test's own root network namespace.
pub const HOST: &str = "host";

/// A whole topology: nodes, the veth links between them, bridges and other devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// Where the topology came from: a file path as written by the user, or `<inline>`.
    pub origin: String,
    /// Every node, `host` first (always present, even if the file does not mention it),
    /// then the declared nodes in file order.
    pub nodes: Vec<Node>,
    /// veth pairs, in file order.
    pub links: Vec<Link>,
    /// Bridges, in file order.
    pub bridges: Vec<Bridge>,
    /// Other single-ended devices (dummy, ...), in file order.
    pub devices: Vec<Device>,
    /// Scenario steps (`[[checks]]`), in file order; empty for a plain topology.
    pub checks: Vec<crate::checks::model::Check>,
}

/// A node: one network namespace (or the test's root namespace for [`HOST`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's name, unique in the topology.
    pub name: String,
    /// Bring `lo` up (the default; the kernel starts it down in a new namespace).
    pub loopback: bool,
    /// IPv4 and IPv6 forwarding (`net.ipv4.ip_forward`, `net.ipv6.conf.all.forwarding`).
    pub forwarding: bool,
    /// Further `net.*` sysctls, written in file order after `forwarding`.
    pub sysctls: Vec<Sysctl>,
    /// Routes, added in file order once every interface is up and addressed.
    pub routes: Vec<Route>,
    /// NAT rules (`nat = [...]`), in file order.
    pub nat: Vec<crate::elements::NatRule>,
    /// Filter rules (`filter = [...]`), in file order: the first match decides.
    pub filter: Vec<crate::elements::FilterRule>,
    /// The host name programs started in the node see (`uname -n`); default: the
    /// node's name (`host` keeps the test's own).
    pub hostname: Option<String>,
    /// Extra `/etc/hosts` entries of the node (`hosts = { "db" = "10.0.0.5" }`).
    pub hosts: Vec<(String, IpAddr)>,
}

impl Node {
    /// Whether the node is a new namespace with `lo` up and nothing set before that:
    /// true unless it keeps `lo` down or sets sysctls of its own (which a new namespace
    /// gets before `lo` comes up). A namespace readied before the topology was known
    /// may then stand for the node.
    pub fn is_plain(&self) -> bool {
        self.loopback && self.sysctls.is_empty()
    }
}

/// One sysctl setting, e.g. `net.ipv4.conf.all.rp_filter = 0`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sysctl {
    /// The dotted key, always starting with `net.`.
    pub key: String,
    /// The value as written to `/proc/sys/...` (booleans become `1`/`0`).
    pub value: String,
}

impl Sysctl {
    /// The path under `/proc/sys` for this key (`net.ipv4.ip_forward` →
    /// `/proc/sys/net/ipv4/ip_forward`).
    pub fn proc_path(&self) -> String {
        format!("/proc/sys/{}", self.key.replace('.', "/"))
    }
}

/// Settings an interface end can carry, shared by veth ends, bridges and devices.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IfaceConfig {
    /// Addresses with prefix length, in file order.
    pub addresses: Vec<IpNet>,
    /// MTU, if set.
    pub mtu: Option<u32>,
    /// MAC address, if set.
    pub mac: Option<MacAddr>,
    /// Bring the interface up (default true).
    pub up: bool,
    /// Impairments of the interface's outgoing traffic (netem, rate); empty by default.
    pub impairment: crate::elements::Impairment,
}

/// One end of a veth pair: an interface in a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The node the interface lives in.
    pub node: String,
    /// The interface name inside that node.
    pub iface: String,
    /// Addresses, MTU, MAC.
    pub config: IfaceConfig,
}

/// A veth pair joining two interfaces (possibly in the same node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// The two ends, in the order the file lists them.
    pub ends: [Endpoint; 2],
    /// How the link is made (`mode = "veth" | "userspace"`).
    pub mode: LinkMode,
}

/// How a `[[links]]` entry is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LinkMode {
    /// A veth pair (the default); impairments are netem and tbf qdiscs.
    #[default]
    Veth,
    /// Two tap devices whose frames the harness forwards, applying each end's `netem`
    /// settings itself: impairments on kernels without netem. Slower than a veth pair
    /// (every frame crosses userspace); `rate` still uses tbf.
    Userspace,
}

/// A Linux bridge in a node, with some of that node's interfaces as ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// The node the bridge lives in.
    pub node: String,
    /// The bridge's interface name.
    pub name: String,
    /// Port interface names (interfaces of the same node), in file order.
    pub ports: Vec<String>,
    /// Addresses, MTU, MAC of the bridge interface itself.
    pub config: IfaceConfig,
    /// Spanning tree protocol on (`brctl stp on`); default off.
    pub stp: bool,
    /// STP forward delay in seconds (`brctl setfd`); kernel default (15 s) if unset.
    pub forward_delay: Option<u32>,
}

/// The kind of a single-ended device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceKind {
    /// A `dummy` interface: a local-only interface that can hold addresses.
    Dummy,
    /// A VXLAN tunnel endpoint: an Ethernet segment carried in UDP.
    Vxlan,
    /// A macvlan: an extra MAC address on a parent interface.
    Macvlan,
    /// An ipvlan: an extra IP interface on a parent, sharing its MAC.
    Ipvlan,
    /// An 802.1Q VLAN sub-interface of a parent.
    Vlan,
    /// A tun device: IP packets to and from a file descriptor the test body holds.
    Tun,
    /// A tap device: Ethernet frames to and from a file descriptor the test body holds.
    Tap,
    /// An IPv4-in-IPv4 tunnel.
    Ipip,
    /// A GRE tunnel (IPv4 underlay).
    Gre,
    /// An IPv6-in-IPv4 tunnel.
    Sit,
}

impl DeviceKind {
    /// The kernel's rtnetlink kind string (`ip link add ... type KIND`); `tun` for
    /// both tun and tap.
    pub fn kernel_kind(self) -> &'static str {
        match self {
            DeviceKind::Dummy => "dummy",
            DeviceKind::Vxlan => "vxlan",
            DeviceKind::Macvlan => "macvlan",
            DeviceKind::Ipvlan => "ipvlan",
            DeviceKind::Vlan => "vlan",
            DeviceKind::Tun | DeviceKind::Tap => "tun",
            DeviceKind::Ipip => "ipip",
            DeviceKind::Gre => "gre",
            DeviceKind::Sit => "sit",
        }
    }

    /// The kind as written in a topology file (`kind = "tap"`).
    pub fn name(self) -> &'static str {
        match self {
            DeviceKind::Tap => "tap",
            other => other.kernel_kind(),
        }
    }

    /// The kernel config option that provides this kind.
    pub fn config_option(self) -> &'static str {
        match self {
            DeviceKind::Dummy => "CONFIG_DUMMY",
            DeviceKind::Vxlan => "CONFIG_VXLAN",
            DeviceKind::Macvlan => "CONFIG_MACVLAN",
            DeviceKind::Ipvlan => "CONFIG_IPVLAN",
            DeviceKind::Vlan => "CONFIG_VLAN_8021Q",
            DeviceKind::Tun | DeviceKind::Tap => "CONFIG_TUN",
            DeviceKind::Ipip => "CONFIG_NET_IPIP",
            DeviceKind::Gre => "CONFIG_NET_IPGRE",
            DeviceKind::Sit => "CONFIG_IPV6_SIT",
        }
    }

    /// Whether the device is made on a parent interface (macvlan, ipvlan, vlan).
    pub fn has_parent(self) -> bool {
        matches!(
            self,
            DeviceKind::Macvlan | DeviceKind::Ipvlan | DeviceKind::Vlan
        )
    }
}

/// A single-ended device in a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// The node the device lives in.
    pub node: String,
    /// The interface name.
    pub name: String,
    /// What kind of device.
    pub kind: DeviceKind,
    /// Addresses, MTU, MAC.
    pub config: IfaceConfig,
    /// What the kind needs beyond that (VXLAN id and remotes, parent and mode, ...).
    pub settings: crate::elements::DeviceSettings,
}

/// The address family of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// Where a route goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteDest {
    /// `default` (0.0.0.0/0 or ::/0).
    Default(Family),
    /// A prefix; a bare address in the file becomes a /32 or /128 host route.
    Prefix(IpNet),
}

impl RouteDest {
    /// The route's address family.
    pub fn family(&self) -> Family {
        match self {
            RouteDest::Default(f) => *f,
            RouteDest::Prefix(IpNet::V4(_)) => Family::V4,
            RouteDest::Prefix(IpNet::V6(_)) => Family::V6,
        }
    }
}

/// What a route does with matching packets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteKind {
    /// Forward: via a gateway and/or out of a device.
    Unicast {
        /// Next-hop gateway.
        via: Option<IpAddr>,
        /// Output interface in the same node.
        dev: Option<String>,
        /// Treat the gateway as on-link even if no subnet covers it (`onlink`).
        onlink: bool,
    },
    /// Silently discard (`blackhole`).
    Blackhole,
    /// Fail the send with "Network is unreachable" / ICMP net unreachable (`unreachable`).
    Unreachable,
    /// Fail the send with "Permission denied" / ICMP admin prohibited (`prohibit`).
    Prohibit,
}

/// One route of a node, as `ip route add` would take it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The destination.
    pub dest: RouteDest,
    /// What happens to matching packets.
    pub kind: RouteKind,
    /// Route metric (`metric N`), if set.
    pub metric: Option<u32>,
}

impl fmt::Display for Route {
    /// The route as `ip route` writes it: `[TYPE] DEST [via GW] [dev IFACE] [onlink]
    /// [metric N]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            RouteKind::Unicast { .. } => {}
            RouteKind::Blackhole => f.write_str("blackhole ")?,
            RouteKind::Unreachable => f.write_str("unreachable ")?,
            RouteKind::Prohibit => f.write_str("prohibit ")?,
        }
        match self.dest {
            RouteDest::Default(_) => f.write_str("default")?,
            RouteDest::Prefix(p) => write!(f, "{p}")?,
        }
        if let RouteKind::Unicast { via, dev, onlink } = &self.kind {
            if let Some(v) = via {
                write!(f, " via {v}")?;
            }
            if let Some(d) = dev {
                write!(f, " dev {d}")?;
            }
            if *onlink {
                f.write_str(" onlink")?;
            }
        }
        if let Some(m) = self.metric {
            write!(f, " metric {m}")?;
        }
        Ok(())
    }
}

/// A 48-bit Ethernet MAC address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// A reference to one interface the topology creates, whatever made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IfaceRef<'a> {
    /// The node it lives in.
    pub node: &'a str,
    /// Its name.
    pub name: &'a str,
    /// Its configuration.
    pub config: &'a IfaceConfig,
    /// What made it.
    pub origin: IfaceOrigin,
}

/// What created an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfaceOrigin {
    /// End `end` (0 or 1) of `links[index]`.
    Link {
        /// Index into [`Topology::links`].
        index: usize,
        /// Which end.
        end: usize,
    },
    /// `bridges[index]`.
    Bridge(usize),
    /// `devices[index]`.
    Device(usize),
}

impl Topology {
    /// The node called `name`, if any.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The index in `links` of the veth link that has the end `end` (`"node:iface"`),
    /// if any.
    pub fn link_with_end(&self, end: &str) -> Option<usize> {
        let (node, iface) = end.split_once(':')?;
        self.links
            .iter()
            .position(|l| l.ends.iter().any(|e| e.node == node && e.iface == iface))
    }

    /// Checks what everything that builds a topology relies on, for one built or
    /// changed in code (a parsed topology always passes): `host` first, node names
    /// unique, every interface in a node that exists and named once in it (not `lo`),
    /// bridge ports and route devices that are interfaces of their node, and
    /// impairments a file could hold ([`Impairment::check`](crate::Impairment::check)).
    /// The error names the first problem and how to mend it.
    ///
    /// ```
    /// let mut t = netns_test_topology::parse("[nodes.a]\n", "<inline>").unwrap();
    /// assert!(t.check().is_ok());
    /// t.nodes.retain(|n| n.name != "host");
    /// assert!(t.check().unwrap_err().contains("`host`"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.nodes.first().is_none_or(|n| n.name != HOST) {
            return Err(format!(
                "the first node must be `{HOST}`, the test's own namespace (as `parse` makes it)"
            ));
        }
        let mut names = std::collections::HashSet::new();
        for n in &self.nodes {
            if !names.insert(n.name.as_str()) {
                return Err(format!(
                    "node `{}` is listed twice: node names are unique",
                    n.name
                ));
            }
        }
        let mut ifaces = std::collections::HashSet::new();
        for i in self.interfaces() {
            if !names.contains(i.node) {
                return Err(format!(
                    "interface `{}:{}` is in node `{}`, which is not in `nodes`: add the node",
                    i.node, i.name, i.node
                ));
            }
            if i.name == "lo" || !ifaces.insert((i.node, i.name)) {
                return Err(format!(
                    "interface `{}:{}` is made twice (or is `lo`, which every node has): rename one",
                    i.node, i.name
                ));
            }
            i.config
                .impairment
                .check()
                .map_err(|why| format!("the impairment of `{}:{}`: {why}", i.node, i.name))?;
        }
        for b in &self.bridges {
            if let Some(p) = b
                .ports
                .iter()
                .find(|p| !ifaces.contains(&(b.node.as_str(), p.as_str())))
            {
                return Err(format!(
                    "bridge `{}:{}` has the port `{p}`, which is not an interface of node `{}`",
                    b.node, b.name, b.node
                ));
            }
        }
        for n in &self.nodes {
            for r in &n.routes {
                if let RouteKind::Unicast { dev: Some(d), .. } = &r.kind {
                    if d != "lo" && !ifaces.contains(&(n.name.as_str(), d.as_str())) {
                        return Err(format!(
                            "route `{r}` of node `{}` names `{d}`, which is not an interface of the node",
                            n.name
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the `host` node is plain ([`Node::is_plain`]), as it is when the
    /// topology does not mention it.
    pub fn host_is_plain(&self) -> bool {
        self.node(HOST).is_none_or(Node::is_plain)
    }

    /// Every interface the topology creates (not `lo`), in creation order: bridges,
    /// devices, then veth ends.
    pub fn interfaces(&self) -> Vec<IfaceRef<'_>> {
        let mut out = Vec::new();
        for (i, b) in self.bridges.iter().enumerate() {
            out.push(IfaceRef {
                node: &b.node,
                name: &b.name,
                config: &b.config,
                origin: IfaceOrigin::Bridge(i),
            });
        }
        for (i, d) in self.devices.iter().enumerate() {
            out.push(IfaceRef {
                node: &d.node,
                name: &d.name,
                config: &d.config,
                origin: IfaceOrigin::Device(i),
            });
        }
        for (i, l) in self.links.iter().enumerate() {
            for (end, e) in l.ends.iter().enumerate() {
                out.push(IfaceRef {
                    node: &e.node,
                    name: &e.iface,
                    config: &e.config,
                    origin: IfaceOrigin::Link { index: i, end },
                });
            }
        }
        out
    }

    /// The interfaces of one node, in creation order.
    pub fn interfaces_of<'a>(&'a self, node: &str) -> Vec<IfaceRef<'a>> {
        self.interfaces()
            .into_iter()
            .filter(|i| i.node == node)
            .collect()
    }
}
