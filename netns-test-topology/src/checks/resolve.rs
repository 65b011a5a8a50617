//! Resolving checks against the topology: node and interface names must exist, a node
//! name used as a destination becomes that node's first address, and an `accepted`
//! connection needs a node that owns the destination address (where the listener runs).

use std::net::{IpAddr, SocketAddr};

use super::model::{
    Check, ConnectCheck, ConnectExpect, ImpairCheck, LinkCheck, PathCheck, PingCheck, RouteCheck,
    RunCheck, Step, Target,
};
use super::read::{CheckDecl, Spanned, StepDecl};
use crate::addr::parse_ip;
use crate::ast::{Doc, IfaceDecl};
use crate::names::node_header;
use crate::reader::Ctx;
use crate::suggest;

struct View<'d> {
    doc: &'d Doc,
    /// Interfaces in creation order (bridges, devices, veth ends), as the runtime makes
    /// them.
    ifaces: Vec<&'d IfaceDecl>,
}

impl<'d> View<'d> {
    fn new(doc: &'d Doc) -> View<'d> {
        let mut ifaces: Vec<&IfaceDecl> = doc.bridges.iter().map(|b| &b.iface).collect();
        ifaces.extend(doc.devices.iter().map(|d| &d.iface));
        ifaces.extend(doc.links.iter().flat_map(|l| l.ends.iter()));
        View { doc, ifaces }
    }

    fn node_names(&self) -> impl Iterator<Item = &'d str> + use<'d> {
        self.doc.nodes.iter().map(|n| n.name.as_str())
    }

    fn has_node(&self, name: &str) -> bool {
        self.doc.nodes.iter().any(|n| n.name == name)
    }

    fn first_address(&self, node: &str) -> Option<IpAddr> {
        self.ifaces
            .iter()
            .filter(|i| i.node == node)
            .flat_map(|i| i.addresses.iter())
            .map(|a| a.net.addr())
            .next()
    }

    fn owner(&self, addr: IpAddr) -> Option<&'d str> {
        self.ifaces
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.net.addr() == addr))
            .map(|i| i.node.as_str())
    }
}

/// Resolves every check; reports what does not resolve.
pub(crate) fn resolve(ctx: &mut Ctx<'_>, doc: &Doc, decls: &[CheckDecl]) -> Vec<Check> {
    let view = View::new(doc);
    decls
        .iter()
        .filter_map(|d| {
            let step = resolve_step(ctx, &view, &d.step)?;
            Some(Check {
                line: d.line,
                name: d.name.clone(),
                step,
            })
        })
        .collect()
}

fn resolve_step(ctx: &mut Ctx<'_>, v: &View<'_>, s: &StepDecl) -> Option<Step> {
    Some(match s {
        StepDecl::Ping {
            from,
            to,
            expect,
            ttl,
            timeout,
        } => {
            let from = node(ctx, v, from, "ping");
            let to = target(ctx, v, to, "ping")?;
            Step::Ping(PingCheck {
                from: from?,
                to,
                expect: *expect,
                ttl: *ttl,
                timeout: *timeout,
            })
        }
        StepDecl::Connect {
            from,
            to,
            port,
            proto,
            expect,
            timeout,
        } => {
            let from = node(ctx, v, from, "connect");
            let target = target(ctx, v, to, "connect")?;
            let listener = match expect {
                ConnectExpect::Accepted => match &target.node {
                    Some(n) => Some(n.clone()),
                    None => match v.owner(target.addr) {
                        Some(n) => Some(n.to_owned()),
                        None => {
                            let msg = format!(
                                "no node has address {}, so nothing can accept this connection",
                                target.addr
                            );
                            let help = "the runner starts the listener in the node that owns the destination address: connect to an address of the topology, or expect `refused` or `timeout`";
                            ctx.err(&to.span, msg, help);
                            return None;
                        }
                    },
                },
                _ => None,
            };
            Step::Connect(ConnectCheck {
                from: from?,
                to: SocketAddr::new(target.addr, *port),
                to_node: target.node,
                proto: *proto,
                expect: *expect,
                listener,
                timeout: *timeout,
            })
        }
        StepDecl::Path { from, to, hops } => {
            let from = node(ctx, v, from, "path");
            let to = target(ctx, v, to, "path")?;
            Step::Path(PathCheck {
                from: from?,
                to,
                hops: hops.clone(),
            })
        }
        StepDecl::Run {
            node: n,
            cmd,
            status,
            stdout,
            stderr,
            timeout,
        } => Step::Run(RunCheck {
            node: node(ctx, v, n, "run")?,
            cmd: cmd.clone(),
            status: *status,
            stdout: stdout.clone(),
            stderr: stderr.clone(),
            timeout: *timeout,
        }),
        StepDecl::Wait(d) => Step::Wait(*d),
        StepDecl::Broken {
            kind,
            nodes,
            targets,
        } => {
            for n in nodes {
                node(ctx, v, n, kind);
            }
            for t in targets {
                target(ctx, v, t, kind);
            }
            return None;
        }
        StepDecl::Link { node: n, iface, up } => {
            let n = node(ctx, v, n, "link")?;
            known_iface(ctx, v, &n, iface)?;
            Step::Link(LinkCheck {
                node: n,
                iface: iface.text.clone(),
                up: *up,
            })
        }
        StepDecl::Impair {
            node: n,
            iface,
            impairment,
        } => {
            let n = node(ctx, v, n, "impair")?;
            known_iface(ctx, v, &n, iface)?;
            Step::Impair(ImpairCheck {
                node: n,
                iface: iface.text.clone(),
                impairment: impairment.clone(),
            })
        }
        StepDecl::Fault {
            restore,
            node: n,
            iface,
        } => {
            let kind = if *restore { "restore" } else { "cut" };
            let n = node(ctx, v, n, kind)?;
            link_end(ctx, v, &n, iface, kind)?;
            let end = format!("{n}:{}", iface.text);
            if *restore {
                Step::Restore(end)
            } else {
                Step::Cut(end)
            }
        }
        StepDecl::Partition(side) => {
            let names: Vec<Option<String>> =
                side.iter().map(|s| node(ctx, v, s, "partition")).collect();
            Step::Partition(names.into_iter().collect::<Option<Vec<String>>>()?)
        }
        StepDecl::Heal => Step::Heal,
        StepDecl::Route {
            node: n,
            add,
            route,
        } => {
            let n = node(ctx, v, n, "route")?;
            if let (Some(dev), Some(span)) = (route_dev(&route.route), &route.dev_span) {
                let dev = Spanned {
                    text: dev.to_owned(),
                    span: span.clone(),
                };
                known_iface(ctx, v, &n, &dev)?;
            }
            Step::Route(RouteCheck {
                node: n,
                add: *add,
                route: route.route.clone(),
            })
        }
    })
}

/// The `dev` of a route, if it names one.
fn route_dev(r: &crate::model::Route) -> Option<&str> {
    match &r.kind {
        crate::model::RouteKind::Unicast { dev: Some(d), .. } => Some(d),
        _ => None,
    }
}

/// An interface of node `n` that is an end of a `[[links]]` entry (reported
/// otherwise): what `cut` and `restore` act on.
fn link_end(ctx: &mut Ctx<'_>, v: &View<'_>, n: &str, iface: &Spanned, check: &str) -> Option<()> {
    let ends: Vec<&str> = v
        .doc
        .links
        .iter()
        .flat_map(|l| l.ends.iter())
        .filter(|e| e.node == n)
        .map(|e| e.name.as_str())
        .collect();
    if v.doc.gaps.ifaces || ends.contains(&iface.text.as_str()) {
        return Some(());
    }
    let msg = format!(
        "`{n}:{}` is not an end of a link, so there is no link to {check}",
        iface.text.escape_debug()
    );
    let elsewhere = v
        .doc
        .links
        .iter()
        .flat_map(|l| l.ends.iter())
        .find(|e| e.name == iface.text);
    let help = if let Some(e) = elsewhere {
        format!(
            "`{}` is an end in node `{}`: did you mean `{}:{}`?",
            e.name, e.node, e.node, e.name
        )
    } else if ends.is_empty() {
        format!(
            "node `{n}` is on no `[[links]]` entry; `cut` and `restore` act on those (veth \
             pairs): for any other interface use `link = {{ node = \"{n}\", iface = \"...\", \
             state = \"down\" }}`"
        )
    } else {
        let hint = suggest::did_you_mean(&iface.text, ends.iter().copied());
        format!("{hint}the link ends of {n}: {}", suggest::list(ends))
    };
    ctx.err(&iface.span, msg, help);
    None
}

/// An interface that must exist in node `n` (reported otherwise).
fn known_iface(ctx: &mut Ctx<'_>, v: &View<'_>, n: &str, iface: &Spanned) -> Option<()> {
    let known = iface.text == "lo"
        || v.doc.gaps.ifaces
        || v.ifaces.iter().any(|i| i.node == n && i.name == iface.text);
    if known {
        return Some(());
    }
    let names: Vec<&str> = v
        .ifaces
        .iter()
        .filter(|i| i.node == n)
        .map(|i| i.name.as_str())
        .chain(["lo"])
        .collect();
    let hint = suggest::did_you_mean(&iface.text, names.iter().copied());
    let msg = format!(
        "node `{n}` has no interface `{}`",
        iface.text.escape_debug()
    );
    let help = format!("{hint}interfaces of {n}: {}", suggest::list(names));
    ctx.err(&iface.span, msg, help);
    None
}

/// A node name that must exist.
fn node(ctx: &mut Ctx<'_>, v: &View<'_>, s: &Spanned, check: &str) -> Option<String> {
    if v.has_node(&s.text) {
        return Some(s.text.clone());
    }
    if !v.doc.gaps.nodes {
        let msg = format!(
            "unknown node `{}` in a `{check}` check",
            s.text.escape_debug()
        );
        ctx.err(&s.span, msg, node_help(v, &s.text));
    }
    None
}

fn node_help(v: &View<'_>, name: &str) -> String {
    let nodes = suggest::list(v.node_names());
    match suggest::closest(name, v.node_names()) {
        Some(c) => format!("did you mean `{c}`? the nodes are: {nodes}"),
        None => format!(
            "declare it with `{}`, or use one of the nodes: {nodes}",
            node_header(name)
        ),
    }
}

/// An address, or a node name standing for that node's first address.
fn target(ctx: &mut Ctx<'_>, v: &View<'_>, s: &Spanned, check: &str) -> Option<Target> {
    if let Some(addr) = parse_ip(&s.text) {
        return Some(Target { addr, node: None });
    }
    if v.has_node(&s.text) {
        return match v.first_address(&s.text) {
            Some(addr) => Some(Target {
                addr,
                node: Some(s.text.clone()),
            }),
            None => {
                if !v.doc.gaps.ifaces && !v.doc.gaps.addresses.contains(&s.text) {
                    let msg = format!("node `{}` has no address to {check}", s.text);
                    let help = "give one of its interfaces an address, or write an address here";
                    ctx.err(&s.span, msg, help);
                }
                None
            }
        };
    }
    if s.text.contains('/') && parse_ip(s.text.split('/').next().unwrap_or("")).is_some() {
        let msg = format!("`{}` is a subnet, not an address", s.text.escape_debug());
        let help = "write one address, without the prefix length";
        ctx.err(&s.span, msg, help);
        return None;
    }
    if !v.doc.gaps.nodes {
        let msg = format!(
            "`{}` is neither an IP address nor a node",
            s.text.escape_debug()
        );
        let help = match suggest::closest(&s.text, v.node_names()) {
            Some(c) => {
                format!("did you mean `{c}`? write an address like `192.168.1.2` or a node name")
            }
            None => format!(
                "write an address like `192.168.1.2`, or one of the nodes: {}",
                suggest::list(v.node_names())
            ),
        };
        ctx.err(&s.span, msg, help);
    }
    None
}
