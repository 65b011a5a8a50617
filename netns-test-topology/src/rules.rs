//! Reading a node's `nat` and `filter` rules, its `hosts` entries and `hostname`.
//!
//! ```toml
//! [nodes.router]
//! nat = [
//!   { masquerade = "wan0" },
//!   { snat = { out = "wan1", to = "203.0.113.7" } },
//!   { dnat = { in = "wan0", proto = "tcp", port = 8080, to = "192.168.10.5:80" } },
//! ]
//! filter = [
//!   { action = "drop", chain = "input", proto = "tcp", dport = 22, from = "10.0.0.0/8" },
//!   { action = "reject", chain = "forward", proto = "udp", to = "192.168.10.0/24", iif = "wan0" },
//! ]
//! hostname = "edge"
//! hosts = { "db.example" = "192.168.10.5" }
//! ```

use std::net::IpAddr;

use crate::addr::{parse_cidr, parse_ip};
use crate::ast::{NodeDecl, RefDecl};
use crate::elements::{Action, Chain, FilterRule, NatRule, RuleProto};
use crate::reader::{Ctx, Field, Kind, Span, Val, get};
use crate::suggest;

const NAT_KINDS: &[&str] = &["masquerade", "snat", "dnat"];
const SNAT_KEYS: &[&str] = &["out", "to"];
const DNAT_KEYS: &[&str] = &["in", "proto", "port", "to"];
const FILTER_KEYS: &[&str] = &[
    "action", "chain", "proto", "from", "to", "sport", "dport", "iif", "oif",
];
/// Most rules of one kind a node may have.
const MAX_RULES: usize = 4096;

/// Reads one of `choices` from a string; `what` names the key.
pub(crate) fn choice<'c>(
    ctx: &mut Ctx<'_>,
    v: &Val<'_>,
    what: &str,
    choices: &[&'c str],
) -> Option<&'c str> {
    let list = suggest::list(choices.iter().copied());
    let s = ctx.str_of(v, &format!("a string: one of {list}"))?;
    if let Some(c) = choices.iter().find(|c| **c == s) {
        return Some(c);
    }
    let hint = suggest::did_you_mean(s, choices.iter().copied());
    let msg = format!("unknown {what} `{}`", s.escape_debug());
    ctx.err(&v.span, msg, format!("{hint}write one of: {list}"));
    None
}

/// An interface name of the node (`"eth0"`), remembered for validation.
fn iface(
    ctx: &mut Ctx<'_>,
    node: &mut NodeDecl,
    v: &Val<'_>,
    what: &'static str,
) -> Option<String> {
    let s = ctx.str_of(v, "an interface name like \"eth0\"")?;
    node.refs.push(RefDecl {
        node: node.name.clone(),
        iface: s.to_owned(),
        span: v.span.clone(),
        what,
    });
    Some(s.to_owned())
}

fn ip(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<IpAddr> {
    let s = ctx.str_of(v, "an IP address like \"192.168.1.1\"")?;
    let parsed = parse_ip(s);
    if parsed.is_none() {
        let msg = format!("invalid IP address `{}`", s.escape_debug());
        ctx.err(
            &v.span,
            msg,
            "write an address without prefix length, e.g. `192.168.1.1`",
        );
    }
    parsed
}

fn port(ctx: &mut Ctx<'_>, v: &Val<'_>, what: &str) -> Option<u16> {
    ctx.int_in(v, what, 1, 65535)
        .and_then(|p| u16::try_from(p).ok())
}

fn items<'v, 'a>(ctx: &mut Ctx<'_>, v: &'v Val<'a>, expected: &str, what: &str) -> &'v [Val<'a>] {
    let items = ctx.array_of(v, expected).unwrap_or_default();
    if let Some(extra) = items.get(MAX_RULES) {
        let msg = format!("too many {what}: at most {MAX_RULES} are allowed");
        ctx.err(&extra.span, msg, "use fewer, wider rules");
        return &[];
    }
    items
}

/// Reads `nat = [...]`.
pub(crate) fn read_nat(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &mut NodeDecl) {
    let expected = "an array of NAT rules, like [{ masquerade = \"eth0\" }]";
    for item in items(ctx, v, expected, "NAT rules") {
        let Some(fields) = ctx.table_of(item, "a NAT rule like { masquerade = \"eth0\" }") else {
            continue;
        };
        ctx.check_keys(fields, NAT_KINDS, "a NAT rule");
        let kinds: Vec<&Field<'_>> = fields
            .iter()
            .filter(|f| NAT_KINDS.contains(&f.key))
            .collect();
        let [f] = kinds.as_slice() else {
            if kinds.len() > 1 || fields.is_empty() {
                ctx.err(
                    &item.span,
                    format!(
                        "a NAT rule holds exactly one of masquerade, snat, dnat; found {}",
                        kinds.len()
                    ),
                    "write one rule per table, e.g. { masquerade = \"eth0\" }",
                );
            }
            continue;
        };
        let rule = match f.key {
            "masquerade" => iface(ctx, node, &f.val, "masquerade interface")
                .map(|out| NatRule::Masquerade { out }),
            "snat" => read_snat(ctx, &f.val, node),
            _ => read_dnat(ctx, &f.val, node),
        };
        if let Some(r) = rule {
            node.nat.push(r);
        }
    }
}

fn read_snat(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &mut NodeDecl) -> Option<NatRule> {
    let fields = ctx.table_of(v, "a table like { out = \"eth0\", to = \"203.0.113.1\" }")?;
    ctx.check_keys(fields, SNAT_KEYS, "`snat`");
    let example = "snat = { out = \"eth0\", to = \"203.0.113.1\" }";
    let out = ctx.require(fields, "out", &v.span, "`snat`", example);
    let to = ctx.require(fields, "to", &v.span, "`snat`", example);
    let out = out.and_then(|o| iface(ctx, node, o, "snat interface"));
    let to = to.and_then(|t| ip(ctx, t));
    Some(NatRule::Snat { out: out?, to: to? })
}

fn read_dnat(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &mut NodeDecl) -> Option<NatRule> {
    let example =
        "dnat = { in = \"eth0\", proto = \"tcp\", port = 8080, to = \"192.168.10.5:80\" }";
    let fields = ctx.table_of(v, "a table like { port = 8080, to = \"192.168.10.5:80\" }")?;
    ctx.check_keys(fields, DNAT_KEYS, "`dnat`");
    let in_iface = match get(fields, "in") {
        Some(i) => Some(iface(ctx, node, i, "dnat interface")?),
        None => None,
    };
    let proto = match get(fields, "proto") {
        Some(p) => match choice(ctx, p, "dnat protocol", &["tcp", "udp"])? {
            "udp" => RuleProto::Udp,
            _ => RuleProto::Tcp,
        },
        None => RuleProto::Tcp,
    };
    let port_v = ctx.require(fields, "port", &v.span, "`dnat`", example);
    let to_v = ctx.require(fields, "to", &v.span, "`dnat`", example);
    let port = port_v.and_then(|p| port(ctx, p, "port"))?;
    let to_v = to_v?;
    let s = ctx.str_of(
        to_v,
        "an address like \"192.168.10.5:80\" or \"192.168.10.5\"",
    )?;
    let (to, to_port) = if let Some(a) = parse_ip(s) {
        (a, None)
    } else if let Ok(sa) = s.parse::<std::net::SocketAddr>() {
        if sa.port() == 0 {
            let msg = format!("port 0 in the destination `{}`", s.escape_debug());
            let help = format!(
                "write the port connections go to, e.g. `{}`, or leave it out to keep the one they came to",
                std::net::SocketAddr::new(sa.ip(), 80)
            );
            ctx.err(&to_v.span, msg, help);
            return None;
        }
        (sa.ip(), Some(sa.port()))
    } else {
        let msg = format!("invalid destination `{}`", s.escape_debug());
        let help = "write the new destination as an address with an optional port, e.g. `192.168.10.5:80` or `[fd00::5]:80`";
        ctx.err(&to_v.span, msg, help);
        return None;
    };
    Some(NatRule::Dnat {
        in_iface,
        proto,
        port,
        to,
        to_port,
    })
}

/// Reads `filter = [...]`.
pub(crate) fn read_filter(ctx: &mut Ctx<'_>, v: &Val<'_>, node: &mut NodeDecl) {
    let expected =
        "an array of filter rules, like [{ action = \"drop\", proto = \"tcp\", dport = 80 }]";
    for item in items(ctx, v, expected, "filter rules") {
        let Some(fields) =
            ctx.table_of(item, "a filter rule like { action = \"drop\", dport = 80 }")
        else {
            continue;
        };
        if let Some(r) = read_rule(ctx, fields, &item.span, node) {
            node.filter.push(r);
        }
    }
}

fn read_rule(
    ctx: &mut Ctx<'_>,
    fields: &[Field<'_>],
    span: &Span,
    node: &mut NodeDecl,
) -> Option<FilterRule> {
    ctx.check_keys(fields, FILTER_KEYS, "a filter rule");
    let mut ok = true;
    let action = ctx
        .require(fields, "action", span, "a filter rule", "action = \"drop\"")
        .and_then(|a| choice(ctx, a, "action", &["accept", "drop", "reject"]))
        .map(|a| match a {
            "accept" => Action::Accept,
            "reject" => Action::Reject,
            _ => Action::Drop,
        });
    let chain = match get(fields, "chain") {
        Some(c) => match choice(ctx, c, "chain", &["input", "forward", "output"]) {
            Some("forward") => Chain::Forward,
            Some("output") => Chain::Output,
            Some(_) => Chain::Input,
            None => {
                ok = false;
                Chain::Input
            }
        },
        None => Chain::Input,
    };
    let proto = get(fields, "proto").and_then(|p| {
        let r = choice(ctx, p, "protocol", &["tcp", "udp", "icmp"]);
        ok &= r.is_some();
        r.map(|s| match s {
            "tcp" => RuleProto::Tcp,
            "udp" => RuleProto::Udp,
            _ => RuleProto::Icmp,
        })
    });
    let mut prefix = |key: &str| -> Option<(ipnet::IpNet, Span)> {
        let v = get(fields, key)?;
        let s = ctx.str_of(v, "a prefix like \"10.0.0.0/8\" or an address")?;
        let parsed = match parse_ip(s) {
            Some(a) => Ok(ipnet::IpNet::from(a)),
            None => parse_cidr(s),
        };
        match parsed {
            Ok(n) => Some((n.trunc(), v.span.clone())),
            Err((msg, help)) => {
                ctx.err(&v.span, msg, help);
                None
            }
        }
    };
    let from = prefix("from");
    let to = prefix("to");
    if let (Some((a, _)), Some((b, bspan))) = (&from, &to) {
        if a.addr().is_ipv4() != b.addr().is_ipv4() {
            let msg = format!("`from` {a} and `to` {b} are of different address families");
            ctx.err(bspan, msg, "a packet is IPv4 or IPv6: use two rules");
            ok = false;
        }
    }
    let mut ports = [None, None];
    for (slot, key) in ports.iter_mut().zip(["sport", "dport"]) {
        let Some(v) = get(fields, key) else { continue };
        *slot = port(ctx, v, key);
        ok &= slot.is_some();
        if !proto.is_some_and(RuleProto::has_ports) {
            let msg = format!("`{key}` needs a protocol with ports");
            let help = "add `proto = \"tcp\"` or `proto = \"udp\"` to this rule";
            ctx.err(&v.span, msg, help);
            ok = false;
        }
    }
    let mut dev = |key: &str, what: &'static str, bad: Chain| -> Option<String> {
        let v = get(fields, key)?;
        if chain == bad {
            let msg = format!("`{key}` cannot match in the {} chain", bad.as_str());
            let help = if bad == Chain::Input {
                "packets for the node have no outgoing interface: use `iif`, or `chain = \"forward\"`"
            } else {
                "packets the node sends have no incoming interface: use `oif`, or `chain = \"forward\"`"
            };
            ctx.err(&v.span, msg, help);
            return None;
        }
        iface(ctx, node, v, what)
    };
    let iif = dev("iif", "filter interface", Chain::Output);
    let oif = dev("oif", "filter interface", Chain::Input);
    if !ok {
        return None;
    }
    Some(FilterRule {
        chain,
        action: action?,
        proto,
        from: from.map(|f| f.0),
        to: to.map(|t| t.0),
        sport: ports[0],
        dport: ports[1],
        iif,
        oif,
    })
}

/// Reads `hostname = "name"`.
pub(crate) fn read_hostname(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<String> {
    let s = ctx.str_of(v, "a host name like \"router\"")?;
    if !valid_host_name(s) || s.len() > 64 {
        let msg = format!("invalid host name `{}`", s.escape_debug());
        let help =
            "a host name is 1 to 64 letters, digits, `-` and `.`, not starting with `-` or `.`";
        ctx.err(&v.span, msg, help);
        return None;
    }
    Some(s.to_owned())
}

fn valid_host_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(['-', '.'])
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// Reads `hosts = { "name" = "address", ... }`.
pub(crate) fn read_hosts(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Vec<(String, IpAddr)> {
    let Some(fields) = ctx.table_of(
        v,
        "a table of names and addresses, like { \"db\" = \"10.0.0.5\" }",
    ) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in fields {
        if let Kind::Table(_) = f.val.kind {
            ctx.err(
                &f.key_span,
                format!("`{}` is read as a dotted key", f.key),
                "quote names that contain dots: \"db.example\" = \"10.0.0.5\"",
            );
            continue;
        }
        if !valid_host_name(f.key) || f.key.len() > 253 {
            let msg = format!("invalid host name `{}`", f.key.escape_debug());
            ctx.err(
                &f.key_span,
                msg,
                "a host name uses letters, digits, `-` and `.`",
            );
            continue;
        }
        if let Some(a) = ip(ctx, &f.val) {
            out.push((f.key.to_owned(), a));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::elements::{Action, Chain, NatRule, RuleProto};
    use crate::parse;

    const LINK: &str = "[[links]]\nendpoints = [\"r:wan0\", \"b:e0\"]\n[nodes.b]\n";

    fn node(body: &str) -> String {
        format!("[nodes.r]\n{body}\n{LINK}")
    }

    fn err(body: &str) -> String {
        parse(&node(body), "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn rules_are_read() {
        let t = parse(
            &node(
                r#"nat = [{ masquerade = "wan0" }, { snat = { out = "wan0", to = "203.0.113.7" } }, { dnat = { in = "wan0", proto = "udp", port = 53, to = "192.168.1.5:5353" } }]
filter = [{ action = "reject", chain = "forward", proto = "tcp", dport = 80, from = "10.1.2.3/8", iif = "wan0" }, { action = "drop" }]
hostname = "edge"
hosts = { "db.example" = "192.168.1.5" }"#,
            ),
            "t",
        )
        .unwrap();
        let r = t.node("r").unwrap();
        assert_eq!(r.nat.len(), 3);
        assert_eq!(r.nat[0], NatRule::Masquerade { out: "wan0".into() });
        assert!(matches!(
            r.nat[2],
            NatRule::Dnat {
                proto: RuleProto::Udp,
                port: 53,
                to_port: Some(5353),
                ..
            }
        ));
        assert_eq!(r.filter[0].chain, Chain::Forward);
        assert_eq!(r.filter[0].action, Action::Reject);
        assert_eq!(r.filter[0].from.unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(r.filter[1].chain, Chain::Input);
        assert_eq!(r.hostname.as_deref(), Some("edge"));
        assert_eq!(r.hosts[0].0, "db.example");
    }

    #[test]
    fn rule_mistakes_are_explained() {
        let e = err("nat = [{ masqerade = \"wan0\" }]");
        assert!(e.contains("unknown key `masqerade` in a NAT rule"), "{e}");
        assert!(e.contains("did you mean `masquerade`?"), "{e}");
        let e = err("nat = [{ masquerade = \"wan1\" }]");
        assert!(
            e.contains("masquerade interface `wan1` is not an interface of node `r`"),
            "{e}"
        );
        assert!(e.contains("interfaces of r: wan0"), "{e}");
        let e =
            err("nat = [{ masquerade = \"wan0\", snat = { out = \"wan0\", to = \"1.2.3.4\" } }]");
        assert!(
            e.contains("exactly one of masquerade, snat, dnat; found 2"),
            "{e}"
        );
        let e = err("nat = [{ dnat = { port = 80, to = \"10.0.0.5:http\" } }]");
        assert!(e.contains("invalid destination `10.0.0.5:http`"), "{e}");
        let e = err("nat = [{ dnat = { port = 81, to = \"10.0.0.2:0\" } }]");
        assert!(e.contains("port 0 in the destination `10.0.0.2:0`"), "{e}");
        assert!(e.contains("e.g. `10.0.0.2:80`, or leave it out"), "{e}");
        let e = err("nat = [{ dnat = { port = 81, to = \"[fd00::2]:0\" } }]");
        assert!(e.contains("e.g. `[fd00::2]:80`"), "{e}");
        let e = err("nat = [{ dnat = { to = \"10.0.0.5\" } }]");
        assert!(e.contains("missing key `port` in `dnat`"), "{e}");
        let e = err("filter = [{ action = \"deny\" }]");
        assert!(e.contains("unknown action `deny`"), "{e}");
        assert!(e.contains("accept, drop, reject"), "{e}");
        let e = err("filter = [{ action = \"drop\", dport = 80 }]");
        assert!(e.contains("`dport` needs a protocol with ports"), "{e}");
        let e = err("filter = [{ action = \"drop\", oif = \"wan0\" }]");
        assert!(e.contains("`oif` cannot match in the input chain"), "{e}");
        let e = err("filter = [{ action = \"drop\", chain = \"output\", iif = \"wan0\" }]");
        assert!(e.contains("`iif` cannot match in the output chain"), "{e}");
        let e = err("filter = [{ action = \"drop\", from = \"10.0.0.0/8\", to = \"fd00::/8\" }]");
        assert!(e.contains("different address families"), "{e}");
        let e = err("filter = [{ action = \"drop\", chain = \"prerouting\" }]");
        assert!(e.contains("unknown chain `prerouting`"), "{e}");
        let e = err("filter = [{ action = \"drop\" , from = \"10.0.0.0/33\" }]");
        assert!(e.contains("invalid prefix length `33`"), "{e}");
        let e = err("hostname = \"-bad\"");
        assert!(e.contains("invalid host name `-bad`"), "{e}");
        let e = err("hosts = { db = \"10.0.0.300\" }");
        assert!(e.contains("invalid IP address `10.0.0.300`"), "{e}");
        let e = err("hosts = { db.example = \"10.0.0.3\" }");
        assert!(e.contains("`db` is read as a dotted key"), "{e}");
    }
}
