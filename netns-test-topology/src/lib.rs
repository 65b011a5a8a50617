//! The topology model and parser shared by the `netns-test` runtime and its macro.
//!
//! Architecture Invariant: this crate makes no syscalls and contains no `unsafe`. It
//! turns topology text into a validated [`Topology`] or precise [`Diagnostic`]s.
//!
//! # The format
//!
//! A topology is a TOML document. Every key below is optional unless marked required.
//!
//! ```
//! const SRC: &str = r#"
//! ## Each [nodes.NAME] declares a network namespace. `host` is implicit (the test's own
//! ## root namespace) and may be given a table for its own settings.
//! [nodes.ns1]
//! forwarding = true   # net.ipv4.ip_forward and net.ipv6.conf.all.forwarding (default false)
//! loopback = true     # bring `lo` up (default true)
//! sysctl = { "net.ipv4.conf.all.rp_filter" = 0, "net.ipv4.ping_group_range" = "0 2147483647" }
//! ## `ip route add` syntax: [TYPE] DEST [via ADDR] [dev IFACE] [metric N] [onlink]
//! routes = [
//!   "192.168.2.0/24 via 192.168.1.2",
//!   "default via 192.168.1.2 metric 10",
//!   "10.9.9.9 via 192.168.1.2",
//!   "blackhole 10.9.0.0/16",
//!   "unreachable 10.8.0.0/16",
//!   "prohibit 10.7.0.0/16",
//!   "10.0.0.0/8 dev dummy0",
//!   "172.16.0.0/12 via 10.0.0.1 dev veth-a onlink",
//!   "default via fd00:1::2",
//! ]
//!
//! [nodes.ns2]         # an empty table is enough to declare a node
//!
//! ## veth pairs: exactly two endpoints, each "node:iface" or a table.
//! [[links]]
//! mtu = 9000          # both ends, unless an end sets its own
//! endpoints = [
//!   { iface = "ns1:veth-a", addresses = ["192.168.1.1/24", "fd00:1::1/64"], mac = "02:00:00:00:01:01" },
//!   { iface = "ns2:veth-b", addresses = ["192.168.1.2/24", "fd00:1::2/64"], up = true },
//! ]
//!
//! [[links]]
//! endpoints = ["ns2:veth-br", "host:veth-ns2"]
//!
//! ## Bridges live in any node; ports are interfaces of that node.
//! [[bridges]]
//! name = "host:br0"
//! ports = ["veth-ns2"]
//! addresses = "192.168.3.1/24"  # a string or an array
//! stp = true                    # default false
//! forward_delay = 10            # seconds, 2..=30 with STP
//!
//! ## Other single-ended devices.
//! [[devices]]
//! kind = "dummy"
//! name = "ns1:dummy0"
//! addresses = "10.255.0.1/32"
//! "#;
//!
//! let topo = netns_test_topology::parse(SRC, "<inline>").unwrap();
//! let names: Vec<&str> = topo.nodes.iter().map(|n| n.name.as_str()).collect();
//! assert_eq!(names, ["host", "ns1", "ns2"]);
//! assert_eq!(topo.node("ns1").unwrap().routes.len(), 9);
//! assert_eq!(topo.links[0].ends[1].config.mtu, Some(9000));
//! assert_eq!(topo.bridges[0].ports, ["veth-ns2"]);
//! ```
//!
//! # Devices, NAT and filter rules, impairments, names
//!
//! ```
//! const SRC: &str = r#"
//! [nodes.router]
//! forwarding = true
//! ## Loaded with nftables inside the node. masquerade/snat: by outgoing interface;
//! ## dnat: port forwarding (proto tcp (default) | udp, `in` optional, `to` ADDR[:PORT]).
//! nat = [
//!   { masquerade = "wan" },
//!   { dnat = { in = "wan", proto = "tcp", port = 8080, to = "192.168.10.5:80" } },
//! ]
//! ## First match decides; unmatched packets are accepted. action: accept | drop |
//! ## reject (TCP reset for tcp, ICMP port unreachable otherwise); chain: input
//! ## (default) | forward | output; proto: tcp | udp | icmp; from/to: prefixes;
//! ## sport/dport (with tcp or udp); iif (not in output), oif (not in input).
//! filter = [
//!   { action = "drop", proto = "tcp", dport = 22, from = "10.0.0.0/8" },
//!   { action = "reject", chain = "forward", proto = "udp", iif = "wan" },
//! ]
//! hostname = "edge"                         # what programs in the node see (default: node name)
//! hosts = { "db.internal" = "192.168.10.5" } # /etc/hosts entries of this node
//!
//! [nodes.lan]
//! [nodes.tapper]
//!
//! [[links]]
//! endpoints = [
//!   ## Impairments of the end's outgoing traffic: netem and a tbf rate limit.
//!   { iface = "router:wan", addresses = "203.0.113.1/24", netem = { delay = "50ms", jitter = "5ms", loss = "1%", duplicate = "0.1%", reorder = "1%", corrupt = "0.01%", limit = 1000 }, rate = "10mbit", burst = "32kb" },
//!   { iface = "host:uplink", addresses = "203.0.113.2/24" },
//! ]
//!
//! [[links]]
//! endpoints = [{ iface = "router:lan0", addresses = "10.0.2.15/24" }, "host:lan0"]
//!
//! ## mode = "userspace": two tap devices whose frames the harness forwards, applying
//! ## the ends' `netem` itself (for kernels without netem); default "veth".
//! [[links]]
//! mode = "userspace"
//! endpoints = [{ iface = "tapper:slow0", netem = { delay = "20ms", loss = "5%" } }, "lan:slow0"]
//!
//! ## VXLAN: vni; remote (an address or an array) or group (multicast, with dev);
//! ## local, dev (underlay interface of the same node), dstport (4789), learning, ttl.
//! [[devices]]
//! kind = "vxlan"
//! name = "router:vxlan1070"
//! vni = 1070
//! remote = "10.0.2.16"
//! dev = "lan0"
//!
//! ## macvlan (mode private | vepa | bridge (default) | passthru), ipvlan (mode l2
//! ## (default) | l3 | l3s) and vlan (id) sit on a parent: "iface" of the same node, or
//! ## "node:iface" (created there and moved into this node).
//! [[devices]]
//! kind = "macvlan"
//! name = "lan:mv0"
//! parent = "host:lan0"
//! mode = "bridge"
//! addresses = "10.0.2.20/24"
//!
//! [[devices]]
//! kind = "vlan"
//! name = "router:lan0.10"
//! parent = "lan0"
//! id = 10
//!
//! ## ipip, gre, sit: remote (required), local, ttl; IPv4 underlay.
//! [[devices]]
//! kind = "gre"
//! name = "router:gre1"
//! local = "10.0.2.15"
//! remote = "10.0.2.16"
//! addresses = "192.168.200.1/30"
//!
//! ## tun and tap: the test body holds the far end (`Node::tap`).
//! [[devices]]
//! kind = "tap"
//! name = "tapper:tap0"
//! addresses = "10.99.0.1/24"
//! "#;
//!
//! let topo = netns_test_topology::parse(SRC, "<inline>").unwrap();
//! let router = topo.node("router").unwrap();
//! assert_eq!(router.nat.len(), 2);
//! assert_eq!(router.filter[0].dport, Some(22));
//! let wan = &topo.links[0].ends[0].config.impairment;
//! assert_eq!(wan.to_string(), "delay 50ms 5ms loss 1% duplicate 0.1% reorder 1% corrupt 0.01% limit 1000 rate 10mbit");
//! assert_eq!(topo.devices.len(), 5);
//! assert_eq!(topo.links[2].mode, netns_test_topology::LinkMode::Userspace);
//!
//! // Mistakes come back as diagnostics with a line, a column and a hint.
//! let err = netns_test_topology::parse("[nodes.ns1]\nforwardng = true\n", "t.toml").unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "error: unknown key `forwardng` in node `ns1`
//!  --> t.toml:2:1
//!   |
//! 2 | forwardng = true
//!   | ^^^^^^^^^
//!   = help: did you mean `forwarding`? accepted keys: forwarding, loopback, sysctl, routes, nat, filter, hostname, hosts"
//! );
//! ```
//!
//! # Scenario checks
//!
//! A topology file may also carry `[[checks]]`: ordered steps that the `netns-test run`
//! command and the scenario test harness (`netns_test::scenario`) run against the built
//! topology. Each entry holds exactly one step (and optionally a `name`):
//!
//! ```
//! const SRC: &str = r#"
//! [nodes.ns1]
//! [nodes.ns2]
//! [[links]]
//! endpoints = [
//!   { iface = "ns1:veth-ns1", addresses = "192.168.1.1/24" },
//!   { iface = "ns2:veth-ns2", addresses = "192.168.1.2/24" },
//! ]
//!
//! ## expect: reply (default) | unreachable | timeout; `to` is an address or a node name
//! ## (its first address); ttl: the reply's TTL; timeout: default "1s".
//! [[checks]]
//! ping = { from = "ns1", to = "ns2", expect = "reply", ttl = 64 }
//!
//! ## proto: tcp (default) | udp; expect: accepted (default; the runner listens in the
//! ## node owning the address) | refused | timeout.
//! [[checks]]
//! connect = { from = "ns1", to = "192.168.1.2:80", proto = "tcp", expect = "refused" }
//!
//! ## Who answers at TTL 1, 2, 3, ... (`traceroute -I`).
//! [[checks]]
//! path = { from = "ns1", to = "192.168.1.2", hops = ["192.168.1.2"] }
//!
//! ## A program run in a node: exit status (default 0), text stdout/stderr contain.
//! [[checks]]
//! name = "the route to the peer is on-link"
//! run = { node = "ns1", cmd = ["ip", "route"], status = 0, stdout = "192.168.1.0/24" }
//!
//! ## Run-time faults and pauses. `impair` replaces an interface's impairment (`netem`,
//! ## `rate`, `burst` as on a link end; none of them removes it).
//! [[checks]]
//! impair = { node = "ns1", iface = "veth-ns1", rate = "10mbit" }
//! [[checks]]
//! wait = "100ms"
//!
//! ## A link cut as if its cable were pulled (both ends down; name either end), then
//! ## put back as the topology has it: ends up, addresses, and the routes the kernel
//! ## removed while it was down.
//! [[checks]]
//! cut = "ns1:veth-ns1"
//! [[checks]]
//! ping = { from = "ns1", to = "192.168.1.2", expect = "unreachable" }
//! [[checks]]
//! restore = "ns1:veth-ns1"
//!
//! ## Every link with one end among these nodes cut, then every cut link restored.
//! [[checks]]
//! partition = ["ns1"]
//! [[checks]]
//! heal = true
//!
//! ## A route removed from a node, or added (`add = "..."`), written as in `routes`.
//! [[checks]]
//! route = { node = "ns1", remove = "192.168.1.0/24 dev veth-ns1" }
//!
//! ## One interface down or up (`ip link set`): routes through it that the kernel
//! ## removed when it went down stay removed when it comes up; `restore` puts them back.
//! [[checks]]
//! link = { node = "ns1", iface = "veth-ns1", state = "down" }
//! "#;
//!
//! let topo = netns_test_topology::parse(SRC, "<inline>").unwrap();
//! assert_eq!(topo.checks.len(), 13);
//! assert_eq!(topo.checks[6].to_string(), "cut the link of ns1:veth-ns1");
//! assert_eq!(topo.checks[0].to_string(), "ping ns1 -> ns2 (192.168.1.2): reply, ttl 64");
//! assert_eq!(topo.checks[0].line, 13);
//! ```
//!
//! Checks are validated like the rest: nodes and interfaces must exist, a destination
//! node must have an address, an `accepted` connection must go to an address some
//! node owns, `cut` and `restore` must name an end of a `[[links]]` entry, and a
//! `route` step's route is read like the node's `routes`.
//!
//! Beyond the syntax, [`parse()`] checks that references name declared nodes and
//! interfaces, that interface names are valid kernel names unique in their node, that
//! addresses, MACs and MTUs are valid, that bridge ports are plain interfaces of the
//! bridge's node without addresses, that every route's `dev` exists and its gateway lies
//! in a subnet of the node, that every interface a rule or device names (`masquerade`,
//! `parent`, `dev`, `iif`, ...) exists, and that no address appears twice in one layer 2
//! segment.
#![forbid(unsafe_code)]

mod addr;
mod ast;
mod checks;
mod convert;
mod devices;
mod diag;
mod elements;
mod iface;
mod impair;
mod model;
mod names;
mod parse;
mod reader;
mod route;
mod rules;
mod suggest;
pub mod units;
mod validate;

pub use checks::model::{
    Check, ConnectCheck, ConnectExpect, ImpairCheck, LinkCheck, PathCheck, PingCheck, PingExpect,
    Proto, RouteCheck, RunCheck, Step, Target, format_duration,
};
pub use diag::{Diagnostic, Error};
pub use elements::*;
pub use model::*;

/// Most nodes a topology may declare (besides `host`).
pub const MAX_NODES: usize = parse::MAX_NODES;
/// Most `[[links]]` a topology may declare.
pub const MAX_LINKS: usize = iface::MAX_LINKS;
/// Most addresses one interface may carry.
pub const MAX_ADDRESSES: usize = addr::MAX_ADDRESSES;
/// Most routes one node may have.
pub const MAX_ROUTES: usize = parse::MAX_ROUTES;

/// Parses and validates topology text. `origin` names where it came from (a file path
/// as the user wrote it, or `<inline>`) and is used in error messages.
///
/// Reports as many independent problems as it can find, each with its position and a
/// hint; never panics, whatever the input.
pub fn parse(src: &str, origin: &str) -> Result<Topology, Error> {
    let mut ctx = reader::Ctx::new(src, origin);
    let doc = match toml_edit::Document::parse(src) {
        Ok(doc) => doc,
        Err(e) => {
            reader::syntax_error(&mut ctx, &e);
            return Err(ctx.finish().unwrap_or_else(|| Error::new(Vec::new())));
        }
    };
    let root = reader::from_item(doc.as_item(), &(0..0));
    let ast = parse::read_doc(&mut ctx, &root);
    validate::validate(&mut ctx, &ast);
    let checks = checks::resolve::resolve(&mut ctx, &ast, &ast.checks);
    if ctx.has_errors() {
        return Err(ctx.finish().unwrap_or_else(|| Error::new(Vec::new())));
    }
    Ok(convert::to_topology(ast, origin, checks))
}
