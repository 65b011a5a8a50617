//! Bridge ports: they exist in the bridge's node, are not bridges, belong to one
//! bridge only, and carry no addresses.

use std::collections::HashMap;

use super::{Registry, Role};
use crate::addr::line_of;
use crate::ast::Doc;
use crate::reader::Ctx;

pub(super) fn check(ctx: &mut Ctx<'_>, doc: &Doc, reg: &Registry<'_>) {
    // (node, port) -> (bridge name, line of the port entry)
    let mut port_of: HashMap<(&str, &str), (&str, usize)> = HashMap::new();
    for b in &doc.bridges {
        let node = b.iface.node.as_str();
        let bridge = b.iface.name.as_str();
        if !reg.node_set.contains(node) {
            continue; // unknown node, already reported
        }
        for p in &b.ports {
            let port = p.name.as_str();
            if port == bridge {
                let msg = format!("bridge `{bridge}` cannot be a port of itself");
                let help = "list the interfaces to join, e.g. the bridge-side ends of veth pairs";
                ctx.err(&p.span, msg, help);
                continue;
            }
            let Some((_, decl, role)) = reg.get(node, port) else {
                let gap = doc.gaps.ifaces || doc.gaps.iface_nodes.contains(node);
                if !gap {
                    let msg = format!("bridge port `{port}` is not an interface of node `{node}`");
                    ctx.err(&p.span, msg, reg.iface_help(node, port));
                }
                continue;
            };
            if role == Role::Bridge {
                let msg = format!("bridge `{port}` cannot be a port of bridge `{bridge}`");
                let help = "join two bridges with a veth pair: a `[[links]]` entry with one end a port of each bridge";
                ctx.err(&p.span, msg, help);
                continue;
            }
            let line = line_of(ctx.src, p.span.start);
            if let Some((other, first_line)) = port_of.get(&(node, port)) {
                let msg = if *other == bridge {
                    format!("port `{port}` is listed twice in bridge `{bridge}`")
                } else {
                    format!("interface `{port}` is already a port of bridge `{other}`")
                };
                let help = format!(
                    "an interface can be a port of one bridge only (the first mention is on line {first_line})"
                );
                ctx.err(&p.span, msg, help);
                continue;
            }
            port_of.insert((node, port), (bridge, line));
            if let Some(a) = decl.addresses.first() {
                let msg = format!(
                    "interface `{node}:{port}` has address {} but is a port of bridge `{bridge}`",
                    a.net
                );
                let help = format!(
                    "a bridge port does not use its own addresses: move the address to the bridge (`addresses` of `{node}:{bridge}`)"
                );
                ctx.err(&a.span, msg, help);
            }
        }
    }
}
