//! The route grammar, as `ip route add` takes it:
//! `[TYPE] DEST [via ADDR] [dev IFACE] [metric N] [onlink]`, options in any order.
//!
//! Errors point at the offending word inside the string.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::addr::{parse_cidr, parse_ip};
use crate::model::{Family, Route, RouteDest, RouteKind};
use crate::reader::{Ctx, Span};
use crate::suggest;

const GRAMMAR: &str = "a route is `[TYPE] DEST [via ADDR] [dev IFACE] [metric N] [onlink]`, \
                       e.g. `10.0.0.0/8 via 192.168.1.1` or `default dev eth0`";

/// A parsed route with the spans validation needs.
#[derive(Debug, Clone)]
pub(crate) struct RouteDecl {
    pub(crate) route: Route,
    /// The whole string.
    pub(crate) span: Span,
    /// The gateway address word.
    pub(crate) via_span: Option<Span>,
    /// The device name word.
    pub(crate) dev_span: Option<Span>,
}

/// A word of the route string: its byte range in the string, and its text.
type Word<'a> = (std::ops::Range<usize>, &'a str);

fn words(s: &str) -> Vec<Word<'_>> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in s.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(st)) => {
                out.push((st..i, s.get(st..i).unwrap_or("")));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(st) = start {
        out.push((st..s.len(), s.get(st..).unwrap_or("")));
    }
    out
}

struct Parser<'c, 's, 'a> {
    ctx: &'c mut Ctx<'s>,
    s: &'a str,
    span: &'a Span,
}

impl Parser<'_, '_, '_> {
    fn at(&self, r: &std::ops::Range<usize>) -> Span {
        self.ctx.sub_span(self.span, self.s, r.clone())
    }

    fn fail(&mut self, r: &std::ops::Range<usize>, msg: String, help: String) -> Option<RouteDecl> {
        let at = self.at(r);
        self.ctx.err(&at, msg, help);
        None
    }
}

impl std::str::FromStr for Route {
    type Err = crate::Error;

    /// A route written as in a topology file's `routes` (`ip route add`'s grammar):
    /// `"10.0.0.0/8 via 192.168.1.1"`, `"default dev eth0 metric 10"`, `"blackhole
    /// 10.9.0.0/16"`. Whether a `dev` exists or a gateway is on a subnet of the node is
    /// not known here (the kernel says, when the route is added).
    ///
    /// ```
    /// let r: netns_test_topology::Route = "10.0.0.0/8 via 192.168.1.1 metric 5".parse().unwrap();
    /// assert_eq!(r.to_string(), "10.0.0.0/8 via 192.168.1.1 metric 5");
    /// let e = "10.0.0.0/33 via 192.168.1.1".parse::<netns_test_topology::Route>().unwrap_err();
    /// assert!(e.to_string().contains("10.0.0.0/33"), "{e}");
    /// ```
    fn from_str(s: &str) -> Result<Route, crate::Error> {
        // Read as the string value of a file (quoted), so that a diagnostic points at
        // the offending word.
        let src = format!("\"{s}\"");
        let mut ctx = Ctx::new(&src, "<route>");
        let parsed = parse_route(&mut ctx, s, &(0..src.len()));
        match (parsed, ctx.finish()) {
            (Some(d), None) => Ok(d.route),
            (_, Some(e)) => Err(e),
            (None, None) => Err(crate::Error::new(Vec::new())),
        }
    }
}

/// Parses one route string; `span` is the string value's span. Reports the first
/// problem and returns `None` on error.
pub(crate) fn parse_route(ctx: &mut Ctx<'_>, s: &str, span: &Span) -> Option<RouteDecl> {
    let mut p = Parser { ctx, s, span };
    let w = words(s);
    let Some(first) = w.first() else {
        return p.fail(&(0..s.len()), "empty route".to_owned(), GRAMMAR.to_owned());
    };
    let (kind_word, rest) = match first.1 {
        "unicast" | "blackhole" | "unreachable" | "prohibit" => (Some(first.1), &w[1..]),
        _ => (None, &w[..]),
    };
    let Some((dest_r, dest_w)) = rest.first() else {
        let msg = format!("route `{s}` has no destination");
        let help = format!("add one, e.g. `{} 10.0.0.0/8`", first.1);
        return p.fail(&first.0, msg, help);
    };
    let dest = match parse_dest(dest_w) {
        Ok(d) => d,
        Err((msg, help)) => return p.fail(dest_r, msg, help),
    };

    let mut via: Option<(IpAddr, std::ops::Range<usize>)> = None;
    let mut dev: Option<(String, std::ops::Range<usize>)> = None;
    let mut metric: Option<u32> = None;
    let mut onlink: Option<std::ops::Range<usize>> = None;
    let mut seen: Vec<&str> = Vec::new();
    let mut i = 1;
    while let Some((r, word)) = rest.get(i) {
        i += 1;
        let is_option = matches!(*word, "via" | "dev" | "metric" | "onlink");
        if is_option && seen.contains(word) {
            return p.fail(
                r,
                format!("`{word}` is given twice in route `{s}`"),
                "keep one".to_owned(),
            );
        }
        if is_option {
            seen.push(word);
        }
        if *word == "onlink" {
            onlink = Some(r.clone());
            continue;
        }
        if !is_option {
            return unknown_word(&mut p, r, word);
        }
        let Some((ar, arg)) = rest.get(i) else {
            let what = match *word {
                "via" => "a gateway address, e.g. `via 192.168.1.1`",
                "dev" => "an interface name, e.g. `dev eth0`",
                _ => "a number, e.g. `metric 100`",
            };
            return p.fail(
                r,
                format!("`{word}` needs an argument"),
                format!("write {what}"),
            );
        };
        i += 1;
        match *word {
            "via" => match parse_ip(arg) {
                Some(ip) => via = Some((ip, ar.clone())),
                None => {
                    let help = match arg.split_once('/') {
                        Some((a, _)) if parse_ip(a).is_some() => {
                            format!("a gateway is a single address: write `via {a}`")
                        }
                        _ => "write the gateway's address, e.g. `via 192.168.1.1`".to_owned(),
                    };
                    let msg = format!("invalid gateway address `{arg}`");
                    return p.fail(ar, msg, help);
                }
            },
            "dev" => dev = Some(((*arg).to_owned(), ar.clone())),
            _ => match arg.parse::<u32>() {
                Ok(m) if arg.bytes().all(|b| b.is_ascii_digit()) => metric = Some(m),
                _ => {
                    let msg = format!("invalid metric `{arg}`");
                    let help = "a metric is a number from 0 to 4294967295".to_owned();
                    return p.fail(ar, msg, help);
                }
            },
        }
    }

    let kind = match kind_word {
        None | Some("unicast") => {
            if via.is_none() && dev.is_none() {
                let msg = format!("route `{s}` needs `via` or `dev`");
                let help = format!(
                    "write `{dest_w} via GATEWAY` or `{dest_w} dev IFACE`, or make it `blackhole {dest_w}`"
                );
                return p.fail(&(0..s.len()), msg, help);
            }
            if let Some(r) = &onlink {
                if via.is_none() || dev.is_none() {
                    let msg = "`onlink` needs both `via` and `dev`".to_owned();
                    let help =
                        "the kernel needs the gateway and the output device of an on-link route: write `via ADDR dev IFACE onlink`"
                            .to_owned();
                    return p.fail(r, msg, help);
                }
            }
            RouteKind::Unicast {
                via: via.as_ref().map(|(ip, _)| *ip),
                dev: dev.as_ref().map(|(d, _)| d.clone()),
                onlink: onlink.is_some(),
            }
        }
        Some(k) => {
            let extra = [
                via.as_ref().map(|(_, r)| ("via", r)),
                dev.as_ref().map(|(_, r)| ("dev", r)),
                onlink.as_ref().map(|r| ("onlink", r)),
            ];
            if let Some((word, r)) = extra.into_iter().flatten().next() {
                let msg = format!("a `{k}` route takes no `{word}`");
                let help = format!("write `{k} {dest_w}` (optionally with `metric N`)");
                return p.fail(r, msg, help);
            }
            match k {
                "blackhole" => RouteKind::Blackhole,
                "unreachable" => RouteKind::Unreachable,
                _ => RouteKind::Prohibit,
            }
        }
    };

    let gw_family = via.as_ref().map(|(ip, _)| family_of(*ip));
    let dest = match dest {
        Dest::Default => RouteDest::Default(gw_family.unwrap_or(Family::V4)),
        Dest::Prefix(net) => RouteDest::Prefix(net),
    };
    if let (Some((ip, r)), RouteDest::Prefix(net)) = (&via, &dest) {
        if family_of(*ip) != dest.family() {
            let msg = format!(
                "gateway {ip} is {} but the destination {net} is {}",
                family_name(family_of(*ip)),
                family_name(dest.family())
            );
            let help = "use a gateway of the destination's address family".to_owned();
            return p.fail(r, msg, help);
        }
    }
    if let (Some((IpAddr::V6(v6), r)), None) = (&via, &dev) {
        if v6.segments()[0] & 0xffc0 == 0xfe80 {
            let msg = format!("link-local gateway {v6} needs `dev`");
            let help = format!(
                "a link-local address is ambiguous without its interface: write `via {v6} dev IFACE`"
            );
            return p.fail(r, msg, help);
        }
    }
    let via_span = via.as_ref().map(|(_, r)| p.at(r));
    let dev_span = dev.as_ref().map(|(_, r)| p.at(r));
    Some(RouteDecl {
        route: Route { dest, kind, metric },
        span: span.clone(),
        via_span,
        dev_span,
    })
}

fn unknown_word(
    p: &mut Parser<'_, '_, '_>,
    r: &std::ops::Range<usize>,
    word: &str,
) -> Option<RouteDecl> {
    let msg = format!("unexpected `{word}` in route `{}`", p.s);
    let help = if matches!(word, "unicast" | "blackhole" | "unreachable" | "prohibit") {
        format!("the route type comes first: `{word} DEST`")
    } else {
        let options = ["via", "dev", "metric", "onlink"];
        format!("{}{GRAMMAR}", suggest::did_you_mean(word, options))
    };
    p.fail(r, msg, help)
}

enum Dest {
    Default,
    Prefix(IpNet),
}

fn parse_dest(w: &str) -> Result<Dest, (String, String)> {
    if w == "default" {
        return Ok(Dest::Default);
    }
    if w.contains('/') {
        let net = parse_cidr(w)?;
        if net.trunc() != net {
            let msg = format!("route destination `{w}` has host bits set");
            let help = format!(
                "write the network `{}`, or `{}` for a route to that one address",
                net.trunc(),
                net.addr()
            );
            return Err((msg, help));
        }
        return Ok(Dest::Prefix(net));
    }
    match parse_ip(w) {
        Some(ip) => Ok(Dest::Prefix(IpNet::from(ip))),
        None => {
            let msg = format!("invalid route destination `{w}`");
            let help = format!(
                "{}write `default`, a prefix like `10.0.0.0/8`, or an address like `10.9.9.9`",
                suggest::did_you_mean(w, ["default"])
            );
            Err((msg, help))
        }
    }
}

fn family_of(ip: IpAddr) -> Family {
    match ip {
        IpAddr::V4(_) => Family::V4,
        IpAddr::V6(_) => Family::V6,
    }
}

pub(crate) fn family_name(f: Family) -> &'static str {
    match f {
        Family::V4 => "IPv4",
        Family::V6 => "IPv6",
    }
}
