//! Reading the document: the top level and `[nodes.*]` tables (sysctls, routes).
//! Interface-declaring tables (links, bridges, devices) are read in [`crate::iface`].

use std::collections::HashMap;

use crate::ast::{Doc, NodeDecl};
use crate::iface;
use crate::model::{HOST, Sysctl};
use crate::names::check_node_name;
use crate::reader::{Ctx, Field, Kind, Span, Val, get};
use crate::route::parse_route;

/// Most nodes a topology may declare.
pub(crate) const MAX_NODES: usize = 4096;
/// Most routes one node may have.
pub(crate) const MAX_ROUTES: usize = 4096;

const TOP_KEYS: &[&str] = &["nodes", "links", "bridges", "devices", "checks"];
const NODE_KEYS: &[&str] = &[
    "forwarding",
    "loopback",
    "sysctl",
    "routes",
    "nat",
    "filter",
    "hostname",
    "hosts",
];

impl NodeDecl {
    fn new(name: &str) -> NodeDecl {
        NodeDecl {
            name: name.to_owned(),
            loopback: true,
            forwarding: false,
            sysctls: Vec::new(),
            routes: Vec::new(),
            nat: Vec::new(),
            filter: Vec::new(),
            hostname: None,
            hosts: Vec::new(),
            refs: Vec::new(),
        }
    }
}

/// Reads the whole document (the root table).
pub(crate) fn read_doc(ctx: &mut Ctx<'_>, root: &Val<'_>) -> Doc {
    let mut doc = Doc::default();
    doc.nodes.push(NodeDecl::new(HOST));
    let Kind::Table(fields) = &root.kind else {
        return doc;
    };
    if fields.iter().any(|f| !TOP_KEYS.contains(&f.key)) {
        // A misspelt `[nodes.x]` or `[[links]]` hides declarations: do not report
        // their absence on top of the unknown key.
        doc.gaps.nodes = true;
        doc.gaps.ifaces = true;
    }
    ctx.check_keys(fields, TOP_KEYS, "the topology");
    if let Some(v) = get(fields, "nodes") {
        read_nodes(ctx, v, &mut doc);
    }
    if let Some(v) = get(fields, "links") {
        iface::read_links(ctx, v, &mut doc);
    }
    if let Some(v) = get(fields, "bridges") {
        iface::read_bridges(ctx, v, &mut doc);
    }
    if let Some(v) = get(fields, "devices") {
        iface::read_devices(ctx, v, &mut doc);
    }
    if let Some(v) = get(fields, "checks") {
        doc.checks = crate::checks::read::read_checks(ctx, v);
    }
    doc
}

fn read_nodes(ctx: &mut Ctx<'_>, v: &Val<'_>, doc: &mut Doc) {
    let Some(fields) = ctx.table_of(v, "a table of nodes, like `[nodes.ns1]`") else {
        doc.gaps.nodes = true;
        return;
    };
    if let Some(extra) = fields.get(MAX_NODES) {
        let msg = format!(
            "too many nodes: {}; at most {MAX_NODES} are allowed",
            fields.len()
        );
        ctx.err(&extra.key_span, msg, "split the topology into smaller ones");
    }
    for f in fields {
        read_node(ctx, f, doc);
    }
}

fn read_node(ctx: &mut Ctx<'_>, f: &Field<'_>, doc: &mut Doc) {
    check_node_name(ctx, f.key, &f.key_span);
    let context = format!("node `{}`", f.key);
    let mut node = NodeDecl::new(f.key);
    if let Some(fields) = ctx.table_of(&f.val, "a table of node settings, like `[nodes.ns1]`") {
        ctx.check_keys(fields, NODE_KEYS, &context);
        if let Some(v) = get(fields, "forwarding") {
            node.forwarding = ctx.bool_of(v).unwrap_or(false);
        }
        if let Some(v) = get(fields, "loopback") {
            node.loopback = ctx.bool_of(v).unwrap_or(true);
        }
        if let Some(v) = get(fields, "sysctl") {
            node.sysctls = read_sysctls(ctx, v, f.key);
        }
        if let Some(v) = get(fields, "routes") {
            read_routes(ctx, v, &mut node);
        }
        if let Some(v) = get(fields, "nat") {
            crate::rules::read_nat(ctx, v, &mut node);
        }
        if let Some(v) = get(fields, "filter") {
            crate::rules::read_filter(ctx, v, &mut node);
        }
        if let Some(v) = get(fields, "hostname") {
            node.hostname = crate::rules::read_hostname(ctx, v);
        }
        if let Some(v) = get(fields, "hosts") {
            node.hosts = crate::rules::read_hosts(ctx, v);
        }
    }
    if f.key == HOST {
        if let Some(host) = doc.nodes.first_mut() {
            *host = node;
        }
    } else {
        doc.nodes.push(node);
    }
}

fn read_routes(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &mut NodeDecl) {
    let expected = "an array of routes, like [\"10.0.0.0/8 via 192.168.1.1\"]";
    let Some(items) = ctx.array_of(v, expected) else {
        return;
    };
    if let Some(extra) = items.get(MAX_ROUTES) {
        let msg = format!(
            "too many routes in node `{}`: {}; at most {MAX_ROUTES} are allowed",
            node.name,
            items.len()
        );
        ctx.err(&extra.span, msg, "use fewer, wider prefixes");
        return;
    }
    for item in items {
        let Some(s) = ctx.str_of(item, "a route string like \"10.0.0.0/8 via 192.168.1.1\"") else {
            continue;
        };
        if let Some(r) = parse_route(ctx, s, &item.span) {
            node.routes.push(r);
        }
    }
}

/// Reads a sysctl table; nested tables (from dotted keys such as
/// `net.ipv4.ip_forward = 1`) are flattened into dotted names.
fn read_sysctls(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &str) -> Vec<Sysctl> {
    let expected = "a table of sysctls, like { \"net.ipv4.conf.all.rp_filter\" = 0 }";
    let Some(fields) = ctx.table_of(v, expected) else {
        return Vec::new();
    };
    let mut flat = Vec::new();
    flatten(String::new(), None, fields, &mut flat);
    let mut out: Vec<Sysctl> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (key, span, val) in flat {
        if !check_sysctl_key(ctx, &key, &span) {
            continue;
        }
        let value = match &val.kind {
            Kind::Str(s) if s.contains(['\n', '\r', '\0']) => {
                let msg = format!("the value of sysctl `{key}` contains a line break");
                ctx.err(&val.span, msg, "write the value on one line");
                continue;
            }
            Kind::Str(s) => (*s).to_owned(),
            Kind::Int(i) => i.to_string(),
            Kind::Bool(b) => if *b { "1" } else { "0" }.to_owned(),
            _ => {
                ctx.type_error(val, "a string, an integer or a boolean");
                continue;
            }
        };
        if let Some(first) = seen.get(&key) {
            let msg = format!("sysctl `{key}` is set twice in node `{node}`");
            let help = format!("keep one (the first is on line {first})");
            ctx.err(&span, msg, help);
            continue;
        }
        seen.insert(key.clone(), crate::addr::line_of(ctx.src, span.start));
        out.push(Sysctl { key, value });
    }
    out
}

type Flat<'v, 'a> = Vec<(String, Span, &'v Val<'a>)>;

fn flatten<'v, 'a>(
    prefix: String,
    start: Option<usize>,
    fields: &'v [Field<'a>],
    out: &mut Flat<'v, 'a>,
) {
    for f in fields {
        let key = if prefix.is_empty() {
            f.key.to_owned()
        } else {
            format!("{prefix}.{}", f.key)
        };
        let from = start.unwrap_or(f.key_span.start);
        let span = from..f.key_span.end.max(from);
        match &f.val.kind {
            Kind::Table(inner) => flatten(key, Some(from), inner, out),
            _ => out.push((key, span, &f.val)),
        }
    }
}

fn check_sysctl_key(ctx: &mut Ctx<'_>, key: &str, span: &Span) -> bool {
    if !key.starts_with("net.") {
        let msg = format!(
            "sysctl `{}` is not a network namespace setting",
            key.escape_debug()
        );
        let help = "only `net.*` sysctls belong to a network namespace, e.g. `net.ipv4.conf.all.rp_filter`";
        ctx.err(span, msg, help);
        return false;
    }
    let ok_segment = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    };
    if !key.split('.').all(ok_segment) {
        let msg = format!("invalid sysctl name `{}`", key.escape_debug());
        let help = "a sysctl name is dot-separated words of `a-z`, `0-9`, `_` and `-`, e.g. `net.ipv4.conf.all.rp_filter`";
        ctx.err(span, msg, help);
        return false;
    }
    true
}
