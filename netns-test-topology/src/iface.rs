//! Reading the tables that declare interfaces: `[[links]]` (veth pairs),
//! `[[bridges]]` and `[[devices]]`.

use crate::addr::{read_addresses, read_mac, read_mtu};
use crate::ast::{BridgeDecl, DeviceDecl, Doc, IfaceDecl, LinkDecl, PortRef};
use crate::devices;
use crate::model::LinkMode;
use crate::names::{check_iface_name, split_ref};
use crate::reader::{Ctx, Field, Kind, Span, Val, get};

/// Most links a topology may declare.
pub(crate) const MAX_LINKS: usize = 16384;

const LINK_KEYS: &[&str] = &["endpoints", "mtu", "mode"];
const ENDPOINT_KEYS: &[&str] = &[
    "iface",
    "addresses",
    "mac",
    "mtu",
    "up",
    "netem",
    "rate",
    "burst",
];
const BRIDGE_KEYS: &[&str] = &[
    "name",
    "ports",
    "addresses",
    "stp",
    "forward_delay",
    "mtu",
    "mac",
    "up",
];

/// The entries of `[[links]]`/`[[bridges]]`/`[[devices]]`, or `None` (reported).
fn entries<'v, 'a>(
    ctx: &mut Ctx<'_>,
    v: &'v Val<'a>,
    key: &str,
    doc: &mut Doc,
) -> Option<&'v [Val<'a>]> {
    let expected = format!("an array of tables, like `[[{key}]]`");
    let items = ctx.array_of(v, &expected);
    if items.is_none() {
        doc.gaps.ifaces = true;
    }
    items
}

/// Reads `[[links]]`.
pub(crate) fn read_links(ctx: &mut Ctx<'_>, v: &Val<'_>, doc: &mut Doc) {
    let Some(items) = entries(ctx, v, "links", doc) else {
        return;
    };
    if let Some(extra) = items.get(MAX_LINKS) {
        let msg = format!(
            "too many links: {}; at most {MAX_LINKS} are allowed",
            items.len()
        );
        ctx.err(&extra.span, msg, "split the topology into smaller ones");
    }
    for item in items {
        let Some(fields) = ctx.table_of(item, "a link table with `endpoints`") else {
            doc.gaps.ifaces = true;
            continue;
        };
        if fields.iter().any(|f| !LINK_KEYS.contains(&f.key)) {
            doc.gaps.ifaces = true;
        }
        ctx.check_keys(fields, LINK_KEYS, "a link");
        let mtu = get(fields, "mtu").map(|v| (read_mtu(ctx, v), v.span.clone()));
        let mode = match get(fields, "mode") {
            Some(m) => match crate::rules::choice(ctx, m, "link mode", &["veth", "userspace"]) {
                Some("userspace") => LinkMode::Userspace,
                _ => LinkMode::Veth,
            },
            None => LinkMode::Veth,
        };
        let example = "endpoints = [\"ns1:veth0\", \"ns2:veth0\"]";
        let Some(eps) = ctx.require(fields, "endpoints", &item.span, "a link", example) else {
            doc.gaps.ifaces = true;
            continue;
        };
        let Some(eps_items) = ctx.array_of(
            eps,
            "an array of two endpoints, like [\"ns1:veth0\", \"ns2:veth0\"]",
        ) else {
            doc.gaps.ifaces = true;
            continue;
        };
        let pair = eps_items.len() == 2;
        if !pair {
            let msg = format!(
                "a link must have exactly 2 endpoints, found {}",
                eps_items.len()
            );
            let help = format!(
                "a veth pair has two ends: `{example}`; to join more interfaces, make them ports of a bridge"
            );
            ctx.err(&eps.span, msg, help);
        }
        let mut ends = Vec::new();
        for e in eps_items {
            match read_endpoint(ctx, e, doc) {
                Some(mut end) => {
                    match &mtu {
                        Some((Some(m), span)) if end.mtu.is_none() => {
                            end.mtu = Some((*m, span.clone()));
                        }
                        Some((None, _)) => {
                            doc.gaps.iface_nodes.insert(end.node.clone());
                        }
                        _ => {}
                    }
                    ends.push(end);
                }
                None => doc.gaps.ifaces = true,
            }
        }
        doc.links.push(LinkDecl { ends, pair, mode });
    }
}

fn read_endpoint(ctx: &mut Ctx<'_>, v: &Val<'_>, doc: &mut Doc) -> Option<IfaceDecl> {
    const EXPECTED: &str = "a string like \"ns1:eth0\"";
    match &v.kind {
        Kind::Str(s) => new_iface(ctx, s, &v.span, &v.span, "link endpoint"),
        Kind::Table(fields) => {
            let iface = ctx.require(
                fields,
                "iface",
                &v.span,
                "a link endpoint",
                "iface = \"ns1:eth0\"",
            )?;
            let s = ctx.str_of(iface, EXPECTED)?;
            let mut decl = new_iface(ctx, s, &iface.span, &v.span, "link endpoint")?;
            read_settings(
                ctx,
                fields,
                ENDPOINT_KEYS,
                "a link endpoint",
                &mut decl,
                doc,
            );
            Some(decl)
        }
        _ => {
            let msg = format!(
                "expected {EXPECTED} or an endpoint table like {{ iface = \"ns1:eth0\" }}, found {}",
                v.found()
            );
            ctx.error(&v.span, msg, None);
            None
        }
    }
}

/// An interface declared by a `"node:iface"` string at `span`; `whole` is the span of
/// the whole declaration.
fn new_iface(
    ctx: &mut Ctx<'_>,
    s: &str,
    span: &Span,
    whole: &Span,
    what: &str,
) -> Option<IfaceDecl> {
    let r = split_ref(ctx, s, span, what, false)?;
    let (node, _) = r.node?;
    check_iface_name(ctx, &r.iface, &r.iface_span);
    Some(IfaceDecl {
        node,
        name: r.iface,
        name_span: r.iface_span,
        span: whole.clone(),
        addresses: Vec::new(),
        mtu: None,
        mac: None,
        up: true,
        impairment: Default::default(),
    })
}

/// Reads `addresses`, `mac`, `mtu` and `up` into `decl`, and checks the table's keys.
fn read_settings(
    ctx: &mut Ctx<'_>,
    fields: &[Field<'_>],
    accepted: &[&str],
    context: &str,
    decl: &mut IfaceDecl,
    doc: &mut Doc,
) {
    if fields.iter().any(|f| !accepted.contains(&f.key)) {
        // A misspelt `addresses` or `mtu`: later checks would report consequences.
        doc.gaps.addresses.insert(decl.node.clone());
        doc.gaps.iface_nodes.insert(decl.node.clone());
    }
    ctx.check_keys(fields, accepted, context);
    if let Some(v) = get(fields, "addresses") {
        let (nets, all_ok) = read_addresses(ctx, v);
        decl.addresses = nets;
        if !all_ok {
            doc.gaps.addresses.insert(decl.node.clone());
        }
    }
    if let Some(v) = get(fields, "mac") {
        decl.mac = read_mac(ctx, v);
    }
    if let Some(v) = get(fields, "mtu") {
        match read_mtu(ctx, v) {
            Some(m) => decl.mtu = Some((m, v.span.clone())),
            None => {
                doc.gaps.iface_nodes.insert(decl.node.clone());
            }
        }
    }
    if let Some(v) = get(fields, "up") {
        decl.up = ctx.bool_of(v).unwrap_or(true);
    }
    crate::impair::read_impairment(ctx, fields, &mut decl.impairment);
}

/// The table of a bridge or device entry and its `name` interface, or `None`.
fn named_entry<'v, 'a>(
    ctx: &mut Ctx<'_>,
    item: &'v Val<'a>,
    what: &str,
    example: &str,
    doc: &mut Doc,
) -> Option<(&'v [Field<'a>], IfaceDecl)> {
    let table = ctx.table_of(item, &format!("a {what} table with `name`"));
    let name =
        table.and_then(|f| ctx.require(f, "name", &item.span, &format!("a {what}"), example));
    let s = name.and_then(|n| ctx.str_of(n, &format!("a string like \"host:{what}0\"")));
    let decl = match (name, s) {
        (Some(n), Some(s)) => new_iface(ctx, s, &n.span, &n.span, what),
        _ => None,
    };
    if decl.is_none() {
        doc.gaps.ifaces = true;
    }
    Some((table?, decl?))
}

/// Reads `[[bridges]]`.
pub(crate) fn read_bridges(ctx: &mut Ctx<'_>, v: &Val<'_>, doc: &mut Doc) {
    let Some(items) = entries(ctx, v, "bridges", doc) else {
        return;
    };
    for item in items {
        let Some((fields, mut iface)) =
            named_entry(ctx, item, "bridge", "name = \"host:br0\"", doc)
        else {
            continue;
        };
        read_settings(ctx, fields, BRIDGE_KEYS, "a bridge", &mut iface, doc);
        let stp = get(fields, "stp")
            .and_then(|v| ctx.bool_of(v))
            .unwrap_or(false);
        let forward_delay =
            get(fields, "forward_delay").and_then(|v| read_forward_delay(ctx, v, stp));
        let mut ports = Vec::new();
        if let Some(v) = get(fields, "ports") {
            let expected = "an array of port names, like [\"veth0\", \"veth1\"]";
            for p in ctx.array_of(v, expected).unwrap_or_default() {
                if let Some(port) = read_port(ctx, p, &iface) {
                    ports.push(port);
                }
            }
        }
        doc.bridges.push(BridgeDecl {
            iface,
            ports,
            stp,
            forward_delay,
        });
    }
}

fn read_forward_delay(ctx: &mut Ctx<'_>, v: &Val<'_>, stp: bool) -> Option<u32> {
    let Kind::Int(i) = v.kind else {
        ctx.type_error(v, "an integer (seconds)");
        return None;
    };
    let min = if stp { 2 } else { 0 };
    if !(min..=30).contains(&i) {
        let msg = format!("forward_delay {i} is out of range");
        let help = if stp {
            "with `stp = true` the kernel accepts 2 to 30 seconds"
        } else {
            "the kernel accepts 0 to 30 seconds (2 to 30 once STP is on)"
        };
        ctx.err(&v.span, msg, help);
        return None;
    }
    u32::try_from(i).ok()
}

fn read_port(ctx: &mut Ctx<'_>, v: &Val<'_>, bridge: &IfaceDecl) -> Option<PortRef> {
    let s = ctx.str_of(v, "a port name like \"veth0\"")?;
    let r = split_ref(ctx, s, &v.span, "bridge port", true)?;
    if let Some((node, node_span)) = &r.node {
        if *node != bridge.node {
            let msg = format!(
                "port `{s}` is in node `{node}` but bridge `{}` is in node `{}`",
                bridge.name, bridge.node
            );
            let help = format!(
                "a bridge's ports are interfaces of its own node: write `{}:{}` after moving the interface to `{}`, or put the bridge in `{node}`",
                bridge.node, r.iface, bridge.node
            );
            ctx.err(node_span, msg, help);
            return None;
        }
    }
    Some(PortRef {
        name: r.iface,
        span: v.span.clone(),
    })
}

/// Reads `[[devices]]`.
pub(crate) fn read_devices(ctx: &mut Ctx<'_>, v: &Val<'_>, doc: &mut Doc) {
    let Some(items) = entries(ctx, v, "devices", doc) else {
        return;
    };
    for item in items {
        let Some((fields, mut iface)) =
            named_entry(ctx, item, "device", "name = \"ns1:dummy0\"", doc)
        else {
            continue;
        };
        let kind = ctx
            .require(fields, "kind", &item.span, "a device", "kind = \"dummy\"")
            .and_then(|k| devices::read_kind(ctx, k));
        let Some(kind) = kind else {
            // Keep the interface known so references to it do not fail as well; the
            // keys are not checked against an unknown kind.
            doc.gaps.iface_nodes.insert(iface.node.clone());
            continue;
        };
        let mut accepted: Vec<&str> = devices::COMMON_KEYS.to_vec();
        accepted.extend(devices::kind_keys(kind));
        let context = format!("a {} device", kind.name());
        read_settings(ctx, fields, &accepted, &context, &mut iface, doc);
        let mut refs = Vec::new();
        match devices::read_settings(ctx, kind, fields, item, &iface, &mut refs) {
            Some(settings) => doc.devices.push(DeviceDecl {
                iface,
                kind,
                settings,
                refs,
            }),
            None => {
                doc.gaps.iface_nodes.insert(iface.node.clone());
            }
        }
    }
}
