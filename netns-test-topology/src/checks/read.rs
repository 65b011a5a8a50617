//! Reading `[[checks]]`: each entry holds exactly one step key (`ping`, `connect`,
//! `path`, `run`, `wait`, `link`, `impair`, `cut`, `restore`, `partition`, `heal`,
//! `route`) and optionally a `name`. References to nodes, interfaces and destinations keep their
//! spans for [`super::resolve`].

use std::net::IpAddr;
use std::time::Duration;

use super::model::{ConnectExpect, PingExpect, Proto};
use crate::addr::{line_of, parse_ip};
use crate::reader::{Ctx, Field, Kind, Span, Val, get};
use crate::suggest;

/// Most checks one file may carry.
pub(crate) const MAX_CHECKS: usize = 4096;
/// Longest duration accepted for a wait or a timeout.
const MAX_DURATION: Duration = Duration::from_secs(3600);

const STEP_KEYS: &[&str] = &[
    "ping",
    "connect",
    "path",
    "run",
    "wait",
    "link",
    "impair",
    "cut",
    "restore",
    "partition",
    "heal",
    "route",
];
const PING_KEYS: &[&str] = &["from", "to", "expect", "ttl", "timeout"];
const CONNECT_KEYS: &[&str] = &["from", "to", "proto", "expect", "timeout"];
const PATH_KEYS: &[&str] = &["from", "to", "hops"];
const RUN_KEYS: &[&str] = &["node", "cmd", "status", "stdout", "stderr", "timeout"];
const LINK_KEYS: &[&str] = &["node", "iface", "state"];
const IMPAIR_KEYS: &[&str] = &["node", "iface", "netem", "rate", "burst"];
const ROUTE_KEYS: &[&str] = &["node", "add", "remove"];

/// A string with the span it was read from.
#[derive(Debug, Clone)]
pub(crate) struct Spanned {
    pub(crate) text: String,
    pub(crate) span: Span,
}

/// One `[[checks]]` entry, before its references are resolved.
#[derive(Debug)]
pub(crate) struct CheckDecl {
    pub(crate) line: usize,
    pub(crate) name: Option<String>,
    pub(crate) step: StepDecl,
}

/// A step with spanned references.
#[derive(Debug)]
pub(crate) enum StepDecl {
    Ping {
        from: Spanned,
        to: Spanned,
        expect: PingExpect,
        ttl: Option<u8>,
        timeout: Duration,
    },
    Connect {
        from: Spanned,
        /// The host part of `to` (an address or a node name).
        to: Spanned,
        port: u16,
        proto: Proto,
        expect: ConnectExpect,
        timeout: Duration,
    },
    Path {
        from: Spanned,
        to: Spanned,
        hops: Vec<IpAddr>,
    },
    Run {
        node: Spanned,
        cmd: Vec<String>,
        status: i32,
        stdout: Option<String>,
        stderr: Option<String>,
        timeout: Duration,
    },
    Wait(Duration),
    Link {
        node: Spanned,
        iface: Spanned,
        up: bool,
    },
    Impair {
        node: Spanned,
        iface: Spanned,
        impairment: crate::elements::Impairment,
    },
    /// `cut` (`restore: false`) or `restore` of the link with end `node:iface`.
    Fault {
        restore: bool,
        node: Spanned,
        iface: Spanned,
    },
    Partition(Vec<Spanned>),
    Heal,
    Route {
        node: Spanned,
        add: bool,
        route: crate::route::RouteDecl,
    },
    /// A step with an error in its options: its node and destination references are
    /// still resolved, so every mistake in it is reported at once.
    Broken {
        kind: &'static str,
        nodes: Vec<Spanned>,
        targets: Vec<Spanned>,
    },
}

/// Reads the `checks` array of tables.
pub(crate) fn read_checks(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Vec<CheckDecl> {
    let expected =
        "an array of tables, like `[[checks]]` with `ping = { from = \"ns1\", to = \"ns2\" }`";
    let Some(items) = ctx.array_of(v, expected) else {
        return Vec::new();
    };
    if let Some(extra) = items.get(MAX_CHECKS) {
        let msg = format!(
            "too many checks: {}; at most {MAX_CHECKS} are allowed",
            items.len()
        );
        ctx.err(&extra.span, msg, "split the scenario into several files");
        return Vec::new();
    }
    items
        .iter()
        .filter_map(|item| read_check(ctx, item))
        .collect()
}

fn read_check(ctx: &mut Ctx<'_>, item: &Val<'_>) -> Option<CheckDecl> {
    let fields = ctx.table_of(
        item,
        "a check table, like `{ ping = { from = \"ns1\", to = \"ns2\" } }`",
    )?;
    // A check's keys: its one step, and a name.
    let check_keys: Vec<&str> = std::iter::once("name")
        .chain(STEP_KEYS.iter().copied())
        .collect();
    ctx.check_keys(fields, &check_keys, "a check");
    let steps: Vec<&Field<'_>> = fields
        .iter()
        .filter(|f| STEP_KEYS.contains(&f.key))
        .collect();
    let step_list = suggest::list(STEP_KEYS.iter().copied());
    let field = match steps.as_slice() {
        [one] => *one,
        [] => {
            // An unknown key was reported already; do not pile on.
            if fields.iter().all(|f| check_keys.contains(&f.key)) {
                let span = fields
                    .first()
                    .map_or(item.span.clone(), |f| f.key_span.clone());
                ctx.err(
                    &span,
                    "a check needs a step",
                    format!(
                        "add one of: {step_list}, e.g. `ping = {{ from = \"ns1\", to = \"ns2\" }}`"
                    ),
                );
            }
            return None;
        }
        [_, second, ..] => {
            let msg = format!(
                "a check has more than one step (`{}` and `{}`)",
                steps[0].key, second.key
            );
            let help =
                "write each step in its own `[[checks]]` entry, in the order they should run";
            ctx.err(&second.key_span, msg, help);
            return None;
        }
    };
    let name = match get(fields, "name") {
        Some(v) => Some(ctx.str_of(v, "a string describing the step")?.to_owned()),
        None => None,
    };
    let line = line_of(ctx.src, field.key_span.start);
    let step = read_step(ctx, field)?;
    Some(CheckDecl { line, name, step })
}

fn read_step(ctx: &mut Ctx<'_>, f: &Field<'_>) -> Option<StepDecl> {
    match f.key {
        "wait" => return duration(ctx, &f.val).map(StepDecl::Wait),
        "cut" | "restore" => return read_fault(ctx, f),
        "partition" => return read_partition(ctx, &f.val),
        "heal" => {
            return match ctx.bool_of(&f.val)? {
                true => Some(StepDecl::Heal),
                false => {
                    let help = "write `heal = true` to restore every link cut so far, or \
                                remove this check";
                    ctx.err(&f.val.span, "`heal = false` does nothing", help);
                    None
                }
            };
        }
        _ => {}
    }
    let example = match f.key {
        "ping" => "{ from = \"ns1\", to = \"192.168.1.2\" }",
        "connect" => "{ from = \"ns1\", to = \"192.168.1.2:80\" }",
        "path" => {
            "{ from = \"ns1\", to = \"192.168.2.2\", hops = [\"192.168.1.1\", \"192.168.2.2\"] }"
        }
        "run" => "{ node = \"ns1\", cmd = [\"ip\", \"route\"] }",
        "impair" => "{ node = \"ns1\", iface = \"eth0\", netem = { delay = \"100ms\" } }",
        "route" => "{ node = \"ns1\", add = \"10.0.0.0/8 via 192.168.1.1\" }",
        _ => "{ node = \"ns1\", iface = \"eth0\", state = \"down\" }",
    };
    let fields = ctx.table_of(&f.val, &format!("a table, like `{} = {example}`", f.key))?;
    let t = Table {
        fields,
        span: f.val.span.clone(),
        context: format!("`{}` check", f.key),
        example,
    };
    match f.key {
        "ping" => read_ping(ctx, &t),
        "connect" => read_connect(ctx, &t),
        "path" => read_path(ctx, &t),
        "run" => read_run(ctx, &t),
        "impair" => read_impair(ctx, &t),
        "route" => read_route(ctx, &t),
        _ => read_link(ctx, &t),
    }
}

struct Table<'v, 'a> {
    fields: &'v [Field<'a>],
    span: Span,
    context: String,
    example: &'static str,
}

impl<'v, 'a> Table<'v, 'a> {
    fn required(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<&'v Val<'a>> {
        let example = format!("{key} = ...` as in `{}", self.example);
        ctx.require(self.fields, key, &self.span, &self.context, &example)
    }

    fn string(&self, ctx: &mut Ctx<'_>, key: &str) -> Option<Spanned> {
        let v = self.required(ctx, key)?;
        let s = ctx.str_of(v, "a string")?;
        Some(Spanned {
            text: s.to_owned(),
            span: v.span.clone(),
        })
    }

    fn timeout(&self, ctx: &mut Ctx<'_>, default: Duration) -> Option<Duration> {
        match get(self.fields, "timeout") {
            Some(v) => duration(ctx, v),
            None => Some(default),
        }
    }
}

/// Reads one of `choices` from a string; `what` names the key.
fn choice<'c>(ctx: &mut Ctx<'_>, v: &Val<'_>, what: &str, choices: &[&'c str]) -> Option<&'c str> {
    let s = ctx.str_of(
        v,
        &format!(
            "a string: one of {}",
            suggest::list(choices.iter().copied())
        ),
    )?;
    if let Some(c) = choices.iter().find(|c| **c == s) {
        return Some(c);
    }
    let hint = suggest::did_you_mean(s, choices.iter().copied());
    let msg = format!("unknown {what} `{}`", s.escape_debug());
    let help = format!(
        "{hint}write one of: {}",
        suggest::list(choices.iter().copied())
    );
    ctx.err(&v.span, msg, help);
    None
}

fn read_ping(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, PING_KEYS, &t.context);
    let from = t.string(ctx, "from");
    let to = t.string(ctx, "to");
    let choices = ["reply", "unreachable", "timeout"];
    let expect = match get(t.fields, "expect") {
        Some(v) => choice(ctx, v, "ping expectation", &choices).map(|c| match c {
            "reply" => PingExpect::Reply,
            "unreachable" => PingExpect::Unreachable,
            _ => PingExpect::Timeout,
        }),
        None => Some(PingExpect::Reply),
    };
    let ttl = match get(t.fields, "ttl") {
        Some(v) => match (ctx.int_in(v, "TTL", 1, 255), expect) {
            (Some(_), Some(e)) if e != PingExpect::Reply => {
                let msg = format!("`ttl` is the TTL of a reply, but this ping expects `{e}`");
                ctx.err(&v.span, msg, "remove `ttl`, or expect `reply`");
                None
            }
            (ttl, _) => ttl.and_then(|t| u8::try_from(t).ok()).map(Some),
        },
        None => Some(None),
    };
    let timeout = t.timeout(ctx, Duration::from_secs(1));
    let (Some(expect), Some(ttl), Some(timeout)) = (expect, ttl, timeout) else {
        return Some(StepDecl::Broken {
            kind: "ping",
            nodes: from.into_iter().collect(),
            targets: to.into_iter().collect(),
        });
    };
    Some(StepDecl::Ping {
        from: from?,
        to: to?,
        expect,
        ttl,
        timeout,
    })
}

fn read_connect(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, CONNECT_KEYS, &t.context);
    let from = t.string(ctx, "from");
    let to = t.string(ctx, "to").and_then(|s| split_port(ctx, &s));
    let proto = match get(t.fields, "proto") {
        Some(v) => choice(ctx, v, "protocol", &["tcp", "udp"]).map(|c| match c {
            "tcp" => Proto::Tcp,
            _ => Proto::Udp,
        }),
        None => Some(Proto::Tcp),
    };
    let choices = ["accepted", "refused", "timeout"];
    let expect = match get(t.fields, "expect") {
        Some(v) => choice(ctx, v, "connect expectation", &choices).map(|c| match c {
            "accepted" => ConnectExpect::Accepted,
            "refused" => ConnectExpect::Refused,
            _ => ConnectExpect::Timeout,
        }),
        None => Some(ConnectExpect::Accepted),
    };
    let timeout = t.timeout(ctx, Duration::from_secs(1));
    let (Some(proto), Some(expect), Some(timeout)) = (proto, expect, timeout) else {
        return Some(StepDecl::Broken {
            kind: "connect",
            nodes: from.into_iter().collect(),
            targets: to.into_iter().map(|(host, _)| host).collect(),
        });
    };
    let (to, port) = to?;
    Some(StepDecl::Connect {
        from: from?,
        to,
        port,
        proto,
        expect,
        timeout,
    })
}

/// Splits `"ADDR:PORT"`, `"[V6]:PORT"` or `"NODE:PORT"`.
fn split_port(ctx: &mut Ctx<'_>, s: &Spanned) -> Option<(Spanned, u16)> {
    let text = s.text.as_str();
    let help =
        "write the destination and the port, e.g. `192.168.1.2:80`, `[fd00::2]:80` or `ns2:80`";
    let (host, host_range, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once("]:") {
            Some((h, p)) => (h, 1..1 + h.len(), p),
            None => {
                ctx.err(
                    &s.span,
                    format!("`{}` has no port", text.escape_debug()),
                    help,
                );
                return None;
            }
        }
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => (h, 0..h.len(), p),
            _ => {
                ctx.err(
                    &s.span,
                    format!("`{}` has no port", text.escape_debug()),
                    help,
                );
                return None;
            }
        }
    };
    let port_range = text.len() - port.len()..text.len();
    match port.parse::<u16>() {
        Ok(p) if p > 0 && port.bytes().all(|b| b.is_ascii_digit()) => Some((
            Spanned {
                text: host.to_owned(),
                span: ctx.sub_span(&s.span, text, host_range),
            },
            p,
        )),
        _ => {
            let at = ctx.sub_span(&s.span, text, port_range);
            let msg = format!("invalid port `{}`", port.escape_debug());
            ctx.err(&at, msg, "a port is a number from 1 to 65535");
            None
        }
    }
}

fn read_path(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, PATH_KEYS, &t.context);
    let from = t.string(ctx, "from");
    let to = t.string(ctx, "to");
    let hops = t.required(ctx, "hops").and_then(|v| {
        let items = ctx.array_of(
            v,
            "an array of addresses, like [\"192.168.1.1\", \"192.168.2.2\"]",
        )?;
        if items.is_empty() || items.len() > 30 {
            let msg = format!("a path has 1 to 30 hops, not {}", items.len());
            ctx.err(
                &v.span,
                msg,
                "list who answers at TTL 1, 2, 3, ..., ending with the destination",
            );
            return None;
        }
        let mut hops = Vec::new();
        for item in items {
            let s = ctx.str_of(item, "an address, like \"192.168.1.1\"")?;
            match parse_ip(s) {
                Some(ip) => hops.push(ip),
                None => {
                    let msg = format!("invalid hop address `{}`", s.escape_debug());
                    ctx.err(
                        &item.span,
                        msg,
                        "write the address of the router that answers, e.g. `192.168.1.1`",
                    );
                    return None;
                }
            }
        }
        Some(hops)
    });
    Some(StepDecl::Path {
        from: from?,
        to: to?,
        hops: hops?,
    })
}

fn read_run(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, RUN_KEYS, &t.context);
    let node = t.string(ctx, "node");
    let cmd = t.required(ctx, "cmd").and_then(|v| {
        let expected = "an array of strings, like [\"ip\", \"route\"]";
        let items = ctx.array_of(v, expected)?;
        let mut out = Vec::new();
        for item in items {
            let s = ctx.str_of(item, "a string")?;
            if s.contains('\0') {
                ctx.err(
                    &item.span,
                    "a command argument contains a NUL byte",
                    "remove it",
                );
                return None;
            }
            out.push(s.to_owned());
        }
        if out.first().is_none_or(String::is_empty) {
            ctx.err(
                &v.span,
                "empty command",
                "write the program and its arguments, e.g. [\"ip\", \"route\"]",
            );
            return None;
        }
        Some(out)
    });
    let status = match get(t.fields, "status") {
        Some(v) => i32::try_from(ctx.int_in(v, "exit status", 0, 255)?).ok()?,
        None => 0,
    };
    let text = |ctx: &mut Ctx<'_>, key: &str| match get(t.fields, key) {
        Some(v) => ctx
            .str_of(v, "a string the output must contain")
            .map(|s| Some(s.to_owned())),
        None => Some(None),
    };
    let stdout = text(ctx, "stdout");
    let stderr = text(ctx, "stderr");
    let timeout = t.timeout(ctx, Duration::from_secs(10))?;
    Some(StepDecl::Run {
        node: node?,
        cmd: cmd?,
        status,
        stdout: stdout?,
        stderr: stderr?,
        timeout,
    })
}

fn read_link(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, LINK_KEYS, &t.context);
    let node = t.string(ctx, "node");
    let iface = t.string(ctx, "iface");
    let up = t
        .required(ctx, "state")
        .and_then(|v| choice(ctx, v, "link state", &["up", "down"]))
        .map(|s| s == "up");
    Some(StepDecl::Link {
        node: node?,
        iface: iface?,
        up: up?,
    })
}

fn read_impair(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, IMPAIR_KEYS, &t.context);
    let node = t.string(ctx, "node");
    let iface = t.string(ctx, "iface");
    let mut impairment = crate::elements::Impairment::default();
    crate::impair::read_impairment(ctx, t.fields, &mut impairment);
    Some(StepDecl::Impair {
        node: node?,
        iface: iface?,
        impairment,
    })
}

fn read_route(ctx: &mut Ctx<'_>, t: &Table<'_, '_>) -> Option<StepDecl> {
    ctx.check_keys(t.fields, ROUTE_KEYS, &t.context);
    let node = t.string(ctx, "node");
    let (key, v) = match (get(t.fields, "add"), get(t.fields, "remove")) {
        (Some(v), None) => ("add", v),
        (None, Some(v)) => ("remove", v),
        (Some(_), Some(v)) => {
            let help = "write one `route` step to add and another to remove";
            ctx.err(&v.span, "a `route` step either adds or removes", help);
            return None;
        }
        (None, None) => {
            let help = format!(
                "write `add = \"...\"` or `remove = \"...\"`, as in `route = {}`",
                t.example
            );
            ctx.err(&t.span, "a `route` step needs `add` or `remove`", help);
            return None;
        }
    };
    let s = ctx.str_of(v, "a route string, like \"10.0.0.0/8 via 192.168.1.1\"")?;
    let route = crate::route::parse_route(ctx, s, &v.span)?;
    Some(StepDecl::Route {
        node: node?,
        add: key == "add",
        route,
    })
}

/// `cut = "node:iface"` or `restore = "node:iface"`: an end of the link.
fn read_fault(ctx: &mut Ctx<'_>, f: &Field<'_>) -> Option<StepDecl> {
    let expected = "a link end as a string, like \"ns1:veth-ns1\"";
    let s = ctx.str_of(&f.val, expected)?;
    let Some((node, iface)) = s
        .split_once(':')
        .filter(|(n, i)| !n.is_empty() && !i.is_empty())
    else {
        let msg = format!("`{}` is not a link end", s.escape_debug());
        let help = format!(
            "write the node and the interface of either end of the link, like `{} = \"ns1:veth-ns1\"`",
            f.key
        );
        ctx.err(&f.val.span, msg, help);
        return None;
    };
    let (n, i) = (node.len(), iface.len());
    Some(StepDecl::Fault {
        restore: f.key == "restore",
        node: Spanned {
            text: node.to_owned(),
            span: ctx.sub_span(&f.val.span, s, 0..n),
        },
        iface: Spanned {
            text: iface.to_owned(),
            span: ctx.sub_span(&f.val.span, s, n + 1..n + 1 + i),
        },
    })
}

/// `partition = ["ns1", ...]`: the nodes on one side.
fn read_partition(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<StepDecl> {
    let expected = "an array of node names, like [\"ns1\", \"ns-router\"]";
    let items = ctx.array_of(v, expected)?;
    if items.is_empty() {
        let help = "list the nodes on one side of the partition, like [\"ns1\"]";
        ctx.err(&v.span, "an empty partition cuts nothing", help);
        return None;
    }
    let mut side = Vec::with_capacity(items.len());
    for item in items {
        let name = ctx.str_of(item, "a node name")?;
        side.push(Spanned {
            text: name.to_owned(),
            span: item.span.clone(),
        });
    }
    Some(StepDecl::Partition(side))
}

/// A duration string: a number and a unit (`ms`, `s` or `m`), e.g. `"100ms"`, `"1.5s"`.
fn duration(ctx: &mut Ctx<'_>, v: &Val<'_>) -> Option<Duration> {
    let help = "write a number and a unit (ms, s or m), e.g. \"100ms\" or \"2s\"";
    let s = match &v.kind {
        Kind::Str(s) => *s,
        Kind::Int(_) | Kind::Float => {
            ctx.err(&v.span, "a duration needs a unit", help);
            return None;
        }
        _ => {
            ctx.type_error(v, "a duration string like \"100ms\"");
            return None;
        }
    };
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let scale = match unit.trim() {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        _ => {
            ctx.err(
                &v.span,
                format!("invalid duration `{}`", s.escape_debug()),
                help,
            );
            return None;
        }
    };
    let d = num
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0)
        .and_then(|n| Duration::try_from_secs_f64(n * scale).ok());
    match d {
        Some(d) if d <= MAX_DURATION => Some(d),
        Some(_) => {
            let msg = format!("duration `{s}` is longer than an hour");
            ctx.err(&v.span, msg, "scenarios wait at most \"60m\"");
            None
        }
        None => {
            ctx.err(
                &v.span,
                format!("invalid duration `{}`", s.escape_debug()),
                help,
            );
            None
        }
    }
}
