//! Routes against the node they belong to: `dev` names one of its interfaces, a
//! gateway lies in one of its subnets (unless `onlink`), no route is given twice.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::Registry;
use crate::addr::line_of;
use crate::ast::{Doc, NodeDecl};
use crate::model::{Family, RouteDest, RouteKind};
use crate::reader::Ctx;
use crate::route::{RouteDecl, family_name};

/// What makes two routes the same for the kernel: family, destination, metric.
type RouteKey = (bool, Option<IpNet>, u32);

pub(super) fn check(ctx: &mut Ctx<'_>, doc: &Doc, reg: &Registry<'_>) {
    for node in &doc.nodes {
        let mut seen: HashMap<RouteKey, usize> = HashMap::new();
        for (i, r) in node.routes.iter().enumerate() {
            check_duplicate(ctx, node, r, &mut seen);
            check_connected(ctx, reg, node, r);
            check_unicast(ctx, doc, reg, node, i, r);
        }
    }
}

fn check_duplicate(
    ctx: &mut Ctx<'_>,
    node: &NodeDecl,
    r: &RouteDecl,
    seen: &mut HashMap<RouteKey, usize>,
) {
    let dest = r.route.dest;
    // The kernel's default metric: 0 for IPv4, 1024 for IPv6.
    let default_metric = if dest.family() == Family::V4 { 0 } else { 1024 };
    let metric = r.route.metric.unwrap_or(default_metric);
    // `0.0.0.0/0` is `default`.
    let key = match dest {
        RouteDest::Default(f) => (f == Family::V6, None, metric),
        RouteDest::Prefix(p) if p.prefix_len() == 0 => (p.addr().is_ipv6(), None, metric),
        RouteDest::Prefix(p) => (p.addr().is_ipv6(), Some(p), metric),
    };
    if let Some(first) = seen.get(&key) {
        let shown = match dest {
            RouteDest::Default(_) => "default".to_owned(),
            RouteDest::Prefix(p) => p.to_string(),
        };
        let msg = format!(
            "route to {shown} with metric {metric} is given twice in node `{}`",
            node.name
        );
        let help = format!(
            "the first is on line {first}; the kernel refuses a second route with the same destination and metric: remove one, or give them different `metric`s"
        );
        ctx.err(&r.span, msg, help);
    } else {
        seen.insert(key, line_of(ctx.src, r.span.start));
    }
}

/// An IPv4 route without a metric to the subnet of one of the node's own addresses:
/// the kernel made that route (metric 0) when the address went on its interface, and
/// refuses a second ("File exists").
fn check_connected(ctx: &mut Ctx<'_>, reg: &Registry<'_>, node: &NodeDecl, r: &RouteDecl) {
    let RouteDest::Prefix(IpNet::V4(dest)) = r.route.dest else {
        return;
    };
    if r.route.metric.unwrap_or(0) != 0 || dest.prefix_len() == 32 {
        return;
    }
    let connected = reg.of_node(&node.name).find_map(|(d, _)| {
        d.addresses.iter().find_map(|a| match a.net {
            IpNet::V4(n) if d.up && n.prefix_len() == dest.prefix_len() && n.trunc() == dest => {
                Some((d.name.as_str(), a.net))
            }
            _ => None,
        })
    });
    if let Some((iface, addr)) = connected {
        let msg = format!(
            "route to {dest} duplicates the one the kernel makes for `{iface}`'s address {addr}"
        );
        let help = format!(
            "node `{}` reaches {dest} through `{iface}` already: remove this route, or give it a `metric` to keep it as a second way",
            node.name
        );
        ctx.err(&r.span, msg, help);
    }
}

fn check_unicast(
    ctx: &mut Ctx<'_>,
    doc: &Doc,
    reg: &Registry<'_>,
    node: &NodeDecl,
    index: usize,
    r: &RouteDecl,
) {
    let RouteKind::Unicast { via, dev, onlink } = &r.route.kind else {
        return;
    };
    let name = node.name.as_str();
    let dev_decl = match (dev.as_deref(), &r.dev_span) {
        (Some("lo"), Some(span)) if !node.loopback => {
            let msg = "route uses `lo`, which this node keeps down (`loopback = false`)";
            let help = "the kernel refuses routes through a down interface: remove `loopback = false` or the route";
            ctx.err(span, msg, help);
            return;
        }
        (Some("lo"), _) | (None, _) | (_, None) => None,
        (Some(dev), Some(span)) => match reg.get(name, dev) {
            Some((_, d, _)) if !d.up => {
                let msg = format!("route uses interface `{dev}`, which is configured `up = false`");
                let help = "the kernel refuses routes through a down interface: remove `up = false` or the route";
                ctx.err(span, msg, help);
                return;
            }
            Some((_, d, _)) => Some(d),
            None => {
                if !doc.gaps.ifaces && !doc.gaps.iface_nodes.contains(name) {
                    let msg = format!("route device `{dev}` is not an interface of node `{name}`");
                    ctx.err(span, msg, reg.iface_help(name, dev));
                }
                return;
            }
        },
    };
    let (Some(gw), Some(via_span)) = (via, &r.via_span) else {
        return;
    };
    if *onlink || dev.as_deref() == Some("lo") || is_link_local(*gw) {
        return;
    }
    if doc.gaps.addresses.contains(name) || doc.gaps.iface_nodes.contains(name) || doc.gaps.ifaces {
        return;
    }
    // Subnets that make a gateway reachable: the node's addresses (on `dev` if given),
    // and earlier device routes without a gateway.
    let mut nets: Vec<(IpNet, &str, bool, bool)> = Vec::new(); // (net, iface, up, is address)
    for (d, _) in reg.of_node(name) {
        if dev_decl.is_some_and(|dd| !std::ptr::eq(dd, d)) {
            continue;
        }
        for a in &d.addresses {
            nets.push((a.net, d.name.as_str(), d.up, true));
        }
    }
    for earlier in node.routes.iter().take(index) {
        if let RouteKind::Unicast {
            via: None,
            dev: Some(edev),
            ..
        } = &earlier.route.kind
        {
            if dev.as_ref().is_some_and(|d| d != edev) {
                continue;
            }
            let net = match earlier.route.dest {
                RouteDest::Prefix(p) => p,
                RouteDest::Default(Family::V4) => IpNet::V4(Default::default()),
                RouteDest::Default(Family::V6) => IpNet::V6(Default::default()),
            };
            let up = reg.get(name, edev).is_none_or(|(_, d, _)| d.up);
            nets.push((net, edev.as_str(), up, false));
        }
    }
    if let Some((_, iface, _, _)) = nets
        .iter()
        .find(|(n, _, _, is_addr)| *is_addr && n.addr() == *gw)
    {
        let msg = format!("gateway {gw} is an address of node {name} itself (on {iface})");
        let help = "the gateway is the next router: use its address on the shared subnet";
        ctx.err(via_span, msg, help);
        return;
    }
    let matching: Vec<_> = nets.iter().filter(|(n, ..)| n.contains(gw)).collect();
    if matching.is_empty() {
        let family = if gw.is_ipv4() { Family::V4 } else { Family::V6 };
        let same: Vec<String> = nets
            .iter()
            .filter(|(n, _, _, is_addr)| *is_addr && (n.addr().is_ipv4() == gw.is_ipv4()))
            .map(|(n, iface, ..)| match dev {
                Some(_) => n.trunc().to_string(),
                None => format!("{} on {iface}", n.trunc()),
            })
            .collect();
        let (scope, owner) = match dev {
            Some(dev) => (format!("on {dev} in node {name}"), dev.as_str()),
            None => (format!("of node {name}"), name),
        };
        let has = if same.is_empty() {
            format!("{owner} has no {} address", family_name(family))
        } else {
            format!("{owner} has {}", same.join(", "))
        };
        let msg = format!("gateway {gw} is not in any subnet {scope} ({has})");
        let help = "add an address in that subnet, fix the gateway, or add `onlink`";
        ctx.err(via_span, msg, help);
    } else if matching.iter().all(|(_, _, up, _)| !up) {
        let ifaces: Vec<&str> = matching.iter().map(|(_, i, ..)| *i).collect();
        let msg = format!(
            "gateway {gw} is only reachable through {}, which is configured `up = false`",
            ifaces.join(", ")
        );
        let help =
            "the kernel refuses a gateway on a down interface: remove `up = false` or the route";
        ctx.err(via_span, msg, help);
    }
}

fn is_link_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => false,
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}
