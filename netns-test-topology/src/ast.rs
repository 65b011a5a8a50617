//! The parsed document before validation: the model's content plus the spans that
//! validation errors point at, and notes on what could not be read (so validation
//! does not report consequences of an error already reported).

use std::collections::HashSet;

use crate::addr::SpannedNet;
use crate::checks::read::CheckDecl;
use std::net::IpAddr;

use crate::elements::{DeviceSettings, FilterRule, Impairment, NatRule};
use crate::model::{DeviceKind, MacAddr, Sysctl};
use crate::reader::Span;
use crate::route::RouteDecl;

/// A node table (`[nodes.NAME]`), or the implicit `host`.
#[derive(Debug)]
pub(crate) struct NodeDecl {
    pub(crate) name: String,
    pub(crate) loopback: bool,
    pub(crate) forwarding: bool,
    pub(crate) sysctls: Vec<Sysctl>,
    pub(crate) routes: Vec<RouteDecl>,
    pub(crate) nat: Vec<NatRule>,
    pub(crate) filter: Vec<FilterRule>,
    pub(crate) hostname: Option<String>,
    pub(crate) hosts: Vec<(String, IpAddr)>,
    /// Interfaces the node's rules name, checked by validation.
    pub(crate) refs: Vec<RefDecl>,
}

/// A reference to an interface from a setting (a NAT rule's `out`, a macvlan's
/// `parent`, ...), checked once every interface is known.
#[derive(Debug)]
pub(crate) struct RefDecl {
    pub(crate) node: String,
    pub(crate) iface: String,
    /// The reference string.
    pub(crate) span: Span,
    /// What refers, for messages ("masquerade interface", "parent").
    pub(crate) what: &'static str,
}

/// An interface declaration: a veth end, a bridge or a device.
#[derive(Debug)]
pub(crate) struct IfaceDecl {
    pub(crate) node: String,
    pub(crate) name: String,
    pub(crate) name_span: Span,
    /// The whole declaration (the endpoint string or table, the `name` string).
    pub(crate) span: Span,
    pub(crate) addresses: Vec<SpannedNet>,
    /// The MTU in effect and the span of the `mtu` that set it.
    pub(crate) mtu: Option<(u32, Span)>,
    pub(crate) mac: Option<MacAddr>,
    pub(crate) up: bool,
    pub(crate) impairment: Impairment,
}

/// A `[[links]]` entry.
#[derive(Debug)]
pub(crate) struct LinkDecl {
    /// The ends that could be read; a usable link has exactly two.
    pub(crate) ends: Vec<IfaceDecl>,
    /// True when the link had exactly two endpoints (even if one was unreadable).
    pub(crate) pair: bool,
    pub(crate) mode: crate::model::LinkMode,
}

/// A bridge port reference (`"name"` or `"node:name"`).
#[derive(Debug)]
pub(crate) struct PortRef {
    pub(crate) name: String,
    /// The whole port string.
    pub(crate) span: Span,
}

/// A `[[bridges]]` entry.
#[derive(Debug)]
pub(crate) struct BridgeDecl {
    pub(crate) iface: IfaceDecl,
    pub(crate) ports: Vec<PortRef>,
    pub(crate) stp: bool,
    pub(crate) forward_delay: Option<u32>,
}

/// A `[[devices]]` entry.
#[derive(Debug)]
pub(crate) struct DeviceDecl {
    pub(crate) iface: IfaceDecl,
    pub(crate) kind: DeviceKind,
    pub(crate) settings: DeviceSettings,
    /// The interfaces the settings name (parent, underlay).
    pub(crate) refs: Vec<RefDecl>,
}

/// Everything read from the document.
#[derive(Debug, Default)]
pub(crate) struct Doc {
    /// `host` first, then the declared nodes in file order.
    pub(crate) nodes: Vec<NodeDecl>,
    pub(crate) links: Vec<LinkDecl>,
    pub(crate) bridges: Vec<BridgeDecl>,
    pub(crate) devices: Vec<DeviceDecl>,
    /// `[[checks]]`, before resolution.
    pub(crate) checks: Vec<CheckDecl>,
    /// What could not be read.
    pub(crate) gaps: Gaps,
}

/// Parts of the document that were unreadable (already reported), so that checks
/// depending on them are skipped instead of reporting consequences.
#[derive(Debug, Default)]
pub(crate) struct Gaps {
    /// The node list itself could not be read: do not report unknown nodes.
    pub(crate) nodes: bool,
    /// Some interface could not be attributed to a node: do not report missing
    /// interfaces anywhere.
    pub(crate) ifaces: bool,
    /// Nodes with an unreadable address: skip gateway checks there.
    pub(crate) addresses: HashSet<String>,
    /// Nodes with an unreadable interface name or MTU: skip checks needing them.
    pub(crate) iface_nodes: HashSet<String>,
}
