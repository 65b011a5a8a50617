//! Cross-checks over the whole document: references resolve, names are unique,
//! bridge ports make sense, routes can be installed, and no address is used twice in
//! one layer 2 segment. Each check skips what an earlier error made unknowable.

mod bridges;
mod routes;
mod segments;

use std::collections::{HashMap, HashSet};

use crate::addr::{MIN_MTU_V6, line_of};
use crate::ast::{Doc, IfaceDecl};
use crate::names::node_header;
use crate::reader::{Ctx, Span};
use crate::suggest;

/// What declared an interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Veth,
    Bridge,
    Device,
}

impl Role {
    fn what(self) -> &'static str {
        match self {
            Role::Veth => "link endpoint",
            Role::Bridge => "bridge",
            Role::Device => "device",
        }
    }
}

/// Every declared interface, in source order, with look-ups by node and name.
struct Registry<'d> {
    list: Vec<(&'d IfaceDecl, Role)>,
    by_key: HashMap<(&'d str, &'d str), usize>,
    by_node: HashMap<&'d str, Vec<usize>>,
    nodes: Vec<&'d str>,
    node_set: HashSet<&'d str>,
}

impl<'d> Registry<'d> {
    fn get(&self, node: &str, name: &str) -> Option<(usize, &'d IfaceDecl, Role)> {
        let i = *self.by_key.get(&(node, name))?;
        self.list.get(i).map(|(d, r)| (i, *d, *r))
    }

    fn of_node(&self, node: &str) -> impl Iterator<Item = (&'d IfaceDecl, Role)> + '_ {
        self.by_node
            .get(node)
            .into_iter()
            .flatten()
            .filter_map(|i| self.list.get(*i).copied())
    }

    /// "did you mean ...? interfaces of NODE: a, b" for an interface not found.
    fn iface_help(&self, node: &str, name: &str) -> String {
        let names: Vec<&str> = self.of_node(node).map(|(d, _)| d.name.as_str()).collect();
        if names.is_empty() {
            return format!("node `{node}` has no interfaces; declare one in `[[links]]`");
        }
        let hint = suggest::did_you_mean(name, names.iter().copied());
        format!("{hint}interfaces of {node}: {}", suggest::list(names))
    }
}

/// Runs every check.
pub(crate) fn validate(ctx: &mut Ctx<'_>, doc: &Doc) {
    let reg = register(ctx, doc);
    check_mtus(ctx, &reg);
    check_refs(ctx, doc, &reg);
    bridges::check(ctx, doc, &reg);
    routes::check(ctx, doc, &reg);
    segments::check(ctx, doc, &reg);
}

fn register<'d>(ctx: &mut Ctx<'_>, doc: &'d Doc) -> Registry<'d> {
    let mut list: Vec<(&IfaceDecl, Role)> = Vec::new();
    list.extend(
        doc.links
            .iter()
            .flat_map(|l| l.ends.iter().map(|e| (e, Role::Veth))),
    );
    list.extend(doc.bridges.iter().map(|b| (&b.iface, Role::Bridge)));
    list.extend(doc.devices.iter().map(|d| (&d.iface, Role::Device)));
    list.sort_by_key(|(d, _)| d.span.start);
    let nodes: Vec<&str> = doc.nodes.iter().map(|n| n.name.as_str()).collect();
    let node_set: HashSet<&str> = nodes.iter().copied().collect();
    let mut reg = Registry {
        list: Vec::new(),
        by_key: HashMap::new(),
        by_node: HashMap::new(),
        nodes,
        node_set,
    };
    for (decl, role) in list {
        if !reg.node_set.contains(decl.node.as_str()) {
            if !doc.gaps.nodes {
                unknown_node(ctx, &reg, decl, role);
            }
            continue;
        }
        if let Some((_, first, _)) = reg.get(&decl.node, &decl.name) {
            let msg = format!(
                "interface `{}` is defined twice in node `{}`",
                decl.name, decl.node
            );
            let help = format!(
                "the first definition is on line {}; interface names must be unique within a node",
                line_of(ctx.src, first.span.start)
            );
            ctx.err(&decl.name_span, msg, help);
            continue;
        }
        let i = reg.list.len();
        reg.list.push((decl, role));
        reg.by_key.insert((&decl.node, &decl.name), i);
        reg.by_node.entry(&decl.node).or_default().push(i);
    }
    reg
}

fn unknown_node(ctx: &mut Ctx<'_>, reg: &Registry<'_>, decl: &IfaceDecl, role: Role) {
    let msg = format!(
        "unknown node `{}` in {} `{}:{}`",
        decl.node,
        role.what(),
        decl.node,
        decl.name
    );
    let nodes = suggest::list(reg.nodes.iter().copied());
    let header = node_header(&decl.node);
    let help = match suggest::closest(&decl.node, reg.nodes.iter().copied()) {
        Some(c) => format!(
            "did you mean `{c}`? Otherwise declare it with `{header}`; the nodes are: {nodes}"
        ),
        None => format!("declare it with `{header}`, or use one of the nodes: {nodes}"),
    };
    ctx.err(&decl.span, msg, help);
}

/// An interface with an IPv6 address needs an MTU of at least 1280.
fn check_mtus(ctx: &mut Ctx<'_>, reg: &Registry<'_>) {
    let mut reported: HashSet<(usize, usize)> = HashSet::new();
    for (decl, _) in &reg.list {
        let Some((mtu, span)) = &decl.mtu else {
            continue;
        };
        let v6 = decl.addresses.iter().find(|a| a.net.addr().is_ipv6());
        if let Some(a) = v6.filter(|_| *mtu < MIN_MTU_V6) {
            if reported.insert(key(span)) {
                let msg = format!(
                    "MTU {mtu} is too small for IPv6 address {} on `{}:{}`",
                    a.net, decl.node, decl.name
                );
                let help = format!(
                    "IPv6 needs an MTU of at least {MIN_MTU_V6}: raise `mtu`, or remove the IPv6 address"
                );
                ctx.err(span, msg, help);
            }
        }
    }
}

fn key(span: &Span) -> (usize, usize) {
    (span.start, span.end)
}

/// Interfaces named by settings (NAT rules, parents, underlays) exist.
fn check_refs(ctx: &mut Ctx<'_>, doc: &Doc, reg: &Registry<'_>) {
    let refs = doc
        .nodes
        .iter()
        .flat_map(|n| &n.refs)
        .chain(doc.devices.iter().flat_map(|d| &d.refs));
    for r in refs {
        if !reg.node_set.contains(r.node.as_str()) {
            if !doc.gaps.nodes {
                let msg = format!(
                    "{} `{}:{}`: unknown node `{}`",
                    r.what, r.node, r.iface, r.node
                );
                let nodes = suggest::list(reg.nodes.iter().copied());
                let hint = suggest::did_you_mean(&r.node, reg.nodes.iter().copied());
                ctx.err(&r.span, msg, format!("{hint}the nodes are: {nodes}"));
            }
            continue;
        }
        let gap = doc.gaps.ifaces || doc.gaps.iface_nodes.contains(&r.node);
        if reg.get(&r.node, &r.iface).is_none() && !gap {
            let msg = format!(
                "{} `{}` is not an interface of node `{}`",
                r.what, r.iface, r.node
            );
            ctx.err(&r.span, msg, reg.iface_help(&r.node, &r.iface));
        }
    }
}
